//! E-mail addresses: validated and normalised before they reach a cart.
//!
//! The check is deliberately practical rather than a full RFC 5322 parser: one `@`, a local
//! part of printable characters without spaces, and a domain of at least two dot-separated
//! labels of letters, digits and hyphens. That accepts every address a shop would send to and
//! rejects the typos people actually make. The domain is lower-cased (domains are
//! case-insensitive); the local part is kept as typed, since mailboxes may be case-sensitive.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address:?} is not a valid e-mail address: {reason}")]
pub struct EmailError {
    pub address: String,
    pub reason: &'static str,
}

impl Email {
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let fail = |reason| EmailError {
            address: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        if trimmed.len() > 254 {
            return Err(fail("it is longer than 254 characters"));
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(fail("it has no @"));
        };
        if local.is_empty() {
            return Err(fail("nothing comes before the @"));
        }
        if local.len() > 64 {
            return Err(fail("the part before the @ is longer than 64 characters"));
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@\"(),:;<>[\\]".contains(c));
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(fail(
                "the part before the @ has characters an address cannot use",
            ));
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(fail(
                "the domain after the @ needs a dot, as in example.com",
            ));
        }
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !labels.iter().all(label_ok) {
            return Err(fail("the domain after the @ is not a valid host name"));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, EmailError> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "Ann@example.com"
        );
        assert!(Email::parse("a.b+tag@mail.example.co.uk").is_ok());
        assert!(Email::parse("x_y-z@sub-domain.example").is_ok());
    }

    #[test]
    fn rejects_common_mistakes_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("ann.example.com", "no @"),
            ("@example.com", "before the @"),
            ("ann@example", "needs a dot"),
            ("ann@exa mple.com", "not a valid host"),
            ("ann@-example.com", "not a valid host"),
            ("ann@example..com", "not a valid host"),
            ("an n@example.com", "characters"),
            ("ann.@example.com", "characters"),
            ("a..nn@example.com", "characters"),
        ];
        for (text, reason) in cases {
            let err = Email::parse(text).unwrap_err();
            assert!(err.to_string().contains(reason), "{text:?}: {err}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<Email>("\"not-an-address\"").is_err());
        let e: Email = serde_json::from_str("\"a@B.com\"").unwrap();
        assert_eq!(e.as_str(), "a@b.com");
    }
}
