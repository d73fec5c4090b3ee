//! `cart checkout`: pay for a cart.

use super::prelude::*;
use crate::workflow::Checkout;

/// Pay for a cart. On success the cart is closed and its receipt shown.
///
/// A declined payment leaves the cart open with the reason (exit code 3: nothing was charged);
/// check out again with another payment. When the payment provider's answers do not tell, the
/// outcome is not known yet: the cart shows `payment_pending` and settles by itself (exit code
/// 5). Checking out a cart that is already paying answers the same way, and one already paid
/// shows its receipt (exit code 0): nothing more is charged. The charge carries an
/// idempotency key, so no retry ever charges twice.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
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
    let view = output::waiting("charging the card", carts.checkout(&args.cart.id, request))
        .await
        .map_err(|e| {
            CliError::from(e).refused_hint(format!(
                "nothing was charged; `cart show {}` shows the cart",
                args.cart.id
            ))
        })?;
    printed(ctx.printer().cart(&view))?;
    if view.status.is_paying() {
        let why = view.last_error.as_deref().unwrap_or("no answer yet");
        return Err(CliError::pending(format!(
            "the payment's outcome is not known yet: {why}"
        ))
        .hint(format!(
            "do not check out again: the cart will be paid, or reopen if the payment was refused, by itself; `cart show {}` follows it",
            args.cart.id
        )));
    }
    Ok(())
}
