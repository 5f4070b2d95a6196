//! Callbacks on both engines: the exact order of events for a run, a map, a nested run,
//! a nested map, cached and failing items, the same per item on both engines; events
//! from worker threads; callbacks in the run configuration with its precedence.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use hypernodes::events::{Callback, Context, End, NodeData, Signature};
use hypernodes::prelude::*;
use hypernodes::{Engine, Result};

/// Records every event as one line: `path[items] event args`.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn push(&self, ctx: &Context, text: String) {
        let items: Vec<String> = ctx.items().iter().map(|r| format!("{r:?}")).collect();
        let at = if items.is_empty() {
            String::new()
        } else {
            format!("[{}]", items.join(","))
        };
        self.0
            .lock()
            .unwrap()
            .push(format!("{}{at} d{} {text}", ctx.path_string(), ctx.depth()));
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

fn outcome(end: &End<'_>) -> String {
    match end.error() {
        None => "ok".into(),
        Some(e) => format!("error: {e}"),
    }
}

impl Callback for Recorder {
    fn on_pipeline_start(&self, ctx: &Context) {
        self.push(ctx, "pipeline_start".into());
    }
    fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) {
        self.push(ctx, format!("pipeline_end {}", outcome(end)));
    }
    fn on_nested_start(&self, ctx: &Context) {
        let parent = ctx.parent().map(|p| p.path_string()).unwrap_or_default();
        self.push(ctx, format!("nested_start {} (in {parent})", ctx.pipeline()));
    }
    fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {
        self.push(ctx, format!("nested_end {}", outcome(end)));
    }
    fn on_map_start(&self, ctx: &Context, items: usize) {
        self.push(ctx, format!("map_start {items}"));
    }
    fn on_map_end(&self, ctx: &Context, end: &End<'_>) {
        self.push(ctx, format!("map_end {}", outcome(end)));
    }
    fn on_map_item_start(&self, ctx: &Context, items: Range<usize>) {
        self.push(ctx, format!("item_start {items:?}"));
    }
    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, _elapsed: Duration) {
        self.push(ctx, format!("item_end {items:?}"));
    }
    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
        self.push(ctx, format!("item_cached {items:?}"));
    }
    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, _inputs: &NodeData<'_>) {
        self.push(ctx, format!("node_start {} {items:?}", node.name()));
    }
    fn on_node_end(
        &self,
        ctx: &Context,
        node: &Node,
        items: Range<usize>,
        _elapsed: Duration,
        _outputs: &NodeData<'_>,
    ) {
        self.push(ctx, format!("node_end {} {items:?}", node.name()));
    }
    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, _signature: &Signature<'_>) {
        self.push(ctx, format!("node_cached {} {items:?}", node.name()));
    }
    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &hypernodes::Error) {
        self.push(ctx, format!("node_error {} {item:?}: {error}", node.name()));
    }
}

/// A pipeline on `engine` named `name`, recording into `rec`.
fn watched(engine: &Arc<dyn Engine>, name: &str, nodes: Vec<Node>, rec: &Arc<Recorder>) -> Pipeline {
    on(engine, nodes)
        .with_name(name)
        .with_config(RunConfig::new().with_callback(rec.clone()))
}

/// The events item `i` of the top-level map sees: each event whose range holds `i`,
/// with the range left out, in order (events of nested contexts are left out).
fn per_item(events: &[String], i: usize) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.contains(" d0 "))
        .filter_map(|e| {
            let (head, range) = e.rsplit_once(' ')?;
            let (a, b) = range.split_once("..")?;
            let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
            (a <= i && i < b).then(|| head.to_string())
        })
        .collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

engine_test!(
    fn a_run_reports_each_node_between_its_pipeline_start_and_end(engine) {
        let rec = Arc::new(Recorder::default());
        let p = watched(&engine, "w1", w1(), &rec);
        p.run(&Inputs::new().with("x", 3_i64))?;
        assert_eq!(
            rec.take(),
            lines(
                "w1 d0 pipeline_start
                 w1 d0 node_start double 0..1
                 w1 d0 node_end double 0..1
                 w1 d0 node_start add_one 0..1
                 w1 d0 node_end add_one 0..1
                 w1 d0 node_start square 0..1
                 w1 d0 node_end square 0..1
                 w1 d0 pipeline_end ok"
            )
        );
    }
);

engine_test!(
    fn a_map_reports_its_items_the_node_engine_item_by_item_the_columnar_engine_by_batch(engine) {
        let rec = Arc::new(Recorder::default());
        let p = watched(&engine, "w1", vec![double::node(), add_one::node()], &rec);
        p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
        let events = rec.take();
        let expected = match engine.name() {
            "node" => {
                "w1 d0 pipeline_start
                 w1 d0 map_start 3
                 w1 d0 item_start 0..1
                 w1 d0 node_start double 0..1
                 w1 d0 node_end double 0..1
                 w1 d0 node_start add_one 0..1
                 w1 d0 node_end add_one 0..1
                 w1 d0 item_end 0..1
                 w1 d0 item_start 1..2
                 w1 d0 node_start double 1..2
                 w1 d0 node_end double 1..2
                 w1 d0 node_start add_one 1..2
                 w1 d0 node_end add_one 1..2
                 w1 d0 item_end 1..2
                 w1 d0 item_start 2..3
                 w1 d0 node_start double 2..3
                 w1 d0 node_end double 2..3
                 w1 d0 node_start add_one 2..3
                 w1 d0 node_end add_one 2..3
                 w1 d0 item_end 2..3
                 w1 d0 map_end ok
                 w1 d0 pipeline_end ok"
            }
            _ => {
                "w1 d0 pipeline_start
                 w1 d0 map_start 3
                 w1 d0 item_start 0..3
                 w1 d0 node_start double 0..3
                 w1 d0 node_end double 0..3
                 w1 d0 node_start add_one 0..3
                 w1 d0 node_end add_one 0..3
                 w1 d0 item_end 0..3
                 w1 d0 map_end ok
                 w1 d0 pipeline_end ok"
            }
        };
        assert_eq!(events, lines(expected));
        // What each item sees is the same on both engines.
        for i in 0..3 {
            assert_eq!(
                per_item(&events, i),
                lines(
                    "w1 d0 item_start
                     w1 d0 node_start double
                     w1 d0 node_end double
                     w1 d0 node_start add_one
                     w1 d0 node_end add_one
                     w1 d0 item_end"
                ),
                "item {i}"
            );
        }
    }
);

engine_test!(
    fn cached_nodes_and_items_are_reported_as_cached(engine) {
        let rec = Arc::new(Recorder::default());
        let p = watched(&engine, "w1", vec![double::node(), add_one::node()], &rec);
        let options = RunOptions::new().with_config(RunConfig::new().with_cache(Cache::memory()));
        p.map_with(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip", &options)?;
        rec.take();
        // Item 2 is new: it runs, the others are found.
        p.map_with(&Inputs::new().with("x", vec![1_i64, 2, 5]), &["x"], "zip", &options)?;
        let events = rec.take();
        assert_eq!(
            events,
            lines(
                "w1 d0 pipeline_start
                 w1 d0 map_start 3
                 w1 d0 item_start 0..3
                 w1 d0 node_cached double 0..2
                 w1 d0 node_start double 2..3
                 w1 d0 node_end double 2..3
                 w1 d0 node_cached add_one 0..2
                 w1 d0 node_start add_one 2..3
                 w1 d0 node_end add_one 2..3
                 w1 d0 item_cached 0..2
                 w1 d0 item_end 2..3
                 w1 d0 map_end ok
                 w1 d0 pipeline_end ok"
            )
        );
        assert_eq!(
            per_item(&events, 0),
            lines(
                "w1 d0 item_start
                 w1 d0 node_cached double
                 w1 d0 node_cached add_one
                 w1 d0 item_cached"
            )
        );
        // A run found whole: every node cached, and the item.
        p.run_with(&Inputs::new().with("x", 5_i64), &options)?;
        rec.take();
        p.run_with(&Inputs::new().with("x", 5_i64), &options)?;
        assert_eq!(
            rec.take(),
            lines(
                "w1 d0 pipeline_start
                 w1 d0 node_cached double 0..1
                 w1 d0 node_cached add_one 0..1
                 w1 d0 pipeline_end ok"
            )
        );
    }
);

#[node(output = "checked")]
fn check(x: i64) -> Result<i64, String> {
    if x == 2 {
        Err("two is not allowed".into())
    } else {
        Ok(x)
    }
}

engine_test!(
    fn a_failing_item_reports_its_node_error_and_no_item_end(engine) {
        let rec = Arc::new(Recorder::default());
        let p = watched(&engine, "checks", vec![check::node()], &rec);
        let err = p
            .map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")
            .unwrap_err();
        assert_eq!(err.to_string(), "Node 'check' failed on item 1: two is not allowed");
        let events = rec.take();
        let expected = match engine.name() {
            "node" => {
                "checks d0 pipeline_start
                 checks d0 map_start 3
                 checks d0 item_start 0..1
                 checks d0 node_start check 0..1
                 checks d0 node_end check 0..1
                 checks d0 item_end 0..1
                 checks d0 item_start 1..2
                 checks d0 node_start check 1..2
                 checks d0 node_error check Some(1): Node 'check' failed on item 1: two is not allowed
                 checks d0 map_end error: Node 'check' failed on item 1: two is not allowed
                 checks d0 pipeline_end error: Node 'check' failed on item 1: two is not allowed"
            }
            _ => {
                "checks d0 pipeline_start
                 checks d0 map_start 3
                 checks d0 item_start 0..3
                 checks d0 node_start check 0..3
                 checks d0 node_error check Some(1): Node 'check' failed on item 1: two is not allowed
                 checks d0 map_end error: Node 'check' failed on item 1: two is not allowed
                 checks d0 pipeline_end error: Node 'check' failed on item 1: two is not allowed"
            }
        };
        assert_eq!(events, lines(expected));
        // Under `collect`, the failed item reports its error once; the others end.
        let options = RunOptions::new().with_config(RunConfig::new().with_on_error(OnError::Collect));
        let out = p.map_with(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip", &options)?;
        assert_eq!(out.failures().len(), 1);
        let events = rec.take();
        let errors: Vec<&String> = events.iter().filter(|e| e.contains("node_error")).collect();
        assert_eq!(errors.len(), 1, "{events:#?}");
        assert_eq!(per_item(&events, 0).last().unwrap(), "checks d0 item_end");
        assert_eq!(per_item(&events, 2).last().unwrap(), "checks d0 item_end");
        assert!(!per_item(&events, 1).iter().any(|e| e.contains("item_end")));
        assert_eq!(events.last().unwrap(), "checks d0 pipeline_end ok");
    }
);

#[node(output = "n_words")]
fn n_words(sentence: &str) -> i64 {
    sentence.split_whitespace().count() as i64
}

#[node(output = "total")]
fn total(counts: &[i64]) -> i64 {
    counts.iter().sum()
}

/// `per_sentence` maps the inner pipeline `words` over each row's sentences.
fn nested_map() -> Result<Vec<Node>> {
    let inner = Pipeline::try_new([n_words::node()])?.with_name("words");
    let per = inner
        .as_node("per_sentence")
        .with_input_mapping([("sentences", "sentence")])
        .with_output_mapping([("n_words", "counts")])
        .with_map_over(["sentences"])
        .build()?;
    Ok(vec![per, total::node()])
}

engine_test!(
    fn a_nested_map_reports_one_level_deeper_with_the_outer_items(engine) {
        let rec = Arc::new(Recorder::default());
        let p = watched(&engine, "docs", nested_map()?, &rec);
        let docs = vec![strings(&["a b", "c"]), strings(&["d e f"])];
        let out = p.map(&Inputs::new().with("sentences", docs), &["sentences"], "zip")?;
        assert_eq!(out.column::<i64>("total")?, [3, 3]);
        let events = rec.take();
        let expected = match engine.name() {
            "node" => {
                "docs d0 pipeline_start
                 docs d0 map_start 2
                 docs d0 item_start 0..1
                 docs d0 node_start per_sentence 0..1
                 docs/per_sentence[0..1] d1 nested_start words (in docs)
                 docs/per_sentence[0..1] d1 map_start 2
                 docs/per_sentence[0..1] d1 item_start 0..1
                 docs/per_sentence[0..1] d1 node_start n_words 0..1
                 docs/per_sentence[0..1] d1 node_end n_words 0..1
                 docs/per_sentence[0..1] d1 item_end 0..1
                 docs/per_sentence[0..1] d1 item_start 1..2
                 docs/per_sentence[0..1] d1 node_start n_words 1..2
                 docs/per_sentence[0..1] d1 node_end n_words 1..2
                 docs/per_sentence[0..1] d1 item_end 1..2
                 docs/per_sentence[0..1] d1 map_end ok
                 docs/per_sentence[0..1] d1 nested_end ok
                 docs d0 node_end per_sentence 0..1
                 docs d0 node_start total 0..1
                 docs d0 node_end total 0..1
                 docs d0 item_end 0..1
                 docs d0 item_start 1..2
                 docs d0 node_start per_sentence 1..2
                 docs/per_sentence[1..2] d1 nested_start words (in docs)
                 docs/per_sentence[1..2] d1 map_start 1
                 docs/per_sentence[1..2] d1 item_start 0..1
                 docs/per_sentence[1..2] d1 node_start n_words 0..1
                 docs/per_sentence[1..2] d1 node_end n_words 0..1
                 docs/per_sentence[1..2] d1 item_end 0..1
                 docs/per_sentence[1..2] d1 map_end ok
                 docs/per_sentence[1..2] d1 nested_end ok
                 docs d0 node_end per_sentence 1..2
                 docs d0 node_start total 1..2
                 docs d0 node_end total 1..2
                 docs d0 item_end 1..2
                 docs d0 map_end ok
                 docs d0 pipeline_end ok"
            }
            _ => {
                "docs d0 pipeline_start
                 docs d0 map_start 2
                 docs d0 item_start 0..2
                 docs d0 node_start per_sentence 0..2
                 docs/per_sentence[0..2] d1 nested_start words (in docs)
                 docs/per_sentence[0..2] d1 map_start 3
                 docs/per_sentence[0..2] d1 item_start 0..3
                 docs/per_sentence[0..2] d1 node_start n_words 0..3
                 docs/per_sentence[0..2] d1 node_end n_words 0..3
                 docs/per_sentence[0..2] d1 item_end 0..3
                 docs/per_sentence[0..2] d1 map_end ok
                 docs/per_sentence[0..2] d1 nested_end ok
                 docs d0 node_end per_sentence 0..2
                 docs d0 node_start total 0..2
                 docs d0 node_end total 0..2
                 docs d0 item_end 0..2
                 docs d0 map_end ok
                 docs d0 pipeline_end ok"
            }
        };
        assert_eq!(events, lines(expected));
        for i in 0..2 {
            assert_eq!(
                per_item(&events, i),
                lines(
                    "docs d0 item_start
                     docs d0 node_start per_sentence
                     docs d0 node_end per_sentence
                     docs d0 node_start total
                     docs d0 node_end total
                     docs d0 item_end"
                ),
                "item {i}"
            );
        }
        // The inner items add up to the same total on both engines.
        let inner: usize = events
            .iter()
            .filter_map(|e| e.split_once(" d1 map_start ").map(|(_, n)| n.parse::<usize>().unwrap()))
            .sum();
        assert_eq!(inner, 3);
    }
);

engine_test!(
    fn a_nested_run_reports_between_its_node_start_and_end(engine) {
        let rec = Arc::new(Recorder::default());
        let inner = Pipeline::try_new([double::node()])?.with_name("inner");
        let nested = inner.as_node("twice").build()?;
        let p = watched(&engine, "outer", vec![nested, add_one::node()], &rec);
        p.run(&Inputs::new().with("x", 4_i64))?;
        assert_eq!(
            rec.take(),
            lines(
                "outer d0 pipeline_start
                 outer d0 node_start twice 0..1
                 outer/twice d1 nested_start inner (in outer)
                 outer/twice d1 node_start double 0..1
                 outer/twice d1 node_end double 0..1
                 outer/twice d1 nested_end ok
                 outer d0 node_end twice 0..1
                 outer d0 node_start add_one 0..1
                 outer d0 node_end add_one 0..1
                 outer d0 pipeline_end ok"
            )
        );
    }
);

/// Counts items and node calls, from any thread.
#[derive(Default)]
struct Counts {
    items: AtomicUsize,
    nodes: AtomicUsize,
    threads: Mutex<std::collections::BTreeSet<String>>,
}

impl Callback for Counts {
    fn on_map_item_end(&self, _ctx: &Context, items: Range<usize>, _elapsed: Duration) {
        self.items.fetch_add(items.len(), Ordering::Relaxed);
    }
    fn on_node_end(
        &self,
        _ctx: &Context,
        _node: &Node,
        items: Range<usize>,
        _elapsed: Duration,
        _outputs: &NodeData<'_>,
    ) {
        self.nodes.fetch_add(items.len(), Ordering::Relaxed);
        let me = format!("{:?}", std::thread::current().id());
        self.threads.lock().unwrap().insert(me);
    }
}

engine_test!(
    fn events_come_from_worker_threads_and_add_up(engine) {
        for executor in ["sequential", "threaded:4", "parallel:2", "async:4"] {
            let counts = Arc::new(Counts::default());
            let config = RunConfig::new()
                .try_with_map_executor(executor).unwrap()
                .with_callback(counts.clone());
            let p = on(&engine, w1()).with_config(config);
            let xs: Vec<i64> = (0..5000).collect();
            p.map(&Inputs::new().with("x", xs), &["x"], "zip")?;
            assert_eq!(counts.items.load(Ordering::Relaxed), 5000, "{executor}");
            assert_eq!(counts.nodes.load(Ordering::Relaxed), 15000, "{executor}");
        }
    }
);

engine_test!(
    fn callbacks_follow_the_run_configuration_precedence(engine) {
        let pipeline_rec = Arc::new(Recorder::default());
        let call_rec = Arc::new(Recorder::default());
        let p = watched(&engine, "p", vec![double::node()], &pipeline_rec);
        let x = Inputs::new().with("x", 1_i64);
        // The call's callbacks replace the pipeline's.
        let options = RunOptions::new().with_config(RunConfig::new().with_callback(call_rec.clone()));
        p.run_with(&x, &options)?;
        assert_eq!(pipeline_rec.take().len(), 0);
        assert_eq!(call_rec.take().len(), 4);
        // None at all.
        let options = RunOptions::new().with_config(RunConfig::new().without_callbacks());
        p.run_with(&x, &options)?;
        assert_eq!(pipeline_rec.take().len(), 0);
        // A scoped default applies to a pipeline that sets none.
        let plain = on(&engine, vec![double::node()]);
        RunConfig::new().with_callback(call_rec.clone()).scoped(|| plain.run(&x))?;
        assert_eq!(call_rec.take()[0], "pipeline d0 pipeline_start");
        // Several callbacks all hear every event, in the order they were added.
        let second = Arc::new(Recorder::default());
        let both = RunConfig::new().with_callback(call_rec.clone()).with_callback(second.clone());
        plain.run_with(&x, &RunOptions::new().with_config(both))?;
        assert_eq!(call_rec.take(), second.take());
    }
);

engine_test!(
    fn bad_inputs_report_nothing(engine) {
        let rec = Arc::new(Recorder::default());
        let p = watched(&engine, "w1", w1(), &rec);
        let err = p.run(&Inputs::new()).unwrap_err();
        assert!(err.to_string().starts_with("Missing required input(s)"), "{err}");
        assert_eq!(rec.take(), Vec::<String>::new());
    }
);

#[test]
fn the_columnar_engine_ends_each_batch_when_its_last_segment_finishes_it() -> Result<()> {
    let rec = Arc::new(Recorder::default());
    let engine: Arc<dyn Engine> = Arc::new(hypernodes::ColumnarEngine::new().with_batch_size(2));
    let p = watched(&engine, "w1", vec![double::node(), add_one::node()], &rec);
    p.map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4, 5]), &["x"], "zip")?;
    let mut expected = vec![
        "w1 d0 pipeline_start".to_string(),
        "w1 d0 map_start 5".into(),
        "w1 d0 item_start 0..2".into(),
        "w1 d0 item_start 2..4".into(),
        "w1 d0 item_start 4..5".into(),
    ];
    for items in ["0..2", "2..4", "4..5"] {
        for node in ["double", "add_one"] {
            expected.push(format!("w1 d0 node_start {node} {items}"));
            expected.push(format!("w1 d0 node_end {node} {items}"));
        }
        expected.push(format!("w1 d0 item_end {items}"));
    }
    expected.extend(["w1 d0 map_end ok".to_string(), "w1 d0 pipeline_end ok".into()]);
    assert_eq!(rec.take(), expected);
    Ok(())
}

#[test]
fn apply_to_batch_reports_as_a_map_over_the_rows() -> Result<()> {
    use arrow::array::{Int64Array, RecordBatch};
    let rec = Arc::new(Recorder::default());
    let engine = hypernodes::ColumnarEngine::new();
    let p = Pipeline::try_new([double::node()])?
        .with_name("w1")
        .with_config(RunConfig::new().with_callback(rec.clone()));
    let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)]).unwrap();
    engine.apply_to_batch(&p, &batch)?;
    let expected = lines(
        "w1 d0 pipeline_start
         w1 d0 map_start 3
         w1 d0 item_start 0..3
         w1 d0 node_start double 0..3
         w1 d0 node_end double 0..3
         w1 d0 item_end 0..3
         w1 d0 map_end ok
         w1 d0 pipeline_end ok",
    );
    assert_eq!(rec.take(), expected);
    engine.apply_to_batches(&p, std::slice::from_ref(&batch))?;
    assert_eq!(rec.take(), expected);
    // Explaining runs the plan without reporting it.
    engine.explain_batch(&p, &batch)?;
    assert_eq!(rec.take(), Vec::<String>::new());
    Ok(())
}

/// Records the times of node and item ends; reads them unless `timed` is false.
struct Times {
    timed: bool,
    seen: Mutex<Vec<Duration>>,
}

impl Times {
    fn new(timed: bool) -> Arc<Times> {
        Arc::new(Times {
            timed,
            seen: Mutex::new(Vec::new()),
        })
    }
}

impl Callback for Times {
    fn on_map_item_end(&self, _: &Context, _: Range<usize>, elapsed: Duration) {
        self.seen.lock().unwrap().push(elapsed);
    }
    fn on_node_end(&self, _: &Context, _: &Node, _: Range<usize>, elapsed: Duration, _: &NodeData<'_>) {
        self.seen.lock().unwrap().push(elapsed);
    }
    fn timed(&self) -> bool {
        self.timed
    }
}

#[node(output = "slept")]
fn sleep_2ms(x: i64) -> i64 {
    std::thread::sleep(Duration::from_millis(2));
    x
}

engine_test!(
    /// When no callback reads the times, the engines pass zero; when one does, every
    /// callback gets them.
    fn times_only_when_a_callback_reads_them(engine) {
        let inputs = Inputs::new().with("x", vec![1_i64, 2, 3]);
        let untimed = Times::new(false);
        let config = RunConfig::new().with_callback(untimed.clone());
        on(&engine, [sleep_2ms::node()]).with_config(config).map(&inputs, &["x"], MapMode::Zip)?;
        let seen = untimed.seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        assert_eq!(seen, vec![Duration::ZERO; seen.len()]);

        let (untimed, timed) = (Times::new(false), Times::new(true));
        let config = RunConfig::new().with_callback(untimed.clone()).with_callback(timed.clone());
        on(&engine, [sleep_2ms::node()]).with_config(config).map(&inputs, &["x"], MapMode::Zip)?;
        let (untimed, timed) = (untimed.seen.lock().unwrap(), timed.seen.lock().unwrap());
        assert_eq!(untimed.len(), seen.len());
        assert_eq!(timed.len(), seen.len());
        for t in untimed.iter().chain(timed.iter()) {
            assert!(*t >= Duration::from_millis(2), "{untimed:?} {timed:?}");
        }
    }
);
