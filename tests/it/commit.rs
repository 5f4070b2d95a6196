//! Every entry point that can write to a cache commits what it stored before it returns,
//! on success and on failure: right after the call, the store as another process sees it
//! (its committed state, read by `Cache::stats`) holds every item the call computed, and
//! a second identical call computes nothing.
//!
//! Each test has its own disk cache, and its nodes count their own calls.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use hypernodes::prelude::*;
use hypernodes::{ColumnarEngine, Engine, Result};

/// A disk cache in a fresh directory, removed when dropped.
pub(crate) struct Store {
    dir: PathBuf,
    pub(crate) cache: Cache,
}

impl Store {
    pub(crate) fn new(test: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("hn-commit-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = Cache::disk(&dir).unwrap();
        Store { dir, cache }
    }

    /// The items committed to the store: what another process, or a run that starts
    /// now, finds.
    pub(crate) fn committed(&self) -> u64 {
        self.cache.stats().unwrap().items
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The calls of the counting nodes.
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<AtomicUsize>);

impl Calls {
    /// The calls since the last look.
    pub(crate) fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

#[node(output = "tripled")]
fn triple(x: i64) -> i64 {
    3 * x
}

/// `x -> doubled -> label` as counting closures (run row by row, or as one-node
/// pipelines inside a DataFusion plan), and `x -> tripled` with a kernel; the closures'
/// code hashes name the test.
fn nodes(test: &str, calls: &Calls) -> Vec<Node> {
    let (c1, c2) = (calls.clone(), calls.clone());
    vec![
        Node::builder("double")
            .params(["x"])
            .output("doubled")
            .captures(test)
            .build(move |x: i64| {
                c1.0.fetch_add(1, Ordering::SeqCst);
                2 * x
            })
            .unwrap(),
        Node::builder("label")
            .params(["doubled"])
            .output("label")
            .captures(test)
            .build(move |d: i64| {
                c2.0.fetch_add(1, Ordering::SeqCst);
                format!("#{d}")
            })
            .unwrap(),
        triple::node(),
    ]
}

pub(crate) fn cached(engine: &Arc<dyn Engine>, test: &str, calls: &Calls, store: &Store) -> Pipeline {
    crate::common::on(engine, nodes(test, calls)).with_config(RunConfig::new().with_cache(store.cache.clone()))
}

fn columnar(test: &str, calls: &Calls, store: &Store) -> Pipeline {
    cached(
        &(Arc::new(ColumnarEngine::new()) as Arc<dyn Engine>),
        test,
        calls,
        store,
    )
}

const ALL_HITS: &str = "double 3 hits 0 misses, label 3 hits 0 misses, triple 3 hits 0 misses";

fn xs() -> Inputs {
    Inputs::new().with("x", vec![1_i64, 2, 3])
}

fn batch(xs: Vec<i64>) -> RecordBatch {
    RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(xs)) as _)]).unwrap()
}

/// The strings of column `name` of `batches`, in order.
fn labels(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let column = b.column_by_name("label").unwrap();
        let strings = column.as_any().downcast_ref::<StringArray>().unwrap();
        out.extend((0..strings.len()).map(|i| strings.value(i).to_string()));
    }
    out
}

engine_test!(
    fn run_commits(engine) {
        let (store, calls) = (Store::new(&format!("run-{}", engine.name())), Calls::default());
        let p = cached(&engine, "run", &calls, &store);
        let inputs = Inputs::new().with_value("x", Value::new(4_i64));
        p.run(&inputs)?;
        assert_eq!((calls.take(), store.committed()), (2, 3));
        let again = p.run(&inputs)?;
        assert_eq!(calls.take(), 0);
        assert_eq!(
            again.cache_report().unwrap().to_string(),
            "double 1 hits 0 misses, label 1 hits 0 misses, triple 1 hits 0 misses"
        );
        assert_eq!(again.get::<String>("label")?, "#8");
    }
);

engine_test!(
    fn map_commits(engine) {
        let (store, calls) = (Store::new(&format!("map-{}", engine.name())), Calls::default());
        let p = cached(&engine, "map", &calls, &store);
        p.map(&xs(), &["x"], "zip")?;
        assert_eq!((calls.take(), store.committed()), (6, 9));
        let again = p.map(&xs(), &["x"], "zip")?;
        assert_eq!(calls.take(), 0);
        assert_eq!(again.cache_report().unwrap().to_string(), ALL_HITS);
        assert_eq!(again.column::<String>("label")?, ["#2", "#4", "#6"]);
    }
);

engine_test!(
    fn run_async_and_map_async_commit(engine) {
        let (store, calls) = (Store::new(&format!("async-{}", engine.name())), Calls::default());
        let p = cached(&engine, "async", &calls, &store);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let one = Inputs::new().with_value("x", Value::new(5_i64));
        runtime.block_on(p.run_async(one.clone(), RunOptions::new()))?;
        assert_eq!((calls.take(), store.committed()), (2, 3));
        let again = runtime.block_on(p.run_async(one, RunOptions::new()))?;
        assert_eq!(calls.take(), 0);
        assert_eq!(again.cache_report().unwrap().hits(), 3);
        runtime.block_on(p.map_async(xs(), &["x"], "zip", RunOptions::new()))?;
        assert_eq!((calls.take(), store.committed()), (6, 12));
        let again = runtime.block_on(p.map_async(xs(), &["x"], "zip", RunOptions::new()))?;
        assert_eq!(calls.take(), 0);
        assert_eq!(again.cache_report().unwrap().to_string(), ALL_HITS);
    }
);

engine_test!(
    fn apply_to_batch_on_commits(engine) {
        let (store, calls) = (Store::new(&format!("batch-on-{}", engine.name())), Calls::default());
        let p = cached(&engine, "batch-on", &calls, &store);
        let first = ColumnarEngine::apply_to_batch_on(engine.clone(), &p, &batch(vec![1, 2, 3]))?;
        assert_eq!((calls.take(), store.committed()), (6, 9));
        let again = ColumnarEngine::apply_to_batch_on(engine.clone(), &p, &batch(vec![1, 2, 3]))?;
        assert_eq!(calls.take(), 0);
        assert_eq!(labels(std::slice::from_ref(&again)), ["#2", "#4", "#6"]);
        assert_eq!(again, first);
    }
);

engine_test!(
    fn a_failed_call_keeps_what_succeeded(engine) {
        let (store, calls) = (Store::new(&format!("failed-{}", engine.name())), Calls::default());
        let (c, test) = (calls.clone(), format!("failed-{}", engine.name()));
        let fails = Node::builder("check")
            .params(["doubled"])
            .output("checked")
            .captures(&test)
            .try_build(move |d: i64| {
                c.0.fetch_add(1, Ordering::SeqCst);
                if d == 4 {
                    Err("four is not allowed".to_string())
                } else {
                    Ok(d)
                }
            })?;
        let mut nodes = nodes(&test, &calls);
        nodes.push(fails);
        let p = crate::common::on(&engine, nodes).with_config(RunConfig::new().with_cache(store.cache.clone()));
        let err = p.map(&xs(), &["x"], "zip").unwrap_err();
        assert_eq!(err.to_string(), "Node 'check' failed on item 1: four is not allowed");
        calls.take();
        // What ran before the failure is kept. The node engine computes `double` for every
        // item, then the other nodes item by item, and stops at item 1's `check`; the
        // columnar engine computes `double` and `label` for the batch (`triple`'s kernel
        // comes later), then `check` row by row up to the failing row.
        let kept: Vec<(String, u64)> = store.cache.stats()?.nodes.iter().map(|n| (n.name.clone(), n.items)).collect();
        let expected: &[(&str, u64)] = if engine.name() == "node" {
            &[("check", 1), ("double", 3), ("label", 1), ("triple", 1)]
        } else {
            &[("check", 1), ("double", 3), ("label", 3)]
        };
        let expected: Vec<(String, u64)> = expected.iter().map(|&(n, i)| (n.to_string(), i)).collect();
        assert_eq!(kept, expected);
        let err = p.map(&xs(), &["x"], "zip").unwrap_err();
        assert_eq!(err.to_string(), "Node 'check' failed on item 1: four is not allowed");
        // Only the failing item's `check` runs again: the rest before it is found.
        assert_eq!(calls.take(), 1);
    }
);

engine_test!(
    fn a_nested_pipelines_own_cache_is_committed(engine) {
        // The outer pipeline has no cache; the inner one sets its own.
        let (store, calls) = (Store::new(&format!("nested-{}", engine.name())), Calls::default());
        let inner = cached(&engine, "nested", &calls, &store);
        let per_item = inner
            .as_node("per_item")
            .with_input_mapping([("xs", "x")])
            .with_output_mapping([("label", "labels")])
            .with_map_over(["xs"])
            .build()?;
        let p = crate::common::on(&engine, [per_item]);
        let inputs = Inputs::new().with("xs", vec![vec![1_i64, 2], vec![3]]);
        p.map(&inputs, &["xs"], "zip")?;
        // `double` and `label` of 3 inner items (`triple`'s output is not used: not run).
        assert_eq!((calls.take(), store.committed()), (6, 6));
        let again = p.map(&inputs, &["xs"], "zip")?;
        assert_eq!(calls.take(), 0);
        assert_eq!(again.column::<Vec<String>>("labels")?, [vec!["#2", "#4"], vec!["#6"]]);
    }
);

#[test]
fn apply_to_batch_commits() -> Result<()> {
    let (store, calls) = (Store::new("batch"), Calls::default());
    let p = columnar("batch", &calls, &store);
    ColumnarEngine::new().apply_to_batch(&p, &batch(vec![1, 2, 3]))?;
    assert_eq!((calls.take(), store.committed()), (6, 9));
    let again = ColumnarEngine::new().apply_to_batch(&p, &batch(vec![1, 2, 3]))?;
    assert_eq!(calls.take(), 0);
    assert_eq!(labels(&[again]), ["#2", "#4", "#6"]);
    Ok(())
}

#[test]
fn apply_to_batches_commits() -> Result<()> {
    let (store, calls) = (Store::new("batches"), Calls::default());
    let p = columnar("batches", &calls, &store);
    let engine = ColumnarEngine::new().with_batch_size(2);
    let input = [batch(vec![1, 2, 3]), batch(vec![4])];
    engine.apply_to_batches(&p, &input)?;
    assert_eq!((calls.take(), store.committed()), (8, 12));
    let again = engine.apply_to_batches(&p, &input)?;
    assert_eq!(calls.take(), 0);
    assert_eq!(labels(&again), ["#2", "#4", "#6", "#8"]);
    Ok(())
}

#[test]
fn explaining_commits_what_it_ran() -> Result<()> {
    let (store, calls) = (Store::new("explain"), Calls::default());
    let p = columnar("explain", &calls, &store);
    ColumnarEngine::new().explain(&p, &xs(), &["x"])?;
    assert_eq!((calls.take(), store.committed()), (6, 9));
    ColumnarEngine::new().explain_batch(&p, &batch(vec![1, 2, 3]))?;
    assert_eq!(calls.take(), 0);
    ColumnarEngine::new().explain_batch(&p, &batch(vec![7]))?;
    assert_eq!((calls.take(), store.committed()), (2, 12));
    Ok(())
}

/// A DataFrame's nodes without kernels are one-node pipelines that the plan calls per
/// batch: each call commits. (Nodes with kernels run uncached in a DataFusion plan.)
#[test]
fn a_dataframes_calls_commit() -> Result<()> {
    let (store, calls) = (Store::new("dataframe"), Calls::default());
    let p = columnar("dataframe", &calls, &store);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let collect = || -> Result<Vec<RecordBatch>> {
        let ctx = datafusion::prelude::SessionContext::new();
        let frame = ctx.read_batch(batch(vec![1, 2, 3])).unwrap();
        let frame = ColumnarEngine::apply_to_dataframe(&p, frame)?;
        Ok(runtime.block_on(frame.collect()).unwrap())
    };
    collect()?;
    assert_eq!((calls.take(), store.committed()), (6, 6));
    let again = collect()?;
    assert_eq!(calls.take(), 0);
    assert_eq!(labels(&again), ["#2", "#4", "#6"]);
    Ok(())
}

/// `register_udfs` registers kernels and `async fn` nodes, which a DataFusion plan runs
/// without a cache: nothing reaches the store.
#[test]
fn registered_udfs_store_nothing() -> Result<()> {
    let store = Store::new("udfs");
    let p = Pipeline::new([triple::node()]).with_config(RunConfig::new().with_cache(store.cache.clone()));
    let ctx = datafusion::prelude::SessionContext::new();
    assert_eq!(ColumnarEngine::register_udfs(&p, &ctx)?, ["triple"]);
    ctx.register_batch("t", batch(vec![1, 2, 3])).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let out = runtime.block_on(async { ctx.sql("SELECT triple(x) AS t FROM t").await?.collect().await });
    let out = out.unwrap();
    let column = out[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().clone();
    assert_eq!(column, Int64Array::from(vec![3, 6, 9]));
    assert_eq!(store.committed(), 0);
    Ok(())
}

/// The child's role in `a_process_that_exits_at_once_keeps_what_its_calls_stored`.
const EXIT_CHILD: &str = "HN_COMMIT_CHILD";

/// A process that calls `apply_to_batches` and `Pipeline::map`, then exits with
/// `std::process::exit` (no destructor runs, so no handle's drop commits anything): its
/// entries are all in the store.
#[test]
fn a_process_that_exits_at_once_keeps_what_its_calls_stored() {
    if let Ok(dir) = std::env::var(EXIT_CHILD) {
        let cache = Cache::disk(&dir).unwrap();
        let store = Store { dir: dir.into(), cache };
        let calls = Calls::default();
        let p = columnar("exit", &calls, &store);
        ColumnarEngine::new()
            .apply_to_batches(&p, &[batch(vec![1, 2, 3])])
            .unwrap();
        let node: Arc<dyn Engine> = Arc::new(NodeEngine::new());
        cached(&node, "exit", &calls, &store)
            .map(&Inputs::new().with("x", vec![4_i64]), &["x"], "zip")
            .unwrap();
        std::process::exit(0);
    }
    let store = Store::new("exit");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "commit::a_process_that_exits_at_once_keeps_what_its_calls_stored",
            "--nocapture",
        ])
        .env(EXIT_CHILD, &store.dir)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(store.committed(), 12);
    let calls = Calls::default();
    let out = columnar("exit", &calls, &store).map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4]), &["x"], "zip");
    assert_eq!(out.unwrap().cache_report().unwrap().hits(), 12);
    assert_eq!(calls.take(), 0);
}
