//! The tutorial's routes and JSON, field names included, so its web front end and scripts
//! work unchanged. Success answers are the tutorial's; errors are honest (see [`ApiError`]).
//!
//! Request fields are matched the way Go's `encoding/json` matches them: an exact name first,
//! else a name equal ignoring case, so `"ProductID"` and the front end's `"email"` work. (A
//! body naming one field twice in different cases is not worth Go's last-one-wins rule.) A
//! missing field is Go's zero value (0 or ""), which the cart rules then judge.

use super::{ApiError, CartPath, RawBody, Shared};
use crate::domain::{CartId, Catalog, Currency, ProductId};
use crate::workflow::{AddItem, CartView, Checkout, RemoveItem, SetEmail};
use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<super::Api>> {
    Router::new()
        .route("/products", get(products))
        .route("/cart", post(create))
        .route("/cart/{id}", get(cart))
        .route("/cart/{id}/add", put(add))
        .route("/cart/{id}/remove", put(remove))
        .route("/cart/{id}/email", put(email))
        .route("/cart/{id}/checkout", put(checkout))
}

async fn products(State(api): Shared) -> Result<Json<Value>, ApiError> {
    let catalog = api.carts.catalog().await?;
    let products: Vec<Value> = catalog
        .products()
        .iter()
        .map(|p| {
            json!({
                "Id": p.id,
                "Name": p.name,
                "Description": p.description,
                "Image": p.image.clone().unwrap_or_default(),
                "Price": price(p.price.minor, p.price.currency.exponent()),
            })
        })
        .collect();
    Ok(Json(json!({ "products": products })))
}

/// The tutorial's prices are plain numbers in whole units (`999`); a price with cents is a
/// decimal number (`9.99`).
fn price(minor: u64, exponent: u32) -> Value {
    let scale = 10u64.pow(exponent);
    if minor.is_multiple_of(scale) {
        json!(minor / scale)
    } else {
        json!(minor as f64 / scale as f64)
    }
}

/// The tutorial's view of a cart: its items and the e-mail or "".
///
/// The Go server's items carry only `ProductId` and `Quantity`; the tutorial's Cart page also
/// shows each item's `Name`, `Price` and `Image` and removes by `Id`. So every item has those
/// too, as `/products` writes them: the name and price the cart charges, the image from the
/// catalog (`""` for a product no longer in it). Go-style clients ignore the extra fields.
fn tutorial_cart(view: &CartView, catalog: Option<&Catalog>) -> Value {
    let exponent = view
        .currency
        .as_deref()
        .and_then(|code| Currency::try_from(code.to_owned()).ok())
        .map_or(2, |c| c.exponent());
    let image = |id: ProductId| {
        catalog
            .and_then(|c| c.get(id))
            .and_then(|p| p.image.clone())
            .unwrap_or_default()
    };
    let items: Vec<Value> = view
        .items
        .iter()
        .map(|l| {
            json!({
                "ProductId": l.product_id,
                "Quantity": l.quantity,
                "Id": l.product_id,
                "Name": l.name,
                "Price": price(l.unit_price, exponent),
                "Image": image(l.product_id),
            })
        })
        .collect();
    json!({ "Items": items, "Email": view.email.clone().unwrap_or_default() })
}

async fn create(State(api): Shared) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = CartId::generate();
    let view = api.carts.create(&id, api.new_cart(None)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "cart": tutorial_cart(&view, None), "workflowID": view.id })),
    ))
}

async fn cart(State(api): Shared, CartPath(id): CartPath) -> Result<Json<Value>, ApiError> {
    let view = api.carts.get(&id).await?;
    let catalog = if view.items.is_empty() {
        None
    } else {
        Some(api.carts.catalog().await?)
    };
    Ok(Json(tutorial_cart(&view, catalog.as_ref())))
}

async fn add(
    State(api): Shared,
    CartPath(id): CartPath,
    GoObject(body): GoObject,
) -> Result<Json<Value>, ApiError> {
    let item = AddItem {
        product_id: integer(&body, "ProductId")?,
        quantity: integer(&body, "Quantity")?,
    };
    // Like the tutorial, adding needs a cart made with POST /cart first.
    api.carts.get(&id).await?;
    api.carts.add(&id, item, api.new_cart(None)).await?;
    Ok(Json(json!({ "ok": 1 })))
}

async fn remove(
    State(api): Shared,
    CartPath(id): CartPath,
    GoObject(body): GoObject,
) -> Result<Json<Value>, ApiError> {
    let item = RemoveItem {
        product_id: integer(&body, "ProductId")?,
        quantity: Some(integer(&body, "Quantity")?),
    };
    api.carts.remove(&id, item).await?;
    Ok(Json(json!({ "ok": 1 })))
}

async fn email(
    State(api): Shared,
    CartPath(id): CartPath,
    GoObject(body): GoObject,
) -> Result<Json<Value>, ApiError> {
    let email = text(&body, "Email")?;
    api.carts.set_email(&id, SetEmail { email }).await?;
    Ok(Json(json!({ "ok": 1 })))
}

/// `{"sent": true}` once paid, as the tutorial answered; 202 `{"sent": false, "status":
/// "payment_pending"}` while the payment's outcome is not known.
async fn checkout(
    State(api): Shared,
    CartPath(id): CartPath,
    GoObject(body): GoObject,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let email = text(&body, "Email")?;
    let request = Checkout {
        email: Some(email).filter(|e| !e.is_empty()),
        payment: None,
    };
    let view = api.carts.checkout(&id, request).await?;
    if view.status.is_paying() {
        let body = json!({ "sent": false, "status": view.status.as_str() });
        return Ok((StatusCode::ACCEPTED, Json(body)));
    }
    Ok((StatusCode::OK, Json(json!({ "sent": true }))))
}

/// A request body that must be a JSON object, its fields read Go's way with [`field`].
struct GoObject(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for GoObject {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(body) = RawBody::from_request(request, state).await?;
        match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => Ok(GoObject(map)),
            Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
        }
    }
}

/// A field as Go finds it: the exact name, else a name equal ignoring case.
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).or_else(|| {
        body.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

fn integer(body: &Map<String, Value>, name: &str) -> Result<i64, ApiError> {
    match field(body, name) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => value
            .as_i64()
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be a whole number"))),
    }
}

fn text(body: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match field(body, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_match_like_go() {
        let body: Map<String, Value> =
            serde_json::from_str(r#"{"ProductID": 2, "QUANTITY": 3}"#).unwrap();
        assert_eq!(integer(&body, "ProductId").unwrap(), 2);
        assert_eq!(integer(&body, "Quantity").unwrap(), 3);
        let exact: Map<String, Value> =
            serde_json::from_str(r#"{"email": "a@x.io", "Email": "b@x.io"}"#).unwrap();
        assert_eq!(text(&exact, "Email").unwrap(), "b@x.io");
        assert_eq!(integer(&Map::new(), "Quantity").unwrap(), 0);
        assert!(integer(&exact, "Email").is_err());
    }

    #[test]
    fn prices_are_plain_numbers() {
        assert_eq!(price(99_900, 2), json!(999));
        assert_eq!(price(999, 2), json!(9.99));
        assert_eq!(price(1_200, 0), json!(1200));
    }
}
