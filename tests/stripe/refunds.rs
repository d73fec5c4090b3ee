//! Refunds end to end against the real stateful Stripe mock (Charges): each refund once,
//! whatever answers are lost, and a refund Stripe refuses leaves the order as it was, with
//! Stripe's reason.

use super::{KEY, StripeMock, fake};
use crate::cli::WorkerProcess;
use crate::support::*;
use std::time::Duration;

impl StripeMock {
    /// Every refund the mock holds for `charge`.
    pub async fn refunds(&self, charge: &str) -> Vec<serde_json::Value> {
        let list: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{}/v1/refunds?charge={charge}&limit=100",
                self.base
            ))
            .basic_auth(KEY, Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"].as_array().cloned().unwrap_or_default()
    }

    /// A refund made in Stripe's dashboard, behind the cart's back.
    pub async fn refund_elsewhere(&self, charge: &str, amount: u64) {
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/refunds", self.base))
            .basic_auth(KEY, Some(""))
            .form(&[("charge", charge), ("amount", &amount.to_string())])
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap()
        );
    }
}

/// A worker paying through Stripe's Charges at `base`.
async fn paid_worker(s: &Setup, base: &str) -> WorkerProcess {
    s.spawn_worker_with(&[
        ("STRIPE_SECRET_KEY", KEY),
        ("STRIPE_API_BASE", base),
        ("STRIPE_API", "charges"),
        ("STRIPE_TIMEOUT", "2s"),
        ("STRIPE_SEARCH_LAG", "1s"),
        ("STRIPE_FOLLOW_UP_MAX", "1s"),
    ])
    .await
}

/// A worker paying through Stripe's Charges at `base`, and a paid cart of one iPhone 11
/// (599.00 USD); the cart's id and its charge.
async fn paid_through(s: &Setup, base: &str) -> (WorkerProcess, String, String) {
    let worker = paid_worker(s, base).await;
    let id = unique("CART-refund");
    s.ok(&["add", &id, "--product", "3"]);
    let cart = s.ok_json(&["checkout", &id, "--email", "ann@example.com"]);
    let charge = cart["receipt"]["charge_id"].as_str().unwrap().to_owned();
    (worker, id, charge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_answer_is_lost_is_one_refund_on_stripe() {
    let stripe = StripeMock::start().await;
    let proxy = fake::DropProxy::dropping(&stripe.base, "POST /v1/refunds").await;
    let s = Setup::new().await;
    let (_worker, id, charge) = paid_through(&s, &proxy.base).await;

    let order = s.ok_json(&["refund", &id, "--amount", "100.00", "--id", "r1"])["order"].clone();
    assert_eq!(order["status"], "partially_refunded", "{order:#}");
    assert!(proxy.dropped(), "the first refund's answer was lost");
    let refunds = stripe.refunds(&charge).await;
    assert_eq!(refunds.len(), 1, "a lost answer, one refund: {refunds:#?}");
    assert_eq!(refunds[0]["amount"], 10_000);
    assert_eq!(order["refunds"][0]["provider_id"], refunds[0]["id"]);
    assert_eq!(refunds[0]["metadata"]["cart_id"], id.as_str());

    // The rest: Stripe holds two refunds that reach the amount paid, and a third is refused
    // before anything is sent.
    let order = s.ok_json(&["refund", &id])["order"].clone();
    assert_eq!(order["status"], "refunded");
    let out = s
        .cart()
        .args(["refund", &id, "--amount", "1.00"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let refunds = stripe.refunds(&charge).await;
    let amounts: u64 = refunds.iter().map(|r| r["amount"].as_u64().unwrap()).sum();
    assert_eq!((refunds.len(), amounts), (2, 59_900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_stripe_refuses_leaves_the_amount_refundable_with_stripe_s_reason() {
    let stripe = StripeMock::start().await;
    let s = Setup::new().await;
    let (_worker, id, charge) = paid_through(&s, &stripe.base).await;
    // All of it was refunded in the dashboard: Stripe refuses ours.
    stripe.refund_elsewhere(&charge, 59_900).await;

    let out = s
        .cart()
        .args(["refund", &id, "--id", "r1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: refund refused: Charge {charge} has already been refunded."
        )),
        "{err}"
    );
    let order = s.ok_json(&["show", &id])["order"].clone();
    assert_eq!(order["refundable"], 59_900, "{order:#}");
    assert_eq!(order["refunds"][0]["status"], "failed");
    assert_eq!(
        stripe.refunds(&charge).await.len(),
        1,
        "only the dashboard's"
    );
    // Asked again under its id, it is the same refund: refused again, nothing sent.
    let again = s
        .cart()
        .args(["refund", &id, "--id", "r1"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(stripe.refunds(&charge).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_stripe_refunds_leaves_one_refund_made_by_the_next_worker() {
    let stripe = StripeMock::start().await;
    // Stripe makes the refund at once; its answer is held back long enough to kill the worker.
    let proxy =
        fake::DropProxy::delaying(&stripe.base, "POST /v1/refunds", Duration::from_secs(60)).await;
    let s = Setup::new().await;
    let (worker, id, charge) = paid_through(&s, &proxy.base).await;
    let mut refund = s.cart();
    refund.args(["refund", &id, "--id", "r1", "--output", "json"]);
    let refund = tokio::task::spawn_blocking(move || refund.output().unwrap());
    eventually(Duration::from_secs(20), "the refund at Stripe", || async {
        (stripe.refunds(&charge).await.len() == 1 && proxy.dropped()).then_some(())
    })
    .await;
    worker.kill();
    let _next = paid_worker(&s, &proxy.base).await;
    let out = refund.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answered["order"]["status"], "refunded", "{answered:#}");
    let refunds = stripe.refunds(&charge).await;
    assert_eq!(refunds.len(), 1, "one refund: {refunds:#?}");
    assert_eq!(
        answered["order"]["refunds"][0]["provider_id"],
        refunds[0]["id"]
    );
}
