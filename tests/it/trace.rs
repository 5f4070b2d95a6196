//! Traces: the Chrome trace file (parsed and checked against the Trace Event Format's
//! rules Perfetto enforces) on both engines and through the binary, and the `tracing`
//! events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use hypernodes::prelude::*;
use hypernodes::trace::ChromeTrace;
use serde_json::Value as Json;

use crate::common::*;

fn docs(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| (0..i % 4).map(|j| "w ".repeat(j + 1).trim_end().to_string()).collect())
        .collect()
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hypernodes-it-trace-{name}-{}.json", std::process::id()))
}

/// A slice on a thread's lane, from its "B" to its "E".
#[derive(Debug, Clone)]
struct Slice {
    tid: u64,
    name: String,
    cat: String,
    start: f64,
    end: f64,
    /// The slices around it on its lane, outermost first (indices into the list).
    parents: Vec<usize>,
    args: serde_json::Map<String, Json>,
}

/// Parses a trace and checks what Perfetto needs: a `traceEvents` array of events with
/// `name`, `ph`, `pid`, `tid` (and `ts` but for metadata); timestamps that never go back
/// on a lane; every "B" closed by an "E" of the same name on its lane, innermost first;
/// every async "b" closed by one "e" of its id, later; one `thread_name` per lane.
/// Returns the slices, each with its parents.
fn check(path: &Path) -> (Vec<Slice>, Vec<Json>) {
    let text = std::fs::read_to_string(path).unwrap();
    let json: Json = serde_json::from_str(&text).unwrap();
    let events = json["traceEvents"].as_array().expect("a traceEvents array").clone();
    let mut thread_names: HashMap<u64, usize> = HashMap::new();
    let mut last_ts: HashMap<u64, f64> = HashMap::new();
    let mut stacks: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut slices: Vec<Slice> = Vec::new();
    // Async slices: (b, e) times by id. Lanes are written one after another, so an "e"
    // may come before its "b" in the file (viewers sort by time).
    let mut asyncs: HashMap<String, (Option<f64>, Option<f64>)> = HashMap::new();
    let mut lanes: HashSet<u64> = HashSet::new();
    for e in &events {
        let ph = e["ph"].as_str().expect("ph");
        let name = e["name"].as_str().expect("name").to_string();
        assert!(e["pid"].is_u64(), "{e}");
        let tid = e["tid"].as_u64().expect("tid");
        if ph == "M" {
            if name == "thread_name" {
                *thread_names.entry(tid).or_default() += 1;
                assert!(e["args"]["name"].is_string(), "{e}");
            }
            continue;
        }
        lanes.insert(tid);
        let ts = e["ts"].as_f64().expect("ts");
        let last = last_ts.entry(tid).or_insert(f64::MIN);
        assert!(ts >= *last, "time goes back on lane {tid}: {e}");
        *last = ts;
        let args = e["args"].as_object().cloned().unwrap_or_default();
        match ph {
            "B" => {
                let stack = stacks.entry(tid).or_default();
                slices.push(Slice {
                    tid,
                    name,
                    cat: e["cat"].as_str().unwrap_or("").to_string(),
                    start: ts,
                    end: f64::NAN,
                    parents: stack.clone(),
                    args,
                });
                stack.push(slices.len() - 1);
            }
            "E" => {
                let open = stacks.get_mut(&tid).and_then(Vec::pop).expect("an E without a B");
                assert_eq!(slices[open].name, name, "E closes the innermost B on lane {tid}");
                slices[open].end = ts;
                slices[open].args.extend(args);
            }
            "b" => {
                let id = e["id"].as_str().expect("an async id").to_string();
                let slot = &mut asyncs.entry(id).or_default().0;
                assert!(slot.replace(ts).is_none(), "one b per id: {e}");
            }
            "e" => {
                let id = e["id"].as_str().expect("an async id").to_string();
                let slot = &mut asyncs.entry(id).or_default().1;
                assert!(slot.replace(ts).is_none(), "one e per id: {e}");
            }
            "i" | "X" => {}
            other => panic!("unexpected phase {other}"),
        }
    }
    for (tid, stack) in &stacks {
        assert!(stack.is_empty(), "B without E on lane {tid}");
    }
    for (id, (b, e)) in &asyncs {
        assert!(
            matches!((b, e), (Some(b), Some(e)) if b <= e),
            "async {id}: b {b:?}, e {e:?}"
        );
    }
    for tid in &lanes {
        assert_eq!(thread_names.get(tid), Some(&1), "one thread_name for lane {tid}");
    }
    // Nested slices lie within their parents.
    for s in &slices {
        for &p in &s.parents {
            assert!(
                slices[p].start <= s.start && s.end <= slices[p].end,
                "{s:?} outside {:?}",
                slices[p]
            );
        }
    }
    (slices, events)
}

/// Whether slice `s` lies within a slice of category `cat` named `name`.
fn inside(slices: &[Slice], s: &Slice, cat: &str, name: &str) -> bool {
    s.parents
        .iter()
        .any(|&p| slices[p].cat == cat && slices[p].name == name)
}

engine_test!(
    fn a_parallel_nested_map_traces_well_formed_nested_slices(engine) {
        let file = temp_file(&format!("nested-{}", engine.name()));
        let trace = ChromeTrace::new(&file);
        let p = per_sentence_pipeline(&engine)
            .with_config(RunConfig::new().with_callback(trace.clone()).with_map_executor(Executor::parallel()));
        let out = p.map(&Inputs::new().with("sentences", docs(200)), &["sentences"], MapMode::Zip)?;
        assert_eq!(out.len(), 200);
        // Written when the run ended.
        let (slices, events) = check(&file);
        let named = |name: &str| slices.iter().filter(|s| s.name == name).collect::<Vec<_>>();
        // The top-level pipeline holds everything on the calling thread.
        let top = named("docs");
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].cat, "pipeline");
        // Every node shows, the inner node within the nested pipeline, within the node
        // that runs it.
        let per_sentence = named("per_sentence");
        let totals = named("total");
        assert!(!per_sentence.is_empty() && !totals.is_empty());
        let nested = named("docs/per_sentence");
        assert!(!nested.is_empty());
        for n in &nested {
            assert_eq!(n.cat, "nested");
            assert!(inside(&slices, n, "node", "per_sentence"), "{n:?}");
        }
        let inner = named("count_tokens");
        assert!(!inner.is_empty());
        for s in &inner {
            // The inner map's items run on the executor's threads (the node engine's
            // parallel executor takes the inner items too; the columnar engine runs
            // the inner batches on its partitions): on their own lanes, within the
            // nested run's time.
            assert!(nested.iter().any(|n| n.start <= s.start && s.end <= n.end), "{s:?}");
            if engine.name() == "node" {
                // Item by item: a node runs on the thread of its item.
                assert!(s.parents.iter().any(|&p| slices[p].cat == "item"), "{s:?}");
            }
        }
        // The items add up: the node's slices cover the 200 documents, the inner
        // node's the 300 sentences (0 + 1 + 2 + 3 per 4 documents).
        let count = |s: &[&Slice]| s.iter().map(|s| s.args["count"].as_u64().unwrap()).sum::<u64>();
        assert_eq!(count(&per_sentence), 200);
        assert_eq!(count(&inner), 300);
        // Items: slices of their lane (the node engine) or async slices (the columnar
        // engine's batches), 200 of them either way.
        let items: u64 = events
            .iter()
            .filter(|e| e["cat"] == "item" && (e["ph"] == "B" || e["ph"] == "b") && e["args"]["path"].is_null())
            .filter(|e| !e["name"].as_str().unwrap().is_empty())
            .map(|e| e["args"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(items, 200 + 300);
        if engine.name() == "node" {
            // Items in parallel: on the pool's threads, besides the caller's.
            let lanes: HashSet<u64> = slices.iter().map(|s| s.tid).collect();
            assert!(lanes.len() >= 2, "{lanes:?}");
        }
        std::fs::remove_file(&file).unwrap();
    }
);

engine_test!(
    fn a_failing_node_slice_carries_the_error(engine) {
        let file = temp_file(&format!("error-{}", engine.name()));
        let trace = ChromeTrace::new(&file);
        let check_node = Node::builder("check")
            .params(["x"])
            .output("checked")
            .try_build(|x: i64| if x == 3 { Err("three is bad".to_string()) } else { Ok(x) })?;
        let p = on(&engine, [check_node])
            .with_name("checks")
            .with_config(RunConfig::new().with_callback(trace.clone()));
        let err = p
            .map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4]), &["x"], MapMode::Zip)
            .unwrap_err();
        trace.finish()?;
        let (slices, _) = check(&file);
        let failed: Vec<&Slice> = slices.iter().filter(|s| s.args.contains_key("error")).collect();
        // The node's slice and the run's.
        let node = failed.iter().find(|s| s.cat == "node").expect("the node's slice");
        assert_eq!(node.name, "check");
        assert!(node.args["error"].as_str().unwrap().contains("three is bad"), "{node:?}");
        let top = failed.iter().find(|s| s.cat == "pipeline").expect("the run's slice");
        assert_eq!(top.args["error"].as_str().unwrap(), err.to_string());
        std::fs::remove_file(&file).unwrap();
    }
);

engine_test!(
    fn cache_hits_are_instants_and_the_trace_stays_well_formed(engine) {
        let file = temp_file(&format!("cache-{}", engine.name()));
        let trace = ChromeTrace::new(&file);
        let p = on(&engine, w1())
            .with_name("cached")
            .with_config(RunConfig::new().with_callback(trace.clone()).with_cache(Cache::memory()));
        p.map(&Inputs::new().with("x", (0..50_i64).collect::<Vec<_>>()), &["x"], MapMode::Zip)?;
        // Half of the items again: 25 hits, 25 computed.
        p.map(&Inputs::new().with("x", (25..75_i64).collect::<Vec<_>>()), &["x"], MapMode::Zip)?;
        trace.finish()?;
        let (slices, events) = check(&file);
        assert_eq!(slices.iter().filter(|s| s.cat == "pipeline").count(), 2);
        let hits: u64 = events
            .iter()
            .filter(|e| e["ph"] == "i" && e["cat"] == "node" && e["args"]["cached"] == true)
            .map(|e| e["args"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(hits, 3 * 25);
        let computed: u64 = slices
            .iter()
            .filter(|s| s.cat == "node")
            .map(|s| s.args["count"].as_u64().unwrap())
            .sum();
        let computed_async: u64 = events
            .iter()
            .filter(|e| e["ph"] == "b" && e["cat"] == "node")
            .map(|e| e["args"]["count"].as_u64().unwrap())
            .sum();
        assert_eq!(computed + computed_async, 3 * 75);
        std::fs::remove_file(&file).unwrap();
    }
);

#[test]
fn a_trace_that_cannot_be_written_says_why() {
    let trace = ChromeTrace::new("/nonexistent-dir/trace.json");
    let p = Pipeline::new(w1()).with_config(RunConfig::new().with_callback(trace.clone()));
    // The run succeeds: a hook cannot fail it.
    p.map(&Inputs::new().with("x", vec![1_i64]), &["x"], MapMode::Zip)
        .unwrap();
    let err = trace.finish().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Cannot write '/nonexistent-dir/trace.json': "),
        "{err}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn the_binary_writes_the_trace_of_a_nested_run() {
    use crate::parquet::TempDir;
    use std::process::Command;
    let dir = TempDir::new("trace-cli");
    let data = dir.join("docs.parquet");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_hypernodes"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&["gen-data", "--rows", "3000", "--out", data.to_str().unwrap()]);
    for engine in ["columnar", "node"] {
        let file = dir.join(&format!("{engine}.json"));
        let out = dir.join(&format!("{engine}.parquet"));
        let stdout = run(&[
            "run",
            "examples/sentences.toml",
            "-i",
            data.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--engine",
            engine,
            "--batch-rows",
            "500",
            "--trace",
            file.to_str().unwrap(),
        ]);
        // The summary is as without a trace.
        assert!(
            stdout
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("3000 rows in, 3000 rows out, 6 batches in ")
        );
        let (slices, events) = check(&file);
        // The run: one slice, its map over the 3000 rows.
        let top: Vec<&Slice> = slices.iter().filter(|s| s.cat == "pipeline").collect();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].name, "sentences");
        let map = slices
            .iter()
            .find(|s| s.cat == "map" && s.name == "map sentences")
            .unwrap();
        assert_eq!(map.args["count"], 3000);
        // The batches: 6 async slices (taken on a worker, ended once written).
        let mut batches: BTreeMap<String, u64> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e["cat"] == "item" && e["ph"] == "b" && e["tid"] != 0)
        {
            if let Some(n) = e["args"]["count"].as_u64()
                && e["name"].as_str().unwrap().starts_with("items ")
                && n == 500
            {
                *batches.entry(e["name"].as_str().unwrap().to_string()).or_default() += n;
            }
        }
        assert!(
            batches.contains_key("items 0..500") && batches.contains_key("items 2500..3000"),
            "{batches:?}"
        );
        // The nodes, the inner node inside the nested pipeline inside its node.
        let names: HashSet<&str> = slices.iter().map(|s| s.name.as_str()).collect();
        for name in ["per_sentence", "sentences/per_sentence", "count_words", "sum"] {
            assert!(names.contains(name), "{name} in {names:?}");
        }
        // One partition per batch: the inner node runs on the thread of its batch.
        for s in slices.iter().filter(|s| s.name == "count_words") {
            assert!(inside(&slices, s, "nested", "sentences/per_sentence"), "{s:?}");
            assert!(inside(&slices, s, "node", "per_sentence"), "{s:?}");
        }
        // The node slices of the 6 batches cover the rows.
        let sum: u64 = slices
            .iter()
            .filter(|s| s.name == "sum")
            .map(|s| s.args["count"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 3000);
    }
}

#[cfg(feature = "tracing")]
mod tracing_events {
    //! `trace::Tracing` under a subscriber that records what it is given.
    use super::*;
    use hypernodes::trace::Tracing;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    /// A span: id, name, fields, parent.
    type SpanSeen = (u64, String, String, Option<u64>);

    /// What a subscriber saw: spans and events (level, fields, parent span).
    #[derive(Default)]
    struct Seen {
        spans: Mutex<Vec<SpanSeen>>,
        events: Mutex<Vec<(tracing::Level, String, Option<u64>)>>,
        next: AtomicU64,
    }

    struct Fields(String);
    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={:?} ", field.name(), value));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push_str(&format!("{}={} ", field.name(), value));
        }
    }

    struct Capture(&'static Seen);

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.0.next.fetch_add(1, Ordering::Relaxed) + 1;
            let mut f = Fields(String::new());
            attrs.record(&mut f);
            let parent = attrs.parent().map(Id::into_u64);
            self.0
                .spans
                .lock()
                .unwrap()
                .push((id, attrs.metadata().name().to_string(), f.0, parent));
            Id::from_u64(id)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut f = Fields(String::new());
            event.record(&mut f);
            let parent = event.parent().map(Id::into_u64);
            self.0
                .events
                .lock()
                .unwrap()
                .push((*event.metadata().level(), f.0, parent));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// The process's subscriber (events come from every thread of a run).
    fn seen() -> &'static Seen {
        static SEEN: OnceLock<&'static Seen> = OnceLock::new();
        SEEN.get_or_init(|| {
            let seen: &'static Seen = Box::leak(Box::default());
            tracing::subscriber::set_global_default(Capture(seen)).unwrap();
            seen
        })
    }

    engine_test!(
        fn nodes_items_and_nested_runs_become_events_and_spans(engine) {
            let seen = seen();
            let name = format!("traced_{}", engine.name());
            let p = per_sentence_pipeline(&engine)
                .with_name(name.as_str())
                .with_config(RunConfig::new().with_callback(Tracing::new()));
            p.map(&Inputs::new().with("sentences", docs(8)), &["sentences"], MapMode::Zip)?;
            let spans = seen.spans.lock().unwrap().clone();
            let top = spans
                .iter()
                .find(|s| s.1 == "pipeline" && s.2 == format!("path={name} "))
                .expect("the run's span");
            assert_eq!(top.3, None);
            let nested: Vec<_> = spans
                .iter()
                .filter(|s| s.1 == "nested" && s.2.starts_with(&format!("path={name}/per_sentence ")))
                .collect();
            assert!(!nested.is_empty());
            assert!(nested.iter().all(|s| s.3 == Some(top.0)), "{nested:?}");
            let events = seen.events.lock().unwrap().clone();
            let mine = |what: &str| {
                events
                    .iter()
                    .filter(|e| e.1.contains(&format!("path={name}")) && e.1.contains(what))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            // Node events: DEBUG, with the node, items, time and cache status; the
            // inner node's under a nested span.
            let inner = mine("node=count_tokens");
            assert!(!inner.is_empty());
            for e in &inner {
                assert_eq!(e.0, tracing::Level::DEBUG);
                assert!(e.1.contains("elapsed_us=") && e.1.contains("cache=miss") && e.1.contains("items="), "{e:?}");
                assert!(nested.iter().any(|s| Some(s.0) == e.2), "{e:?}");
            }
            let counted: usize = inner
                .iter()
                .map(|e| e.1.split("count=").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap())
                .sum();
            assert_eq!(counted, 12); // 0 + 1 + 2 + 3, twice
            // The outer items: TRACE events under the run's span.
            let items = mine("message=item");
            assert!(items.iter().all(|e| e.0 == tracing::Level::TRACE));
            assert!(items.iter().any(|e| e.2 == Some(top.0)));
            assert_eq!(mine("message=pipeline end").len(), 1);
        }
    );

    #[test]
    fn a_failed_node_is_an_error_event() {
        let seen = seen();
        let fails = Node::builder("fails")
            .params(["x"])
            .output("y")
            .try_build(|x: i64| if x > 0 { Err(format!("no {x}")) } else { Ok(x) })
            .unwrap();
        let p = Pipeline::new([fails])
            .with_name("traced_failure")
            .with_config(RunConfig::new().with_callback(Tracing::new()));
        p.run(&Inputs::new().with("x", 5_i64)).unwrap_err();
        let events = seen.events.lock().unwrap().clone();
        let errors: Vec<_> = events
            .iter()
            .filter(|e| e.1.contains("path=traced_failure") && e.0 == tracing::Level::ERROR)
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}"); // the node's, the run's
        assert!(
            errors[0].1.contains("node=fails") && errors[0].1.contains("error=Node 'fails' failed: no 5"),
            "{errors:?}"
        );
    }
}
