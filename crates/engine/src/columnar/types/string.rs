//! `String` as a columnar type (Arrow `Utf8`), and the size of string data.

use std::sync::Arc;

use arrow::array::builder::ArrayBuilder;
use arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use arrow::datatypes::DataType;

use super::{Columnar, ViewArray};
use crate::hash::{StableHash, StableHasher};

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
    fn view_type() -> Option<DataType> {
        Some(DataType::Utf8View)
    }
    #[inline]
    fn view_value(array: ViewArray<'_>, i: usize) -> Option<Self> {
        match array {
            ViewArray::Utf8(a) => Some(a.value(i).to_string()),
            ViewArray::Binary(_) => None,
        }
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

/// The bytes of data `array` holds beyond its fixed-width parts: the characters of a
/// string array or the bytes of a binary array (sliced or not), in the plain or the view
/// layout (the sum of its rows' lengths), else 0. What a kernel sizes string and binary
/// outputs by.
#[doc(hidden)]
pub fn data_bytes(array: &dyn Array) -> usize {
    let span = |offsets: &[i32]| (offsets[offsets.len() - 1] - offsets[0]) as usize;
    // A view's low 32 bits are its row's length, whether inline or not.
    let lengths = |views: &[u128]| views.iter().map(|v| *v as u32 as usize).sum();
    if let Some(s) = array.as_string_opt::<i32>() {
        return span(s.value_offsets());
    }
    if let Some(b) = array.as_binary_opt::<i32>() {
        return span(b.value_offsets());
    }
    match array.data_type() {
        DataType::Utf8View => lengths(array.as_string_view().views()),
        DataType::BinaryView => lengths(array.as_binary_view().views()),
        _ => 0,
    }
}
