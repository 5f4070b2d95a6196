//! Fixed-size arrays of numbers, `[T; N]`, as Arrow `FixedSizeList(T, N)` (embeddings:
//! `[f32; 768]`). `[u8; N]` is binary data instead (see `binary`).
//!
//! A `[T; N]` hashes as the list of its `N` elements (the `StableHash` of every array),
//! so it has the digest of the `Vec<T>` and `&[T]` of the same elements. A node over
//! long vectors reads them best as `&[f32]`: a `FixedSizeList` column is read as a list
//! over the same values (only offsets are made), and each row is a slice of the flat
//! buffer; a `[f32; N]` parameter is a copy of the row.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray};
use arrow::datatypes::{DataType, Field};

use super::Columnar;
use super::list::nulls_of;
use crate::hash::StableHasher;

/// The element types of the `[T; N]` that are fixed-size lists: the numbers but `u8`,
/// `bool`. (A trait of this crate, so that `[u8; N]` can be binary data.)
#[doc(hidden)]
pub trait ListElement: Columnar + Copy + Default {}

macro_rules! list_element {
    ($($t:ty),*) => {$(impl ListElement for $t {})*};
}
list_element!(i8, i16, i32, i64, u16, u32, u64, f32, f64, bool);

/// Collects fixed-size lists: the elements and the validity of each list.
pub struct FixedListCollector<T: Columnar> {
    child: T::Builder,
    validity: Vec<bool>,
}

/// The width of a `[T; N]` as Arrow stores it.
///
/// # Panics
///
/// For `N` beyond `i32::MAX`, which no Arrow column holds.
pub(super) fn width<const N: usize>() -> i32 {
    i32::try_from(N).expect("an Arrow fixed-size type is at most i32::MAX wide")
}

/// The elements of `array` as `T`'s array.
#[inline]
fn elements<T: Columnar>(array: &FixedSizeListArray) -> &T::Array {
    // Unreachable panic: `downcast` checked the elements' type.
    T::downcast(array.values().as_ref()).expect("elements of the list's type")
}

/// Row `i` of `array` read from its elements.
#[inline]
fn row<T: ListElement, const N: usize>(child: &T::Array, i: usize) -> [T; N] {
    std::array::from_fn(|j| T::value(child, i * N + j))
}

impl<T: ListElement, const N: usize> Columnar for [T; N] {
    type Array = FixedSizeListArray;
    type Builder = FixedListCollector<T>;

    fn data_type() -> DataType {
        DataType::FixedSizeList(Arc::new(Field::new_list_field(T::data_type(), true)), width::<N>())
    }
    /// A fixed-size list of `N` elements that `T` reads.
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array
            .as_fixed_size_list_opt()
            .filter(|a| a.value_length() == width::<N>() && T::downcast(a.values().as_ref()).is_some())
    }
    #[inline]
    fn value(array: &Self::Array, i: usize) -> Self {
        row::<T, N>(elements::<T>(array), i)
    }
    #[inline]
    fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
        // The elements are found once, not per row.
        let child = elements::<T>(array);
        (0..array.len()).map(move |i| row::<T, N>(child, i))
    }
    #[inline]
    fn holds(array: &Self::Array, i: usize) -> bool {
        let child = elements::<T>(array);
        !array.is_null(i) && (i * N..(i + 1) * N).all(|j| T::holds(child, j))
    }
    #[inline]
    fn elements_hold(array: &Self::Array) -> bool {
        T::all_hold(elements::<T>(array))
    }
    /// The elements in place, as the array's `StableHash` (a list) feeds them.
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        let child = elements::<T>(array);
        h.list_header(N);
        (i * N..(i + 1) * N).all(|j| T::digest_row(child, j, h))
    }
    fn builder(capacity: usize) -> Self::Builder {
        FixedListCollector {
            child: T::builder(capacity * N),
            validity: Vec::with_capacity(capacity),
        }
    }
    #[inline]
    fn append(builder: &mut Self::Builder, value: &Self) {
        T::append_all(&mut builder.child, value);
        builder.validity.push(true);
    }
    fn append_null(builder: &mut Self::Builder) {
        // A null list still takes its `N` places.
        (0..N).for_each(|_| T::append(&mut builder.child, &T::default()));
        builder.validity.push(false);
    }
    fn finish(builder: Self::Builder) -> ArrayRef {
        let nulls = nulls_of(builder.validity);
        let field = Arc::new(Field::new_list_field(T::data_type(), true));
        Arc::new(FixedSizeListArray::new(
            field,
            width::<N>(),
            T::finish(builder.child),
            nulls,
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
    fn arrays_round_trip_and_sliced_arrays_read_their_rows() {
        let values = [[1.5_f32, -2.0], [0.0, f32::MAX], [3.0, 4.0]];
        let mut b = <[f32; 2]>::builder(3);
        <[f32; 2]>::append_all(&mut b, &values);
        let array = <[f32; 2]>::finish(b);
        assert_eq!(array.data_type(), &<[f32; 2]>::data_type());
        let typed = <[f32; 2]>::downcast(array.as_ref()).unwrap();
        assert_eq!(<[f32; 2]>::iter(typed).collect::<Vec<_>>(), values);
        let sliced = array.slice(1, 2);
        let typed = <[f32; 2]>::downcast(sliced.as_ref()).unwrap();
        assert_eq!(<[f32; 2]>::value(typed, 1), [3.0, 4.0]);
        // Another width or element type is another type.
        assert!(<[f32; 3]>::downcast(array.as_ref()).is_none());
        assert!(<[f64; 2]>::downcast(array.as_ref()).is_none());
    }
}
