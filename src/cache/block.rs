//! What a store keeps: blocks, one node's results for a batch of items, a column per
//! output.

use std::sync::Arc;

use super::Digest;
use crate::error::Result;
use crate::value::Value;

/// A stored block's key and its item keys.
pub(super) type StoredBlock = (Digest, Vec<Digest>);

/// The results of one node for a batch of items: the item keys and one column per
/// output, rows in item order.
pub(crate) struct Block {
    pub(crate) items: Vec<Digest>,
    pub(crate) columns: Vec<Column>,
    /// Per output, the digests of its values (when a later node read them): a run that
    /// finds the block hands them to the nodes reading the output, which then hash
    /// nothing.
    pub(crate) digests: Vec<Option<Arc<Vec<Digest>>>>,
}

/// One output's results for the items of a block.
#[derive(Clone)]
pub(crate) enum Column {
    /// As Rust values (the node engine's, in a memory cache).
    Values(Arc<Vec<Value>>),
    /// As an Arrow array (the columnar engine's, or read from disk).
    #[cfg(feature = "columnar")]
    Arrow(arrow::array::ArrayRef),
}

impl Column {
    /// Row `row` as a value of the type of `port`.
    pub(crate) fn value(&self, row: usize, port: &crate::node::Port) -> Result<Value> {
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
            #[cfg(feature = "columnar")]
            Column::Arrow(array) => crate::engine::columnar::types::ColumnType::find(&port.type_info())
                .and_then(|ct| (ct.array_value)(array.as_ref(), row))
                .ok_or_else(bad),
        }
    }
}
