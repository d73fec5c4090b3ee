//! `cart show`: a cart as it stands.

use super::prelude::*;

/// Show a cart: its items, total, status and e-mail.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let carts = ctx.carts().await?;
    let view = output::waiting("waiting for the worker", carts.get(&args.cart.id)).await?;
    printed(ctx.printer().cart(&view))?;
    match ctx.ui_link(&view.id) {
        Some(link) if ctx.output() == OutputFormat::Text => {
            printed(ctx.printer().line(&format!("Web UI: {link}")))
        }
        _ => Ok(()),
    }
}
