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
mod in_flight;
pub use in_flight::MAX_IN_FLIGHT_PER_CART;
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
    /// This process had its most changes in flight to the cart for the whole wait (see
    /// `in_flight`), and a worker serves it. Nothing was sent.
    #[error(
        "cart {id} was busy with {} other changes from here for {}; this one was not sent",
        MAX_IN_FLIGHT_PER_CART,
        humantime::format_duration(*waited)
    )]
    Busy { id: CartId, waited: Duration },
    #[error("Temporal refused the request")]
    Temporal(#[source] TemporalError),
    /// This client and the workers do not share the encryption keys: a change sent now could
    /// not be read by them, or their answer not by us. Nothing was sent.
    #[error("{0}")]
    Keys(String),
}

impl ClientError {
    fn temporal(said: impl Into<TemporalError>) -> Self {
        Self::Temporal(said.into())
    }
}

/// What Temporal or the connection to it said, with whatever lies underneath (a transport
/// error, an I/O error) kept as its source.
#[derive(Debug)]
pub struct TemporalError(Said);

#[derive(Debug)]
enum Said {
    /// A gRPC status: its message is what the server said, its source what the connection did.
    Status(tonic::Status),
    /// Any other error from the SDK, standing for itself.
    Error(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for TemporalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Said::Status(status) if status.message().is_empty() => {
                write!(f, "{:?}", status.code())
            }
            Said::Status(status) => f.write_str(status.message()),
            Said::Error(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TemporalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Said::Status(status) => std::error::Error::source(status),
            Said::Error(e) => e.source(),
        }
    }
}

impl From<tonic::Status> for TemporalError {
    fn from(status: tonic::Status) -> Self {
        Self(Said::Status(status))
    }
}

/// The SDK's errors: a gRPC status inside one is kept as a status, so that what the server said
/// is the message and what the connection did its source.
macro_rules! from_sdk_errors {
    ($($error:ident),*) => {$(
        impl From<temporalio_client::errors::$error> for TemporalError {
            fn from(e: temporalio_client::errors::$error) -> Self {
                match e {
                    temporalio_client::errors::$error::Rpc(status) => status.into(),
                    other => Self(Said::Error(other.into())),
                }
            }
        }
    )*};
}

from_sdk_errors!(
    ClientError,
    WorkflowStartError,
    WorkflowQueryError,
    WorkflowInteractionError
);

impl TemporalError {
    /// Any other error from the SDK or the data converter.
    pub(crate) fn of(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Said::Error(Box::new(e)))
    }

    /// Something this client found wrong with an answer.
    pub(crate) fn said(what: &str) -> Self {
        Self(Said::Error(what.into()))
    }
}

#[derive(Clone)]
pub struct CartClient {
    client: Client,
    task_queue: String,
    /// How long to wait for a worker to answer before giving up.
    wait: Duration,
    /// The fingerprints of this client's encryption keys, the encrypting one first.
    keys: Vec<String>,
    /// Room for changes in flight to each cart, shared by this client's clones.
    in_flight: std::sync::Arc<in_flight::InFlight>,
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
            in_flight: Default::default(),
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
            .map_err(ClientError::temporal)
    }

    /// The cart as it stands.
    pub async fn get(&self, id: &CartId) -> Result<CartView, ClientError> {
        let handle = self.handle(id);
        let query = handle.query(CartWorkflow::get_cart, (), WorkflowQueryOptions::default());
        self.answered(query).await?.map_err(|e| match e {
            WorkflowQueryError::NotFound(_) => ClientError::NotFound(id.clone()),
            WorkflowQueryError::PayloadConversion(e) => undecodable(&e.to_string()),
            other => ClientError::temporal(other),
        })
    }

    /// Waits for the cart's workflow to end, however long that takes, and answers the cart as
    /// it ended.
    pub async fn ended(&self, id: &CartId) -> Result<CartView, ClientError> {
        self.handle(id)
            .get_result(Default::default())
            .await
            .map_err(|e| ClientError::Temporal(TemporalError::of(e)))
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

#[cfg(test)]
mod tests {
    use super::{ClientError, TemporalError};
    use std::error::Error as _;
    use std::sync::Arc;

    #[test]
    fn what_temporal_said_keeps_what_lies_underneath() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let mut status = tonic::Status::unavailable("transport error");
        status.set_source(Arc::new(refused));
        let e = ClientError::temporal(status);
        assert_eq!(e.to_string(), "Temporal refused the request");
        let said = e.source().expect("what Temporal said");
        assert_eq!(said.to_string(), "transport error");
        assert_eq!(
            said.source().expect("its cause").to_string(),
            "connection refused"
        );
        assert_eq!(
            crate::report::line(&e),
            "Temporal refused the request: transport error: connection refused"
        );
    }

    #[test]
    fn a_status_without_a_message_is_named_by_its_code() {
        let e = ClientError::temporal(tonic::Status::new(tonic::Code::Unavailable, ""));
        assert_eq!(
            crate::report::line(&e),
            "Temporal refused the request: Unavailable"
        );
        let e = ClientError::Temporal(TemporalError::said(
            "the worker that answered has no catalog",
        ));
        assert_eq!(
            crate::report::line(&e),
            "Temporal refused the request: the worker that answered has no catalog"
        );
    }
}
