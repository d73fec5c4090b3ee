//! `cart products`: the catalog, as the worker holds it.

use crate::cli::{CliError, Context};

/// List the products and the prices the worker charges (its catalog: `cart worker --catalog`).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: Args) -> Result<(), CliError> {
    let catalog = ctx.carts().await?.catalog().await?;
    super::prelude::printed(ctx.printer().products(&catalog))
}
