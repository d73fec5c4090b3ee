//! What carts do, counted for the worker's metrics: carts started, items added, checkouts and
//! their outcomes, answers that left a payment unsettled, reminders sent, carts expired, signals ignored.
//!
//! The workflow counts an event when its code first runs it, never when a history replays, so a
//! cart rebuilt on another worker (or after an eviction) does not count its past again. The
//! counters belong to the worker, which lends them to its carts ([`super::hosted`]); a worker
//! without metrics has none, so nothing is counted.

/// Something a cart did that operators count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartEvent {
    /// A new cart (not a cart's continue-as-new).
    Started,
    /// A product added, or more of one.
    ItemAdded,
    CheckoutAttempted,
    Paid,
    Declined,
    /// A charge whose outcome is not known yet.
    PaymentPending,
    /// An answer of the payment provider that left a payment unsettled: one that says nothing
    /// (a timeout, 5xx), or one about something else than the payment (`unrelated`: 401, 403,
    /// another refusal of the request), which needs an operator.
    PaymentUnsettled {
        unrelated: bool,
    },
    ReminderSent,
    Expired,
    /// A tutorial signal, or an item of a start input, that the cart could not apply (it was
    /// unreadable or refused): nobody hears of it otherwise.
    SignalIgnored,
}

/// Where a worker counts what its carts do.
pub trait CartCounters: Send + Sync {
    fn count(&self, event: CartEvent);
}
