//! What a failed change says, read from the answer the server hands back.
//!
//! The SDK carries no type for a refusal by a validator or an interceptor: the workflow's
//! error becomes an application failure without a type name, so only its message comes back.
//! The admission's own refusals ([`Refusal`]) are therefore told apart by their wording, here
//! and nowhere else in the client, and the tests below hold the two sides together.

use super::ClientError;
use crate::workflow::admission::Refusal;

/// What a change's failure says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rejection {
    /// The change reached the cart after its deadline, and was not applied.
    Late,
    /// The workers would answer with a key this client does not have; nothing was changed.
    Unreadable,
    /// The cart rules, the payment or the handler refused it; the message says why.
    Refused,
}

impl Rejection {
    pub(super) fn of(message: &str) -> Self {
        if Refusal::is_late(message) {
            Self::Late
        } else if Refusal::is_unreadable(message) {
            Self::Unreadable
        } else {
            Self::Refused
        }
    }
}

/// An answer this client cannot decrypt: what the codec said of it, without the SDK's
/// wrapping around it.
pub(super) fn undecodable(text: &str) -> ClientError {
    let reason = text.rsplit("Encoding error: ").next().unwrap_or(text);
    ClientError::Keys(format!("cannot read the answer: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    #[test]
    fn the_admission_s_refusals_read_back_as_what_they_are() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        let late = Refusal::Late {
            not_after: at("2026-01-01T00:00:04Z"),
            now: at("2026-01-01T00:00:09Z"),
        };
        // As the server hands it back: the failure's message, perhaps with context around it.
        assert_eq!(Rejection::of(&late.to_string()), Rejection::Late);
        assert_eq!(
            Rejection::of(&format!("update rejected: {late}")),
            Rejection::Late
        );
        let unreadable = Refusal::Unreadable { key: "k2".into() };
        assert_eq!(
            Rejection::of(&unreadable.to_string()),
            Rejection::Unreadable
        );
    }

    #[test]
    fn any_other_failure_is_a_refusal_with_its_message() {
        for message in [
            "product 9 is not in the catalog; valid product ids are 0, 1, 2, 3",
            "card declined: your card was declined",
            "the change reached the cart",
            "",
        ] {
            assert_eq!(Rejection::of(message), Rejection::Refused, "{message}");
        }
    }

    #[test]
    fn an_undecodable_answer_says_what_the_codec_said() {
        let e = undecodable("Payload conversion failed: Encoding error: unknown key k9");
        assert_eq!(e.to_string(), "cannot read the answer: unknown key k9");
        let e = undecodable("no key given");
        assert_eq!(e.to_string(), "cannot read the answer: no key given");
    }
}
