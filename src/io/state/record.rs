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
}

/// An input file's size, modification time and content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Fingerprint {
    pub(super) size: u64,
    /// Nanoseconds since the Unix epoch (0 before it, or where the system has none).
    pub(super) modified_ns: u64,
    /// blake3 of the content, in hex.
    pub(super) blake3: String,
}

impl Fingerprint {
    /// The fingerprint of the file at `path`, read whole.
    pub(super) fn of(path: &Path) -> Result<Fingerprint> {
        let io = |source| Error::Io {
            action: "read",
            path: path.display().to_string().into(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
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
        })
    }

    /// Whether the content is the same (the time aside).
    pub(super) fn same_content(&self, other: &Fingerprint) -> bool {
        self.size == other.size && self.blake3 == other.blake3
    }
}

/// A file a run wrote: where, its size and its content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Written {
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) blake3: String,
}

impl Written {
    /// The record of the file at `path`, as it is now.
    pub(super) fn of(path: &Path) -> Result<Written> {
        let f = Fingerprint::of(path)?;
        Ok(Written {
            path: absolute(path),
            size: f.size,
            blake3: f.blake3,
        })
    }

    /// Whether the file is still there, as written.
    pub(super) fn intact(&self) -> bool {
        let path = Path::new(&self.path);
        // The size first: a file of another size needs no hashing.
        std::fs::metadata(path).is_ok_and(|m| m.len() == self.size)
            && Fingerprint::of(path).is_ok_and(|f| f.blake3 == self.blake3)
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
