//! The `hypernodes` command built into your own binary, with a function of your own
//! that pipeline files can call (`function = "shout"`):
//!
//! ```sh
//! cargo run --release --example my_cli -- run examples/text.toml
//! ```

use hypernodes::prelude::*;
use hypernodes::spec::Registry;

/// Upper-cased.
#[node(output = "shouted")]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

fn main() -> std::process::ExitCode {
    let mut registry = Registry::new();
    registry.register(shout::node());
    hypernodes::cli::main_with(registry)
}
