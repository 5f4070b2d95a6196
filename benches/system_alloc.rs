//! W1 with the system allocator, as a program that uses the library gets it (the
//! `workloads` bench, like the `hypernodes` command, runs on mimalloc). The same module
//! as `workloads`' W1, in a group of its own:
//!
//! `cargo bench --bench system_alloc -- 'apply_to_batches|hand_written_arrow'`

use criterion::{criterion_group, criterion_main};

#[path = "workloads/common.rs"]
#[allow(dead_code)]
mod common;

/// The name of W1's group in this bench.
const W1_GROUP: &str = "w1_system_alloc";

#[path = "workloads/w1.rs"]
mod w1;

criterion_group!(benches, w1::bench);
criterion_main!(benches);
