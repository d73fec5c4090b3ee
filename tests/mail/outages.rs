//! Reminders through providers that fail the way real ones do: an SMTP server that is down while
//! a reminder falls due, down across two idle periods, down while the customer checks out or
//! until the cart expires, one
//! that refuses for a while (a 451, as greylisting does; Mailgun's 429), Mailgun failing with
//! 503s, and an SMTP server that answers late while the cart changes. Each test runs the real
//! `cart worker` and `cart` against a real dev server and ends with exactly the e-mails the
//! customer should get, read back by a MIME parser and compared in full.

use super::{Delivered, SmtpServer, mailgun_worker, smtp_worker};
use crate::support::*;
use cart::activities::{ConfirmationRequest, ReminderRequest, confirmation_message};
use cart::domain::{Cart, CartId, Catalog, Email};
use std::time::Duration;
use temporalio_common::protos::temporal::api::enums::v1::EventType;

const CUSTOMER: &str = "ann@example.com";
const IPHONE_12_PRO: i64 = 0;
const IPHONE_11: i64 = 3;
const IPHONE_SE: i64 = 2;

/// A cart of `items` (product, quantity) from the built-in catalog, as the worker prices it.
fn cart_of(id: &str, items: &[(i64, i64)]) -> Cart {
    let mut cart = Cart::new(CartId::parse(id).unwrap());
    for &(product, quantity) in items {
        cart.add(&Catalog::builtin(), product, quantity).unwrap();
    }
    cart
}

/// The reminder of a cart holding `items`, as the customer should read it.
fn reminder(id: &str, items: &[(i64, i64)]) -> Delivered {
    let cart = cart_of(id, items);
    let message = cart::activities::reminder_message(&ReminderRequest {
        cart_id: cart.id().clone(),
        message_key: String::new(),
        email: Email::parse(CUSTOMER).unwrap(),
        items: cart.items().to_vec(),
        total: cart.total().unwrap(),
    });
    Delivered::new(CUSTOMER, &message.subject, &message.text)
}

/// The order confirmation of a cart holding `items`, paid by `charge_id`.
fn confirmation(id: &str, items: &[(i64, i64)], charge_id: &str) -> Delivered {
    let cart = cart_of(id, items);
    let message = confirmation_message(&ConfirmationRequest {
        cart_id: cart.id().clone(),
        message_key: String::new(),
        email: Email::parse(CUSTOMER).unwrap(),
        items: cart.items().to_vec(),
        total: cart.total().unwrap(),
        charge_id: charge_id.to_owned(),
    });
    Delivered::new(CUSTOMER, &message.subject, &message.text)
}

/// A reminder send the cart is still trying, as the server describes it.
#[derive(Debug)]
struct Pending {
    activity_id: String,
    attempt: u64,
    last_failure: String,
}

/// The cart's pending reminder send, if any.
async fn pending_reminder(s: &Setup, id: &str) -> Option<Pending> {
    let described = describe(&s.env, &CartId::parse(id).unwrap()).await?;
    described
        .pending_activities
        .into_iter()
        .find(|a| {
            a.activity_type.as_ref().map(|t| t.name.as_str())
                == Some("CartActivities::send_reminder")
        })
        .map(|a| Pending {
            activity_id: a.activity_id,
            attempt: u64::try_from(a.attempt).unwrap_or(0),
            last_failure: a.last_failure.map(|f| f.message).unwrap_or_default(),
        })
}

/// Waits until a reminder send (other than `not`) has failed at least twice, and returns it.
async fn failing_reminder(s: &Setup, id: &str, not: Option<&str>) -> Pending {
    eventually(
        Duration::from_secs(60),
        "a reminder send failing",
        || async {
            pending_reminder(s, id)
                .await
                .filter(|p| p.attempt >= 3 && Some(p.activity_id.as_str()) != not)
        },
    )
    .await
}

/// Waits until the cart has sent (or given up on) its reminder and has none pending.
async fn reminder_settled(s: &Setup, id: &str) {
    eventually(
        Duration::from_secs(60),
        "the reminder to go out",
        || async {
            let cart = s.ok_json(&["show", id]);
            (cart["reminder_sent"] == true && pending_reminder(s, id).await.is_none()).then_some(())
        },
    )
    .await;
}

/// A cart with `items` and the customer's address, reminded after 2 s idle.
fn idle_cart(s: &Setup, prefix: &str, items: &[(i64, i64)]) -> String {
    let id = unique(prefix);
    for &(product, qty) in items {
        let (product, qty) = (product.to_string(), qty.to_string());
        s.ok(&[
            "add",
            &id,
            "--product",
            &product,
            "--qty",
            &qty,
            "--remind-after",
            "2s",
        ]);
    }
    s.ok(&["email", &id, CUSTOMER]);
    id
}

/// The worker that was trying is killed during the outage, and another takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_while_the_reminder_falls_due_then_up_sends_it_once() {
    let mut smtp = SmtpServer::down();
    let s = Setup::new().await;
    let worker = smtp_worker(&s, &smtp).await;
    let id = idle_cart(&s, "CART-down", &[(IPHONE_SE, 1)]);
    let failing = failing_reminder(&s, &id, None).await;
    assert!(
        failing.last_failure.contains("Connection refused"),
        "{failing:?}"
    );
    worker.kill();
    let _worker = smtp_worker(&s, &smtp).await;

    smtp.up();
    reminder_settled(&s, &id).await;
    assert_eq!(smtp.delivered(), vec![reminder(&id, &[(IPHONE_SE, 1)])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_across_two_idle_periods_then_up_sends_only_the_current_one() {
    let mut smtp = SmtpServer::down();
    let s = Setup::new().await;
    let _worker = smtp_worker(&s, &smtp).await;
    let id = idle_cart(&s, "CART-twice", &[(IPHONE_SE, 1)]);
    let first = failing_reminder(&s, &id, None).await;

    // The customer comes back: that idle period's reminder is cancelled, a new one falls due.
    s.ok(&["add", &id, "--product", &IPHONE_11.to_string()]);
    failing_reminder(&s, &id, Some(&first.activity_id)).await;
    let events = event_types(&history(&s.env, &CartId::parse(&id).unwrap()).await);
    assert!(
        events.contains(&EventType::ActivityTaskCancelRequested)
            && events.contains(&EventType::ActivityTaskCanceled),
        "the first reminder's send was cancelled: {events:?}"
    );

    smtp.up();
    reminder_settled(&s, &id).await;
    assert_eq!(
        smtp.delivered(),
        vec![reminder(&id, &[(IPHONE_SE, 1), (IPHONE_11, 1)])],
        "one reminder, showing the cart as it is now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_then_checked_out_then_up_sends_only_the_confirmation() {
    let mut smtp = SmtpServer::down();
    let s = Setup::new().await;
    let _worker = smtp_worker(&s, &smtp).await;
    let items = [(IPHONE_12_PRO, 2)];
    let id = idle_cart(&s, "CART-paid", &items);
    failing_reminder(&s, &id, None).await;

    s.ok(&["checkout", &id]);
    smtp.up();
    let paid = s.ok_json(&["show", &id]);
    let charge_id = paid["receipt"]["charge_id"].as_str().expect("a receipt");
    let expected = vec![confirmation(&id, &items, charge_id)];
    eventually(Duration::from_secs(30), "the confirmation", || async {
        Some(()).filter(|()| smtp.delivered() == expected)
    })
    .await;
    // A moment more: nothing else follows.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        smtp.delivered(),
        expected,
        "no reminder after the checkout, and the confirmation once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_until_the_cart_expires_sends_nothing_after() {
    let mut smtp = SmtpServer::down();
    let s = Setup::new().await;
    let _worker = smtp_worker(&s, &smtp).await;
    let id = unique("CART-expiry");
    s.ok(&[
        "add",
        &id,
        "--product",
        "2",
        "--remind-after",
        "1s",
        "--expire-after",
        "12s",
    ]);
    s.ok(&["email", &id, CUSTOMER]);
    failing_reminder(&s, &id, None).await;

    let result = s.result(&CartId::parse(&id).unwrap()).await;
    assert_eq!(result.status, cart::domain::Status::Expired);
    smtp.up();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        smtp.delivered(),
        vec![],
        "the expiry ended the reminder's tries"
    );
    assert!(smtp.log().is_empty(), "nobody even tried: {:?}", smtp.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_451_that_clears_ends_in_one_reminder() {
    let smtp = SmtpServer::start();
    smtp.answer("451");
    let s = Setup::new().await;
    let _worker = smtp_worker(&s, &smtp).await;
    let id = idle_cart(&s, "CART-grey", &[(IPHONE_SE, 2)]);
    let failing = failing_reminder(&s, &id, None).await;
    assert!(failing.last_failure.contains("451"), "{failing:?}");

    smtp.normal();
    reminder_settled(&s, &id).await;
    assert_eq!(smtp.delivered(), vec![reminder(&id, &[(IPHONE_SE, 2)])]);
    assert!(smtp.log().iter().filter(|l| *l == "451").count() >= 2);
}

/// A send under way when the cart changes is cancelled, not finished late: the server holds
/// MAIL FROM for 15 s (less than the client's 20 s timeout, so only a cancel stops it), the
/// customer comes back meanwhile, and that connection never gets to send its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_under_way_when_the_cart_changes_is_cancelled() {
    let smtp = SmtpServer::start();
    smtp.answer("slow 15");
    let s = Setup::new().await;
    let _worker = smtp_worker(&s, &smtp).await;
    let id = idle_cart(&s, "CART-slow", &[(IPHONE_SE, 1)]);
    eventually(Duration::from_secs(30), "a send under way", || async {
        smtp.log().contains(&"slow".to_owned()).then_some(())
    })
    .await;

    smtp.normal();
    s.ok(&["add", &id, "--product", &IPHONE_11.to_string()]);
    reminder_settled(&s, &id).await;
    // Past the moment the held connection would have sent its stale message.
    eventually(
        Duration::from_secs(30),
        "the held MAIL FROM to end",
        || async { smtp.log().contains(&"slow done".to_owned()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        smtp.delivered(),
        vec![reminder(&id, &[(IPHONE_SE, 1), (IPHONE_11, 1)])]
    );
}

/// The messages a Mailgun API accepted (answered 200), as their reader sees them.
async fn accepted(mailgun: &wiremock::MockServer, refused_until: usize) -> Vec<Delivered> {
    let requests = mailgun.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .skip(refused_until)
        .map(|r| {
            let form: std::collections::HashMap<String, String> =
                form_urlencoded::parse(&r.body).into_owned().collect();
            Delivered::new(&form["to"], &form["subject"], &form["text"])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailgun_429s_that_clear_end_in_one_reminder() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let mailgun = MockServer::start().await;
    let refusals = 3;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_string(r#"{"message":"Too many"}"#))
        .up_to_n_times(refusals as u64)
        .with_priority(1)
        .mount(&mailgun)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"message":"Queued"}"#))
        .mount(&mailgun)
        .await;
    let s = Setup::new().await;
    let _worker = mailgun_worker(&s, &mailgun.uri()).await;
    let id = idle_cart(&s, "CART-429", &[(IPHONE_SE, 1), (IPHONE_11, 1)]);

    reminder_settled(&s, &id).await;
    let all = mailgun.received_requests().await.unwrap();
    assert_eq!(all.len(), refusals + 1, "three refused, then one accepted");
    assert_eq!(
        accepted(&mailgun, refusals).await,
        vec![reminder(&id, &[(IPHONE_SE, 1), (IPHONE_11, 1)])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailgun_failing_across_two_idle_periods_then_up_sends_only_the_current_one() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let mailgun = MockServer::start().await;
    let outage = Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"));
    outage.mount(&mailgun).await;
    let s = Setup::new().await;
    let _worker = mailgun_worker(&s, &mailgun.uri()).await;
    let id = idle_cart(&s, "CART-mg503", &[(IPHONE_SE, 1)]);
    let first = failing_reminder(&s, &id, None).await;
    assert!(first.last_failure.contains("503"), "{first:?}");
    s.ok(&["add", &id, "--product", &IPHONE_12_PRO.to_string()]);
    failing_reminder(&s, &id, Some(&first.activity_id)).await;

    mailgun.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"message":"Queued"}"#))
        .mount(&mailgun)
        .await;
    reminder_settled(&s, &id).await;
    assert_eq!(
        accepted(&mailgun, 0).await,
        vec![reminder(&id, &[(IPHONE_SE, 1), (IPHONE_12_PRO, 1)])]
    );
}
