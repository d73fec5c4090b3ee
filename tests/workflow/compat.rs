//! The tutorial's clients: its start input, signals and `getCart` query, sent with the real
//! `temporal` CLI exactly as the tutorial's README does.

use crate::support::*;
use cart::domain::Status;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_start_signals_and_query_drive_our_worker() {
    let h = Harness::start().await;
    let temporal = Temporal {
        address: h.address.clone(),
    };
    let (carts, id) = (&h.carts, unique_cart());

    temporal.start(&h.queue, &id, r#"{"Items":[],"Email":""}"#);
    let add = r#"{"Route":"add_to_cart","Item":{"ProductId":0,"Quantity":1}}"#;
    temporal.signal(&id, "ADD_TO_CART_CHANNEL", add);
    temporal.signal(&id, "ADD_TO_CART_CHANNEL", add);
    temporal.signal(
        &id,
        "ADD_TO_CART_CHANNEL",
        r#"{"Route":"add_to_cart","Item":{"ProductId":2,"Quantity":3}}"#,
    );
    temporal.signal(
        &id,
        "REMOVE_FROM_CART_CHANNEL",
        r#"{"Route":"remove_from_cart","Item":{"ProductId":2,"Quantity":5}}"#,
    );
    temporal.signal(
        &id,
        "UPDATE_EMAIL_CHANNEL",
        r#"{"Route":"update_email","Email":"a@example.com"}"#,
    );
    // Malformed and refused signals are logged and ignored; the workflow carries on.
    temporal.signal(&id, "ADD_TO_CART_CHANNEL", r#"{"Route":"add_to_cart"}"#);
    temporal.signal(&id, "ADD_TO_CART_CHANNEL", r#""garbage""#);
    temporal.signal(
        &id,
        "ADD_TO_CART_CHANNEL",
        r#"{"Route":"add_to_cart","Item":{"ProductId":42,"Quantity":1}}"#,
    );
    temporal.signal(
        &id,
        "UPDATE_EMAIL_CHANNEL",
        r#"{"Route":"update_email","Email":"not an address"}"#,
    );

    let expected = serde_json::json!({
        "Items": [{"ProductId": 0, "Quantity": 2}],
        "Email": "a@example.com"
    });
    let cart = eventually(Duration::from_secs(10), "the signals", || async {
        Some(temporal.get_cart(&id)).filter(|c| *c == expected)
    })
    .await;
    assert_eq!(cart, expected);
    // Our own query sees the same cart, priced from the built-in catalog.
    let view = carts.get(&id).await.unwrap();
    assert_eq!(view.status, Status::Open);
    assert_eq!(view.total, 2 * 99_900);

    temporal.signal(
        &id,
        "CHECKOUT_CHANNEL",
        r#"{"Route":"checkout","Email":"a@example.com"}"#,
    );
    eventually(Duration::from_secs(20), "the paid cart", || async {
        let view = carts.get(&id).await.ok()?;
        (view.status == Status::CheckedOut).then_some(())
    })
    .await;
    let ledger = ledger(h.data());
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].amount, 2 * 99_900);
    assert_eq!(ledger[0].email, "a@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_start_input_may_carry_items() {
    let h = Harness::start().await;
    let temporal = Temporal {
        address: h.address.clone(),
    };
    let id = unique_cart();
    // Product 99 does not exist: that item is logged and left out; the rest is kept.
    let input = r#"{"Items":[{"ProductId":1,"Quantity":2},{"ProductId":99,"Quantity":1}],"Email":"b@example.com"}"#;
    temporal.start(&h.queue, &id, input);
    // The items are priced by the worker when the run begins, a moment after the start.
    let cart = eventually(Duration::from_secs(10), "the cart's items", || async {
        let c = temporal.get_cart(&id);
        c["Items"].is_array().then_some(c)
    })
    .await;
    assert_eq!(
        cart,
        serde_json::json!({"Items": [{"ProductId": 1, "Quantity": 2}], "Email": "b@example.com"})
    );
}
