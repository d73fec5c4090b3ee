//! The updates a test sends a cart, and the start inputs it sends with them.

use cart::workflow::{CartInput, CartSettings};
use std::time::Duration;

pub fn add(product_id: i64, quantity: i64) -> cart::workflow::AddItem {
    cart::workflow::AddItem {
        product_id,
        quantity,
    }
}

pub fn remove(product_id: i64, quantity: Option<i64>) -> cart::workflow::RemoveItem {
    cart::workflow::RemoveItem {
        product_id,
        quantity,
    }
}

pub fn email(address: &str) -> cart::workflow::SetEmail {
    cart::workflow::SetEmail {
        email: address.into(),
    }
}

pub fn checkout(email: Option<&str>, payment: Option<&str>) -> cart::workflow::Checkout {
    cart::workflow::Checkout {
        email: email.map(Into::into),
        payment: payment.map(Into::into),
    }
}

/// An hour: longer than any test, for timers that must not fire.
pub const LONG: Duration = Duration::from_secs(3600);

pub fn settings(remind: Duration, expire: Duration) -> CartSettings {
    CartSettings::new(remind, expire)
}

pub fn input(remind: Duration, expire: Duration) -> CartInput {
    CartInput::new(settings(remind, expire), None)
}

/// `input` for a cart whose order, once paid, takes refunds for `window` and then completes.
pub fn input_with_window(remind: Duration, expire: Duration, window: Duration) -> CartInput {
    CartInput::new(settings(remind, expire).with_refund_window(window), None)
}

pub fn refund(id: &str, amount: Option<&str>) -> cart::workflow::RefundOrder {
    cart::workflow::RefundOrder {
        id: id.into(),
        amount: amount.map(Into::into),
        reason: Some("returned".into()),
    }
}

pub fn ship(tracking: &str) -> cart::workflow::ShipOrder {
    cart::workflow::ShipOrder {
        tracking: Some(tracking.into()),
        carrier: Some("UPS".into()),
    }
}
