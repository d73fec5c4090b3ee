//! The `CartWorkflow`: one long-running workflow per cart.
//!
//! Handlers are thin: each update validates by running the cart rule on a copy of the state
//! and then applies the same rule for real. A product new to the cart is priced from the
//! worker's catalog by an activity (see [`shop`]). The run loop charges a checkout, and keeps
//! settling a charge whose outcome is not known until it is; it owns a single idle timer that
//! is cancelled and re-armed whenever the cart changes, sends the abandoned-cart reminder,
//! expires idle carts, continues-as-new when the server suggests it and finishes after a
//! successful checkout. The tutorial's signals and `getCart` query are served alongside, in
//! [`tutorial`]. Changes to the commands a cart issues go behind patches, and the recorded
//! histories in `tests/fixtures` keep replaying.

pub mod admission;
mod changes;
pub mod hosted;
pub mod messages;
pub mod metrics;
pub mod search;
mod shop;
mod state;
mod tutorial;

pub use changes::{Change, Changes, Sender};
pub use messages::*;
pub use shop::{ShopWorkflow, WorkerCatalog, catalog_interceptor, shop_id};
use state::joins_checkout;
pub use state::{Applied, CartState, IdleAction};

use crate::activities::CartActivities;
use crate::domain::{
    Cart, CartError, CartId, Catalog, Heard, Observation, PaymentTiming, Product, ProductId,
    Status, Step,
};
use crate::redact::redact;
use changes::Pending;
use futures::FutureExt;
use hosted::HostedKey;
use jiff::Timestamp;
use metrics::CartEvent;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use temporalio_common::MemoValue;
use temporalio_common::RetryPolicy;
use temporalio_common::data_converters::RawValue;
use temporalio_common::error::TimeoutType;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCloseTimeouts, ActivityExecutionError, ActivityOptions, CancellableFuture,
    ContinueAsNewOptions, SyncWorkflowContext, TimerResult, WorkflowContext, WorkflowContextView,
    WorkflowResult,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ValidatorResult = Result<(), BoxError>;

/// Why an update was refused or failed. Its message is what the person sees.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Cart(#[from] CartError),
    #[error("{0}")]
    Payment(String),
    #[error("the price of product {product} could not be looked up: {reason}")]
    Unpriced { product: i64, reason: String },
    #[error("the change was interrupted: {0}")]
    Interrupted(String),
}

#[workflow]
pub struct CartWorkflow {
    state: CartState,
    /// Where this run's prices come from, once a change has asked (see [`WORKER_PRICES`]).
    pricing: Pricing,
    /// The outcomes of applied updates, by their place in the queue, until their handlers
    /// take them.
    answers: BTreeMap<u64, Result<(Applied, CartView), UpdateError>>,
    /// Whether the applier is applying a change (it may be waiting for a price).
    applying: bool,
    /// Whether the run is about to continue-as-new: the applier then applies only what an
    /// update waits for (see [`Changes::next`]).
    draining: bool,
    /// The latest checkout refused in this run, by its attempt, and why: its handler's answer.
    refused: Option<(u32, String)>,
    /// The status last seen by the run loop: its changes are counted (see [`metrics`]) and kept
    /// in the memo.
    seen: Status,
    /// Whether this run starts a new cart (rather than taking one over by continue-as-new).
    new_cart: bool,
    /// Whether this run keeps the cart's search attributes (decided when it starts).
    search_attributes: bool,
    /// The status and revision the search attributes were last set for.
    indexed: Option<(Status, u64)>,
    /// Whether this run follows the reminder rules of [`REMINDER_RULES`] (decided when it
    /// starts).
    reminder_rules: bool,
    /// Warnings about the start input, logged when the run begins (`init` cannot tell a
    /// replay from a first run).
    start_notes: Vec<String>,
}

/// The patch after which a cart keeps search attributes, where its namespace has them (see
/// `decide_search_attributes`).
const SEARCH_ATTRIBUTES: &str = "search-attributes";

/// The patch after which a pending reminder gives way to any change of the cart (its send is
/// cancelled), retries until the cart would expire, and counts against the cart's cap of
/// reminders per day. Before it, a reminder was retried ten times, whatever the cart did
/// meanwhile, and there was no cap.
const REMINDER_RULES: &str = "reminder-rules";

/// The patch after which a cart keeps its status in its memo (see `status_changed`).
const STATUS_MEMO: &str = "status-memo";
/// The memo key of the cart's status; clients read it from listings.
pub const STATUS_KEY: &str = "status";

/// The patch after which the worker's catalog prices a cart, through an activity. Before
/// it, a cart charged the catalog its client had sent; those histories replay with that one.
const WORKER_PRICES: &str = "worker-prices";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pricing {
    /// No change has asked yet: a live run takes the worker's prices.
    Undecided,
    /// A run that began before worker prices keeps its own catalog for its whole run.
    CartCatalog,
    Worker,
}

/// A price lookup: a few quick tries, then the change fails with the reason.
///
/// It is an activity, not a local one, though a local activity would save a round trip: with
/// the SDK this is built on (temporalio-sdk-core 0.10), local activities running while more
/// updates arrive for the same cart can stop the worker ("Trying to send a new WFT for a run
/// which already has one", seen with 60 concurrent adds). The worker that completes the
/// workflow task usually runs the activity at once (eager execution), and only a product new
/// to the cart needs one.
fn price_options() -> ActivityOptions {
    let attempt = Duration::from_secs(5);
    let mut opts = ActivityOptions::start_to_close_timeout(attempt);
    // Changes behind the add wait for it: with no worker to take the lookup, it fails after a
    // minute rather than hold the cart.
    opts.close_timeouts = ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: PRICE_TRIED_FOR,
        start_to_close: attempt,
    };
    opts.retry_policy = Some(retry(3, Duration::from_secs(2)));
    opts
}

/// How long a price lookup may take, waiting for a worker included.
const PRICE_TRIED_FOR: Duration = Duration::from_secs(60);

/// The workflow's clock as a timestamp. Workflow time is always set while the workflow runs;
/// the epoch fallback only keeps this total.
fn clock(time: Option<std::time::SystemTime>) -> Timestamp {
    time.and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A question about a payment: one attempt (what to ask next is the payment record's
/// decision, never a retry's), which may wait a minute for a worker to take it and then lasts
/// a little longer than the provider's requests may (at most 30 s), so that a request has ended
/// before the workflow hears the attempt is over. A send taken later than the minute sends
/// nothing (the server times it out before it starts), so the key's age stays bounded by when
/// the send was scheduled.
fn payment_options(timing: &PaymentTiming) -> ActivityOptions {
    let request = timing.request_timeout.unsigned_abs();
    let attempt = (request + Duration::from_secs(5)).min(Duration::from_secs(30));
    let take_within = Duration::from_secs(60);
    let mut opts = ActivityOptions::start_to_close_timeout(attempt);
    opts.close_timeouts = ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: take_within + attempt,
        start_to_close: attempt,
    };
    opts.schedule_to_start_timeout = Some(take_within);
    opts.retry_policy = Some(retry(1, Duration::from_secs(1)));
    opts
}

/// What a payment activity that did not answer says: nothing was sent if no worker took it in
/// time; otherwise it may have sent anything.
fn unanswered(err: &ActivityExecutionError) -> Observation {
    let not_started = err
        .as_timeout()
        .is_some_and(|t| t.timeout_type() == TimeoutType::ScheduleToStart);
    if not_started {
        Observation::Withheld {
            key_expired: false,
            reason: "no worker took the payment request in time".into(),
        }
    } else {
        Observation::Unknown {
            reason: failure_message(err),
        }
    }
}

/// The patch that added the order confirmation e-mail after checkout.
const ORDER_CONFIRMATION: &str = "order-confirmation";

/// A reminder of a run from before [`REMINDER_RULES`]: ten attempts, at most a minute apart.
fn mail_options() -> ActivityOptions {
    let mut opts = ActivityOptions::start_to_close_timeout(Duration::from_secs(30));
    opts.retry_policy = Some(retry(10, Duration::from_secs(60)));
    opts
}

/// E-mail is tried until `deadline` has passed: a second after the first attempt, then twice
/// as long after each, and at least every [`MAIL_RETRY_MAX`]. An attempt may take 30 s.
fn mail_options_until(deadline: Duration) -> ActivityOptions {
    let mut opts = ActivityOptions::start_to_close_timeout(Duration::from_secs(30));
    opts.close_timeouts = ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: deadline.max(Duration::from_secs(1)),
        start_to_close: Duration::from_secs(30),
    };
    opts.retry_policy = Some(retry(0, MAIL_RETRY_MAX));
    opts
}

/// A reminder is tried until the cart would expire, and heartbeats, so that a change cancels
/// even an attempt under way.
fn reminder_options(until_expiry: Duration) -> ActivityOptions {
    let mut opts = mail_options_until(until_expiry);
    opts.heartbeat_timeout = Some(REMINDER_HEARTBEAT);
    opts
}

/// How long an order confirmation is tried for.
pub const CONFIRMATION_TRIED_FOR: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// The longest wait between two attempts at an e-mail: once a provider is back, a pending
/// reminder or confirmation goes out within this.
pub const MAIL_RETRY_MAX: Duration = Duration::from_secs(10 * 60);

/// How often a reminder attempt under way must show it is alive (and learns of a cancel).
const REMINDER_HEARTBEAT: Duration = Duration::from_secs(5);

fn retry(attempts: u32, max_interval: Duration) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(max_interval)
        .maximum_attempts(attempts)
        .build()
}

/// The message of the innermost failure: "card declined: insufficient funds", not "activity
/// task failed".
fn failure_message(err: &ActivityExecutionError) -> String {
    err.cause()
        .map(|cause| cause.failure().message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| err.to_string())
}

/// The one idle timer, kept across turns of the run loop and cancelled before it is replaced.
#[derive(Default)]
struct IdleTimer<'a> {
    armed: Option<ArmedTimer<'a>>,
}

struct ArmedTimer<'a> {
    at: Timestamp,
    action: IdleAction,
    timer: Pin<Box<dyn CancellableFuture<Output = TimerResult> + 'a>>,
}

impl<'a> IdleTimer<'a> {
    fn disarm(&mut self) {
        if let Some(a) = self.armed.take() {
            a.timer.cancel();
        }
    }

    /// Arms the timer for the cart's next idle action, unless it is armed for it already.
    /// Answers the action instead when it is due now.
    fn rearm(
        &mut self,
        next: Option<(Timestamp, IdleAction)>,
        now: impl FnOnce() -> Timestamp,
        timers: &'a WorkflowContext<CartWorkflow>,
    ) -> Option<IdleAction> {
        if self.armed.as_ref().map(|a| (a.at, a.action)) == next {
            return None;
        }
        self.disarm();
        let (at, action) = next?;
        let now = now();
        if at <= now {
            return Some(action);
        }
        let wait = now.duration_until(at).unsigned_abs();
        self.armed = Some(ArmedTimer {
            at,
            action,
            timer: Box::pin(timers.timer(wait)),
        });
        None
    }
}

#[workflow_methods]
impl CartWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: CartInput) -> Self {
        let fresh = |state: CartState| Self {
            pricing: Pricing::Undecided,
            answers: BTreeMap::new(),
            applying: false,
            draining: false,
            refused: None,
            seen: state.cart.status(),
            new_cart: true,
            search_attributes: false,
            indexed: None,
            reminder_rules: false,
            start_notes: Vec::new(),
            state,
        };
        let mut start_notes = Vec::new();
        if let Some(state) = input.resume {
            if is_own_resume(ctx, &state) {
                return Self {
                    new_cart: false,
                    ..fresh(*state)
                };
            }
            start_notes.push(
                "ignoring a `resume` state: only the cart's own continue-as-new may resume it"
                    .to_owned(),
            );
        }
        let settings = input
            .settings
            .unwrap_or_else(CartSettings::frozen_default)
            .within_limits();
        let mut cart = Cart::new(CartId::of_workflow(ctx.workflow_id()));
        let email = input
            .email
            .or_else(|| Some(input.tutorial_email.clone()).filter(|e| !e.trim().is_empty()));
        if let Some(email) = email
            && let Err(e) = cart.set_email(&email)
        {
            start_notes.push(format!("ignoring the start e-mail: {e}"));
        }
        let now = clock(ctx.start_time());
        let instance = ctx.first_execution_run_id().to_owned();
        let mut state = CartState::new(cart, settings, instance, now);
        // The items of a tutorial start input come before any change sent with the start.
        for item in input.tutorial_items {
            let change = Change::Add {
                product: item.product_id,
                quantity: item.quantity,
            };
            state.changes.push(change, Sender::StartItem);
        }
        Self {
            start_notes,
            ..fresh(state)
        }
    }

    /// The cart's life beside the applier of its changes (see [`changes`]): the two run
    /// together, so that a change never waits for a payment, a reminder or a timer, and the
    /// life never waits for a price.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let applier_ctx = ctx.clone();
        let mut applier = std::pin::pin!(Self::apply_changes(&applier_ctx).fuse());
        let mut life = std::pin::pin!(Self::live(ctx).fuse());
        temporalio_sdk::workflows::select! {
            ended = life => ended,
            never = applier => match never {},
        }
    }

    /// The cart's life, one phase per turn of the loop: finish a closed cart, pay for a
    /// checkout, hand a long history on to a new run, and otherwise wait for a change or for
    /// the idle timer. Changes apply in between; every turn starts from the state as it is.
    async fn live(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let notes = ctx.state_mut(|w| std::mem::take(&mut w.start_notes));
        for note in notes {
            ctx.warn_once(note);
        }
        if ctx.state(|w| w.new_cart) {
            ctx.count(CartEvent::Started);
        }
        Self::decide_search_attributes(ctx);
        let rules = ctx.patched(REMINDER_RULES);
        ctx.state_mut(|w| w.reminder_rules = rules);
        // A second handle on the context owns the timer, so the loop can lend `ctx` mutably.
        let timers = ctx.clone();
        let mut idle = IdleTimer::default();
        loop {
            Self::status_changed(ctx);
            Self::index(ctx);
            let (status, revision) = ctx.state(|w| (w.state.cart.status(), w.state.revision));
            if matches!(status, Status::CheckedOut | Status::Expired) {
                idle.disarm();
                return Self::finish(ctx, status).await;
            }
            // A cart whose payment is pending may wait days for it; its state goes on whole.
            let at_rest = matches!(status, Status::Open | Status::PaymentPending);
            if at_rest && ctx.continue_as_new_suggested() {
                Self::continue_as_new(ctx, &mut idle, status).await?;
                continue;
            }
            if status.is_paying() && ctx.state(|w| w.state.payment.is_some()) {
                idle.disarm();
                Self::pay(ctx).await;
                continue;
            }
            // A cart with a change waiting its turn is not idle: the idle action waits for it.
            if !ctx.state(Self::settled) {
                let c = &*ctx;
                let hand_over =
                    |c: &WorkflowContext<Self>| at_rest && c.continue_as_new_suggested();
                c.wait_condition(|w| w.settled() || hand_over(c)).await?;
                continue;
            }
            let next = ctx.state(|w| w.state.next_idle_action(w.reminder_cap()));
            if let Some(due) = idle.rearm(next, || clock(ctx.workflow_time()), &timers) {
                Self::idle_action(ctx, due).await?;
                continue;
            }
            if let Some(fired) = Self::wait_for_change(ctx, &mut idle, status, revision).await? {
                Self::idle_action(ctx, fired).await?;
            }
        }
    }

    /// A checked-out or expired cart: once every handler has answered, the order confirmation
    /// (carts paid for before confirmations existed replay without one), and the cart as it
    /// ends is the workflow's result.
    async fn finish(ctx: &mut WorkflowContext<Self>, status: Status) -> WorkflowResult<CartView> {
        let c = &*ctx;
        c.wait_condition(|w| w.settled() && c.all_handlers_finished())
            .await?;
        if status == Status::CheckedOut && ctx.patched(ORDER_CONFIRMATION) {
            Self::send_confirmation(ctx).await;
        }
        Ok(ctx.state(|w| w.state.view()))
    }

    /// Hands the cart on to a new run when the server suggests it (the history is long), once
    /// every handler has answered, if the cart's status is still `status` by then. Meanwhile
    /// the applier applies only what an update waits for; the changes behind the last update
    /// go on to the next run with the state. A change of status ends the wait: a checkout
    /// that arrives meanwhile waits for its payment, which the loop then makes first (so the
    /// two never wait for each other).
    async fn continue_as_new(
        ctx: &mut WorkflowContext<Self>,
        idle: &mut IdleTimer<'_>,
        status: Status,
    ) -> WorkflowResult<()> {
        ctx.state_mut(|w| w.draining = true);
        let c = &*ctx;
        let moved_on = |w: &Self| w.state.cart.status() != status;
        c.wait_condition(|w| moved_on(w) || (!w.applying && c.all_handlers_finished()))
            .await?;
        ctx.state_mut(|w| w.draining = false);
        if !ctx.state(moved_on) {
            idle.disarm();
            let state = ctx.state(|w| w.state.clone());
            let input = CartInput {
                resume: Some(Box::new(state)),
                ..CartInput::default()
            };
            ctx.continue_as_new(input, ContinueAsNewOptions::default())?;
        }
        Ok(())
    }

    /// Waits until the cart changes (an update or a signal) or the idle timer fires; answers
    /// the idle action when the timer fired.
    async fn wait_for_change(
        ctx: &mut WorkflowContext<Self>,
        idle: &mut IdleTimer<'_>,
        status: Status,
        revision: u64,
    ) -> WorkflowResult<Option<IdleAction>> {
        let changed = |w: &Self| {
            w.state.revision != revision || w.state.cart.status() != status || !w.settled()
        };
        let fired = match idle.armed.as_mut() {
            Some(a) => {
                temporalio_sdk::workflows::select! {
                    result = a.timer.as_mut() => Some(result),
                    woke = ctx.wait_condition(changed) => { woke?; None }
                }
            }
            None => {
                ctx.wait_condition(changed).await?;
                None
            }
        };
        match fired {
            Some(TimerResult::Fired) => Ok(idle.armed.take().map(|a| a.action)),
            // Only workflow cancellation cancels the timer behind our back.
            Some(_) => Err(temporalio_sdk::WorkflowTermination::cancelled()),
            None => Ok(None),
        }
    }

    /// Whether this run keeps search attributes: where the worker's namespace has them, and
    /// always as its history says once it has decided (the `search-attributes` patch), so a
    /// replay on any worker does the same. Decided once, as the run starts.
    fn decide_search_attributes(ctx: &mut WorkflowContext<Self>) {
        let registered = ctx
            .context_value::<HostedKey>()
            .is_some_and(|h| h.search_attributes);
        let keep = (registered || ctx.is_replaying()) && ctx.patched(SEARCH_ATTRIBUTES);
        ctx.state_mut(|w| w.search_attributes = keep);
    }

    /// Sets the cart's search attributes when its status or contents changed since they were
    /// last set (never its e-mail address).
    fn index(ctx: &mut WorkflowContext<Self>) {
        let (keep, last) = ctx.state(|w| (w.search_attributes, w.indexed));
        if !keep {
            return;
        }
        let (status, revision, items, total, updated_at) = ctx.state(|w| {
            let cart = &w.state.cart;
            let items: i64 = cart.items().iter().map(|l| i64::from(l.quantity)).sum();
            let total = i64::try_from(cart.total_minor()).unwrap_or(i64::MAX);
            (
                cart.status(),
                w.state.revision,
                items,
                total,
                w.state.updated_at,
            )
        });
        if last == Some((status, revision)) {
            return;
        }
        let updated_at = temporalio_common::search_attributes::Timestamp::new(
            updated_at.as_second(),
            updated_at.subsec_nanosecond(),
        );
        ctx.upsert_search_attributes([
            search::STATUS.value_set(status.as_str().to_owned()),
            search::ITEMS.value_set(items),
            search::TOTAL.value_set(total),
            search::UPDATED_AT.value_set(updated_at),
        ]);
        ctx.state_mut(|w| w.indexed = Some((status, revision)));
    }

    /// On a change of status: counts what it means (a checkout attempted, paid, declined (the
    /// cart open again) or not known yet, a cart expired), and keeps the status in the cart's
    /// memo, where `cart list` reads it without asking each cart. Runs from before
    /// [`STATUS_MEMO`] keep no memo (and list as open).
    fn status_changed(ctx: &mut WorkflowContext<Self>) {
        let (status, seen) = ctx.state(|w| (w.state.cart.status(), w.seen));
        if status == seen {
            return;
        }
        ctx.state_mut(|w| w.seen = status);
        let event = match (seen, status) {
            (_, Status::CheckingOut) => Some(CartEvent::CheckoutAttempted),
            (_, Status::PaymentPending) => Some(CartEvent::PaymentPending),
            (_, Status::CheckedOut) => Some(CartEvent::Paid),
            (_, Status::Expired) => Some(CartEvent::Expired),
            (Status::CheckingOut | Status::PaymentPending, Status::Open) => {
                Some(CartEvent::Declined)
            }
            (_, Status::Open) => None,
        };
        if let Some(event) = event {
            ctx.count(event);
        }
        if ctx.patched(STATUS_MEMO)
            && let Err(e) = ctx.upsert_memo([(STATUS_KEY, Some(MemoValue::new(status)))])
        {
            ctx.warn_once(format!("cannot keep the status in the memo: {e}"));
        }
    }

    /// Whether every change received has been applied.
    fn settled(&self) -> bool {
        self.state.changes.is_empty() && !self.applying
    }

    /// Applies the cart's changes in the order they arrived, one at a time, for as long as the
    /// run lasts (see [`changes`]).
    ///
    /// It never ends the run: when the workflow is cancelled it stops, and the life decides
    /// how the run ends (a payment under way still records its answer).
    async fn apply_changes(ctx: &WorkflowContext<Self>) -> std::convert::Infallible {
        let mut ctx = ctx.clone();
        loop {
            let next = ctx.wait_condition(|w| w.state.changes.next(w.draining).is_some());
            if next.await.is_err() {
                return std::future::pending().await;
            }
            let Some(next) = ctx.state_mut(|w| {
                let next = w.state.changes.next(w.draining).cloned();
                w.applying = next.is_some();
                next
            }) else {
                continue;
            };
            Self::apply_one(&mut ctx, next).await;
        }
    }

    /// Applies one change, pricing the product it adds first where it needs a price, and
    /// hands its outcome to whoever waits for it: the update's handler, or the log.
    async fn apply_one(ctx: &mut WorkflowContext<Self>, next: Pending) {
        let product = ctx.state(|w| next.change.needs_price(&w.state.cart));
        let price = match product {
            Some(product) => Some(Self::priced(ctx, product).await),
            None => None,
        };
        let now = clock(ctx.workflow_time());
        let (added, refusal) = ctx.state_mut(|w| {
            w.applying = false;
            let taken = w.state.changes.applied(next.seq);
            debug_assert!(taken.is_some(), "the change applied was the oldest");
            let applied = price.transpose().and_then(|found| {
                let state = &mut w.state;
                let applied = state.apply(&next.change, &next.sender, found.as_ref(), now);
                applied.map_err(UpdateError::from)
            });
            let added = matches!(
                (&applied, &next.change),
                (Ok(Applied::Changed), Change::Add { .. })
            );
            let refusal = match next.sender {
                Sender::Update => {
                    let answer = applied.map(|a| (a, w.state.view()));
                    w.answers.insert(next.seq, answer);
                    None
                }
                _ => applied.err(),
            };
            (added, refusal)
        });
        if added {
            ctx.count(CartEvent::ItemAdded);
        }
        if let Some(e) = refusal {
            ignored(ctx, &next.sender, e);
        }
    }

    /// Queues an update's change and waits for its outcome.
    async fn change(
        ctx: &WorkflowContext<Self>,
        change: Change,
    ) -> Result<(Applied, CartView), UpdateError> {
        let seq = ctx.state_mut(|w| w.state.changes.push(change, Sender::Update));
        let interrupted = |e: &dyn std::fmt::Display| UpdateError::Interrupted(e.to_string());
        ctx.wait_condition(|w| w.answers.contains_key(&seq))
            .await
            .map_err(|e| interrupted(&e))?;
        ctx.state_mut(|w| w.answers.remove(&seq))
            .unwrap_or_else(|| Err(interrupted(&"its outcome was lost")))
    }

    /// Queues a tutorial signal's change; one that cannot even be read is logged.
    fn signalled(ctx: &WorkflowContext<Self>, signal: &str, change: Result<Change, String>) {
        match change {
            Ok(change) => {
                let sender = Sender::Signal(signal.to_owned());
                ctx.state_mut(|w| w.state.changes.push(change, sender));
            }
            Err(e) => ignored(ctx, &Sender::Signal(signal.to_owned()), e),
        }
    }

    /// A product at the price this cart charges for it. A product already in the cart has its
    /// line's price. A new one is priced from the worker's catalog through an activity, so the
    /// price is recorded in the history and a replay (on any worker, whatever its catalog by
    /// then) sees the price that was charged; or, for a run that began before worker prices,
    /// from the catalog the cart was started with.
    async fn priced(ctx: &mut WorkflowContext<Self>, product: i64) -> Result<Product, UpdateError> {
        // More of a product already in the cart joins its line at the line's price.
        if let Some(line) = ctx.state(|w| w.state.cart.product(product)) {
            return Ok(line);
        }
        let worker_prices = ctx.patched(WORKER_PRICES);
        ctx.state_mut(|w| {
            w.pricing = if worker_prices {
                Pricing::Worker
            } else {
                Pricing::CartCatalog
            }
        });
        if !worker_prices {
            let catalog = ctx.state(|w| w.state.settings.start_catalog());
            return find(&catalog, product).cloned();
        }
        let found = ctx
            .execute_activity(CartActivities::price, product, price_options())
            .await;
        match found {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(CartError::NotSold(product).into()),
            Err(e) => Err(UpdateError::Unpriced {
                product,
                reason: failure_message(&e),
            }),
        }
    }

    /// The catalog a validator checks an add against: the worker's, or the cart's own for a
    /// run that began before worker prices.
    fn validation_catalog(&self, ctx: &WorkflowContextView) -> Result<Arc<Catalog>, BoxError> {
        if self.pricing == Pricing::CartCatalog {
            return Ok(Arc::new(self.state.settings.start_catalog()));
        }
        ctx.context_value::<WorkerCatalog>()
            .map(|c| (*c).clone())
            .ok_or_else(|| "this worker has no catalog to check prices against".into())
    }

    async fn send_confirmation(ctx: &mut WorkflowContext<Self>) {
        let Some(request) = ctx.state(|w| w.state.confirmation_request()) else {
            return;
        };
        let sent = ctx
            .execute_activity(
                CartActivities::send_confirmation,
                request,
                mail_options_until(CONFIRMATION_TRIED_FOR),
            )
            .await;
        if let Err(e) = sent {
            ctx.warn_once(format_args!(
                "the order confirmation could not be sent: {}",
                failure_message(&e)
            ));
        }
    }

    async fn idle_action(
        ctx: &mut WorkflowContext<Self>,
        action: IdleAction,
    ) -> WorkflowResult<()> {
        match action {
            IdleAction::Expire => {
                let now = clock(ctx.workflow_time());
                ctx.state_mut(|w| w.state.expire(now));
            }
            IdleAction::Remind if ctx.state(|w| w.reminder_rules) => Self::remind(ctx).await?,
            IdleAction::Remind => Self::remind_once(ctx).await,
        }
        Ok(())
    }

    /// Sends the reminder of the current idle period, showing the cart as it is, and keeps
    /// trying (`reminder_options`) until it goes out, the provider refuses it for good, the
    /// cart would expire, or the cart changes: a change (an edit, a checkout) ends the idle
    /// period, and its pending send is cancelled, so it is never delivered late.
    async fn remind(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let (request, status, revision, expires_at) = ctx.state(|w| {
            let s = &w.state;
            (
                s.reminder_request(),
                s.cart.status(),
                s.revision,
                s.expires_at(),
            )
        });
        let Some(request) = request else {
            ctx.state_mut(|w| w.state.reminder_done(revision));
            return Ok(());
        };
        let now = clock(ctx.workflow_time());
        let until_expiry = now.duration_until(expires_at).unsigned_abs();
        let changed = |w: &Self| w.state.revision != revision || w.state.cart.status() != status;
        let c = &*ctx;
        let send = c.execute_activity(
            CartActivities::send_reminder,
            request,
            reminder_options(until_expiry),
        );
        let mut send = std::pin::pin!(send);
        let sent = temporalio_sdk::workflows::select! {
            sent = send.as_mut() => Some(sent),
            woke = c.wait_condition(changed) => { woke?; None }
        };
        let Some(sent) = sent else {
            send.cancel();
            return Ok(());
        };
        let now = clock(ctx.workflow_time());
        if Self::reminder_answered(ctx, &sent) {
            ctx.state_mut(|w| {
                let cap = w.reminder_cap();
                w.state.reminder_sent(revision, now, cap);
            });
        } else {
            ctx.state_mut(|w| w.state.reminder_done(revision));
        }
        Ok(())
    }

    /// Counts a reminder that went out, or logs why it could not; whether it went out.
    fn reminder_answered<T>(
        ctx: &WorkflowContext<Self>,
        sent: &Result<T, ActivityExecutionError>,
    ) -> bool {
        match sent {
            Ok(_) => ctx.count(CartEvent::ReminderSent),
            Err(e) => ctx.warn_once(format_args!(
                "the reminder could not be sent: {}",
                failure_message(e)
            )),
        }
        sent.is_ok()
    }

    /// The reminder as runs from before [`REMINDER_RULES`] send it: ten attempts, whatever the
    /// cart does meanwhile. Kept so their histories replay.
    async fn remind_once(ctx: &mut WorkflowContext<Self>) {
        let (request, revision) = ctx.state(|w| (w.state.reminder_request(), w.state.revision));
        if let Some(request) = request {
            let sent = ctx
                .execute_activity(CartActivities::send_reminder, request, mail_options())
                .await;
            Self::reminder_answered(ctx, &sent);
        }
        // One reminder per idle period, sent or given up on.
        ctx.state_mut(|w| w.state.reminder_done(revision));
    }

    /// The cap on reminders per day this run follows: the cart's, from [`REMINDER_RULES`] on.
    fn reminder_cap(&self) -> Option<u32> {
        self.reminder_rules
            .then_some(self.state.settings.reminders_per_day)
            .flatten()
    }

    /// One question about the checkout's payment, when the payment record says to ask it, and
    /// what its answer changes: paid, refused (the cart opens again), or not known yet (the
    /// cart waits for it, `payment_pending` once the first round of questions is over).
    async fn pay(ctx: &mut WorkflowContext<Self>) {
        let Some((step, at, call, timing)) = ctx.state(|w| {
            let payment = w.state.payment.as_ref()?;
            let (step, at) = payment.record.next()?;
            let call = payment.call(&step);
            Some((step, at, call, payment.record.timing()))
        }) else {
            return;
        };
        let now = clock(ctx.workflow_time());
        if at > now {
            ctx.timer(now.duration_until(at).unsigned_abs()).await;
        }
        let asked = clock(ctx.workflow_time());
        let options = payment_options(&timing);
        let answer = match &step {
            Step::Provider => {
                let activity = CartActivities::payment_provider;
                ctx.execute_activity(activity, call.charge, options).await
            }
            Step::Send => {
                ctx.execute_activity(CartActivities::charge, call, options)
                    .await
            }
            Step::Retrieve { .. } => {
                ctx.execute_activity(CartActivities::retrieve_payment, call, options)
                    .await
            }
            Step::Cancel { .. } => {
                ctx.execute_activity(CartActivities::cancel_payment, call, options)
                    .await
            }
            Step::Search => {
                ctx.execute_activity(CartActivities::find_payment, call, options)
                    .await
            }
        };
        let answer = answer.map_err(|e| unanswered(&e));
        let now = clock(ctx.workflow_time());
        let heard = ctx.state_mut(|w| {
            let heard = w.state.payment_heard(&step, asked, answer, now);
            let cart = &w.state.cart;
            if cart.status() == Status::Open {
                let reason = cart.last_error().unwrap_or_default().to_owned();
                w.refused = Some((cart.checkout_attempts(), reason));
            }
            heard
        });
        if let Heard::Nothing { unrelated } = heard {
            ctx.count(CartEvent::PaymentUnsettled { unrelated });
            let reason = ctx.state(|w| {
                let record = &w.state.payment.as_ref()?.record;
                record.reason().map(str::to_owned)
            });
            if unrelated && let Some(reason) = reason {
                ctx.error_once(format_args!(
                    "the payment is not settled, and the payment provider's answer needs an operator: {reason}"
                ));
            }
        }
    }

    /// Runs a validator's check on the cart (see `validate_add_item` for what validators
    /// look at).
    fn check(&self, rule: impl FnOnce(&Cart) -> Result<(), CartError>) -> ValidatorResult {
        rule(&self.state.cart).map_err(Into::into)
    }

    /// A validator refuses only what is wrong whatever changes came before (an unknown
    /// product, a quantity no line holds, a malformed address, a cart that takes no more
    /// changes), so that it leaves no trace in the history. What depends on what the cart
    /// holds is decided when the change's turn comes (see [`changes`]): a validator cannot see
    /// the changes delivered in the same workflow task ahead of its own, whose handlers have
    /// not run yet, so judging the contents here would refuse a remove whose add had arrived
    /// just before it.
    #[update_validator(add_item)]
    fn validate_add_item(&self, ctx: &WorkflowContextView, req: &AddItem) -> ValidatorResult {
        let catalog = self.validation_catalog(ctx)?;
        self.check(|c| c.check_add_request(&catalog, req.product_id, req.quantity))
    }

    #[update]
    pub async fn add_item(
        ctx: &mut WorkflowContext<Self>,
        req: AddItem,
    ) -> Result<CartView, BoxError> {
        let change = Change::Add {
            product: req.product_id,
            quantity: req.quantity,
        };
        Ok(Self::change(ctx, change).await?.1)
    }

    /// Answers the cart as it stands, changing nothing. `cart new` starts a cart together
    /// with this update, so that one round trip both creates the cart and proves that a
    /// worker took it.
    #[update]
    pub fn open(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        _req: (),
    ) -> Result<CartView, BoxError> {
        Ok(self.state.view())
    }

    #[update_validator(remove_item)]
    fn validate_remove_item(
        &self,
        _ctx: &WorkflowContextView,
        req: &RemoveItem,
    ) -> ValidatorResult {
        self.check(|c| c.check_remove_request(req.quantity))
    }

    #[update]
    pub async fn remove_item(
        ctx: &mut WorkflowContext<Self>,
        req: RemoveItem,
    ) -> Result<CartView, BoxError> {
        let change = Change::Remove {
            product: req.product_id,
            quantity: req.quantity,
        };
        Ok(Self::change(ctx, change).await?.1)
    }

    #[update_validator(set_email)]
    fn validate_set_email(&self, _ctx: &WorkflowContextView, req: &SetEmail) -> ValidatorResult {
        // Whether an address may be set depends on nothing but the address and the status.
        self.check(|c| c.clone().set_email(&req.email))
    }

    #[update]
    pub async fn set_email(
        ctx: &mut WorkflowContext<Self>,
        req: SetEmail,
    ) -> Result<CartView, BoxError> {
        let change = Change::SetEmail { email: req.email };
        Ok(Self::change(ctx, change).await?.1)
    }

    #[update_validator(checkout)]
    fn validate_checkout(&self, _ctx: &WorkflowContextView, req: &Checkout) -> ValidatorResult {
        if joins_checkout(self.state.cart.status()) {
            return Ok(());
        }
        self.check(|c| c.check_checkout_request(req.email.as_deref(), req.payment.as_deref()))
    }

    #[update]
    /// Begins a checkout when its turn comes and answers once its outcome is known, or not
    /// known yet: the cart paid, an error saying why the payment was refused (the cart is open
    /// again), or the cart `payment_pending`, which settles by itself. A checkout of a cart
    /// already paying or paid by then begins nothing: it answers the cart as it is (see
    /// [`joins_checkout`]).
    pub async fn checkout(
        ctx: &mut WorkflowContext<Self>,
        req: Checkout,
    ) -> Result<CartView, BoxError> {
        let (applied, view) = Self::change(ctx, Change::Checkout(req)).await?;
        let Applied::CheckoutBegun { attempt } = applied else {
            return Ok(view);
        };
        // This checkout's outcome: a refusal reopens the cart, and a checkout queued behind
        // this one may begin at once, in the same workflow task.
        let attempts = |w: &Self| w.state.cart.checkout_attempts();
        ctx.wait_condition(|w| {
            w.state.cart.status() != Status::CheckingOut || attempts(w) != attempt
        })
        .await?;
        let (view, refused) = ctx.state(|w| {
            let refused = w.refused.clone().filter(|(at, _)| *at == attempt);
            (w.state.view(), refused.map(|(_, reason)| reason))
        });
        match refused {
            Some(reason) => Err(UpdateError::Payment(reason).into()),
            None if view.status == Status::Open => {
                Err(UpdateError::Payment(view.last_error.unwrap_or_default()).into())
            }
            None => Ok(view),
        }
    }

    #[query]
    pub fn get_cart(&self, _ctx: &WorkflowContextView) -> CartView {
        self.state.view()
    }

    #[query(name = "getCart")]
    pub fn tutorial_get_cart(&self, _ctx: &WorkflowContextView) -> TutorialCart {
        tutorial::cart(&self.state.cart)
    }

    // The signal handlers are `async`, though they only queue, so that they first run in
    // the order the updates' handlers do: the SDK runs a synchronous handler as soon as it
    // reads the job, ahead of the `async` handlers of earlier jobs of the same workflow task.

    #[signal(name = "ADD_TO_CART_CHANNEL")]
    pub async fn tutorial_add(ctx: &mut WorkflowContext<Self>, raw: RawValue) {
        let change = tutorial::item(&raw).map(|item| Change::Add {
            product: item.product_id,
            quantity: item.quantity,
        });
        Self::signalled(ctx, "ADD_TO_CART_CHANNEL", change);
    }

    #[signal(name = "REMOVE_FROM_CART_CHANNEL")]
    pub async fn tutorial_remove(ctx: &mut WorkflowContext<Self>, raw: RawValue) {
        let change = tutorial::item(&raw).map(|item| Change::RemoveUpTo {
            product: item.product_id,
            quantity: item.quantity,
        });
        Self::signalled(ctx, "REMOVE_FROM_CART_CHANNEL", change);
    }

    #[signal(name = "UPDATE_EMAIL_CHANNEL")]
    pub async fn tutorial_email(ctx: &mut WorkflowContext<Self>, raw: RawValue) {
        let change = tutorial::email(&raw).map(|email| Change::SetEmail { email });
        Self::signalled(ctx, "UPDATE_EMAIL_CHANNEL", change);
    }

    #[signal(name = "CHECKOUT_CHANNEL")]
    pub async fn tutorial_checkout(ctx: &mut WorkflowContext<Self>, raw: RawValue) {
        let change = tutorial::checkout(&raw).map(Change::Checkout);
        Self::signalled(ctx, "CHECKOUT_CHANNEL", change);
    }
}

/// Whether a start input's `resume` state is this cart's own, handed over by its own
/// continue-as-new: only then does the state go on. A caller starting a cart cannot forge it,
/// as the first run id of a new chain is not known before the start.
fn is_own_resume(ctx: &WorkflowContextView, state: &CartState) -> bool {
    ctx.continued_from_run_id().is_some()
        && state.cart.id() == ctx.workflow_id()
        && state.instance == ctx.first_execution_run_id()
}

/// A catalog's product by a requested id.
fn find(catalog: &Catalog, product: i64) -> Result<&Product, UpdateError> {
    ProductId::try_from(product)
        .ok()
        .and_then(|id| catalog.get(id))
        .ok_or_else(|| {
            CartError::UnknownProduct {
                id: product,
                valid: catalog.ids(),
            }
            .into()
        })
}

/// Logs and counts a change that nobody waits for (a tutorial signal, a start item) and
/// that was not applied: it cannot answer.
fn ignored(ctx: &impl FirstRun, sender: &Sender, e: impl std::fmt::Display) {
    match sender {
        Sender::Signal(signal) => {
            ctx.warn_once(format_args!("ignoring the tutorial signal {signal}: {e}"));
        }
        Sender::StartItem | Sender::Update => {
            ctx.warn_once(format_args!("ignoring a start item: {e}"));
        }
    }
    ctx.count(CartEvent::SignalIgnored);
}

/// What workflow code does only when it first runs, not again each time a worker replays the
/// history: warn about the cart (redacted: the message may quote what a customer or a
/// provider sent), and count what it did.
trait FirstRun {
    fn replaying(&self) -> bool;
    fn cart(&self) -> &str;
    fn hosted(&self) -> Option<Arc<hosted::Hosted>>;

    fn warn_once(&self, message: impl std::fmt::Display) {
        if !self.replaying() {
            tracing::warn!(cart = self.cart(), "{}", redact(&message.to_string()));
        }
    }

    /// As [`FirstRun::warn_once`], for what an operator must act on.
    fn error_once(&self, message: impl std::fmt::Display) {
        if !self.replaying() {
            tracing::error!(cart = self.cart(), "{}", redact(&message.to_string()));
        }
    }

    fn count(&self, event: CartEvent) {
        if !self.replaying()
            && let Some(hosted) = self.hosted()
            && let Some(counters) = &hosted.counters
        {
            counters.count(event);
        }
    }
}

/// Both of the SDK's workflow contexts offer what [`FirstRun`] needs under the same names.
macro_rules! first_run {
    ($($context:ident),+) => {$(
        impl<W> FirstRun for $context<W> {
            fn replaying(&self) -> bool {
                self.is_replaying()
            }
            fn cart(&self) -> &str {
                self.workflow_id()
            }
            fn hosted(&self) -> Option<Arc<hosted::Hosted>> {
                self.context_value::<HostedKey>().map(|h| (*h).clone())
            }
        }
    )+};
}

first_run!(WorkflowContext, SyncWorkflowContext);
