//! `cart add`: add a product, creating the cart on first use.

use crate::cli::commands::completions::open_carts;
use crate::cli::context::cart_id;
use crate::cli::{CartDefaults, CliError, Context, output};
use crate::workflow::AddItem;

/// Add a product to a cart, creating the cart if it does not exist yet.
///
/// Adding a product already in the cart raises its quantity.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cart, e.g. CART-123
    #[arg(value_parser = cart_id, add = open_carts())]
    pub cart: String,
    /// Product id (see `cart products`)
    #[arg(long, allow_negative_numbers = true, value_parser = crate::cli::commands::product_id())]
    pub product: i64,
    /// How many
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = crate::cli::commands::quantity())]
    pub qty: i64,
    #[command(flatten)]
    pub defaults: CartDefaults,
}

/// What to look at when a change to a cart is refused.
pub(crate) fn look_hint(cart: &str) -> String {
    format!("`cart show {cart}` shows the cart, `cart products` the product ids")
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let start = ctx.cart_input(&args.defaults, None)?;
    let item = AddItem {
        product_id: args.product,
        quantity: args.qty,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("waiting for the worker", carts.add(&args.cart, item, start))
        .await
        .map_err(|e| CliError::from(e).refused_hint(look_hint(&args.cart)))?;
    super::printed(ctx.printer().cart(&view))
}
