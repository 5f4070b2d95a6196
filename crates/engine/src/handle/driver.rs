//! The driver of a streamed map: workers take the pieces of the map in item order, hand
//! each to the engine as a window of the plan, and pass its results on as it finishes;
//! a stop (or a failure under `OnError::Fail`) keeps new pieces from starting.

use std::any::Any;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::Progress;
use crate::Engine;
use crate::error::Result;
use crate::events::Part;
use crate::exec::{ItemFailure, OnError, RunConfig};
use crate::outputs::MapOutputs;
use crate::plan::MapPlan;

/// A piece of the map done: its items (of the whole map) and the engine's results for
/// them, whose rows and failures count from the piece's first item; or the failure that
/// failed the piece, naming its item of the whole map.
pub(super) struct Piece {
    pub(super) items: Range<usize>,
    pub(super) result: std::result::Result<MapOutputs, ItemFailure>,
}

impl Piece {
    /// The failures of the piece's items, naming items of the whole map, in item order.
    pub(super) fn failures(first: usize, out: &mut MapOutputs) -> Vec<ItemFailure> {
        std::mem::take(&mut out.failures)
            .into_iter()
            .map(|f| ItemFailure::new(first + f.item(), f.into_error().map_item(|i| Some(first + i))))
            .collect()
    }
}

/// What the workers of a streamed map share with its handle or stream.
pub(super) struct Shared {
    total: usize,
    /// Items per piece.
    piece: usize,
    pieces: usize,
    gate: Mutex<Gate>,
    turn: Condvar,
    stop: AtomicBool,
    done: AtomicUsize,
    failed: AtomicUsize,
    finished: AtomicBool,
    /// The panic of a piece, to resume where the map's results go.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

struct Gate {
    /// The next piece to start.
    next: usize,
    /// The pieces whose items the stream has handed out.
    consumed: usize,
    /// At most this many pieces started and not yet handed out (a stream's), or no
    /// limit (a handle's).
    ahead: Option<usize>,
}

impl Shared {
    /// The state of a map of `total` items in pieces of `piece` items, with at most
    /// `ahead` pieces started before the stream hands out their items.
    pub(super) fn new(total: usize, piece: usize, ahead: Option<usize>) -> Shared {
        let piece = piece.max(1);
        Shared {
            total,
            piece,
            pieces: total.div_ceil(piece),
            gate: Mutex::new(Gate {
                next: 0,
                consumed: 0,
                ahead: ahead.map(|a| a.max(1)),
            }),
            turn: Condvar::new(),
            stop: AtomicBool::new(false),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            panic: Mutex::new(None),
        }
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The items of the next piece to start, once it may start; `None` when the map
    /// stopped or every piece started.
    fn take(&self) -> Option<Range<usize>> {
        let mut gate = self.gate();
        loop {
            if self.stop.load(Ordering::SeqCst) || gate.next >= self.pieces {
                return None;
            }
            if gate.ahead.is_none_or(|ahead| gate.next < gate.consumed + ahead) {
                break;
            }
            gate = self.turn.wait(gate).unwrap_or_else(|e| e.into_inner());
        }
        let k = gate.next;
        gate.next += 1;
        Some(k * self.piece..((k + 1) * self.piece).min(self.total))
    }

    /// No new piece starts; those running finish.
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // Under the lock, so that a worker between its check and its wait sees it.
        let _gate = self.gate();
        self.turn.notify_all();
    }

    /// The stream handed out the items of one more piece.
    pub(super) fn consumed(&self) {
        self.gate().consumed += 1;
        self.turn.notify_all();
    }

    /// The items no piece started, ascending (final once the workers are done).
    pub(super) fn not_started(&self) -> Vec<usize> {
        ((self.gate().next * self.piece).min(self.total)..self.total).collect()
    }

    /// The items done and failed so far.
    pub(super) fn progress(&self) -> Progress {
        Progress {
            done: self.done.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            total: self.total,
            finished: self.finished.load(Ordering::SeqCst),
        }
    }

    /// A piece panicked: the map stops, and the first panic is kept.
    fn panicked(&self, panic: Box<dyn Any + Send>) {
        self.panic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(panic);
        self.stop();
    }

    /// Resumes the panic of a piece, if one panicked.
    pub(super) fn resume_panic(&self) {
        if let Some(panic) = self.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            std::panic::resume_unwind(panic);
        }
    }

    /// Every piece that started is done, and the map's end was reported.
    pub(super) fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }
}

/// Runs `plan` on `engine` in pieces, `workers` at a time, handing each piece to `sink`
/// as it finishes (on the calling thread), between the map's pipeline and map events,
/// and commits what its caches stored. Returns the failure the map fails with under
/// [`OnError::Fail`] (that of the smallest failing item), and the commit's outcome.
pub(super) fn drive(
    plan: &MapPlan,
    engine: &dyn Engine,
    shared: &Shared,
    workers: usize,
    mut sink: impl FnMut(Piece),
) -> (Option<ItemFailure>, Result<()>) {
    let config = plan.run_plan().config();
    let fail_fast = config.on_error().unwrap_or_default() == OnError::Fail;
    let events = config.events();
    let started = events.map(|e| {
        e.pipeline_start();
        e.map_start(plan.len())
    });
    // Each piece reports to the map's callbacks in the map's context, with items of the
    // whole map.
    let config_of = |first: usize| -> Arc<RunConfig> {
        match events {
            None => plan.run_plan().config_arc().clone(),
            Some(e) => Arc::new(
                config
                    .clone()
                    .without_callbacks()
                    .with_callback(Part {
                        callbacks: e.callbacks.clone(),
                        first: Some(first),
                    })
                    .in_context(e.ctx.clone()),
            ),
        }
    };
    // A piece that panicked (a callback's hook: the engines catch the nodes' panics)
    // stops the map, and its panic goes on where the map's results go.
    let run = |items: Range<usize>| -> Option<Piece> {
        let first = items.start;
        let window = plan.window(items.clone(), config_of(first));
        let result = match catch_unwind(AssertUnwindSafe(|| engine.map(&window))) {
            Ok(result) => result,
            Err(panic) => {
                shared.panicked(panic);
                return None;
            }
        };
        let result = result
            .map_err(|e| ItemFailure::new(e.item().map_or(first, |i| first + i), e.map_item(|i| Some(first + i))));
        match &result {
            Ok(out) => {
                shared.done.fetch_add(out.len(), Ordering::SeqCst);
                shared.failed.fetch_add(out.failures().len(), Ordering::SeqCst);
            }
            Err(_) => {
                shared.failed.fetch_add(1, Ordering::SeqCst);
                if fail_fast {
                    shared.stop();
                }
            }
        }
        Some(Piece { items, result })
    };
    let mut failure: Option<ItemFailure> = None;
    let mut take = |piece: Piece| {
        if let (true, Err(f)) = (fail_fast, &piece.result)
            && failure.as_ref().is_none_or(|seen| f.item() < seen.item())
        {
            failure = Some(f.clone());
        }
        sink(piece);
    };
    let workers = workers.clamp(1, shared.pieces.max(1));
    if workers == 1 {
        // One worker: this thread, without a hand-off per piece. (A failure under
        // `Fail` stopped the map: `take` gives no other piece.)
        while let Some(items) = shared.take() {
            if let Some(piece) = run(items) {
                take(piece);
            }
        }
    } else {
        std::thread::scope(|scope| {
            let (tx, rx) = channel::<Piece>();
            for _ in 0..workers {
                let tx = tx.clone();
                let run = &run;
                scope.spawn(move || {
                    while let Some(items) = shared.take() {
                        if run(items).is_some_and(|piece| tx.send(piece).is_err()) {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            rx.into_iter().for_each(&mut take);
        });
    }
    let error = failure.as_ref().map(ItemFailure::error);
    if let (Some(e), Some(started)) = (events, started) {
        e.map_end(started, error);
    }
    let committed = config.commit_cache(Ok(()));
    if let Some(e) = events {
        e.pipeline_end(error.or(committed.as_ref().err()));
    }
    shared.finish();
    (failure, committed)
}
