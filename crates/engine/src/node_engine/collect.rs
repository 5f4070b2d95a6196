//! Collecting the results of a map's items into its columns: in item order, failing or
//! recording the failed items, with values the cache shares copied.

use crate::error::{Error, Result};
use crate::exec::{ItemFailure, OnError};
use crate::node::Node;
use crate::value::{ColumnBuilder, TypeInfo, Value};

/// Feeds the results of items, in item order, to `push`: an error fails the map (the
/// first, the smallest failing index) or, under [`OnError::Collect`], is recorded.
#[doc(hidden)]
pub fn collect<T>(
    results: Vec<Option<Result<T>>>,
    on_error: OnError,
    failures: &mut Vec<ItemFailure>,
    mut push: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    for (item, r) in results.into_iter().enumerate() {
        let done = match r {
            Some(r) => r.and_then(|v| push(item, v)),
            // Skipped after an earlier item failed: that failure is returned first.
            None => continue,
        };
        match done {
            Ok(()) => {}
            Err(e) if on_error == OnError::Collect => failures.push(ItemFailure::new(item, e)),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The failure of a node that returned, for `output`, a value a map cannot collect: one
/// it does not own (a clone of an argument, or an item of a mapped list), which a
/// [`NodeImpl`](crate::node::NodeImpl) written by hand can return.
#[doc(hidden)]
pub fn not_owned(node: &Node, output: &str, item: Option<usize>) -> Error {
    Error::NodeFailed {
        node: node.name().into(),
        item,
        source: format!(
            "returned a value for '{output}' that it does not own (a clone of an argument?); a node must return values of its own to be collected by a map"
        )
        .into(),
    }
}

/// A map's column from values of which some may be shared with the cache: pushed as
/// they are when each is owned, else copied through the type's Arrow conversions.
#[doc(hidden)]
pub fn collect_shared(
    mut builder: Box<dyn ColumnBuilder>,
    values: Vec<Value>,
    name: &str,
    ty: TypeInfo,
    producer: &Node,
) -> Result<Value> {
    let shared = values.iter().position(|v| !v.is_unique());
    match shared {
        None => {
            for (item, value) in values.into_iter().enumerate() {
                builder.push(value).map_err(|_| not_owned(producer, name, Some(item)))?;
            }
            Ok(builder.finish())
        }
        Some(item) => {
            #[cfg(feature = "columnar")]
            if let Some(ct) = crate::columnar::types::ColumnType::find(&ty) {
                // Unreachable: the values are results checked against the output's type.
                let array = (ct.values_to_array)(&values)
                    .ok_or_else(|| Error::Internal(format!("output '{name}' does not convert")))?;
                return (ct.array_to_list)(&[array.as_ref()]).map_err(Error::Internal);
            }
            Err(Error::NodeFailed {
                node: producer.name().into(),
                item: Some(item),
                source: format!(
                    "the result for '{name}' came from the memory cache and its type {ty} cannot be copied into the map's results; return a type that maps to Arrow, or run this map without a cache"
                )
                .into(),
            })
        }
    }
}
