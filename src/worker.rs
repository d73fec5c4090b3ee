//! Hosting: the worker that runs cart workflows and their activities on one task queue.

use crate::activities::{
    CartActivities, DEFAULT_SENDER, LocalLedger, MailSettings, Outbox, PaymentProvider,
};
use crate::domain::Catalog;
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
    payments: &PaymentProvider,
    mail: &MailSettings,
) -> Result<CartActivities, String> {
    Ok(CartActivities::new(
        Arc::new(catalog),
        payments.gateway(data_dir)?,
        mail.mailer(data_dir)?,
    ))
}

/// A worker for carts on `task_queue`, ready to `run()`. Its identity advertises the
/// fingerprints of its encryption keys (`keys`), so clients can check they share them.
pub fn build(
    runtime: &Runtime,
    client: Client,
    task_queue: &str,
    activities: CartActivities,
    keys: &[String],
) -> anyhow::Result<Worker> {
    let catalog = activities.catalog();
    let shop = catalog.clone();
    let options = WorkerOptions::new(task_queue)
        .register_activities(activities)
        .register_workflow::<CartWorkflow>()?
        .register_workflow_with_factory(move || ShopWorkflow::new(shop.clone()))?
        .register_workflow_interceptors(vec![catalog_interceptor(catalog)])
        .client_identity_override(crate::codec::identity(keys))
        .build();
    Ok(Worker::new(runtime, client, options)?)
}
