//! Compatibility with the Go tutorial's clients: its signal payloads and `getCart` shape.
//!
//! Signals cannot answer, so a malformed or rejected one is logged and ignored; it never fails
//! the workflow task or the workflow.

use super::messages::{Checkout, TutorialCart, TutorialItem};
use crate::domain::Cart;
use serde::Deserialize;
use temporalio_common::data_converters::RawValue;

/// `{"Route":"…","Item":{"ProductId":0,"Quantity":1},"Email":"…"}`: one shape for every signal.
#[derive(Deserialize)]
struct TutorialSignal {
    #[serde(rename = "Item")]
    item: Option<TutorialItem>,
    #[serde(rename = "Email")]
    email: Option<String>,
}

fn parse(raw: &RawValue) -> Result<TutorialSignal, String> {
    let payload = raw
        .payloads
        .first()
        .ok_or_else(|| "the signal carried no payload".to_owned())?;
    serde_json::from_slice(&payload.data)
        .map_err(|e| format!("the signal payload is not the tutorial's JSON: {e}"))
}

pub(super) fn item(raw: &RawValue) -> Result<TutorialItem, String> {
    parse(raw)?
        .item
        .ok_or_else(|| "the signal has no \"Item\"".to_owned())
}

pub(super) fn email(raw: &RawValue) -> Result<String, String> {
    parse(raw)?
        .email
        .ok_or_else(|| "the signal has no \"Email\"".to_owned())
}

pub(super) fn checkout(raw: &RawValue) -> Result<Checkout, String> {
    let email = parse(raw)?.email.filter(|e| !e.trim().is_empty());
    Ok(Checkout {
        email,
        payment: None,
    })
}

pub(super) fn cart(cart: &Cart) -> TutorialCart {
    TutorialCart {
        items: cart
            .items()
            .iter()
            .map(|l| TutorialItem {
                product_id: i64::from(l.product_id),
                quantity: i64::from(l.quantity),
            })
            .collect(),
        email: cart.email().map(|e| e.to_string()).unwrap_or_default(),
    }
}
