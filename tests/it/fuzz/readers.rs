//! The Arrow-to-Rust value readers: [`Columnar`] (`downcast`, `value`, `iter`, `slice`,
//! `digest_row`) and the [`ColumnType`] table (`array_value`, `array_to_list`,
//! `digest_rows`, and the writers they read back), for every built-in columnar type and a
//! [`columnar_struct!`](hypernodes::columnar_struct) type.
//!
//! Two targets: Rust values written by the library and read back (every row exactly, its
//! digest equal to the digest of the value made in Rust, sliced too); and arbitrary Arrow
//! arrays (any type, nested lists and structs, nulls, slices at every level, empty) given
//! to every reader: no panic; a reader of another type says so (`None`, an `Err` naming
//! both types, `false`); a reader of the array's type reads every row exactly.

use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, LargeListArray, LargeStringArray, ListArray, StringArray, StringViewArray, StructArray,
    UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields};
use hypernodes::engine::columnar::types::{ColumnType, Columnar, Elements};
use hypernodes::hash::{digest_as, null_digest};
use hypernodes::prelude::*;
use hypernodes::{TypeInfo, Value, columnar_struct};
use proptest::collection::vec;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::harness::{config, largest_allocation};

/// The struct of the targets' `columnar_struct!` readers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: f64,
    label: String,
}
columnar_struct!(Point);

/// The parameter types of a node over points: each carries the hash function the macro
/// picked, as a node's would.
#[node(output = "n")]
fn over_points(point: Point, maybe: Option<Point>, many: Vec<Point>) -> usize {
    usize::from(maybe.is_some()) + many.len() + point.label.len()
}

fn point_type(k: usize) -> TypeInfo {
    over_points::node().params()[k].type_info()
}

// ---------------------------------------------------------------------------------------
// Arbitrary Arrow arrays, from a type and the values of its rows.

/// An Arrow type: the ones the readers read, others, and lists and structs of them.
#[derive(Clone, Debug)]
enum Ty {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Utf8,
    LargeUtf8,
    Utf8View,
    Binary,
    Date32,
    List {
        item: Box<Ty>,
        nullable: bool,
        name: &'static str,
    },
    LargeList(Box<Ty>),
    Struct(Vec<(&'static str, Ty, bool)>),
}

/// A row's value.
#[derive(Clone, Debug)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<V>),
    Struct(Vec<V>),
}

impl Ty {
    fn data_type(&self) -> DataType {
        match self {
            Ty::Bool => DataType::Boolean,
            Ty::I8 => DataType::Int8,
            Ty::I16 => DataType::Int16,
            Ty::I32 => DataType::Int32,
            Ty::I64 => DataType::Int64,
            Ty::U8 => DataType::UInt8,
            Ty::U16 => DataType::UInt16,
            Ty::U32 => DataType::UInt32,
            Ty::U64 => DataType::UInt64,
            Ty::F32 => DataType::Float32,
            Ty::F64 => DataType::Float64,
            Ty::Utf8 => DataType::Utf8,
            Ty::LargeUtf8 => DataType::LargeUtf8,
            Ty::Utf8View => DataType::Utf8View,
            Ty::Binary => DataType::Binary,
            Ty::Date32 => DataType::Date32,
            Ty::List { item, nullable, name } => {
                DataType::List(Arc::new(Field::new(*name, item.data_type(), *nullable)))
            }
            Ty::LargeList(item) => DataType::LargeList(Arc::new(Field::new_list_field(item.data_type(), true))),
            Ty::Struct(fields) => DataType::Struct(self.fields(fields)),
        }
    }

    fn fields(&self, fields: &[(&'static str, Ty, bool)]) -> Fields {
        fields
            .iter()
            .map(|(n, t, nullable)| Field::new(*n, t.data_type(), *nullable))
            .collect()
    }

    /// A value of the type that is not null (for padding and for fields without nulls).
    fn default_value(&self) -> V {
        match self {
            Ty::Bool => V::Bool(false),
            Ty::U8 | Ty::U16 | Ty::U32 | Ty::U64 => V::UInt(0),
            Ty::F32 | Ty::F64 => V::Float(0.0),
            Ty::Utf8 | Ty::LargeUtf8 | Ty::Utf8View => V::Str(String::new()),
            Ty::Binary => V::Bytes(Vec::new()),
            Ty::List { .. } | Ty::LargeList(_) => V::List(Vec::new()),
            Ty::Struct(fields) => V::Struct(fields.iter().map(|(_, t, _)| t.default_value()).collect()),
            _ => V::Int(0),
        }
    }
}

/// The shape of `Point`, and shapes near it.
fn point_like() -> impl Strategy<Value = Ty> {
    prop_oneof![
        4 => Just(Ty::Struct(vec![("x", Ty::F64, false), ("label", Ty::LargeUtf8, false)])),
        1 => Just(Ty::Struct(vec![("x", Ty::F64, false), ("label", Ty::Utf8, false)])),
        1 => Just(Ty::Struct(vec![("label", Ty::LargeUtf8, false), ("x", Ty::F64, false)])),
        1 => Just(Ty::Struct(vec![("x", Ty::F64, true), ("label", Ty::LargeUtf8, true)])),
        1 => Just(Ty::Struct(vec![("x", Ty::I64, false), ("label", Ty::LargeUtf8, false)])),
        1 => Just(Ty::Struct(vec![("y", Ty::F64, false), ("label", Ty::LargeUtf8, false)])),
        1 => Just(Ty::Struct(vec![("x", Ty::F64, false)])),
        1 => Just(Ty::Struct(vec![])),
    ]
}

fn ty() -> impl Strategy<Value = Ty> {
    let leaf = prop_oneof![
        proptest::sample::select(vec![
            Ty::Bool,
            Ty::I8,
            Ty::I16,
            Ty::I32,
            Ty::I64,
            Ty::U8,
            Ty::U16,
            Ty::U32,
            Ty::U64,
            Ty::F32,
            Ty::F64,
            Ty::Utf8,
            Ty::LargeUtf8,
            Ty::Utf8View,
            Ty::Binary,
            Ty::Date32,
        ]),
        point_like(),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            6 => (inner.clone(), proptest::bool::weighted(0.85), proptest::sample::select(&["item", "element"][..]))
                .prop_map(|(item, nullable, name)| Ty::List { item: Box::new(item), nullable, name }),
            1 => inner.clone().prop_map(|item| Ty::LargeList(Box::new(item))),
            1 => vec(
                (proptest::sample::select(&["x", "label", "y"][..]), inner, any::<bool>()),
                0..3,
            )
            .prop_map(|mut fields| {
                fields.sort_by_key(|f| f.0);
                fields.dedup_by_key(|f| f.0);
                Ty::Struct(fields)
            }),
        ]
    })
}

/// A value of `ty`, null sometimes where `nullable`.
fn value(ty: &Ty, nullable: bool) -> BoxedStrategy<V> {
    let not_null: BoxedStrategy<V> = match ty {
        Ty::Bool => any::<bool>().prop_map(V::Bool).boxed(),
        Ty::I8 => any::<i8>().prop_map(|v| V::Int(v.into())).boxed(),
        Ty::I16 => any::<i16>().prop_map(|v| V::Int(v.into())).boxed(),
        Ty::I32 | Ty::Date32 => any::<i32>().prop_map(|v| V::Int(v.into())).boxed(),
        Ty::I64 => any::<i64>().prop_map(V::Int).boxed(),
        Ty::U8 => any::<u8>().prop_map(|v| V::UInt(v.into())).boxed(),
        Ty::U16 => any::<u16>().prop_map(|v| V::UInt(v.into())).boxed(),
        Ty::U32 => any::<u32>().prop_map(|v| V::UInt(v.into())).boxed(),
        Ty::U64 => any::<u64>().prop_map(V::UInt).boxed(),
        Ty::F32 => any::<f32>().prop_map(|v| V::Float(v.into())).boxed(),
        Ty::F64 => any::<f64>().prop_map(V::Float).boxed(),
        Ty::Utf8 | Ty::LargeUtf8 | Ty::Utf8View => ".{0,6}".prop_map(V::Str).boxed(),
        Ty::Binary => vec(any::<u8>(), 0..6).prop_map(V::Bytes).boxed(),
        Ty::List { item, nullable, .. } => vec(value(item, *nullable), 0..4).prop_map(V::List).boxed(),
        Ty::LargeList(item) => vec(value(item, true), 0..4).prop_map(V::List).boxed(),
        Ty::Struct(fields) => fields
            .iter()
            .map(|(_, t, n)| value(t, *n))
            .collect::<Vec<_>>()
            .prop_map(V::Struct)
            .boxed(),
    };
    if nullable {
        prop_oneof![1 => Just(V::Null), 4 => not_null].boxed()
    } else {
        not_null
    }
}

/// Rows to put before and after the rows of each array built, which is then sliced to
/// them (so that every array, children too, starts at an offset).
#[derive(Clone, Debug)]
struct Pads(Vec<(usize, usize)>, usize);

impl Pads {
    fn next(&mut self) -> (usize, usize) {
        let p = self.0.get(self.1 % self.0.len().max(1)).copied().unwrap_or((0, 0));
        self.1 += 1;
        p
    }
}

fn nulls(rows: &[V]) -> Option<NullBuffer> {
    let valid: Vec<bool> = rows.iter().map(|r| !matches!(r, V::Null)).collect();
    valid.contains(&false).then(|| NullBuffer::from(valid))
}

fn int(v: &V) -> Option<i64> {
    match v {
        V::Int(i) => Some(*i),
        V::UInt(u) => Some(*u as i64),
        _ => None,
    }
}

/// The array of `ty` holding `rows`, sliced out of a longer one.
fn build(ty: &Ty, rows: &[V], pads: &mut Pads) -> ArrayRef {
    let (front, back) = pads.next();
    let pad = ty.default_value();
    let mut all = vec![pad.clone(); front];
    all.extend_from_slice(rows);
    all.extend(std::iter::repeat_n(pad, back));
    build_whole(ty, &all, pads).slice(front, rows.len())
}

fn build_whole(ty: &Ty, rows: &[V], pads: &mut Pads) -> ArrayRef {
    let ints = || rows.iter().map(int);
    let uints = || {
        rows.iter().map(|v| match v {
            V::UInt(u) => Some(*u),
            _ => None,
        })
    };
    let floats = || {
        rows.iter().map(|v| match v {
            V::Float(f) => Some(*f),
            _ => None,
        })
    };
    let strs = || {
        rows.iter()
            .map(|v| match v {
                V::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    match ty {
        Ty::Bool => Arc::new(BooleanArray::from(
            rows.iter()
                .map(|v| match v {
                    V::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Ty::I8 => Arc::new(ints().map(|v| v.map(|v| v as i8)).collect::<Int8Array>()),
        Ty::I16 => Arc::new(ints().map(|v| v.map(|v| v as i16)).collect::<Int16Array>()),
        Ty::I32 => Arc::new(ints().map(|v| v.map(|v| v as i32)).collect::<Int32Array>()),
        Ty::Date32 => Arc::new(ints().map(|v| v.map(|v| v as i32)).collect::<Date32Array>()),
        Ty::I64 => Arc::new(ints().collect::<Int64Array>()),
        Ty::U8 => Arc::new(uints().map(|v| v.map(|v| v as u8)).collect::<UInt8Array>()),
        Ty::U16 => Arc::new(uints().map(|v| v.map(|v| v as u16)).collect::<UInt16Array>()),
        Ty::U32 => Arc::new(uints().map(|v| v.map(|v| v as u32)).collect::<UInt32Array>()),
        Ty::U64 => Arc::new(uints().collect::<UInt64Array>()),
        Ty::F32 => Arc::new(floats().map(|v| v.map(|v| v as f32)).collect::<Float32Array>()),
        Ty::F64 => Arc::new(floats().collect::<Float64Array>()),
        Ty::Utf8 => Arc::new(StringArray::from(strs())),
        Ty::LargeUtf8 => Arc::new(LargeStringArray::from(strs())),
        Ty::Utf8View => Arc::new(StringViewArray::from(strs())),
        Ty::Binary => Arc::new(BinaryArray::from(
            rows.iter()
                .map(|v| match v {
                    V::Bytes(b) => Some(b.as_slice()),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Ty::List { .. } | Ty::LargeList(_) => {
            let (item, field) = match (ty, ty.data_type()) {
                (Ty::List { item, .. }, DataType::List(f)) | (Ty::LargeList(item), DataType::LargeList(f)) => (item, f),
                _ => unreachable!("a list type"),
            };
            let elements: Vec<V> = rows
                .iter()
                .flat_map(|r| match r {
                    V::List(items) => items.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let lengths = rows.iter().map(|r| match r {
                V::List(items) => items.len(),
                _ => 0,
            });
            let child = build(item, &elements, pads);
            if matches!(ty, Ty::List { .. }) {
                Arc::new(ListArray::try_new(field, OffsetBuffer::from_lengths(lengths), child, nulls(rows)).unwrap())
            } else {
                Arc::new(
                    LargeListArray::try_new(field, OffsetBuffer::from_lengths(lengths), child, nulls(rows)).unwrap(),
                )
            }
        }
        Ty::Struct(fields) => {
            let nulls = nulls(rows);
            if fields.is_empty() {
                return Arc::new(StructArray::new_empty_fields(rows.len(), nulls));
            }
            let children = fields
                .iter()
                .enumerate()
                .map(|(k, (_, t, nullable))| {
                    let column: Vec<V> = rows
                        .iter()
                        .map(|r| match r {
                            V::Struct(values) => values[k].clone(),
                            _ if *nullable => V::Null,
                            _ => t.default_value(),
                        })
                        .collect();
                    build(t, &column, pads)
                })
                .collect();
            Arc::new(StructArray::try_new(ty.fields(fields), children, nulls).unwrap())
        }
    }
}

/// Whether a reader of `reader` reads arrays of `found`: the same type, where a list's
/// element may be named otherwise and hold no nulls.
fn reads(reader: &DataType, found: &DataType) -> bool {
    match (reader, found) {
        (DataType::List(a), DataType::List(b)) => reads(a.data_type(), b.data_type()),
        _ => reader == found,
    }
}

// ---------------------------------------------------------------------------------------
// The types read.

/// A columnar type under test: how to make values of it and how to read one from a row's
/// value.
trait Case: Columnar + Clone + Debug {
    /// Values of the type.
    fn strategy() -> BoxedStrategy<Self>;
    /// The value a row of `v` holds as this type; `None` when it holds a null where this
    /// type has none (or another kind of value).
    fn from_v(v: &V) -> Option<Self>;
    /// The type to hash values as (with its hash function).
    fn hash_as() -> TypeInfo {
        TypeInfo::of::<Self>()
    }
}

macro_rules! int_case {
    ($($t:ty),*) => {$(
        impl Case for $t {
            fn strategy() -> BoxedStrategy<Self> {
                any::<$t>().boxed()
            }
            fn from_v(v: &V) -> Option<Self> {
                int(v).map(|i| i as $t)
            }
        }
    )*};
}
int_case!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

/// `Case` for a type without elements: its values, and the kind of row value it reads.
macro_rules! leaf_case {
    ($($t:ty: $strategy:expr, $row:pat => $value:expr;)*) => {$(
        impl Case for $t {
            fn strategy() -> BoxedStrategy<Self> {
                $strategy.boxed()
            }
            fn from_v(v: &V) -> Option<Self> {
                match v {
                    $row => Some($value),
                    _ => None,
                }
            }
        }
    )*};
}
leaf_case! {
    f32: any::<f32>(), V::Float(f) => *f as f32;
    f64: any::<f64>(), V::Float(f) => *f;
    bool: any::<bool>(), V::Bool(b) => *b;
    String: ".{0,6}", V::Str(s) => s.clone();
}

impl<T: Case> Case for Option<T> {
    fn strategy() -> BoxedStrategy<Self> {
        proptest::option::of(T::strategy()).boxed()
    }
    fn from_v(v: &V) -> Option<Self> {
        match v {
            V::Null => Some(None),
            v => T::from_v(v).map(Some),
        }
    }
    fn hash_as() -> TypeInfo {
        if TypeInfo::of::<T>().type_id() == std::any::TypeId::of::<Point>() {
            point_type(1)
        } else {
            TypeInfo::of::<Self>()
        }
    }
}

impl<T: Case> Case for Vec<T> {
    fn strategy() -> BoxedStrategy<Self> {
        vec(T::strategy(), 0..4).boxed()
    }
    fn from_v(v: &V) -> Option<Self> {
        match v {
            V::List(items) => items.iter().map(T::from_v).collect(),
            _ => None,
        }
    }
    fn hash_as() -> TypeInfo {
        if TypeInfo::of::<T>().type_id() == std::any::TypeId::of::<Point>() {
            point_type(2)
        } else {
            TypeInfo::of::<Self>()
        }
    }
}

impl Case for Point {
    fn strategy() -> BoxedStrategy<Self> {
        (any::<f64>(), ".{0,6}")
            .prop_map(|(x, label)| Point { x, label })
            .boxed()
    }
    fn from_v(v: &V) -> Option<Self> {
        match v {
            V::Struct(fields) if fields.len() == 2 => Some(Point {
                x: f64::from_v(&fields[0])?,
                label: String::from_v(&fields[1])?,
            }),
            _ => None,
        }
    }
    fn hash_as() -> TypeInfo {
        point_type(0)
    }
}

/// Calls `$check::<T>($args)` for every type under test.
macro_rules! every_type {
    ($check:ident $args:tt) => {
        every_type!(@ $check $args;
            i8, i16, i32, i64, u8, u16, u32, u64, usize, f32, f64, bool, String,
            Option<i64>, Option<f32>, Option<bool>, Option<String>,
            Vec<i64>, Vec<u8>, Vec<String>, Vec<Option<f64>>, Vec<Option<String>>, Option<Vec<i64>>,
            Vec<Vec<i32>>, Vec<Vec<String>>,
            Point, Option<Point>, Vec<Point>)
    };
    (@ $check:ident $args:tt; $($t:ty),*) => {{
        $($check::<$t> $args?;)*
    }};
}

/// Whether two values are the same: as printed (every field), and as hashed (every bit
/// of a float).
fn same<T: Case>(a: &T, b: &T) -> bool {
    let d = |v: &T| digest_as(&Value::new(v.clone()), &T::hash_as());
    format!("{a:?}") == format!("{b:?}") && d(a) == d(b)
}

fn check_same<T: Case>(found: &[T], expected: &[T], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        found.len(),
        expected.len(),
        "{}: {:?}, expected {:?}",
        what,
        found,
        expected
    );
    for (i, (f, e)) in found.iter().zip(expected).enumerate() {
        prop_assert!(same(f, e), "{}: row {} is {:?}, expected {:?}", what, i, f, e);
    }
    Ok(())
}

fn list<T: Case>(value: Value) -> Result<Vec<T>, TestCaseError> {
    value
        .downcast_ref::<Vec<T>>()
        .cloned()
        .ok_or_else(|| TestCaseError::fail(format!("not a Vec<{}>", std::any::type_name::<T>())))
}

/// Reads `array` (of rows `rows`) with `T`'s readers, checking each against the rows.
fn read_as<T: Case>(array: &dyn Array, rows: &[V]) -> Result<(), TestCaseError> {
    let ct = ColumnType::of::<T>();
    let name = std::any::type_name::<T>();
    let Some(typed) = T::downcast(array) else {
        prop_assert!(
            !reads(&T::data_type(), array.data_type()),
            "{name} does not read its own type {}",
            array.data_type()
        );
        // Another type: every reader says so.
        for i in 0..array.len() {
            prop_assert!((ct.array_value)(array, i).is_none(), "{name} read row {i}");
        }
        prop_assert_eq!(
            (ct.array_to_list)(&[array]).err(),
            Some(format!(
                "expected a column of {}, found {}",
                T::data_type(),
                array.data_type()
            ))
        );
        let mut digests = vec![[7; 32]];
        prop_assert!(!(ct.digest_rows)(array, &mut digests));
        prop_assert_eq!(digests, vec![[7; 32]]);
        return Ok(());
    };
    prop_assert!(
        reads(&T::data_type(), array.data_type()),
        "{name} reads {} as if it were {}",
        array.data_type(),
        T::data_type()
    );
    // `None`: the row holds a null where T has none (the row itself, or an element).
    let expected: Vec<Option<T>> = rows.iter().map(T::from_v).collect();
    let all: Option<Vec<T>> = expected.iter().cloned().collect();
    if T::all_hold(typed) {
        prop_assert!(all.is_some(), "{name}: all_hold, but a row holds a null");
    }
    let mut digests = Vec::new();
    prop_assert!((ct.digest_rows)(array, &mut digests), "{name}: rows not hashed");
    prop_assert_eq!(digests.len(), rows.len());
    for (i, e) in expected.iter().enumerate() {
        let read = (ct.array_value)(array, i);
        prop_assert_eq!(T::holds(typed, i), e.is_some(), "{} holds row {}", name, i);
        match e {
            Some(e) => {
                let read = read.and_then(|v| v.downcast_ref::<T>().cloned());
                prop_assert!(
                    read.as_ref().is_some_and(|r| same(r, e)),
                    "{name} row {i}: {read:?}, expected {e:?}"
                );
                prop_assert!(same(&T::value(typed, i), e), "{name} value row {i}");
                prop_assert_eq!(
                    Some(digests[i]),
                    digest_as(&Value::new(e.clone()), &T::hash_as()),
                    "{} digest row {}",
                    name,
                    i
                );
            }
            None => {
                prop_assert!(read.is_none(), "{name} row {i} holds a null, read as {read:?}");
                prop_assert_eq!(digests[i], null_digest());
            }
        }
    }
    let read = (ct.array_to_list)(&[array, array]);
    match &all {
        Some(all) => {
            check_same(
                &list::<T>(read.map_err(TestCaseError::fail)?)?,
                &[all.clone(), all.clone()].concat(),
                name,
            )?;
            // Every row's value, and rows as a slice (as a `&[T]` parameter reads a list's
            // elements), where every row holds a value.
            check_same(&T::iter(typed).collect::<Vec<T>>(), all, "iter")?;
            let (a, b) = (rows.len() / 3, rows.len() - rows.len() / 4);
            check_same(&T::slice(typed, a..b), &all[a..b], "slice")?;
        }
        None => {
            let first = expected
                .iter()
                .position(Option::is_none)
                .expect("a row without a value");
            let message = if matches!(rows[first], V::Null) {
                format!("row {first} is null")
            } else {
                format!("row {first} holds a null, which {} cannot hold", TypeInfo::of::<T>())
            };
            prop_assert_eq!(read.err(), Some(message));
        }
    }
    Ok(())
}

/// Writes `values` with `T`'s writers and reads them back with its readers.
fn write_and_read<T: Case>(values: &[T], cut: usize) -> Result<(), TestCaseError> {
    let ct = ColumnType::of::<T>();
    let name = std::any::type_name::<T>();
    let as_values: Vec<Value> = values.iter().cloned().map(Value::new).collect();
    let arrays = [
        (ct.list_to_array)(&Value::new(values.to_vec())).expect("a Vec<T>"),
        (ct.values_to_array)(&as_values).expect("T values"),
    ];
    for array in &arrays {
        prop_assert_eq!(array.data_type(), &T::data_type());
        let read = list::<T>((ct.array_to_list)(&[array.as_ref()]).map_err(TestCaseError::fail)?)?;
        check_same(&read, values, name)?;
        let mut digests = Vec::new();
        prop_assert!((ct.digest_rows)(array.as_ref(), &mut digests));
        for (d, v) in digests.iter().zip(&as_values) {
            prop_assert_eq!(Some(*d), digest_as(v, &T::hash_as()), "{} digest", name);
        }
        // A slice reads its own rows.
        let (a, b) = (cut.min(values.len()), values.len());
        let sliced = array.slice(a, b - a);
        let read = list::<T>((ct.array_to_list)(&[sliced.as_ref()]).map_err(TestCaseError::fail)?)?;
        check_same(&read, &values[a..], "sliced")?;
        let mut sliced_digests = Vec::new();
        prop_assert!((ct.digest_rows)(sliced.as_ref(), &mut sliced_digests));
        prop_assert_eq!(&sliced_digests[..], &digests[a..]);
        for (i, v) in values.iter().enumerate() {
            let read = (ct.array_value)(array.as_ref(), i).and_then(|r| r.downcast_ref::<T>().cloned());
            prop_assert!(read.as_ref().is_some_and(|r| same(r, v)), "{name} row {i}");
        }
    }
    for v in &as_values {
        let one = (ct.value_to_array)(v).expect("a T");
        check_same(
            &list::<T>((ct.array_to_list)(&[one.as_ref()]).map_err(TestCaseError::fail)?)?,
            std::slice::from_ref(v.downcast_ref::<T>().unwrap()),
            "one",
        )?;
    }
    // Some elements of the list: a range, and indices.
    let whole = Value::new(values.to_vec());
    let (a, b) = (cut.min(values.len()) / 2, cut.min(values.len()));
    let range = (ct.list_rows_to_array)(&whole, Elements::Range(a..b)).expect("a Vec<T>");
    check_same(
        &list::<T>((ct.array_to_list)(&[range.as_ref()]).map_err(TestCaseError::fail)?)?,
        &values[a..b],
        "range",
    )?;
    let index: Vec<u32> = (0..values.len() as u32).rev().step_by(cut.max(1)).collect();
    let picked = (ct.list_rows_to_array)(&whole, Elements::At(&index)).expect("a Vec<T>");
    let expected: Vec<T> = index.iter().map(|&i| values[i as usize].clone()).collect();
    check_same(
        &list::<T>((ct.array_to_list)(&[picked.as_ref()]).map_err(TestCaseError::fail)?)?,
        &expected,
        "at",
    )?;
    // The values cut into lists, as a list array (all, and some of them).
    let lists: Vec<Vec<T>> = values.chunks(cut.max(1)).map(<[T]>::to_vec).collect();
    let of_lists = ColumnType::of::<Vec<T>>();
    let array = (ct.lists_to_array)(&Value::new(lists.clone()), None).expect("a Vec<Vec<T>>");
    check_same(
        &list::<Vec<T>>((of_lists.array_to_list)(&[array.as_ref()]).map_err(TestCaseError::fail)?)?,
        &lists,
        "lists",
    )?;
    let index: Vec<u32> = (0..lists.len() as u32).rev().collect();
    let array = (ct.lists_to_array)(&Value::new(lists.clone()), Some(&index)).expect("a Vec<Vec<T>>");
    let reversed: Vec<Vec<T>> = lists.iter().rev().cloned().collect();
    check_same(
        &list::<Vec<T>>((of_lists.array_to_list)(&[array.as_ref()]).map_err(TestCaseError::fail)?)?,
        &reversed,
        "lists at",
    )?;
    Ok(())
}

fn round_trip_all(seed: u64, cut: usize) -> Result<(), TestCaseError> {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    // Each type's values from one seed (the strategies differ by type).
    fn values<T: Case>(seed: u64) -> Vec<T> {
        let rng = TestRng::from_seed(
            RngAlgorithm::ChaCha,
            &[seed.to_le_bytes(), [0; 8], [0; 8], [0; 8]].concat(),
        );
        let mut runner = TestRunner::new_with_rng(ProptestConfig::default(), rng);
        vec(T::strategy(), 0..8)
            .new_tree(&mut runner)
            .expect("values")
            .current()
    }
    fn one<T: Case>(seed: u64, cut: usize) -> Result<(), TestCaseError> {
        write_and_read::<T>(&values::<T>(seed), cut)
    }
    every_type!(one(seed, cut));
    Ok(())
}

fn arbitrary_all(array: &dyn Array, rows: &[V]) -> Result<(), TestCaseError> {
    every_type!(read_as(array, rows));
    Ok(())
}

fn array() -> impl Strategy<Value = (Ty, Vec<V>, Pads)> {
    ty().prop_flat_map(|t| {
        let rows = vec(value(&t, true), 0..8);
        let pads = vec((0..3_usize, 0..3_usize), 1..4).prop_map(|p| Pads(p, 0));
        (Just(t), rows, pads)
    })
}

proptest! {
    #![proptest_config(config())]

    /// Rust values of every type written by the library, read back.
    #[test]
    fn round_trip(seed in any::<u64>(), cut in 0..5_usize) {
        let (result, largest) = largest_allocation(|| round_trip_all(seed, cut));
        result?;
        prop_assert!(largest <= 1 << 20, "an allocation of {largest} bytes");
    }

    /// Arbitrary arrays, read with every type's readers.
    #[test]
    fn arbitrary_arrays((t, rows, mut pads) in array()) {
        let array = build(&t, &rows, &mut pads);
        array.to_data().validate_full().unwrap();
        prop_assert_eq!(array.len(), rows.len());
        let (result, largest) = largest_allocation(|| arbitrary_all(array.as_ref(), &rows));
        result?;
        prop_assert!(largest <= 1 << 20, "an allocation of {largest} bytes");
    }
}

// ---------------------------------------------------------------------------------------
// Regressions: inputs the targets found, each with what the readers now do.

/// Found by `arbitrary_arrays`: `Vec<i64>` read a list of booleans, each row as an empty
/// list.
#[test]
fn a_list_of_other_elements_is_another_type() {
    let booleans = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Boolean, true)),
        OffsetBuffer::from_lengths([1, 0]),
        Arc::new(BooleanArray::from(vec![true])),
        None,
    );
    let ct = ColumnType::of::<Vec<i64>>();
    assert!(<Vec<i64>>::downcast(&booleans).is_none());
    assert!((ct.array_value)(&booleans, 0).is_none());
    assert_eq!(
        (ct.array_to_list)(&[&booleans]).unwrap_err(),
        "expected a column of List(Int64), found List(Boolean)"
    );
}

/// Found by `arbitrary_arrays`: a `columnar_struct!` type read any struct array (the
/// target found a `Utf8` label, where `Point`'s is `LargeUtf8`), and reading a row of
/// other fields panicked (here `y`, not `x`: "missing field `x`").
#[test]
fn a_struct_of_other_fields_is_another_type() {
    let fields = Fields::from(vec![
        Field::new("y", DataType::Float64, false),
        Field::new("label", DataType::LargeUtf8, false),
    ]);
    let points = StructArray::new(
        fields,
        vec![
            Arc::new(Float64Array::from(vec![1.5])),
            Arc::new(LargeStringArray::from(vec!["a"])),
        ],
        None,
    );
    let ct = ColumnType::of::<Point>();
    assert!((ct.array_value)(&points, 0).is_none());
    assert_eq!(
        (ct.array_to_list)(&[&points]).unwrap_err(),
        "expected a column of Struct(\"x\": non-null Float64, \"label\": non-null LargeUtf8), found \
         Struct(\"y\": non-null Float64, \"label\": non-null LargeUtf8)"
    );
    assert!(!(ct.digest_rows)(&points, &mut Vec::new()));
}

/// Found by `arbitrary_arrays`: a list element that is null where the element type has
/// none was read as `0` by `Vec<i64>`, and made `Vec<Point>` panic ("row 0 is null").
/// Such a row holds no `Vec<i64>`: it reads and hashes as a null row.
#[test]
fn a_null_element_where_the_type_has_none_is_not_read() {
    let numbers = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Int64, true)),
        OffsetBuffer::from_lengths([2, 1]),
        Arc::new(Int64Array::from(vec![Some(1), None, Some(2)])),
        None,
    );
    let ct = ColumnType::of::<Vec<i64>>();
    assert!((ct.array_value)(&numbers, 0).is_none());
    assert_eq!(
        (ct.array_value)(&numbers, 1).unwrap().downcast_ref::<Vec<i64>>(),
        Some(&vec![2])
    );
    assert_eq!(
        (ct.array_to_list)(&[&numbers]).unwrap_err(),
        "row 0 holds a null, which Vec<i64> cannot hold"
    );
    let mut digests = Vec::new();
    assert!((ct.digest_rows)(&numbers, &mut digests));
    assert_eq!(digests[0], null_digest());
    // Where the elements may be null, the row reads as it is.
    let maybe = ColumnType::of::<Vec<Option<i64>>>();
    assert_eq!(
        (maybe.array_value)(&numbers, 0)
            .unwrap()
            .downcast_ref::<Vec<Option<i64>>>(),
        Some(&vec![Some(1), None])
    );

    let point = Point {
        x: 1.0,
        label: "a".into(),
    };
    let points = (ColumnType::of::<Option<Point>>().values_to_array)(&[
        Value::new(Some(point.clone())),
        Value::new(None::<Point>),
    ])
    .unwrap();
    let lists = ListArray::new(
        Arc::new(Field::new_list_field(Point::data_type(), true)),
        OffsetBuffer::from_lengths([2]),
        points,
        None,
    );
    let ct = ColumnType::of::<Vec<Point>>();
    assert!((ct.array_value)(&lists, 0).is_none());
    assert_eq!(
        (ct.array_to_list)(&[&lists]).unwrap_err(),
        "row 0 holds a null, which Vec<Point> cannot hold"
    );
    let mut digests = Vec::new();
    assert!((ct.digest_rows)(&lists, &mut digests));
    assert_eq!(digests, [null_digest()]);
}

#[node(output = "total")]
fn total(values: Vec<i64>) -> i64 {
    values.iter().sum()
}

/// The vectorized kernel skips a row that holds a null where its parameter's type has
/// none, as it skips a null row: the node is not called, the result is null.
#[test]
fn a_kernel_skips_rows_holding_a_null_element() -> hypernodes::Result<()> {
    use arrow::array::RecordBatch;
    let values = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Int64, true)),
        OffsetBuffer::from_lengths([2, 2, 0]),
        Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), None])),
        Some(NullBuffer::from(vec![true, true, false])),
    );
    let batch = RecordBatch::try_from_iter([("values", Arc::new(values) as ArrayRef)]).unwrap();
    let out = hypernodes::ColumnarEngine::new().apply_to_batch(&Pipeline::new([total::node()]), &batch)?;
    assert_eq!(
        out.column_by_name("total").unwrap().as_ref(),
        &Int64Array::from(vec![Some(3), None, None]) as &dyn Array
    );
    Ok(())
}
