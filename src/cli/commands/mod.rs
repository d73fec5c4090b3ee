//! One module per subcommand.

pub mod add;
pub mod checkout;
pub mod codec_key;
pub mod codec_server;
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

/// `--product`: a product id, which is never negative nor larger than a `u32`.
pub(crate) fn product_id() -> clap::builder::RangedI64ValueParser<i64> {
    clap::value_parser!(i64).range(0..=i64::from(u32::MAX))
}

/// `--qty`: from 1 to the most one cart line holds.
pub(crate) fn quantity() -> clap::builder::RangedI64ValueParser<i64> {
    clap::value_parser!(i64).range(1..=i64::from(crate::domain::MAX_QUANTITY_PER_LINE))
}
