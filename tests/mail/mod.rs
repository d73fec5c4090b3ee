//! E-mail through a real SMTP server (aiosmtpd, started per test on a free port) and the
//! Mailgun HTTP contract (wiremock); [`outages`]: reminders through providers that fail.

mod outages;

use crate::support::*;
use cart::activities::{EmailMessage, MailError, Mailer, Smtp};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The user and password the test SMTP server requires.
pub const SMTP_USER: (&str, &str) = ("cart", "s3cret");

/// A real SMTP server (aiosmtpd, `smtp_server.py`) on a port of its own, requiring
/// [`SMTP_USER`]. It can be down (nothing listens on its port, so connections are refused) and
/// come up again on the same port, with the messages it accepted kept.
pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpServer {
    /// A server that is up.
    pub fn start() -> Self {
        let mut server = Self::down();
        server.up();
        server
    }

    /// A server that is down, until [`SmtpServer::up`].
    pub fn down() -> Self {
        Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Starts the server and waits until it listens.
    pub fn up(&mut self) {
        assert!(self.child.is_none(), "the SMTP server is up already");
        let python = tool("venv/bin/python");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mail/smtp_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .args([SMTP_USER.0, SMTP_USER.1])
            .arg(self.control())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server (run scripts/install-tools)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        self.child = Some(child);
    }

    /// The URL a worker sends through, with `password`.
    pub fn url_with(&self, password: &str) -> String {
        format!("smtp://{}:{password}@127.0.0.1:{}", SMTP_USER.0, self.port)
    }

    pub fn url(&self) -> String {
        self.url_with(SMTP_USER.1)
    }

    /// Where a test says how the server answers MAIL FROM (see `smtp_server.py`).
    fn control(&self) -> PathBuf {
        self.dir.path().join("control")
    }

    /// Answers MAIL FROM as `mode` says ("451", "slow N"), until [`SmtpServer::normal`].
    pub fn answer(&self, mode: &str) {
        std::fs::write(self.control(), mode).unwrap();
    }

    pub fn normal(&self) {
        let _ = std::fs::remove_file(self.control());
    }

    /// What the server did at each MAIL FROM so far ("451", "slow", "slow done", "mail").
    pub fn log(&self) -> Vec<String> {
        let log = self.dir.path().join("control.log");
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }

    /// The messages it accepted, oldest first, as files.
    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
    }

    /// The messages it accepted, oldest first, as text.
    pub fn messages(&self) -> Vec<String> {
        self.files().iter().map(|p| read_eml(p)).collect()
    }

    /// The messages it accepted, oldest first, as their reader sees them.
    pub fn delivered(&self) -> Vec<Delivered> {
        let read = |p: &PathBuf| Delivered::parse(&std::fs::read(p).unwrap());
        self.files().iter().map(read).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An e-mail as its reader sees it: who it is to, its subject and its plain text.
#[derive(Debug, PartialEq, Eq)]
pub struct Delivered {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl Delivered {
    /// Line ends and trailing white space as a reader sees them, whatever the transport did.
    pub fn new(to: &str, subject: &str, text: &str) -> Self {
        let text = text.replace("\r\n", "\n");
        Self {
            to: to.to_owned(),
            subject: subject.to_owned(),
            text: text.trim_end().to_owned(),
        }
    }

    /// An RFC 5322 message, read by a real MIME parser.
    fn parse(raw: &[u8]) -> Self {
        let message = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("an RFC 5322 message");
        let to = message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default();
        Self::new(
            to,
            message.subject().unwrap_or_default(),
            &message.body_text(0).unwrap_or_default(),
        )
    }
}

fn message() -> EmailMessage {
    EmailMessage {
        key: "CART-1-run-reminder-4".into(),
        to: "ann@example.com".into(),
        subject: "You left items in your cart CART-1".into(),
        text: "Hello,\n\n  1 x Café phone\n".into(),
        html: "<p>Hello,</p>".into(),
        tag: "abandoned-cart".into(),
    }
}

#[tokio::test]
async fn a_message_is_delivered_with_auth() {
    let server = SmtpServer::start();
    let smtp = Smtp::new(&server.url(), "Shop <shop@example.com>".parse().unwrap()).unwrap();
    smtp.send(&message()).await.unwrap();
    let delivered = server.messages();
    assert_eq!(delivered.len(), 1);
    let m = &delivered[0];
    assert!(m.contains("From: Shop <shop@example.com>\r\n"), "{m}");
    assert!(m.contains("To: ann@example.com\r\n"), "{m}");
    assert!(
        m.contains("Subject: You left items in your cart CART-1\r\n"),
        "{m}"
    );
    assert!(
        m.contains("Message-ID: <CART-1-run-reminder-4@example.com>\r\n"),
        "{m}"
    );
    assert!(m.contains("X-Mailgun-Tag: abandoned-cart\r\n"), "{m}");
    assert!(m.contains("Content-Type: multipart/alternative"), "{m}");
    assert!(
        m.contains("1 x Caf=C3=A9 phone") || m.contains("1 x Café phone"),
        "{m}"
    );
    assert!(m.contains("<p>Hello,</p>"), "{m}");
}

#[tokio::test]
async fn a_wrong_password_is_a_final_rejection_without_the_password() {
    let server = SmtpServer::start();
    let smtp = Smtp::new(
        &server.url_with("wrong-password"),
        "shop@example.com".parse().unwrap(),
    )
    .unwrap();
    let err = smtp.send(&message()).await.unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("535"), "{err}");
    assert!(!err.to_string().contains("wrong-password"), "{err}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_unreachable_server_is_worth_retrying() {
    let url = format!("smtp://cart:x@127.0.0.1:{}", free_port());
    let smtp = Smtp::new(&url, "shop@example.com".parse().unwrap()).unwrap();
    let err = smtp.send(&message()).await.unwrap_err();
    assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
}

/// A `cart worker` that sends through `smtp` as shop@example.com.
pub(super) async fn smtp_worker(s: &Setup, smtp: &SmtpServer) -> crate::cli::WorkerProcess {
    s.spawn_worker_with(&[
        ("SMTP_URL", smtp.url().as_str()),
        ("CART_MAIL_FROM", "Shop <shop@example.com>"),
    ])
    .await
}

/// A `cart worker` that sends through a Mailgun API at `base`, for the domain mg.example.com
/// with the key key-0123456789abcdef.
pub(super) async fn mailgun_worker(s: &Setup, base: &str) -> crate::cli::WorkerProcess {
    s.spawn_worker_with(&[
        ("MAILGUN_DOMAIN", "mg.example.com"),
        ("MAILGUN_API_KEY", "key-0123456789abcdef"),
        ("MAILGUN_API_BASE", base),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sends_the_reminder_through_smtp() {
    let smtp = SmtpServer::start();
    let s = Setup::new().await;
    let worker = smtp_worker(&s, &smtp).await;
    let id = unique("CART-smtp");
    s.ok(&["add", &id, "--product", "2", "--remind-after", "1s"]);
    s.ok(&["email", &id, "bob@example.com"]);
    let messages = eventually(Duration::from_secs(30), "the reminder", || async {
        Some(smtp.messages()).filter(|m| !m.is_empty())
    })
    .await;
    assert!(messages[0].contains("To: bob@example.com\r\n"));
    assert!(messages[0].contains(&format!("cart checkout {id}")));
    assert!(
        reminders(s.data()).is_empty(),
        "nothing in the local outbox"
    );

    let (status, log) = worker.terminate();
    assert!(status.success());
    assert!(
        log.contains("mail: SMTP smtp://cart:****@127.0.0.1:"),
        "the provider is named with the password masked: {log}"
    );
    assert!(!log.contains("s3cret"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sends_the_reminder_through_mailgun() {
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let mailgun = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mg.example.com/messages"))
        // "api:key-0123456789abcdef" in base64.
        .and(header(
            "authorization",
            "Basic YXBpOmtleS0wMTIzNDU2Nzg5YWJjZGVm",
        ))
        .and(body_string_contains("to=bob%40example.com"))
        .and(body_string_contains("o%3Atag=abandoned-cart"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"message":"Queued"}"#))
        .expect(1)
        .mount(&mailgun)
        .await;
    let s = Setup::new().await;
    let worker = mailgun_worker(&s, &mailgun.uri()).await;
    let id = unique("CART-mg");
    s.ok(&["add", &id, "--product", "1", "--remind-after", "1s"]);
    s.ok(&["email", &id, "bob@example.com"]);
    eventually(Duration::from_secs(30), "the Mailgun request", || async {
        let received = mailgun.received_requests().await.unwrap_or_default();
        (!received.is_empty()).then_some(())
    })
    .await;
    let (status, log) = worker.terminate();
    assert!(status.success());
    assert!(
        log.contains("mail: Mailgun http://127.0.0.1:"),
        "the provider is named: {log}"
    );
    assert!(
        log.contains("key ****cdef, from Cart <cart@mg.example.com>"),
        "{log}"
    );
    assert!(!log.contains("0123456789"), "the key never appears: {log}");
    // `expect(1)` is checked when the mock server drops: exactly one request.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_configured_provider_stops_the_worker_with_what_is_missing() {
    let s = Setup::new().await;
    let out = s
        .cart()
        .arg("worker")
        .env("MAILGUN_API_KEY", "key-0123456789abcdef")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "error: cannot start the worker: Mailgun is half configured: MAILGUN_DOMAIN is not set;"
        ),
        "{err}"
    );
    assert!(!err.contains("0123456789"), "{err}");
}

/// E-mail is at-least-once: a send whose answer was lost is sent again. Both providers get
/// the same `Message-ID` for the same message each time, so a duplicate is recognisable (and
/// mail systems that deduplicate by it drop it).
#[tokio::test]
async fn a_message_sent_again_keeps_its_message_id() {
    let server = SmtpServer::start();
    let from: lettre::message::Mailbox = "Shop <shop@example.com>".parse().unwrap();
    let smtp = Smtp::new(&server.url(), from.clone()).unwrap();
    smtp.send(&message()).await.unwrap();
    smtp.send(&message()).await.unwrap();
    let ids: Vec<String> = server
        .messages()
        .iter()
        .map(|m| {
            m.lines()
                .find(|l| l.starts_with("Message-ID: "))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        vec!["Message-ID: <CART-1-run-reminder-4@example.com>"; 2]
    );

    let mailgun_api = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&mailgun_api)
        .await;
    let mailgun = cart::activities::Mailgun::new(
        &cart::activities::settings::MailgunSettings {
            base: mailgun_api.uri(),
            domain: "example.com".into(),
            api_key: "key".into(),
        },
        from,
    )
    .unwrap();
    mailgun.send(&message()).await.unwrap();
    mailgun.send(&message()).await.unwrap();
    let sent = mailgun_api.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    for request in sent {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        assert!(
            body.contains("h%3AMessage-Id=%3CCART-1-run-reminder-4%40example.com%3E"),
            "{body}"
        );
    }
}

/// A refused address is logged by the worker, masked: no log line carries a customer's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_logs_a_refused_address_masked() {
    let smtp = SmtpServer::start();
    let s = Setup::new().await;
    let worker = smtp_worker(&s, &smtp).await;
    let id = unique("CART-refused");
    s.ok(&["add", &id, "--product", "2", "--remind-after", "1s"]);
    s.ok(&["email", &id, "nobody.here@example.com"]);
    eventually(
        Duration::from_secs(30),
        "the reminder to be given up",
        || async {
            let cart: serde_json::Value =
                serde_json::from_str(&s.ok(&["show", &id, "--output", "json"])).unwrap();
            (cart["reminder_sent"] == true).then_some(())
        },
    )
    .await;
    let (_, log) = worker.terminate();
    assert!(
        log.contains("the reminder could not be sent: e-mail rejected: smtp: permanent error (550): 5.1.1 <n***@example.com>"),
        "{log}"
    );
    assert!(!log.contains("nobody.here@"), "{log}");
}
