//! Casting a column to the Arrow type a Rust type reads ([`cast_exact`]): Arrow's cast,
//! except that dates, times, timestamps, durations and decimals convert exactly or not at
//! all.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, PrimitiveArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::compute::cast;
use arrow::datatypes::{self as adt, ArrowPrimitiveType, DataType, Field, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Why a column cannot be read as another Arrow type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CastError {
    /// The first row whose value does not convert exactly (of a list column: the row
    /// holding the element); `None` when the types do not convert at all.
    pub row: Option<usize>,
    /// What is wrong, to follow the column's name: `holds 2024-01-01T00:00:00.000000001,
    /// which is not a whole microsecond (timestamps are read in microseconds)`.
    pub message: String,
}

impl CastError {
    fn at(row: usize, message: String) -> CastError {
        CastError {
            row: Some(row),
            message,
        }
    }
}

/// `array` as an array of Arrow type `to`: Arrow's `cast`, except for the Arrow types
/// of chrono's types, which convert exactly or not at all, and whose values are checked
/// against the range of the Rust type:
///
/// - `Date32` from `Date64` only where every value is a whole day;
/// - `Time64(ns)` from `Time32(s)`, `Time32(ms)` and `Time64(µs)`;
/// - `Timestamp(µs)` from seconds and milliseconds (a value beyond ±292,000 years is an
///   error, not a null) and from nanoseconds only where every value is a whole
///   microsecond; with or without a time zone, the instants unchanged (Arrow stores UTC:
///   a zoned column read without a zone gives the UTC date and time, a column without a
///   zone read with `UTC` is taken as UTC);
/// - `Duration(µs)` likewise from the other units;
/// - to any `Decimal128` (what `rust_decimal::Decimal` reads), a `Decimal128` column of
///   any precision and scale is kept as it is, and a `Decimal32`, `Decimal64` or
///   `Decimal256` becomes a `Decimal128` of its scale, where every value is one a
///   `Decimal` holds exactly (28 significant digits).
///
/// Lists convert their elements so (an error names the row holding the element); a
/// `LargeList` or `FixedSizeList` becomes a `List` over the same elements (only offsets
/// are made), a `LargeUtf8` a `Utf8` over the same characters (a `Utf8View`, a
/// `BinaryView` and list views are copied: Arrow gathers them; the columnar engine keeps
/// a view column for the kernels that read it in place, see
/// [`Columnar::view_type`](super::Columnar::view_type)). A
/// dictionary-encoded column is unpacked to its values (Arrow's cast), which then
/// convert as above. A `FixedSizeBinary(N)` is read from binary values of `N` bytes
/// only (another length is an error naming the row), and not from one of another width;
/// a `FixedSizeList(T, N)` likewise from lists of `N` elements. A map's keys and values
/// convert as columns do.
/// Null rows are never looked at.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Array, ArrayRef, TimestampNanosecondArray};
/// use arrow::datatypes::{DataType, TimeUnit};
/// use hypernodes::engine::columnar::types::cast_exact;
///
/// let to = DataType::Timestamp(TimeUnit::Microsecond, None);
/// let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![Some(2_000), None, Some(3_000)]));
/// assert_eq!(cast_exact(&ns, &to).unwrap().data_type(), &to);
///
/// let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![2_000, 3_001]));
/// let err = cast_exact(&ns, &to).unwrap_err();
/// assert_eq!(err.row, Some(1));
/// assert_eq!(
///     err.message,
///     "holds 1970-01-01T00:00:00.000003001, which is not a whole microsecond (timestamps are read in microseconds)"
/// );
/// ```
///
/// # Errors
///
/// [`CastError`] naming the first row that does not convert exactly or whose value is
/// outside the Rust type's range, or (with no row) Arrow's error when the types do not
/// convert.
pub fn cast_exact(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, CastError> {
    let from = array.data_type();
    match (from, to) {
        // Unpacked by Arrow (a `take` of the values by the keys), then read as its values.
        (DataType::Dictionary(_, values), _) if from != to => cast_exact(&arrow_cast(array, values)?, to),
        (DataType::List(_), DataType::List(to_field)) => list(array, to_field),
        (DataType::Map(_, _), DataType::Map(to_field, _)) if from != to => map(array, to_field),
        (
            DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) | DataType::FixedSizeList(f, _),
            DataType::List(_),
        ) => {
            // The list structure by Arrow (new offsets over the same elements, but for
            // list views, which are gathered), then the elements exactly.
            let same_elements = DataType::List(Arc::new(Field::new_list_field(f.data_type().clone(), true)));
            cast_exact(&arrow_cast(array, &same_elements)?, to)
        }
        (_, DataType::FixedSizeBinary(width)) if from != to => fixed_binary(array, *width),
        (_, DataType::FixedSizeList(field, size)) if from != to => fixed_list(array, field, *size),
        (_, DataType::Date32) => date32(array),
        (_, DataType::Time64(TimeUnit::Nanosecond)) => time64(array),
        (_, DataType::Timestamp(TimeUnit::Microsecond, zone)) => timestamp(array, zone.clone()),
        (_, DataType::Duration(TimeUnit::Microsecond)) => duration(array),
        (_, DataType::Decimal128(_, _)) => super::decimal::readable(array),
        _ if from == to => Ok(array.clone()),
        _ => arrow_cast(array, to),
    }
}

/// Why a value does not convert.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Loss {
    /// A fraction of the unit read in would be dropped.
    Fraction,
    /// The value does not fit the unit read in, or is outside the Rust type's range.
    Range,
}

/// A value of `unit` as microseconds, when exact and in an `i64`.
fn to_micros(unit: TimeUnit, v: i64) -> Result<i64, Loss> {
    match unit {
        TimeUnit::Second => v.checked_mul(1_000_000).ok_or(Loss::Range),
        TimeUnit::Millisecond => v.checked_mul(1_000).ok_or(Loss::Range),
        TimeUnit::Microsecond => Ok(v),
        TimeUnit::Nanosecond => match v % 1_000 {
            0 => Ok(v / 1_000),
            _ => Err(Loss::Fraction),
        },
    }
}

/// The microseconds since the epoch chrono's `NaiveDateTime` reaches.
fn micros_range() -> std::ops::RangeInclusive<i64> {
    NaiveDateTime::MIN.and_utc().timestamp_micros()..=NaiveDateTime::MAX.and_utc().timestamp_micros()
}

pub(super) fn arrow_cast(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, CastError> {
    cast(array, to).map_err(|e| CastError {
        row: None,
        message: e.to_string(),
    })
}

/// A failed conversion: the row, the value and why.
type Failed = (usize, i64, Loss);

/// The numbers under a temporal array (every one is an `i32` or `i64`), as `i64`s.
fn as_i64(array: &ArrayRef) -> Result<PrimitiveArray<adt::Int64Type>, CastError> {
    let ints = match array.data_type() {
        DataType::Time32(_) | DataType::Date32 => arrow_cast(&arrow_cast(array, &DataType::Int32)?, &DataType::Int64)?,
        _ => arrow_cast(array, &DataType::Int64)?,
    };
    Ok(ints.as_primitive::<adt::Int64Type>().clone())
}

/// `ints` converted value by value by `f` into an array of `O`; the first non-null value
/// `f` refuses, with its row, when one does. Null rows are not converted (they hold zero).
fn convert<O: ArrowPrimitiveType<Native = i64>>(
    ints: &PrimitiveArray<adt::Int64Type>,
    f: impl Fn(i64) -> Result<i64, Loss>,
) -> Result<PrimitiveArray<O>, Failed> {
    let mut out = Vec::with_capacity(ints.len());
    for (row, &v) in ints.values().iter().enumerate() {
        if ints.is_null(row) {
            out.push(0);
            continue;
        }
        match f(v) {
            Ok(x) => out.push(x),
            Err(loss) => return Err((row, v, loss)),
        }
    }
    Ok(PrimitiveArray::<O>::new(ScalarBuffer::from(out), ints.nulls().cloned()))
}

/// `array` itself when no non-null value is outside `range`, else the first that is.
fn check<T: ArrowPrimitiveType>(
    array: PrimitiveArray<T>,
    range: std::ops::RangeInclusive<T::Native>,
) -> Result<PrimitiveArray<T>, Failed>
where
    T::Native: Into<i64>,
{
    let outside = |(row, v): (usize, &T::Native)| (!range.contains(v) && array.is_valid(row)).then_some(row);
    match array.values().iter().enumerate().find_map(outside) {
        Some(row) => Err((row, array.values()[row].into(), Loss::Range)),
        None => Ok(array),
    }
}

/// `Timestamp(µs, zone)` from timestamps of any unit and zone (or anything Arrow casts),
/// in `NaiveDateTime`'s range.
fn timestamp(array: &ArrayRef, zone: Option<Arc<str>>) -> Result<ArrayRef, CastError> {
    type Micros = adt::TimestampMicrosecondType;
    let from = array.data_type();
    let converted = match from {
        DataType::Timestamp(TimeUnit::Microsecond, _) => Ok(array.as_primitive::<Micros>().clone()),
        DataType::Timestamp(unit, _) => convert::<Micros>(&as_i64(array)?, |v| to_micros(*unit, v)),
        _ => {
            let cast = arrow_cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            Ok(cast.as_primitive::<Micros>().clone())
        }
    };
    let array = converted
        .and_then(|a| check(a, micros_range()))
        .map_err(|(row, v, loss)| CastError::at(row, describe_timestamp(from, v, loss, zone.is_some())))?;
    Ok(Arc::new(array.with_timezone_opt(zone)))
}

/// `Duration(µs)` from durations of any unit (or anything Arrow casts).
fn duration(array: &ArrayRef) -> Result<ArrayRef, CastError> {
    let from = array.data_type();
    let unit = match from {
        DataType::Duration(TimeUnit::Microsecond) => return Ok(array.clone()),
        DataType::Duration(unit) => *unit,
        _ => return arrow_cast(array, &DataType::Duration(TimeUnit::Microsecond)),
    };
    let array = convert::<adt::DurationMicrosecondType>(&as_i64(array)?, |v| to_micros(unit, v)).map_err(
        |(row, v, loss)| {
            let why = match loss {
                Loss::Fraction => "which is not a whole microsecond (durations are read in microseconds)",
                Loss::Range => "which is beyond the ±2^63 µs a duration is read in",
            };
            CastError::at(row, format!("holds {v} {unit}, {why}"))
        },
    )?;
    Ok(Arc::new(array))
}

/// `FixedSizeBinary(width)` from binary values that are each `width` bytes long (Arrow's
/// cast would make the others null); a `FixedSizeBinary` of another width does not
/// convert.
fn fixed_binary(array: &ArrayRef, width: i32) -> Result<ArrayRef, CastError> {
    let to = DataType::FixedSizeBinary(width);
    if let DataType::FixedSizeBinary(other) = array.data_type() {
        return Err(CastError {
            row: None,
            message: format!("values {other} bytes wide cannot be read as {width} bytes wide"),
        });
    }
    let binary = arrow_cast(array, &DataType::Binary)?;
    let values = binary.as_binary::<i32>();
    let wrong = (0..values.len()).find(|&i| values.is_valid(i) && values.value_length(i) != width);
    match wrong {
        Some(row) => Err(CastError::at(
            row,
            format!(
                "holds {} bytes, which is not the {width} of a {to}",
                values.value_length(row)
            ),
        )),
        None => arrow_cast(&binary, &to),
    }
}

/// `FixedSizeList(field, size)` from lists that each hold `size` elements (Arrow's cast
/// would make the others null), their elements cast exactly; a fixed-size list of
/// another size does not convert.
fn fixed_list(array: &ArrayRef, field: &Arc<Field>, size: i32) -> Result<ArrayRef, CastError> {
    let to = DataType::FixedSizeList(field.clone(), size);
    match array.data_type() {
        DataType::FixedSizeList(_, other) if *other != size => Err(CastError {
            row: None,
            message: format!("lists of {other} elements cannot be read as lists of {size}"),
        }),
        // The same elements under another field name: Arrow's cast shares them.
        DataType::FixedSizeList(f, _) if f.data_type() == field.data_type() => arrow_cast(array, &to),
        _ => {
            let lists = cast_exact(array, &DataType::List(field.clone()))?;
            let typed = lists.as_list::<i32>();
            let wrong = (0..typed.len()).find(|&i| typed.is_valid(i) && typed.value_length(i) != size);
            match wrong {
                Some(row) => Err(CastError::at(
                    row,
                    format!(
                        "holds a list of {} elements, which is not the {size} of a {to}",
                        typed.value_length(row)
                    ),
                )),
                None => arrow_cast(&lists, &to),
            }
        }
    }
}

/// `Date32` from `Date64` (whole days only) or anything Arrow casts; in `NaiveDate`'s range.
fn date32(array: &ArrayRef) -> Result<ArrayRef, CastError> {
    const MS_PER_DAY: i64 = 86_400_000;
    let days = NaiveDate::MIN.to_epoch_days()..=NaiveDate::MAX.to_epoch_days();
    let from = array.data_type();
    let converted = match from {
        DataType::Date64 => {
            let wide = i64::from(*days.start())..=i64::from(*days.end());
            convert::<adt::Int64Type>(&as_i64(array)?, |v| match v % MS_PER_DAY {
                0 if wide.contains(&(v / MS_PER_DAY)) => Ok(v / MS_PER_DAY),
                0 => Err(Loss::Range),
                _ => Err(Loss::Fraction),
            })
            .map(|d| d.unary::<_, adt::Date32Type>(|d| d as i32))
        }
        _ => {
            let cast = arrow_cast(array, &DataType::Date32)?;
            check(cast.as_primitive::<adt::Date32Type>().clone(), days)
        }
    };
    let array = converted.map_err(|(row, v, loss)| {
        let message = match (from, loss) {
            (DataType::Date64, Loss::Fraction) => {
                let shown = DateTime::from_timestamp_millis(v)
                    .map_or(format!("{v} ms"), |t| t.format("%Y-%m-%dT%H:%M:%S%.3f").to_string());
                format!("holds {shown} (a Date64), which is not a whole day (dates are read in days)")
            }
            (DataType::Date64, _) => format!("holds {v} ms (a Date64), which is outside the range of NaiveDate"),
            _ => format!("holds {v} days (a {from}), which is outside the range of NaiveDate"),
        };
        CastError::at(row, message)
    })?;
    Ok(Arc::new(array))
}

/// `Time64(ns)` from the other time types (or anything Arrow casts); within a day (and
/// its leap second).
fn time64(array: &ArrayRef) -> Result<ArrayRef, CastError> {
    const DAY: i64 = 86_401_000_000_000;
    let from = array.data_type();
    let factor = match from {
        DataType::Time32(TimeUnit::Second) => 1_000_000_000,
        DataType::Time32(TimeUnit::Millisecond) => 1_000_000,
        DataType::Time64(TimeUnit::Microsecond) => 1_000,
        DataType::Time64(TimeUnit::Nanosecond) => {
            let ns = array.as_primitive::<adt::Time64NanosecondType>().clone();
            let array = check(ns, 0..=DAY - 1).map_err(|(row, v, _)| not_a_time(from, row, v))?;
            return Ok(Arc::new(array));
        }
        _ => {
            let cast = arrow_cast(array, &DataType::Time64(TimeUnit::Nanosecond))?;
            return time64(&cast);
        }
    };
    let array = convert::<adt::Time64NanosecondType>(&as_i64(array)?, |v| match v.checked_mul(factor) {
        Some(ns) if (0..DAY).contains(&ns) => Ok(ns),
        _ => Err(Loss::Range),
    })
    .map_err(|(row, v, _)| not_a_time(from, row, v))?;
    Ok(Arc::new(array))
}

fn not_a_time(from: &DataType, row: usize, v: i64) -> CastError {
    CastError::at(row, format!("holds {v} (a {from}), which is not a time of day"))
}

/// What is wrong with value `v` of a timestamp column of type `from`, converted to
/// microseconds for `NaiveDateTime` (or `DateTime<Utc>` when `zoned`).
fn describe_timestamp(from: &DataType, v: i64, loss: Loss, zoned: bool) -> String {
    let unit = match from {
        DataType::Timestamp(unit, _) => *unit,
        _ => TimeUnit::Microsecond,
    };
    let shown = match unit {
        TimeUnit::Nanosecond => Some(DateTime::from_timestamp_nanos(v)),
        TimeUnit::Microsecond => DateTime::from_timestamp_micros(v),
        TimeUnit::Millisecond => DateTime::from_timestamp_millis(v),
        TimeUnit::Second => DateTime::from_timestamp(v, 0),
    };
    let shown = match shown {
        Some(t) => t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
        None => format!("{v} ({from})"),
    };
    match loss {
        Loss::Fraction => {
            format!("holds {shown}, which is not a whole microsecond (timestamps are read in microseconds)")
        }
        _ => format!(
            "holds {shown}, which is outside the range of {}",
            if zoned { "DateTime<Utc>" } else { "NaiveDateTime" }
        ),
    }
}

/// A list array with its elements cast exactly to `to`'s; an element's error names its row.
fn list(array: &ArrayRef, to: &Arc<Field>) -> Result<ArrayRef, CastError> {
    let list = array.as_list::<i32>();
    let offsets = list.value_offsets();
    let (start, end) = (offsets[0], offsets[offsets.len() - 1]);
    let child = list.values().slice(start as usize, (end - start) as usize);
    let child = cast_exact(&child, to.data_type()).map_err(|e| CastError {
        // The last row starting at or before the element (empty rows hold none).
        row: e.row.map(|j| {
            offsets
                .partition_point(|&o| ((o - start) as usize) <= j)
                .saturating_sub(1)
        }),
        message: e.message,
    })?;
    let offsets = OffsetBuffer::new(offsets.iter().map(|&o| o - start).collect::<ScalarBuffer<i32>>());
    // The elements' type as read (a decimal keeps its precision and scale).
    let field = match child.data_type() == to.data_type() {
        true => to.clone(),
        false => Arc::new(to.as_ref().clone().with_data_type(child.data_type().clone())),
    };
    let out = ListArray::try_new(field, offsets, child, list.nulls().cloned()).map_err(|e| CastError {
        row: None,
        message: e.to_string(),
    })?;
    Ok(Arc::new(out))
}

/// A map array with its keys and values cast exactly to `to`'s; an entry's error names
/// its row.
fn map(array: &ArrayRef, to: &Arc<Field>) -> Result<ArrayRef, CastError> {
    let DataType::Struct(fields) = to.data_type() else {
        return arrow_cast(array, &DataType::Map(to.clone(), false));
    };
    let map = array.as_map();
    let offsets = map.value_offsets();
    let row_of = |e: CastError| CastError {
        // The last row starting at or before the entry.
        row: e
            .row
            .map(|j| offsets.partition_point(|&o| (o as usize) <= j).saturating_sub(1)),
        message: e.message,
    };
    let keys = cast_exact(map.keys(), fields[0].data_type()).map_err(row_of)?;
    let values = cast_exact(map.values(), fields[1].data_type()).map_err(row_of)?;
    let invalid = |e: arrow::error::ArrowError| CastError {
        row: None,
        message: e.to_string(),
    };
    let entries = arrow::array::StructArray::try_new(fields.clone(), vec![keys, values], None).map_err(invalid)?;
    let out = arrow::array::MapArray::try_new(to.clone(), map.offsets().clone(), entries, map.nulls().cloned(), false)
        .map_err(invalid)?;
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Date32Array, Date64Array, DurationMicrosecondArray, DurationNanosecondArray, DurationSecondArray, Int64Array,
        Time32SecondArray, Time64MicrosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
        TimestampNanosecondArray, TimestampSecondArray,
    };

    use super::*;

    const US: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

    fn micros(array: ArrayRef, to: &DataType) -> Vec<Option<i64>> {
        let out = cast_exact(&array, to).unwrap();
        assert_eq!(out.data_type(), to);
        out.as_primitive::<adt::TimestampMicrosecondType>().iter().collect()
    }

    #[test]
    fn timestamps_of_every_unit_become_microseconds() {
        assert_eq!(
            micros(Arc::new(TimestampSecondArray::from(vec![Some(1), None, Some(-2)])), &US),
            [Some(1_000_000), None, Some(-2_000_000)]
        );
        assert_eq!(
            micros(Arc::new(TimestampMillisecondArray::from(vec![3])), &US),
            [Some(3_000)]
        );
        assert_eq!(
            micros(Arc::new(TimestampMicrosecondArray::from(vec![4])), &US),
            [Some(4)]
        );
        assert_eq!(
            micros(Arc::new(TimestampNanosecondArray::from(vec![-5_000, 6_000])), &US),
            [Some(-5), Some(6)]
        );
        // The zone is metadata: the instants stay.
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let ny = TimestampSecondArray::from(vec![7]).with_timezone("America/New_York");
        assert_eq!(micros(Arc::new(ny.clone()), &utc), [Some(7_000_000)]);
        assert_eq!(micros(Arc::new(ny), &US), [Some(7_000_000)]);
        assert_eq!(
            micros(Arc::new(TimestampSecondArray::from(vec![8])), &utc),
            [Some(8_000_000)]
        );
    }

    #[test]
    fn a_fraction_of_a_microsecond_is_an_error_naming_the_row() {
        let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![Some(1_000), None, Some(-1)]));
        let err = cast_exact(&ns, &US).unwrap_err();
        assert_eq!(
            err,
            CastError::at(
                2,
                "holds 1969-12-31T23:59:59.999999999, which is not a whole microsecond (timestamps are read in \
                 microseconds)"
                    .into()
            )
        );
        // A null row's value is never looked at.
        let nulls =
            TimestampNanosecondArray::new(ScalarBuffer::from(vec![1_i64, 2_000]), Some(vec![false, true].into()));
        assert_eq!(micros(Arc::new(nulls), &US), [None, Some(2)]);
    }

    #[test]
    fn seconds_beyond_the_range_are_an_error_not_a_null() {
        let s: ArrayRef = Arc::new(TimestampSecondArray::from(vec![0, i64::MAX]));
        let err = cast_exact(&s, &US).unwrap_err();
        assert_eq!(err.row, Some(1));
        assert_eq!(
            err.message,
            format!(
                "holds {} (Timestamp(s)), which is outside the range of NaiveDateTime",
                i64::MAX
            )
        );
        let us: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![i64::MIN]));
        assert_eq!(cast_exact(&us, &US).unwrap_err().row, Some(0));
    }

    #[test]
    fn date64_becomes_date32_only_in_whole_days() {
        let days: ArrayRef = Arc::new(Date64Array::from(vec![Some(86_400_000), None, Some(-86_400_000)]));
        let out = cast_exact(&days, &DataType::Date32).unwrap();
        assert_eq!(
            out.as_ref(),
            &Date32Array::from(vec![Some(1), None, Some(-1)]) as &dyn Array
        );
        let noon: ArrayRef = Arc::new(Date64Array::from(vec![0, 86_400_000 + 43_200_000]));
        let err = cast_exact(&noon, &DataType::Date32).unwrap_err();
        assert_eq!(
            err,
            CastError::at(
                1,
                "holds 1970-01-02T12:00:00.000 (a Date64), which is not a whole day (dates are read in days)".into()
            )
        );
        let far: ArrayRef = Arc::new(Date32Array::from(vec![i32::MAX]));
        assert_eq!(
            cast_exact(&far, &DataType::Date32).unwrap_err().message,
            format!(
                "holds {} days (a Date32), which is outside the range of NaiveDate",
                i32::MAX
            )
        );
    }

    #[test]
    fn times_and_durations_of_other_units() {
        let ns = DataType::Time64(TimeUnit::Nanosecond);
        let s: ArrayRef = Arc::new(Time32SecondArray::from(vec![1, 86_399]));
        let out = cast_exact(&s, &ns).unwrap();
        assert_eq!(
            out.as_primitive::<adt::Time64NanosecondType>().values(),
            &[1_000_000_000, 86_399_000_000_000]
        );
        let us: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![-1]));
        assert_eq!(
            cast_exact(&us, &ns).unwrap_err().message,
            "holds -1 (a Time64(µs)), which is not a time of day"
        );
        let d = DataType::Duration(TimeUnit::Microsecond);
        let secs: ArrayRef = Arc::new(DurationSecondArray::from(vec![2]));
        let out = cast_exact(&secs, &d).unwrap();
        assert_eq!(
            out.as_ref(),
            &DurationMicrosecondArray::from(vec![2_000_000]) as &dyn Array
        );
        let nanos: ArrayRef = Arc::new(DurationNanosecondArray::from(vec![1_000, 1_001]));
        let err = cast_exact(&nanos, &d).unwrap_err();
        assert_eq!(
            err,
            CastError::at(
                1,
                "holds 1001 ns, which is not a whole microsecond (durations are read in microseconds)".into()
            )
        );
    }

    #[test]
    fn large_and_fixed_size_layouts_share_their_data() {
        use arrow::array::{FixedSizeListArray, Float32Array, LargeListArray, LargeStringArray};
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("ab"), None, Some("cde")]));
        let out = cast_exact(&large, &DataType::Utf8).unwrap();
        assert_eq!(
            out.as_string::<i32>().values().as_ptr(),
            large.as_string::<i64>().values().as_ptr()
        );
        let floats = Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let f32s = Arc::new(Field::new_list_field(DataType::Float32, true));
        let to = DataType::List(f32s.clone());
        let fixed: ArrayRef = Arc::new(FixedSizeListArray::new(f32s.clone(), 3, floats.clone(), None));
        let large: ArrayRef = Arc::new(LargeListArray::new(
            f32s,
            arrow::buffer::OffsetBuffer::from_lengths([2, 4]),
            floats.clone(),
            None,
        ));
        for array in [fixed, large] {
            let out = cast_exact(&array, &to).unwrap();
            let values = out
                .as_list::<i32>()
                .values()
                .as_primitive::<adt::Float32Type>()
                .values();
            assert_eq!(values.as_ptr(), floats.values().as_ptr(), "{}", array.data_type());
        }
    }

    #[test]
    fn list_elements_convert_exactly_and_errors_name_the_row() {
        let field = Arc::new(Field::new_list_field(
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            true,
        ));
        let values = Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000, 3_000, 4_001]));
        let lists: ArrayRef = Arc::new(ListArray::new(
            field,
            OffsetBuffer::from_lengths([2, 0, 2]),
            values,
            None,
        ));
        let to = DataType::List(Arc::new(Field::new_list_field(US, true)));
        assert_eq!(cast_exact(&lists.slice(0, 2), &to).unwrap().data_type(), &to);
        assert_eq!(cast_exact(&lists, &to).unwrap_err().row, Some(2));
        // Other types are Arrow's cast.
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        assert_eq!(
            cast_exact(&ints, &DataType::Int32).unwrap().data_type(),
            &DataType::Int32
        );
        assert!(cast_exact(&lists, &DataType::Int32).unwrap_err().row.is_none());
    }
}
