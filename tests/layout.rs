//! Dependencies point inward: the cart rules know nothing of Temporal, async runtimes, HTTP
//! or the terminal, and nothing below the command line knows about the terminal.

use std::path::Path;

fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// Whether `text` names `word` as a whole path: `crate::cli` is named by `crate::cli::run`
/// but not by `crate::client`.
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        !text[at + word.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn assert_never_names(dir: &str, forbidden: &[&str]) {
    for (path, text) in sources(dir) {
        for word in forbidden {
            assert!(!names(&text, word), "{path} names {word}");
        }
    }
}

#[test]
fn the_domain_is_plain_rust() {
    assert_never_names(
        "src/domain",
        &[
            "temporalio",
            "tokio",
            "reqwest",
            "stripe",
            "axum",
            "utoipa",
            "clap",
            "comfy_table",
            "dialoguer",
            "crate::workflow",
            "crate::activities",
            "crate::cli",
        ],
    );
}

#[test]
fn workflow_activities_and_api_know_nothing_of_the_terminal() {
    for dir in ["src/workflow", "src/activities", "src/api"] {
        assert_never_names(
            dir,
            &[
                "clap",
                "comfy_table",
                "console",
                "dialoguer",
                "rustyline",
                "crate::cli",
            ],
        );
    }
}

#[test]
fn the_workflow_uses_no_runtime_primitives() {
    assert_never_names(
        "src/workflow",
        &[
            "tokio::",
            "std::thread",
            "SystemTime::now",
            "Timestamp::now",
        ],
    );
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    assert_never_names(
        "src/activities",
        &[
            "crate::workflow",
            "crate::worker",
            "crate::client",
            "crate::api",
            "crate::cli",
        ],
    );
    assert_never_names(
        "src/workflow",
        &["crate::worker", "crate::client", "crate::api", "crate::cli"],
    );
    assert_never_names("src/client", &["crate::worker", "crate::api", "crate::cli"]);
    assert_never_names("src/api", &["crate::worker", "crate::cli"]);
}
