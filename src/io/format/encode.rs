//! A Parquet writer that encodes the column chunks of a row group on every core (rayon)
//! and appends them to the file in column order, row group after row group: the bytes
//! of `parquet`'s own `ArrowWriter` with the same properties, which encodes the columns
//! one after another on the calling thread.
//!
//! A column writer's pages depend only on the arrays it is given, in order, so encoding
//! each column on its own thread changes nothing in the file: the row groups are cut as
//! `ArrowWriter` cuts them (at `max_row_group_row_count` rows, and where the caller
//! flushes), each batch's columns are encoded in parallel, and a full row group's
//! chunks are closed in parallel and appended in schema order.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

/// A Parquet writer of record batches whose columns are encoded on every core.
pub(crate) struct ParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The most rows of a row group (`WriterProperties::max_row_group_row_count`).
    max_rows: Option<usize>,
    /// The row group being encoded: a writer per leaf column, and its rows.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
}

impl<W: Write + Send> ParquetWriter<W> {
    /// A writer of batches of `schema` into `sink` with `props`. The file starts as
    /// `ArrowWriter` starts it (magic, the Arrow schema in the footer's metadata).
    /// Refuses the properties that cut row groups by their bytes or pages by content,
    /// which this writer does not follow.
    pub(crate) fn try_new(sink: W, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        if props.max_row_group_bytes().is_some() || props.content_defined_chunking().is_some() {
            return Err(ParquetError::General(
                "row groups cut by bytes or pages cut by content are not written in parallel".into(),
            ));
        }
        let max_rows = props.max_row_group_row_count();
        let (file, factory) = ArrowWriter::try_new(sink, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(ParquetWriter {
            file,
            factory,
            schema,
            max_rows,
            group: None,
        })
    }

    /// Encodes a batch, its columns in parallel; a batch that fills the row group is
    /// cut there, and the row group written (see [`ParquetWriter::flush`]).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let buffered = self.group.as_ref().map_or(0, |(_, rows)| *rows);
        if let Some(max) = self.max_rows
            && buffered + batch.num_rows() > max
        {
            let fits = max - buffered;
            self.write(&batch.slice(0, fits))?;
            return self.write(&batch.slice(fits, batch.num_rows() - fits));
        }
        let (writers, rows) = match &mut self.group {
            Some(group) => group,
            None => {
                let writers = self
                    .factory
                    .create_column_writers(self.file.flushed_row_groups().len())?;
                self.group.insert((writers, 0))
            }
        };
        let leaves: Vec<Vec<ArrowLeafColumn>> = self
            .schema
            .fields()
            .par_iter()
            .zip(batch.columns().par_iter())
            .map(|(field, column)| compute_leaves(field, column))
            .collect::<Result<_>>()?;
        let leaves: Vec<ArrowLeafColumn> = leaves.into_iter().flatten().collect();
        if leaves.len() != writers.len() {
            return Err(ParquetError::General(format!(
                "a batch of {} leaf columns for {} column writers",
                leaves.len(),
                writers.len()
            )));
        }
        writers
            .par_iter_mut()
            .zip(leaves.into_par_iter())
            .try_for_each(|(writer, leaf)| writer.write(&leaf))?;
        *rows += batch.num_rows();
        if self.max_rows.is_some_and(|max| *rows >= max) {
            self.flush()?;
        }
        Ok(())
    }

    /// Closes the row group being encoded, its columns in parallel, and appends their
    /// chunks to the file in schema order.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let Some((writers, _)) = self.group.take() else {
            return Ok(());
        };
        let chunks: Vec<ArrowColumnChunk> = writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<Result<_>>()?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        Ok(())
    }

    /// The encoded size the row group being encoded is expected to have.
    pub(crate) fn in_progress_size(&self) -> usize {
        self.group.as_ref().map_or(0, |(writers, _)| {
            writers.iter().map(ArrowColumnWriter::get_estimated_total_bytes).sum()
        })
    }

    /// Bytes the row group being encoded holds in memory.
    pub(crate) fn memory_size(&self) -> usize {
        self.group.as_ref().map_or(0, |(writers, _)| {
            writers.iter().map(ArrowColumnWriter::memory_size).sum()
        })
    }

    /// Writes the last row group and the footer; returns the sink.
    pub(crate) fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.file.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, ListArray, StringArray};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};

    use super::*;

    /// A batch of `rows` rows from row `first`: nulls, strings, a dictionary, a list.
    fn batch(first: i64, rows: usize) -> RecordBatch {
        let ids: Vec<i64> = (first..first + rows as i64).collect();
        let id: ArrayRef = Arc::new(Int64Array::from(ids.clone()));
        let value: ArrayRef = Arc::new(Float64Array::from_iter(
            ids.iter().map(|i| (i % 7 != 0).then_some(*i as f64 * 0.5)),
        ));
        let text: ArrayRef =
            Arc::new(StringArray::from_iter(ids.iter().map(|i| {
                (i % 5 != 0).then(|| format!("passage {} {}", i, "word ".repeat((*i % 13) as usize)))
            })));
        let tag: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::from_iter(
            ids.iter().map(|i| ["a", "b", "c"][(*i % 3) as usize]),
        ));
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(
            ids.iter()
                .map(|i| (i % 4 != 0).then(|| (0..i % 3).map(Some).collect::<Vec<_>>())),
        ));
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("value", DataType::Float64, true),
            Field::new("text", DataType::Utf8, true),
            Field::new("tag", tag.data_type().clone(), false),
            Field::new("list", list.data_type().clone(), true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![id, value, text, tag, list]).expect("batch")
    }

    /// Writes `batches` with `ArrowWriter` and with `ParquetWriter`, flushing each after
    /// a batch when its row group's encoded size is over `flush_over` (as the run's
    /// writer does); returns both files.
    fn both(props: WriterProperties, batches: &[RecordBatch], flush_over: usize) -> (Vec<u8>, Vec<u8>) {
        let schema = batches[0].schema();
        let mut plain = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props.clone())).expect("writer");
        let mut parallel = ParquetWriter::try_new(Vec::new(), schema, props).expect("writer");
        for b in batches {
            plain.write(b).expect("write");
            if plain.in_progress_size() > flush_over {
                plain.flush().expect("flush");
            }
            parallel.write(b).expect("write");
            if parallel.in_progress_size() > flush_over {
                parallel.flush().expect("flush");
            }
        }
        (
            plain.into_inner().expect("finish"),
            parallel.into_inner().expect("finish"),
        )
    }

    fn row_groups(file: Vec<u8>) -> usize {
        let reader = parquet::file::reader::SerializedFileReader::new(bytes::Bytes::from(file)).expect("reader");
        parquet::file::reader::FileReader::metadata(&reader).num_row_groups()
    }

    #[test]
    fn the_bytes_of_arrow_writer_cut_by_rows() {
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1000))
            .set_data_page_size_limit(4096)
            .set_write_batch_size(512)
            .build();
        let batches: Vec<_> = (0..9).map(|i| batch(i * 700, 700)).collect();
        let (plain, parallel) = both(props, &batches, usize::MAX);
        assert_eq!(plain.len(), parallel.len());
        assert!(plain == parallel, "the files differ");
        // 6,300 rows in row groups of 1,000.
        assert_eq!(row_groups(parallel), 7);
    }

    #[test]
    fn the_bytes_of_arrow_writer_cut_by_size() {
        let props = WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .set_data_page_size_limit(8192)
            .set_dictionary_page_size_limit(8192)
            .build();
        let batches: Vec<_> = (0..12).map(|i| batch(i * 2000, 2000)).collect();
        let (plain, parallel) = both(props, &batches, 60_000);
        assert!(plain == parallel, "the files differ");
        assert!(row_groups(parallel) > 2);
    }

    #[test]
    fn no_rows_the_bytes_of_arrow_writer() {
        let empty = RecordBatch::new_empty(batch(0, 1).schema());
        let (plain, parallel) = both(WriterProperties::default(), &[empty], usize::MAX);
        assert!(plain == parallel, "the files differ");
    }

    #[test]
    fn refuses_row_groups_cut_by_bytes() {
        let props = WriterProperties::builder()
            .set_max_row_group_bytes(Some(1 << 20))
            .build();
        let e = ParquetWriter::try_new(Vec::new(), batch(0, 1).schema(), props)
            .err()
            .expect("refused");
        assert_eq!(
            e.to_string(),
            "Parquet error: row groups cut by bytes or pages cut by content are not written in parallel"
        );
    }
}
