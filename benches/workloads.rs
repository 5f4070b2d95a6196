//! The workloads of `shared/bench/WORKLOADS.md`, one module each, every engine and the
//! hand-written reference in one group so the report shows ratios.
//!
//! `cargo bench --bench workloads -- w1` runs one workload.

use criterion::{criterion_group, criterion_main, Criterion};

mod w1 {
    //! W1, overhead: double -> add_one -> square mapped over x = 0..n.
    use std::hint::black_box;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use hypernodes::prelude::*;

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

    pub fn bench(c: &mut Criterion) {
        let pipeline = Pipeline::new([double::node(), add_one::node(), square::node()]);
        let mut group = c.benchmark_group("w1");
        group.sample_size(10);
        for n in [100_000_i64, 1_000_000] {
            let xs: Vec<i64> = (0..n).collect();
            let inputs = Inputs::new().with("x", xs.clone());
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("node_engine", n), &inputs, |b, inputs| {
                b.iter(|| pipeline.map(inputs, &["x"], MapMode::Zip).unwrap())
            });
            // The same three outputs computed by hand, one Vec each: the floor.
            group.bench_with_input(BenchmarkId::new("hand_written", n), &xs, |b, xs| {
                b.iter(|| {
                    let doubled: Vec<i64> = xs.iter().map(|&x| double(x)).collect();
                    let incremented: Vec<i64> = doubled.iter().map(|&d| add_one(d)).collect();
                    let squared: Vec<i64> = incremented.iter().map(|&i| square(i)).collect();
                    black_box((doubled, incremented, squared))
                })
            });
        }
        group.finish();
    }
}

fn workloads(c: &mut Criterion) {
    w1::bench(c);
}

criterion_group!(benches, workloads);
criterion_main!(benches);
