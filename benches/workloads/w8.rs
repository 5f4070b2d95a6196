//! W8, typed columns: over the `events` data set (`hypernodes::datagen::events_block`),
//! `hour(ts)` truncates a `Timestamp(µs, "UTC")` to its hour, `convert(amount, rate)`
//! multiplies a `Decimal128(12, 2)` by a bound rate and rounds to cents, and
//! `normalise(category)` trims and lower-cases a dictionary-encoded string.
use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Decimal128Array, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{Decimal128Type, Int32Type, TimestampMicrosecondType};
use chrono::DateTime;
use criterion::{BenchmarkId, Criterion, Throughput};
use hypernodes::ColumnarEngine;
use rust_decimal::Decimal;

#[path = "../w8_nodes.rs"]
mod w8_nodes;
use w8_nodes::{convert, hour, normalise, rate};

/// The three functions over the columns by hand: each row's values read from the
/// arrays, the functions called, the results appended, as the engine stores them
/// (`Decimal` as `Decimal128(38, 18)`).
fn hand(batch: &RecordBatch, rate: Decimal) -> Vec<ArrayRef> {
    let ts = batch
        .column_by_name("ts")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let amounts = batch.column_by_name("amount").unwrap().as_primitive::<Decimal128Type>();
    let scale = amounts.scale() as u32;
    let category = batch.column_by_name("category").unwrap().as_dictionary::<Int32Type>();
    let names = category.values().as_string::<i32>();
    let hours: TimestampMicrosecondArray = ts
        .values()
        .iter()
        .map(|&t| hour(DateTime::from_timestamp_micros(t).unwrap()).timestamp_micros())
        .collect::<Vec<_>>()
        .into();
    let converted: Decimal128Array = amounts
        .values()
        .iter()
        .map(|&a| {
            let mut d = convert(Decimal::from_i128_with_scale(a, scale), rate);
            d.rescale(18);
            d.mantissa()
        })
        .collect::<Vec<_>>()
        .into();
    let mut clean = StringBuilder::with_capacity(category.len(), category.len() * 8);
    for &k in category.keys().values() {
        clean.append_value(normalise(names.value(k as usize)));
    }
    vec![
        Arc::new(hours.with_timezone("UTC")),
        Arc::new(converted.with_precision_and_scale(38, 18).unwrap()),
        Arc::new(clean.finish()),
    ]
}

pub fn bench(c: &mut Criterion) {
    let n: usize = 1_000_000;
    let blocks: Vec<RecordBatch> = (0..n.div_ceil(hypernodes::datagen::BLOCK_ROWS))
        .map(|b| hypernodes::datagen::events_block(n, 42, b))
        .collect();
    let batch = arrow::compute::concat_batches(&blocks[0].schema(), &blocks).unwrap();
    let batch = batch.project(&[1, 3, 4]).unwrap(); // ts, amount, category
    let pipeline = w8_nodes::pipeline();
    let engine = ColumnarEngine::new();
    let partitions = engine.partitions();
    let expected = hand(&batch, rate());

    let mut group = c.benchmark_group("w8");
    group.sample_size(10).throughput(Throughput::Elements(n as u64));
    group.bench_with_input(BenchmarkId::new("columnar_apply_to_batch", n), &batch, |b, batch| {
        let out = engine.apply_to_batch(&pipeline, batch).unwrap();
        for (name, want) in ["hour", "amount_eur", "category_clean"].iter().zip(&expected) {
            assert_eq!(out.column_by_name(name).unwrap(), want, "{name}");
        }
        b.iter(|| engine.apply_to_batch(&pipeline, batch).unwrap())
    });
    group.bench_with_input(BenchmarkId::new("hand_written_arrow", n), &batch, |b, batch| {
        b.iter(|| {
            super::common::split_over_cores(batch.num_rows(), partitions, |start, len| {
                hand(&batch.slice(start, len), black_box(rate()))
            })
        })
    });
    group.finish();
}
