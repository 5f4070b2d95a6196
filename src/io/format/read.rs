//! Reading a CSV or NDJSON file piece by piece, in order: the pieces of text are decoded
//! into batches where they are run, on several threads at once.

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;

use super::reject::Rejected;
use super::split::{Cut, Splitter};
use super::{Format, INFERRED, open_nonempty};
use crate::error::{Error, Result};

/// A reader of a CSV or NDJSON file, piece by piece, in order (Parquet is read row
/// group by row group instead, Arrow IPC block by block: see
/// [`IpcBlocks`](super::IpcBlocks)). The file is cut into pieces of whole records as raw
/// bytes, which is cheap, so that the pieces can be decoded at once on several threads
/// ([`Piece::decode`]).
pub(crate) struct StreamReader {
    split: Splitter,
    decode: Arc<TextDecode>,
    batch_rows: usize,
}

/// What decodes the pieces of a CSV or NDJSON file.
#[derive(Clone)]
pub(crate) struct TextDecode {
    pub(super) path: std::path::PathBuf,
    pub(super) format: Format,
    /// The schema rows are parsed with (every column of a CSV file, the columns read of
    /// an NDJSON file).
    pub(super) schema: SchemaRef,
    /// The columns kept (indices into `schema`; CSV only).
    pub(super) projection: Vec<usize>,
}

/// A piece of a file: raw records to decode, or a batch read whole.
pub(crate) enum Piece {
    Text(Cut, Arc<TextDecode>),
    Batch(RecordBatch),
}

impl Piece {
    /// The rows it holds.
    pub(crate) fn rows(&self) -> usize {
        match self {
            Piece::Text(cut, _) => cut.rows,
            Piece::Batch(b) => b.num_rows(),
        }
    }

    /// The piece as a batch. A record that does not decode is named in one line (the
    /// file, the line, and for a value that does not parse, the column, the value and the
    /// type): with `collect` the piece's batch holds the other records and the records
    /// that do not decode come apart (see [`Rejected`]); otherwise the first one is the
    /// error.
    pub(crate) fn decode(self, collect: bool) -> Result<(RecordBatch, Option<Rejected>)> {
        let (Cut { bytes, rows, line, .. }, d) = match self {
            Piece::Text(cut, decode) => (cut, decode),
            Piece::Batch(b) => return Ok((b, None)),
        };
        match d.decode_bytes(&bytes, rows) {
            Ok(batch) => Ok((batch, None)),
            Err(_) => d.sift(&bytes, line, collect),
        }
    }
}

impl TextDecode {
    pub(super) fn output_schema(&self) -> SchemaRef {
        match self.format {
            // Unreachable: the projection holds indices of the schema's fields.
            Format::Csv => Arc::new(self.schema.project(&self.projection).expect("projected columns")),
            _ => self.schema.clone(),
        }
    }

    /// The `rows` whole records `bytes` as a batch, or Arrow's error.
    pub(super) fn decode_bytes(&self, bytes: &[u8], rows: usize) -> std::result::Result<RecordBatch, ArrowError> {
        let batch = match self.format {
            Format::Csv => {
                let mut decoder = arrow::csv::ReaderBuilder::new(self.schema.clone())
                    .with_header(false)
                    .with_batch_size(rows)
                    .with_projection(self.projection.clone())
                    .build_decoder();
                let mut at = 0;
                while at < bytes.len() {
                    let n = decoder.decode(&bytes[at..])?;
                    if n == 0 {
                        break;
                    }
                    at += n;
                }
                decoder.decode(&[])?;
                decoder.flush()?
            }
            _ => {
                let mut decoder = arrow::json::ReaderBuilder::new(self.schema.clone())
                    .with_batch_size(rows)
                    .build_decoder()?;
                decoder.decode(bytes)?;
                decoder.flush()?
            }
        };
        let batch = batch.unwrap_or_else(|| RecordBatch::new_empty(self.output_schema()));
        if batch.num_rows() != rows {
            // Unreachable: the splitter and the decoder agree on what a record is.
            return Err(ArrowError::ExternalError(
                format!("{} rows decoded from {rows} records", batch.num_rows()).into(),
            ));
        }
        Ok(batch)
    }
}

impl StreamReader {
    /// Opens `path` as `format` (not Parquet), parsing with `schema` (see
    /// [`StreamReader::parse_schema`]), `batch_rows` rows per piece, keeping the columns
    /// at `projection` (indices into `schema` for CSV and Arrow; NDJSON keeps every field
    /// of `schema`).
    pub(crate) fn open(
        path: &Path,
        format: Format,
        schema: SchemaRef,
        projection: &[usize],
        batch_rows: usize,
    ) -> Result<StreamReader> {
        let file = open_nonempty(path, format)?;
        let io = |source| Error::Io {
            action: "read",
            path: path.display().to_string().into(),
            source,
        };
        match format {
            Format::Csv | Format::Ndjson => {
                let mut split = Splitter::new(file, format == Format::Csv);
                if format == Format::Csv {
                    // The header: checked when the types were inferred.
                    split.next(1).map_err(io)?;
                }
                Ok(StreamReader {
                    split,
                    decode: Arc::new(TextDecode {
                        path: path.to_path_buf(),
                        format,
                        schema,
                        projection: projection.to_vec(),
                    }),
                    batch_rows: batch_rows.max(1),
                })
            }
            // Unreachable: Parquet files are read by row group, Arrow files by block.
            Format::Parquet | Format::Arrow => Err(Error::Internal(format!("{format} read as a stream"))),
        }
    }

    /// The schema for reading an untyped file of `file_schema` (with the types the
    /// columns are read as): for NDJSON only the columns of `keep` (indices).
    pub(crate) fn parse_schema(format: Format, file_schema: &Schema, keep: &[usize]) -> SchemaRef {
        let mut metadata = file_schema.metadata().clone();
        metadata.remove(INFERRED);
        let fields: Vec<_> = match format {
            Format::Ndjson => keep.iter().map(|&i| file_schema.field(i).clone()).collect(),
            _ => file_schema.fields().iter().map(|f| f.as_ref().clone()).collect(),
        };
        Arc::new(Schema::new_with_metadata(fields, metadata))
    }

    /// The next piece, `None` at the end of the file.
    pub(crate) fn next_piece(&mut self) -> Option<Result<Piece>> {
        match self.split.next(self.batch_rows) {
            Ok(Some(cut)) => Some(Ok(Piece::Text(cut, self.decode.clone()))),
            Ok(None) => None,
            Err(source) => Some(Err(Error::Io {
                action: "read",
                path: self.decode.path.display().to_string().into(),
                source,
            })),
        }
    }
}
