//! The prompt mode and terminal output, through a real pseudo-terminal: what a person typing
//! at `cart` sees, against a real server and a real worker.

use super::{Setup, stderr};
use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession as Session;
use expectrl::{ControlCode, Eof, Expect, Regex};
use std::time::Duration;

const DOWN: &str = "\x1b[B";
const UP: &str = "\x1b[A";

/// `cart ARGS` on a pseudo-terminal `cols` wide, with the given settings.
fn on_terminal(vars: &[(&str, String)], args: &[&str], cols: u16) -> Session {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cart"));
    cmd.args(args)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("TERM", "xterm-256color");
    let mut session = Session::spawn(cmd).expect("spawn cart on a pseudo-terminal");
    session
        .get_process_mut()
        .set_window_size(cols, 40)
        .expect("set the terminal size");
    session.set_expect_timeout(Some(Duration::from_secs(60)));
    session
}

/// Waits for the program to end; returns what it printed not yet read, and its exit code.
fn finish(mut session: Session) -> (String, i32) {
    let rest = session.expect(Eof).expect("the program ends");
    let rest = text(rest.get(0).unwrap_or_default());
    match session.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("cart did not exit normally: {other:?}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_prompt_shops_with_menus_and_command_lines() {
    let setup = Setup::new().await;
    let _worker = setup.spawn_worker().await;
    // Plain `cart` on a terminal opens the prompt.
    let mut p = on_terminal(&setup.vars(), &[], 100);

    // It opens at the command line; Enter on an empty line offers the carts. No open carts
    // yet: the first choice starts one, and it becomes the current cart.
    p.expect("cart> ").unwrap();
    p.send("\r").unwrap();
    p.expect("Which cart?").unwrap();
    p.send("\r").unwrap();
    let found = p.expect(Regex(r"cart (CART-[0-9a-f]{12})> ")).unwrap();
    let cart = text(found.get(1).unwrap());

    // A command line acts on the current cart.
    p.send_line("add --product 1 --qty 2").unwrap();
    p.expect("iPhone 12").unwrap();
    p.expect("$1,398.00").unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();

    // The menu: add a product picked from the list, quantity typed in.
    p.send("\r").unwrap();
    p.expect("What next?").unwrap();
    p.send("\r").unwrap(); // Add a product
    p.expect("Which product?").unwrap();
    p.send(format!("{DOWN}{DOWN}\r")).unwrap(); // iPhone SE
    p.expect("How many?").unwrap();
    p.send("3\r").unwrap();
    p.expect(format!("> cart add {cart} --product 2 --qty 3"))
        .unwrap();
    p.expect("$1,197.00").unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();

    // A quantity out of range is refused as it is typed; Ctrl-C cancels the step.
    p.send("\r").unwrap();
    p.expect("What next?").unwrap();
    p.send("\r").unwrap();
    p.expect("Which product?").unwrap();
    p.send("\r").unwrap();
    p.expect("How many?").unwrap();
    p.send("500\r").unwrap();
    p.expect("enter a number from 1 to 99").unwrap();
    // dialoguer puts the terminal in raw mode only while it waits for a key; a Ctrl-C that
    // lands in the instant between two keys is a plain SIGINT it does not see. A person never
    // types that fast; the test waits until the prompt is reading again.
    std::thread::sleep(Duration::from_millis(500));
    p.send(ControlCode::EndOfText).unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();

    // A refused command says why and leaves the prompt (and the cart) as they were.
    p.send_line("email not-an-address").unwrap();
    p.expect("error:").unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();

    // Ctrl-C on an empty line only clears it.
    p.send(ControlCode::EndOfText).unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();

    // History: the up arrow brings back the last line.
    p.send_line("show").unwrap();
    p.expect("Total: $2,595.00").unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();
    p.send(format!("{UP}\r")).unwrap();
    p.expect("Total: $2,595.00").unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();

    p.send_line("help").unwrap();
    p.expect("use CART-").unwrap();
    // Keys go out only once the prompt shows: rustyline reads raw keys from then on.
    p.expect(format!("cart {cart}> ")).unwrap();

    // Ctrl-D leaves.
    p.send(ControlCode::EndOfTransmission).unwrap();
    assert_eq!(finish(p).1, 0);

    // What the prompt did is what the one-shot command sees.
    let json: serde_json::Value =
        serde_json::from_str(&setup.ok(&["show", &cart, "--output", "json"])).unwrap();
    let items: Vec<(u64, u64)> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product_id"].as_u64().unwrap(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(items, [(1, 2), (2, 3)]);
    assert!(json["email"].is_null());
}

#[tokio::test]
async fn the_prompt_survives_an_unreachable_server_and_exit_leaves() {
    let vars = [
        ("TEMPORAL_ADDRESS", "127.0.0.1:1".to_owned()),
        ("NO_COLOR", "1".to_owned()),
    ];
    let mut p = on_terminal(&vars, &["shell"], 100);
    // Opening does not need the server; the picker (an empty Enter) does, and says so.
    p.expect("cart> ").unwrap();
    p.send("\r").unwrap();
    p.expect("cannot reach Temporal at 127.0.0.1:1").unwrap();
    p.expect("hint:").unwrap();
    p.expect("cart> ").unwrap();
    p.send_line("help").unwrap();
    p.expect("make another cart the current one").unwrap();
    p.expect("cart> ").unwrap();
    p.send_line("exit").unwrap();
    assert_eq!(finish(p).1, 0);
}

#[test]
fn without_a_terminal_the_prompt_says_so() {
    let shell = assert_cmd::Command::cargo_bin("cart")
        .unwrap()
        .env_clear()
        .arg("shell")
        .write_stdin("show\n")
        .output()
        .unwrap();
    assert_eq!(shell.status.code(), Some(2));
    assert!(stderr(&shell).contains("the prompt needs a terminal"));
    assert!(stderr(&shell).contains("hint:"));

    let bare = assert_cmd::Command::cargo_bin("cart")
        .unwrap()
        .env_clear()
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(stderr(&bare).contains("no command given"));
}

/// The settings of a test's `cart`, with or without `NO_COLOR`, the width left to the
/// terminal.
fn vars_of(s: &Setup, no_color: bool) -> Vec<(&'static str, String)> {
    let mut vars = s.vars();
    vars.retain(|(k, _)| *k != "COLUMNS" && (*k != "NO_COLOR" || no_color));
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_colour_unless_no_color_is_set() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let mut coloured = on_terminal(&vars_of(&s, false), &["products"], 100);
    coloured.expect("\x1b[1m").unwrap(); // bold headers
    assert_eq!(finish(coloured).1, 0);

    let plain = on_terminal(&vars_of(&s, true), &["products"], 100);
    let (out, code) = finish(plain);
    assert_eq!(code, 0);
    assert!(out.contains("iPhone 12 Pro"), "{out}");
    assert!(!out.contains("\x1b["), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_fit_a_narrow_terminal() {
    let s = Setup::new().await;
    let _worker = s.spawn_worker().await;
    let p = on_terminal(&vars_of(&s, true), &["products"], 24);
    let (out, code) = finish(p);
    assert_eq!(code, 0);
    assert!(out.contains("iPhone"), "{out}");
    for line in out.lines() {
        assert!(
            line.chars().count() <= 24,
            "wider than 24 columns: {line:?}"
        );
    }
}

#[tokio::test]
async fn ctrl_c_cancels_a_command_that_is_waiting() {
    // No worker: a change waits (up to five seconds) for one to appear before it is sent.
    let setup = Setup::new().await;
    let mut p = on_terminal(&setup.vars(), &["shell"], 100);
    p.expect("cart> ").unwrap();
    p.send_line("add CART-waiting --product 0").unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("cancelled").unwrap();
    p.expect("cart> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    let (rest, code) = finish(p);
    assert_eq!(code, 0);
    assert!(!rest.contains("no worker"), "{rest}");
}

#[tokio::test]
async fn a_command_typed_at_once_runs_as_typed() {
    // A person who starts typing as soon as the prompt starts, before it has drawn anything:
    // the line is a command, not keys for a menu.
    let setup = Setup::new().await;
    let _worker = setup.spawn_worker().await;
    let cart = crate::support::unique("CART-typed");
    let mut p = on_terminal(&setup.vars(), &["shell"], 100);
    p.send_line(format!("add {cart} --product 2 --qty 2"))
        .unwrap();
    p.expect("iPhone SE").unwrap();
    p.expect("$798.00").unwrap();
    p.expect(format!("cart {cart}> ")).unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    let (rest, code) = finish(p);
    assert_eq!(code, 0, "{rest}");
    let json: serde_json::Value =
        serde_json::from_str(&setup.ok(&["show", &cart, "--output", "json"])).unwrap();
    assert_eq!(json["items"][0]["product_id"], 2);
    assert_eq!(json["items"][0]["quantity"], 2);
}
