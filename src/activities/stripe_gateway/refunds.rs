//! Stripe's Refunds API, for both flows: a refund of a PaymentIntent (`payment_intent`) or of a
//! charge (`charge`), created with the refund's own key, followed up by its id, and looked up
//! among the payment's refunds by the key it carries in its metadata.
//!
//! A refund's statuses, as Stripe documents them: `succeeded` is refunded; `pending` and
//! `requires_action` are on their way and followed up; `failed` and `canceled` are a verdict
//! that nothing went back. A refusal of the refund itself (400 `invalid_request_error` about the
//! amount or the payment's state: more than is left, a payment already refunded in full, a
//! charged-back payment) is a verdict on that request: it made nothing, and a request with the
//! key that had made a refund would have been answered with that refund. Every other refusal,
//! a payment Stripe does not know (`resource_missing`, as a worker on another Stripe account
//! sees it) among them, is about something else than the refund, and everything else is
//! treated as it is for a charge (see [`super::not_an_answer`]).

use super::{Stripe, bounded, not_an_answer, stripe_amount};
use crate::activities::RefundRequest;
use crate::domain::Observation;
use std::collections::HashMap;
use stripe::{
    ApiErrorsCode, ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest,
};
use stripe_core::refund::{CreateRefund, ListRefund, RetrieveRefund};

/// Which field of a refund names the payment it gives back.
#[derive(Clone, Copy)]
pub(super) enum Refunds {
    PaymentIntents,
    Charges,
}

impl Refunds {
    pub(super) async fn create(self, stripe: &Stripe, request: &RefundRequest) -> Observation {
        let amount = match stripe_amount(&request.amount) {
            Ok(amount) => amount,
            Err(reason) => return Observation::NotSent { reason },
        };
        let strategy = match IdempotencyKey::new(&request.idempotency_key) {
            Ok(key) => RequestStrategy::Idempotent(key),
            Err(e) => {
                return Observation::NotSent {
                    reason: format!("refund not sent: the idempotency key: {e}"),
                };
            }
        };
        let create = CreateRefund::new()
            .amount(amount)
            .metadata(metadata(request));
        let create = match self {
            Refunds::PaymentIntents => create.payment_intent(request.payment.clone()),
            Refunds::Charges => create.charge(request.payment.clone()),
        };
        create
            .customize()
            .request_strategy(strategy)
            .send(&stripe.client)
            .await
            .map_or_else(answer_to_key, |r| observation(&r))
    }

    pub(super) async fn retrieve(stripe: &Stripe, reference: &str) -> Observation {
        RetrieveRefund::new(reference)
            .send(&stripe.client)
            .await
            .map_or_else(
                |e| not_an_answer("following the refund up", e),
                |r| observation(&r),
            )
    }

    /// Looks through the payment's refunds, newest first, a page of Stripe's most (100) at a
    /// time, for the one that carries the refund's key. Past [`MAX_PAGES`] pages, the answer
    /// is that it could not be told, never that there is none.
    pub(super) async fn find(
        self,
        stripe: &Stripe,
        request: &RefundRequest,
    ) -> Option<Observation> {
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let list = ListRefund::new().limit(100);
            let list = match self {
                Refunds::PaymentIntents => list.payment_intent(request.payment.clone()),
                Refunds::Charges => list.charge(request.payment.clone()),
            };
            let list = match &after {
                Some(last) => list.starting_after(last.clone()),
                None => list,
            };
            let page = match list.send(&stripe.client).await {
                Ok(page) => page,
                Err(e) => return Some(not_an_answer("looking the refund up", e)),
            };
            let ours = page.data.iter().find(|r| {
                (r.metadata.as_ref()).and_then(|m| m.get("refund"))
                    == Some(&request.idempotency_key)
            });
            if let Some(found) = ours {
                return Some(observation(found));
            }
            match page.data.last() {
                Some(last) if page.has_more => after = Some(last.id.as_str().to_owned()),
                _ => return None,
            }
        }
        Some(Observation::Unknown {
            reason: format!(
                "looking the refund up: the payment has more than {} refunds to look through",
                MAX_PAGES * 100
            ),
        })
    }
}

/// The most pages of refunds a lookup reads.
const MAX_PAGES: usize = 10;

/// What the refund carries for people and for looking it up later: the cart, the refund's id
/// and key, and the reason given.
fn metadata(request: &RefundRequest) -> HashMap<String, String> {
    let mut metadata = HashMap::from([
        ("cart_id".to_owned(), bounded(request.cart_id.as_str(), 500)),
        ("refund".to_owned(), request.idempotency_key.clone()),
        ("refund_id".to_owned(), bounded(&request.refund_id, 500)),
    ]);
    if let Some(reason) = &request.reason {
        metadata.insert("reason".to_owned(), bounded(reason, 500));
    }
    metadata
}

/// What a failed request that carried the refund's key says: a refusal of the refund itself
/// is Stripe's verdict on it; anything else is not.
fn answer_to_key(err: StripeError) -> Observation {
    let StripeError::Stripe(api, 400) = &err else {
        return not_an_answer("refunding", err);
    };
    let about_the_refund = api.type_ == ApiErrorsType::InvalidRequestError
        && (matches!(
            api.code,
            Some(
                ApiErrorsCode::ChargeAlreadyRefunded
                    | ApiErrorsCode::ChargeDisputed
                    | ApiErrorsCode::AmountTooLarge
                    | ApiErrorsCode::AmountTooSmall
            )
        ) || (api.code.is_none() && api.param.as_deref() == Some("amount")));
    if !about_the_refund {
        return not_an_answer("refunding", err);
    }
    let message = crate::redact::redact(api.message.as_deref().unwrap_or("refused"));
    Observation::Refused {
        reason: format!("refund refused: {message}"),
    }
}

/// What a refund's status says.
fn observation(refund: &stripe_core::Refund) -> Observation {
    let reference = refund.id.as_str().to_owned();
    match refund.status.as_deref() {
        Some("succeeded") => Observation::Paid { reference },
        Some("failed") => Observation::Refused {
            reason: format!(
                "refund failed: {}",
                (refund.failure_reason.as_deref())
                    .map_or("the payment method did not take it".into(), |r| r
                        .replace('_', " "))
            ),
        },
        Some("canceled") => Observation::Refused {
            reason: "refund canceled".into(),
        },
        Some("pending") => Observation::Unfinished {
            reason: format!("refund {reference} is pending at Stripe"),
            reference,
        },
        Some("requires_action") => Observation::Unfinished {
            reason: format!(
                "refund {reference} needs the customer's details for the payment method: see it in Stripe"
            ),
            reference,
        },
        other => Observation::Unfinished {
            reason: format!(
                "refund {reference} has a status this version does not know: {}",
                other.unwrap_or("none")
            ),
            reference,
        },
    }
}
