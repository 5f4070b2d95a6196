//! A nested pipeline run over all rows of a run at once ([`NestedRun`]): the lists it maps
//! over flattened into one set of rows, its outputs rebuilt into lists.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{Array, ArrayRef, AsArray, ListArray};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field};

use super::Run;
use super::data::Columns;
use crate::columnar::chunks::{Chunks, Split};
use crate::columnar::col::{Col, Conv};
use crate::columnar::gather;
use crate::columnar::types::ColumnType;
use crate::error::{Error, Result};
use crate::events::NodeData;
use crate::map::MapMode;
use crate::nested::NestedNode;
use crate::plan::RunPlan;

/// Runs a nested pipeline node of a run over all of the run's rows at once, its outputs
/// stored into the run as columns.
pub(super) struct NestedRun<'r, 'p> {
    run: &'r mut Run<'p>,
}

impl<'r, 'p> NestedRun<'r, 'p> {
    /// A nested node of `run`, about to run.
    pub(super) fn new(run: &'r mut Run<'p>) -> NestedRun<'r, 'p> {
        NestedRun { run }
    }

    /// Runs a nested pipeline over all rows at once: the lists it maps over are
    /// flattened into one set of rows, the inner pipeline runs over those (vectorized
    /// where it can be), and each output is rebuilt into lists from the same offsets.
    /// Without `map_over` the inner pipeline runs over the outer rows as they are.
    pub(super) fn execute(&mut self, i: usize, nested: &NestedNode) -> Result<()> {
        let Some(events) = self.run.config.events().cloned() else {
            return self.execute_inner(i, nested);
        };
        let node = self.run.node(i);
        let inputs = Columns(self.run);
        events.node_start(node, 0..self.run.rows, &NodeData::batch(node.params(), &inputs));
        let started = events.tick();
        let done = self.execute_inner(i, nested);
        match &done {
            Ok(()) => {
                let outputs = Columns(self.run);
                let data = NodeData::batch(node.outputs(), &outputs);
                events.node_end(node, 0..self.run.rows, started.elapsed(), &data)
            }
            Err(e) => events.node_error(node, e.item(), e),
        }
        done
    }

    /// [`NestedRun::execute`], reporting the inner run only.
    fn execute_inner(&mut self, i: usize, nested: &NestedNode) -> Result<()> {
        let node = self.run.node(i);
        let keep = self.run.plan.kept_outputs(i);
        let inner = nested.pipeline();
        if let Some(text) = &mut self.run.explain {
            let _ = writeln!(text, "nested: {} (vectorized over flattened lists)", node.name());
        }
        let outer_of = |inner_name: &str| {
            let k = nested
                .inner_params()
                .iter()
                .position(|n| n == inner_name)
                .expect("a parameter");
            node.params()[k].name()
        };

        // The inner rows: for each outer row, its items; `parent[r]` is the outer row of
        // inner row `r`, `starts[o]` the first inner row of outer row `o`.
        let mut lists = Vec::with_capacity(nested.map_over().len());
        for m in nested.map_over() {
            let ct = ColumnType::find(&inner.input_type(m).expect("an input")).expect("checked");
            lists.push((m.as_str(), ct, self.list_array(outer_of(m), ct)?));
        }
        let mode = nested.mode();
        let mut starts: Vec<usize> = Vec::with_capacity(self.run.rows + 1);
        let mut rows = 0;
        let mut lens = vec![0; lists.len()];
        for row in 0..self.run.rows {
            starts.push(rows);
            if lists.is_empty() {
                rows += 1;
                continue;
            }
            for (len, (_, _, l)) in lens.iter_mut().zip(&lists) {
                *len = l.value_length(row) as usize;
            }
            rows += match mode {
                MapMode::Zip => {
                    if lens.iter().any(|&l| l != lens[0]) {
                        return Err(Error::NodeFailed {
                            node: node.name().into(),
                            item: self.run.is_map.then_some(row),
                            source: Box::new(Error::ZipLengthMismatch {
                                lengths: lists
                                    .iter()
                                    .zip(&lens)
                                    .map(|((m, _, _), &l)| ((*m).into(), l))
                                    .collect(),
                            }),
                        });
                    }
                    lens[0]
                }
                MapMode::Product => lens.iter().product(),
            };
        }
        starts.push(rows);
        // The outer row of inner row `r`.
        let outer_row = |r: usize| starts.partition_point(|&s| s <= r) - 1;
        // A null list (from Arrow data) maps to a null list.
        let nulls = lists.iter().fold(None, |acc, (_, _, l)| {
            NullBuffer::union(acc.as_ref(), l.logical_nulls().as_ref())
        });
        // Zip over lists whose items are all in order, back to back: their child values,
        // sliced, copy nothing. Otherwise the element of each list on every inner row.
        let contiguous = |l: &ListArray| {
            let o = l.value_offsets();
            mode == MapMode::Zip && (o[o.len() - 1] - o[0]) as usize == rows
        };
        let mut child_index: Vec<Vec<u32>> = vec![Vec::new(); lists.len()];
        if !lists.iter().all(|(_, _, l)| contiguous(l)) {
            for row in 0..self.run.rows {
                for (len, (_, _, l)) in lens.iter_mut().zip(&lists) {
                    *len = l.value_length(row) as usize;
                }
                for item in 0..starts[row + 1] - starts[row] {
                    mode.for_each_element(
                        lists.len(),
                        |k| lens[k],
                        item,
                        |k, j| child_index[k].push(lists[k].2.value_offsets()[row] as u32 + j as u32),
                    );
                }
            }
        }
        // For inner inputs that are not mapped: the outer row of every inner row.
        let repeated = nested.inner_params().iter().any(|p| !nested.map_over().contains(p));
        let parent: Arc<Vec<u32>> = Arc::new(if repeated && !lists.is_empty() {
            (0..self.run.rows)
                .flat_map(|row| std::iter::repeat_n(row as u32, starts[row + 1] - starts[row]))
                .collect()
        } else {
            Vec::new()
        });

        // The inner columns: flattened lists, and the outer columns repeated per item.
        let mut cols = HashMap::new();
        for ((m, ct, list), index) in lists.iter().zip(child_index) {
            // Zip visits each list's items in order: its child values, sliced, copy nothing.
            let values = if contiguous(list) {
                list.values().slice(list.value_offsets()[0] as usize, rows)
            } else {
                gather(m, list.values().as_ref(), index)?
            };
            cols.insert(m.to_string(), Col::Arrow(Chunks::one(values), Conv::Leaf(ct)));
        }
        for (k, inner_name) in nested.inner_params().iter().enumerate() {
            if !nested.map_over().contains(inner_name) {
                let col = if lists.is_empty() {
                    self.run.cols[node.params()[k].name()].clone()
                } else {
                    self.repeat(node.params()[k].name(), &parent)?
                };
                cols.insert(inner_name.clone(), col);
            }
        }
        let select: Vec<String> = nested
            .inner_outputs()
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(n, _)| n.clone())
            .collect();
        // A bad setting of the inner pipeline fails the nested node, as in the node engine
        // (on its first item).
        let config = nested.config(&self.run.config).map_err(|e| Error::NodeFailed {
            node: nested.name().into(),
            item: self.run.is_map.then_some(0),
            source: Box::new(e),
        })?;
        // With callbacks, the inner run reports one level deeper, for all outer rows.
        let config = match self.run.config.context() {
            Some(ctx) if !config.callbacks().is_empty() => {
                let ctx = ctx.child(nested.name(), inner.name(), self.run.is_map.then_some(0..self.run.rows));
                Arc::new((*config).clone().in_context(ctx))
            }
            _ => config,
        };
        let plan = RunPlan::for_columns(inner, Some(&select), config)?;
        // The inner rows are cut where the outer batches end, so each inner output chunk
        // holds the items of one outer batch and becomes that batch's lists without a copy.
        let outer_split = self.run.split();
        let inner_split = Split {
            partitions: outer_split
                .partitions
                .iter()
                .map(|batches| {
                    batches
                        .iter()
                        .map(|&(s, l)| (starts[s], starts[s + l] - starts[s]))
                        .filter(|&(_, l)| l > 0)
                        .collect()
                })
                .collect(),
        };
        // Over mapped lists the inner rows are items; without, they are the outer rows,
        // items only when those are.
        let inner_is_map = !lists.is_empty() || self.run.is_map;
        let mut child = Run::with_columns(self.run.engine, &plan, rows, inner_is_map, cols);
        child.split = Some(inner_split);
        child.explain = self.run.explain.as_ref().map(|_| String::new());
        let events = child.config.events().cloned();
        if let Some(events) = &events {
            events.nested_start();
        }
        let result = if lists.is_empty() {
            // The inner rows are the outer rows.
            child.computed = self.run.computed.clone();
            child.execute()
        } else {
            let result = crate::run::events_of_map(&child.config.clone(), rows, || child.execute_items(true));
            if let (Some(outer), Some(inner)) = (&self.run.computed, &child.computed) {
                for o in 0..self.run.rows {
                    if (starts[o]..starts[o + 1]).any(|r| inner[r].load(Ordering::Relaxed)) {
                        outer[o].store(true, Ordering::Relaxed);
                    }
                }
            }
            result
        };
        if let Some(events) = &events {
            events.nested_end(result.as_ref().err());
        }
        if let (Some(text), Some(inner_text)) = (&mut self.run.explain, child.explain.take()) {
            // The inner run's own segments, indented under the nested node.
            for line in inner_text.lines() {
                let _ = writeln!(text, "  {line}");
            }
        }
        if let Err(e) = result {
            // Name the outer item and, within it, the inner item, as the node engine does
            // (a failure of a whole batch names neither).
            let (item, e) = match e.item() {
                Some(r) => {
                    let outer = outer_row(r);
                    let inner = (!lists.is_empty()).then(|| r - starts[outer]);
                    (self.run.is_map.then_some(outer), e.map_item(|_| inner))
                }
                None => (None, e),
            };
            return Err(Error::NodeFailed {
                node: node.name().into(),
                item,
                source: Box::new(e),
            });
        }

        // The outputs, rebuilt into lists with the same offsets.
        for ((port, inner_name), &k) in node.outputs().iter().zip(nested.inner_outputs()).zip(keep) {
            if !k {
                continue;
            }
            let inner_type = inner.output_type(inner_name).expect("an output");
            // Unreachable: the inner run computed every output in `select`.
            let col = child
                .cols
                .remove(inner_name.as_str())
                .ok_or_else(|| Error::Internal(format!("'{inner_name}' was not computed")))?;
            if lists.is_empty() {
                self.run.cols.insert(port.name().to_string(), col);
                continue;
            }
            let (values, conv) = match col {
                Col::Arrow(c, conv) => (c, conv),
                Col::List { list, index: None, .. } => {
                    let ct = ColumnType::find(&inner_type).expect("checked by can_vectorize");
                    // Unreachable: a `Vec` of the output's columnar type converts.
                    let array = (ct.list_to_array)(&list)
                        .ok_or_else(|| Error::Internal(format!("'{inner_name}' is not convertible")))?;
                    (Chunks::one(array), Conv::Leaf(ct))
                }
                // Unreachable: over mapped lists the inner run is a map, whose node outputs
                // are Arrow columns or unindexed lists, never constants.
                _ => return Err(Error::Internal(format!("'{inner_name}' has an unexpected shape"))),
            };
            // One list chunk per outer batch: its items' values (a slice of one inner
            // chunk when the cuts line up) and its own offsets.
            let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
            let mut chunks: Vec<ArrayRef> = Vec::new();
            for &(s, l) in outer_split.partitions.iter().flatten() {
                let items = values.range(starts[s], starts[s + l] - starts[s])?;
                let offsets = OffsetBuffer::from_lengths(starts[s..=s + l].windows(2).map(|w| w[1] - w[0]));
                let nulls = nulls.as_ref().map(|n| n.slice(s, l));
                chunks.push(Arc::new(ListArray::new(field.clone(), offsets, items, nulls)));
            }
            let data_type = DataType::List(field.clone());
            self.run.cols.insert(
                port.name().to_string(),
                Col::Arrow(
                    Chunks::from_arrays(chunks, &data_type),
                    Conv::List {
                        child: Box::new(conv),
                        elem: inner_type,
                    },
                ),
            );
        }
        Ok(())
    }

    /// Column `name` (whose rows are lists) as one list array over all rows.
    fn list_array(&self, name: &str, child: &'static ColumnType) -> Result<ListArray> {
        // Unreachable: `name` feeds a `map_over` input, whose type the pipeline checked to
        // be a list of the columnar type `child` (see `can_vectorize`).
        let not_lists = || Error::Internal(format!("'{name}' is not a column of lists"));
        let array: ArrayRef = match &self.run.cols[name] {
            Col::Arrow(c, _) => c.concat()?,
            Col::List { list, index, .. } => {
                (child.lists_to_array)(list, index.as_ref().map(|ix| ix.as_slice())).ok_or_else(not_lists)?
            }
            Col::Const(v) => {
                // The same list on every row.
                let one = (child.list_to_array)(v).ok_or_else(not_lists)?;
                let n = one.len();
                let repeat: Vec<u32> = (0..self.run.rows).flat_map(|_| 0..n as u32).collect();
                let values = gather(name, one.as_ref(), repeat)?;
                let offsets = OffsetBuffer::from_lengths(std::iter::repeat_n(n, self.run.rows));
                Arc::new(ListArray::new(
                    Arc::new(Field::new_list_field((child.data_type)(), true)),
                    offsets,
                    values,
                    None,
                ))
            }
        };
        array.as_list_opt::<i32>().cloned().ok_or_else(not_lists)
    }

    /// Column `name` with row `i` of the result taken from row `parent[i]`.
    fn repeat(&self, name: &str, parent: &Arc<Vec<u32>>) -> Result<Col> {
        Ok(match &self.run.cols[name] {
            Col::Const(v) => Col::Const(v.clone()),
            Col::Arrow(c, conv) => Col::Arrow(
                Chunks::one(gather(name, c.concat()?.as_ref(), parent.to_vec())?),
                conv.clone(),
            ),
            Col::List { list, elem, index } => Col::List {
                list: list.clone(),
                elem: *elem,
                index: Some(Arc::new(match index {
                    None => parent.as_ref().clone(),
                    Some(ix) => parent.iter().map(|&p| ix[p as usize]).collect(),
                })),
            },
        })
    }
}
