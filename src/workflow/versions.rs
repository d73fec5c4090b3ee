//! Every change to the commands a cart issues, since the first release.
//!
//! A cart lives for weeks, and a worker replays its history whenever it takes the cart up
//! again: the workflow code must issue the same commands (timers, activities, search-attribute
//! and memo upserts, continue-as-new) for the history it has. A change to those commands goes
//! behind `ctx.patched(ID)` with its id listed here, so that runs recorded before it keep the
//! old behaviour and new runs take the new one. Each entry comes with:
//!
//! - a row in the table below;
//! - a fixture recorded by the release before it, in `tests/fixtures/RELEASE/` (see
//!   CONTRIBUTING.md, "Fixtures"), which the replay tests replay;
//! - a line in CHANGELOG.md.
//!
//! Once no run from before a patch can still be open, the old branch and its fixtures may go,
//! in a release of their own, with `ctx.deprecate_patch(ID)` for one release in between. A run
//! is from before the patch if a worker of an older release ran it, whenever it started: a cart
//! that an older worker continued-as-new is one. So the test is that `cart list` shows no open
//! cart started before the last worker of the older release stopped.
//!
//! | patch | since | decided when | what older runs do |
//! |-------|-------|--------------|--------------------|
//! | `orders` ([`ORDERS`]) | 0.2.0 | when a checkout is paid | finish at once, with the order confirmation: no refunds, cancellations or shipping |
//!
//! Changes that do not alter the commands (a handler's validation, a query, a log line, an
//! activity's own code) need no patch.

/// A paid cart becomes an order that keeps running for its refund window (see
/// [`super::after_checkout`]), instead of finishing with its confirmation.
pub const ORDERS: &str = "orders";

/// Not a version: a decision recorded in the history. A run keeps search attributes when the
/// worker that starts it finds them registered on its namespace; the marker records that it
/// decided so, as the run starts, so that a replay on a worker of any namespace upserts them
/// exactly as the run did (see [`super::search`]).
pub const KEEPS_SEARCH_ATTRIBUTES: &str = "search-attributes";
