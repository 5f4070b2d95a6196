//! A node with a [`Kernel`] as a DataFusion scalar UDF.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, RecordBatchOptions, RunArray, StructArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Int32Type, Int64Type, Schema};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use datafusion::logical_expr::async_udf::AsyncScalarUDFImpl;

use super::ColumnType;
use super::kernel::Kernel;
use crate::error::{Error, Result};
use crate::exec::{OnError, RunConfig, for_items_async};
use crate::node::{self, Node};
use crate::node_engine::call_node_async;
use crate::value::Value;

/// The Arrow type of the hidden item column: run-end encoded, one run per batch whose
/// value is the item of the batch's first row, so a batch of any size costs two numbers.
pub(super) fn item_type() -> DataType {
    DataType::RunEndEncoded(
        Arc::new(Field::new("run_ends", DataType::Int32, false)),
        Arc::new(Field::new("values", DataType::Int64, true)),
    )
}

/// The item column of a batch of `rows` rows whose first row is item `first`.
pub(super) fn item_column(first: usize, rows: usize) -> ArrayRef {
    if rows == 0 {
        return arrow::array::new_empty_array(&item_type());
    }
    let run_ends = Int32Array::from(vec![i32::try_from(rows).expect("a batch under 2^31 rows")]);
    let values = Int64Array::from(vec![first as i64]);
    Arc::new(RunArray::<Int32Type>::try_new(&run_ends, &values).expect("one run"))
}

/// The item of row `row` of an item column: the run's first item plus the row's place in
/// the run (the column may be sliced, or batches joined into several runs).
fn item_at(items: &dyn Array, row: usize) -> Option<usize> {
    let runs = items.as_run_opt::<Int32Type>()?;
    let ends = runs.run_ends();
    let physical = ends.get_physical_index(row);
    // Run ends count rows of the unsliced column.
    let run_start = match physical {
        0 => 0,
        p => ends.values()[p - 1] as usize,
    };
    let first = runs.values().as_primitive_opt::<Int64Type>()?.value(physical);
    Some(first as usize + ends.offset() + row - run_start)
}

/// The item of row `row` of a call whose first argument is the item column.
fn item_of(items: &ColumnarValue, rows: usize, row: usize) -> DfResult<usize> {
    let items = items.clone().into_array(rows)?;
    // Unreachable: the engine passes its own item column first.
    item_at(items.as_ref(), row)
        .ok_or_else(|| DataFusionError::Internal(format!("item column of type {}", items.data_type())))
}

/// Where the UDFs of one plan leave the first failure: (item, node position, error).
pub(super) type ErrorSlot = Arc<Mutex<Option<(usize, usize, Error)>>>;

/// A node as a UDF. Inside the engine its first argument is the hidden item-index column
/// (so a failure names the item) and failures go to the plan's error slot; registered on
/// a user's context (no slot) it takes just the node's parameters and a failure is a
/// DataFusion error carrying the hypernodes error. Several outputs come back as one
/// struct column.
#[derive(Debug)]
pub(super) struct NodeUdf {
    node: Node,
    /// The node's position in its plan, to report the earliest failure.
    order: usize,
    /// Whether rows are items of a map (else a failure names no item).
    is_map: bool,
    signature: Signature,
    return_type: DataType,
    errors: Option<ErrorSlot>,
}

impl NodeUdf {
    /// `errors`: the plan's error slot, for a UDF inside the engine (which then takes the
    /// item index first); `None` for a UDF registered for users.
    pub(super) fn try_new(node: &Node, order: usize, is_map: bool, errors: Option<ErrorSlot>) -> Result<NodeUdf> {
        // Unreachable: callers make UDFs only of nodes with kernels.
        let kernel =
            Kernel::find(node).ok_or_else(|| Error::Internal(format!("node '{}' has no kernel", node.name())))?;
        let types = kernel.output_types();
        let return_type = if types.len() == 1 {
            types[0].clone()
        } else {
            DataType::Struct(struct_fields(node, types))
        };
        let volatility = volatility(node);
        // Inside the engine the arguments are the engine's own columns of the right types;
        // on a user's context DataFusion casts arguments to the parameters' types, or
        // refuses the call when planning.
        let signature = if errors.is_some() {
            Signature::variadic_any(volatility)
        } else {
            let types = node
                .params()
                .iter()
                .map(|p| super::ColumnType::find(&p.type_info()).map(|ct| (ct.data_type)()))
                .collect::<Option<Vec<_>>>();
            // Unreachable: a node with a kernel has columnar parameters.
            let types = types.ok_or_else(|| {
                Error::Internal(format!(
                    "node '{}' has a kernel but a parameter that is not columnar",
                    node.name()
                ))
            })?;
            params_signature(types, volatility)
        };
        Ok(NodeUdf {
            node: node.clone(),
            order,
            is_map,
            signature,
            return_type,
            errors,
        })
    }

    /// The node this UDF runs.
    pub(super) fn node(&self) -> &Node {
        &self.node
    }

    /// Keeps the earliest failure (by item, then node) in the slot, or hands the error
    /// to DataFusion when there is no slot.
    fn fail(&self, item: usize, error: Error) -> DataFusionError {
        let Some(slot) = &self.errors else {
            return DataFusionError::External(Box::new(error));
        };
        let message = error.to_string();
        let mut slot = slot.lock().expect("error slot");
        if slot.as_ref().is_none_or(|(i, o, _)| (item, self.order) < (*i, *o)) {
            *slot = Some((item, self.order, error));
        }
        DataFusionError::Execution(message)
    }
}

/// A node over columnar types as a UDF on a user's context sees it: its parameters'
/// and outputs' column types, the signature (exactly the parameters' Arrow types) and the
/// return type (a struct of the outputs when there are several).
struct Shape {
    params: Vec<&'static ColumnType>,
    outputs: Vec<&'static ColumnType>,
    signature: Signature,
    return_type: DataType,
}

impl Shape {
    /// `None` when a parameter or an output is not of a columnar type.
    fn of(node: &Node) -> Option<Shape> {
        let find = |ports: &[crate::node::Port]| {
            ports
                .iter()
                .map(|p| ColumnType::find(&p.type_info()))
                .collect::<Option<Vec<_>>>()
        };
        let params = find(node.params())?;
        let outputs = find(node.outputs())?;
        let types: Vec<DataType> = outputs.iter().map(|ct| (ct.data_type)()).collect();
        let return_type = if types.len() == 1 {
            types[0].clone()
        } else {
            DataType::Struct(struct_fields(node, &types))
        };
        let signature = params_signature(params.iter().map(|ct| (ct.data_type)()).collect(), volatility(node));
        Some(Shape {
            params,
            outputs,
            signature,
            return_type,
        })
    }
}

/// DataFusion's volatility of a node: volatile nodes are never folded or deduplicated.
/// The signature of a UDF whose parameters have Arrow types `types`: exactly those,
/// except that a `Decimal128` parameter (a `rust_decimal::Decimal`) takes a `Decimal128`
/// of any precision and scale as it is, as the engine reads it (see [`coerce`]).
fn params_signature(types: Vec<DataType>, volatility: Volatility) -> Signature {
    match types.iter().any(|t| matches!(t, DataType::Decimal128(..))) {
        true => Signature::user_defined(volatility),
        false => Signature::exact(types, volatility),
    }
}

/// The types DataFusion casts the arguments of `node`'s UDF to, for a signature of
/// [`params_signature`]: a decimal as it is, anything else as its parameter's Arrow type
/// where DataFusion coerces it so (as for an exact signature).
fn coerce(node: &Node, args: &[DataType]) -> DfResult<Vec<DataType>> {
    // What DataFusion asks of an exact signature's arguments (deprecated as "unused
    // internal": the same test, reached here through a user-defined signature).
    #[allow(deprecated)]
    use datafusion::logical_expr::type_coercion::functions::can_coerce_from;
    let params = node.params();
    let refuse = |found: String| {
        let wanted: Vec<String> = params.iter().map(|p| p.type_info().to_string()).collect();
        DataFusionError::Plan(format!(
            "node '{}' reads ({}), not ({found})",
            node.name(),
            wanted.join(", ")
        ))
    };
    let shown = || args.iter().map(DataType::to_string).collect::<Vec<_>>().join(", ");
    if params.len() != args.len() {
        return Err(refuse(shown()));
    }
    params
        .iter()
        .zip(args)
        .map(|(p, found)| {
            let wanted = ColumnType::find(&p.type_info()).map(|ct| (ct.data_type)());
            match wanted {
                Some(DataType::Decimal128(..)) if matches!(found, DataType::Decimal128(..)) => Ok(found.clone()),
                #[allow(deprecated)]
                Some(w) if w == *found || can_coerce_from(&w, found) => Ok(w),
                _ => Err(refuse(shown())),
            }
        })
        .collect()
}

fn volatility(node: &Node) -> Volatility {
    match node.volatility() {
        node::Volatility::Volatile => Volatility::Volatile,
        _ => Volatility::Immutable,
    }
}

fn struct_fields(node: &Node, types: &[DataType]) -> Fields {
    node.outputs()
        .iter()
        .zip(types)
        .map(|(p, t)| Field::new(p.name(), t.clone(), true))
        .collect()
}

impl PartialEq for NodeUdf {
    fn eq(&self, other: &Self) -> bool {
        self.node.name() == other.node.name()
            && self.node.code_hash() == other.node.code_hash()
            && self.order == other.order
    }
}

impl Eq for NodeUdf {}

impl Hash for NodeUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.name().hash(state);
        self.order.hash(state);
    }
}

impl ScalarUDFImpl for NodeUdf {
    fn name(&self) -> &str {
        self.node.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        coerce(&self.node, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let kernel = Kernel::find(&self.node).expect("checked when built");
        let first = usize::from(self.errors.is_some());
        match kernel.invoke(&args.args[first..], rows) {
            Ok(mut outs) if outs.len() == 1 => Ok(ColumnarValue::Array(outs.pop().expect("one output"))),
            Ok(outs) => {
                let fields = struct_fields(&self.node, kernel.output_types());
                Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
                    fields, outs, None,
                )?)))
            }
            Err(e) => {
                // The item of the failing row; a failure of the whole call names none.
                let item = match (first, e.row) {
                    (1, Some(row)) => Some(item_of(&args.args[0], rows, row)?),
                    (_, row) => row,
                };
                let error = e.into_error(&self.node, item.filter(|_| self.is_map));
                Err(self.fail(item.unwrap_or(0), error))
            }
        }
    }
}

/// An `async fn` node over columnar types as a DataFusion async UDF
/// ([`AsyncScalarUDFImpl`]), for SQL and DataFrames on a user's context: the rows of a
/// batch are awaited concurrently, at most `width` at a time (the async executor's
/// bound), with the node's retries and timeout; the first failing row fails the call.
#[derive(Debug)]
pub(super) struct AsyncNodeUdf {
    node: Node,
    params: Vec<&'static ColumnType>,
    outputs: Vec<&'static ColumnType>,
    width: usize,
    signature: Signature,
    return_type: DataType,
}

impl AsyncNodeUdf {
    /// The UDF of `node`, or `None` when it is not an `async fn` over columnar types.
    pub(super) fn new(node: &Node, width: usize) -> Option<AsyncNodeUdf> {
        let f = node.as_func()?;
        if !f.is_async() {
            return None;
        }
        let shape = Shape::of(node)?;
        Some(AsyncNodeUdf {
            node: node.clone(),
            params: shape.params,
            outputs: shape.outputs,
            width: width.max(1),
            signature: shape.signature,
            return_type: shape.return_type,
        })
    }

    /// The node's arguments at `row`, or its failure on a null it cannot read.
    fn args_at(&self, arrays: &[ArrayRef], row: usize) -> Result<Vec<Value>> {
        self.node
            .params()
            .iter()
            .zip(&self.params)
            .zip(arrays)
            .map(|((p, ct), array)| {
                (ct.array_value)(array.as_ref(), row).ok_or_else(|| Error::NodeFailed {
                    node: self.node.name().into(),
                    item: Some(row),
                    source: format!(
                        "'{}' is null, and the node reads it as {}, which has no null",
                        p.name(),
                        p.type_info()
                    )
                    .into(),
                })
            })
            .collect()
    }
}

impl PartialEq for AsyncNodeUdf {
    fn eq(&self, other: &Self) -> bool {
        self.node.name() == other.node.name() && self.node.code_hash() == other.node.code_hash()
    }
}

impl Eq for AsyncNodeUdf {}

impl Hash for AsyncNodeUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.name().hash(state);
    }
}

impl ScalarUDFImpl for AsyncNodeUdf {
    fn name(&self) -> &str {
        self.node.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        coerce(&self.node, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        // DataFusion plans an async UDF into its async executor, which calls
        // `invoke_async_with_args`; this is only reached if that contract changes.
        Err(DataFusionError::NotImplemented(format!(
            "node '{}' is an async fn: DataFusion calls it through invoke_async_with_args",
            self.node.name()
        )))
    }
}

#[async_trait::async_trait]
impl AsyncScalarUDFImpl for AsyncNodeUdf {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .into_iter()
            .map(|a| a.into_array(rows))
            .collect::<DfResult<Vec<_>>>()?;
        let external = |e: Error| DataFusionError::External(Box::new(e));
        let config = RunConfig::current()
            .resolve(&RunConfig::new().with_shared_engine(crate::default_engine().clone()))
            .map_err(external)?;
        let keep: Arc<[bool]> = vec![true; self.outputs.len()].into();
        let results = for_items_async(self.width, rows, OnError::Fail, |row| {
            let args = self.args_at(&arrays, row);
            let (config, node, keep) = (config.clone(), self.node.clone(), keep.clone());
            async move { call_node_async(config, node, keep, args?, Some(row)).await }
        })
        .await;
        let mut builders = self
            .node
            .outputs()
            .iter()
            .map(|p| p.type_info().column_builder(rows).expect("a columnar type collects"))
            .collect::<Vec<_>>();
        for r in results {
            // The first failing row ends the results (`OnError::Fail`).
            let out = r.expect("rows before a failure ran").map_err(external)?;
            let mut k = 0;
            out.for_each(|_, v| {
                // A value the node returned is its own, so it is collected.
                let _ = builders[k].push(v);
                k += 1;
            });
        }
        let mut columns = Vec::with_capacity(builders.len());
        for (b, ct) in builders.into_iter().zip(&self.outputs) {
            let list = b.finish();
            // Unreachable: a `Vec` of a columnar type converts.
            columns.push((ct.list_to_array)(&list).ok_or_else(|| {
                DataFusionError::Internal(format!("an output of '{}' did not convert", self.node.name()))
            })?);
        }
        if columns.len() == 1 {
            return Ok(ColumnarValue::Array(columns.pop().expect("one output")));
        }
        let types: Vec<DataType> = self.outputs.iter().map(|ct| (ct.data_type)()).collect();
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
            struct_fields(&self.node, &types),
            columns,
            None,
        )?)))
    }
}

/// A node without a kernel over columnar types (a closure, an `async fn`, a nested
/// pipeline) as a scalar UDF: each call runs the node over the call's rows with the
/// columnar engine, as a pipeline of that one node. A nested pipeline mapped over list
/// columns runs its inner nodes over the flattened child arrays and rebuilds the lists
/// from the same offsets; other nodes run row by row (`async fn` rows awaited
/// concurrently by the map executor of `config`). A failure is a DataFusion error
/// carrying the hypernodes error, naming no item (a row of one call is not an item of
/// the pipeline).
#[doc(hidden)]
pub struct PipelineUdf {
    node: Node,
    /// The node alone, configured as the caller's pipeline, without callbacks.
    pipeline: crate::Pipeline,
    outputs: Vec<String>,
    signature: Signature,
    return_type: DataType,
}

impl PipelineUdf {
    /// The UDF of `node` run with `config`, or `None` when a parameter or an output is
    /// not of a columnar type.
    #[doc(hidden)]
    pub fn new(node: &Node, config: &RunConfig) -> Option<PipelineUdf> {
        let shape = Shape::of(node)?;
        let config = config.clone().without_callbacks().with_on_error(OnError::Fail);
        Some(PipelineUdf {
            node: node.clone(),
            pipeline: crate::Pipeline::new([node.clone()]).with_config(config),
            outputs: node.outputs().iter().map(|p| p.name().to_string()).collect(),
            signature: shape.signature,
            return_type: shape.return_type,
        })
    }

    /// The node this UDF runs.
    #[doc(hidden)]
    pub fn node(&self) -> &Node {
        &self.node
    }
}

impl std::fmt::Debug for PipelineUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineUdf").field("node", &self.node.name()).finish()
    }
}

impl PartialEq for PipelineUdf {
    fn eq(&self, other: &Self) -> bool {
        self.node.name() == other.node.name() && self.node.code_hash() == other.node.code_hash()
    }
}

impl Eq for PipelineUdf {}

impl Hash for PipelineUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.name().hash(state);
    }
}

impl ScalarUDFImpl for PipelineUdf {
    fn name(&self) -> &str {
        self.node.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        coerce(&self.node, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let mut fields = Vec::with_capacity(args.args.len());
        let mut arrays = Vec::with_capacity(args.args.len());
        for (p, a) in self.node.params().iter().zip(args.args) {
            let array = a.into_array(rows)?;
            fields.push(Field::new(p.name(), array.data_type().clone(), true));
            arrays.push(array);
        }
        let batch = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let external = |e: Error| DataFusionError::External(Box::new(e.map_item(|_| None)));
        let engine = super::ColumnarEngine::new().with_partitions(1);
        let (out, _) = engine
            .apply_selected(&self.pipeline, &batch, Some(&self.outputs))
            .map_err(external)?;
        let mut columns = Vec::with_capacity(self.outputs.len());
        for name in &self.outputs {
            // Unreachable: the run returns the outputs selected.
            let column = out.column_by_name(name).ok_or_else(|| {
                DataFusionError::Internal(format!("node '{}' returned no '{name}'", self.node.name()))
            })?;
            columns.push(column.clone());
        }
        match &self.return_type {
            DataType::Struct(fields) if self.outputs.len() > 1 => {
                let columns = columns
                    .into_iter()
                    .zip(fields.iter())
                    .map(|(c, f)| cast(&c, f.data_type()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
                    fields.clone(),
                    columns,
                    None,
                )?)))
            }
            ty => Ok(ColumnarValue::Array(cast(&columns[0], ty)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_columns_give_the_item_of_every_row_also_sliced_and_joined() {
        let items = item_column(100, 5);
        assert_eq!(items.len(), 5);
        assert_eq!(items.data_type(), &item_type());
        assert_eq!(item_at(items.as_ref(), 0), Some(100));
        assert_eq!(item_at(items.as_ref(), 4), Some(104));
        assert_eq!(item_at(items.slice(2, 3).as_ref(), 1), Some(103));
        let joined = arrow::compute::concat(&[item_column(0, 3).as_ref(), item_column(10, 2).as_ref()]).unwrap();
        let rows: Vec<Option<usize>> = (0..5).map(|r| item_at(joined.as_ref(), r)).collect();
        assert_eq!(rows, [Some(0), Some(1), Some(2), Some(10), Some(11)]);
        assert_eq!(item_at(joined.slice(1, 4).as_ref(), 2), Some(10));
        assert_eq!(item_column(7, 0).len(), 0);
    }
}
