//! The columns of a run ([`Col`]: a constant, Arrow chunks or a `Vec` value read by
//! index) and how Arrow columns turn back into Rust values ([`Conv`]).

use std::sync::Arc;

use arrow::array::{Array, AsArray, new_null_array};
use arrow::datatypes::{DataType, Field};

use super::chunks::Chunks;
use super::dictionary;
use super::types::ColumnType;
use crate::error::{Error, Result};
use crate::nested::{NodeKind, kind};
use crate::value::{TypeInfo, Value};

/// A value for every row.
#[derive(Clone)]
pub(super) enum Col {
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
pub(super) enum Conv {
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
    pub(super) fn find(pipeline: &crate::Pipeline, name: &str) -> Option<Conv> {
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
            let NodeKind::Nested(nested) = kind(n) else {
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
    pub(super) fn data_type(&self) -> DataType {
        match self {
            Conv::Leaf(ct) => (ct.data_type)(),
            Conv::List { child, .. } => DataType::List(Arc::new(Field::new_list_field(child.data_type(), true))),
        }
    }

    /// Row `row` as a value (`None` for a null row of a non-nullable type); of a
    /// dictionary-encoded column, its value's; of a column in a view layout, the row
    /// converted to its plain layout.
    pub(super) fn value_at(&self, array: &dyn Array, row: usize) -> Option<Value> {
        if super::types::plain_type(array.data_type()).is_some() {
            let plain = dictionary::unpack(&array.slice(row, 1)).ok()?;
            return self.value_at(plain.as_ref(), 0);
        }
        if let Some(dict) = array.as_any_dictionary_opt() {
            let values = dict.values();
            return match dict.keys().is_valid(row) {
                true => self.value_at(values.as_ref(), dictionary::key_at(dict.keys(), row)?),
                false => self.value_at(new_null_array(values.data_type(), 1).as_ref(), 0),
            };
        }
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
    pub(super) fn to_values(&self, column: &Chunks, row_type: TypeInfo) -> std::result::Result<Value, String> {
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

/// The column of output `name` of a map, whose rows have type `row_type`, as a `Vec`.
pub(super) fn list_of(name: &str, col: Option<Col>, row_type: TypeInfo) -> Result<Value> {
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
