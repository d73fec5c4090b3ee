//! The zero-config mailer: an `outbox/` directory of RFC 5322 `.eml` files.
//!
//! Each message is written to `<key>.eml` through a temporary file and a rename, so a reader
//! never sees half a message and a retried send replaces the file instead of adding a second.
//! The directory and the files are readable by their owner only: they hold e-mail addresses.

use super::files::{create_private_dir, write_private};
use super::mail::build_message;
use super::{EmailMessage, MailError, Mailer};
use async_trait::async_trait;
use lettre::message::Mailbox;
use std::path::{Path, PathBuf};

pub struct Outbox {
    dir: PathBuf,
    from: Mailbox,
}

impl Outbox {
    /// An outbox at `data_dir/outbox`, sending as `from`.
    pub fn new(data_dir: &Path, from: Mailbox) -> Self {
        Self {
            dir: Self::dir_in(data_dir),
            from,
        }
    }

    /// The outbox folder of the data directory `data_dir`.
    pub fn dir_in(data_dir: &Path) -> PathBuf {
        data_dir.join("outbox")
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

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let eml = build_message(&self.from, message, std::time::SystemTime::now())?.formatted();
        let path = self.path_for(&message.key);
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || {
            create_private_dir(&dir)?;
            write_private(&path, &eml)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        written.map_err(|e| MailError::Unavailable(format!("outbox {}: {e}", self.dir.display())))
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
            html: "<p>Hello,</p>".into(),
            tag: "abandoned-cart".into(),
        }
    }

    #[tokio::test]
    async fn writes_one_eml_per_key_and_a_retry_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path(), "Cart <cart@localhost>".parse().unwrap());
        outbox.send(&message("cart-1/reminder-3")).await.unwrap();
        outbox.send(&message("cart-1/reminder-3")).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(outbox.dir()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(outbox.path_for("cart-1/reminder-3")).unwrap();
        assert!(text.contains("From: Cart <cart@localhost>\r\n"), "{text}");
        assert!(text.contains("To: ann@example.com\r\n"), "{text}");
        assert!(
            text.contains("Message-ID: <cart-1reminder-3@localhost>\r\n"),
            "{text}"
        );
        assert!(text.contains("X-Mailgun-Tag: abandoned-cart\r\n"), "{text}");
        assert!(
            text.contains("Content-Type: multipart/alternative;"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/html; charset=utf-8"),
            "{text}"
        );
        assert!(text.contains("Date: "), "{text}");
        #[cfg(unix)]
        {
            let path = outbox.path_for("cart-1/reminder-3");
            assert_eq!(super::super::files::mode(&path), 0o600);
            assert_eq!(super::super::files::mode(outbox.dir()), 0o700);
        }
    }

    #[tokio::test]
    async fn a_bad_recipient_is_a_rejection() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path(), "cart@localhost".parse().unwrap());
        let mut m = message("k");
        m.to = "not an address".into();
        assert!(matches!(outbox.send(&m).await, Err(MailError::Rejected(_))));
    }
}
