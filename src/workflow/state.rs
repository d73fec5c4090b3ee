//! The workflow's state as plain data: the cart plus what the workflow tracks around it
//! (times, revision, reminder bookkeeping, receipt). All decisions about timers are pure
//! functions of this state, so they replay identically and are unit-tested without Temporal.

use super::changes::{Change, Changes, Sender};
use super::messages::{CartSettings, CartView, Checkout, LineView, Receipt};
use super::order::{OrderApplied, OrderState};
use crate::activities::{ChargeRequest, ConfirmationRequest, PaymentCall, ReminderRequest};
use crate::domain::{
    Cart, CartError, Heard, Known, Observation, PaymentAnswer, PaymentRecord, Product, Status, Step,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Everything a cart workflow knows; carried whole through continue-as-new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartState {
    pub cart: Cart,
    pub settings: CartSettings,
    /// The first run id of this cart. Part of every idempotency key, so a new cart that reuses
    /// an old cart's id can never be mistaken for it by the payment provider.
    pub instance: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped by every change; the run loop re-arms its timer whenever it moves.
    pub revision: u64,
    /// The revision for which a reminder went out (or was given up on): at most one per idle
    /// period.
    pub reminded_revision: Option<u64>,
    /// When the latest reminders went out, oldest first: as many as the cap per day counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders_sent: Vec<Timestamp>,
    pub receipt: Option<Receipt>,
    /// The payment of the checkout under way, kept until it is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<CheckoutPayment>,
    /// The changes received and not applied yet, oldest first (see [`super::changes`]).
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub changes: Changes,
    /// What the cart became once paid (see [`super::order`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderState>,
}

/// A payment, either way: the request every call sends (a checkout's charge, a refund;
/// idempotency key included), and what is known about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment<R> {
    pub request: R,
    pub record: PaymentRecord,
}

/// A checkout's payment.
pub type CheckoutPayment = Payment<ChargeRequest>;

impl<R: Clone> Payment<R> {
    /// The activities' question for `step`, with what the record knows that it needs.
    pub fn call(&self, step: &Step) -> PaymentCall<R> {
        let reference = match step {
            Step::Retrieve { reference } | Step::Cancel { reference } => Some(reference.clone()),
            _ => None,
        };
        PaymentCall {
            request: self.request.clone(),
            provider: self.record.provider().map(str::to_owned),
            reference,
            first_sent: self.record.first_sent(),
            key_window: self
                .record
                .provider()
                .map(|_| self.record.timing().key_window),
        }
    }
}

/// What applying a change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A refund was asked for (or asked for again) under `id`: its handler waits for it.
    Refund {
        id: String,
    },
    Changed,
    /// A checkout began, the cart's `attempt`-th: the run loop pays for it.
    CheckoutBegun {
        attempt: u32,
    },
    /// A checkout of a cart already paying or paid: it begins nothing (see
    /// [`joins_checkout`]).
    JoinedCheckout,
}

/// Whether a checkout of a cart in `status` joins the one under way or done, instead of
/// beginning one: it then answers the cart as it is, paid or still paying, never a refusal. A
/// person told "nothing was charged" about a cart that is paying would pay some other way. (What
/// the joining checkout asked to pay with is not used: the payment under way is the one.)
pub fn joins_checkout(status: Status) -> bool {
    status.is_paying() || status == Status::CheckedOut
}

/// The window of the reminder cap.
const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// `from` plus `d`, saturating at the end of time.
fn after(from: Timestamp, d: std::time::Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    from.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// What the single idle timer is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleAction {
    Remind,
    Expire,
    /// Something of the order falls due (a refund's next question, the end of its window):
    /// the order's loop looks again.
    Order,
}

impl CartState {
    pub fn new(cart: Cart, settings: CartSettings, instance: String, now: Timestamp) -> Self {
        Self {
            cart,
            settings,
            instance,
            created_at: now,
            updated_at: now,
            revision: 0,
            reminded_revision: None,
            reminders_sent: Vec::new(),
            receipt: None,
            payment: None,
            changes: Changes::default(),
            order: None,
        }
    }

    pub fn view(&self) -> CartView {
        let mut view = CartView::of(
            &self.cart,
            self.created_at,
            self.updated_at,
            self.reminded_revision == Some(self.revision),
            self.receipt.clone(),
        );
        view.order = self.order.as_ref().map(OrderState::view);
        view
    }

    /// Records a change: a new idle period starts now.
    pub fn touch(&mut self, now: Timestamp) {
        self.updated_at = now.max(self.updated_at);
        self.revision += 1;
    }

    /// The one thing the idle timer should fire for next, and when; `None` when nothing is
    /// pending (a cart that is not open waits only for messages). A reminder due past the
    /// cart's cap of reminders per day waits for a free slot, or gives way to the expiry.
    pub fn next_idle_action(&self) -> Option<(Timestamp, IdleAction)> {
        if self.cart.status() != Status::Open {
            return None;
        }
        let expire_at = self.expires_at();
        let wants_reminder = !self.cart.is_empty()
            && self.cart.email().is_some()
            && self.reminded_revision != Some(self.revision);
        let remind_at = self
            .next_reminder_slot()
            .map(|slot| slot.max(after(self.updated_at, self.settings.reminder_delay)));
        match remind_at {
            Some(at) if wants_reminder && at < expire_at => Some((at, IdleAction::Remind)),
            _ => Some((expire_at, IdleAction::Expire)),
        }
    }

    /// When the cart expires unless it changes first.
    pub fn expires_at(&self) -> Timestamp {
        after(self.updated_at, self.settings.expire_after)
    }

    /// The earliest time the cap lets another reminder go out; `None` when it never does.
    fn next_reminder_slot(&self) -> Option<Timestamp> {
        let Some(cap) = self.settings.reminders_per_day else {
            return Some(Timestamp::MIN);
        };
        if cap == 0 {
            return None;
        }
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        // The oldest of the last `cap` reminders leaves the window a day after it went out.
        Some(match self.reminders_sent.len().checked_sub(cap) {
            Some(i) => after(self.reminders_sent[i], DAY),
            None => Timestamp::MIN,
        })
    }

    /// The reminder of idle period `revision` went out at `now` (counted against the cap).
    pub fn reminder_sent(&mut self, revision: u64, now: Timestamp) {
        self.reminder_done(revision);
        if let Some(cap) = self.settings.reminders_per_day {
            self.reminders_sent.push(now);
            let keep = usize::try_from(cap).unwrap_or(usize::MAX);
            let extra = self.reminders_sent.len().saturating_sub(keep);
            self.reminders_sent.drain(..extra);
        }
    }

    /// No more reminder for idle period `revision`: it went out, or it was given up on.
    pub fn reminder_done(&mut self, revision: u64) {
        if self.reminded_revision.is_none_or(|r| r < revision) {
            self.reminded_revision = Some(revision);
        }
    }

    /// What every key this cart sends (idempotency keys, message keys) starts with: the cart id
    /// and its instance, or, when they are too long for a provider (Stripe takes keys of up to
    /// 255 characters; a cart started outside `cart` may have an id of 1,000), a UUID derived
    /// from them. Either way it is the same on every retry and replay.
    fn key_prefix(&self) -> String {
        const MAX_PREFIX: usize = 160;
        let plain = format!("{}-{}", self.cart.id(), self.instance);
        if plain.len() <= MAX_PREFIX {
            plain
        } else {
            let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, plain.as_bytes());
            format!("cart-{}", id.simple())
        }
    }

    pub fn reminder_request(&self) -> Option<ReminderRequest> {
        let email = self.cart.email()?.clone();
        Some(ReminderRequest {
            cart_id: self.cart.id().clone(),
            message_key: format!("{}-reminder-{}", self.key_prefix(), self.revision),
            email,
            items: self.cart.items().to_vec(),
            total: self.cart.total()?,
        })
    }

    /// The order confirmation, once the cart is paid for.
    pub fn confirmation_request(&self) -> Option<ConfirmationRequest> {
        let receipt = self.receipt.as_ref()?;
        Some(ConfirmationRequest {
            cart_id: self.cart.id().clone(),
            message_key: format!("{}-confirmation", self.key_prefix()),
            email: self.cart.email()?.clone(),
            items: self.cart.items().to_vec(),
            total: self.cart.total()?,
            charge_id: receipt.charge_id.clone(),
        })
    }

    /// Starts a checkout and returns the charge to make. The idempotency key names the cart,
    /// its instance and the attempt: every request of the attempt, on any worker, after any
    /// replay, sends the same key; a new attempt after a refusal sends a new one.
    pub fn begin_checkout(
        &mut self,
        request: &Checkout,
        now: Timestamp,
    ) -> Result<ChargeRequest, CartError> {
        let order = self
            .cart
            .begin_checkout(request.email.as_deref(), request.payment.as_deref())?;
        self.touch(now);
        let description = order
            .items
            .iter()
            .map(|l| format!("{} x {}", l.quantity, l.name))
            .collect::<Vec<_>>()
            .join(", ");
        // Providers bound descriptions (and a long one says nothing more to the customer).
        let description = crate::domain::bounded(&description, 350);
        Ok(ChargeRequest {
            cart_id: self.cart.id().clone(),
            idempotency_key: format!("{}-checkout-{}", self.key_prefix(), order.attempt),
            amount: order.amount,
            email: order.email,
            payment: order.payment.map(String::from),
            description,
        })
    }

    /// Applies a change from the queue, `price` the price of the product it adds where
    /// [`Change::needs_price`] asked for one. A refused change leaves the state as it was.
    pub fn apply(
        &mut self,
        change: &Change,
        sender: &Sender,
        price: Option<&Product>,
        now: Timestamp,
    ) -> Result<Applied, CartError> {
        match change {
            Change::Add { product, quantity } => {
                let found = match price.cloned().or_else(|| self.cart.product(*product)) {
                    Some(found) => found,
                    None => {
                        // `needs_price` asks for a price whenever the cart would take the
                        // line, so without one the cart refuses it.
                        self.cart.check_new_line(*quantity)?;
                        return Err(CartError::NotSold(*product));
                    }
                };
                self.cart.add_product(&found, *quantity)?;
            }
            Change::Remove { product, quantity } => self.cart.remove(*product, *quantity)?,
            Change::RemoveUpTo { product, quantity } => {
                let have = self
                    .cart
                    .line(*product)
                    .map_or(0, |l| i64::from(l.quantity));
                let quantity = (*quantity < have).then_some(*quantity);
                self.cart.remove(*product, quantity)?;
            }
            Change::SetEmail { email } => self.cart.set_email(email)?,
            Change::Checkout(request) => {
                if joins_checkout(self.cart.status()) {
                    return Ok(Applied::JoinedCheckout);
                }
                self.begin_charge(request, now)?;
                let attempt = self.cart.checkout_attempts();
                return Ok(Applied::CheckoutBegun { attempt });
            }
            Change::Refund(_) | Change::Cancel(_) | Change::Ship(_) => {
                return self.apply_to_order(change, now);
            }
        }
        // The items of a start input are the cart as it begins, not a change of it.
        if *sender != Sender::StartItem {
            self.touch(now);
        }
        Ok(Applied::Changed)
    }

    /// Applies a change to the order the cart became: a refund, a cancellation, a shipment.
    fn apply_to_order(&mut self, change: &Change, now: Timestamp) -> Result<Applied, CartError> {
        let key_prefix = self.key_prefix();
        let cart = self.cart.id().clone();
        let Some(order) = self.order.as_mut() else {
            return Err(CartError::NotAnOrder { cart });
        };
        let applied = match change {
            Change::Refund(request) => order.refund(&cart, &key_prefix, request, now)?,
            Change::Cancel(request) => order.cancel(&cart, &key_prefix, request, now)?,
            Change::Ship(request) => {
                order.ship(&key_prefix, request)?;
                OrderApplied::Done
            }
            _ => OrderApplied::Done,
        };
        self.touch(now);
        Ok(match applied {
            OrderApplied::Refund { id } => Applied::Refund { id },
            OrderApplied::Done => Applied::Changed,
        })
    }

    /// Begins a checkout whose payment the main loop makes and follows until it is decided.
    pub fn begin_charge(&mut self, request: &Checkout, now: Timestamp) -> Result<(), CartError> {
        let request = self.begin_checkout(request, now)?;
        self.payment = Some(CheckoutPayment {
            request,
            record: PaymentRecord::default(),
        });
        Ok(())
    }

    /// Records the answer to a question about the payment (see [`PaymentRecord::observe`]),
    /// and what it means for the cart: paid, open again after a refusal, or `payment_pending`
    /// with the reason once the first round of questions is over.
    pub fn payment_heard(
        &mut self,
        step: &Step,
        asked: Timestamp,
        answer: Result<PaymentAnswer, Observation>,
        now: Timestamp,
    ) -> Heard {
        let Some(payment) = self.payment.as_mut() else {
            return Heard::Nothing { unrelated: false };
        };
        let heard = payment.record.observe(step, asked, answer, now);
        match payment.record.known() {
            Known::Paid { reference } => {
                let reference = reference.to_owned();
                self.checkout_succeeded(reference, now);
            }
            Known::Refused { reason } => {
                let reason = reason.to_owned();
                self.checkout_failed(&reason, now);
            }
            Known::NotSent | Known::MaybeSent if payment.record.settling() => {
                let reason = payment
                    .record
                    .reason()
                    .unwrap_or("no answer yet")
                    .to_owned();
                let was = self.cart.status();
                self.cart.payment_unknown(&reason);
                // Only the status is a change; a new reason from a follow-up is not.
                if self.cart.status() != was {
                    self.touch(now);
                }
            }
            Known::NotSent | Known::MaybeSent => {}
        }
        heard
    }

    fn checkout_succeeded(&mut self, charge_id: String, now: Timestamp) {
        let Some(payment) = self.payment.take() else {
            return;
        };
        self.cart.checkout_succeeded();
        let amount = payment.request.amount;
        let record = &payment.record;
        let closes_at = after(now, self.settings.refund_window());
        self.order = Some(OrderState::new(
            amount,
            charge_id.clone(),
            record.provider().unwrap_or_default().to_owned(),
            record.timing(),
            closes_at,
        ));
        self.receipt = Some(Receipt {
            charge_id,
            amount: amount.minor,
            currency: amount.currency.code().to_owned(),
            email: self.cart.email().map(|e| e.to_string()).unwrap_or_default(),
            items: self.cart.items().iter().map(LineView::from).collect(),
            charged_at: now,
        });
        self.touch(now);
    }

    pub fn checkout_failed(&mut self, reason: &str, now: Timestamp) {
        self.payment = None;
        self.cart.checkout_failed(reason);
        self.touch(now);
    }

    pub fn expire(&mut self, now: Timestamp) {
        self.cart.expire();
        self.revision += 1;
        self.updated_at = now.max(self.updated_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Catalog;
    use std::time::Duration;

    fn state() -> CartState {
        let settings = CartSettings {
            reminder_delay: Duration::from_secs(10),
            expire_after: Duration::from_secs(100),
            reminders_per_day: None,
            refund_window: None,
        };
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        CartState::new(
            Cart::new(crate::domain::CartId::of_workflow("CART-1")),
            settings,
            "run1".into(),
            t0,
        )
    }

    fn at(s: &CartState, secs: i64) -> Timestamp {
        s.created_at + SignedDuration::from_secs(secs)
    }

    #[test]
    fn an_empty_or_anonymous_cart_only_expires() {
        let mut s = state();
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 100), IdleAction::Expire))
        );
        s.cart.add(&Catalog::builtin(), 0, 1).unwrap();
        s.touch(at(&s, 5));
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 105), IdleAction::Expire))
        );
    }

    #[test]
    fn a_cart_with_items_and_email_is_reminded_once_per_idle_period() {
        let mut s = state();
        s.cart.add(&Catalog::builtin(), 0, 1).unwrap();
        s.cart.set_email("a@example.com").unwrap();
        s.touch(at(&s, 1));
        assert_eq!(s.next_idle_action(), Some((at(&s, 11), IdleAction::Remind)));
        s.reminder_sent(s.revision, at(&s, 11));
        assert!(s.view().reminder_sent);
        assert!(
            s.reminders_sent.is_empty(),
            "nothing to count without a cap"
        );
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 101), IdleAction::Expire))
        );
        // A change starts a new idle period, which earns a new reminder.
        s.touch(at(&s, 50));
        assert_eq!(s.next_idle_action(), Some((at(&s, 60), IdleAction::Remind)));
        assert!(!s.view().reminder_sent);
    }

    /// A cart with items and an e-mail, changed a second in, that expires after `expire_hours`.
    fn remindable(expire_hours: u64) -> CartState {
        let mut s = state();
        s.settings.expire_after = Duration::from_secs(expire_hours * 3_600);
        s.cart.add(&Catalog::builtin(), 0, 1).unwrap();
        s.cart.set_email("a@example.com").unwrap();
        s.touch(at(&s, 1));
        s
    }

    const DAY_SECS: i64 = 86_400;

    #[test]
    fn past_the_cap_a_reminder_waits_until_the_oldest_is_a_day_old() {
        let mut s = remindable(240);
        s.settings.reminders_per_day = Some(1);
        assert_eq!(s.next_idle_action(), Some((at(&s, 11), IdleAction::Remind)));
        s.reminder_sent(s.revision, at(&s, 11));
        // The customer comes back and leaves again: the next reminder waits for the day.
        s.touch(at(&s, 50));
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 11 + DAY_SECS), IdleAction::Remind))
        );
        // Without a cap it would go out after the usual delay.
        let uncapped = CartState {
            settings: CartSettings {
                reminders_per_day: None,
                ..s.settings.clone()
            },
            ..s.clone()
        };
        assert_eq!(
            uncapped.next_idle_action(),
            Some((at(&s, 60), IdleAction::Remind))
        );
        // A change after the day is over is reminded after the usual delay again.
        s.touch(at(&s, 2 * DAY_SECS));
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 2 * DAY_SECS + 10), IdleAction::Remind))
        );
    }

    #[test]
    fn the_cap_counts_the_last_day_only_and_keeps_no_more_than_it_counts() {
        let mut s = remindable(240);
        s.settings.reminders_per_day = Some(2);
        for sent_at in [11, 100, 200] {
            s.reminder_sent(s.revision, at(&s, sent_at));
            s.touch(at(&s, sent_at + 1));
        }
        assert_eq!(s.reminders_sent, vec![at(&s, 100), at(&s, 200)]);
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 100 + DAY_SECS), IdleAction::Remind))
        );
    }

    #[test]
    fn a_cap_of_zero_sends_none_and_a_slot_after_expiry_gives_way_to_it() {
        let mut s = remindable(240);
        s.settings.reminders_per_day = Some(0);
        assert_eq!(
            s.next_idle_action(),
            Some((s.expires_at(), IdleAction::Expire))
        );
        let mut s = remindable(12);
        s.settings.reminders_per_day = Some(1);
        s.reminder_sent(s.revision, at(&s, 11));
        s.touch(at(&s, 20));
        assert_eq!(
            s.next_idle_action(),
            Some((at(&s, 20 + DAY_SECS / 2), IdleAction::Expire)),
            "the cart expires before the cap lets another reminder out"
        );
    }

    #[test]
    fn a_reminder_given_up_on_ends_its_idle_period_but_is_not_counted() {
        let mut s = remindable(240);
        s.settings.reminders_per_day = Some(1);
        s.reminder_done(s.revision);
        assert!(s.reminders_sent.is_empty());
        assert_eq!(
            s.next_idle_action(),
            Some((s.expires_at(), IdleAction::Expire))
        );
        s.touch(at(&s, 30));
        assert_eq!(s.next_idle_action(), Some((at(&s, 40), IdleAction::Remind)));
    }

    #[test]
    fn checkout_keys_are_deterministic_per_attempt() {
        let mut s = state();
        s.cart.add(&Catalog::builtin(), 2, 1).unwrap();
        let req = Checkout {
            email: Some("a@example.com".into()),
            payment: None,
        };
        let first = s.begin_checkout(&req, at(&s, 1)).unwrap();
        assert_eq!(first.idempotency_key, "CART-1-run1-checkout-1");
        assert_eq!(first.payment, None, "the provider picks its default");
        assert_eq!(first.description, "1 x iPhone SE");
        assert_eq!(s.next_idle_action(), None, "no timer while checking out");
        s.checkout_failed("card declined", at(&s, 2));
        let second = s.begin_checkout(&req, at(&s, 3)).unwrap();
        assert_eq!(second.idempotency_key, "CART-1-run1-checkout-2");
    }

    #[test]
    fn keys_stay_short_for_any_cart_id() {
        let mut s = state();
        let long = format!("CART-{}", "x".repeat(995));
        s.cart = Cart::new(crate::domain::CartId::of_workflow(&long));
        s.cart.add(&Catalog::builtin(), 2, 1).unwrap();
        s.cart.set_email("a@example.com").unwrap();
        let req = Checkout::default();
        let key = s.begin_checkout(&req, at(&s, 1)).unwrap().idempotency_key;
        assert!(key.len() <= 200, "{} characters", key.len());
        assert!(
            key.starts_with("cart-") && key.ends_with("-checkout-1"),
            "{key}"
        );
        let again = s.clone().begin_checkout(&req, at(&s, 1)).unwrap_err();
        assert!(again.to_string().contains("is being checked out"));
        s.checkout_failed("declined", at(&s, 2));
        let next = s.begin_checkout(&req, at(&s, 3)).unwrap().idempotency_key;
        assert_eq!(next, key.replace("-checkout-1", "-checkout-2"));
        assert!(s.reminder_request().unwrap().message_key.len() <= 200);
    }

    #[test]
    fn state_survives_a_json_round_trip() {
        let mut s = state();
        s.cart.add(&Catalog::builtin(), 1, 2).unwrap();
        s.touch(at(&s, 3));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<CartState>(&json).unwrap(), s);
    }
}
