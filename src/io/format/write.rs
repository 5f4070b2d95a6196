//! Writing record batches into a file of one format.

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use parquet::file::properties::WriterProperties;

use super::Format;
use super::encode::ParquetWriter;
use super::lines::{Lines, LinesWriter};
use crate::io::sink::Sink;

/// A writer of record batches into a file of one format.
pub(crate) enum BatchWriter {
    /// Its columns encoded on every core.
    Parquet(ParquetWriter<Sink>),
    /// CSV and NDJSON, their lines formatted on every core.
    Lines(LinesWriter<Sink>),
    Arrow(arrow::ipc::writer::FileWriter<Sink>),
}

impl BatchWriter {
    /// A writer of batches of `schema` as `format` into `sink`; `props` are Parquet's.
    pub(crate) fn new(
        format: Format,
        sink: Sink,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> std::result::Result<BatchWriter, String> {
        Ok(match format {
            Format::Parquet => {
                BatchWriter::Parquet(ParquetWriter::try_new(sink, schema, props).map_err(|e| e.to_string())?)
            }
            Format::Csv => {
                check_csv(&schema)?;
                BatchWriter::Lines(LinesWriter::new(sink, Lines::Csv, schema))
            }
            Format::Ndjson => BatchWriter::Lines(LinesWriter::new(sink, Lines::Ndjson, schema)),
            Format::Arrow => {
                BatchWriter::Arrow(arrow::ipc::writer::FileWriter::try_new(sink, &schema).map_err(|e| e.to_string())?)
            }
        })
    }

    /// Writes a batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), String> {
        match self {
            BatchWriter::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
            BatchWriter::Lines(w) => w.write(batch).map_err(|e| e.to_string()),
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
    pub(crate) fn finish(self) -> std::result::Result<Sink, String> {
        match self {
            BatchWriter::Parquet(w) => w.into_inner().map_err(|e| e.to_string()),
            BatchWriter::Lines(w) => w.finish().map_err(|e| e.to_string()),
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
