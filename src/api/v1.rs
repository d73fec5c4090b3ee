//! `/api/v1`: every operation of the command line with the full cart view (names, prices,
//! totals, status, receipt), and an OpenAPI document generated from this code at
//! `/api/v1/openapi.json`. Amounts are integers in minor units, as in `cart --output json`.

use super::error::ErrorBody;
use super::{ApiError, Body, CartPath, Params, RawBody, Shared, cart_id};
use crate::client::{CartFilter, CartSummary};
use crate::domain::{CartId, Status};
use crate::workflow::{
    AddItem, CartView, Checkout, LineView, OrderView, Receipt, RefundView, RemoveItem, SetEmail,
    ShipOrder,
};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cart",
        description = "Shopping carts that are durable Temporal workflows. Errors answer `{\"error\": \"…\"}`."
    ),
    paths(
        products, list, create, show, add, remove, email, checkout, health,
        super::orders::refund, super::orders::cancel, super::orders::ship
    ),
    components(schemas(
        Product, CartView, LineView, Receipt, CartSummary, NewCart, AddItem, RemoveItem,
        SetEmail, Checkout, Health, ErrorBody, OrderView, RefundView, ShipOrder,
        super::orders::NewRefund, super::orders::NewCancellation
    )),
    modifiers(&BearerToken)
)]
pub struct Doc;

/// Documents the optional bearer token of the front end, and the operator's token of the shop's
/// own routes (refunds, cancellations, shipments).
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token of `cart serve` (--operator-token-file, CART_OPERATOR_TOKEN); the front end's token is not taken",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn routes() -> Router<Arc<super::Api>> {
    Router::new()
        .route("/openapi.json", get(|| async { Json(Doc::openapi()) }))
        .route("/health", get(health))
        .route("/products", get(products))
        .route("/carts", get(list).post(create))
        .route("/carts/{id}", get(show))
        .route("/carts/{id}/add", post(add))
        .route("/carts/{id}/remove", post(remove))
        .route("/carts/{id}/email", put(email))
        .route("/carts/{id}/checkout", post(checkout))
}

/// A product of the worker's catalog, at the price it charges.
#[derive(Serialize, ToSchema)]
pub struct Product {
    id: u32,
    name: String,
    /// In minor units (cents).
    price: u64,
    currency: String,
    description: String,
    image: Option<String>,
}

/// A cart to start; everything is optional.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewCart {
    /// `CART-` and letters, digits, `-`, `_` or `.`; a fresh random id when absent.
    id: Option<String>,
    email: Option<String>,
}

/// Whether Temporal answers and a worker serves the carts.
#[derive(Serialize, ToSchema)]
pub struct Health {
    temporal: String,
    worker: bool,
}

type Answer<T> = Result<Json<T>, ApiError>;

#[utoipa::path(get, path = "/api/v1/products", responses(
    (status = 200, description = "The products at the prices the worker charges", body = Vec<Product>),
    (status = 503, body = ErrorBody)))]
async fn products(State(api): Shared) -> Answer<Vec<Product>> {
    let catalog = api.carts.catalog().await?;
    Ok(Json(
        catalog
            .products()
            .iter()
            .map(|p| Product {
                id: p.id,
                name: p.name.clone(),
                price: p.price.minor,
                currency: p.price.currency.code().to_owned(),
                description: p.description.clone(),
                image: p.image.clone(),
            })
            .collect(),
    ))
}

/// Which carts `GET /api/v1/carts` lists; without any, the open ones.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Only carts with this status (checked-out and expired carts included)
    status: Option<String>,
    /// Only carts changed within this long (`24h`) or since this moment (RFC 3339)
    since: Option<String>,
    /// More conditions in Temporal's list-filter syntax, e.g. `CartTotal > 100000`
    query: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/carts", params(ListFilter), responses(
    (status = 200, description = "Carts, newest first: the open ones, or those the filters choose", body = Vec<CartSummary>),
    (status = 400, body = ErrorBody),
    (status = 422, description = "Temporal cannot filter on that", body = ErrorBody),
    (status = 503, body = ErrorBody)))]
async fn list(State(api): Shared, Params(filter): Params<ListFilter>) -> Answer<Vec<CartSummary>> {
    let status = match filter.status {
        Some(text) => Some(Status::parse(&text).ok_or_else(|| {
            let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!("status {text:?} is not one of {}", all.join(", ")))
        })?),
        None => None,
    };
    let since = filter
        .since
        .map(|text| crate::client::since(&text).map_err(ApiError::bad_request))
        .transpose()?;
    let filter = CartFilter {
        status,
        since,
        query: filter.query,
    };
    Ok(Json(api.carts.list(&filter).await?))
}

#[utoipa::path(post, path = "/api/v1/carts", request_body = NewCart, responses(
    (status = 201, body = CartView),
    (status = 400, body = ErrorBody),
    (status = 409, description = "The id is taken", body = ErrorBody),
    (status = 503, body = ErrorBody)))]
async fn create(
    State(api): Shared,
    RawBody(body): RawBody,
) -> Result<(StatusCode, Json<CartView>), ApiError> {
    // An empty body is an empty request: a cart with a fresh id and no e-mail.
    let new: NewCart = if body.iter().all(u8::is_ascii_whitespace) {
        NewCart::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let id = match new.id {
        Some(id) => cart_id(&id)?,
        None => CartId::generate(),
    };
    if let Some(email) = &new.email {
        crate::domain::Email::parse(email).map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let view = api.carts.create(&id, api.new_cart(new.email)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/api/v1/carts/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = CartView),
    (status = 404, body = ErrorBody)))]
async fn show(State(api): Shared, CartPath(id): CartPath) -> Answer<CartView> {
    Ok(Json(api.carts.get(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/carts/{id}/add", params(("id" = String, Path)),
    request_body = AddItem, responses(
    (status = 200, description = "The cart after the change; created if it did not exist", body = CartView),
    (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn add(
    State(api): Shared,
    CartPath(id): CartPath,
    Body(item): Body<AddItem>,
) -> Answer<CartView> {
    Ok(Json(api.carts.add(&id, item, api.new_cart(None)).await?))
}

#[utoipa::path(post, path = "/api/v1/carts/{id}/remove", params(("id" = String, Path)),
    request_body = RemoveItem, responses(
    (status = 200, body = CartView),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn remove(
    State(api): Shared,
    CartPath(id): CartPath,
    Body(item): Body<RemoveItem>,
) -> Answer<CartView> {
    Ok(Json(api.carts.remove(&id, item).await?))
}

#[utoipa::path(put, path = "/api/v1/carts/{id}/email", params(("id" = String, Path)),
    request_body = SetEmail, responses(
    (status = 200, body = CartView),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn email(
    State(api): Shared,
    CartPath(id): CartPath,
    Body(email): Body<SetEmail>,
) -> Answer<CartView> {
    Ok(Json(api.carts.set_email(&id, email).await?))
}

#[utoipa::path(post, path = "/api/v1/carts/{id}/checkout", params(("id" = String, Path)),
    request_body = Checkout, responses(
    (status = 200, description = "Paid, by this checkout or one before it: the cart with its receipt. Nothing more is charged.", body = CartView),
    (status = 202, description = "The payment's outcome is not known yet: the cart is `checking_out` or `payment_pending` (by this checkout or one before it) and settles by itself (paid, or open again if refused). Do not check out again; follow the cart.", body = CartView),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
    (status = 422, description = "Refused or declined; nothing was charged", body = ErrorBody)))]
async fn checkout(
    State(api): Shared,
    CartPath(id): CartPath,
    Body(request): Body<Checkout>,
) -> Result<(StatusCode, Json<CartView>), ApiError> {
    let view = api.carts.checkout(&id, request).await?;
    let status = if view.status.is_paying() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

#[utoipa::path(get, path = "/api/v1/health", responses(
    (status = 200, body = Health),
    (status = 503, description = "Temporal does not answer", body = ErrorBody)))]
async fn health(State(api): Shared) -> Answer<Health> {
    let worker = api
        .carts
        .worker_polling()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, crate::report::line(&e)))?;
    Ok(Json(Health {
        temporal: "ok".to_owned(),
        worker,
    }))
}
