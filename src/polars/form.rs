//! The Arrow types Polars has no type for, and the forms they cross in.
//!
//! | Arrow (the engine's) | Polars | back into a node |
//! |---|---|---|
//! | `Utf8`, `LargeUtf8` (`String`) | `String`, crossing as `Utf8View` (Polars' own layout, so it converts nothing) | as `&str` or `String` |
//! | `FixedSizeBinary(N)` (`[u8; N]`) | `Binary` (Polars has no fixed-width binary) | as `[u8; N]` when every value is `N` bytes long |
//! | `FixedSizeList(T, N)` (`[T; N]`) | `Array(T, N)` | as it is |
//! | `Map(K, V)` (`BTreeMap<K, V>`) | `List(Struct{key: K, value: V})`, the entries in order | a list of two-field structs, as a map (keys never null) |
//! | `Interval(MonthDayNano)` | none (Polars' `Duration` holds no months) | an output of the type is refused before anything runs |

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, ListArray, MapArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};

/// The type of a column of `data_type` in Polars' form, or why Polars cannot hold it.
pub(super) fn polars_form(data_type: &DataType) -> Result<DataType, String> {
    let field = |f: &FieldRef| -> Result<FieldRef, String> {
        Ok(Arc::new(f.as_ref().clone().with_data_type(polars_form(f.data_type())?)))
    };
    Ok(match data_type {
        DataType::FixedSizeBinary(_) => DataType::Binary,
        // Polars keeps strings as views: given views, it takes them as they are.
        DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
        DataType::Interval(_) => {
            return Err(format!(
                "{data_type}, which Polars has no type for (its Duration holds no months)"
            ));
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                return Ok(data_type.clone());
            };
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(entry_fields(kv, polars_form)?),
                true,
            )))
        }
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect::<Result<Fields, String>>()?),
        DataType::List(f) => DataType::List(field(f)?),
        DataType::LargeList(f) => DataType::LargeList(field(f)?),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f)?, *n),
        other => other.clone(),
    })
}

/// A map's entry fields renamed `key` and `value` (the names pyarrow, DuckDB and Polars
/// give them), their types through `form`.
fn entry_fields(kv: &Fields, form: impl Fn(&DataType) -> Result<DataType, String>) -> Result<Fields, String> {
    Ok(kv
        .iter()
        .zip(["key", "value"])
        .map(|(f, name)| Ok(Field::new(name, form(f.data_type())?, f.is_nullable())))
        .collect::<Result<Vec<_>, String>>()?
        .into())
}

/// `array` in Polars' form ([`polars_form`]): a map as the list of its entries, a
/// fixed-width binary as binary.
pub(super) fn to_polars_form(array: &ArrayRef) -> Result<ArrayRef, String> {
    let to = polars_form(array.data_type())?;
    if &to == array.data_type() {
        return Ok(array.clone());
    }
    let with =
        |f: &FieldRef, values: &ArrayRef| Arc::new(f.as_ref().clone().with_data_type(values.data_type().clone()));
    Ok(match array.data_type() {
        DataType::FixedSizeBinary(_) | DataType::Utf8 | DataType::LargeUtf8 => {
            arrow::compute::cast(array, &to).map_err(|e| e.to_string())?
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let (keys, values) = (to_polars_form(map.keys())?, to_polars_form(map.values())?);
            let DataType::List(item) = &to else {
                unreachable!("a map's Polars form is a list")
            };
            let DataType::Struct(fields) = item.data_type() else {
                unreachable!("of structs")
            };
            let entries = StructArray::try_new(fields.clone(), vec![keys, values], None).map_err(|e| e.to_string())?;
            Arc::new(ListArray::new(
                item.clone(),
                map.offsets().clone(),
                Arc::new(entries),
                map.nulls().cloned(),
            ))
        }
        DataType::Struct(_) => {
            let (fields, columns, nulls) = array.as_struct().clone().into_parts();
            let columns = columns.iter().map(to_polars_form).collect::<Result<Vec<_>, _>>()?;
            let fields: Fields = fields.iter().zip(&columns).map(|(f, c)| with(f, c)).collect();
            Arc::new(StructArray::new(fields, columns, nulls))
        }
        DataType::List(_) => list_form(array.as_list::<i32>())?,
        DataType::LargeList(_) => list_form(array.as_list::<i64>())?,
        DataType::FixedSizeList(_, _) => {
            let (field, size, values, nulls) = array.as_fixed_size_list().clone().into_parts();
            let values = to_polars_form(&values)?;
            Arc::new(FixedSizeListArray::new(with(&field, &values), size, values, nulls))
        }
        _ => array.clone(),
    })
}

/// A list with its elements in Polars' form.
fn list_form<O: arrow::array::OffsetSizeTrait>(list: &GenericListArray<O>) -> Result<ArrayRef, String> {
    let (field, offsets, values, nulls) = list.clone().into_parts();
    let values = to_polars_form(&values)?;
    let field = Arc::new(field.as_ref().clone().with_data_type(values.data_type().clone()));
    Ok(Arc::new(GenericListArray::<O>::new(field, offsets, values, nulls)))
}

/// Whether `found` is Polars' form of a map of type `wanted`: a list of structs of two
/// fields.
pub(super) fn is_map_form(found: &DataType, wanted: &DataType) -> bool {
    matches!(
        (found, wanted),
        (DataType::List(f) | DataType::LargeList(f), DataType::Map(_, _))
            if matches!(f.data_type(), DataType::Struct(kv) if kv.len() == 2)
    )
}

/// A column in Polars' form of a map (a list of two-field structs) read as the Arrow
/// map of type `wanted`, over the same entries: the keys and values are converted as
/// any map's are when a node reads it.
///
/// # Errors
///
/// When a key or an entry is null, or a list holds more entries than a map does.
pub(super) fn from_map_form(array: &ArrayRef, wanted: &DataType) -> Result<ArrayRef, String> {
    let DataType::Map(to, _) = wanted else {
        return Ok(array.clone());
    };
    // The entries of the rows, and offsets from 0 into them (a map's are `i32`).
    let (starts, entries, nulls): (Vec<i64>, ArrayRef, _) = match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let starts = list.offsets().iter().map(|&o| i64::from(o)).collect();
            (starts, list.values().clone(), list.nulls().cloned())
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            (list.offsets().to_vec(), list.values().clone(), list.nulls().cloned())
        }
        _ => return Ok(array.clone()),
    };
    let (first, last) = (starts[0], starts[starts.len() - 1]);
    let offsets = starts
        .iter()
        .map(|&o| i32::try_from(o - first).map_err(|_| "holds more entries than a map column can".to_string()))
        .collect::<Result<Vec<i32>, String>>()?;
    let offsets = OffsetBuffer::new(offsets.into());
    let entries = entries.slice(first as usize, (last - first) as usize);
    let entries = entries.as_struct();
    if entries.null_count() > 0 {
        return Err("holds a null entry, which a map cannot".into());
    }
    let DataType::Struct(names) = to.data_type() else {
        return Ok(array.clone());
    };
    let columns = entries.columns().to_vec();
    if columns[0].null_count() > 0 {
        return Err("holds a null key, which a map cannot".into());
    }
    let fields = Fields::from(vec![
        Field::new(names[0].name(), columns[0].data_type().clone(), false),
        Field::new(names[1].name(), columns[1].data_type().clone(), true),
    ]);
    let entries = StructArray::try_new(fields.clone(), columns, None).map_err(|e| e.to_string())?;
    let field = Arc::new(Field::new(to.name(), DataType::Struct(fields), false));
    let map = MapArray::try_new(field, offsets, entries, nulls, false).map_err(|e| e.to_string())?;
    Ok(Arc::new(map))
}
