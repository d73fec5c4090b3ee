//! Every file under tests/ is part of a test target: a module file that no target reaches
//! would never compile, and its tests would silently never run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `path`s of Cargo.toml's `[[test]]` targets.
fn targets() -> Vec<PathBuf> {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let tests = manifest["test"].as_array().expect("[[test]] targets");
    tests
        .iter()
        .map(|t| root().join(t["path"].as_str().expect("a target's path")))
        .collect()
}

/// The files `file` declares as modules (`mod name;`, with or without `#[path]`), where a
/// crate root or `mod.rs` at `file` looks for them.
fn declared(file: &Path, crate_root: bool) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(file).unwrap();
    let dir = if crate_root || file.ends_with("mod.rs") {
        file.parent().unwrap().to_owned()
    } else {
        file.with_extension("")
    };
    let mut found = Vec::new();
    let mut path_attr: Option<String> = None;
    let mut cfg = false;
    for line in text.lines().map(str::trim) {
        if let Some(p) = line.strip_prefix("#[path = \"") {
            path_attr = p.strip_suffix("\"]").map(str::to_owned);
            continue;
        }
        if line.starts_with("#[cfg") {
            cfg = true;
            continue;
        }
        let decl = line.strip_prefix("pub ").unwrap_or(line);
        let decl = decl.strip_prefix("pub(crate) ").unwrap_or(decl);
        if let Some(name) = decl.strip_prefix("mod ").and_then(|d| d.strip_suffix(';')) {
            // A module behind a cfg may never compile; its file would count as reached.
            assert!(
                !std::mem::take(&mut cfg),
                "{}: `mod {name};` is behind #[cfg]: every test module always compiles",
                file.display()
            );
            match path_attr.take() {
                Some(p) => found.push(file.parent().unwrap().join(p)),
                None => {
                    let flat = dir.join(format!("{name}.rs"));
                    let nested = dir.join(name).join("mod.rs");
                    found.push(if flat.exists() { flat } else { nested });
                }
            }
        } else if !line.starts_with("#[") {
            path_attr = None;
            cfg = false;
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|x| x == "rs") {
            into.insert(path);
        }
    }
}

#[test]
fn every_test_file_belongs_to_a_target() {
    let mut reached = BTreeSet::new();
    let mut todo: Vec<(PathBuf, bool)> = targets().into_iter().map(|t| (t, true)).collect();
    while let Some((file, crate_root)) = todo.pop() {
        assert!(file.exists(), "{} is declared but missing", file.display());
        if reached.insert(file.clone()) {
            todo.extend(declared(&file, crate_root).into_iter().map(|f| (f, false)));
        }
    }
    let mut all = BTreeSet::new();
    rust_files(&root().join("tests"), &mut all);
    let orphans: Vec<_> = all
        .difference(&reached)
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        orphans.is_empty(),
        "files under tests/ that no test target compiles (declare them with `mod`, or add a \
         [[test]] target in Cargo.toml): {orphans:?}"
    );
}
