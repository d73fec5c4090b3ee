//! One charge, whatever the payment provider does: the real `cart worker` against a real dev
//! server and an HTTP server that plays Stripe and misbehaves as Stripe can. In every case the
//! provider ends with exactly one charge and the cart checked out, or, after a verdict about
//! the payment, with no charge, no payment left open, and the cart open with the reason.

use super::FAST_STRIPE;
use super::fake::{DropProxy, FakeStripe, KEY, Step};
use crate::cli::{WorkerProcess, stderr, stdout};
use crate::support::*;
use std::time::Duration;

/// A worker charging through `base` on [`FAST_STRIPE`]'s clock, with `more` settings.
async fn worker_with(s: &Setup, base: &str, more: &[(&str, &str)]) -> WorkerProcess {
    let mut vars = vec![("STRIPE_SECRET_KEY", KEY), ("STRIPE_API_BASE", base)];
    vars.extend(FAST_STRIPE);
    vars.extend(more);
    s.spawn_worker_with(&vars).await
}

async fn worker(s: &Setup, base: &str) -> WorkerProcess {
    worker_with(s, base, &[]).await
}

/// A cart with an iPhone SE and an address, ready to check out.
fn cart_ready(s: &Setup, prefix: &str) -> String {
    let id = unique(prefix);
    s.ok(&["add", &id, "--product", "2"]);
    s.ok(&["email", &id, "ann@example.com"]);
    id
}

fn show(s: &Setup, id: &str) -> serde_json::Value {
    s.ok_json(&["show", id])
}

/// Waits until the cart is checked out, and returns it.
async fn paid(s: &Setup, id: &str) -> serde_json::Value {
    eventually(Duration::from_secs(90), "the cart to be paid", || async {
        let cart = show(s, id);
        (cart["status"] == "checked_out").then_some(cart)
    })
    .await
}

/// Exactly one charge, of the cart's total, and the receipt names it.
fn one_charge(stripe: &FakeStripe, cart: &serde_json::Value) {
    let charges = stripe.charges();
    assert_eq!(charges.len(), 1, "{charges:?}\n{:#?}", stripe.log());
    assert_eq!(stripe.created(), 1, "{:#?}", stripe.log());
    assert_eq!(charges[0].1, 39_900);
    assert_eq!(cart["receipt"]["charge_id"], charges[0].0.as_str());
    assert_eq!(cart["last_error"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_answer_slower_than_the_activity_timeout() {
    // Stripe charges at once, but its answer takes 31 s, longer than a charge attempt's 30.
    let stripe = FakeStripe::start(vec![Step::Slow {
        done_after: Duration::from_secs(3),
        answer_after: Duration::from_secs(31),
    }])
    .await;
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-slow");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    // Given up on after 2 s, asked again with the same key: 409 while the first still runs,
    // then the first's own answer.
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    assert!(matches!(out.status.code(), Some(0 | 5)), "{}", stderr(&out));
    let log = stripe.log();
    assert!(log.len() >= 2, "the charge was asked again: {log:#?}");
    let key = log[0].rsplit(' ').next().unwrap().to_owned();
    assert!(
        log.iter()
            .all(|l| !l.starts_with("POST") || l.ends_with(&key)),
        "every attempt sends the same key: {log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_idempotency_conflict_is_asked_again_with_the_same_key() {
    let stripe = FakeStripe::start(vec![Step::Conflict, Step::Conflict]).await;
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-409");
    let out = s.ok_json(&["checkout", &id]);
    assert_eq!(out["status"], "checked_out");
    one_charge(&stripe, &out);
    let posts: Vec<_> = stripe
        .log()
        .into_iter()
        .filter(|l| l.starts_with("POST"))
        .collect();
    assert_eq!(posts.len(), 3, "two conflicts, then the charge: {posts:#?}");
    assert!(
        posts.windows(2).all(|w| w[0] == w[1]),
        "one key: {posts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_still_processing_is_followed_until_it_succeeds() {
    let stripe = FakeStripe::start(vec![Step::Processing]).await;
    stripe.then(&["processing", "processing", "succeeded"]);
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-processing");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    // The person is told it is not known yet, and that it settles by itself.
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("status: payment_pending"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).starts_with(
            "error: the payment's outcome is not known yet: the payment provider is still processing the payment\nhint: do not check out again: "
        ),
        "{}",
        stderr(&out)
    );
    // Meanwhile the cart says so; a second checkout begins nothing and says the same.
    let shown = s.cart().args(["show", &id]).output().unwrap();
    let text = stdout(&shown);
    if text.contains("payment_pending") {
        assert!(text.contains("Payment not known yet:"), "{text}");
        let again = s.cart().args(["checkout", &id]).output().unwrap();
        if stdout(&again).contains("payment_pending") {
            assert_eq!(again.status.code(), Some(5), "{}", stderr(&again));
            assert!(
                !stderr(&again).contains("nothing was charged"),
                "{}",
                stderr(&again)
            );
        }
    }
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    let retrieves = stripe.count("GET /v1/payment_intents/pi_");
    assert_eq!(retrieves, 3, "{:#?}", stripe.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_in_front_of_the_api_then_nothing_found_reopens_the_cart() {
    // Every send meets an outage before the API (nothing runs, nothing is kept). The search,
    // once it has caught up, finds no payment: nothing was charged, and the cart opens again.
    let stripe = FakeStripe::start(vec![Step::Outage; 3]).await;
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-500");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stripe answered 500"),
        "{}",
        stderr(&out)
    );
    let cart = eventually(Duration::from_secs(60), "the cart to reopen", || async {
        let cart = show(&s, &id);
        (cart["status"] == "open").then_some(cart)
    })
    .await;
    assert_eq!(
        cart["last_error"],
        "the payment provider has no payment for this checkout: nothing was charged"
    );
    assert_eq!(stripe.created(), 0);
    assert_eq!(stripe.count("POST"), 3, "{:#?}", stripe.log());
    let text = stdout(&s.cart().args(["show", &id]).output().unwrap());
    assert!(
        text.contains("Last checkout refused, nothing was charged:"),
        "{text}"
    );
    // A new checkout, with a key of its own, pays.
    let paid = s.ok_json(&["checkout", &id]);
    assert_eq!(paid["status"], "checked_out");
    one_charge(&stripe, &paid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_the_search_does_not_show_yet_is_not_taken_for_none() {
    // The first two sends meet outages; the third charges and its answer is lost. Stripe's
    // search shows the payment only three seconds later, and the worker is told it may take
    // four: the lookup waits for that, finds it, and the cart is paid. (Told it takes none,
    // the lookup would come after the usual two-second wait, find nothing, and reopen a
    // paid cart.)
    let stripe = FakeStripe::start(vec![Step::Outage, Step::Outage, Step::Lost]).await;
    stripe.search_lags(Duration::from_secs(3));
    let s = Setup::new().await;
    let _worker = worker_with(&s, &stripe.uri(), &[("STRIPE_SEARCH_LAG", "4s")]).await;
    let id = cart_ready(&s, "CART-lag");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    assert_eq!(stripe.count("POST"), 3, "{:#?}", stripe.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_then_a_refused_api_key_stays_pending_until_the_key_works() {
    // The first request charges and its answer is lost; then the API key is rolled, and every
    // request is refused with 401, which says nothing about the payment.
    let stripe = FakeStripe::start(vec![Step::Lost]).await;
    stripe.refuse_key_after(1);
    let s = Setup::new().await;
    let metrics = format!("127.0.0.1:{}", free_port());
    let worker = worker_with(&s, &stripe.uri(), &[("CART_METRICS", &metrics)]).await;
    let id = cart_ready(&s, "CART-401");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Stripe refused the API key (401)"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("nothing was charged"),
        "{}",
        stderr(&out)
    );
    // It stays so while Stripe refuses the key: asked again and again, never reopened.
    let asked = stripe.log().len();
    eventually(Duration::from_secs(30), "more questions", || async {
        (stripe.log().len() >= asked + 2).then_some(())
    })
    .await;
    let cart = show(&s, &id);
    assert_eq!(cart["status"], "payment_pending", "{cart}");
    assert!(
        cart["last_error"].as_str().unwrap().contains("401"),
        "{cart}"
    );
    let text = stdout(&s.cart().args(["show", &id]).output().unwrap());
    assert!(text.contains("Payment not known yet:"), "{text}");
    let scraped = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = scraped
        .lines()
        .find(|l| {
            l.starts_with("cart_payment_unsettled_answers_total{cause=\"not_about_the_payment\"}")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or_default();
    assert!(counted >= 2.0, "{scraped}");
    // The key works again: the payment is found, once.
    stripe.accept_key();
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    let (_, log) = worker.terminate();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("needs an operator") && l.contains("401")),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_other_payment_settings_never_decides_a_payment() {
    // The first request charges through Stripe and its answer is lost; then the only worker
    // left is one started without Stripe's settings (it pays through the local ledger). It
    // must neither send the key anywhere nor refuse the payment: it is not the payment's
    // provider. Once a Stripe worker is back, the payment is found, once.
    let stripe = FakeStripe::start(vec![Step::Lost]).await;
    let s = Setup::new().await;
    let stripe_worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-mixed");
    let checkout = {
        let mut cmd = s.cart();
        cmd.args(["checkout", &id]);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    eventually(Duration::from_secs(30), "the first request", || async {
        (stripe.count("POST") >= 1).then_some(())
    })
    .await;
    stripe_worker.kill();
    let ledger_worker = s.spawn_worker().await;
    let cart = eventually(
        Duration::from_secs(90),
        "the ledger worker turned away",
        || async {
            let cart = show(&s, &id);
            let reason = cart["last_error"].as_str().unwrap_or_default().to_owned();
            (cart["status"] == "payment_pending" && reason.contains("the local ledger"))
                .then_some(cart)
        },
    )
    .await;
    assert!(
        ledger(s.data()).is_empty(),
        "nothing was charged on the ledger"
    );
    let out = checkout.await.unwrap();
    assert!(matches!(out.status.code(), Some(4 | 5)), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("nothing was charged"),
        "{}",
        stderr(&out)
    );
    let (_, log) = ledger_worker.terminate();
    assert!(
        log.contains("ERROR") && log.contains("the same payment settings"),
        "{log}\n{cart}"
    );
    let _stripe_worker = worker(&s, &stripe.uri()).await;
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    assert_eq!(
        stripe.count("POST"),
        1,
        "only Stripe's workers sent the key: {:#?}",
        stripe.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_processing_answer_is_found_and_followed_up_by_its_id() {
    // The first answer (processing) comes after the worker gave up; the next two requests with
    // the key lose their connection. The lookup finds the payment, and from then on it is
    // followed by its id: the key is never sent again.
    let stripe = FakeStripe::start(vec![Step::LateProcessing, Step::Lost, Step::Lost]).await;
    stripe.then(&["processing", "succeeded"]);
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-lateprocessing");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    let log = stripe.log();
    assert_eq!(stripe.count("POST"), 3, "{log:#?}");
    let searched = log
        .iter()
        .position(|l| l.contains("/search"))
        .expect("a lookup");
    let retrieved = log
        .iter()
        .position(|l| l.starts_with("GET /v1/payment_intents/pi_"))
        .expect("a follow-up by id");
    assert!(searched < retrieved, "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_the_bank_must_confirm_is_cancelled_before_the_cart_reopens() {
    let stripe = FakeStripe::start(vec![]).await;
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-3ds");
    let out = s
        .cart()
        .args([
            "checkout",
            &id,
            "--payment",
            "pm_card_authenticationRequired",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("3-D Secure"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("hint: nothing was charged"),
        "{}",
        stderr(&out)
    );
    let payments = stripe.payments();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, "canceled", "{:#?}", stripe.log());
    assert_eq!(show(&s, &id)["status"], "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checking_out_a_cart_paid_or_paying_begins_nothing_and_says_what_is_known() {
    let stripe = FakeStripe::start(vec![Step::Processing]).await;
    stripe.then(&["processing", "processing", "processing", "succeeded"]);
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-again");
    let first = s.cart().args(["checkout", &id]).output().unwrap();
    assert_eq!(first.status.code(), Some(5), "{}", stderr(&first));
    let again = s
        .cart()
        .args(["checkout", &id, "--payment", "pm_card_visa"])
        .output()
        .unwrap();
    let text = stdout(&again);
    if text.contains("payment_pending") {
        assert_eq!(again.status.code(), Some(5), "{}", stderr(&again));
        assert!(
            stderr(&again).contains("do not check out again"),
            "{}",
            stderr(&again)
        );
    } else {
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    }
    assert!(
        !stderr(&again).contains("nothing was charged"),
        "{}",
        stderr(&again)
    );
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    // Paid: checking out again shows the receipt, and charges nothing more.
    let out = s
        .cart()
        .args(["checkout", &id, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["receipt"], cart["receipt"]);
    assert_eq!(stripe.created(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_kept_for_the_key_after_charging_is_settled_by_looking_the_charge_up() {
    // Stripe charged, answered 500 and keeps answering that 500 for the key: asking again
    // cannot tell, the search by the key in the metadata can.
    let stripe = FakeStripe::start(vec![Step::ChargedThen500]).await;
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-kept500");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 5)), "{}", stderr(&out));
    let cart = paid(&s, &id).await;
    one_charge(&stripe, &cart);
    assert!(
        stripe.log().iter().any(|l| l.contains("/search")),
        "{:#?}",
        stripe.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_dropped_after_the_charge_was_made() {
    let stripe = FakeStripe::start(vec![]).await;
    let proxy = DropProxy::start(&stripe.uri()).await;
    let s = Setup::new().await;
    let _worker = worker(&s, &proxy.base).await;
    let id = cart_ready(&s, "CART-dropped");
    let out = s.ok_json(&["checkout", &id]);
    assert_eq!(out["status"], "checked_out");
    one_charge(&stripe, &out);
    let posts = stripe.count("POST");
    assert_eq!(posts, 2, "the first answer was lost: {:#?}", stripe.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definite_decline_reopens_the_cart_with_the_reason_bounded() {
    let long = format!(
        "Your card was declined. {}",
        "Call your bank. ".repeat(5_000)
    );
    let stripe = FakeStripe::start(vec![Step::Decline(long)]).await;
    let s = Setup::new().await;
    let _worker = worker(&s, &stripe.uri()).await;
    let id = cart_ready(&s, "CART-declined");
    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: card declined: Your card was declined. Call your bank."),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint: nothing was charged"));
    let cart = show(&s, &id);
    assert_eq!(cart["status"], "open");
    // The PaymentIntent the decline left waiting for another card was cancelled.
    let payments = stripe.payments();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, "canceled", "{:#?}", stripe.log());
    let reason = cart["last_error"].as_str().unwrap();
    assert!(
        reason.starts_with("card declined: Your card was declined."),
        "{reason}"
    );
    assert!(
        reason.chars().count() <= cart::domain::MAX_REASON_CHARS,
        "{}",
        reason.len()
    );
    assert!(stripe.charges().is_empty());
    // The cart is open again: a second checkout, with its own key, is paid.
    let again = s.ok_json(&["checkout", &id]);
    assert_eq!(again["status"], "checked_out");
    assert_eq!(stripe.charges().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_two_and_three_decimal_currency_from_catalog_to_charge() {
    // ISK has no decimals in ISO 4217 but Stripe takes it in hundredths; KWD has three.
    for (code, price, amount) in [
        ("JPY", "1200", 1_200),
        ("EUR", "12.50", 1_250),
        ("KWD", "10.250", 10_250),
        ("ISK", "500", 50_000),
    ] {
        let stripe = FakeStripe::start(vec![]).await;
        let s = Setup::new().await;
        let catalog = s.data().join("catalog.toml");
        std::fs::write(
            &catalog,
            format!("currency = \"{code}\"\n[[products]]\nid = 1\nname = \"Phone\"\nprice = \"{price}\"\n"),
        )
        .unwrap();
        let catalog = catalog.display().to_string();
        let _worker = worker_with(&s, &stripe.uri(), &[("CART_CATALOG", &catalog)]).await;
        let id = unique("CART-currency");
        s.ok(&["add", &id, "--product", "1"]);
        let cart = s.ok_json(&["checkout", &id, "--email", "ann@example.com"]);
        assert_eq!(cart["status"], "checked_out", "{code}");
        assert_eq!(cart["currency"], code);
        assert_eq!(stripe.charges().len(), 1, "{code}");
        assert_eq!(stripe.charges()[0].1, amount, "{code}: Stripe received");
        assert_eq!(stripe.currencies(), vec![code.to_ascii_lowercase()]);
    }
}
