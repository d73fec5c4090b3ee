//! What travels between clients and a cart workflow: the start input, update arguments and
//! the cart as clients see it. These types are the wire contract; renaming a field breaks
//! running carts and older clients.

use crate::domain::{Cart, CartId, LineItem, ProductId, Status};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const WORKFLOW_TYPE: &str = "CartWorkflow";
pub const DEFAULT_TASK_QUEUE: &str = "CART_TASK_QUEUE";

/// Per-cart settings, fixed when the cart is created and carried through continue-as-new.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartSettings {
    /// How long a non-empty cart with an e-mail may sit unchanged before one reminder is sent.
    #[serde(with = "millis")]
    pub reminder_delay: Duration,
    /// How long a cart may sit unchanged before it expires.
    #[serde(with = "millis")]
    pub expire_after: Duration,
    /// At most this many reminders in any 24 hours; a reminder that falls due past the cap
    /// waits until the oldest of them is a day old. `None` (carts started without it, such as
    /// the tutorial's) has no cap; `Some(0)` sends none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders_per_day: Option<u32>,
    /// How long after a paid checkout the order takes refunds; `None` (carts started without
    /// it) is [`DEFAULT_REFUND_WINDOW`].
    #[serde(default, skip_serializing_if = "Option::is_none", with = "millis_opt")]
    pub refund_window: Option<Duration>,
}

/// How long an order takes refunds when its cart was started without a window: 60 days.
pub const DEFAULT_REFUND_WINDOW: Duration = Duration::from_secs(60 * 24 * 60 * 60);

/// The longest refund window a cart takes: 180 days, as long as Stripe refunds most card
/// payments (older ones may fail at the bank).
pub const MAX_REFUND_WINDOW: Duration = Duration::from_secs(180 * 24 * 60 * 60);

/// The highest cap of reminders per day a cart takes (the cart keeps one time per reminder it
/// counts).
pub const MAX_REMINDERS_PER_DAY: u32 = 100;

/// The longest reminder delay or expiry a cart takes: a year (of 365.25 days).
pub const MAX_PERIOD: Duration = Duration::from_secs(31_557_600);

impl CartSettings {
    /// New settings: the client chooses the periods, never the prices. No reminder cap
    /// ([`CartSettings::reminders_per_day`]) unless one is set.
    pub fn new(reminder_delay: Duration, expire_after: Duration) -> Self {
        Self {
            reminder_delay,
            expire_after,
            reminders_per_day: None,
            refund_window: None,
        }
    }

    /// These settings with orders taking refunds for `window` after the checkout.
    pub fn with_refund_window(self, window: Duration) -> Self {
        Self {
            refund_window: Some(window),
            ..self
        }
    }

    /// How long after a paid checkout the order takes refunds.
    pub fn refund_window(&self) -> Duration {
        self.refund_window.unwrap_or(DEFAULT_REFUND_WINDOW)
    }

    /// These settings with at most `cap` reminders in any 24 hours.
    pub fn with_reminders_per_day(self, cap: u32) -> Self {
        Self {
            reminders_per_day: Some(cap),
            ..self
        }
    }

    /// These settings with every period between a second and [`MAX_PERIOD`], and a cap of at
    /// most [`MAX_REMINDERS_PER_DAY`]: a start input comes from any caller, and the cart's
    /// timers and state must stay sane whatever it says.
    pub fn within_limits(mut self) -> Self {
        let clamp = |d: Duration| d.clamp(Duration::from_secs(1), MAX_PERIOD);
        self.reminder_delay = clamp(self.reminder_delay);
        self.expire_after = clamp(self.expire_after);
        self.reminders_per_day = self.reminders_per_day.map(|n| n.min(MAX_REMINDERS_PER_DAY));
        self.refund_window =
            (self.refund_window).map(|d| d.clamp(Duration::from_secs(1), MAX_REFUND_WINDOW));
        self
    }

    /// The settings of carts started without any (the tutorial's own clients send none).
    ///
    /// These values are part of the workflow's history contract: carts already running
    /// recompute their timers from them on replay, so they must never change. Client-side
    /// defaults live in the CLI and may change freely, because clients always send settings.
    pub fn frozen_default() -> Self {
        Self {
            reminder_delay: Duration::from_secs(60 * 60),
            expire_after: Duration::from_secs(30 * 24 * 60 * 60),
            reminders_per_day: None,
            refund_window: None,
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod millis_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// The tutorial's item shape: `{"ProductId":0,"Quantity":1}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TutorialItem {
    #[serde(rename = "ProductId")]
    pub product_id: i64,
    #[serde(rename = "Quantity")]
    pub quantity: i64,
}

/// The tutorial's cart shape, answered by the `getCart` query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TutorialCart {
    #[serde(rename = "Items")]
    pub items: Vec<TutorialItem>,
    #[serde(rename = "Email")]
    pub email: String,
}

/// The workflow's start input. Our clients send `settings` (and maybe `email`); the tutorial's
/// clients send `{"Items":[],"Email":""}`, which also parses; continue-as-new sends `resume`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CartInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<CartSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Box<super::CartState>>,
    #[serde(rename = "Items", default, skip_serializing_if = "Vec::is_empty")]
    pub tutorial_items: Vec<TutorialItem>,
    #[serde(rename = "Email", default, skip_serializing_if = "String::is_empty")]
    pub tutorial_email: String,
}

impl CartInput {
    pub fn new(settings: CartSettings, email: Option<String>) -> Self {
        Self {
            settings: Some(settings),
            email,
            ..Self::default()
        }
    }
}

// The requests below refuse fields they do not know: a caller who sends `"price": 0` learns at
// once that prices are not theirs to set, instead of having it silently ignored.

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub product_id: i64,
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveItem {
    pub product_id: i64,
    /// `None` removes the whole line.
    pub quantity: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetEmail {
    pub email: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    pub email: Option<String>,
    /// A payment token or method; the payment provider's test default when absent.
    pub payment: Option<String>,
}

/// A refund of an order, asked for under `id`: asking again under the same id is the same
/// refund, whatever else it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundOrder {
    pub id: String,
    /// The amount in the order's currency as a decimal (`"12.50"`); everything still
    /// refundable when absent.
    pub amount: Option<String>,
    pub reason: Option<String>,
}

/// A cancellation of an order that has not shipped: all that is refundable is refunded under
/// `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    pub id: String,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipOrder {
    pub tracking: Option<String>,
    pub carrier: Option<String>,
}

/// The longest refund or cancellation id a cart takes; it becomes part of the refund's
/// idempotency key.
pub const MAX_ORDER_ID_CHARS: usize = 64;

/// What is wrong with a refund or cancellation id, if anything.
pub fn check_order_id(id: &str) -> Result<(), String> {
    let fits = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if id.is_empty() || id.chars().count() > MAX_ORDER_ID_CHARS || !id.chars().all(fits) {
        return Err(format!(
            "{id:?} is not a refund id: use 1 to {MAX_ORDER_ID_CHARS} letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// What is wrong with a refund amount as a person writes it, if anything: it must be a decimal
/// above zero (its decimals are checked against the order's currency by the cart).
pub fn check_refund_amount(text: &str) -> Result<(), String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
        return Err(format!(
            "{text:?} is not an amount: write it like 12.50, in the order's currency, above zero"
        ));
    }
    if !text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        return Err("a refund of nothing: give an amount above zero".into());
    }
    Ok(())
}

/// A fresh refund id, for a refund or cancellation asked for without one.
pub fn new_order_id() -> String {
    format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// One refund of an order as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: String,
    pub amount: u64,
    pub reason: Option<String>,
    /// `pending` (asked for, not known yet), `refunded` or `failed`.
    pub status: String,
    /// The payment provider's id for the refund, once refunded.
    pub provider_id: Option<String>,
    /// Why it failed, or why it is not known yet.
    pub detail: Option<String>,
}

/// What a paid cart became: its order, as clients see it. Amounts are in minor units of
/// `currency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderView {
    /// `checked_out`, `refund_pending`, `partially_refunded`, `refunded`, `cancelled` or
    /// `shipped`.
    pub status: String,
    pub paid: u64,
    pub refunded: u64,
    pub refundable: u64,
    pub currency: String,
    pub refunds: Vec<RefundView>,
    pub cancelled: bool,
    pub cancel_reason: Option<String>,
    /// The refund the cancellation asked for, whatever id a cancel was sent under.
    pub cancel_refund: Option<String>,
    pub shipped: bool,
    pub tracking: Option<String>,
    pub carrier: Option<String>,
    /// `open`, `won` or `lost` once the payment was disputed.
    pub dispute: Option<String>,
    /// When the order stops taking refunds.
    #[schema(value_type = String, format = DateTime)]
    pub refundable_until: jiff::Timestamp,
}

/// One line of the cart as clients see it. Amounts are integers in minor units (cents).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineView {
    pub product_id: ProductId,
    pub name: String,
    pub quantity: u32,
    pub unit_price: u64,
    pub line_total: u64,
}

impl From<&LineItem> for LineView {
    fn from(line: &LineItem) -> Self {
        Self {
            product_id: line.product_id,
            name: line.name.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.minor,
            line_total: line.total().minor,
        }
    }
}

/// Proof of a successful checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    pub charge_id: String,
    pub amount: u64,
    pub currency: String,
    pub email: String,
    pub items: Vec<LineView>,
    #[schema(value_type = String, format = DateTime)]
    pub charged_at: jiff::Timestamp,
}

/// The cart as clients see it: the answer to `get_cart`, to every update, and the workflow's
/// result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartView {
    #[schema(value_type = String)]
    pub id: CartId,
    #[schema(schema_with = status_schema)]
    pub status: Status,
    pub email: Option<String>,
    pub items: Vec<LineView>,
    pub total: u64,
    /// The currency of the prices; `null` until the cart's first item sets it.
    pub currency: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
    /// Why the last checkout failed, until the next checkout starts.
    pub last_error: Option<String>,
    pub reminder_sent: bool,
    pub receipt: Option<Receipt>,
    /// The order, once the cart is paid and keeps taking refunds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderView>,
}

/// The status as the HTTP API documents it (the domain's `Status` stays free of schema code).
pub(crate) fn status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Status::ALL.map(|s| s.as_str())))
        .build()
}

impl CartView {
    pub(crate) fn of(
        cart: &Cart,
        created_at: jiff::Timestamp,
        updated_at: jiff::Timestamp,
        reminder_sent: bool,
        receipt: Option<Receipt>,
    ) -> Self {
        Self {
            id: cart.id().clone(),
            status: cart.status(),
            email: cart.email().map(|e| e.to_string()),
            items: cart.items().iter().map(LineView::from).collect(),
            total: cart.total_minor(),
            currency: cart.currency().map(|c| c.code().to_owned()),
            created_at,
            updated_at,
            last_error: cart.last_error().map(str::to_owned),
            reminder_sent,
            receipt,
            order: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_any_caller_are_kept_within_limits() {
        let wild = CartSettings::new(Duration::ZERO, Duration::from_secs(u64::MAX))
            .with_reminders_per_day(u32::MAX)
            .within_limits();
        assert_eq!(wild.reminder_delay, Duration::from_secs(1));
        assert_eq!(wild.expire_after, MAX_PERIOD);
        assert_eq!(wild.reminders_per_day, Some(MAX_REMINDERS_PER_DAY));
        let uncapped = CartSettings::frozen_default().within_limits();
        assert_eq!(uncapped, CartSettings::frozen_default());
    }
}
