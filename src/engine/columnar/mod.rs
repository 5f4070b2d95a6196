//! The columnar engine: pipelines compiled to Apache Arrow / DataFusion plans.
//!
//! Items become rows. Consecutive nodes that have a vectorized [`Kernel`] (every type
//! columnar) or are SQL expressions form one segment: its nodes run over Arrow batches,
//! one kernel call (or one expression evaluation) per node and batch, with the rows
//! split into partitions that run on all cores; constants are one-row arrays (scalars
//! for batch implementations) and lists mapped over are columns. A segment runs
//! directly, with no DataFusion session or plan per call; as a DataFusion plan, one
//! scalar UDF per node, it is what [`ColumnarEngine::explain`] shows and what
//! [`ColumnarEngine::apply_to_dataframe`] builds. Any other node (a type that is not
//! columnar, an `async fn`, a closure node, a nested pipeline) runs node by node over
//! the same rows, inside the same run, and the columnar nodes around it stay vectorized.

mod chunks;
pub mod expr;
mod interop;
pub mod kernel;
mod segment;
pub mod structs;
pub mod types;
mod udf;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, UInt32Array};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{Column, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, ScalarUDF};
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};
use rayon::prelude::*;

pub use expr::ExprNode;
pub use kernel::{BatchArgs, Kernel};
pub use types::{ColumnType, Columnar};

use chunks::{Chunks, Split};
#[cfg_attr(not(feature = "cluster"), allow(unused_imports))]
pub(crate) use interop::{node_of_udf, plan_udf, plan_udfs};
#[cfg(feature = "polars")]
pub(crate) use interop::{output_fields, reader_of};
use segment::{Failure, Input, Segment};

use super::node::{
    cached_node, call_node, call_node_async, collect, collect_shared, invoke_node, not_owned, Cells, Produced,
};
use super::Engine;
use crate::error::{Error, Result};
use crate::events::{runs, ItemEnds, Tick};
use crate::exec::{block_on, for_items, for_items_async, Executor, ItemFailure, OnError, RunConfig};
use crate::map::{MapMode, MapPlan};
use crate::nested::NestedNode;
use crate::node::{Node, NodeKind};
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::RunPlan;
use crate::value::{ColumnBuilder, TypeInfo, Value};

/// The name of the hidden column holding each row's item index.
const ITEM: &str = "__hypernodes_item";

/// Rows below which one partition is faster than several.
const MIN_ROWS_PER_PARTITION: usize = 16_384;

/// Runs pipelines as Arrow / DataFusion plans (upstream HyperNodes' `DaftEngine`).
///
/// Gives the same results as [`NodeEngine`](crate::NodeEngine) for every pipeline.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::ColumnarEngine;
///
/// #[node(output = "cleaned_text")]
/// fn clean_text(passage: &str) -> String { passage.trim().to_lowercase() }
///
/// let p = Pipeline::new([clean_text::node()]).with_engine(ColumnarEngine::new());
/// let passages = vec![" A ".to_string(), "B c".to_string()];
/// let out = p.map(&Inputs::new().with("passage", passages), &["passage"], MapMode::Zip)?;
/// assert_eq!(out.column::<String>("cleaned_text")?, ["a", "b c"]);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ColumnarEngine {
    partitions: usize,
    batch_size: usize,
}

impl Default for ColumnarEngine {
    fn default() -> Self {
        ColumnarEngine {
            partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
        }
    }
}

impl ColumnarEngine {
    /// An engine using every core and batches of 8,192 rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most partitions large inputs are split into (default: the number of cores).
    pub fn with_partitions(mut self, partitions: usize) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// The rows per Arrow batch (default 8,192).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The configuration a call on this engine directly (not through
    /// [`Pipeline::run`](crate::Pipeline::run)) runs `pipeline` with: this engine, the
    /// pipeline's other settings, the current default.
    pub(crate) fn config_for(&self, pipeline: &crate::Pipeline) -> Result<Arc<crate::exec::RunConfig>> {
        crate::exec::RunConfig::new()
            .with_engine(self.clone())
            .or(pipeline.config())
            .resolve_root(&crate::exec::RunConfig::current(), pipeline.name())
    }

    /// The most partitions large inputs are split into.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The rows per Arrow batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// What a map of `plan` runs where: each vectorized segment (as the logical and
    /// physical DataFusion plan that computes the same, one UDF per node; the engine runs
    /// the segment's kernels directly), and the nodes that run node by node.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let p = Pipeline::new([double::node()]);
    /// let text = ColumnarEngine::new().explain(&p, &Inputs::new().with("x", vec![1_i64, 2]), &["x"])?;
    /// assert!(text.contains("segment 1: double"));
    /// assert!(text.contains("double(")); // the UDF call in the plans
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pipeline::map`](crate::Pipeline::map) for invalid inputs.
    pub fn explain(&self, pipeline: &crate::Pipeline, inputs: &crate::Inputs, over: &[&str]) -> Result<String> {
        let plan = MapPlan::new(pipeline, inputs, over, MapMode::Zip, None, self.config_for(pipeline)?)?;
        // Explaining reports nothing to callbacks; what it stored is committed.
        let explained = || {
            let mut run = Run::new(self, plan.run_plan(), Rows::Map(&plan)).quiet();
            run.explain = Some(String::new());
            run.execute()?;
            Ok(run.explain.unwrap_or_default())
        };
        plan.run_plan().config().commit_cache(explained())
    }
}

impl Engine for ColumnarEngine {
    fn name(&self) -> &str {
        "columnar"
    }

    fn run(&self, plan: &RunPlan) -> Result<Outputs> {
        let mut run = Run::new(self, plan, Rows::One);
        run.execute()?;
        let values = plan
            .outputs()
            .iter()
            .map(|name| run.take_single(name).map(|v| (name.clone(), v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Outputs::from_values(values))
    }

    fn map(&self, plan: &MapPlan) -> Result<MapOutputs> {
        let mut run = Run::new(self, plan.run_plan(), Rows::Map(plan));
        let mut failures = Vec::new();
        if plan.run_plan().config().on_error() == Some(OnError::Collect) {
            (run, _, failures) = run.execute_collecting()?;
        } else {
            run.execute_items(true)?;
        }
        let len = run.rows;
        let outputs = plan.run_plan().outputs();
        let cols: Vec<(&String, Option<Col>)> = outputs.iter().map(|name| (name, run.cols.remove(name))).collect();
        let pipeline = plan.run_plan().pipeline();
        let convert = |(name, col): (&String, Option<Col>)| {
            let row_type = pipeline.output_type(name).expect("an output");
            list_of(name, col, row_type).map(|v| (name.clone(), v))
        };
        // Large columns become `Vec`s side by side, on rayon's pool.
        let columns = if self.partitions > 1 && plan.len() >= MIN_ROWS_PER_PARTITION {
            cols.into_par_iter().map(convert).collect::<Result<Vec<_>>>()?
        } else {
            cols.into_iter().map(convert).collect::<Result<Vec<_>>>()?
        };
        Ok(MapOutputs::from_columns(len, columns).with_failures(plan.len(), failures))
    }
}

/// What the rows of a run are: one item (`run`) or the items of a map.
#[derive(Clone, Copy)]
enum Rows<'p> {
    One,
    Map(&'p MapPlan),
}

/// A value for every row.
#[derive(Clone)]
enum Col {
    /// The same value for every row (an input that is not mapped, or any value of a
    /// one-item run).
    Const(Value),
    /// An Arrow column (all rows, in the chunks that made it) with the conversions of
    /// its type.
    Arrow(Chunks, Conv),
    /// Row `i` is element `index[i]` (or `i`) of a `Vec` value.
    List {
        list: Arc<Value>,
        elem: fn() -> TypeInfo,
        index: Option<Arc<Vec<u32>>>,
    },
}

/// How to turn an Arrow column back into Rust values.
#[derive(Clone)]
enum Conv {
    /// A columnar type's own conversions.
    Leaf(&'static ColumnType),
    /// A list column (from a nested map) whose elements convert with `child` and are
    /// described by `elem`.
    List { child: Box<Conv>, elem: TypeInfo },
}

impl Conv {
    /// How values named `name` in `pipeline` convert: the Arrow conversions of any port
    /// of that name, or, for a list mapped over by a nested pipeline, lists of what the
    /// nested pipeline's input converts with (to any depth).
    fn find(pipeline: &crate::Pipeline, name: &str) -> Option<Conv> {
        let ports = pipeline
            .nodes()
            .iter()
            .flat_map(|n| n.params().iter().chain(n.outputs()));
        if let Some(ct) = ports
            .filter(|p| p.name() == name)
            .find_map(|p| ColumnType::find(&p.type_info()))
        {
            return Some(Conv::Leaf(ct));
        }
        pipeline.nodes().iter().find_map(|n| {
            let NodeKind::Nested(nested) = n.kind() else {
                return None;
            };
            let k = n.params().iter().position(|p| p.name() == name)?;
            let inner_name = &nested.inner_params()[k];
            if !nested.map_over().contains(inner_name) {
                return None;
            }
            let child = Conv::find(nested.pipeline(), inner_name)?;
            let elem = nested.pipeline().input_type(inner_name)?;
            Some(Conv::List {
                child: Box::new(child),
                elem,
            })
        })
    }

    /// The Arrow type of a column.
    fn data_type(&self) -> DataType {
        match self {
            Conv::Leaf(ct) => (ct.data_type)(),
            Conv::List { child, .. } => DataType::List(Arc::new(Field::new_list_field(child.data_type(), true))),
        }
    }

    /// Row `row` as a value (`None` for a null row of a non-nullable type).
    fn value_at(&self, array: &dyn Array, row: usize) -> Option<Value> {
        match self {
            Conv::Leaf(ct) => (ct.array_value)(array, row),
            Conv::List { child, elem } => {
                let list = array.as_list_opt::<i32>()?;
                if list.is_null(row) {
                    return None;
                }
                let items = list.value(row);
                let mut b = elem.column_builder(items.len())?;
                for j in 0..items.len() {
                    b.push(child.value_at(items.as_ref(), j)?).ok()?;
                }
                Some(b.finish())
            }
        }
    }

    /// The whole column as a `Vec` value.
    fn to_values(&self, column: &Chunks, row_type: TypeInfo) -> std::result::Result<Value, String> {
        match self {
            Conv::Leaf(ct) => (ct.array_to_list)(&column.arrays().collect::<Vec<_>>()),
            Conv::List { .. } => {
                let mut b = row_type
                    .column_builder(column.len())
                    .ok_or_else(|| format!("lists of {row_type} nest too deep to collect"))?;
                let mut row = 0;
                for array in column.arrays() {
                    for i in 0..array.len() {
                        let v = self.value_at(array, i).ok_or_else(|| format!("row {row} is null"))?;
                        b.push(v).map_err(|_| format!("row {row} is shared"))?;
                        row += 1;
                    }
                }
                Ok(b.finish())
            }
        }
    }
}

/// One execution of a plan over rows.
#[derive(Clone)]
struct Run<'p> {
    engine: &'p ColumnarEngine,
    plan: &'p RunPlan,
    rows: usize,
    /// Whether rows are items of a map (errors then name the item).
    is_map: bool,
    cols: HashMap<String, Col>,
    /// When set, collects the explanation of each segment while running.
    explain: Option<String>,
    /// The cut of the rows into partitions and batches, when not the engine's own (the
    /// inner rows of a nested map are cut where the outer batches end).
    split: Option<Split>,
    /// The configuration the run executes with: the plan's, or the plan's without
    /// callbacks for runs that report nothing (the probes of `execute_collecting`).
    config: Arc<RunConfig>,
    /// Per row, whether a node computed it, for runs that report items whose every node
    /// was found in the cache.
    computed: Option<Arc<Vec<AtomicBool>>>,
    /// The ends of the items, to report when the last node finishes each batch (when
    /// it runs in a segment) or at the end.
    ends: Option<ItemEnds>,
}

impl<'p> Run<'p> {
    /// A run over columns prepared by the caller (the flattened rows of a nested map).
    fn with_columns(
        engine: &'p ColumnarEngine,
        plan: &'p RunPlan,
        rows: usize,
        is_map: bool,
        mut cols: HashMap<String, Col>,
    ) -> Run<'p> {
        for (name, value) in plan.inputs().iter() {
            cols.insert(name.to_string(), Col::Const(value.clone()));
        }
        Run {
            engine,
            plan,
            rows,
            is_map,
            cols,
            explain: None,
            split: None,
            config: plan.config_arc().clone(),
            computed: None,
            ends: None,
        }
    }

    fn new(engine: &'p ColumnarEngine, plan: &'p RunPlan, rows: Rows<'p>) -> Run<'p> {
        let mut cols: HashMap<String, Col> = plan
            .inputs()
            .iter()
            .map(|(name, value)| (name.to_string(), Col::Const(value.clone())))
            .collect();
        let n = match rows {
            Rows::One => 1,
            Rows::Map(map) => {
                // Zip reads element i of every list on row i; product needs an index.
                let mut indices: Vec<Option<Vec<u32>>> = map
                    .over()
                    .iter()
                    .map(|_| (map.mode() == MapMode::Product).then(|| Vec::with_capacity(map.len())))
                    .collect();
                if map.mode() == MapMode::Product {
                    for item in 0..map.len() {
                        map.for_each_element(item, |k, e| indices[k].as_mut().expect("product").push(e as u32));
                    }
                }
                for (mapped, index) in map.over().iter().zip(indices) {
                    let index = index.map(Arc::new);
                    let elem = map
                        .run_plan()
                        .pipeline()
                        .input_type(mapped.name())
                        .expect("an input")
                        .this_fn();
                    cols.insert(
                        mapped.name().to_string(),
                        Col::List {
                            list: Arc::new(mapped.list().clone()),
                            elem,
                            index,
                        },
                    );
                }
                map.len()
            }
        };
        Run {
            engine,
            plan,
            rows: n,
            is_map: matches!(rows, Rows::Map(_)),
            cols,
            explain: None,
            split: None,
            config: plan.config_arc().clone(),
            computed: None,
            ends: None,
        }
    }

    /// Executes the run over the items of a map, reporting their start and end (each
    /// batch's) to the run's callbacks, if any: `incremental`, each batch ends when the
    /// last node finishes it, if that node runs in a segment; else all at the end.
    fn execute_items(&mut self, incremental: bool) -> Result<()> {
        let Some(events) = self.config.events().cloned() else {
            return self.execute();
        };
        let started = Tick::now();
        let batches: Vec<Range<usize>> = self
            .split()
            .partitions
            .iter()
            .flatten()
            .map(|&(s, l)| s..s + l)
            .collect();
        for items in &batches {
            events.item_start(items.clone());
        }
        if self.config.cache().is_some() {
            self.computed = Some(Arc::new((0..self.rows).map(|_| AtomicBool::new(false)).collect()));
        }
        let ends = ItemEnds {
            events,
            started,
            computed: self.computed.clone(),
        };
        self.ends = incremental.then(|| ends.clone());
        let done = self.execute();
        // A last segment that ended them took `self.ends`; otherwise they end now.
        let ended_by_segment = incremental && self.ends.take().is_none();
        if done.is_ok() && !ended_by_segment {
            for items in batches {
                ends.done(items);
            }
        }
        done
    }

    /// This run reporting nothing to callbacks.
    fn quiet(mut self) -> Run<'p> {
        if self.config.events().is_some() {
            self.config = Arc::new((*self.config).clone().without_events());
        }
        self.computed = None;
        self.ends = None;
        self
    }

    /// Whether `node` runs in a segment: a SQL expression node, or a node with a kernel
    /// unless it has retries or a timeout (its own or the run's), which apply per call
    /// of the function, or the map executor is `threaded` or `async` (chosen for calls
    /// that block or wait, which a kernel would make one after another), so such a node
    /// runs row by row on the map executor.
    fn vectorizable(&self, node: &Node) -> bool {
        let config = &self.config;
        let guarded = node.retry().or(config.retry()).is_some()
            || node.timeout().or(config.timeout()).is_some()
            || matches!(config.map_executor(), Some(Executor::Threaded(_) | Executor::Async(_)));
        (Kernel::find(node).is_some() && !guarded) || ExprNode::find(node).is_some()
    }

    /// A run of the same plan over some of this run's rows (indices, in the order
    /// given), made before this run executes: its inputs restricted to those rows.
    fn subset(&self, rows: &[u32]) -> Result<Run<'p>> {
        let mut cols = HashMap::with_capacity(self.cols.len());
        for (name, col) in &self.cols {
            let col = match col {
                Col::Const(v) => Col::Const(v.clone()),
                Col::Arrow(c, conv) => Col::Arrow(Chunks::one(c.take_rows(rows)?), conv.clone()),
                Col::List { list, elem, index } => Col::List {
                    list: list.clone(),
                    elem: *elem,
                    index: Some(Arc::new(
                        rows.iter()
                            .map(|&r| index.as_ref().map_or(r, |ix| ix[r as usize]))
                            .collect(),
                    )),
                },
            };
            cols.insert(name.clone(), col);
        }
        Ok(Run {
            rows: rows.len(),
            cols,
            split: None,
            ..self.clone()
        }
        .quiet())
    }

    /// Executes the run under [`OnError::Collect`]: when some rows fail, finds them
    /// (each batch of rows on its own, then each row of a failing batch alone) and runs
    /// the other rows again. Returns the run over the rows that succeeded, those rows,
    /// and the failures in row order, each naming its row in this run.
    fn execute_collecting(self) -> Result<(Run<'p>, Vec<u32>, Vec<ItemFailure>)> {
        let mut good: Vec<u32> = (0..self.rows as u32).collect();
        let mut failures: Vec<ItemFailure> = Vec::new();
        let mut attempt = self.clone();
        // The first attempt reports as any run does; the error it reported, if it fails.
        let first = match attempt.execute_items(false) {
            Ok(()) => return Ok((attempt, good, failures)),
            Err(e) => e,
        };
        let events = self.config.events().cloned().filter(|_| self.is_map);
        let started = Tick::now();
        loop {
            // Probe: batches, then the rows of failing batches, of the rows still good.
            let mut still = Vec::with_capacity(good.len());
            for chunk in good.chunks(self.engine.batch_size.max(1)) {
                let mut probe = self.subset(chunk)?;
                if probe.execute().is_ok() {
                    still.extend_from_slice(chunk);
                    continue;
                }
                for &row in chunk {
                    let mut one = self.subset(&[row])?;
                    match one.execute() {
                        Ok(()) => still.push(row),
                        Err(e) => failures.push(ItemFailure::new(row as usize, e.map_item(|_| Some(row as usize)))),
                    }
                }
            }
            // A node that fails on a row only some of the time can make the rerun fail
            // again: probe again, with fewer rows each time.
            good = still;
            let mut attempt = self.subset(&good)?;
            if attempt.execute().is_err() {
                continue;
            }
            failures.sort_by_key(ItemFailure::item);
            if let Some(events) = events {
                // The failures the first attempt did not report, and the items that
                // succeeded.
                let nodes = self.plan.pipeline().nodes();
                for f in &failures {
                    let reported = Some(f.item()) == first.item() && Some(f.node()) == first.node();
                    if let (false, Some(node)) = (reported, nodes.iter().find(|n| n.name() == f.node())) {
                        events.node_error(node, Some(f.item()), f.error());
                    }
                }
                runs(good.iter().map(|&r| r as usize), |items| {
                    events.item_end(items, started.elapsed())
                });
            }
            return Ok((attempt, good, failures));
        }
    }

    fn node(&self, i: usize) -> &'p Node {
        &self.plan.pipeline().nodes()[i]
    }

    /// Runs every node: maximal runs of nodes with kernels as one DataFusion plan, the
    /// others row by row.
    fn execute(&mut self) -> Result<()> {
        let order = self.plan.nodes();
        let mut at = 0;
        let mut segment = 0;
        while at < order.len() {
            let end = (at..order.len())
                .find(|&j| !self.vectorizable(self.node(order[j])))
                .unwrap_or(order.len());
            if end > at {
                segment += 1;
                // The last segment ends the items of each batch it finishes.
                let ends = if end == order.len() { self.ends.take() } else { None };
                self.vectorized(&order[at..end], segment, ends)?;
                at = end;
            } else {
                let node = self.node(order[at]);
                if let NodeKind::Nested(nested) = node.kind() {
                    if self.can_vectorize(order[at], nested) {
                        self.nested(order[at], nested)?;
                        at += 1;
                        continue;
                    }
                }
                // The nodes that run row by row from here on, run wave by wave.
                let end = (at..order.len())
                    .find(|&j| !self.runs_row_by_row(order[j]))
                    .unwrap_or(order.len());
                self.row_by_row(&order[at..end])?;
                at = end;
            }
        }
        Ok(())
    }

    /// Whether node `i` runs row by row (not in a segment, not a nested pipeline run over
    /// flattened columns).
    fn runs_row_by_row(&self, i: usize) -> bool {
        let node = self.node(i);
        match node.kind() {
            NodeKind::Nested(nested) => !self.can_vectorize(i, nested),
            NodeKind::Func(_) => !self.vectorizable(node),
        }
    }

    /// The Arrow conversions for values named `name`: its producer's or any reader's.
    fn column_type(&self, name: &str) -> Option<&'static ColumnType> {
        match Conv::find(self.plan.pipeline(), name) {
            Some(Conv::Leaf(ct)) => Some(ct),
            _ => None,
        }
    }

    /// The column `name` in Arrow: a one-row array when it is a constant, else its chunks.
    fn arrow(&self, name: &str) -> Result<Input> {
        let col = &self.cols[name];
        // Unreachable: `name` is read by a vectorized node, whose parameters are all
        // columnar (a lifted kernel exists only for columnar types, `batch = ..` requires
        // them at compile time, and an expression node checks them when built), and the
        // values in `cols` have the types the plan checked.
        let ct = || {
            self.column_type(name)
                .ok_or_else(|| Error::Internal(format!("'{name}' has no Arrow type")))
        };
        // Unreachable: as above, a value of a columnar type converts.
        let unconvertible = || Error::Internal(format!("'{name}' is not convertible"));
        Ok(match col {
            Col::Arrow(c, _) => Input::Column(c.clone()),
            Col::Const(v) => Input::Const((ct()?.value_to_array)(v).ok_or_else(unconvertible)?),
            Col::List { list, index, .. } => Input::List {
                list: list.clone(),
                index: index.clone(),
                ct: ct()?,
            },
        })
    }

    fn vectorized(&mut self, nodes: &[usize], segment: usize, ends: Option<ItemEnds>) -> Result<()> {
        // The columns this segment reads from earlier work, and the constants.
        let produced: Vec<&str> = nodes
            .iter()
            .flat_map(|&i| self.node(i).outputs().iter().map(|p| p.name()))
            .collect();
        let mut reads: Vec<&str> = Vec::new();
        for &i in nodes {
            for p in self.node(i).params() {
                if !produced.contains(&p.name()) && !reads.contains(&p.name()) {
                    reads.push(p.name());
                }
            }
        }
        let inputs = reads.iter().map(|name| self.arrow(name)).collect::<Result<Vec<_>>>()?;
        // The batches are cut where the chunks of earlier segments were, so they are slices.
        let split = self.split();
        if self.explain.is_some() {
            let text = self.explain_segment(nodes, &reads, &inputs, &split, segment)?;
            self.explain.get_or_insert_with(String::new).push_str(&text);
        }
        let members: Vec<&Node> = nodes.iter().map(|&i| self.node(i)).collect();
        let plan = self.plan;
        let compiled = Segment::new(
            &members,
            &reads,
            &inputs,
            |o, k| plan.kept_outputs(nodes[o])[k],
            self.is_map,
            &self.config,
            self.computed.clone(),
        )?
        .with_item_ends(ends);
        let ran = match self.config.map_executor() {
            Some(e @ Executor::Parallel(_)) => e.pool().expect("a pool").0.install(|| compiled.run(&inputs, &split)),
            _ => compiled.run(&inputs, &split),
        };
        match ran {
            Ok(columns) => {
                for ((name, ct), column) in compiled.kept().zip(columns) {
                    // Kept in the batches that made it: the next segment reads the same batches.
                    self.cols.insert(name.to_string(), Col::Arrow(column, Conv::Leaf(ct)));
                }
                Ok(())
            }
            Err(Failure::Node(e)) => Err(e),
            // An expression failed on the data without naming a row: run the batch's rows
            // one by one, as the node engine would, to name the node and item.
            Err(Failure::Expr { start, len, error }) => {
                let e = self.diagnose(nodes, start..start + len)?.unwrap_or_else(|| {
                    let names: Vec<&str> = members.iter().map(|n| n.name()).collect();
                    Error::Arrow {
                        context: format!("Cannot run nodes {}", crate::pipeline::quoted(&names)).into(),
                        source: Box::new(error),
                    }
                });
                if let Some(events) = self.config.events() {
                    if let Some(node) = members.iter().find(|n| Some(n.name()) == e.node()) {
                        events.node_error(node, e.item(), &e);
                    }
                }
                Err(e)
            }
        }
    }

    /// The segment as the DataFusion plan that computes the same (each node a UDF, each
    /// expression node its expression), for [`ColumnarEngine::explain`].
    fn explain_segment(
        &self,
        nodes: &[usize],
        reads: &[&str],
        inputs: &[Input],
        split: &Split,
        segment: usize,
    ) -> Result<String> {
        // Every batch carries its items as a hidden run-end encoded column (two numbers).
        let mut fields = vec![Field::new(ITEM, udf::item_type(), false)];
        let mut columns: Vec<Chunks> = Vec::new();
        let mut literals: HashMap<&str, ScalarValue> = HashMap::new();
        for (&name, input) in reads.iter().zip(inputs) {
            match input {
                // Unreachable: a one-row array of a columnar type makes a scalar.
                Input::Const(a) => {
                    literals.insert(name, ScalarValue::try_from_array(a.as_ref(), 0).map_err(df)?);
                }
                Input::Column(c) => {
                    fields.push(Field::new(name, c.data_type().clone(), true));
                    columns.push(c.clone());
                }
                Input::List { list, index, ct } => {
                    // Unreachable: the list has the type `ct` converts.
                    let a = (ct.list_to_array)(list)
                        .ok_or_else(|| Error::Internal(format!("'{name}' is not convertible")))?;
                    let a = match index {
                        None => a,
                        Some(ix) => gather(name, a.as_ref(), ix.to_vec())?,
                    };
                    fields.push(Field::new(name, a.data_type().clone(), true));
                    columns.push(Chunks::one(a));
                }
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let partitions = split
            .partitions
            .iter()
            .map(|batches| {
                batches
                    .iter()
                    .map(|&(start, len)| {
                        let mut arrays = vec![udf::item_column(start, len)];
                        for c in &columns {
                            arrays.push(c.range(start, len)?);
                        }
                        // Unreachable: the fields were made from these columns' types,
                        // and every range has `len` rows.
                        RecordBatch::try_new(schema.clone(), arrays).map_err(df_arrow)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let config = SessionConfig::new()
            .with_target_partitions(split.partitions.len())
            .with_batch_size(self.engine.batch_size);
        let ctx = SessionContext::new_with_config(config);
        // Unreachable: the batches were made with this schema.
        let table = MemTable::try_new(schema, partitions).map_err(df)?;
        // Unreachable: reading an in-memory table plans nothing that can fail.
        let mut frame = ctx.read_table(Arc::new(table)).map_err(df)?;
        let errors = Arc::new(Mutex::new(None::<(usize, usize, Error)>));
        let mut keep: Vec<&str> = Vec::new();
        for (order, &i) in nodes.iter().enumerate() {
            let node = self.node(i);
            let call = match ExprNode::find(node) {
                Some(e) => with_literals(e.expr(), &literals)?,
                None => {
                    let mut args = vec![column(ITEM)];
                    args.extend(node.params().iter().map(|p| match literals.get(p.name()) {
                        Some(v) => Expr::Literal(v.clone(), None),
                        None => column(p.name()),
                    }));
                    let udf = udf::NodeUdf::try_new(node, order, self.is_map, Some(errors.clone()))?;
                    ScalarUDF::new_from_impl(udf).call(args)
                }
            };
            // Unreachable: the frame holds every column the call reads, of the types the
            // pipeline checked.
            frame = with_node_columns(frame, node, call).map_err(df)?;
            let kept = self.plan.kept_outputs(i);
            keep.extend(
                node.outputs()
                    .iter()
                    .zip(kept)
                    .filter(|(_, k)| **k)
                    .map(|(p, _)| p.name()),
            );
        }
        // Unreachable: every name is a column added above.
        let frame = frame.select_columns(&keep).map_err(df)?;
        let names: Vec<&str> = nodes.iter().map(|&i| self.node(i).name()).collect();
        let mut text = String::new();
        let _ = writeln!(
            text,
            "segment {segment}: {} (vectorized, {} partition(s))",
            names.join(", "),
            split.partitions.len()
        );
        let _ = writeln!(
            text,
            "runs its kernels directly over Arrow batches; as a DataFusion plan:"
        );
        // Unreachable: this only shows the plan.
        let logical = frame.clone().into_optimized_plan().map_err(df)?;
        let _ = writeln!(text, "logical plan:\n{}", logical.display_indent());
        // Unreachable: as above.
        let physical = block_on(frame.create_physical_plan()).map_err(df)?;
        let _ = writeln!(text, "physical plan:\n{}", displayable(physical.as_ref()).indent(true));
        Ok(text)
    }

    /// How this run's rows are cut into partitions and batches.
    /// The cut of the rows: the engine's partitions, only for inputs large enough to
    /// gain from them; under a `parallel:N` map executor (items declared costly), N
    /// partitions over any number of rows.
    fn split(&self) -> Split {
        self.split.clone().unwrap_or_else(|| {
            let (partitions, min_rows) = match self.config.map_executor() {
                Some(Executor::Parallel(n)) => (n, 1),
                _ => (self.engine.partitions, MIN_ROWS_PER_PARTITION),
            };
            Split::new(self.rows, partitions, self.engine.batch_size, min_rows)
        })
    }

    /// Whether a nested pipeline can run over flattened columns here: not when it has an
    /// engine of its own; without `map_over` always; with it, when the lists it maps over and the outputs it returns have
    /// columnar element types (lists of other types cannot be split without copying).
    fn can_vectorize(&self, i: usize, nested: &NestedNode) -> bool {
        let inner = nested.pipeline();
        let columnar = |t: Option<TypeInfo>| t.and_then(|t| ColumnType::find(&t)).is_some();
        let kept = nested
            .inner_outputs()
            .iter()
            .zip(self.plan.kept_outputs(i))
            .filter(|(_, k)| **k);
        if inner.engine().is_some() {
            return false; // it runs on its own engine
        }
        nested.map_over().is_empty()
            || (nested.map_over().iter().all(|m| columnar(inner.input_type(m)))
                && kept.into_iter().all(|(o, _)| columnar(inner.output_type(o))))
    }

    /// Column `name` (whose rows are lists) as one list array over all rows.
    fn list_array(&self, name: &str, child: &'static ColumnType) -> Result<ListArray> {
        // Unreachable: `name` feeds a `map_over` input, whose type the pipeline checked to
        // be a list of the columnar type `child` (see `can_vectorize`).
        let not_lists = || Error::Internal(format!("'{name}' is not a column of lists"));
        let array: ArrayRef = match &self.cols[name] {
            Col::Arrow(c, _) => c.concat()?,
            Col::List { list, index, .. } => {
                (child.lists_to_array)(list, index.as_ref().map(|ix| ix.as_slice())).ok_or_else(not_lists)?
            }
            Col::Const(v) => {
                // The same list on every row.
                let one = (child.list_to_array)(v).ok_or_else(not_lists)?;
                let n = one.len();
                let repeat: Vec<u32> = (0..self.rows).flat_map(|_| 0..n as u32).collect();
                let values = gather(name, one.as_ref(), repeat)?;
                let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(n, self.rows));
                Arc::new(ListArray::new(
                    Arc::new(Field::new_list_field((child.data_type)(), true)),
                    offsets,
                    values,
                    None,
                ))
            }
        };
        array.as_list_opt::<i32>().cloned().ok_or_else(not_lists)
    }

    /// Column `name` with row `i` of the result taken from row `parent[i]`.
    fn repeat(&self, name: &str, parent: &Arc<Vec<u32>>) -> Result<Col> {
        Ok(match &self.cols[name] {
            Col::Const(v) => Col::Const(v.clone()),
            Col::Arrow(c, conv) => Col::Arrow(
                Chunks::one(gather(name, c.concat()?.as_ref(), parent.to_vec())?),
                conv.clone(),
            ),
            Col::List { list, elem, index } => Col::List {
                list: list.clone(),
                elem: *elem,
                index: Some(Arc::new(match index {
                    None => parent.as_ref().clone(),
                    Some(ix) => parent.iter().map(|&p| ix[p as usize]).collect(),
                })),
            },
        })
    }

    /// Runs a nested pipeline over all rows at once: the lists it maps over are
    /// flattened into one set of rows, the inner pipeline runs over those (vectorized
    /// where it can be), and each output is rebuilt into lists from the same offsets.
    /// Without `map_over` the inner pipeline runs over the outer rows as they are.
    fn nested(&mut self, i: usize, nested: &NestedNode) -> Result<()> {
        let Some(events) = self.config.events().cloned() else {
            return self.nested_rows(i, nested);
        };
        let node = self.node(i);
        events.node_start(node, 0..self.rows);
        let started = Tick::now();
        let done = self.nested_rows(i, nested);
        match &done {
            Ok(()) => events.node_end(node, 0..self.rows, started.elapsed()),
            Err(e) => events.node_error(node, e.item(), e),
        }
        done
    }

    /// [`Run::nested`], reporting the inner run only.
    fn nested_rows(&mut self, i: usize, nested: &NestedNode) -> Result<()> {
        let node = self.node(i);
        let keep = self.plan.kept_outputs(i);
        let inner = nested.pipeline();
        if let Some(text) = &mut self.explain {
            let _ = writeln!(text, "nested: {} (vectorized over flattened lists)", node.name());
        }
        let outer_of = |inner_name: &str| {
            let k = nested
                .inner_params()
                .iter()
                .position(|n| n == inner_name)
                .expect("a parameter");
            node.params()[k].name()
        };

        // The inner rows: for each outer row, its items; `parent[r]` is the outer row of
        // inner row `r`, `starts[o]` the first inner row of outer row `o`.
        let mut lists = Vec::with_capacity(nested.map_over().len());
        for m in nested.map_over() {
            let ct = ColumnType::find(&inner.input_type(m).expect("an input")).expect("checked");
            lists.push((m.as_str(), ct, self.list_array(outer_of(m), ct)?));
        }
        let mode = nested.mode();
        let mut starts: Vec<usize> = Vec::with_capacity(self.rows + 1);
        let mut rows = 0;
        let mut lens = vec![0; lists.len()];
        for row in 0..self.rows {
            starts.push(rows);
            if lists.is_empty() {
                rows += 1;
                continue;
            }
            for (len, (_, _, l)) in lens.iter_mut().zip(&lists) {
                *len = l.value_length(row) as usize;
            }
            rows += match mode {
                MapMode::Zip => {
                    if lens.iter().any(|&l| l != lens[0]) {
                        return Err(Error::NodeFailed {
                            node: node.name().into(),
                            item: self.is_map.then_some(row),
                            source: Box::new(Error::ZipLengthMismatch {
                                lengths: lists
                                    .iter()
                                    .zip(&lens)
                                    .map(|((m, _, _), &l)| ((*m).into(), l))
                                    .collect(),
                            }),
                        });
                    }
                    lens[0]
                }
                MapMode::Product => lens.iter().product(),
            };
        }
        starts.push(rows);
        // The outer row of inner row `r`.
        let outer_row = |r: usize| starts.partition_point(|&s| s <= r) - 1;
        // A null list (from Arrow data) maps to a null list.
        let nulls = lists.iter().fold(None, |acc, (_, _, l)| {
            NullBuffer::union(acc.as_ref(), l.logical_nulls().as_ref())
        });
        // Zip over lists whose items are all in order, back to back: their child values,
        // sliced, copy nothing. Otherwise the element of each list on every inner row.
        let contiguous = |l: &ListArray| {
            let o = l.value_offsets();
            mode == MapMode::Zip && (o[o.len() - 1] - o[0]) as usize == rows
        };
        let mut child_index: Vec<Vec<u32>> = vec![Vec::new(); lists.len()];
        if !lists.iter().all(|(_, _, l)| contiguous(l)) {
            for row in 0..self.rows {
                for (len, (_, _, l)) in lens.iter_mut().zip(&lists) {
                    *len = l.value_length(row) as usize;
                }
                for item in 0..starts[row + 1] - starts[row] {
                    mode.for_each_element(
                        lists.len(),
                        |k| lens[k],
                        item,
                        |k, j| child_index[k].push(lists[k].2.value_offsets()[row] as u32 + j as u32),
                    );
                }
            }
        }
        // For inner inputs that are not mapped: the outer row of every inner row.
        let repeated = nested.inner_params().iter().any(|p| !nested.map_over().contains(p));
        let parent: Arc<Vec<u32>> = Arc::new(if repeated && !lists.is_empty() {
            (0..self.rows)
                .flat_map(|row| std::iter::repeat_n(row as u32, starts[row + 1] - starts[row]))
                .collect()
        } else {
            Vec::new()
        });

        // The inner columns: flattened lists, and the outer columns repeated per item.
        let mut cols = HashMap::new();
        for ((m, ct, list), index) in lists.iter().zip(child_index) {
            // Zip visits each list's items in order: its child values, sliced, copy nothing.
            let values = if contiguous(list) {
                list.values().slice(list.value_offsets()[0] as usize, rows)
            } else {
                gather(m, list.values().as_ref(), index)?
            };
            cols.insert(m.to_string(), Col::Arrow(Chunks::one(values), Conv::Leaf(ct)));
        }
        for (k, inner_name) in nested.inner_params().iter().enumerate() {
            if !nested.map_over().contains(inner_name) {
                let col = if lists.is_empty() {
                    self.cols[node.params()[k].name()].clone()
                } else {
                    self.repeat(node.params()[k].name(), &parent)?
                };
                cols.insert(inner_name.clone(), col);
            }
        }
        let select: Vec<String> = nested
            .inner_outputs()
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(n, _)| n.clone())
            .collect();
        // A bad setting of the inner pipeline fails the nested node, as in the node engine
        // (on its first item).
        let config = nested.config(&self.config).map_err(|e| Error::NodeFailed {
            node: nested.name().into(),
            item: self.is_map.then_some(0),
            source: Box::new(e),
        })?;
        // With callbacks, the inner run reports one level deeper, for all outer rows.
        let config = match self.config.context() {
            Some(ctx) if !config.callbacks().is_empty() => {
                let ctx = ctx.child(nested.name(), inner.name(), self.is_map.then_some(0..self.rows));
                Arc::new((*config).clone().in_context(ctx))
            }
            _ => config,
        };
        let plan = RunPlan::for_columns(inner, Some(&select), config)?;
        // The inner rows are cut where the outer batches end, so each inner output chunk
        // holds the items of one outer batch and becomes that batch's lists without a copy.
        let outer_split = self.split();
        let inner_split = Split {
            partitions: outer_split
                .partitions
                .iter()
                .map(|batches| {
                    batches
                        .iter()
                        .map(|&(s, l)| (starts[s], starts[s + l] - starts[s]))
                        .filter(|&(_, l)| l > 0)
                        .collect()
                })
                .collect(),
        };
        // Over mapped lists the inner rows are items; without, they are the outer rows,
        // items only when those are.
        let inner_is_map = !lists.is_empty() || self.is_map;
        let mut child = Run::with_columns(self.engine, &plan, rows, inner_is_map, cols);
        child.split = Some(inner_split);
        child.explain = self.explain.as_ref().map(|_| String::new());
        let events = child.config.events().cloned();
        if let Some(events) = &events {
            events.nested_start();
        }
        let result = if lists.is_empty() {
            // The inner rows are the outer rows.
            child.computed = self.computed.clone();
            child.execute()
        } else {
            let result = crate::pipeline::events_of_map(&child.config.clone(), rows, || child.execute_items(true));
            if let (Some(outer), Some(inner)) = (&self.computed, &child.computed) {
                for o in 0..self.rows {
                    if (starts[o]..starts[o + 1]).any(|r| inner[r].load(Ordering::Relaxed)) {
                        outer[o].store(true, Ordering::Relaxed);
                    }
                }
            }
            result
        };
        if let Some(events) = &events {
            events.nested_end(result.as_ref().err());
        }
        if let (Some(text), Some(inner_text)) = (&mut self.explain, child.explain.take()) {
            // The inner run's own segments, indented under the nested node.
            for line in inner_text.lines() {
                let _ = writeln!(text, "  {line}");
            }
        }
        if let Err(e) = result {
            // Name the outer item and, within it, the inner item, as the node engine does
            // (a failure of a whole batch names neither).
            let (item, e) = match e.item() {
                Some(r) => {
                    let outer = outer_row(r);
                    let inner = (!lists.is_empty()).then(|| r - starts[outer]);
                    (self.is_map.then_some(outer), e.map_item(|_| inner))
                }
                None => (None, e),
            };
            return Err(Error::NodeFailed {
                node: node.name().into(),
                item,
                source: Box::new(e),
            });
        }

        // The outputs, rebuilt into lists with the same offsets.
        for ((port, inner_name), &k) in node.outputs().iter().zip(nested.inner_outputs()).zip(keep) {
            if !k {
                continue;
            }
            let inner_type = inner.output_type(inner_name).expect("an output");
            // Unreachable: the inner run computed every output in `select`.
            let col = child
                .cols
                .remove(inner_name.as_str())
                .ok_or_else(|| Error::Internal(format!("'{inner_name}' was not computed")))?;
            if lists.is_empty() {
                self.cols.insert(port.name().to_string(), col);
                continue;
            }
            let (values, conv) = match col {
                Col::Arrow(c, conv) => (c, conv),
                Col::List { list, index: None, .. } => {
                    let ct = ColumnType::find(&inner_type).expect("checked by can_vectorize");
                    // Unreachable: a `Vec` of the output's columnar type converts.
                    let array = (ct.list_to_array)(&list)
                        .ok_or_else(|| Error::Internal(format!("'{inner_name}' is not convertible")))?;
                    (Chunks::one(array), Conv::Leaf(ct))
                }
                // Unreachable: over mapped lists the inner run is a map, whose node outputs
                // are Arrow columns or unindexed lists, never constants.
                _ => return Err(Error::Internal(format!("'{inner_name}' has an unexpected shape"))),
            };
            // One list chunk per outer batch: its items' values (a slice of one inner
            // chunk when the cuts line up) and its own offsets.
            let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
            let mut chunks: Vec<ArrayRef> = Vec::new();
            for &(s, l) in outer_split.partitions.iter().flatten() {
                let items = values.range(starts[s], starts[s + l] - starts[s])?;
                let offsets = OffsetBuffer::from_lengths(starts[s..=s + l].windows(2).map(|w| w[1] - w[0]));
                let nulls = nulls.as_ref().map(|n| n.slice(s, l));
                chunks.push(Arc::new(ListArray::new(field.clone(), offsets, items, nulls)));
            }
            let data_type = DataType::List(field.clone());
            self.cols.insert(
                port.name().to_string(),
                Col::Arrow(
                    Chunks::from_arrays(chunks, &data_type),
                    Conv::List {
                        child: Box::new(conv),
                        elem: inner_type,
                    },
                ),
            );
        }
        Ok(())
    }

    /// The value of column `name` at `row`, `None` when it is null (only Arrow data, given
    /// by the caller or made by a vectorized node from a null, holds nulls).
    fn value_at(&self, name: &str, row: usize) -> Option<Value> {
        match &self.cols[name] {
            Col::Const(v) => Some(v.clone()),
            Col::List { list, elem, index } => {
                let j = index.as_ref().map_or(row, |ix| ix[row] as usize);
                Some(Value::item(list.clone(), j, *elem))
            }
            Col::Arrow(c, conv) => {
                let (array, at) = c.locate(row);
                conv.value_at(array, at)
            }
        }
    }

    /// The arguments of `node` at `row`: a null where the node reads a type without nulls
    /// fails the node on that row (a vectorized node would skip the row; a node run row
    /// by row has no null to return).
    fn args_at(&self, node: &Node, row: usize) -> Result<Vec<Value>> {
        node.params()
            .iter()
            .map(|p| {
                self.value_at(p.name(), row).ok_or_else(|| Error::NodeFailed {
                    node: node.name().into(),
                    item: self.is_map.then_some(row),
                    source: format!(
                        "'{}' is null, and the node reads it as {}, which has no null (read it as an Option to accept nulls)",
                        p.name(),
                        p.type_info()
                    )
                    .into(),
                })
            })
            .collect()
    }

    /// Which node fails on which of `rows` when a segment failed with no node named (a
    /// SQL expression failing on the data): the segment's nodes run row by row, item by
    /// item as the node engine runs them, until one fails. Rows where a node reads a null
    /// are skipped for it and what reads its outputs, as in the plan. `None` when no node
    /// fails this way.
    fn diagnose(&self, nodes: &[usize], rows: std::ops::Range<usize>) -> Result<Option<Error>> {
        for row in rows {
            let mut made: HashMap<&str, Option<Value>> = HashMap::new();
            for &i in nodes {
                let node = self.node(i);
                let args: Option<Vec<Value>> = node
                    .params()
                    .iter()
                    .map(|p| match made.get(p.name()) {
                        Some(v) => v.clone(),
                        None => self.value_at(p.name(), row),
                    })
                    .collect();
                let ports = node.outputs();
                let Some(args) = args else {
                    made.extend(ports.iter().map(|p| (p.name(), None)));
                    continue;
                };
                let refs: Vec<&Value> = args.iter().collect();
                let keep = vec![true; ports.len()];
                match invoke_node(&self.config, node, &keep, &refs, self.is_map.then_some(row)) {
                    Err(e) => return Ok(Some(e)),
                    Ok(out) => out.for_each(|k, v| {
                        made.insert(ports[k].name(), Some(v));
                    }),
                }
            }
        }
        Ok(None)
    }

    /// Runs `nodes` (consecutive in the plan, each run row by row) in waves: the nodes
    /// of a wave read nothing the others make, and run at the same time under a node
    /// executor that is not sequential; the first failing node in plan order fails.
    fn row_by_row(&mut self, nodes: &[usize]) -> Result<()> {
        let mut waves: Vec<Vec<usize>> = Vec::new();
        let mut wave_of: HashMap<&str, usize> = HashMap::new();
        for &i in nodes {
            let node = self.node(i);
            let w = node
                .params()
                .iter()
                .filter_map(|p| wave_of.get(p.name()))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            wave_of.extend(node.outputs().iter().map(|p| (p.name(), w)));
            if waves.len() <= w {
                waves.resize_with(w + 1, Vec::new);
            }
            waves[w].push(i);
        }
        let pool = self.config.node_executor().unwrap_or_default().pool();
        for wave in waves {
            let plan = self.plan;
            if let Some(text) = &mut self.explain {
                for &i in &wave {
                    let node = &plan.pipeline().nodes()[i];
                    let how = if node.is_nested() {
                        "nested pipeline"
                    } else {
                        "node by node"
                    };
                    let _ = writeln!(text, "fallback: {} ({how})", node.name());
                }
            }
            let made: Vec<Result<Vec<(String, Col)>>> = match pool {
                Some((pool, _)) if wave.len() > 1 => {
                    let run = &*self;
                    pool.install(|| wave.par_iter().with_max_len(1).map(|&i| run.node_rows(i)).collect())
                }
                _ => wave.iter().map(|&i| self.node_rows(i)).collect(),
            };
            for cols in made {
                self.cols.extend(cols?);
            }
        }
        Ok(())
    }

    /// Runs node `i` on every row (with the map executor) and returns the columns of its
    /// kept outputs.
    fn node_rows(&self, i: usize) -> Result<Vec<(String, Col)>> {
        let node = self.node(i);
        let keep = self.plan.kept_outputs(i);
        let item = |row: usize| self.is_map.then_some(row);
        if self.config.cache().is_some() {
            return self.node_rows_cached(node, keep);
        }
        segment::mark(self.computed.as_ref(), 0..self.rows);
        if !self.is_map {
            let args = self.args_at(node, 0)?;
            let refs: Vec<&Value> = args.iter().collect();
            let out = call_node(&self.config, node, keep, &refs, None)?;
            let ports = node.outputs();
            let mut cols = Vec::new();
            out.for_each(|k, v| cols.push((ports[k].name().to_string(), Col::Const(v))));
            return Ok(cols);
        }
        let mut builders = node
            .outputs()
            .iter()
            .zip(keep)
            .map(|(p, &k)| {
                if k {
                    p.type_info().column_builder(self.rows).map(Some).ok_or_else(|| {
                        Error::Invalid(format!(
                            "Output '{}': lists of {} nest too deep to collect",
                            p.name(),
                            p.type_info()
                        ))
                    })
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        // The rows run with the map executor (each row an item), in row order.
        let on_error = OnError::Fail;
        let push = |row: usize, out: Produced, builders: &mut Vec<Option<Box<dyn ColumnBuilder>>>| {
            let mut shared = None;
            out.for_each(|k, v| {
                if let Some(b) = &mut builders[k] {
                    if b.push(v).is_err() {
                        shared = shared.or(Some(k));
                    }
                }
            });
            match shared {
                Some(k) => Err(not_owned(node, node.outputs()[k].name(), item(row))),
                None => Ok(()),
            }
        };
        let config = &self.config;
        // Sync work under `async:N` runs on its pool like `threaded:N`, without a hand-off
        // to the runtime per row.
        match config.map_executor().unwrap_or_default() {
            Executor::Sequential => {
                for row in 0..self.rows {
                    let args = self.args_at(node, row)?;
                    let refs: Vec<&Value> = args.iter().collect();
                    let out = call_node(config, node, keep, &refs, item(row))?;
                    push(row, out, &mut builders)?;
                }
            }
            Executor::Async(width) if node.is_async() => {
                let keep: Arc<[bool]> = keep.into();
                let results = block_on(for_items_async(width, self.rows, on_error, |row| {
                    let args = self.args_at(node, row);
                    let (config, node, keep) = (config.clone(), node.clone(), keep.clone());
                    async move { call_node_async(config, node, keep, args?, item(row)).await }
                }));
                collect(results, on_error, &mut Vec::new(), |row, out| {
                    push(row, out, &mut builders)
                })?;
            }
            executor => {
                let results = for_items(executor, self.rows, on_error, |row| {
                    let args = self.args_at(node, row)?;
                    let refs: Vec<&Value> = args.iter().collect();
                    call_node(config, node, keep, &refs, item(row))
                });
                collect(results, on_error, &mut Vec::new(), |row, out| {
                    push(row, out, &mut builders)
                })?;
            }
        }
        let mut cols = Vec::new();
        for ((p, b), &k) in node.outputs().iter().zip(builders).zip(keep) {
            if let (Some(b), true) = (b, k) {
                let list = b.finish();
                cols.push((
                    p.name().to_string(),
                    Col::List {
                        list: Arc::new(list),
                        elem: p.type_info().this_fn(),
                        index: None,
                    },
                ));
            }
        }
        Ok(cols)
    }

    /// [`Run::node_rows`] through the node's cache, as the node engine runs a node over
    /// the items of a map (the node engine's [`cached_node`]).
    fn node_rows_cached(&self, node: &Node, keep: &[bool]) -> Result<Vec<(String, Col)>> {
        let args = node
            .params()
            .iter()
            .map(|p| match &self.cols[p.name()] {
                Col::Const(v) => Ok(Cells::Const(v.clone())),
                _ => (0..self.rows)
                    .map(|row| {
                        self.value_at(p.name(), row)
                            .map(Some)
                            .ok_or_else(|| self.args_at(node, row).expect_err("a null argument"))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|values| Cells::Items(values, None)),
            })
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Cells> = args.iter().collect();
        let rows: Vec<usize> = (0..self.rows).collect();
        let no_digests = vec![false; node.outputs().len()];
        let results = cached_node(
            &self.config,
            node,
            keep,
            &rows,
            self.rows,
            &refs,
            &no_digests,
            self.is_map,
        );
        segment::mark(self.computed.as_ref(), results.computed.iter().copied());
        let (outs, mut failed) = (results.outs, results.failed);
        let outs: Vec<Vec<Option<Value>>> = outs
            .iter()
            .map(|cells| (0..self.rows).map(|row| cells.at(row)).collect())
            .collect();
        failed.sort_by_key(|f| f.0);
        if let Some((_, Some(e))) = failed.into_iter().find(|f| f.1.is_some()) {
            return Err(e);
        }
        let mut cols = Vec::new();
        for ((p, out), &k) in node.outputs().iter().zip(outs).zip(keep) {
            if !k {
                continue;
            }
            // Unreachable: every output of every item is computed or found, or the node
            // failed and returned its error above (here and below).
            if !self.is_map {
                let value = out.into_iter().next().flatten();
                let value = value.ok_or_else(|| Error::Internal(format!("'{}' was not computed", p.name())))?;
                cols.push((p.name().to_string(), Col::Const(value)));
                continue;
            }
            let ty = p.type_info();
            let builder = ty.column_builder(self.rows).ok_or_else(|| {
                Error::Invalid(format!("Output '{}': lists of {ty} nest too deep to collect", p.name()))
            })?;
            // Unreachable: as above.
            let values = out
                .into_iter()
                .map(|v| v.ok_or_else(|| Error::Internal(format!("'{}' was not computed", p.name()))))
                .collect::<Result<Vec<_>>>()?;
            let list = collect_shared(builder, values, p.name(), ty, node)?;
            cols.push((
                p.name().to_string(),
                Col::List {
                    list: Arc::new(list),
                    elem: ty.this_fn(),
                    index: None,
                },
            ));
        }
        Ok(cols)
    }

    /// The value of output `name` of a one-item run.
    fn take_single(&mut self, name: &str) -> Result<Value> {
        // Unreachable: every output the plan returns is computed, and none of a one-item
        // run is null (its inputs are Rust values, a vectorized node makes a null only
        // from a null, and an expression node's null fails that node).
        let value = self
            .cols
            .contains_key(name)
            .then(|| self.value_at(name, 0))
            .flatten()
            .ok_or_else(|| Error::Internal(format!("output '{name}' was not computed")))?;
        self.cols.remove(name);
        Ok(value)
    }
}

/// The column of output `name` of a map, whose rows have type `row_type`, as a `Vec`.
fn list_of(name: &str, col: Option<Col>, row_type: TypeInfo) -> Result<Value> {
    match col {
        // Unreachable: a map's inputs are Rust values, so an output column holds a null
        // only where its type has nulls (see `Run::take_single`).
        Some(Col::Arrow(c, conv)) => conv
            .to_values(&c, row_type)
            .map_err(|e| Error::Internal(format!("output '{name}': {e}"))),
        // Unreachable: a node's output list is made by `row_by_row` and held only here.
        Some(Col::List { list, index: None, .. }) => {
            Arc::try_unwrap(list).map_err(|_| Error::Internal(format!("output '{name}' is still shared")))
        }
        // Unreachable: every output the plan returns is computed, as a column of rows.
        _ => Err(Error::Internal(format!("output '{name}' was not computed"))),
    }
}

/// `frame` with a column per output of `node`, from `call`, the node's UDF call (a
/// struct split into its fields when the node has several outputs).
///
/// # Errors
///
/// DataFusion's planning errors, for the caller to report: none over the engine's own
/// frames, whose columns and types it checked; a missing column of a user's frame.
fn with_node_columns(
    frame: DataFrame,
    node: &Node,
    call: Expr,
) -> std::result::Result<DataFrame, datafusion::error::DataFusionError> {
    let outputs = node.outputs();
    if outputs.len() == 1 {
        return frame.with_column(outputs[0].name(), call);
    }
    let tmp = format!("__hypernodes_{}", node.name());
    let mut frame = frame.with_column(&tmp, call)?;
    for p in outputs {
        let field = datafusion::functions::core::expr_fn::get_field(column(&tmp), p.name());
        frame = frame.with_column(p.name(), field)?;
    }
    frame.drop_columns(&[tmp.as_str()])
}

/// `expr` with the columns named in `literals` replaced by their values.
fn with_literals(expr: &Expr, literals: &HashMap<&str, ScalarValue>) -> Result<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    expr.clone()
        .transform(|e| {
            Ok(match &e {
                Expr::Column(c) => match literals.get(c.name.as_str()) {
                    Some(v) => Transformed::yes(Expr::Literal(v.clone(), None)),
                    None => Transformed::no(e),
                },
                _ => Transformed::no(e),
            })
        })
        .map(|t| t.data)
        // Unreachable: the rewrite above never fails.
        .map_err(df)
}

/// A column reference that is never parsed (names may contain dots or capitals).
fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// A DataFusion error that only a bug of hypernodes can cause: planning over schemas,
/// columns and expressions the engine made and checked itself. Every caller says why its
/// error cannot be reached (a comment a test holds it to).
fn df(e: datafusion::error::DataFusionError) -> Error {
    Error::Internal(format!("DataFusion: {e}"))
}

/// The same for an Arrow error.
fn df_arrow(e: arrow::error::ArrowError) -> Error {
    Error::Internal(format!("Arrow: {e}"))
}

/// Rows `index` of `array`, the column `name`: an error of the data when the result
/// outgrows one Arrow array (over 2 GiB of strings).
fn gather(name: &str, array: &dyn Array, index: Vec<u32>) -> Result<ArrayRef> {
    let rows = index.len();
    take(array, &UInt32Array::from(index), None).map_err(|e| Error::Arrow {
        context: format!("Cannot gather {rows} rows of '{name}'").into(),
        source: Box::new(e),
    })
}
