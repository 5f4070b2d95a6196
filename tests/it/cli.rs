//! The `hypernodes` binary, run as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

use crate::parquet::{TempDir, read_parquet};

/// The `hypernodes` binary with `args`, to run from the crate's root.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hypernodes"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs the `hypernodes` binary from the crate's root.
pub fn hypernodes(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
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
            "error[HN020]: Cannot read '{}': No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    assert!(o.stdout.is_empty());

    let o = hypernodes(&["run", "examples/text.toml", "--engine", "gpu"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error[HN024]: Unknown engine 'gpu'. Engines: columnar, node\n"
    );

    let o = hypernodes(&["run", "examples/text.toml", "--memory-limit", "lots"]);
    assert_eq!(
        text(&o.stderr),
        "error[HN024]: Invalid size 'lots': expected a number with an optional unit (K, M, G), e.g. 512M\n"
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

/// The checksum of a `run` summary line.
pub fn checksum_of(stdout: &str) -> String {
    stdout
        .lines()
        .nth(1)
        .unwrap()
        .split("checksum: ")
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn every_executor_gives_the_same_checksum() {
    let dir = TempDir::new("cli-executors");
    for engine in ["columnar", "node"] {
        let mut checksums = Vec::new();
        for executor in ["sequential", "threaded:4", "parallel", "async:8"] {
            let out = dir.join(&format!("{engine}-{executor}.parquet"));
            let o = hypernodes(&[
                "run",
                "examples/text.toml",
                "--output",
                out.to_str().unwrap(),
                "--engine",
                engine,
                "--executor",
                executor,
                "--batch-rows",
                "100",
            ]);
            assert!(o.status.success(), "{}", text(&o.stderr));
            checksums.push(checksum_of(&text(&o.stdout)));
        }
        assert_eq!(checksums, ["integers 521922, floats 1104850.082512"; 4], "{engine}");
    }
}

#[test]
fn executor_and_failure_policy_mistakes_are_one_line_errors() {
    let dir = TempDir::new("cli-policy-err");
    let out = dir.join("out.parquet");
    let failed = dir.join("failed.parquet");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "examples/text.toml", "--output", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = hypernodes(&args);
        assert_eq!(o.status.code(), Some(1), "{extra:?}");
        assert!(o.stdout.is_empty());
        text(&o.stderr)
    };
    assert_eq!(
        run(&["--executor", "bogus"]),
        "error[HN017]: Unknown executor 'bogus'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]\n"
    );
    assert_eq!(
        run(&["--executor", "threaded:0"]),
        "error[HN024]: Executor 'threaded:0': the width after ':' must be a whole number of at least 1\n"
    );
    assert_eq!(
        run(&["--on-error", "skip"]),
        "error[HN024]: Unknown on_error policy 'skip'. Valid policies: fail, collect\n"
    );
    assert_eq!(
        run(&["--on-error", "collect"]),
        "error[HN024]: --on-error collect needs --failed FILE, the file the failed rows are written to\n"
    );
    for policy in [&["--on-error", "fail"][..], &[]] {
        let mut args = policy.to_vec();
        args.extend(["--failed", failed.to_str().unwrap()]);
        assert_eq!(run(&args), "error[HN024]: --failed FILE needs --on-error collect\n");
    }
    assert_eq!(dir.files(), Vec::<String>::new());
}

#[test]
fn collect_without_failures_writes_an_empty_failed_file() {
    let dir = TempDir::new("cli-collect-none");
    let (out, failed) = (dir.join("out.parquet"), dir.join("failed.parquet"));
    let o = hypernodes(&[
        "run",
        "examples/text.toml",
        "--output",
        out.to_str().unwrap(),
        "--on-error",
        "collect",
        "--failed",
        failed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let summary = stdout.lines().nth(1).unwrap();
    assert!(
        summary.starts_with("1000 rows in, 1000 rows out, 1 batches in "),
        "{summary}"
    );
    assert!(
        summary.ends_with(&format!(
            "; 0 failed rows -> {}; checksum: integers 521922, floats 1104850.082512",
            failed.display()
        )),
        "{summary}"
    );
    let f = read_parquet_or_empty(&failed);
    assert_eq!(f.num_rows(), 0);
    let names: Vec<String> = f.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "passage", "value", "_row", "_node", "_error"]);
}

/// A file's rows, or none with its schema.
/// Checks the side file of failed rows (an `id` column, then `_row`, `_node`, `_error`)
/// holds the rows of `ids`, which are also their row numbers, and returns its string
/// columns by position.
fn failed_rows(path: &Path, ids: &[i64]) -> impl Fn(usize) -> Vec<String> + use<> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Int64Type, UInt64Type};
    let f = read_parquet(path);
    let names: Vec<String> = f.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "_row", "_node", "_error"]);
    assert_eq!(f.column(0).as_primitive::<Int64Type>().values().to_vec(), ids);
    let rows: Vec<u64> = ids.iter().map(|id| *id as u64).collect();
    assert_eq!(f.column(1).as_primitive::<UInt64Type>().values().to_vec(), rows);
    move |i: usize| {
        f.column(i)
            .as_string::<i32>()
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect()
    }
}

fn read_parquet_or_empty(path: &Path) -> arrow::array::RecordBatch {
    use arrow::array::RecordBatchReader;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// A registry function that fails on the ids `100k + 7`.
#[hypernodes::node(output = "checked")]
fn check_id(id: i64) -> Result<i64, String> {
    if id % 100 == 7 {
        Err(format!("id {id} is not allowed"))
    } else {
        Ok(id + 1)
    }
}

#[test]
fn collect_sends_the_rows_a_registry_function_fails_on_to_the_failed_file() {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let dir = TempDir::new("cli-collect");
    std::fs::write(
        dir.join("check.toml"),
        "[inputs]\nid = \"i64\"\n\n[[nodes]]\nfunction = \"check_id\"\n",
    )
    .unwrap();
    let mut registry = hypernodes::spec::Registry::new();
    registry.register(check_id::node());
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/docs_1000.parquet");
    let failing: Vec<i64> = (0..10).map(|k| 100 * k + 7).collect();
    let good: Vec<i64> = (0..1000).filter(|id| id % 100 != 7).collect();
    for engine in ["columnar", "node"] {
        let (out, failed) = (
            dir.join(&format!("{engine}.parquet")),
            dir.join(&format!("{engine}-failed.parquet")),
        );
        let mut stdout = Vec::new();
        hypernodes::cli::run_args(
            [
                "hypernodes",
                "run",
                dir.join("check.toml").to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--select",
                "id,checked",
                "--engine",
                engine,
                "--executor",
                "threaded:4",
                "--partitions",
                "2",
                "--batch-rows",
                "64",
                "--on-error",
                "collect",
                "--failed",
                failed.to_str().unwrap(),
            ],
            &registry,
            &mut stdout,
        )
        .unwrap();
        let stdout = text(&stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], format!("{} -> {}", input.display(), out.display()));
        assert!(
            lines[1].starts_with("1000 rows in, 990 rows out, 16 batches in "),
            "{stdout}"
        );
        let sum: i64 = good.iter().map(|id| 2 * id + 1).sum();
        assert!(
            lines[1].ends_with(&format!(
                "; 10 failed rows -> {}; checksum: integers {sum}, floats 0.000000",
                failed.display()
            )),
            "{stdout}"
        );
        let o = read_parquet(&out);
        assert_eq!(o.column(0).as_primitive::<Int64Type>().values().to_vec(), good);
        assert_eq!(
            o.column(1).as_primitive::<Int64Type>().values().to_vec(),
            good.iter().map(|id| id + 1).collect::<Vec<_>>()
        );
        let strings = failed_rows(&failed, &failing);
        assert_eq!(strings(2), vec!["check_id".to_string(); 10]);
        assert_eq!(
            strings(3),
            failing
                .iter()
                .map(|id| format!("Node 'check_id' failed on item {id}: id {id} is not allowed"))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn collect_catches_rows_a_sql_expression_fails_on() {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    let dir = TempDir::new("cli-collect-sql");
    // Division by zero on the ids 7k + 3.
    std::fs::write(
        dir.join("ratio.toml"),
        "[inputs]\nid = \"i64\"\n\n[[nodes]]\nname = \"ratio\"\nsql = \"100 / (id % 7 - 3)\"\n",
    )
    .unwrap();
    for engine in ["columnar", "node"] {
        let (out, failed) = (
            dir.join(&format!("{engine}.parquet")),
            dir.join(&format!("{engine}-failed.parquet")),
        );
        let o = hypernodes(&[
            "run",
            dir.join("ratio.toml").to_str().unwrap(),
            "--input",
            "data/docs_1000.parquet",
            "--output",
            out.to_str().unwrap(),
            "--select",
            "id,ratio",
            "--engine",
            engine,
            "--batch-rows",
            "100",
            "--on-error",
            "collect",
            "--failed",
            failed.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let stdout = text(&o.stdout);
        assert!(
            stdout
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("1000 rows in, 857 rows out, 10 batches in "),
            "{stdout}"
        );
        let ids: Vec<i64> = (0..1000).filter(|id| id % 7 == 3).collect();
        assert_eq!(ids.len(), 143);
        let strings = failed_rows(&failed, &ids);
        assert_eq!(strings(2), vec!["ratio".to_string(); 143]);
        let errors: Vec<String> = ids
            .iter()
            .map(|id| format!("Node 'ratio' failed on item {id}: Arrow error: Divide by zero error"))
            .collect();
        assert_eq!(strings(3), errors, "{engine}");
        let o = read_parquet(&out);
        let good: Vec<i64> = (0..1000).filter(|id| id % 7 != 3).collect();
        assert_eq!(o.column(0).as_primitive::<Int64Type>().values().to_vec(), good);
        let ratios: Vec<i64> = good.iter().map(|id| 100 / (id % 7 - 3)).collect();
        assert_eq!(o.column(1).as_primitive::<Int64Type>().values().to_vec(), ratios);
    }
}

#[test]
fn run_with_a_cache_directory_then_show_and_clear_it() {
    let dir = TempDir::new("cli-cache");
    let cache = dir.join("cache");
    let cache = cache.to_str().unwrap();
    let out = dir.join("out.parquet");
    let run = |engine: &str| {
        let o = hypernodes(&[
            "run",
            "examples/text.toml",
            "--output",
            out.to_str().unwrap(),
            "--engine",
            engine,
            "--cache",
            cache,
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let stdout = text(&o.stdout);
        let summary = stdout.lines().nth(1).unwrap().to_string();
        let cache_part = summary
            .split("; ")
            .find(|p| p.starts_with("cache: "))
            .unwrap()
            .to_string();
        let checksum = summary.split("checksum: ").nth(1).unwrap().to_string();
        (cache_part, checksum)
    };
    // The columnar engine stores; the node engine finds everything it stored.
    let (first, sum1) = run("columnar");
    assert_eq!(first, "cache: count_words 0 hits 1000 misses");
    let (second, sum2) = run("node");
    assert_eq!(second, "cache: count_words 1000 hits 0 misses");
    assert_eq!(sum1, sum2);

    let o = hypernodes(&["cache", "stats", cache]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stats = text(&o.stdout);
    let lines: Vec<&str> = stats.lines().collect();
    assert_eq!(lines[0], "node         blocks  items  bytes");
    // 1,000 item keys (32 bytes each), the counts as Arrow IPC (8 bytes each, and the
    // stream's schema and framing).
    assert_eq!(lines[1], "count_words       1   1000  40333");
    assert_eq!(lines[2], "total             1   1000  40333");
    assert!(
        lines[3].starts_with("data.mdb: ") && lines[3].ends_with(" bytes"),
        "{stats}"
    );

    let o = hypernodes(&["cache", "clear", cache, "--node", "count_word"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "error[HN022]: Cache directory '{cache}': no cached node is named 'count_word'. Cached nodes: ['count_words']. Did you mean 'count_words'?\n"
        )
    );
    let o = hypernodes(&["cache", "clear", cache, "--node", "count_words"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("{cache}: removed 1 blocks (1000 items, 40333 bytes) of 1 node keys\n")
    );
    let (third, _) = run("columnar");
    assert_eq!(third, "cache: count_words 0 hits 1000 misses");

    let missing = dir.join("nope");
    let o = hypernodes(&["cache", "stats", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "error[HN022]: Cache directory '{}': no such cache directory\n",
            missing.display()
        )
    );
}

#[test]
fn formats_by_extension_and_by_name() {
    let dir = TempDir::new("cli-formats");
    let csv = dir.join("docs.csv");
    let o = hypernodes(&["gen-data", "--rows", "1000", "--out", csv.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The sample data as Parquet, and as CSV into NDJSON: the same checksum.
    let checksum = |o: &Output| {
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout).split("checksum: ").nth(1).unwrap().trim().to_string()
    };
    let parquet = hypernodes(&[
        "run",
        "examples/text.toml",
        "--output",
        dir.join("out.parquet").to_str().unwrap(),
    ]);
    let ndjson = dir.join("out.ndjson");
    let from_csv = hypernodes(&[
        "run",
        "examples/text.toml",
        "--input",
        csv.to_str().unwrap(),
        "--output",
        ndjson.to_str().unwrap(),
    ]);
    assert_eq!(checksum(&from_csv), checksum(&parquet));
    assert_eq!(checksum(&parquet), "integers 521922, floats 1104850.082512");
    assert_eq!(std::fs::read_to_string(&ndjson).unwrap().lines().count(), 1000);
    // A name without a known extension, with the formats named.
    std::fs::copy(&csv, dir.join("docs.txt")).unwrap();
    let o = hypernodes(&[
        "run",
        "examples/text.toml",
        "--input",
        dir.join("docs.txt").to_str().unwrap(),
        "--format",
        "csv",
        "--select",
        "id,score",
        "--output",
        dir.join("again").to_str().unwrap(),
        "--output-format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let again = std::fs::read_to_string(dir.join("again")).unwrap();
    assert_eq!(again.lines().next(), Some("id,score"));
    assert_eq!(again.lines().count(), 1001);

    let o = hypernodes(&["run", "examples/text.toml", "--format", "xlsx"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error[HN024]: Unknown format 'xlsx'. Formats: parquet, csv, ndjson, arrow\n"
    );
    let o = hypernodes(&[
        "run",
        "examples/text.toml",
        "--output",
        dir.join("out.csv").to_str().unwrap(),
        "--compression",
        "zstd",
    ]);
    assert_eq!(
        text(&o.stderr),
        format!(
            "error[HN024]: Compression is for Parquet output; '{}' is written as csv, uncompressed\n",
            dir.join("out.csv").display()
        )
    );
    assert!(!dir.join("out.csv").exists());
}
