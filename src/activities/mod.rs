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

use crate::domain::{
    Catalog, Email, LineItem, MAX_REASON_CHARS, Money, Product, ProductId, bounded,
};
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

    /// Whether this provider can charge an amount exactly (a currency's decimals, say). A
    /// worker checks every catalog price at start-up, so no cart meets the problem at checkout.
    fn check_amount(&self, _amount: &Money) -> Result<(), PaymentError> {
        Ok(())
    }
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

/// The activities of a cart, holding the shop's catalog and the providers.
pub struct CartActivities {
    catalog: Arc<Catalog>,
    payments: Arc<dyn PaymentGateway>,
    mailer: Arc<dyn Mailer>,
}

impl CartActivities {
    pub fn new(
        catalog: Arc<Catalog>,
        payments: Arc<dyn PaymentGateway>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        Self {
            catalog,
            payments,
            mailer,
        }
    }

    /// The catalog that prices the carts.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.clone()
    }

    /// Checks that the payment provider can charge every catalog price exactly.
    pub fn check_prices(&self) -> Result<(), String> {
        for p in self.catalog.products() {
            self.payments
                .check_amount(&p.price)
                .map_err(|e| format!("product {} ({}) cannot be sold: {e}", p.id, p.name))?;
        }
        Ok(())
    }

    async fn send(&self, message: &EmailMessage) -> Result<(), ActivityError> {
        self.mailer.send(message).await.map_err(|e| {
            let failure = match e {
                MailError::Rejected(_) => ApplicationFailure::non_retryable(bounded_error(&e)),
                MailError::Unavailable(_) => ApplicationFailure::new(bounded_error(&e)),
            };
            ActivityError::application(failure)
        })
    }
}

/// An error's text, bounded: it is stored in the cart's history with the activity's failure,
/// whatever a provider answered.
fn bounded_error(e: &dyn std::fmt::Display) -> Box<dyn std::error::Error + Send + Sync> {
    bounded(&e.to_string(), MAX_REASON_CHARS).into()
}

impl CartActivities {}

#[activities]
impl CartActivities {
    /// A product as the shop sells it now, `None` if it sells no such product: run when a cart
    /// adds a product new to it, so the price goes into the cart's history. Only what a cart
    /// line keeps is returned (no description or picture).
    #[activity]
    pub async fn price(
        self: Arc<Self>,
        _ctx: ActivityContext,
        product: i64,
    ) -> Result<Option<Product>, ActivityError> {
        let found = ProductId::try_from(product)
            .ok()
            .and_then(|id| self.catalog.get(id));
        Ok(found.map(|p| Product {
            id: p.id,
            name: p.name.clone(),
            price: p.price,
            description: String::new(),
            image: None,
        }))
    }

    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ChargeRequest,
    ) -> Result<Charge, ActivityError> {
        self.payments.charge(&request).await.map_err(|e| {
            let failure = match e {
                PaymentError::Unavailable(_) => ApplicationFailure::new(bounded_error(&e)),
                PaymentError::Declined(_) | PaymentError::Invalid(_) => {
                    ApplicationFailure::non_retryable(bounded_error(&e))
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
