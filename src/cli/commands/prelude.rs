//! What the commands share: the cart argument, the checks of product ids and quantities, how
//! output errors and stop signals are handled, tokens for the servers. Each command starts with
//! `use super::prelude::*;`, as cargo's commands start with its `command_prelude`.

pub(crate) use super::completions::open_carts;
pub(crate) use crate::cli::{CartDefaults, CliError, Context, OutputFormat, output};
pub(crate) use crate::domain::CartId;
use std::sync::Arc;

/// The cart a command acts on, its first argument. The prompt fills in its current cart for
/// every command that has this argument ([`crate::cli::takes_cart`]).
#[derive(Debug, clap::Args)]
pub struct CartArg {
    /// The cart, e.g. CART-123
    #[arg(id = CART_ARG, value_name = "CART", add = open_carts())]
    pub id: CartId,
}

/// The clap id of [`CartArg`].
pub(crate) const CART_ARG: &str = "cart";

/// Turns an output failure (other than a closed pipe, handled in `output`) into an error.
pub(crate) fn printed(result: std::io::Result<()>) -> Result<(), CliError> {
    result.map_err(|e| CliError::chain("cannot write the output", &e))
}

/// `--product`: a product id, which is never negative nor larger than a `u32`.
pub(crate) fn product_id() -> clap::builder::RangedI64ValueParser<i64> {
    clap::value_parser!(i64).range(0..=i64::from(u32::MAX))
}

/// `--qty`: from 1 to the most one cart line holds.
pub(crate) fn quantity() -> clap::builder::RangedI64ValueParser<i64> {
    clap::value_parser!(i64).range(1..=i64::from(crate::domain::MAX_QUANTITY_PER_LINE))
}

/// Runs a change that may start the cart `id` (`cart add`, `cart new`), with a spinner saying
/// `message`. Ctrl-C ends the cart if this change started it and no worker has taken the
/// change yet, so an interrupted first change leaves no cart behind that nobody serves.
/// (In the prompt, the prompt's own Ctrl-C comes first and cancels the command as it is.)
pub(crate) async fn starting<T>(
    carts: &crate::client::CartClient,
    id: &CartId,
    message: &str,
    change: impl std::future::Future<Output = Result<T, crate::client::ClientError>>,
) -> Result<T, CliError> {
    let since = jiff::Timestamp::now();
    tokio::select! {
        out = output::waiting(message, change) => out.map_err(CliError::from),
        // A Ctrl-C that cannot be caught leaves this branch off.
        Ok(()) = tokio::signal::ctrl_c() => Err(if carts.abandon(id, since).await {
            CliError::interrupted(format!("interrupted; no worker had taken the change, so cart {id} was not kept"))
        } else {
            CliError::interrupted("interrupted; a change already sent may still be applied")
                .hint(format!("`cart show {id}` tells"))
        }),
    }
}

/// `--amount`: a decimal above zero (its minor units are the order's currency's, checked by
/// the cart).
pub(crate) fn amount(text: &str) -> Result<String, String> {
    crate::workflow::check_refund_amount(text).map(|()| text.to_owned())
}

/// `--id` of a refund or cancellation.
pub(crate) fn order_id(text: &str) -> Result<String, String> {
    crate::workflow::check_order_id(text).map(|()| text.to_owned())
}

/// A fresh refund id: what `--id` is when left out.
pub(crate) fn new_order_id() -> String {
    crate::workflow::new_order_id()
}

/// Prints the order a refund (or, `cancel`, a cancellation) answered with. Its refund `id`
/// (a cancellation's own, whatever id it was sent under) still pending exits 5, as a pending
/// payment does, and one that failed exits 3.
pub(crate) fn order_answered(
    ctx: &Context,
    cart: &CartId,
    view: &crate::workflow::CartView,
    id: &str,
    cancel: bool,
) -> Result<(), CliError> {
    printed(ctx.printer().cart(view))?;
    let order = view.order.as_ref();
    let id = match order.and_then(|o| o.cancel_refund.as_deref()) {
        Some(theirs) if cancel => theirs,
        _ => id,
    };
    let refund = order.iter().flat_map(|o| &o.refunds).find(|r| r.id == id);
    let detail = || {
        refund
            .and_then(|r| r.detail.as_deref())
            .unwrap_or("no answer yet")
    };
    match refund.map(|r| r.status.as_str()) {
        Some("pending") => Err(CliError::pending(format!(
            "refund {id} is not known yet: {}",
            detail()
        ))
        .hint(format!(
            "do not refund again under a new id: it settles by itself; `cart show {cart}` follows it"
        ))),
        Some("failed") if cancel => Err(CliError::refused(format!(
            "the order is cancelled, but its refund {id} failed: {}",
            detail()
        ))
        .hint(format!("`cart refund {cart}` asks for what is left again"))),
        Some("failed") => Err(CliError::refused(format!(
            "refund {id} failed: {}",
            detail()
        ))
        .hint(format!(
            "nothing was refunded, and the amount is refundable again; `cart show {cart}` shows the order"
        ))),
        _ => Ok(()),
    }
}

/// What to look at when a change to a cart's items is refused.
pub(crate) fn look_hint(cart: &CartId) -> String {
    format!("`cart show {cart}` shows the cart, `cart products` the product ids")
}

/// A token: from a file, or from `--token` or its variable `var` (clap reads both). One typed
/// on the command line gets a warning, as `ps` shows it, and may not come with a file too.
pub(crate) fn token(
    given: Option<&str>,
    typed: bool,
    file: Option<&std::path::Path>,
    var: &str,
) -> Result<Option<String>, CliError> {
    if let Some(path) = file {
        if typed {
            return Err(
                CliError::usage("the token is given twice, with --token and --token-file")
                    .hint("give one of them"),
            );
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::chain(format!("cannot read the token file {}", path.display()), &e)
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_owned();
        if token.is_empty() {
            return Err(CliError::usage(format!(
                "the token file {} is empty",
                path.display()
            )));
        }
        return Ok(Some(token));
    }
    if typed {
        tracing::warn!(
            "the token was given on the command line, where anyone who can list processes sees it; prefer {var} or --token-file"
        );
    }
    Ok(given.map(str::to_owned).filter(|t| !t.is_empty()))
}

/// Binds the `--metrics` address, with a message that says what to do when it is taken.
pub(crate) async fn bind_metrics(
    address: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(address).await.map_err(|e| {
        CliError::chain(format!("cannot serve metrics on {address}"), &e)
            .hint("is another program using that port? pick another with --metrics")
    })
}

/// Ready: Temporal answers and a worker polls the carts' task queue.
pub(crate) fn readiness(carts: crate::client::CartClient) -> crate::metrics::Readiness {
    Arc::new(move || {
        let carts = carts.clone();
        Box::pin(async move {
            match carts.worker_polling().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("no worker polls the carts' task queue".to_owned()),
                Err(e) => Err(crate::report::line(&e)),
            }
        })
    })
}

/// Resolves when the process is asked to stop: Ctrl-C, or SIGTERM where there is one (the
/// servers and the worker finish what is in flight first).
pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
