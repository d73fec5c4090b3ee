//! The zero-config payment provider: a local ledger file, `payments.jsonl`.
//!
//! One JSON object per line and per successful charge. Before appending, the ledger looks for
//! the request's idempotency key under an exclusive file lock; if the key is there, the
//! original charge is returned and nothing is written, so a retried activity, a restarted
//! worker or a second worker on the same directory never charges twice.
//!
//! Stripe's test tokens decide the outcome, so declines are testable offline: `tok_visa`,
//! `tok_mastercard` and `tok_amex` succeed; `tok_chargeDeclined` and its variants decline.

use super::{Charge, ChargeRequest, PaymentError, PaymentGateway};
use crate::domain::{Currency, Money};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub struct LocalLedger {
    path: PathBuf,
}

/// One line of `payments.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub charge_id: String,
    pub cart_id: String,
    pub amount: u64,
    pub currency: String,
    pub email: String,
    pub idempotency_key: String,
    pub created_at: jiff::Timestamp,
}

impl LocalLedger {
    /// A ledger at `dir/payments.jsonl`; the directory is created on first use.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("payments.jsonl"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every charge in the ledger, oldest first.
    pub fn entries(&self) -> std::io::Result<Vec<LedgerEntry>> {
        match File::open(&self.path) {
            Ok(file) => read_entries(&file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

fn read_entries(file: &File) -> std::io::Result<Vec<LedgerEntry>> {
    let mut entries = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let entry = serde_json::from_str(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The token charged when a checkout names none.
pub const DEFAULT_TOKEN: &str = "tok_visa";

/// What a test token does.
fn decline_reason(token: &str) -> Result<Option<&'static str>, PaymentError> {
    match token {
        "tok_visa" | "tok_mastercard" | "tok_amex" | "tok_discover" => Ok(None),
        "tok_chargeDeclined" => Ok(Some("your card was declined")),
        "tok_chargeDeclinedInsufficientFunds" => Ok(Some("insufficient funds")),
        "tok_chargeDeclinedExpiredCard" => Ok(Some("your card has expired")),
        "tok_chargeDeclinedIncorrectCvc" => Ok(Some("your card's security code is incorrect")),
        other => Err(PaymentError::Invalid(format!(
            "unknown payment token {other:?}; the local ledger accepts tok_visa, tok_mastercard, tok_amex and tok_chargeDeclined"
        ))),
    }
}

fn unavailable(e: impl std::fmt::Display) -> PaymentError {
    PaymentError::Unavailable(format!("local ledger: {e}"))
}

impl LocalLedger {
    fn charge_blocking(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let token = request.payment.as_deref().unwrap_or(DEFAULT_TOKEN);
        if let Some(reason) = decline_reason(token)? {
            return Err(PaymentError::Declined(reason.to_owned()));
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(unavailable)?;
        file.lock().map_err(unavailable)?;
        file.seek(SeekFrom::Start(0)).map_err(unavailable)?;
        let existing = read_entries(&file).map_err(unavailable)?;
        if let Some(entry) = existing
            .iter()
            .find(|e| e.idempotency_key == request.idempotency_key)
        {
            if entry.amount != request.amount.minor
                || entry.currency != request.amount.currency.code()
            {
                return Err(PaymentError::Invalid(format!(
                    "idempotency key {} was already used for a different amount",
                    request.idempotency_key
                )));
            }
            let currency = Currency::try_from(entry.currency.clone()).map_err(unavailable)?;
            return Ok(Charge {
                id: entry.charge_id.clone(),
                amount: Money::new(entry.amount, currency),
                idempotency_key: entry.idempotency_key.clone(),
            });
        }
        let entry = LedgerEntry {
            charge_id: format!("ch_local_{}", uuid::Uuid::new_v4().simple()),
            cart_id: request.cart_id.clone(),
            amount: request.amount.minor,
            currency: request.amount.currency.code().to_owned(),
            email: request.email.to_string(),
            idempotency_key: request.idempotency_key.clone(),
            created_at: jiff::Timestamp::now(),
        };
        let mut line = serde_json::to_string(&entry).map_err(unavailable)?;
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(unavailable)?;
        file.sync_data().map_err(unavailable)?;
        Ok(Charge {
            id: entry.charge_id,
            amount: request.amount.clone(),
            idempotency_key: entry.idempotency_key,
        })
    }
}

#[async_trait]
impl PaymentGateway for LocalLedger {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let ledger = LocalLedger {
            path: self.path.clone(),
        };
        let request = request.clone();
        tokio::task::spawn_blocking(move || ledger.charge_blocking(&request))
            .await
            .map_err(unavailable)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    fn request(key: &str, token: &str) -> ChargeRequest {
        ChargeRequest {
            cart_id: "CART-1".into(),
            idempotency_key: key.into(),
            amount: Money::new(99_900, Currency::usd()),
            email: Email::parse("a@example.com").unwrap(),
            payment: Some(token.into()),
            description: "1 x iPhone 12 Pro".into(),
        }
    }

    #[tokio::test]
    async fn same_key_returns_the_original_charge_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(&dir.path().join("data"));
        let first = ledger.charge(&request("k1", "tok_visa")).await.unwrap();
        let again = ledger.charge(&request("k1", "tok_visa")).await.unwrap();
        assert_eq!(first, again);
        let other = ledger.charge(&request("k2", "tok_visa")).await.unwrap();
        assert_ne!(first.id, other.id);
        let entries = ledger.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].cart_id, "CART-1");
        assert_eq!(entries[0].amount, 99_900);
        assert_eq!(entries[0].currency, "USD");
        assert_eq!(entries[0].idempotency_key, "k1");
    }

    #[tokio::test]
    async fn concurrent_charges_with_one_key_write_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = std::sync::Arc::new(LocalLedger::new(dir.path()));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let ledger = ledger.clone();
                tokio::spawn(async move { ledger.charge(&request("same", "tok_visa")).await })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1);
        assert_eq!(ledger.entries().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn declines_and_unknown_tokens_are_business_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        let err = ledger
            .charge(&request("k", "tok_chargeDeclined"))
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::Declined(_)));
        assert_eq!(err.to_string(), "card declined: your card was declined");
        let err = ledger.charge(&request("k", "tok_bogus")).await.unwrap_err();
        assert!(matches!(err, PaymentError::Invalid(_)), "{err}");
        assert!(ledger.entries().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_reused_key_with_another_amount_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        ledger.charge(&request("k", "tok_visa")).await.unwrap();
        let mut changed = request("k", "tok_visa");
        changed.amount.minor += 1;
        assert!(matches!(
            ledger.charge(&changed).await,
            Err(PaymentError::Invalid(_))
        ));
    }
}
