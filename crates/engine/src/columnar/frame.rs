//! Nodes as columns of a DataFusion `DataFrame`: a node's UDF call (or expression) added
//! as its output columns, constants as literals, column references.

use std::collections::HashMap;

use datafusion::common::{Column, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::Expr;

use super::df;
use crate::error::Result;
use crate::node::Node;

/// `frame` with a column per output of `node`, from `call`, the node's UDF call (a
/// struct split into its fields when the node has several outputs).
///
/// # Errors
///
/// DataFusion's planning errors, for the caller to report: none over the engine's own
/// frames, whose columns and types it checked; a missing column of a user's frame.
pub(super) fn with_node_columns(
    frame: DataFrame,
    node: &Node,
    call: Expr,
) -> std::result::Result<DataFrame, datafusion::error::DataFusionError> {
    let outputs = node.outputs();
    if outputs.len() == 1 {
        return frame.with_column(outputs[0].name(), call);
    }
    let tmp = format!("__hypernodes_{}", node.name());
    let mut frame = frame.with_column(&tmp, call)?;
    for p in outputs {
        let field = datafusion::functions::core::expr_fn::get_field(column(&tmp), p.name());
        frame = frame.with_column(p.name(), field)?;
    }
    frame.drop_columns(&[tmp.as_str()])
}

/// `expr` with the columns named in `literals` replaced by their values.
pub(super) fn with_literals(expr: &Expr, literals: &HashMap<&str, ScalarValue>) -> Result<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    expr.clone()
        .transform(|e| {
            Ok(match &e {
                Expr::Column(c) => match literals.get(c.name.as_str()) {
                    Some(v) => Transformed::yes(Expr::Literal(v.clone(), None)),
                    None => Transformed::no(e),
                },
                _ => Transformed::no(e),
            })
        })
        .map(|t| t.data)
        // Unreachable: the rewrite above never fails.
        .map_err(df)
}

/// A column reference that is never parsed (names may contain dots or capitals).
pub(super) fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}
