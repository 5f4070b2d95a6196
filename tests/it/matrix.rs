//! Bad input at each front door — the library API, pipeline files and the command line —
//! as tables. Each row is an input and the exact one-line error it gives (and, on the
//! command line, the exit code); after every row the directory it ran in is as it was:
//! no output and no temporary file left, and the output a previous run wrote unchanged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hypernodes::Engine;
use hypernodes::datagen::write_docs;
use hypernodes::io::{EngineChoice, FileRun};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};

use crate::cli::text;
use crate::parquet::{TempDir, choice, text_toml};

/// What a previous run left under the output's name.
const PREVIOUS: &[u8] = b"the previous output";

/// One row of a matrix: a name, the files it reads (made in the row's directory before
/// it runs), what it runs there, and the error it must give, `{dir}` standing for the
/// directory.
struct Row<T> {
    name: &'static str,
    setup: Box<dyn Fn(&Path)>,
    attempt: T,
    expected: String,
}

fn row<T>(name: &'static str, attempt: T, expected: impl Into<String>) -> Row<T> {
    Row {
        name,
        setup: Box::new(|_| {}),
        attempt,
        expected: expected.into(),
    }
}

impl<T> Row<T> {
    /// The row, reading the files `setup` makes.
    fn with_setup(mut self, setup: impl Fn(&Path) + 'static) -> Self {
        self.setup = Box::new(setup);
        self
    }
}

/// Every file under `dir`, with its size and digest, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes.len(), blake3::hash(&bytes).to_hex().to_string()));
            }
        }
    }
    files.sort();
    files
}

/// Runs `attempt` in a directory holding the sample data (`docs.parquet`), a previous
/// output (`out.parquet`) and the files `setup` makes; checks that it fails with
/// `expected` and that the directory is left as it was found.
fn check<T>(r: &Row<T>, tag: &str, attempt: impl FnOnce(&Path) -> String) {
    let dir = TempDir::new(&format!("matrix-{tag}"));
    write_docs(&dir.join("docs.parquet"), 1_000, 7).unwrap();
    std::fs::write(dir.join("out.parquet"), PREVIOUS).unwrap();
    (r.setup)(&dir.0);
    let before = snapshot(&dir.0);
    let message = attempt(&dir.0);
    let expected = r.expected.replace("{dir}", &dir.0.display().to_string());
    let name = r.name;
    assert_eq!(message, expected, "row '{name}'");
    assert!(!message.contains('\n'), "row '{name}': not one line: {message}");
    assert_eq!(snapshot(&dir.0), before, "row '{name}' changed its directory");
}

// The library API ------------------------------------------------------------------

#[node(output = "checked")]
fn fail_at_250(id: i64) -> Result<i64, String> {
    match id {
        250 => Err(format!("row {id} is bad")),
        _ => Ok(id),
    }
}

#[node(output = "checked")]
fn panic_at_250(id: i64) -> i64 {
    if id == 250 {
        panic!("row {id} exploded");
    }
    id
}

#[node(output = "n")]
fn id_as_text(id: String) -> i64 {
    id.len() as i64
}

#[node(output = "doubled")]
fn doubled_again(x: i64) -> i64 {
    x + x
}

#[node(output = "y")]
fn y_of_x(x: i64) -> i64 {
    x
}

#[node(output = "x")]
fn x_of_y(y: i64) -> i64 {
    y
}

#[node(output = "sum")]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[node(output = "shout")]
fn shout(doubled: String) -> String {
    doubled.to_uppercase()
}

/// The W3 pipeline file's pipeline and columns, run from `input` into `output`.
fn w3(engine: EngineChoice, input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> FileRun {
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let (input, output): (PathBuf, PathBuf) = (input.into(), output.into());
    FileRun::new(file.pipeline, input, output)
        .with_select(file.select.unwrap())
        .with_engine(engine)
}

/// A setup writing to `name` the sample data as bytes changed by `edit`.
fn edited(name: &'static str, edit: impl Fn(&mut Vec<u8>) + 'static) -> impl Fn(&Path) + 'static {
    move |dir| {
        let mut bytes = std::fs::read(dir.join("docs.parquet")).unwrap();
        edit(&mut bytes);
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

type FileAttempt = Box<dyn Fn(EngineChoice, &Path) -> hypernodes::Result<hypernodes::io::RunSummary>>;

/// The library API's rows for files: one per bad input, output or node.
fn file_rows() -> Vec<Row<FileAttempt>> {
    let mut rows: Vec<Row<FileAttempt>> = vec![
        row::<FileAttempt>(
            "missing input",
            Box::new(|e, d: &Path| w3(e, d.join("nope.parquet"), d.join("out.parquet")).run()),
            "Cannot read '{dir}/nope.parquet': No such file or directory (os error 2)",
        ),
        row::<FileAttempt>(
            "empty input",
            Box::new(|e, d: &Path| w3(e, d.join("empty.parquet"), d.join("out.parquet")).run()),
            "{dir}/empty.parquet: the file is empty (0 bytes), not a Parquet file",
        )
        .with_setup(edited("empty.parquet", |b| b.clear())),
        row::<FileAttempt>(
            "truncated input",
            Box::new(|e, d: &Path| w3(e, d.join("cut.parquet"), d.join("out.parquet")).run()),
            "{dir}/cut.parquet: not a readable Parquet file (Parquet error: Invalid Parquet file. Corrupt footer)",
        )
        .with_setup(edited("cut.parquet", |b| b.truncate(b.len() / 2))),
        row::<FileAttempt>(
            "not Parquet",
            Box::new(|e, d: &Path| w3(e, d.join("csv.parquet"), d.join("out.parquet")).run()),
            "{dir}/csv.parquet: not a readable Parquet file (Parquet error: Invalid Parquet file. Corrupt footer)",
        )
        .with_setup(edited("csv.parquet", |b| *b = b"id,passage\n1,hello\n".to_vec())),
        row::<FileAttempt>(
            "corrupt page",
            Box::new(|e, d: &Path| w3(e, d.join("corrupt.parquet"), d.join("out.parquet")).run()),
            "{dir}/corrupt.parquet: cannot read (Parquet argument error: External: snappy: corrupt input \
             (expected valid offset but got offset 4294967295; dst position: 153))",
        )
        .with_setup(edited("corrupt.parquet", |b| b[100..20_000].fill(0xff))),
        row::<FileAttempt>(
            "wrong column type",
            Box::new(|e, d: &Path| {
                FileRun::new(
                    Pipeline::new([id_as_text::node()]),
                    d.join("docs.parquet"),
                    d.join("out.parquet"),
                )
                .with_engine(e)
                .run()
            }),
            "{dir}/docs.parquet: column 'id' has type Int64, but node 'id_as_text' reads it as String",
        ),
        row::<FileAttempt>(
            "missing column",
            Box::new(|e, d: &Path| {
                FileRun::new(
                    Pipeline::new([crate::common::double::node()]),
                    d.join("docs.parquet"),
                    d.join("out.parquet"),
                )
                .with_engine(e)
                .run()
            }),
            "{dir}/docs.parquet: no column 'x', which node 'double' reads. Columns: id, passage, value, sentences",
        ),
        row::<FileAttempt>(
            "unknown output column",
            Box::new(|e, d: &Path| {
                w3(e, d.join("docs.parquet"), d.join("out.parquet"))
                    .with_select(["id", "word_cuont"])
                    .run()
            }),
            "Output name(s) ['word_cuont'] not found in pipeline. Available outputs: ['char_count', 'cleaned_text', \
             'id', 'passage', 'score', 'sentences', 'value', 'word_count']. Did you mean 'word_count'?",
        ),
        row::<FileAttempt>(
            "output directory missing",
            Box::new(|e, d: &Path| w3(e, d.join("docs.parquet"), d.join("no/such/out.parquet")).run()),
            "Cannot create '{dir}/no/such/out.parquet': No such file or directory (os error 2)",
        ),
        row::<FileAttempt>(
            "output under a file",
            Box::new(|e, d: &Path| w3(e, d.join("docs.parquet"), d.join("out.parquet/x.parquet")).run()),
            "Cannot create '{dir}/out.parquet/x.parquet': Not a directory (os error 20)",
        ),
        row::<FileAttempt>(
            "output is a directory",
            Box::new(|e, d: &Path| w3(e, d.join("docs.parquet"), d).run()),
            "The output '{dir}' is a directory; name a file (a directory is the output of a directory input)",
        ),
        row::<FileAttempt>(
            "output is the input",
            Box::new(|e, d: &Path| w3(e, d.join("docs.parquet"), d.join("docs.parquet")).run()),
            "The output '{dir}/docs.parquet' is the input file; choose another output",
        ),
        row::<FileAttempt>(
            "corrupt cache store",
            Box::new(|e, d: &Path| {
                let config = RunConfig::new().with_cache(Cache::disk(d.join("cache"))?);
                w3(e, d.join("docs.parquet"), d.join("out.parquet"))
                    .with_config(config)
                    .run()
            }),
            "Cache directory '{dir}/cache': not a hypernodes cache: data.mdb is not an LMDB file",
        )
        .with_setup(|d| {
            std::fs::create_dir(d.join("cache")).unwrap();
            std::fs::write(d.join("cache/data.mdb"), vec![0x5a; 64 * 1024]).unwrap();
        }),
    ];
    let failing = [
        (
            fail_at_250::node(),
            "Node 'fail_at_250' failed on item 250: row 250 is bad",
        ),
        (
            panic_at_250::node(),
            "Node 'panic_at_250' panicked on item 250: row 250 exploded",
        ),
    ];
    for executor in ["sequential", "threaded:4", "async:4", "parallel:2"] {
        for (node, expected) in failing.clone() {
            let name = match expected.contains("panicked") {
                true => "panicking node",
                false => "failing node",
            };
            rows.push(row::<FileAttempt>(
                name,
                Box::new(move |e, d: &Path| {
                    FileRun::new(
                        Pipeline::new([node.clone()]),
                        d.join("docs.parquet"),
                        d.join("out.parquet"),
                    )
                    .with_engine(e)
                    .with_batch_rows(100)
                    .with_config(RunConfig::new().try_with_map_executor(executor).unwrap())
                    .run()
                }),
                expected,
            ));
        }
    }
    rows
}

engine_test!(
    fn library_api_file_runs(engine) {
        for (k, r) in file_rows().into_iter().enumerate() {
            let tag = format!("file-{}-{k}", engine.name());
            check(&r, &tag, |d| (r.attempt)(choice(&engine), d).unwrap_err().to_string());
        }
    }
);

type PipelineAttempt = Box<dyn Fn(&Arc<dyn Engine>) -> hypernodes::Result<()>>;

/// The library API's rows for pipelines: how they are built, run and mapped.
fn pipeline_rows() -> Vec<Row<PipelineAttempt>> {
    use crate::common::{double, on};
    let xs = || Inputs::new().with("x", vec![1i64, 2, 3]);
    vec![
        row(
            "duplicate outputs",
            Box::new(|_: &Arc<dyn Engine>| Pipeline::try_new([double::node(), doubled_again::node()]).map(drop)),
            "Multiple nodes produce output 'doubled': double and doubled_again",
        ),
        row(
            "cycle",
            Box::new(|_: &Arc<dyn Engine>| Pipeline::try_new([y_of_x::node(), x_of_y::node()]).map(drop)),
            "Cycle detected in pipeline: x_of_y -> y_of_x -> x_of_y",
        ),
        row(
            "type mismatch",
            Box::new(|_: &Arc<dyn Engine>| Pipeline::try_new([double::node(), shout::node()]).map(drop)),
            "Type mismatch for 'doubled': node 'double' produces i64 but node 'shout' expects String",
        ),
        row(
            "missing input",
            Box::new(|e: &Arc<dyn Engine>| on(e, [double::node()]).run(&Inputs::new()).map(drop)),
            "Missing required input(s): ['x']. Required inputs: ['x']",
        ),
        row(
            "unknown output",
            Box::new(|e: &Arc<dyn Engine>| {
                let options = RunOptions::new().with_outputs(["dubled"]);
                on(e, [double::node()])
                    .run_with(&Inputs::new().with("x", 1i64), &options)
                    .map(drop)
            }),
            "Output name(s) ['dubled'] not found in pipeline. Available outputs: ['doubled']. Did you mean 'doubled'?",
        ),
        row(
            "zip lengths differ",
            Box::new(move |e: &Arc<dyn Engine>| {
                let inputs = xs().with("y", vec![1i64]);
                on(e, [add::node()]).map(&inputs, &["x", "y"], "zip").map(drop)
            }),
            "map_over lists must have equal lengths in zip mode: 'x' has 3, 'y' has 1",
        ),
        row(
            "map over a name that is not an input",
            Box::new(move |e: &Arc<dyn Engine>| on(e, [double::node()]).map(&xs(), &["z"], "zip").map(drop)),
            "map_over name 'z' is not an input. Inputs: ['x']. Did you mean 'x'?",
        ),
        row(
            "mapped value not a list",
            Box::new(|e: &Arc<dyn Engine>| {
                on(e, [double::node()])
                    .map(&Inputs::new().with("x", 5i64), &["x"], "zip")
                    .map(drop)
            }),
            "Mapped input 'x' must be a list of i64 (Vec<i64>), found i64",
        ),
        row(
            "unknown map mode",
            Box::new(move |e: &Arc<dyn Engine>| on(e, [double::node()]).map(&xs(), &["x"], "zipper").map(drop)),
            "Unknown map mode 'zipper'. Valid modes: zip, product",
        ),
        row(
            "nothing to map over",
            Box::new(move |e: &Arc<dyn Engine>| on(e, [double::node()]).map(&xs(), &[], "zip").map(drop)),
            "map_over is empty: name at least one input to map over",
        ),
    ]
}

engine_test!(
    fn library_api_pipelines(engine) {
        for (k, r) in pipeline_rows().into_iter().enumerate() {
            let tag = format!("pipeline-{}-{k}", engine.name());
            check(&r, &tag, |_| (r.attempt)(&engine).unwrap_err().to_string());
        }
    }
);

// Pipeline files -------------------------------------------------------------------

/// A pipeline file over the sample data: its `[inputs]`, then `rest`.
fn toml(rest: &str) -> String {
    format!("[inputs]\nid = \"i64\"\npassage = \"string\"\nvalue = \"f64\"\n\n{rest}")
}

/// The pipeline-file rows: each a file `p.toml`, and the error it gives, both when a
/// program loads it and when `hypernodes run` runs it (`{file}` standing for its path).
fn pipeline_file_rows() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let r = |name, contents: &dyn AsRef<[u8]>, expected| (name, contents.as_ref().to_vec(), expected);
    let node = |sql: &str| toml(&format!("[[nodes]]\nname = \"n\"\nsql = \"{sql}\"\n"));
    vec![
        r("empty file", &String::new(), "{file}:1: the file declares no nodes (no [[nodes]] table)"),
        r("not UTF-8", b"[inputs]\nid = \"\xff\"\n", "Cannot read '{file}': stream did not contain valid UTF-8"),
        r("TOML syntax", &toml("[[nodes]\nname = \"n\"\n"), "{file}:6: unclosed array table, expected `]`"),
        r("unknown key", &toml("[[nodes]]\nname = \"n\"\nsql = \"id\"\ncolour = \"red\"\n"), "{file}:9: unknown field `colour`, expected one of `name`, `sql`, `function`, `pipeline`, `output`, `outputs`, `inputs`, `map_over`, `mode`, `cache`"),
        r("two kinds of node", &toml("[[nodes]]\nname = \"n\"\nsql = \"id\"\nfunction = \"clean_text\"\n"), "{file}:6: node 'n': give exactly one of `sql`, `function` or `pipeline`"),
        r("unknown function", &toml("[[nodes]]\nfunction = \"cleen_text\"\ninputs = { text = \"passage\" }\n"), "{file}:6: node 'cleen_text': unknown function 'cleen_text'. Functions: char_count, clean_text, count_words, hash_hex, parse_timestamp, round_decimal, sum, truncate_timestamp. Did you mean 'clean_text'?"),
        r("unknown column", &node("lower(pasage)"), "{file}:6: node 'n': unknown column 'pasage'. Known: id, passage, sentences, value. Did you mean 'passage'?"),
        r("type error", &node("passage * 2"), "{file}:6: node 'n': `passage * 2`: Error during planning: Cannot coerce arithmetic expression Utf8 * Int64 to valid types"),
        r("unknown type", &"[inputs]\npassage = \"money\"\n\n[[nodes]]\nname = \"n\"\nsql = \"passage\"\n".to_string(), "{file}:2: input 'passage': unknown type 'money'. Types: string, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, date, time, timestamp, timestamp[s|ms|us|ns], timestamp[UNIT, ZONE], duration[s|ms|us|ns], interval, decimal, decimal(P, S), decimal128(P, S), decimal256(P, S), binary, fixed_binary[N], list<T>, list<T; N>, map<string, T>"),
        r("declared type differs from the file", &"[inputs]\npassage = \"i64\"\n\n[[nodes]]\nname = \"n\"\nsql = \"passage + 1\"\n".to_string(), "{file}:2: input 'passage' is declared i64 but the input column has type String"),
        r(
            "duplicate outputs",
            &toml("[[nodes]]\nname = \"a\"\nsql = \"id\"\noutput = \"x\"\n\n[[nodes]]\nname = \"b\"\nsql = \"value\"\noutput = \"x\"\n"),
            "{file}:11: Multiple nodes produce output 'x': a (line 6) and b",
        ),
        r("cycle", &toml("[[nodes]]\nname = \"a\"\nsql = \"b + 1\"\n\n[[nodes]]\nname = \"b\"\nsql = \"a + 1\"\n"), "{file}:6: Cycle detected in pipeline: a -> b -> a"),
        r(
            "unknown nested pipeline",
            &toml("[[nodes]]\nname = \"per\"\npipeline = \"nope\"\nmap_over = [\"passage\"]\n"),
            "{file}:6: node 'per': unknown pipeline 'nope'. Pipelines of this file: []",
        ),
        r(
            "map over a column that is not a list",
            &toml("[[nodes]]\nname = \"per\"\npipeline = \"s\"\nmap_over = [\"passage\"]\ninputs = { sentence = \"passage\" }\n\n[pipelines.s]\nnodes = [{ name = \"t\", sql = \"length(sentence)\" }]\n"),
            "{file}:6: node 'per': map_over 'passage' is String, not a list",
        ),
        r(
            "unknown map mode",
            &"[inputs]\nsentences = \"list<string>\"\n\n[[nodes]]\nname = \"per\"\npipeline = \"s\"\nmap_over = [\"sentences\"]\nmode = \"zipper\"\ninputs = { sentence = \"sentences\" }\n\n[pipelines.s]\nnodes = [{ name = \"t\", sql = \"length(sentence)\" }]\n".to_string(),
            "{file}:4: node 'per': Unknown map mode 'zipper'. Valid modes: zip, product",
        ),
        // Pipeline files are data: one expression per node, over a row's values.
        r("a statement after the expression", &node("id; DROP TABLE t"), "{file}:6: node 'n': `id; DROP TABLE t`: `;` at line 1, column 3 follows the expression: a node's `sql` is one expression, not statements"),
        r("a statement", &node("DROP TABLE t"), "{file}:6: node 'n': `DROP TABLE t`: `TABLE` at line 1, column 6 follows the expression: a node's `sql` is one expression, not statements"),
        r("COPY to a file", &node("COPY (SELECT 1) TO '/tmp/x.csv'"), "{file}:6: node 'n': `COPY (SELECT 1) TO '/tmp/x.csv'`: not a SQL expression: sql parser error: Expected: ), found: 1 at Line: 1, Column: 14"),
        r("a table function", &node("(SELECT count(*) FROM read_parquet('/etc/passwd'))"), "{file}:6: node 'n': `(SELECT count(*) FROM read_parquet('/etc/passwd'))`: a subquery: a node's `sql` is one expression over a row's values, and reads no table or file"),
        r("a table function in IN", &node("id IN (SELECT * FROM generate_series(1, 3))"), "{file}:6: node 'n': `id IN (SELECT * FROM generate_series(1, 3))`: a subquery: a node's `sql` is one expression over a row's values, and reads no table or file"),
        r("EXISTS", &node("EXISTS (SELECT 1)"), "{file}:6: node 'n': `EXISTS (SELECT 1)`: a subquery: a node's `sql` is one expression over a row's values, and reads no table or file"),
        r("an aggregate", &node("sum(value)"), "{file}:6: node 'n': `sum(value)`: 'sum' is an aggregate function: a node's `sql` computes one value per row, from that row alone"),
        r("a window", &node("row_number() OVER ()"), "{file}:6: node 'n': `row_number() OVER ()`: 'row_number' over a window: a node's `sql` computes one value per row, from that row alone"),
        r("a placeholder", &node("$1"), "{file}:6: node 'n': `$1`: '$1' is a parameter placeholder; give constants as literals or in [bind]"),
        r("unnest", &node("unnest(make_array(id))"), "{file}:6: node 'n': `unnest(make_array(id))`: 'unnest' makes rows: a node's `sql` computes one value per row; map over lists instead"),
    ]
}

#[test]
fn pipeline_files() {
    for (k, (name, contents, expected)) in pipeline_file_rows().into_iter().enumerate() {
        let r = row::<()>(name, (), expected).with_setup(move |d| std::fs::write(d.join("p.toml"), &contents).unwrap());
        let file = |d: &Path| d.join("p.toml").display().to_string();
        // A program loading it, against the columns of the sample data.
        let mut code = "";
        check(&r, &format!("toml-load-{k}"), |d| {
            let columns =
                hypernodes::io::read_schema(&d.join("docs.parquet"), hypernodes::io::Format::Parquet).unwrap();
            let err = load(&d.join("p.toml"), &Registry::new(), Some(&columns)).unwrap_err();
            code = err.code();
            err.to_string().replace(&file(d), "{file}")
        });
        // `hypernodes run`: exit code 1, the error with its code on standard error, nothing
        // on standard output.
        check(&r, &format!("toml-run-{k}"), |d| {
            let o = hypernodes_in(
                d,
                &["run", "p.toml", "--input", "docs.parquet", "--output", "out.parquet"],
                None,
            );
            assert_eq!(o.status.code(), Some(1), "row '{name}': {}", text(&o.stderr));
            assert_eq!(text(&o.stdout), "", "row '{name}'");
            let stderr = text(&o.stderr).replace("p.toml", "{file}");
            stderr
                .strip_prefix(&format!("error[{code}]: "))
                .unwrap_or_else(|| panic!("row '{name}': not error[{code}]: {stderr}"))
                .strip_suffix('\n')
                .unwrap()
                .to_string()
        });
    }
}

// The command line -----------------------------------------------------------------

/// Runs the `hypernodes` binary in `dir`, its file writes limited to `max_file` bytes
/// if given (as a full disk would stop them: a write past it fails with EFBIG).
fn hypernodes_in(dir: &Path, args: &[&str], max_file: Option<u64>) -> std::process::Output {
    let mut command = crate::cli::command(args);
    command.current_dir(dir);
    if let Some(bytes) = max_file {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec the child only calls `signal` and `setrlimit`,
        // both async-signal-safe; it allocates nothing and takes no lock.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                match libc::setrlimit(libc::RLIMIT_FSIZE, &limit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
    }
    command.output().unwrap()
}

/// A command-line row: its name, the arguments, the most bytes a file may take, the exit
/// code and the error.
type CliRow = (&'static str, Vec<&'static str>, Option<u64>, i32, &'static str);

/// The command-line rows: arguments (run in the row's directory, `W3` standing for the
/// bundled W3 pipeline file), the exit code, and standard error's exact text (its first
/// line: clap's usage errors go on with the usage).
fn cli_rows() -> Vec<CliRow> {
    let run = |more: &[&'static str]| {
        let mut args = vec!["run", "W3", "--input", "docs.parquet", "--output", "out.parquet"];
        args.extend_from_slice(more);
        args
    };
    vec![
        (
            "no arguments",
            vec![],
            None,
            2,
            "Run data pipelines declared in TOML files over Parquet, CSV, NDJSON or Arrow files",
        ),
        (
            "unknown command",
            vec!["frobnicate"],
            None,
            2,
            "error: unrecognized subcommand 'frobnicate'",
        ),
        (
            "run without a pipeline file",
            vec!["run"],
            None,
            2,
            "error: the following required arguments were not provided:",
        ),
        (
            "unknown option",
            run(&["--colour", "red"]),
            None,
            2,
            "error: unexpected argument '--colour' found",
        ),
        (
            "missing pipeline file",
            vec!["run", "nope.toml"],
            None,
            1,
            "error[HN020]: Cannot read 'nope.toml': No such file or directory (os error 2)",
        ),
        (
            "missing input",
            vec!["run", "W3", "--input", "nope.parquet", "--output", "out.parquet"],
            None,
            1,
            "error[HN020]: Cannot read 'nope.parquet': No such file or directory (os error 2)",
        ),
        (
            "unknown engine",
            run(&["--engine", "gpu"]),
            None,
            1,
            "error[HN024]: Unknown engine 'gpu'. Engines: columnar, node",
        ),
        (
            "bad memory limit",
            run(&["--memory-limit", "lots"]),
            None,
            1,
            "error[HN024]: Invalid size 'lots': expected a number with an optional unit (K, M, G), e.g. 512M",
        ),
        (
            "zero partitions",
            run(&["--partitions", "0"]),
            None,
            1,
            "error[HN024]: --partitions must be at least 1",
        ),
        (
            "zero batch rows",
            run(&["--batch-rows", "0"]),
            None,
            1,
            "error[HN024]: --batch-rows must be at least 1",
        ),
        (
            "unknown format",
            run(&["--format", "xls"]),
            None,
            1,
            "error[HN024]: Unknown format 'xls'. Formats: parquet, csv, ndjson, arrow",
        ),
        (
            "unknown compression",
            run(&["--compression", "rar"]),
            None,
            1,
            "error[HN024]: Unknown compression 'rar'. Codecs: snappy, zstd, gzip, lz4, brotli, none",
        ),
        (
            "compression of CSV output",
            vec![
                "run",
                "W3",
                "--input",
                "docs.parquet",
                "--output",
                "out.csv",
                "--compression",
                "zstd",
            ],
            None,
            1,
            "error[HN024]: Compression is for Parquet output; 'out.csv' is written as csv, uncompressed",
        ),
        (
            "unknown executor",
            run(&["--executor", "warp:3"]),
            None,
            1,
            "error[HN017]: Unknown executor 'warp:3'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]",
        ),
        (
            "unknown failure policy",
            run(&["--on-error", "ignore"]),
            None,
            1,
            "error[HN024]: Unknown on_error policy 'ignore'. Valid policies: fail, collect",
        ),
        (
            "failed file without collect",
            run(&["--failed", "failed.parquet"]),
            None,
            1,
            "error[HN024]: --failed FILE needs --on-error collect",
        ),
        (
            "unknown selected column",
            run(&["--select", "id,word_cuont"]),
            None,
            1,
            "error[HN007]: Output name(s) ['word_cuont'] not found in pipeline. Available outputs: ['char_count', 'cleaned_text', 'id', 'passage', 'score', 'sentences', 'value', 'word_count']. Did you mean 'word_count'?",
        ),
        (
            "output is the input",
            vec!["run", "W3", "--input", "docs.parquet", "--output", "docs.parquet"],
            None,
            1,
            "error[HN024]: The output 'docs.parquet' is the input file; choose another output",
        ),
        (
            "output directory missing",
            vec!["run", "W3", "--input", "docs.parquet", "--output", "no/out.parquet"],
            None,
            1,
            "error[HN020]: Cannot create 'no/out.parquet': No such file or directory (os error 2)",
        ),
        (
            "cache directory is a file",
            run(&["--cache", "docs.parquet"]),
            None,
            1,
            "error[HN022]: Cache directory 'docs.parquet': not a directory",
        ),
        (
            "output past the disk's room",
            run(&["--select", "id,passage,word_count"]),
            Some(64 * 1024),
            1,
            "error[HN020]: Cannot write 'out.parquet': File too large (os error 27)",
        ),
        (
            "a failing row",
            vec!["run", "bad.toml", "--input", "docs.parquet", "--output", "out.parquet"],
            None,
            1,
            "error[HN014]: Node 'inverse' failed on item 250: Arrow error: Divide by zero error",
        ),
    ]
}

#[test]
fn command_line() {
    let w3 = text_toml().display().to_string();
    for (k, (name, args, max_file, code, expected)) in cli_rows().into_iter().enumerate() {
        let r = row::<()>(name, (), expected).with_setup(|d| {
            let failing = "[inputs]\nid = \"i64\"\n\n[[nodes]]\nname = \"inverse\"\nsql = \"1000 / (id - 250)\"\n";
            std::fs::write(d.join("bad.toml"), failing).unwrap();
        });
        check(&r, &format!("cli-{k}"), |d| {
            let args: Vec<&str> = args.iter().map(|a| if *a == "W3" { w3.as_str() } else { a }).collect();
            let o = hypernodes_in(d, &args, max_file);
            assert_eq!(o.status.code(), Some(code), "row '{name}': {}", text(&o.stderr));
            assert_eq!(text(&o.stdout), "", "row '{name}'");
            let stderr = text(&o.stderr).replace(&w3, "W3");
            // clap's usage errors take several lines: the first is the error.
            stderr.lines().next().unwrap_or_default().to_string()
        });
    }
}

#[test]
fn a_directory_run_writes_only_inside_its_output_directory() {
    use std::os::unix::fs::symlink;
    let dir = TempDir::new("matrix-escape");
    for d in ["in", "out", "elsewhere"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    write_docs(&dir.join("in/a.parquet"), 100, 1).unwrap();
    write_docs(&dir.join("elsewhere/b.parquet"), 50, 2).unwrap();
    // An input that is a link to a file outside the input directory, and an output name
    // that is a link to a file outside the output directory.
    symlink("../elsewhere/b.parquet", dir.join("in/b.parquet")).unwrap();
    std::fs::write(dir.join("victim.parquet"), PREVIOUS).unwrap();
    symlink("../victim.parquet", dir.join("out/a.parquet")).unwrap();
    let elsewhere = std::fs::read(dir.join("elsewhere/b.parquet")).unwrap();

    w3(EngineChoice::Columnar, dir.join("in"), dir.join("out"))
        .run()
        .unwrap();
    // Each output is a new file in the output directory, named as its input: the link
    // is replaced, not written through, and nothing outside the directory changes.
    assert_eq!(std::fs::read(dir.join("victim.parquet")).unwrap(), PREVIOUS);
    assert_eq!(std::fs::read(dir.join("elsewhere/b.parquet")).unwrap(), elsewhere);
    for (name, rows) in [("a.parquet", 100), ("b.parquet", 50)] {
        let path = dir.join("out").join(name);
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file(), "{name}");
        assert_eq!(crate::parquet::read_parquet(&path).num_rows(), rows, "{name}");
    }
    assert_eq!(dir.files(), ["elsewhere", "in", "out", "victim.parquet"]);
    assert_eq!(crate::parquet::files_in(&dir.join("out")), ["a.parquet", "b.parquet"]);
}
