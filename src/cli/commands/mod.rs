//! One module per subcommand.

pub mod add;
pub mod checkout;
pub mod completions;
pub mod demo;
pub mod email;
pub mod list;
pub mod man;
pub mod new;
pub mod products;
pub mod remove;
pub mod serve;
pub mod shell;
pub mod show;
pub mod worker;

use super::CliError;

/// Turns an output failure (other than a closed pipe, handled in `output`) into an error.
pub(crate) fn printed(result: std::io::Result<()>) -> Result<(), CliError> {
    result.map_err(|e| CliError::chain("cannot write the output", &e))
}
