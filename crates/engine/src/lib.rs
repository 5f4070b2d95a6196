//! Engines: what runs a planned pipeline. [`NodeEngine`] runs node by node and accepts
//! any Rust type; [`ColumnarEngine`] (feature `columnar`) compiles pipelines to Arrow /
//! DataFusion plans. With them, the rest of the execution layer of
//! [hypernodes](https://docs.rs/hypernodes): the executors' pools and runtimes
//! ([`exec`]), the disk cache ([`disk`]), and [`Run`], which runs a pipeline on the
//! node engine unless its configuration sets another.
//!
//! This crate depends on `hypernodes-core` (the values and the model) and names
//! nothing above it; the `hypernodes` crate re-exports it with the front ends.

#[cfg(feature = "columnar")]
pub mod columnar;
pub mod disk;
pub mod handle;
mod node_engine;
mod pool;

// The model's modules and types, under the paths this crate names them by.
#[allow(unused_imports)]
use hypernodes_core::*;

/// The model, for the expansion of [`columnar_struct!`]. Not a public API.
#[doc(hidden)]
pub use hypernodes_core as __core;

/// How a run executes: the model's configuration ([`RunConfig`],
/// [`Executor`]) and the pools and runtime that carry it out.
pub mod exec {
    pub use hypernodes_core::exec::*;

    pub use crate::pool::ExecutorPool;
    #[doc(hidden)]
    pub use crate::pool::{block_on, for_items, for_items_async, runtime, spawn_blocking};
}

use std::future::Future;
use std::sync::{Arc, OnceLock};

#[cfg(feature = "columnar")]
pub use columnar::ColumnarEngine;
pub use handle::{MapHandle, MapIter, MapStream, Order, Progress, RunHandle, Streamed, StreamedItem};
pub use node_engine::NodeEngine;

pub use hypernodes_core::run::Engine;

use crate::error::Result;
use crate::inputs::Inputs;
use crate::map::AsMapMode;
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::Pipeline;
use crate::run::RunOptions;

/// The engine of a run whose configuration sets none: [`NodeEngine::DEFAULT`].
#[doc(hidden)]
pub fn default_engine() -> &'static Arc<dyn Engine> {
    static DEFAULT: OnceLock<Arc<dyn Engine>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(NodeEngine::DEFAULT))
}

/// Running a [`Pipeline`]: the calls of a program, on the engine the configuration
/// sets, or the node engine when no level sets one (the lowest level of the
/// configuration, below the process default). In the prelude.
///
/// The model plans a run and never names an engine; this trait, above the engines,
/// gives it the default one.
pub trait Run {
    /// Runs the pipeline once and returns every output, except that a nested pipeline
    /// node ([`Pipeline::as_node`]) returns, and computes, only its outputs that other
    /// nodes consume; a nested node whose outputs nothing consumes (a terminal node)
    /// returns all of them. [`RunOptions::with_outputs`] returns exactly the outputs
    /// named, consumed or not.
    ///
    /// # Errors
    ///
    /// [`Error::MissingInputs`], [`Error::InputType`], and [`Error::NodeFailed`] /
    /// [`Error::NodePanicked`] when a node fails (no partial results are returned).
    fn run(&self, inputs: &Inputs) -> Result<Outputs> {
        self.run_with(inputs, &RunOptions::new())
    }

    /// Runs the pipeline once with options (selected outputs, engine).
    ///
    /// # Errors
    ///
    /// As [`Run::run`], and [`Error::UnknownOutputs`] for a selected name that no
    /// node produces.
    fn run_with(&self, inputs: &Inputs, options: &RunOptions) -> Result<Outputs>;

    /// Runs the pipeline once per item of the lists named in `over`, and returns one
    /// column per output in item order. `mode` is [`MapMode::Zip`]
    /// (item i of every list), [`MapMode::Product`] (every
    /// combination, the first name the outer loop), or `"zip"` / `"product"`. Inputs not
    /// in `over` are the same for every item.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "label")]
    /// fn label(letter: &str, n: i64) -> String { format!("{letter}{n}") }
    ///
    /// let p = Pipeline::new([label::node()]);
    /// let inputs = Inputs::new().with("letter", vec!["a".to_string(), "b".to_string()]).with("n", vec![1_i64, 2]);
    /// let zip = p.map(&inputs, &["letter", "n"], "zip")?;
    /// assert_eq!(zip.column::<String>("label")?, ["a1", "b2"]);
    /// let product = p.map(&inputs, &["letter", "n"], MapMode::Product)?;
    /// assert_eq!(product.column::<String>("label")?, ["a1", "a2", "b1", "b2"]);
    ///
    /// let err = p.map(&inputs, &["letter", "n"], "zipp").unwrap_err();
    /// assert_eq!(err.to_string(), "Unknown map mode 'zipp'. Valid modes: zip, product");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Run::run`] (a node's error names the item index), and
    /// [`Error::UnknownMapMode`], [`Error::EmptyMapOver`], [`Error::MapOverNotInput`],
    /// [`Error::NotAList`], [`Error::ZipLengthMismatch`].
    fn map(&self, inputs: &Inputs, over: &[&str], mode: impl AsMapMode) -> Result<MapOutputs> {
        self.map_with(inputs, over, mode, &RunOptions::new())
    }

    /// [`Run::map`] with options (selected outputs, engine).
    ///
    /// # Errors
    ///
    /// As [`Run::map`] and [`Run::run_with`].
    fn map_with(
        &self,
        inputs: &Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: &RunOptions,
    ) -> Result<MapOutputs>;

    /// [`Run::run_with`] as a future, for applications that live on an async
    /// runtime (tokio or any other): the inputs are checked at once, then the run
    /// executes on hypernodes' own runtime's blocking pool, so awaiting it never blocks
    /// the caller's runtime. The configuration is resolved when this is called, on the
    /// calling thread (a [`RunConfig::scoped`] around the call applies).
    ///
    /// The blocking [`Run::run`] works inside a runtime too (from `async` code it
    /// blocks that task's thread while it runs).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// async fn double(x: i64) -> i64 { 2 * x }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let p = Pipeline::new([double::node()]);
    /// let out = p.run_async(Inputs::new().with("x", 21_i64), RunOptions::new()).await?;
    /// assert_eq!(out.get::<i64>("doubled")?, 42);
    /// let out = p.map_async(Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip", RunOptions::new()).await?;
    /// assert_eq!(out.column::<i64>("doubled")?, [2, 4]);
    /// # Ok::<(), hypernodes::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Run::run_with`].
    fn run_async(&self, inputs: Inputs, options: RunOptions) -> impl Future<Output = Result<Outputs>> + Send + 'static;

    /// [`Run::map_with`] as a future; see [`Run::run_async`].
    ///
    /// # Errors
    ///
    /// As [`Run::map_with`].
    fn map_async(
        &self,
        inputs: Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: RunOptions,
    ) -> impl Future<Output = Result<MapOutputs>> + Send + 'static;

    /// [`Run::map_with`] whose items come out as they finish, in item order (or as they
    /// finish: [`MapIter::with_order`]), each a [`StreamedItem`] (its index and
    /// outputs) or, when it failed, an [`ItemFailure`](crate::exec::ItemFailure) (its
    /// index, node and error; `?` turns it into the [`Error`]). The map
    /// runs on a thread of its own: items come out while later ones run. On the node
    /// engine each item comes out when it is done; on the columnar engine the items of a
    /// batch come out together when the batch is done (see [`handle`]).
    ///
    /// Under [`OnError::Fail`] the first failure (in the order the
    /// items come out) is the last item: no new item starts once an item failed. Under
    /// [`OnError::Collect`] every item comes out, failed or
    /// not. At most twice as many items (batches) as run at once are computed ahead of
    /// the ones taken; dropping the iterator stops the map: no new item starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "half")]
    /// fn halve(x: i64) -> Result<i64, String> {
    ///     if x % 2 == 0 { Ok(x / 2) } else { Err(format!("{x} is odd")) }
    /// }
    ///
    /// let p = Pipeline::new([halve::node()]);
    /// let options = RunOptions::new().with_config(RunConfig::new().with_on_error(OnError::Collect));
    /// let mut seen = Vec::new();
    /// for item in p.map_iter(&Inputs::new().with("x", vec![2_i64, 3, 4]), &["x"], "zip", &options)? {
    ///     match item {
    ///         Ok(done) => seen.push(format!("{}: {}", done.index(), done.get::<i64>("half")?)),
    ///         Err(failed) => seen.push(format!("{}: {}", failed.item(), failed.error())),
    ///     }
    /// }
    /// assert_eq!(seen, ["0: 1", "1: Node 'halve' failed on item 1: 3 is odd", "2: 2"]);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Run::map_with`] for what is checked before anything runs.
    fn map_iter(&self, inputs: &Inputs, over: &[&str], mode: impl AsMapMode, options: &RunOptions) -> Result<MapIter>;

    /// [`Run::map_iter`] as a `futures` [`Stream`](futures::Stream), for async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// # futures::executor::block_on(async {
    /// let p = Pipeline::new([double::node()]);
    /// let stream = p.map_iter_async(Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip", RunOptions::new())?;
    /// let doubled: Vec<i64> = stream.map(|item| item.unwrap().get::<i64>("doubled").unwrap()).collect().await;
    /// assert_eq!(doubled, [2, 4]);
    /// # Ok::<(), hypernodes::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Run::map_iter`].
    fn map_iter_async(
        &self,
        inputs: Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: RunOptions,
    ) -> Result<MapStream>;

    /// [`Run::map_with`] on a thread of its own: the [`MapHandle`] tells its progress,
    /// stops it (no new item starts; the result says which items never started) and
    /// waits for its result, the same as `map_with`'s when it was not stopped. Items
    /// run as in [`Run::map_iter`] (one by one, or a batch at a time on the columnar
    /// engine), without limit on how far ahead.
    ///
    /// # Errors
    ///
    /// As [`Run::map_with`] for what is checked before anything runs; the run's own
    /// errors come from [`MapHandle::wait`].
    fn start_map(
        &self,
        inputs: &Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: &RunOptions,
    ) -> Result<MapHandle>;

    /// [`Run::run_with`] on a thread of its own; see [`RunHandle`].
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let handle = Pipeline::new([double::node()]).start_run(&Inputs::new().with("x", 21_i64), &RunOptions::new())?;
    /// assert_eq!(handle.wait()?.unwrap().get::<i64>("doubled")?, 42);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Run::run_with`] for what is checked before anything runs; the run's own
    /// errors come from [`RunHandle::wait`].
    fn start_run(&self, inputs: &Inputs, options: &RunOptions) -> Result<RunHandle>;
}

impl Run for Pipeline {
    fn run_with(&self, inputs: &Inputs, options: &RunOptions) -> Result<Outputs> {
        self.plan_run(inputs, options, default_engine())?.execute()
    }

    fn map_with(
        &self,
        inputs: &Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: &RunOptions,
    ) -> Result<MapOutputs> {
        plan_map(self, inputs, over, mode, options)?.execute()
    }

    fn run_async(&self, inputs: Inputs, options: RunOptions) -> impl Future<Output = Result<Outputs>> + Send + 'static {
        // Planned here, not when first polled, so that the inputs are checked and the
        // configuration resolved on the calling thread, inside its scope.
        let plan = self.plan_run(&inputs, &options, default_engine());
        async move {
            let plan = plan?;
            off_the_runtime(move || plan.execute()).await
        }
    }

    fn map_async(
        &self,
        inputs: Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: RunOptions,
    ) -> impl Future<Output = Result<MapOutputs>> + Send + 'static {
        // Planned here, as in `run_async`.
        let plan = plan_map(self, &inputs, over, mode, &options);
        async move {
            let plan = plan?;
            off_the_runtime(move || plan.execute()).await
        }
    }

    fn map_iter(&self, inputs: &Inputs, over: &[&str], mode: impl AsMapMode, options: &RunOptions) -> Result<MapIter> {
        handle::map_stream(plan_map(self, inputs, over, mode, options)?).map(MapIter::new)
    }

    fn map_iter_async(
        &self,
        inputs: Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: RunOptions,
    ) -> Result<MapStream> {
        handle::map_stream(plan_map(self, &inputs, over, mode, &options)?)
    }

    fn start_map(
        &self,
        inputs: &Inputs,
        over: &[&str],
        mode: impl AsMapMode,
        options: &RunOptions,
    ) -> Result<MapHandle> {
        handle::start_map(plan_map(self, inputs, over, mode, options)?)
    }

    fn start_run(&self, inputs: &Inputs, options: &RunOptions) -> Result<RunHandle> {
        Ok(handle::start_run(self.plan_run(inputs, options, default_engine())?))
    }
}

/// Plans a top-level map of `pipeline`, on the node engine unless its configuration
/// sets another.
fn plan_map(
    pipeline: &Pipeline,
    inputs: &Inputs,
    over: &[&str],
    mode: impl AsMapMode,
    options: &RunOptions,
) -> Result<crate::plan::MapPlan> {
    pipeline.plan_map(inputs, over, mode.as_map_mode()?, options, default_engine())
}

/// Runs `f` on the runtime's blocking pool and awaits it; a panic in it resumes here.
async fn off_the_runtime<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match crate::exec::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
