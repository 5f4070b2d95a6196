//! [`ColumnarEngine::apply_to_batch_on`]: a batch through another engine, its columns
//! made lists of Rust values and the results made columns again.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};

use super::{failed_first, input_columns, mapped_output_type, nulls, reader_of, rows, rows_of};
use crate::Engine;
use crate::Run as _;
use crate::columnar::expr::as_written;
use crate::columnar::types::Elements;
use crate::columnar::{Chunks, ColumnType, ColumnarEngine, Conv, df_arrow, gather};
use crate::error::{Error, Result};
use crate::exec::ItemFailure;
use crate::inputs::Inputs;
use crate::map::MapMode;
use crate::pipeline::Pipeline;
use crate::run::RunOptions;

impl ColumnarEngine {
    /// What [`ColumnarEngine::apply_to_batch`] does, on another engine: the input
    /// columns become lists of Rust values, `engine` maps the pipeline over them (zip), and
    /// the outputs become Arrow columns again. Gives the same batch as `apply_to_batch`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int64Array, RecordBatch};
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2])) as _)]).unwrap();
    /// let p = Pipeline::new([double::node()]);
    /// let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &batch)?;
    /// assert_eq!(by_rows, ColumnarEngine::new().apply_to_batch(&p, &batch)?);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`ColumnarEngine::apply_to_batch`]. As there, a node whose parameter is not an
    /// `Option` is not called on a row where its column is null: its outputs are null.
    pub fn apply_to_batch_on(engine: Arc<dyn Engine>, pipeline: &Pipeline, batch: &RecordBatch) -> Result<RecordBatch> {
        let (out, failures) = Self::apply_selected_on(engine, pipeline, batch, None)?;
        failed_first(out, failures)
    }

    /// [`ColumnarEngine::apply_to_batch_on`] returning the outputs in `select` when given.
    #[doc(hidden)]
    pub fn apply_selected_on(
        engine: Arc<dyn Engine>,
        pipeline: &Pipeline,
        batch: &RecordBatch,
        select: Option<&[String]>,
    ) -> Result<(RecordBatch, Vec<ItemFailure>)> {
        let mut inputs = Inputs::new();
        let mut over = Vec::new();
        let mut missing = Vec::new();
        for (name, array, conv) in input_columns(pipeline, batch, 0, false)? {
            let ty = pipeline.input_type(&name).expect("an input");
            let why = match conv.to_values(&Chunks::one(array.clone()), ty) {
                Ok(values) => {
                    inputs.insert_value(name.clone(), values);
                    over.push(name);
                    continue;
                }
                Err(why) => why,
            };
            // Rows holding no value of the type (a null where it has none): the nodes
            // reading them are not called there.
            let rows: Vec<bool> = match &conv {
                Conv::Leaf(ct) => (0..array.len())
                    .map(|r| (ct.array_value)(array.as_ref(), r).is_none())
                    .collect(),
                Conv::List { .. } => Vec::new(),
            };
            if !rows.contains(&true) {
                return Err(Error::Invalid(format!(
                    "Column '{name}' cannot be read as {ty} by node '{}': {why}",
                    reader_of(pipeline, &name)
                )));
            }
            missing.push((name, rows));
        }
        if !missing.is_empty() {
            return nulls::apply_with_missing(engine, pipeline, batch, select, &missing);
        }
        let names: Vec<&str> = over.iter().map(String::as_str).collect();
        let mut options = RunOptions::new().with_shared_engine(engine);
        if let Some(select) = select {
            options = options.with_outputs(select.iter().cloned());
        }
        let mut failures = Vec::new();
        let outputs = if names.is_empty() {
            // No mapped column: one run, its results repeated on every row.
            let out = pipeline.run_with(&inputs, &options)?;
            let mut columns = Vec::new();
            for (name, value) in out.iter() {
                let ty = pipeline.output_type(name).expect("an output");
                let ct = ColumnType::find(&ty)
                    .ok_or_else(|| Error::Invalid(format!("Output '{name}' has type {ty}, which is not columnar")))?;
                // Unreachable: the engine checked the output's type, which is columnar.
                let one = (ct.value_to_array)(value).ok_or_else(|| Error::Internal(format!("'{name}' mistyped")))?;
                let one = as_written(pipeline, name, one)?;
                columns.push((name.to_string(), gather(name, one.as_ref(), vec![0; batch.num_rows()])?));
            }
            columns
        } else {
            let mut out = pipeline.map_with(&inputs, &names, MapMode::Zip, &options)?;
            failures = std::mem::take(&mut out.failures);
            let mut columns = Vec::new();
            for name in out.names() {
                let value = out.column_value(name)?;
                let ty = pipeline.output_type(name).expect("an output");
                let array = match ColumnType::find(&ty) {
                    Some(ct) => list_to_arrow(pipeline, name, ct, value)?,
                    // The lists of a nested map: lists of the inner output's type.
                    None => mapped_output_type(pipeline, name).and_then(|ct| (ct.lists_to_array)(value, None)),
                };
                let array = array
                    .ok_or_else(|| Error::Invalid(format!("Output '{name}' has type {ty}, which is not columnar")))?;
                columns.push((name.to_string(), as_written(pipeline, name, array)?));
            }
            columns
        };
        let batch = if failures.is_empty() {
            batch.clone()
        } else {
            let mut failed = failures.iter().map(|f| f.item() as u32).peekable();
            let good: Vec<u32> = (0..batch.num_rows() as u32)
                .filter(|r| failed.next_if_eq(r).is_none())
                .collect();
            rows_of(batch, &good)?
        };
        let mut fields: Vec<Field> = batch.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
        for (name, array) in outputs {
            fields.push(Field::new(name, array.data_type().clone(), true));
            arrays.push(array);
        }
        // Unreachable: the fields were made from these arrays, each of the batch's rows.
        let out = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &rows(batch.num_rows()))
            .map_err(df_arrow)?;
        Ok((out, failures))
    }
}

/// The items of output `name` (a `Vec` of `ct`'s type) as an array. A value that cannot
/// be stored (a `Decimal` of more than 20 digits before the point) is the panic of the
/// node producing it on that item, as in the columnar engine, not a panic of the run.
fn list_to_arrow(
    pipeline: &Pipeline,
    name: &str,
    ct: &ColumnType,
    value: &crate::value::Value,
) -> Result<Option<ArrayRef>> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let panic = match catch_unwind(AssertUnwindSafe(|| (ct.list_to_array)(value))) {
        Ok(array) => return Ok(array),
        Err(panic) => panic,
    };
    let one = |i: usize| {
        catch_unwind(AssertUnwindSafe(|| {
            (ct.list_rows_to_array)(value, Elements::Range(i..i + 1))
        }))
    };
    let mut item = None;
    for i in 0.. {
        match one(i) {
            Err(_) => item = Some(i),
            // Each item stores, or it is past the last one.
            Ok(Some(_)) => continue,
            Ok(None) => {}
        }
        break;
    }
    let node = pipeline
        .nodes()
        .iter()
        .find(|n| n.outputs().iter().any(|p| p.name() == name));
    Err(Error::NodePanicked {
        node: node.map_or(name, |n| n.name()).into(),
        item,
        message: crate::node_engine::panic_message(panic).into(),
    })
}
