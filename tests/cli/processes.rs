//! Processes that stop, die and come back: no cart is lost and no money charged twice.

use super::{Setup, checkout_args, stderr};
use crate::support::*;
use cart::client::CartClient;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use temporalio_common::protos::temporal::api::enums::v1::PendingActivityState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_stops_cleanly_on_sigterm() {
    let s = Setup::new().await;
    let worker = s.spawn_worker().await;
    let id = unique("CART-term");
    s.ok(&["add", &id, "--product", "0"]);
    let (status, log) = worker.terminate();
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(log.contains("cart worker started"), "{log}");
    assert!(log.contains("cart worker stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_during_checkout_charges_exactly_once_after_restart() {
    let s = Setup::new().await;
    let worker = s.spawn_worker().await;
    let id = unique("CART-kill");
    s.ok(&["add", &id, "--product", "1", "--qty", "2"]);

    // Hold the ledger's lock so the charge blocks inside the worker.
    std::fs::create_dir_all(s.data()).unwrap();
    let ledger_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(s.data().join("payments.jsonl"))
        .unwrap();
    ledger_file.lock().unwrap();

    let mut checkout = s.cart();
    checkout
        .args(["checkout", &id, "--email", "ann@example.com"])
        .env("CART_WAIT", "120s");
    let checkout = tokio::task::spawn_blocking(move || checkout.output().unwrap());

    // Wait until the charge is running on the worker, then kill it without warning.
    // (A retried activity's start only enters the history when it ends, so ask for the
    // pending activities instead.)
    let handle = s
        .env
        .client()
        .get_workflow_handle::<cart::workflow::CartWorkflow>(&id);
    eventually(Duration::from_secs(20), "the charge to start", || async {
        let described = handle.describe(Default::default()).await.ok()?;
        described
            .raw()
            .pending_activities
            .iter()
            .any(|a| a.state() == PendingActivityState::Started)
            .then_some(())
    })
    .await;
    worker.kill();
    let _second = s.spawn_worker().await;
    ledger_file.unlock().unwrap();

    // The charge is retried on the new worker; the person's checkout succeeds.
    let out = checkout.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ledger = ledger(s.data());
    assert_eq!(ledger.len(), 1, "exactly one charge");
    assert_eq!(ledger[0].amount, 2 * 69_900);
    let out = s
        .cart()
        .args(["show", &id, "--output", "json"])
        .output()
        .unwrap();
    let cart: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cart["status"], "checked_out");
    assert_eq!(cart["receipt"]["charge_id"], ledger[0].charge_id.as_str());
}

/// A child process that is killed if the test ends (or fails) before `stop`.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn dev_server(port: u16, db: &std::path::Path) -> Running {
    Running(Some(
        Command::new(temporal_bin())
            .args(["server", "start-dev", "--headless", "--log-level", "error"])
            .args(["--port", &port.to_string(), "--db-filename"])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start temporal"),
    ))
}

/// Stops a process the way an operator would: SIGTERM, then wait.
fn stop(mut running: Running) {
    if let Some(mut child) = running.0.take() {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carts_survive_a_server_restart() {
    // This test runs its own server (on a database file) next to the fixture's.
    let s = Setup::new().await;
    let port = free_port();
    let db = s.data().join("temporal.db");
    let address = format!("127.0.0.1:{port}");
    let cart = || {
        let mut cmd = s.cart();
        cmd.env("TEMPORAL_ADDRESS", &address);
        cmd
    };
    let worker_cmd = || {
        Running(Some(
            Command::new(assert_cmd::cargo::cargo_bin("cart"))
                .arg("worker")
                .env_clear()
                .env("TEMPORAL_ADDRESS", &address)
                .env("CART_TASK_QUEUE", &s.queue)
                .env("CART_DATA_DIR", s.data())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ))
    };
    let ready = || async {
        cart()
            .args(["list"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(drop)
    };

    let server = dev_server(port, &db);
    eventually(Duration::from_secs(30), "the server", ready).await;
    let worker = worker_cmd();
    let id = unique("CART-db");
    let out = cart()
        .args(["add", &id, "--product", "3", "--qty", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stop(server);
    stop(worker);

    let server = dev_server(port, &db);
    eventually(Duration::from_secs(30), "the restarted server", ready).await;
    let worker = worker_cmd();
    let out = cart()
        .args(["add", &id, "--product", "3", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        view["items"][0]["quantity"], 3,
        "the cart kept its 2 and got 1 more"
    );
    stop(worker);
    stop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carts_that_do_not_fit_in_the_cache_come_back_by_replay() {
    let s = Setup::new().await;
    // One cart in memory at a time: every switch between carts evicts one and rebuilds
    // another from its history.
    let _worker = s.spawn_worker_with(&[("CART_MAX_CACHED_CARTS", "1")]).await;
    let ids: Vec<String> = (0..3).map(|_| unique("CART-evict")).collect();
    for round in 1..=3 {
        for (product, id) in ids.iter().enumerate() {
            s.ok(&["add", id, "--product", &product.to_string()]);
            let view = s.ok_json(&["show", id, "--output", "json"]);
            assert_eq!(view["items"][0]["quantity"], round, "{view}");
            assert_eq!(view["items"][0]["product_id"], product, "{view}");
        }
    }
    s.ok(&["checkout", &ids[0], "--email", "ann@example.com"]);
    assert_eq!(s.charges().len(), 1, "{:?}", s.charges());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_that_reaches_a_stalled_worker_late_is_sent_again_and_charges_once() {
    let s = Setup::new().await;
    let worker = s.spawn_worker().await;
    let id = unique("CART-stall");
    s.ok(&["add", &id, "--product", "1"]);

    // The worker hangs past the checkout's deadline and its workflow task's timeout, then
    // comes back: the cart refuses the change as too late, and `cart` sends it once more.
    worker.pause();
    let mut checkout = s.cart();
    checkout
        .env("CART_LOG", "cart=debug")
        .args(checkout_args(&id));
    let checkout = tokio::task::spawn_blocking(move || checkout.output().unwrap());
    tokio::time::sleep(Duration::from_secs(14)).await;
    worker.resume();
    let out = checkout.await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the change reached the cart after its deadline"),
        "{}",
        stderr(&out)
    );
    let paid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(paid["status"], "checked_out");
    assert_eq!(s.charges().len(), 1, "{:?}", s.charges());
}

/// Three workers on one task queue; many clients change and check out carts at once; two
/// workers are killed part-way. What each cart ends with is exactly what its clients sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_two_killed_part_way_every_change_lands_once() {
    const CARTS: usize = 12;
    /// Each cart gets these adds (product ids), one client request each.
    const ADDS: [i64; 5] = [0, 1, 2, 3, 0];
    let s = Setup::new().await;
    let doomed = [s.spawn_worker().await, s.spawn_worker().await];
    let _survivor = s.spawn_worker().await;
    let ids: Vec<cart::domain::CartId> = (0..CARTS).map(|_| unique_cart()).collect();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // One client task per cart, all at once: the adds, then the checkout through the real
    // `cart` binary, as a person's terminal would send it.
    let mut clients = Vec::new();
    for id in ids.clone() {
        let carts = CartClient::new(s.env.client().clone(), &s.queue, Duration::from_secs(120));
        let done = done.clone();
        let vars = s.vars();
        clients.push(tokio::spawn(async move {
            for product in ADDS {
                carts
                    .add(&id, add(product, 1), input(LONG, LONG))
                    .await
                    .unwrap_or_else(|e| {
                        panic!("add {product} to {id}: {}", cart::report::line(&e))
                    });
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let out = tokio::task::spawn_blocking(move || {
                assert_cmd::Command::cargo_bin("cart")
                    .unwrap()
                    .env_clear()
                    .envs(vars)
                    .env("CART_WAIT", "120s")
                    .args(checkout_args(id.as_str()))
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(out.status.success(), "checkout: {}", stderr(&out));
        }));
    }

    // Part-way (a quarter of the adds answered), two of the three workers die without warning.
    eventually(
        Duration::from_secs(120),
        "a quarter of the adds",
        || async {
            (done.load(std::sync::atomic::Ordering::SeqCst) >= CARTS * ADDS.len() / 4).then_some(())
        },
    )
    .await;
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst) < CARTS * ADDS.len(),
        "the workers died after every add: nothing was in flight"
    );
    for worker in doomed {
        worker.kill();
    }
    for client in clients {
        client.await.unwrap();
    }

    // Every cart holds exactly what was added, is paid, and was charged once for its total.
    let charges = ledger(s.data());
    let carts = s.client();
    for id in &ids {
        let view = carts.get(id).await.unwrap();
        assert_eq!(view.status, cart::domain::Status::CheckedOut, "{id}");
        let lines: Vec<(i64, u32)> = view
            .items
            .iter()
            .map(|l| (i64::from(l.product_id), l.quantity))
            .collect();
        assert_eq!(lines, [(0, 2), (1, 1), (2, 1), (3, 1)], "{id}");
        let paid: Vec<_> = charges.iter().filter(|c| &c.cart_id == id).collect();
        assert_eq!(paid.len(), 1, "{id} was charged {} times", paid.len());
        assert_eq!(paid[0].amount, view.total, "{id}");
    }
    assert_eq!(charges.len(), CARTS);
}

/// Ctrl-C on a first `cart add` that no worker has taken (its worker was killed a moment ago,
/// and the server still lists it, so the client waits) ends the cart the add started: exit
/// 130, and no cart is left behind for a worker to find empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_a_first_add_nobody_took_leaves_no_cart() {
    use temporalio_common::protos::temporal::api::enums::v1::WorkflowExecutionStatus as Run;
    let s = Setup::new().await;
    s.spawn_worker().await.kill();
    let id = unique("CART-ctrlc");
    let child = Command::new(assert_cmd::cargo::cargo_bin("cart"))
        .args(["add", &id, "--product", "1"])
        .env_clear()
        .envs(s.vars())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cart = cart::domain::CartId::parse(&id).unwrap();
    let status = || run_status(&s.env, &cart);
    // Once the cart exists, the person gives up.
    eventually(Duration::from_secs(20), "the cart to start", || async {
        status().await.filter(|s| *s == Run::Running as i32)
    })
    .await;
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "interrupted; no worker had taken the change, so cart {id} was not kept"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(status().await, Some(Run::Terminated as i32));
}
