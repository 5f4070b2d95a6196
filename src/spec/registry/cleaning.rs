//! The registry's functions for cleaning ETL columns: timestamps parsed from text and
//! bucketed, values hashed to hex.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

use crate::node;

/// The units [`truncate_timestamp`] buckets by, for messages.
const UNITS: &str = "minute, hour, day, week, month";

/// `text` parsed with the chrono (strftime-like) `format`, e.g. `%d/%m/%Y %H:%M`; a
/// format without a time of day (`%Y-%m-%d`) gives midnight.
///
/// # Errors
///
/// Text that does not match the format, naming both.
#[node(output = "timestamp")]
pub fn parse_timestamp(text: &str, format: &str) -> Result<NaiveDateTime, String> {
    use chrono::format::ParseErrorKind;
    match NaiveDateTime::parse_from_str(text, format) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == ParseErrorKind::NotEnough => NaiveDate::parse_from_str(text, format)
            .map(|d| d.and_time(NaiveTime::MIN))
            .map_err(|_| not_matching(text, format, &e)),
        Err(e) => Err(not_matching(text, format, &e)),
    }
}

fn not_matching(text: &str, format: &str, e: &chrono::ParseError) -> String {
    format!("'{text}' is not a timestamp of the format '{format}' ({e})")
}

/// `timestamp` truncated to the start of its `unit`: `minute`, `hour`, `day`, `week`
/// (Monday, as ISO 8601 and SQL's `date_trunc` count weeks) or `month`.
///
/// # Errors
///
/// Any other unit, naming the units.
#[node(output = "bucket")]
pub fn truncate_timestamp(timestamp: NaiveDateTime, unit: &str) -> Result<NaiveDateTime, String> {
    let day = timestamp.date();
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    let seconds = i64::from(timestamp.time().num_seconds_from_midnight());
    Ok(match unit {
        "minute" => midnight(day) + TimeDelta::seconds(seconds - seconds % 60),
        "hour" => midnight(day) + TimeDelta::seconds(seconds - seconds % 3600),
        "day" => midnight(day),
        "week" => midnight(day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))),
        "month" => midnight(day.with_day(1).expect("every month has a first day")),
        _ => return Err(format!("unknown unit '{unit}'. Units: {UNITS}")),
    })
}

/// The blake3 hash of `text`'s UTF-8 bytes, as 64 lowercase hex digits (a stable key
/// for an id or a pseudonym: the same text gives the same hash on every machine).
#[node(output = "hash")]
pub fn hash_hex(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, s)
            .unwrap()
    }

    #[test]
    fn parse_timestamp_with_and_without_a_time() {
        assert_eq!(
            parse_timestamp("10/03/2024 01:30", "%d/%m/%Y %H:%M"),
            Ok(at(2024, 3, 10, 1, 30, 0))
        );
        assert_eq!(parse_timestamp("2024-02-29", "%Y-%m-%d"), Ok(at(2024, 2, 29, 0, 0, 0)));
        assert_eq!(
            parse_timestamp("2024-02-30", "%Y-%m-%d").unwrap_err(),
            "'2024-02-30' is not a timestamp of the format '%Y-%m-%d' (input is out of range)"
        );
        assert_eq!(
            parse_timestamp("10/03/2024", "%Y-%m-%d").unwrap_err(),
            "'10/03/2024' is not a timestamp of the format '%Y-%m-%d' (input contains invalid characters)"
        );
    }

    #[test]
    fn truncate_timestamp_to_each_unit() {
        // A Sunday.
        let t = at(2024, 3, 10, 13, 47, 59) + TimeDelta::microseconds(5);
        let cases = [
            ("minute", at(2024, 3, 10, 13, 47, 0)),
            ("hour", at(2024, 3, 10, 13, 0, 0)),
            ("day", at(2024, 3, 10, 0, 0, 0)),
            ("week", at(2024, 3, 4, 0, 0, 0)),
            ("month", at(2024, 3, 1, 0, 0, 0)),
        ];
        for (unit, bucket) in cases {
            assert_eq!(truncate_timestamp(t, unit), Ok(bucket), "{unit}");
        }
        assert_eq!(
            truncate_timestamp(t, "hours").unwrap_err(),
            "unknown unit 'hours'. Units: minute, hour, day, week, month"
        );
    }

    #[test]
    fn hash_hex_is_blake3_in_hex() {
        assert_eq!(
            hash_hex(""),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(hash_hex("a").len(), 64);
    }
}
