//! `cart worker`: host the carts, their payments and e-mail.

use crate::cli::{CliError, Context};
use std::path::PathBuf;
use temporalio_sdk::Runtime;

/// Run the worker that hosts the carts and their payments and e-mail.
///
/// Payments go to the ledger DATA_DIR/payments.jsonl unless STRIPE_SECRET_KEY chooses Stripe.
/// E-mail goes to DATA_DIR/outbox/ unless SMTP_URL or MAILGUN_DOMAIN with MAILGUN_API_KEY choose
/// a real provider; CART_MAIL_FROM sets the sender. Stops cleanly on Ctrl-C or SIGTERM.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the ledger and outbox live [default: the user's data directory, e.g. ~/.local/share/cart]
    #[arg(long, env = "CART_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The data directory: the flag or `CART_DATA_DIR`, else `<XDG data dir>/cart`.
pub fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf, CliError> {
    flag.or_else(|| dirs::data_dir().map(|d| d.join("cart")))
        .ok_or_else(|| {
            CliError::new("cannot find a data directory for this user")
                .hint("set one with --data-dir or CART_DATA_DIR")
        })
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let refuse = |e: String| {
        CliError::new(format!("cannot start the worker: {e}"))
            .hint("see README.md, \"Configuration\", for the provider variables")
    };
    let data_dir = data_dir(args.data_dir)?;
    let var = |name: &str| std::env::var(name).ok();
    let payments = crate::activities::payment_provider(var).map_err(refuse)?;
    let mail = crate::activities::mail_settings(var).map_err(refuse)?;
    let activities = crate::worker::activities(&data_dir, &payments, &mail).map_err(refuse)?;
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        CliError::chain(
            format!("cannot create the data directory {}", data_dir.display()),
            &e,
        )
    })?;
    let client = ctx.temporal().await?;
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|e| CliError::chain("cannot start the Temporal runtime", &e))?;
    let queue = &ctx.global.task_queue;
    let mut worker = crate::worker::build(&runtime, client, queue, activities)
        .map_err(|e| CliError::new(format!("cannot start the worker: {e:#}")))?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: finishing the tasks in hand");
        shutdown();
    });
    match payments {
        crate::activities::PaymentProvider::Ledger => tracing::info!(
            "payments: {payments}, in {}",
            data_dir.join("payments.jsonl").display()
        ),
        _ => tracing::info!("payments: {payments}"),
    }
    match mail.provider {
        crate::activities::MailProvider::Outbox => {
            tracing::info!("mail: {mail}, into {}", data_dir.join("outbox").display())
        }
        _ => tracing::info!("mail: {mail}"),
    }
    tracing::info!(
        task_queue = %queue,
        data_dir = %data_dir.display(),
        "cart worker started"
    );
    worker
        .run()
        .await
        .map_err(|e| CliError::chain("the worker stopped", &e))?;
    tracing::info!("cart worker stopped");
    Ok(())
}

pub(crate) async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
