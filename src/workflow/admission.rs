//! Which changes a cart still takes when a worker finally reads them.
//!
//! A client sends a change straight away, without first asking whether a worker is there: one
//! round trip instead of two. The price of that is that a change sent while no worker runs
//! waits in the Temporal server, and would be applied whenever a worker next starts, long
//! after the person was told it failed. So every change our clients send carries, in its
//! Temporal header, the moment after which it must no longer be applied (`cart-not-after`);
//! the client reports "no worker" only once that moment has passed. It also carries the key
//! fingerprints its sender can decrypt with (`cart-reads`), so that a worker whose answers the
//! sender could not read refuses the change instead of making it.
//!
//! Both checks run in a workflow interceptor before the cart's own validators, against the
//! workflow's clock (the Temporal server's). A refused change leaves no trace in the cart's
//! history. Changes without these headers (the HTTP API's tutorial routes use signals, other
//! Temporal clients send none) are taken as before.

use jiff::Timestamp;
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::{Header, Payload};
use temporalio_sdk::workflow_interceptors::{
    SyncWorkflowInterceptorContext, ValidateUpdateInput, ValidateUpdateResult, WorkflowInterceptor,
    WorkflowInterceptorConstructor, WorkflowNext,
};

/// The header naming the last moment a change may be applied (RFC 3339).
pub const NOT_AFTER: &str = "cart-not-after";
/// The header listing the fingerprints of the keys the sender decrypts with.
pub const READS: &str = "cart-reads";

/// What a client says about the change it sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// The change must not be applied after this moment.
    pub not_after: Option<Timestamp>,
    /// The fingerprints of the keys the sender decrypts with; `Some(empty)` for a sender
    /// without keys.
    pub reads: Option<Vec<String>>,
}

/// Why a change was refused before the cart looked at it. The texts are the contract with
/// clients recognise them in a rejection (`Refusal::is_late`, `Refusal::is_unreadable`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{LATE}: it was to be applied by {not_after}, and a worker took it at {now}")]
    Late {
        not_after: Timestamp,
        now: Timestamp,
    },
    #[error(
        "{UNREADABLE}: they encrypt with key {key}, which the sender does not have; nothing was changed"
    )]
    Unreadable { key: String },
}

const LATE: &str = "the change reached the cart too late";
const UNREADABLE: &str = "the sender could not read the workers' answer";

impl Refusal {
    /// Whether a rejection's message is a [`Refusal::Late`].
    pub fn is_late(message: &str) -> bool {
        message.contains(LATE)
    }

    /// Whether a rejection's message is a [`Refusal::Unreadable`].
    pub fn is_unreadable(message: &str) -> bool {
        message.contains(UNREADABLE)
    }
}

impl Admission {
    /// The Temporal header that carries this admission (plain JSON: a time and key
    /// fingerprints, nothing about the customer).
    pub fn header(&self) -> Header {
        let mut fields = HashMap::new();
        if let Some(at) = self.not_after {
            fields.insert(NOT_AFTER.to_owned(), json(&at.to_string()));
        }
        if let Some(reads) = &self.reads {
            fields.insert(READS.to_owned(), json(reads));
        }
        Header { fields }
    }

    /// The admission a change's headers carry; fields that are missing or unreadable are
    /// `None` (such a change is taken as if they had not been sent).
    pub fn from_headers(headers: &HashMap<String, Payload>) -> Self {
        let field = |name: &str| headers.get(name).map(|p| p.data.as_slice());
        Self {
            not_after: field(NOT_AFTER)
                .and_then(|data| serde_json::from_slice::<String>(data).ok())
                .and_then(|text| text.parse().ok()),
            reads: field(READS).and_then(|data| serde_json::from_slice(data).ok()),
        }
    }

    /// Whether a worker that encrypts with `encrypts_with` (a key fingerprint) may apply
    /// this change at `now`.
    pub fn check(&self, now: Timestamp, encrypts_with: Option<&str>) -> Result<(), Refusal> {
        if let Some(not_after) = self.not_after
            && now > not_after
        {
            return Err(Refusal::Late { not_after, now });
        }
        if let (Some(reads), Some(key)) = (&self.reads, encrypts_with)
            && !reads.iter().any(|k| k == key)
        {
            return Err(Refusal::Unreadable {
                key: key.to_owned(),
            });
        }
        Ok(())
    }
}

fn json(value: &impl serde::Serialize) -> Payload {
    Payload {
        metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
        data: serde_json::to_vec(value).expect("strings serialize"),
        external_payloads: Vec::new(),
    }
}

/// Refuses late and unreadable changes before any validator runs.
struct Admit {
    encrypts_with: Option<String>,
}

impl WorkflowInterceptor for Admit {
    fn validate_update(
        &self,
        ctx: SyncWorkflowInterceptorContext,
        input: ValidateUpdateInput,
        next: WorkflowNext<'_, ValidateUpdateInput, ValidateUpdateResult>,
    ) -> ValidateUpdateResult {
        let now = super::clock(ctx.workflow_time());
        Admission::from_headers(input.headers())
            .check(now, self.encrypts_with.as_deref())
            .map_err(|refusal| -> super::BoxError { Box::new(refusal) })?;
        next.run(input)
    }
}

/// The interceptor a worker registers; `encrypts_with` is the fingerprint of the key its
/// answers are encrypted with, if any.
pub fn admission_interceptor(encrypts_with: Option<String>) -> WorkflowInterceptorConstructor {
    WorkflowInterceptorConstructor::new(move |_| Admit {
        encrypts_with: encrypts_with.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_header_reads_back_as_it_was_written() {
        let admission = Admission {
            not_after: Some(at("2026-11-27T10:00:00Z")),
            reads: Some(vec!["ab12".into(), "cd34".into()]),
        };
        assert_eq!(
            Admission::from_headers(&admission.header().fields),
            admission
        );
        assert_eq!(
            Admission::from_headers(&HashMap::new()),
            Admission::default()
        );
    }

    #[test]
    fn a_late_change_is_refused() {
        let admission = Admission {
            not_after: Some(at("2026-11-27T10:00:00Z")),
            reads: None,
        };
        assert_eq!(admission.check(at("2026-11-27T10:00:00Z"), None), Ok(()));
        let refusal = admission
            .check(at("2026-11-27T10:00:01Z"), None)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::Late { .. }));
        assert!(Refusal::is_late(&refusal.to_string()));
        // Without a deadline, any time will do.
        assert_eq!(
            Admission::default().check(at("2099-01-01T00:00:00Z"), None),
            Ok(())
        );
    }

    #[test]
    fn a_sender_that_cannot_read_the_answer_is_refused() {
        let reads = |keys: &[&str]| Admission {
            not_after: None,
            reads: Some(keys.iter().map(|k| k.to_string()).collect()),
        };
        let now = at("2026-11-27T10:00:00Z");
        assert_eq!(reads(&["old", "new"]).check(now, Some("new")), Ok(()));
        let refusal = reads(&["old"]).check(now, Some("new")).unwrap_err();
        assert!(Refusal::is_unreadable(&refusal.to_string()));
        assert!(!Refusal::is_late(&refusal.to_string()));
        assert!(reads(&[]).check(now, Some("new")).is_err());
        // A worker that encrypts nothing is read by everyone.
        assert_eq!(reads(&[]).check(now, None), Ok(()));
        // A sender that says nothing is not checked.
        assert_eq!(Admission::default().check(now, Some("new")), Ok(()));
        let other = "product 9 is not sold here";
        assert!(!Refusal::is_late(other) && !Refusal::is_unreadable(other));
    }
}
