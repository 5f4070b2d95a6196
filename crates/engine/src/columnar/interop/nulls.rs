//! Rows where a column holds no value of the type its nodes read (a null where the type
//! is not an `Option`), through another engine as the columnar engine runs them: the
//! nodes reading such a value are not called on that row, their outputs are null there,
//! and so on downstream, while a node reading one of those outputs as an `Option` is
//! called with `None`.
//!
//! A Rust value cannot be null, so the rows are grouped by which columns are missing,
//! and each group runs the pipeline without the nodes that are not called on it (the
//! `Option` outputs of those bound to `None`); the groups' rows are then put back in
//! order.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow::compute::interleave;

use super::{output_fields, rows, rows_of};
use crate::Engine;
use crate::columnar::{ColumnType, ColumnarEngine, df_arrow};
use crate::error::{Error, Result};
use crate::exec::ItemFailure;
use crate::inputs::Inputs;
use crate::node::Node;
use crate::pipeline::Pipeline;
use crate::value::Value;

/// The rows of one group: their rows in the batch, and what the group's run returned.
type Part = (Vec<u32>, RecordBatch, Vec<ItemFailure>);

/// [`ColumnarEngine::apply_selected_on`] over `batch`, where `missing` names each column
/// with its rows that hold no value of its type (at least one).
pub(super) fn apply_with_missing(
    engine: Arc<dyn Engine>,
    pipeline: &Pipeline,
    batch: &RecordBatch,
    select: Option<&[String]>,
    missing: &[(String, Vec<bool>)],
) -> Result<(RecordBatch, Vec<ItemFailure>)> {
    let mut groups: BTreeMap<Vec<bool>, Vec<u32>> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let key = missing.iter().map(|(_, m)| m[row]).collect();
        groups.entry(key).or_default().push(row as u32);
    }
    let mut parts: Vec<Part> = Vec::new();
    // The error of the earliest failing row, as the columnar engine reports it.
    let mut first_error: Option<Error> = None;
    for (key, rows) in groups {
        let names: Vec<&str> = missing
            .iter()
            .zip(&key)
            .filter(|(_, m)| **m)
            .map(|((n, _), _)| n.as_str())
            .collect();
        let part = rows_of(batch, &rows)?;
        let ran = match names.is_empty() {
            true => ColumnarEngine::apply_selected_on(engine.clone(), pipeline, &part, select),
            false => without(engine.clone(), pipeline, &part, select, &names),
        };
        match ran {
            Ok((out, failures)) => parts.push((rows, out, failures)),
            Err(e) if e.item().is_some() => {
                let e = e.map_item(|i| Some(rows[i] as usize));
                if first_error.as_ref().is_none_or(|f| e.item() < f.item()) {
                    first_error = Some(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => merge(parts),
    }
}

/// The pipeline's outputs over `part`, whose columns `names` hold no value on any row:
/// the nodes reading them (or, as a type without nulls, what those make) do not run, and
/// their outputs are null.
fn without(
    engine: Arc<dyn Engine>,
    pipeline: &Pipeline,
    part: &RecordBatch,
    select: Option<&[String]>,
    names: &[&str],
) -> Result<(RecordBatch, Vec<ItemFailure>)> {
    let reads_option = |p: &crate::node::Port| ColumnType::find(&p.type_info()).is_some_and(|ct| ct.nullable);
    let mut absent: HashSet<&str> = names.iter().copied().collect();
    let mut skipped = vec![false; pipeline.nodes().len()];
    loop {
        let mut more = false;
        for (i, node) in pipeline.nodes().iter().enumerate() {
            if !skipped[i]
                && node
                    .params()
                    .iter()
                    .any(|p| absent.contains(p.name()) && !reads_option(p))
            {
                skipped[i] = true;
                absent.extend(node.outputs().iter().map(|p| p.name()));
                more = true;
            }
        }
        if !more {
            break;
        }
    }
    let live: Vec<Node> = pipeline
        .nodes()
        .iter()
        .zip(&skipped)
        .filter(|(_, s)| !**s)
        .map(|(n, _)| n.clone())
        .collect();
    // What the live nodes read of the absent values, they read as an `Option`: `None`.
    let mut bound = Inputs::new();
    for p in live.iter().flat_map(|n| n.params()) {
        if absent.contains(p.name()) {
            bound.insert_value(p.name(), none_of(p)?);
        }
    }
    let mut sub = Pipeline::try_new(live)?.replacing_config(pipeline.config().clone());
    if let Some(name) = pipeline.name() {
        sub = sub.with_name(name);
    }
    let inputs = sub.inputs();
    for (name, value) in pipeline.bound_inputs().iter() {
        if inputs.contains(&name) {
            bound.insert_value(name, value.clone());
        }
    }
    let sub = sub.bind(bound)?;
    let mut wanted: Vec<String> = match select {
        Some(s) => s.to_vec(),
        None => pipeline.outputs().into_iter().map(String::from).collect(),
    };
    wanted.sort();
    let made: Vec<String> = wanted
        .iter()
        .filter(|w| !absent.contains(w.as_str()))
        .cloned()
        .collect();
    let (out, failures) = match made.is_empty() {
        true => (part.clone(), Vec::new()),
        false => ColumnarEngine::apply_selected_on(engine, &sub, part, Some(&made))?,
    };
    // The part's columns, then every output wanted, by name, null where not made.
    let fields = output_fields(pipeline)?;
    let mut schema_fields: Vec<_> = part.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut arrays: Vec<ArrayRef> = out.columns()[..part.num_columns()].to_vec();
    for name in &wanted {
        // Unreachable: `wanted` are outputs of the pipeline (the plan checked `select`).
        let field = fields
            .iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| Error::Internal(format!("output '{name}' has no field")))?;
        let array = match out.column_by_name(name) {
            Some(a) => a.clone(),
            None => new_null_array(field.data_type(), out.num_rows()),
        };
        schema_fields.push(field.clone());
        arrays.push(array);
    }
    let schema = Arc::new(arrow::datatypes::Schema::new(schema_fields));
    // Unreachable: the fields were made from these arrays' types, each of the part's rows.
    let out = RecordBatch::try_new_with_options(schema, arrays, &rows(out.num_rows())).map_err(df_arrow)?;
    Ok((out, failures))
}

/// `None` as a value of the `Option` type port `p` reads.
fn none_of(p: &crate::node::Port) -> Result<Value> {
    let none = ColumnType::find(&p.type_info())
        .and_then(|ct| (ct.array_value)(new_null_array(&(ct.data_type)(), 1).as_ref(), 0));
    // Unreachable: only a columnar `Option` parameter is called on a missing value.
    none.ok_or_else(|| Error::Internal(format!("no null of {}", p.type_info())))
}

/// The rows of every part in the batch's order, and their failures naming rows of the batch.
fn merge(parts: Vec<Part>) -> Result<(RecordBatch, Vec<ItemFailure>)> {
    let mut picks: Vec<(u32, usize, usize)> = Vec::new();
    let mut failures = Vec::new();
    for (p, (rows, _, fails)) in parts.iter().enumerate() {
        let failed: HashSet<usize> = fails.iter().map(ItemFailure::item).collect();
        let good = (0..rows.len()).filter(|i| !failed.contains(i));
        picks.extend(good.enumerate().map(|(k, i)| (rows[i], p, k)));
    }
    picks.sort_unstable();
    let index: Vec<(usize, usize)> = picks.iter().map(|&(_, p, k)| (p, k)).collect();
    let schema = parts[0].1.schema();
    let columns = (0..schema.fields().len())
        .map(|c| {
            let refs: Vec<&dyn Array> = parts.iter().map(|(_, b, _)| b.column(c).as_ref()).collect();
            // Over 2 GiB of strings in one column does not fit one array.
            interleave(&refs, &index).map_err(|e| Error::Arrow {
                context: "Cannot put the rows of the batch back in order".into(),
                source: Box::new(e),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    for (rows, _, fails) in parts {
        for f in fails {
            let row = rows[f.item()] as usize;
            failures.push(ItemFailure::new(row, f.into_error().map_item(|_| Some(row))));
        }
    }
    failures.sort_by_key(ItemFailure::item);
    // Unreachable: every part has the batch's columns and the same outputs, of the same types.
    let out = RecordBatch::try_new_with_options(schema, columns, &rows(picks.len())).map_err(df_arrow)?;
    Ok((out, failures))
}
