//! The writer thread of a disk store: it takes the blocks put, encodes them, and commits
//! them in write transactions while the run goes on computing; a flush waits until every
//! block put before it is committed.
//!
//! One thread per open store, started by the first put. It takes every block queued
//! (up to [`TXN_BYTES`]) into one write transaction, encodes each into one reused
//! buffer, copies it into LMDB's page and commits (synced to disk); blocks put during a
//! commit wait in the queue for the next one, so commits group as many blocks as the
//! disk's sync time lets arrive. A put waits while more than [`QUEUE_BYTES`] are queued.
//!
//! A transaction is committed whole or not at all (LMDB), and a block whose encoding
//! fails is left out of it: no entry is ever half written. Errors are kept and returned
//! by the next [`Writer::flush`].

use std::collections::HashSet;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::error::{Error, Result};

use super::env::{Environment, cache_error};
use super::frame::{HEADER, MAGIC, block_key, checksum};
use super::store::lock;

/// A write transaction takes queued blocks until it holds this many bytes.
const TXN_BYTES: usize = 64 << 20;

/// A put waits while this many bytes are queued (a block larger than this is queued
/// alone). Queued blocks of the columnar engine are mostly the arrays the run returns.
const QUEUE_BYTES: usize = 256 << 20;

/// Encodes a block's payload into the buffer given (empty); `Err` says why it cannot.
pub(super) type Encode = Box<dyn FnOnce(&mut Vec<u8>) -> std::result::Result<(), String> + Send>;

/// A block's payload: its bytes, or the encoding the writer thread runs.
pub(super) enum Payload {
    Bytes(Vec<u8>),
    /// About `size` bytes once encoded.
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    Encode {
        size: usize,
        encode: Encode,
    },
}

impl Payload {
    fn size(&self) -> usize {
        HEADER
            + match self {
                Payload::Bytes(b) => b.len(),
                Payload::Encode { size, .. } => *size,
            }
    }
}

/// A block to store.
struct Job {
    /// Its place among the puts, from 1.
    seq: u64,
    node: [u8; 32],
    name: Box<str>,
    key: [u8; 64],
    items: u32,
    payload: Payload,
}

/// The writer of one store: the queue to its thread and what the thread has done.
#[derive(Default)]
pub(super) struct Writer {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified when the thread has committed a transaction (or failed to).
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// The queue to the thread and the thread, once started.
    thread: Option<(Sender<Job>, JoinHandle<()>)>,
    /// Bytes queued and not yet committed.
    queued: usize,
    /// The puts queued so far, and of those, the ones done (committed or failed).
    sent: u64,
    done: u64,
    /// The first error since the last flush.
    error: Option<Error>,
}

impl Writer {
    /// Queues a block of `items` results of node `node` (named `name`) under `block`,
    /// starting the thread on the first put; waits while the queue is full.
    pub(super) fn put(
        &self,
        db: &Arc<Environment>,
        node: &[u8; 32],
        name: &str,
        block: &[u8; 32],
        items: u32,
        payload: Payload,
    ) {
        let size = payload.size();
        let mut state = lock(&self.shared.state);
        while state.queued > 0 && state.queued + size > QUEUE_BYTES {
            state = self.shared.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.thread.is_none() {
            let (tx, rx) = channel();
            let (env, shared) = (db.clone(), self.shared.clone());
            match std::thread::Builder::new()
                .name("hypernodes-cache-writer".into())
                .spawn(move || write(&env, &shared, rx))
            {
                Ok(thread) => state.thread = Some((tx, thread)),
                Err(e) => {
                    let e = cache_error(&db.path, format!("cannot start the cache's writer thread: {e}"));
                    state.error.get_or_insert(e);
                }
            }
        }
        let Some((tx, _)) = &state.thread else {
            return;
        };
        let job = Job {
            seq: state.sent + 1,
            node: *node,
            name: name.into(),
            key: block_key(node, block),
            items,
            payload,
        };
        if tx.send(job).is_ok() {
            state.sent += 1;
            state.queued += size;
        }
    }

    /// Waits until every block queued before the call is committed, and returns the
    /// first error of the thread since the last flush.
    pub(super) fn flush(&self) -> Result<()> {
        let mut state = lock(&self.shared.state);
        let target = state.sent;
        while state.done < target {
            state = self.shared.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.error.take().map_or(Ok(()), Err)
    }

    /// Commits what is queued and stops the thread; errors are dropped (a caller sees
    /// them from [`Writer::flush`]).
    pub(super) fn close(&self) {
        let thread = lock(&self.shared.state).thread.take();
        if let Some((tx, thread)) = thread {
            drop(tx);
            let _ = thread.join();
        }
    }
}

/// The thread: a transaction per group of queued blocks, until the queue is closed.
fn write(db: &Environment, shared: &Shared, rx: Receiver<Job>) {
    let mut buffer = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut bytes = first.payload.size();
        let mut jobs = vec![first];
        while bytes < TXN_BYTES {
            match rx.try_recv() {
                Ok(job) => {
                    bytes += job.payload.size();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let last = jobs.iter().map(|j| j.seq).max().unwrap_or(0);
        let committed = catch_unwind(AssertUnwindSafe(|| commit(db, &mut buffer, jobs)))
            .unwrap_or_else(|_| Err(cache_error(&db.path, "the cache's writer thread panicked")));
        let mut state = lock(&shared.state);
        state.done = state.done.max(last);
        state.queued = state.queued.saturating_sub(bytes);
        if let Err(e) = committed {
            state.error.get_or_insert(e);
        }
        shared.changed.notify_all();
    }
}

/// Encodes and writes `jobs` in one write transaction, and commits it. A block that
/// cannot be encoded is left out (the others are committed) and named in the error.
fn commit(db: &Environment, buffer: &mut Vec<u8>, mut jobs: Vec<Job>) -> Result<()> {
    // In key order LMDB appends to the same leaf pages instead of jumping around.
    jobs.sort_by_key(|j| j.key);
    let lmdb = |e| db.lmdb("cannot write", e);
    let mut wtxn = db.env.write_txn().map_err(lmdb)?;
    let mut named = HashSet::new();
    let mut unencoded = None;
    for job in jobs {
        let payload = match job.payload {
            Payload::Bytes(bytes) => {
                *buffer = bytes;
                &*buffer
            }
            Payload::Encode { encode, .. } => {
                buffer.clear();
                if let Err(e) = encode(buffer) {
                    unencoded.get_or_insert_with(|| {
                        cache_error(&db.path, format!("cannot encode a block of node '{}': {e}", job.name))
                    });
                    continue;
                }
                &*buffer
            }
        };
        if named.insert(job.node) {
            db.nodes.put(&mut wtxn, &job.node, job.name.as_bytes()).map_err(lmdb)?;
        }
        let sum = checksum(payload);
        db.blocks
            .put_reserved(&mut wtxn, &job.key, HEADER + payload.len(), |space| {
                space.write_all(MAGIC)?;
                space.write_all(&job.items.to_le_bytes())?;
                space.write_all(&sum)?;
                space.write_all(payload)
            })
            .map_err(lmdb)?;
    }
    wtxn.commit().map_err(lmdb)?;
    unencoded.map_or(Ok(()), Err)
}
