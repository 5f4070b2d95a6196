//! The integration tests: one binary, a module per feature. Every case that an engine
//! could change is written once with `engine_test!` and runs on every engine.

#[macro_use]
mod common;

mod as_node;
mod bind;
#[cfg(feature = "columnar")]
mod columnar;
mod errors;
mod map;
mod nodes;
mod pipeline;
mod resources;
mod run;
mod values;
