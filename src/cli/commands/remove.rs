//! `cart remove`: take a product out of a cart.

use super::prelude::*;
use crate::workflow::RemoveItem;

/// Remove a product from a cart: some of it with --qty, or the whole line without.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
    /// Product id
    #[arg(long, allow_negative_numbers = true, value_parser = product_id())]
    pub product: i64,
    /// How many to remove [default: the whole line]
    #[arg(long, allow_negative_numbers = true, value_parser = quantity())]
    pub qty: Option<i64>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let item = RemoveItem {
        product_id: args.product,
        quantity: args.qty,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("waiting for the worker", carts.remove(&args.cart.id, item))
        .await
        .map_err(|e| CliError::from(e).refused_hint(look_hint(&args.cart.id)))?;
    printed(ctx.printer().cart(&view))
}
