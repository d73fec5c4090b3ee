//! The shop's acts on an order, under `/api/v1`: refunds, cancellations and shipments. They
//! need the operator token (`--operator-token-file` / `CART_OPERATOR_TOKEN`), never the front
//! end's: [`super::authorize`] checks it for the routes in [`OPERATOR_ROUTES`] before anything
//! reaches Temporal. The tutorial's routes have none of them.

use super::error::ErrorBody;
use super::{ApiError, Body, CartPath, Shared};
use crate::workflow::{CancelOrder, CartView, RefundOrder, ShipOrder};
use crate::workflow::{check_order_id, check_refund_amount, new_order_id};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// The routes that take the operator token, as axum matches them.
pub const OPERATOR_ROUTES: [&str; 3] = [
    "/api/v1/carts/{id}/refunds",
    "/api/v1/carts/{id}/cancel",
    "/api/v1/carts/{id}/shipment",
];

pub fn routes() -> Router<Arc<super::Api>> {
    Router::new()
        .route("/carts/{id}/refunds", post(refund))
        .route("/carts/{id}/cancel", post(cancel))
        .route("/carts/{id}/shipment", post(ship))
}

/// A refund to ask for. Its id (here or in an `Idempotency-Key` header) makes a repeated
/// request the same refund.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// Letters, digits, `-`, `_` or `.`, at most 64; or give it as `Idempotency-Key`.
    id: Option<String>,
    /// A decimal in the order's currency (`"12.50"`); all that is refundable when absent.
    amount: Option<String>,
    reason: Option<String>,
}

/// A cancellation of an order that has not shipped.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewCancellation {
    /// The id of the cancellation's refund (or `Idempotency-Key`); a fresh one when absent
    /// (cancelling again is the same cancellation).
    id: Option<String>,
    reason: Option<String>,
}

/// The id a request gives in its body or its `Idempotency-Key` header (the two must agree).
fn given_id(body: Option<String>, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let header = match headers.get("idempotency-key") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::bad_request("the Idempotency-Key header is not text"))?
                .to_owned(),
        ),
        None => None,
    };
    let id = match (body, header) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(
                "the body's id and the Idempotency-Key header differ: give one of them",
            ));
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    if let Some(id) = &id {
        check_order_id(id).map_err(ApiError::bad_request)?;
    }
    Ok(id)
}

/// The answer to a refund (or, `cancel`, a cancellation) whose refund is `id` (a
/// cancellation's own, whatever id it was sent under): 202 while it waits for its verdict,
/// 422 once it failed, else 200.
fn answered(
    view: CartView,
    id: &str,
    cancel: bool,
) -> Result<(StatusCode, Json<CartView>), ApiError> {
    let order = view.order.as_ref();
    let id = match order.and_then(|o| o.cancel_refund.as_deref()) {
        Some(theirs) if cancel => theirs,
        _ => id,
    };
    let refund = order.iter().flat_map(|o| &o.refunds).find(|r| r.id == id);
    let status = match refund.map(|r| (r.status.as_str(), r.detail.as_deref())) {
        Some(("pending", _)) => StatusCode::ACCEPTED,
        Some(("failed", why)) => {
            let why = why.unwrap_or("no reason given");
            let message = if cancel {
                format!("the order is cancelled, but its refund {id} failed: {why}")
            } else {
                format!("refund {id} failed: {why}")
            };
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message));
        }
        _ => StatusCode::OK,
    };
    Ok((status, Json(view)))
}

#[utoipa::path(post, path = "/api/v1/carts/{id}/refunds", params(("id" = String, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "The refund's id, if the body has none")),
    request_body = NewRefund, security(("operator" = [])), responses(
    (status = 200, description = "Refunded (by this request or an earlier one under its id): the order", body = CartView),
    (status = 202, description = "Sent, and its outcome not known yet: the refund is `pending` and settles by itself. Do not refund again under a new id.", body = CartView),
    (status = 400, description = "No id, or a malformed id or amount", body = ErrorBody),
    (status = 415, body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 403, description = "This server takes no operator requests", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "Refused by the order (nothing left, too much, a dispute) or by the provider, nothing refunded; or a body of the wrong shape", body = ErrorBody),
    (status = 503, body = ErrorBody)))]
pub(super) async fn refund(
    State(api): Shared,
    CartPath(cart): CartPath,
    headers: HeaderMap,
    Body(body): Body<NewRefund>,
) -> Result<(StatusCode, Json<CartView>), ApiError> {
    let id = given_id(body.id, &headers)?.ok_or_else(|| {
        ApiError::bad_request(
            "give the refund an id (the body's \"id\" or an Idempotency-Key header), so that a repeated request is the same refund",
        )
    })?;
    if let Some(amount) = &body.amount {
        check_refund_amount(amount).map_err(ApiError::bad_request)?;
    }
    let request = RefundOrder {
        id: id.clone(),
        amount: body.amount,
        reason: body.reason,
    };
    let view = api.carts.refund(&cart, request).await?;
    answered(view, &id, false)
}

#[utoipa::path(post, path = "/api/v1/carts/{id}/cancel", params(("id" = String, Path)),
    request_body = NewCancellation, security(("operator" = [])), responses(
    (status = 200, description = "Cancelled, and what was left refunded", body = CartView),
    (status = 202, description = "Cancelled; its refund's outcome is not known yet", body = CartView),
    (status = 400, body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "Refused: the order has shipped (refund an amount instead), or is not paid; or cancelled, and its refund failed", body = ErrorBody),
    (status = 503, body = ErrorBody)))]
pub(super) async fn cancel(
    State(api): Shared,
    CartPath(cart): CartPath,
    headers: HeaderMap,
    Body(body): Body<NewCancellation>,
) -> Result<(StatusCode, Json<CartView>), ApiError> {
    let id = given_id(body.id, &headers)?.unwrap_or_else(new_order_id);
    let request = CancelOrder {
        id: id.clone(),
        reason: body.reason,
    };
    let view = api.carts.cancel(&cart, request).await?;
    answered(view, &id, true)
}

#[utoipa::path(post, path = "/api/v1/carts/{id}/shipment", params(("id" = String, Path)),
    request_body = ShipOrder, security(("operator" = [])), responses(
    (status = 200, description = "Shipped (shipping again keeps the first shipment)", body = CartView),
    (status = 400, body = ErrorBody),
    (status = 415, body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "Refused: not paid, cancelled or refunded in full", body = ErrorBody),
    (status = 503, body = ErrorBody)))]
pub(super) async fn ship(
    State(api): Shared,
    CartPath(cart): CartPath,
    Body(request): Body<ShipOrder>,
) -> Result<Json<CartView>, ApiError> {
    Ok(Json(api.carts.ship(&cart, request).await?))
}
