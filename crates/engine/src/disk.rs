//! The on-disk store of the result cache: blocks of node results in an LMDB environment
//! that several processes can use at the same time.
//!
//! A cache entry is a *block*: the results of one node for a batch of items, as bytes
//! encoded by the cache core. A block is found by two keys: the node's key (`[u8; 32]`,
//! its code hash and configuration) and the block's key (`[u8; 32]`, the hash of the
//! block's item digests). [`DiskStore`] keeps them in one LMDB environment (`data.mdb`
//! and `lock.mdb` in the cache directory) with two databases:
//!
//! - `blocks`: node key ‖ block key (64 bytes) → a *frame*: the magic `HNB1`, the item
//!   count (`u32`, little endian), the payload's XXH3-128 checksum, then the payload. Every read checks the magic, the length and the checksum.
//! - `nodes`: node key → the node's name (UTF-8), for [`DiskStore::stats`] and
//!   [`DiskStore::clear`] by name.
//!
//! # Why LMDB
//!
//! Two processes must be able to use one cache directory at the same time, both succeed,
//! and each see the other's entries. redb, fjall and sled take an exclusive lock on their
//! files for the whole life of a process, so a second process cannot even open the cache.
//! LMDB is built for this case: any number of readers in any number of processes, and one
//! writer at a time across processes (a second writer waits for the first's commit). Its
//! copy-on-write B-tree never overwrites the last committed state, so a writer killed in
//! the middle of a commit (even by `SIGKILL`) leaves the store as of the previous commit.
//!
//! # Writing
//!
//! [`put`](DiskStore::put) queues a block for the store's writer thread, which encodes
//! it and commits it while the run goes on computing: every block queued is taken into
//! one write transaction, synced to disk at its commit, and blocks put during a commit
//! go into the next. A transaction is committed whole or not at all, so no entry is ever
//! half written, even by a process killed mid-commit. [`flush`](DiskStore::flush) waits
//! until every block put before it is committed and returns the writer's error, if any.
//! Every run flushes before it returns (also when it fails): when `run`, `map` or a file
//! run returns, what it stored is committed, visible to every process and on disk.
//! Dropping the last handle commits what is queued.
//!
//! # Examples
//!
//! ```
//! use hypernodes::cache::disk::DiskStore;
//!
//! let dir = std::env::temp_dir().join(format!("hn-disk-doc-{}", std::process::id()));
//! let store = DiskStore::open(&dir)?;
//! let (node, block) = ([1; 32], [2; 32]);
//! store.put(&node, "clean_text", &block, 2, b"two results".to_vec());
//! store.flush()?; // committed by the writer thread when this returns
//! assert_eq!(store.get(&node, &block, |payload| payload.to_vec())?, Some(b"two results".to_vec()));
//! assert_eq!(store.stats()?.items, 2);
//!
//! // A name no node has is an error that lists the names there are.
//! let err = store.clear(Some("clean_txt")).unwrap_err();
//! assert!(err.to_string().ends_with(
//!     "no cached node is named 'clean_txt'. Cached nodes: ['clean_text']. Did you mean 'clean_text'?"
//! ));
//! assert_eq!(store.clear(None)?.blocks, 1);
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), hypernodes::Error>(())
//! ```

#[cfg(feature = "columnar")]
mod encode;
mod env;
mod frame;
mod stats;
mod store;
#[cfg(test)]
mod tests;
mod writer;

pub use self::store::DiskStore;
pub use crate::cache::{ClearStats, NodeStats, StoreStats};

#[cfg(feature = "columnar")]
pub use arrow_store::DiskCache;

/// The disk store as a cache's [`Store`](crate::cache::Store): blocks encoded as Arrow
/// IPC by the columnar engine.
#[cfg(feature = "columnar")]
mod arrow_store {
    use std::fmt;
    use std::path::Path;
    use std::sync::Arc;

    use super::{DiskStore, encode};
    use crate::cache::{Block, Cache, ClearStats, Digest, Store, StoreStats, StoredBlock};
    use crate::error::Result;
    use crate::node::Port;

    struct ArrowStore(DiskStore);

    impl fmt::Debug for ArrowStore {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "Cache::disk({:?})", self.0.path())
        }
    }

    impl Store for ArrowStore {
        fn path(&self) -> Option<&Path> {
            Some(self.0.path())
        }

        fn stats(&self) -> Result<StoreStats> {
            self.0.stats()
        }

        fn clear(&self, node: Option<&str>) -> Result<ClearStats> {
            self.0.clear(node)
        }

        fn flush(&self) -> Result<()> {
            self.0.flush()
        }

        fn get(
            &self,
            node: &Digest,
            block: &Digest,
            outputs: &[Port],
        ) -> std::result::Result<Option<Arc<Block>>, String> {
            match self.0.get(node, block, |payload| encode::decode(payload, outputs)) {
                Ok(Some(Ok(b))) => Ok(Some(Arc::new(b))),
                Ok(None) => Ok(None),
                Ok(Some(Err(e))) => Err(e),
                Err(e) => Err(e.to_string()),
            }
        }

        /// Checked here, converted to Arrow and encoded on the store's writer thread,
        /// while the run goes on.
        fn put(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) -> std::result::Result<(), String> {
            encode::check(&value)?;
            let (items, size) = (value.items.len() as u32, encode::encoded_size(&value));
            let encode = Box::new(move |out: &mut Vec<u8>| encode::encode_into(&value, encode::arrays(&value)?, out));
            self.0.put_encoded(node, name, block, items, size, encode);
            Ok(())
        }

        fn item_keys(&self, node: &Digest) -> std::result::Result<(Vec<StoredBlock>, usize), String> {
            let mut out = Vec::new();
            let mut bad = 0;
            let skipped = self
                .0
                .for_each_block(node, |key, payload| match encode::item_keys(payload) {
                    Some(items) => out.push((*key, items)),
                    None => bad += 1,
                })
                .map_err(|e| e.to_string())?;
            Ok((out, bad + skipped))
        }
    }

    /// A cache in a directory: `Cache::disk(dir)`, with this trait in scope (it is in
    /// the prelude).
    pub trait DiskCache {
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
        fn disk(dir: impl AsRef<Path>) -> Result<Cache>;
    }

    impl DiskCache for Cache {
        fn disk(dir: impl AsRef<Path>) -> Result<Cache> {
            Ok(Cache::with_store(Arc::new(ArrowStore(DiskStore::open(dir)?))))
        }
    }
}
