//! What a worker's data directory holds: the outbox's e-mails and the local ledger's charges.

use std::path::PathBuf;

/// An `.eml` file as text, with quoted-printable soft line breaks and `=3D` undone, so tests
/// can look for what a reader sees.
pub fn read_eml(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .replace("=\r\n", "")
        .replace("=3D", "=")
}

/// The abandoned-cart reminders in a data directory's outbox.
pub fn reminders(data_dir: &std::path::Path) -> Vec<PathBuf> {
    outbox(data_dir, "-reminder-")
}

/// The order confirmations in a data directory's outbox.
pub fn confirmations(data_dir: &std::path::Path) -> Vec<PathBuf> {
    outbox(data_dir, "-confirmation")
}

/// The `.eml` files in a data directory's outbox whose names contain `kind`.
fn outbox(data_dir: &std::path::Path, kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir.join("outbox"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .filter(|p| p.to_string_lossy().contains(kind))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

pub fn ledger(data_dir: &std::path::Path) -> Vec<cart::activities::LedgerEntry> {
    cart::activities::LocalLedger::new(data_dir)
        .entries()
        .unwrap()
}
