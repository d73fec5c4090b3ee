//! The one place errors become what a person reads, and exit codes.

use super::ColorChoice;
use crate::client::ClientError;
use console::Style;
use std::fmt;
use std::io::IsTerminal;

/// Exit codes, documented in `cart --help` and docs/guide.md, "Exit codes". Scripts can tell
/// "the cart said no" (do not retry the same request) from "Temporal or the worker could not be
/// reached" (retry later).
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const REFUSED: u8 = 3;
    pub const UNAVAILABLE: u8 = 4;
    /// Accepted, but the outcome is not known yet (a payment the provider has not settled).
    pub const PENDING: u8 = 5;
    /// Interrupted by Ctrl-C, as shells report a command SIGINT ended.
    pub const INTERRUPTED: u8 = 130;
}

/// An error for a person: what went wrong, the chain of causes, maybe a hint, an exit code.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
    code: u8,
}

impl CliError {
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            hint: None,
            code: exit::FAILURE,
        }
    }

    /// A usage error: exit code 2, like clap's own.
    pub fn usage(message: impl fmt::Display) -> Self {
        Self::new(message).code(exit::USAGE)
    }

    /// The cart or the provider refused: nothing happened to the money.
    pub fn refused(message: impl fmt::Display) -> Self {
        Self::new(message).code(exit::REFUSED)
    }

    /// Accepted, outcome not known yet: do not repeat the request, look again later.
    pub fn pending(message: impl fmt::Display) -> Self {
        Self::new(message).code(exit::PENDING)
    }

    /// Temporal or the worker could not be reached in time: worth trying again later.
    pub fn unavailable(message: impl fmt::Display) -> Self {
        Self::new(message).code(exit::UNAVAILABLE)
    }

    /// Interrupted by Ctrl-C: exit code 130.
    pub fn interrupted(message: impl fmt::Display) -> Self {
        Self::new(message).code(exit::INTERRUPTED)
    }

    fn code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// Builds the message from an error and its sources: "context: a: b: c".
    pub fn chain(context: impl fmt::Display, err: &(dyn std::error::Error + 'static)) -> Self {
        Self::new(format!("{context}: {}", crate::report::line(err)))
    }

    /// A hint for when the cart refused and nothing more specific was said.
    pub fn refused_hint(self, hint: impl fmt::Display) -> Self {
        if self.code == exit::REFUSED && self.hint.is_none() {
            self.hint(hint)
        } else {
            self
        }
    }

    /// A hint for when Temporal or the worker could not be reached, or did not answer in time.
    pub fn unavailable_hint(self, hint: impl fmt::Display) -> Self {
        if self.code == exit::UNAVAILABLE {
            self.hint(hint)
        } else {
            self
        }
    }

    pub fn hint(mut self, hint: impl fmt::Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Writes the error to stderr as `error: …` and `hint: …` lines.
    pub fn print(&self, color: ColorChoice) {
        let color = color.enabled(std::io::stderr().is_terminal());
        let red = Style::new().red().bold().force_styling(color);
        let cyan = Style::new().cyan().force_styling(color);
        eprintln!("{} {}", red.apply_to("error:"), self.message);
        if let Some(hint) = &self.hint {
            eprintln!("{} {hint}", cyan.apply_to("hint:"));
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        let hint = match &e {
            ClientError::NotFound(_) => {
                Some("create it with `cart new` or `cart add`; `cart list` shows open carts")
            }
            ClientError::NoWorker(_) => Some("start one in another terminal: cart worker"),
            ClientError::Timeout { .. } => Some(
                "is the worker overloaded or stuck? its log is on its stderr; --wait sets how long to wait",
            ),
            ClientError::Busy { .. } => Some("try again; --wait sets how long to wait"),
            ClientError::AlreadyExists(_) => {
                Some("pick another --id, or leave it out to get a fresh one")
            }
            ClientError::Keys(_) => Some(
                "`cart worker` logs the keys it encrypts with; see docs/design.md, \"Encrypted payloads\"",
            ),
            _ => None,
        };
        let code = match &e {
            ClientError::NotFound(_)
            | ClientError::AlreadyExists(_)
            | ClientError::Rejected(_)
            | ClientError::Closed(_) => exit::REFUSED,
            ClientError::NoWorker(_) | ClientError::Timeout { .. } | ClientError::Busy { .. } => {
                exit::UNAVAILABLE
            }
            ClientError::Temporal(_) | ClientError::Keys(_) => exit::FAILURE,
        };
        let err = CliError::new(crate::report::line(&e)).code(code);
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}
