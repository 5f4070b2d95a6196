//! [`ChromeTrace`], the callback: it records every hook on the calling thread's lane and
//! writes the file when the outermost top-level run ends.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::events::{Callback, Context, End, NodeData, Signature};
use crate::node::Node;

use super::record::{Kind, Lane, Phase, Record};
use super::render::render;

/// A timeline of the runs it watches, written as a Chrome trace (the Trace Event
/// Format's JSON) that [Perfetto](https://ui.perfetto.dev) opens: one lane per thread,
/// with slices for the top-level pipeline, each map, item (or batch of items), node
/// call and nested pipeline, nested slices inside their parents.
///
/// The hooks append to a buffer of the calling thread (no shared lock); the file is
/// written once, when the outermost top-level run ends (or by
/// [`ChromeTrace::finish`]), to a temporary file renamed into place.
///
/// What the file holds:
/// - `"B"`/`"E"` pairs (begin, end) on the lane of the thread that ran the slice, in
///   the order they happened, properly nested; a slice's `args` say its `path`, its
///   `items` and, at its end, `cached` and `error`.
/// - `"b"`/`"e"` pairs (async slices, by `id`) for the spans that begin on one thread
///   and end on another, or overlap their neighbours without nesting: the columnar
///   engine starts every batch of items on the calling thread and ends them when the
///   batches are done, so its items show as async slices, above the threads' lanes.
/// - `"i"` instants for results found in the cache (`args.cached: true`) and for items
///   that never ended (a failed item has no end).
/// - `"M"` metadata: the process's name and one `thread_name` per lane (`tid` is a
///   small number per OS thread, in the order threads first reported).
///
/// `ts` is in microseconds since the trace was made (with nanosecond decimals).
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::trace::ChromeTrace;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let file = std::env::temp_dir().join(format!("hn-doc-trace-{}.json", std::process::id()));
/// let trace = ChromeTrace::new(&file);
/// let p = Pipeline::new([double::node()]).with_name("demo").with_config(RunConfig::new().with_callback(trace.clone()));
/// p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// // Written when the run ended.
/// let json = std::fs::read_to_string(&file).unwrap();
/// assert!(json.starts_with(r#"{"traceEvents":["#));
/// assert_eq!(json.matches(r#""name":"double","ph":"B""#).count(), 3);
/// # std::fs::remove_file(&file).unwrap();
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct ChromeTrace {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tells this trace's buffers apart in the threads' lists.
    id: u64,
    path: PathBuf,
    started: Instant,
    /// Every thread's buffer, in the order threads first reported.
    threads: Mutex<Vec<Arc<Mutex<Lane>>>>,
    /// Top-level runs going on.
    active: AtomicUsize,
    /// Whether a run started since the file was last written well.
    dirty: AtomicBool,
}

static NEXT_TRACE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's buffer in each trace it reported to.
    static LANES: std::cell::RefCell<Vec<(u64, Arc<Mutex<Lane>>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl ChromeTrace {
    /// A trace to be written to `path` (a `.json` file; Perfetto also opens it
    /// gzipped, which this does not do). Nothing is written before a run ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::trace::ChromeTrace;
    ///
    /// let trace = ChromeTrace::new("run.trace.json");
    /// assert_eq!(trace.path(), std::path::Path::new("run.trace.json"));
    /// assert!(!trace.path().exists());
    /// ```
    pub fn new(path: impl AsRef<Path>) -> ChromeTrace {
        ChromeTrace {
            inner: Arc::new(Inner {
                id: NEXT_TRACE.fetch_add(1, Ordering::Relaxed),
                path: path.as_ref().to_path_buf(),
                started: Instant::now(),
                threads: Mutex::new(Vec::new()),
                active: AtomicUsize::new(0),
                dirty: AtomicBool::new(true),
            }),
        }
    }

    /// The file the trace is written to (see [`ChromeTrace::new`]).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Makes sure the file holds everything recorded so far: writes it unless it was
    /// written well when the last top-level run ended.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be written.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::trace::ChromeTrace;
    ///
    /// let trace = ChromeTrace::new("/no/such/dir/trace.json");
    /// let err = trace.finish().unwrap_err();
    /// assert!(err.to_string().starts_with("Cannot write '/no/such/dir/trace.json'"), "{err}");
    /// ```
    pub fn finish(&self) -> Result<()> {
        if self.inner.dirty.load(Ordering::Acquire) || self.inner.active.load(Ordering::Acquire) > 0 {
            return self.inner.write();
        }
        Ok(())
    }

    /// Records `record` on this thread's lane.
    #[inline]
    fn push(&self, mut record: Record) {
        record.ts = self.inner.started.elapsed().as_nanos() as u64;
        let id = self.inner.id;
        let lane = LANES.with(|lanes| {
            let mut lanes = lanes.borrow_mut();
            if let Some((_, lane)) = lanes.iter().find(|(t, _)| *t == id) {
                return lane.clone();
            }
            // Forget the lanes of traces that are gone.
            lanes.retain(|(_, l)| Arc::strong_count(l) > 1);
            let mut threads = self.inner.threads.lock().unwrap_or_else(|e| e.into_inner());
            let tid = threads.len() as u32 + 1;
            let current = std::thread::current();
            let name = match current.name() {
                Some(n) => format!("{n} ({tid})"),
                None => format!("thread {tid}"),
            };
            let lane = Arc::new(Mutex::new(Lane {
                tid,
                name,
                records: Vec::new(),
            }));
            threads.push(lane.clone());
            lanes.push((id, lane.clone()));
            lane
        });
        lane.lock().unwrap_or_else(|e| e.into_inner()).records.push(record);
    }

    fn record(&self, phase: Phase, kind: Kind, ctx: &Context, node: Option<&Node>, items: Range<usize>) -> Record {
        Record {
            phase,
            kind,
            ctx: ctx.id(),
            node: node.cloned(),
            path: None,
            items,
            ts: 0,
            cached: false,
            error: None,
        }
    }

    fn begin_context(&self, kind: Kind, ctx: &Context, items: Range<usize>) {
        let mut r = self.record(Phase::Begin, kind, ctx, None, items);
        r.path = Some(ctx.path_string().into());
        self.push(r);
    }

    fn end_context(&self, kind: Kind, ctx: &Context, end: &End<'_>) {
        let mut r = self.record(Phase::End, kind, ctx, None, 0..0);
        r.error = end.error().map(|e| e.to_string().into());
        self.push(r);
    }
}

/// The items a nested context runs for (those of the outer map's innermost level).
fn context_items(ctx: &Context) -> Range<usize> {
    ctx.items().last().cloned().unwrap_or(0..1)
}

impl Callback for ChromeTrace {
    fn on_pipeline_start(&self, ctx: &Context) {
        self.inner.active.fetch_add(1, Ordering::AcqRel);
        self.inner.dirty.store(true, Ordering::Release);
        self.begin_context(Kind::Pipeline, ctx, 0..1);
    }

    fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) {
        self.end_context(Kind::Pipeline, ctx, end);
        if self.inner.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            // A hook cannot fail the run: `finish` writes again and says why.
            let _ = self.inner.write();
        }
    }

    fn on_nested_start(&self, ctx: &Context) {
        self.begin_context(Kind::Nested, ctx, context_items(ctx));
    }

    fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {
        self.end_context(Kind::Nested, ctx, end);
    }

    fn on_map_start(&self, ctx: &Context, items: usize) {
        self.begin_context(Kind::Map, ctx, 0..items);
    }

    fn on_map_end(&self, ctx: &Context, end: &End<'_>) {
        self.end_context(Kind::Map, ctx, end);
    }

    fn on_map_item_start(&self, ctx: &Context, items: Range<usize>) {
        self.push(self.record(Phase::Begin, Kind::Item, ctx, None, items));
    }

    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, _elapsed: Duration) {
        self.push(self.record(Phase::End, Kind::Item, ctx, None, items));
    }

    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
        let mut r = self.record(Phase::End, Kind::Item, ctx, None, items);
        r.cached = true;
        self.push(r);
    }

    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, _inputs: &NodeData<'_>) {
        self.push(self.record(Phase::Begin, Kind::Node, ctx, Some(node), items));
    }

    fn on_node_end(
        &self,
        ctx: &Context,
        node: &Node,
        items: Range<usize>,
        _elapsed: Duration,
        _outputs: &NodeData<'_>,
    ) {
        self.push(self.record(Phase::End, Kind::Node, ctx, Some(node), items));
    }

    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, _signature: &Signature<'_>) {
        let mut r = self.record(Phase::Instant, Kind::Node, ctx, Some(node), items);
        r.cached = true;
        self.push(r);
    }

    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
        let items = item.map_or(usize::MAX..usize::MAX, |i| i..i + 1);
        let mut r = self.record(Phase::End, Kind::Node, ctx, Some(node), items);
        r.error = Some(error.to_string().into());
        self.push(r);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The threads' lists keep the lanes (until they next report): free the events.
        for lane in self.threads.get_mut().unwrap_or_else(|e| e.into_inner()).iter() {
            lane.lock().unwrap_or_else(|e| e.into_inner()).records = Vec::new();
        }
    }
}

impl Inner {
    /// Writes every event recorded so far to the file, atomically.
    fn write(&self) -> Result<()> {
        let lanes: Vec<Arc<Mutex<Lane>>> = self.threads.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let guards: Vec<_> = lanes
            .iter()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let lanes: Vec<&Lane> = guards.iter().map(|g| &**g).collect();
        let json = render(&lanes);
        drop(guards);
        let result = write_atomically(&self.path, json.as_bytes());
        if result.is_ok() && self.active.load(Ordering::Acquire) == 0 {
            self.dirty.store(false, Ordering::Release);
        }
        result
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source: std::io::Error| Error::Io {
        action: "write",
        path: path.display().to_string().into(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temp, bytes).map_err(io)?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io(e)
    })
}
