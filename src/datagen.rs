//! The benchmark data sets, generated deterministically from a seed: the same rows and
//! seed always give the same rows. [`DataSet::Docs`] is `docs_N.parquet` of
//! `WORKLOADS.md`:
//!
//! | column | Arrow type | content |
//! |---|---|---|
//! | `id` | Int64 | `0..N-1`, in order |
//! | `passage` | Utf8 | 5..=40 words from `w0000`..`w0999`, each upper-cased with probability 0.1, joined by single spaces, with 0..=3 leading and 0..=3 trailing spaces |
//! | `value` | Float64 | uniform in `[0, 100)` |
//! | `sentences` | `List<Utf8>` | 1..=8 sentences of 3..=12 lower-case vocabulary words |
//!
//! [`DataSet::Events`] is the typed data set of workload W8 (dates, timestamps,
//! decimals, a dictionary, binary, embeddings, nulls): see [`events_schema`].
//!
//! Rows are made in blocks of [`BLOCK_ROWS`]; block `b` draws from its own random stream
//! (ChaCha8 seeded with the seed, stream `b`), so any block can be made on its own.

mod events;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, ListBuilder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::io::{BatchWriter, Format, Location, OutputFile};

pub use events::{CATEGORIES, EMBEDDING_WIDTH, events_block, events_schema};

/// Rows per block of generated data, and per Parquet row group in [`write_docs`].
pub const BLOCK_ROWS: usize = 100_000;

/// The schema of the data set.
pub fn docs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("passage", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new(
            "sentences",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            false,
        ),
    ]))
}

/// Rows `block * BLOCK_ROWS ..` of the data set, at most `BLOCK_ROWS` of them, stopping
/// at `rows` in all.
///
/// # Examples
///
/// ```
/// use arrow::array::AsArray;
/// use arrow::datatypes::Int64Type;
/// use hypernodes::datagen::docs_block;
///
/// let batch = docs_block(3, 42, 0);
/// assert_eq!(batch.num_rows(), 3);
/// assert_eq!(batch.column(0).as_primitive::<Int64Type>().values(), &[0, 1, 2]);
/// assert_eq!(docs_block(3, 42, 0), batch); // deterministic
/// ```
pub fn docs_block(rows: usize, seed: u64, block: usize) -> RecordBatch {
    let start = block * BLOCK_ROWS;
    let n = rows.saturating_sub(start).min(BLOCK_ROWS);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(block as u64);

    let mut passages = StringBuilder::with_capacity(n, n * 160);
    let mut values = Vec::with_capacity(n);
    let mut sentences = ListBuilder::with_capacity(StringBuilder::with_capacity(n * 5, n * 200), n)
        .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let mut text = String::with_capacity(512);
    for _ in 0..n {
        text.clear();
        (0..rng.random_range(0..=3)).for_each(|_| text.push(' '));
        for w in 0..rng.random_range(5..=40) {
            if w > 0 {
                text.push(' ');
            }
            let word = rng.random_range(0..1000);
            let upper = rng.random_bool(0.1);
            let _ = write!(text, "{}{word:04}", if upper { 'W' } else { 'w' });
        }
        (0..rng.random_range(0..=3)).for_each(|_| text.push(' '));
        passages.append_value(&text);
        values.push(rng.random_range(0.0..100.0));
        for _ in 0..rng.random_range(1..=8) {
            text.clear();
            for w in 0..rng.random_range(3..=12) {
                if w > 0 {
                    text.push(' ');
                }
                let _ = write!(text, "w{:04}", rng.random_range(0..1000));
            }
            sentences.values().append_value(&text);
        }
        sentences.append(true);
    }
    let sentences = sentences.finish();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(start as i64..(start + n) as i64)),
        Arc::new(passages.finish()),
        Arc::new(Float64Array::from(values)),
        Arc::new(sentences),
    ];
    RecordBatch::try_new(docs_schema(), columns).expect("columns match the schema")
}

/// A generated data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSet {
    /// `id, passage, value, sentences` ([`docs_schema`]): workloads W1 to W7.
    Docs,
    /// `id, ts, day, amount, category, note, uid, embedding` ([`events_schema`]):
    /// workload W8.
    Events,
}

impl DataSet {
    /// The data set named `name` (`docs` or `events`).
    pub fn named(name: &str) -> Option<DataSet> {
        match name {
            "docs" => Some(DataSet::Docs),
            "events" => Some(DataSet::Events),
            _ => None,
        }
    }

    /// Its schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            DataSet::Docs => docs_schema(),
            DataSet::Events => events_schema(),
        }
    }

    /// Rows `block * BLOCK_ROWS ..` of it (see [`docs_block`], [`events_block`]).
    pub fn block(self, rows: usize, seed: u64, block: usize) -> RecordBatch {
        match self {
            DataSet::Docs => docs_block(rows, seed, block),
            DataSet::Events => events_block(rows, seed, block),
        }
    }

    /// The columns a file of `format` holds: CSV and NDJSON hold no lists or binary
    /// (`docs` without `sentences`; `events` without `uid` and `embedding`).
    fn columns_for(self, format: Format) -> Option<Vec<usize>> {
        match (self, format) {
            (DataSet::Docs, Format::Csv) => Some(vec![0, 1, 2]),
            (DataSet::Events, Format::Csv | Format::Ndjson) => Some(vec![0, 1, 2, 3, 4, 5]),
            _ => None,
        }
    }
}

/// Writes the benchmark data set with `rows` rows to `path` (see [`write_data_set`]).
///
/// # Errors
///
/// [`Error::Io`](crate::Error::Io) when the file cannot be written.
pub fn write_docs(path: &Path, rows: usize, seed: u64) -> Result<u64> {
    write_data_set(DataSet::Docs, path, rows, seed)
}

/// Writes `set` with `rows` rows to `path` (a path, or an object's URL with the `cloud`
/// feature: see [`Location`]), in the format of its extension (see [`Format::of`]): Parquet (snappy, a row group per [`BLOCK_ROWS`] rows), CSV or NDJSON
/// (without the columns they cannot hold: see [`DataSet`]), or Arrow. Written to a
/// temporary file renamed into place at the end (an object: a multipart upload completed
/// at the end), so a failure leaves no partial file.
/// Returns the bytes written.
///
/// # Errors
///
/// [`Error::Io`](crate::Error::Io) when the file cannot be written.
pub fn write_data_set(set: DataSet, path: impl Into<Location>, rows: usize, seed: u64) -> Result<u64> {
    let path = path.into();
    let format = path.format();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(BLOCK_ROWS))
        .build();
    let columns = set.columns_for(format);
    let keep = |batch: RecordBatch| match &columns {
        Some(columns) => batch.project(columns).expect("columns of the data set"),
        None => batch,
    };
    let schema = keep(RecordBatch::new_empty(set.schema())).schema();
    let (mut file, sink) = OutputFile::create(&path)?;
    let mut writer = BatchWriter::new(format, sink, schema, props).map_err(|e| file.error(e))?;
    for block in 0..rows.div_ceil(BLOCK_ROWS) {
        writer
            .write(&keep(set.block(rows, seed, block)))
            .map_err(|e| file.error(e))?;
    }
    file.finish(writer.finish().map_err(|e| file.error(e))?)?;
    file.commit()
}
