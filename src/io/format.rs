//! The file formats a run reads and writes: Parquet, CSV, newline-delimited JSON and the
//! Arrow IPC file format, each with Arrow's own reader and writer.
//!
//! A file's format is chosen by its extension (see [`Format::of`]) or named outright
//! ([`FileRun::with_format`](super::FileRun::with_format), `--format`). Parquet
//! and Arrow files carry their column types; CSV and NDJSON do not, so their types are
//! inferred from the first [`INFER_RECORDS`] records, and a column a node reads is parsed
//! as the type the node reads.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read};
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

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
    fn title(self) -> &'static str {
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
                .map_err(|e| csv_error(path, e, None, 0))?;
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

fn first_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}

/// A CSV reading error of `path` as one line that names the line of the file and the
/// column. `schema` is the schema the reader parses with (for column names); the reader
/// began at record `first` of the file (the header is record 0).
fn csv_error(path: &Path, e: ArrowError, schema: Option<&Schema>, first: usize) -> Error {
    // Arrow counts a parse error's records from 0, and a record's fields from 1, from
    // where its decoder began; records may span several lines.
    let parsed = match &e {
        ArrowError::ParseError(m) => parse_error(m).map(|(value, ty, column, record)| {
            let name = schema
                .and_then(|s| s.fields().get(column))
                .map_or_else(|| format!("{}", column + 1), |f| format!("'{}'", f.name()));
            (
                first + record,
                format!(", column {name}: cannot read '{value}' as {ty}"),
            )
        }),
        ArrowError::CsvError(m) => fields_error(m).map(|(record, expected, got)| {
            (
                first + record.saturating_sub(1),
                format!(": {got} fields, but the header has {expected}"),
            )
        }),
        _ => None,
    };
    // Inferring types, the csv crate names the line itself.
    if let ArrowError::CsvError(m) = &e {
        if let Some((line, expected, got)) = unequal_lengths(m) {
            return data(
                path,
                format!("line {line}: {got} fields, but the header has {expected}"),
            );
        }
    }
    match parsed {
        Some((record, what)) => {
            let at =
                csv_line_of(path, record).map_or_else(|| format!("record {}", record + 1), |l| format!("line {l}"));
            data(path, format!("{at}{what}"))
        }
        None => data(path, format!("not a readable CSV file ({})", first_line(&e))),
    }
}

/// `Error while parsing value 'V' as type 'T' for column C at line L. Row data: ...`:
/// the value, the type, the column (0-based) and the record (0-based, the header is 0).
fn parse_error(m: &str) -> Option<(String, String, usize, usize)> {
    let rest = m.strip_prefix("Error while parsing value '")?;
    let (value, rest) = rest.split_once("' as type '")?;
    let (ty, rest) = rest.split_once("' for column ")?;
    let (column, rest) = rest.split_once(" at line ")?;
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((
        value.to_string(),
        ty.to_string(),
        column.parse().ok()?,
        line.parse().ok()?,
    ))
}

/// `incorrect number of fields for line L, expected E got G`: the record (1-based, the
/// header is 1), the fields expected and the fields found.
fn fields_error(m: &str) -> Option<(usize, usize, String)> {
    let rest = m.strip_prefix("incorrect number of fields for line ")?;
    let (line, rest) = rest.split_once(", expected ")?;
    let (expected, got) = rest.split_once(" got ")?;
    Some((line.parse().ok()?, expected.parse().ok()?, got.to_string()))
}

/// `... Expected E records, found G records at line L`: the line (1-based), the fields
/// expected and the fields found.
fn unequal_lengths(m: &str) -> Option<(usize, usize, usize)> {
    let (_, rest) = m.split_once("Expected ")?;
    let (expected, rest) = rest.split_once(" records, found ")?;
    let (got, rest) = rest.split_once(" records at line ")?;
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.parse().ok()?, expected.parse().ok()?, got.parse().ok()?))
}

/// The line (1-based) on which record `record` (0-based, the header is 0) of the CSV
/// file at `path` starts, as the pieces are cut (see [`Splitter`]).
fn csv_line_of(path: &Path, record: usize) -> Option<usize> {
    let mut split = Splitter::new(File::open(path).ok()?, true);
    while split.next_record < record {
        // In pieces, so that memory stays bounded however far the record is.
        split.next((record - split.next_record).min(1 << 16)).ok()??;
    }
    Some(split.next_line)
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
        Format::Arrow => {
            let reader = arrow::ipc::reader::FileReader::try_new(BufReader::new(open(path)?), Some(vec![]))
                .map_err(|e| data(path, format!("not a readable Arrow IPC file ({e})")))?;
            let mut rows = 0;
            for batch in reader {
                rows += batch
                    .map_err(|e| data(path, format!("not a readable Arrow IPC file ({e})")))?
                    .num_rows() as u64;
            }
            Ok(rows)
        }
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
    let parse = StreamReader::parse_schema(format, &schema, &all);
    let mut reader = StreamReader::open(path, format, parse, &all, rows)?;
    match reader.next_piece() {
        Some(piece) => piece?.decode(),
        None => Ok(empty()),
    }
}

/// A reader of a CSV, NDJSON or Arrow IPC file, piece by piece, in order (Parquet is
/// read row group by row group instead). CSV and NDJSON are cut into pieces of whole
/// records as raw bytes, which is cheap, so that the pieces can be decoded at once on
/// several threads ([`Piece::decode`]); Arrow batches are read whole and sliced.
pub(crate) struct StreamReader {
    inner: Inner,
}

enum Inner {
    Text {
        split: Splitter,
        decode: Arc<TextDecode>,
        batch_rows: usize,
    },
    /// An Arrow file's batches are as the writer made them: each is cut into slices of
    /// at most `batch_rows` rows (sharing its buffers); `pending` is the rest of one.
    Arrow {
        path: std::path::PathBuf,
        reader: Box<arrow::ipc::reader::FileReader<BufReader<File>>>,
        pending: Option<RecordBatch>,
        batch_rows: usize,
    },
}

/// What decodes the pieces of a CSV or NDJSON file.
pub(crate) struct TextDecode {
    path: std::path::PathBuf,
    format: Format,
    /// The schema rows are parsed with (every column of a CSV file, the columns read of
    /// an NDJSON file).
    schema: SchemaRef,
    /// The columns kept (indices into `schema`; CSV only).
    projection: Vec<usize>,
}

/// A piece of a file: a batch, or raw records to decode.
pub(crate) enum Piece {
    Batch(RecordBatch),
    Text(Cut, Arc<TextDecode>),
}

impl Piece {
    /// The rows it holds.
    pub(crate) fn rows(&self) -> usize {
        match self {
            Piece::Batch(b) => b.num_rows(),
            Piece::Text(cut, _) => cut.rows,
        }
    }

    /// The piece as a batch; the error of a value that does not parse names the line of
    /// the file (and, for CSV, the column).
    pub(crate) fn decode(self) -> Result<RecordBatch> {
        let (
            Cut {
                bytes,
                rows,
                record,
                line,
            },
            d,
        ) = match self {
            Piece::Batch(b) => return Ok(b),
            Piece::Text(cut, decode) => (cut, decode),
        };
        let batch = match d.format {
            Format::Csv => {
                let mut decoder = arrow::csv::ReaderBuilder::new(d.schema.clone())
                    .with_header(false)
                    .with_batch_size(rows)
                    .with_projection(d.projection.clone())
                    .build_decoder();
                let mut at = 0;
                (|| {
                    while at < bytes.len() {
                        let n = decoder.decode(&bytes[at..])?;
                        if n == 0 {
                            break;
                        }
                        at += n;
                    }
                    decoder.decode(&[])?;
                    decoder.flush()
                })()
            }
            _ => arrow::json::ReaderBuilder::new(d.schema.clone())
                .with_batch_size(rows)
                .build_decoder()
                .and_then(|mut decoder| {
                    decoder.decode(&bytes)?;
                    decoder.flush()
                }),
        };
        let batch = match batch {
            Ok(b) => b.unwrap_or_else(|| RecordBatch::new_empty(d.output_schema())),
            Err(e) => {
                return Err(match d.format {
                    Format::Csv => csv_error(&d.path, e, Some(&d.schema), record),
                    _ => d.ndjson_error(&bytes, line, e),
                })
            }
        };
        if batch.num_rows() != rows {
            // Unreachable: the splitter and the decoder agree on what a record is.
            return Err(Error::Internal(format!(
                "{}: {} rows decoded from {rows} records at line {line}",
                d.path.display(),
                batch.num_rows()
            )));
        }
        Ok(batch)
    }
}

impl TextDecode {
    fn output_schema(&self) -> SchemaRef {
        match self.format {
            // Unreachable: the projection holds indices of the schema's fields.
            Format::Csv => Arc::new(self.schema.project(&self.projection).expect("projected columns")),
            _ => self.schema.clone(),
        }
    }

    /// An NDJSON error in the piece `bytes`, which starts on line `line`, as one line
    /// naming the line of the file: its lines are decoded one by one until one fails.
    fn ndjson_error(&self, bytes: &[u8], line: usize, e: ArrowError) -> Error {
        for (i, text) in bytes.split(|&b| b == b'\n').enumerate() {
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let decoded = arrow::json::ReaderBuilder::new(self.schema.clone())
                .build_decoder()
                .and_then(|mut d| {
                    d.decode(text)?;
                    d.flush()
                });
            if let Err(e) = decoded {
                return data(&self.path, format!("line {}: {}", line + i, first_line(&e)));
            }
        }
        data(&self.path, format!("not a readable NDJSON file ({})", first_line(&e)))
    }
}

/// Whole records of a CSV or NDJSON file, as raw bytes.
pub(crate) struct Cut {
    bytes: Vec<u8>,
    /// The records.
    rows: usize,
    /// The first record's index among the file's records (the CSV header is 0) and the
    /// line it starts on (1-based).
    record: usize,
    line: usize,
}

/// Cuts a CSV or NDJSON file into pieces of whole records, as raw bytes: a record ends
/// at a line break (outside quotes, for CSV); blank lines hold no record.
struct Splitter {
    file: File,
    csv: bool,
    /// Bytes read and not yet cut off; `buf[..scanned]` is scanned.
    buf: Vec<u8>,
    scanned: usize,
    /// Inside quotes at `scanned`.
    quoted: bool,
    /// Records ended, and lines begun, in `buf[..scanned]`.
    records: usize,
    lines: usize,
    /// Whether `buf[..scanned]` holds a record not yet ended (non-blank bytes).
    open: bool,
    eof: bool,
    /// The index among the file's records, and the line, of the next piece's first.
    next_record: usize,
    next_line: usize,
}

impl Splitter {
    fn new(file: File, csv: bool) -> Splitter {
        Splitter {
            file,
            csv,
            buf: Vec::new(),
            scanned: 0,
            quoted: false,
            records: 0,
            lines: 0,
            open: false,
            eof: false,
            next_record: 0,
            next_line: 1,
        }
    }

    /// The next piece of at most `n` records: its bytes, records, first record and first
    /// line; `None` at the end.
    fn next(&mut self, n: usize) -> std::io::Result<Option<Cut>> {
        loop {
            // Scan on to the end of the `n`th record, or of the bytes read.
            while self.records < n {
                let rest = &self.buf[self.scanned..];
                let hit = if self.csv {
                    memchr::memchr2(b'"', b'\n', rest)
                } else {
                    memchr::memchr(b'\n', rest)
                };
                let Some(i) = hit else {
                    self.open |= rest.iter().any(|b| !b.is_ascii_whitespace());
                    self.scanned = self.buf.len();
                    break;
                };
                let b = rest[i];
                self.open |= rest[..i].iter().any(|b| !b.is_ascii_whitespace()) || b == b'"';
                self.scanned += i + 1;
                if b == b'"' {
                    self.quoted = !self.quoted;
                } else {
                    self.lines += 1;
                    if !self.quoted && self.open {
                        self.records += 1;
                        self.open = false;
                    }
                }
            }
            if self.records == n || (self.eof && !self.buf.is_empty()) {
                let rows = self.records + usize::from(self.records < n && self.open);
                let piece: Vec<u8> = self.buf.drain(..self.scanned).collect();
                let (record, line) = (self.next_record, self.next_line);
                self.next_record += rows;
                self.next_line += self.lines;
                self.scanned = 0;
                self.records = 0;
                self.lines = 0;
                self.open = false;
                if rows == 0 {
                    continue;
                }
                return Ok(Some(Cut {
                    bytes: piece,
                    rows,
                    record,
                    line,
                }));
            }
            if self.eof {
                return Ok(None);
            }
            // Read on: a MiB at a time.
            let len = self.buf.len();
            self.buf.resize(len + (1 << 20), 0);
            let read = loop {
                match self.file.read(&mut self.buf[len..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let read = read.inspect_err(|_| self.buf.truncate(len))?;
            self.buf.truncate(len + read);
            self.eof = read == 0;
        }
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
        let inner = match format {
            Format::Csv | Format::Ndjson => {
                let mut split = Splitter::new(file, format == Format::Csv);
                if format == Format::Csv {
                    // The header: checked when the types were inferred.
                    split.next(1).map_err(io)?;
                }
                Inner::Text {
                    split,
                    decode: Arc::new(TextDecode {
                        path: path.to_path_buf(),
                        format,
                        schema,
                        projection: projection.to_vec(),
                    }),
                    batch_rows: batch_rows.max(1),
                }
            }
            Format::Arrow => Inner::Arrow {
                path: path.to_path_buf(),
                reader: Box::new(
                    arrow::ipc::reader::FileReader::try_new(
                        BufReader::with_capacity(1 << 20, file),
                        Some(projection.to_vec()),
                    )
                    .map_err(|e| data(path, format!("not a readable Arrow IPC file ({e})")))?,
                ),
                pending: None,
                batch_rows: batch_rows.max(1),
            },
            // Unreachable: Parquet files are read by row group, not through this reader.
            Format::Parquet => return Err(Error::Internal("a Parquet file read as a stream".into())),
        };
        Ok(StreamReader { inner })
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
        match &mut self.inner {
            Inner::Text {
                split,
                decode,
                batch_rows,
            } => match split.next(*batch_rows) {
                Ok(Some(cut)) => Some(Ok(Piece::Text(cut, decode.clone()))),
                Ok(None) => None,
                Err(source) => Some(Err(Error::Io {
                    action: "read",
                    path: decode.path.display().to_string().into(),
                    source,
                })),
            },
            Inner::Arrow {
                path,
                reader,
                pending,
                batch_rows,
            } => {
                // The next batch of rows, skipping batches without rows.
                while pending.as_ref().is_none_or(|b| b.num_rows() == 0) {
                    match reader.next() {
                        Some(Ok(b)) => *pending = Some(b),
                        Some(Err(e)) => return Some(Err(data(path, format!("not a readable Arrow IPC file ({e})")))),
                        None => return None,
                    }
                }
                let batch = pending.take()?;
                let n = batch.num_rows().min(*batch_rows);
                if n < batch.num_rows() {
                    *pending = Some(batch.slice(n, batch.num_rows() - n));
                }
                Some(Ok(Piece::Batch(batch.slice(0, n))))
            }
        }
    }
}

/// A writer of record batches into a file of one format.
pub(crate) enum BatchWriter {
    Parquet(ArrowWriter<BufWriter<File>>),
    Csv(arrow::csv::Writer<BufWriter<File>>),
    Ndjson(arrow::json::LineDelimitedWriter<BufWriter<File>>),
    Arrow(arrow::ipc::writer::FileWriter<BufWriter<File>>),
}

impl BatchWriter {
    /// A writer of batches of `schema` as `format` into `sink`; `props` are Parquet's.
    pub(crate) fn new(
        format: Format,
        sink: BufWriter<File>,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> std::result::Result<BatchWriter, String> {
        Ok(match format {
            Format::Parquet => {
                BatchWriter::Parquet(ArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| e.to_string())?)
            }
            Format::Csv => {
                check_csv(&schema)?;
                BatchWriter::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(sink))
            }
            Format::Ndjson => BatchWriter::Ndjson(arrow::json::LineDelimitedWriter::new(sink)),
            Format::Arrow => {
                BatchWriter::Arrow(arrow::ipc::writer::FileWriter::try_new(sink, &schema).map_err(|e| e.to_string())?)
            }
        })
    }

    /// Writes a batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), String> {
        match self {
            BatchWriter::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
            BatchWriter::Csv(w) => w.write(batch).map_err(|e| e.to_string()),
            BatchWriter::Ndjson(w) => w.write(batch).map_err(|e| e.to_string()),
            BatchWriter::Arrow(w) => w.write(batch).map_err(|e| e.to_string()),
        }
    }

    /// Writes out what the writer holds in memory once it holds more than `budget`
    /// bytes (Parquet buffers a row group; the other formats write each batch at once).
    pub(crate) fn flush_over(&mut self, budget: u64) -> std::result::Result<(), String> {
        match self {
            BatchWriter::Parquet(w) if w.in_progress_size() as u64 > budget => w.flush().map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// Bytes the writer holds in memory.
    pub(crate) fn memory_size(&self) -> usize {
        match self {
            BatchWriter::Parquet(w) => w.memory_size(),
            _ => 0,
        }
    }

    /// Finishes the file (footer, header of an empty CSV) and returns the sink.
    pub(crate) fn finish(self, schema: &SchemaRef) -> std::result::Result<BufWriter<File>, String> {
        match self {
            BatchWriter::Parquet(w) => w.into_inner().map_err(|e| e.to_string()),
            BatchWriter::Csv(mut w) => {
                // A CSV writer writes its header with the first batch: an empty one
                // writes the header of a file without rows.
                w.write(&RecordBatch::new_empty(schema.clone()))
                    .map_err(|e| e.to_string())?;
                Ok(w.into_inner())
            }
            BatchWriter::Ndjson(mut w) => {
                w.finish().map_err(|e| e.to_string())?;
                Ok(w.into_inner())
            }
            BatchWriter::Arrow(w) => w.into_inner().map_err(|e| e.to_string()),
        }
    }
}

/// Refuses columns CSV cannot hold (lists, structs, maps, unions), naming the first.
pub(crate) fn check_csv(schema: &Schema) -> std::result::Result<(), String> {
    use arrow::datatypes::DataType as D;
    match schema.fields().iter().find(|f| {
        matches!(
            f.data_type(),
            D::List(_)
                | D::LargeList(_)
                | D::ListView(_)
                | D::LargeListView(_)
                | D::FixedSizeList(..)
                | D::Struct(_)
                | D::Map(..)
                | D::Union(..)
                | D::RunEndEncoded(..)
        )
    }) {
        Some(f) => Err(format!(
            "CSV cannot hold column '{}' of type {}: select other columns, or write Parquet, NDJSON or Arrow",
            f.name(),
            f.data_type()
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_csv_error_messages_parse() {
        assert_eq!(
            parse_error("Error while parsing value 'x' as type 'Int64' for column 2 at line 7. Row data: '[1,2,x]'"),
            Some(("x".into(), "Int64".into(), 2, 7))
        );
        assert_eq!(
            fields_error("incorrect number of fields for line 3, expected 2 got 1"),
            Some((3, 2, "1".into()))
        );
        assert_eq!(parse_error("something else"), None);
        assert_eq!(
            unequal_lengths(
                "Csv error: Encountered unequal lengths between records on CSV file. Expected 3 records, found 2 records at line 3"
            ),
            Some((3, 3, 2))
        );
    }
}
