//! Orders against a real server: refunds whose answers tell nothing or come late follow the
//! verdict rules of a charge, and an order's history is handed on by continue-as-new.

use crate::support::*;
use cart::activities::{LocalLedger, Outbox};
use cart::client::ClientError;
use cart::domain::Observation;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use temporalio_client::WorkflowExecutionStatus;

/// A harness whose provider answers from `script`; a paid cart of one iPhone SE (399.00 USD).
async fn paid_with_script(script: Vec<Observation>) -> (Harness, cart::domain::CartId) {
    let h = Harness::start_with(&[], |data| {
        activities_with(
            Scripted::new(script),
            Outbox::new(data, "cart@localhost".parse().unwrap()),
        )
    })
    .await;
    let id = unique_cart();
    h.carts
        .add(&id, add(2, 1), input(LONG, LONG))
        .await
        .unwrap();
    let paid = h
        .carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    assert_eq!(paid.receipt.unwrap().charge_id, "ch_1");
    (h, id)
}

fn paid() -> Observation {
    Observation::Paid {
        reference: "ch_1".into(),
    }
}

/// The order's refund `id` once its status is `status`.
async fn refund_becomes(
    h: &Harness,
    id: &cart::domain::CartId,
    status: &str,
) -> cart::workflow::OrderView {
    let what = format!("the refund to be {status}");
    eventually(Duration::from_secs(30), &what, || async {
        let order = h.carts.get(id).await.ok()?.order?;
        (order.refunds.first()?.status == status).then_some(order)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_stays_pending_answers_pending_then_settles_by_itself() {
    let pending = || Observation::Unfinished {
        reference: "re_1".into(),
        reason: "refund re_1 is pending at Stripe".into(),
    };
    let script = vec![
        paid(),
        pending(),
        pending(),
        Observation::Paid {
            reference: "re_1".into(),
        },
    ];
    let (h, id) = paid_with_script(script).await;
    let view = h.carts.refund(&id, refund("r1", None)).await.unwrap();
    let order = view.order.unwrap();
    assert_eq!(order.status, "refund_pending");
    assert_eq!(
        order.refundable, 0,
        "a pending refund counts against what is left"
    );
    assert_eq!(
        order.refunds[0].detail.as_deref(),
        Some("refund re_1 is pending at Stripe")
    );
    // Another refund meanwhile is refused: nothing is left.
    let more = h
        .carts
        .refund(&id, refund("r2", Some("1.00")))
        .await
        .unwrap_err();
    assert!(
        matches!(&more, ClientError::Rejected(m) if m.starts_with("nothing is left to refund")),
        "{more:?}"
    );
    let order = refund_becomes(&h, &id, "refunded").await;
    assert_eq!(order.status, "refunded");
    assert_eq!(order.refunds[0].provider_id.as_deref(), Some("re_1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_no_answer_tells_of_is_looked_up_by_its_key_before_it_counts_as_not_made() {
    let unknown = || Observation::Unknown {
        reason: "no answer in time".into(),
    };
    let script = vec![
        paid(),
        unknown(),
        unknown(),
        unknown(),
        Observation::NoneFound {
            searched_at: jiff::Timestamp::UNIX_EPOCH,
        },
        // The first lookup came before the search could show it: asked again, it finds none.
        Observation::NoneFound {
            searched_at: jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
        },
    ];
    let (h, id) = paid_with_script(script).await;
    let view = h
        .carts
        .refund(&id, refund("r1", Some("100.00")))
        .await
        .unwrap();
    assert_eq!(
        view.order.unwrap().status,
        "refund_pending",
        "three sends told nothing"
    );
    let order = refund_becomes(&h, &id, "failed").await;
    assert_eq!(
        order.refunds[0].detail.as_deref(),
        Some("the payment provider has no refund under its key: nothing was refunded")
    );
    assert_eq!(order.refundable, 39_900, "the amount is refundable again");
    assert_eq!(order.status, "checked_out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_answers_are_lost_is_made_once() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let h = Harness::start_with(&[], |data| {
        let gateway = LostAnswers::refunds(Arc::new(LocalLedger::new(data)), 2, counter);
        activities_with(
            gateway,
            Outbox::new(data, "cart@localhost".parse().unwrap()),
        )
    })
    .await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(1, 1), input(LONG, LONG)).await.unwrap();
    carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    let view = carts.refund(&id, refund("r1", None)).await.unwrap();
    assert_eq!(view.order.unwrap().status, "refunded");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "two lost answers, then the refund"
    );
    let refunds: Vec<_> = ledger(h.data())
        .into_iter()
        .filter(|e| e.refund_of.is_some())
        .collect();
    assert_eq!(refunds.len(), 1, "three requests with one key, one refund");
    assert!(refunds[0].idempotency_key.ends_with("-refund-r1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_handed_on_by_continue_as_new_with_its_refunds_and_shipment() {
    let h = Harness::suggesting_continue_as_new_after(40).await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    let first_run = h.run_id(&id).await;
    carts.ship(&id, ship("1Z999")).await.unwrap();
    for n in 0..12 {
        carts
            .refund(&id, refund(&format!("r{n}"), Some("1.00")))
            .await
            .unwrap();
    }
    let handle = h
        .env
        .client()
        .get_workflow_handle::<cart::workflow::CartWorkflow>(id.as_str());
    eventually(Duration::from_secs(20), "a new run", || async {
        let d = handle.describe(Default::default()).await.ok()?;
        (d.run_id() != first_run && d.status() == WorkflowExecutionStatus::Running).then_some(())
    })
    .await;
    // The new run goes on with the order as it was, and its refunds are still one each.
    let view = carts.refund(&id, refund("r0", Some("5.00"))).await.unwrap();
    let order = view.order.unwrap();
    assert_eq!(order.refunds.len(), 12);
    assert_eq!(order.refunded, 1_200);
    assert_eq!(order.tracking.as_deref(), Some("1Z999"));
    assert!(
        history(&h.env, &id).await.len() < 60,
        "the new run's history is short"
    );
    let refunds = ledger(h.data())
        .into_iter()
        .filter(|e| e.refund_of.is_some())
        .count();
    assert_eq!(refunds, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_still_pending_when_the_window_closes_is_followed_until_it_is_known() {
    let pending = || Observation::Unfinished {
        reference: "re_1".into(),
        reason: "refund re_1 is pending at Stripe".into(),
    };
    let mut script = vec![paid()];
    script.extend((0..5).map(|_| pending()));
    script.push(Observation::Paid {
        reference: "re_1".into(),
    });
    let h = Harness::start_with(&[], |data| {
        activities_with(
            Scripted::new(script),
            Outbox::new(data, "cart@localhost".parse().unwrap()),
        )
    })
    .await;
    let id = unique_cart();
    let start = input_with_window(LONG, LONG, Duration::from_secs(2));
    h.carts.add(&id, add(2, 1), start).await.unwrap();
    h.carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    let view = h.carts.refund(&id, refund("r1", None)).await.unwrap();
    assert_eq!(view.order.unwrap().status, "refund_pending");
    // The window closes while the refund is pending: the run waits for its verdict, asking
    // at the refund's own pace, and only then completes.
    let ended = h.result(&id).await;
    let order = ended.order.expect("the order");
    assert_eq!(order.status, "refunded");
    assert_eq!(order.refunds[0].provider_id.as_deref(), Some("re_1"));
    let timers = event_types(&history(&h.env, &id).await)
        .into_iter()
        .filter(|e| {
            *e == temporalio_common::protos::temporal::api::enums::v1::EventType::TimerStarted
        })
        .count();
    assert!(timers < 20, "no busy loop of timers: {timers}");
}

/// A mail provider that is down for good.
struct Down;

#[async_trait::async_trait]
impl cart::activities::Mailer for Down {
    async fn send(
        &self,
        _: &cart::activities::EmailMessage,
    ) -> Result<(), cart::activities::MailError> {
        Err(cart::activities::MailError::Unavailable(
            "down for the test".into(),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_provider_that_is_down_holds_no_refund_back() {
    let h = Harness::start_with(&[], |data| activities_with(LocalLedger::new(data), Down)).await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(1, 1), input(LONG, LONG)).await.unwrap();
    carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    // The confirmation and each refund's e-mail keep trying for days; the refunds go on.
    let first = carts
        .refund(&id, refund("r1", Some("100.00")))
        .await
        .unwrap();
    assert_eq!(first.order.unwrap().status, "partially_refunded");
    let second = carts
        .refund(&id, refund("r2", Some("100.00")))
        .await
        .unwrap();
    assert_eq!(second.order.unwrap().refunded, 20_000);
    let refunds = ledger(h.data())
        .into_iter()
        .filter(|e| e.refund_of.is_some())
        .count();
    assert_eq!(refunds, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_whose_refund_fails_is_a_cancelled_order_that_says_why() {
    let script = vec![
        paid(),
        Observation::Refused {
            reason: "refund refused: Charge ch_1 has been charged back; cannot issue a refund."
                .into(),
        },
    ];
    let (h, id) = paid_with_script(script).await;
    let request = cart::workflow::CancelOrder {
        id: "c1".into(),
        reason: None,
    };
    let view = h.carts.cancel(&id, request).await.unwrap();
    let order = view.order.unwrap();
    assert_eq!(order.status, "cancelled");
    assert_eq!(order.refunds[0].status, "failed");
    assert_eq!(
        order.refundable, 39_900,
        "what the failed refund left can be refunded"
    );
    assert!(
        order.refunds[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("charged back"),
        "{order:?}"
    );
}

/// An outbox that takes a moment to send, and counts the sends of each message.
struct Slow {
    outbox: Outbox,
    sent: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
}

#[async_trait::async_trait]
impl cart::activities::Mailer for Slow {
    async fn send(
        &self,
        message: &cart::activities::EmailMessage,
    ) -> Result<(), cart::activities::MailError> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        *self
            .sent
            .lock()
            .unwrap()
            .entry(message.key.clone())
            .or_default() += 1;
        self.outbox.send(message).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_handed_on_mid_mail_sends_each_e_mail_once() {
    let sent = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let counts = sent.clone();
    let h = Harness::start_with(
        &[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=40",
        ],
        move |data| {
            let mailer = Slow {
                outbox: Outbox::new(data, "cart@localhost".parse().unwrap()),
                sent: counts.clone(),
            };
            activities_with(LocalLedger::new(data), mailer)
        },
    )
    .await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    let first_run = h.run_id(&id).await;
    for n in 0..10 {
        carts
            .refund(&id, refund(&format!("r{n}"), Some("1.00")))
            .await
            .unwrap();
    }
    // The confirmation and ten refund e-mails, each once, across the hand-over.
    eventually(Duration::from_secs(60), "eleven e-mails", || async {
        (sent.lock().unwrap().len() == 11).then_some(())
    })
    .await;
    assert_ne!(h.run_id(&id).await, first_run, "the order was handed on");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = sent.lock().unwrap().clone();
    assert!(sent.values().all(|n| *n == 1), "{sent:?}");
}
