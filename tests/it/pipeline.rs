//! Building pipelines: validation, order, inputs and outputs.

use crate::common::*;
use hypernodes::prelude::*;

#[node(output = "b")]
fn a_to_b(a: i64) -> i64 {
    a
}

#[node(output = "a")]
fn b_to_a(b: i64) -> i64 {
    b
}

#[node(output = "x")]
fn own_output(x: i64) -> i64 {
    x
}

#[node(output = "b")]
fn other_b(a: i64) -> i64 {
    a + 1
}

#[node(output = "doubled")]
fn double_text(x: i64) -> String {
    x.to_string()
}

#[node(output = "n")]
fn reads_x_as_string(x: String) -> usize {
    x.len()
}

#[test]
fn duplicate_output_names_both_nodes() {
    let err = Pipeline::try_new([a_to_b::node(), other_b::node()]).unwrap_err();
    assert_eq!(err.to_string(), "Multiple nodes produce output 'b': a_to_b and other_b");
    match err {
        Error::DuplicateOutput { output, first, second } => {
            assert_eq!((&*output, &*first, &*second), ("b", "a_to_b", "other_b"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn cycle_is_reported_as_a_path() {
    let err = Pipeline::try_new([b_to_a::node(), a_to_b::node()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cycle detected in pipeline: a_to_b -> b_to_a -> a_to_b"
    );
}

#[test]
fn a_node_consuming_its_own_output_is_a_cycle() {
    let err = Pipeline::try_new([own_output::node()]).unwrap_err();
    assert_eq!(err.to_string(), "Cycle detected in pipeline: own_output -> own_output");
    assert!(matches!(err, Error::Cycle { ref path } if path.len() == 2));
}

#[test]
fn type_mismatch_names_both_nodes_and_types() {
    let err = Pipeline::try_new([double_text::node(), add_one::node()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Type mismatch for 'doubled': node 'double_text' produces String but node 'add_one' expects i64"
    );
}

#[test]
fn two_readers_of_one_input_must_agree_on_its_type() {
    let err = Pipeline::try_new([double::node(), reads_x_as_string::node()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Input 'x' is read as i64 by node 'double' but as String by node 'reads_x_as_string'"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = Pipeline::try_new([
        a_to_b::node(),
        other_b::node(),
        own_output::node(),
        double_text::node(),
        add_one::node(),
    ])
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "3 problems found:\n  \
         - Multiple nodes produce output 'b': a_to_b and other_b\n  \
         - Type mismatch for 'doubled': node 'double_text' produces String but node 'add_one' expects i64\n  \
         - Cycle detected in pipeline: own_output -> own_output"
    );
}

#[test]
fn order_is_topological_and_independent_of_listing() {
    let names = |p: &Pipeline| p.nodes().iter().map(|n| n.name().to_string()).collect::<Vec<_>>();
    let forward = Pipeline::try_new([clean_text::node(), count_words::node(), char_count::node()]).unwrap();
    let backward = Pipeline::try_new([char_count::node(), count_words::node(), clean_text::node()]).unwrap();
    assert_eq!(names(&forward), ["clean_text", "char_count", "count_words"]);
    assert_eq!(names(&forward), names(&backward));
    let chain = Pipeline::try_new([square::node(), add_one::node(), double::node()]).unwrap();
    assert_eq!(names(&chain), ["double", "add_one", "square"]);
}

#[test]
fn inputs_and_outputs_are_listed_sorted() {
    let p = Pipeline::try_new(w2().into_iter().chain(w1())).unwrap();
    assert_eq!(p.inputs(), ["passage", "x"]);
    assert_eq!(
        p.outputs(),
        [
            "char_count",
            "cleaned_text",
            "doubled",
            "incremented",
            "squared",
            "word_count"
        ]
    );
    assert_eq!(p.input_type("x").map(|t| t.name()), Some("i64".to_string()));
    assert_eq!(p.output_type("word_count").map(|t| t.name()), Some("usize".to_string()));
    assert_eq!(p.input_type("nope"), None);
}

#[test]
fn an_empty_pipeline_is_valid_and_returns_nothing() {
    let p = Pipeline::try_new([]).unwrap();
    assert!(p.run(&Inputs::new().with("x", 1_i64)).unwrap().is_empty());
}

#[test]
fn pipelines_are_cheap_clones_with_names() {
    let p = Pipeline::new(w1()).with_name("w1");
    let q = p.clone();
    assert_eq!(q.name(), Some("w1"));
    assert_eq!(
        format!("{q:?}"),
        "Pipeline { name: Some(\"w1\"), nodes: [\"double\", \"add_one\", \"square\"], needs: [\"x\"], bound: {}, outputs: [\"doubled\", \"incremented\", \"squared\"] }"
    );
}

#[node(output = "total")]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[test]
fn debug_shows_what_a_pipeline_needs_and_what_is_bound() {
    let p = Pipeline::new([add::node(), double::node()]);
    assert_eq!(
        format!("{p:?}"),
        r#"Pipeline { name: None, nodes: ["add", "double"], needs: ["a", "b", "x"], bound: {}, outputs: ["doubled", "total"] }"#
    );
    let p = p
        .bind(Inputs::new().with("b", 2_i64).with("x", vec![1_i64, 2]))
        .unwrap();
    assert_eq!(
        format!("{p:?}"),
        r#"Pipeline { name: None, nodes: ["add", "double"], needs: ["a"], bound: {"b": Value<i64>, "x": Value<Vec<i64>>}, outputs: ["doubled", "total"] }"#
    );
    assert_eq!(
        format!("{:?}", p.unbind(&["x"])),
        r#"Pipeline { name: None, nodes: ["add", "double"], needs: ["a", "x"], bound: {"b": Value<i64>}, outputs: ["doubled", "total"] }"#
    );
}

#[test]
#[should_panic(expected = "invalid pipeline: Multiple nodes produce output 'b': a_to_b and other_b")]
fn new_panics_with_the_validation_message() {
    Pipeline::new([a_to_b::node(), other_b::node()]);
}
