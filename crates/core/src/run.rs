//! Running a pipeline: the [`Engine`] trait that executes a planned run, the options of
//! one call ([`RunOptions`]), the engine settings of pipelines and configurations, and
//! the top-level call that plans a run, hands it to its engine between the run's
//! events, and commits what it cached.
//!
//! The model never names a concrete engine: a top-level call is given the engine to
//! use when no level of the configuration sets one. The `Run` trait of hypernodes-engine,
//! in the prelude, gives every pipeline `run` and `map` on the node engine by default.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::exec::{EngineSlot, Executor, RunConfig};
use crate::inputs::Inputs;
use crate::map::MapMode;
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::Pipeline;
use crate::plan::{MapPlan, RunPlan};

/// Runs pipelines. A small object-safe trait: the pipeline validates and plans a call
/// ([`RunPlan`], [`MapPlan`]) and the engine executes the plan, so every engine checks
/// inputs, outputs and map lists the same way and returns the same results.
pub trait Engine: Send + Sync + fmt::Debug {
    /// A short name for messages and traces.
    fn name(&self) -> &str;

    /// The node executor this engine was built with, if any; see
    /// [`RunConfig`] for how it combines with the other levels.
    fn node_executor(&self) -> Option<Executor> {
        None
    }

    /// The map executor this engine was built with, if any.
    fn map_executor(&self) -> Option<Executor> {
        None
    }

    /// Runs the plan once and returns [`RunPlan::outputs`]. [`RunPlan::config`] holds
    /// the executors, retries and timeout to run with.
    ///
    /// # Errors
    ///
    /// A node's failure or panic ([`Error::NodeFailed`],
    /// [`Error::NodePanicked`]); no partial results.
    fn run(&self, plan: &RunPlan) -> Result<Outputs>;

    /// Runs the plan once per item and returns one column per output, in item order.
    ///
    /// # Errors
    ///
    /// As [`Engine::run`], with the failing item's index: the smallest failing index
    /// whatever the executor, unless the plan's failure policy is
    /// [`OnError::Collect`](crate::OnError::Collect), which returns the failed items in
    /// [`MapOutputs::failures`] instead.
    fn map(&self, plan: &MapPlan) -> Result<MapOutputs>;

    /// How a streamed map (`Run::map_iter`, `Run::start_map`) cuts the items of `plan`:
    /// the items of each piece handed to [`Engine::map`] as a
    /// [`window`](MapPlan::window), and how many pieces run at once. A piece's results
    /// come out when all of its items are done. By default one item per piece, as many
    /// at once as the map executor's width (the node engine); the columnar engine takes
    /// a batch per piece and a piece per partition.
    fn map_pieces(&self, plan: &MapPlan) -> (usize, usize) {
        let executor = plan.run_plan().config().map_executor().unwrap_or_default();
        (1, executor.width())
    }
}

/// Options of one call of `Run::run_with` / `Run::map_with`: the outputs
/// to return and the call's [`RunConfig`], which wins over every other level.
///
/// # Examples
///
/// ```
/// use hypernodes::{NodeEngine, RunOptions};
/// use hypernodes::exec::{Executor, OnError, RunConfig};
///
/// let opts = RunOptions::new()
///     .with_outputs(["word_count"])
///     .with_engine(NodeEngine::new())
///     .with_config(RunConfig::new().with_map_executor(Executor::Threaded(8)).with_on_error(OnError::Collect));
/// assert_eq!(opts.outputs(), Some(&["word_count".to_string()][..]));
/// assert_eq!(opts.config().map_executor(), Some(Executor::Threaded(8)));
/// assert_eq!(opts.config().engine().unwrap().name(), "node");
/// ```
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    outputs: Option<Vec<String>>,
    config: RunConfig,
}

impl RunOptions {
    /// Default options: every output, the pipeline's own configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs this call with `config` over the pipeline's: a field set here wins; an
    /// engine set with [`RunOptions::with_engine`] before or after stays unless `config`
    /// sets one.
    pub fn with_config(mut self, config: RunConfig) -> Self {
        self.config = config.or(&self.config);
        self
    }

    /// The call's configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Computes and returns only these outputs (and runs only what they need).
    pub fn with_outputs<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.outputs = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Runs this call on `engine` instead of the pipeline's.
    pub fn with_engine(self, engine: impl Engine + 'static) -> Self {
        self.with_shared_engine(Arc::new(engine))
    }

    /// Runs this call on a shared engine.
    pub fn with_shared_engine(mut self, engine: Arc<dyn Engine>) -> Self {
        self.config = self.config.with_shared_engine(engine);
        self
    }

    /// The selected outputs, if any.
    pub fn outputs(&self) -> Option<&[String]> {
        self.outputs.as_deref()
    }
}

impl RunConfig {
    /// Runs on `engine`.
    pub fn with_engine(self, engine: impl Engine + 'static) -> RunConfig {
        self.with_shared_engine(Arc::new(engine))
    }

    /// Runs on a shared engine.
    pub fn with_shared_engine(self, engine: Arc<dyn Engine>) -> RunConfig {
        let slot = EngineSlot::new(
            engine.name(),
            engine.node_executor(),
            engine.map_executor(),
            Arc::new(engine.clone()),
        );
        self.with_engine_slot(slot)
    }

    /// The engine, if set.
    pub fn engine(&self) -> Option<&Arc<dyn Engine>> {
        self.engine_slot()?.get()
    }

    /// The engine of a resolved configuration.
    #[doc(hidden)]
    pub fn resolved_engine(&self) -> Result<&Arc<dyn Engine>> {
        // Unreachable: every top-level call resolves its configuration with an engine at
        // its lowest level (`Pipeline::plan_run`, the columnar engine's own calls, the
        // UDFs DataFusion calls), and nested runs inherit it.
        self.engine()
            .ok_or_else(|| Error::Internal("a run was resolved without an engine".into()))
    }
}

impl Pipeline {
    /// This pipeline running on `engine` by default (nested pipelines without an engine
    /// of their own inherit it).
    pub fn with_engine(&self, engine: impl Engine + 'static) -> Pipeline {
        self.with_shared_engine(Arc::new(engine))
    }

    /// Like [`Pipeline::with_engine`] with a shared engine.
    pub fn with_shared_engine(&self, engine: Arc<dyn Engine>) -> Pipeline {
        self.replacing_config(self.config().clone().with_shared_engine(engine))
    }

    /// The engine set on this pipeline, if any.
    pub fn engine(&self) -> Option<&Arc<dyn Engine>> {
        self.config().engine()
    }

    /// Plans a top-level run: checks `inputs` and resolves the configuration (the
    /// call's over the pipeline's over the current default, with `default` the engine
    /// when no level sets one). [`RunPlan::execute`] runs it.
    ///
    /// # Errors
    ///
    /// As `Run::run_with` before anything runs.
    pub fn plan_run(&self, inputs: &Inputs, options: &RunOptions, default: &Arc<dyn Engine>) -> Result<RunPlan> {
        RunPlan::new(self, inputs, options.outputs(), &[], self.config_for(options, default)?)
    }

    /// Plans a top-level map; see [`Pipeline::plan_run`]. [`MapPlan::execute`] runs it.
    ///
    /// # Errors
    ///
    /// As `Run::map_with` before anything runs.
    pub fn plan_map(
        &self,
        inputs: &Inputs,
        over: &[&str],
        mode: MapMode,
        options: &RunOptions,
        default: &Arc<dyn Engine>,
    ) -> Result<MapPlan> {
        MapPlan::new(
            self,
            inputs,
            over,
            mode,
            options.outputs(),
            self.config_for(options, default)?,
        )
    }

    /// The configuration a top-level call runs with: the call's over the pipeline's over
    /// the current default over `default` as the engine.
    fn config_for(&self, options: &RunOptions, default: &Arc<dyn Engine>) -> Result<Arc<RunConfig>> {
        let lowest = RunConfig::current().or(&RunConfig::new().with_shared_engine(default.clone()));
        options.config.or(self.config()).resolve_root(&lowest, self.name())
    }
}

impl RunPlan {
    /// Runs this planned top-level run on its engine, between its pipeline start and
    /// end events, commits what it cached, and returns its results with its
    /// [`CacheReport`](crate::cache::CacheReport).
    ///
    /// # Errors
    ///
    /// As [`Engine::run`].
    pub fn execute(&self) -> Result<Outputs> {
        let config = self.config();
        let out = top_level(config, || config.resolved_engine()?.run(self))?;
        Ok(out.with_cache_report(config.cache_report()))
    }
}

impl MapPlan {
    /// Runs this planned top-level map on its engine, between its pipeline and map
    /// events; see [`RunPlan::execute`].
    ///
    /// # Errors
    ///
    /// As [`Engine::map`].
    pub fn execute(&self) -> Result<MapOutputs> {
        let config = self.run_plan().config();
        let out = top_level(config, || {
            events_of_map(config, self.len(), || config.resolved_engine()?.map(self))
        })?;
        Ok(out.with_cache_report(config.cache_report()))
    }
}

/// Runs a top-level call between its pipeline start and end events, and commits what
/// it stored in its caches before the end event, also when the call failed (the items
/// that succeeded keep their results): see [`RunConfig::commit_cache`].
#[doc(hidden)]
pub fn top_level<T>(config: &RunConfig, run: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(events) = config.events() else {
        return config.commit_cache(run());
    };
    events.pipeline_start();
    let out = config.commit_cache(run());
    events.pipeline_end(out.as_ref().err());
    out
}

/// Runs `map` (of `len` items) between its map start and end events.
#[doc(hidden)]
pub fn events_of_map<T>(config: &RunConfig, len: usize, map: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(events) = config.events() else {
        return map();
    };
    let started = events.map_start(len);
    let out = map();
    events.map_end(started, out.as_ref().err());
    out
}
