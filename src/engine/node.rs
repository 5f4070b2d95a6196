//! The node engine: runs a plan node by node, item by item, passing values between
//! nodes without converting them, so any Rust type works.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;
use smallvec::SmallVec;

use super::Engine;
use crate::cache::{item_keys, ArgDigests, Block, Column, Digest, Lookup, NodeCache};
use crate::error::{Error, Result};
use crate::events::{runs, Events, Tick};
use crate::exec::{
    block_on, for_items, for_items_async, reported, set_executor, spawn_blocking, AsExecutor, Executor, ItemFailure,
    OnError, RunConfig,
};
use crate::hash::digest_as;
use crate::map::MapPlan;
use crate::node::{InvokeArgs, Node, NodeImpl, NodeKind, NodeOutputs};
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::RunPlan;
use crate::value::{ColumnBuilder, TypeInfo, Value};

/// Runs pipelines node by node (upstream HyperNodes' `HyperNodesEngine`).
///
/// Values pass between nodes behind `Arc`s and are never converted; items of a map are
/// views into the mapped lists; map results are collected into typed `Vec` columns.
///
/// The node executor runs the independent nodes of a run (the arms of a diamond) at the
/// same time, a wave of ready nodes after another; the map executor runs the items of a
/// map (see [`Executor`]). Both default to [`Executor::Sequential`]: most per-item
/// functions take well under a microsecond, less than handing an item to another
/// thread costs, the order of side effects stays the order of the items, and no thread
/// is started for a pipeline that does not ask for one. Pick `parallel` for CPU-bound
/// items, `threaded:N` for blocking calls and `async:N` for `async fn` nodes.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let p = Pipeline::new([double::node()]).with_engine(NodeEngine::new());
/// assert_eq!(p.run(&Inputs::new().with("x", 21_i64))?.get::<i64>("doubled")?, 42);
///
/// let engine = NodeEngine::new().with_node_executor("threaded:4").with_map_executor(Executor::parallel());
/// let p = Pipeline::new([double::node()]).with_engine(engine);
/// let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// assert_eq!(out.column::<i64>("doubled")?, [2, 4, 6]);
///
/// let err = NodeEngine::new().with_map_executor("paralel");
/// let p = Pipeline::new([double::node()]).with_engine(err);
/// assert_eq!(
///     p.run(&Inputs::new().with("x", 1_i64)).unwrap_err().to_string(),
///     "Unknown executor 'paralel'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]"
/// );
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct NodeEngine {
    node_executor: Option<Executor>,
    map_executor: Option<Executor>,
    /// An executor given by a name that did not parse, reported by every run.
    invalid: Option<Arc<Error>>,
}

impl NodeEngine {
    /// The engine used when a pipeline sets none.
    pub const DEFAULT: NodeEngine = NodeEngine {
        node_executor: None,
        map_executor: None,
        invalid: None,
    };

    /// A node engine with the default (sequential) executors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the independent nodes of each run with `executor` (an [`Executor`] or its
    /// name; a bad name fails every run with the parse error).
    pub fn with_node_executor(mut self, executor: impl AsExecutor) -> Self {
        set_executor(&mut self.node_executor, &mut self.invalid, executor);
        self
    }

    /// Runs the items of each map with `executor` (an [`Executor`] or its name).
    pub fn with_map_executor(mut self, executor: impl AsExecutor) -> Self {
        set_executor(&mut self.map_executor, &mut self.invalid, executor);
        self
    }

    fn check(&self) -> Result<()> {
        self.invalid.as_deref().map_or(Ok(()), |e| Err(reported(e)))
    }
}

impl Engine for NodeEngine {
    fn name(&self) -> &str {
        "node"
    }

    fn node_executor(&self) -> Option<Executor> {
        self.node_executor
    }

    fn map_executor(&self) -> Option<Executor> {
        self.map_executor
    }

    fn run(&self, plan: &RunPlan) -> Result<Outputs> {
        self.check()?;
        let program = Program::new(plan, &[]);
        if plan.config().cache().is_some() {
            let mut cells = program.exec_cached(1, None, &mut Vec::new())?;
            let values = program
                .outputs
                .iter()
                .map(|out| cells[out.slot].take_one(0).map(|v| (out.name.to_string(), v)))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Outputs::from_values(values));
        }
        let mut slots = program.initial_slots();
        if matches!(program.node_executor, Executor::Async(_)) && program.has_async() {
            let program = Arc::new(program);
            slots = block_on(program.clone().exec_async(slots, None))?;
            return program.outputs_of(&mut slots);
        }
        program.exec(&mut slots, None)?;
        program.outputs_of(&mut slots)
    }

    fn map(&self, plan: &MapPlan) -> Result<MapOutputs> {
        self.check()?;
        let config = plan.run_plan().config();
        let executor = config.map_executor().unwrap_or_default();
        let on_error = config.on_error().unwrap_or_default();
        let over: Vec<&str> = plan.over().iter().map(|m| m.name()).collect();
        let program = Program::new(plan.run_plan(), &over);
        let mut builders = program
            .outputs
            .iter()
            .map(|out| {
                out.ty.column_builder(plan.len()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "Output '{}': lists of {} nest too deep to collect",
                        out.name, out.ty
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Without `async fn` nodes, `async:N` runs the items on its pool like `threaded:N`,
        // without a hand-off to the runtime per item.
        let awaits = program.has_async();
        let mut failures = Vec::new();
        if config.cache().is_some() {
            let mut cells = program.exec_cached(plan.len(), Some(plan), &mut failures)?;
            let failed: std::collections::HashSet<usize> = failures.iter().map(ItemFailure::item).collect();
            let mut columns = Vec::with_capacity(program.outputs.len());
            for (builder, out) in builders.into_iter().zip(&program.outputs) {
                // Results found whole: the column is the list read from the cache.
                if let (Cells::List { list, .. }, true) = (&cells[out.slot], failed.is_empty()) {
                    columns.push((out.name.to_string(), (**list).clone()));
                    continue;
                }
                let values = (0..plan.len())
                    .filter(|i| !failed.contains(i))
                    .map(|item| cells[out.slot].take_one(item))
                    .collect::<Result<Vec<_>>>()?;
                let producer = program.producer(&out.name);
                columns.push((
                    out.name.to_string(),
                    collect_shared(builder, values, &out.name, out.ty, producer)?,
                ));
            }
            let len = plan.len() - failures.len();
            return Ok(MapOutputs::from_columns(len, columns).with_failures(plan.len(), failures));
        }
        let push = |item: usize, values: SmallVec<[Value; 2]>, builders: &mut Vec<Box<dyn ColumnBuilder>>| {
            for ((builder, out), value) in builders.iter_mut().zip(&program.outputs).zip(values) {
                builder
                    .push(value)
                    .map_err(|_| not_owned(program.producer(&out.name), &out.name, Some(item)))?;
            }
            Ok::<(), Error>(())
        };
        match executor {
            Executor::Sequential => {
                // One set of slots for every item: the inputs stay, node outputs are refilled.
                let mut slots = program.initial_slots();
                for item in 0..plan.len() {
                    program.fill_item(plan, item, &mut slots);
                    let done = program.exec(&mut slots, Some(item)).and_then(|()| {
                        for (builder, out) in builders.iter_mut().zip(&program.outputs) {
                            builder
                                .push(take(&mut slots, out.slot)?)
                                .map_err(|_| not_owned(program.producer(&out.name), &out.name, Some(item)))?;
                        }
                        Ok(())
                    });
                    for &slot in &program.per_item {
                        slots[slot] = None;
                    }
                    match done {
                        Ok(()) => {}
                        Err(e) if on_error == OnError::Collect => failures.push(ItemFailure::new(item, e)),
                        Err(e) => return Err(e),
                    }
                }
            }
            Executor::Async(width) if awaits => {
                let program = Arc::new(program.clone());
                let results = block_on(for_items_async(width, plan.len(), on_error, |item| {
                    let program = program.clone();
                    let mut slots = program.initial_slots();
                    program.fill_item(plan, item, &mut slots);
                    async move {
                        let mut slots = program.clone().exec_async(slots, Some(item)).await?;
                        program.take_outputs(&mut slots)
                    }
                }));
                collect(results, on_error, &mut failures, |item, values| {
                    push(item, values, &mut builders)
                })?;
            }
            _ => {
                let results = for_items(executor, plan.len(), on_error, |item| {
                    let mut slots = program.initial_slots();
                    program.fill_item(plan, item, &mut slots);
                    program.exec(&mut slots, Some(item))?;
                    program.take_outputs(&mut slots)
                });
                collect(results, on_error, &mut failures, |item, values| {
                    push(item, values, &mut builders)
                })?;
            }
        }
        let columns = program
            .outputs
            .iter()
            .zip(builders)
            .map(|(out, b)| (out.name.to_string(), b.finish()));
        let len = plan.len() - failures.len();
        Ok(MapOutputs::from_columns(len, columns).with_failures(plan.len(), failures))
    }
}

/// Feeds the results of items, in item order, to `push`: an error fails the map (the
/// first, the smallest failing index) or, under [`OnError::Collect`], is recorded.
pub(crate) fn collect<T>(
    results: Vec<Option<Result<T>>>,
    on_error: OnError,
    failures: &mut Vec<ItemFailure>,
    mut push: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    for (item, r) in results.into_iter().enumerate() {
        let done = match r {
            Some(r) => r.and_then(|v| push(item, v)),
            // Skipped after an earlier item failed: that failure is returned first.
            None => continue,
        };
        match done {
            Ok(()) => {}
            Err(e) if on_error == OnError::Collect => failures.push(ItemFailure::new(item, e)),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn take(slots: &mut [Option<Value>], slot: usize) -> Result<Value> {
    // Unreachable: every returned output is kept by its node, a function node returns a
    // value per output (checked in `call_node`) and a nested node one per kept output
    // (checked in `NestedNode::call`).
    slots[slot]
        .take()
        .ok_or_else(|| Error::Internal(format!("slot {slot} is empty after the run")))
}

/// The failure of a node that returned, for `output`, a value a map cannot collect: one
/// it does not own (a clone of an argument, or an item of a mapped list), which a
/// [`NodeImpl`](crate::node::NodeImpl) written by hand can return.
pub(crate) fn not_owned(node: &Node, output: &str, item: Option<usize>) -> Error {
    Error::NodeFailed {
        node: node.name().into(),
        item,
        source: format!(
            "returned a value for '{output}' that it does not own (a clone of an argument?); a node must return values of its own to be collected by a map"
        )
        .into(),
    }
}

/// A plan compiled to slot numbers: each value a run holds has a slot, each node reads
/// and writes slots. Owns what it needs, so the items of an async map can share it.
#[derive(Clone)]
struct Program {
    config: Arc<RunConfig>,
    node_executor: Executor,
    /// The pool that runs the waves of independent nodes, if any wave has several.
    node_pool: Option<&'static rayon::ThreadPool>,
    /// How many slots an item's run holds.
    n_slots: usize,
    inputs: Vec<(usize, Value)>,
    steps: Vec<Step>,
    /// Groups of steps whose inputs are ready once the groups before have run, in step
    /// order: the nodes the node executor may run at the same time.
    waves: Vec<Vec<usize>>,
    outputs: Vec<OutputSlot>,
    /// Slots refilled for every item: node outputs.
    per_item: Vec<usize>,
    /// For a map, the slot of each mapped input (`None` when no running node reads it).
    mapped: Vec<Option<usize>>,
}

#[derive(Clone)]
struct Step {
    node: Node,
    /// The function of a node the run calls with neither retries nor a timeout.
    plain: Option<Arc<dyn NodeImpl>>,
    keep: SmallVec<[bool; 4]>,
    args: SmallVec<[usize; 4]>,
    /// The slot of each output, `None` for outputs nobody needs.
    outs: SmallVec<[Option<usize>; 2]>,
}

#[derive(Clone)]
struct OutputSlot {
    name: Arc<str>,
    slot: usize,
    ty: TypeInfo,
}

impl Program {
    /// The program of `plan`; `over` names the inputs a map fills per item.
    fn new(plan: &RunPlan, over: &[&str]) -> Program {
        let nodes = plan.pipeline().nodes();
        let mut slots: HashMap<&str, usize> = HashMap::new();
        let mut inputs = Vec::new();
        for (name, value) in plan.inputs().iter() {
            let n = slots.len();
            slots.insert(name, n);
            inputs.push((n, value.clone()));
        }
        let mut steps = Vec::with_capacity(plan.nodes().len());
        let mut per_item = Vec::new();
        let mut ports: HashMap<&str, &crate::node::Port> = HashMap::new();
        let node_executor = plan.config().node_executor().unwrap_or_default();
        // Waves only for a node executor that runs nodes at once (a sequential one runs
        // the steps in order, and a nested run per item pays nothing for them). The wave
        // of the step producing each slot (inputs: none).
        let grouped = node_executor != Executor::Sequential;
        let mut wave_of_slot: HashMap<usize, usize> = HashMap::new();
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for &i in plan.nodes() {
            let node = &nodes[i];
            let keep = plan.kept_outputs(i);
            let args: SmallVec<[usize; 4]> = node.params().iter().map(|p| slots[p.name()]).collect();
            let wave = if grouped {
                args.iter()
                    .filter_map(|a| wave_of_slot.get(a))
                    .map(|w| w + 1)
                    .max()
                    .unwrap_or(0)
            } else {
                0
            };
            let mut outs = SmallVec::new();
            for (port, &kept) in node.outputs().iter().zip(keep) {
                outs.push(kept.then(|| {
                    let n = slots.len();
                    slots.insert(port.name(), n);
                    ports.insert(port.name(), port);
                    per_item.push(n);
                    if grouped {
                        wave_of_slot.insert(n, wave);
                    }
                    n
                }));
            }
            if grouped {
                if waves.len() <= wave {
                    waves.resize_with(wave + 1, Vec::new);
                }
                waves[wave].push(steps.len());
            }
            let config = plan.config();
            let plain = match node.kind() {
                NodeKind::Func(f) if config.retry().is_none() && config.timeout().is_none() && f.plain() => {
                    Some(f.clone())
                }
                _ => None,
            };
            steps.push(Step {
                plain,
                node: node.clone(),
                keep: keep.into(),
                args,
                outs,
            });
        }
        let outputs = plan
            .outputs()
            .iter()
            .map(|name| OutputSlot {
                name: ports[name.as_str()].name_arc().clone(),
                slot: slots[name.as_str()],
                ty: ports[name.as_str()].type_info(),
            })
            .collect();
        let node_pool = match node_executor.pool() {
            Some((pool, _)) if waves.iter().any(|w| w.len() > 1) => Some(pool),
            _ => None,
        };
        Program {
            config: plan.config_arc().clone(),
            node_executor,
            node_pool,
            n_slots: slots.len(),
            mapped: over.iter().map(|m| slots.get(m).copied()).collect(),
            inputs,
            steps,
            waves,
            outputs,
            per_item,
        }
    }

    /// Whether a step is an `async fn` node (the async executor awaits those).
    fn has_async(&self) -> bool {
        self.steps.iter().any(|s| s.node.is_async())
    }

    /// The node producing output `name`.
    fn producer(&self, name: &str) -> &Node {
        let step = self
            .steps
            .iter()
            .find(|s| s.node.outputs().iter().any(|o| o.name() == name));
        &step.expect("a returned output has a producer").node
    }

    fn initial_slots(&self) -> Vec<Option<Value>> {
        let mut slots = vec![None; self.n_slots];
        for (slot, value) in &self.inputs {
            slots[*slot] = Some(value.clone());
        }
        slots
    }

    /// Puts item `item`'s elements of the mapped lists in their slots.
    #[inline]
    fn fill_item(&self, plan: &MapPlan, item: usize, slots: &mut [Option<Value>]) {
        plan.for_each_element(item, |k, j| {
            if let Some(slot) = self.mapped[k] {
                slots[slot] = Some(plan.over()[k].element(j));
            }
        });
    }

    /// Takes the returned outputs out of the slots, in output order.
    fn take_outputs(&self, slots: &mut [Option<Value>]) -> Result<SmallVec<[Value; 2]>> {
        self.outputs.iter().map(|out| take(slots, out.slot)).collect()
    }

    fn outputs_of(&self, slots: &mut [Option<Value>]) -> Result<Outputs> {
        let values = self
            .outputs
            .iter()
            .map(|out| take(slots, out.slot).map(|v| (out.name.to_string(), v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Outputs::from_values(values))
    }

    #[inline]
    fn args<'s>(&self, step: &Step, slots: &'s [Option<Value>]) -> SmallVec<[&'s Value; 4]> {
        step.args
            .iter()
            .map(|&s| slots[s].as_ref().expect("inputs and earlier outputs are filled"))
            .collect()
    }

    #[inline]
    fn store(step: &Step, out: Produced, slots: &mut [Option<Value>]) {
        out.for_each(|k, value| {
            if let Some(slot) = step.outs[k] {
                slots[slot] = Some(value);
            }
        });
    }

    /// Runs every step on one item's slots: one after another, or wave by wave on the
    /// node executor's pool.
    fn exec(&self, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        if let Some(events) = self.config.events() {
            return self.exec_reporting(events, slots, item);
        }
        let pool = match self.node_pool {
            Some(pool) => pool,
            None => {
                for step in &self.steps {
                    let args = self.args(step, slots);
                    let out = match &step.plain {
                        Some(f) => call_plain(&step.node, &**f, &args, item)?,
                        None => call_node(&self.config, &step.node, &step.keep, &args, item)?,
                    };
                    drop(args);
                    Self::store(step, out, slots);
                }
                return Ok(());
            }
        };
        self.exec_waves(pool, slots, item)
    }

    /// [`Program::exec`] reporting to callbacks: the item's start and end (in a map),
    /// each node's start and end or error. One clock reading per node: a node's time runs
    /// from the end of the one before.
    fn exec_reporting(&self, events: &Events, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        let items = item.map_or(0..1, |i| i..i + 1);
        let started = Tick::now();
        if item.is_some() {
            events.item_start(items.clone());
        }
        let done = match self.node_pool {
            Some(pool) => self.exec_waves(pool, slots, item).map(|()| Tick::now()),
            None => self.exec_steps_reporting(events, slots, item, started),
        };
        match done {
            Ok(end) => {
                if item.is_some() {
                    events.item_end(items, end.since(started));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The steps one after another, each reported, a node's time running from the end of
    /// the one before (`started` for the first); returns the end of the last.
    fn exec_steps_reporting(
        &self,
        events: &Events,
        slots: &mut [Option<Value>],
        item: Option<usize>,
        started: Tick,
    ) -> Result<Tick> {
        let items = item.map_or(0..1, |i| i..i + 1);
        let mut at = started;
        for step in &self.steps {
            events.node_start(&step.node, items.clone());
            let args = self.args(step, slots);
            let out = match &step.plain {
                Some(f) => call_plain(&step.node, &**f, &args, item),
                None => invoke_node(&self.config, &step.node, &step.keep, &args, item),
            };
            drop(args);
            match out {
                Ok(out) => {
                    let now = Tick::now();
                    events.node_end(&step.node, items.clone(), now.since(at));
                    at = now;
                    Self::store(step, out, slots);
                }
                Err(e) => {
                    events.node_error(&step.node, item, &e);
                    return Err(e);
                }
            }
        }
        Ok(at)
    }

    /// Runs the steps wave by wave, the nodes of a wave at once on `pool`.
    fn exec_waves(&self, pool: &rayon::ThreadPool, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        for wave in &self.waves {
            let produced: Vec<Result<Produced>> = if wave.len() == 1 {
                let step = &self.steps[wave[0]];
                vec![call_node(
                    &self.config,
                    &step.node,
                    &step.keep,
                    &self.args(step, slots),
                    item,
                )]
            } else {
                let shared: &[Option<Value>] = slots;
                pool.install(|| {
                    wave.par_iter()
                        .with_max_len(1)
                        .map(|&s| {
                            let step = &self.steps[s];
                            call_node(&self.config, &step.node, &step.keep, &self.args(step, shared), item)
                        })
                        .collect()
                })
            };
            // The first failing node in step order, whichever finished first.
            for (&s, out) in wave.iter().zip(produced) {
                Self::store(&self.steps[s], out?, slots);
            }
        }
        Ok(())
    }

    /// Runs every step on one item's slots as a future: `async fn` nodes are awaited,
    /// the others run on the runtime's blocking pool; a wave's nodes run at once unless
    /// the node executor is sequential.
    async fn exec_async(
        self: Arc<Self>,
        mut slots: Vec<Option<Value>>,
        item: Option<usize>,
    ) -> Result<Vec<Option<Value>>> {
        let events = self.config.events().filter(|_| item.is_some());
        let started = Tick::now();
        if let (Some(events), Some(i)) = (events, item) {
            events.item_start(i..i + 1);
        }
        let together = self.node_executor != Executor::Sequential;
        // Without waves (a sequential node executor), each step is a wave of its own.
        let groups = if self.waves.is_empty() {
            self.steps.len()
        } else {
            self.waves.len()
        };
        for g in 0..groups {
            let alone = [g];
            let wave: &[usize] = if self.waves.is_empty() { &alone } else { &self.waves[g] };
            let calls = wave.iter().map(|&s| {
                let step = &self.steps[s];
                let args: Vec<Value> = self.args(step, &slots).into_iter().cloned().collect();
                let keep: Arc<[bool]> = step.keep.as_slice().into();
                call_node_async(self.config.clone(), step.node.clone(), keep, args, item)
            });
            let produced: Vec<Result<Produced>> = if together && wave.len() > 1 {
                futures::future::join_all(calls).await
            } else {
                let mut out = Vec::with_capacity(wave.len());
                for call in calls {
                    out.push(call.await);
                }
                out
            };
            for (&s, out) in wave.iter().zip(produced) {
                Self::store(&self.steps[s], out?, &mut slots);
            }
        }
        if let (Some(events), Some(i)) = (events, item) {
            events.item_end(i..i + 1, started.elapsed());
        }
        Ok(slots)
    }
}

/// A map's column from values of which some may be shared with the cache: pushed as
/// they are when each is owned, else copied through the type's Arrow conversions.
pub(crate) fn collect_shared(
    mut builder: Box<dyn ColumnBuilder>,
    values: Vec<Value>,
    name: &str,
    ty: TypeInfo,
    producer: &Node,
) -> Result<Value> {
    let shared = values.iter().position(|v| !v.is_unique());
    match shared {
        None => {
            for (item, value) in values.into_iter().enumerate() {
                builder.push(value).map_err(|_| not_owned(producer, name, Some(item)))?;
            }
            Ok(builder.finish())
        }
        Some(item) => {
            #[cfg(feature = "columnar")]
            if let Some(ct) = crate::engine::columnar::ColumnType::find(&ty) {
                // Unreachable: the values are results checked against the output's type.
                let array = (ct.values_to_array)(&values)
                    .ok_or_else(|| Error::Internal(format!("output '{name}' does not convert")))?;
                return (ct.array_to_list)(&[array.as_ref()]).map_err(Error::Internal);
            }
            Err(Error::NodeFailed {
                node: producer.name().into(),
                item: Some(item),
                source: format!(
                    "the result for '{name}' came from the memory cache and its type {ty} cannot be copied into the map's results; return a type that maps to Arrow, or run this map without a cache"
                )
                .into(),
            })
        }
    }
}

/// The values of one slot in a node-by-node run over items.
pub(crate) enum Cells {
    /// The same value for every item (an input not mapped).
    Const(Value),
    /// A value per item (`None` where the item failed or was not computed), and their
    /// digests when known (per item).
    Items(Vec<Option<Value>>, Option<Arc<Vec<Digest>>>),
    /// Every item's value, item `i` being element `i` of a `Vec` (results found whole in
    /// the cache, converted at once), and their digests when known.
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    List {
        list: Arc<Value>,
        elem: fn() -> TypeInfo,
        digests: Option<Arc<Vec<Digest>>>,
    },
}

impl Cells {
    /// Item `item`'s value (a cheap clone).
    pub(crate) fn at(&self, item: usize) -> Option<Value> {
        match self {
            Cells::Const(v) => Some(v.clone()),
            Cells::Items(values, _) => values[item].clone(),
            Cells::List { list, elem, .. } => Some(Value::item(list.clone(), item, *elem)),
        }
    }

    /// The digests of the items' values, when known.
    fn digests(&self) -> Option<&Arc<Vec<Digest>>> {
        match self {
            Cells::Items(_, d) | Cells::List { digests: d, .. } => d.as_ref(),
            Cells::Const(_) => None,
        }
    }

    fn take_one(&mut self, item: usize) -> Result<Value> {
        match self {
            Cells::Const(v) => Ok(v.clone()),
            // Unreachable: every output of an item that did not fail is computed.
            Cells::Items(values, _) => values[item]
                .take()
                .ok_or_else(|| Error::Internal(format!("item {item} has no result"))),
            Cells::List { list, elem, .. } => Ok(Value::item(list.clone(), item, *elem)),
        }
    }
}

impl Program {
    /// Runs the steps node by node over `n` items (the items of `map`, or the one item of
    /// a run), with the cache: each node computes the digests of its items' arguments,
    /// looks the items up (the whole batch in one call, else item by item), computes the
    /// others on the map executor and stores the batch. Failed items are recorded in
    /// `failures` under [`OnError::Collect`]; otherwise the error of the smallest failing
    /// item is returned, as in the item-by-item run.
    fn exec_cached(&self, n: usize, map: Option<&MapPlan>, failures: &mut Vec<ItemFailure>) -> Result<Vec<Cells>> {
        let config = &self.config;
        let on_error = config.on_error().unwrap_or_default();
        let mut cells: Vec<Option<Cells>> = (0..self.n_slots).map(|_| None).collect();
        for (slot, value) in &self.inputs {
            cells[*slot] = Some(Cells::Const(value.clone()));
        }
        if let Some(map) = map {
            let mut columns: Vec<Vec<Option<Value>>> = self.mapped.iter().map(|_| Vec::with_capacity(n)).collect();
            for item in 0..n {
                map.for_each_element(item, |k, j| {
                    if self.mapped[k].is_some() {
                        columns[k].push(Some(map.over()[k].element(j)));
                    }
                });
            }
            for (slot, column) in self.mapped.iter().zip(columns) {
                if let Some(slot) = slot {
                    cells[*slot] = Some(Cells::Items(column, None));
                }
            }
        }
        let mut alive = vec![true; n];
        // With callbacks, in a map: every item starts now, and ends cached when no node
        // computed it.
        let events = config.events().filter(|_| map.is_some());
        let started = Tick::now();
        let mut computed = Vec::new();
        if let Some(events) = events {
            events.item_start(0..n);
            computed = vec![false; n];
        }
        // Under `OnError::Fail`: the smallest failing item so far and its error. Later
        // nodes run only on the items before it, to find an earlier failure.
        let mut cut: Option<(usize, Error)> = None;
        for step in &self.steps {
            let limit = cut.as_ref().map_or(n, |c| c.0);
            let rows: Vec<usize> = (0..limit).filter(|&i| alive[i]).collect();
            let args: Vec<&Cells> = step
                .args
                .iter()
                .map(|&s| cells[s].as_ref().expect("inputs and earlier outputs are filled"))
                .collect();
            // The outputs later nodes read (their digests are kept with the results).
            let digest_out: Vec<bool> = step
                .outs
                .iter()
                .map(|slot| slot.is_some_and(|slot| self.steps.iter().any(|t| t.args.contains(&slot))))
                .collect();
            let results = cached_node(
                config,
                &step.node,
                &step.keep,
                &rows,
                n,
                &args,
                &digest_out,
                map.is_some(),
            );
            if events.is_some() {
                for &item in &results.computed {
                    computed[item] = true;
                }
            }
            for (item, e) in results.failed {
                alive[item] = false;
                match e {
                    Some(e) if on_error == OnError::Collect => failures.push(ItemFailure::new(item, e)),
                    Some(e) if cut.as_ref().is_none_or(|c| item < c.0) => cut = Some((item, e)),
                    Some(_) | None => {}
                }
            }
            for (k, out) in results.outs.into_iter().enumerate() {
                if let Some(slot) = step.outs[k] {
                    cells[slot] = Some(out);
                }
            }
        }
        failures.sort_by_key(ItemFailure::item);
        if let Some(events) = events {
            let limit = cut.as_ref().map_or(n, |c| c.0);
            let cached = |i: usize| !computed[i];
            runs((0..limit).filter(|&i| alive[i]), |items| {
                events.items_done(items, Some(&cached), started.elapsed())
            });
        }
        if let Some((_, e)) = cut {
            return Err(e);
        }
        Ok(cells
            .into_iter()
            .map(|c| c.unwrap_or(Cells::Items(Vec::new(), None)))
            .collect())
    }
}

/// What [`cached_node`] returns: each output's values (per item, or the whole list
/// found in the cache), with their digests where asked for and known, and the items
/// that failed (with their error; `None` for items skipped after a failure under
/// [`OnError::Fail`]).
pub(crate) struct NodeResults {
    pub(crate) outs: Vec<Cells>,
    pub(crate) failed: Vec<(usize, Option<Error>)>,
    /// The items the node was called on (not found in the cache).
    pub(crate) computed: Vec<usize>,
}

/// The digests of the values of items `rows`, as a `ty` (`None` when one cannot be
/// hashed), computed on rayon's pool for many items.
fn digest_rows(rows: &[usize], value: impl Fn(usize) -> Option<Value> + Sync, ty: &TypeInfo) -> Option<Vec<Digest>> {
    let one = |&i: &usize| value(i).and_then(|v| digest_as(&v, ty));
    if rows.len() >= 4096 {
        rows.par_iter().with_min_len(1024).map(one).collect()
    } else {
        rows.iter().map(one).collect()
    }
}

/// Runs one node over the items `rows` (of `n`) through its cache: the digests of its
/// arguments (`args`, one per parameter; found with the values, or computed), a lookup
/// of the whole batch, else item by item, the other items computed with the map
/// executor, and the batch stored, with the digests of the outputs in `digest_out`
/// (those later nodes read). Without a cache for the node, every item is computed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cached_node(
    config: &Arc<RunConfig>,
    node: &Node,
    keep: &[bool],
    rows: &[usize],
    n: usize,
    args: &[&Cells],
    digest_out: &[bool],
    is_map: bool,
) -> NodeResults {
    let executor = config.map_executor().unwrap_or_default();
    let on_error = config.on_error().unwrap_or_default();
    let item_of = |i: usize| is_map.then_some(i);
    let args_of = |item: usize| -> SmallVec<[Value; 4]> {
        args.iter()
            .map(|c| c.at(item).expect("the arguments of a live item are filled"))
            .collect()
    };
    let n_out = node.outputs().len();
    let mut outs: Vec<Vec<Option<Value>>> = (0..n_out).map(|_| vec![None; n]).collect();
    let mut out_digests: Vec<Option<Arc<Vec<Digest>>>> = vec![None; n_out];
    let cached = NodeCache::new(config, node, keep).and_then(|nc| {
        // Per argument: one digest, or one per row (found with the values, or computed).
        let mut per_arg: Vec<std::result::Result<Digest, Vec<Digest>>> = Vec::with_capacity(args.len());
        for (p, c) in node.params().iter().zip(args) {
            let ty = p.type_info();
            let d = match c {
                Cells::Const(v) => digest_as(v, &ty).map(Ok),
                c => match c.digests() {
                    Some(known) => Some(Err(rows.iter().map(|&i| known[i]).collect())),
                    None => digest_rows(rows, |i| c.at(i), &ty).map(Err),
                },
            };
            match d {
                Some(d) => per_arg.push(d),
                None => {
                    nc.unhashable(p.name(), &ty.name());
                    return None;
                }
            }
        }
        let digests: Vec<ArgDigests<'_>> = per_arg
            .iter()
            .map(|d| match d {
                Ok(c) => ArgDigests::Const(*c),
                Err(rows) => ArgDigests::Rows(rows),
            })
            .collect();
        Some((item_keys(rows.len(), &digests), nc))
    });
    // The positions in `rows` to compute.
    let mut todo: Vec<usize> = (0..rows.len()).collect();
    let mut failed: Vec<(usize, Option<Error>)> = Vec::new();
    if let Some((keys, nc)) = &cached {
        let cached_outputs = nc.outputs();
        let found: Vec<Option<(Arc<Block>, usize)>> = match nc.lookup(keys) {
            Lookup::All(block) => {
                // Every item, found whole: each output converted at once, if it can be.
                if rows.len() == n {
                    if let Some(lists) = whole_lists(node, cached_outputs, &block, digest_out) {
                        nc.count(n, 0);
                        if let Some(events) = config.events() {
                            events.node_cached(node, 0..n);
                        }
                        let mut cells: Vec<Cells> = (0..n_out).map(|_| Cells::Items(Vec::new(), None)).collect();
                        for (&k, list) in cached_outputs.iter().zip(lists) {
                            cells[k] = list;
                        }
                        return NodeResults {
                            outs: cells,
                            failed,
                            computed: Vec::new(),
                        };
                    }
                }
                for (c, &k) in cached_outputs.iter().enumerate() {
                    if let (true, Some(Some(d))) = (digest_out[k], block.digests.get(c)) {
                        let mut per_item = vec![[0; 32]; n];
                        for (pos, &i) in rows.iter().enumerate() {
                            per_item[i] = d[pos];
                        }
                        out_digests[k] = Some(Arc::new(per_item));
                    }
                }
                (0..rows.len()).map(|pos| Some((block.clone(), pos))).collect()
            }
            Lookup::Some(found) => found,
            Lookup::None => vec![None; rows.len()],
        };
        todo.clear();
        let mut fill = |pos: usize, block: &Block, row: usize| -> Result<()> {
            for (c, &k) in cached_outputs.iter().enumerate() {
                outs[k][rows[pos]] = Some(block.columns[c].value(row, &node.outputs()[k])?);
            }
            Ok(())
        };
        for (pos, hit) in found.into_iter().enumerate() {
            match hit {
                // A found value that cannot be read back is computed again.
                Some((block, row)) if fill(pos, &block, row).is_ok() => {}
                _ => todo.push(pos),
            }
        }
        nc.count(rows.len() - todo.len(), todo.len());
        if let Some(events) = config.events() {
            let mut hit = vec![true; rows.len()];
            for &p in &todo {
                hit[p] = false;
            }
            let hits = (0..rows.len()).filter(|&p| hit[p]).map(|p| rows[p]);
            runs(hits, |items| events.node_cached(node, items));
        }
    }
    let results = match executor {
        Executor::Async(width) if node.is_async() => {
            let keep: Arc<[bool]> = keep.into();
            block_on(for_items_async(width, todo.len(), on_error, |t| {
                let item = rows[todo[t]];
                let args: Vec<Value> = args_of(item).into_vec();
                call_node_async(config.clone(), node.clone(), keep.clone(), args, item_of(item))
            }))
        }
        _ => for_items(executor, todo.len(), on_error, |t| {
            let item = rows[todo[t]];
            let args = args_of(item);
            let refs: SmallVec<[&Value; 4]> = args.iter().collect();
            call_node(config, node, keep, &refs, item_of(item))
        }),
    };
    for (t, result) in results.into_iter().enumerate() {
        let item = rows[todo[t]];
        match result {
            Some(Ok(produced)) => produced.for_each(|k, v| outs[k][item] = Some(v)),
            Some(Err(e)) => failed.push((item, Some(e))),
            None => failed.push((item, None)),
        }
    }
    // Stored unless every item was found (in one block, or several: a block of them all
    // makes the next lookup one call).
    if let Some((keys, nc)) = cached.filter(|_| !todo.is_empty() || rows.len() > 1) {
        let bad: std::collections::HashSet<usize> = failed.iter().map(|f| f.0).collect();
        let done: Vec<usize> = (0..rows.len()).filter(|&p| !bad.contains(&rows[p])).collect();
        let mut columns = Vec::with_capacity(nc.outputs().len());
        let mut block_digests = Vec::with_capacity(nc.outputs().len());
        for &k in nc.outputs() {
            let values: Vec<Value> = done
                .iter()
                .map(|&p| outs[k][rows[p]].clone().expect("computed or found"))
                .collect();
            // The digests later nodes read, computed once here and kept with the block.
            let ty = node.outputs()[k].type_info();
            let d = match (&out_digests[k], digest_out[k]) {
                (Some(known), _) => Some(done.iter().map(|&p| known[rows[p]]).collect()),
                (None, true) => {
                    let positions: Vec<usize> = (0..done.len()).collect();
                    digest_rows(&positions, |i| Some(values[i].clone()), &ty)
                }
                (None, false) => None,
            };
            if let (Some(d), None) = (&d, &out_digests[k]) {
                let mut per_item = vec![[0; 32]; n];
                for (&p, digest) in done.iter().zip(d) {
                    per_item[rows[p]] = *digest;
                }
                out_digests[k] = Some(Arc::new(per_item));
            }
            block_digests.push(d.map(Arc::new));
            columns.push(Column::Values(Arc::new(values)));
        }
        nc.store(done.iter().map(|&p| keys[p]).collect(), columns, block_digests);
    }
    NodeResults {
        outs: outs
            .into_iter()
            .zip(out_digests)
            .map(|(values, digests)| Cells::Items(values, digests))
            .collect(),
        failed,
        computed: todo.iter().map(|&p| rows[p]).collect(),
    }
}

/// The cached outputs of a block found whole, each as one list (with the digests later
/// nodes read, when stored); `None` when one cannot be read as a list.
fn whole_lists(node: &Node, outputs: &[usize], block: &Block, digest_out: &[bool]) -> Option<Vec<Cells>> {
    // Without the columnar engine, blocks hold values, read one by one.
    #[cfg(not(feature = "columnar"))]
    {
        let _ = (node, outputs, block, digest_out);
        None
    }
    #[cfg(feature = "columnar")]
    outputs
        .iter()
        .enumerate()
        .map(|(c, &k)| {
            let ty = node.outputs()[k].type_info();
            let Column::Arrow(array) = &block.columns[c] else {
                return None;
            };
            let ct = crate::engine::columnar::ColumnType::find(&ty)?;
            let list = (ct.array_to_list)(&[array.as_ref()]).ok()?;
            let digests = block.digests.get(c).cloned().flatten().filter(|_| digest_out[k]);
            Some(Cells::List {
                list: Arc::new(list),
                elem: ty.this_fn(),
                digests,
            })
        })
        .collect()
}

/// What one call of a node produced: every output of a function node, or the kept
/// outputs of a nested pipeline.
pub(crate) enum Produced {
    Func(NodeOutputs),
    Nested(Vec<Option<Value>>),
}

impl Produced {
    /// Calls `f(k, value)` for each output `k` produced.
    #[inline]
    pub(crate) fn for_each(self, mut f: impl FnMut(usize, Value)) {
        match self {
            Produced::Func(out) => out.into_iter().enumerate().for_each(|(k, v)| f(k, v)),
            Produced::Nested(out) => out
                .into_iter()
                .enumerate()
                .for_each(|(k, v)| v.into_iter().for_each(|v| f(k, v))),
        }
    }
}

/// Calls one node on one item, reporting its start and its end or error to the run's
/// callbacks: see [`invoke_node`].
pub(crate) fn call_node(
    config: &Arc<RunConfig>,
    node: &Node,
    keep: &[bool],
    args: &[&Value],
    item: Option<usize>,
) -> Result<Produced> {
    let Some(events) = config.events() else {
        return invoke_node(config, node, keep, args, item);
    };
    let started = node_started(events, node, item);
    let out = invoke_node(config, node, keep, args, item);
    node_done(events, node, item, started, &out);
    out
}

/// Reports the start of a call of `node` on `item` (`0..1` outside a map), and returns
/// when it started.
fn node_started(events: &Events, node: &Node, item: Option<usize>) -> Tick {
    events.node_start(node, item.map_or(0..1, |i| i..i + 1));
    Tick::now()
}

/// Reports how a call of `node` on `item` started at `started` ended.
fn node_done(events: &Events, node: &Node, item: Option<usize>, started: Tick, out: &Result<Produced>) {
    match out {
        Ok(_) => events.node_end(node, item.map_or(0..1, |i| i..i + 1), started.elapsed()),
        Err(e) => events.node_error(node, item, e),
    }
}

/// Calls one node on one item: a function node (its error or panic named with the node
/// and item, retried and timed out as its options or `config` say, its results checked
/// against its declared outputs) or a nested pipeline (run with `config` as its parent's
/// configuration), which produces only the outputs in `keep`. Reports nothing itself (a
/// nested pipeline's inner run reports its own events).
pub(crate) fn invoke_node(
    config: &Arc<RunConfig>,
    node: &Node,
    keep: &[bool],
    args: &[&Value],
    item: Option<usize>,
) -> Result<Produced> {
    match node.kind() {
        NodeKind::Func(f) if config.retry().is_none() && config.timeout().is_none() && f.plain() => {
            call_plain(node, &**f, args, item)
        }
        NodeKind::Func(f) => {
            let timeout = f.timeout().or(config.timeout());
            let once = || match timeout {
                None => catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(args))))
                    .map_err(|panic| panicked(node, item, panic))?
                    .map_err(|e| failed(node, item, e)),
                Some(after) => {
                    let owned: Vec<Value> = args.iter().map(|v| (*v).clone()).collect();
                    block_on(attempt_async(f.clone(), node, owned, item, after))
                }
            };
            let retry = f.retry().or(config.retry());
            let mut attempt = 0;
            let out = loop {
                match once() {
                    Err(e) if retryable(&e) && retry.is_some_and(|r| attempt < r.retries()) => {
                        std::thread::sleep(retry.expect("checked").delay(attempt));
                        attempt += 1;
                    }
                    other => break after_attempts(other, attempt),
                }
            }?;
            checked(node, out, item)
        }
        NodeKind::Nested(nested) => Ok(Produced::Nested(
            nested
                .call(config, args, keep, item)
                .map_err(|e| failed(node, item, Box::new(e)))?,
        )),
    }
}

/// A function node without retries or timeout, called once: the common case, kept short.
#[inline(always)]
fn call_plain(node: &Node, f: &dyn NodeImpl, args: &[&Value], item: Option<usize>) -> Result<Produced> {
    let out = catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(args))))
        .map_err(|panic| panicked(node, item, panic))?
        .map_err(|e| failed(node, item, e))?;
    checked(node, out, item)
}

/// [`call_node`] as a future: an `async fn` node is awaited (and cancelled by its
/// timeout); any other node runs on the runtime's blocking pool.
pub(crate) async fn call_node_async(
    config: Arc<RunConfig>,
    node: Node,
    keep: Arc<[bool]>,
    args: Vec<Value>,
    item: Option<usize>,
) -> Result<Produced> {
    let Some(events) = config.events().cloned() else {
        return invoke_node_async(config, node, keep, args, item).await;
    };
    let started = node_started(&events, &node, item);
    let out = invoke_node_async(config, node.clone(), keep, args, item).await;
    node_done(&events, &node, item, started, &out);
    out
}

/// [`invoke_node`] as a future.
async fn invoke_node_async(
    config: Arc<RunConfig>,
    node: Node,
    keep: Arc<[bool]>,
    args: Vec<Value>,
    item: Option<usize>,
) -> Result<Produced> {
    let f = match node.kind() {
        NodeKind::Func(f) if f.is_async() => f.clone(),
        _ => {
            let name = node.name().to_string();
            return spawn_blocking(move || {
                let refs: Vec<&Value> = args.iter().collect();
                invoke_node(&config, &node, &keep, &refs, item)
            })
            .await
            .unwrap_or_else(|e| {
                Err(Error::NodePanicked {
                    node: name.into(),
                    item,
                    message: panic_message(e.into_panic()).into(),
                })
            });
        }
    };
    let timeout = f.timeout().or(config.timeout());
    let retry = f.retry().or(config.retry());
    let mut attempt = 0;
    let out = loop {
        let once = match timeout {
            Some(after) => attempt_async(f.clone(), &node, args.clone(), item, after).await,
            None => {
                use futures::FutureExt;
                AssertUnwindSafe(f.invoke_async(args.clone()))
                    .catch_unwind()
                    .await
                    .map_err(|panic| panicked(&node, item, panic))?
                    .map_err(|e| failed(&node, item, e))
            }
        };
        match once {
            Err(e) if retryable(&e) && retry.is_some_and(|r| attempt < r.retries()) => {
                tokio::time::sleep(retry.expect("checked").delay(attempt)).await;
                attempt += 1;
            }
            other => break after_attempts(other, attempt),
        }
    }?;
    checked(&node, out, item)
}

/// One attempt of a function node with a timeout: an `async fn` node's future is
/// dropped (cancelled) when the time is up; any other node runs on the runtime's
/// blocking pool and, when the time is up, is left to finish there, its result dropped.
async fn attempt_async(
    f: Arc<dyn NodeImpl>,
    node: &Node,
    args: Vec<Value>,
    item: Option<usize>,
    after: Duration,
) -> Result<NodeOutputs> {
    use futures::FutureExt;
    let result = if f.is_async() {
        let fut = AssertUnwindSafe(f.invoke_async(args)).catch_unwind();
        tokio::time::timeout(after, fut)
            .await
            .map(|r| r.map_err(|p| panicked(node, item, p)))
    } else {
        let call = spawn_blocking(move || {
            let refs: Vec<&Value> = args.iter().collect();
            catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(&refs))))
        });
        tokio::time::timeout(after, call).await.map(|joined| match joined {
            Ok(r) => r.map_err(|p| panicked(node, item, p)),
            Err(e) => Err(panicked(node, item, e.into_panic())),
        })
    };
    match result {
        Err(_elapsed) => Err(Error::Timeout {
            node: node.name().into(),
            item,
            after,
        }),
        Ok(r) => r?.map_err(|e| failed(node, item, e)),
    }
}

fn failed(node: &Node, item: Option<usize>, source: crate::error::BoxError) -> Error {
    Error::NodeFailed {
        node: node.name().into(),
        item,
        source,
    }
}

fn panicked(node: &Node, item: Option<usize>, panic: Box<dyn std::any::Any + Send>) -> Error {
    Error::NodePanicked {
        node: node.name().into(),
        item,
        message: panic_message(panic).into(),
    }
}

/// Whether a failed attempt may be retried: an error the node returned or a timeout,
/// never a panic.
fn retryable(e: &Error) -> bool {
    matches!(e, Error::NodeFailed { .. } | Error::Timeout { .. })
}

/// The result of the last attempt, a failure saying how many attempts were made.
fn after_attempts(result: Result<NodeOutputs>, retries: u32) -> Result<NodeOutputs> {
    match result {
        Err(Error::NodeFailed { node, item, source }) if retries > 0 => Err(Error::NodeFailed {
            node,
            item,
            source: format!("{source} (gave up after {} attempts)", retries + 1).into(),
        }),
        other => other,
    }
}

/// A function node's results, checked against its declared outputs.
#[inline(always)]
fn checked(node: &Node, out: NodeOutputs, item: Option<usize>) -> Result<Produced> {
    let ports = node.outputs();
    if out.len() != ports.len() {
        return Err(failed(
            node,
            item,
            format!("returned {} value(s) for {} output(s)", out.len(), ports.len()).into(),
        ));
    }
    for (value, port) in out.iter().zip(ports) {
        if value.type_info() != port.type_info() {
            return Err(failed(
                node,
                item,
                format!(
                    "returned {} for output '{}' declared as {}",
                    value.type_name(),
                    port.name(),
                    port.type_info()
                )
                .into(),
            ));
        }
    }
    Ok(Produced::Func(out))
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "(a panic payload that is not a string)".to_string(),
        },
    }
}
