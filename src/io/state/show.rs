//! A state directory as `hypernodes state show` and `state clear` see it ([`State`]).

use std::fmt;
use std::path::{Path, PathBuf};

use super::{StateFile, read_state};
use crate::error::{Error, Result};

/// A state directory of incremental runs (see
/// [`FileRun::with_state`](crate::io::FileRun::with_state)): what it holds, and
/// clearing it.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::io::{FileRun, State};
///
/// #[node(output = "word_count")]
/// fn count_words(passage: &str) -> i64 { passage.split_whitespace().count() as i64 }
///
/// let dir = std::env::temp_dir().join(format!("hn-doc-state-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 100, 7)?;
/// FileRun::new(Pipeline::new([count_words::node()]), dir.join("docs.parquet"), dir.join("out.parquet"))
///     .with_state(dir.join("state"))
///     .run()?;
///
/// let state = State::open(dir.join("state"))?;
/// let runs = state.runs()?;
/// assert_eq!((runs.len(), runs[0].files.len()), (1, 1));
/// assert_eq!(state.clear()?, 1);
/// assert!(state.runs()?.is_empty());
/// assert_eq!(
///     State::open(dir.join("nowhere")).unwrap_err().to_string(),
///     format!("{}: no such state directory", dir.join("nowhere").display())
/// );
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct State {
    dir: PathBuf,
}

/// What a state directory holds of one run (one input and output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunState {
    /// The run's input (absolute).
    pub input: String,
    /// The run's output.
    pub output: String,
    /// The state file.
    pub path: PathBuf,
    /// Each input file recorded, in name order.
    pub files: Vec<FileState>,
}

/// What a state holds of one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// The input file (absolute).
    pub input: String,
    /// Its size in bytes and the blake3 hash of its content (hex), when it was computed
    /// or last seen.
    pub size: u64,
    /// The content hash.
    pub blake3: String,
    /// The rows read from it (`None` in a state written before rows were recorded).
    pub rows: Option<u64>,
    /// The files written from it, with their sizes.
    pub outputs: Vec<(String, u64)>,
    /// The nodes that computed them.
    pub nodes: Vec<String>,
}

impl State {
    /// The state directory `dir`.
    ///
    /// # Errors
    ///
    /// [`Error::Data`] when `dir` is not a directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<State> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(Error::Data {
                path: dir.display().to_string().into(),
                message: "no such state directory".into(),
            });
        }
        Ok(State { dir })
    }

    /// The state files in the directory, in name order.
    fn files(&self) -> Result<Vec<PathBuf>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| Error::Io {
            action: "read",
            path: self.dir.display().to_string().into(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        Ok(files)
    }

    /// The runs the directory holds the state of.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be read, [`Error::Data`] for a state file
    /// that does not parse.
    pub fn runs(&self) -> Result<Vec<RunState>> {
        self.files()?
            .into_iter()
            .map(|path| {
                let StateFile {
                    input, output, files, ..
                } = read_state(&path)?;
                let files = files
                    .into_iter()
                    .map(|(input, r)| FileState {
                        input,
                        size: r.fingerprint.size,
                        blake3: r.fingerprint.blake3,
                        rows: r.rows,
                        outputs: r.written.into_iter().map(|w| (w.path, w.size)).collect(),
                        nodes: r.signature.nodes.into_keys().collect(),
                    })
                    .collect();
                Ok(RunState {
                    input,
                    output,
                    path,
                    files,
                })
            })
            .collect()
    }

    /// Removes the state of every run (the outputs stay), and the journals of files
    /// whose runs were interrupted: the next run of each computes every file. Returns
    /// how many runs' states were removed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed.
    pub fn clear(&self) -> Result<usize> {
        let files = self.files()?;
        for path in &files {
            std::fs::remove_file(path).map_err(|source| Error::Io {
                action: "remove",
                path: path.display().to_string().into(),
                source,
            })?;
            let _ = std::fs::remove_file(path.with_extension("lock"));
        }
        super::journal::remove_in(&self.dir, "")?;
        Ok(files.len())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl fmt::Display for RunState {
    /// `IN -> OUT (N files)`, then a line per input file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {} ({} files)", self.input, self.output, self.files.len())?;
        for file in &self.files {
            let outputs: Vec<String> = file.outputs.iter().map(|(p, s)| format!("{p} ({s} bytes)")).collect();
            let rows = file.rows.map(|r| format!("{r} rows, ")).unwrap_or_default();
            write!(
                f,
                "\n  {} ({} bytes, {rows}blake3 {}) -> {}; nodes: {}",
                file.input,
                file.size,
                &file.blake3[..file.blake3.len().min(16)],
                outputs.join(", "),
                file.nodes.join(", ")
            )?;
        }
        Ok(())
    }
}
