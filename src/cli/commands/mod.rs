//! One module per subcommand, each an `Args` struct (its doc comment is the `--help` text) and
//! a `run` function; what several of them share is in [`prelude`]. Commands never call
//! each other.

pub mod add;
pub mod cancel;
pub mod checkout;
pub mod codec_key;
pub mod codec_server;
pub mod completions;
pub mod demo;
pub mod email;
pub mod list;
pub mod man;
pub mod new;
pub mod prelude;
pub mod products;
pub mod refund;
pub mod remove;
pub mod serve;
pub mod shell;
pub mod ship;
pub mod show;
pub mod worker;
