//! What operators' tools read: `--metrics` of `cart worker` and `cart serve`, scraped as
//! Prometheus scrapes it and parsed with a Prometheus text parser, and `--log-format json`.

use crate::support::*;
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};
use std::time::Duration;

pub(crate) type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

/// A free loopback address for `--metrics`.
pub(crate) fn metrics_address() -> String {
    format!("127.0.0.1:{}", free_port())
}

pub(crate) async fn scrape(address: &str) -> Scrape {
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .expect("the metrics endpoint answers")
        .error_for_status()
        .expect("a 200")
        .text()
        .await
        .unwrap();
    parse_prometheus(&text)
        .unwrap_or_else(|e| panic!("not the Prometheus text format: {e}\n{text}"))
}

/// Every sample of the family `name` whose labels include `labels`.
fn samples<'a>(
    scrape: &'a Scrape,
    name: &str,
    labels: &'a [(&str, &str)],
) -> impl Iterator<Item = &'a PrometheusValue> {
    scrape
        .families
        .get(name)
        .into_iter()
        .flat_map(|family| family.iter_samples())
        .filter(move |sample| {
            let set = sample.get_labelset().expect("labels bound to the family");
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|sample| &sample.value)
}

/// The value of the counter or gauge `name` with (at least) these labels.
pub(crate) fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(scrape, name, labels).find_map(|v| match v {
        PrometheusValue::Counter(c) => Some(c.value.as_f64()),
        PrometheusValue::Gauge(g) | PrometheusValue::Unknown(g) => Some(g.as_f64()),
        _ => None,
    })
}

/// How many observations the histogram `name` holds with (at least) these labels.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> u64 {
    samples(scrape, name, labels)
        .map(|v| match v {
            PrometheusValue::Histogram(h) => h.count.unwrap_or(0),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

/// Waits until the scrape shows `name` (with `labels`) at `want`.
async fn until_counted(address: &str, name: &str, labels: &[(&str, &str)], want: f64) {
    let what = format!("{name}{labels:?} to reach {want}");
    eventually(Duration::from_secs(30), &what, || async {
        (value(&scrape(address).await, name, labels) == Some(want)).then_some(())
    })
    .await;
}

async fn get(address: &str, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{address}{path}"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `/readyz` once it answers as `expected` says, or its last answer after 20 s. A probe may
/// see a passing failure (on a loaded machine a connection to Temporal can fail once); what
/// counts is that readiness settles where it should.
async fn readiness(
    address: &str,
    expected: impl Fn(u16, &serde_json::Value) -> bool,
) -> (u16, serde_json::Value) {
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(address, "/readyz").await;
        if expected(status, &body) || tokio::time::Instant::now() > end {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_s_counters_move_when_carts_do() {
    let s = Setup::new().await;
    let address = metrics_address();
    // A cache of one cart: the two carts below evict each other, and each comes back by
    // replaying its history, which must not count its past again.
    let _worker = s
        .spawn_worker_with(&[("CART_METRICS", &address), ("CART_MAX_CACHED_CARTS", "1")])
        .await;
    assert_eq!(get(&address, "/healthz").await.0, 200);
    let (status, ready) = readiness(&address, |status, _| status == 200).await;
    assert_eq!((status, &ready["ready"]), (200, &serde_json::json!(true)));

    // Before any cart: the business counters at zero, beside the SDK's own worker metrics.
    let first = scrape(&address).await;
    assert_eq!(value(&first, "cart_items_added_total", &[]), Some(0.0));
    assert!(
        first
            .families
            .keys()
            .any(|name| name.starts_with("temporal_")),
        "no Temporal SDK metrics: {:?}",
        first.families.keys().collect::<Vec<_>>()
    );

    let cart = unique("CART-metrics");
    s.ok(&["add", &cart, "--product", "0", "--qty", "2"]);
    s.ok(&["add", &cart, "--product", "1"]);
    until_counted(&address, "cart_carts_started_total", &[], 1.0).await;
    until_counted(&address, "cart_items_added_total", &[], 2.0).await;

    // A declined card, then a good one.
    let out = s
        .cart()
        .args(["checkout", &cart, "--email", "ann@example.com"])
        .args(["--payment", "tok_chargeDeclined"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", crate::cli::stderr(&out));
    s.ok(&["checkout", &cart, "--payment", "tok_visa"]);
    let outcome = |o| [("outcome", o)];
    until_counted(&address, "cart_checkouts_total", &outcome("attempted"), 2.0).await;
    until_counted(&address, "cart_checkouts_total", &outcome("declined"), 1.0).await;
    until_counted(&address, "cart_checkouts_total", &outcome("paid"), 1.0).await;

    // A cart left alone: its reminder, then its expiry.
    let idle = unique("CART-idle");
    s.ok(&[
        "new",
        "--id",
        &idle,
        "--email",
        "bob@example.com",
        "--remind-after",
        "1s",
        "--expire-after",
        "3s",
    ]);
    s.ok(&["add", &idle, "--product", "2"]);
    until_counted(&address, "cart_reminders_sent_total", &[], 1.0).await;
    until_counted(&address, "cart_carts_expired_total", &[], 1.0).await;
    s.ok(&["show", &cart]);
    let last = scrape(&address).await;
    assert_eq!(value(&last, "cart_carts_started_total", &[]), Some(2.0));
    assert_eq!(value(&last, "cart_items_added_total", &[]), Some(3.0));
    assert_eq!(
        value(&last, "cart_checkouts_total", &outcome("pending")),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_logs_json_lines_when_asked() {
    let s = Setup::new().await;
    let worker = s.spawn_worker_with(&[("CART_LOG_FORMAT", "json")]).await;
    let (status, log) = worker.terminate();
    assert!(status.success(), "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let started = lines
        .iter()
        .find(|l| l["message"] == "cart worker started")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["task_queue"], s.queue.as_str());
    assert!(started["timestamp"].is_string(), "{started}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_counts_requests_by_route_and_status() {
    use reqwest::Method;
    let s = Setup::new().await;
    let address = metrics_address();
    let api = crate::api::Server::start(&s, &["--metrics", &address]).await;
    // No worker yet: alive, not ready.
    assert_eq!(get(&address, "/healthz").await.0, 200);
    let no_worker = |_: u16, ready: &serde_json::Value| {
        ready["error"]
            .as_str()
            .is_some_and(|e| e.contains("no worker"))
    };
    let (status, ready) = readiness(&address, no_worker).await;
    assert_eq!(status, 503, "{ready}");
    assert!(no_worker(status, &ready), "{ready}");

    let _worker = s.spawn_worker().await;
    assert_eq!(readiness(&address, |status, _| status == 200).await.0, 200);
    let before = scrape(&address).await;
    let count = |scrape: &Scrape, route: &str, status: &str| {
        observations(
            scrape,
            "cart_http_request_duration_seconds",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
    };
    let products_before = count(&before, "/products", "200");
    for _ in 0..2 {
        assert_eq!(api.call(Method::GET, "/products", None).await.0, 200);
    }
    assert_eq!(api.call(Method::GET, "/cart/not-a-cart", None).await.0, 400);
    let nobody = "/api/v1/carts/CART-nobody";
    assert_eq!(api.call(Method::GET, nobody, None).await.0, 404);
    assert_eq!(api.call(Method::GET, "/nowhere", None).await.0, 404);

    let after = scrape(&address).await;
    assert_eq!(count(&after, "/products", "200"), products_before + 2);
    assert_eq!(count(&after, "/cart/{id}", "400"), 1);
    assert_eq!(count(&after, "/api/v1/carts/{id}", "404"), 1);
    assert_eq!(count(&after, "unmatched", "404"), 1);
    // Cart ids never become labels.
    let labels: Vec<String> = after
        .families
        .values()
        .flat_map(|family| family.iter_samples())
        .flat_map(|sample| {
            let set = sample.get_labelset().expect("labels bound to the family");
            set.iter_values().cloned().collect::<Vec<_>>()
        })
        .collect();
    assert!(
        labels.iter().all(|v| !v.contains("CART-")),
        "a cart id in a label: {labels:?}"
    );
}
