//! What the state of an incremental run records: per input file its fingerprint
//! ([`Fingerprint`]), the signature of what computed its output ([`Signature`]) and the
//! files written ([`Written`]), in one JSON file per run ([`StateFile`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::super::FileRun;
use super::super::plan::FilePlan;
use crate::error::{Error, Result};

/// The version of the state file's layout; a file of another version is refused.
pub(super) const VERSION: u32 = 1;

/// The state of one run (one input and output location) in a state directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct StateFile {
    pub(super) version: u32,
    /// The run's input (a file or a directory) and output, absolute.
    pub(super) input: String,
    pub(super) output: String,
    /// Each input file's record, by its absolute path.
    pub(super) files: BTreeMap<String, FileRecord>,
}

/// What the state knows of one input file: what it was, what computed it, what it gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct FileRecord {
    pub(super) fingerprint: Fingerprint,
    pub(super) signature: Signature,
    /// The files written from it: its output, then its side file of failed rows.
    pub(super) written: Vec<Written>,
    /// The rows read from it (none in a state written before they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rows: Option<u64>,
}

/// An input file's size, modification time and content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Fingerprint {
    pub(super) size: u64,
    /// Nanoseconds since the Unix epoch (0 before it, or where the system has none).
    pub(super) modified_ns: u64,
    /// blake3 of the content, in hex.
    pub(super) blake3: String,
    /// The file's identity when it was hashed, where the system keeps one: a file whose
    /// identity is the same need not be hashed again (see [`Stat`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) stat: Option<Stat>,
}

/// What the system says of a file besides its size and modification time, and when
/// the file was hashed: with the same size, modification time, change time, inode and
/// device, the content is the one hashed, as git's index and Bazel trust it. The
/// change time is set by the system on every write, rename and `touch` (a modification
/// time set back by hand still moves it), so the times alone are never trusted.
///
/// A file modified less than [`Stat::RACY`] before it was hashed is hashed again: a
/// write within the same tick of a coarse file system clock would leave every field
/// the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stat {
    /// The change time (`ctime`), nanoseconds since the Unix epoch.
    pub(super) changed_ns: u64,
    pub(super) inode: u64,
    pub(super) device: u64,
    /// When the content was hashed (its reading started), nanoseconds since the epoch.
    pub(super) hashed_ns: u64,
}

impl Stat {
    /// How long after its last change a file's hash is trusted on its identity alone.
    const RACY: u64 = 2_000_000_000;

    /// The identity of a file from its metadata, hashed at `hashed_ns`; `None` where the
    /// system has no change time and inode.
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata, hashed_ns: u64) -> Option<Stat> {
        use std::os::unix::fs::MetadataExt;
        let changed_ns = u64::try_from(meta.ctime()).ok()? * 1_000_000_000 + meta.ctime_nsec() as u64;
        Some(Stat {
            changed_ns,
            inode: meta.ino(),
            device: meta.dev(),
            hashed_ns,
        })
    }

    #[cfg(not(unix))]
    fn of(_meta: &std::fs::Metadata, _hashed_ns: u64) -> Option<Stat> {
        None
    }

    /// Whether a file now of identity `now` is the one hashed under `self`, with no
    /// change since it was hashed.
    fn same_file(&self, now: &Stat, modified_ns: u64) -> bool {
        (self.changed_ns, self.inode, self.device) == (now.changed_ns, now.inode, now.device)
            && self.changed_ns.max(modified_ns) + Stat::RACY < self.hashed_ns
    }
}

/// Nanoseconds since the Unix epoch of `time` (0 before it).
fn epoch_ns(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Fingerprint {
    /// The fingerprint of the file at `path`. Its content is read and hashed, unless
    /// `known` (its fingerprint recorded before) has the same size, modification time
    /// and identity ([`Stat`]): then its hash is taken from `known`.
    pub(super) fn of(path: &Path, known: Option<&Fingerprint>) -> Result<Fingerprint> {
        let io = |source| Error::Io {
            action: "read",
            path: path.display().to_string().into(),
            source,
        };
        let hashed_ns = epoch_ns(std::time::SystemTime::now());
        let meta = std::fs::metadata(path).map_err(io)?;
        let modified_ns = meta.modified().map_or(0, epoch_ns);
        let stat = Stat::of(&meta, hashed_ns);
        if let (Some(known), Some(now)) = (known, &stat)
            && known.size == meta.len()
            && known.modified_ns == modified_ns
            && known.stat.as_ref().is_some_and(|was| was.same_file(now, modified_ns))
        {
            return Ok(known.clone());
        }
        let mut file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let modified_ns = meta.modified().map_or(0, epoch_ns);
        let stat = Stat::of(&meta, hashed_ns);
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Fingerprint {
            size: meta.len(),
            modified_ns,
            blake3: hasher.finalize().to_hex().to_string(),
            stat,
        })
    }

    /// Whether the content is the same (the time aside).
    pub(super) fn same_content(&self, other: &Fingerprint) -> bool {
        self.size == other.size && self.blake3 == other.blake3
    }
}

/// A file a run wrote: where, its size and its content hash (and, to check it again
/// without reading it, its modification time and identity: see [`Stat`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Written {
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) blake3: String,
    #[serde(default)]
    pub(super) modified_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) stat: Option<Stat>,
}

impl Written {
    /// The record of the file at `path`, as it is now.
    pub(super) fn of(path: &Path) -> Result<Written> {
        Ok(Written::from(path, Fingerprint::of(path, None)?))
    }

    fn from(path: &Path, f: Fingerprint) -> Written {
        Written {
            path: absolute(path),
            size: f.size,
            blake3: f.blake3,
            modified_ns: f.modified_ns,
            stat: f.stat,
        }
    }

    /// The record of this file as it is now (hashed again only when its identity
    /// changed), or `None` when it cannot be read (it is gone).
    pub(super) fn now(&self) -> Option<Written> {
        let path = Path::new(&self.path);
        let known = Fingerprint {
            size: self.size,
            modified_ns: self.modified_ns,
            blake3: self.blake3.clone(),
            stat: self.stat.clone(),
        };
        Fingerprint::of(path, Some(&known)).ok().map(|f| Written::from(path, f))
    }

    /// Whether `now` (this file as it is now: [`Written::now`]) has the content written.
    pub(super) fn same_content(&self, now: &Written) -> bool {
        (self.size, &self.blake3) == (now.size, &now.blake3)
    }
}

/// `path` made absolute (not resolving links), as the state records paths: a run from
/// another directory finds the same files.
pub(super) fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// What a node contributes to a signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum NodeKey {
    /// The node's cache key (code hash, ports, nested structure and bound values), hex,
    /// and its code hash.
    Hash {
        /// The cache key.
        key: String,
        /// The code hash.
        code: String,
    },
    /// A volatile node: its results are never the same twice, so a file is always
    /// computed.
    Volatile,
    /// A node that cannot be keyed (a value bound inside it cannot be hashed): why.
    Unhashable(String),
}

/// Everything that decides the bytes of an input file's output, other than the file:
/// the nodes computed, the bound values, the columns selected, the engine, the formats
/// and the output's compression, the failure policy.
///
/// How the rows are cut into batches and row groups (memory limit, batch rows,
/// partitions) is not in it: those give the same rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Signature {
    /// Each node computed, by name (the pipeline pruned to the columns selected).
    pub(super) nodes: BTreeMap<String, NodeKey>,
    /// Each value bound at the top level and read, by name: blake3 of its stable hash
    /// in hex, or `None` when it cannot be hashed.
    pub(super) bound: BTreeMap<String, Option<String>>,
    pub(super) select: Vec<String>,
    pub(super) engine: String,
    pub(super) input_format: String,
    /// The output's format, and Parquet's compression.
    pub(super) output: String,
    /// The failure policy: `fail`, or `collect` (with a side file).
    pub(super) on_error: String,
}

impl Signature {
    /// The signature of computing `plan` in `run`.
    pub(super) fn of(run: &FileRun, plan: &FilePlan) -> Signature {
        let compute = &plan.compute;
        let nodes = compute
            .pipeline
            .nodes()
            .iter()
            .map(|node| {
                let key = match crate::cache::node_key(node, &vec![true; node.outputs().len()]) {
                    Ok(Some(digest)) => NodeKey::Hash {
                        key: blake3::Hash::from_bytes(digest).to_hex().to_string(),
                        code: node.code_hash().to_string(),
                    },
                    Ok(None) => NodeKey::Volatile,
                    Err(why) => NodeKey::Unhashable(why),
                };
                (node.name().to_string(), key)
            })
            .collect();
        let bound = compute
            .pipeline
            .bound_inputs()
            .iter()
            .map(|(name, value)| {
                let digest = crate::hash::digest(value).map(|d| blake3::Hash::from_bytes(d).to_hex().to_string());
                (name.to_string(), digest)
            })
            .collect();
        let output = match plan.out_format {
            super::super::Format::Parquet => format!(
                "parquet {:?}",
                run.compression.unwrap_or(parquet::basic::Compression::SNAPPY)
            ),
            other => other.to_string(),
        };
        let engine = match compute.engine {
            super::super::EngineChoice::Columnar => "columnar",
            super::super::EngineChoice::Node => "node",
        };
        Signature {
            nodes,
            bound,
            select: compute.select.clone(),
            engine: engine.into(),
            input_format: plan.format.to_string(),
            output,
            on_error: match plan.failed {
                Some(_) => "collect".into(),
                None => "fail".into(),
            },
        }
    }
}
