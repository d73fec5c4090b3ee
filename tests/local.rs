//! The local tier: what plain `cargo test` runs beside the unit, property and router tests of
//! the library, with nothing installed and no server: the layout rules, the test targets
//! themselves, and every recorded history replayed against today's workflow code.

mod fixtures;
mod layout;
mod targets;

#[tokio::test]
async fn every_recorded_history_replays() {
    let mut files = Vec::new();
    for release in std::fs::read_dir(fixtures::dir("")).unwrap() {
        let release = release.unwrap().path();
        if release.is_dir() {
            for file in std::fs::read_dir(&release).unwrap() {
                files.push(file.unwrap().path());
            }
        }
    }
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    assert!(files.len() >= 5, "the recorded histories are missing");
    let mut failures = Vec::new();
    for file in files {
        let json = std::fs::read(&file).unwrap();
        if let Err(e) = fixtures::replay(&json).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
