//! The [`TypeInfo`]s of columnar types, with their Arrow conversions attached: of a Rust
//! type (picked at compile time by [`TypeProbe`]) or of an Arrow type known at run time.

use std::any::Any;
use std::marker::PhantomData;

use arrow::datatypes::{DataType, Field};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use super::{ColumnType, Columnar};
use crate::value::TypeInfo;

/// The [`TypeInfo`] (with Arrow conversions) of a columnar Rust type.
pub fn columnar_type_info<T: Columnar>() -> TypeInfo {
    (&&TypeProbe::<T>::new()).type_info()
}

/// The Rust type, as a [`TypeInfo`] with Arrow conversions, whose values make columns of
/// Arrow type `data_type`, for data whose types are known only at run time (Parquet
/// columns, SQL expressions). Every string type maps to `String`, every binary type
/// (`FixedSizeBinary` too) to `bytes::Bytes`, every list type (`FixedSizeList` too) to
/// `Vec`, `Date32` and `Date64` to chrono's `NaiveDate`, every time type to `NaiveTime`,
/// a timestamp of any unit to `NaiveDateTime` (without a time zone) or `DateTime<Utc>`
/// (with any), every duration to `TimeDelta`, every decimal to `rust_decimal::Decimal`,
/// every interval to Arrow's
/// `IntervalMonthDayNano`, a map of string keys to `BTreeMap<String, V>` (`V` a `bool`,
/// `i32`, `i64`, `u64`, `f32`, `f64` or `String`), and a dictionary-encoded column (what
/// Parquet writers make of low-cardinality strings) to the type of its values (cast the
/// column to the [`ColumnType::data_type`] of the result with [`cast_exact`](super::cast_exact) before
/// use). `None` for types without a Rust counterpart here (structs, ...).
///
/// # Examples
///
/// ```
/// use arrow::datatypes::{DataType, TimeUnit};
/// use hypernodes::engine::columnar::types::type_info_for;
///
/// assert_eq!(type_info_for(&DataType::Utf8View).unwrap().name(), "String");
/// let zoned = DataType::Timestamp(TimeUnit::Nanosecond, Some("America/New_York".into()));
/// assert_eq!(type_info_for(&zoned).unwrap().name(), "DateTime<Utc>");
/// assert_eq!(type_info_for(&DataType::Decimal128(10, 2)).unwrap().name(), "Decimal");
/// let categories = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
/// assert_eq!(type_info_for(&categories).unwrap().name(), "String");
/// ```
pub fn type_info_for(data_type: &DataType) -> Option<TypeInfo> {
    fn at<T: Columnar>(depth: usize) -> TypeInfo {
        match depth {
            0 => columnar_type_info::<T>(),
            1 => columnar_type_info::<Vec<T>>(),
            _ => columnar_type_info::<Vec<Vec<T>>>(),
        }
    }
    let (mut dt, mut depth) = (dictionary_values(data_type), 0);
    while let DataType::List(f)
    | DataType::LargeList(f)
    | DataType::ListView(f)
    | DataType::LargeListView(f)
    | DataType::FixedSizeList(f, _) = dt
    {
        dt = dictionary_values(f.data_type());
        depth += 1;
    }
    if depth > 2 {
        return None;
    }
    Some(match dt {
        DataType::Boolean => at::<bool>(depth),
        DataType::Int8 => at::<i8>(depth),
        DataType::Int16 => at::<i16>(depth),
        DataType::Int32 => at::<i32>(depth),
        DataType::Int64 => at::<i64>(depth),
        DataType::UInt8 => at::<u8>(depth),
        DataType::UInt16 => at::<u16>(depth),
        DataType::UInt32 => at::<u32>(depth),
        DataType::UInt64 => at::<u64>(depth),
        DataType::Float32 => at::<f32>(depth),
        DataType::Float64 => at::<f64>(depth),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => at::<String>(depth),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            at::<bytes::Bytes>(depth)
        }
        DataType::Date32 | DataType::Date64 => at::<NaiveDate>(depth),
        DataType::Time32(_) | DataType::Time64(_) => at::<NaiveTime>(depth),
        DataType::Timestamp(_, None) => at::<NaiveDateTime>(depth),
        DataType::Timestamp(_, Some(_)) => at::<DateTime<Utc>>(depth),
        DataType::Duration(_) => at::<TimeDelta>(depth),
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            at::<rust_decimal::Decimal>(depth)
        }
        DataType::Interval(_) => at::<arrow::datatypes::IntervalMonthDayNano>(depth),
        DataType::Map(entries, _) if depth == 0 => return map_of(entries),
        _ => return None,
    })
}

/// The `BTreeMap<String, V>` of a map of string keys and values of a scalar type `V`.
fn map_of(entries: &Field) -> Option<TypeInfo> {
    fn m<V: Columnar>() -> TypeInfo {
        columnar_type_info::<std::collections::BTreeMap<String, V>>()
    }
    let DataType::Struct(fields) = entries.data_type() else {
        return None;
    };
    let [key, value] = &fields[..] else {
        return None;
    };
    if !matches!(
        dictionary_values(key.data_type()),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return None;
    }
    Some(match dictionary_values(value.data_type()) {
        DataType::Boolean => m::<bool>(),
        DataType::Int32 => m::<i32>(),
        DataType::Int64 => m::<i64>(),
        DataType::UInt64 => m::<u64>(),
        DataType::Float32 => m::<f32>(),
        DataType::Float64 => m::<f64>(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => m::<String>(),
        _ => return None,
    })
}

/// The type of a dictionary's values (a dictionary-encoded column is read as its
/// values), else `data_type` itself.
fn dictionary_values(data_type: &DataType) -> &DataType {
    match data_type {
        DataType::Dictionary(_, values) => values,
        other => other,
    }
}

/// Whether `a` and `b` are one Arrow type but for the names and nullability of list
/// elements.
fn same_layout(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::FixedSizeList(f, n), DataType::FixedSizeList(g, m)) => {
            n == m && same_layout(f.data_type(), g.data_type())
        }
        _ => a.equals_datatype(b),
    }
}

/// Whether a column of Arrow type `data_type` can be read as `ty`: `data_type` is `ty`'s
/// own Arrow type (a `[u8; 16]` reads a `FixedSizeBinary(16)`, a `[f32; 768]` a
/// `FixedSizeList(Float32, 768)`), or `ty` is the type
/// [`type_info_for`] gives it, or one with the same Arrow type that also holds nulls
/// (`Option<String>` reads a `Utf8` column, `Vec<Option<i64>>` a list of `Int64`), or a
/// `NaiveDateTime` (or lists of them, or options) reading a timestamp column with a time
/// zone, as the UTC date and time (Arrow stores instants as UTC; the zone is only how
/// they are shown).
///
/// # Examples
///
/// ```
/// use arrow::datatypes::{DataType, TimeUnit};
/// use hypernodes::engine::columnar::types::{columnar_type_info, reads_as};
///
/// let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
/// assert!(reads_as(&utc, &columnar_type_info::<chrono::DateTime<chrono::Utc>>()));
/// assert!(reads_as(&utc, &columnar_type_info::<Option<chrono::NaiveDateTime>>()));
/// assert!(!reads_as(&utc, &columnar_type_info::<i64>()));
/// ```
pub fn reads_as(data_type: &DataType, ty: &TypeInfo) -> bool {
    fn without_zone(dt: &DataType) -> DataType {
        match dt {
            DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, None),
            DataType::Dictionary(_, values) => without_zone(values),
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::ListView(f)
            | DataType::LargeListView(f)
            | DataType::FixedSizeList(f, _) => DataType::List(std::sync::Arc::new(Field::new_list_field(
                without_zone(f.data_type()),
                true,
            ))),
            other => other.clone(),
        }
    }
    let Some(wanted) = ColumnType::find(ty).map(|ct| (ct.data_type)()) else {
        return false;
    };
    if same_layout(dictionary_values(data_type), &wanted) {
        return true;
    }
    [type_info_for(data_type), type_info_for(&without_zone(data_type))]
        .iter()
        .flatten()
        .filter_map(ColumnType::find)
        .any(|ct| (ct.data_type)() == wanted)
}

/// Picks, at compile time, the [`TypeInfo`] of `T` with its Arrow conversions when `T`
/// is [`Columnar`], and the plain one otherwise (autoref specialization: the `#[node]`
/// macro calls `(&&TypeProbe::<T>::new()).type_info()` with concrete types).
#[doc(hidden)]
pub struct TypeProbe<T>(PhantomData<fn() -> T>);

impl<T> TypeProbe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        TypeProbe(PhantomData)
    }
}

/// The columnar case of [`TypeProbe`].
#[doc(hidden)]
pub trait ViaColumnarType {
    /// The type's description, with Arrow conversions.
    fn type_info(self) -> TypeInfo;
}

/// The fallback case of [`TypeProbe`].
#[doc(hidden)]
pub trait ViaAnyType {
    /// The type's description.
    fn type_info(self) -> TypeInfo;
}

impl<T: Columnar> ViaColumnarType for &&TypeProbe<T> {
    /// With the type's [`Columnar::value_hasher`] when it has one.
    fn type_info(self) -> TypeInfo {
        let ty = TypeInfo::of::<T>().with_extension(ColumnType::of::<T>() as &'static (dyn Any + Send + Sync));
        match T::value_hasher() {
            Some(f) => ty.with_hasher(f),
            None => ty,
        }
    }
}

impl<T: Send + Sync + 'static> ViaAnyType for &TypeProbe<T> {
    fn type_info(self) -> TypeInfo {
        TypeInfo::of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_borrow)] // the double borrow is how the probe picks
    fn the_probe_attaches_conversions_only_to_columnar_types() {
        struct Model;
        assert!(ColumnType::find(&(&&TypeProbe::<Vec<String>>::new()).type_info()).is_some());
        assert!(ColumnType::find(&(&&TypeProbe::<Model>::new()).type_info()).is_none());
        assert!(TypeInfo::of::<i64>().extension().is_none());
    }
}
