//! The columnar engine's calls and output buffers: which batches one kernel call
//! computes, and the output pool that lends dropped buffers to the next call. Columnar
//! only: the node engine has neither batches nor Arrow buffers.

use crate::common::*;
use hypernodes::ColumnarEngine;
use hypernodes::prelude::*;

#[test]
fn outputs_dropped_lend_their_buffers_to_the_next_call() {
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array, RecordBatch};

    // One partition: the batches are computed in order, on the calling thread; batches
    // of 65,536 rows are computed one per call (smaller ones would be joined).
    let engine = ColumnarEngine::new().with_partitions(1).with_batch_size(65_536);
    assert_eq!(engine.output_pool(), 32 << 20);
    let p = Pipeline::new(w1());
    let n = 10 * 65_536;
    let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from_iter_values(0..n)) as _)]).unwrap();
    let run = |engine: &ColumnarEngine| engine.apply_to_batches(&p, std::slice::from_ref(&batch)).unwrap();
    // Where each output batch's values are.
    let blocks = |out: &[RecordBatch]| -> Vec<[usize; 3]> {
        out.iter()
            .map(|b| {
                ["doubled", "incremented", "squared"]
                    .map(|c| b.column_by_name(c).unwrap().to_data().buffers()[0].as_ptr() as usize)
            })
            .collect()
    };
    let first = run(&engine);
    let lent = blocks(&first);
    assert_eq!(lent.len(), 10);
    // Dropped last batch first, the blocks are reused in that order: the next call's
    // first batch is written where the last one was (an allocator handing the same
    // memory back would give it in the order it was allocated).
    first.into_iter().rev().for_each(drop);
    let second = run(&engine);
    let mut reversed = lent.clone();
    reversed.reverse();
    assert_eq!(blocks(&second), reversed);
    let squared: Vec<i64> = second
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("squared").unwrap();
            c.as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
        })
        .collect();
    assert_eq!(squared, (0..n).map(|x| (2 * x + 1) * (2 * x + 1)).collect::<Vec<i64>>());
    // An array still held keeps its block; a clone of the engine shares the pool.
    let held = second[0].column_by_name("squared").unwrap().clone();
    let lent = blocks(&second);
    second.into_iter().rev().for_each(drop);
    let third = blocks(&run(&engine.clone()));
    let mut reversed = lent.clone();
    reversed.reverse();
    assert_eq!(third[..9], reversed[..9]);
    assert_eq!(third[9][..2], reversed[9][..2]);
    assert_ne!(third[9][2], held.to_data().buffers()[0].as_ptr() as usize);
    assert_eq!(ColumnarEngine::new().with_output_pool(0).output_pool(), 0);
}

#[test]
fn consecutive_batches_are_computed_in_one_call_unless_something_sees_them() {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch};
    use hypernodes::events::Callback;

    struct Watching;
    impl Callback for Watching {}

    let x = |rows: std::ops::Range<i64>| {
        RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from_iter_values(rows)) as ArrayRef)]).unwrap()
    };
    // Per output batch: its rows, and which of the call's allocations its `squared` values
    // are in (batches computed in one call share one).
    let calls = |out: &[RecordBatch]| -> (Vec<usize>, Vec<usize>) {
        let mut seen = Vec::new();
        let call = out
            .iter()
            .map(|b| {
                let base = b.column_by_name("squared").unwrap().to_data().buffers()[0].data_ptr();
                if seen.last() != Some(&base) {
                    seen.push(base);
                }
                seen.len() - 1
            })
            .collect();
        (out.iter().map(RecordBatch::num_rows).collect(), call)
    };
    let engine = ColumnarEngine::new().with_partitions(1).with_batch_size(1000);
    let p = Pipeline::new(w1());
    // Batches of 1,000 rows come out, computed 65 at a time (65,536 rows at most per call).
    let out = engine.apply_to_batches(&p, &[x(0..100_000)]).unwrap();
    let (rows, call) = calls(&out);
    assert_eq!(rows, vec![1000; 100]);
    assert_eq!(call, (0..100).map(|b| usize::from(b >= 65)).collect::<Vec<_>>());
    let squared = |out: &[RecordBatch]| -> Vec<i64> {
        out.iter()
            .flat_map(|b| {
                let c = b.column_by_name("squared").unwrap();
                c.as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
            })
            .collect()
    };
    let expected: Vec<i64> = (0..100_000).map(|x| (2 * x + 1) * (2 * x + 1)).collect();
    assert_eq!(squared(&out), expected);
    // A call never spans two input batches (its arguments stay slices): 4 of 25,000 rows
    // give 4 calls.
    let four: Vec<RecordBatch> = (0..4).map(|k| x(k * 25_000..(k + 1) * 25_000)).collect();
    let out = engine.apply_to_batches(&p, &four).unwrap();
    let (rows, call) = calls(&out);
    assert_eq!(rows, vec![1000; 100]);
    assert_eq!(call, (0..100).map(|b| b / 25).collect::<Vec<_>>());
    assert_eq!(squared(&out), expected);
    // Callbacks see each batch: each is a call of its own.
    let watched = p.with_config(RunConfig::new().with_callback(Watching));
    let out = engine.apply_to_batches(&watched, &[x(0..100_000)]).unwrap();
    let (rows, call) = calls(&out);
    assert_eq!(rows, vec![1000; 100]);
    assert_eq!(call, (0..100).collect::<Vec<_>>());
    assert_eq!(squared(&out), expected);
}
