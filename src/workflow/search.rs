//! What operators find carts by: Temporal search attributes that each cart keeps up to date,
//! so that `cart list --status payment_pending` (or any list filter) asks Temporal's visibility
//! store rather than every cart, and the cart's status in its memo, which listings show. The
//! customer's e-mail address is never among them.
//!
//! A namespace must have the search attributes registered (`scripts/dev-server` does; see
//! docs/operations.md, "Finding carts"). A worker checks at start: where they are missing it
//! says what to run, and its carts keep none, so a cart never fails for a missing attribute.
//! Whether a run keeps them is decided once, when it starts, and recorded in its history (the
//! [`versions::KEEPS_SEARCH_ATTRIBUTES`] marker), so its replays on any worker do the same.

use super::metrics::CartEvent;
use super::versions;
use super::{CartWorkflow, FirstRun};
use crate::domain::Status;
use temporalio_common::MemoValue;
use temporalio_common::search_attributes::{SearchAttributeKey, Timestamp};
use temporalio_sdk::WorkflowContext;

/// The memo key of the cart's status; clients read it from listings.
pub const STATUS_KEY: &str = "status";

pub const STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("CartStatus");
/// How many products the cart holds (its quantities summed).
pub const ITEMS: SearchAttributeKey<i64> = SearchAttributeKey::int("CartItems");
/// The total in minor units (cents) of the cart's currency.
pub const TOTAL: SearchAttributeKey<i64> = SearchAttributeKey::int("CartTotal");
pub const UPDATED_AT: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime("CartUpdatedAt");

/// Every attribute with its Temporal type, as `temporal operator search-attribute create` and
/// `temporal server start-dev --search-attribute` take them.
pub const ALL: [(&str, &str); 4] = [
    ("CartStatus", "Keyword"),
    ("CartItems", "Int"),
    ("CartTotal", "Int"),
    ("CartUpdatedAt", "Datetime"),
];

impl CartWorkflow {
    /// Whether this run keeps search attributes: where the worker's namespace has them, and
    /// always as its history says once it has decided, so a replay on any worker does the
    /// same. Decided once, as the run starts.
    pub(super) fn decide_search_attributes(ctx: &mut WorkflowContext<Self>) {
        let registered = ctx
            .context_value::<super::hosted::HostedKey>()
            .is_some_and(|h| h.search_attributes);
        let keep =
            (registered || ctx.is_replaying()) && ctx.patched(versions::KEEPS_SEARCH_ATTRIBUTES);
        ctx.state_mut(|w| w.search_attributes = keep);
    }

    /// Sets the cart's search attributes when its status or contents changed since they were
    /// last set (never its e-mail address).
    pub(super) fn index(ctx: &mut WorkflowContext<Self>) {
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
        let updated_at = Timestamp::new(updated_at.as_second(), updated_at.subsec_nanosecond());
        ctx.upsert_search_attributes([
            STATUS.value_set(status.as_str().to_owned()),
            ITEMS.value_set(items),
            TOTAL.value_set(total),
            UPDATED_AT.value_set(updated_at),
        ]);
        ctx.state_mut(|w| w.indexed = Some((status, revision)));
    }

    /// On a change of status: counts what it means (a checkout attempted, paid, declined (the
    /// cart open again) or not known yet, a cart expired), and keeps the status in the cart's
    /// memo, where `cart list` reads it without asking each cart.
    pub(super) fn status_changed(ctx: &mut WorkflowContext<Self>) {
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
        if let Err(e) = ctx.upsert_memo([(STATUS_KEY, Some(MemoValue::new(status)))]) {
            ctx.warn_once(format!("cannot keep the status in the memo: {e}"));
        }
    }
}
