//! Resources: lazily built shared objects passed as inputs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::*;
use hypernodes::prelude::*;

/// A stand-in for a loaded model: not `Clone`, read by reference.
pub struct Model {
    weight: i64,
}

#[node(output = "score")]
fn score(model: &Model, x: i64) -> i64 {
    model.weight * x
}

#[node(output = "plain")]
fn plain(x: i64) -> i64 {
    x
}

fn counted_model(builds: &Arc<AtomicUsize>) -> Value {
    let builds = builds.clone();
    Value::lazy(move || {
        builds.fetch_add(1, Ordering::SeqCst);
        Model { weight: 3 }
    })
}

engine_test!(
    fn a_resource_is_built_once_and_shared_by_every_item(engine) {
        let builds = Arc::new(AtomicUsize::new(0));
        let inputs = Inputs::new().with_value("model", counted_model(&builds)).with("x", (0..100_i64).collect::<Vec<_>>());
        let p = on(&engine, [score::node()]);
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        let out = p.map(&inputs, &["x"], MapMode::Zip)?;
        assert_eq!(out.column::<i64>("score")?[99], 297);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        p.map(&inputs, &["x"], MapMode::Zip)?;
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
);

engine_test!(
    fn a_resource_nobody_needs_is_never_built(engine) {
        let builds = Arc::new(AtomicUsize::new(0));
        let p = on(&engine, [score::node(), plain::node()]);
        let inputs = Inputs::new().with_value("model", counted_model(&builds)).with("x", 4_i64);
        let out = p.run_with(&inputs, &RunOptions::new().with_outputs(["plain"]))?;
        assert_eq!(out.get::<i64>("plain")?, 4);
        assert_eq!(builds.load(Ordering::SeqCst), 0);
    }
);

engine_test!(
    fn a_failing_resource_names_the_input(engine) {
        let broken = Value::try_lazy(|| Err::<Model, _>("weights file not found"));
        let err = on(&engine, [score::node()]).run(&Inputs::new().with_value("model", broken).with("x", 1_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Resource 'model' could not be built: weights file not found");
    }
);

engine_test!(
    fn a_resource_of_the_wrong_type_is_rejected_before_it_is_built(engine) {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let wrong = Value::lazy(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            5_i64
        });
        let err = on(&engine, [score::node()]).run(&Inputs::new().with_value("model", wrong).with("x", 1_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Input 'model' has type i64 but node 'score' expects Model");
        assert_eq!(builds.load(Ordering::SeqCst), 0);
    }
);
