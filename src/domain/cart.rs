//! The cart rules, as plain Rust: what may be added, removed, changed and checked out.
//!
//! Every operation checks everything first and only then mutates, so a rejected operation
//! leaves the cart exactly as it was. The workflow's update validators run the same methods on
//! a copy of the cart, so what a validator accepts is exactly what the handler will do.

use super::cart_id::CartId;
use super::catalog::{Catalog, Product, ProductId};
use super::email::{Email, EmailError};
use super::money::{Currency, Money};
use super::payment::{PaymentMethod, PaymentMethodError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// No line may hold more than this many units of one product. Large enough for any shopper,
/// small enough to catch a typo such as `--qty 1000`.
pub const MAX_QUANTITY_PER_LINE: u32 = 99;

/// A cart holds at most this many different products, so no caller can grow one (and its
/// history, which carries the cart through continue-as-new) without bound.
pub const MAX_LINES: usize = 100;

/// Why a checkout failed is kept to this many characters: enough for any provider's reason,
/// bounded whatever a provider or a caller sends.
pub const MAX_REASON_CHARS: usize = 300;

/// `text` cut to at most `max` characters, with `…` where it was cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => {
            let mut cut = text[..end].to_owned();
            cut.pop();
            cut.push('…');
            cut
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    /// A checkout is charging the customer.
    CheckingOut,
    /// A charge was made whose outcome is not known yet (the provider did not answer, or is
    /// still processing it). It ends paid or, only on a definite refusal, open again.
    PaymentPending,
    CheckedOut,
    Expired,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::CheckingOut,
        Status::PaymentPending,
        Status::CheckedOut,
        Status::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::CheckingOut => "checking_out",
            Status::PaymentPending => "payment_pending",
            Status::CheckedOut => "checked_out",
            Status::Expired => "expired",
        }
    }

    /// The status `as_str` names.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a checkout is under way whose outcome is not known yet.
    pub fn is_paying(self) -> bool {
        matches!(self, Status::CheckingOut | Status::PaymentPending)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One product in the cart, with the unit price captured when it was first added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub product_id: ProductId,
    pub name: String,
    pub unit_price: Money,
    pub quantity: u32,
}

impl LineItem {
    /// The line total. `Cart::add` refuses any line whose total would overflow.
    pub fn total(&self) -> Money {
        self.unit_price
            .times(self.quantity)
            .unwrap_or_else(|| Money::new(u64::MAX, self.unit_price.currency))
    }
}

/// What the payment step needs to know about a checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutOrder {
    /// Counts checkout attempts on this cart, starting at 1; part of the idempotency key, so
    /// a retry of the same attempt never charges twice while a new attempt (after a decline)
    /// can succeed.
    pub attempt: u32,
    pub email: Email,
    pub amount: Money,
    pub items: Vec<LineItem>,
    /// What the customer pays with; `None` lets the payment provider pick its test default.
    pub payment: Option<PaymentMethod>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error(
        "product {id} is not in the catalog; valid product ids are {}",
        list(valid)
    )]
    UnknownProduct { id: i64, valid: Vec<ProductId> },
    #[error("product {0} is not sold any more; `cart products` lists what is")]
    NotSold(i64),
    #[error(
        "cart {cart} holds {max} different products, the most one cart can; check out or remove one first"
    )]
    TooManyLines { cart: CartId, max: usize },
    #[error(transparent)]
    Payment(#[from] PaymentMethodError),
    #[error("quantity must be at least 1, not {0}")]
    QuantityNotPositive(i64),
    #[error(
        "at most {max} of one product fit in a cart; this would make {requested} of product {product}"
    )]
    QuantityTooLarge {
        product: ProductId,
        requested: i64,
        max: u32,
    },
    #[error("product {product} is not in cart {cart}")]
    NotInCart { cart: CartId, product: i64 },
    #[error(
        "cart {cart} holds {have} of product {product}, so {requested} cannot be removed; leave out the quantity to remove the whole line"
    )]
    RemoveTooMany {
        cart: CartId,
        product: ProductId,
        have: u32,
        requested: i64,
    },
    #[error(transparent)]
    Email(#[from] EmailError),
    #[error("cart {cart} is empty: add an item before checking out")]
    Empty { cart: CartId },
    #[error(
        "cart {cart} has no e-mail address for the receipt: set one first or give one with checkout"
    )]
    NoEmail { cart: CartId },
    #[error("the cart total would be too large")]
    TotalTooLarge,
    #[error(
        "cart {cart} holds prices in {currency}, but product {product} is now priced in {priced_in}; check out or empty the cart first"
    )]
    OtherCurrency {
        cart: CartId,
        currency: Currency,
        product: ProductId,
        priced_in: Currency,
    },
    #[error("cart {cart} {}", closed_reason(*status))]
    Closed { cart: CartId, status: Status },
    #[error("cart {cart} is not a paid order: only an order can be refunded, cancelled or shipped")]
    NotAnOrder { cart: CartId },
    #[error(transparent)]
    Order(#[from] super::OrderError),
    #[error("the amount: {0}")]
    Amount(super::MoneyError),
}

/// The ids, or the first of them when there are many (`cart products` lists them all).
fn list(ids: &[ProductId]) -> String {
    const SHOWN: usize = 12;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(
            " and {} more (see `cart products`)",
            ids.len() - SHOWN
        ));
    }
    text
}

fn closed_reason(status: Status) -> &'static str {
    match status {
        Status::CheckingOut => "is being checked out; wait for the checkout to finish",
        Status::PaymentPending => {
            "has a payment whose outcome is not known yet; it will be paid or reopen by itself"
        }
        Status::CheckedOut => "is already checked out",
        Status::Expired => "has expired",
        Status::Open => "is open",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    id: CartId,
    items: Vec<LineItem>,
    email: Option<Email>,
    status: Status,
    checkout_attempts: u32,
    last_error: Option<String>,
}

impl Cart {
    pub fn new(id: CartId) -> Self {
        Self {
            id,
            items: Vec::new(),
            email: None,
            status: Status::Open,
            checkout_attempts: 0,
            last_error: None,
        }
    }

    pub fn id(&self) -> &CartId {
        &self.id
    }
    pub fn items(&self) -> &[LineItem] {
        &self.items
    }
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
    pub fn status(&self) -> Status {
        self.status
    }
    /// The currency of the cart's prices: its lines' (one for all, as `add_product` sees to
    /// it); none while the cart is empty.
    pub fn currency(&self) -> Option<Currency> {
        self.items.first().map(|l| l.unit_price.currency)
    }
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The cart total, in the cart's currency (none while it is empty): the one place line
    /// totals are summed.
    pub fn total(&self) -> Option<Money> {
        let currency = self.currency()?;
        let minor = Self::checked_total(&self.items).unwrap_or(u64::MAX);
        Some(Money::new(minor, currency))
    }

    /// The total in minor units; 0 for an empty cart.
    pub fn total_minor(&self) -> u64 {
        self.total().map_or(0, |t| t.minor)
    }

    /// The sum of the lines, or `None` on overflow. Every line is in the cart's currency
    /// (`add_product` sees to it).
    fn checked_total(items: &[LineItem]) -> Option<u64> {
        items.iter().try_fold(0u64, |sum, line| {
            sum.checked_add(line.unit_price.times(line.quantity)?.minor)
        })
    }

    fn ensure_open(&self) -> Result<(), CartError> {
        match self.status {
            Status::Open => Ok(()),
            status => Err(CartError::Closed {
                cart: self.id.clone(),
                status,
            }),
        }
    }

    fn quantity(qty: i64) -> Result<u32, CartError> {
        if qty < 1 {
            return Err(CartError::QuantityNotPositive(qty));
        }
        Ok(u32::try_from(qty).unwrap_or(u32::MAX))
    }

    /// The cart's line of a product, if it holds it.
    pub fn line(&self, product: i64) -> Option<&LineItem> {
        self.items
            .iter()
            .find(|l| i64::from(l.product_id) == product)
    }

    /// A product of the cart as its line prices it, if the cart holds it.
    pub fn product(&self, product: i64) -> Option<Product> {
        let line = self.line(product)?;
        Some(Product {
            id: line.product_id,
            name: line.name.clone(),
            price: line.unit_price,
            description: String::new(),
            image: None,
        })
    }

    /// Whether the cart could take a line of a product it does not hold yet, before that
    /// product is priced: open, a quantity it can hold, and room for one more line. (Its
    /// currency and the total are checked once it is priced, by [`Cart::add_product`].)
    pub fn check_new_line(&self, qty: i64) -> Result<(), CartError> {
        self.ensure_open()?;
        Self::quantity(qty)?;
        if self.items.len() >= MAX_LINES {
            return Err(CartError::TooManyLines {
                cart: self.id.clone(),
                max: MAX_LINES,
            });
        }
        Ok(())
    }

    /// What is wrong with an add whatever the cart holds: a product the catalog does not
    /// sell, a quantity no line can hold, or a cart that takes no more changes. The rest
    /// (room for a line, the merged quantity, the currency) depends on the changes before it.
    pub fn check_add_request(
        &self,
        catalog: &Catalog,
        product: i64,
        qty: i64,
    ) -> Result<(), CartError> {
        self.ensure_open()?;
        let sold = ProductId::try_from(product)
            .ok()
            .and_then(|id| catalog.get(id));
        let Some(found) = sold else {
            return Err(CartError::UnknownProduct {
                id: product,
                valid: catalog.ids(),
            });
        };
        if Self::quantity(qty)? > MAX_QUANTITY_PER_LINE {
            return Err(CartError::QuantityTooLarge {
                product: found.id,
                requested: qty,
                max: MAX_QUANTITY_PER_LINE,
            });
        }
        Ok(())
    }

    /// What is wrong with a remove whatever the cart holds: a quantity below 1, or a cart that
    /// takes no more changes. Whether the line is there depends on the changes before it.
    pub fn check_remove_request(&self, qty: Option<i64>) -> Result<(), CartError> {
        self.ensure_open()?;
        qty.map(Self::quantity).transpose().map(drop)
    }

    /// What is wrong with a checkout whatever the cart holds: a malformed e-mail address or
    /// payment method, or a cart that takes no more changes. Whether the cart has items and an
    /// address depends on the changes before it.
    pub fn check_checkout_request(
        &self,
        email: Option<&str>,
        payment: Option<&str>,
    ) -> Result<(), CartError> {
        self.ensure_open()?;
        email.map(Email::parse).transpose()?;
        payment
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PaymentMethod::parse)
            .transpose()?;
        Ok(())
    }

    /// Adds `qty` of a catalog's product: see [`Cart::add_product`].
    pub fn add(&mut self, catalog: &Catalog, product: i64, qty: i64) -> Result<(), CartError> {
        self.ensure_open()?;
        let found = ProductId::try_from(product)
            .ok()
            .and_then(|id| catalog.get(id));
        let Some(found) = found else {
            return Err(CartError::UnknownProduct {
                id: product,
                valid: catalog.ids(),
            });
        };
        self.add_product(found, qty)
    }

    /// Adds `qty` of a product at its price: merges into its line (quantities add up, the
    /// line keeps the price it was first added at) or appends one. A product priced in
    /// another currency than the lines already in the cart is refused.
    pub fn add_product(&mut self, found: &Product, qty: i64) -> Result<(), CartError> {
        self.ensure_open()?;
        let qty = Self::quantity(qty)?;
        let currency = found.price.currency;
        if let Some(cart) = self.currency()
            && cart != currency
        {
            return Err(CartError::OtherCurrency {
                cart: self.id.clone(),
                currency: cart,
                product: found.id,
                priced_in: currency,
            });
        }
        let mut items = self.items.clone();
        let lines = items.len();
        match items.iter_mut().find(|l| l.product_id == found.id) {
            Some(line) => line.quantity = line.quantity.saturating_add(qty),
            None if lines >= MAX_LINES => {
                return Err(CartError::TooManyLines {
                    cart: self.id.clone(),
                    max: MAX_LINES,
                });
            }
            None => items.push(LineItem {
                product_id: found.id,
                name: found.name.clone(),
                unit_price: found.price,
                quantity: qty,
            }),
        }
        let line = items.iter().find(|l| l.product_id == found.id);
        let new_qty = line.map_or(qty, |l| l.quantity);
        if new_qty > MAX_QUANTITY_PER_LINE {
            return Err(CartError::QuantityTooLarge {
                product: found.id,
                requested: i64::from(new_qty),
                max: MAX_QUANTITY_PER_LINE,
            });
        }
        if Self::checked_total(&items).is_none() {
            return Err(CartError::TotalTooLarge);
        }
        self.items = items;
        Ok(())
    }

    /// Removes `qty` of a product, or the whole line when `qty` is `None`. A line that reaches
    /// zero disappears.
    pub fn remove(&mut self, product: i64, qty: Option<i64>) -> Result<(), CartError> {
        self.ensure_open()?;
        let not_in_cart = || CartError::NotInCart {
            cart: self.id.clone(),
            product,
        };
        let index = ProductId::try_from(product)
            .ok()
            .and_then(|id| self.items.iter().position(|l| l.product_id == id))
            .ok_or_else(not_in_cart)?;
        let have = self.items[index].quantity;
        let take = match qty {
            None => have,
            Some(q) => Self::quantity(q)?,
        };
        if take > have {
            return Err(CartError::RemoveTooMany {
                cart: self.id.clone(),
                product: self.items[index].product_id,
                have,
                requested: qty.unwrap_or_default(),
            });
        }
        if take == have {
            self.items.remove(index);
        } else {
            self.items[index].quantity = have - take;
        }
        Ok(())
    }

    pub fn set_email(&mut self, address: &str) -> Result<(), CartError> {
        self.ensure_open()?;
        self.email = Some(Email::parse(address)?);
        Ok(())
    }

    /// Starts a checkout: the cart must be open, non-empty and have an e-mail (given here or
    /// set before). The cart is `checking_out` until the payment's outcome is recorded.
    pub fn begin_checkout(
        &mut self,
        email: Option<&str>,
        payment: Option<&str>,
    ) -> Result<CheckoutOrder, CartError> {
        self.ensure_open()?;
        let email = match email {
            Some(text) => Some(Email::parse(text)?),
            None => self.email.clone(),
        };
        let payment = payment
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PaymentMethod::parse)
            .transpose()?;
        let Some(amount) = self.total().filter(|_| !self.items.is_empty()) else {
            return Err(CartError::Empty {
                cart: self.id.clone(),
            });
        };
        let Some(email) = email else {
            return Err(CartError::NoEmail {
                cart: self.id.clone(),
            });
        };
        self.email = Some(email.clone());
        self.status = Status::CheckingOut;
        self.checkout_attempts += 1;
        self.last_error = None;
        Ok(CheckoutOrder {
            attempt: self.checkout_attempts,
            email,
            amount,
            items: self.items.clone(),
            payment,
        })
    }

    /// The payment was refused, definitely: nothing was charged, the cart is open again and
    /// remembers why (in a bounded text).
    pub fn checkout_failed(&mut self, reason: &str) {
        if self.status.is_paying() {
            self.status = Status::Open;
        }
        self.last_error = Some(bounded(reason, MAX_REASON_CHARS));
    }

    /// The charge's outcome is not known yet: the cart waits for it, neither open nor paid,
    /// and says why.
    pub fn payment_unknown(&mut self, reason: &str) {
        if self.status.is_paying() {
            self.status = Status::PaymentPending;
        }
        self.last_error = Some(bounded(reason, MAX_REASON_CHARS));
    }

    pub fn checkout_succeeded(&mut self) {
        if self.status.is_paying() {
            self.status = Status::CheckedOut;
            self.last_error = None;
        }
    }

    /// How many checkouts this cart has begun.
    pub fn checkout_attempts(&self) -> u32 {
        self.checkout_attempts
    }

    /// Closes an idle open cart for good.
    pub fn expire(&mut self) {
        if self.status == Status::Open {
            self.status = Status::Expired;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cart() -> Cart {
        Cart::new(CartId::parse("CART-test").unwrap())
    }

    fn catalog() -> Catalog {
        Catalog::builtin()
    }

    #[test]
    fn add_appends_then_merges() {
        let mut c = cart();
        c.add(&catalog(), 0, 1).unwrap();
        c.add(&catalog(), 2, 3).unwrap();
        c.add(&catalog(), 0, 2).unwrap();
        let lines: Vec<_> = c
            .items()
            .iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        assert_eq!(lines, vec![(0, 3), (2, 3)]);
        assert_eq!(c.items()[0].name, "iPhone 12 Pro");
        assert_eq!(c.items()[0].total().minor, 3 * 99_900);
        assert_eq!(c.total().unwrap().minor, 3 * 99_900 + 3 * 39_900);
    }

    #[test]
    fn unknown_product_names_the_valid_ids() {
        let err = cart().add(&catalog(), 9, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "product 9 is not in the catalog; valid product ids are 0, 1, 2, 3"
        );
        assert!(cart().add(&catalog(), -1, 1).is_err());
    }

    #[test]
    fn quantity_must_be_positive_and_bounded_also_after_merging() {
        let mut c = cart();
        assert_eq!(
            c.add(&catalog(), 0, 0),
            Err(CartError::QuantityNotPositive(0))
        );
        assert_eq!(
            c.add(&catalog(), 0, -3),
            Err(CartError::QuantityNotPositive(-3))
        );
        assert!(matches!(
            c.add(&catalog(), 0, 100),
            Err(CartError::QuantityTooLarge { requested: 100, .. })
        ));
        assert!(matches!(
            c.add(&catalog(), 0, i64::MAX),
            Err(CartError::QuantityTooLarge { .. })
        ));
        c.add(&catalog(), 0, 60).unwrap();
        let err = c.add(&catalog(), 0, 40).unwrap_err();
        assert!(err.to_string().contains("this would make 100"), "{err}");
        assert_eq!(c.items()[0].quantity, 60, "a rejected add changes nothing");
        c.add(&catalog(), 0, 39).unwrap();
        assert_eq!(c.items()[0].quantity, MAX_QUANTITY_PER_LINE);
    }

    #[test]
    fn remove_decrements_and_drops_empty_lines() {
        let mut c = cart();
        c.add(&catalog(), 1, 2).unwrap();
        c.remove(1, Some(1)).unwrap();
        assert_eq!(c.items()[0].quantity, 1);
        c.remove(1, Some(1)).unwrap();
        assert!(c.is_empty());
    }

    #[test]
    fn remove_without_quantity_drops_the_line() {
        let mut c = cart();
        c.add(&catalog(), 1, 5).unwrap();
        c.add(&catalog(), 2, 1).unwrap();
        c.remove(1, None).unwrap();
        assert_eq!(c.items().len(), 1);
        assert_eq!(c.items()[0].product_id, 2);
    }

    #[test]
    fn remove_rejects_absent_products_and_too_many() {
        let mut c = cart();
        assert_eq!(
            c.remove(3, None).unwrap_err().to_string(),
            "product 3 is not in cart CART-test"
        );
        c.add(&catalog(), 3, 2).unwrap();
        let err = c.remove(3, Some(5)).unwrap_err();
        assert!(err.to_string().contains("holds 2 of product 3"), "{err}");
        assert!(matches!(
            c.remove(3, Some(0)),
            Err(CartError::QuantityNotPositive(0))
        ));
        assert_eq!(c.items()[0].quantity, 2);
    }

    #[test]
    fn prices_are_captured_when_added() {
        let mut c = cart();
        c.add(&catalog(), 0, 1).unwrap();
        let json =
            r#"{"currency":"USD","products":[{"id":0,"name":"iPhone 12 Pro","price":"1.00"}]}"#;
        let cheaper = Catalog::parse(json, crate::domain::CatalogFormat::Json).unwrap();
        c.add(&cheaper, 0, 1).unwrap();
        assert_eq!(c.items()[0].unit_price.minor, 99_900);
        assert_eq!(c.total().unwrap().minor, 2 * 99_900);
    }

    #[test]
    fn email_is_validated_and_normalised() {
        let mut c = cart();
        assert!(matches!(c.set_email("nope"), Err(CartError::Email(_))));
        assert_eq!(c.email(), None);
        c.set_email("Ann@EXAMPLE.com").unwrap();
        assert_eq!(c.email().unwrap().as_str(), "Ann@example.com");
    }

    #[test]
    fn checkout_needs_items_and_an_email() {
        let mut c = cart();
        assert!(matches!(
            c.begin_checkout(None, None),
            Err(CartError::Empty { .. })
        ));
        c.add(&catalog(), 2, 1).unwrap();
        assert!(matches!(
            c.begin_checkout(None, None),
            Err(CartError::NoEmail { .. })
        ));
        assert!(matches!(
            c.begin_checkout(Some("bad"), None),
            Err(CartError::Email(_))
        ));
        assert_eq!(c.status(), Status::Open);
        let order = c.begin_checkout(Some("a@example.com"), None).unwrap();
        assert_eq!(order.attempt, 1);
        assert_eq!(order.amount.minor, 39_900);
        assert_eq!(order.email.as_str(), "a@example.com");
        assert_eq!(c.email().unwrap().as_str(), "a@example.com");
        assert_eq!(c.status(), Status::CheckingOut);
    }

    #[test]
    fn a_failed_payment_reopens_the_cart_and_a_new_attempt_gets_a_new_number() {
        let mut c = cart();
        c.add(&catalog(), 2, 1).unwrap();
        c.begin_checkout(Some("a@example.com"), None).unwrap();
        let err = c.add(&catalog(), 1, 1).unwrap_err();
        assert!(err.to_string().contains("is being checked out"), "{err}");
        c.checkout_failed("card declined");
        assert_eq!(c.status(), Status::Open);
        assert_eq!(c.last_error(), Some("card declined"));
        let order = c.begin_checkout(None, None).unwrap();
        assert_eq!(order.attempt, 2);
        assert_eq!(c.last_error(), None);
        c.checkout_succeeded();
        assert_eq!(c.status(), Status::CheckedOut);
    }

    #[test]
    fn an_unknown_outcome_keeps_the_cart_closed_until_it_is_known() {
        let mut c = cart();
        c.add(&catalog(), 2, 1).unwrap();
        c.begin_checkout(Some("a@example.com"), None).unwrap();
        c.payment_unknown("the provider answered 500");
        assert_eq!(c.status(), Status::PaymentPending);
        assert_eq!(c.last_error(), Some("the provider answered 500"));
        let err = c.add(&catalog(), 1, 1).unwrap_err().to_string();
        assert!(err.contains("whose outcome is not known yet"), "{err}");
        assert!(c.begin_checkout(None, None).is_err(), "no second charge");
        c.checkout_succeeded();
        assert_eq!(c.status(), Status::CheckedOut);
        assert_eq!(c.last_error(), None);

        let mut d = cart();
        d.add(&catalog(), 2, 1).unwrap();
        d.begin_checkout(Some("a@example.com"), None).unwrap();
        d.payment_unknown("timed out");
        d.checkout_failed("card declined: insufficient funds");
        assert_eq!(
            d.status(),
            Status::Open,
            "only a definite refusal reopens it"
        );
        assert_eq!(d.begin_checkout(None, None).unwrap().attempt, 2);
    }

    #[test]
    fn every_change_after_checkout_is_rejected() {
        let mut c = cart();
        c.add(&catalog(), 2, 1).unwrap();
        c.begin_checkout(Some("a@example.com"), None).unwrap();
        c.checkout_succeeded();
        let before = c.clone();
        let expected = "cart CART-test is already checked out";
        assert_eq!(c.add(&catalog(), 0, 1).unwrap_err().to_string(), expected);
        assert_eq!(c.remove(2, None).unwrap_err().to_string(), expected);
        assert_eq!(
            c.set_email("b@example.com").unwrap_err().to_string(),
            expected
        );
        assert_eq!(
            c.begin_checkout(None, None).unwrap_err().to_string(),
            expected
        );
        c.expire();
        assert_eq!(c, before);
    }

    #[test]
    fn expiry_closes_only_open_carts() {
        let mut c = cart();
        c.expire();
        assert_eq!(c.status(), Status::Expired);
        assert_eq!(
            c.add(&catalog(), 0, 1).unwrap_err().to_string(),
            "cart CART-test has expired"
        );
    }

    /// A catalog of `n` products at 1.00 USD, ids from 0.
    fn catalog_of(n: u32) -> Catalog {
        let products = (0..n)
            .map(|id| crate::domain::Product {
                id,
                name: format!("p{id}"),
                price: Money::new(100, Currency::usd()),
                description: String::new(),
                image: None,
            })
            .collect();
        Catalog::new(Currency::usd(), products).unwrap()
    }

    #[test]
    fn a_cart_holds_a_bounded_number_of_lines() {
        let catalog = catalog_of(MAX_LINES as u32 + 1);
        let mut c = cart();
        for id in 0..MAX_LINES as i64 {
            c.add(&catalog, id, 1).unwrap();
        }
        let before = c.clone();
        let err = c.add(&catalog, MAX_LINES as i64, 1).unwrap_err();
        assert!(
            err.to_string().contains("holds 100 different products"),
            "{err}"
        );
        assert_eq!(c, before);
        c.add(&catalog, 0, 1).unwrap();
        assert_eq!(
            c.items()[0].quantity,
            2,
            "a product already in the cart still adds up"
        );
    }

    #[test]
    fn payments_are_checked_and_reasons_bounded() {
        let mut c = cart();
        c.add(&catalog(), 2, 1).unwrap();
        let huge = format!("tok_{}", "x".repeat(1_500_000));
        let err = c
            .begin_checkout(Some("a@example.com"), Some(&huge))
            .unwrap_err();
        assert!(matches!(err, CartError::Payment(_)));
        assert_eq!(
            c.status(),
            Status::Open,
            "a refused checkout changes nothing"
        );
        let order = c
            .begin_checkout(Some("a@example.com"), Some(" tok_visa "))
            .unwrap();
        assert_eq!(order.payment.unwrap().as_str(), "tok_visa");
        c.checkout_failed(&"declined ".repeat(10_000));
        let kept = c.last_error().unwrap();
        assert_eq!(kept.chars().count(), MAX_REASON_CHARS);
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn many_valid_ids_are_not_all_listed() {
        let catalog = catalog_of(40);
        let err = cart().add(&catalog, 99, 1).unwrap_err().to_string();
        assert!(
            err.ends_with("0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 28 more (see `cart products`)"),
            "{err}"
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(i64, i64),
        Remove(i64, Option<i64>),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (-1i64..6, -2i64..120).prop_map(|(p, q)| Op::Add(p, q)),
            (-1i64..6, proptest::option::of(-2i64..120)).prop_map(|(p, q)| Op::Remove(p, q)),
        ]
    }

    fn apply(c: &mut Cart, op: &Op) -> Result<(), CartError> {
        match *op {
            Op::Add(p, q) => c.add(&catalog(), p, q),
            Op::Remove(p, q) => c.remove(p, q),
        }
    }

    /// The first rule about a cart's lines that `items` breaks, if any.
    fn broken_invariant(items: &[LineItem]) -> Option<&'static str> {
        let products: std::collections::HashSet<_> = items.iter().map(|l| l.product_id).collect();
        if products.len() != items.len() {
            return Some("one line per product");
        }
        if !items
            .iter()
            .all(|l| (1..=MAX_QUANTITY_PER_LINE).contains(&l.quantity))
        {
            return Some("every quantity from 1 to the most a line holds");
        }
        None
    }

    #[test]
    fn the_invariant_check_catches_lines_built_wrong() {
        let mut c = cart();
        c.add(&catalog(), 0, 1).unwrap();
        c.add(&catalog(), 1, 1).unwrap();
        let good = c.items().to_vec();
        assert_eq!(broken_invariant(&good), None);

        // The same product twice, not side by side.
        let mut repeated = good.clone();
        repeated.push(good[0].clone());
        assert_eq!(broken_invariant(&repeated), Some("one line per product"));

        let mut empty_line = good.clone();
        empty_line[1].quantity = 0;
        assert_eq!(
            broken_invariant(&empty_line),
            Some("every quantity from 1 to the most a line holds")
        );
    }

    proptest! {
        #[test]
        fn adding_then_removing_the_same_quantity_restores_the_cart(
            ops in proptest::collection::vec(op(), 0..20),
            product in 0i64..4,
            qty in 1i64..=99,
        ) {
            let mut c = cart();
            for o in &ops { let _ = apply(&mut c, o); }
            let before = c.clone();
            if c.add(&catalog(), product, qty).is_ok() {
                c.remove(product, Some(qty)).unwrap();
                // Removing and re-adding keeps lines in place except a line that was new.
                prop_assert_eq!(c, before);
            }
        }

        #[test]
        fn rejected_operations_change_nothing_and_invariants_hold(
            ops in proptest::collection::vec(op(), 0..40),
        ) {
            let mut c = cart();
            for o in &ops {
                let before = c.clone();
                if apply(&mut c, o).is_err() {
                    prop_assert_eq!(&c, &before);
                }
                prop_assert_eq!(broken_invariant(c.items()), None);
                let sum: u64 = c.items().iter().map(|l| l.unit_price.minor * u64::from(l.quantity)).sum();
                prop_assert_eq!(c.total_minor(), sum);
            }
        }
    }
}
