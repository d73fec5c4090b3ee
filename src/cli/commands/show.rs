//! `cart show`: a cart as it stands.

use crate::cli::commands::completions::open_carts;
use crate::cli::context::cart_id;
use crate::cli::{CliError, Context, OutputFormat, output};

/// Show a cart: its items, total, status and e-mail.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cart, e.g. CART-123
    #[arg(value_parser = cart_id, add = open_carts())]
    pub cart: String,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let carts = ctx.carts().await?;
    let view = output::waiting("waiting for the worker", carts.get(&args.cart)).await?;
    super::printed(ctx.printer().cart(&view))?;
    match ctx.ui_link(&view.id) {
        Some(link) if ctx.output() == OutputFormat::Text => {
            super::printed(ctx.printer().line(&format!("Web UI: {link}")))
        }
        _ => Ok(()),
    }
}
