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
