//! How a run executes: the [`Executor`]s of the independent nodes of a run and of the
//! items of a map, the failure policy of a map ([`OnError`]), retries ([`Retry`]) and
//! timeouts, and the [`RunConfig`] that carries them from the call site, the pipeline,
//! its parents and the process default.
//!
//! # Executors
//!
//! | executor | what runs at once | on what |
//! |---|---|---|
//! | `sequential` | one thing at a time | the calling thread |
//! | `threaded:N` | up to N items (or nodes), each on its own thread | a pool of N threads kept for blocking work (I/O, sleeps, remote calls) |
//! | `async:N` | up to N items in flight; `async fn` nodes awaited concurrently | tokio; the sync nodes of those items go to tokio's blocking pool, items (or rows) without `async fn` nodes to a pool of N threads |
//! | `parallel:N` | CPU-bound items split over N threads by work stealing | a rayon pool of N threads (default: one per core) |
//!
//! One pool exists per kind and width for the whole process, so nested maps that
//! inherit their parent's executor share its threads: a parallel map inside a parallel
//! map inside a parallel map still runs on that one pool's N threads in all, and an inner
//! map waiting for its items lends its thread to them (rayon's work stealing), so it
//! never deadlocks on the pool it runs in.
//!
//! # Examples
//!
//! ```
//! use hypernodes::exec::{Executor, OnError};
//!
//! assert_eq!("threaded:64".parse::<Executor>()?, Executor::Threaded(64));
//! assert_eq!("async".parse::<Executor>()?, Executor::Async(Executor::ASYNC_WIDTH));
//! assert_eq!(Executor::Parallel(4).to_string(), "parallel:4");
//! let err = "threads".parse::<Executor>().unwrap_err();
//! assert_eq!(err.to_string(), "Unknown executor 'threads'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]");
//! assert_eq!("collect".parse::<OnError>()?, OnError::Collect);
//! # Ok::<(), hypernodes::Error>(())
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use rayon::prelude::*;

use crate::cache::{Cache, CacheReport, Session};
use crate::engine::{Engine, NodeEngine};
use crate::error::{Error, Result};
use crate::events::{Callback, Context, Events};

/// How independent work runs: the nodes of one run whose inputs are ready (the node
/// executor) or the items of a map (the map executor). See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Executor {
    /// One at a time, on the calling thread.
    Sequential,
    /// Up to `n` at once on a pool of `n` threads kept for blocking work.
    Threaded(usize),
    /// Up to `n` items in flight on tokio: `async fn` nodes are awaited concurrently,
    /// the sync nodes of those items run on tokio's blocking pool; items without an
    /// `async fn` node run on a pool of `n` threads, like [`Executor::Threaded`].
    Async(usize),
    /// CPU-bound work split over a rayon pool of `n` threads.
    Parallel(usize),
}

impl Default for Executor {
    /// [`Executor::Sequential`].
    fn default() -> Self {
        Executor::Sequential
    }
}

impl Executor {
    /// The width of `"threaded"` without a number: threads for blocking calls.
    pub const THREADED_WIDTH: usize = 32;
    /// The width of `"async"` without a number: items in flight.
    pub const ASYNC_WIDTH: usize = 100;

    /// `parallel` with one thread per core.
    pub fn parallel() -> Executor {
        Executor::Parallel(cores())
    }

    /// How many things run at once (1 for [`Executor::Sequential`]).
    pub fn width(&self) -> usize {
        match *self {
            Executor::Sequential => 1,
            Executor::Threaded(n) | Executor::Async(n) | Executor::Parallel(n) => n,
        }
    }

    /// The pool that runs this executor's synchronous work: `None` for sequential work;
    /// `async:N` runs synchronous work (items without `async fn` nodes, rows of other
    /// nodes, the nodes of a run) like `threaded:N`, on a pool of N threads of its own.
    pub(crate) fn pool(&self) -> Option<(&'static rayon::ThreadPool, bool)> {
        match *self {
            Executor::Sequential => None,
            Executor::Threaded(n) => Some((pool(Kind::Blocking, n), true)),
            Executor::Async(n) => Some((pool(Kind::Async, n), true)),
            Executor::Parallel(n) => Some((pool(Kind::Cpu, n), false)),
        }
    }
}

/// The number of cores rayon and the `parallel` executor use.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl FromStr for Executor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Executor> {
        let (kind, given) = match s.split_once(':') {
            Some((k, w)) => (k, Some(w)),
            None => (s, None),
        };
        let width = |default: usize| -> Result<usize> {
            match given {
                None => Ok(default),
                Some(w) => match w.parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(Error::Invalid(format!(
                        "Executor '{s}': the width after ':' must be a whole number of at least 1"
                    ))),
                },
            }
        };
        match kind {
            "sequential" if given.is_none() => Ok(Executor::Sequential),
            "threaded" => Ok(Executor::Threaded(width(Executor::THREADED_WIDTH)?)),
            "async" => Ok(Executor::Async(width(Executor::ASYNC_WIDTH)?)),
            "parallel" => Ok(Executor::Parallel(width(cores())?)),
            _ => Err(Error::UnknownExecutor { name: s.into() }),
        }
    }
}

impl fmt::Display for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Executor::Sequential => f.write_str("sequential"),
            Executor::Threaded(n) => write!(f, "threaded:{n}"),
            Executor::Async(n) => write!(f, "async:{n}"),
            Executor::Parallel(n) => write!(f, "parallel:{n}"),
        }
    }
}

/// An executor given as [`Executor`] or by name (`"parallel"`, `"threaded:64"`).
pub trait AsExecutor {
    /// The executor.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExecutor`] for an unknown name, [`Error::Invalid`] for a bad width.
    fn as_executor(&self) -> Result<Executor>;
}

impl AsExecutor for Executor {
    fn as_executor(&self) -> Result<Executor> {
        Ok(*self)
    }
}

impl AsExecutor for &str {
    fn as_executor(&self) -> Result<Executor> {
        self.parse()
    }
}

impl AsExecutor for String {
    fn as_executor(&self) -> Result<Executor> {
        self.parse()
    }
}

/// What a map does when items fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnError {
    /// The map fails with the error of the failing item of smallest index (default).
    #[default]
    Fail,
    /// The map returns the results of the items that succeeded and, in
    /// [`MapOutputs::failures`](crate::MapOutputs::failures), each failed item's index,
    /// node and error.
    Collect,
}

impl FromStr for OnError {
    type Err = Error;

    fn from_str(s: &str) -> Result<OnError> {
        match s {
            "fail" => Ok(OnError::Fail),
            "collect" => Ok(OnError::Collect),
            _ => Err(Error::Invalid(format!(
                "Unknown on_error policy '{s}'. Valid policies: fail, collect"
            ))),
        }
    }
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnError::Fail => "fail",
            OnError::Collect => "collect",
        })
    }
}

/// Retries of a node that returned an error or timed out: up to `retries` more
/// attempts, waiting `backoff`, then twice that, four times that, and so on between
/// them. A panic is never retried (it is a bug, not a passing failure).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hypernodes::exec::Retry;
///
/// let r = Retry::new(3, Duration::from_millis(100));
/// assert_eq!(r.delay(0), Duration::from_millis(100));
/// assert_eq!(r.delay(2), Duration::from_millis(400));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Retry {
    retries: u32,
    backoff: Duration,
}

impl Retry {
    /// Up to `retries` more attempts after the first, `backoff` before the first retry.
    pub const fn new(retries: u32, backoff: Duration) -> Retry {
        Retry { retries, backoff }
    }

    /// How many more attempts after the first.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The wait before the first retry.
    pub fn backoff(&self) -> Duration {
        self.backoff
    }

    /// The wait before retry `k` (0 for the first): `backoff * 2^k`.
    pub fn delay(&self, k: u32) -> Duration {
        self.backoff.saturating_mul(1 << k.min(20))
    }
}

/// Parses a duration written the way people write them: `"100ms"`, `"1.5s"`, `"2m"`,
/// `"1h 30m"`.
///
/// # Errors
///
/// [`Error::Invalid`] naming the text.
pub fn parse_duration(text: &str) -> Result<Duration> {
    humantime::parse_duration(text).map_err(|e| {
        Error::Invalid(format!(
            "Cannot read '{text}' as a duration ({e}); write it like \"100ms\", \"2s\" or \"1m\""
        ))
    })
}

/// How a pipeline runs: engine, executors, failure policy, retries and timeout. Every
/// field is optional; an unset field is inherited.
///
/// # Precedence
///
/// For each field, the first level that sets it wins:
///
/// 1. the call ([`RunOptions::with_config`](crate::RunOptions::with_config));
/// 2. the pipeline ([`Pipeline::with_config`](crate::Pipeline::with_config));
/// 3. for a nested pipeline, the settings its parent ran with (resolved the same way),
///    so a nested pipeline's own settings win over its parent's;
/// 4. the process default ([`RunConfig::set_default`]), or, inside
///    [`RunConfig::scoped`] on the calling thread, that scope's configuration laid over
///    the process default;
/// 5. the built-in defaults: the node engine, sequential node and map executors, no
///    retries, no timeout, [`OnError::Fail`].
///
/// An engine set at a level brings the executors it was built with
/// ([`NodeEngine::with_map_executor`]) to that level; an executor set at the same level
/// wins over the engine's.
///
/// The failure policy applies to the map it is given to; the maps of nested pipelines
/// always fail, and their failure fails the outer item.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::exec::{Executor, RunConfig};
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_map_executor("parallel"));
/// let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// assert_eq!(out.column::<i64>("doubled")?, [2, 4, 6]);
///
/// // A scoped override of the process default, for this thread and this closure.
/// let seen = RunConfig::new().with_node_executor(Executor::Threaded(4)).scoped(|| {
///     RunConfig::current().node_executor()
/// });
/// assert_eq!(seen, Some(Executor::Threaded(4)));
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct RunConfig {
    engine: Option<Arc<dyn Engine>>,
    node_executor: Option<Executor>,
    map_executor: Option<Executor>,
    on_error: Option<OnError>,
    retry: Option<Retry>,
    timeout: Option<Duration>,
    /// The result cache, or `Off` to run without the one inherited.
    cache: Option<CacheChoice>,
    /// The run's use of its caches (set when a configuration is resolved for a top-level
    /// run, and passed on to its nested runs).
    session: Option<Arc<Session>>,
    /// Whether this run opened `session`, and so commits what it stored when it ends (a
    /// run that is part of a larger one, as a file run's batches are, leaves the commit
    /// to the larger one).
    commits: bool,
    /// A setting given by name that did not parse: reported when the config is used.
    invalid: Option<Arc<Error>>,
    /// The callbacks that watch the run (`Some` of none: none, whatever is inherited).
    callbacks: Option<Arc<[Arc<dyn Callback>]>>,
    /// Where the run is in the context tree (set for a top-level run, and for each
    /// nested call under callbacks).
    context: Option<Context>,
    /// The context and the callbacks, when there are callbacks: what engines report to.
    events: Option<Events>,
}

#[derive(Clone, Debug)]
enum CacheChoice {
    On(Cache),
    Off,
}

impl fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunConfig")
            .field("engine", &self.engine.as_ref().map(|e| e.name().to_string()))
            .field("node_executor", &self.node_executor)
            .field("map_executor", &self.map_executor)
            .field("on_error", &self.on_error)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("cache", &self.cache)
            .field("callbacks", &self.callbacks.as_ref().map(|c| c.len()))
            .finish()
    }
}

static PROCESS_DEFAULT: RwLock<Option<RunConfig>> = RwLock::new(None);

thread_local! {
    static SCOPED: RefCell<Vec<RunConfig>> = const { RefCell::new(Vec::new()) };
}

impl RunConfig {
    /// A configuration that sets nothing (everything inherited).
    pub fn new() -> RunConfig {
        RunConfig::default()
    }

    /// Runs on `engine`.
    pub fn with_engine(self, engine: impl Engine + 'static) -> RunConfig {
        self.with_shared_engine(Arc::new(engine))
    }

    /// Runs on a shared engine.
    pub fn with_shared_engine(mut self, engine: Arc<dyn Engine>) -> RunConfig {
        self.engine = Some(engine);
        self
    }

    /// Runs the independent nodes of each run with `executor` (an [`Executor`] or its
    /// name; a bad name is reported when the configuration is used).
    pub fn with_node_executor(mut self, executor: impl AsExecutor) -> RunConfig {
        set_executor(&mut self.node_executor, &mut self.invalid, executor);
        self
    }

    /// Runs the items of maps with `executor` (an [`Executor`] or its name).
    pub fn with_map_executor(mut self, executor: impl AsExecutor) -> RunConfig {
        set_executor(&mut self.map_executor, &mut self.invalid, executor);
        self
    }

    /// What a map does when items fail.
    pub fn with_on_error(mut self, on_error: OnError) -> RunConfig {
        self.on_error = Some(on_error);
        self
    }

    /// Retries for nodes that set none of their own.
    pub fn with_retry(mut self, retry: Retry) -> RunConfig {
        self.retry = Some(retry);
        self
    }

    /// A timeout per call of each function node that sets none of its own.
    pub fn with_timeout(mut self, timeout: Duration) -> RunConfig {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps every node's results per item in `cache` and reuses them (see [`Cache`]).
    pub fn with_cache(mut self, cache: Cache) -> RunConfig {
        self.cache = Some(CacheChoice::On(cache));
        self
    }

    /// Runs without a cache, whatever the pipeline, a parent or the default sets.
    pub fn without_cache(mut self) -> RunConfig {
        self.cache = Some(CacheChoice::Off);
        self
    }

    /// The cache, if one is set (and not turned off here).
    pub fn cache(&self) -> Option<&Cache> {
        match &self.cache {
            Some(CacheChoice::On(c)) => Some(c),
            _ => None,
        }
    }

    /// The cache of a resolved configuration and the run's use of it.
    pub(crate) fn cache_session(&self) -> Option<(&Cache, &Arc<Session>)> {
        Some((self.cache()?, self.session.as_ref()?))
    }

    /// This configuration counting its cache's hits and misses in `session` (a Parquet
    /// run shares one over its batches).
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn with_session(mut self, session: Arc<Session>) -> RunConfig {
        self.session = Some(session);
        self.commits = false;
        self
    }

    /// What the cache did in the run this resolved configuration belongs to.
    pub(crate) fn cache_report(&self) -> Option<CacheReport> {
        self.cache_session().map(|(_, s)| s.report())
    }

    /// `out`, after committing what the run stored in its caches when this run opened
    /// its session (every top-level call: `run`, `map`, `apply_to_batches`, a UDF's
    /// call...), also when the run failed, so that the items that succeeded are kept.
    /// The run's error wins over the commit's.
    pub(crate) fn commit_cache<T>(&self, out: Result<T>) -> Result<T> {
        let Some(session) = self.session.as_ref().filter(|_| self.commits) else {
            return out;
        };
        let committed = session.commit();
        let out = out?;
        committed.map(|()| out)
    }

    /// Adds `callback` to the callbacks that watch runs (see [`crate::events`]); the
    /// callbacks set here replace those inherited.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// use hypernodes::events::{Callback, Context};
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// #[derive(Default)]
    /// struct Starts(Mutex<Vec<String>>);
    /// impl Callback for Starts {
    ///     fn on_node_start(&self, ctx: &Context, node: &Node, _items: std::ops::Range<usize>) {
    ///         self.0.lock().unwrap().push(format!("{}: {}", ctx.path_string(), node.name()));
    ///     }
    /// }
    ///
    /// let seen = Arc::new(Starts::default());
    /// let p = Pipeline::new([double::node()]).with_name("demo");
    /// let options = RunOptions::new().with_config(RunConfig::new().with_callback(seen.clone()));
    /// p.run_with(&Inputs::new().with("x", 1_i64), &options)?;
    /// assert_eq!(*seen.0.lock().unwrap(), ["demo: double"]);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn with_callback(mut self, callback: impl Callback + 'static) -> RunConfig {
        let mut list: Vec<Arc<dyn Callback>> = self.callbacks.as_deref().unwrap_or_default().to_vec();
        list.push(Arc::new(callback));
        self.callbacks = Some(list.into());
        self
    }

    /// Runs without callbacks, whatever the pipeline, a parent or the default sets.
    pub fn without_callbacks(mut self) -> RunConfig {
        self.callbacks = Some(Arc::new([]));
        self
    }

    /// The callbacks set (here, or inherited once resolved).
    pub fn callbacks(&self) -> &[Arc<dyn Callback>] {
        self.callbacks.as_deref().unwrap_or_default()
    }

    /// What the engines report to: the run's context and callbacks, when it has callbacks.
    #[inline]
    pub(crate) fn events(&self) -> Option<&Events> {
        self.events.as_ref()
    }

    /// The run's place in the context tree.
    pub(crate) fn context(&self) -> Option<&Context> {
        self.context.as_ref()
    }

    /// This resolved configuration in context `ctx` (reporting to its callbacks there).
    pub(crate) fn in_context(mut self, ctx: Context) -> RunConfig {
        self.events = match self.callbacks() {
            [] => None,
            _ => Some(Events {
                ctx: ctx.clone(),
                callbacks: self.callbacks.clone().expect("callbacks"),
            }),
        };
        self.context = Some(ctx);
        self
    }

    /// This resolved configuration reporting to no callbacks (its context kept).
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    pub(crate) fn without_events(mut self) -> RunConfig {
        self.events = None;
        self.callbacks = Some(Arc::new([]));
        self
    }

    /// The engine, if set.
    pub fn engine(&self) -> Option<&Arc<dyn Engine>> {
        self.engine.as_ref()
    }

    /// The node executor, if set (here or by the engine set here).
    pub fn node_executor(&self) -> Option<Executor> {
        self.node_executor.or_else(|| self.engine.as_ref()?.node_executor())
    }

    /// The map executor, if set (here or by the engine set here).
    pub fn map_executor(&self) -> Option<Executor> {
        self.map_executor.or_else(|| self.engine.as_ref()?.map_executor())
    }

    /// The failure policy, if set.
    pub fn on_error(&self) -> Option<OnError> {
        self.on_error
    }

    /// The retries, if set.
    pub fn retry(&self) -> Option<Retry> {
        self.retry
    }

    /// The timeout, if set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.engine.is_none()
            && self.node_executor.is_none()
            && self.map_executor.is_none()
            && self.on_error.is_none()
            && self.retry.is_none()
            && self.timeout.is_none()
            && self.cache.is_none()
            && self.callbacks.is_none()
            && self.invalid.is_none()
    }

    /// This configuration with every unset field taken from `parent`.
    pub fn or(&self, parent: &RunConfig) -> RunConfig {
        RunConfig {
            node_executor: self.node_executor().or_else(|| parent.node_executor()),
            map_executor: self.map_executor().or_else(|| parent.map_executor()),
            engine: self.engine.clone().or_else(|| parent.engine.clone()),
            on_error: self.on_error.or(parent.on_error),
            retry: self.retry.or(parent.retry),
            timeout: self.timeout.or(parent.timeout),
            cache: self.cache.clone().or_else(|| parent.cache.clone()),
            session: self.session.clone().or_else(|| parent.session.clone()),
            // Only the run that opens a session commits it.
            commits: false,
            invalid: self.invalid.clone().or_else(|| parent.invalid.clone()),
            callbacks: self.callbacks.clone().or_else(|| parent.callbacks.clone()),
            // Where the run is, and what it reports to, are set for each run.
            context: self.context.clone().or_else(|| parent.context.clone()),
            events: None,
        }
    }

    /// Makes `config` the process default: what every run inherits for what neither the
    /// call nor the pipeline sets.
    pub fn set_default(config: RunConfig) {
        *PROCESS_DEFAULT.write().unwrap_or_else(|e| e.into_inner()) = Some(config);
    }

    /// The configuration a run started now on this thread inherits: the innermost
    /// [`RunConfig::scoped`] configuration laid over the outer ones and the process
    /// default.
    pub fn current() -> RunConfig {
        let process = PROCESS_DEFAULT
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default();
        SCOPED.with(|s| {
            s.borrow()
                .iter()
                .rev()
                .fold(RunConfig::new(), |acc, c| acc.or(c))
                .or(&process)
        })
    }

    /// Runs `f` with this configuration laid over the process default for the runs `f`
    /// starts on this thread (work those runs hand to other threads inherits it through
    /// the run, as every setting does). Scopes nest; the inner one wins.
    pub fn scoped<R>(self, f: impl FnOnce() -> R) -> R {
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                SCOPED.with(|s| s.borrow_mut().pop());
            }
        }
        SCOPED.with(|s| s.borrow_mut().push(self));
        let _pop = Pop;
        f()
    }

    /// The configuration a run executes with: this one over `parent`, with the built-in
    /// defaults filled in, or the first setting given by a name that did not parse.
    pub(crate) fn resolve(&self, parent: &RunConfig) -> Result<Arc<RunConfig>> {
        self.resolved(parent).map(Arc::new)
    }

    /// [`RunConfig::resolve`] for a top-level run of the pipeline named `pipeline`: the
    /// root of a new context tree, unless the configuration already has its place in one
    /// (a run that is part of a larger one, as the batches of a Parquet run are).
    pub(crate) fn resolve_root(&self, parent: &RunConfig, pipeline: Option<&str>) -> Result<Arc<RunConfig>> {
        let c = self.resolved(parent)?;
        Ok(Arc::new(match c.context {
            Some(_) => c,
            None => c.in_context(Context::root(pipeline)),
        }))
    }

    fn resolved(&self, parent: &RunConfig) -> Result<RunConfig> {
        let mut c = self.or(parent);
        if let Some(e) = c.invalid.take() {
            return Err(reported(&e));
        }
        let engine = c.engine.get_or_insert_with(|| Arc::new(NodeEngine::DEFAULT)).clone();
        c.node_executor = c
            .node_executor
            .or_else(|| engine.node_executor())
            .or(Some(Executor::Sequential));
        c.map_executor = c
            .map_executor
            .or_else(|| engine.map_executor())
            .or(Some(Executor::Sequential));
        c.on_error = c.on_error.or(Some(OnError::Fail));
        // A top-level run opens the session its nested runs share (they may set caches of
        // their own), and commits it when it ends.
        if c.session.is_none() {
            c.session = Some(Arc::default());
            c.commits = true;
        }
        Ok(match c.context.clone() {
            Some(ctx) => c.in_context(ctx),
            None => c,
        })
    }

    /// The built-in defaults, resolved: for planning that runs nothing.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    pub(crate) fn built_in() -> Arc<RunConfig> {
        RunConfig::new()
            .resolve(&RunConfig::new())
            .expect("an empty configuration resolves")
    }

    /// The engine of a resolved configuration.
    pub(crate) fn resolved_engine(&self) -> &Arc<dyn Engine> {
        self.engine.as_ref().expect("a resolved configuration has an engine")
    }
}

/// Sets `slot` to `executor`, or keeps the parse error in `invalid` to report when the
/// setting is used (builders do not return errors).
pub(crate) fn set_executor(slot: &mut Option<Executor>, invalid: &mut Option<Arc<Error>>, executor: impl AsExecutor) {
    match executor.as_executor() {
        Ok(e) => *slot = Some(e),
        Err(e) => *invalid = Some(Arc::new(e)),
    }
}

/// A kept parse error of an executor setting, reported (again) by a run.
pub(crate) fn reported(e: &Error) -> Error {
    match e {
        Error::UnknownExecutor { name } => Error::UnknownExecutor { name: name.clone() },
        other => Error::Invalid(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Pools and runtimes.

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Cpu,
    Blocking,
    /// The synchronous work of the `async` executor.
    Async,
}

/// The process's pool of `kind` and `width`, made on first use and kept.
fn pool(kind: Kind, width: usize) -> &'static rayon::ThreadPool {
    static POOLS: Mutex<Vec<((Kind, usize), &'static rayon::ThreadPool)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == (kind, width)) {
        return p;
    }
    let prefix = match kind {
        Kind::Cpu => "hypernodes-parallel",
        Kind::Blocking => "hypernodes-threaded",
        Kind::Async => "hypernodes-async",
    };
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(width)
        .thread_name(move |i| format!("{prefix}-{i}"))
        .build()
        .expect("starting a thread pool");
    let leaked: &'static rayon::ThreadPool = Box::leak(Box::new(built));
    pools.push(((kind, width), leaked));
    leaked
}

/// The process-wide multi-threaded tokio runtime: async nodes, timeouts of sync nodes,
/// [`Pipeline::run_async`](crate::Pipeline::run_async).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("hypernodes")
            .enable_time()
            .build()
            .expect("building the tokio runtime")
    })
}

thread_local! {
    /// Set on the threads of the runtime's blocking pool that hypernodes started work on.
    static ON_OUR_BLOCKING_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on the runtime's blocking pool.
pub(crate) fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::task::JoinHandle<T> {
    runtime().spawn_blocking(move || {
        ON_OUR_BLOCKING_THREAD.with(|c| c.set(true));
        f()
    })
}

/// Runs a future to completion on the process-wide runtime, from any thread: a plain
/// thread, one of the runtime's blocking threads, or a thread inside another runtime
/// (where it runs on a scoped thread of its own instead of panicking).
pub(crate) fn block_on<T: Send>(fut: impl Future<Output = T> + Send) -> T {
    let rt = runtime();
    if ON_OUR_BLOCKING_THREAD.with(|c| c.get()) {
        rt.handle().block_on(fut)
    } else if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        rt.block_on(fut)
    }
}

// ---------------------------------------------------------------------------------------
// Items.

/// Runs `f` on items `0..n` with `executor`'s pool (sequentially without one) and
/// returns each item's result in item order. Under [`OnError::Fail`], once an item
/// fails, items after it are skipped (`None`) while items before it still run, so the
/// first error in the result is always that of the smallest failing index, whatever ran
/// first.
pub(crate) fn for_items<T: Send>(
    executor: Executor,
    n: usize,
    on_error: OnError,
    f: impl Fn(usize) -> Result<T> + Sync + Send,
) -> Vec<Option<Result<T>>> {
    let first_failure = AtomicUsize::new(usize::MAX);
    let one = |i: usize| {
        if on_error == OnError::Fail && i > first_failure.load(Ordering::Relaxed) {
            return None;
        }
        let r = f(i);
        if r.is_err() {
            first_failure.fetch_min(i, Ordering::Relaxed);
        }
        Some(r)
    };
    match executor.pool() {
        None => (0..n).map(one).collect(),
        Some((pool, blocking)) => pool.install(|| {
            let items = (0..n).into_par_iter();
            if blocking {
                // Each item its own task: a blocking item must not hold others back.
                items.with_max_len(1).map(one).collect()
            } else {
                items.map(one).collect()
            }
        }),
    }
}

/// Runs the futures `f(0)`, `f(1)`, … with at most `width` in flight, in item order, and
/// returns their results in item order; under [`OnError::Fail`] it stops at the first
/// failing item (the smallest failing index, as results are taken in order) and cancels
/// the futures still running.
pub(crate) async fn for_items_async<T, F>(
    width: usize,
    n: usize,
    on_error: OnError,
    f: impl Fn(usize) -> F,
) -> Vec<Option<Result<T>>>
where
    F: Future<Output = Result<T>>,
{
    use futures::StreamExt;
    let mut results = Vec::with_capacity(n);
    let mut stream = futures::stream::iter((0..n).map(f)).buffered(width.max(1));
    while let Some(r) = stream.next().await {
        let failed = r.is_err();
        results.push(Some(r));
        if failed && on_error == OnError::Fail {
            break;
        }
    }
    drop(stream);
    results.resize_with(n, || None);
    results
}

/// An item of a map that failed, returned under [`OnError::Collect`] by
/// [`MapOutputs::failures`](crate::MapOutputs::failures).
#[derive(Clone, Debug)]
pub struct ItemFailure {
    item: usize,
    node: Box<str>,
    error: Arc<Error>,
}

impl ItemFailure {
    pub(crate) fn new(item: usize, error: Error) -> ItemFailure {
        ItemFailure {
            item,
            node: error.node().unwrap_or_default().into(),
            error: Arc::new(error),
        }
    }

    /// The item's index in the map.
    pub fn item(&self) -> usize {
        self.item
    }

    /// The node that failed (the outermost: a nested pipeline's node when the failure was
    /// inside it).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The error, as the map would have failed with it.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error, owned (the same message, and for a node's failure, panic or timeout
    /// the same variant, when the failure was cloned).
    pub fn into_error(self) -> Error {
        Arc::try_unwrap(self.error).unwrap_or_else(|shared| match &*shared {
            Error::NodeFailed { node, item, source } => Error::NodeFailed {
                node: node.clone(),
                item: *item,
                source: source.to_string().into(),
            },
            Error::NodePanicked { node, item, message } => Error::NodePanicked {
                node: node.clone(),
                item: *item,
                message: message.clone(),
            },
            Error::Timeout { node, item, after } => Error::Timeout {
                node: node.clone(),
                item: *item,
                after: *after,
            },
            other => Error::Invalid(other.to_string()),
        })
    }
}
