//! The error type itself.

use std::error::Error as _;

use hypernodes::prelude::*;

#[test]
fn error_is_small_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
    // The largest variant holds five names; keep it from growing unnoticed.
    assert_eq!(std::mem::size_of::<Error>(), 88);
}

#[node(output = "parsed")]
fn parse(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

#[test]
fn node_failures_keep_the_user_error_as_source() {
    let err = Pipeline::new([parse::node()])
        .run(&Inputs::new().with("text", "x".to_string()))
        .unwrap_err();
    let source = err.source().expect("a source");
    assert!(source.downcast_ref::<std::num::ParseIntError>().is_some());
    assert_eq!(source.to_string(), "invalid digit found in string");
}

#[test]
fn multiple_errors_list_each_on_a_line() {
    let err = Error::Multiple(vec![Error::EmptyMapOver, Error::UnknownMapMode { mode: "x".into() }]);
    assert_eq!(
        err.to_string(),
        "2 problems found:\n  - map_over is empty: name at least one input to map over\n  - Unknown map mode 'x'. Valid modes: zip, product"
    );
}
