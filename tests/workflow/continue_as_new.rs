//! Continue-as-new: with the server told to suggest it early, a cart driven past it keeps
//! everything.

use crate::support::*;
use cart::domain::{CartId, Status};
use cart::workflow::CartWorkflow;
use temporalio_common::protos::temporal::api::enums::v1::EventType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_keeps_its_state_across_continue_as_new() {
    // The server suggests continue-as-new once a history passes 40 events.
    let h = Harness::suggesting_continue_as_new_after(40).await;
    let (carts, id) = (&h.carts, unique_cart());

    let first = carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    let handle = h
        .env
        .client()
        .get_workflow_handle::<CartWorkflow>(id.as_str());
    let first_run = h.run_id(&id).await;
    carts
        .set_email(&id, email("ann@example.com"))
        .await
        .unwrap();
    for _ in 0..20 {
        carts.add(&id, add(1, 1), input(LONG, LONG)).await.unwrap();
        let remove = remove(1, Some(1));
        carts.remove(&id, remove).await.unwrap();
    }
    let run = eventually(std::time::Duration::from_secs(10), "a new run", || async {
        let d = handle.describe(Default::default()).await.ok()?;
        (d.run_id() != first_run
            && d.status() == temporalio_client::WorkflowExecutionStatus::Running)
            .then(|| d.run_id().to_owned())
    })
    .await;
    assert_ne!(run, first_run);

    let view = carts.get(&id).await.unwrap();
    assert_eq!(view.items.len(), 1);
    assert_eq!(view.items[0].quantity, 2);
    assert_eq!(view.email.as_deref(), Some("ann@example.com"));
    assert_eq!(view.created_at, first.created_at);
    assert_eq!(view.status, Status::Open);

    // The cart's identity survives too: the charge's key names the first run.
    let paid = carts.checkout(&id, checkout(None, None)).await.unwrap();
    assert_eq!(paid.status, Status::CheckedOut);
    let ledger = ledger(h.data());
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        ledger[0].idempotency_key,
        format!("{id}-{first_run}-checkout-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_state_from_an_outside_start_is_ignored() {
    // Someone starts a cart with a `resume` state of their own making: a cart already paid,
    // with a receipt. Only a cart's own continue-as-new may hand a state on, so this one
    // starts empty and open.
    let h = Harness::start().await;
    let id = CartId::parse(&unique("CART-forged")).unwrap();
    let forged = serde_json::json!({
        "resume": {
            "cart": {"id": id, "items": [{"product_id": 0, "name": "iPhone 12 Pro",
                "unit_price": {"minor": 1, "currency": "USD"}, "quantity": 1}],
                "email": "eve@example.com", "status": "checked_out", "checkout_attempts": 1,
                "last_error": null},
            "settings": {"reminder_delay": 3_600_000, "expire_after": 3_600_000},
            "instance": "forged-run", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "revision": 1, "reminded_revision": null,
            "receipt": {"charge_id": "ch_forged", "amount": 1, "currency": "USD",
                "email": "eve@example.com", "items": [], "charged_at": "2026-01-01T00:00:00Z"}
        }
    });
    let input: cart::workflow::CartInput = serde_json::from_value(forged).unwrap();
    assert!(input.resume.is_some(), "the forged state parses");
    let options =
        temporalio_client::WorkflowStartOptions::new(h.queue.clone(), id.to_string()).build();
    h.env
        .client()
        .start_workflow(CartWorkflow::run, input, options)
        .await
        .unwrap();
    let view = h.carts.get(&id).await.unwrap();
    assert_eq!(view.status, Status::Open);
    assert!(view.items.is_empty(), "{view:?}");
    assert_eq!(view.receipt, None);
    assert_eq!(view.email, None);
    // It is a cart like any other from here: priced by the worker, paid once.
    h.carts.add(&id, add(0, 1), input_of(LONG)).await.unwrap();
    let paid = h
        .carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();
    assert_eq!(paid.total, 99_900);
    assert_eq!(ledger(h.data()).len(), 1);
}

fn input_of(period: std::time::Duration) -> cart::workflow::CartInput {
    input(period, period)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_that_arrives_while_the_cart_hands_over_is_paid() {
    // The server suggests continue-as-new early. The cart's activities are held back (no
    // activity worker), so an add of a new product waits for its price, and every change
    // sent after it waits its turn: the tutorial's signals that take the history past the
    // suggestion, then a checkout. The hand-over waits for the add's answer; once the price
    // comes, the changes apply in order and the checkout begins, which ends the hand-over:
    // the checkout is paid, with the add in it, and nothing waits for anything else.
    let (s, _workflows, activities) = early_hand_over().await;
    let carts = s.client();
    let id = unique_cart();
    carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    carts
        .set_email(&id, email("ann@example.com"))
        .await
        .unwrap();
    activities.stop();

    let waiting_add = {
        let (carts, id) = (carts.clone(), id.clone());
        tokio::spawn(async move { carts.add(&id, add(1, 1), input(LONG, LONG)).await })
    };
    let temporal = Temporal {
        address: s.address.clone(),
    };
    let signal = r#"{"Route":"add_to_cart","Item":{"ProductId":0,"Quantity":1}}"#;
    eventually(
        std::time::Duration::from_secs(60),
        "a long history",
        || async {
            temporal.signal(&id, "ADD_TO_CART_CHANNEL", signal);
            (history(&s.env, &id).await.len() > 40).then_some(())
        },
    )
    .await;
    let signalled = history(&s.env, &id)
        .await
        .iter()
        .filter(|e| e.event_type() == EventType::WorkflowExecutionSignaled)
        .count() as u32;
    let paying = {
        let (carts, id) = (carts.clone(), id.clone());
        tokio::spawn(async move { carts.checkout(&id, checkout(None, None)).await })
    };
    eventually(
        std::time::Duration::from_secs(20),
        "the checkout accepted",
        || async {
            let events = history(&s.env, &id).await;
            let accepted = events
                .iter()
                .filter(|e| e.event_type() == EventType::WorkflowExecutionUpdateAccepted)
                .count();
            (accepted >= 4).then_some(())
        },
    )
    .await;
    let _activities = start_local_activities(&s);
    let added = waiting_add.await.unwrap().expect("the waiting add applies");
    assert!(added.items.iter().any(|l| l.product_id == 1));
    let paid = paying.await.unwrap().expect("the checkout is answered");
    assert_eq!(paid.status, Status::CheckedOut);
    let quantities: Vec<_> = paid
        .items
        .iter()
        .map(|l| (l.product_id, l.quantity))
        .collect();
    assert_eq!(quantities, [(0, 1 + signalled), (1, 1)]);
    assert_eq!(ledger(s.data()).len(), 1);
}
