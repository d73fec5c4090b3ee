//! An order: what a paid cart becomes, and the rules for its money after the checkout.
//!
//! A refund is a payment in reverse. It is asked for under an id of its own (the update that
//! carries it), counts against the amount paid from the moment it is asked for, and stays
//! *pending* until a verdict about that refund arrives: only then is it refunded or, on a
//! definite refusal, given back to the refundable amount. So two refunds asked for at once can
//! never take the total past the amount paid, whatever their answers turn out to be, and asking
//! again under the same id is the same refund.
//!
//! The order lives in the cart's own workflow run, under the cart's id: one workflow applies
//! its changes one at a time, which is what keeps two operators' refunds from both passing the
//! check above, and `cart show CART-ID` finds the order where it found the cart.
//!
//! Status, from the first that holds: `cancelled`, `refunded` (all of it back),
//! `partially_refunded`, `shipped`, `checked_out`. A shipment is kept beside the status, so a
//! shipped order with a returned item reads `partially_refunded` and still shows its tracking.

use super::money::Money;
use serde::{Deserialize, Serialize};

/// The longest refund or cancellation reason, tracking number or carrier name kept, in
/// characters.
pub const MAX_ORDER_TEXT_CHARS: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    CheckedOut,
    PartiallyRefunded,
    Refunded,
    Cancelled,
    Shipped,
}

/// Where a refund stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RefundState {
    /// Asked for, and maybe sent: no verdict about it yet.
    Pending,
    /// The provider refunded it.
    Refunded { provider_id: String },
    /// The provider refused or cancelled that refund; the amount is refundable again.
    Failed { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The id the refund was asked for under; asking again under it is the same refund.
    pub id: String,
    pub amount: Money,
    pub reason: Option<String>,
    pub state: RefundState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub tracking: Option<String>,
    pub carrier: Option<String>,
}

/// The verdict about one refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundVerdict {
    Refunded { provider_id: String },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("a refund of nothing: give an amount above zero")]
    ZeroAmount,
    #[error("the order was paid in {paid}; give the amount in {paid}, not {asked}")]
    OtherCurrency {
        paid: &'static str,
        asked: &'static str,
    },
    #[error("{asked} is more than can be refunded: {refundable} of {paid} is left")]
    TooMuch {
        asked: Money,
        refundable: Money,
        paid: Money,
    },
    #[error("nothing is left to refund: all of {paid} is refunded or on its way back")]
    NothingLeft { paid: Money },
    #[error("the order is cancelled")]
    Cancelled,
    #[error("the order has shipped; refund an amount instead")]
    Shipped,
    #[error("everything paid is refunded or on its way back: nothing is left to ship")]
    NothingToShip,
    #[error("a dispute is open on the payment: refunds wait until it is closed")]
    Disputed,
    #[error("the payment was charged back through a dispute: nothing is left to refund")]
    ChargedBack,
    #[error("{0} is the id of a refund already")]
    IdTaken(String),
    #[error("there is no refund {0}")]
    NoSuchRefund(String),
    #[error("refund {0} already has its verdict")]
    AlreadySettled(String),
    #[error("that text is longer than {MAX_ORDER_TEXT_CHARS} characters")]
    TooLong,
    #[error("the order's refund window closed at {0}")]
    WindowClosed(jiff::Timestamp),
}

/// A paid cart's money and shipping after the checkout.
///
/// Every field but `paid` has a default, so that state saved before a field existed still loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    paid: Money,
    #[serde(default)]
    refunds: Vec<Refund>,
    #[serde(default)]
    shipment: Option<Shipment>,
    #[serde(default)]
    cancelled: Option<Cancellation>,
    #[serde(default)]
    dispute: Dispute,
}

/// Where a dispute of the payment (a chargeback) stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispute {
    #[default]
    None,
    Open,
    /// Closed in the shop's favour: refunds go on as before.
    Won,
    /// Closed in the customer's favour: the money went back through the dispute.
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Cancellation {
    reason: Option<String>,
}

impl Order {
    pub fn new(paid: Money) -> Self {
        Self {
            paid,
            refunds: Vec::new(),
            shipment: None,
            cancelled: None,
            dispute: Dispute::None,
        }
    }

    pub fn paid(&self) -> Money {
        self.paid
    }

    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }

    pub fn shipment(&self) -> Option<&Shipment> {
        self.shipment.as_ref()
    }

    /// What the provider has refunded.
    pub fn refunded(&self) -> Money {
        self.sum(|state| matches!(state, RefundState::Refunded { .. }))
    }

    /// What can still be asked for: the amount paid less every refund not refused, and nothing
    /// once a dispute was lost.
    pub fn refundable(&self) -> Money {
        let committed = self.sum(|state| !matches!(state, RefundState::Failed { .. }));
        let left = match self.dispute {
            Dispute::Lost => 0,
            _ => self.paid.minor.saturating_sub(committed.minor),
        };
        Money::new(left, self.paid.currency)
    }

    pub fn cancelled(&self) -> bool {
        self.cancelled.is_some()
    }

    pub fn cancel_reason(&self) -> Option<&str> {
        self.cancelled.as_ref().and_then(|c| c.reason.as_deref())
    }

    pub fn dispute(&self) -> Dispute {
        self.dispute
    }

    /// Whether some refund waits for its verdict.
    pub fn refund_pending(&self) -> bool {
        self.refunds
            .iter()
            .any(|r| matches!(r.state, RefundState::Pending))
    }

    pub fn status(&self) -> OrderStatus {
        let refunded = self.refunded().minor;
        if self.cancelled.is_some() {
            OrderStatus::Cancelled
        } else if refunded == self.paid.minor && refunded > 0 {
            OrderStatus::Refunded
        } else if refunded > 0 {
            OrderStatus::PartiallyRefunded
        } else if self.shipment.is_some() {
            OrderStatus::Shipped
        } else {
            OrderStatus::CheckedOut
        }
    }

    /// Asks for a refund of `amount`, or of all that is refundable. Under an id already asked
    /// for, it is that refund again, whatever the arguments. A cancelled order still takes
    /// refunds: one of its refunds that failed is asked for again this way.
    pub fn refund(
        &mut self,
        id: &str,
        amount: Option<Money>,
        reason: Option<String>,
    ) -> Result<&Refund, OrderError> {
        if let Some(at) = self.position(id) {
            return Ok(&self.refunds[at]);
        }
        let amount = self.check_refund(amount)?;
        let reason = bounded(reason)?;
        Ok(self.ask(id, amount, reason))
    }

    /// Where refund `id` is among the refunds.
    fn position(&self, id: &str) -> Option<usize> {
        self.refunds.iter().position(|r| r.id == id)
    }

    /// Records a refund asked for, pending its verdict.
    fn ask(&mut self, id: &str, amount: Money, reason: Option<String>) -> &Refund {
        self.refunds.push(Refund {
            id: id.to_owned(),
            amount,
            reason,
            state: RefundState::Pending,
        });
        &self.refunds[self.refunds.len() - 1]
    }

    fn check_refund(&self, amount: Option<Money>) -> Result<Money, OrderError> {
        self.check_dispute()?;
        let refundable = self.refundable();
        let asked = amount.unwrap_or(refundable);
        if asked.currency != self.paid.currency {
            return Err(OrderError::OtherCurrency {
                paid: self.paid.currency.code(),
                asked: asked.currency.code(),
            });
        }
        if refundable.minor == 0 {
            return Err(OrderError::NothingLeft { paid: self.paid });
        }
        if asked.minor == 0 {
            return Err(OrderError::ZeroAmount);
        }
        if asked.minor > refundable.minor {
            return Err(OrderError::TooMuch {
                asked,
                refundable,
                paid: self.paid,
            });
        }
        Ok(asked)
    }

    /// Records the verdict about refund `id`. A verdict that repeats the one recorded is
    /// accepted again (a redelivered answer); a different one is refused.
    pub fn settle(&mut self, id: &str, verdict: RefundVerdict) -> Result<(), OrderError> {
        let at = (self.position(id)).ok_or_else(|| OrderError::NoSuchRefund(id.to_owned()))?;
        let refund = &mut self.refunds[at];
        let state = match verdict {
            RefundVerdict::Refunded { provider_id } => RefundState::Refunded { provider_id },
            RefundVerdict::Failed { reason } => RefundState::Failed { reason },
        };
        match &refund.state {
            RefundState::Pending => {
                refund.state = state;
                Ok(())
            }
            settled if *settled == state => Ok(()),
            _ => Err(OrderError::AlreadySettled(id.to_owned())),
        }
    }

    fn check_dispute(&self) -> Result<(), OrderError> {
        match self.dispute {
            Dispute::Open => Err(OrderError::Disputed),
            Dispute::Lost => Err(OrderError::ChargedBack),
            Dispute::None | Dispute::Won => Ok(()),
        }
    }

    /// Cancels an order that has not shipped, asking under `id` for a refund of all that is
    /// refundable (none when nothing is). Cancelling again is the same cancellation. Refunds
    /// still pending may yet fail; what they give back is refunded with [`Order::refund`].
    pub fn cancel(
        &mut self,
        id: &str,
        reason: Option<String>,
    ) -> Result<Option<&Refund>, OrderError> {
        match (self.cancelled.is_some(), self.position(id)) {
            (true, at) => return Ok(at.map(|at| &self.refunds[at])),
            (false, Some(_)) => return Err(OrderError::IdTaken(id.to_owned())),
            (false, None) => {}
        }
        if self.shipment.is_some() {
            return Err(OrderError::Shipped);
        }
        self.check_dispute()?;
        let reason = bounded(reason)?;
        let refund = match self.refundable().minor {
            0 => None,
            _ => Some(self.check_refund(None)?),
        };
        self.cancelled = Some(Cancellation {
            reason: reason.clone(),
        });
        Ok(refund.map(|amount| self.ask(id, amount, reason)))
    }

    /// Marks the order shipped. Shipping again keeps the first shipment, whatever happened
    /// since.
    pub fn ship(
        &mut self,
        tracking: Option<String>,
        carrier: Option<String>,
    ) -> Result<&Shipment, OrderError> {
        if let Some(first) = self.shipment.take() {
            return Ok(self.shipment.insert(first));
        }
        if self.cancelled.is_some() {
            return Err(OrderError::Cancelled);
        }
        if !self.refunds.is_empty() && self.refundable().minor == 0 {
            return Err(OrderError::NothingToShip);
        }
        let shipment = Shipment {
            tracking: bounded(tracking)?,
            carrier: bounded(carrier)?,
        };
        Ok(self.shipment.insert(shipment))
    }

    /// A dispute of the payment opened, or closed with its outcome. A lost dispute stays lost:
    /// the money went back through it, and nothing is refundable after.
    pub fn disputed(&mut self, now: Dispute) {
        if self.dispute != Dispute::Lost {
            self.dispute = now;
        }
    }

    fn sum(&self, counts: impl Fn(&RefundState) -> bool) -> Money {
        let minor = (self.refunds.iter())
            .filter(|r| counts(&r.state))
            .map(|r| r.amount.minor)
            .sum();
        Money::new(minor, self.paid.currency)
    }
}

/// A piece of text kept on the order, trimmed, with empty text as none.
fn bounded(text: Option<String>) -> Result<Option<String>, OrderError> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.chars().count() <= MAX_ORDER_TEXT_CHARS {
        true => Ok(Some(text)),
        false => Err(OrderError::TooLong),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn usd(text: &str) -> Money {
        Money::parse(text, Currency::usd()).unwrap()
    }

    fn paid(text: &str) -> Order {
        Order::new(usd(text))
    }

    fn refunded(order: &mut Order, id: &str) {
        let provider_id = format!("re_{id}");
        order
            .settle(id, RefundVerdict::Refunded { provider_id })
            .unwrap();
    }

    #[test]
    fn a_new_order_is_checked_out_with_all_of_it_refundable() {
        let order = paid("100.00");
        assert_eq!(order.status(), OrderStatus::CheckedOut);
        assert_eq!(order.refundable(), usd("100.00"));
        assert_eq!(order.refunded(), usd("0"));
        assert!(!order.refund_pending());
    }

    #[test]
    fn a_pending_refund_counts_against_the_refundable_amount_until_its_verdict() {
        let mut order = paid("100.00");
        order.refund("r1", Some(usd("30.00")), None).unwrap();
        assert!(order.refund_pending());
        assert_eq!(order.refundable(), usd("70.00"));
        assert_eq!(
            order.status(),
            OrderStatus::CheckedOut,
            "nothing refunded yet"
        );
        let err = order.refund("r2", Some(usd("70.01")), None).unwrap_err();
        assert!(matches!(err, OrderError::TooMuch { .. }), "{err}");
        refunded(&mut order, "r1");
        assert_eq!(order.status(), OrderStatus::PartiallyRefunded);
        assert_eq!(order.refunded(), usd("30.00"));
    }

    #[test]
    fn two_partial_refunds_reach_the_amount_paid_and_a_third_is_refused() {
        let mut order = paid("100.00");
        order.refund("r1", Some(usd("60.00")), None).unwrap();
        order.refund("r2", Some(usd("40.00")), None).unwrap();
        refunded(&mut order, "r1");
        refunded(&mut order, "r2");
        assert_eq!(order.status(), OrderStatus::Refunded);
        let err = order.refund("r3", Some(usd("0.01")), None).unwrap_err();
        assert_eq!(
            err,
            OrderError::NothingLeft {
                paid: usd("100.00")
            }
        );
        assert_eq!(
            err.to_string(),
            "nothing is left to refund: all of 100.00 USD is refunded or on its way back"
        );
    }

    #[test]
    fn a_refused_refund_gives_its_amount_back_and_keeps_the_reason() {
        let mut order = paid("100.00");
        order.refund("r1", None, Some("returned".into())).unwrap();
        assert_eq!(order.refundable(), usd("0"));
        let reason = "card closed".to_owned();
        order
            .settle("r1", RefundVerdict::Failed { reason })
            .unwrap();
        assert_eq!(order.refundable(), usd("100.00"));
        assert_eq!(order.status(), OrderStatus::CheckedOut);
        let state = &order.refunds()[0].state;
        assert_eq!(
            state,
            &RefundState::Failed {
                reason: "card closed".into()
            }
        );
    }

    #[test]
    fn a_refund_asked_for_again_under_its_id_is_the_same_refund() {
        let mut order = paid("100.00");
        order.refund("r1", Some(usd("10.00")), None).unwrap();
        let again = order.refund("r1", Some(usd("90.00")), None).unwrap();
        assert_eq!(again.amount, usd("10.00"));
        assert_eq!(order.refunds().len(), 1);
        assert_eq!(order.refundable(), usd("90.00"));
    }

    #[test]
    fn a_verdict_is_recorded_once_and_a_repeated_answer_is_accepted() {
        let mut order = paid("100.00");
        order.refund("r1", None, None).unwrap();
        refunded(&mut order, "r1");
        refunded(&mut order, "r1");
        let late = RefundVerdict::Failed {
            reason: "stale answer".into(),
        };
        let err = order.settle("r1", late).unwrap_err();
        assert_eq!(err, OrderError::AlreadySettled("r1".into()));
        assert_eq!(order.status(), OrderStatus::Refunded);
        let err = order.settle(
            "nope",
            RefundVerdict::Failed {
                reason: String::new(),
            },
        );
        assert_eq!(err, Err(OrderError::NoSuchRefund("nope".into())));
    }

    #[test]
    fn amounts_are_in_the_orders_currency_and_above_zero() {
        let mut order = paid("100.00");
        let err = order.refund("r1", Some(usd("0.00")), None).unwrap_err();
        assert_eq!(err, OrderError::ZeroAmount);
        let yen = Money::parse("100", Currency::try_from("JPY".to_owned()).unwrap()).unwrap();
        let err = order.refund("r1", Some(yen), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the order was paid in USD; give the amount in USD, not JPY"
        );
        assert!(
            order.refunds().is_empty(),
            "a refused request leaves no refund"
        );
    }

    #[test]
    fn cancelling_refunds_what_is_left_and_an_order_that_shipped_refuses() {
        let mut order = paid("100.00");
        order.refund("r1", Some(usd("25.00")), None).unwrap();
        let refund = order.cancel("c1", Some("changed my mind".into())).unwrap();
        assert_eq!(refund.map(|r| r.amount), Some(usd("75.00")));
        assert_eq!(order.status(), OrderStatus::Cancelled);
        let again = order.cancel("c1", None).unwrap();
        let again = again.map(|r| r.amount);
        assert_eq!(again, Some(usd("75.00")), "the same cancellation");
        assert_eq!(order.ship(None, None).unwrap_err(), OrderError::Cancelled);
        // The cancel's refund fails: what it gives back is refunded again, and no more.
        let reason = "card closed".to_owned();
        order
            .settle("c1", RefundVerdict::Failed { reason })
            .unwrap();
        assert_eq!(order.refund("r2", None, None).unwrap().amount, usd("75.00"));
        let err = order.refund("r3", None, None).unwrap_err();
        assert!(matches!(err, OrderError::NothingLeft { .. }), "{err}");
        assert_eq!(order.status(), OrderStatus::Cancelled);

        let mut shipped = paid("100.00");
        shipped.ship(Some("1Z999".into()), None).unwrap();
        assert_eq!(shipped.cancel("c1", None).unwrap_err(), OrderError::Shipped);
        shipped.refund("r1", Some(usd("10.00")), None).unwrap();
        let left = shipped.refundable();
        assert_eq!(left, usd("90.00"), "a refund of an amount still works");
    }

    #[test]
    fn a_shipped_order_keeps_its_first_shipment_and_shows_later_refunds() {
        let mut order = paid("100.00");
        order.ship(Some(" 1Z999 ".into()), None).unwrap();
        assert_eq!(order.status(), OrderStatus::Shipped);
        order.ship(Some("other".into()), None).unwrap();
        let shipment = order.shipment().unwrap();
        assert_eq!(shipment.tracking.as_deref(), Some("1Z999"));
        assert_eq!(shipment.carrier, None);
        order.refund("r1", Some(usd("10.00")), None).unwrap();
        refunded(&mut order, "r1");
        assert_eq!(order.status(), OrderStatus::PartiallyRefunded);
        assert!(order.shipment().is_some());
    }

    #[test]
    fn an_order_refunded_in_full_has_nothing_to_ship_but_one_shipped_keeps_its_shipment() {
        let mut order = paid("100.00");
        order.refund("r1", None, None).unwrap();
        let err = order.ship(None, None).unwrap_err();
        assert_eq!(err, OrderError::NothingToShip);

        let mut shipped = paid("100.00");
        shipped.ship(Some("1Z999".into()), None).unwrap();
        shipped.refund("r1", None, None).unwrap();
        let again = shipped.ship(None, None).unwrap();
        assert_eq!(again.tracking.as_deref(), Some("1Z999"));
    }

    #[test]
    fn a_cancel_under_the_id_of_a_refund_is_refused_and_changes_nothing() {
        let mut order = paid("100.00");
        order.refund("x", Some(usd("25.00")), None).unwrap();
        let err = order.cancel("x", None).unwrap_err();
        assert_eq!(err, OrderError::IdTaken("x".into()));
        assert_eq!(order.status(), OrderStatus::CheckedOut);
        assert_eq!(order.refunds().len(), 1);
    }

    #[test]
    fn an_open_dispute_holds_refunds_back_and_a_lost_one_ends_them() {
        let mut order = paid("100.00");
        order.disputed(Dispute::Open);
        let err = order.refund("r1", None, None).unwrap_err();
        assert_eq!(err, OrderError::Disputed);
        assert_eq!(order.cancel("c1", None).unwrap_err(), OrderError::Disputed);
        order.disputed(Dispute::Won);
        order.refund("r1", Some(usd("10.00")), None).unwrap();

        let mut lost = paid("100.00");
        lost.disputed(Dispute::Open);
        lost.disputed(Dispute::Lost);
        lost.disputed(Dispute::Won);
        assert_eq!(lost.dispute(), Dispute::Lost, "a lost dispute stays lost");
        assert_eq!(lost.refundable(), usd("0"));
        let err = lost.refund("r1", None, None).unwrap_err();
        assert_eq!(err, OrderError::ChargedBack);
    }

    #[test]
    fn an_order_saved_with_only_what_it_paid_loads() {
        let saved = r#"{"paid":{"minor":1000,"currency":"USD"}}"#;
        let order: Order = serde_json::from_str(saved).unwrap();
        assert_eq!(order, paid("10.00"));
        let json = serde_json::to_string(&order).unwrap();
        assert_eq!(serde_json::from_str::<Order>(&json).unwrap(), order);
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        let mut order = paid("100.00");
        let long = "x".repeat(MAX_ORDER_TEXT_CHARS + 1);
        let err = order.refund("r1", None, Some(long)).unwrap_err();
        assert_eq!(err, OrderError::TooLong);
        let refund = order.refund("r1", None, Some("   ".into())).unwrap();
        assert_eq!(refund.reason, None);
    }
}
