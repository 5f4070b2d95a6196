//! One segment of a run ([`SegmentRun`]): consecutive nodes run vectorized over the
//! run's columns, explained as the DataFusion plan that computes the same, and a failing
//! SQL expression traced to its node and row.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, ScalarUDF};
use datafusion::physical_plan::displayable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::Run;
use crate::columnar::chunks::{Chunks, Split};
use crate::columnar::col::{Col, Conv};
use crate::columnar::dictionary;
use crate::columnar::frame::{column, with_literals, with_node_columns};
use crate::columnar::segment::{Failure, Input, Segment};
use crate::columnar::{ExprNode, ITEM, df, df_arrow, gather, udf};
use crate::error::{Error, Result};
use crate::events::ItemEnds;
use crate::exec::ExecutorPool;
use crate::exec::{Executor, block_on};
use crate::node::Node;
use crate::node_engine::invoke_node;
use crate::value::Value;

/// Runs one segment of a run: the nodes (consecutive in the plan) that run vectorized,
/// over the run's columns, their kept outputs stored back into the run as Arrow columns.
pub(super) struct SegmentRun<'r, 'p> {
    run: &'r mut Run<'p>,
}

impl<'r, 'p> SegmentRun<'r, 'p> {
    /// The next segment of `run`.
    pub(super) fn new(run: &'r mut Run<'p>) -> SegmentRun<'r, 'p> {
        SegmentRun { run }
    }

    /// Runs `nodes` as the run's segment number `segment`; `ends`, when given, ends the
    /// items of each batch the segment finishes (the run's last segment).
    pub(super) fn execute(&mut self, nodes: &[usize], segment: usize, ends: Option<ItemEnds>) -> Result<()> {
        // The columns this segment reads from earlier work, and the constants.
        let produced: Vec<&str> = nodes
            .iter()
            .flat_map(|&i| self.run.node(i).outputs().iter().map(|p| p.name()))
            .collect();
        let mut reads: Vec<&str> = Vec::new();
        for &i in nodes {
            for p in self.run.node(i).params() {
                if !produced.contains(&p.name()) && !reads.contains(&p.name()) {
                    reads.push(p.name());
                }
            }
        }
        let inputs = reads
            .iter()
            .map(|name| self.run.arrow(name))
            .collect::<Result<Vec<_>>>()?;
        // The batches are cut where the chunks of earlier segments were, so they are slices.
        let split = self.run.split();
        if self.run.explain.is_some() {
            let text = self.explain(nodes, &reads, &inputs, &split, segment)?;
            self.run.explain.get_or_insert_with(String::new).push_str(&text);
        }
        let members: Vec<&Node> = nodes.iter().map(|&i| self.run.node(i)).collect();
        let plan = self.run.plan;
        let compiled = Segment::new(
            &members,
            &reads,
            &inputs,
            |o, k| plan.kept_outputs(nodes[o])[k],
            self.run.is_map,
            &self.run.config,
            self.run.computed.clone(),
        )?
        .with_item_ends(ends);
        let ran = match self.run.config.map_executor() {
            Some(e @ Executor::Parallel(_)) => e
                .pool()
                .expect("a pool")
                .0
                .install(|| compiled.run(&inputs, &split, &self.run.engine.pool)),
            _ => compiled.run(&inputs, &split, &self.run.engine.pool),
        };
        match ran {
            Ok(columns) => {
                for ((name, ct), column) in compiled.kept().zip(columns) {
                    // Kept in the batches that made it: the next segment reads the same batches.
                    self.run
                        .cols
                        .insert(name.to_string(), Col::Arrow(column, Conv::Leaf(ct)));
                }
                Ok(())
            }
            Err(Failure::Node(e)) => Err(e),
            // An expression failed on the data without naming a row: run the batch's rows
            // one by one, as the node engine would, to name the node and item.
            Err(Failure::Expr { start, len, error }) => {
                let e = self.diagnose(nodes, start..start + len)?.unwrap_or_else(|| {
                    let names: Vec<&str> = members.iter().map(|n| n.name()).collect();
                    Error::Arrow {
                        context: format!("Cannot run nodes {}", crate::pipeline::quoted(&names)).into(),
                        source: Box::new(error),
                    }
                });
                if let Some(events) = self.run.config.events()
                    && let Some(node) = members.iter().find(|n| Some(n.name()) == e.node())
                {
                    events.node_error(node, e.item(), &e);
                }
                Err(e)
            }
        }
    }

    /// The segment as the DataFusion plan that computes the same (each node a UDF, each
    /// expression node its expression), for
    /// [`ColumnarEngine::explain`](crate::ColumnarEngine::explain).
    fn explain(
        &self,
        nodes: &[usize],
        reads: &[&str],
        inputs: &[Input],
        split: &Split,
        segment: usize,
    ) -> Result<String> {
        // Every batch carries its items as a hidden run-end encoded column (two numbers).
        let mut fields = vec![Field::new(ITEM, udf::item_type(), false)];
        let mut columns: Vec<Chunks> = Vec::new();
        let mut literals: HashMap<&str, ScalarValue> = HashMap::new();
        for (&name, input) in reads.iter().zip(inputs) {
            match input {
                // Unreachable: a one-row array of a columnar type makes a scalar.
                Input::Const(a) => {
                    literals.insert(name, ScalarValue::try_from_array(a.as_ref(), 0).map_err(df)?);
                }
                Input::Column(c) => {
                    // A dictionary-encoded column as the nodes read it.
                    let c = c.try_map(|a| dictionary::unpack_column(name, a))?;
                    fields.push(Field::new(name, c.data_type().clone(), true));
                    columns.push(c);
                }
                Input::List { list, index, ct } => {
                    // Unreachable: the list has the type `ct` converts.
                    let a = (ct.list_to_array)(list)
                        .ok_or_else(|| Error::Internal(format!("'{name}' is not convertible")))?;
                    let a = match index {
                        None => a,
                        Some(ix) => gather(name, a.as_ref(), ix.to_vec())?,
                    };
                    fields.push(Field::new(name, a.data_type().clone(), true));
                    columns.push(Chunks::one(a));
                }
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let partitions = split
            .partitions
            .iter()
            .map(|batches| {
                batches
                    .iter()
                    .map(|&(start, len)| {
                        let mut arrays = vec![udf::item_column(start, len)];
                        for c in &columns {
                            arrays.push(c.range(start, len)?);
                        }
                        // Unreachable: the fields were made from these columns' types,
                        // and every range has `len` rows.
                        RecordBatch::try_new(schema.clone(), arrays).map_err(df_arrow)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let config = SessionConfig::new()
            .with_target_partitions(split.partitions.len())
            .with_batch_size(self.run.engine.batch_size);
        let ctx = SessionContext::new_with_config(config);
        // Unreachable: the batches were made with this schema.
        let table = MemTable::try_new(schema, partitions).map_err(df)?;
        // Unreachable: reading an in-memory table plans nothing that can fail.
        let mut frame = ctx.read_table(Arc::new(table)).map_err(df)?;
        let errors = Arc::new(Mutex::new(None::<(usize, usize, Error)>));
        let mut keep: Vec<&str> = Vec::new();
        for (order, &i) in nodes.iter().enumerate() {
            let node = self.run.node(i);
            let call = match ExprNode::find(node) {
                Some(e) => with_literals(e.expr(), &literals)?,
                None => {
                    let mut args = vec![column(ITEM)];
                    args.extend(node.params().iter().map(|p| match literals.get(p.name()) {
                        Some(v) => Expr::Literal(v.clone(), None),
                        None => column(p.name()),
                    }));
                    let udf = udf::NodeUdf::try_new(node, order, self.run.is_map, Some(errors.clone()))?;
                    ScalarUDF::new_from_impl(udf).call(args)
                }
            };
            // Unreachable: the frame holds every column the call reads, of the types the
            // pipeline checked.
            frame = with_node_columns(frame, node, call).map_err(df)?;
            let kept = self.run.plan.kept_outputs(i);
            keep.extend(
                node.outputs()
                    .iter()
                    .zip(kept)
                    .filter(|(_, k)| **k)
                    .map(|(p, _)| p.name()),
            );
        }
        // Unreachable: every name is a column added above.
        let frame = frame.select_columns(&keep).map_err(df)?;
        let names: Vec<&str> = nodes.iter().map(|&i| self.run.node(i).name()).collect();
        let mut text = String::new();
        let _ = writeln!(
            text,
            "segment {segment}: {} (vectorized, {} partition(s))",
            names.join(", "),
            split.partitions.len()
        );
        let _ = writeln!(
            text,
            "runs its kernels directly over Arrow batches; as a DataFusion plan:"
        );
        // Unreachable: this only shows the plan.
        let logical = frame.clone().into_optimized_plan().map_err(df)?;
        let _ = writeln!(text, "logical plan:\n{}", logical.display_indent());
        // Unreachable: as above.
        let physical = block_on(frame.create_physical_plan()).map_err(df)?;
        let _ = writeln!(text, "physical plan:\n{}", displayable(physical.as_ref()).indent(true));
        Ok(text)
    }

    /// Which node fails on which of `rows` when a segment failed with no node named (a
    /// SQL expression failing on the data): the segment's nodes run row by row, item by
    /// item as the node engine runs them, until one fails. Rows where a node reads a null
    /// are skipped for it and what reads its outputs, as in the plan. `None` when no node
    /// fails this way.
    fn diagnose(&self, nodes: &[usize], rows: std::ops::Range<usize>) -> Result<Option<Error>> {
        for row in rows {
            let mut made: HashMap<&str, Option<Value>> = HashMap::new();
            for &i in nodes {
                let node = self.run.node(i);
                let args: Option<Vec<Value>> = node
                    .params()
                    .iter()
                    .map(|p| match made.get(p.name()) {
                        Some(v) => v.clone(),
                        None => self.run.value_at(p.name(), row),
                    })
                    .collect();
                let ports = node.outputs();
                let Some(args) = args else {
                    made.extend(ports.iter().map(|p| (p.name(), None)));
                    continue;
                };
                let refs: Vec<&Value> = args.iter().collect();
                let keep = vec![true; ports.len()];
                match invoke_node(&self.run.config, node, &keep, &refs, self.run.is_map.then_some(row)) {
                    Err(e) => return Ok(Some(e)),
                    Ok(out) => out.for_each(|k, v| {
                        made.insert(ports[k].name(), Some(v));
                    }),
                }
            }
        }
        Ok(None)
    }
}
