//! A paid cart's order, as the workflow keeps it: the order's rules ([`Order`]) with what the
//! workflow tracks around them, the refunds on their way to the provider (each with a
//! [`PaymentRecord`], under the same rules as the checkout's payment) and the e-mails to send.
//! Like the cart's state, this is plain data carried whole through continue-as-new, and every
//! decision is a pure function of it.

use super::messages::{CancelOrder, OrderView, RefundOrder, RefundView, ShipOrder};
use super::state::Payment;
use crate::activities::{OrderEvent, RefundRequest};
use crate::domain::{
    CartError, CartId, Dispute, Heard, Known, Money, Observation, Order, OrderError, OrderStatus,
    PaymentAnswer, PaymentRecord, PaymentTiming, RefundState, RefundVerdict, Step,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A refund on its way: the request every call sends, and what is known about it.
pub type RefundPayment = Payment<RefundRequest>;

/// An e-mail the order owes its customer, by the key that makes its `Message-ID`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub key: String,
    pub event: OrderEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub order: Order,
    /// The provider's reference for the payment the refunds give back.
    pub payment: String,
    /// The provider the payment went through, and its timing: every refund goes through it.
    pub provider: String,
    pub timing: PaymentTiming,
    /// When the order stops taking refunds.
    pub closes_at: Timestamp,
    /// Refunds asked for whose verdict is not known yet, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunding: Vec<RefundPayment>,
    /// E-mails to send, oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub notices: VecDeque<Notice>,
    /// Whether the order confirmation was sent (or given up on).
    #[serde(default)]
    pub confirmed: bool,
    /// The refund a cancellation asked for: its completion is told in the cancellation's
    /// e-mail rather than one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_refund: Option<String>,
}

/// What applying an order change did: a refund to wait for, or nothing to wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderApplied {
    Refund { id: String },
    Done,
}

impl OrderState {
    pub fn new(
        paid: Money,
        payment: String,
        provider: String,
        timing: PaymentTiming,
        closes_at: Timestamp,
    ) -> Self {
        Self {
            order: Order::new(paid),
            payment,
            provider,
            timing,
            closes_at,
            refunding: Vec::new(),
            notices: VecDeque::new(),
            confirmed: false,
            cancel_refund: None,
        }
    }

    fn open_at(&self, now: Timestamp) -> Result<(), CartError> {
        if now >= self.closes_at {
            return Err(OrderError::WindowClosed(self.closes_at).into());
        }
        Ok(())
    }

    /// Asks for a refund (see [`Order::refund`]); a new one is sent to the provider under a
    /// key made from `key_prefix` and its id.
    pub fn refund(
        &mut self,
        cart: &CartId,
        key_prefix: &str,
        request: &RefundOrder,
        now: Timestamp,
    ) -> Result<OrderApplied, CartError> {
        let known = self.order.refunds().iter().any(|r| r.id == request.id);
        if !known {
            self.open_at(now)?;
        }
        let currency = self.order.paid().currency;
        let amount = match &request.amount {
            Some(text) => Some(Money::parse(text, currency).map_err(CartError::Amount)?),
            None => None,
        };
        let refund = self
            .order
            .refund(&request.id, amount, request.reason.clone())?
            .clone();
        if !known {
            self.send_refund(cart, key_prefix, &refund.id, refund.amount, refund.reason);
        }
        Ok(OrderApplied::Refund {
            id: request.id.clone(),
        })
    }

    /// Cancels the order (see [`Order::cancel`]), refunding what is left under the
    /// cancellation's id.
    pub fn cancel(
        &mut self,
        cart: &CartId,
        key_prefix: &str,
        request: &CancelOrder,
        now: Timestamp,
    ) -> Result<OrderApplied, CartError> {
        let again = self.order.cancelled();
        if !again {
            self.open_at(now)?;
        }
        let refund = self
            .order
            .cancel(&request.id, request.reason.clone())?
            .cloned();
        match refund {
            Some(refund) if !again => {
                self.cancel_refund = Some(refund.id.clone());
                self.send_refund(cart, key_prefix, &refund.id, refund.amount, refund.reason);
                Ok(OrderApplied::Refund { id: refund.id })
            }
            Some(refund) => Ok(OrderApplied::Refund { id: refund.id }),
            // Cancelled before, under another id: the answer is that cancellation's.
            None if again => Ok(match &self.cancel_refund {
                Some(id) => OrderApplied::Refund { id: id.clone() },
                None => OrderApplied::Done,
            }),
            None => {
                let refunded = Money::new(0, self.order.paid().currency);
                self.tell(
                    format!("{key_prefix}-cancelled"),
                    OrderEvent::Cancelled {
                        refunded,
                        reason: request.reason.clone(),
                    },
                );
                Ok(OrderApplied::Done)
            }
        }
    }

    /// Marks the order shipped (see [`Order::ship`]); the first shipment is told the customer.
    pub fn ship(&mut self, key_prefix: &str, request: &ShipOrder) -> Result<(), CartError> {
        let first = self.order.shipment().is_none();
        let shipment = self
            .order
            .ship(request.tracking.clone(), request.carrier.clone())?
            .clone();
        if first {
            self.tell(
                format!("{key_prefix}-shipped"),
                OrderEvent::Shipped {
                    tracking: shipment.tracking,
                    carrier: shipment.carrier,
                },
            );
        }
        Ok(())
    }

    fn send_refund(
        &mut self,
        cart: &CartId,
        key_prefix: &str,
        id: &str,
        amount: Money,
        reason: Option<String>,
    ) {
        let request = RefundRequest {
            cart_id: cart.clone(),
            refund_id: id.to_owned(),
            idempotency_key: format!("{key_prefix}-refund-{id}"),
            payment: self.payment.clone(),
            amount,
            reason,
        };
        let record = PaymentRecord::refund(self.provider.clone(), self.timing);
        self.refunding.push(Payment { request, record });
    }

    fn tell(&mut self, key: String, event: OrderEvent) {
        self.notices.push_back(Notice { key, event });
    }

    /// The refund to ask about next, and not before when: the one due first.
    pub fn next_refund(&self) -> Option<(usize, Step, Timestamp)> {
        (self.refunding.iter().enumerate())
            .filter_map(|(at, r)| r.record.next().map(|(step, when)| (at, step, when)))
            .min_by_key(|(_, _, when)| *when)
    }

    /// Whether refund `id` is known (refunded or failed), or its first round of questions is
    /// over without a verdict: either way its handler answers.
    pub fn answered(&self, id: &str) -> bool {
        match self.refunding.iter().find(|r| r.request.refund_id == id) {
            Some(r) => r.record.settling(),
            None => true,
        }
    }

    /// Whether some refund is still in its first round of questions: a handler waits for it.
    pub fn in_first_round(&self) -> bool {
        self.refunding.iter().any(|r| !r.record.settling())
    }

    /// Records the answer to a question about the refund at `at` in [`Self::refunding`]; a
    /// verdict settles it in the order, and a refund made is told the customer.
    pub fn refund_heard(
        &mut self,
        at: usize,
        step: &Step,
        asked: Timestamp,
        answer: Result<PaymentAnswer, Observation>,
        now: Timestamp,
    ) -> Heard {
        let Some(refund) = self.refunding.get_mut(at) else {
            return Heard::Nothing { unrelated: false };
        };
        let heard = refund.record.observe(step, asked, answer, now);
        let verdict = match refund.record.known() {
            Known::Paid { reference } => RefundVerdict::Refunded {
                provider_id: reference.to_owned(),
            },
            Known::Refused { reason } => RefundVerdict::Failed {
                reason: reason.to_owned(),
            },
            Known::NotSent | Known::MaybeSent => return heard,
        };
        let done = self.refunding.remove(at);
        let id = done.request.refund_id;
        let refunded = matches!(verdict, RefundVerdict::Refunded { .. });
        // The refund is pending in the order (it was asked for there), so this cannot fail.
        let settled = self.order.settle(&id, verdict);
        debug_assert!(settled.is_ok(), "{settled:?}");
        if refunded {
            // The refund's key is unique to the cart and the refund: so is its e-mail's.
            let key = format!("{}-mail", done.request.idempotency_key);
            self.told_refunded(key, &id, done.request.amount, done.request.reason);
        }
        heard
    }

    fn told_refunded(&mut self, key: String, id: &str, amount: Money, reason: Option<String>) {
        let event = if self.cancel_refund.as_deref() == Some(id) {
            OrderEvent::Cancelled {
                refunded: amount,
                reason: self.order.cancel_reason().map(str::to_owned),
            }
        } else {
            OrderEvent::Refunded {
                amount,
                refunded: self.order.refunded(),
                paid: self.order.paid(),
                reason,
            }
        };
        self.tell(key, event);
    }

    /// Why refund `id` failed, once it did.
    pub fn failure(&self, id: &str) -> Option<&str> {
        let refund = self.order.refunds().iter().find(|r| r.id == id)?;
        match &refund.state {
            RefundState::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    /// The order's status as clients see it: `refund_pending` while a refund waits for its
    /// verdict (unless cancelled).
    pub fn status(&self) -> &'static str {
        match self.order.status() {
            OrderStatus::Cancelled => "cancelled",
            _ if self.order.refund_pending() => "refund_pending",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Shipped => "shipped",
            OrderStatus::CheckedOut => "checked_out",
        }
    }

    pub fn view(&self) -> OrderView {
        let order = &self.order;
        let detail = |id: &str| {
            let r = self.refunding.iter().find(|r| r.request.refund_id == id)?;
            r.record.reason().map(str::to_owned)
        };
        let refunds = (order.refunds().iter())
            .map(|r| {
                let (status, provider_id, detail) = match &r.state {
                    RefundState::Pending => ("pending", None, detail(&r.id)),
                    RefundState::Refunded { provider_id } => {
                        ("refunded", Some(provider_id.clone()), None)
                    }
                    RefundState::Failed { reason } => ("failed", None, Some(reason.clone())),
                };
                RefundView {
                    id: r.id.clone(),
                    amount: r.amount.minor,
                    reason: r.reason.clone(),
                    status: status.to_owned(),
                    provider_id,
                    detail,
                }
            })
            .collect();
        let shipment = order.shipment();
        OrderView {
            status: self.status().to_owned(),
            paid: order.paid().minor,
            refunded: order.refunded().minor,
            refundable: order.refundable().minor,
            currency: order.paid().currency.code().to_owned(),
            refunds,
            cancelled: order.cancelled(),
            cancel_reason: order.cancel_reason().map(str::to_owned),
            cancel_refund: self.cancel_refund.clone(),
            shipped: shipment.is_some(),
            tracking: shipment.and_then(|s| s.tracking.clone()),
            carrier: shipment.and_then(|s| s.carrier.clone()),
            dispute: match order.dispute() {
                Dispute::None => None,
                Dispute::Open => Some("open".into()),
                Dispute::Won => Some("won".into()),
                Dispute::Lost => Some("lost".into()),
            },
            refundable_until: self.closes_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, SENDS};
    use jiff::SignedDuration;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::usd()).unwrap()
    }

    const PROVIDER: &str = "the local ledger test";

    fn order() -> OrderState {
        let timing = PaymentTiming {
            search_lag: SignedDuration::ZERO,
            ..PaymentTiming::default()
        };
        OrderState::new(
            usd("100.00"),
            "ch_1".into(),
            PROVIDER.into(),
            timing,
            t(1_000),
        )
    }

    fn cart() -> CartId {
        CartId::of_workflow("CART-1")
    }

    fn refund(
        o: &mut OrderState,
        id: &str,
        amount: Option<&str>,
        at: i64,
    ) -> Result<OrderApplied, CartError> {
        let request = RefundOrder {
            id: id.into(),
            amount: amount.map(Into::into),
            reason: Some("returned".into()),
        };
        o.refund(&cart(), "CART-1-run", &request, t(at))
    }

    /// Answers the next question about the refund at 0 with `observation`, from its provider.
    fn answer(o: &mut OrderState, observation: Observation) -> Heard {
        let (at, step, when) = o.next_refund().expect("a refund to ask about");
        let answer = PaymentAnswer {
            observation,
            provider: PROVIDER.into(),
            timing: o.timing,
        };
        o.refund_heard(at, &step, when.max(t(0)), Ok(answer), when.max(t(0)))
    }

    #[test]
    fn a_refund_is_sent_under_its_own_key_to_the_payment_s_provider_and_told_once_made() {
        let mut o = order();
        assert_eq!(
            refund(&mut o, "r1", Some("30.00"), 0).unwrap(),
            OrderApplied::Refund { id: "r1".into() }
        );
        let sent = &o.refunding[0];
        assert_eq!(sent.request.idempotency_key, "CART-1-run-refund-r1");
        assert_eq!(sent.request.payment, "ch_1");
        assert_eq!(sent.request.amount, usd("30.00"));
        assert_eq!(o.next_refund().map(|(_, step, _)| step), Some(Step::Send));
        assert!(!o.answered("r1"));
        assert_eq!(o.status(), "refund_pending");
        answer(
            &mut o,
            Observation::Paid {
                reference: "re_1".into(),
            },
        );
        assert!(o.answered("r1") && o.refunding.is_empty());
        assert_eq!(o.status(), "partially_refunded");
        assert_eq!(o.view().refundable, 7_000);
        assert_eq!(o.notices.len(), 1);
        assert_eq!(o.notices[0].key, "CART-1-run-refund-r1-mail");
        // Asked again under its id: the same refund, nothing sent, nothing told.
        refund(&mut o, "r1", Some("50.00"), 1).unwrap();
        assert!(o.refunding.is_empty());
        assert_eq!(o.view().refunds.len(), 1);
        assert_eq!(o.notices.len(), 1);
    }

    #[test]
    fn a_refund_that_tells_nothing_stays_pending_and_counts_until_its_verdict() {
        let mut o = order();
        refund(&mut o, "r1", None, 0).unwrap();
        for _ in 0..SENDS {
            answer(
                &mut o,
                Observation::Unknown {
                    reason: "no answer in time".into(),
                },
            );
        }
        assert!(
            o.answered("r1"),
            "the first round is over: its handler answers pending"
        );
        assert!(!o.in_first_round());
        assert_eq!(o.next_refund().map(|(_, step, _)| step), Some(Step::Search));
        assert!(matches!(
            refund(&mut o, "r2", Some("1.00"), 1),
            Err(CartError::Order(OrderError::NothingLeft { .. }))
        ));
        let view = o.view();
        assert_eq!(view.refunds[0].status, "pending");
        assert_eq!(view.refunds[0].detail.as_deref(), Some("no answer in time"));
        answer(
            &mut o,
            Observation::Paid {
                reference: "re_1".into(),
            },
        );
        assert_eq!(o.status(), "refunded");
    }

    #[test]
    fn a_refused_refund_gives_its_amount_back_with_the_reason_and_sends_no_mail() {
        let mut o = order();
        refund(&mut o, "r1", Some("40.00"), 0).unwrap();
        answer(
            &mut o,
            Observation::Refused {
                reason: "refund refused: charge disputed".into(),
            },
        );
        assert_eq!(o.failure("r1"), Some("refund refused: charge disputed"));
        assert_eq!(o.view().refundable, 10_000);
        assert_eq!(o.status(), "checked_out");
        assert!(o.notices.is_empty());
    }

    #[test]
    fn amounts_are_read_in_the_order_s_currency_and_the_window_closes() {
        let mut o = order();
        assert!(matches!(
            refund(&mut o, "r1", Some("1.234"), 0),
            Err(CartError::Amount(_))
        ));
        assert!(matches!(
            refund(&mut o, "r1", Some("0"), 0),
            Err(CartError::Order(OrderError::ZeroAmount))
        ));
        refund(&mut o, "r2", Some("1.00"), 0).unwrap();
        assert!(matches!(
            refund(&mut o, "r3", Some("1.00"), 1_000),
            Err(CartError::Order(OrderError::WindowClosed(_)))
        ));
        // A refund asked for before the window closed is still answered after it.
        assert!(refund(&mut o, "r2", None, 1_000).is_ok());
    }

    #[test]
    fn a_cancellation_refunds_what_is_left_and_tells_it_in_one_mail() {
        let mut o = order();
        let request = CancelOrder {
            id: "c1".into(),
            reason: Some("changed my mind".into()),
        };
        assert_eq!(
            o.cancel(&cart(), "CART-1-run", &request, t(0)).unwrap(),
            OrderApplied::Refund { id: "c1".into() }
        );
        assert_eq!(o.status(), "cancelled");
        answer(
            &mut o,
            Observation::Paid {
                reference: "re_1".into(),
            },
        );
        assert_eq!(o.notices.len(), 1);
        assert!(matches!(
            o.notices[0].event,
            OrderEvent::Cancelled { refunded, .. } if refunded == usd("100.00")
        ));
        // Cancelling again is the same cancellation, under any id.
        o.cancel(&cart(), "CART-1-run", &request, t(1)).unwrap();
        let other = CancelOrder {
            id: "c2".into(),
            reason: None,
        };
        assert_eq!(
            o.cancel(&cart(), "CART-1-run", &other, t(1)).unwrap(),
            OrderApplied::Refund { id: "c1".into() }
        );
        assert_eq!(o.view().cancel_refund.as_deref(), Some("c1"));
        assert_eq!(o.notices.len(), 1);
        assert!(o.refunding.is_empty());
    }

    #[test]
    fn a_shipment_is_told_once() {
        let mut o = order();
        let request = ShipOrder {
            tracking: Some("1Z999".into()),
            carrier: Some("UPS".into()),
        };
        o.ship("CART-1-run", &request).unwrap();
        o.ship("CART-1-run", &ShipOrder::default()).unwrap();
        assert_eq!(o.notices.len(), 1);
        assert_eq!(o.status(), "shipped");
        assert_eq!(o.view().tracking.as_deref(), Some("1Z999"));
        let request = CancelOrder {
            id: "c1".into(),
            reason: None,
        };
        assert!(matches!(
            o.cancel(&cart(), "CART-1-run", &request, t(0)),
            Err(CartError::Order(OrderError::Shipped))
        ));
    }
}
