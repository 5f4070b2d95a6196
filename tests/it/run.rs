//! `run`: all outputs, selected outputs, required inputs.

use crate::common::*;
use hypernodes::prelude::*;

#[node(output = "boom")]
fn explode(passage: &str) -> usize {
    panic!("explode must not run, got {passage}")
}

engine_test!(
    fn run_returns_every_output(engine) {
        let out = on(&engine, w1()).run(&Inputs::new().with("x", 3_i64))?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["doubled", "incremented", "squared"]);
        assert_eq!(out.get::<i64>("doubled")?, 6);
        assert_eq!(out.get::<i64>("incremented")?, 7);
        assert_eq!(out.get::<i64>("squared")?, 49);
        assert_eq!(*out.get_ref::<i64>("squared")?, 49);
    }
);

engine_test!(
    fn selected_outputs_run_only_their_ancestors(engine) {
        let p = on(&engine, w2().into_iter().chain([explode::node()]));
        let opts = RunOptions::new().with_outputs(["word_count"]);
        let out = p.run_with(&Inputs::new().with("passage", " A b ".to_string()), &opts)?;
        assert_eq!(out.names().collect::<Vec<_>>(), ["word_count"]);
        assert_eq!(out.get::<usize>("word_count")?, 2);
        // cleaned_text ran (an ancestor) but is not returned.
        assert_eq!(
            out.get::<String>("cleaned_text").unwrap_err().to_string(),
            "Output name(s) ['cleaned_text'] not found in pipeline. Available outputs: ['word_count']"
        );
    }
);

engine_test!(
    fn selected_outputs_require_only_their_inputs(engine) {
        let p = on(&engine, w1().into_iter().chain(w2()));
        let opts = RunOptions::new().with_outputs(["incremented"]);
        let out = p.run_with(&Inputs::new().with("x", 1_i64), &opts)?;
        assert_eq!(out.get::<i64>("incremented")?, 3);
        let err = p.run(&Inputs::new().with("x", 1_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Missing required input(s): ['passage']. Required inputs: ['passage', 'x']");
    }
);

engine_test!(
    fn unknown_output_names_are_listed_with_a_suggestion(engine) {
        let p = on(&engine, w1());
        let err = p.run_with(&Inputs::new().with("x", 1_i64), &RunOptions::new().with_outputs(["squard", "zzz"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Output name(s) ['squard', 'zzz'] not found in pipeline. \
             Available outputs: ['doubled', 'incremented', 'squared']. Did you mean 'squared'?"
        );
        let err = p.run_with(&Inputs::new().with("x", 1_i64), &RunOptions::new().with_outputs(["zzz"])).unwrap_err();
        assert!(matches!(err, Error::UnknownOutputs { suggestion: None, .. }));
    }
);

engine_test!(
    fn missing_inputs_are_listed(engine) {
        let err = on(&engine, w1()).run(&Inputs::new()).unwrap_err();
        assert_eq!(err.to_string(), "Missing required input(s): ['x']. Required inputs: ['x']");
    }
);

engine_test!(
    fn extra_inputs_are_ignored_and_never_echoed(engine) {
        let out = on(&engine, w1()).run(&Inputs::new().with("x", 2_i64).with("unused", "hi".to_string()))?;
        assert_eq!(out.len(), 3);
        assert!(out.value("unused").is_err());
        assert!(out.value("x").is_err());
    }
);

engine_test!(
    fn wrong_input_type_names_input_node_and_types(engine) {
        let err = on(&engine, w1()).run(&Inputs::new().with("x", 2_i32)).unwrap_err();
        assert_eq!(err.to_string(), "Input 'x' has type i32 but node 'double' expects i64");
    }
);

engine_test!(
    fn unicode_text_flows_through(engine) {
        let out = on(&engine, w2()).run(&Inputs::new().with("passage", "  Ünïcödé  ΣΊΣΥΦΟΣ  ".to_string()))?;
        assert_eq!(out.get::<String>("cleaned_text")?, "ünïcödé  σίσυφος");
        assert_eq!(out.get::<usize>("char_count")?, 16);
        assert_eq!(out.get::<usize>("word_count")?, 2);
    }
);

engine_test!(
    fn call_options_override_the_pipeline_engine(engine) {
        let p = Pipeline::new(w1()).with_engine(NodeEngine::new());
        let out = p.run_with(&Inputs::new().with("x", 5_i64), &RunOptions::new().with_shared_engine(engine.clone()))?;
        assert_eq!(out.get::<i64>("squared")?, 121);
    }
);
