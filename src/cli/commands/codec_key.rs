//! `cart codec-key`: make an encryption key, or add one to a key file (rotation).

use crate::cli::{CliError, Context};
use std::path::PathBuf;

/// Make a new key for encrypting carts' data (see `cart worker --help` and docs/design.md,
/// "Encrypted payloads").
///
/// Without --file, prints it as ID:BASE64 for CART_CODEC_KEY. With --file, writes it to that
/// file, readable by its owner only (for CART_CODEC_KEY_FILE); if the file has keys already,
/// the new key goes first: it encrypts from then on, and the older keys still decrypt what they
/// encrypted (rotation). Give the same keys to every worker and client.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The key's id, stored in the clear beside every payload it encrypts [default: k and the
    /// date and time]
    #[arg(long)]
    pub id: Option<String>,
    /// Add the key to this key file (created readable by its owner only)
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let id = args
        .id
        .unwrap_or_else(|| format!("k{}", jiff::Timestamp::now().strftime("%Y%m%d%H%M%S")));
    let key = crate::codec::generate_key(&id);
    // The new key must be usable (a valid id, not already in the file).
    crate::codec::Keyring::parse(&key).map_err(|e| CliError::usage(e.to_string()))?;
    let Some(path) = args.file else {
        return super::prelude::printed(ctx.printer().line(&key));
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::chain(
                format!("cannot read {}", path.display()),
                &e,
            ));
        }
    };
    let text = format!("{key}\n{existing}");
    crate::codec::Keyring::parse(&text).map_err(|e| {
        CliError::usage(format!("{}: {e}", path.display())).hint("pick another --id")
    })?;
    crate::activities::write_private(&path, text.as_bytes())
        .map_err(|e| CliError::chain(format!("cannot write {}", path.display()), &e))?;
    eprintln!(
        "Key {id} is now the first in {}: it encrypts from now on; the keys after it still decrypt.",
        path.display()
    );
    Ok(())
}
