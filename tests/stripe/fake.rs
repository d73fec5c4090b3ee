//! An HTTP server that plays Stripe's PaymentIntents API as far as a checkout uses it, with
//! Stripe's idempotency rules, and misbehaves on cue; and a proxy that drops a connection after
//! the work behind it was done.
//!
//! Idempotency as Stripe documents it: the first request with a key runs and its answer is
//! kept (500s included) and replayed to later requests with the key; while that first request
//! still runs, another with the key gets 409. A request that fails before it runs (an outage in
//! front of the API) keeps nothing.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

/// What the next PaymentIntent request meets. Without a step, it runs and succeeds.
#[derive(Clone, Debug)]
pub enum Step {
    /// It runs (the PaymentIntent exists and succeeds once `done_after` has passed; until then
    /// a request with the key gets 409), but its answer comes only after `answer_after`.
    Slow {
        done_after: Duration,
        answer_after: Duration,
    },
    /// 409 `idempotency_error`: another request with the key is running. Nothing runs.
    Conflict,
    /// 500 before anything runs: nothing is kept for the key.
    Outage,
    /// It runs and charges, then answers 500, and Stripe keeps that 500 for the key.
    ChargedThen500,
    /// It runs; the PaymentIntent is `processing` (retrieving it later tells how it ended).
    Processing,
    /// 402: the card is declined with this message; kept for the key.
    Decline(String),
}

struct Kept {
    status: u16,
    body: Value,
    /// Until when the first request with the key is still running.
    running_until: Instant,
}

#[derive(Default)]
struct State {
    script: VecDeque<Step>,
    /// How retrieving a `processing` PaymentIntent answers, one status per retrieve; after the
    /// last, `succeeded`.
    later: VecDeque<&'static str>,
    kept: HashMap<String, Kept>,
    /// Every PaymentIntent created: id, idempotency key, status, amount.
    intents: Vec<(String, String, String, i64)>,
    /// The currency of every request that created one.
    currencies: Vec<String>,
    /// Every request, as "METHOD path key".
    log: Vec<String>,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

impl FakeStripe {
    pub async fn start(script: Vec<Step>) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        Mock::given(matchers::path_regex("^/v1/payment_intents"))
            .respond_with(Handler(state.clone()))
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// What retrieving a `processing` PaymentIntent answers, in turn.
    pub fn then(&self, statuses: &[&'static str]) {
        self.state().later.extend(statuses);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The PaymentIntents that took the customer's money: `(id, amount)`.
    pub fn charges(&self) -> Vec<(String, i64)> {
        self.state()
            .intents
            .iter()
            .filter(|(_, _, status, _)| status == "succeeded")
            .map(|(id, _, _, amount)| (id.clone(), *amount))
            .collect()
    }

    /// Every PaymentIntent created, whatever became of it.
    pub fn created(&self) -> usize {
        self.state().intents.len()
    }

    /// The currency of each PaymentIntent request that ran or was refused, in order.
    pub fn currencies(&self) -> Vec<String> {
        self.state().currencies.clone()
    }

    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    /// How many requests began with `prefix` (`"POST"`, `"GET /v1/payment_intents/pi_"`).
    pub fn count(&self, prefix: &str) -> usize {
        self.state()
            .log
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }
}

struct Handler(Arc<Mutex<State>>);

fn form(request: &Request) -> HashMap<String, String> {
    let body = String::from_utf8_lossy(&request.body);
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn intent(id: &str, amount: i64, currency: &str, status: &str, key: &str, error: Value) -> Value {
    json!({
        "id": id, "object": "payment_intent", "amount": amount,
        "amount_capturable": 0, "amount_received": if status == "succeeded" { amount } else { 0 },
        "application": null, "application_fee_amount": null,
        "automatic_payment_methods": {"allow_redirects": "never", "enabled": true},
        "canceled_at": null, "cancellation_reason": null, "capture_method": "automatic",
        "client_secret": format!("{id}_secret"), "confirmation_method": "automatic",
        "created": 1_700_000_000, "currency": currency, "customer": null,
        "description": null, "last_payment_error": error,
        "latest_charge": null, "livemode": false, "metadata": {"checkout": key},
        "next_action": null, "on_behalf_of": null, "payment_method": "pm_1Fake",
        "payment_method_options": {}, "payment_method_types": ["card"], "processing": null,
        "receipt_email": null, "review": null, "setup_future_usage": null,
        "shipping": null, "source": null, "statement_descriptor": null,
        "statement_descriptor_suffix": null, "status": status, "transfer_data": null,
        "transfer_group": null
    })
}

fn error(kind: &str, message: &str) -> Value {
    json!({"error": {"type": kind, "message": message}})
}

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let path = request.url.path().to_owned();
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        state
            .log
            .push(format!("{} {path} {key}", request.method.as_str()));
        let answer = |status: u16, body: Value| ResponseTemplate::new(status).set_body_json(body);

        if request.method.as_str() == "GET" && path == "/v1/payment_intents/search" {
            let query = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let now = Instant::now();
            let found: Vec<Value> = state
                .intents
                .iter()
                .filter(|(_, k, _, _)| query.contains(&format!("'{k}'")))
                .filter(|(_, k, _, _)| state.kept.get(k).is_none_or(|c| c.running_until <= now))
                .map(|(id, k, status, amount)| intent(id, *amount, "usd", status, k, Value::Null))
                .collect();
            return answer(
                200,
                json!({"object": "search_result", "url": "/v1/payment_intents/search",
                       "has_more": false, "data": found, "next_page": null}),
            );
        }
        if request.method.as_str() == "GET" {
            let id = path.trim_start_matches("/v1/payment_intents/").to_owned();
            let next = state.later.pop_front().unwrap_or("succeeded");
            let Some(found) = state.intents.iter_mut().find(|(i, _, _, _)| *i == id) else {
                return answer(
                    404,
                    error("invalid_request_error", "No such payment_intent"),
                );
            };
            found.2 = next.to_owned();
            let (id, key, status, amount) = found.clone();
            return answer(200, intent(&id, amount, "usd", &status, &key, Value::Null));
        }

        // POST /v1/payment_intents: Stripe's idempotency first.
        if let Some(kept) = state.kept.get(&key) {
            if kept.running_until > Instant::now() {
                return answer(
                    409,
                    error(
                        "idempotency_error",
                        "There is currently another in-progress request using this Idempotent Key",
                    ),
                );
            }
            return answer(kept.status, kept.body.clone());
        }
        let step = state.script.pop_front();
        let form = form(request);
        let amount: i64 = form["amount"].parse().unwrap();
        let currency = form["currency"].clone();
        let id = format!("pi_fake{}", state.intents.len() + 1);
        state.currencies.push(currency.clone());
        let run = |state: &mut State, status: &str, http: u16, body: Value, running: Duration| {
            state
                .intents
                .push((id.clone(), key.clone(), status.to_owned(), amount));
            state.kept.insert(
                key.clone(),
                Kept {
                    status: http,
                    body: body.clone(),
                    running_until: Instant::now() + running,
                },
            );
            answer(http, body)
        };
        let ok = |status: &str| intent(&id, amount, &currency, status, &key, Value::Null);
        match step {
            None => run(
                &mut state,
                "succeeded",
                200,
                ok("succeeded"),
                Duration::ZERO,
            ),
            Some(Step::Slow {
                done_after,
                answer_after,
            }) => run(&mut state, "succeeded", 200, ok("succeeded"), done_after)
                .set_delay(answer_after),
            Some(Step::Conflict) => answer(
                409,
                error(
                    "idempotency_error",
                    "There is currently another in-progress request using this Idempotent Key",
                ),
            ),
            Some(Step::Outage) => answer(
                500,
                error("api_error", "Something went wrong on Stripe's end."),
            ),
            Some(Step::ChargedThen500) => run(
                &mut state,
                "succeeded",
                500,
                error("api_error", "An unknown error occurred"),
                Duration::ZERO,
            ),
            Some(Step::Processing) => run(
                &mut state,
                "processing",
                200,
                ok("processing"),
                Duration::ZERO,
            ),
            Some(Step::Decline(message)) => {
                let body = json!({"error": {"type": "card_error", "code": "card_declined",
                                            "message": message}});
                run(
                    &mut state,
                    "requires_payment_method",
                    402,
                    body,
                    Duration::ZERO,
                )
            }
        }
    }
}

/// A TCP proxy in front of `upstream` that lets the first request through, reads the whole
/// answer, and then drops the connection without passing the answer on: the work was done,
/// the caller never heard. Later connections pass through untouched.
pub struct DropProxy {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl DropProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut first = true;
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                if std::mem::take(&mut first) {
                    tokio::spawn(async move {
                        if let Some(request) = read_message(&mut client).await {
                            let _ = server.write_all(&request).await;
                            let _ = read_message(&mut server).await;
                        }
                        // Both ends dropped here: the answer is lost.
                    });
                } else {
                    tokio::spawn(async move {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                }
            }
        });
        Self { base, task }
    }
}

impl Drop for DropProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One HTTP/1.1 message (head and a `Content-Length` body) read whole from a stream.
async fn read_message(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if bytes.len() >= end + 4 + length {
            return Some(bytes);
        }
    }
}
