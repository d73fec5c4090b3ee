//! The tutorial's own workflow tests, as scenarios.

use crate::support::*;
use cart::domain::Status;
use std::time::Duration;
use temporalio_client::WorkflowExecutionStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_item() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());

    // `cart add` on an id with no cart creates it (update-with-start).
    let view = carts.add(&id, add(0, 1), input(LONG, LONG)).await.unwrap();
    assert_eq!(view.id, id);
    assert_eq!(view.items.len(), 1);
    assert_eq!(view.items[0].product_id, 0);
    assert_eq!(view.items[0].name, "iPhone 12 Pro");
    assert_eq!(view.items[0].unit_price, 99_900);
    let view = carts.add(&id, add(0, 2), input(LONG, LONG)).await.unwrap();
    assert_eq!(
        view.items[0].quantity, 3,
        "quantities of one product add up"
    );
    assert_eq!(view.items[0].line_total, 3 * 99_900);
    assert_eq!(view.total, 3 * 99_900);
    assert_eq!(view.currency.as_deref(), Some("USD"));
    assert_eq!(carts.get(&id).await.unwrap(), view);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_item() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());

    carts.create(&id, input(LONG, LONG)).await.unwrap();
    carts.add(&id, add(1, 2), input(LONG, LONG)).await.unwrap();
    let view = carts.remove(&id, remove(1, Some(1))).await.unwrap();
    assert_eq!(view.items[0].quantity, 1, "add 2, remove 1, 1 left");
    let view = carts.remove(&id, remove(1, None)).await.unwrap();
    assert!(view.items.is_empty());
    assert_eq!(view.total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_makes_an_order_that_completes_after_its_refund_window() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());

    let window = Duration::from_secs(4);
    let start = input_with_window(LONG, LONG, window);
    carts.add(&id, add(0, 1), start).await.unwrap();
    carts
        .set_email(&id, email("Ann@Example.com"))
        .await
        .unwrap();
    let view = carts.checkout(&id, checkout(None, None)).await.unwrap();
    assert_eq!(view.status, Status::CheckedOut);
    let receipt = view.receipt.expect("receipt");
    assert_eq!(receipt.amount, 99_900);
    assert_eq!(receipt.currency, "USD");
    assert_eq!(receipt.email, "Ann@example.com");
    assert_eq!(receipt.items.len(), 1);

    let ledger = ledger(h.data());
    assert_eq!(ledger.len(), 1, "one charge in the ledger");
    assert_eq!(ledger[0].charge_id, receipt.charge_id);
    assert_eq!(ledger[0].cart_id, id);
    assert_eq!(ledger[0].amount, 99_900);

    let order = view.order.expect("the paid cart is an order");
    assert_eq!(order.status, "checked_out");
    assert_eq!(
        (order.paid, order.refundable, order.refunded),
        (99_900, 99_900, 0)
    );

    // The order confirmation goes out at once, to the cart's address, naming the charge.
    let sent = eventually(Duration::from_secs(20), "the confirmation", || async {
        Some(confirmations(h.data())).filter(|sent| !sent.is_empty())
    })
    .await;
    assert_eq!(
        run_status(&h.env, &id).await,
        Some(WorkflowExecutionStatus::Running as i32),
        "the order takes refunds for its window"
    );

    // After its window the workflow completed with the order as its result, and can still be
    // queried; a refund is refused, saying why.
    let result = h.result(&id).await;
    assert_eq!(result.status, Status::CheckedOut);
    assert_eq!(result.receipt.unwrap().charge_id, receipt.charge_id);
    assert_eq!(result.order.expect("the order").status, "checked_out");
    assert_eq!(carts.get(&id).await.unwrap().status, Status::CheckedOut);
    let late = carts.refund(&id, refund("r1", None)).await.unwrap_err();
    assert!(
        late.to_string().contains("its refund window ended at"),
        "{late}"
    );
    assert_eq!(confirmations(h.data()).len(), 1, "one confirmation");
    assert_eq!(sent.len(), 1);
    let eml = read_eml(&sent[0]);
    assert!(eml.contains("To: Ann@example.com\r\n"), "{eml}");
    assert!(
        eml.contains(&format!("Subject: Your order {id} is confirmed")),
        "{eml}"
    );
    assert!(eml.contains(&receipt.charge_id), "{eml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_cart_gets_one_reminder() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());
    let remind = Duration::from_secs(1);

    carts
        .add(&id, add(2, 1), input(remind, Duration::from_secs(6)))
        .await
        .unwrap();
    carts
        .set_email(&id, email("bob@example.com"))
        .await
        .unwrap();
    let files = eventually(Duration::from_secs(20), "the reminder", || async {
        Some(reminders(h.data())).filter(|f| !f.is_empty())
    })
    .await;
    assert_eq!(files.len(), 1);
    let text = read_eml(&files[0]);
    assert!(text.contains("\r\nTo: bob@example.com\r\n"), "{text}");
    assert!(text.contains(&format!("Subject: You left items in your cart {id}")));
    assert!(text.contains("1 x iPhone SE at 399.00 USD"), "{text}");

    // The file is written by the activity; the cart records the reminder when the activity's
    // result reaches it, a moment later.
    eventually(
        Duration::from_secs(10),
        "the cart to record the reminder",
        || async { carts.get(&id).await.unwrap().reminder_sent.then_some(()) },
    )
    .await;

    // One reminder per idle period: by the time the cart expires, several reminder delays
    // later, there is still exactly one.
    eventually(Duration::from_secs(30), "expiry", || async {
        (carts.get(&id).await.unwrap().status == Status::Expired).then_some(())
    })
    .await;
    assert_eq!(reminders(h.data()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_cart_without_email_gets_no_reminder() {
    let h = Harness::start().await;
    let (carts, id) = (&h.carts, unique_cart());

    // Reminder after 1s, expiry after 4s: had a reminder been due, it would have gone out
    // long before the cart expired.
    carts
        .add(
            &id,
            add(2, 1),
            input(Duration::from_secs(1), Duration::from_secs(4)),
        )
        .await
        .unwrap();
    eventually(Duration::from_secs(30), "expiry", || async {
        (carts.get(&id).await.unwrap().status == Status::Expired).then_some(())
    })
    .await;
    assert!(
        reminders(h.data()).is_empty(),
        "no reminder without an e-mail"
    );
}
