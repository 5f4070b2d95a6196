//! Nodes: named functions with named parameters and outputs, the unit a pipeline wires.
//!
//! [`Node`] is a cheap handle. Behind it is either a user function (anything that
//! implements [`NodeImpl`]; the `#[node]` macro and [`NodeBuilder`] write the
//! implementation for you) or a nested pipeline made with
//! [`Pipeline::as_node`](crate::Pipeline::as_node).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;

mod builder;
mod func;

use crate::error::{BoxError, Error, Result};
use crate::exec::Retry;
use crate::hash::StableHasher;
use crate::value::{TypeInfo, Value};

/// The values a node returns, one per declared output, in declaration order.
pub type NodeOutputs = SmallVec<[Value; 2]>;

/// A boxed future returned by an async node.
pub type BoxFuture = Pin<Box<dyn Future<Output = std::result::Result<NodeOutputs, BoxError>> + Send + 'static>>;

/// A named, typed parameter or output of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    name: Arc<str>,
    ty: TypeInfo,
}

impl Port {
    /// A port named `name` carrying values of type `ty`.
    pub fn new(name: impl Into<Arc<str>>, ty: TypeInfo) -> Port {
        Port { name: name.into(), ty }
    }

    /// The port's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The port's value type.
    pub fn type_info(&self) -> TypeInfo {
        self.ty
    }

    #[doc(hidden)]
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }
}

/// Whether a node's result may be cached and reused for equal inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Volatility {
    /// Equal inputs always give equal outputs: results may be cached.
    #[default]
    Immutable,
    /// The node must run every time (`#[node(cache = false)]`).
    Volatile,
}

/// The arguments of one call of a node: one value per parameter, in declaration order.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct InvokeArgs<'a> {
    /// The argument values.
    pub args: &'a [&'a Value],
}

impl<'a> InvokeArgs<'a> {
    /// Arguments in parameter order.
    pub fn new(args: &'a [&'a Value]) -> Self {
        InvokeArgs { args }
    }
}

/// The behaviour of a function node. Implement it for a node that neither the
/// `#[node]` macro nor [`NodeBuilder`] can describe; wrap it with [`Node::new`].
///
/// Few methods are required; the rest have documented defaults.
///
/// # Examples
///
/// ```
/// use hypernodes::node::{InvokeArgs, NodeImpl, NodeOutputs, Port};
/// use hypernodes::{BoxError, Inputs, Node, Pipeline, Run, TypeInfo, Value};
///
/// struct Len { params: Vec<Port>, outputs: Vec<Port> }
///
/// impl NodeImpl for Len {
///     fn name(&self) -> &str { "len" }
///     fn params(&self) -> &[Port] { &self.params }
///     fn outputs(&self) -> &[Port] { &self.outputs }
///     fn code_hash(&self) -> &str { "len-v1" }
///     fn invoke(&self, args: InvokeArgs<'_>) -> Result<NodeOutputs, BoxError> {
///         let text = args.args[0].downcast_ref::<String>().ok_or("text must be a String")?;
///         Ok(NodeOutputs::from_iter([Value::new(text.len())]))
///     }
/// }
///
/// let node = Node::new(Len {
///     params: vec![Port::new("text", TypeInfo::of::<String>())],
///     outputs: vec![Port::new("n", TypeInfo::of::<usize>())],
/// });
/// let out = Pipeline::new([node]).run(&Inputs::new().with("text", "four".to_string()))?;
/// assert_eq!(out.get::<usize>("n")?, 4);
/// # Ok::<(), hypernodes::Error>(())
/// ```
pub trait NodeImpl: Send + Sync + 'static {
    /// The node's name, used in messages, traces and pictures.
    fn name(&self) -> &str;

    /// The parameters, in the order [`NodeImpl::invoke`] receives them.
    fn params(&self) -> &[Port];

    /// The outputs, in the order [`NodeImpl::invoke`] returns them.
    fn outputs(&self) -> &[Port];

    /// A hash of the node's code and version; a change invalidates cached results.
    fn code_hash(&self) -> &str;

    /// Whether results may be cached. Default: [`Volatility::Immutable`].
    fn volatility(&self) -> Volatility {
        Volatility::Immutable
    }

    /// Calls the node on one item. Must return exactly one value per output, each of its
    /// declared type.
    ///
    /// # Errors
    ///
    /// Whatever the user function returns; the engine wraps it into
    /// [`Error::NodeFailed`] naming the node and item.
    fn invoke(&self, args: InvokeArgs<'_>) -> std::result::Result<NodeOutputs, BoxError>;

    /// How the node is retried when it returns an error or times out; `None` (the
    /// default) leaves it to the run's configuration.
    fn retry(&self) -> Option<Retry> {
        None
    }

    /// How long one call may take; `None` (the default) leaves it to the run's
    /// configuration. See [`Error::Timeout`] for what happens when it is exceeded.
    fn timeout(&self) -> Option<Duration> {
        None
    }

    /// Whether the node is an `async fn`. Default: `false`.
    fn is_async(&self) -> bool {
        false
    }

    /// Engine-specific implementation data. Default: `None`. The `#[node]` macro attaches
    /// the columnar engine's vectorized kernel here when every type is columnar.
    fn extension(&self) -> Option<&(dyn Any + Send + Sync)> {
        None
    }

    /// Whether a cache lookup is worth its cost: `false` for a node that costs less
    /// than the lookup (a SQL expression), which runs uncached in every engine.
    /// Default: `true`.
    fn worth_caching(&self) -> bool {
        true
    }

    /// Calls the node as a future. Default: runs [`NodeImpl::invoke`] at once.
    fn invoke_async(&self, args: Vec<Value>) -> BoxFuture {
        let refs: Vec<&Value> = args.iter().collect();
        let out = self.invoke(InvokeArgs::new(&refs));
        Box::pin(std::future::ready(out))
    }
}

impl dyn NodeImpl {
    /// Whether one call of [`NodeImpl::invoke`] on the calling thread runs the node: a
    /// sync function without retries or a timeout of its own (an engine awaits an
    /// `async fn` node on its runtime).
    #[inline]
    pub fn plain(&self) -> bool {
        self.retry().is_none() && self.timeout().is_none() && !self.is_async()
    }
}

/// A node of a pipeline: a cheap, clonable handle.
///
/// Make one with `#[node]` (`my_fn::node()`), with [`Node::builder`] from a closure,
/// from a [`NodeImpl`] with [`Node::new`], or from a pipeline with
/// [`Pipeline::as_node`](crate::Pipeline::as_node).
#[derive(Clone)]
pub struct Node {
    kind: NodeKind,
    /// The node this one was made from by [`Node::renamed`] or [`Node::uncached`].
    from: Option<Arc<Node>>,
}

#[derive(Clone)]
enum NodeKind {
    Func(Arc<dyn NodeImpl>),
    Nested(Arc<dyn Composite>),
}

/// A node made of a pipeline, as the node layer sees it: its signature, and what the
/// cache needs of the pipeline inside. Implemented by
/// [`NestedNode`](crate::nested::NestedNode), the one kind of composite node, which
/// the layers above find with [`NestedNode::of`](crate::nested::NestedNode::of).
#[doc(hidden)]
pub trait Composite: Send + Sync + fmt::Debug {
    fn name(&self) -> &str;
    fn params(&self) -> &[Port];
    fn outputs(&self) -> &[Port];
    fn code_hash(&self) -> &str;
    fn volatility(&self) -> Volatility;
    /// This node, never cached as a whole (its inner nodes keep their own settings).
    fn uncached(&self) -> Arc<dyn Composite>;
    /// Feeds the digests of the values bound inside it, recursively, into `h`; `Err`
    /// says why the node named `node` cannot be cached.
    fn hash_bound(&self, node: &str, h: &mut StableHasher) -> std::result::Result<(), String>;
    fn as_any(&self) -> &dyn Any;
}

impl Node {
    /// Wraps a [`NodeImpl`].
    pub fn new(node: impl NodeImpl) -> Node {
        Node {
            kind: NodeKind::Func(Arc::new(node)),
            from: None,
        }
    }

    /// Starts a node made from a closure; see [`NodeBuilder`].
    pub fn builder(name: impl Into<String>) -> NodeBuilder {
        NodeBuilder::new(name)
    }

    #[doc(hidden)]
    pub fn composite(node: Arc<dyn Composite>) -> Node {
        Node {
            kind: NodeKind::Nested(node),
            from: None,
        }
    }

    /// The implementation of a function node; `None` for a nested pipeline.
    pub fn as_func(&self) -> Option<&Arc<dyn NodeImpl>> {
        match &self.kind {
            NodeKind::Func(f) => Some(f),
            NodeKind::Nested(_) => None,
        }
    }

    /// The composite behind a nested pipeline node.
    #[doc(hidden)]
    pub fn as_composite(&self) -> Option<&dyn Composite> {
        match &self.kind {
            NodeKind::Nested(n) => Some(n.as_ref()),
            NodeKind::Func(_) => None,
        }
    }

    /// The node this one was made from by [`Node::renamed`] or [`Node::uncached`]
    /// (how a cluster executor finds a renamed function in its registry).
    #[doc(hidden)]
    pub fn renamed_from(&self) -> Option<&Node> {
        self.from.as_deref()
    }

    /// `self` marked as made from `from`.
    fn made_from(mut self, from: &Node) -> Node {
        self.from = Some(Arc::new(from.clone()));
        self
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        match &self.kind {
            NodeKind::Func(f) => f.name(),
            NodeKind::Nested(n) => n.name(),
        }
    }

    /// The node's parameters.
    pub fn params(&self) -> &[Port] {
        match &self.kind {
            NodeKind::Func(f) => f.params(),
            NodeKind::Nested(n) => n.params(),
        }
    }

    /// The node's outputs.
    pub fn outputs(&self) -> &[Port] {
        match &self.kind {
            NodeKind::Func(f) => f.outputs(),
            NodeKind::Nested(n) => n.outputs(),
        }
    }

    /// The node's code hash (for a nested pipeline: a hash of its structure).
    pub fn code_hash(&self) -> &str {
        match &self.kind {
            NodeKind::Func(f) => f.code_hash(),
            NodeKind::Nested(n) => n.code_hash(),
        }
    }

    /// Whether the node's results may be cached.
    pub fn volatility(&self) -> Volatility {
        match &self.kind {
            NodeKind::Func(f) => f.volatility(),
            NodeKind::Nested(n) => n.volatility(),
        }
    }

    /// Engine-specific implementation data of a function node (see
    /// [`NodeImpl::extension`]).
    pub fn extension(&self) -> Option<&(dyn Any + Send + Sync)> {
        match &self.kind {
            NodeKind::Func(f) => f.extension(),
            NodeKind::Nested(_) => None,
        }
    }

    /// Whether a cache lookup is worth its cost ([`NodeImpl::worth_caching`]); a
    /// nested pipeline always is.
    pub fn worth_caching(&self) -> bool {
        match &self.kind {
            NodeKind::Func(f) => f.worth_caching(),
            NodeKind::Nested(_) => true,
        }
    }

    /// Whether this node is a nested pipeline.
    pub fn is_nested(&self) -> bool {
        matches!(self.kind, NodeKind::Nested(_))
    }

    /// Whether the node is an `async fn` ([`NodeImpl::is_async`]).
    pub fn is_async(&self) -> bool {
        match &self.kind {
            NodeKind::Func(f) => f.is_async(),
            NodeKind::Nested(_) => false,
        }
    }

    /// The node's own retries ([`NodeImpl::retry`]); `None` for a nested pipeline.
    pub fn retry(&self) -> Option<Retry> {
        match &self.kind {
            NodeKind::Func(f) => f.retry(),
            NodeKind::Nested(_) => None,
        }
    }

    /// The node's own timeout ([`NodeImpl::timeout`]); `None` for a nested pipeline.
    pub fn timeout(&self) -> Option<Duration> {
        match &self.kind {
            NodeKind::Func(f) => f.timeout(),
            NodeKind::Nested(_) => None,
        }
    }

    /// The same function under another name, with parameters and outputs renamed by
    /// `(old, new)` pairs (names not listed keep theirs). The implementation, including
    /// the columnar engine's kernel, is shared; the code hash covers the new names.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "n")]
    /// fn count_words(text: &str) -> usize { text.split_whitespace().count() }
    ///
    /// let node = count_words::node().renamed("words", &[("text", "passage")], &[("n", "word_count")])?;
    /// assert_eq!(node.params()[0].name(), "passage");
    /// let out = Pipeline::new([node]).run(&Inputs::new().with("passage", "a b c".to_string()))?;
    /// assert_eq!(out.get::<usize>("word_count")?, 3);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a nested pipeline (map its names with
    /// [`AsNode`](crate::nested::AsNode) instead) or a name in `params` / `outputs` that
    /// the node does not have.
    pub fn renamed(&self, name: &str, params: &[(&str, &str)], outputs: &[(&str, &str)]) -> Result<Node> {
        let NodeKind::Func(inner) = &self.kind else {
            return Err(Error::Invalid(format!(
                "Node '{}' is a nested pipeline: rename its inputs and outputs with its mappings",
                self.name()
            )));
        };
        let rename = |ports: &[Port], pairs: &[(&str, &str)], what: &str| -> Result<Vec<Port>> {
            for (old, _) in pairs {
                if !ports.iter().any(|p| p.name() == *old) {
                    let names: Vec<&str> = ports.iter().map(Port::name).collect();
                    return Err(Error::Invalid(format!(
                        "Node '{}' has no {what} '{old}'; its {what}s are: {}",
                        self.name(),
                        names.join(", ")
                    )));
                }
            }
            Ok(ports
                .iter()
                .map(|p| match pairs.iter().find(|(old, _)| *old == p.name()) {
                    Some((_, new)) => Port::new(*new, p.type_info()),
                    None => p.clone(),
                })
                .collect())
        };
        let params = rename(inner.params(), params, "parameter")?;
        let outputs = rename(inner.outputs(), outputs, "output")?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(inner.code_hash().as_bytes());
        for p in params.iter().chain(&outputs) {
            hasher.update(b"\0");
            hasher.update(p.name().as_bytes());
        }
        Ok(Node::new(Renamed {
            inner: inner.clone(),
            name: name.to_string(),
            params,
            outputs,
            code_hash: hasher.finalize().to_hex().to_string(),
            volatility: inner.volatility(),
        })
        .made_from(self))
    }

    /// The same node, never cached ([`Volatility::Volatile`]): it runs on every call,
    /// and what reads its results still runs from the cache when they are equal.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::Volatility;
    ///
    /// #[node(output = "y")]
    /// fn inc(x: i64) -> i64 { x + 1 }
    ///
    /// assert_eq!(inc::node().volatility(), Volatility::Immutable);
    /// assert_eq!(inc::node().uncached().volatility(), Volatility::Volatile);
    /// assert_eq!(inc::node().uncached().name(), "inc");
    /// ```
    pub fn uncached(&self) -> Node {
        match &self.kind {
            NodeKind::Func(inner) => Node::new(Renamed {
                inner: inner.clone(),
                name: inner.name().to_string(),
                params: inner.params().to_vec(),
                outputs: inner.outputs().to_vec(),
                code_hash: inner.code_hash().to_string(),
                volatility: Volatility::Volatile,
            })
            .made_from(self),
            NodeKind::Nested(nested) => Node::composite(nested.uncached()).made_from(self),
        }
    }
}

/// A function node under other names ([`Node::renamed`]).
struct Renamed {
    inner: Arc<dyn NodeImpl>,
    name: String,
    params: Vec<Port>,
    outputs: Vec<Port>,
    code_hash: String,
    volatility: Volatility,
}

impl NodeImpl for Renamed {
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
        self.inner.invoke(args)
    }
    fn is_async(&self) -> bool {
        self.inner.is_async()
    }
    fn retry(&self) -> Option<Retry> {
        self.inner.retry()
    }
    fn timeout(&self) -> Option<Duration> {
        self.inner.timeout()
    }
    fn extension(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.inner.extension()
    }
    fn worth_caching(&self) -> bool {
        self.inner.worth_caching()
    }
    fn invoke_async(&self, args: Vec<Value>) -> BoxFuture {
        self.inner.invoke_async(args)
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |ports: &[Port]| {
            ports
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty))
                .collect::<Vec<_>>()
        };
        f.debug_struct("Node")
            .field("name", &self.name())
            .field("params", &names(self.params()))
            .field("outputs", &names(self.outputs()))
            .finish()
    }
}

pub use builder::{NodeBuilder, NodeFn, Tuple};
#[doc(hidden)]
pub use func::{NodeSpec, arg_clone, arg_ref, arg_str, async_node, box_err, sync_node};
