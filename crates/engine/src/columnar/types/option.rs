//! `Option<T>` of a columnar type: nulls are its `None`s.

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;

use super::{Columnar, ViewArray};
use std::any::Any;

use crate::hash::{HashFn, StableHasher};

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
    fn view_type() -> Option<DataType> {
        T::view_type()
    }
    #[inline]
    fn view_value(array: ViewArray<'_>, i: usize) -> Option<Self> {
        match array.array().is_null(i) {
            true => Some(None),
            false => T::view_value(array, i).map(Some),
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
    fn value_hasher() -> Option<HashFn> {
        T::value_hasher().map(|_| hash_option::<T> as HashFn)
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

/// Feeds an `Option<T>` as its `StableHash` would, `T` hashing through its
/// [`Columnar::value_hasher`].
fn hash_option<T: Columnar>(v: &(dyn Any + Send + Sync), h: &mut StableHasher) -> bool {
    let (Some(v), Some(inner)) = (v.downcast_ref::<Option<T>>(), T::value_hasher()) else {
        return false;
    };
    h.option_header(v.is_some());
    v.as_ref().is_none_or(|v| inner(v, h))
}
