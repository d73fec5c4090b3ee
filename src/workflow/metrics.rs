//! What carts do, counted for the worker's metrics: carts started, items added, checkouts and
//! their outcomes, reminders sent, carts expired.
//!
//! The workflow counts an event when its code first runs it, never when a history replays, so a
//! cart rebuilt on another worker (or after an eviction) does not count its past again. The
//! counters belong to the worker: an interceptor puts them into the context of the run and of
//! every handler, and a worker without metrics has none, so nothing is counted.

use std::sync::Arc;
use temporalio_sdk::WorkflowContextKey;
use temporalio_sdk::workflow_interceptors::{
    ExecuteWorkflowInput, ExecuteWorkflowResult, HandleSignalInput, HandleSignalResult,
    HandleUpdateInput, HandleUpdateResult, WorkflowInterceptor, WorkflowInterceptorConstructor,
    WorkflowInterceptorContext, WorkflowInterceptorFuture, WorkflowNext,
};

/// Something a cart did that operators count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartEvent {
    /// A new cart (not a cart's continue-as-new).
    Started,
    /// A product added, or more of one.
    ItemAdded,
    CheckoutAttempted,
    Paid,
    Declined,
    /// A charge whose outcome is not known yet.
    PaymentPending,
    ReminderSent,
    Expired,
}

/// Where a worker counts what its carts do.
pub trait CartCounters: Send + Sync {
    fn count(&self, event: CartEvent);
}

/// The worker's counters in a workflow's context.
pub struct Counters;

impl WorkflowContextKey for Counters {
    type Value = Arc<dyn CartCounters>;
}

struct CountersInContext(Arc<dyn CartCounters>);

impl WorkflowInterceptor for CountersInContext {
    fn execute<'a>(
        &'a self,
        ctx: WorkflowInterceptorContext,
        input: ExecuteWorkflowInput,
        next: WorkflowNext<
            'a,
            ExecuteWorkflowInput,
            WorkflowInterceptorFuture<'a, ExecuteWorkflowResult>,
        >,
    ) -> WorkflowInterceptorFuture<'a, ExecuteWorkflowResult> {
        WorkflowInterceptorFuture::new(
            ctx.with_context_value::<Counters, _>(self.0.clone(), next.run(input)),
        )
    }

    fn handle_signal<'a>(
        &'a self,
        ctx: WorkflowInterceptorContext,
        input: HandleSignalInput,
        next: WorkflowNext<
            'a,
            HandleSignalInput,
            WorkflowInterceptorFuture<'a, HandleSignalResult>,
        >,
    ) -> WorkflowInterceptorFuture<'a, HandleSignalResult> {
        WorkflowInterceptorFuture::new(
            ctx.with_context_value::<Counters, _>(self.0.clone(), next.run(input)),
        )
    }

    fn handle_update<'a>(
        &'a self,
        ctx: WorkflowInterceptorContext,
        input: HandleUpdateInput,
        next: WorkflowNext<
            'a,
            HandleUpdateInput,
            WorkflowInterceptorFuture<'a, HandleUpdateResult>,
        >,
    ) -> WorkflowInterceptorFuture<'a, HandleUpdateResult> {
        WorkflowInterceptorFuture::new(
            ctx.with_context_value::<Counters, _>(self.0.clone(), next.run(input)),
        )
    }
}

/// The interceptor a worker with metrics registers, so that its carts count into `counters`.
pub fn counters_interceptor(counters: Arc<dyn CartCounters>) -> WorkflowInterceptorConstructor {
    WorkflowInterceptorConstructor::new(move |_| CountersInContext(counters.clone()))
}
