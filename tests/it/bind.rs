//! `bind` / `unbind`: bound values, call inputs winning, what is still unfulfilled.

use crate::common::*;
use hypernodes::prelude::*;

engine_test!(
    fn bound_values_are_used_and_call_inputs_win(engine) {
        let p = on(&engine, [label_node()]).bind(Inputs::new().with("sep", ":".to_string()).with("n", 1_i64))?;
        assert_eq!(p.bound_inputs().names().collect::<Vec<_>>(), ["n", "sep"]);
        assert_eq!(p.unfulfilled_args(), ["letter"]);
        let out = p.run(&Inputs::new().with("letter", "a".to_string()))?;
        assert_eq!(out.get::<String>("label")?, "a:1");
        let out = p.run(&Inputs::new().with("letter", "a".to_string()).with("n", 9_i64))?;
        assert_eq!(out.get::<String>("label")?, "a:9");
    }
);

engine_test!(
    fn bound_values_broadcast_in_a_map(engine) {
        let p = on(&engine, [label_node()]).bind(Inputs::new().with("sep", "/".to_string()))?;
        let inputs = Inputs::new().with("letter", strings(&["x", "y"])).with("n", vec![1_i64, 2]);
        assert_eq!(p.map(&inputs, &["letter", "n"], MapMode::Zip)?.column::<String>("label")?, ["x/1", "y/2"]);
    }
);

engine_test!(
    fn a_bound_list_can_be_mapped(engine) {
        let p = on(&engine, w1()).bind(Inputs::new().with("x", vec![1_i64, 2]))?;
        assert_eq!(p.map(&Inputs::new(), &["x"], MapMode::Zip)?.column::<i64>("doubled")?, &[2, 4]);
    }
);

engine_test!(
    fn unbind_removes_bound_values(engine) {
        let p = on(&engine, [label_node()]).bind(Inputs::new().with("sep", ":".to_string()).with("n", 1_i64))?;
        let q = p.unbind(&["n"]);
        assert_eq!(q.unfulfilled_args(), ["letter", "n"]);
        let err = q.run(&Inputs::new().with("letter", "a".to_string())).unwrap_err();
        assert_eq!(err.to_string(), "Missing required input(s): ['n']. Required inputs: ['letter', 'n']");
        assert_eq!(p.unbind(&[]).unfulfilled_args(), ["letter", "n", "sep"]);
        // The original is unchanged.
        assert_eq!(p.unfulfilled_args(), ["letter"]);
    }
);

#[test]
fn binding_checks_names_and_types() {
    let p = Pipeline::new([label_node()]);
    let err = p.bind(Inputs::new().with("seperator", ":".to_string())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Cannot bind 'seperator': it is not an input of the pipeline. Inputs: ['letter', 'n', 'sep']"
    );
    let err = p.bind(Inputs::new().with("n", 1_u8)).unwrap_err();
    assert_eq!(err.to_string(), "Input 'n' has type u8 but node 'label' expects i64");
}

fn label_node() -> Node {
    Node::builder("label")
        .params(["letter", "n", "sep"])
        .build(|letter: String, n: i64, sep: String| format!("{letter}{sep}{n}"))
        .unwrap()
}
