//! The integration tests: one binary, a module per feature. Every case that an engine
//! could change is written once with `engine_test!` and runs on every engine.

#[macro_use]
mod common;

mod as_node;
#[cfg(feature = "parquet")]
mod bad_values;
#[cfg(feature = "parquet")]
mod binary;
mod bind;
#[cfg(feature = "columnar")]
mod boundaries;
mod cache;
mod cache_store;
#[cfg(feature = "columnar")]
mod calls;
#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "columnar")]
mod cold_cache;
#[cfg(feature = "columnar")]
mod columnar;
#[cfg(feature = "parquet")]
mod columns;
// Disk caches.
#[cfg(feature = "columnar")]
mod commit;
#[cfg(feature = "parquet")]
mod decimal;
#[cfg(feature = "parquet")]
mod dictionary;
mod entrypoint;
mod errors;
mod event_data;
mod events;
mod executors;
#[cfg(feature = "parquet")]
mod formats;
#[cfg(feature = "columnar")]
mod fuzz;
#[cfg(feature = "cli")]
mod guide;
mod handles;
// SIGKILL and the process ids in temporary files' names: Unix.
#[cfg(feature = "parquet")]
mod incremental;
#[cfg(feature = "parquet")]
mod interval;
#[cfg(all(feature = "cli", unix))]
mod kill;
mod map;
#[cfg(feature = "parquet")]
mod maps;
#[cfg(feature = "cli")]
mod matrix;
mod nodes;
#[cfg(feature = "parquet")]
mod nulls;
#[cfg(feature = "columnar")]
mod one_plan;
#[cfg(feature = "parquet")]
mod parquet;
mod pipeline;
#[cfg(feature = "polars")]
mod polars;
#[cfg(feature = "progress")]
mod progress;
#[cfg(feature = "parquet")]
mod real_files;
#[cfg(feature = "parquet")]
mod recompute;
mod resources;
// SIGKILL and the temporary files a killed run leaves: Unix.
#[cfg(all(feature = "cli", unix))]
mod resume;
// The same, inside a file: the journal of its batches.
#[cfg(all(feature = "cli", unix))]
mod resume_inside;
mod run;
#[cfg(all(feature = "cloud", feature = "cli"))]
mod s3;
#[cfg(feature = "parquet")]
mod spec;
#[cfg(feature = "parquet")]
mod struct_fields;
#[cfg(feature = "parquet")]
mod temporal;
#[cfg(feature = "parquet")]
mod temporal_sql;
mod trace;
mod values;
#[cfg(feature = "columnar")]
mod views;
mod viz;
#[cfg(feature = "columnar")]
mod viz_graph;
/// W8's nodes, shared with the bench and `examples/w8.rs`.
#[cfg(feature = "parquet")]
#[path = "../../benches/w8_nodes.rs"]
mod w8_nodes;
#[cfg(feature = "parquet")]
mod writer;
