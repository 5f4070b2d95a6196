//! A file run somewhere other than this process ([`Remote`], such as a Ballista cluster:
//! `hypernodes::cluster::Cluster`): what such a run refuses, and the rows its jobs
//! return, written as a local run writes them.

use std::fmt;
use std::ops::Range;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::format::{BatchWriter, Format};
use super::input::Input;
use super::plan::{FilePlan, Source};
use super::report::Reporting;
use super::sink::Sink;
use super::summary::RunSummary;
use super::write::OutputFile;
use super::{EngineChoice, FileRun, Location};
use crate::error::{Error, Result};
use crate::exec::RunConfig;
use crate::pipeline::Pipeline;

/// Where a file run computes when not in this process ([`FileRun::with_remote`]): it
/// runs the pipeline over ranges of a Parquet file's row groups and hands the rows back
/// in input order; this process writes them.
pub trait Remote: Send + Sync + fmt::Debug {
    /// Refuses a pipeline it cannot run, before anything runs.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming what cannot run there.
    fn check(&self, pipeline: &Pipeline) -> Result<()>;

    /// Runs `file.pipeline` over `file`, cut into `file.partitions` ranges of whole row
    /// groups, and hands `sink` the output schema, then every batch, in input order.
    ///
    /// # Errors
    ///
    /// A failed job, or the sink's error (which stops the run).
    fn run_parquet(&self, file: RemoteFile<'_>, sink: &mut dyn RemoteSink) -> Result<()>;
}

/// One Parquet input file of a remote run.
#[derive(Debug)]
pub struct RemoteFile<'a> {
    /// Where the remote reads the file: its absolute path, or its object's URL (without
    /// store options: the remote reads the object with its own environment's settings).
    pub location: &'a Location,
    /// Its size in bytes.
    pub size: u64,
    /// Its footer, read once.
    pub metadata: &'a ArrowReaderMetadata,
    /// How many ranges of row groups to cut it into (one job each).
    pub partitions: usize,
    /// The pipeline to run over its rows.
    pub pipeline: &'a Pipeline,
    /// The output columns, in order.
    pub select: &'a [String],
}

/// What a remote run hands its rows to.
pub trait RemoteSink {
    /// The output schema, before the first batch.
    ///
    /// # Errors
    ///
    /// When the output cannot be started.
    fn start(&mut self, schema: SchemaRef) -> Result<()>;

    /// The next batch, holding the input's rows `rows`.
    ///
    /// # Errors
    ///
    /// When the batch cannot be written.
    fn batch(&mut self, rows: Range<usize>, batch: &RecordBatch) -> Result<()>;
}

/// Refuses what a remote run of `run` (configured with `config`, with `plans` for its
/// input files) cannot do, before anything runs.
pub(super) fn check(run: &FileRun, remote: &dyn Remote, config: &RunConfig, plans: &[FilePlan]) -> Result<()> {
    if run.engine == EngineChoice::Node {
        return Err(Error::Invalid(
            "A cluster runs the columnar engine's plan: the node engine cannot run on a cluster".into(),
        ));
    }
    if run.failed.is_some() {
        return Err(Error::Invalid(
            "A cluster run cannot collect failed rows (on_error collect): it fails on the first failure".into(),
        ));
    }
    if !run.input.options().is_empty() {
        return Err(Error::Invalid(format!(
            "A cluster run's executors read '{}' with the store settings of their own environment: \
             the options of its Location stay on this machine (they may be secrets); set them as AWS_* \
             (GOOGLE_*, AZURE_*) variables of every executor instead",
            run.input
        )));
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
        remote.check(&plan.compute.pipeline)?;
    }
    Ok(())
}

/// Runs one input file's plan on `remote` and writes the rows it returns, in input
/// order, into a temporary output file; `run` gives the partitions (ranges per file)
/// and the compression.
pub(super) fn stream_on(
    run: &FileRun,
    remote: &dyn Remote,
    input: &Input,
    output: &Location,
    plan: &FilePlan,
    report: Reporting<'_>,
    summary: &mut RunSummary,
) -> Result<OutputFile> {
    // A local file by its absolute path (the executors share it), an object by its URL.
    let (location, size) = match (input.location.as_path(), &input.source) {
        (Some(local), _) => {
            let path = std::path::absolute(local).map_err(|source| Error::Io {
                action: "resolve",
                path: input.location.to_string().into(),
                source,
            })?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            (Location::local(path), size)
        }
        #[cfg(feature = "cloud")]
        (None, super::input::InputSource::Parquet(object)) => (input.location.clone(), object.size),
        // Unreachable: `check` refused other formats, and an object input is one with
        // the `cloud` feature.
        _ => return Err(Error::Internal(format!("a cluster run over '{}'", input.location))),
    };
    let Source::Parquet(metadata) = &plan.source else {
        // Unreachable: `check` refused other formats.
        return Err(Error::Internal("a cluster run over a file that is not Parquet".into()));
    };
    let (mut out_file, sink) = OutputFile::create(output)?;
    let props = WriterProperties::builder()
        .set_compression(run.compression.unwrap_or(Compression::SNAPPY))
        .build();
    let mut writing = Writing {
        out_file: &out_file,
        out_format: plan.out_format,
        props: Some(props),
        sink: Some(sink),
        writer: None,
        report,
        summary,
    };
    let file = RemoteFile {
        location: &location,
        size,
        metadata,
        partitions: run.partitions,
        pipeline: &plan.compute.pipeline,
        select: &plan.compute.select,
    };
    remote.run_parquet(file, &mut writing)?;
    let Some((writer, _)) = writing.writer else {
        // Unreachable: a file is at least one range, whose job starts the sink.
        return Err(Error::Internal("a remote run that returned no schema".into()));
    };
    let sink = writer.finish().map_err(|e| out_file.error(e))?;
    out_file.finish(sink)?;
    Ok(out_file)
}

/// The sink of a remote run: the output file's writer, the summary and the callbacks.
struct Writing<'a, 'r> {
    out_file: &'a OutputFile,
    out_format: Format,
    props: Option<WriterProperties>,
    sink: Option<Sink>,
    writer: Option<(BatchWriter, SchemaRef)>,
    report: Reporting<'r>,
    summary: &'a mut RunSummary,
}

impl RemoteSink for Writing<'_, '_> {
    fn start(&mut self, schema: SchemaRef) -> Result<()> {
        let (Some(sink), Some(props)) = (self.sink.take(), self.props.take()) else {
            // Unreachable: `Remote::run_parquet` starts its sink once.
            return Err(Error::Internal("a remote run started its output twice".into()));
        };
        let writer =
            BatchWriter::new(self.out_format, sink, schema.clone(), props).map_err(|e| self.out_file.error(e))?;
        self.writer = Some((writer, schema));
        Ok(())
    }

    fn batch(&mut self, rows: Range<usize>, batch: &RecordBatch) -> Result<()> {
        let Some((writer, _)) = &mut self.writer else {
            // Unreachable: `Remote::run_parquet` starts its sink before its first batch.
            return Err(Error::Internal("a remote run wrote a batch before its schema".into()));
        };
        let started = Instant::now();
        self.report.item_start(rows.clone());
        writer.write(batch).map_err(|e| self.out_file.error(e))?;
        self.summary.add_batch(batch, 0);
        self.summary.peak_memory = self
            .summary
            .peak_memory
            .max((writer.memory_size() + batch.get_array_memory_size()) as u64);
        self.report.items_written(rows, None, started);
        Ok(())
    }
}
