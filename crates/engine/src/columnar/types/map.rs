//! `BTreeMap<K, V>` as a columnar type: an Arrow `Map` of `K` keys and `V` values.
//!
//! A row read from a column holds its entries in key order, as a `BTreeMap` does; of
//! two entries with one key (which Arrow allows), the later wins. Keys are the types a
//! map key is in practice ([`MapKey`]: strings, bytes, integers, `bool`, dates), never
//! null; values may be any columnar type (`Option<V>` to hold nulls).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Fields};
use chrono::NaiveDate;

use super::Columnar;
use super::list::nulls_of;
use crate::hash::StableHasher;

/// The types of map keys: ordered, never null.
#[doc(hidden)]
pub trait MapKey: Columnar + Ord {}

macro_rules! map_key {
    ($($t:ty),*) => {$(impl MapKey for $t {})*};
}
map_key!(
    String,
    bytes::Bytes,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    usize,
    bool,
    NaiveDate
);

/// Collects maps: the keys, the values, the offsets and the validity of each map.
pub struct MapCollector<K: Columnar, V: Columnar> {
    keys: K::Builder,
    values: V::Builder,
    offsets: Vec<i32>,
    validity: Vec<bool>,
}

/// The field of a map's entries: `keys` (never null) and `values`.
fn entries<K: Columnar, V: Columnar>() -> Arc<Field> {
    let fields = Fields::from(vec![
        Field::new("keys", K::data_type(), false),
        Field::new("values", V::data_type(), true),
    ]);
    Arc::new(Field::new("entries", DataType::Struct(fields), false))
}

/// The keys and values of `array` as `K`'s and `V`'s arrays.
#[inline]
fn children<K: Columnar, V: Columnar>(array: &MapArray) -> (&K::Array, &V::Array) {
    // Unreachable panics: `downcast` checked the children's types.
    (
        K::downcast(array.keys().as_ref()).expect("keys of the map's type"),
        V::downcast(array.values().as_ref()).expect("values of the map's type"),
    )
}

/// The entries of row `i` in key order, the later of two with one key only: their
/// positions in the children.
fn in_key_order<K: MapKey>(array: &MapArray, keys: &K::Array, i: usize) -> Vec<usize> {
    let offsets = array.value_offsets();
    let mut entries: Vec<(K, usize)> = (offsets[i] as usize..offsets[i + 1] as usize)
        .map(|j| (K::value(keys, j), j))
        .collect();
    // By key, the later first, so that `dedup_by` keeps it.
    entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    entries.into_iter().map(|(_, j)| j).collect()
}

impl<K: MapKey, V: Columnar> Columnar for BTreeMap<K, V> {
    type Array = MapArray;
    type Builder = MapCollector<K, V>;

    fn data_type() -> DataType {
        DataType::Map(entries::<K, V>(), false)
    }
    /// A map array whose keys `K` reads and whose values `V` reads.
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array
            .as_map_opt()
            .filter(|m| K::downcast(m.keys().as_ref()).is_some() && V::downcast(m.values().as_ref()).is_some())
    }
    fn value(array: &Self::Array, i: usize) -> Self {
        let (keys, values) = children::<K, V>(array);
        let offsets = array.value_offsets();
        (offsets[i] as usize..offsets[i + 1] as usize)
            .map(|j| (K::value(keys, j), V::value(values, j)))
            .collect()
    }
    #[inline]
    fn holds(array: &Self::Array, i: usize) -> bool {
        if array.is_null(i) {
            return false;
        }
        let (keys, values) = children::<K, V>(array);
        let offsets = array.value_offsets();
        (offsets[i] as usize..offsets[i + 1] as usize).all(|j| K::holds(keys, j) && V::holds(values, j))
    }
    #[inline]
    fn elements_hold(array: &Self::Array) -> bool {
        let (keys, values) = children::<K, V>(array);
        K::all_hold(keys) && V::all_hold(values)
    }
    /// The entries in key order, read in place, as the `BTreeMap`'s `StableHash` feeds
    /// them.
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        let (keys, values) = children::<K, V>(array);
        let order = in_key_order::<K>(array, keys, i);
        h.tag("map").len(order.len());
        order
            .into_iter()
            .all(|j| K::digest_row(keys, j, h) && V::digest_row(values, j, h))
    }
    fn builder(capacity: usize) -> Self::Builder {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        MapCollector {
            keys: K::builder(capacity),
            values: V::builder(capacity),
            offsets,
            validity: Vec::with_capacity(capacity),
        }
    }
    fn append(builder: &mut Self::Builder, value: &Self) {
        for (k, v) in value {
            K::append(&mut builder.keys, k);
            V::append(&mut builder.values, v);
        }
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
        let nulls = nulls_of(builder.validity);
        let field = entries::<K, V>();
        let DataType::Struct(fields) = field.data_type() else {
            unreachable!("the entries are a struct")
        };
        let entries = StructArray::new(
            fields.clone(),
            vec![K::finish(builder.keys), V::finish(builder.values)],
            None,
        );
        Arc::new(MapArray::new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(builder.offsets)),
            entries,
            nulls,
            false,
        ))
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.validity.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_entries_of_one_key_win_and_rows_read_in_key_order() {
        let keys = arrow::array::StringArray::from(vec!["b", "a", "b"]);
        let values = arrow::array::Int64Array::from(vec![1, 2, 3]);
        let field = entries::<String, i64>();
        let DataType::Struct(fields) = field.data_type() else {
            unreachable!()
        };
        let entries = StructArray::new(fields.clone(), vec![Arc::new(keys), Arc::new(values)], None);
        let map = MapArray::new(field, OffsetBuffer::from_lengths([3]), entries, None, false);
        let read = <BTreeMap<String, i64>>::value(&map, 0);
        assert_eq!(read, BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 3)]));
        let mut h = StableHasher::new();
        assert!(<BTreeMap<String, i64>>::digest_row(&map, 0, &mut h));
        assert_eq!(h.finish(), StableHasher::new().value(&read).finish());
    }
}
