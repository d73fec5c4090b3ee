//! The real `cart` binary, with a cleared environment, against a real Temporal dev server and
//! a real `cart worker` process.

mod completion;
mod deploy;
mod errors;
mod orders;
mod processes;
mod prompt;
mod readme;
mod round_trips;
mod search;
mod session;
mod tls;
mod transcripts;

use crate::support::*;
use std::process::{Child, Stdio};

/// The real `cart` binary and `cart worker` processes on a test's [`Setup`].
impl Setup {
    /// The only settings a test's `cart` gets.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let data = self.data.path().display().to_string();
        vec![
            ("TEMPORAL_ADDRESS", self.address.clone()),
            ("CART_TASK_QUEUE", self.queue.clone()),
            ("CART_DATA_DIR", data.clone()),
            ("CART_WAIT", "60s".to_owned()),
            ("NO_COLOR", "1".to_owned()),
            ("COLUMNS", "100".to_owned()),
            ("HOME", data),
        ]
    }

    /// `cart` with only the settings a test means to give it.
    pub fn cart(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("cart").unwrap();
        cmd.env_clear().envs(self.vars());
        cmd
    }

    /// Runs `cart ARGS` and returns what a terminal would show (stdout and stderr merged in
    /// the order written) and the exit code.
    pub fn merged<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> (String, i32) {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(assert_cmd::cargo::cargo_bin("cart"))
            .args(args)
            .env_clear()
            .envs(self.vars())
            .output()
            .unwrap();
        (stdout(&out), out.status.code().unwrap_or(-1))
    }

    /// Runs `cart ARGS`, which must succeed, and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cart().args(args).output().unwrap();
        assert!(out.status.success(), "cart {args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Runs `cart ARGS --output json`, which must succeed, and returns what it printed.
    pub fn ok_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(&[args, &["--output", "json"]].concat());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("cart {args:?}: {e}: {out}"))
    }

    /// Starts `cart worker` and waits until it polls the task queue.
    pub async fn spawn_worker(&self) -> WorkerProcess {
        self.spawn_worker_with(&[]).await
    }

    /// `spawn_worker` with extra environment variables (provider settings, or others that
    /// replace the defaults).
    pub async fn spawn_worker_with(&self, vars: &[(&str, &str)]) -> WorkerProcess {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cart"))
            .arg("worker")
            .env_clear()
            .env("TEMPORAL_ADDRESS", &self.address)
            .env("CART_TASK_QUEUE", &self.queue)
            .env("CART_DATA_DIR", self.data.path())
            .env("HOME", self.data.path())
            .env("NO_COLOR", "1")
            // The test's own settings last: they may replace the ones above.
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cart worker");
        let log = drain(&mut child);
        wait_for_worker(&self.client()).await;
        WorkerProcess {
            child: Some(child),
            log: Some(log),
        }
    }
}

/// Reads a child's stderr to the end on a thread of its own, so the child never blocks on a
/// full pipe however much it logs; joining the thread gives what it wrote.
fn drain(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    })
}

/// A `cart worker` process; killed when dropped.
pub struct WorkerProcess {
    child: Option<Child>,
    log: Option<std::thread::JoinHandle<String>>,
}

impl WorkerProcess {
    fn signal(&self, name: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGSTOP: the process holds its connections and does nothing until `resume`.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// SIGTERM, then the exit status and what it logged.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal("TERM");
        let status = self.child.take().unwrap().wait().unwrap();
        let log = self.log.take().unwrap().join().unwrap_or_default();
        (status, log)
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        self.signal("KILL");
        let _ = self.child.take().unwrap().wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `cart checkout ID` for ann@example.com, answering in JSON.
pub fn checkout_args(id: &str) -> [&str; 6] {
    [
        "checkout",
        id,
        "--email",
        "ann@example.com",
        "--output",
        "json",
    ]
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
