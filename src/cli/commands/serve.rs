//! `cart serve`: the HTTP API.

use super::prelude::*;
use std::net::SocketAddr;

/// Serve the carts over HTTP: the tutorial's API (its web front end works unchanged) and
/// /api/v1 with an OpenAPI document at /api/v1/openapi.json.
///
/// Needs a Temporal server and a `cart worker`, like every other command. Only pages served
/// from this machine may call it from a browser, and it answers only to its own address (and
/// loopback names when it listens on loopback), so a page elsewhere cannot drive a person's
/// carts. Stops on Ctrl-C or SIGTERM after finishing the requests in flight.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:3001, or 127.0.0.1:PORT]
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// The port to listen on at 127.0.0.1 when --listen is not given, as the tutorial's PORT
    /// variable sets it [default: 3001]
    #[arg(long, env = "PORT", value_name = "PORT")]
    pub port: Option<String>,
    /// Require `Authorization: Bearer TOKEN` on every request. Anyone who can list processes
    /// sees a token given here: prefer CART_API_TOKEN or --token-file
    #[arg(long, env = "CART_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Whether `--token` was typed on the command line (rather than given by CART_API_TOKEN).
    #[arg(skip)]
    pub token_typed: bool,
    /// Read the token from this file (its first line)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// The token of the shop's own requests (refunds, cancellations, shipments), which need it
    /// and take no other. Without one, those requests are refused. Prefer this to
    /// CART_OPERATOR_TOKEN
    #[arg(long, value_name = "FILE")]
    pub operator_token_file: Option<std::path::PathBuf>,
    /// The operator token, from the environment (see --operator-token-file)
    #[arg(
        long = "operator-token",
        env = "CART_OPERATOR_TOKEN",
        hide = true,
        hide_env_values = true
    )]
    pub operator_token: Option<String>,
    /// Whether `--operator-token` was typed on the command line.
    #[arg(skip)]
    pub operator_token_typed: bool,
    /// Listen on an address other machines can reach without a token (anyone there may then
    /// start, change and pay for carts)
    #[arg(long)]
    pub allow_no_token: bool,
    /// Another origin browsers may call from, besides pages on this machine (repeat for
    /// several); `*` allows any page on any site
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Another name the server answers to, such as its public name behind a proxy (repeat for
    /// several)
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Serve Prometheus metrics of the requests at /metrics, liveness at /healthz and
    /// readiness at /readyz on this address (apart from the API, and without its token)
    #[arg(long, env = "CART_METRICS", value_name = "HOST:PORT")]
    pub metrics: Option<SocketAddr>,
    #[command(flatten)]
    pub defaults: CartDefaults,
}

/// The address to listen on: `--listen`, else the tutorial's `PORT` on the loopback address.
fn listen_address(flag: Option<SocketAddr>, port: Option<&str>) -> Result<SocketAddr, CliError> {
    if let Some(address) = flag {
        return Ok(address);
    }
    let port = match port {
        Some(port) if !port.is_empty() => port.parse::<u16>().map_err(|_| {
            CliError::usage(format!("PORT={port:?} is not a port number"))
                .hint("set PORT to a number such as 3001, or use --listen")
        })?,
        _ => 3001,
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let address = listen_address(args.listen, args.port.as_deref())?;
    let token = super::prelude::token(
        args.token.as_deref(),
        args.token_typed,
        args.token_file.as_deref(),
        "CART_API_TOKEN",
    )?;
    let operator_token = super::prelude::token(
        args.operator_token.as_deref().map(str::trim),
        args.operator_token_typed,
        args.operator_token_file.as_deref(),
        "CART_OPERATOR_TOKEN",
    )?;
    let same = |a: &Option<String>, b: &Option<String>| {
        a.as_deref().map(str::trim) == b.as_deref().map(str::trim)
    };
    if operator_token.is_some() && same(&operator_token, &token) {
        return Err(CliError::usage(
            "the operator token is the front end's token: the shop's own requests need a token of their own",
        )
        .hint("give --operator-token-file a different token"));
    }
    if !address.ip().is_loopback() && token.is_none() && !args.allow_no_token {
        return Err(CliError::usage(format!(
            "{address} can be reached from other machines, and no token protects the carts"
        ))
        .hint("set --token or CART_API_TOKEN, or pass --allow-no-token if that is really fine"));
    }
    let origins = crate::api::Origins::from_flags(&args.allow_origins)
        .map_err(|e| CliError::usage(e).hint("write it like https://shop.example.com"))?;
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        CliError::chain(format!("cannot listen on {address}"), &e)
            .hint("is another program using that port? pick another with --listen or PORT")
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::chain("cannot read the listening address", &e))?;
    let carts = ctx.carts().await?;
    let metrics = match args.metrics {
        Some(address) => {
            let listener = bind_metrics(address).await?;
            let metrics = std::sync::Arc::new(crate::metrics::HttpMetrics::new());
            let endpoint = crate::metrics::Endpoint::http(&metrics, readiness(carts.clone()));
            crate::metrics::serve(listener, endpoint);
            Some(metrics)
        }
        None => None,
    };
    let api = crate::api::Api {
        metrics,
        carts: std::sync::Arc::new(carts),
        new_carts: ctx.cart_settings(&args.defaults)?,
        token,
        operator_token,
        origins,
        hosts: crate::api::Hosts::new(local, args.allow_hosts.clone()),
    };
    tracing::info!(
        "serving on http://{local} (tutorial API at /, /api/v1, OpenAPI at /api/v1/openapi.json)"
    );
    axum::serve(listener, crate::api::router(api))
        .with_graceful_shutdown(async {
            super::prelude::stop_signal().await;
            tracing::info!("stopping: finishing the requests in flight");
        })
        .await
        .map_err(|e| CliError::chain("the server stopped", &e))?;
    tracing::info!("stopped");
    Ok(())
}
