//! What workflow code does only when it first runs, not again each time a worker replays the
//! history: logging and counting.

use super::hosted::{Hosted, HostedKey};
use super::metrics::CartEvent;
use crate::redact::redact;
use std::sync::Arc;
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext};

/// Warns about the cart (redacted: the message may quote what a customer or a provider sent),
/// and counts what it did, only when the workflow code first runs.
pub(super) trait FirstRun {
    fn replaying(&self) -> bool;
    fn cart(&self) -> &str;
    fn hosted(&self) -> Option<Arc<Hosted>>;

    fn warn_once(&self, message: impl std::fmt::Display) {
        if !self.replaying() {
            tracing::warn!(cart = self.cart(), "{}", redact(&message.to_string()));
        }
    }

    /// As [`FirstRun::warn_once`], for what an operator must act on.
    fn error_once(&self, message: impl std::fmt::Display) {
        if !self.replaying() {
            tracing::error!(cart = self.cart(), "{}", redact(&message.to_string()));
        }
    }

    fn count(&self, event: CartEvent) {
        if !self.replaying()
            && let Some(hosted) = self.hosted()
            && let Some(counters) = &hosted.counters
        {
            counters.count(event);
        }
    }
}

/// Both of the SDK's workflow contexts offer what [`FirstRun`] needs under the same names.
macro_rules! first_run {
    ($($context:ident),+) => {$(
        impl<W> FirstRun for $context<W> {
            fn replaying(&self) -> bool {
                self.is_replaying()
            }
            fn cart(&self) -> &str {
                self.workflow_id()
            }
            fn hosted(&self) -> Option<Arc<Hosted>> {
                self.context_value::<HostedKey>().map(|h| (*h).clone())
            }
        }
    )+};
}

first_run!(WorkflowContext, SyncWorkflowContext);
