//! `cart remove`: take a product out of a cart.

use crate::cli::commands::completions::open_carts;
use crate::cli::context::cart_id;
use crate::cli::{CliError, Context, output};
use crate::workflow::RemoveItem;

/// Remove a product from a cart: some of it with --qty, or the whole line without.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cart, e.g. CART-123
    #[arg(value_parser = cart_id, add = open_carts())]
    pub cart: String,
    /// Product id
    #[arg(long, allow_negative_numbers = true, value_parser = crate::cli::commands::product_id())]
    pub product: i64,
    /// How many to remove [default: the whole line]
    #[arg(long, allow_negative_numbers = true, value_parser = crate::cli::commands::quantity())]
    pub qty: Option<i64>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let item = RemoveItem {
        product_id: args.product,
        quantity: args.qty,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("waiting for the worker", carts.remove(&args.cart, item))
        .await
        .map_err(|e| CliError::from(e).refused_hint(super::add::look_hint(&args.cart)))?;
    super::printed(ctx.printer().cart(&view))
}
