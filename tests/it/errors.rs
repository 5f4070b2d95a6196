//! The error type itself.

use std::error::Error as _;

use hypernodes::prelude::*;

#[test]
fn error_is_small_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
    // The largest variant holds five names; keep it from growing unnoticed.
    assert_eq!(std::mem::size_of::<Error>(), 88);
}

#[node(output = "parsed")]
fn parse(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

#[test]
fn node_failures_keep_the_user_error_as_source() {
    let err = Pipeline::new([parse::node()])
        .run(&Inputs::new().with("text", "x".to_string()))
        .unwrap_err();
    let source = err.source().expect("a source");
    assert!(source.downcast_ref::<std::num::ParseIntError>().is_some());
    assert_eq!(source.to_string(), "invalid digit found in string");
}

#[test]
fn multiple_errors_list_each_on_a_line() {
    let err = Error::Multiple(vec![Error::EmptyMapOver, Error::UnknownMapMode { mode: "x".into() }]);
    assert_eq!(
        err.to_string(),
        "2 problems found:\n  - map_over is empty: name at least one input to map over\n  - Unknown map mode 'x'. Valid modes: zip, product"
    );
}

/// The places in `src/` that make an [`Error::Internal`](hypernodes::Error::Internal)
/// (directly, or through the columnar engine's `df`/`df_arrow`, or as DataFusion's own
/// internal error): `(file, line, text)`.
fn internal_error_sites() -> Vec<(String, usize, String)> {
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates/core/src", "crates/engine/src"] {
        walk(&root.join(dir), &mut files);
    }
    files.sort();
    let makers = ["Error::Internal(", "map_err(df)", "map_err(df_arrow)"];
    let mut sites = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && makers.iter().any(|m| code.contains(m)) {
                sites.push((name.clone(), i + 1, line.to_string()));
            }
        }
    }
    sites
}

/// No input, node or engine of a user's may reach an internal error: every place that
/// makes one says why it cannot be reached, in an `// Unreachable:` comment on one of
/// the eight lines above it (or its own: a statement may span several lines). The paths that users can reach have errors of
/// their own, tested where they are made.
#[test]
fn every_internal_error_is_argued_unreachable() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let sites = internal_error_sites();
    assert!(sites.len() > 20, "the scan found only {} sites", sites.len());
    let mut unargued = Vec::new();
    for (file, line, text) in &sites {
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        let above = &lines[line.saturating_sub(9)..*line];
        // The helpers that make the error only say who argues for them.
        let helper = above.iter().any(|l| l.contains("fn df(") || l.contains("fn df_arrow("));
        if !helper && !above.iter().any(|l| l.contains("// Unreachable:")) {
            unargued.push(format!("{file}:{line}: {}", text.trim()));
        }
    }
    assert!(
        unargued.is_empty(),
        "internal errors without an argument:\n{}",
        unargued.join("\n")
    );
}

/// docs/errors.md's table lists exactly the codes of `Error::CODES`, in order, each with
/// its variant's name: a new variant cannot go undocumented, a code cannot move.
#[test]
fn the_error_code_table_lists_every_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/errors.md")).unwrap();
    let rows: Vec<(String, String)> = page
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.strip_prefix("| HN")?.split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 5, "a row of four cells: {line}");
            Some((format!("HN{}", cells[0]), cells[1].to_string()))
        })
        .collect();
    let codes: Vec<(String, String)> = Error::CODES
        .iter()
        .map(|(c, v)| (c.to_string(), v.to_string()))
        .collect();
    assert_eq!(rows, codes);
    assert_eq!(codes[0], ("HN001".to_string(), "DuplicateOutput".to_string()));
    assert_eq!(codes[26], ("HN027".to_string(), "Internal".to_string()));
}

#[test]
fn each_error_has_its_code() {
    let err = Pipeline::new([parse::node()])
        .run(&Inputs::new().with("text", "x".to_string()))
        .unwrap_err();
    assert_eq!(err.code(), "HN014");
    assert_eq!(Error::EmptyMapOver.code(), "HN010");
    assert_eq!(Error::Multiple(vec![Error::EmptyMapOver]).code(), "HN026");
    let err = Pipeline::new([parse::node()]).run(&Inputs::new()).unwrap_err();
    assert_eq!(err.code(), "HN006");
}
