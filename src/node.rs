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

use crate::error::{BoxError, Error, Result};
use crate::exec::{block_on, Retry};
use crate::hash::{StableHash, StableHasher};
use crate::nested::NestedNode;
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

    pub(crate) fn name_arc(&self) -> &Arc<str> {
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
/// use hypernodes::{BoxError, Inputs, Node, Pipeline, TypeInfo, Value};
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

    /// Calls the node as a future. Default: runs [`NodeImpl::invoke`] at once.
    fn invoke_async(&self, args: Vec<Value>) -> BoxFuture {
        let refs: Vec<&Value> = args.iter().collect();
        let out = self.invoke(InvokeArgs::new(&refs));
        Box::pin(std::future::ready(out))
    }
}

impl dyn NodeImpl {
    /// Whether the node has neither retries nor a timeout of its own.
    #[inline]
    pub(crate) fn plain(&self) -> bool {
        self.retry().is_none() && self.timeout().is_none()
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
pub(crate) enum NodeKind {
    Func(Arc<dyn NodeImpl>),
    Nested(Arc<NestedNode>),
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

    pub(crate) fn nested(node: NestedNode) -> Node {
        Node {
            kind: NodeKind::Nested(Arc::new(node)),
            from: None,
        }
    }

    pub(crate) fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// The node this one was made from by [`Node::renamed`] or [`Node::uncached`]
    /// (how a cluster executor finds a renamed function in its registry).
    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    pub(crate) fn renamed_from(&self) -> Option<&Node> {
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
            NodeKind::Nested(nested) => Node::nested(nested.as_ref().clone().uncached()).made_from(self),
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

/// A node's declaration as the `#[node]` macro writes it.
#[doc(hidden)]
pub struct NodeSpec {
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub param_types: Vec<TypeInfo>,
    pub outputs: &'static [&'static str],
    pub output_types: Vec<TypeInfo>,
    pub code_hash: &'static str,
    pub cache: bool,
    pub kernel: Option<Box<dyn Any + Send + Sync>>,
    pub retry: Option<Retry>,
    pub timeout: Option<Duration>,
}

/// What every function node shares: its name, ports, hash and engine data.
struct Signature {
    name: String,
    params: Vec<Port>,
    outputs: Vec<Port>,
    code_hash: String,
    volatility: Volatility,
    extension: Option<Box<dyn Any + Send + Sync>>,
    retry: Option<Retry>,
    timeout: Option<Duration>,
}

impl From<NodeSpec> for Signature {
    fn from(spec: NodeSpec) -> Self {
        let ports =
            |names: &[&str], types: Vec<TypeInfo>| names.iter().zip(types).map(|(n, t)| Port::new(*n, t)).collect();
        Signature {
            name: spec.name.to_string(),
            params: ports(spec.params, spec.param_types),
            outputs: ports(spec.outputs, spec.output_types),
            code_hash: spec.code_hash.to_string(),
            volatility: if spec.cache {
                Volatility::Immutable
            } else {
                Volatility::Volatile
            },
            extension: spec.kernel,
            retry: spec.retry,
            timeout: spec.timeout,
        }
    }
}

/// A node calling a synchronous function over erased arguments.
struct SyncFn<F> {
    sig: Signature,
    f: F,
}

/// A node calling an async function.
struct AsyncFn<F> {
    sig: Signature,
    f: F,
}

macro_rules! signature_methods {
    () => {
        fn name(&self) -> &str {
            &self.sig.name
        }
        fn params(&self) -> &[Port] {
            &self.sig.params
        }
        fn outputs(&self) -> &[Port] {
            &self.sig.outputs
        }
        fn code_hash(&self) -> &str {
            &self.sig.code_hash
        }
        fn volatility(&self) -> Volatility {
            self.sig.volatility
        }
        fn extension(&self) -> Option<&(dyn Any + Send + Sync)> {
            self.sig.extension.as_deref()
        }
        fn retry(&self) -> Option<Retry> {
            self.sig.retry
        }
        fn timeout(&self) -> Option<Duration> {
            self.sig.timeout
        }
    };
}

impl<F> NodeImpl for SyncFn<F>
where
    F: Fn(&[&Value]) -> std::result::Result<NodeOutputs, BoxError> + Send + Sync + 'static,
{
    signature_methods!();

    #[inline]
    fn invoke(&self, args: InvokeArgs<'_>) -> std::result::Result<NodeOutputs, BoxError> {
        (self.f)(args.args)
    }
}

impl<F> NodeImpl for AsyncFn<F>
where
    F: Fn(Vec<Value>) -> BoxFuture + Send + Sync + 'static,
{
    signature_methods!();

    fn invoke(&self, args: InvokeArgs<'_>) -> std::result::Result<NodeOutputs, BoxError> {
        block_on((self.f)(args.args.iter().map(|v| (*v).clone()).collect()))
    }

    fn is_async(&self) -> bool {
        true
    }

    fn invoke_async(&self, args: Vec<Value>) -> BoxFuture {
        (self.f)(args)
    }
}

/// Builds a node from a closure, for code that does not use the `#[node]` macro.
///
/// Parameters are taken by value (cloned from the pipeline's values), so each parameter
/// type must be `Clone`.
///
/// # Code hash and captured values
///
/// A closure has no source to hash. Its code hash covers the node's name, ports,
/// [`version`](NodeBuilder::version), the closure's type name (which names the function
/// it is written in) and every value declared with [`captures`](NodeBuilder::captures).
/// Bump the version when the closure's body changes.
///
/// A closure that captures values (one made by a factory such as `make(k)` returning
/// `move |x| x + k`) behaves differently for different captured values that no hash can
/// see. Declare them with [`captures`](NodeBuilder::captures) so that `make(1)` and
/// `make(2)` get different code hashes. A closure that captures anything (it is not
/// zero-sized) and declares nothing is [`Volatility::Volatile`]: it is never cached,
/// because its hash cannot tell its variants apart. Declare `captures(&())` for captured
/// state that does not change results (a counter, a log handle).
///
/// # Examples
///
/// ```
/// use hypernodes::{Inputs, Node, Pipeline, Volatility};
///
/// let offset = 10;
/// let add = Node::builder("add").params(["a", "b"]).output("sum").captures(&offset).build(move |a: i64, b: i64| a + b + offset)?;
/// let divmod = Node::builder("divmod")
///     .params(["sum"])
///     .outputs(["q", "r"])
///     .build_tuple(|s: i64| (s / 4, s % 4))?;
/// let out = Pipeline::try_new([add, divmod])?.run(&Inputs::new().with("a", 1_i64).with("b", 2_i64))?;
/// assert_eq!((out.get::<i64>("q")?, out.get::<i64>("r")?), (3, 1));
///
/// // A factory: each node declares the value its closure captures.
/// let make = |k: i64| Node::builder("add_k").params(["x"]).output("y").captures(&k).build(move |x: i64| x + k);
/// assert_ne!(make(1)?.code_hash(), make(2)?.code_hash());
/// assert_eq!(make(1)?.code_hash(), make(1)?.code_hash());
/// // Undeclared, a captured value makes the node uncacheable.
/// let k = 3_i64;
/// let undeclared = Node::builder("add_k").params(["x"]).output("y").build(move |x: i64| x + k)?;
/// assert_eq!(undeclared.volatility(), Volatility::Volatile);
///
/// // The number of names must match the closure.
/// let err = Node::builder("bad").params(["a"]).output("y").build(|a: i64, b: i64| a + b).unwrap_err();
/// assert_eq!(err.to_string(), "Node 'bad' names 1 parameter(s) [a] but its function takes 2");
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    name: String,
    params: Vec<String>,
    outputs: Vec<String>,
    version: String,
    volatility: Volatility,
    /// The values declared with [`NodeBuilder::captures`], hashed in order.
    captures: Option<StableHasher>,
    retry: Option<Retry>,
    timeout: Option<Duration>,
}

impl NodeBuilder {
    /// A node named `name` with no parameters, whose one output is also named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        NodeBuilder {
            outputs: vec![name.clone()],
            name,
            params: Vec::new(),
            version: String::new(),
            volatility: Volatility::Immutable,
            captures: None,
            retry: None,
            timeout: None,
        }
    }

    /// Retries the node when it returns an error or times out (see [`Retry`]); wins
    /// over the retries of the run's configuration.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Fails a call of the node that takes longer than `timeout` with
    /// [`Error::Timeout`]; wins over the timeout of the run's configuration. The
    /// closure cannot be stopped from outside: it runs on, on the runtime's blocking
    /// pool, until it returns, and its result is dropped.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The parameter names, in the closure's argument order.
    pub fn params<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.params = names.into_iter().map(Into::into).collect();
        self
    }

    /// The name of the single output.
    pub fn output(mut self, name: impl Into<String>) -> Self {
        self.outputs = vec![name.into()];
        self
    }

    /// The names of several outputs, for [`build_tuple`](NodeBuilder::build_tuple).
    pub fn outputs<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.outputs = names.into_iter().map(Into::into).collect();
        self
    }

    /// A version string folded into the code hash.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Declares a value the closure captures: it is folded into the code hash, so that
    /// closures made with different values have different hashes. Call once per value
    /// (or pass a tuple); see [the type's docs](NodeBuilder#code-hash-and-captured-values).
    pub fn captures<T: StableHash + ?Sized>(mut self, value: &T) -> Self {
        self.captures.get_or_insert_with(StableHasher::new).value(value);
        self
    }

    /// Whether results may be cached (default `true`).
    pub fn cache(mut self, cache: bool) -> Self {
        self.volatility = if cache {
            Volatility::Immutable
        } else {
            Volatility::Volatile
        };
        self
    }

    /// A node with one output from a closure returning its value.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the parameter names do not match the closure's arity or
    /// more than one output is named.
    pub fn build<Args, F>(self, f: F) -> Result<Node>
    where
        F: NodeFn<Args>,
        F::Output: Send + Sync + 'static,
    {
        self.finish::<Args, F, _>(
            vec![TypeInfo::of::<F::Output>()],
            move |args| Ok(NodeOutputs::from_iter([Value::new(f.call(args)?)])),
            f_arity::<Args, F>(),
        )
    }

    /// A node with one output from a closure returning `Result`; an `Err` fails the run
    /// with [`Error::NodeFailed`].
    ///
    /// # Errors
    ///
    /// As [`build`](NodeBuilder::build).
    pub fn try_build<Args, F, T, E>(self, f: F) -> Result<Node>
    where
        F: NodeFn<Args, Output = std::result::Result<T, E>>,
        T: Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.finish::<Args, F, _>(
            vec![TypeInfo::of::<T>()],
            move |args| Ok(NodeOutputs::from_iter([Value::new(f.call(args)?.map_err(Into::into)?)])),
            f_arity::<Args, F>(),
        )
    }

    /// A node with several outputs from a closure returning a tuple with one element per
    /// output name.
    ///
    /// # Errors
    ///
    /// As [`build`](NodeBuilder::build), and when the tuple's arity differs from the
    /// number of output names.
    pub fn build_tuple<Args, F>(self, f: F) -> Result<Node>
    where
        F: NodeFn<Args>,
        F::Output: Tuple,
    {
        let types = <F::Output as Tuple>::types();
        if types.len() != self.outputs.len() {
            return Err(Error::Invalid(format!(
                "Node '{}' names {} output(s) [{}] but its function returns a tuple of {}",
                self.name,
                self.outputs.len(),
                self.outputs.join(", "),
                types.len()
            )));
        }
        self.finish::<Args, F, _>(
            types,
            move |args| Ok(f.call(args)?.into_outputs()),
            f_arity::<Args, F>(),
        )
    }

    fn finish<Args, F, G>(self, output_types: Vec<TypeInfo>, call: G, arity: usize) -> Result<Node>
    where
        F: NodeFn<Args>,
        G: Fn(&[&Value]) -> std::result::Result<NodeOutputs, BoxError> + Send + Sync + 'static,
    {
        if arity != self.params.len() {
            return Err(Error::Invalid(format!(
                "Node '{}' names {} parameter(s) [{}] but its function takes {arity}",
                self.name,
                self.params.len(),
                self.params.join(", ")
            )));
        }
        if output_types.len() != self.outputs.len() {
            return Err(Error::Invalid(format!(
                "Node '{}' names {} outputs [{}] but its function returns one value; use build_tuple",
                self.name,
                self.outputs.len(),
                self.outputs.join(", ")
            )));
        }
        let param_types = F::param_types();
        let mut hasher = blake3::Hasher::new();
        for part in [&self.name, &self.version, std::any::type_name::<F>()] {
            hasher.update(part.as_bytes()).update(b"\0");
        }
        // Values the closure captures: declared ones are hashed; undeclared ones (a closure
        // that is not zero-sized) make the node uncacheable, as no hash can see them.
        let mut volatility = self.volatility;
        match &self.captures {
            Some(captures) => {
                hasher.update(b"captures\0").update(&captures.finish());
            }
            None if std::mem::size_of::<F>() > 0 => volatility = Volatility::Volatile,
            None => {}
        }
        let ports = self
            .params
            .iter()
            .zip(&param_types)
            .chain(self.outputs.iter().zip(&output_types));
        for (name, ty) in ports {
            hasher
                .update(name.as_bytes())
                .update(b":")
                .update(ty.name().as_bytes())
                .update(b"\0");
        }
        let sig = Signature {
            params: self
                .params
                .iter()
                .zip(param_types)
                .map(|(n, t)| Port::new(n.as_str(), t))
                .collect(),
            outputs: self
                .outputs
                .iter()
                .zip(output_types)
                .map(|(n, t)| Port::new(n.as_str(), t))
                .collect(),
            name: self.name,
            code_hash: hasher.finalize().to_hex().to_string(),
            volatility,
            extension: None,
            retry: self.retry,
            timeout: self.timeout,
        };
        Ok(Node::new(SyncFn { sig, f: call }))
    }
}

fn f_arity<Args, F: NodeFn<Args>>() -> usize {
    F::param_types().len()
}

/// A closure usable as a node: `Fn(A, B, ..) -> R` with up to eight parameters, each
/// `Clone + Send + Sync + 'static`.
pub trait NodeFn<Args>: Send + Sync + 'static {
    /// What the closure returns.
    type Output;
    /// The parameter types, in order.
    fn param_types() -> Vec<TypeInfo>;
    /// Calls the closure with arguments read from `args`.
    ///
    /// # Errors
    ///
    /// When an argument has another type than the closure's parameter.
    fn call(&self, args: &[&Value]) -> std::result::Result<Self::Output, BoxError>;
}

macro_rules! node_fn {
    ($($a:ident $i:tt),*) => {
        impl<Func, Ret, $($a),*> NodeFn<($($a,)*)> for Func
        where
            Func: Fn($($a),*) -> Ret + Send + Sync + 'static,
            $($a: Clone + Send + Sync + 'static,)*
        {
            type Output = Ret;
            fn param_types() -> Vec<TypeInfo> {
                vec![$(TypeInfo::of::<$a>()),*]
            }
            #[allow(unused_variables)]
            fn call(&self, args: &[&Value]) -> std::result::Result<Ret, BoxError> {
                Ok((self)($(arg_clone::<$a>(args[$i])?),*))
            }
        }
    };
}
node_fn!();
node_fn!(A 0);
node_fn!(A 0, B 1);
node_fn!(A 0, B 1, C 2);
node_fn!(A 0, B 1, C 2, D 3);
node_fn!(A 0, B 1, C 2, D 3, E 4);
node_fn!(A 0, B 1, C 2, D 3, E 4, G 5);
node_fn!(A 0, B 1, C 2, D 3, E 4, G 5, H 6);
node_fn!(A 0, B 1, C 2, D 3, E 4, G 5, H 6, I 7);

/// A tuple returned by a multi-output closure node.
pub trait Tuple: Send + Sync + 'static {
    /// The element types, in order.
    fn types() -> Vec<TypeInfo>;
    /// One value per element.
    fn into_outputs(self) -> NodeOutputs;
}

macro_rules! tuple {
    ($($t:ident $i:tt),*) => {
        impl<$($t: Send + Sync + 'static),*> Tuple for ($($t,)*) {
            fn types() -> Vec<TypeInfo> {
                vec![$(TypeInfo::of::<$t>()),*]
            }
            fn into_outputs(self) -> NodeOutputs {
                NodeOutputs::from_iter([$(Value::new(self.$i)),*])
            }
        }
    };
}
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, G 5);

fn wrong_arg(expected: &str, v: &Value) -> BoxError {
    format!("argument has type {} but the function takes {expected}", v.type_name()).into()
}

/// Borrows an argument as `T`.
#[doc(hidden)]
#[inline]
pub fn arg_ref<T: Send + Sync + 'static>(v: &Value) -> std::result::Result<&T, BoxError> {
    v.downcast_ref::<T>()
        .ok_or_else(|| wrong_arg(&TypeInfo::of::<T>().name(), v))
}

/// Borrows a `String` argument as `&str`.
#[doc(hidden)]
#[inline]
pub fn arg_str(v: &Value) -> std::result::Result<&str, BoxError> {
    arg_ref::<String>(v).map(String::as_str)
}

/// Clones an argument out as `T`.
#[doc(hidden)]
#[inline]
pub fn arg_clone<T: Clone + Send + Sync + 'static>(v: &Value) -> std::result::Result<T, BoxError> {
    arg_ref::<T>(v).cloned()
}

/// Converts a user error into a boxed error.
#[doc(hidden)]
pub fn box_err<E: Into<BoxError>>(e: E) -> BoxError {
    e.into()
}

/// A node from the macro's spec and a synchronous call.
#[doc(hidden)]
pub fn sync_node<F>(spec: NodeSpec, f: F) -> Node
where
    F: Fn(&[&Value]) -> std::result::Result<NodeOutputs, BoxError> + Send + Sync + 'static,
{
    Node::new(SyncFn { sig: spec.into(), f })
}

/// A node from the macro's spec and an async call.
#[doc(hidden)]
pub fn async_node<F>(spec: NodeSpec, f: F) -> Node
where
    F: Fn(Vec<Value>) -> BoxFuture + Send + Sync + 'static,
{
    Node::new(AsyncFn { sig: spec.into(), f })
}
