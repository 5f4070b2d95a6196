//! The [`RunConfig`]: the settings of a run, from the call site, the pipeline, its
//! parents and the process default, and their resolution for one run.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::policy::{AsExecutor, Executor, OnError, Retry};
use crate::cache::{Cache, CacheReport, Session};
use crate::error::Result;
use crate::events::{Callback, Context, Events};

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
/// (`NodeEngine::with_map_executor`) to that level; an executor set at the same level
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
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_map_executor(Executor::parallel()));
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
    engine: Option<EngineSlot>,
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
    /// The callbacks that watch the run (`Some` of none: none, whatever is inherited).
    callbacks: Option<Arc<[Arc<dyn Callback>]>>,
    /// Where the run is in the context tree (set for a top-level run, and for each
    /// nested call under callbacks).
    context: Option<Context>,
    /// The context and the callbacks, when there are callbacks: what engines report to.
    events: Option<Events>,
}

/// An engine as a configuration keeps it: its name and executors, read when the
/// configuration is built, and the engine itself (an `Arc<dyn Engine>`), which only the
/// run layer ([`crate::run`]) that defines the trait takes out. The configuration is
/// plain data below the engine trait, whose methods take plans that hold it.
#[derive(Clone)]
#[doc(hidden)]
pub struct EngineSlot {
    name: Arc<str>,
    node_executor: Option<Executor>,
    map_executor: Option<Executor>,
    engine: Arc<dyn Any + Send + Sync>,
}

impl EngineSlot {
    #[doc(hidden)]
    pub fn new(
        name: &str,
        node_executor: Option<Executor>,
        map_executor: Option<Executor>,
        engine: Arc<dyn Any + Send + Sync>,
    ) -> EngineSlot {
        EngineSlot {
            name: name.into(),
            node_executor,
            map_executor,
            engine,
        }
    }

    /// The engine, as the type it was stored as.
    #[doc(hidden)]
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.engine.downcast_ref()
    }
}

#[derive(Clone, Debug)]
enum CacheChoice {
    On(Cache),
    Off,
}

impl fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunConfig")
            .field("engine", &self.engine.as_ref().map(|e| e.name.to_string()))
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

    /// Runs on the engine in `slot`.
    #[doc(hidden)]
    pub fn with_engine_slot(mut self, slot: EngineSlot) -> RunConfig {
        self.engine = Some(slot);
        self
    }

    /// Runs the independent nodes of each run with `executor`.
    pub fn with_node_executor(mut self, executor: Executor) -> RunConfig {
        self.node_executor = Some(executor);
        self
    }

    /// Runs the items of maps with `executor`.
    pub fn with_map_executor(mut self, executor: Executor) -> RunConfig {
        self.map_executor = Some(executor);
        self
    }

    /// [`with_node_executor`](RunConfig::with_node_executor) with an [`Executor`] or its
    /// name (`"threaded:8"`), which is parsed here: a bad name is refused by this call,
    /// not by a later run.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExecutor`](crate::Error::UnknownExecutor) for an unknown name,
    /// [`Error::Invalid`](crate::Error::Invalid) for a bad width.
    pub fn try_with_node_executor(self, executor: impl AsExecutor) -> Result<RunConfig> {
        Ok(self.with_node_executor(executor.as_executor()?))
    }

    /// [`with_map_executor`](RunConfig::with_map_executor) with an [`Executor`] or its
    /// name, which is parsed here.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// let config = RunConfig::new().try_with_map_executor("threaded:8")?;
    /// assert_eq!(config.map_executor(), Some(Executor::Threaded(8)));
    /// let err = RunConfig::new().try_with_map_executor("threaded:x").unwrap_err();
    /// assert_eq!(err.to_string(), "Executor 'threaded:x': the width after ':' must be a whole number of at least 1");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExecutor`](crate::Error::UnknownExecutor) for an unknown name,
    /// [`Error::Invalid`](crate::Error::Invalid) for a bad width.
    pub fn try_with_map_executor(self, executor: impl AsExecutor) -> Result<RunConfig> {
        Ok(self.with_map_executor(executor.as_executor()?))
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
    #[doc(hidden)]
    pub fn cache_session(&self) -> Option<(&Cache, &Arc<Session>)> {
        Some((self.cache()?, self.session.as_ref()?))
    }

    /// This configuration counting its cache's hits and misses in `session` (a Parquet
    /// run shares one over its batches).
    #[doc(hidden)]
    pub fn with_session(mut self, session: Arc<Session>) -> RunConfig {
        self.session = Some(session);
        self.commits = false;
        self
    }

    /// What the cache did in the run this resolved configuration belongs to.
    #[doc(hidden)]
    pub fn cache_report(&self) -> Option<CacheReport> {
        self.cache_session().map(|(_, s)| s.report())
    }

    /// `out`, after committing what the run stored in its caches when this run opened
    /// its session (every top-level call: `run`, `map`, `apply_to_batches`, a UDF's
    /// call...), also when the run failed, so that the items that succeeded are kept.
    /// The run's error wins over the commit's.
    #[doc(hidden)]
    pub fn commit_cache<T>(&self, out: Result<T>) -> Result<T> {
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
    /// use hypernodes::events::{Callback, Context, NodeData};
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// #[derive(Default)]
    /// struct Starts(Mutex<Vec<String>>);
    /// impl Callback for Starts {
    ///     fn on_node_start(&self, ctx: &Context, node: &Node, _items: std::ops::Range<usize>, _inputs: &NodeData<'_>) {
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
    #[doc(hidden)]
    pub fn events(&self) -> Option<&Events> {
        self.events.as_ref()
    }

    /// The run's place in the context tree.
    #[doc(hidden)]
    pub fn context(&self) -> Option<&Context> {
        self.context.as_ref()
    }

    /// This resolved configuration in context `ctx` (reporting to its callbacks there).
    #[doc(hidden)]
    pub fn in_context(mut self, ctx: Context) -> RunConfig {
        self.events = match self.callbacks() {
            [] => None,
            _ => Some(Events::new(ctx.clone(), self.callbacks.clone().expect("callbacks"))),
        };
        self.context = Some(ctx);
        self
    }

    /// This resolved configuration reporting to no callbacks (its context kept).
    #[doc(hidden)]
    pub fn without_events(mut self) -> RunConfig {
        self.events = None;
        self.callbacks = Some(Arc::new([]));
        self
    }

    /// The engine's slot, if an engine is set.
    #[doc(hidden)]
    pub fn engine_slot(&self) -> Option<&EngineSlot> {
        self.engine.as_ref()
    }

    /// The node executor, if set (here or by the engine set here).
    pub fn node_executor(&self) -> Option<Executor> {
        self.node_executor.or_else(|| self.engine.as_ref()?.node_executor)
    }

    /// The map executor, if set (here or by the engine set here).
    pub fn map_executor(&self) -> Option<Executor> {
        self.map_executor.or_else(|| self.engine.as_ref()?.map_executor)
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
    #[doc(hidden)]
    pub fn resolve(&self, parent: &RunConfig) -> Result<Arc<RunConfig>> {
        self.resolved(parent).map(Arc::new)
    }

    /// [`RunConfig::resolve`] for a top-level run of the pipeline named `pipeline`: the
    /// root of a new context tree, unless the configuration already has its place in one
    /// (a run that is part of a larger one, as the batches of a Parquet run are).
    #[doc(hidden)]
    pub fn resolve_root(&self, parent: &RunConfig, pipeline: Option<&str>) -> Result<Arc<RunConfig>> {
        let c = self.resolved(parent)?;
        Ok(Arc::new(match c.context {
            Some(_) => c,
            None => c.in_context(Context::root(pipeline)),
        }))
    }

    fn resolved(&self, parent: &RunConfig) -> Result<RunConfig> {
        let mut c = self.or(parent);
        c.node_executor = c.node_executor().or(Some(Executor::Sequential));
        c.map_executor = c.map_executor().or(Some(Executor::Sequential));
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
    #[doc(hidden)]
    pub fn built_in() -> Arc<RunConfig> {
        RunConfig::new()
            .resolve(&RunConfig::new())
            .expect("an empty configuration resolves")
    }
}
