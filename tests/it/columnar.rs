//! What only the columnar engine has: kernels, explain, partitions. The shared suite
//! already runs every other case on it.

use crate::common::*;
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::Kernel;
use hypernodes::prelude::*;

/// Not columnar: nodes reading it run node by node.
pub struct Model {
    weight: f64,
}

#[node(output = "tokens")]
fn tokens(text: &str) -> usize {
    text.split_whitespace().count()
}

#[node(output = "score")]
fn score(model: &Model, tokens: usize) -> f64 {
    model.weight * tokens as f64
}

#[node(output = "label")]
fn label(score: f64) -> String {
    format!("{score:.1}")
}

#[node(output = "half")]
fn half_if_even(x: Option<i64>) -> Option<i64> {
    x.filter(|v| v % 2 == 0).map(|v| v / 2)
}

#[node(output = "words")]
fn words(docs: &[Vec<String>]) -> usize {
    docs.iter().map(|d| d.len()).sum()
}

fn mixed() -> Pipeline {
    Pipeline::new([tokens::node(), score::node(), label::node()])
}

fn mixed_inputs() -> Inputs {
    Inputs::new()
        .with_value("model", Value::lazy(|| Model { weight: 1.5 }))
        .with("text", strings(&["a b", "", "c d e"]))
}

#[test]
fn kernels_exist_exactly_for_columnar_functions() {
    assert!(Kernel::find(&tokens::node()).is_some());
    assert!(Kernel::find(&half_if_even::node()).is_some());
    assert!(Kernel::find(&words::node()).is_some());
    assert!(Kernel::find(&score::node()).is_none());
    let closure = Node::builder("c").params(["x"]).build(|x: i64| x).unwrap();
    assert!(Kernel::find(&closure).is_none());
}

#[test]
fn explain_shows_udfs_and_fallbacks() {
    let text = ColumnarEngine::new()
        .explain(&mixed(), &mixed_inputs(), &["text"])
        .unwrap();
    assert!(
        text.contains("segment 1: tokens (vectorized, 1 partition(s))"),
        "{text}"
    );
    assert!(text.contains("fallback: score (node by node)"), "{text}");
    assert!(text.contains("segment 2: label (vectorized, 1 partition(s))"), "{text}");
    // The physical plans evaluate the nodes as UDFs.
    assert!(text.contains("physical plan:"), "{text}");
    assert!(text.contains("tokens(__hypernodes_item@0, text@1)"), "{text}");
}

#[test]
fn mixed_pipelines_give_the_node_engines_results() {
    let columnar = mixed()
        .with_engine(ColumnarEngine::new())
        .map(&mixed_inputs(), &["text"], MapMode::Zip)
        .unwrap();
    let node = mixed().map(&mixed_inputs(), &["text"], MapMode::Zip).unwrap();
    assert_eq!(columnar.column::<String>("label").unwrap(), ["3.0", "0.0", "4.5"]);
    assert_eq!(
        columnar.column::<String>("label").unwrap(),
        node.column::<String>("label").unwrap()
    );
    assert_eq!(
        columnar.column::<f64>("score").unwrap(),
        node.column::<f64>("score").unwrap()
    );
    assert_eq!(columnar.column::<usize>("tokens").unwrap(), &[2, 0, 3]);
}

#[test]
fn large_inputs_are_split_into_partitions_in_order() {
    let xs: Vec<i64> = (0..100_000).collect();
    let inputs = Inputs::new().with("x", xs);
    let engine = ColumnarEngine::new().with_partitions(2);
    let text = engine.explain(&Pipeline::new(w1()), &inputs, &["x"]).unwrap();
    assert!(
        text.contains("segment 1: double, add_one, square (vectorized, 2 partition(s))"),
        "{text}"
    );
    let out = Pipeline::new(w1())
        .with_engine(engine)
        .map(&inputs, &["x"], MapMode::Zip)
        .unwrap();
    let squared = out.column::<i64>("squared").unwrap();
    assert!(squared.iter().enumerate().all(|(i, &s)| s == (2 * i as i64 + 1).pow(2)));
}

#[test]
fn tiny_batches_and_many_partitions_change_nothing() {
    let xs: Vec<i64> = (0..40_000).collect();
    let inputs = Inputs::new().with("x", xs);
    let reference = Pipeline::new(w1()).map(&inputs, &["x"], MapMode::Zip).unwrap();
    let engine = ColumnarEngine::new().with_partitions(3).with_batch_size(7);
    let out = Pipeline::new(w1())
        .with_engine(engine)
        .map(&inputs, &["x"], MapMode::Zip)
        .unwrap();
    assert_eq!(
        out.column::<i64>("squared").unwrap(),
        reference.column::<i64>("squared").unwrap()
    );
}

#[node(output = "checked")]
fn fail_at(x: i64) -> Result<i64, String> {
    if x == 30_001 || x == 35_000 {
        Err(format!("bad {x}"))
    } else {
        Ok(x)
    }
}

#[node(output = "checked")]
fn panic_at(x: i64) -> i64 {
    assert!(x != 29_999, "no {x}");
    x
}

#[test]
fn failures_deep_in_later_partitions_and_batches_name_their_item() {
    // Item 30,001 is in the second of 3 partitions, in a batch that starts at 26,670.
    let xs: Vec<i64> = (0..40_000).collect();
    let inputs = Inputs::new().with("x", xs);
    let engine = ColumnarEngine::new().with_partitions(3).with_batch_size(1_000);
    for (node, message) in [
        (fail_at::node(), "Node 'fail_at' failed on item 30001: bad 30001"),
        (panic_at::node(), "Node 'panic_at' panicked on item 29999: no 29999"),
    ] {
        let p = Pipeline::new([node]).with_engine(engine.clone());
        let err = p.map(&inputs, &["x"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), message);
        let reference = Pipeline::new([p.nodes()[0].clone()]).map(&inputs, &["x"], MapMode::Zip);
        assert_eq!(reference.unwrap_err().to_string(), message);
    }
}

engine_test!(
    fn option_parameters_see_missing_values(engine) {
        let out = on(&engine, [half_if_even::node()]).map(
            &Inputs::new().with("x", vec![Some(4_i64), None, Some(3), Some(-8)]),
            &["x"],
            MapMode::Zip,
        )?;
        assert_eq!(out.column::<Option<i64>>("half")?, &[Some(2), None, None, Some(-4)]);
    }
);

engine_test!(
    fn nested_lists_flow_through_kernels(engine) {
        let docs = vec![vec![strings(&["a", "b"]), strings(&["c"])], vec![], vec![vec![]]];
        let out = on(&engine, [words::node()]).map(&Inputs::new().with("docs", docs), &["docs"], MapMode::Zip)?;
        assert_eq!(out.column::<usize>("words")?, &[3, 0, 0]);
    }
);

#[node(output = "sentence_tokens")]
fn sentence_tokens(sentence: &str) -> usize {
    sentence.split_whitespace().count()
}

#[node(output = "total")]
fn total(counts: &[usize]) -> usize {
    counts.iter().sum()
}

fn w4() -> Pipeline {
    w4_with(sentence_tokens::node())
}

/// W4 with `counter` (reading `sentence`, writing `sentence_tokens`) as the inner node.
fn w4_with(counter: Node) -> Pipeline {
    let per_sentence = Pipeline::new([counter])
        .as_node("per_sentence")
        .with_input_mapping([("sentences", "sentence")])
        .with_output_mapping([("sentence_tokens", "counts")])
        .with_map_over(["sentences"])
        .build()
        .unwrap();
    Pipeline::new([per_sentence, total::node()])
}

#[test]
fn nested_maps_run_over_flattened_lists() {
    let docs = vec![strings(&["a b c", "d"]), vec![], strings(&["e f"])];
    let inputs = Inputs::new().with("sentences", docs);
    let text = ColumnarEngine::new().explain(&w4(), &inputs, &["sentences"]).unwrap();
    assert!(
        text.contains("nested: per_sentence (vectorized over flattened lists)"),
        "{text}"
    );
    assert!(
        text.contains("\n  segment 1: sentence_tokens (vectorized, 1 partition(s))"),
        "{text}"
    );
    assert!(
        text.contains("\nsegment 1: total (vectorized, 1 partition(s))"),
        "{text}"
    );
    let out = w4()
        .with_engine(ColumnarEngine::new())
        .map(&inputs, &["sentences"], MapMode::Zip)
        .unwrap();
    assert_eq!(out.column::<usize>("total").unwrap(), &[4, 0, 2]);
    assert_eq!(
        out.column::<Vec<usize>>("counts").unwrap(),
        &[vec![3, 1], vec![], vec![2]]
    );
}

#[node(output = "sentence_tokens")]
fn tokens_or_fail(sentence: &str) -> Result<usize, String> {
    match sentence {
        "boom" => Err("no boom".into()),
        s => Ok(s.split_whitespace().count()),
    }
}

#[test]
fn nested_maps_over_many_batches_and_partitions_match_the_node_engine() {
    // 0 to 4 sentences per document, so inner batches are cut at outer batch ends of
    // every size, some with no items at all.
    let docs: Vec<Vec<String>> = (0..30_000)
        .map(|d| (0..d % 5).map(|k| vec!["w"; (d + k) % 4 + 1].join(" ")).collect())
        .collect();
    let inputs = Inputs::new().with("sentences", docs.clone());
    let engine = ColumnarEngine::new().with_partitions(3).with_batch_size(7);
    let out = w4()
        .with_engine(engine.clone())
        .map(&inputs, &["sentences"], MapMode::Zip)
        .unwrap();
    let reference = w4().map(&inputs, &["sentences"], MapMode::Zip).unwrap();
    assert_eq!(
        out.column::<usize>("total").unwrap(),
        reference.column::<usize>("total").unwrap()
    );
    assert_eq!(
        out.column::<Vec<usize>>("counts").unwrap(),
        reference.column::<Vec<usize>>("counts").unwrap()
    );
    assert_eq!(out.column::<usize>("total").unwrap()[29_999], 4 + 1 + 2 + 3);

    // A failure deep in names the document and the sentence, as the node engine does.
    let mut docs = docs;
    docs[20_003][2] = "boom".to_string();
    let inputs = Inputs::new().with("sentences", docs);
    let failing = || w4_with(tokens_or_fail::node());
    let err = failing()
        .with_engine(engine)
        .map(&inputs, &["sentences"], MapMode::Zip)
        .unwrap_err();
    let reference = failing().map(&inputs, &["sentences"], MapMode::Zip).unwrap_err();
    assert_eq!(err.to_string(), reference.to_string());
    assert_eq!(
        err.to_string(),
        "Node 'per_sentence' failed on item 20003: Node 'tokens_or_fail' failed on item 2: no boom"
    );
}

#[test]
fn nested_maps_of_non_columnar_outputs_run_item_by_item() {
    let boxed = Node::builder("boxed")
        .params(["sentence"])
        .build(|s: String| Box::new(s.len()))
        .unwrap();
    let inner = Pipeline::new([boxed])
        .as_node("per_sentence")
        .with_map_over(["sentence"])
        .build()
        .unwrap();
    let p = Pipeline::new([inner]);
    let inputs = Inputs::new().with("sentence", vec![strings(&["ab", "c"])]);
    let text = ColumnarEngine::new().explain(&p, &inputs, &["sentence"]).unwrap();
    assert!(text.contains("fallback: per_sentence (nested pipeline)"), "{text}");
    let out = p
        .with_engine(ColumnarEngine::new())
        .map(&inputs, &["sentence"], MapMode::Zip)
        .unwrap();
    assert_eq!(
        out.column::<Vec<Box<usize>>>("boxed").unwrap(),
        &[vec![Box::new(2), Box::new(1)]]
    );
}

mod interop {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{Int64Type, UInt64Type};
    use datafusion::execution::FunctionRegistry;
    use datafusion::prelude::{SessionContext, col};

    use super::*;

    #[node(output = ("quotient", "remainder"))]
    fn divmod(a: i64, b: i64) -> (i64, i64) {
        (a / b, a % b)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![7, 9])) as _),
            ("b", Arc::new(Int64Array::from(vec![2, 4])) as _),
            ("text", Arc::new(StringArray::from(vec!["x y", "z"])) as _),
        ])
        .unwrap()
    }

    #[test]
    fn registered_udfs_are_callable_from_dataframes() {
        let ctx = SessionContext::new();
        let names = ColumnarEngine::register_udfs(&Pipeline::new([tokens::node(), divmod::node()]), &ctx).unwrap();
        assert_eq!(names, ["divmod", "tokens"]);
        let frame = ctx.read_batch(batch()).unwrap();
        let udf = ctx.udf("tokens").unwrap();
        let out = runtime()
            .block_on(frame.select(vec![udf.call(vec![col("text")])]).unwrap().collect())
            .unwrap();
        assert_eq!(out[0].column(0).as_primitive::<UInt64Type>().values(), &[2, 1]);
    }

    #[test]
    fn pipelines_apply_to_dataframes() {
        let ctx = SessionContext::new();
        let p = Pipeline::new([divmod::node(), tokens::node()]);
        let frame = ColumnarEngine::apply_to_dataframe(&p, ctx.read_batch(batch()).unwrap()).unwrap();
        let out = runtime().block_on(frame.collect()).unwrap();
        let names: Vec<String> = out[0].schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["a", "b", "text", "quotient", "remainder", "tokens"]);
        assert_eq!(
            out[0]
                .column_by_name("remainder")
                .unwrap()
                .as_primitive::<Int64Type>()
                .values(),
            &[1, 1]
        );
        let err = ColumnarEngine::apply_to_dataframe(&mixed(), ctx.read_batch(batch()).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "The pipeline cannot run as one DataFusion plan: node 'score' reads 'model' as Model, which is not an \
             Arrow type"
        );
    }

    static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static MOST_IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[node(output = "fetched")]
    async fn fetch(a: i64) -> Result<i64, String> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = IN_FLIGHT.fetch_add(1, SeqCst) + 1;
        MOST_IN_FLIGHT.fetch_max(now, SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        IN_FLIGHT.fetch_sub(1, SeqCst);
        if a == 8 {
            return Err("no page for 8".to_string());
        }
        Ok(a * 10)
    }

    #[test]
    fn async_nodes_are_async_udfs_awaiting_rows_concurrently_within_the_bound() {
        use std::sync::atomic::Ordering::SeqCst;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_time()
            .build()
            .unwrap();
        let ctx = SessionContext::new();
        let p = Pipeline::new([fetch::node()]).with_config(RunConfig::new().with_map_executor(Executor::Async(3)));
        assert_eq!(ColumnarEngine::register_udfs(&p, &ctx).unwrap(), ["fetch"]);
        let a = Int64Array::from_iter_values(0..8);
        let frame = ctx
            .read_batch(RecordBatch::try_from_iter([("a", Arc::new(a) as _)]).unwrap())
            .unwrap();
        let out = rt
            .block_on(ColumnarEngine::apply_to_dataframe(&p, frame).unwrap().collect())
            .unwrap();
        let fetched: Vec<i64> = out
            .iter()
            .flat_map(|b| {
                b.column_by_name("fetched")
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(fetched, [0, 10, 20, 30, 40, 50, 60, 70]);
        // Concurrent, and never more than the async executor's width.
        assert_eq!(MOST_IN_FLIGHT.load(SeqCst), 3);

        let sql = rt.block_on(async {
            ctx.sql("SELECT fetch(a) FROM (VALUES (1), (8)) AS t(a)")
                .await?
                .collect()
                .await
        });
        assert_eq!(
            sql.unwrap_err().strip_backtrace(),
            "External error: Node 'fetch' failed on item 1: no page for 8"
        );
    }

    #[test]
    fn batch_streams_come_back_cut_as_the_engine_cut_them() {
        let xs = |r: std::ops::Range<i64>| {
            RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from_iter_values(r)) as _)]).unwrap()
        };
        let input = [xs(0..30_000), xs(30_000..30_001), xs(30_001..50_000)];
        let engine = ColumnarEngine::new().with_partitions(2).with_batch_size(10_000);
        let p = Pipeline::new(w1());
        let out = engine.apply_to_batches(&p, &input).unwrap();
        let rows: Vec<usize> = out.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(rows, [10_000, 10_000, 5_000, 10_000, 10_000, 5_000]);
        let names: Vec<String> = out[0].schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["x", "doubled", "incremented", "squared"]);
        let joined = arrow::compute::concat_batches(&out[0].schema(), &out).unwrap();
        let whole = xs(0..50_000);
        assert_eq!(joined, engine.apply_to_batch(&p, &whole).unwrap());
        assert_eq!(
            joined.column(3).as_primitive::<Int64Type>().value(49_999),
            (2 * 49_999 + 1_i64).pow(2)
        );
        // A failure names the row of the whole stream.
        let err = engine
            .apply_to_batches(&Pipeline::new([fail_at::node()]), &input)
            .unwrap_err();
        assert_eq!(err.to_string(), "Node 'fail_at' failed on item 30001: bad 30001");
        assert!(engine.apply_to_batches(&p, &[]).unwrap().is_empty());
        let err = engine.apply_to_batches(&p, &[xs(0..2), batch()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Batch 1 has columns (a: Int64, b: Int64, text: Utf8), but batch 0 has (x: Int64)"
        );
    }

    #[test]
    fn pipelines_apply_to_batches_with_fallbacks() {
        let p = Pipeline::new([tokens::node(), score::node(), label::node()])
            .bind(Inputs::new().with_value("model", Value::lazy(|| Model { weight: 2.0 })))
            .unwrap();
        let out = ColumnarEngine::new().apply_to_batch(&p, &batch()).unwrap();
        assert_eq!(out.num_columns(), 6);
        assert_eq!(
            out.column_by_name("score").unwrap().as_ref(),
            &Float64Array::from(vec![4.0, 2.0]) as &dyn Array
        );
        assert_eq!(out.column_by_name("label").unwrap().as_string::<i32>().value(1), "2.0");
        let err =
            ColumnarEngine::new().apply_to_batch(&Pipeline::new([tokens::node()]), &batch().project(&[0]).unwrap());
        assert_eq!(
            err.unwrap_err().to_string(),
            "Missing required input(s): ['text']. Required inputs: ['text']"
        );
        let err = ColumnarEngine::new().apply_to_batch(&p.unbind(&[]), &batch());
        assert_eq!(
            err.unwrap_err().to_string(),
            "Missing required input(s): ['model']. Required inputs: ['model', 'text']"
        );
    }
}

mod structs {
    use hypernodes::columnar_struct;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Point {
        x: f64,
        y: f64,
        name: String,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Stats {
        count: u32,
        longest: Option<String>,
    }

    columnar_struct!(Point, Stats);

    #[node(output = "moved")]
    fn shift(point: Point, by: f64) -> Point {
        Point {
            x: point.x + by,
            name: point.name.to_uppercase(),
            ..point
        }
    }

    #[node(output = "stats")]
    fn stats(points: &[Point]) -> Stats {
        Stats {
            count: points.len() as u32,
            longest: points.iter().map(|p| p.name.clone()).max_by_key(|n| n.len()),
        }
    }

    fn point(x: f64, name: &str) -> Point {
        Point {
            x,
            y: 1.0,
            name: name.into(),
        }
    }

    #[test]
    fn struct_nodes_get_kernels() {
        assert!(Kernel::find(&shift::node()).is_some());
        assert!(Kernel::find(&stats::node()).is_some());
    }

    engine_test!(
        fn structs_cross_as_arrow_structs(engine) {
            let inputs = Inputs::new().with("point", vec![point(1.0, "a"), point(-2.5, "bc")]).with("by", 0.5_f64);
            let out = on(&engine, [shift::node()]).map(&inputs, &["point"], MapMode::Zip)?;
            assert_eq!(out.column::<Point>("moved")?, &[point(1.5, "A"), point(-2.0, "BC")]);
        }
    );

    engine_test!(
        fn lists_of_structs_and_optional_fields(engine) {
            let groups = vec![vec![point(0.0, "ab"), point(0.0, "abc")], vec![]];
            let out = on(&engine, [stats::node()]).map(&Inputs::new().with("points", groups), &["points"], MapMode::Zip)?;
            assert_eq!(
                out.column::<Stats>("stats")?,
                &[Stats { count: 2, longest: Some("abc".into()) }, Stats { count: 0, longest: None }]
            );
        }
    );
}

mod dual {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use arrow::array::{ArrayRef, AsArray, Int64Array};
    use arrow::compute::kernels::arity::unary;
    use arrow::datatypes::Int64Type;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::ColumnarValue;
    use hypernodes::BoxError;
    use hypernodes::engine::columnar::BatchArgs;

    use super::*;

    static ARRAY_CALLS: AtomicUsize = AtomicUsize::new(0);

    /// Per item: the meaning. Per batch: the speed. Both give `x * factor`.
    #[node(output = "scaled", batch = scale_batch)]
    fn scale(x: i64, factor: i64) -> i64 {
        x * factor
    }

    fn scale_batch(args: BatchArgs<'_>) -> Result<Vec<ArrayRef>, BoxError> {
        let ColumnarValue::Scalar(ScalarValue::Int64(Some(factor))) = &args.args[1] else {
            return Err(format!("the constant factor must arrive as a scalar, got {:?}", args.args[1]).into());
        };
        // Mapped in a map, a constant in a run: an array or a scalar.
        if matches!(args.args[0], ColumnarValue::Array(_)) {
            ARRAY_CALLS.fetch_add(1, Ordering::SeqCst);
        }
        let x = args.args[0].clone().into_array(args.number_rows)?;
        let out: Int64Array = unary(x.as_primitive::<Int64Type>(), |v| v * factor);
        Ok(vec![Arc::new(out)])
    }

    static BATCH_ROWS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

    /// Records the rows of each batch it is given.
    #[node(output = "tripled", batch = triple_batch)]
    fn triple(x: i64) -> i64 {
        3 * x
    }

    fn triple_batch(args: BatchArgs<'_>) -> Result<Vec<ArrayRef>, BoxError> {
        BATCH_ROWS.lock().unwrap().push(args.number_rows);
        let x = args.args[0].clone().into_array(args.number_rows)?;
        let out: Int64Array = unary(x.as_primitive::<Int64Type>(), |v| 3 * v);
        Ok(vec![Arc::new(out)])
    }

    #[test]
    fn a_batch_implementation_is_given_batches_of_the_engines_batch_size() {
        let engine = ColumnarEngine::new().with_partitions(1).with_batch_size(1000);
        let p = Pipeline::new([triple::node()]).with_engine(engine);
        let xs: Vec<i64> = (0..4500).collect();
        let out = p.map(&Inputs::new().with("x", xs), &["x"], MapMode::Zip).unwrap();
        assert_eq!(
            out.column::<i64>("tripled").unwrap(),
            (0..4500).map(|x| 3 * x).collect::<Vec<_>>()
        );
        assert_eq!(*BATCH_ROWS.lock().unwrap(), [1000, 1000, 1000, 1000, 500]);
    }

    #[node(output = "checked", batch = always_fails)]
    fn checked(x: i64) -> i64 {
        x
    }

    fn always_fails(_args: BatchArgs<'_>) -> Result<Vec<ArrayRef>, BoxError> {
        Err("no batch today".into())
    }

    engine_test!(
        fn dual_nodes_give_the_same_results_on_both_engines(engine) {
            let inputs = Inputs::new().with("x", vec![1_i64, -2, 3]).with("factor", 10_i64);
            let out = on(&engine, [scale::node()]).map(&inputs, &["x"], MapMode::Zip)?;
            assert_eq!(out.column::<i64>("scaled")?, &[10, -20, 30]);
            let out = on(&engine, [scale::node()]).run(&Inputs::new().with("x", 4_i64).with("factor", 2_i64))?;
            assert_eq!(out.get::<i64>("scaled")?, 8);
        }
    );

    #[test]
    fn the_columnar_engine_calls_the_batch_implementation() {
        let before = ARRAY_CALLS.load(Ordering::SeqCst);
        let inputs = Inputs::new().with("x", vec![1_i64, 2]).with("factor", 3_i64);
        let p = Pipeline::new([scale::node()]).with_engine(ColumnarEngine::new());
        assert_eq!(
            p.map(&inputs, &["x"], MapMode::Zip)
                .unwrap()
                .column::<i64>("scaled")
                .unwrap(),
            &[3, 6]
        );
        // Called with the mapped x as an array (and the factor as a scalar, or it fails).
        assert!(ARRAY_CALLS.load(Ordering::SeqCst) > before);
    }

    #[test]
    fn a_failing_batch_names_the_node_but_no_item() {
        let p = Pipeline::new([checked::node()]).with_engine(ColumnarEngine::new());
        let err = p
            .map(&Inputs::new().with("x", vec![1_i64]), &["x"], MapMode::Zip)
            .unwrap_err();
        assert_eq!(err.to_string(), "Node 'checked' failed: no batch today");
    }
}

#[test]
fn null_lists_map_to_null_lists() {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, ListArray, RecordBatch};
    use arrow::datatypes::UInt64Type;

    let lists = ListArray::from_iter_primitive::<arrow::datatypes::Int64Type, _, _>(vec![
        Some(vec![Some(1), Some(2)]),
        None,
        Some(vec![]),
    ]);
    // Strings are needed by `sentence_tokens`; build the same shape of string lists.
    let sentences = {
        let values = arrow::array::StringArray::from(vec!["a b", "c"]);
        let field = Arc::new(arrow::datatypes::Field::new_list_field(
            values.data_type().clone(),
            true,
        ));
        ListArray::new(field, lists.offsets().clone(), Arc::new(values), lists.nulls().cloned())
    };
    let batch = RecordBatch::try_from_iter([("sentences", Arc::new(sentences) as _)]).unwrap();
    let inner = Pipeline::new([sentence_tokens::node()])
        .as_node("per_sentence")
        .with_input_mapping([("sentences", "sentence")])
        .with_map_over(["sentences"])
        .build()
        .unwrap();
    let out = ColumnarEngine::new()
        .apply_to_batch(&Pipeline::new([inner]), &batch)
        .unwrap();
    let counts = out.column_by_name("sentence_tokens").unwrap().as_list::<i32>().clone();
    assert_eq!(counts.len(), 3);
    assert_eq!(counts.value(0).as_primitive::<UInt64Type>().values(), &[2, 1]);
    assert!(counts.is_null(1));
    assert!(!counts.is_null(2) && counts.value(2).is_empty());
}
