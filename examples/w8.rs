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

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use hypernodes::io::FileRun;
use hypernodes::prelude::*;
use rust_decimal::Decimal;

/// The timestamp's hour.
#[node(output = "hour")]
fn hour(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(TimeDelta::hours(1)).expect("hours of chrono's range")
}

/// The amount at `rate`, rounded to cents (banker's rounding, rust_decimal's `round_dp`).
#[node(output = "amount_eur")]
fn convert(amount: Decimal, rate: Decimal) -> Decimal {
    (amount * rate).round_dp(2)
}

/// Trimmed and lower-cased.
#[node(output = "category_clean")]
fn normalise(category: &str) -> String {
    category.trim().to_lowercase()
}

fn main() -> hypernodes::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: w8 EVENTS.parquet OUT.parquet");
        std::process::exit(2);
    };
    let rate = Decimal::new(10_837, 4);
    let pipeline =
        Pipeline::new([hour::node(), convert::node(), normalise::node()]).bind(Inputs::new().with("rate", rate))?;
    let summary = FileRun::new(pipeline, input, output)
        .with_select(["id", "hour", "amount_eur", "category_clean", "note"])
        .run()?;
    println!("{summary}");
    Ok(())
}
