//! Listings: the carts of a task queue, open or as a filter asks, from Temporal's visibility
//! store (see [`crate::workflow::search`]).

use super::refusal::undecodable;
use super::{CartClient, ClientError};
use crate::domain::{CartId, Status};
use futures::StreamExt;
use temporalio_client::WorkflowListOptions;

/// A `since` given by a person: a duration back from now (`24h`) or a moment (RFC 3339).
pub fn since(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(moment) = text.parse::<jiff::Timestamp>() {
        return Ok(moment);
    }
    let back = humantime::parse_duration(text).map_err(|_| {
        format!(
            "{text:?} is neither a duration such as 24h nor a moment such as 2026-11-27T00:00:00Z"
        )
    })?;
    let back = jiff::SignedDuration::try_from(back).map_err(|e| e.to_string())?;
    jiff::Timestamp::now()
        .checked_sub(back)
        .map_err(|_| format!("{text:?} reaches back too far"))
}

/// Which carts a listing shows. Empty: the open ones.
#[derive(Clone, Debug, Default)]
pub struct CartFilter {
    pub status: Option<Status>,
    /// Changed at or after this moment.
    pub since: Option<jiff::Timestamp>,
    /// More conditions in Temporal's list-filter syntax, e.g. `CartTotal > 100000`.
    pub query: Option<String>,
}

impl CartFilter {
    fn uses_search_attributes(&self) -> bool {
        self.status.is_some() || self.since.is_some() || self.query.is_some()
    }

    /// The visibility query: carts of this task queue, with the filter's conditions.
    fn query(&self, task_queue: &str) -> String {
        let mut query = format!(
            "WorkflowType = '{}' AND TaskQueue = '{}'",
            crate::workflow::WORKFLOW_TYPE,
            task_queue.replace('\'', "")
        );
        if !self.uses_search_attributes() {
            query.push_str(" AND ExecutionStatus = 'Running'");
        }
        if let Some(status) = self.status {
            query.push_str(&format!(" AND CartStatus = '{}'", status.as_str()));
        }
        if let Some(since) = self.since {
            query.push_str(&format!(" AND CartUpdatedAt >= '{since}'"));
        }
        if let Some(more) = &self.query {
            query.push_str(&format!(" AND ({more})"));
        }
        query
    }
}

/// One cart in a listing.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CartSummary {
    #[schema(value_type = String)]
    pub id: CartId,
    #[schema(schema_with = crate::workflow::status_schema)]
    pub status: Status,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<jiff::Timestamp>,
}

impl CartClient {
    /// Open carts on this task queue, newest first.
    pub async fn list_open(&self) -> Result<Vec<CartSummary>, ClientError> {
        self.list(&CartFilter::default()).await
    }

    /// Carts on this task queue, newest first: the open ones, or those `filter` asks for
    /// (by their search attributes, see [`crate::workflow::search`]).
    pub async fn list(&self, filter: &CartFilter) -> Result<Vec<CartSummary>, ClientError> {
        let query = filter.query(&self.task_queue);
        let mut stream = self
            .client
            .list_workflows(query, WorkflowListOptions::default());
        let mut carts = Vec::new();
        while let Some(item) = stream.next().await {
            let execution = item.map_err(|e| match e {
                temporalio_client::errors::ClientError::Rpc(status)
                    if status.code() == tonic::Code::InvalidArgument
                        && filter.uses_search_attributes() =>
                {
                    ClientError::Rejected(format!(
                        "the listing cannot filter on that: {} (is the query right, and does the namespace have the carts' search attributes? see docs/operations.md, \"Finding carts\")",
                        status.message()
                    ))
                }
                other => ClientError::temporal(other),
            })?;
            // The search attribute, else the memo (carts from before search attributes, or in
            // a namespace without them), else open.
            let status = match execution
                .search_attributes()
                .get(&crate::workflow::search::STATUS)
                .and_then(|s| Status::parse(&s))
            {
                Some(status) => status,
                None => execution
                    .memo()
                    .get::<Status>(crate::workflow::STATUS_KEY)
                    .map_err(|e| undecodable(&e.to_string()))?
                    .unwrap_or(Status::Open),
            };
            carts.push(CartSummary {
                id: CartId::of_workflow(execution.id()),
                status,
                started_at: execution
                    .start_time()
                    .and_then(|t| jiff::Timestamp::try_from(t).ok()),
            });
        }
        // The dev server's SQLite visibility store rejects ORDER BY, so sort here.
        carts.sort_by_key(|c| std::cmp::Reverse(c.started_at));
        Ok(carts)
    }
}
