//! Write small per-item Rust functions, wire them into pipelines by parameter and output
//! names, and run them once, mapped over lists, or nested inside other pipelines.
//!
//! ```
//! use hypernodes::prelude::*;
//!
//! #[node(output = "cleaned_text")]
//! fn clean_text(passage: &str) -> String { passage.trim().to_lowercase() }
//!
//! #[node(output = "word_count")]
//! fn count_words(cleaned_text: &str) -> usize { cleaned_text.split_whitespace().count() }
//!
//! let pipeline = Pipeline::try_new([clean_text::node(), count_words::node()])?;
//! let passages = vec!["  Hello World ".to_string(), "One two THREE".to_string()];
//! let out = pipeline.map(&Inputs::new().with("passage", passages), &["passage"], MapMode::Zip)?;
//! assert_eq!(out.column::<usize>("word_count")?, &[2, 3]);
//! assert_eq!(out.column::<String>("cleaned_text")?[1], "one two three");
//! # Ok::<(), hypernodes::Error>(())
//! ```
//!
//! # The principal types
//!
//! - [`Node`]: a function with named parameters and outputs. Made by the [`node`](macro@node)
//!   attribute (`my_fn::node()`; the function stays callable as written), by
//!   [`Node::builder`] from a closure, or from a pipeline with [`Pipeline::as_node`].
//!   Behind the handle is a [`NodeImpl`](node::NodeImpl).
//! - [`Pipeline`]: nodes wired by name, checked when built (duplicate outputs, cycles,
//!   type mismatches), with [`bind`](Pipeline::bind) and [`as_node`](Pipeline::as_node),
//!   run with [`run`](Run::run) and [`map`](Run::map) of the [`Run`] trait (in the
//!   prelude), on the node engine unless the configuration sets another.
//! - [`Inputs`], [`Outputs`], [`MapOutputs`]: values in, results out, read back typed.
//!   [`Value::lazy`] makes a resource (a model, a client) built once on first use.
//! - [`Engine`]: what executes a planned run. [`NodeEngine`] runs node by node and takes
//!   any Rust type.
//! - [`Cache`]: where a run keeps every node's results per item, in memory or on disk,
//!   found again by a signature of the node's code and the item's input values.
//! - [`Callback`](events::Callback): code that watches runs (pipeline, map, item, node,
//!   cache and nested events, each with its [`Context`](events::Context)); progress bars
//!   (`progress::ProgressBars`, feature `progress`) and traces ([`trace`]) are callbacks.
//! - [`Error`]: the one error type; messages name the node, value, item and types.
//!
//! # Layers and modules
//!
//! The crate is a facade over a workspace of layers, each depending only on those
//! below: `hypernodes-core` (values and the model: no engine, pool, runtime or store),
//! `hypernodes-engine` (the pools, the node and columnar engines, the disk cache), and
//! this crate's front ends. Their modules are re-exported here:
//!
//! | module | what it holds | crate |
//! |---|---|---|
//! | [`value`] | type-erased values, type descriptions, typed result columns | core |
//! | [`node`](mod@node) | nodes, the [`NodeImpl`](node::NodeImpl) trait, the closure builder | core |
//! | [`pipeline`], [`plan`] | pipelines; run and map plans | core |
//! | [`map`] | map modes | core |
//! | [`nested`] | pipelines as nodes | core |
//! | [`run`] | the [`Engine`] trait, run options, the top-level call | core |
//! | [`engine`] | [`Run`], the node engine and the columnar engine | engine |
//! | [`handle`] | a map's results as they come, handles on runs in the background (progress, stop, wait) | engine |
//! | [`exec`] | executors, run configuration, failure policy, retries and timeouts; the pools | core, engine |
//! | [`error`] | [`Error`] and [`Result`] | core |
//! | [`hash`] | stable, type-tagged hashing for code hashes and cache keys | core |
//! | [`cache`] | the result cache and its stores; [`cache::disk`] is the on-disk store, shared by processes | core, engine |
//! | [`events`] | callbacks: what a run reports to the code that watches it | core |
//! | `io`, `spec` | file runs and their formats; pipeline files (feature `parquet`) | hypernodes |
//! | `progress` | progress bars, a callback (feature `progress`, in `cli`) | hypernodes |
//! | [`trace`] | timelines of runs: Chrome trace files for Perfetto, and `tracing` spans (feature `tracing`) | hypernodes |
//! | [`viz`] | pictures of pipelines from one model, `viz::Graph`: Graphviz DOT, Mermaid, SVG (laid out in pure Rust), JSON | hypernodes |
//! | `polars` | pipelines over Polars `DataFrame`s and `LazyFrame`s, zero-copy through the Arrow C Data Interface (feature `polars`) | hypernodes |
//! | `cluster` | runs on an Apache Ballista cluster: scheduler, executors, the node codec (feature `cluster`) | hypernodes |
#![deny(missing_docs)]

// The `#[node]` macro names `::hypernodes`; this lets the crate use it too.
extern crate self as hypernodes;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(feature = "parquet")]
pub mod datagen;
#[cfg(feature = "parquet")]
pub mod io;
#[cfg(feature = "polars")]
pub mod polars;
#[cfg(feature = "progress")]
pub mod progress;
#[cfg(feature = "parquet")]
pub mod spec;
pub mod trace;
pub mod viz;

// The model (`hypernodes-core`): its modules under this crate's root.
#[doc(hidden)]
pub use hypernodes_core::graph;
pub use hypernodes_core::{error, events, hash, inputs, map, nested, node, outputs, pipeline, plan, run, value};

/// The result cache: every node's results per item, found again by content (see
/// [`hypernodes_core::cache`]); [`disk`](cache::disk) is its on-disk store, shared by
/// processes.
pub mod cache {
    pub use hypernodes_core::cache::*;
    pub use hypernodes_engine::disk;
    #[cfg(feature = "columnar")]
    pub use hypernodes_engine::disk::DiskCache;
}

/// Engines: what runs a planned pipeline (see [`hypernodes_engine`]).
pub mod engine {
    #[cfg(feature = "columnar")]
    pub use hypernodes_engine::ColumnarEngine;
    #[cfg(feature = "columnar")]
    pub use hypernodes_engine::columnar;
    pub use hypernodes_engine::{Engine, NodeEngine, Run};
    #[doc(hidden)]
    pub use hypernodes_engine::{default_engine, disk};
}

pub use hypernodes_engine::handle;

/// How a run executes: executors, run configuration, failure policy, retries and
/// timeouts (see [`hypernodes_engine::exec`]).
pub mod exec {
    pub use hypernodes_engine::exec::*;
}

pub use cache::{Cache, CacheReport};
#[cfg(feature = "columnar")]
pub use engine::ColumnarEngine;
pub use engine::{Engine, NodeEngine, Run};
pub use error::{BoxError, Error, Result};
pub use exec::{Executor, OnError, RunConfig};
pub use handle::{MapHandle, MapIter, MapStream, RunHandle, StreamedItem};
#[cfg(feature = "columnar")]
pub use hypernodes_engine::columnar_struct;
pub use inputs::Inputs;
pub use map::MapMode;
pub use nested::AsNode;
pub use node::{Node, NodeBuilder, Volatility};
pub use outputs::{MapItem, MapOutputs, Outputs};
pub use pipeline::Pipeline;
pub use plan::{MapPlan, RunPlan};
pub use run::RunOptions;
pub use value::{TypeInfo, Value};

/// Makes a pipeline node of a plain function; see the crate `hypernodes-macros`.
///
/// `#[node(output = "name")]` on a function keeps the function as written and adds
/// `name_of_fn::node()`, which returns its [`Node`]. Options: `output = "x"` or
/// `output = ("a", "b")` for a tuple return (default: the function's name), `name`,
/// `cache = false`, `version = "..."`. Parameters may be `&str` (reads a `String`), `&[T]`
/// (reads a `Vec<T>`), `&T` (borrows a `T`) or `T` (clones a `T`). A function returning `Result<T, E>` fails the
/// run with [`Error::NodeFailed`] on `Err`. `async fn` works too.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = ("quotient", "remainder"), version = "2")]
/// fn divide(a: i64, b: i64) -> Result<(i64, i64), String> {
///     if b == 0 { return Err(format!("cannot divide {a} by zero")); }
///     Ok((a / b, a % b))
/// }
///
/// assert_eq!(divide(7, 2), Ok((3, 1))); // still a plain function
/// let p = Pipeline::new([divide::node()]);
/// let out = p.run(&Inputs::new().with("a", 7_i64).with("b", 2_i64))?;
/// assert_eq!(out.get::<i64>("remainder")?, 1);
///
/// let err = p.run(&Inputs::new().with("a", 7_i64).with("b", 0_i64)).unwrap_err();
/// assert_eq!(err.to_string(), "Node 'divide' failed: cannot divide 7 by zero");
/// # Ok::<(), hypernodes::Error>(())
/// ```
pub use hypernodes_macros::node;

/// The names most programs need: `use hypernodes::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Cache, Error, Executor, Inputs, MapMode, Node, NodeEngine, OnError, Pipeline, Run, RunConfig, RunOptions,
        Value, node,
    };

    #[cfg(feature = "columnar")]
    pub use crate::cache::DiskCache;
    #[cfg(feature = "polars")]
    pub use crate::polars::PolarsFrames;
    pub use crate::viz::Draw;
}

/// What the `#[node]` macro's expansion names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use hypernodes_core::__private::*;

    #[cfg(feature = "columnar")]
    pub use crate::engine::columnar::Columnar;
    #[cfg(feature = "columnar")]
    pub use crate::engine::columnar::kernel::{
        KernelProbe, Many, One, Own, Slice, Str, ViaKernel, ViaNoKernel, batch_kernel, batch_param,
    };
    #[cfg(feature = "columnar")]
    pub use crate::engine::columnar::types::{TypeProbe, ViaAnyType, ViaColumnarType};
    #[cfg(not(feature = "columnar"))]
    pub use stub::*;

    /// Without the columnar engine, the probes find nothing columnar.
    #[cfg(not(feature = "columnar"))]
    mod stub {
        use std::any::Any;
        use std::marker::PhantomData;

        use hypernodes_core::value::TypeInfo;

        pub struct Str;
        pub struct Own<T>(PhantomData<fn() -> T>);
        pub struct One<T>(PhantomData<fn() -> T>);
        pub struct Many<T>(PhantomData<fn() -> T>);
        pub trait ViaKernel {}
        pub trait ViaNoKernel {}
        pub trait ViaColumnarType {}
        pub trait ViaAnyType {}

        #[allow(clippy::type_complexity)]
        pub struct KernelProbe<P, O, F>(PhantomData<fn() -> (P, O, F)>);
        impl<P, O, F> KernelProbe<P, O, F> {
            pub fn new(_f: F) -> Self {
                KernelProbe(PhantomData)
            }
            pub fn kernel(&self) -> Option<Box<dyn Any + Send + Sync>> {
                None
            }
        }

        pub struct TypeProbe<T>(PhantomData<fn() -> T>);
        impl<T: Send + Sync + 'static> TypeProbe<T> {
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                TypeProbe(PhantomData)
            }
            pub fn type_info(&self) -> TypeInfo {
                TypeInfo::of::<T>()
            }
        }
    }
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The guide's pages (`docs/`) as documentation of modules that only doctests build, so
/// that every Rust example of the guide compiles and runs in `cargo test`.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../docs/pipelines.md")]
    pub mod pipelines {}
    #[doc = include_str!("../docs/types.md")]
    pub mod types {}
    #[doc = include_str!("../docs/engines.md")]
    pub mod engines {}
    #[doc = include_str!("../docs/executors.md")]
    pub mod executors {}
    #[doc = include_str!("../docs/handles.md")]
    pub mod handles {}
    #[doc = include_str!("../docs/caching.md")]
    pub mod caching {}
    #[doc = include_str!("../docs/files.md")]
    pub mod files {}
    #[doc = include_str!("../docs/cli.md")]
    pub mod cli {}
    #[doc = include_str!("../docs/incremental.md")]
    pub mod incremental {}
    #[doc = include_str!("../docs/pictures.md")]
    pub mod pictures {}
    #[cfg(feature = "cluster")]
    #[doc = include_str!("../docs/clusters.md")]
    pub mod clusters {}
    #[cfg(feature = "polars")]
    #[doc = include_str!("../docs/polars.md")]
    pub mod polars {}
    #[doc = include_str!("../docs/reliability.md")]
    pub mod reliability {}
    #[doc = include_str!("../docs/errors.md")]
    pub mod errors {}
    #[doc = include_str!("../docs/performance.md")]
    pub mod performance {}
    #[doc = include_str!("../docs/layout.md")]
    pub mod layout {}
}
