//! Dynamic completion through a real bash: the registration `COMPLETE=bash cart` prints,
//! asked to complete a cart argument, offers the open carts from the server.

use super::{Setup, stderr, stdout};

/// Runs bash with cart's dynamic completion loaded, completes `line` (the cursor at its end)
/// and returns the candidates.
fn complete(setup: &Setup, line: &str) -> Vec<String> {
    let bin = assert_cmd::cargo::cargo_bin("cart");
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        bin.parent().unwrap().display()
    );
    let script = r#"
source <(COMPLETE=bash cart)
read -ra COMP_WORDS <<< "$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$LINE"
COMP_POINT=${#LINE}
_clap_complete_cart cart "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", script])
        .env_clear()
        .envs(setup.vars())
        .env("PATH", path)
        .env("LINE", line)
        .output()
        .unwrap();
    assert!(out.status.success(), "bash: {}", stderr(&out));
    let mut candidates: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    candidates.sort();
    candidates
}

#[tokio::test]
async fn cart_ids_complete_from_the_open_carts() {
    let setup = Setup::new().await;
    let _worker = setup.spawn_worker().await;
    setup.ok(&["new", "--id", "CART-apple"]);
    setup.ok(&["new", "--id", "CART-apricot"]);
    setup.ok(&["new", "--id", "CART-banana"]);

    assert_eq!(
        complete(&setup, "cart show CART-ap"),
        ["CART-apple", "CART-apricot"]
    );
    // With nothing typed yet, the open carts come alongside the options.
    let all = complete(&setup, "cart add ");
    let carts: Vec<_> = all.iter().filter(|c| c.starts_with("CART-")).collect();
    assert_eq!(carts, ["CART-apple", "CART-apricot", "CART-banana"]);
    assert!(all.contains(&"--product".to_owned()), "{all:?}");
    // Commands and options complete too, from the same definitions.
    assert!(complete(&setup, "cart chec").contains(&"checkout".to_owned()));
}
