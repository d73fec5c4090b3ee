//! The shopping cart as plain Rust: money, the catalog, e-mail addresses and the cart rules.
//!
//! Nothing here knows about Temporal, async runtimes, HTTP or the terminal; the workflow and the
//! command line are thin layers over these types.

mod cart;
mod catalog;
mod email;
mod money;

pub use cart::{Cart, CartError, CheckoutOrder, LineItem, MAX_QUANTITY_PER_LINE, Status};
pub use catalog::{Catalog, CatalogError, CatalogFormat, Product, ProductId};
pub use email::{Email, EmailError};
pub use money::{Currency, Money, MoneyError};
