//! The real `cart serve` process against a real Temporal server and a real `cart worker`:
//! every route, every error status, CORS, the token, the OpenAPI document checked against real
//! answers, and many concurrent changes to one cart.

mod bounds;
mod guard;
mod orders;
mod payments;

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A `cart serve` process; killed when dropped.
pub(crate) struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
    /// Where its stderr (the request log) goes.
    log: std::path::PathBuf,
}

impl Server {
    pub(crate) async fn start(setup: &Setup, args: &[&str]) -> Server {
        let port = free_port();
        let log = setup.data().join(format!("serve-{port}.log"));
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cart"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env_clear()
            .envs(setup.vars())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn cart serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            log,
        };
        // The OpenAPI document asks nothing of Temporal: it answers as soon as the server
        // listens, however busy the worker is.
        eventually(Duration::from_secs(30), "cart serve to listen", || async {
            let url = server.url("/api/v1/openapi.json");
            server.http.get(url).send().await.ok()
        })
        .await;
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with an optional JSON body; returns the status and the JSON answer.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, body, &[]).await
    }

    /// `call` with these headers.
    pub(crate) async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The requests the tutorial's web front end sends (`frontend/src/api.js`), with its headers.
async fn page_request(api: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = api
        .http
        .request(method, api.url(path))
        .header("accept", "application/json")
        .header("Content-Type", "application/json");
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("an answer");
    // The page treats any status of 400 or more as a failure, and reads every answer as JSON.
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.as_u16() < 400, "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_cart_page_shows_its_items_and_removes_the_one_clicked() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;
    // The Store page: the products, a cart, and "Add to cart" on two of them (one twice).
    let products = page_request(&api, Method::GET, "/products", None).await["products"].clone();
    let product = |id: u64| products.as_array().unwrap()[id as usize].clone();
    let id = page_request(&api, Method::POST, "/cart", None).await["workflowID"]
        .as_str()
        .unwrap()
        .to_owned();
    for item in [product(1), product(3), product(3)] {
        let body = json!({"ProductId": item["Id"], "Quantity": 1});
        page_request(&api, Method::PUT, &format!("/cart/{id}/add"), Some(body)).await;
    }

    // The Cart page renders each item's Name, Price, Image and Quantity: as `/products` gives
    // them, plus the quantity.
    let cart = page_request(&api, Method::GET, &format!("/cart/{id}"), None).await;
    let items = cart["Items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{cart}");
    for (item, (want, quantity)) in items.iter().zip([(product(1), 1), (product(3), 2)]) {
        for field in ["Id", "Name", "Price", "Image"] {
            assert_eq!(item[field], want[field], "{field} of {item}");
        }
        assert_eq!(item["Quantity"], quantity, "{item}");
        assert_eq!(item["ProductId"], want["Id"], "{item}");
    }
    assert_ne!(items[0]["Image"], "", "{cart}");

    // "Remove Item" on the second item sends its Id; that product loses one, the other stays.
    let clicked = &items[1];
    let body = json!({"ProductId": clicked["Id"], "Quantity": 1});
    page_request(&api, Method::PUT, &format!("/cart/{id}/remove"), Some(body)).await;
    let cart = page_request(&api, Method::GET, &format!("/cart/{id}"), None).await;
    assert_eq!(
        lines(&cart, "Id"),
        [(&json!(1), &json!(1)), (&json!(3), &json!(1))],
        "{cart}"
    );
}

/// A tutorial cart's items as (`id_field`, `Quantity`) pairs.
fn lines<'a>(cart: &'a Value, id_field: &str) -> Vec<(&'a Value, &'a Value)> {
    cart["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (&i[id_field], &i["Quantity"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_routes_answer_as_the_tutorial_did() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;

    let (status, products) = api.call(Method::GET, "/products", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        products["products"][0],
        json!({"Id": 0, "Name": "iPhone 12 Pro", "Description": "Test",
               "Image": "https://images.unsplash.com/photo-1603921326210-6edd2d60ca68", "Price": 999})
    );
    assert_eq!(products["products"].as_array().unwrap().len(), 4);

    let (status, created) = api.call(Method::POST, "/cart", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["workflowID"].as_str().unwrap().to_owned();
    assert!(id.starts_with("CART-"), "{id}");
    assert_eq!(created["cart"], json!({"Items": [], "Email": ""}));

    // Field names match the way Go matched them: case does not matter.
    let cart = format!("/cart/{id}");
    for body in [
        json!({"ProductId": 3, "Quantity": 1}),
        json!({"ProductID": 3, "quantity": 1}),
        json!({"productid": 1, "Quantity": 2}),
    ] {
        let (status, ok) = api
            .call(Method::PUT, &format!("{cart}/add"), Some(body))
            .await;
        assert_eq!((status, ok), (StatusCode::OK, json!({"ok": 1})));
    }
    let (status, ok) = api
        .call(
            Method::PUT,
            &format!("{cart}/remove"),
            Some(json!({"ProductId": 1, "Quantity": 1})),
        )
        .await;
    assert_eq!((status, ok), (StatusCode::OK, json!({"ok": 1})));
    let (status, ok) = api
        .call(
            Method::PUT,
            &format!("{cart}/email"),
            Some(json!({"Email": "ann@example.com"})),
        )
        .await;
    assert_eq!((status, ok), (StatusCode::OK, json!({"ok": 1})));
    let (status, shown) = api.call(Method::GET, &cart, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["Email"], "ann@example.com");
    assert_eq!(
        lines(&shown, "ProductId"),
        [(&json!(3), &json!(2)), (&json!(1), &json!(1))],
        "{shown}"
    );

    // The tutorial's front end sends `{"email": …}` in lower case.
    let (status, sent) = api
        .call(
            Method::PUT,
            &format!("{cart}/checkout"),
            Some(json!({"email": "bob@example.com"})),
        )
        .await;
    assert_eq!((status, sent), (StatusCode::OK, json!({"sent": true})));
    let (_, full) = api
        .call(Method::GET, &format!("/api/v1/carts/{id}"), None)
        .await;
    assert_eq!(full["status"], "checked_out");
    assert_eq!(full["receipt"]["email"], "bob@example.com");
    assert_eq!(full["total"], 59_900 * 2 + 69_900);
    assert_eq!(ledger(s.data()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_honest_statuses() {
    // What the real carts answer, through a real server: the router's own checks of ids and
    // bodies, and the status of every kind of answer, are tested in-process (src/api/tests.rs).
    let s = Setup::new().await;
    let api = Server::start(&s, &[]).await;
    // No worker yet: a change cannot be served.
    let (status, body) = api.call(Method::POST, "/cart", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no worker"),
        "{body}"
    );

    let _worker = s.spawn_worker().await;
    let (_, created) = api.call(Method::POST, "/cart", None).await;
    let cart = format!("/cart/{}", created["workflowID"].as_str().unwrap());
    let cases = [
        (Method::GET, "/cart/CART-nobody".to_owned(), None, 404),
        (
            Method::PUT,
            format!("{cart}/add"),
            Some(json!({"ProductId": 9, "Quantity": 1})),
            422,
        ),
        (
            Method::PUT,
            format!("{cart}/remove"),
            Some(json!({"ProductId": 2, "Quantity": 1})),
            422,
        ),
        (
            Method::PUT,
            format!("{cart}/email"),
            Some(json!({"Email": "nope"})),
            422,
        ),
        (
            Method::PUT,
            format!("{cart}/checkout"),
            Some(json!({"Email": "a@example.com"})),
            422,
        ),
        (
            Method::PUT,
            "/cart/CART-nobody/remove".to_owned(),
            Some(json!({"ProductId": 2, "Quantity": 1})),
            404,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = api.call(method.clone(), &path, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }

    // After checkout the cart takes no more changes: 409. So does a taken id.
    let add = json!({"ProductId": 0, "Quantity": 1});
    api.call(Method::PUT, &format!("{cart}/add"), Some(add.clone()))
        .await;
    let checkout = json!({"Email": "a@example.com"});
    let (status, _) = api
        .call(Method::PUT, &format!("{cart}/checkout"), Some(checkout))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .call(Method::PUT, &format!("{cart}/add"), Some(add))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let taken = json!({"id": "CART-taken"});
    let (status, _) = api
        .call(Method::POST, "/api/v1/carts", Some(taken.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api.call(Method::POST, "/api/v1/carts", Some(taken)).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_temporal_is_503_and_the_health_check_says_so() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;
    let (status, health) = api.call(Method::GET, "/api/v1/health", None).await;
    assert_eq!(
        (status, health),
        (StatusCode::OK, json!({"temporal": "ok", "worker": true}))
    );
    let Setup { env, .. } = s;
    env.shutdown().await.unwrap();
    let (status, body) = api.call(Method::GET, "/api/v1/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = api.call(Method::GET, "/cart/CART-any", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_pages_on_this_machine_may_call_unless_told_otherwise() {
    let s = Setup::new().await;
    let local = Server::start(&s, &[]).await;
    let preflight = |server: &Server, origin: &str| {
        server
            .http
            .request(Method::OPTIONS, server.url("/cart/CART-1/add"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    // The tutorial's front end on localhost:8080 keeps working.
    let ok = preflight(&local, "http://localhost:8080").await.unwrap();
    assert!(ok.status().is_success());
    let headers = ok.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:8080"
    );
    assert_eq!(
        headers["access-control-allow-methods"],
        "GET,POST,PUT,HEAD,OPTIONS"
    );
    assert_eq!(
        headers["access-control-allow-headers"],
        "x-requested-with,content-type,authorization,idempotency-key"
    );
    // A page on another site gets no permission: the browser will not send its request.
    let evil = preflight(&local, "https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let limited = Server::start(&s, &["--allow-origin", "https://shop.example"]).await;
    let from = |origin: &'static str| {
        limited
            .http
            .get(limited.url("/api/v1/openapi.json"))
            .header("Origin", origin)
            .send()
    };
    let allowed = from("https://shop.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let other = from("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Any origin only when asked for.
    let any = Server::start(&s, &["--allow-origin", "*"]).await;
    let anywhere = preflight(&any, "https://evil.example").await.unwrap();
    assert_eq!(anywhere.headers()["access-control-allow-origin"], "*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_route() {
    let s = Setup::new().await;
    let api = Server::start(&s, &["--token", "s3cret"]).await;
    for path in [
        "/products",
        "/api/v1/products",
        "/api/v1/health",
        "/cart/CART-1",
    ] {
        let none = api.http.get(api.url(path)).send().await.unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(none.headers()["www-authenticate"], "Bearer");
        let wrong = api
            .http
            .get(api.url(path))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let right = api
        .http
        .get(api.url("/api/v1/openapi.json"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    // Browsers send preflights without credentials.
    let preflight = api
        .http
        .request(Method::OPTIONS, api.url("/products"))
        .header("Origin", "http://localhost:8080")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());

    // Reachable from other machines without a token: refused before listening.
    let out = s
        .cart()
        .args(["serve", "--listen", &format!("0.0.0.0:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no token protects the carts"), "{err}");
    assert!(err.contains("hint: set --token or CART_API_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_to_one_cart_are_all_kept() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;
    let (_, created) = api.call(Method::POST, "/cart", None).await;
    let id = created["workflowID"].as_str().unwrap().to_owned();
    let requests = (0..60).map(|i| {
        let (http, url) = (api.http.clone(), api.url(&format!("/cart/{id}/add")));
        async move {
            http.put(url)
                .json(&json!({"ProductId": i % 3, "Quantity": 1}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let (_, cart) = api.call(Method::GET, &format!("/cart/{id}"), None).await;
    let mut items: Vec<(u64, u64)> = cart["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["ProductId"].as_u64().unwrap(),
                l["Quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    items.sort();
    assert_eq!(items, [(0, 20), (1, 20), (2, 20)]);
}

/// Checks `body`, the answer to `method path` with `status`, against the schema the OpenAPI
/// document gives for exactly that answer.
fn conforms(doc: &Value, template: &str, method: &str, status: u16, body: &Value) {
    let errors = violations(doc, template, method, status, body);
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: {errors:?}\n{body}"
    );
}

fn violations(doc: &Value, template: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
    let schema = doc["paths"][template][method]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"]
        .clone();
    assert!(
        !schema.is_null(),
        "the document has no schema for {method} {template} {status}"
    );
    // The whole document is the root, so `#/components/schemas/…` references resolve.
    let mut root = doc.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["allOf"] = json!([schema]);
    let validator = jsonschema::validator_for(&root).expect("a valid schema");
    validator.iter_errors(body).map(|e| e.to_string()).collect()
}

/// The document's path for a concrete one: a cart id segment is `{id}`.
fn template(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with("CART-") {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_v1_answers_match_its_openapi_document() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let api = Server::start(&s, &[]).await;
    let (status, doc) = api.call(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");

    let check = async |method: Method, path: &str, body: Option<Value>, expected: u16| {
        let (status, answer) = api.call(method.clone(), path, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}: {answer}");
        let method = method.as_str().to_lowercase();
        conforms(&doc, &template(path), &method, expected, &answer);
        answer
    };
    check(Method::GET, "/api/v1/products", None, 200).await;
    check(Method::GET, "/api/v1/health", None, 200).await;
    let new = json!({"email": "ann@example.com"});
    let created = check(Method::POST, "/api/v1/carts", Some(new), 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let cart = |op: &str| format!("/api/v1/carts/{id}{op}");
    check(Method::GET, "/api/v1/carts", None, 200).await;
    let add = |product: u32, quantity: u32| json!({"product_id": product, "quantity": quantity});
    check(Method::POST, &cart("/add"), Some(add(2, 3)), 200).await;
    check(Method::POST, &cart("/add"), Some(add(8, 1)), 422).await;
    check(Method::POST, &cart("/remove"), Some(add(2, 1)), 200).await;
    let email = json!({"email": "bob@example.com"});
    check(Method::PUT, &cart("/email"), Some(email), 200).await;
    check(Method::GET, &cart(""), None, 200).await;
    let declined = json!({"payment": "tok_chargeDeclined"});
    check(Method::POST, &cart("/checkout"), Some(declined), 422).await;
    let paid = check(Method::POST, &cart("/checkout"), Some(json!({})), 200).await;
    assert_eq!(paid["status"], "checked_out");
    // The check has teeth: an answer that strays from the document is caught.
    let mut strayed = paid.clone();
    strayed["status"] = json!("lost");
    strayed.as_object_mut().unwrap().remove("total");
    let found = violations(&doc, &template(&cart("/checkout")), "post", 200, &strayed);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(paid["receipt"]["amount"], 2 * 39_900);
    check(
        Method::POST,
        &cart("/remove"),
        Some(json!({"product_id": 2})),
        409,
    )
    .await;
    check(Method::GET, "/api/v1/carts/CART-nobody", None, 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_requests_in_flight() {
    let s = Setup::new().await;
    let worker = s.spawn_worker().await;
    let mut api = Server::start(&s, &["--wait", "3s"]).await;
    let (_, created) = api.call(Method::POST, "/cart", None).await;
    let id = created["workflowID"].as_str().unwrap().to_owned();
    // Without a worker a query waits seconds before it is answered: a request in flight.
    worker.kill();
    let pending = api.http.get(api.url(&format!("/cart/{id}"))).send();
    let stop = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let pid = api.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    let (answer, ()) = tokio::join!(pending, stop);
    let answer = answer.expect("the request in flight is answered, not cut off");
    // The worker died moments ago, so the server still lists it: the query waits out its
    // time and says the worker did not answer, or no worker serves the carts.
    assert!(answer.status().is_server_error(), "{}", answer.status());
    let status = api.child.wait().unwrap();
    assert!(status.success(), "{status}");
    // One log line per request, on stderr.
    let log = std::fs::read_to_string(&api.log).unwrap();
    assert!(
        log.contains("stopping: finishing the requests in flight"),
        "{log}"
    );
    let answered = log
        .lines()
        .filter(|l| l.contains(&format!("method=GET uri=/cart/{id}")) && l.contains("status=5"))
        .count();
    assert_eq!(answered, 1, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_port_variable_is_honoured() {
    let s = Setup::new().await;
    let port = free_port();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cart"))
        .arg("serve")
        .env_clear()
        .envs(s.vars())
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/openapi.json");
    let answered = eventually(Duration::from_secs(30), "cart serve on $PORT", || async {
        reqwest::get(&url).await.ok()
    })
    .await;
    assert_eq!(answered.status(), StatusCode::OK);
    let _ = child.kill();
    let _ = child.wait();

    let out = s.cart().arg("serve").env("PORT", "http").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT=\"http\" is not a port number"));
}
