//! CSV and NDJSON written a slice of a batch per core: each slice's lines are formatted
//! into a buffer of their own on rayon, and the buffers written in row order. A line
//! depends only on its row, so the file is the one Arrow's own writer writes (the CSV
//! header, from the schema, before the first row).

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use rayon::prelude::*;

/// The fewest rows a core formats at once (fewer cost more to hand out than to format).
const SLICE_ROWS: usize = 4096;

/// The text formats written by [`LinesWriter`].
#[derive(Clone, Copy)]
pub(crate) enum Lines {
    Csv,
    Ndjson,
}

/// A writer of record batches as CSV or NDJSON lines, formatted on every core.
pub(crate) struct LinesWriter<W: Write> {
    sink: W,
    lines: Lines,
    /// The schema whose header a CSV file starts with, until it is written.
    header: Option<SchemaRef>,
}

impl<W: Write> LinesWriter<W> {
    /// A writer of batches of `schema` as `lines` into `sink`.
    pub(crate) fn new(sink: W, lines: Lines, schema: SchemaRef) -> Self {
        let header = matches!(lines, Lines::Csv).then_some(schema);
        LinesWriter { sink, lines, header }
    }

    /// Writes a batch's lines (after the CSV header, the first time).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        if let Some(schema) = self.header.take() {
            let mut header = Vec::new();
            arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut header)
                .write(&RecordBatch::new_empty(schema))?;
            self.sink.write_all(&header)?;
        }
        let rows = batch.num_rows();
        let per_slice = rows.div_ceil(rayon::current_num_threads()).max(SLICE_ROWS);
        let lines = self.lines;
        let buffers: Vec<Vec<u8>> = (0..rows.div_ceil(per_slice))
            .into_par_iter()
            .map(|i| format(lines, &batch.slice(i * per_slice, per_slice.min(rows - i * per_slice))))
            .collect::<Result<_, _>>()?;
        for buffer in buffers {
            self.sink.write_all(&buffer)?;
        }
        Ok(())
    }

    /// Finishes the file (the header of a CSV file without rows); returns the sink.
    pub(crate) fn finish(mut self) -> Result<W, ArrowError> {
        if let Some(schema) = self.header.clone() {
            self.write(&RecordBatch::new_empty(schema))?;
        }
        Ok(self.sink)
    }
}

/// The `lines` of `batch`, without a header.
fn format(lines: Lines, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    match lines {
        Lines::Csv => arrow::csv::WriterBuilder::new()
            .with_header(false)
            .build(&mut out)
            .write(batch)?,
        Lines::Ndjson => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut out);
            writer.write(batch)?;
            writer.finish()?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    /// A batch of `rows` rows from row `first`, with nulls, quotes, commas and newlines.
    fn batch(first: i64, rows: usize) -> RecordBatch {
        let ids: Vec<i64> = (first..first + rows as i64).collect();
        let id: ArrayRef = Arc::new(Int64Array::from(ids.clone()));
        let value: ArrayRef = Arc::new(Float64Array::from_iter(
            ids.iter().map(|i| (i % 7 != 0).then_some(*i as f64 / 3.0)),
        ));
        let text: ArrayRef =
            Arc::new(StringArray::from_iter(ids.iter().map(|i| {
                (i % 5 != 0).then(|| format!("say \"{i}\",\nthen {}", "x".repeat((*i % 9) as usize)))
            })));
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("value", DataType::Float64, true),
            Field::new("text", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![id, value, text]).expect("batch")
    }

    /// `batches` written by Arrow's writer of `lines`, and by [`LinesWriter`].
    fn both(lines: Lines, batches: &[RecordBatch]) -> (Vec<u8>, Vec<u8>) {
        let schema = batches[0].schema();
        let mut plain = Vec::new();
        match lines {
            Lines::Csv => {
                let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut plain);
                for b in batches {
                    w.write(b).expect("write");
                }
                w.write(&RecordBatch::new_empty(schema.clone())).expect("write");
            }
            Lines::Ndjson => {
                let mut w = arrow::json::LineDelimitedWriter::new(&mut plain);
                for b in batches {
                    w.write(b).expect("write");
                }
                w.finish().expect("finish");
            }
        }
        let mut parallel = LinesWriter::new(Vec::new(), lines, schema);
        for b in batches {
            parallel.write(b).expect("write");
        }
        (plain, parallel.finish().expect("finish"))
    }

    #[test]
    fn the_bytes_of_arrows_writers() {
        let batches = [
            batch(0, 10_000),
            batch(10_000, 1),
            batch(10_001, 0),
            batch(10_001, 20_000),
        ];
        for lines in [Lines::Csv, Lines::Ndjson] {
            let (plain, parallel) = both(lines, &batches);
            assert!(plain.len() > 500_000);
            assert!(plain == parallel, "the files differ");
        }
    }

    #[test]
    fn a_file_without_rows_the_bytes_of_arrows_writers() {
        let empty = [RecordBatch::new_empty(batch(0, 1).schema())];
        let (plain, parallel) = both(Lines::Csv, &empty);
        assert_eq!(String::from_utf8(parallel.clone()).unwrap(), "id,value,text\n");
        assert_eq!(plain, parallel);
        let (plain, parallel) = both(Lines::Ndjson, &empty);
        assert_eq!((plain.len(), parallel.len()), (0, 0));
    }
}
