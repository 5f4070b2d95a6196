//! Rust types that map to Arrow ("columnar" types): the [`Columnar`] trait, its
//! implementations, and the type-erased [`ColumnType`] attached to a
//! [`TypeInfo`](crate::value::TypeInfo).
//!
//! By kind of type: `primitive` (integers, floats, `bool`), `string`, `binary` (`Bytes`,
//! `[u8; N]`), `fixed_list` (`[f32; N]` and other arrays of numbers), `interval`
//! (Arrow's `IntervalMonthDayNano`), `map` (`BTreeMap`), `temporal` (chrono's dates,
//! times, timestamps and durations), `decimal` (`rust_decimal::Decimal`), `option`
//! (nulls) and `list`
//! (`Vec`); `view` the view layouts strings and bytes are read from in place;
//! `column_type` holds the type-erased conversions, `type_info` the `TypeInfo`s
//! that carry them, and `cast` how a column of another Arrow type is read as one.

mod binary;
mod cast;
mod column_type;
mod decimal;
mod fixed_list;
mod interval;
mod list;
mod map;
mod option;
mod primitive;
mod string;
mod temporal;
mod type_info;
mod view;

use std::borrow::Cow;
use std::ops::Range;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;

use crate::hash::{HashFn, StableHasher};

pub use cast::{CastError, cast_exact};
pub use column_type::{ColumnType, Elements};
pub use fixed_list::{FixedListCollector, ListElement};
pub use list::ListCollector;
pub use map::{MapCollector, MapKey};
pub use primitive::PrimitiveCollector;
#[doc(hidden)]
pub use string::data_bytes;
pub use type_info::{TypeProbe, ViaAnyType, ViaColumnarType, columnar_type_info, reads_as, type_info_for};
pub use view::{Input, ViewArray, plain_type};

/// A Rust type that maps to an Arrow type, so values of it can live in Arrow columns.
///
/// Implemented for the integers, `usize` (as `UInt64`), floats, `bool`, `String`,
/// `bytes::Bytes` (`Binary`), `[u8; N]` (`FixedSizeBinary(N)`; `Vec<u8>` is a list),
/// `[T; N]` of the other numbers and `bool` (`FixedSizeList(T, N)`), Arrow's
/// `IntervalMonthDayNano` (`Interval(MonthDayNano)`), `BTreeMap<K, V>` (`Map`, keys of
/// the types [`MapKey`] lists),
/// chrono's `NaiveDate` (`Date32`), `NaiveTime` (`Time64(ns)`), `NaiveDateTime`
/// (`Timestamp(µs)`), `DateTime<Utc>` (`Timestamp(µs, "UTC")`) and `TimeDelta`
/// (`Duration(µs)`), `rust_decimal::Decimal` (`Decimal128(38, 18)`, reading any
/// `Decimal128`), and `Option<T>` (nulls) and `Vec<T>` (lists) of columnar types. Nodes whose parameters and
/// outputs are all columnar run as vectorized UDFs in the columnar engine; any other
/// type works too, node by node.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a columnar type (one that maps to Arrow)",
    label = "not columnar",
    note = "a node with `batch = ..` receives every argument as an Arrow array or scalar, so every parameter and output must be columnar; drop `batch` to run this node item by item",
    note = "serde structs become columnar with `hypernodes::columnar_struct!(MyType)`"
)]
pub trait Columnar: Sized + Send + Sync + 'static {
    /// The Arrow array read for this type.
    type Array: Array + 'static;
    /// What collects values into an array.
    type Builder: Send;
    /// Whether a null row is a value of this type (`Option`), rather than a row the node
    /// is not called on.
    const NULLABLE: bool = false;

    /// The Arrow type of a column of this type.
    fn data_type() -> DataType;
    /// The typed view of `array`, or `None` when it has another type.
    fn downcast(array: &dyn Array) -> Option<&Self::Array>;
    /// The value at row `i` (a non-null row unless the type is nullable).
    fn value(array: &Self::Array, i: usize) -> Self;
    /// Every row's value, in order (every row non-null unless the type is nullable). The
    /// lifted loop's reads: primitives iterate their value buffer, with no bounds checks.
    #[inline]
    fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
        (0..array.len()).map(move |i| Self::value(array, i))
    }
    /// Arrow's view layout of this type (`Utf8View` of a `String`, `BinaryView` of a
    /// `Bytes`) when a kernel reads a column in it in place, with
    /// [`Columnar::view_value`]; `None` (the default) when such a column is converted to
    /// [`Columnar::data_type`] first.
    fn view_type() -> Option<DataType> {
        None
    }
    /// The value at row `i` (a non-null row unless the type is nullable) of a column in
    /// the layout of [`Columnar::view_type`]; `None` for a type without one (the default)
    /// or a column in another layout.
    #[inline]
    fn view_value(array: ViewArray<'_>, i: usize) -> Option<Self> {
        let _ = (array, i);
        None
    }
    /// Whether row `i` holds a value of this type: it is not null (unless the type is
    /// nullable), and holds no null below where the type has none (an element of a
    /// `Vec<i64>`). A row that does not is read as a null row is: not at all (a node is
    /// not called on it).
    #[inline]
    fn holds(array: &Self::Array, i: usize) -> bool {
        Self::NULLABLE || !array.is_null(i)
    }
    /// Whether no row of `array` holds a null below its top level where the type has
    /// none; `false` when that is not known without looking at each row with
    /// [`Columnar::holds`]. Always `true` for types without elements.
    #[inline]
    fn elements_hold(array: &Self::Array) -> bool {
        let _ = array;
        true
    }
    /// Whether every row of `array` holds a value of this type (see [`Columnar::holds`]);
    /// `false` when that is not known without looking at each row.
    #[inline]
    fn all_hold(array: &Self::Array) -> bool {
        (Self::NULLABLE || array.null_count() == 0) && Self::elements_hold(array)
    }
    /// An empty builder for `capacity` rows.
    fn builder(capacity: usize) -> Self::Builder;
    /// An empty builder for `capacity` rows made from arguments that hold `bytes` bytes
    /// of data (strings and the like): types of variable width size their data buffer
    /// from it, so that it is not grown and copied while the rows come in.
    fn builder_for(capacity: usize, bytes: usize) -> Self::Builder {
        let _ = bytes;
        Self::builder(capacity)
    }
    /// Appends a value.
    fn append(builder: &mut Self::Builder, value: &Self);
    /// Rows `rows` of `array` as a slice (a `&[T]` parameter's list): borrowed from the
    /// array where it holds them as they are (primitives), else collected.
    #[inline]
    fn slice(array: &Self::Array, rows: Range<usize>) -> Cow<'_, [Self]>
    where
        Self: Clone,
    {
        Cow::Owned(rows.map(|i| Self::value(array, i)).collect())
    }
    /// Appends a null row.
    fn append_null(builder: &mut Self::Builder);
    /// Feeds the value at row `i` to `h` exactly as
    /// [`StableHash`](crate::hash::StableHash) (or, for a type that has only
    /// `Serialize`, [`hash_serde`](crate::hash::hash_serde)) would feed
    /// `Self::value(array, i)`, so a row read from Arrow and the same value made in Rust
    /// have one digest; `false` when the row cannot be hashed. The built-in types read
    /// the row in place (a string as `&str`, a list element by element), allocating
    /// nothing; [`columnar_struct!`](crate::columnar_struct) hashes the struct read.
    ///
    /// The default returns `false`: rows of a type that does not say how to hash them
    /// have no digest, and what depends on them is not cached. (`Columnar` does not
    /// require `StableHash`, so the default cannot hash the value itself.)
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        let _ = (array, i, h);
        false
    }
    /// How a value is hashed for the cache, for a type with no
    /// [`StableHash`](crate::hash::StableHash) because hypernodes-core cannot name it
    /// (Arrow's `IntervalMonthDayNano`): the hash function its
    /// [`TypeInfo`](crate::value::TypeInfo) carries, which must feed what
    /// [`Columnar::digest_row`] feeds. `None` (the default) for the other types, which
    /// hash through `StableHash` or serde.
    fn value_hasher() -> Option<HashFn> {
        None
    }
    /// Appends every value of `values` (primitives copy them in one pass).
    #[inline]
    fn append_all(builder: &mut Self::Builder, values: &[Self]) {
        values.iter().for_each(|v| Self::append(builder, v))
    }
    /// The array built.
    fn finish(builder: Self::Builder) -> ArrayRef;
    /// The rows appended so far.
    fn builder_len(builder: &Self::Builder) -> usize;

    /// Appends the values of `values` up to the first error, which comes back with its
    /// row. The lifted loop's fast path: primitives write straight into their value
    /// buffer, in a loop the compiler can vectorize. After a panic in `values`,
    /// [`Columnar::builder_len`] counts the rows appended before it.
    #[inline]
    fn fill<E>(builder: &mut Self::Builder, values: impl Iterator<Item = Result<Self, E>>) -> Result<(), (usize, E)> {
        for (row, v) in values.enumerate() {
            match v {
                Ok(v) => Self::append(builder, &v),
                Err(e) => return Err((row, e)),
            }
        }
        Ok(())
    }
}
