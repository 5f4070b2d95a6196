//! Control of a running map: its results as they come ([`MapIter`], [`MapStream`]) and
//! handles on a run or map going on in the background ([`MapHandle`], [`RunHandle`])
//! that tell its progress, stop it and wait for it.
//!
//! A streamed map cuts its items into pieces (see
//! [`Engine::map_pieces`](crate::Engine::map_pieces)): one item on the node engine, a
//! batch on the columnar engine. Workers, as many as the map executor's width (the node
//! engine) or the engine's partitions (the columnar engine), take the pieces in item
//! order and run each as a map of its own items on the engine; a piece's results come out
//! when all of its items are done, and stopping lets the pieces running finish and
//! starts no other. The driver is `driver`, the callbacks' view of the pieces `window`,
//! the stream `stream`.

mod driver;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::JoinHandle;

pub use stream::{MapIter, MapStream, Order, Streamed, StreamedItem};

use crate::error::{Error, Result};
use crate::exec::OnError;
use crate::node_engine::collect_shared;
use crate::outputs::{MapOutputs, Outputs};
use crate::plan::{MapPlan, RunPlan};
use crate::value::{ColumnBuilder, Value};
use driver::{Piece, Shared, drive};

/// How far a run or map in the background is: items done, failed, in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Items that succeeded.
    pub done: usize,
    /// Items that failed.
    pub failed: usize,
    /// The items of the map (1 for a run).
    pub total: usize,
    /// Whether it ended: every item that started is done (or it never started).
    pub finished: bool,
}

/// A map running in the background, from `Run::start_map`: [`progress`](MapHandle::progress),
/// [`stop`](MapHandle::stop), [`wait`](MapHandle::wait). Dropping it lets the map run on
/// to its end unseen.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let p = Pipeline::new([double::node()]);
/// let handle = p.start_map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip", &RunOptions::new())?;
/// let out = handle.wait()?;
/// assert_eq!(out.column::<i64>("doubled")?, [2, 4, 6]);
/// assert!(out.not_started().is_empty());
/// # Ok::<(), hypernodes::Error>(())
/// ```
pub struct MapHandle {
    shared: Arc<Shared>,
    thread: JoinHandle<Result<MapOutputs>>,
}

impl MapHandle {
    /// The items done and failed so far.
    pub fn progress(&self) -> Progress {
        self.shared.progress()
    }

    /// Stops the map: no new item starts (on the columnar engine, no new batch), the
    /// items running finish. [`wait`](MapHandle::wait) then gives the results of the
    /// items that finished and, in [`MapOutputs::not_started`], the items that never
    /// started. Stopping a map that ended does nothing.
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Whether the map ended (then [`wait`](MapHandle::wait) returns at once).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the map to end and returns what `Run::map_with` returns for it: one
    /// column per output in item order, the failed items under
    /// [`OnError::Collect`]; after a [`stop`](MapHandle::stop),
    /// of the items that finished, with the others in [`MapOutputs::not_started`].
    ///
    /// # Errors
    ///
    /// As `Run::map_with`: under [`OnError::Fail`], the error of
    /// the smallest failing item (no new item starts once one failed).
    pub fn wait(self) -> Result<MapOutputs> {
        self.thread.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

/// A run going on in the background, from `Run::start_run`. A run is one item: it
/// cannot stop half way; [`stop`](RunHandle::stop) keeps it from starting if it has not.
pub struct RunHandle {
    stop: Arc<AtomicBool>,
    /// 0 until the run ends, then 1 when it succeeded, 2 when it failed.
    ended: Arc<AtomicU8>,
    thread: JoinHandle<Result<Option<Outputs>>>,
}

impl RunHandle {
    /// Where the run is: 0 or 1 item done or failed, of 1.
    pub fn progress(&self) -> Progress {
        let ended = self.ended.load(Ordering::SeqCst);
        Progress {
            done: usize::from(ended == 1),
            failed: usize::from(ended == 2),
            total: 1,
            finished: self.thread.is_finished(),
        }
    }

    /// Keeps the run from starting if it has not started yet; a run that started
    /// finishes.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the run ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the run and returns its outputs, or `None` when it was stopped before
    /// it started.
    ///
    /// # Errors
    ///
    /// As `Run::run_with`.
    pub fn wait(self) -> Result<Option<Outputs>> {
        self.thread.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl std::fmt::Debug for MapHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapHandle").field("progress", &self.progress()).finish()
    }
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle").field("progress", &self.progress()).finish()
    }
}

/// The background thread of a handle or stream.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    std::thread::Builder::new()
        .name("hypernodes-map".into())
        .spawn(f)
        .expect("starting a thread")
}

/// Starts `plan` in the background.
pub(crate) fn start_map(plan: MapPlan) -> Result<MapHandle> {
    let engine = plan.run_plan().config().resolved_engine()?.clone();
    let (piece, workers) = engine.map_pieces(&plan);
    let shared = Arc::new(Shared::new(plan.len(), piece, None));
    let state = shared.clone();
    let thread = spawn(move || {
        let mut pieces = Vec::new();
        let (failure, committed) = drive(&plan, &*engine, &state, workers, |p| pieces.push(p));
        state.resume_panic();
        let out = match failure {
            Some(f) => return Err(f.into_error()),
            None => assemble(&plan, pieces, state.not_started())?,
        };
        committed?;
        Ok(out.with_cache_report(plan.run_plan().config().cache_report()))
    });
    Ok(MapHandle { shared, thread })
}

/// Starts `plan` in the background, handing out its items as they come.
pub(crate) fn map_stream(plan: MapPlan) -> Result<MapStream> {
    let engine = plan.run_plan().config().resolved_engine()?.clone();
    let (piece, workers) = engine.map_pieces(&plan);
    // Twice the pieces that run at once: a worker seldom waits for the reader.
    let shared = Arc::new(Shared::new(plan.len(), piece, Some(2 * workers)));
    let pipeline = plan.run_plan().pipeline();
    let outputs: stream::OutputTypes = plan
        .run_plan()
        .outputs()
        .iter()
        .map(|name| (name.clone(), pipeline.output_type(name).expect("an output").this_fn()))
        .collect();
    let fail_fast = plan.run_plan().config().on_error().unwrap_or_default() == OnError::Fail;
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let state = shared.clone();
    spawn(move || {
        let (_, committed) = drive(&plan, &*engine, &state, workers, |p| {
            let _ = tx.unbounded_send(p);
        });
        // A cache that cannot commit fails the map after its last item.
        if let Err(e) = committed {
            let total = plan.len();
            let failure = crate::exec::ItemFailure::new(total, e);
            let _ = tx.unbounded_send(Piece {
                items: total..total,
                result: Err(failure),
            });
        }
    });
    Ok(MapStream::new(rx, shared, outputs, fail_fast))
}

/// Starts `plan` in the background.
pub(crate) fn start_run(plan: RunPlan) -> RunHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicU8::new(0));
    let (stopped, end) = (stop.clone(), ended.clone());
    let thread = spawn(move || {
        if stopped.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let out = plan.execute();
        end.store(if out.is_ok() { 1 } else { 2 }, Ordering::SeqCst);
        out.map(Some)
    });
    RunHandle { stop, ended, thread }
}

/// The results of a map from its pieces: each output's column of the items that
/// succeeded, in item order, the failures, and the items that `not_started`.
fn assemble(plan: &MapPlan, mut pieces: Vec<Piece>, not_started: Vec<usize>) -> Result<MapOutputs> {
    pieces.sort_by_key(|p| p.items.start);
    let mut failures = Vec::new();
    let mut outs = Vec::with_capacity(pieces.len());
    for piece in pieces {
        // Unreachable under `Fail`, whose failure the map returns instead.
        let mut out = piece.result.map_err(|f| f.into_error())?;
        failures.extend(Piece::failures(piece.items.start, &mut out));
        outs.push(out);
    }
    let len = outs.iter().map(MapOutputs::len).sum();
    let mut columns: Vec<Vec<Value>> = Vec::new();
    let names = plan.run_plan().outputs();
    for out in outs {
        let mut by_name = out.into_columns();
        columns.push(names.iter().map(|n| by_name.remove(n).expect("a column")).collect());
    }
    let pipeline = plan.run_plan().pipeline();
    let mut result = Vec::with_capacity(names.len());
    for (k, name) in names.iter().enumerate() {
        let ty = pipeline.output_type(name).expect("an output");
        let builder = ty
            .column_builder(len)
            .ok_or_else(|| Error::Invalid(format!("Output '{name}': lists of {ty} nest too deep to collect")))?;
        let parts: Vec<Value> = columns
            .iter_mut()
            .map(|c| std::mem::replace(&mut c[k], Value::new(())))
            .collect();
        result.push((name.clone(), concat(builder, parts, name, plan)?));
    }
    Ok(MapOutputs::from_columns(len, result)
        .with_failures(plan.len(), failures)
        .with_not_started(not_started))
}

/// One column from the columns of the pieces: moved when each is the piece's own, else
/// copied item by item (a column the cache holds too).
fn concat(mut builder: Box<dyn ColumnBuilder>, parts: Vec<Value>, name: &str, plan: &MapPlan) -> Result<Value> {
    if parts.iter().all(Value::is_unique) {
        for part in parts {
            // Unreachable: each part is an unshared `Vec` of the output's type.
            builder
                .extend(part)
                .map_err(|_| Error::Internal(format!("the column of '{name}' does not concatenate")))?;
        }
        return Ok(builder.finish());
    }
    let pipeline = plan.run_plan().pipeline();
    let ty = pipeline.output_type(name).expect("an output");
    let items: Vec<Value> = parts
        .into_iter()
        .flat_map(|part| {
            let len = ty.list_len(&part).unwrap_or(0);
            let part = Arc::new(part);
            (0..len).map(move |i| Value::item(part.clone(), i, ty.this_fn()))
        })
        .collect();
    let producer = &pipeline.nodes()[pipeline.graph().producers[name].0];
    collect_shared(builder, items, name, ty, producer)
}
