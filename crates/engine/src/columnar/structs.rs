//! Rust structs as Arrow struct columns, through serde_arrow: what
//! [`columnar_struct!`](crate::columnar_struct) implements [`Columnar`](super::Columnar)
//! with.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub use arrow::array::{Array, ArrayRef};
use arrow::datatypes::FieldRef;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_arrow::schema::{SchemaLike, TracingOptions};
use serde_arrow::utils::{Item, Items};

pub use arrow::array::StructArray;
pub use arrow::datatypes::DataType;

/// The Arrow field of a column of `Option<T>` (traced once per type, then cached).
///
/// Fields of these types have the Arrow types those types have alone, so a struct
/// column's date is a date (serde_arrow alone cannot trace some of them from the type,
/// or traces them as other types; see `sample` and `struct_form`):
///
/// | field | Arrow type |
/// |---|---|
/// | chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>` (with chrono's `serde` feature) | `Date32`, `Time64(ns)`, `Timestamp(µs)`, `Timestamp(µs, "UTC")` |
/// | `rust_decimal::Decimal` | `Decimal128(38, 18)` |
/// | `bytes::Bytes` (and any field serde writes as bytes) | `Binary` |
/// | `[u8; N]` | `FixedSizeBinary(N)` |
/// | `[T; N]` of numbers or `bool` | `FixedSizeList(T, N)` |
/// | `BTreeMap<K, V>` (any serde map) | `Map` of `keys` and `values`, of the types `K` and `V` have alone |
///
/// serde_arrow writes dates and decimals from their text: a decimal field's digits past
/// the 18th are dropped (not rounded, as a `Decimal` column's are), and a `DateTime` of
/// another zone is stored as its UTC instant. A `TimeDelta` field is what chrono
/// serializes it as: a struct of its seconds and nanoseconds. Other fields are what
/// serde_arrow traces: strings as `LargeUtf8`, `Vec`s as `LargeList`s, tuples and
/// arrays of other elements as structs of fields `0`, `1`, ...
///
/// # Panics
///
/// When serde_arrow cannot trace `T` (a type serde cannot describe without samples).
pub fn field<T: Serialize + DeserializeOwned + 'static>() -> FieldRef {
    static CACHE: OnceLock<RwLock<HashMap<TypeId, FieldRef>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(f) = cache.read().expect("field cache").get(&TypeId::of::<T>()) {
        return f.clone();
    }
    let options = TracingOptions::default()
        .map_as_struct(false)
        .bytes_as_large_binary(false);
    let traced = match super::sample::field::<T>(options.clone()) {
        Some(field) => field,
        None => match Vec::<FieldRef>::from_type::<Item<Option<T>>>(options) {
            Ok(traced) => traced[0].clone(),
            Err(e) => panic!("{} cannot be an Arrow struct: {e}", std::any::type_name::<T>()),
        },
    };
    let field = Arc::new(super::struct_form::conform(&traced));
    cache
        .write()
        .expect("field cache")
        .insert(TypeId::of::<T>(), field.clone());
    field
}

/// The values (nulls for `None`) as a struct array.
///
/// # Panics
///
/// When serde_arrow cannot serialize a value into the traced type.
pub fn to_array<T: Serialize + DeserializeOwned + 'static>(values: &[Option<T>]) -> ArrayRef {
    let mut arrays = serde_arrow::to_arrow(&[field::<T>()], Items(values))
        .unwrap_or_else(|e| panic!("serializing {}: {e}", std::any::type_name::<T>()));
    arrays.pop().expect("one column")
}

/// Row `i` of a struct array.
///
/// # Panics
///
/// For a null row or a struct that does not deserialize into `T`.
pub fn row<T: Serialize + DeserializeOwned + 'static>(array: &StructArray, i: usize) -> T {
    let one = super::struct_form::readable(Arc::new(array.slice(i, 1)));
    let field = field::<T>().as_ref().clone().with_data_type(one.data_type().clone());
    let Items(mut rows): Items<Vec<Option<T>>> = serde_arrow::from_arrow(&[Arc::new(field)], &[one])
        .unwrap_or_else(|e| panic!("reading {} from row {i}: {e}", std::any::type_name::<T>()));
    rows.pop().flatten().unwrap_or_else(|| panic!("row {i} is null"))
}

/// Implements [`Columnar`](crate::columnar::Columnar) for structs (or enums)
/// that derive serde's `Serialize` and `Deserialize` and are `Clone`, so they cross into
/// Arrow as struct columns and nodes over them run as vectorized UDFs.
///
/// Rows hash (for cache keys) as the `#[node]` macro hashes the type's values: through
/// [`StableHash`](crate::hash::StableHash) when the type implements it, else through
/// [`hash_serde`](crate::hash::hash_serde).
///
/// Fields of dates, times, timestamps, decimals, `Bytes`, `[u8; N]`, `[T; N]` and maps
/// have the Arrow types of those types alone ([`field`] lists them).
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::{columnar_struct, ColumnarEngine};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// struct Point { x: f64, y: f64 }
/// columnar_struct!(Point);
///
/// #[node(output = "norm")]
/// fn norm(point: Point) -> f64 { (point.x * point.x + point.y * point.y).sqrt() }
///
/// let p = Pipeline::new([norm::node()]).with_engine(ColumnarEngine::new());
/// let points = vec![Point { x: 3.0, y: 4.0 }, Point { x: 0.0, y: 2.0 }];
/// let out = p.map(&Inputs::new().with("point", points), &["point"], MapMode::Zip)?;
/// assert_eq!(out.column::<f64>("norm")?, &[5.0, 2.0]);
/// # Ok::<(), hypernodes::Error>(())
/// ```
///
/// A field of Arrow's `IntervalMonthDayNano` does not compile: the type has no serde
/// implementation, and serde_arrow has no interval type to write it as. (A column of
/// intervals is a column of that type, not a struct field.)
///
/// ```compile_fail
/// use serde::{Deserialize, Serialize};
/// use arrow::datatypes::IntervalMonthDayNano;
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Delay { wait: IntervalMonthDayNano }
/// ```
#[macro_export]
macro_rules! columnar_struct {
    ($($t:ty),+ $(,)?) => {$(
        impl $crate::columnar::Columnar for $t {
            type Array = $crate::columnar::structs::StructArray;
            type Builder = ::std::vec::Vec<::std::option::Option<$t>>;

            fn data_type() -> $crate::columnar::structs::DataType {
                $crate::columnar::structs::field::<$t>().data_type().clone()
            }
            /// A struct array of exactly this type (a struct of other fields is another
            /// type, which `value` could not read).
            fn downcast(array: &dyn $crate::columnar::structs::Array) -> ::std::option::Option<&Self::Array> {
                if *array.data_type() != <Self as $crate::columnar::Columnar>::data_type() {
                    return ::std::option::Option::None;
                }
                array.as_any().downcast_ref()
            }
            fn value(array: &Self::Array, i: usize) -> Self {
                $crate::columnar::structs::row::<$t>(array, i)
            }
            #[allow(clippy::needless_borrow)] // the triple borrow is how the probe picks
            fn digest_row(array: &Self::Array, i: usize, h: &mut $crate::__core::hash::StableHasher) -> bool {
                #[allow(unused_imports)]
                use $crate::__core::hash::{ViaNoHash as _, ViaSerialize as _, ViaStableHash as _};
                match (&&&$crate::__core::hash::HashProbe::<$t>::new()).hasher() {
                    ::std::option::Option::Some(hash) => hash(&Self::value(array, i), h),
                    ::std::option::Option::None => false,
                }
            }
            fn builder(capacity: usize) -> Self::Builder {
                ::std::vec::Vec::with_capacity(capacity)
            }
            fn append(builder: &mut Self::Builder, value: &Self) {
                builder.push(::std::option::Option::Some(::std::clone::Clone::clone(value)))
            }
            fn append_null(builder: &mut Self::Builder) {
                builder.push(::std::option::Option::None)
            }
            fn finish(builder: Self::Builder) -> $crate::columnar::structs::ArrayRef {
                $crate::columnar::structs::to_array(&builder)
            }
            fn builder_len(builder: &Self::Builder) -> usize {
                builder.len()
            }
        }
    )+};
}
