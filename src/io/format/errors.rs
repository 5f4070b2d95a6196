//! The reading errors of CSV and NDJSON files as one line that names the line of the
//! file (and, for CSV, the column), from Arrow's messages.

use std::fs::File;
use std::path::Path;

use arrow::datatypes::Schema;
use arrow::error::ArrowError;

use super::data;
use super::split::Splitter;
use crate::error::Error;

/// The first line of an error's message.
pub(super) fn first_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}

/// A CSV reading error of `path` as one line that names the line of the file and the
/// column. `schema` is the schema the reader parses with (for column names); the reader
/// began at record `first` of the file (the header is record 0).
pub(super) fn csv_error(path: &Path, e: ArrowError, schema: Option<&Schema>, first: usize) -> Error {
    // Arrow counts a parse error's records from 0, and a record's fields from 1, from
    // where its decoder began; records may span several lines.
    let parsed = match &e {
        ArrowError::ParseError(m) => {
            parse_error(m)
                .or_else(|| timestamp_error(m, schema))
                .map(|(value, ty, column, record)| {
                    let name = schema
                        .and_then(|s| s.fields().get(column))
                        .map_or_else(|| format!("{}", column + 1), |f| format!("'{}'", f.name()));
                    (
                        first + record,
                        format!(", column {name}: cannot read '{value}' as {ty}"),
                    )
                })
        }
        ArrowError::CsvError(m) => fields_error(m).map(|(record, expected, got)| {
            (
                first + record.saturating_sub(1),
                format!(": {got} fields, but the header has {expected}"),
            )
        }),
        _ => None,
    };
    // Inferring types, the csv crate names the line itself.
    if let ArrowError::CsvError(m) = &e
        && let Some((line, expected, got)) = unequal_lengths(m)
    {
        return data(
            path,
            format!("line {line}: {got} fields, but the header has {expected}"),
        );
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

/// `Error parsing column C at line L: Parser error: Error parsing timestamp from 'V':
/// why`, Arrow's words for a timestamp that does not parse: as [`parse_error`], the
/// type from `schema`.
fn timestamp_error(m: &str, schema: Option<&Schema>) -> Option<(String, String, usize, usize)> {
    let rest = m.strip_prefix("Error parsing column ")?;
    let (column, rest) = rest.split_once(" at line ")?;
    let (line, rest) = rest.split_once(": ")?;
    let column: usize = column.parse().ok()?;
    let value = match rest.split_once(" from '") {
        Some((_, v)) => v.rsplit_once("': ").map_or(v, |(v, _)| v),
        None => rest,
    };
    let ty = schema?.fields().get(column)?.data_type().to_string();
    Some((value.to_string(), ty, column, line.parse().ok()?))
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
        let schema = Schema::new(vec![arrow::datatypes::Field::new(
            "ts",
            arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
            true,
        )]);
        assert_eq!(
            timestamp_error(
                "Error parsing column 0 at line 4: Parser error: Error parsing timestamp from '2024-13-01': error \
                 parsing date",
                Some(&schema)
            ),
            Some(("2024-13-01".into(), "Timestamp(µs)".into(), 0, 4))
        );
        assert_eq!(
            unequal_lengths(
                "Csv error: Encountered unequal lengths between records on CSV file. Expected 3 records, found 2 records at line 3"
            ),
            Some((3, 3, 2))
        );
    }
}
