//! The shop's own routes through the real `cart serve`: refunds, cancellations and shipments
//! with the operator token, refused without it before anything reaches Temporal.

use super::Server;
use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_refunds_and_ships_over_http_with_its_own_token_and_only_with_it() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let token = s.data().join("operator-token");
    std::fs::write(&token, "op-s3cret\n").unwrap();
    let api = Server::start(&s, &["--operator-token-file", token.to_str().unwrap()]).await;
    let id = unique("CART-api-order");
    let path = |action: &str| format!("/api/v1/carts/{id}/{action}");
    let (status, _) = api
        .call(
            Method::POST,
            &path("add"),
            Some(json!({"product_id": 0, "quantity": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call(
            Method::POST,
            &path("checkout"),
            Some(json!({"email": "ann@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let refund = json!({"amount": "100.00", "reason": "returned"});
    let op = ("authorization", "Bearer op-s3cret");
    let keyed = ("idempotency-key", "r1");
    // Without the token, or with a wrong one: 401, and nothing reached the cart.
    for headers in [vec![keyed], vec![keyed, ("authorization", "Bearer nope")]] {
        let (status, body) = api
            .call_with(
                Method::POST,
                &path("refunds"),
                Some(refund.clone()),
                &headers,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, body) = api
        .call_with(Method::POST, &path("refunds"), Some(refund.clone()), &[op])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no id: {body}");
    assert!(ledger(s.data()).iter().all(|e| e.refund_of.is_none()));

    let (status, body) = api
        .call_with(
            Method::POST,
            &path("refunds"),
            Some(refund.clone()),
            &[op, keyed],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["status"], "partially_refunded");
    assert_eq!(body["order"]["refundable"], 89_900);
    // The same request again (a retry after a lost answer) is the same refund.
    let (status, again) = api
        .call_with(Method::POST, &path("refunds"), Some(refund), &[op, keyed])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["order"]["refunds"], body["order"]["refunds"]);
    let refunds = ledger(s.data())
        .into_iter()
        .filter(|e| e.refund_of.is_some())
        .count();
    assert_eq!(refunds, 1);

    let (status, body) = api
        .call_with(
            Method::POST,
            &path("shipment"),
            Some(json!({"tracking": "1Z9"})),
            &[op],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["tracking"], "1Z9");
    let (status, body) = api
        .call_with(Method::POST, &path("cancel"), Some(json!({})), &[op])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"],
        "the order has shipped; refund an amount instead"
    );
    // The shopper's routes do not take the operator's token as theirs, nor need it.
    let (status, shown) = api
        .call(Method::GET, &format!("/api/v1/carts/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["order"]["shipped"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_an_operator_token_takes_no_refunds() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;
    let (status, body) = api
        .call_with(
            Method::POST,
            "/api/v1/carts/CART-any/refunds",
            Some(json!({"id": "r1"})),
            &[("authorization", "Bearer anything")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The tutorial's routes have no refunds at all.
    let (status, _) = api
        .call(Method::POST, "/cart/CART-any/refund", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let out = s
        .cart()
        .args(["serve", "--token", "same", "--operator-token", "same"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need a token of their own"));
}
