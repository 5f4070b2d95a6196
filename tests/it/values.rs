//! Values in and out: any type in, typed reads out, and the errors on a wrong type.

use crate::common::*;
use hypernodes::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    x: f64,
    y: f64,
}

#[node(output = "norm")]
fn norm(point: &Point) -> f64 {
    (point.x * point.x + point.y * point.y).sqrt()
}

#[node(output = "maybe")]
fn maybe_half(x: i64) -> Option<i64> {
    (x % 2 == 0).then_some(x / 2)
}

engine_test!(
    fn any_rust_type_flows_in_and_out(engine) {
        let out = on(&engine, [norm::node()]).run(&Inputs::new().with("point", Point { x: 3.0, y: 4.0 }))?;
        assert_eq!(out.get::<f64>("norm")?, 5.0);
        let points = vec![Point { x: 0.0, y: 1.0 }, Point { x: 6.0, y: 8.0 }];
        let out = on(&engine, [norm::node()]).map(&Inputs::new().with("point", points), &["point"], MapMode::Zip)?;
        assert_eq!(out.column::<f64>("norm")?, &[1.0, 10.0]);
    }
);

engine_test!(
    fn options_are_values_too(engine) {
        let out = on(&engine, [maybe_half::node()]).map(&Inputs::new().with("x", vec![4_i64, 3]), &["x"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<i64>>("maybe")?, &[Some(2), None]);
    }
);

engine_test!(
    fn reading_an_output_as_the_wrong_type_names_both_types(engine) {
        let out = on(&engine, w1()).run(&Inputs::new().with("x", 1_i64))?;
        let err = out.get::<i32>("doubled").unwrap_err();
        assert_eq!(err.to_string(), "Output 'doubled' has type i64, not the requested i32");
        assert!(matches!(err, Error::OutputType { .. }));
        let err = out.get::<i64>("double").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Output name(s) ['double'] not found in pipeline. Available outputs: ['doubled', 'incremented', 'squared']. Did you mean 'doubled'?"
        );
    }
);

#[test]
fn values_report_their_type() {
    let v = Value::new(vec![Point { x: 1.0, y: 2.0 }]);
    assert_eq!(v.type_name(), "Vec<Point>");
    assert_eq!(format!("{v:?}"), "Value<Vec<Point>>");
    assert!(v.downcast_ref::<Vec<Point>>().is_some());
}

/// The `#[node]` macro attaches the hasher its probe found to each parameter's type:
/// none for a type that cannot be hashed, serde's for a `Serialize` one, the type's own
/// for a `StableHash` one.
#[test]
fn node_types_carry_the_hasher_the_macro_found() {
    use hypernodes::hash::{StableHash, StableHasher, digest, digest_as, stable_hash};
    fn serde_hex<T: serde::Serialize>(value: &T) -> String {
        let mut h = StableHasher::new();
        hypernodes::hash::hash_serde(value, &mut h).unwrap();
        h.finish_hex()
    }
    use hypernodes::node::Node;
    struct Model;
    #[derive(Clone, serde::Serialize)]
    struct Params {
        k: usize,
    }
    #[derive(Clone)]
    struct Threshold(f64);
    impl StableHash for Threshold {
        fn stable_hash(&self, h: &mut StableHasher) {
            h.tag("Threshold").value(&self.0);
        }
    }
    #[node(output = "y")]
    fn score(model: &Model, params: &Params, t: Threshold, text: &str) -> f64 {
        let _ = (model, params, text);
        t.0
    }
    let node: Node = score::node();
    let types: Vec<_> = node.params().iter().map(|p| p.type_info()).collect();
    assert!(types[0].hasher().is_none());
    assert_eq!(digest_as(&Value::new(Model), &types[0]), None);
    assert_eq!(digest(&Value::new(Model)), None);
    assert_eq!(
        digest_as(&Value::new(Params { k: 2 }), &types[1]).map(hex),
        Some(serde_hex(&Params { k: 2 }))
    );
    assert_eq!(
        digest_as(&Value::new(Threshold(0.5)), &types[2]).map(hex),
        Some(stable_hash(&Threshold(0.5)))
    );
    assert_eq!(
        digest_as(&Value::new("t".to_string()), &types[3]),
        digest(&Value::new("t".to_string()))
    );
    // The wrong type hashes to nothing; equality still compares only types.
    assert_eq!(digest_as(&Value::new(3_usize), &types[1]), None);
    assert_eq!(types[1], hypernodes::value::TypeInfo::of::<Params>());
    assert!(node.outputs()[0].type_info().hasher().is_some());
}

fn hex(d: [u8; 32]) -> String {
    blake3::Hash::from(d).to_hex().to_string()
}
