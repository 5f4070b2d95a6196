//! Running one node over many items through its cache ([`cached_node`]): the digests of
//! its arguments, the lookup of the batch, the items computed and the batch stored; and
//! the values of a slot over the items ([`Cells`]).

use std::sync::Arc;

use rayon::prelude::*;
use smallvec::SmallVec;

use super::call::{call_node, call_node_async};
use crate::cache::{ArgDigests, Block, Column, Digest, Lookup, NodeCache, item_keys};
use crate::error::{Error, Result};
use crate::events::{Signature, runs};
use crate::exec::{Executor, RunConfig, block_on, for_items, for_items_async};
use crate::hash::digest_as;
use crate::node::Node;
use crate::value::{TypeInfo, Value};

/// The values of one slot in a node-by-node run over items.
#[doc(hidden)]
pub enum Cells {
    /// The same value for every item (an input not mapped).
    Const(Value),
    /// A value per item (`None` where the item failed or was not computed), and their
    /// digests when known (per item).
    Items(Vec<Option<Value>>, Option<Arc<Vec<Digest>>>),
    /// Every item's value, item `i` being element `i` of a `Vec` (results found whole in
    /// the cache, converted at once), and their digests when known.
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    List {
        list: Arc<Value>,
        elem: fn() -> TypeInfo,
        digests: Option<Arc<Vec<Digest>>>,
    },
}

impl Cells {
    /// Item `item`'s value (a cheap clone).
    #[doc(hidden)]
    pub fn at(&self, item: usize) -> Option<Value> {
        match self {
            Cells::Const(v) => Some(v.clone()),
            Cells::Items(values, _) => values[item].clone(),
            Cells::List { list, elem, .. } => Some(Value::item(list.clone(), item, *elem)),
        }
    }

    /// The digests of the items' values, when known.
    fn digests(&self) -> Option<&Arc<Vec<Digest>>> {
        match self {
            Cells::Items(_, d) | Cells::List { digests: d, .. } => d.as_ref(),
            Cells::Const(_) => None,
        }
    }

    pub(super) fn take_one(&mut self, item: usize) -> Result<Value> {
        match self {
            Cells::Const(v) => Ok(v.clone()),
            // Unreachable: every output of an item that did not fail is computed.
            Cells::Items(values, _) => values[item]
                .take()
                .ok_or_else(|| Error::Internal(format!("item {item} has no result"))),
            Cells::List { list, elem, .. } => Ok(Value::item(list.clone(), item, *elem)),
        }
    }
}

/// What [`cached_node`] returns: each output's values (per item, or the whole list
/// found in the cache), with their digests where asked for and known, and the items
/// that failed (with their error; `None` for items skipped after a failure under
/// [`OnError::Fail`](crate::OnError::Fail)).
#[doc(hidden)]
pub struct NodeResults {
    #[doc(hidden)]
    pub outs: Vec<Cells>,
    #[doc(hidden)]
    pub failed: Vec<(usize, Option<Error>)>,
    /// The items the node was called on (not found in the cache).
    #[doc(hidden)]
    pub computed: Vec<usize>,
}

/// The digests of the values of items `rows`, as a `ty` (`None` when one cannot be
/// hashed), computed on rayon's pool for many items.
fn digest_rows(rows: &[usize], value: impl Fn(usize) -> Option<Value> + Sync, ty: &TypeInfo) -> Option<Vec<Digest>> {
    let one = |&i: &usize| value(i).and_then(|v| digest_as(&v, ty));
    if rows.len() >= 4096 {
        rows.par_iter().with_min_len(1024).map(one).collect()
    } else {
        rows.iter().map(one).collect()
    }
}

/// Runs one node over the items `rows` (of `n`) through its cache: the digests of its
/// arguments (`args`, one per parameter; found with the values, or computed), a lookup
/// of the whole batch, else item by item, the other items computed with the map
/// executor, and the batch stored, with the digests of the outputs in `digest_out`
/// (those later nodes read). Without a cache for the node, every item is computed.
#[allow(clippy::too_many_arguments)]
#[doc(hidden)]
pub fn cached_node(
    config: &Arc<RunConfig>,
    node: &Node,
    keep: &[bool],
    rows: &[usize],
    n: usize,
    args: &[&Cells],
    digest_out: &[bool],
    is_map: bool,
) -> NodeResults {
    let executor = config.map_executor().unwrap_or_default();
    let on_error = config.on_error().unwrap_or_default();
    let item_of = |i: usize| is_map.then_some(i);
    let args_of = |item: usize| -> SmallVec<[Value; 4]> {
        args.iter()
            .map(|c| c.at(item).expect("the arguments of a live item are filled"))
            .collect()
    };
    let n_out = node.outputs().len();
    let mut outs: Vec<Vec<Option<Value>>> = (0..n_out).map(|_| vec![None; n]).collect();
    let mut out_digests: Vec<Option<Arc<Vec<Digest>>>> = vec![None; n_out];
    let cached = NodeCache::new(config, node, keep).and_then(|nc| {
        // Per argument: one digest, or one per row (found with the values, or computed).
        let mut per_arg: Vec<std::result::Result<Digest, Vec<Digest>>> = Vec::with_capacity(args.len());
        for (p, c) in node.params().iter().zip(args) {
            let ty = p.type_info();
            let d = match c {
                Cells::Const(v) => digest_as(v, &ty).map(Ok),
                c => match c.digests() {
                    Some(known) => Some(Err(rows.iter().map(|&i| known[i]).collect())),
                    None => digest_rows(rows, |i| c.at(i), &ty).map(Err),
                },
            };
            match d {
                Some(d) => per_arg.push(d),
                None => {
                    nc.unhashable(p.name(), &ty.name());
                    return None;
                }
            }
        }
        let digests: Vec<ArgDigests<'_>> = per_arg
            .iter()
            .map(|d| match d {
                Ok(c) => ArgDigests::Const(*c),
                Err(rows) => ArgDigests::Rows(rows),
            })
            .collect();
        Some((item_keys(rows.len(), &digests), nc))
    });
    // The positions in `rows` to compute.
    let mut todo: Vec<usize> = (0..rows.len()).collect();
    let mut failed: Vec<(usize, Option<Error>)> = Vec::new();
    if let Some((keys, nc)) = &cached {
        let cached_outputs = nc.outputs();
        let found: Vec<Option<(Arc<Block>, usize)>> = match nc.lookup(keys) {
            Lookup::All(block) => {
                // Every item, found whole: each output converted at once, if it can be.
                if rows.len() == n
                    && let Some(lists) = whole_lists(node, cached_outputs, &block, digest_out)
                {
                    nc.count(n, 0);
                    if let Some(events) = config.events() {
                        events.node_cached(node, 0..n, &Signature::new(nc.key(), keys));
                    }
                    let mut cells: Vec<Cells> = (0..n_out).map(|_| Cells::Items(Vec::new(), None)).collect();
                    for (&k, list) in cached_outputs.iter().zip(lists) {
                        cells[k] = list;
                    }
                    return NodeResults {
                        outs: cells,
                        failed,
                        computed: Vec::new(),
                    };
                }
                for (c, &k) in cached_outputs.iter().enumerate() {
                    if let (true, Some(Some(d))) = (digest_out[k], block.digests.get(c)) {
                        let mut per_item = vec![[0; 32]; n];
                        for (pos, &i) in rows.iter().enumerate() {
                            per_item[i] = d[pos];
                        }
                        out_digests[k] = Some(Arc::new(per_item));
                    }
                }
                (0..rows.len()).map(|pos| Some((block.clone(), pos))).collect()
            }
            Lookup::Some(found) => found,
            Lookup::None => vec![None; rows.len()],
        };
        todo.clear();
        let mut fill = |pos: usize, block: &Block, row: usize| -> Result<()> {
            for (c, &k) in cached_outputs.iter().enumerate() {
                outs[k][rows[pos]] = Some(block.columns[c].value(row, &node.outputs()[k])?);
            }
            Ok(())
        };
        for (pos, hit) in found.into_iter().enumerate() {
            match hit {
                // A found value that cannot be read back is computed again.
                Some((block, row)) if fill(pos, &block, row).is_ok() => {}
                _ => todo.push(pos),
            }
        }
        nc.count(rows.len() - todo.len(), todo.len());
        if let Some(events) = config.events() {
            let mut hit = vec![true; rows.len()];
            for &p in &todo {
                hit[p] = false;
            }
            // Runs of consecutive items are runs of consecutive positions in `rows`.
            let hits = (0..rows.len()).filter(|&p| hit[p]).map(|p| rows[p]);
            let mut at = 0;
            runs(hits, |items| {
                at += rows[at..].partition_point(|&r| r < items.start);
                let signature = Signature::new(nc.key(), &keys[at..at + items.len()]);
                events.node_cached(node, items, &signature)
            });
        }
    }
    let results = match executor {
        Executor::Async(width) if node.is_async() => {
            let keep: Arc<[bool]> = keep.into();
            block_on(for_items_async(width, todo.len(), on_error, |t| {
                let item = rows[todo[t]];
                let args: Vec<Value> = args_of(item).into_vec();
                call_node_async(config.clone(), node.clone(), keep.clone(), args, item_of(item))
            }))
        }
        _ => for_items(executor, todo.len(), on_error, |t| {
            let item = rows[todo[t]];
            let args = args_of(item);
            let refs: SmallVec<[&Value; 4]> = args.iter().collect();
            call_node(config, node, keep, &refs, item_of(item))
        }),
    };
    for (t, result) in results.into_iter().enumerate() {
        let item = rows[todo[t]];
        match result {
            Some(Ok(produced)) => produced.for_each(|k, v| outs[k][item] = Some(v)),
            Some(Err(e)) => failed.push((item, Some(e))),
            None => failed.push((item, None)),
        }
    }
    // Stored unless every item was found (in one block, or several: a block of them all
    // makes the next lookup one call).
    if let Some((keys, nc)) = cached.filter(|_| !todo.is_empty() || rows.len() > 1) {
        let bad: std::collections::HashSet<usize> = failed.iter().map(|f| f.0).collect();
        let done: Vec<usize> = (0..rows.len()).filter(|&p| !bad.contains(&rows[p])).collect();
        let mut columns = Vec::with_capacity(nc.outputs().len());
        let mut block_digests = Vec::with_capacity(nc.outputs().len());
        for &k in nc.outputs() {
            let values: Vec<Value> = done
                .iter()
                .map(|&p| outs[k][rows[p]].clone().expect("computed or found"))
                .collect();
            // The digests later nodes read, computed once here and kept with the block.
            let ty = node.outputs()[k].type_info();
            let d = match (&out_digests[k], digest_out[k]) {
                (Some(known), _) => Some(done.iter().map(|&p| known[rows[p]]).collect()),
                (None, true) => {
                    let positions: Vec<usize> = (0..done.len()).collect();
                    digest_rows(&positions, |i| Some(values[i].clone()), &ty)
                }
                (None, false) => None,
            };
            if let (Some(d), None) = (&d, &out_digests[k]) {
                let mut per_item = vec![[0; 32]; n];
                for (&p, digest) in done.iter().zip(d) {
                    per_item[rows[p]] = *digest;
                }
                out_digests[k] = Some(Arc::new(per_item));
            }
            block_digests.push(d.map(Arc::new));
            columns.push(Column::Values(Arc::new(values)));
        }
        // A disk store converts values to Arrow on its writer thread, while the run goes on.
        #[cfg(feature = "columnar")]
        let columns = match nc.on_disk() {
            true => columns,
            false => columns.into_iter().map(crate::columnar::cached::as_stored).collect(),
        };
        nc.store(done.iter().map(|&p| keys[p]).collect(), columns, block_digests);
    }
    NodeResults {
        outs: outs
            .into_iter()
            .zip(out_digests)
            .map(|(values, digests)| Cells::Items(values, digests))
            .collect(),
        failed,
        computed: todo.iter().map(|&p| rows[p]).collect(),
    }
}

/// The cached outputs of a block found whole, each as one list (with the digests later
/// nodes read, when stored); `None` when one cannot be read as a list.
fn whole_lists(node: &Node, outputs: &[usize], block: &Block, digest_out: &[bool]) -> Option<Vec<Cells>> {
    // Without the columnar engine, blocks hold values, read one by one.
    #[cfg(not(feature = "columnar"))]
    {
        let _ = (node, outputs, block, digest_out);
        None
    }
    #[cfg(feature = "columnar")]
    outputs
        .iter()
        .enumerate()
        .map(|(c, &k)| {
            let ty = node.outputs()[k].type_info();
            let array = crate::columnar::cached::as_arrow(&block.columns[c])?;
            let ct = crate::columnar::types::ColumnType::find(&ty)?;
            let list = (ct.array_to_list)(&[array.as_ref()]).ok()?;
            let digests = block.digests.get(c).cloned().flatten().filter(|_| digest_out[k]);
            Some(Cells::List {
                list: Arc::new(list),
                elem: ty.this_fn(),
                digests,
            })
        })
        .collect()
}
