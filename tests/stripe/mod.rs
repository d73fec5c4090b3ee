//! Stripe end to end: Charges against a real stateful Stripe mock server
//! (`stripe-stateful-mock`, started per test on a free port), which knows the test tokens and
//! enforces idempotency keys; and both APIs against a stand-in of our own that keeps Stripe's
//! contract and misbehaves on cue ([`fake`]), scripted ([`outcomes`]) or drawn from seeds
//! ([`faults`]).

pub mod fake;
mod faults;
mod outcomes;
mod refund_faults;
mod refunds;

use crate::support::*;
use cart::activities::{Outbox, StripeFlow, StripeSettings, stripe_gateway};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const KEY: &str = "sk_test_cart0123456789";

/// Stripe's clock as the tests keep it: seconds where Stripe's are minutes. A request may take
/// two seconds, the search shows a payment within two, and a payment not settled is asked
/// about at least every two.
pub const FAST_STRIPE: [(&str, &str); 3] = [
    ("STRIPE_TIMEOUT", "2s"),
    ("STRIPE_SEARCH_LAG", "2s"),
    ("STRIPE_FOLLOW_UP_MAX", "2s"),
];

pub struct StripeMock {
    child: Child,
    pub base: String,
}

impl StripeMock {
    pub async fn start() -> Self {
        let cli = tool("npm/node_modules/stripe-stateful-mock/dist/cli.js");
        let port = free_port();
        let child = Command::new("node")
            .arg(cli)
            .env("PORT", port.to_string())
            .env("LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Stripe mock (needs node)");
        let mock = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        eventually(Duration::from_secs(20), "the Stripe mock", || async {
            http.get(&mock.base).send().await.ok().map(drop)
        })
        .await;
        mock
    }

    /// Every charge the mock holds for our key.
    pub async fn charges(&self) -> Vec<serde_json::Value> {
        let body = reqwest::Client::new()
            .get(format!("{}/v1/charges?limit=100", self.base))
            .basic_auth(KEY, Some(""))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        list["data"].as_array().cloned().unwrap_or_default()
    }

    pub async fn succeeded(&self) -> Vec<serde_json::Value> {
        let mut charges = self.charges().await;
        charges.retain(|c| c["status"] == "succeeded");
        charges
    }
}

impl Drop for StripeMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stripe_env(mock: &StripeMock) -> [(&'static str, String); 3] {
    [
        ("STRIPE_SECRET_KEY", KEY.to_owned()),
        ("STRIPE_API_BASE", mock.base.clone()),
        ("STRIPE_API", "charges".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_charges_the_card_on_stripe() {
    let stripe = StripeMock::start().await;
    let s = Setup::new().await;
    let vars = stripe_env(&stripe);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let worker = s.spawn_worker_with(&vars).await;
    let id = unique("CART-stripe");
    s.ok(&["add", &id, "--product", "0", "--qty", "2"]);
    s.ok(&["add", &id, "--product", "2"]);
    s.ok(&["email", &id, "ann@example.com"]);
    let out = s.ok(&["checkout", &id, "--output", "json"]);
    let cart: serde_json::Value = serde_json::from_str(&out).unwrap();

    let charges = stripe.succeeded().await;
    assert_eq!(charges.len(), 1);
    let charge = &charges[0];
    assert_eq!(cart["receipt"]["charge_id"], charge["id"]);
    assert_eq!(charge["amount"], 2 * 99_900 + 39_900);
    assert_eq!(charge["currency"], "usd");
    assert_eq!(charge["receipt_email"], "ann@example.com");
    assert_eq!(charge["description"], "2 x iPhone 12 Pro, 1 x iPhone SE");
    assert_eq!(charge["metadata"]["cart_id"], id.as_str());
    assert!(ledger(s.data()).is_empty(), "the local ledger is not used");

    let (status, log) = worker.terminate();
    assert!(status.success());
    assert!(
        log.contains(&format!(
            "payments: Stripe Charges {}, key ****6789",
            stripe.base
        )),
        "{log}"
    );
    assert!(!log.contains(KEY), "{log}");
    assert!(
        log.contains("customer data (e-mail addresses, carts, payment methods, receipts) goes to Temporal unencrypted: give every worker and client the same key with CART_CODEC_KEY_FILE"),
        "without a key the worker says so: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_then_a_good_one() {
    let stripe = StripeMock::start().await;
    let s = Setup::new().await;
    let vars = stripe_env(&stripe);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _worker = s.spawn_worker_with(&vars).await;
    let id = unique("CART-decline");
    s.ok(&["add", &id, "--product", "1"]);

    let out = s
        .cart()
        .args(["checkout", &id, "--email", "ann@example.com"])
        .args(["--payment", "tok_chargeDeclinedInsufficientFunds"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("error: card declined: insufficient funds\nhint: "),
        "{err}"
    );
    assert!(stripe.succeeded().await.is_empty());

    s.ok(&["checkout", &id, "--payment", "tok_visa"]);
    let charges = stripe.succeeded().await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["amount"], 69_900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_charge_is_a_single_charge_on_stripe() {
    let stripe = StripeMock::start().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let base = stripe.base.clone();
    let h = Harness::start_with(&[], move |data| {
        let stripe = stripe_gateway(&StripeSettings {
            base: base.clone(),
            flow: StripeFlow::Charges,
            ..StripeSettings::new(KEY)
        })
        .unwrap();
        activities_with(
            LostAnswers::new(stripe, 2, counter),
            Outbox::new(data, "cart@localhost".parse().unwrap()),
        )
    })
    .await;
    let id = unique_cart();
    h.carts
        .add(&id, add(3, 1), input(LONG, LONG))
        .await
        .unwrap();
    let view = h
        .carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two lost answers, then success"
    );
    let charges = stripe.charges().await;
    assert_eq!(charges.len(), 1, "three requests with one key, one charge");
    assert_eq!(
        view.receipt.unwrap().charge_id,
        charges[0]["id"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_lost_after_the_charge_stays_one_charge_on_the_stateful_mock() {
    // The stateful Stripe mock behind a proxy that drops the first answer: the charge was
    // made, the worker never heard, and asking again with the same key finds it.
    let stripe = StripeMock::start().await;
    let proxy = fake::DropProxy::start(&stripe.base).await;
    let s = Setup::new().await;
    let _worker = s
        .spawn_worker_with(&[
            ("STRIPE_SECRET_KEY", KEY),
            ("STRIPE_API_BASE", &proxy.base),
            ("STRIPE_API", "charges"),
            ("STRIPE_TIMEOUT", "2s"),
        ])
        .await;
    let id = unique("CART-lost");
    s.ok(&["add", &id, "--product", "3"]);
    let cart = s.ok_json(&["checkout", &id, "--email", "ann@example.com"]);
    assert_eq!(cart["status"], "checked_out");
    let charges = stripe.charges().await;
    assert_eq!(charges.len(), 1, "{charges:#?}");
    assert_eq!(cart["receipt"]["charge_id"], charges[0]["id"]);
    assert_eq!(charges[0]["amount"], 59_900);
}
