//! `cart list`: the open carts, or the carts some filter chooses.

use super::prelude::*;
use crate::client::CartFilter;
use crate::domain::Status;

/// List carts on this task queue, newest first: the open ones, or those the filters choose.
///
/// The filters ask Temporal's visibility store for the carts' search attributes (CartStatus,
/// CartItems, CartTotal, CartUpdatedAt), which the namespace must have: `scripts/dev-server`
/// registers them, docs/operations.md ("Finding carts") says how for a cluster. With a filter,
/// carts that are checked out or expired are listed too.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only carts with this status
    #[arg(long, value_parser = status())]
    pub status: Option<Status>,
    /// Only carts changed within this long (e.g. 24h) or since this moment
    /// (e.g. 2026-11-27T00:00:00Z)
    #[arg(long, value_name = "WHEN", value_parser = crate::client::since)]
    pub since: Option<jiff::Timestamp>,
    /// More conditions in Temporal's list-filter syntax, e.g. "CartTotal > 100000" (minor
    /// units) or "CartItems >= 3"
    #[arg(long, value_name = "FILTER")]
    pub query: Option<String>,
}

/// `--status`: one of the statuses a cart has.
fn status() -> impl clap::builder::TypedValueParser<Value = Status> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Status::ALL.map(Status::as_str))
        .try_map(|s: String| Status::parse(&s).ok_or("not a status"))
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let filter = CartFilter {
        status: args.status,
        since: args.since,
        query: args.query,
    };
    let carts = ctx.carts().await?.list(&filter).await.map_err(|e| {
        CliError::from(e).refused_hint(
            "register the search attributes as docs/operations.md (\"Finding carts\") says, or fix the --query",
        )
    })?;
    printed(ctx.printer().carts(&carts))
}
