//! Payments: declines reach the person and reopen the cart; a retried charge never charges
//! twice.

use crate::support::*;
use cart::activities::{LocalLedger, Outbox};
use cart::client::ClientError;
use cart::domain::Status;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn pay_with(payment: &str) -> cart::workflow::Checkout {
    checkout(Some("ann@example.com"), Some(payment))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_reopens_the_cart_and_a_second_checkout_succeeds() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(3, 2), input(LONG, LONG)).await.unwrap();

    let err = carts
        .checkout(&id, pay_with("tok_chargeDeclinedInsufficientFunds"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Rejected(m) if m == "card declined: insufficient funds"),
        "{err:?}"
    );
    let view = carts.get(&id).await.unwrap();
    assert_eq!(view.status, Status::Open);
    assert_eq!(
        view.last_error.as_deref(),
        Some("card declined: insufficient funds")
    );
    assert!(ledger(h.data()).is_empty());

    // The cart is open again: it can change, and the next checkout goes through.
    carts.add(&id, add(2, 1), input(LONG, LONG)).await.unwrap();
    let view = carts.checkout(&id, pay_with("tok_visa")).await.unwrap();
    assert_eq!(view.status, Status::CheckedOut);
    assert_eq!(view.last_error, None);
    let ledger = ledger(h.data());
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].amount, 2 * 59_900 + 39_900);
    assert!(
        ledger[0].idempotency_key.ends_with("-checkout-2"),
        "the second attempt has its own key: {}",
        ledger[0].idempotency_key
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_charge_activity_charges_exactly_once() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let h = Harness::start_with(&[], |data| {
        let gateway = LostAnswers::new(Arc::new(LocalLedger::new(data)), 2, counter);
        activities_with(
            gateway,
            Outbox::new(data, "cart@localhost".parse().unwrap()),
        )
    })
    .await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(1, 1), input(LONG, LONG)).await.unwrap();

    let view = carts.checkout(&id, pay_with("tok_visa")).await.unwrap();
    assert_eq!(view.status, Status::CheckedOut);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two lost answers, then success"
    );
    let ledger = ledger(h.data());
    assert_eq!(ledger.len(), 1, "three attempts, one charge");
    assert_eq!(view.receipt.unwrap().charge_id, ledger[0].charge_id);
}
