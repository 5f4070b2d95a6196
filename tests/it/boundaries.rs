//! Errors at the edges where user code meets the engines (a hand-written `NodeImpl`, a
//! user's `Engine`, SQL that fails on the data, nulls in Arrow input, a user's
//! `DataFrame` or SQL): each is a clear error naming what went wrong, the same on both
//! engines where both run it, never an internal error.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use datafusion::prelude::SessionContext;
use hypernodes::engine::columnar::ExprNode;
use hypernodes::engine::columnar::types::columnar_type_info;
use hypernodes::node::{InvokeArgs, NodeImpl, NodeOutputs, Port};
use hypernodes::{BoxError, ColumnarEngine, Engine, MapOutputs, MapPlan, Outputs, RunPlan, TypeInfo};

use crate::common::*;
use hypernodes::prelude::*;

/// A hand-written node returning its argument itself (a clone of the `Arc`), not a value
/// of its own.
struct Echo {
    params: Vec<Port>,
    outputs: Vec<Port>,
}

impl NodeImpl for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn params(&self) -> &[Port] {
        &self.params
    }
    fn outputs(&self) -> &[Port] {
        &self.outputs
    }
    fn code_hash(&self) -> &str {
        "echo-v1"
    }
    fn invoke(&self, args: InvokeArgs<'_>) -> Result<NodeOutputs, BoxError> {
        Ok(NodeOutputs::from_iter([args.args[0].clone()]))
    }
}

fn echo() -> Node {
    Node::new(Echo {
        params: vec![Port::new("x", TypeInfo::of::<i64>())],
        outputs: vec![Port::new("y", TypeInfo::of::<i64>())],
    })
}

engine_test!(
    fn a_node_returning_a_value_it_does_not_own(engine) {
        let p = on(&engine, [echo()]);
        // A run keeps the shared value as it is.
        assert_eq!(p.run(&Inputs::new().with("x", 4_i64))?.get::<i64>("y")?, 4);
        // A map must own what it collects.
        let err = p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'echo' failed on item 0: returned a value for 'y' that it does not own (a clone of an argument?); \
             a node must return values of its own to be collected by a map"
        );
    }
);

/// An engine of a user's that runs nothing and returns nothing, or the wrong type.
#[derive(Debug)]
struct Broken {
    wrong_type: bool,
}

impl Engine for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn run(&self, plan: &RunPlan) -> hypernodes::Result<Outputs> {
        let values = plan
            .outputs()
            .iter()
            .map(|o| (o.clone(), Value::new("not a number".to_string())));
        Ok(if self.wrong_type {
            Outputs::from_values(values)
        } else {
            Outputs::from_values([])
        })
    }
    fn map(&self, plan: &MapPlan) -> hypernodes::Result<MapOutputs> {
        Ok(MapOutputs::from_columns(plan.len(), []))
    }
}

engine_test!(
    fn a_nested_pipeline_on_an_engine_that_returns_too_little_or_the_wrong_type(engine) {
        for (wrong_type, message) in [
            (false, "Node 'inner' failed: Engine 'broken' returned no value for output 'doubled' of the nested pipeline"),
            (
                true,
                "Node 'inner' failed: Engine 'broken' returned String for output 'doubled' of the nested pipeline, which is i64",
            ),
        ] {
            let inner = Pipeline::new([double::node()]).with_engine(Broken { wrong_type }).as_node("inner").build()?;
            let err = on(&engine, [inner]).run(&Inputs::new().with("x", 1_i64)).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }
);

/// An expression node over the `i64` values `a`, `b` and `picked`.
fn sql(name: &str, output: &str, expr: &str) -> Node {
    let names: BTreeMap<String, TypeInfo> = ["a", "b", "picked"]
        .into_iter()
        .map(|n| (n.to_string(), columnar_type_info::<i64>()))
        .collect();
    ExprNode::node(name, output, expr, &names).unwrap()
}

engine_test!(
    fn a_sql_expression_failing_on_the_data_names_the_node_and_item(engine) {
        // Integer division by zero fails in DataFusion, on item 2.
        let p = on(&engine, [sql("ratio", "r", "a / b"), sql("plus", "s", "a + b")]);
        let inputs = Inputs::new().with("a", vec![6_i64, 8, 9, 1]).with("b", vec![3_i64, 4, 0, 0]);
        let err = p.map(&inputs, &["a", "b"], "zip").unwrap_err();
        assert_eq!(err.to_string(), "Node 'ratio' failed on item 2: Arrow error: Divide by zero error");
        let err = p.run(&Inputs::new().with("a", 1_i64).with("b", 0_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'ratio' failed: Arrow error: Divide by zero error");
        assert_eq!(p.map(&inputs.with("b", vec![3_i64, 4, 3, 1]), &["a", "b"], "zip")?.column::<i64>("r")?, [2, 2, 3, 1]);
    }
);

engine_test!(
    fn a_sql_expression_that_makes_a_null_fails_where_it_does(engine) {
        // `nullif` is null where a equals b, and the output (i64) has no null.
        let p = on(&engine, [sql("pick", "picked", "nullif(a, b)"), sql("next", "n", "picked + 1")]);
        let inputs = Inputs::new().with("a", vec![1_i64, 2, 3]).with("b", vec![0_i64, 5, 3]);
        let err = p.map(&inputs, &["a", "b"], "zip").unwrap_err();
        assert_eq!(err.to_string(), "Node 'pick' failed on item 2: `nullif(a, b)` is null for these inputs");
        let err = p.run(&Inputs::new().with("a", 4_i64).with("b", 4_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'pick' failed: `nullif(a, b)` is null for these inputs");
        assert_eq!(p.map(&inputs.with("b", vec![0_i64, 0, 0]), &["a", "b"], "zip")?.column::<i64>("n")?, [2, 3, 4]);
    }
);

#[test]
fn a_null_in_arrow_input_read_by_a_row_by_row_node_names_the_node_and_row() {
    let plus = Node::builder("plus")
        .params(["x"])
        .output("y")
        .build(|x: i64| x + 1)
        .unwrap();
    let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![Some(1), None])) as _)]).unwrap();
    let err = ColumnarEngine::new()
        .apply_to_batch(&Pipeline::new([plus]), &batch)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'plus' failed on item 1: 'x' is null, and the node reads it as i64, which has no null \
         (read it as an Option to accept nulls)"
    );
    // A vectorized node skips the row: null in, null out.
    let out = ColumnarEngine::new()
        .apply_to_batch(&Pipeline::new([double::node()]), &batch)
        .unwrap();
    assert_eq!(out.column(1).as_ref(), &Int64Array::from(vec![Some(2), None]));
}

#[test]
fn a_dataframe_missing_a_column_and_a_mistyped_sql_call_are_user_errors() {
    let ctx = SessionContext::new();
    let batch = RecordBatch::try_from_iter([("z", Arc::new(Int64Array::from(vec![1])) as _)]).unwrap();
    let frame = ctx.read_batch(batch).unwrap();
    let err = ColumnarEngine::apply_to_dataframe(&Pipeline::new([double::node()]), frame).unwrap_err();
    assert!(matches!(err, hypernodes::Error::Arrow { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("Cannot add node 'double' to the DataFrame: Schema error: No field named x."),
        "{err}"
    );
    // A node registered as a UDF refuses arguments of another type when planned.
    ColumnarEngine::register_udfs(&Pipeline::new([double::node()]), &ctx).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt.block_on(ctx.sql("SELECT double('text')")).unwrap_err();
    assert!(err.to_string().contains("double"), "{err}");
}
