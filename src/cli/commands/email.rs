//! `cart email`: set a cart's e-mail address.

use super::prelude::*;
use crate::workflow::SetEmail;

/// Set the e-mail address for a cart's receipt and reminder.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
    /// The address, e.g. ann@example.com
    pub email: String,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let request = SetEmail { email: args.email };
    let carts = ctx.carts().await?;
    let view = output::waiting(
        "waiting for the worker",
        carts.set_email(&args.cart.id, request),
    )
    .await
    .map_err(|e| {
        CliError::from(e).refused_hint(format!(
            "write the address like ann@example.com; `cart show {}` shows the cart",
            args.cart.id
        ))
    })?;
    printed(ctx.printer().cart(&view))
}
