//! Side effects of a cart: charging the customer and sending e-mail.
//!
//! The workflow reaches these only through the typed activity handles of [`CartActivities`].
//! Providers sit behind the [`PaymentGateway`] and [`Mailer`] traits; the zero-config local
//! providers ([`LocalLedger`], [`Outbox`]) write to the data directory, and real providers plug
//! in beside them without touching the workflow.
//!
//! Failure policy: a payment activity never fails for what the provider answered; it answers
//! with an [`Observation`] of what the answer says about the payment, and the workflow decides
//! what to ask next ([`crate::domain::PaymentRecord`]), so each answer is recorded in the cart's
//! history and none is lost to a retry. E-mail is retried by Temporal: a refusal for good
//! (an address rejected) is a non-retryable application failure, anything that may pass is
//! retryable.

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
    order_notice_message, reminder_message,
};
pub use mailgun::Mailgun;
pub use outbox::Outbox;
pub use settings::{
    MailSettings, PaymentSettings, ProviderSettings, SettingsError, StripeFlow, StripeSettings,
};
pub use smtp::Smtp;
pub use stripe_gateway::{StripeCharges, StripePaymentIntents, gateway as stripe_gateway};

pub use crate::domain::PaymentAnswer;
use crate::domain::{
    CartId, Catalog, Email, LineItem, MAX_REASON_CHARS, Money, Observation, PaymentTiming, Product,
    ProductId, bounded,
};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// One request to charge a customer. `idempotency_key` is derived by the workflow from the
/// cart and the checkout attempt, so every request for the same attempt carries the same key.
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
}

/// One request to give money back: a refund of `amount` of the payment the provider named
/// `payment` (a PaymentIntent or a charge), under an idempotency key of its own, derived by the
/// workflow from the cart and the refund's id, so every request for the same refund carries
/// the same key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub cart_id: CartId,
    /// The id the refund was asked for under.
    pub refund_id: String,
    pub idempotency_key: String,
    /// The provider's reference for the payment refunded.
    pub payment: String,
    pub amount: Money,
    pub reason: Option<String>,
}

/// A question about a payment, as the workflow asks it: the request every call sends (the
/// charge of a checkout, or a refund), the provider the payment goes through (only a worker
/// paying through it may ask), the provider's reference for the payment (to follow it up or
/// cancel it), and when the first request with its key may have gone and how long the
/// payment's workers said a key is remembered (past that window, see [`PaymentTiming`], the
/// key is not sent again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCall<R = ChargeRequest> {
    #[serde(rename = "charge")]
    pub request: R,
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sent: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_window: Option<SignedDuration>,
}

/// A payment provider. Every method answers with what it learnt about the checkout's payment,
/// sorted as [`Observation`] documents; none ever retries, which is the workflow's job (see
/// [`crate::domain::PaymentRecord`]).
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Sends the charge with its idempotency key: a new payment, or, for a key the provider
    /// has seen, the answer it kept for it.
    async fn charge(&self, request: &ChargeRequest) -> Observation;

    /// The payment the provider named `reference`, as it stands now.
    async fn retrieve(&self, request: &ChargeRequest, reference: &str) -> Observation;

    /// Looks the checkout's payment up by the key it carries: `None` when the provider has
    /// none.
    async fn find(&self, request: &ChargeRequest) -> Option<Observation>;

    /// Cancels the payment `reference` that the cart gives up on: what it is afterwards
    /// (`Refused` once cancelled, `Paid` if it succeeded meanwhile).
    async fn cancel(&self, request: &ChargeRequest, reference: &str) -> Observation;

    /// Sends the refund with its idempotency key: a new refund, or, for a key the provider has
    /// seen, the answer it kept for it. A refund the provider made is `Paid` (its reference the
    /// refund's id), one on its way `Unfinished`, one it failed, cancelled or refused `Refused`.
    async fn refund(&self, request: &RefundRequest) -> Observation;

    /// The refund the provider named `reference`, as it stands now.
    async fn retrieve_refund(&self, request: &RefundRequest, reference: &str) -> Observation;

    /// Looks the refund up by the key it carries: `None` when the provider has none.
    async fn find_refund(&self, request: &RefundRequest) -> Option<Observation>;

    /// How long this provider remembers keys, lags in its search, and may take to answer.
    fn timing(&self) -> PaymentTiming;

    /// Which provider this is, as far as a payment cares: workers that pay through the same
    /// one give the same name (e.g. `Stripe PaymentIntents https://api.stripe.com (live)`; no
    /// secret in it).
    fn provider(&self) -> String;

    /// Whether this provider can charge an amount exactly (a currency's decimals, say); why
    /// not. A worker checks every catalog price at start-up, so no cart meets the problem at
    /// checkout.
    fn check_amount(&self, _amount: &Money) -> Result<(), String> {
        Ok(())
    }
}

/// An activity attempt's view of the time. It has two readings: the Temporal server's clock
/// (when the server started the attempt, plus the time since on this machine's monotonic
/// clock) and this machine's own. Each question takes the reading that errs on the safe side.
/// Whether a request may still go out (within the attempt, within the key's window) takes the
/// later one, so neither a clock that runs behind nor an attempt begun late by a busy worker
/// lets a request out too late; a worker whose clock runs far ahead sends nothing, and its
/// payments are refused as never sent (see [`crate::domain::PaymentRecord`]), with the reason.
/// When a lookup began takes the earlier reading, so it never seems to come later than it did.
struct AttemptClock {
    started: Timestamp,
    began: std::time::Instant,
    deadline: Option<Timestamp>,
}

impl AttemptClock {
    fn of(ctx: &ActivityContext) -> Self {
        let stamp = |t: Option<std::time::SystemTime>| t.and_then(|t| Timestamp::try_from(t).ok());
        let info = ctx.info();
        Self {
            started: stamp(info.started_time).unwrap_or_else(Timestamp::now),
            began: std::time::Instant::now(),
            deadline: stamp(info.deadline),
        }
    }

    /// The server's time now, as this attempt counts it.
    fn server_now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.began.elapsed()).unwrap_or(SignedDuration::MAX);
        self.started.checked_add(elapsed).unwrap_or(Timestamp::MAX)
    }

    /// The later of the two readings.
    fn latest(&self) -> Timestamp {
        self.server_now().max(Timestamp::now())
    }

    /// The earlier of the two readings.
    fn earliest(&self) -> Timestamp {
        self.server_now().min(Timestamp::now())
    }

    /// Whether a request that may take `timeout`, begun now, ends a second before `end` by
    /// either reading.
    fn surely_before(&self, timeout: SignedDuration, end: Timestamp) -> bool {
        let margin = SignedDuration::from_secs(1);
        self.latest()
            .checked_add(timeout + margin)
            .is_ok_and(|done| done <= end)
    }

    /// Whether a request that may take `timeout` ends before this attempt's deadline, so that
    /// it has surely ended by the time the workflow hears the attempt is over.
    fn fits(&self, timeout: SignedDuration) -> bool {
        self.deadline
            .is_none_or(|deadline| self.surely_before(timeout, deadline))
    }
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

/// What happened to an order, for the e-mail that tells the customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNotice {
    pub cart_id: CartId,
    /// Unique per cart and event: a retried send replaces rather than duplicates.
    pub message_key: String,
    pub email: Email,
    pub event: OrderEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum OrderEvent {
    /// A refund was made: `amount` back, `refunded` in all of `paid`.
    Refunded {
        amount: Money,
        refunded: Money,
        paid: Money,
        reason: Option<String>,
    },
    /// The order was cancelled; `refunded` is what went back with it.
    Cancelled {
        refunded: Money,
        reason: Option<String>,
    },
    Shipped {
        tracking: Option<String>,
        carrier: Option<String>,
    },
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
                .map_err(|reason| SettingsError::Unsellable {
                    id: p.id,
                    name: p.name.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    /// An observation with this worker's provider and its timing, its texts bounded: they go
    /// into the cart's history whatever a provider answered.
    fn answer(&self, observation: Observation) -> PaymentAnswer {
        PaymentAnswer {
            observation: observation.bounded(MAX_REASON_CHARS),
            provider: self.payments.provider(),
            timing: self.payments.timing(),
        }
    }

    /// Why this worker must not ask about the payment: it pays through another provider.
    fn foreign<R>(&self, call: &PaymentCall<R>) -> Option<Observation> {
        let ours = self.payments.provider();
        let theirs = call.provider.as_ref().filter(|theirs| **theirs != ours)?;
        Some(Observation::Foreign {
            reason: format!(
                "a worker that pays through {ours} was asked about a payment through {theirs}: give every worker of the task queue the same payment settings"
            ),
        })
    }

    /// Why this attempt must not send the request of `call` (a charge or a refund, `what`):
    /// the worker pays through another provider, the provider may have forgotten the key, or
    /// the attempt began too late to end its request within its time.
    fn withheld<R>(
        &self,
        ctx: &ActivityContext,
        call: &PaymentCall<R>,
        what: &str,
    ) -> Option<Observation> {
        let clock = AttemptClock::of(ctx);
        let timing = self.payments.timing();
        // The stricter of this provider's window and the payment's (the most cautious its
        // workers reported).
        let window = call
            .key_window
            .map_or(timing.key_window, |w| w.min(timing.key_window));
        let key_forgotten = call.first_sent.is_some_and(|first| {
            let last_moment = first.checked_add(window).unwrap_or(Timestamp::MAX);
            !clock.surely_before(timing.request_timeout, last_moment)
        });
        if let Some(foreign) = self.foreign(call) {
            Some(foreign)
        } else if key_forgotten {
            Some(Observation::Withheld {
                key_expired: true,
                reason: format!(
                    "the payment provider may have forgotten the {what}'s key, so it is not sent again"
                ),
            })
        } else if !clock.fits(timing.request_timeout) {
            Some(Observation::Withheld {
                key_expired: false,
                reason: format!("the attempt to {what} began too late to send within its time"),
            })
        } else {
            None
        }
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

fn no_reference() -> Observation {
    Observation::Unrelated {
        reason: "the payment has no reference to follow up".into(),
    }
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

    /// Names the provider this worker pays through, asking nothing of it: the first question
    /// of every payment, so that only workers of that provider take part in it.
    #[activity]
    pub async fn payment_provider(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _charge: ChargeRequest,
    ) -> Result<PaymentAnswer, ActivityError> {
        Ok(self.answer(Observation::Ready))
    }

    /// Sends the charge with its idempotency key, unless this attempt must not send (see
    /// [`CartActivities::withheld`]).
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: PaymentCall,
    ) -> Result<PaymentAnswer, ActivityError> {
        let observation = match self.withheld(&ctx, &call, "charge") {
            Some(withheld) => withheld,
            None => self.payments.charge(&call.request).await,
        };
        Ok(self.answer(observation))
    }

    /// Follows up a payment by the provider's reference for it.
    #[activity]
    pub async fn retrieve_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        call: PaymentCall,
    ) -> Result<PaymentAnswer, ActivityError> {
        let observation = match (self.foreign(&call), &call.reference) {
            (Some(foreign), _) => foreign,
            (None, Some(reference)) => self.payments.retrieve(&call.request, reference).await,
            (None, None) => no_reference(),
        };
        Ok(self.answer(observation))
    }

    /// Looks the checkout's payment up by its key. An empty answer records when the lookup
    /// began, in the server's clock, so the workflow can tell whether it came late enough to
    /// count (see [`PaymentTiming::search_lag`]).
    #[activity]
    pub async fn find_payment(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: PaymentCall,
    ) -> Result<PaymentAnswer, ActivityError> {
        let searched_at = AttemptClock::of(&ctx).earliest();
        let observation = match self.foreign(&call) {
            Some(foreign) => foreign,
            None => self
                .payments
                .find(&call.request)
                .await
                .unwrap_or(Observation::NoneFound { searched_at }),
        };
        Ok(self.answer(observation))
    }

    /// Cancels a payment the cart gives up on.
    #[activity]
    pub async fn cancel_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        call: PaymentCall,
    ) -> Result<PaymentAnswer, ActivityError> {
        let observation = match (self.foreign(&call), &call.reference) {
            (Some(foreign), _) => foreign,
            (None, Some(reference)) => self.payments.cancel(&call.request, reference).await,
            (None, None) => no_reference(),
        };
        Ok(self.answer(observation))
    }

    /// Sends the refund with its idempotency key, unless this attempt must not send (see
    /// [`CartActivities::withheld`]).
    #[activity]
    pub async fn refund(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: PaymentCall<RefundRequest>,
    ) -> Result<PaymentAnswer, ActivityError> {
        let observation = match self.withheld(&ctx, &call, "refund") {
            Some(withheld) => withheld,
            None => self.payments.refund(&call.request).await,
        };
        Ok(self.answer(observation))
    }

    /// Follows up a refund by the provider's reference for it.
    #[activity]
    pub async fn retrieve_refund(
        self: Arc<Self>,
        _ctx: ActivityContext,
        call: PaymentCall<RefundRequest>,
    ) -> Result<PaymentAnswer, ActivityError> {
        let observation = match (self.foreign(&call), &call.reference) {
            (Some(foreign), _) => foreign,
            (None, Some(reference)) => {
                self.payments
                    .retrieve_refund(&call.request, reference)
                    .await
            }
            (None, None) => no_reference(),
        };
        Ok(self.answer(observation))
    }

    /// Looks the refund up by its key (see [`CartActivities::find_payment`]).
    #[activity]
    pub async fn find_refund(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: PaymentCall<RefundRequest>,
    ) -> Result<PaymentAnswer, ActivityError> {
        let searched_at = AttemptClock::of(&ctx).earliest();
        let observation = match self.foreign(&call) {
            Some(foreign) => foreign,
            None => self
                .payments
                .find_refund(&call.request)
                .await
                .unwrap_or(Observation::NoneFound { searched_at }),
        };
        Ok(self.answer(observation))
    }

    /// Tells the customer what became of the order: a refund made, the order cancelled or
    /// shipped.
    #[activity]
    pub async fn send_order_notice(
        self: Arc<Self>,
        _ctx: ActivityContext,
        notice: OrderNotice,
    ) -> Result<(), ActivityError> {
        self.send(&order_notice_message(&notice)).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, SystemTime};
    use temporalio_sdk::testing::{ActivityEnvironment, TestActivityInfoOptions};

    /// A provider that counts the requests it is sent and pays them.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl PaymentGateway for Counting {
        async fn charge(&self, _: &ChargeRequest) -> Observation {
            self.0.fetch_add(1, Ordering::SeqCst);
            Observation::Paid {
                reference: "pi_1".into(),
            }
        }
        async fn retrieve(&self, _: &ChargeRequest, _: &str) -> Observation {
            unreachable!()
        }
        async fn find(&self, _: &ChargeRequest) -> Option<Observation> {
            None
        }
        async fn cancel(&self, _: &ChargeRequest, _: &str) -> Observation {
            unreachable!()
        }
        async fn refund(&self, _: &RefundRequest) -> Observation {
            self.0.fetch_add(1, Ordering::SeqCst);
            Observation::Paid {
                reference: "re_1".into(),
            }
        }
        async fn retrieve_refund(&self, _: &RefundRequest, _: &str) -> Observation {
            unreachable!()
        }
        async fn find_refund(&self, _: &RefundRequest) -> Option<Observation> {
            None
        }
        fn timing(&self) -> PaymentTiming {
            PaymentTiming {
                key_window: SignedDuration::from_hours(23),
                request_timeout: SignedDuration::from_secs(20),
                ..PaymentTiming::default()
            }
        }
        fn provider(&self) -> String {
            "a counting provider".into()
        }
    }

    fn charge() -> ChargeRequest {
        ChargeRequest {
            cart_id: CartId::of_workflow("CART-1"),
            idempotency_key: "CART-1-run-checkout-1".into(),
            amount: Money::new(99_900, crate::domain::Currency::usd()),
            email: Email::parse("ann@example.com").unwrap(),
            payment: None,
            description: "1 x iPhone 12 Pro".into(),
        }
    }

    /// Activities paying through `gateway`, run as an attempt the server started at
    /// `started`, with `lasts` to run.
    fn attempt(
        gateway: Arc<Counting>,
        started: SystemTime,
        lasts: Duration,
    ) -> ActivityEnvironment {
        let outbox = Outbox::new(
            std::path::Path::new("/nonexistent"),
            DEFAULT_SENDER.parse().unwrap(),
        );
        let activities =
            CartActivities::new(Arc::new(Catalog::builtin()), gateway, Arc::new(outbox));
        let info = TestActivityInfoOptions::builder()
            .started_time(Some(started))
            .deadline(Some(started + lasts))
            .build();
        ActivityEnvironment::builder_with_default()
            .register_activities(activities)
            .info(info)
            .build()
    }

    /// Runs `charge` in such an attempt: what it answered, and how many requests it sent.
    async fn send(
        first_sent: Option<Timestamp>,
        started: SystemTime,
        lasts: Duration,
    ) -> (Observation, usize) {
        let gateway = Arc::new(Counting::default());
        let call = PaymentCall {
            request: charge(),
            provider: Some(Counting::default().provider()),
            reference: None,
            first_sent,
            key_window: None,
        };
        let env = attempt(gateway.clone(), started, lasts);
        let answer = env.run(CartActivities::charge, call).await.unwrap();
        (answer.observation, gateway.0.load(Ordering::SeqCst))
    }

    /// An attempt that sent nothing because its request could outlast it (the key was fine).
    fn assert_withheld_for_time(answer: &Observation, sent: usize) {
        assert!(
            matches!(
                answer,
                Observation::Withheld {
                    key_expired: false,
                    ..
                }
            ),
            "{answer:?}"
        );
        assert_eq!(sent, 0);
    }

    /// A question about the payment, asked of a worker that pays through `provider` (the
    /// counting provider's own when `None`).
    fn call(provider: Option<&str>) -> PaymentCall {
        PaymentCall {
            request: charge(),
            provider: Some(provider.map_or_else(|| Counting::default().provider(), str::to_owned)),
            reference: None,
            first_sent: None,
            key_window: None,
        }
    }

    #[tokio::test]
    async fn a_worker_of_another_provider_asks_nothing() {
        let now = SystemTime::now();
        let gateway = Arc::new(Counting::default());
        let env = attempt(gateway.clone(), now, Duration::from_secs(30));
        let foreign = call(Some("Stripe PaymentIntents https://api.stripe.com (live)"));
        let answer = env
            .run(CartActivities::charge, foreign.clone())
            .await
            .unwrap();
        assert!(
            matches!(answer.observation, Observation::Foreign { .. }),
            "{answer:?}"
        );
        assert_eq!(answer.provider, "a counting provider");
        let found = env
            .run(CartActivities::find_payment, foreign)
            .await
            .unwrap();
        assert!(
            matches!(found.observation, Observation::Foreign { .. }),
            "{found:?}"
        );
        assert_eq!(gateway.0.load(Ordering::SeqCst), 0);
    }

    fn ago(d: Duration) -> Timestamp {
        Timestamp::try_from(SystemTime::now() - d).unwrap()
    }

    #[tokio::test]
    async fn a_key_is_sent_while_the_provider_surely_remembers_it() {
        let now = SystemTime::now();
        let (answer, sent) = send(None, now, Duration::from_secs(30)).await;
        assert!(matches!(answer, Observation::Paid { .. }), "{answer:?}");
        assert_eq!(sent, 1);
        // 22 hours after its first request, with 20 s for this one: still inside 23 hours.
        let (_, sent) = send(
            Some(ago(Duration::from_secs(22 * 3600))),
            now,
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(sent, 1);
    }

    #[tokio::test]
    async fn past_its_window_a_key_is_never_sent_again() {
        let now = SystemTime::now();
        // The request could still be running when the window closes.
        let almost = ago(Duration::from_secs(23 * 3600 - 10));
        let (answer, sent) = send(Some(almost), now, Duration::from_secs(30)).await;
        assert!(
            matches!(
                answer,
                Observation::Withheld {
                    key_expired: true,
                    ..
                }
            ),
            "{answer:?}"
        );
        assert_eq!(sent, 0);
    }

    #[tokio::test]
    async fn an_attempt_that_cannot_end_its_request_in_time_sends_nothing() {
        // The attempt has 15 s left by the server's clock, and a request may take 20: it could
        // outlast the attempt, and the workflow hear the attempt was over while it still ran.
        let (answer, sent) = send(None, SystemTime::now(), Duration::from_secs(15)).await;
        assert_withheld_for_time(&answer, sent);
    }

    #[tokio::test]
    async fn an_attempt_a_busy_worker_begins_late_sends_nothing() {
        // The server started the attempt 20 s ago and gave it 30; this worker only runs it
        // now. A 20 s request would outlast the attempt.
        let started = SystemTime::now() - Duration::from_secs(20);
        let (answer, sent) = send(None, started, Duration::from_secs(30)).await;
        assert_withheld_for_time(&answer, sent);
    }

    #[tokio::test]
    async fn the_payment_s_key_window_binds_a_worker_told_a_longer_one() {
        // This worker's provider says 23 hours; the payment's workers said one.
        let mut call = call(None);
        call.first_sent = Some(ago(Duration::from_secs(3600 - 10)));
        call.key_window = Some(SignedDuration::from_hours(1));
        let env = attempt(Arc::default(), SystemTime::now(), Duration::from_secs(30));
        let answer = env.run(CartActivities::charge, call).await.unwrap();
        assert!(
            matches!(
                answer.observation,
                Observation::Withheld {
                    key_expired: true,
                    ..
                }
            ),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn an_empty_lookup_says_when_it_began_in_the_server_s_clock() {
        // The server started the attempt an hour "ago" by its clock: the lookup's time comes
        // from it, not from this machine's.
        let started = SystemTime::now() - Duration::from_secs(3600);
        let env = attempt(Arc::default(), started, Duration::from_secs(30));
        let answer = env
            .run(CartActivities::find_payment, call(None))
            .await
            .unwrap();
        let Observation::NoneFound { searched_at } = answer.observation else {
            panic!("{answer:?}")
        };
        let started = Timestamp::try_from(started).unwrap();
        assert!(searched_at >= started && searched_at < started + SignedDuration::from_secs(60));
    }
}
