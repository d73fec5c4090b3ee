//! The tutorial's own workflow tests, as scenarios, plus the rejections.

use crate::support::*;
use cart::domain::Status;
use cart::workflow::{AddItem, Checkout, RemoveItem, SetEmail};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

fn add(product_id: i64, quantity: i64) -> AddItem {
    AddItem {
        product_id,
        quantity,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_remove_and_checkout() {
    let env = start_server(&[]).await;
    let queue = unique("q");
    let data = tempfile::tempdir().unwrap();
    let worker = start_worker(&env, &queue, cart::worker::local_activities(data.path()));
    let carts = client(&env, &queue);
    let id = unique("CART");

    let view = carts.create(&id, input(LONG, LONG)).await.unwrap();
    assert_eq!(view.status, Status::Open);
    assert!(view.items.is_empty());

    let view = carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    assert_eq!(view.items[0].quantity, 2);
    let view = carts
        .remove(
            &id,
            RemoveItem {
                product_id: 0,
                quantity: Some(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(view.items[0].quantity, 1, "add 2, remove 1, 1 left");
    assert_eq!(view.total, 99_900);

    carts
        .set_email(
            &id,
            SetEmail {
                email: "Ann@Example.com".into(),
            },
        )
        .await
        .unwrap();
    let view = carts.checkout(&id, Checkout::default()).await.unwrap();
    assert_eq!(view.status, Status::CheckedOut);
    let receipt = view.receipt.expect("receipt");
    assert_eq!(receipt.amount, 99_900);
    assert_eq!(receipt.email, "Ann@example.com");

    let ledger = cart::activities::LocalLedger::new(data.path())
        .entries()
        .unwrap();
    assert_eq!(ledger.len(), 1, "one charge in the ledger");
    assert_eq!(ledger[0].charge_id, receipt.charge_id);
    assert_eq!(ledger[0].cart_id, id);

    // The workflow completed, and the completed cart can still be read.
    let shown = carts.get(&id).await.unwrap();
    assert_eq!(shown.status, Status::CheckedOut);
    let err = carts
        .add(&id, add(1, 1), input(LONG, LONG))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), format!("cart {id} is already checked out"));
    worker.stop();
    env.shutdown().await.unwrap();
}
