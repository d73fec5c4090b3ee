//! The changes a client sends a cart, and the life of one change: sent (with the start of a
//! cart that may not exist yet), waited for, decided when no worker answers, sent again when it
//! reached the cart after its deadline, and the cart it started ended when nobody took it.

use super::in_flight::Room;
use super::refusal::{Rejection, undecodable};
use super::send::{self, Sent, Start};
use super::workers::{NO_KEY_HERE, NOT_THEIR_KEY_HERE, keys_error};
use super::{CLOCK_MARGIN, CartClient, ClientError, TAKE_WITHIN};
use crate::domain::{CartId, Status};
use crate::workflow::admission::Admission;
use crate::workflow::{
    AddItem, CancelOrder, CartInput, CartView, CartWorkflow, Checkout, RefundOrder, RemoveItem,
    SetEmail, ShipOrder, WORKFLOW_TYPE,
};
use std::future::Future;
use std::time::Duration;
use temporalio_common::UpdateDefinition;
use temporalio_common::data_converters::TemporalSerializable;
use temporalio_common::protos::temporal::api::enums::v1::{
    EventType, WorkflowIdConflictPolicy as ConflictPolicy, WorkflowIdReusePolicy as ReusePolicy,
};

impl CartClient {
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
        Delivery::new(self, id, Some(start), CartWorkflow::open.name(), &())
            .run()
            .await
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
        match Delivery::new(self, id, Some(start), CartWorkflow::add_item.name(), &item)
            .run()
            .await
        {
            // The id belongs to a finished cart: say why it cannot change.
            Err(ClientError::AlreadyExists(_)) => Err(self.closed(id).await),
            other => other,
        }
    }

    pub async fn remove(&self, id: &CartId, item: RemoveItem) -> Result<CartView, ClientError> {
        Delivery::new(self, id, None, CartWorkflow::remove_item.name(), &item)
            .run()
            .await
    }

    pub async fn set_email(&self, id: &CartId, email: SetEmail) -> Result<CartView, ClientError> {
        Delivery::new(self, id, None, CartWorkflow::set_email.name(), &email)
            .run()
            .await
    }

    /// Checks out. The answer is the cart paid, an error (a refusal: nothing was charged), or
    /// the cart still paying (`checking_out` or `payment_pending`); such a cart settles by
    /// itself. A cart already paying or paid answers as it stands (the workflow joins the
    /// checkout under way, see `CartWorkflow::checkout`), and so does one whose answer did not
    /// come within the wait or that finished paid meanwhile: never a refusal, which would tell
    /// the person that nothing was charged.
    pub async fn checkout(&self, id: &CartId, request: Checkout) -> Result<CartView, ClientError> {
        match Delivery::new(self, id, None, CartWorkflow::checkout.name(), &request)
            .run()
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

    /// Refunds the order the cart became (see `CartWorkflow::refund`). The answer is the order
    /// with the refund made, or with it `pending` (it settles by itself), or why it failed.
    pub async fn refund(&self, id: &CartId, request: RefundOrder) -> Result<CartView, ClientError> {
        let name = CartWorkflow::refund.name();
        let delivery = Delivery::new(self, id, None, name, &request);
        self.order_change(id, Some(&request.id), delivery).await
    }

    /// Cancels the order the cart became, refunding what is left (see `CartWorkflow::cancel`).
    pub async fn cancel(&self, id: &CartId, request: CancelOrder) -> Result<CartView, ClientError> {
        let name = CartWorkflow::cancel.name();
        let delivery = Delivery::new(self, id, None, name, &request);
        self.order_change(id, Some(&request.id), delivery).await
    }

    /// Marks the order the cart became shipped.
    pub async fn ship(&self, id: &CartId, request: ShipOrder) -> Result<CartView, ClientError> {
        let name = CartWorkflow::ship.name();
        let delivery = Delivery::new(self, id, None, name, &request);
        self.order_change(id, None, delivery).await
    }

    /// A change to an order: a refusal is the order's, whatever the cart's status (which is
    /// `checked_out` for every order); an order whose run has ended says its window closed. A
    /// refund (`refund` its id) whose answer did not come within the wait answers the order
    /// as it stands once the order holds it (pending, say), like a checkout: the person is
    /// then never told to try again, which under a new id would be a second refund.
    async fn order_change<T: TemporalSerializable + 'static>(
        &self,
        id: &CartId,
        refund: Option<&str>,
        delivery: Delivery<'_, T>,
    ) -> Result<CartView, ClientError> {
        match delivery.run().await {
            Err(e @ ClientError::Timeout { .. }) => match (refund, self.get(id).await) {
                (Some(refund), Ok(view))
                    if (view.order.iter()).any(|o| o.refunds.iter().any(|r| r.id == refund)) =>
                {
                    Ok(view)
                }
                _ => Err(e),
            },
            Err(ClientError::Closed(message)) => Err(ClientError::Rejected(
                match self.get(id).await.ok().and_then(|v| v.order) {
                    Some(order) if order.refundable_until <= jiff::Timestamp::now() => format!(
                        "the order of cart {id} is closed: its refund window ended at {}",
                        order.refundable_until.strftime("%Y-%m-%d %H:%M UTC")
                    ),
                    _ => message,
                },
            )),
            other => other,
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
                let e = crate::report::line(&e);
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
}

/// The least time a worker is given to take a change: room for it any later in the wait and it
/// is not sent.
const LEAST_TIME_TO_TAKE: Duration = Duration::from_millis(100);

/// One change on its way to a cart, from its first send to what its outcome means.
struct Delivery<'a, T> {
    carts: &'a CartClient,
    id: &'a CartId,
    /// The start of the cart, for a change that may create it.
    start: Option<Start<'a, CartInput>>,
    /// The update's name, and its argument.
    name: &'a str,
    arg: &'a T,
    began: tokio::time::Instant,
    /// When the change was sent, after waiting for room (see [`Delivery::room`]).
    sent: tokio::time::Instant,
    sent_at: jiff::Timestamp,
    /// How long a worker has to take the change (see [`crate::workflow::admission`]).
    take_within: Duration,
    admission: Admission,
}

impl<'a, T: TemporalSerializable + 'static> Delivery<'a, T> {
    fn new(
        carts: &'a CartClient,
        id: &'a CartId,
        start: Option<Start<'a, CartInput>>,
        name: &'a str,
        arg: &'a T,
    ) -> Self {
        let began = tokio::time::Instant::now();
        let mut delivery = Self {
            carts,
            id,
            start,
            name,
            arg,
            began,
            sent: began,
            sent_at: jiff::Timestamp::now(),
            take_within: Duration::ZERO,
            admission: Admission {
                not_after: None,
                reads: Some(carts.keys.clone()),
            },
        };
        delivery.sending(carts.wait);
        delivery
    }

    /// The change goes now, with `left` of the wait: its deadline for a worker to take it counts
    /// from here and ends within the wait.
    fn sending(&mut self, left: Duration) {
        self.sent = tokio::time::Instant::now();
        self.sent_at = jiff::Timestamp::now();
        self.take_within = TAKE_WITHIN.min(left);
        self.admission.not_after = self.sent_at.checked_add(self.take_within).ok();
    }

    /// Whether this change may create the cart.
    fn creates(&self) -> bool {
        self.start.is_some()
    }

    /// Sends the change and waits for its outcome: one request when a worker answers.
    ///
    /// The change may be applied only until a deadline (see [`crate::workflow::admission`]).
    /// When no answer has come by then, the client looks for workers: with none, it says so,
    /// and the change can no longer be applied by one that starts later. A change that
    /// reached a worker after its deadline (this machine's clock behind the server's, or a
    /// worker busy for seconds) is sent again without one: a worker has just answered.
    async fn run(mut self) -> Result<CartView, ClientError> {
        let outcome = {
            let _room = self.room().await?;
            self.answer().await?
        };
        self.outcome(outcome).await
    }

    /// Waits for room among this process's changes to the cart (see `in_flight`), within the
    /// wait. With none by its end (or too near it) nothing is sent, and the answer is what is
    /// wrong with the workers (none, or other keys), if anything, or else that the cart was
    /// busy.
    async fn room(&mut self) -> Result<Room<'a>, ClientError> {
        let carts = self.carts;
        let room = carts.in_flight.enter(self.id);
        let left = match tokio::time::timeout_at(self.began + carts.wait, room).await {
            Ok(room) => Some((carts.wait.saturating_sub(self.began.elapsed()), room)),
            Err(_) => None,
        };
        // Room at the very end of the wait would leave a worker no time to take the change.
        let Some((left, room)) = left.filter(|(left, _)| *left >= LEAST_TIME_TO_TAKE) else {
            if let Some(problem) = carts.workers_problem().await {
                return Err(problem);
            }
            let (id, waited) = (self.id.clone(), carts.wait);
            return Err(ClientError::Busy { id, waited });
        };
        self.sending(left);
        Ok(room)
    }

    /// The answer to the change, sent once, or twice when it reached the cart late.
    async fn answer(&mut self) -> Result<Result<CartView, Sent>, ClientError> {
        let outcome = self.wait(self.send()).await?;
        Ok(match outcome {
            Err(Sent::Failed(failure)) if Rejection::of(&failure.message) == Rejection::Late => {
                tracing::debug!("the change reached the cart after its deadline; sending it again");
                self.admission.not_after = None;
                // The first send may have started the cart: the resend joins it.
                if let Some(start) = &mut self.start {
                    start.conflict = ConflictPolicy::UseExisting;
                }
                self.carts.within_wait(self.began, self.send()).await?
            }
            other => other,
        })
    }

    async fn send(&self) -> Result<CartView, Sent> {
        let change = send::Change {
            name: self.name,
            arg: self.arg,
            header: self.admission.header(),
        };
        let client = &self.carts.client;
        match self.start {
            Some(start) => send::update_with_start(client, self.id, start, change).await,
            None => send::update(client, self.id, change).await,
        }
    }

    /// Waits for the outcome. If none has come by the deadline (and the clocks' margin), looks
    /// whether any worker is there: with none, the change can no longer be applied, and the
    /// answer is that no worker serves the cart. Otherwise waits out the rest of the wait.
    /// Either way, a cart this change created that no worker took is ended (see
    /// [`CartClient::abandon`]), and then the answer is that no worker serves it.
    async fn wait(
        &self,
        call: impl Future<Output = Result<CartView, Sent>>,
    ) -> Result<Result<CartView, Sent>, ClientError> {
        let carts = self.carts;
        tokio::pin!(call);
        tokio::select! {
            out = &mut call => return Ok(out),
            _ = tokio::time::sleep_until(self.sent + self.take_within + CLOCK_MARGIN) => {}
        }
        let answer = match carts.workers_problem().await {
            Some(none @ ClientError::NoWorker(_)) => Err(none),
            _ => carts.within_wait(self.began, call).await,
        };
        match answer {
            Err(ClientError::NoWorker(queue) | ClientError::Timeout { queue, .. })
                if self.creates() && carts.abandon(self.id, self.sent_at).await =>
            {
                Err(ClientError::NoWorker(queue))
            }
            other => other,
        }
    }

    /// What the outcome means to the person who sent the change.
    async fn outcome(&self, outcome: Result<CartView, Sent>) -> Result<CartView, ClientError> {
        let (carts, id) = (self.carts, self.id);
        let sent = match outcome {
            Ok(view) => return Ok(view),
            Err(sent) => sent,
        };
        // A worker that cannot decrypt the change fails its workflow task, and the server
        // drops the change with an error: the workers' keys tell.
        if !matches!(sent, Sent::Failed(_) | Sent::Undecodable(_))
            && let Some(keys @ ClientError::Keys(_)) = carts.workers_problem().await
        {
            if self.creates() {
                carts.abandon(id, self.sent_at).await;
            }
            return Err(keys);
        }
        match sent {
            Sent::Failed(failure) => match Rejection::of(&failure.message) {
                Rejection::Unreadable => Err(keys_error(if carts.keys.is_empty() {
                    NO_KEY_HERE
                } else {
                    NOT_THEIR_KEY_HERE
                })),
                Rejection::Late | Rejection::Refused => {
                    Err(carts.refused(id, failure.message).await)
                }
            },
            Sent::Undecodable(e) => Err(undecodable(&e)),
            Sent::NotFound => Err(carts.closed(id).await),
            Sent::AlreadyStarted => Err(ClientError::AlreadyExists(id.clone())),
            Sent::Other(said) => Err(ClientError::Temporal(said)),
        }
    }
}
