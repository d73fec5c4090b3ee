//! The cart's life, beside the applier of its changes: pay for a checkout, hand a long
//! history on to a new run, wait for a change or the idle timer, and finish a closed cart.

use super::idle::IdleTimer;
use super::metrics::CartEvent;
use super::options::{self, failure_message};
use super::{CartInput, CartView, CartWorkflow, FirstRun, clock, versions};
use crate::activities::CartActivities;
use crate::domain::Status;
use temporalio_sdk::{ContinueAsNewOptions, WorkflowContext, WorkflowResult};

impl CartWorkflow {
    /// One phase per turn of the loop: finish a closed cart, pay for a checkout, hand a long
    /// history on to a new run, and otherwise wait for a change or for the idle timer. Changes
    /// apply in between; every turn starts from the state as it is.
    pub(super) async fn live(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let notes = ctx.state_mut(|w| std::mem::take(&mut w.start_notes));
        for note in notes {
            ctx.warn_once(note);
        }
        if ctx.state(|w| w.new_cart) {
            ctx.count(CartEvent::Started);
        }
        Self::decide_search_attributes(ctx);
        // A second handle on the context owns the timer, so the loop can lend `ctx` mutably.
        let timers = ctx.clone();
        let mut idle = IdleTimer::default();
        loop {
            Self::status_changed(ctx);
            Self::index(ctx);
            let (status, revision) = ctx.state(|w| (w.state.cart.status(), w.state.revision));
            if matches!(status, Status::CheckedOut | Status::Expired) {
                idle.disarm();
                if status == Status::CheckedOut && ctx.patched(versions::ORDERS) {
                    return Self::keep_order(ctx).await;
                }
                return Self::finish(ctx, status).await;
            }
            // A cart whose payment is pending may wait days for it; its state goes on whole.
            let at_rest = matches!(status, Status::Open | Status::PaymentPending);
            if at_rest && ctx.continue_as_new_suggested() {
                let unchanged = move |w: &Self| w.state.cart.status() == status;
                Self::continue_as_new(ctx, &mut idle, unchanged).await?;
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
            let next = ctx.state(|w| w.state.next_idle_action());
            if let Some(due) = idle.rearm(next, || clock(ctx.workflow_time()), &timers) {
                Self::idle_action(ctx, due).await?;
                continue;
            }
            if let Some(fired) = Self::wait_for_change(ctx, &mut idle, status, revision).await? {
                Self::idle_action(ctx, fired).await?;
            }
        }
    }

    /// A checked-out or expired cart, in a run from before orders (see [`versions::ORDERS`]):
    /// once every handler has answered, the order confirmation of a paid cart, and the cart as
    /// it ends is the workflow's result. It has no order.
    async fn finish(ctx: &mut WorkflowContext<Self>, status: Status) -> WorkflowResult<CartView> {
        // Before the wait: a refund that arrives meanwhile is refused, never left waiting.
        ctx.state_mut(|w| w.state.order = None);
        let c = &*ctx;
        c.wait_condition(|w| w.settled() && c.all_handlers_finished())
            .await?;
        if status == Status::CheckedOut {
            Self::send_confirmation(ctx).await;
        }
        Ok(ctx.state(|w| w.state.view()))
    }

    pub(super) async fn send_confirmation(ctx: &mut WorkflowContext<Self>) {
        let Some(request) = ctx.state(|w| w.state.confirmation_request()) else {
            return;
        };
        let options = options::mail_until(options::CONFIRMATION_TRIED_FOR);
        let sent = ctx
            .execute_activity(CartActivities::send_confirmation, request, options)
            .await;
        if let Err(e) = sent {
            ctx.warn_once(format_args!(
                "the order confirmation could not be sent: {}",
                failure_message(&e)
            ));
        }
    }

    /// Hands the cart on to a new run when the server suggests it (the history is long), once
    /// every handler has answered, if the cart is still `at_rest` by then. Meanwhile
    /// the applier applies only what an update waits for; the changes behind the last update
    /// go on to the next run with the state. A change of status ends the wait: a checkout
    /// that arrives meanwhile waits for its payment, which the loop then makes first (so the
    /// two never wait for each other).
    pub(super) async fn continue_as_new(
        ctx: &mut WorkflowContext<Self>,
        idle: &mut IdleTimer<'_>,
        at_rest: impl Fn(&Self) -> bool,
    ) -> WorkflowResult<()> {
        ctx.state_mut(|w| w.draining = true);
        let c = &*ctx;
        let moved_on = |w: &Self| !at_rest(w);
        let quiet = |w: &Self| !w.applying && !w.mailing && c.all_handlers_finished();
        c.wait_condition(|w| moved_on(w) || quiet(w)).await?;
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
}
