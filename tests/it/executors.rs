//! Executors and run configuration: executor names, the same results on every executor
//! and engine, independent nodes and items running at once, nested maps sharing one
//! pool, deterministic errors, `on_error = collect`, retries, timeouts, the precedence
//! of the run configuration, and runs from async code.
//!
//! Concurrency is observed, never timed: a call waits (a bounded time, then fails) until
//! another call has run alongside it, and the threads that ran the calls are counted and
//! named (`hypernodes-parallel-i`, `hypernodes-threaded-i`, tokio's `hypernodes`, or the
//! calling thread).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::common::*;
use hypernodes::exec::{AsExecutor, Retry, parse_duration};
use hypernodes::prelude::*;
use hypernodes::{Engine, MapOutputs, MapPlan, NodeBuilder, Outputs, RunPlan};

/// The map executors every map runs on.
const EXECUTORS: [&str; 5] = ["sequential", "threaded:8", "async:16", "parallel:2", "parallel"];

/// The node executors that run independent nodes at the same time.
const CONCURRENT: [&str; 4] = ["threaded:8", "async:16", "parallel:2", "parallel"];

/// How long a call waits for another one to run alongside it before failing.
const PATIENCE: Duration = Duration::from_secs(3);

const UNKNOWN: &str = "Valid executors: sequential, threaded[:N], async[:N], parallel[:N]";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn map_on(executor: &str) -> RunOptions {
    RunOptions::new().with_config(RunConfig::new().try_with_map_executor(executor).unwrap())
}

fn nodes_on(executor: &str) -> RunOptions {
    RunOptions::new().with_config(RunConfig::new().try_with_node_executor(executor).unwrap())
}

fn collect_on(executor: &str) -> RunOptions {
    RunOptions::new().with_config(
        RunConfig::new()
            .try_with_map_executor(executor)
            .unwrap()
            .with_on_error(OnError::Collect),
    )
}

fn xs(values: impl IntoIterator<Item = i64>) -> Inputs {
    Inputs::new().with("x", values.into_iter().collect::<Vec<i64>>())
}

/// Serializes the tests whose calls wait for each other on the shared pools (two such
/// tests at once could hold both threads of `parallel:2` waiting for partners queued
/// behind them) and the tests that read or set the process default.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until `done()`, polling every millisecond; `false` when `limit` passed first.
fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(ms(1));
    }
    true
}

/// The kind of thread running this: a `parallel`, `threaded` or `async` pool thread (the
/// async executor runs sync work on a pool of its own), tokio's (`async` too: the
/// runtime's blocking pool, where the async executor runs the sync nodes of items that
/// also await), or any other thread (`caller`: the calling thread, where `sequential`
/// runs).
fn thread_kind() -> &'static str {
    match std::thread::current().name() {
        Some(n) if n.starts_with("hypernodes-parallel-") => "parallel",
        Some(n) if n.starts_with("hypernodes-threaded-") => "threaded",
        Some(n) if n.starts_with("hypernodes-async-") => "async",
        Some("hypernodes") => "async",
        _ => "caller",
    }
}

/// The kind of thread the items of a map on `executor` run on (called from a plain
/// thread).
fn kind_of(executor: &str) -> &'static str {
    match executor.split(':').next() {
        Some("sequential") => "caller",
        Some("threaded") => "threaded",
        Some("async") => "async",
        Some("parallel") => "parallel",
        _ => panic!("no executor {executor}"),
    }
}

fn width_of(executor: &str) -> usize {
    executor.parse::<Executor>().unwrap().width()
}

/// What the calls of tracked nodes saw: how many ran at once, on which threads.
#[derive(Default)]
struct Tracker {
    running: AtomicUsize,
    max: AtomicUsize,
    calls: AtomicUsize,
    threads: Mutex<HashSet<ThreadId>>,
    kinds: Mutex<BTreeSet<&'static str>>,
}

impl Tracker {
    fn new() -> Arc<Tracker> {
        Arc::new(Tracker::default())
    }

    /// Records a call; with `overlap`, waits until two calls have run at once (false
    /// when that never happened).
    fn call(&self, overlap: bool) -> bool {
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(now, SeqCst);
        self.calls.fetch_add(1, SeqCst);
        self.threads.lock().unwrap().insert(std::thread::current().id());
        self.kinds.lock().unwrap().insert(thread_kind());
        let seen = !overlap || wait_until(PATIENCE, || self.max.load(SeqCst) >= 2);
        self.running.fetch_sub(1, SeqCst);
        seen
    }

    fn max(&self) -> usize {
        self.max.load(SeqCst)
    }

    fn calls(&self) -> usize {
        self.calls.load(SeqCst)
    }

    fn threads(&self) -> usize {
        self.threads.lock().unwrap().len()
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.kinds.lock().unwrap().iter().copied().collect()
    }
}

/// A closure node `tracked`: `x` -> `y` = 10 x, recorded by `tracker`; with `overlap`
/// each call waits for a call running alongside it.
fn tracked(tracker: &Arc<Tracker>, overlap: bool) -> Node {
    let t = tracker.clone();
    Node::builder("tracked")
        .params(["x"])
        .output("y")
        .try_build(move |x: i64| {
            if t.call(overlap) {
                Ok(x * 10)
            } else {
                Err(format!("item {x} never ran alongside another"))
            }
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Names.

#[test]
fn executor_names_parse_print_and_round_trip() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cases = [
        ("sequential", Executor::Sequential),
        ("threaded", Executor::Threaded(32)),
        ("threaded:1", Executor::Threaded(1)),
        ("threaded:8", Executor::Threaded(8)),
        ("async", Executor::Async(100)),
        ("async:16", Executor::Async(16)),
        ("parallel", Executor::Parallel(cores)),
        ("parallel:2", Executor::Parallel(2)),
        ("parallel:64", Executor::Parallel(64)),
    ];
    for (name, executor) in cases {
        assert_eq!(name.parse::<Executor>().unwrap(), executor, "{name}");
        assert_eq!(name.as_executor().unwrap(), executor, "{name}");
        assert_eq!(name.to_string().as_executor().unwrap(), executor, "{name}");
        assert_eq!(executor.as_executor().unwrap(), executor);
        // Display prints the width, and reads back as the same executor.
        assert_eq!(executor.to_string().parse::<Executor>().unwrap(), executor);
    }
    assert_eq!(Executor::Sequential.to_string(), "sequential");
    assert_eq!(Executor::Threaded(8).to_string(), "threaded:8");
    assert_eq!(Executor::Async(100).to_string(), "async:100");
    assert_eq!(Executor::Parallel(2).to_string(), "parallel:2");
    assert_eq!("threaded".parse::<Executor>().unwrap().to_string(), "threaded:32");
    assert_eq!(Executor::THREADED_WIDTH, 32);
    assert_eq!(Executor::ASYNC_WIDTH, 100);
    assert_eq!(Executor::parallel(), Executor::Parallel(cores));
    assert_eq!(Executor::default(), Executor::Sequential);
    let widths: Vec<usize> = cases.iter().map(|(_, e)| e.width()).collect();
    assert_eq!(widths, [1, 32, 1, 8, 100, 16, cores, 2, 64]);
}

#[test]
fn unknown_executor_names_and_bad_widths() {
    for name in [
        "threads",
        "",
        "Parallel",
        "THREADED:4",
        " parallel",
        "parallel :2",
        "sequential:2",
        "rayon:4",
    ] {
        let err = name.parse::<Executor>().unwrap_err();
        assert_eq!(err.to_string(), format!("Unknown executor '{name}'. {UNKNOWN}"));
        assert!(matches!(err, Error::UnknownExecutor { .. }), "{name}");
        assert_eq!(name.as_executor().unwrap_err().to_string(), err.to_string());
    }
    assert_eq!(
        "threads".parse::<Executor>().unwrap_err().to_string(),
        "Unknown executor 'threads'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]"
    );
    for name in [
        "threaded:0",
        "async:x",
        "parallel:",
        "threaded:-1",
        "async:1.5",
        "parallel:2:3",
        "async:0",
    ] {
        let err = name.parse::<Executor>().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Executor '{name}': the width after ':' must be a whole number of at least 1")
        );
        assert!(matches!(err, Error::Invalid(_)), "{name}");
    }
}

#[test]
fn failure_policies_retries_and_durations() {
    assert_eq!("fail".parse::<OnError>().unwrap(), OnError::Fail);
    assert_eq!("collect".parse::<OnError>().unwrap(), OnError::Collect);
    assert_eq!(OnError::default(), OnError::Fail);
    assert_eq!(OnError::Collect.to_string(), "collect");
    assert_eq!(OnError::Fail.to_string(), "fail");
    assert_eq!(
        "ignore".parse::<OnError>().unwrap_err().to_string(),
        "Unknown on_error policy 'ignore'. Valid policies: fail, collect"
    );
    let r = Retry::new(3, ms(10));
    assert_eq!((r.retries(), r.backoff()), (3, ms(10)));
    assert_eq!(
        [r.delay(0), r.delay(1), r.delay(2), r.delay(3)],
        [ms(10), ms(20), ms(40), ms(80)]
    );
    assert_eq!(parse_duration("100ms").unwrap(), ms(100));
    assert_eq!(parse_duration("1.5s").unwrap(), ms(1500));
    assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
}

/// An executor given by name is parsed where it is set: a bad name is refused by the
/// setter (on a configuration and on the node engine), before anything runs.
#[test]
fn bad_executor_names_are_refused_where_they_are_set() {
    let unknown = |name: &str| format!("Unknown executor '{name}'. {UNKNOWN}");
    let width = |name: &str| format!("Executor '{name}': the width after ':' must be a whole number of at least 1");
    let cases = [
        (
            RunConfig::new().try_with_map_executor("paralel").map(drop),
            unknown("paralel"),
        ),
        (
            RunConfig::new().try_with_node_executor("paralel").map(drop),
            unknown("paralel"),
        ),
        (
            RunConfig::new().try_with_map_executor("threaded:x").map(drop),
            width("threaded:x"),
        ),
        (
            RunConfig::new().try_with_node_executor("threaded:0").map(drop),
            width("threaded:0"),
        ),
        (
            NodeEngine::new().try_with_map_executor("paralel").map(drop),
            unknown("paralel"),
        ),
        (
            NodeEngine::new().try_with_node_executor("sequentail").map(drop),
            unknown("sequentail"),
        ),
        (
            NodeEngine::new().try_with_map_executor("async:x").map(drop),
            width("async:x"),
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
    let err = RunConfig::new()
        .try_with_map_executor("threads".to_string())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownExecutor { .. }));
    assert_eq!(err.code(), "HN017");

    // Good names are the executors they name, wherever they are set.
    let config = RunConfig::new()
        .try_with_map_executor("threaded:4")
        .unwrap()
        .try_with_node_executor(Executor::Async(3))
        .unwrap();
    assert_eq!(config.map_executor(), Some(Executor::Threaded(4)));
    assert_eq!(config.node_executor(), Some(Executor::Async(3)));
    let engine = NodeEngine::new().try_with_map_executor("parallel:2").unwrap();
    assert_eq!(engine.map_executor(), Some(Executor::Parallel(2)));
    assert_eq!(engine.node_executor(), None);
    let engine = NodeEngine::new()
        .with_node_executor(Executor::Threaded(4))
        .with_map_executor(Executor::parallel());
    assert_eq!(engine.node_executor(), Some(Executor::Threaded(4)));
    assert_eq!(engine.map_executor(), Some(Executor::parallel()));
}

engine_test!(
    fn executors_set_by_name_run(engine) {
        let p = on(&engine, w1()).with_config(RunConfig::new().try_with_map_executor("threaded:3")?);
        let out = p.map(&xs([1, 2, 3]), &["x"], "zip")?;
        assert_eq!(out.column::<i64>("squared")?, [9, 25, 49]);
    }
);

// ---------------------------------------------------------------------------------------
// The same results everywhere.

#[node(output = "tokens")]
fn count_tokens(sentence: &str) -> usize {
    sentence.split_whitespace().count()
}

#[node(output = "total")]
fn total(counts: Vec<usize>) -> usize {
    counts.iter().sum()
}

#[node(output = "negated")]
async fn negate(incremented: i64) -> i64 {
    // Later items finish first.
    tokio::time::sleep(ms((30 - incremented).rem_euclid(4) as u64)).await;
    -incremented
}

/// W1 with a closure node (row by row on the columnar engine too) and an async node.
fn w1_mixed() -> Vec<Node> {
    let tag = Node::builder("tag")
        .params(["squared", "x"])
        .output("tag")
        .build(|squared: i64, x: i64| {
            std::thread::sleep(Duration::from_micros((x % 3) as u64 * 500));
            format!("{x}:{squared}")
        })
        .unwrap();
    let mut nodes = w1();
    nodes.extend([tag, negate::node()]);
    nodes
}

engine_test!(
    fn maps_give_the_same_results_in_item_order_on_every_executor(engine) {
        let p = on(&engine, w1_mixed());
        let x: Vec<i64> = (1..=20).collect();
        for exec in EXECUTORS {
            let out = p.map_with(&xs(x.clone()), &["x"], "zip", &map_on(exec))?;
            assert_eq!(out.len(), 20, "{exec}");
            assert_eq!(out.item_indices(), (0..20).collect::<Vec<_>>(), "{exec}");
            assert!(out.failures().is_empty(), "{exec}");
            assert_eq!(out.column::<i64>("doubled")?, x.iter().map(|x| 2 * x).collect::<Vec<_>>(), "{exec}");
            assert_eq!(out.column::<i64>("negated")?, x.iter().map(|x| -(2 * x + 1)).collect::<Vec<_>>(), "{exec}");
            let tags: Vec<String> = x.iter().map(|x| format!("{x}:{}", (2 * x + 1) * (2 * x + 1))).collect();
            assert_eq!(out.column::<String>("tag")?, tags, "{exec}");
            // The node executor too.
            let opts = RunOptions::new().with_config(RunConfig::new().try_with_map_executor(exec).unwrap().try_with_node_executor(exec).unwrap());
            let out = p.map_with(&xs(x.clone()), &["x"], "zip", &opts)?;
            assert_eq!(out.column::<String>("tag")?, tags, "{exec}");
            // And `run`.
            let out = p.run_with(&Inputs::new().with("x", 7_i64), &opts)?;
            assert_eq!(
                (out.get::<i64>("squared")?, out.get::<i64>("negated")?, out.get::<String>("tag")?),
                (225, -15, "7:225".to_string()),
                "{exec}"
            );
            // No items.
            let out = p.map_with(&xs([]), &["x"], "zip", &opts)?;
            assert_eq!((out.len(), out.column::<String>("tag")?), (0, &[] as &[String]), "{exec}");
        }
    }
);

engine_test!(
    fn product_maps_keep_their_order_on_every_executor(engine) {
        let label = Node::builder("label")
            .params(["letter", "n"])
            .output("label")
            .build(|letter: String, n: i64| {
                std::thread::sleep(Duration::from_micros((4 - n) as u64 * 300));
                format!("{letter}{n}")
            })?;
        let p = on(&engine, [label]);
        let inputs = Inputs::new().with("letter", strings(&["a", "b", "c"])).with("n", vec![1_i64, 2, 3, 4]);
        for exec in EXECUTORS {
            let out = p.map_with(&inputs, &["letter", "n"], MapMode::Product, &map_on(exec))?;
            assert_eq!(
                out.column::<String>("label")?,
                ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4"],
                "{exec}"
            );
            let out = p.map_with(&inputs, &["n", "letter"], "product", &map_on(exec))?;
            assert_eq!(
                out.column::<String>("label")?,
                ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3", "a4", "b4", "c4"],
                "{exec}"
            );
        }
    }
);

/// A nested pipeline mapped over the sentences of a document: token counts and the
/// sentences upper-cased.
fn per_doc() -> Node {
    let shout = Node::builder("shout")
        .params(["sentence"])
        .output("loud")
        .build(|s: String| s.to_uppercase())
        .unwrap();
    Pipeline::new([count_tokens::node(), shout])
        .as_node("per_doc")
        .with_input_mapping([("sentences", "sentence")])
        .with_output_mapping([("tokens", "counts"), ("loud", "louds")])
        .with_map_over(["sentences"])
        .build()
        .unwrap()
}

fn docs() -> Vec<Vec<String>> {
    vec![
        strings(&["a b c", "d e"]),
        strings(&["f"]),
        vec![],
        strings(&["g h i j", "k", "l m"]),
    ]
}

engine_test!(
    fn nested_maps_give_the_same_results_on_every_executor(engine) {
        let p = on(&engine, [per_doc(), total::node()]);
        let inputs = Inputs::new().with("sentences", docs());
        for exec in EXECUTORS {
            let opts = map_on(exec).with_outputs(["counts", "louds", "total"]);
            let out = p.map_with(&inputs, &["sentences"], "zip", &opts)?;
            let counts: Vec<Vec<usize>> = vec![vec![3, 2], vec![1], vec![], vec![4, 1, 2]];
            assert_eq!(out.column::<Vec<usize>>("counts")?, counts, "{exec}");
            assert_eq!(out.column::<usize>("total")?, [5, 1, 0, 7], "{exec}");
            let louds = vec![strings(&["A B C", "D E"]), strings(&["F"]), vec![], strings(&["G H I J", "K", "L M"])];
            assert_eq!(out.column::<Vec<String>>("louds")?, louds, "{exec}");
            // One document, with `run`: the nested node's map uses the map executor.
            let out = p.run_with(&Inputs::new().with("sentences", docs()[3].clone()), &opts)?;
            assert_eq!(out.get::<Vec<usize>>("counts")?, [4, 1, 2], "{exec}");
            assert_eq!(out.get::<usize>("total")?, 7, "{exec}");
        }
    }
);

// ---------------------------------------------------------------------------------------
// At the same time.

/// A diamond: `base` = x + 1, the arms `left` = 2 base and `right` = 3 base, `total` =
/// left + right. With `together`, each arm waits for the other arm of its item to start
/// (arms arrive in pairs, items one after another), so the run completes only when
/// both arms run at the same time; alone, an arm fails after [`PATIENCE`].
fn diamond(together: bool) -> Vec<Node> {
    let arrived = Arc::new(AtomicUsize::new(0));
    let arm = |name: &'static str, output: &'static str, k: i64| {
        let arrived = arrived.clone();
        Node::builder(name)
            .params(["base"])
            .output(output)
            .try_build(move |base: i64| {
                let pair = arrived.fetch_add(1, SeqCst) / 2 * 2 + 2;
                if !together || wait_until(PATIENCE, || arrived.load(SeqCst) >= pair) {
                    Ok(base * k)
                } else {
                    Err(format!("{name} ran alone"))
                }
            })
            .unwrap()
    };
    let base = Node::builder("base")
        .params(["x"])
        .output("base")
        .build(|x: i64| x + 1)
        .unwrap();
    let join = Node::builder("join")
        .params(["l", "r"])
        .output("sum")
        .build(|l: i64, r: i64| l + r)
        .unwrap();
    vec![join, arm("right", "r", 3), base, arm("left", "l", 2)]
}

engine_test!(
    fn independent_nodes_run_at_the_same_time(engine) {
        let _serial = serial();
        for exec in CONCURRENT {
            if width_of(exec) < 2 {
                continue;
            }
            let out = on(&engine, diamond(true)).run_with(&Inputs::new().with("x", 4_i64), &nodes_on(exec))?;
            assert_eq!((out.get::<i64>("l")?, out.get::<i64>("r")?, out.get::<i64>("sum")?), (10, 15, 25), "{exec}");
            // Each item of a sequential map, its arms at the same time.
            let opts = RunOptions::new()
                .with_config(RunConfig::new().try_with_node_executor(exec).unwrap().with_map_executor(Executor::Sequential));
            let out = on(&engine, diamond(true)).map_with(&xs([0, 1, 2]), &["x"], "zip", &opts)?;
            assert_eq!(out.column::<i64>("sum")?, [5, 10, 15], "{exec}");
        }
        // One after the other on the sequential node executor.
        let out = on(&engine, diamond(false)).run_with(&Inputs::new().with("x", 4_i64), &nodes_on("sequential"))?;
        assert_eq!(out.get::<i64>("sum")?, 25);
    }
);

engine_test!(
    fn a_failing_wave_reports_its_first_node_in_step_order(engine) {
        let arm = |name: &'static str, output: &'static str, wait: u64| {
            Node::builder(name)
                .params(["base"])
                .output(output)
                .try_build(move |base: i64| -> Result<i64, String> {
                    std::thread::sleep(ms(wait));
                    Err(format!("{name} broke on {base}"))
                })
                .unwrap()
        };
        let base = Node::builder("base").params(["x"]).output("base").build(|x: i64| x + 1)?;
        let join = Node::builder("join").params(["l", "r"]).output("sum").build(|l: i64, r: i64| l + r)?;
        // `left` fails later than `right`, but comes first.
        let p = on(&engine, [base, arm("left", "l", 5), arm("right", "r", 0), join]);
        for exec in EXECUTORS {
            let err = p.run_with(&Inputs::new().with("x", 1_i64), &nodes_on(exec)).unwrap_err();
            assert_eq!(err.to_string(), "Node 'left' failed: left broke on 2", "{exec}");
            let opts = RunOptions::new().with_config(RunConfig::new().try_with_node_executor(exec).unwrap().try_with_map_executor(exec).unwrap());
            let err = p.map_with(&xs([1, 2]), &["x"], "zip", &opts).unwrap_err();
            assert_eq!(err.to_string(), "Node 'left' failed on item 0: left broke on 2", "{exec}");
        }
    }
);

engine_test!(
    fn items_run_at_the_same_time_within_the_executor_width(engine) {
        let _serial = serial();
        for exec in EXECUTORS {
            let width = width_of(exec);
            let tracker = Tracker::new();
            let p = on(&engine, [tracked(&tracker, width > 1)]);
            let out = p.map_with(&xs(0..40), &["x"], "zip", &map_on(exec))?;
            assert_eq!(out.column::<i64>("y")?, (0..40).map(|x| x * 10).collect::<Vec<_>>(), "{exec}");
            assert_eq!(tracker.calls(), 40, "{exec}");
            // At once, but never more than the width: no oversubscription.
            assert!(tracker.max() <= width, "{exec}: {} at once", tracker.max());
            assert_eq!(tracker.max() > 1, width > 1, "{exec}: {} at once", tracker.max());
            // On the executor's own threads, no more of them than its width.
            assert_eq!(tracker.kinds(), [kind_of(exec)], "{exec}");
            match exec {
                "sequential" => assert_eq!(tracker.threads(), 1),
                // The blocking pool of tokio has as many threads as it needs.
                "async:16" => {}
                _ => assert!(tracker.threads() <= width, "{exec}: {} threads", tracker.threads()),
            }
        }
    }
);

/// The trackers of [`gate`], by number.
static GATES: Mutex<BTreeMap<i64, Arc<Tracker>>> = Mutex::new(BTreeMap::new());
static NEXT_KEY: AtomicI64 = AtomicI64::new(1);

/// A fresh number, to key static state no other test or engine uses.
fn fresh() -> i64 {
    NEXT_KEY.fetch_add(1, SeqCst) * 1_000_000
}

fn gate_tracker(gate: i64) -> Arc<Tracker> {
    GATES.lock().unwrap().entry(gate).or_default().clone()
}

/// An async node recording in tracker `gate`; with `overlap`, it awaits (up to
/// [`PATIENCE`]) until two calls have run at once.
#[node(output = "y")]
async fn gated(x: i64, gate: i64, overlap: bool) -> Result<i64, String> {
    let t = gate_tracker(gate);
    let now = t.running.fetch_add(1, SeqCst) + 1;
    t.max.fetch_max(now, SeqCst);
    t.calls.fetch_add(1, SeqCst);
    let start = Instant::now();
    while overlap && t.max.load(SeqCst) < 2 && start.elapsed() < PATIENCE {
        tokio::time::sleep(ms(1)).await;
    }
    t.running.fetch_sub(1, SeqCst);
    if t.max.load(SeqCst) >= 2 || !overlap {
        Ok(x * 10)
    } else {
        Err(format!("item {x} never ran alongside another"))
    }
}

engine_test!(
    fn async_nodes_are_awaited_at_the_same_time(engine) {
        let _serial = serial();
        for exec in EXECUTORS {
            let width = width_of(exec);
            let gate = fresh();
            let inputs = xs(0..30).with("gate", gate).with("overlap", width > 1);
            let out = on(&engine, [gated::node()]).map_with(&inputs, &["x"], "zip", &map_on(exec))?;
            assert_eq!(out.column::<i64>("y")?, (0..30).map(|x| x * 10).collect::<Vec<_>>(), "{exec}");
            let t = gate_tracker(gate);
            assert_eq!(t.calls(), 30, "{exec}");
            assert!(t.max() <= width, "{exec}: {} at once", t.max());
            assert_eq!(t.max() > 1, width > 1, "{exec}: {} at once", t.max());
        }
    }
);

// ---------------------------------------------------------------------------------------
// Nested maps on one pool.

/// Three levels of maps: the call maps over `xss` lists, a nested node maps over the
/// lists of each, and a nested node inside it over their numbers, which the tracked
/// node multiplies by 10.
fn three_levels(engine: &Arc<dyn Engine>, tracker: &Arc<Tracker>) -> Pipeline {
    let level3 = Pipeline::new([tracked(tracker, false)])
        .as_node("level3")
        .with_input_mapping([("xs", "x")])
        .with_output_mapping([("y", "ys")])
        .with_map_over(["xs"])
        .build()
        .unwrap();
    let level2 = Pipeline::new([level3])
        .as_node("level2")
        .with_input_mapping([("xss", "xs")])
        .with_output_mapping([("ys", "yss")])
        .with_map_over(["xss"])
        .build()
        .unwrap();
    on(engine, [level2])
}

engine_test!(
    fn nested_maps_share_the_pool_they_inherit(engine) {
        let xsss: Vec<Vec<Vec<i64>>> = vec![
            vec![vec![1, 2], vec![3]],
            vec![],
            vec![vec![4, 5, 6], vec![], vec![7]],
            vec![vec![8, 9, 10, 11, 12]],
            vec![vec![13], vec![14], vec![15], vec![16]],
        ];
        let expected: Vec<Vec<Vec<i64>>> =
            xsss.iter().map(|a| a.iter().map(|b| b.iter().map(|x| x * 10).collect()).collect()).collect();
        for exec in EXECUTORS {
            let tracker = Tracker::new();
            let p = three_levels(&engine, &tracker);
            let out = p.map_with(&Inputs::new().with("xss", xsss.clone()), &["xss"], "zip", &map_on(exec))?;
            assert_eq!(out.column::<Vec<Vec<i64>>>("yss")?, expected, "{exec}");
            assert_eq!(tracker.calls(), 16, "{exec}");
            // Every level runs on the executor the call set: the pools' threads, never
            // more of them than the width. A parallel map's items run inside the pool
            // (`install` from the calling thread hands the whole map to the pool), and a
            // map on a pool thread runs its items on that same pool, its waiting thread
            // taking part: `parallel:2` runs all 16 innermost items on at most the 2
            // threads of its pool, and the calling thread runs none.
            assert_eq!(tracker.kinds(), [kind_of(exec)], "{exec}");
            match exec {
                "sequential" => assert_eq!(tracker.threads(), 1),
                "async:16" => {}
                _ => assert!(tracker.threads() <= width_of(exec), "{exec}: {} threads", tracker.threads()),
            }
        }
    }
);

// ---------------------------------------------------------------------------------------
// Errors.

/// Items 3, 7 and 11 fail, the later ones sooner; item 5 and 9 panic when `panics`.
fn check(x: i64, panics: bool) -> Result<i64, String> {
    std::thread::sleep(match x {
        3 => ms(8),
        7 => ms(3),
        11 => ms(0),
        _ => Duration::from_micros(300),
    });
    if panics && (x == 5 || x == 9) {
        panic!("item {x} exploded");
    }
    if [3, 7, 11].contains(&x) {
        Err(format!("item {x} is bad"))
    } else {
        Ok(x)
    }
}

#[node(output = "checked")]
fn check_fn(x: i64) -> Result<i64, String> {
    check(x, false)
}

#[node(output = "checked")]
async fn check_async(x: i64) -> Result<i64, String> {
    tokio::time::sleep(match x {
        3 => ms(8),
        7 => ms(3),
        _ => ms(0),
    })
    .await;
    check(x, false)
}

fn check_closure(name: &str, panics: bool) -> Node {
    Node::builder(name)
        .params(["x"])
        .output("checked")
        .try_build(move |x: i64| check(x, panics))
        .unwrap()
}

engine_test!(
    fn the_error_is_the_smallest_failing_item_on_every_executor(engine) {
        let nodes = [
            ("check", check_closure("check", false)),
            ("check_fn", check_fn::node()),
            ("check_async", check_async::node()),
        ];
        for (name, node) in nodes {
            let p = on(&engine, [node]);
            for exec in EXECUTORS {
                for _ in 0..2 {
                    let err = p.map_with(&xs(0..20), &["x"], "zip", &map_on(exec)).unwrap_err();
                    assert_eq!(err.to_string(), format!("Node '{name}' failed on item 3: item 3 is bad"), "{exec}");
                    assert!(matches!(err, Error::NodeFailed { item: Some(3), .. }), "{exec}");
                }
            }
            let err = p.run(&Inputs::new().with("x", 7_i64)).unwrap_err();
            assert_eq!(err.to_string(), format!("Node '{name}' failed: item 7 is bad"));
        }
    }
);

engine_test!(
    fn a_sequential_map_runs_no_item_after_the_failing_one(engine) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let node = Node::builder("check").params(["x"]).output("checked").try_build(move |x: i64| {
            c.fetch_add(1, SeqCst);
            check(x, false)
        })?;
        let err = on(&engine, [node]).map_with(&xs(0..20), &["x"], "zip", &map_on("sequential")).unwrap_err();
        assert_eq!(err.to_string(), "Node 'check' failed on item 3: item 3 is bad");
        assert_eq!(calls.load(SeqCst), 4);
    }
);

/// Fails at once for keys ending in 000; sleeps 200 ms first for the others, then
/// records the key in [`WOKE`].
#[node(output = "y")]
async fn fail_first(key: i64) -> Result<i64, String> {
    if key % 1000 == 0 {
        return Err(format!("{} failed at once", key % 1000));
    }
    tokio::time::sleep(ms(200)).await;
    WOKE.lock().unwrap().insert(key);
    Ok(key)
}

engine_test!(
    fn the_async_executor_cancels_the_items_in_flight_when_one_fails(engine) {
        let keys: Vec<i64> = (0..6).map(|i| fresh() + i).collect();
        let err = on(&engine, [fail_first::node()])
            .map_with(&Inputs::new().with("key", keys.clone()), &["key"], "zip", &map_on("async:16"))
            .unwrap_err();
        assert_eq!(err.to_string(), "Node 'fail_first' failed on item 0: 0 failed at once");
        std::thread::sleep(ms(300));
        let woke = WOKE.lock().unwrap();
        assert_eq!(keys.iter().filter(|k| woke.contains(k)).count(), 0);
    }
);

engine_test!(
    fn a_panicking_item_is_reported_with_its_index(engine) {
        let p = on(&engine, [check_closure("boom", true)]);
        for exec in EXECUTORS {
            // Items 5 and 9 panic, 3 fails: the first of them is a failure.
            let err = p.map_with(&xs(0..20), &["x"], "zip", &map_on(exec)).unwrap_err();
            assert_eq!(err.to_string(), "Node 'boom' failed on item 3: item 3 is bad", "{exec}");
            let err = p.map_with(&xs(4..20), &["x"], "zip", &map_on(exec)).unwrap_err();
            assert_eq!(err.to_string(), "Node 'boom' panicked on item 1: item 5 exploded", "{exec}");
            match err {
                Error::NodePanicked { node, item, message } => {
                    assert_eq!((&*node, item, &*message), ("boom", Some(1), "item 5 exploded"), "{exec}")
                }
                other => panic!("{exec}: not a panic: {other}"),
            }
        }
        let err = p.run(&Inputs::new().with("x", 9_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'boom' panicked: item 9 exploded");
    }
);

/// `(item, node, error)` of each failure.
fn failures(out: &MapOutputs) -> Vec<(usize, String, String)> {
    out.failures()
        .iter()
        .map(|f| (f.item(), f.node().to_string(), f.error().to_string()))
        .collect()
}

engine_test!(
    fn collect_returns_the_good_items_and_the_failures(engine) {
        let tenfold = Node::builder("tenfold")
            .params(["checked"])
            .output("tenfold")
            .try_build(|c: i64| if c == 4 { Err("4 is unlucky".to_string()) } else { Ok(c * 10) })?;
        let p = on(&engine, [check_closure("check", true), tenfold]);
        for exec in EXECUTORS {
            let out = p.map_with(&xs(0..12), &["x"], "zip", &collect_on(exec))?;
            assert_eq!(out.len(), 6, "{exec}");
            assert_eq!(out.item_indices(), [0, 1, 2, 6, 8, 10], "{exec}");
            assert_eq!(out.column::<i64>("checked")?, [0, 1, 2, 6, 8, 10], "{exec}");
            assert_eq!(out.column::<i64>("tenfold")?, [0, 10, 20, 60, 80, 100], "{exec}");
            assert_eq!(out.item(3)?.get::<i64>("tenfold")?, 60, "{exec}");
            let expected: Vec<(usize, String, String)> = [
                (3, "check", "Node 'check' failed on item 3: item 3 is bad"),
                (4, "tenfold", "Node 'tenfold' failed on item 4: 4 is unlucky"),
                (5, "check", "Node 'check' panicked on item 5: item 5 exploded"),
                (7, "check", "Node 'check' failed on item 7: item 7 is bad"),
                (9, "check", "Node 'check' panicked on item 9: item 9 exploded"),
                (11, "check", "Node 'check' failed on item 11: item 11 is bad"),
            ]
            .map(|(i, n, e)| (i, n.to_string(), e.to_string()))
            .to_vec();
            assert_eq!(failures(&out), expected, "{exec}");
            assert!(matches!(out.failures()[2].error(), Error::NodePanicked { item: Some(5), .. }), "{exec}");
            let owned = out.failures()[0].clone().into_error();
            assert_eq!(owned.to_string(), "Node 'check' failed on item 3: item 3 is bad", "{exec}");
            // Every item failing: no rows.
            let out = p.map_with(&xs([3, 7, 11]), &["x"], "zip", &collect_on(exec))?;
            assert_eq!((out.len(), out.item_indices()), (0, vec![]), "{exec}");
            assert_eq!(out.column::<i64>("tenfold")?, &[] as &[i64], "{exec}");
            assert_eq!(out.failures().iter().map(|f| f.item()).collect::<Vec<_>>(), [0, 1, 2], "{exec}");
            // No item failing: no failures.
            let out = p.map_with(&xs([0, 1]), &["x"], "zip", &collect_on(exec))?;
            assert_eq!((out.len(), out.failures().len(), out.item_indices()), (2, 0, vec![0, 1]), "{exec}");
        }
    }
);

engine_test!(
    fn a_failure_inside_a_nested_pipeline_fails_the_outer_item(engine) {
        let tokens = Node::builder("tokens").params(["sentence"]).output("n").try_build(|s: String| {
            if s == "boom" {
                Err(format!("no {s}"))
            } else {
                Ok(s.split_whitespace().count())
            }
        })?;
        let per_doc = Pipeline::new([tokens])
            .as_node("per_doc")
            .with_input_mapping([("sentences", "sentence")])
            .with_output_mapping([("n", "counts")])
            .with_map_over(["sentences"])
            .build()?;
        let p = on(&engine, [per_doc]);
        let docs = vec![strings(&["a b"]), strings(&["c", "boom", "d"]), vec![], strings(&["e f g", "boom"])];
        let inputs = Inputs::new().with("sentences", docs);
        for exec in EXECUTORS {
            let out = p.map_with(&inputs, &["sentences"], "zip", &collect_on(exec))?;
            assert_eq!(out.item_indices(), [0, 2], "{exec}");
            assert_eq!(out.column::<Vec<usize>>("counts")?, [vec![2], vec![]], "{exec}");
            assert_eq!(
                failures(&out),
                [
                    (
                        1,
                        "per_doc".to_string(),
                        "Node 'per_doc' failed on item 1: Node 'tokens' failed on item 1: no boom".to_string()
                    ),
                    (
                        3,
                        "per_doc".to_string(),
                        "Node 'per_doc' failed on item 3: Node 'tokens' failed on item 1: no boom".to_string()
                    ),
                ],
                "{exec}"
            );
            // Under the default policy, the first failing item fails the map.
            let err = p.map_with(&inputs, &["sentences"], "zip", &map_on(exec)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Node 'per_doc' failed on item 1: Node 'tokens' failed on item 1: no boom",
                "{exec}"
            );
        }
    }
);

// ---------------------------------------------------------------------------------------
// Retries.

/// Calls so far, by key.
static ATTEMPTS: Mutex<BTreeMap<i64, usize>> = Mutex::new(BTreeMap::new());

/// Counts a call for `key`: fails the first two, then succeeds.
fn third_time_lucky(key: i64) -> Result<i64, String> {
    let mut attempts = ATTEMPTS.lock().unwrap();
    let n = attempts.entry(key).or_default();
    *n += 1;
    if *n <= 2 {
        Err(format!("attempt {n} failed"))
    } else {
        Ok(key % 1000)
    }
}

fn attempts(key: i64) -> usize {
    ATTEMPTS.lock().unwrap().get(&key).copied().unwrap_or(0)
}

#[node(output = "steady", retries = 2, backoff = "1ms")]
fn flaky(key: i64) -> Result<i64, String> {
    third_time_lucky(key)
}

#[node(output = "steady", retries = 1, backoff = "1ms")]
fn flaky_once(key: i64) -> Result<i64, String> {
    third_time_lucky(key)
}

#[node(output = "steady")]
fn unguarded(key: i64) -> Result<i64, String> {
    third_time_lucky(key)
}

#[node(output = "steady", retries = 2)]
async fn flaky_async(key: i64) -> Result<i64, String> {
    tokio::task::yield_now().await;
    third_time_lucky(key)
}

#[test]
fn node_options_reach_the_node() {
    assert_eq!(flaky::node().retry(), Some(Retry::new(2, ms(1))));
    assert_eq!(flaky_async::node().retry(), Some(Retry::new(2, Duration::ZERO)));
    assert_eq!(unguarded::node().retry(), None);
    assert_eq!(slow::node().timeout(), Some(ms(20)));
    assert_eq!(flaky::node().timeout(), None);
}

engine_test!(
    fn retries_from_the_node_attribute(engine) {
        for exec in EXECUTORS {
            for node in [flaky::node(), flaky_async::node()] {
                let keys: Vec<i64> = (0..5).map(|i| fresh() + i).collect();
                let out = on(&engine, [node]).map_with(&Inputs::new().with("key", keys.clone()), &["key"], "zip", &map_on(exec))?;
                assert_eq!(out.column::<i64>("steady")?, [0, 1, 2, 3, 4], "{exec}");
                assert_eq!(keys.iter().map(|&k| attempts(k)).collect::<Vec<_>>(), [3; 5], "{exec}");
            }
            // Too few retries: the first item gives up after its second attempt.
            let keys: Vec<i64> = (0..3).map(|i| fresh() + i).collect();
            let err = on(&engine, [flaky_once::node()])
                .map_with(&Inputs::new().with("key", keys.clone()), &["key"], "zip", &map_on(exec))
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "Node 'flaky_once' failed on item 0: attempt 2 failed (gave up after 2 attempts)",
                "{exec}"
            );
            assert_eq!(attempts(keys[0]), 2, "{exec}");
        }
        let key = fresh();
        let err = on(&engine, [flaky_once::node()]).run(&Inputs::new().with("key", key)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'flaky_once' failed: attempt 2 failed (gave up after 2 attempts)");
        let key = fresh();
        let out = on(&engine, [flaky::node()]).run(&Inputs::new().with("key", key))?;
        assert_eq!((out.get::<i64>("steady")?, attempts(key)), (0, 3));
        // Without retries: one attempt, the error as it is.
        let key = fresh();
        let err = on(&engine, [unguarded::node()]).run(&Inputs::new().with("key", key)).unwrap_err();
        assert_eq!((err.to_string(), attempts(key)), ("Node 'unguarded' failed: attempt 1 failed".to_string(), 1));
    }
);

/// A closure node from `builder`: `x` -> `y` = 10 x, failing the first `fails` calls of
/// each item, its calls counted per item in `calls`.
fn counted(builder: NodeBuilder, fails: usize, calls: &Arc<Mutex<BTreeMap<i64, usize>>>) -> Node {
    let calls = calls.clone();
    builder
        .params(["x"])
        .output("y")
        .try_build(move |x: i64| {
            let mut calls = calls.lock().unwrap();
            let n = calls.entry(x).or_default();
            *n += 1;
            if *n <= fails {
                Err(format!("call {n} of {x} failed"))
            } else {
                Ok(x * 10)
            }
        })
        .unwrap()
}

engine_test!(
    fn retries_from_the_builder_and_the_configuration(engine) {
        for exec in EXECUTORS {
            // NodeBuilder::retry.
            let calls = Arc::new(Mutex::new(BTreeMap::new()));
            let node = counted(Node::builder("retried").retry(Retry::new(3, ms(1))), 2, &calls);
            let out = on(&engine, [node]).map_with(&xs(0..4), &["x"], "zip", &map_on(exec))?;
            assert_eq!(out.column::<i64>("y")?, [0, 10, 20, 30], "{exec}");
            assert_eq!(calls.lock().unwrap().values().copied().collect::<Vec<_>>(), [3; 4], "{exec}");

            // RunConfig::with_retry, on the pipeline and at the call.
            for at_call in [false, true] {
                let calls = Arc::new(Mutex::new(BTreeMap::new()));
                let config = RunConfig::new().try_with_map_executor(exec).unwrap().with_retry(Retry::new(3, ms(1)));
                let p = on(&engine, [counted(Node::builder("plain"), 2, &calls)]);
                let out = if at_call {
                    p.map_with(&xs(0..4), &["x"], "zip", &RunOptions::new().with_config(config))?
                } else {
                    p.with_config(config).map(&xs(0..4), &["x"], "zip")?
                };
                assert_eq!(out.column::<i64>("y")?, [0, 10, 20, 30], "{exec}");
                assert_eq!(calls.lock().unwrap().values().copied().collect::<Vec<_>>(), [3; 4], "{exec}");
            }

            // The node's own retries win over the configuration's, fewer or more.
            let calls = Arc::new(Mutex::new(BTreeMap::new()));
            let node = counted(Node::builder("stubborn").retry(Retry::new(1, ms(1))), 2, &calls);
            let opts = RunOptions::new().with_config(RunConfig::new().try_with_map_executor(exec).unwrap().with_retry(Retry::new(5, ms(1))));
            let err = on(&engine, [node]).map_with(&xs([7]), &["x"], "zip", &opts).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Node 'stubborn' failed on item 0: call 2 of 7 failed (gave up after 2 attempts)",
                "{exec}"
            );
            assert_eq!(calls.lock().unwrap()[&7], 2, "{exec}");
            let calls = Arc::new(Mutex::new(BTreeMap::new()));
            let node = counted(Node::builder("patient").retry(Retry::new(4, ms(1))), 2, &calls);
            let opts = RunOptions::new().with_config(RunConfig::new().try_with_map_executor(exec).unwrap().with_retry(Retry::new(0, ms(1))));
            let out = on(&engine, [node]).map_with(&xs([7]), &["x"], "zip", &opts)?;
            assert_eq!((out.column::<i64>("y")?, calls.lock().unwrap()[&7]), (&[70_i64][..], 3), "{exec}");
        }
    }
);

engine_test!(
    fn panics_are_never_retried(engine) {
        for exec in EXECUTORS {
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            let node = Node::builder("fragile")
                .params(["x"])
                .output("y")
                .retry(Retry::new(3, ms(1)))
                .build(move |x: i64| -> i64 {
                    c.fetch_add(1, SeqCst);
                    panic!("{x} broke it")
                })?;
            let opts = RunOptions::new().with_config(RunConfig::new().try_with_map_executor(exec).unwrap().with_retry(Retry::new(3, ms(1))));
            let err = on(&engine, [node]).map_with(&xs([4]), &["x"], "zip", &opts).unwrap_err();
            assert_eq!(err.to_string(), "Node 'fragile' panicked on item 0: 4 broke it", "{exec}");
            assert_eq!(calls.load(SeqCst), 1, "{exec}");
        }
    }
);

// ---------------------------------------------------------------------------------------
// Timeouts.

/// The keys whose `slow` call finished its sleep.
static WOKE: Mutex<BTreeSet<i64>> = Mutex::new(BTreeSet::new());

#[node(output = "late", timeout = "20ms")]
async fn slow(key: i64) -> i64 {
    tokio::time::sleep(ms(200)).await;
    WOKE.lock().unwrap().insert(key);
    key
}

#[node(output = "quick", timeout = "2s")]
async fn quick(x: i64) -> i64 {
    tokio::time::sleep(ms(1)).await;
    x + 1
}

engine_test!(
    fn an_async_node_past_its_timeout_is_cancelled(engine) {
        let p = on(&engine, [slow::node()]);
        let mut keys = Vec::new();
        let key = fresh();
        keys.push(key);
        let err = p.run(&Inputs::new().with("key", key)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'slow' timed out after 20ms");
        assert!(matches!(err, Error::Timeout { item: None, after, .. } if after == ms(20)));
        for exec in EXECUTORS {
            let batch: Vec<i64> = (0..3).map(|i| fresh() + i).collect();
            keys.extend(&batch);
            let err = p
                .map_with(&Inputs::new().with("key", batch), &["key"], "zip", &map_on(exec))
                .unwrap_err();
            assert_eq!(err.to_string(), "Node 'slow' timed out on item 0 after 20ms", "{exec}");
        }
        // Long after the sleeps would have ended, none of them did: every future was
        // dropped when its time was up.
        std::thread::sleep(ms(300));
        let woke = WOKE.lock().unwrap();
        assert_eq!(keys.iter().filter(|k| woke.contains(k)).count(), 0);
    }
);

/// A closure node `name` sleeping 200 ms, built from `builder`.
fn sleepy(builder: NodeBuilder) -> Node {
    builder
        .params(["x"])
        .output("y")
        .build(|x: i64| {
            std::thread::sleep(ms(200));
            x
        })
        .unwrap()
}

engine_test!(
    fn a_sync_node_past_its_timeout_fails(engine) {
        let p = on(&engine, [sleepy(Node::builder("sync_slow").timeout(ms(20)))]);
        let err = p.run(&Inputs::new().with("x", 1_i64)).unwrap_err();
        assert_eq!(err.to_string(), "Node 'sync_slow' timed out after 20ms");
        for exec in EXECUTORS {
            let err = p.map_with(&xs([1, 2]), &["x"], "zip", &map_on(exec)).unwrap_err();
            assert_eq!(err.to_string(), "Node 'sync_slow' timed out on item 0 after 20ms", "{exec}");
            assert!(matches!(err, Error::Timeout { item: Some(0), .. }), "{exec}");
        }
        // The configuration's timeout, for a node without one of its own.
        let p = on(&engine, [sleepy(Node::builder("plain_slow"))]).with_config(RunConfig::new().with_timeout(ms(20)));
        let err = p.map(&xs([1, 2]), &["x"], "zip").unwrap_err();
        assert_eq!(err.to_string(), "Node 'plain_slow' timed out on item 0 after 20ms");
        let err = p.run_with(&Inputs::new().with("x", 1_i64), &RunOptions::new()).unwrap_err();
        assert_eq!(err.to_string(), "Node 'plain_slow' timed out after 20ms");
    }
);

engine_test!(
    fn nodes_faster_than_their_timeout_succeed(engine) {
        // The node's own timeout (2 s) wins over the configuration's (1 ms).
        let own = Node::builder("own")
            .params(["quick"])
            .output("y")
            .timeout(Duration::from_secs(2))
            .build(|q: i64| q * 10)?;
        let p = on(&engine, [quick::node(), own]).with_config(RunConfig::new().with_timeout(ms(1)));
        for exec in EXECUTORS {
            let out = p.map_with(&xs(0..6), &["x"], "zip", &map_on(exec))?;
            assert_eq!(out.column::<i64>("quick")?, [1, 2, 3, 4, 5, 6], "{exec}");
            assert_eq!(out.column::<i64>("y")?, [10, 20, 30, 40, 50, 60], "{exec}");
        }
        assert_eq!(p.run(&Inputs::new().with("x", 4_i64))?.get::<i64>("y")?, 50);
    }
);

engine_test!(
    fn a_timed_out_call_is_retried(engine) {
        // The first call sleeps past the timeout; the retry returns at once.
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let node = Node::builder("second_wind")
            .params(["x"])
            .output("y")
            .timeout(ms(150))
            .retry(Retry::new(1, ms(1)))
            .build(move |x: i64| {
                if c.fetch_add(1, SeqCst) == 0 {
                    std::thread::sleep(ms(400));
                }
                x * 10
            })?;
        let out = on(&engine, [node]).run(&Inputs::new().with("x", 3_i64))?;
        assert_eq!((out.get::<i64>("y")?, calls.load(SeqCst)), (30, 2));
        // Timing out every time: the timeout, after both attempts.
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let node = Node::builder("no_wind")
            .params(["x"])
            .output("y")
            .timeout(ms(20))
            .retry(Retry::new(1, ms(1)))
            .build(move |x: i64| {
                c.fetch_add(1, SeqCst);
                std::thread::sleep(ms(100));
                x
            })?;
        let err = on(&engine, [node]).run(&Inputs::new().with("x", 3_i64)).unwrap_err();
        assert_eq!((err.to_string(), calls.load(SeqCst)), ("Node 'no_wind' timed out after 20ms".to_string(), 2));
    }
);

// ---------------------------------------------------------------------------------------
// Precedence of the run configuration.

fn cfg(executor: &str) -> RunConfig {
    RunConfig::new().try_with_map_executor(executor).unwrap()
}

/// Where the items of a map of a tracked node ran: `make` makes the pipeline from the
/// node; `opts` are the call's options.
fn where_items_ran(make: impl FnOnce(Node) -> Pipeline, opts: &RunOptions) -> Vec<&'static str> {
    let tracker = Tracker::new();
    let out = make(tracked(&tracker, false))
        .map_with(&xs(0..4), &["x"], "zip", opts)
        .unwrap();
    assert_eq!(out.column::<i64>("y").unwrap(), [0, 10, 20, 30]);
    tracker.kinds()
}

/// Where the items of the map inside a nested pipeline ran: `inner` makes the nested
/// pipeline from a tracked node, `outer` the pipeline around its node, which runs once
/// with `opts`.
fn where_nested_items_ran(
    inner: impl FnOnce(Node) -> Pipeline,
    outer: impl FnOnce(Node) -> Pipeline,
    opts: &RunOptions,
) -> Vec<&'static str> {
    let tracker = Tracker::new();
    let node = inner(tracked(&tracker, false))
        .as_node("inner")
        .with_input_mapping([("xs", "x")])
        .with_output_mapping([("y", "ys")])
        .with_map_over(["xs"])
        .build()
        .unwrap();
    let out = outer(node)
        .run_with(&Inputs::new().with("xs", vec![0_i64, 1, 2, 3]), opts)
        .unwrap();
    assert_eq!(out.get::<Vec<i64>>("ys").unwrap(), [0, 10, 20, 30]);
    tracker.kinds()
}

fn bare(node: Node) -> Pipeline {
    Pipeline::new([node])
}

engine_test!(
    fn the_call_wins_over_the_pipeline_over_the_scope_over_the_default(engine) {
        let _serial = serial();
        let none = RunOptions::new();
        let engine = &engine;
        let plain = |n: Node| on(engine, [n]);
        let with = |e: &'static str| move |n: Node| on(engine, [n]).with_config(cfg(e));
        // The built-in default: sequential, on the calling thread.
        assert_eq!(where_items_ran(plain, &none), ["caller"]);
        assert_eq!(where_items_ran(plain, &map_on("sequential")), ["caller"]);
        // The pipeline's, the call's over it.
        assert_eq!(where_items_ran(with("parallel:2"), &none), ["parallel"]);
        assert_eq!(where_items_ran(with("parallel:2"), &map_on("threaded:4")), ["threaded"]);
        assert_eq!(where_items_ran(with("threaded:4"), &map_on("sequential")), ["caller"]);
        // A later configuration of the call or of the pipeline wins over an earlier one
        // for what it sets, and keeps the rest.
        assert_eq!(where_items_ran(plain, &map_on("parallel:2").with_config(cfg("threaded:4"))), ["threaded"]);
        let retry = Retry::new(2, ms(1));
        let layered = |n: Node| plain(n).with_config(cfg("parallel:2").with_retry(retry)).with_config(cfg("async:4"));
        let config = layered(double::node()).config().clone();
        assert_eq!((config.retry(), config.map_executor()), (Some(retry), Some(Executor::Async(4))));
        assert_eq!(where_items_ran(layered, &none), ["async"]);
        // A scope, under the pipeline and the call.
        assert_eq!(cfg("async:4").scoped(|| where_items_ran(plain, &none)), ["async"]);
        assert_eq!(cfg("async:4").scoped(|| where_items_ran(with("parallel:2"), &none)), ["parallel"]);
        assert_eq!(cfg("async:4").scoped(|| where_items_ran(plain, &map_on("threaded:4"))), ["threaded"]);
        // Scopes nest, the inner one winning; each ends with its closure.
        let (inner, outer) = cfg("threaded:4").scoped(|| {
            let inner = cfg("async:4").scoped(|| {
                assert_eq!(RunConfig::current().map_executor(), Some(Executor::Async(4)));
                where_items_ran(plain, &none)
            });
            (inner, where_items_ran(plain, &none))
        });
        assert_eq!((inner, outer), (vec!["async"], vec!["threaded"]));
        assert_eq!(where_items_ran(plain, &none), ["caller"]);
        // A scope is the calling thread's.
        let elsewhere = cfg("async:4").scoped(|| std::thread::spawn(|| RunConfig::current().map_executor()).join().unwrap());
        assert_eq!(elsewhere, None);
    }
);

engine_test!(
    fn a_nested_pipeline_inherits_from_its_parent_unless_it_sets_its_own(engine) {
        let _serial = serial();
        let none = RunOptions::new();
        let engine = &engine;
        let plain = |n: Node| on(engine, [n]);
        let with = |e: &'static str| move |n: Node| on(engine, [n]).with_config(cfg(e));
        // The parent call's and the parent pipeline's executors reach the nested map.
        assert_eq!(where_nested_items_ran(bare, plain, &none), ["caller"]);
        assert_eq!(where_nested_items_ran(bare, plain, &map_on("threaded:4")), ["threaded"]);
        assert_eq!(where_nested_items_ran(bare, with("parallel:2"), &none), ["parallel"]);
        // The nested pipeline's own setting wins over its parent's, call or pipeline.
        let own = |e: &'static str| move |n: Node| bare(n).with_config(cfg(e));
        assert_eq!(where_nested_items_ran(own("async:4"), plain, &map_on("threaded:4")), ["async"]);
        assert_eq!(where_nested_items_ran(own("parallel:2"), with("threaded:4"), &none), ["parallel"]);
        assert_eq!(where_nested_items_ran(own("sequential"), plain, &map_on("threaded:4")), ["caller"]);
        // The parent wins over a scope; a scope reaches the nested map through its parent.
        assert_eq!(cfg("async:4").scoped(|| where_nested_items_ran(bare, with("threaded:4"), &none)), ["threaded"]);
        assert_eq!(cfg("parallel:2").scoped(|| where_nested_items_ran(bare, plain, &none)), ["parallel"]);
        assert_eq!(cfg("parallel:2").scoped(|| where_nested_items_ran(own("async:4"), plain, &none)), ["async"]);
    }
);

engine_test!(
    fn retries_follow_the_same_precedence(engine) {
        // The call's retries over the pipeline's.
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let p = on(&engine, [counted(Node::builder("flaky_item"), 2, &calls)]).with_config(RunConfig::new().with_retry(Retry::new(3, ms(1))));
        let opts = RunOptions::new().with_config(RunConfig::new().with_retry(Retry::new(1, ms(1))));
        let err = p.run_with(&Inputs::new().with("x", 1_i64), &opts).unwrap_err();
        assert_eq!(err.to_string(), "Node 'flaky_item' failed: call 2 of 1 failed (gave up after 2 attempts)");
        assert_eq!(p.run(&Inputs::new().with("x", 2_i64))?.get::<i64>("y")?, 20);
        assert_eq!(calls.lock().unwrap().clone(), BTreeMap::from([(1, 2), (2, 3)]));
        // A nested pipeline's own retries over its parent call's.
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let inner = Pipeline::new([counted(Node::builder("flaky_item"), 2, &calls)])
            .with_config(RunConfig::new().with_retry(Retry::new(2, ms(1))))
            .as_node("inner")
            .build()?;
        let out = on(&engine, [inner]).run_with(&Inputs::new().with("x", 3_i64), &opts)?;
        assert_eq!((out.get::<i64>("y")?, calls.lock().unwrap()[&3]), (30, 3));
        // And the parent's when it sets none.
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let inner = Pipeline::new([counted(Node::builder("flaky_item"), 2, &calls)]).as_node("inner").build()?;
        let err = on(&engine, [inner]).run_with(&Inputs::new().with("x", 4_i64), &opts).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'inner' failed: Node 'flaky_item' failed: call 2 of 4 failed (gave up after 2 attempts)"
        );
    }
);

/// Restores the process default when dropped.
struct RestoreDefault;

impl Drop for RestoreDefault {
    fn drop(&mut self) {
        RunConfig::set_default(RunConfig::new());
    }
}

engine_test!(
    fn the_process_default_is_the_last_level(engine) {
        let _serial = serial();
        let none = RunOptions::new();
        let engine = &engine;
        let plain = |n: Node| on(engine, [n]);
        let with = |e: &'static str| move |n: Node| on(engine, [n]).with_config(cfg(e));
        {
            RunConfig::set_default(cfg("threaded:3"));
            let _restore = RestoreDefault;
            assert_eq!(RunConfig::current().map_executor(), Some(Executor::Threaded(3)));
            // Every thread's.
            let elsewhere = std::thread::spawn(|| RunConfig::current().map_executor()).join().unwrap();
            assert_eq!(elsewhere, Some(Executor::Threaded(3)));
            assert_eq!(where_items_ran(plain, &none), ["threaded"]);
            assert_eq!(where_nested_items_ran(bare, plain, &none), ["threaded"]);
            // Under every other level.
            assert_eq!(cfg("async:4").scoped(|| where_items_ran(plain, &none)), ["async"]);
            assert_eq!(where_items_ran(with("parallel:2"), &none), ["parallel"]);
            assert_eq!(where_items_ran(plain, &map_on("sequential")), ["caller"]);
            assert_eq!(where_nested_items_ran(bare, with("parallel:2"), &none), ["parallel"]);
        }
        assert_eq!(RunConfig::current().map_executor(), None);
        assert_eq!(where_items_ran(plain, &none), ["caller"]);
    }
);

/// An engine recording, for pipelines named `probe...`, that it ran them.
#[derive(Debug)]
struct Recorder {
    label: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
    inner: NodeEngine,
}

impl Recorder {
    fn record(&self, plan: &RunPlan) {
        if plan.pipeline().name().is_some_and(|n| n.starts_with("probe")) {
            self.log.lock().unwrap().push(self.label);
        }
    }
}

impl Engine for Recorder {
    fn name(&self) -> &str {
        "node"
    }

    fn map_executor(&self) -> Option<Executor> {
        self.inner.map_executor()
    }

    fn run(&self, plan: &RunPlan) -> hypernodes::Result<Outputs> {
        self.record(plan);
        self.inner.run(plan)
    }

    fn map(&self, plan: &MapPlan) -> hypernodes::Result<MapOutputs> {
        self.record(plan.run_plan());
        self.inner.map(plan)
    }
}

#[test]
fn engines_follow_the_same_precedence() {
    let _serial = serial();
    let log = Arc::new(Mutex::new(Vec::new()));
    let rec = |label: &'static str| -> Arc<dyn Engine> {
        Arc::new(Recorder {
            label,
            log: log.clone(),
            inner: NodeEngine::new(),
        })
    };
    let taken = || std::mem::take(&mut *log.lock().unwrap());
    let p = Pipeline::new(w1()).with_name("probe");
    let one = Inputs::new().with("x", 1_i64);
    let check =
        |p: &Pipeline, opts: &RunOptions| assert_eq!(p.run_with(&one, opts).unwrap().get::<i64>("squared").unwrap(), 9);
    let none = RunOptions::new();
    check(&p, &none);
    assert_eq!(taken(), [] as [&str; 0]);
    let scoped = |f: &dyn Fn()| RunConfig::new().with_shared_engine(rec("scoped")).scoped(f);
    scoped(&|| check(&p, &none));
    assert_eq!(taken(), ["scoped"]);
    let on_pipeline = p.with_shared_engine(rec("pipeline"));
    scoped(&|| check(&on_pipeline, &none));
    assert_eq!(taken(), ["pipeline"]);
    scoped(&|| check(&on_pipeline, &RunOptions::new().with_shared_engine(rec("call"))));
    assert_eq!(taken(), ["call"]);
    scoped(&|| {
        check(
            &on_pipeline,
            &RunOptions::new().with_config(RunConfig::new().with_shared_engine(rec("call"))),
        )
    });
    assert_eq!(taken(), ["call"]);
    {
        RunConfig::set_default(RunConfig::new().with_shared_engine(rec("default")));
        let _restore = RestoreDefault;
        check(&p, &none);
        assert_eq!(taken(), ["default"]);
        scoped(&|| check(&p, &none));
        assert_eq!(taken(), ["scoped"]);
        check(&on_pipeline, &none);
        assert_eq!(taken(), ["pipeline"]);
    }
    check(&p, &none);
    assert_eq!(taken(), [] as [&str; 0]);
    // A nested pipeline runs on its parent's engine, unless it has one of its own.
    let inner = |engine: Option<Arc<dyn Engine>>| {
        let inner = Pipeline::new(w1()).with_name("probe-inner");
        let inner = match engine {
            Some(e) => inner.with_shared_engine(e),
            None => inner,
        };
        Pipeline::new([inner.as_node("inner").build().unwrap()]).with_name("probe-outer")
    };
    check(&inner(None).with_shared_engine(rec("outer")), &none);
    assert_eq!(taken(), ["outer", "outer"]);
    check(&inner(Some(rec("inner"))).with_shared_engine(rec("outer")), &none);
    assert_eq!(taken(), ["outer", "inner"]);
    scoped(&|| check(&inner(Some(rec("inner"))), &none));
    assert_eq!(taken(), ["scoped", "inner"]);
}

#[test]
fn engine_executors_count_at_the_level_of_the_engine() {
    let _serial = serial();
    let engine = |e: &str| NodeEngine::new().try_with_map_executor(e).unwrap();
    let none = RunOptions::new();
    let on_engine = |e: &'static str| move |n: Node| bare(n).with_engine(engine(e));
    let with = |e: &'static str| move |n: Node| bare(n).with_config(cfg(e));
    // The pipeline's engine brings its executor to the pipeline's level.
    assert_eq!(where_items_ran(on_engine("parallel:2"), &none), ["parallel"]);
    assert_eq!(
        where_items_ran(on_engine("parallel:2"), &map_on("threaded:4")),
        ["threaded"]
    );
    // An engine given at the call brings its executor to the call's level.
    assert_eq!(
        where_items_ran(with("threaded:4"), &RunOptions::new().with_engine(engine("parallel:2"))),
        ["parallel"]
    );
    // At one level, an executor set there wins over the engine's, in either order.
    let both = RunConfig::new()
        .with_engine(engine("parallel:2"))
        .with_map_executor(Executor::Threaded(4));
    assert_eq!(both.map_executor(), Some(Executor::Threaded(4)));
    assert_eq!(
        where_items_ran(bare, &RunOptions::new().with_config(both)),
        ["threaded"]
    );
    let both = RunConfig::new()
        .with_map_executor(Executor::Threaded(4))
        .with_engine(engine("parallel:2"));
    assert_eq!(
        where_items_ran(bare, &RunOptions::new().with_config(both)),
        ["threaded"]
    );
    let opts = RunOptions::new()
        .with_engine(engine("parallel:2"))
        .with_config(cfg("threaded:4"));
    assert_eq!(where_items_ran(bare, &opts), ["threaded"]);
    let opts = RunOptions::new()
        .with_config(cfg("threaded:4"))
        .with_engine(engine("parallel:2"));
    assert_eq!(where_items_ran(bare, &opts), ["threaded"]);
    // An engine given at the call that brings no executor leaves the pipeline's level
    // (here, the pipeline's engine's) executor in place.
    assert_eq!(
        where_items_ran(
            on_engine("parallel:2"),
            &RunOptions::new().with_engine(NodeEngine::new())
        ),
        ["parallel"]
    );
    assert_eq!(
        where_items_ran(
            on_engine("parallel:2"),
            &RunOptions::new().with_engine(engine("sequential"))
        ),
        ["caller"]
    );
    // A scoped engine, under the pipeline.
    let scoped = RunConfig::new().with_engine(engine("threaded:4"));
    assert_eq!(scoped.map_executor(), Some(Executor::Threaded(4)));
    assert_eq!(scoped.clone().scoped(|| where_items_ran(bare, &none)), ["threaded"]);
    assert_eq!(
        scoped.scoped(|| where_items_ran(with("parallel:2"), &none)),
        ["parallel"]
    );
    // A nested pipeline's engine, over its parent's call; the parent's engine reaches it.
    assert_eq!(
        where_nested_items_ran(on_engine("async:4"), bare, &map_on("threaded:4")),
        ["async"]
    );
    assert_eq!(
        where_nested_items_ran(bare, on_engine("parallel:2"), &none),
        ["parallel"]
    );
    assert_eq!(
        where_nested_items_ran(with("threaded:4"), on_engine("parallel:2"), &none),
        ["threaded"]
    );
    // The engine's node executor runs the arms of a diamond at the same time.
    for exec in CONCURRENT {
        let p = Pipeline::new(diamond(true)).with_engine(NodeEngine::new().try_with_node_executor(exec).unwrap());
        assert_eq!(
            p.run(&Inputs::new().with("x", 4_i64))
                .unwrap()
                .get::<i64>("sum")
                .unwrap(),
            25,
            "{exec}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// From async code.

fn engines() -> Vec<Arc<dyn Engine>> {
    vec![Arc::new(NodeEngine::new()), Arc::new(hypernodes::ColumnarEngine::new())]
}

#[tokio::test]
async fn run_async_and_map_async_from_async_code() {
    for engine in engines() {
        let name = engine.name().to_string();
        let p = on(&engine, w1_mixed());
        let out = p
            .run_async(Inputs::new().with("x", 7_i64), RunOptions::new())
            .await
            .unwrap();
        assert_eq!(out.get::<String>("tag").unwrap(), "7:225", "{name}");
        assert_eq!(out.get::<i64>("negated").unwrap(), -15, "{name}");
        for exec in EXECUTORS {
            let opts = RunOptions::new().with_config(
                RunConfig::new()
                    .try_with_map_executor(exec)
                    .unwrap()
                    .try_with_node_executor(exec)
                    .unwrap(),
            );
            let out = p.map_async(xs(1..=6), &["x"], "zip", opts.clone()).await.unwrap();
            assert_eq!(
                out.column::<i64>("negated").unwrap(),
                [-3, -5, -7, -9, -11, -13],
                "{name} {exec}"
            );
            let out = p.run_async(Inputs::new().with("x", 2_i64), opts).await.unwrap();
            assert_eq!(out.get::<String>("tag").unwrap(), "2:25", "{name} {exec}");
            let err = on(&engine, [check_async::node()])
                .map_async(xs(0..20), &["x"], "zip", map_on(exec))
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "Node 'check_async' failed on item 3: item 3 is bad",
                "{name} {exec}"
            );
        }
        let err = p.run_async(Inputs::new(), RunOptions::new()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Missing required input(s): ['x']. Required inputs: ['x']",
            "{name}"
        );
        let err = p
            .map_async(xs([1]), &["x"], "zipp", RunOptions::new())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown map mode 'zipp'. Valid modes: zip, product",
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_run_side_by_side_and_resolve_their_configuration_when_called() {
    for engine in engines() {
        let name = engine.name().to_string();
        // Two maps at once on the caller's runtime.
        let p = on(&engine, w1_mixed());
        let (a, b) = tokio::join!(
            p.map_async(xs(0..10), &["x"], "zip", map_on("async:16")),
            p.map_async(xs(10..20), &["x"], "zip", map_on("parallel:2")),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.column::<i64>("doubled").unwrap(),
            (0..10).map(|x| 2 * x).collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(
            b.column::<i64>("doubled").unwrap(),
            (10..20).map(|x| 2 * x).collect::<Vec<_>>(),
            "{name}"
        );
        let spawned = tokio::spawn({
            let p = p.clone();
            async move { p.map_async(xs(0..4), &["x"], "zip", map_on("threaded:8")).await }
        });
        assert_eq!(
            spawned.await.unwrap().unwrap().column::<i64>("squared").unwrap(),
            [1, 9, 25, 49],
            "{name}"
        );
        // A scope around the call applies, though the future is awaited after it ends.
        let tracker = Tracker::new();
        let p = on(&engine, [tracked(&tracker, false)]);
        let fut = cfg("threaded:4").scoped(|| p.map_async(xs(0..4), &["x"], "zip", RunOptions::new()));
        assert_eq!(
            fut.await.unwrap().column::<i64>("y").unwrap(),
            [0, 10, 20, 30],
            "{name}"
        );
        assert_eq!(tracker.kinds(), ["threaded"], "{name}");
        let tracker = Tracker::new();
        let inner = Pipeline::new([tracked(&tracker, false)])
            .as_node("inner")
            .with_input_mapping([("xs", "x")])
            .with_output_mapping([("y", "ys")])
            .with_map_over(["xs"])
            .build()
            .unwrap();
        let p = on(&engine, [inner]);
        let fut = cfg("parallel:2").scoped(|| p.run_async(Inputs::new().with("xs", vec![1_i64, 2]), RunOptions::new()));
        assert_eq!(fut.await.unwrap().get::<Vec<i64>>("ys").unwrap(), [10, 20], "{name}");
        assert_eq!(tracker.kinds(), ["parallel"], "{name}");
    }
}

/// Blocking calls on every executor, nested maps included, from wherever this runs.
fn blocking_calls_work_here() {
    for engine in engines() {
        let name = engine.name().to_string();
        let p = on(&engine, w1_mixed());
        assert_eq!(
            p.run(&Inputs::new().with("x", 7_i64))
                .unwrap()
                .get::<String>("tag")
                .unwrap(),
            "7:225",
            "{name}"
        );
        for exec in EXECUTORS {
            let opts = RunOptions::new().with_config(
                RunConfig::new()
                    .try_with_map_executor(exec)
                    .unwrap()
                    .try_with_node_executor(exec)
                    .unwrap(),
            );
            let out = p.map_with(&xs(1..=6), &["x"], "zip", &opts).unwrap();
            assert_eq!(
                out.column::<i64>("negated").unwrap(),
                [-3, -5, -7, -9, -11, -13],
                "{name} {exec}"
            );
            let out = on(&engine, diamond(false))
                .run_with(&Inputs::new().with("x", 4_i64), &opts)
                .unwrap();
            assert_eq!(out.get::<i64>("sum").unwrap(), 25, "{name} {exec}");
            let tracker = Tracker::new();
            let xsss = vec![vec![vec![1_i64, 2], vec![3]], vec![vec![4]]];
            let out = three_levels(&engine, &tracker)
                .map_with(&Inputs::new().with("xss", xsss), &["xss"], "zip", &opts)
                .unwrap();
            assert_eq!(
                out.column::<Vec<Vec<i64>>>("yss").unwrap(),
                [vec![vec![10, 20], vec![30]], vec![vec![40]]],
                "{name} {exec}"
            );
            let err = on(&engine, [check_async::node()])
                .map_with(&xs(0..20), &["x"], "zip", &opts)
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "Node 'check_async' failed on item 3: item 3 is bad",
                "{name} {exec}"
            );
        }
    }
}

#[tokio::test]
async fn blocking_calls_work_inside_a_current_thread_runtime() {
    blocking_calls_work_here();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_calls_work_inside_a_multi_thread_runtime() {
    blocking_calls_work_here();
}

#[test]
fn blocking_calls_work_inside_a_runtime_entered_without_async() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    blocking_calls_work_here();
}

engine_test!(
    fn the_failure_policy_applies_only_to_the_map_it_is_given_to(engine) {
        let tokens = || {
            Node::builder("tokens")
                .params(["sentence"])
                .output("n")
                .try_build(|s: String| if s == "boom" { Err(format!("no {s}")) } else { Ok(s.len()) })
                .unwrap()
        };
        let collect = RunConfig::new().with_on_error(OnError::Collect);
        let sentences = xs([]).with("sentence", strings(&["ab", "boom", "c"]));
        // Set on the pipeline, or in a scope: the pipeline's own map collects.
        let out = on(&engine, [tokens()]).with_config(collect.clone()).map(&sentences, &["sentence"], "zip")?;
        assert_eq!((out.item_indices(), out.column::<usize>("n")?), (vec![0, 2], &[2_usize, 1][..]));
        let out = collect.clone().scoped(|| on(&engine, [tokens()]).map(&sentences, &["sentence"], "zip"))?;
        assert_eq!((out.item_indices(), out.column::<usize>("n")?), (vec![0, 2], &[2_usize, 1][..]));
        // A nested pipeline's map always fails on its first failing item, even when its
        // own configuration, a scope or its parent's says collect: the outer item fails.
        let docs = Inputs::new().with("sentences", vec![strings(&["ab"]), strings(&["c", "boom"])]);
        let nested = |config: RunConfig| {
            Pipeline::new([tokens()])
                .with_config(config)
                .as_node("per_doc")
                .with_input_mapping([("sentences", "sentence")])
                .with_output_mapping([("n", "counts")])
                .with_map_over(["sentences"])
                .build()
                .unwrap()
        };
        let message = "Node 'per_doc' failed on item 1: Node 'tokens' failed on item 1: no boom";
        for inner in [RunConfig::new(), collect.clone()] {
            let p = on(&engine, [nested(inner.clone())]);
            let err = p.map(&docs, &["sentences"], "zip").unwrap_err();
            assert_eq!(err.to_string(), message);
            let err = collect.clone().scoped(|| p.run(&Inputs::new().with("sentences", strings(&["c", "boom"])))).unwrap_err();
            assert_eq!(err.to_string(), "Node 'per_doc' failed: Node 'tokens' failed on item 1: no boom");
            let out = p.map_with(&docs, &["sentences"], "zip", &collect_on("sequential"))?;
            assert_eq!(out.item_indices(), [0]);
            assert_eq!(out.column::<Vec<usize>>("counts")?, [vec![2]]);
            assert_eq!(failures(&out), [(1, "per_doc".to_string(), message.to_string())]);
        }
    }
);

/// Calls so far of `always_late`, by key.
static LATE_CALLS: Mutex<BTreeMap<i64, usize>> = Mutex::new(BTreeMap::new());

#[node(output = "late", retries = 1, backoff = "1ms", timeout = "20ms")]
async fn always_late(key: i64) -> i64 {
    *LATE_CALLS.lock().unwrap().entry(key).or_default() += 1;
    tokio::time::sleep(ms(200)).await;
    WOKE.lock().unwrap().insert(key);
    key
}

engine_test!(
    fn an_async_node_timing_out_is_retried_then_times_out(engine) {
        let p = on(&engine, [always_late::node()]);
        let mut keys = Vec::new();
        for exec in EXECUTORS {
            let batch: Vec<i64> = (0..2).map(|i| fresh() + i).collect();
            keys.extend(&batch);
            let err = p
                .map_with(&Inputs::new().with("key", batch.clone()), &["key"], "zip", &map_on(exec))
                .unwrap_err();
            assert_eq!(err.to_string(), "Node 'always_late' timed out on item 0 after 20ms", "{exec}");
            assert_eq!(LATE_CALLS.lock().unwrap()[&batch[0]], 2, "{exec}");
        }
        std::thread::sleep(ms(250));
        let woke = WOKE.lock().unwrap();
        assert_eq!(keys.iter().filter(|k| woke.contains(k)).count(), 0);
    }
);
