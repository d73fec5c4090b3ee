//! `cart worker`: host the carts, their payments and e-mail.

use super::prelude::*;
use crate::domain::{Catalog, CatalogFormat};
use std::path::{Path, PathBuf};

/// Run the worker that hosts the carts and their payments and e-mail.
///
/// The worker's catalog sets every price: a product is priced when it is added to a cart and
/// keeps that price in the cart. All workers of a task queue should run the same catalog.
/// Payments go to the ledger DATA_DIR/payments.jsonl unless STRIPE_SECRET_KEY chooses Stripe.
/// E-mail goes to DATA_DIR/outbox/ unless SMTP_URL or MAILGUN_DOMAIN with MAILGUN_API_KEY choose
/// a real provider; CART_MAIL_FROM sets the sender. Stops cleanly on Ctrl-C or SIGTERM.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the ledger and outbox live [default: the user's data directory, e.g. ~/.local/share/cart]
    #[arg(long, env = "CART_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The catalog that prices the carts: a TOML or JSON file [default: built in]
    #[arg(long, env = "CART_CATALOG", value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// How many carts to keep in memory between their changes (Temporal's sticky cache). A
    /// cart that is not is rebuilt from its history when next touched: fewer cost replays,
    /// more cost memory (see docs/design.md, "Performance")
    #[arg(long, env = "CART_MAX_CACHED_CARTS", value_name = "N", default_value_t = crate::worker::MAX_CACHED_CARTS)]
    pub max_cached_carts: usize,
    /// Serve Prometheus metrics (the carts' counters and the Temporal SDK's worker metrics) at
    /// /metrics, liveness at /healthz and readiness at /readyz on this address
    #[arg(long, env = "CART_METRICS", value_name = "HOST:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub providers: Box<crate::cli::providers::ProviderArgs>,
}

/// The catalog from a file (JSON by its `.json` extension, TOML otherwise), or the built-in one.
pub fn catalog(path: Option<&Path>) -> Result<Catalog, CliError> {
    let Some(path) = path else {
        return Ok(Catalog::builtin());
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::chain(format!("cannot read the catalog {}", path.display()), &e)
            .hint("check the file given with --catalog or CART_CATALOG")
    })?;
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("json") => CatalogFormat::Json,
        _ => CatalogFormat::Toml,
    };
    Catalog::parse(&text, format).map_err(|e| {
        CliError::chain(format!("the catalog {} is not usable", path.display()), &e)
            .hint("see docs/operations.md, \"Catalog\", for the file format")
    })
}

/// The data directory: the flag or `CART_DATA_DIR`, else `<XDG data dir>/cart`.
pub fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf, CliError> {
    flag.or_else(|| dirs::data_dir().map(|d| d.join("cart")))
        .ok_or_else(|| {
            CliError::new("cannot find a data directory for this user")
                .hint("set one with --data-dir or CART_DATA_DIR")
        })
}

/// Whether the namespace has the carts' search attributes. Where it does not (or cannot say),
/// the worker says what to run and its carts keep none: a cart never fails for a missing
/// attribute, it only cannot be found by state.
async fn search_attributes_registered(carts: &crate::client::CartClient) -> bool {
    match carts.missing_search_attributes().await {
        Ok(missing) if missing.is_empty() => true,
        Ok(missing) => {
            let commands: Vec<String> = missing
                .iter()
                .map(|(name, kind)| {
                    format!("temporal operator search-attribute create --name {name} --type {kind}")
                })
                .collect();
            tracing::warn!(
                "the namespace has no search attribute {}: carts work, but `cart list --status/--since/--query` cannot find them by state; register them with: {}",
                missing
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
                commands.join(" && ")
            );
            false
        }
        Err(e) => {
            let e = crate::report::line(&e);
            tracing::warn!(
                "cannot tell whether the namespace has the carts' search attributes ({e}); carts keep none: see docs/operations.md, \"Finding carts\""
            );
            false
        }
    }
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let refuse = |e: crate::activities::SettingsError| {
        CliError::new(format!("cannot start the worker: {e}"))
            .hint("see docs/operations.md, \"Configuration\", for the provider variables")
    };
    let data_dir = data_dir(args.data_dir)?;
    let catalog = catalog(args.catalog.as_deref())?;
    let catalog_source = match &args.catalog {
        Some(path) => path.display().to_string(),
        None => "built in".to_owned(),
    };
    let providers = args.providers.settings().map_err(refuse)?;
    let activities = crate::worker::activities(&data_dir, catalog, &providers).map_err(refuse)?;
    activities.check_prices().map_err(|e| {
        CliError::new(format!("cannot start the worker: {e}"))
            .hint("change the catalog's prices, or charge through another provider")
    })?;
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        CliError::chain(
            format!("cannot create the data directory {}", data_dir.display()),
            &e,
        )
    })?;
    let client = ctx.temporal().await?;
    // One connection serves the worker and its own questions (readiness, search attributes).
    let carts = ctx.carts_on(client.clone())?;
    let metrics = match args.metrics {
        Some(address) => Some((bind_metrics(address).await?, readiness(carts.clone()))),
        None => None,
    };
    let codec = ctx.codec()?;
    let plan = crate::worker::Plan {
        task_queue: ctx.global.task_queue.clone(),
        data_dir,
        catalog_source,
        providers,
        activities,
        keys: codec.fingerprints(),
        key_ids: codec.key_ids().into_iter().map(str::to_owned).collect(),
        max_cached_carts: args.max_cached_carts,
        search_attributes: search_attributes_registered(&carts).await,
        metrics,
    };
    crate::worker::host(client, plan, stop_signal())
        .await
        .map_err(|e| CliError::new(crate::report::line(&e)))
}
