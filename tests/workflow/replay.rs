//! Determinism: histories recorded from real runs replay against the current workflow code.
//!
//! Each `tests/fixtures/*.json` was recorded from a run of `a_full_history_replays` by the
//! workflow code of its time (`CART_RECORD_HISTORY=tests/fixtures/NAME.json`); replaying them
//! all guards carts already running against changes that would break them. A change to the
//! workflow's commands goes behind `ctx.patched(…)` and gets a new fixture beside the old:
//! `before-order-confirmation.json` predates the order confirmation e-mail,
//! `with-order-confirmation.json` predates prices from the worker's catalog,
//! `worker-prices.json` predates charges run and settled by the main loop,
//! `settled-payments.json` predates the status kept in the memo, `status-memo.json` predates
//! search attributes, and `search-attributes.json` is the current code's.

use crate::support::*;
use cart::workflow::CartWorkflow;
use std::path::PathBuf;
use std::time::Duration;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

fn fixtures() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
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
    let (carts, id) = (&h.carts, unique_cart());
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
        .get_workflow_handle::<CartWorkflow>(id.as_str())
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    if let Some(path) = std::env::var_os("CART_RECORD_HISTORY") {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::write(path, &json).unwrap();
    }
    replay(&json).await;
}

#[tokio::test]
async fn every_recorded_history_replays() {
    let files = fixtures();
    assert!(files.len() >= 2, "the recorded histories are missing");
    for file in files {
        let json = std::fs::read(&file).unwrap();
        eprintln!("replaying {}", file.display());
        replay(&json).await;
    }
}
