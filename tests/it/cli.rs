//! The `hypernodes` binary, run as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

use crate::parquet::{read_parquet, TempDir};

fn hypernodes(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hypernodes"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_the_bundled_example_on_both_engines() {
    let dir = TempDir::new("cli-run");
    let mut checksums = Vec::new();
    for engine in ["columnar", "node"] {
        let out = dir.join(&format!("{engine}.parquet"));
        let o = hypernodes(&[
            "run",
            "examples/text.toml",
            "--output",
            out.to_str().unwrap(),
            "--engine",
            engine,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let stdout = text(&o.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], format!("data/docs_1000.parquet -> {}", out.display()));
        assert!(
            lines[1].starts_with("1000 rows in, 1000 rows out, 1 batches in "),
            "{stdout}"
        );
        checksums.push(lines[1].split("checksum: ").nth(1).unwrap().to_string());
        assert_eq!(read_parquet(&out).num_rows(), 1000);
    }
    assert_eq!(checksums[0], checksums[1]);
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    let dir = TempDir::new("cli-err");
    let missing = dir.join("missing.parquet");
    let o = hypernodes(&["run", "examples/text.toml", "--input", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "error: Cannot read '{}': No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    assert!(o.stdout.is_empty());

    let o = hypernodes(&["run", "examples/text.toml", "--engine", "gpu"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: Unknown engine 'gpu'. Engines: columnar, node\n"
    );

    let o = hypernodes(&["run", "examples/text.toml", "--memory-limit", "lots"]);
    assert_eq!(
        text(&o.stderr),
        "error: Invalid size 'lots': expected a number with an optional unit (K, M, G), e.g. 512M\n"
    );

    let o = hypernodes(&["run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).starts_with("error: the following required arguments were not provided:"));
}

#[test]
fn gen_data_is_deterministic() {
    let dir = TempDir::new("cli-gen");
    for name in ["a.parquet", "b.parquet"] {
        let path = dir.join(name);
        let o = hypernodes(&[
            "gen-data",
            "--rows",
            "1000",
            "--out",
            path.to_str().unwrap(),
            "--seed",
            "42",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).starts_with(&format!("wrote 1000 rows (seed 42) to {}", path.display())));
    }
    let a = std::fs::read(dir.join("a.parquet")).unwrap();
    assert_eq!(a, std::fs::read(dir.join("b.parquet")).unwrap());
    // The bundled sample is this very file.
    assert_eq!(
        a,
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/docs_1000.parquet")).unwrap()
    );
}

#[test]
fn explain_lists_the_nodes_and_how_they_run() {
    let o = hypernodes(&["explain", "examples/text.toml"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains(
        "clean_text: (passage: String) -> (cleaned_text: String)  [SQL expression `lower(trim(passage))` (native DataFusion)]"
    ));
    assert!(stdout.contains("count_words: (cleaned_text: String) -> (word_count: i64)  [function (vectorized UDF)]"));
}

#[test]
fn help_names_every_command() {
    let o = hypernodes(&["--help"]);
    assert!(o.status.success());
    let stdout = text(&o.stdout);
    for command in ["run", "explain", "gen-data"] {
        assert!(stdout.contains(&format!("  {command} ")), "{stdout}");
    }
}
