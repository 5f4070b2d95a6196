//! Dictionary-encoded columns (what Parquet writers make of low-cardinality strings),
//! kept packed until a node reads them.
//!
//! An input column that is a dictionary enters a run with only its values converted to
//! the Arrow type its node reads ([`pack`]). A node whose only column argument is such a
//! dictionary runs over the dictionary's values once and its results are taken by key
//! ([`over_values`]): on 1,000,000 rows of 12 categories, 12 calls and one gather instead
//! of a copy of every row's string and 1,000,000 calls. Every other reader gets the column
//! unpacked to its values ([`unpack`]), as Arrow's cast does.
//!
//! A column in a view layout (`Utf8View`, `BinaryView`) read as its plain type (`Utf8`,
//! `Binary`) is kept so the same way: a lifted kernel reads its rows in place (see
//! [`Input`](super::types::Input)), every other reader gets it converted ([`unpack`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array, downcast_integer_array, new_null_array};
use arrow::compute::{cast, concat, take};
use arrow::datatypes::ArrowNativeType;
use arrow::datatypes::{DataType, UInt32Type};
use arrow::error::ArrowError;

use super::types::{cast_exact, plain_type};

/// `array` still dictionary-encoded, with its values converted exactly to `to`; `None`
/// when it is not a dictionary, when `to` is nested (lists and structs are read through
/// their own layouts), or when a value does not convert (then the caller converts the
/// whole column, whose error names the row: an unused value that does not convert is no
/// error).
///
/// A column in a view layout whose plain layout is `to` is kept as it is.
pub(super) fn pack(array: &ArrayRef, to: &DataType) -> Option<ArrayRef> {
    if plain_type(array.data_type()).as_ref() == Some(to) {
        return Some(array.clone());
    }
    let dict = array.as_any_dictionary_opt()?;
    if to.is_nested() {
        return None;
    }
    let values = cast_exact(dict.values(), to).ok()?;
    Some(dict.with_values(values))
}

/// Whether `array` is dictionary-encoded or in a view layout.
pub(super) fn is_packed(array: &dyn Array) -> bool {
    matches!(array.data_type(), DataType::Dictionary(..)) || plain_type(array.data_type()).is_some()
}

/// `array` as its values' type: a dictionary unpacked (every row's value gathered), a
/// view layout converted to its plain one, any other array as it is.
///
/// # Errors
///
/// When the values gathered outgrow one array (over 2 GiB of strings).
pub(super) fn unpack(array: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    match array.data_type() {
        DataType::Dictionary(_, values) => cast(array, values),
        view => match plain_type(view) {
            Some(plain) => cast(array, &plain),
            None => Ok(array.clone()),
        },
    }
}

/// The key at `row` of a dictionary's `keys` (`None` when null).
pub(super) fn key_at(keys: &dyn Array, row: usize) -> Option<usize> {
    downcast_integer_array!(
        keys => keys.is_valid(row).then(|| keys.value(row).as_usize()),
        _ => None,
    )
}

/// [`unpack`] of column `name`, its error one naming the column.
pub(super) fn unpack_column(name: &str, array: &ArrayRef) -> crate::error::Result<ArrayRef> {
    unpack(array).map_err(|e| crate::error::Error::Arrow {
        context: format!("Cannot unpack the column '{name}'").into(),
        source: Box::new(e),
    })
}

/// The outputs of `call` over `rows` rows of `args` computed from the dictionary's
/// values: when the only argument that is not `constant` is a dictionary with fewer
/// values than `rows`, `call` runs once over the values (and over one null more where a
/// key is null, so a node reading an `Option` gets its own result for a null row), and
/// each output is gathered by key, keeping its Arrow type.
///
/// `None` when this does not apply, or when `call` fails on the values: a failing value
/// may be one no row uses, and the first failing row is what an error names, so the
/// caller then calls over the rows.
pub(super) fn over_values<E>(
    args: &[ArrayRef],
    constant: &[bool],
    rows: usize,
    call: impl FnOnce(&[ArrayRef], usize) -> Result<Vec<ArrayRef>, E>,
) -> Option<Vec<ArrayRef>> {
    let mut columns = (0..args.len()).filter(|&k| !constant[k]);
    let (Some(k), None) = (columns.next(), columns.next()) else {
        return None;
    };
    let dict = args[k].as_any_dictionary_opt()?;
    let keys = dict.keys();
    let mut values = dict.values().clone();
    let distinct = values.len();
    let null_keys = keys.null_count() > 0;
    if distinct + usize::from(null_keys) >= rows {
        return None;
    }
    if null_keys {
        values = concat(&[values.as_ref(), new_null_array(values.data_type(), 1).as_ref()]).ok()?;
    }
    let mut over = args.to_vec();
    over[k] = values;
    let outputs = call(&over, over[k].len()).ok()?;
    // A null key reads the result of the null value appended last.
    let null_result = null_keys && outputs.iter().any(|o| o.is_valid(distinct));
    let index: Option<ArrayRef> = match null_result {
        false => None,
        true => {
            let keys = cast(keys, &DataType::UInt32).ok()?;
            let keys = keys.as_primitive::<UInt32Type>();
            let index: UInt32Array = keys.iter().map(|k| Some(k.unwrap_or(distinct as u32))).collect();
            Some(Arc::new(index))
        }
    };
    let index = index.as_deref().unwrap_or(keys);
    outputs.iter().map(|o| take(o.as_ref(), index, None).ok()).collect()
}

#[cfg(test)]
mod tests {
    use arrow::array::{DictionaryArray, Int8Array, StringArray};
    use arrow::datatypes::Int8Type;

    use super::*;

    fn strings(a: &ArrayRef) -> Vec<Option<&str>> {
        a.as_string::<i32>().iter().collect()
    }

    #[test]
    fn a_call_over_the_values_is_gathered_by_key() {
        let dict: ArrayRef = Arc::new(DictionaryArray::<Int8Type>::new(
            Int8Array::from(vec![Some(1), None, Some(1), Some(0)]),
            Arc::new(StringArray::from(vec!["a", "b"])),
        ));
        let upper = |args: &[ArrayRef], n: usize| -> Result<Vec<ArrayRef>, ()> {
            assert_eq!(args[0].len(), n);
            let s: StringArray = args[0]
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_uppercase))
                .collect();
            Ok(vec![Arc::new(s)])
        };
        let out = over_values(std::slice::from_ref(&dict), &[false], 4, upper).unwrap();
        assert_eq!(strings(&out[0]), [Some("B"), None, Some("B"), Some("A")]);
        // A null row gets the call's result for a null.
        let label = |args: &[ArrayRef], _: usize| -> Result<Vec<ArrayRef>, ()> {
            let s: StringArray = args[0]
                .as_string::<i32>()
                .iter()
                .map(|v| Some(v.unwrap_or("none")))
                .collect();
            Ok(vec![Arc::new(s)])
        };
        let out = over_values(std::slice::from_ref(&dict), &[false], 4, label).unwrap();
        assert_eq!(strings(&out[0]), [Some("b"), Some("none"), Some("b"), Some("a")]);
        // Not when the call fails, nor when there are as many values as rows.
        assert!(
            over_values(
                std::slice::from_ref(&dict),
                &[false],
                4,
                |_, _| Err::<Vec<ArrayRef>, _>(())
            )
            .is_none()
        );
        assert!(over_values(&[dict.slice(0, 2)], &[false], 2, upper).is_none());
        assert_eq!(
            strings(&unpack(&dict).unwrap()),
            [Some("b"), None, Some("b"), Some("a")]
        );
    }
}
