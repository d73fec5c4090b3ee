//! A cart's id: its format, how a fresh one is made and how one given by a person is checked.
//!
//! The id is also the cart's Temporal workflow id, so a cart is found by it alone.

use std::fmt;

/// `CART-` and then letters, digits, `-`, `_` or `.`, at most [`CartId::MAX_CHARS`] in all: safe
/// everywhere an id travels (shell words, URLs, file names, idempotency keys).
///
/// [`CartId::parse`] checks text from people and HTTP requests. Deserializing does not check:
/// ids inside stored payloads were checked when they came in, and the workflow takes its id from
/// Temporal as it is, so a cart started by another tool under an id of its own keeps working.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CartId(String);

/// Why text is not a cart id; the message says what one looks like.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CartIdError {
    #[error("{0:?} is not a cart id: cart ids look like CART-1a2b3c")]
    NoPrefix(String),
    #[error(
        "{0:?} is not a cart id: after CART- use only letters, digits, '-', '_' or '.' (at most 128 characters)"
    )]
    BadCharacters(String),
}

impl CartId {
    pub const PREFIX: &str = "CART-";
    pub const MAX_CHARS: usize = 128;

    /// A fresh id such as `CART-3f9c2a7b41d0`: random, never time-based, so two clients never
    /// collide.
    pub fn generate() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("{}{}", Self::PREFIX, &hex[..12]))
    }

    /// Checks an id given by a person or a request.
    pub fn parse(text: &str) -> Result<Self, CartIdError> {
        let rest = text
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| CartIdError::NoPrefix(text.to_owned()))?;
        let ok = !rest.is_empty()
            && text.len() <= Self::MAX_CHARS
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(CartIdError::BadCharacters(text.to_owned()))
        }
    }

    /// The id of a cart Temporal already holds under this workflow id, taken as it is (see the
    /// type's docs).
    pub fn of_workflow(workflow_id: &str) -> Self {
        Self(workflow_id.to_owned())
    }

    /// Whether a word is meant as a cart id (it may still be a malformed one): how the prompt
    /// tells a cart argument from other words.
    pub fn looks_like(word: &str) -> bool {
        word.starts_with(Self::PREFIX)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The random part of a generated id, e.g. to name something after a fresh id.
    pub fn suffix(&self) -> &str {
        self.0.strip_prefix(Self::PREFIX).unwrap_or(&self.0)
    }
}

impl std::str::FromStr for CartId {
    type Err = CartIdError;
    fn from_str(text: &str) -> Result<Self, CartIdError> {
        Self::parse(text)
    }
}

impl fmt::Display for CartId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CartId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for CartId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for CartId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_people_give_are_checked() {
        assert!(CartId::parse("CART-123").is_ok());
        assert!(CartId::parse("CART-a_b.c-d").is_ok());
        for bad in ["cart-1", "CART-", "CART-a b", "CART-ü", "CART-1/2"] {
            assert!(CartId::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(CartId::parse(&format!("CART-{}", "a".repeat(123))).is_ok());
        assert!(CartId::parse(&format!("CART-{}", "a".repeat(124))).is_err());
    }

    #[test]
    fn refusals_say_what_an_id_looks_like() {
        let e = CartId::parse("42").unwrap_err().to_string();
        assert_eq!(e, "\"42\" is not a cart id: cart ids look like CART-1a2b3c");
        let e = CartId::parse("CART-a b").unwrap_err().to_string();
        assert!(e.contains("only letters, digits"), "{e}");
    }

    #[test]
    fn fresh_ids_are_valid_and_distinct() {
        let (a, b) = (CartId::generate(), CartId::generate());
        assert_ne!(a, b);
        assert_eq!(CartId::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(a.as_str().len(), "CART-".len() + 12);
        assert_eq!(a.suffix().len(), 12);
    }

    #[test]
    fn serializes_as_the_plain_string() {
        let id = CartId::parse("CART-1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"CART-1\"");
        let back: CartId = serde_json::from_str("\"CART-1\"").unwrap();
        assert_eq!(back, id);
    }
}
