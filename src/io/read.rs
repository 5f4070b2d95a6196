//! Reading a file run's input: the batches of one file, each read by the worker that
//! runs it, within the memory limit. A Parquet file is read row group by row group, each
//! by one worker and decoded there; the other formats by one reader, piece by piece, each
//! piece decoded by the worker that took it.

use std::fs::File;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};

use super::carry::Zipped;
use super::format::{Format, IpcBlocks, Piece, Rejected, StreamReader};
use super::input::Input;
use super::memory::Memory;
use super::plan::{FilePlan, Source};
use crate::error::{Error, Result};

/// The batches of one input file, as the workers take them. Batch `seq` (counted through
/// the file) is written in that order.
pub(super) struct Reader<'a> {
    input: &'a Input,
    plan: &'a FilePlan,
    /// Admits each batch before it is read, and learns its size.
    memory: &'a Memory,
    /// For Parquet, the row groups, each read by one worker into batches, and the columns
    /// read; for Arrow IPC, its record batch blocks, read the same way.
    groups: Vec<Group>,
    mask: Option<ProjectionMask>,
    ipc: Option<IpcBlocks>,
    /// The next row group to take.
    next_group: AtomicUsize,
    /// For the other formats, the file's one reader, whose batches the workers take in
    /// turn; `None` once it ended or failed.
    stream: Mutex<Option<Sequence>>,
    /// A file's rows, for a reader's pieces: known, or about its size over a row's.
    file_rows: usize,
    /// The first row read: that of the first batch not skipped.
    first_row: usize,
}

impl<'a> Reader<'a> {
    /// The reader of `input`, as `plan` reads it, in batches of `memory`'s rows, from
    /// batch `skip` on (the batches before it are not read: a resumed file's, written
    /// already).
    pub(super) fn new(input: &'a Input, plan: &'a FilePlan, memory: &'a Memory, skip: u64) -> Result<Reader<'a>> {
        let batch_rows = memory.batch_rows();
        // The work: for Parquet, row groups, each read by one worker into batches of
        // `batch_rows`; for the other formats, the batches of the file's one reader, in
        // turn. Batch `seq` (counted through the file) is written in that order.
        let mut groups = Vec::new();
        let mut mask = None;
        let mut ipc = None;
        // A file's rows, for a reader's pieces: known, or about its size over a row's.
        let file_rows = plan.rows.map_or_else(
            || {
                let size = input
                    .local()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |m| m.len());
                size.div_ceil(plan.row_bytes.max(1)) as usize
            },
            |r| r as usize,
        );
        let stream = Mutex::new(None);
        let mut start = 0;
        // For the other formats, the file's one reader.
        let mut pieces: Option<Pieces> = None;
        match &plan.source {
            Source::Parquet(metadata) => {
                mask = Some(ProjectionMask::roots(
                    metadata.metadata().file_metadata().schema_descr(),
                    plan.needed.iter().copied(),
                ));
                let rows = metadata
                    .metadata()
                    .row_groups()
                    .iter()
                    .map(|rg| rg.num_rows().max(0) as usize);
                (groups, start) = Group::all(rows, batch_rows, skip);
            }
            Source::Stream { projection, .. } if plan.format == Format::Arrow => {
                let blocks = IpcBlocks::open(input.local_file()?, projection)?;
                (groups, start) = Group::all(blocks.rows(), batch_rows, skip);
                ipc = Some(blocks);
            }
            Source::Stream { parse, projection } => {
                let reader =
                    StreamReader::open(input.local_file()?, plan.format, parse.clone(), projection, batch_rows)?;
                pieces = Some(reader.into());
            }
            Source::Carry(carried) => {
                pieces = Some(Zipped::open(input.local_file()?, plan.format, carried, batch_rows)?.into());
            }
        }
        if let Some(reader) = pieces {
            let mut sequence = Sequence { reader, seq: 0, row: 0 };
            // The pieces skipped are split off, not decoded.
            while sequence.seq < skip {
                match sequence.reader.next_piece() {
                    Some(piece) => {
                        sequence.seq += 1;
                        sequence.row += piece?.rows();
                    }
                    None => break,
                }
            }
            start = sequence.row;
            *stream.lock().expect("reader") = Some(sequence);
        }

        Ok(Reader {
            input,
            plan,
            memory,
            groups,
            mask,
            ipc,
            next_group: AtomicUsize::new(0),
            stream,
            file_rows,
            first_row: start,
        })
    }

    /// The first row read: that of batch `skip`.
    pub(super) fn first_row(&self) -> usize {
        self.first_row
    }

    /// A worker's reading: takes the next batch (a row group's, or the reader's), waits
    /// for room for it, reads it (only the columns needed) and hands it to `run` with its
    /// place among the file's batches, its first row in the file, the records of its rows
    /// that did not decode (see [`Rejected`]; the batch holds the others) and its size in
    /// bytes, until the file ends, the run stops or `run` returns false. A batch that
    /// cannot be read goes to `fail` with its place, and the worker stops.
    pub(super) fn work(
        &self,
        run: impl Fn(u64, usize, RecordBatch, Option<Rejected>, u64) -> bool,
        fail: impl Fn(u64, Error),
    ) {
        let batch_rows = self.memory.batch_rows();
        let by_group = matches!(self.plan.source, Source::Parquet(_)) || self.ipc.is_some();
        match by_group {
            // Row groups or blocks: each read and decoded by the worker that took it.
            true => loop {
                let Some(group) = self.groups.get(self.next_group.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                if self.memory.stopped() {
                    return;
                }
                let expected = group.rows.div_ceil(batch_rows) as u64;
                let mut reader = match self.group(group, batch_rows) {
                    Ok(r) => r,
                    Err(e) => {
                        fail(group.first_seq, e);
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
                    let reserve = self.memory.reserve(rows);
                    if !self.memory.admit(seq, reserve) {
                        return;
                    }
                    let next = reader.next();
                    let input_size = self.read(reserve, &next);
                    let batch = match next {
                        Some(Ok(b)) => b,
                        Some(Err(e)) => {
                            fail(seq, e);
                            return;
                        }
                        None => break,
                    };
                    let first = row;
                    row += batch.num_rows();
                    if !run(seq, first, batch, None, input_size) {
                        return;
                    }
                    done += 1;
                }
                if let Some(ipc) = &self.ipc {
                    ipc.release(group.index);
                }
                if done < expected {
                    let message = format!(
                        "row group {} holds {} rows by its metadata, but {} were read",
                        group.index,
                        group.rows,
                        row - group.first_row
                    );
                    fail(group.first_seq + done, self.data(message));
                    return;
                }
            },
            // The pieces of the file's one reader, in order; each is decoded
            // and run by the worker that took it.
            false => loop {
                let reserve = self.memory.reserve(batch_rows.min(self.file_rows));
                let mut guard = self.stream.lock().expect("reader");
                let Some(sequence) = guard.as_mut() else { return };
                let (seq, first) = (sequence.seq, sequence.row);
                if !self.memory.admit(seq, reserve) {
                    return;
                }
                let piece = match sequence.reader.next_piece() {
                    Some(Ok(piece)) => piece,
                    Some(Err(e)) => {
                        *guard = None;
                        fail(seq, e);
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
                // Under `--on-error collect` (a side file), the records that do not
                // decode come apart as failed rows.
                let (next, rejected) = match piece.decode(self.plan.failed.is_some()) {
                    Ok((batch, rejected)) => (Some(Ok(batch)), rejected),
                    Err(e) => (Some(Err(e)), None),
                };
                let input_size = self.read(reserve, &next);
                match next {
                    Some(Ok(batch)) => {
                        if !run(seq, first, batch, rejected, input_size) {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        fail(seq, e);
                        return;
                    }
                    None => return,
                }
            },
        }
    }

    /// A batch read: its estimate swapped for its size, which it returns.
    /// A slice of a larger batch (an Arrow file's) holds its share of it.
    fn read(&self, reserve: u64, next: &Option<Result<RecordBatch>>) -> u64 {
        let size = match next {
            Some(Ok(b)) if self.plan.format == Format::Arrow => b
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
        self.memory.read(reserve, size);
        size
    }

    /// The batches of `group`: a Parquet row group's, or an Arrow block cut into
    /// batches.
    fn group(&self, group: &Group, batch_rows: usize) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>>>> {
        match (&self.plan.source, &self.ipc) {
            (Source::Parquet(metadata), _) => {
                let mask = self.mask.clone().expect("a Parquet projection");
                self.row_group(metadata, group, mask, batch_rows)
            }
            (_, Some(ipc)) => {
                // The rows of the block read: after those skipped (a resumed file's).
                let batch = ipc.read(group.index)?.slice(group.skipped, group.rows);
                let rows = batch.num_rows();
                let slices = (0..rows).step_by(batch_rows.max(1));
                Ok(Box::new(
                    slices.map(move |at| Ok(batch.slice(at, batch_rows.min(rows - at)))),
                ))
            }
            // Unreachable: a reader has groups only of Parquet or Arrow.
            _ => Err(Error::Internal("a group of a file read as a stream".into())),
        }
    }

    /// The batches of row `group`, the columns of `mask`: from the local file, or
    /// fetched from the store.
    fn row_group(
        &self,
        metadata: &ArrowReaderMetadata,
        group: &Group,
        mask: ProjectionMask,
        batch_rows: usize,
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>>>> {
        let index = group.index;
        #[cfg(feature = "cloud")]
        if let super::input::InputSource::Parquet(object) = &self.input.source {
            // Unreachable: only a run with a state skips rows, and it reads local files.
            if group.skipped > 0 {
                return Err(Error::Internal("rows skipped in an object".into()));
            }
            let batches = super::store::row_group_reader(object, metadata, index, mask, batch_rows, true)?;
            return Ok(Box::new(batches));
        }
        let path = self.input.local_file()?;
        let file = File::open(path).map_err(|source| Error::Io {
            action: "read",
            path: self.input.location.to_string().into(),
            source,
        })?;
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone());
        if group.skipped > 0 {
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(group.skipped),
                RowSelector::select(group.rows),
            ]));
        }
        let reader = builder
            .with_row_groups(vec![index])
            .with_projection(mask)
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| self.data(format!("cannot read ({e})")))?;
        let path = self.input.location.to_string();
        let data = move |e: arrow::error::ArrowError| Error::Data {
            path: path.clone().into(),
            message: format!("cannot read ({e})").into(),
        };
        Ok(Box::new(reader.map(move |b| b.map_err(&data))))
    }

    fn data(&self, message: String) -> Error {
        Error::Data {
            path: self.input.location.to_string().into(),
            message: message.into(),
        }
    }
}

/// A row group (or an Arrow IPC block) of an input file as a unit of work.
struct Group {
    /// Its index in the file.
    index: usize,
    /// The place of its first batch among the file's batches.
    first_seq: u64,
    /// The file's row number of its first row.
    first_row: usize,
    /// Its rows read.
    rows: usize,
    /// Its first rows, not read (a resumed file's, written already).
    skipped: usize,
}

impl Group {
    /// The groups of a file whose groups hold `rows` rows each, read in batches of
    /// `batch_rows` from batch `skip` on (the batches before it are not read: a
    /// resumed file's), and the first row read.
    fn all(rows: impl Iterator<Item = usize>, batch_rows: usize, skip: u64) -> (Vec<Group>, usize) {
        let (mut seq, mut first_row, mut start) = (0u64, 0usize, 0usize);
        let mut groups = Vec::new();
        for (index, rows) in rows.enumerate() {
            let batches = rows.div_ceil(batch_rows) as u64;
            // The batches skipped: a group's whole, or its first ones.
            let skipped = skip.saturating_sub(seq).min(batches);
            let skipped_rows = (skipped as usize * batch_rows).min(rows);
            if skipped < batches {
                groups.push(Group {
                    index,
                    first_seq: seq + skipped,
                    first_row: first_row + skipped_rows,
                    rows: rows - skipped_rows,
                    skipped: skipped_rows,
                });
            }
            if seq <= skip {
                start = first_row + skipped_rows;
            }
            seq += batches;
            first_row += rows;
        }
        (groups, start)
    }
}

/// The one reader of a file read batch by batch, and where it is.
struct Sequence {
    reader: Pieces,
    /// The next batch's place among the file's batches.
    seq: u64,
    /// The next batch's first row.
    row: usize,
}

/// What a file read batch by batch is read with.
enum Pieces {
    /// The file alone.
    File(StreamReader),
    /// The file and the previous output of an incremental run, side by side.
    Carried(Box<Zipped>),
}

impl From<StreamReader> for Pieces {
    fn from(reader: StreamReader) -> Pieces {
        Pieces::File(reader)
    }
}

impl From<Zipped> for Pieces {
    fn from(reader: Zipped) -> Pieces {
        Pieces::Carried(Box::new(reader))
    }
}

impl Pieces {
    /// The next piece, `None` at the end.
    fn next_piece(&mut self) -> Option<Result<Piece>> {
        match self {
            Pieces::File(reader) => reader.next_piece(),
            Pieces::Carried(zipped) => zipped.next_batch().map(|b| b.map(Piece::Batch)),
        }
    }
}
