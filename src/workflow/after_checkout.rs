//! The order's life, after a paid checkout: the confirmation, the refunds asked of the
//! provider until each is known, the e-mails the order owes, and the end of the run once the
//! refund window has closed and no refund is left unknown. Changes (refunds, cancellations,
//! shipments) apply beside it, through the applier, like the cart's.

use super::idle::IdleTimer;
use super::options::{self, failure_message};
use super::payment::unanswered;
use super::{Applied, CartView, CartWorkflow, FirstRun, IdleAction, UpdateError, clock};
use crate::activities::{CartActivities, OrderNotice};
use crate::domain::{Heard, Status, Step};
use futures::FutureExt;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

impl CartWorkflow {
    /// The order's life: its loop, and beside it the e-mails it owes (so that a mail provider
    /// that is down for days never holds a refund back).
    pub(super) async fn keep_order(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let mail_ctx = ctx.clone();
        let mut mail = std::pin::pin!(Self::send_mail(&mail_ctx).fuse());
        let mut order = std::pin::pin!(Self::order_loop(ctx).fuse());
        temporalio_sdk::workflows::select! {
            ended = order => ended,
            never = mail => match never {},
        }
    }

    /// The order's loop: one thing per turn, from the state as it is.
    async fn order_loop(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let timers = ctx.clone();
        let mut wake = IdleTimer::default();
        loop {
            Self::status_changed(ctx);
            Self::index(ctx);
            let revision = ctx.state(|w| w.state.revision);
            // A refund whose handler waits keeps the run: the handler must answer in it.
            let at_rest = |w: &Self| w.state.order.as_ref().is_none_or(|o| !o.in_first_round());
            if ctx.state(at_rest) && ctx.continue_as_new_suggested() {
                Self::continue_as_new(ctx, &mut wake, at_rest).await?;
                continue;
            }
            if !ctx.state(Self::settled) {
                ctx.wait_condition(|w| w.settled()).await?;
                continue;
            }
            let now = clock(ctx.workflow_time());
            let Some((due, closes_at)) = ctx.state(|w| {
                let order = w.state.order.as_ref()?;
                let due = order.next_refund().map(|(_, _, at)| at);
                Some((due, order.closes_at))
            }) else {
                return Self::order_finished(ctx).await;
            };
            if due.is_some_and(|at| at <= now) {
                wake.disarm();
                Self::refund_step(ctx).await;
                continue;
            }
            let next = match due {
                None if now >= closes_at => {
                    wake.disarm();
                    return Self::order_finished(ctx).await;
                }
                None => closes_at,
                // Past the window, only a refund still unknown wakes the order.
                Some(at) if now >= closes_at => at,
                Some(at) => at.min(closes_at),
            };
            let next = Some((next, IdleAction::Order));
            if wake
                .rearm(next, || clock(ctx.workflow_time()), &timers)
                .is_some()
            {
                continue;
            }
            Self::wait_for_change(ctx, &mut wake, Status::CheckedOut, revision).await?;
        }
    }

    /// Sends what the order owes its customer, one e-mail at a time, for as long as the run
    /// lasts: the order confirmation first, then a notice per refund made, cancellation and
    /// shipment, in the order they happened.
    async fn send_mail(ctx: &WorkflowContext<Self>) -> std::convert::Infallible {
        let mut ctx = ctx.clone();
        let owed = |w: &Self| {
            let order = w.state.order.as_ref();
            order.is_some_and(|o| !o.confirmed || !o.notices.is_empty())
        };
        loop {
            if ctx.wait_condition(owed).await.is_err() {
                return std::future::pending().await;
            }
            // Between two e-mails the run may hand over (see `mailing`); not during one.
            if ctx.state(|w| w.draining) {
                let handed_over = ctx.wait_condition(|w| !w.draining).await;
                if handed_over.is_err() {
                    return std::future::pending().await;
                }
                continue;
            }
            ctx.state_mut(|w| w.mailing = true);
            if ctx.state(|w| w.state.order.as_ref().is_some_and(|o| !o.confirmed)) {
                Self::send_confirmation(&mut ctx).await;
                ctx.state_mut(|w| {
                    if let Some(order) = w.state.order.as_mut() {
                        order.confirmed = true;
                    }
                });
            } else {
                Self::send_notice(&mut ctx).await;
            }
            ctx.state_mut(|w| w.mailing = false);
        }
    }

    /// The window has closed and every refund is known: once every handler has answered and
    /// every e-mail owed has gone (or was given up after its days of tries), the order as it
    /// ends is the workflow's result.
    async fn order_finished(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let c = &*ctx;
        let mailed = |w: &Self| {
            let order = w.state.order.as_ref();
            order.is_none_or(|o| o.confirmed && o.notices.is_empty())
        };
        c.wait_condition(|w| w.settled() && mailed(w) && c.all_handlers_finished())
            .await?;
        Ok(ctx.state(|w| w.state.view()))
    }

    /// The answer to a refund or cancellation: once the refund it asked for is known, or its
    /// first round of questions is over, the order as it stands, or (`failure_refuses`, for a
    /// refund) why the refund failed. A cancellation that happened answers the order even when
    /// its refund failed: the order shows why.
    pub(super) async fn refund_answered(
        ctx: &mut WorkflowContext<Self>,
        (applied, view): (Applied, CartView),
        failure_refuses: bool,
    ) -> Result<CartView, UpdateError> {
        let Applied::Refund { id } = applied else {
            return Ok(view);
        };
        let answered = |w: &Self| w.state.order.as_ref().is_none_or(|o| o.answered(&id));
        ctx.wait_condition(answered)
            .await
            .map_err(|e| UpdateError::Interrupted(e.to_string()))?;
        ctx.state(|w| {
            let failure = w.state.order.as_ref().and_then(|o| o.failure(&id));
            match failure {
                Some(reason) if failure_refuses => Err(UpdateError::Refund(reason.to_owned())),
                _ => Ok(w.state.view()),
            }
        })
    }

    /// Asks the provider about the refund due first, and records what it said. A refund's
    /// record knows its provider (the payment's) and never gives a refund up, so it asks only
    /// to send the refund, to follow it up, or to look it up.
    async fn refund_step(ctx: &mut WorkflowContext<Self>) {
        let Some((at, step, call, timing)) = ctx.state(|w| {
            let order = w.state.order.as_ref()?;
            let (at, step, _) = order.next_refund()?;
            let refund = &order.refunding[at];
            Some((at, step.clone(), refund.call(&step), refund.record.timing()))
        }) else {
            return;
        };
        let asked = clock(ctx.workflow_time());
        let options = options::payment(&timing);
        let answer = match &step {
            Step::Send => {
                ctx.execute_activity(CartActivities::refund, call, options)
                    .await
            }
            Step::Retrieve { .. } | Step::Cancel { .. } => {
                ctx.execute_activity(CartActivities::retrieve_refund, call, options)
                    .await
            }
            Step::Search | Step::Provider => {
                ctx.execute_activity(CartActivities::find_refund, call, options)
                    .await
            }
        };
        let answer = answer.map_err(|e| unanswered(&e));
        let now = clock(ctx.workflow_time());
        let heard = ctx.state_mut(|w| {
            let order = w.state.order.as_mut()?;
            let heard = order.refund_heard(at, &step, asked, answer, now);
            w.state.touch(now);
            Some(heard)
        });
        if let Some(Heard::Nothing { unrelated: true }) = heard {
            let reason = ctx.state(|w| {
                let order = w.state.order.as_ref()?;
                let refund = order.refunding.get(at)?;
                refund.record.reason().map(str::to_owned)
            });
            if let Some(reason) = reason {
                ctx.error_once(format_args!(
                    "a refund is not settled, and the payment provider's answer needs an operator: {reason}"
                ));
            }
        }
    }

    /// Sends the notice the order owes first, and keeps trying for a while (see
    /// [`options::CONFIRMATION_TRIED_FOR`]); one that cannot be sent is logged and dropped.
    async fn send_notice(ctx: &mut WorkflowContext<Self>) {
        let Some(notice) = ctx.state(|w| {
            let order = w.state.order.as_ref()?;
            let notice = order.notices.front()?;
            Some(OrderNotice {
                cart_id: w.state.cart.id().clone(),
                message_key: notice.key.clone(),
                email: w.state.cart.email()?.clone(),
                event: notice.event.clone(),
            })
        }) else {
            ctx.state_mut(|w| w.state.order.as_mut().map(|o| o.notices.pop_front()));
            return;
        };
        let options = options::mail_until(options::CONFIRMATION_TRIED_FOR);
        let sent = ctx
            .execute_activity(CartActivities::send_order_notice, notice, options)
            .await;
        if let Err(e) = sent {
            ctx.warn_once(format_args!(
                "an e-mail about the order could not be sent: {}",
                failure_message(&e)
            ));
        }
        ctx.state_mut(|w| w.state.order.as_mut().map(|o| o.notices.pop_front()));
    }
}
