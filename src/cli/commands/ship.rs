//! `cart ship`: mark a paid order shipped.

use super::prelude::*;
use crate::workflow::ShipOrder;

/// Mark a paid order shipped, and e-mail the customer once.
///
/// An order that is cancelled, or refunded in full, has nothing to ship and is refused. Shipping
/// again keeps the first shipment.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub cart: CartArg,
    /// The carrier's tracking number
    #[arg(long)]
    pub tracking: Option<String>,
    /// The carrier, e.g. UPS
    #[arg(long)]
    pub carrier: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let request = ShipOrder {
        tracking: args.tracking,
        carrier: args.carrier,
    };
    let carts = ctx.carts().await?;
    let view = output::waiting("waiting for the worker", carts.ship(&args.cart.id, request))
        .await
        .map_err(|e| {
            CliError::from(e).refused_hint(format!("`cart show {}` shows the order", args.cart.id))
        })?;
    printed(ctx.printer().cart(&view))
}
