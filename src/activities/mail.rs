//! The e-mail side: the [`Mailer`] trait and the messages a cart sends.

use super::ReminderRequest;
use async_trait::async_trait;

/// A message ready to send. `key` identifies it across retries: a mailer must treat two sends
/// with the same key as one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    pub key: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// A provider tag such as `abandoned-cart`, for filtering in the provider's logs.
    pub tag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this message (bad address, bad request); retrying will not help.
    #[error("e-mail rejected: {0}")]
    Rejected(String),
    /// Worth retrying: the provider or the disk failed for now.
    #[error("e-mail could not be sent: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError>;
}

/// The abandoned-cart reminder.
pub fn reminder_message(request: &ReminderRequest) -> EmailMessage {
    let mut text = format!(
        "Hello,\n\nyou left these items in your cart {}:\n\n",
        request.cart_id
    );
    for line in &request.items {
        text.push_str(&format!(
            "  {} x {} at {}\n",
            line.quantity, line.name, line.unit_price
        ));
    }
    text.push_str(&format!(
        "\nTotal: {}\n\nCheck out with:  cart checkout {}\n",
        request.total, request.cart_id
    ));
    EmailMessage {
        key: request.message_key.clone(),
        to: request.email.to_string(),
        subject: format!("You left items in your cart {}", request.cart_id),
        text,
        tag: "abandoned-cart".to_owned(),
    }
}
