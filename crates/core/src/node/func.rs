//! Function nodes: what the `#[node]` macro and [`NodeBuilder`](super::NodeBuilder)
//! build, a signature and a sync or async function behind [`NodeImpl`].

use std::any::Any;
use std::time::Duration;

use super::{BoxFuture, InvokeArgs, Node, NodeImpl, NodeOutputs, Port, Volatility};
use crate::error::BoxError;
use crate::exec::Retry;
use crate::value::{TypeInfo, Value};

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
pub(super) struct Signature {
    pub(super) name: String,
    pub(super) params: Vec<Port>,
    pub(super) outputs: Vec<Port>,
    pub(super) code_hash: String,
    pub(super) volatility: Volatility,
    pub(super) extension: Option<Box<dyn Any + Send + Sync>>,
    pub(super) retry: Option<Retry>,
    pub(super) timeout: Option<Duration>,
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
pub(super) struct SyncFn<F> {
    pub(super) sig: Signature,
    pub(super) f: F,
}

/// A node calling an async function.
pub(super) struct AsyncFn<F> {
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

    /// Polls the future on the calling thread. The engines never call this: they await
    /// an `async fn` node on their runtime (they check [`NodeImpl::is_async`]).
    fn invoke(&self, args: InvokeArgs<'_>) -> std::result::Result<NodeOutputs, BoxError> {
        futures::executor::block_on((self.f)(args.args.iter().map(|v| (*v).clone()).collect()))
    }

    fn is_async(&self) -> bool {
        true
    }

    fn invoke_async(&self, args: Vec<Value>) -> BoxFuture {
        (self.f)(args)
    }
}

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
