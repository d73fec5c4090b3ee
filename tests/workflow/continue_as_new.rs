//! Continue-as-new: with the server told to suggest it early, a cart driven past it keeps
//! everything.

use crate::support::*;
use cart::domain::{CartId, Status};
use cart::workflow::CartWorkflow;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_keeps_its_state_across_continue_as_new() {
    // The server suggests continue-as-new once a history passes 40 events.
    let h = Harness::start_with(
        &[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=40",
        ],
        cart::worker::local_activities,
    )
    .await;
    let (carts, id) = (&h.carts, unique_cart());

    let first = carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    let handle = h
        .env
        .client()
        .get_workflow_handle::<CartWorkflow>(id.as_str());
    let first_run = handle
        .describe(Default::default())
        .await
        .unwrap()
        .run_id()
        .to_owned();
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
    // activity worker), so an add of a new product waits for its price: the cart, past the
    // suggestion, waits for that handler to finish before it hands over. A checkout arrives
    // meanwhile; it must be paid, not wait for the hand-over that waits for it.
    let s = Setup::with_server_args(&[
        "--dynamic-config-value",
        "limit.historyCount.suggestContinueAsNew=30",
    ])
    .await;
    let _workflows = start_workflow_worker(&s.env, &s.queue);
    let activities =
        start_activity_worker(&s.env, &s.queue, cart::worker::local_activities(s.data()));
    let carts = s.client();
    wait_for_worker(&carts).await;
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
    // Past the suggestion while the add waits for its price.
    eventually(
        std::time::Duration::from_secs(60),
        "a long history",
        || async {
            carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
            carts.remove(&id, remove(0, Some(1))).await.unwrap();
            (history(&s.env, &id).await.len() > 40).then_some(())
        },
    )
    .await;
    let paying = {
        let (carts, id) = (carts.clone(), id.clone());
        tokio::spawn(async move { carts.checkout(&id, checkout(None, None)).await })
    };
    eventually(
        std::time::Duration::from_secs(20),
        "the checkout accepted",
        || async { (carts.get(&id).await.ok()?.status == Status::CheckingOut).then_some(()) },
    )
    .await;
    let _activities =
        start_activity_worker(&s.env, &s.queue, cart::worker::local_activities(s.data()));
    let paid = paying.await.unwrap().expect("the checkout is answered");
    assert_eq!(paid.status, Status::CheckedOut);
    assert_eq!(ledger(s.data()).len(), 1);
    // The add that was waiting is answered too (refused: the cart was checked out first).
    waiting_add.await.unwrap().unwrap_err();
}
