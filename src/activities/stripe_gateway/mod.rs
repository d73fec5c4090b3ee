//! Stripe through async-stripe: PaymentIntents by default, the tutorial's Charges on request.
//!
//! Every request is sent once: the HTTP client never retries (and never invents a key of its
//! own), because what to ask next is the workflow's decision ([`crate::domain::PaymentRecord`]).
//! Each answer is sorted by what it says about the checkout's payment, as Stripe documents it:
//!
//! - a card error in the answer to the checkout's key is Stripe's verdict on it: with the
//!   Charges API the charge failed (final); with PaymentIntents the PaymentIntent waits for
//!   another payment method, so the cart cancels it before it reopens;
//! - a PaymentIntent `succeeded` is paid; `processing` (a charge `pending`) is followed up by
//!   its id; `requires_action`, `requires_payment_method` and `requires_confirmation` are
//!   given up (cancelled); `canceled` (a charge `failed`) is refused;
//! - 409 (another request with the key is still running), 429, 5xx, a timeout, a dropped
//!   connection or an unreadable answer say nothing: a 500 may even have charged, and Stripe
//!   keeps the first answer for a key, 500s included, for 24 hours;
//! - 401, 403, 404, any other refusal of the request and a configuration error are about
//!   something else than the payment (Stripe checks the API key before it replays a kept
//!   answer, so a 401 says nothing of an earlier request with the key): an operator must look.
//!
//! A payment is looked up by the key it carries in its metadata (Stripe's search, whose index
//! lags), and by its id once an answer named it.
//!
//! The two APIs are two gateways, [`StripePaymentIntents`] and [`StripeCharges`], over one
//! [`Stripe`] connection; [`gateway`] makes the one the settings choose.

mod charges;
mod payment_intents;
mod refunds;

pub use charges::StripeCharges;
pub use payment_intents::StripePaymentIntents;

use super::settings::{SettingsError, StripeFlow, StripeSettings};
use super::{ChargeRequest, PaymentGateway};
use crate::domain::{Money, Observation, PaymentTiming, bounded};
use std::collections::HashMap;
use std::sync::Arc;
use stripe::{ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError};

/// The gateway of the API the settings choose.
pub fn gateway(settings: &StripeSettings) -> Result<Arc<dyn PaymentGateway>, SettingsError> {
    Ok(match settings.flow {
        StripeFlow::PaymentIntents => Arc::new(StripePaymentIntents::new(settings)?),
        StripeFlow::Charges => Arc::new(StripeCharges::new(settings)?),
    })
}

/// One Stripe account, as both APIs use it: a client that sends every request once, and what
/// the payment record needs to know of it.
pub struct Stripe {
    client: stripe::Client,
    /// Which Stripe this is, for the payment record (see [`PaymentGateway::provider`]).
    provider: String,
    /// A test key (`sk_test_…`, `rk_test_…`) may fall back to Stripe's test card.
    test_mode: bool,
    timing: PaymentTiming,
}

impl Stripe {
    /// The connection for `api` (the name the provider goes by: "PaymentIntents", "Charges").
    fn new(settings: &StripeSettings, api: &str) -> Result<Self, SettingsError> {
        let key = &settings.secret_key;
        let client = stripe::ClientBuilder::new(key)
            .url(settings.base.trim_end_matches('/'))
            .request_strategy(RequestStrategy::Once)
            .timeout(settings.timeout)
            .build()
            .map_err(|e| {
                SettingsError::Provider(format!("cannot set up the Stripe client: {e}"))
            })?;
        let test_mode = key.starts_with("sk_test_") || key.starts_with("rk_test_");
        let mode = if test_mode { "test" } else { "live" };
        Ok(Self {
            client,
            provider: format!(
                "Stripe {api} {} ({mode})",
                settings.base.trim_end_matches('/')
            ),
            test_mode,
            timing: settings.timing(),
        })
    }

    /// What to charge: the request's payment, or Stripe's `test_card` with a test key.
    fn payment(&self, request: &ChargeRequest, test_card: &str) -> Result<String, String> {
        match (&request.payment, self.test_mode) {
            (Some(p), _) => Ok(p.clone()),
            (None, true) => Ok(test_card.to_owned()),
            (None, false) => Err(
                "payment rejected: a payment method is required with a live Stripe key: check out with --payment"
                    .into(),
            ),
        }
    }

    /// The checks made before anything is sent; the payment method, the amount in Stripe's
    /// units, its currency and the key's request strategy when they pass.
    fn prepared(&self, request: &ChargeRequest, test_card: &str) -> Result<Prepared, String> {
        let payment = self.payment(request, test_card)?;
        let amount = stripe_amount(&request.amount)?;
        let code = request.amount.currency.code().to_ascii_lowercase();
        let currency = code
            .parse::<stripe_types::Currency>()
            .unwrap_or_else(|never| match never {});
        Ok(Prepared {
            payment,
            amount,
            currency,
            strategy: strategy(request)?,
        })
    }
}

/// A charge request checked and in Stripe's terms.
struct Prepared {
    payment: String,
    amount: i64,
    currency: stripe_types::Currency,
    strategy: RequestStrategy,
}

fn strategy(request: &ChargeRequest) -> Result<RequestStrategy, String> {
    IdempotencyKey::new(&request.idempotency_key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| format!("payment rejected: the idempotency key: {e}"))
}

/// What the charge carries for people and for looking it up later: the cart (Stripe takes
/// metadata values of up to 500 characters) and the idempotency key of the attempt.
fn metadata(request: &ChargeRequest) -> HashMap<String, String> {
    HashMap::from([
        ("cart_id".to_owned(), bounded(request.cart_id.as_str(), 500)),
        ("checkout".to_owned(), request.idempotency_key.clone()),
    ])
}

/// Stripe's search query for the payment that carries `key` in its metadata. A quoted value
/// escapes its quotes and backslashes with a backslash (Stripe's search query language); keys
/// are made from cart ids, and another tool may have started a cart whose id holds a `'`.
fn search_query(key: &str) -> String {
    let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
    format!("metadata['checkout']:'{escaped}'")
}

/// The payment a lookup found. One key makes one payment; should there be more, a paid one is
/// what counts.
fn first_paid(mut found: Vec<Observation>) -> Option<Observation> {
    match found
        .iter()
        .position(|o| matches!(o, Observation::Paid { .. }))
    {
        Some(i) => Some(found.swap_remove(i)),
        None => found.into_iter().next(),
    }
}

const PROCESSING: &str = "the payment provider is still processing the payment";

/// A decline's reason: Stripe's decline code in words, or its message.
fn decline_reason(api: &stripe::ApiErrors) -> Option<String> {
    api.decline_code
        .as_deref()
        .map(|c| c.replace('_', " "))
        .filter(|c| c != "generic decline")
        .or_else(|| api.message.clone())
}

/// The currencies Stripe charges in whole units (docs.stripe.com/currencies, "zero-decimal").
/// UGX and ISK are not among them although ISO 4217 gives them no decimals: Stripe keeps them
/// two-decimal for backwards compatibility, with `00` after the point.
const STRIPE_ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
    "XOF", "XPF",
];
/// The currencies Stripe charges with three decimals, the last of which must be 0.
const STRIPE_THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// An amount as Stripe's API writes it. Stripe's decimals follow ISO 4217 except for the
/// special cases it documents (ISK and UGX in hundredths, MGA in whole units; HUF and TWD
/// charge with two decimals as ISO has them), so the cart's ISO minor units are converted
/// here and nowhere else. An amount Stripe cannot take exactly is refused, never rounded.
pub fn stripe_amount(money: &Money) -> Result<i64, String> {
    let code = money.currency.code();
    let iso = money.currency.exponent();
    let stripe = if STRIPE_ZERO_DECIMAL.contains(&code) {
        0
    } else if STRIPE_THREE_DECIMAL.contains(&code) {
        3
    } else {
        2
    };
    let amount = if stripe >= iso {
        money.minor.checked_mul(10u64.pow(stripe - iso))
    } else {
        let divisor = 10u64.pow(iso - stripe);
        money
            .minor
            .is_multiple_of(divisor)
            .then(|| money.minor / divisor)
    };
    let refuse = |why: String| format!("payment rejected: Stripe cannot charge {money}: {why}");
    let amount = amount.ok_or_else(|| {
        refuse(format!(
            "Stripe takes {code} with {stripe} decimals; give prices with no more"
        ))
    })?;
    if stripe == 3 && !amount.is_multiple_of(10) {
        return Err(refuse(format!(
            "Stripe takes {code} only in multiples of 0.010"
        )));
    }
    i64::try_from(amount).map_err(|_| refuse("the amount is too large".into()))
}

/// What a failed request that carried the checkout's key says: a card error is Stripe's
/// verdict on the key (with the PaymentIntent it left, to give up); anything else is not.
fn answer_to_key(err: StripeError) -> Observation {
    let StripeError::Stripe(api, _) = &err else {
        return not_an_answer("stripe", err);
    };
    if api.type_ != ApiErrorsType::CardError {
        // An error that carries the PaymentIntent says what became of it.
        return match &api.payment_intent {
            Some(intent) => payment_intents::observation(intent),
            None => not_an_answer("stripe", err),
        };
    }
    let reason = format!(
        "card declined: {}",
        decline_reason(api).unwrap_or_else(|| "the card was declined".into())
    );
    match &api.payment_intent {
        // The PaymentIntent waits for another payment method: the cart gives it up.
        Some(intent) => match payment_intents::observation(intent) {
            Observation::Stalled { reference, .. } => Observation::Stalled { reference, reason },
            other => other,
        },
        // No PaymentIntent was left (the Charges API, or one Stripe did not return): a
        // declined confirmation leaves nothing that can take money without a new one.
        None => Observation::Refused { reason },
    }
}

/// A failed request, or one whose answer says nothing about the payment: unknown (409, 429,
/// 5xx, no answer) or about something else (401, 403, 404, another refusal, configuration).
fn not_an_answer(doing: &str, err: StripeError) -> Observation {
    match err {
        StripeError::Stripe(api, status) => {
            // Stripe's messages may name the payment method; the text goes into the cart's
            // history.
            let message = crate::redact::redact(&api.message.clone().unwrap_or_default());
            let said = format!("{doing}: stripe answered {status}: {message}");
            match (&api.type_, status) {
                // The key has a history: a request with it is still running (409), or it was
                // used with other parameters. Either way something may have been charged.
                (ApiErrorsType::IdempotencyError, 400) => Observation::Unrelated { reason: said },
                (ApiErrorsType::IdempotencyError, _)
                | (_, 409)
                | (_, 429)
                | (_, 500..)
                | (ApiErrorsType::ApiError, _) => Observation::Unknown { reason: said },
                (_, 401) => Observation::Unrelated {
                    reason: format!(
                        "{doing}: Stripe refused the API key (401): check STRIPE_SECRET_KEY"
                    ),
                },
                _ => Observation::Unrelated { reason: said },
            }
        }
        StripeError::ClientError(e) => Observation::Unknown {
            reason: format!("{doing}: {e}"),
        },
        StripeError::Timeout => Observation::Unknown {
            reason: format!("{doing}: no answer in time"),
        },
        StripeError::JSONDeserialize(e) => Observation::Unknown {
            reason: format!("{doing}: unreadable answer: {e}"),
        },
        StripeError::ConfigError(e) => Observation::Unrelated {
            reason: format!("{doing}: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Email, Money};
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const KEY: &str = "sk_test_0123456789abcdef";

    fn request(payment: Option<&str>) -> ChargeRequest {
        ChargeRequest {
            cart_id: crate::domain::CartId::of_workflow("CART-1"),
            idempotency_key: "CART-1-run-checkout-1".into(),
            amount: Money::new(99_900, Currency::usd()),
            email: Email::parse("ann@example.com").unwrap(),
            payment: payment.map(Into::into),
            description: "1 x iPhone 12 Pro".into(),
        }
    }

    fn succeeded_intent() -> serde_json::Value {
        serde_json::json!({
            "id": "pi_3Test", "object": "payment_intent", "amount": 99900,
            "amount_capturable": 0, "amount_received": 99900, "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": {"allow_redirects": "never", "enabled": true},
            "canceled_at": null, "cancellation_reason": null, "capture_method": "automatic",
            "client_secret": "pi_3Test_secret_x", "confirmation_method": "automatic",
            "created": 1_700_000_000, "currency": "usd", "customer": null,
            "description": "1 x iPhone 12 Pro", "last_payment_error": null,
            "latest_charge": "ch_3Test", "livemode": false, "metadata": {"cart_id": "CART-1"},
            "next_action": null, "on_behalf_of": null, "payment_method": "pm_1Test",
            "payment_method_options": {}, "payment_method_types": ["card"], "processing": null,
            "receipt_email": "ann@example.com", "review": null, "setup_future_usage": null,
            "shipping": null, "source": null, "statement_descriptor": null,
            "statement_descriptor_suffix": null, "status": "succeeded", "transfer_data": null,
            "transfer_group": null
        })
    }

    async fn gateway(server: &MockServer) -> Arc<dyn PaymentGateway> {
        super::gateway(&StripeSettings {
            base: server.uri(),
            ..StripeSettings::new(KEY)
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_payment_intent_is_created_and_confirmed_in_one_idempotent_request() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("idempotency-key", "CART-1-run-checkout-1"))
            .and(body_string_contains("amount=99900"))
            .and(body_string_contains("currency=usd"))
            .and(body_string_contains("payment_method=pm_card_visa"))
            .and(body_string_contains("confirm=true"))
            .and(body_string_contains(
                "automatic_payment_methods[enabled]=true",
            ))
            .and(body_string_contains(
                "automatic_payment_methods[allow_redirects]=never",
            ))
            .and(body_string_contains("description=1+x+iPhone+12+Pro"))
            .and(body_string_contains("receipt_email=ann@example.com"))
            .and(body_string_contains("metadata[cart_id]=CART-1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(succeeded_intent()))
            .expect(1)
            .mount(&server)
            .await;
        let answer = gateway(&server).await.charge(&request(None)).await;
        assert_eq!(answer, paid());
    }

    fn paid() -> Observation {
        Observation::Paid {
            reference: "pi_3Test".into(),
        }
    }

    /// A gateway whose every request is answered with `status` and `body`.
    async fn answering(
        status: u16,
        body: serde_json::Value,
    ) -> (MockServer, Arc<dyn PaymentGateway>) {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let gateway = gateway(&server).await;
        (server, gateway)
    }

    #[tokio::test]
    async fn a_card_error_in_the_answer_to_the_key_is_a_decline_with_the_reason() {
        let error = serde_json::json!({
            "error": {"type": "card_error", "code": "card_declined",
                      "decline_code": "insufficient_funds",
                      "message": "Your card has insufficient funds."}
        });
        let (server, charges) = answering(402, error.clone()).await;
        let answer = charges
            .charge(&request(Some(
                "pm_card_visa_chargeDeclinedInsufficientFunds",
            )))
            .await;
        assert_eq!(
            answer,
            Observation::Refused {
                reason: "card declined: insufficient funds".into()
            }
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        // With the PaymentIntent it left behind, waiting for another method: given up.
        let mut with_intent = error;
        with_intent["error"]["payment_intent"] =
            intent_with("requires_payment_method", serde_json::Value::Null);
        let (_server, intents) = answering(402, with_intent).await;
        assert_eq!(
            intents.charge(&request(None)).await,
            Observation::Stalled {
                reference: "pi_3Test".into(),
                reason: "card declined: insufficient funds".into()
            }
        );
    }

    #[tokio::test]
    async fn what_may_have_charged_says_nothing_and_is_sent_once() {
        for (status, kind) in [
            (500, "api_error"),
            (503, "api_error"),
            (429, "invalid_request_error"),
            (409, "idempotency_error"),
            (409, "invalid_request_error"),
        ] {
            let body =
                serde_json::json!({"error": {"type": kind, "message": "Something went wrong."}});
            let (server, gateway) = answering(status, body).await;
            let answer = gateway.charge(&request(None)).await;
            assert!(
                matches!(answer, Observation::Unknown { .. }),
                "{status} {kind}: {answer:?}"
            );
            assert_eq!(server.received_requests().await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn an_answer_not_about_the_card_is_no_verdict_and_never_shows_the_key() {
        for (status, kind, message) in [
            (
                401,
                "invalid_request_error",
                "Invalid API Key provided: sk_test_****cdef",
            ),
            (
                403,
                "invalid_request_error",
                "The provided key does not have access",
            ),
            (404, "invalid_request_error", "Unrecognized request URL"),
            (
                400,
                "invalid_request_error",
                "No such PaymentMethod: 'pm_x'",
            ),
            (
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters",
            ),
        ] {
            let body = serde_json::json!({"error": {"type": kind, "message": message}});
            let (_server, gateway) = answering(status, body).await;
            let answer = gateway.charge(&request(None)).await;
            let Observation::Unrelated { reason } = &answer else {
                panic!("{status} {kind}: {answer:?}")
            };
            assert!(reason.contains(&status.to_string()), "{reason}");
            assert!(!reason.contains(KEY), "{reason}");
        }
    }

    #[tokio::test]
    async fn no_answer_in_time_says_nothing() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(succeeded_intent())
                    .set_delay(std::time::Duration::from_secs(3)),
            )
            .mount(&server)
            .await;
        let gateway = super::gateway(&StripeSettings {
            base: server.uri(),
            timeout: std::time::Duration::from_secs(1),
            ..StripeSettings::new(KEY)
        })
        .unwrap();
        let answer = gateway.charge(&request(None)).await;
        assert!(matches!(answer, Observation::Unknown { .. }), "{answer:?}");
    }

    fn intent_with(status: &str, error: serde_json::Value) -> serde_json::Value {
        let mut intent = succeeded_intent();
        intent["status"] = status.into();
        intent["last_payment_error"] = error;
        intent
    }

    #[tokio::test]
    async fn every_payment_intent_status_means_what_stripe_says() {
        let reference = || "pi_3Test".to_owned();
        let cases = [
            ("succeeded", paid()),
            (
                "processing",
                Observation::Unfinished {
                    reference: reference(),
                    reason: PROCESSING.into(),
                },
            ),
            (
                "requires_capture",
                Observation::Unfinished {
                    reference: reference(),
                    reason: "payment pi_3Test is authorized but not captured: capture or cancel it in Stripe".into(),
                },
            ),
            (
                "requires_payment_method",
                Observation::Stalled {
                    reference: reference(),
                    reason: "card declined: insufficient funds".into(),
                },
            ),
            (
                "requires_confirmation",
                Observation::Stalled {
                    reference: reference(),
                    reason: "payment rejected: the payment was not confirmed".into(),
                },
            ),
            (
                "canceled",
                Observation::Refused {
                    reason: "card declined: the payment was canceled".into(),
                },
            ),
        ];
        for (status, expected) in cases {
            let error = serde_json::json!({"type": "card_error", "decline_code": "insufficient_funds",
                                           "message": "Your card has insufficient funds."});
            let (_server, gateway) = answering(200, intent_with(status, error)).await;
            assert_eq!(gateway.charge(&request(None)).await, expected, "{status}");
        }
        let (_server, gateway) =
            answering(200, intent_with("requires_action", serde_json::Value::Null)).await;
        let answer = gateway.charge(&request(None)).await;
        assert!(
            matches!(&answer, Observation::Stalled { reference, reason } if reference == "pi_3Test" && reason.contains("3-D Secure")),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn a_payment_is_followed_up_by_its_id_without_sending_the_key() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/pi_3Test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(succeeded_intent()))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
        let answer = gateway(&server)
            .await
            .retrieve(&request(None), "pi_3Test")
            .await;
        assert_eq!(answer, paid());
    }

    fn found(data: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({
            "object": "search_result", "url": "/v1/payment_intents/search",
            "has_more": false, "next_page": null, "data": data
        })
    }

    #[tokio::test]
    async fn a_payment_is_looked_up_by_the_key_it_carries() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/search"))
            .and(wiremock::matchers::query_param(
                "query",
                "metadata['checkout']:'CART-1-run-checkout-1'",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(found(vec![succeeded_intent()])))
            .expect(1)
            .mount(&server)
            .await;
        let answer = gateway(&server).await.find(&request(None)).await;
        assert_eq!(answer, Some(paid()));
    }

    #[tokio::test]
    async fn quotes_and_backslashes_in_a_key_are_escaped_in_the_lookup() {
        assert_eq!(
            search_query(r"CART-o'brien\x-run-checkout-1"),
            r"metadata['checkout']:'CART-o\'brien\\x-run-checkout-1'"
        );
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/search"))
            .and(wiremock::matchers::query_param(
                "query",
                r"metadata['checkout']:'CART-o\'brien-run-checkout-1'",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(found(vec![])))
            .expect(1)
            .mount(&server)
            .await;
        let mut odd = request(None);
        odd.idempotency_key = "CART-o'brien-run-checkout-1".into();
        assert_eq!(gateway(&server).await.find(&odd).await, None);
    }

    #[tokio::test]
    async fn a_failing_lookup_is_never_taken_for_no_payment() {
        for status in [401, 404, 500] {
            let body =
                serde_json::json!({"error": {"type": "invalid_request_error", "message": "no"}});
            let (_server, gateway) = answering(status, body).await;
            let answer = gateway.find(&request(None)).await;
            assert!(
                matches!(
                    answer,
                    Some(Observation::Unknown { .. } | Observation::Unrelated { .. })
                ),
                "{status}: {answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_payment_given_up_is_cancelled_and_a_refused_cancel_reads_the_payment() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents/pi_3Test/cancel"))
            .and(body_string_contains("cancellation_reason=abandoned"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(intent_with("canceled", serde_json::Value::Null)),
            )
            .expect(1)
            .mount(&server)
            .await;
        let answer = gateway(&server)
            .await
            .cancel(&request(None), "pi_3Test")
            .await;
        assert!(matches!(answer, Observation::Refused { .. }), "{answer:?}");

        // The bank completed it meanwhile: Stripe refuses the cancel, and the payment is paid.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents/pi_3Test/cancel"))
            .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
                          "message": "You cannot cancel this PaymentIntent because it has a status of succeeded."}
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/pi_3Test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(succeeded_intent()))
            .expect(1)
            .mount(&server)
            .await;
        let answer = gateway(&server)
            .await
            .cancel(&request(None), "pi_3Test")
            .await;
        assert_eq!(answer, paid());
    }

    #[tokio::test]
    async fn an_error_that_carries_the_payment_intent_says_what_it_is() {
        let mut body = serde_json::json!({"error": {"type": "invalid_request_error",
            "code": "payment_intent_unexpected_state", "message": "This PaymentIntent's state is unexpected."}});
        body["error"]["payment_intent"] = intent_with("processing", serde_json::Value::Null);
        let (_server, gateway) = answering(400, body).await;
        assert_eq!(
            gateway.charge(&request(None)).await,
            Observation::Unfinished {
                reference: "pi_3Test".into(),
                reason: PROCESSING.into()
            }
        );
    }

    #[tokio::test]
    async fn a_refused_cancel_of_a_payment_still_waiting_is_told_not_taken_for_a_verdict() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents/pi_3Test/cancel"))
            .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!({
                "error": {"type": "invalid_request_error", "message": "This key cannot cancel payments."}
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/pi_3Test"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(intent_with("requires_action", serde_json::Value::Null)),
            )
            .mount(&server)
            .await;
        let answer = gateway(&server)
            .await
            .cancel(&request(None), "pi_3Test")
            .await;
        assert!(
            matches!(&answer, Observation::Unrelated { reason } if reason.starts_with("cancelling the payment: stripe answered 403")),
            "{answer:?}"
        );
    }

    fn refund_request() -> crate::activities::RefundRequest {
        crate::activities::RefundRequest {
            cart_id: crate::domain::CartId::of_workflow("CART-1"),
            refund_id: "r1".into(),
            idempotency_key: "CART-1-run-refund-r1".into(),
            payment: "pi_3Test".into(),
            amount: Money::new(5_000, Currency::usd()),
            reason: Some("returned".into()),
        }
    }

    fn refund_with(status: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "re_3Test", "object": "refund", "amount": 5000, "balance_transaction": null,
            "charge": "ch_3Test", "created": 1_700_000_000, "currency": "usd",
            "metadata": {"refund": "CART-1-run-refund-r1"}, "payment_intent": "pi_3Test",
            "reason": null, "receipt_number": null, "source_transfer_reversal": null,
            "status": status, "transfer_reversal": null, "failure_reason": "expired_or_canceled_card"
        })
    }

    #[tokio::test]
    async fn a_refund_names_the_payment_its_flow_charged_and_carries_its_own_key() {
        for (flow, field, payment) in [
            (StripeFlow::PaymentIntents, "payment_intent", "pi_3Test"),
            (StripeFlow::Charges, "charge", "ch_3Test"),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/refunds"))
                .and(header("idempotency-key", "CART-1-run-refund-r1"))
                .and(body_string_contains(format!("{field}={payment}").as_str()))
                .and(body_string_contains("amount=5000"))
                .and(body_string_contains(
                    "metadata[refund]=CART-1-run-refund-r1",
                ))
                .and(body_string_contains("metadata[reason]=returned"))
                .respond_with(ResponseTemplate::new(200).set_body_json(refund_with("succeeded")))
                .expect(1)
                .mount(&server)
                .await;
            let gateway = super::gateway(&StripeSettings {
                base: server.uri(),
                flow,
                ..StripeSettings::new(KEY)
            })
            .unwrap();
            let mut request = refund_request();
            request.payment = payment.into();
            assert_eq!(
                gateway.refund(&request).await,
                Observation::Paid {
                    reference: "re_3Test".into()
                }
            );
        }
    }

    #[tokio::test]
    async fn every_refund_status_and_refusal_means_what_stripe_says() {
        for (status, expect) in [
            ("pending", "unfinished"),
            ("requires_action", "unfinished"),
            ("failed", "refused"),
            ("canceled", "refused"),
        ] {
            let (_server, gateway) = answering(200, refund_with(status)).await;
            let answer = gateway.refund(&refund_request()).await;
            let kind = match &answer {
                Observation::Unfinished { reference, .. } if reference == "re_3Test" => {
                    "unfinished"
                }
                Observation::Refused { .. } => "refused",
                _ => "other",
            };
            assert_eq!(kind, expect, "{status}: {answer:?}");
        }
        let (_server, gateway) = answering(200, refund_with("failed")).await;
        assert_eq!(
            gateway.refund(&refund_request()).await,
            Observation::Refused {
                reason: "refund failed: expired or canceled card".into()
            }
        );
        // A refusal of the request is a verdict on it; what says nothing stays unknown.
        let refused = serde_json::json!({"error": {"type": "invalid_request_error",
            "code": "charge_already_refunded", "message": "Charge ch_3Test has already been refunded."}});
        let (_server, gateway) = answering(400, refused).await;
        assert_eq!(
            gateway.refund(&refund_request()).await,
            Observation::Refused {
                reason: "refund refused: Charge ch_3Test has already been refunded.".into()
            }
        );
        // A payment Stripe does not know (as a worker on another account sees it) is no verdict.
        let missing = serde_json::json!({"error": {"type": "invalid_request_error",
            "code": "resource_missing", "param": "charge", "message": "No such charge: 'ch_3Test'"}});
        let (_server, gateway) = answering(400, missing).await;
        let answer = gateway.refund(&refund_request()).await;
        assert!(
            matches!(answer, Observation::Unrelated { .. }),
            "{answer:?}"
        );
        // More than is left, as Stripe words it without a code: a verdict.
        let too_much = serde_json::json!({"error": {"type": "invalid_request_error", "param": "amount",
            "message": "Refund amount ($600.00) is greater than unrefunded amount on charge ($399.00)"}});
        let (_server, gateway) = answering(400, too_much).await;
        let answer = gateway.refund(&refund_request()).await;
        assert!(matches!(answer, Observation::Refused { .. }), "{answer:?}");
        for (status, kind) in [
            (500, "api_error"),
            (409, "idempotency_error"),
            (400, "idempotency_error"),
            (400, "invalid_request_error"),
            (401, "invalid_request_error"),
        ] {
            let body = serde_json::json!({"error": {"type": kind, "message": "no"}});
            let (_server, gateway) = answering(status, body).await;
            let answer = gateway.refund(&refund_request()).await;
            assert!(
                matches!(
                    answer,
                    Observation::Unknown { .. } | Observation::Unrelated { .. }
                ),
                "{status} {kind}: {answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_refund_is_looked_up_among_the_payment_s_refunds_by_its_key() {
        let server = MockServer::start().await;
        let mut other = refund_with("succeeded");
        other["id"] = "re_other".into();
        other["metadata"]["refund"] = "CART-1-run-refund-r0".into();
        Mock::given(method("GET"))
            .and(path("/v1/refunds"))
            .and(wiremock::matchers::query_param(
                "payment_intent",
                "pi_3Test",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "object": "list", "url": "/v1/refunds", "has_more": false,
                "data": [other, refund_with("pending")]
            })))
            .mount(&server)
            .await;
        let gateway = gateway(&server).await;
        let found = gateway.find_refund(&refund_request()).await;
        assert!(
            matches!(&found, Some(Observation::Unfinished { reference, .. }) if reference == "re_3Test"),
            "{found:?}"
        );
        let mut unknown = refund_request();
        unknown.idempotency_key = "CART-1-run-refund-r9".into();
        assert_eq!(gateway.find_refund(&unknown).await, None);
    }

    #[tokio::test]
    async fn a_refund_lookup_pages_through_the_payment_s_refunds() {
        let server = MockServer::start().await;
        let mut older = refund_with("succeeded");
        older["metadata"]["refund"] = "CART-1-run-refund-r0".into();
        older["id"] = "re_older".into();
        let page = |data: Vec<serde_json::Value>, more: bool| serde_json::json!({"object": "list", "url": "/v1/refunds", "has_more": more, "data": data});
        Mock::given(method("GET"))
            .and(path("/v1/refunds"))
            .and(wiremock::matchers::query_param(
                "starting_after",
                "re_older",
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(page(vec![refund_with("succeeded")], false)),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/refunds"))
            .and(wiremock::matchers::query_param_is_missing("starting_after"))
            .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![older], true)))
            .expect(1)
            .mount(&server)
            .await;
        let found = gateway(&server).await.find_refund(&refund_request()).await;
        assert_eq!(
            found,
            Some(Observation::Paid {
                reference: "re_3Test".into()
            })
        );
    }

    #[test]
    fn workers_of_one_stripe_name_it_alike_and_never_show_the_key() {
        let live = super::gateway(&StripeSettings::new("sk_live_abc")).unwrap();
        assert_eq!(
            live.provider(),
            "Stripe PaymentIntents https://api.stripe.com (live)"
        );
        let rolled = super::gateway(&StripeSettings::new("sk_live_other")).unwrap();
        assert_eq!(
            rolled.provider(),
            live.provider(),
            "a rolled key is the same Stripe"
        );
        let charges = super::gateway(&StripeSettings {
            flow: StripeFlow::Charges,
            ..StripeSettings::new(KEY)
        })
        .unwrap();
        assert_eq!(
            charges.provider(),
            "Stripe Charges https://api.stripe.com (test)"
        );
        assert!(!charges.provider().contains(KEY));
    }

    fn money(price: &str, code: &str) -> Money {
        let currency = Currency::try_from(code.to_owned()).unwrap();
        Money::parse(price, currency).unwrap()
    }

    #[test]
    fn amounts_are_written_in_stripe_s_units() {
        for (price, code, amount) in [
            ("999.00", "USD", 99_900),
            ("1200", "JPY", 1_200),
            ("10.000", "KWD", 10_000),
            ("10.120", "KWD", 10_120),
            // Stripe's special cases: ISK and UGX in hundredths though ISO has no decimals,
            // MGA in whole ariary though ISO has two, HUF and TWD as ISO has them.
            ("500", "ISK", 50_000),
            ("5000", "UGX", 500_000),
            ("1000.00", "MGA", 1_000),
            ("1500.00", "HUF", 150_000),
            ("99.00", "TWD", 9_900),
        ] {
            assert_eq!(
                stripe_amount(&money(price, code)).unwrap(),
                amount,
                "{price} {code}"
            );
        }
        let err = stripe_amount(&money("10.125", "KWD")).unwrap_err();
        assert_eq!(
            err,
            "payment rejected: Stripe cannot charge 10.125 KWD: Stripe takes KWD only in multiples of 0.010"
        );
        assert!(stripe_amount(&money("1000.50", "MGA")).is_err());
    }

    #[tokio::test]
    async fn a_zero_two_and_three_decimal_catalog_price_reaches_stripe_as_stripe_reads_it() {
        use crate::domain::{Cart, Catalog, CatalogFormat};
        for (code, price, amount) in [
            ("JPY", "1200", "1200"),
            ("EUR", "12.50", "1250"),
            ("KWD", "10.250", "10250"),
        ] {
            let text = format!(
                "currency = \"{code}\"\n[[products]]\nid = 1\nname = \"Phone\"\nprice = \"{price}\""
            );
            let catalog = Catalog::parse(&text, CatalogFormat::Toml).unwrap();
            let mut cart = Cart::new(crate::domain::CartId::of_workflow("CART-1"));
            cart.add(&catalog, 1, 1).unwrap();
            let order = cart.begin_checkout(Some("ann@example.com"), None).unwrap();
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(body_string_contains(format!("amount={amount}&").as_str()))
                .and(body_string_contains(
                    format!("currency={}", code.to_ascii_lowercase()).as_str(),
                ))
                .respond_with(ResponseTemplate::new(200).set_body_json(succeeded_intent()))
                .expect(1)
                .mount(&server)
                .await;
            let mut req = request(None);
            req.amount = order.amount;
            assert_eq!(gateway(&server).await.charge(&req).await, paid(), "{code}");
        }
    }

    #[tokio::test]
    async fn a_live_key_needs_an_explicit_payment() {
        let live = super::gateway(&StripeSettings::new("sk_live_x")).unwrap();
        let account = Stripe::new(&StripeSettings::new("sk_live_x"), "PaymentIntents").unwrap();
        assert!(account.payment(&request(None), "pm_card_visa").is_err());
        // Refused before anything is sent.
        assert!(matches!(
            live.charge(&request(None)).await,
            Observation::NotSent { .. }
        ));
        assert_eq!(
            account
                .payment(&request(Some("pm_x")), "pm_card_visa")
                .unwrap(),
            "pm_x"
        );
        let test = Stripe::new(&StripeSettings::new(KEY), "Charges").unwrap();
        assert_eq!(
            test.payment(&request(None), "tok_visa").unwrap(),
            "tok_visa"
        );
    }
}
