//! The payment phase of a checkout: one question to the provider at a time, as the payment
//! record decides (see [`crate::domain::payment`]), until the payment is paid or refused.

use super::metrics::CartEvent;
use super::options::{self, failure_message};
use super::{CartWorkflow, FirstRun, clock};
use crate::activities::CartActivities;
use crate::domain::{Heard, Observation, Status, Step};
use temporalio_common::error::TimeoutType;
use temporalio_sdk::{ActivityExecutionError, WorkflowContext};

impl CartWorkflow {
    /// One question about the checkout's payment, when the payment record says to ask it, and
    /// what its answer changes: paid, refused (the cart opens again), or not known yet (the
    /// cart waits for it, `payment_pending` once the first round of questions is over).
    pub(super) async fn pay(ctx: &mut WorkflowContext<Self>) {
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
        let options = options::payment(&timing);
        let answer = match &step {
            Step::Provider => {
                let activity = CartActivities::payment_provider;
                ctx.execute_activity(activity, call.request, options).await
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
}

/// What a payment activity that did not answer says: nothing was sent if no worker took it in
/// time; otherwise it may have sent anything.
pub(super) fn unanswered(err: &ActivityExecutionError) -> Observation {
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
