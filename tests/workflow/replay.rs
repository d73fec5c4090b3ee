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
//! search attributes, `search-attributes.json` predates the reminder rules (a change cancels a
//! pending send, a cap per day), and `reminder-rules.json` is the current code's: its reminder
//! send fails while the provider is down and is cancelled by a change, and its last idle period
//! waits on the cap.

use crate::support::*;
use cart::activities::{EmailMessage, MailError, Mailer};
use cart::workflow::CartWorkflow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// The outbox, unavailable while `down` is set; counts the sends tried while down.
struct Flaky {
    outbox: cart::activities::Outbox,
    down: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Mailer for Flaky {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(MailError::Unavailable("down for the test".into()));
        }
        self.outbox.send(message).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_history_replays() {
    let down = Arc::new(AtomicBool::new(true));
    let refused = Arc::new(AtomicUsize::new(0));
    let mailer = |data: &std::path::Path| Flaky {
        outbox: cart::activities::Outbox::new(
            data,
            cart::activities::DEFAULT_SENDER.parse().unwrap(),
        ),
        down: down.clone(),
        refused: refused.clone(),
    };
    let h = Harness::start_with(&[], |data| {
        activities_with(cart::activities::LocalLedger::new(data), mailer(data))
    })
    .await;
    let (carts, id) = (&h.carts, unique_cart());
    let remind = Duration::from_secs(1);
    let start = || {
        let settings = settings(remind, Duration::from_secs(3600)).with_reminders_per_day(1);
        cart::workflow::CartInput::new(settings, None)
    };

    carts.add(&id, add(0, 2), start()).await.unwrap();
    let remove = remove(0, Some(1));
    carts.remove(&id, remove).await.unwrap();
    let email = email("ann@example.com");
    carts.set_email(&id, email).await.unwrap();
    // The e-mail provider is down when the reminder falls due; a change cancels that send.
    eventually(Duration::from_secs(20), "a refused reminder", || async {
        (refused.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    carts.add(&id, add(3, 1), start()).await.unwrap();
    down.store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(20), "the reminder", || async {
        carts.get(&id).await.unwrap().reminder_sent.then_some(())
    })
    .await;
    let declined = checkout(None, Some("tok_chargeDeclined"));
    assert!(carts.checkout(&id, declined).await.is_err());
    // The next reminder waits for the day's cap; the checkout comes first.
    carts.add(&id, add(2, 1), start()).await.unwrap();
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
