//! At most a few changes from this process in flight to any one cart.
//!
//! A cart applies its changes one at a time, so more than a few in flight at once buy nothing,
//! and the server turns away updates to a workflow past its limit (ten in flight by default).
//! Turned-away requests cost more than their own retry: while it turns them away the server's
//! log shows it aborting updates of that cart it had already admitted, which are retried in
//! turn, so that a burst of sixty changes to one cart from one `cart serve` could still be
//! retrying when its wait ran out. Here the
//! changes past [`PER_CART`] wait in this process, first come first served, within the
//! caller's wait, and the server sees no more than it takes. Two processes sending to the same
//! cart at once stay within the server's default limit; more than that rely on the Temporal
//! client's own retries, as before.

use crate::domain::CartId;
use std::hash::{BuildHasher, RandomState};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many changes one process has in flight to one cart at a time.
pub(super) const PER_CART: usize = 5;
/// Carts share a limit only when they share a stripe: with 256, a process has room for 1,280
/// changes in flight at once, and two busy carts rarely share.
const STRIPES: usize = 256;

pub(super) struct InFlight {
    stripes: Box<[Semaphore]>,
    hasher: RandomState,
}

impl InFlight {
    pub(super) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Semaphore::new(PER_CART)).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Waits for room to send a change to cart `id`; the room is given back when the permit is
    /// dropped. `None` only if the limit were closed, which it never is: the change then goes
    /// without waiting.
    pub(super) async fn enter(&self, id: &CartId) -> Option<SemaphorePermit<'_>> {
        let stripe = self.hasher.hash_one(id.as_str()) as usize % self.stripes.len();
        self.stripes[stripe].acquire().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_cart_has_at_most_per_cart_changes_in_flight_and_the_next_waits_its_turn() {
        let limits = InFlight::new();
        let id = CartId::generate();
        let mut held = Vec::new();
        for _ in 0..PER_CART {
            held.push(limits.enter(&id).await.expect("room"));
        }
        let next = limits.enter(&id);
        tokio::pin!(next);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut next).await;
        assert!(waited.is_err(), "a change past the limit went at once");
        held.pop();
        let entered = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert!(
            matches!(entered, Ok(Some(_))),
            "the waiting change never went"
        );
    }

    #[tokio::test]
    async fn a_full_cart_does_not_hold_back_carts_on_other_stripes() {
        let limits = InFlight::new();
        let busy = CartId::generate();
        let _held: Vec<_> =
            futures::future::join_all((0..PER_CART).map(|_| limits.enter(&busy))).await;
        let stripe_of = |id: &CartId| limits.hasher.hash_one(id.as_str()) as usize % STRIPES;
        let other = std::iter::repeat_with(CartId::generate)
            .find(|id| stripe_of(id) != stripe_of(&busy))
            .expect("another stripe");
        let entered = tokio::time::timeout(Duration::from_secs(5), limits.enter(&other)).await;
        assert!(matches!(entered, Ok(Some(_))));
    }
}
