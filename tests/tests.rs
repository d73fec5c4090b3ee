//! Integration tests: one binary with modules, so it links once.

mod support;
mod workflow;
