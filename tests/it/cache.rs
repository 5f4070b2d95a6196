//! The result cache on both engines: per-item hits, invalidation by code, version,
//! value, upstream value, bound value, mapping and map mode (each observed by counting
//! calls), uncached nodes, failures, unhashable types, precedence, nested maps, and a
//! disk cache shared by the two engines.
//!
//! Calls are counted per node and per test: every counting node reads a `tag` input
//! (a constant naming the test and engine), so tests running at once never share
//! counts, and their items never share cache entries.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::common::*;
use hypernodes::prelude::*;
use hypernodes::{CacheReport, Engine, MapOutputs, Result};

static CALLS: Mutex<BTreeMap<(String, &'static str), usize>> = Mutex::new(BTreeMap::new());

fn called(tag: &str, node: &'static str) {
    *CALLS.lock().unwrap().entry((tag.to_string(), node)).or_default() += 1;
}

/// The calls of each node under `tag` since the last look, as `node=count` pairs.
fn calls(tag: &str) -> String {
    let mut calls = CALLS.lock().unwrap();
    let mine: Vec<(String, &'static str)> = calls.keys().filter(|(t, _)| t == tag).cloned().collect();
    let text: Vec<String> = mine
        .iter()
        .map(|k| format!("{}={}", k.1, calls.remove(k).unwrap()))
        .collect();
    text.join(" ")
}

#[node(output = "doubled")]
fn double(x: i64, tag: &str) -> i64 {
    called(tag, "double");
    2 * x
}

/// `double` changed: another version of the same node.
#[node(name = "double", output = "doubled", version = "2")]
fn double_v2(x: i64, tag: &str) -> i64 {
    called(tag, "double");
    2 * x
}

/// `double` with other code: a different result.
#[node(name = "double", output = "doubled")]
fn double_plus(x: i64, tag: &str) -> i64 {
    called(tag, "double");
    2 * x + 1000
}

#[node(output = "incremented")]
fn inc(doubled: i64, tag: &str) -> i64 {
    called(tag, "inc");
    doubled + 1
}

#[node(output = "label")]
fn label(incremented: i64, tag: &str) -> String {
    called(tag, "label");
    format!("#{incremented}")
}

#[node(output = "half", cache = false)]
fn half_uncached(x: i64, tag: &str) -> i64 {
    called(tag, "half");
    x / 2
}

#[node(output = "from_half")]
fn from_half(half: i64, tag: &str) -> i64 {
    called(tag, "from_half");
    half * 10
}

#[node(output = "maybe")]
fn maybe(x: i64, tag: &str) -> Option<i64> {
    called(tag, "maybe");
    (x % 2 == 0).then_some(x)
}

#[node(output = "checked")]
fn fails_on_two(x: i64, tag: &str) -> std::result::Result<i64, String> {
    called(tag, if x == 2 { "checked_two" } else { "checked" });
    if x == 2 {
        Err("two is not allowed".into())
    } else {
        Ok(x)
    }
}

/// A parameter type that neither hashes nor serializes.
pub struct Opaque(pub i64);

#[node(output = "opaque_sum")]
fn opaque_sum(x: i64, opaque: &Opaque, tag: &str) -> i64 {
    called(tag, "opaque_sum");
    x + opaque.0
}

#[node(output = "tokens")]
fn tokens(sentence: &str, tag: &str) -> usize {
    called(tag, "tokens");
    sentence.split_whitespace().count()
}

#[node(output = "scaled")]
fn scaled(tokens: usize, factor: i64, tag: &str) -> i64 {
    called(tag, "scaled");
    tokens as i64 * factor
}

fn tag_of(test: &str, engine: &std::sync::Arc<dyn Engine>) -> String {
    format!("{test}-{}", engine.name())
}

fn cached(engine: &std::sync::Arc<dyn Engine>, nodes: impl IntoIterator<Item = Node>, cache: &Cache) -> Pipeline {
    on(engine, nodes).with_config(RunConfig::new().with_cache(cache.clone()))
}

fn xs(tag: &str, values: &[i64]) -> Inputs {
    Inputs::new().with("x", values.to_vec()).with("tag", tag.to_string())
}

fn map(p: &Pipeline, inputs: &Inputs) -> Result<MapOutputs> {
    p.map(inputs, &["x"], "zip")
}

fn report(out: &MapOutputs) -> CacheReport {
    out.cache_report().expect("a cached run reports").clone()
}

fn chain() -> Vec<Node> {
    vec![double::node(), inc::node(), label::node()]
}

engine_test!(
    fn a_longer_map_computes_only_the_new_item(engine) {
        let tag = tag_of("longer", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, chain(), &cache);
        let first = map(&p, &xs(&tag, &[1, 2, 3]))?;
        assert_eq!(calls(&tag), "double=3 inc=3 label=3");
        assert_eq!(report(&first).to_string(), "double 0 hits 3 misses, inc 0 hits 3 misses, label 0 hits 3 misses");
        let second = map(&p, &xs(&tag, &[1, 2, 3, 4]))?;
        assert_eq!(calls(&tag), "double=1 inc=1 label=1");
        assert_eq!(second.column::<String>("label")?, ["#3", "#5", "#7", "#9"]);
        assert_eq!(report(&second).to_string(), "double 3 hits 1 misses, inc 3 hits 1 misses, label 3 hits 1 misses");
        // The same map again: every item found, in one lookup per node.
        let third = map(&p, &xs(&tag, &[1, 2, 3, 4]))?;
        assert_eq!(calls(&tag), "");
        assert_eq!(third.column::<String>("label")?, ["#3", "#5", "#7", "#9"]);
        assert_eq!((report(&third).hits(), report(&third).misses()), (12, 0));
        // Reordered and repeated items are found one by one.
        let fourth = map(&p, &xs(&tag, &[4, 4, 1, 5]))?;
        assert_eq!(calls(&tag), "double=1 inc=1 label=1");
        assert_eq!(fourth.column::<i64>("incremented")?, [9, 9, 3, 11]);
    }
);

engine_test!(
    fn a_single_run_is_cached_too(engine) {
        let tag = tag_of("single", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, chain(), &cache);
        let inputs = Inputs::new().with("x", 5_i64).with("tag", tag.clone());
        assert_eq!(p.run(&inputs)?.get::<String>("label")?, "#11");
        assert_eq!(calls(&tag), "double=1 inc=1 label=1");
        let again = p.run(&inputs)?;
        assert_eq!(again.get::<String>("label")?, "#11");
        assert_eq!(calls(&tag), "");
        assert_eq!(again.cache_report().unwrap().to_string(), "double 1 hits 0 misses, inc 1 hits 0 misses, label 1 hits 0 misses");
        // A map finds what the run stored.
        let out = map(&p, &xs(&tag, &[5, 6]))?;
        assert_eq!(calls(&tag), "double=1 inc=1 label=1");
        assert_eq!(out.column::<String>("label")?, ["#11", "#13"]);
    }
);

engine_test!(
    fn a_new_version_reruns_that_node_and_not_what_reads_its_equal_results(engine) {
        let tag = tag_of("version", &engine);
        let cache = Cache::memory();
        map(&cached(&engine, chain(), &cache), &xs(&tag, &[1, 2]))?;
        assert_eq!(calls(&tag), "double=2 inc=2 label=2");
        let v2 = cached(&engine, [double_v2::node(), inc::node(), label::node()], &cache);
        let out = map(&v2, &xs(&tag, &[1, 2]))?;
        assert_eq!(calls(&tag), "double=2");
        assert_eq!(out.column::<String>("label")?, ["#3", "#5"]);
    }
);

engine_test!(
    fn changed_code_reruns_the_node_and_what_reads_its_new_results(engine) {
        let tag = tag_of("code", &engine);
        let cache = Cache::memory();
        map(&cached(&engine, chain(), &cache), &xs(&tag, &[1, 2]))?;
        assert_eq!(calls(&tag), "double=2 inc=2 label=2");
        let changed = cached(&engine, [double_plus::node(), inc::node(), label::node()], &cache);
        let out = map(&changed, &xs(&tag, &[1, 2]))?;
        assert_eq!(calls(&tag), "double=2 inc=2 label=2");
        assert_eq!(out.column::<String>("label")?, ["#1003", "#1005"]);
        // Back to the first code: everything is still there.
        map(&cached(&engine, chain(), &cache), &xs(&tag, &[1, 2]))?;
        assert_eq!(calls(&tag), "");
    }
);

engine_test!(
    fn a_changed_input_value_reruns_only_its_item(engine) {
        let tag = tag_of("value", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, chain(), &cache);
        map(&p, &xs(&tag, &[1, 2, 3]))?;
        assert_eq!(calls(&tag), "double=3 inc=3 label=3");
        let out = map(&p, &xs(&tag, &[1, 7, 3]))?;
        assert_eq!(calls(&tag), "double=1 inc=1 label=1");
        assert_eq!(out.column::<i64>("doubled")?, [2, 14, 6]);
    }
);

engine_test!(
    fn uncached_nodes_run_every_time_and_feed_cached_ones(engine) {
        let tag = tag_of("uncached", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, [half_uncached::node(), from_half::node()], &cache);
        map(&p, &xs(&tag, &[2, 3, 4]))?;
        assert_eq!(calls(&tag), "from_half=3 half=3");
        let out = map(&p, &xs(&tag, &[2, 3, 5]))?;
        // 5 / 2 == 4 / 2: from_half finds its argument's value.
        assert_eq!(calls(&tag), "half=3");
        assert_eq!(out.column::<i64>("from_half")?, [10, 10, 20]);
        assert_eq!(report(&out).node("half"), None);
        assert_eq!(report(&out).node("from_half").unwrap().hits, 3);
    }
);

engine_test!(
    fn none_results_are_cached(engine) {
        let tag = tag_of("none", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, [maybe::node()], &cache);
        let first = map(&p, &xs(&tag, &[1, 2, 3]))?;
        assert_eq!(first.column::<Option<i64>>("maybe")?, [None, Some(2), None]);
        assert_eq!(calls(&tag), "maybe=3");
        let second = map(&p, &xs(&tag, &[1, 2, 3]))?;
        assert_eq!(second.column::<Option<i64>>("maybe")?, [None, Some(2), None]);
        assert_eq!(calls(&tag), "");
    }
);

engine_test!(
    fn a_failed_item_is_not_cached(engine) {
        let tag = tag_of("failed", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, [fails_on_two::node()], &cache);
        let collect = RunOptions::new().with_config(RunConfig::new().with_on_error(OnError::Collect));
        let out = p.map_with(&xs(&tag, &[1, 2, 3]), &["x"], "zip", &collect)?;
        assert_eq!(out.column::<i64>("checked")?, [1, 3]);
        assert_eq!(out.failures().len(), 1);
        calls(&tag);
        let out = p.map_with(&xs(&tag, &[1, 2, 3]), &["x"], "zip", &collect)?;
        assert_eq!(out.failures()[0].item(), 1);
        // Only the failed item runs again: once in the node engine; three times in the
        // columnar engine, which finds it by running the batch, then each of its rows.
        let again = if engine.name() == "node" { "checked_two=1" } else { "checked_two=3" };
        assert_eq!(calls(&tag), again);
        let err = map(&p, &xs(&tag, &[1, 2, 3])).unwrap_err();
        assert_eq!(err.to_string(), "Node 'fails_on_two' failed on item 1: two is not allowed");
    }
);

engine_test!(
    fn an_unhashable_argument_leaves_its_node_uncached_with_one_warning(engine) {
        let tag = tag_of("opaque", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, [opaque_sum::node(), double::node()], &cache);
        let inputs = xs(&tag, &[1, 2]).with("opaque", Opaque(10));
        map(&p, &inputs)?;
        let out = map(&p, &inputs)?;
        assert_eq!(out.column::<i64>("opaque_sum")?, [11, 12]);
        assert_eq!(calls(&tag), "double=2 opaque_sum=4");
        assert_eq!(
            report(&out).warnings(),
            ["node 'opaque_sum' is not cached: its argument 'opaque' has type Opaque, which cannot be hashed"]
        );
        assert_eq!(report(&out).node("double").unwrap().hits, 2);
    }
);

engine_test!(
    fn the_call_can_turn_off_the_pipelines_cache(engine) {
        let tag = tag_of("precedence", &engine);
        let cache = Cache::memory();
        let p = cached(&engine, [double::node()], &cache);
        map(&p, &xs(&tag, &[1]))?;
        let off = RunOptions::new().with_config(RunConfig::new().without_cache());
        let out = p.map_with(&xs(&tag, &[1]), &["x"], "zip", &off)?;
        assert!(out.cache_report().is_none());
        assert_eq!(calls(&tag), "double=2");
        // A scoped default cache applies where the pipeline sets none.
        let plain = on(&engine, [double::node()]);
        let scoped = RunConfig::new().with_cache(cache.clone()).scoped(|| map(&plain, &xs(&tag, &[1])))?;
        assert_eq!(calls(&tag), "");
        assert_eq!(report(&scoped).node("double").unwrap().hits, 1);
    }
);

fn sentence_pipeline(engine: &std::sync::Arc<dyn Engine>) -> Pipeline {
    on(engine, [tokens::node(), scaled::node()])
}

fn outer(engine: &std::sync::Arc<dyn Engine>, inner: Pipeline, mode: &str, cache: &Cache) -> Result<Pipeline> {
    let node = inner
        .as_node("per_sentence")
        .with_input_mapping([("sentences", "sentence")])
        .with_output_mapping([("scaled", "scores")])
        .with_map_over(["sentences"])
        .with_map_mode(mode)
        .build()?;
    Ok(cached(engine, [node], cache))
}

fn docs(tag: &str, rows: &[&[&str]]) -> Inputs {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| strings(r)).collect();
    Inputs::new().with("sentences", rows).with("tag", tag.to_string())
}

engine_test!(
    fn a_nested_map_caches_per_inner_item(engine) {
        let tag = tag_of("nested", &engine);
        let cache = Cache::memory();
        let inner = sentence_pipeline(&engine).bind(Inputs::new().with("factor", 3_i64))?;
        let p = outer(&engine, inner, "zip", &cache)?;
        let first = p.map(&docs(&tag, &[&["a b", "c"], &["d e f"]]), &["sentences"], "zip")?;
        assert_eq!(first.column::<Vec<i64>>("scores")?, [vec![6, 3], vec![9]]);
        assert_eq!(calls(&tag), "scaled=3 tokens=3");
        // One new sentence in the first row: only it runs inside.
        let second = p.map(&docs(&tag, &[&["a b", "c", "g h i j"], &["d e f"]]), &["sentences"], "zip")?;
        assert_eq!(second.column::<Vec<i64>>("scores")?, [vec![6, 3, 12], vec![9]]);
        assert_eq!(calls(&tag), "scaled=1 tokens=1");
    }
);

engine_test!(
    fn a_bound_value_a_mapping_or_the_map_mode_of_a_nested_pipeline_reruns_it(engine) {
        let tag = tag_of("nested-config", &engine);
        let cache = Cache::memory();
        let rows = docs(&tag, &[&["a b"]]);
        let three = sentence_pipeline(&engine).bind(Inputs::new().with("factor", 3_i64))?;
        outer(&engine, three.clone(), "zip", &cache)?.map(&rows, &["sentences"], "zip")?;
        assert_eq!(calls(&tag), "scaled=1 tokens=1");
        outer(&engine, three.clone(), "zip", &cache)?.map(&rows, &["sentences"], "zip")?;
        assert_eq!(calls(&tag), "");
        // Another bound value: the nested node runs; inside, only `scaled` reads it.
        let four = sentence_pipeline(&engine).bind(Inputs::new().with("factor", 4_i64))?;
        let out = outer(&engine, four, "zip", &cache)?.map(&rows, &["sentences"], "zip")?;
        assert_eq!(out.column::<Vec<i64>>("scores")?, [vec![8]]);
        assert_eq!(calls(&tag), "scaled=1");
        // Another map mode (one list: the same items), and another mapping.
        outer(&engine, three.clone(), "product", &cache)?.map(&rows, &["sentences"], "zip")?;
        assert_eq!(calls(&tag), "");
        let p = outer(&engine, three.clone(), "product", &cache)?;
        let product = p.map(&rows, &["sentences"], "zip")?.cache_report().unwrap().clone();
        assert_eq!(product.node("per_sentence").map(|c| c.hits), Some(1));
        let renamed = three
            .as_node("per_sentence")
            .with_input_mapping([("sentences", "sentence")])
            .with_output_mapping([("tokens", "scores")])
            .with_map_over(["sentences"])
            .build()?;
        let out = cached(&engine, [renamed], &cache).map(&rows, &["sentences"], "zip")?;
        assert_eq!(out.column::<Vec<usize>>("scores")?, [vec![2]]);
        assert_eq!(report(&out).node("per_sentence").map(|c| c.misses), Some(1));
    }
);

#[test]
fn a_disk_cache_written_by_one_engine_is_hit_by_the_other() -> Result<()> {
    let dir = tempdir("cross-engine");
    let tag = "cross-engine";
    let cache = Cache::disk(&dir)?;
    let node_engine: std::sync::Arc<dyn Engine> = std::sync::Arc::new(NodeEngine::new());
    let columnar: std::sync::Arc<dyn Engine> = std::sync::Arc::new(hypernodes::ColumnarEngine::new());
    let first = map(&cached(&node_engine, chain(), &cache), &xs(tag, &[1, 2, 3]))?;
    assert_eq!(calls(tag), "double=3 inc=3 label=3");
    let second = map(&cached(&columnar, chain(), &cache), &xs(tag, &[1, 2, 3, 4]))?;
    assert_eq!(calls(tag), "double=1 inc=1 label=1");
    assert_eq!(second.column::<String>("label")?, ["#3", "#5", "#7", "#9"]);
    assert_eq!(
        first.column::<String>("label")?,
        &second.column::<String>("label")?[..3]
    );
    // And back: the node engine finds the columnar engine's block.
    let third = map(&cached(&node_engine, chain(), &cache), &xs(tag, &[1, 2, 3, 4]))?;
    assert_eq!(calls(tag), "");
    assert_eq!(
        report(&third).to_string(),
        "double 4 hits 0 misses, inc 4 hits 0 misses, label 4 hits 0 misses"
    );
    // A second handle on the directory (another process would do the same) sees it all.
    let stats = Cache::disk(&dir)?.stats()?;
    let items: BTreeMap<&str, u64> = stats.nodes.iter().map(|n| (n.name.as_str(), n.items)).collect();
    // The node engine's 3 items and the columnar engine's block of 4, found whole by the
    // node engine the third time (and not stored again).
    assert_eq!(items, BTreeMap::from([("double", 7), ("inc", 7), ("label", 7)]));
    let cleared = cache.clear(Some("inc"))?;
    assert_eq!((cleared.blocks, cleared.items), (2, 7));
    map(&cached(&columnar, chain(), &cache), &xs(tag, &[1, 2, 3, 4]))?;
    assert_eq!(calls(tag), "inc=4");
    std::fs::remove_dir_all(&dir).unwrap();
    Ok(())
}

#[test]
fn values_of_different_types_never_share_an_entry() -> Result<()> {
    // The same node name and parameter name over 1_i64, 1.0_f64 and "1": three entries.
    let cache = Cache::memory();
    let int = Node::builder("show")
        .params(["v"])
        .output("text")
        .build(|v: i64| format!("int {v}"))?;
    let float = Node::builder("show")
        .params(["v"])
        .output("text")
        .build(|v: f64| format!("float {v}"))?;
    let string = Node::builder("show")
        .params(["v"])
        .output("text")
        .build(|v: String| format!("str {v}"))?;
    let run = |node: Node, v: Value| -> Result<String> {
        Pipeline::new([node])
            .with_config(RunConfig::new().with_cache(cache.clone()))
            .run(&Inputs::new().with_value("v", v))?
            .get::<String>("text")
    };
    assert_eq!(run(int, Value::new(1_i64))?, "int 1");
    assert_eq!(run(float, Value::new(1.0_f64))?, "float 1");
    assert_eq!(run(string, Value::new("1".to_string()))?, "str 1");
    assert_eq!(cache.stats()?.items, 3);
    Ok(())
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hn-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
