//! `cart add`: add a product, creating the cart on first use.

use super::prelude::*;
use crate::workflow::AddItem;

/// Add a product to a cart, creating the cart if it does not exist yet.
///
/// Adding a product already in the cart raises its quantity.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
    /// Product id (see `cart products`)
    #[arg(long, allow_negative_numbers = true, value_parser = product_id())]
    pub product: i64,
    /// How many
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = quantity())]
    pub qty: i64,
    #[command(flatten)]
    pub defaults: CartDefaults,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let start = ctx.cart_input(&args.defaults, None)?;
    let item = AddItem {
        product_id: args.product,
        quantity: args.qty,
    };
    let carts = ctx.carts().await?;
    let id = &args.cart.id;
    let change = carts.add(id, item, start);
    let view = starting(&carts, id, "waiting for the worker", change)
        .await
        .map_err(|e| e.refused_hint(look_hint(id)))?;
    printed(ctx.printer().cart(&view))
}
