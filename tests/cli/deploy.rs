//! The systemd units docs/operations.md gives for production are valid units.

use std::path::Path;

/// Every code block of docs/operations.md whose first line names a file under
/// /etc/systemd/system.
fn units() -> Vec<(String, String)> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md");
    let text = std::fs::read_to_string(doc).unwrap();
    text.split("```ini\n")
        .skip(1)
        .filter_map(|block| {
            let block = block.split("```").next()?;
            let name = block
                .lines()
                .next()?
                .strip_prefix("# /etc/systemd/system/")?;
            Some((name.to_owned(), block.to_owned()))
        })
        .collect()
}

#[test]
fn the_documented_systemd_units_verify() {
    let units = units();
    let names: Vec<&str> = units.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["cart-worker.service", "cart-serve.service"]);
    let Ok(found) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed here: the units are not verified");
        return;
    };
    assert!(found.status.success());
    let dir = tempfile::tempdir().unwrap();
    let cart = assert_cmd::cargo::cargo_bin("cart");
    let mut paths = Vec::new();
    for (name, text) in &units {
        // The installed path does not exist here; systemd checks that ExecStart's does.
        let text = text.replace("/usr/local/bin/cart", &cart.display().to_string());
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.trim().is_empty(), "systemd-analyze warns: {said}");
}
