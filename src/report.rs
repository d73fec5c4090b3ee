//! An error and its causes as one line for a person: `a: b: c`.
//!
//! Errors here follow the usual Rust rule: an error's message says what went wrong at its
//! level and leaves its cause to `source()`. This is the one place the chain is read back.

use std::error::Error;

/// The error's message followed by each cause's. A cause whose text is already in the line is
/// left out: some libraries repeat their source in their own message.
pub fn line(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::line;
    use std::fmt;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = Layer("connection refused", None);
        let transport = Layer("transport error", Some(Box::new(io)));
        let top = Layer("cannot reach Temporal", Some(Box::new(transport)));
        assert_eq!(
            line(&top),
            "cannot reach Temporal: transport error: connection refused"
        );
        let repeats = Layer(
            "error trying to connect: connection refused",
            Some(Box::new(Layer("connection refused", None))),
        );
        assert_eq!(
            line(&repeats),
            "error trying to connect: connection refused"
        );
    }
}
