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
//! [`put`](DiskStore::put) only buffers; [`flush`](DiskStore::flush) commits everything
//! buffered in one write transaction (synced to disk), after which other processes, and
//! [`get`](DiskStore::get) in this one, see it. A put flushes by itself when more than
//! 64 MiB are buffered, and the buffer is flushed when the last handle is dropped.
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
//! assert_eq!(store.get(&node, &block, |payload| payload.len())?, None); // not flushed yet
//! store.flush()?;
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

mod env;
mod frame;
mod stats;
mod store;
#[cfg(test)]
mod tests;

pub use self::stats::{ClearStats, NodeStats, StoreStats};
pub use self::store::DiskStore;
