//! The idle timer: re-armed by every change, cancelled by checkout, never more than one
//! pending; and expiry.

use crate::support::*;
use cart::domain::Status;
use std::time::Duration;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

/// The most timers pending at once over a history, and how many were cancelled and fired.
fn timer_stats(events: &[HistoryEvent]) -> (usize, usize, usize) {
    let (mut pending, mut most, mut cancelled, mut fired) = (0usize, 0usize, 0, 0);
    for t in event_types(events) {
        match t {
            EventType::TimerStarted => {
                pending += 1;
                most = most.max(pending);
            }
            EventType::TimerCanceled => {
                pending -= 1;
                cancelled += 1;
            }
            EventType::TimerFired => {
                pending -= 1;
                fired += 1;
            }
            _ => {}
        }
    }
    (most, cancelled, fired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_postpones_the_reminder() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    let remind = Duration::from_secs(3);

    carts
        .add(&id, add(0, 1), input(remind, LONG))
        .await
        .unwrap();
    let email = email("ann@example.com");
    carts.set_email(&id, email).await.unwrap();
    // Keep changing the cart for longer than the reminder delay.
    let started = std::time::Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(5) {
        carts
            .add(&id, add(1, 1), input(remind, LONG))
            .await
            .unwrap();
        carts.remove(&id, remove(1, None)).await.unwrap();
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        reminders(h.data()).is_empty(),
        "no reminder while the cart keeps changing"
    );
    let files = eventually(Duration::from_secs(20), "the reminder", || async {
        Some(reminders(h.data())).filter(|f| !f.is_empty())
    })
    .await;
    assert_eq!(files.len(), 1);

    let (most, cancelled, fired) = timer_stats(&history(&h.env, &id).await);
    assert_eq!(most, 1, "never more than one idle timer pending");
    // The e-mail and each change of the loop cancel the timer the change before armed; how
    // many rounds fit in the five seconds depends on how busy the machine is.
    assert!(
        cancelled > 2 * rounds,
        "each change cancels the timer: {cancelled} cancelled in {rounds} rounds"
    );
    assert_eq!(fired, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_cancels_the_reminder() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());

    // The order's window is short, so the run completes soon after the checkout.
    let start = input_with_window(Duration::from_secs(600), LONG, Duration::from_secs(2));
    carts.add(&id, add(0, 1), start).await.unwrap();
    let request = checkout(Some("ann@example.com"), None);
    carts.checkout(&id, request).await.unwrap();
    eventually(Duration::from_secs(20), "completion", || async {
        let events = event_types(&history(&h.env, &id).await);
        (events.last() == Some(&EventType::WorkflowExecutionCompleted)).then_some(())
    })
    .await;
    let (most, cancelled, fired) = timer_stats(&history(&h.env, &id).await);
    assert_eq!(most, 1);
    assert_eq!(fired, 1, "only the timer of the order's window fired");
    assert!(cancelled >= 1, "the pending reminder timer was cancelled");
    assert!(reminders(h.data()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_cart_expires_and_completes() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());

    carts
        .add(&id, add(0, 1), input(LONG, Duration::from_secs(2)))
        .await
        .unwrap();
    let result = h.result(&id).await;
    assert_eq!(result.status, Status::Expired);
    assert_eq!(result.items.len(), 1);
    let err = carts
        .add(&id, add(0, 1), input(LONG, LONG))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), format!("cart {id} has expired"));
}

/// `--reminders-per-day` travels with the cart: with a cap of one, a customer who comes back
/// and leaves again the same day gets no second reminder, while a cart capped at two does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_is_reminded_at_most_as_often_a_day_as_it_was_created_with() {
    let h = Harness::start().await;
    let (once, twice) = (unique("CART-once"), unique("CART-twice"));
    let of = |id: &str| {
        reminders(h.data())
            .iter()
            .filter(|f| f.display().to_string().contains(&format!("{id}-")))
            .count()
    };
    for (id, cap) in [(&once, "1"), (&twice, "2")] {
        let add = ["add", id, "--product", "2", "--remind-after", "1s"];
        h.ok(&[&add[..], &["--reminders-per-day", cap]].concat());
        h.ok(&["email", id, "ann@example.com"]);
    }
    eventually(Duration::from_secs(20), "the first reminders", || async {
        (of(&once) == 1 && of(&twice) == 1).then_some(())
    })
    .await;

    // Both customers come back and leave again at once.
    for id in [&once, &twice] {
        h.ok(&["add", id, "--product", "3"]);
    }
    eventually(Duration::from_secs(20), "the second reminder", || async {
        (of(&twice) == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        of(&once),
        1,
        "the cap of one holds the second reminder back"
    );
    let cart = h.ok_json(&["show", &once]);
    assert_eq!(cart["reminder_sent"], false, "{cart}");
}
