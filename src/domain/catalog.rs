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

/// A validated catalog. It travels inside a cart's settings, so the prices a cart charges are
/// the ones it was opened with (see `CartSettings` in the workflow).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    currency: Currency,
    products: Vec<Product>,
}

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
            price: Money::new(minor, usd.clone()),
            description: description.to_owned(),
            image: Some(format!("https://images.unsplash.com/photo-{photo}")),
        };
        Self {
            currency: usd.clone(),
            products: vec![
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
            ],
        }
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
        let mut seen = BTreeSet::new();
        let mut products = Vec::with_capacity(file.products.len());
        for entry in file.products {
            if !seen.insert(entry.id) {
                return Err(CatalogError::DuplicateId(entry.id));
            }
            let name = entry.name.trim().to_owned();
            if name.is_empty() {
                return Err(CatalogError::EmptyName(entry.id));
            }
            let price = Money::parse(&entry.price, currency.clone()).map_err(|source| {
                CatalogError::Price {
                    id: entry.id,
                    source,
                }
            })?;
            if price.minor == 0 {
                return Err(CatalogError::ZeroPrice { id: entry.id });
            }
            products.push(Product {
                id: entry.id,
                name,
                price,
                description: entry.description,
                image: entry.image,
            });
        }
        if products.is_empty() {
            return Err(CatalogError::Empty);
        }
        products.sort_by_key(|p| p.id);
        Ok(Self { currency, products })
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
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
