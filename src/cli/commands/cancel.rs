//! `cart cancel`: cancel a paid order that has not shipped.

use super::prelude::*;
use crate::workflow::CancelOrder;

/// Cancel a paid order that has not shipped, refunding all that is left of it.
///
/// An order that has shipped is not cancelled: refund an amount instead (`cart refund`). The
/// refund follows the rules of `cart refund`; the customer gets one e-mail once it is made.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
    /// Why, for the customer's e-mail and the shop's records
    #[arg(long)]
    pub reason: Option<String>,
    /// The id of the cancellation's refund; give the same one to ask again [default: a new one]
    #[arg(long, value_parser = order_id)]
    pub id: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let id = args.id.unwrap_or_else(new_order_id);
    let request = CancelOrder {
        id: id.clone(),
        reason: args.reason,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("cancelling", carts.cancel(&args.cart.id, request))
        .await
        .map_err(|e| {
            CliError::from(e)
                .unavailable_hint(format!(
                    "run it again with --id {id}: under its id it is the same refund, never a second"
                ))
                .refused_hint(format!("`cart show {}` shows the order", args.cart.id))
        })?;
    order_answered(ctx, &args.cart.id, &view, &id, true)
}
