//! Worker probing: whether a worker polls the carts' task queue, and whether its keys match
//! this client's.

use super::{CartClient, ClientError, WORKER_GRACE};
use std::time::Duration;
use temporalio_common::protos::temporal::api::{
    enums::v1::{TaskQueueKind, TaskQueueType},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::DescribeTaskQueueRequest,
};

pub(super) const NO_KEY_HERE: &str = "the workers encrypt carts' data and this client has no key";
pub(super) const NOT_THEIR_KEY_HERE: &str =
    "this client does not have the key the workers encrypt with";

/// Keys that do not match between this client and the workers: what to do about it.
pub(super) fn keys_error(problem: &str) -> ClientError {
    ClientError::Keys(format!(
        "{problem}, so nothing was changed: give every worker and client the same keys (CART_CODEC_KEY_FILE or CART_CODEC_KEY)"
    ))
}

impl CartClient {
    /// Waits a few seconds for a worker that can serve this client to poll the task queue:
    /// for a query that has gone unanswered, and before starting the shop workflow. A worker
    /// that is just starting (with new keys, say) gets that long to show up.
    pub(super) async fn ensure_worker(&self) -> Result<(), ClientError> {
        let give_up = tokio::time::Instant::now() + WORKER_GRACE.min(self.wait);
        loop {
            let Some(problem) = self.workers_problem().await else {
                return Ok(());
            };
            if tokio::time::Instant::now() >= give_up {
                return Err(problem);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// What stands between this client and the workers right now: none polls the task queue
    /// (`NoWorker`), or their keys do not match ours (`Keys`). `None` when a worker can serve
    /// us, and when the server could not be asked (the call itself then finds out).
    pub(super) async fn workers_problem(&self) -> Option<ClientError> {
        let pollers = self.recent_pollers().await.ok()?;
        if pollers.is_empty() {
            return Some(ClientError::NoWorker(self.task_queue.clone()));
        }
        self.keys_match(&pollers).err()
    }

    /// Whether a worker (by its identity, which advertises its keys) can read what this client
    /// sends and this client what it answers: each must hold the other's encrypting key. One
    /// such worker is enough: a worker without the key
    /// fails the task and Temporal hands it to another (the task queue may still list a
    /// worker that stopped a minute ago, during a key rotation say).
    fn keys_match(&self, pollers: &[String]) -> Result<(), ClientError> {
        let mut problem = None;
        for worker in pollers.iter().filter_map(|p| crate::codec::advertised(p)) {
            problem = match (self.keys.first(), worker.first()) {
                (None, None) => return Ok(()),
                (None, Some(_)) => Some(NO_KEY_HERE),
                (Some(_), None) => {
                    Some("this client encrypts with a key and the workers have none")
                }
                (Some(ours), _) if !worker.contains(ours) => {
                    Some("the workers do not have the key this client encrypts with")
                }
                (_, Some(theirs)) if !self.keys.contains(theirs) => Some(NOT_THEIR_KEY_HERE),
                _ => return Ok(()),
            };
        }
        problem.map_or(Ok(()), |problem| Err(keys_error(problem)))
    }

    /// Whether a worker polled the task queue recently. On error we assume there is one and
    /// let the overall wait decide.
    pub async fn has_worker(&self) -> bool {
        self.worker_polling().await.unwrap_or(true)
    }

    /// Asks the server whether a worker polled the task queue recently; an error means the
    /// server could not be asked (the health check reports it).
    pub async fn worker_polling(&self) -> Result<bool, ClientError> {
        Ok(!self.recent_pollers().await?.is_empty())
    }

    /// The identities of the workers that polled the task queue recently.
    async fn recent_pollers(&self) -> Result<Vec<String>, ClientError> {
        let request = DescribeTaskQueueRequest {
            namespace: self.client.options().namespace.clone(),
            task_queue: Some(TaskQueue {
                name: self.task_queue.clone(),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            task_queue_type: TaskQueueType::Workflow as i32,
            ..Default::default()
        };
        let mut service = self.client.connection().workflow_service();
        let response = service
            .describe_task_queue(tonic::Request::new(request))
            .await
            .map_err(ClientError::temporal)?;
        // The server lists pollers for a while after they stop; count only pollers seen
        // within the last long-poll interval.
        let recent = std::time::SystemTime::now() - Duration::from_secs(90);
        Ok(response
            .into_inner()
            .pollers
            .into_iter()
            .filter(|p| {
                p.last_access_time
                    .as_ref()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .is_some_and(|t| t > recent)
            })
            .map(|p| p.identity)
            .collect())
    }
}
