//! Tests of the lifted kernels.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, StringArray};
use arrow::datatypes::{Int64Type, UInt64Type};

use super::*;

fn kernel_of(k: Option<Box<dyn Any + Send + Sync>>) -> Box<Kernel> {
    k.expect("a kernel").downcast::<Kernel>().expect("a Kernel")
}

#[test]
fn lifts_a_function_over_arrays_with_constants_and_nulls() {
    fn label(text: &str, n: i64) -> usize {
        text.len() * n as usize
    }
    let k =
        kernel_of((&&KernelProbe::<(Str, Own<i64>), One<usize>, _>::new(|t: &str, n: i64| Ok(label(t, n)))).kernel());
    let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None, Some("abcd")]));
    let n: ArrayRef = Arc::new(Int64Array::from(vec![3]));
    let out = k
        .call(&KernelArgs {
            args: &[texts, n],
            rows: 3,
        })
        .unwrap();
    let out = out[0].as_primitive::<UInt64Type>();
    assert_eq!(out.iter().collect::<Vec<_>>(), [Some(6), None, Some(12)]);
}

#[test]
fn slice_parameters_borrow_primitive_lists_and_collect_others() {
    use arrow::array::{ListArray, UInt64Array};
    use arrow::buffer::OffsetBuffer;
    use arrow::datatypes::Field;

    let values = UInt64Array::from(vec![1, 2, 3, 4, 5]);
    assert!(matches!(
        <usize as Columnar>::slice(&values, 1..3),
        Cow::Borrowed(&[2, 3])
    ));
    let words = StringArray::from(vec!["a", "b"]);
    assert!(matches!(<String as Columnar>::slice(&words, 0..2), Cow::Owned(ref v) if v == &["a", "b"]));

    let list = |values: ArrayRef| {
        let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        Arc::new(ListArray::new(
            field,
            OffsetBuffer::from_lengths([2, 0, 3]),
            values,
            None,
        )) as ArrayRef
    };
    let k = kernel_of(
        (&&KernelProbe::<(Slice<usize>,), One<usize>, _>::new(|xs: Cow<'_, [usize]>| Ok(xs.iter().sum()))).kernel(),
    );
    let lists = list(Arc::new(values));
    let out = k
        .call(&KernelArgs {
            args: std::slice::from_ref(&lists),
            rows: 3,
        })
        .unwrap();
    assert_eq!(out[0].as_primitive::<UInt64Type>().values(), &[3, 0, 12]);
    // A sliced list array reads the right rows.
    let out = k
        .call(&KernelArgs {
            args: &[lists.slice(1, 2)],
            rows: 2,
        })
        .unwrap();
    assert_eq!(out[0].as_primitive::<UInt64Type>().values(), &[0, 12]);
    let k = kernel_of(
        (&&KernelProbe::<(Slice<String>,), One<String>, _>::new(|xs: Cow<'_, [String]>| Ok(xs.join("+")))).kernel(),
    );
    let words: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"]));
    let out = k
        .call(&KernelArgs {
            args: &[list(words)],
            rows: 3,
        })
        .unwrap();
    let out: Vec<&str> = out[0].as_string::<i32>().iter().flatten().collect();
    assert_eq!(out, ["a+b", "", "c+d+e"]);
}

#[test]
fn reports_the_failing_and_the_panicking_row() {
    let k = kernel_of(
        (&&KernelProbe::<(Own<i64>,), One<i64>, _>::new(|x: i64| if x == 2 { Err("two".into()) } else { Ok(x) }))
            .kernel(),
    );
    let xs: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    let err = k
        .call(&KernelArgs {
            args: std::slice::from_ref(&xs),
            rows: 3,
        })
        .unwrap_err();
    assert_eq!(err.row, Some(1));
    assert!(matches!(err.kind, RowErrorKind::Failed(ref e) if e.to_string() == "two"));
    let k = kernel_of(
        (&&KernelProbe::<(Own<i64>,), One<i64>, _>::new(|x: i64| if x == 3 { panic!("three") } else { Ok(x) }))
            .kernel(),
    );
    let err = k.call(&KernelArgs { args: &[xs], rows: 3 }).unwrap_err();
    assert_eq!(err.row, Some(2));
    assert!(matches!(err.kind, RowErrorKind::Panicked(ref m) if m == "three"));
}

#[test]
#[allow(clippy::needless_borrow)] // the double borrow is how the probe picks
fn tuples_become_several_arrays_and_other_types_get_no_kernel() {
    let k = kernel_of((&&KernelProbe::<(Own<i64>,), Many<(i64, i64)>, _>::new(|x: i64| Ok((x / 2, x % 2)))).kernel());
    let xs: ArrayRef = Arc::new(Int64Array::from(vec![5]));
    let out = k.call(&KernelArgs { args: &[xs], rows: 1 }).unwrap();
    assert_eq!(out[0].as_primitive::<Int64Type>().value(0), 2);
    assert_eq!(out[1].as_primitive::<Int64Type>().value(0), 1);
    #[derive(Clone)]
    struct Model;
    let none = (&&KernelProbe::<(Own<Model>,), One<i64>, _>::new(|_m: Model| Ok::<i64, BoxError>(1))).kernel();
    assert!(none.is_none());
}

#[test]
fn view_columns_are_read_in_place_beside_plain_ones() {
    use arrow::array::{BinaryViewArray, StringViewArray};
    use bytes::Bytes;

    let long = "more than twelve bytes, out of line";
    let views: ArrayRef = Arc::new(StringViewArray::from(vec![Some("ab"), None, Some(long), Some("")]));
    let plain: ArrayRef = Arc::new(StringArray::from(vec!["w", "x", "y", "z"]));
    let k = kernel_of(
        (&&KernelProbe::<(Str, Own<Option<String>>, Own<i64>), One<String>, _>::new(
            |a: &str, b: Option<String>, n: i64| Ok(format!("{a}.{}.{n}", b.unwrap_or_default())),
        ))
            .kernel(),
    );
    let n: ArrayRef = Arc::new(Int64Array::from(vec![7]));
    let out = k
        .call(&KernelArgs {
            args: &[plain.clone(), views.clone(), n],
            rows: 4,
        })
        .unwrap();
    let rows: Vec<Option<&str>> = out[0].as_string::<i32>().iter().collect();
    let expected = format!("y.{long}.7");
    assert_eq!(
        rows,
        [Some("w.ab.7"), Some("x..7"), Some(expected.as_str()), Some("z..7")]
    );
    // A `&str` of a view column skips its nulls, and is the row where the column holds it.
    let k = kernel_of((&&KernelProbe::<(Str,), One<u64>, _>::new(|a: &str| Ok(a.as_ptr() as u64))).kernel());
    let sliced = views.slice(1, 3);
    let out = k
        .call(&KernelArgs {
            args: std::slice::from_ref(&sliced),
            rows: 3,
        })
        .unwrap();
    let v = sliced.as_string_view();
    assert_eq!(
        out[0].as_primitive::<UInt64Type>().iter().collect::<Vec<_>>(),
        [None, Some(v.value(1).as_ptr() as u64), Some(v.value(2).as_ptr() as u64)]
    );
    // `Bytes` from a `BinaryView`; a `String` parameter converts one (its own is `Utf8View`).
    let bytes: ArrayRef = Arc::new(BinaryViewArray::from(vec![Some(&b"abc"[..]), None]));
    let k = kernel_of((&&KernelProbe::<(Own<Bytes>,), One<i64>, _>::new(|b: Bytes| Ok(b.len() as i64))).kernel());
    let out = k
        .call(&KernelArgs {
            args: std::slice::from_ref(&bytes),
            rows: 2,
        })
        .unwrap();
    assert_eq!(
        out[0].as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
        [Some(3), None]
    );
    let k = kernel_of((&&KernelProbe::<(Own<String>,), One<i64>, _>::new(|s: String| Ok(s.len() as i64))).kernel());
    let err = k
        .call(&KernelArgs {
            args: &[bytes],
            rows: 2,
        })
        .unwrap_err();
    assert!(
        matches!(
            err.kind,
            RowErrorKind::WrongType {
                found: DataType::Binary,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn string_outputs_are_sized_by_the_bytes_of_plain_and_view_arguments() {
    use arrow::array::{BinaryViewArray, StringViewArray};

    let long = "more than twelve bytes, out of line";
    let rows = vec![Some("ab"), None, Some(long), Some(""), Some("twelve bytes")];
    let plain: ArrayRef = Arc::new(StringArray::from(rows.clone()));
    let views: ArrayRef = Arc::new(StringViewArray::from(rows));
    // 2 + 35 + 0 + 12 bytes, inline or not.
    assert_eq!(crate::columnar::types::data_bytes(plain.as_ref()), 49);
    assert_eq!(crate::columnar::types::data_bytes(views.as_ref()), 49);
    // A slice counts only its rows.
    assert_eq!(crate::columnar::types::data_bytes(views.slice(2, 2).as_ref()), 35);
    assert_eq!(crate::columnar::types::data_bytes(plain.slice(2, 2).as_ref()), 35);
    let bytes: ArrayRef = Arc::new(BinaryViewArray::from(vec![
        Some(&b"abc"[..]),
        None,
        Some(&[0_u8; 20][..]),
    ]));
    assert_eq!(crate::columnar::types::data_bytes(bytes.as_ref()), 23);
    assert_eq!(crate::columnar::types::data_bytes(&Int64Array::from(vec![1, 2])), 0);
}
