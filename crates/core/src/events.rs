//! Callbacks: what a run tells the code that watches it, and the context tree every
//! event carries.
//!
//! A [`Callback`] is set on a [`RunConfig`](crate::RunConfig) (with the usual precedence:
//! a call's over the pipeline's over the default; a nested pipeline that sets callbacks
//! of its own reports to those instead). Every hook has a default that does nothing.
//! Progress bars and traces are ordinary callbacks.
//!
//! # The contract, in both engines
//!
//! Items are given as ranges: a node engine call covers one item, a columnar engine call
//! a batch of them (a batch of N items is N items of progress). Every event of a run
//! carries a [`Context`]: depth, parent, path of names from the root, the items of the
//! enclosing maps, and when the context started.
//!
//! 1. A top-level `Pipeline::run` or `map` (the `Run` trait)
//!    begins with [`on_pipeline_start`](Callback::on_pipeline_start) and ends with
//!    [`on_pipeline_end`](Callback::on_pipeline_end), on the calling thread, also when
//!    it fails (the end then carries the error). Bad inputs rejected before anything
//!    runs report nothing.
//! 2. A map reports [`on_map_start`](Callback::on_map_start) with its number of items
//!    right after its pipeline (or nested) start, and
//!    [`on_map_end`](Callback::on_map_end) right before its end.
//! 3. Seen from one item of a map, the events come in this order, in both engines:
//!    [`on_map_item_start`](Callback::on_map_item_start); then, for each node in the
//!    pipeline's order, either [`on_node_start`](Callback::on_node_start) and
//!    [`on_node_end`](Callback::on_node_end), or
//!    [`on_node_cached`](Callback::on_node_cached) when its results for the item were
//!    found in the cache, or `on_node_start` and
//!    [`on_node_error`](Callback::on_node_error) when it failed on the item; then
//!    [`on_map_item_end`](Callback::on_map_item_end), or
//!    [`on_map_item_cached`](Callback::on_map_item_cached) when every node of the item
//!    was found in the cache. A failed item has no end. A `run` has no item events: its
//!    node events cover item `0..1`.
//! 4. A nested pipeline node ([`Pipeline::as_node`](crate::Pipeline::as_node)) reports,
//!    within its `on_node_start` and `on_node_end` (or `on_node_error`),
//!    [`on_nested_start`](Callback::on_nested_start), the inner run's events (a map's
//!    events when it has `map_over`) in a context one level deeper, and
//!    [`on_nested_end`](Callback::on_nested_end).
//!
//! The engines differ in how they interleave items and nodes, never in what each item
//! sees:
//! - the **node engine** without a cache runs item by item: item 0's events, then item
//!   1's (one after another with the sequential map executor);
//! - the **node engine with a cache** and the **columnar engine** run node by node:
//!   every item starts, then each node runs over all of them (the columnar engine a
//!   batch at a time), then the items end (the columnar engine ends each batch as its
//!   last node finishes it, when that node runs in a vectorized segment);
//! - the **columnar engine runs a nested map once over the items of all outer items**
//!   (it flattens their lists): one `on_node_start`, `on_nested_start` and
//!   `on_map_start` (with the total of inner items) for all of them, where the node
//!   engine reports one per outer item. The totals of items add up to the same.
//!
//! Under [`OnError::Collect`](crate::OnError::Collect) the columnar engine finds the
//! failing items by running the failed batches again, without reporting those runs:
//! each failed item reports one `on_node_error`, and the items that succeed end when
//! the map ends.
//!
//! # Data
//!
//! [`on_node_start`](Callback::on_node_start) carries the node's arguments,
//! [`on_node_end`](Callback::on_node_end) its outputs, as a [`NodeData`]: borrowed
//! values of one item where the node ran on one item (the node engine, and the columnar
//! engine's nodes that run row by row), the Arrow arrays of the batch where the columnar
//! engine ran it vectorized, read by row as the same Rust types either way.
//! [`on_node_cached`](Callback::on_node_cached) carries the [`Signature`] the results
//! were found under. Nothing is copied or converted unless a hook reads it. Hooks of one
//! run share values through [`Context::user_data`].
//!
//! # Threads
//!
//! `on_pipeline_start` and `on_pipeline_end` come from the thread that called the run.
//! Every other hook may be called from worker threads (the executors' pools, the
//! runtime's, the columnar engine's partitions), at the same time for different items
//! or batches: the events of one item come in the order above, those of different items
//! may interleave. A callback must therefore be `Send + Sync` and keep its state behind
//! atomics or locks. A hook that panics fails nothing: the panic propagates like a
//! panic of the code around it, so keep hooks simple.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::node::Node;

mod data;
mod part;

#[doc(hidden)]
pub use data::Batch;
pub use data::{NodeData, Signature, UserData};
#[doc(hidden)]
pub use part::Part;

/// Code that watches runs: every hook does nothing unless implemented. See the
/// [module documentation](self) for when each hook fires, in which order and on which
/// thread.
///
/// # Examples
///
/// ```
/// use std::ops::Range;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use hypernodes::events::{Callback, Context, NodeData};
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// #[derive(Default)]
/// struct CountItems(AtomicUsize);
///
/// impl Callback for CountItems {
///     fn on_node_end(&self, _ctx: &Context, _node: &Node, items: Range<usize>, _elapsed: Duration, _outputs: &NodeData<'_>) {
///         self.0.fetch_add(items.len(), Ordering::Relaxed);
///     }
/// }
///
/// let counter = Arc::new(CountItems::default());
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_callback(counter.clone()));
/// p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// assert_eq!(counter.0.load(Ordering::Relaxed), 3);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[allow(unused_variables)]
pub trait Callback: Send + Sync {
    /// A top-level run or map starts (depth 0), before any other event of it.
    fn on_pipeline_start(&self, ctx: &Context) {}

    /// A top-level run or map ended, after every other event of it, with the error
    /// it returns if it failed.
    fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) {}

    /// A nested pipeline starts running for the items in `ctx.items()` (its context:
    /// one level deeper than the outer node's, whose name ends its path).
    fn on_nested_start(&self, ctx: &Context) {}

    /// A nested pipeline ended (with the error that fails the outer node, if any).
    fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {}

    /// A map over `items` items starts (after its pipeline or nested start).
    fn on_map_start(&self, ctx: &Context, items: usize) {}

    /// A map ended (before its pipeline or nested end), with its error if it failed.
    fn on_map_end(&self, ctx: &Context, end: &End<'_>) {}

    /// The map starts work on `items`, before any node event of them.
    fn on_map_item_start(&self, ctx: &Context, items: Range<usize>) {}

    /// Every node is done with `items`, `elapsed` after they started. Not called for
    /// items that failed.
    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, elapsed: Duration) {}

    /// Every node of `items` was found in the cache (instead of
    /// [`on_map_item_end`](Callback::on_map_item_end)).
    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {}

    /// The outputs of `items` were found up to date by an incremental file run (one
    /// with a state): they are not computed and have no other event. Such a run reports
    /// the rows of the files it skips right after its map start, before those it
    /// computes.
    fn on_map_item_skipped(&self, ctx: &Context, items: Range<usize>) {}

    /// `node` starts computing `items` (of the innermost map; `0..1` in a run) from
    /// `inputs`, its arguments for them by parameter name (see [`NodeData`]; reading
    /// them is the only cost).
    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, inputs: &NodeData<'_>) {}

    /// `node` computed `items`, taking `elapsed` (a call over a batch reports the
    /// batch's time), and made `outputs`, by output name (a nested pipeline node: the
    /// outputs its parent reads).
    fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, elapsed: Duration, outputs: &NodeData<'_>) {}

    /// `node`'s results for `items` were found in the cache under `signature` (its node
    /// key and the items' keys): it was not called.
    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, signature: &Signature<'_>) {}

    /// `node` failed (after its retries) with `error`, on item `item` of the innermost
    /// map when the error names one. Comes instead of
    /// [`on_node_end`](Callback::on_node_end); the run then fails, or, under
    /// [`OnError::Collect`](crate::OnError::Collect), the item is left out.
    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {}

    /// Whether this callback reads the `elapsed` times of
    /// [`on_map_item_end`](Callback::on_map_item_end) and
    /// [`on_node_end`](Callback::on_node_end) (it does unless it says otherwise). When no
    /// callback of a run reads them, the engines do not read the clock for each event
    /// and pass [`Duration::ZERO`]: a callback that only counts items (as progress bars
    /// do) costs less per item.
    fn timed(&self) -> bool {
        true
    }
}

/// How a pipeline, nested pipeline or map ended.
#[derive(Debug, Clone, Copy)]
pub struct End<'a> {
    elapsed: Duration,
    error: Option<&'a Error>,
}

impl<'a> End<'a> {
    /// How long it ran.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The error it failed with, if it failed.
    pub fn error(&self) -> Option<&'a Error> {
        self.error
    }
}

macro_rules! forward {
    ($($(#[$m:meta])* $ty:ty),*) => {$(
        $(#[$m])*
        impl<T: Callback + ?Sized> Callback for $ty {
            fn on_pipeline_start(&self, ctx: &Context) { (**self).on_pipeline_start(ctx) }
            fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) { (**self).on_pipeline_end(ctx, end) }
            fn on_nested_start(&self, ctx: &Context) { (**self).on_nested_start(ctx) }
            fn on_nested_end(&self, ctx: &Context, end: &End<'_>) { (**self).on_nested_end(ctx, end) }
            fn on_map_start(&self, ctx: &Context, items: usize) { (**self).on_map_start(ctx, items) }
            fn on_map_end(&self, ctx: &Context, end: &End<'_>) { (**self).on_map_end(ctx, end) }
            fn on_map_item_start(&self, ctx: &Context, items: Range<usize>) { (**self).on_map_item_start(ctx, items) }
            fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, elapsed: Duration) {
                (**self).on_map_item_end(ctx, items, elapsed)
            }
            fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) { (**self).on_map_item_cached(ctx, items) }
            fn on_map_item_skipped(&self, ctx: &Context, items: Range<usize>) { (**self).on_map_item_skipped(ctx, items) }
            fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, inputs: &NodeData<'_>) {
                (**self).on_node_start(ctx, node, items, inputs)
            }
            fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, elapsed: Duration, outputs: &NodeData<'_>) {
                (**self).on_node_end(ctx, node, items, elapsed, outputs)
            }
            fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, signature: &Signature<'_>) {
                (**self).on_node_cached(ctx, node, items, signature)
            }
            fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
                (**self).on_node_error(ctx, node, item, error)
            }
            fn timed(&self) -> bool { (**self).timed() }
        }
    )*};
}

forward!(
    /// A reference to a callback is one.
    &T,
    /// A shared callback is one (keep a clone to read what it saw).
    Arc<T>,
    /// A boxed callback is one.
    Box<T>
);

/// Where an event happens: one node of the context tree a run threads through every
/// nesting level. Cheap to clone (a shared pointer).
///
/// The root is the top-level run (depth 0, its path the pipeline's name, or
/// `"pipeline"` for a pipeline without one); each nested pipeline call opens a child one
/// level deeper whose path adds the nested node's name, and whose items add the outer
/// items the call runs for.
#[derive(Clone)]
pub struct Context(Arc<Frame>);

struct Frame {
    parent: Option<Context>,
    depth: usize,
    path: Vec<Arc<str>>,
    items: Vec<Range<usize>>,
    pipeline: Arc<str>,
    started: Instant,
    id: u64,
    /// The run's user data (kept by the root, made on first use).
    user: OnceLock<UserData>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Context {
    /// The root context of a top-level run of the pipeline named `pipeline`.
    #[doc(hidden)]
    pub fn root(pipeline: Option<&str>) -> Context {
        let name: Arc<str> = pipeline.unwrap_or("pipeline").into();
        Context(Arc::new(Frame {
            parent: None,
            depth: 0,
            path: vec![name.clone()],
            items: Vec::new(),
            pipeline: name,
            started: Instant::now(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            user: OnceLock::new(),
        }))
    }

    /// The context of nested node `node` (running pipeline `pipeline`) called for
    /// `items` of this context's innermost map (`0..1` outside a map: no item level).
    #[doc(hidden)]
    pub fn child(&self, node: &str, pipeline: Option<&str>, items: Option<Range<usize>>) -> Context {
        let mut path = self.0.path.clone();
        path.push(node.into());
        let mut levels = self.0.items.clone();
        levels.extend(items);
        Context(Arc::new(Frame {
            parent: Some(self.clone()),
            depth: self.0.depth + 1,
            path,
            items: levels,
            pipeline: pipeline.unwrap_or(node).into(),
            started: Instant::now(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            user: OnceLock::new(),
        }))
    }

    /// How deep this context is: 0 for the top-level run, 1 inside a nested pipeline
    /// node, and so on.
    pub fn depth(&self) -> usize {
        self.0.depth
    }

    /// The context of the run around the nested pipeline this context is in (`None` at
    /// the top level).
    pub fn parent(&self) -> Option<&Context> {
        self.0.parent.as_ref()
    }

    /// The names from the root: the top-level pipeline's, then each nested node's.
    pub fn path(&self) -> &[Arc<str>] {
        &self.0.path
    }

    /// The path joined with `/` (`"text/per_sentence"`).
    pub fn path_string(&self) -> String {
        self.0.path.join("/")
    }

    /// The items of each enclosing map this context runs for, outermost first (one
    /// item in the node engine; a batch in the columnar engine). Empty at the top level.
    pub fn items(&self) -> &[Range<usize>] {
        &self.0.items
    }

    /// The name of the pipeline running in this context (a nested pipeline without a
    /// name of its own takes its node's name).
    pub fn pipeline(&self) -> &str {
        &self.0.pipeline
    }

    /// When this context started.
    pub fn started(&self) -> Instant {
        self.0.started
    }

    /// How long ago this context started.
    pub fn elapsed(&self) -> Duration {
        self.0.started.elapsed()
    }

    /// A number that identifies this context among those of the process (contexts are
    /// numbered as they are made).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The values the callbacks of this run share, the same from every context of the
    /// run (the root's and every nested one's), another run's from another run: see
    /// [`UserData`]. Made on first use: a run whose hooks never ask pays nothing.
    ///
    /// # Examples
    ///
    /// A span opened by one callback and closed by another:
    ///
    /// ```
    /// use std::ops::Range;
    /// use std::sync::{Arc, Mutex};
    /// use std::time::{Duration, Instant};
    ///
    /// use hypernodes::events::{Callback, Context, NodeData};
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// /// What `Opens` leaves for `Closes`: when each node started.
    /// #[derive(Clone, Default)]
    /// struct Open(Vec<(String, Instant)>);
    ///
    /// struct Opens;
    /// impl Callback for Opens {
    ///     fn on_node_start(&self, ctx: &Context, node: &Node, _: Range<usize>, _: &NodeData<'_>) {
    ///         ctx.user_data().with(|open: &mut Open| open.0.push((node.name().to_string(), Instant::now())));
    ///     }
    /// }
    ///
    /// #[derive(Default)]
    /// struct Closes(Mutex<Vec<String>>);
    /// impl Callback for Closes {
    ///     fn on_node_end(&self, ctx: &Context, node: &Node, _: Range<usize>, _: Duration, _: &NodeData<'_>) {
    ///         let span = ctx.user_data().with(|open: &mut Open| open.0.pop());
    ///         let (name, _started) = span.expect("opened by Opens");
    ///         assert_eq!(name, node.name());
    ///         self.0.lock().unwrap().push(name);
    ///     }
    /// }
    ///
    /// let closed = Arc::new(Closes::default());
    /// let config = RunConfig::new().with_callback(Opens).with_callback(closed.clone());
    /// Pipeline::new([double::node()]).with_config(config).run(&Inputs::new().with("x", 1_i64))?;
    /// assert_eq!(*closed.0.lock().unwrap(), ["double"]);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn user_data(&self) -> &UserData {
        let mut root = self;
        while let Some(parent) = root.parent() {
            root = parent;
        }
        root.0.user.get_or_init(UserData::default)
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path_string())
            .field("depth", &self.depth())
            .field("items", &self.items())
            .finish()
    }
}

/// The callbacks of a resolved run and the context its events carry: what the engines
/// report to. Every method does nothing without callbacks.
#[derive(Clone)]
#[doc(hidden)]
pub struct Events {
    #[doc(hidden)]
    pub ctx: Context,
    #[doc(hidden)]
    pub callbacks: Arc<[Arc<dyn Callback>]>,
    /// Whether a callback reads the times of events ([`Callback::timed`]).
    timed: bool,
}

impl Events {
    /// The events of `callbacks` in context `ctx`.
    #[doc(hidden)]
    pub fn new(ctx: Context, callbacks: Arc<[Arc<dyn Callback>]>) -> Events {
        let timed = callbacks.iter().any(|cb| cb.timed());
        Events { ctx, callbacks, timed }
    }

    /// A reading of the clock for timing an event, or none ([`Duration::ZERO`] later)
    /// when no callback reads the times.
    #[inline]
    #[doc(hidden)]
    pub fn tick(&self) -> Tick {
        if self.timed { Tick::now() } else { Tick(0) }
    }

    #[inline]
    fn each(&self, f: impl Fn(&dyn Callback)) {
        for cb in self.callbacks.iter() {
            f(&**cb);
        }
    }

    #[doc(hidden)]
    pub fn pipeline_start(&self) {
        self.each(|cb| cb.on_pipeline_start(&self.ctx));
    }

    #[doc(hidden)]
    pub fn pipeline_end(&self, error: Option<&Error>) {
        let end = End {
            elapsed: self.ctx.elapsed(),
            error,
        };
        self.each(|cb| cb.on_pipeline_end(&self.ctx, &end));
    }

    #[doc(hidden)]
    pub fn nested_start(&self) {
        self.each(|cb| cb.on_nested_start(&self.ctx));
    }

    #[doc(hidden)]
    pub fn nested_end(&self, error: Option<&Error>) {
        let end = End {
            elapsed: self.ctx.elapsed(),
            error,
        };
        self.each(|cb| cb.on_nested_end(&self.ctx, &end));
    }

    #[doc(hidden)]
    pub fn map_start(&self, items: usize) -> Instant {
        self.each(|cb| cb.on_map_start(&self.ctx, items));
        Instant::now()
    }

    #[doc(hidden)]
    pub fn map_end(&self, started: Instant, error: Option<&Error>) {
        let end = End {
            elapsed: started.elapsed(),
            error,
        };
        self.each(|cb| cb.on_map_end(&self.ctx, &end));
    }

    #[inline]
    #[doc(hidden)]
    pub fn item_start(&self, items: Range<usize>) {
        self.each(|cb| cb.on_map_item_start(&self.ctx, items.clone()));
    }

    #[inline]
    #[doc(hidden)]
    pub fn item_end(&self, items: Range<usize>, elapsed: Duration) {
        self.each(|cb| cb.on_map_item_end(&self.ctx, items.clone(), elapsed));
    }

    #[doc(hidden)]
    pub fn item_cached(&self, items: Range<usize>) {
        self.each(|cb| cb.on_map_item_cached(&self.ctx, items.clone()));
    }

    #[doc(hidden)]
    pub fn item_skipped(&self, items: Range<usize>) {
        self.each(|cb| cb.on_map_item_skipped(&self.ctx, items.clone()));
    }

    #[inline]
    #[doc(hidden)]
    pub fn node_start(&self, node: &Node, items: Range<usize>, inputs: &NodeData<'_>) {
        self.each(|cb| cb.on_node_start(&self.ctx, node, items.clone(), inputs));
    }

    #[inline]
    #[doc(hidden)]
    pub fn node_end(&self, node: &Node, items: Range<usize>, elapsed: Duration, outputs: &NodeData<'_>) {
        self.each(|cb| cb.on_node_end(&self.ctx, node, items.clone(), elapsed, outputs));
    }

    #[doc(hidden)]
    pub fn node_cached(&self, node: &Node, items: Range<usize>, signature: &Signature<'_>) {
        self.each(|cb| cb.on_node_cached(&self.ctx, node, items.clone(), signature));
    }

    #[doc(hidden)]
    pub fn node_error(&self, node: &Node, item: Option<usize>, error: &Error) {
        self.each(|cb| cb.on_node_error(&self.ctx, node, item, error));
    }

    /// Reports `items` ending: the runs of those whose every node was found in the
    /// cache (`cached(i)`) as cached, the others as ended.
    #[doc(hidden)]
    pub fn items_done(&self, items: Range<usize>, cached: Option<&dyn Fn(usize) -> bool>, elapsed: Duration) {
        let Some(cached) = cached else {
            self.item_end(items, elapsed);
            return;
        };
        let mut at = items.start;
        while at < items.end {
            let c = cached(at);
            let end = (at..items.end).find(|&i| cached(i) != c).unwrap_or(items.end);
            if c {
                self.item_cached(at..end);
            } else {
                self.item_end(at..end, elapsed);
            }
            at = end;
        }
    }
}

/// The ends of a map's items still to report: when each batch is done (the columnar
/// engine's last segment), or at the end of the run.
#[derive(Clone)]
#[doc(hidden)]
pub struct ItemEnds {
    #[doc(hidden)]
    pub events: Events,
    #[doc(hidden)]
    pub started: Tick,
    /// Per item, whether a node computed it (else every node found it in the cache).
    #[doc(hidden)]
    pub computed: Option<Arc<Vec<std::sync::atomic::AtomicBool>>>,
}

impl ItemEnds {
    /// Reports `items` ending.
    #[doc(hidden)]
    pub fn done(&self, items: Range<usize>) {
        let cached = self
            .computed
            .as_ref()
            .map(|c| move |i: usize| !c[i].load(Ordering::Relaxed));
        self.events.items_done(
            items,
            cached.as_ref().map(|f| f as &dyn Fn(usize) -> bool),
            self.started.elapsed(),
        );
    }
}

/// A reading of the clock events are timed with: the CPU's time stamp counter where it
/// is reliable (a third of the cost of [`Instant::now`], which matters at a few events
/// per item of a node engine map), else the OS's monotonic clock.
#[derive(Clone, Copy)]
#[doc(hidden)]
pub struct Tick(u64);

fn clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

impl Tick {
    #[inline]
    #[doc(hidden)]
    pub fn now() -> Tick {
        Tick(clock().raw())
    }

    /// The time from `earlier` to this reading (zero when either is no reading: see
    /// [`Events::tick`]).
    #[inline]
    #[doc(hidden)]
    pub fn since(self, earlier: Tick) -> Duration {
        if self.0 == 0 || earlier.0 == 0 {
            return Duration::ZERO;
        }
        clock().delta(earlier.0, self.0)
    }

    /// The time since this reading (zero when it is none).
    #[doc(hidden)]
    pub fn elapsed(self) -> Duration {
        if self.0 == 0 {
            return Duration::ZERO;
        }
        Tick::now().since(self)
    }
}

/// Calls `each(start, end)` for the runs of consecutive indices in `rows` (sorted).
#[doc(hidden)]
pub fn runs(rows: impl IntoIterator<Item = usize>, mut each: impl FnMut(Range<usize>)) {
    let mut current: Option<Range<usize>> = None;
    for r in rows {
        current = match current {
            Some(c) if c.end == r => Some(c.start..r + 1),
            Some(c) => {
                each(c);
                Some(r..r + 1)
            }
            None => Some(r..r + 1),
        };
    }
    if let Some(c) = current {
        each(c);
    }
}
