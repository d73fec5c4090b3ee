//! `cart serve`: the HTTP API.

use crate::cli::{CartDefaults, CliError, Context};
use std::net::SocketAddr;

/// Serve the carts over HTTP: the tutorial's API (its web front end works unchanged) and
/// /api/v1 with an OpenAPI document at /api/v1/openapi.json.
///
/// Needs a Temporal server and a `cart worker`, like every other command. Stops on Ctrl-C or
/// SIGTERM after finishing the requests in flight.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:3001, or 127.0.0.1:$PORT as in the tutorial]
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on every request
    #[arg(long, env = "CART_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Listen on an address other machines can reach without a token (anyone there may then
    /// start, change and pay for carts)
    #[arg(long)]
    pub allow_no_token: bool,
    /// An origin browsers may call from (repeat for several) [default: any, as in the tutorial]
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    #[command(flatten)]
    pub defaults: CartDefaults,
}

/// The address to listen on: `--listen`, else the tutorial's `PORT` on the loopback address.
fn listen_address(flag: Option<SocketAddr>) -> Result<SocketAddr, CliError> {
    if let Some(address) = flag {
        return Ok(address);
    }
    let port = match std::env::var("PORT") {
        Ok(port) if !port.is_empty() => port.parse::<u16>().map_err(|_| {
            CliError::usage(format!("PORT={port:?} is not a port number"))
                .hint("set PORT to a number such as 3001, or use --listen")
        })?,
        _ => 3001,
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

pub async fn run(ctx: &Context, args: Args) -> Result<(), CliError> {
    let address = listen_address(args.listen)?;
    let token = args.token.filter(|t| !t.is_empty());
    if !address.ip().is_loopback() && token.is_none() && !args.allow_no_token {
        return Err(CliError::usage(format!(
            "{address} can be reached from other machines, and no token protects the carts"
        ))
        .hint("set --token or CART_API_TOKEN, or pass --allow-no-token if that is really fine"));
    }
    let allowed_origins = args
        .allow_origins
        .iter()
        .map(|o| {
            o.parse().map_err(|_| {
                CliError::usage(format!("--allow-origin {o:?} is not a valid origin"))
                    .hint("write it like https://shop.example.com")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let api = crate::api::Api {
        carts: ctx.carts().await?,
        new_carts: ctx.cart_settings(&args.defaults)?,
        token,
        allowed_origins,
    };
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        CliError::chain(format!("cannot listen on {address}"), &e)
            .hint("is another program using that port? pick another with --listen or PORT")
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::chain("cannot read the listening address", &e))?;
    tracing::info!(
        "serving on http://{local} (tutorial API at /, /api/v1, OpenAPI at /api/v1/openapi.json)"
    );
    axum::serve(listener, crate::api::router(api))
        .with_graceful_shutdown(async {
            super::worker::stop_signal().await;
            tracing::info!("stopping: finishing the requests in flight");
        })
        .await
        .map_err(|e| CliError::chain("the server stopped", &e))?;
    tracing::info!("stopped");
    Ok(())
}
