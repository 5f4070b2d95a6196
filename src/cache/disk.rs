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

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::io::Write as _;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, MdbError, WithoutTls};

use crate::error::{closest, Error, Result};

/// The first bytes of every frame.
const MAGIC: &[u8; 4] = b"HNB1";

/// Magic, item count, checksum.
const HEADER: usize = 4 + 4 + 16;

/// The size of the memory map, the same in every process: LMDB reserves address space,
/// not disk (`data.mdb` grows with what is written), and a process whose map is smaller
/// than the file another process grew would have to stop and remap.
const MAP_SIZE: usize = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };

/// Buffered puts past this many bytes are flushed by the put that crosses it.
const FLUSH_BYTES: usize = 64 << 20;

/// Slots in LMDB's reader table, shared by every process using the directory; a read
/// transaction holds one while it is open (rayon threads reading at once each hold one).
const MAX_READERS: u32 = 1024;

/// How long [`DiskStore::open`] waits for the environment of a store that is being
/// dropped in this process (it is flushed, then closed) before opening it again.
const REOPEN_WAIT: Duration = Duration::from_secs(30);

type Table = Database<'static, Bytes, Bytes>;

/// The stores open in this process, by canonical path. LMDB forbids opening one
/// environment twice in a process, so every [`DiskStore::open`] of a path shares one.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = LazyLock::new(Default::default);

/// The on-disk store of the result cache: an LMDB environment in a directory, shared by
/// every handle in this process and usable by other processes at the same time.
///
/// A cheap clone (an `Arc` inside); `put`, `flush` and `get` may be called from any
/// number of threads at once. See the [module documentation](self) for the data model.
#[derive(Clone)]
pub struct DiskStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    env: Env<WithoutTls>,
    blocks: Table,
    nodes: Table,
    pending: Mutex<Pending>,
    /// Held for a whole flush, so that a flush returns only after every put made before
    /// it is committed, including puts another thread's flush took first.
    flushing: Mutex<()>,
}

#[derive(Default)]
struct Pending {
    blocks: Vec<PendingBlock>,
    names: HashMap<[u8; 32], Box<str>>,
    bytes: usize,
    /// The error of a flush started by `put`, returned by the next `flush`.
    error: Option<Error>,
}

struct PendingBlock {
    key: [u8; 64],
    items: u32,
    checksum: [u8; 16],
    payload: Vec<u8>,
}

/// What [`DiskStore::stats`] counts for one node name (every node key with that name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// The node's name.
    pub name: String,
    /// The node keys (code and configuration versions) with this name.
    pub keys: u64,
    /// Blocks stored.
    pub blocks: u64,
    /// Items in those blocks (the sum of their item counts).
    pub items: u64,
    /// Payload bytes of those blocks (without the 24-byte frame headers).
    pub bytes: u64,
}

/// What a cache directory holds; [`Display`](fmt::Display) prints it as a table.
///
/// # Examples
///
/// ```
/// use hypernodes::cache::disk::{NodeStats, StoreStats};
///
/// let stats = StoreStats {
///     nodes: vec![NodeStats { name: "clean_text".into(), keys: 1, blocks: 2, items: 16384, bytes: 200000 }],
///     blocks: 2,
///     items: 16384,
///     bytes: 200000,
///     corrupt: 0,
///     file_bytes: 233472,
/// };
/// assert_eq!(
///     stats.to_string(),
///     "node        blocks  items   bytes\n\
///      clean_text       2  16384  200000\n\
///      total            2  16384  200000\n\
///      data.mdb: 233472 bytes\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Per node name, sorted by name.
    pub nodes: Vec<NodeStats>,
    /// Blocks stored in all.
    pub blocks: u64,
    /// Items in all blocks.
    pub items: u64,
    /// Payload bytes of all blocks.
    pub bytes: u64,
    /// Entries whose frame header is malformed (not counted above). Payload checksums are
    /// not checked here, only on reading a block.
    pub corrupt: u64,
    /// The size of `data.mdb`. LMDB reuses freed pages but never shrinks the file.
    pub file_bytes: u64,
}

/// What [`DiskStore::clear`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClearStats {
    /// Node keys removed.
    pub keys: u64,
    /// Blocks removed (malformed entries included).
    pub blocks: u64,
    /// Items in the well-formed blocks removed.
    pub items: u64,
    /// Payload bytes of the well-formed blocks removed.
    pub bytes: u64,
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
        let inner = Arc::new(Inner::open(path.clone())?);
        open.retain(|_, store| store.strong_count() > 0);
        open.insert(path, Arc::downgrade(&inner));
        Ok(DiskStore { inner })
    }

    /// The cache directory (canonical).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Reads one block and calls `f` with its payload, inside the read transaction (the
    /// payload is not copied). Only committed blocks are seen: a [`put`](Self::put) is
    /// readable after its [`flush`](Self::flush).
    ///
    /// Returns `Ok(Some(f(payload)))` for a stored block, `Ok(None)` for a missing one.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when the stored entry fails the frame check (bad magic, too short,
    /// checksum mismatch) or LMDB cannot read; the caller should treat it as a miss and
    /// warn. `f` is not called then.
    pub fn get<R>(&self, node: &[u8; 32], block: &[u8; 32], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let inner = &*self.inner;
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

    /// Buffers a block of `items` results of node `node` (named `node_name`) under
    /// `block`; nothing is visible to this process's [`get`](Self::get) nor to other
    /// processes until [`flush`](Self::flush). A put of a key already stored replaces it.
    ///
    /// When more than 64 MiB are buffered, this put flushes; an error of that flush is
    /// returned by the next call of [`flush`](Self::flush).
    pub fn put(&self, node: &[u8; 32], node_name: &str, block: &[u8; 32], items: u32, payload: Vec<u8>) {
        let checksum = checksum(&payload);
        let full = {
            let mut pending = lock(&self.inner.pending);
            pending.bytes += HEADER + payload.len();
            if pending.names.get(node).is_none_or(|name| **name != *node_name) {
                pending.names.insert(*node, node_name.into());
            }
            pending.blocks.push(PendingBlock {
                key: block_key(node, block),
                items,
                checksum,
                payload,
            });
            pending.bytes > FLUSH_BYTES
        };
        if full {
            if let Err(e) = self.inner.flush() {
                lock(&self.inner.pending).error.get_or_insert(e);
            }
        }
    }

    /// Commits every buffered put in one write transaction, synced to disk. LMDB lets one
    /// writer at a time commit, across processes: a flush may wait for another's.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when the transaction cannot be committed (the store is full, the
    /// disk is full, an I/O error), or the error of an earlier automatic flush started by
    /// [`put`](Self::put). The puts of a failed flush are dropped (a cache recomputes).
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// Calls `f` with the block key and payload of every block stored under `node`, in key
    /// order (a range scan). Entries that fail the frame check are skipped, and their
    /// number is returned.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when LMDB cannot read.
    pub fn for_each_block(&self, node: &[u8; 32], mut f: impl FnMut(&[u8; 32], &[u8])) -> Result<usize> {
        let inner = &*self.inner;
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
        let inner = &*self.inner;
        let read = |e| inner.lmdb("cannot read", e);
        let rtxn = inner.env.read_txn().map_err(read)?;
        let mut names: HashMap<[u8; 32], String> = HashMap::new();
        for entry in inner.nodes.iter(&rtxn).map_err(read)? {
            let (key, name) = entry.map_err(read)?;
            if let Ok(key) = <[u8; 32]>::try_from(key) {
                names.insert(key, String::from_utf8_lossy(name).into_owned());
            }
        }
        let mut by_name: BTreeMap<String, NodeStats> = BTreeMap::new();
        for name in names.values() {
            let node = by_name.entry(name.clone()).or_insert_with(|| NodeStats {
                name: name.clone(),
                ..NodeStats::default()
            });
            node.keys += 1;
        }
        let mut stats = StoreStats::default();
        for entry in inner.blocks.iter(&rtxn).map_err(read)? {
            let (key, frame) = entry.map_err(read)?;
            let (Some(node), Ok((items, payload))) = (key.get(..32), unframe(frame, false)) else {
                stats.corrupt += 1;
                continue;
            };
            let name = match <[u8; 32]>::try_from(node).ok().and_then(|n| names.get(&n)) {
                Some(name) => name.clone(),
                None => format!("<unnamed {}>", hex8(node)),
            };
            let node = by_name.entry(name.clone()).or_insert_with(|| NodeStats {
                name,
                ..NodeStats::default()
            });
            node.blocks += 1;
            node.items += u64::from(items);
            node.bytes += payload.len() as u64;
        }
        drop(rtxn);
        stats.nodes = by_name.into_values().collect();
        stats.blocks = stats.nodes.iter().map(|n| n.blocks).sum();
        stats.items = stats.nodes.iter().map(|n| n.items).sum();
        stats.bytes = stats.nodes.iter().map(|n| n.bytes).sum();
        let data = inner.path.join("data.mdb");
        stats.file_bytes = std::fs::metadata(&data)
            .map_err(|e| cache_error(&inner.path, format!("cannot inspect data.mdb: {e}")))?
            .len();
        Ok(stats)
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
        let inner = &*self.inner;
        let write = |e| inner.lmdb("cannot clear", e);
        let mut wtxn = inner.env.write_txn().map_err(write)?;
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut known: Vec<String> = Vec::new();
        for entry in inner.nodes.iter(&wtxn).map_err(write)? {
            let (key, name) = entry.map_err(write)?;
            let name = String::from_utf8_lossy(name);
            if node_name.is_none_or(|wanted| wanted == name) {
                keys.push(key.to_vec());
            }
            known.push(name.into_owned());
        }
        let mut cleared = ClearStats::default();
        match node_name {
            None => {
                let blocks_only = inner.blocks.iter(&wtxn).and_then(count).map_err(write)?;
                cleared = ClearStats {
                    keys: keys.len() as u64,
                    ..blocks_only
                };
                inner.blocks.clear(&mut wtxn).map_err(write)?;
                inner.nodes.clear(&mut wtxn).map_err(write)?;
            }
            Some(name) if keys.is_empty() => {
                known.sort();
                known.dedup();
                let quoted: Vec<String> = known.iter().map(|n| format!("'{n}'")).collect();
                let suggestion = match closest(name, known.iter().map(String::as_str)) {
                    Some(s) => format!(". Did you mean '{s}'?"),
                    None => String::new(),
                };
                return Err(cache_error(
                    &inner.path,
                    format!(
                        "no cached node is named '{name}'. Cached nodes: [{}]{suggestion}",
                        quoted.join(", ")
                    ),
                ));
            }
            Some(_) => {
                for key in &keys {
                    let found = inner.blocks.prefix_iter(&wtxn, key).and_then(count).map_err(write)?;
                    let (mut low, mut high) = (key.clone(), key.clone());
                    low.extend_from_slice(&[0; 32]);
                    high.extend_from_slice(&[0xff; 32]);
                    let range = (Bound::Included(low.as_slice()), Bound::Included(high.as_slice()));
                    inner.blocks.delete_range(&mut wtxn, &range).map_err(write)?;
                    inner.nodes.delete(&mut wtxn, key).map_err(write)?;
                    cleared.keys += 1;
                    cleared.blocks += found.blocks;
                    cleared.items += found.items;
                    cleared.bytes += found.bytes;
                }
            }
        }
        wtxn.commit().map_err(write)?;
        Ok(cleared)
    }
}

impl fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn open(path: PathBuf) -> Result<Inner> {
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(MAP_SIZE).max_dbs(2).max_readers(MAX_READERS);
        let started = Instant::now();
        // LMDB makes `lock.mdb` before it reads `data.mdb`: a store refused leaves none.
        let lock_file = path.join("lock.mdb");
        let had_lock = lock_file.exists();
        let env = loop {
            // SAFETY: what `EnvOpenOptions::open` asks of its caller:
            // - The environment is opened at most once in this process: `DiskStore::open`
            //   holds the `OPEN` registry's lock and reuses an open one (heed checks too,
            //   returning `EnvAlreadyOpened`, handled below).
            // - No unsafe flag is set (no `NO_LOCK`, `NO_SYNC`, `WRITE_MAP`): LMDB's lock
            //   file coordinates readers and the one writer across processes.
            // - The files are changed only through LMDB. A `data.mdb` changed by anything
            //   else is outside this contract, as for any memory-mapped file; the frame
            //   checksum catches changed payloads, and LMDB checks its own page headers.
            #[allow(unsafe_code)]
            let opened = unsafe { options.open(&path) };
            match opened {
                Ok(env) => break env,
                // The last handle of a store in this process is being dropped: it flushes,
                // then closes; wait for it rather than fail.
                Err(heed::Error::EnvAlreadyOpened) if started.elapsed() < REOPEN_WAIT => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => {
                    if !had_lock {
                        let _ = std::fs::remove_file(&lock_file);
                    }
                    return Err(lmdb_error(&path, "cannot open the store", e));
                }
            }
        };
        env.clear_stale_readers()
            .map_err(|e| lmdb_error(&path, "cannot clear stale readers", e))?;
        let wtxn = env
            .write_txn()
            .map_err(|e| lmdb_error(&path, "cannot open the store", e))?;
        let created = env.create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
            let blocks = opener.create_database::<Bytes, Bytes>(wtxn, Some("blocks"))?;
            let nodes = opener.create_database::<Bytes, Bytes>(wtxn, Some("nodes"))?;
            Ok(CommitOrAbort::<_, Infallible>::Commit((blocks, nodes)))
        });
        let (blocks, nodes) = match created.map_err(|e| lmdb_error(&path, "cannot open the store", e))? {
            CommitOrAbort::Commit(tables) => tables,
            CommitOrAbort::Abort(never) => match never {},
        };
        Ok(Inner {
            path,
            env,
            blocks,
            nodes,
            pending: Mutex::default(),
            flushing: Mutex::new(()),
        })
    }

    fn flush(&self) -> Result<()> {
        let _one_at_a_time = lock(&self.flushing);
        let (mut blocks, names, earlier) = {
            let mut pending = lock(&self.pending);
            pending.bytes = 0;
            (
                std::mem::take(&mut pending.blocks),
                std::mem::take(&mut pending.names),
                pending.error.take(),
            )
        };
        let committed = if blocks.is_empty() && names.is_empty() {
            Ok(())
        } else {
            // In key order LMDB appends to the same leaf pages instead of jumping around.
            blocks.sort_by_key(|b| b.key);
            self.commit(&blocks, &names)
        };
        match earlier {
            Some(e) => Err(e),
            None => committed,
        }
    }

    fn commit(&self, blocks: &[PendingBlock], names: &HashMap<[u8; 32], Box<str>>) -> Result<()> {
        let write = |e| self.lmdb("cannot write", e);
        let mut wtxn = self.env.write_txn().map_err(write)?;
        for (node, name) in names {
            self.nodes.put(&mut wtxn, node, name.as_bytes()).map_err(write)?;
        }
        for block in blocks {
            let len = HEADER + block.payload.len();
            self.blocks
                .put_reserved(&mut wtxn, &block.key, len, |space| {
                    space.write_all(MAGIC)?;
                    space.write_all(&block.items.to_le_bytes())?;
                    space.write_all(&block.checksum)?;
                    space.write_all(&block.payload)
                })
                .map_err(write)?;
        }
        wtxn.commit().map_err(write)
    }

    fn lmdb(&self, doing: &str, e: heed::Error) -> Error {
        lmdb_error(&self.path, doing, e)
    }

    fn corrupt(&self, node: &[u8; 32], block: &[u8; 32], why: String) -> Error {
        cache_error(
            &self.path,
            format!("corrupt entry (node {}, block {}): {why}", hex8(node), hex8(block)),
        )
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Errors cannot be returned from here; `flush` is where a caller sees them.
        let _ = self.flush();
    }
}

/// `removed B blocks (I items, N bytes) of K node keys`.
impl fmt::Display for ClearStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed {} blocks ({} items, {} bytes) of {} node keys",
            self.blocks, self.items, self.bytes, self.keys
        )
    }
}

impl fmt::Display for StoreStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |n: &NodeStats| {
            [
                n.name.clone(),
                n.blocks.to_string(),
                n.items.to_string(),
                n.bytes.to_string(),
            ]
        };
        let total = NodeStats {
            name: "total".into(),
            keys: 0,
            blocks: self.blocks,
            items: self.items,
            bytes: self.bytes,
        };
        let mut rows = vec![["node", "blocks", "items", "bytes"].map(String::from)];
        rows.extend(self.nodes.iter().map(row));
        rows.push(row(&total));
        let mut widths = [0; 4];
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for r in &rows {
            writeln!(
                f,
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )?;
        }
        if self.corrupt > 0 {
            writeln!(f, "corrupt entries: {}", self.corrupt)?;
        }
        writeln!(f, "data.mdb: {} bytes", self.file_bytes)
    }
}

/// Counts the well-formed blocks among `entries` (a scan of the `blocks` table).
fn count<'t>(entries: impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>) -> heed::Result<ClearStats> {
    let mut found = ClearStats::default();
    for entry in entries {
        let (_, frame) = entry?;
        found.blocks += 1;
        if let Ok((items, payload)) = unframe(frame, false) {
            found.items += u64::from(items);
            found.bytes += payload.len() as u64;
        }
    }
    Ok(found)
}

/// The item count and payload of a frame, or why it is not one. The checksum is checked
/// when `verify` (reading a block), not when only counting.
fn unframe(frame: &[u8], verify: bool) -> std::result::Result<(u32, &[u8]), String> {
    if frame.len() < HEADER {
        return Err(format!(
            "{} bytes, shorter than the {HEADER}-byte frame header",
            frame.len()
        ));
    }
    let (header, payload) = frame.split_at(HEADER);
    if &header[..4] != MAGIC {
        return Err(format!(
            "bad magic {:?}, expected \"HNB1\"",
            String::from_utf8_lossy(&header[..4])
        ));
    }
    let items = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if verify && header[8..] != checksum(payload) {
        return Err("payload checksum mismatch".into());
    }
    Ok((items, payload))
}

/// XXH3-128 of the payload: it catches corruption (not tampering) at memory speed, where
/// a cryptographic hash would cost a run that finds every block a tenth of its time.
fn checksum(payload: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(payload).to_le_bytes()
}

fn block_key(node: &[u8; 32], block: &[u8; 32]) -> [u8; 64] {
    let mut key = [0; 64];
    key[..32].copy_from_slice(node);
    key[32..].copy_from_slice(block);
    key
}

/// The first 8 bytes of a key in hex, enough to tell keys apart in a message.
fn hex8(key: &[u8]) -> String {
    key.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn cache_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Cache {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn lmdb_error(path: &Path, doing: &str, e: heed::Error) -> Error {
    let message = match e {
        heed::Error::Mdb(MdbError::MapFull) => format!(
            "the store is full: LMDB's map of {} GiB is used up; clear the cache (`hypernodes cache clear`) \
             or use another directory",
            MAP_SIZE >> 30
        ),
        heed::Error::Mdb(MdbError::Invalid) => "not a hypernodes cache: data.mdb is not an LMDB file".into(),
        heed::Error::Mdb(MdbError::Incompatible) => {
            "not a hypernodes cache: data.mdb is an LMDB store of another program".into()
        }
        heed::Error::Mdb(MdbError::VersionMismatch) => {
            "data.mdb was written by an incompatible LMDB version; clear the directory".into()
        }
        heed::Error::Mdb(MdbError::Corrupted | MdbError::PageNotFound) => {
            format!("the store is corrupt ({e}); delete the directory to start an empty cache")
        }
        e => format!("{doing}: {e}"),
    };
    cache_error(path, message)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a panic elsewhere is harmless.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("hn-disk-unit-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn frames_round_trip_and_each_check_fails_on_its_own() {
        let payload = b"results".to_vec();
        let mut frame = MAGIC.to_vec();
        frame.extend_from_slice(&7u32.to_le_bytes());
        frame.extend_from_slice(&checksum(&payload));
        frame.extend_from_slice(&payload);
        assert_eq!(unframe(&frame, true), Ok((7, &payload[..])));

        assert_eq!(
            unframe(&frame[..23], true),
            Err("23 bytes, shorter than the 24-byte frame header".to_string())
        );
        let mut bad_magic = frame.clone();
        bad_magic[3] = b'2';
        assert_eq!(
            unframe(&bad_magic, true),
            Err("bad magic \"HNB2\", expected \"HNB1\"".to_string())
        );
        let mut flipped = frame.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unframe(&flipped, true), Err("payload checksum mismatch".to_string()));
        // Counting reads only the header.
        assert_eq!(unframe(&flipped, false).map(|(items, _)| items), Ok(7));
    }

    #[test]
    fn one_environment_per_directory_in_a_process() {
        let dir = TempDir::new("shared");
        let a = DiskStore::open(&dir.0).unwrap();
        let b = DiskStore::open(dir.0.join(".")).unwrap();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        a.put(&key(1), "n", &key(2), 1, vec![1]);
        b.flush().unwrap();
        assert_eq!(a.get(&key(1), &key(2), <[u8]>::to_vec).unwrap(), Some(vec![1]));
        // Dropped, the environment closes and a new open gets a new one.
        drop((a, b));
        let c = DiskStore::open(&dir.0).unwrap();
        assert_eq!(c.get(&key(1), &key(2), <[u8]>::len).unwrap(), Some(1));
        assert_eq!(
            format!("{c:?}"),
            format!("DiskStore {{ path: {:?}, .. }}", std::fs::canonicalize(&dir.0).unwrap())
        );
    }

    #[test]
    fn drop_flushes_buffered_puts() {
        let dir = TempDir::new("drop");
        let store = DiskStore::open(&dir.0).unwrap();
        store.put(&key(1), "n", &key(2), 3, vec![9; 10]);
        drop(store);
        let store = DiskStore::open(&dir.0).unwrap();
        assert_eq!(store.get(&key(1), &key(2), <[u8]>::to_vec).unwrap(), Some(vec![9; 10]));
    }

    #[test]
    fn a_corrupt_entry_is_an_error_for_get_and_skipped_by_for_each_block() {
        let dir = TempDir::new("corrupt");
        let store = DiskStore::open(&dir.0).unwrap();
        for b in 1..=3 {
            store.put(&key(1), "clean", &key(b), 10, vec![b; 100]);
        }
        store.flush().unwrap();

        // Flip one payload byte of block 2 and cut block 3 short, behind the store's back.
        let inner = &store.inner;
        let mut wtxn = inner.env.write_txn().unwrap();
        let mut frame = inner
            .blocks
            .get(&wtxn, &block_key(&key(1), &key(2)))
            .unwrap()
            .unwrap()
            .to_vec();
        frame[HEADER + 50] ^= 0xff;
        inner
            .blocks
            .put(&mut wtxn, &block_key(&key(1), &key(2)), &frame)
            .unwrap();
        inner
            .blocks
            .put(&mut wtxn, &block_key(&key(1), &key(3)), b"HNB1")
            .unwrap();
        wtxn.commit().unwrap();

        let err = store
            .get(&key(1), &key(2), |_| panic!("f must not see a corrupt payload"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Cache directory '{}': corrupt entry (node 0101010101010101, block 0202020202020202): \
                 payload checksum mismatch",
                store.path().display()
            )
        );
        let err = store.get(&key(1), &key(3), <[u8]>::len).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("4 bytes, shorter than the 24-byte frame header"),
            "{err}"
        );

        let mut seen = Vec::new();
        let skipped = store
            .for_each_block(&key(1), |block, payload| seen.push((block[0], payload.len())))
            .unwrap();
        assert_eq!((seen, skipped), (vec![(1, 100)], 2));
        // Stats read headers only: the flipped payload counts, the short frame does not.
        let stats = store.stats().unwrap();
        assert_eq!((stats.blocks, stats.items, stats.bytes, stats.corrupt), (2, 20, 200, 1));
    }

    #[test]
    fn stats_table_is_aligned_and_lists_corrupt_entries() {
        let stats = StoreStats {
            nodes: vec![
                NodeStats {
                    name: "a".into(),
                    keys: 1,
                    blocks: 1,
                    items: 5,
                    bytes: 12,
                },
                NodeStats {
                    name: "long_name".into(),
                    keys: 2,
                    blocks: 10,
                    items: 81920,
                    bytes: 1_000_000,
                },
            ],
            blocks: 11,
            items: 81925,
            bytes: 1_000_012,
            corrupt: 3,
            file_bytes: 1_200_000,
        };
        assert_eq!(
            stats.to_string(),
            "node       blocks  items    bytes\n\
             a               1      5       12\n\
             long_name      10  81920  1000000\n\
             total          11  81925  1000012\n\
             corrupt entries: 3\n\
             data.mdb: 1200000 bytes\n"
        );
    }

    #[test]
    fn map_full_becomes_a_clear_error() {
        let err = lmdb_error(Path::new("/c"), "cannot write", heed::Error::Mdb(MdbError::MapFull));
        assert_eq!(
            err.to_string(),
            format!(
                "Cache directory '/c': the store is full: LMDB's map of {} GiB is used up; clear the cache \
                 (`hypernodes cache clear`) or use another directory",
                MAP_SIZE >> 30
            )
        );
    }

    /// The figures the report quotes: `cargo test --release --no-default-features --lib
    /// cache::disk::tests::throughput_figures -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn throughput_figures() {
        const ITEMS: u32 = 1_000_000;
        const PER_BLOCK: u32 = 8192;
        const BYTES_PER_BLOCK: usize = 100_000;
        let node = key(7);
        let blocks: Vec<([u8; 32], u32, Vec<u8>)> = (0..ITEMS.div_ceil(PER_BLOCK))
            .map(|b| {
                let items = PER_BLOCK.min(ITEMS - b * PER_BLOCK);
                let block = *blake3::hash(&b.to_le_bytes()).as_bytes();
                let mut payload = vec![0; BYTES_PER_BLOCK * items as usize / PER_BLOCK as usize];
                blake3::Hasher::new().update(&block).finalize_xof().fill(&mut payload);
                (block, items, payload)
            })
            .collect();
        let payload_bytes: usize = blocks.iter().map(|b| b.2.len()).sum();
        for flush_every in [1, 8, blocks.len()] {
            let dir = TempDir::new(&format!("throughput-{flush_every}"));
            let store = DiskStore::open(&dir.0).unwrap();
            let input = blocks.clone();
            let started = Instant::now();
            for (i, (block, items, payload)) in input.into_iter().enumerate() {
                store.put(&node, "bench", &block, items, payload);
                if (i + 1) % flush_every == 0 {
                    store.flush().unwrap();
                }
            }
            store.flush().unwrap();
            let took = started.elapsed().as_secs_f64();
            let file = std::fs::metadata(dir.0.join("data.mdb")).unwrap().len();
            println!(
                "put+flush, a flush every {flush_every} blocks: {} blocks, {ITEMS} items, {payload_bytes} payload bytes \
                 in {:.1} ms = {:.0} MB/s, {:.0} blocks/s, {:.1} M items/s; data.mdb {file} bytes = {:.4} x payload",
                blocks.len(),
                took * 1e3,
                payload_bytes as f64 / took / 1e6,
                blocks.len() as f64 / took,
                f64::from(ITEMS) / took / 1e6,
                file as f64 / payload_bytes as f64
            );
            if flush_every == 8 {
                let mut times = Vec::new();
                for _ in 0..20 {
                    for (block, _, payload) in &blocks {
                        let started = Instant::now();
                        let len = store.get(&node, block, <[u8]>::len).unwrap();
                        times.push(started.elapsed());
                        assert_eq!(len, Some(payload.len()));
                    }
                }
                times.sort();
                let mean = times.iter().sum::<Duration>() / times.len() as u32;
                println!(
                    "get of a 100 KB block (checksum checked, zero copy), {} gets: median {:?}, mean {mean:?}, p99 {:?}",
                    times.len(),
                    times[times.len() / 2],
                    times[times.len() * 99 / 100]
                );
                let started = Instant::now();
                let missing = 10_000;
                for i in 0..missing {
                    assert!(store
                        .get(&node, &key(i as u8).map(|b| b ^ 0x5a), <[u8]>::len)
                        .unwrap()
                        .is_none());
                }
                println!("get of a missing block: {:?} each", started.elapsed() / missing);
            }
        }
    }
}
