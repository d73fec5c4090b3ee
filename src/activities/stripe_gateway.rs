//! Stripe through async-stripe: PaymentIntents by default, the tutorial's Charges on request.
//!
//! Every request carries the workflow's idempotency key and is sent once: retries are
//! Temporal's job, so the HTTP client never retries (and never invents a key of its own). A
//! card decline, an invalid request or bad credentials are final; 429, 5xx and network errors
//! are retried by Temporal with backoff.

use super::{Charge, ChargeRequest, PaymentError, PaymentGateway};
use crate::domain::{Money, bounded};
use async_trait::async_trait;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use stripe::{ApiErrorsType, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_core::charge::CreateCharge;
use stripe_core::payment_intent::{
    CreatePaymentIntent, CreatePaymentIntentAutomaticPaymentMethods,
    CreatePaymentIntentAutomaticPaymentMethodsAllowRedirects,
};

/// Stripe's API.
pub const STRIPE_API: &str = "https://api.stripe.com";

/// Which Stripe API charges the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripeFlow {
    /// PaymentIntents, created and confirmed in one request (no redirect-based methods).
    PaymentIntents,
    /// The legacy Charges API with a source token, as the tutorial uses.
    Charges,
}

pub struct StripeGateway {
    client: stripe::Client,
    flow: StripeFlow,
    /// A test key (`sk_test_…`, `rk_test_…`) may fall back to Stripe's test card.
    test_mode: bool,
}

impl StripeGateway {
    pub fn new(secret_key: &str, base: &str, flow: StripeFlow) -> Result<Self, String> {
        let client = stripe::ClientBuilder::new(secret_key)
            .url(base.trim_end_matches('/'))
            .request_strategy(RequestStrategy::Once)
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| format!("cannot set up the Stripe client: {e}"))?;
        let test_mode = secret_key.starts_with("sk_test_") || secret_key.starts_with("rk_test_");
        Ok(Self {
            client,
            flow,
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
        ("cart_id".to_owned(), bounded(&request.cart_id, 500)),
        ("checkout".to_owned(), request.idempotency_key.clone()),
    ])
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn check_amount(&self, amount: &Money) -> Result<(), PaymentError> {
        stripe_amount(amount).map(drop)
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let payment = self.payment(request)?;
        let amount = stripe_amount(&request.amount)?;
        let currency =
            stripe_types::Currency::from_str(&request.amount.currency.code().to_ascii_lowercase())
                .unwrap_or_else(|never| match never {});
        let id = match self.flow {
            StripeFlow::Charges => CreateCharge::new()
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
                .map_err(classify)?
                .id
                .to_string(),
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
                let status = intent.status.as_str().to_owned();
                if status != "succeeded" {
                    return Err(PaymentError::Declined(format!(
                        "the payment was not completed (status {status})"
                    )));
                }
                intent.id.to_string()
            }
        };
        Ok(Charge {
            id,
            amount: request.amount,
            idempotency_key: request.idempotency_key.clone(),
        })
    }
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

/// Sorts a Stripe error into final (the person must act) and retryable.
fn classify(err: StripeError) -> PaymentError {
    match err {
        StripeError::Stripe(api, status) => {
            let message = api.message.clone().unwrap_or_default();
            match (&api.type_, status) {
                (ApiErrorsType::CardError, _) => {
                    let reason = api
                        .decline_code
                        .as_deref()
                        .map(|c| c.replace('_', " "))
                        .filter(|c| c != "generic decline")
                        .unwrap_or(message);
                    PaymentError::Declined(reason)
                }
                (_, 429) | (_, 500..) | (ApiErrorsType::ApiError, _) => {
                    PaymentError::Unavailable(format!("stripe answered {status}: {message}"))
                }
                (_, 401) => PaymentError::Invalid(
                    "Stripe refused the API key: check STRIPE_SECRET_KEY".into(),
                ),
                _ => PaymentError::Invalid(format!("stripe answered {status}: {message}")),
            }
        }
        StripeError::ClientError(e) => PaymentError::Unavailable(format!("stripe: {e}")),
        StripeError::Timeout => PaymentError::Unavailable("stripe: timed out".into()),
        StripeError::JSONDeserialize(e) => {
            PaymentError::Unavailable(format!("stripe: unreadable answer: {e}"))
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
            cart_id: "CART-1".into(),
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

    async fn gateway(server: &MockServer) -> StripeGateway {
        StripeGateway::new(KEY, &server.uri(), StripeFlow::PaymentIntents).unwrap()
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
        assert!(matches!(err, PaymentError::Unavailable(_)), "{err:?}");
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
            let mut cart = Cart::new("CART-1");
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
        let live = StripeGateway::new("sk_live_x", STRIPE_API, StripeFlow::PaymentIntents).unwrap();
        assert!(matches!(
            live.payment(&request(None)),
            Err(PaymentError::Invalid(_))
        ));
        assert_eq!(live.payment(&request(Some("pm_x"))).unwrap(), "pm_x");
        let charges = StripeGateway::new(KEY, STRIPE_API, StripeFlow::Charges).unwrap();
        assert_eq!(charges.payment(&request(None)).unwrap(), "tok_visa");
    }
}
