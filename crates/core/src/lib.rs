//! The values and the model of [hypernodes](https://docs.rs/hypernodes): the bottom two
//! layers, which name no engine, thread pool, runtime or store.
//!
//! Most programs depend on the `hypernodes` crate instead, which re-exports all of this
//! with the engines, file runs and front ends, and whose prelude brings
//! [`Run`](https://docs.rs/hypernodes/latest/hypernodes/trait.Run.html) (a pipeline's
//! `run` and `map` on the default engine).
//!
//! # Layers
//!
//! | layer | modules |
//! |---|---|
//! | values | [`error`], [`value`], [`hash`] |
//! | the model | [`node`], [`graph`], [`pipeline`], [`map`], [`plan`], [`nested`], [`run`] (the [`Engine`] trait), [`inputs`], [`outputs`], [`exec`] (the run configuration as data), [`events`] (the [`Callback`](events::Callback) trait), [`cache`] (signatures, the [`Store`](cache::Store) trait, the memory store) |
//!
//! Each module imports only those before it in this table's order of layers, and
//! nothing above this crate: the engines (`hypernodes-engine`) and the front ends
//! (`hypernodes`) depend on it, never the reverse.

pub mod cache;
mod entrypoint;
pub mod error;
pub mod events;
pub mod exec;
#[doc(hidden)]
pub mod graph;
pub mod hash;
pub mod inputs;
pub mod map;
pub mod nested;
pub mod node;
pub mod outputs;
pub mod pipeline;
pub mod plan;
pub mod run;
pub mod value;

pub use cache::{Cache, CacheReport};
pub use error::{BoxError, Error, Result};
pub use exec::{Executor, OnError, RunConfig};
pub use inputs::Inputs;
pub use map::MapMode;
pub use nested::AsNode;
pub use node::{Node, NodeBuilder, Volatility};
pub use outputs::{MapItem, MapOutputs, Outputs};
pub use pipeline::Pipeline;
pub use plan::{MapPlan, RunPlan};
pub use run::{Engine, RunOptions};
pub use value::{TypeInfo, Value};

/// What the `#[node]` macro's expansion names from the model. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::error::BoxError;
    pub use crate::exec::Retry;
    pub use crate::hash::{HashProbe, ViaNoHash, ViaSerialize, ViaStableHash};
    pub use crate::node::{
        BoxFuture, NodeOutputs, NodeSpec, arg_clone, arg_ref, arg_str, async_node, box_err, sync_node,
    };
    pub use crate::value::{TypeInfo, Value};

    /// A type's description with the hash function its [`HashProbe`] found, if any.
    pub fn with_hasher(ty: TypeInfo, hasher: Option<crate::hash::HashFn>) -> TypeInfo {
        match hasher {
            Some(f) => ty.with_hasher(f),
            None => ty,
        }
    }
}
