//! `cart refund`: give money of a paid order back.

use super::prelude::*;
use crate::workflow::RefundOrder;

/// Refund a paid order: all that is left, or part of it with --amount.
///
/// The refund is sent to the payment provider under an id of its own: running the command again
/// with the same --id (after a lost answer, say) is the same refund, never a second one. A
/// refund the provider has not settled yet shows `pending` (exit code 5) and settles by itself;
/// one the provider refused leaves the amount refundable, with the reason (exit code 3).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
    /// How much to refund, in the order's currency, e.g. 12.50 [default: all that is left]
    #[arg(long, value_parser = amount)]
    pub amount: Option<String>,
    /// Why, for the customer's e-mail and the shop's records
    #[arg(long)]
    pub reason: Option<String>,
    /// The refund's id; give the same one to ask again for the same refund [default: a new one]
    #[arg(long, value_parser = order_id)]
    pub id: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let id = args.id.unwrap_or_else(new_order_id);
    let request = RefundOrder {
        id: id.clone(),
        amount: args.amount,
        reason: args.reason,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("refunding", carts.refund(&args.cart.id, request))
        .await
        .map_err(|e| {
            CliError::from(e)
                .unavailable_hint(format!(
                    "run it again with --id {id}: under its id it is the same refund, never a second"
                ))
                .refused_hint(format!(
                "`cart show {}` shows the order and what is refundable",
                args.cart.id
            ))
        })?;
    order_answered(ctx, &args.cart.id, &view, &id, false)
}
