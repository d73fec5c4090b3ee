//! The zero-config mailer: an `outbox/` directory of RFC 5322 `.eml` files.
//!
//! Each message is written to `<key>.eml` through a temporary file and a rename, so a reader
//! never sees half a message and a retried send replaces the file instead of adding a second.

use super::{EmailMessage, MailError, Mailer};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

pub struct Outbox {
    dir: PathBuf,
    from: String,
}

impl Outbox {
    /// An outbox at `data_dir/outbox`, sending as `from` (e.g. `Cart <cart@localhost>`).
    pub fn new(data_dir: &Path, from: impl Into<String>) -> Self {
        Self {
            dir: data_dir.join("outbox"),
            from: from.into(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a message with this key is written to.
    pub fn path_for(&self, key: &str) -> PathBuf {
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.eml"))
    }
}

/// Renders a message as RFC 5322 text with CRLF line endings and a UTF-8 body.
pub fn render_eml(from: &str, message: &EmailMessage, date: jiff::Timestamp) -> String {
    let date =
        jiff::fmt::rfc2822::to_string(&date.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default();
    let message_id: String = message
        .key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let headers = [
        format!("From: {from}"),
        format!("To: {}", message.to),
        format!("Subject: {}", message.subject),
        format!("Date: {date}"),
        format!("Message-ID: <{message_id}@cart.localhost>"),
        format!("X-Cart-Tag: {}", message.tag),
        "MIME-Version: 1.0".to_owned(),
        "Content-Type: text/plain; charset=utf-8".to_owned(),
        "Content-Transfer-Encoding: 8bit".to_owned(),
    ];
    let mut out = headers.join("\r\n");
    out.push_str("\r\n\r\n");
    out.push_str(&message.text.replace("\r\n", "\n").replace('\n', "\r\n"));
    out
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let text = render_eml(&self.from, message, jiff::Timestamp::now());
        let path = self.path_for(&message.key);
        let tmp = path.with_extension("eml.tmp");
        let io = |e: std::io::Error| {
            MailError::Unavailable(format!("outbox {}: {e}", self.dir.display()))
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        tokio::fs::write(&tmp, text).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(key: &str) -> EmailMessage {
        EmailMessage {
            key: key.into(),
            to: "ann@example.com".into(),
            subject: "You left items in your cart CART-1".into(),
            text: "Hello,\n\n  1 x Café Phone\n".into(),
            tag: "abandoned-cart".into(),
        }
    }

    #[tokio::test]
    async fn writes_one_eml_per_key_and_a_retry_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path(), "Cart <cart@localhost>");
        outbox.send(&message("cart-1/reminder-3")).await.unwrap();
        outbox.send(&message("cart-1/reminder-3")).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(outbox.dir()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(outbox.path_for("cart-1/reminder-3")).unwrap();
        assert!(text.starts_with("From: Cart <cart@localhost>\r\nTo: ann@example.com\r\n"));
        assert!(text.contains("\r\nMessage-ID: <cart-1reminder-3@cart.localhost>\r\n"));
        assert!(text.contains("\r\n\r\nHello,\r\n\r\n  1 x Café Phone\r\n"));
    }

    #[test]
    fn date_header_is_rfc_2822() {
        let ts: jiff::Timestamp = "2026-11-26T06:32:00Z".parse().unwrap();
        let eml = render_eml("a@b.c", &message("k"), ts);
        assert!(
            eml.contains("\r\nDate: Thu, 26 Nov 2026 06:32:00 +0000\r\n"),
            "{eml}"
        );
    }
}
