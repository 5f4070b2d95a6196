//! Property-based fuzzing on stable Rust (proptest): the pipeline-file loader
//! ([`spec`]) and the Arrow-to-Rust value readers ([`readers`]); the cache entry decoder's
//! target sits beside it, in `src/cache/encode.rs`. Every target checks that no input
//! panics, hangs or allocates without bound, that an error is one line naming what is
//! wrong, and that good input reads back exactly.
//!
//! # Case counts and seeds
//!
//! `cargo test` runs a short pass: 256 cases per target from the fixed seed 16, the same
//! cases every time. Two variables change that, for every target at once:
//!
//! - `HYPERNODES_FUZZ_CASES`: the cases per target;
//! - `HYPERNODES_FUZZ_SEED`: the seed (a `u64`).
//!
//! proptest's own variables still apply: `PROPTEST_FORK=true PROPTEST_TIMEOUT=10000` runs
//! the cases in a child process and fails one that runs longer than 10 s (a hang). A long
//! run of one target, in a release build:
//!
//! ```text
//! HYPERNODES_FUZZ_CASES=1000000 HYPERNODES_FUZZ_SEED=$RANDOM PROPTEST_FORK=true PROPTEST_TIMEOUT=10000 \
//!     cargo test --release --test it fuzz::spec::structured -- --exact
//! ```
//!
//! A failure prints the input, shrunk; it then becomes a named regression test with that
//! exact input and the exact error expected.

mod harness;
#[cfg(feature = "columnar")]
mod readers;
#[cfg(feature = "parquet")]
mod spec;
