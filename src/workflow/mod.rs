//! The `CartWorkflow`: one long-running workflow per cart.
//!
//! A cart runs two things side by side: the applier, which applies its changes one at a time
//! in the order they arrived ([`applier`], [`changes`]), and its life ([`life`]), which pays
//! for a checkout ([`payment`]), owns the idle timer that sends the abandoned-cart reminder
//! and expires an idle cart ([`idle`]), keeps the cart findable ([`search`]), continues-as-new
//! when the server suggests it and finishes after a successful checkout. The handlers below
//! only queue changes and wait for their outcome; the cart rules themselves are plain Rust in
//! [`state`] and [`crate::domain`]. A product new to the cart is priced from the worker's
//! catalog by an activity (see [`shop`]). The tutorial's signals and `getCart` query are
//! served alongside, in [`tutorial`].
//!
//! Changes to the commands a cart issues go behind patches listed in [`versions`], and the
//! recorded histories in `tests/fixtures` keep replaying.

pub mod admission;
mod after_checkout;
mod applier;
mod changes;
mod first_run;
pub mod hosted;
mod idle;
mod life;
pub mod messages;
pub mod metrics;
mod options;
mod order;
mod payment;
pub mod search;
mod shop;
mod state;
mod tutorial;
pub mod versions;

pub use changes::{Change, Changes, Sender};
pub use messages::*;
pub use search::STATUS_KEY;
pub use shop::{ShopWorkflow, WorkerCatalog, catalog_interceptor, shop_id};
use state::joins_checkout;
pub use state::{Applied, CartState, IdleAction};

use crate::domain::{Cart, CartError, CartId, Status};
use first_run::FirstRun;
use futures::FutureExt;
use jiff::Timestamp;
use std::collections::BTreeMap;
use temporalio_common::data_converters::RawValue;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

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
    #[error("{0}")]
    Refund(String),
}

#[workflow]
pub struct CartWorkflow {
    state: CartState,
    /// The outcomes of applied updates, by their place in the queue, until their handlers
    /// take them.
    answers: BTreeMap<u64, Result<(Applied, CartView), UpdateError>>,
    /// Whether the applier is applying a change (it may be waiting for a price).
    applying: bool,
    /// Whether an e-mail of the order is being sent: the run hands over only between two, so
    /// that none is cut off and sent again by the next run.
    mailing: bool,
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
    /// Warnings about the start input, logged when the run begins (`init` cannot tell a
    /// replay from a first run).
    start_notes: Vec<String>,
}

/// The workflow's clock as a timestamp. Workflow time is always set while the workflow runs;
/// the epoch fallback only keeps this total.
fn clock(time: Option<std::time::SystemTime>) -> Timestamp {
    time.and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[workflow_methods]
impl CartWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: CartInput) -> Self {
        let fresh = |state: CartState| Self {
            answers: BTreeMap::new(),
            applying: false,
            mailing: false,
            draining: false,
            refused: None,
            seen: state.cart.status(),
            new_cart: true,
            search_attributes: false,
            indexed: None,
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
        let catalog = ctx
            .context_value::<WorkerCatalog>()
            .ok_or("this worker has no catalog to check prices against")?;
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

    #[update_validator(refund)]
    fn validate_refund(&self, _ctx: &WorkflowContextView, req: &RefundOrder) -> ValidatorResult {
        check_order_id(&req.id)?;
        check_order_text(req.reason.as_deref())
    }

    /// Refunds the order, all that is left or `amount` of it, under the request's id, and
    /// answers once the refund is known or its first round of questions is over: the order
    /// with the refund made or `pending` (it settles by itself), or an error saying why it
    /// failed. Asking again under the same id is the same refund, and answers the same.
    #[update]
    pub async fn refund(
        ctx: &mut WorkflowContext<Self>,
        req: RefundOrder,
    ) -> Result<CartView, BoxError> {
        let applied = Self::change(ctx, Change::Refund(req)).await?;
        Ok(Self::refund_answered(ctx, applied, true).await?)
    }

    #[update_validator(cancel)]
    fn validate_cancel(&self, _ctx: &WorkflowContextView, req: &CancelOrder) -> ValidatorResult {
        check_order_id(&req.id)?;
        check_order_text(req.reason.as_deref())
    }

    /// Cancels an order that has not shipped, refunding what is left, and answers once that
    /// refund is known or its first round is over: the order, cancelled, with the refund made,
    /// pending or failed (a failed one is asked for again with a refund).
    #[update]
    pub async fn cancel(
        ctx: &mut WorkflowContext<Self>,
        req: CancelOrder,
    ) -> Result<CartView, BoxError> {
        let applied = Self::change(ctx, Change::Cancel(req)).await?;
        Ok(Self::refund_answered(ctx, applied, false).await?)
    }

    #[update_validator(ship)]
    fn validate_ship(&self, _ctx: &WorkflowContextView, req: &ShipOrder) -> ValidatorResult {
        check_order_text(req.tracking.as_deref())?;
        check_order_text(req.carrier.as_deref())
    }

    #[update]
    pub async fn ship(
        ctx: &mut WorkflowContext<Self>,
        req: ShipOrder,
    ) -> Result<CartView, BoxError> {
        Ok(Self::change(ctx, Change::Ship(req)).await?.1)
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

/// What is wrong with a reason, tracking number or carrier name, if anything.
fn check_order_text(text: Option<&str>) -> ValidatorResult {
    match text {
        Some(t) if t.chars().count() > crate::domain::MAX_ORDER_TEXT_CHARS => {
            Err(crate::domain::OrderError::TooLong.into())
        }
        _ => Ok(()),
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
