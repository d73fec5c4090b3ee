//! How long each activity a cart schedules may take, and how it is retried. These values are
//! part of the commands a cart issues: changing one changes what a new run records (see
//! [`super::versions`]).

use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{ActivityCloseTimeouts, ActivityExecutionError, ActivityOptions};

use crate::domain::PaymentTiming;

/// How long a price lookup may take, waiting for a worker included.
pub(super) const PRICE_TRIED_FOR: Duration = Duration::from_secs(60);

/// How long an order confirmation is tried for.
pub(super) const CONFIRMATION_TRIED_FOR: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// The longest wait between two attempts at an e-mail: once a provider is back, a pending
/// reminder or confirmation goes out within this.
pub(super) const MAIL_RETRY_MAX: Duration = Duration::from_secs(10 * 60);

/// How often a reminder attempt under way must show it is alive (and learns of a cancel).
const REMINDER_HEARTBEAT: Duration = Duration::from_secs(5);

/// A price lookup: a few quick tries, then the change fails with the reason.
///
/// It is an activity, not a local one, though a local activity would save a round trip: with
/// the SDK this is built on (temporalio-sdk-core 0.10), local activities running while more
/// updates arrive for the same cart can stop the worker ("Trying to send a new WFT for a run
/// which already has one", seen with 60 concurrent adds). The worker that completes the
/// workflow task usually runs the activity at once (eager execution), and only a product new
/// to the cart needs one.
pub(super) fn price() -> ActivityOptions {
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

/// A question about a payment: one attempt (what to ask next is the payment record's
/// decision, never a retry's), which may wait a minute for a worker to take it and then lasts
/// a little longer than the provider's requests may (at most 30 s), so that a request has ended
/// before the workflow hears the attempt is over. A send taken later than the minute sends
/// nothing (the server times it out before it starts), so the key's age stays bounded by when
/// the send was scheduled.
pub(super) fn payment(timing: &PaymentTiming) -> ActivityOptions {
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

/// E-mail is tried until `deadline` has passed: a second after the first attempt, then twice
/// as long after each, and at least every [`MAIL_RETRY_MAX`]. An attempt may take 30 s.
pub(super) fn mail_until(deadline: Duration) -> ActivityOptions {
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
pub(super) fn reminder(until_expiry: Duration) -> ActivityOptions {
    let mut opts = mail_until(until_expiry);
    opts.heartbeat_timeout = Some(REMINDER_HEARTBEAT);
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
pub(super) fn failure_message(err: &ActivityExecutionError) -> String {
    err.cause()
        .map(|cause| cause.failure().message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| err.to_string())
}
