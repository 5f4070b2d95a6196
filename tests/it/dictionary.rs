//! Dictionary-encoded columns through a node: the columnar engine runs a node whose only
//! column is a dictionary once per dictionary value and gathers the results by key; the
//! results, nulls and errors are those of a call per row, on both engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int8Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt32Array,
};
use arrow::datatypes::{ArrowDictionaryKeyType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, UInt32Type};
use chrono::{DateTime, Utc};
use hypernodes::prelude::*;
use hypernodes::{ColumnarEngine, Engine, Volatility};

#[node(output = "shouted")]
fn shout(category: &str) -> String {
    category.trim().to_uppercase()
}

#[node(output = "label")]
fn label(category: Option<String>) -> String {
    category.unwrap_or_else(|| "none".into())
}

#[node(output = "strict")]
fn strict(category: &str) -> Result<String, String> {
    match category {
        "bad" => Err(format!("'{category}' is not a category")),
        c => Ok(c.to_string()),
    }
}

#[node(output = "length")]
fn fragile(category: &str) -> usize {
    assert!(category != "boom", "cannot measure '{category}'");
    category.len()
}

#[node(output = "scaled")]
fn scale(code: i64, factor: i64) -> i64 {
    code * factor
}

#[node(output = "hour")]
fn hour_of(ts: DateTime<Utc>) -> i64 {
    ts.timestamp() / 3600
}

/// `keys` into `values`, with keys of type `K`.
fn dict<K: ArrowDictionaryKeyType>(keys: arrow::array::PrimitiveArray<K>, values: ArrayRef) -> ArrayRef {
    Arc::new(DictionaryArray::<K>::try_new(keys, values).unwrap())
}

/// Rows of "a", "b" and " c " (`None` for a null key) over the values
/// `["bad", " c ", "a", "unused", "b"]`: keys 2, 4, 1.
fn categories(rows: &[Option<&str>]) -> ArrayRef {
    let values: ArrayRef = Arc::new(StringArray::from(vec!["bad", " c ", "a", "unused", "b"]));
    let keys: Int32Array = rows
        .iter()
        .map(|r| {
            r.map(|v| match v {
                "bad" => 0,
                " c " => 1,
                "a" => 2,
                "b" => 4,
                other => panic!("no value {other}"),
            })
        })
        .collect();
    dict::<Int32Type>(keys, values)
}

const ROWS: [Option<&str>; 8] = [
    Some("a"),
    None,
    Some("b"),
    Some("a"),
    Some(" c "),
    None,
    Some("b"),
    Some("a"),
];

fn batch(name: &str, array: ArrayRef) -> RecordBatch {
    RecordBatch::try_from_iter([(name, array)]).unwrap()
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
    let out = apply(engine, &Pipeline::new([node]), &batch(name, column.clone())).unwrap();
    // The input column is kept as it came.
    assert_eq!(out.column_by_name(name).unwrap(), &column);
    out.column_by_name(output).unwrap().clone()
}

fn strings(array: &ArrayRef) -> Vec<Option<&str>> {
    assert_eq!(array.data_type(), &DataType::Utf8);
    array.as_string::<i32>().iter().collect()
}

engine_test!(
    fn a_node_over_a_dictionary_writes_each_rows_value_and_nulls_for_null_keys(engine) {
        let out = output(&engine, shout::node(), "category", categories(&ROWS), "shouted");
        assert_eq!(
            strings(&out),
            [Some("A"), None, Some("B"), Some("A"), Some("C"), None, Some("B"), Some("A")]
        );
        // An `Option` parameter is called with `None` on a null key.
        let out = output(&engine, label::node(), "category", categories(&ROWS), "label");
        assert_eq!(
            strings(&out),
            [Some("a"), Some("none"), Some("b"), Some("a"), Some(" c "), Some("none"), Some("b"), Some("a")]
        );
    }
);

engine_test!(
    fn a_sliced_dictionary_reads_its_own_rows(engine) {
        let column = categories(&ROWS).slice(2, 5);
        let out = output(&engine, shout::node(), "category", column.clone(), "shouted");
        assert_eq!(strings(&out), [Some("B"), Some("A"), Some("C"), None, Some("B")]);
        let out = output(&engine, label::node(), "category", column.slice(1, 2), "label");
        assert_eq!(strings(&out), [Some("a"), Some(" c ")]);
    }
);

engine_test!(
    fn dictionary_keys_of_any_integer_type(engine) {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![10, 20, 30]));
        let keys = [Some(2), Some(0), None, Some(2), Some(1), Some(0)];
        let columns = [
            dict::<Int8Type>(keys.iter().map(|k| k.map(|k| k as i8)).collect::<Int8Array>(), values.clone()),
            dict::<Int16Type>(keys.iter().map(|k| k.map(|k| k as i16)).collect::<Int16Array>(), values.clone()),
            dict::<UInt32Type>(keys.iter().map(|k| k.map(|k| k as u32)).collect::<UInt32Array>(), values),
        ];
        let p = Pipeline::new([scale::node()]).bind(Inputs::new().with("factor", 3_i64))?;
        for column in columns {
            let out = apply(&engine, &p, &batch("code", column))?;
            let scaled: Vec<Option<i64>> = out.column_by_name("scaled").unwrap().as_primitive::<Int64Type>().iter().collect();
            assert_eq!(scaled, [Some(90), Some(30), None, Some(90), Some(60), Some(30)]);
        }
        // String values behind 8-bit keys.
        let words = dict::<Int8Type>(Int8Array::from(vec![1, 1, 0, 1]), Arc::new(StringArray::from(vec!["x", "y"])));
        let out = output(&engine, shout::node(), "category", words, "shouted");
        assert_eq!(strings(&out), [Some("Y"), Some("Y"), Some("X"), Some("Y")]);
    }
);

engine_test!(
    fn a_value_no_row_uses_is_never_an_error(engine) {
        // "bad" (value 0) fails the node, "boom" panics it, but no row holds them.
        let out = output(&engine, strict::node(), "category", categories(&ROWS), "strict");
        assert_eq!(strings(&out)[..3], [Some("a"), None, Some("b")]);
        let values: ArrayRef = Arc::new(StringArray::from(vec!["boom", "ab", "abc"]));
        let column = dict::<Int32Type>(Int32Array::from(vec![1, 2, 2, 1, 2]), values);
        let out = output(&engine, fragile::node(), "category", column, "length");
        let lengths: Vec<u64> = out.as_primitive::<arrow::datatypes::UInt64Type>().values().to_vec();
        assert_eq!(lengths, [2, 3, 3, 2, 3]);
    }
);

engine_test!(
    fn a_node_failing_on_a_dictionary_value_names_the_first_row_holding_it(engine) {
        // "bad" is the dictionary's first value, first held by row 5.
        let mut rows = ROWS;
        rows[5] = Some("bad");
        rows[7] = Some("bad");
        let p = Pipeline::new([strict::node()]);
        let err = apply(&engine, &p, &batch("category", categories(&rows))).unwrap_err();
        assert_eq!(err.to_string(), "Node 'strict' failed on item 5: 'bad' is not a category");
        let values: ArrayRef = Arc::new(StringArray::from(vec!["boom", "ab"]));
        let column = dict::<Int32Type>(Int32Array::from(vec![1, 1, 1, 0, 1, 0]), values);
        let err = apply(&engine, &Pipeline::new([fragile::node()]), &batch("category", column)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'fragile' panicked on item 3: cannot measure 'boom'");
    }
);

engine_test!(
    fn an_unused_dictionary_value_that_does_not_convert_is_no_error(engine) {
        // Value 1 is not a whole microsecond; no row holds it.
        let hour = 3_600_000_000_000_i64;
        let values: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![hour, 1, 5 * hour]).with_timezone("UTC"));
        let column = dict::<Int32Type>(Int32Array::from(vec![Some(0), Some(2), None, Some(2), Some(0)]), values.clone());
        let out = output(&engine, hour_of::node(), "ts", column, "hour");
        let hours: Vec<Option<i64>> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(hours, [Some(1), Some(5), None, Some(5), Some(1)]);
        // A row holding it fails, naming that row.
        let column = dict::<Int32Type>(Int32Array::from(vec![0, 2, 1, 1]), values);
        let err = apply(&engine, &Pipeline::new([hour_of::node()]), &batch("ts", column)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'hour_of' failed on item 2: column 'ts' holds 1970-01-01T00:00:00.000000001, \
             which is not a whole microsecond (timestamps are read in microseconds)"
        );
    }
);

/// Calls of [`counted`].
static COUNTED: AtomicUsize = AtomicUsize::new(0);

#[node(output = "length")]
fn counted(category: &str) -> usize {
    COUNTED.fetch_add(1, Ordering::SeqCst);
    category.len()
}

/// Calls of [`uncounted`].
static UNCOUNTED: AtomicUsize = AtomicUsize::new(0);

#[node(output = "length", cache = false)]
fn uncounted(category: &str) -> usize {
    UNCOUNTED.fetch_add(1, Ordering::SeqCst);
    category.len()
}

#[test]
fn the_columnar_engine_calls_a_node_once_per_dictionary_value_unless_it_is_volatile() {
    let rows: Vec<Option<&str>> = ROWS.iter().cycle().take(800).copied().collect();
    let column = categories(&rows);
    let engine = ColumnarEngine::new();
    let out = engine
        .apply_to_batch(&Pipeline::new([counted::node()]), &batch("category", column.clone()))
        .unwrap();
    // The five values and the null appended for null keys, once per batch.
    let batches = 800_usize.div_ceil(engine.batch_size());
    assert_eq!(COUNTED.load(Ordering::SeqCst), 5 * batches);
    let lengths = out
        .column_by_name("length")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt64Type>();
    assert_eq!(
        lengths.iter().take(5).collect::<Vec<_>>(),
        [Some(1), None, Some(1), Some(1), Some(3)]
    );

    // A volatile node (it must run every time) is called on every row that holds a value.
    let volatile = uncounted::node();
    assert_eq!(volatile.volatility(), Volatility::Volatile);
    let again = engine
        .apply_to_batch(&Pipeline::new([volatile]), &batch("category", column))
        .unwrap();
    assert_eq!(UNCOUNTED.load(Ordering::SeqCst), 600);
    assert_eq!(again.column_by_name("length"), out.column_by_name("length"));
}

engine_test!(
    fn a_dictionary_read_row_by_row_and_by_sql(engine) {
        // A node with retries runs row by row in the columnar engine.
        let retried = Node::builder("retried")
            .params(["category"])
            .output("label")
            .retry(hypernodes::exec::Retry::new(2, std::time::Duration::ZERO))
            .build(|c: Option<String>| c.unwrap_or_else(|| "none".into()))?;
        let names = [("category".to_string(), hypernodes::engine::columnar::types::columnar_type_info::<Option<String>>())].into();
        let upper = hypernodes::engine::columnar::ExprNode::node("upper", "upper", "upper(coalesce(category, '-'))", &names)?;
        let out = apply(&engine, &Pipeline::new([retried, upper]), &batch("category", categories(&ROWS)))?;
        assert_eq!(
            strings(out.column_by_name("label").unwrap()),
            [Some("a"), Some("none"), Some("b"), Some("a"), Some(" c "), Some("none"), Some("b"), Some("a")]
        );
        assert_eq!(
            strings(out.column_by_name("upper").unwrap()),
            [Some("A"), Some("-"), Some("B"), Some("A"), Some(" C "), Some("-"), Some("B"), Some("A")]
        );
    }
);

#[node(output = "tagged")]
fn tagged(category: &str, x: i64) -> String {
    format!("{}{x}", category.trim())
}

engine_test!(
    fn a_nested_pipeline_reads_a_dictionary_column_it_does_not_map_over(engine) {
        let inner = Pipeline::new([shout::node(), tagged::node()])
            .as_node("inner")
            .with_map_over(["x"])
            .build()?;
        let xs = arrow::array::ListArray::from_iter_primitive::<Int64Type, _, _>(
            [vec![1, 2], vec![3], vec![], vec![4, 5], vec![6]].map(|l| Some(l.into_iter().map(Some).collect::<Vec<_>>())),
        );
        let column = categories(&[Some("a"), Some(" c "), Some("b"), Some("b"), Some("a")]);
        let b = RecordBatch::try_from_iter([("category", column), ("x", Arc::new(xs) as ArrayRef)]).unwrap();
        let out = apply(&engine, &Pipeline::new([inner]), &b)?;
        let lists = |name: &str| -> Vec<Vec<String>> {
            let list = out.column_by_name(name).unwrap().as_list::<i32>();
            (0..list.len())
                .map(|r| list.value(r).as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect())
                .collect()
        };
        assert_eq!(lists("tagged"), [vec!["a1", "a2"], vec!["c3"], vec![], vec!["b4", "b5"], vec!["a6"]]);
        assert_eq!(lists("shouted"), [vec!["A", "A"], vec!["C"], vec![], vec!["B", "B"], vec!["A"]]);
    }
);

#[test]
fn dictionary_batches_of_their_own_values_cut_across_and_collected() {
    // Two batches, each with its own dictionary, run in batches of 3 rows across them.
    let first = categories(&[Some("a"), Some("b"), None, Some("a")]);
    let values: ArrayRef = Arc::new(StringArray::from(vec!["b", "bad", "z"]));
    let second = dict::<Int32Type>(Int32Array::from(vec![Some(2), Some(1), Some(2), None]), values);
    let batches = [batch("category", first), batch("category", second)];
    let engine = ColumnarEngine::new().with_batch_size(3);
    let out = engine
        .apply_to_batches(&Pipeline::new([shout::node()]), &batches)
        .unwrap();
    let shouted: Vec<Option<String>> = out
        .iter()
        .flat_map(|b| {
            strings(b.column_by_name("shouted").unwrap())
                .into_iter()
                .map(|s| s.map(String::from))
        })
        .collect();
    let want = [
        Some("A"),
        Some("B"),
        None,
        Some("A"),
        Some("Z"),
        Some("BAD"),
        Some("Z"),
        None,
    ];
    assert_eq!(shouted, want.map(|s| s.map(String::from)));

    // Collected: the row holding "bad" fails, the others come back.
    let both = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let p = Pipeline::new([strict::node()]).with_config(RunConfig::new().with_on_error(OnError::Collect));
    let (out, failures) = engine.apply_selected(&p, &both, None).unwrap();
    let failed: Vec<usize> = failures.iter().map(|f| f.item()).collect();
    assert_eq!(failed, [5]);
    assert_eq!(
        failures[0].error().to_string(),
        "Node 'strict' failed on item 5: 'bad' is not a category"
    );
    let kept = strings(out.column_by_name("strict").unwrap());
    assert_eq!(
        kept,
        [Some("a"), Some("b"), None, Some("a"), Some("z"), Some("z"), None]
    );
    let by_rows = ColumnarEngine::apply_selected_on(Arc::new(NodeEngine::new()), &p, &both, None).unwrap();
    assert_eq!(by_rows.0, out);
}

#[test]
fn batches_whose_dictionaries_do_not_all_convert_are_read_unpacked() {
    // The second batch's dictionary holds a value (1 ns) no row holds, which a
    // microsecond timestamp cannot: its values do not convert, its rows do.
    let hour = 3_600_000_000_000_i64;
    let ts = |values: Vec<i64>, keys: Vec<i32>| {
        let values: ArrayRef = Arc::new(TimestampNanosecondArray::from(values).with_timezone("UTC"));
        batch("ts", dict::<Int32Type>(Int32Array::from(keys), values))
    };
    let batches = [
        ts(vec![hour, 2 * hour], vec![0, 1, 1, 0]),
        ts(vec![1, 3 * hour], vec![1, 1, 1]),
    ];
    let out = ColumnarEngine::new()
        .with_batch_size(3)
        .apply_to_batches(&Pipeline::new([hour_of::node()]), &batches)
        .unwrap();
    let hours: Vec<i64> = out
        .iter()
        .flat_map(|b| {
            b.column_by_name("hour")
                .unwrap()
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(hours, [1, 2, 2, 1, 3, 3, 3]);
}
