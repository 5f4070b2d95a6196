//! Where a [`Cache`](super::Cache) keeps its blocks: the [`Store`] trait.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::{Block, ClearStats, Digest, StoreStats, StoredBlock};
use crate::error::Result;
use crate::node::Port;

/// A store of blocks (one node's results for a batch of items), by node key and block
/// key: the process's memory ([`Cache::memory`](super::Cache::memory)) or the engine
/// layer's disk store (`Cache::disk`). Reads and writes that fail return a warning's
/// text: the run goes on uncached for them and reports the warning.
pub trait Store: Send + Sync + fmt::Debug {
    /// The directory of a store on disk. Default: `None`.
    fn path(&self) -> Option<&Path> {
        None
    }

    /// What the store holds, per node name.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when the store cannot be read.
    fn stats(&self) -> Result<StoreStats>;

    /// Removes every block, or those of the nodes named `node`.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) for a name no block has (listing those that
    /// have blocks) or a store that cannot be written.
    fn clear(&self, node: Option<&str>) -> Result<ClearStats>;

    /// Makes every block stored so far visible to other processes.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when the store cannot be written.
    fn flush(&self) -> Result<()>;

    /// The block stored under `node` and `block`, whose columns are the results of
    /// `outputs`: `Ok(None)` when absent, `Err` (a warning's text) when it cannot be read.
    fn get(&self, node: &Digest, block: &Digest, outputs: &[Port]) -> std::result::Result<Option<Arc<Block>>, String>;

    /// Stores a block of the node named `name`; `Err` (a warning's text) when its
    /// results cannot be kept here.
    fn put(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) -> std::result::Result<(), String>;

    /// The item keys of every block stored under `node`, by block key, and the number
    /// of unreadable blocks skipped.
    fn item_keys(&self, node: &Digest) -> std::result::Result<(Vec<StoredBlock>, usize), String>;
}
