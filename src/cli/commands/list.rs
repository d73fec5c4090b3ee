//! `cart list`: the open carts.

use crate::cli::{CliError, Context};

/// List the open carts on this task queue, newest first.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Context, _args: Args) -> Result<(), CliError> {
    let carts = ctx.carts().await?.list_open().await?;
    super::prelude::printed(ctx.printer().carts(&carts))
}
