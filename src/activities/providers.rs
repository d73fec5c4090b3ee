//! Which providers a worker uses, chosen by configuration, and how they are described at
//! start-up with every secret masked.
//!
//! Reading is a pure function of a variable lookup, so the rules are unit-tested and the
//! worker passes `std::env::var`. A half-configured provider is an error that names exactly
//! what is missing; it never silently falls back to the local default.

use super::mail::{DEFAULT_SENDER, parse_sender};
use super::stripe_gateway;
use super::{
    LocalLedger, Mailer, Mailgun, Outbox, PaymentGateway, STRIPE_API, Smtp, StripeFlow,
    StripeGateway,
};
use lettre::message::Mailbox;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Who charges the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentProvider {
    /// `payments.jsonl` in the data directory (the zero-config default).
    Ledger,
    Stripe {
        base: String,
        secret_key: String,
        flow: StripeFlow,
        /// How long one request may take (`STRIPE_TIMEOUT`).
        timeout: Duration,
    },
}

/// Reads the payment settings: `STRIPE_SECRET_KEY` (or the tutorial's `STRIPE_PRIVATE_KEY`),
/// optionally `STRIPE_API_BASE` and `STRIPE_API` (`payment_intents` or `charges`), or none of
/// them for the local ledger.
pub fn payment_provider(var: impl Fn(&str) -> Option<String>) -> Result<PaymentProvider, String> {
    let get = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let key = get("STRIPE_SECRET_KEY").or_else(|| get("STRIPE_PRIVATE_KEY"));
    let base = get("STRIPE_API_BASE");
    let api = get("STRIPE_API");
    let Some(secret_key) = key else {
        if base.is_some() || api.is_some() {
            return Err("Stripe is half configured: STRIPE_SECRET_KEY (or STRIPE_PRIVATE_KEY) is not set; set it to charge through Stripe, or unset STRIPE_API_BASE and STRIPE_API to use the local ledger".into());
        }
        return Ok(PaymentProvider::Ledger);
    };
    let flow = match api.as_deref() {
        None | Some("payment_intents") => StripeFlow::PaymentIntents,
        Some("charges") => StripeFlow::Charges,
        Some(other) => {
            return Err(format!(
                "STRIPE_API is {other:?}: use payment_intents (the default) or charges"
            ));
        }
    };
    let base = base.unwrap_or_else(|| STRIPE_API.to_owned());
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return Err(format!(
            "STRIPE_API_BASE {base:?} is not an http(s) URL such as http://localhost:12111"
        ));
    }
    let timeout = match get("STRIPE_TIMEOUT") {
        None => stripe_gateway::DEFAULT_TIMEOUT,
        Some(text) => humantime::parse_duration(&text)
            .ok()
            .filter(|t| !t.is_zero() && *t <= stripe_gateway::MAX_TIMEOUT)
            .ok_or_else(|| {
                format!(
                    "STRIPE_TIMEOUT is {text:?}: give a duration from 1s to {} such as 20s",
                    humantime::format_duration(stripe_gateway::MAX_TIMEOUT)
                )
            })?,
    };
    Ok(PaymentProvider::Stripe {
        base,
        secret_key,
        flow,
        timeout,
    })
}

impl PaymentProvider {
    /// The gateway these settings describe.
    pub fn gateway(&self, data_dir: &Path) -> Result<Arc<dyn PaymentGateway>, String> {
        Ok(match self {
            PaymentProvider::Ledger => Arc::new(LocalLedger::new(data_dir)),
            PaymentProvider::Stripe {
                base,
                secret_key,
                flow,
                timeout,
            } => Arc::new(StripeGateway::new(secret_key, base, *flow, *timeout)?),
        })
    }
}

impl fmt::Display for PaymentProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentProvider::Ledger => write!(f, "local ledger"),
            PaymentProvider::Stripe {
                base,
                secret_key,
                flow,
                ..
            } => {
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
    /// `.eml` files in the data directory's `outbox/` (the zero-config default).
    Outbox,
    Mailgun {
        base: String,
        domain: String,
        api_key: String,
    },
    Smtp {
        url: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    pub provider: MailProvider,
    pub from: Mailbox,
}

/// Reads the mail settings: `SMTP_URL`, or `MAILGUN_DOMAIN` with `MAILGUN_API_KEY` (or the
/// tutorial's `MAILGUN_PRIVATE_KEY`) and optionally `MAILGUN_API_BASE`, or neither for the
/// outbox; the sender from `CART_MAIL_FROM`.
pub fn mail_settings(var: impl Fn(&str) -> Option<String>) -> Result<MailSettings, String> {
    let get = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let smtp_url = get("SMTP_URL");
    let domain = get("MAILGUN_DOMAIN");
    let key = get("MAILGUN_API_KEY").or_else(|| get("MAILGUN_PRIVATE_KEY"));
    let base = get("MAILGUN_API_BASE");
    let mailgun_named = domain.is_some() || key.is_some() || base.is_some();

    let provider = match (smtp_url, mailgun_named) {
        (Some(_), true) => {
            return Err(
                "both SMTP_URL and MAILGUN_* variables are set: configure one mail provider".into(),
            );
        }
        (Some(url), false) => MailProvider::Smtp { url },
        (None, true) => {
            let missing = match (&domain, &key) {
                (None, _) => Some("MAILGUN_DOMAIN"),
                (_, None) => Some("MAILGUN_API_KEY (or MAILGUN_PRIVATE_KEY)"),
                _ => None,
            };
            if let Some(missing) = missing {
                return Err(format!(
                    "Mailgun is half configured: {missing} is not set; set MAILGUN_DOMAIN and MAILGUN_API_KEY to send through Mailgun, or neither to use the local outbox"
                ));
            }
            let base = base.unwrap_or_else(|| super::MAILGUN_US_API.to_owned());
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(format!(
                    "MAILGUN_API_BASE {base:?} is not an http(s) URL such as https://api.eu.mailgun.net"
                ));
            }
            MailProvider::Mailgun {
                base,
                domain: domain.unwrap_or_default(),
                api_key: key.unwrap_or_default(),
            }
        }
        (None, false) => MailProvider::Outbox,
    };
    let from = match (get("CART_MAIL_FROM"), &provider) {
        (Some(text), _) => parse_sender(&text).map_err(|e| format!("CART_MAIL_FROM: {e}"))?,
        // Mailgun only sends from its own domain.
        (None, MailProvider::Mailgun { domain, .. }) => {
            parse_sender(&format!("Cart <cart@{domain}>"))?
        }
        (None, _) => parse_sender(DEFAULT_SENDER)?,
    };
    Ok(MailSettings { provider, from })
}

impl MailSettings {
    /// The mailer these settings describe.
    pub fn mailer(&self, data_dir: &Path) -> Result<Arc<dyn Mailer>, String> {
        Ok(match &self.provider {
            MailProvider::Outbox => Arc::new(Outbox::new(data_dir, self.from.clone())),
            MailProvider::Mailgun {
                base,
                domain,
                api_key,
            } => Arc::new(Mailgun::new(base, domain, api_key, self.from.clone())?),
            MailProvider::Smtp { url } => Arc::new(Smtp::new(url, self.from.clone())?),
        })
    }
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
            MailProvider::Mailgun {
                base,
                domain,
                api_key,
            } => write!(f, "Mailgun {base}, domain {domain}, key {}", mask(api_key))?,
            MailProvider::Smtp { url } => write!(f, "SMTP {}", masked_url(url))?,
        }
        write!(f, ", from {}", self.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<MailSettings, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        mail_settings(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_the_outbox() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.provider, MailProvider::Outbox);
        assert_eq!(s.to_string(), "local outbox, from Cart <cart@localhost>");
        assert_eq!(
            settings(&[("SMTP_URL", "  ")]).unwrap().provider,
            MailProvider::Outbox
        );
    }

    #[test]
    fn mailgun_needs_domain_and_key() {
        let err = settings(&[("MAILGUN_DOMAIN", "mg.example.com")]).unwrap_err();
        assert!(
            err.contains("MAILGUN_API_KEY (or MAILGUN_PRIVATE_KEY) is not set"),
            "{err}"
        );
        let err = settings(&[("MAILGUN_API_KEY", "key-123")]).unwrap_err();
        assert!(err.contains("MAILGUN_DOMAIN is not set"), "{err}");
        let err = settings(&[("MAILGUN_API_BASE", "https://api.eu.mailgun.net")]).unwrap_err();
        assert!(err.contains("half configured"), "{err}");
    }

    #[test]
    fn mailgun_accepts_the_tutorials_key_name_and_masks_it() {
        let s = settings(&[
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("MAILGUN_PRIVATE_KEY", "key-0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(
            s.provider,
            MailProvider::Mailgun {
                base: "https://api.mailgun.net".into(),
                domain: "mg.example.com".into(),
                api_key: "key-0123456789abcdef".into(),
            }
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
        let s = settings(&[
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("MAILGUN_API_KEY", "k"),
            ("MAILGUN_API_BASE", "https://api.eu.mailgun.net"),
        ])
        .unwrap();
        assert!(
            s.to_string()
                .starts_with("Mailgun https://api.eu.mailgun.net,")
        );
        let err = settings(&[
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("MAILGUN_API_KEY", "k"),
            ("MAILGUN_API_BASE", "api.eu.mailgun.net"),
        ])
        .unwrap_err();
        assert!(err.contains("is not an http(s) URL"), "{err}");
    }

    #[test]
    fn smtp_url_with_masked_password() {
        let s = settings(&[
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
        let err = settings(&[("SMTP_URL", "smtp://h"), ("MAILGUN_DOMAIN", "d")]).unwrap_err();
        assert!(err.contains("configure one mail provider"), "{err}");
        let err = settings(&[("CART_MAIL_FROM", "not an address")]).unwrap_err();
        assert!(err.starts_with("CART_MAIL_FROM: "), "{err}");
    }

    #[test]
    fn a_bad_smtp_url_is_refused_when_the_mailer_is_built() {
        let s = settings(&[("SMTP_URL", "ftp://example.com")]).unwrap();
        let err = s.mailer(Path::new("/tmp")).err().unwrap();
        assert!(err.contains("SMTP_URL is not a usable"), "{err}");
    }

    fn payments(vars: &[(&str, &str)]) -> Result<PaymentProvider, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        payment_provider(|k| map.get(k).cloned())
    }

    #[test]
    fn payments_default_to_the_ledger() {
        assert_eq!(payments(&[]).unwrap(), PaymentProvider::Ledger);
        assert_eq!(payments(&[]).unwrap().to_string(), "local ledger");
    }

    #[test]
    fn stripe_defaults_to_payment_intents_and_masks_the_key() {
        let p = payments(&[("STRIPE_SECRET_KEY", "sk_test_0123456789abcdef")]).unwrap();
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
        assert!(err.contains("is not an http(s) URL"), "{err}");
        for bad in ["30s", "0s", "soon"] {
            let err = payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_TIMEOUT", bad)]).unwrap_err();
            assert!(err.contains("from 1s to 25s"), "{err}");
        }
        let p = payments(&[("STRIPE_SECRET_KEY", "k"), ("STRIPE_TIMEOUT", "3s")]).unwrap();
        assert!(
            matches!(p, PaymentProvider::Stripe { timeout, .. } if timeout == Duration::from_secs(3))
        );
    }

    #[test]
    fn masking() {
        assert_eq!(mask("short"), "****");
        assert_eq!(mask("sk_test_0123456789"), "****6789");
    }
}
