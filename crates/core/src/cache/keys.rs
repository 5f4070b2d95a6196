//! The keys of cache entries: a node's key, the items' keys, a block's key.

use super::Digest;
use crate::hash::StableHasher;
use crate::node::{Node, Volatility};

/// blake3 over item keys: a block's key.
#[doc(hidden)]
pub fn block_key(items: &[Digest]) -> Digest {
    *blake3::hash(items.as_flattened()).as_bytes()
}

/// The digests of one argument over the items of a batch.
#[doc(hidden)]
pub enum ArgDigests<'a> {
    /// The same value for every item.
    Const(Digest),
    /// One digest per item.
    Rows(&'a [Digest]),
}

/// The item keys of `n` items from the digests of their arguments, in parameter order.
#[doc(hidden)]
pub fn item_keys(n: usize, args: &[ArgDigests]) -> Vec<Digest> {
    match args {
        [] => vec![*blake3::hash(b"no arguments").as_bytes(); n],
        [ArgDigests::Const(d)] => vec![*d; n],
        [ArgDigests::Rows(rows)] => rows.to_vec(),
        many => {
            let mut buf = Vec::with_capacity(32 * many.len());
            (0..n)
                .map(|i| {
                    buf.clear();
                    for a in many {
                        buf.extend_from_slice(match a {
                            ArgDigests::Const(d) => d,
                            ArgDigests::Rows(rows) => &rows[i],
                        });
                    }
                    *blake3::hash(&buf).as_bytes()
                })
                .collect()
        }
    }
}

/// The node key of `node` computing the outputs in `keep` (a nested pipeline computes
/// only those; a function node always computes all): `Err` names why it cannot be
/// cached, `Ok(None)` when it must not be (volatile).
#[doc(hidden)]
pub fn node_key(node: &Node, keep: &[bool]) -> std::result::Result<Option<Digest>, String> {
    if node.volatility() == Volatility::Volatile {
        return Ok(None);
    }
    let mut h = StableHasher::new();
    h.tag("hypernodes.node.v1").value(node.name()).value(node.code_hash());
    for p in node.params() {
        h.value(p.name()).value(&p.type_info().name());
    }
    for p in node.outputs() {
        h.value(p.name()).value(&p.type_info().name());
    }
    if let Some(nested) = node.as_composite() {
        h.value(keep);
        nested.hash_bound(node.name(), &mut h)?;
    }
    Ok(Some(h.finish()))
}
