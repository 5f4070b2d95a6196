//! A node with a [`Kernel`] as a DataFusion scalar UDF.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Int64Type};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::kernel::{Kernel, RowError, RowErrorKind};
use crate::error::{Error, Result};
use crate::node::{self, Node};

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
        let kernel =
            Kernel::find(node).ok_or_else(|| Error::Internal(format!("node '{}' has no kernel", node.name())))?;
        let types = kernel.output_types();
        let return_type = if types.len() == 1 {
            types[0].clone()
        } else {
            DataType::Struct(struct_fields(node, types))
        };
        let volatility = match node.volatility() {
            node::Volatility::Volatile => Volatility::Volatile,
            _ => Volatility::Immutable,
        };
        Ok(NodeUdf {
            node: node.clone(),
            order,
            is_map,
            signature: Signature::variadic_any(volatility),
            return_type,
            errors,
        })
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
            Err(RowError { row, kind }) => {
                // The item of the failing row; a failure of the whole call names none.
                let item = match (first, row) {
                    (1, Some(row)) => {
                        let items = args.args[0].clone().into_array(1)?;
                        let items = items.as_primitive::<Int64Type>();
                        Some(items.value(if items.len() == 1 { 0 } else { row }) as usize)
                    }
                    (_, row) => row,
                };
                let name = self.node.name().into();
                let shown = item.filter(|_| self.is_map);
                let error = match kind {
                    RowErrorKind::Failed(source) => Error::NodeFailed {
                        node: name,
                        item: shown,
                        source,
                    },
                    RowErrorKind::Panicked(message) => Error::NodePanicked {
                        node: name,
                        item: shown,
                        message: message.into(),
                    },
                    RowErrorKind::WrongType { param, expected, found } => Error::Internal(format!(
                        "node '{}': argument {param} is {found}, expected {expected}",
                        self.node.name()
                    )),
                };
                Err(self.fail(item.unwrap_or(0), error))
            }
        }
    }
}
