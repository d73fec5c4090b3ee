//! What the HTTP API says of a payment whose outcome is not known yet: 202 and the cart
//! `payment_pending`, until it settles.

use super::Server;
use crate::stripe::fake::{FakeStripe, KEY, Step};
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_payment_is_a_202_and_the_cart_says_so_until_it_settles() {
    let stripe = FakeStripe::start(vec![Step::Processing, Step::Processing]).await;
    stripe.then(&["processing", "processing", "processing", "succeeded"]);
    let s = Setup::new().await;
    let base = stripe.uri();
    let mut vars = vec![("STRIPE_SECRET_KEY", KEY), ("STRIPE_API_BASE", &base)];
    vars.extend(crate::stripe::FAST_STRIPE);
    let _worker = s.spawn_worker_with(&vars).await;
    let api = Server::start(&s, &[]).await;
    let id = unique("CART-api-pending");
    let path = |action: &str| format!("/api/v1/carts/{id}/{action}");
    let (status, _) = api
        .call(
            Method::POST,
            &path("add"),
            Some(json!({"product_id": 1, "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, cart) = api
        .call(
            Method::POST,
            &path("checkout"),
            Some(json!({"email": "ann@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{cart}");
    assert_eq!(cart["status"], "payment_pending");
    assert_eq!(
        cart["last_error"],
        "the payment provider is still processing the payment"
    );
    let doc = api.call(Method::GET, "/api/v1/openapi.json", None).await.1;
    super::conforms(&doc, "/api/v1/carts/{id}/checkout", "post", 202, &cart);
    // The listing shows it pending too: the status comes from the cart's memo.
    let (status, listed) = api.call(Method::GET, "/api/v1/carts", None).await;
    assert_eq!(status, StatusCode::OK);
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} is not listed: {listed}"));
    assert_eq!(entry["status"], "payment_pending", "{listed}");
    super::conforms(&doc, "/api/v1/carts", "get", 200, &listed);
    // A second checkout begins nothing while the first is not settled: it answers what is
    // known.
    let (status, again) = api
        .call(Method::POST, &path("checkout"), Some(json!({})))
        .await;
    if again["status"] == "payment_pending" {
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    } else {
        assert_eq!(status, StatusCode::OK, "{again}");
    }
    let settled = eventually(Duration::from_secs(60), "the payment to settle", || async {
        let (_, cart) = api
            .call(Method::GET, &format!("/api/v1/carts/{id}"), None)
            .await;
        (cart["status"] == "checked_out").then_some(cart)
    })
    .await;
    assert_eq!(settled["last_error"], serde_json::Value::Null);
    assert_eq!(stripe.charges().len(), 1);
    // Paid: a checkout answers the receipt, and charges nothing more.
    let (status, again) = api
        .call(Method::POST, &path("checkout"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["receipt"], settled["receipt"]);
    assert_eq!(stripe.created(), 1);

    // The tutorial's route answers 202 too, with its own shape.
    let (_, created) = api.call(Method::POST, "/cart", None).await;
    let other = created["workflowID"].as_str().unwrap().to_owned();
    let (_, _) = api
        .call(
            Method::PUT,
            &format!("/cart/{other}/add"),
            Some(json!({"ProductId": 2, "Quantity": 1})),
        )
        .await;
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/cart/{other}/checkout"),
            Some(json!({"Email": "ann@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, json!({"sent": false, "status": "payment_pending"}));
}
