//! [`NodeBuilder`]: nodes from closures, for code that does not use the `#[node]`
//! macro.

use std::time::Duration;

use super::func::{Signature, SyncFn, arg_clone};
use super::{Node, NodeOutputs, Port, Volatility};
use crate::error::{BoxError, Error, Result};
use crate::exec::Retry;
use crate::hash::{StableHash, StableHasher};
use crate::value::{TypeInfo, Value};

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
/// use hypernodes::{Inputs, Node, Pipeline, Run, Volatility};
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
