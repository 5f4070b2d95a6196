//! What node events carry, on both engines: the inputs and outputs each node saw per
//! item (the same values, read as the same Rust types), the cache signature of a node
//! found in the cache (the keys the store holds), a nested pipeline's data, a failing
//! node's inputs, and the user data the callbacks of one run share.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use hypernodes::engine::columnar::NodeDataArrow;
use hypernodes::events::{Callback, Context, End, NodeData, Signature};
use hypernodes::hash::digest;
use hypernodes::prelude::*;

/// A value of the types these tests use, read typed.
fn show(data: &NodeData<'_>, name: &str, row: usize) -> String {
    if let Some(v) = data.get::<i64>(name, row) {
        return v.to_string();
    }
    if let Some(v) = data.get::<usize>(name, row) {
        return v.to_string();
    }
    if let Some(v) = data.get::<String>(name, row) {
        return format!("{v:?}");
    }
    if let Some(v) = data.get::<Vec<usize>>(name, row) {
        return format!("{v:?}");
    }
    if let Some(v) = data.get::<Vec<String>>(name, row) {
        return format!("{v:?}");
    }
    format!("? ({:?})", data.value(name, row).map(|v| v.type_name()))
}

/// Every value of row `row`, `name=value` in the node's order.
fn fields(data: &NodeData<'_>, row: usize) -> String {
    let all: Vec<String> = data.names().map(|n| format!("{n}={}", show(data, n, row))).collect();
    all.join(" ")
}

/// Records per item what each node read and made: `path node item i in|out fields`,
/// the item left out (`-`) in nested contexts, where the engines number items
/// differently; and the length of each output column a batch gives.
#[derive(Default)]
struct Seen {
    lines: Mutex<Vec<String>>,
    columns: Mutex<Vec<String>>,
}

impl Seen {
    fn record(&self, ctx: &Context, node: &Node, items: Range<usize>, way: &str, data: &NodeData<'_>) {
        assert_eq!(data.len(), items.len(), "{} {way}", node.name());
        let mut lines = self.lines.lock().unwrap();
        for r in 0..data.len() {
            let item = match ctx.depth() {
                0 => (items.start + r).to_string(),
                _ => "-".into(),
            };
            lines.push(format!(
                "{} {} item {item} {way} {}",
                ctx.path_string(),
                node.name(),
                fields(data, r)
            ));
        }
    }

    /// The lines, sorted (the engines interleave items and nodes differently).
    fn sorted(&self) -> Vec<String> {
        let mut lines = std::mem::take(&mut *self.lines.lock().unwrap());
        lines.sort();
        lines
    }
}

impl Callback for Seen {
    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, inputs: &NodeData<'_>) {
        self.record(ctx, node, items, "in", inputs);
    }
    fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, _: Duration, outputs: &NodeData<'_>) {
        self.record(ctx, node, items, "out", outputs);
        for name in outputs.names() {
            if let Some(c) = outputs.column(name) {
                self.columns
                    .lock()
                    .unwrap()
                    .push(format!("{} {name} {}", node.name(), c.len()));
            }
        }
    }
}

fn sorted(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

engine_test!(
    fn callbacks_see_each_nodes_inputs_and_outputs_per_item(engine) {
        let seen = Arc::new(Seen::default());
        let p = on(&engine, w1()).with_name("w1").with_config(RunConfig::new().with_callback(seen.clone()));
        p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
        assert_eq!(
            seen.sorted(),
            sorted(
                "w1 double item 0 in x=1
                 w1 double item 0 out doubled=2
                 w1 add_one item 0 in doubled=2
                 w1 add_one item 0 out incremented=3
                 w1 square item 0 in incremented=3
                 w1 square item 0 out squared=9
                 w1 double item 1 in x=2
                 w1 double item 1 out doubled=4
                 w1 add_one item 1 in doubled=4
                 w1 add_one item 1 out incremented=5
                 w1 square item 1 in incremented=5
                 w1 square item 1 out squared=25
                 w1 double item 2 in x=3
                 w1 double item 2 out doubled=6
                 w1 add_one item 2 in doubled=6
                 w1 add_one item 2 out incremented=7
                 w1 square item 2 in incremented=7
                 w1 square item 2 out squared=49"
            )
        );
        // The columnar engine's vectorized nodes give the batch's arrays; the node
        // engine one item's values, with no array.
        let columns = std::mem::take(&mut *seen.columns.lock().unwrap());
        match engine.name() {
            "columnar" => assert_eq!(columns, ["double doubled 3", "add_one incremented 3", "square squared 3"]),
            _ => assert!(columns.is_empty(), "{columns:?}"),
        }
        // A run: one item, `0..1`, and a constant read by a map.
        p.run(&Inputs::new().with("x", 5_i64))?;
        assert_eq!(
            seen.sorted(),
            sorted(
                "w1 double item 0 in x=5
                 w1 double item 0 out doubled=10
                 w1 add_one item 0 in doubled=10
                 w1 add_one item 0 out incremented=11
                 w1 square item 0 in incremented=11
                 w1 square item 0 out squared=121"
            )
        );
    }
);

#[node(output = "total")]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

engine_test!(
    fn a_constant_input_is_seen_by_every_item(engine) {
        let seen = Arc::new(Seen::default());
        let p = on(&engine, [add::node()]).with_name("add").with_config(RunConfig::new().with_callback(seen.clone()));
        p.map(&Inputs::new().with("x", vec![1_i64, 2]).with("y", 10_i64), &["x"], "zip")?;
        assert_eq!(
            seen.sorted(),
            sorted(
                "add add item 0 in x=1 y=10
                 add add item 0 out total=11
                 add add item 1 in x=2 y=10
                 add add item 1 out total=12"
            )
        );
        if engine.name() == "columnar" {
            assert_eq!(*seen.columns.lock().unwrap(), ["add total 2"]);
        }
    }
);

/// A node found in the cache for an item: its name, the item, the node key and the item key.
type Hit = (String, usize, [u8; 32], [u8; 32]);

/// Records the signatures of the nodes found in the cache, per item.
#[derive(Default)]
struct Found(Mutex<Vec<Hit>>);

impl Callback for Found {
    fn on_node_cached(&self, _: &Context, node: &Node, items: Range<usize>, signature: &Signature<'_>) {
        assert_eq!(signature.item_keys().len(), items.len());
        let mut found = self.0.lock().unwrap();
        for (i, key) in items.zip(signature.item_keys()) {
            found.push((node.name().to_string(), i, *signature.node_key(), *key));
        }
    }
}

engine_test!(
    fn a_cached_node_reports_the_signature_the_cache_stores(engine) {
        let cache = Cache::memory();
        let found = Arc::new(Found::default());
        let config = RunConfig::new().with_cache(cache.clone()).with_callback(found.clone());
        let p = on(&engine, [double::node()]).with_config(config);
        p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
        assert!(found.0.lock().unwrap().is_empty());
        // Items 1..4 are found (one argument: an item key is the argument's digest).
        p.map(&Inputs::new().with("x", vec![0_i64, 1, 2, 3, 9]), &["x"], "zip")?;
        let mut seen = std::mem::take(&mut *found.0.lock().unwrap());
        seen.sort();
        let node_key = seen[0].2;
        let key = |x: i64| digest(&Value::new(x)).unwrap();
        assert_eq!(
            seen,
            [
                ("double".to_string(), 1, node_key, key(1)),
                ("double".to_string(), 2, node_key, key(2)),
                ("double".to_string(), 3, node_key, key(3)),
            ]
        );
        // The store holds the first run's block under that node key and those item keys
        // (and the second run's block, those and the new items).
        let (blocks, bad) = cache.store().item_keys(&node_key).unwrap();
        assert_eq!(bad, 0);
        let mut stored: Vec<Vec<[u8; 32]>> = blocks.into_iter().map(|(_, items)| items).collect();
        stored.sort();
        let mut expected = vec![vec![key(1), key(2), key(3)], vec![key(0), key(1), key(2), key(3), key(9)]];
        expected.sort();
        assert_eq!(stored, expected);
        // A run found whole: every item found at once.
        p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
        let whole = std::mem::take(&mut *found.0.lock().unwrap());
        assert_eq!(whole.iter().map(|f| (f.1, f.3)).collect::<Vec<_>>(), [(0, key(1)), (1, key(2)), (2, key(3))]);
    }
);

engine_test!(
    fn a_nested_pipeline_node_and_its_inner_nodes_show_their_data(engine) {
        let seen = Arc::new(Seen::default());
        let p = per_sentence_pipeline(&engine).with_config(RunConfig::new().with_callback(seen.clone()));
        let docs = vec![strings(&["a b", "c"]), strings(&["d e f"])];
        p.map(&Inputs::new().with("sentences", docs), &["sentences"], "zip")?;
        assert_eq!(
            seen.sorted(),
            sorted(
                r#"docs per_sentence item 0 in sentences=["a b", "c"]
                   docs per_sentence item 0 out token_counts=[2, 1]
                   docs per_sentence item 1 in sentences=["d e f"]
                   docs per_sentence item 1 out token_counts=[3]
                   docs/per_sentence count_tokens item - in sentence="a b"
                   docs/per_sentence count_tokens item - out tokens=2
                   docs/per_sentence count_tokens item - in sentence="c"
                   docs/per_sentence count_tokens item - out tokens=1
                   docs/per_sentence count_tokens item - in sentence="d e f"
                   docs/per_sentence count_tokens item - out tokens=3
                   docs total item 0 in token_counts=[2, 1]
                   docs total item 0 out total=3
                   docs total item 1 in token_counts=[3]
                   docs total item 1 out total=3"#
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

/// Records the inputs of each start and each error.
#[derive(Default)]
struct Failing(Mutex<Vec<String>>);

impl Callback for Failing {
    fn on_node_start(&self, _: &Context, node: &Node, items: Range<usize>, inputs: &NodeData<'_>) {
        for r in 0..inputs.len() {
            let line = format!("{} item {} in {}", node.name(), items.start + r, fields(inputs, r));
            self.0.lock().unwrap().push(line);
        }
    }
    fn on_node_error(&self, _: &Context, node: &Node, item: Option<usize>, error: &hypernodes::Error) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{} error {item:?}: {error}", node.name()));
    }
}

engine_test!(
    fn a_failing_node_reported_its_inputs_first(engine) {
        let seen = Arc::new(Failing::default());
        let p = on(&engine, [check::node()]).with_config(RunConfig::new().with_callback(seen.clone()));
        let err = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip").unwrap_err();
        assert_eq!(err.to_string(), "Node 'check' failed on item 1: two is not allowed");
        let lines = std::mem::take(&mut *seen.0.lock().unwrap());
        let error = "check error Some(1): Node 'check' failed on item 1: two is not allowed";
        // The node engine stops at the failing item; the columnar engine started the
        // batch of all three.
        let started: &[&str] = match engine.name() {
            "columnar" => &["check item 0 in x=1", "check item 1 in x=2", "check item 2 in x=3", error],
            _ => &["check item 0 in x=1", "check item 1 in x=2", error],
        };
        assert_eq!(lines, started);
    }
);

/// The spans the callbacks of a run share: opened by [`Opens`], closed by [`Closes`].
#[derive(Clone, Default, Debug, PartialEq)]
struct Spans {
    open: Vec<String>,
    closed: BTreeSet<String>,
}

fn span(ctx: &Context, node: &Node) -> String {
    format!("{}/{}", ctx.path_string(), node.name())
}

/// Opens a span per node start, and says whether each run started without spans.
#[derive(Default)]
struct Opens(Mutex<Vec<bool>>);

impl Callback for Opens {
    fn on_pipeline_start(&self, ctx: &Context) {
        self.0.lock().unwrap().push(ctx.user_data().get::<Spans>().is_none());
    }
    fn on_node_start(&self, ctx: &Context, node: &Node, _: Range<usize>, _: &NodeData<'_>) {
        ctx.user_data().with(|s: &mut Spans| s.open.push(span(ctx, node)));
    }
}

/// Closes the span of each node end, and keeps each run's spans at its end.
#[derive(Default)]
struct Closes(Mutex<Vec<Spans>>);

impl Callback for Closes {
    fn on_node_end(&self, ctx: &Context, node: &Node, _: Range<usize>, _: Duration, _: &NodeData<'_>) {
        let key = span(ctx, node);
        ctx.user_data().with(|s: &mut Spans| {
            let k = s.open.iter().position(|o| *o == key).expect("opened in the same run");
            s.open.remove(k);
            s.closed.insert(key);
        });
    }
    fn on_pipeline_end(&self, ctx: &Context, _: &End<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(ctx.user_data().get::<Spans>().unwrap_or_default());
    }
}

engine_test!(
    fn callbacks_of_one_run_share_its_user_data_and_no_other_run_sees_it(engine) {
        let opens = Arc::new(Opens::default());
        let closes = Arc::new(Closes::default());
        let config = RunConfig::new().with_callback(opens.clone()).with_callback(closes.clone());
        let p = per_sentence_pipeline(&engine).with_config(config);
        let docs = vec![strings(&["a b", "c"]), strings(&["d e f"])];
        for _ in 0..2 {
            p.map(&Inputs::new().with("sentences", docs.clone()), &["sentences"], "zip")?;
        }
        // Each run starts without the spans of the one before.
        assert_eq!(*opens.0.lock().unwrap(), [true, true]);
        // Spans opened in a nested context are closed from the same data.
        let spans = Spans {
            open: Vec::new(),
            closed: ["docs/per_sentence", "docs/per_sentence/count_tokens", "docs/total"]
                .map(String::from)
                .into(),
        };
        assert_eq!(*closes.0.lock().unwrap(), [spans.clone(), spans]);
    }
);
