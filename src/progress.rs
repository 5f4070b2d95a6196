//! Progress bars for runs: [`ProgressBars`], a [`Callback`] that draws one bar per
//! pipeline and per node with [indicatif](https://docs.rs/indicatif), nested pipelines
//! indented under their node.
//!
//! # How it stays cheap
//!
//! The hooks may be called millions of times, from many threads at once. A node or item
//! hook does no drawing and takes no lock: it finds its row in a small per-thread cache
//! (keyed by the context's id and the node's name) and adds to a counter sharded over
//! threads, so threads do not fight over one cache line. A ticker thread reads the
//! counters 15 times a second and hands them to indicatif, which draws. Only a row's
//! first use on a thread, and the starts and ends of runs, take the lock. Rows are found by
//! their path of names, not by context: a nested pipeline called once per outer item
//! (the node engine) adds to the same rows every time, so its totals come out as the
//! columnar engine's, which calls it once over all the inner items.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// The indicatif crate the draw targets come from (this crate's version of it).
pub use indicatif;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Error;
use crate::events::{Callback, Context, End, NodeData, Signature};
use crate::node::Node;

mod format;
mod sharded;

use format::{cached_share, format_count, format_duration};
use sharded::{SHARDS, Sharded};

/// How often the ticker hands the counts to indicatif, and the most often the bars are
/// drawn.
const HZ: u8 = 15;

/// The template of a row while it runs, and once finished (`msg` then holds the
/// elapsed time and the rate).
const TEMPLATE: &str = "{prefix:<26!} [{bar:30}] {human_pos:>9}/{human_len:<9} {msg}";

/// Progress bars for the runs a [`RunConfig`](crate::RunConfig) watches: one row per
/// pipeline (its items, or its nodes when it is not mapped) and one per node, a nested
/// pipeline's rows indented under its node (its own row, named `PIPELINE (nested)`,
/// counts its items over every call), in the order they first show up:
///
/// ```text
/// sentences                  [==============================]    30,000/30,000    items in 0.40 s (75.4k/s)
///   per_sentence             [==============================]    30,000/30,000    items in 0.36 s (82.7k/s)
///     sentence (nested)      [==============================]   135,539/135,539   items in 0.36 s (373.8k/s)
///       count_words          [==============================]   135,539/135,539   items in 0.36 s (373.9k/s)
///   sum                      [==============================]    30,000/30,000    items in 0.36 s (84.0k/s)
/// ```
///
/// Rows are keyed by names: the path of the context (top-level pipeline, then each
/// nested node) and the node's name. Every
/// [`on_map_start`](Callback::on_map_start) adds its items to its row's total, so a
/// nested map called once per outer item adds up to the total of inner items, as the
/// columnar engine's single call over all of them does (while the run goes on, such a
/// total is the inner items announced so far). A node's row advances by the
/// items of each [`on_node_end`](Callback::on_node_end) and
/// [`on_node_cached`](Callback::on_node_cached) (and says how many were cached or
/// failed); a pipeline's row by its items' ends. A pipeline that is not mapped (a `run`,
/// or a nested pipeline without `map_over`) counts nodes instead, a node over an item
/// being one, so that its rows show how far a single run is: its row counts its nodes'
/// items started and done, each node's row its own (the total grows as nodes start).
/// When the top-level run ends the rows show their final counts, the share served from
/// the cache (`items, 4 cached (40%)`), the time they took and the rate; a later run of
/// the same callback draws new rows below.
///
/// Drawn on standard error when it is a terminal, not at all otherwise (see
/// [`ProgressBars::is_hidden`]). The node and item hooks take no lock and draw nothing:
/// a ticker thread updates the bars 15 times a second while a run is on.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::progress::ProgressBars;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let bars = ProgressBars::new(); // drawn only when standard error is a terminal
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_callback(bars));
/// let out = p.map(&Inputs::new().with("x", (0..1000_i64).collect::<Vec<_>>()), &["x"], "zip")?;
/// assert_eq!(out.len(), 1000);
/// # Ok::<(), hypernodes::Error>(())
/// ```
///
/// Drawn into a terminal of your own, here indicatif's in-memory one:
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::progress::indicatif::{InMemoryTerm, ProgressDrawTarget};
/// use hypernodes::progress::ProgressBars;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let term = InMemoryTerm::new(10, 140);
/// let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
/// let p = Pipeline::new([double::node()]).with_name("demo");
/// p.map_with(
///     &Inputs::new().with("x", vec![1_i64, 2, 3]),
///     &["x"],
///     "zip",
///     &RunOptions::new().with_config(RunConfig::new().with_callback(bars)),
/// )?;
/// let screen = term.contents();
/// let lines: Vec<&str> = screen.lines().collect();
/// assert!(lines[0].starts_with("demo "), "{screen}");
/// assert!(lines[0].contains("3/3         items in "), "{screen}");
/// assert!(lines[1].starts_with("  double "), "{screen}");
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct ProgressBars {
    shared: Arc<Shared>,
}

struct Shared {
    /// Tells this callback's rows apart in the threads' caches.
    id: u64,
    multi: MultiProgress,
    hidden: bool,
    state: Mutex<State>,
    /// The ticker thread's state, and what wakes it to stop.
    ticker: (Mutex<Ticker>, Condvar),
}

/// The thread that hands the counts to the bars: started by the first run, kept (idle
/// between runs) while the bars live, so that a run does not pay for starting a thread
/// (on short runs, a thread's stack mapped and unmapped per run slowed the run's own
/// page faults by a third).
#[derive(Default)]
struct Ticker {
    running: bool,
    /// No run is going on: the thread waits, waking once a second to see whether the
    /// bars are gone.
    idle: bool,
}

#[derive(Default)]
struct State {
    /// The rows of the runs going on, by path and node name (`None`: the pipeline's row).
    rows: HashMap<RowKey, Arc<Row>>,
    /// The same rows in the order drawn.
    order: Vec<Arc<Row>>,
    /// Top-level runs going on, per top-level pipeline name.
    active: HashMap<Arc<str>, usize>,
}

/// A row's path and node name.
type RowKey = (Vec<Arc<str>>, Option<Arc<str>>);

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
static NEXT_BARS: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The rows this thread used last, and its shard of the counters.
    static CACHE: RefCell<RowCache> = RefCell::new(RowCache {
        slots: Vec::with_capacity(CACHE_SLOTS),
        paths: HashMap::new(),
        clock: 0,
        shard: NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS,
    });
}

/// A few rows by (callback, context id, node name), least recently used replaced; and
/// the rows this thread used, by (callback, hash of their path and node name).
struct RowCache {
    slots: Vec<Slot>,
    paths: HashMap<(u64, u64), Vec<Arc<Row>>>,
    clock: u64,
    shard: usize,
}

/// A row found for a node of a context. The name is compared by address: within one
/// context the pipeline, so its nodes and their names, stay put, and different nodes
/// have different names at different addresses. A name seen at another address only
/// costs a lookup under the lock (which compares names).
struct Slot {
    ctx: u64,
    bars: u64,
    name: (usize, usize),
    used: u64,
    row: Arc<Row>,
}

const CACHE_SLOTS: usize = 16;
const MAX_PATHS: usize = 4096;

fn path_hash(path: &[Arc<str>], node: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    node.hash(&mut h);
    h.finish()
}

/// `node`'s name as (address, length); `(0, 0)` for the pipeline's row.
#[inline]
fn name_key(node: Option<&str>) -> (usize, usize) {
    node.map_or((0, 0), |n| (n.as_ptr() as usize, n.len()))
}

impl RowCache {
    #[inline]
    fn find(&mut self, bars: u64, ctx: u64, name: (usize, usize)) -> Option<&Row> {
        self.clock += 1;
        let clock = self.clock;
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.ctx == ctx && s.name == name && s.bars == bars)?;
        slot.used = clock;
        Some(&slot.row)
    }

    /// The row of `path` and `node` this thread used in a run still going on.
    fn by_path(&mut self, bars: u64, path: &[Arc<str>], node: Option<&str>) -> Option<Arc<Row>> {
        let rows = self.paths.get_mut(&(bars, path_hash(path, node)))?;
        rows.retain(|r| !r.finished.load(Ordering::Relaxed));
        rows.iter()
            .find(|r| r.key.1.as_deref() == node && r.key.0[..] == *path)
            .cloned()
    }

    fn remember(&mut self, bars: u64, row: Arc<Row>) {
        if self.paths.len() >= MAX_PATHS {
            // Rows of callbacks gone, or of many pipelines: start again.
            self.paths.clear();
        }
        let h = path_hash(&row.key.0, row.key.1.as_deref());
        self.paths.entry((bars, h)).or_default().push(row);
    }

    fn insert(&mut self, bars: u64, ctx: u64, name: (usize, usize), row: Arc<Row>) {
        let slot = Slot {
            ctx,
            bars,
            name,
            used: self.clock,
            row,
        };
        if self.slots.len() < CACHE_SLOTS {
            self.slots.push(slot);
        } else if let Some(oldest) = self.slots.iter_mut().min_by_key(|s| s.used) {
            *oldest = slot;
        }
    }
}

/// One row: a pipeline's or a node's counts and its bar.
struct Row {
    bar: ProgressBar,
    /// Indentation: 2 × depth for a pipeline, one more for a node.
    level: usize,
    /// The top-level pipeline's name: the run the row belongs to.
    root: Arc<str>,
    /// Its path and node name.
    key: RowKey,
    /// For a node: the row of its pipeline, whose total is the node's.
    pipeline: Option<Arc<Row>>,
    /// Items done (ended, cached or skipped), and of them cached, and skipped by an
    /// incremental run (their outputs up to date).
    done: Sharded,
    cached: Sharded,
    skipped: AtomicU64,
    failed: AtomicU64,
    /// Items announced by map starts, and whether there were any.
    total: AtomicU64,
    mapped: AtomicBool,
    /// What a pipeline that is not mapped counts, a node over an item being one: for a
    /// node, its items started or cached; for a pipeline, those of its nodes.
    node_total: Sharded,
    /// For a pipeline, its nodes' items done (a node's own are `done`).
    node_done: Sharded,
    started: Instant,
    finished: AtomicBool,
}

impl Row {
    /// The row's (done, total, unit): items when its pipeline is mapped (a node's total
    /// is its pipeline's), else nodes (a node over an item is one: the same count on both
    /// engines, however often a nested pipeline is called).
    fn counts(&self) -> (u64, u64, &'static str) {
        let pipeline = self.pipeline.as_deref().unwrap_or(self);
        match (&self.pipeline, pipeline.mapped.load(Ordering::Relaxed)) {
            // A node's items skipped are its pipeline's (their rows reach no node).
            (Some(_), true) => (
                self.done.sum() + self.skipped(),
                pipeline.total.load(Ordering::Relaxed),
                "items",
            ),
            (None, true) => (self.done.sum(), pipeline.total.load(Ordering::Relaxed), "items"),
            (None, false) => (self.node_done.sum(), self.node_total.sum(), "nodes"),
            (Some(_), false) => (self.done.sum(), self.node_total.sum(), "nodes"),
        }
    }

    /// Items skipped by an incremental run: its pipeline's, for a node.
    fn skipped(&self) -> u64 {
        self.pipeline.as_deref().unwrap_or(self).skipped.load(Ordering::Relaxed)
    }

    /// `items, 6 skipped, 4 cached, 1 failed`; once finished, with the share served from
    /// the cache (`items, 4 cached (40%)`).
    fn message(&self, unit: &str, finished: Option<u64>) -> String {
        let mut msg = unit.to_string();
        let skipped = self.skipped();
        if skipped > 0 {
            msg.push_str(&format!(", {skipped} skipped"));
        }
        let cached = self.cached.sum();
        if cached > 0 {
            msg.push_str(&format!(", {cached} cached"));
            if let Some(done) = finished {
                msg.push_str(&cached_share(cached, done));
            }
        }
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            msg.push_str(&format!(", {failed} failed"));
        }
        msg
    }

    /// Hands the counts to the bar (which draws when its rate allows); a finished row
    /// keeps its final counts and message.
    fn tick(&self) {
        if self.finished.load(Ordering::Relaxed) {
            return;
        }
        let (done, total, unit) = self.counts();
        self.bar.set_length(total.max(done));
        self.bar.set_message(self.message(unit, None));
        self.bar.set_position(done);
    }

    /// Final counts, time and rate.
    fn finish(&self) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        let (done, total, unit) = self.counts();
        let elapsed = self.started.elapsed();
        // The rate of the items run: those skipped took no time.
        let run = done.saturating_sub(self.skipped());
        let rate = run as f64 / elapsed.as_secs_f64().max(1e-9);
        let msg = format!(
            "{} in {} ({}/s)",
            self.message(unit, Some(done)),
            format_duration(elapsed),
            format_count(rate)
        );
        self.bar.set_length(total.max(done));
        self.bar.set_position(done);
        // Left where it is: a failed run's rows show how far they got.
        self.bar.abandon_with_message(msg);
    }
}

impl Default for ProgressBars {
    fn default() -> Self {
        ProgressBars::new()
    }
}

impl ProgressBars {
    /// Bars drawn on standard error, 15 times a second at most, when it is a terminal;
    /// hidden otherwise (piped to a file, under CI, `TERM=dumb`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::IsTerminal;
    /// use hypernodes::progress::ProgressBars;
    ///
    /// let bars = ProgressBars::new();
    /// if !std::io::stderr().is_terminal() {
    ///     assert!(bars.is_hidden());
    /// }
    /// ```
    pub fn new() -> ProgressBars {
        if std::io::stderr().is_terminal() {
            ProgressBars::with_draw_target(ProgressDrawTarget::stderr_with_hz(HZ))
        } else {
            ProgressBars::hidden()
        }
    }

    /// Bars that count but draw nothing: what a run pays for progress, without a
    /// terminal (for benchmarks and tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::progress::ProgressBars;
    ///
    /// assert!(ProgressBars::hidden().is_hidden());
    /// ```
    pub fn hidden() -> ProgressBars {
        ProgressBars::with_draw_target(ProgressDrawTarget::hidden())
    }

    /// Bars drawn to `target` (indicatif's; `hypernodes::progress::indicatif` is the
    /// version this crate uses).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::progress::indicatif::ProgressDrawTarget;
    /// use hypernodes::progress::ProgressBars;
    ///
    /// let bars = ProgressBars::with_draw_target(ProgressDrawTarget::stdout());
    /// # let _ = bars;
    /// ```
    pub fn with_draw_target(target: ProgressDrawTarget) -> ProgressBars {
        let hidden = target.is_hidden();
        ProgressBars {
            shared: Arc::new(Shared {
                id: NEXT_BARS.fetch_add(1, Ordering::Relaxed),
                multi: MultiProgress::with_draw_target(target),
                hidden,
                state: Mutex::new(State::default()),
                ticker: (Mutex::new(Ticker::default()), Condvar::new()),
            }),
        }
    }

    /// Whether nothing is drawn (the target is hidden, or not a terminal).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::progress::indicatif::{InMemoryTerm, ProgressDrawTarget};
    /// use hypernodes::progress::ProgressBars;
    ///
    /// assert!(ProgressBars::hidden().is_hidden());
    /// let term = InMemoryTerm::new(10, 80);
    /// assert!(!ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term))).is_hidden());
    /// ```
    pub fn is_hidden(&self) -> bool {
        self.shared.hidden
    }

    /// Calls `f` with the row of `node` (or of the pipeline, for `None`) in `ctx` and
    /// this thread's shard: from this thread's cache (no lock, no shared write), else
    /// found or made under the lock.
    #[inline]
    fn with_row<R>(&self, ctx: &Context, node: Option<&str>, f: impl FnOnce(&Row, usize) -> R) -> R {
        let id = self.shared.id;
        let name = name_key(node);
        CACHE.with(|c| {
            let mut cache = c.borrow_mut();
            let shard = cache.shard;
            if let Some(row) = cache.find(id, ctx.id(), name) {
                return f(row, shard);
            }
            // A context seen for the first time on this thread: the row of its path,
            // from this thread's rows by path (a nested pipeline's context is new at
            // every call of the node engine), else under the lock.
            let row = match cache.by_path(id, ctx.path(), node) {
                Some(row) => row,
                None => {
                    let row = self.shared.lookup(ctx, node);
                    cache.remember(id, row.clone());
                    row
                }
            };
            let out = f(&row, shard);
            cache.insert(id, ctx.id(), name, row);
            out
        })
    }

    /// Starts the thread that hands the counts to the bars, or wakes it.
    fn start_ticker(&self) {
        let mut ticker = self.shared.ticker.0.lock().unwrap_or_else(|e| e.into_inner());
        ticker.idle = false;
        if ticker.running {
            self.shared.ticker.1.notify_all();
            return;
        }
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("hypernodes-progress".into())
            .spawn(move || {
                loop {
                    // The bars are gone: so is the thread.
                    let Some(shared) = weak.upgrade() else { return };
                    let ticker = shared.ticker.0.lock().unwrap_or_else(|e| e.into_inner());
                    let wait = if ticker.idle { 1000 } else { 1000 / HZ as u64 };
                    let (ticker, _) = shared
                        .ticker
                        .1
                        .wait_timeout(ticker, Duration::from_millis(wait))
                        .unwrap_or_else(|e| e.into_inner());
                    let idle = ticker.idle;
                    drop(ticker);
                    if !idle {
                        // Under the lock, so that no tick draws a row once it is finished (a
                        // draw then would move the cursor over what the program printed since).
                        let state = shared.lock();
                        for row in &state.order {
                            row.tick();
                        }
                    }
                }
            });
        ticker.running = spawned.is_ok();
    }

    /// Lets the ticker rest until the next run.
    fn stop_ticker(&self) {
        self.shared.ticker.0.lock().unwrap_or_else(|e| e.into_inner()).idle = true;
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finds or makes the row of `node` (or of the pipeline) at `ctx`'s path.
    fn lookup(&self, ctx: &Context, node: Option<&str>) -> Arc<Row> {
        let mut state = self.lock();
        self.find_or_make(&mut state, ctx.path(), ctx.pipeline(), node)
    }

    fn find_or_make(&self, state: &mut State, path: &[Arc<str>], pipeline: &str, node: Option<&str>) -> Arc<Row> {
        let key = (path.to_vec(), node.map(Arc::from));
        if let Some(row) = state.rows.get(&key) {
            return row.clone();
        }
        let depth = path.len() - 1;
        // The parent row: a node's pipeline; a nested pipeline's node in the outer
        // pipeline (named by the last part of its path, the outer one's by the others).
        let (parent, level, label, pipeline_row) = match node {
            Some(name) => {
                let p = self.find_or_make(state, path, pipeline, None);
                (Some(p.clone()), 2 * depth + 1, name.to_string(), Some(p))
            }
            None if depth == 0 => (None, 0, pipeline.to_string(), None),
            None => {
                let outer = &path[..depth];
                let outer_name = outer.last().expect("a root").to_string();
                let n = self.find_or_make(state, outer, &outer_name, Some(&path[depth]));
                (Some(n), 2 * depth, format!("{pipeline} (nested)"), None)
            }
        };
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden())
            .with_style(style())
            .with_prefix(format!("{}{}", "  ".repeat(level), label))
            .with_message("items");
        // Right after the last row under the parent (rows under a row follow it, deeper).
        let at = match parent
            .as_ref()
            .and_then(|p| state.order.iter().position(|r| Arc::ptr_eq(r, p)))
        {
            Some(at) => {
                let mut last = at;
                while last + 1 < state.order.len() && state.order[last + 1].level > state.order[at].level {
                    last += 1;
                }
                Some(last)
            }
            None => None,
        };
        let (bar, at) = match at {
            Some(last) => (self.multi.insert_after(&state.order[last].bar, bar), last + 1),
            None => (self.multi.add(bar), state.order.len()),
        };
        let row = Arc::new(Row::new(bar, level, key.clone(), pipeline_row));
        state.order.insert(at, row.clone());
        state.rows.insert(key, row.clone());
        row
    }

    /// The end of the top-level runs of `root`: their rows show their final counts and
    /// leave the table (a later run of the same pipeline gets new rows).
    fn finish_root(&self, root: &Arc<str>) {
        let mut state = self.lock();
        let left = state.active.get_mut(root).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left.unwrap_or(0) > 0 {
            return;
        }
        state.active.remove(root);
        let (mine, others): (Vec<Arc<Row>>, Vec<Arc<Row>>) = state.order.drain(..).partition(|r| r.root == *root);
        state.order = others;
        state.rows.retain(|_, r| r.root != *root);
        // Still under the lock: the ticker draws none of them again.
        for row in mine {
            row.finish();
        }
    }
}

impl Row {
    /// A node's row: its pipeline's row when that counts nodes (is not mapped). A mapped
    /// run pays one load per event for the node counts it does not show.
    #[inline]
    fn counting_nodes(&self) -> Option<&Row> {
        self.pipeline.as_deref().filter(|p| !p.mapped.load(Ordering::Relaxed))
    }

    /// A node's row: `n` of its items started (or found in the cache).
    #[inline]
    fn started(&self, shard: usize, n: u64) {
        if let Some(p) = self.counting_nodes() {
            self.node_total.add(shard, n);
            p.node_total.add(shard, n);
        }
    }

    /// A node's row: `n` of its items done (ended or cached).
    #[inline]
    fn node_done(&self, shard: usize, n: u64) {
        self.done.add(shard, n);
        if let Some(p) = self.counting_nodes() {
            p.node_done.add(shard, n);
        }
    }

    /// A node's row: `n` of its items found in the cache (a mapped pipeline's row counts
    /// its items cached instead).
    fn node_cached(&self, shard: usize, n: u64) {
        self.started(shard, n);
        self.node_done(shard, n);
        self.cached.add(shard, n);
        if let Some(p) = self.counting_nodes() {
            p.cached.add(shard, n);
        }
    }

    fn new(bar: ProgressBar, level: usize, key: RowKey, pipeline: Option<Arc<Row>>) -> Row {
        Row {
            bar,
            level,
            root: key.0[0].clone(),
            key,
            pipeline,
            done: Sharded::new(),
            cached: Sharded::new(),
            skipped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            total: AtomicU64::new(0),
            mapped: AtomicBool::new(false),
            node_total: Sharded::new(),
            node_done: Sharded::new(),
            started: Instant::now(),
            finished: AtomicBool::new(false),
        }
    }
}

fn style() -> ProgressStyle {
    // Unreachable: the template is a constant that parses.
    ProgressStyle::with_template(TEMPLATE)
        .expect("a valid template")
        .progress_chars("=> ")
}

impl Callback for ProgressBars {
    fn on_pipeline_start(&self, ctx: &Context) {
        {
            let mut state = self.shared.lock();
            let root = ctx.path()[0].clone();
            let active = state.active.entry(root.clone()).or_insert(0);
            *active += 1;
            if *active == 1 {
                // A new run of this pipeline: new rows (those of an earlier run were
                // finished when it ended).
                state.rows.retain(|_, r| r.root != root);
            }
        }
        self.with_row(ctx, None, |_, _| ());
        self.start_ticker();
    }

    fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) {
        self.with_row(ctx, None, |row, _| {
            if end.error().is_some() && !row.mapped.load(Ordering::Relaxed) {
                row.failed.fetch_add(1, Ordering::Relaxed);
            }
        });
        self.shared.finish_root(&ctx.path()[0]);
        if self.shared.lock().active.is_empty() {
            self.stop_ticker();
        }
    }

    fn on_nested_start(&self, ctx: &Context) {
        // Makes the row, so that a nested pipeline shows before its first node ends.
        self.with_row(ctx, None, |_, _| ());
    }

    fn on_map_start(&self, ctx: &Context, items: usize) {
        self.with_row(ctx, None, |row, _| {
            row.total.fetch_add(items as u64, Ordering::Relaxed);
            row.mapped.store(true, Ordering::Relaxed);
        });
    }

    #[inline]
    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, _elapsed: Duration) {
        self.with_row(ctx, None, |r, shard| r.done.add(shard, items.len() as u64));
    }

    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
        self.with_row(ctx, None, |row, shard| {
            row.done.add(shard, items.len() as u64);
            row.cached.add(shard, items.len() as u64);
        });
    }

    fn on_map_item_skipped(&self, ctx: &Context, items: Range<usize>) {
        self.with_row(ctx, None, |row, shard| {
            row.done.add(shard, items.len() as u64);
            row.skipped.fetch_add(items.len() as u64, Ordering::Relaxed);
        });
    }

    #[inline]
    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, _inputs: &NodeData<'_>) {
        // Also makes the row, so that a slow node shows before it ends.
        self.with_row(ctx, Some(node.name()), |r, shard| r.started(shard, items.len() as u64));
    }

    #[inline]
    fn on_node_end(
        &self,
        ctx: &Context,
        node: &Node,
        items: Range<usize>,
        _elapsed: Duration,
        _outputs: &NodeData<'_>,
    ) {
        self.with_row(ctx, Some(node.name()), |r, shard| {
            r.node_done(shard, items.len() as u64)
        });
    }

    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, _signature: &Signature<'_>) {
        self.with_row(ctx, Some(node.name()), |r, shard| {
            r.node_cached(shard, items.len() as u64)
        });
    }

    /// Bars count items and take their rates from their own clock.
    fn timed(&self) -> bool {
        false
    }

    fn on_node_error(&self, ctx: &Context, node: &Node, _item: Option<usize>, _error: &Error) {
        self.with_row(ctx, Some(node.name()), |r, _| r.failed.fetch_add(1, Ordering::Relaxed));
        self.with_row(ctx, None, |row, _| {
            if row.mapped.load(Ordering::Relaxed) {
                row.failed.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker.0.lock().unwrap_or_else(|e| e.into_inner()).idle = true;
        self.ticker.1.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_when_not_a_terminal() {
        assert!(ProgressBars::hidden().is_hidden());
        if !std::io::stderr().is_terminal() {
            assert!(ProgressBars::new().is_hidden());
        }
    }
}
