//! `cart worker`: host the carts, their payments and e-mail.

use crate::cli::{CliError, Context};
use std::path::PathBuf;
use temporalio_sdk::Runtime;

/// Run the worker that hosts the carts and their payments and e-mail.
///
/// Payments go to the ledger DATA_DIR/payments.jsonl and e-mail to DATA_DIR/outbox/. Stops
/// cleanly on Ctrl-C or SIGTERM.
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
    let data_dir = data_dir(args.data_dir)?;
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
    let activities = crate::worker::local_activities(&data_dir);
    let mut worker = crate::worker::build(&runtime, client, queue, activities)
        .map_err(|e| CliError::new(format!("cannot start the worker: {e:#}")))?;
    let shutdown = worker.shutdown_handle();
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: finishing the tasks in hand");
        shutdown();
    });
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

async fn stop_signal() {
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
