//! Side effects of a cart: charging the customer and sending e-mail.
//!
//! The workflow reaches these only through the typed activity handles of [`CartActivities`].
//! Providers sit behind the [`PaymentGateway`] and [`Mailer`] traits; the zero-config local
//! providers ([`LocalLedger`], [`Outbox`]) write to the data directory, and real providers plug
//! in beside them without touching the workflow.
//!
//! Failure policy: a business failure (card declined, invalid request) becomes a non-retryable
//! application failure whose message reaches the person checking out; anything that may be
//! transient stays retryable and Temporal retries it with backoff.

mod files;
mod ledger;
mod mail;
mod mailgun;
mod outbox;
mod providers;
mod smtp;
mod stripe_gateway;
mod templates;

pub use ledger::{LedgerEntry, LocalLedger};
pub use mail::{
    DEFAULT_SENDER, EmailMessage, MailError, Mailer, build_message, confirmation_message,
    parse_sender, reminder_message,
};
pub use mailgun::{Mailgun, US_API as MAILGUN_US_API};
pub use outbox::Outbox;
pub use providers::{
    MailProvider, MailSettings, PaymentProvider, mail_settings, mask, payment_provider,
};
pub use smtp::Smtp;
pub use stripe_gateway::{STRIPE_API, StripeFlow, StripeGateway};

use crate::domain::{Email, LineItem, Money};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// One request to charge a customer. `idempotency_key` is derived by the workflow from the
/// cart and the checkout attempt, so every retry of the same attempt carries the same key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRequest {
    pub cart_id: String,
    pub idempotency_key: String,
    pub amount: Money,
    pub email: Email,
    /// What to charge: a token such as `tok_visa` or a payment method such as `pm_card_visa`.
    /// `None` lets the provider use its test default (refused with live credentials).
    pub payment: Option<String>,
    pub description: String,
}

/// A successful charge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: Money,
    pub idempotency_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The card or account was refused; retrying will not help.
    #[error("card declined: {0}")]
    Declined(String),
    /// The request itself is wrong (unknown token, reused key); retrying will not help.
    #[error("payment rejected: {0}")]
    Invalid(String),
    /// The provider could not be reached or failed; worth retrying.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
}

/// What the reminder activity needs to write an abandoned-cart e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRequest {
    pub cart_id: String,
    /// Unique per cart and idle period: a retried send replaces rather than duplicates.
    pub message_key: String,
    pub email: Email,
    pub items: Vec<LineItem>,
    pub total: Money,
}

/// What the confirmation activity needs after a successful checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRequest {
    pub cart_id: String,
    /// Unique per cart: a retried send replaces rather than duplicates.
    pub message_key: String,
    pub email: Email,
    pub items: Vec<LineItem>,
    pub total: Money,
    pub charge_id: String,
}

/// The activities of a cart, holding their providers.
pub struct CartActivities {
    payments: Arc<dyn PaymentGateway>,
    mailer: Arc<dyn Mailer>,
}

impl CartActivities {
    pub fn new(payments: Arc<dyn PaymentGateway>, mailer: Arc<dyn Mailer>) -> Self {
        Self { payments, mailer }
    }

    async fn send(&self, message: &EmailMessage) -> Result<(), ActivityError> {
        self.mailer.send(message).await.map_err(|e| {
            let failure = match e {
                MailError::Rejected(_) => ApplicationFailure::non_retryable(e),
                MailError::Unavailable(_) => ApplicationFailure::new(e),
            };
            ActivityError::application(failure)
        })
    }
}

#[activities]
impl CartActivities {
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ChargeRequest,
    ) -> Result<Charge, ActivityError> {
        self.payments.charge(&request).await.map_err(|e| {
            let failure = match e {
                PaymentError::Unavailable(_) => ApplicationFailure::new(e),
                PaymentError::Declined(_) | PaymentError::Invalid(_) => {
                    ApplicationFailure::non_retryable(e)
                }
            };
            ActivityError::application(failure)
        })
    }

    #[activity]
    pub async fn send_reminder(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ReminderRequest,
    ) -> Result<(), ActivityError> {
        self.send(&reminder_message(&request)).await
    }

    #[activity]
    pub async fn send_confirmation(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ConfirmationRequest,
    ) -> Result<(), ActivityError> {
        self.send(&confirmation_message(&request)).await
    }
}
