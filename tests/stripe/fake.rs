//! A Stripe stand-in: an HTTP server that plays Stripe's PaymentIntents and Charges APIs as far
//! as a checkout uses them (create and confirm, retrieve, search, cancel) and its Refunds API as
//! far as an order does (create, retrieve, list by payment), keeps Stripe's
//! idempotency contract and its lagging search, and misbehaves on cue: scripted, for the first
//! requests that create a payment ([`Step`]), or drawn from a seed for every request
//! ([`FakeStripe::random`]). Beside it, a proxy that drops a connection after the work behind
//! it was done.
//!
//! Idempotency as Stripe documents it: the first request with a key runs and its answer is
//! kept (500s included) and replayed to later requests with the key; while that first request
//! still runs, another with the key gets 409; one with the key and other parameters gets 400.
//! A request refused before it runs (401, 429, an outage in front of the API) keeps nothing.
//! After `key_ttl` a key is forgotten, and a request with it runs again as a new one, charging
//! again, as Stripe does after 24 hours.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The API key the stand-in takes.
pub const KEY: &str = "sk_test_standin0123";

/// What the next requests that create a payment meet, one step each, in order (a request
/// with a key Stripe kept takes a step too). Without a step, a request is answered as Stripe
/// would.
#[derive(Clone, Debug)]
pub enum Step {
    /// It runs (the payment exists and succeeds once `done_after` has passed; until then a
    /// request with the key gets 409), but its answer comes only after `answer_after`.
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
    /// It runs; the payment is `processing` (retrieving it later tells how it ended, see
    /// [`FakeStripe::then`]).
    Processing,
    /// As `Processing`, and the answer comes after the client has given up.
    LateProcessing,
    /// 402: the card is declined with this message; kept for the key.
    Decline(String),
    /// It runs (or replays what was kept), and the connection drops before the answer.
    Lost,
}

/// What a request meets, drawn from the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answered as Stripe would.
    Answer,
    /// The work is done at once; the answer comes after the client has given up.
    Late,
    /// The work is done, then the connection is dropped: the answer is lost.
    DropAfter,
    /// The connection is dropped before anything is done.
    DropBefore,
    /// This status, before anything is done: 401, 403, 409, 429 or 500.
    Status(u16),
    /// (A create.) It runs and charges, then answers 500, kept for the key.
    ChargedThen500,
    /// (A create.) The payment is `processing`, and ends succeeded (or failed, `fails`) a
    /// moment later.
    Processing { fails: bool },
    /// (A read.) The payment as it was when it was made, not as it is.
    Stale,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    PaymentIntents,
    Charges,
}

impl Api {
    fn path(self) -> &'static str {
        match self {
            Api::PaymentIntents => "/v1/payment_intents",
            Api::Charges => "/v1/charges",
        }
    }
}

/// A payment the stand-in holds.
#[derive(Clone, Debug)]
pub struct Payment {
    pub id: String,
    pub api: Api,
    pub key: String,
    pub cart_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    /// The status it was made with, for stale answers.
    first_status: String,
    decline: Option<String>,
    searchable_at: Instant,
    /// A processing payment ends so, then.
    settles: Option<(Instant, &'static str)>,
}

impl Payment {
    /// Whether it took the customer's money.
    pub fn paid(&self) -> bool {
        self.status == "succeeded"
    }

    /// Whether it may still take money: anything but succeeded, canceled or failed.
    pub fn open(&self) -> bool {
        !matches!(self.status.as_str(), "succeeded" | "canceled" | "failed")
    }
}

/// A refund the stand-in holds.
#[derive(Clone, Debug)]
pub struct Refund {
    pub id: String,
    pub key: String,
    /// The payment it gives back.
    pub payment: String,
    pub amount: i64,
    pub status: String,
    /// The status it was made with, for stale answers.
    first_status: String,
    /// A pending refund ends so, then.
    settles: Option<(Instant, &'static str)>,
}

struct Kept {
    status: u16,
    body: Value,
    /// Until when the first request with the key is still running.
    running_until: Instant,
    first_seen: Instant,
    /// What the first request asked for: another request with the key must ask the same.
    params: String,
}

/// Odds and rhythms of the seeded faults.
#[derive(Clone, Copy, Debug)]
pub struct Chaos {
    /// How long a late answer takes (longer than the worker's request timeout).
    pub late: Duration,
    /// The longest a new payment takes to show in search.
    pub index_lag: Duration,
    /// How long a key is remembered.
    pub key_ttl: Duration,
    /// How long a `processing` payment takes to end, at most.
    pub settle_within: Duration,
}

struct State {
    script: VecDeque<Step>,
    /// How retrieving a scripted `processing` payment answers, one status per retrieve;
    /// after the last, `succeeded`.
    later: VecDeque<&'static str>,
    /// The seed of the faults, in random mode.
    seed: Option<u64>,
    /// The carts whose requests draw faults from streams of their own (see [`stream`]).
    carts: Vec<String>,
    /// Requests so far for each payment key.
    asked: HashMap<String, u64>,
    /// No more faults: every request is answered as Stripe would.
    honest: bool,
    /// Every request after this many is refused with 401, as when the API key was rolled.
    refuse_key_after: Option<usize>,
    chaos: Chaos,
    payments: Vec<Payment>,
    refunds: Vec<Refund>,
    kept: HashMap<String, Kept>,
    /// The currency of every request that created a payment.
    currencies: Vec<String>,
    /// Every request, as "METHOD path key", and in random mode what it met.
    log: Vec<String>,
}

#[derive(Clone)]
pub struct FakeStripe {
    base: String,
    state: Arc<Mutex<State>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

/// A reply, or a connection dropped instead of one.
enum Reply {
    Answer {
        status: u16,
        body: Value,
        delay: Duration,
    },
    Drop,
}

fn answer(status: u16, body: Value) -> Reply {
    Reply::Answer {
        status,
        body,
        delay: Duration::ZERO,
    }
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    answer(status, json!({"error": {"type": kind, "message": message}}))
}

impl FakeStripe {
    /// A stand-in whose first creating requests meet `script`, and every other request is
    /// answered as Stripe would.
    pub async fn start(script: Vec<Step>) -> Self {
        Self::serve(State {
            script: script.into(),
            later: VecDeque::new(),
            seed: None,
            carts: Vec::new(),
            asked: HashMap::new(),
            honest: true,
            refuse_key_after: None,
            chaos: Chaos {
                late: Duration::from_secs(31),
                index_lag: Duration::ZERO,
                key_ttl: Duration::from_secs(24 * 60 * 60),
                settle_within: Duration::ZERO,
            },
            payments: Vec::new(),
            refunds: Vec::new(),
            kept: HashMap::new(),
            currencies: Vec::new(),
            log: Vec::new(),
        })
        .await
    }

    /// A stand-in whose every request meets a fault drawn from `seed`, until [`honest`]. The
    /// requests for each checkout of a [`register`]ed cart draw from a stream of their own, so
    /// a seed gives a cart the same faults however its requests interleave with others'.
    ///
    /// [`honest`]: FakeStripe::honest
    /// [`register`]: FakeStripe::register
    pub async fn random(seed: u64, chaos: Chaos) -> Self {
        Self::serve(State {
            script: VecDeque::new(),
            later: VecDeque::new(),
            seed: Some(seed),
            carts: Vec::new(),
            asked: HashMap::new(),
            honest: false,
            refuse_key_after: None,
            chaos,
            payments: Vec::new(),
            refunds: Vec::new(),
            kept: HashMap::new(),
            currencies: Vec::new(),
            log: Vec::new(),
        })
        .await
    }

    async fn serve(state: State) -> Self {
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move { respond(&state, request).await }
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self {
            base,
            state,
            task: Arc::new(task),
        }
    }

    pub fn uri(&self) -> String {
        self.base.clone()
    }

    /// A cart whose checkouts draw their faults from streams of their own.
    pub fn register(&self, cart_id: &str) {
        self.state().carts.push(cart_id.to_owned());
    }

    /// What retrieving a scripted `processing` payment answers, in turn.
    pub fn then(&self, statuses: &[&'static str]) {
        self.state().later.extend(statuses);
    }

    /// From now on every request is answered as Stripe would; payments still processing end
    /// as they were going to.
    pub fn honest(&self) {
        self.state().honest = true;
    }

    /// From now on (a seeded stand-in's) requests meet faults again.
    pub fn faulty(&self) {
        self.state().honest = false;
    }

    /// Every refund made, as it stands now.
    pub fn refunds(&self) -> Vec<Refund> {
        let mut state = self.state();
        let now = Instant::now();
        for r in &mut state.refunds {
            settle_refund(r, now);
        }
        state.refunds.clone()
    }

    /// A payment shows in the search `lag` after it was made (a scripted stand-in's search
    /// is otherwise never behind).
    pub fn search_lags(&self, lag: Duration) {
        self.state().chaos.index_lag = lag;
    }

    /// Every request after the first `n` is refused with 401, as when the API key was rolled
    /// during an incident, until [`FakeStripe::accept_key`].
    pub fn refuse_key_after(&self, n: usize) {
        self.state().refuse_key_after = Some(n);
    }

    pub fn accept_key(&self) {
        self.state().refuse_key_after = None;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every payment made, as it stands now.
    pub fn payments(&self) -> Vec<Payment> {
        let mut state = self.state();
        let now = Instant::now();
        for p in &mut state.payments {
            settle(p, now);
        }
        state.payments.clone()
    }

    /// The payments that took the customer's money: `(id, amount)`.
    pub fn charges(&self) -> Vec<(String, i64)> {
        self.payments()
            .into_iter()
            .filter(Payment::paid)
            .map(|p| (p.id, p.amount))
            .collect()
    }

    /// Every payment made, whatever became of it.
    pub fn created(&self) -> usize {
        self.state().payments.len()
    }

    /// The currency of each request that created a payment, in order.
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

/// A pending refund whose time has come ends as it was going to.
fn settle_refund(r: &mut Refund, now: Instant) {
    if let Some((at, status)) = r.settles
        && now >= at
    {
        r.status = status.to_owned();
        r.settles = None;
    }
}

/// A processing payment whose time has come ends as it was going to.
fn settle(p: &mut Payment, now: Instant) {
    if let Some((at, status)) = p.settles
        && now >= at
    {
        p.status = status.to_owned();
        if status != "succeeded" {
            p.decline = Some("Your card was declined.".into());
        }
        p.settles = None;
    }
}

async fn respond(
    state: &Mutex<State>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<axum::body::Body>, Box<dyn std::error::Error + Send + Sync>> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(axum::body::Body::new(body), usize::MAX).await?;
    let reply = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        handle(&mut state, &parts, &body)
    };
    match reply {
        Reply::Drop => Err("the connection was dropped".into()),
        Reply::Answer {
            status,
            body,
            delay,
        } => {
            tokio::time::sleep(delay).await;
            Ok(hyper::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))?)
        }
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    let body = String::from_utf8_lossy(body);
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of a `metadata['checkout']:'…'` query, unescaped as Stripe's query language has
/// it (`\'` and `\\`).
fn searched_key(query: &str) -> Option<String> {
    let quoted = query
        .strip_prefix("metadata['checkout']:'")?
        .strip_suffix('\'')?;
    let mut key = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.push(chars.next()?),
            // An unescaped quote would end the value early: not a query we make.
            '\'' => return None,
            c => key.push(c),
        }
    }
    Some(key)
}

fn handle(state: &mut State, parts: &hyper::http::request::Parts, body: &[u8]) -> Reply {
    let path = parts.uri.path().to_owned();
    let method = parts.method.as_str().to_owned();
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let api = if path.starts_with("/v1/charges") {
        Api::Charges
    } else {
        Api::PaymentIntents
    };
    let refunds = path.starts_with("/v1/refunds");
    let creates = method == "POST" && (path == api.path() || path == "/v1/refunds");
    let mut rng = stream(state, &key_of(state, api, parts, &key));
    let fault = draw(state, &mut rng, creates);
    // A scripted stand-in's requests meet no drawn fault: its log leaves them out.
    let line = match state.seed {
        Some(_) => format!("{method} {path} {key} -> {fault:?}"),
        None => format!("{method} {path} {key}"),
    };
    state.log.push(line);
    let now = Instant::now();
    for p in &mut state.payments {
        settle(p, now);
    }
    for r in &mut state.refunds {
        settle_refund(r, now);
    }
    let rolled = state.refuse_key_after.is_some_and(|n| state.log.len() > n);
    let authorized = !rolled
        && parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {KEY}"));
    match fault {
        Fault::DropBefore => return Reply::Drop,
        Fault::Status(401) => {}
        Fault::Status(409) => {
            return error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key",
            );
        }
        Fault::Status(429) => {
            return error(
                429,
                "invalid_request_error",
                "Too many requests hit the API too quickly.",
            );
        }
        Fault::Status(403) => {
            return error(
                403,
                "invalid_request_error",
                "The provided key does not have access to this resource.",
            );
        }
        Fault::Status(status) if status != 401 => {
            return error(status, "api_error", "Something went wrong on Stripe's end.");
        }
        _ => {}
    }
    if !authorized || fault == Fault::Status(401) {
        return error(
            401,
            "invalid_request_error",
            "Invalid API Key provided: sk_test_****0123",
        );
    }
    let stale = fault == Fault::Stale;
    let reply = if refunds && creates {
        create_refund(state, &key, body, fault, &mut rng)
    } else if refunds && method == "GET" && path == "/v1/refunds" {
        list_refunds(state, parts, stale)
    } else if refunds && method == "GET" {
        retrieve_refund(state, path.trim_start_matches("/v1/refunds/"), stale)
    } else if refunds {
        error(404, "invalid_request_error", "Unrecognized request URL")
    } else if creates {
        create(state, api, &key, body, fault, &mut rng)
    } else if method == "GET" && path == format!("{}/search", api.path()) {
        search(state, api, parts, fault == Fault::Stale)
    } else if method == "GET" {
        let id = path.trim_start_matches(api.path()).trim_start_matches('/');
        retrieve(state, id, fault == Fault::Stale)
    } else if method == "POST" && path.ends_with("/cancel") {
        let id = path
            .trim_start_matches(api.path())
            .trim_start_matches('/')
            .trim_end_matches("/cancel");
        cancel(state, id)
    } else {
        error(404, "invalid_request_error", "Unrecognized request URL")
    };
    match (fault, reply) {
        (Fault::DropAfter, _) => Reply::Drop,
        (Fault::Late, Reply::Answer { status, body, .. }) => Reply::Answer {
            status,
            body,
            delay: state.chaos.late,
        },
        (_, reply) => reply,
    }
}

/// The payment key a request is about: its idempotency key, the key it searches for, or the
/// key of the payment it names.
fn key_of(state: &State, api: Api, parts: &hyper::http::request::Parts, key: &str) -> String {
    if !key.is_empty() {
        return key.to_owned();
    }
    if let Some(id) = parts.uri.path().strip_prefix("/v1/refunds/") {
        return (state.refunds.iter())
            .find(|r| r.id == id)
            .map(|r| r.key.clone())
            .unwrap_or_default();
    }
    if let Some(query) = search_query(parts) {
        return searched_key(&query).unwrap_or_default();
    }
    let id = parts
        .uri
        .path()
        .trim_start_matches(api.path())
        .trim_start_matches('/');
    let id = id.trim_end_matches("/cancel");
    state
        .payments
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.key.clone())
        .unwrap_or_default()
}

/// The draws for this request: the `n`th request about a payment key takes the `n`th stream of
/// that key's cart and checkout attempt (keys end `-checkout-N`) or refund (`-refund-ID`), so
/// what a cart meets does not depend on how its requests interleave with other carts'.
fn stream(state: &mut State, key: &str) -> Rng {
    let seed = state.seed.unwrap_or(0);
    let asked = state.asked.entry(key.to_owned()).or_default();
    let n = *asked;
    *asked += 1;
    let cart = state
        .carts
        .iter()
        .enumerate()
        .filter(|(_, c)| key.starts_with(&format!("{c}-")))
        .max_by_key(|(_, c)| c.len())
        .map_or(u64::MAX, |(i, _)| i as u64);
    // A checkout's attempt, or a refund's id (hashed), so each has streams of its own.
    let attempt: u64 = match (key.rsplit_once("-checkout-"), key.rsplit_once("-refund-")) {
        (Some((_, n)), _) => n.parse().unwrap_or(0),
        (None, Some((_, id))) => id.bytes().fold(1u64 << 32, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        }),
        (None, None) => 0,
    };
    let mut rng = Rng(seed
        ^ cart.wrapping_mul(0xD6E8_FEB8_6659_FD93)
        ^ attempt.wrapping_mul(0xA076_1D64_78BD_642F)
        ^ n.wrapping_mul(0xE703_7ED1_A0B4_28DB));
    rng.next();
    rng
}

/// The fault a request meets: none once honest (or when scripted), else one drawn from its
/// stream. A third of the requests are answered; the rest meet one of the faults.
fn draw(state: &State, rng: &mut Rng, creates: bool) -> Fault {
    if state.honest || state.seed.is_none() {
        return Fault::Answer;
    }
    let roll = rng.below(100);
    match roll {
        0..35 => Fault::Answer,
        35..44 => Fault::Late,
        44..53 => Fault::DropAfter,
        53..60 => Fault::DropBefore,
        60..67 => Fault::Status(401),
        67..71 => Fault::Status(403),
        71..76 => Fault::Status(409),
        76..80 => Fault::Status(429),
        80..85 => Fault::Status(500),
        85..93 if creates => Fault::ChargedThen500,
        85..93 => Fault::Stale,
        _ if creates => Fault::Processing {
            fails: rng.below(3) == 0,
        },
        _ => Fault::Stale,
    }
}

fn create(
    state: &mut State,
    api: Api,
    key: &str,
    body: &[u8],
    fault: Fault,
    rng: &mut Rng,
) -> Reply {
    let step = state.script.pop_front();
    match &step {
        Some(Step::Conflict) => {
            return error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key",
            );
        }
        Some(Step::Outage) => {
            return error(500, "api_error", "Something went wrong on Stripe's end.");
        }
        _ => {}
    }
    let reply = run_or_replay(state, api, key, body, fault, step.as_ref(), rng);
    match (step, reply) {
        (Some(Step::Lost), _) => Reply::Drop,
        (Some(Step::LateProcessing), Reply::Answer { status, body, .. }) => Reply::Answer {
            status,
            body,
            delay: state.chaos.late,
        },
        (_, reply) => reply,
    }
}

/// Stripe's idempotency: the answer kept for the key, or the request run as a new one.
fn run_or_replay(
    state: &mut State,
    api: Api,
    key: &str,
    body: &[u8],
    fault: Fault,
    step: Option<&Step>,
    rng: &mut Rng,
) -> Reply {
    let form = form(body);
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let currency = form.get("currency").cloned().unwrap_or_default();
    let method = match api {
        Api::PaymentIntents => form.get("payment_method").cloned(),
        Api::Charges => form.get("source").cloned(),
    }
    .unwrap_or_default();
    let params = format!("{amount} {currency} {method}");
    let now = Instant::now();
    let ttl = state.chaos.key_ttl;
    if let Some(kept) = state.kept.get(key)
        && now.duration_since(kept.first_seen) < ttl
    {
        if kept.running_until > now {
            return error(
                409,
                "idempotency_error",
                "There is currently another in-progress request using this Idempotent Key",
            );
        }
        if kept.params != params {
            return error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
        return answer(kept.status, kept.body.clone());
    }
    let (running, delay) = match step {
        Some(Step::Slow {
            done_after,
            answer_after,
        }) => (*done_after, *answer_after),
        _ => (Duration::ZERO, Duration::ZERO),
    };
    state.currencies.push(currency.clone());
    let id = match api {
        Api::PaymentIntents => format!("pi_fake{}", state.payments.len() + 1),
        Api::Charges => format!("ch_fake{}", state.payments.len() + 1),
    };
    let declined = match step {
        Some(Step::Decline(message)) => Some(message.clone()),
        _ if method.contains("chargeDeclined") => Some("Your card was declined.".to_owned()),
        _ => None,
    };
    let processing = matches!(step, Some(Step::Processing | Step::LateProcessing))
        || matches!(fault, Fault::Processing { .. });
    let status = match api {
        Api::PaymentIntents if declined.is_some() => "requires_payment_method",
        Api::Charges if declined.is_some() => "failed",
        Api::PaymentIntents if method.contains("authenticationRequired") => "requires_action",
        Api::PaymentIntents if processing => "processing",
        Api::Charges if processing => "pending",
        _ => "succeeded",
    };
    let chaos = state.chaos;
    // A scripted stand-in's lags are exact; a seeded one's drawn up to them.
    let scripted = state.seed.is_none();
    let mut fraction = || {
        if scripted {
            1.0
        } else {
            rng.below(1001) as f64 / 1000.0
        }
    };
    let searchable_at = now + chaos.index_lag.mul_f64(fraction());
    let settles = match fault {
        Fault::Processing { fails } if matches!(status, "processing" | "pending") => {
            let end = match (api, fails) {
                (_, false) => "succeeded",
                (Api::PaymentIntents, true) => "requires_payment_method",
                (Api::Charges, true) => "failed",
            };
            Some((now + chaos.settle_within.mul_f64(fraction()), end))
        }
        _ => None,
    };
    let payment = Payment {
        id: id.clone(),
        api,
        key: key.to_owned(),
        cart_id: form.get("metadata[cart_id]").cloned().unwrap_or_default(),
        amount,
        currency,
        status: status.to_owned(),
        first_status: status.to_owned(),
        decline: declined.clone(),
        searchable_at,
        settles,
    };
    let object = object(&payment, false);
    state.payments.push(payment);
    let charged_then_500 =
        matches!(step, Some(Step::ChargedThen500)) || fault == Fault::ChargedThen500;
    let (status, body) = if charged_then_500 {
        (
            500,
            json!({"error": {"type": "api_error", "message": "An unknown error occurred"}}),
        )
    } else if let Some(message) = declined {
        let mut error = json!({"type": "card_error", "code": "card_declined", "message": message});
        match api {
            Api::PaymentIntents => error["payment_intent"] = object,
            Api::Charges => error["charge"] = json!(id),
        }
        (402, json!({ "error": error }))
    } else {
        (200, object)
    };
    state.kept.insert(
        key.to_owned(),
        Kept {
            status,
            body: body.clone(),
            running_until: now + running,
            first_seen: now,
            params,
        },
    );
    Reply::Answer {
        status,
        body,
        delay,
    }
}

/// A search's `query` parameter.
fn search_query(parts: &hyper::http::request::Parts) -> Option<String> {
    let q = parts.uri.query()?;
    reqwest::Url::parse(&format!("http://x/?{q}"))
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.into_owned())
}

fn search(state: &mut State, api: Api, parts: &hyper::http::request::Parts, stale: bool) -> Reply {
    let query = search_query(parts).unwrap_or_default();
    let Some(key) = searched_key(&query) else {
        return error(400, "invalid_request_error", "The query is not valid");
    };
    let now = Instant::now();
    let found: Vec<Value> = state
        .payments
        .iter()
        .filter(|p| p.api == api && p.key == key && p.searchable_at <= now)
        .filter(|p| {
            state
                .kept
                .get(&p.key)
                .is_none_or(|k| k.running_until <= now)
        })
        .map(|p| object(p, stale))
        .collect();
    answer(
        200,
        json!({"object": "search_result", "url": format!("{}/search", api.path()),
               "has_more": false, "data": found, "next_page": null}),
    )
}

fn retrieve(state: &mut State, id: &str, stale: bool) -> Reply {
    let scripted = state.seed.is_none();
    let next = scripted.then(|| state.later.pop_front().unwrap_or("succeeded"));
    let Some(found) = state.payments.iter_mut().find(|p| p.id == id) else {
        return error(404, "invalid_request_error", "No such payment_intent");
    };
    if let Some(next) = next
        && matches!(found.status.as_str(), "processing" | "pending")
    {
        found.status = next.to_owned();
    }
    answer(200, object(found, stale))
}

fn cancel(state: &mut State, id: &str) -> Reply {
    let Some(found) = state.payments.iter_mut().find(|p| p.id == id) else {
        return error(404, "invalid_request_error", "No such payment_intent");
    };
    let cancellable = matches!(
        found.status.as_str(),
        "requires_payment_method"
            | "requires_capture"
            | "requires_confirmation"
            | "requires_action"
    );
    if !cancellable {
        let message = format!(
            "You cannot cancel this PaymentIntent because it has a status of {}.",
            found.status
        );
        return error(400, "invalid_request_error", &message);
    }
    found.status = "canceled".to_owned();
    found.settles = None;
    answer(200, object(found, false))
}

/// A refund, as Stripe's Refunds API makes one: once per key (the kept answer replayed, 409
/// while the first runs, 400 for other parameters), of a paid payment, never past what is left
/// of it. A `Processing` fault makes it `pending`, and it ends succeeded (or failed) a moment
/// later; `ChargedThen500` makes it and answers 500, kept for the key.
fn create_refund(state: &mut State, key: &str, body: &[u8], fault: Fault, rng: &mut Rng) -> Reply {
    let form = form(body);
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let payment = (form.get("payment_intent").or_else(|| form.get("charge")))
        .cloned()
        .unwrap_or_default();
    let params = format!("refund {amount} {payment}");
    let now = Instant::now();
    if let Some(kept) = state.kept.get(key)
        && now.duration_since(kept.first_seen) < state.chaos.key_ttl
    {
        if kept.params != params {
            return error(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            );
        }
        return answer(kept.status, kept.body.clone());
    }
    let Some(paid) = state.payments.iter().find(|p| p.id == payment && p.paid()) else {
        let body = json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
            "param": "charge", "message": format!("No such charge: '{payment}'")}});
        return answer(400, body);
    };
    let taken: i64 = (state.refunds.iter())
        .filter(|r| r.payment == payment && r.status != "failed" && r.status != "canceled")
        .map(|r| r.amount)
        .sum();
    let left = paid.amount - taken;
    if left <= 0 {
        let body = json!({"error": {"type": "invalid_request_error", "code": "charge_already_refunded",
            "message": format!("Charge {payment} has already been refunded.")}});
        return answer(400, body);
    }
    if amount > left {
        let body = json!({"error": {"type": "invalid_request_error", "param": "amount",
            "message": format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({left})")}});
        return answer(400, body);
    }
    let (status, settles) = match fault {
        Fault::Processing { fails } => {
            let end = if fails { "failed" } else { "succeeded" };
            let within = state
                .chaos
                .settle_within
                .mul_f64(rng.below(1001) as f64 / 1000.0);
            ("pending", Some((now + within, end)))
        }
        _ => ("succeeded", None),
    };
    let refund = Refund {
        id: format!("re_fake{}", state.refunds.len() + 1),
        key: key.to_owned(),
        payment,
        amount,
        status: status.to_owned(),
        first_status: status.to_owned(),
        settles,
    };
    let object = refund_object(&refund, false);
    state.refunds.push(refund);
    let (status, body) = if fault == Fault::ChargedThen500 {
        let body = json!({"error": {"type": "api_error", "message": "An unknown error occurred"}});
        (500, body)
    } else {
        (200, object)
    };
    state.kept.insert(
        key.to_owned(),
        Kept {
            status,
            body: body.clone(),
            running_until: now,
            first_seen: now,
            params,
        },
    );
    answer(status, body)
}

fn retrieve_refund(state: &State, id: &str, stale: bool) -> Reply {
    match state.refunds.iter().find(|r| r.id == id) {
        Some(found) => answer(200, refund_object(found, stale)),
        None => {
            let body = json!({"error": {"type": "invalid_request_error", "code": "resource_missing",
                "message": format!("No such refund: '{id}'")}});
            answer(404, body)
        }
    }
}

/// The refunds of the payment a query names (`payment_intent` or `charge`), newest first.
fn list_refunds(state: &State, parts: &hyper::http::request::Parts, stale: bool) -> Reply {
    let query = parts.uri.query().unwrap_or_default();
    let pairs: HashMap<String, String> = reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let payment = pairs.get("payment_intent").or_else(|| pairs.get("charge"));
    let data: Vec<Value> = (state.refunds.iter().rev())
        .filter(|r| Some(&r.payment) == payment)
        .map(|r| refund_object(r, stale))
        .collect();
    answer(
        200,
        json!({"object": "list", "url": "/v1/refunds", "has_more": false, "data": data}),
    )
}

/// A refund as Stripe writes it: as it is, or (`stale`) as it was made.
fn refund_object(r: &Refund, stale: bool) -> Value {
    let status = if stale { &r.first_status } else { &r.status };
    let (payment_intent, charge) = if r.payment.starts_with("pi_") {
        (json!(r.payment), Value::Null)
    } else {
        (Value::Null, json!(r.payment))
    };
    json!({
        "id": r.id, "object": "refund", "amount": r.amount, "balance_transaction": null,
        "charge": charge, "created": 1_700_000_000, "currency": "usd",
        "metadata": {"refund": r.key}, "payment_intent": payment_intent, "reason": null,
        "receipt_number": null, "source_transfer_reversal": null, "status": status,
        "transfer_reversal": null,
        "failure_reason": if status == "failed" { json!("declined") } else { Value::Null },
    })
}

/// A payment as Stripe writes it.
fn object(p: &Payment, stale: bool) -> Value {
    let status = if stale { &p.first_status } else { &p.status };
    let error = p
        .decline
        .as_ref()
        .filter(|_| status == "requires_payment_method" || status == "failed")
        .map(|m| json!({"type": "card_error", "code": "card_declined", "message": m}))
        .unwrap_or(Value::Null);
    match p.api {
        Api::PaymentIntents => json!({
            "id": p.id, "object": "payment_intent", "amount": p.amount,
            "amount_capturable": 0, "amount_received": if status == "succeeded" { p.amount } else { 0 },
            "automatic_payment_methods": {"allow_redirects": "never", "enabled": true},
            "capture_method": "automatic", "confirmation_method": "automatic",
            "created": 1_700_000_000, "currency": p.currency, "last_payment_error": error,
            "livemode": false, "metadata": {"checkout": p.key, "cart_id": p.cart_id},
            "payment_method": "pm_1Fake", "payment_method_types": ["card"], "status": status,
        }),
        Api::Charges => json!({
            "id": p.id, "object": "charge", "amount": p.amount,
            "amount_captured": if status == "succeeded" { p.amount } else { 0 },
            "amount_refunded": 0, "billing_details": {}, "captured": status == "succeeded",
            "created": 1_700_000_000, "currency": p.currency, "disputed": false,
            "failure_message": if status == "failed" { json!(p.decline) } else { Value::Null },
            "livemode": false, "metadata": {"checkout": p.key, "cart_id": p.cart_id},
            "paid": status == "succeeded", "refunded": false, "status": status,
        }),
    }
}

/// A small, fast generator for fault schedules (SplitMix64): the same seed, the same draws.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A TCP proxy in front of `upstream` that lets the first request through, reads the whole
/// answer, and then drops the connection without passing the answer on: the work was done,
/// the caller never heard. Later connections pass through untouched.
pub struct DropProxy {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
    dropped: Arc<std::sync::atomic::AtomicBool>,
}

impl DropProxy {
    /// A proxy to `upstream` that drops the answer of the first request it passes on.
    pub async fn start(upstream: &str) -> Self {
        Self::dropping(upstream, "").await
    }

    /// A proxy to `upstream` that passes each request on, and drops the answer of the first
    /// request whose head starts with `prefix` (e.g. `POST /v1/refunds`): the work behind it
    /// was done, and the client never hears. Every other answer goes back as it came.
    pub async fn dropping(upstream: &str, prefix: &'static str) -> Self {
        Self::with(upstream, prefix, None).await
    }

    /// A proxy to `upstream` that holds back the answer of the first request whose head starts
    /// with `prefix` for `delay` (the work behind it is done at once), then passes it on.
    pub async fn delaying(upstream: &str, prefix: &'static str, delay: Duration) -> Self {
        Self::with(upstream, prefix, Some(delay)).await
    }

    /// Drops the first answer to `prefix`, or, with a delay, holds it back that long.
    async fn with(upstream: &str, prefix: &'static str, delay: Option<Duration>) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lost = dropped.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let dropped = lost.clone();
                tokio::spawn(async move {
                    while let Some(request) = read_message(&mut client).await {
                        if server.write_all(&request).await.is_err() {
                            return;
                        }
                        let Some(answer) = read_message(&mut server).await else {
                            return;
                        };
                        let ours = request.starts_with(prefix.as_bytes());
                        if ours && !dropped.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            let Some(delay) = delay else {
                                // Both ends dropped here: the answer is lost.
                                return;
                            };
                            tokio::time::sleep(delay).await;
                        }
                        if client.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            base,
            task,
            dropped,
        }
    }

    /// Whether it has dropped (or begun to hold back) the answer it was to.
    pub fn dropped(&self) -> bool {
        self.dropped.load(std::sync::atomic::Ordering::SeqCst)
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

#[test]
fn a_searched_key_is_unescaped_as_stripe_reads_it() {
    assert_eq!(
        searched_key(r"metadata['checkout']:'CART-o\'b\\x-1'").as_deref(),
        Some(r"CART-o'b\x-1")
    );
    assert_eq!(searched_key(r"metadata['checkout']:'CART-o'b-1'"), None);
}
