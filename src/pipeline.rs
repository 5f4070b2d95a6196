//! [`Pipeline`]: nodes wired by name, validated when built, run by an engine.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{closest, Error, Result};
use crate::exec::RunConfig;
use crate::graph::{analyze, Graph};
use crate::inputs::Inputs;
use crate::map::{AsMapMode, MapPlan};
use crate::node::Node;
use crate::outputs::{MapOutputs, Outputs};
use crate::value::TypeInfo;

/// Nodes wired into a graph by parameter and output names.
///
/// Immutable and cheap to clone. Built with [`Pipeline::try_new`], which checks for
/// duplicate outputs, cycles and type mismatches; nodes run in topological order, ready
/// nodes taken by name, so the order never depends on how the nodes were listed.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "cleaned_text")]
/// fn clean_text(passage: &str) -> String { passage.trim().to_lowercase() }
///
/// #[node(output = "word_count")]
/// fn count_words(cleaned_text: &str) -> usize { cleaned_text.split_whitespace().count() }
///
/// let pipeline = Pipeline::try_new([count_words::node(), clean_text::node()])?;
/// assert_eq!(pipeline.inputs(), ["passage"]);
/// assert_eq!(pipeline.outputs(), ["cleaned_text", "word_count"]);
///
/// let out = pipeline.run(&Inputs::new().with("passage", "  Hello World ".to_string()))?;
/// assert_eq!(out.get::<String>("cleaned_text")?, "hello world");
/// assert_eq!(out.get::<usize>("word_count")?, 2);
///
/// // Only what a selected output needs runs, and only its inputs are required.
/// let err = pipeline.run(&Inputs::new()).unwrap_err();
/// assert_eq!(err.to_string(), "Missing required input(s): ['passage']. Required inputs: ['passage']");
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    name: Option<String>,
    /// In execution order.
    nodes: Vec<Node>,
    graph: Graph,
    outputs: Vec<String>,
    bound: Inputs,
    config: RunConfig,
}

/// Options of one call of [`Pipeline::run_with`] / [`Pipeline::map_with`]: the outputs
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
///     .with_config(RunConfig::new().with_map_executor("threaded:8").with_on_error(OnError::Collect));
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

impl Pipeline {
    /// A pipeline of `nodes`, listed in any order.
    ///
    /// # Errors
    ///
    /// Every problem at once ([`Error::Multiple`] when there are several):
    /// [`Error::DuplicateOutput`], [`Error::Cycle`], [`Error::TypeMismatch`],
    /// [`Error::InputTypeConflict`].
    pub fn try_new(nodes: impl IntoIterator<Item = Node>) -> Result<Pipeline> {
        let (nodes, graph) = analyze(nodes.into_iter().collect())?;
        let mut outputs: Vec<String> = graph.producers.keys().map(|k| k.to_string()).collect();
        outputs.sort_unstable();
        Ok(Pipeline {
            inner: Arc::new(Inner {
                name: None,
                nodes,
                graph,
                outputs,
                bound: Inputs::new(),
                config: RunConfig::new(),
            }),
        })
    }

    /// Like [`Pipeline::try_new`], for nodes known to be valid.
    ///
    /// # Panics
    ///
    /// With the error's message when the pipeline is invalid.
    pub fn new(nodes: impl IntoIterator<Item = Node>) -> Pipeline {
        Self::try_new(nodes).unwrap_or_else(|e| panic!("invalid pipeline: {e}"))
    }

    fn modified(&self, f: impl FnOnce(&mut Inner)) -> Pipeline {
        let mut inner = (*self.inner).clone();
        f(&mut inner);
        Pipeline { inner: Arc::new(inner) }
    }

    /// This pipeline with a name (used in messages, traces and pictures).
    pub fn with_name(&self, name: impl Into<String>) -> Pipeline {
        let name = name.into();
        self.modified(|p| p.name = Some(name))
    }

    /// The pipeline's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// This pipeline running on `engine` by default (nested pipelines without an engine
    /// of their own inherit it).
    pub fn with_engine(&self, engine: impl Engine + 'static) -> Pipeline {
        self.with_shared_engine(Arc::new(engine))
    }

    /// Like [`Pipeline::with_engine`] with a shared engine.
    pub fn with_shared_engine(&self, engine: Arc<dyn Engine>) -> Pipeline {
        self.modified(|p| p.config = p.config.clone().with_shared_engine(engine))
    }

    /// The engine set on this pipeline, if any.
    pub fn engine(&self) -> Option<&Arc<dyn Engine>> {
        self.inner.config.engine()
    }

    /// This pipeline with `config` over its own configuration (a field set in `config`
    /// wins): what its runs, and the runs of the pipelines it is nested in, use for
    /// what the call does not set. See [`RunConfig`] for the precedence.
    pub fn with_config(&self, config: RunConfig) -> Pipeline {
        self.modified(|p| p.config = config.or(&p.config))
    }

    /// The configuration set on this pipeline.
    pub fn config(&self) -> &RunConfig {
        &self.inner.config
    }

    /// The nodes, in execution order.
    pub fn nodes(&self) -> &[Node] {
        &self.inner.nodes
    }

    /// The input names (values no node produces), sorted; bound ones included.
    pub fn inputs(&self) -> Vec<&str> {
        self.inner.graph.inputs.keys().map(|k| &**k).collect()
    }

    /// The type an input is read as, or `None` when `name` is not an input.
    pub fn input_type(&self, name: &str) -> Option<TypeInfo> {
        self.inner.graph.inputs.get(name).map(|u| u.ty)
    }

    /// Every output name, sorted.
    pub fn outputs(&self) -> Vec<&str> {
        self.inner.outputs.iter().map(String::as_str).collect()
    }

    /// The type of an output, or `None` when no node produces `name`.
    pub fn output_type(&self, name: &str) -> Option<TypeInfo> {
        let &(node, k) = self.inner.graph.producers.get(name)?;
        Some(self.inner.nodes[node].outputs()[k].type_info())
    }

    /// The values bound with [`Pipeline::bind`].
    pub fn bound_inputs(&self) -> &Inputs {
        &self.inner.bound
    }

    /// The inputs that are not bound, sorted: what a run must be given.
    pub fn unfulfilled_args(&self) -> Vec<&str> {
        self.inputs()
            .into_iter()
            .filter(|n| !self.inner.bound.contains(n))
            .collect()
    }

    /// This pipeline with `inputs` bound: they are used when a call does not give them
    /// (call inputs win). Binding again merges, the newer value winning.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "sum")]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// let p = Pipeline::new([add::node()]).bind(Inputs::new().with("b", 10_i64))?;
    /// assert_eq!(p.unfulfilled_args(), ["a"]);
    /// assert_eq!(p.run(&Inputs::new().with("a", 1_i64))?.get::<i64>("sum")?, 11);
    /// assert_eq!(p.run(&Inputs::new().with("a", 1_i64).with("b", 2_i64))?.get::<i64>("sum")?, 3);
    ///
    /// let err = p.bind(Inputs::new().with("c", 1_i64)).unwrap_err();
    /// assert_eq!(err.to_string(), "Cannot bind 'c': it is not an input of the pipeline. Inputs: ['a', 'b']");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a name that is not an input, [`Error::InputType`] for a
    /// value that is neither of the input's type nor a list of it.
    pub fn bind(&self, inputs: Inputs) -> Result<Pipeline> {
        let mut errors = Vec::new();
        for (name, value) in inputs.iter() {
            match self.inner.graph.inputs.get(name) {
                None => errors.push(Error::Invalid(format!(
                    "Cannot bind '{name}': it is not an input of the pipeline. Inputs: {}",
                    quoted(self.inputs())
                ))),
                // A bound list may be mapped over later, so `Vec<T>` is accepted too.
                Some(used) if used.ty.list_of() == Some(value.type_info()) => {}
                Some(_) => errors.extend(self.check_input_type(name, value).err()),
            }
        }
        Error::combine(errors)?;
        let bound = self.inner.bound.merged(&inputs);
        Ok(self.modified(|p| p.bound = bound))
    }

    /// This pipeline with the named bound values removed (all of them when `names` is
    /// empty).
    pub fn unbind(&self, names: &[&str]) -> Pipeline {
        let mut bound = self.inner.bound.clone();
        if names.is_empty() {
            bound = Inputs::new();
        }
        for name in names {
            bound.remove(name);
        }
        self.modified(|p| p.bound = bound)
    }

    fn check_input_type(&self, name: &str, value: &crate::Value) -> Result<()> {
        let used = &self.inner.graph.inputs[name];
        if value.type_info() == used.ty {
            Ok(())
        } else {
            Err(Error::InputType {
                input: name.into(),
                node: self.inner.nodes[used.first_reader].name().into(),
                expected: used.ty.name().into(),
                found: value.type_name().into(),
            })
        }
    }

    /// Runs the pipeline once and returns every output, except that a nested pipeline
    /// node ([`Pipeline::as_node`]) returns, and computes, only its outputs that other
    /// nodes consume; a nested node whose outputs nothing consumes (a terminal node)
    /// returns all of them. [`RunOptions::with_outputs`] returns exactly the outputs
    /// named, consumed or not.
    ///
    /// # Errors
    ///
    /// [`Error::MissingInputs`], [`Error::InputType`], and [`Error::NodeFailed`] /
    /// [`Error::NodePanicked`] when a node fails (no partial results are returned).
    pub fn run(&self, inputs: &Inputs) -> Result<Outputs> {
        self.run_with(inputs, &RunOptions::new())
    }

    /// Runs the pipeline once with options (selected outputs, engine).
    ///
    /// # Errors
    ///
    /// As [`Pipeline::run`], and [`Error::UnknownOutputs`] for a selected name that no
    /// node produces.
    pub fn run_with(&self, inputs: &Inputs, options: &RunOptions) -> Result<Outputs> {
        let plan = RunPlan::new(self, inputs, options.outputs(), &[], self.config_for(options)?)?;
        finish_run(plan.config(), || plan.config().resolved_engine().run(&plan))
    }

    /// Runs the pipeline once per item of the lists named in `over`, and returns one
    /// column per output in item order. `mode` is [`MapMode::Zip`](crate::MapMode::Zip)
    /// (item i of every list), [`MapMode::Product`](crate::MapMode::Product) (every
    /// combination, the first name the outer loop), or `"zip"` / `"product"`. Inputs not
    /// in `over` are the same for every item.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "label")]
    /// fn label(letter: &str, n: i64) -> String { format!("{letter}{n}") }
    ///
    /// let p = Pipeline::new([label::node()]);
    /// let inputs = Inputs::new().with("letter", vec!["a".to_string(), "b".to_string()]).with("n", vec![1_i64, 2]);
    /// let zip = p.map(&inputs, &["letter", "n"], "zip")?;
    /// assert_eq!(zip.column::<String>("label")?, ["a1", "b2"]);
    /// let product = p.map(&inputs, &["letter", "n"], MapMode::Product)?;
    /// assert_eq!(product.column::<String>("label")?, ["a1", "a2", "b1", "b2"]);
    ///
    /// let err = p.map(&inputs, &["letter", "n"], "zipp").unwrap_err();
    /// assert_eq!(err.to_string(), "Unknown map mode 'zipp'. Valid modes: zip, product");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pipeline::run`] (a node's error names the item index), and
    /// [`Error::UnknownMapMode`], [`Error::EmptyMapOver`], [`Error::MapOverNotInput`],
    /// [`Error::NotAList`], [`Error::ZipLengthMismatch`].
    pub fn map(&self, inputs: &Inputs, over: &[&str], mode: impl AsMapMode) -> Result<MapOutputs> {
        self.map_with(inputs, over, mode, &RunOptions::new())
    }

    /// [`Pipeline::map`] with options (selected outputs, engine).
    ///
    /// # Errors
    ///
    /// As [`Pipeline::map`] and [`Pipeline::run_with`].
    pub fn map_with(
        &self,
        inputs: &Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: &RunOptions,
    ) -> Result<MapOutputs> {
        let plan = MapPlan::new(
            self,
            inputs,
            over,
            mode.as_map_mode()?,
            options.outputs(),
            self.config_for(options)?,
        )?;
        finish_map(plan.run_plan().config(), plan.len(), || {
            plan.run_plan().config().resolved_engine().map(&plan)
        })
    }

    /// [`Pipeline::run_with`] as a future, for applications that live on an async
    /// runtime (tokio or any other): the inputs are checked at once, then the run
    /// executes on hypernodes' own runtime's blocking pool, so awaiting it never blocks
    /// the caller's runtime. The configuration is resolved when this is called, on the
    /// calling thread (a [`RunConfig::scoped`] around the call applies).
    ///
    /// The blocking [`Pipeline::run`] works inside a runtime too (from `async` code it
    /// blocks that task's thread while it runs).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// async fn double(x: i64) -> i64 { 2 * x }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let p = Pipeline::new([double::node()]);
    /// let out = p.run_async(Inputs::new().with("x", 21_i64), RunOptions::new()).await?;
    /// assert_eq!(out.get::<i64>("doubled")?, 42);
    /// let out = p.map_async(Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip", RunOptions::new()).await?;
    /// assert_eq!(out.column::<i64>("doubled")?, [2, 4]);
    /// # Ok::<(), hypernodes::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pipeline::run_with`].
    pub fn run_async(
        &self,
        inputs: Inputs,
        options: RunOptions,
    ) -> impl std::future::Future<Output = Result<Outputs>> + Send + 'static {
        // Planned here, not when first polled, so that the inputs are checked and the
        // configuration resolved on the calling thread, inside its scope.
        let plan = self
            .config_for(&options)
            .and_then(|config| RunPlan::new(self, &inputs, options.outputs(), &[], config));
        async move {
            let plan = plan?;
            off_the_runtime(move || finish_run(plan.config(), || plan.config().resolved_engine().run(&plan))).await
        }
    }

    /// [`Pipeline::map_with`] as a future; see [`Pipeline::run_async`].
    ///
    /// # Errors
    ///
    /// As [`Pipeline::map_with`].
    pub fn map_async(
        &self,
        inputs: Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: RunOptions,
    ) -> impl std::future::Future<Output = Result<MapOutputs>> + Send + 'static {
        // Planned here, as in `run_async`.
        let plan = mode
            .as_map_mode()
            .and_then(|mode| MapPlan::new(self, &inputs, over, mode, options.outputs(), self.config_for(&options)?));
        async move {
            let plan = plan?;
            off_the_runtime(move || {
                let config = plan.run_plan().config();
                finish_map(config, plan.len(), || config.resolved_engine().map(&plan))
            })
            .await
        }
    }

    /// The configuration a top-level call runs with: the call's over the pipeline's over
    /// the current default.
    pub(crate) fn config_for(&self, options: &RunOptions) -> Result<Arc<RunConfig>> {
        options
            .config
            .or(&self.inner.config)
            .resolve_root(&RunConfig::current(), self.name())
    }
}

/// Runs a top-level run between its pipeline start and end events (see [`top_level`]),
/// and returns its results with what its cache did.
fn finish_run(config: &RunConfig, run: impl FnOnce() -> Result<Outputs>) -> Result<Outputs> {
    let out = top_level(config, run)?;
    Ok(out.with_cache_report(config.cache_report()))
}

/// [`finish_run`] for a map of `len` items, between its map start and end events.
fn finish_map(config: &RunConfig, len: usize, map: impl FnOnce() -> Result<MapOutputs>) -> Result<MapOutputs> {
    let out = top_level(config, || events_of_map(config, len, map))?;
    Ok(out.with_cache_report(config.cache_report()))
}

/// Runs a top-level call between its pipeline start and end events, and commits what
/// it stored in its caches before the end event, also when the call failed (the items
/// that succeeded keep their results): see [`RunConfig::commit_cache`].
pub(crate) fn top_level<T>(config: &RunConfig, run: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(events) = config.events() else {
        return config.commit_cache(run());
    };
    events.pipeline_start();
    let out = config.commit_cache(run());
    events.pipeline_end(out.as_ref().err());
    out
}

/// Runs `map` (of `len` items) between its map start and end events.
pub(crate) fn events_of_map<T>(config: &RunConfig, len: usize, map: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(events) = config.events() else {
        return map();
    };
    let started = events.map_start(len);
    let out = map();
    events.map_end(started, out.as_ref().err());
    out
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.inner.name)
            .field("nodes", &self.inner.nodes.iter().map(Node::name).collect::<Vec<_>>())
            .field("inputs", &self.inputs())
            .field("outputs", &self.inner.outputs)
            .field("bound", &self.inner.bound.names().collect::<Vec<_>>())
            .finish()
    }
}

/// Runs `f` on the runtime's blocking pool and awaits it; a panic in it resumes here.
async fn off_the_runtime<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match crate::exec::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

pub(crate) fn quoted<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let q: Vec<String> = names.into_iter().map(|n| format!("'{}'", n.as_ref())).collect();
    format!("[{}]", q.join(", "))
}

/// What one run will do: the nodes to run, the outputs each must keep, the outputs to
/// return and the input values. Built and checked by the pipeline before any engine
/// sees it, so every engine validates the same way.
#[derive(Clone, Debug)]
pub struct RunPlan {
    pipeline: Pipeline,
    nodes: Vec<usize>,
    keep: Vec<Vec<bool>>,
    outputs: Vec<String>,
    inputs: Inputs,
    config: Arc<RunConfig>,
}

impl RunPlan {
    /// Plans a run of `pipeline` over `inputs`, keeping only `select` when given.
    /// `mapped` names are inputs whose values are lists checked by the map plan.
    pub(crate) fn new(
        pipeline: &Pipeline,
        inputs: &Inputs,
        select: Option<&[String]>,
        mapped: &[&str],
        config: Arc<RunConfig>,
    ) -> Result<RunPlan> {
        let p = &pipeline.inner;
        let n = p.nodes.len();
        let selected: Option<BTreeSet<&str>> = match select {
            None => None,
            Some(names) => {
                let unknown: Vec<String> = names
                    .iter()
                    .filter(|s| !p.graph.producers.contains_key(s.as_str()))
                    .cloned()
                    .collect();
                if let Some(first) = unknown.first() {
                    return Err(Error::UnknownOutputs {
                        suggestion: closest(first, p.outputs.iter().map(String::as_str)),
                        unknown,
                        available: p.outputs.clone(),
                    });
                }
                Some(names.iter().map(String::as_str).collect())
            }
        };

        // Which nodes run: everything, or the ancestors of the selected outputs.
        let mut runs = vec![selected.is_none(); n];
        if let Some(sel) = &selected {
            let mut stack: Vec<usize> = sel.iter().map(|s| p.graph.producers[*s].0).collect();
            while let Some(i) = stack.pop() {
                if !runs[i] {
                    runs[i] = true;
                    stack.extend(&p.graph.deps[i]);
                }
            }
        }
        let nodes: Vec<usize> = (0..n).filter(|&i| runs[i]).collect();

        // Which outputs of each running node are kept: consumed by a running node, or
        // returned. Without a selection every output is returned, except that a nested
        // pipeline returns only its outputs that other nodes consume, or all of them when
        // nothing consumes any (a terminal nested node).
        let consumed: HashSet<&str> = nodes
            .iter()
            .flat_map(|&i| p.nodes[i].params().iter().map(|q| q.name()))
            .collect();
        let mut keep = vec![Vec::new(); n];
        let mut outputs = Vec::new();
        for &i in &nodes {
            let node = &p.nodes[i];
            let terminal = !node.is_nested() || !node.outputs().iter().any(|o| consumed.contains(o.name()));
            keep[i] = node
                .outputs()
                .iter()
                .map(|o| {
                    let returned = match &selected {
                        Some(s) => s.contains(o.name()),
                        None => terminal || consumed.contains(o.name()),
                    };
                    if returned {
                        outputs.push(o.name().to_string());
                    }
                    returned || consumed.contains(o.name())
                })
                .collect();
        }
        outputs.sort_unstable();

        // The inputs those nodes read, given or bound.
        let required: BTreeSet<&str> = consumed
            .iter()
            .copied()
            .filter(|name| p.graph.inputs.contains_key(*name))
            .collect();
        let mut values = Inputs::new();
        let mut missing = Vec::new();
        let mut errors = Vec::new();
        for &name in &required {
            match inputs.get(name).or_else(|| p.bound.get(name)) {
                None => missing.push(name.to_string()),
                Some(value) => {
                    if !mapped.contains(&name) {
                        let checked = pipeline.check_input_type(name, value).and_then(|()| {
                            value.force().map_err(|e| Error::ResourceFailed {
                                input: name.into(),
                                source: e.into(),
                            })
                        });
                        errors.extend(checked.err());
                    }
                    values.insert_value(name, value.clone());
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::MissingInputs {
                missing,
                required: required
                    .iter()
                    .filter(|r| !p.bound.contains(r))
                    .map(|r| r.to_string())
                    .collect(),
            });
        }
        Error::combine(errors)?;
        Ok(RunPlan {
            pipeline: pipeline.clone(),
            nodes,
            keep,
            outputs,
            inputs: values,
            config,
        })
    }

    /// A plan of the nodes and outputs only, for an engine that supplies the input
    /// columns itself (a nested pipeline inside the columnar engine): unbound inputs are
    /// neither required nor checked, and [`RunPlan::inputs`] holds the bound ones.
    #[cfg(feature = "columnar")]
    pub(crate) fn for_columns(
        pipeline: &Pipeline,
        select: Option<&[String]>,
        config: Arc<RunConfig>,
    ) -> Result<RunPlan> {
        let unbound = pipeline.unfulfilled_args();
        let placeholders: Inputs = unbound.iter().map(|n| (*n, crate::Value::new(()))).collect();
        let mut plan = RunPlan::new(pipeline, &placeholders, select, &unbound, config)?;
        for name in unbound {
            plan.inputs.remove(name);
        }
        Ok(plan)
    }

    /// The pipeline being run.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The indices (into [`Pipeline::nodes`]) of the nodes to run, in execution order.
    pub fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// For node `index`, which of its outputs are needed (consumed or returned).
    pub fn kept_outputs(&self, index: usize) -> &[bool] {
        &self.keep[index]
    }

    /// The output names to return, sorted.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// The input values the nodes read (given or bound), type-checked.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// The configuration the run executes with, resolved: every field set (the engine,
    /// both executors and the failure policy from the built-in defaults when no level
    /// sets them; retries and timeout stay unset when none does).
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    pub(crate) fn config_arc(&self) -> &Arc<RunConfig> {
        &self.config
    }
}
