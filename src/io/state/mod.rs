//! Incremental file runs: the state a run keeps of each input file (see
//! [`FileRun::with_state`]) so that a rerun computes only the files that changed, and
//! what it decides for each ([`FileDecision`]).
//!
//! A state directory holds one JSON file per run (per input and output location), named
//! by a hash of the two, and beside it a lock file a run holds while it goes. The state
//! is small (a few hundred bytes per input file), read whole when a run starts and
//! written whole when it ends, so a JSON file replaced atomically (written to a
//! temporary file, synced, renamed) gives what an LMDB transaction would (a crash
//! leaves the old state or the new one, whole) and stays readable by a person and by
//! `hypernodes state show`.

mod columns;
mod decide;
mod journal;
mod record;
mod show;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use decide::{Action, FileDecision, Reason};
pub(super) use journal::{Appender, Journal};
use record::{FileRecord, Fingerprint, Signature, StateFile, VERSION, Written};
pub use show::{FileState, RunState, State};

use super::plan::{FilePlan, Files};
use super::{FileRun, Location};
use crate::error::{Error, Result};

/// What an incremental run did with its files (see [`FileRun::with_state`]): in
/// [`RunSummary::incremental`](super::RunSummary::incremental), displayed as
/// `files: 1 computed, 99 skipped (990000 rows), 1 removed`, with files recomputed by
/// column `files: 0 computed, 100 recomputed (columns score), 0 skipped, 0 removed`, or
/// with a file resumed `files: 0 computed, 1 resumed (57344 rows kept), 99 skipped
/// (990000 rows), 0 removed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incremental {
    /// The input files computed, in order.
    pub computed: Vec<Location>,
    /// The input files recomputed by column (see [`Action::Recompute`]), in order.
    pub recomputed: Vec<Location>,
    /// The input files resumed: computed from where a run that was interrupted left
    /// them (see [`Action::Resume`]).
    pub resumed: Vec<Location>,
    /// The rows of the files resumed that were kept (not computed again).
    pub rows_kept: u64,
    /// The input files skipped, their outputs left as they were.
    pub skipped: Vec<Location>,
    /// The rows of the files skipped, as their state records them (a file recorded by
    /// a version that did not record rows counts the rows its metadata gives, or none).
    pub skipped_rows: u64,
    /// The outputs removed: those of input files that are gone.
    pub removed: Vec<Location>,
    /// The decision on every file, as [`FileRun::plan_incremental`] gives it.
    pub decisions: Vec<FileDecision>,
}

impl std::fmt::Display for Incremental {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "files: {} computed, ", self.computed.len())?;
        if !self.recomputed.is_empty() {
            // The columns recomputed in any file, in the order first met.
            let mut columns: Vec<&str> = Vec::new();
            for d in self.decisions.iter().filter(|d| d.action == Action::Recompute) {
                for c in &d.columns {
                    if !columns.contains(&c.as_str()) {
                        columns.push(c);
                    }
                }
            }
            let columns = match columns.is_empty() {
                true => "none".to_string(),
                false => columns.join(", "),
            };
            write!(f, "{} recomputed (columns {columns}), ", self.recomputed.len())?;
        }
        if !self.resumed.is_empty() {
            write!(f, "{} resumed ({} rows kept), ", self.resumed.len(), self.rows_kept)?;
        }
        write!(f, "{} skipped", self.skipped.len())?;
        if !self.skipped.is_empty() {
            write!(f, " ({} rows)", self.skipped_rows)?;
        }
        write!(f, ", {} removed", self.removed.len())
    }
}

/// The state file of `run` in `dir`: named by a hash of its input and output.
fn state_path(dir: &Path, run: &FileRun) -> Result<PathBuf> {
    let mut h = blake3::Hasher::new();
    for location in [&run.input, &run.output] {
        let path = location.as_path().ok_or_else(|| {
            Error::Invalid(format!(
                "An incremental run (with a state) reads and writes local files; '{location}' is not one"
            ))
        })?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        h.update(path.as_os_str().as_encoded_bytes()).update(b"\0");
    }
    Ok(dir.join(format!("{}.json", &h.finalize().to_hex()[..16])))
}

/// An incremental run's state, from its start to its end: what it found, what it
/// decided, what it records.
pub(super) struct Tracker {
    path: PathBuf,
    /// Held from the start of the run to its end: one run per state at a time.
    _lock: Option<File>,
    before: StateFile,
    /// The state as the run goes: `before` with the records of the files finished.
    after: StateFile,
    /// Whether `after` holds records not yet written synced.
    unwritten: bool,
    /// Per input file, in order: what it is now.
    now: Vec<Found>,
    decisions: Vec<FileDecision>,
    /// Per input file, in order: how it is recomputed by column, when it is.
    recomputes: Vec<Option<columns::Recompute>>,
    /// Per input file computed, its journal (see [`Journal`]): none when its nodes are
    /// not the same twice (volatile, or not hashable).
    journals: Vec<Option<Journal>>,
}

/// An input file as a run finds it.
struct Found {
    /// Its absolute path, the state's key.
    key: String,
    fingerprint: Fingerprint,
    /// The signature of computing it now.
    signature: Signature,
    /// Where it is to be written now.
    outputs: Vec<Location>,
    /// The files its record says were written, as they are now (`None`: gone).
    written: Vec<Option<Written>>,
    /// Its rows: as recorded, else as its metadata gives them.
    rows: Option<u64>,
}

impl Tracker {
    /// Reads the state of `run` in `dir` and decides what to do with each of `files`
    /// (planned as `plans`); with `lock`, holds the state until the tracker is dropped.
    pub(super) fn begin(dir: &Path, run: &FileRun, files: &Files, plans: &[FilePlan], lock: bool) -> Result<Tracker> {
        let path = state_path(dir, run)?;
        let lock = match lock {
            true => Some(lock_state(dir, &path)?),
            false => None,
        };
        let before = read_state(&path)?;
        let mut now = Vec::new();
        let mut decisions = Vec::new();
        let mut recomputes = Vec::new();
        let mut journals = Vec::new();
        // Every input, and every output recorded, is fingerprinted: hashed unless its
        // identity is the one recorded (see `Stat`), the files on every core.
        let locals = (files.inputs.iter().map(|input| input.local_file())).collect::<Result<Vec<_>>>()?;
        let found: Vec<(Fingerprint, Vec<Option<Written>>)> = {
            use rayon::prelude::*;
            locals
                .par_iter()
                .map(|local| {
                    let key = record::absolute(local);
                    let record = before.files.get(&key);
                    // Known from its record, else from its journal (interrupted).
                    let known = match record {
                        Some(r) => Some(r.fingerprint.clone()),
                        None => journal::fingerprint(&path, &key),
                    };
                    let input = Fingerprint::of(local, known.as_ref())?;
                    let written = record.map_or_else(Vec::new, |r| r.written.iter().map(Written::now).collect());
                    Ok((input, written))
                })
                .collect::<Result<_>>()?
        };
        let inputs = files.inputs.iter().zip(plans).zip(locals).zip(found);
        for (i, (((input, plan), local), (fingerprint, written))) in inputs.enumerate() {
            let key = record::absolute(local);
            let signature = Signature::of(run, plan);
            let outputs: Vec<Location> = std::iter::once(files.outputs[i].clone())
                .chain(files.failed[i].clone())
                .collect();
            let record = before.files.get(&key);
            let mut reasons = decide::reasons(record, &fingerprint, &written, &signature, &outputs);
            let (mut action, recompute) = match decide::computes(&reasons) {
                false => (Action::Skip, None),
                true => match columns::consider(&reasons, record, plan) {
                    Ok(recompute) => (Action::Recompute, Some(recompute)),
                    Err(why) => {
                        reasons.extend(why.map(Reason::WholeFile));
                        (Action::Compute, None)
                    }
                },
            };
            // A file to compute resumes from its journal when it holds finished batches.
            let journal = (action == Action::Compute && journal::kept(&reasons)).then(|| {
                let memory = super::stream::memory_for(run, input, &files.outputs[i], files.failed[i].as_ref(), plan);
                let journal = Journal::find(&path, &key, &fingerprint, &signature, &memory, plan);
                if let Some(finished) = journal.finished() {
                    action = Action::Resume;
                    reasons.push(Reason::Interrupted {
                        batches: finished.batches,
                        of: journal::batches_of(plan, memory.batch_rows()),
                        rows: finished.rows,
                    });
                }
                journal
            });
            journals.push(journal);
            decisions.push(FileDecision {
                input: input.location.clone(),
                outputs: outputs.clone(),
                action,
                columns: recompute.as_ref().map(|r| r.columns.clone()).unwrap_or_default(),
                reasons,
            });
            recomputes.push(recompute);
            let rows = record.and_then(|r| r.rows).or(plan.rows);
            now.push(Found {
                key,
                fingerprint,
                signature,
                outputs,
                written,
                rows,
            });
        }
        // The files gone: their outputs that are left, unless a file of now writes them.
        let planned: Vec<&Location> = now.iter().flat_map(|f| &f.outputs).collect();
        for (key, record) in &before.files {
            if now.iter().any(|f| f.key == *key) {
                continue;
            }
            let outputs = decide::left_over(&record.written)
                .into_iter()
                .filter(|o| !planned.iter().any(|p| p.same(o)))
                .collect();
            decisions.push(FileDecision {
                input: Location::local(key),
                outputs,
                action: Action::Remove,
                columns: Vec::new(),
                reasons: vec![Reason::InputGone],
            });
        }
        let after = StateFile {
            version: VERSION,
            input: run.input.as_path().map(record::absolute).unwrap_or_default(),
            output: run.output.as_path().map(record::absolute).unwrap_or_default(),
            files: before.files.clone(),
        };
        Ok(Tracker {
            path,
            _lock: lock,
            before,
            after,
            unwritten: false,
            now,
            decisions,
            recomputes,
            journals,
        })
    }

    /// The journal of input file `index` (see [`Journal`]), if it keeps one.
    pub(super) fn journal(&mut self, index: usize) -> Option<Journal> {
        self.journals.get_mut(index).and_then(Option::take)
    }

    /// The decisions taken.
    pub(super) fn decisions(self) -> Vec<FileDecision> {
        self.decisions
    }

    /// The indices of the input files computed (whole or by column), in order.
    pub(super) fn computed(&self) -> Vec<usize> {
        (0..self.now.len())
            .filter(|&i| {
                matches!(
                    self.decisions[i].action,
                    Action::Compute | Action::Recompute | Action::Resume
                )
            })
            .collect()
    }

    /// The plans of the files computed (in the order of [`Tracker::computed`]), those
    /// recomputed by column reduced to the nodes they compute.
    pub(super) fn reduce(&self, plans: Vec<FilePlan>) -> Result<Vec<FilePlan>> {
        (self.computed().into_iter().zip(plans))
            .map(|(i, plan)| match &self.recomputes[i] {
                Some(recompute) => recompute.reduce(plan),
                None => Ok(plan),
            })
            .collect()
    }

    /// The rows of each input file skipped, in order (`None` for those computed): as
    /// recorded, else as the file's metadata gives them, else none.
    pub(super) fn skipped_rows(&self) -> Vec<Option<u64>> {
        (self.now.iter().zip(&self.decisions))
            .map(|(found, d)| (d.action == Action::Skip).then_some(found.rows.unwrap_or(0)))
            .collect()
    }

    /// Records that the outputs of input file `index`, of `rows` rows, are in place,
    /// and writes the state at once (replaced atomically, not synced: a killed process
    /// loses nothing the system was handed; the state at the end of the run is synced).
    pub(super) fn put(&mut self, index: usize, rows: u64) -> Result<()> {
        let Found {
            key,
            fingerprint,
            signature,
            outputs,
            ..
        } = &self.now[index];
        let written = outputs
            .iter()
            .map(|o| Written::of(o.as_path().unwrap_or(Path::new(""))))
            .collect::<Result<Vec<_>>>()?;
        let record = FileRecord {
            fingerprint: fingerprint.clone(),
            signature: signature.clone(),
            written,
            rows: Some(rows),
        };
        self.after.files.insert(key.clone(), record);
        write_state(&self.path, &self.after, false)?;
        self.unwritten = true;
        Ok(())
    }

    /// Writes the state once more, synced (to the disk, not only to the system), when
    /// records were made since it last was.
    pub(super) fn flush(&mut self) -> Result<()> {
        if self.unwritten {
            write_state(&self.path, &self.after, true)?;
            self.unwritten = false;
        }
        Ok(())
    }

    /// After the outputs of the files computed are in place (each [`Tracker::put`]):
    /// removes the outputs of the files gone, then records the new state, atomically:
    /// the files skipped with their fingerprints refreshed, the files gone dropped.
    pub(super) fn finish(mut self) -> Result<Incremental> {
        let mut done = Incremental {
            computed: Vec::new(),
            recomputed: Vec::new(),
            resumed: Vec::new(),
            rows_kept: 0,
            skipped: Vec::new(),
            skipped_rows: 0,
            removed: Vec::new(),
            decisions: Vec::new(),
        };
        for d in &self.decisions {
            match d.action {
                Action::Compute => done.computed.push(d.input.clone()),
                Action::Recompute => done.recomputed.push(d.input.clone()),
                Action::Resume => {
                    done.resumed.push(d.input.clone());
                    done.rows_kept += d.reasons.iter().map(Reason::rows_kept).sum::<u64>();
                }
                Action::Skip => done.skipped.push(d.input.clone()),
                Action::Remove => {
                    for output in &d.outputs {
                        let local = output.as_path().unwrap_or(Path::new(""));
                        match std::fs::remove_file(local) {
                            Ok(()) => done.removed.push(output.clone()),
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(source) => {
                                return Err(Error::Io {
                                    action: "remove",
                                    path: output.to_string().into(),
                                    source,
                                });
                            }
                        }
                    }
                }
            }
        }
        let mut files = std::collections::BTreeMap::new();
        for (found, d) in self.now.iter().zip(&self.decisions) {
            let key = &found.key;
            let record = match (d.action, self.after.files.get(key), self.before.files.get(key)) {
                (Action::Compute | Action::Recompute | Action::Resume, Some(put), _) => put.clone(),
                // Skipped: as recorded, the fingerprints of its input and outputs
                // refreshed (the outputs are there, as written: skipping checked them).
                (Action::Skip, _, Some(before)) => FileRecord {
                    fingerprint: found.fingerprint.clone(),
                    written: (found.written.iter().zip(&before.written))
                        .map(|(now, was)| now.clone().unwrap_or_else(|| was.clone()))
                        .collect(),
                    ..before.clone()
                },
                // Unreachable: a file computed is put, a file skipped was recorded.
                _ => return Err(Error::Internal(format!("no record of '{key}' at the end of its run"))),
            };
            files.insert(key.clone(), record);
        }
        self.after.files = files;
        self.unwritten = true;
        self.flush()?;
        done.skipped_rows = self.skipped_rows().into_iter().flatten().sum();
        // Every file is done: no journal of this run serves any more.
        journal::remove(&self.path.with_extension(""))?;
        done.decisions = std::mem::take(&mut self.decisions);
        Ok(done)
    }
}

/// The decisions of an incremental run of `run` with its state in `dir`, without
/// running or writing anything.
pub(super) fn plan(run: &FileRun, dir: &Path) -> Result<Vec<FileDecision>> {
    check(run)?;
    let files = Files::new(run, false)?;
    let plans = FilePlan::all(&run.pipeline, run, &files)?;
    Ok(Tracker::begin(dir, run, &files, &plans, false)?.decisions())
}

/// Checks that `run` can be incremental: on local files, not on a remote.
pub(super) fn check(run: &FileRun) -> Result<()> {
    state_path(Path::new(""), run)?;
    if run.remote.is_some() {
        return Err(Error::Invalid(
            "An incremental run (with a state) runs in this process; it cannot run on a remote".into(),
        ));
    }
    Ok(())
}

/// Keeps the items of `items` at the indices `keep` (in order).
pub(super) fn retain<T>(items: &mut Vec<T>, keep: &[usize]) {
    let mut index = 0;
    items.retain(|_| {
        index += 1;
        keep.binary_search(&(index - 1)).is_ok()
    });
}

/// An error of the state file at `path`.
fn state_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Data {
        path: path.display().to_string().into(),
        message: format!("not a readable hypernodes state file ({message}); remove it or run `hypernodes state clear`")
            .into(),
    }
}

/// The state at `path`, empty when there is none.
fn read_state(path: &Path) -> Result<StateFile> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateFile::default()),
        Err(source) => {
            return Err(Error::Io {
                action: "read",
                path: path.display().to_string().into(),
                source,
            });
        }
    };
    let state: StateFile = serde_json::from_slice(&bytes).map_err(|e| state_error(path, e))?;
    if state.version != VERSION {
        return Err(state_error(
            path,
            format!("version {}, expected {VERSION}", state.version),
        ));
    }
    Ok(state)
}

/// Writes `state` to `path`: to a temporary file (synced to the disk when `sync`), then
/// renamed into place.
fn write_state(path: &Path, state: &StateFile, sync: bool) -> Result<()> {
    let io = |source| Error::Io {
        action: "write",
        path: path.display().to_string().into(),
        source,
    };
    // Unreachable: the state holds strings, numbers and maps of them.
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::Internal(e.to_string()))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        if sync { f.sync_all() } else { Ok(()) }
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Locks the state at `path` (in `dir`, made if missing) for this run.
fn lock_state(dir: &Path, path: &Path) -> Result<File> {
    let io = |action, source| Error::Io {
        action,
        path: dir.display().to_string().into(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
    let file = File::create(path.with_extension("lock")).map_err(|e| io("write", e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Invalid(format!(
            "The state '{}' is in use by another run of the same input and output; wait for it to end",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock", e)),
    }
}
