//! chrono's dates, times, timestamps and durations as columnar types.
//!
//! | Rust (chrono) | Arrow |
//! |---|---|
//! | `NaiveDate` | `Date32` |
//! | `NaiveTime` | `Time64(ns)` |
//! | `NaiveDateTime` | `Timestamp(µs)` (no time zone) |
//! | `DateTime<Utc>` | `Timestamp(µs, "UTC")` (read from a column of any zone) |
//! | `TimeDelta` (`chrono::Duration`) | `Duration(µs)` |
//!
//! Timestamps and durations are microseconds, not nanoseconds: an `i64` of nanoseconds
//! ends in 2262, and ETL data is full of `9999-12-31` sentinels; microseconds reach
//! ±292,000 years, past the range of chrono's dates. Columns of other units are read by
//! [`cast_exact`](super::cast_exact), which refuses to drop a fraction.
//!
//! A value made in Rust with a finer part than its column holds (nanoseconds of a
//! `NaiveDateTime`, `DateTime<Utc>` or `TimeDelta`) is stored rounded down to the
//! microsecond; a `TimeDelta` beyond ±2^63 µs cannot be stored at all (the node writing
//! it panics).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::datatypes::{self as adt, ArrowPrimitiveType, DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};

use super::Columnar;
use super::primitive::PrimitiveCollector;
use crate::hash::{StableHash, StableHasher};

/// Nanoseconds in a second.
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The time zone of the Arrow type of `DateTime<Utc>`.
pub(super) const UTC: &str = "UTC";

/// A chrono type stored as an Arrow primitive: its Arrow type and the conversions.
pub(super) trait Temporal: Sized + StableHash + Send + Sync + 'static {
    /// The Arrow primitive type of the column.
    type Arrow: ArrowPrimitiveType;
    /// The type's name, for messages.
    const NAME: &'static str;
    /// The Arrow type of a column of it.
    fn data_type() -> DataType;
    /// Whether a column of `data_type` is read as it without a cast.
    fn reads(data_type: &DataType) -> bool {
        *data_type == Self::data_type()
    }
    /// The number stored for the value (rounded down to the column's unit).
    fn to_native(&self) -> <Self::Arrow as ArrowPrimitiveType>::Native;
    /// The value of a stored number, `None` outside the type's range.
    fn from_native(v: <Self::Arrow as ArrowPrimitiveType>::Native) -> Option<Self>;
}

impl Temporal for NaiveDate {
    type Arrow = adt::Date32Type;
    const NAME: &'static str = "NaiveDate";
    fn data_type() -> DataType {
        DataType::Date32
    }
    #[inline]
    fn to_native(&self) -> i32 {
        self.to_epoch_days()
    }
    #[inline]
    fn from_native(v: i32) -> Option<Self> {
        NaiveDate::from_epoch_days(v)
    }
}

impl Temporal for NaiveTime {
    type Arrow = adt::Time64NanosecondType;
    const NAME: &'static str = "NaiveTime";
    fn data_type() -> DataType {
        DataType::Time64(TimeUnit::Nanosecond)
    }
    /// A leap second (chrono's 23:59:60) is stored past 86,400 s, as its hash counts it.
    #[inline]
    fn to_native(&self) -> i64 {
        i64::from(self.num_seconds_from_midnight()) * NANOS_PER_SEC + i64::from(self.nanosecond())
    }
    #[inline]
    fn from_native(v: i64) -> Option<Self> {
        let (secs, nanos) = (v.div_euclid(NANOS_PER_SEC), v.rem_euclid(NANOS_PER_SEC) as u32);
        match secs {
            0..86_400 => NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, nanos),
            // The leap second after 23:59:59.
            86_400 => NaiveTime::from_num_seconds_from_midnight_opt(86_399, nanos + NANOS_PER_SEC as u32),
            _ => None,
        }
    }
}

impl Temporal for NaiveDateTime {
    type Arrow = adt::TimestampMicrosecondType;
    const NAME: &'static str = "NaiveDateTime";
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    }
    #[inline]
    fn to_native(&self) -> i64 {
        self.and_utc().timestamp_micros()
    }
    #[inline]
    fn from_native(v: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(v).map(|t| t.naive_utc())
    }
}

impl Temporal for DateTime<Utc> {
    type Arrow = adt::TimestampMicrosecondType;
    const NAME: &'static str = "DateTime<Utc>";
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
    }
    /// Any zone: Arrow stores instants as UTC, the zone is only how they are shown.
    fn reads(data_type: &DataType) -> bool {
        matches!(data_type, DataType::Timestamp(TimeUnit::Microsecond, Some(_)))
    }
    #[inline]
    fn to_native(&self) -> i64 {
        self.timestamp_micros()
    }
    #[inline]
    fn from_native(v: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(v)
    }
}

impl Temporal for TimeDelta {
    type Arrow = adt::DurationMicrosecondType;
    const NAME: &'static str = "TimeDelta";
    fn data_type() -> DataType {
        DataType::Duration(TimeUnit::Microsecond)
    }
    /// # Panics
    ///
    /// For a duration beyond ±2^63 µs (about 292,000 years), which no column holds.
    #[inline]
    fn to_native(&self) -> i64 {
        let nanos = i128::from(self.num_seconds()) * i128::from(NANOS_PER_SEC) + i128::from(self.subsec_nanos());
        match i64::try_from(nanos.div_euclid(1_000)) {
            Ok(micros) => micros,
            Err(_) => too_long(self),
        }
    }
    #[inline]
    fn from_native(v: i64) -> Option<Self> {
        Some(TimeDelta::microseconds(v))
    }
}

#[cold]
#[inline(never)]
fn too_long(d: &TimeDelta) -> ! {
    panic!("the duration {d} is longer than an Arrow Duration(µs) holds (±2^63 µs)")
}

#[cold]
#[inline(never)]
fn out_of_range<T: Temporal>(v: impl std::fmt::Debug) -> ! {
    panic!("{v:?} ({}) is outside the range of {}", T::data_type(), T::NAME)
}

/// The value of a stored number.
///
/// # Panics
///
/// For a number outside the type's range, which a column entering a run never holds
/// ([`cast_exact`](super::cast_exact) refuses it, naming the row).
#[inline]
fn decode<T: Temporal>(v: <T::Arrow as ArrowPrimitiveType>::Native) -> T {
    match T::from_native(v) {
        Some(t) => t,
        None => out_of_range::<T>(v),
    }
}

macro_rules! temporal {
    ($($rust:ty => $arrow:ty),* $(,)?) => {$(
        impl Columnar for $rust {
            type Array = PrimitiveArray<$arrow>;
            type Builder = PrimitiveCollector<<$arrow as ArrowPrimitiveType>::Native>;

            fn data_type() -> DataType {
                <$rust as Temporal>::data_type()
            }
            fn downcast(array: &dyn Array) -> Option<&Self::Array> {
                match <$rust as Temporal>::reads(array.data_type()) {
                    true => array.as_primitive_opt::<$arrow>(),
                    false => None,
                }
            }
            #[inline]
            fn value(array: &Self::Array, i: usize) -> Self {
                decode(array.values()[i])
            }
            #[inline]
            fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
                array.values().iter().map(|&v| decode(v))
            }
            /// The value read, hashed; `false` for a number outside the type's range.
            #[inline]
            fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
                match <$rust as Temporal>::from_native(array.values()[i]) {
                    Some(v) => {
                        v.stable_hash(h);
                        true
                    }
                    None => false,
                }
            }
            fn builder(capacity: usize) -> Self::Builder {
                PrimitiveCollector::with_capacity(capacity)
            }
            #[inline]
            fn append(builder: &mut Self::Builder, value: &Self) {
                builder.push(value.to_native())
            }
            fn append_null(builder: &mut Self::Builder) {
                builder.push_null()
            }
            #[inline]
            fn append_all(builder: &mut Self::Builder, values: &[Self]) {
                builder.values.extend(values.iter().map(Temporal::to_native));
                builder.nulls.append_n_non_nulls(values.len());
            }
            fn finish(builder: Self::Builder) -> ArrayRef {
                let (values, nulls) = builder.finish_buffers();
                let array = PrimitiveArray::<$arrow>::new(values, nulls);
                Arc::new(array.with_data_type(<$rust as Temporal>::data_type()))
            }
            fn builder_len(builder: &Self::Builder) -> usize {
                builder.values.len()
            }
            #[inline]
            fn fill<E>(
                builder: &mut Self::Builder,
                values: impl Iterator<Item = Result<Self, E>>,
            ) -> Result<(), (usize, E)> {
                builder.fill_with(values, |v| v.to_native())
            }
        }
    )*};
}

temporal!(
    NaiveDate => adt::Date32Type,
    NaiveTime => adt::Time64NanosecondType,
    NaiveDateTime => adt::TimestampMicrosecondType,
    DateTime<Utc> => adt::TimestampMicrosecondType,
    TimeDelta => adt::DurationMicrosecondType,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Temporal + Columnar + Clone + PartialEq + std::fmt::Debug>(values: &[T]) {
        let mut b = <T as Columnar>::builder(values.len());
        <T as Columnar>::append_all(&mut b, values);
        let array = <T as Columnar>::finish(b);
        assert_eq!(array.data_type(), &<T as Temporal>::data_type());
        let typed = <T as Columnar>::downcast(array.as_ref()).unwrap();
        let back: Vec<T> = <T as Columnar>::iter(typed).collect();
        assert_eq!(back, values);
    }

    #[test]
    fn values_round_trip_at_the_edges_of_their_ranges() {
        round_trip(&[
            NaiveDate::MIN,
            NaiveDate::MAX,
            NaiveDate::from_ymd_opt(1969, 12, 31).unwrap(),
        ]);
        let leap = NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
        round_trip(&[
            NaiveTime::MIN,
            leap,
            NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap(),
        ]);
        let max = NaiveDate::MAX.and_hms_micro_opt(23, 59, 59, 999_999).unwrap();
        let min = NaiveDate::MIN.and_hms_opt(0, 0, 0).unwrap();
        round_trip(&[min, max]);
        round_trip(&[min.and_utc(), max.and_utc()]);
        round_trip(&[
            TimeDelta::microseconds(i64::MIN),
            TimeDelta::microseconds(-1),
            TimeDelta::zero(),
        ]);
    }

    #[test]
    fn finer_values_are_stored_rounded_down_to_the_microsecond() {
        let t = NaiveDate::from_ymd_opt(1969, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 999_999_999)
            .unwrap();
        assert_eq!(t.to_native(), -1);
        assert_eq!(TimeDelta::nanoseconds(-1).to_native(), -1);
        assert_eq!(TimeDelta::nanoseconds(1_999).to_native(), 1);
    }

    #[test]
    fn numbers_outside_the_range_have_no_value() {
        assert_eq!(NaiveDate::from_native(i32::MAX), None);
        assert_eq!(NaiveTime::from_native(-1), None);
        assert_eq!(NaiveTime::from_native(86_401 * NANOS_PER_SEC), None);
        assert_eq!(NaiveDateTime::from_native(i64::MAX), None);
        // A zoned column of another zone is read as it is: the same instants.
        let zoned = PrimitiveArray::<adt::TimestampMicrosecondType>::from(vec![0]).with_timezone("America/New_York");
        assert!(<DateTime<Utc> as Columnar>::downcast(&zoned).is_some());
        assert!(<NaiveDateTime as Columnar>::downcast(&zoned).is_none());
    }
}
