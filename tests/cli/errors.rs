//! Bad input and broken surroundings: a clear message, the right exit code, no panic.

use super::{Setup, stderr, stdout};
use crate::support::*;

fn assert_clean(err: &str) {
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let s = Setup::new().await;
    let cases: &[(&[&str], &str)] = &[
        (&["add", "cart-1", "--product", "0"], "is not a cart id"),
        (&["add", "CART-1"], "--product"),
        (&["add", "CART-1", "--product", "x"], "invalid value 'x'"),
        (&["new", "--remind-after", "0s"], "must be longer than zero"),
        (&["new", "--remind-after", "soon"], "write it like 10s"),
        (&["new", "--email", "nope"], "not a valid e-mail address"),
        (
            &["new", "--reminders-per-day", "101"],
            "101 is not in 0..=100",
        ),
        (&["new", "--reminders-per-day", "-1"], "invalid value '-1'"),
        (&["frobnicate"], "unrecognized subcommand"),
        (
            &["show", "CART-1", "--output", "xml"],
            "invalid value 'xml'",
        ),
    ];
    for (args, expected) in cases {
        let out = s.cart().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
        assert_clean(&stderr(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_says_where_and_what_to_do() {
    let s = Setup::new().await;
    let port = free_port();
    let out = s
        .cart()
        .args(["show", "CART-1", "--address", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: cannot reach Temporal at 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.contains("hint: start a local server with `scripts/dev-server`"),
        "{err}"
    );
    assert_clean(&err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_worker_and_unknown_carts() {
    let s = Setup::new().await;
    let out = s
        .cart()
        .args(["add", "CART-lonely", "--product", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr(&out),
        format!(
            "error: no worker is serving {}: run `cart worker`\nhint: start one in another terminal: cart worker\n",
            s.queue
        )
    );

    let _worker = s.spawn_worker().await;
    let out = s.cart().args(["show", "CART-nobody"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with("error: there is no cart CART-nobody\nhint: create it with"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_leave_the_cart_as_it_was() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let id = unique("CART-rej");
    let before = s.ok(&[
        "add",
        &id,
        "--product",
        "0",
        "--qty",
        "2",
        "--output",
        "json",
    ]);

    let cases: &[(&[&str], String)] = &[
        (
            &["add", &id, "--product", "7"],
            "product 7 is not in the catalog; valid product ids are 0, 1, 2, 3".into(),
        ),
        (
            &["add", &id, "--product", "0", "--qty", "98"],
            "at most 99 of one product fit in a cart; this would make 100 of product 0".into(),
        ),
        (
            &["remove", &id, "--product", "3"],
            format!("product 3 is not in cart {id}"),
        ),
        (
            &["email", &id, "ann.example.com"],
            "\"ann.example.com\" is not a valid e-mail address: it has no @".into(),
        ),
        (
            &["checkout", &id],
            format!(
                "cart {id} has no e-mail address for the receipt: set one first or give one with checkout"
            ),
        ),
        (
            &["checkout", &id, "--email", "a@example.com", "--payment", "tok_fake"],
            "payment rejected: unknown payment token; the local ledger accepts tok_visa, tok_mastercard, tok_amex and tok_chargeDeclined".into(),
        ),
    ];
    for (args, message) in cases {
        let out = s.cart().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {message}\nhint: ")),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 2, "{err}");
        assert!(stdout(&out).is_empty());
    }
    // Numbers out of range never leave the command line: usage errors.
    for (args, message) in [
        (
            ["add", &id, "--product", "1", "--qty", "0"],
            "0 is not in 1..=99",
        ),
        (
            ["add", &id, "--product", "1", "--qty", "-1"],
            "-1 is not in 1..=99",
        ),
        (
            ["add", &id, "--product", "-1", "--qty", "1"],
            "-1 is not in 0..=4294967295",
        ),
        (
            ["remove", &id, "--product", "0", "--qty", "100"],
            "100 is not in 1..=99",
        ),
    ] {
        let out = s.cart().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    let out = s
        .cart()
        .args(["show", &id, "--output", "json"])
        .output()
        .unwrap();
    let mut now: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut was: serde_json::Value = serde_json::from_str(&before).unwrap();
    // The failed payment is remembered (and the e-mail given with it kept); nothing else moved.
    assert_eq!(
        now["last_error"],
        "payment rejected: unknown payment token; the local ledger accepts tok_visa, tok_mastercard, tok_amex and tok_chargeDeclined"
    );
    for key in ["last_error", "updated_at", "email"] {
        now.as_object_mut().unwrap().remove(key);
        was.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(now, was);
    assert!(ledger(s.data()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_catalog_file_stops_the_worker_with_the_reason() {
    let s = Setup::new().await;
    let file = s.data().join("catalog.toml");
    std::fs::write(&file, "currency = \"USD\"\nproducts = []\n").unwrap();
    let out = s
        .cart()
        .args(["worker", "--catalog"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: the catalog {} is not usable: the catalog has no products\nhint: see docs/operations.md, \"Catalog\", for the file format\n",
            file.display()
        )
    );
    let out = s
        .cart()
        .args(["worker", "--catalog", "/nonexistent/catalog.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .starts_with("error: cannot read the catalog /nonexistent/catalog.toml: No such file")
    );
    // A price Stripe cannot charge exactly is refused before any cart meets it.
    std::fs::write(
        &file,
        "currency = \"KWD\"\n[[products]]\nid = 1\nname = \"Phone\"\nprice = \"10.125\"\n",
    )
    .unwrap();
    let out = s
        .cart()
        .args(["worker", "--catalog"])
        .arg(&file)
        .env("STRIPE_SECRET_KEY", "sk_test_x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "error: cannot start the worker: product 1 (Phone) cannot be sold: payment rejected: Stripe cannot charge 10.125 KWD: Stripe takes KWD only in multiples of 0.010\n"
        ),
        "{}",
        stderr(&out)
    );
}
