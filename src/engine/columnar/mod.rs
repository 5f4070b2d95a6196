//! The columnar engine: pipelines compiled to Apache Arrow / DataFusion plans.
//!
//! Items become rows. Consecutive nodes that have a vectorized [`Kernel`] (every type
//! columnar) form one DataFusion plan in which each node is a scalar UDF over Arrow
//! batches; constants are scalars, lists mapped over are columns, and the rows are
//! split into partitions that run on all cores. Any other node (a type that is not
//! columnar, an `async fn`, a closure node, a nested pipeline) runs node by node over
//! the same rows, inside the same run, and the columnar nodes around it stay vectorized.
//! [`ColumnarEngine::explain`] shows which node ran where.

pub mod kernel;
pub mod types;
mod udf;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, ScalarUDF};
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use kernel::Kernel;
pub use types::{ColumnType, Columnar};

use super::node::call_node;
use super::Engine;
use crate::error::{Error, Result};
use crate::map::{MapMode, MapPlan};
use crate::node::{Node, NodeKind};
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::RunPlan;
use crate::value::{TypeInfo, Value};

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

    /// The most partitions large inputs are split into.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The rows per Arrow batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// What a map of `plan` runs where: each vectorized segment's logical and physical
    /// DataFusion plan, with one UDF per node, and the nodes that run node by node.
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
        let plan = MapPlan::new(pipeline, inputs, over, MapMode::Zip, None)?;
        let mut run = Run::new(self, plan.run_plan(), Rows::Map(&plan));
        run.explain = Some(String::new());
        run.execute()?;
        Ok(run.explain.unwrap_or_default())
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
        run.execute()?;
        let columns = plan
            .run_plan()
            .outputs()
            .iter()
            .map(|name| run.take_list(name).map(|v| (name.clone(), v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(MapOutputs::from_columns(plan.len(), columns))
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
    /// An Arrow column with the conversions of its type.
    Arrow(ArrayRef, &'static ColumnType),
    /// Row `i` is element `index[i]` (or `i`) of a `Vec` value.
    List {
        list: Arc<Value>,
        elem: fn() -> TypeInfo,
        index: Option<Arc<Vec<u32>>>,
    },
}

/// One execution of a plan over rows.
struct Run<'p> {
    engine: &'p ColumnarEngine,
    plan: &'p RunPlan,
    rows: usize,
    /// Whether rows are items of a map (errors then name the item).
    is_map: bool,
    cols: HashMap<String, Col>,
    /// When set, collects the explanation of each segment while running.
    explain: Option<String>,
}

impl<'p> Run<'p> {
    fn new(engine: &'p ColumnarEngine, plan: &'p RunPlan, rows: Rows<'p>) -> Run<'p> {
        let mut cols: HashMap<String, Col> = plan
            .inputs()
            .iter()
            .map(|(name, value)| (name.to_string(), Col::Const(value.clone())))
            .collect();
        let n = match rows {
            Rows::One => 1,
            Rows::Map(map) => {
                for (k, mapped) in map.over().iter().enumerate() {
                    let index = match map.mode() {
                        MapMode::Zip => None,
                        MapMode::Product => {
                            let mut index = vec![0_u32; map.len()];
                            for (item, slot) in index.iter_mut().enumerate() {
                                map.for_each_element(item, |j, e| {
                                    if j == k {
                                        *slot = e as u32;
                                    }
                                });
                            }
                            Some(Arc::new(index))
                        }
                    };
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
                .find(|&j| Kernel::find(self.node(order[j])).is_none())
                .unwrap_or(order.len());
            if end > at {
                segment += 1;
                self.vectorized(&order[at..end], segment)?;
                at = end;
            } else {
                self.row_by_row(order[at])?;
                at += 1;
            }
        }
        Ok(())
    }

    /// The Arrow conversions for values named `name`: its producer's or any reader's.
    fn column_type(&self, name: &str) -> Option<&'static ColumnType> {
        let pipeline = self.plan.pipeline();
        let ports = pipeline
            .nodes()
            .iter()
            .flat_map(|n| n.params().iter().chain(n.outputs()))
            .filter(|p| p.name() == name);
        ports.filter_map(|p| ColumnType::find(&p.type_info())).next()
    }

    /// The column `name` as an Arrow array of all rows (or a one-row constant).
    fn arrow(&self, name: &str) -> Result<(ArrayRef, bool)> {
        let col = &self.cols[name];
        let ct = || {
            self.column_type(name)
                .ok_or_else(|| Error::Internal(format!("'{name}' has no Arrow type")))
        };
        Ok(match col {
            Col::Arrow(a, _) => (a.clone(), false),
            Col::Const(v) => {
                let a =
                    (ct()?.value_to_array)(v).ok_or_else(|| Error::Internal(format!("'{name}' is not convertible")))?;
                (a, true)
            }
            Col::List { list, index, .. } => {
                let a = (ct()?.list_to_array)(list)
                    .ok_or_else(|| Error::Internal(format!("'{name}' is not convertible")))?;
                match index {
                    None => (a, false),
                    Some(ix) => (
                        take(a.as_ref(), &UInt32Array::from(ix.as_ref().clone()), None).map_err(df_arrow)?,
                        false,
                    ),
                }
            }
        })
    }

    fn vectorized(&mut self, nodes: &[usize], segment: usize) -> Result<()> {
        let rows = self.rows;
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
        let mut fields = vec![Field::new(ITEM, DataType::Int64, false)];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(0..rows as i64))];
        let mut literals: HashMap<&str, ScalarValue> = HashMap::new();
        for &name in &reads {
            let (array, constant) = self.arrow(name)?;
            if constant {
                literals.insert(name, ScalarValue::try_from_array(array.as_ref(), 0).map_err(df)?);
            } else {
                fields.push(Field::new(name, array.data_type().clone(), true));
                arrays.push(array);
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(df_arrow)?;

        let parts = if rows < MIN_ROWS_PER_PARTITION {
            1
        } else {
            self.engine.partitions.min(rows.div_ceil(MIN_ROWS_PER_PARTITION))
        };
        let per_part = rows.div_ceil(parts).max(1);
        let mut partitions = Vec::with_capacity(parts);
        for p in 0..parts {
            let start = (p * per_part).min(rows);
            let len = per_part.min(rows - start);
            let mut batches = Vec::new();
            let mut offset = start;
            while offset < start + len {
                let n = self.engine.batch_size.min(start + len - offset);
                batches.push(batch.slice(offset, n));
                offset += n;
            }
            partitions.push(batches);
        }
        let config = SessionConfig::new()
            .with_target_partitions(parts)
            .with_batch_size(self.engine.batch_size);
        let ctx = SessionContext::new_with_config(config);
        let table = MemTable::try_new(schema, partitions).map_err(df)?;
        let mut frame = ctx.read_table(Arc::new(table)).map_err(df)?;

        let errors = Arc::new(Mutex::new(None::<(usize, usize, Error)>));
        let mut keep: Vec<(String, &'static ColumnType)> = Vec::new();
        for (order, &i) in nodes.iter().enumerate() {
            let node = self.node(i);
            let mut args = vec![column(ITEM)];
            for p in node.params() {
                args.push(match literals.get(p.name()) {
                    Some(v) => Expr::Literal(v.clone(), None),
                    None => column(p.name()),
                });
            }
            let udf = udf::NodeUdf::try_new(node, order, self.is_map, errors.clone())?;
            let call = ScalarUDF::new_from_impl(udf).call(args);
            let outputs = node.outputs();
            let kept = self.plan.kept_outputs(i);
            if outputs.len() == 1 {
                frame = frame.with_column(outputs[0].name(), call).map_err(df)?;
            } else {
                let tmp = format!("__hypernodes_{}", node.name());
                frame = frame.with_column(&tmp, call).map_err(df)?;
                for p in outputs {
                    let field = datafusion::functions::core::expr_fn::get_field(column(&tmp), p.name());
                    frame = frame.with_column(p.name(), field).map_err(df)?;
                }
            }
            for (p, &k) in outputs.iter().zip(kept) {
                if k {
                    let ct = ColumnType::find(&p.type_info()).ok_or_else(|| {
                        Error::Internal(format!("output '{}' of '{}' has no Arrow type", p.name(), node.name()))
                    })?;
                    keep.push((p.name().to_string(), ct));
                }
            }
        }
        let names: Vec<&str> = keep.iter().map(|(n, _)| n.as_str()).collect();
        let frame = frame.select_columns(&names).map_err(df)?;

        let node_names: Vec<&str> = nodes.iter().map(|&i| self.node(i).name()).collect();
        if let Some(text) = &mut self.explain {
            let _ = writeln!(
                text,
                "segment {segment}: {} (vectorized, {parts} partition(s))",
                node_names.join(", ")
            );
            let logical = frame.clone().into_optimized_plan().map_err(df)?;
            let _ = writeln!(text, "logical plan:\n{}", logical.display_indent());
            let physical = block_on(frame.clone().create_physical_plan()).map_err(df)?;
            let _ = writeln!(text, "physical plan:\n{}", displayable(physical.as_ref()).indent(true));
        }

        let result = block_on(frame.collect_partitioned());
        if let Some((_, _, e)) = errors.lock().expect("error slot").take() {
            return Err(e);
        }
        let parts = result.map_err(df)?;
        let batches: Vec<RecordBatch> = parts.into_iter().flatten().collect();
        for (k, (name, ct)) in keep.into_iter().enumerate() {
            let pieces: Vec<&dyn Array> = batches.iter().map(|b| b.column(k).as_ref()).collect();
            let array = if pieces.is_empty() {
                datafusion::arrow::array::new_empty_array(&(ct.data_type)())
            } else {
                concat(&pieces).map_err(df_arrow)?
            };
            self.cols.insert(name, Col::Arrow(array, ct));
        }
        Ok(())
    }

    /// The value of column `name` at `row`.
    fn value_at(&self, name: &str, row: usize) -> Result<Value> {
        match &self.cols[name] {
            Col::Const(v) => Ok(v.clone()),
            Col::List { list, elem, index } => {
                let j = index.as_ref().map_or(row, |ix| ix[row] as usize);
                Ok(Value::item(list.clone(), j, *elem))
            }
            Col::Arrow(a, ct) => (ct.array_value)(a.as_ref(), row)
                .ok_or_else(|| Error::Internal(format!("'{name}' is null at row {row}"))),
        }
    }

    fn row_by_row(&mut self, i: usize) -> Result<()> {
        let node = self.node(i);
        let keep = self.plan.kept_outputs(i);
        if let Some(text) = &mut self.explain {
            let how = if matches!(node.kind(), NodeKind::Nested(_)) {
                "nested pipeline"
            } else {
                "node by node"
            };
            let _ = writeln!(text, "fallback: {} ({how})", node.name());
        }
        let item = |row: usize| self.is_map.then_some(row);
        let names: Vec<&str> = node.params().iter().map(|p| p.name()).collect();
        if !self.is_map {
            let args: Vec<Value> = names.iter().map(|n| self.value_at(n, 0)).collect::<Result<_>>()?;
            let refs: Vec<&Value> = args.iter().collect();
            let out = call_node(self.engine, node, keep, &refs, None)?;
            for (p, v) in node.outputs().iter().zip(out) {
                if let Some(v) = v {
                    self.cols.insert(p.name().to_string(), Col::Const(v));
                }
            }
            return Ok(());
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
        for row in 0..self.rows {
            let args: Vec<Value> = names.iter().map(|n| self.value_at(n, row)).collect::<Result<_>>()?;
            let refs: Vec<&Value> = args.iter().collect();
            let out = call_node(self.engine, node, keep, &refs, item(row))?;
            drop(refs);
            drop(args);
            for (b, v) in builders.iter_mut().zip(out) {
                if let (Some(b), Some(v)) = (b, v) {
                    b.push(v)
                        .map_err(|_| Error::Internal(format!("an output of '{}' is still shared", node.name())))?;
                }
            }
        }
        for ((p, b), &k) in node.outputs().iter().zip(builders).zip(keep) {
            if let (Some(b), true) = (b, k) {
                let list = b.finish();
                self.cols.insert(
                    p.name().to_string(),
                    Col::List {
                        list: Arc::new(list),
                        elem: p.type_info().this_fn(),
                        index: None,
                    },
                );
            }
        }
        Ok(())
    }

    /// The value of output `name` of a one-item run.
    fn take_single(&mut self, name: &str) -> Result<Value> {
        match self.cols.remove(name) {
            Some(Col::Const(v)) => Ok(v),
            Some(Col::Arrow(a, ct)) => {
                (ct.array_value)(a.as_ref(), 0).ok_or_else(|| Error::Internal(format!("output '{name}' is null")))
            }
            _ => Err(Error::Internal(format!("output '{name}' was not computed"))),
        }
    }

    /// The column of output `name` of a map, as a `Vec` value.
    fn take_list(&mut self, name: &str) -> Result<Value> {
        match self.cols.remove(name) {
            Some(Col::Arrow(a, ct)) => {
                (ct.array_to_list)(a.as_ref()).map_err(|e| Error::Internal(format!("output '{name}': {e}")))
            }
            Some(Col::List { list, index: None, .. }) => {
                Arc::try_unwrap(list).map_err(|_| Error::Internal(format!("output '{name}' is still shared")))
            }
            _ => Err(Error::Internal(format!("output '{name}' was not computed"))),
        }
    }
}

/// A column reference that is never parsed (names may contain dots or capitals).
fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// A DataFusion error as a hypernodes error.
fn df(e: datafusion::error::DataFusionError) -> Error {
    Error::Internal(format!("DataFusion: {e}"))
}

/// An Arrow error as a hypernodes error.
fn df_arrow(e: datafusion::arrow::error::ArrowError) -> Error {
    Error::Internal(format!("Arrow: {e}"))
}

/// Runs DataFusion futures on a multi-threaded runtime shared by the process, so
/// partitions run on every core; from inside another runtime, on a scoped thread.
fn block_on<T: Send>(fut: impl std::future::Future<Output = T> + Send) -> T {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("hypernodes-columnar")
            .build()
            .expect("building the tokio runtime for the columnar engine")
    });
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        rt.block_on(fut)
    }
}
