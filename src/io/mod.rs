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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

mod format;

pub(crate) use format::read_head;
pub(crate) use format::BatchWriter;
use format::StreamReader;
pub use format::{read_schema, Format, INFERRED, INFER_RECORDS};

use crate::cache::{CacheReport, Session};
use crate::engine::columnar::types::{type_info_for, ColumnType};
use crate::engine::{ColumnarEngine, NodeEngine};
use crate::error::{Error, Result};
use crate::events::{runs, Callback, Context, End, Events};
use crate::exec::{ItemFailure, OnError, RunConfig};
use crate::node::Node;
use crate::pipeline::Pipeline;

/// Which engine runs the nodes of a Parquet run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// [`ColumnarEngine`]: nodes as UDFs over Arrow batches (the default).
    #[default]
    Columnar,
    /// [`NodeEngine`]: columns converted to Rust values, nodes called item by item.
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
            )))
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
/// not parse fails the run with the file, line and column. Every output row is an input row, in input order, with
/// the columns chosen by [`FileRun::with_select`] (by default: the input columns
/// followed by the outputs a [`Pipeline::run`](crate::Pipeline::run) returns).
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
/// | `_node` | Utf8 | the node that failed |
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
///     .with_config(RunConfig::new().with_on_error(OnError::Collect).with_map_executor("parallel"))
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
/// files, in order: [`on_pipeline_start`](Callback::on_pipeline_start), then
/// [`on_map_start`](Callback::on_map_start) with the number of rows (from the files'
/// metadata), [`on_map_item_start`](Callback::on_map_item_start) for each batch when a
/// worker takes it and [`on_map_item_end`](Callback::on_map_item_end) when it is written
/// (its rows that failed have no end), [`on_map_end`](Callback::on_map_end) and
/// [`on_pipeline_end`](Callback::on_pipeline_end), on the calling thread, also when the
/// run fails. The node and nested events come from the batches as they run, on the
/// workers, in the same top-level context; their item ranges count from their batch's
/// first row. So a progress bar over the run counts rows:
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
    input: PathBuf,
    output: PathBuf,
    engine: EngineChoice,
    select: Option<Vec<String>>,
    format: Option<Format>,
    output_format: Option<Format>,
    compression: Option<Compression>,
    memory_limit: u64,
    partitions: usize,
    batch_rows: usize,
    config: RunConfig,
    failed: Option<PathBuf>,
    #[cfg(feature = "cluster")]
    cluster: Option<crate::cluster::Cluster>,
}

/// What a [`FileRun`] did. Displayed, the summary line of `hypernodes run`; a run
/// that collected failures says how many rows failed and where they went before the
/// checksum (`...; 3 failed rows -> failed.parquet; checksum: ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Rows read.
    pub rows_in: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Batches processed.
    pub batches: u64,
    /// Output files written.
    pub files: Vec<PathBuf>,
    /// Bytes written, over all output files (not the side files of failed rows).
    pub bytes_out: u64,
    /// Rows that failed, under [`OnError::Collect`] (written to the side files, not to
    /// the output; counted in `rows_in`, not in `rows_out`).
    pub failed_rows: u64,
    /// The side files of failed rows written (see [`FileRun::with_failed`]); empty
    /// unless the run collected failures.
    pub failed_files: Vec<PathBuf>,
    /// The most memory held at once by batches in flight and the writer's buffer, in
    /// bytes (Arrow buffer sizes; the limit applies to this figure).
    pub peak_memory: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The checksum of `WORKLOADS.md` over the columns written: the sum of every
    /// integer value...
    pub int_sum: i128,
    /// ... and the sum of every float value (print it rounded to 6 decimals), summed
    /// exactly: the same whatever the order of the rows.
    pub float_sum: f64,
    /// The exact sum of the floats so far.
    floats: FloatSum,
    /// What the cache did, per node, when the run had one (see
    /// [`RunConfig::with_cache`]); displayed as `cache: NODE H hits M misses, ...; `
    /// before the checksum.
    pub cache: Option<CacheReport>,
}

impl RunSummary {
    /// Rows read per second of wall time.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files: Vec<String> = self.files.iter().map(|p| p.display().to_string()).collect();
        write!(
            f,
            "{} rows in, {} rows out, {} batches in {:.3} s ({:.0} rows/s); peak batch memory {:.1} MiB; \
             wrote {} ({:.1} MiB); ",
            self.rows_in,
            self.rows_out,
            self.batches,
            self.elapsed.as_secs_f64(),
            self.rows_per_sec(),
            self.peak_memory as f64 / (1 << 20) as f64,
            files.join(", "),
            self.bytes_out as f64 / (1 << 20) as f64,
        )?;
        if !self.failed_files.is_empty() {
            let failed: Vec<String> = self.failed_files.iter().map(|p| p.display().to_string()).collect();
            write!(f, "{} failed rows -> {}; ", self.failed_rows, failed.join(", "))?;
        }
        if let Some(cache) = &self.cache {
            write!(f, "cache: {cache}; ")?;
        }
        write!(f, "checksum: integers {}, floats {:.6}", self.int_sum, self.float_sum)
    }
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
    pub fn new(pipeline: Pipeline, input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> Self {
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
            #[cfg(feature = "cluster")]
            cluster: None,
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
    pub fn with_failed(mut self, path: impl Into<PathBuf>) -> Self {
        self.failed = Some(path.into());
        self
    }

    /// Runs on a Ballista cluster instead of this process (see [`crate::cluster`]): the
    /// pipeline becomes one DataFusion plan, the executors read the input (at the same
    /// path) and run the nodes, and this process writes the rows they return as a local
    /// run does: in input order, atomically, with the same summary and checksum. Each
    /// file is cut into [`FileRun::with_partitions`] ranges of whole row groups, one
    /// job each, all submitted at once and written one after the other.
    ///
    /// A cluster run cannot collect failed rows, use a cache or the node engine: each is
    /// refused before anything runs.
    #[cfg(feature = "cluster")]
    pub fn with_cluster(mut self, cluster: crate::cluster::Cluster) -> Self {
        self.cluster = Some(cluster);
        self
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
    /// written then.
    pub fn run(&self) -> Result<RunSummary> {
        let started = Instant::now();
        // The configuration of every batch: this run's over the pipeline's over the
        // caller's default, taken here (the batches run on other threads).
        let config = self.config.or(self.pipeline.config()).or(&RunConfig::current());
        let on_error = config.resolve(&RunConfig::new())?.on_error().unwrap_or_default();
        match (on_error, &self.failed) {
            (OnError::Collect, None) => {
                return Err(Error::Invalid(
                    "on_error collect needs a file for the failed rows: set one with FileRun::with_failed".into(),
                ))
            }
            (OnError::Fail, Some(path)) => {
                return Err(Error::Invalid(format!(
                    "The failed rows' file '{}' needs on_error collect: a run that fails writes no rows",
                    path.display()
                )))
            }
            _ => {}
        }
        // One count of cache hits and misses over every batch, and one commit at the end.
        let session = Arc::new(Session::default());
        let report = config.cache().is_some();
        let config = config.with_session(session.clone());
        // With callbacks: the run's own events go to them in a top-level context, and the
        // batches report to them in the same context (see `BatchEvents`).
        let events = match config.callbacks() {
            [] => None,
            callbacks => Some(Events {
                ctx: Context::root(self.pipeline.name()),
                callbacks: callbacks.into(),
            }),
        };
        let config = match &events {
            Some(events) => config
                .without_callbacks()
                .with_callback(BatchEvents(events.callbacks.clone()))
                .in_context(events.ctx.clone()),
            None => config,
        };
        let pipeline = self.pipeline.with_config(config.clone().with_on_error(on_error));
        let (inputs, format) = input_files(&self.input, self.format)?;
        // The output's format: given, else its extension's, else (a directory) the input's.
        let out_format = match self.output_format {
            Some(f) => f,
            None if self.input.is_dir() => format,
            None => Format::of(&self.output),
        };
        if out_format != Format::Parquet && self.compression.is_some() {
            return Err(Error::Invalid(format!(
                "Compression is for Parquet output; '{}' is written as {out_format}, uncompressed",
                self.output.display()
            )));
        }
        // In an output directory, a file of the input's name with the output's extension.
        let name_in = |dir: &Path, file: &Path, to: Format| {
            let name = Path::new(file.file_name().expect("a file"));
            match Format::of(name) == to {
                true => dir.join(name),
                false => dir.join(name.with_extension(to.extensions()[0])),
            }
        };
        if !self.input.is_dir() && self.output.is_dir() {
            return Err(Error::Invalid(format!(
                "The output '{}' is a directory; name a file (a directory is the output of a directory input)",
                self.output.display()
            )));
        }
        let outputs: Vec<PathBuf> = if self.input.is_dir() {
            std::fs::create_dir_all(&self.output).map_err(|source| Error::Io {
                action: "create directory",
                path: self.output.display().to_string().into(),
                source,
            })?;
            inputs.iter().map(|f| name_in(&self.output, f, out_format)).collect()
        } else {
            vec![self.output.clone()]
        };
        for (i, o) in inputs.iter().zip(&outputs) {
            if same_file(i, o) {
                return Err(Error::Invalid(format!(
                    "The output '{}' is the input file; choose another output",
                    o.display()
                )));
            }
        }
        // The side files of failed rows: like the outputs, and none of them.
        let failed: Vec<Option<PathBuf>> = match &self.failed {
            None => vec![None; inputs.len()],
            Some(path) => {
                let files: Vec<PathBuf> = if self.input.is_dir() {
                    if same_path(path, &self.output) {
                        return Err(Error::Invalid(format!(
                            "The failed rows' directory '{}' is the output directory; choose another",
                            path.display()
                        )));
                    }
                    std::fs::create_dir_all(path).map_err(|source| Error::Io {
                        action: "create directory",
                        path: path.display().to_string().into(),
                        source,
                    })?;
                    inputs.iter().map(|f| name_in(path, f, out_format)).collect()
                } else {
                    vec![path.clone()]
                };
                for ((i, o), f) in inputs.iter().zip(&outputs).zip(&files) {
                    if same_path(f, o) {
                        return Err(Error::Invalid(format!(
                            "The failed rows' file '{}' is the output; choose another",
                            f.display()
                        )));
                    }
                    if same_path(f, i) {
                        return Err(Error::Invalid(format!(
                            "The failed rows' file '{}' is the input file; choose another",
                            f.display()
                        )));
                    }
                }
                files.into_iter().map(Some).collect()
            }
        };
        let mut summary = RunSummary {
            rows_in: 0,
            rows_out: 0,
            batches: 0,
            files: Vec::new(),
            bytes_out: 0,
            failed_rows: 0,
            failed_files: Vec::new(),
            peak_memory: 0,
            elapsed: Duration::ZERO,
            int_sum: 0,
            float_sum: 0.0,
            floats: FloatSum::default(),
            cache: None,
        };
        // Every file is checked before anything is written.
        // The failed rows' files: of the output's format in a directory, else of their
        // own extension's.
        let side_format = match &self.failed {
            Some(path) if !self.input.is_dir() => Format::of(path),
            _ => out_format,
        };
        let mut plans = Vec::new();
        for input in &inputs {
            let formats = (format, out_format, side_format);
            plans.push(self.plan(&pipeline, input, self.failed.is_some(), formats)?);
        }
        #[cfg(feature = "cluster")]
        if self.cluster.is_some() {
            self.check_cluster(&config, &plans)?;
        }
        // The callbacks learn the rows first: from the metadata, or counted.
        let map_started = match &events {
            Some(e) => {
                let mut rows = 0;
                for (input, plan) in inputs.iter().zip(&plans) {
                    rows += match plan.rows {
                        Some(r) => r,
                        None => format::count_rows(input, plan.format)?,
                    } as usize;
                }
                e.pipeline_start();
                Some(e.map_start(rows))
            }
            None => None,
        };
        let mut written = Vec::new();
        let mut offset = 0;
        let mut streamed = Ok(());
        for (((input, output), failed), plan) in inputs.iter().zip(&outputs).zip(&failed).zip(plans) {
            let rows_before = summary.rows_in;
            let at = Reporting {
                events: events.as_ref(),
                offset,
            };
            #[cfg(feature = "cluster")]
            let streamed_file = match &self.cluster {
                Some(cluster) => self
                    .stream_on(cluster, input, output, &plan, at, &mut summary)
                    .map(|f| (f, None)),
                None => self.stream(input, output, failed.as_deref(), plan, at, &mut summary),
            };
            #[cfg(not(feature = "cluster"))]
            let streamed_file = self.stream(input, output, failed.as_deref(), plan, at, &mut summary);
            match streamed_file {
                Ok(files) => written.push(files),
                Err(e) => {
                    streamed = Err(e);
                    break;
                }
            }
            offset += (summary.rows_in - rows_before) as usize;
        }
        if let (Some(events), Some(started)) = (&events, map_started) {
            events.map_end(started, streamed.as_ref().err());
            events.pipeline_end(streamed.as_ref().err());
        }
        // The outputs are renamed into place, then the cache commits what the batches
        // that ran stored, also when the run failed.
        let placed = streamed.and_then(|()| {
            for (file, failed) in written {
                let path = file.path.clone();
                summary.bytes_out += file.commit()?;
                summary.files.push(path);
                if let Some(failed) = failed {
                    let path = failed.path.clone();
                    failed.commit()?;
                    summary.failed_files.push(path);
                }
            }
            Ok(())
        });
        let committed = session.commit();
        placed?;
        committed?;
        summary.float_sum = summary.floats.total();
        summary.cache = report.then(|| session.report());
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// Checks `input` (read as `formats.0`) against `pipeline` (this run's, configured):
    /// the columns to read and the output schema (written as `formats.1`), and, with
    /// `side` (written as `formats.2`), the schema of the failed rows.
    fn plan(
        &self,
        pipeline: &Pipeline,
        input: &Path,
        side: bool,
        (format, out_format, side_format): (Format, Format, Format),
    ) -> Result<FilePlan> {
        let data = |message: String| Error::Data {
            path: input.display().to_string().into(),
            message: message.into(),
        };
        let metadata = match format {
            Format::Parquet => {
                let file = File::open(input).map_err(|source| Error::Io {
                    action: "read",
                    path: input.display().to_string().into(),
                    source,
                })?;
                if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                    return Err(data("the file is empty (0 bytes), not a Parquet file".into()));
                }
                Some(
                    ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                        .map_err(|e| data(format!("not a readable Parquet file ({e})")))?,
                )
            }
            _ => None,
        };
        let mut schema: Schema = match &metadata {
            Some(m) => m.schema().as_ref().clone(),
            None => read_schema(input, format)?,
        };
        schema.metadata.remove(INFERRED);
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();

        // The output columns, and the pipeline pruned to the nodes they need. By default
        // the input columns and the outputs a run returns.
        let outputs = pipeline.outputs();
        let select: Vec<String> = match &self.select {
            Some(s) => s.clone(),
            None => {
                let returned =
                    crate::pipeline::RunPlan::for_columns(pipeline, None, crate::exec::RunConfig::built_in())?;
                columns
                    .iter()
                    .map(|c| c.to_string())
                    .chain(
                        returned
                            .outputs()
                            .iter()
                            .filter(|o| !columns.contains(&o.as_str()))
                            .cloned(),
                    )
                    .collect()
            }
        };
        let unknown: Vec<String> = select
            .iter()
            .filter(|c| !columns.contains(&c.as_str()) && !outputs.contains(&c.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let mut available: Vec<String> = columns.iter().chain(&outputs).map(|c| c.to_string()).collect();
            available.sort();
            available.dedup();
            let suggestion = crate::error::closest(&unknown[0], available.iter().map(String::as_str));
            return Err(Error::UnknownOutputs {
                unknown,
                available,
                suggestion,
            });
        }
        let wanted: Vec<String> = select
            .iter()
            .filter(|c| outputs.contains(&c.as_str()))
            .cloned()
            .collect();
        let pipeline = prune(pipeline, &wanted)?;
        let outputs = pipeline.outputs();

        // The pipeline's inputs: present, and of the type their nodes read.
        let mut retyped: Vec<(String, DataType)> = Vec::new();
        for name in pipeline.unfulfilled_args() {
            let reader = pipeline
                .nodes()
                .iter()
                .find(|n| n.params().iter().any(|p| p.name() == name))
                .map_or("", |n| n.name());
            let Some(field) = schema.fields().iter().find(|f| f.name() == name) else {
                return Err(data(format!(
                    "no column '{name}', which node '{reader}' reads. Columns: {}",
                    columns.join(", ")
                )));
            };
            let ty = pipeline.input_type(name).expect("an input");
            let found = type_info_for(field.data_type());
            let nested_list = found.is_none() && matches!(field.data_type(), arrow::datatypes::DataType::List(_));
            if found == Some(ty) || nested_list {
                continue;
            }
            // An untyped file's column is parsed as the type its node reads.
            let parsed = ColumnType::find(&ty).map(|c| (c.data_type)());
            match parsed {
                Some(dt) if format.inferred() && (format != Format::Csv || !dt.is_nested()) => {
                    retyped.push((name.to_string(), dt));
                }
                _ => {
                    return Err(data(format!(
                        "column '{name}' has type {}, but node '{reader}' reads it as {ty}",
                        field.data_type()
                    )))
                }
            }
        }
        if !retyped.is_empty() {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| match retyped.iter().find(|(n, _)| n == f.name()) {
                    Some((_, dt)) => f.as_ref().clone().with_data_type(dt.clone()),
                    None => f.as_ref().clone(),
                })
                .collect();
            schema = Schema::new_with_metadata(fields, schema.metadata().clone());
        }
        // Read what the nodes need and what is selected from the file, nothing else.
        let needed: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let n = f.name().as_str();
                pipeline.unfulfilled_args().contains(&n) || (select.iter().any(|s| s == n) && !outputs.contains(&n))
            })
            .map(|(i, _)| i)
            .collect();
        let (rows, row_bytes) = match &metadata {
            Some(metadata) => {
                let md = metadata.metadata();
                let rows = md.file_metadata().num_rows().max(0) as u64;
                let total: i64 = md
                    .row_groups()
                    .iter()
                    .map(|rg| needed.iter().map(|&c| rg.column(c).uncompressed_size()).sum::<i64>())
                    .sum();
                (Some(rows), (total.max(0) as u64).div_ceil(rows.max(1)).max(8))
            }
            None if format == Format::Arrow => {
                let rows = format::count_rows(input, format)?;
                let size = std::fs::metadata(input).map_or(0, |m| m.len());
                (Some(rows), size.div_ceil(rows.max(1)).max(8))
            }
            None => (None, format::text_row_bytes(input, format)?),
        };
        // The failed rows: the columns read, then where and why each failed.
        let failed = if side {
            // Unreachable: `needed` holds indices of this schema's fields.
            let read = schema.project(&needed).map_err(|e| Error::Internal(e.to_string()))?;
            let mut fields: Vec<Field> = read.fields().iter().map(|f| f.as_ref().clone()).collect();
            for (name, ty) in [
                ("_row", DataType::UInt64),
                ("_node", DataType::Utf8),
                ("_error", DataType::Utf8),
            ] {
                if fields.iter().any(|f| f.name() == name) {
                    return Err(data(format!(
                        "the column '{name}' clashes with the column of that name the failed rows' file adds"
                    )));
                }
                fields.push(Field::new(name, ty, false));
            }
            Some(Arc::new(Schema::new(fields)))
        } else {
            None
        };
        let schema = Arc::new(schema);
        let source = match metadata {
            Some(metadata) => Source::Parquet(metadata),
            None => Source::Stream {
                parse: StreamReader::parse_schema(format, &schema, &needed),
                projection: needed.clone(),
            },
        };
        let plan = FilePlan {
            format,
            source,
            schema,
            rows,
            out_format,
            side_format,
            pipeline,
            needed,
            select,
            outputs: wanted,
            row_bytes,
            failed,
        };
        // CSV holds no lists or structs: refused before anything is written.
        if out_format == Format::Csv {
            let schema = empty_output_schema(&plan, self.engine)?;
            format::check_csv(&schema).map_err(|e| Error::Invalid(format!("The output: {e}")))?;
        }
        if let (Format::Csv, Some(schema)) = (side_format, &plan.failed) {
            format::check_csv(schema).map_err(|e| Error::Invalid(format!("The failed rows' file: {e}")))?;
        }
        Ok(plan)
    }

    /// Refuses what a cluster run cannot do, before anything runs.
    #[cfg(feature = "cluster")]
    fn check_cluster(&self, config: &RunConfig, plans: &[FilePlan]) -> Result<()> {
        if self.engine == EngineChoice::Node {
            return Err(Error::Invalid(
                "A cluster runs the columnar engine's plan: the node engine cannot run on a cluster".into(),
            ));
        }
        if self.failed.is_some() {
            return Err(Error::Invalid(
                "A cluster run cannot collect failed rows (on_error collect): it fails on the first failure".into(),
            ));
        }
        if config.cache().is_some() {
            return Err(Error::Invalid(
                "A cluster run has no cache: the executors do not share one; run without --cache".into(),
            ));
        }
        for plan in plans {
            if plan.format != Format::Parquet {
                return Err(Error::Invalid(format!(
                    "A cluster run reads Parquet (the executors read row groups): the input is {}",
                    plan.format
                )));
            }
            crate::cluster::check(&plan.pipeline)?;
        }
        Ok(())
    }

    /// Runs one input file's plan on `cluster`, a job per range of its row groups, and
    /// writes the rows they return, in input order, into a temporary output file.
    #[cfg(feature = "cluster")]
    fn stream_on(
        &self,
        cluster: &crate::cluster::Cluster,
        input: &Path,
        output: &Path,
        plan: &FilePlan,
        report: Reporting<'_>,
        summary: &mut RunSummary,
    ) -> Result<OutputFile> {
        use futures::StreamExt;

        let job = |e| crate::cluster::job_error(format!("The cluster job over '{}' failed", input.display()), e);
        let path = std::path::absolute(input).map_err(|source| Error::Io {
            action: "resolve",
            path: input.display().to_string().into(),
            source,
        })?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let Source::Parquet(metadata) = &plan.source else {
            // Unreachable: `check_cluster` refused other formats.
            return Err(Error::Internal("a cluster run over a file that is not Parquet".into()));
        };
        let ranges = crate::cluster::FileRange::split(
            &path,
            size,
            metadata.metadata(),
            metadata.schema().clone(),
            self.partitions,
        );
        let (out_file, sink) = OutputFile::create(output)?;
        let props = WriterProperties::builder()
            .set_compression(self.compression.unwrap_or(Compression::SNAPPY))
            .build();
        let runtime = crate::cluster::runtime()?;
        let sink = runtime.block_on(async {
            let ctx = cluster.context().await?;
            // One job per range, all submitted at once; their rows are written range by
            // range, each job's stream held back (two batches ahead) until its turn.
            let mut jobs = Vec::new();
            let mut schema = None;
            for (range, rows) in ranges {
                let frame = ctx.read_table(Arc::new(range)).map_err(job)?;
                let frame = ColumnarEngine::apply_to_dataframe(&plan.pipeline, frame)?;
                let select: Vec<&str> = plan.select.iter().map(String::as_str).collect();
                let frame = frame.select_columns(&select).map_err(job)?;
                schema.get_or_insert_with(|| Arc::new(frame.schema().as_arrow().clone()));
                let (tx, rx) = tokio::sync::mpsc::channel(2);
                tokio::spawn(async move {
                    let mut stream = match frame.execute_stream().await {
                        Ok(s) => s,
                        Err(e) => return drop(tx.send(Err(e)).await),
                    };
                    while let Some(batch) = stream.next().await {
                        if tx.send(batch).await.is_err() {
                            return;
                        }
                    }
                });
                jobs.push((rx, rows));
            }
            // Unreachable: a file is at least one range.
            let schema = schema.ok_or_else(|| Error::Internal("a file without ranges".into()))?;
            let mut writer =
                BatchWriter::new(plan.out_format, sink, schema.clone(), props).map_err(|e| out_file.error(e))?;
            for (mut rx, rows) in jobs {
                let mut row = rows.start;
                while let Some(batch) = rx.recv().await {
                    let batch = batch.map_err(job)?;
                    let (started, n) = (Instant::now(), batch.num_rows());
                    report.item_start(row..row + n);
                    writer.write(&batch).map_err(|e| out_file.error(e))?;
                    summary.rows_in += n as u64;
                    summary.rows_out += n as u64;
                    summary.batches += 1;
                    summary.peak_memory = summary
                        .peak_memory
                        .max((writer.memory_size() + batch.get_array_memory_size()) as u64);
                    checksum(&batch, summary);
                    report.items_written(row..row + n, None, started);
                    row += n;
                }
                if row != rows.end {
                    return Err(Error::Data {
                        path: input.display().to_string().into(),
                        message: format!(
                            "the cluster returned {} rows for rows {}..{}, whose row groups hold {}",
                            row - rows.start,
                            rows.start,
                            rows.end,
                            rows.len()
                        )
                        .into(),
                    });
                }
            }
            writer.finish(&schema).map_err(|e| out_file.error(e))
        })?;
        out_file.finish(sink)?;
        Ok(out_file)
    }

    /// Streams one input file through the pipeline into a temporary output file, and the
    /// failed rows into a temporary side file at `failed`.
    fn stream(
        &self,
        input: &Path,
        output: &Path,
        failed: Option<&Path>,
        plan: FilePlan,
        report: Reporting<'_>,
        summary: &mut RunSummary,
    ) -> Result<(OutputFile, Option<OutputFile>)> {
        let engine = self.engine;
        let data = |message: String| Error::Data {
            path: input.display().to_string().into(),
            message: message.into(),
        };
        let workers = self.partitions.max(1);
        // Memory: a batch being processed holds its input and its output (about three
        // times its input with the intermediate columns); a processed batch holds its
        // output (the selected columns) until it is written. Batches get three quarters
        // of the limit, with room for two per worker, and the writer's buffer the rest.
        let budget = (self.memory_limit * 3 / 4).max(1);
        let per_row = plan.row_bytes * 3;
        let mut batch_rows = self.batch_rows;
        while batch_rows > 1 && (2 * workers) as u64 * batch_rows as u64 * per_row > budget {
            batch_rows /= 2;
        }
        let estimate = batch_rows as u64 * per_row;
        // Each time batches of an eighth of the limit were freed, freed memory goes back to
        // the system if the process holds more than the limit.
        let limit = self.memory_limit;
        let trim_every = (limit / 8).max(1 << 20);
        // The writers' buffers: the output's, and a quarter of it for the failed rows'.
        let mut writer_budget = (self.memory_limit / 4).max(1);
        let side_budget = writer_budget / 4;
        if failed.is_some() {
            writer_budget -= side_budget;
        }

        let open = || {
            File::open(input).map_err(|source| Error::Io {
                action: "read",
                path: input.display().to_string().into(),
                source,
            })
        };
        // The work: for Parquet, row groups, each read by one worker into batches of
        // `batch_rows`; for the other formats, the batches of the file's one reader, in
        // turn. Batch `seq` (counted through the file) is written in that order.
        let mut groups = Vec::new();
        let mut mask = None;
        // A file's rows, for a reader's pieces: known, or about its size over a row's.
        let file_rows = plan.rows.map_or_else(
            || {
                let size = std::fs::metadata(input).map_or(0, |m| m.len());
                size.div_ceil(plan.row_bytes.max(1)) as usize
            },
            |r| r as usize,
        );
        let stream = Mutex::new(None);
        match &plan.source {
            Source::Parquet(metadata) => {
                mask = Some(ProjectionMask::roots(
                    metadata.metadata().file_metadata().schema_descr(),
                    plan.needed.iter().copied(),
                ));
                let (mut seq, mut first_row) = (0u64, 0usize);
                for (g, rg) in metadata.metadata().row_groups().iter().enumerate() {
                    let rows = rg.num_rows().max(0) as usize;
                    groups.push(Group {
                        index: g,
                        first_seq: seq,
                        first_row,
                        rows,
                    });
                    seq += rows.div_ceil(batch_rows) as u64;
                    first_row += rows;
                }
            }
            Source::Stream { parse, projection } => {
                let reader = StreamReader::open(input, plan.format, parse.clone(), projection, batch_rows)?;
                *stream.lock().expect("reader") = Some(Sequence { reader, seq: 0, row: 0 });
            }
        }

        let (out_file, sink) = OutputFile::create(output)?;
        let mut writer: Option<(BatchWriter, SchemaRef)> = None;
        // Parquet pages no larger than a share of the writer's budget (1 MiB at most,
        // Parquet's default), so that what the writer buffers stays within it.
        let props_within = |budget: u64| {
            let page = (budget as usize / 8).clamp(4096, 1 << 20);
            WriterProperties::builder()
                .set_compression(self.compression.unwrap_or(Compression::SNAPPY))
                .set_data_page_size_limit(page)
                .set_dictionary_page_size_limit(page)
                .set_write_batch_size(page.min(1024))
                .build()
        };
        let props = props_within(writer_budget);
        // The failed rows' file, made now: it is written even when no row fails.
        let mut side = match (failed, &plan.failed) {
            (Some(path), Some(schema)) => {
                let (file, sink) = OutputFile::create(path)?;
                let writer = BatchWriter::new(plan.side_format, sink, schema.clone(), props_within(side_budget))
                    .map_err(|e| file.error(e))?;
                Some((file, writer))
            }
            _ => None,
        };
        let plan = &plan;
        let stop = AtomicBool::new(false);
        // What batches hold, and how many are written; workers wait on the condition for
        // room (see `admit`).
        let accounted = (Mutex::new(Accounting::default()), Condvar::new());
        let next_group = AtomicUsize::new(0);

        let result: Result<()> = std::thread::scope(|scope| {
            let (done_tx, done_rx) = channel::<(u64, Result<Done>)>();
            let (stop, accounted, next_group, groups, stream) = (&stop, &accounted, &next_group, &groups, &stream);
            let mask = &mask;

            // Workers: each reads a row group or a batch (only the columns needed), then
            // runs the pipeline on its batches, one at a time.
            for _ in 0..workers {
                let done_tx = done_tx.clone();
                scope.spawn(move || {
                    // Batch `seq` is read once its estimate fits in the budget with room
                    // to spare for one more batch, or at once when it is the batch the
                    // writer waits for, which is then never held up behind later ones.
                    // Its estimate (`reserve`) is held until it is read.
                    let admit = |seq: u64, reserve: u64| {
                        let mut acc = accounted.0.lock().expect("accounting");
                        loop {
                            if stop.load(Ordering::Relaxed) {
                                return false;
                            }
                            if seq == acc.written || acc.batches + reserve + estimate <= budget {
                                acc.add(reserve);
                                return true;
                            }
                            acc = accounted.1.wait(acc).expect("accounting");
                        }
                    };
                    // A batch read: its estimate swapped for its size.
                    // A slice of a larger batch (an Arrow file's) holds its share of it.
                    let read = |reserve: u64, next: &Option<Result<RecordBatch>>| {
                        let size = match next {
                            Some(Ok(b)) if plan.format == Format::Arrow => b
                                .columns()
                                .iter()
                                .map(|c| {
                                    let whole = c.get_array_memory_size();
                                    c.to_data().get_slice_memory_size().map_or(whole, |s| s.min(whole)) as u64
                                })
                                .sum(),
                            Some(Ok(b)) => b.get_array_memory_size() as u64,
                            _ => 0,
                        };
                        let mut acc = accounted.0.lock().expect("accounting");
                        acc.sub(reserve);
                        acc.add(size);
                        size
                    };
                    // Runs batch `seq`, whose first row is row `first` of the file, and
                    // sends the result to the writer; false when the run stops.
                    let run = |seq: u64, first: usize, batch: RecordBatch, input_size: u64| {
                        let started = Instant::now();
                        let rows = batch.num_rows();
                        report.item_start(first..first + rows);
                        let out = apply(engine, plan, &batch)
                            .and_then(|(out, failures)| {
                                let failed = match &plan.failed {
                                    Some(schema) => Some(failed_rows(schema, &batch, first, failures)?),
                                    None => match failures.into_iter().next() {
                                        // Unreachable: the run collects only with a side file.
                                        Some(f) => return Err(f.into_error()),
                                        None => None,
                                    },
                                };
                                Ok(Done {
                                    out,
                                    failed,
                                    rows: first..first + rows,
                                    started,
                                })
                            })
                            // A failure names the row of the file, not of its batch.
                            .map_err(|e| e.map_item(|i| Some(first + i)));
                        drop(batch);
                        let mut acc = accounted.0.lock().expect("accounting");
                        acc.sub(input_size);
                        if let Ok(done) = &out {
                            acc.add(done.memory_size());
                        }
                        drop(acc);
                        accounted.1.notify_all();
                        done_tx.send((seq, out)).is_ok()
                    };
                    match &plan.source {
                        Source::Parquet(metadata) => loop {
                            let Some(group) = groups.get(next_group.fetch_add(1, Ordering::Relaxed)) else {
                                return;
                            };
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let expected = group.rows.div_ceil(batch_rows) as u64;
                            let reader = open().and_then(|file| {
                                ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
                                    .with_row_groups(vec![group.index])
                                    .with_projection(mask.clone().expect("a Parquet projection"))
                                    .with_batch_size(batch_rows)
                                    .build()
                                    .map_err(|e| data(format!("cannot read ({e})")))
                            });
                            let mut reader = match reader {
                                Ok(r) => r,
                                Err(e) => {
                                    let _ = done_tx.send((group.first_seq, Err(e)));
                                    return;
                                }
                            };
                            let mut done = 0u64;
                            let mut row = group.first_row;
                            // A row group's reader yields its rows (as many as its
                            // metadata says) in batches of `batch_rows`, the last one
                            // shorter. A batch is decoded only once admitted.
                            while done < expected {
                                let seq = group.first_seq + done;
                                let rows = batch_rows.min(group.rows - (row - group.first_row));
                                let reserve = rows as u64 * per_row;
                                if !admit(seq, reserve) {
                                    return;
                                }
                                let next = reader.next().map(|b| b.map_err(|e| data(format!("cannot read ({e})"))));
                                let input_size = read(reserve, &next);
                                let batch = match next {
                                    Some(Ok(b)) => b,
                                    Some(Err(e)) => {
                                        let _ = done_tx.send((seq, Err(e)));
                                        return;
                                    }
                                    None => break,
                                };
                                let first = row;
                                row += batch.num_rows();
                                if !run(seq, first, batch, input_size) {
                                    return;
                                }
                                done += 1;
                            }
                            if done < expected {
                                let message = format!(
                                    "row group {} holds {} rows by its metadata, but {} were read",
                                    group.index,
                                    group.rows,
                                    row - group.first_row
                                );
                                let _ = done_tx.send((group.first_seq + done, Err(data(message))));
                                return;
                            }
                        },
                        // The pieces of the file's one reader, in order; each is decoded
                        // and run by the worker that took it.
                        Source::Stream { .. } => loop {
                            let reserve = batch_rows.min(file_rows) as u64 * per_row;
                            let mut guard = stream.lock().expect("reader");
                            let Some(sequence) = guard.as_mut() else { return };
                            let (seq, first) = (sequence.seq, sequence.row);
                            if !admit(seq, reserve) {
                                return;
                            }
                            let piece = match sequence.reader.next_piece() {
                                Some(Ok(piece)) => piece,
                                Some(Err(e)) => {
                                    *guard = None;
                                    let _ = done_tx.send((seq, Err(e)));
                                    return;
                                }
                                None => {
                                    // The end: the writer stops after batch `seq - 1`.
                                    *guard = None;
                                    return;
                                }
                            };
                            sequence.seq += 1;
                            sequence.row += piece.rows();
                            drop(guard);
                            let next = Some(piece.decode());
                            let input_size = read(reserve, &next);
                            match next {
                                Some(Ok(batch)) => {
                                    if !run(seq, first, batch, input_size) {
                                        return;
                                    }
                                }
                                Some(Err(e)) => {
                                    let _ = done_tx.send((seq, Err(e)));
                                    return;
                                }
                                None => return,
                            }
                        },
                    }
                });
            }
            drop(done_tx);
            let fail = |e: Error| {
                stop.store(true, Ordering::Relaxed);
                accounted.1.notify_all();
                Err(e)
            };

            // Writer: results in input order.
            let mut pending: BTreeMap<u64, Result<Done>> = BTreeMap::new();
            let mut next = 0u64;
            let mut sink = Some(sink);
            for (seq, out) in done_rx.iter() {
                pending.insert(seq, out);
                while let Some(out) = pending.remove(&next) {
                    next += 1;
                    let done = match out {
                        Ok(d) => d,
                        Err(e) => return fail(e),
                    };
                    let size = done.memory_size();
                    let Done {
                        out: batch,
                        failed,
                        rows,
                        started,
                    } = done;
                    let w = match &mut writer {
                        Some((w, _)) => w,
                        None => {
                            let w = BatchWriter::new(
                                plan.out_format,
                                sink.take().expect("one writer"),
                                batch.schema(),
                                props.clone(),
                            )
                            .map_err(|e| out_file.error(e));
                            match w {
                                Ok(w) => &mut writer.insert((w, batch.schema())).0,
                                Err(e) => return fail(e),
                            }
                        }
                    };
                    if let Err(e) = w.write(&batch).and_then(|()| w.flush_over(writer_budget)) {
                        return fail(out_file.error(e));
                    }
                    let mut writers_size = w.memory_size() as u64;
                    if let (Some(rows), Some((file, w))) = (&failed, &mut side) {
                        if let Err(e) = w.write(rows).and_then(|()| w.flush_over(side_budget)) {
                            return fail(file.error(e));
                        }
                        writers_size += w.memory_size() as u64;
                    }
                    let failed_rows = failed.as_ref().map_or(0, |f| f.num_rows() as u64);
                    summary.rows_in += batch.num_rows() as u64 + failed_rows;
                    summary.rows_out += batch.num_rows() as u64;
                    summary.failed_rows += failed_rows;
                    summary.batches += 1;
                    checksum(&batch, summary);
                    report.items_written(rows, failed.as_ref(), started);
                    let mut acc = accounted.0.lock().expect("accounting");
                    acc.writer = writers_size;
                    acc.sub(size);
                    acc.written = next;
                    let trim = acc.freed >= trim_every;
                    if trim {
                        acc.freed = 0;
                    }
                    drop(acc);
                    drop((batch, failed));
                    accounted.1.notify_all();
                    if trim {
                        return_freed_memory(limit);
                    }
                }
            }
            Ok(())
        });
        result?;
        summary.peak_memory = summary.peak_memory.max(accounted.0.lock().expect("accounting").peak);
        let (writer, schema) = match writer {
            Some(w) => w,
            None => {
                // No rows: an empty file with the output schema.
                let schema = empty_output_schema(plan, engine)?;
                let w = BatchWriter::new(plan.out_format, out_file.take_sink()?, schema.clone(), props)
                    .map_err(|e| out_file.error(e))?;
                (w, schema)
            }
        };
        let sink = writer.finish(&schema).map_err(|e| out_file.error(e))?;
        out_file.finish(sink)?;
        let side = match side {
            Some((file, writer)) => {
                // Unreachable: the side file exists only with its schema.
                let schema = plan
                    .failed
                    .as_ref()
                    .ok_or_else(|| Error::Internal("a side file without a schema".into()))?;
                let sink = writer.finish(schema).map_err(|e| file.error(e))?;
                file.finish(sink)?;
                Some(file)
            }
            None => None,
        };
        Ok((out_file, side))
    }
}

/// A row group of an input file as a unit of work.
struct Group {
    /// Its index in the file.
    index: usize,
    /// The place of its first batch among the file's batches.
    first_seq: u64,
    /// The file's row number of its first row.
    first_row: usize,
    /// Its rows.
    rows: usize,
}

/// What one input file needs: the columns to read, the output columns, and the
/// uncompressed bytes per row of the columns read.
struct FilePlan {
    /// The input's format.
    format: Format,
    /// How the file is read.
    source: Source,
    /// The file's columns, with the types they are read as (for CSV and NDJSON, those
    /// of the nodes that read them).
    schema: SchemaRef,
    /// The rows of the file, when its metadata tells.
    rows: Option<u64>,
    /// The output's format, and the failed rows' file's.
    out_format: Format,
    side_format: Format,
    /// The pipeline pruned to the nodes the selected outputs need.
    pipeline: Pipeline,
    needed: Vec<usize>,
    select: Vec<String>,
    /// The selected columns that are outputs of the pipeline.
    outputs: Vec<String>,
    row_bytes: u64,
    /// The schema of the failed rows' file, when there is one.
    failed: Option<SchemaRef>,
}

/// How an input file is read.
enum Source {
    /// By row group, from the footer read once.
    Parquet(ArrowReaderMetadata),
    /// Batch by batch with one reader, parsing with `parse`, keeping the columns at
    /// `projection` (see [`StreamReader::open`]).
    Stream { parse: SchemaRef, projection: Vec<usize> },
}

/// The one reader of a file read batch by batch, and where it is.
struct Sequence {
    reader: StreamReader,
    /// The next batch's place among the file's batches.
    seq: u64,
    /// The next batch's first row.
    row: usize,
}

/// A batch processed: the output rows, and the failed rows for the side file.
struct Done {
    out: RecordBatch,
    failed: Option<RecordBatch>,
    /// The rows of its file it holds.
    rows: std::ops::Range<usize>,
    /// When a worker took it.
    started: Instant,
}

/// Where a file's batches report their items: the run's events, and the file's first
/// row among the rows of the run.
#[derive(Clone, Copy)]
struct Reporting<'a> {
    events: Option<&'a Events>,
    offset: usize,
}

impl Reporting<'_> {
    fn item_start(&self, rows: std::ops::Range<usize>) {
        if let Some(events) = self.events {
            events.item_start(self.offset + rows.start..self.offset + rows.end);
        }
    }

    /// The end of the rows of a batch written: those that did not fail (`failed`, the
    /// side file's rows, names them by `_row`).
    fn items_written(&self, rows: std::ops::Range<usize>, failed: Option<&RecordBatch>, started: Instant) {
        let Some(events) = self.events else { return };
        let elapsed = started.elapsed();
        let bad: Vec<usize> = failed
            .and_then(|f| f.column_by_name("_row"))
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .map(|rows| rows.values().iter().map(|&r| r as usize).collect())
            .unwrap_or_default();
        let offset = self.offset;
        if bad.is_empty() {
            events.item_end(offset + rows.start..offset + rows.end, elapsed);
            return;
        }
        runs(rows.filter(|r| !bad.contains(r)), |good| {
            events.item_end(offset + good.start..offset + good.end, elapsed)
        });
    }
}

/// The callbacks of a [`FileRun`] as its batches see them: the run reports its own
/// start, map and items (rows of the files), so the top-level pipeline, map and item
/// events of each batch (a node engine batch is a top-level map) are left out; node and
/// nested events go through.
struct BatchEvents(Arc<[Arc<dyn Callback>]>);

impl BatchEvents {
    fn each(&self, f: impl Fn(&dyn Callback)) {
        for cb in self.0.iter() {
            f(&**cb);
        }
    }
}

impl Callback for BatchEvents {
    fn on_nested_start(&self, ctx: &Context) {
        self.each(|cb| cb.on_nested_start(ctx));
    }
    fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {
        self.each(|cb| cb.on_nested_end(ctx, end));
    }
    fn on_map_start(&self, ctx: &Context, items: usize) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_start(ctx, items));
        }
    }
    fn on_map_end(&self, ctx: &Context, end: &End<'_>) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_end(ctx, end));
        }
    }
    fn on_map_item_start(&self, ctx: &Context, items: std::ops::Range<usize>) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_item_start(ctx, items.clone()));
        }
    }
    fn on_map_item_end(&self, ctx: &Context, items: std::ops::Range<usize>, elapsed: Duration) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_item_end(ctx, items.clone(), elapsed));
        }
    }
    fn on_map_item_cached(&self, ctx: &Context, items: std::ops::Range<usize>) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_item_cached(ctx, items.clone()));
        }
    }
    fn on_node_start(&self, ctx: &Context, node: &Node, items: std::ops::Range<usize>) {
        self.each(|cb| cb.on_node_start(ctx, node, items.clone()));
    }
    fn on_node_end(&self, ctx: &Context, node: &Node, items: std::ops::Range<usize>, elapsed: Duration) {
        self.each(|cb| cb.on_node_end(ctx, node, items.clone(), elapsed));
    }
    fn on_node_cached(&self, ctx: &Context, node: &Node, items: std::ops::Range<usize>) {
        self.each(|cb| cb.on_node_cached(ctx, node, items.clone()));
    }
    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
        self.each(|cb| cb.on_node_error(ctx, node, item, error));
    }
}

impl Done {
    fn memory_size(&self) -> u64 {
        (self.out.get_array_memory_size() + self.failed.as_ref().map_or(0, RecordBatch::get_array_memory_size)) as u64
    }
}

/// The failed rows of `batch`, whose first row is row `first` of its file, as rows of
/// the side file of `schema`: the columns read, `_row`, `_node` and `_error`.
fn failed_rows(
    schema: &SchemaRef,
    batch: &RecordBatch,
    first: usize,
    failures: Vec<ItemFailure>,
) -> Result<RecordBatch> {
    // Unreachable: the failures name rows of `batch` (so `take` stays in bounds), and
    // the schema is the columns of `batch`, then the three made here.
    let arrow = |e: arrow::error::ArrowError| Error::Internal(format!("Arrow: {e}"));
    let index = UInt32Array::from_iter_values(failures.iter().map(|f| f.item() as u32));
    let mut arrays: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c.as_ref(), &index, None))
        .collect::<std::result::Result<_, _>>()
        .map_err(arrow)?;
    let rows = failures.len();
    arrays.push(Arc::new(UInt64Array::from_iter_values(
        failures.iter().map(|f| (first + f.item()) as u64),
    )));
    arrays.push(Arc::new(StringArray::from_iter_values(
        failures.iter().map(|f| f.node()),
    )));
    // The error names the row of the file, as it would have failed the run.
    arrays.push(Arc::new(StringArray::from_iter_values(
        failures
            .into_iter()
            .map(|f| f.into_error().map_item(|i| Some(first + i)).to_string()),
    )));
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    // Unreachable: the schema is the columns read, then these three.
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(arrow)
}

/// Bytes held by batches in flight and the writer, and the most held at once.
#[derive(Default)]
struct Accounting {
    /// Bytes held by batches being read or processed, or waiting to be written.
    batches: u64,
    /// Bytes the writer buffers.
    writer: u64,
    /// The most `batches + writer` held at once.
    peak: u64,
    /// Batches written.
    written: u64,
    /// Bytes of batches freed since the allocator last returned freed memory.
    freed: u64,
}

impl Accounting {
    fn add(&mut self, bytes: u64) {
        self.batches += bytes;
        self.peak = self.peak.max(self.batches + self.writer);
    }
    fn sub(&mut self, bytes: u64) {
        self.batches = self.batches.saturating_sub(bytes);
        self.freed += bytes;
    }
}

/// Has the allocator return the memory freed to the system (glibc's `malloc_trim`; other
/// allocators return it themselves) when the process's resident memory is over `limit`
/// bytes. glibc keeps freed blocks of up to 32 MiB in its per-thread heaps for reuse, so
/// without it a run's resident memory grows far past its memory limit as batches come and
/// go: measured on 5 GB of Parquet with a limit of 256 MiB, 508 MiB instead of 322. A trim
/// costs the page faults of the memory when it is used again (10% of W3's time on 1M rows
/// when done each time an eighth of the limit was freed), so it is skipped while the
/// process is within its limit.
fn return_freed_memory(limit: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // The kernel's count of the process's resident memory, in kB.
        let resident = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        if resident.is_some_and(|kb| kb * 1024 <= limit) {
            return;
        }
        // SAFETY: `malloc_trim` takes no pointer and only releases free memory; glibc's
        // allocator is thread-safe, so any thread may call it at any time.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = limit;
}

/// Adds the integer and float values of `batch` to the checksum.
fn checksum(batch: &RecordBatch, summary: &mut RunSummary) {
    use arrow::array::AsArray;
    use arrow::datatypes::{self as t, DataType};
    macro_rules! sum {
        ($c:expr, $($int:ident => $it:ident),* ; $($float:ident => $ft:ident),*) => {
            match $c.data_type() {
                $(DataType::$int => {
                    summary.int_sum += $c.as_primitive::<t::$it>().iter().flatten().map(i128::from).sum::<i128>()
                })*
                $(DataType::$float => {
                    for v in $c.as_primitive::<t::$ft>().iter().flatten() {
                        summary.floats.add(f64::from(v));
                    }
                })*
                _ => {}
            }
        };
    }
    for c in batch.columns() {
        sum!(c, Int8 => Int8Type, Int16 => Int16Type, Int32 => Int32Type, Int64 => Int64Type,
            UInt8 => UInt8Type, UInt16 => UInt16Type, UInt32 => UInt32Type, UInt64 => UInt64Type;
            Float32 => Float32Type, Float64 => Float64Type);
    }
}

/// An exact sum of floats (Shewchuk's algorithm, as Python's `math.fsum`): the
/// correctly rounded sum of the values added, in any order, so the checksum of the same
/// rows does not depend on how they were batched or ordered.
#[derive(Clone, Debug, Default, PartialEq)]
struct FloatSum {
    /// Non-overlapping partial sums, smallest first; their exact sum is the total.
    partials: Vec<f64>,
    /// The sum of the values that are not finite (infinities, NaN).
    special: f64,
}

impl FloatSum {
    fn add(&mut self, value: f64) {
        if !value.is_finite() {
            self.special += value;
            return;
        }
        let mut x = value;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// The sum, rounded once.
    fn total(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            n -= 1;
            let (x, y) = (hi, p[n]);
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half-way cases the way the exact sum asks.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

/// The pipeline on one batch, then the selected columns; under [`OnError::Collect`],
/// of the rows that succeeded, with the failures (rows of `batch`).
fn apply(engine: EngineChoice, plan: &FilePlan, batch: &RecordBatch) -> Result<(RecordBatch, Vec<ItemFailure>)> {
    let (pipeline, select, outputs) = (&plan.pipeline, &plan.select, Some(plan.outputs.as_slice()));
    let (out, failures) = match engine {
        // One partition: the batches in flight already use every core; and the batch
        // stays one DataFusion batch (no re-chunking, no concatenation).
        EngineChoice::Columnar => ColumnarEngine::new()
            .with_partitions(1)
            .with_batch_size(batch.num_rows().max(1))
            .apply_selected(pipeline, batch, outputs)?,
        EngineChoice::Node => ColumnarEngine::apply_selected_on(Arc::new(NodeEngine::new()), pipeline, batch, outputs)?,
    };
    let mut fields: Vec<Field> = Vec::with_capacity(select.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(select.len());
    let schema = out.schema();
    for name in select {
        // An output named like an input column wins (it comes later in the batch).
        // Unreachable: the batch holds the selected input columns (read from the file)
        // and the selected outputs (asked of the engine).
        let (i, field) = schema
            .fields()
            .iter()
            .enumerate()
            .rev()
            .find(|(_, f)| f.name() == name)
            .ok_or_else(|| Error::Internal(format!("column '{name}' missing from the result")))?;
        fields.push(field.as_ref().clone());
        arrays.push(out.column(i).clone());
    }
    let options = RecordBatchOptions::new().with_row_count(Some(out.num_rows()));
    // Unreachable: the fields and arrays are the batch's own.
    let out = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
        .map_err(|e| Error::Internal(format!("Arrow: {e}")))?;
    Ok((out, failures))
}

/// The output schema for an input without rows: the pipeline run on an empty batch.
fn empty_output_schema(plan: &FilePlan, engine: EngineChoice) -> Result<SchemaRef> {
    // Unreachable: `needed` holds indices of this schema's fields.
    let schema = Arc::new(
        plan.schema
            .project(&plan.needed)
            .map_err(|e| Error::Internal(e.to_string()))?,
    );
    let empty = RecordBatch::new_empty(schema);
    Ok(apply(engine, plan, &empty)?.0.schema())
}

/// `pipeline` with only the nodes that `outputs` need (and the bound values they read),
/// and its configuration.
fn prune(pipeline: &Pipeline, outputs: &[String]) -> Result<Pipeline> {
    let plan = crate::pipeline::RunPlan::for_columns(pipeline, Some(outputs), crate::exec::RunConfig::built_in())?;
    let pruned = Pipeline::try_new(plan.nodes().iter().map(|&i| pipeline.nodes()[i].clone()))?;
    let inputs = pruned.inputs();
    let bound: crate::Inputs = pipeline
        .bound_inputs()
        .iter()
        .filter(|(n, _)| inputs.contains(n))
        .map(|(n, v)| (n, v.clone()))
        .collect();
    let pruned = if bound.is_empty() { pruned } else { pruned.bind(bound)? };
    // The name too: a run's events name the pipeline.
    let pruned = match pipeline.name() {
        Some(name) => pruned.with_name(name),
        None => pruned,
    };
    Ok(pruned.with_config(pipeline.config().clone()))
}

/// The files to read and their format: `path` itself (of format `format`, else its
/// extension's), or the files in the directory `path`, in name order, of format `format`
/// (by extension), else of the one format whose files it holds.
pub(crate) fn input_files(path: &Path, format: Option<Format>) -> Result<(Vec<PathBuf>, Format)> {
    let io = |source| Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok((vec![path.to_path_buf()], format.unwrap_or_else(|| Format::of(path))));
    }
    let extension = |p: &Path| p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    let mut files: Vec<(PathBuf, Format)> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let ext = extension(&p)?;
            let found = Format::ALL
                .into_iter()
                .find(|f| f.extensions().contains(&ext.as_str()))?;
            Some((p, found))
        })
        .filter(|(_, f)| format.is_none_or(|wanted| *f == wanted))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut found: Vec<Format> = files.iter().map(|(_, f)| *f).collect();
    found.sort();
    found.dedup();
    match found[..] {
        [] => {
            let wanted: Vec<String> = match format {
                Some(f) => f.extensions().iter().map(|e| format!(".{e}")).collect(),
                None => Format::ALL
                    .iter()
                    .flat_map(|f| f.extensions())
                    .map(|e| format!(".{e}"))
                    .collect(),
            };
            Err(Error::Data {
                path: path.display().to_string().into(),
                message: format!("the directory holds no {} files", wanted.join(", ")).into(),
            })
        }
        [one] => Ok((files.into_iter().map(|(p, _)| p).collect(), one)),
        _ => {
            let names: Vec<&str> = found.iter().map(|f| f.name()).collect();
            Err(Error::Invalid(format!(
                "The directory '{}' holds files of several formats ({}); choose one with --format",
                path.display(),
                names.join(", ")
            )))
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether `a` and `b` name the same file, existing or not (their directories compared
/// as found on disk).
fn same_path(a: &Path, b: &Path) -> bool {
    if same_file(a, b) {
        return true;
    }
    let resolved = |p: &Path| {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        match (dir.canonicalize(), p.file_name()) {
            (Ok(d), Some(name)) => d.join(name),
            _ => p.to_path_buf(),
        }
    };
    resolved(a) == resolved(b)
}

/// Removes the temporary files (`.NAME.PID.tmp`, see [`OutputFile`]) that runs left in
/// `dir` when they were killed: those whose process is gone. A process is known to be
/// gone when `/proc` lists processes and not it; without `/proc` nothing is removed, and
/// a file that cannot be removed is left.
fn remove_orphans(dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_prefix('.')?.strip_suffix(".tmp")) else {
            continue;
        };
        let Some(pid) = stem.rsplit_once('.').and_then(|(_, pid)| pid.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An output file written under a temporary name in the same directory and renamed into
/// place by [`OutputFile::commit`]; dropped before that, the temporary file is removed.
/// A killed process cannot remove it: the next output created in that directory does
/// (see [`remove_orphans`]).
pub(crate) struct OutputFile {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl OutputFile {
    /// Creates the temporary file for `path`.
    pub(crate) fn create(path: &Path) -> Result<(OutputFile, BufWriter<File>)> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.is_empty() {
            return Err(Error::Invalid(format!(
                "The output '{}' is not a file name",
                path.display()
            )));
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        remove_orphans(dir);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|source| Error::Io {
            action: "create",
            path: path.display().to_string().into(),
            source,
        })?;
        let out = OutputFile {
            path: path.to_path_buf(),
            tmp,
            committed: false,
        };
        Ok((out, BufWriter::with_capacity(1 << 20, file)))
    }

    /// A second sink on the temporary file, when the first was never used.
    fn take_sink(&self) -> Result<BufWriter<File>> {
        let file = File::create(&self.tmp).map_err(|source| self.io("create", source))?;
        Ok(BufWriter::new(file))
    }

    /// An error writing this file.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Data {
            path: self.path.display().to_string().into(),
            message: format!("cannot write ({e})").into(),
        }
    }

    fn io(&self, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: self.path.display().to_string().into(),
            source,
        }
    }

    /// Flushes and syncs the written sink; the file is complete but not yet in place.
    pub(crate) fn finish(&self, sink: BufWriter<File>) -> Result<()> {
        let file = sink.into_inner().map_err(|e| self.io("write", e.into_error()))?;
        file.sync_all().map_err(|e| self.io("write", e))
    }

    /// Renames the finished file into place; returns its size.
    pub(crate) fn commit(mut self) -> Result<u64> {
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.io("write", e))?;
        self.committed = true;
        Ok(std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0))
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FloatSum;

    fn sum(values: &[f64]) -> f64 {
        let mut s = FloatSum::default();
        values.iter().for_each(|&v| s.add(v));
        s.total()
    }

    #[test]
    fn float_sums_are_exact_whatever_the_order() {
        assert_eq!(sum(&[0.1; 10]), 1.0);
        assert_eq!(sum(&[1e16, 1.0, -1e16]), 1.0);
        assert_eq!(sum(&[1.0, 1e16, -1e16]), 1.0);
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[1.0, f64::INFINITY]), f64::INFINITY);
        let values: Vec<f64> = (0..10_000).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
        let mut reversed = values.clone();
        reversed.reverse();
        assert_eq!(sum(&values).to_bits(), sum(&reversed).to_bits());
        let naive: f64 = values.iter().sum();
        assert!((sum(&values) - naive).abs() < 1e-6);
    }
}
