//! The result cache: every node's results per item, found again by content.
//!
//! # Signatures
//!
//! An item's signature is two blake3 digests:
//! - the **node key**: the node's name, code hash (its tokens, `version` and options; for
//!   a nested pipeline its structure, mappings, `map_over` and map mode), its ports and
//!   their types, and, for a nested pipeline, the digests of the values bound inside it
//!   (at every depth);
//! - the **item key**: the type-tagged stable digest ([`crate::hash::digest`]) of each
//!   argument the node receives for the item (one argument: its digest itself; several:
//!   blake3 over their digests in parameter order).
//!
//! Nothing in either depends on the process (no addresses, no hash seeds), so a second
//! process, or the other engine, finds what the first stored. `1_i64`, `1.0_f64` and
//! `"1"` have different digests; a `None` result is cached like any other value.
//!
//! # Blocks
//!
//! Results are stored a **block** at a time: the items one node computed in one batch
//! (a map's items in the node engine, an Arrow batch in the columnar engine), under the
//! node key and a block key (blake3 over the block's item keys). A run first looks up
//! the block it is about to compute, in one call: a rerun on the same data finds every
//! result at once, with no per-item lookup. When the block is not there, the node's
//! stored blocks are indexed by item key (once per run and node) and each item is
//! looked up on its own: a map over `[1, 2, 3, 4]` after one over `[1, 2, 3]` computes
//! only item 4. The computed block, hits and new results together, is then stored.
//!
//! # Stores
//!
//! [`Cache::memory`] keeps blocks in the process (any Rust type); a [`Store`] keeps them
//! elsewhere, such as the engine layer's disk store (`Cache::disk`, on LMDB, as Arrow
//! IPC, for values of columnar types). A node whose arguments cannot be hashed, or whose results the store cannot
//! keep, runs uncached, said once as a warning in the run's [`CacheReport`] (and on
//! standard error); a corrupt entry is a miss with a warning.

mod block;
mod keys;
mod memory;
mod report;
mod session;
mod stats;
mod store;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use block::{Block, Column, NativeColumn, StoredBlock};
#[doc(hidden)]
pub use keys::{ArgDigests, item_keys};
#[doc(hidden)]
pub use keys::{block_key, node_key};
use memory::Memory;
pub use report::{CacheReport, NodeCounts};
#[doc(hidden)]
pub use session::{Lookup, NodeCache, Session};
pub use stats::{ClearStats, NodeStats, StoreStats};
pub use store::Store;

use crate::error::Result;

/// A digest: 32 bytes of blake3.
pub type Digest = [u8; 32];

/// A result cache: where runs configured with it ([`RunConfig::with_cache`](crate::RunConfig::with_cache))
/// keep every node's results per item and find them again.
///
/// Cloning is cheap: clones share the store.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 {
///     CALLS.fetch_add(1, Ordering::SeqCst);
///     2 * x
/// }
///
/// let cache = Cache::memory();
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
/// p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4]), &["x"], "zip")?;
/// assert_eq!(out.column::<i64>("doubled")?, [2, 4, 6, 8]);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 4); // item 4 only, the second time
/// assert_eq!(out.cache_report().unwrap().node("double").unwrap().hits, 3);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct Cache {
    store: Arc<dyn Store>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.store, f)
    }
}

impl Cache {
    /// A cache in this process's memory, for values of any type.
    pub fn memory() -> Cache {
        Cache::with_store(Arc::new(Memory::default()))
    }

    /// A cache that keeps its blocks in `store`.
    pub fn with_store(store: Arc<dyn Store>) -> Cache {
        Cache { store }
    }

    /// The store behind this cache.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The directory of a disk cache.
    pub fn path(&self) -> Option<&Path> {
        self.store.path()
    }

    /// What the cache holds, per node.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when a disk cache cannot be read.
    pub fn stats(&self) -> Result<StoreStats> {
        self.store.stats()
    }

    /// Removes every entry, or those of the nodes named `node`.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) for a name no entry has (listing those
    /// that have entries) or a disk cache that cannot be written.
    pub fn clear(&self, node: Option<&str>) -> Result<ClearStats> {
        self.store.clear(node)
    }

    /// Makes every result stored so far visible to other processes (a run does this
    /// when it ends).
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when a disk cache cannot be written.
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }
}
