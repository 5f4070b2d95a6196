//! Nested pipelines: mappings, map_over, bound values, pruning, depth, engines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::*;
use hypernodes::prelude::*;
use hypernodes::{Engine, MapOutputs, MapPlan, Outputs, RunPlan};

#[node(output = "tokens")]
fn count_tokens(sentence: &str) -> usize {
    sentence.split_whitespace().count()
}

#[node(output = "total")]
fn total(token_counts: Vec<usize>) -> usize {
    token_counts.iter().sum()
}

#[node(output = "weighted")]
fn weight(tokens: usize, factor: i64) -> i64 {
    tokens as i64 * factor
}

#[node(output = "never")]
fn never(sentence: &str) -> usize {
    panic!("never must not run ({sentence})")
}

#[node(output = "grand_total")]
fn grand_total(totals: Vec<usize>) -> usize {
    totals.iter().sum()
}

fn sentences() -> Vec<String> {
    strings(&["a b c", "d e", "f"])
}

fn per_sentence() -> Pipeline {
    Pipeline::new([count_tokens::node()])
}

engine_test!(
    fn input_and_output_mapping(engine) {
        let inner = per_sentence()
            .as_node("inner")
            .with_input_mapping([("text", "sentence")])
            .with_output_mapping([("tokens", "n_tokens")])
            .build()?;
        assert_eq!(inner.params()[0].name(), "text");
        assert_eq!(inner.outputs()[0].name(), "n_tokens");
        let out = on(&engine, [inner]).run(&Inputs::new().with("text", "x y".to_string()))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["n_tokens"]);
        assert_eq!(out.get::<usize>("n_tokens")?, 2);
    }
);

engine_test!(
    fn unmapped_inputs_pass_through_and_unmapped_outputs_are_dropped(engine) {
        let inner = Pipeline::new([count_tokens::node(), weight::node()])
            .as_node("inner")
            .with_output_mapping([("weighted", "weighted")])
            .build()?;
        let names: Vec<&str> = inner.params().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["factor", "sentence"]);
        let out = on(&engine, [inner]).run(&Inputs::new().with("sentence", "a b".to_string()).with("factor", 10_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["weighted"]);
        assert_eq!(out.get::<i64>("weighted")?, 20);
    }
);

engine_test!(
    fn map_over_gives_one_list_per_output(engine) {
        let inner = per_sentence()
            .as_node("per_sentence")
            .with_input_mapping([("sentences", "sentence")])
            .with_output_mapping([("tokens", "token_counts")])
            .with_map_over(["sentences"])
            .build()?;
        assert_eq!(inner.params()[0].type_info().name(), "Vec<String>");
        assert_eq!(inner.outputs()[0].type_info().name(), "Vec<usize>");
        let p = on(&engine, [inner, total::node()]);
        let out = p.run(&Inputs::new().with("sentences", sentences()))?;
        assert_eq!(out.get::<Vec<usize>>("token_counts")?, [3, 2, 1]);
        assert_eq!(out.get::<usize>("total")?, 6);
        // Mapped over documents: a list of lists.
        let docs = vec![sentences(), strings(&["g h"]), vec![]];
        let out = p.map(&Inputs::new().with("sentences", docs), &["sentences"], MapMode::Zip)?;
        assert_eq!(out.column::<usize>("total")?, &[6, 2, 0]);
        assert_eq!(out.column::<Vec<usize>>("token_counts")?, &[vec![3, 2, 1], vec![2], vec![]]);
    }
);

engine_test!(
    fn nested_map_over_an_empty_list_gives_empty_lists(engine) {
        let inner = per_sentence().as_node("inner").with_map_over(["sentence"]).build()?;
        let out = on(&engine, [inner]).run(&Inputs::new().with("sentence", Vec::<String>::new()))?;
        assert_eq!(out.get::<Vec<usize>>("tokens")?, Vec::<usize>::new());
    }
);

engine_test!(
    fn nested_product_and_zip_over_two_lists(engine) {
        let label = Node::builder("label")
            .params(["a", "b"])
            .build(|a: String, b: i64| format!("{a}{b}"))?;
        let inner = Pipeline::new([label]);
        let product = inner.as_node("p").with_map_over(["a", "b"]).with_map_mode("product").build()?;
        let out = on(&engine, [product]).run(&Inputs::new().with("a", strings(&["x", "y"])).with("b", vec![1_i64, 2]))?;
        assert_eq!(out.get::<Vec<String>>("label")?, ["x1", "x2", "y1", "y2"]);
        let zip = inner.as_node("z").with_map_over(["a", "b"]).build()?;
        let p = on(&engine, [zip]);
        let out = p.run(&Inputs::new().with("a", strings(&["x", "y"])).with("b", vec![1_i64, 2]))?;
        assert_eq!(out.get::<Vec<String>>("label")?, ["x1", "y2"]);
        let err = p.run(&Inputs::new().with("a", strings(&["x"])).with("b", vec![1_i64, 2])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'z' failed: map_over lists must have equal lengths in zip mode: 'a' has 1, 'b' has 2"
        );
    }
);

engine_test!(
    fn inner_bound_values_are_neither_required_nor_overridable(engine) {
        let inner = Pipeline::new([count_tokens::node(), weight::node()])
            .bind(Inputs::new().with("factor", 100_i64))?
            .as_node("inner")
            .build()?;
        let names: Vec<&str> = inner.params().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["sentence"]);
        let out = on(&engine, [inner]).run(&Inputs::new().with("sentence", "a b".to_string()).with("factor", 1_i64))?;
        assert_eq!(out.get::<i64>("weighted")?, 200);
    }
);

engine_test!(
    fn nested_nodes_compute_only_what_is_consumed_or_selected(engine) {
        let inner = Pipeline::new([count_tokens::node(), never::node()]).as_node("inner").build()?;
        let p = on(&engine, [inner, weight::node()]);
        let inputs = Inputs::new().with("sentence", "a b c".to_string()).with("factor", 2_i64);
        let out = p.run_with(&inputs, &RunOptions::new().with_outputs(["weighted"]))?;
        assert_eq!(out.get::<i64>("weighted")?, 6);
        let out = p.run_with(&inputs, &RunOptions::new().with_outputs(["tokens"]))?;
        assert_eq!(out.get::<usize>("tokens")?, 3);
        // Asking for everything runs `never`, which panics inside the nested pipeline.
        let err = p.run(&inputs).unwrap_err();
        assert_eq!(err.to_string(), "Node 'inner' failed: Node 'never' panicked: never must not run (a b c)");
    }
);

engine_test!(
    fn three_levels_of_nesting(engine) {
        // Level 1: tokens of a sentence. Level 2: per document, a list of token counts
        // and their total. Level 3: per corpus, the totals of its documents.
        let level2 = Pipeline::new([
            per_sentence()
                .as_node("per_sentence")
                .with_input_mapping([("sentences", "sentence")])
                .with_output_mapping([("tokens", "token_counts")])
                .with_map_over(["sentences"])
                .build()?,
            total::node(),
        ]);
        let level3 = Pipeline::new([
            level2
                .as_node("per_document")
                .with_input_mapping([("documents", "sentences")])
                .with_output_mapping([("total", "totals")])
                .with_map_over(["documents"])
                .build()?,
            grand_total::node(),
        ]);
        assert_eq!(level3.input_type("documents").unwrap().name(), "Vec<Vec<String>>");
        let corpora = vec![vec![sentences(), strings(&["g h"])], vec![], vec![vec![]]];
        let p = on(&engine, [level3.as_node("per_corpus").with_map_over(["documents"]).build()?]);
        let out = p.run(&Inputs::new().with("documents", corpora))?;
        assert_eq!(out.get::<Vec<usize>>("grand_total")?, [8, 0, 0]);
        assert_eq!(out.get::<Vec<Vec<usize>>>("totals")?, [vec![6, 2], vec![], vec![0]]);
    }
);

#[test]
fn types_are_checked_across_the_boundary() {
    let inner = per_sentence()
        .as_node("inner")
        .with_input_mapping([("sentences", "sentence")])
        .with_map_over(["sentences"])
        .build()
        .unwrap();
    let producer = Node::builder("make")
        .params(["n"])
        .output("sentences")
        .build(|n: i64| vec![n])
        .unwrap();
    let err = Pipeline::try_new([producer, inner]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Type mismatch for 'sentences': node 'make' produces Vec<i64> but node 'inner' expects Vec<String>"
    );
}

#[test]
fn mapping_mistakes_are_named() {
    let err = per_sentence()
        .as_node("inner")
        .with_input_mapping([("text", "sentance")])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'inner': input mapping 'text' -> 'sentance' names no input of the nested pipeline. Inputs: ['sentence']"
    );
    let err = per_sentence()
        .as_node("inner")
        .with_output_mapping([("token", "t")])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'inner': output mapping 'token' -> 't' names no output of the nested pipeline. Outputs: ['tokens']"
    );
    let err = per_sentence()
        .as_node("inner")
        .with_map_over(["sentences"])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "map_over name 'sentences' is not an input. Inputs: ['sentence']. Did you mean 'sentence'?"
    );
    let err = per_sentence()
        .as_node("inner")
        .with_map_over(["sentence"])
        .with_map_mode("cross")
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "Unknown map mode 'cross'. Valid modes: zip, product");
}

/// An engine that counts the runs and maps it executes, delegating to the node engine.
#[derive(Debug, Default)]
struct Counting {
    calls: AtomicUsize,
}

impl Engine for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn run(&self, plan: &RunPlan) -> hypernodes::Result<Outputs> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        NodeEngine::new().run(plan)
    }
    fn map(&self, plan: &MapPlan) -> hypernodes::Result<MapOutputs> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        NodeEngine::new().map(plan)
    }
}

engine_test!(
    fn a_nested_pipeline_keeps_its_own_engine(engine) {
        let counting = Arc::new(Counting::default());
        let inner = per_sentence()
            .with_shared_engine(counting.clone())
            .as_node("inner")
            .with_map_over(["sentence"])
            .build()?;
        let out = on(&engine, [inner]).map(&Inputs::new().with("sentence", vec![sentences(), sentences()]), &["sentence"], MapMode::Zip)?;
        assert_eq!(out.column::<Vec<usize>>("tokens")?, &[vec![3, 2, 1], vec![3, 2, 1]]);
        assert_eq!(counting.calls.load(Ordering::SeqCst), 2);
    }
);

engine_test!(
    fn errors_inside_a_nested_map_name_both_levels(engine) {
        let checked = Node::builder("checked")
            .params(["sentence"])
            .try_build(|s: String| if s.is_empty() { Err("empty sentence") } else { Ok(s.len()) })?;
        let inner = Pipeline::new([checked]).as_node("per_sentence").with_map_over(["sentence"]).build()?;
        let docs = vec![strings(&["a"]), strings(&["b", "", "c"])];
        let err = on(&engine, [inner]).map(&Inputs::new().with("sentence", docs), &["sentence"], MapMode::Zip).unwrap_err();
        assert_eq!(err.to_string(), "Node 'per_sentence' failed on item 1: Node 'checked' failed on item 1: empty sentence");
    }
);
