//! The `hypernodes` command: run a pipeline file over Parquet, explain it, generate the
//! benchmark data. [`main`] is the whole program; [`main_with`] is the same with your own
//! registry of functions, so a Rust user builds the same CLI into a binary of their own:
//!
//! ```no_run
//! use hypernodes::prelude::*;
//! use hypernodes::spec::Registry;
//!
//! #[node(output = "shout")]
//! fn shout(text: &str) -> String { text.to_uppercase() }
//!
//! fn main() -> std::process::ExitCode {
//!     let mut registry = Registry::new();
//!     registry.register(shout::node());
//!     hypernodes::cli::main_with(registry)
//! }
//! ```

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cache::Cache;
use crate::engine::ColumnarEngine;
use crate::engine::disk::DiskCache;
use crate::error::{Error, Result};
use crate::exec::{Executor, OnError, RunConfig};
use crate::io::{DEFAULT_BATCH_ROWS, EngineChoice, FileRun, Format, Location, parse_compression, parse_size};
use crate::progress::ProgressBars;
use crate::spec::{Registry, load};
use crate::trace::ChromeTrace;

mod state;
use state::StateCommand;

/// Run data pipelines declared in TOML files over Parquet, CSV, NDJSON or Arrow files.
///
/// A pipeline file lists nodes: SQL expressions over columns, functions from the
/// registry, and nested pipelines mapped over list columns. `run` streams a file (or a
/// directory of them) through it into another, with bounded memory, on all cores; the
/// output appears only if the whole run succeeds.
#[derive(Debug, Parser)]
#[command(
    name = "hypernodes",
    version,
    after_help = "Example:\n  hypernodes gen-data --rows 1000 --out data/docs_1000.parquet\n  hypernodes run examples/text.toml\n  hypernodes explain examples/text.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Made once per process: the size of `Run` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline file over Parquet, CSV, NDJSON or Arrow input and write any of them.
    Run(RunArgs),
    /// Show what `run --state DIR` would do with each file, and why, without running
    /// anything: takes the arguments of `run`.
    Plan(RunArgs),
    /// Inspect or clear a state directory of incremental runs (see `run --state`).
    #[command(subcommand)]
    State(StateCommand),
    /// Start a Ballista scheduler or executor that runs pipelines with this program's
    /// functions (see `run --cluster`). Needs the `cluster` feature.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Inspect or empty a cache directory (see `run --cache`).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show a pipeline file's nodes and the plan the columnar engine makes of it.
    Explain {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Input file, for the column types [default: the file's `[run] input`].
        #[arg(short, long)]
        input: Option<Location>,
        /// The input's format [default: by extension, as for `run`].
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Write a benchmark data set (`docs` or `events`) as Parquet, CSV, NDJSON or Arrow,
    /// by the output's extension
    ///
    /// `docs`: id, passage, value, sentences (CSV without sentences). `events`: id, ts,
    /// day, amount, category, note, uid, embedding: timestamps, dates, decimals, a
    /// dictionary, binary and nulls (CSV and NDJSON without uid and embedding).
    GenData {
        /// Which data set: docs or events.
        #[arg(long, default_value = "docs", value_parser = ["docs", "events"])]
        set: String,
        /// Number of rows.
        #[arg(long)]
        rows: usize,
        /// Output file (.parquet, .csv, .ndjson, .arrow, ...; its directory made if
        /// missing), or object (s3://bucket/key).
        #[arg(long)]
        out: Location,
        /// Random seed: the same rows and seed give the same file.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Draw a pipeline file: Graphviz DOT, Mermaid, SVG laid out in-process, or JSON.
    Viz {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The file to write, replaced whole or not at all [default: standard output].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// dot, mermaid, svg or json [default: from the output's extension (.dot, .gv,
        /// .mmd, .mermaid, .svg, .json), else dot].
        #[arg(long)]
        format: Option<String>,
        /// Levels of nested pipelines drawn expanded, as clusters (0: each is one box).
        #[arg(long, default_value_t = 0)]
        depth: usize,
        /// Draw each node's outputs inside its box rather than as separate value nodes.
        #[arg(long)]
        grouped: bool,
    },
}

/// The arguments of `run` and `plan`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Input file or directory [default: the file's `[run] input`].
    #[arg(short, long)]
    input: Option<Location>,
    /// Output file (a directory for a directory input)
    /// [default: the file's `[run] output`, else PIPELINE with extension .out.parquet].
    #[arg(short, long)]
    output: Option<Location>,
    /// The input's format: parquet, csv, ndjson or arrow [default: by extension:
    /// .csv, .ndjson or .jsonl, .arrow, .ipc or .feather; else parquet].
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// The output's format [default: by extension, as --format; for a directory,
    /// the input's].
    #[arg(long, value_name = "FORMAT")]
    output_format: Option<String>,
    /// The engine: columnar (Arrow / DataFusion) or node (item by item).
    #[arg(long, default_value = "columnar")]
    engine: String,
    /// Output columns, comma-separated: input columns and node outputs
    /// [default: the file's `[run] select`, else every input column and output].
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    /// Most memory for batches in flight and the writer's buffer (e.g. 256M, 2G).
    #[arg(long, default_value = "512M")]
    memory_limit: String,
    /// Batches processed at once; with --cluster, the jobs (ranges of row groups)
    /// each input file is cut into [default: the number of cores].
    #[arg(long)]
    partitions: Option<usize>,
    /// Most rows per batch.
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Parquet output compression: snappy, zstd, gzip, lz4, brotli or none
    /// [default: snappy].
    #[arg(long)]
    compression: Option<String>,
    /// The map executor, for the rows of each batch that run one at a time (every row
    /// on the node engine; on the columnar engine, the rows of the nodes it runs row
    /// by row, such as async functions): sequential, threaded[:N], async[:N] or
    /// parallel[:N]. The map executor only: the nodes of one row run one after
    /// another [default: sequential].
    #[arg(long, value_name = "EXECUTOR")]
    executor: Option<String>,
    /// What a failing row does: fail (the run fails and writes nothing) or collect
    /// (the other rows are written to the output, the failed ones to --failed)
    /// [default: fail].
    #[arg(long, value_name = "POLICY")]
    on_error: Option<String>,
    /// With --on-error collect: the file the failed rows go to (a directory for a
    /// directory input; of the format of its extension), with the columns read and
    /// _row (the row's index in its input file), _node and _error; written, without
    /// rows, when no row fails.
    #[arg(long, value_name = "FILE")]
    failed: Option<Location>,
    /// Keep every node's results per row in this cache directory and reuse them: a
    /// rerun computes only the rows (and nodes) whose inputs or code changed.
    /// Several runs may share the directory at once.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Show progress bars on standard error while the run goes, when it is a
    /// terminal: one over the rows, one per node, nested pipelines under their node
    /// [default].
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Show no progress bars.
    #[arg(long, overrides_with = "progress")]
    no_progress: bool,
    /// Write a timeline of the run to FILE, a Chrome trace (JSON) that
    /// https://ui.perfetto.dev opens: one lane per thread, a slice per batch, node
    /// call and nested pipeline.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Run on the Ballista cluster whose scheduler listens at URL (df://HOST[:PORT]):
    /// the executors read the input (at the same path, or an object with their own
    /// AWS_*/GOOGLE_*/AZURE_* variables) and run the nodes, this process writes the
    /// output. Needs the `cluster` feature.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// Run incrementally, keeping the state in DIR: a rerun computes only the input
    /// files that are new or changed or whose output the pipeline would change, leaves
    /// the other outputs untouched and removes the outputs of input files that are gone
    /// (see `plan` and `state`).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
}

/// The processes of a cluster.
#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Run a scheduler until stopped (Ctrl-C or SIGTERM).
    Scheduler {
        /// The address to listen at.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// How long an executor may stay silent before its tasks go to others
        /// (executors report every 2 s).
        #[arg(long, default_value = "60s", value_name = "DURATION")]
        executor_timeout: String,
    },
    /// Run an executor until stopped (Ctrl-C or SIGTERM). It reads object inputs
    /// (s3://...) with the store variables of its environment (AWS_*, GOOGLE_*,
    /// AZURE_*).
    Executor {
        /// The scheduler to register with.
        #[arg(long, default_value = "df://127.0.0.1:50050", value_name = "URL")]
        scheduler: String,
        /// The address this executor listens at, which the scheduler and clients reach
        /// it at (on other machines: this machine's address on their network).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The port results are served on (Arrow Flight); PORT + 1 is its gRPC port.
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Task slots: how many partitions run at once [default: the cores].
        #[arg(long)]
        cores: Option<usize>,
        /// Where intermediate results are kept [default: a temporary directory].
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
    },
}

/// The commands on a cache directory.
#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Print the entries per node: blocks, items (rows) and bytes, and the file size.
    Stats {
        /// The cache directory.
        dir: PathBuf,
    },
    /// Remove every entry, or those of one node.
    Clear {
        /// The cache directory.
        dir: PathBuf,
        /// Only the entries of the node with this name.
        #[arg(long)]
        node: Option<String>,
    },
}

/// `run` on the cluster at `url`.
#[cfg(feature = "cluster")]
fn on_cluster(run: FileRun, url: &str, registry: &Registry) -> Result<FileRun> {
    Ok(run.with_remote(crate::cluster::Cluster::remote(url)?.with_registry(registry.clone())))
}

#[cfg(not(feature = "cluster"))]
fn on_cluster(_: FileRun, _: &str, _: &Registry) -> Result<FileRun> {
    Err(no_cluster())
}

/// Runs a scheduler or an executor until the process is stopped.
#[cfg(feature = "cluster")]
fn cluster_process(command: ClusterCommand, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    match command {
        ClusterCommand::Scheduler { bind, executor_timeout } => {
            let timeout = humantime::parse_duration(&executor_timeout).map_err(|e| {
                Error::Invalid(format!(
                    "--executor-timeout '{executor_timeout}' is not a duration: {e}"
                ))
            })?;
            let _ = writeln!(out, "scheduler listening on df://{bind}");
            let _ = out.flush();
            crate::cluster::run_scheduler(bind, timeout, registry.clone())
        }
        ClusterCommand::Executor {
            scheduler,
            host,
            port,
            cores,
            work_dir,
        } => {
            let cores = cores.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let _ = writeln!(
                out,
                "executor on {host}:{port} with {cores} task slots, scheduler {scheduler}"
            );
            let _ = out.flush();
            crate::cluster::run_executor(&scheduler, &host, port, cores, work_dir.as_deref(), registry.clone())
        }
    }
}

#[cfg(not(feature = "cluster"))]
fn cluster_process(_: ClusterCommand, _: &Registry, _: &mut dyn Write) -> Result<()> {
    Err(no_cluster())
}

/// The error of a cluster command in a build without the `cluster` feature.
#[cfg(not(feature = "cluster"))]
fn no_cluster() -> Error {
    Error::Invalid("This hypernodes was built without the `cluster` feature: build it with `--features cluster`".into())
}

/// An existing cache directory (the commands that inspect one do not create it).
fn open_cache(dir: &Path) -> Result<Cache> {
    if !dir.is_dir() {
        return Err(Error::Cache {
            path: dir.to_path_buf(),
            message: "no such cache directory".into(),
        });
    }
    Cache::disk(dir)
}

/// The `hypernodes` program with the built-in functions.
pub fn main() -> ExitCode {
    main_with(Registry::new())
}

/// The `hypernodes` program with the functions of `registry`: parses the process's
/// arguments, runs, prints the summary; on error prints `error[HN0xx]: <cause>` (one
/// line, with the error's [code](Error::code)) and exits with 1 (2 for bad arguments,
/// which clap prints as `error: ...` followed by the usage).
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let stdout = std::io::stdout();
    match execute(cli, &registry, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = e.to_string().replace('\n', " ");
            eprintln!("error[{}]: {text}", e.code());
            ExitCode::from(1)
        }
    }
}

/// Runs the command line `args` (the program name first) with `registry`, writing what
/// it prints to `out`.
///
/// # Errors
///
/// [`Error::Invalid`] for bad arguments (clap's message); whatever the command fails with.
pub fn run_args<I, T>(args: I, registry: &Registry, out: &mut dyn Write) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| Error::Invalid(e.to_string().trim().to_string()))?;
    execute(cli, registry, out)
}

/// The file run `args` ask for, its input and output, and the trace it writes; with
/// `dry` (`plan`), without a cache, progress bars or trace: nothing is written.
fn file_run(
    args: RunArgs,
    registry: &Registry,
    dry: bool,
) -> Result<(FileRun, Location, Location, Option<ChromeTrace>)> {
    let RunArgs {
        pipeline,
        input,
        output,
        format,
        output_format,
        engine,
        select,
        memory_limit,
        partitions,
        batch_rows,
        compression,
        executor,
        on_error,
        failed,
        cache,
        progress: _,
        no_progress,
        trace,
        cluster,
        state,
    } = args;
    let engine: EngineChoice = engine.parse()?;
    let memory_limit = parse_size(&memory_limit)?;
    for (option, value) in [("--partitions", partitions.unwrap_or(1)), ("--batch-rows", batch_rows)] {
        if value == 0 {
            return Err(Error::Invalid(format!("{option} must be at least 1")));
        }
    }
    let compression = compression.as_deref().map(parse_compression).transpose()?;
    let format: Option<Format> = format.as_deref().map(str::parse).transpose()?;
    let output_format: Option<Format> = output_format.as_deref().map(str::parse).transpose()?;
    let mut config = RunConfig::new();
    if let Some(e) = &executor {
        config = config.with_map_executor(e.parse::<Executor>()?);
    }
    let on_error: Option<OnError> = on_error.as_deref().map(str::parse).transpose()?;
    match (on_error, &failed) {
        (Some(OnError::Collect), None) => {
            return Err(Error::Invalid(
                "--on-error collect needs --failed FILE, the file the failed rows are written to".into(),
            ));
        }
        (None | Some(OnError::Fail), Some(_)) => {
            return Err(Error::Invalid("--failed FILE needs --on-error collect".into()));
        }
        _ => {}
    }
    if let Some(on_error) = on_error {
        config = config.with_on_error(on_error);
    }
    if let Some(dir) = cache.as_ref().filter(|_| !dry) {
        config = config.with_cache(Cache::disk(dir)?);
    }
    if !no_progress && !dry {
        let bars = ProgressBars::new();
        if !bars.is_hidden() {
            config = config.with_callback(bars);
        }
    }
    let trace = trace.filter(|_| !dry).map(ChromeTrace::new);
    if let Some(trace) = &trace {
        config = config.with_callback(trace.clone());
    }
    let columns = match &input {
        Some(i) => Some(schema_of(i, format)?),
        None => None,
    };
    let file = load(&pipeline, registry, columns.as_ref())?;
    let input = input.or(file.input.clone()).ok_or_else(|| {
        Error::Invalid(format!(
            "No input: pass --input, or set `[run] input` in {}",
            pipeline.display()
        ))
    })?;
    let output = output
        .or(file.output.clone())
        .unwrap_or_else(|| Location::local(pipeline.with_extension("out.parquet")));
    let mut run = FileRun::new(file.pipeline.clone(), &input, &output)
        .with_engine(engine)
        .with_memory_limit(memory_limit)
        .with_batch_rows(batch_rows)
        .with_config(config);
    if let Some(c) = compression {
        run = run.with_compression(c);
    }
    if let Some(f) = format {
        run = run.with_format(f);
    }
    if let Some(f) = output_format {
        run = run.with_output_format(f);
    }
    if let Some(f) = failed {
        run = run.with_failed(f);
    }
    if let Some(p) = partitions {
        run = run.with_partitions(p);
    }
    if let Some(s) = select.or(file.select.clone()) {
        run = run.with_select(s);
    }
    if let Some(url) = cluster.filter(|_| !dry) {
        run = on_cluster(run, &url, registry)?;
    }
    if let Some(dir) = state {
        run = run.with_state(dir);
    }
    Ok((run, input, output, trace))
}

fn execute(cli: Cli, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    let print = |out: &mut dyn Write, text: String| {
        let _ = writeln!(out, "{text}");
    };
    match cli.command {
        Command::Run(args) => {
            let (run, input, output, trace) = file_run(args, registry, false)?;
            let summary = run.run();
            // The trace of a failed run is written too; the run's error comes first.
            let written = trace.as_ref().map(ChromeTrace::finish).transpose();
            let summary = summary?;
            written?;
            print(out, format!("{input} -> {output}"));
            if let Some(files) = &summary.incremental {
                state::print_removed(files, out);
            }
            print(out, summary.to_string());
            Ok(())
        }
        Command::Plan(args) => state::plan(args, registry, out),
        Command::State(command) => state::state(command, out),
        Command::Cluster(command) => cluster_process(command, registry, out),
        Command::Cache(CacheCommand::Stats { dir }) => {
            print(out, open_cache(&dir)?.stats()?.to_string());
            Ok(())
        }
        Command::Cache(CacheCommand::Clear { dir, node }) => {
            let cleared = open_cache(&dir)?.clear(node.as_deref())?;
            print(out, format!("{}: {cleared}", dir.display()));
            Ok(())
        }
        Command::Explain {
            pipeline,
            input,
            format,
        } => {
            let format: Option<Format> = format.as_deref().map(str::parse).transpose()?;
            let columns = match &input {
                Some(i) => Some(schema_of(i, format)?),
                None => None,
            };
            let file = load(&pipeline, registry, columns.as_ref())?;
            print(out, explain(&file.pipeline));
            // With data at hand, the plans the columnar engine makes of its first rows.
            let one_file = |l: &Location| l.as_path().map_or(!l.is_prefix(), Path::is_file);
            if let Some(input) = input.or(file.input.clone()).filter(one_file) {
                let format = format.unwrap_or_else(|| input.format());
                if let Ok(batch) = crate::io::location_head(&input, format, 100) {
                    let plans = ColumnarEngine::new()
                        .with_partitions(1)
                        .explain_batch(&file.pipeline, &batch)?;
                    print(
                        out,
                        format!("\ncolumnar plan (first {} rows of {}):", batch.num_rows(), input),
                    );
                    print(out, plans.trim_end().to_string());
                }
            }
            Ok(())
        }
        Command::GenData {
            set,
            rows,
            out: path,
            seed,
        } => {
            let started = std::time::Instant::now();
            let set = crate::datagen::DataSet::named(&set).expect("clap checked the name");
            // A local file's directory is made if missing.
            if let Some(dir) = path
                .as_path()
                .and_then(Path::parent)
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    action: "create directory",
                    path: dir.display().to_string().into(),
                    source,
                })?;
            }
            let bytes = crate::datagen::write_data_set(set, path.clone(), rows, seed)?;
            print(
                out,
                format!(
                    "wrote {} rows (seed {seed}) to {} ({:.1} MiB) in {:.2} s",
                    rows,
                    path,
                    bytes as f64 / (1 << 20) as f64,
                    started.elapsed().as_secs_f64()
                ),
            );
            Ok(())
        }
        Command::Viz {
            pipeline,
            output,
            format,
            depth,
            grouped,
        } => {
            let options = crate::viz::VizOptions::new().with_depth(depth).with_grouped(grouped);
            viz(&pipeline, output.as_deref(), format.as_deref(), &options, registry, out)
        }
    }
}

/// `hypernodes viz`: the picture of a pipeline file, to `output` (written to a temporary
/// file and renamed into place) or to `out`.
fn viz(
    pipeline: &Path,
    output: Option<&Path>,
    format: Option<&str>,
    options: &crate::viz::VizOptions,
    registry: &Registry,
    out: &mut dyn Write,
) -> Result<()> {
    use crate::viz::VizFormat;
    let format = match (format, output) {
        (Some(f), _) => f.parse::<VizFormat>()?,
        (None, Some(path)) => VizFormat::from_path(path)?,
        (None, None) => VizFormat::Dot,
    };
    let file = load(pipeline, registry, None)?;
    let text = format.render(&file.pipeline, options)?;
    let Some(path) = output else {
        return out.write_all(text.as_bytes()).map_err(|source| Error::Io {
            action: "write",
            path: "standard output".into(),
            source,
        });
    };
    let (mut file, mut sink) = crate::io::OutputFile::create(&crate::io::Location::local(path))?;
    sink.write_all(text.as_bytes()).map_err(|e| file.error(e))?;
    file.finish(sink)?;
    let bytes = file.commit()?;
    let _ = writeln!(
        out,
        "{} -> {} ({format}, {bytes} bytes)",
        pipeline.display(),
        path.display()
    );
    Ok(())
}

/// The schema of an input: a file, or the first file of a directory, read as `format`
/// (by default, by extension).
fn schema_of(input: &Location, format: Option<Format>) -> Result<crate::spec::Columns> {
    let (files, format) = crate::io::input_files(input, format)?;
    crate::io::location_schema(&files[0], format)
}

/// The nodes in execution order with their kind, what they read and what they produce,
/// and how the columnar engine runs each.
fn explain(pipeline: &crate::Pipeline) -> String {
    use crate::engine::columnar::{ExprNode, Kernel};
    let mut text = String::new();
    let ports = |ports: &[crate::node::Port]| {
        ports
            .iter()
            .map(|p| format!("{}: {}", p.name(), p.type_info()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let inputs: Vec<String> = pipeline
        .unfulfilled_args()
        .iter()
        .map(|n| format!("{n}: {}", pipeline.input_type(n).map_or("?".into(), |t| t.name())))
        .collect();
    text.push_str(&format!("inputs: {}\n", inputs.join(", ")));
    for node in pipeline.nodes() {
        let how = if let Some(e) = ExprNode::find(node) {
            format!("SQL expression `{}` (native DataFusion)", e.sql())
        } else if Kernel::find(node).is_some() {
            "function (vectorized UDF)".to_string()
        } else if node.is_nested() {
            "nested pipeline".to_string()
        } else {
            "function (row by row)".to_string()
        };
        text.push_str(&format!(
            "{}: ({}) -> ({})  [{how}]\n",
            node.name(),
            ports(node.params()),
            ports(node.outputs())
        ));
    }
    text.trim_end().to_string()
}
