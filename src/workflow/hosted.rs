//! What a worker lends the workflow code of its carts: its counters, and whether its namespace
//! has the carts' search attributes. An interceptor puts it into the context of the run and of
//! every handler.

use super::metrics::CartCounters;
use std::sync::Arc;
use temporalio_sdk::WorkflowContextKey;
use temporalio_sdk::workflow_interceptors::{
    ExecuteWorkflowInput, ExecuteWorkflowResult, HandleSignalInput, HandleSignalResult,
    HandleUpdateInput, HandleUpdateResult, WorkflowInterceptor, WorkflowInterceptorConstructor,
    WorkflowInterceptorContext, WorkflowInterceptorFuture, WorkflowNext,
};

/// What the hosting worker offers its carts.
#[derive(Clone, Default)]
pub struct Hosted {
    /// Where carts count what they do, when the worker has metrics.
    pub counters: Option<Arc<dyn CartCounters>>,
    /// Whether the namespace has the carts' search attributes (see [`super::search`]).
    pub search_attributes: bool,
}

/// The worker's [`Hosted`] in a workflow's context.
pub struct HostedKey;

impl WorkflowContextKey for HostedKey {
    type Value = Arc<Hosted>;
}

struct HostedInContext(Arc<Hosted>);

impl WorkflowInterceptor for HostedInContext {
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
            ctx.with_context_value::<HostedKey, _>(self.0.clone(), next.run(input)),
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
            ctx.with_context_value::<HostedKey, _>(self.0.clone(), next.run(input)),
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
            ctx.with_context_value::<HostedKey, _>(self.0.clone(), next.run(input)),
        )
    }
}

/// The interceptor every worker registers, lending `hosted` to its carts.
pub fn hosted_interceptor(hosted: Hosted) -> WorkflowInterceptorConstructor {
    let hosted = Arc::new(hosted);
    WorkflowInterceptorConstructor::new(move |_| HostedInContext(hosted.clone()))
}
