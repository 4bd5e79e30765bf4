//! The layer rules of docs/architecture.md, checked on the source: which folders each
//! folder's code may name (`crate::x`), that only app/ reads the environment, that the core
//! does no I/O, and the size limits (files <= 700 lines, functions <= 80 lines outside tests).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("readable source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules a file names through `crate::<module>`.
fn named_layers(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// (folder, the folders its code may name besides itself).
const RULES: &[(&str, &[&str])] = &[
    ("core", &["error"]),
    ("ports", &["core", "error"]),
    ("aws", &["core", "ports", "error"]),
    ("chat", &["core", "ports", "error"]),
    ("notify", &["core", "ports", "error"]),
];

#[test]
fn arrows_point_down_core_and_edges_never_name_higher_layers() {
    let mut broken = Vec::new();
    for (layer, allowed) in RULES {
        for file in rust_files(&src().join(layer)) {
            let text = std::fs::read_to_string(&file).expect("source");
            for named in named_layers(&text) {
                if named != *layer && !allowed.contains(&named.as_str()) {
                    broken.push(format!("{} names crate::{named}", file.display()));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layer rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_rule_check_sees_a_violation() {
    // A rule check that never fires proves nothing: it must see `crate::app` here.
    let layers =
        named_layers("use crate::app::settings::Settings;\nlet x = crate::aws::store::Store::new;");
    assert_eq!(
        layers,
        BTreeSet::from(["app".to_string(), "aws".to_string()])
    );
}

#[test]
fn only_app_reads_the_environment_and_the_core_does_no_io() {
    let mut broken = Vec::new();
    for file in rust_files(&src()) {
        let rel = file.strip_prefix(src()).expect("under src").to_path_buf();
        let text = std::fs::read_to_string(&file).expect("source");
        let in_app = rel.starts_with("app") || rel == Path::new("main.rs");
        if !in_app && text.contains("std::env::var") {
            broken.push(format!("{} reads the environment", rel.display()));
        }
        if rel.starts_with("core") {
            for io in [
                "std::fs", "Utc::now", "tokio", "aws_sdk", "reqwest", "std::env",
            ] {
                if text.contains(io) {
                    broken.push(format!("{} (core) uses {io}", rel.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// Functions longer than 80 lines before the file's `#[cfg(test)]` part (files that are
/// test modules themselves, `tests.rs` / `tests/`, fixtures, are left out).
fn long_functions(file: &Path, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let body = body
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .trim_start_matches("const ");
        if !body.starts_with("fn ") {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == close) {
            let len = end + 2;
            if len > 80 {
                out.push(format!("{}:{} ({len} lines)", file.display(), i + 1));
            }
        }
    }
    out
}

#[test]
fn files_and_functions_stay_short() {
    let mut broken = Vec::new();
    for file in rust_files(&src()) {
        let text = std::fs::read_to_string(&file).expect("source");
        let lines = text.lines().count();
        if lines > 700 {
            broken.push(format!("{}: {lines} lines", file.display()));
        }
        let rel = file.strip_prefix(src()).expect("under src");
        let test_module = rel.components().any(|c| c.as_os_str() == "tests")
            || rel.ends_with("tests.rs")
            || rel.ends_with("fixtures.rs");
        if !test_module {
            broken.extend(long_functions(&file, &text));
        }
    }
    assert!(broken.is_empty(), "too long:\n{}", broken.join("\n"));
}

#[test]
fn the_length_check_sees_a_long_function() {
    let long = format!("pub fn long() {{\n{}}}\n", "    step();\n".repeat(85));
    let short = "fn short() {\n    step();\n}\n";
    assert_eq!(long_functions(Path::new("x.rs"), &long).len(), 1);
    assert!(long_functions(Path::new("y.rs"), short).is_empty());
}
