//! The node engine: runs a plan node by node, item by item, passing values between
//! nodes without converting them, so any Rust type works.
//!
//! [`NodeEngine`] compiles a plan to a program of slots (`program`) and runs it per item;
//! one node is called on one item by `call` (retries, timeouts, panics, result checks),
//! or over many items at once through its cache by `cache`; `collect` gathers the items'
//! results into a map's columns.

mod cache;
mod call;
mod collect;
mod program;

use std::sync::Arc;

use smallvec::SmallVec;

use super::Engine;
use crate::error::{Error, Result};
use crate::exec::{AsExecutor, Executor, ItemFailure, OnError, block_on, for_items, for_items_async};
use crate::outputs::{MapOutputs, Outputs};
use crate::plan::MapPlan;
use crate::plan::RunPlan;
use crate::value::{ColumnBuilder, Value};

use program::{Program, take};

// The paths the columnar engine calls the node engine by.
#[doc(hidden)]
pub use cache::Cells;
#[cfg_attr(not(feature = "columnar"), allow(unused_imports))]
#[doc(hidden)]
pub use cache::cached_node;
// Named by no caller today: kept at the path it had before the node engine was split.
#[allow(unused_imports)]
#[doc(hidden)]
pub use cache::NodeResults;
#[cfg_attr(not(feature = "columnar"), allow(unused_imports))]
#[doc(hidden)]
pub use call::{Produced, call_node, call_node_async, invoke_node, panic_message};
#[doc(hidden)]
pub use collect::{collect, collect_shared, not_owned};

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
/// let engine = NodeEngine::new().try_with_node_executor("threaded:4")?.with_map_executor(Executor::parallel());
/// let p = Pipeline::new([double::node()]).with_engine(engine);
/// let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// assert_eq!(out.column::<i64>("doubled")?, [2, 4, 6]);
///
/// // An executor given by name is parsed where it is set.
/// let err = NodeEngine::new().try_with_map_executor("paralel").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Unknown executor 'paralel'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]"
/// );
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct NodeEngine {
    node_executor: Option<Executor>,
    map_executor: Option<Executor>,
}

impl NodeEngine {
    /// The engine used when a pipeline sets none.
    pub const DEFAULT: NodeEngine = NodeEngine {
        node_executor: None,
        map_executor: None,
    };

    /// A node engine with the default (sequential) executors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the independent nodes of each run with `executor`.
    pub fn with_node_executor(mut self, executor: Executor) -> Self {
        self.node_executor = Some(executor);
        self
    }

    /// Runs the items of each map with `executor`.
    pub fn with_map_executor(mut self, executor: Executor) -> Self {
        self.map_executor = Some(executor);
        self
    }

    /// [`with_node_executor`](NodeEngine::with_node_executor) with an [`Executor`] or
    /// its name (`"threaded:8"`), parsed here: a bad name is refused by this call.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExecutor`] for an unknown name, [`Error::Invalid`] for a bad width.
    pub fn try_with_node_executor(self, executor: impl AsExecutor) -> Result<Self> {
        Ok(self.with_node_executor(executor.as_executor()?))
    }

    /// [`with_map_executor`](NodeEngine::with_map_executor) with an [`Executor`] or its
    /// name, parsed here.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExecutor`] for an unknown name, [`Error::Invalid`] for a bad width.
    pub fn try_with_map_executor(self, executor: impl AsExecutor) -> Result<Self> {
        Ok(self.with_map_executor(executor.as_executor()?))
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
