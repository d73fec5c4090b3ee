//! What the server tier's tests share, by what it provides:
//!
//! - [`server`]: the Temporal CLI `scripts/install-tools` installs, a private dev server per
//!   test ([`Setup`]) and what the server says of a cart;
//! - [`worker`]: in-process workers on unique task queues ([`Harness`]);
//! - [`requests`]: the updates a test sends, and start inputs;
//! - [`gateways`]: payment providers that lose answers or answer from a script;
//! - [`temporal_cli`]: the real `temporal` CLI against a test's server;
//! - [`proxies`]: a gRPC proxy that counts requests and loses answers; [`tls`]: a TLS front;
//! - [`data`]: what a worker's data directory holds (outbox, ledger);
//!
//! and, here, unique names, free ports, and waiting for a condition with a deadline.

pub mod data;
pub mod gateways;
pub mod proxies;
pub mod requests;
pub mod server;
pub mod temporal_cli;
pub mod tls;
pub mod worker;

pub use data::*;
pub use gateways::*;
pub use proxies::*;
pub use requests::*;
pub use server::*;
pub use temporal_cli::*;
pub use worker::*;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A unique name for this process and call, for task queues and cart ids.
/// A cart id no other test uses.
pub fn unique_cart() -> cart::domain::CartId {
    cart::domain::CartId::parse(&unique("CART")).expect("a valid cart id")
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `check` until it returns `Some`, or panics after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
