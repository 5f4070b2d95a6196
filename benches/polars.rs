//! W1 and W2 of `shared/bench/WORKLOADS.md` at 1,000,000 rows from a Polars `DataFrame`
//! through the pipeline and back to a `DataFrame` (`ColumnarEngine::apply_to_polars`),
//! beside the same pipeline from an Arrow `RecordBatch` (`apply_to_batches`) and, for
//! W1, Polars' own expressions on the same frame, in one group per workload so the
//! report shows the ratios. Inputs are built outside the timed loops.
//!
//! `cargo bench --features polars --bench polars`. W2's Polars reference needs Polars'
//! `strings` feature, which would rebuild Polars for every test build:
//! `python3 benches/polars_reference.py w2 docs_1000000.parquet` (the same passages,
//! from `hypernodes gen-data --rows 1000000`) times it with Python Polars instead.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, StringViewArray};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hypernodes::ColumnarEngine;
use hypernodes::prelude::*;
use polars::prelude::{DataFrame, IntoColumn, IntoLazy, NamedFrom, Series, col, lit};

/// As in the workloads bench (and Polars' own builds).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 1_000_000;

#[node(output = "doubled")]
fn double(x: i64) -> i64 {
    2 * x
}

#[node(output = "incremented")]
fn add_one(doubled: i64) -> i64 {
    doubled + 1
}

#[node(output = "squared")]
fn square(incremented: i64) -> i64 {
    incremented * incremented
}

#[node(output = "cleaned_text")]
fn clean_text(passage: &str) -> String {
    passage.trim().to_lowercase()
}

#[node(output = "word_count")]
fn count_words(cleaned_text: &str) -> usize {
    cleaned_text.split_whitespace().count()
}

#[node(output = "char_count")]
fn char_count(cleaned_text: &str) -> usize {
    cleaned_text.chars().count()
}

fn frame(name: &str, column: Series) -> DataFrame {
    DataFrame::new(column.len(), vec![column.with_name(name.into()).into_column()]).unwrap()
}

fn w1(c: &mut Criterion) {
    let pipeline = Pipeline::new([double::node(), add_one::node(), square::node()]);
    let engine = ColumnarEngine::new();
    let xs: Vec<i64> = (0..N as i64).collect();
    let polars_frame = frame("x", Series::new("x".into(), &xs));
    let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(xs)) as ArrayRef)]).unwrap();
    let squared = |f: &DataFrame| f.column("squared").unwrap().i64().unwrap().get(N - 1);
    let last = Some((2 * (N as i64 - 1) + 1).pow(2));

    let mut group = c.benchmark_group("polars_w1");
    group.sample_size(20).throughput(Throughput::Elements(N as u64));
    assert_eq!(
        squared(&engine.apply_to_polars(&pipeline, &polars_frame).unwrap()),
        last
    );
    group.bench_with_input(BenchmarkId::new("polars_apply_to_polars", N), &polars_frame, |b, f| {
        b.iter(|| engine.apply_to_polars(&pipeline, f).unwrap())
    });
    group.bench_with_input(BenchmarkId::new("arrow_apply_to_batches", N), &batch, |b, batch| {
        b.iter(|| engine.apply_to_batches(&pipeline, std::slice::from_ref(batch)).unwrap())
    });
    let expressions = |f: &DataFrame| {
        f.clone()
            .lazy()
            .with_column((col("x") * lit(2_i64)).alias("doubled"))
            .with_column((col("doubled") + lit(1_i64)).alias("incremented"))
            .with_column((col("incremented") * col("incremented")).alias("squared"))
            .collect()
            .unwrap()
    };
    assert_eq!(squared(&expressions(&polars_frame)), last);
    group.bench_with_input(BenchmarkId::new("polars_expressions", N), &polars_frame, |b, f| {
        b.iter(|| expressions(f))
    });
    group.finish();
}

fn w2(c: &mut Criterion) {
    let pipeline = Pipeline::new([clean_text::node(), count_words::node(), char_count::node()]);
    let engine = ColumnarEngine::new();
    let blocks = N.div_ceil(hypernodes::datagen::BLOCK_ROWS);
    let passages: Vec<String> = (0..blocks)
        .flat_map(|b| {
            let block = hypernodes::datagen::docs_block(N, 42, b);
            let column = block.column_by_name("passage").unwrap().clone();
            let strings = column.as_any().downcast_ref::<StringArray>().unwrap().clone();
            strings.iter().map(|s| s.unwrap().to_string()).collect::<Vec<_>>()
        })
        .take(N)
        .collect();
    let polars_frame = frame("passage", Series::new("passage".into(), &passages));
    let utf8 = RecordBatch::try_from_iter([("passage", Arc::new(StringArray::from(passages.clone())) as ArrayRef)]);
    let view = RecordBatch::try_from_iter([("passage", Arc::new(StringViewArray::from(passages)) as ArrayRef)]);
    let (utf8, view) = (utf8.unwrap(), view.unwrap());
    let words = |f: &DataFrame| {
        f.column("word_count")
            .unwrap()
            .u64()
            .unwrap()
            .iter()
            .map(Option::unwrap)
            .sum::<u64>()
    };
    let expected: u64 = {
        let out = engine.apply_to_batches(&pipeline, std::slice::from_ref(&utf8)).unwrap();
        let counts = out.iter().map(|b| b.column_by_name("word_count").unwrap().clone());
        let counts =
            counts.map(|a| arrow::compute::sum(a.as_any().downcast_ref::<arrow::array::UInt64Array>().unwrap()));
        counts.map(Option::unwrap).sum()
    };
    assert_eq!(
        words(&engine.apply_to_polars(&pipeline, &polars_frame).unwrap()),
        expected
    );
    // To check against `polars_reference.py w2` on `hypernodes gen-data --rows 1000000`.
    println!("w2: word_count sum {expected}");

    let mut group = c.benchmark_group("polars_w2");
    group.sample_size(10).throughput(Throughput::Elements(N as u64));
    group.bench_with_input(BenchmarkId::new("polars_apply_to_polars", N), &polars_frame, |b, f| {
        b.iter(|| engine.apply_to_polars(&pipeline, f).unwrap())
    });
    group.bench_with_input(BenchmarkId::new("arrow_apply_to_batches", N), &utf8, |b, batch| {
        b.iter(|| engine.apply_to_batches(&pipeline, std::slice::from_ref(batch)).unwrap())
    });
    // The Polars path's input as the engine sees it: string views, cast to `Utf8`.
    group.bench_with_input(
        BenchmarkId::new("arrow_utf8view_apply_to_batches", N),
        &view,
        |b, batch| b.iter(|| engine.apply_to_batches(&pipeline, std::slice::from_ref(batch)).unwrap()),
    );
    group.finish();
}

criterion_group!(benches, w1, w2);
criterion_main!(benches);
