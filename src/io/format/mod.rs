//! The file formats a run reads and writes: Parquet, CSV, newline-delimited JSON and the
//! Arrow IPC file format, each with Arrow's own reader and writer.
//!
//! A file's format is chosen by its extension (see [`Format::of`]) or named outright
//! ([`FileRun::with_format`](super::FileRun::with_format), `--format`). Parquet
//! and Arrow files carry their column types; CSV and NDJSON do not, so their types are
//! inferred from the first [`INFER_RECORDS`] records, and a column a node reads is parsed
//! as the type the node reads.

//!
//! Here the formats and what reads a whole file (its schema, its rows, its first rows);
//! `read` reads a file piece by piece, cut by `split` for the text formats, whose
//! errors `errors` words (a piece with a record that does not decode is decoded in
//! halves down to its records in `reject`); `write` writes one (Parquet's columns
//! encoded on every core by `encode`, CSV's and NDJSON's lines formatted on every core
//! by `lines`).

mod encode;
mod errors;
mod ipc;
mod lines;
mod read;
mod reject;
mod split;
mod write;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "cli")]
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema};

use crate::error::{Error, Result};

use errors::{csv_error, first_line};
pub(crate) use ipc::IpcBlocks;
pub(crate) use read::{Piece, StreamReader};
pub(crate) use reject::Rejected;
use split::Splitter;
pub(crate) use write::{BatchWriter, check_csv};

/// A file format of run input and output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Apache Parquet (the default): typed, compressed, read row group by row group on
    /// every core.
    #[default]
    Parquet,
    /// Comma-separated values with a header line (RFC 4180 quoting); types inferred.
    Csv,
    /// Newline-delimited JSON: one object per line; types inferred.
    Ndjson,
    /// The Arrow IPC file format (Feather 2): typed, Arrow's own layout.
    Arrow,
}

/// The schema metadata key that marks column types inferred from an untyped file (CSV,
/// NDJSON): such types are a guess, and the types a pipeline declares for its inputs win
/// over them (see [`crate::spec::load`]).
pub const INFERRED: &str = "hypernodes.inferred";

/// How many records of a CSV or NDJSON file its column types are inferred from.
pub const INFER_RECORDS: usize = 1000;

impl Format {
    /// Every format, in the order messages list them.
    pub const ALL: [Format; 4] = [Format::Parquet, Format::Csv, Format::Ndjson, Format::Arrow];

    /// The format of `path` by its extension: `.csv`; `.ndjson`, `.jsonl`; `.arrow`,
    /// `.ipc`, `.feather`; anything else (`.parquet`, `.pq`, no extension) is Parquet.
    ///
    /// ```
    /// use hypernodes::io::Format;
    ///
    /// assert_eq!(Format::of("docs.csv".as_ref()), Format::Csv);
    /// assert_eq!(Format::of("out/docs.JSONL".as_ref()), Format::Ndjson);
    /// assert_eq!(Format::of("docs.parquet".as_ref()), Format::Parquet);
    /// assert_eq!(Format::of("docs".as_ref()), Format::Parquet);
    /// ```
    pub fn of(path: &Path) -> Format {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        Format::ALL
            .into_iter()
            .find(|f| f.extensions().contains(&ext.as_str()))
            .unwrap_or_default()
    }

    /// The format's name, as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Arrow => "arrow",
        }
    }

    /// The extensions of files of this format, the one an output gets first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Parquet => &["parquet", "pq"],
            Format::Csv => &["csv"],
            Format::Ndjson => &["ndjson", "jsonl"],
            Format::Arrow => &["arrow", "ipc", "feather"],
        }
    }

    /// Whether the file's types are inferred (CSV, NDJSON) rather than stored.
    pub fn inferred(self) -> bool {
        matches!(self, Format::Csv | Format::Ndjson)
    }

    /// The name messages use, with its article.
    fn a(self) -> String {
        let article = if matches!(self, Format::Ndjson | Format::Arrow) {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.title())
    }

    /// The name messages use.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::Csv => "CSV",
            Format::Ndjson => "NDJSON",
            Format::Arrow => "Arrow IPC",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    /// A format by name: `parquet`, `csv`, `ndjson` (or `jsonl`), `arrow` (or `ipc`,
    /// `feather`), in any case.
    fn from_str(s: &str) -> Result<Self> {
        let name = s.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.name() == name || f.extensions().contains(&name.as_str()))
            .ok_or_else(|| Error::Invalid(format!("Unknown format '{s}'. Formats: parquet, csv, ndjson, arrow")))
    }
}

/// Whether Arrow's reader of `format` (CSV or NDJSON) parses text as `data_type`.
pub(crate) fn parses(format: Format, data_type: &DataType) -> bool {
    use DataType::*;
    match format {
        // What arrow-csv's reader builds (`arrow_csv::reader::parse`).
        Format::Csv => matches!(
            data_type,
            Boolean
                | Int8
                | Int16
                | Int32
                | Int64
                | UInt8
                | UInt16
                | UInt32
                | UInt64
                | Float16
                | Float32
                | Float64
                | Decimal32(..)
                | Decimal64(..)
                | Decimal128(..)
                | Decimal256(..)
                | Date32
                | Date64
                | Time32(_)
                | Time64(_)
                | Timestamp(..)
                | Utf8
                | Utf8View
        ),
        _ => arrow::json::ReaderBuilder::new(Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
            "v",
            data_type.clone(),
            true,
        )])))
        .build_decoder()
        .is_ok(),
    }
}

fn data(path: &Path, message: String) -> Error {
    Error::Data {
        path: path.display().to_string().into(),
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    })
}

/// The footer of the Parquet file at `path` (an empty file, or one that is not Parquet,
/// is a one-line error naming it).
pub(crate) fn parquet_metadata(path: &Path) -> Result<parquet::arrow::arrow_reader::ArrowReaderMetadata> {
    let file = open_nonempty(path, Format::Parquet)?;
    parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&file, Default::default())
        .map_err(|e| data(path, format!("not a readable Parquet file ({e})")))
}

/// Opens `path` and refuses an empty file, which no format reads.
fn open_nonempty(path: &Path, format: Format) -> Result<File> {
    let file = open(path)?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(data(
            path,
            format!("the file is empty (0 bytes), not {} file", format.a()),
        ));
    }
    Ok(file)
}

/// The column names and types of the file at `path`, read as `format`: Parquet's and
/// Arrow's stored schema, or for CSV and NDJSON the types inferred from the first
/// [`INFER_RECORDS`] records (marked with [`INFERRED`] in the schema's metadata).
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Data`] when it is empty or not a
/// file of that format.
pub fn read_schema(path: &Path, format: Format) -> Result<Schema> {
    let file = open_nonempty(path, format)?;
    let not = |e: &dyn std::fmt::Display| data(path, format!("not a readable {} file ({e})", format.title()));
    let inferred = |schema: Schema| {
        let mut metadata = schema.metadata().clone();
        metadata.insert(INFERRED.into(), format.name().into());
        schema.with_metadata(metadata)
    };
    match format {
        Format::Parquet => {
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| not(&e))?;
            Ok(builder.schema().as_ref().clone())
        }
        Format::Arrow => {
            let reader = arrow::ipc::reader::FileReader::try_new(file, None).map_err(|e| not(&e))?;
            Ok(reader.schema().as_ref().clone())
        }
        Format::Csv => {
            let (schema, _) = arrow::csv::reader::Format::default()
                .with_header(true)
                .infer_schema(BufReader::new(file), Some(INFER_RECORDS))
                .map_err(|e| csv_error(path, e))?;
            if schema.fields().is_empty() {
                return Err(data(path, "the CSV file has no header line".into()));
            }
            Ok(inferred(schema))
        }
        Format::Ndjson => {
            let (schema, _) = arrow::json::reader::infer_json_schema(BufReader::new(file), Some(INFER_RECORDS))
                .map_err(|e| data(path, format!("not a readable NDJSON file ({})", first_line(&e))))?;
            Ok(inferred(schema))
        }
    }
}

/// The data rows of the file at `path` (for CSV, its records after the header; for
/// NDJSON, its non-blank lines), without decoding them.
pub(crate) fn count_rows(path: &Path, format: Format) -> Result<u64> {
    let io = |source| Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    };
    match format {
        Format::Parquet => {
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open(path)?)
                .map_err(|e| data(path, format!("not a readable Parquet file ({e})")))?;
            Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
        }
        // From the blocks' headers: no block is read.
        Format::Arrow => Ok(IpcBlocks::open(path, &[])?.rows().sum::<usize>() as u64),
        Format::Csv | Format::Ndjson => {
            let mut split = Splitter::new(open(path)?, format == Format::Csv);
            let mut rows = 0;
            while let Some(cut) = split.next(1 << 16).map_err(io)? {
                rows += cut.rows as u64;
            }
            // The header is not a row.
            Ok(if format == Format::Csv {
                rows.saturating_sub(1)
            } else {
                rows
            })
        }
    }
}

/// Bytes per row of a CSV or NDJSON file, from its first thousand records.
pub(crate) fn text_row_bytes(path: &Path, format: Format) -> Result<u64> {
    let mut split = Splitter::new(open(path)?, format == Format::Csv);
    let piece = split.next(1000).map_err(|source| Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    })?;
    Ok(piece.map_or(8, |cut| (cut.bytes.len() / cut.rows.max(1)).max(8) as u64))
}

/// The first rows of the file at `path` (at most `rows`), every column, as `format`.
#[cfg(feature = "cli")]
pub(crate) fn read_head(path: &Path, format: Format, rows: usize) -> Result<RecordBatch> {
    let schema = Arc::new(read_schema(path, format)?);
    let empty = || RecordBatch::new_empty(schema.clone());
    if format == Format::Parquet {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open(path)?)
            .and_then(|b| b.with_batch_size(rows).build())
            .map_err(|e| data(path, format!("cannot read ({e})")))?;
        return reader
            .into_iter()
            .next()
            .transpose()
            .map_err(|e| data(path, format!("cannot read ({e})")))
            .map(|b| b.unwrap_or_else(empty));
    }
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    if format == Format::Arrow {
        return IpcBlocks::open(path, &all)?
            .batches(rows)
            .next()
            .unwrap_or_else(|| Ok(empty()));
    }
    let parse = StreamReader::parse_schema(format, &schema, &all);
    let mut reader = StreamReader::open(path, format, parse, &all, rows)?;
    match reader.next_piece() {
        Some(piece) => piece?.decode(false).map(|(batch, _)| batch),
        None => Ok(empty()),
    }
}
