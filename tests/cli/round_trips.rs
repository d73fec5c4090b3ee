//! How many requests each command makes to Temporal, counted by a gRPC proxy between the real
//! `cart` and a real dev server: a change is one request once connected, however long its
//! handler runs (a price lookup, a payment).

use super::{Setup, checkout_args, stderr};
use crate::support::*;

/// The gRPC methods `cart ARGS` called, through `proxy`; the command must succeed.
fn calls(s: &Setup, proxy: &CountingProxy, args: &[&str]) -> Vec<String> {
    let out = s
        .cart()
        .env("TEMPORAL_ADDRESS", &proxy.address)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cart {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    proxy.take()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_is_one_request_after_connecting() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let proxy = CountingProxy::start(&s.address).await;
    let id = unique("CART-rt");
    let connect = "GetSystemInfo";
    let one = |method: &str| vec![connect.to_owned(), method.to_owned()];

    // A new cart, and the first add to a cart that does not exist yet (a price lookup runs).
    let (multi, update) = ("ExecuteMultiOperation", "UpdateWorkflowExecution");
    assert_eq!(calls(&s, &proxy, &["new", "--output", "json"]), one(multi));
    assert_eq!(
        calls(&s, &proxy, &["add", &id, "--product", "0"]),
        one(multi)
    );
    // A product new to the cart (another lookup), the same product again (none).
    assert_eq!(
        calls(&s, &proxy, &["add", &id, "--product", "1"]),
        one(multi)
    );
    assert_eq!(
        calls(&s, &proxy, &["add", &id, "--product", "1"]),
        one(multi)
    );
    assert_eq!(
        calls(&s, &proxy, &["remove", &id, "--product", "1"]),
        one(update)
    );
    assert_eq!(
        calls(&s, &proxy, &["email", &id, "ann@example.com"]),
        one(update)
    );
    assert_eq!(calls(&s, &proxy, &["show", &id]), one("QueryWorkflow"));
    // A checkout runs a payment before it answers.
    assert_eq!(calls(&s, &proxy, &["checkout", &id]), one(update));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_whose_answer_is_lost_is_asked_again_and_charges_once() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let proxy = CountingProxy::start(&s.address).await;
    let id = unique("CART-lost");
    s.ok(&["add", &id, "--product", "1", "--qty", "2"]);

    // The server charges the card and answers; the answer never reaches `cart`.
    proxy.lose_answers("UpdateWorkflowExecution", 1);
    let out = s
        .cart()
        .env("TEMPORAL_ADDRESS", &proxy.address)
        .args(checkout_args(&id))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let paid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(paid["status"], "checked_out");
    // Asked again with the same update id: the server answers with the outcome it has.
    let updates = proxy
        .take()
        .into_iter()
        .filter(|m| m == "UpdateWorkflowExecution")
        .count();
    assert_eq!(updates, 2);
    assert_eq!(s.charges().len(), 1, "{:?}", s.charges());
    assert_eq!(paid["receipt"]["amount"], 2 * 69_900);
}
