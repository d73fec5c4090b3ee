//! Money as an integer count of minor units plus an ISO 4217 currency code.
//!
//! Floats never appear: prices are parsed from decimal text ("999.00") straight into minor
//! units, and sums are checked so an absurd catalog cannot overflow silently.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code, always three upper-case ASCII letters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn usd() -> Self {
        Self("USD".to_owned())
    }

    pub fn code(&self) -> &str {
        &self.0
    }

    /// How many digits follow the decimal point. The zero-decimal currencies are the ones
    /// Stripe documents as such; every other currency uses two.
    pub fn exponent(&self) -> u32 {
        const ZERO_DECIMAL: &[&str] = &[
            "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
            "VUV", "XAF", "XOF", "XPF",
        ];
        if ZERO_DECIMAL.contains(&self.0.as_str()) {
            0
        } else {
            2
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(code: String) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() == 3 && upper.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(upper))
        } else {
            Err(MoneyError::BadCurrency(code))
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money: `minor` units (cents for USD) of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: u64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not a currency code: use three letters such as USD or EUR")]
    BadCurrency(String),
    #[error("{text:?} is not a price in {currency}: write it like {example}")]
    BadAmount {
        text: String,
        currency: Currency,
        example: &'static str,
    },
    #[error("amount is too large")]
    Overflow,
}

impl Money {
    pub fn new(minor: u64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parses a non-negative decimal amount such as `999`, `999.5` or `999.00`.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let exp = currency.exponent();
        let bad = || MoneyError::BadAmount {
            text: text.to_owned(),
            currency: currency.clone(),
            example: if exp == 0 { "1200" } else { "999.00" },
        };
        let trimmed = text.trim();
        let (whole, frac) = trimmed.split_once('.').unwrap_or((trimmed, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(frac) {
            return Err(bad());
        }
        if frac.len() > exp as usize || (trimmed.contains('.') && frac.is_empty()) {
            return Err(bad());
        }
        let whole: u64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let mut minor = whole
            .checked_mul(10u64.pow(exp))
            .ok_or(MoneyError::Overflow)?;
        if !frac.is_empty() {
            let scale = 10u64.pow(exp - frac.len() as u32);
            let frac: u64 = frac.parse().map_err(|_| bad())?;
            minor = minor
                .checked_add(frac * scale)
                .ok_or(MoneyError::Overflow)?;
        }
        Ok(Self::new(minor, currency))
    }

    /// This amount times a quantity, or `None` on overflow.
    pub fn times(&self, qty: u32) -> Option<Money> {
        self.minor
            .checked_mul(u64::from(qty))
            .map(|minor| Money::new(minor, self.currency.clone()))
    }

    /// The amount as plain decimal text, e.g. `1998.00`.
    pub fn decimal(&self) -> String {
        let exp = self.currency.exponent();
        if exp == 0 {
            return self.minor.to_string();
        }
        let scale = 10u64.pow(exp);
        format!(
            "{}.{:0width$}",
            self.minor / scale,
            self.minor % scale,
            width = exp as usize
        )
    }
}

/// `1,998.00 USD`: thousands separated, the code after the amount (unambiguous for every
/// currency, unlike a `$` sign; the command line's tables add symbols where they are clear).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.grouped(), self.currency)
    }
}

impl Money {
    /// The amount with thousands separated and no currency, e.g. `1,998.00`.
    pub fn grouped(&self) -> String {
        let decimal = self.decimal();
        let (whole, frac) = decimal.split_once('.').unwrap_or((&decimal, ""));
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if !frac.is_empty() {
            grouped.push('.');
            grouped.push_str(frac);
        }
        grouped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Result<Money, MoneyError> {
        Money::parse(text, Currency::usd())
    }

    #[test]
    fn parses_decimal_prices_into_minor_units() {
        assert_eq!(usd("999.00").unwrap().minor, 99_900);
        assert_eq!(usd("999").unwrap().minor, 99_900);
        assert_eq!(usd("0.5").unwrap().minor, 50);
        assert_eq!(usd(" 12.34 ").unwrap().minor, 1_234);
    }

    #[test]
    fn rejects_malformed_prices() {
        for bad in ["", "-1", "1.234", "1.", ".5", "1,00", "abc", "1e3"] {
            assert!(usd(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(usd("99999999999999999999"), Err(MoneyError::Overflow));
    }

    #[test]
    fn zero_decimal_currencies_have_no_fraction() {
        let jpy = Currency::try_from("jpy".to_owned()).unwrap();
        assert_eq!(Money::parse("1200", jpy.clone()).unwrap().minor, 1200);
        assert!(Money::parse("1200.5", jpy.clone()).is_err());
        assert_eq!(Money::new(1200, jpy).to_string(), "1,200 JPY");
    }

    #[test]
    fn displays_grouped_with_code() {
        assert_eq!(
            Money::new(199_800, Currency::usd()).to_string(),
            "1,998.00 USD"
        );
        assert_eq!(Money::new(5, Currency::usd()).to_string(), "0.05 USD");
        assert_eq!(Money::new(99_900, Currency::usd()).decimal(), "999.00");
    }

    #[test]
    fn currency_codes_are_validated_and_normalised() {
        assert_eq!(Currency::try_from("eur".to_owned()).unwrap().code(), "EUR");
        assert!(Currency::try_from("EURO".to_owned()).is_err());
        assert!(Currency::try_from("U$D".to_owned()).is_err());
    }

    #[test]
    fn multiplication_detects_overflow() {
        assert_eq!(Money::new(u64::MAX, Currency::usd()).times(2), None);
        assert_eq!(
            Money::new(250, Currency::usd()).times(3).unwrap().minor,
            750
        );
    }
}
