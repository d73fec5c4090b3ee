//! The task queue's shop workflow: the catalog the workers charge, as a worker answers it.

use super::{CartClient, ClientError, TemporalError};
use crate::domain::Catalog;
use crate::workflow::{ShopWorkflow, shop_id};
use temporalio_client::errors::WorkflowQueryError;
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowQueryOptions, WorkflowStartOptions};

impl CartClient {
    /// The catalog the workers charge, as a worker of this task queue answers it. The shop
    /// workflow that answers is started on first use (and again if someone ended it).
    pub async fn catalog(&self) -> Result<Catalog, ClientError> {
        let id = shop_id(&self.task_queue);
        let handle = self.client.get_workflow_handle::<ShopWorkflow>(&id);
        let query = handle.query(ShopWorkflow::catalog, (), WorkflowQueryOptions::default());
        let no_catalog = || {
            ClientError::temporal(TemporalError::said(
                "the worker that answered has no catalog",
            ))
        };
        match self.answered(query).await? {
            Ok(catalog) => return catalog.ok_or_else(no_catalog),
            Err(WorkflowQueryError::NotFound(_)) => {}
            Err(other) => return Err(ClientError::temporal(other)),
        }
        self.ensure_worker().await?;
        let options = WorkflowStartOptions::new(self.task_queue.clone(), id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .build();
        self.client
            .start_workflow(ShopWorkflow::run, (), options)
            .await
            .map_err(ClientError::temporal)?;
        let handle = self.client.get_workflow_handle::<ShopWorkflow>(&id);
        let query = handle.query(ShopWorkflow::catalog, (), WorkflowQueryOptions::default());
        self.answered(query)
            .await?
            .map_err(ClientError::temporal)?
            .ok_or_else(no_catalog)
    }

    /// Ends the task queue's shop workflow, for a task queue that is going away (the demo's).
    /// A shop that is not running is fine.
    pub async fn close_shop(&self, reason: &str) -> Result<(), ClientError> {
        let handle = self
            .client
            .get_workflow_handle::<ShopWorkflow>(&shop_id(&self.task_queue));
        let options = temporalio_client::WorkflowTerminateOptions::builder()
            .reason(reason.to_owned())
            .build();
        match handle.terminate(options).await {
            Ok(()) => Ok(()),
            Err(temporalio_client::errors::WorkflowInteractionError::NotFound(_)) => Ok(()),
            Err(e) => Err(ClientError::temporal(e)),
        }
    }
}
