//! `cart man`: the man page, generated from the argument definitions.

use crate::cli::{Cli, CliError};
use clap::CommandFactory;

/// Print the man page (roff): `cart man | man -l -`, or install it with
/// `cart man > ~/.local/share/man/man1/cart.1`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// The man page, as `cart man` prints it.
pub fn page() -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}

pub fn run(_args: Args) -> Result<(), CliError> {
    let page = page().map_err(|e| CliError::chain("cannot render the man page", &e))?;
    super::prelude::printed(crate::cli::output::raw(&page))
}
