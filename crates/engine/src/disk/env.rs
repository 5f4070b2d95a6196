//! The LMDB environment of a cache directory and its two tables: opening it, and the
//! errors LMDB's failures become.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, MdbError, WithoutTls};

use crate::error::{Error, Result};

use super::frame::hex8;

/// The size of the memory map, the same in every process: LMDB reserves address space,
/// not disk (`data.mdb` grows with what is written), and a process whose map is smaller
/// than the file another process grew would have to stop and remap.
pub(super) const MAP_SIZE: usize = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };

/// Slots in LMDB's reader table, shared by every process using the directory; a read
/// transaction holds one while it is open (rayon threads reading at once each hold one).
const MAX_READERS: u32 = 1024;

/// How long [`DiskStore::open`](super::DiskStore::open) waits for the environment of a store that is being
/// dropped in this process (it is flushed, then closed) before opening it again.
const REOPEN_WAIT: Duration = Duration::from_secs(30);

pub(super) type Table = Database<'static, Bytes, Bytes>;

/// The environment of one cache directory, opened once per process (see
/// [`DiskStore::open`](super::DiskStore::open)), with its `blocks` and `nodes` tables.
pub(super) struct Environment {
    pub(super) path: PathBuf,
    pub(super) env: Env<WithoutTls>,
    pub(super) blocks: Table,
    pub(super) nodes: Table,
}

impl Environment {
    pub(super) fn open(path: PathBuf) -> Result<Environment> {
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
        Ok(Environment {
            path,
            env,
            blocks,
            nodes,
        })
    }

    pub(super) fn lmdb(&self, doing: &str, e: heed::Error) -> Error {
        lmdb_error(&self.path, doing, e)
    }

    pub(super) fn corrupt(&self, node: &[u8; 32], block: &[u8; 32], why: String) -> Error {
        cache_error(
            &self.path,
            format!("corrupt entry (node {}, block {}): {why}", hex8(node), hex8(block)),
        )
    }
}

pub(super) fn cache_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Cache {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub(super) fn lmdb_error(path: &Path, doing: &str, e: heed::Error) -> Error {
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
