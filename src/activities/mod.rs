//! Side effects of a cart: charging the customer and sending e-mail.
//!
//! The workflow reaches these only through the typed activity handles of [`CartActivities`].
//! Providers sit behind the [`PaymentGateway`] and [`Mailer`] traits; the zero-config local
//! providers ([`LocalLedger`], [`Outbox`]) write to the data directory, and real providers plug
//! in beside them without touching the workflow.
//!
//! Failure policy: a business failure (card declined, invalid request) becomes a non-retryable
//! application failure whose message reaches the person checking out; anything that may be
//! transient stays retryable and Temporal retries it with backoff. For payments "transient"
//! means "outcome not known": the same idempotency key is sent until it is known.

mod files;
pub use files::write_private;
mod ledger;
mod mail;
mod mailgun;
mod outbox;
pub mod settings;
mod smtp;
mod stripe_gateway;
mod templates;

pub use ledger::{LedgerEntry, LocalLedger};
pub use mail::{
    DEFAULT_SENDER, EmailMessage, MailError, Mailer, build_message, confirmation_message,
    reminder_message,
};
pub use mailgun::Mailgun;
pub use outbox::Outbox;
pub use settings::{
    MailSettings, PaymentSettings, ProviderSettings, SettingsError, StripeFlow, StripeSettings,
};
pub use smtp::Smtp;
pub use stripe_gateway::StripeGateway;

use crate::domain::{
    CartId, Catalog, Email, LineItem, MAX_REASON_CHARS, Money, Product, ProductId, bounded,
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
    pub cart_id: CartId,
    pub idempotency_key: String,
    pub amount: Money,
    pub email: Email,
    /// What to charge: a token such as `tok_visa` or a payment method such as `pm_card_visa`.
    /// `None` lets the provider use its test default (refused with live credentials).
    pub payment: Option<String>,
    pub description: String,
    /// When the checkout began (workflow time): a provider remembers an idempotency key for a
    /// limited time (Stripe: 24 hours), after which the key must not be sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<jiff::Timestamp>,
}

/// A charge as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: Money,
    pub idempotency_key: String,
    /// Paid, or still being processed by the provider (a PaymentIntent in `processing`).
    #[serde(default)]
    pub state: ChargeState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeState {
    #[default]
    Paid,
    Processing,
}

/// What becomes of a charge that is not paid. Only `Declined` and `Invalid` say that nothing
/// was charged; anything else leaves the outcome unknown, and the same idempotency key is used
/// again until it is known.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The card or account was refused; retrying will not help. Nothing was charged.
    #[error("card declined: {0}")]
    Declined(String),
    /// The request itself was refused (unknown token, bad credentials); nothing was charged.
    #[error("payment rejected: {0}")]
    Invalid(String),
    /// The outcome is not known: the provider could not be reached, failed, timed out, is
    /// still working on the same key, or still processing the payment.
    #[error("{0}")]
    Unknown(String),
}

impl PaymentError {
    /// Whether the provider definitely charged nothing.
    pub fn is_final(&self) -> bool {
        !matches!(self, PaymentError::Unknown(_))
    }
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Charges once per idempotency key: the same key again answers with the same charge.
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;

    /// Finds out what became of an earlier `charge` whose outcome was not known: follows up a
    /// charge still processing (`reference`), asks again with the same key, or looks the charge
    /// up by what it carried. `Unknown` while it still cannot tell.
    async fn settle(
        &self,
        request: &ChargeRequest,
        reference: Option<&str>,
    ) -> Result<Charge, PaymentError> {
        let _ = reference;
        self.charge(request).await
    }

    /// Whether this provider can charge an amount exactly (a currency's decimals, say). A
    /// worker checks every catalog price at start-up, so no cart meets the problem at checkout.
    fn check_amount(&self, _amount: &Money) -> Result<(), PaymentError> {
        Ok(())
    }
}

/// What the settle activity needs: the charge as first requested, and the provider's
/// reference for it when one is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleRequest {
    pub charge: ChargeRequest,
    pub reference: Option<String>,
}

/// What the reminder activity needs to write an abandoned-cart e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderRequest {
    pub cart_id: CartId,
    /// Unique per cart and idle period: a retried send replaces rather than duplicates.
    pub message_key: String,
    pub email: Email,
    pub items: Vec<LineItem>,
    pub total: Money,
}

/// What the confirmation activity needs after a successful checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationRequest {
    pub cart_id: CartId,
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
    pub fn check_prices(&self) -> Result<(), SettingsError> {
        for p in self.catalog.products() {
            self.payments
                .check_amount(&p.price)
                .map_err(|e| SettingsError::Unsellable {
                    id: p.id,
                    name: p.name.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    async fn send(&self, message: &EmailMessage) -> Result<(), ActivityError> {
        self.mailer.send(message).await.map_err(|e| {
            let failure = match e {
                MailError::Rejected(_) => ApplicationFailure::non_retryable(mail_failure(&e)),
                MailError::Unavailable(_) => ApplicationFailure::new(mail_failure(&e)),
            };
            ActivityError::application(failure)
        })
    }
}

/// A payment error as an activity failure: final refusals are not retried.
fn payment_failure(e: PaymentError) -> ActivityError {
    let failure = if e.is_final() {
        ApplicationFailure::non_retryable(bounded_error(&e))
    } else {
        ApplicationFailure::new(bounded_error(&e))
    };
    ActivityError::application(failure)
}

/// An error's text, bounded: it is stored in the cart's history with the activity's failure,
/// whatever a provider answered.
fn bounded_error(e: &dyn std::fmt::Display) -> Box<dyn std::error::Error + Send + Sync> {
    bounded(&e.to_string(), MAX_REASON_CHARS).into()
}

/// A mail provider's error, its addresses masked: a refused recipient is named in it, and the
/// text goes into the cart's history in the clear (failure messages are not payloads).
fn mail_failure(e: &MailError) -> Box<dyn std::error::Error + Send + Sync> {
    bounded(&crate::redact::redact(&e.to_string()), MAX_REASON_CHARS).into()
}

/// Heartbeats once a second (the worker passes them on at the pace the heartbeat timeout
/// asks), so that the cart's cancel reaches an attempt under way. Never returns.
async fn keep_alive(ctx: &ActivityContext) -> std::convert::Infallible {
    loop {
        if let Err(e) = ctx.record_heartbeat(()).await {
            tracing::warn!("cannot record a heartbeat: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

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

    /// Charges the customer. A definite refusal is a non-retryable failure; an unknown outcome
    /// is retryable, and every retry sends the same idempotency key.
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ChargeRequest,
    ) -> Result<Charge, ActivityError> {
        self.payments
            .charge(&request)
            .await
            .map_err(payment_failure)
    }

    /// Finds out the outcome of a charge that was not known: paid, refused (non-retryable), or
    /// still not known (retryable, so Temporal asks again with backoff).
    #[activity]
    pub async fn settle(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SettleRequest,
    ) -> Result<Charge, ActivityError> {
        let settled = self
            .payments
            .settle(&request.charge, request.reference.as_deref())
            .await;
        match settled {
            Ok(charge) if charge.state == ChargeState::Processing => Err(payment_failure(
                PaymentError::Unknown("the payment provider is still processing it".into()),
            )),
            other => other.map_err(payment_failure),
        }
    }

    /// Sends the abandoned-cart reminder. It heartbeats while it works, and stops if the cart
    /// cancels it (the cart changed): a send that has not gone through by then never does.
    #[activity]
    pub async fn send_reminder(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: ReminderRequest,
    ) -> Result<(), ActivityError> {
        let message = reminder_message(&request);
        tokio::select! {
            sent = self.send(&message) => sent,
            never = keep_alive(&ctx) => match never {},
            () = ctx.cancelled() => Err(ActivityError::cancelled()),
        }
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
