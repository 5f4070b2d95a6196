//! [`DiskStore`]: the handle on a cache directory's store, shared in the process;
//! reading blocks, and putting them (committed by the store's writer thread).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

use super::env::{Environment, cache_error};
use super::frame::{block_key, unframe};
use super::stats;
use super::writer::{Payload, Writer};
use crate::cache::{ClearStats, StoreStats};

/// The stores open in this process, by canonical path. LMDB forbids opening one
/// environment twice in a process, so every [`DiskStore::open`] of a path shares one.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = LazyLock::new(Default::default);

/// The on-disk store of the result cache: an LMDB environment in a directory, shared by
/// every handle in this process and usable by other processes at the same time.
///
/// A cheap clone (an `Arc` inside); `put`, `flush` and `get` may be called from any
/// number of threads at once. See the [module documentation](super) for the data model.
#[derive(Clone)]
pub struct DiskStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) db: Arc<Environment>,
    writer: Writer,
}

impl DiskStore {
    /// Opens the store in `dir`, creating the directory and an empty store if needed.
    ///
    /// Every handle opened on one directory in a process shares one LMDB environment
    /// (LMDB forbids opening it twice), found by the directory's canonical path. Opening
    /// clears the reader slots left by processes that died while reading.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] naming the directory when `dir` is not a directory, cannot be
    /// created, or holds a `data.mdb` that is not a hypernodes cache (not an LMDB file,
    /// an LMDB file of another program, or a corrupt one).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::cache::disk::DiskStore;
    ///
    /// let file = std::env::temp_dir().join(format!("hn-disk-open-doc-{}", std::process::id()));
    /// std::fs::write(&file, "not a cache")?;
    /// let err = DiskStore::open(&file).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     format!("Cache directory '{}': not a directory", file.display())
    /// );
    /// # std::fs::remove_file(&file)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<DiskStore> {
        let dir = dir.as_ref();
        if dir.exists() && !dir.is_dir() {
            return Err(cache_error(dir, "not a directory"));
        }
        std::fs::create_dir_all(dir).map_err(|e| cache_error(dir, format!("cannot create the directory: {e}")))?;
        let path = std::fs::canonicalize(dir).map_err(|e| cache_error(dir, format!("cannot resolve the path: {e}")))?;

        let mut open = lock(&OPEN);
        if let Some(inner) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(DiskStore { inner });
        }
        let inner = Arc::new(Inner {
            db: Arc::new(Environment::open(path.clone())?),
            writer: Writer::default(),
        });
        open.retain(|_, store| store.strong_count() > 0);
        open.insert(path, Arc::downgrade(&inner));
        Ok(DiskStore { inner })
    }

    /// The cache directory (canonical).
    pub fn path(&self) -> &Path {
        &self.inner.db.path
    }

    /// Reads one block and calls `f` with its payload, inside the read transaction (the
    /// payload is not copied). Only committed blocks are seen: a [`put`](Self::put) is
    /// readable once the writer thread commits it, at the latest when a
    /// [`flush`](Self::flush) after it returns.
    ///
    /// Returns `Ok(Some(f(payload)))` for a stored block, `Ok(None)` for a missing one.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when the stored entry fails the frame check (bad magic, too short,
    /// checksum mismatch) or LMDB cannot read; the caller should treat it as a miss and
    /// warn. `f` is not called then.
    pub fn get<R>(&self, node: &[u8; 32], block: &[u8; 32], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let inner = &self.inner.db;
        let rtxn = inner.env.read_txn().map_err(|e| inner.lmdb("cannot read", e))?;
        let key = block_key(node, block);
        let Some(frame) = inner
            .blocks
            .get(&rtxn, &key)
            .map_err(|e| inner.lmdb("cannot read", e))?
        else {
            return Ok(None);
        };
        match unframe(frame, true) {
            Ok((_, payload)) => Ok(Some(f(payload))),
            Err(why) => Err(inner.corrupt(node, block, why)),
        }
    }

    /// Queues a block of `items` results of node `node` (named `node_name`) under `block`
    /// for the store's writer thread, which commits it while the caller goes on: other
    /// processes and [`get`](Self::get) see it once committed, at the latest when a
    /// [`flush`](Self::flush) after it returns. A put of a key already stored replaces it.
    ///
    /// The writer thread (one per store, started by the first put) takes every block
    /// queued into one write transaction, synced to disk when committed. A put waits while
    /// more than 256 MiB are queued. An error of the writer is returned by the next call
    /// of [`flush`](Self::flush).
    pub fn put(&self, node: &[u8; 32], node_name: &str, block: &[u8; 32], items: u32, payload: Vec<u8>) {
        self.inner
            .writer
            .put(&self.inner.db, node, node_name, block, items, Payload::Bytes(payload));
    }

    /// Like [`put`](Self::put), with the payload encoded on the writer thread by `encode`
    /// (about `size` bytes); an encoding that fails leaves the block out and is the
    /// error of the next [`flush`](Self::flush).
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    pub(super) fn put_encoded(
        &self,
        node: &[u8; 32],
        node_name: &str,
        block: &[u8; 32],
        items: u32,
        size: usize,
        encode: super::writer::Encode,
    ) {
        let payload = Payload::Encode { size, encode };
        self.inner
            .writer
            .put(&self.inner.db, node, node_name, block, items, payload);
    }

    /// Waits until every block put before the call (by any thread) is committed: visible
    /// to other processes, and synced to disk. LMDB lets one writer at a time commit,
    /// across processes: a commit may wait for another's.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] naming the directory when the writer thread could not commit a
    /// transaction since the last flush (the store is full, the disk is full, an I/O
    /// error: that transaction's blocks are dropped, a cache recomputes) or could not
    /// encode a block (that block is left out).
    pub fn flush(&self) -> Result<()> {
        self.inner.writer.flush()
    }

    /// Calls `f` with the block key and payload of every block stored under `node`, in key
    /// order (a range scan). Entries that fail the frame check are skipped, and their
    /// number is returned.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when LMDB cannot read.
    pub fn for_each_block(&self, node: &[u8; 32], mut f: impl FnMut(&[u8; 32], &[u8])) -> Result<usize> {
        let inner = &self.inner.db;
        let read = |e| inner.lmdb("cannot read", e);
        let rtxn = inner.env.read_txn().map_err(read)?;
        let mut skipped = 0;
        for entry in inner.blocks.prefix_iter(&rtxn, node).map_err(read)? {
            let (key, frame) = entry.map_err(read)?;
            let Some(block) = key.get(32..).and_then(|b| <&[u8; 32]>::try_from(b).ok()) else {
                skipped += 1;
                continue;
            };
            match unframe(frame, true) {
                Ok((_, payload)) => f(block, payload),
                Err(_) => skipped += 1,
            }
        }
        Ok(skipped)
    }

    /// Counts the blocks, items and payload bytes per node name, and the size of
    /// `data.mdb`. Reads only the frame headers, not the payloads.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when LMDB cannot read or `data.mdb` cannot be inspected.
    pub fn stats(&self) -> Result<StoreStats> {
        stats::census(&self.inner.db)
    }

    /// Removes every block (`None`), or the blocks of every node key named `node_name`,
    /// in one write transaction. This handle's buffered puts are flushed first, so they
    /// are removed too. `data.mdb` keeps its size; LMDB reuses the freed pages.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when no node key is named `node_name` (the message lists the names
    /// there are and suggests the closest), or when the flush or the transaction fails.
    pub fn clear(&self, node_name: Option<&str>) -> Result<ClearStats> {
        self.flush()?;
        stats::clear(&self.inner.db, node_name)
    }
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore")
            .field("path", &self.inner.db.path)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Errors cannot be returned from here; `flush` is where a caller sees them.
        self.writer.close();
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere is harmless.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
