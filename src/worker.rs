//! Hosting: the worker that runs cart workflows and their activities on one task queue.

use crate::activities::{
    CartActivities, DEFAULT_SENDER, LocalLedger, Outbox, ProviderSettings, SettingsError,
};
use crate::domain::Catalog;
use crate::metrics::{Endpoint, Readiness, WorkerMetrics};
use crate::workflow::admission::admission_interceptor;
use crate::workflow::hosted::{Hosted, hosted_interceptor};
use crate::workflow::metrics::CartCounters;
use crate::workflow::{CartWorkflow, ShopWorkflow, catalog_interceptor};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use temporalio_client::Client;
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{
    PrometheusExporterOptions, TelemetryOptions, start_prometheus_metric_exporter,
};
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// The zero-config activities: the built-in catalog, a ledger and an outbox in `data_dir`.
pub fn local_activities(data_dir: &Path) -> CartActivities {
    let sender = DEFAULT_SENDER
        .parse()
        .expect("the default sender is an address");
    CartActivities::new(
        Arc::new(Catalog::builtin()),
        Arc::new(LocalLedger::new(data_dir)),
        Arc::new(Outbox::new(data_dir, sender)),
    )
}

/// The activities a worker runs, with its catalog and the configured providers.
pub fn activities(
    data_dir: &Path,
    catalog: Catalog,
    providers: &ProviderSettings,
) -> Result<CartActivities, SettingsError> {
    Ok(CartActivities::new(
        Arc::new(catalog),
        providers.payments.gateway(data_dir)?,
        providers.mail.mailer(data_dir)?,
    ))
}

/// How many carts a worker keeps in memory by default: see docs/design.md, "Performance".
pub const MAX_CACHED_CARTS: usize = 1000;

/// How a worker hosts its carts.
#[derive(Clone)]
pub struct Hosting {
    /// The fingerprints of its encryption keys, the encrypting one first.
    pub keys: Vec<String>,
    /// How many carts it keeps in memory between their changes.
    pub max_cached_carts: usize,
    /// Where its carts count what they do, when the worker has metrics.
    pub counters: Option<Arc<dyn CartCounters>>,
    /// Whether its namespace has the carts' search attributes (see
    /// [`crate::workflow::search`]).
    pub search_attributes: bool,
}

impl Default for Hosting {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            max_cached_carts: MAX_CACHED_CARTS,
            counters: None,
            search_attributes: false,
        }
    }
}

/// A worker for carts on `task_queue`, ready to `run()`. Its identity advertises the
/// fingerprints of its encryption keys, so clients can
/// check they share them; changes from a client that could not read its answers are refused
/// (see [`crate::workflow::admission`]).
pub fn build(
    runtime: &Runtime,
    client: Client,
    task_queue: &str,
    activities: CartActivities,
    hosting: &Hosting,
) -> anyhow::Result<Worker> {
    let keys = &hosting.keys;
    let catalog = activities.catalog();
    let shop = catalog.clone();
    let interceptors = vec![
        admission_interceptor(keys.first().cloned()),
        catalog_interceptor(catalog),
        hosted_interceptor(Hosted {
            counters: hosting.counters.clone(),
            search_attributes: hosting.search_attributes,
        }),
    ];
    let options = WorkerOptions::new(task_queue)
        .register_activities(activities)
        .register_workflow::<CartWorkflow>()?
        .register_workflow_with_factory(move || ShopWorkflow::new(shop.clone()))?
        .register_workflow_interceptors(interceptors)
        .client_identity_override(crate::codec::identity(keys))
        .max_cached_workflows(hosting.max_cached_carts)
        .build();
    Ok(Worker::new(runtime, client, options)?)
}

/// A worker as `cart worker` hosts it, with every setting decided.
pub struct Plan {
    pub task_queue: String,
    /// Where the local ledger and outbox live.
    pub data_dir: PathBuf,
    /// Where the catalog came from, for the start-up log ("built in", or its file).
    pub catalog_source: String,
    pub providers: ProviderSettings,
    pub activities: CartActivities,
    /// The fingerprints of its encryption keys, the encrypting one first, and their ids.
    pub keys: Vec<String>,
    pub key_ids: Vec<String>,
    pub max_cached_carts: usize,
    /// Whether the namespace has the carts' search attributes.
    pub search_attributes: bool,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`, and what readiness asks.
    pub metrics: Option<(tokio::net::TcpListener, Readiness)>,
}

/// Why a worker did not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot start the SDK's metrics")]
    Metrics(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot start the Temporal runtime")]
    Runtime(#[source] temporalio_sdk::RuntimeError),
    #[error("cannot start the worker")]
    Start(#[source] anyhow::Error),
    #[error("the worker stopped")]
    Stopped(#[source] temporalio_sdk::WorkerRunError),
}

/// Hosts the carts of `plan` until `stop` resolves, then finishes the tasks in hand: the SDK's
/// runtime (exporting its metrics where the plan serves them), the worker, and what it says
/// of itself as it starts.
pub async fn host(
    client: Client,
    plan: Plan,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HostError> {
    let mut options = RuntimeOptions::default();
    let mut counters = None;
    if let Some((listener, ready)) = plan.metrics {
        // The SDK exports its own metrics on a loopback port that /metrics reads.
        let sdk = start_prometheus_metric_exporter(
            PrometheusExporterOptions::builder()
                .socket_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
                .build(),
        )
        .map_err(|e| HostError::Metrics(e.into()))?;
        let meter: Arc<dyn CoreMeter> = sdk.meter.clone();
        options = RuntimeOptions::builder()
            .telemetry_options(TelemetryOptions::builder().metrics(meter).build())
            .build()
            .map_err(|e| HostError::Metrics(e.into()))?;
        let metrics = Arc::new(WorkerMetrics::new());
        crate::metrics::serve(listener, Endpoint::worker(&metrics, sdk.bound_addr, ready));
        counters = Some(metrics as Arc<dyn CartCounters>);
    }
    let runtime = Runtime::from_current_tokio(options).map_err(HostError::Runtime)?;
    let shop = plan.activities.catalog();
    let hosting = Hosting {
        keys: plan.keys,
        max_cached_carts: plan.max_cached_carts,
        counters,
        search_attributes: plan.search_attributes,
    };
    let queue = &plan.task_queue;
    let mut worker =
        build(&runtime, client, queue, plan.activities, &hosting).map_err(HostError::Start)?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("stopping: finishing the tasks in hand");
        shutdown();
    });
    match plan.key_ids.as_slice() {
        [] => tracing::warn!(
            "customer data (e-mail addresses, carts, payment methods, receipts) goes to Temporal unencrypted: give every worker and client the same key with CART_CODEC_KEY_FILE (`cart codec-key --file PATH` makes one) or CART_CODEC_KEY"
        ),
        ids => tracing::info!(
            "payloads: encrypted with key {}; keys that decrypt: {}",
            ids[0],
            ids.join(", ")
        ),
    }
    tracing::info!(
        "catalog: {} products in {} ({})",
        shop.products().len(),
        shop.currency(),
        plan.catalog_source
    );
    let data_dir = &plan.data_dir;
    tracing::info!("payments: {}", plan.providers.payments.describe(data_dir));
    tracing::info!("mail: {}", plan.providers.mail.describe(data_dir));
    tracing::info!(
        task_queue = %queue,
        data_dir = %data_dir.display(),
        "cart worker started"
    );
    worker.run().await.map_err(HostError::Stopped)?;
    tracing::info!("cart worker stopped");
    Ok(())
}
