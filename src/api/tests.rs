//! The router in-process, in milliseconds: every route's checks of ids and bodies, and the
//! status each answer of the carts becomes, with a scripted [`Carts`] behind it. What the real
//! carts answer is tested end to end in `tests/api`.

use super::*;
use crate::client::{CartFilter, CartSummary, ClientError, TemporalError};
use crate::domain::{Catalog, Status};
use crate::workflow::{
    AddItem, CancelOrder, CartView, Checkout, RefundOrder, RemoveItem, SetEmail, ShipOrder,
};
use axum::body::Body as HttpBody;
use axum::http::{Request as HttpRequest, StatusCode};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::Duration;
use tower::ServiceExt;

/// Carts that give one scripted answer to every change and lookup, and record what reached
/// them.
struct Scripted {
    answer: fn(&CartId) -> Result<CartView, ClientError>,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(answer: fn(&CartId) -> Result<CartView, ClientError>) -> Arc<Self> {
        Arc::new(Self {
            answer,
            calls: Mutex::default(),
        })
    }

    fn answer(&self, call: &str, id: &CartId) -> Result<CartView, ClientError> {
        self.calls.lock().unwrap().push(format!("{call} {id}"));
        (self.answer)(id)
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Carts for Scripted {
    async fn catalog(&self) -> Result<Catalog, ClientError> {
        Ok(Catalog::builtin())
    }
    async fn list(&self, _: &CartFilter) -> Result<Vec<CartSummary>, ClientError> {
        self.calls.lock().unwrap().push("list".to_owned());
        Ok(Vec::new())
    }
    async fn create(&self, id: &CartId, _: CartInput) -> Result<CartView, ClientError> {
        self.answer("create", id)
    }
    async fn get(&self, id: &CartId) -> Result<CartView, ClientError> {
        self.answer("get", id)
    }
    async fn add(&self, id: &CartId, _: AddItem, _: CartInput) -> Result<CartView, ClientError> {
        self.answer("add", id)
    }
    async fn remove(&self, id: &CartId, _: RemoveItem) -> Result<CartView, ClientError> {
        self.answer("remove", id)
    }
    async fn set_email(&self, id: &CartId, _: SetEmail) -> Result<CartView, ClientError> {
        self.answer("email", id)
    }
    async fn checkout(&self, id: &CartId, _: Checkout) -> Result<CartView, ClientError> {
        self.answer("checkout", id)
    }
    async fn refund(&self, id: &CartId, r: RefundOrder) -> Result<CartView, ClientError> {
        self.answer(&format!("refund {} {:?}", r.id, r.amount), id)
    }
    async fn cancel(&self, id: &CartId, _: CancelOrder) -> Result<CartView, ClientError> {
        self.answer("cancel", id)
    }
    async fn ship(&self, id: &CartId, _: ShipOrder) -> Result<CartView, ClientError> {
        self.answer("ship", id)
    }
    async fn worker_polling(&self) -> Result<bool, ClientError> {
        Ok(true)
    }
}

fn cart(id: &CartId, status: Status) -> CartView {
    let now = jiff::Timestamp::UNIX_EPOCH;
    CartView {
        id: id.clone(),
        status,
        email: None,
        items: Vec::new(),
        total: 0,
        currency: None,
        created_at: now,
        updated_at: now,
        last_error: None,
        reminder_sent: false,
        receipt: None,
        order: None,
    }
}

fn open(id: &CartId) -> Result<CartView, ClientError> {
    Ok(cart(id, Status::Open))
}

fn app(carts: Arc<Scripted>, token: Option<&str>) -> Router {
    app_with(carts, token, None)
}

fn app_with(carts: Arc<Scripted>, token: Option<&str>, operator: Option<&str>) -> Router {
    router(Api {
        carts,
        new_carts: CartSettings::new(Duration::from_secs(60), Duration::from_secs(600)),
        token: token.map(str::to_owned),
        operator_token: operator.map(str::to_owned),
        origins: Origins::from_flags(&[]).unwrap(),
        hosts: Hosts::new("127.0.0.1:3001".parse().unwrap(), Vec::new()),
        metrics: None,
    })
}

/// One request as a browser or a script sends it: JSON unless `content_type` says otherwise.
fn request(method: &str, path: &str, body: &str, content_type: &str) -> HttpRequest<HttpBody> {
    let mut request = HttpRequest::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:3001");
    if !body.is_empty() {
        request = request.header("content-type", content_type);
    }
    request.body(HttpBody::from(body.to_owned())).unwrap()
}

async fn send(app: Router, request: HttpRequest<HttpBody>) -> (StatusCode, Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{status}: not JSON: {:?}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

const JSON: &str = "application/json";

#[tokio::test]
async fn requests_refused_at_the_door_never_reach_the_carts() {
    let cases = [
        ("GET", "/cart/not-a-cart", "", JSON, 400),
        ("GET", "/api/v1/carts/CART-a%20b", "", JSON, 400),
        ("GET", "/nowhere", "", JSON, 404),
        ("PUT", "/cart/CART-1/add", "[1, 2]", JSON, 400),
        (
            "PUT",
            "/cart/CART-1/add",
            r#"{"ProductId": "one"}"#,
            JSON,
            400,
        ),
        ("PUT", "/cart/CART-1/add", "ProductId=1", JSON, 400),
        ("PUT", "/cart/CART-1/email", r#"{"Email": 7}"#, JSON, 400),
        (
            "POST",
            "/api/v1/carts/CART-1/add",
            r#"{"product_id": "x"}"#,
            JSON,
            422,
        ),
        (
            "POST",
            "/api/v1/carts/CART-1/add",
            r#"{"product_id": 1, "quantity": 1, "extra": 1}"#,
            JSON,
            422,
        ),
        (
            "POST",
            "/api/v1/carts/CART-1/add",
            r#"{"product_id": 1}"#,
            JSON,
            422,
        ),
        (
            "POST",
            "/api/v1/carts/CART-1/add",
            r#"{"product_id": 1}"#,
            "text/plain",
            415,
        ),
        ("POST", "/api/v1/carts/CART-1/add", "{", JSON, 400),
        (
            "POST",
            "/api/v1/carts",
            r#"{"id": "CART-1", "email": "bad"}"#,
            JSON,
            400,
        ),
        ("POST", "/api/v1/carts", r#"{"id": "nope"}"#, JSON, 400),
        ("DELETE", "/api/v1/carts/CART-1", "", JSON, 405),
        ("GET", "/api/v1/carts?status=lost", "", JSON, 400),
        ("GET", "/api/v1/carts?since=soon", "", JSON, 400),
        ("GET", "/api/v1/carts?sort=newest", "", JSON, 400),
    ];
    for (method, path, body, content_type, expected) in cases {
        let carts = Scripted::new(open);
        let (status, answer) = send(
            app(carts.clone(), None),
            request(method, path, body, content_type),
        )
        .await;
        assert_eq!(
            status.as_u16(),
            expected,
            "{method} {path} {body}: {answer}"
        );
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty(), "{method} {path}: {answer}");
        assert_eq!(carts.calls(), Vec::<String>::new(), "{method} {path}");
    }
}

#[tokio::test]
async fn what_the_carts_answer_becomes_an_honest_status() {
    type Answer = fn(&CartId) -> Result<CartView, ClientError>;
    let answers: [(Answer, u16); 8] = [
        (open, 200),
        (|id| Err(ClientError::NotFound(id.clone())), 404),
        (|id| Err(ClientError::AlreadyExists(id.clone())), 409),
        (
            |_| Err(ClientError::Closed("cart is checked out".into())),
            409,
        ),
        (
            |_| Err(ClientError::Rejected("product 9 is not sold".into())),
            422,
        ),
        (|_| Err(ClientError::NoWorker("q".into())), 503),
        (
            |_| Err(ClientError::Temporal(TemporalError::said("unavailable"))),
            503,
        ),
        (
            |_| {
                Err(ClientError::Timeout {
                    queue: "q".into(),
                    waited: Duration::from_secs(30),
                })
            },
            504,
        ),
    ];
    let routes = [
        ("GET", "/cart/CART-1", ""),
        (
            "PUT",
            "/cart/CART-1/remove",
            r#"{"ProductId": 1, "Quantity": 1}"#,
        ),
        (
            "PUT",
            "/cart/CART-1/email",
            r#"{"Email": "ann@example.com"}"#,
        ),
        ("GET", "/api/v1/carts/CART-1", ""),
        (
            "POST",
            "/api/v1/carts/CART-1/add",
            r#"{"product_id": 1, "quantity": 1}"#,
        ),
        (
            "POST",
            "/api/v1/carts/CART-1/remove",
            r#"{"product_id": 1}"#,
        ),
        (
            "PUT",
            "/api/v1/carts/CART-1/email",
            r#"{"email": "ann@example.com"}"#,
        ),
        ("POST", "/api/v1/carts/CART-1/checkout", "{}"),
    ];
    for (answer, expected) in answers {
        for (method, path, body) in routes {
            let carts = Scripted::new(answer);
            let (status, reply) =
                send(app(carts.clone(), None), request(method, path, body, JSON)).await;
            assert_eq!(status.as_u16(), expected, "{method} {path}: {reply}");
            if expected >= 400 {
                assert!(reply["error"].is_string(), "{method} {path}: {reply}");
            }
            assert!(!carts.calls().is_empty(), "{method} {path} reached no cart");
        }
    }
}

#[tokio::test]
async fn a_payment_not_known_yet_is_a_202_on_both_apis() {
    let pending = |id: &CartId| Ok(cart(id, Status::PaymentPending));
    let (status, body) = send(
        app(Scripted::new(pending), None),
        request("POST", "/api/v1/carts/CART-1/checkout", "{}", JSON),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["status"], "payment_pending");
    let (status, body) = send(
        app(Scripted::new(pending), None),
        request("PUT", "/cart/CART-1/checkout", "{}", JSON),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"sent": false, "status": "payment_pending"}));
    let paid = |id: &CartId| Ok(cart(id, Status::CheckedOut));
    let (status, body) = send(
        app(Scripted::new(paid), None),
        request("PUT", "/cart/CART-1/checkout", "{}", JSON),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"sent": true})));
}

#[tokio::test]
async fn a_token_guards_every_route_but_preflights() {
    let carts = Scripted::new(open);
    let (status, body) = send(
        app(carts.clone(), Some("s3cret-token")),
        request("GET", "/cart/CART-1", "", JSON),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let mut wrong = request("GET", "/cart/CART-1", "", JSON);
    wrong
        .headers_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    let (status, _) = send(app(carts.clone(), Some("s3cret-token")), wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(carts.calls(), Vec::<String>::new());
    let mut right = request("GET", "/cart/CART-1", "", JSON);
    right
        .headers_mut()
        .insert("authorization", "Bearer s3cret-token".parse().unwrap());
    let (status, _) = send(app(carts.clone(), Some("s3cret-token")), right).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(carts.calls(), ["get CART-1"]);
}

#[tokio::test]
async fn another_host_name_and_a_huge_body_are_refused() {
    let carts = Scripted::new(open);
    let mut rebound = request("GET", "/cart/CART-1", "", JSON);
    rebound
        .headers_mut()
        .insert("host", "evil.example:3001".parse().unwrap());
    let (status, _) = send(app(carts.clone(), None), rebound).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    let huge = format!(r#"{{"email": "{}"}}"#, "a".repeat(MAX_BODY_BYTES));
    let (status, _) = send(
        app(carts.clone(), None),
        request("PUT", "/api/v1/carts/CART-1/email", &huge, JSON),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(carts.calls(), Vec::<String>::new());
}

/// A request that carries `token` as its bearer token.
fn with_token(mut request: HttpRequest<HttpBody>, token: &str) -> HttpRequest<HttpBody> {
    let value = format!("Bearer {token}").parse().unwrap();
    request.headers_mut().insert("authorization", value);
    request
}

#[tokio::test]
async fn the_shop_s_routes_take_the_operator_token_and_no_other_before_anything_reaches_the_carts()
{
    let routes = [
        ("/api/v1/carts/CART-1/refunds", r#"{"id": "r1"}"#),
        ("/api/v1/carts/CART-1/cancel", "{}"),
        ("/api/v1/carts/CART-1/shipment", r#"{"tracking": "1Z"}"#),
    ];
    for (path, body) in routes {
        let carts = Scripted::new(open);
        let post = || request("POST", path, body, JSON);
        // Without an operator token configured, nobody may.
        let (status, answer) = send(app(carts.clone(), None), post()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("--operator-token-file")
        );
        let operator = || app_with(carts.clone(), Some("front-end"), Some("operator"));
        // No token, the front end's, or a wrong one: 401.
        for given in [None, Some("front-end"), Some("operatorx")] {
            let request = match given {
                Some(token) => with_token(post(), token),
                None => post(),
            };
            let (status, _) = send(operator(), request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {given:?}");
        }
        assert_eq!(carts.calls(), Vec::<String>::new(), "{path}");
        let (status, answer) = send(operator(), with_token(post(), "operator")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        assert_eq!(carts.calls().len(), 1);
        // The operator token opens no shopper's route.
        let show = with_token(request("GET", "/api/v1/carts/CART-1", "", JSON), "operator");
        let (status, _) = send(operator(), show).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_refund_needs_an_id_and_a_readable_amount_and_its_key_is_the_id() {
    let operator = |carts: &Arc<Scripted>| app_with(carts.clone(), None, Some("op"));
    let refund = |body: &str| {
        with_token(
            request("POST", "/api/v1/carts/CART-1/refunds", body, JSON),
            "op",
        )
    };
    for body in [
        "{}",
        r#"{"id": "no spaces"}"#,
        r#"{"id": "r1", "amount": "0"}"#,
        r#"{"id": "r1", "amount": "-5"}"#,
        r#"{"id": "r1", "amount": "12."}"#,
    ] {
        let carts = Scripted::new(open);
        let (status, answer) = send(operator(&carts), refund(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(carts.calls(), Vec::<String>::new());
    }
    let carts = Scripted::new(open);
    let mut keyed = refund(r#"{"amount": "12.50"}"#);
    keyed
        .headers_mut()
        .insert("idempotency-key", "r7".parse().unwrap());
    let (status, _) = send(operator(&carts), keyed).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(carts.calls(), [r#"refund r7 Some("12.50") CART-1"#]);
    let mut both = refund(r#"{"id": "r1"}"#);
    both.headers_mut()
        .insert("idempotency-key", "r2".parse().unwrap());
    let (status, _) = send(operator(&carts), both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "two different ids");
}

#[tokio::test]
async fn the_openapi_document_marks_the_shop_s_routes_with_the_operator_scheme() {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(v1::Doc::openapi()).unwrap();
    for path in orders::OPERATOR_ROUTES {
        let op = &doc["paths"][path]["post"];
        assert_eq!(op["security"], json!([{"operator": []}]), "{path}: {op}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["operator"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/api/v1/carts/{id}/checkout"]["post"]["security"].is_null());
}
