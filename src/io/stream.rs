//! One input file's run: workers, one per partition, each read a batch and run the
//! pipeline on it, on every core; the calling thread writes the results in input order.
//! At most a fixed number of batches is in flight, chosen from the memory limit.

use std::collections::BTreeMap;
use std::sync::mpsc::channel;
use std::time::Instant;

use arrow::array::RecordBatch;

use super::compute::Done;
use super::format::Rejected;
use super::input::Input;
use super::memory::Memory;
use super::plan::FilePlan;
use super::read::Reader;
use super::report::Reporting;
use super::state::{Appender, Journal};
use super::summary::RunSummary;
use super::write::{OutputFile, Writer};
use super::{FileRun, Location};
use crate::error::{Error, Result};

/// What reading and writing objects holds beside the batches, at most: the pages and
/// buffered responses of the column chunks each worker reads from a Parquet object, and
/// each upload's parts.
fn held_by_stores(input: &Input, output: &Location, failed: Option<&Location>, plan: &FilePlan, workers: usize) -> u64 {
    #[cfg(feature = "cloud")]
    {
        let mut held = 0;
        if let (super::input::InputSource::Parquet(_), super::plan::Source::Parquet(metadata)) =
            (&input.source, &plan.source)
        {
            held += workers as u64 * super::store::streams_held(metadata, &plan.needed);
        }
        let uploads = [Some(output), failed]
            .into_iter()
            .flatten()
            .filter(|l| l.url().is_some());
        held + uploads.count() as u64 * super::store::UPLOAD_HELD
    }
    #[cfg(not(feature = "cloud"))]
    {
        let _ = (input, output, failed, plan, workers);
        0
    }
}

/// The memory of the run of one input file (of `plan`, into `output` and `failed`) as
/// `file_run` sets it (partitions, memory limit, batch rows).
pub(super) fn memory_for(
    file_run: &FileRun,
    input: &Input,
    output: &Location,
    failed: Option<&Location>,
    plan: &FilePlan,
) -> Memory {
    let workers = file_run.partitions.max(1);
    // The batches and the writers get what reading and writing objects leaves.
    let held = held_by_stores(input, output, failed, plan, workers);
    Memory::new(
        file_run.memory_limit.saturating_sub(held).max(1),
        workers,
        file_run.batch_rows,
        plan.row_bytes,
        failed.is_some(),
    )
}

/// One input file's output and side file of failed rows, finished, and its journal
/// (with a state).
pub(super) type Streamed = ((OutputFile, Option<OutputFile>), Option<Appender>);

/// Streams one input file through the pipeline of its `plan` into a temporary output
/// file, and the failed rows into a temporary side file at `failed`, as `file_run` says
/// (partitions, memory limit, batch rows, compression). With a `journal` (an
/// incremental run's), first writes the batches it holds, computes only the others,
/// and appends them to it.
#[allow(clippy::too_many_arguments)]
pub(super) fn stream(
    file_run: &FileRun,
    input: &Input,
    output: &Location,
    failed: Option<&Location>,
    plan: FilePlan,
    report: Reporting<'_>,
    journal: Option<Journal>,
    summary: &mut RunSummary,
) -> Result<Streamed> {
    let workers = file_run.partitions.max(1);
    let memory = memory_for(file_run, input, output, failed, &plan);
    let plan = &plan;
    let mut journal = journal.map(Journal::start).transpose()?;
    let kept = journal.as_ref().and_then(|j| j.journal().finished());
    let skip = kept.map_or(0, |k| k.batches);
    memory.start_at(skip);
    let reader = Reader::new(input, plan, &memory, skip)?;
    let mut writer = Writer::create(output, failed, plan, file_run.compression, memory.writer_budgets())?;
    // Unreachable: the journal serves the same content cut the same way.
    if let Some(kept) = kept.filter(|k| k.rows != reader.first_row() as u64) {
        return Err(Error::Internal(format!(
            "the journal of '{}' holds {} rows in {} batches; they hold {}",
            input.location,
            kept.rows,
            kept.batches,
            reader.first_row()
        )));
    }

    let result: Result<()> = std::thread::scope(|scope| {
        let (done_tx, done_rx) = channel::<(u64, Result<Done>)>();
        let (reader, memory) = (&reader, &memory);

        // Workers: each reads a row group or a batch (only the columns needed), then
        // runs the pipeline on its batches, one at a time.
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                // Runs batch `seq`, whose first row is row `first` of the file, and
                // sends the result to the writer; false when the run stops.
                let run = |seq: u64, first: usize, batch: RecordBatch, rejected: Option<Rejected>, input_size: u64| {
                    // Stopped: no new batch starts, and the workers waiting for room give up.
                    if file_run.stopped() {
                        memory.stop();
                        return false;
                    }
                    let started = Instant::now();
                    let rows = batch.num_rows() + rejected.as_ref().map_or(0, |r| r.rows.len());
                    report.item_start(first..first + rows);
                    let out = plan
                        .compute
                        .batch(&batch, first, rejected, plan.failed.as_ref(), started);
                    drop(batch);
                    memory.processed(input_size, out.as_ref().ok().map(Done::memory_size));
                    done_tx.send((seq, out)).is_ok()
                };
                let fail = |seq: u64, e: Error| {
                    let _ = done_tx.send((seq, Err(e)));
                };
                reader.work(run, fail);
            });
        }
        drop(done_tx);
        let fail = |e: Error| {
            memory.stop();
            Err(e)
        };

        // Writer: the batches of the journal, while the workers compute the next ones;
        // then the results in input order.
        if let (Some(journal), Some(kept)) = (&journal, kept) {
            let replayed = journal
                .journal()
                .replay(|out, failed| writer.write(&out, failed.as_ref()).map(drop));
            if let Err(e) = replayed {
                return fail(e);
            }
            report.items_kept(0..kept.rows as usize);
        }
        let mut pending: BTreeMap<u64, Result<Done>> = BTreeMap::new();
        let mut next = skip;
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
                let writers_size = match writer.write(&batch, failed.as_ref()) {
                    Ok(size) => size,
                    Err(e) => return fail(e),
                };
                if let Some(Err(e)) = journal.as_mut().map(|j| j.append(&batch, failed.as_ref())) {
                    return fail(e);
                }
                let failed_rows = failed.as_ref().map_or(0, |f| f.num_rows() as u64);
                summary.add_batch(&batch, failed_rows);
                report.items_written(rows, failed.as_ref(), started);
                memory.written(next, size, writers_size, (batch, failed));
            }
        }
        Ok(())
    });
    result?;
    summary.peak_memory = summary.peak_memory.max(memory.peak());
    Ok((writer.finish()?, journal))
}
