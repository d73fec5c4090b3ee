//! `cart`: a shopping cart for the command line whose carts are durable Temporal workflows.
//!
//! - [`domain`]: the cart rules as plain Rust.
//! - [`workflow`]: the `CartWorkflow` and its message types.
//! - [`activities`]: side effects (payments, e-mail) behind traits, with local providers.
//! - [`api`]: the HTTP API `cart serve` offers: the tutorial's routes and `/api/v1`.
//! - [`codec`]: encrypted payloads, and the remote codec server for the `temporal` CLI and UI.
//! - [`cli`]: everything a person sees: arguments, commands, output and errors.
//! - [`redact`]: what logs may say of a customer.

pub mod activities;
pub mod api;
pub mod cli;
pub mod client;
pub mod codec;
pub mod domain;
pub mod redact;
pub mod worker;
pub mod workflow;
