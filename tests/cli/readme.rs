//! The README's transcripts are what the program prints. Every ```console block in README.md
//! starts with `$ cart …`; the test runs that command (stderr merged into stdout, as on a
//! terminal) against a real server and compares, with generated ids and charge numbers made
//! constant. After a deliberate change, `CART_UPDATE_README=1 cargo test readme` rewrites the
//! blocks.

use super::Setup;
use regex::Regex;
use std::path::PathBuf;

const FENCE: &str = "```console\n";

fn readme() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

/// Ids, charge numbers and encrypted data are random; the README shows one fixed example of
/// each.
fn constant(text: &str) -> String {
    let cart = Regex::new(r"CART-[0-9a-f]{12}").unwrap();
    let charge = Regex::new(r"ch_local_[0-9a-f]{32}").unwrap();
    let sealed = Regex::new(r"data: +[A-Za-z0-9+/]{32}… \(").unwrap();
    let text = cart.replace_all(text, "CART-3f9c2a7b41d0");
    let text = charge.replace_all(&text, "ch_local_5e0c8a5b1b0f4e4c9d2a7f3b6c1d8e9a");
    sealed
        .replace_all(&text, "data:     9J3B+LTkm2BomG2Zxk2zSHpmMxx4/159… (")
        .into_owned()
}

/// What `cart ARGS` prints on a terminal, stdout and stderr in the order written.
fn transcript(setup: &Setup, command: &str) -> String {
    let words = shlex::split(command).expect("a README command splits like a shell line");
    assert_eq!(words[0], "cart", "README transcripts run cart: {command}");
    let (printed, code) = setup.merged(&words[1..]);
    assert_eq!(code, 0, "{command}: {printed}");
    constant(&printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_transcripts_are_what_cart_prints() {
    let setup = Setup::new().await;
    let _worker = setup.spawn_worker().await;
    let text = std::fs::read_to_string(readme()).unwrap();
    let mut updated = String::new();
    let mut rest = text.as_str();
    let mut checked = 0;
    while let Some(start) = rest.find(FENCE) {
        let body_start = start + FENCE.len();
        let body_len = rest[body_start..]
            .find("```")
            .expect("a closed console block");
        let body = &rest[body_start..body_start + body_len];
        let (first, shown) = body.split_once('\n').unwrap_or((body, ""));
        let command = first
            .strip_prefix("$ ")
            .expect("a console block starts with `$ `");
        let printed = transcript(&setup, command);
        if std::env::var_os("CART_UPDATE_README").is_none() {
            assert_eq!(
                shown, printed,
                "README.md's transcript of `{command}` is out of date"
            );
        }
        updated.push_str(&rest[..body_start]);
        updated.push_str(&format!("{first}\n{printed}"));
        rest = &rest[body_start + body_len..];
        checked += 1;
    }
    updated.push_str(rest);
    if std::env::var_os("CART_UPDATE_README").is_some() {
        std::fs::write(readme(), updated).unwrap();
    }
    assert!(
        checked >= 2,
        "README.md should show `cart demo` and `cart products`"
    );
}
