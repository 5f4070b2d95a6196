//! Computing a file run's batches: the pipeline on a batch, on the engine chosen, then
//! the selected columns; under [`OnError::Collect`](crate::exec::OnError::Collect), the
//! rows that failed too, as rows of the side file.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{Field, Schema, SchemaRef};

use super::EngineChoice;
use super::format::Rejected;
use crate::engine::{ColumnarEngine, NodeEngine};
use crate::error::{Error, Result};
use crate::exec::ItemFailure;
use crate::pipeline::Pipeline;

/// What a file run computes of each batch of an input file: the pipeline pruned to the
/// outputs selected, on its engine, then the selected columns.
pub(super) struct Compute {
    /// The engine that runs the nodes.
    pub(super) engine: EngineChoice,
    /// The pipeline pruned to the nodes the selected outputs need.
    pub(super) pipeline: Pipeline,
    /// The output columns, in order.
    pub(super) select: Vec<String>,
    /// The selected columns that are outputs of the pipeline.
    pub(super) outputs: Vec<String>,
}

impl Compute {
    /// The pipeline on one batch, then the selected columns; under
    /// [`OnError::Collect`](crate::exec::OnError::Collect), of the rows that succeeded,
    /// with the failures (rows of `batch`).
    pub(super) fn apply(&self, batch: &RecordBatch) -> Result<(RecordBatch, Vec<ItemFailure>)> {
        let (pipeline, select, outputs) = (&self.pipeline, &self.select, Some(self.outputs.as_slice()));
        let (out, failures) = match self.engine {
            // One partition: the batches in flight already use every core; and the batch
            // stays one DataFusion batch (no re-chunking, no concatenation). No output
            // pool: the memory limit counts the batches in flight, and freed memory goes
            // back to the allocator, which returns it when the process is over the limit.
            EngineChoice::Columnar => ColumnarEngine::new()
                .with_partitions(1)
                .with_batch_size(batch.num_rows().max(1))
                .with_output_pool(0)
                .apply_selected(pipeline, batch, outputs)?,
            EngineChoice::Node => {
                ColumnarEngine::apply_selected_on(Arc::new(NodeEngine::new()), pipeline, batch, outputs)?
            }
        };
        let mut fields: Vec<Field> = Vec::with_capacity(select.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(select.len());
        let schema = out.schema();
        for name in select {
            // An output named like an input column wins (it comes later in the batch).
            // Unreachable: the batch holds the selected input columns (read from the file)
            // and the selected outputs (asked of the engine).
            let (i, field) = schema
                .fields()
                .iter()
                .enumerate()
                .rev()
                .find(|(_, f)| f.name() == name)
                .ok_or_else(|| Error::Internal(format!("column '{name}' missing from the result")))?;
            fields.push(field.as_ref().clone());
            arrays.push(out.column(i).clone());
        }
        let options = RecordBatchOptions::new().with_row_count(Some(out.num_rows()));
        // Unreachable: the fields and arrays are the batch's own.
        let out = RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
            .map_err(|e| Error::Internal(format!("Arrow: {e}")))?;
        Ok((out, failures))
    }

    /// Batch `batch`, whose first row is row `first` of its file, computed: its output
    /// rows, and, with the side file's `failed` schema, its failed rows; a worker took it
    /// at `started`. The records of its rows that did not decode are `rejected` (the
    /// batch holds the others). Without a side file, a row that fails fails the batch; a
    /// failure names the row of the file.
    pub(super) fn batch(
        &self,
        batch: &RecordBatch,
        first: usize,
        rejected: Option<Rejected>,
        failed: Option<&SchemaRef>,
        started: Instant,
    ) -> Result<Done> {
        let rows = batch.num_rows() + rejected.as_ref().map_or(0, |r| r.rows.len());
        // The row of the file of each row of `batch`: the rows that decoded.
        let kept: Option<Vec<usize>> = rejected.as_ref().map(|r| {
            let mut next = r.rows.iter().peekable();
            (0..rows).filter(|row| next.next_if_eq(&row).is_none()).collect()
        });
        let row_of = |i: usize| first + kept.as_ref().map_or(i, |k| k[i]);
        self.apply(batch)
            .and_then(|(out, failures)| {
                let failed = match failed {
                    Some(schema) => Some(failed_rows(
                        schema,
                        batch,
                        &row_of,
                        failures,
                        rejected.map(|r| (first, r)),
                    )?),
                    None => match failures.into_iter().next() {
                        // Unreachable: the run collects only with a side file.
                        Some(f) => return Err(f.into_error()),
                        None => None,
                    },
                };
                Ok(Done {
                    out,
                    failed,
                    rows: first..first + rows,
                    started,
                })
            })
            // A failure names the row of the file, not of its batch.
            .map_err(|e| e.map_item(|i| Some(row_of(i))))
    }
}

/// A batch processed: the output rows, and the failed rows for the side file.
pub(super) struct Done {
    pub(super) out: RecordBatch,
    pub(super) failed: Option<RecordBatch>,
    /// The rows of its file it holds.
    pub(super) rows: std::ops::Range<usize>,
    /// When a worker took it.
    pub(super) started: Instant,
}

impl Done {
    /// The bytes it holds.
    pub(super) fn memory_size(&self) -> u64 {
        (self.out.get_array_memory_size() + self.failed.as_ref().map_or(0, RecordBatch::get_array_memory_size)) as u64
    }
}

/// The failed rows of `batch`, whose row `i` is row `row_of(i)` of its file, as rows
/// of the side file of `schema`: the columns read, `_row`, `_node` and `_error`; with
/// the `rejected` records of the piece whose first row is row `first` of the file (no
/// node ran on them: `_node` is null), in the order of the file.
fn failed_rows(
    schema: &SchemaRef,
    batch: &RecordBatch,
    row_of: &dyn Fn(usize) -> usize,
    failures: Vec<ItemFailure>,
    rejected: Option<(usize, Rejected)>,
) -> Result<RecordBatch> {
    // Unreachable: the failures name rows of `batch` (so `take` stays in bounds), and
    // the schema is the columns of `batch`, then the three made here.
    let arrow = |e: arrow::error::ArrowError| Error::Internal(format!("Arrow: {e}"));
    let index = UInt32Array::from_iter_values(failures.iter().map(|f| f.item() as u32));
    let mut arrays: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c.as_ref(), &index, None))
        .collect::<std::result::Result<_, _>>()
        .map_err(arrow)?;
    let rows = failures.len();
    arrays.push(Arc::new(UInt64Array::from_iter_values(
        failures.iter().map(|f| row_of(f.item()) as u64),
    )));
    arrays.push(Arc::new(StringArray::from_iter_values(
        failures.iter().map(|f| f.node()),
    )));
    // The error names the row of the file, as it would have failed the run.
    arrays.push(Arc::new(StringArray::from_iter_values(
        failures
            .into_iter()
            .map(|f| f.into_error().map_item(|i| Some(row_of(i))).to_string()),
    )));
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    // Unreachable: the schema is the columns read, then these three.
    let failed = RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(arrow)?;
    let Some((first, rejected)) = rejected else {
        return Ok(failed);
    };
    let mut arrays: Vec<ArrayRef> = rejected.values.columns().to_vec();
    arrays.push(Arc::new(UInt64Array::from_iter_values(
        rejected.rows.iter().map(|r| (first + r) as u64),
    )));
    arrays.push(arrow::array::new_null_array(
        &arrow::datatypes::DataType::Utf8,
        rejected.rows.len(),
    ));
    arrays.push(Arc::new(StringArray::from_iter_values(
        rejected.errors.iter().map(|e| e.to_string()),
    )));
    let options = RecordBatchOptions::new().with_row_count(Some(rejected.rows.len()));
    let unread = RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(arrow)?;
    // In the order of the file.
    let both = arrow::compute::concat_batches(schema, [&failed, &unread]).map_err(arrow)?;
    let order = arrow::compute::sort_to_indices(both.column(both.num_columns() - 3), None, None).map_err(arrow)?;
    arrow::compute::take_record_batch(&both, &order).map_err(arrow)
}
