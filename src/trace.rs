//! Timelines of runs, as callbacks: [`ChromeTrace`] writes a file in the Chrome Trace
//! Event Format that [Perfetto](https://ui.perfetto.dev) and `chrome://tracing` open,
//! one lane per thread; `Tracing` (feature `tracing`) reports runs to the
//! [`tracing`](https://docs.rs/tracing) crate's subscribers.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::events::{Callback, Context, End};
use crate::node::Node;

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

/// One thread's events.
struct Lane {
    tid: u32,
    name: String,
    records: Vec<Record>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Pipeline,
    Nested,
    Map,
    Item,
    Node,
}

impl Kind {
    fn category(self) -> &'static str {
        match self {
            Kind::Pipeline => "pipeline",
            Kind::Nested => "nested",
            Kind::Map => "map",
            Kind::Item => "item",
            Kind::Node => "node",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Begin,
    End,
    Instant,
}

struct Record {
    phase: Phase,
    kind: Kind,
    ctx: u64,
    /// The node (node records), or the path (the others' begins).
    node: Option<Node>,
    path: Option<Arc<str>>,
    items: Range<usize>,
    ts: u64,
    cached: bool,
    error: Option<Box<str>>,
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

    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>) {
        self.push(self.record(Phase::Begin, Kind::Node, ctx, Some(node), items));
    }

    fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, _elapsed: Duration) {
        self.push(self.record(Phase::End, Kind::Node, ctx, Some(node), items));
    }

    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>) {
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

/// A record's place: (lane, index in the lane).
type At = (usize, usize);

/// How a span is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// On its thread's lane, `"B"`/`"E"`.
    Slice,
    /// `"b"`/`"e"` with this id.
    Async(u64),
}

impl Record {
    fn name(&self) -> String {
        match self.kind {
            Kind::Node => self.node.as_ref().map_or("node", |n| n.name()).to_string(),
            Kind::Item if self.items.len() == 1 => format!("item {}", self.items.start),
            Kind::Item => format!("items {}..{}", self.items.start, self.items.end),
            Kind::Map => format!("map {}", self.path.as_deref().unwrap_or("")),
            Kind::Pipeline | Kind::Nested => self.path.as_deref().unwrap_or("").to_string(),
        }
    }

    /// Whether end record `end` closes this begin record.
    fn closed_by(&self, end: &Record) -> bool {
        if self.kind != end.kind || self.ctx != end.ctx {
            return false;
        }
        match self.kind {
            Kind::Node => {
                self.node.as_ref().map(Node::name) == end.node.as_ref().map(Node::name)
                    && (end.items.start == usize::MAX || self.items.contains(&end.items.start))
            }
            Kind::Item => self.items.contains(&end.items.start),
            _ => true,
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

/// The trace's JSON: every lane's records, each span drawn as a slice where it nests on
/// its thread, as an async slice where not.
fn render(lanes: &[&Lane]) -> String {
    // 1. Pair begins and ends: on the same thread first (innermost open begin that the
    //    end closes), then across threads.
    let mut pair_of: HashMap<At, At> = HashMap::new();
    let mut loose_begins: Vec<At> = Vec::new();
    let mut loose_ends: Vec<At> = Vec::new();
    for (l, lane) in lanes.iter().enumerate() {
        let mut open: Vec<usize> = Vec::new();
        for (i, r) in lane.records.iter().enumerate() {
            match r.phase {
                Phase::Begin => open.push(i),
                Phase::End => match open.iter().rposition(|&b| lane.records[b].closed_by(r)) {
                    Some(k) => {
                        let b = open.remove(k);
                        pair_of.insert((l, b), (l, i));
                    }
                    None => loose_ends.push((l, i)),
                },
                Phase::Instant => {}
            }
        }
        loose_begins.extend(open.into_iter().map(|b| (l, b)));
    }
    let rec = |(l, i): At| &lanes[l].records[i];
    let mut crossing: Vec<(At, At)> = Vec::new();
    let mut unmatched_ends: Vec<At> = Vec::new();
    // The begins left open, by kind and context, earliest first.
    let mut open: HashMap<(Kind, u64), Vec<At>> = HashMap::new();
    loose_begins.sort_by_key(|&at| rec(at).ts);
    for &b in &loose_begins {
        open.entry((rec(b).kind, rec(b).ctx)).or_default().push(b);
    }
    loose_ends.sort_by_key(|&at| rec(at).ts);
    for end in loose_ends {
        let e = rec(end);
        let candidates = open.entry((e.kind, e.ctx)).or_default();
        match candidates
            .iter()
            .position(|&b| rec(b).ts <= e.ts && rec(b).closed_by(e))
        {
            Some(k) => crossing.push((candidates.remove(k), end)),
            None => unmatched_ends.push(end),
        }
    }
    let loose_begins: Vec<At> = open.into_values().flatten().collect();

    // 2. Same-thread pairs that do not nest on their lane become async; when two spans
    //    of one kind and context overlap (the columnar engine's batches of items), all
    //    of that kind and context do, so they look alike.
    let mut shape: HashMap<At, Shape> = HashMap::new();
    let mut next_id = 1u64;
    let mut demoted_groups: HashSet<(Kind, u64)> = HashSet::new();
    for pass in 0..2 {
        shape.clear();
        for (l, lane) in lanes.iter().enumerate() {
            let mut stack: Vec<(usize, usize)> = Vec::new(); // the open slices' (begin, end)
            for (b, r) in lane.records.iter().enumerate() {
                if r.phase != Phase::Begin {
                    continue;
                }
                let Some(&(_, e)) = pair_of.get(&(l, b)) else { continue };
                if demoted_groups.contains(&(r.kind, r.ctx)) {
                    continue;
                }
                while stack.last().is_some_and(|&(_, top)| top < b) {
                    stack.pop();
                }
                match stack.last() {
                    Some(&(tb, top)) if e > top => {
                        let t = &lane.records[tb];
                        if pass == 0 && t.kind == r.kind {
                            demoted_groups.insert((r.kind, r.ctx));
                            demoted_groups.insert((t.kind, t.ctx));
                        }
                    }
                    _ => {
                        stack.push((b, e));
                        shape.insert((l, b), Shape::Slice);
                    }
                }
            }
        }
    }
    let mut ends: HashMap<At, (At, Shape)> = HashMap::new();
    for (&b, &e) in &pair_of {
        let s = match shape.get(&b) {
            Some(&s) => s,
            None => {
                next_id += 1;
                Shape::Async(next_id)
            }
        };
        shape.insert(b, s);
        ends.insert(e, (b, s));
    }
    for &(b, e) in &crossing {
        next_id += 1;
        shape.insert(b, Shape::Async(next_id));
        ends.insert(e, (b, Shape::Async(next_id)));
    }
    let unfinished: HashSet<At> = loose_begins.into_iter().collect();
    let stray: HashSet<At> = unmatched_ends.into_iter().collect();

    // 3. The events, lane by lane in time order.
    let mut out = String::with_capacity(lanes.iter().map(|l| l.records.len() * 120).sum::<usize>() + 256);
    out.push_str(r#"{"traceEvents":["#);
    out.push_str(r#"{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"hypernodes"}}"#);
    for lane in lanes {
        let _ = write!(
            out,
            r#",{{"name":"thread_name","ph":"M","pid":1,"tid":{},"args":{{"name":{}}}}}"#,
            lane.tid,
            json_string(&lane.name)
        );
    }
    for (l, lane) in lanes.iter().enumerate() {
        for (i, r) in lane.records.iter().enumerate() {
            let at = (l, i);
            let (ph, id, begin): (&str, Option<u64>, &Record) = match r.phase {
                Phase::Instant => ("i", None, r),
                Phase::Begin if unfinished.contains(&at) => ("i", None, r),
                Phase::Begin => match shape.get(&at) {
                    Some(Shape::Slice) => ("B", None, r),
                    Some(Shape::Async(id)) => ("b", Some(*id), r),
                    None => continue,
                },
                Phase::End if stray.contains(&at) => ("i", None, r),
                Phase::End => match ends.get(&at) {
                    Some((b, Shape::Slice)) => ("E", None, rec(*b)),
                    Some((b, Shape::Async(id))) => ("e", Some(*id), rec(*b)),
                    None => continue,
                },
            };
            let _ = write!(
                out,
                r#",{{"name":{},"ph":"{ph}","cat":"{}","pid":1,"tid":{},"ts":{}.{:03}"#,
                json_string(&begin.name()),
                r.kind.category(),
                lane.tid,
                r.ts / 1000,
                r.ts % 1000
            );
            if let Some(id) = id {
                let _ = write!(out, r#","id":"0x{id:x}""#);
            }
            if ph == "i" {
                out.push_str(r#","s":"t""#);
            }
            out.push_str(r#","args":{"#);
            let mut first = true;
            let mut arg = |out: &mut String, key: &str, value: String| {
                let _ = write!(out, "{}\"{key}\":{value}", if first { "" } else { "," });
                first = false;
            };
            if matches!(r.phase, Phase::Begin | Phase::Instant) {
                if let Some(path) = &r.path {
                    arg(&mut out, "path", json_string(path));
                }
                if r.kind != Kind::Pipeline && r.items.start != usize::MAX {
                    arg(
                        &mut out,
                        "items",
                        json_string(&format!("{}..{}", r.items.start, r.items.end)),
                    );
                    arg(&mut out, "count", r.items.len().to_string());
                }
            }
            if r.phase == Phase::Begin && unfinished.contains(&at) {
                arg(&mut out, "ended", "false".into());
            }
            if r.phase != Phase::Begin {
                if r.kind == Kind::Item || r.kind == Kind::Node {
                    arg(&mut out, "cached", r.cached.to_string());
                }
                if r.phase == Phase::End && r.kind == Kind::Item && r.items != begin.items {
                    arg(
                        &mut out,
                        "items",
                        json_string(&format!("{}..{}", r.items.start, r.items.end)),
                    );
                }
                if let Some(error) = &r.error {
                    arg(&mut out, "error", json_string(error));
                }
            }
            out.push_str("}}");
        }
    }
    out.push_str(r#"],"displayTimeUnit":"ms"}"#);
    out.push('\n');
    out
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    // Unreachable: a `str` always serializes.
    serde_json::to_string(s).expect("a string serializes")
}

#[cfg(feature = "tracing")]
pub use self::tracing_events::Tracing;

#[cfg(feature = "tracing")]
mod tracing_events {
    use std::collections::HashMap;
    use std::fmt;
    use std::ops::Range;
    use std::sync::Mutex;
    use std::time::Duration;

    use tracing::{Level, Span};

    use crate::error::Error;
    use crate::events::{Callback, Context, End};
    use crate::node::Node;

    /// Reports runs to [`tracing`](https://docs.rs/tracing): a span per top-level run
    /// (`pipeline`, INFO) and per nested pipeline call (`nested`, a child of its outer
    /// run's span), and inside them an event at the end of every map (INFO), node call
    /// (`node`, DEBUG) and item (`item`, TRACE), with the fields `path`, `node`,
    /// `items` (a range), `count`, `elapsed_us`, `cache` (`hit` or `miss`) and `error`
    /// (a failed node: an ERROR event).
    ///
    /// Why events at the end rather than a span per node and item: the start and end of
    /// a batch of items can come on different threads (the columnar engine starts every
    /// batch on the calling thread and ends it where it ran), and a span per item of a
    /// million-item map costs more than the items. One event when the work is done,
    /// carrying how long it took, renders as one line in a log and costs nothing when
    /// its level is off. The spans are made with explicit parents and never entered on
    /// a thread, so what they contain does not depend on which thread reports it.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::trace::Tracing;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// // With a subscriber installed (tracing-subscriber's `fmt()`, for one), the run
    /// // logs `pipeline{path=demo}: node node="double" items=0..1 ... cache="miss"`.
    /// let p = Pipeline::new([double::node()]).with_name("demo").with_config(RunConfig::new().with_callback(Tracing::new()));
    /// p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip")?;
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    #[derive(Default)]
    pub struct Tracing {
        /// The span of each top-level run and nested call going on, by context id.
        spans: Mutex<HashMap<u64, Span>>,
    }

    impl Tracing {
        /// Reports to the current subscriber (of the thread that reports each event).
        pub fn new() -> Tracing {
            Tracing::default()
        }

        fn span_of(&self, ctx: &Context) -> Span {
            self.spans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&ctx.id())
                .cloned()
                .unwrap_or_else(Span::none)
        }

        fn open(&self, ctx: &Context, span: Span) {
            self.spans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ctx.id(), span);
        }

        fn close(&self, ctx: &Context) -> Span {
            self.spans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&ctx.id())
                .unwrap_or_else(Span::none)
        }
    }

    /// A context's path, displayed without being joined first.
    struct PathOf<'a>(&'a Context);

    impl fmt::Display for PathOf<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, p) in self.0.path().iter().enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                f.write_str(p)?;
            }
            Ok(())
        }
    }

    fn micros(d: Duration) -> u64 {
        d.as_micros() as u64
    }

    impl Callback for Tracing {
        fn on_pipeline_start(&self, ctx: &Context) {
            let span = tracing::info_span!(parent: None, "pipeline", path = %PathOf(ctx));
            self.open(ctx, span);
        }

        fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) {
            let span = self.close(ctx);
            match end.error() {
                None => {
                    tracing::info!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), "pipeline end")
                }
                Some(e) => {
                    tracing::error!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), error = %e, "pipeline failed")
                }
            }
        }

        fn on_nested_start(&self, ctx: &Context) {
            let parent = ctx.parent().map(|p| self.span_of(p)).unwrap_or_else(Span::none);
            let items = ctx.items().last().cloned().unwrap_or(0..1);
            let span = tracing::info_span!(parent: &parent, "nested", path = %PathOf(ctx), items = ?items);
            self.open(ctx, span);
        }

        fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {
            let span = self.close(ctx);
            match end.error() {
                None => {
                    tracing::debug!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), "nested end")
                }
                Some(e) => {
                    tracing::debug!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), error = %e, "nested failed")
                }
            }
        }

        fn on_map_start(&self, ctx: &Context, items: usize) {
            if tracing::enabled!(Level::INFO) {
                tracing::info!(parent: &self.span_of(ctx), path = %PathOf(ctx), count = items, "map start");
            }
        }

        fn on_map_end(&self, ctx: &Context, end: &End<'_>) {
            if tracing::enabled!(Level::INFO) {
                let span = self.span_of(ctx);
                match end.error() {
                    None => {
                        tracing::info!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), "map end")
                    }
                    Some(e) => {
                        tracing::info!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), error = %e, "map failed")
                    }
                }
            }
        }

        fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, elapsed: Duration) {
            if tracing::enabled!(Level::TRACE) {
                tracing::trace!(parent: &self.span_of(ctx), path = %PathOf(ctx), count = items.len(), items = ?items, elapsed_us = micros(elapsed), cache = "miss", "item");
            }
        }

        fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
            if tracing::enabled!(Level::TRACE) {
                tracing::trace!(parent: &self.span_of(ctx), path = %PathOf(ctx), count = items.len(), items = ?items, cache = "hit", "item");
            }
        }

        fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, elapsed: Duration) {
            if tracing::enabled!(Level::DEBUG) {
                tracing::debug!(parent: &self.span_of(ctx), path = %PathOf(ctx), node = node.name(), count = items.len(), items = ?items, elapsed_us = micros(elapsed), cache = "miss", "node");
            }
        }

        fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>) {
            if tracing::enabled!(Level::DEBUG) {
                tracing::debug!(parent: &self.span_of(ctx), path = %PathOf(ctx), node = node.name(), count = items.len(), items = ?items, cache = "hit", "node");
            }
        }

        fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
            tracing::error!(parent: &self.span_of(ctx), path = %PathOf(ctx), node = node.name(), item = ?item, error = %error, "node failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a \"b\"\n\\c\u{1}"), r#""a \"b\"\n\\c\u0001""#);
    }
}
