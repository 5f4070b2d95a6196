//! Engines: what runs a planned pipeline. [`NodeEngine`] runs node by node and accepts
//! any Rust type; [`ColumnarEngine`] (feature `columnar`) compiles pipelines to Arrow /
//! DataFusion plans.

#[cfg(feature = "columnar")]
pub mod columnar;
mod node;

use std::fmt;

#[cfg(feature = "columnar")]
pub use columnar::ColumnarEngine;
pub use node::NodeEngine;

use crate::error::Result;
use crate::exec::Executor;
use crate::map::MapPlan;
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::RunPlan;

/// Runs pipelines. A small object-safe trait: the pipeline validates and plans a call
/// ([`RunPlan`], [`MapPlan`]) and the engine executes the plan, so every engine checks
/// inputs, outputs and map lists the same way and returns the same results.
pub trait Engine: Send + Sync + fmt::Debug {
    /// A short name for messages and traces.
    fn name(&self) -> &str;

    /// The node executor this engine was built with, if any; see
    /// [`RunConfig`](crate::RunConfig) for how it combines with the other levels.
    fn node_executor(&self) -> Option<Executor> {
        None
    }

    /// The map executor this engine was built with, if any.
    fn map_executor(&self) -> Option<Executor> {
        None
    }

    /// Runs the plan once and returns [`RunPlan::outputs`]. [`RunPlan::config`] holds
    /// the executors, retries and timeout to run with.
    ///
    /// # Errors
    ///
    /// A node's failure or panic ([`Error::NodeFailed`](crate::Error::NodeFailed),
    /// [`Error::NodePanicked`](crate::Error::NodePanicked)); no partial results.
    fn run(&self, plan: &RunPlan) -> Result<Outputs>;

    /// Runs the plan once per item and returns one column per output, in item order.
    ///
    /// # Errors
    ///
    /// As [`Engine::run`], with the failing item's index: the smallest failing index
    /// whatever the executor, unless the plan's failure policy is
    /// [`OnError::Collect`](crate::OnError::Collect), which returns the failed items in
    /// [`MapOutputs::failures`] instead.
    fn map(&self, plan: &MapPlan) -> Result<MapOutputs>;
}
