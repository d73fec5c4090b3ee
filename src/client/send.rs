//! A change to a cart in one request.
//!
//! The SDK's `execute_update` asks the server to answer once the update is *accepted*, and then
//! polls for its result: two requests whenever the handler awaits something (a price lookup, a
//! payment). Here the server is asked to answer once the update is *completed*, so that a change
//! is one request from sending to its outcome. Should the server's long poll end first (it
//! answers with the stage reached), the same update is asked for again by its id, which the
//! server deduplicates: a slow change costs more requests, never a second application.
//!
//! Payloads go through the client's data converter, codec included, and requests through the
//! client's own retries (a busy cart's "too many updates in flight", an update aborted while
//! the cart continued as new), exactly as the SDK's own calls do.

use super::TemporalError;
use crate::domain::CartId;
use crate::workflow::CartView;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::{Client, NamespacedClient};
use temporalio_common::data_converters::{
    SerializationContextData, TemporalSerializable, WorkflowSerializationContext,
};
use temporalio_common::protos::temporal::api::{
    common::v1::{Header, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{
        TaskQueueKind, UpdateWorkflowExecutionLifecycleStage, WorkflowIdConflictPolicy,
        WorkflowIdReusePolicy,
    },
    errordetails::v1::MultiOperationExecutionFailure,
    failure::v1::Failure,
    taskqueue::v1::TaskQueue,
    update::v1::{Input, Meta, Outcome, Request, WaitPolicy, outcome},
    workflowservice::v1::{
        ExecuteMultiOperationRequest, StartWorkflowExecutionRequest,
        UpdateWorkflowExecutionRequest, execute_multi_operation_request::Operation,
        execute_multi_operation_request::operation::Operation as Op,
        execute_multi_operation_response::response::Response as OpResponse,
    },
};
use temporalio_common::protos::utilities::decode_status_detail;
use tonic::Code;

/// How a change ended, whatever kind of request carried it.
#[derive(Debug)]
pub(super) enum Sent {
    /// The cart refused the change, or its handler failed: the failure says why.
    Failed(Box<Failure>),
    /// There is no running cart with that id.
    NotFound,
    /// A cart with that id exists (or existed) and the start was not allowed.
    AlreadyStarted,
    /// The answer came, and this client could not decode it.
    Undecodable(String),
    /// Anything else the server or the connection said.
    Other(TemporalError),
}

/// A change: the update's name and argument, and the header it travels with.
pub(super) struct Change<'a, T> {
    pub name: &'a str,
    pub arg: &'a T,
    pub header: Header,
}

/// The start that goes with a change to a cart that may not exist yet.
pub(super) struct Start<'a, T> {
    pub workflow_type: &'a str,
    pub task_queue: &'a str,
    pub input: &'a T,
    pub conflict: WorkflowIdConflictPolicy,
    pub reuse: WorkflowIdReusePolicy,
}

// Not derived: a derive would ask `T: Copy`, and only the reference is copied.
impl<T> Clone for Start<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Start<'_, T> {}

fn context() -> SerializationContextData {
    SerializationContextData::Workflow(WorkflowSerializationContext::new())
}

fn update_request<T: TemporalSerializable + 'static>(
    client: &Client,
    id: &CartId,
    update_id: &str,
    change: &Change<'_, T>,
    args: Vec<temporalio_common::protos::temporal::api::common::v1::Payload>,
) -> UpdateWorkflowExecutionRequest {
    UpdateWorkflowExecutionRequest {
        namespace: client.namespace(),
        workflow_execution: Some(WorkflowExecution {
            workflow_id: id.to_string(),
            run_id: String::new(),
        }),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: UpdateWorkflowExecutionLifecycleStage::Completed.into(),
        }),
        request: Some(Request {
            meta: Some(Meta {
                update_id: update_id.to_owned(),
                identity: client.identity(),
            }),
            input: Some(Input {
                header: Some(change.header.clone()),
                name: change.name.to_owned(),
                args: Some(Payloads { payloads: args }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Sends a change to a running cart and waits for its outcome.
pub(super) async fn update<T: TemporalSerializable + 'static>(
    client: &Client,
    id: &CartId,
    change: Change<'_, T>,
) -> Result<CartView, Sent> {
    let converter = &client.options().data_converter;
    let args = converter
        .to_payloads(&context(), change.arg)
        .await
        .map_err(|e| Sent::Other(TemporalError::of(e)))?;
    let update_id = uuid::Uuid::new_v4().to_string();
    let request = update_request(client, id, &update_id, &change, args);
    loop {
        let response = WorkflowService::update_workflow_execution(
            &mut client.clone(),
            tonic::Request::new(request.clone()),
        )
        .await
        .map_err(|status| match status.code() {
            Code::NotFound => Sent::NotFound,
            _ => Sent::Other(status.into()),
        })?
        .into_inner();
        if let Some(outcome) = response.outcome {
            return decode(client, outcome).await;
        }
    }
}

/// Starts the cart if need be and sends it a change, in one request, and waits for the
/// change's outcome.
pub(super) async fn update_with_start<S, T>(
    client: &Client,
    id: &CartId,
    start: Start<'_, S>,
    change: Change<'_, T>,
) -> Result<CartView, Sent>
where
    S: TemporalSerializable + 'static,
    T: TemporalSerializable + 'static,
{
    let converter = &client.options().data_converter;
    let input = converter
        .to_payloads(&context(), start.input)
        .await
        .map_err(|e| Sent::Other(TemporalError::of(e)))?;
    let args = converter
        .to_payloads(&context(), change.arg)
        .await
        .map_err(|e| Sent::Other(TemporalError::of(e)))?;
    let start_request = StartWorkflowExecutionRequest {
        namespace: client.namespace(),
        workflow_id: id.to_string(),
        workflow_type: Some(WorkflowType {
            name: start.workflow_type.to_owned(),
        }),
        task_queue: Some(TaskQueue {
            name: start.task_queue.to_owned(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input: Some(Payloads { payloads: input }),
        identity: client.identity(),
        request_id: uuid::Uuid::new_v4().to_string(),
        workflow_id_reuse_policy: start.reuse as i32,
        workflow_id_conflict_policy: start.conflict as i32,
        ..Default::default()
    };
    let update_id = uuid::Uuid::new_v4().to_string();
    let request = ExecuteMultiOperationRequest {
        namespace: client.namespace(),
        operations: vec![
            Operation {
                operation: Some(Op::StartWorkflow(start_request)),
            },
            Operation {
                operation: Some(Op::UpdateWorkflow(update_request(
                    client, id, &update_id, &change, args,
                ))),
            },
        ],
        resource_id: id.to_string(),
    };
    loop {
        let response = WorkflowService::execute_multi_operation(
            &mut client.clone(),
            tonic::Request::new(request.clone()),
        )
        .await
        .map_err(multi_operation_error)?
        .into_inner();
        let outcome = response
            .responses
            .into_iter()
            .filter_map(|r| r.response)
            .find_map(|r| match r {
                OpResponse::UpdateWorkflow(update) => update.outcome,
                _ => None,
            });
        if let Some(outcome) = outcome {
            return decode(client, outcome).await;
        }
        // Not completed within the server's long poll: the same request again finds the same
        // cart (the id conflict policy) and the same update (its id).
    }
}

async fn decode(client: &Client, outcome: Outcome) -> Result<CartView, Sent> {
    match outcome.value {
        Some(outcome::Value::Success(success)) => client
            .options()
            .data_converter
            .from_payloads(&context(), success.payloads)
            .await
            .map_err(|e| Sent::Undecodable(e.to_string())),
        Some(outcome::Value::Failure(failure)) => Err(Sent::Failed(Box::new(failure))),
        None => Err(Sent::Other(TemporalError::said(
            "the update came back without an outcome",
        ))),
    }
}

/// Which operation of a multi-operation request failed, and how. The operations that did not
/// fail carry an "aborted" detail.
fn multi_operation_error(status: tonic::Status) -> Sent {
    let Some(failure) = decode_status_detail::<MultiOperationExecutionFailure>(status.details())
    else {
        return Sent::Other(status.into());
    };
    let culprit = failure.statuses.into_iter().enumerate().find(|(_, s)| {
        s.code != Code::Ok as i32
            && !s
                .details
                .iter()
                .any(|d| d.type_url.ends_with("MultiOperationExecutionAborted"))
    });
    match culprit {
        Some((0, s)) if s.code == Code::AlreadyExists as i32 => Sent::AlreadyStarted,
        Some((_, s)) if s.code == Code::NotFound as i32 => Sent::NotFound,
        Some((_, s)) => Sent::Other(TemporalError::said(&s.message)),
        None => Sent::Other(status.into()),
    }
}
