//! Money as an integer count of minor units plus an ISO 4217 currency code.
//!
//! Floats never appear: prices are parsed from decimal text ("999.00") straight into minor
//! units, and sums are checked so an absurd catalog cannot overflow silently.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A currency of ISO 4217, with its minor units (decimals) as the standard states them.
///
/// The table comes from `iso_currency`, which is generated from ISO's own list, so no list of
/// decimals is kept here. Funds, precious metals and codes ISO has withdrawn are refused: a shop
/// sells in a currency people pay with. How a payment provider wants an amount written (Stripe
/// sends ISK in hundredths, for one) is that provider's business, not the cart's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn usd() -> Self {
        Self(iso_currency::Currency::USD)
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// How many digits follow the decimal point: ISO 4217's minor units (0 for JPY, 2 for USD,
    /// 3 for KWD).
    pub fn exponent(&self) -> u32 {
        // Every accepted currency has an exponent (see `TryFrom`); 2 only keeps this total.
        self.0.exponent().map_or(2, u32::from)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(code: String) -> Result<Self, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        let currency = iso_currency::Currency::from_code(&upper)
            .filter(|c| c.exponent().is_some() && !c.is_fund() && !c.is_special())
            .ok_or_else(|| MoneyError::BadCurrency(code.clone()))?;
        match currency.is_superseded() {
            Some(now) => Err(MoneyError::Superseded {
                code: upper,
                now: now.code(),
            }),
            None => Ok(Self(currency)),
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: `minor` units (cents for USD) of `currency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: u64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not an ISO 4217 currency code: use one such as USD, EUR or JPY")]
    BadCurrency(String),
    #[error("{code} is no longer in use: write {now}")]
    Superseded { code: String, now: &'static str },
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
            currency,
            example: match exp {
                0 => "1200",
                3 => "12.500",
                _ => "999.00",
            },
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
            .map(|minor| Money::new(minor, self.currency))
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
        assert_eq!(Money::parse("1200", jpy).unwrap().minor, 1200);
        assert!(Money::parse("1200.5", jpy).is_err());
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
        for bad in ["EURO", "U$D", "ABC", "XAU", "CLF", ""] {
            assert!(Currency::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        let err = Currency::try_from("HRK".to_owned()).unwrap_err();
        assert_eq!(err.to_string(), "HRK is no longer in use: write EUR");
    }

    fn currency(code: &str) -> Currency {
        Currency::try_from(code.to_owned()).unwrap()
    }

    #[test]
    fn minor_units_are_iso_4217_s() {
        for (code, exponent) in [
            ("JPY", 0),
            ("ISK", 0),
            ("UGX", 0),
            ("USD", 2),
            ("HUF", 2),
            ("TWD", 2),
            ("KWD", 3),
            ("BHD", 3),
        ] {
            assert_eq!(currency(code).exponent(), exponent, "{code}");
        }
    }

    #[test]
    fn three_decimal_currencies_keep_their_thousandths() {
        let kwd = currency("KWD");
        let price = Money::parse("10.00", kwd).unwrap();
        assert_eq!(price.minor, 10_000, "10 KWD is 10,000 fils");
        assert_eq!(Money::parse("1.250", kwd).unwrap().minor, 1_250);
        assert!(Money::parse("1.2505", kwd).is_err());
        assert_eq!(price.to_string(), "10.000 KWD");
        let err = Money::parse("1.2505", kwd).unwrap_err().to_string();
        assert!(err.contains("write it like 12.500"), "{err}");
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
