//! A whole shopping session through the binary, as a person sees it.

use super::{Setup, stderr, stdout};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopping_session() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let id = unique("CART-e2e");
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC").unwrap();
    let redact = |text: String| {
        let text = text.replace(&id, "CART-ID");
        time.replace_all(&text, "TIME").into_owned()
    };

    let out = s.cart().arg("products").output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("products", stdout(&out));

    let out = s
        .cart()
        .args(["new", "--id", &id, "--remind-after", "1h"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{id}\n"), "new prints the id");

    s.ok(&["add", &id, "--product", "0", "--qty", "2"]);
    s.ok(&["add", &id, "--product", "2"]);
    s.ok(&["remove", &id, "--product", "0", "--qty", "1"]);
    let out = s
        .cart()
        .args(["email", &id, "Ann@Example.COM"])
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("after_email", redact(stdout(&out)));

    let out = s
        .cart()
        .args(["checkout", &id, "--payment", "tok_chargeDeclined"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        format!(
            "error: card declined: your card was declined\nhint: nothing was charged; `cart show {id}` shows the cart\n"
        )
    );
    assert!(stdout(&out).is_empty());

    let out = s.cart().args(["show", &id]).output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("after_decline", redact(stdout(&out)));

    let out = s.cart().args(["checkout", &id]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ledger = ledger(s.data());
    assert_eq!(ledger.len(), 1);
    insta::assert_snapshot!(
        "after_checkout",
        redact(stdout(&out)).replace(&ledger[0].charge_id, "CHARGE-ID")
    );

    // The JSON form is a stable contract for scripts: this snapshot changes only on purpose.
    let shown = s.ok(&["show", &id, "--output", "json"]);
    let mut cart: serde_json::Value = serde_json::from_str(&shown).unwrap();
    for (path, placeholder) in [
        ("/created_at", "TIME"),
        ("/updated_at", "TIME"),
        ("/receipt/charged_at", "TIME"),
        ("/receipt/charge_id", "CHARGE-ID"),
        ("/order/refundable_until", "TIME"),
        ("/id", "CART-ID"),
    ] {
        *cart.pointer_mut(path).expect(path) = placeholder.into();
    }
    insta::assert_snapshot!("cart_json", serde_json::to_string_pretty(&cart).unwrap());
    let shown = s.ok(&["show", &id, "--ui-url", "http://ui.example:8080"]);
    assert!(
        shown.ends_with(&format!(
            "\nWeb UI: http://ui.example:8080/namespaces/default/workflows/{id}\n"
        )),
        "{shown}"
    );

    let out = s
        .cart()
        .args(["add", &id, "--product", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with(&format!("error: cart {id} is already checked out\nhint: ")),
        "{}",
        stderr(&out)
    );
    assert_eq!(ledger.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_for_scripts() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let id = unique("CART-json");

    // `cart add` on a new id creates the cart.
    let out = s.ok(&[
        "add",
        &id,
        "--product",
        "1",
        "--qty",
        "3",
        "--output",
        "json",
    ]);
    let cart: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cart["id"], id.as_str());
    assert_eq!(cart["status"], "open");
    assert_eq!(cart["email"], serde_json::Value::Null);
    assert_eq!(cart["total"], 3 * 69_900);
    assert_eq!(cart["currency"], "USD");
    let item = &cart["items"][0];
    assert_eq!(item["product_id"], 1);
    assert_eq!(item["name"], "iPhone 12");
    assert_eq!(item["quantity"], 3);
    assert_eq!(item["unit_price"], 69_900);
    assert_eq!(item["line_total"], 3 * 69_900);

    let out = s.cart().args(["new", "--output", "json"]).output().unwrap();
    assert!(out.status.success());
    let fresh: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fresh_id = fresh["id"].as_str().unwrap().to_owned();
    assert!(
        fresh_id.starts_with("CART-") && fresh_id.len() == 17,
        "{fresh_id}"
    );

    let out = s
        .cart()
        .args(["list", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![fresh_id, id], "newest first");

    let out = s
        .cart()
        .args(["products", "--output", "json"])
        .output()
        .unwrap();
    let products: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        products[0],
        serde_json::json!({"id": 0, "name": "iPhone 12 Pro", "price": 99900, "currency": "USD"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_s_catalog_sets_the_prices_and_a_line_keeps_its_price() {
    let s = Setup::new().await;
    let catalog = s.data().join("catalog.toml");
    let write = |price: &str| {
        std::fs::write(
            &catalog,
            format!(
                "currency = \"EUR\"\n\n[[products]]\nid = 7\nname = \"Pixel 9\"\nprice = \"{price}\"\n\n[[products]]\nid = 8\nname = \"Pixel 9a\"\nprice = \"{price}\"\n"
            ),
        )
        .unwrap()
    };
    write("799.00");
    let catalog_var = catalog.display().to_string();
    let worker = s.spawn_worker_with(&[("CART_CATALOG", &catalog_var)]).await;

    // What `cart products` shows is what the worker charges.
    let products: serde_json::Value = s.ok_json(&["products"]);
    assert_eq!(
        products,
        serde_json::json!([
            {"id": 7, "name": "Pixel 9", "price": 79900, "currency": "EUR"},
            {"id": 8, "name": "Pixel 9a", "price": 79900, "currency": "EUR"}
        ])
    );
    let id = unique("CART-eur");
    let cart = s.ok_json(&["add", &id, "--product", "7"]);
    assert_eq!(cart["currency"], "EUR");
    assert_eq!(cart["total"], 79_900);

    // A client cannot bring prices of its own.
    let out = s
        .cart()
        .args(["--catalog", "cheap.toml", "add", &id, "--product", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = s
        .cart()
        .args(["add", &id, "--product", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).starts_with(
            "error: product 0 is not in the catalog; valid product ids are 7, 8\nhint: "
        ),
        "{}",
        stderr(&out)
    );

    // The shop raises its prices: the line in the cart keeps the price it was added at, a
    // product added now takes the new one.
    let (status, log) = worker.terminate();
    assert!(status.success());
    assert!(log.contains("catalog: 2 products in EUR ("), "{log}");
    write("899.00");
    let _worker = s.spawn_worker_with(&[("CART_CATALOG", &catalog_var)]).await;
    s.ok(&["add", &id, "--product", "7"]);
    let cart = s.ok_json(&["add", &id, "--product", "8"]);
    let prices: Vec<_> = cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product_id"].clone(),
                l["quantity"].clone(),
                l["unit_price"].clone(),
            )
        })
        .collect();
    assert_eq!(
        prices,
        vec![
            (7.into(), 2.into(), 79_900.into()),
            (8.into(), 1.into(), 89_900.into())
        ]
    );
    assert_eq!(cart["total"], 2 * 79_900 + 89_900);
}
