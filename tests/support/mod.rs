//! Shared test fixtures: a private Temporal dev server per test, in-process workers on unique
//! task queues, and helpers to wait for conditions with a deadline.

#![allow(dead_code)]

pub mod tls;

use cart::activities::CartActivities;
use cart::client::CartClient;
use cart::domain::{CartId, Catalog};
use cart::workflow::{CartInput, CartSettings};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use temporalio_sdk::Runtime;
use temporalio_sdk::testing::{
    DevServerLogLevel, EphemeralExe, LocalServer, LocalWorkflowEnvironmentOptions,
    WorkflowEnvironment,
};

/// The Temporal CLI installed by `scripts/install-tools` (or `CART_TEMPORAL_BIN`).
pub fn temporal_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CART_TEMPORAL_BIN") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/temporal");
    assert!(
        path.exists(),
        "no Temporal CLI at {}: run scripts/install-tools first",
        path.display()
    );
    path
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

/// A unique name for this process and call, for task queues and cart ids.
/// A cart id no other test uses.
pub fn unique_cart() -> cart::domain::CartId {
    cart::domain::CartId::parse(&unique("CART")).expect("a valid cart id")
}

pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A worker running on its own thread (the SDK's worker future is not `Send`); stopped when
/// dropped.
pub struct TestWorker {
    shutdown: Option<Box<dyn Fn() + Send + Sync>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestWorker {
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.halt();
    }
}

pub fn start_worker(
    env: &WorkflowEnvironment<LocalServer>,
    task_queue: &str,
    activities: CartActivities,
) -> TestWorker {
    let task_queue = task_queue.to_owned();
    start_built(env, move |runtime, client| {
        // Every test server has the carts' search attributes (`start_server`).
        let hosting = cart::worker::Hosting {
            search_attributes: true,
            ..Default::default()
        };
        cart::worker::build(runtime, client, &task_queue, activities, &hosting).unwrap()
    })
}

/// A worker that runs the carts' workflows and none of their activities: with one, a test
/// holds a cart's activities back until it starts [`start_activity_worker`].
pub fn start_workflow_worker(
    env: &WorkflowEnvironment<LocalServer>,
    task_queue: &str,
) -> TestWorker {
    let task_queue = task_queue.to_owned();
    start_built(env, move |runtime, client| {
        let interceptors = vec![
            cart::workflow::admission::admission_interceptor(None),
            cart::workflow::catalog_interceptor(std::sync::Arc::new(Catalog::builtin())),
            cart::workflow::hosted::hosted_interceptor(Default::default()),
        ];
        let options = temporalio_sdk::WorkerOptions::new(task_queue)
            .register_workflow::<cart::workflow::CartWorkflow>()
            .unwrap()
            .register_workflow_interceptors(interceptors)
            .build();
        temporalio_sdk::Worker::new(runtime, client, options).unwrap()
    })
}

/// A worker that runs the carts' activities and no workflow.
pub fn start_activity_worker(
    env: &WorkflowEnvironment<LocalServer>,
    task_queue: &str,
    activities: CartActivities,
) -> TestWorker {
    let task_queue = task_queue.to_owned();
    start_built(env, move |runtime, client| {
        let options = temporalio_sdk::WorkerOptions::new(task_queue)
            .register_activities(activities)
            .build();
        temporalio_sdk::Worker::new(runtime, client, options).unwrap()
    })
}

/// The zero-config activities (ledger and outbox in the setup's data directory) on a worker
/// of their own.
pub fn start_local_activities(s: &Setup) -> TestWorker {
    start_activity_worker(&s.env, &s.queue, cart::worker::local_activities(s.data()))
}

/// A server that suggests continue-as-new after 30 events, with the carts' workflows and
/// their activities on separate workers, so that a test can hold the activities back (stop
/// the second) while the history grows, and start them again ([`start_local_activities`]).
pub async fn early_hand_over() -> (Setup, TestWorker, TestWorker) {
    let s = Setup::with_server_args(&[
        "--dynamic-config-value",
        "limit.historyCount.suggestContinueAsNew=30",
    ])
    .await;
    let workflows = start_workflow_worker(&s.env, &s.queue);
    let activities = start_local_activities(&s);
    wait_for_worker(&s.client()).await;
    (s, workflows, activities)
}

/// Runs the worker `build` makes on a thread of its own.
fn start_built(
    env: &WorkflowEnvironment<LocalServer>,
    build: impl FnOnce(&Runtime, temporalio_client::Client) -> temporalio_sdk::Worker + Send + 'static,
) -> TestWorker {
    let client = env.client().clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let runtime = Runtime::from_current_tokio(Default::default()).expect("runtime");
            let mut worker = build(&runtime, client);
            tx.send(worker.shutdown_handle()).unwrap();
            worker.run().await.expect("worker run");
        });
    });
    let shutdown = rx.recv().expect("worker started");
    TestWorker {
        shutdown: Some(Box::new(shutdown)),
        thread: Some(thread),
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

    /// The workflow's result, once it completes.
    pub async fn result(&self, id: &CartId) -> cart::workflow::CartView {
        self.env
            .client()
            .get_workflow_handle::<cart::workflow::CartWorkflow>(id.as_str())
            .get_result(Default::default())
            .await
            .expect("the cart workflow completes")
    }
}

/// A [`Setup`] with an in-process worker on its task queue and a client: what almost every
/// workflow test starts from. Dropping it stops the worker, then the server.
pub struct Harness {
    _worker: TestWorker,
    pub carts: CartClient,
    setup: Setup,
}

impl std::ops::Deref for Harness {
    type Target = Setup;
    fn deref(&self) -> &Setup {
        &self.setup
    }
}

impl Harness {
    /// With the zero-config activities (ledger and outbox in `data`).
    pub async fn start() -> Self {
        Self::start_with(&[], cart::worker::local_activities).await
    }

    pub async fn start_with(
        server_args: &[&str],
        activities: impl FnOnce(&std::path::Path) -> CartActivities,
    ) -> Self {
        let setup = Setup::with_server_args(server_args).await;
        let worker = start_worker(&setup.env, &setup.queue, activities(setup.data()));
        let carts = setup.client();
        wait_for_worker(&carts).await;
        Self {
            _worker: worker,
            carts,
            setup,
        }
    }
}

pub fn add(product_id: i64, quantity: i64) -> cart::workflow::AddItem {
    cart::workflow::AddItem {
        product_id,
        quantity,
    }
}

pub fn remove(product_id: i64, quantity: Option<i64>) -> cart::workflow::RemoveItem {
    cart::workflow::RemoveItem {
        product_id,
        quantity,
    }
}

pub fn email(address: &str) -> cart::workflow::SetEmail {
    cart::workflow::SetEmail {
        email: address.into(),
    }
}

pub fn checkout(email: Option<&str>, payment: Option<&str>) -> cart::workflow::Checkout {
    cart::workflow::Checkout {
        email: email.map(Into::into),
        payment: payment.map(Into::into),
    }
}

/// An hour: longer than any test, for timers that must not fire.
pub const LONG: Duration = Duration::from_secs(3600);

/// Waits until a worker polls the client's task queue, so tests never race its start-up.
pub async fn wait_for_worker(carts: &CartClient) {
    eventually(Duration::from_secs(30), "a worker to poll", || async {
        carts.has_worker().await.then_some(())
    })
    .await;
}

pub fn client(env: &WorkflowEnvironment<LocalServer>, task_queue: &str) -> CartClient {
    CartClient::new(env.client().clone(), task_queue, Duration::from_secs(30))
}

pub fn settings(remind: Duration, expire: Duration) -> CartSettings {
    CartSettings::new(remind, expire)
}

/// Activities with the built-in catalog and the given providers.
pub fn activities_with(
    payments: impl cart::activities::PaymentGateway + 'static,
    mailer: impl cart::activities::Mailer + 'static,
) -> CartActivities {
    CartActivities::new(
        std::sync::Arc::new(Catalog::builtin()),
        std::sync::Arc::new(payments),
        std::sync::Arc::new(mailer),
    )
}

pub fn input(remind: Duration, expire: Duration) -> CartInput {
    CartInput::new(settings(remind, expire), None)
}

/// Polls `check` until it returns `Some`, or panics after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An `.eml` file as text, with quoted-printable soft line breaks and `=3D` undone, so tests
/// can look for what a reader sees.
pub fn read_eml(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .replace("=\r\n", "")
        .replace("=3D", "=")
}

/// The abandoned-cart reminders in a data directory's outbox.
pub fn reminders(data_dir: &std::path::Path) -> Vec<PathBuf> {
    outbox(data_dir, "-reminder-")
}

/// The order confirmations in a data directory's outbox.
pub fn confirmations(data_dir: &std::path::Path) -> Vec<PathBuf> {
    outbox(data_dir, "-confirmation")
}

/// The `.eml` files in a data directory's outbox whose names contain `kind`.
fn outbox(data_dir: &std::path::Path, kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir.join("outbox"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .filter(|p| p.to_string_lossy().contains(kind))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

pub fn ledger(data_dir: &std::path::Path) -> Vec<cart::activities::LedgerEntry> {
    cart::activities::LocalLedger::new(data_dir)
        .entries()
        .unwrap()
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

/// A payment gateway that charges through `inner`, then loses the answer the first `failures`
/// times, as a network would after the provider had already charged. The cart sends the key
/// again; the idempotency key must make that harmless.
pub struct LostAnswers {
    inner: std::sync::Arc<dyn cart::activities::PaymentGateway>,
    failures: std::sync::atomic::AtomicU32,
    calls: std::sync::Arc<AtomicU32>,
}

impl LostAnswers {
    pub fn new(
        inner: std::sync::Arc<dyn cart::activities::PaymentGateway>,
        failures: u32,
        calls: std::sync::Arc<AtomicU32>,
    ) -> Self {
        Self {
            inner,
            failures: AtomicU32::new(failures),
            calls,
        }
    }
}

#[async_trait::async_trait]
impl cart::activities::PaymentGateway for LostAnswers {
    async fn charge(&self, request: &cart::activities::ChargeRequest) -> cart::domain::Observation {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.inner.charge(request).await;
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return cart::domain::Observation::Unknown {
                reason: "connection reset after the charge".into(),
            };
        }
        answer
    }

    async fn retrieve(
        &self,
        request: &cart::activities::ChargeRequest,
        reference: &str,
    ) -> cart::domain::Observation {
        self.inner.retrieve(request, reference).await
    }

    async fn find(
        &self,
        request: &cart::activities::ChargeRequest,
    ) -> Option<cart::domain::Observation> {
        self.inner.find(request).await
    }

    async fn cancel(
        &self,
        request: &cart::activities::ChargeRequest,
        reference: &str,
    ) -> cart::domain::Observation {
        self.inner.cancel(request, reference).await
    }

    fn timing(&self) -> cart::domain::PaymentTiming {
        self.inner.timing()
    }

    fn provider(&self) -> String {
        self.inner.provider()
    }
}

/// A payment provider that answers from a script: each question takes the next answer, in
/// order (`NoneFound` answers a lookup with nothing). It records the questions it was asked.
pub struct Scripted {
    answers: std::sync::Mutex<std::collections::VecDeque<cart::domain::Observation>>,
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
}

impl Scripted {
    pub fn new(answers: Vec<cart::domain::Observation>) -> Self {
        Self {
            answers: std::sync::Mutex::new(answers.into()),
            asked: Default::default(),
        }
    }

    fn next(&self, question: &'static str) -> cart::domain::Observation {
        self.asked.lock().unwrap().push(question);
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no answer left in the script for {question}"))
    }
}

#[async_trait::async_trait]
impl cart::activities::PaymentGateway for Scripted {
    async fn charge(&self, _: &cart::activities::ChargeRequest) -> cart::domain::Observation {
        self.next("charge")
    }

    async fn retrieve(
        &self,
        _: &cart::activities::ChargeRequest,
        _: &str,
    ) -> cart::domain::Observation {
        self.next("retrieve")
    }

    async fn find(&self, _: &cart::activities::ChargeRequest) -> Option<cart::domain::Observation> {
        match self.next("find") {
            cart::domain::Observation::NoneFound { .. } => None,
            found => Some(found),
        }
    }

    async fn cancel(
        &self,
        _: &cart::activities::ChargeRequest,
        _: &str,
    ) -> cart::domain::Observation {
        self.next("cancel")
    }

    /// A provider whose search is never behind, asked again within a second.
    fn timing(&self) -> cart::domain::PaymentTiming {
        cart::domain::PaymentTiming {
            key_window: jiff::SignedDuration::from_hours(1),
            search_lag: jiff::SignedDuration::ZERO,
            follow_up_max: jiff::SignedDuration::from_secs(1),
            request_timeout: jiff::SignedDuration::from_secs(1),
        }
    }

    fn provider(&self) -> String {
        "a scripted provider".into()
    }
}

/// The real `temporal` CLI against a test's server.
pub struct Temporal {
    pub address: String,
}

impl Temporal {
    pub fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(temporal_bin())
            .args(args)
            .args(["--address", &self.address])
            .output()
            .expect("run temporal");
        assert!(
            out.status.success(),
            "temporal {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn signal(&self, id: &CartId, name: &str, input: &str) {
        self.run(&[
            "workflow",
            "signal",
            "--workflow-id",
            id.as_str(),
            "--name",
            name,
            "--input",
            input,
        ]);
    }

    /// `temporal workflow start` of a `CartWorkflow` with the given JSON input.
    pub fn start(&self, queue: &str, id: &CartId, input: &str) {
        self.run(&[
            "workflow",
            "start",
            "--type",
            "CartWorkflow",
            "--task-queue",
            queue,
            "--workflow-id",
            id.as_str(),
            "--input",
            input,
        ]);
    }

    pub fn get_cart(&self, id: &CartId) -> serde_json::Value {
        let out = self.run(&[
            "workflow",
            "query",
            "--workflow-id",
            id.as_str(),
            "--type",
            "getCart",
            "-o",
            "json",
        ]);
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("query JSON");
        parsed["queryResult"][0].clone()
    }
}

/// A gRPC proxy in front of a Temporal server that records the method of every request that
/// passes through it, so that a test can count the round trips a command makes. It can also
/// lose answers: forward a request, let the server do the work, and reset the stream instead
/// of passing the answer on.
pub struct CountingProxy {
    pub address: String,
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// How many answers to each method are still to be lost.
    lose: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        type BoxError = Box<dyn std::error::Error + Send + Sync>;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lose = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<hyper::body::Incoming>();
        let (recorded, losing, upstream) = (calls.clone(), lose.clone(), upstream.to_owned());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (client, recorded, losing, upstream) = (
                    client.clone(),
                    recorded.clone(),
                    losing.clone(),
                    upstream.clone(),
                );
                let service = hyper::service::service_fn(
                    move |mut request: hyper::Request<hyper::body::Incoming>| {
                        let path = request.uri().path().to_owned();
                        let method = path.rsplit('/').next().unwrap_or_default().to_owned();
                        recorded.lock().unwrap().push(method.clone());
                        let lost = match losing.lock().unwrap().get_mut(&method) {
                            Some(n) if *n > 0 => {
                                *n -= 1;
                                true
                            }
                            _ => false,
                        };
                        *request.uri_mut() = format!("http://{upstream}{path}").parse().unwrap();
                        let answer = client.request(request);
                        async move {
                            let answer = answer.await?;
                            if lost {
                                // The server has answered, so the work is done; the client
                                // sees its stream reset instead.
                                return Err::<_, BoxError>(format!("{method}: answer lost").into());
                            }
                            Ok(answer)
                        }
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self {
            address,
            calls,
            lose,
            task,
        }
    }

    /// Loses the answers to the next `times` calls of `method`.
    pub fn lose_answers(&self, method: &str, times: usize) {
        self.lose.lock().unwrap().insert(method.to_owned(), times);
    }

    /// The gRPC methods called since the last `take`, in order (e.g. `UpdateWorkflowExecution`).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
