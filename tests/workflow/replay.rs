//! The paths a cart can take, driven against a real server, each history replayed against
//! today's workflow code and recorded as a fixture when `CART_RECORD_FIXTURES=1` (see
//! `tests/fixtures/mod.rs`). Together they cover add, remove, e-mail, the tutorial's start
//! items and signals, a reminder whose send fails and is cancelled by a change, a reminder
//! sent, the day's cap holding one back, a cap of none, expiry, a decline, a paid checkout with
//! its confirmation, payments whose answers say nothing and are settled by lookup, cancel and
//! follow-up, and continue-as-new with changes carried over.
//!
//! - `full-history`: a reminder send that fails while the provider is down and is cancelled
//!   by a change, a reminder, a decline, tutorial signals queued with an update, a last idle
//!   period held back by the cap, and a paid checkout.
//! - `settling`: payments whose answers say nothing, a lookup that finds nothing, a
//!   PaymentIntent given up and cancelled after a failed cancel, and one followed up by its id
//!   until it is paid.
//! - `expiry`: a cart started with the tutorial's items (one of them not sold), held back from
//!   reminders by a cap of none, that expires.
//! - `continued-first-run` and `continued-last-run`: a cart handed over by continue-as-new
//!   while changes and tutorial signals stream in, then paid in its new run.

use crate::fixtures::{dir, replay};
use crate::support::*;
use cart::activities::{EmailMessage, MailError, Mailer};
use cart::domain::{CartId, Status};
use cart::workflow::{CartInput, CartWorkflow, TutorialItem};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use temporalio_client::WorkflowExecutionStatus;

/// Replays the history of the cart's run `run` (its latest when `None`), and records it as the
/// fixture `name` of this version when `CART_RECORD_FIXTURES=1`.
async fn record(
    env: &temporalio_sdk::testing::WorkflowEnvironment<temporalio_sdk::testing::LocalServer>,
    id: &CartId,
    run: Option<&str>,
    name: &str,
) {
    let client = env.client();
    let mut info = client
        .get_workflow_handle::<CartWorkflow>(id.as_str())
        .info()
        .clone();
    info.run_id = run.map(str::to_owned);
    let handle = temporalio_client::WorkflowHandle::<_, CartWorkflow>::new(client.clone(), info);
    let json = handle
        .fetch_history(Default::default())
        .to_json()
        .await
        .unwrap();
    if let Err(e) = replay(&json).await {
        panic!("the history of {name} does not replay: {e}");
    }
    if std::env::var("CART_RECORD_FIXTURES").is_ok_and(|v| v == "1") {
        let dir = dir(env!("CARGO_PKG_VERSION"));
        let path = dir.join(format!("{name}.json"));
        // A release's fixtures are what its workers recorded: they are never rewritten by a
        // later change. A new release records into its own directory (bump the version first).
        assert!(
            !path.exists(),
            "{} holds a fixture of a release already; bump the version in Cargo.toml to record",
            path.display()
        );
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(path, &json).unwrap();
    }
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
        let settings = settings(remind, Duration::from_secs(3600))
            .with_reminders_per_day(1)
            .with_refund_window(Duration::from_secs(8));
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
    // The order: a partial refund, one asked for again under its id, a shipment, a refund of
    // more than is left (refused), and the end of its window.
    let partial = carts
        .refund(&id, refund("r1", Some("100.00")))
        .await
        .unwrap();
    assert_eq!(partial.order.unwrap().status, "partially_refunded");
    carts
        .refund(&id, refund("r1", Some("100.00")))
        .await
        .unwrap();
    carts.ship(&id, ship("1Z999")).await.unwrap();
    assert!(
        carts
            .refund(&id, refund("r2", Some("99999.00")))
            .await
            .is_err()
    );
    let ended = h.result(&id).await;
    let order = ended.order.expect("the order");
    assert_eq!((order.refunded, order.refunds.len()), (10_000, 1));
    record(&h.env, &id, None, "full-history").await;
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
    let start = input_with_window(LONG, LONG, Duration::from_secs(2));
    carts.add(&id, add(1, 1), start).await.unwrap();
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
    record(&h.env, &id, None, "settling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_history_replays() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    let settings =
        settings(Duration::from_secs(1), Duration::from_secs(3)).with_reminders_per_day(0);
    let item = |product_id, quantity| TutorialItem {
        product_id,
        quantity,
    };
    let start = CartInput {
        tutorial_items: vec![item(0, 1), item(99, 1)],
        ..CartInput::new(settings, Some("ann@example.com".into()))
    };
    let view = carts.add(&id, add(2, 1), start).await.unwrap();
    let held: Vec<_> = view
        .items
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    assert_eq!(held, [(0, 1), (2, 1)], "the unknown start item is ignored");
    let ended = h.result(&id).await;
    assert_eq!(ended.status, Status::Expired);
    assert!(
        reminders(h.data()).is_empty(),
        "a cap of none sends no reminder"
    );
    record(&h.env, &id, None, "expiry").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continued_history_replays() {
    let h = Harness::suggesting_continue_as_new_after(40).await;
    let (carts, id) = (&h.carts, unique_cart());
    let start = input_with_window(LONG, LONG, Duration::from_secs(2));
    carts.add(&id, add(0, 1), start).await.unwrap();
    let handle = h
        .env
        .client()
        .get_workflow_handle::<CartWorkflow>(id.as_str());
    let first_run = h.run_id(&id).await;
    carts
        .set_email(&id, email("ann@example.com"))
        .await
        .unwrap();
    let temporal = Temporal {
        address: h.address.clone(),
    };
    let signal = r#"{"Route":"add_to_cart","Item":{"ProductId":3,"Quantity":1}}"#;
    for _ in 0..15 {
        carts.add(&id, add(1, 1), input(LONG, LONG)).await.unwrap();
        temporal.signal(&id, "ADD_TO_CART_CHANNEL", signal);
        carts.remove(&id, remove(1, Some(1))).await.unwrap();
    }
    eventually(Duration::from_secs(20), "a new run", || async {
        let d = handle.describe(Default::default()).await.ok()?;
        (d.run_id() != first_run && d.status() == WorkflowExecutionStatus::Running).then_some(())
    })
    .await;
    let paid = carts.checkout(&id, checkout(None, None)).await.unwrap();
    let held: Vec<_> = paid
        .items
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    assert_eq!(held, [(0, 1), (3, 15)]);
    h.result(&id).await;
    record(&h.env, &id, Some(&first_run), "continued-first-run").await;
    record(&h.env, &id, None, "continued-last-run").await;
}
