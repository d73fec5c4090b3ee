//! Finding carts by state: the search attributes each cart keeps, `cart list --status/--since/
//! --query` and `GET /api/v1/carts?…` over them, against a real server and worker; and a
//! namespace without them, where carts still work.

use super::{Setup, stderr};
use crate::support::{eventually, unique};
use std::time::Duration;

/// The ids `cart list ARGS --output json` prints, once the listing has caught up with `want`
/// (the visibility store lags the carts by a moment).
async fn listed(s: &Setup, args: &[&str], want: &[&str]) -> Vec<String> {
    let what = format!("cart list {args:?} to show {want:?}");
    eventually(Duration::from_secs(30), &what, || async {
        let json = s.ok_json(&[&["list"], args].concat());
        let mut ids: Vec<String> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        let mut want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        want.sort();
        (ids == want).then_some(ids)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carts_are_found_by_state_total_and_time() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let (paid, small, big) = (
        unique("CART-paid"),
        unique("CART-small"),
        unique("CART-big"),
    );
    s.ok(&["add", &paid, "--product", "0", "--qty", "2"]);
    s.ok(&["checkout", &paid, "--email", "ann@example.com"]);
    s.ok(&["add", &small, "--product", "2"]);
    s.ok(&["email", &small, "bob@example.com"]);
    s.ok(&["add", &big, "--product", "1", "--qty", "3"]);

    listed(&s, &["--status", "checked_out"], &[&paid]).await;
    listed(&s, &["--status", "open"], &[&small, &big]).await;
    // 2 × $999 and 3 × $699, in cents.
    listed(&s, &["--query", "CartTotal > 150000"], &[&paid, &big]).await;
    listed(&s, &["--query", "CartItems >= 3"], &[&big]).await;
    listed(&s, &["--since", "1h"], &[&paid, &small, &big]).await;
    listed(&s, &["--since", "2099-01-01T00:00:00Z"], &[]).await;
    // Without filters: the carts whose workflow runs, the paid one among them (an order within
    // its refund window), each with its status.
    let running = listed(&s, &[], &[&paid, &small, &big]).await;
    let shown = s.ok_json(&["list"]);
    for cart in shown.as_array().unwrap() {
        let want = if cart["id"] == paid.as_str() {
            "checked_out"
        } else {
            "open"
        };
        assert_eq!(cart["status"], want, "{shown}");
    }
    assert_eq!(running.len(), 3);

    // The same filters over HTTP.
    let api = crate::api::Server::start(&s, &[]).await;
    let (status, body) = api
        .call(
            reqwest::Method::GET,
            "/api/v1/carts?status=checked_out",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [paid.as_str()]);
    assert_eq!(body[0]["status"], "checked_out");

    // What Temporal indexes never holds the customer's address.
    let described = s
        .env
        .client()
        .get_workflow_handle::<cart::workflow::CartWorkflow>(small.as_str())
        .describe(Default::default())
        .await
        .unwrap();
    let indexed = format!("{:?}", described.raw().workflow_execution_info);
    assert!(indexed.contains("CartStatus"), "{indexed}");
    assert!(
        !indexed.contains("bob@"),
        "the e-mail address is indexed: {indexed}"
    );

    // A filter Temporal cannot run is refused with what to check.
    let out = s
        .cart()
        .args(["list", "--query", "NoSuchAttribute = 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(said.contains("the listing cannot filter on that"), "{said}");
    assert!(said.contains("Finding carts"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_search_attributes_carts_still_work_and_the_worker_says_what_to_run() {
    let s = Setup::without_search_attributes().await;
    let worker = s.spawn_worker().await;
    let cart = unique("CART-bare");
    s.ok(&["add", &cart, "--product", "0"]);
    s.ok(&["checkout", &cart, "--email", "ann@example.com"]);
    assert_eq!(s.charges().len(), 1);
    let other = unique("CART-bare");
    s.ok(&["add", &other, "--product", "1"]);
    // Listing the running carts (the paid one is an order within its window) needs no search
    // attribute.
    listed(&s, &[], &[&cart, &other]).await;

    let out = s
        .cart()
        .args(["list", "--status", "open"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Finding carts"), "{}", stderr(&out));

    let (_, log) = worker.terminate();
    assert!(
        log.contains("the namespace has no search attribute CartStatus"),
        "{log}"
    );
    assert!(
        log.contains("temporal operator search-attribute create --name CartStatus --type Keyword"),
        "{log}"
    );
}
