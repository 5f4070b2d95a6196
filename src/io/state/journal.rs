//! Resuming inside a file: the journal of the input file an incremental run is
//! computing, so that a run killed half-way through a file redoes only its batches that
//! were not finished.
//!
//! As the run writes each batch of the file into the output's temporary file, it
//! appends the batch's output rows (and, with a side file, its failed rows) to the
//! journal, an Arrow IPC stream in the state directory, handed to the system (written,
//! not synced) before the next batch is written. A run that finds a journal of the file
//! it is to compute, made for the same content (size and hash), the same signature and
//! the same way of cutting the file into batches and row groups ([`Layout`]), writes the
//! journal's batches into the new output without computing them, then computes the
//! rest: the writer sees the same batches in the same order, so the output is byte for
//! byte that of a run never interrupted. A journal made for anything else is removed,
//! never read. Once the file's output is in place and recorded, its journal is removed.
//!
//! The journal of one input file is a description (`PREFIX.journal`, JSON: what it is
//! valid for) and segments of batches (`PREFIX.journal.N.out`, and `.N.failed` with a side
//! file), each an IPC stream: a resumed run appends a new segment. The batches of a
//! segment count up to the first one not wholly written (a killed run's last), and the
//! output's and the side file's streams as far as both go.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use serde::{Deserialize, Serialize};

use super::Reason;
use super::record::{Fingerprint, Signature};
use crate::error::{Error, Result};
use crate::io::memory::Memory;
use crate::io::plan::{FilePlan, Source};

/// The version of the journal's description; a journal of another is not read.
const VERSION: u32 = 1;

/// How a run cuts an input file into batches and its output into row groups and pages:
/// a journal is read only by a run that cuts the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Layout {
    /// The most rows per batch.
    batch_rows: u64,
    /// The bytes the output's writer, and the side file's, buffer at most.
    writer_budget: u64,
    side_budget: u64,
}

impl Layout {
    /// The layout of a run within `memory`.
    fn of(memory: &Memory) -> Layout {
        let (writer_budget, side_budget) = memory.writer_budgets();
        Layout {
            batch_rows: memory.batch_rows() as u64,
            writer_budget,
            side_budget,
        }
    }
}

/// What a journal is valid for: one input file's content, computed with one signature
/// and cut with one layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Description {
    version: u32,
    input: String,
    fingerprint: Fingerprint,
    signature: Signature,
    layout: Layout,
    /// Whether the run writes a side file of failed rows (a `.failed` stream per segment).
    side: bool,
}

impl Description {
    /// Whether a journal of `self` holds batches for `now`: the same input, content,
    /// signature, layout and side file (the input's time aside).
    fn serves(&self, now: &Description) -> bool {
        self.version == now.version
            && self.input == now.input
            && self.fingerprint.same_content(&now.fingerprint)
            && self.signature == now.signature
            && self.layout == now.layout
            && self.side == now.side
    }
}

/// What a journal holds that a run can resume from: its first `batches` batches, which
/// hold `rows` input rows (output rows and failed rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::io) struct Finished {
    pub(in crate::io) batches: u64,
    pub(in crate::io) rows: u64,
}

/// The journal of one input file of an incremental run, as the run's start finds it:
/// where it is, what it is to be valid for, and what it holds that serves.
pub(in crate::io) struct Journal {
    /// `PREFIX.journal` without its extension.
    prefix: PathBuf,
    description: Description,
    finished: Option<Finished>,
}

/// The fingerprint of the input file `input` (its absolute path) that its journal in
/// the state `state` was written for, if it has one: a file not recorded yet but
/// interrupted need not be hashed again when it is still the file journaled (see
/// `Stat`).
pub(super) fn fingerprint(state: &Path, input: &str) -> Option<Fingerprint> {
    let prefix = prefix(state, input);
    let hash = prefix.extension()?.to_string_lossy().into_owned();
    let bytes = std::fs::read(prefix.with_extension(format!("{hash}.journal"))).ok()?;
    serde_json::from_slice::<Description>(&bytes)
        .ok()
        .map(|d| d.fingerprint)
}

/// `DIR/NAME.HASH`: the prefix of the journal of input file `input` (its absolute path)
/// of the run whose state file is `state` (`DIR/NAME.json`).
fn prefix(state: &Path, input: &str) -> PathBuf {
    let file = blake3::hash(input.as_bytes()).to_hex();
    state.with_extension(&file[..16])
}

impl Journal {
    /// The journal of the input file `input` (its absolute path) of the run whose state
    /// file is `state` (`DIR/NAME.json`), as it is to be for `fingerprint`, `signature`,
    /// `layout` and `side`; reads what an earlier run left of it that serves.
    pub(super) fn find(
        state: &Path,
        input: &str,
        fingerprint: &Fingerprint,
        signature: &Signature,
        memory: &Memory,
        plan: &FilePlan,
    ) -> Journal {
        let (layout, side) = (Layout::of(memory), plan.failed.is_some());
        let prefix = prefix(state, input);
        let description = Description {
            version: VERSION,
            input: input.to_string(),
            fingerprint: fingerprint.clone(),
            signature: signature.clone(),
            layout,
            side,
        };
        let mut journal = Journal {
            prefix,
            description,
            finished: None,
        };
        let before: Option<Description> = std::fs::read(journal.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        if before.is_some_and(|b| b.serves(&journal.description)) {
            let mut finished = Finished { batches: 0, rows: 0 };
            let counted = journal.replay(|out, failed| {
                finished.batches += 1;
                finished.rows += (out.num_rows() + failed.map_or(0, |f| f.num_rows())) as u64;
                Ok(())
            });
            journal.finished = (counted.is_ok() && finished.batches > 0).then_some(finished);
        }
        journal
    }

    /// What the journal holds that serves, if anything.
    pub(in crate::io) fn finished(&self) -> Option<Finished> {
        self.finished
    }

    /// The description's path.
    fn path(&self) -> PathBuf {
        self.prefix.with_extension(format!("{}.journal", self.extension()))
    }

    /// The last part of the prefix's name (its extension: the file's hash).
    fn extension(&self) -> String {
        self.prefix
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Segment `n`'s stream of output rows (`out`) or failed rows (`failed`).
    fn segment(&self, n: usize, kind: &str) -> PathBuf {
        self.prefix
            .with_extension(format!("{}.journal.{n}.{kind}", self.extension()))
    }

    /// The segments there are.
    fn segments(&self) -> usize {
        (0..).find(|&n| !self.segment(n, "out").exists()).unwrap_or(0)
    }

    /// Hands each batch the journal holds, in order (its output rows, and with a side
    /// file its failed rows), to `each`: in each segment, up to the first batch not
    /// wholly written.
    pub(in crate::io) fn replay(
        &self,
        mut each: impl FnMut(RecordBatch, Option<RecordBatch>) -> Result<()>,
    ) -> Result<()> {
        let open = |path: PathBuf| -> Option<StreamReader<BufReader<File>>> {
            let file = File::open(path).ok()?;
            StreamReader::try_new(BufReader::with_capacity(1 << 20, file), None).ok()
        };
        for n in 0..self.segments() {
            let Some(mut out) = open(self.segment(n, "out")) else {
                continue;
            };
            let mut failed = match self.description.side {
                true => match open(self.segment(n, "failed")) {
                    Some(f) => Some(f),
                    None => continue,
                },
                false => None,
            };
            loop {
                let Some(Ok(batch)) = out.next() else { break };
                let rows = match &mut failed {
                    Some(f) => match f.next() {
                        Some(Ok(rows)) => Some(rows),
                        _ => break,
                    },
                    None => None,
                };
                each(batch, rows)?;
            }
        }
        Ok(())
    }

    /// Starts writing: removes what the journal held unless it serves (its batches are
    /// then replayed and new ones go to a new segment), and writes the description.
    pub(in crate::io) fn start(self) -> Result<Appender> {
        let segment = match self.finished {
            Some(_) => self.segments(),
            None => {
                remove(&self.prefix)?;
                // Unreachable: the description holds strings, numbers and maps of them.
                let bytes = serde_json::to_vec(&self.description).map_err(|e| Error::Internal(e.to_string()))?;
                std::fs::write(self.path(), bytes).map_err(|e| io("write", &self.path(), e))?;
                0
            }
        };
        Ok(Appender {
            out_path: self.segment(segment, "out"),
            failed_path: self.description.side.then(|| self.segment(segment, "failed")),
            journal: self,
            writers: None,
        })
    }
}

/// Appends the batches of a file being computed to its journal (see [`Journal::start`]).
pub(in crate::io) struct Appender {
    journal: Journal,
    out_path: PathBuf,
    failed_path: Option<PathBuf>,
    /// The segment's streams, made with its first batch (of its schema).
    writers: Option<Writers>,
}

type Stream = StreamWriter<BufWriter<File>>;

/// A segment's output stream and, with a side file, its failed rows' stream.
struct Writers(Stream, Option<Stream>);

impl Appender {
    /// The journal written.
    pub(in crate::io) fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Appends a batch written to the output: its output rows, and with a side file its
    /// failed rows; both handed to the system before it returns.
    pub(in crate::io) fn append(&mut self, out: &RecordBatch, failed: Option<&RecordBatch>) -> Result<()> {
        let writers = match &mut self.writers {
            Some(w) => w,
            None => {
                let create = |path: &Path, batch: &RecordBatch| -> Result<Stream> {
                    let file = File::create(path).map_err(|e| io("create", path, e))?;
                    StreamWriter::try_new(BufWriter::with_capacity(1 << 16, file), &batch.schema())
                        .map_err(|e| io("write", path, std::io::Error::other(e)))
                };
                // The failed rows' stream first: the output's names the segment.
                let side = match (&self.failed_path, failed) {
                    (Some(path), Some(rows)) => Some(create(path, rows)?),
                    _ => None,
                };
                self.writers.insert(Writers(create(&self.out_path, out)?, side))
            }
        };
        let write = |stream: &mut Stream, batch: &RecordBatch, path: &Path| {
            stream
                .write(batch)
                .map_err(std::io::Error::other)
                .and_then(|()| stream.get_mut().flush())
                .map_err(|e| io("write", path, e))
        };
        if let (Some(stream), Some(rows), Some(path)) = (&mut writers.1, failed, &self.failed_path) {
            write(stream, rows, path)?;
        }
        write(&mut writers.0, out, &self.out_path)
    }

    /// Removes the journal: its file is in place and recorded.
    pub(in crate::io) fn remove(self) -> Result<()> {
        drop(self.writers);
        remove(&self.journal.prefix).map(drop)
    }
}

/// Whether a file computed for `reasons` keeps a journal: not when a node or a value
/// gives other results each time (volatile, or not hashable), as a journal's batches
/// would not be those of a run never interrupted.
pub(super) fn kept(reasons: &[Reason]) -> bool {
    !reasons.iter().any(|r| {
        matches!(
            r,
            Reason::NodeVolatile(_) | Reason::NodeUnhashable(_) | Reason::BoundValueUnhashable(_)
        )
    })
}

impl Reason {
    /// The rows a resumed file keeps ([`Reason::Interrupted`]); 0 for other reasons.
    pub(super) fn rows_kept(&self) -> u64 {
        match self {
            Reason::Interrupted { rows, .. } => *rows,
            _ => 0,
        }
    }
}

/// The batches of the Parquet file planned as `plan`, cut into batches of `batch_rows`
/// rows (per row group); `None` for the other formats (read as they come).
pub(in crate::io) fn batches_of(plan: &FilePlan, batch_rows: usize) -> Option<u64> {
    match &plan.source {
        Source::Parquet(metadata) => Some(
            metadata
                .metadata()
                .row_groups()
                .iter()
                .map(|rg| (rg.num_rows().max(0) as usize).div_ceil(batch_rows.max(1)) as u64)
                .sum(),
        ),
        Source::Stream { .. } | Source::Carry(_) => None,
    }
}

/// Removes the files of the journals under `prefix` (`DIR/NAME.HASH` for one input
/// file's, `DIR/NAME` for every one of a run's): their descriptions and segments.
pub(super) fn remove(prefix: &Path) -> Result<usize> {
    let (Some(dir), Some(name)) = (prefix.parent(), prefix.file_name()) else {
        return Ok(0);
    };
    remove_in(dir, &format!("{}.", name.to_string_lossy()))
}

/// Removes the files of the journals in `dir` whose names start with `start` (every
/// journal's for ``), returning how many it removed.
pub(super) fn remove_in(dir: &Path, start: &str) -> Result<usize> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(start) && file.contains(".journal") {
            std::fs::remove_file(entry.path()).map_err(|e| io("remove", &entry.path(), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.display().to_string().into(),
        source,
    }
}
