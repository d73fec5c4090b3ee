//! The HTTP API that `cart serve` offers: the tutorial's routes, unchanged, so its web front
//! end and scripts work against our worker, and `/api/v1` beside them.
//!
//! Handlers reach the carts through the [`Carts`] trait, which the same [`CartClient`] the
//! command line uses serves; the cart rules stay in the workflow. Nothing here knows about the
//! terminal.
//!
//! [`CartClient`]: crate::client::CartClient

mod carts;
mod error;
mod guard;
mod orders;
mod tutorial;
pub mod v1;

#[cfg(test)]
mod tests;

pub use carts::Carts;
pub use error::ApiError;
pub use guard::{Hosts, MAX_BODY_BYTES, Origins, token_matches};

use crate::domain::CartId;
use crate::metrics::HttpMetrics;
use crate::workflow::{CartInput, CartSettings};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

/// What the API needs: the carts, the settings of new carts, the token.
pub struct Api {
    pub carts: Arc<dyn Carts>,
    pub new_carts: CartSettings,
    /// When set, every request must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The token of the shop's own acts (refunds, cancellations, shipments, see [`orders`]):
    /// their routes take it and no other, and without one they are refused.
    pub operator_token: Option<String>,
    /// The web pages that may call from a browser (CORS).
    pub origins: Origins,
    /// The names the server answers to (the Host header).
    pub hosts: Hosts,
    /// Where answered requests are counted, when `cart serve` has `--metrics`.
    pub metrics: Option<Arc<HttpMetrics>>,
}

impl Api {
    /// The start input for a cart this API creates.
    fn new_cart(&self, email: Option<String>) -> CartInput {
        CartInput::new(self.new_carts.clone(), email)
    }
}

type Shared = State<Arc<Api>>;

/// A cart id checked like the command line checks it; a bad one is a 400.
fn cart_id(id: &str) -> Result<CartId, ApiError> {
    CartId::parse(id).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The cart id of a route's `{id}`, checked.
pub struct CartPath(pub CartId);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CartPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let axum::extract::Path(id) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        cart_id(&id).map(CartPath)
    }
}

/// A JSON body whose rejections are answered like every other error, `{"error": "…"}` (axum's
/// own answer them in plain text): 400 for broken JSON, 415 without a JSON content type, 422
/// for JSON of the wrong shape.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| Body(value))
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

/// A query string's parameters, whose rejections are answered like every other error (400).
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for Params<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Params(value))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// A request body as bytes, its rejections (a body over [`MAX_BODY_BYTES`]: 413) answered like
/// every other error.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

/// Every route, with the Host check, CORS, the token check, the body limit and request
/// logging.
pub fn router(api: Api) -> Router {
    let cors = CorsLayer::new()
        .allow_headers([
            HeaderName::from_static("x-requested-with"),
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("idempotency-key"),
        ])
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::HEAD,
            Method::OPTIONS,
        ])
        .allow_origin(match api.origins.clone() {
            Origins::Any => AllowOrigin::any(),
            origins => AllowOrigin::predicate(move |origin, _| origins.allows(origin)),
        });
    let hosts = Arc::new(api.hosts.clone());
    let metrics = api.metrics.clone();
    let api = Arc::new(api);
    let router = Router::new()
        .merge(tutorial::routes())
        .nest("/api/v1", v1::routes().merge(orders::routes()))
        .route_layer(axum::middleware::from_fn(tag_route))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|method: Method| async move {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                format!("this endpoint does not take {method}"),
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(api.clone(), authorize))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            guard::check_host,
        ));
    let router = match metrics {
        Some(metrics) => router.layer(axum::middleware::from_fn_with_state(metrics, measure)),
        None => router,
    };
    // One log line per request (method, path, status, time) at the worker's level.
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(api)
}

/// The template of the route that answered (`/cart/{id}`), carried on the response to
/// [`measure`]: a label that never holds a cart id.
#[derive(Clone)]
struct RouteTemplate(String);

async fn tag_route(matched: axum::extract::MatchedPath, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .extensions_mut()
        .insert(RouteTemplate(matched.as_str().to_owned()));
    response
}

/// Counts every answered request, refusals before routing included (as route `unmatched`).
async fn measure(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("unmatched", |r| r.0.as_str());
    metrics.observe(
        route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// With a token configured, a request without the right bearer token gets 401. The shop's own
/// routes ([`orders::OPERATOR_ROUTES`]) take the operator token instead, and none at all when
/// the server has none (403). CORS preflights carry no credentials, so they pass (the CORS
/// layer answers them first anyway).
async fn authorize(State(api): Shared, request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let operator_route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|path| orders::OPERATOR_ROUTES.contains(&path.as_str()));
    let token = if operator_route {
        match &api.operator_token {
            Some(token) => token,
            None => {
                return ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "this server takes no refunds, cancellations or shipments: start `cart serve` with --operator-token-file or CART_OPERATOR_TOKEN",
                )
                .into_response();
            }
        }
    } else {
        match &api.token {
            Some(token) => token,
            None => return next.run(request).await,
        }
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if guard::token_matches(given, token) => next.run(request).await,
        _ => {
            let mut response = ApiError::unauthorized().into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}
