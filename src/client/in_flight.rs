//! At most a few changes from this process waiting on one cart at a time.
//!
//! A cart applies its changes one at a time, so more than a few in flight at once buy nothing,
//! and the server turns away updates to a workflow past its limit (ten in flight by default).
//! Turned-away requests cost more than their own retry: while it turns them away the server's
//! log shows it aborting updates of that cart it had already admitted, which are retried in
//! turn, so that a burst of sixty changes to one cart from one `cart serve` could still be
//! retrying when its wait ran out. Here a change past [`MAX_IN_FLIGHT_PER_CART`] waits in this
//! process, within the caller's wait, until one of the changes before it has its answer.
//!
//! The limit counts the changes this process is waiting on. One it stopped waiting for (its
//! wait ran out, its HTTP client went away) may still be pending in the server, and several
//! processes sending to one cart at once can exceed the server's limit: those fall back on the
//! Temporal client's own retries.

use crate::domain::CartId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many changes one process has in flight to one cart at a time: below the server's
/// default limit of ten.
pub const MAX_IN_FLIGHT_PER_CART: usize = 8;

/// The carts this process has changes in flight to, each with its room for more. A cart leaves
/// the map when its last change is answered (or given up).
#[derive(Default)]
pub(super) struct InFlight(Mutex<HashMap<CartId, Arc<Semaphore>>>);

/// A change's place: while it waits for room, then while it is in flight. Dropping it gives the
/// room back.
pub(super) struct Room<'a> {
    carts: &'a InFlight,
    id: CartId,
    /// Held while the change waits, so that its cart stays in the map; let go on drop.
    limit: Option<Arc<Semaphore>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    fn carts(&self) -> std::sync::MutexGuard<'_, HashMap<CartId, Arc<Semaphore>>> {
        // The map holds no invariant a panic elsewhere could break halfway.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, first come first served, until cart `id` has room for one more change.
    pub(super) async fn enter(&self, id: &CartId) -> Room<'_> {
        let limit = self
            .carts()
            .entry(id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT_PER_CART)))
            .clone();
        let mut room = Room {
            carts: self,
            id: id.clone(),
            limit: Some(limit.clone()),
            permit: None,
        };
        // Never closed, so never an error.
        room.permit = limit.acquire_owned().await.ok();
        room
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.carts().len()
    }
}

impl Drop for Room<'_> {
    fn drop(&mut self) {
        let mut carts = self.carts.carts();
        // Let go of this change's references under the lock, so that of two changes to the
        // cart ending at once, the second sees the first's gone.
        self.permit = None;
        self.limit = None;
        // Only the map's reference left: no other change waits on the cart or is in flight.
        // A change takes its first reference under the lock, so none can appear meanwhile.
        if carts
            .get(&self.id)
            .is_some_and(|limit| Arc::strong_count(limit) == 1)
        {
            carts.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Every room cart `id` has.
    async fn fill<'a>(carts: &'a InFlight, id: &CartId) -> Vec<Room<'a>> {
        futures::future::join_all((0..MAX_IN_FLIGHT_PER_CART).map(|_| carts.enter(id))).await
    }

    #[tokio::test]
    async fn a_cart_has_at_most_the_limit_in_flight_and_the_next_waits_its_turn() {
        let carts = InFlight::default();
        let id = CartId::generate();
        let mut held = fill(&carts, &id).await;
        let next = carts.enter(&id);
        tokio::pin!(next);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut next).await;
        assert!(waited.is_err(), "a change past the limit went at once");
        held.pop();
        let entered = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert!(entered.is_ok_and(|room| room.permit.is_some()));
    }

    #[tokio::test]
    async fn a_full_cart_holds_back_no_other_cart() {
        let carts = InFlight::default();
        let busy = CartId::generate();
        let _held = fill(&carts, &busy).await;
        let other = CartId::generate();
        let entered = tokio::time::timeout(Duration::from_secs(5), carts.enter(&other)).await;
        assert!(entered.is_ok_and(|room| room.permit.is_some()));
    }

    #[tokio::test]
    async fn a_cart_is_forgotten_once_nothing_waits_on_it_even_a_change_given_up() {
        let carts = InFlight::default();
        let id = CartId::generate();
        let held = fill(&carts, &id).await;
        // A change that gives up while waiting for room, as when its wait runs out.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), carts.enter(&id)).await;
        assert!(gave_up.is_err());
        assert_eq!(carts.tracked(), 1);
        drop(held);
        assert_eq!(carts.tracked(), 0);
    }
}
