//! Nodes defined by a SQL expression over their inputs (`lower(trim(passage))`),
//! compiled to a native DataFusion expression.
//!
//! The columnar engine puts the expression itself into its plan, next to the UDFs of
//! other nodes; the node engine evaluates it on one-row arrays per item, so both give the
//! same values.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, ExprSchemable};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::ColumnType;
use super::types::{CastError, cast_exact, type_info_for};
use crate::error::{BoxError, Error, Result, closest};
use crate::node::{InvokeArgs, Node, NodeImpl, NodeOutputs, Port, Volatility};
use crate::pipeline::Pipeline;
use crate::value::TypeInfo;

/// A node computing one output from a SQL expression over the values it names.
///
/// Its parameters are the names the expression reads, in order of first use; its output
/// type is the expression's Arrow type as a Rust type (see
/// [`type_info_for`]): `character_length(s)` gives `i32`,
/// `a * b` over `f64` and `i64` gives `f64`. The result converts exactly to that type's
/// Arrow type or fails its row (a `Timestamp(ns)` with a part of a microsecond), and the
/// output column a run returns keeps the expression's own type ([`ExprNode::data_type`]).
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use hypernodes::prelude::*;
/// use hypernodes::engine::columnar::ExprNode;
/// use hypernodes::engine::columnar::types::columnar_type_info;
///
/// let names = BTreeMap::from([("passage".to_string(), columnar_type_info::<String>())]);
/// let clean = ExprNode::node("clean", "cleaned", "lower(trim(passage))", &names)?;
/// assert_eq!(clean.outputs()[0].type_info().name(), "String");
/// let out = Pipeline::new([clean]).run(&Inputs::new().with("passage", "  Hi There ".to_string()))?;
/// assert_eq!(out.get::<String>("cleaned")?, "hi there");
/// # Ok::<(), hypernodes::Error>(())
/// ```
pub struct ExprNode {
    name: String,
    sql: String,
    params: Vec<Port>,
    outputs: Vec<Port>,
    code_hash: String,
    /// The expression over columns named like the parameters, its result cast to the
    /// output's Arrow type when that differs (for DataFusion plans).
    expr: Expr,
    /// The expression planned over `schema`, its result of the expression's own type.
    physical: Arc<dyn PhysicalExpr>,
    schema: SchemaRef,
    output: &'static ColumnType,
    /// The expression's own Arrow type, which the output column keeps (a
    /// `Timestamp(ns)`, a time zone, a `Date64`), where `output` holds its Rust type's.
    data_type: DataType,
    /// Volatile when the expression is (`random()`, `uuid()`): never cached.
    volatility: Volatility,
}

impl std::fmt::Debug for ExprNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExprNode({}: {})", self.name, self.sql)
    }
}

impl ExprNode {
    /// A node named `name` computing `output` as the SQL expression `sql`, which may read
    /// the values in `names` (each with its type, which must be columnar).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for SQL that does not parse (or is larger than an expression may
    /// be: 4,096 tokens, nested 64 levels deep), a name the expression reads that is not
    /// in `names` (with the closest one), a value that is not columnar, a type error
    /// (`passage * 2` on a string), or a result type without a Rust counterpart.
    pub fn node(name: &str, output: &str, sql: &str, names: &BTreeMap<String, TypeInfo>) -> Result<Node> {
        ExprNode::node_over(name, output, sql, names, &BTreeMap::new())
    }

    /// [`ExprNode::node`], with the Arrow types of input columns (a pipeline file's
    /// declared `decimal(12, 2)`, `timestamp[ms, UTC]`, `fixed_binary[16]`): a value the
    /// expression reads whose Arrow type is in `columns` and is read as its type in
    /// `names` is planned as that Arrow type, not as its Rust type's, so the result is
    /// DataFusion's over such a column (`amount * CAST('1.0837' AS DECIMAL(10, 4))` over
    /// a `Decimal128(12, 2)` is a `Decimal128(23, 6)`). Its values are converted to that
    /// type exactly before the expression runs.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use arrow::datatypes::DataType;
    /// use hypernodes::engine::columnar::ExprNode;
    /// use hypernodes::engine::columnar::types::columnar_type_info;
    ///
    /// let names = BTreeMap::from([("amount".to_string(), columnar_type_info::<rust_decimal::Decimal>())]);
    /// let columns = BTreeMap::from([("amount".to_string(), DataType::Decimal128(12, 2))]);
    /// let node = ExprNode::node_over("eur", "eur", "amount * CAST('1.0837' AS DECIMAL(10, 4))", &names, &columns)?;
    /// let expr = ExprNode::find(&node).unwrap();
    /// assert_eq!(expr.input_type("amount"), Some(&DataType::Decimal128(12, 2)));
    /// assert_eq!(expr.data_type(), &DataType::Decimal128(23, 6));
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`ExprNode::node`].
    pub fn node_over(
        name: &str,
        output: &str,
        sql: &str,
        names: &BTreeMap<String, TypeInfo>,
        columns: &BTreeMap<String, DataType>,
    ) -> Result<Node> {
        let invalid = |message: String| Error::Invalid(format!("`{}`: {message}", one_line(sql)));
        let first_line = |e: &dyn std::fmt::Display| e.to_string().lines().next().unwrap_or_default().to_string();

        let mut params: Vec<Port> = Vec::new();
        let mut fields: Vec<Field> = Vec::new();
        for read in identifiers(sql).map_err(invalid)? {
            if params.iter().any(|p| p.name() == read) {
                continue;
            }
            let Some(ty) = names.get(&read) else {
                let hint = match closest(&read, names.keys().map(String::as_str)) {
                    Some(s) => format!(" Did you mean '{s}'?"),
                    None => String::new(),
                };
                let known: Vec<&str> = names.keys().map(String::as_str).collect();
                return Err(invalid(format!(
                    "unknown column '{read}'. Known: {}.{hint}",
                    known.join(", ")
                )));
            };
            let ct = ColumnType::find(ty)
                .ok_or_else(|| invalid(format!("'{read}' has type {ty}, which has no Arrow type")))?;
            // Not an encoding the engine unpacks before a node reads it (a dictionary, a
            // large or view layout): those are read as their plain type.
            let encoded = |dt: &DataType| {
                matches!(
                    dt,
                    DataType::Dictionary(..)
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::LargeBinary
                        | DataType::BinaryView
                        | DataType::LargeList(_)
                        | DataType::ListView(_)
                        | DataType::LargeListView(_)
                )
            };
            let data_type = match columns.get(&read) {
                Some(dt) if type_info_for(dt) == Some(*ty) && !encoded(dt) => dt.clone(),
                _ => (ct.data_type)(),
            };
            fields.push(Field::new(&read, data_type, true));
            params.push(Port::new(read, *ty));
        }
        let schema = Arc::new(Schema::new(fields));
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| invalid(first_line(&e)))?;
        let state = SessionContext::new().state();
        let plan = |expr: &Expr| {
            state
                .create_physical_expr(expr.clone(), &df_schema)
                .map_err(|e| invalid(first_line(&e)))
        };
        let mut expr = state
            .create_logical_expr(sql, &df_schema)
            .map_err(|e| invalid(first_line(&e)))?;
        if let Some(message) = not_per_row(&expr) {
            return Err(invalid(message));
        }
        // Simplified as DataFusion's optimizer would (`arrow_cast(x, 'Date64')` is a cast
        // only once simplified; constant parts are computed once).
        let simplifier = ExprSimplifier::new(
            SimplifyContext::builder()
                .with_schema(Arc::new(df_schema.clone()))
                .with_config_options(Arc::clone(state.config_options()))
                .build(),
        );
        expr = simplifier
            .coerce(expr, &df_schema)
            .and_then(|e| simplifier.simplify(e))
            .map_err(|e| invalid(first_line(&e)))?;
        let physical = plan(&expr)?;
        let found = physical.data_type(&schema).map_err(|e| invalid(first_line(&e)))?;
        let ty = type_info_for(&found).ok_or_else(|| {
            invalid(format!(
                "the result has Arrow type {found}, which has no Rust counterpart"
            ))
        })?;
        let ct = ColumnType::find(&ty).expect("type_info_for gives columnar types");
        let wanted = (ct.data_type)();
        // In a DataFusion plan, the nodes reading the result read it as the Rust type's
        // Arrow type; `physical` keeps the expression's own (see `ExprNode::evaluate`).
        if wanted != found {
            expr = expr.cast_to(&wanted, &df_schema).map_err(|e| invalid(first_line(&e)))?;
        }

        let expr_volatile = expr.is_volatile();
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"sql\0");
        hasher.update(sql.as_bytes());
        for (p, field) in params.iter().zip(schema.fields()) {
            hasher.update(format!("\0{}: {} {}", p.name(), p.type_info(), field.data_type()).as_bytes());
        }
        Ok(Node::new(ExprNode {
            name: name.to_string(),
            sql: sql.to_string(),
            params,
            outputs: vec![Port::new(output, ty)],
            code_hash: hasher.finalize().to_hex().to_string(),
            expr,
            physical,
            schema,
            output: ct,
            data_type: found,
            volatility: match expr_volatile {
                true => Volatility::Volatile,
                false => Volatility::Immutable,
            },
        }))
    }

    /// The expression node behind `node`, if it is one.
    pub fn find(node: &Node) -> Option<&ExprNode> {
        node.extension().and_then(|e| e.downcast_ref::<ExprNode>())
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The Arrow type the expression reads its value `name` as: its Rust type's, or the
    /// input column's (see [`ExprNode::node_over`]); `None` when it does not read it.
    pub fn input_type(&self, name: &str) -> Option<&DataType> {
        self.schema.field_with_name(name).ok().map(Field::data_type)
    }

    /// The planned expression, over columns named like the node's parameters.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The Arrow type of the output column: the expression's own (`to_timestamp(s)` gives
    /// `Timestamp(ns)`), which the column a run writes keeps; the node's values are of
    /// its Rust type (see [`type_info_for`]), into which the result converts exactly.
    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// The expression over `rows` rows of its arguments, one array per parameter (a
    /// one-row array for a constant), without a DataFusion session, as an array of the
    /// output's Rust type's Arrow type.
    ///
    /// # Errors
    ///
    /// What the expression raises on the data (`a / b` where b is 0), and a result that
    /// does not convert exactly to the Rust type's Arrow type (a timestamp with a part of
    /// a microsecond: see [`cast_exact`]); neither names the row.
    #[doc(hidden)]
    pub fn evaluate(&self, args: &[ArrayRef], rows: usize) -> datafusion::error::Result<ArrayRef> {
        let result = self.evaluate_exact(args, rows)?;
        self.as_value_type(&result)
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.message))
    }

    /// `result` (of the expression's own type) as an array of the output's Rust type's
    /// Arrow type, exactly.
    fn as_value_type(&self, result: &ArrayRef) -> std::result::Result<ArrayRef, CastError> {
        let wanted = (self.output.data_type)();
        match result.data_type() == &wanted {
            true => Ok(result.clone()),
            false => cast_exact(result, &wanted),
        }
    }

    /// The expression over `rows` rows of its arguments (see [`ExprNode::evaluate`]), of
    /// its own Arrow type.
    fn evaluate_exact(&self, args: &[ArrayRef], rows: usize) -> datafusion::error::Result<ArrayRef> {
        let columns = args
            .iter()
            .zip(self.schema.fields())
            .map(|(a, field)| {
                // The expression is planned over the Arrow type of the parameter's Rust
                // type or of its input column (see `ExprNode::node_over`); a value of
                // another (a decimal column at its own precision and scale, a value made
                // in Rust) is converted, and one beyond it is an error, not a null.
                let exact = arrow::compute::CastOptions {
                    safe: false,
                    ..Default::default()
                };
                let a = match a.data_type() != field.data_type() {
                    true => &arrow::compute::cast_with_options(a, field.data_type(), &exact)?,
                    false => a,
                };
                if a.len() == rows {
                    Ok(a.clone())
                } else {
                    datafusion::common::ScalarValue::try_from_array(a.as_ref(), 0)?.to_array_of_size(rows)
                }
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        self.physical.evaluate(&batch)?.into_array(rows)
    }

    /// The first row of `result` (this node's result over `args`, as for
    /// [`ExprNode::evaluate`]) that is null although no argument of a type without nulls
    /// is: the expression made it (`nullif(x, 0)` where x is 0), and the output type has
    /// no null.
    #[doc(hidden)]
    pub fn made_null(&self, result: &dyn arrow::array::Array, args: &[ArrayRef]) -> Option<usize> {
        if result.null_count() == 0 {
            return None;
        }
        let strict: Vec<bool> = self
            .params
            .iter()
            .map(|p| ColumnType::find(&p.type_info()).is_none_or(|ct| !ct.nullable))
            .collect();
        let rows = result.len();
        (0..rows).find(|&row| {
            result.is_null(row)
                && !args
                    .iter()
                    .zip(&strict)
                    .any(|(a, &strict)| strict && a.is_null(if a.len() == rows { row } else { 0 }))
        })
    }
}

impl NodeImpl for ExprNode {
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> &[Port] {
        &self.params
    }
    fn outputs(&self) -> &[Port] {
        &self.outputs
    }
    fn code_hash(&self) -> &str {
        &self.code_hash
    }
    fn volatility(&self) -> Volatility {
        self.volatility
    }
    fn invoke(&self, args: InvokeArgs<'_>) -> std::result::Result<NodeOutputs, BoxError> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(args.args.len());
        for (p, v) in self.params.iter().zip(args.args) {
            let ct = ColumnType::find(&p.type_info()).expect("checked when built");
            arrays.push(
                (ct.value_to_array)(v)
                    .ok_or_else(|| format!("'{}' is a {}, not a {}", p.name(), v.type_name(), p.type_info()))?,
            );
        }
        let result = self.evaluate_exact(&arrays, 1)?;
        let result = self
            .as_value_type(&result)
            .map_err(|e| format!("`{}` {}", one_line(&self.sql), e.message))?;
        let value = (self.output.array_value)(result.as_ref(), 0).ok_or_else(|| null_result(&self.sql))?;
        Ok(NodeOutputs::from_iter([value]))
    }
    fn extension(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        Some(self)
    }
    /// A SQL expression costs less than a cache lookup.
    fn worth_caching(&self) -> bool {
        false
    }
}

/// The Arrow type of the column of output `name` of `pipeline`, when it is not its Rust
/// type's: that of the SQL expression node making it (see [`ExprNode::data_type`]).
pub(super) fn written_type(pipeline: &Pipeline, name: &str) -> Option<DataType> {
    let node = pipeline
        .nodes()
        .iter()
        .find(|n| n.outputs().iter().any(|p| p.name() == name))?;
    let expr = ExprNode::find(node)?;
    let value_type = (expr.output.data_type)();
    (expr.data_type != value_type).then(|| expr.data_type.clone())
}

/// The column `array` of output `name` of `pipeline` (of the output's Rust type's Arrow
/// type) as a run gives it: of its SQL expression's own type (see [`written_type`]).
/// The values came from that type, so they convert back exactly.
pub(super) fn as_written(pipeline: &Pipeline, name: &str, array: ArrayRef) -> Result<ArrayRef> {
    match written_type(pipeline, name) {
        Some(dt) if array.data_type() != &dt => arrow::compute::cast(&array, &dt).map_err(|e| Error::Arrow {
            context: format!("Cannot write output '{name}' as {dt}").into(),
            source: Box::new(e),
        }),
        _ => Ok(array),
    }
}

/// Why `expr` does not compute one value per row from that row alone, if it does not: an
/// aggregate (`sum(x)`), `unnest` or the clock (`now()`), which the SQL text alone does
/// not tell.
fn not_per_row(expr: &Expr) -> Option<String> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut found = None;
    let _ = expr.apply(|e| {
        found = match e {
            Expr::AggregateFunction(f) => Some(format!(
                "'{}' is an aggregate function: a node's `sql` computes one value per row, from that row alone",
                f.func.name()
            )),
            Expr::ScalarFunction(f) if matches!(f.func.name(), "now" | "current_date" | "current_time") => {
                Some(format!(
                    "'{}' reads the clock: a node's `sql` computes one value per row, from that row alone; bind the \
                 time as a string in [bind] and read it with to_timestamp",
                    f.func.name()
                ))
            }
            Expr::Unnest(_) => Some(
                "'unnest' makes rows: a node's `sql` computes one value per row; map over lists instead".to_string(),
            ),
            _ => None,
        };
        Ok(match found {
            Some(_) => TreeNodeRecursion::Stop,
            None => TreeNodeRecursion::Continue,
        })
    });
    found
}

/// Why an expression node fails where its expression is null although its arguments are
/// not: its output type has no null.
#[doc(hidden)]
pub fn null_result(sql: &str) -> String {
    format!("`{}` is null for these inputs", one_line(sql))
}

/// The most tokens a SQL expression may have, and the deepest its expressions may nest.
/// An expression is parsed, planned and dropped by recursion as deep as it nests (a chain
/// `a + b + ...` of `n` terms nests `n` deep). So that no expression overflows a stack,
/// both are bounded: a debug build plans a chain of 64 list concatenations (`l || l ||
/// ...`, the heaviest found) in under 2 MiB, a thread's stack, and overflows it at 126.
const MAX_TOKENS: usize = 4096;
const MAX_DEPTH: usize = 64;

/// The column names `sql` reads, in order, normalized as DataFusion does (unquoted names
/// lower-cased).
///
/// `sql` must be one expression over a row's values, so that a pipeline file is data:
/// `Err` (the message for after "`sql`: ") for text that does not parse, text after the
/// expression (`x; DROP TABLE t`), a subquery (which alone could name tables, table
/// functions and so files), a window (`OVER`) or a parameter placeholder (`$1`), and for
/// an expression longer than [`MAX_TOKENS`] tokens or nested deeper than [`MAX_DEPTH`]
/// levels. Aggregates are refused by [`ExprNode::node`], once the function names are
/// resolved.
#[doc(hidden)]
pub fn identifiers(sql: &str) -> std::result::Result<Vec<String>, String> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| not_sql(&e))?;
    let count = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .count();
    if count > MAX_TOKENS {
        return Err(not_sql(&format!(
            "{count} tokens, more than the {MAX_TOKENS} an expression may have"
        )));
    }
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let expr = parser.parse_expr().map_err(|e| not_sql(&e))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        let at = next.span.start;
        return Err(format!(
            "`{}` at line {}, column {} follows the expression: a node's `sql` is one expression, not statements",
            next.token, at.line, at.column
        ));
    }

    /// Collects the names read; breaks with the reason at what a node's `sql` may not
    /// hold, and below `MAX_DEPTH` levels.
    struct Names {
        names: Vec<String>,
        depth: usize,
    }
    impl ast::Visitor for Names {
        type Break = String;
        fn pre_visit_expr(&mut self, e: &ast::Expr) -> ControlFlow<String> {
            let normalize = |id: &ast::Ident| match id.quote_style {
                None => id.value.to_lowercase(),
                Some(_) => id.value.clone(),
            };
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return ControlFlow::Break(not_sql(&format!(
                    "nested deeper than the {MAX_DEPTH} levels an expression may have"
                )));
            }
            match e {
                ast::Expr::Identifier(id) => self.names.push(normalize(id)),
                ast::Expr::CompoundIdentifier(ids) => self.names.extend(ids.last().map(normalize)),
                ast::Expr::Subquery(_) | ast::Expr::Exists { .. } | ast::Expr::InSubquery { .. } => {
                    return ControlFlow::Break(
                        "a subquery: a node's `sql` is one expression over a row's values, and reads no table or file"
                            .to_string(),
                    );
                }
                ast::Expr::Function(f) if f.over.is_some() => {
                    return ControlFlow::Break(format!(
                        "'{}' over a window: a node's `sql` computes one value per row, from that row alone",
                        f.name
                    ));
                }
                ast::Expr::Value(v) if matches!(v.value, ast::Value::Placeholder(_)) => {
                    return ControlFlow::Break(format!(
                        "'{}' is a parameter placeholder; give constants as literals or in [bind]",
                        v.value
                    ));
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, _: &ast::Expr) -> ControlFlow<String> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
    }
    let mut names = Names {
        names: Vec::new(),
        depth: 0,
    };
    if let ControlFlow::Break(message) = ast::Visit::visit(&expr, &mut names) {
        return Err(message);
    }
    Ok(names.names)
}

/// Why text is not a SQL expression, as [`identifiers`] says it.
fn not_sql(e: &dyn std::fmt::Display) -> String {
    format!("not a SQL expression: {e}")
}

/// `sql` on one line, as messages show it.
#[doc(hidden)]
pub fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
