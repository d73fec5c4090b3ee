//! Continue-as-new: with the server told to suggest it early, a cart driven past it keeps
//! everything.

use crate::support::*;
use cart::domain::Status;
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
    let (carts, id) = (&h.carts, unique("CART"));

    let first = carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    let handle = h.env.client().get_workflow_handle::<CartWorkflow>(&id);
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
