//! The shop's catalog as the workers hold it: it prices every cart, and clients read it from the
//! workers instead of keeping their own.
//!
//! A cart's add handler asks for a price with an activity, so the price is recorded in the
//! cart's history and replays as it was charged. Update validators, which never replay, read the
//! worker's catalog directly: a workflow interceptor puts it in their context. `cart products`
//! and `GET /products` query the [`ShopWorkflow`], one long-lived workflow per task queue that
//! answers with the catalog of whichever worker serves it.

use crate::domain::Catalog;
use std::sync::Arc;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflow_interceptors::{
    SyncWorkflowInterceptorContext, ValidateUpdateInput, ValidateUpdateResult, WorkflowInterceptor,
    WorkflowInterceptorConstructor, WorkflowNext,
};
use temporalio_sdk::{WorkflowContext, WorkflowContextKey, WorkflowContextView, WorkflowResult};

/// The worker's catalog in a validator's context.
pub struct WorkerCatalog;

impl WorkflowContextKey for WorkerCatalog {
    type Value = Arc<Catalog>;
}

/// Puts the worker's catalog into the context of every update validator.
struct CatalogForValidators(Arc<Catalog>);

impl WorkflowInterceptor for CatalogForValidators {
    fn validate_update(
        &self,
        ctx: SyncWorkflowInterceptorContext,
        input: ValidateUpdateInput,
        next: WorkflowNext<'_, ValidateUpdateInput, ValidateUpdateResult>,
    ) -> ValidateUpdateResult {
        ctx.with_context_value::<WorkerCatalog, _>(self.0.clone(), || next.run(input))
    }
}

/// The interceptor a worker registers so that validators check against its catalog.
pub fn catalog_interceptor(catalog: Arc<Catalog>) -> WorkflowInterceptorConstructor {
    WorkflowInterceptorConstructor::new(move |_| CatalogForValidators(catalog.clone()))
}

/// The id of the shop workflow of a task queue.
pub fn shop_id(task_queue: &str) -> String {
    format!("shop-{task_queue}")
}

/// Answers what the workers of its task queue charge. It waits forever and never grows its
/// history: queries leave no trace there. Registered with a factory that hands it the worker's
/// catalog (a default one, which no worker registers, has none to tell).
#[workflow]
#[derive(Default)]
pub struct ShopWorkflow {
    catalog: Option<Arc<Catalog>>,
}

impl ShopWorkflow {
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Self {
            catalog: Some(catalog),
        }
    }
}

#[workflow_methods]
impl ShopWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        ctx.wait_condition(|_| false).await?;
        Ok(())
    }

    /// The catalog of the worker that answers.
    #[query]
    pub fn catalog(&self, _ctx: &WorkflowContextView) -> Option<Catalog> {
        self.catalog.as_deref().cloned()
    }
}
