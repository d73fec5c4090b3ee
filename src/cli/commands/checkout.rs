//! `cart checkout`: pay for a cart.

use crate::cli::commands::completions::open_carts;
use crate::cli::context::cart_id;
use crate::cli::{CliError, Context, output};
use crate::workflow::Checkout;

/// Pay for a cart. On success the cart is closed and its receipt shown.
///
/// A declined payment leaves the cart open with the reason; check out again with another
/// payment. The charge carries an idempotency key, so a retry never charges twice.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cart, e.g. CART-123
    #[arg(value_parser = cart_id, add = open_carts())]
    pub cart: String,
    /// E-mail address for the receipt, if not set before
    #[arg(long)]
    pub email: Option<String>,
    /// Payment token or method, e.g. tok_visa or pm_card_visa [default: the provider's test card;
    /// required with live Stripe keys]
    #[arg(long, value_parser = payment)]
    pub payment: Option<String>,
}

/// A payment token or method, checked here so a malformed one is a usage error.
fn payment(text: &str) -> Result<String, String> {
    crate::domain::PaymentMethod::parse(text)
        .map(String::from)
        .map_err(|e| e.to_string())
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let request = Checkout {
        email: args.email,
        payment: args.payment,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("charging the card", carts.checkout(&args.cart, request))
        .await
        .map_err(|e| {
            CliError::from(e).refused_hint(format!(
                "nothing was charged; `cart show {}` shows the cart",
                args.cart
            ))
        })?;
    super::printed(ctx.printer().cart(&view))
}
