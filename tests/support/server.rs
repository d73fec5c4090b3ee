//! A private Temporal dev server per test, from the Temporal CLI that `scripts/install-tools`
//! installs, and what the server says of a cart.

use super::{client, free_port, unique};
use cart::client::CartClient;
use cart::domain::CartId;
use std::path::PathBuf;
use temporalio_sdk::testing::{
    DevServerLogLevel, EphemeralExe, LocalServer, LocalWorkflowEnvironmentOptions,
    WorkflowEnvironment,
};

/// A tool `scripts/install-tools` installs under `.tools/` (`venv/bin/python`, …). Without
/// it the test fails at once with the command to run, rather than somewhere in its set-up.
pub fn tool(path: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".tools")
        .join(path);
    installed(path)
}

fn installed(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing. The server tier needs the tools that scripts/install-tools installs: \
         run `scripts/install-tools`, then `cargo test --test server` (or `scripts/test`, \
         which installs them and runs every tier)",
        path.display()
    );
    path
}

/// The Temporal CLI installed by `scripts/install-tools` (or `CART_TEMPORAL_BIN`).
pub fn temporal_bin() -> PathBuf {
    match std::env::var_os("CART_TEMPORAL_BIN") {
        Some(path) => installed(PathBuf::from(path)),
        None => tool("venv/bin/temporal"),
    }
}

/// A private dev server on a free port, and its address for clients outside this process.
///
/// The SDK gives the server a fixed five seconds to answer; on a busy two-core machine a start
/// can take longer, so a timed-out start is tried again (on a fresh port) twice.
pub async fn start_server(extra_args: &[&str]) -> (WorkflowEnvironment<LocalServer>, String) {
    let mut args: Vec<String> = cart::workflow::search::ALL
        .iter()
        .flat_map(|(name, kind)| ["--search-attribute".to_owned(), format!("{name}={kind}")])
        .collect();
    args.extend(extra_args.iter().map(|a| a.to_string()));
    start_bare_server(&args).await
}

/// A dev server without the carts' search attributes, as a namespace nobody set up.
pub async fn start_bare_server(
    extra_args: &[String],
) -> (WorkflowEnvironment<LocalServer>, String) {
    let mut attempt = 1;
    loop {
        let port = free_port();
        let options = LocalWorkflowEnvironmentOptions::builder()
            .server_executable(EphemeralExe::ExistingPath(
                temporal_bin().to_string_lossy().into_owned(),
            ))
            .port(port)
            .extra_args(extra_args.to_vec())
            .log_level(DevServerLogLevel::Error)
            .build();
        match WorkflowEnvironment::start_local(options).await {
            Ok(env) => return (env, format!("127.0.0.1:{port}")),
            Err(e) if attempt < 3 => {
                eprintln!("the dev server did not start (attempt {attempt}), trying again: {e}");
                attempt += 1;
            }
            Err(e) => panic!("start a Temporal dev server: {e:?}"),
        }
    }
}

/// A dev server, a task queue and a data directory for one test: what every test that talks
/// to Temporal starts from. Workers come on top of it: in-process ([`Harness`]), or as real
/// `cart worker` processes (`Setup::spawn_worker`, in `tests/cli`). Dropping it stops the
/// server.
pub struct Setup {
    pub env: WorkflowEnvironment<LocalServer>,
    /// The server's address, for the `temporal` CLI and `cart` processes.
    pub address: String,
    pub queue: String,
    pub data: tempfile::TempDir,
}

impl Setup {
    pub async fn new() -> Self {
        Self::with_server_args(&[]).await
    }

    /// On a server without the carts' search attributes, as a namespace nobody set up.
    pub async fn without_search_attributes() -> Self {
        let (env, address) = start_bare_server(&[]).await;
        Self {
            env,
            address,
            queue: unique("q"),
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// With extra `temporal server start-dev` arguments.
    pub async fn with_server_args(server_args: &[&str]) -> Self {
        let (env, address) = start_server(server_args).await;
        Self {
            env,
            address,
            queue: unique("q"),
            data: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data(&self) -> &std::path::Path {
        self.data.path()
    }

    /// A client of the carts on this test's task queue.
    pub fn client(&self) -> CartClient {
        client(&self.env, &self.queue)
    }

    /// The charges the worker's ledger holds, one line each.
    pub fn charges(&self) -> Vec<String> {
        let ledger = std::fs::read_to_string(self.data().join("payments.jsonl")).unwrap();
        ledger.lines().map(str::to_owned).collect()
    }

    /// The id of the cart's latest run.
    pub async fn run_id(&self, id: &CartId) -> String {
        self.handle(id)
            .describe(Default::default())
            .await
            .expect("the cart exists")
            .run_id()
            .to_owned()
    }

    /// The workflow's result, once it completes.
    pub async fn result(&self, id: &CartId) -> cart::workflow::CartView {
        self.handle(id)
            .get_result(Default::default())
            .await
            .expect("the cart workflow completes")
    }

    /// The SDK's handle on the cart's workflow.
    pub fn handle(
        &self,
        id: &CartId,
    ) -> temporalio_client::WorkflowHandle<temporalio_client::Client, cart::workflow::CartWorkflow>
    {
        self.env.client().get_workflow_handle(id.as_str())
    }
}

/// The history of a cart's latest run.
pub async fn history(
    env: &WorkflowEnvironment<LocalServer>,
    id: &CartId,
) -> Vec<temporalio_common::protos::temporal::api::history::v1::HistoryEvent> {
    env.client()
        .get_workflow_handle::<cart::workflow::CartWorkflow>(id.as_str())
        .fetch_history(Default::default())
        .into_events()
        .await
        .unwrap()
}

/// What the server says of a cart's latest run (its status, the activities it is still
/// trying), or `None` when there is no such cart.
pub async fn describe(
    env: &WorkflowEnvironment<LocalServer>,
    id: &CartId,
) -> Option<
    temporalio_common::protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionResponse,
>{
    let handle = env
        .client()
        .get_workflow_handle::<cart::workflow::CartWorkflow>(id.as_str());
    Some(
        handle
            .describe(Default::default())
            .await
            .ok()?
            .raw_description,
    )
}

/// The status of a cart's latest run (a `WorkflowExecutionStatus`), if the cart exists.
pub async fn run_status(env: &WorkflowEnvironment<LocalServer>, id: &CartId) -> Option<i32> {
    Some(describe(env, id).await?.workflow_execution_info?.status)
}

/// The event types of a history, for asserting on what the workflow did.
pub fn event_types(
    events: &[temporalio_common::protos::temporal::api::history::v1::HistoryEvent],
) -> Vec<temporalio_common::protos::temporal::api::enums::v1::EventType> {
    events.iter().map(|e| e.event_type()).collect()
}
