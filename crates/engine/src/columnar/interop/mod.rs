//! Pipelines in DataFusion code of your own: nodes as UDFs on your `SessionContext`, and
//! pipelines applied to a `DataFrame` or a `RecordBatch`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

use datafusion::logical_expr::async_udf::AsyncScalarUDF;

mod nulls;
mod on_engine;

use super::dictionary;
use super::expr::{as_written, written_type};
use super::types::cast_exact;
use super::udf::{AsyncNodeUdf, NodeUdf, PipelineUdf};
use super::{
    Chunks, Col, ColumnType, ColumnarEngine, Conv, ExprNode, Kernel, Run, column, df, df_arrow, with_node_columns,
};
use crate::error::{Error, Result};
use crate::exec::{Executor, ItemFailure, OnError, RunConfig};
use crate::node::Node;
use crate::pipeline::Pipeline;
use crate::plan::RunPlan;
use crate::run::{events_of_map, top_level};

impl ColumnarEngine {
    /// Registers every node of `pipeline` that has a vectorized kernel as a scalar UDF
    /// named after the node, and every `async fn` node over columnar types as an async
    /// UDF (DataFusion's `AsyncScalarUDF`: the rows of a batch awaited concurrently, as
    /// many at once as the pipeline's `async` map executor allows), for SQL and DataFrames on `ctx`
    /// (`SELECT clean_text(passage) FROM docs`). A node with several outputs returns a
    /// struct of them. Returns the names registered, in execution order.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    /// use datafusion::execution::FunctionRegistry;
    /// use datafusion::prelude::SessionContext;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let ctx = SessionContext::new();
    /// let names = ColumnarEngine::register_udfs(&Pipeline::new([double::node()]), &ctx)?;
    /// assert_eq!(names, ["double"]);
    /// assert!(ctx.udf("double").is_ok());
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only for an internal inconsistency.
    pub fn register_udfs(pipeline: &Pipeline, ctx: &SessionContext) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for node in pipeline.nodes() {
            if let Some(udf) = node_udf(pipeline, node)? {
                ctx.register_udf(udf);
                names.push(node.name().to_string());
            }
        }
        Ok(names)
    }

    /// `frame` with every output of `pipeline` added as a column: the whole pipeline as
    /// one DataFusion logical plan over the columns named like the pipeline's inputs.
    /// Lazy, like any DataFrame. Every node is a scalar UDF or an expression: a node with
    /// a vectorized kernel calls it once per batch; SQL expression nodes are native
    /// DataFusion expressions; any other node over columnar types (a closure, an `async
    /// fn`, a nested pipeline) runs through the columnar engine on each batch's rows, a
    /// nested pipeline mapped over list columns over the flattened child arrays
    /// ([`ColumnarEngine::apply_to_batch`] does the same without DataFusion). A node
    /// with several outputs adds each as its own column.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::{ColumnarEngine, Error, Node};
    /// use datafusion::prelude::SessionContext;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    /// struct Model;
    ///
    /// let ctx = SessionContext::new();
    /// let frame = ctx.read_batch(arrow::array::RecordBatch::try_from_iter([(
    ///     "x",
    ///     std::sync::Arc::new(arrow::array::Int64Array::from(vec![1, 2])) as _,
    /// )]).unwrap()).unwrap();
    /// let add = Node::builder("add").params(["doubled"]).output("plus_one").build(|d: i64| d + 1)?;
    /// let p = Pipeline::new([double::node(), add]);
    /// let out = ColumnarEngine::apply_to_dataframe(&p, frame.clone())?;
    /// assert_eq!(out.schema().field_names(), ["?table?.x", "doubled", "plus_one"]);
    ///
    /// let model = Node::builder("load").params(["path"]).output("model").build(|_: String| std::sync::Arc::new(Model))?;
    /// let err = ColumnarEngine::apply_to_dataframe(&Pipeline::new([model]), frame).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "The pipeline cannot run as one DataFusion plan: node 'load' returns 'model' as Arc<Model>, \
    ///      which is not an Arrow type"
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Unfit`] naming every node with a parameter or an output of a type that is
    /// not columnar, and every bound input that is not; DataFusion's planning errors (a
    /// missing column).
    pub fn apply_to_dataframe(pipeline: &Pipeline, frame: DataFrame) -> Result<DataFrame> {
        let udfs = plan_udfs(pipeline, "as one DataFusion plan")?;
        let mut frame = frame;
        for (name, value) in pipeline.bound_inputs().iter() {
            let ct = pipeline
                .input_type(name)
                .and_then(|t| ColumnType::find(&t))
                // Unreachable: `plan_udfs` refused bound inputs of other types.
                .ok_or_else(|| Error::Internal(format!("bound input '{name}' is not columnar")))?;
            // Unreachable: `bind` checked the value's type, which is columnar.
            let array =
                (ct.value_to_array)(value).ok_or_else(|| Error::Internal(format!("'{name}' is not convertible")))?;
            // Unreachable: a one-row array of a columnar type makes a scalar.
            let scalar = datafusion::common::ScalarValue::try_from_array(array.as_ref(), 0).map_err(df)?;
            frame = frame
                .with_column(name, datafusion::logical_expr::Expr::Literal(scalar, None))
                .map_err(|e| Error::Arrow {
                    context: format!("Cannot add bound input '{name}' to the DataFrame").into(),
                    source: Box::new(e),
                })?;
        }
        for (node, udf) in pipeline.nodes().iter().zip(udfs) {
            let expr = match (ExprNode::find(node), udf) {
                (Some(e), _) => e.expr().clone(),
                (None, Some(udf)) => udf.call(node.params().iter().map(|p| column(p.name())).collect()),
                // Unreachable: `plan_udfs` gives a UDF for every node but expressions.
                (None, None) => return Err(Error::Internal(format!("node '{}' has no UDF", node.name()))),
            };
            frame = with_node_columns(frame, node, expr).map_err(planning(node))?;
        }
        Ok(frame)
    }

    /// Runs `pipeline` over the rows of `batch`, whose columns named like the pipeline's
    /// inputs feed the nodes (other columns are kept and ignored), and returns the batch
    /// with the outputs a [`Pipeline::run`](crate::Run::run) returns appended, sorted by name. Nodes without
    /// kernels run row by row.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int64Array, RecordBatch};
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2])) as _)]).unwrap();
    /// let out = ColumnarEngine::new().apply_to_batch(&Pipeline::new([double::node()]), &batch)?;
    /// assert_eq!(out.num_columns(), 2);
    /// assert_eq!(out.column_by_name("doubled").unwrap().as_ref(), &Int64Array::from(vec![2, 4]));
    ///
    /// let err = ColumnarEngine::new().apply_to_batch(&Pipeline::new([double::node()]), &out.project(&[1]).unwrap());
    /// assert_eq!(err.unwrap_err().to_string(), "Missing required input(s): ['x']. Required inputs: ['x']");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::MissingInputs`] for input columns the batch lacks, [`Error::InputType`]
    /// for a column that cannot be read as its input's type, [`Error::Invalid`] for an
    /// input or output of a type that is not columnar, and node failures (the item is
    /// the row), among them a value that does not convert exactly to the type its node
    /// reads (a nanosecond timestamp that is not a whole microsecond: see
    /// [`cast_exact`]).
    pub fn apply_to_batch(&self, pipeline: &Pipeline, batch: &RecordBatch) -> Result<RecordBatch> {
        let (out, failures) = self.apply_selected(pipeline, batch, None)?;
        failed_first(out, failures)
    }

    /// [`ColumnarEngine::apply_to_batch`] returning the outputs in `select` when given.
    /// Under [`OnError::Collect`](crate::OnError::Collect) (the pipeline's or the
    /// current default's), the batch returned holds the rows that succeeded, and the
    /// failures name their rows in `batch`.
    #[doc(hidden)]
    pub fn apply_selected(
        &self,
        pipeline: &Pipeline,
        batch: &RecordBatch,
        select: Option<&[String]>,
    ) -> Result<(RecordBatch, Vec<ItemFailure>)> {
        let plan = RunPlan::for_columns(pipeline, select, self.config_for(pipeline)?)?;
        top_level(plan.config(), || {
            events_of_map(plan.config(), batch.num_rows(), || self.apply_planned(&plan, batch))
        })
    }

    /// [`ColumnarEngine::apply_selected`] of a plan.
    fn apply_planned(&self, plan: &RunPlan, batch: &RecordBatch) -> Result<(RecordBatch, Vec<ItemFailure>)> {
        let (mut run, good, failures) = if plan.config().on_error() == Some(OnError::Collect) {
            let run = self.batch_run(plan, std::slice::from_ref(batch), false, false)?;
            let (run, good, failures) = run.execute_collecting()?;
            (run, Some(good), failures)
        } else {
            (
                self.batch_run(plan, std::slice::from_ref(batch), false, true)?,
                None,
                Vec::new(),
            )
        };
        let batch = match &good {
            Some(good) if !failures.is_empty() => rows_of(batch, good)?,
            _ => batch.clone(),
        };
        let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for (name, column) in take_outputs(&mut run)? {
            fields.push(Field::new(name, column.data_type().clone(), true));
            arrays.push(column.concat()?);
        }
        // Unreachable: the fields were made from these arrays, each of the batch's rows.
        let out = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &rows(batch.num_rows()))
            .map_err(df_arrow)?;
        Ok((out, failures))
    }

    /// [`ColumnarEngine::apply_to_batch`] over a stream of batches cut as the engine cut
    /// its work: `batches` (all of one schema) are the rows in order, and so are the
    /// batches returned, each with the input columns and the outputs a run returns appended, sorted
    /// by name. Nothing is joined into one array, so this is the way in for a source
    /// that already yields batches (a Parquet reader, a DataFusion stream), and the
    /// cheapest way out: on large inputs `apply_to_batch` spends a copy of every output
    /// on returning one batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int64Array, RecordBatch};
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let batch = |xs: Vec<i64>| RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(xs)) as _)]).unwrap();
    /// let engine = ColumnarEngine::new().with_batch_size(2);
    /// let out = engine.apply_to_batches(&Pipeline::new([double::node()]), &[batch(vec![1, 2, 3]), batch(vec![4])])?;
    /// let rows: Vec<usize> = out.iter().map(|b| b.num_rows()).collect();
    /// assert_eq!(rows, [2, 2]);
    /// assert_eq!(out[1].column_by_name("doubled").unwrap().as_ref(), &Int64Array::from(vec![6, 8]));
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`ColumnarEngine::apply_to_batch`], and [`Error::Invalid`] when the batches'
    /// schemas differ.
    pub fn apply_to_batches(&self, pipeline: &Pipeline, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
        let Some(first) = batches.first() else {
            return Ok(Vec::new());
        };
        let plan = RunPlan::for_columns(pipeline, None, self.config_for(pipeline)?)?;
        let n = batches.iter().map(RecordBatch::num_rows).sum();
        let config = plan.config();
        let mut run = top_level(config, || {
            events_of_map(config, n, || self.batch_run(&plan, batches, false, true))
        })?;
        let outputs = take_outputs(&mut run)?;
        let mut fields: Vec<Field> = first.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns: Vec<Chunks> = (0..first.num_columns())
            .map(|k| {
                Chunks::from_arrays(
                    batches.iter().map(|b| b.column(k).clone()).collect(),
                    fields[k].data_type(),
                )
            })
            .collect();
        for (name, column) in outputs {
            fields.push(Field::new(name, column.data_type().clone(), true));
            columns.push(column);
        }
        let schema = Arc::new(Schema::new(fields));
        run.split()
            .partitions
            .iter()
            .flatten()
            .map(|&(start, len)| {
                let arrays = columns
                    .iter()
                    .map(|c| c.range(start, len))
                    .collect::<Result<Vec<_>>>()?;
                // Unreachable: the fields were made from these columns, each range `len` rows.
                RecordBatch::try_new_with_options(schema.clone(), arrays, &rows(len)).map_err(df_arrow)
            })
            .collect()
    }

    /// The plans [`ColumnarEngine::apply_to_batch`] runs over `batch`: per segment, the
    /// nodes, the DataFusion logical and physical plans, and the nodes run row by row
    /// (the batch is processed to find them).
    ///
    /// # Errors
    ///
    /// As [`ColumnarEngine::apply_to_batch`].
    pub fn explain_batch(&self, pipeline: &Pipeline, batch: &RecordBatch) -> Result<String> {
        let plan = RunPlan::for_columns(pipeline, None, self.config_for(pipeline)?)?;
        // What explaining stored is committed.
        let run = plan
            .config()
            .commit_cache(self.batch_run(&plan, std::slice::from_ref(batch), true, true))?;
        Ok(run.explain.unwrap_or_default())
    }

    /// The plan executed over the rows of `batches`, in order (explained when `explain`).
    fn batch_run<'p>(
        &'p self,
        plan: &'p RunPlan,
        batches: &[RecordBatch],
        explain: bool,
        execute: bool,
    ) -> Result<Run<'p>> {
        let schema = batches.first().map(|b| b.schema());
        if let Some((k, b)) = batches.iter().enumerate().find(|(_, b)| Some(b.schema()) != schema) {
            let columns = |b: &RecordBatch| {
                let schema = b.schema();
                let fields = schema
                    .fields()
                    .iter()
                    .map(|f| format!("{}: {}", f.name(), f.data_type()));
                fields.collect::<Vec<_>>().join(", ")
            };
            return Err(Error::Invalid(format!(
                "Batch {k} has columns ({}), but batch 0 has ({})",
                columns(b),
                columns(&batches[0])
            )));
        }
        let mut chunks: HashMap<String, (Vec<ArrayRef>, Conv)> = HashMap::new();
        let mut first = 0;
        for batch in batches {
            for (name, array, conv) in input_columns(plan.pipeline(), batch, first, true)? {
                chunks.entry(name).or_insert_with(|| (Vec::new(), conv)).0.push(array);
            }
            first += batch.num_rows();
        }
        let mut cols = HashMap::new();
        for (name, (arrays, conv)) in chunks {
            // Batches whose values did not all convert were unpacked: so are the others.
            let arrays = match arrays.iter().filter(|a| dictionary::is_packed(a.as_ref())).count() {
                n if n == 0 || n == arrays.len() => arrays,
                _ => arrays
                    .iter()
                    .map(|a| dictionary::unpack_column(&name, a))
                    .collect::<Result<_>>()?,
            };
            let column = Chunks::from_arrays(arrays, &conv.data_type());
            cols.insert(name, Col::Arrow(column, conv));
        }
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let mut run = Run::with_columns(self, plan, rows, true, cols);
        if explain {
            // Explaining reports nothing to callbacks.
            run = run.quiet();
            run.explain = Some(String::new());
        }
        match (execute, explain) {
            (true, false) => run.execute_items(true)?,
            (true, true) => run.execute()?,
            (false, _) => {}
        }
        Ok(run)
    }
}

/// The rows `good` of `batch`.
fn rows_of(batch: &RecordBatch, good: &[u32]) -> Result<RecordBatch> {
    let index = arrow::array::UInt32Array::from(good.to_vec());
    // Unreachable: the indices are rows of the batch.
    arrow::compute::take_record_batch(batch, &index).map_err(df_arrow)
}

/// The batch, or the error of its first failed row.
fn failed_first(batch: RecordBatch, failures: Vec<ItemFailure>) -> Result<RecordBatch> {
    match failures.into_iter().next() {
        Some(f) => Err(f.into_error()),
        None => Ok(batch),
    }
}

/// `node` as a UDF for a user's context: its kernel, or, for an `async fn` over
/// columnar types, an async UDF whose rows are awaited at most N at a time, N being the
/// width of the pipeline's (or the default) `async` map executor, else
/// [`Executor::ASYNC_WIDTH`]; `None` for any other node.
fn node_udf(pipeline: &Pipeline, node: &Node) -> Result<Option<ScalarUDF>> {
    if Kernel::find(node).is_some() {
        return Ok(Some(ScalarUDF::new_from_impl(NodeUdf::try_new(node, 0, false, None)?)));
    }
    let width = match pipeline.config().or(&RunConfig::current()).map_executor() {
        Some(Executor::Async(n)) => n,
        _ => Executor::ASYNC_WIDTH,
    };
    Ok(AsyncNodeUdf::new(node, width).map(|udf| AsyncScalarUDF::new(Arc::new(udf)).into_scalar_udf()))
}

/// The UDF of every node of `pipeline` in one DataFusion plan (`None` for SQL
/// expression nodes, which are expressions), or [`Error::Unfit`] for `target` naming
/// every node and bound input whose type is not columnar.
#[doc(hidden)]
pub fn plan_udfs(pipeline: &Pipeline, target: &str) -> Result<Vec<Option<ScalarUDF>>> {
    let config = pipeline.config().or(&RunConfig::current());
    let mut reasons = Vec::new();
    for (name, _) in pipeline.bound_inputs().iter() {
        if let Some(ty) = pipeline.input_type(name).filter(|t| ColumnType::find(t).is_none()) {
            reasons.push(format!("bound input '{name}' is a {ty}, which is not an Arrow type"));
        }
    }
    let mut udfs = Vec::new();
    for node in pipeline.nodes() {
        match plan_udf(node, &config)? {
            Some(udf) => udfs.push(udf),
            None => reasons.push(unfit_node(node)),
        }
    }
    if !reasons.is_empty() {
        return Err(Error::Unfit {
            target: target.into(),
            reasons,
        });
    }
    Ok(udfs)
}

/// The UDF of `node` in one DataFusion plan: `Some(None)` for a SQL expression node,
/// the kernel for a node with one, else the node run by the columnar engine on each
/// batch; `None` when a parameter or an output is not columnar.
#[doc(hidden)]
pub fn plan_udf(node: &Node, config: &RunConfig) -> Result<Option<Option<ScalarUDF>>> {
    if ExprNode::find(node).is_some() {
        return Ok(Some(None));
    }
    if Kernel::find(node).is_some() {
        return Ok(Some(Some(ScalarUDF::new_from_impl(NodeUdf::try_new(
            node, 0, false, None,
        )?))));
    }
    Ok(PipelineUdf::new(node, config).map(|udf| Some(ScalarUDF::new_from_impl(udf))))
}

/// The node a UDF of [`plan_udf`] runs (`None` for any other UDF).
#[doc(hidden)]
pub fn node_of_udf(udf: &ScalarUDF) -> Option<&Node> {
    let inner = udf.inner();
    inner
        .downcast_ref::<NodeUdf>()
        .map(NodeUdf::node)
        .or_else(|| inner.downcast_ref::<PipelineUdf>().map(PipelineUdf::node))
}

/// Why `node` cannot be part of one DataFusion plan: the ports whose types are not columnar.
fn unfit_node(node: &Node) -> String {
    let ports = |ports: &[crate::node::Port], verb: &str| -> Vec<String> {
        ports
            .iter()
            .filter(|p| ColumnType::find(&p.type_info()).is_none())
            .map(|p| format!("{verb} '{}' as {}", p.name(), p.type_info()))
            .collect()
    };
    let mut parts = ports(node.params(), "reads");
    parts.extend(ports(node.outputs(), "returns"));
    format!(
        "node '{}' {}, which is not an Arrow type",
        node.name(),
        parts.join(" and ")
    )
}

/// Options for a batch of `n` rows (which may have no columns).
fn rows(n: usize) -> RecordBatchOptions {
    RecordBatchOptions::new().with_row_count(Some(n))
}

/// The error of adding `node` to a user's `DataFrame` (a column it reads is missing).
fn planning(node: &Node) -> impl FnOnce(datafusion::error::DataFusionError) -> Error + '_ {
    move |e| Error::Arrow {
        context: format!("Cannot add node '{}' to the DataFrame", node.name()).into(),
        source: Box::new(e),
    }
}

/// The outputs of a finished run over batches, in the order of the plan's outputs.
fn take_outputs(run: &mut Run<'_>) -> Result<Vec<(String, Chunks)>> {
    let pipeline = run.plan.pipeline();
    let mut outputs = Vec::new();
    for name in run.plan.outputs() {
        let column = match run.cols.remove(name.as_str()) {
            Some(Col::Arrow(c, _)) => c,
            Some(Col::List { list, index: None, .. }) => {
                let ty = pipeline.output_type(name).expect("an output");
                let ct = ColumnType::find(&ty)
                    .ok_or_else(|| Error::Invalid(format!("Output '{name}' has type {ty}, which is not columnar")))?;
                // Unreachable: a `Vec` of the output's columnar type converts.
                Chunks::one(
                    (ct.list_to_array)(&list).ok_or_else(|| Error::Internal(format!("'{name}' is not convertible")))?,
                )
            }
            // Unreachable: the run computed every output of its plan, as a column of rows.
            _ => return Err(Error::Internal(format!("output '{name}' was not computed"))),
        };
        let column = column.try_map(|a| as_written(pipeline, name, a.clone()))?;
        outputs.push((name.clone(), column));
    }
    Ok(outputs)
}

/// The columns [`ColumnarEngine::apply_to_batches`] appends for `pipeline`: every
/// output, sorted by name, with its Arrow type (for a schema known before any batch runs).
#[doc(hidden)]
pub fn output_fields(pipeline: &Pipeline) -> Result<Vec<Field>> {
    let fields = pipeline.outputs().into_iter().map(|name| {
        let ty = pipeline.output_type(name).expect("an output");
        let data_type = match ColumnType::find(&ty) {
            Some(ct) => written_type(pipeline, name).unwrap_or_else(ct.data_type),
            // The lists of a nested map: lists of the inner output's type.
            None => mapped_output_type(pipeline, name)
                .map(|ct| arrow::datatypes::DataType::List(Arc::new(Field::new_list_field((ct.data_type)(), true))))
                .ok_or_else(|| Error::Invalid(format!("Output '{name}' has type {ty}, which is not columnar")))?,
        };
        Ok(Field::new(name, data_type, true))
    });
    fields.collect()
}

/// For output `name` of a nested pipeline mapped over lists, the columnar type of the
/// inner output behind it.
fn mapped_output_type(pipeline: &Pipeline, name: &str) -> Option<&'static ColumnType> {
    pipeline.nodes().iter().find_map(|n| {
        let nested = crate::nested::NestedNode::of(n)?;
        let k = n.outputs().iter().position(|p| p.name() == name)?;
        if nested.map_over().is_empty() {
            return None;
        }
        let inner = nested.pipeline().output_type(&nested.inner_outputs()[k])?;
        ColumnType::find(&inner)
    })
}

/// The first node reading input `name` (for messages).
#[doc(hidden)]
pub fn reader_of<'p>(pipeline: &'p Pipeline, name: &str) -> &'p str {
    pipeline
        .nodes()
        .iter()
        .find(|n| n.params().iter().any(|p| p.name() == name))
        .map_or("", |n| n.name())
}

/// The columns of `batch` that feed the pipeline's unbound inputs, cast to the Arrow type
/// of each input (exactly: see [`cast_exact`]), with their conversions. `first` is the
/// row (of all the rows run) that `batch` starts at: a value that does not convert
/// exactly fails the node reading it on that item. With `packed`, a dictionary-encoded
/// column stays so, its values cast (see [`dictionary::pack`]).
fn input_columns(
    pipeline: &Pipeline,
    batch: &RecordBatch,
    first: usize,
    packed: bool,
) -> Result<Vec<(String, ArrayRef, Conv)>> {
    let required = pipeline.unfulfilled_args();
    let missing: Vec<String> = required
        .iter()
        .filter(|n| batch.column_by_name(n).is_none())
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingInputs {
            missing,
            required: required.iter().map(|n| n.to_string()).collect(),
        });
    }
    let mut columns = Vec::new();
    for name in required {
        let ty = pipeline.input_type(name).expect("an input");
        let conv = Conv::find(pipeline, name)
            .ok_or_else(|| Error::Invalid(format!("Input '{name}' has type {ty}, which is not columnar")))?;
        let array = batch.column_by_name(name).expect("checked above");
        if let (true, Conv::Leaf(ct)) = (packed, &conv)
            && let Some(array) = dictionary::pack(array, &(ct.data_type)())
        {
            columns.push((name.to_string(), array, conv));
            continue;
        }
        let array = cast_exact(array, &conv.data_type()).map_err(|e| match e.row {
            Some(row) => Error::NodeFailed {
                node: reader_of(pipeline, name).into(),
                item: Some(first + row),
                source: format!("column '{name}' {}", e.message).into(),
            },
            None => Error::InputType {
                input: name.into(),
                node: reader_of(pipeline, name).into(),
                expected: ty.name().into(),
                found: array.data_type().to_string().into(),
            },
        })?;
        columns.push((name.to_string(), array, conv));
    }
    Ok(columns)
}
