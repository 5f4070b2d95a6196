//! The two forms of a [`columnar_struct!`](crate::columnar_struct) column's type: the
//! Arrow form, where every field has the Arrow type its Rust type has alone (what the
//! column is written as), and the form serde_arrow reads rows from.
//!
//! - Maps: serde_arrow traces a `BTreeMap<K, V>` as a `Map` of `key` and `value` with the
//!   key and value types of struct fields (`String` as `LargeUtf8`); [`conform`] gives it
//!   the form the map has alone (`keys`, never null, and `values`, of the types `K` and
//!   `V` have alone: `String` as `Utf8`, `Vec` as `List`). serde_arrow writes and reads
//!   either form.
//! - `[u8; N]`: serde_arrow writes a `FixedSizeBinary(N)` field from the array, but reads
//!   one only as bytes, while serde reads an array as a tuple; [`readable`] shows serde_arrow
//!   such a column as the `FixedSizeList(UInt8, N)` over the same buffers, which it reads
//!   as a tuple.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, MapArray, OffsetSizeTrait, StructArray, UInt8Array,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};

/// `field` with every map in the form a `BTreeMap<K, V>` has alone.
pub(super) fn conform(field: &Field) -> Field {
    field.clone().with_data_type(conform_type(field.data_type(), false))
}

/// `data_type` with its maps in their own form; inside a map (`alone`), strings, bytes
/// and lists in the forms of the Rust types alone too.
fn conform_type(data_type: &DataType, alone: bool) -> DataType {
    let child = |f: &FieldRef| Arc::new(f.as_ref().clone().with_data_type(conform_type(f.data_type(), alone)));
    match data_type {
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| Arc::new(conform(f))).collect()),
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return data_type.clone();
            };
            let [key, value] = &kv.iter().collect::<Vec<_>>()[..] else {
                return data_type.clone();
            };
            let fields = Fields::from(vec![
                Field::new("keys", conform_type(key.data_type(), true), false),
                Field::new("values", conform_type(value.data_type(), true), true),
            ]);
            DataType::Map(Arc::new(Field::new("entries", DataType::Struct(fields), false)), false)
        }
        DataType::LargeUtf8 if alone => DataType::Utf8,
        DataType::LargeBinary if alone => DataType::Binary,
        DataType::List(f) | DataType::LargeList(f) if alone => {
            DataType::List(Arc::new(Field::new_list_field(conform_type(f.data_type(), true), true)))
        }
        DataType::FixedSizeList(f, n) if alone => DataType::FixedSizeList(
            Arc::new(Field::new_list_field(conform_type(f.data_type(), true), true)),
            *n,
        ),
        DataType::List(f) => DataType::List(child(f)),
        DataType::LargeList(f) => DataType::LargeList(child(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(child(f), *n),
        other => other.clone(),
    }
}

/// Whether `data_type` holds a `FixedSizeBinary` anywhere.
fn has_fixed_binary(data_type: &DataType) -> bool {
    match data_type {
        DataType::FixedSizeBinary(_) => true,
        DataType::Struct(fields) => fields.iter().any(|f| has_fixed_binary(f.data_type())),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => {
            has_fixed_binary(f.data_type())
        }
        _ => false,
    }
}

/// `array` as serde_arrow reads it: every `FixedSizeBinary(N)` in it as the
/// `FixedSizeList(UInt8, N)` over the same buffers (nothing is copied).
pub(super) fn readable(array: ArrayRef) -> ArrayRef {
    if !has_fixed_binary(array.data_type()) {
        return array;
    }
    let with_values =
        |f: &FieldRef, values: &ArrayRef| Arc::new(f.as_ref().clone().with_data_type(values.data_type().clone()));
    match array.data_type() {
        DataType::FixedSizeBinary(_) => {
            let (size, values, nulls) = array.as_fixed_size_binary().clone().into_parts();
            let bytes = UInt8Array::new(ScalarBuffer::from(values), None);
            let field = Arc::new(Field::new_list_field(DataType::UInt8, false));
            Arc::new(FixedSizeListArray::new(field, size, Arc::new(bytes), nulls))
        }
        DataType::Struct(_) => {
            let (fields, columns, nulls) = array.as_struct().clone().into_parts();
            let columns: Vec<ArrayRef> = columns.into_iter().map(readable).collect();
            let fields: Fields = fields.iter().zip(&columns).map(|(f, c)| with_values(f, c)).collect();
            Arc::new(StructArray::new(fields, columns, nulls))
        }
        DataType::List(_) => list::<i32>(array.as_list().clone()),
        DataType::LargeList(_) => list::<i64>(array.as_list().clone()),
        DataType::FixedSizeList(_, _) => {
            let (field, size, values, nulls) = array.as_fixed_size_list().clone().into_parts();
            let values = readable(values);
            Arc::new(FixedSizeListArray::new(
                with_values(&field, &values),
                size,
                values,
                nulls,
            ))
        }
        DataType::Map(_, _) => {
            let (field, offsets, entries, nulls, ordered) = array.as_map().clone().into_parts();
            let entries = readable(Arc::new(entries));
            let field = with_values(&field, &entries);
            Arc::new(MapArray::new(
                field,
                offsets,
                entries.as_struct().clone(),
                nulls,
                ordered,
            ))
        }
        _ => array,
    }
}

/// A list with its elements [`readable`].
fn list<O: OffsetSizeTrait>(array: GenericListArray<O>) -> ArrayRef {
    let (field, offsets, values, nulls) = array.into_parts();
    let values = readable(values);
    let field = Arc::new(field.as_ref().clone().with_data_type(values.data_type().clone()));
    Arc::new(GenericListArray::<O>::new(field, offsets, values, nulls))
}
