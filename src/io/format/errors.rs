//! The reading errors of CSV and NDJSON files as one line that names the line of the
//! file, from Arrow's messages.

use std::path::Path;

use arrow::error::ArrowError;

use super::data;
use crate::error::Error;

/// The first line of an error's message.
pub(super) fn first_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}

/// An error of Arrow's CSV reader inferring the types of the file at `path`, as one line
/// that names the line of the file where it can. (The pieces of a file being read name
/// the record that does not decode themselves: see `reject`.)
pub(super) fn csv_error(path: &Path, e: ArrowError) -> Error {
    // The csv crate names the line itself.
    if let ArrowError::CsvError(m) = &e
        && let Some((line, expected, got)) = unequal_lengths(m)
    {
        return data(
            path,
            format!("line {line}: {got} fields, but the header has {expected}"),
        );
    }
    data(path, format!("not a readable CSV file ({})", first_line(&e)))
}

/// `incorrect number of fields for line L, expected E got G`: the record (1-based, the
/// header is 1), the fields expected and the fields found.
pub(super) fn fields_error(m: &str) -> Option<(usize, usize, String)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_csv_error_messages_parse() {
        assert_eq!(
            fields_error("incorrect number of fields for line 3, expected 2 got 1"),
            Some((3, 2, "1".into()))
        );
        assert_eq!(fields_error("something else"), None);
        assert_eq!(
            unequal_lengths(
                "Csv error: Encountered unequal lengths between records on CSV file. Expected 3 records, found 2 records at line 3"
            ),
            Some((3, 3, 2))
        );
    }
}
