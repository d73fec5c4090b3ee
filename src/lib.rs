//! `cart`: a shopping cart for the command line whose carts are durable Temporal workflows.
//!
//! From the inside out (each uses only those above; ARCHITECTURE.md, "Architecture", draws it):
//!
//! - [`domain`]: the cart rules as plain Rust: cart ids, carts, money, the catalog.
//! - [`activities`]: side effects (payments, e-mail) behind traits, with local providers and
//!   the settings that choose real ones.
//! - [`workflow`]: the `CartWorkflow`, the `ShopWorkflow` and their message types.
//! - [`worker`]: hosting the workflows and activities on a task queue.
//! - [`client`]: typed access to carts through Temporal, one request per change.
//! - [`api`]: the HTTP API `cart serve` offers: the tutorial's routes and `/api/v1`.
//! - [`cli`]: everything a person sees: arguments, commands, output and errors.
//!
//! Beside them: [`codec`] encrypts payloads (and serves the remote codec for the `temporal`
//! CLI and UI); [`metrics`] serves what operators' tools read; [`redact`] decides what logs may
//! say of a customer; [`report`] reads an error's causes back into one line.

pub mod activities;
pub mod api;
pub mod cli;
pub mod client;
pub mod codec;
pub mod domain;
pub mod metrics;
pub mod redact;
pub mod report;
pub mod worker;
pub mod workflow;
