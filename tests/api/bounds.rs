//! Nothing a caller sends grows a cart without bound: unknown fields, a payment of any length,
//! more lines than a cart holds and a cart id of a thousand characters are refused or kept
//! short, and the cart's history shows it.

use super::Server;
use crate::support::*;
use cart::domain::{MAX_LINES, MAX_PAYMENT_CHARS};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The cart's history as JSON (what the server stores), and its number of events.
async fn stored(s: &Setup, id: &str) -> (String, usize) {
    let id = &cart::domain::CartId::parse(id).unwrap();
    let handle = s
        .env
        .client()
        .get_workflow_handle::<cart::workflow::CartWorkflow>(id.as_str());
    let json = handle
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    (
        String::from_utf8(json).unwrap(),
        history(&s.env, id).await.len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_caller_sends_cannot_bloat_a_cart() {
    let s = Setup::new().await;
    // A shop with more products than one cart may hold.
    let catalog = s.data().join("many.toml");
    let mut text = String::from("currency = \"USD\"\n");
    for id in 0..=MAX_LINES {
        text.push_str(&format!(
            "[[products]]\nid = {id}\nname = \"Case {id}\"\nprice = \"1.00\"\n"
        ));
    }
    std::fs::write(&catalog, text).unwrap();
    let catalog = catalog.display().to_string();
    let _worker = s.spawn_worker_with(&[("CART_CATALOG", &catalog)]).await;
    let api = Server::start(&s, &[]).await;
    let id = unique("CART-bounds");
    let path = |action: &str| format!("/api/v1/carts/{id}/{action}");
    let add = |product: usize| json!({"product_id": product, "quantity": 1});
    let (status, _) = api.call(Method::POST, &path("add"), Some(add(0))).await;
    assert_eq!(status, StatusCode::OK);
    let (json_before, events_before) = stored(&s, &id).await;

    // A price of one's own is an unknown field, and refused.
    let (status, body) = api
        .call(
            Method::POST,
            &path("add"),
            Some(json!({"product_id": 1, "quantity": 1, "price": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `price`"),
        "{body}"
    );
    let (status, _) = api
        .call(
            Method::POST,
            &path("checkout"),
            Some(json!({"email": "ann@example.com", "amount": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A payment of 10,000 characters, three times: refused before anything is recorded, and
    // the error does not carry it back. One of 1.5 MB does not even get past the body limit.
    let huge = format!("tok_{}", "x".repeat(10_000));
    for _ in 0..3 {
        let (status, body) = api
            .call(
                Method::POST,
                &path("checkout"),
                Some(json!({"email": "ann@example.com", "payment": huge})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body:.200}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("is not a payment token or method"),
            "{error:.300}"
        );
        assert!(error.len() < 400, "the error is {} bytes", error.len());
    }
    // The server answers 413 without reading the rest, and closes the connection: a client
    // still sending gets the 413 or, when the close overtakes it, a broken connection. (A
    // client of its own, so that no later request goes out on the closed connection.)
    let answer = reqwest::Client::new()
        .post(api.url(&path("checkout")))
        .json(&json!({"email": "ann@example.com", "payment": "x".repeat(1_500_000)}))
        .send()
        .await;
    match answer {
        Ok(answer) => assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request() && !e.is_timeout(), "{e:?}"),
    }
    let too_long = format!("pm_{}", "a".repeat(MAX_PAYMENT_CHARS));
    let (status, _) = api
        .call(
            Method::POST,
            &path("checkout"),
            Some(json!({"email": "ann@example.com", "payment": too_long})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (json_after, events_after) = stored(&s, &id).await;
    assert_eq!(
        events_after, events_before,
        "a refused request adds no event"
    );
    assert_eq!(json_after.len(), json_before.len());
    assert!(!json_after.contains("xxxxxxxxxx"));

    // A hundred different products fit. The next is refused when its turn comes (whether a
    // line fits depends on the changes before it), without being priced: the history records
    // the refused update, a few events, and nothing of the product.
    for product in 1..MAX_LINES {
        let (status, body) = api
            .call(Method::POST, &path("add"), Some(add(product)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, events_full) = stored(&s, &id).await;
    let (status, body) = api
        .call(Method::POST, &path("add"), Some(add(MAX_LINES)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("holds 100 different products"),
        "{body}"
    );
    let (json_full, events) = stored(&s, &id).await;
    assert!(
        events <= events_full + 5,
        "{events} events after the refusal, {events_full} before"
    );
    assert!(!json_full.contains(&format!("Case {MAX_LINES}\"")));
    let (status, cart) = api
        .call(Method::GET, &format!("/api/v1/carts/{id}"), None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{cart}; cart serve logged:\n{}",
        std::fs::read_to_string(&api.log).unwrap_or_default()
    );
    assert_eq!(cart["items"].as_array().map(Vec::len), Some(MAX_LINES));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_id_of_a_thousand_characters_still_gets_a_short_idempotency_key() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    // `cart` refuses such ids; a cart started by another Temporal client may have one.
    let carts = s.client();
    let id = cart::domain::CartId::of_workflow(&format!("CART-{}", "x".repeat(995)));
    carts.add(&id, add(2, 1), input(LONG, LONG)).await.unwrap();
    let view = carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    assert_eq!(view.status, cart::domain::Status::CheckedOut);
    let charges = ledger(s.data());
    assert_eq!(charges.len(), 1);
    let key = &charges[0].idempotency_key;
    assert!(key.len() <= 255, "a key of {} characters", key.len());
    assert_eq!(charges[0].cart_id, id);
}
