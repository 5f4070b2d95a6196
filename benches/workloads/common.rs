//! Running native DataFusion plans over the same columns, the reference; the engines
//! and executors W6 and W7 compare, and their checked benches.
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, SamplingMode};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{SessionConfig, SessionContext};
use hypernodes::{ColumnarEngine, NodeEngine, Pipeline, RunConfig};

/// A tokio runtime for DataFusion.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().build().unwrap()
}

/// A seeded splitmix64 stream: `next(bound)` is uniform in `0..bound`.
pub fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |bound| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

/// `f` over `parts` consecutive ranges of `0..len` (about equal), on one thread each:
/// how a careful engineer splits a loop over the cores by hand.
pub fn split_over_cores<T: Send>(len: usize, parts: usize, f: impl Fn(usize, usize) -> T + Sync) -> Vec<T> {
    let per = len.div_ceil(parts.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..len)
            .step_by(per)
            .map(|start| {
                let f = &f;
                s.spawn(move || f(start, per.min(len - start)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// `batch` as an in-memory table of `partitions` partitions of 8,192-row batches.
pub fn table(batch: &RecordBatch, partitions: usize) -> Arc<MemTable> {
    let rows = batch.num_rows();
    let per = rows.div_ceil(partitions);
    let parts: Vec<Vec<RecordBatch>> = (0..partitions)
        .map(|p| {
            let start = (p * per).min(rows);
            let len = per.min(rows - start);
            (0..len)
                .step_by(8192)
                .map(|o| batch.slice(start + o, 8192.min(len - o)))
                .collect()
        })
        .collect();
    Arc::new(MemTable::try_new(batch.schema(), parts).unwrap())
}

/// Evaluates `exprs` (name, expression) over one column, split into `partitions`.
pub fn native(
    rt: &tokio::runtime::Runtime,
    name: &str,
    column: ArrayRef,
    partitions: usize,
    exprs: &[(&str, Expr)],
) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, column.data_type().clone(), true)]));
    let batch = RecordBatch::try_new(schema, vec![column]).unwrap();
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    let mut df = ctx.read_table(table(&batch, partitions)).unwrap();
    for (out, expr) in exprs {
        df = df.with_column(out, expr.clone()).unwrap();
    }
    let names: Vec<&str> = exprs.iter().map(|(n, _)| *n).collect();
    let df = df.select_columns(&names).unwrap();
    rt.block_on(df.collect_partitioned())
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

/// The map executors W6 and W7 are run with, by name (`parallel`: one thread per core).
pub const EXECUTORS: [&str; 4] = ["sequential", "threaded:64", "async:100", "parallel"];

/// `pipeline` on each engine with each of [`EXECUTORS`] as its map executor:
/// (engine, executor, pipeline).
pub fn on_every_executor(pipeline: &Pipeline) -> Vec<(&'static str, &'static str, Pipeline)> {
    let engines = [
        ("node", pipeline.with_engine(NodeEngine::new())),
        ("columnar", pipeline.with_engine(ColumnarEngine::new())),
    ];
    engines
        .into_iter()
        .flat_map(|(engine, p)| {
            EXECUTORS.map(|exec| {
                (
                    engine,
                    exec,
                    p.with_config(RunConfig::new().try_with_map_executor(exec).unwrap()),
                )
            })
        })
        .collect()
}

/// Benches `f` as `id` and checks the result of its first call, the warm-up, with
/// `check` before any sample is timed (a fast wrong answer counts for nothing).
///
/// Ten samples after a one-call warm-up, in about 2 s: criterion samples routines
/// too slow for that linearly (W6's sequential maps take seconds, W7's maps a third
/// of one) with as few calls per sample as fit, one for the slowest, and warns that
/// ten samples do not fit in the time; they are meant not to.
pub fn checked_bench<R>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    mut f: impl FnMut() -> R,
    check: impl FnOnce(&R),
) {
    let mut check = Some(check);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Auto)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(2));
    group.bench_function(id, |b| {
        b.iter(|| {
            let out = f();
            if let Some(check) = check.take() {
                check(&out);
            }
            out
        })
    });
}
