//! Arrow's view layouts of strings and bytes (`Utf8View`, `BinaryView`), which `String`
//! and `bytes::Bytes` (their options, and `&str` parameters) read in place.
//!
//! A view column keeps each row as a 16-byte view: a short value (12 bytes or fewer)
//! inline, a longer one as a pointer into one of several data buffers. Its rows are
//! therefore not one contiguous run of characters as a `Utf8` column's are, and a
//! `StringArray` cannot be made of them without copying every row. A kernel reads such a
//! column row by row where it is ([`Input::View`]), in a loop of its own, so that the loop
//! over `Utf8` columns stays as it is.

use arrow::array::{Array, AsArray, BinaryViewArray, StringViewArray};
use arrow::datatypes::DataType;

use super::Columnar;

/// A column in a view layout.
#[derive(Clone, Copy, Debug)]
pub enum ViewArray<'a> {
    /// `Utf8View`.
    Utf8(&'a StringViewArray),
    /// `BinaryView`.
    Binary(&'a BinaryViewArray),
}

impl<'a> ViewArray<'a> {
    /// `array` as a view column, or `None` when it is in another layout.
    pub fn of(array: &'a dyn Array) -> Option<ViewArray<'a>> {
        match array.data_type() {
            DataType::Utf8View => Some(ViewArray::Utf8(array.as_string_view())),
            DataType::BinaryView => Some(ViewArray::Binary(array.as_binary_view())),
            _ => None,
        }
    }

    /// The column as an Arrow array.
    pub fn array(self) -> &'a dyn Array {
        match self {
            ViewArray::Utf8(a) => a,
            ViewArray::Binary(a) => a,
        }
    }
}

/// The plain layout of a view type (`Utf8` of `Utf8View`, `Binary` of `BinaryView`);
/// `None` for other types.
pub fn plain_type(view: &DataType) -> Option<DataType> {
    match view {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        _ => None,
    }
}

/// A kernel's argument of columnar type `T`: its own array, or a column in `T`'s view
/// layout (see [`Columnar::view_type`]).
#[derive(Debug)]
pub enum Input<'a, A> {
    /// An array of `T::Array`.
    Plain(&'a A),
    /// A column in the view layout `T` reads in place.
    View(ViewArray<'a>),
}

impl<A> Clone for Input<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Input<'_, A> {}

impl<'a, A: Array> Input<'a, A> {
    /// `array` as an argument of type `T`: in place when it is in `T`'s view layout, else
    /// `T`'s own array; `None` when it is neither.
    pub fn of<T: Columnar<Array = A>>(array: &'a dyn Array) -> Option<Input<'a, A>> {
        match ViewArray::of(array) {
            Some(view) if T::view_type().as_ref() == Some(array.data_type()) => Some(Input::View(view)),
            _ => T::downcast(array).map(Input::Plain),
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Input::Plain(a) => a.len(),
            Input::View(v) => v.array().len(),
        }
    }

    /// Whether the argument has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` holds a value of `T` (see [`Columnar::holds`]).
    #[inline]
    pub fn holds<T: Columnar<Array = A>>(&self, i: usize) -> bool {
        match self {
            Input::Plain(a) => T::holds(a, i),
            Input::View(v) => T::NULLABLE || v.array().is_valid(i),
        }
    }
}
