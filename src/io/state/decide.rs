//! What an incremental run does with each file, and why ([`FileDecision`]): the state's
//! record of a file against the file as it is now and the run as it is set up.

use std::fmt;

use super::record::{FileRecord, Fingerprint, NodeKey, Signature, Written};
use crate::io::Location;

/// What an incremental run does with one file (see [`FileDecision`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The input file is read and its output written.
    Compute,
    /// Only some nodes changed: they (and those downstream of them) are computed, the
    /// other columns read from the previous output, and the output written anew
    /// ([`FileDecision::columns`] names the columns computed).
    Recompute,
    /// The input file is computed from where a run that was interrupted (killed, or
    /// failed) left it: the batches that run finished are written from its journal, the
    /// others computed ([`Reason::Interrupted`] says how many).
    Resume,
    /// The input file and its output are left as they are.
    Skip,
    /// The input file is gone: its outputs are removed.
    Remove,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Compute => "compute",
            Action::Recompute => "recompute",
            Action::Resume => "resume",
            Action::Skip => "skip",
            Action::Remove => "remove",
        })
    }
}

/// Why an incremental run computes, skips or removes a file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The state has no record of the input file.
    NewFile,
    /// The input's size or content hash differs from the recorded one.
    ContentChanged,
    /// Only the input's modification time changed: the file is skipped (its record is
    /// refreshed).
    Touched,
    /// The code of the node of this name changed (its code hash: a function's tokens
    /// and version, an SQL expression, a nested pipeline's structure).
    NodeCodeChanged(String),
    /// The node of this name has the same code but other inputs or outputs (names or
    /// types), or, for a nested pipeline, other values bound inside it.
    NodeWiringChanged(String),
    /// The node of this name is computed now and was not before.
    NodeAdded(String),
    /// The node of this name was computed before and is not now.
    NodeRemoved(String),
    /// The node of this name is volatile: its file is always computed.
    NodeVolatile(String),
    /// The node of this name cannot be keyed (a value bound in it has no hash): its
    /// file is always computed.
    NodeUnhashable(String),
    /// The value bound to this input changed (or was bound or unbound).
    BoundValueChanged(String),
    /// The value bound to this input cannot be hashed: its file is always computed.
    BoundValueUnhashable(String),
    /// Other output columns are selected.
    SelectionChanged,
    /// The other engine runs the nodes.
    EngineChanged,
    /// The input is read as another format.
    InputFormatChanged,
    /// The output's format or compression changed.
    OutputSettingsChanged,
    /// The failure policy changed (a side file of failed rows, or none).
    FailurePolicyChanged,
    /// An output file of the input is not where it was written (or is to be written
    /// elsewhere now).
    OutputMissing(Location),
    /// An output file of the input is there, but not as it was written.
    OutputChanged(Location),
    /// The input file is gone.
    InputGone,
    /// Only nodes or the selection changed, but the file is computed whole: why (the
    /// failed rows are collected, the previous output lacks a column or does not read
    /// back with its types, ...).
    WholeFile(String),
    /// A run computing the file was interrupted after its first `batches` batches (of
    /// `of`, for a Parquet input), holding `rows` input rows: those are kept.
    Interrupted {
        /// The batches finished.
        batches: u64,
        /// The file's batches, when known before reading it (Parquet).
        of: Option<u64>,
        /// The input rows of the batches finished.
        rows: u64,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NewFile => write!(f, "new file"),
            Reason::ContentChanged => write!(f, "content changed"),
            Reason::Touched => write!(f, "modification time changed, content unchanged"),
            Reason::NodeCodeChanged(n) => write!(f, "node `{n}`'s code changed"),
            Reason::NodeWiringChanged(n) => write!(f, "node `{n}`'s inputs, outputs or bound values changed"),
            Reason::NodeAdded(n) => write!(f, "node `{n}` added"),
            Reason::NodeRemoved(n) => write!(f, "node `{n}` removed"),
            Reason::NodeVolatile(n) => write!(f, "node `{n}` is volatile"),
            Reason::NodeUnhashable(n) => write!(f, "node `{n}` cannot be hashed"),
            Reason::BoundValueChanged(n) => write!(f, "bound value `{n}` changed"),
            Reason::BoundValueUnhashable(n) => write!(f, "bound value `{n}` cannot be hashed"),
            Reason::SelectionChanged => write!(f, "selection changed"),
            Reason::EngineChanged => write!(f, "engine changed"),
            Reason::InputFormatChanged => write!(f, "input format changed"),
            Reason::OutputSettingsChanged => write!(f, "output format or compression changed"),
            Reason::FailurePolicyChanged => write!(f, "failure policy changed"),
            Reason::OutputMissing(o) => write!(f, "output {o} missing"),
            Reason::OutputChanged(o) => write!(f, "output {o} changed since written"),
            Reason::InputGone => write!(f, "input gone"),
            Reason::WholeFile(why) => write!(f, "whole file: {why}"),
            Reason::Interrupted {
                batches, of: Some(of), ..
            } => write!(f, "interrupted after {batches} of {of} batches"),
            Reason::Interrupted { batches, of: None, .. } => write!(f, "interrupted after {batches} batches"),
        }
    }
}

/// What an incremental run does with one input file, and why: see
/// [`FileRun::plan_incremental`](crate::io::FileRun::plan_incremental).
///
/// Displayed: `compute in/b.csv -> out/b.csv (content changed)`,
/// `recompute in/a.csv -> out/a.csv: columns score (node `score`'s code changed)`,
/// `skip in/a.csv -> out/a.csv (nothing to do)`, `remove out/c.csv (input in/c.csv gone)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDecision {
    /// The input file.
    pub input: Location,
    /// Its output and, under [`OnError::Collect`](crate::exec::OnError::Collect), its
    /// side file of failed rows: those to be written ([`Action::Compute`]), those kept
    /// ([`Action::Skip`]), or those that exist and are to be removed
    /// ([`Action::Remove`]).
    pub outputs: Vec<Location>,
    /// What the run does.
    pub action: Action,
    /// For [`Action::Recompute`], the output columns computed (the others are read from
    /// the previous output); empty otherwise.
    pub columns: Vec<String>,
    /// Why, in the order checked: the input, the nodes, the other settings, the outputs.
    /// Empty for a file skipped with nothing changed.
    pub reasons: Vec<Reason>,
}

impl fmt::Display for FileDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outputs: Vec<String> = self.outputs.iter().map(|o| o.to_string()).collect();
        match self.action {
            Action::Remove if outputs.is_empty() => write!(f, "remove (nothing left) ")?,
            Action::Remove => write!(f, "remove {} ", outputs.join(", "))?,
            action => write!(f, "{action} {} -> {}", self.input, outputs.join(", "))?,
        }
        match (self.action, &self.columns[..]) {
            (Action::Recompute, []) => write!(f, ": no columns ")?,
            (Action::Recompute, columns) => write!(f, ": columns {} ", columns.join(", "))?,
            (Action::Remove, _) => {}
            _ => write!(f, " ")?,
        }
        match (self.action, &self.reasons[..]) {
            (Action::Remove, _) => write!(f, "(input {} gone)", self.input),
            (_, []) => write!(f, "(nothing to do)"),
            (_, reasons) => {
                let reasons: Vec<String> = reasons.iter().map(Reason::to_string).collect();
                write!(f, "({})", reasons.join("; "))
            }
        }
    }
}

/// Why the file of fingerprint `now`, computed with `signature` into `outputs`, needs
/// computing, given its record `before` (none: a new file) and the files it wrote as
/// they are now (`written_now`, by `before.written`'s index; `None`: gone or unreadable).
/// [`Reason::Touched`] alone means it does not.
pub(super) fn reasons(
    before: Option<&FileRecord>,
    now: &Fingerprint,
    written_now: &[Option<Written>],
    signature: &Signature,
    outputs: &[Location],
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    // Volatile and unhashable nodes and values: computed every time, recorded or not.
    for (name, key) in &signature.nodes {
        match key {
            NodeKey::Volatile => reasons.push(Reason::NodeVolatile(name.clone())),
            NodeKey::Unhashable(_) => reasons.push(Reason::NodeUnhashable(name.clone())),
            NodeKey::Hash { .. } => {}
        }
    }
    for (name, digest) in &signature.bound {
        if digest.is_none() {
            reasons.push(Reason::BoundValueUnhashable(name.clone()));
        }
    }
    let Some(before) = before else {
        reasons.insert(0, Reason::NewFile);
        return reasons;
    };
    let mut changed = Vec::new();
    if !before.fingerprint.same_content(now) {
        changed.push(Reason::ContentChanged);
    } else if before.fingerprint.modified_ns != now.modified_ns {
        changed.push(Reason::Touched);
    }
    let (old, new) = (&before.signature, signature);
    for (name, key) in &new.nodes {
        match old.nodes.get(name) {
            None => changed.push(Reason::NodeAdded(name.clone())),
            Some(NodeKey::Hash {
                key: was,
                code: was_code,
            }) => {
                if let NodeKey::Hash { key, code } = key {
                    if code != was_code {
                        changed.push(Reason::NodeCodeChanged(name.clone()));
                    } else if key != was {
                        changed.push(Reason::NodeWiringChanged(name.clone()));
                    }
                }
            }
            // Volatile or unhashable before: reported as they are now, or as changed.
            Some(_) if matches!(key, NodeKey::Hash { .. }) => changed.push(Reason::NodeCodeChanged(name.clone())),
            Some(_) => {}
        }
    }
    changed.extend(
        old.nodes
            .keys()
            .filter(|n| !new.nodes.contains_key(*n))
            .map(|n| Reason::NodeRemoved(n.clone())),
    );
    let names = old
        .bound
        .keys()
        .chain(new.bound.keys().filter(|n| !old.bound.contains_key(*n)));
    for name in names {
        let (was, is) = (old.bound.get(name), new.bound.get(name));
        if was != is && is.is_none_or(Option::is_some) {
            changed.push(Reason::BoundValueChanged(name.clone()));
        }
    }
    for (differs, reason) in [
        (old.select != new.select, Reason::SelectionChanged),
        (old.engine != new.engine, Reason::EngineChanged),
        (old.input_format != new.input_format, Reason::InputFormatChanged),
        (old.output != new.output, Reason::OutputSettingsChanged),
        (old.on_error != new.on_error, Reason::FailurePolicyChanged),
    ] {
        if differs {
            changed.push(reason);
        }
    }
    // The outputs: where they are to be, and as written.
    for (i, output) in outputs.iter().enumerate() {
        let recorded = before
            .written
            .get(i)
            .filter(|w| output.as_path().is_some_and(|p| super::record::absolute(p) == w.path));
        match recorded {
            None => changed.push(Reason::OutputMissing(output.clone())),
            Some(w) => match written_now.get(i).and_then(Option::as_ref) {
                _ if !std::path::Path::new(&w.path).exists() => changed.push(Reason::OutputMissing(output.clone())),
                Some(now) if w.same_content(now) => {}
                _ => changed.push(Reason::OutputChanged(output.clone())),
            },
        }
    }
    changed.extend(reasons);
    changed
}

/// Whether `reasons` ask for the file to be computed.
pub(super) fn computes(reasons: &[Reason]) -> bool {
    reasons.iter().any(|r| *r != Reason::Touched)
}

/// The outputs of a gone file's record that still exist.
pub(super) fn left_over(written: &[Written]) -> Vec<Location> {
    written
        .iter()
        .filter(|w| std::path::Path::new(&w.path).exists())
        .map(|w| Location::local(&w.path))
        .collect()
}
