//! The e-mail side: the [`Mailer`] trait, the messages a cart sends, and their RFC 5322 form.

use super::templates::Letter;
use super::{ConfirmationRequest, OrderEvent, OrderNotice, ReminderRequest};
use async_trait::async_trait;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::time::SystemTime;

/// The sender when `CART_MAIL_FROM` is not set.
pub const DEFAULT_SENDER: &str = "Cart <cart@localhost>";

/// A message ready to send. `key` identifies it across retries: a mailer must treat two sends
/// with the same key as one message (it also becomes the `Message-ID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    pub key: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A provider tag such as `abandoned-cart`, for filtering in the provider's logs.
    pub tag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this message (bad address, bad credentials); retrying will not help.
    #[error("e-mail rejected: {0}")]
    Rejected(String),
    /// Worth retrying: the provider, the network or the disk failed for now.
    #[error("e-mail could not be sent: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError>;
}

fn from_letter(letter: Letter, key: &str, to: &str, tag: &str) -> EmailMessage {
    EmailMessage {
        key: key.to_owned(),
        to: to.to_owned(),
        text: letter.text(),
        html: letter.html(),
        subject: letter.subject,
        tag: tag.to_owned(),
    }
}

/// The abandoned-cart reminder.
pub fn reminder_message(request: &ReminderRequest) -> EmailMessage {
    let letter = Letter::reminder(request);
    from_letter(
        letter,
        &request.message_key,
        request.email.as_str(),
        "abandoned-cart",
    )
}

/// The order confirmation after a successful checkout.
pub fn confirmation_message(request: &ConfirmationRequest) -> EmailMessage {
    let letter = Letter::confirmation(request);
    from_letter(
        letter,
        &request.message_key,
        request.email.as_str(),
        "order-confirmation",
    )
}

/// What became of an order after the checkout: a refund, a cancellation, a shipment.
pub fn order_notice_message(notice: &OrderNotice) -> EmailMessage {
    let tag = match notice.event {
        OrderEvent::Refunded { .. } => "order-refund",
        OrderEvent::Cancelled { .. } => "order-cancelled",
        OrderEvent::Shipped { .. } => "order-shipped",
    };
    let letter = Letter::order_notice(notice);
    from_letter(letter, &notice.message_key, notice.email.as_str(), tag)
}

/// The `Message-ID` of a message: its key (made safe) at the sender's domain.
pub fn message_id(key: &str, from: &Mailbox) -> String {
    let local: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    format!("<{local}@{}>", from.email.domain())
}

/// Mailgun reads its tag from this header when mail goes through its SMTP relay; elsewhere it
/// is harmless.
#[derive(Clone)]
struct MailgunTag(String);

impl Header for MailgunTag {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Mailgun-Tag")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The RFC 5322 message: text and HTML as `multipart/alternative`, a deterministic
/// `Message-ID`, and the tag.
pub fn build_message(
    from: &Mailbox,
    message: &EmailMessage,
    date: SystemTime,
) -> Result<lettre::Message, MailError> {
    let to: Mailbox = message
        .to
        .parse()
        .map_err(|e| MailError::Rejected(format!("{:?} is not a recipient: {e}", message.to)))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject.clone())
        .date(date)
        .message_id(Some(message_id(&message.key, from)))
        .header(MailgunTag(message.tag.clone()))
        .multipart(MultiPart::alternative_plain_html(
            message.text.clone(),
            message.html.clone(),
        ))
        .map_err(|e| MailError::Rejected(format!("cannot build the message: {e}")))
}
