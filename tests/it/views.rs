//! Columns in Arrow's view layouts (`Utf8View`, `BinaryView`, what DataFusion and Polars
//! make of strings and bytes): `&str`, `String`, `bytes::Bytes` and their options read
//! them in place in the columnar engine (no `Utf8` or `Binary` array is built), with the
//! results, nulls and errors of a plain column, on both engines.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryViewArray, Int64Array, RecordBatch, StringArray, StringViewArray};
use arrow::datatypes::{DataType, Int64Type, UInt64Type};
use bytes::Bytes;
use hypernodes::prelude::*;
use hypernodes::{ColumnarEngine, Engine};

/// Short (inline in the view) and long (out of line, in a data buffer) strings, and nulls.
const ROWS: [Option<&str>; 6] = [
    Some("ab"),
    None,
    Some("a string of more than twelve bytes"),
    Some(""),
    None,
    Some("another long string, out of line"),
];

#[node(output = "shouted")]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[node(output = "label")]
fn label(text: Option<String>) -> String {
    text.unwrap_or_else(|| "none".into())
}

#[node(output = "length")]
fn length(text: String) -> i64 {
    text.len() as i64
}

#[node(output = "joined")]
fn join(text: &str, other: &str, n: i64) -> String {
    format!("{text}|{other}|{n}")
}

#[node(output = "size")]
fn size(payload: Bytes) -> i64 {
    payload.len() as i64
}

#[node(output = "size")]
fn maybe_size(payload: Option<Bytes>) -> i64 {
    payload.map_or(-1, |p| p.len() as i64)
}

#[node(output = "address")]
fn address(text: &str) -> u64 {
    text.as_ptr() as u64
}

fn views() -> ArrayRef {
    Arc::new(StringViewArray::from(ROWS.to_vec()))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

/// `pipeline` over `batch` on `engine`: the columnar engine's own `apply_to_batch`, or
/// the node engine through `apply_to_batch_on`.
fn apply(engine: &Arc<dyn Engine>, pipeline: &Pipeline, batch: &RecordBatch) -> hypernodes::Result<RecordBatch> {
    match engine.name() {
        "columnar" => ColumnarEngine::new().apply_to_batch(pipeline, batch),
        _ => ColumnarEngine::apply_to_batch_on(engine.clone(), pipeline, batch),
    }
}

/// Output `output` of `node` over column `name` on `engine`.
fn output(engine: &Arc<dyn Engine>, node: Node, name: &str, column: ArrayRef, output: &str) -> ArrayRef {
    let out = apply(engine, &Pipeline::new([node]), &batch(vec![(name, column.clone())])).unwrap();
    // The input column is kept as it came.
    assert_eq!(out.column_by_name(name).unwrap(), &column);
    out.column_by_name(output).unwrap().clone()
}

/// A `Utf8` output's rows (outputs keep their type).
fn strings(array: &ArrayRef) -> Vec<Option<&str>> {
    assert_eq!(array.data_type(), &DataType::Utf8);
    array.as_string::<i32>().iter().collect()
}

fn ints(array: &ArrayRef) -> Vec<Option<i64>> {
    array.as_primitive::<Int64Type>().iter().collect()
}

engine_test!(
    fn string_parameters_read_a_utf8_view_column_with_nulls(engine) {
        let shouted = output(&engine, shout::node(), "text", views(), "shouted");
        assert_eq!(
            strings(&shouted),
            [
                Some("AB"),
                None,
                Some("A STRING OF MORE THAN TWELVE BYTES"),
                Some(""),
                None,
                Some("ANOTHER LONG STRING, OUT OF LINE")
            ]
        );
        let labels = output(&engine, label::node(), "text", views(), "label");
        assert_eq!(
            strings(&labels),
            [
                Some("ab"),
                Some("none"),
                Some("a string of more than twelve bytes"),
                Some(""),
                Some("none"),
                Some("another long string, out of line")
            ]
        );
        let lengths = output(&engine, length::node(), "text", views(), "length");
        assert_eq!(ints(&lengths), [Some(2), None, Some(34), Some(0), None, Some(32)]);
    }
);

engine_test!(
    fn a_sliced_view_column_reads_its_own_rows(engine) {
        let shouted = output(&engine, shout::node(), "text", views().slice(2, 3), "shouted");
        assert_eq!(
            strings(&shouted),
            [Some("A STRING OF MORE THAN TWELVE BYTES"), Some(""), None]
        );
        let labels = output(&engine, label::node(), "text", views().slice(1, 2), "label");
        assert_eq!(strings(&labels), [Some("none"), Some("a string of more than twelve bytes")]);
    }
);

engine_test!(
    fn a_view_column_beside_a_plain_one_and_a_constant(engine) {
        let plain: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "a long plain string, out of line", "z", "w", "v"]));
        let p = Pipeline::new([join::node()]).bind(Inputs::new().with("n", 7_i64))?;
        let out = apply(&engine, &p, &batch(vec![("text", views()), ("other", plain)]))?;
        assert_eq!(
            strings(out.column_by_name("joined").unwrap()),
            [
                Some("ab|x|7"),
                None,
                Some("a string of more than twelve bytes|a long plain string, out of line|7"),
                Some("|z|7"),
                None,
                Some("another long string, out of line|v|7")
            ]
        );
        // A column of numbers beside the view column.
        let ns: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6]));
        let p = Pipeline::new([join::node()]);
        let out = apply(&engine, &p, &batch(vec![("text", views()), ("other", views()), ("n", ns)]))?;
        assert_eq!(
            strings(out.column_by_name("joined").unwrap())[..4],
            [Some("ab|ab|1"), None, Some("a string of more than twelve bytes|a string of more than twelve bytes|3"), Some("||4")]
        );
    }
);

engine_test!(
    fn bytes_read_a_binary_view_column_with_nulls(engine) {
        let rows: Vec<Option<&[u8]>> = ROWS.iter().map(|r| r.map(str::as_bytes)).collect();
        let column: ArrayRef = Arc::new(BinaryViewArray::from(rows));
        let sizes = output(&engine, size::node(), "payload", column.clone(), "size");
        assert_eq!(ints(&sizes), [Some(2), None, Some(34), Some(0), None, Some(32)]);
        let sizes = output(&engine, maybe_size::node(), "payload", column.slice(1, 3), "size");
        assert_eq!(ints(&sizes), [Some(-1), Some(34), Some(0)]);
    }
);

engine_test!(
    fn a_view_column_read_row_by_row_by_a_cached_node_and_by_sql(engine) {
        // A node with retries runs row by row in the columnar engine.
        let retried = Node::builder("retried")
            .params(["text"])
            .output("retried")
            .retry(hypernodes::exec::Retry::new(2, std::time::Duration::ZERO))
            .build(|c: Option<String>| c.map_or(0, |c| c.len() as i64))?;
        let names = [("text".to_string(), hypernodes::engine::columnar::types::columnar_type_info::<Option<String>>())].into();
        let upper = hypernodes::engine::columnar::ExprNode::node("upper", "upper", "upper(coalesce(text, '-'))", &names)?;
        let p = Pipeline::new([retried, upper, label::node()]).with_config(RunConfig::new().with_cache(Cache::memory()));
        for _ in 0..2 {
            // Computed, then from the cache.
            let out = apply(&engine, &p, &batch(vec![("text", views())]))?;
            assert_eq!(ints(out.column_by_name("retried").unwrap()), [Some(2), Some(0), Some(34), Some(0), Some(0), Some(32)]);
            assert_eq!(
                strings(out.column_by_name("upper").unwrap()),
                [Some("AB"), Some("-"), Some("A STRING OF MORE THAN TWELVE BYTES"), Some(""), Some("-"), Some("ANOTHER LONG STRING, OUT OF LINE")]
            );
            assert_eq!(
                strings(out.column_by_name("label").unwrap()),
                [Some("ab"), Some("none"), Some("a string of more than twelve bytes"), Some(""), Some("none"), Some("another long string, out of line")]
            );
        }
    }
);

#[test]
fn the_columnar_engine_reads_a_view_column_in_place() {
    // A `&str` is the row where the column holds it: in the view of a short string, in a
    // data buffer for a long one. Nothing is copied.
    let column = views().slice(1, 5);
    let out = ColumnarEngine::new()
        .apply_to_batch(
            &Pipeline::new([address::node()]),
            &batch(vec![("text", column.clone())]),
        )
        .unwrap();
    let views = column.as_string_view();
    let expected: Vec<Option<u64>> = (0..views.len())
        .map(|i| views.is_valid(i).then(|| views.value(i).as_ptr() as u64))
        .collect();
    assert_eq!(
        out.column_by_name("address")
            .unwrap()
            .as_primitive::<UInt64Type>()
            .iter()
            .collect::<Vec<_>>(),
        expected
    );
}

#[node(output = "tagged")]
fn tagged(text: &str, x: i64) -> String {
    format!("{text}{x}")
}

engine_test!(
    fn a_nested_pipeline_reads_a_view_column_it_does_not_map_over(engine) {
        let inner = Pipeline::new([shout::node(), tagged::node()])
            .as_node("inner")
            .with_map_over(["x"])
            .build()?;
        let xs = arrow::array::ListArray::from_iter_primitive::<Int64Type, _, _>(
            [vec![1, 2], vec![3], vec![]].map(|l| Some(l.into_iter().map(Some).collect::<Vec<_>>())),
        );
        let text: ArrayRef = Arc::new(StringViewArray::from(vec!["ab", "a string of more than twelve bytes", "c"]));
        let out = apply(&engine, &Pipeline::new([inner]), &batch(vec![("text", text), ("x", Arc::new(xs))]))?;
        let lists = |name: &str| -> Vec<Vec<String>> {
            let list = out.column_by_name(name).unwrap().as_list::<i32>();
            (0..list.len())
                .map(|r| list.value(r).as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect())
                .collect()
        };
        assert_eq!(lists("tagged"), [vec!["ab1", "ab2"], vec!["a string of more than twelve bytes3"], vec![]]);
        assert_eq!(lists("shouted"), [vec!["AB", "AB"], vec!["A STRING OF MORE THAN TWELVE BYTES"], vec![]]);
    }
);

#[test]
fn view_batches_cut_across() {
    // Two batches of view columns, run in batches of 4 rows across them.
    let batches = [
        batch(vec![("text", views())]),
        batch(vec![("text", views().slice(2, 3))]),
    ];
    let out = ColumnarEngine::new()
        .with_batch_size(4)
        .apply_to_batches(&Pipeline::new([label::node()]), &batches)
        .unwrap();
    let labels: Vec<Option<String>> = out
        .iter()
        .flat_map(|b| {
            strings(b.column_by_name("label").unwrap())
                .into_iter()
                .map(|s| s.map(String::from))
        })
        .collect();
    let long = Some("a string of more than twelve bytes".to_string());
    let none = Some("none".to_string());
    assert_eq!(labels.len(), 9);
    assert_eq!(labels[6..], [long, Some(String::new()), none]);
}
