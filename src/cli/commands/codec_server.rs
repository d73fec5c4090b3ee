//! `cart codec-server`: Temporal's remote codec protocol over HTTP, for the `temporal` CLI
//! (`--codec-endpoint`) and the Temporal Web UI.

use crate::cli::{CliError, Context};
use axum::http::HeaderValue;
use std::net::SocketAddr;

/// Decrypt carts' data for the `temporal` CLI and the Temporal Web UI (Temporal's remote codec
/// protocol: POST /encode and /decode).
///
/// Point them at it: `temporal workflow show -w CART-… --codec-endpoint http://127.0.0.1:8081`,
/// or the UI's "Codec Server" setting. It needs the same keys as the workers
/// (CART_CODEC_KEY or CART_CODEC_KEY_FILE), and shows the data to whoever can call it: on an
/// address other machines can reach it requires a token. Stops on Ctrl-C or SIGTERM.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Require `Authorization: Bearer TOKEN` (the CLI's --codec-auth, the UI's access token).
    /// Anyone who can list processes sees a token given here: prefer CART_CODEC_TOKEN or
    /// --token-file
    #[arg(long, env = "CART_CODEC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Whether `--token` was typed on the command line (rather than given by CART_CODEC_TOKEN).
    #[arg(skip)]
    pub token_typed: bool,
    /// Read the token from this file (its first line)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// The Temporal Web UI's origin, whose pages may call it (repeat for several)
    #[arg(
        long = "ui-origin",
        value_name = "ORIGIN",
        default_value = "http://localhost:8233"
    )]
    pub ui_origins: Vec<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let codec = ctx.codec()?;
    if !codec.encrypts() {
        return Err(
            CliError::usage("the codec server needs the encryption keys")
                .hint("set CART_CODEC_KEY or CART_CODEC_KEY_FILE, as for the workers"),
        );
    }
    let token = super::prelude::token(
        args.token.as_deref(),
        args.token_typed,
        args.token_file.as_deref(),
        "CART_CODEC_TOKEN",
    )?;
    if !args.listen.ip().is_loopback() && token.is_none() {
        return Err(CliError::usage(format!(
            "{} can be reached from other machines, and no token protects the decrypted data",
            args.listen
        ))
        .hint("set CART_CODEC_TOKEN or --token-file"));
    }
    let ui_origins = args
        .ui_origins
        .iter()
        .map(|o| {
            HeaderValue::from_str(o.trim_end_matches('/')).map_err(|_| {
                CliError::usage(format!("--ui-origin {o:?} is not an origin"))
                    .hint("write it like http://localhost:8233")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::chain(format!("cannot listen on {}", args.listen), &e))?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::chain("cannot read the listening address", &e))?;
    let router = crate::codec::server::router(crate::codec::server::CodecServer {
        codec,
        token,
        ui_origins,
    });
    tracing::info!("codec server on http://{local} (POST /encode, /decode)");
    axum::serve(listener, router)
        .with_graceful_shutdown(super::prelude::stop_signal())
        .await
        .map_err(|e| CliError::chain("the codec server stopped", &e))?;
    Ok(())
}
