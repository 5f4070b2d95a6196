//! The whole pipeline as one DataFusion plan (`ColumnarEngine::apply_to_dataframe`):
//! kernels, SQL expressions, closures, `async fn` nodes and nested pipelines mapped over
//! list columns in one logical plan, giving each engine's own results.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::UInt64Type;
use datafusion::prelude::SessionContext;
use hypernodes::prelude::*;
use hypernodes::{ColumnarEngine, Engine, Error, Node};

use crate::common::*;

#[node(output = "shouted")]
async fn shout(passage: String) -> String {
    passage.to_uppercase()
}

/// Rows of passages and their sentences.
fn docs() -> RecordBatch {
    let mut list = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new());
    for row in [vec!["a b", "c"], vec![], vec!["d e f", "g h", "i"]] {
        for s in row {
            list.values().append_value(s);
        }
        list.append(true);
    }
    RecordBatch::try_from_iter([
        ("passage", Arc::new(StringArray::from(vec!["x y", "", "z"])) as _),
        ("sentences", Arc::new(list.finish()) as _),
    ])
    .unwrap()
}

fn docs_inputs() -> Inputs {
    Inputs::new().with("passage", strings(&["x y", "", "z"])).with(
        "sentences",
        vec![strings(&["a b", "c"]), vec![], strings(&["d e f", "g h", "i"])],
    )
}

/// A kernel node, a closure, an `async fn`, a SQL expression and a nested pipeline
/// mapped over a list column, then a node reading the nested output.
fn everything(engine: &Arc<dyn Engine>) -> Pipeline {
    let closure = Node::builder("letters")
        .params(["passage"])
        .output("letters")
        .build(|p: String| p.chars().filter(|c| c.is_alphabetic()).count() as i64)
        .unwrap();
    let nested = per_sentence_pipeline(engine);
    let mut nodes: Vec<Node> = nested.nodes().to_vec();
    nodes.extend([
        count_words::node()
            .renamed("words", &[("cleaned_text", "passage")], &[])
            .unwrap(),
        closure,
    ]);
    nodes.push(shout::node());
    on(engine, nodes)
}

fn collect(frame: datafusion::dataframe::DataFrame) -> RecordBatch {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let batches = rt.block_on(frame.collect()).unwrap();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

engine_test!(
    fn one_plan_gives_the_engines_results(engine) {
        let p = everything(&engine);
        let expected = p.map(&docs_inputs(), &["passage", "sentences"], MapMode::Zip)?;
        let frame = SessionContext::new().read_batch(docs()).unwrap();
        let out = collect(ColumnarEngine::apply_to_dataframe(&p, frame)?);
        let names: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(
            names,
            ["passage", "sentences", "letters", "token_counts", "shouted", "total", "word_count"]
        );
        let totals: Vec<usize> = out.column_by_name("total").unwrap().as_primitive::<UInt64Type>().values().iter().map(|&v| v as usize).collect();
        assert_eq!(totals, [3, 0, 6]);
        assert_eq!(totals, expected.column::<usize>("total")?);
        let counts = out.column_by_name("token_counts").unwrap().as_list::<i32>();
        let counts: Vec<Vec<u64>> = (0..3).map(|i| counts.value(i).as_primitive::<UInt64Type>().values().to_vec()).collect();
        assert_eq!(counts, [vec![2, 1], vec![], vec![3, 2, 1]]);
        let expected_counts: Vec<Vec<u64>> = expected.column::<Vec<usize>>("token_counts")?.iter().map(|v| v.iter().map(|&c| c as u64).collect()).collect();
        assert_eq!(counts, expected_counts);
        let words: Vec<usize> = out.column_by_name("word_count").unwrap().as_primitive::<UInt64Type>().values().iter().map(|&v| v as usize).collect();
        assert_eq!(words, expected.column::<usize>("word_count")?);
        assert_eq!(
            out.column_by_name("letters").unwrap().as_ref(),
            &Int64Array::from(expected.column::<i64>("letters")?.to_vec()) as &dyn Array
        );
        assert_eq!(
            out.column_by_name("shouted").unwrap().as_ref(),
            &StringArray::from(expected.column::<String>("shouted")?.to_vec()) as &dyn Array
        );
    }
);

struct Model;

#[test]
fn nodes_over_types_that_are_not_arrow_make_a_pipeline_unfit_for_one_plan() {
    let load = Node::builder("load")
        .params(["path"])
        .output("model")
        .build(|_: String| Arc::new(Model))
        .unwrap();
    let apply = Node::builder("apply")
        .params(["model", "passage"])
        .output("scored")
        .build(|_: Arc<Model>, p: String| p.len() as i64)
        .unwrap();
    let p = Pipeline::new([load, apply, count_words::node()]);
    let frame = SessionContext::new().read_batch(docs()).unwrap();
    let err = ColumnarEngine::apply_to_dataframe(&p, frame).unwrap_err();
    assert!(matches!(err, Error::Unfit { .. }));
    assert_eq!(
        err.to_string(),
        "The pipeline cannot run as one DataFusion plan: node 'load' returns 'model' as Arc<Model>, which is \
         not an Arrow type; node 'apply' reads 'model' as Arc<Model>, which is not an Arrow type"
    );
}
