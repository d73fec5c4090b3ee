//! What a person sees for every command, success and failure: one snapshot per situation,
//! stdout and stderr as a terminal shows them (merged), with the exit code. Ids are fixed by
//! the test; the task queue, ports and times are redacted.

use super::Setup;
use regex::Regex;

/// `$ cart ARGS`, what it printed and its exit code, with the varying parts redacted.
fn run(s: &Setup, args: &[&str]) -> String {
    let (printed, code) = s.merged(args);
    let printed = printed
        .replace(&s.queue, "QUEUE")
        .replace(&s.address, "ADDRESS");
    let time = Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC").unwrap();
    let charge = Regex::new(r"ch_local_[0-9a-f]{32}").unwrap();
    let refund = Regex::new(r"re_local_[0-9a-f]{32}").unwrap();
    let printed = time.replace_all(&printed, "2026-01-01 00:00:00 UTC");
    let printed = refund.replace_all(&printed, "re_local_REFUND-ID-0000000000000000000000");
    let printed = charge.replace_all(&printed, "CHARGE-ID");
    format!("$ cart {}\n{printed}[exit {code}]\n", args.join(" "))
}

fn session(s: &Setup, commands: &[&[&str]]) -> String {
    commands
        .iter()
        .map(|args| run(s, args))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_as_a_person_sees_it() {
    let s = Setup::new().await;
    // Before any worker runs.
    insta::assert_snapshot!(
        "no_worker",
        session(&s, &[&["add", "CART-snap", "--product", "0"]])
    );
    let _worker = s.spawn_worker().await;
    insta::assert_snapshot!(
        "successes",
        session(
            &s,
            &[
                &["new", "--id", "CART-snap", "--remind-after", "1h"],
                &["add", "CART-snap", "--product", "1", "--qty", "3"],
                &["remove", "CART-snap", "--product", "1", "--qty", "1"],
                &["email", "CART-snap", "ann@example.com"],
                &["list"],
                &["show", "CART-snap", "--ui-url", "http://ui.example"],
                &["checkout", "CART-snap"],
                &[
                    "refund",
                    "CART-snap",
                    "--amount",
                    "100.00",
                    "--reason",
                    "one returned",
                    "--id",
                    "r1"
                ],
                &[
                    "ship",
                    "CART-snap",
                    "--tracking",
                    "1Z999AA1",
                    "--carrier",
                    "UPS"
                ],
            ]
        )
    );
    insta::assert_snapshot!(
        "failures",
        session(
            &s,
            &[
                &["new", "--id", "CART-snap"],
                &["new", "--id", "snap"],
                &["new", "--email", "ann"],
                &["add", "CART-other", "--product", "9"],
                &["add", "CART-other", "--product", "0", "--qty", "100"],
                &["add", "CART-other", "--product", "0", "--qty", "0"],
                &["remove", "CART-other", "--product", "3"],
                &["email", "CART-other", "ann.example.com"],
                &["checkout", "CART-other"],
                &[
                    "checkout",
                    "CART-other",
                    "--email",
                    "ann@example.com",
                    "--payment",
                    "tok_chargeDeclined"
                ],
                &["add", "CART-snap", "--product", "0"],
                &["refund", "CART-snap", "--amount", "5000.00"],
                &["refund", "CART-snap", "--amount", "0"],
                &["cancel", "CART-snap"],
                &["refund", "CART-other"],
                &["show", "CART-missing"],
                &["show"],
                &["list", "--output", "yaml"],
                &["worker", "--catalog", "/nonexistent.toml"],
                &["completions", "tcsh"],
                &["shell"],
                &["list", "--address", "127.0.0.1:1"],
                &["demo", "--address", "127.0.0.1:1"],
            ]
        )
    );
}
