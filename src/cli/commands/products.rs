//! `cart products`: the catalog.

use crate::cli::{CliError, Context};

/// List the products of the catalog (built in, or --catalog FILE).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: Args) -> Result<(), CliError> {
    super::printed(ctx.printer().products(&ctx.catalog()?))
}
