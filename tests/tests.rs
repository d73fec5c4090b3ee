//! Integration tests: one binary with modules, so it links once.

mod api;
mod cli;
mod codec;
mod layout;
mod mail;
mod metrics;
mod stripe;
mod support;
mod workflow;
