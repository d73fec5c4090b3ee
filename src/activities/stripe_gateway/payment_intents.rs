//! Stripe's PaymentIntents API: a PaymentIntent created and confirmed in one request with the
//! checkout's key, followed up by its id, looked up by the key, and cancelled when given up.

use super::refunds::Refunds;
use super::{PROCESSING, Stripe, answer_to_key, decline_reason, first_paid, metadata};
use super::{not_an_answer, search_query};
use crate::activities::settings::{SettingsError, StripeSettings};
use crate::activities::{ChargeRequest, PaymentGateway, RefundRequest};
use crate::domain::{Money, Observation, PaymentTiming};
use async_trait::async_trait;
use stripe::StripeRequest;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CancelPaymentIntentCancellationReason, CreatePaymentIntent,
    CreatePaymentIntentAutomaticPaymentMethods,
    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects, RetrievePaymentIntent,
    SearchPaymentIntent,
};
use stripe_core::{PaymentIntent, PaymentIntentStatus};

/// Stripe's test payment method, charged when a test key checks out without one.
const TEST_CARD: &str = "pm_card_visa";

pub struct StripePaymentIntents(Stripe);

impl StripePaymentIntents {
    pub fn new(settings: &StripeSettings) -> Result<Self, SettingsError> {
        Stripe::new(settings, "PaymentIntents").map(Self)
    }

    async fn retrieve_by_id(&self, reference: &str) -> Observation {
        RetrievePaymentIntent::new(reference)
            .send(&self.0.client)
            .await
            .map_or_else(
                |e| not_an_answer("following the payment up", e),
                |i| observation(&i),
            )
    }
}

#[async_trait]
impl PaymentGateway for StripePaymentIntents {
    fn check_amount(&self, amount: &Money) -> Result<(), String> {
        super::stripe_amount(amount).map(drop)
    }

    async fn refund(&self, request: &RefundRequest) -> Observation {
        Refunds::PaymentIntents.create(&self.0, request).await
    }

    async fn retrieve_refund(&self, _request: &RefundRequest, reference: &str) -> Observation {
        Refunds::retrieve(&self.0, reference).await
    }

    async fn find_refund(&self, request: &RefundRequest) -> Option<Observation> {
        Refunds::PaymentIntents.find(&self.0, request).await
    }

    fn timing(&self) -> PaymentTiming {
        self.0.timing
    }

    fn provider(&self) -> String {
        self.0.provider.clone()
    }

    async fn charge(&self, request: &ChargeRequest) -> Observation {
        let p = match self.0.prepared(request, TEST_CARD) {
            Ok(prepared) => prepared,
            Err(reason) => return Observation::NotSent { reason },
        };
        CreatePaymentIntent::new(p.amount, p.currency)
            .payment_method(p.payment)
            .confirm(true)
            .automatic_payment_methods(CreatePaymentIntentAutomaticPaymentMethods {
                enabled: true,
                allow_redirects: Some(
                    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects::Never,
                ),
            })
            .description(request.description.clone())
            .receipt_email(request.email.to_string())
            .metadata(metadata(request))
            .customize()
            .request_strategy(p.strategy)
            .send(&self.0.client)
            .await
            .map_or_else(answer_to_key, |i| observation(&i))
    }

    async fn retrieve(&self, _request: &ChargeRequest, reference: &str) -> Observation {
        self.retrieve_by_id(reference).await
    }

    async fn find(&self, request: &ChargeRequest) -> Option<Observation> {
        let query = search_query(&request.idempotency_key);
        match SearchPaymentIntent::new(query).send(&self.0.client).await {
            Ok(found) => first_paid(found.data.iter().map(observation).collect()),
            Err(e) => Some(not_an_answer("looking the payment up", e)),
        }
    }

    /// Cancels the PaymentIntent. When Stripe refuses the cancel, the payment is retrieved:
    /// what it is now is the answer (it succeeded or was canceled meanwhile, say), or, if it
    /// still waits to be cancelled, the refusal.
    async fn cancel(&self, _request: &ChargeRequest, reference: &str) -> Observation {
        let cancelled = CancelPaymentIntent::new(reference)
            .cancellation_reason(CancelPaymentIntentCancellationReason::Abandoned)
            .send(&self.0.client)
            .await;
        match cancelled {
            Ok(intent) => observation(&intent),
            Err(e) => match self.retrieve_by_id(reference).await {
                // Still waiting to be cancelled: the refused cancel is what there is to tell.
                Observation::Stalled { .. } => not_an_answer("cancelling the payment", e),
                other => other,
            },
        }
    }
}

/// What a PaymentIntent's status says of the payment, as Stripe documents the statuses.
pub(super) fn observation(intent: &PaymentIntent) -> Observation {
    let reference = intent.id.as_str().to_owned();
    let declined = || {
        let why = intent
            .last_payment_error
            .as_ref()
            .and_then(|e| decline_reason(e))
            .unwrap_or_else(|| "the payment method was declined".to_owned());
        format!("card declined: {why}")
    };
    match &intent.status {
        PaymentIntentStatus::Succeeded => Observation::Paid { reference },
        PaymentIntentStatus::Processing => Observation::Unfinished {
            reference,
            reason: PROCESSING.into(),
        },
        PaymentIntentStatus::RequiresPaymentMethod => Observation::Stalled {
            reference,
            reason: declined(),
        },
        PaymentIntentStatus::RequiresAction => Observation::Stalled {
            reference,
            reason: "card declined: the card needs the customer to confirm the payment with the bank (3-D Secure), which a checkout here cannot do: use another card".into(),
        },
        PaymentIntentStatus::RequiresConfirmation => Observation::Stalled {
            reference,
            reason: "payment rejected: the payment was not confirmed".into(),
        },
        PaymentIntentStatus::Canceled => Observation::Refused {
            reason: "card declined: the payment was canceled".into(),
        },
        // Automatic capture is asked for; an authorized payment waits for someone to act.
        PaymentIntentStatus::RequiresCapture => Observation::Unfinished {
            reason: format!(
                "payment {reference} is authorized but not captured: capture or cancel it in Stripe"
            ),
            reference,
        },
        other => Observation::Unfinished {
            reason: format!(
                "payment {reference} has a status this version does not know: {}",
                other.as_str()
            ),
            reference,
        },
    }
}
