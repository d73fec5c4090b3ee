//! Typed access to carts through Temporal, shared by the command line and the tests.
//!
//! Every call goes through the workflow's typed handles (`CartWorkflow::add_item`, …). Errors
//! are sorted into what a person can act on: server unreachable, no such cart, rejected by the
//! cart rules, no worker listening, or something else from Temporal.
//!
//! By concern: [`changes`] (the changes a cart takes, and the life of one change), [`shop`]
//! (the catalog, through the task queue's shop workflow), [`listing`], [`search_attributes`],
//! [`workers`] (probing the task queue, matching keys), [`refusal`] (reading a failure's
//! message), [`send`] (the raw update requests).

mod changes;
mod listing;
mod refusal;
mod search_attributes;
mod send;
mod shop;
mod workers;

pub use listing::{CartFilter, CartSummary, since};

use crate::domain::CartId;
use crate::workflow::{CartView, CartWorkflow};
use refusal::undecodable;
use std::future::Future;
use std::time::Duration;
use temporalio_client::errors::WorkflowQueryError;
use temporalio_client::{Client, WorkflowQueryOptions};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("there is no cart {0}")]
    NotFound(CartId),
    #[error("cart {0} already exists")]
    AlreadyExists(CartId),
    /// The cart rules or the payment refused; the message says why.
    #[error("{0}")]
    Rejected(String),
    /// The cart is checking out, checked out or expired and takes no more changes.
    #[error("{0}")]
    Closed(String),
    #[error("no worker is serving {0}: run `cart worker`")]
    NoWorker(String),
    #[error(
        "the worker on {queue} did not answer within {}; the request may still complete",
        humantime::format_duration(*waited)
    )]
    Timeout { queue: String, waited: Duration },
    #[error("Temporal refused the request: {0}")]
    Temporal(String),
    /// This client and the workers do not share the encryption keys: a change sent now could
    /// not be read by them, or their answer not by us. Nothing was sent.
    #[error("{0}")]
    Keys(String),
}

#[derive(Clone)]
pub struct CartClient {
    client: Client,
    task_queue: String,
    /// How long to wait for a worker to answer before giving up.
    wait: Duration,
    /// The fingerprints of this client's encryption keys, the encrypting one first.
    keys: Vec<String>,
}

/// How long a change may wait for a worker to take it. A change not taken by then is refused
/// by the cart when a worker does come (see [`crate::workflow::admission`]), so that "no
/// worker" can be said without the change being applied later.
const TAKE_WITHIN: Duration = Duration::from_secs(4);
/// How far this machine's clock and the Temporal server's may disagree. "No worker" is said
/// this long after a change's deadline.
const CLOCK_MARGIN: Duration = Duration::from_secs(1);
/// How long a query may go unanswered before we check whether any worker is listening.
const WORKER_PROBE_AFTER: Duration = Duration::from_secs(2);
/// How long we wait for a worker to appear before saying there is none.
const WORKER_GRACE: Duration = Duration::from_secs(5);

impl CartClient {
    pub fn new(client: Client, task_queue: impl Into<String>, wait: Duration) -> Self {
        Self {
            client,
            task_queue: task_queue.into(),
            wait,
            keys: Vec::new(),
        }
    }

    /// This client encrypts with these keys (their fingerprints, the encrypting one first).
    pub fn with_keys(mut self, fingerprints: Vec<String>) -> Self {
        self.keys = fingerprints;
        self
    }

    fn handle(&self, id: &CartId) -> temporalio_client::WorkflowHandle<Client, CartWorkflow> {
        self.client.get_workflow_handle::<CartWorkflow>(id.as_str())
    }

    /// The history of the cart's latest run as the Temporal server stores it: its payloads as
    /// they were sent, encrypted or not.
    pub async fn stored_history(&self, id: &CartId) -> Result<Vec<HistoryEvent>, ClientError> {
        self.handle(id)
            .fetch_history(Default::default())
            .into_events()
            .await
            .map_err(|e| ClientError::Temporal(e.to_string()))
    }

    /// The cart as it stands.
    pub async fn get(&self, id: &CartId) -> Result<CartView, ClientError> {
        let handle = self.handle(id);
        let query = handle.query(CartWorkflow::get_cart, (), WorkflowQueryOptions::default());
        self.answered(query).await?.map_err(|e| match e {
            WorkflowQueryError::NotFound(_) => ClientError::NotFound(id.clone()),
            WorkflowQueryError::PayloadConversion(e) => undecodable(&e.to_string()),
            other => ClientError::Temporal(other.to_string()),
        })
    }

    /// Waits for a change until `wait` has passed since it `began`.
    async fn within_wait<T>(
        &self,
        began: tokio::time::Instant,
        call: impl Future<Output = T>,
    ) -> Result<T, ClientError> {
        tokio::time::timeout_at(began + self.wait, call)
            .await
            .map_err(|_| ClientError::Timeout {
                queue: self.task_queue.clone(),
                waited: self.wait,
            })
    }

    /// Waits for a query. If it has no answer after a moment, asks the server whether any
    /// worker polls the task queue, so that a missing worker is reported in seconds rather
    /// than after the full wait.
    async fn answered<T>(&self, call: impl Future<Output = T>) -> Result<T, ClientError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        tokio::pin!(call);
        tokio::select! {
            out = &mut call => return Ok(out),
            _ = tokio::time::sleep(WORKER_PROBE_AFTER.min(self.wait)) => {}
        }
        self.ensure_worker().await?;
        tokio::select! {
            out = &mut call => Ok(out),
            _ = tokio::time::sleep_until(deadline) => Err(ClientError::Timeout {
                queue: self.task_queue.clone(),
                waited: self.wait,
            }),
        }
    }
}
