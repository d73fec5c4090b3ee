//! The real `temporal` CLI against a test's server, as the tutorial's README drives carts.

use super::temporal_bin;
use cart::domain::CartId;

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
