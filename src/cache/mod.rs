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
//! [`Cache::memory`] keeps blocks in the process (any Rust type); [`Cache::disk`] keeps
//! them in a directory, on LMDB (see [`disk`]), as Arrow IPC, for values of columnar
//! types. A node whose arguments cannot be hashed, or whose results the store cannot
//! keep, runs uncached, said once as a warning in the run's [`CacheReport`] (and on
//! standard error); a corrupt entry is a miss with a warning.

mod block;
pub mod disk;
#[cfg(feature = "columnar")]
mod encode;
mod keys;
mod memory;
mod report;
mod session;

#[cfg(feature = "columnar")]
pub(crate) use encode::to_array;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use block::StoredBlock;
pub(crate) use block::{Block, Column};
pub(crate) use keys::{item_keys, ArgDigests};
use memory::Memory;
pub use report::{CacheReport, NodeCounts};
pub(crate) use session::{Lookup, NodeCache, Session};

use crate::error::Result;

/// A digest: 32 bytes of blake3.
pub(crate) type Digest = [u8; 32];

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
    store: Arc<Store>,
}

enum Store {
    Memory(Memory),
    #[cfg(feature = "columnar")]
    Disk(disk::DiskStore),
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.store {
            Store::Memory(_) => f.write_str("Cache::memory()"),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => write!(f, "Cache::disk({:?})", d.path()),
        }
    }
}

impl Cache {
    /// A cache in this process's memory, for values of any type.
    pub fn memory() -> Cache {
        Cache {
            store: Arc::new(Store::Memory(Memory::default())),
        }
    }

    /// A cache in directory `dir` (created if missing), shared with every process that
    /// opens the same directory, for results of columnar types (those that map to Arrow).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "shout")]
    /// fn shout(text: &str) -> String { text.to_uppercase() }
    ///
    /// let dir = std::env::temp_dir().join(format!("hn-doc-cache-{}", std::process::id()));
    /// let cache = Cache::disk(&dir)?;
    /// let p = Pipeline::new([shout::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
    /// let inputs = Inputs::new().with("text", vec!["a".to_string(), "b".to_string()]);
    /// assert_eq!(p.map(&inputs, &["text"], "zip")?.cache_report().unwrap().misses(), 2);
    /// let again = p.map(&inputs, &["text"], "zip")?;
    /// assert_eq!((again.cache_report().unwrap().hits(), again.cache_report().unwrap().misses()), (2, 0));
    /// assert_eq!(again.column::<String>("shout")?, ["A", "B"]);
    /// assert_eq!(cache.stats()?.items, 2);
    /// # drop(cache); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when the directory cannot be created or
    /// holds something that is not a cache.
    #[cfg(feature = "columnar")]
    pub fn disk(dir: impl AsRef<Path>) -> Result<Cache> {
        Ok(Cache {
            store: Arc::new(Store::Disk(disk::DiskStore::open(dir)?)),
        })
    }

    /// The directory of a disk cache.
    pub fn path(&self) -> Option<&Path> {
        match &*self.store {
            Store::Memory(_) => None,
            #[cfg(feature = "columnar")]
            Store::Disk(d) => Some(d.path()),
        }
    }

    /// What the cache holds, per node.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when a disk cache cannot be read.
    pub fn stats(&self) -> Result<disk::StoreStats> {
        match &*self.store {
            Store::Memory(m) => Ok(m.stats()),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => d.stats(),
        }
    }

    /// Removes every entry, or those of the nodes named `node`.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) for a name no entry has (listing those
    /// that have entries) or a disk cache that cannot be written.
    pub fn clear(&self, node: Option<&str>) -> Result<disk::ClearStats> {
        match &*self.store {
            Store::Memory(m) => m.clear(node),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => d.clear(node),
        }
    }

    /// Makes every result stored so far visible to other processes (a run does this
    /// when it ends).
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when a disk cache cannot be written.
    pub fn flush(&self) -> Result<()> {
        match &*self.store {
            Store::Memory(_) => Ok(()),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => d.flush(),
        }
    }

    /// The block stored under `node` and `block`: `Ok(None)` when absent, `Err` (a
    /// warning's text) when it cannot be read.
    #[cfg_attr(not(feature = "columnar"), allow(unused_variables))]
    fn get(
        &self,
        node: &Digest,
        block: &Digest,
        outputs: &[crate::node::Port],
    ) -> std::result::Result<Option<Arc<Block>>, String> {
        match &*self.store {
            Store::Memory(m) => Ok(m.get(node, block)),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => match d.get(node, block, |payload| encode::decode(payload, outputs)) {
                Ok(Some(Ok(b))) => Ok(Some(Arc::new(b))),
                Ok(None) => Ok(None),
                Ok(Some(Err(e))) => Err(e),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// Stores a block; `Err` (a warning's text) when its results cannot be kept here.
    fn put(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) -> std::result::Result<(), String> {
        match &*self.store {
            Store::Memory(m) => {
                m.put(node, name, block, value);
                Ok(())
            }
            #[cfg(feature = "columnar")]
            Store::Disk(d) => {
                let payload = encode::encode(&value)?;
                d.put(node, name, block, value.items.len() as u32, payload);
                Ok(())
            }
        }
    }

    /// The item keys of every block stored under `node`, by block key; unreadable
    /// blocks are skipped (their count is returned).
    fn item_keys(&self, node: &Digest) -> std::result::Result<(Vec<StoredBlock>, usize), String> {
        match &*self.store {
            Store::Memory(m) => Ok((m.item_keys(node), 0)),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => {
                let mut out = Vec::new();
                let mut bad = 0;
                let skipped = d
                    .for_each_block(node, |key, payload| match encode::item_keys(payload) {
                        Some(items) => out.push((*key, items)),
                        None => bad += 1,
                    })
                    .map_err(|e| e.to_string())?;
                Ok((out, bad + skipped))
            }
        }
    }
}

#[cfg(all(test, feature = "columnar"))]
mod tests {
    use super::keys::{block_key, node_key};
    use super::*;
    use crate::prelude::*;

    #[node(output = "y")]
    fn plus_one(x: i64) -> i64 {
        x + 1
    }

    /// An entry that passes the store's frame check but does not decode (here: written
    /// over with other bytes) is a miss with a warning, computed and stored again.
    #[test]
    fn an_entry_that_does_not_decode_is_a_miss_with_a_warning() {
        let dir = std::env::temp_dir().join(format!("hn-cache-undecodable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = Cache::disk(&dir).unwrap();
        let p = Pipeline::new([plus_one::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
        let inputs = Inputs::new().with("x", vec![1_i64, 2]);
        p.map(&inputs, &["x"], "zip").unwrap();
        let node = plus_one::node();
        let key = node_key(&node, &[true]).unwrap().unwrap();
        let items: Vec<Digest> = [1_i64, 2]
            .iter()
            .map(|x| crate::hash::digest(&Value::new(*x)).unwrap())
            .collect();
        let Store::Disk(disk) = &*cache.store else {
            unreachable!()
        };
        let mut garbage = 2_u32.to_le_bytes().to_vec();
        garbage.extend_from_slice(items.as_flattened());
        garbage.extend_from_slice(b"\0not arrow");
        disk.put(&key, "plus_one", &block_key(&items), 2, garbage);
        disk.flush().unwrap();
        let out = p.map(&inputs, &["x"], "zip").unwrap();
        assert_eq!(out.column::<i64>("y").unwrap(), [2, 3]);
        let report = out.cache_report().unwrap();
        assert_eq!((report.hits(), report.misses()), (0, 2));
        assert_eq!(report.warnings().len(), 1);
        assert!(
            report.warnings()[0].starts_with("a cache entry of node 'plus_one' cannot be read, computed again: "),
            "{:?}",
            report.warnings()
        );
        // Stored again: found the next time.
        let again = p.map(&inputs, &["x"], "zip").unwrap();
        assert_eq!(again.cache_report().unwrap().hits(), 2);
        drop(cache);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
