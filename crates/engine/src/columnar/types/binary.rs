//! Binary data as columnar types.
//!
//! | Rust | Arrow |
//! |---|---|
//! | `bytes::Bytes` | `Binary` (read from `LargeBinary`, `BinaryView` and `FixedSizeBinary` too; a `BinaryView` column in place) |
//! | `[u8; N]` (UUIDs, hashes) | `FixedSizeBinary(N)` (a column of another width is an error) |
//! | `Vec<u8>` | `List<UInt8>`, as every `Vec` (it is a list of numbers) |
//!
//! A `Bytes` value read from a column is a copy of the row's bytes (one allocation per
//! row); a `[u8; N]` is read without allocating.

use std::sync::Arc;

use arrow::array::builder::ArrayBuilder;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, FixedSizeBinaryArray, FixedSizeBinaryBuilder,
};
use arrow::datatypes::DataType;
use bytes::Bytes;

use super::fixed_list::width;
use super::{Columnar, ViewArray};
use crate::hash::{StableHash, StableHasher};

impl Columnar for Bytes {
    type Array = BinaryArray;
    type Builder = BinaryBuilder;

    fn data_type() -> DataType {
        DataType::Binary
    }
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array.as_binary_opt::<i32>()
    }
    fn value(array: &Self::Array, i: usize) -> Self {
        Bytes::copy_from_slice(array.value(i))
    }
    fn view_type() -> Option<DataType> {
        Some(DataType::BinaryView)
    }
    #[inline]
    fn view_value(array: ViewArray<'_>, i: usize) -> Option<Self> {
        match array {
            ViewArray::Binary(a) => Some(Bytes::copy_from_slice(a.value(i))),
            ViewArray::Utf8(_) => None,
        }
    }
    /// The row in place, as the `Bytes` hashes.
    #[inline]
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        h.binary(array.value(i));
        true
    }
    fn builder(capacity: usize) -> Self::Builder {
        BinaryBuilder::with_capacity(capacity, capacity * 16)
    }
    fn builder_for(capacity: usize, bytes: usize) -> Self::Builder {
        BinaryBuilder::with_capacity(capacity, bytes.max(capacity * 16))
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

impl<const N: usize> Columnar for [u8; N] {
    type Array = FixedSizeBinaryArray;
    type Builder = FixedSizeBinaryBuilder;

    fn data_type() -> DataType {
        DataType::FixedSizeBinary(width::<N>())
    }
    /// A `FixedSizeBinary(N)` array (one of another width is another type).
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array
            .as_fixed_size_binary_opt()
            .filter(|a| a.value_length() == width::<N>())
    }
    #[inline]
    fn value(array: &Self::Array, i: usize) -> Self {
        let mut out = [0; N];
        out.copy_from_slice(array.value(i));
        out
    }
    /// The row in place, as the array's `StableHash` (a list of `N` `u8`s) feeds it.
    #[inline]
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        h.list_header(N);
        array.value(i).iter().for_each(|b| b.stable_hash(h));
        true
    }
    fn builder(capacity: usize) -> Self::Builder {
        FixedSizeBinaryBuilder::with_capacity(capacity, width::<N>())
    }
    #[inline]
    fn append(builder: &mut Self::Builder, value: &Self) {
        // Unreachable error: the builder's width is `N`.
        builder.append_value(value).expect("a value of the builder's width")
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
