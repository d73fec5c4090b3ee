//! The worker's payment and mail provider settings, as `cart worker` takes them: each one a
//! flag with its environment variable, listed by `cart worker --help` and the man page. The
//! values stay text here; [`ProviderSettings::read`] checks them together (a half-configured
//! provider, two mail providers, a duration out of range) with errors that name the variable.
//! Secrets never show their values in `--help`; prefer the variables to the flags for them,
//! as a process's arguments are visible to everyone on the machine.

use crate::activities::{ProviderSettings, SettingsError};

#[derive(Clone, Debug, Default, clap::Args)]
pub struct ProviderArgs {
    /// Charge through Stripe with this secret key (`sk_test_…` or `sk_live_…`) instead of the
    /// local ledger
    #[arg(
        long,
        env = "STRIPE_SECRET_KEY",
        value_name = "KEY",
        hide_env_values = true,
        help_heading = "Payments"
    )]
    pub stripe_secret_key: Option<String>,
    /// The tutorial's name for STRIPE_SECRET_KEY, taken when that is not set
    #[arg(
        long,
        env = "STRIPE_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true,
        help_heading = "Payments"
    )]
    pub stripe_private_key: Option<String>,
    /// Stripe's API to charge with: payment_intents or charges (the tutorial's) [default: payment_intents]
    #[arg(
        long,
        env = "STRIPE_API",
        value_name = "API",
        help_heading = "Payments"
    )]
    pub stripe_api: Option<String>,
    /// Where Stripe's API is, e.g. a Stripe mock server [default: https://api.stripe.com]
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        value_name = "URL",
        help_heading = "Payments"
    )]
    pub stripe_api_base: Option<String>,
    /// How long one request to Stripe may take, from 1s to 25s [default: 20s]
    #[arg(
        long,
        env = "STRIPE_TIMEOUT",
        value_name = "DURATION",
        help_heading = "Payments"
    )]
    pub stripe_timeout: Option<String>,
    /// How long after a checkout's first request its idempotency key may still be sent, at
    /// most 23h (Stripe keeps keys for 24 hours) [default: 23h]
    #[arg(
        long,
        env = "STRIPE_KEY_WINDOW",
        value_name = "DURATION",
        help_heading = "Payments"
    )]
    pub stripe_key_window: Option<String>,
    /// How long Stripe's search may take to show a payment; at least 1m against Stripe's own
    /// API [default: 10m]
    #[arg(
        long,
        env = "STRIPE_SEARCH_LAG",
        value_name = "DURATION",
        help_heading = "Payments"
    )]
    pub stripe_search_lag: Option<String>,
    /// The longest wait between two follow-ups of a payment not settled, from 1s to 1h
    /// [default: 5m]
    #[arg(
        long,
        env = "STRIPE_FOLLOW_UP_MAX",
        value_name = "DURATION",
        help_heading = "Payments"
    )]
    pub stripe_follow_up_max: Option<String>,
    /// Send e-mail through this SMTP server instead of the outbox, e.g.
    /// smtps://user:password@smtp.example.com or smtp://…:587 (STARTTLS)
    #[arg(
        long,
        env = "SMTP_URL",
        value_name = "URL",
        hide_env_values = true,
        help_heading = "E-mail"
    )]
    pub smtp_url: Option<String>,
    /// Send e-mail through Mailgun with this API key (with --mailgun-domain)
    #[arg(
        long,
        env = "MAILGUN_API_KEY",
        value_name = "KEY",
        hide_env_values = true,
        help_heading = "E-mail"
    )]
    pub mailgun_api_key: Option<String>,
    /// The tutorial's name for MAILGUN_API_KEY, taken when that is not set
    #[arg(
        long,
        env = "MAILGUN_PRIVATE_KEY",
        value_name = "KEY",
        hide_env_values = true,
        help_heading = "E-mail"
    )]
    pub mailgun_private_key: Option<String>,
    /// The Mailgun domain that sends the e-mail
    #[arg(
        long,
        env = "MAILGUN_DOMAIN",
        value_name = "DOMAIN",
        help_heading = "E-mail"
    )]
    pub mailgun_domain: Option<String>,
    /// Mailgun's API, e.g. https://api.eu.mailgun.net for the EU region [default: https://api.mailgun.net]
    #[arg(
        long,
        env = "MAILGUN_API_BASE",
        value_name = "URL",
        help_heading = "E-mail"
    )]
    pub mailgun_api_base: Option<String>,
    /// The sender of every e-mail, e.g. "Shop <shop@example.com>" [default: Cart <cart@localhost>, or cart@ the Mailgun domain]
    #[arg(
        long,
        env = "CART_MAIL_FROM",
        value_name = "ADDRESS",
        help_heading = "E-mail"
    )]
    pub mail_from: Option<String>,
}

impl ProviderArgs {
    /// The settings these values give, checked together.
    pub fn settings(&self) -> Result<ProviderSettings, SettingsError> {
        ProviderSettings::read(|name| self.value(name).cloned())
    }

    /// The value given for the setting of the environment variable `name`.
    fn value(&self, name: &str) -> Option<&String> {
        match name {
            "STRIPE_SECRET_KEY" => self.stripe_secret_key.as_ref(),
            "STRIPE_PRIVATE_KEY" => self.stripe_private_key.as_ref(),
            "STRIPE_API" => self.stripe_api.as_ref(),
            "STRIPE_API_BASE" => self.stripe_api_base.as_ref(),
            "STRIPE_TIMEOUT" => self.stripe_timeout.as_ref(),
            "STRIPE_KEY_WINDOW" => self.stripe_key_window.as_ref(),
            "STRIPE_SEARCH_LAG" => self.stripe_search_lag.as_ref(),
            "STRIPE_FOLLOW_UP_MAX" => self.stripe_follow_up_max.as_ref(),
            "SMTP_URL" => self.smtp_url.as_ref(),
            "MAILGUN_API_KEY" => self.mailgun_api_key.as_ref(),
            "MAILGUN_PRIVATE_KEY" => self.mailgun_private_key.as_ref(),
            "MAILGUN_DOMAIN" => self.mailgun_domain.as_ref(),
            "MAILGUN_API_BASE" => self.mailgun_api_base.as_ref(),
            "CART_MAIL_FROM" => self.mail_from.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Worker {
        #[command(flatten)]
        providers: ProviderArgs,
    }

    /// Every variable the settings read is declared here, so none is read behind clap's back.
    #[test]
    fn every_variable_the_settings_read_is_a_declared_flag() {
        let command = Worker::command();
        let declared: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let source = include_str!("../activities/settings.rs");
        let read = source
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| s.len() > 3 && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .filter(|s| s.contains('_'));
        for name in read {
            assert!(
                declared.iter().any(|d| d == name),
                "{name} is read but not declared"
            );
        }
        let parsed =
            Worker::try_parse_from(["worker", "--stripe-secret-key", "sk_test_1"]).unwrap();
        assert!(matches!(
            parsed.providers.settings().unwrap().payments,
            crate::activities::PaymentSettings::Stripe(_)
        ));
    }

    #[test]
    fn secrets_hide_their_values_in_help() {
        let command = Worker::command();
        for secret in [
            "stripe_secret_key",
            "stripe_private_key",
            "smtp_url",
            "mailgun_api_key",
            "mailgun_private_key",
        ] {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == secret)
                .unwrap();
            assert!(arg.is_hide_env_values_set(), "{secret}");
        }
    }
}
