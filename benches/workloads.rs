//! The workloads of `shared/bench/WORKLOADS.md`, one module each: every engine, the
//! same work as native DataFusion expressions, and hand-written Rust, in one group so
//! the report shows ratios. Inputs are built outside the timed loops.
//!
//! `cargo bench --bench workloads -- w1` runs one workload.

use criterion::{Criterion, criterion_group, criterion_main};

/// As in the `hypernodes` command (and DataFusion's and Polars' own builds): the system
/// allocator returns the megabytes a run frees to the kernel and faults them in again on
/// the next iteration, which would measure its heuristics rather than the engines.
/// `benches/system_alloc.rs` runs W1 with the system allocator, as a library's users
/// get it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "workloads/common.rs"]
mod common;

/// The name of W1's group in this bench (`system_alloc` runs it under another).
const W1_GROUP: &str = "w1";

#[path = "workloads/w1.rs"]
mod w1;

mod w2 {
    //! W2, text: clean_text -> count_words, char_count over generated passages.
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, StringBuilder, UInt64Array};
    use criterion::{BenchmarkId, Criterion, Throughput};
    use datafusion::functions::expr_fn::{btrim, character_length, lower};
    use datafusion::functions_nested::expr_fn::{cardinality, string_to_array};
    use datafusion::prelude::{col, lit};
    use hypernodes::ColumnarEngine;
    use hypernodes::prelude::*;

    #[node(output = "cleaned_text")]
    pub fn clean_text(passage: &str) -> String {
        passage.trim().to_lowercase()
    }

    #[node(output = "word_count")]
    pub fn count_words(cleaned_text: &str) -> usize {
        cleaned_text.split_whitespace().count()
    }

    #[node(output = "char_count")]
    pub fn char_count(cleaned_text: &str) -> usize {
        cleaned_text.chars().count()
    }

    /// Passages as in WORKLOADS.md: 5..40 vocabulary words, 10% upper-cased, joined by
    /// single spaces, 0..3 spaces on each side (splitmix64, seeded).
    pub fn passages(n: usize, seed: u64) -> Vec<String> {
        let mut next = super::common::rng(seed);
        (0..n)
            .map(|_| {
                let words = 5 + next(36);
                let mut s = " ".repeat(next(4) as usize);
                for w in 0..words {
                    if w > 0 {
                        s.push(' ');
                    }
                    let word = format!("w{:04}", next(1000));
                    s.push_str(&if next(10) == 0 { word.to_uppercase() } else { word });
                }
                s.push_str(&" ".repeat(next(4) as usize));
                s
            })
            .collect()
    }

    pub fn bench(c: &mut Criterion) {
        let rt = super::common::runtime();
        let pipeline = Pipeline::new([clean_text::node(), count_words::node(), char_count::node()]);
        let columnar = pipeline.with_engine(ColumnarEngine::new());
        let partitions = ColumnarEngine::new().partitions();
        let mut group = c.benchmark_group("w2");
        group.sample_size(10);
        let n = 1_000_000;
        let texts = passages(n, 42);
        let inputs = Inputs::new().with("passage", texts.clone());
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("node_engine", n), &inputs, |b, inputs| {
            b.iter(|| pipeline.map(inputs, &["passage"], MapMode::Zip).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("columnar_engine", n), &inputs, |b, inputs| {
            b.iter(|| columnar.map(inputs, &["passage"], MapMode::Zip).unwrap())
        });
        let array = Arc::new(StringArray::from(texts));
        let exprs = [
            ("cleaned_text", lower(btrim(vec![col("passage")]))),
            (
                "word_count",
                cardinality(string_to_array(
                    col("cleaned_text"),
                    lit(" "),
                    lit(datafusion::common::ScalarValue::Utf8(None)),
                )),
            ),
            ("char_count", character_length(col("cleaned_text"))),
        ];
        group.bench_with_input(BenchmarkId::new("datafusion_native", n), &array, |b, array| {
            b.iter(|| super::common::native(&rt, "passage", array.clone(), partitions, &exprs))
        });
        let batch = RecordBatch::try_from_iter([("passage", array.clone() as ArrayRef)]).unwrap();
        let engine = ColumnarEngine::new();
        group.bench_with_input(BenchmarkId::new("columnar_apply_to_batch", n), &batch, |b, batch| {
            b.iter(|| engine.apply_to_batch(&pipeline, batch).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("columnar_apply_to_batches", n), &batch, |b, batch| {
            b.iter(|| engine.apply_to_batches(&pipeline, std::slice::from_ref(batch)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("hand_written_arrow", n), &array, |b, array| {
            b.iter(|| {
                super::common::split_over_cores(array.len(), partitions, |start, len| hand(&array.slice(start, len)))
            })
        });
        group.finish();
    }

    /// The three functions over a string array by hand: cleaned text built in place, and
    /// the counts over it (`usize` as `UInt64`, as the engine stores it).
    fn hand(passages: &StringArray) -> (StringArray, UInt64Array, UInt64Array) {
        let mut cleaned = StringBuilder::with_capacity(passages.len(), passages.values().len());
        for p in passages.iter() {
            match p {
                Some(p) => cleaned.append_value(clean_text(p)),
                None => cleaned.append_null(),
            }
        }
        let cleaned = cleaned.finish();
        let words: UInt64Array = cleaned.iter().map(|c| c.map(|c| count_words(c) as u64)).collect();
        let chars: UInt64Array = cleaned.iter().map(|c| c.map(|c| char_count(c) as u64)).collect();
        (cleaned, words, chars)
    }
}

mod w4 {
    //! W4, nested map: per document, `tokens(sentence)` mapped over its sentences by a
    //! nested pipeline, then `total(tokens) = sum`.
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, RecordBatch, StringArray, UInt64Array};
    use arrow::buffer::OffsetBuffer;
    use arrow::datatypes::{DataType, Field, Schema};
    use criterion::{BenchmarkId, Criterion, Throughput};
    use datafusion::functions_aggregate::expr_fn::{array_agg, sum};
    use datafusion::functions_nested::expr_fn::{cardinality, string_to_array};
    use datafusion::prelude::{SessionConfig, SessionContext, col, lit};
    use hypernodes::ColumnarEngine;
    use hypernodes::prelude::*;

    #[node(output = "tokens")]
    fn tokens(sentence: &str) -> usize {
        sentence.split_whitespace().count()
    }

    #[node(output = "total")]
    fn total(token_counts: &[usize]) -> usize {
        token_counts.iter().sum()
    }

    /// Per document 1..8 sentences of 3..12 vocabulary words, as in WORKLOADS.md.
    fn documents(n: usize, seed: u64) -> Vec<Vec<String>> {
        let mut next = super::common::rng(seed);
        (0..n)
            .map(|_| {
                (0..1 + next(8))
                    .map(|_| {
                        (0..3 + next(10))
                            .map(|_| format!("w{:04}", next(1000)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect()
            })
            .collect()
    }

    pub fn bench(c: &mut Criterion) {
        let rt = super::common::runtime();
        let per_sentence = Pipeline::new([tokens::node()])
            .as_node("per_sentence")
            .with_input_mapping([("sentences", "sentence")])
            .with_output_mapping([("tokens", "token_counts")])
            .with_map_over(["sentences"])
            .build()
            .unwrap();
        let pipeline = Pipeline::new([per_sentence, total::node()]);
        let columnar = pipeline.with_engine(ColumnarEngine::new());
        let partitions = ColumnarEngine::new().partitions();
        let mut group = c.benchmark_group("w4");
        group.sample_size(10);
        let n = 1_000_000;
        let docs = documents(n, 7);
        let inputs = Inputs::new().with("sentences", docs.clone());
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("node_engine", n), &inputs, |b, inputs| {
            b.iter(|| pipeline.map(inputs, &["sentences"], MapMode::Zip).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("columnar_engine", n), &inputs, |b, inputs| {
            b.iter(|| columnar.map(inputs, &["sentences"], MapMode::Zip).unwrap())
        });

        // The reference: unnest the sentences, count tokens natively, group by document.
        let flat: Vec<&str> = docs.iter().flatten().map(String::as_str).collect();
        let offsets = OffsetBuffer::from_lengths(docs.iter().map(Vec::len));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            offsets,
            Arc::new(StringArray::from(flat)),
            None,
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("sentences", list.data_type().clone(), true),
        ]));
        let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(0..n as i64)), Arc::new(list)];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let table = super::common::table(&batch, partitions);
        // Like for like with the reference: Arrow lists in, Arrow columns out.
        let engine = ColumnarEngine::new();
        group.bench_with_input(BenchmarkId::new("columnar_apply_to_batch", n), &batch, |b, batch| {
            b.iter(|| engine.apply_to_batch(&pipeline, batch).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("columnar_apply_to_batches", n), &batch, |b, batch| {
            b.iter(|| engine.apply_to_batches(&pipeline, std::slice::from_ref(batch)).unwrap())
        });
        let lists = batch.column(1).as_list::<i32>().clone();
        group.bench_with_input(BenchmarkId::new("hand_written_arrow", n), &lists, |b, lists| {
            b.iter(|| {
                super::common::split_over_cores(lists.len(), partitions, |start, len| hand(&lists.slice(start, len)))
            })
        });
        group.bench_function(BenchmarkId::new("datafusion_unnest_group_by", n), |b| {
            b.iter(|| {
                let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
                let df = ctx
                    .read_table(table.clone())
                    .unwrap()
                    .unnest_columns(&["sentences"])
                    .unwrap()
                    .with_column(
                        "tokens",
                        cardinality(string_to_array(
                            col("sentences"),
                            lit(" "),
                            lit(datafusion::common::ScalarValue::Utf8(None)),
                        )),
                    )
                    .unwrap()
                    .aggregate(
                        vec![col("id")],
                        vec![
                            array_agg(col("tokens")).alias("token_counts"),
                            sum(col("tokens")).alias("total"),
                        ],
                    )
                    .unwrap()
                    .sort(vec![col("id").sort(true, false)])
                    .unwrap();
                rt.block_on(df.collect()).unwrap()
            })
        });
        group.finish();
    }

    /// The nested map by hand over one slice of the documents' list array: `tokens` over
    /// the sentences the slice holds, their lists rebuilt from the same offsets, and each
    /// document's `total`.
    fn hand(docs: &ListArray) -> (ListArray, UInt64Array) {
        let offsets = docs.value_offsets();
        let (first, last) = (offsets[0] as usize, offsets[docs.len()] as usize);
        let sentences = docs.values().as_string::<i32>().slice(first, last - first);
        let tokens: UInt64Array = sentences.iter().map(|s| s.map(|s| tokens(s) as u64)).collect();
        let counts = tokens.values();
        let totals: UInt64Array = offsets
            .windows(2)
            .map(|w| total_u64(&counts[w[0] as usize - first..w[1] as usize - first]))
            .collect();
        let offsets = OffsetBuffer::new(offsets.iter().map(|o| o - offsets[0]).collect::<Vec<i32>>().into());
        let field = Arc::new(Field::new_list_field(DataType::UInt64, true));
        (
            ListArray::new(field, offsets, Arc::new(tokens), docs.nulls().cloned()),
            totals,
        )
    }

    /// `total` over the `u64` counts as Arrow holds them.
    fn total_u64(counts: &[u64]) -> u64 {
        counts.iter().sum()
    }
}

mod w5 {
    //! W5, the cache: W2 with a disk cache, cold (emptied before each run), warm (every
    //! item found) and without a cache, on both engines through `Pipeline::map`, and on
    //! the columnar engine through `apply_to_batches` over 8,192-row batches (what a
    //! Parquet reader hands over); W5-heavy: W2 plus `embed(cleaned_text)`, a 50 µs
    //! integer hash mix per item, at 100,000 rows.
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray};
    use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
    use hypernodes::prelude::*;
    use hypernodes::{CacheReport, ColumnarEngine};

    use super::w2::{char_count, clean_text, count_words};

    /// 30,000 rounds of W7's mix from the text's bytes: about 50 µs here.
    #[node(output = "embedding")]
    fn embed(cleaned_text: &str) -> i64 {
        let mut h: u64 = cleaned_text.bytes().fold(1, |h, b| (h * 31 + b as u64) & 0xFFFF_FFFF);
        for _ in 0..30_000 {
            h = (((h >> 16) ^ h).wrapping_mul(0x45D9F3B)) & 0xFFFF_FFFF;
        }
        h as i64
    }

    /// How a bench calls the pipeline.
    #[derive(Clone, Copy)]
    enum Call {
        /// `Pipeline::map` over a list of passages.
        Map,
        /// `ColumnarEngine::apply_to_batches` over the passages' batches.
        Batches,
    }

    fn group(c: &mut Criterion, name: &str, n: usize, nodes: Vec<Node>, samples: usize) {
        let dir = std::env::temp_dir().join(format!("hypernodes-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = Cache::disk(&dir).unwrap();
        let passages = super::w2::passages(n, 42);
        let column: ArrayRef = Arc::new(StringArray::from(passages.clone()));
        let whole = RecordBatch::try_from_iter([("passage", column)]).unwrap();
        let batches: Vec<RecordBatch> = (0..n).step_by(8192).map(|o| whole.slice(o, 8192.min(n - o))).collect();
        let inputs = Inputs::new().with("passage", passages);
        let mut group = c.benchmark_group(name);
        group.sample_size(samples);
        group.throughput(Throughput::Elements(n as u64));
        let columnar = Pipeline::new(nodes.clone()).with_engine(ColumnarEngine::new());
        let engines: [(&str, Pipeline, Call); 3] = [
            ("node", Pipeline::new(nodes).with_engine(NodeEngine::new()), Call::Map),
            ("columnar", columnar.clone(), Call::Map),
            ("apply_to_batches", columnar, Call::Batches),
        ];
        for (engine, plain, call) in engines {
            let with_cache = plain.with_config(RunConfig::new().with_cache(cache.clone()));
            // The rows out, and the cache's report where the call gives one.
            let run = |p: &Pipeline| -> (usize, Option<CacheReport>) {
                match call {
                    Call::Map => {
                        let out = p.map(&inputs, &["passage"], MapMode::Zip).unwrap();
                        (out.len(), out.cache_report().cloned())
                    }
                    Call::Batches => {
                        let out = ColumnarEngine::new().apply_to_batches(p, &batches).unwrap();
                        (out.iter().map(RecordBatch::num_rows).sum(), None)
                    }
                }
            };
            group.bench_function(BenchmarkId::new(engine, "no_cache"), |b| {
                b.iter(|| assert_eq!(run(&plain).0, n))
            });
            group.bench_function(BenchmarkId::new(engine, "cold"), |b| {
                b.iter_batched(
                    || cache.clear(None).unwrap(),
                    |_| {
                        let (rows, report) = run(&with_cache);
                        assert_eq!(rows, n);
                        assert!(report.is_none_or(|r| r.hits() == 0));
                    },
                    BatchSize::PerIteration,
                )
            });
            cache.clear(None).unwrap();
            run(&with_cache);
            let stats = cache.stats().unwrap();
            // Every item of every node is committed when the call returns.
            assert_eq!(stats.items, (n * with_cache.nodes().len()) as u64);
            println!(
                "{name} {engine}: {} items in {} blocks, {} payload bytes, data.mdb {} bytes ({:.1} MB per million items)",
                stats.items,
                stats.blocks,
                stats.bytes,
                stats.file_bytes,
                stats.file_bytes as f64 / stats.items as f64
            );
            group.bench_function(BenchmarkId::new(engine, "warm"), |b| {
                b.iter(|| {
                    let (rows, report) = run(&with_cache);
                    assert_eq!(rows, n);
                    assert!(report.is_none_or(|r| r.misses() == 0));
                })
            });
        }
        group.finish();
        drop(cache);
        let _ = std::fs::remove_dir_all(&dir);
    }

    pub fn bench(c: &mut Criterion) {
        group(
            c,
            "w5",
            1_000_000,
            vec![clean_text::node(), count_words::node(), char_count::node()],
            10,
        );
        group(
            c,
            "w5_heavy",
            100_000,
            vec![
                clean_text::node(),
                count_words::node(),
                char_count::node(),
                embed::node(),
            ],
            10,
        );
    }
}

mod w6 {
    //! W6, I/O-bound: `fetch(x)` awaits a 1 ms timer and returns `x`, mapped over 2,000
    //! items; W6-blocking: the same with a blocking 1 ms sleep in a plain fn. Every
    //! engine with every map executor, beside the same waits by hand (ideal: 20 ms at 100
    //! in flight, 31 ms on 64 threads).
    //!
    //! tokio's timer wheel ticks every millisecond and rounds a deadline up to the end of
    //! its tick, so a 1 ms `sleep` begun just after a tick ends two ticks later: 100 in
    //! flight take about 2,000 / 100 x 2 ms = 40 ms, as the hand-written `async:100` shows.
    //!
    //! On the columnar engine `fetch` (an `async fn`, no kernel) runs row by row with the
    //! map executor; `fetch_blocking` (a plain fn over `i64`) gets a vectorized kernel and
    //! runs in batches whatever the map executor is, and 2,000 rows make one partition:
    //! its four columnar figures are the same sequential run, measured four times.
    use std::time::Duration;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use futures::StreamExt;
    use hypernodes::prelude::*;

    const N: i64 = 2_000;

    #[node(output = "fetched")]
    async fn fetch(x: i64) -> i64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        x
    }

    #[node(output = "fetched")]
    fn fetch_blocking(x: i64) -> i64 {
        std::thread::sleep(Duration::from_millis(1));
        x
    }

    pub fn bench(c: &mut Criterion) {
        let xs: Vec<i64> = (0..N).collect();
        let inputs = Inputs::new().with("x", xs.clone());
        let checksum: i64 = xs.iter().sum();
        let check = |out: &hypernodes::MapOutputs| {
            let fetched = out.column::<i64>("fetched").unwrap();
            assert_eq!(fetched.iter().sum::<i64>(), checksum);
            assert_eq!(fetched, xs.as_slice());
        };
        for (name, node) in [("w6", fetch::node()), ("w6_blocking", fetch_blocking::node())] {
            let mut group = c.benchmark_group(name);
            group.throughput(Throughput::Elements(N as u64));
            for (engine, exec, pipeline) in super::common::on_every_executor(&Pipeline::new([node])) {
                super::common::checked_bench(
                    &mut group,
                    BenchmarkId::new(engine, exec),
                    || pipeline.map(&inputs, &["x"], MapMode::Zip).unwrap(),
                    check,
                );
            }
            let check = |out: &Vec<i64>| assert_eq!(out, &xs);
            if name == "w6" {
                // The same timers awaited by hand, 100 in flight on one tokio thread:
                // the floor tokio's 1 ms timer wheel allows.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap();
                super::common::checked_bench(
                    &mut group,
                    BenchmarkId::new("hand_written", "async:100"),
                    || {
                        rt.block_on(
                            futures::stream::iter(xs.iter().map(|&x| fetch(x)))
                                .buffered(100)
                                .collect::<Vec<i64>>(),
                        )
                    },
                    check,
                );
            } else {
                // The same sleeps by hand on 64 threads, 1/64 of the items each.
                super::common::checked_bench(
                    &mut group,
                    BenchmarkId::new("hand_written", "threaded:64"),
                    || {
                        super::common::split_over_cores(xs.len(), 64, |start, len| {
                            xs[start..start + len]
                                .iter()
                                .map(|&x| fetch_blocking(x))
                                .collect::<Vec<i64>>()
                        })
                        .concat()
                    },
                    check,
                );
            }
            group.finish();
        }
    }
}

mod w7 {
    //! W7, CPU-bound: `burn(x)`, 20,000 rounds of an integer hash mix from `x + 1`, mapped
    //! over 20,000 items. Every engine with every map executor, beside the same loop by
    //! hand, sequential and with rayon. Checksum: the sum of the outputs.
    //!
    //! On the columnar engine `burn` (a plain fn over `i64`) gets a vectorized kernel and
    //! runs in batches over the partitions (two of 10,000 rows here on two or more cores)
    //! whatever the map executor is: its four columnar figures measure the same plan.
    use std::hint::black_box;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use hypernodes::prelude::*;
    use rayon::prelude::*;

    const N: i64 = 20_000;

    #[node(output = "burned")]
    fn burn(x: i64) -> i64 {
        let mut h = x + 1;
        for _ in 0..20_000 {
            h = ((h >> 16) ^ h).wrapping_mul(0x45D9F3B) & 0xFFFF_FFFF;
        }
        h
    }

    pub fn bench(c: &mut Criterion) {
        let xs: Vec<i64> = (0..N).collect();
        let reference: Vec<i64> = xs.iter().map(|&x| burn(x)).collect();
        let checksum: i64 = reference.iter().sum();
        let inputs = Inputs::new().with("x", xs.clone());
        let mut group = c.benchmark_group("w7");
        group.throughput(Throughput::Elements(N as u64));
        for (engine, exec, pipeline) in super::common::on_every_executor(&Pipeline::new([burn::node()])) {
            super::common::checked_bench(
                &mut group,
                BenchmarkId::new(engine, exec),
                || pipeline.map(&inputs, &["x"], MapMode::Zip).unwrap(),
                |out| {
                    let burned = out.column::<i64>("burned").unwrap();
                    assert_eq!(burned.iter().sum::<i64>(), checksum);
                    assert_eq!(burned, reference.as_slice());
                },
            );
        }
        let check = |out: &Vec<i64>| assert_eq!(out, &reference);
        super::common::checked_bench(
            &mut group,
            BenchmarkId::new("hand_written", "sequential"),
            || black_box(&xs).iter().map(|&x| burn(x)).collect::<Vec<i64>>(),
            check,
        );
        super::common::checked_bench(
            &mut group,
            BenchmarkId::new("hand_written", "parallel"),
            || black_box(&xs).par_iter().map(|&x| burn(x)).collect::<Vec<i64>>(),
            check,
        );
        group.finish();
    }
}

#[path = "workloads/w8.rs"]
mod w8;

fn workloads(c: &mut Criterion) {
    w1::bench(c);
    w2::bench(c);
    w4::bench(c);
    w5::bench(c);
    w6::bench(c);
    w7::bench(c);
    w8::bench(c);
}

criterion_group!(benches, workloads);
criterion_main!(benches);
