//! A null in a column whose node reads a type without nulls: the node is not called on
//! that row and its outputs are null there, downstream too, while a node reading such
//! an output as an `Option` is called with `None`; every other node runs on the row. The
//! same on both engines, in memory and in a file run.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Int64Type;
use hypernodes::ColumnarEngine;
use hypernodes::prelude::*;
use hypernodes::spec::Registry;

use crate::parquet::run_pipeline_file;

#[node(output = "half")]
fn half(x: i64) -> Option<i64> {
    (x % 2 == 0).then_some(x / 2)
}

#[node(output = "described")]
fn describe(half: Option<i64>) -> String {
    half.map_or_else(|| "-".into(), |h| h.to_string())
}

#[node(output = "plus")]
fn plus(x: i64, y: i64) -> i64 {
    x + y
}

#[node(output = "twice")]
fn twice(plus: i64) -> i64 {
    2 * plus
}

#[node(output = "shown")]
fn show(y: i64) -> String {
    format!("y={y}")
}

/// `x` null on rows 1 and 3, `y` on rows 2 and 3.
fn input() -> RecordBatch {
    let x: ArrayRef = Arc::new(Int64Array::from(vec![Some(4), None, Some(3), None, Some(8)]));
    let y: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), None, None, Some(5)]));
    RecordBatch::try_from_iter([("x", x), ("y", y)]).unwrap()
}

fn nodes() -> Vec<Node> {
    vec![
        half::node(),
        describe::node(),
        plus::node(),
        twice::node(),
        show::node(),
    ]
}

fn ints(out: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    out.column_by_name(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

fn strings(out: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = out.column_by_name(name).unwrap();
    column.as_string::<i32>().iter().map(|s| s.map(String::from)).collect()
}

/// The outputs over [`input`], as the columnar engine writes them.
fn check(out: &RecordBatch) {
    assert_eq!(ints(out, "half"), [Some(2), None, None, None, Some(4)]);
    // Called with `None` where `half` was not called (rows 1, 3) or returned `None`.
    let dash = Some("-".to_string());
    let described = [
        Some("2".to_string()),
        dash.clone(),
        dash.clone(),
        dash,
        Some("4".into()),
    ];
    assert_eq!(strings(out, "described"), described);
    assert_eq!(ints(out, "plus"), [Some(5), None, None, None, Some(13)]);
    assert_eq!(ints(out, "twice"), [Some(10), None, None, None, Some(26)]);
    let shown = [
        Some("y=1".to_string()),
        Some("y=2".into()),
        None,
        None,
        Some("y=5".into()),
    ];
    assert_eq!(strings(out, "shown"), shown);
}

engine_test!(
    fn a_null_where_a_node_reads_no_option_makes_its_outputs_null(engine) {
        let p = Pipeline::new(nodes());
        let out = match engine.name() {
            "columnar" => ColumnarEngine::new().apply_to_batch(&p, &input())?,
            _ => ColumnarEngine::apply_to_batch_on(engine.clone(), &p, &input())?,
        };
        assert_eq!(out.column(0), input().column(0));
        check(&out);
        // Selected outputs only.
        let select = ["shown".to_string(), "twice".to_string()];
        let (out, failures) = match engine.name() {
            "columnar" => ColumnarEngine::new().apply_selected(&p, &input(), Some(&select))?,
            _ => ColumnarEngine::apply_selected_on(engine.clone(), &p, &input(), Some(&select))?,
        };
        assert!(failures.is_empty());
        let names: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["x", "y", "shown", "twice"]);
        assert_eq!(ints(&out, "twice"), [Some(10), None, None, None, Some(26)]);
    }
);

const PIPELINE: &str = r#"
[[nodes]]
function = "half"

[[nodes]]
function = "describe"

[[nodes]]
function = "plus"

[[nodes]]
function = "twice"

[[nodes]]
function = "show"

[[nodes]]
name = "sum"
sql = "x + y"
"#;

engine_test!(
    fn a_file_run_over_nulls_where_nodes_read_no_option(engine) {
        let mut registry = Registry::new();
        for node in nodes() {
            registry.register(node);
        }
        let select = ["x", "half", "described", "plus", "twice", "shown", "sum"];
        let (_, out) = run_pipeline_file(&engine, "nulls", PIPELINE, &registry, &input(), &select)?;
        check(&out);
        assert_eq!(ints(&out, "sum"), [Some(5), None, None, None, Some(13)]);
    }
);

#[node(output = "code")]
fn code(label: &str) -> Result<i64, String> {
    label.parse().map_err(|_| format!("'{label}' is not a number"))
}

engine_test!(
    fn a_failure_among_null_rows_names_the_first_failing_row(engine) {
        let labels: ArrayRef = Arc::new(StringArray::from(vec![Some("1"), None, Some("x"), None, Some("y")]));
        let batch = RecordBatch::try_from_iter([("label", labels)]).unwrap();
        let p = Pipeline::new([code::node()]);
        let err = match engine.name() {
            "columnar" => ColumnarEngine::new().apply_to_batch(&p, &batch),
            _ => ColumnarEngine::apply_to_batch_on(engine.clone(), &p, &batch),
        };
        assert_eq!(err.unwrap_err().to_string(), "Node 'code' failed on item 2: 'x' is not a number");
        // Collected, the other rows are returned and each failure names its row.
        let collect = p.with_config(RunConfig::new().with_on_error(OnError::Collect));
        let (out, failures) = match engine.name() {
            "columnar" => ColumnarEngine::new().apply_selected(&collect, &batch, None)?,
            _ => ColumnarEngine::apply_selected_on(engine.clone(), &collect, &batch, None)?,
        };
        let failed: Vec<usize> = failures.iter().map(|f| f.item()).collect();
        assert_eq!(failed, [2, 4]);
        assert_eq!(ints(&out, "code"), [Some(1), None, None]);
        let kept: Vec<Option<&str>> = out.column(0).as_string::<i32>().iter().collect();
        assert_eq!(kept, [Some("1"), None, None]);
    }
);

#[node(output = "y")]
fn inc(x: i64) -> i64 {
    x + 1
}

engine_test!(
    fn a_null_list_under_a_nested_map_is_a_null_list(engine) {
        let inner = Pipeline::new([inc::node()]).as_node("inner").with_map_over(["x"]).build()?;
        let xs = arrow::array::ListArray::from_iter_primitive::<Int64Type, _, _>([
            Some(vec![Some(1)]),
            None,
            Some(vec![Some(2), Some(3)]),
        ]);
        let b = RecordBatch::try_from_iter([("x", Arc::new(xs) as ArrayRef)]).unwrap();
        let p = Pipeline::new([inner]);
        let out = match engine.name() {
            "columnar" => ColumnarEngine::new().apply_to_batch(&p, &b)?,
            _ => ColumnarEngine::apply_to_batch_on(engine.clone(), &p, &b)?,
        };
        let ys = out.column_by_name("y").unwrap().as_list::<i32>();
        let rows: Vec<Option<Vec<i64>>> = ys
            .iter()
            .map(|l| l.map(|l| l.as_primitive::<Int64Type>().values().to_vec()))
            .collect();
        assert_eq!(rows, [Some(vec![2]), None, Some(vec![3, 4])]);
    }
);
