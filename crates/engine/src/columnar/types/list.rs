//! `Vec<T>` of a columnar type: Arrow lists.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, GenericListArray, ListArray};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field};

use super::Columnar;
use std::any::Any;

use crate::hash::{HashFn, StableHasher};

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
    fn value_hasher() -> Option<HashFn> {
        T::value_hasher().map(|_| hash_list::<T> as HashFn)
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
        let nulls = nulls_of(builder.validity);
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

/// Feeds a `Vec<T>` as its `StableHash` would, `T` hashing through its
/// [`Columnar::value_hasher`].
fn hash_list<T: Columnar>(v: &(dyn Any + Send + Sync), h: &mut StableHasher) -> bool {
    let (Some(v), Some(inner)) = (v.downcast_ref::<Vec<T>>(), T::value_hasher()) else {
        return false;
    };
    h.list_header(v.len());
    v.iter().all(|v| inner(v, h))
}

/// The null buffer of rows whose validity is `validity`: none when every row is valid.
pub(super) fn nulls_of(validity: Vec<bool>) -> Option<NullBuffer> {
    validity.contains(&false).then(|| NullBuffer::from(validity))
}
