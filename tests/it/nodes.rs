//! The `#[node]` macro and the closure builder.

use crate::common::*;
use hypernodes::prelude::*;
use hypernodes::{TypeInfo, Volatility};

#[node]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[node(output = ("quotient", "remainder"))]
fn divmod(a: i64, b: i64) -> (i64, i64) {
    (a / b, a % b)
}

#[node(output = "now", cache = false)]
fn volatile_clock() -> u64 {
    7
}

mod v1 {
    use hypernodes::node;
    #[node(output = "y", version = "1")]
    pub fn f(x: i64) -> i64 {
        x + 1
    }
}

mod v2 {
    use hypernodes::node;
    #[node(output = "y", version = "2")]
    pub fn f(x: i64) -> i64 {
        x + 1
    }
}

mod v2_other_body {
    use hypernodes::node;
    #[node(output = "y", version = "2")]
    pub fn f(x: i64) -> i64 {
        x + 2
    }
}

#[node(output = "total")]
fn sum_ref(values: &[i64]) -> i64 {
    values.iter().sum()
}

#[node(output = "len", name = "length_of")]
fn owned_len(text: String) -> usize {
    text.len()
}

#[node(output = "parsed")]
fn parse(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.trim().parse()
}

#[node(output = "waited")]
async fn wait_and_double(x: i64) -> i64 {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    x * 2
}

fn names(ports: &[hypernodes::node::Port]) -> Vec<String> {
    ports
        .iter()
        .map(|p| format!("{}: {}", p.name(), p.type_info()))
        .collect()
}

#[test]
fn functions_stay_callable_as_written() {
    assert_eq!(clean_text("  Hello "), "hello");
    assert_eq!(divmod(7, 2), (3, 1));
    assert_eq!(shout("a"), "A");
    assert_eq!(sum_ref(&[1, 2]), 3);
}

#[test]
fn macro_declares_names_and_types() {
    let n = clean_text::node();
    assert_eq!(n.name(), "clean_text");
    assert_eq!(names(n.params()), ["passage: String"]);
    assert_eq!(names(n.outputs()), ["cleaned_text: String"]);
    assert_eq!(names(divmod::node().outputs()), ["quotient: i64", "remainder: i64"]);
    assert_eq!(names(sum_ref::node().params()), ["values: Vec<i64>"]);
    let n = owned_len::node();
    assert_eq!(n.name(), "length_of");
    assert_eq!(names(n.params()), ["text: String"]);
    assert_eq!(names(parse::node().outputs()), ["parsed: i64"]);
    assert!(!n.is_nested());
}

#[test]
fn output_defaults_to_the_function_name() {
    assert_eq!(names(shout::node().outputs()), ["shout: String"]);
}

#[test]
fn cache_false_makes_a_volatile_node() {
    assert_eq!(volatile_clock::node().volatility(), Volatility::Volatile);
    assert_eq!(shout::node().volatility(), Volatility::Immutable);
}

#[test]
fn code_hash_follows_version_and_body() {
    let h1 = v1::f::node().code_hash().to_string();
    let h2 = v2::f::node().code_hash().to_string();
    let h3 = v2_other_body::f::node().code_hash().to_string();
    assert_eq!(h1.len(), 64);
    assert!(h1.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(h1, h2);
    assert_ne!(h2, h3);
    assert_eq!(h2, v2::f::node().code_hash());
}

engine_test!(
    fn tuple_outputs_split_into_named_values(engine) {
        let out = on(&engine, [divmod::node()]).run(&Inputs::new().with("a", 17_i64).with("b", 5_i64))?;
        assert_eq!(out.get::<i64>("quotient")?, 3);
        assert_eq!(out.get::<i64>("remainder")?, 2);
        assert_eq!(out.names().collect::<Vec<_>>(), ["quotient", "remainder"]);
    }
);

engine_test!(
    fn reference_and_owned_parameters(engine) {
        let p = on(&engine, [sum_ref::node(), owned_len::node()]);
        let out = p.run(&Inputs::new().with("values", vec![1_i64, 2, 3]).with("text", "abcd".to_string()))?;
        assert_eq!(out.get::<i64>("total")?, 6);
        assert_eq!(out.get::<usize>("len")?, 4);
    }
);

engine_test!(
    fn fallible_node_ok_and_err(engine) {
        let p = on(&engine, [parse::node()]);
        assert_eq!(p.run(&Inputs::new().with("text", " 42 ".to_string()))?.get::<i64>("parsed")?, 42);
        let err = p.run(&Inputs::new().with("text", "4x".to_string())).unwrap_err();
        assert_eq!(err.to_string(), "Node 'parse' failed: invalid digit found in string");
        assert!(matches!(err, Error::NodeFailed { ref node, item: None, .. } if &**node == "parse"));
    }
);

engine_test!(
    fn async_nodes_run_to_completion(engine) {
        let p = on(&engine, [wait_and_double::node()]);
        assert_eq!(p.run(&Inputs::new().with("x", 4_i64))?.get::<i64>("waited")?, 8);
        let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], MapMode::Zip)?;
        assert_eq!(out.column::<i64>("waited")?, &[2, 4, 6]);
    }
);

#[tokio::test]
async fn async_nodes_run_from_inside_a_tokio_runtime() {
    let p = Pipeline::new([wait_and_double::node()]);
    assert_eq!(
        p.run(&Inputs::new().with("x", 5_i64))
            .unwrap()
            .get::<i64>("waited")
            .unwrap(),
        10
    );
}

engine_test!(
    fn closure_nodes(engine) {
        let scale = 3;
        let times = Node::builder("times").params(["x"]).output("scaled").build(move |x: i64| x * scale)?;
        let split = Node::builder("split")
            .params(["scaled"])
            .outputs(["high", "low"])
            .build_tuple(|s: i64| (s / 10, s % 10))?;
        let checked = Node::builder("checked")
            .params(["low"])
            .output("ok")
            .try_build(|low: i64| if low < 5 { Ok(low) } else { Err(format!("{low} is too big")) })?;
        let p = on(&engine, [times, split, checked]);
        let out = p.run(&Inputs::new().with("x", 14_i64))?;
        assert_eq!((out.get::<i64>("high")?, out.get::<i64>("low")?, out.get::<i64>("ok")?), (4, 2, 2));
        let err = p.run(&Inputs::new().with("x", 3_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'checked' failed: 9 is too big");
    }
);

#[test]
fn closure_builder_checks_names_against_the_function() {
    let err = Node::builder("f")
        .params(["a", "b"])
        .output("y")
        .build(|a: i64| a)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'f' names 2 parameter(s) [a, b] but its function takes 1"
    );
    let err = Node::builder("g")
        .params(["a"])
        .outputs(["p", "q", "r"])
        .build_tuple(|a: i64| (a, a))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'g' names 3 output(s) [p, q, r] but its function returns a tuple of 2"
    );
    let err = Node::builder("h")
        .params(["a"])
        .outputs(["p", "q"])
        .build(|a: i64| a)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'h' names 2 outputs [p, q] but its function returns one value; use build_tuple"
    );
}

#[test]
fn closure_node_hash_follows_version() {
    let a = Node::builder("f").params(["x"]).build(|x: i64| x).unwrap();
    let b = Node::builder("f").params(["x"]).version("2").build(|x: i64| x).unwrap();
    let c = Node::builder("f").params(["x"]).version("2").build(|x: i64| x).unwrap();
    assert_ne!(a.code_hash(), b.code_hash());
    assert_eq!(b.code_hash(), c.code_hash());
    assert_eq!(a.outputs()[0].name(), "f");
    assert_eq!(a.outputs()[0].type_info(), TypeInfo::of::<i64>());
}

/// A closure node made by a factory: `x -> x + k`.
fn add_k(k: i64, declared: bool) -> Node {
    let builder = Node::builder("add_k").params(["x"]).output("y");
    let builder = if declared { builder.captures(&k) } else { builder };
    builder.build(move |x: i64| x + k).unwrap()
}

#[test]
fn closures_made_by_a_factory_hash_their_declared_captures() {
    let (one, two) = (add_k(1, true), add_k(2, true));
    assert_ne!(one.code_hash(), two.code_hash());
    assert_eq!(one.code_hash(), add_k(1, true).code_hash());
    assert_eq!(
        (one.volatility(), two.volatility()),
        (Volatility::Immutable, Volatility::Immutable)
    );
    // Undeclared, the captured value cannot be seen: the node is never cached.
    let (one, two) = (add_k(1, false), add_k(2, false));
    assert_eq!(one.code_hash(), two.code_hash());
    assert_eq!(
        (one.volatility(), two.volatility()),
        (Volatility::Volatile, Volatility::Volatile)
    );
    // A closure capturing nothing is cacheable with nothing declared.
    let pure = Node::builder("add_one")
        .params(["x"])
        .output("y")
        .build(|x: i64| x + 1)
        .unwrap();
    assert_eq!(pure.volatility(), Volatility::Immutable);
    // Closures of the same name and ports written in different functions (here, one
    // inside another closure) differ by their type names.
    let elsewhere = || {
        Node::builder("add_one")
            .params(["x"])
            .output("y")
            .build(|x: i64| x + 2)
            .unwrap()
    };
    assert_ne!(pure.code_hash(), elsewhere().code_hash());
    // A nested pipeline's hash covers its inner nodes' hashes.
    let nested = |k| Pipeline::new([add_k(k, true)]).as_node("inner").build().unwrap();
    assert_ne!(nested(1).code_hash(), nested(2).code_hash());
}

engine_test!(
    fn factory_closures_compute_with_their_own_values(engine) {
        let p = on(&engine, [add_k(1, true)]);
        let q = on(&engine, [add_k(2, true)]);
        let inputs = Inputs::new().with("x", vec![10_i64, 20]);
        assert_eq!(p.map(&inputs, &["x"], "zip")?.column::<i64>("y")?, [11, 21]);
        assert_eq!(q.map(&inputs, &["x"], "zip")?.column::<i64>("y")?, [12, 22]);
    }
);
