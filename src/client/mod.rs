//! Typed access to carts through Temporal, shared by the command line and the tests.
//!
//! Every call goes through the workflow's typed handles (`CartWorkflow::add_item`, …). Errors
//! are sorted into what a person can act on: server unreachable, no such cart, rejected by the
//! cart rules, no worker listening, or something else from Temporal.

mod send;

use crate::domain::{CartId, Catalog, Status};
use crate::workflow::admission::{Admission, Refusal};
use crate::workflow::{
    AddItem, CartInput, CartView, CartWorkflow, Checkout, RemoveItem, SetEmail, ShopWorkflow,
    WORKFLOW_TYPE, shop_id,
};
use futures::StreamExt;
use send::{Change, Sent, Start};
use std::future::Future;
use std::time::Duration;
use temporalio_client::errors::WorkflowQueryError;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowListOptions, WorkflowQueryOptions,
    WorkflowStartOptions,
};
use temporalio_common::UpdateDefinition;
use temporalio_common::data_converters::TemporalSerializable;
use temporalio_common::protos::temporal::api::{
    enums::v1::{
        EventType, TaskQueueKind, TaskQueueType, WorkflowIdConflictPolicy as ConflictPolicy,
        WorkflowIdReusePolicy as ReusePolicy,
    },
    history::v1::HistoryEvent,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::DescribeTaskQueueRequest,
};

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

const NO_KEY_HERE: &str = "the workers encrypt carts' data and this client has no key";
const NOT_THEIR_KEY_HERE: &str = "this client does not have the key the workers encrypt with";

/// Keys that do not match between this client and the workers: what to do about it.
fn keys_error(problem: &str) -> ClientError {
    ClientError::Keys(format!(
        "{problem}, so nothing was changed: give every worker and client the same keys (CART_CODEC_KEY_FILE or CART_CODEC_KEY)"
    ))
}

/// An answer this client cannot decrypt: what the codec said of it.
fn undecodable(text: &str) -> ClientError {
    let reason = text.rsplit("Encoding error: ").next().unwrap_or(text);
    ClientError::Keys(format!("cannot read the answer: {reason}"))
}

/// A `since` given by a person: a duration back from now (`24h`) or a moment (RFC 3339).
pub fn since(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(moment) = text.parse::<jiff::Timestamp>() {
        return Ok(moment);
    }
    let back = humantime::parse_duration(text).map_err(|_| {
        format!(
            "{text:?} is neither a duration such as 24h nor a moment such as 2026-11-27T00:00:00Z"
        )
    })?;
    let back = jiff::SignedDuration::try_from(back).map_err(|e| e.to_string())?;
    jiff::Timestamp::now()
        .checked_sub(back)
        .map_err(|_| format!("{text:?} reaches back too far"))
}

/// Which carts a listing shows. Empty: the open ones.
#[derive(Clone, Debug, Default)]
pub struct CartFilter {
    pub status: Option<Status>,
    /// Changed at or after this moment.
    pub since: Option<jiff::Timestamp>,
    /// More conditions in Temporal's list-filter syntax, e.g. `CartTotal > 100000`.
    pub query: Option<String>,
}

impl CartFilter {
    fn uses_search_attributes(&self) -> bool {
        self.status.is_some() || self.since.is_some() || self.query.is_some()
    }

    /// The visibility query: carts of this task queue, with the filter's conditions.
    fn query(&self, task_queue: &str) -> String {
        let mut query = format!(
            "WorkflowType = '{}' AND TaskQueue = '{}'",
            crate::workflow::WORKFLOW_TYPE,
            task_queue.replace('\'', "")
        );
        if !self.uses_search_attributes() {
            query.push_str(" AND ExecutionStatus = 'Running'");
        }
        if let Some(status) = self.status {
            query.push_str(&format!(" AND CartStatus = '{}'", status.as_str()));
        }
        if let Some(since) = self.since {
            query.push_str(&format!(" AND CartUpdatedAt >= '{since}'"));
        }
        if let Some(more) = &self.query {
            query.push_str(&format!(" AND ({more})"));
        }
        query
    }
}

/// One cart in a listing.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CartSummary {
    #[schema(value_type = String)]
    pub id: CartId,
    #[schema(schema_with = crate::workflow::status_schema)]
    pub status: Status,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<jiff::Timestamp>,
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

    /// Starts a cart and returns it as the worker sees it: one request, which creates the cart
    /// and waits for a worker to answer its `open` update.
    pub async fn create(&self, id: &CartId, input: CartInput) -> Result<CartView, ClientError> {
        let start = Start {
            workflow_type: WORKFLOW_TYPE,
            task_queue: &self.task_queue,
            input: &input,
            conflict: ConflictPolicy::Fail,
            reuse: ReusePolicy::AllowDuplicateFailedOnly,
        };
        self.change(id, Some(start), CartWorkflow::open.name(), &())
            .await
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

    /// Adds an item, creating the cart with `start` first if it does not exist yet.
    pub async fn add(
        &self,
        id: &CartId,
        item: AddItem,
        input: CartInput,
    ) -> Result<CartView, ClientError> {
        let start = Start {
            workflow_type: WORKFLOW_TYPE,
            task_queue: &self.task_queue,
            input: &input,
            conflict: ConflictPolicy::UseExisting,
            // A cart that ended checked out or expired keeps its id; one that was terminated
            // (as a cart nobody served is, see `abandon`) may be started again.
            reuse: ReusePolicy::AllowDuplicateFailedOnly,
        };
        match self
            .change(id, Some(start), CartWorkflow::add_item.name(), &item)
            .await
        {
            // The id belongs to a finished cart: say why it cannot change.
            Err(ClientError::AlreadyExists(_)) => Err(self.closed(id).await),
            other => other,
        }
    }

    pub async fn remove(&self, id: &CartId, item: RemoveItem) -> Result<CartView, ClientError> {
        self.change(id, None, CartWorkflow::remove_item.name(), &item)
            .await
    }

    pub async fn set_email(&self, id: &CartId, email: SetEmail) -> Result<CartView, ClientError> {
        self.change(id, None, CartWorkflow::set_email.name(), &email)
            .await
    }

    /// Checks out. The answer is the cart paid, an error (a refusal: nothing was charged), or
    /// the cart still paying (`checking_out` or `payment_pending`); such a cart settles by
    /// itself. A cart already paying or paid answers as it stands (the workflow joins the
    /// checkout under way, see `CartWorkflow::checkout`), and so does one whose answer did not
    /// come within the wait or that finished paid meanwhile: never a refusal, which would tell
    /// the person that nothing was charged.
    pub async fn checkout(&self, id: &CartId, request: Checkout) -> Result<CartView, ClientError> {
        match self
            .change(id, None, CartWorkflow::checkout.name(), &request)
            .await
        {
            Err(e @ (ClientError::Timeout { .. } | ClientError::Closed(_))) => {
                match self.get(id).await {
                    Ok(view) if view.status.is_paying() || view.status == Status::CheckedOut => {
                        Ok(view)
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// Sends a change, with `start` for a cart that may not exist yet, and waits for its
    /// outcome: one request when a worker answers.
    ///
    /// The change may be applied only until a deadline (see [`crate::workflow::admission`]).
    /// When no answer has come by then, the client looks for workers: with none, it says so,
    /// and the change can no longer be applied by one that starts later. A change that
    /// reached a worker after its deadline (this machine's clock behind the server's, or a
    /// worker busy for seconds) is sent again without one: a worker has just answered.
    async fn change<T: TemporalSerializable + 'static>(
        &self,
        id: &CartId,
        start: Option<Start<'_, CartInput>>,
        name: &str,
        arg: &T,
    ) -> Result<CartView, ClientError> {
        let began = tokio::time::Instant::now();
        let sent_at = jiff::Timestamp::now();
        let take_within = TAKE_WITHIN.min(self.wait);
        let mut admission = Admission {
            not_after: sent_at.checked_add(take_within).ok(),
            reads: Some(self.keys.clone()),
        };
        let first = self.send(id, start, name, arg, &admission);
        let outcome = self
            .waited(
                first,
                began,
                take_within + CLOCK_MARGIN,
                id,
                start.is_some(),
                sent_at,
            )
            .await?;
        let outcome = match outcome {
            Err(Sent::Failed(failure)) if Refusal::is_late(&failure.message) => {
                tracing::debug!("the change reached the cart after its deadline; sending it again");
                admission.not_after = None;
                self.within_wait(began, self.send(id, start, name, arg, &admission))
                    .await?
            }
            other => other,
        };
        self.outcome(id, outcome, start.is_some(), sent_at).await
    }

    async fn send<T: TemporalSerializable + 'static>(
        &self,
        id: &CartId,
        start: Option<Start<'_, CartInput>>,
        name: &str,
        arg: &T,
        admission: &Admission,
    ) -> Result<CartView, Sent> {
        let change = Change {
            name,
            arg,
            header: admission.header(),
        };
        match start {
            Some(start) => send::update_with_start(&self.client, id, start, change).await,
            None => send::update(&self.client, id, change).await,
        }
    }

    /// Waits for a change's outcome. If none has come after `decide_after`, looks whether any
    /// worker is there: with none, the change can no longer be applied, and the answer is that
    /// no worker serves the cart. Otherwise waits out the rest of the wait. Either way, a cart
    /// this change created that no worker took is ended (see `abandon`), and then the answer is
    /// that no worker serves it.
    async fn waited(
        &self,
        call: impl Future<Output = Result<CartView, Sent>>,
        began: tokio::time::Instant,
        decide_after: Duration,
        id: &CartId,
        creates: bool,
        sent_at: jiff::Timestamp,
    ) -> Result<Result<CartView, Sent>, ClientError> {
        tokio::pin!(call);
        tokio::select! {
            out = &mut call => return Ok(out),
            _ = tokio::time::sleep_until(began + decide_after) => {}
        }
        let answer = match self.workers_problem().await {
            Some(none @ ClientError::NoWorker(_)) => Err(none),
            _ => self.within_wait(began, call).await,
        };
        match answer {
            Err(ClientError::NoWorker(queue) | ClientError::Timeout { queue, .. })
                if creates && self.abandon(id, sent_at).await =>
            {
                Err(ClientError::NoWorker(queue))
            }
            other => other,
        }
    }

    /// What a change's outcome means to the person who sent it.
    async fn outcome(
        &self,
        id: &CartId,
        outcome: Result<CartView, Sent>,
        creates: bool,
        sent_at: jiff::Timestamp,
    ) -> Result<CartView, ClientError> {
        let sent = match outcome {
            Ok(view) => return Ok(view),
            Err(sent) => sent,
        };
        // A worker that cannot decrypt the change fails its workflow task, and the server
        // drops the change with an error: the workers' keys tell.
        if !matches!(sent, Sent::Failed(_) | Sent::Undecodable(_))
            && let Some(keys @ ClientError::Keys(_)) = self.workers_problem().await
        {
            if creates {
                self.abandon(id, sent_at).await;
            }
            return Err(keys);
        }
        match sent {
            Sent::Failed(failure) if Refusal::is_unreadable(&failure.message) => {
                Err(keys_error(if self.keys.is_empty() {
                    NO_KEY_HERE
                } else {
                    NOT_THEIR_KEY_HERE
                }))
            }
            Sent::Failed(failure) => Err(self.refused(id, failure.message).await),
            Sent::Undecodable(e) => Err(undecodable(&e)),
            Sent::NotFound => Err(self.closed(id).await),
            Sent::AlreadyStarted => Err(ClientError::AlreadyExists(id.clone())),
            Sent::Other(message) => Err(ClientError::Temporal(message)),
        }
    }

    /// A refusal, told apart by the cart's status rather than by the wording of the message:
    /// a cart that is no longer open is closed to changes.
    async fn refused(&self, id: &CartId, message: String) -> ClientError {
        match self.get(id).await {
            Ok(view) if view.status != crate::domain::Status::Open => ClientError::Closed(message),
            _ => ClientError::Rejected(message),
        }
    }

    /// Ends the cart `id` if a change of this client started it (at `sent_at` or later) and no
    /// worker ever took it, so that a change that failed, timed out or was interrupted leaves
    /// no cart behind that nobody serves. A cart that a worker has served, or that someone
    /// started before, is left alone. Whether it ended the cart.
    pub async fn abandon(&self, id: &CartId, sent_at: jiff::Timestamp) -> bool {
        let events = match self.stored_history(id).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!("could not check whether cart {id} was left behind: {e}");
                return false;
            }
        };
        let served = events
            .iter()
            .any(|e| e.event_type == EventType::WorkflowTaskCompleted as i32);
        let since = sent_at.checked_sub(CLOCK_MARGIN).unwrap_or(sent_at);
        let ours = events
            .first()
            .and_then(|e| e.event_time)
            .and_then(|t| std::time::SystemTime::try_from(t).ok())
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .is_some_and(|t| t >= since);
        if served || !ours {
            return false;
        }
        let options = temporalio_client::WorkflowTerminateOptions::builder()
            .reason("no worker took the change that started this cart".to_owned())
            .build();
        match self.handle(id).terminate(options).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(
                    "cart {id} was started and no worker serves it; it could not be ended: {e}"
                );
                false
            }
        }
    }

    /// The catalog the workers charge, as a worker of this task queue answers it. The shop
    /// workflow that answers is started on first use (and again if someone ended it).
    pub async fn catalog(&self) -> Result<Catalog, ClientError> {
        let id = shop_id(&self.task_queue);
        let handle = self.client.get_workflow_handle::<ShopWorkflow>(&id);
        let query = handle.query(ShopWorkflow::catalog, (), WorkflowQueryOptions::default());
        let no_catalog = || ClientError::Temporal("the worker that answered has no catalog".into());
        match self.answered(query).await? {
            Ok(catalog) => return catalog.ok_or_else(no_catalog),
            Err(WorkflowQueryError::NotFound(_)) => {}
            Err(other) => return Err(ClientError::Temporal(other.to_string())),
        }
        self.ensure_worker().await?;
        let options = WorkflowStartOptions::new(self.task_queue.clone(), id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .build();
        self.client
            .start_workflow(ShopWorkflow::run, (), options)
            .await
            .map_err(|e| ClientError::Temporal(e.to_string()))?;
        let handle = self.client.get_workflow_handle::<ShopWorkflow>(&id);
        let query = handle.query(ShopWorkflow::catalog, (), WorkflowQueryOptions::default());
        self.answered(query)
            .await?
            .map_err(|e| ClientError::Temporal(e.to_string()))?
            .ok_or_else(no_catalog)
    }

    /// Ends the task queue's shop workflow, for a task queue that is going away (the demo's).
    /// A shop that is not running is fine.
    pub async fn close_shop(&self, reason: &str) -> Result<(), ClientError> {
        let handle = self
            .client
            .get_workflow_handle::<ShopWorkflow>(&shop_id(&self.task_queue));
        let options = temporalio_client::WorkflowTerminateOptions::builder()
            .reason(reason.to_owned())
            .build();
        match handle.terminate(options).await {
            Ok(()) => Ok(()),
            Err(temporalio_client::errors::WorkflowInteractionError::NotFound(_)) => Ok(()),
            Err(e) => Err(ClientError::Temporal(e.to_string())),
        }
    }

    /// Open carts on this task queue, newest first.
    pub async fn list_open(&self) -> Result<Vec<CartSummary>, ClientError> {
        self.list(&CartFilter::default()).await
    }

    /// Carts on this task queue, newest first: the open ones, or those `filter` asks for
    /// (by their search attributes, see [`crate::workflow::search`]).
    pub async fn list(&self, filter: &CartFilter) -> Result<Vec<CartSummary>, ClientError> {
        let query = filter.query(&self.task_queue);
        let mut stream = self
            .client
            .list_workflows(query, WorkflowListOptions::default());
        let mut carts = Vec::new();
        while let Some(item) = stream.next().await {
            let execution = item.map_err(|e| match e {
                temporalio_client::errors::ClientError::Rpc(status)
                    if status.code() == tonic::Code::InvalidArgument
                        && filter.uses_search_attributes() =>
                {
                    ClientError::Rejected(format!(
                        "the listing cannot filter on that: {} (is the query right, and does the namespace have the carts' search attributes? see docs/operations.md, \"Finding carts\")",
                        status.message()
                    ))
                }
                other => ClientError::Temporal(other.to_string()),
            })?;
            // The search attribute, else the memo (carts from before search attributes, or in
            // a namespace without them), else open.
            let status = match execution
                .search_attributes()
                .get(&crate::workflow::search::STATUS)
                .and_then(|s| Status::parse(&s))
            {
                Some(status) => status,
                None => execution
                    .memo()
                    .get::<Status>(crate::workflow::STATUS_KEY)
                    .map_err(|e| undecodable(&e.to_string()))?
                    .unwrap_or(Status::Open),
            };
            carts.push(CartSummary {
                id: CartId::of_workflow(execution.id()),
                status,
                started_at: execution
                    .start_time()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok()),
            });
        }
        // The dev server's SQLite visibility store rejects ORDER BY, so sort here.
        carts.sort_by_key(|c| std::cmp::Reverse(c.started_at));
        Ok(carts)
    }

    /// The carts' search attributes the namespace lacks, with their types (none missing: the
    /// carts can keep them; see [`crate::workflow::search`]).
    pub async fn missing_search_attributes(
        &self,
    ) -> Result<Vec<(&'static str, &'static str)>, ClientError> {
        let request = temporalio_common::protos::temporal::api::operatorservice::v1::ListSearchAttributesRequest {
            namespace: self.client.options().namespace.clone(),
        };
        let mut service = self.client.connection().operator_service();
        let registered = service
            .list_search_attributes(tonic::Request::new(request))
            .await
            .map_err(|e| ClientError::Temporal(e.message().to_owned()))?
            .into_inner()
            .custom_attributes;
        Ok(crate::workflow::search::ALL
            .into_iter()
            .filter(|(name, _)| !registered.contains_key(*name))
            .collect())
    }

    /// Explains why a cart that exists no longer accepts changes.
    async fn closed(&self, id: &CartId) -> ClientError {
        match self.get(id).await {
            Ok(view) => ClientError::Closed(
                crate::domain::CartError::Closed {
                    cart: id.clone(),
                    status: view.status,
                }
                .to_string(),
            ),
            Err(e) => e,
        }
    }

    /// Waits a few seconds for a worker that can serve this client to poll the task queue:
    /// for a query that has gone unanswered, and before starting the shop workflow. A worker
    /// that is just starting (with new keys, say) gets that long to show up.
    async fn ensure_worker(&self) -> Result<(), ClientError> {
        let give_up = tokio::time::Instant::now() + WORKER_GRACE.min(self.wait);
        loop {
            let Some(problem) = self.workers_problem().await else {
                return Ok(());
            };
            if tokio::time::Instant::now() >= give_up {
                return Err(problem);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// What stands between this client and the workers right now: none polls the task queue
    /// (`NoWorker`), or their keys do not match ours (`Keys`). `None` when a worker can serve
    /// us, and when the server could not be asked (the call itself then finds out).
    async fn workers_problem(&self) -> Option<ClientError> {
        let pollers = self.recent_pollers().await.ok()?;
        if pollers.is_empty() {
            return Some(ClientError::NoWorker(self.task_queue.clone()));
        }
        self.keys_match(&pollers).err()
    }

    /// Whether a worker (by its identity, which advertises its keys) can read what this client
    /// sends and this client what it answers: each must hold the other's encrypting key. One
    /// such worker is enough: a worker without the key
    /// fails the task and Temporal hands it to another (the task queue may still list a
    /// worker that stopped a minute ago, during a key rotation say).
    fn keys_match(&self, pollers: &[String]) -> Result<(), ClientError> {
        let mut problem = None;
        for worker in pollers.iter().filter_map(|p| crate::codec::advertised(p)) {
            problem = match (self.keys.first(), worker.first()) {
                (None, None) => return Ok(()),
                (None, Some(_)) => Some(NO_KEY_HERE),
                (Some(_), None) => {
                    Some("this client encrypts with a key and the workers have none")
                }
                (Some(ours), _) if !worker.contains(ours) => {
                    Some("the workers do not have the key this client encrypts with")
                }
                (_, Some(theirs)) if !self.keys.contains(theirs) => Some(NOT_THEIR_KEY_HERE),
                _ => return Ok(()),
            };
        }
        problem.map_or(Ok(()), |problem| Err(keys_error(problem)))
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

    /// Whether a worker polled the task queue recently. On error we assume there is one and
    /// let the overall wait decide.
    pub async fn has_worker(&self) -> bool {
        self.worker_polling().await.unwrap_or(true)
    }

    /// Asks the server whether a worker polled the task queue recently; an error means the
    /// server could not be asked (the health check reports it).
    pub async fn worker_polling(&self) -> Result<bool, ClientError> {
        Ok(!self.recent_pollers().await?.is_empty())
    }

    /// The identities of the workers that polled the task queue recently.
    async fn recent_pollers(&self) -> Result<Vec<String>, ClientError> {
        let request = DescribeTaskQueueRequest {
            namespace: self.client.options().namespace.clone(),
            task_queue: Some(TaskQueue {
                name: self.task_queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            task_queue_type: TaskQueueType::Workflow as i32,
            ..Default::default()
        };
        let mut service = self.client.connection().workflow_service();
        let response = service
            .describe_task_queue(tonic::Request::new(request))
            .await
            .map_err(|e| ClientError::Temporal(e.message().to_owned()))?;
        // The server lists pollers for a while after they stop; count only pollers seen
        // within the last long-poll interval.
        let recent = std::time::SystemTime::now() - Duration::from_secs(90);
        Ok(response
            .into_inner()
            .pollers
            .into_iter()
            .filter(|p| {
                p.last_access_time
                    .as_ref()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .is_some_and(|t| t > recent)
            })
            .map(|p| p.identity)
            .collect())
    }
}
