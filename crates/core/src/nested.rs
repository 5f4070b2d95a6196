//! Pipelines used as nodes of other pipelines ([`Pipeline::as_node`]), optionally mapped
//! over lists.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result, closest};
use crate::exec::{OnError, RunConfig};
use crate::hash::StableHasher;
use crate::inputs::Inputs;
use crate::map::{AsMapMode, MapMode};
use crate::node::{Composite, Node, NodeImpl, Port, Volatility};
use crate::pipeline::{Pipeline, quoted};
use crate::plan::{MapPlan, RunPlan};
use crate::value::{TypeInfo, Value};

/// Configures a pipeline as a node; finish with [`AsNode::build`].
///
/// - Input mapping, outer name → inner name: the node's parameter `outer` feeds the inner
///   input `inner`; unmapped inner inputs keep their names. Inner bound values are
///   neither required outside nor overridable from outside.
/// - Output mapping, inner name → outer name: when given, only the mapped outputs are
///   exposed; otherwise every inner output keeps its name.
/// - `map_over` (outer names): the inner pipeline runs once per item of those lists and
///   each output becomes a `Vec` (one element per item, an empty list for no items).
///
/// The nested pipeline computes only the outputs the outer pipeline consumes downstream
/// plus any the caller selects (with [`RunOptions::with_outputs`](crate::RunOptions::with_outputs)),
/// and runs only the inner nodes those need, at every level of nesting. A run returns
/// those outputs of the node, not the others; a node whose outputs nothing consumes (a
/// terminal node) computes and returns all of them. The nested pipeline runs on its own
/// engine if it has one, otherwise on the engine running the outer pipeline.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "tokens")]
/// fn count_tokens(sentence: &str) -> usize { sentence.split_whitespace().count() }
///
/// #[node(output = "total")]
/// fn total(counts: Vec<usize>) -> usize { counts.iter().sum() }
///
/// let per_sentence = Pipeline::new([count_tokens::node()])
///     .as_node("per_sentence")
///     .with_input_mapping([("sentences", "sentence")])
///     .with_output_mapping([("tokens", "counts")])
///     .with_map_over(["sentences"])
///     .build()?;
/// let doc = Pipeline::try_new([per_sentence, total::node()])?;
/// let sentences = vec!["a b c".to_string(), "d e".to_string()];
/// let out = doc.run(&Inputs::new().with("sentences", sentences))?;
/// assert_eq!(out.get::<Vec<usize>>("counts")?, [3, 2]);
/// assert_eq!(out.get::<usize>("total")?, 5);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the node"]
pub struct AsNode {
    pipeline: Pipeline,
    /// `None`: the pipeline's name.
    name: Option<String>,
    input_mapping: Vec<(String, String)>,
    output_mapping: Option<Vec<(String, String)>>,
    map_over: Vec<String>,
    mode: Result<MapMode, Box<str>>,
}

impl Pipeline {
    /// Starts using this pipeline as a node named `name`; see [`AsNode`]. To name the
    /// node after the pipeline, start with [`AsNode::new`].
    pub fn as_node(&self, name: impl Into<String>) -> AsNode {
        AsNode::new(self).with_name(name)
    }
}

impl AsNode {
    /// Starts using `pipeline` as a node named after it ([`Pipeline::with_name`]), as
    /// upstream's `as_node()` without a name does; [`with_name`](AsNode::with_name) names
    /// it otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::AsNode;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let inner = Pipeline::new([double::node()]).with_name("doubling");
    /// let node = AsNode::new(&inner).build()?;
    /// assert_eq!(node.name(), "doubling");
    /// assert_eq!(node.pipeline().and_then(Pipeline::name), Some("doubling"));
    ///
    /// // A pipeline without a name needs one for its node.
    /// let err = AsNode::new(&Pipeline::new([double::node()])).build().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "A nested pipeline without a name needs one for its node: name the pipeline (Pipeline::with_name) or the node (AsNode::with_name)"
    /// );
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn new(pipeline: &Pipeline) -> AsNode {
        AsNode {
            pipeline: pipeline.clone(),
            name: None,
            input_mapping: Vec::new(),
            output_mapping: None,
            map_over: Vec::new(),
            mode: Ok(MapMode::Zip),
        }
    }

    /// Names the node `name` instead of after its pipeline.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Feeds inner inputs from differently named outer values: `(outer, inner)` pairs.
    pub fn with_input_mapping<A: Into<String>, B: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (A, B)>,
    ) -> Self {
        self.input_mapping = pairs.into_iter().map(|(a, b)| (a.into(), b.into())).collect();
        self
    }

    /// Exposes only these inner outputs, renamed: `(inner, outer)` pairs.
    pub fn with_output_mapping<A: Into<String>, B: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (A, B)>,
    ) -> Self {
        self.output_mapping = Some(pairs.into_iter().map(|(a, b)| (a.into(), b.into())).collect());
        self
    }

    /// Maps the inner pipeline over these parameters (outer names).
    pub fn with_map_over<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.map_over = names.into_iter().map(Into::into).collect();
        self
    }

    /// Zip (default) or product, as [`MapMode`] or by name.
    pub fn with_map_mode(mut self, mode: impl AsMapMode) -> Self {
        self.mode = mode.as_map_mode().map_err(|e| match e {
            Error::UnknownMapMode { mode } => mode,
            other => other.to_string().into(),
        });
        self
    }

    /// The node.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a mapping naming an inner input or output that does not
    /// exist (or a bound input), two names colliding, or no name for the node (neither
    /// given nor the pipeline's); [`Error::MapOverNotInput`] for a `map_over` name that
    /// is not a parameter; [`Error::UnknownMapMode`].
    pub fn build(self) -> Result<Node> {
        let inner = &self.pipeline;
        let mode = self.mode.map_err(|mode| Error::UnknownMapMode { mode })?;
        let name = match self.name.or_else(|| inner.name().map(str::to_string)) {
            Some(name) => name,
            None => {
                return Err(Error::Invalid(
                    "A nested pipeline without a name needs one for its node: name the pipeline (Pipeline::with_name) or the node (AsNode::with_name)".into(),
                ));
            }
        };
        let node = &name;
        let mut errors = Vec::new();

        // Parameters: the unbound inner inputs, renamed by the input mapping.
        let mut outer_of: BTreeMap<&str, &str> = BTreeMap::new();
        for (outer, inner_name) in &self.input_mapping {
            if inner.input_type(inner_name).is_none() {
                errors.push(Error::Invalid(format!(
                    "Node '{node}': input mapping '{outer}' -> '{inner_name}' names no input of the nested pipeline. Inputs: {}",
                    quoted(inner.inputs())
                )));
            } else if inner.bound_inputs().contains(inner_name) {
                errors.push(Error::Invalid(format!(
                    "Node '{node}': input mapping '{outer}' -> '{inner_name}' names a bound input of the nested pipeline"
                )));
            } else if outer_of.insert(inner_name, outer).is_some() {
                errors.push(Error::Invalid(format!(
                    "Node '{node}': input mapping maps '{inner_name}' twice"
                )));
            }
        }
        let mut params = Vec::new();
        let mut inner_params = Vec::new();
        for inner_name in inner.unfulfilled_args() {
            let outer = outer_of.get(inner_name).copied().unwrap_or(inner_name);
            if params.iter().any(|p: &Port| p.name() == outer) {
                errors.push(Error::Invalid(format!(
                    "Node '{node}': two inner inputs are fed by '{outer}'"
                )));
                continue;
            }
            let ty = inner.input_type(inner_name).expect("an input");
            let ty = if self.map_over.iter().any(|m| m == outer) {
                list_type(node, ty, &mut errors)
            } else {
                ty
            };
            params.push(Port::new(outer, ty));
            inner_params.push(inner_name.to_string());
        }
        let mut map_over_inner = Vec::new();
        for name in &self.map_over {
            match params.iter().position(|p| p.name() == name) {
                Some(i) => map_over_inner.push(inner_params[i].clone()),
                None => errors.push(Error::MapOverNotInput {
                    name: name.clone().into(),
                    suggestion: closest(name, params.iter().map(Port::name)),
                    inputs: params.iter().map(|p| p.name().to_string()).collect(),
                }),
            }
        }

        // Outputs: mapped ones renamed, or all of them.
        let pairs: Vec<(String, String)> = match &self.output_mapping {
            Some(pairs) => pairs.clone(),
            None => inner.outputs().iter().map(|o| (o.to_string(), o.to_string())).collect(),
        };
        let mut outputs = Vec::new();
        let mut inner_outputs = Vec::new();
        for (inner_name, outer) in pairs {
            let Some(ty) = inner.output_type(&inner_name) else {
                errors.push(Error::Invalid(format!(
                    "Node '{node}': output mapping '{inner_name}' -> '{outer}' names no output of the nested pipeline. Outputs: {}",
                    quoted(inner.outputs())
                )));
                continue;
            };
            if outputs.iter().any(|p: &Port| p.name() == outer) {
                errors.push(Error::Invalid(format!(
                    "Node '{node}': output '{outer}' is mapped twice"
                )));
                continue;
            }
            let ty = if self.map_over.is_empty() {
                ty
            } else {
                list_type(node, ty, &mut errors)
            };
            outputs.push(Port::new(outer, ty));
            inner_outputs.push(inner_name);
        }
        Error::combine(errors)?;

        let mut hasher = blake3::Hasher::new();
        hasher.update(b"nested\0").update(node.as_bytes());
        for n in inner.nodes() {
            hasher
                .update(b"\0")
                .update(n.name().as_bytes())
                .update(b"=")
                .update(n.code_hash().as_bytes());
        }
        for (p, i) in params.iter().zip(&inner_params) {
            hasher.update(format!("\0in:{}={i}", p.name()).as_bytes());
        }
        for (p, i) in outputs.iter().zip(&inner_outputs) {
            hasher.update(format!("\0out:{i}={}", p.name()).as_bytes());
        }
        hasher.update(format!("\0over:{:?}:{mode}", self.map_over).as_bytes());
        let volatile = inner.nodes().iter().any(|n| n.volatility() == Volatility::Volatile);

        Ok(Node::composite(Arc::new(NestedNode {
            name,
            pipeline: self.pipeline,
            params,
            inner_params,
            outputs,
            inner_outputs,
            map_over: map_over_inner,
            mode,
            code_hash: hasher.finalize().to_hex().to_string(),
            volatility: if volatile {
                Volatility::Volatile
            } else {
                Volatility::Immutable
            },
        })))
    }
}

fn list_type(node: &str, ty: TypeInfo, errors: &mut Vec<Error>) -> TypeInfo {
    ty.list_of().unwrap_or_else(|| {
        errors.push(Error::Invalid(format!(
            "Node '{node}': lists of {ty} nest deeper than hypernodes supports (4 levels)"
        )));
        ty
    })
}

impl Node {
    /// The pipeline behind a nested node ([`Pipeline::as_node`]); `None` for a function
    /// node.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let inner = Pipeline::new([double::node()]).with_name("inner");
    /// let nested = inner.as_node("twice").build()?;
    /// let back = nested.pipeline().expect("a nested node");
    /// assert_eq!(back.name(), Some("inner"));
    /// assert_eq!(back.nodes()[0].name(), "double");
    /// assert!(double::node().pipeline().is_none());
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn pipeline(&self) -> Option<&Pipeline> {
        NestedNode::of(self).map(NestedNode::pipeline)
    }
}

/// What a node is, for the layers that run or show it.
pub enum NodeKind<'a> {
    /// A function node.
    Func(&'a Arc<dyn NodeImpl>),
    /// A nested pipeline.
    Nested(&'a NestedNode),
}

/// What `node` is.
pub fn kind(node: &Node) -> NodeKind<'_> {
    match NestedNode::of(node) {
        Some(nested) => NodeKind::Nested(nested),
        None => NodeKind::Func(node.as_func().expect("a node is a function or a nested pipeline")),
    }
}

/// A pipeline used as a node: the behaviour behind [`AsNode::build`].
#[derive(Clone, Debug)]
pub struct NestedNode {
    name: String,
    pipeline: Pipeline,
    params: Vec<Port>,
    /// The inner input fed by each parameter.
    inner_params: Vec<String>,
    outputs: Vec<Port>,
    /// The inner output behind each output.
    inner_outputs: Vec<String>,
    /// Inner names mapped over.
    map_over: Vec<String>,
    mode: MapMode,
    code_hash: String,
    volatility: Volatility,
}

impl NestedNode {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's parameters (outer names).
    pub fn params(&self) -> &[Port] {
        &self.params
    }

    /// The node's outputs (outer names).
    pub fn outputs(&self) -> &[Port] {
        &self.outputs
    }

    /// A hash of the nested structure.
    pub fn code_hash(&self) -> &str {
        &self.code_hash
    }

    /// Volatile when any inner node is.
    pub fn volatility(&self) -> Volatility {
        self.volatility
    }

    /// The nested pipeline behind `node`; `None` for a function node.
    pub fn of(node: &Node) -> Option<&NestedNode> {
        node.as_composite()?.as_any().downcast_ref()
    }

    /// The inner pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The inner input fed by each parameter, in parameter order.
    pub fn inner_params(&self) -> &[String] {
        &self.inner_params
    }

    /// The inner output behind each output, in output order.
    pub fn inner_outputs(&self) -> &[String] {
        &self.inner_outputs
    }

    /// The inner names mapped over (empty when the node is not mapped).
    pub fn map_over(&self) -> &[String] {
        &self.map_over
    }

    /// Zip or product.
    pub fn mode(&self) -> MapMode {
        self.mode
    }

    /// The configuration the inner pipeline runs with under a parent run configured with
    /// `parent`. Its map always fails on its first failing item, whatever failure policy
    /// the inner pipeline sets for its own calls: the failure fails the outer item.
    #[doc(hidden)]
    pub fn config(&self, parent: &Arc<RunConfig>) -> Result<Arc<RunConfig>> {
        if self.pipeline.config().is_empty() && parent.on_error() == Some(OnError::Fail) {
            // Nothing of its own: the parent's settings as they are (no copy per call).
            return Ok(parent.clone());
        }
        self.pipeline
            .config()
            .clone()
            .with_on_error(OnError::Fail)
            .resolve(parent)
    }

    /// Runs the nested pipeline on one set of arguments (one per parameter), computing
    /// only the outputs flagged in `keep`; the others are `None`. `parent` is the
    /// configuration the outer run executes with; the inner pipeline's own settings win
    /// over it (its engine, executors, retries, timeout), and a map inside always fails
    /// on its first failing item. `item` is the item of the outer map the call is for,
    /// if any: with callbacks, the inner run reports in a context one level deeper,
    /// between [`on_nested_start`](crate::events::Callback::on_nested_start) and
    /// [`on_nested_end`](crate::events::Callback::on_nested_end).
    ///
    /// # Errors
    ///
    /// Whatever the inner run returns.
    pub fn call(
        &self,
        parent: &Arc<RunConfig>,
        args: &[&Value],
        keep: &[bool],
        item: Option<usize>,
    ) -> Result<Vec<Option<Value>>> {
        let config = self.config(parent)?;
        let config = match parent.context() {
            Some(ctx) if !config.callbacks().is_empty() => {
                let ctx = ctx.child(self.name(), self.pipeline.name(), item.map(|i| i..i + 1));
                Arc::new((*config).clone().in_context(ctx))
            }
            _ => config,
        };
        let Some(events) = config.events() else {
            return self.call_in(&config, args, keep);
        };
        events.nested_start();
        let out = self.call_in(&config, args, keep);
        events.nested_end(out.as_ref().err());
        out
    }

    fn call_in(&self, config: &Arc<RunConfig>, args: &[&Value], keep: &[bool]) -> Result<Vec<Option<Value>>> {
        let inputs: Inputs = self
            .inner_params
            .iter()
            .zip(args)
            .map(|(n, v)| (n.as_str(), (*v).clone()))
            .collect();
        let select: Vec<String> = self
            .inner_outputs
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(n, _)| n.clone())
            .collect();
        let engine = config.resolved_engine()?.clone();
        let mut values = if self.map_over.is_empty() {
            let plan = RunPlan::new(&self.pipeline, &inputs, Some(&select), &[], config.clone())?;
            engine.run(&plan)?.into_values()
        } else {
            let over: Vec<&str> = self.map_over.iter().map(String::as_str).collect();
            let plan = MapPlan::new(&self.pipeline, &inputs, &over, self.mode, Some(&select), config.clone())?;
            crate::run::events_of_map(config, plan.len(), || engine.map(&plan))?.into_columns()
        };
        // Each kept output, as the engine (possibly one of the user's) returned it: one
        // value of the output's type.
        let mut out = Vec::with_capacity(keep.len());
        for ((inner, port), &k) in self.inner_outputs.iter().zip(&self.outputs).zip(keep) {
            if !k {
                out.push(None);
                continue;
            }
            let value = values.remove(inner).ok_or_else(|| {
                Error::Invalid(format!(
                    "Engine '{}' returned no value for output '{inner}' of the nested pipeline",
                    engine.name()
                ))
            })?;
            if value.type_info() != port.type_info() {
                return Err(Error::Invalid(format!(
                    "Engine '{}' returned {} for output '{inner}' of the nested pipeline, which is {}",
                    engine.name(),
                    value.type_name(),
                    port.type_info()
                )));
            }
            out.push(Some(value));
        }
        Ok(out)
    }
}

impl Composite for NestedNode {
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

    fn uncached(&self) -> Arc<dyn Composite> {
        Arc::new(NestedNode {
            volatility: Volatility::Volatile,
            ..self.clone()
        })
    }

    fn hash_bound(&self, node: &str, h: &mut StableHasher) -> std::result::Result<(), String> {
        for (name, value) in self.pipeline.bound_inputs().iter() {
            let d = crate::hash::digest(value).ok_or_else(|| {
                format!(
                    "node '{node}' is not cached: the value bound to '{name}' inside it has type {}, which cannot be hashed",
                    value.type_name()
                )
            })?;
            h.value(name).bytes(&d);
        }
        for inner in self.pipeline.nodes() {
            if let Some(nested) = inner.as_composite() {
                nested.hash_bound(node, h)?;
            }
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
