//! W1 on the node engine at N items (default 1,000,000): prints the time, the time per
//! node per item, and the checksum. Run under `/usr/bin/time -v` for peak memory:
//!
//! ```text
//! cargo run --release --example w1 -- 1000000
//! ```

use std::time::Instant;

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

fn main() -> hypernodes::Result<()> {
    let n: i64 = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|e| Error::Invalid(format!("N must be a whole number, got '{arg}': {e}")))?,
        None => 1_000_000,
    };
    let pipeline = Pipeline::try_new([double::node(), add_one::node(), square::node()])?;
    let inputs = Inputs::new().with("x", (0..n).collect::<Vec<i64>>());
    let start = Instant::now();
    let out = pipeline.map(&inputs, &["x"], MapMode::Zip)?;
    let elapsed = start.elapsed();
    let checksum: i64 = ["doubled", "incremented", "squared"]
        .iter()
        .map(|name| {
            out.column::<i64>(name)
                .map(|c| c.iter().fold(0_i64, |a, &v| a.wrapping_add(v)))
        })
        .sum::<hypernodes::Result<i64>>()?;
    println!(
        "W1 node engine: {n} items x 3 nodes in {:.1} ms ({:.1} ns per node per item), checksum {checksum}",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e9 / (3 * n.max(1)) as f64
    );
    Ok(())
}
