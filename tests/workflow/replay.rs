//! Determinism: histories recorded from real runs replay against the current workflow code.
//!
//! `tests/fixtures/cart-history.json` was recorded from a run of `a_full_history_replays`
//! (with `CART_RECORD_HISTORY=1`); replaying it guards carts already running against changes
//! that would break them. Re-record it only when an intentional, patched change requires it.

use crate::support::*;
use cart::workflow::CartWorkflow;
use std::path::PathBuf;
use std::time::Duration;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cart-history.json")
}

async fn replay(json: &[u8]) {
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<CartWorkflow>()
            .unwrap()
            .build(),
    )
    .unwrap();
    let history = WorkflowHistory::from_json(json).expect("history JSON");
    replayer
        .replay_workflow(history)
        .await
        .expect("the history replays without nondeterminism");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_history_replays() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique("CART"));
    let remind = Duration::from_secs(1);

    carts
        .add(&id, add(0, 2), input(remind, Duration::from_secs(3600)))
        .await
        .unwrap();
    let remove = remove(0, Some(1));
    carts.remove(&id, remove).await.unwrap();
    let email = email("ann@example.com");
    carts.set_email(&id, email).await.unwrap();
    eventually(Duration::from_secs(20), "the reminder", || async {
        carts.get(&id).await.unwrap().reminder_sent.then_some(())
    })
    .await;
    let declined = checkout(None, Some("tok_chargeDeclined"));
    assert!(carts.checkout(&id, declined).await.is_err());
    carts
        .add(&id, add(2, 1), input(remind, Duration::from_secs(3600)))
        .await
        .unwrap();
    carts.checkout(&id, checkout(None, None)).await.unwrap();

    let json = h
        .env
        .client()
        .get_workflow_handle::<CartWorkflow>(&id)
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    if std::env::var_os("CART_RECORD_HISTORY").is_some() {
        std::fs::create_dir_all(fixture().parent().unwrap()).unwrap();
        std::fs::write(fixture(), &json).unwrap();
    }
    replay(&json).await;
}

#[tokio::test]
async fn the_recorded_history_replays() {
    let json = std::fs::read(fixture()).expect("the recorded history fixture");
    replay(&json).await;
}
