//! Stripe through async-stripe: PaymentIntents by default, the tutorial's Charges on request.
//!
//! Every request carries the workflow's idempotency key and is sent once: retries are
//! Temporal's job, so the HTTP client never retries (and never invents a key of its own).
//!
//! What Stripe's answers mean here, as its documentation states them:
//! - a card decline, an invalid request or bad credentials: nothing was charged (final);
//! - 409 (another request with the key is still running), 429, 5xx, a timeout or a dropped
//!   connection: the outcome is not known. A 500 may even have charged: Stripe keeps the result
//!   of the first request for a key, 500s included, for 24 hours. So the same request is sent
//!   again with the same key (which answers with the original result once there is one), and
//!   when that does not tell, the charge is looked up by the key it carries in its metadata;
//! - a PaymentIntent in `processing` is followed up until it succeeds or fails;
//!   `requires_payment_method`, `requires_action` and `canceled` are declines.
//!
//! A day after a checkout began its key is never sent again (Stripe would take it for a new
//! request): the charge is only looked up, and if Stripe has none, nothing was charged.

use super::settings::{STRIPE_MAX_TIMEOUT, SettingsError, StripeFlow, StripeSettings};
use super::{Charge, ChargeRequest, ChargeState, PaymentError, PaymentGateway};
use crate::domain::{Money, bounded};
use async_trait::async_trait;
use std::collections::HashMap;
use std::str::FromStr;
use stripe::{ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::charge::{CreateCharge, RetrieveCharge, SearchCharge};
use stripe_core::payment_intent::{
    CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects, RetrievePaymentIntent,
    SearchPaymentIntent,
};
use stripe_core::{ChargeStatus, PaymentIntent, PaymentIntentStatus};

/// How long after a checkout began its idempotency key may still be sent: Stripe forgets keys
/// after 24 hours and would then take the same key for a new charge.
const KEY_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(23);

pub struct StripeGateway {
    client: stripe::Client,
    flow: StripeFlow,
    /// A test key (`sk_test_…`, `rk_test_…`) may fall back to Stripe's test card.
    test_mode: bool,
}

impl StripeGateway {
    pub fn new(settings: &StripeSettings) -> Result<Self, SettingsError> {
        let key = &settings.secret_key;
        let client = stripe::ClientBuilder::new(key)
            .url(settings.base.trim_end_matches('/'))
            .request_strategy(RequestStrategy::Once)
            .timeout(settings.timeout.min(STRIPE_MAX_TIMEOUT))
            .build()
            .map_err(|e| {
                SettingsError::Provider(format!("cannot set up the Stripe client: {e}"))
            })?;
        let test_mode = key.starts_with("sk_test_") || key.starts_with("rk_test_");
        Ok(Self {
            client,
            flow: settings.flow,
            test_mode,
        })
    }

    /// What to charge: the request's payment, or Stripe's test card with a test key.
    fn payment(&self, request: &ChargeRequest) -> Result<String, PaymentError> {
        match (&request.payment, self.test_mode, self.flow) {
            (Some(p), _, _) => Ok(p.clone()),
            (None, true, StripeFlow::PaymentIntents) => Ok("pm_card_visa".into()),
            (None, true, StripeFlow::Charges) => Ok("tok_visa".into()),
            (None, false, _) => Err(PaymentError::Invalid(
                "a payment method is required with a live Stripe key: check out with --payment"
                    .into(),
            )),
        }
    }
}

fn strategy(request: &ChargeRequest) -> Result<RequestStrategy, PaymentError> {
    IdempotencyKey::new(&request.idempotency_key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| PaymentError::Invalid(format!("idempotency key: {e}")))
}

/// What the charge carries for people and for looking it up later: the cart (Stripe takes
/// metadata values of up to 500 characters) and the idempotency key of the attempt.
fn metadata(request: &ChargeRequest) -> HashMap<String, String> {
    HashMap::from([
        ("cart_id".to_owned(), bounded(request.cart_id.as_str(), 500)),
        ("checkout".to_owned(), request.idempotency_key.clone()),
    ])
}

impl StripeGateway {
    /// Sends the charge with its idempotency key: a new charge, or, for a key Stripe has seen,
    /// the original answer.
    async fn create(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let payment = self.payment(request)?;
        let amount = stripe_amount(&request.amount)?;
        let currency =
            stripe_types::Currency::from_str(&request.amount.currency.code().to_ascii_lowercase())
                .unwrap_or_else(|never| match never {});
        match self.flow {
            StripeFlow::Charges => {
                let charge = CreateCharge::new()
                    .amount(amount)
                    .currency(currency)
                    .source(payment)
                    .description(request.description.clone())
                    .receipt_email(request.email.to_string())
                    .metadata(metadata(request))
                    .customize()
                    .request_strategy(strategy(request)?)
                    .send(&self.client)
                    .await
                    .map_err(classify)?;
                charge_outcome(&charge, request)
            }
            StripeFlow::PaymentIntents => {
                let intent = CreatePaymentIntent::new(amount, currency)
                    .payment_method(payment)
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
                    .request_strategy(strategy(request)?)
                    .send(&self.client)
                    .await
                    .map_err(classify)?;
                intent_outcome(&intent, request)
            }
        }
    }

    /// The charge or PaymentIntent Stripe gave us earlier, as it stands now.
    async fn retrieve(
        &self,
        request: &ChargeRequest,
        reference: &str,
    ) -> Result<Charge, PaymentError> {
        match self.flow {
            StripeFlow::Charges => {
                let charge = RetrieveCharge::new(reference)
                    .send(&self.client)
                    .await
                    .map_err(classify)
                    .map_err(unknown)?;
                charge_outcome(&charge, request)
            }
            StripeFlow::PaymentIntents => {
                let intent = RetrievePaymentIntent::new(reference)
                    .send(&self.client)
                    .await
                    .map_err(classify)
                    .map_err(unknown)?;
                intent_outcome(&intent, request)
            }
        }
    }

    /// Looks the checkout's charge up by the key in its metadata (Stripe's search). `None`
    /// when Stripe has none; an error when it cannot tell.
    async fn find(&self, request: &ChargeRequest) -> Result<Option<Charge>, PaymentError> {
        // Keys are letters, digits, '-' and '_': nothing to escape in the query.
        let query = format!("metadata['checkout']:'{}'", request.idempotency_key);
        let lookup_failed = |e: StripeError| {
            PaymentError::Unknown(format!("looking the charge up: {}", classify(e)))
        };
        match self.flow {
            StripeFlow::Charges => {
                let found = SearchCharge::new(query)
                    .send(&self.client)
                    .await
                    .map_err(lookup_failed)?;
                found
                    .data
                    .first()
                    .map(|c| charge_outcome(c, request))
                    .transpose()
            }
            StripeFlow::PaymentIntents => {
                let found = SearchPaymentIntent::new(query)
                    .send(&self.client)
                    .await
                    .map_err(lookup_failed)?;
                found
                    .data
                    .first()
                    .map(|i| intent_outcome(i, request))
                    .transpose()
            }
        }
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn check_amount(&self, amount: &Money) -> Result<(), PaymentError> {
        stripe_amount(amount).map(drop)
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        self.create(request).await
    }

    async fn settle(
        &self,
        request: &ChargeRequest,
        reference: Option<&str>,
    ) -> Result<Charge, PaymentError> {
        if let Some(reference) = reference {
            return self.retrieve(request, reference).await;
        }
        let key_remembered = request
            .started_at
            .is_none_or(|t| jiff::Timestamp::now().duration_since(t) < KEY_WINDOW);
        if key_remembered {
            match self.create(request).await {
                Err(PaymentError::Unknown(why)) => {
                    // A cached 500 says nothing of the charge: look it up.
                    return match self.find(request).await {
                        Ok(Some(found)) => Ok(found),
                        _ => Err(PaymentError::Unknown(why)),
                    };
                }
                other => return other,
            }
        }
        match self.find(request).await? {
            Some(found) => Ok(found),
            None => Err(PaymentError::Invalid(
                "Stripe has no charge for this checkout a day after it began: nothing was charged"
                    .into(),
            )),
        }
    }
}

/// A failure while following a charge up is never a verdict on the charge itself.
fn unknown(e: PaymentError) -> PaymentError {
    match e {
        PaymentError::Unknown(_) => e,
        other => PaymentError::Unknown(format!("following the charge up: {other}")),
    }
}

fn charge_of(id: &str, request: &ChargeRequest, state: ChargeState) -> Charge {
    Charge {
        id: id.to_owned(),
        amount: request.amount,
        idempotency_key: request.idempotency_key.clone(),
        state,
    }
}

/// What a PaymentIntent's status says of the payment, as Stripe documents the statuses.
fn intent_outcome(intent: &PaymentIntent, request: &ChargeRequest) -> Result<Charge, PaymentError> {
    let id = intent.id.as_str();
    let reason = || {
        intent
            .last_payment_error
            .as_ref()
            .and_then(|e| decline_reason(e))
            .unwrap_or_else(|| "the payment method was declined".to_owned())
    };
    match &intent.status {
        PaymentIntentStatus::Succeeded => Ok(charge_of(id, request, ChargeState::Paid)),
        PaymentIntentStatus::Processing => Ok(charge_of(id, request, ChargeState::Processing)),
        PaymentIntentStatus::RequiresPaymentMethod => Err(PaymentError::Declined(reason())),
        PaymentIntentStatus::RequiresAction => Err(PaymentError::Declined(
            "the card needs the customer to confirm the payment with the bank (3-D Secure), which a checkout here cannot do: use another card"
                .into(),
        )),
        PaymentIntentStatus::Canceled => {
            Err(PaymentError::Declined("the payment was canceled".into()))
        }
        PaymentIntentStatus::RequiresConfirmation => Err(PaymentError::Invalid(
            "the payment was not confirmed, so nothing was charged".into(),
        )),
        // Automatic capture is asked for; an authorized payment waits for someone to act.
        PaymentIntentStatus::RequiresCapture => Err(PaymentError::Unknown(format!(
            "payment {id} is authorized but not captured: capture or cancel it in Stripe"
        ))),
        other => Err(PaymentError::Unknown(format!(
            "payment {id} has a status this version does not know: {}",
            other.as_str()
        ))),
    }
}

/// What a charge's status says (the Charges API).
fn charge_outcome(
    charge: &stripe_core::Charge,
    request: &ChargeRequest,
) -> Result<Charge, PaymentError> {
    let id = charge.id.as_str();
    match &charge.status {
        ChargeStatus::Succeeded => Ok(charge_of(id, request, ChargeState::Paid)),
        ChargeStatus::Pending => Ok(charge_of(id, request, ChargeState::Processing)),
        ChargeStatus::Failed => Err(PaymentError::Declined(
            charge
                .failure_message
                .clone()
                .unwrap_or_else(|| "the charge failed".to_owned()),
        )),
        other => Err(PaymentError::Unknown(format!(
            "charge {id} has a status this version does not know: {}",
            other.as_str()
        ))),
    }
}

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
pub fn stripe_amount(money: &Money) -> Result<i64, PaymentError> {
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
    let refuse =
        |why: String| PaymentError::Invalid(format!("Stripe cannot charge {money}: {why}"));
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

/// Sorts a Stripe error into "nothing was charged" (a decline or a refused request) and
/// "not known" (everything that may have charged or may still).
fn classify(err: StripeError) -> PaymentError {
    match err {
        StripeError::Stripe(api, status) => {
            // Stripe's messages may name the payment method; the text goes into the cart's
            // history.
            let message = crate::redact::redact(&api.message.clone().unwrap_or_default());
            let said = format!("stripe answered {status}: {message}");
            match (&api.type_, status) {
                (ApiErrorsType::CardError, _) => PaymentError::Declined(
                    decline_reason(&api).unwrap_or_else(|| "the card was declined".into()),
                ),
                // The key has a history: a request with it is still running (409), or it was
                // used with other parameters. Either way something may have been charged.
                (ApiErrorsType::IdempotencyError, _) | (_, 409) => PaymentError::Unknown(said),
                (_, 429) | (_, 500..) | (ApiErrorsType::ApiError, _) => PaymentError::Unknown(said),
                (_, 401) => PaymentError::Invalid(
                    "Stripe refused the API key: check STRIPE_SECRET_KEY".into(),
                ),
                _ => PaymentError::Invalid(said),
            }
        }
        StripeError::ClientError(e) => PaymentError::Unknown(format!("stripe: {e}")),
        StripeError::Timeout => PaymentError::Unknown("stripe: no answer in time".into()),
        StripeError::JSONDeserialize(e) => {
            PaymentError::Unknown(format!("stripe: unreadable answer: {e}"))
        }
        StripeError::ConfigError(e) => PaymentError::Invalid(format!("stripe: {e}")),
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
            started_at: Some(jiff::Timestamp::now()),
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

    async fn gateway(server: &MockServer) -> StripeGateway {
        StripeGateway::new(&StripeSettings {
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
        let charge = gateway(&server).await.charge(&request(None)).await.unwrap();
        assert_eq!(charge.id, "pi_3Test");
        assert_eq!(charge.amount.minor, 99_900);
    }

    #[tokio::test]
    async fn a_402_card_error_is_a_final_decline_with_the_reason() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(402).set_body_json(serde_json::json!({
                "error": {"type": "card_error", "code": "card_declined",
                          "decline_code": "insufficient_funds",
                          "message": "Your card has insufficient funds."}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let err = gateway(&server)
            .await
            .charge(&request(Some(
                "pm_card_visa_chargeDeclinedInsufficientFunds",
            )))
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::Declined(_)), "{err:?}");
        assert_eq!(err.to_string(), "card declined: insufficient funds");
    }

    #[tokio::test]
    async fn a_500_is_worth_retrying_and_is_sent_once() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_json(serde_json::json!({
                "error": {"type": "api_error", "message": "Something went wrong."}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let err = gateway(&server)
            .await
            .charge(&request(None))
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::Unknown(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_bad_key_is_final_and_never_shown() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": {"type": "invalid_request_error",
                          "message": "Invalid API Key provided: sk_test_****cdef"}
            })))
            .mount(&server)
            .await;
        let err = gateway(&server)
            .await
            .charge(&request(None))
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::Invalid(_)), "{err:?}");
        assert!(!err.to_string().contains(KEY));
    }

    fn intent_with(status: &str, error: serde_json::Value) -> serde_json::Value {
        let mut intent = succeeded_intent();
        intent["status"] = status.into();
        intent["last_payment_error"] = error;
        intent
    }

    #[tokio::test]
    async fn every_payment_intent_status_means_what_stripe_says() {
        let cases = [
            ("processing", None),
            ("requires_action", Some("3-D Secure")),
            (
                "requires_payment_method",
                Some("card declined: insufficient funds"),
            ),
            ("canceled", Some("card declined: the payment was canceled")),
            (
                "requires_confirmation",
                Some("payment rejected: the payment was not confirmed"),
            ),
            ("requires_capture", Some("authorized but not captured")),
        ];
        for (status, expected) in cases {
            let server = MockServer::start().await;
            let error = serde_json::json!({"type": "card_error", "decline_code": "insufficient_funds",
                                           "message": "Your card has insufficient funds."});
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(200).set_body_json(intent_with(status, error)))
                .mount(&server)
                .await;
            let outcome = gateway(&server).await.charge(&request(None)).await;
            match expected {
                None => assert_eq!(outcome.unwrap().state, ChargeState::Processing),
                Some(text) => {
                    let err = outcome.unwrap_err();
                    assert!(err.to_string().contains(text), "{status}: {err}");
                    let unknown = status == "requires_capture";
                    assert_eq!(err.is_final(), !unknown, "{status}: {err:?}");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_409_or_an_idempotency_error_leaves_the_outcome_unknown() {
        for (status, kind) in [
            (409, "idempotency_error"),
            (400, "idempotency_error"),
            (409, "invalid_request_error"),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(status).set_body_json(serde_json::json!({
                        "error": {"type": kind, "message": "Keys for idempotent requests ..."}
                    })),
                )
                .mount(&server)
                .await;
            let err = gateway(&server)
                .await
                .charge(&request(None))
                .await
                .unwrap_err();
            assert!(!err.is_final(), "{status} {kind}: {err:?}");
        }
    }

    #[tokio::test]
    async fn settling_follows_a_processing_payment_up_by_its_id() {
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
        let charge = gateway(&server)
            .await
            .settle(&request(None), Some("pi_3Test"))
            .await
            .unwrap();
        assert_eq!(
            (charge.id.as_str(), charge.state),
            ("pi_3Test", ChargeState::Paid)
        );
    }

    #[tokio::test]
    async fn settling_looks_the_charge_up_when_asking_again_cannot_tell() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .respond_with(ResponseTemplate::new(500).set_body_json(serde_json::json!({
                "error": {"type": "api_error", "message": "An unknown error occurred"}
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/search"))
            .and(wiremock::matchers::query_param(
                "query",
                "metadata['checkout']:'CART-1-run-checkout-1'",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "object": "search_result", "url": "/v1/payment_intents/search",
                "has_more": false, "next_page": null, "data": [succeeded_intent()]
            })))
            .expect(1)
            .mount(&server)
            .await;
        let charge = gateway(&server)
            .await
            .settle(&request(None), None)
            .await
            .unwrap();
        assert_eq!(charge.id, "pi_3Test");
    }

    #[tokio::test]
    async fn a_day_later_the_key_is_never_sent_again_and_no_charge_means_none_was_made() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/payment_intents/search"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "object": "search_result", "url": "/v1/payment_intents/search",
                "has_more": false, "next_page": null, "data": []
            })))
            .expect(1)
            .mount(&server)
            .await;
        let mut old = request(None);
        old.started_at = Some(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25));
        let err = gateway(&server).await.settle(&old, None).await.unwrap_err();
        assert!(err.is_final(), "{err:?}");
        assert!(err.to_string().contains("nothing was charged"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_search_is_never_taken_for_no_charge() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_body_json(serde_json::json!({
                "error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}
            })))
            .mount(&server)
            .await;
        let mut old = request(None);
        old.started_at = Some(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(25));
        let err = gateway(&server).await.settle(&old, None).await.unwrap_err();
        assert!(!err.is_final(), "{err:?}");
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
            err.to_string(),
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
            gateway(&server).await.charge(&req).await.unwrap();
        }
    }

    #[test]
    fn a_live_key_needs_an_explicit_payment() {
        let live = StripeGateway::new(&StripeSettings::new("sk_live_x")).unwrap();
        assert!(matches!(
            live.payment(&request(None)),
            Err(PaymentError::Invalid(_))
        ));
        assert_eq!(live.payment(&request(Some("pm_x"))).unwrap(), "pm_x");
        let charges = StripeGateway::new(&StripeSettings {
            flow: StripeFlow::Charges,
            ..StripeSettings::new(KEY)
        })
        .unwrap();
        assert_eq!(charges.payment(&request(None)).unwrap(), "tok_visa");
    }
}
