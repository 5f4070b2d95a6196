//! Cached columns as Arrow arrays: how the columnar engine keeps a block's columns in a
//! cache's store ([`Column::Native`]), and reads any column back as an array.

use std::any::Any;
use std::sync::Arc;

use arrow::array::ArrayRef;

use super::types::ColumnType;
use crate::cache::{Column, NativeColumn};
use crate::node::Port;
use crate::value::Value;

/// A cached column held as an Arrow array.
struct ArrowColumn(ArrayRef);

impl NativeColumn for ArrowColumn {
    fn value(&self, row: usize, port: &Port) -> Option<Value> {
        ColumnType::find(&port.type_info()).and_then(|ct| (ct.array_value)(self.0.as_ref(), row))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `array` as a cached column.
#[doc(hidden)]
pub fn arrow_column(array: ArrayRef) -> Column {
    Column::Native(Arc::new(ArrowColumn(array)))
}

/// The array of a column held as Arrow.
#[doc(hidden)]
pub fn as_arrow(c: &Column) -> Option<&ArrayRef> {
    match c {
        Column::Native(n) => n.as_any().downcast_ref::<ArrowColumn>().map(|a| &a.0),
        Column::Values(_) => None,
    }
}

/// A column as an Arrow array: `None` for values of a type that does not map to Arrow.
#[doc(hidden)]
pub fn to_array(c: &Column) -> Option<ArrayRef> {
    match c {
        Column::Values(values) => {
            let ct = ColumnType::find(&values.first()?.type_info())?;
            (ct.values_to_array)(values)
        }
        Column::Native(_) => as_arrow(c).cloned(),
    }
}

/// A column held as Arrow when its values map to Arrow: a cache hit then gives fresh
/// values that a map can collect, and the other engine reads them without converting.
#[doc(hidden)]
pub fn as_stored(c: Column) -> Column {
    match c {
        Column::Values(_) => to_array(&c).map_or(c, arrow_column),
        Column::Native(_) => c,
    }
}
