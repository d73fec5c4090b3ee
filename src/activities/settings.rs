//! A worker's provider settings: which payment and mail providers it uses, as `cart worker`'s
//! flags and their variables give them, checked, and described at start-up with every secret
//! masked. The providers are built from these settings ([`PaymentSettings::gateway`],
//! [`MailSettings::mailer`]).
//!
//! Reading is a pure function of a lookup by variable name, so the rules are unit-tested and
//! the worker passes the values its command line and environment gave. A variable set to blanks
//! counts as unset. A half-configured provider is an error that names exactly what is missing;
//! it never silently falls back to the local default.

use super::mail::DEFAULT_SENDER;
use super::{LocalLedger, Mailer, Mailgun, Outbox, PaymentGateway, Smtp};
use crate::domain::{PaymentTiming, ProductId};
use jiff::SignedDuration;
use lettre::message::Mailbox;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why a worker's settings cannot be used; the message says what to set.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{provider} is half configured: {missing} is not set; {remedy}")]
    HalfConfigured {
        provider: &'static str,
        missing: &'static str,
        remedy: &'static str,
    },
    #[error("{var} is {value:?}: {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: String,
    },
    #[error("both SMTP_URL and MAILGUN_* variables are set: configure one mail provider")]
    TwoMailProviders,
    /// A provider's client could not be set up from these settings.
    #[error("{0}")]
    Provider(String),
    /// The payment provider cannot charge a catalog price exactly.
    #[error("product {id} ({name}) cannot be sold: {reason}")]
    Unsellable {
        id: ProductId,
        name: String,
        reason: String,
    },
}

/// Stripe's API.
pub const STRIPE_API: &str = "https://api.stripe.com";
/// How long one request to Stripe may take by default (`STRIPE_TIMEOUT`).
pub const STRIPE_DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest `STRIPE_TIMEOUT`: a payment activity's attempt lasts at most 30 seconds, and a
/// request must end (answered or abandoned) before its attempt does, so that the next question
/// never overlaps it.
pub const STRIPE_MAX_TIMEOUT: Duration = Duration::from_secs(25);
const ONE_SECOND: Duration = Duration::from_secs(1);
/// Mailgun's US API; the EU one is `https://api.eu.mailgun.net`.
pub const MAILGUN_US_API: &str = "https://api.mailgun.net";

/// Everything a worker reads from the environment about its providers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSettings {
    pub payments: PaymentSettings,
    pub mail: MailSettings,
}

impl ProviderSettings {
    /// Reads the settings through `var`, which answers the value given for a variable's
    /// setting (by its flag or the variable itself, in the worker).
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let vars = Vars(&var);
        Ok(Self {
            payments: PaymentSettings::read(&vars)?,
            mail: MailSettings::read(&vars)?,
        })
    }
}

/// The one reader of variables: trimmed, and blank counts as unset.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A duration such as `20s` from `name`, between `min` and `max`; `default` when unset.
    fn duration(
        &self,
        name: &'static str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, SettingsError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        humantime::parse_duration(&text)
            .ok()
            .filter(|d| (min..=max).contains(d))
            .ok_or_else(|| SettingsError::Invalid {
                var: name,
                value: text,
                expected: format!(
                    "give a duration from {} to {} such as {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max),
                    humantime::format_duration(default),
                ),
            })
    }

    /// The first of `names` that is set (a variable and the tutorial's name for it).
    fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| self.get(name))
    }
}

/// A base URL must be http(s); `example` shows one that is.
fn http_url(var: &'static str, value: String, example: &str) -> Result<String, SettingsError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value)
    } else {
        Err(SettingsError::Invalid {
            var,
            value,
            expected: format!("not an http(s) URL such as {example}"),
        })
    }
}

/// Which Stripe API charges the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripeFlow {
    /// PaymentIntents, created and confirmed in one request (no redirect-based methods).
    PaymentIntents,
    /// The older Charges API with a source token, as the tutorial uses.
    Charges,
}

/// Who charges the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentSettings {
    /// The ledger file in the data directory (the zero-config default).
    Ledger,
    Stripe(StripeSettings),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeSettings {
    pub base: String,
    pub secret_key: String,
    pub flow: StripeFlow,
    /// How long one request may take (`STRIPE_TIMEOUT`).
    pub timeout: Duration,
    /// How long after its first request a checkout's key may still be sent
    /// (`STRIPE_KEY_WINDOW`; Stripe keeps keys 24 hours, so at most 23).
    pub key_window: Duration,
    /// How long Stripe's search may take to show a payment (`STRIPE_SEARCH_LAG`).
    pub search_lag: Duration,
    /// The longest wait between two follow-ups of a payment not settled
    /// (`STRIPE_FOLLOW_UP_MAX`).
    pub follow_up_max: Duration,
}

impl StripeSettings {
    /// Stripe's own API with this key, the PaymentIntents flow and the default timeout.
    pub fn new(secret_key: &str) -> Self {
        Self {
            base: STRIPE_API.to_owned(),
            secret_key: secret_key.to_owned(),
            flow: StripeFlow::PaymentIntents,
            timeout: STRIPE_DEFAULT_TIMEOUT,
            key_window: PaymentTiming::default().key_window.unsigned_abs(),
            search_lag: PaymentTiming::default().search_lag.unsigned_abs(),
            follow_up_max: PaymentTiming::default().follow_up_max.unsigned_abs(),
        }
    }

    /// What these settings say of Stripe's clock, for the checkout's payment record.
    pub fn timing(&self) -> PaymentTiming {
        let signed = |d: Duration| SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
        PaymentTiming {
            key_window: signed(self.key_window),
            search_lag: signed(self.search_lag),
            follow_up_max: signed(self.follow_up_max),
            request_timeout: signed(self.timeout),
        }
    }
}

impl PaymentSettings {
    /// `STRIPE_SECRET_KEY` (or the tutorial's `STRIPE_PRIVATE_KEY`), optionally
    /// `STRIPE_API_BASE`, `STRIPE_API` (`payment_intents` or `charges`) and `STRIPE_TIMEOUT`;
    /// or none of them for the local ledger.
    fn read(vars: &Vars) -> Result<Self, SettingsError> {
        let base = vars.get("STRIPE_API_BASE");
        let api = vars.get("STRIPE_API");
        let Some(secret_key) = vars.first(&["STRIPE_SECRET_KEY", "STRIPE_PRIVATE_KEY"]) else {
            if base.is_some() || api.is_some() {
                return Err(SettingsError::HalfConfigured {
                    provider: "Stripe",
                    missing: "STRIPE_SECRET_KEY (or STRIPE_PRIVATE_KEY)",
                    remedy: "set it to charge through Stripe, or unset STRIPE_API_BASE and STRIPE_API to use the local ledger",
                });
            }
            return Ok(PaymentSettings::Ledger);
        };
        let flow = match api.as_deref() {
            None | Some("payment_intents") => StripeFlow::PaymentIntents,
            Some("charges") => StripeFlow::Charges,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    var: "STRIPE_API",
                    value: other.to_owned(),
                    expected: "use payment_intents (the default) or charges".to_owned(),
                });
            }
        };
        let base = match base {
            Some(base) => http_url("STRIPE_API_BASE", base, "http://localhost:12111")?,
            None => STRIPE_API.to_owned(),
        };
        let timeout = vars.duration(
            "STRIPE_TIMEOUT",
            STRIPE_DEFAULT_TIMEOUT,
            ONE_SECOND,
            STRIPE_MAX_TIMEOUT,
        )?;
        let defaults = PaymentTiming::default();
        let key_window = vars.duration(
            "STRIPE_KEY_WINDOW",
            defaults.key_window.unsigned_abs(),
            ONE_SECOND,
            defaults.key_window.unsigned_abs(),
        )?;
        // Stripe's own search lags by up to a minute; a stand-in or mock may lag less.
        let least_lag = if base == STRIPE_API {
            Duration::from_secs(60)
        } else {
            Duration::ZERO
        };
        let search_lag = vars.duration(
            "STRIPE_SEARCH_LAG",
            defaults.search_lag.unsigned_abs(),
            least_lag,
            Duration::from_secs(24 * 60 * 60),
        )?;
        let follow_up_max = vars.duration(
            "STRIPE_FOLLOW_UP_MAX",
            defaults.follow_up_max.unsigned_abs(),
            ONE_SECOND,
            Duration::from_secs(60 * 60),
        )?;
        Ok(PaymentSettings::Stripe(StripeSettings {
            base,
            secret_key,
            flow,
            timeout,
            key_window,
            search_lag,
            follow_up_max,
        }))
    }

    /// The gateway these settings describe.
    pub fn gateway(&self, data_dir: &Path) -> Result<Arc<dyn PaymentGateway>, SettingsError> {
        Ok(match self {
            PaymentSettings::Ledger => Arc::new(LocalLedger::new(data_dir)),
            PaymentSettings::Stripe(stripe) => super::stripe_gateway(stripe)?,
        })
    }

    /// What a worker says of them at start-up, with the key masked and the ledger's file.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            PaymentSettings::Ledger => {
                format!("{self}, in {}", LocalLedger::file_in(data_dir).display())
            }
            PaymentSettings::Stripe(_) => self.to_string(),
        }
    }
}

impl fmt::Display for PaymentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentSettings::Ledger => write!(f, "local ledger"),
            PaymentSettings::Stripe(StripeSettings {
                base,
                secret_key,
                flow,
                ..
            }) => {
                let flow = match flow {
                    StripeFlow::PaymentIntents => "PaymentIntents",
                    StripeFlow::Charges => "Charges",
                };
                write!(f, "Stripe {flow} {base}, key {}", mask(secret_key))
            }
        }
    }
}

/// Where e-mail goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailProvider {
    /// `.eml` files in the data directory (the zero-config default).
    Outbox,
    Mailgun(MailgunSettings),
    Smtp {
        url: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailgunSettings {
    pub base: String,
    pub domain: String,
    pub api_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    pub provider: MailProvider,
    pub from: Mailbox,
}

impl MailSettings {
    /// `SMTP_URL`, or `MAILGUN_DOMAIN` with `MAILGUN_API_KEY` (or the tutorial's
    /// `MAILGUN_PRIVATE_KEY`) and optionally `MAILGUN_API_BASE`, or neither for the outbox; the
    /// sender from `CART_MAIL_FROM`.
    fn read(vars: &Vars) -> Result<Self, SettingsError> {
        let smtp_url = vars.get("SMTP_URL");
        let domain = vars.get("MAILGUN_DOMAIN");
        let key = vars.first(&["MAILGUN_API_KEY", "MAILGUN_PRIVATE_KEY"]);
        let base = vars.get("MAILGUN_API_BASE");
        let mailgun_named = domain.is_some() || key.is_some() || base.is_some();
        let provider = match (smtp_url, mailgun_named) {
            (Some(_), true) => return Err(SettingsError::TwoMailProviders),
            (Some(url), false) => MailProvider::Smtp { url },
            (None, true) => {
                let half = |missing| SettingsError::HalfConfigured {
                    provider: "Mailgun",
                    missing,
                    remedy: "set MAILGUN_DOMAIN and MAILGUN_API_KEY to send through Mailgun, or neither to use the local outbox",
                };
                let domain = domain.ok_or_else(|| half("MAILGUN_DOMAIN"))?;
                let api_key =
                    key.ok_or_else(|| half("MAILGUN_API_KEY (or MAILGUN_PRIVATE_KEY)"))?;
                let base = match base {
                    Some(base) => http_url("MAILGUN_API_BASE", base, "https://api.eu.mailgun.net")?,
                    None => MAILGUN_US_API.to_owned(),
                };
                MailProvider::Mailgun(MailgunSettings {
                    base,
                    domain,
                    api_key,
                })
            }
            (None, false) => MailProvider::Outbox,
        };
        let from = match (vars.get("CART_MAIL_FROM"), &provider) {
            (Some(text), _) => sender("CART_MAIL_FROM", &text)?,
            // Mailgun only sends from its own domain.
            (None, MailProvider::Mailgun(mailgun)) => {
                sender("MAILGUN_DOMAIN", &format!("Cart <cart@{}>", mailgun.domain))?
            }
            (None, _) => sender("CART_MAIL_FROM", DEFAULT_SENDER)?,
        };
        Ok(MailSettings { provider, from })
    }

    /// The mailer these settings describe.
    pub fn mailer(&self, data_dir: &Path) -> Result<Arc<dyn Mailer>, SettingsError> {
        let from = self.from.clone();
        Ok(match &self.provider {
            MailProvider::Outbox => Arc::new(Outbox::new(data_dir, from)),
            MailProvider::Mailgun(mailgun) => Arc::new(Mailgun::new(mailgun, from)?),
            MailProvider::Smtp { url } => Arc::new(Smtp::new(url, from)?),
        })
    }

    /// What a worker says of them at start-up, with secrets masked and the outbox's folder.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self.provider {
            MailProvider::Outbox => format!("{self}, into {}", Outbox::dir_in(data_dir).display()),
            _ => self.to_string(),
        }
    }
}

/// A sender such as `Shop <shop@example.com>`, from the variable `var`.
fn sender(var: &'static str, text: &str) -> Result<Mailbox, SettingsError> {
    text.parse().map_err(|e| SettingsError::Invalid {
        var,
        value: text.to_owned(),
        expected: format!("not a sender address such as \"Shop <shop@example.com>\": {e}"),
    })
}

/// Shows enough of a secret to tell two apart, never enough to use it.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("****{tail}")
    } else {
        "****".to_owned()
    }
}

/// An SMTP URL with its password masked.
fn masked_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("****"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

impl fmt::Display for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            MailProvider::Outbox => write!(f, "local outbox")?,
            MailProvider::Mailgun(MailgunSettings {
                base,
                domain,
                api_key,
            }) => write!(f, "Mailgun {base}, domain {domain}, key {}", mask(api_key))?,
            MailProvider::Smtp { url } => write!(f, "SMTP {}", masked_url(url))?,
        }
        write!(f, ", from {}", self.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<ProviderSettings, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProviderSettings::read(|k| map.get(k).cloned()).map_err(|e| e.to_string())
    }

    fn mail(vars: &[(&str, &str)]) -> Result<MailSettings, String> {
        read(vars).map(|s| s.mail)
    }

    fn payments(vars: &[(&str, &str)]) -> Result<PaymentSettings, String> {
        read(vars).map(|s| s.payments)
    }

    #[test]
    fn nothing_set_means_the_outbox_and_the_ledger() {
        let s = read(&[]).unwrap();
        assert_eq!(s.mail.provider, MailProvider::Outbox);
        assert_eq!(
            s.mail.to_string(),
            "local outbox, from Cart <cart@localhost>"
        );
        assert_eq!(s.payments, PaymentSettings::Ledger);
        assert_eq!(s.payments.to_string(), "local ledger");
        assert_eq!(
            mail(&[("SMTP_URL", "  ")]).unwrap().provider,
            MailProvider::Outbox
        );
    }

    #[test]
    fn the_local_providers_say_where_they_write() {
        let s = read(&[]).unwrap();
        let dir = Path::new("/srv/cart");
        assert_eq!(
            s.payments.describe(dir),
            "local ledger, in /srv/cart/payments.jsonl"
        );
        assert_eq!(
            s.mail.describe(dir),
            "local outbox, from Cart <cart@localhost>, into /srv/cart/outbox"
        );
    }

    #[test]
    fn mailgun_needs_domain_and_key() {
        let err = mail(&[("MAILGUN_DOMAIN", "mg.example.com")]).unwrap_err();
        assert!(
            err.contains("MAILGUN_API_KEY (or MAILGUN_PRIVATE_KEY) is not set"),
            "{err}"
        );
        let err = mail(&[("MAILGUN_API_KEY", "key-123")]).unwrap_err();
        assert!(err.contains("MAILGUN_DOMAIN is not set"), "{err}");
        let err = mail(&[("MAILGUN_API_BASE", "https://api.eu.mailgun.net")]).unwrap_err();
        assert!(err.contains("half configured"), "{err}");
    }

    #[test]
    fn mailgun_accepts_the_tutorials_key_name_and_masks_it() {
        let s = mail(&[
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("MAILGUN_PRIVATE_KEY", "key-0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(
            s.provider,
            MailProvider::Mailgun(MailgunSettings {
                base: "https://api.mailgun.net".into(),
                domain: "mg.example.com".into(),
                api_key: "key-0123456789abcdef".into(),
            })
        );
        let shown = s.to_string();
        assert_eq!(
            shown,
            "Mailgun https://api.mailgun.net, domain mg.example.com, key ****cdef, from Cart <cart@mg.example.com>"
        );
        assert!(!shown.contains("0123456789"));
    }

    #[test]
    fn mailgun_eu_base_and_a_bad_base() {
        let s = mail(&[
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("MAILGUN_API_KEY", "k"),
            ("MAILGUN_API_BASE", "https://api.eu.mailgun.net"),
        ])
        .unwrap();
        assert!(
            s.to_string()
                .starts_with("Mailgun https://api.eu.mailgun.net,")
        );
        let err = mail(&[
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("MAILGUN_API_KEY", "k"),
            ("MAILGUN_API_BASE", "api.eu.mailgun.net"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            "MAILGUN_API_BASE is \"api.eu.mailgun.net\": not an http(s) URL such as https://api.eu.mailgun.net"
        );
    }

    #[test]
    fn smtp_url_with_masked_password() {
        let s = mail(&[
            (
                "SMTP_URL",
                "smtp://postmaster:hunter2hunter2@mail.example.com:587",
            ),
            ("CART_MAIL_FROM", "Shop <shop@example.com>"),
        ])
        .unwrap();
        assert_eq!(
            s.to_string(),
            "SMTP smtp://postmaster:****@mail.example.com:587, from Shop <shop@example.com>"
        );
    }

    #[test]
    fn two_providers_or_a_bad_sender_are_refused() {
        let err = mail(&[("SMTP_URL", "smtp://h"), ("MAILGUN_DOMAIN", "d")]).unwrap_err();
        assert!(err.contains("configure one mail provider"), "{err}");
        let err = mail(&[("CART_MAIL_FROM", "not an address")]).unwrap_err();
        assert!(
            err.starts_with("CART_MAIL_FROM is \"not an address\": not a sender address"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_smtp_url_is_refused_when_the_mailer_is_built() {
        let s = mail(&[("SMTP_URL", "ftp://example.com")]).unwrap();
        let err = s.mailer(Path::new("/tmp")).err().unwrap().to_string();
        assert!(err.contains("SMTP_URL is not a usable"), "{err}");
    }

    #[test]
    fn stripe_defaults_to_payment_intents_and_masks_the_key() {
        let p = payments(&[("STRIPE_SECRET_KEY", "sk_test_0123456789abcdef")]).unwrap();
        assert_eq!(
            p,
            PaymentSettings::Stripe(StripeSettings::new("sk_test_0123456789abcdef"))
        );
        assert_eq!(
            p.to_string(),
            "Stripe PaymentIntents https://api.stripe.com, key ****cdef"
        );
        let p = payments(&[
            ("STRIPE_PRIVATE_KEY", "sk_test_0123456789abcdef"),
            ("STRIPE_API", "charges"),
            ("STRIPE_API_BASE", "http://localhost:12111"),
        ])
        .unwrap();
        assert_eq!(
            p.to_string(),
            "Stripe Charges http://localhost:12111, key ****cdef"
        );
    }

    #[test]
    fn half_or_wrong_stripe_settings_are_refused() {
        let err = payments(&[("STRIPE_API", "charges")]).unwrap_err();
        assert!(
            err.contains("STRIPE_SECRET_KEY (or STRIPE_PRIVATE_KEY) is not set"),
            "{err}"
        );
        let err = payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_API", "sources")]).unwrap_err();
        assert!(
            err.contains("use payment_intents (the default) or charges"),
            "{err}"
        );
        let err =
            payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_API_BASE", "localhost")]).unwrap_err();
        assert!(err.contains("not an http(s) URL"), "{err}");
        for bad in ["30s", "0s", "soon"] {
            let err = payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_TIMEOUT", bad)]).unwrap_err();
            assert!(err.contains("from 1s to 25s"), "{err}");
        }
        let p = payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_TIMEOUT", "3s")]).unwrap();
        assert!(matches!(p, PaymentSettings::Stripe(s) if s.timeout == Duration::from_secs(3)));
    }

    #[test]
    fn stripe_s_clock_has_safe_defaults_and_bounds() {
        let PaymentSettings::Stripe(s) = payments(&[("STRIPE_SECRET_KEY", "k")]).unwrap() else {
            panic!("Stripe")
        };
        let timing = s.timing();
        assert_eq!(timing.key_window, SignedDuration::from_hours(23));
        assert_eq!(timing.search_lag, SignedDuration::from_mins(10));
        assert_eq!(timing.follow_up_max, SignedDuration::from_mins(5));
        assert_eq!(timing.request_timeout, SignedDuration::from_secs(20));
        // Stripe forgets a key after 24 hours: no window may reach that far.
        let err =
            payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_KEY_WINDOW", "24h")]).unwrap_err();
        assert!(err.contains("from 1s to 23h"), "{err}");
        let err =
            payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_FOLLOW_UP_MAX", "0s")]).unwrap_err();
        assert!(err.contains("STRIPE_FOLLOW_UP_MAX"), "{err}");
        // Stripe's own search lags by up to a minute: no less is taken for it.
        let err = payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_SEARCH_LAG", "5s")]).unwrap_err();
        assert!(err.contains("from 1m to 1day"), "{err}");
        let PaymentSettings::Stripe(s) = payments(&[
            ("STRIPE_SECRET_KEY", "k"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111"),
            ("STRIPE_KEY_WINDOW", "20s"),
            ("STRIPE_SEARCH_LAG", "2s"),
            ("STRIPE_FOLLOW_UP_MAX", "3s"),
        ])
        .unwrap() else {
            panic!("Stripe")
        };
        let timing = s.timing();
        assert_eq!(
            (timing.key_window, timing.search_lag, timing.follow_up_max),
            (
                SignedDuration::from_secs(20),
                SignedDuration::from_secs(2),
                SignedDuration::from_secs(3)
            )
        );
    }

    #[test]
    fn masking() {
        assert_eq!(mask("short"), "****");
        assert_eq!(mask("sk_test_0123456789"), "****6789");
    }
}
