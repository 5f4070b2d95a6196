//! The columnar engine: pipelines compiled to Apache Arrow / DataFusion plans.
//!
//! Items become rows. Consecutive nodes that have a vectorized [`Kernel`] (every type
//! columnar) or are SQL expressions form one segment: its nodes run over Arrow batches,
//! one kernel call (or one expression evaluation) per node and batch, with the rows
//! split into partitions that run on all cores; constants are one-row arrays (scalars
//! for batch implementations) and lists mapped over are columns. A segment runs
//! directly, with no DataFusion session or plan per call; as a DataFusion plan, one
//! scalar UDF per node, it is what [`ColumnarEngine::explain`] shows and what
//! [`ColumnarEngine::apply_to_dataframe`] builds. Any other node (a type that is not
//! columnar, an `async fn`, a closure node, a nested pipeline) runs node by node over
//! the same rows, inside the same run, and the columnar nodes around it stay vectorized.
//!
//! The files: [`ColumnarEngine`] here; a run over rows in `run` (its segments, nested
//! pipelines and nodes run row by row), its columns in `col`, the compiled segments in
//! `segment` over `chunks`; kernels, types, expressions and UDFs in their own modules;
//! `interop` for DataFusion code of your own.

#[doc(hidden)]
pub mod cached;
mod chunks;
mod col;
mod data;
mod dictionary;
pub mod expr;
mod frame;
mod interop;
pub mod kernel;
mod pool;
mod run;
mod sample;
mod segment;
mod struct_form;
pub mod structs;
pub mod types;
mod udf;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::take;
use rayon::prelude::*;

pub use data::NodeDataArrow;
pub use expr::ExprNode;
pub use kernel::{BatchArgs, Kernel};
pub use types::{ColumnType, Columnar};

use chunks::Chunks;
use col::{Col, Conv, list_of};
use frame::{column, with_node_columns};
#[doc(hidden)]
pub use interop::{node_of_udf, plan_udf, plan_udfs};
#[doc(hidden)]
pub use interop::{output_fields, reader_of};
use pool::OutputPool;
use run::{Rows, Run};

use super::Engine;
use crate::error::{Error, Result};
use crate::exec::OnError;
use crate::map::MapMode;
use crate::outputs::{MapOutputs, Outputs};
use crate::plan::MapPlan;
use crate::plan::RunPlan;

/// The name of the hidden column holding each row's item index.
const ITEM: &str = "__hypernodes_item";

/// Rows below which one partition is faster than several.
const MIN_ROWS_PER_PARTITION: usize = 16_384;

/// Runs pipelines as Arrow / DataFusion plans (upstream HyperNodes' `DaftEngine`).
///
/// Gives the same results as [`NodeEngine`](crate::NodeEngine) for every pipeline.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::ColumnarEngine;
///
/// #[node(output = "cleaned_text")]
/// fn clean_text(passage: &str) -> String { passage.trim().to_lowercase() }
///
/// let p = Pipeline::new([clean_text::node()]).with_engine(ColumnarEngine::new());
/// let passages = vec![" A ".to_string(), "B c".to_string()];
/// let out = p.map(&Inputs::new().with("passage", passages), &["passage"], MapMode::Zip)?;
/// assert_eq!(out.column::<String>("cleaned_text")?, ["a", "b c"]);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ColumnarEngine {
    partitions: usize,
    batch_size: usize,
    /// The value buffers of outputs the caller dropped, kept for the next batches (shared
    /// by the engine's clones).
    pool: Arc<OutputPool>,
}

impl Default for ColumnarEngine {
    fn default() -> Self {
        ColumnarEngine {
            partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
            pool: OutputPool::new(pool::DEFAULT_POOL_BYTES),
        }
    }
}

impl ColumnarEngine {
    /// An engine using every core and batches of 8,192 rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most partitions large inputs are split into (default: the number of cores).
    pub fn with_partitions(mut self, partitions: usize) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// The rows per Arrow batch (default 8,192): the batches returned, and those that
    /// callbacks, the cache and batch implementations (`#[node(batch = ...)]`) see.
    /// Where none of them sees a segment's batches, its nodes compute consecutive
    /// batches lying in one input array in one call, up to 65,536 rows.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The configuration a call on this engine directly (not through
    /// [`Pipeline::run`](crate::Run::run)) runs `pipeline` with: this engine, the
    /// pipeline's other settings, the current default.
    #[doc(hidden)]
    pub fn config_for(&self, pipeline: &crate::Pipeline) -> Result<Arc<crate::exec::RunConfig>> {
        crate::exec::RunConfig::new()
            .with_engine(self.clone())
            .or(pipeline.config())
            .resolve_root(&crate::exec::RunConfig::current(), pipeline.name())
    }

    /// The most partitions large inputs are split into.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The rows per Arrow batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Keeps up to `bytes` of the fixed-width outputs' value buffers (integers, floats,
    /// dates, timestamps, decimals) once the caller has dropped every array holding them,
    /// for the next batches of the same size, rather than giving them back to the
    /// allocator (default 32 MiB; 0 keeps none). With glibc's allocator, the default,
    /// memory freed by the caller after a call is otherwise returned to the system and
    /// faulted in again on the next call: W1's `apply_to_batches` over 1,000,000 rows
    /// took 6.7 ms without the pool and 1.45 ms with it (docs/performance.md). The memory
    /// kept stays allocated until the engine and its clones are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::ColumnarEngine;
    ///
    /// let engine = ColumnarEngine::new().with_output_pool(0);
    /// assert_eq!(engine.output_pool(), 0);
    /// assert_eq!(ColumnarEngine::new().output_pool(), 32 << 20);
    /// ```
    pub fn with_output_pool(mut self, bytes: usize) -> Self {
        self.pool = OutputPool::new(bytes);
        self
    }

    /// The most bytes of freed output buffers the engine keeps
    /// ([`ColumnarEngine::with_output_pool`]).
    pub fn output_pool(&self) -> usize {
        self.pool.limit()
    }

    /// What a map of `plan` runs where: each vectorized segment (as the logical and
    /// physical DataFusion plan that computes the same, one UDF per node; the engine runs
    /// the segment's kernels directly), and the nodes that run node by node.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let p = Pipeline::new([double::node()]);
    /// let text = ColumnarEngine::new().explain(&p, &Inputs::new().with("x", vec![1_i64, 2]), &["x"])?;
    /// assert!(text.contains("segment 1: double"));
    /// assert!(text.contains("double(")); // the UDF call in the plans
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pipeline::map`](crate::Run::map) for invalid inputs.
    pub fn explain(&self, pipeline: &crate::Pipeline, inputs: &crate::Inputs, over: &[&str]) -> Result<String> {
        let plan = MapPlan::new(pipeline, inputs, over, MapMode::Zip, None, self.config_for(pipeline)?)?;
        // Explaining reports nothing to callbacks; what it stored is committed.
        let explained = || {
            let mut run = Run::new(self, plan.run_plan(), Rows::Map(&plan)).quiet();
            run.explain = Some(String::new());
            run.execute()?;
            Ok(run.explain.unwrap_or_default())
        };
        plan.run_plan().config().commit_cache(explained())
    }
}

impl Engine for ColumnarEngine {
    fn name(&self) -> &str {
        "columnar"
    }

    fn run(&self, plan: &RunPlan) -> Result<Outputs> {
        let mut run = Run::new(self, plan, Rows::One);
        run.execute()?;
        let values = plan
            .outputs()
            .iter()
            .map(|name| run.take_single(name).map(|v| (name.clone(), v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Outputs::from_values(values))
    }

    fn map(&self, plan: &MapPlan) -> Result<MapOutputs> {
        let mut run = Run::new(self, plan.run_plan(), Rows::Map(plan));
        let mut failures = Vec::new();
        if plan.run_plan().config().on_error() == Some(OnError::Collect) {
            (run, _, failures) = run.execute_collecting()?;
        } else {
            run.execute_items(true)?;
        }
        let len = run.rows;
        let outputs = plan.run_plan().outputs();
        let cols: Vec<(&String, Option<Col>)> = outputs.iter().map(|name| (name, run.cols.remove(name))).collect();
        let pipeline = plan.run_plan().pipeline();
        let convert = |(name, col): (&String, Option<Col>)| {
            let row_type = pipeline.output_type(name).expect("an output");
            list_of(name, col, row_type).map(|v| (name.clone(), v))
        };
        // Large columns become `Vec`s side by side, on rayon's pool.
        let columns = if self.partitions > 1 && plan.len() >= MIN_ROWS_PER_PARTITION {
            cols.into_par_iter().map(convert).collect::<Result<Vec<_>>>()?
        } else {
            cols.into_iter().map(convert).collect::<Result<Vec<_>>>()?
        };
        Ok(MapOutputs::from_columns(len, columns).with_failures(plan.len(), failures))
    }

    /// A batch per piece, a piece per partition.
    fn map_pieces(&self, _plan: &MapPlan) -> (usize, usize) {
        (self.batch_size, self.partitions)
    }
}

/// A DataFusion error that only a bug of hypernodes can cause: planning over schemas,
/// columns and expressions the engine made and checked itself. Every caller says why its
/// error cannot be reached (a comment a test holds it to).
fn df(e: datafusion::error::DataFusionError) -> Error {
    Error::Internal(format!("DataFusion: {e}"))
}

/// The same for an Arrow error.
fn df_arrow(e: arrow::error::ArrowError) -> Error {
    Error::Internal(format!("Arrow: {e}"))
}

/// Rows `index` of `array`, the column `name`: an error of the data when the result
/// outgrows one Arrow array (over 2 GiB of strings).
fn gather(name: &str, array: &dyn Array, index: Vec<u32>) -> Result<ArrayRef> {
    let rows = index.len();
    take(array, &UInt32Array::from(index), None).map_err(|e| Error::Arrow {
        context: format!("Cannot gather {rows} rows of '{name}'").into(),
        source: Box::new(e),
    })
}
