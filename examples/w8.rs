//! W8, typed ETL columns (docs/performance.md): over the `events` data set, the hour of
//! each timestamp, the amount converted at a bound exchange rate and rounded to cents,
//! and the category normalised; written to Parquet with the notes. The whole process is
//! what the README compares with Polars:
//!
//! ```text
//! cargo run --release -- gen-data --set events --rows 1000000 --out events_1M.parquet
//! cargo run --release --example w8 -- events_1M.parquet w8.out.parquet
//! python3 benches/polars_reference.py check8 w8.out.parquet
//! ```

use hypernodes::io::FileRun;

/// As in the `hypernodes` command.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/w8_nodes.rs"]
mod w8_nodes;

fn main() -> hypernodes::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: w8 EVENTS.parquet OUT.parquet");
        std::process::exit(2);
    };
    let summary = FileRun::new(w8_nodes::pipeline(), input, output)
        .with_select(["id", "hour", "amount_eur", "category_clean", "note"])
        .run()?;
    println!("{summary}");
    Ok(())
}
