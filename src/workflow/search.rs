//! What operators find carts by: Temporal search attributes that each cart keeps up to date,
//! so that `cart list --status payment_pending` (or any list filter) asks Temporal's visibility
//! store rather than every cart. The customer's e-mail address is never among them.
//!
//! A namespace must have them registered (`scripts/dev-server` does; see README.md,
//! "Finding carts"). A worker checks at start: where they are missing it says what to run, and
//! its carts keep none, so a cart never fails for a missing attribute. Whether a run keeps them
//! is decided once, when it starts, and recorded in its history (the `search-attributes` patch),
//! so its replays on any worker do the same.

use temporalio_common::search_attributes::{SearchAttributeKey, Timestamp};

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
