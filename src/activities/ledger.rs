//! The zero-config payment provider: a local ledger file, `payments.jsonl`.
//!
//! One JSON object per line and per successful charge or refund (a refund names the charge it
//! gives back in `refund_of`). Before appending, the ledger looks for
//! the request's idempotency key under an exclusive file lock; if the key is there, the
//! original charge is returned and nothing is written, so a retried activity, a restarted
//! worker or a second worker on the same directory never charges twice.
//!
//! Stripe's test tokens decide the outcome, so declines are testable offline: `tok_visa`,
//! `tok_mastercard` and `tok_amex` succeed; `tok_chargeDeclined` and its variants decline.

use super::files::{create_private_dir, keep_private, private_options};
use super::{ChargeRequest, PaymentGateway, RefundRequest};
use crate::domain::{CartId, Observation, PaymentTiming};
use async_trait::async_trait;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The ledger of one data directory. Clones share what has been read of the file.
#[derive(Clone)]
pub struct LocalLedger {
    path: PathBuf,
    index: Arc<Mutex<Index>>,
    /// How it names itself to a payment (see [`LocalLedger::provider`]), once asked.
    name: Arc<std::sync::OnceLock<String>>,
}

/// What this process knows of the file: every charge up to `read_to`, by idempotency key. A
/// charge reads only what other processes appended since, never the whole file again.
#[derive(Default)]
struct Index {
    /// Bytes of the file read so far; always the end of a complete line.
    read_to: u64,
    charges: HashMap<String, Recorded>,
    /// Bytes read from the file in all, for the tests that keep charges from re-reading it.
    bytes_read: u64,
}

struct Recorded {
    charge_id: String,
    amount: u64,
    currency: String,
    /// The charge a refund gives back; `None` for a charge.
    refund_of: Option<String>,
}

/// One line of `payments.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub charge_id: String,
    pub cart_id: CartId,
    pub amount: u64,
    pub currency: String,
    pub email: String,
    pub idempotency_key: String,
    pub created_at: jiff::Timestamp,
    /// For a refund (its `charge_id` is the refund's id): the charge it gives back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_of: Option<String>,
}

impl LocalLedger {
    /// A ledger at `dir/payments.jsonl`; the directory is created on first use.
    pub fn new(dir: &Path) -> Self {
        Self {
            path: Self::file_in(dir),
            index: Arc::default(),
            name: Arc::default(),
        }
    }

    /// The ledger file of the data directory `dir`.
    pub fn file_in(dir: &Path) -> PathBuf {
        dir.join("payments.jsonl")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every charge in the ledger, oldest first. A torn last line (a write cut short) is not
    /// a charge and is left out.
    pub fn entries(&self) -> std::io::Result<Vec<LedgerEntry>> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let complete = text
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(&text[..0], |end| &text[..=end]);
        BufReader::new(complete)
            .lines()
            .filter(|line| !line.as_ref().is_ok_and(|l| l.trim().is_empty()))
            .map(|line| parse(&line?))
            .collect()
    }
}

fn parse(line: &str) -> std::io::Result<LedgerEntry> {
    serde_json::from_str(line).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

impl Index {
    /// Reads what was appended since the last call, under the caller's lock. A last line
    /// without its newline is a write that was cut short (a crash, a full disk): its charge
    /// was never reported as made, so it is cut off and the charge is made again whole.
    fn catch_up(&mut self, file: &mut File) -> std::io::Result<()> {
        let len = file.metadata()?.len();
        if len < self.read_to {
            // The file was replaced or cut behind our back: start over.
            *self = Index::default();
        }
        file.seek(SeekFrom::Start(self.read_to))?;
        let mut new = Vec::new();
        file.read_to_end(&mut new)?;
        self.bytes_read += new.len() as u64;
        let complete = new.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
        if complete < new.len() {
            let torn = self.read_to + complete as u64;
            tracing::warn!(
                bytes = new.len() - complete,
                "the payment ledger ended in a torn write; cutting it off"
            );
            file.set_len(torn)?;
            file.sync_data()?;
        }
        for line in new[..complete].split(|b| *b == b'\n') {
            let line = std::str::from_utf8(line)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if line.trim().is_empty() {
                continue;
            }
            self.insert(parse(line)?);
        }
        self.read_to += complete as u64;
        Ok(())
    }

    /// Writes `entry` at the end of the file and remembers it; its id.
    fn append(&mut self, file: &mut File, entry: LedgerEntry) -> Result<String, Observation> {
        let mut line = serde_json::to_string(&entry).map_err(unavailable)?;
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(unavailable)?;
        file.sync_data().map_err(unavailable)?;
        self.read_to += line.len() as u64;
        let id = entry.charge_id.clone();
        self.insert(entry);
        Ok(id)
    }

    /// What is left to refund of `charge`, and its currency; `None` when there is no such
    /// charge.
    fn refundable(&self, charge: &str) -> Option<(u64, &str)> {
        let paid = self
            .charges
            .values()
            .find(|c| c.charge_id == charge && c.refund_of.is_none())?;
        let refunded: u64 = (self.charges.values())
            .filter(|c| c.refund_of.as_deref() == Some(charge))
            .map(|c| c.amount)
            .sum();
        Some((paid.amount.saturating_sub(refunded), &paid.currency))
    }

    fn insert(&mut self, entry: LedgerEntry) {
        self.charges.insert(
            entry.idempotency_key,
            Recorded {
                charge_id: entry.charge_id,
                amount: entry.amount,
                currency: entry.currency,
                refund_of: entry.refund_of,
            },
        );
    }
}

/// The token charged when a checkout names none.
pub const DEFAULT_TOKEN: &str = "tok_visa";

/// What a test token does: `Ok(None)` charges, `Ok(Some(reason))` declines, `Err` is a token
/// the ledger does not take.
fn decline_reason(token: &str) -> Result<Option<&'static str>, &'static str> {
    match token {
        "tok_visa" | "tok_mastercard" | "tok_amex" | "tok_discover" => Ok(None),
        "tok_chargeDeclined" => Ok(Some("your card was declined")),
        "tok_chargeDeclinedInsufficientFunds" => Ok(Some("insufficient funds")),
        "tok_chargeDeclinedExpiredCard" => Ok(Some("your card has expired")),
        "tok_chargeDeclinedIncorrectCvc" => Ok(Some("your card's security code is incorrect")),
        // The token is not repeated: the message is kept in the cart's history.
        _ => Err(
            "payment rejected: unknown payment token; the local ledger accepts tok_visa, tok_mastercard, tok_amex and tok_chargeDeclined",
        ),
    }
}

fn unavailable(e: impl std::fmt::Display) -> Observation {
    Observation::Unknown {
        reason: format!("local ledger: {e}"),
    }
}

/// The ledger's clock: it never forgets a key, and a charge it wrote is found at once; still,
/// an empty lookup counts only once every attempt that could have written has surely ended (an
/// attempt lasts at most 30 s), whatever the clocks of its workers say.
const TIMING: PaymentTiming = PaymentTiming {
    key_window: SignedDuration::MAX,
    search_lag: SignedDuration::from_secs(30),
    follow_up_max: SignedDuration::from_secs(5 * 60),
    request_timeout: SignedDuration::from_secs(5),
};

impl LocalLedger {
    /// Runs `f` on the index caught up with the file, under the file's lock (across
    /// processes) and the index's (within this one); `f` may append to the file.
    fn locked<T>(
        &self,
        f: impl FnOnce(&mut Index, &mut File) -> Result<T, Observation>,
    ) -> Result<T, Observation> {
        if let Some(dir) = self.path.parent() {
            create_private_dir(dir).map_err(unavailable)?;
        }
        let mut file = private_options()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(unavailable)?;
        keep_private(&file).map_err(unavailable)?;
        file.lock().map_err(unavailable)?;
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        index.catch_up(&mut file).map_err(unavailable)?;
        f(&mut index, &mut file)
    }

    /// Charges, unless `deadline` has passed by the time this process holds the ledger: a
    /// charge written later could land after the cart heard its attempt was over (and looked
    /// the payment up and found nothing).
    fn charge_blocking(&self, request: &ChargeRequest, deadline: Instant) -> Observation {
        let token = request.payment.as_deref().unwrap_or(DEFAULT_TOKEN);
        match decline_reason(token) {
            // Checked before the ledger is touched, like a provider's validation of a request.
            Err(reason) => {
                return Observation::NotSent {
                    reason: reason.into(),
                };
            }
            Ok(Some(reason)) => {
                return Observation::Refused {
                    reason: format!("card declined: {reason}"),
                };
            }
            Ok(None) => {}
        }
        let charged = self.locked(|index, file| {
            if Instant::now() > deadline {
                return Err(unavailable("the ledger was busy until the charge's time was up"));
            }
            if let Some(found) = index.charges.get(&request.idempotency_key) {
                if found.amount != request.amount.minor
                    || found.currency != request.amount.currency.code()
                {
                    return Err(Observation::Unrelated {
                        reason: format!(
                            "local ledger: idempotency key {} was already used for a different amount",
                            request.idempotency_key
                        ),
                    });
                }
                return Ok(found.charge_id.clone());
            }
            let entry = LedgerEntry {
                charge_id: format!("ch_local_{}", uuid::Uuid::new_v4().simple()),
                cart_id: request.cart_id.clone(),
                amount: request.amount.minor,
                currency: request.amount.currency.code().to_owned(),
                email: request.email.to_string(),
                idempotency_key: request.idempotency_key.clone(),
                created_at: jiff::Timestamp::now(),
                refund_of: None,
            };
            index.append(file, entry)
        });
        match charged {
            Ok(reference) => Observation::Paid { reference },
            Err(observation) => observation,
        }
    }

    /// Refunds, as [`LocalLedger::charge_blocking`] charges: once per key, never past what is
    /// left of the charge (as Stripe refuses a refund of more than is left).
    fn refund_blocking(&self, request: &RefundRequest, deadline: Instant) -> Observation {
        let refunded = self.locked(|index, file| {
            if Instant::now() > deadline {
                return Err(unavailable(
                    "the ledger was busy until the refund's time was up",
                ));
            }
            if let Some(found) = index.charges.get(&request.idempotency_key) {
                if found.refund_of.as_deref() != Some(&request.payment)
                    || found.amount != request.amount.minor
                {
                    return Err(Observation::Unrelated {
                        reason: format!(
                            "local ledger: idempotency key {} was already used for another request",
                            request.idempotency_key
                        ),
                    });
                }
                return Ok(found.charge_id.clone());
            }
            let payment = &request.payment;
            let Some((left, currency)) = index.refundable(payment) else {
                return Err(Observation::Refused {
                    reason: format!("refund refused: the local ledger has no charge {payment}"),
                });
            };
            let asked = request.amount;
            if currency != asked.currency.code() || asked.minor > left {
                let left = crate::domain::Money::new(left, asked.currency);
                return Err(Observation::Refused {
                    reason: format!(
                        "refund refused: {asked} is more than the {left} left of charge {payment}"
                    ),
                });
            }
            let entry = LedgerEntry {
                charge_id: format!("re_local_{}", uuid::Uuid::new_v4().simple()),
                cart_id: request.cart_id.clone(),
                amount: asked.minor,
                currency: currency.to_owned(),
                email: String::new(),
                idempotency_key: request.idempotency_key.clone(),
                created_at: jiff::Timestamp::now(),
                refund_of: Some(payment.clone()),
            };
            index.append(file, entry)
        });
        match refunded {
            Ok(reference) => Observation::Paid { reference },
            Err(observation) => observation,
        }
    }

    /// The entry this ledger holds for `key`, if any, and whether it is a refund.
    fn find_key(&self, key: &str, refund: bool) -> Option<Observation> {
        let found = self.locked(|index, _| {
            Ok((index.charges.get(key))
                .filter(|c| c.refund_of.is_some() == refund)
                .map(|c| c.charge_id.clone()))
        });
        match found {
            Ok(found) => found.map(|reference| Observation::Paid { reference }),
            Err(observation) => Some(observation),
        }
    }

    /// Whether the ledger holds `reference`, a charge or (`refund`) a refund.
    fn retrieve_entry(&self, reference: &str, refund: bool) -> Observation {
        let found = self.locked(|index, _| {
            Ok(index
                .charges
                .values()
                .any(|c| c.charge_id == reference && c.refund_of.is_some() == refund))
        });
        let what = if refund { "refund" } else { "charge" };
        match found {
            Ok(true) => Observation::Paid {
                reference: reference.to_owned(),
            },
            Ok(false) => Observation::Unrelated {
                reason: format!("local ledger: there is no {what} {reference}"),
            },
            Err(observation) => observation,
        }
    }

    /// Runs `f` on a clone of this ledger off the async runtime (file locks block).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(LocalLedger) -> T + Send + 'static,
        failed: impl FnOnce(Observation) -> T,
    ) -> T {
        let ledger = self.clone();
        match tokio::task::spawn_blocking(move || f(ledger)).await {
            Ok(answer) => answer,
            Err(e) => failed(unavailable(e)),
        }
    }
}

#[async_trait]
impl PaymentGateway for LocalLedger {
    async fn charge(&self, request: &ChargeRequest) -> Observation {
        let request = request.clone();
        let deadline = Instant::now() + TIMING.request_timeout.unsigned_abs();
        self.blocking(move |l| l.charge_blocking(&request, deadline), |o| o)
            .await
    }

    async fn retrieve(&self, _request: &ChargeRequest, reference: &str) -> Observation {
        let reference = reference.to_owned();
        self.blocking(move |l| l.retrieve_entry(&reference, false), |o| o)
            .await
    }

    async fn find(&self, request: &ChargeRequest) -> Option<Observation> {
        let request = request.clone();
        self.blocking(move |l| l.find_key(&request.idempotency_key, false), Some)
            .await
    }

    /// A ledger charge is paid or was never made: there is nothing to cancel, only to look up.
    async fn cancel(&self, request: &ChargeRequest, reference: &str) -> Observation {
        self.retrieve(request, reference).await
    }

    async fn refund(&self, request: &RefundRequest) -> Observation {
        let request = request.clone();
        let deadline = Instant::now() + TIMING.request_timeout.unsigned_abs();
        self.blocking(move |l| l.refund_blocking(&request, deadline), |o| o)
            .await
    }

    async fn retrieve_refund(&self, _request: &RefundRequest, reference: &str) -> Observation {
        let reference = reference.to_owned();
        self.blocking(move |l| l.retrieve_entry(&reference, true), |o| o)
            .await
    }

    async fn find_refund(&self, request: &RefundRequest) -> Option<Observation> {
        let key = request.idempotency_key.clone();
        self.blocking(move |l| l.find_key(&key, true), Some).await
    }

    fn timing(&self) -> PaymentTiming {
        TIMING
    }

    /// `the local ledger <id>`: the id kept beside the ledger file (`ledger.id`, made on first
    /// use), so workers that share a data directory share it, and workers on separate ones (two
    /// machines with a ledger each) are different providers.
    fn provider(&self) -> String {
        self.name
            .get_or_init(|| match ledger_id(&self.path) {
                Ok(id) => format!("the local ledger {id}"),
                Err(e) => {
                    tracing::warn!(
                        "cannot keep the ledger's id beside {}: {e}",
                        self.path.display()
                    );
                    format!("the local ledger at {}", self.path.display())
                }
            })
            .clone()
    }
}

/// The id kept beside the ledger file `path`, made if there is none. Two processes making it
/// at once agree: one creates the file, the other reads it.
fn ledger_id(path: &Path) -> std::io::Result<String> {
    let file = path.with_file_name("ledger.id");
    for _ in 0..50 {
        match std::fs::read_to_string(&file) {
            Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
            // Being written by another process this moment.
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = file.parent() {
                    create_private_dir(dir)?;
                }
                let id = uuid::Uuid::new_v4().simple().to_string();
                match private_options().write(true).create_new(true).open(&file) {
                    Ok(mut made) => {
                        made.write_all(id.as_bytes())?;
                        made.sync_data()?;
                        return Ok(id);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("the ledger's id file stays empty"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Email, Money};

    fn request(key: &str, token: &str) -> ChargeRequest {
        ChargeRequest {
            cart_id: CartId::of_workflow("CART-1"),
            idempotency_key: key.into(),
            amount: Money::new(99_900, Currency::usd()),
            email: Email::parse("a@example.com").unwrap(),
            payment: Some(token.into()),
            description: "1 x iPhone 12 Pro".into(),
        }
    }

    /// The charge's id, for a charge that was paid.
    async fn charged(ledger: &LocalLedger, request: &ChargeRequest) -> String {
        match ledger.charge(request).await {
            Observation::Paid { reference } => reference,
            other => panic!("not paid: {other:?}"),
        }
    }

    #[tokio::test]
    async fn same_key_returns_the_original_charge_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(&dir.path().join("data"));
        let first = charged(&ledger, &request("k1", "tok_visa")).await;
        let again = charged(&ledger, &request("k1", "tok_visa")).await;
        assert_eq!(first, again);
        let other = charged(&ledger, &request("k2", "tok_visa")).await;
        assert_ne!(first, other);
        let entries = ledger.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].cart_id, "CART-1");
        assert_eq!(entries[0].amount, 99_900);
        assert_eq!(entries[0].currency, "USD");
        assert_eq!(entries[0].idempotency_key, "k1");
    }

    fn refund(key: &str, payment: &str, amount: u64) -> RefundRequest {
        RefundRequest {
            cart_id: CartId::of_workflow("CART-1"),
            refund_id: key.into(),
            idempotency_key: key.into(),
            payment: payment.into(),
            amount: Money::new(amount, Currency::usd()),
            reason: None,
        }
    }

    #[tokio::test]
    async fn refunds_are_kept_beside_the_charge_once_per_key_and_never_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        let charge = charged(&ledger, &request("k1", "tok_visa")).await;
        let Observation::Paid { reference: first } =
            ledger.refund(&refund("r1", &charge, 60_000)).await
        else {
            panic!("not refunded")
        };
        assert!(first.starts_with("re_local_"));
        // The same key again: the same refund, nothing written.
        assert_eq!(
            ledger.refund(&refund("r1", &charge, 60_000)).await,
            Observation::Paid {
                reference: first.clone()
            }
        );
        // More than is left is refused, and so is a charge the ledger does not hold.
        let too_much = ledger.refund(&refund("r2", &charge, 40_000)).await;
        assert!(
            matches!(&too_much, Observation::Refused { reason } if reason.contains("more than the 399.00 USD left")),
            "{too_much:?}"
        );
        let unknown = ledger.refund(&refund("r3", "ch_nope", 100)).await;
        assert!(
            matches!(unknown, Observation::Refused { .. }),
            "{unknown:?}"
        );
        assert!(matches!(
            ledger.refund(&refund("r4", &charge, 39_900)).await,
            Observation::Paid { .. }
        ));
        // Found by key and by id, and only as a refund.
        let r1 = refund("r1", &charge, 60_000);
        assert_eq!(
            ledger.find_refund(&r1).await,
            Some(Observation::Paid {
                reference: first.clone()
            })
        );
        assert_eq!(ledger.find(&request("r1", "tok_visa")).await, None);
        assert_eq!(
            ledger.retrieve_refund(&r1, &first).await,
            Observation::Paid {
                reference: first.clone()
            }
        );
        assert!(matches!(
            ledger.retrieve(&request("k1", "tok_visa"), &first).await,
            Observation::Unrelated { .. }
        ));
        let entries = ledger.entries().unwrap();
        assert_eq!(entries.len(), 3, "one charge, two refunds");
        assert_eq!(entries[1].refund_of.as_deref(), Some(charge.as_str()));
    }

    #[tokio::test]
    async fn concurrent_charges_with_one_key_write_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = std::sync::Arc::new(LocalLedger::new(dir.path()));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let ledger = ledger.clone();
                tokio::spawn(async move { charged(&ledger, &request("same", "tok_visa")).await })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1);
        assert_eq!(ledger.entries().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn declines_are_verdicts_and_unknown_tokens_are_refused_before_anything() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        let declined = ledger.charge(&request("k", "tok_chargeDeclined")).await;
        assert_eq!(
            declined,
            Observation::Refused {
                reason: "card declined: your card was declined".into()
            }
        );
        // A token the ledger does not take is refused before anything is looked up or written.
        let bogus = ledger.charge(&request("k", "tok_bogus")).await;
        assert!(
            matches!(&bogus, Observation::NotSent { reason } if reason.starts_with("payment rejected: unknown payment token")),
            "{bogus:?}"
        );
        assert!(ledger.entries().unwrap().is_empty());
        assert_eq!(ledger.find(&request("k", "tok_visa")).await, None);
    }

    #[test]
    fn a_data_directory_s_ledgers_are_one_provider_and_another_s_another() {
        let dir = tempfile::tempdir().unwrap();
        let name = LocalLedger::new(&dir.path().join("data")).provider();
        assert!(name.starts_with("the local ledger "), "{name}");
        assert_eq!(LocalLedger::new(&dir.path().join("data")).provider(), name);
        let other = LocalLedger::new(&dir.path().join("other")).provider();
        assert_ne!(other, name);
    }

    #[test]
    fn a_charge_whose_time_is_up_before_it_holds_the_ledger_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        let past = Instant::now() - std::time::Duration::from_secs(1);
        let late = ledger.charge_blocking(&request("k", "tok_visa"), past);
        assert!(matches!(late, Observation::Unknown { .. }), "{late:?}");
        assert!(ledger.entries().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_charge_is_found_by_its_key_and_by_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        let id = charged(&ledger, &request("k", "tok_visa")).await;
        let paid = Observation::Paid {
            reference: id.clone(),
        };
        // Another process's ledger sees it as well.
        let other = LocalLedger::new(dir.path());
        assert_eq!(
            other.find(&request("k", "tok_visa")).await,
            Some(paid.clone())
        );
        assert_eq!(other.retrieve(&request("k", "tok_visa"), &id).await, paid);
        assert!(matches!(
            other
                .retrieve(&request("k", "tok_visa"), "ch_local_none")
                .await,
            Observation::Unrelated { .. }
        ));
        assert_eq!(other.find(&request("k2", "tok_visa")).await, None);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_off_and_no_completed_charge_is_lost_or_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalLedger::new(dir.path());
        let charged_first = charged(&first, &request("k1", "tok_visa")).await;
        // A crash in the middle of the next write leaves half a line.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(first.path())
            .unwrap();
        file.write_all(br#"{"charge_id":"ch_local_torn","cart_id":"CA"#)
            .unwrap();
        drop(file);
        assert_eq!(
            first.entries().unwrap().len(),
            1,
            "the torn line is no charge"
        );

        // A worker started afterwards reads the file from the start and keeps charging.
        let restarted = LocalLedger::new(dir.path());
        let again = charged(&restarted, &request("k1", "tok_visa")).await;
        assert_eq!(
            again, charged_first,
            "the completed charge is found, not repeated"
        );
        let second = charged(&restarted, &request("k2", "tok_visa")).await;
        let text = std::fs::read_to_string(first.path()).unwrap();
        assert!(!text.contains("torn"), "{text}");
        assert!(text.ends_with('\n'));
        let keys: Vec<_> = restarted
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.idempotency_key, e.charge_id))
            .collect();
        assert_eq!(
            keys,
            vec![("k1".into(), charged_first), ("k2".into(), second)]
        );
        // The first ledger, which had read up to the torn line, sees the other's charge.
        let seen = charged(&first, &request("k2", "tok_visa")).await;
        assert_eq!(seen, keys[1].1);
    }

    #[tokio::test]
    async fn a_charge_reads_only_what_others_appended() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        for i in 0..50 {
            charged(&ledger, &request(&format!("k{i}"), "tok_visa")).await;
        }
        let read = || ledger.index.lock().unwrap().bytes_read;
        assert_eq!(read(), 0, "its own lines are never read back");
        let other = LocalLedger::new(dir.path());
        charged(&other, &request("other", "tok_visa")).await;
        let other_line = std::fs::read_to_string(ledger.path())
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .len() as u64
            + 1;
        charged(&ledger, &request("k50", "tok_visa")).await;
        assert_eq!(read(), other_line, "only the other process's line was read");
        let again = charged(&ledger, &request("other", "tok_visa")).await;
        assert!(again.starts_with("ch_local_"));
        assert_eq!(ledger.entries().unwrap().len(), 52);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_ledger_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let ledger = LocalLedger::new(&data);
        charged(&ledger, &request("k", "tok_visa")).await;
        assert_eq!(super::super::files::mode(ledger.path()), 0o600);
        assert_eq!(super::super::files::mode(&data), 0o700);
        // A ledger made with wider permissions before is narrowed on the next charge.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(ledger.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        charged(&ledger, &request("k2", "tok_visa")).await;
        assert_eq!(super::super::files::mode(ledger.path()), 0o600);
    }

    #[tokio::test]
    async fn a_reused_key_with_another_amount_is_not_a_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = LocalLedger::new(dir.path());
        charged(&ledger, &request("k", "tok_visa")).await;
        let mut changed = request("k", "tok_visa");
        changed.amount.minor += 1;
        // The key charged: the answer to another request with it is no refusal of that charge.
        assert!(matches!(
            ledger.charge(&changed).await,
            Observation::Unrelated { .. }
        ));
    }
}
