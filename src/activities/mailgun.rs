//! Mailgun's HTTP API: `POST {base}/v3/{domain}/messages` with Basic auth (user `api`).
//!
//! Retries are Temporal's job: the client makes one attempt per activity attempt. A 4xx other
//! than 429 is the request's fault and final; 429, 5xx and network errors are worth retrying.

use super::mail::message_id;
use super::settings::{MailgunSettings, SettingsError};
use super::{EmailMessage, MailError, Mailer};
use async_trait::async_trait;
use lettre::message::Mailbox;
use std::time::Duration;

pub struct Mailgun {
    client: reqwest::Client,
    base: String,
    domain: String,
    api_key: String,
    from: Mailbox,
}

impl Mailgun {
    pub fn new(settings: &MailgunSettings, from: Mailbox) -> Result<Self, SettingsError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| SettingsError::Provider(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            client,
            base: settings.base.trim_end_matches('/').to_owned(),
            domain: settings.domain.clone(),
            api_key: settings.api_key.clone(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for Mailgun {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let form = [
            ("from", self.from.to_string()),
            ("to", message.to.clone()),
            ("subject", message.subject.clone()),
            ("text", message.text.clone()),
            ("html", message.html.clone()),
            ("o:tag", message.tag.clone()),
            ("h:Message-Id", message_id(&message.key, &self.from)),
        ];
        let url = format!("{}/v3/{}/messages", self.base, self.domain);
        let response = self
            .client
            .post(&url)
            .basic_auth("api", Some(&self.api_key))
            .form(&form)
            .send()
            .await
            .map_err(|e| MailError::Unavailable(format!("mailgun: {}", crate::report::line(&e))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // Mailgun explains itself in {"message": "..."}; never echo the request.
        let body = response.text().await.unwrap_or_default();
        let reason = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        let text = format!("mailgun answered {status}: {reason}");
        if status.as_u16() == 429 || status.is_server_error() {
            Err(MailError::Unavailable(text))
        } else {
            Err(MailError::Rejected(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn message() -> EmailMessage {
        EmailMessage {
            key: "CART-1-run-reminder-2".into(),
            to: "ann@example.com".into(),
            subject: "You left items in your cart CART-1".into(),
            text: "Hello".into(),
            html: "<p>Hello</p>".into(),
            tag: "abandoned-cart".into(),
        }
    }

    fn mailgun(server: &MockServer) -> Mailgun {
        let from = "Shop <shop@mg.example.com>".parse().unwrap();
        Mailgun::new(
            &MailgunSettings {
                base: server.uri(),
                domain: "mg.example.com".into(),
                api_key: "key-secret".into(),
            },
            from,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn posts_the_message_with_basic_auth_and_every_field() {
        let server = MockServer::start().await;
        // "api:key-secret" in base64.
        Mock::given(method("POST"))
            .and(path("/v3/mg.example.com/messages"))
            .and(header("authorization", "Basic YXBpOmtleS1zZWNyZXQ="))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string_contains(
                "from=Shop+%3Cshop%40mg.example.com%3E",
            ))
            .and(body_string_contains("to=ann%40example.com"))
            .and(body_string_contains(
                "subject=You+left+items+in+your+cart+CART-1",
            ))
            .and(body_string_contains("text=Hello"))
            .and(body_string_contains("html=%3Cp%3EHello%3C%2Fp%3E"))
            .and(body_string_contains("o%3Atag=abandoned-cart"))
            .and(body_string_contains(
                "h%3AMessage-Id=%3CCART-1-run-reminder-2%40mg.example.com%3E",
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(r#"{"id":"<x>","message":"Queued. Thank you."}"#),
            )
            .expect(1)
            .mount(&server)
            .await;
        mailgun(&server).send(&message()).await.unwrap();
    }

    #[tokio::test]
    async fn a_401_is_final_and_says_why_without_the_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_string("Forbidden"))
            .mount(&server)
            .await;
        let err = mailgun(&server).send(&message()).await.unwrap_err();
        assert!(matches!(err, MailError::Rejected(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "e-mail rejected: mailgun answered 401 Unauthorized: Forbidden"
        );
        assert!(!err.to_string().contains("key-secret"));
    }

    #[tokio::test]
    async fn a_400_is_final_with_mailgun_s_message() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_string(r#"{"message":"'to' parameter is not a valid address"}"#),
            )
            .mount(&server)
            .await;
        let err = mailgun(&server).send(&message()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "e-mail rejected: mailgun answered 400 Bad Request: 'to' parameter is not a valid address"
        );
    }

    #[tokio::test]
    async fn a_500_or_429_is_worth_retrying() {
        for status in [500, 503, 429] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(status))
                .mount(&server)
                .await;
            let err = mailgun(&server).send(&message()).await.unwrap_err();
            assert!(
                matches!(err, MailError::Unavailable(_)),
                "{status}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_network_error_is_worth_retrying() {
        // A port nothing listens on (wiremock pools its servers, so not a dropped one).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let from = "shop@mg.example.com".parse().unwrap();
        let settings = MailgunSettings {
            base,
            domain: "mg.example.com".into(),
            api_key: "k".into(),
        };
        let mailgun = Mailgun::new(&settings, from).unwrap();
        let err = mailgun.send(&message()).await.unwrap_err();
        assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
    }
}
