//! Stripe's Charges API, as the tutorial charges: a charge created with the checkout's key,
//! followed up by its id and looked up by the key. A charge is final when it answers, and is
//! never given up on: there is nothing to cancel.

use super::refunds::Refunds;
use super::{PROCESSING, Stripe, answer_to_key, first_paid, metadata};
use super::{not_an_answer, search_query};
use crate::activities::settings::{SettingsError, StripeSettings};
use crate::activities::{ChargeRequest, PaymentGateway, RefundRequest};
use crate::domain::{Money, Observation, PaymentTiming};
use async_trait::async_trait;
use stripe::StripeRequest;
use stripe_core::ChargeStatus;
use stripe_core::charge::{CreateCharge, RetrieveCharge, SearchCharge};

/// Stripe's test card token, charged when a test key checks out without a payment.
const TEST_CARD: &str = "tok_visa";

pub struct StripeCharges(Stripe);

impl StripeCharges {
    pub fn new(settings: &StripeSettings) -> Result<Self, SettingsError> {
        Stripe::new(settings, "Charges").map(Self)
    }
}

#[async_trait]
impl PaymentGateway for StripeCharges {
    fn check_amount(&self, amount: &Money) -> Result<(), String> {
        super::stripe_amount(amount).map(drop)
    }

    async fn refund(&self, request: &RefundRequest) -> Observation {
        Refunds::Charges.create(&self.0, request).await
    }

    async fn retrieve_refund(&self, _request: &RefundRequest, reference: &str) -> Observation {
        Refunds::retrieve(&self.0, reference).await
    }

    async fn find_refund(&self, request: &RefundRequest) -> Option<Observation> {
        Refunds::Charges.find(&self.0, request).await
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
        CreateCharge::new()
            .amount(p.amount)
            .currency(p.currency)
            .source(p.payment)
            .description(request.description.clone())
            .receipt_email(request.email.to_string())
            .metadata(metadata(request))
            .customize()
            .request_strategy(p.strategy)
            .send(&self.0.client)
            .await
            .map_or_else(answer_to_key, |c| observation(&c))
    }

    async fn retrieve(&self, _request: &ChargeRequest, reference: &str) -> Observation {
        RetrieveCharge::new(reference)
            .send(&self.0.client)
            .await
            .map_or_else(
                |e| not_an_answer("following the charge up", e),
                |c| observation(&c),
            )
    }

    async fn find(&self, request: &ChargeRequest) -> Option<Observation> {
        let query = search_query(&request.idempotency_key);
        match SearchCharge::new(query).send(&self.0.client).await {
            Ok(found) => first_paid(found.data.iter().map(observation).collect()),
            Err(e) => Some(not_an_answer("looking the payment up", e)),
        }
    }

    /// A charge cannot be cancelled: what it is now is the answer.
    async fn cancel(&self, request: &ChargeRequest, reference: &str) -> Observation {
        self.retrieve(request, reference).await
    }
}

/// What a charge's status says (the Charges API).
fn observation(charge: &stripe_core::Charge) -> Observation {
    let reference = charge.id.as_str().to_owned();
    match &charge.status {
        ChargeStatus::Succeeded => Observation::Paid { reference },
        ChargeStatus::Pending => Observation::Unfinished {
            reference,
            reason: PROCESSING.into(),
        },
        ChargeStatus::Failed => Observation::Refused {
            reason: format!(
                "card declined: {}",
                charge
                    .failure_message
                    .as_deref()
                    .unwrap_or("the charge failed")
            ),
        },
        other => Observation::Unfinished {
            reason: format!(
                "charge {reference} has a status this version does not know: {}",
                other.as_str()
            ),
            reference,
        },
    }
}
