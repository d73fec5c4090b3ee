//! The idle timer: one timer per idle period's next action (the reminder, or the expiry),
//! cancelled and re-armed when the cart changes, and the actions it fires.

use super::options::{self, failure_message};
use super::{CartWorkflow, FirstRun, IdleAction, clock};
use crate::activities::CartActivities;
use crate::domain::Status;
use jiff::Timestamp;
use std::pin::Pin;
use temporalio_sdk::{CancellableFuture, TimerResult, WorkflowContext, WorkflowResult};

use super::metrics::CartEvent;

/// The one idle timer, kept across turns of the run loop and cancelled before it is replaced.
#[derive(Default)]
pub(super) struct IdleTimer<'a> {
    armed: Option<ArmedTimer<'a>>,
}

struct ArmedTimer<'a> {
    at: Timestamp,
    action: IdleAction,
    timer: Pin<Box<dyn CancellableFuture<Output = TimerResult> + 'a>>,
}

impl<'a> IdleTimer<'a> {
    pub(super) fn disarm(&mut self) {
        if let Some(a) = self.armed.take() {
            a.timer.cancel();
        }
    }

    /// Arms the timer for the cart's next idle action, unless it is armed for it already.
    /// Answers the action instead when it is due now.
    pub(super) fn rearm(
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

impl CartWorkflow {
    /// Waits until the cart changes (an update or a signal) or the idle timer fires; answers
    /// the idle action when the timer fired.
    pub(super) async fn wait_for_change(
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

    pub(super) async fn idle_action(
        ctx: &mut WorkflowContext<Self>,
        action: IdleAction,
    ) -> WorkflowResult<()> {
        match action {
            IdleAction::Expire => {
                let now = clock(ctx.workflow_time());
                ctx.state_mut(|w| w.state.expire(now));
            }
            IdleAction::Remind => Self::remind(ctx).await?,
            IdleAction::Order => {}
        }
        Ok(())
    }

    /// Sends the reminder of the current idle period, showing the cart as it is, and keeps
    /// trying ([`options::reminder`]) until it goes out, the provider refuses it for good, the
    /// cart would expire, or the cart changes: a change (an edit, a checkout) ends the idle
    /// period, and its pending send is cancelled, so it is never delivered late. A reminder
    /// that went out counts against the cart's cap of reminders per day.
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
            options::reminder(until_expiry),
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
        match sent {
            Ok(_) => {
                ctx.count(CartEvent::ReminderSent);
                ctx.state_mut(|w| w.state.reminder_sent(revision, now));
            }
            Err(e) => {
                ctx.warn_once(format_args!(
                    "the reminder could not be sent: {}",
                    failure_message(&e)
                ));
                ctx.state_mut(|w| w.state.reminder_done(revision));
            }
        }
        Ok(())
    }
}
