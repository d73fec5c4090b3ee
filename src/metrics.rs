//! What operators' tools read from `cart worker --metrics ADDR` and `cart serve --metrics ADDR`:
//! `GET /metrics` in Prometheus text format, `GET /healthz` (liveness: the process answers) and
//! `GET /readyz` (readiness: Temporal answers and a worker polls the carts' task queue).
//!
//! A worker's `/metrics` holds the cart's business counters ([`WorkerMetrics`]) and, after them,
//! the Temporal SDK's own worker metrics (`temporal_…`), which the SDK exports on a loopback
//! port of its own that this endpoint reads. `cart serve`'s holds its requests ([`HttpMetrics`]).

use crate::workflow::metrics::{CartCounters, CartEvent};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The cart's business counters, counted by the carts of one worker.
pub struct WorkerMetrics {
    registry: Registry,
    carts_started: IntCounter,
    items_added: IntCounter,
    checkouts: IntCounterVec,
    unsettled: IntCounterVec,
    reminders_sent: IntCounter,
    carts_expired: IntCounter,
    signals_ignored: IntCounter,
}

/// Registers `metric`; the names and labels here are constant, so neither step can fail.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("a well-formed metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

impl WorkerMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| registered(&registry, IntCounter::new(name, help));
        Self {
            carts_started: counter("cart_carts_started_total", "Carts started"),
            items_added: counter("cart_items_added_total", "Products added to carts"),
            checkouts: registered(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "cart_checkouts_total",
                        "Checkouts by outcome: attempted, paid, declined, pending (outcome not known yet)",
                    ),
                    &["outcome"],
                ),
            ),
            unsettled: registered(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "cart_payment_unsettled_answers_total",
                        "Answers of the payment provider that left a payment unsettled, by cause: unknown (a timeout, 5xx, 409, 429) or not_about_the_payment (401, 403, another refusal of the request: an operator must look)",
                    ),
                    &["cause"],
                ),
            ),
            reminders_sent: counter("cart_reminders_sent_total", "Reminder e-mails sent"),
            carts_expired: counter("cart_carts_expired_total", "Carts that expired unpaid"),
            signals_ignored: counter(
                "cart_signals_ignored_total",
                "Tutorial signals (and start items) a cart could not apply: they cannot answer, so this and the worker's log are the only trace",
            ),
            registry,
        }
    }
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl CartCounters for WorkerMetrics {
    fn count(&self, event: CartEvent) {
        let checkout = |outcome: &str| self.checkouts.with_label_values(&[outcome]).inc();
        match event {
            CartEvent::Started => self.carts_started.inc(),
            CartEvent::ItemAdded => self.items_added.inc(),
            CartEvent::CheckoutAttempted => checkout("attempted"),
            CartEvent::Paid => checkout("paid"),
            CartEvent::Declined => checkout("declined"),
            CartEvent::PaymentPending => checkout("pending"),
            CartEvent::PaymentUnsettled { unrelated } => {
                let cause = if unrelated {
                    "not_about_the_payment"
                } else {
                    "unknown"
                };
                self.unsettled.with_label_values(&[cause]).inc();
            }
            CartEvent::ReminderSent => self.reminders_sent.inc(),
            CartEvent::Expired => self.carts_expired.inc(),
            CartEvent::SignalIgnored => self.signals_ignored.inc(),
        }
    }
}

/// The requests `cart serve` answers: a histogram of their latency by route, method and status.
pub struct HttpMetrics {
    registry: Registry,
    requests: HistogramVec,
}

impl HttpMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "cart_http_request_duration_seconds",
                    "HTTP requests answered, by route template, method and status",
                ),
                &["route", "method", "status"],
            ),
        );
        Self { registry, requests }
    }

    /// Records one answered request. `route` is the route's template (`/cart/{id}`), never the
    /// path itself, so cart ids do not become labels.
    pub fn observe(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .observe(took.as_secs_f64());
    }
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a process is ready to serve: `Err` says why not.
pub type Readiness = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// What one metrics endpoint serves.
#[derive(Clone)]
pub struct Endpoint {
    registry: Registry,
    /// Where the Temporal SDK exports its own metrics, read on each scrape.
    sdk: Option<SocketAddr>,
    ready: Readiness,
    http: reqwest::Client,
}

impl Endpoint {
    pub fn worker(metrics: &WorkerMetrics, sdk: SocketAddr, ready: Readiness) -> Self {
        Self::new(metrics.registry.clone(), Some(sdk), ready)
    }

    pub fn http(metrics: &HttpMetrics, ready: Readiness) -> Self {
        Self::new(metrics.registry.clone(), None, ready)
    }

    fn new(registry: Registry, sdk: Option<SocketAddr>, ready: Readiness) -> Self {
        Self {
            registry,
            sdk,
            ready,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    /// The scrape: ours, then the SDK's. A scrape that cannot read the SDK's fails (503)
    /// rather than silently leaving its metrics out.
    async fn scrape(&self) -> Result<String, String> {
        let mut text = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .map_err(|e| format!("cannot encode the metrics: {e}"))?;
        let mut text = String::from_utf8(text).map_err(|e| e.to_string())?;
        if let Some(sdk) = self.sdk {
            let sdk = self
                .http
                .get(format!("http://{sdk}/metrics"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("cannot read the Temporal SDK's metrics: {e}"))?
                .text()
                .await
                .map_err(|e| format!("cannot read the Temporal SDK's metrics: {e}"))?;
            text.push_str(&sdk);
        }
        Ok(text)
    }
}

/// `/metrics`, `/healthz` and `/readyz`.
pub fn router(endpoint: Endpoint) -> Router {
    let scrape = endpoint.clone();
    let ready = endpoint.ready.clone();
    Router::new()
        .route(
            "/metrics",
            get(move || async move {
                match scrape.scrape().await {
                    Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
                        .into_response(),
                    Err(e) => unavailable(e),
                }
            }),
        )
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "alive"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    match ready().await {
                        Ok(()) => axum::Json(serde_json::json!({"ready": true})).into_response(),
                        Err(e) => unavailable(e),
                    }
                }
            }),
        )
}

fn unavailable(reason: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({"ready": false, "error": reason})),
    )
        .into_response()
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` for as long as the process runs.
pub fn serve(listener: tokio::net::TcpListener, endpoint: Endpoint) {
    if let Ok(address) = listener.local_addr() {
        tracing::info!("metrics on http://{address}/metrics, /healthz, /readyz");
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(endpoint)).await {
            tracing::error!("the metrics endpoint stopped: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_move_their_counters() {
        let m = WorkerMetrics::new();
        m.count(CartEvent::ItemAdded);
        m.count(CartEvent::ItemAdded);
        m.count(CartEvent::Paid);
        assert_eq!(m.items_added.get(), 2);
        assert_eq!(m.checkouts.with_label_values(&["paid"]).get(), 1);
        assert_eq!(m.checkouts.with_label_values(&["declined"]).get(), 0);
    }
}
