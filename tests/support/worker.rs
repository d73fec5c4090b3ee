//! In-process workers on a test's task queue: the whole cart worker, or its workflows and its
//! activities apart, so that a test can hold a cart's activities back.

use super::{Setup, eventually};
use cart::activities::CartActivities;
use cart::client::CartClient;
use cart::domain::Catalog;
use std::time::Duration;
use temporalio_sdk::Runtime;
use temporalio_sdk::testing::{LocalServer, WorkflowEnvironment};

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

    /// With a server that suggests continue-as-new once a history passes `events` events.
    pub async fn suggesting_continue_as_new_after(events: u32) -> Self {
        let limit = format!("limit.historyCount.suggestContinueAsNew={events}");
        let args = ["--dynamic-config-value", limit.as_str()];
        Self::start_with(&args, cart::worker::local_activities).await
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
