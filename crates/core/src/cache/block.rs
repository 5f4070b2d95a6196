//! What a store keeps: blocks, one node's results for a batch of items, a column per
//! output.

use std::any::Any;
use std::sync::Arc;

use super::Digest;
use crate::error::Result;
use crate::node::Port;
use crate::value::Value;

/// A stored block's key and its item keys.
pub type StoredBlock = (Digest, Vec<Digest>);

/// The results of one node for a batch of items: the item keys and one column per
/// output, rows in item order.
pub struct Block {
    /// The item keys, one per row.
    pub items: Vec<Digest>,
    /// One column per output.
    pub columns: Vec<Column>,
    /// Per output, the digests of its values (when a later node read them): a run that
    /// finds the block hands them to the nodes reading the output, which then hash
    /// nothing.
    pub digests: Vec<Option<Arc<Vec<Digest>>>>,
}

/// One output's results for the items of a block.
#[derive(Clone)]
pub enum Column {
    /// As Rust values (the node engine's).
    Values(Arc<Vec<Value>>),
    /// As an engine's own column (the columnar engine's Arrow array, in memory or read
    /// from disk).
    Native(Arc<dyn NativeColumn>),
}

/// A column in an engine's own representation.
pub trait NativeColumn: Send + Sync {
    /// Row `row` as a value of the type of `port`, if it has one.
    fn value(&self, row: usize, port: &Port) -> Option<Value>;

    /// The column, for the engine that made it to take back.
    fn as_any(&self) -> &dyn Any;
}

impl Column {
    /// Row `row` as a value of the type of `port`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`](crate::Error::Internal) when the column holds no such value.
    pub fn value(&self, row: usize, port: &Port) -> Result<Value> {
        // Unreachable: a block is stored under a node key that names the output types,
        // and a block read from disk is checked against them (a mismatch is a miss).
        let bad = || {
            crate::Error::Internal(format!(
                "a cached block has no value of type {} at row {row} for '{}'",
                port.type_info(),
                port.name()
            ))
        };
        match self {
            Column::Values(values) => values.get(row).cloned().ok_or_else(bad),
            Column::Native(column) => column.value(row, port).ok_or_else(bad),
        }
    }
}
