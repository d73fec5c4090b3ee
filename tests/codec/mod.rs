//! Encrypted payloads, through the real binary, a real dev server and the real `temporal` CLI:
//! what Temporal stores of a customer, what `cart codec-server` shows to whoever may see it,
//! key rotation, and what a wrong or missing key does on a client and on a worker.

use crate::cli::{stderr, stdout};
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A new key file made by `cart codec-key`, or a key added in front of an existing one.
fn key_file(s: &Setup, name: &str, id: &str) -> PathBuf {
    let path = s.data().join(name);
    let out = s
        .cart()
        .args(["codec-key", "--id", id, "--file"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

fn keyed<'a>(s: &'a Setup, keys: &'a Path) -> impl Fn(&[&str]) -> std::process::Output + 'a {
    move |args| {
        s.cart()
            .env("CART_CODEC_KEY_FILE", keys)
            .args(args)
            .output()
            .unwrap()
    }
}

/// A `cart worker` with the keys in `keys`.
async fn keyed_worker(s: &Setup, keys: &Path) -> crate::cli::WorkerProcess {
    s.spawn_worker_with(&[("CART_CODEC_KEY_FILE", &keys.display().to_string())])
        .await
}

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// `temporal workflow show --detailed` of a cart, with extra options.
fn history(s: &Setup, id: &str, extra: &[&str]) -> String {
    let temporal = Temporal {
        address: s.address.clone(),
    };
    let mut args = vec!["workflow", "show", "--workflow-id", id, "--detailed"];
    args.extend_from_slice(extra);
    temporal.run(&args)
}

/// A `cart codec-server` process; killed when dropped.
struct CodecServer {
    child: Child,
    url: String,
}

impl CodecServer {
    async fn start(s: &Setup, keys: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cart"))
            .args(["codec-server", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env_clear()
            .envs(s.vars())
            .env("CART_CODEC_KEY_FILE", keys)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        eventually(Duration::from_secs(20), "the codec server", || async {
            http.post(format!("{url}/decode"))
                .send()
                .await
                .ok()
                .map(drop)
        })
        .await;
        Self { child, url }
    }
}

impl Drop for CodecServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_key_temporal_stores_nothing_of_the_customer_and_the_codec_server_shows_it() {
    let s = Setup::new().await;
    let keys = key_file(&s, "keys", "k1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }
    let worker = keyed_worker(&s, &keys).await;
    let cart = keyed(&s, &keys);
    let id = unique("CART-secret");
    ok(cart(&["add", &id, "--product", "0"]));
    ok(cart(&["email", &id, "ann@example.com"]));
    let paid = ok(cart(&["checkout", &id, "--output", "json"]));
    assert!(paid.contains("ann@example.com") && paid.contains("iPhone 12 Pro"));

    let stored = history(&s, &id, &[]);
    for secret in ["ann@example.com", "iPhone 12 Pro", "tok_visa", "ch_local_"] {
        assert!(!stored.contains(secret), "{secret} is stored in the clear");
    }
    // What is in the clear: the encoding and the key's id, in base64 as the CLI prints them.
    assert!(
        stored.contains("YmluYXJ5L2VuY3J5cHRlZA=="),
        "binary/encrypted"
    );
    assert!(stored.contains("azE="), "key id k1");

    let codec = CodecServer::start(&s, &keys, &[]).await;
    let decoded = history(&s, &id, &["--codec-endpoint", &codec.url]);
    assert!(decoded.contains("ann@example.com"), "{decoded}");
    assert!(decoded.contains("iPhone 12 Pro"), "{decoded}");

    // With a token, only who has it sees the data (the CLI's --codec-auth).
    let token = s.data().join("codec-token");
    std::fs::write(&token, "codec-s3cret\n").unwrap();
    let guarded = CodecServer::start(&s, &keys, &["--token-file", token.to_str().unwrap()]).await;
    let temporal = std::process::Command::new(temporal_bin())
        .args(["workflow", "show", "--workflow-id", &id, "--detailed"])
        .args(["--address", &s.address, "--codec-endpoint", &guarded.url])
        .output()
        .unwrap();
    assert!(
        !stdout(&temporal).contains("ann@example.com"),
        "without the token: {}",
        stdout(&temporal)
    );
    let with_token = history(
        &s,
        &id,
        &[
            "--codec-endpoint",
            &guarded.url,
            "--codec-auth",
            "Bearer codec-s3cret",
        ],
    );
    assert!(with_token.contains("ann@example.com"));

    let (_, log) = worker.terminate();
    assert!(log.contains("payloads: encrypted with key k1"), "{log}");
    assert!(!log.contains("ann@example.com"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codec_server_answers_the_web_ui_and_guards_a_public_address() {
    let s = Setup::new().await;
    let keys = key_file(&s, "keys", "k1");
    let codec = CodecServer::start(&s, &keys, &[]).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{}/decode", codec.url))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type,x-namespace")
            .send()
    };
    let ui = preflight("http://localhost:8233").await.unwrap();
    assert_eq!(
        ui.headers()["access-control-allow-origin"],
        "http://localhost:8233"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Encode then decode through the protocol gives the payload back.
    let payload = serde_json::json!({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                                   "data": "eyJhIjoxfQ=="}]});
    let call = |path: &'static str, body: serde_json::Value| {
        let request = http.post(format!("{}/{path}", codec.url)).json(&body);
        async move {
            let answer = request.send().await.unwrap();
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let encoded = call("encode", payload.clone()).await;
    assert_eq!(
        encoded["payloads"][0]["metadata"]["encoding"],
        "YmluYXJ5L2VuY3J5cHRlZA=="
    );
    assert_eq!(call("decode", encoded).await, payload);
    // Not on a public address without a token; not at all without keys.
    let out = s
        .cart()
        .env("CART_CODEC_KEY_FILE", &keys)
        .args([
            "codec-server",
            "--listen",
            &format!("0.0.0.0:{}", free_port()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no token protects the decrypted data"));
    let out = s.cart().args(["codec-server"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs the encryption keys"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_a_cart_started_under_one_key_is_finished_under_the_next() {
    let s = Setup::new().await;
    let keys = key_file(&s, "keys", "k1");
    let worker = keyed_worker(&s, &keys).await;
    let cart = keyed(&s, &keys);
    let id = unique("CART-rotated");
    ok(cart(&["add", &id, "--product", "1"]));
    ok(cart(&["email", &id, "ann@example.com"]));

    // A new key goes first; the old one stays to read what it wrote.
    key_file(&s, "keys", "k2");
    assert_eq!(
        std::fs::read_to_string(&keys)
            .unwrap()
            .lines()
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    worker.terminate();
    let worker = keyed_worker(&s, &keys).await;
    let paid: serde_json::Value =
        serde_json::from_str(&ok(cart(&["checkout", &id, "--output", "json"]))).unwrap();
    assert_eq!(paid["status"], "checked_out");
    assert_eq!(paid["items"][0]["name"], "iPhone 12");
    let stored = history(&s, &id, &[]);
    assert!(stored.contains("azE="), "payloads under k1");
    assert!(stored.contains("azI="), "payloads under k2");
    let (_, log) = worker.terminate();
    assert!(
        log.contains("payloads: encrypted with key k2; keys that decrypt: k2, k1"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_a_wrong_or_no_key_is_told_and_nothing_changes() {
    let s = Setup::new().await;
    let keys = key_file(&s, "keys", "k1");
    let _worker = keyed_worker(&s, &keys).await;
    let cart = keyed(&s, &keys);
    let id = unique("CART-keys");
    ok(cart(&["add", &id, "--product", "0"]));
    let before = ok(cart(&["show", &id, "--output", "json"]));

    let wrong = key_file(&s, "wrong", "k1");
    let other = keyed(&s, &wrong);
    let out = other(&["add", &id, "--product", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "error: the workers do not have the key this client encrypts with, so nothing was changed"
        ),
        "{}",
        stderr(&out)
    );
    // The worker failed the workflow task that carried the change it could not read; the
    // cart answers again once the next attempt has run, moments later.
    for _ in 0..50 {
        if cart(&["show", &id]).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = other(&["show", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be decrypted with key \"k1\"")
            || stderr(&out).contains("could not be decrypted with key \"k1\""),
        "{}",
        stderr(&out)
    );
    // An empty CART_CODEC_KEY_FILE means no key file.
    let out = s
        .cart()
        .env("CART_CODEC_KEY_FILE", "")
        .args(["remove", &id, "--product", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(
            "error: the workers encrypt carts' data and this client has no key, so nothing was changed"
        ),
        "{}",
        stderr(&out)
    );
    let out = s.cart().args(["show", &id]).output().unwrap();
    assert!(
        stderr(&out).contains("no key is given here"),
        "{}",
        stderr(&out)
    );
    // The cart is as it was, and takes changes from a client with the key.
    let mut after: serde_json::Value =
        serde_json::from_str(&ok(cart(&["show", &id, "--output", "json"]))).unwrap();
    let mut was: serde_json::Value = serde_json::from_str(&before).unwrap();
    after.as_object_mut().unwrap().remove("updated_at");
    was.as_object_mut().unwrap().remove("updated_at");
    assert_eq!(after, was);
    ok(cart(&["add", &id, "--product", "1"]));
    let flag = ["--codec-key-file", keys.to_str().unwrap()];
    ok(s.cart()
        .args(flag)
        .args(["add", &id, "--product", "2"])
        .output()
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tutorial_signal_sent_without_the_codec_still_lands() {
    let s = Setup::new().await;
    let keys = key_file(&s, "keys", "k1");
    let _worker = keyed_worker(&s, &keys).await;
    let cart = keyed(&s, &keys);
    let id = unique("CART-tutorial");
    ok(cart(&["new", "--id", &id]));
    let temporal = Temporal {
        address: s.address.clone(),
    };
    temporal.signal(
        &cart::domain::CartId::parse(&id).unwrap(),
        "ADD_TO_CART_CHANNEL",
        r#"{"Route":"add_to_cart","Item":{"ProductId":3,"Quantity":2}}"#,
    );
    let shown = eventually(Duration::from_secs(20), "the signal", || async {
        let cart: serde_json::Value =
            serde_json::from_str(&ok(cart(&["show", &id, "--output", "json"]))).unwrap();
        (cart["items"].as_array().unwrap().len() == 1).then_some(cart)
    })
    .await;
    assert_eq!(shown["items"][0]["product_id"], 3);
    assert_eq!(shown["items"][0]["quantity"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_the_key_fails_the_workflow_task_and_the_cart_waits_for_one_with_it() {
    let s = Setup::new().await;
    let keys = key_file(&s, "keys", "k1");
    let worker = keyed_worker(&s, &keys).await;
    let cart = keyed(&s, &keys);
    let id = unique("CART-waits");
    ok(cart(&[
        "add",
        &id,
        "--product",
        "2",
        "--remind-after",
        "3s",
    ]));
    ok(cart(&["email", &id, "ann@example.com"]));
    worker.terminate();

    // A worker that lacks the key gets the reminder's workflow task, cannot read the cart, and
    // fails the task: Temporal keeps offering it, nothing is lost and nothing is sent.
    let wrong = key_file(&s, "wrong", "k9");
    let stranger = keyed_worker(&s, &wrong).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, log) = stranger.terminate();
    assert!(
        log.contains(
            "this data is encrypted with key \"k1\", which is not among the keys given here"
        ),
        "{log}"
    );
    assert!(
        reminders(s.data()).is_empty(),
        "no reminder without the key"
    );

    // The worker with the key comes back: the cart goes on where it was.
    let _worker = keyed_worker(&s, &keys).await;
    eventually(Duration::from_secs(90), "the reminder", || async {
        (!reminders(s.data()).is_empty()).then_some(())
    })
    .await;
    let shown: serde_json::Value =
        serde_json::from_str(&ok(cart(&["show", &id, "--output", "json"]))).unwrap();
    assert_eq!(shown["status"], "open");
    assert_eq!(shown["items"][0]["product_id"], 2);
}
