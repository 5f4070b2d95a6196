//! A file run on a Ballista cluster (see [`crate::cluster`]): what it refuses, and the
//! rows its jobs return, written as a local run writes them.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::format::{BatchWriter, Format};
use super::plan::{FilePlan, Source};
use super::report::Reporting;
use super::summary::RunSummary;
use super::write::OutputFile;
use super::{EngineChoice, FileRun};
use crate::engine::ColumnarEngine;
use crate::error::{Error, Result};
use crate::exec::RunConfig;

/// Refuses what a cluster run of `run` (configured with `config`, with `plans` for its
/// input files) cannot do, before anything runs.
pub(super) fn check(run: &FileRun, config: &RunConfig, plans: &[FilePlan]) -> Result<()> {
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
        crate::cluster::check(&plan.compute.pipeline)?;
    }
    Ok(())
}

/// Runs one input file's plan on `cluster`, a job per range of its row groups, and
/// writes the rows they return, in input order, into a temporary output file; `run`
/// gives the partitions (ranges per file) and the compression.
pub(super) fn stream_on(
    run: &FileRun,
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
        // Unreachable: `check` refused other formats.
        return Err(Error::Internal("a cluster run over a file that is not Parquet".into()));
    };
    let ranges = crate::cluster::FileRange::split(
        &path,
        size,
        metadata.metadata(),
        metadata.schema().clone(),
        run.partitions,
    );
    let (out_file, sink) = OutputFile::create(output)?;
    let props = WriterProperties::builder()
        .set_compression(run.compression.unwrap_or(Compression::SNAPPY))
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
            let frame = ColumnarEngine::apply_to_dataframe(&plan.compute.pipeline, frame)?;
            let select: Vec<&str> = plan.compute.select.iter().map(String::as_str).collect();
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
                summary.add_batch(&batch, 0);
                summary.peak_memory = summary
                    .peak_memory
                    .max((writer.memory_size() + batch.get_array_memory_size()) as u64);
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
