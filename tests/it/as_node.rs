//! Nested pipelines: mappings, map_over, bound values, pruning, depth, engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;
use hypernodes::prelude::*;
use hypernodes::{AsNode, Engine, MapOutputs, MapPlan, Outputs, RunPlan};

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
        // `never` is an output of `inner` that nothing consumes: it neither runs nor is
        // returned.
        let out = p.run(&inputs)?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["tokens", "weighted"]);
        assert_eq!(out.get::<i64>("weighted")?, 6);
        let out = p.map(&Inputs::new().with("sentence", strings(&["a", "b c"])).with("factor", 2_i64), &["sentence"], "zip")?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["tokens", "weighted"]);
        assert_eq!(out.column::<i64>("weighted")?, [2, 4]);
        let out = p.run_with(&inputs, &RunOptions::new().with_outputs(["tokens"]))?;
        assert_eq!(out.get::<usize>("tokens")?, 3);
        // Selecting it runs `never`, which panics inside the nested pipeline.
        let err = p.run_with(&inputs, &RunOptions::new().with_outputs(["never"])).unwrap_err();
        assert_eq!(err.to_string(), "Node 'inner' failed: Node 'never' panicked: never must not run (a b c)");
    }
);

/// A closure node `output = f(param)` over `i64` that counts its calls.
fn counted(name: &str, param: &str, output: &str, calls: &Arc<AtomicUsize>, f: fn(i64) -> i64) -> Node {
    let calls = calls.clone();
    Node::builder(name)
        .params([param])
        .output(output)
        .build(move |x: i64| {
            calls.fetch_add(1, Ordering::SeqCst);
            f(x)
        })
        .unwrap()
}

/// Call counters of the three chains of [`three_outputs`].
#[derive(Default)]
struct Calls {
    a: Arc<AtomicUsize>,
    b: Arc<AtomicUsize>,
    c: Arc<AtomicUsize>,
}

impl Calls {
    fn counts(&self) -> [usize; 3] {
        [&self.a, &self.b, &self.c].map(|c| c.load(Ordering::SeqCst))
    }
}

/// `P[a, b, c]` over `x` as a node named `name`, its outputs mapped out as `first`,
/// `second` and `third`.
fn three_outputs(name: &str, calls: &Calls) -> AsNode {
    Pipeline::new([
        counted("a", "x", "a", &calls.a, |x| x + 1),
        counted("b", "x", "b", &calls.b, |x| x + 2),
        counted("c", "x", "c", &calls.c, |x| x + 3),
    ])
    .as_node(name)
    .with_output_mapping([("a", "first"), ("b", "second"), ("c", "third")])
}

#[node(output = "used")]
fn use_first(first: i64) -> i64 {
    first * 10
}

engine_test!(
    fn a_nested_node_returns_what_the_parent_consumes(engine) {
        // The original library's example: outer P[N(inner), square] with inner =
        // P[double, add_one]; square reads `incremented`.
        let inner = Pipeline::new([double::node(), add_one::node()]).as_node("inner").build()?;
        let p = on(&engine, [inner, square::node()]);
        let out = p.run(&Inputs::new().with("x", 5_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["incremented", "squared"]);
        assert_eq!((out.get::<i64>("incremented")?, out.get::<i64>("squared")?), (11, 121));
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip")?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["incremented", "squared"]);
        assert_eq!(out.column::<i64>("squared")?, [9, 25]);
        // Asked for, `doubled` is returned.
        let out = p.run_with(&Inputs::new().with("x", 5_i64), &RunOptions::new().with_outputs(["doubled", "squared"]))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["doubled", "squared"]);
        assert_eq!(out.get::<i64>("doubled")?, 10);
    }
);

engine_test!(
    fn a_terminal_nested_node_returns_all_its_outputs(engine) {
        let inner = Pipeline::new([double::node(), add_one::node()]).as_node("inner").build()?;
        let p = on(&engine, [inner.clone()]);
        let out = p.run(&Inputs::new().with("x", 5_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["doubled", "incremented"]);
        assert_eq!((out.get::<i64>("doubled")?, out.get::<i64>("incremented")?), (10, 11));
        // Beside a node that reads none of its outputs, it is still terminal.
        let p = on(&engine, [inner, clean_text::node()]);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2]).with("passage", " A ".to_string()), &["x"], "zip")?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["cleaned_text", "doubled", "incremented"]);
        assert_eq!(out.column::<i64>("doubled")?, [2, 4]);
    }
);

engine_test!(
    fn only_the_inner_nodes_of_consumed_outputs_run(engine) {
        let calls = Calls::default();
        let p = on(&engine, [three_outputs("inner", &calls).build()?, use_first::node()]);
        let out = p.run(&Inputs::new().with("x", 1_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "used"]);
        assert_eq!(out.get::<i64>("used")?, 20);
        assert_eq!(calls.counts(), [1, 0, 0]);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("used")?, [20, 30, 40]);
        assert_eq!(calls.counts(), [4, 0, 0]);
        // An output selected explicitly is computed and returned though nothing reads it.
        let out = p.run_with(&Inputs::new().with("x", 1_i64), &RunOptions::new().with_outputs(["second", "used"]))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["second", "used"]);
        assert_eq!(out.get::<i64>("second")?, 3);
        assert_eq!(calls.counts(), [5, 1, 0]);
        // Terminal: every output.
        let out = on(&engine, [three_outputs("inner", &calls).build()?]).run(&Inputs::new().with("x", 1_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "second", "third"]);
        assert_eq!(calls.counts(), [6, 2, 1]);
    }
);

engine_test!(
    fn only_consumed_outputs_run_in_a_nested_map(engine) {
        let calls = Calls::default();
        let inner = three_outputs("inner", &calls).with_map_over(["x"]).build()?;
        let sum = Node::builder("sum").params(["first"]).output("used").build(|v: Vec<i64>| v.iter().sum::<i64>())?;
        let p = on(&engine, [inner, sum]);
        let out = p.run(&Inputs::new().with("x", vec![1_i64, 2]))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "used"]);
        assert_eq!(out.get::<i64>("used")?, 5);
        assert_eq!(calls.counts(), [2, 0, 0]);
        let out = p.map(&Inputs::new().with("x", vec![vec![1_i64], vec![], vec![2, 3]]), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("used")?, [2, 0, 7]);
        assert_eq!(out.column::<Vec<i64>>("first")?, [vec![2], vec![], vec![3, 4]]);
        assert_eq!(calls.counts(), [5, 0, 0]);
    }
);

#[node(output = "a")]
fn kernel_a(x: i64) -> i64 {
    x + 1
}

#[node(output = "b")]
fn kernel_b(x: i64) -> i64 {
    panic!("b must not run ({x})")
}

engine_test!(
    fn unconsumed_vectorized_inner_nodes_do_not_run(engine) {
        // `b` has a vectorized kernel: running it at all would panic.
        let inner = Pipeline::new([kernel_a::node(), kernel_b::node()])
            .as_node("inner")
            .with_output_mapping([("a", "first"), ("b", "second")]);
        let p = on(&engine, [inner.clone().build()?, use_first::node()]);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip")?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "used"]);
        assert_eq!(out.column::<i64>("used")?, [20, 30]);
        let sum = Node::builder("sum").params(["first"]).output("used").build(|v: Vec<i64>| v.iter().sum::<i64>())?;
        let p = on(&engine, [inner.with_map_over(["x"]).build()?, sum]);
        let out = p.map(&Inputs::new().with("x", vec![vec![1_i64, 2], vec![3]]), &["x"], "zip")?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "used"]);
        assert_eq!(out.column::<i64>("used")?, [5, 4]);
    }
);

engine_test!(
    fn pruning_holds_at_two_and_three_levels(engine) {
        let calls = Calls::default();
        // Level 2: P[N1(P[a, b, c]), use_first]; level 3: P[N2(level 2), tenfold(used)].
        let level2 = Pipeline::new([three_outputs("n1", &calls).build()?, use_first::node()]);
        let tenfold = Node::builder("tenfold").params(["used"]).output("hundred").build(|u: i64| u * 10)?;
        let level3 = Pipeline::new([level2.as_node("n2").build()?, tenfold]);
        let out = on(&engine, [level3.as_node("n3").build()?]).run(&Inputs::new().with("x", 1_i64))?;
        // n3 is terminal: all its outputs, which are every output of level 3 (n2's included).
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "hundred", "second", "third", "used"]);
        assert_eq!(calls.counts(), [1, 1, 1]);
        // Read from outside, only `hundred`'s chain runs, at every level.
        let last = Node::builder("last").params(["hundred"]).output("thousand").build(|h: i64| h * 10)?;
        let p = on(&engine, [level3.as_node("n3").build()?, last]);
        let out = p.run(&Inputs::new().with("x", 1_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["hundred", "thousand"]);
        assert_eq!(out.get::<i64>("thousand")?, 2000);
        assert_eq!(calls.counts(), [2, 1, 1]);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("thousand")?, [2000, 3000]);
        assert_eq!(calls.counts(), [4, 1, 1]);
        // Two levels, mapped over lists at each: only `a` runs.
        let level2 = Pipeline::new([three_outputs("n1", &calls).with_map_over(["x"]).build()?]);
        let sum = Node::builder("sum").params(["first"]).output("total").build(|v: Vec<Vec<i64>>| v.iter().flatten().sum::<i64>())?;
        let p = on(&engine, [level2.as_node("n2").with_map_over(["x"]).build()?, sum]);
        let out = p.run(&Inputs::new().with("x", vec![vec![1_i64, 2], vec![3]]))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["first", "total"]);
        assert_eq!(out.get::<i64>("total")?, 9);
        assert_eq!(calls.counts(), [7, 1, 1]);
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

/// A one-node closure pipeline `x -> y = 3x`: no vectorized kernel.
fn tripled() -> Pipeline {
    Pipeline::new([Node::builder("triple")
        .params(["x"])
        .output("y")
        .build(|x: i64| 3 * x)
        .unwrap()])
}

engine_test!(
    fn an_unmapped_nested_pipeline_of_a_row_by_row_node(engine) {
        let p = on(&engine, [tripled().as_node("inner").build()?]);
        assert_eq!(p.run(&Inputs::new().with("x", 5_i64))?.get::<i64>("y")?, 15);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("y")?, [3, 6]);
        // Read by a vectorized node after it.
        let p = on(&engine, [tripled().as_node("inner").with_output_mapping([("y", "doubled")]).build()?, add_one::node()]);
        let out = p.run(&Inputs::new().with("x", 5_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["doubled", "incremented"]);
        assert_eq!(out.get::<i64>("incremented")?, 16);
    }
);

/// A model: not `Clone`, not columnar, read by reference.
struct Model {
    weight: i64,
}

#[node(output = "score")]
fn score(model: &Model, x: i64) -> i64 {
    model.weight * x
}

engine_test!(
    fn an_unmapped_nested_pipeline_with_a_resource_and_bound_inputs(engine) {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let model = Value::lazy(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Model { weight: 7 }
        });
        // The resource bound inside the nested pipeline, beside a bound plain value.
        let scale = Node::builder("scale").params(["score", "factor"]).output("scaled").build(|s: i64, f: i64| s * f)?;
        let inner = Pipeline::new([score::node(), scale])
            .bind(Inputs::new().with_value("model", model).with("factor", 2_i64))?;
        let p = on(&engine, [inner.as_node("inner").build()?]);
        let out = p.run(&Inputs::new().with("x", 5_i64))?;
        assert_eq!((out.get::<i64>("score")?, out.get::<i64>("scaled")?), (35, 70));
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("scaled")?, [14, 28, 42]);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        // The resource given from outside, through an input mapping.
        let outer_model = Value::lazy(|| Model { weight: 10 });
        let p = on(&engine, [Pipeline::new([score::node()]).as_node("inner").with_input_mapping([("m", "model")]).build()?]);
        let out = p.run(&Inputs::new().with("x", 5_i64).with_value("m", outer_model.clone()))?;
        assert_eq!(out.get::<i64>("score")?, 50);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2]).with_value("m", outer_model), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("score")?, [10, 20]);
    }
);

#[node(output = "checked")]
fn refuse_three(tokens: usize) -> Result<usize, String> {
    match tokens {
        3 => Err("three tokens".to_string()),
        n => Ok(n),
    }
}

engine_test!(
    fn as_node_without_a_name_takes_the_pipelines_name(engine) {
        let inner = per_sentence().with_name("counting");
        let node = AsNode::new(&inner)
            .with_input_mapping([("sentences", "sentence")])
            .with_map_over(["sentences"])
            .build()?;
        assert_eq!(node.name(), "counting");
        let outer = on(&engine, [node]);
        let out = outer.run(&Inputs::new().with("sentences", sentences()))?;
        assert_eq!(out.get::<Vec<usize>>("tokens")?, [3, 2, 1]);

        // Messages name the node after the pipeline.
        let failing = Pipeline::new([count_tokens::node(), refuse_three::node()]).with_name("checking");
        let node = AsNode::new(&failing)
            .with_input_mapping([("sentences", "sentence")])
            .with_map_over(["sentences"])
            .build()?;
        let err = on(&engine, [node]).run(&Inputs::new().with("sentences", sentences())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'checking' failed: Node 'refuse_three' failed on item 0: three tokens"
        );

        // A name given wins; a pipeline without a name needs one.
        assert_eq!(AsNode::new(&inner).with_name("other").build()?.name(), "other");
        assert_eq!(inner.as_node("given").build()?.name(), "given");
        let err = AsNode::new(&per_sentence()).build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "A nested pipeline without a name needs one for its node: name the pipeline (Pipeline::with_name) or the node (AsNode::with_name)"
        );
        assert_eq!(err.code(), "HN024");
    }
);

engine_test!(
    fn a_nested_node_gives_back_its_pipeline(engine) {
        let inner = per_sentence().with_name("counting");
        let node = inner
            .as_node("per_sentence")
            .with_input_mapping([("sentences", "sentence")])
            .with_map_over(["sentences"])
            .build()?;
        let back = node.pipeline().expect("a nested node");
        assert_eq!(back.name(), Some("counting"));
        assert_eq!(back.inputs(), ["sentence"]);
        assert_eq!(back.outputs(), ["tokens"]);
        assert!(count_tokens::node().pipeline().is_none());
        // The pipeline given back runs as the one put in.
        let one = Inputs::new().with("sentence", "a b c d".to_string());
        let back = back.with_shared_engine(engine.clone());
        assert_eq!(back.run(&one)?.get::<usize>("tokens")?, 4);
        // And from a pipeline's nodes.
        let outer = on(&engine, [node.clone(), grand_total::node()]);
        let nested: Vec<&str> = outer.nodes().iter().filter_map(|n| n.pipeline()?.name()).collect();
        assert_eq!(nested, ["counting"]);
    }
);
