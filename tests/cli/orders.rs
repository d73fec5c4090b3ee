//! Orders through the binary: refunds, cancellations and shipping of a paid cart, with the
//! local ledger and the outbox of a real `cart worker`.

use super::{Setup, stderr};
use crate::support::*;
use std::time::Duration;

/// A paid cart of one iPhone 12 Pro (999.00 USD) with Ann's address, and `cart new`'s extra
/// arguments.
fn paid(s: &Setup, prefix: &str, new: &[&str]) -> String {
    let id = unique(prefix);
    s.ok(&[&["new", "--id", &id, "--email", "ann@example.com"], new].concat());
    s.ok(&["add", &id, "--product", "0"]);
    s.ok(&["checkout", &id]);
    id
}

/// The order of `cart show ID --output json`.
fn order(s: &Setup, id: &str) -> serde_json::Value {
    s.ok_json(&["show", id])["order"].clone()
}

/// Runs `cart ARGS`, which must fail with `code`; its stderr.
fn fails(s: &Setup, args: &[&str], code: i32) -> String {
    let out = s.cart().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "cart {args:?}: {}",
        stderr(&out)
    );
    stderr(&out)
}

fn outbox_with(s: &Setup, kind: &str) -> Vec<String> {
    let dir = s.data().join("outbox");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().contains(kind))
                .map(|p| read_eml(&p))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partial_refunds_reach_the_amount_paid_and_a_third_is_refused() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let id = paid(&s, "CART-refunds", &[]);
    assert_eq!(order(&s, &id)["status"], "checked_out");

    let first = s.ok_json(&[
        "refund",
        &id,
        "--amount",
        "400.00",
        "--reason",
        "one returned",
        "--id",
        "r1",
    ]);
    assert_eq!(first["order"]["status"], "partially_refunded");
    assert_eq!(first["order"]["refunded"], 40_000);
    assert_eq!(first["order"]["refundable"], 59_900);
    // The same id again is the same refund, whatever it says now.
    let again = s.ok_json(&["refund", &id, "--amount", "10.00", "--id", "r1"]);
    assert_eq!(again["order"]["refunds"].as_array().unwrap().len(), 1);
    let rest = s.ok_json(&["refund", &id, "--id", "r2"]);
    assert_eq!(rest["order"]["status"], "refunded");
    assert_eq!(rest["order"]["refundable"], 0);
    let refund = &rest["order"]["refunds"][1];
    assert_eq!(refund["amount"], 59_900);
    assert_eq!(refund["status"], "refunded");
    assert!(
        refund["provider_id"]
            .as_str()
            .unwrap()
            .starts_with("re_local_")
    );

    let third = fails(&s, &["refund", &id, "--amount", "1.00"], 3);
    assert!(
        third.starts_with("error: nothing is left to refund: all of 999.00 USD is refunded"),
        "{third}"
    );
    // The ledger holds the charge and the two refunds, each once.
    let ledger = ledger(s.data());
    let refunds: Vec<_> = ledger
        .iter()
        .filter_map(|e| e.refund_of.as_ref().map(|_| e.amount))
        .collect();
    assert_eq!(refunds, [40_000, 59_900]);
    assert_eq!(ledger.len(), 3);
    // Nothing is left to ship.
    let ship = fails(&s, &["ship", &id], 3);
    assert!(ship.contains("nothing is left to ship"), "{ship}");

    // One e-mail per refund made, at least once and under one Message-ID each.
    let mails = eventually(Duration::from_secs(20), "two refund mails", || async {
        Some(outbox_with(&s, "-refund-")).filter(|m| m.len() == 2)
    })
    .await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("we refunded 400.00 USD of your order (one returned)")),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("In all, 999.00 USD of the 999.00 USD you paid")),
        "{mails:?}"
    );
    let shown = s.ok(&["show", &id]);
    assert!(
        shown.contains("Order: refunded  refunded: $999.00  refundable: $0.00"),
        "{shown}"
    );
    assert!(shown.contains("one returned"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_cancelled_before_it_ships_is_refunded_and_one_that_shipped_refuses() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;

    let id = paid(&s, "CART-cancel", &[]);
    let cancelled = s.ok_json(&["cancel", &id, "--reason", "changed my mind"]);
    assert_eq!(cancelled["order"]["status"], "cancelled");
    assert_eq!(cancelled["order"]["refunded"], 99_900);
    assert_eq!(cancelled["order"]["cancel_reason"], "changed my mind");
    // Cancelling again, under a new id, is the same cancellation: it answers its refund.
    let again = s.ok_json(&["cancel", &id]);
    assert_eq!(
        again["order"]["cancel_refund"],
        cancelled["order"]["cancel_refund"]
    );
    assert_eq!(again["order"]["refunds"].as_array().unwrap().len(), 1);
    let ship = fails(&s, &["ship", &id], 3);
    assert!(ship.starts_with("error: the order is cancelled"), "{ship}");
    let mail = eventually(Duration::from_secs(20), "the cancellation mail", || async {
        outbox_with(&s, "-refund-").into_iter().next()
    })
    .await;
    assert!(
        mail.contains(&format!("Subject: Your order {id} is cancelled")),
        "{mail}"
    );
    assert!(mail.contains("999.00 USD has gone back"), "{mail}");

    let shipped = paid(&s, "CART-sent", &[]);
    let out = s.ok_json(&[
        "ship",
        &shipped,
        "--tracking",
        "1Z999AA1",
        "--carrier",
        "UPS",
    ]);
    assert_eq!(out["order"]["status"], "shipped");
    assert_eq!(out["order"]["tracking"], "1Z999AA1");
    let refused = fails(&s, &["cancel", &shipped], 3);
    assert!(
        refused.starts_with("error: the order has shipped; refund an amount instead"),
        "{refused}"
    );
    let part = s.ok_json(&["refund", &shipped, "--amount", "99.90"]);
    assert_eq!(part["order"]["status"], "partially_refunded");
    assert_eq!(part["order"]["shipped"], true);
    let mail = eventually(Duration::from_secs(20), "the shipping mail", || async {
        outbox_with(&s, "-shipped").into_iter().next()
    })
    .await;
    assert!(
        mail.contains("your order is on its way with UPS. Its tracking number is 1Z999AA1."),
        "{mail}"
    );
    // Shipping again keeps the first shipment and sends nothing more.
    let again = s.ok_json(&["ship", &shipped, "--tracking", "other"]);
    assert_eq!(again["order"]["tracking"], "1Z999AA1");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(outbox_with(&s, "-shipped").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_amounts_and_carts_that_are_not_orders_are_refused_and_change_nothing() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let id = paid(&s, "CART-amounts", &[]);
    for bad in ["0", "0.00", "-5", "12.", "abc", ".5"] {
        let err = fails(&s, &["refund", &id, &format!("--amount={bad}")], 2);
        assert!(err.contains("--amount"), "{bad}: {err}");
    }
    let err = fails(&s, &["refund", &id, "--amount", "1.234"], 3);
    assert!(
        err.starts_with("error: the amount: \"1.234\" is not a price in USD"),
        "{err}"
    );
    let err = fails(&s, &["refund", &id, "--amount", "1000.00"], 3);
    assert!(
        err.starts_with(
            "error: 1,000.00 USD is more than can be refunded: 999.00 USD of 999.00 USD is left"
        ),
        "{err}"
    );
    let err = fails(&s, &["refund", &id, "--id", "no spaces"], 2);
    assert!(err.contains("is not a refund id"), "{err}");
    assert_eq!(order(&s, &id)["refunds"], serde_json::json!([]));

    let open = unique("CART-open");
    s.ok(&["add", &open, "--product", "1"]);
    let err = fails(&s, &["refund", &open], 3);
    assert!(
        err.starts_with(&format!("error: cart {open} is not a paid order")),
        "{err}"
    );
    let err = fails(&s, &["ship", &open], 3);
    assert!(err.contains("is not a paid order"), "{err}");
    assert_eq!(s.ok_json(&["show", &open])["status"], "open");
    assert_eq!(ledger(s.data()).len(), 1, "one charge, no refund");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_completes_after_its_refund_window_and_then_refuses_refunds() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let id = paid(&s, "CART-window", &["--refund-window", "3s"]);
    let until = order(&s, &id)["refundable_until"].clone();
    assert!(until.is_string(), "{until}");
    let cart = cart::domain::CartId::parse(&id).unwrap();
    let ended = s.result(&cart).await;
    assert_eq!(ended.order.expect("the order").status, "checked_out");
    let err = fails(&s, &["refund", &id], 3);
    assert!(
        err.contains("is closed: its refund window ended at"),
        "{err}"
    );
    assert_eq!(ledger(s.data()).len(), 1, "no refund");
    let err = fails(&s, &["new", "--refund-window", "200d"], 2);
    assert!(err.contains("must be at most"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_refunds_at_once_through_two_workers_never_refund_more_than_was_paid() {
    let s = Setup::new().await;
    let _one = s.spawn_worker().await;
    let _two = s.spawn_worker().await;
    let id = paid(&s, "CART-race", &[]);
    // Two operators, each refunding 600.00 of the 999.00 paid, at the same moment.
    let operators: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|who| {
            let mut cmd = s.cart();
            cmd.args(["refund", &id, "--amount", "600.00", "--id", who]);
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
        })
        .collect();
    let mut codes = Vec::new();
    for operator in operators {
        let out = operator.await.unwrap();
        if out.status.code() == Some(3) {
            let err = stderr(&out);
            assert!(err.starts_with("error: 600.00 USD is more than can be refunded: 399.00 USD of 999.00 USD is left"), "{err}");
        }
        codes.push(out.status.code());
    }
    codes.sort();
    assert_eq!(codes, [Some(0), Some(3)], "one refunded, one refused");
    let refunds: Vec<_> = ledger(s.data())
        .into_iter()
        .filter_map(|e| e.refund_of.map(|_| e.amount))
        .collect();
    assert_eq!(refunds, [60_000], "the ledger holds one refund");
    assert_eq!(order(&s, &id)["refundable"], 39_900);
}
