//! `rust_decimal::Decimal` as a columnar type.
//!
//! | Rust | Arrow |
//! |---|---|
//! | `rust_decimal::Decimal` | written as `Decimal128(38, 18)`; reads `Decimal128(p, s)` of any precision and scale |
//!
//! `rust_decimal::Decimal` is 16 bytes, `Copy` and allocates nothing: a 96-bit integer
//! mantissa and a scale of 0 to 28 digits after the point, with fast exact arithmetic.
//! It is the decimal type of sqlx, diesel and tokio-postgres. (`bigdecimal`, which
//! DataFusion's SQL parser uses, allocates for every value: a node called once per row
//! would run many times slower.)
//!
//! **Reading.** A `Decimal128(p, s)` column is read as it is, at its own precision and
//! scale, without a copy; other decimal widths (`Decimal32`, `Decimal64`, `Decimal256`)
//! are converted to a `Decimal128` of the same scale first. Every value must be one a
//! `Decimal` holds exactly: at most 28 digits after the point and a mantissa of at most
//! 96 bits (about 28 significant digits), once trailing zeros are stripped and a negative
//! scale multiplied out. [`cast_exact`](super::cast_exact) checks that once per column
//! and refuses the first value that is not, naming its row, so reading a row is a tight
//! loop that cannot fail.
//!
//! **Writing.** A `Decimal` a node returns is stored as a `Decimal128(38, 18)`, the type
//! Spark gives decimals of unknown precision: 20 digits before the point and 18 after. A
//! value with more than 18 digits after the point is stored rounded to 18, half to even
//! (banker's rounding, as Arrow's and Spark's decimal casts); a value of more than 20
//! digits before the point cannot be stored at all (the node writing it panics, naming
//! the value).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{self as adt, DataType, DecimalType};
use rust_decimal::{Decimal, RoundingStrategy};

use super::Columnar;
use super::cast::CastError;
use super::primitive::PrimitiveCollector;
use crate::hash::{StableHash, StableHasher};

/// The precision of the Arrow type a `Decimal` is written as.
pub(super) const PRECISION: u8 = 38;
/// The scale of the Arrow type a `Decimal` is written as.
pub(super) const SCALE: i8 = 18;

/// The largest scale a `Decimal` has.
const MAX_SCALE: i8 = 28;

/// A mantissa a `Decimal` holds is below this in magnitude (96 bits).
const MANTISSA_LIMIT: u128 = 1 << 96;

/// The decimal `mantissa × 10^-scale` exactly, when a `Decimal` holds it: trailing zeros
/// are stripped as needed (to a mantissa of 96 bits and a scale of at most 28), a
/// negative scale multiplied out.
pub(super) fn decimal_of(mantissa: i128, scale: i8) -> Option<Decimal> {
    if (0..=MAX_SCALE).contains(&scale)
        && let Ok(d) = Decimal::try_from_i128_with_scale(mantissa, scale as u32)
    {
        return Some(d);
    }
    if mantissa == 0 {
        return Some(Decimal::ZERO);
    }
    let (mut m, mut s) = (mantissa, i32::from(scale));
    if s < 0 {
        m = m.checked_mul(10_i128.checked_pow(s.unsigned_abs())?)?;
        s = 0;
    }
    while s > i32::from(MAX_SCALE) || m.unsigned_abs() >= MANTISSA_LIMIT {
        if s == 0 || m % 10 != 0 {
            return None;
        }
        m /= 10;
        s -= 1;
    }
    Decimal::try_from_i128_with_scale(m, s as u32).ok()
}

/// The value of a stored number.
///
/// # Panics
///
/// For a number no `Decimal` holds, which a column entering a run never holds
/// ([`cast_exact`](super::cast_exact) refuses it, naming the row).
#[inline]
fn decode(mantissa: i128, scale: i8) -> Decimal {
    // The common case, inlined: a scale of 0..=28 and a mantissa of 96 bits.
    if (0..=MAX_SCALE).contains(&scale)
        && let Ok(d) = Decimal::try_from_i128_with_scale(mantissa, scale as u32)
    {
        return d;
    }
    decode_slow(mantissa, scale)
}

#[cold]
#[inline(never)]
fn decode_slow(mantissa: i128, scale: i8) -> Decimal {
    match decimal_of(mantissa, scale) {
        Some(d) => d,
        None => panic!(
            "{} (a Decimal128 of scale {scale}) is not a value rust_decimal::Decimal holds",
            adt::Decimal128Type::format_decimal(mantissa, PRECISION, scale)
        ),
    }
}

/// The `Decimal128(38, 18)` number stored for `d`: its value rounded half to even to 18
/// places.
///
/// # Panics
///
/// For a value of more than 20 digits before the point.
#[inline]
fn encode(d: &Decimal) -> i128 {
    const POW10: [i128; 19] = {
        let mut p = [1_i128; 19];
        let mut i = 1;
        while i < 19 {
            p[i] = p[i - 1] * 10;
            i += 1;
        }
        p
    };
    const LIMIT: u128 = 10_u128.pow(PRECISION as u32);
    let rounded;
    let d = match d.scale() {
        s if s > SCALE as u32 => {
            rounded = d.round_dp_with_strategy(SCALE as u32, RoundingStrategy::MidpointNearestEven);
            &rounded
        }
        _ => d,
    };
    match d.mantissa().checked_mul(POW10[(SCALE as u32 - d.scale()) as usize]) {
        Some(m) if m.unsigned_abs() < LIMIT => m,
        _ => too_wide(d),
    }
}

#[cold]
#[inline(never)]
fn too_wide(d: &Decimal) -> ! {
    panic!("the decimal {d} has more than 20 digits before the point, more than an Arrow Decimal128(38, 18) holds")
}

/// Why value `v` (shown as text) cannot be read as a `Decimal`.
fn cannot_hold(row: usize, shown: String) -> CastError {
    CastError {
        row: Some(row),
        message: format!("holds {shown}, which rust_decimal::Decimal cannot hold (28 significant digits)"),
    }
}

/// A decimal column (of any width, precision and scale) as a `Decimal128` column whose
/// every non-null value a `Decimal` holds: a `Decimal128` as it is, the other widths
/// converted to a `Decimal128` of their scale. Anything else (integers, strings) is
/// cast by Arrow to `Decimal128(38, 18)` first. The first value that does not fit fails,
/// naming its row.
pub(super) fn readable(array: &ArrayRef) -> Result<ArrayRef, CastError> {
    let array = match array.data_type() {
        DataType::Decimal128(_, _) => array.clone(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => {
            super::cast::arrow_cast(array, &DataType::Decimal128((*p).min(PRECISION), *s))?
        }
        DataType::Decimal256(p, s) => narrow(array.as_primitive::<adt::Decimal256Type>(), *p, *s)?,
        _ => super::cast::arrow_cast(array, &DataType::Decimal128(PRECISION, SCALE))?,
    };
    let decimals = array.as_primitive::<adt::Decimal128Type>();
    let (precision, scale) = (decimals.precision(), decimals.scale());
    let fits = (0..=MAX_SCALE).contains(&scale) && decimals.values().iter().all(|m| m.unsigned_abs() < MANTISSA_LIMIT);
    if !fits {
        let bad = |(row, &m): (usize, &i128)| (decimals.is_valid(row) && decimal_of(m, scale).is_none()).then_some(row);
        if let Some(row) = decimals.values().iter().enumerate().find_map(bad) {
            let shown = adt::Decimal128Type::format_decimal(decimals.values()[row], precision, scale);
            return Err(cannot_hold(row, shown));
        }
    }
    Ok(array)
}

/// A `Decimal256(p, s)` column as a `Decimal128(min(p, 38), s)`, when every non-null
/// value fits an `i128`.
fn narrow(array: &PrimitiveArray<adt::Decimal256Type>, precision: u8, scale: i8) -> Result<ArrayRef, CastError> {
    let mut out = Vec::with_capacity(array.len());
    for (row, v) in array.values().iter().enumerate() {
        match v.to_i128() {
            Some(m) => out.push(m),
            None if array.is_null(row) => out.push(0),
            None => {
                return Err(cannot_hold(
                    row,
                    adt::Decimal256Type::format_decimal(*v, precision, scale),
                ));
            }
        }
    }
    let narrowed = PrimitiveArray::<adt::Decimal128Type>::new(ScalarBuffer::from(out), array.nulls().cloned());
    let narrowed = narrowed
        .with_precision_and_scale(precision.min(PRECISION), scale)
        .map_err(|e| CastError {
            row: None,
            message: e.to_string(),
        })?;
    Ok(Arc::new(narrowed))
}

impl Columnar for Decimal {
    type Array = PrimitiveArray<adt::Decimal128Type>;
    type Builder = PrimitiveCollector<i128>;

    fn data_type() -> DataType {
        DataType::Decimal128(PRECISION, SCALE)
    }
    /// A `Decimal128` column of any precision and scale.
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array.as_primitive_opt::<adt::Decimal128Type>()
    }
    #[inline]
    fn value(array: &Self::Array, i: usize) -> Self {
        decode(array.values()[i], array.scale())
    }
    #[inline]
    fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
        let scale = array.scale();
        array.values().iter().map(move |&m| decode(m, scale))
    }
    /// The value read, hashed; `false` for a number no `Decimal` holds.
    #[inline]
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        match decimal_of(array.values()[i], array.scale()) {
            Some(d) => {
                d.stable_hash(h);
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
        builder.push(encode(value))
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.push_null()
    }
    #[inline]
    fn append_all(builder: &mut Self::Builder, values: &[Self]) {
        builder.values.extend(values.iter().map(encode));
        builder.nulls.append_n_non_nulls(values.len());
    }
    fn finish(builder: Self::Builder) -> ArrayRef {
        let (values, nulls) = builder.finish_buffers();
        let array = PrimitiveArray::<adt::Decimal128Type>::new(values, nulls);
        Arc::new(array.with_data_type(Self::data_type()))
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.values.len()
    }
    #[inline]
    fn fill<E>(builder: &mut Self::Builder, values: impl Iterator<Item = Result<Self, E>>) -> Result<(), (usize, E)> {
        builder.fill_with(values, |v| encode(&v))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use arrow::array::{Decimal128Array, Decimal256Array};
    use arrow::datatypes::i256;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn values_are_written_at_scale_18_rounded_half_to_even() {
        assert_eq!(encode(&dec("1.5")), 1_500_000_000_000_000_000);
        assert_eq!(encode(&dec("-0.000000000000000001")), -1);
        assert_eq!(encode(&dec("0.0000000000000000005")), 0);
        assert_eq!(encode(&dec("0.0000000000000000015")), 2);
        assert_eq!(encode(&dec("-0.0000000000000000025")), -2);
        let max = dec("99999999999999999999.99999999");
        assert_eq!(encode(&max), 10_i128.pow(38) - 10_i128.pow(10));
        assert_eq!(encode(&-max), -(10_i128.pow(38) - 10_i128.pow(10)));
    }

    #[test]
    #[should_panic(
        expected = "the decimal 100000000000000000000 has more than 20 digits before the point, more than an Arrow Decimal128(38, 18) holds"
    )]
    fn values_of_more_than_20_integer_digits_cannot_be_written() {
        encode(&dec("100000000000000000000"));
    }

    #[test]
    fn stored_numbers_are_read_exactly() {
        assert_eq!(decimal_of(150, 2), Some(dec("1.50")));
        assert_eq!(decimal_of(-7, -3), Some(dec("-7000")));
        // Over 96 bits at scale 18, but not once the trailing zeros go.
        let big = 123_456_789_012_345_i128 * 10_i128.pow(18);
        assert_eq!(decimal_of(big, 18), Some(dec("123456789012345")));
        assert_eq!(decode(big, 18), dec("123456789012345"));
        assert_eq!(decimal_of(10_i128.pow(30), 30), Some(Decimal::ONE));
        assert_eq!(decimal_of(0, 38), Some(Decimal::ZERO));
        assert_eq!(decimal_of(1, 29), None);
        assert_eq!(decimal_of(i128::MAX, 0), None);
        assert_eq!(decimal_of(1, -39), None);
    }

    #[test]
    fn decimal128_columns_are_read_in_place_and_checked() {
        let array: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(1_234), None, Some(-5)])
                .with_precision_and_scale(12, 2)
                .unwrap(),
        );
        let read = readable(&array).unwrap();
        assert!(Arc::ptr_eq(&read, &array));
        let typed = Decimal::downcast(read.as_ref()).unwrap();
        assert_eq!(Decimal::value(typed, 0), dec("12.34"));
        assert_eq!(Decimal::iter(typed).nth(2), Some(dec("-0.05")));

        let too_big: ArrayRef = Arc::new(
            Decimal128Array::from(vec![
                Some(1),
                None,
                Some(12_345_678_901_234_567_890_123_456_789_012_i128),
            ])
            .with_precision_and_scale(38, 2)
            .unwrap(),
        );
        let err = readable(&too_big).unwrap_err();
        assert_eq!(err.row, Some(2));
        assert_eq!(
            err.message,
            "holds 123456789012345678901234567890.12, which rust_decimal::Decimal cannot hold (28 significant digits)"
        );
    }

    #[test]
    fn decimal256_columns_are_narrowed_where_every_value_fits() {
        let array: ArrayRef = Arc::new(
            Decimal256Array::from(vec![Some(i256::from_i128(-1_234)), None])
                .with_precision_and_scale(50, 3)
                .unwrap(),
        );
        let read = readable(&array).unwrap();
        assert_eq!(read.data_type(), &DataType::Decimal128(38, 3));
        assert_eq!(
            Decimal::value(Decimal::downcast(read.as_ref()).unwrap(), 0),
            dec("-1.234")
        );
        let huge: ArrayRef = Arc::new(
            Decimal256Array::from(vec![
                i256::from_i128(1),
                i256::from_i128(i128::MAX).wrapping_mul(i256::from_i128(10)),
            ])
            .with_precision_and_scale(76, 0)
            .unwrap(),
        );
        let err = readable(&huge).unwrap_err();
        assert_eq!(err.row, Some(1));
        assert_eq!(
            err.message,
            "holds 1701411834604692317316873037158841057270, which rust_decimal::Decimal cannot hold (28 significant digits)"
        );
    }
}
