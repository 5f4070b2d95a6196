//! Control of a running map: results streamed as items (node engine) or batches
//! (columnar engine) finish, handles that stop and wait, and file runs stopped before
//! they write.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hypernodes::handle::{Order, Progress};
use hypernodes::prelude::*;
use hypernodes::{ColumnarEngine, Engine, MapOutputs};

use crate::common::*;

/// Long enough for any item of these tests, short enough to fail instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// `engine`, cutting a streamed map into pieces of one item, `width` at once: the
/// columnar engine with batches of one row and `width` partitions (the node engine takes
/// its width from the map executor).
fn one_item_pieces(engine: &Arc<dyn Engine>, width: usize) -> Arc<dyn Engine> {
    match engine.name() {
        "columnar" => Arc::new(ColumnarEngine::new().with_batch_size(1).with_partitions(width)),
        _ => engine.clone(),
    }
}

fn options(config: RunConfig) -> RunOptions {
    RunOptions::new().with_config(config)
}

/// A node `y = 10 * x` that, on item `x == at`, says it started on `started` and then
/// waits for a word on `go` (failing when none comes in time).
fn waits_at(at: i64, started: Sender<i64>, go: Receiver<()>) -> Node {
    let started = Mutex::new(started);
    let go = Mutex::new(go);
    Node::builder("times_ten")
        .params(["x"])
        .output("y")
        .try_build(move |x: i64| -> Result<i64, String> {
            if x == at {
                let _ = started.lock().unwrap().send(x);
                go.lock()
                    .unwrap()
                    .recv_timeout(PATIENCE)
                    .map_err(|_| format!("item {x} was not let go"))?;
            }
            Ok(10 * x)
        })
        .unwrap()
}

fn xs(n: i64) -> Inputs {
    Inputs::new().with("x", (0..n).collect::<Vec<i64>>())
}

engine_test!(
    fn map_iter_gives_the_first_item_before_the_last_is_computed(engine) {
        // The last item waits for the test to have taken the first: a map that computed
        // every item before handing out the first would fail it.
        let (started, _) = channel();
        let (go, wait) = channel();
        let p = Pipeline::new([waits_at(3, started, wait)]).with_shared_engine(one_item_pieces(&engine, 1));
        let mut items = p.map_iter(&xs(4), &["x"], "zip", &RunOptions::new())?;
        let first = items.next().unwrap()?;
        assert_eq!((first.index(), first.get::<i64>("y")?), (0, 0));
        go.send(()).unwrap();
        assert_eq!(ys_of(items, "y"), [(1, 10), (2, 20), (3, 30)]);
    }
);

engine_test!(
    fn map_iter_as_completed_gives_a_later_item_first(engine) {
        // Two at once: item 0 waits until the test took an item, so item 1 finishes first.
        let (started, _) = channel();
        let (go, wait) = channel();
        let p = Pipeline::new([waits_at(0, started, wait)]).with_shared_engine(one_item_pieces(&engine, 2));
        let config = RunConfig::new().with_map_executor(Executor::Threaded(2));
        let mut items = p
            .map_iter(&xs(4), &["x"], "zip", &options(config))?
            .with_order(Order::Completed);
        let first = items.next().unwrap()?;
        assert_eq!((first.index(), first.get::<i64>("y")?), (1, 10));
        go.send(()).unwrap();
        let mut rest = ys_of(items, "y");
        rest.sort();
        assert_eq!(rest, [(0, 0), (2, 20), (3, 30)]);
    }
);

#[node(output = "half")]
fn halve(x: i64) -> Result<i64, String> {
    if x % 2 == 0 {
        Ok(x / 2)
    } else {
        Err(format!("{x} is odd"))
    }
}

/// Each item as `index: half` or `index: error`.
fn described(items: impl IntoIterator<Item = hypernodes::handle::Streamed>) -> Vec<String> {
    items
        .into_iter()
        .map(|item| match item {
            Ok(done) => format!("{}: {}", done.index(), done.get::<i64>("half").unwrap()),
            Err(failed) => format!("{}: {} ({})", failed.item(), failed.error(), failed.node()),
        })
        .collect()
}

/// The columnar engine in batches of two rows (pieces of two items).
fn in_twos(engine: &Arc<dyn Engine>) -> Arc<dyn Engine> {
    match engine.name() {
        "columnar" => Arc::new(ColumnarEngine::new().with_batch_size(2).with_partitions(1)),
        _ => engine.clone(),
    }
}

engine_test!(
    fn map_iter_collects_failures_as_items(engine) {
        let p = Pipeline::new([halve::node()]).with_shared_engine(in_twos(&engine));
        let inputs = Inputs::new().with("x", vec![2_i64, 3, 4, 5, 6]);
        let collect = options(RunConfig::new().with_on_error(OnError::Collect));
        let items = p.map_iter(&inputs, &["x"], "zip", &collect)?;
        assert_eq!(
            described(items),
            [
                "0: 1",
                "1: Node 'halve' failed on item 1: 3 is odd (halve)",
                "2: 2",
                "3: Node 'halve' failed on item 3: 5 is odd (halve)",
                "4: 3",
            ]
        );
        // Under `Fail`, the first failure is the last item.
        let items = p.map_iter(&Inputs::new().with("x", vec![2_i64, 4, 5, 6, 7]), &["x"], "zip", &RunOptions::new())?;
        assert_eq!(described(items), ["0: 1", "1: 2", "2: Node 'halve' failed on item 2: 5 is odd (halve)"]);
        // `?` gives the item's error.
        let mut items = p.map_iter(&Inputs::new().with("x", vec![3_i64]), &["x"], "zip", &RunOptions::new())?;
        let err = (|| -> hypernodes::Result<()> { items.next().unwrap()?; Ok(()) })().unwrap_err();
        assert_eq!(err.to_string(), "Node 'halve' failed on item 0: 3 is odd");
    }
);

engine_test!(
    fn map_iter_async_streams_the_same_items(engine) {
        use futures::StreamExt;
        let p = Pipeline::new([halve::node()]).with_shared_engine(in_twos(&engine));
        let inputs = Inputs::new().with("x", vec![2_i64, 3, 4]);
        let collect = RunOptions::new().with_config(RunConfig::new().with_on_error(OnError::Collect));
        let stream = p.map_iter_async(inputs, &["x"], "zip", collect)?;
        let items: Vec<_> = futures::executor::block_on(stream.collect());
        assert_eq!(described(items), ["0: 1", "1: Node 'halve' failed on item 1: 3 is odd (halve)", "2: 2"]);
    }
);

engine_test!(
    fn dropping_map_iter_starts_no_new_item(engine) {
        // One item runs at a time, at most two ahead of those taken: item 2 starts and
        // waits, and the iterator is dropped meanwhile, so no item after it starts.
        let (started, on_start) = channel();
        let (go, wait) = channel();
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let count = Node::builder("count")
            .params(["y"])
            .output("z")
            .build(move |y: i64| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                y
            })?;
        let p = Pipeline::new([waits_at(2, started, wait), count]).with_shared_engine(one_item_pieces(&engine, 1));
        let mut items = p.map_iter(&xs(50), &["x"], "zip", &RunOptions::new())?;
        assert_eq!([items.next().unwrap()?.index(), items.next().unwrap()?.index()], [0, 1]);
        assert_eq!(on_start.recv_timeout(PATIENCE), Ok(2));
        drop(items);
        go.send(()).unwrap();
        // Item 2 finishes (its second node runs) and nothing else starts.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
);

engine_test!(
    fn stop_says_which_items_never_started(engine) {
        let (started, on_start) = channel();
        let (go, wait) = channel();
        let p = Pipeline::new([waits_at(2, started, wait)]).with_shared_engine(one_item_pieces(&engine, 1));
        let handle = p.start_map(&xs(6), &["x"], "zip", &RunOptions::new())?;
        assert_eq!(on_start.recv_timeout(PATIENCE), Ok(2));
        assert_eq!(
            handle.progress(),
            Progress {
                done: 2,
                failed: 0,
                total: 6,
                finished: false
            }
        );
        handle.stop();
        go.send(()).unwrap();
        let out = handle.wait()?;
        assert_eq!(out.column::<i64>("y")?, [0, 10, 20]);
        assert_eq!(out.not_started(), [3, 4, 5]);
        assert_eq!(out.item_indices(), [0, 1, 2]);
        assert_eq!(out.len(), 3);
    }
);

engine_test!(
    fn stop_under_collect_keeps_the_failures_of_the_items_that_ran(engine) {
        let (started, on_start) = channel();
        let (go, wait) = channel();
        let gate = waits_at(4, started, wait);
        let halved = Node::builder("halve")
            .params(["y"])
            .output("half")
            .try_build(|y: i64| if y % 20 == 0 { Ok(y / 20) } else { Err(format!("{y} is odd")) })?;
        let p = Pipeline::new([gate, halved]).with_shared_engine(one_item_pieces(&engine, 1));
        let collect = options(RunConfig::new().with_on_error(OnError::Collect));
        let handle = p.start_map(&xs(7), &["x"], "zip", &collect)?;
        assert_eq!(on_start.recv_timeout(PATIENCE), Ok(4));
        handle.stop();
        go.send(()).unwrap();
        let out = handle.wait()?;
        assert_eq!(out.column::<i64>("half")?, [0, 1, 2]);
        let failed: Vec<String> = out.failures().iter().map(|f| f.error().to_string()).collect();
        assert_eq!(
            failed,
            [
                "Node 'halve' failed on item 1: 10 is odd",
                "Node 'halve' failed on item 3: 30 is odd"
            ]
        );
        assert_eq!(out.not_started(), [5, 6]);
        assert_eq!(out.item_indices(), [0, 2, 4]);
    }
);

engine_test!(
    fn start_map_waits_for_what_map_returns(engine) {
        // Default pieces (the columnar engine's one batch), and batches of two over a
        // product, whose windows read their elements through an index.
        let p = on(&engine, w1());
        let inputs = Inputs::new().with("x", vec![1_i64, 2, 3, 4, 5]);
        let map = p.map(&inputs, &["x"], "zip")?;
        let waited = p.start_map(&inputs, &["x"], "zip", &RunOptions::new())?.wait()?;
        for name in ["doubled", "incremented", "squared"] {
            assert_eq!(waited.column::<i64>(name)?, map.column::<i64>(name)?);
        }
        assert_eq!(waited.column::<i64>("squared")?, [9, 25, 49, 81, 121]);
        assert!(waited.not_started().is_empty());

        #[node(output = "label")]
        fn label(letter: &str, n: i64) -> String {
            format!("{letter}{n}")
        }
        let p = Pipeline::new([label::node()]).with_shared_engine(in_twos(&engine));
        let inputs = Inputs::new()
            .with("letter", vec!["a".to_string(), "b".to_string()])
            .with("n", vec![1_i64, 2, 3]);
        let map = p.map(&inputs, &["letter", "n"], MapMode::Product)?;
        let waited = p.start_map(&inputs, &["letter", "n"], MapMode::Product, &RunOptions::new())?.wait()?;
        assert_eq!(waited.column::<String>("label")?, map.column::<String>("label")?);
        assert_eq!(waited.column::<String>("label")?, ["a1", "a2", "a3", "b1", "b2", "b3"]);

        // Failures: `Fail` gives the smallest failing item's error, `Collect` the same
        // failures as `map`.
        let p = Pipeline::new([halve::node()]).with_shared_engine(in_twos(&engine));
        let inputs = Inputs::new().with("x", vec![2_i64, 3, 4, 5]);
        let err = p.start_map(&inputs, &["x"], "zip", &RunOptions::new())?.wait().unwrap_err();
        assert_eq!(err.to_string(), "Node 'halve' failed on item 1: 3 is odd");
        let collect = options(RunConfig::new().with_on_error(OnError::Collect));
        let map = p.map_with(&inputs, &["x"], "zip", &collect)?;
        let waited = p.start_map(&inputs, &["x"], "zip", &collect)?.wait()?;
        assert_eq!(waited.column::<i64>("half")?, map.column::<i64>("half")?);
        assert_eq!(waited.item_indices(), map.item_indices());
        let messages = |out: &MapOutputs| out.failures().iter().map(|f| f.error().to_string()).collect::<Vec<_>>();
        assert_eq!(messages(&waited), messages(&map));
        assert_eq!(waited.item_indices(), [0, 2]);
    }
);

engine_test!(
    fn start_map_reports_one_map_to_callbacks(engine) {
        #[derive(Default)]
        struct Seen(Mutex<Vec<String>>);
        impl hypernodes::events::Callback for Seen {
            fn on_pipeline_start(&self, _: &hypernodes::events::Context) {
                self.0.lock().unwrap().push("pipeline start".into());
            }
            fn on_map_start(&self, _: &hypernodes::events::Context, items: usize) {
                self.0.lock().unwrap().push(format!("map start {items}"));
            }
            fn on_map_item_end(&self, _: &hypernodes::events::Context, items: std::ops::Range<usize>, _: Duration) {
                self.0.lock().unwrap().push(format!("items {items:?}"));
            }
            fn on_map_end(&self, _: &hypernodes::events::Context, _: &hypernodes::events::End<'_>) {
                self.0.lock().unwrap().push("map end".into());
            }
            fn on_pipeline_end(&self, _: &hypernodes::events::Context, _: &hypernodes::events::End<'_>) {
                self.0.lock().unwrap().push("pipeline end".into());
            }
        }
        let seen = Arc::new(Seen::default());
        let p = Pipeline::new(w1()).with_shared_engine(in_twos(&engine));
        let config = RunConfig::new().with_callback(seen.clone());
        p.start_map(&xs(5), &["x"], "zip", &options(config))?.wait()?;
        let pieces: &[&str] = match engine.name() {
            "columnar" => &["items 0..2", "items 2..4", "items 4..5"],
            _ => &["items 0..1", "items 1..2", "items 2..3", "items 3..4", "items 4..5"],
        };
        let mut expected = vec!["pipeline start", "map start 5"];
        expected.extend(pieces);
        expected.extend(["map end", "pipeline end"]);
        assert_eq!(*seen.0.lock().unwrap(), expected);
    }
);

#[test]
fn start_run_runs_in_the_background() -> hypernodes::Result<()> {
    let p = Pipeline::new(w1());
    let handle = p.start_run(&Inputs::new().with("x", 3_i64), &RunOptions::new())?;
    let out = handle.wait()?.expect("not stopped");
    assert_eq!(out.get::<i64>("squared")?, 49);
    let err = p.start_run(&Inputs::new(), &RunOptions::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Missing required input(s): ['x']. Required inputs: ['x']"
    );
    Ok(())
}

#[cfg(feature = "parquet")]
#[test]
fn a_stopped_file_run_keeps_the_earlier_output() -> hypernodes::Result<()> {
    use hypernodes::io::{EngineChoice, FileRun};

    let dir = std::env::temp_dir().join(format!("hn-it-handles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 1000, 7)?;
    for choice in [EngineChoice::Columnar, EngineChoice::Node] {
        let out = dir.join("out.parquet");
        FileRun::new(
            Pipeline::new([count_words_of_passage()]),
            dir.join("docs.parquet"),
            &out,
        )
        .run()?;
        let before = std::fs::read(&out).unwrap();

        // The second run waits on its first row until the test stopped it.
        let (started, on_start) = channel();
        let (go, wait) = channel();
        let started = Mutex::new(started);
        let wait = Mutex::new(wait);
        let slow = Node::builder("word_count")
            .params(["id"])
            .try_build(move |id: i64| -> Result<i64, String> {
                if id == 0 {
                    let _ = started.lock().unwrap().send(());
                    wait.lock().unwrap().recv_timeout(PATIENCE).map_err(|_| "not let go")?;
                }
                Ok(id)
            })?;
        let handle = FileRun::new(Pipeline::new([slow]), dir.join("docs.parquet"), &out)
            .with_engine(choice)
            .with_batch_rows(100)
            .with_partitions(1)
            .start();
        on_start.recv_timeout(PATIENCE).unwrap();
        handle.stop();
        go.send(()).unwrap();
        assert!(handle.wait()?.is_none());
        assert_eq!(std::fs::read(&out).unwrap(), before, "{choice:?}");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["docs.parquet", "out.parquet"], "{choice:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    Ok(())
}

/// `word_count` of each passage, as a closure node.
#[cfg(feature = "parquet")]
fn count_words_of_passage() -> Node {
    Node::builder("word_count")
        .params(["passage"])
        .build(|passage: String| passage.split_whitespace().count() as i64)
        .unwrap()
}

engine_test!(
    fn start_map_with_a_cache_gives_map_s_results_and_hits(engine) {
        // The second map finds every item in the cache: the columns it reads are shared
        // with the cache, and the handle copies them.
        let cache = Cache::memory();
        let p = on(&engine, w1()).with_config(RunConfig::new().with_cache(cache));
        let inputs = Inputs::new().with("x", vec![1_i64, 2, 3]);
        let first = p.start_map(&inputs, &["x"], "zip", &RunOptions::new())?.wait()?;
        let again = p.start_map(&inputs, &["x"], "zip", &RunOptions::new())?.wait()?;
        for out in [&first, &again] {
            assert_eq!(out.column::<i64>("squared")?, [9, 25, 49]);
        }
        let report = again.cache_report().expect("a cache report");
        assert_eq!((report.hits(), report.misses()), (9, 0));
        let streamed = ys_of(p.map_iter(&inputs, &["x"], "zip", &RunOptions::new())?, "squared");
        assert_eq!(streamed, [(0, 9), (1, 25), (2, 49)]);
    }
);

fn ys_of(items: impl IntoIterator<Item = hypernodes::handle::Streamed>, name: &str) -> Vec<(usize, i64)> {
    items
        .into_iter()
        .map(|item| {
            let item = item.unwrap();
            (item.index(), item.get::<i64>(name).unwrap())
        })
        .collect()
}

engine_test!(
    fn a_callback_s_panic_goes_on_where_the_results_go(engine) {
        struct Panics;
        impl hypernodes::events::Callback for Panics {
            fn on_node_end(&self, _: &hypernodes::events::Context, _: &Node, items: std::ops::Range<usize>, _: Duration, _: &hypernodes::events::NodeData<'_>) {
                if items.contains(&1) {
                    panic!("the callback gave up");
                }
            }
        }
        let p = Pipeline::new([double::node()]).with_shared_engine(one_item_pieces(&engine, 1));
        let config = options(RunConfig::new().with_callback(Panics));
        let message = |panic: Box<dyn std::any::Any + Send>| *panic.downcast::<&str>().unwrap();
        let handle = p.start_map(&xs(3), &["x"], "zip", &config)?;
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.wait())).unwrap_err();
        assert_eq!(message(panic), "the callback gave up");
        let items = p.map_iter(&xs(3), &["x"], "zip", &config)?;
        let mut seen = Vec::new();
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for item in items {
                seen.push(item.unwrap().index());
            }
        }))
        .unwrap_err();
        assert_eq!(message(panic), "the callback gave up");
        assert_eq!(seen, [0]);
    }
);
