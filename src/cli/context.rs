//! What commands share: the global options turned into a connected client, and the defaults
//! for new carts.

use super::{CliError, GlobalArgs, OutputFormat, Printer};
use crate::client::CartClient;
use crate::codec::{EncryptionCodec, Keyring};
use crate::domain::CartId;
use crate::workflow::{CartInput, CartSettings, MAX_REMINDERS_PER_DAY};
use std::time::Duration;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};

pub struct Context {
    pub global: GlobalArgs,
}

/// Settings for carts this client creates (explicitly with `cart new` or implicitly with
/// `cart add`). They are sent with the start request, so changing these defaults never
/// affects carts already running.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Settings for a new cart")]
pub struct CartDefaults {
    /// Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long
    #[arg(long, env = "CART_REMIND_AFTER", default_value = "1h", value_parser = super::cart_period)]
    pub remind_after: Duration,
    /// Expire a cart that sits unchanged this long
    #[arg(long, env = "CART_EXPIRE_AFTER", default_value = "30d", value_parser = super::cart_period)]
    pub expire_after: Duration,
    /// Send a cart at most this many reminders in any 24 hours (0: none; at most 100)
    #[arg(
        long,
        env = "CART_REMINDERS_PER_DAY",
        default_value_t = 1,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_REMINDERS_PER_DAY))
    )]
    pub reminders_per_day: u32,
    /// Take refunds of a paid cart's order for this long after its checkout (at most 180d)
    #[arg(long, env = "CART_REFUND_WINDOW", default_value = "60d", value_parser = super::refund_window)]
    pub refund_window: Duration,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Self {
        Self { global }
    }

    pub fn output(&self) -> OutputFormat {
        self.global.output
    }

    /// Where commands hand what they print.
    pub fn printer(&self) -> Printer {
        Printer::new(self.global.output, self.global.color)
    }

    /// The settings of carts this client creates.
    pub fn cart_settings(&self, defaults: &CartDefaults) -> Result<CartSettings, CliError> {
        Ok(
            CartSettings::new(defaults.remind_after, defaults.expire_after)
                .with_reminders_per_day(defaults.reminders_per_day)
                .with_refund_window(defaults.refund_window),
        )
    }

    /// The start input for a new cart.
    pub fn cart_input(
        &self,
        defaults: &CartDefaults,
        email: Option<String>,
    ) -> Result<CartInput, CliError> {
        Ok(CartInput::new(self.cart_settings(defaults)?, email))
    }

    fn connection_options(&self) -> Result<(ConnectionOptions, ClientOptions), CliError> {
        let load = LoadClientConfigProfileOptions::builder()
            .maybe_config_file_profile(self.global.profile.clone())
            .build();
        let (mut conn, mut opts) = ClientOptions::load_from_config(load).map_err(|e| {
            CliError::chain("cannot load the Temporal connection settings", &e)
                .hint("check TEMPORAL_* variables and temporal.toml; --address overrides them")
        })?;
        if let Some(address) = &self.global.address {
            let url = if address.contains("://") {
                address.clone()
            } else {
                let scheme = if conn.tls_options.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{address}")
            };
            conn.target = url.parse().map_err(|e| {
                CliError::usage(format!("--address {address:?} is not an address: {e}"))
                    .hint("write it as host:port, e.g. localhost:7233")
            })?;
        }
        if let Some(namespace) = &self.global.namespace {
            opts.namespace = namespace.clone();
        }
        opts.data_converter = self.codec()?.data_converter();
        conn.connect_timeout = Some(Duration::from_secs(5));
        Ok((conn, opts))
    }

    /// The payload codec: encrypting with the keys of `--codec-key-file` (CART_CODEC_KEY_FILE)
    /// or CART_CODEC_KEY, or passing payloads through unencrypted without any.
    pub fn codec(&self) -> Result<EncryptionCodec, CliError> {
        // An empty variable means no file, and no keys.
        let file = (self.global.codec_key_file.as_deref())
            .filter(|path| !path.as_os_str().to_string_lossy().trim().is_empty());
        let written = (self.global.codec_key.as_deref()).filter(|keys| !keys.trim().is_empty());
        let keys = Keyring::load(file, written).map_err(|e| {
            CliError::chain("the encryption keys are not usable", &e)
                .hint("see docs/design.md, \"Encrypted payloads\"; `cart codec-key` makes a key")
        })?;
        Ok(EncryptionCodec::new(keys))
    }

    /// The cart's page in the Temporal Web UI, when a UI is known: `--ui-url`, or the local
    /// dev server's UI when talking to a local server on the default port.
    pub fn ui_link(&self, cart_id: &CartId) -> Option<String> {
        let (conn, opts) = self.connection_options().ok()?;
        let base = match &self.global.ui_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let local = matches!(conn.target.host_str(), Some("localhost" | "127.0.0.1"));
                if !(local && conn.target.port() == Some(7233)) {
                    return None;
                }
                "http://localhost:8233".to_owned()
            }
        };
        Some(format!(
            "{base}/namespaces/{}/workflows/{cart_id}",
            opts.namespace
        ))
    }

    /// A Temporal client, or an error that says where we tried and what to do.
    pub async fn temporal(&self) -> Result<Client, CliError> {
        let (conn, opts) = self.connection_options()?;
        let target = conn.target.clone();
        let address = match (target.host_str(), target.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => target.to_string(),
        };
        // The transport's own messages nest debug output; the innermost cause says it best
        // ("Connection refused (os error 111)").
        // A server that wants a client certificate and gets none closes the connection right
        // after the TLS handshake, which the transport reports only as a connection closed (or
        // a broken pipe, or a reset, depending on who notices first).
        let tls_without_client_cert = conn
            .tls_options
            .as_ref()
            .is_some_and(|tls| tls.client_tls_options.is_none());
        let unreachable = |e: &(dyn std::error::Error + 'static)| {
            let cause = root_cause(e).to_string();
            let lower = cause.to_ascii_lowercase();
            let closed = [
                "connection closed",
                "broken pipe",
                "connection reset",
                "error after connection",
            ]
            .iter()
            .any(|how| lower.contains(how));
            let hint = if closed && tls_without_client_cert {
                CLIENT_CERT_HINT
            } else {
                connection_hint(&cause)
            };
            CliError::unavailable(format!("cannot reach Temporal at {address}: {cause}")).hint(hint)
        };
        let connection = tokio::time::timeout(Duration::from_secs(10), Connection::connect(conn))
            .await
            .map_err(|e| unreachable(&e))?
            .map_err(|e| unreachable(&e))?;
        Client::new(connection, opts)
            .map_err(|e| CliError::chain("cannot create the Temporal client", &e))
    }

    pub async fn carts(&self) -> Result<CartClient, CliError> {
        self.carts_on(self.temporal().await?)
    }

    /// The carts through a Temporal client this process already has.
    pub fn carts_on(&self, client: Client) -> Result<CartClient, CliError> {
        Ok(
            CartClient::new(client, self.global.task_queue.clone(), self.global.wait)
                .with_keys(self.codec()?.fingerprints()),
        )
    }
}

const CLIENT_CERT_HINT: &str = "the server refused this client's certificate, or wants one (mutual TLS): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH to a certificate its CA signed (Temporal Cloud also takes TEMPORAL_API_KEY)";

/// What to do about a connection that failed, by what failed: TLS settings when the TLS
/// handshake did, else where the server is.
fn connection_hint(cause: &str) -> &'static str {
    let cause = cause.to_ascii_lowercase();
    if cause.contains("unknownissuer") || cause.contains("invalid peer certificate") {
        "the server's certificate is not signed by a CA this client trusts: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it (and TEMPORAL_TLS_SERVER_NAME when the address is not a name in the certificate)"
    } else if cause.contains("certificaterequired")
        || cause.contains("handshakefailure")
        || cause.contains("badcertificate")
    {
        CLIENT_CERT_HINT
    } else {
        "start a local server with `scripts/dev-server`, or point cart at yours with --address or TEMPORAL_ADDRESS"
    }
}

fn root_cause<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current
}

#[cfg(test)]
mod link_tests {
    use crate::cli::{Cli, Context};
    use crate::domain::CartId;
    use clap::Parser;

    fn link(args: &[&str]) -> Option<String> {
        let cli =
            Cli::try_parse_from(["cart"].iter().chain(args).chain(&["show", "CART-1"])).unwrap();
        Context::new(cli.global).ui_link(&CartId::of_workflow("CART-1"))
    }

    #[test]
    fn the_local_dev_server_has_a_known_ui() {
        assert_eq!(
            link(&["--address", "localhost:7233", "--namespace", "shop"]).as_deref(),
            Some("http://localhost:8233/namespaces/shop/workflows/CART-1")
        );
        assert_eq!(link(&["--address", "db.example.com:7233"]), None);
        assert_eq!(link(&["--address", "127.0.0.1:7300"]), None);
    }

    #[test]
    fn a_configured_ui_wins() {
        assert_eq!(
            link(&[
                "--address",
                "x.tmprl.cloud:7233",
                "--namespace",
                "shop.a1b2",
                "--ui-url",
                "https://cloud.temporal.io/"
            ])
            .as_deref(),
            Some("https://cloud.temporal.io/namespaces/shop.a1b2/workflows/CART-1")
        );
    }
}
