//! Everything a person sees: arguments, commands, output and errors.
//!
//! One file per subcommand under `commands/`, each with a doc-commented `Args` struct (the doc
//! comment is the `--help` text) and one `run` function; [`run`] is the single dispatch.

pub mod commands;
mod context;
mod error;
pub(crate) mod output;
mod providers;

pub use context::{CartDefaults, Context};
pub use error::CliError;
pub use output::{ColorChoice, OutputFormat, Printer};

use crate::domain::CartId;
use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// A shopping cart for the command line whose carts are durable Temporal workflows.
///
/// Start a worker with `cart worker`, then shop: `cart add CART-1 --product 0 --qty 2`,
/// `cart email CART-1 you@example.com`, `cart checkout CART-1`. On a terminal, plain `cart`
/// opens an interactive prompt; `cart demo` shows a whole session.
#[derive(Debug, Parser)]
#[command(
    name = "cart",
    version,
    propagate_version = true,
    // A later option wins over an earlier one, as in most tools; the prompt relies on it to
    // let an option typed on a line override the ones the prompt was opened with.
    args_override_self = true,
    after_help = "Exit codes: 0 success, 1 failure, 2 usage error, 3 the cart refused (a rule, a declined card, no such cart; a checkout that exits 3 charged nothing), 4 Temporal or a worker unreachable or too slow (try again later), 5 accepted but the outcome is not known yet (a payment still settling: look again later, do not repeat), 130 interrupted with Ctrl-C.\n\nDocumentation: docs/guide.md (using cart) and docs/operations.md (running it), in cart's source beside README.md."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Without a command, `cart` opens the prompt on a terminal.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The secrets typed on the command line, by flag, where everyone on the machine can read
    /// them (see [`Cli::from_matches`]); warned about once logging is set up.
    #[arg(skip)]
    typed_secrets: Vec<String>,
}

/// Options every command takes. Temporal connection settings follow Temporal's own
/// environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, the TLS
/// variables and temporal.toml profiles); these flags override them.
#[derive(Debug, Clone, PartialEq, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Temporal frontend address [default: localhost:7233]
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub address: Option<String>,
    /// Temporal namespace [default: default]
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    /// Profile in temporal.toml to connect with
    #[arg(long, global = true, env = "TEMPORAL_PROFILE")]
    pub profile: Option<String>,
    /// Task queue the cart workers listen on
    #[arg(long, global = true, env = "CART_TASK_QUEUE", default_value = crate::workflow::DEFAULT_TASK_QUEUE)]
    pub task_queue: String,
    /// Output format
    #[arg(long, global = true, env = "CART_OUTPUT", value_enum, default_value_t)]
    pub output: OutputFormat,
    /// When to use colour: auto means only on a terminal and never when NO_COLOR is set
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorChoice,
    /// How logs are written to stderr: text for people, json (one object per line) for a log
    /// pipeline
    #[arg(
        long,
        global = true,
        env = "CART_LOG_FORMAT",
        value_enum,
        default_value_t,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
    /// How long to wait for a worker to answer
    #[arg(long, global = true, env = "CART_WAIT", default_value = "30s", value_parser = wait_duration)]
    pub wait: Duration,
    /// Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a
    /// local server on the default port]
    #[arg(long, global = true, env = "CART_UI_URL", value_name = "URL")]
    pub ui_url: Option<String>,
    /// File of encryption keys, readable by its owner only (`cart codec-key --file` makes
    /// one). Without keys, carts' data reaches Temporal unencrypted
    // Any text, so that an empty variable means no file rather than a usage error.
    #[arg(
        long,
        global = true,
        env = "CART_CODEC_KEY_FILE",
        value_name = "FILE",
        value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), std::path::PathBuf::from)
    )]
    pub codec_key_file: Option<std::path::PathBuf>,
    /// Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when
    /// no key file is given. Anyone who can list processes sees keys given here: prefer the
    /// variable or --codec-key-file
    #[arg(
        long,
        global = true,
        env = "CART_CODEC_KEY",
        value_name = "KEYS",
        hide_env_values = true
    )]
    pub codec_key: Option<String>,
}

impl Cli {
    /// Parses `cart WORDS` as if `global` had been given in front of them (an option among
    /// the words wins): how the prompt and the demo run a command line exactly as typed.
    pub fn parse_line(
        global: &GlobalArgs,
        words: impl IntoIterator<Item = String>,
    ) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("cart".to_owned())
            .chain(global.to_args())
            .chain(words);
        let matches = <Cli as clap::CommandFactory>::command().try_get_matches_from(argv)?;
        Cli::from_matches(&matches)
    }
}

impl Cli {
    /// The command line clap has read, with what only the value sources tell: which secrets
    /// were typed on the command line rather than given by their variables (clap reads both
    /// into one flag), and a key file or keys typed blank, which is a usage error (an empty
    /// variable means none, as in a unit file that leaves it unset).
    fn from_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        use clap::parser::ValueSource;
        let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(matches)?;
        let typed = |m: &clap::ArgMatches, id: &str| {
            m.try_get_raw(id).is_ok_and(|v| v.is_some())
                && m.value_source(id) == Some(ValueSource::CommandLine)
        };
        // The secrets are the flags that hide their values in `--help`: the global ones, and
        // those of the command given.
        let command = <Cli as clap::CommandFactory>::command();
        let mut scopes = vec![(&command, matches)];
        if let Some((name, sub)) = matches.subcommand()
            && let Some(declared) = command.find_subcommand(name)
        {
            scopes.push((declared, sub));
        }
        cli.typed_secrets = scopes
            .into_iter()
            .flat_map(|(declared, m)| {
                declared
                    .get_arguments()
                    .filter(|arg| arg.is_hide_env_values_set())
                    .map(|arg| arg.get_id().as_str())
                    .filter(move |id| typed(m, id))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let token_typed = cli.typed_secrets.iter().any(|id| id == "token");
        let operator_typed = cli.typed_secrets.iter().any(|id| id == "operator_token");
        match &mut cli.command {
            Some(Command::Serve(args)) => {
                args.token_typed = token_typed;
                args.operator_token_typed = operator_typed;
            }
            Some(Command::CodecServer(args)) => args.token_typed = token_typed,
            _ => {}
        }
        let blank = |text: Option<&str>| text.is_some_and(|t| t.trim().is_empty());
        let key_file = cli.global.codec_key_file.as_ref();
        for (id, value) in [
            (
                "codec_key_file",
                key_file.map(|p| p.to_string_lossy().into_owned()),
            ),
            ("codec_key", cli.global.codec_key.clone()),
        ] {
            if blank(value.as_deref()) && matches.value_source(id) == Some(ValueSource::CommandLine)
            {
                let what = match id {
                    "codec_key_file" => "--codec-key-file is empty: give the file of keys",
                    _ => "--codec-key is empty: give the keys",
                };
                return Err(<Cli as clap::CommandFactory>::command().error(
                    clap::error::ErrorKind::InvalidValue,
                    format!("{what}, or leave the flag out to send payloads unencrypted"),
                ));
            }
        }
        Ok(cli)
    }

    /// Warns about each secret typed on the command line.
    fn warn_typed_secrets(&self) {
        for id in &self.typed_secrets {
            // A token warns where it is read (`prelude::token`).
            if id != "token" {
                let flag = id.replace('_', "-");
                tracing::warn!(
                    "--{flag} was given on the command line, where anyone who can list processes sees it; prefer its environment variable"
                );
            }
        }
    }
}

impl GlobalArgs {
    /// These options as command-line words, `--name=value` each.
    fn to_args(&self) -> Vec<String> {
        let optional = [
            ("address", self.address.clone()),
            ("namespace", self.namespace.clone()),
            ("profile", self.profile.clone()),
            ("ui-url", self.ui_url.clone()),
            (
                "codec-key-file",
                self.codec_key_file
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            ("codec-key", self.codec_key.clone()),
        ];
        fn value(v: &impl clap::ValueEnum) -> String {
            v.to_possible_value()
                .map(|p| p.get_name().to_owned())
                .unwrap_or_default()
        }
        let always = [
            ("task-queue", self.task_queue.clone()),
            ("output", value(&self.output)),
            ("color", value(&self.color)),
            ("log-format", value(&self.log_format)),
            ("wait", humantime::format_duration(self.wait).to_string()),
        ];
        // Blank keys (an empty variable) mean none, and are left out: typed blank, they are a
        // usage error (see `Cli::from_matches`).
        let keys = ["codec-key-file", "codec-key"];
        optional
            .into_iter()
            .filter_map(|(name, v)| Some((name, v?)))
            .filter(|(name, v)| !(keys.contains(name) && v.trim().is_empty()))
            .chain(always)
            .map(|(name, v)| format!("--{name}={v}"))
            .collect()
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Worker(commands::worker::Args),
    New(commands::new::Args),
    Add(commands::add::Args),
    Remove(commands::remove::Args),
    Email(commands::email::Args),
    Checkout(commands::checkout::Args),
    Show(commands::show::Args),
    Refund(commands::refund::Args),
    Cancel(commands::cancel::Args),
    Ship(commands::ship::Args),
    Products(commands::products::Args),
    List(commands::list::Args),
    Shell(commands::shell::Args),
    Demo(commands::demo::Args),
    Serve(commands::serve::Args),
    CodecServer(commands::codec_server::Args),
    CodecKey(commands::codec_key::Args),
    Completions(commands::completions::Args),
    Man(commands::man::Args),
}

impl Command {
    /// The cart a command acts on, if it names one.
    pub fn cart(&self) -> Option<&CartId> {
        match self {
            Command::New(args) => args.id.as_ref(),
            Command::Add(args) => Some(&args.cart.id),
            Command::Remove(args) => Some(&args.cart.id),
            Command::Email(args) => Some(&args.cart.id),
            Command::Checkout(args) => Some(&args.cart.id),
            Command::Show(args) => Some(&args.cart.id),
            Command::Refund(args) => Some(&args.cart.id),
            Command::Cancel(args) => Some(&args.cart.id),
            Command::Ship(args) => Some(&args.cart.id),
            _ => None,
        }
    }
}

/// Whether the subcommand `name` takes a cart as its first argument ([`commands::prelude::CartArg`]):
/// where the prompt puts its current cart. Read from the parser, so a new command that takes
/// a cart needs nothing more.
pub fn takes_cart(name: &str) -> bool {
    Cli::command().find_subcommand(name).is_some_and(|command| {
        command
            .get_positionals()
            .next()
            .is_some_and(|arg| arg.get_id() == commands::prelude::CART_ARG)
    })
}

/// The longest `--wait`: a person waits minutes, not days.
pub const MAX_WAIT: Duration = Duration::from_secs(60 * 60);
/// The longest idle period a cart can be given (`--remind-after`, `--expire-after`).
pub const MAX_CART_PERIOD: Duration = crate::workflow::MAX_PERIOD;

/// Parses a human duration such as `10s`, `90m`, `1h` or `30d`, longer than zero and at most
/// `max`: nothing a person types can overflow a timer.
fn duration_up_to(text: &str, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{e}; write it like 10s, 5m, 1h or 30d"))?;
    if d.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    if d > max {
        return Err(format!("must be at most {}", output::duration(max)));
    }
    Ok(d)
}

/// `--wait`: how long to wait for the worker, at most an hour.
pub fn wait_duration(text: &str) -> Result<Duration, String> {
    duration_up_to(text, MAX_WAIT)
}

/// A cart's reminder delay or expiry, at most a year.
pub fn cart_period(text: &str) -> Result<Duration, String> {
    duration_up_to(text, MAX_CART_PERIOD)
}

/// `--refund-window`: at most [`crate::workflow::MAX_REFUND_WINDOW`].
pub fn refund_window(text: &str) -> Result<Duration, String> {
    duration_up_to(text, crate::workflow::MAX_REFUND_WINDOW)
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Context::new(cli.global);
    let Some(command) = cli.command else {
        return Err(CliError::usage("no command given").hint(
            "`cart --help` lists the commands; on a terminal, plain `cart` opens the prompt",
        ));
    };
    match command {
        Command::Shell(_) => Err(CliError::usage("the prompt is open already")),
        Command::Worker(args) => commands::worker::run(&ctx, args).await,
        Command::New(args) => commands::new::run(&ctx, args).await,
        Command::Add(args) => commands::add::run(&ctx, args).await,
        Command::Remove(args) => commands::remove::run(&ctx, args).await,
        Command::Email(args) => commands::email::run(&ctx, args).await,
        Command::Checkout(args) => commands::checkout::run(&ctx, args).await,
        Command::Show(args) => commands::show::run(&ctx, args).await,
        Command::Refund(args) => commands::refund::run(&ctx, args).await,
        Command::Cancel(args) => commands::cancel::run(&ctx, args).await,
        Command::Ship(args) => commands::ship::run(&ctx, args).await,
        Command::Products(args) => commands::products::run(&ctx, args).await,
        Command::List(args) => commands::list::run(&ctx, args).await,
        Command::Demo(args) => commands::demo::run(&ctx, args).await,
        Command::Serve(args) => commands::serve::run(&ctx, args).await,
        Command::CodecServer(args) => commands::codec_server::run(&ctx, args).await,
        Command::CodecKey(args) => commands::codec_key::run(&ctx, args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man(args) => commands::man::run(args),
    }
}

/// The whole program: parse, run, print any error, pick the exit code.
pub fn main() -> ExitCode {
    commands::completions::complete_if_asked();
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = Cli::from_matches(&matches).unwrap_or_else(|e| e.exit());
    // The long-running commands log what they do; the others only warnings.
    let is_worker = matches!(
        cli.command,
        Some(Command::Worker(_) | Command::Serve(_) | Command::CodecServer(_))
    );
    let color = cli.global.color;
    init_logging(
        if is_worker { "info" } else { "warn" },
        color,
        cli.global.log_format,
    );
    cli.warn_typed_secrets();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            CliError::chain("cannot start the async runtime", &e).print(color);
            return ExitCode::FAILURE;
        }
    };
    let prompt = match cli.command {
        Some(Command::Shell(_)) => true,
        None => commands::shell::has_terminal(),
        Some(_) => false,
    };
    let result = if prompt {
        commands::shell::run(&runtime, cli.global)
    } else {
        runtime.block_on(run(cli))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.print(color);
            ExitCode::from(e.exit_code())
        }
    }
}

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line: time, level, target, message and fields.
    Json,
}

/// Logs go to stderr; `CART_LOG` takes a tracing filter such as `debug` or `cart=debug`.
fn init_logging(default: &str, color: ColorChoice, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => logs
            .with_ansi(color.enabled(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_typed_secret_is_noted_wherever_it_stands_and_a_blank_typed_key_refused() {
        let parse = |args: &[&str]| {
            let matches = Cli::command().try_get_matches_from(args)?;
            Cli::from_matches(&matches)
        };
        let cli = parse(&["cart", "show", "CART-1", "--codec-key", "k1:x"]).unwrap();
        assert_eq!(cli.typed_secrets, ["codec_key"]);
        let cli = parse(&["cart", "serve", "--token", "t"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(ref a)) if a.token_typed));
        let cli = parse(&["cart", "worker", "--smtp-url", "smtp://u:p@h"]).unwrap();
        assert_eq!(cli.typed_secrets, ["smtp_url"]);
        assert!(parse(&["cart", "--codec-key-file", " ", "show", "CART-1"]).is_err());
        assert!(parse(&["cart", "show", "CART-1", "--codec-key="]).is_err());
    }

    #[test]
    fn durations_are_human_positive_and_bounded() {
        assert_eq!(cart_period("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(cart_period("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(cart_period("0s").unwrap_err().contains("longer than zero"));
        assert!(
            cart_period("soon")
                .unwrap_err()
                .contains("10s, 5m, 1h or 30d")
        );
        assert_eq!(cart_period("366d").unwrap_err(), "must be at most 1 year");
        assert!(cart_period("365d").is_ok());
        assert_eq!(wait_duration("2h").unwrap_err(), "must be at most 1h");
        assert!(wait_duration("300000000000y").is_err());
    }

    #[test]
    fn an_absurd_duration_is_a_usage_error_not_a_panic() {
        let err =
            Cli::try_parse_from(["cart", "--wait", "300000000000y", "show", "CART-1"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = Cli::try_parse_from(["cart", "new", "--expire-after", "99999y"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["cart", "show", "CART-1", "--output", "json"]).unwrap();
        assert_eq!(cli.global.output, OutputFormat::Json);
    }
}
