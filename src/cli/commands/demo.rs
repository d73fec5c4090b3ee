//! `cart demo`: a scripted shopping session that narrates each step.
//!
//! Every step is a command line run through the same parser and dispatch as a one-shot
//! command, so the demo shows exactly what `cart` prints. It needs only a Temporal server: the
//! worker runs inside this process on a private task queue, with a throwaway ledger and outbox,
//! so it neither needs nor disturbs a worker of yours, and it can show the e-mails it sent.
//! Everything it sends to Temporal is encrypted with a throwaway key (its own, never yours),
//! and the last step shows a payload as Temporal stores it and as the codec server decodes it.

use crate::cli::{Cli, CliError, Context, GlobalArgs};
use crate::codec::server::{CodecServer, decode_remotely, router};
use crate::domain::CartId;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::time::Duration;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// Run a scripted shopping session against the configured Temporal server.
///
/// It starts a worker inside this process (payments in a throwaway ledger, e-mail in a
/// throwaway outbox), fills a cart, waits for the abandoned-cart reminder, pays once with a
/// declined and once with a good test card, shows the receipt, refunds part of the order and
/// ships the rest, and waits for the order's short refund window to close. All of it reaches
/// Temporal encrypted with a throwaway key, and a step shows what that looks like.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long the cart sits unchanged before its reminder e-mail
    #[arg(long, default_value = "3s", value_parser = crate::cli::cart_period)]
    pub remind_after: Duration,
}

/// The id of the demo's throwaway encryption key.
const DEMO_KEY: &str = "demo";

/// The demo order's refund window: long enough for its steps, short enough that the demo
/// sees its cart's workflow end, and leaves none running behind it.
const DEMO_REFUND_WINDOW: &str = "8s";

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let dir = tempfile::Builder::new()
        .prefix("cart-demo-")
        .tempdir()
        .map_err(|e| CliError::chain("cannot create a directory for the demo", &e))?;
    let keys = dir.path().join("keys");
    crate::activities::write_private(&keys, crate::codec::generate_key(DEMO_KEY).as_bytes())
        .map_err(|e| CliError::chain("cannot write the demo's key", &e))?;
    let queue = format!("cart-demo-{}", CartId::generate().suffix());
    // Every command of the demo talks to its worker, with its key.
    let ctx = Context::new(GlobalArgs {
        codec_key_file: Some(keys),
        task_queue: queue.clone(),
        output: crate::cli::OutputFormat::Text,
        ..ctx.global.clone()
    });
    let client = ctx.temporal().await?;
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default())
        .map_err(|e| CliError::chain("cannot start the Temporal runtime", &e))?;
    let activities = crate::worker::local_activities(dir.path());
    let hosting = crate::worker::Hosting {
        keys: ctx.codec()?.fingerprints(),
        ..Default::default()
    };
    let mut worker = crate::worker::build(&runtime, client, &queue, activities, &hosting)
        .map_err(|e| CliError::new(format!("cannot start the demo's worker: {e:#}")))?;
    let shutdown = worker.shutdown_handle();
    let demo = Demo {
        ctx: &ctx,
        outbox: crate::activities::Outbox::dir_in(dir.path()),
        remind_after: args.remind_after,
    };
    let (outcome, stopped) = tokio::join!(
        async {
            let outcome = demo.script().await;
            demo.close_shop().await;
            shutdown();
            outcome
        },
        worker.run()
    );
    outcome?;
    stopped.map_err(|e| CliError::chain("the demo's worker failed", &e))
}

struct Demo<'a> {
    ctx: &'a Context,
    outbox: PathBuf,
    remind_after: Duration,
}

impl Demo<'_> {
    async fn script(&self) -> Result<(), CliError> {
        let id = CartId::generate();
        let cart = id.to_string();
        let wait = humantime::format_duration(self.remind_after).to_string();
        say(
            "cart demo: one cart, from first item to receipt. Each step shows the command it runs.",
        );
        say(
            "A worker runs inside the demo; its payments and e-mails stay in a throwaway directory.",
        );
        say(&format!(
            "What it sends to Temporal is encrypted with a throwaway key, {DEMO_KEY:?}."
        ));

        heading(1, "What is for sale");
        self.run(&["products"]).await?;

        heading(
            2,
            &format!("A new cart that sends a reminder after {wait} unchanged"),
        );
        self.run(&[
            "new",
            "--id",
            &cart,
            "--remind-after",
            &wait,
            "--refund-window",
            DEMO_REFUND_WINDOW,
        ])
        .await?;

        heading(
            3,
            "Two iPhone 12 Pro and an iPhone SE, then one iPhone 12 Pro less",
        );
        self.run(&["add", &cart, "--product", "0", "--qty", "2"])
            .await?;
        self.run(&["add", &cart, "--product", "2"]).await?;
        self.run(&["remove", &cart, "--product", "0", "--qty", "1"])
            .await?;

        heading(4, "An address for the receipt and the reminder");
        self.run(&["email", &cart, "ann@example.com"]).await?;

        heading(
            5,
            &format!("Nothing happens for {wait}: the worker sends one reminder"),
        );
        let reminder = self
            .wait_for_mail(&format!("{cart}-"), "-reminder-")
            .await?;
        show_mail(&reminder)?;

        heading(6, "A declined card: the cart stays open and says why");
        match self
            .run(&["checkout", &cart, "--payment", "tok_chargeDeclined"])
            .await
        {
            Err(e) => e.print(self.ctx.global.color),
            Ok(()) => return Err(CliError::new("the declined card was accepted")),
        }

        heading(7, "A good card: paid, exactly once");
        self.run(&["checkout", &cart, "--payment", "tok_visa"])
            .await?;

        heading(8, "The receipt e-mail");
        let receipt = self
            .wait_for_mail(&format!("{cart}-"), "-confirmation")
            .await?;
        show_mail(&receipt)?;

        heading(
            9,
            "The iPhone SE comes back: a refund of its price, e-mailed once",
        );
        self.run(&[
            "refund",
            &cart,
            "--amount",
            "399.00",
            "--reason",
            "the iPhone SE came back",
        ])
        .await?;
        let refund = self.wait_for_mail(&format!("{cart}-"), "-refund-").await?;
        show_mail(&refund)?;

        heading(10, "The rest ships, with its tracking number");
        self.run(&[
            "ship",
            &cart,
            "--tracking",
            "1Z999AA10123456784",
            "--carrier",
            "UPS",
        ])
        .await?;
        let shipped = self.wait_for_mail(&format!("{cart}-"), "-shipped").await?;
        show_mail(&shipped)?;

        heading(11, "What Temporal stores, and what the codec server shows");
        self.show_encrypted(&id).await?;

        heading(
            12,
            &format!(
                "The order's refund window ({DEMO_REFUND_WINDOW} here, 60 days by default) closes"
            ),
        );
        self.order_closed(&id).await?;
        say("\nThat was the whole session. `cart shell` lets you shop by hand.");
        Ok(())
    }

    /// Shows `cart WORDS` and runs it exactly as the command line would, with the demo's
    /// task queue and key.
    async fn run(&self, words: &[&str]) -> Result<(), CliError> {
        let shown = shlex::try_join(words.iter().copied()).unwrap_or_else(|_| words.join(" "));
        say(&format!("$ cart {shown}"));
        let words = words.iter().map(|w| w.to_string());
        let cli = Cli::parse_line(&self.ctx.global, words)
            .map_err(|e| CliError::new(format!("the demo built a bad command line: {e}")))?;
        Box::pin(crate::cli::run(cli)).await
    }

    /// Waits for the cart's workflow to complete once its order's window has closed.
    async fn order_closed(&self, cart: &CartId) -> Result<(), CliError> {
        let carts = self.ctx.carts().await?;
        let window = crate::cli::refund_window(DEMO_REFUND_WINDOW).map_err(CliError::new)?;
        let ended = tokio::time::timeout(window + Duration::from_secs(60), carts.ended(cart));
        let ended = crate::cli::output::waiting("waiting for the window to close", ended)
            .await
            .map_err(|_| {
                CliError::new("the order's workflow did not complete after its window")
            })??;
        let status = ended.order.map(|o| o.status).unwrap_or_default();
        say(&format!(
            "The cart's workflow has completed, its order {status}: it takes no more refunds."
        ));
        Ok(())
    }

    /// Ends the shop workflow that answered `cart products` on the demo's task queue, which
    /// no worker serves after the demo.
    async fn close_shop(&self) {
        let closed = match self.ctx.carts().await {
            Ok(carts) => carts
                .close_shop("the demo ended")
                .await
                .map_err(CliError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = closed {
            tracing::warn!("the demo's shop workflow stays open: {e}");
        }
    }

    /// The e-mail update in the cart's history as the Temporal server stores it, and the same
    /// payload decoded by a codec server (the one `cart codec-server` runs, here on a free
    /// port of this machine for the length of the step).
    async fn show_encrypted(&self, cart: &CartId) -> Result<(), CliError> {
        let events = self.ctx.carts().await?.stored_history(cart).await?;
        let stored = events
            .into_iter()
            .find_map(|event| match event.attributes? {
                Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(accepted) => {
                    let input = accepted.accepted_request?.input?;
                    let payloads = input.args.filter(|_| input.name == "set_email")?;
                    payloads.payloads.into_iter().next()
                }
                _ => None,
            })
            .ok_or_else(|| CliError::new("the cart's history holds no e-mail update"))?;
        say("The e-mail update in the cart's history, as the Temporal server stores it:");
        show_payload(&stored);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| CliError::chain("cannot start the demo's codec server", &e))?;
        let endpoint = listener
            .local_addr()
            .map(|a| format!("http://{a}"))
            .map_err(|e| CliError::chain("cannot start the demo's codec server", &e))?;
        let server = router(CodecServer {
            codec: self.ctx.codec()?,
            token: None,
            ui_origins: Vec::new(),
        });
        let server = tokio::spawn(async move { axum::serve(listener, server).await });
        let decoded = decode_remotely(&endpoint, None, vec![stored]).await;
        server.abort();
        let decoded = decoded
            .map_err(|e| CliError::new(format!("the codec server did not decode it: {e}")))?;
        say("\nThe same payload decoded by the codec server (POST /decode):");
        decoded.iter().for_each(show_payload);
        say(
            "\n`cart codec-server` does this for whoever holds the keys: point `temporal workflow show \
             --codec-endpoint` or the Web UI's codec server setting at it to read whole histories.",
        );
        Ok(())
    }

    /// Waits for the outbox file whose name starts with `prefix` and contains `part`.
    async fn wait_for_mail(&self, prefix: &str, part: &str) -> Result<PathBuf, CliError> {
        let deadline = tokio::time::Instant::now() + self.remind_after + Duration::from_secs(60);
        let message = format!("waiting for the {} e-mail", part.trim_matches('-'));
        crate::cli::output::waiting(&message, async {
            loop {
                if let Some(path) = find(&self.outbox, prefix, part) {
                    return Ok(path);
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(CliError::new(format!(
                        "no {} e-mail arrived",
                        part.trim_matches('-')
                    ))
                    .hint("the demo's worker logs to stderr; CART_LOG=info shows more"));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
    }
}

fn find(dir: &Path, prefix: &str, part: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(prefix) && name.contains(part) && name.ends_with(".eml")
        })
}

fn say(text: &str) {
    let _ = crate::cli::output::raw(format!("{text}\n").as_bytes());
}

fn heading(n: u32, text: &str) {
    say(&format!("\n{n}. {text}"));
}

/// A payload's metadata and data: text as it is, anything else as the start of its base64.
fn show_payload(payload: &Payload) {
    let mut metadata: Vec<_> = payload
        .metadata
        .iter()
        .map(|(name, value)| format!("{name}={}", String::from_utf8_lossy(value)))
        .collect();
    metadata.sort();
    let data = match std::str::from_utf8(&payload.data) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            let base64 = base64::engine::general_purpose::STANDARD.encode(&payload.data);
            let start: String = base64.chars().take(32).collect();
            format!(
                "{start}… ({} bytes, unreadable without the key)",
                payload.data.len()
            )
        }
    };
    say(&format!(
        "  metadata: {}\n  data:     {data}",
        metadata.join(", ")
    ));
}

/// An e-mail from the outbox as a reader sees it: the main headers and the plain text.
fn show_mail(path: &Path) -> Result<(), CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::chain(format!("cannot read {}", path.display()), &e))?;
    let mail = mail_parser::MessageParser::default()
        .parse(&bytes)
        .ok_or_else(|| CliError::new(format!("{} is not an e-mail", path.display())))?;
    let addresses = |a: Option<&mail_parser::Address>| {
        a.and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned()
    };
    say(&format!(
        "From: {}\nTo: {}\nSubject: {}\n\n{}",
        addresses(mail.from()),
        addresses(mail.to()),
        mail.subject().unwrap_or_default(),
        mail.body_text(0)
            .unwrap_or_default()
            .replace("\r\n", "\n")
            .trim_end()
    ));
    Ok(())
}
