//! `Pipeline::with_entrypoint`: the part of a pipeline that starts at a node.

use crate::common::*;
use hypernodes::prelude::*;

/// `base` (from `x`), two arms over it (`left`, `right`), `both` over the two arms, and
/// `upstream_only` reading `x`: every node but `base` and `upstream_only` is downstream
/// of `left` or `right`.
fn diamond() -> Vec<Node> {
    let node = |name: &str, params: &[&str], output: &str, f: fn(i64, i64) -> i64| {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        match params.len() {
            1 => Node::builder(name)
                .params(params)
                .output(output)
                .build(move |a: i64| f(a, 0)),
            _ => Node::builder(name).params(params).output(output).build(f),
        }
        .unwrap()
    };
    vec![
        node("base", &["x"], "base", |x, _| x + 1),
        node("left", &["base"], "l", |b, _| b * 10),
        node("right", &["base"], "r", |b, _| b * 100),
        node("both", &["l", "r"], "sum", |l, r| l + r),
        node("upstream_only", &["x"], "echo", |x, _| -x),
    ]
}

engine_test!(
    fn a_pipeline_started_at_a_node_runs_only_it_and_what_follows(engine) {
        let p = on(&engine, w1()).with_name("w1");
        let rest = p.with_entrypoint("add_one")?;
        assert_eq!(rest.name(), Some("w1"));
        assert_eq!(rest.inputs(), ["doubled"]);
        assert_eq!(rest.outputs(), ["incremented", "squared"]);
        let names: Vec<&str> = rest.nodes().iter().map(Node::name).collect();
        assert_eq!(names, ["add_one", "square"]);
        // The engine set on the pipeline is kept.
        let out = rest.run(&Inputs::new().with("doubled", 4_i64))?;
        assert_eq!(out.get::<i64>("incremented")?, 5);
        assert_eq!(out.get::<i64>("squared")?, 25);
        assert_eq!(out.len(), 2);
        let out = rest.map(&Inputs::new().with("doubled", vec![0_i64, 1, 2]), &["doubled"], "zip")?;
        assert_eq!(out.column::<i64>("squared")?, [1, 4, 9]);
        // The upstream input is no longer asked for.
        let err = rest.run(&Inputs::new().with("x", 1_i64)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Missing required input(s): ['doubled']. Required inputs: ['doubled']"
        );
        // Starting at the first node is the whole pipeline; at the last, that node.
        assert_eq!(p.with_entrypoint("double")?.nodes().len(), 3);
        let last = p.with_entrypoint("square")?;
        assert_eq!(last.inputs(), ["incremented"]);
        assert_eq!(last.run(&Inputs::new().with("incremented", 7_i64))?.get::<i64>("squared")?, 49);
    }
);

engine_test!(
    fn upstream_nodes_never_run_and_other_branches_become_inputs(engine) {
        // `base` panics: it must not run.
        let mut nodes = diamond();
        nodes[0] = Node::builder("base")
            .params(["x"])
            .output("base")
            .build(|x: i64| -> i64 { panic!("base ran on {x}") })?;
        let p = on(&engine, nodes);
        let rest = p.with_entrypoint("left")?;
        let names: Vec<&str> = rest.nodes().iter().map(Node::name).collect();
        assert_eq!(names, ["left", "both"]);
        // `both` also reads `r`, which `right` (dropped) made: an input now.
        assert_eq!(rest.inputs(), ["base", "r"]);
        let out = rest.run(&Inputs::new().with("base", 2_i64).with("r", 5_i64))?;
        assert_eq!(out.get::<i64>("l")?, 20);
        assert_eq!(out.get::<i64>("sum")?, 25);
        let out = rest.map(
            &Inputs::new().with("base", vec![1_i64, 2]).with("r", vec![0_i64, 1]),
            &["base", "r"],
            MapMode::Zip,
        )?;
        assert_eq!(out.column::<i64>("sum")?, [10, 21]);
    }
);

#[test]
fn bound_values_and_configuration_are_kept_where_they_still_apply() {
    let p = Pipeline::new(diamond())
        .with_name("d")
        .with_config(RunConfig::new().with_map_executor(Executor::Threaded(2)))
        .bind(Inputs::new().with("x", 1_i64).with("r", 7_i64))
        .unwrap_err();
    // `r` is not an input of the whole pipeline: binding it is refused.
    assert_eq!(
        p.to_string(),
        "Cannot bind 'r': it is not an input of the pipeline. Inputs: ['x']"
    );
    let p = Pipeline::new(diamond())
        .with_name("d")
        .with_config(RunConfig::new().with_map_executor(Executor::Threaded(2)))
        .bind(Inputs::new().with("x", 1_i64))
        .unwrap();
    let rest = p.with_entrypoint("both").unwrap();
    // `x` is no longer an input: its bound value is dropped.
    assert_eq!(
        format!("{rest:?}"),
        r#"Pipeline { name: Some("d"), nodes: ["both"], needs: ["l", "r"], bound: {}, outputs: ["sum"] }"#
    );
    assert_eq!(rest.config().map_executor(), Some(Executor::Threaded(2)));
    let rest = p.with_entrypoint("upstream_only").unwrap();
    assert_eq!(
        format!("{rest:?}"),
        r#"Pipeline { name: Some("d"), nodes: ["upstream_only"], needs: [], bound: {"x": Value<i64>}, outputs: ["echo"] }"#
    );
    assert_eq!(rest.run(&Inputs::new()).unwrap().get::<i64>("echo").unwrap(), -1);
}

#[test]
fn an_unknown_entrypoint_names_the_nodes() {
    let p = Pipeline::new(diamond());
    let err = p.with_entrypoint("rigt").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot start at 'rigt': no node has this name. Nodes: ['base', 'both', 'left', 'right', 'upstream_only']. Did you mean 'right'?"
    );
    assert_eq!(err.code(), "HN024");
    let err = p.with_entrypoint("zzz").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot start at 'zzz': no node has this name. Nodes: ['base', 'both', 'left', 'right', 'upstream_only']"
    );
}

engine_test!(
    fn a_nested_node_can_be_the_entrypoint(engine) {
        let inner = Pipeline::new(w1()).with_name("inner").as_node("nest").build()?;
        let p = on(&engine, [Node::builder("make_x").params(["seed"]).output("x").build(|s: i64| s * 3)?, inner]);
        let rest = p.with_entrypoint("nest")?;
        assert_eq!(rest.inputs(), ["x"]);
        let out = rest.run(&Inputs::new().with("x", 2_i64))?;
        assert_eq!(out.get::<i64>("squared")?, 25);
    }
);
