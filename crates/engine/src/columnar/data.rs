//! What the callbacks of a columnar run see of a batch: its Arrow arrays as a
//! [`NodeData`] (read by row with the engine's own conversions, [`Conv`]), and
//! [`NodeDataArrow`], which hands the arrays out whole.

use std::any::Any;

use arrow::array::{ArrayRef, UInt32Array};

use super::col::Conv;
use super::types::ColumnType;
use crate::events::{Batch, NodeData};
use crate::node::Port;
use crate::value::Value;

/// The arrays of one node's arguments or outputs over a batch, rows `offset..offset +
/// len` of each (a constant argument is a one-row array: every row reads its row 0).
pub(super) struct Arrays<'a> {
    pub(super) arrays: &'a [ArrayRef],
    /// Per array, whether it is a constant (empty: none is).
    pub(super) constant: &'a [bool],
    pub(super) offset: usize,
    pub(super) len: usize,
}

impl Arrays<'_> {
    fn row(&self, k: usize, row: usize) -> usize {
        match self.constant.get(k) {
            Some(true) => 0,
            _ => self.offset + row,
        }
    }
}

impl Batch for Arrays<'_> {
    fn rows(&self) -> usize {
        self.len
    }

    fn holds(&self, k: usize, _port: &Port) -> bool {
        k < self.arrays.len()
    }

    fn value(&self, k: usize, port: &Port, row: usize) -> Option<Value> {
        let ct = ColumnType::find(&port.type_info())?;
        Conv::Leaf(ct).value_at(self.arrays.get(k)?.as_ref(), self.row(k, row))
    }

    fn column(&self, k: usize, _port: &Port) -> Option<Box<dyn Any>> {
        let array = self.arrays.get(k)?;
        let column = match self.constant.get(k) {
            Some(true) => repeat(array, self.len)?,
            _ if self.offset == 0 && array.len() == self.len => array.clone(),
            _ => array.slice(self.offset, self.len),
        };
        Some(Box::new(column))
    }
}

/// The Arrow arrays of a [`NodeData`] the columnar engine's vectorized nodes report
/// (see [`NodeData::is_batch`]).
///
/// # Examples
///
/// ```
/// use std::ops::Range;
/// use std::sync::Mutex;
///
/// use arrow::array::{Array, Int64Array};
/// use hypernodes::engine::columnar::NodeDataArrow;
/// use hypernodes::events::{Callback, Context, NodeData};
/// use hypernodes::prelude::*;
/// use hypernodes::ColumnarEngine;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// #[derive(Default)]
/// struct Sums(Mutex<Vec<i64>>);
///
/// impl Callback for Sums {
///     fn on_node_end(&self, _: &Context, _: &Node, _: Range<usize>, _: std::time::Duration, outputs: &NodeData<'_>) {
///         let column = outputs.column("doubled").expect("a batch");
///         let doubled = column.as_any().downcast_ref::<Int64Array>().unwrap();
///         self.0.lock().unwrap().push(doubled.values().iter().sum());
///     }
/// }
///
/// let sums = std::sync::Arc::new(Sums::default());
/// let config = RunConfig::new().with_engine(ColumnarEngine::new()).with_callback(sums.clone());
/// let p = Pipeline::new([double::node()]).with_config(config);
/// p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// assert_eq!(*sums.0.lock().unwrap(), [12]);
/// # Ok::<(), hypernodes::Error>(())
/// ```
pub trait NodeDataArrow {
    /// The column of `name` over the batch, one row per item (a constant repeated),
    /// as the engine holds it (a dictionary-encoded column stays encoded); `None` for a
    /// name not given, or for one item's values (a node run item by item).
    fn column(&self, name: &str) -> Option<ArrayRef>;
}

impl NodeDataArrow for NodeData<'_> {
    fn column(&self, name: &str) -> Option<ArrayRef> {
        self.column_any(name)?.downcast::<ArrayRef>().ok().map(|b| *b)
    }
}

/// A one-row array repeated `len` times (`None` only if `take` fails, which it cannot on
/// row 0 of a one-row array).
pub(super) fn repeat(array: &ArrayRef, len: usize) -> Option<ArrayRef> {
    arrow::compute::take(array.as_ref(), &UInt32Array::from(vec![0; len]), None).ok()
}
