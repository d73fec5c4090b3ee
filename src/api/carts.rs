//! The cart operations the API needs, as a trait. [`CartClient`] serves them through Temporal;
//! the router's own tests put a scripted stand-in behind it, so that every route, rejection
//! and status code is checked in-process in milliseconds.

use crate::client::{CartClient, CartFilter, CartSummary, ClientError};
use crate::domain::{CartId, Catalog};
use crate::workflow::{
    AddItem, CancelOrder, CartInput, CartView, Checkout, RefundOrder, RemoveItem, SetEmail,
    ShipOrder,
};
use async_trait::async_trait;

#[async_trait]
pub trait Carts: Send + Sync {
    async fn catalog(&self) -> Result<Catalog, ClientError>;
    /// The open carts, or those `filter` chooses.
    async fn list(&self, filter: &CartFilter) -> Result<Vec<CartSummary>, ClientError>;
    async fn create(&self, id: &CartId, input: CartInput) -> Result<CartView, ClientError>;
    async fn get(&self, id: &CartId) -> Result<CartView, ClientError>;
    /// Adds to a cart, starting it with `start` if it does not exist yet.
    async fn add(
        &self,
        id: &CartId,
        item: AddItem,
        start: CartInput,
    ) -> Result<CartView, ClientError>;
    async fn remove(&self, id: &CartId, item: RemoveItem) -> Result<CartView, ClientError>;
    async fn set_email(&self, id: &CartId, email: SetEmail) -> Result<CartView, ClientError>;
    async fn checkout(&self, id: &CartId, request: Checkout) -> Result<CartView, ClientError>;
    async fn refund(&self, id: &CartId, request: RefundOrder) -> Result<CartView, ClientError>;
    async fn cancel(&self, id: &CartId, request: CancelOrder) -> Result<CartView, ClientError>;
    async fn ship(&self, id: &CartId, request: ShipOrder) -> Result<CartView, ClientError>;
    /// Whether a worker polls the carts' task queue.
    async fn worker_polling(&self) -> Result<bool, ClientError>;
}

#[async_trait]
impl Carts for CartClient {
    async fn catalog(&self) -> Result<Catalog, ClientError> {
        CartClient::catalog(self).await
    }
    async fn list(&self, filter: &CartFilter) -> Result<Vec<CartSummary>, ClientError> {
        CartClient::list(self, filter).await
    }
    async fn create(&self, id: &CartId, input: CartInput) -> Result<CartView, ClientError> {
        CartClient::create(self, id, input).await
    }
    async fn get(&self, id: &CartId) -> Result<CartView, ClientError> {
        CartClient::get(self, id).await
    }
    async fn add(
        &self,
        id: &CartId,
        item: AddItem,
        start: CartInput,
    ) -> Result<CartView, ClientError> {
        CartClient::add(self, id, item, start).await
    }
    async fn remove(&self, id: &CartId, item: RemoveItem) -> Result<CartView, ClientError> {
        CartClient::remove(self, id, item).await
    }
    async fn set_email(&self, id: &CartId, email: SetEmail) -> Result<CartView, ClientError> {
        CartClient::set_email(self, id, email).await
    }
    async fn checkout(&self, id: &CartId, request: Checkout) -> Result<CartView, ClientError> {
        CartClient::checkout(self, id, request).await
    }
    async fn refund(&self, id: &CartId, request: RefundOrder) -> Result<CartView, ClientError> {
        CartClient::refund(self, id, request).await
    }
    async fn cancel(&self, id: &CartId, request: CancelOrder) -> Result<CartView, ClientError> {
        CartClient::cancel(self, id, request).await
    }
    async fn ship(&self, id: &CartId, request: ShipOrder) -> Result<CartView, ClientError> {
        CartClient::ship(self, id, request).await
    }
    async fn worker_polling(&self) -> Result<bool, ClientError> {
        CartClient::worker_polling(self).await
    }
}
