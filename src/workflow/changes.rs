//! The changes a cart has received and not applied yet, in the order Temporal delivered them.
//!
//! Every handler, update or tutorial signal, puts its change at the back of one queue as it
//! first runs, and one applier in the run loop takes them from the front, one at a time. A
//! change that must wait (an add that needs its product priced) holds back every change behind
//! it, so a remove sent after an add always finds the add's line, however long the price took.
//! An update's handler waits for its own change's outcome and answers it; a signal's handler
//! only queues (a signal cannot answer) and the applier logs a change it refuses.
//!
//! The queue is part of the state a continue-as-new hands on: changes that no handler waits
//! for (signals, the items of a tutorial start input) and that were not applied yet when the
//! run ended are applied first in the next run, in the same order.

use super::messages::{CancelOrder, Checkout, RefundOrder, ShipOrder};
use crate::domain::Cart;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// One change to a cart, as it waits its turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Add {
        product: i64,
        quantity: i64,
    },
    /// `quantity: None` removes the whole line.
    Remove {
        product: i64,
        quantity: Option<i64>,
    },
    /// The tutorial's remove: the whole line when asked for as many as it holds, or more.
    RemoveUpTo {
        product: i64,
        quantity: i64,
    },
    SetEmail {
        email: String,
    },
    Checkout(Checkout),
    /// The order's changes, after a paid checkout.
    Refund(RefundOrder),
    Cancel(CancelOrder),
    Ship(ShipOrder),
}

impl Change {
    /// The product this change must have priced before it applies to `cart`: an add of a
    /// product the cart does not hold yet, where the cart would take a new line. An add the
    /// cart refuses anyway asks for no price.
    pub fn needs_price(&self, cart: &Cart) -> Option<i64> {
        match *self {
            Change::Add { product, quantity }
                if cart.product(product).is_none() && cart.check_new_line(quantity).is_ok() =>
            {
                Some(product)
            }
            _ => None,
        }
    }
}

/// Who sent a change, and so who hears its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sender {
    /// An update: its handler waits for the outcome and answers it.
    Update,
    /// A tutorial signal, by name: nobody waits, and a refusal is logged.
    Signal(String),
    /// An item of a tutorial start input: as a signal, but it begins no idle period.
    StartItem,
}

/// A change in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Its place in the order of arrival, counted across continue-as-new.
    pub seq: u64,
    pub change: Change,
    pub sender: Sender,
}

/// The queue of changes not applied yet, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    next: u64,
    pending: VecDeque<Pending>,
}

impl Changes {
    /// Puts a change at the back of the queue; its place in the order.
    pub fn push(&mut self, change: Change, sender: Sender) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.pending.push_back(Pending {
            seq,
            change,
            sender,
        });
        seq
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// The change to apply next: the oldest. While the run is `draining` towards a
    /// continue-as-new, only as long as an update waits in the queue (its handler must answer
    /// in this run, and so must every change before it); the changes after the last update
    /// are left for the next run.
    pub fn next(&self, draining: bool) -> Option<&Pending> {
        if draining && !self.pending.iter().any(|p| p.sender == Sender::Update) {
            return None;
        }
        self.pending.front()
    }

    /// Takes the change `seq` off the front of the queue once it has been applied.
    pub fn applied(&mut self, seq: u64) -> Option<Pending> {
        match self.pending.front() {
            Some(front) if front.seq == seq => self.pending.pop_front(),
            _ => None,
        }
    }

    /// Whether the queue still holds the change `seq`.
    pub fn holds(&self, seq: u64) -> bool {
        self.pending.iter().any(|p| p.seq == seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(product: i64) -> Change {
        Change::Add {
            product,
            quantity: 1,
        }
    }

    #[test]
    fn changes_leave_the_queue_in_the_order_they_entered_it() {
        let mut q = Changes::default();
        let a = q.push(add(1), Sender::Signal("ADD".into()));
        let b = q.push(add(2), Sender::Update);
        assert_eq!(q.next(false).map(|p| p.seq), Some(a));
        assert_eq!(q.applied(b), None, "only the oldest can have been applied");
        assert_eq!(q.applied(a).map(|p| p.change), Some(add(1)));
        assert_eq!(q.next(false).map(|p| p.seq), Some(b));
        assert!(q.holds(b) && !q.holds(a));
    }

    #[test]
    fn a_draining_run_applies_up_to_the_last_update_and_leaves_the_rest() {
        let mut q = Changes::default();
        let signal = || Sender::Signal("ADD".into());
        let first = q.push(add(1), signal());
        let update = q.push(add(2), Sender::Update);
        q.push(add(3), signal());
        assert_eq!(q.next(true).map(|p| p.seq), Some(first));
        q.applied(first);
        assert_eq!(q.next(true).map(|p| p.seq), Some(update));
        q.applied(update);
        assert_eq!(q.next(true), None, "the signal behind the update waits");
        assert_eq!(q.len(), 1);
        assert!(q.next(false).is_some());
    }

    #[test]
    fn the_order_goes_on_across_continue_as_new() {
        let mut q = Changes::default();
        q.push(add(1), Sender::Signal("ADD".into()));
        let carried: Changes = serde_json::from_value(serde_json::to_value(&q).unwrap()).unwrap();
        let mut q = carried;
        let later = q.push(add(2), Sender::Update);
        assert_eq!(later, 1);
        assert_eq!(q.next(false).map(|p| p.seq), Some(0));
    }
}

/// The run loop's ordering, as a property: whatever the changes, whoever sends them, however
/// pushes interleave with the applier's price lookups, and wherever the run hands over, the
/// cart ends as if every change had been applied alone, in the order it arrived.
#[cfg(test)]
mod ordering {
    use super::*;
    use crate::domain::{CartId, Catalog, ProductId};
    use crate::workflow::messages::CartSettings;
    use crate::workflow::state::CartState;
    use jiff::Timestamp;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        /// A change arrives.
        Push(Change, bool),
        /// The applier takes the next change; it applies once its price (if any) is in.
        Take,
        /// The price lookup of the change being applied answers, and it applies.
        Answer,
        /// The server suggests continue-as-new: the run drains and hands over once it can.
        HandOver,
    }

    fn change() -> impl Strategy<Value = Change> {
        let product = 0..5_i64;
        prop_oneof![
            (product.clone(), 1..4_i64)
                .prop_map(|(product, quantity)| Change::Add { product, quantity }),
            (product.clone(), proptest::option::of(1..4_i64))
                .prop_map(|(product, quantity)| Change::Remove { product, quantity }),
            (product, 1..4_i64)
                .prop_map(|(product, quantity)| Change::RemoveUpTo { product, quantity }),
            Just(Change::SetEmail {
                email: "ann@example.com".into()
            }),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (change(), any::<bool>()).prop_map(|(c, update)| Step::Push(c, update)),
            3 => Just(Step::Take),
            3 => Just(Step::Answer),
            1 => Just(Step::HandOver),
        ]
    }

    fn fresh() -> CartState {
        let cart = Cart::new(CartId::parse("CART-order").unwrap());
        CartState::new(cart, CartSettings::frozen_default(), "run".into(), now())
    }

    fn now() -> Timestamp {
        Timestamp::UNIX_EPOCH
    }

    /// A price as the worker's catalog gives it (product 4 is not sold).
    fn price(product: i64) -> Option<crate::domain::Product> {
        let id = ProductId::try_from(product).ok()?;
        Catalog::builtin().get(id).cloned()
    }

    /// Applies a change as the applier does: priced first where it needs a price.
    fn apply(state: &mut CartState, pending: &Pending) {
        let needs = pending.change.needs_price(&state.cart);
        let found = needs.map(price);
        if let Some(None) = found {
            return; // not sold: refused
        }
        let _ = state.apply(
            &pending.change,
            &pending.sender,
            found.flatten().as_ref(),
            now(),
        );
    }

    proptest! {
        #[test]
        fn changes_apply_in_the_order_they_arrived(steps in proptest::collection::vec(step(), 1..80)) {
            let mut state = fresh();
            let mut sent = Vec::new();
            let mut applied = Vec::new();
            let mut taken: Option<Pending> = None;
            let mut draining = false;
            let mut runs = 1;
            for step in steps {
                match step {
                    Step::Push(change, update) => {
                        let sender = if update { Sender::Update } else { Sender::Signal("S".into()) };
                        let seq = state.changes.push(change.clone(), sender.clone());
                        sent.push(Pending { seq, change, sender });
                    }
                    Step::Take if taken.is_none() => {
                        taken = state.changes.next(draining).cloned();
                    }
                    Step::Answer => {
                        if let Some(next) = taken.take() {
                            prop_assert!(state.changes.applied(next.seq).is_some());
                            apply(&mut state, &next);
                            applied.push(next);
                        }
                    }
                    Step::HandOver => draining = true,
                    Step::Take => {}
                }
                // The hand-over happens once nothing is being applied and no update waits.
                let updates_wait = state.changes.next(true).is_some();
                if draining && taken.is_none() && !updates_wait {
                    let carried: CartState = serde_json::from_value(
                        serde_json::to_value(&state).unwrap(),
                    ).unwrap();
                    state = carried;
                    draining = false;
                    runs += 1;
                }
            }
            // The last run applies what is left.
            if let Some(next) = taken.take() {
                state.changes.applied(next.seq);
                apply(&mut state, &next);
                applied.push(next);
            }
            while let Some(next) = state.changes.next(false).cloned() {
                state.changes.applied(next.seq);
                apply(&mut state, &next);
                applied.push(next);
            }
            prop_assert_eq!(&applied, &sent, "every change once, in order ({} runs)", runs);
            let mut alone = fresh();
            for pending in &sent {
                apply(&mut alone, pending);
            }
            prop_assert_eq!(alone.cart.items(), state.cart.items());
        }
    }
}
