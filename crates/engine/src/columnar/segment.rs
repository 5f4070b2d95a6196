//! Consecutive vectorized nodes run directly over Arrow batches: each node's kernel (or
//! SQL expression) is called on the arrays of one batch after another, one thread per
//! partition, with no DataFusion session, plan or stream between them.
//!
//! Planning a DataFusion query per call cost more than the nodes themselves on small and
//! cheap workloads (a session, an optimizer pass, a physical plan, a task per partition,
//! a struct column per multi-output node), so the engine compiles a segment once into
//! [`Segment`]: where each argument comes from and where each output goes. The same
//! segment as a DataFusion plan is what [`ColumnarEngine::explain`](super::ColumnarEngine::explain)
//! shows and what `apply_to_dataframe` builds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow::array::ArrayRef;
use rayon::prelude::*;

use super::chunks::{Chunks, Split};
use super::data::Arrays;
use super::dictionary;
use super::kernel::Kernel;
use super::pool::{OutputPool, with_pool};
use super::types::Elements;
use super::{ColumnType, ExprNode};
use crate::cache::{ArgDigests, Column, Digest, Lookup, NodeCache, item_keys};
use crate::error::{Error, Result};
use crate::events::{Events, ItemEnds, NodeData, Signature, runs};
use crate::exec::RunConfig;
use crate::node::{Node, Volatility};
use crate::value::Value;

/// Where a segment's argument comes from in a batch.
pub(super) enum Input {
    /// Rows of a column computed before the segment (or given).
    Column(Chunks),
    /// Rows of a `Vec` of a columnar type (a list mapped over, or a node's results made
    /// row by row): each batch converts its own rows (row `r` is element `index[r]`, or
    /// `r`), on its partition's thread, with no copy of the whole list.
    List {
        list: Arc<Value>,
        index: Option<Arc<Vec<u32>>>,
        ct: &'static ColumnType,
    },
    /// The same value on every row, as a one-row array.
    Const(ArrayRef),
}

/// How a node of the segment is called.
enum Call<'a> {
    Kernel(&'a Kernel),
    Expr(&'a ExprNode),
}

/// One node: its call, the slots of its arguments and of its outputs (`None` for an
/// output nothing reads and nobody keeps).
struct Step<'a> {
    node: &'a Node,
    call: Call<'a>,
    /// The node's cache in this run, if it has one (kernels only: an expression costs
    /// less than a lookup).
    cache: Option<NodeCache>,
    /// Whether equal arguments give equal results (the node is not volatile): an
    /// uncached kernel then runs once per value of a dictionary-encoded column.
    by_value: bool,
    /// Per output, whether a later cached node of the segment reads it: the digests of
    /// its values are then computed (or found) here and stored with the results.
    digest_out: Vec<bool>,
    args: Vec<usize>,
    /// Whether each argument is a constant (a one-row array).
    constant: Vec<bool>,
    outs: Vec<Option<usize>>,
}

/// A segment compiled to slots: slots `0..inputs` hold the inputs of a batch, the others
/// the outputs of its nodes.
pub(super) struct Segment<'a> {
    steps: Vec<Step<'a>>,
    inputs: usize,
    slots: usize,
    /// The outputs kept after the segment: slot, name and Arrow conversions.
    keep: Vec<(usize, &'a str, &'static ColumnType)>,
    /// Whether rows are items of a map (a failure then names the item).
    is_map: bool,
    /// What the segment reports its nodes' calls to, if the run has callbacks.
    events: Option<Events>,
    /// Per row of the run, whether a node computed it (rather than finding it in the
    /// cache), when the run reports items found whole in the cache.
    computed: Option<Arc<Vec<AtomicBool>>>,
    /// The ends of the items to report as each batch is done (in the last segment of a
    /// map's run).
    ends: Option<ItemEnds>,
}

/// The most rows one call of a segment's nodes computes when it joins consecutive
/// batches ([`Segment::joined`]): eight batches of the default size.
const JOINED_ROWS: usize = 65_536;

/// Marks rows `rows` of `computed` as computed.
pub(super) fn mark(computed: Option<&Arc<Vec<AtomicBool>>>, rows: impl IntoIterator<Item = usize>) {
    if let Some(c) = computed {
        for r in rows {
            c[r].store(true, Ordering::Relaxed);
        }
    }
}

/// Why a batch failed.
pub(super) enum Failure {
    /// A node failed or panicked on a row (or, `item: None`, on the whole batch).
    Node(Error),
    /// An expression raised an error on the data without naming a row: the caller runs
    /// the batch's rows `start..start + len` one by one to find it.
    Expr {
        start: usize,
        len: usize,
        error: datafusion::error::DataFusionError,
    },
}

impl<'a> Segment<'a> {
    /// The segment of `nodes` (each with a kernel or an expression), reading `reads` (the
    /// names of its `inputs`, in the order they are given to [`Segment::run`]) and
    /// keeping the outputs `kept(node, k)` says are needed after it.
    ///
    /// # Errors
    ///
    /// None a user can cause (see the `Unreachable` arguments).
    pub(super) fn new(
        nodes: &[&'a Node],
        reads: &[&'a str],
        inputs: &[Input],
        kept: impl Fn(usize, usize) -> bool,
        is_map: bool,
        config: &RunConfig,
        computed: Option<Arc<Vec<AtomicBool>>>,
    ) -> Result<Segment<'a>> {
        let mut slot_of: Vec<(&str, usize)> = reads.iter().enumerate().map(|(k, n)| (*n, k)).collect();
        let find = |slot_of: &[(&str, usize)], name: &str| slot_of.iter().rev().find(|(n, _)| *n == name).map(|s| s.1);
        let read_later = |from: usize, name: &str| {
            nodes[from..]
                .iter()
                .any(|n| n.params().iter().any(|p| p.name() == name))
        };
        let mut steps = Vec::with_capacity(nodes.len());
        let mut keep = Vec::new();
        let mut slots = reads.len();
        for (order, node) in nodes.iter().enumerate() {
            let call = match (Kernel::find(node), ExprNode::find(node)) {
                (Some(k), _) => Call::Kernel(k),
                (None, Some(e)) => Call::Expr(e),
                // Unreachable: segments are made of nodes `vectorizable` accepts.
                (None, None) => {
                    return Err(Error::Internal(format!(
                        "node '{}' is neither a kernel nor an expression",
                        node.name()
                    )));
                }
            };
            let mut args = Vec::with_capacity(node.params().len());
            for p in node.params() {
                // Unreachable: a segment's reads are every name its nodes read that they
                // do not make, and a node reads only what runs before it.
                let slot = find(&slot_of, p.name()).ok_or_else(|| {
                    Error::Internal(format!("'{}' is not available to node '{}'", p.name(), node.name()))
                })?;
                args.push(slot);
            }
            let mut outs = Vec::with_capacity(node.outputs().len());
            for (k, p) in node.outputs().iter().enumerate() {
                let kept = kept(order, k);
                if !kept && !read_later(order + 1, p.name()) {
                    outs.push(None);
                    continue;
                }
                slot_of.push((p.name(), slots));
                if kept {
                    // Unreachable: a vectorized node's outputs are columnar, as its
                    // parameters are.
                    let ct = ColumnType::find(&p.type_info()).ok_or_else(|| {
                        Error::Internal(format!("output '{}' of '{}' has no Arrow type", p.name(), node.name()))
                    })?;
                    keep.push((slots, p.name(), ct));
                }
                outs.push(Some(slots));
                slots += 1;
            }
            let constant = args
                .iter()
                .map(|&s| matches!(inputs.get(s), Some(Input::Const(_))))
                .collect();
            let cache = match call {
                // A kernel's node is a function node: it computes every output (`keep`
                // matters to nested pipelines only).
                Call::Kernel(_) => NodeCache::new(config, node, &[]),
                Call::Expr(_) => None,
            };
            steps.push(Step {
                node,
                call,
                cache,
                by_value: node.volatility() == Volatility::Immutable,
                digest_out: Vec::new(),
                args,
                constant,
                outs,
            });
        }
        // Which outputs later cached steps read (by slot).
        for s in 0..steps.len() {
            let digest_out = steps[s]
                .outs
                .iter()
                .map(|slot| {
                    slot.is_some_and(|slot| {
                        steps[s + 1..]
                            .iter()
                            .any(|t| t.cache.is_some() && t.args.contains(&slot))
                    })
                })
                .collect();
            steps[s].digest_out = digest_out;
        }
        Ok(Segment {
            steps,
            inputs: reads.len(),
            slots,
            keep,
            is_map,
            events: config.events().cloned(),
            computed,
            ends: None,
        })
    }

    /// This segment reporting the end of the items of each batch it finishes.
    pub(super) fn with_item_ends(mut self, ends: Option<ItemEnds>) -> Self {
        self.ends = ends;
        self
    }

    /// The names of the outputs kept, in the order [`Segment::run`] returns their columns.
    pub(super) fn kept(&self) -> impl Iterator<Item = (&'a str, &'static ColumnType)> + '_ {
        self.keep.iter().map(|&(_, name, ct)| (name, ct))
    }

    /// Runs the segment over the rows of `split` (partitions on threads of their own,
    /// batches in order), reading `inputs`, and returns one column per kept output, in
    /// chunks of whole batches of the split (one each, or several joined). On failure,
    /// the earliest batch's. The outputs' value buffers come from `pool` and go back to
    /// it when dropped.
    pub(super) fn run(
        &self,
        inputs: &[Input],
        split: &Split,
        pool: &Arc<OutputPool>,
    ) -> std::result::Result<Vec<Chunks>, Failure> {
        // The first row of the earliest failed batch: later partitions stop past it.
        let failed_at = AtomicUsize::new(usize::MAX);
        let partition = |batches: &[(usize, usize)]| -> std::result::Result<Vec<Vec<ArrayRef>>, Failure> {
            with_pool(pool, || self.partition(inputs, batches, &failed_at))
        };
        // On rayon's pool: threads that live on keep their allocator's memory, where
        // threads spawned per call fault fresh pages in for every batch they make.
        let done: Vec<_> = match split.partitions.as_slice() {
            [one] => vec![partition(one)],
            many => many.par_iter().map(|p| partition(p)).collect(),
        };
        // Partitions hold consecutive rows: the first to fail failed earliest.
        let mut batches = Vec::new();
        for part in done {
            batches.extend(part?);
        }
        Ok(self
            .keep
            .iter()
            .enumerate()
            .map(|(k, (_, _, ct))| {
                let chunks = batches.iter().map(|b| b[k].clone()).collect();
                Chunks::from_arrays(chunks, &(ct.data_type)())
            })
            .collect())
    }

    /// The kept outputs of a partition's `batches`, in order, as one array per call (a
    /// batch, or batches joined: see [`Segment::joined`]); stops before a call past
    /// `failed_at` (the first row of the earliest failed batch of any partition).
    fn partition(
        &self,
        inputs: &[Input],
        batches: &[(usize, usize)],
        failed_at: &AtomicUsize,
    ) -> std::result::Result<Vec<Vec<ArrayRef>>, Failure> {
        let joins = self.joins();
        let mut out = Vec::with_capacity(batches.len());
        let mut next = 0;
        while let Some(&(start, first)) = batches.get(next) {
            let len = match joins {
                true => Self::joined(inputs, &batches[next..]),
                false => first,
            };
            while batches.get(next).is_some_and(|&(s, _)| s < start + len) {
                next += 1;
            }
            if start > failed_at.load(Ordering::Relaxed) {
                break;
            }
            match self.batch(inputs, start, len) {
                Ok(columns) => {
                    if let Some(ends) = &self.ends {
                        ends.done(start..start + len);
                    }
                    out.push(columns)
                }
                Err(e) => {
                    failed_at.fetch_min(start, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Whether nothing sees this segment's batches one by one, so that consecutive
    /// batches may be computed in one call per node: no callbacks (they report each
    /// batch), no cache (it stores a block per batch), no batch implementation written
    /// by the user (it is promised batches of the engine's batch size).
    fn joins(&self) -> bool {
        self.events.is_none()
            && self.ends.is_none()
            && self
                .steps
                .iter()
                .all(|s| s.cache.is_none() && !matches!(s.call, Call::Kernel(k) if k.is_batch()))
    }

    /// The rows of one call over the first of `batches` and the batches after it: as
    /// many whole consecutive batches as fit in [`JOINED_ROWS`] and lie in one chunk of
    /// every column read (so that each argument stays a slice, not a copy), at least
    /// the first. The engine's per-call work (slicing the arguments, finishing each
    /// output's array, the allocations of both) is then paid once per call: W1's
    /// `apply_to_batches` over 1,000,000 rows took 1.14 ms in calls of 8,192 rows and
    /// 0.87 ms joined (docs/performance.md, "Joined calls").
    fn joined(inputs: &[Input], batches: &[(usize, usize)]) -> usize {
        let (start, first) = batches[0];
        let limit = inputs
            .iter()
            .filter_map(|i| match i {
                Input::Column(c) => Some(c.chunk_end(start)),
                _ => None,
            })
            .fold(start + first.max(JOINED_ROWS), usize::min);
        let mut end = start + first;
        for &(s, len) in &batches[1..] {
            if s != end || s + len > limit {
                break;
            }
            end += len;
        }
        end - start
    }

    /// The kept outputs of rows `start..start + len`.
    fn batch(&self, inputs: &[Input], start: usize, len: usize) -> std::result::Result<Vec<ArrayRef>, Failure> {
        let mut slots: Vec<Option<ArrayRef>> = vec![None; self.slots];
        for (slot, input) in slots.iter_mut().zip(inputs).take(self.inputs) {
            *slot = Some(match input {
                Input::Column(c) => c.range(start, len).map_err(Failure::Node)?,
                // Unreachable: the list has the type `ct` converts, and every row.
                Input::List { list, index, ct } => {
                    let elements = match index {
                        None => Elements::Range(start..start + len),
                        Some(ix) => Elements::At(&ix[start..start + len]),
                    };
                    (ct.list_rows_to_array)(list, elements).ok_or_else(|| {
                        Failure::Node(Error::Internal(format!("rows {start}..{} of a list", start + len)))
                    })?
                }
                Input::Const(a) => a.clone(),
            });
        }
        let item = |row: usize| self.is_map.then_some(start + row);
        // The digests of the values in each slot, once computed or found (only cached
        // steps read or fill them).
        let cached = self.steps.iter().any(|s| s.cache.is_some());
        let mut digests: Vec<Option<Arc<Vec<Digest>>>> = if cached { vec![None; self.slots] } else { Vec::new() };
        let range = start..start + len;
        for step in &self.steps {
            // Expressions and cached kernels read dictionary-encoded columns unpacked,
            // each column once for the steps after it.
            if !matches!((&step.call, &step.cache), (Call::Kernel(_), None)) {
                for (&s, p) in step.args.iter().zip(step.node.params()) {
                    let packed = slots[s].as_ref().filter(|a| dictionary::is_packed(a.as_ref()));
                    if let Some(a) = packed {
                        let plain = dictionary::unpack_column(p.name(), a).map_err(Failure::Node)?;
                        slots[s] = Some(plain);
                    }
                }
            }
            let args: Vec<ArrayRef> = step
                .args
                .iter()
                .map(|&s| slots[s].clone().expect("filled by an input or an earlier step"))
                .collect();
            // A cached step reports its hits and misses itself.
            let reported = self.events.as_ref().filter(|_| step.cache.is_none());
            if let Some(events) = reported {
                let inputs = Arrays {
                    arrays: &args,
                    constant: &step.constant,
                    offset: 0,
                    len,
                };
                events.node_start(step.node, range.clone(), &NodeData::batch(step.node.params(), &inputs));
            }
            let started = reported.map(Events::tick);
            let outputs = match self.call(step, &args, start, len, &item, &mut digests) {
                Ok(outputs) => outputs,
                Err(Failure::Node(e)) => {
                    if let Some(events) = &self.events {
                        events.node_error(step.node, e.item(), &e);
                    }
                    return Err(Failure::Node(e));
                }
                Err(e) => return Err(e),
            };
            if let (Some(events), Some(started)) = (reported, started) {
                let made = Arrays {
                    arrays: &outputs,
                    constant: &[],
                    offset: 0,
                    len,
                };
                let elapsed = started.elapsed();
                events.node_end(
                    step.node,
                    range.clone(),
                    elapsed,
                    &NodeData::batch(step.node.outputs(), &made),
                );
            }
            if step.cache.is_none() {
                mark(self.computed.as_ref(), range.clone());
            }
            for (out, slot) in outputs.into_iter().zip(&step.outs) {
                if let Some(s) = slot {
                    slots[*s] = Some(out);
                }
            }
        }
        Ok(self
            .keep
            .iter()
            .map(|&(s, _, _)| slots[s].take().expect("computed by its step"))
            .collect())
    }

    /// One step's outputs for rows `start..start + len`.
    fn call(
        &self,
        step: &Step<'_>,
        args: &[ArrayRef],
        start: usize,
        len: usize,
        item: &dyn Fn(usize) -> Option<usize>,
        digests: &mut [Option<Arc<Vec<Digest>>>],
    ) -> std::result::Result<Vec<ArrayRef>, Failure> {
        Ok(match step.call {
            Call::Kernel(kernel) => match &step.cache {
                None => {
                    let called = match step.by_value {
                        true => kernel.call_by_value(args, &step.constant, len),
                        false => kernel.call_with_constants(args, &step.constant, len),
                    };
                    called.map_err(|e| {
                        let row = e.row;
                        Failure::Node(e.into_error(step.node, row.and_then(item)))
                    })?
                }
                Some(cache) => {
                    let report = Report {
                        events: self.events.as_ref(),
                        computed: self.computed.as_ref(),
                        start,
                    };
                    cached_call(step, cache, kernel, args, len, item, digests, &report)?
                }
            },
            Call::Expr(expr) => {
                let result = expr
                    .evaluate(args, len)
                    .map_err(|error| Failure::Expr { start, len, error })?;
                if let Some(row) = expr.made_null(result.as_ref(), args) {
                    return Err(Failure::Node(Error::NodeFailed {
                        node: step.node.name().into(),
                        item: item(row),
                        source: super::expr::null_result(expr.sql()).into(),
                    }));
                }
                vec![result]
            }
        })
    }
}

/// Where a cached step reports: the run's events, its computed rows, and the first row
/// of the batch.
struct Report<'r> {
    events: Option<&'r Events>,
    computed: Option<&'r Arc<Vec<AtomicBool>>>,
    start: usize,
}

/// What a cached step reports with its events: its arguments over the batch, and the
/// signature of each row (none when the arguments cannot be hashed: nothing is found).
struct Seen<'s> {
    node: &'s Node,
    args: &'s [ArrayRef],
    constant: &'s [bool],
    keys: Option<(&'s Digest, &'s [Digest])>,
}

impl Report<'_> {
    /// Reports the rows of the batch found (`hit`), and those computed: each as runs of
    /// consecutive rows, the computed ones around the call `compute`, which returns the
    /// outputs of the rows computed, in row order.
    fn around(
        &self,
        seen: &Seen<'_>,
        rows: usize,
        hit: impl Fn(usize) -> bool,
        compute: impl FnOnce() -> std::result::Result<Vec<ArrayRef>, Failure>,
    ) -> std::result::Result<Vec<ArrayRef>, Failure> {
        let at = |r: usize| self.start + r;
        mark(self.computed, (0..rows).filter(|&r| !hit(r)).map(at));
        let Some(events) = self.events else {
            return compute();
        };
        let node = seen.node;
        if let Some((key, items)) = seen.keys {
            runs((0..rows).filter(|&r| hit(r)), |r| {
                events.node_cached(node, at(r.start)..at(r.end), &Signature::new(key, &items[r]))
            });
        }
        let mut missed = Vec::new();
        runs((0..rows).filter(|&r| !hit(r)), |r| missed.push(r));
        for r in &missed {
            let inputs = Arrays {
                arrays: seen.args,
                constant: seen.constant,
                offset: r.start,
                len: r.len(),
            };
            events.node_start(node, at(r.start)..at(r.end), &NodeData::batch(node.params(), &inputs));
        }
        let started = events.tick();
        let out = compute()?;
        // The computed rows' outputs, one run after another.
        let mut offset = 0;
        for r in missed {
            let made = Arrays {
                arrays: &out,
                constant: &[],
                offset,
                len: r.len(),
            };
            offset += r.len();
            let data = NodeData::batch(node.outputs(), &made);
            events.node_end(node, at(r.start)..at(r.end), started.elapsed(), &data);
        }
        Ok(out)
    }
}

/// A kernel's outputs for the rows of a batch, through the node's cache: the digests of
/// the arguments as columns, one lookup for the batch, the kernel on the rows not found
/// (taken out of the arguments), found and new rows merged in row order, and the batch
/// stored. Arguments that cannot be hashed run the kernel uncached, with a warning.
#[allow(clippy::too_many_arguments)]
fn cached_call(
    step: &Step<'_>,
    cache: &NodeCache,
    kernel: &Kernel,
    args: &[ArrayRef],
    len: usize,
    item: &dyn Fn(usize) -> Option<usize>,
    slot_digests: &mut [Option<Arc<Vec<Digest>>>],
    report: &Report<'_>,
) -> std::result::Result<Vec<ArrayRef>, Failure> {
    let call = |args: &[ArrayRef], rows: usize, at: &dyn Fn(usize) -> usize| {
        kernel.call_with_constants(args, &step.constant, rows).map_err(|e| {
            let row = e.row.map(at);
            Failure::Node(e.into_error(step.node, row.and_then(item)))
        })
    };
    let params = step.node.params();
    for (k, &slot) in step.args.iter().enumerate() {
        if slot_digests[slot].is_some() {
            continue;
        }
        let p = &params[k];
        let mut rows = Vec::with_capacity(if step.constant[k] { 1 } else { len });
        let hashed = ColumnType::find(&p.type_info()).is_some_and(|ct| (ct.digest_rows)(args[k].as_ref(), &mut rows));
        if !hashed {
            cache.unhashable(p.name(), &p.type_info().name());
            let seen = Seen {
                node: step.node,
                args,
                constant: &step.constant,
                keys: None,
            };
            return report.around(&seen, len, |_| false, || call(args, len, &|r| r));
        }
        slot_digests[slot] = Some(Arc::new(rows));
    }
    let digests: Vec<ArgDigests<'_>> = step
        .args
        .iter()
        .zip(&step.constant)
        .map(|(&slot, &constant)| {
            let d = slot_digests[slot].as_deref().expect("computed above");
            if constant {
                ArgDigests::Const(d[0])
            } else {
                ArgDigests::Rows(d)
            }
        })
        .collect();
    let keys = item_keys(len, &digests);
    let seen = Seen {
        node: step.node,
        args,
        constant: &step.constant,
        keys: Some((cache.key(), &keys)),
    };
    // Unreachable: a kernel's outputs are columnar, and a store keeps columnar results
    // as Arrow (the memory store converts them, the disk store reads them back so).
    let arrow = |c: &Column| {
        super::cached::to_array(c).ok_or_else(|| Failure::Node(Error::Internal("a cached column is not Arrow".into())))
    };
    let outputs = match cache.lookup(&keys) {
        Lookup::All(block) => {
            cache.count(len, 0);
            report.around(&seen, len, |_| true, || Ok(Vec::new()))?;
            for (k, slot) in step.outs.iter().enumerate() {
                if let (Some(slot), Some(Some(d))) = (slot, block.digests.get(k)) {
                    slot_digests[*slot] = Some(d.clone());
                }
            }
            return block.columns.iter().map(arrow).collect();
        }
        Lookup::None => {
            cache.count(0, len);
            report.around(&seen, len, |_| false, || call(args, len, &|r| r))?
        }
        Lookup::Some(found) => {
            let todo: Vec<u32> = (0..len as u32).filter(|&r| found[r as usize].is_none()).collect();
            cache.count(len - todo.len(), todo.len());
            let computed = report.around(
                &seen,
                len,
                |r| found[r].is_some(),
                || {
                    if todo.is_empty() {
                        return Ok(Vec::new());
                    }
                    let index = arrow::array::UInt32Array::from(todo.clone());
                    let taken = args
                        .iter()
                        .zip(&step.constant)
                        .map(|(a, &c)| {
                            if c {
                                Ok(a.clone())
                            } else {
                                arrow::compute::take(a.as_ref(), &index, None)
                            }
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                        // Unreachable: the indices are rows of the batch, in bounds.
                        .map_err(|e| Failure::Node(Error::Internal(format!("taking rows to compute: {e}"))))?;
                    call(&taken, todo.len(), &|r| todo[r] as usize)
                },
            )?;
            // Sources: 0 the computed rows, then each block found, by pointer.
            let mut blocks: Vec<&crate::cache::Block> = Vec::new();
            let mut next_new = 0;
            let picks: Vec<(usize, usize)> = found
                .iter()
                .map(|hit| match hit {
                    None => {
                        next_new += 1;
                        (0, next_new - 1)
                    }
                    Some((block, row)) => {
                        let b = match blocks.iter().position(|b| std::ptr::eq(*b, &**block)) {
                            Some(b) => b,
                            None => {
                                blocks.push(block);
                                blocks.len() - 1
                            }
                        };
                        (b + 1, *row)
                    }
                })
                .collect();
            (0..step.node.outputs().len())
                .map(|k| {
                    let mut sources: Vec<ArrayRef> = Vec::with_capacity(blocks.len() + 1);
                    // Unreachable: a kernel's outputs are columnar.
                    sources.push(match computed.get(k) {
                        Some(a) => a.clone(),
                        None => arrow::array::new_empty_array(&(ColumnType::find(&step.node.outputs()[k].type_info())
                            .ok_or_else(|| Failure::Node(Error::Internal("an output has no Arrow type".into())))?
                            .data_type)()),
                    });
                    for b in &blocks {
                        sources.push(arrow(&b.columns[k])?);
                    }
                    let refs: Vec<&dyn arrow::array::Array> = sources.iter().map(|a| a.as_ref()).collect();
                    // Over 2 GiB of strings in one batch does not fit one array.
                    arrow::compute::interleave(&refs, &picks).map_err(|e| {
                        Failure::Node(Error::Arrow {
                            context: format!("Cannot merge the cached and new results of node '{}'", step.node.name())
                                .into(),
                            source: Box::new(e),
                        })
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?
        }
    };
    // The digests later nodes need, stored with the results for the next run.
    let mut out_digests = Vec::with_capacity(outputs.len());
    for (k, output) in outputs.iter().enumerate() {
        let d = match (step.digest_out[k], step.outs[k]) {
            (true, Some(slot)) => {
                let mut rows = Vec::with_capacity(len);
                let ct = ColumnType::find(&step.node.outputs()[k].type_info());
                ct.is_some_and(|ct| (ct.digest_rows)(output.as_ref(), &mut rows))
                    .then(|| {
                        let rows = Arc::new(rows);
                        slot_digests[slot] = Some(rows.clone());
                        rows
                    })
            }
            _ => None,
        };
        out_digests.push(d);
    }
    cache.store(
        keys,
        outputs.iter().map(|a| super::cached::arrow_column(a.clone())).collect(),
        out_digests,
    );
    Ok(outputs)
}
