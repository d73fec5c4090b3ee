//! SMTP through lettre, configured by one URL: `smtp://user:pass@host:587` (STARTTLS when the
//! server offers it; add `?tls=required` to insist), `smtps://…:465` (TLS from the start), or
//! `smtp://host:25?tls=none`-style plain connections for local relays. This also covers
//! Mailgun's SMTP relay and any company mail server.

use super::mail::build_message;
use super::settings::SettingsError;
use super::{EmailMessage, MailError, Mailer};
use crate::report::line;
use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    pub fn new(url: &str, from: Mailbox) -> Result<Self, SettingsError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                SettingsError::Provider(format!(
                    "SMTP_URL is not a usable smtp:// or smtps:// URL: {e}"
                ))
            })?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for Smtp {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let email = build_message(&self.from, message, std::time::SystemTime::now())?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            // A 5xx reply (bad credentials, unknown mailbox) will not get better by itself.
            Err(e) if e.is_permanent() => Err(MailError::Rejected(format!("smtp: {}", line(&e)))),
            Err(e) => Err(MailError::Unavailable(format!("smtp: {}", line(&e)))),
        }
    }
}
