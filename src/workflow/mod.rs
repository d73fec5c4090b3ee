//! The `CartWorkflow`: one long-running workflow per cart.
//!
//! Handlers are thin: each update validates by running the cart rule on a copy of the state
//! and then applies the same rule for real. The run loop owns a single idle timer that is
//! cancelled and re-armed whenever the cart changes; it sends the abandoned-cart reminder,
//! expires idle carts, continues-as-new when the server suggests it and finishes after a
//! successful checkout. The tutorial's signals and `getCart` query are served alongside, in
//! [`legacy`].

mod legacy;
pub mod messages;
mod state;

pub use messages::*;
pub use state::{CartState, IdleAction};

use crate::activities::CartActivities;
use crate::domain::{Cart, CartError, Status};
use jiff::Timestamp;
use std::pin::Pin;
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_common::data_converters::RawValue;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, CancellableFuture, ContinueAsNewOptions,
    SyncWorkflowContext, TimerResult, WorkflowContext, WorkflowContextView, WorkflowResult,
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
}

#[workflow]
pub struct CartWorkflow {
    state: CartState,
}

/// The workflow's clock as a timestamp. Workflow time is always set while the workflow runs;
/// the epoch fallback only keeps this total.
fn clock(time: Option<std::time::SystemTime>) -> Timestamp {
    time.and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A charge attempt that has not answered in 15 s is retried, with the same idempotency key,
/// possibly on another worker: the provider answers a repeated key with the original charge.
fn charge_options() -> ActivityOptions {
    let mut opts = ActivityOptions::start_to_close_timeout(Duration::from_secs(15));
    opts.retry_policy = Some(retry(5, Duration::from_secs(10)));
    opts
}

/// The patch that added the order confirmation e-mail after checkout.
const ORDER_CONFIRMATION: &str = "order-confirmation";

fn mail_options() -> ActivityOptions {
    let mut opts = ActivityOptions::start_to_close_timeout(Duration::from_secs(30));
    opts.retry_policy = Some(retry(10, Duration::from_secs(60)));
    opts
}

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

/// The one idle timer, kept across loop iterations and cancelled before it is replaced.
struct ArmedTimer<'a> {
    at: Timestamp,
    action: IdleAction,
    timer: Pin<Box<dyn CancellableFuture<Output = TimerResult> + 'a>>,
}

#[workflow_methods]
impl CartWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: CartInput) -> Self {
        if let Some(state) = input.resume {
            return Self { state: *state };
        }
        let settings = input.settings.unwrap_or_else(CartSettings::frozen_default);
        let mut cart = Cart::new(ctx.workflow_id(), settings.catalog.currency());
        for item in &input.legacy_items {
            if let Err(e) = cart.add(&settings.catalog, item.product_id, item.quantity) {
                tracing::warn!(cart = ctx.workflow_id(), "ignoring a start item: {e}");
            }
        }
        let email = input
            .email
            .or_else(|| Some(input.legacy_email.clone()).filter(|e| !e.trim().is_empty()));
        if let Some(email) = email
            && let Err(e) = cart.set_email(&email)
        {
            tracing::warn!(cart = ctx.workflow_id(), "ignoring the start e-mail: {e}");
        }
        let now = clock(ctx.start_time());
        let instance = ctx.first_execution_run_id().to_owned();
        Self {
            state: CartState::new(cart, settings, instance, now),
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        // A second handle on the context owns the timer, so the loop can lend `ctx` mutably.
        let timers = ctx.clone();
        let mut armed: Option<ArmedTimer<'_>> = None;
        loop {
            let (status, revision) = ctx.state(|w| (w.state.cart.status(), w.state.revision));
            if matches!(status, Status::CheckedOut | Status::Expired) {
                disarm(&mut armed);
                let c = &*ctx;
                c.wait_condition(|_| c.all_handlers_finished()).await?;
                // Carts paid for before confirmations existed must replay without one.
                if status == Status::CheckedOut && ctx.patched(ORDER_CONFIRMATION) {
                    Self::send_confirmation(ctx).await;
                }
                return Ok(ctx.state(|w| w.state.view()));
            }
            if status == Status::Open && ctx.continue_as_new_suggested() {
                let c = &*ctx;
                c.wait_condition(|_| c.all_handlers_finished()).await?;
                if ctx.state(|w| w.state.cart.status()) == Status::Open {
                    disarm(&mut armed);
                    let state = ctx.state(|w| w.state.clone());
                    let input = CartInput {
                        resume: Some(Box::new(state)),
                        ..CartInput::default()
                    };
                    ctx.continue_as_new(input, ContinueAsNewOptions::default())?;
                }
                continue;
            }

            let next = ctx.state(|w| w.state.next_idle_action());
            if armed.as_ref().map(|a| (a.at, a.action)) != next {
                disarm(&mut armed);
                if let Some((at, action)) = next {
                    let now = clock(ctx.workflow_time());
                    if at <= now {
                        Self::idle_action(ctx, action).await;
                        continue;
                    }
                    let wait = now.duration_until(at).unsigned_abs();
                    armed = Some(ArmedTimer {
                        at,
                        action,
                        timer: Box::pin(timers.timer(wait)),
                    });
                }
            }

            let changed =
                |w: &Self| w.state.revision != revision || w.state.cart.status() != status;
            let fired = match armed.as_mut() {
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
                Some(TimerResult::Fired) => {
                    if let Some(a) = armed.take() {
                        Self::idle_action(ctx, a.action).await;
                    }
                }
                // Only workflow cancellation cancels the timer behind our back.
                Some(_) => return Err(temporalio_sdk::WorkflowTermination::cancelled()),
                None => {}
            }
        }
    }

    async fn send_confirmation(ctx: &mut WorkflowContext<Self>) {
        let Some(request) = ctx.state(|w| w.state.confirmation_request()) else {
            return;
        };
        let sent = ctx
            .execute_activity(CartActivities::send_confirmation, request, mail_options())
            .await;
        if let Err(e) = sent
            && !ctx.is_replaying()
        {
            tracing::warn!(
                cart = ctx.workflow_id(),
                "the order confirmation could not be sent: {}",
                failure_message(&e)
            );
        }
    }

    async fn idle_action(ctx: &mut WorkflowContext<Self>, action: IdleAction) {
        match action {
            IdleAction::Expire => {
                let now = clock(ctx.workflow_time());
                ctx.state_mut(|w| w.state.expire(now));
            }
            IdleAction::Remind => {
                let (request, revision) =
                    ctx.state(|w| (w.state.reminder_request(), w.state.revision));
                if let Some(request) = request {
                    let sent = ctx
                        .execute_activity(CartActivities::send_reminder, request, mail_options())
                        .await;
                    if let Err(e) = sent
                        && !ctx.is_replaying()
                    {
                        tracing::warn!(
                            cart = ctx.workflow_id(),
                            "the reminder could not be sent: {}",
                            failure_message(&e)
                        );
                    }
                }
                // One reminder per idle period, sent or given up on.
                ctx.state_mut(|w| {
                    if w.state.reminded_revision.is_none_or(|r| r < revision) {
                        w.state.reminded_revision = Some(revision);
                    }
                });
            }
        }
    }

    /// Runs one checkout: shared by the `checkout` update and the tutorial's checkout signal.
    async fn run_checkout(
        ctx: &mut WorkflowContext<Self>,
        request: Checkout,
    ) -> Result<CartView, UpdateError> {
        let now = clock(ctx.workflow_time());
        let charge = ctx.state_mut(|w| w.state.begin_checkout(&request, now))?;
        let result = ctx
            .execute_activity(CartActivities::charge, charge, charge_options())
            .await;
        let now = clock(ctx.workflow_time());
        match result {
            Ok(charge) => {
                ctx.state_mut(|w| w.state.checkout_succeeded(charge, now));
                Ok(ctx.state(|w| w.state.view()))
            }
            Err(e) => {
                let reason = failure_message(&e);
                ctx.state_mut(|w| w.state.checkout_failed(&reason, now));
                Err(UpdateError::Payment(reason))
            }
        }
    }

    /// Applies a cart rule, recording the change.
    fn apply(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        rule: impl FnOnce(&mut Cart, &CartSettings) -> Result<(), CartError>,
    ) -> Result<CartView, UpdateError> {
        rule(&mut self.state.cart, &self.state.settings)?;
        self.state.touch(clock(ctx.workflow_time()));
        Ok(self.state.view())
    }

    /// Runs a cart rule on a copy: the validators' half of `apply`.
    fn check(
        &self,
        rule: impl FnOnce(&mut Cart, &CartSettings) -> Result<(), CartError>,
    ) -> ValidatorResult {
        let mut copy = self.state.cart.clone();
        rule(&mut copy, &self.state.settings).map_err(Into::into)
    }

    #[update_validator(add_item)]
    fn validate_add_item(&self, _ctx: &WorkflowContextView, req: &AddItem) -> ValidatorResult {
        self.check(|c, s| c.add(&s.catalog, req.product_id, req.quantity))
    }

    #[update]
    pub fn add_item(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: AddItem,
    ) -> Result<CartView, BoxError> {
        Ok(self.apply(ctx, |c, s| c.add(&s.catalog, req.product_id, req.quantity))?)
    }

    #[update_validator(remove_item)]
    fn validate_remove_item(
        &self,
        _ctx: &WorkflowContextView,
        req: &RemoveItem,
    ) -> ValidatorResult {
        self.check(|c, _| c.remove(req.product_id, req.quantity))
    }

    #[update]
    pub fn remove_item(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: RemoveItem,
    ) -> Result<CartView, BoxError> {
        Ok(self.apply(ctx, |c, _| c.remove(req.product_id, req.quantity))?)
    }

    #[update_validator(set_email)]
    fn validate_set_email(&self, _ctx: &WorkflowContextView, req: &SetEmail) -> ValidatorResult {
        self.check(|c, _| c.set_email(&req.email))
    }

    #[update]
    pub fn set_email(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        req: SetEmail,
    ) -> Result<CartView, BoxError> {
        Ok(self.apply(ctx, |c, _| c.set_email(&req.email))?)
    }

    #[update_validator(checkout)]
    fn validate_checkout(&self, _ctx: &WorkflowContextView, req: &Checkout) -> ValidatorResult {
        self.check(|c, _| c.begin_checkout(req.email.as_deref()).map(drop))
    }

    #[update]
    pub async fn checkout(
        ctx: &mut WorkflowContext<Self>,
        req: Checkout,
    ) -> Result<CartView, BoxError> {
        Ok(Self::run_checkout(ctx, req).await?)
    }

    #[query]
    pub fn get_cart(&self, _ctx: &WorkflowContextView) -> CartView {
        self.state.view()
    }

    #[query(name = "getCart")]
    pub fn legacy_get_cart(&self, _ctx: &WorkflowContextView) -> LegacyCart {
        legacy::cart(&self.state.cart)
    }

    #[signal(name = "ADD_TO_CART_CHANNEL")]
    pub fn legacy_add(&mut self, ctx: &mut SyncWorkflowContext<Self>, raw: RawValue) {
        let outcome = legacy::item(&raw).and_then(|item| {
            self.apply(ctx, |c, s| {
                c.add(&s.catalog, item.product_id, item.quantity)
            })
            .map_err(|e| e.to_string())
        });
        let (cart, replaying) = (ctx.workflow_id(), ctx.is_replaying());
        legacy::log_ignored(cart, replaying, "ADD_TO_CART_CHANNEL", outcome);
    }

    #[signal(name = "REMOVE_FROM_CART_CHANNEL")]
    pub fn legacy_remove(&mut self, ctx: &mut SyncWorkflowContext<Self>, raw: RawValue) {
        let outcome = legacy::item(&raw).and_then(|item| {
            // The tutorial removes the whole line when asked for as many or more than it holds.
            self.apply(ctx, |c, _| {
                let have = c
                    .items()
                    .iter()
                    .find(|l| i64::from(l.product_id) == item.product_id)
                    .map_or(0, |l| i64::from(l.quantity));
                let qty = (item.quantity < have).then_some(item.quantity);
                c.remove(item.product_id, qty)
            })
            .map_err(|e| e.to_string())
        });
        let (cart, replaying) = (ctx.workflow_id(), ctx.is_replaying());
        legacy::log_ignored(cart, replaying, "REMOVE_FROM_CART_CHANNEL", outcome);
    }

    #[signal(name = "UPDATE_EMAIL_CHANNEL")]
    pub fn legacy_email(&mut self, ctx: &mut SyncWorkflowContext<Self>, raw: RawValue) {
        let outcome = legacy::email(&raw).and_then(|email| {
            self.apply(ctx, |c, _| c.set_email(&email))
                .map_err(|e| e.to_string())
        });
        let (cart, replaying) = (ctx.workflow_id(), ctx.is_replaying());
        legacy::log_ignored(cart, replaying, "UPDATE_EMAIL_CHANNEL", outcome);
    }

    #[signal(name = "CHECKOUT_CHANNEL")]
    pub async fn legacy_checkout(ctx: &mut WorkflowContext<Self>, raw: RawValue) {
        let outcome = match legacy::checkout(&raw) {
            Ok(request) => Self::run_checkout(ctx, request)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let (cart, replaying) = (ctx.workflow_id(), ctx.is_replaying());
        legacy::log_ignored(cart, replaying, "CHECKOUT_CHANNEL", outcome);
    }
}

fn disarm(armed: &mut Option<ArmedTimer<'_>>) {
    if let Some(a) = armed.take() {
        a.timer.cancel();
    }
}
