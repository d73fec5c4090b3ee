//! The documentation's transcripts are what the program prints. Every ```console block in
//! README.md, ARCHITECTURE.md, CONTRIBUTING.md and docs/*.md starts with `$ cart …`; the test
//! runs that command (stderr merged into stdout, as on a terminal) against a real server and
//! compares, with generated ids and charge numbers made constant. The documents are read in
//! that order (docs/ by name), each from top to bottom, against one server and one worker. After
//! a deliberate change, `CART_UPDATE_README=1 cargo test --test server readme` rewrites the
//! blocks of every document in place.

use super::Setup;
use regex::Regex;
use std::path::{Path, PathBuf};

const FENCE: &str = "```console\n";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents whose transcripts run, in the order they run: README.md, ARCHITECTURE.md and
/// CONTRIBUTING.md where they exist, then every docs/*.md by name.
fn documents() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"]
        .into_iter()
        .map(|name| root().join(name))
        .filter(|path| path.exists())
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ directory")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Ids, charge numbers and encrypted data are random; the documents show one fixed example of
/// each.
fn constant(text: &str) -> String {
    let cart = Regex::new(r"CART-[0-9a-f]{12}").unwrap();
    let charge = Regex::new(r"ch_local_[0-9a-f]{32}").unwrap();
    let sealed = Regex::new(r"data: +[A-Za-z0-9+/]{32}… \(").unwrap();
    let refund = Regex::new(r"re_local_[0-9a-f]{32}").unwrap();
    let refund_id = Regex::new(r"\br-[0-9a-f]{12}\b").unwrap();
    let time = Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC").unwrap();
    let text = cart.replace_all(text, "CART-3f9c2a7b41d0");
    let text = refund.replace_all(&text, "re_local_0b9d6c4a2e8f4d1a9c3b7e5f2a6d8c1b");
    let text = refund_id.replace_all(&text, "r-7d41c9a0b2e6");
    let text = time.replace_all(&text, "2027-01-30 12:00:00 UTC");
    let text = charge.replace_all(&text, "ch_local_5e0c8a5b1b0f4e4c9d2a7f3b6c1d8e9a");
    sealed
        .replace_all(&text, "data:     9J3B+LTkm2BomG2Zxk2zSHpmMxx4/159… (")
        .into_owned()
}

/// What `cart ARGS` prints on a terminal, stdout and stderr in the order written; `document`
/// names the file the command is shown in.
fn transcript(setup: &Setup, document: &str, command: &str) -> String {
    let words = shlex::split(command)
        .unwrap_or_else(|| panic!("{document}: `{command}` does not split like a shell line"));
    assert_eq!(
        words[0], "cart",
        "{document}: transcripts run cart: {command}"
    );
    let (printed, code) = setup.merged(&words[1..]);
    assert_eq!(code, 0, "{document}: {command}: {printed}");
    constant(&printed)
}

/// Runs the transcripts of the document at `path` (named `document`) from top to bottom.
/// Returns the document with every transcript as `cart` prints it now, and the commands run.
fn run_document(setup: &Setup, path: &Path, document: &str) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut updated = String::new();
    let mut rest = text.as_str();
    let mut commands = Vec::new();
    while let Some(start) = rest.find(FENCE) {
        let body_start = start + FENCE.len();
        let body_len = rest[body_start..]
            .find("```")
            .unwrap_or_else(|| panic!("{document}: a console block is not closed"));
        let body = &rest[body_start..body_start + body_len];
        let (first, shown) = body.split_once('\n').unwrap_or((body, ""));
        let command = first
            .strip_prefix("$ ")
            .unwrap_or_else(|| panic!("{document}: a console block starts with `$ `: {first}"));
        let printed = transcript(setup, document, command);
        if std::env::var_os("CART_UPDATE_README").is_none() {
            assert_eq!(
                shown, printed,
                "{document}'s transcript of `{command}` is out of date"
            );
        }
        updated.push_str(&rest[..body_start]);
        updated.push_str(&format!("{first}\n{printed}"));
        rest = &rest[body_start + body_len..];
        commands.push(command.to_owned());
    }
    updated.push_str(rest);
    (updated, commands)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_transcripts_are_what_cart_prints() {
    let setup = Setup::new().await;
    let _worker = setup.spawn_worker().await;
    let mut ran: Vec<(String, String)> = Vec::new();
    for path in documents() {
        let document = path
            .strip_prefix(root())
            .unwrap_or(path.as_path())
            .display()
            .to_string();
        let (updated, commands) = run_document(&setup, &path, &document);
        if std::env::var_os("CART_UPDATE_README").is_some() {
            std::fs::write(&path, updated).unwrap();
        }
        ran.extend(commands.into_iter().map(|c| (document.clone(), c)));
    }
    assert!(
        ran.iter().any(|(document, _)| document == "README.md"),
        "README.md should show a transcript"
    );
    for command in ["cart demo", "cart products"] {
        assert!(
            ran.iter().any(|(_, c)| c == command),
            "the documentation should show `{command}`; it shows {ran:?}"
        );
    }
}
