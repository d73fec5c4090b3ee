//! The product catalog: the tutorial's four phones built in, or any catalog read from a TOML or
//! JSON file.
//!
//! A file looks like this (TOML; JSON has the same shape):
//!
//! ```toml
//! currency = "USD"
//!
//! [[products]]
//! id = 0
//! name = "iPhone 12 Pro"
//! price = "999.00"
//! ```
//!
//! Prices are decimal strings so that no float ever touches money. One catalog has one
//! currency; ids are unique; every price is positive.

use super::money::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A product id, as in the tutorial's `ProductId`.
pub type ProductId = u32;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub price: Money,
    /// Shown by shop front ends (the tutorial's web page); never used by the cart rules.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A picture's URL, for shop front ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A validated catalog: the shop's products and prices. Every way to get one (a file, the
/// built-in catalog, deserializing) goes through [`Catalog::new`] and its checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UncheckedCatalog")]
pub struct Catalog {
    currency: Currency,
    products: Vec<Product>,
}

/// A catalog as it arrives from serde, before its checks.
#[derive(Deserialize)]
struct UncheckedCatalog {
    currency: Currency,
    products: Vec<Product>,
}

impl TryFrom<UncheckedCatalog> for Catalog {
    type Error = CatalogError;

    fn try_from(c: UncheckedCatalog) -> Result<Self, CatalogError> {
        Catalog::new(c.currency, c.products)
    }
}

/// At most this many products in one catalog: far more than a shop on the command line needs,
/// few enough that a wrong file is caught.
pub const MAX_PRODUCTS: usize = 10_000;
/// At most this many characters in a product name.
pub const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the catalog is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("the catalog has no products")]
    Empty,
    #[error("product id {0} appears more than once in the catalog")]
    DuplicateId(ProductId),
    #[error("product {0} has an empty name")]
    EmptyName(ProductId),
    #[error("product {0} has a name longer than {MAX_NAME_CHARS} characters")]
    LongName(ProductId),
    #[error("the catalog has {0} products; at most {MAX_PRODUCTS} are allowed")]
    TooMany(usize),
    #[error(
        "product {id} is priced in {found}, but the catalog's currency is {currency}: one catalog has one currency"
    )]
    MixedCurrency {
        id: ProductId,
        found: Currency,
        currency: Currency,
    },
    #[error("product {id} has a price of zero: every product needs a positive price")]
    ZeroPrice { id: ProductId },
    #[error("product {id}: {source}")]
    Price {
        id: ProductId,
        #[source]
        source: MoneyError,
    },
    #[error(transparent)]
    Currency(MoneyError),
}

/// The on-disk shape of a catalog file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    currency: String,
    products: Vec<ProductEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductEntry {
    id: ProductId,
    name: String,
    price: String,
    #[serde(default)]
    description: String,
    image: Option<String>,
}

/// Which text format a catalog file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogFormat {
    Toml,
    Json,
}

impl Catalog {
    /// The tutorial's catalog. Carts started without settings (the tutorial's own clients) use
    /// it, so it must never change: changing it would re-price those carts on replay.
    pub fn builtin() -> Self {
        let usd = Currency::usd();
        // Descriptions and pictures as the tutorial's shop shows them.
        let product = |id, name: &str, minor, description: &str, photo: &str| Product {
            id,
            name: name.to_owned(),
            price: Money::new(minor, usd),
            description: description.to_owned(),
            image: Some(format!("https://images.unsplash.com/photo-{photo}")),
        };
        let products = vec![
            product(
                0,
                "iPhone 12 Pro",
                99_900,
                "Test",
                "1603921326210-6edd2d60ca68",
            ),
            product(1, "iPhone 12", 69_900, "Test", "1611472173362-3f53dbd65d80"),
            product(2, "iPhone SE", 39_900, "399", "1529618160092-2f8ccc8e087b"),
            product(3, "iPhone 11", 59_900, "599", "1574755393849-623942496936"),
        ];
        Self::new(usd, products).expect("the built-in catalog passes the catalog checks")
    }

    /// A catalog from its parts, if they pass every check: some products and not too many,
    /// unique ids, names that are neither empty nor overlong, positive prices, one currency.
    /// Products are kept sorted by id.
    pub fn new(currency: Currency, mut products: Vec<Product>) -> Result<Self, CatalogError> {
        if products.is_empty() {
            return Err(CatalogError::Empty);
        }
        if products.len() > MAX_PRODUCTS {
            return Err(CatalogError::TooMany(products.len()));
        }
        let mut seen = BTreeSet::new();
        for p in &mut products {
            if !seen.insert(p.id) {
                return Err(CatalogError::DuplicateId(p.id));
            }
            p.name = p.name.trim().to_owned();
            if p.name.is_empty() {
                return Err(CatalogError::EmptyName(p.id));
            }
            if p.name.chars().count() > MAX_NAME_CHARS {
                return Err(CatalogError::LongName(p.id));
            }
            if p.price.currency != currency {
                return Err(CatalogError::MixedCurrency {
                    id: p.id,
                    found: p.price.currency,
                    currency,
                });
            }
            if p.price.minor == 0 {
                return Err(CatalogError::ZeroPrice { id: p.id });
            }
        }
        products.sort_by_key(|p| p.id);
        Ok(Self { currency, products })
    }

    /// Parses and validates catalog text.
    pub fn parse(text: &str, format: CatalogFormat) -> Result<Self, CatalogError> {
        let file: CatalogFile = match format {
            CatalogFormat::Toml => toml::from_str(text).map_err(|e| CatalogError::Syntax {
                format: "TOML",
                message: e.message().to_owned(),
            })?,
            CatalogFormat::Json => {
                serde_json::from_str(text).map_err(|e| CatalogError::Syntax {
                    format: "JSON",
                    message: e.to_string(),
                })?
            }
        };
        let currency = Currency::try_from(file.currency).map_err(CatalogError::Currency)?;
        let products = file
            .products
            .into_iter()
            .map(|entry| {
                let price =
                    Money::parse(&entry.price, currency).map_err(|source| CatalogError::Price {
                        id: entry.id,
                        source,
                    })?;
                Ok(Product {
                    id: entry.id,
                    name: entry.name,
                    price,
                    description: entry.description,
                    image: entry.image,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Self::new(currency, products)
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn get(&self, id: ProductId) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    pub fn ids(&self) -> Vec<ProductId> {
        self.products.iter().map(|p| p.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML_CATALOG: &str = r#"
currency = "eur"

[[products]]
id = 7
name = "Pixel 9"
price = "799.00"

[[products]]
id = 2
name = " Pixel 9a "
price = "499"
"#;

    #[test]
    fn builtin_catalog_is_the_tutorials() {
        let c = Catalog::builtin();
        assert_eq!(c.ids(), vec![0, 1, 2, 3]);
        assert_eq!(c.get(0).unwrap().name, "iPhone 12 Pro");
        assert_eq!(c.get(0).unwrap().price.minor, 99_900);
        assert_eq!(c.get(1).unwrap().price.minor, 69_900);
        assert_eq!(c.get(2).unwrap().price.minor, 39_900);
        assert_eq!(c.get(3).unwrap().price.minor, 59_900);
        assert_eq!(c.currency().code(), "USD");
    }

    #[test]
    fn parses_toml_sorted_and_trimmed() {
        let c = Catalog::parse(TOML_CATALOG, CatalogFormat::Toml).unwrap();
        assert_eq!(c.ids(), vec![2, 7]);
        assert_eq!(c.get(2).unwrap().name, "Pixel 9a");
        assert_eq!(c.get(2).unwrap().price.minor, 49_900);
        assert_eq!(c.currency().code(), "EUR");
    }

    #[test]
    fn parses_json() {
        let json = r#"{"currency":"USD","products":[{"id":1,"name":"Case","price":"19.99"}]}"#;
        let c = Catalog::parse(json, CatalogFormat::Json).unwrap();
        assert_eq!(c.get(1).unwrap().price.minor, 1_999);
    }

    #[test]
    fn every_source_passes_the_same_checks() {
        // JSON files are checked like TOML ones.
        let dup = r#"{"currency":"USD","products":[{"id":1,"name":"a","price":"1"},{"id":1,"name":"b","price":"2"}]}"#;
        let err = Catalog::parse(dup, CatalogFormat::Json).unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
        // A catalog deserialized from its own form (as old carts carry it) is checked too:
        // a product priced in yen inside a dollar catalog is refused, not charged as cents.
        let mixed = r#"{"currency":"USD","products":[
            {"id":0,"name":"Phone","price":{"minor":999,"currency":"USD"}},
            {"id":1,"name":"Case","price":{"minor":1200,"currency":"JPY"}}]}"#;
        let err = serde_json::from_str::<Catalog>(mixed)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("priced in JPY, but the catalog's currency is USD"),
            "{err}"
        );
        let zero = r#"{"currency":"USD","products":[{"id":0,"name":"x","price":{"minor":0,"currency":"USD"}}]}"#;
        assert!(serde_json::from_str::<Catalog>(zero).is_err());
        // The built-in catalog is one more source: it survives its own checks and a round trip.
        let builtin = Catalog::builtin();
        let json = serde_json::to_string(&builtin).unwrap();
        assert_eq!(serde_json::from_str::<Catalog>(&json).unwrap(), builtin);
    }

    #[test]
    fn the_number_of_products_and_the_names_are_bounded() {
        let product = |id| Product {
            id,
            name: format!("p{id}"),
            price: Money::new(1, Currency::usd()),
            description: String::new(),
            image: None,
        };
        let many: Vec<_> = (0..=MAX_PRODUCTS as u32).map(product).collect();
        assert!(matches!(
            Catalog::new(Currency::usd(), many),
            Err(CatalogError::TooMany(_))
        ));
        let mut long = product(1);
        long.name = "x".repeat(MAX_NAME_CHARS + 1);
        assert!(matches!(
            Catalog::new(Currency::usd(), vec![long]),
            Err(CatalogError::LongName(1))
        ));
    }

    #[test]
    fn prices_take_the_currency_s_decimals() {
        let text = |currency: &str, price: &str| {
            format!(
                "currency = \"{currency}\"\n[[products]]\nid = 1\nname = \"a\"\nprice = \"{price}\""
            )
        };
        let minor = |currency: &str, price: &str| {
            Catalog::parse(&text(currency, price), CatalogFormat::Toml)
                .map(|c| c.get(1).unwrap().price.minor)
        };
        assert_eq!(minor("JPY", "1200").unwrap(), 1_200);
        assert!(minor("JPY", "1200.50").is_err());
        assert_eq!(minor("EUR", "12.50").unwrap(), 1_250);
        assert_eq!(minor("KWD", "10.00").unwrap(), 10_000);
        assert_eq!(minor("KWD", "10.125").unwrap(), 10_125);
    }

    #[test]
    fn rejects_bad_catalogs_with_a_reason() {
        let cases = [
            (r#"currency = "USD""#, "missing field"),
            ("currency = \"USD\"\nproducts = []", "no products"),
            (
                "currency = \"USD\"\n[[products]]\nid = 1\nname = \"a\"\nprice = \"1\"\n[[products]]\nid = 1\nname = \"b\"\nprice = \"2\"",
                "more than once",
            ),
            (
                "currency = \"USD\"\n[[products]]\nid = 1\nname = \"a\"\nprice = \"1.999\"",
                "not a price",
            ),
            (
                "currency = \"USD\"\n[[products]]\nid = 1\nname = \"a\"\nprice = \"0\"",
                "positive price",
            ),
            (
                "currency = \"USD\"\n[[products]]\nid = 1\nname = \"  \"\nprice = \"1\"",
                "empty name",
            ),
            (
                "currency = \"DOLLARS\"\n[[products]]\nid = 1\nname = \"a\"\nprice = \"1\"",
                "currency code",
            ),
            (
                "currency = \"USD\"\n[[products]]\nid = 1\nname = \"a\"\nprice = 1.5",
                "invalid type",
            ),
        ];
        for (text, expected) in cases {
            let err = Catalog::parse(text, CatalogFormat::Toml)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }
}
