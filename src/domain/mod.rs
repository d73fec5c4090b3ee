//! The shopping cart as plain Rust: money, the catalog, e-mail addresses and the cart rules.
//!
//! Nothing here knows about Temporal, async runtimes, HTTP or the terminal; the workflow and the
//! command line are thin layers over these types.

mod cart;
mod cart_id;
mod catalog;
mod email;
mod money;
mod order;
mod payment;

pub use cart::{
    Cart, CartError, CheckoutOrder, LineItem, MAX_LINES, MAX_QUANTITY_PER_LINE, MAX_REASON_CHARS,
    Status, bounded,
};
pub use cart_id::{CartId, CartIdError};
pub use catalog::{Catalog, CatalogError, CatalogFormat, MAX_PRODUCTS, Product, ProductId};
pub use email::{Email, EmailError};
pub use money::{Currency, Money, MoneyError};
pub use order::{
    Dispute, MAX_ORDER_TEXT_CHARS, Order, OrderError, OrderStatus, Refund, RefundState,
    RefundVerdict, Shipment,
};
pub use payment::{
    Heard, Known, MAX_PAYMENT_CHARS, Observation, PaymentAnswer, PaymentMethod, PaymentMethodError,
    PaymentRecord, PaymentTiming, SENDS, Step,
};
