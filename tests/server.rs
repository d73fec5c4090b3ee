//! The server tier: tests against a real Temporal dev server, a real SMTP server, the Stripe
//! stand-in and the real `cart` binary. They need the tools `scripts/install-tools` installs,
//! and run with `cargo test --test server` (`scripts/test` runs both tiers). One binary with
//! modules, so it links once.

mod api;
mod cli;
mod codec;
mod fixtures;
mod mail;
mod metrics;
mod stripe;
mod support;
mod workflow;
