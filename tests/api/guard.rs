//! What keeps pages elsewhere from driving a person's carts through `cart serve`: the Host
//! check against DNS rebinding, the body limit, and where the token may come from.

use super::Server;
use crate::cli::stderr;
use crate::support::Setup;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebinding_host_is_refused() {
    let s = Setup::new().await;
    let api = Server::start(&s, &[]).await;
    let port = api.base.rsplit(':').next().unwrap().to_owned();
    let with_host = |host: String| {
        api.http
            .get(api.url("/api/v1/openapi.json"))
            .header("Host", host)
            .send()
    };
    // A page on evil.example whose name now points at 127.0.0.1 still says whose it is.
    let rebound = with_host(format!("evil.example:{port}")).await.unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);
    let body: Value = rebound.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("does not answer to the name \"evil.example"),
        "{body}"
    );
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let ok = with_host(host.clone()).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{host}");
    }
    // A name of its own, given with --allow-host, is answered.
    let named = Server::start(&s, &["--allow-host", "shop.localtest"]).await;
    let ok = named
        .http
        .get(named.url("/api/v1/openapi.json"))
        .header("Host", "shop.localtest")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_a_413_with_a_json_error() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;
    let big = format!(
        "{{\"email\":\"ann@example.com\",\"payment\":\"tok_{}\"}}",
        "x".repeat(cart::api::MAX_BODY_BYTES)
    );
    // The server closes a connection whose body it did not read: no request may go out on it
    // again, so this client keeps no idle connections.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for path in [
        "/api/v1/carts",
        "/api/v1/carts/CART-big/checkout",
        "/cart/CART-big/checkout",
    ] {
        let method = if path.starts_with("/cart/") {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let answer = http
            .request(method, api.url(path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body: Value = answer.json().await.unwrap();
        assert!(body["error"].is_string(), "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_comes_from_a_file_or_the_environment_and_the_command_line_is_warned_of() {
    let s = Setup::new().await;
    let file = s.data().join("token");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let api = Server::start(&s, &["--token-file", file.to_str().unwrap()]).await;
    let call = |token: &'static str| {
        api.http
            .get(api.url("/api/v1/openapi.json"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(call("from-a-file").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        call("from-a-fil").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let on_the_line = Server::start(&s, &["--token", "visible-in-ps"]).await;
    drop(on_the_line);
    let log = std::fs::read_to_string(
        std::fs::read_dir(s.data())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains("serve-"))
            .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        log.contains("the token was given on the command line"),
        "{log}"
    );
    assert!(!log.contains("visible-in-ps"), "{log}");
    let empty = s.data().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let out = s
        .cart()
        .args(["serve", "--token-file", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
