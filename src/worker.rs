//! Hosting: the worker that runs cart workflows and their activities on one task queue.

use crate::activities::{
    CartActivities, DEFAULT_SENDER, LocalLedger, Outbox, ProviderSettings, SettingsError,
};
use crate::domain::Catalog;
use crate::workflow::admission::admission_interceptor;
use crate::workflow::hosted::{Hosted, hosted_interceptor};
use crate::workflow::metrics::CartCounters;
use crate::workflow::{CartWorkflow, ShopWorkflow, catalog_interceptor};
use std::path::Path;
use std::sync::Arc;
use temporalio_client::Client;
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
