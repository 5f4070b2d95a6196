//! One execution of a plan over rows ([`Run`]): its columns, the walk over the plan that
//! runs each segment (`vectorized`), nested pipeline (`nested`) or node run row by row
//! (`row_by_row`), the reports of its items, and the rows that fail under
//! `OnError::Collect`.

mod data;
mod nested;
mod row_by_row;
mod vectorized;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::chunks::{Chunks, Split};
use super::col::{Col, Conv};
use super::segment::Input;
use super::{ColumnType, ColumnarEngine, ExprNode, Kernel, MIN_ROWS_PER_PARTITION};
use crate::error::{Error, Result};
use crate::events::{Events, ItemEnds, Tick, runs};
use crate::exec::{Executor, ItemFailure, RunConfig};
use crate::map::MapMode;
use crate::nested::NestedNode;
use crate::nested::{NodeKind, kind};
use crate::node::Node;
use crate::plan::MapPlan;
use crate::plan::RunPlan;
use crate::value::{TypeInfo, Value};

use nested::NestedRun;
use row_by_row::RowByRow;
use vectorized::SegmentRun;

/// What the rows of a run are: one item (`run`) or the items of a map.
#[derive(Clone, Copy)]
pub(super) enum Rows<'p> {
    One,
    Map(&'p MapPlan),
}

/// One execution of a plan over rows.
#[derive(Clone)]
pub(super) struct Run<'p> {
    engine: &'p ColumnarEngine,
    pub(super) plan: &'p RunPlan,
    pub(super) rows: usize,
    /// Whether rows are items of a map (errors then name the item).
    is_map: bool,
    pub(super) cols: HashMap<String, Col>,
    /// When set, collects the explanation of each segment while running.
    pub(super) explain: Option<String>,
    /// The cut of the rows into partitions and batches, when not the engine's own (the
    /// inner rows of a nested map are cut where the outer batches end).
    split: Option<Split>,
    /// The configuration the run executes with: the plan's, or the plan's without
    /// callbacks for runs that report nothing (the probes of `execute_collecting`).
    config: Arc<RunConfig>,
    /// Per row, whether a node computed it, for runs that report items whose every node
    /// was found in the cache.
    computed: Option<Arc<Vec<AtomicBool>>>,
    /// The ends of the items, to report when the last node finishes each batch (when
    /// it runs in a segment) or at the end.
    ends: Option<ItemEnds>,
}

impl<'p> Run<'p> {
    /// A run over columns prepared by the caller (the flattened rows of a nested map).
    pub(super) fn with_columns(
        engine: &'p ColumnarEngine,
        plan: &'p RunPlan,
        rows: usize,
        is_map: bool,
        mut cols: HashMap<String, Col>,
    ) -> Run<'p> {
        for (name, value) in plan.inputs().iter() {
            cols.insert(name.to_string(), Col::Const(value.clone()));
        }
        Run {
            engine,
            plan,
            rows,
            is_map,
            cols,
            explain: None,
            split: None,
            config: plan.config_arc().clone(),
            computed: None,
            ends: None,
        }
    }

    pub(super) fn new(engine: &'p ColumnarEngine, plan: &'p RunPlan, rows: Rows<'p>) -> Run<'p> {
        let mut cols: HashMap<String, Col> = plan
            .inputs()
            .iter()
            .map(|(name, value)| (name.to_string(), Col::Const(value.clone())))
            .collect();
        let n = match rows {
            Rows::One => 1,
            Rows::Map(map) => {
                // Zip reads element i of every list on row i; product, or a window of a
                // map, needs an index.
                let indexed = map.mode() == MapMode::Product || map.first() > 0;
                let mut indices: Vec<Option<Vec<u32>>> = map
                    .over()
                    .iter()
                    .map(|_| indexed.then(|| Vec::with_capacity(map.len())))
                    .collect();
                if indexed {
                    for item in 0..map.len() {
                        map.for_each_element(item, |k, e| indices[k].as_mut().expect("indexed").push(e as u32));
                    }
                }
                for (mapped, index) in map.over().iter().zip(indices) {
                    let index = index.map(Arc::new);
                    let elem = map
                        .run_plan()
                        .pipeline()
                        .input_type(mapped.name())
                        .expect("an input")
                        .this_fn();
                    cols.insert(
                        mapped.name().to_string(),
                        Col::List {
                            list: Arc::new(mapped.list().clone()),
                            elem,
                            index,
                        },
                    );
                }
                map.len()
            }
        };
        Run {
            engine,
            plan,
            rows: n,
            is_map: matches!(rows, Rows::Map(_)),
            cols,
            explain: None,
            split: None,
            config: plan.config_arc().clone(),
            computed: None,
            ends: None,
        }
    }

    /// Executes the run over the items of a map, reporting their start and end (each
    /// batch's) to the run's callbacks, if any: `incremental`, each batch ends when the
    /// last node finishes it, if that node runs in a segment; else all at the end.
    pub(super) fn execute_items(&mut self, incremental: bool) -> Result<()> {
        let Some(events) = self.config.events().cloned() else {
            return self.execute();
        };
        let started = events.tick();
        let batches: Vec<Range<usize>> = self
            .split()
            .partitions
            .iter()
            .flatten()
            .map(|&(s, l)| s..s + l)
            .collect();
        for items in &batches {
            events.item_start(items.clone());
        }
        if self.config.cache().is_some() {
            self.computed = Some(Arc::new((0..self.rows).map(|_| AtomicBool::new(false)).collect()));
        }
        let ends = ItemEnds {
            events,
            started,
            computed: self.computed.clone(),
        };
        self.ends = incremental.then(|| ends.clone());
        let done = self.execute();
        // A last segment that ended them took `self.ends`; otherwise they end now.
        let ended_by_segment = incremental && self.ends.take().is_none();
        if done.is_ok() && !ended_by_segment {
            for items in batches {
                ends.done(items);
            }
        }
        done
    }

    /// This run reporting nothing to callbacks.
    pub(super) fn quiet(mut self) -> Run<'p> {
        if self.config.events().is_some() {
            self.config = Arc::new((*self.config).clone().without_events());
        }
        self.computed = None;
        self.ends = None;
        self
    }

    /// Whether `node` runs in a segment: a SQL expression node, or a node with a kernel
    /// unless it has retries or a timeout (its own or the run's), which apply per call
    /// of the function, or the map executor is `threaded` or `async` (chosen for calls
    /// that block or wait, which a kernel would make one after another), so such a node
    /// runs row by row on the map executor.
    fn vectorizable(&self, node: &Node) -> bool {
        let config = &self.config;
        let guarded = node.retry().or(config.retry()).is_some()
            || node.timeout().or(config.timeout()).is_some()
            || matches!(config.map_executor(), Some(Executor::Threaded(_) | Executor::Async(_)));
        (Kernel::find(node).is_some() && !guarded) || ExprNode::find(node).is_some()
    }

    /// A run of the same plan over some of this run's rows (indices, in the order
    /// given), made before this run executes: its inputs restricted to those rows.
    fn subset(&self, rows: &[u32]) -> Result<Run<'p>> {
        let mut cols = HashMap::with_capacity(self.cols.len());
        for (name, col) in &self.cols {
            let col = match col {
                Col::Const(v) => Col::Const(v.clone()),
                Col::Arrow(c, conv) => Col::Arrow(Chunks::one(c.take_rows(rows)?), conv.clone()),
                Col::List { list, elem, index } => Col::List {
                    list: list.clone(),
                    elem: *elem,
                    index: Some(Arc::new(
                        rows.iter()
                            .map(|&r| index.as_ref().map_or(r, |ix| ix[r as usize]))
                            .collect(),
                    )),
                },
            };
            cols.insert(name.clone(), col);
        }
        Ok(Run {
            rows: rows.len(),
            cols,
            split: None,
            ..self.clone()
        }
        .quiet())
    }

    /// Executes the run under [`OnError::Collect`](crate::OnError::Collect): when some rows
    /// fail, finds them (each batch of rows on its own, then each row of a failing batch
    /// alone) and runs the other rows again. Returns the run over the rows that succeeded,
    /// those rows, and the failures in row order, each naming its row in this run.
    pub(super) fn execute_collecting(self) -> Result<(Run<'p>, Vec<u32>, Vec<ItemFailure>)> {
        let mut good: Vec<u32> = (0..self.rows as u32).collect();
        let mut failures: Vec<ItemFailure> = Vec::new();
        let mut attempt = self.clone();
        // The first attempt reports as any run does; the error it reported, if it fails.
        let first = match attempt.execute_items(false) {
            Ok(()) => return Ok((attempt, good, failures)),
            Err(e) => e,
        };
        let events = self.config.events().cloned().filter(|_| self.is_map);
        let started = events.as_ref().map_or_else(Tick::now, Events::tick);
        loop {
            // Probe: batches, then the rows of failing batches, of the rows still good.
            let mut still = Vec::with_capacity(good.len());
            for chunk in good.chunks(self.engine.batch_size.max(1)) {
                let mut probe = self.subset(chunk)?;
                if probe.execute().is_ok() {
                    still.extend_from_slice(chunk);
                    continue;
                }
                for &row in chunk {
                    let mut one = self.subset(&[row])?;
                    match one.execute() {
                        Ok(()) => still.push(row),
                        Err(e) => failures.push(ItemFailure::new(row as usize, e.map_item(|_| Some(row as usize)))),
                    }
                }
            }
            // A node that fails on a row only some of the time can make the rerun fail
            // again: probe again, with fewer rows each time.
            good = still;
            let mut attempt = self.subset(&good)?;
            if attempt.execute().is_err() {
                continue;
            }
            failures.sort_by_key(ItemFailure::item);
            if let Some(events) = events {
                // The failures the first attempt did not report, and the items that
                // succeeded.
                let nodes = self.plan.pipeline().nodes();
                for f in &failures {
                    let reported = Some(f.item()) == first.item() && Some(f.node()) == first.node();
                    if let (false, Some(node)) = (reported, nodes.iter().find(|n| n.name() == f.node())) {
                        events.node_error(node, Some(f.item()), f.error());
                    }
                }
                runs(good.iter().map(|&r| r as usize), |items| {
                    events.item_end(items, started.elapsed())
                });
            }
            return Ok((attempt, good, failures));
        }
    }

    fn node(&self, i: usize) -> &'p Node {
        &self.plan.pipeline().nodes()[i]
    }

    /// Runs every node: maximal runs of nodes with kernels as one DataFusion plan, the
    /// others row by row.
    pub(super) fn execute(&mut self) -> Result<()> {
        let order = self.plan.nodes();
        let mut at = 0;
        let mut segment = 0;
        while at < order.len() {
            let end = (at..order.len())
                .find(|&j| !self.vectorizable(self.node(order[j])))
                .unwrap_or(order.len());
            if end > at {
                segment += 1;
                // The last segment ends the items of each batch it finishes.
                let ends = if end == order.len() { self.ends.take() } else { None };
                SegmentRun::new(self).execute(&order[at..end], segment, ends)?;
                at = end;
            } else {
                let node = self.node(order[at]);
                if let NodeKind::Nested(nested) = kind(node)
                    && self.can_vectorize(order[at], nested)
                {
                    NestedRun::new(self).execute(order[at], nested)?;
                    at += 1;
                    continue;
                }
                // The nodes that run row by row from here on, run wave by wave.
                let end = (at..order.len())
                    .find(|&j| !self.runs_row_by_row(order[j]))
                    .unwrap_or(order.len());
                RowByRow::new(self).execute(&order[at..end])?;
                at = end;
            }
        }
        Ok(())
    }

    /// Whether node `i` runs row by row (not in a segment, not a nested pipeline run over
    /// flattened columns).
    fn runs_row_by_row(&self, i: usize) -> bool {
        let node = self.node(i);
        match kind(node) {
            NodeKind::Nested(nested) => !self.can_vectorize(i, nested),
            NodeKind::Func(_) => !self.vectorizable(node),
        }
    }

    /// The Arrow conversions for values named `name`: its producer's or any reader's.
    fn column_type(&self, name: &str) -> Option<&'static ColumnType> {
        match Conv::find(self.plan.pipeline(), name) {
            Some(Conv::Leaf(ct)) => Some(ct),
            _ => None,
        }
    }

    /// The column `name` in Arrow: a one-row array when it is a constant, else its chunks.
    fn arrow(&self, name: &str) -> Result<Input> {
        let col = &self.cols[name];
        // Unreachable: `name` is read by a vectorized node, whose parameters are all
        // columnar (a lifted kernel exists only for columnar types, `batch = ..` requires
        // them at compile time, and an expression node checks them when built), and the
        // values in `cols` have the types the plan checked.
        let ct = || {
            self.column_type(name)
                .ok_or_else(|| Error::Internal(format!("'{name}' has no Arrow type")))
        };
        // Unreachable: as above, a value of a columnar type converts.
        let unconvertible = || Error::Internal(format!("'{name}' is not convertible"));
        Ok(match col {
            Col::Arrow(c, _) => Input::Column(c.clone()),
            Col::Const(v) => Input::Const((ct()?.value_to_array)(v).ok_or_else(unconvertible)?),
            Col::List { list, index, .. } => Input::List {
                list: list.clone(),
                index: index.clone(),
                ct: ct()?,
            },
        })
    }

    /// How this run's rows are cut into partitions and batches.
    /// The cut of the rows: the engine's partitions, only for inputs large enough to
    /// gain from them; under a `parallel:N` map executor (items declared costly), N
    /// partitions over any number of rows.
    pub(super) fn split(&self) -> Split {
        self.split.clone().unwrap_or_else(|| {
            let (partitions, min_rows) = match self.config.map_executor() {
                Some(Executor::Parallel(n)) => (n, 1),
                _ => (self.engine.partitions, MIN_ROWS_PER_PARTITION),
            };
            Split::new(self.rows, partitions, self.engine.batch_size, min_rows)
        })
    }

    /// Whether a nested pipeline can run over flattened columns here: not when it has an
    /// engine of its own; without `map_over` always; with it, when the lists it maps over and the outputs it returns have
    /// columnar element types (lists of other types cannot be split without copying).
    fn can_vectorize(&self, i: usize, nested: &NestedNode) -> bool {
        let inner = nested.pipeline();
        let columnar = |t: Option<TypeInfo>| t.and_then(|t| ColumnType::find(&t)).is_some();
        let kept = nested
            .inner_outputs()
            .iter()
            .zip(self.plan.kept_outputs(i))
            .filter(|(_, k)| **k);
        if inner.engine().is_some() {
            return false; // it runs on its own engine
        }
        nested.map_over().is_empty()
            || (nested.map_over().iter().all(|m| columnar(inner.input_type(m)))
                && kept.into_iter().all(|(o, _)| columnar(inner.output_type(o))))
    }

    /// The value of column `name` at `row`, `None` when it is null (only Arrow data, given
    /// by the caller or made by a vectorized node from a null, holds nulls).
    fn value_at(&self, name: &str, row: usize) -> Option<Value> {
        match &self.cols[name] {
            Col::Const(v) => Some(v.clone()),
            Col::List { list, elem, index } => {
                let j = index.as_ref().map_or(row, |ix| ix[row] as usize);
                Some(Value::item(list.clone(), j, *elem))
            }
            Col::Arrow(c, conv) => {
                let (array, at) = c.locate(row);
                conv.value_at(array, at)
            }
        }
    }

    /// The arguments of `node` at `row`: a null where the node reads a type without nulls
    /// fails the node on that row (a vectorized node would skip the row; a node run row
    /// by row has no null to return).
    fn args_at(&self, node: &Node, row: usize) -> Result<Vec<Value>> {
        node.params()
            .iter()
            .map(|p| {
                self.value_at(p.name(), row).ok_or_else(|| Error::NodeFailed {
                    node: node.name().into(),
                    item: self.is_map.then_some(row),
                    source: format!(
                        "'{}' is null, and the node reads it as {}, which has no null (read it as an Option to accept nulls)",
                        p.name(),
                        p.type_info()
                    )
                    .into(),
                })
            })
            .collect()
    }

    /// The value of output `name` of a one-item run.
    pub(super) fn take_single(&mut self, name: &str) -> Result<Value> {
        // Unreachable: every output the plan returns is computed, and none of a one-item
        // run is null (its inputs are Rust values, a vectorized node makes a null only
        // from a null, and an expression node's null fails that node).
        let value = self
            .cols
            .contains_key(name)
            .then(|| self.value_at(name, 0))
            .flatten()
            .ok_or_else(|| Error::Internal(format!("output '{name}' was not computed")))?;
        self.cols.remove(name);
        Ok(value)
    }
}
