//! Every rejection: a clear message, and the cart exactly as it was.

use crate::support::*;
use cart::client::{CartClient, ClientError};
use cart::domain::Status;
use cart::workflow::SetEmail;
use std::time::Duration;
use temporalio_common::protos::temporal::api::enums::v1::EventType;

fn rejected(result: Result<cart::workflow::CartView, ClientError>) -> String {
    match result {
        Err(ClientError::Rejected(message)) => message,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// A refusal because the cart takes no more changes (HTTP 409, not 422).
fn closed(result: Result<cart::workflow::CartView, ClientError>) -> String {
    match result {
        Err(ClientError::Closed(message)) => message,
        other => panic!("expected a closed cart, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_rejected_and_changes_nothing() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    let before = carts.get(&id).await.unwrap();
    let events_before = history(&h.env, &id).await.len();

    let start = || input(LONG, LONG);
    assert_eq!(
        rejected(carts.add(&id, add(9, 1), start()).await),
        "product 9 is not in the catalog; valid product ids are 0, 1, 2, 3"
    );
    assert_eq!(
        rejected(carts.add(&id, add(1, 0), start()).await),
        "quantity must be at least 1, not 0"
    );
    assert_eq!(
        rejected(carts.add(&id, add(1, -2), start()).await),
        "quantity must be at least 1, not -2"
    );
    assert!(
        rejected(carts.add(&id, add(1, 100), start()).await).contains("at most 99 of one product")
    );
    assert_eq!(
        rejected(
            carts
                .set_email(
                    &id,
                    SetEmail {
                        email: "ann@".into()
                    }
                )
                .await
        ),
        "\"ann@\" is not a valid e-mail address: the domain after the @ needs a dot, as in example.com"
    );
    // Validators rejected these before anything entered the history: they are wrong whatever
    // came before them.
    assert_eq!(history(&h.env, &id).await.len(), events_before);

    // These depend on what the cart holds, which the changes before them decide: they are
    // refused when their turn comes, and the history records the refused update.
    assert!(
        rejected(carts.add(&id, add(0, 98), start()).await).contains("this would make 100"),
        "the maximum holds after merging too"
    );
    let absent = remove(3, None);
    assert_eq!(
        rejected(carts.remove(&id, absent).await),
        format!("product 3 is not in cart {id}")
    );
    let too_many = remove(0, Some(5));
    assert!(rejected(carts.remove(&id, too_many).await).contains("holds 2 of product 0"));
    assert!(
        rejected(carts.checkout(&id, checkout(None, None)).await).contains("has no e-mail address")
    );

    assert_eq!(carts.get(&id).await.unwrap(), before);
    assert!(history(&h.env, &id).await.len() > events_before);
    assert!(ledger(h.data()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_cart_cannot_be_checked_out() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.create(&id, input(LONG, LONG)).await.unwrap();
    let request = checkout(Some("ann@example.com"), None);
    assert_eq!(
        rejected(carts.checkout(&id, request).await),
        format!("cart {id} is empty: add an item before checking out")
    );
    let view = carts.get(&id).await.unwrap();
    assert_eq!(view.status, Status::Open);
    assert_eq!(
        view.email, None,
        "a rejected checkout does not keep its e-mail"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_after_checkout_is_rejected_and_a_checkout_answers_the_receipt() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    let paid = carts
        .checkout(&id, checkout(Some("ann@example.com"), None))
        .await
        .unwrap();

    let message = format!("cart {id} is already checked out");
    assert_eq!(
        closed(carts.add(&id, add(1, 1), input(LONG, LONG)).await),
        message
    );
    let remove = remove(0, None);
    assert_eq!(closed(carts.remove(&id, remove).await), message);
    let email = email("bob@example.com");
    assert_eq!(closed(carts.set_email(&id, email).await), message);
    // A checkout of a paid cart is no refusal (that would say nothing was charged): it
    // answers the paid cart, and charges nothing more.
    let again = carts.checkout(&id, checkout(None, None)).await.unwrap();
    assert_eq!(again, paid);
    assert_eq!(carts.get(&id).await.unwrap(), paid);
    assert_eq!(ledger(h.data()).len(), 1);
    let events = event_types(&history(&h.env, &id).await);
    assert!(
        !events.contains(&EventType::WorkflowExecutionCompleted),
        "the order goes on for its refund window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_cart_is_reported_as_such() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    assert!(matches!(carts.get(&id).await, Err(ClientError::NotFound(i)) if i == id));
    let remove = remove(0, None);
    assert!(matches!(
        carts.remove(&id, remove).await,
        Err(ClientError::NotFound(_))
    ));
    carts.create(&id, input(LONG, LONG)).await.unwrap();
    assert!(matches!(
        carts.create(&id, input(LONG, LONG)).await,
        Err(ClientError::AlreadyExists(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_worker_a_change_fails_and_is_never_applied() {
    let (env, _) = start_server(&[]).await;
    let queue = unique("q");
    let carts = client(&env, &queue);
    let no_worker = format!("no worker is serving {queue}: run `cart worker`");
    let status = |id: cart::domain::CartId| {
        let env = &env;
        async move { run_status(env, &id).await.expect("the cart exists") }
    };
    use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus as Run;

    // A change that would create a cart: refused, and the cart it started is ended.
    let fresh = unique_cart();
    let err = carts
        .add(&fresh, add(0, 1), input(LONG, LONG))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), no_worker);
    assert_eq!(status(fresh.clone()).await, Run::Terminated as i32);
    let err = carts
        .create(&unique_cart(), input(LONG, LONG))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), no_worker);

    // A cart that a worker served, and then its worker stopped.
    let dir = tempfile::tempdir().unwrap();
    let worker = start_worker(&env, &queue, cart::worker::local_activities(dir.path()));
    let id = unique_cart();
    let before = carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    worker.stop();
    // The server lists a stopped worker among the task queue's pollers for a while, so the
    // client cannot tell it from a slow one: it waits, and gives up.
    let impatient = CartClient::new(env.client().clone(), &queue, Duration::from_secs(6));
    let err = impatient.remove(&id, remove(0, None)).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    let err = impatient
        .set_email(
            &id,
            SetEmail {
                email: "late@example.com".into(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    // A first change in that time is not answered either; the cart it started is ended, not
    // left for a worker that would find it empty.
    let unserved = unique_cart();
    let err = impatient
        .add(&unserved, add(0, 1), input(LONG, LONG))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), no_worker);
    assert_eq!(status(unserved.clone()).await, Run::Terminated as i32);

    // When a worker comes, the refused changes stay refused: they waited in the server, and
    // the cart turns them away as too late.
    let _worker = start_worker(&env, &queue, cart::worker::local_activities(dir.path()));
    let after = carts.get(&id).await.unwrap();
    assert_eq!(after.items, before.items);
    assert_eq!(after.email, None);
    let accepted = history(&env, &id)
        .await
        .iter()
        .filter(|e| e.event_type == EventType::WorkflowExecutionUpdateAccepted as i32)
        .count();
    assert_eq!(accepted, 1, "only the first add was ever applied");
    // The cart that was ended can be started again under its id.
    let view = carts
        .add(&fresh, add(1, 1), input(LONG, LONG))
        .await
        .unwrap();
    assert_eq!(view.items.len(), 1);
    assert_eq!(status(fresh).await, Run::Running as i32);
}
