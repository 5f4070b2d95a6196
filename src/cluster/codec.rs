//! How a node crosses to a scheduler and its executors: each node UDF of a plan is
//! encoded as a description (the function's name in the [`Registry`], its code hash
//! and its configuration: names, renames, a nested pipeline's structure and bound
//! values), and decoded by finding the function in the receiving process's registry.
//! A function whose code hash differs there is refused: an executor never runs other
//! code than the client's.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;
use serde::{Deserialize, Serialize};

use super::range::FileRange;
use crate::engine::columnar::{ColumnType, ExprNode, node_of_udf, plan_udf};
use crate::error::{Error, Result};
use crate::exec::RunConfig;
use crate::inputs::Inputs;
use crate::map::MapMode;
use crate::nested::{NodeKind, kind};
use crate::node::{Node, Volatility};
use crate::pipeline::Pipeline;
use crate::spec::Registry;

/// The encoding's version: a process reading another version refuses the plan.
const VERSION: u32 = 1;

/// A node UDF as it travels: the node's description and its code hash.
#[derive(Serialize, Deserialize)]
struct Encoded {
    version: u32,
    code_hash: String,
    node: NodeDesc,
}

/// A node described by what rebuilds it from a registry.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum NodeDesc {
    /// A function: from the outermost rename to the node it was made from, innermost
    /// last; the innermost level found in the registry with the same code hash is
    /// rebuilt and renamed back up.
    Function { levels: Vec<Level> },
    /// A SQL expression over typed inputs.
    Expr {
        name: String,
        output: String,
        sql: String,
        /// `(input, Arrow type)`.
        inputs: Vec<(String, String)>,
    },
    /// A nested pipeline as a node.
    Nested {
        name: String,
        pipeline: PipelineDesc,
        /// `(outer, inner)`.
        inputs: Vec<(String, String)>,
        /// `(inner, outer)`.
        outputs: Vec<(String, String)>,
        map_over: Vec<String>,
        mode: String,
        volatile: bool,
    },
}

/// One level of a function node's renames.
#[derive(Serialize, Deserialize)]
struct Level {
    name: String,
    code_hash: String,
    params: Vec<String>,
    outputs: Vec<String>,
    volatile: bool,
}

/// A nested node's inner pipeline.
#[derive(Serialize, Deserialize)]
struct PipelineDesc {
    name: Option<String>,
    nodes: Vec<NodeDesc>,
    /// `(input, DataFusion's protobuf encoding of the value as a scalar)`.
    bound: Vec<(String, Vec<u8>)>,
}

/// Describes `node`, or says why it cannot cross a process.
fn describe(node: &Node) -> std::result::Result<NodeDesc, String> {
    if let Some(e) = ExprNode::find(node) {
        let inputs = node
            .params()
            .iter()
            .map(|p| {
                // The Arrow type the expression reads it as (a declared `decimal(12, 2)`).
                let declared = e.input_type(p.name()).cloned();
                declared
                    .or_else(|| ColumnType::find(&p.type_info()).map(|ct| (ct.data_type)()))
                    .map(|dt| (p.name().to_string(), dt.to_string()))
                    .ok_or_else(|| format!("reads '{}' as {}, which is not an Arrow type", p.name(), p.type_info()))
            })
            .collect::<std::result::Result<_, _>>()?;
        return Ok(NodeDesc::Expr {
            name: node.name().to_string(),
            output: node.outputs()[0].name().to_string(),
            sql: e.sql().to_string(),
            inputs,
        });
    }
    match kind(node) {
        NodeKind::Func(_) => {
            let mut levels = Vec::new();
            let mut at = Some(node);
            while let Some(n) = at {
                levels.push(Level {
                    name: n.name().to_string(),
                    code_hash: n.code_hash().to_string(),
                    params: n.params().iter().map(|p| p.name().to_string()).collect(),
                    outputs: n.outputs().iter().map(|p| p.name().to_string()).collect(),
                    volatile: n.volatility() == Volatility::Volatile,
                });
                at = n.renamed_from();
            }
            Ok(NodeDesc::Function { levels })
        }
        NodeKind::Nested(nested) => {
            let inner = nested.pipeline();
            let mut bound = Vec::new();
            for (name, value) in inner.bound_inputs().iter() {
                let ty = inner.input_type(name).expect("a bound input has a type");
                let encoded = ColumnType::find(&ty)
                    .and_then(|ct| (ct.value_to_array)(value))
                    .and_then(|a| ScalarValue::try_from_array(a.as_ref(), 0).ok())
                    .and_then(|s| datafusion_proto::protobuf::ScalarValue::try_from(&s).ok())
                    .ok_or_else(|| format!("binds '{name}' to a {ty}, which is not an Arrow type"))?;
                bound.push((name.to_string(), encoded.encode_to_vec()));
            }
            let mut nodes = Vec::new();
            for n in inner.nodes() {
                nodes.push(describe(n).map_err(|why| format!("runs node '{}', which {why}", n.name()))?);
            }
            Ok(NodeDesc::Nested {
                name: nested.name().to_string(),
                pipeline: PipelineDesc {
                    name: inner.name().map(str::to_string),
                    nodes,
                    bound,
                },
                inputs: nested
                    .params()
                    .iter()
                    .zip(nested.inner_params())
                    .map(|(p, i)| (p.name().to_string(), i.clone()))
                    .collect(),
                outputs: nested
                    .inner_outputs()
                    .iter()
                    .zip(nested.outputs())
                    .map(|(i, p)| (i.clone(), p.name().to_string()))
                    .collect(),
                // `map_over` names inner inputs; the node is built from outer names.
                map_over: nested
                    .map_over()
                    .iter()
                    .map(|inner| {
                        let k = nested
                            .inner_params()
                            .iter()
                            .position(|i| i == inner)
                            .expect("a mapped input");
                        nested.params()[k].name().to_string()
                    })
                    .collect(),
                mode: nested.mode().to_string(),
                volatile: nested.volatility() == Volatility::Volatile,
            })
        }
    }
}

/// Why `pipeline` cannot run on a cluster, node by node (empty when it can): a type that
/// is not columnar, or a nested pipeline binding a value that is not.
pub(crate) fn check(pipeline: &Pipeline) -> Result<()> {
    crate::engine::columnar::plan_udfs(pipeline, "on a cluster")?;
    let reasons: Vec<String> = pipeline
        .nodes()
        .iter()
        .filter_map(|n| describe(n).err().map(|why| format!("node '{}' {why}", n.name())))
        .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Error::Unfit {
            target: "on a cluster".into(),
            reasons,
        })
    }
}

/// Rebuilds a described node from `registry`.
fn rebuild(desc: &NodeDesc, registry: &Registry) -> Result<Node> {
    match desc {
        NodeDesc::Function { levels } => rebuild_function(levels, registry),
        NodeDesc::Expr {
            name,
            output,
            sql,
            inputs,
        } => {
            let (mut names, mut columns) = (BTreeMap::new(), BTreeMap::new());
            for (input, ty) in inputs {
                let data_type = DataType::from_str(ty).ok();
                let info = data_type
                    .as_ref()
                    .and_then(crate::engine::columnar::types::type_info_for)
                    .ok_or_else(|| {
                        Error::Invalid(format!("node '{name}': input '{input}' has an unknown type {ty}"))
                    })?;
                names.insert(input.clone(), info);
                columns.extend(data_type.map(|dt| (input.clone(), dt)));
            }
            ExprNode::node_over(name, output, sql, &names, &columns)
        }
        NodeDesc::Nested {
            name,
            pipeline,
            inputs,
            outputs,
            map_over,
            mode,
            volatile,
        } => {
            let nodes = pipeline
                .nodes
                .iter()
                .map(|d| rebuild(d, registry))
                .collect::<Result<Vec<_>>>()?;
            let mut inner = Pipeline::try_new(nodes)?;
            if let Some(n) = &pipeline.name {
                inner = inner.with_name(n);
            }
            if !pipeline.bound.is_empty() {
                let mut bound = Inputs::new();
                for (input, bytes) in &pipeline.bound {
                    bound.insert_value(input.clone(), bound_value(name, input, bytes)?);
                }
                inner = inner.bind(bound)?;
            }
            let node = inner
                .as_node(name.clone())
                .with_input_mapping(inputs.iter().cloned())
                .with_output_mapping(outputs.iter().cloned())
                .with_map_over(map_over.iter().cloned())
                .with_map_mode(MapMode::from_str(mode)?)
                .build()?;
            Ok(if *volatile { node.uncached() } else { node })
        }
    }
}

/// A nested pipeline's bound value from its encoding.
fn bound_value(node: &str, input: &str, bytes: &[u8]) -> Result<crate::value::Value> {
    let bad = || Error::Invalid(format!("node '{node}': the value bound to '{input}' did not decode"));
    let proto = datafusion_proto::protobuf::ScalarValue::decode(bytes).map_err(|_| bad())?;
    let scalar = ScalarValue::try_from(&proto).map_err(|_| bad())?;
    let array = scalar.to_array().map_err(|_| bad())?;
    let ty = crate::engine::columnar::types::type_info_for(array.data_type()).ok_or_else(bad)?;
    let ct = ColumnType::find(&ty).ok_or_else(bad)?;
    (ct.array_value)(array.as_ref(), 0).ok_or_else(bad)
}

/// Rebuilds a function node: the innermost level the registry holds with the same code
/// hash, renamed back up level by level.
fn rebuild_function(levels: &[Level], registry: &Registry) -> Result<Node> {
    let outer = levels.first().map_or("", |l| l.name.as_str());
    let found = levels
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| registry.get(&l.name).is_some_and(|n| n.code_hash() == l.code_hash));
    let Some((at, level)) = found else {
        // A function of that name with other code, else no such function.
        if let Some((l, n)) = levels.iter().rev().find_map(|l| registry.get(&l.name).map(|n| (l, n))) {
            return Err(Error::Invalid(format!(
                "node '{outer}': function '{}' has code hash {} here but {} where the plan was made; \
                 build this process from the same code",
                l.name,
                short(n.code_hash()),
                short(&l.code_hash)
            )));
        }
        let names: Vec<&str> = levels.iter().rev().map(|l| l.name.as_str()).collect();
        return Err(Error::Invalid(format!(
            "node '{outer}': function '{}' is not in this process's registry. Functions: {}",
            names[0],
            registry.names().join(", ")
        )));
    };
    let mut node = registry.get(&level.name).expect("found above").clone();
    let mut below = level;
    for l in levels[..at].iter().rev() {
        node = if l.code_hash == below.code_hash {
            // Made by `uncached`: the same names and code.
            node.uncached()
        } else {
            let pairs = |old: &[String], new: &[String]| -> Vec<(String, String)> {
                old.iter().cloned().zip(new.iter().cloned()).collect()
            };
            let params = pairs(&below.params, &l.params);
            let outputs = pairs(&below.outputs, &l.outputs);
            let params: Vec<(&str, &str)> = params.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let outputs: Vec<(&str, &str)> = outputs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let renamed = node.renamed(&l.name, &params, &outputs)?;
            if l.volatile { renamed.uncached() } else { renamed }
        };
        below = l;
    }
    Ok(node)
}

/// The first 12 hex digits of a code hash, for messages.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The codec of hypernodes' node UDFs, over Ballista's own codecs for everything else.
/// Clients, the scheduler and executors all use it; the `registry` finds the functions
/// of the plans it decodes.
#[derive(Debug)]
pub struct NodeCodec {
    registry: Arc<Registry>,
    logical: Arc<dyn LogicalExtensionCodec>,
    physical: Arc<dyn PhysicalExtensionCodec>,
}

impl NodeCodec {
    /// A codec finding functions in `registry`.
    pub fn new(registry: Registry) -> NodeCodec {
        NodeCodec {
            registry: Arc::new(registry),
            logical: Arc::new(ballista_core::serde::BallistaLogicalExtensionCodec::default()),
            physical: Arc::new(ballista_core::serde::BallistaPhysicalExtensionCodec::default()),
        }
    }

    /// Writes the description of a node UDF into `buf` (nothing for any other UDF).
    fn encode_udf(&self, udf: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        let Some(node) = node_of_udf(udf) else {
            return Ok(());
        };
        let desc = describe(node).map_err(|why| {
            DataFusionError::External(Box::new(Error::Unfit {
                target: "on a cluster".into(),
                reasons: vec![format!("node '{}' {why}", node.name())],
            }))
        })?;
        let encoded = Encoded {
            version: VERSION,
            code_hash: node.code_hash().to_string(),
            node: desc,
        };
        // Unreachable: the description holds strings and bytes only.
        serde_json::to_writer(buf, &encoded).map_err(|e| DataFusionError::Internal(e.to_string()))
    }

    /// The node UDF described in `buf`, rebuilt from the registry.
    fn decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        let error = |e: Error| DataFusionError::Plan(format!("{}{e}", super::HYPERNODES));
        if buf.is_empty() {
            return Err(error(Error::Invalid(format!(
                "function '{name}' is neither DataFusion's nor a hypernodes node"
            ))));
        }
        let encoded: Encoded = serde_json::from_slice(buf).map_err(|e| {
            error(Error::Invalid(format!(
                "node '{name}': its description did not decode ({e}); is this process built from the same \
                 hypernodes version as the client?"
            )))
        })?;
        if encoded.version != VERSION {
            return Err(error(Error::Invalid(format!(
                "node '{name}': described in version {} of the encoding, this process reads version {VERSION}",
                encoded.version
            ))));
        }
        let node = rebuild(&encoded.node, &self.registry).map_err(error)?;
        if node.code_hash() != encoded.code_hash {
            return Err(error(Error::Invalid(format!(
                "node '{name}': rebuilt here with code hash {}, but the client's has {}; build this process \
                 from the same code",
                short(node.code_hash()),
                short(&encoded.code_hash)
            ))));
        }
        match plan_udf(&node, &RunConfig::new()).map_err(error)? {
            Some(Some(udf)) => Ok(Arc::new(udf)),
            // Unreachable: the client made a UDF of this node, and the node rebuilt has
            // the same code hash, so the same types.
            _ => Err(DataFusionError::Internal(format!(
                "node '{name}' rebuilt without a UDF"
            ))),
        }
    }
}

impl LogicalExtensionCodec for NodeCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> DfResult<Extension> {
        self.logical.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.logical.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &datafusion::common::TableReference,
        schema: arrow::datatypes::SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        match FileRange::decode(buf, schema.clone()) {
            Some(range) => range,
            None => self.logical.try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &datafusion::common::TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        match FileRange::encode(&node) {
            Some(encoded) => {
                buf.extend(encoded?);
                Ok(())
            }
            None => self.logical.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> DfResult<Arc<dyn FileFormatFactory>> {
        self.logical.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> DfResult<()> {
        self.logical.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        self.decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        self.encode_udf(node, buf)
    }
}

impl PhysicalExtensionCodec for NodeCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.physical.try_decode(buf, inputs, ctx, converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        self.physical.try_encode(node, buf, converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> DfResult<Arc<ScalarUDF>> {
        self.decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> DfResult<()> {
        self.encode_udf(node, buf)
    }
}
