//! [`StableHash`] for chrono's dates, times, timestamps and durations.
//!
//! Each is fed under a tag of its own, then the number Arrow stores it as, so a row read
//! from an Arrow column and the same value made in Rust have one digest, and a date never
//! hashes like the integer of its day number:
//!
//! | type | tag | then |
//! |---|---|---|
//! | `NaiveDate` | `Date` | days since 1970-01-01, `i32` |
//! | `NaiveTime` | `Time` | nanoseconds since midnight, `i64` (a leap second past 86,400 s) |
//! | `NaiveDateTime` | `Timestamp` | microseconds since 1970-01-01T00:00:00, `i64` |
//! | `DateTime<Utc>` | `TimestampUtc` | microseconds since the epoch, `i64` |
//! | `TimeDelta` | `Duration` | microseconds, `i64` |
//!
//! Arrow columns hold timestamps and durations in whole microseconds. A value made in
//! Rust with a finer part (nanoseconds) has no row equal to it, so it hashes apart from
//! the microsecond it would be stored as: under the tag with `Ns` appended
//! (`TimestampNs`, `TimestampUtcNs`, `DurationNs`), followed by its nanoseconds as an
//! `i128`. So does a `TimeDelta` too long for an `i64` of microseconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};

use super::{StableHash, StableHasher};

/// Nanoseconds in a microsecond.
const NANOS_PER_MICRO: i128 = 1_000;

/// Feeds `nanos` (a count of nanoseconds) as microseconds under `tag` when it is a
/// whole number of them that fits an `i64`, else as nanoseconds under `tag` + `Ns`.
fn feed_nanos(h: &mut StableHasher, tag: &str, tag_ns: &str, nanos: i128) {
    let micros = nanos.div_euclid(NANOS_PER_MICRO);
    match i64::try_from(micros) {
        Ok(m) if nanos.rem_euclid(NANOS_PER_MICRO) == 0 => {
            h.tag(tag);
            h.write(&m.to_le_bytes());
        }
        _ => {
            h.tag(tag_ns);
            h.write(&nanos.to_le_bytes());
        }
    }
}

/// Nanoseconds since 1970-01-01T00:00:00 of a date and time (a leap second counts as the
/// next second's first, as Arrow stores it).
fn epoch_nanos(t: &NaiveDateTime) -> i128 {
    let utc = t.and_utc();
    i128::from(utc.timestamp()) * 1_000_000_000 + i128::from(utc.timestamp_subsec_nanos())
}

/// A date as `Date` and its days since 1970-01-01 (`i32`), as an Arrow `Date32` row.
impl StableHash for NaiveDate {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("Date");
        h.write(&self.to_epoch_days().to_le_bytes());
    }
}

/// A time of day as `Time` and its nanoseconds since midnight (`i64`), as an Arrow
/// `Time64(ns)` row.
impl StableHash for NaiveTime {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("Time");
        let nanos = i64::from(self.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(self.nanosecond());
        h.write(&nanos.to_le_bytes());
    }
}

/// A date and time as `Timestamp` and its microseconds since 1970-01-01T00:00:00
/// (`i64`), as an Arrow `Timestamp(µs)` row; with nanoseconds as `TimestampNs`.
impl StableHash for NaiveDateTime {
    fn stable_hash(&self, h: &mut StableHasher) {
        feed_nanos(h, "Timestamp", "TimestampNs", epoch_nanos(self));
    }
}

/// An instant as `TimestampUtc` and its microseconds since the epoch (`i64`), as an Arrow
/// `Timestamp(µs, "UTC")` row; with nanoseconds as `TimestampUtcNs`.
impl StableHash for DateTime<Utc> {
    fn stable_hash(&self, h: &mut StableHasher) {
        feed_nanos(h, "TimestampUtc", "TimestampUtcNs", epoch_nanos(&self.naive_utc()));
    }
}

/// A duration as `Duration` and its microseconds (`i64`), as an Arrow `Duration(µs)`
/// row; with nanoseconds (or beyond ±2^63 µs) as `DurationNs`.
impl StableHash for TimeDelta {
    fn stable_hash(&self, h: &mut StableHasher) {
        let nanos = i128::from(self.num_seconds()) * 1_000_000_000 + i128::from(self.subsec_nanos());
        feed_nanos(h, "Duration", "DurationNs", nanos);
    }
}

#[cfg(test)]
mod tests {
    use super::super::stable_hash;
    use super::*;

    fn encoding(tag: &str, bytes: &[u8]) -> String {
        let mut h = StableHasher::new();
        h.tag(tag);
        h.write(bytes);
        h.finish_hex()
    }

    #[test]
    fn each_type_hashes_its_arrow_number_under_its_own_tag() {
        let day = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
        assert_eq!(stable_hash(&day), encoding("Date", &1_i32.to_le_bytes()));
        assert_ne!(stable_hash(&day), stable_hash(&1_i32));
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        assert_eq!(
            stable_hash(&noon),
            encoding("Time", &43_200_000_000_000_i64.to_le_bytes())
        );
        let t = day.and_hms_micro_opt(0, 0, 0, 5).unwrap();
        assert_eq!(
            stable_hash(&t),
            encoding("Timestamp", &86_400_000_005_i64.to_le_bytes())
        );
        assert_eq!(
            stable_hash(&t.and_utc()),
            encoding("TimestampUtc", &86_400_000_005_i64.to_le_bytes())
        );
        assert_ne!(stable_hash(&t), stable_hash(&86_400_000_005_i64));
        assert_eq!(
            stable_hash(&TimeDelta::microseconds(-3)),
            encoding("Duration", &(-3_i64).to_le_bytes())
        );
    }

    #[test]
    fn sub_microsecond_values_hash_apart_from_their_microsecond() {
        let t = NaiveDate::from_ymd_opt(1969, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 999_999_999)
            .unwrap();
        assert_eq!(stable_hash(&t), encoding("TimestampNs", &(-1_i128).to_le_bytes()));
        let whole = t - TimeDelta::nanoseconds(999);
        assert_eq!(stable_hash(&whole), encoding("Timestamp", &(-1_i64).to_le_bytes()));
        assert_eq!(
            stable_hash(&TimeDelta::nanoseconds(-1_500)),
            encoding("DurationNs", &(-1_500_i128).to_le_bytes())
        );
        assert_eq!(
            stable_hash(&TimeDelta::MAX),
            encoding("DurationNs", &(i128::from(i64::MAX) * 1_000_000).to_le_bytes())
        );
    }
}
