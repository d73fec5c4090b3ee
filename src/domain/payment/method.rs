//! What a customer pays with, as the person checking out names it: a payment token or method
//! id such as `tok_visa`, `pm_card_visa` or `pm_1NqZ…`. Checked before anything is recorded, so
//! no text of any length or shape reaches a cart's history or a provider.

use serde::{Deserialize, Serialize};
use std::fmt;

/// At most this many characters: the length of the ids payment providers issue (Stripe's are
/// well below it).
pub const MAX_PAYMENT_CHARS: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentMethod(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is not a payment token or method: use one such as tok_visa or pm_card_visa (a prefix such as tok_ or pm_, then letters, digits and _, at most {MAX_PAYMENT_CHARS} characters)",
    shown(.0)
)]
pub struct PaymentMethodError(String);

/// The start of what was given, quoted: an error never repeats more than a few dozen characters
/// of it.
fn shown(text: &str) -> String {
    const SHOWN: usize = 40;
    let mut head: String = text.chars().take(SHOWN).collect();
    if text.chars().nth(SHOWN).is_some() {
        head.push('…');
    }
    format!("{head:?}")
}

impl PaymentMethod {
    pub fn parse(text: &str) -> Result<Self, PaymentMethodError> {
        let text = text.trim();
        let fail = || PaymentMethodError(text.to_owned());
        let (prefix, rest) = text.split_once('_').ok_or_else(fail)?;
        let prefix_ok = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok =
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if prefix_ok && rest_ok && text.len() <= MAX_PAYMENT_CHARS {
            Ok(Self(text.to_owned()))
        } else {
            Err(fail())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PaymentMethod {
    type Error = PaymentMethodError;

    fn try_from(text: String) -> Result<Self, PaymentMethodError> {
        Self::parse(&text)
    }
}

impl From<PaymentMethod> for String {
    fn from(p: PaymentMethod) -> String {
        p.0
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_tokens_and_method_ids_pass() {
        for good in [
            "tok_visa",
            "tok_chargeDeclinedInsufficientFunds",
            "pm_card_visa",
            "pm_1NqZ2bLkdIwHu7ix3x0AbCdE",
            " card_1Abc ",
        ] {
            assert_eq!(PaymentMethod::parse(good).unwrap().as_str(), good.trim());
        }
    }

    #[test]
    fn anything_else_is_refused_and_never_quoted_whole() {
        let huge = format!("tok_{}", "a".repeat(1_500_000));
        for bad in [
            "",
            "visa",
            "_visa",
            "tok_",
            "Tok_visa",
            "tok_vi sa",
            "tok_visa;drop",
            "tok_visa\u{0}",
            "pm_ü",
            huge.as_str(),
        ] {
            let err = PaymentMethod::parse(bad).unwrap_err().to_string();
            assert!(err.len() < 300, "the error quotes too much: {}", err.len());
        }
        let err = PaymentMethod::parse(&huge).unwrap_err().to_string();
        assert!(err.starts_with("\"tok_aaaaaaaa"), "{err}");
        assert!(
            err.contains("…\" is not a payment token or method"),
            "{err}"
        );
    }
}
