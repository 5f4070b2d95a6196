//! Reading an input file and the previous output of an incremental run side by side
//! ([`Carried`]): when only some nodes changed, a file's batches hold the input columns
//! the nodes left to compute read, and beside them, row for row, the columns of the
//! previous output carried over (see `state::columns`).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::format::{Format, IpcBlocks, StreamReader};
use super::plan::Source;
use crate::error::{Error, Result};

/// How a file whose columns are partly carried over is read: the input's columns, and
/// the previous output's.
pub(super) struct Carried {
    /// How the input is read (Parquet or a stream), and its columns read (indices into
    /// its schema; none: only the previous output is read).
    pub(super) input: Source,
    pub(super) input_columns: Vec<usize>,
    /// The previous output, its format, how it is read (its schema with the types the
    /// columns are read as, and for a stream the parse schema) and the columns carried
    /// (indices into its schema, in order).
    pub(super) previous: PathBuf,
    pub(super) previous_format: Format,
    pub(super) previous_source: Source,
    pub(super) previous_columns: Vec<usize>,
    /// The batches' schema: the input columns read, then the columns carried.
    pub(super) schema: SchemaRef,
}

/// Batches of one file read in order.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// The batches of `path` (of `format`, read as `source` says), the columns `columns`,
/// in order, of at most `batch_rows` rows.
fn batches(path: &Path, format: Format, source: &Source, columns: &[usize], batch_rows: usize) -> Result<Batches> {
    let data = |e: &dyn std::fmt::Display| Error::Data {
        path: path.display().to_string().into(),
        message: format!("cannot read ({e})").into(),
    };
    match source {
        Source::Parquet(metadata) => {
            let file = File::open(path).map_err(|source| Error::Io {
                action: "read",
                path: path.display().to_string().into(),
                source,
            })?;
            let mask = ProjectionMask::roots(
                metadata.metadata().file_metadata().schema_descr(),
                columns.iter().copied(),
            );
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
                .with_projection(mask)
                .with_batch_size(batch_rows)
                .build()
                .map_err(|e| data(&e))?;
            let path = path.to_path_buf();
            Ok(Box::new(reader.map(move |b| {
                b.map_err(|e| Error::Data {
                    path: path.display().to_string().into(),
                    message: format!("cannot read ({e})").into(),
                })
            })))
        }
        Source::Stream { projection, .. } if format == Format::Arrow => {
            Ok(Box::new(IpcBlocks::open(path, projection)?.batches(batch_rows)))
        }
        Source::Stream { parse, projection } => {
            let mut reader = StreamReader::open(path, format, parse.clone(), projection, batch_rows)?;
            Ok(Box::new(std::iter::from_fn(move || {
                Some(reader.next_piece()?.and_then(|p| p.decode(false)).map(|(b, _)| b))
            })))
        }
        // Unreachable: a file is read as Parquet or as a stream.
        Source::Carry(_) => Err(Error::Internal("a carried source read as a file".into())),
    }
}

/// An input file and its previous output read side by side: batches of the input's
/// rows, each with the previous output's columns of the same rows.
pub(crate) struct Zipped {
    /// The input's batches, when columns are read from it.
    input: Option<Batches>,
    previous: Batches,
    /// The rest of the previous output's last batch read.
    pending: Option<RecordBatch>,
    schema: SchemaRef,
    batch_rows: usize,
    /// The previous output, which errors name.
    path: PathBuf,
}

impl Zipped {
    /// Opens the input file `input` (of `format`) and the previous output of `carried`,
    /// to be read in batches of at most `batch_rows` rows.
    pub(super) fn open(input: &Path, format: Format, carried: &Carried, batch_rows: usize) -> Result<Zipped> {
        let input = match carried.input_columns.is_empty() {
            true => None,
            false => Some(batches(
                input,
                format,
                &carried.input,
                &carried.input_columns,
                batch_rows,
            )?),
        };
        let previous = batches(
            &carried.previous,
            carried.previous_format,
            &carried.previous_source,
            &carried.previous_columns,
            batch_rows,
        )?;
        Ok(Zipped {
            input,
            previous,
            pending: None,
            schema: carried.schema.clone(),
            batch_rows,
            path: carried.previous.clone(),
        })
    }

    /// At most `rows` rows of the previous output, fewer only at its end.
    fn take(&mut self, rows: usize) -> Result<Vec<RecordBatch>> {
        let mut taken = Vec::new();
        let mut left = rows;
        while left > 0 {
            let batch = match self.pending.take() {
                Some(b) => b,
                None => match self.previous.next() {
                    Some(b) => b?,
                    None => break,
                },
            };
            let n = batch.num_rows().min(left);
            if n < batch.num_rows() {
                self.pending = Some(batch.slice(n, batch.num_rows() - n));
            }
            taken.push(batch.slice(0, n));
            left -= n;
        }
        Ok(taken)
    }

    fn mismatch(&self) -> Error {
        Error::Data {
            path: self.path.display().to_string().into(),
            message: "the previous output does not hold a row per input row; run again without the state".into(),
        }
    }

    /// The next batch: the input's columns, then the previous output's; `None` at the
    /// end of both.
    pub(crate) fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        let batch = match &mut self.input {
            Some(input) => match input.next() {
                Some(Ok(b)) => Some(b),
                Some(Err(e)) => return Some(Err(e)),
                // The end of the input: the previous output's too.
                None => {
                    return match self.take(1) {
                        Ok(t) if t.is_empty() => None,
                        Ok(_) => Some(Err(self.mismatch())),
                        Err(e) => Some(Err(e)),
                    };
                }
            },
            None => None,
        };
        let rows = batch.as_ref().map_or(self.batch_rows, RecordBatch::num_rows);
        let taken = match self.take(rows) {
            Ok(t) => t,
            Err(e) => return Some(Err(e)),
        };
        let got: usize = taken.iter().map(RecordBatch::num_rows).sum();
        match batch {
            Some(_) if got < rows => Some(Err(self.mismatch())),
            None if got == 0 => None,
            _ => Some(self.join(batch, &taken, got)),
        }
    }

    /// The input's batch (if any) and the previous output's pieces of the same `rows`
    /// rows as one batch.
    fn join(&self, input: Option<RecordBatch>, taken: &[RecordBatch], rows: usize) -> Result<RecordBatch> {
        // Unreachable: the pieces are of one file's columns, and the schema is theirs.
        let arrow = |e: arrow::error::ArrowError| Error::Internal(format!("Arrow: {e}"));
        let mut columns: Vec<ArrayRef> = input.map(|b| b.columns().to_vec()).unwrap_or_default();
        let first = columns.len();
        for (c, field) in self.schema.fields().iter().enumerate().skip(first) {
            let pieces: Vec<&dyn arrow::array::Array> = taken.iter().map(|b| b.column(c - first).as_ref()).collect();
            columns.push(match taken {
                [] => arrow::array::new_empty_array(field.data_type()),
                [one] => one.column(c - first).clone(),
                _ => arrow::compute::concat(&pieces).map_err(arrow)?,
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), columns, &options).map_err(arrow)
    }
}
