//! Files in, files out: a pipeline run over the rows of Parquet, CSV, NDJSON or Arrow
//! files (see [`Format`]), streaming batch by batch with bounded memory, on all cores,
//! written atomically.
//!
//! Worker threads, one per partition, each take the next row group of a Parquet input,
//! decode its batches (only the columns needed) and run the pipeline on them, so
//! decoding runs on every core beside the nodes; the other formats are decoded by one
//! reader, batch by batch, and the workers run the batches. The calling thread writes the
//! results in input order. At most a fixed number of batches is in flight, chosen from
//! the memory limit, so a file many times larger than the limit streams through. The
//! output is written to a temporary file next to it and renamed into place only when
//! everything succeeded: a failed run leaves no partial file and keeps an existing output
//! as it was.
//!
//! Under [`OnError::Collect`] (see [`FileRun::with_config`]) a row that fails does not
//! fail the run: the rows that succeeded go to the output, the failed ones to a side file
//! ([`FileRun::with_failed`]) written the same way.
//!
//! A run plans every file before it writes anything (`plan`), then streams each input
//! (`stream`): workers read its batches (`read`) within the memory limit (`memory`) and
//! compute them (`compute`), and the calling thread writes them (`write`), counting
//! what it wrote (`summary`) and telling the callbacks (`report`).

use std::sync::Arc;
use std::time::Instant;

use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};

mod carry;
mod compute;
pub(crate) mod format;
mod handle;
mod input;
mod location;
mod memory;
mod plan;
mod read;
mod remote;
mod report;
mod sink;
mod state;
#[cfg(feature = "cloud")]
pub(crate) mod store;
mod stream;
mod summary;
mod write;

pub(crate) use format::BatchWriter;
use format::count_rows;
#[cfg(feature = "cli")]
pub(crate) use format::read_head;
pub use format::{Format, INFER_RECORDS, INFERRED, read_schema};
pub use handle::FileRunHandle;
#[cfg(feature = "cli")]
pub(crate) use input::location_head;
pub(crate) use input::location_schema;
pub use location::Location;
#[cfg(feature = "cli")]
pub(crate) use plan::input_files;
use plan::{FilePlan, Files};
pub use remote::{Remote, RemoteFile, RemoteSink};
use report::Reporting;
pub use state::{Action, FileDecision, FileState, Incremental, Reason, RunState, State};
use stream::stream;
pub use summary::RunSummary;
pub(crate) use write::OutputFile;

use crate::cache::Session;
use crate::error::{Error, Result};
use crate::events::{Context, Events, Part};
use crate::exec::{OnError, RunConfig};
use crate::pipeline::Pipeline;

/// Which engine runs the nodes of a Parquet run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// [`ColumnarEngine`](crate::engine::ColumnarEngine): nodes as UDFs over Arrow batches (the default).
    #[default]
    Columnar,
    /// [`NodeEngine`](crate::engine::NodeEngine): columns converted to Rust values, nodes called item by item.
    Node,
}

impl std::str::FromStr for EngineChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "columnar" => Ok(EngineChoice::Columnar),
            "node" => Ok(EngineChoice::Node),
            _ => Err(Error::Invalid(format!("Unknown engine '{s}'. Engines: columnar, node"))),
        }
    }
}

/// Parses a byte size: `512M`, `2G`, `64k`, `1.5GiB`, `1000000` (bytes).
///
/// # Examples
///
/// ```
/// use hypernodes::io::parse_size;
///
/// assert_eq!(parse_size("64M").unwrap(), 64 << 20);
/// assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
/// assert_eq!(parse_size("100").unwrap(), 100);
/// assert_eq!(parse_size("lots").unwrap_err().to_string(), "Invalid size 'lots': expected a number with an optional unit (K, M, G), e.g. 512M");
/// ```
///
/// # Errors
///
/// [`Error::Invalid`] when `text` is not a size.
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = || {
        Error::Invalid(format!(
            "Invalid size '{text}': expected a number with an optional unit (K, M, G), e.g. 512M"
        ))
    };
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.trim().parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    if !number.is_finite() || number < 0.0 {
        return Err(bad());
    }
    Ok((number * scale as f64) as u64)
}

/// A compression codec name as Parquet writer compression: `snappy` (the default),
/// `zstd`, `gzip`, `lz4`, `brotli`, `none`.
///
/// # Errors
///
/// [`Error::Invalid`] for another name.
pub fn parse_compression(name: &str) -> Result<Compression> {
    Ok(match name {
        "snappy" => Compression::SNAPPY,
        "zstd" => Compression::ZSTD(ZstdLevel::default()),
        "gzip" => Compression::GZIP(GzipLevel::default()),
        "lz4" => Compression::LZ4_RAW,
        "brotli" => Compression::BROTLI(BrotliLevel::default()),
        "none" | "uncompressed" => Compression::UNCOMPRESSED,
        _ => {
            return Err(Error::Invalid(format!(
                "Unknown compression '{name}'. Codecs: snappy, zstd, gzip, lz4, brotli, none"
            )));
        }
    })
}

/// A run of a pipeline over the rows of files into a file. Set it up with the `with_`
/// methods and call [`FileRun::run`].
///
/// The input is one file or a directory of files of one format (read in name order);
/// the output is one file, or, for a directory input, a directory with one output file
/// per input file, of the same name (with the output format's extension when the
/// formats differ). Each is Parquet, CSV, NDJSON or Arrow IPC, by extension or as set
/// with [`FileRun::with_format`] and [`FileRun::with_output_format`] (see [`Format`]).
/// CSV and NDJSON columns have the types inferred from the first [`INFER_RECORDS`]
/// records, and those a node reads are parsed as the type it reads; a value that does
/// not parse fails the run with the file, line, column, value and type (or, under
/// [`OnError::Collect`], is a failed row). Every output row is an input row, in input order, with
/// the columns chosen by [`FileRun::with_select`] (by default: the input columns
/// followed by the outputs a [`Pipeline::run`](crate::Run::run) returns).
///
/// # Failed rows
///
/// By default ([`OnError::Fail`]) a row that fails fails the run with the error of the
/// failing row that comes first in the input, and nothing is written. Under
/// [`OnError::Collect`] (set with [`FileRun::with_config`], or on the pipeline) the
/// run goes on: the output holds the rows that succeeded, in input order, and the side
/// file given to [`FileRun::with_failed`] (required then) holds the failed rows:
/// their input columns (those read from the file), then
///
/// | column | type | |
/// |---|---|---|
/// | `_row` | UInt64 | the row's index in its input file, from 0 |
/// | `_node` | Utf8 | the node that failed; null for a record of a CSV or NDJSON file that did not parse (the columns that did not parse are null) |
/// | `_error` | Utf8 | the whole error message, naming the same row |
///
/// in input order. The side file is written even when no row fails (with no rows and
/// these columns), and, like the output, atomically: only a run that succeeds leaves it.
/// For a directory input it is a directory, with one side file per input file, of the
/// same name as the input file; `_row` counts the rows of that file.
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::io::FileRun;
///
/// #[node(output = "checked")]
/// fn check(id: i64) -> Result<i64, String> {
///     if id % 400 == 7 { Err(format!("bad id {id}")) } else { Ok(id) }
/// }
///
/// let dir = std::env::temp_dir().join(format!("hn-doc-failed-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 1000, 7)?;
///
/// let summary = FileRun::new(Pipeline::new([check::node()]), dir.join("docs.parquet"), dir.join("out.parquet"))
///     .with_config(RunConfig::new().with_on_error(OnError::Collect).with_map_executor(Executor::parallel()))
///     .with_failed(dir.join("failed.parquet"))
///     .run()?;
/// assert_eq!((summary.rows_in, summary.rows_out, summary.failed_rows), (1000, 997, 3));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), hypernodes::Error>(())
/// ```
///
/// # Callbacks
///
/// The callbacks of the run's configuration (see [`FileRun::with_config`] and
/// [`crate::events`]) see the whole run as one top-level map over the rows of the input
/// files, in order: [`on_pipeline_start`](crate::events::Callback::on_pipeline_start),
/// then [`on_map_start`](crate::events::Callback::on_map_start) with the number of rows
/// (from the files' metadata),
/// [`on_map_item_start`](crate::events::Callback::on_map_item_start) for each batch when
/// a worker takes it and [`on_map_item_end`](crate::events::Callback::on_map_item_end)
/// when it is written (its rows that failed have no end),
/// [`on_map_end`](crate::events::Callback::on_map_end) and
/// [`on_pipeline_end`](crate::events::Callback::on_pipeline_end), on the calling thread,
/// also when the run fails. The node and nested events come from the batches as they
/// run, on the workers, in the same top-level context; their item ranges count from
/// their batch's first row. So a progress bar over the run counts rows:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use hypernodes::events::{Callback, Context};
/// use hypernodes::prelude::*;
/// use hypernodes::io::FileRun;
///
/// #[node(output = "word_count")]
/// fn count_words(passage: &str) -> i64 { passage.split_whitespace().count() as i64 }
///
/// #[derive(Default)]
/// struct Rows { total: AtomicUsize, written: AtomicUsize }
/// impl Callback for Rows {
///     fn on_map_start(&self, ctx: &Context, items: usize) {
///         if ctx.depth() == 0 { self.total.fetch_add(items, Ordering::Relaxed); }
///     }
///     fn on_map_item_end(&self, ctx: &Context, items: std::ops::Range<usize>, _: std::time::Duration) {
///         if ctx.depth() == 0 { self.written.fetch_add(items.len(), Ordering::Relaxed); }
///     }
/// }
///
/// let dir = std::env::temp_dir().join(format!("hn-doc-rows-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 1000, 7)?;
/// let rows = Arc::new(Rows::default());
/// FileRun::new(Pipeline::new([count_words::node()]), dir.join("docs.parquet"), dir.join("out.parquet"))
///     .with_batch_rows(300)
///     .with_config(RunConfig::new().with_callback(rows.clone()))
///     .run()?;
/// assert_eq!((rows.total.load(Ordering::Relaxed), rows.written.load(Ordering::Relaxed)), (1000, 1000));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), hypernodes::Error>(())
/// ```
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::io::FileRun;
///
/// #[node(output = "word_count")]
/// fn count_words(passage: &str) -> i64 { passage.split_whitespace().count() as i64 }
///
/// let dir = std::env::temp_dir().join(format!("hn-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 1000, 7)?;
///
/// let summary = FileRun::new(Pipeline::new([count_words::node()]), dir.join("docs.parquet"), dir.join("out.parquet"))
///     .with_select(["id", "word_count"])
///     .run()?;
/// assert_eq!((summary.rows_in, summary.rows_out), (1000, 1000));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct FileRun {
    pipeline: Pipeline,
    input: Location,
    output: Location,
    engine: EngineChoice,
    select: Option<Vec<String>>,
    format: Option<Format>,
    output_format: Option<Format>,
    compression: Option<Compression>,
    memory_limit: u64,
    partitions: usize,
    batch_rows: usize,
    config: RunConfig,
    failed: Option<Location>,
    remote: Option<Arc<dyn Remote>>,
    state: Option<std::path::PathBuf>,
    /// Set by [`FileRunHandle::stop`]: no new batch starts and nothing is written.
    stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// The default memory limit: 512 MiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 512 << 20;
/// The default number of rows per batch (fewer when the memory limit asks for it).
///
/// Small batches stay in the allocator's reused memory and the cores' caches: on W3 at
/// 1,000,000 rows, 8,192-row batches took 0.28 s and 90 MB, 65,536-row ones 0.34 s and
/// 145 MB (`--batch-rows`, same machine, same run).
pub const DEFAULT_BATCH_ROWS: usize = 8_192;

impl FileRun {
    /// A run of `pipeline` from `input` (a Parquet file or a directory of them) to
    /// `output`, on the columnar engine, snappy-compressed, with a 512 MiB memory limit,
    /// on every core.
    ///
    /// Each of them is a [`Location`]: a path, or the URL of an object (or a prefix of
    /// objects, the directory of an object store) in an object store, such as
    /// `s3://bucket/docs.parquet` (feature `cloud`; see [`Location`]).
    pub fn new(pipeline: Pipeline, input: impl Into<Location>, output: impl Into<Location>) -> Self {
        FileRun {
            pipeline,
            input: input.into(),
            output: output.into(),
            engine: EngineChoice::Columnar,
            select: None,
            format: None,
            output_format: None,
            compression: None,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_rows: DEFAULT_BATCH_ROWS,
            config: RunConfig::new(),
            failed: None,
            remote: None,
            state: None,
            stop: None,
        }
    }

    /// The engine that runs the nodes.
    pub fn with_engine(mut self, engine: EngineChoice) -> Self {
        self.engine = engine;
        self
    }

    /// The output columns, in order: input columns and pipeline outputs. Only the input
    /// columns needed (by the nodes or here) are read.
    pub fn with_select<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.select = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// The format of the input files (by default, each file's by its extension: see
    /// [`Format::of`]; for a directory, the one format of the files it holds).
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// The format of the output files (by default, the output's by its extension; for a
    /// directory, the input's).
    pub fn with_output_format(mut self, format: Format) -> Self {
        self.output_format = Some(format);
        self
    }

    /// The compression of Parquet output (see [`parse_compression`]; snappy by default).
    /// Other formats are written uncompressed: a compression set for them is refused.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    /// The most memory, in bytes, that batches in flight and the writer's buffer may
    /// hold; batches get smaller and fewer to stay under it.
    pub fn with_memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes.max(1);
        self
    }

    /// How many batches run at once (threads); defaults to the cores.
    pub fn with_partitions(mut self, partitions: usize) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// The most rows per batch (default [`DEFAULT_BATCH_ROWS`]).
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// How the pipeline runs over each batch, over the pipeline's own configuration (a
    /// field set here wins; see [`RunConfig`] for the other levels): the map executor
    /// runs the rows that run row by row (every row on the node engine; on the columnar
    /// engine the rows of the nodes it runs row by row, such as `async fn` nodes),
    /// alongside the batches already running at once
    /// ([`FileRun::with_partitions`]); the failure policy decides what a failing row
    /// does (see [Failed rows](FileRun#failed-rows)); retries and timeouts apply to
    /// each row. The configuration's engine is not used: [`FileRun::with_engine`]
    /// chooses it.
    pub fn with_config(mut self, config: RunConfig) -> Self {
        self.config = config.or(&self.config);
        self
    }

    /// Where the failed rows go under [`OnError::Collect`]: a file of the format of its
    /// extension (for a directory input, a directory of files of the output's format);
    /// see [Failed rows](FileRun#failed-rows).
    pub fn with_failed(mut self, path: impl Into<Location>) -> Self {
        self.failed = Some(path.into());
        self
    }

    /// Runs on `remote` instead of this process, such as a Ballista cluster
    /// (`hypernodes::cluster::Cluster`, feature `cluster`): the pipeline becomes one
    /// DataFusion plan, the executors read the input (a local file at the same path,
    /// or an object by its URL, with the store settings of their own environment) and
    /// run the nodes, and this process writes the rows they return as a local run does:
    /// in input order, atomically, with the same summary and checksum. Each file is cut
    /// into [`FileRun::with_partitions`] ranges of whole row groups, one job each, all
    /// submitted at once and written one after the other.
    ///
    /// A remote run cannot collect failed rows, use a cache or the node engine: each is
    /// refused before anything runs.
    pub fn with_remote(mut self, remote: impl Remote + 'static) -> Self {
        self.remote = Some(Arc::new(remote));
        self
    }

    /// Makes the run incremental, keeping its state in the directory `dir` (made if
    /// missing; several runs may share it, each keeps its own file there): a rerun
    /// computes only the input files that are new or changed, or whose output the
    /// pipeline or the settings would change, skips the others (their outputs left
    /// untouched) and removes the outputs of input files that are gone. When only some
    /// nodes changed (or the selection), a file whose input and output are as recorded
    /// is recomputed by column ([`Action::Recompute`]): only those nodes and the ones
    /// downstream of them run, the other columns are read from the previous output. See
    /// [`FileRun::plan_incremental`] for what decides, and
    /// [`RunSummary::incremental`] for what the run did.
    ///
    /// The state records, per input file, its size, modification time and content hash
    /// (blake3, read on every run: a time alone is never trusted), the signature of what
    /// computed its output (each node's cache key: its code hash, ports and nested
    /// structure; the bound values; the columns selected; the engine; the input format;
    /// the output's format and compression; the failure policy) and each file written
    /// with its size and hash.
    ///
    /// Each input file's outputs are put in place as soon as they are complete (not all
    /// at the end of the run), then recorded: the state is written as each file is put
    /// in place, and synced at the end. A run that fails keeps and records the files it
    /// finished, a run killed keeps them and their records too, and the state never names an
    /// output that is not there as written: the next run computes exactly what is
    /// missing. Inside a file too: the output rows of each batch finished are journaled
    /// in the state directory, and the next run writes them without computing them
    /// ([`Action::Resume`]), to the bytes of a run never interrupted. Local files only,
    /// in this process (not on a remote).
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::io::FileRun;
    ///
    /// #[node(output = "word_count")]
    /// fn count_words(passage: &str) -> i64 { passage.split_whitespace().count() as i64 }
    ///
    /// let dir = std::env::temp_dir().join(format!("hn-doc-inc-{}", std::process::id()));
    /// std::fs::create_dir_all(dir.join("in")).unwrap();
    /// for (name, seed) in [("a", 1), ("b", 2)] {
    ///     hypernodes::datagen::write_docs(&dir.join(format!("in/{name}.parquet")), 100, seed)?;
    /// }
    /// let run = FileRun::new(Pipeline::new([count_words::node()]), dir.join("in"), dir.join("out"))
    ///     .with_state(dir.join("state"));
    /// let first = run.run()?.incremental.unwrap();
    /// assert_eq!((first.computed.len(), first.skipped.len()), (2, 0));
    ///
    /// hypernodes::datagen::write_docs(&dir.join("in/b.parquet"), 100, 3)?;
    /// let again = run.run()?.incremental.unwrap();
    /// assert_eq!(again.computed, [dir.join("in/b.parquet")]);
    /// assert_eq!(again.skipped, [dir.join("in/a.parquet")]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn with_state(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.state = Some(dir.into());
        self
    }

    /// What [`FileRun::run`] would do with each file under the state of
    /// [`FileRun::with_state`], and why, without running or writing anything: each
    /// input file in order, computed ([`Action::Compute`]) for the [`Reason`]s given
    /// (new file, content changed, a node added, removed or changed, a bound value,
    /// the selection, the engine, the formats or the failure policy changed, an output
    /// missing or changed since written), recomputed by column when only nodes or the
    /// selection changed ([`Action::Recompute`], with the columns computed; a file
    /// computed whole instead says why in a [`Reason::WholeFile`]) or skipped
    /// ([`Action::Skip`], without reasons,
    /// or only [`Reason::Touched`]); then each input file of the state that is gone
    /// ([`Action::Remove`], with the outputs that are to be removed).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] without a state; those of [`FileRun::run`] found while
    /// planning; [`Error::Data`] for a state file that does not parse.
    pub fn plan_incremental(&self) -> Result<Vec<FileDecision>> {
        let dir = self
            .state
            .as_ref()
            .ok_or_else(|| Error::Invalid("plan_incremental needs a state: set one with FileRun::with_state".into()))?;
        state::plan(self, dir)
    }

    /// Runs: reads every input file, runs the pipeline, writes the output (and, under
    /// [`OnError::Collect`], the side file of failed rows).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for a missing input or an output that cannot be created;
    /// [`Error::Data`] for an input that is empty, not of its format or truncated, lacks
    /// a column the pipeline reads, has a column of another type than the one its node
    /// reads, or (CSV, NDJSON) holds a value that does not parse as its column's type;
    /// [`Error::Invalid`] for a compression set for output that is not Parquet, a CSV
    /// output of list or struct columns, or a directory of files of several formats; [`Error::UnknownOutputs`] for a selected column that is neither an input
    /// column nor an output; [`Error::Invalid`] for [`OnError::Collect`] without a file
    /// for the failed rows, or such a file under [`OnError::Fail`], or one that is the
    /// output or the input; [`Error::UnknownExecutor`] for an executor given by a name
    /// that did not parse; under [`OnError::Fail`], any node failure. Nothing is
    /// written then (with a state, the input files finished before the failure stay
    /// written: see [`FileRun::with_state`]).
    pub fn run(&self) -> Result<RunSummary> {
        // Unreachable: only a run started with `FileRun::start` can stop.
        self.run_until_stopped()?
            .ok_or_else(|| Error::Internal("a file run without a handle stopped".into()))
    }

    /// [`FileRun::run`], or `None` when [`FileRunHandle::stop`] stopped it: then
    /// nothing was put in place (an incremental run keeps the files it finished before).
    fn run_until_stopped(&self) -> Result<Option<RunSummary>> {
        let started = Instant::now();
        // The configuration of every batch: this run's over the pipeline's over the
        // caller's default, taken here (the batches run on other threads).
        let config = self.config.or(self.pipeline.config()).or(&RunConfig::current());
        let on_error = config.resolve(&RunConfig::new())?.on_error().unwrap_or_default();
        match (on_error, &self.failed) {
            (OnError::Collect, None) => {
                return Err(Error::Invalid(
                    "on_error collect needs a file for the failed rows: set one with FileRun::with_failed".into(),
                ));
            }
            (OnError::Fail, Some(path)) => {
                return Err(Error::Invalid(format!(
                    "The failed rows' file '{path}' needs on_error collect: a run that fails writes no rows"
                )));
            }
            _ => {}
        }
        // One count of cache hits and misses over every batch, and one commit at the end.
        let session = Arc::new(Session::default());
        let report = config.cache().is_some();
        let config = config.with_session(session.clone());
        // With callbacks: the run's own events go to them in a top-level context, and the
        // batches report to them in the same context (through `Part`).
        let events = match config.callbacks() {
            [] => None,
            callbacks => Some(Events::new(Context::root(self.pipeline.name()), callbacks.into())),
        };
        let config = match &events {
            Some(events) => config
                .without_callbacks()
                .with_callback(Part {
                    // The run reports the rows as its items: see `report`.
                    callbacks: events.callbacks.clone(),
                    first: None,
                })
                .in_context(events.ctx.clone()),
            None => config,
        };
        let pipeline = self.pipeline.with_config(config.clone().with_on_error(on_error));
        if self.state.is_some() {
            state::check(self)?;
        }
        let files = Files::new(self, true)?;
        let mut summary = RunSummary::empty();
        // Every file is checked before anything is written.
        let mut plans = FilePlan::all(&pipeline, self, &files)?;
        if let Some(remote) = &self.remote {
            remote::check(self, remote.as_ref(), &config, &plans)?;
        }
        // An incremental run: only the files to compute.
        let mut tracker = match &self.state {
            Some(dir) => Some(state::Tracker::begin(dir, self, &files, &plans, true)?),
            None => None,
        };
        let Files {
            mut inputs,
            mut outputs,
            mut failed,
            ..
        } = files;
        // The rows of the files skipped, reported first (their outputs are up to date).
        let skipped: Vec<u64> = tracker
            .as_ref()
            .map(|t| t.skipped_rows().into_iter().flatten().collect())
            .unwrap_or_default();
        if let Some(tracker) = &tracker {
            let keep = tracker.computed();
            state::retain(&mut inputs, &keep);
            state::retain(&mut outputs, &keep);
            state::retain(&mut failed, &keep);
            state::retain(&mut plans, &keep);
            plans = tracker.reduce(plans)?;
        }
        // The callbacks learn the rows first: from the metadata, or counted.
        let map_started = match &events {
            Some(e) => {
                let mut rows = 0;
                for (input, plan) in inputs.iter().zip(&plans) {
                    rows += match plan.rows {
                        Some(r) => r,
                        None => count_rows(input.local_file()?, plan.format).map_err(|e| input.rename(e))?,
                    } as usize;
                }
                let skipped_rows = skipped.iter().sum::<u64>() as usize;
                e.pipeline_start();
                let started = e.map_start(rows + skipped_rows);
                let mut offset = 0;
                for &rows in &skipped {
                    e.item_skipped(offset..offset + rows as usize);
                    offset += rows as usize;
                }
                Some(started)
            }
            None => None,
        };
        let mut written = Vec::new();
        let mut offset = skipped.iter().sum::<u64>() as usize;
        let mut streamed = Ok(());
        // An incremental run puts each file's outputs in place as soon as they are
        // complete, and records them in the state.
        let computed = tracker.as_ref().map(state::Tracker::computed).unwrap_or_default();
        let files = inputs.iter().zip(&outputs).zip(&failed).zip(plans);
        for (k, (((input, output), failed), plan)) in files.enumerate() {
            let rows_before = summary.rows_in;
            let at = Reporting {
                events: events.as_ref(),
                offset,
            };
            let journal = tracker.as_mut().and_then(|t| t.journal(computed[k]));
            let streamed_file = match &self.remote {
                Some(remote) => remote::stream_on(self, remote.as_ref(), input, output, &plan, at, &mut summary)
                    .map(|f| ((f, None), None)),
                None => stream(self, input, output, failed.as_ref(), plan, at, journal, &mut summary),
            };
            let streamed_file = streamed_file.map_err(|e| input.rename(e));
            // Stopped: the files written are dropped, which removes them.
            if self.stopped() {
                break;
            }
            // A resumed file's rows kept count among the run's rows, not as read.
            let kept = streamed_file
                .as_ref()
                .ok()
                .and_then(|(_, j)| j.as_ref()?.journal().finished())
                .map_or(0, |k| k.rows);
            offset += kept as usize;
            let streamed_file = match (streamed_file, &mut tracker) {
                (Ok((files, journal)), Some(tracker)) => {
                    let rows = summary.rows_in - rows_before + kept;
                    write::place(files, &mut summary)
                        .and_then(|()| tracker.put(computed[k], rows))
                        .and_then(|()| journal.map_or(Ok(()), state::Appender::remove))
                }
                (Ok((files, _)), None) => {
                    written.push(files);
                    Ok(())
                }
                (Err(e), _) => Err(e),
            };
            if let Err(e) = streamed_file {
                streamed = Err(e);
                break;
            }
            offset += (summary.rows_in - rows_before) as usize;
        }
        if let (Some(events), Some(started)) = (&events, map_started) {
            events.map_end(started, streamed.as_ref().err());
            events.pipeline_end(streamed.as_ref().err());
        }
        // The outputs are renamed into place, then the cache commits what the batches
        // that ran stored, also when the run failed.
        let stopped = self.stopped();
        let placed = streamed.and_then(|()| match stopped {
            true => Ok(()),
            false => written
                .into_iter()
                .try_for_each(|files| write::place(files, &mut summary)),
        });
        // What an incremental run that failed or stopped finished stays recorded.
        if let (true, Some(tracker)) = (placed.is_err() || stopped, &mut tracker) {
            let _ = tracker.flush();
        }
        let committed = session.commit();
        placed?;
        committed?;
        if stopped {
            return Ok(None);
        }
        summary.incremental = tracker.map(state::Tracker::finish).transpose()?;
        summary.total_floats();
        summary.cache = report.then(|| session.report());
        summary.elapsed = started.elapsed();
        Ok(Some(summary))
    }

    /// Whether [`FileRunHandle::stop`] stopped this run.
    fn stopped(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    }
}
