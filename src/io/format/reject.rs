//! A piece of a CSV or NDJSON file that does not decode: its records are decoded in
//! halves, and halves of halves, down to the records that do not decode, each named in
//! one line (the file, the line, the column, the value and the type it is read as).
//! Under `--on-error collect` those records become failed rows and the others are the
//! piece's batch; otherwise the first one fails the run. A piece that decodes never
//! comes here.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;

use super::errors::{fields_error, first_line};
use super::read::TextDecode;
use super::split::records;
use super::{Format, data};
use crate::error::{Error, Result};

/// The records of a piece that did not decode, under `--on-error collect`.
pub(crate) struct Rejected {
    /// Their rows in the piece, ascending.
    pub(crate) rows: Vec<usize>,
    /// Their values, in the columns read: null where a value did not parse (the message
    /// names it).
    pub(crate) values: RecordBatch,
    /// Why each did not decode, naming its line of the file.
    pub(crate) errors: Vec<Error>,
}

impl TextDecode {
    /// The piece `bytes` (`rows` records from line `line` of the file), which does not
    /// decode as a whole: with `collect`, the batch of its records that decode and the
    /// records that do not; otherwise the error of the first record that does not.
    pub(super) fn sift(&self, bytes: &[u8], line: usize, collect: bool) -> Result<(RecordBatch, Option<Rejected>)> {
        let records = records(bytes, self.format == Format::Csv);
        let span = |r: &std::ops::Range<usize>| &bytes[records[r.start].bytes.start..records[r.end - 1].bytes.end];
        let (mut good, mut rejected) = (Vec::new(), Vec::new());
        // Ranges of records still to decode, the next on top: in order.
        let mut todo = Vec::new();
        todo.push(0..records.len());
        while let Some(range) = todo.pop() {
            match self.decode_bytes(span(&range), range.len()) {
                Ok(batch) => good.push(batch),
                Err(e) if range.len() == 1 => {
                    let (values, error) = self.reject(span(&range), line + records[range.start].line, e);
                    if !collect {
                        return Err(error);
                    }
                    rejected.push((range.start, values, error));
                }
                Err(_) => {
                    let mid = range.start + range.len() / 2;
                    todo.push(mid..range.end);
                    todo.push(range.start..mid);
                }
            }
        }
        let schema = self.output_schema();
        // Unreachable: the batches are of the output schema.
        let arrow = |e: ArrowError| Error::Internal(format!("Arrow: {e}"));
        let batch = arrow::compute::concat_batches(&schema, &good).map_err(arrow)?;
        if rejected.is_empty() {
            // Unreachable: a piece that does not decode holds a record that does not.
            return Ok((batch, None));
        }
        let values: Vec<RecordBatch> = rejected.iter().map(|(_, v, _)| v.clone()).collect();
        let values = arrow::compute::concat_batches(&schema, &values).map_err(arrow)?;
        let (rows, errors) = rejected.into_iter().map(|(row, _, e)| (row, e)).unzip();
        Ok((batch, Some(Rejected { rows, values, errors })))
    }

    /// The record `bytes` on line `line`, which does not decode (`e`): its values (the
    /// columns read, null where one does not parse) and its error, naming the first
    /// value that does not parse.
    fn reject(&self, bytes: &[u8], line: usize, e: ArrowError) -> (RecordBatch, Error) {
        let schema = self.output_schema();
        let nulls = || {
            let columns = schema
                .fields()
                .iter()
                .map(|f| new_null_array(f.data_type(), 1))
                .collect();
            // Unreachable: a null column of each field's type, of one row.
            RecordBatch::try_new_with_options(
                schema.clone(),
                columns,
                &RecordBatchOptions::new().with_row_count(Some(1)),
            )
            .expect("null columns of the schema")
        };
        let whole = |e: &ArrowError| match e {
            ArrowError::CsvError(m) if let Some((_, expected, got)) = fields_error(m) => {
                // Arrow counts only so far ("more than 3") in a record decoded alone.
                let fields = arrow::csv::reader::Format::default()
                    .with_header(false)
                    .infer_schema(bytes, Some(1));
                let got = fields.map_or(got, |(schema, _)| schema.fields().len().to_string());
                format!("line {line}: {got} fields, but the header has {expected}")
            }
            _ => format!("line {line}: {}", first_line(e)),
        };
        // The record's values as text, or why it is not a record of this file at all.
        let texts = match self.texts(bytes) {
            Ok(texts) => texts,
            Err(e) => return (nulls(), data(&self.path, whole(&e))),
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        let mut first = None;
        for (i, field) in schema.fields().iter().enumerate() {
            match self.decode_column(bytes, i) {
                Ok(column) => columns.push(column),
                Err(_) => {
                    columns.push(new_null_array(field.data_type(), 1));
                    first.get_or_insert_with(|| {
                        let text = texts.get(i).cloned().flatten().unwrap_or_default();
                        format!(
                            "line {line}, column '{}': cannot read '{text}' as {}",
                            field.name(),
                            field.data_type()
                        )
                    });
                }
            }
        }
        let message = first.unwrap_or_else(|| whole(&e));
        // Unreachable: a column of each field's type, of one row.
        let values = RecordBatch::try_new(schema.clone(), columns).expect("columns of the schema");
        (values, data(&self.path, message))
    }

    /// The text of each column read of the one record `bytes` (`None` for a null).
    fn texts(&self, bytes: &[u8]) -> std::result::Result<Vec<Option<String>>, ArrowError> {
        match self.format {
            Format::Csv => {
                let fields: Vec<Field> = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| Field::new(f.name(), DataType::Utf8, true))
                    .collect();
                let text = TextDecode {
                    schema: Arc::new(Schema::new(fields)),
                    ..self.clone()
                };
                let batch = text.decode_bytes(bytes, 1)?;
                let texts = batch.columns().iter().map(|c| {
                    let c = arrow::array::AsArray::as_string::<i32>(c.as_ref());
                    arrow::array::Array::is_valid(c, 0).then(|| c.value(0).to_string())
                });
                Ok(texts.collect())
            }
            _ => {
                let object = match serde_json::from_slice::<serde_json::Value>(bytes) {
                    Ok(serde_json::Value::Object(o)) => o,
                    // Arrow's words for what is not an object.
                    _ => return self.decode_bytes(bytes, 1).map(|_| Vec::new()),
                };
                let texts = self.schema.fields().iter().map(|f| match object.get(f.name()) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(v @ serde_json::Value::Number(_)) => {
                        Some(number_text(bytes, f.name()).unwrap_or(v.to_string()))
                    }
                    Some(v) => Some(v.to_string()),
                });
                Ok(texts.collect())
            }
        }
    }

    /// Column `i` of the columns read, of the one record `bytes`.
    fn decode_column(&self, bytes: &[u8], i: usize) -> std::result::Result<ArrayRef, ArrowError> {
        let one = match self.format {
            Format::Csv => TextDecode {
                projection: vec![self.projection[i]],
                ..self.clone()
            },
            _ => TextDecode {
                schema: Arc::new(Schema::new(vec![self.schema.field(i).clone()])),
                ..self.clone()
            },
        };
        Ok(one.decode_bytes(bytes, 1)?.column(0).clone())
    }
}

/// The number that is the value of `key` in the JSON object `line`, as written there
/// (`123456789012345678901.5`), which serde_json rounds to a float.
fn number_text(line: &[u8], key: &str) -> Option<String> {
    let line = std::str::from_utf8(line).ok()?;
    let quoted = serde_json::to_string(key).ok()?;
    let mut rest = line;
    while let Some(at) = rest.find(&quoted) {
        rest = &rest[at + quoted.len()..];
        if let Some(value) = rest.trim_start().strip_prefix(':') {
            let value = value.trim_start();
            let end = value
                .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
                .unwrap_or(value.len());
            if end > 0 {
                return Some(value[..end].to_string());
            }
        }
    }
    None
}
