//! Determinism: histories recorded from real runs replay against the current workflow code.
//!
//! Each `tests/fixtures/*.json` was recorded by one of the tests here, run by the workflow code
//! of its time with `CART_RECORD_HISTORY=tests/fixtures/NAME.json`; replaying them all guards
//! carts already running against changes that would break them. `full-history.json`
//! (`a_full_history_replays`): a reminder send that fails while the provider is down and is
//! cancelled by a change, a reminder, a decline, tutorial signals queued with an update, a last idle
//! period held back by the cap, and a paid checkout. `settling.json` (`a_settling_history_replays`): payments whose answers say
//! nothing, a lookup that finds nothing, a PaymentIntent given up and cancelled after a failed
//! cancel, and one followed up by its id until it is paid.
//!
//! No release of `cart` exists yet, so a change to the commands a cart issues re-records these
//! (the histories of earlier builds were retired when payments came to be settled by the
//! payment record); from the first release on, such a change goes behind `ctx.patched(…)` with
//! a fixture of the release before it.

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
    // The tutorial's signals queue with the updates: an add that waits for its price, the
    // remove behind it, and an update behind both.
    let temporal = Temporal {
        address: h.address.clone(),
    };
    let item = |p: i64| format!(r#"{{"Route":"x","Item":{{"ProductId":{p},"Quantity":1}}}}"#);
    temporal.signal(&id, "ADD_TO_CART_CHANNEL", &item(1));
    temporal.signal(&id, "REMOVE_FROM_CART_CHANNEL", &item(1));
    // The next reminder waits for the day's cap; the checkout comes first.
    carts.add(&id, add(2, 1), start()).await.unwrap();
    carts.checkout(&id, checkout(None, None)).await.unwrap();
    h.result(&id).await;
    record_and_replay(&h, &id).await;
}

/// Records the cart's history to `CART_RECORD_HISTORY` when it is set, and replays it.
async fn record_and_replay(h: &Harness, id: &cart::domain::CartId) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settling_history_replays() {
    use cart::domain::Observation::*;
    let reason = |text: &str| text.to_owned();
    let script = vec![
        // Three sends that tell nothing, then a lookup that finds nothing: refused.
        Unknown {
            reason: reason("no answer in time"),
        },
        Unrelated {
            reason: reason("the provider answered 401"),
        },
        Unknown {
            reason: reason("the connection was reset"),
        },
        NoneFound {
            searched_at: jiff::Timestamp::UNIX_EPOCH,
        },
        // A payment the bank must confirm: given up, a cancel that fails, then one that works.
        Stalled {
            reference: reason("pi_2"),
            reason: reason("card declined: 3-D Secure"),
        },
        Unknown {
            reason: reason("no answer in time"),
        },
        Refused {
            reason: reason("card declined: the payment was canceled"),
        },
        // A payment still processing, followed up by its id until it is paid.
        Unfinished {
            reference: reason("pi_3"),
            reason: reason("processing"),
        },
        Unfinished {
            reference: reason("pi_3"),
            reason: reason("processing"),
        },
        Paid {
            reference: reason("pi_3"),
        },
    ];
    let h = Harness::start_with(&[], |data| {
        activities_with(
            Scripted::new(script),
            cart::activities::Outbox::new(data, cart::activities::DEFAULT_SENDER.parse().unwrap()),
        )
    })
    .await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(1, 1), input(LONG, LONG)).await.unwrap();
    carts
        .set_email(&id, email("ann@example.com"))
        .await
        .unwrap();
    let reopened = |want: &'static str| {
        let carts = carts.clone();
        let id = id.clone();
        async move {
            eventually(Duration::from_secs(60), want, || async {
                let view = carts.get(&id).await.ok()?;
                (view.status == cart::domain::Status::Open).then_some(view)
            })
            .await
        }
    };
    let pending = carts.checkout(&id, checkout(None, None)).await.unwrap();
    assert_eq!(pending.status, cart::domain::Status::PaymentPending);
    let open = reopened("the lookup's verdict").await;
    assert!(open.last_error.unwrap().ends_with("nothing was charged"));
    let declined = carts.checkout(&id, checkout(None, None)).await;
    assert!(declined.is_ok_and(|v| v.status == cart::domain::Status::PaymentPending));
    let open = reopened("the cancel").await;
    assert_eq!(
        open.last_error.as_deref(),
        Some("card declined: 3-D Secure")
    );
    carts.checkout(&id, checkout(None, None)).await.unwrap();
    let paid = h.result(&id).await;
    assert_eq!(paid.receipt.unwrap().charge_id, "pi_3");
    record_and_replay(&h, &id).await;
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
