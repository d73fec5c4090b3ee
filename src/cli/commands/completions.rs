//! `cart completions`: the shell completion script, generated from the argument definitions;
//! and the dynamic completion of cart ids behind `COMPLETE=<shell> cart`.

use crate::cli::{Cli, CliError};
use crate::domain::{CartId, Status};
use clap::{CommandFactory, Parser};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::{CompleteEnv, Shell};
use std::time::Duration;

/// Print the static shell completion script for SHELL.
///
/// The static script completes commands and options without running `cart`. To also complete
/// the ids of open carts (asked of Temporal as you press Tab), load the dynamic one instead:
/// bash `source <(COMPLETE=bash cart)`, zsh `source <(COMPLETE=zsh cart)`,
/// fish `COMPLETE=fish cart | source`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The script for `shell`, as `cart completions` prints it.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cart", &mut out);
    out
}

pub fn run(args: Args) -> Result<(), CliError> {
    super::prelude::printed(crate::cli::output::raw(&script(args.shell)))
}

/// Answers a shell's completion request and exits when `COMPLETE` is set; otherwise returns
/// at once. Call it before anything is printed.
pub fn complete_if_asked() {
    CompleteEnv::with_factory(Cli::command)
        .completer("cart")
        .complete();
}

/// Completes a cart argument with the ids of open carts.
pub fn open_carts() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &std::ffi::OsStr| {
        let prefix = current.to_string_lossy();
        open_cart_ids()
            .into_iter()
            .filter(|(id, _)| id.as_str().starts_with(&*prefix))
            .map(|(id, status)| {
                CompletionCandidate::new(id.to_string()).help(Some(status.as_str().into()))
            })
            .collect()
    })
}

/// Open carts with their status, from the server the environment points at. Completion must
/// stay quick and quiet: on any error, or after two seconds, there is simply nothing to offer.
fn open_cart_ids() -> Vec<(CartId, Status)> {
    let Ok(cli) = Cli::try_parse_from(["cart", "list"]) else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let ctx = crate::cli::Context::new(cli.global);
    runtime.block_on(async {
        let list = async { ctx.carts().await.ok()?.list_open().await.ok() };
        match tokio::time::timeout(Duration::from_secs(2), list).await {
            Ok(Some(carts)) => carts.into_iter().map(|c| (c.id, c.status)).collect(),
            _ => Vec::new(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;
    use std::path::PathBuf;

    fn committed(shell: Shell) -> PathBuf {
        let name = match shell {
            Shell::Bash => "cart.bash",
            Shell::Zsh => "_cart",
            Shell::Fish => "cart.fish",
            Shell::PowerShell => "_cart.ps1",
            Shell::Elvish => "cart.elv",
            _ => unreachable!("clap_complete added a shell: commit its script too"),
        };
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(name)
    }

    /// The committed scripts are what the binary generates. After changing the arguments,
    /// refresh them with `CART_UPDATE_COMPLETIONS=1 cargo test completions`.
    #[test]
    fn committed_completions_match_the_binary() {
        for shell in Shell::value_variants() {
            let path = committed(*shell);
            let generated = script(*shell);
            if std::env::var_os("CART_UPDATE_COMPLETIONS").is_some() {
                std::fs::write(&path, &generated).unwrap();
            }
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert!(
                on_disk == generated,
                "{} is out of date: run CART_UPDATE_COMPLETIONS=1 cargo test completions",
                path.display()
            );
        }
    }

    #[test]
    fn the_man_page_names_every_command() {
        let page = String::from_utf8(super::super::man::page().unwrap()).unwrap();
        for command in [
            "worker", "new", "add", "remove", "email", "checkout", "show", "products", "list",
        ] {
            assert!(page.contains(&format!("cart\\-{command}(1)")), "{command}");
        }
        assert!(page.starts_with(".ie"), "{}", &page[..40]);
    }
}
