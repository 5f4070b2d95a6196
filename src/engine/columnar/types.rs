//! Rust types that map to Arrow ("columnar" types): the [`Columnar`] trait, its
//! implementations, and the type-erased [`ColumnType`] attached to a [`TypeInfo`].

use std::any::Any;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::builder::{ArrayBuilder, NullBufferBuilder};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, GenericListArray, ListArray, PrimitiveArray, StringArray,
    StringBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{self as adt, ArrowPrimitiveType, DataType, Field};

use crate::hash::{null_digest, StableHash, StableHasher};
use crate::value::{TypeInfo, Value};

/// A Rust type that maps to an Arrow type, so values of it can live in Arrow columns.
///
/// Implemented for the integers, `usize` (as `UInt64`), floats, `bool`, `String`,
/// `Option<T>` (nulls) and `Vec<T>` (lists) of columnar types. Nodes whose parameters and
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
    /// Feeds the value at row `i` to `h` exactly as [`StableHash`] (or, for a type that
    /// has only `Serialize`, [`hash_serde`](crate::hash::hash_serde)) would feed
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

/// Collects primitive values and their validity (materialized only once a null appears).
pub struct PrimitiveCollector<T> {
    values: Vec<T>,
    nulls: NullBufferBuilder,
}

impl<T: Default> PrimitiveCollector<T> {
    fn with_capacity(capacity: usize) -> Self {
        PrimitiveCollector {
            values: Vec::with_capacity(capacity),
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    #[inline]
    fn push(&mut self, v: T) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    fn push_null(&mut self) {
        self.values.push(T::default());
        self.nulls.append_null();
    }
}

macro_rules! primitive {
    ($($rust:ty => $arrow:ty),* $(,)?) => {$(
        impl Columnar for $rust {
            type Array = PrimitiveArray<$arrow>;
            type Builder = PrimitiveCollector<<$arrow as ArrowPrimitiveType>::Native>;

            fn data_type() -> DataType {
                <$arrow as ArrowPrimitiveType>::DATA_TYPE
            }
            fn downcast(array: &dyn Array) -> Option<&Self::Array> {
                array.as_primitive_opt::<$arrow>()
            }
            #[inline]
            fn value(array: &Self::Array, i: usize) -> Self {
                array.values()[i] as $rust
            }
            #[inline]
            fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
                array.values().iter().map(|&v| v as $rust)
            }
            #[inline]
            fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
                (array.values()[i] as $rust).stable_hash(h);
                true
            }
            #[inline]
            fn slice(array: &Self::Array, rows: Range<usize>) -> Cow<'_, [Self]> {
                let values = &array.values()[rows];
                // The same bytes (`usize` is `u64` on 64-bit targets): no copy.
                match bytemuck::try_cast_slice(values) {
                    Ok(same) => Cow::Borrowed(same),
                    Err(_) => Cow::Owned(values.iter().map(|&v| v as $rust).collect()),
                }
            }
            fn builder(capacity: usize) -> Self::Builder {
                PrimitiveCollector::with_capacity(capacity)
            }
            #[inline]
            fn append(builder: &mut Self::Builder, value: &Self) {
                builder.push(*value as <$arrow as ArrowPrimitiveType>::Native)
            }
            fn append_null(builder: &mut Self::Builder) {
                builder.push_null()
            }
            #[inline]
            fn append_all(builder: &mut Self::Builder, values: &[Self]) {
                builder.values.extend(values.iter().map(|&v| v as <$arrow as ArrowPrimitiveType>::Native));
                builder.nulls.append_n_non_nulls(values.len());
            }
            fn finish(mut builder: Self::Builder) -> ArrayRef {
                let nulls = builder.nulls.finish();
                Arc::new(PrimitiveArray::<$arrow>::new(ScalarBuffer::from(builder.values), nulls))
            }
            fn builder_len(builder: &Self::Builder) -> usize {
                builder.values.len()
            }
            #[inline]
            fn fill<E>(
                builder: &mut Self::Builder,
                values: impl Iterator<Item = Result<Self, E>>,
            ) -> Result<(), (usize, E)> {
                // `extend` over an iterator of known length writes without capacity
                // checks and keeps the length right if the iterator panics. So it is
                // not cut short, rows after an error are still computed, then dropped.
                let start = builder.values.len();
                let mut failed = None;
                builder.values.extend(values.enumerate().map(|(row, v)| match v {
                    Ok(v) => v as <$arrow as ArrowPrimitiveType>::Native,
                    Err(e) => {
                        failed.get_or_insert((row, e));
                        Default::default()
                    }
                }));
                let rows = builder.values.len() - start;
                match failed {
                    None => {
                        builder.nulls.append_n_non_nulls(rows);
                        Ok(())
                    }
                    Some((row, e)) => {
                        builder.values.truncate(start + row);
                        builder.nulls.append_n_non_nulls(row);
                        Err((row, e))
                    }
                }
            }
        }
    )*};
}

primitive!(
    i8 => adt::Int8Type, i16 => adt::Int16Type, i32 => adt::Int32Type, i64 => adt::Int64Type,
    u8 => adt::UInt8Type, u16 => adt::UInt16Type, u32 => adt::UInt32Type, u64 => adt::UInt64Type,
    usize => adt::UInt64Type, f32 => adt::Float32Type, f64 => adt::Float64Type,
);

impl Columnar for bool {
    type Array = BooleanArray;
    type Builder = BooleanBuilder;

    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array.as_boolean_opt()
    }
    fn value(array: &Self::Array, i: usize) -> Self {
        array.value(i)
    }
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        array.value(i).stable_hash(h);
        true
    }
    fn builder(capacity: usize) -> Self::Builder {
        BooleanBuilder::with_capacity(capacity)
    }
    fn append(builder: &mut Self::Builder, value: &Self) {
        builder.append_value(*value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
    fn finish(mut builder: Self::Builder) -> ArrayRef {
        Arc::new(builder.finish())
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.len()
    }
}

impl Columnar for String {
    type Array = StringArray;
    type Builder = StringBuilder;

    fn data_type() -> DataType {
        DataType::Utf8
    }
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array.as_string_opt::<i32>()
    }
    fn value(array: &Self::Array, i: usize) -> Self {
        array.value(i).to_string()
    }
    /// The row as `&str`, which hashes as the `String` would.
    #[inline]
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        array.value(i).stable_hash(h);
        true
    }

    fn builder(capacity: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, capacity * 16)
    }
    fn builder_for(capacity: usize, bytes: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, bytes.max(capacity * 16))
    }
    fn append(builder: &mut Self::Builder, value: &Self) {
        builder.append_value(value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
    fn finish(mut builder: Self::Builder) -> ArrayRef {
        Arc::new(builder.finish())
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.len()
    }
}

impl<T: Columnar> Columnar for Option<T> {
    type Array = T::Array;
    type Builder = T::Builder;
    const NULLABLE: bool = true;

    fn data_type() -> DataType {
        T::data_type()
    }
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        T::downcast(array)
    }
    #[inline]
    fn value(array: &Self::Array, i: usize) -> Self {
        if array.is_null(i) {
            None
        } else {
            Some(T::value(array, i))
        }
    }
    #[inline]
    fn holds(array: &Self::Array, i: usize) -> bool {
        array.is_null(i) || T::holds(array, i)
    }
    #[inline]
    fn elements_hold(array: &Self::Array) -> bool {
        T::elements_hold(array)
    }
    #[inline]
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        let some = !array.is_null(i);
        h.option_header(some);
        !some || T::digest_row(array, i, h)
    }
    fn builder(capacity: usize) -> Self::Builder {
        T::builder(capacity)
    }
    fn append(builder: &mut Self::Builder, value: &Self) {
        match value {
            Some(v) => T::append(builder, v),
            None => T::append_null(builder),
        }
    }
    fn append_null(builder: &mut Self::Builder) {
        T::append_null(builder)
    }
    fn finish(builder: Self::Builder) -> ArrayRef {
        T::finish(builder)
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        T::builder_len(builder)
    }
}

/// Collects lists: the child builder, the offsets and the validity of each list.
pub struct ListCollector<T: Columnar> {
    child: T::Builder,
    offsets: Vec<i32>,
    validity: Vec<bool>,
}

impl<T: Columnar> Columnar for Vec<T> {
    type Array = ListArray;
    type Builder = ListCollector<T>;

    fn data_type() -> DataType {
        DataType::List(Arc::new(Field::new_list_field(T::data_type(), true)))
    }
    /// A list array whose elements `T` reads (a list of other elements is another type).
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array
            .as_list_opt::<i32>()
            .filter(|list| T::downcast(list.values().as_ref()).is_some())
    }
    fn value(array: &Self::Array, i: usize) -> Self {
        let child = array.value(i);
        match T::downcast(child.as_ref()) {
            Some(typed) => (0..typed.len()).map(|j| T::value(typed, j)).collect(),
            // Unreachable: `downcast` checked the elements' type.
            None => Vec::new(),
        }
    }
    #[inline]
    fn holds(array: &Self::Array, i: usize) -> bool {
        if array.is_null(i) {
            return false;
        }
        let offsets = array.value_offsets();
        // Unreachable: `downcast` checked the elements' type.
        let Some(child) = T::downcast(array.values().as_ref()) else {
            return false;
        };
        (offsets[i] as usize..offsets[i + 1] as usize).all(|j| T::holds(child, j))
    }
    /// Whether every element of the child array (those of other rows too) holds a `T`.
    #[inline]
    fn elements_hold(array: &Self::Array) -> bool {
        T::downcast(array.values().as_ref()).is_some_and(T::all_hold)
    }
    /// The elements, read in place from the child array.
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        let offsets = array.value_offsets();
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        // Unreachable: `downcast` checked the elements' type.
        let Some(child) = T::downcast(array.values().as_ref()) else {
            return false;
        };
        h.list_header(end - start);
        (start..end).all(|j| T::digest_row(child, j, h))
    }
    fn builder(capacity: usize) -> Self::Builder {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        ListCollector {
            child: T::builder(capacity),
            offsets,
            validity: Vec::with_capacity(capacity),
        }
    }
    fn append(builder: &mut Self::Builder, value: &Self) {
        T::append_all(&mut builder.child, value);
        let last = *builder.offsets.last().expect("offsets start at 0");
        builder.offsets.push(last + value.len() as i32);
        builder.validity.push(true);
    }
    fn append_null(builder: &mut Self::Builder) {
        let last = *builder.offsets.last().expect("offsets start at 0");
        builder.offsets.push(last);
        builder.validity.push(false);
    }
    fn finish(builder: Self::Builder) -> ArrayRef {
        let nulls = builder
            .validity
            .contains(&false)
            .then(|| NullBuffer::from(builder.validity));
        let field = Arc::new(Field::new_list_field(T::data_type(), true));
        Arc::new(GenericListArray::<i32>::new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(builder.offsets)),
            T::finish(builder.child),
            nulls,
        ))
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.validity.len()
    }
}

/// The bytes of data `array` holds beyond its fixed-width parts: the characters of a
/// string array (sliced or not), else 0. What a kernel sizes string outputs by.
pub(crate) fn data_bytes(array: &dyn Array) -> usize {
    match array.as_string_opt::<i32>() {
        Some(s) => {
            let offsets = s.value_offsets();
            (offsets[offsets.len() - 1] - offsets[0]) as usize
        }
        None => 0,
    }
}

/// Which elements of a list [`ColumnType::list_rows_to_array`] takes.
#[derive(Clone, Debug)]
pub enum Elements<'a> {
    /// These, in order.
    Range(Range<usize>),
    /// The element at each index, in index order.
    At(&'a [u32]),
}

/// The type-erased Arrow conversions of one columnar type, attached to its [`TypeInfo`].
pub struct ColumnType {
    /// The Arrow type.
    pub data_type: fn() -> DataType,
    /// Whether nulls are values of the type (`Option`).
    pub nullable: bool,
    /// A `Vec<T>` value as an array (`None` when the value is not a `Vec<T>`).
    pub list_to_array: fn(&Value) -> Option<ArrayRef>,
    /// Some elements of a `Vec<T>` value, in order, as an array.
    pub list_rows_to_array: fn(&Value, Elements<'_>) -> Option<ArrayRef>,
    /// A `T` value as a one-row array.
    pub value_to_array: fn(&Value) -> Option<ArrayRef>,
    /// The rows of consecutive arrays (the chunks of one column) as one `Vec<T>` value;
    /// `Err` names the first row (counted across the chunks) that does not hold a `T`
    /// (see [`Columnar::holds`]: null, or a null inside where `T` has none).
    pub array_to_list: fn(&[&dyn Array]) -> Result<Value, String>,
    /// Row `i` of an array as a `T` value (`None` for a row that does not hold a `T`: see
    /// [`Columnar::holds`]).
    pub array_value: fn(&dyn Array, usize) -> Option<Value>,
    /// A `Vec<Vec<T>>` value as a list array, taking the rows in `index` (or all).
    pub lists_to_array: fn(&Value, Option<&[u32]>) -> Option<ArrayRef>,
    /// Appends one digest per row of an array to `out`: the digest
    /// [`digest`](crate::hash::digest) gives the row's value as a `T`
    /// (`stable_hash(&T::value(array, i))`), computed without building the value. A row
    /// that does not hold a `T` (see [`Columnar::holds`]: a null row of a non-nullable
    /// `T`, which no node is called on) gets [`null_digest`](crate::hash::null_digest),
    /// the digest of the tag `null`. `false` (and nothing appended) when the array is not
    /// of `T`'s Arrow type or a row cannot be hashed (see [`Columnar::digest_row`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use arrow::array::StringArray;
    /// use hypernodes::engine::columnar::types::ColumnType;
    /// use hypernodes::hash::{digest, null_digest};
    /// use hypernodes::Value;
    ///
    /// let array = StringArray::from(vec![Some("a"), None]);
    /// let mut digests = Vec::new();
    /// assert!((ColumnType::of::<String>().digest_rows)(&array, &mut digests));
    /// assert_eq!(digests, [digest(&Value::new("a".to_string())).unwrap(), null_digest()]);
    ///
    /// digests.clear();
    /// assert!((ColumnType::of::<Option<String>>().digest_rows)(&array, &mut digests));
    /// assert_eq!(digests[1], digest(&Value::new(None::<String>)).unwrap());
    /// assert!(!(ColumnType::of::<i64>().digest_rows)(&array, &mut digests));
    /// ```
    pub digest_rows: fn(&dyn Array, &mut Vec<[u8; 32]>) -> bool,
    /// Values that each hold a `T` as an array (`None` when one holds another type).
    pub values_to_array: fn(&[Value]) -> Option<ArrayRef>,
}

impl ColumnType {
    /// The conversions of `T`.
    pub fn of<T: Columnar>() -> &'static ColumnType {
        Conversions::<T>::TYPE
    }

    /// The conversions of `ty`, when its type is columnar: those attached to it (by the
    /// `#[node]` macro), else those of the built-in columnar type it is (for the types of
    /// closure nodes, which are generic and carry none).
    pub fn find(ty: &TypeInfo) -> Option<&'static ColumnType> {
        ty.extension()
            .and_then(|e| e.downcast_ref::<ColumnType>())
            .or_else(|| builtin(ty.type_id()))
    }
}

/// The conversions of the built-in columnar types by `TypeId`: each primitive, `bool` and
/// `String`, as itself, `Option`, `Vec`, `Vec<Option>`, `Option<Vec>` and `Vec<Vec>`.
fn builtin(id: std::any::TypeId) -> Option<&'static ColumnType> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static TYPES: OnceLock<HashMap<TypeId, &'static ColumnType>> = OnceLock::new();
    fn shapes<T: Columnar>(map: &mut HashMap<TypeId, &'static ColumnType>) {
        map.insert(TypeId::of::<T>(), ColumnType::of::<T>());
        map.insert(TypeId::of::<Option<T>>(), ColumnType::of::<Option<T>>());
        map.insert(TypeId::of::<Vec<T>>(), ColumnType::of::<Vec<T>>());
        map.insert(TypeId::of::<Vec<Option<T>>>(), ColumnType::of::<Vec<Option<T>>>());
        map.insert(TypeId::of::<Option<Vec<T>>>(), ColumnType::of::<Option<Vec<T>>>());
        map.insert(TypeId::of::<Vec<Vec<T>>>(), ColumnType::of::<Vec<Vec<T>>>());
    }
    TYPES
        .get_or_init(|| {
            let mut map = HashMap::new();
            shapes::<bool>(&mut map);
            shapes::<i8>(&mut map);
            shapes::<i16>(&mut map);
            shapes::<i32>(&mut map);
            shapes::<i64>(&mut map);
            shapes::<u8>(&mut map);
            shapes::<u16>(&mut map);
            shapes::<u32>(&mut map);
            shapes::<u64>(&mut map);
            shapes::<usize>(&mut map);
            shapes::<f32>(&mut map);
            shapes::<f64>(&mut map);
            shapes::<String>(&mut map);
            map
        })
        .get(&id)
        .copied()
}

/// The [`TypeInfo`] (with Arrow conversions) of a columnar Rust type.
pub fn columnar_type_info<T: Columnar>() -> TypeInfo {
    (&&TypeProbe::<T>::new()).type_info()
}

/// The Rust type, as a [`TypeInfo`] with Arrow conversions, whose values make columns of
/// Arrow type `data_type`, for data whose types are known only at run time (Parquet
/// columns, SQL expressions). Every string type maps to `String` and every list type to
/// `Vec` (cast the column to the [`ColumnType::data_type`] of the result before use).
/// `None` for types without a Rust counterpart here (dates, decimals, structs, ...).
///
/// # Examples
///
/// ```
/// use arrow::datatypes::DataType;
/// use hypernodes::engine::columnar::types::type_info_for;
///
/// assert_eq!(type_info_for(&DataType::Utf8View).unwrap().name(), "String");
/// assert!(type_info_for(&DataType::Date32).is_none());
/// ```
pub fn type_info_for(data_type: &DataType) -> Option<TypeInfo> {
    fn at<T: Columnar>(depth: usize) -> TypeInfo {
        match depth {
            0 => columnar_type_info::<T>(),
            1 => columnar_type_info::<Vec<T>>(),
            _ => columnar_type_info::<Vec<Vec<T>>>(),
        }
    }
    let (mut dt, mut depth) = (data_type, 0);
    while let DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) = dt {
        dt = f.data_type();
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
        _ => return None,
    })
}

impl std::fmt::Debug for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ColumnType({})", (self.data_type)())
    }
}

struct Conversions<T>(PhantomData<T>);

impl<T: Columnar> Conversions<T> {
    const TYPE: &'static ColumnType = &ColumnType {
        data_type: T::data_type,
        nullable: T::NULLABLE,
        list_to_array: Self::list_to_array,
        list_rows_to_array: Self::list_rows_to_array,
        value_to_array: Self::value_to_array,
        array_to_list: Self::array_to_list,
        array_value: Self::array_value,
        lists_to_array: Self::lists_to_array,
        digest_rows: Self::digest_rows,
        values_to_array: Self::values_to_array,
    };

    fn values_to_array(values: &[Value]) -> Option<ArrayRef> {
        let mut b = T::builder(values.len());
        for v in values {
            T::append(&mut b, v.downcast_ref::<T>()?);
        }
        Some(T::finish(b))
    }

    fn digest_rows(array: &dyn Array, out: &mut Vec<[u8; 32]>) -> bool {
        let Some(typed) = T::downcast(array) else {
            return false;
        };
        let start = out.len();
        out.reserve(typed.len());
        let null = null_digest();
        let mut h = StableHasher::new();
        let all_hold = T::all_hold(typed);
        for i in 0..typed.len() {
            if !all_hold && !T::holds(typed, i) {
                out.push(null);
                continue;
            }
            h.reset();
            if !T::digest_row(typed, i, &mut h) {
                out.truncate(start);
                return false;
            }
            out.push(h.finish());
        }
        true
    }

    fn list_to_array(value: &Value) -> Option<ArrayRef> {
        let list = value.downcast_ref::<Vec<T>>()?;
        let mut b = T::builder(list.len());
        T::append_all(&mut b, list);
        Some(T::finish(b))
    }

    fn list_rows_to_array(value: &Value, elements: Elements<'_>) -> Option<ArrayRef> {
        let list = value.downcast_ref::<Vec<T>>()?;
        Some(T::finish(match elements {
            Elements::Range(range) => {
                let mut b = T::builder(range.len());
                T::append_all(&mut b, list.get(range)?);
                b
            }
            Elements::At(index) => {
                let mut b = T::builder(index.len());
                for &i in index {
                    T::append(&mut b, list.get(i as usize)?);
                }
                b
            }
        }))
    }

    fn value_to_array(value: &Value) -> Option<ArrayRef> {
        let v = value.downcast_ref::<T>()?;
        let mut b = T::builder(1);
        T::append(&mut b, v);
        Some(T::finish(b))
    }

    fn array_to_list(chunks: &[&dyn Array]) -> Result<Value, String> {
        let mut values = Vec::with_capacity(chunks.iter().map(|a| a.len()).sum());
        for array in chunks {
            let typed = T::downcast(*array)
                .ok_or_else(|| format!("expected a column of {}, found {}", T::data_type(), array.data_type()))?;
            if !T::all_hold(typed) {
                if let Some(row) = (0..typed.len()).find(|&i| !T::holds(typed, i)) {
                    let at = values.len() + row;
                    return Err(if typed.is_null(row) {
                        format!("row {at} is null")
                    } else {
                        format!("row {at} holds a null, which {} cannot hold", TypeInfo::of::<T>())
                    });
                }
            }
            values.extend(T::iter(typed));
        }
        Ok(Value::new(values))
    }

    fn lists_to_array(value: &Value, index: Option<&[u32]>) -> Option<ArrayRef> {
        let rows = value.downcast_ref::<Vec<Vec<T>>>()?;
        let mut b = <Vec<T> as Columnar>::builder(index.map_or(rows.len(), <[u32]>::len));
        match index {
            None => rows.iter().for_each(|r| <Vec<T> as Columnar>::append(&mut b, r)),
            Some(ix) => ix
                .iter()
                .for_each(|&i| <Vec<T> as Columnar>::append(&mut b, &rows[i as usize])),
        }
        Some(<Vec<T> as Columnar>::finish(b))
    }

    fn array_value(array: &dyn Array, i: usize) -> Option<Value> {
        let typed = T::downcast(array)?;
        if !T::holds(typed, i) {
            return None;
        }
        Some(Value::new(T::value(typed, i)))
    }
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
    fn type_info(self) -> TypeInfo {
        TypeInfo::of::<T>().with_extension(ColumnType::of::<T>() as &'static (dyn Any + Send + Sync))
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

    fn round_trip<T: Columnar + Clone + PartialEq + std::fmt::Debug>(values: Vec<T>) {
        let ct = ColumnType::of::<T>();
        let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
        assert_eq!(array.data_type(), &T::data_type());
        assert_eq!(array.len(), values.len());
        let back = (ct.array_to_list)(&[array.as_ref()]).unwrap();
        assert_eq!(back.downcast_ref::<Vec<T>>(), Some(&values));
        if !values.is_empty() {
            let last = (ct.array_value)(array.as_ref(), values.len() - 1).unwrap();
            assert_eq!(last.downcast_ref::<T>(), values.last());
        }
    }

    #[test]
    fn values_round_trip_through_arrow() {
        round_trip(vec![1_i64, -2, 3]);
        round_trip(vec![1_usize, 2]);
        round_trip(vec![0.5_f64, f64::MAX]);
        round_trip(vec![true, false]);
        round_trip(vec!["a".to_string(), "ünï".to_string(), String::new()]);
        round_trip(vec![Some(1_i32), None, Some(3)]);
        round_trip(vec![Some("x".to_string()), None]);
        round_trip(vec![vec![1_u8, 2], vec![], vec![3]]);
        round_trip(vec![vec![vec!["a".to_string()]], vec![]]);
        round_trip(vec![Some(vec![1_i64]), None, Some(vec![])]);
        round_trip(Vec::<i64>::new());
    }

    #[test]
    fn nulls_in_a_non_nullable_column_are_named() {
        let array: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![Some(1), None]));
        let err = (ColumnType::of::<i64>().array_to_list)(&[array.as_ref()]).unwrap_err();
        assert_eq!(err, "row 1 is null");
        // Rows are counted across chunks.
        let err = (ColumnType::of::<i64>().array_to_list)(&[array.as_ref(), array.as_ref()]).unwrap_err();
        assert_eq!(err, "row 1 is null");
        let first: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![7, 8, 9]));
        let err = (ColumnType::of::<i64>().array_to_list)(&[first.as_ref(), array.as_ref()]).unwrap_err();
        assert_eq!(err, "row 4 is null");
        assert!((ColumnType::of::<i64>().array_value)(array.as_ref(), 1).is_none());
        let err = (ColumnType::of::<String>().array_to_list)(&[array.as_ref()]).unwrap_err();
        assert_eq!(err, "expected a column of Utf8, found Int64");
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the double borrow is how the probe picks
    fn the_probe_attaches_conversions_only_to_columnar_types() {
        struct Model;
        assert!(ColumnType::find(&(&&TypeProbe::<Vec<String>>::new()).type_info()).is_some());
        assert!(ColumnType::find(&(&&TypeProbe::<Model>::new()).type_info()).is_none());
        assert!(TypeInfo::of::<i64>().extension().is_none());
    }

    #[test]
    fn built_in_types_are_found_without_the_probe() {
        // Closure nodes describe their types with `TypeInfo::of`, which carries nothing.
        let found = |t: TypeInfo| ColumnType::find(&t).map(|ct| (ct.data_type)());
        assert_eq!(found(TypeInfo::of::<i64>()), Some(DataType::Int64));
        assert_eq!(found(TypeInfo::of::<Option<String>>()), Some(DataType::Utf8));
        assert_eq!(
            ColumnType::find(&TypeInfo::of::<Option<String>>()).map(|ct| ct.nullable),
            Some(true)
        );
        assert_eq!(
            found(TypeInfo::of::<Vec<Vec<f64>>>()),
            Some(<Vec<Vec<f64>> as Columnar>::data_type())
        );
        struct Model;
        assert_eq!(found(TypeInfo::of::<Model>()), None);
        assert_eq!(found(TypeInfo::of::<Vec<Vec<Vec<i64>>>>()), None);
    }

    /// Each row's digest from Arrow equals the digest of the row's value made in Rust.
    fn digests_match<T: Columnar + Clone + std::fmt::Debug>(values: Vec<T>, hash_as: TypeInfo) {
        let ct = ColumnType::of::<T>();
        let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
        let mut digests = vec![[0; 32]];
        assert!((ct.digest_rows)(array.as_ref(), &mut digests), "{values:?}");
        assert_eq!(digests.len(), values.len() + 1);
        for (v, d) in values.iter().zip(&digests[1..]) {
            let rust = crate::hash::digest_as(&Value::new(v.clone()), &hash_as);
            assert_eq!(rust, Some(*d), "{v:?}");
        }
        // Sliced arrays read the same rows.
        if values.len() > 1 {
            let mut sliced = Vec::new();
            assert!((ct.digest_rows)(array.slice(1, values.len() - 1).as_ref(), &mut sliced));
            assert_eq!(sliced, digests[2..]);
        }
    }

    fn digests_match_builtin<T: Columnar + Clone + std::fmt::Debug>(values: Vec<T>) {
        digests_match(values, TypeInfo::of::<T>());
    }

    #[test]
    fn row_digests_equal_the_digests_of_rust_values() {
        digests_match_builtin(vec![1_i8, -2, i8::MAX]);
        digests_match_builtin(vec![1_i16, -2]);
        digests_match_builtin(vec![1_i32, -2]);
        digests_match_builtin(vec![1_i64, -2, i64::MIN]);
        digests_match_builtin(vec![1_u8, 2]);
        digests_match_builtin(vec![1_u16, 2]);
        digests_match_builtin(vec![1_u32, 2]);
        digests_match_builtin(vec![1_u64, u64::MAX]);
        digests_match_builtin(vec![1_usize, 2]);
        digests_match_builtin(vec![1.5_f32, f32::NAN]);
        digests_match_builtin(vec![1.5_f64, -0.0, f64::NAN]);
        digests_match_builtin(vec![true, false]);
        digests_match_builtin(vec!["a".to_string(), String::new(), "ünï".to_string()]);
        digests_match_builtin(vec![Some(1_i64), None, Some(3)]);
        digests_match_builtin(vec![Some("x".to_string()), None]);
        digests_match_builtin(vec![vec![1_i64, 2], vec![], vec![3]]);
        digests_match_builtin(vec![
            vec!["a".to_string()],
            vec![],
            vec!["b".to_string(), "c".to_string()],
        ]);
        digests_match_builtin(vec![vec![Some(1.5_f64), None], vec![None], vec![]]);
        digests_match_builtin(vec![vec![vec![1_i64], vec![]], vec![], vec![vec![2, 3]]]);
        digests_match_builtin(vec![Some(vec![1_i64]), None, Some(vec![])]);
    }

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Point {
        x: f64,
        label: String,
    }
    crate::columnar_struct!(Point);

    #[test]
    #[allow(clippy::needless_borrow)]
    fn serde_struct_rows_digest_as_the_macro_hashes_them() {
        use crate::hash::{HashProbe, ViaSerialize as _};
        let hashed = TypeInfo::of::<Point>().with_hasher((&&&HashProbe::<Point>::new()).hasher().unwrap());
        let points = vec![
            Point {
                x: 1.0,
                label: "a".into(),
            },
            Point {
                x: -2.5,
                label: String::new(),
            },
        ];
        digests_match(points.clone(), hashed);
        let some =
            TypeInfo::of::<Option<Point>>().with_hasher((&&&HashProbe::<Option<Point>>::new()).hasher().unwrap());
        digests_match(vec![Some(points[0].clone()), None], some);
    }

    #[test]
    fn null_rows_of_non_nullable_types_get_the_null_digest() {
        let array = arrow::array::Int64Array::from(vec![Some(1), None]);
        let mut digests = Vec::new();
        assert!((ColumnType::of::<i64>().digest_rows)(&array, &mut digests));
        assert_eq!(digests[1], crate::hash::null_digest());
        assert_ne!(digests[0], digests[1]);
        let mut digests = Vec::new();
        assert!((ColumnType::of::<Option<i64>>().digest_rows)(&array, &mut digests));
        assert_eq!(Some(digests[1]), crate::hash::digest(&Value::new(None::<i64>)));
        // The wrong Arrow type appends nothing.
        let mut digests = Vec::new();
        assert!(!(ColumnType::of::<String>().digest_rows)(&array, &mut digests));
        assert!(digests.is_empty());
    }

    /// `cargo test --release --lib digest_rows_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn digest_rows_speed() {
        let strings: Vec<String> = (0..1_000_000)
            .map(|i| format!("{i:>15} the quick brown fox jumps over the lazy dog!"))
            .collect();
        assert_eq!(strings[0].len(), 60);
        let array = StringArray::from(strings);
        let mut digests = Vec::with_capacity(array.len());
        for _ in 0..3 {
            digests.clear();
            let start = std::time::Instant::now();
            assert!((ColumnType::of::<String>().digest_rows)(&array, &mut digests));
            println!("digest_rows over 1M Utf8 rows of 60 bytes: {:?}", start.elapsed());
        }
        // The floor: one blake3 call over a 60-byte string's 79-byte encoding per row.
        let mut bytes = [7_u8; 79];
        let start = std::time::Instant::now();
        let mut acc = 0_u8;
        for i in 0..1_000_000_u32 {
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            acc ^= blake3::hash(&bytes).as_bytes()[0];
        }
        println!("1M blake3::hash of 79 bytes: {:?} ({acc})", start.elapsed());
    }
}
