//! W8's nodes (docs/performance.md), one copy for the bench, `examples/w8.rs` and the
//! tests: the hour of a timestamp, an amount converted at a rate and rounded to cents
//! (half to even, as Polars' `round` on decimals), a category trimmed and lower-cased.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use hypernodes::prelude::*;
use rust_decimal::Decimal;

/// The timestamp's hour.
#[node(output = "hour")]
pub fn hour(ts: DateTime<Utc>) -> DateTime<Utc> {
    ts.duration_trunc(TimeDelta::hours(1)).expect("hours of chrono's range")
}

/// The amount at `rate`, rounded to cents (banker's rounding, rust_decimal's `round_dp`).
#[node(output = "amount_eur")]
pub fn convert(amount: Decimal, rate: Decimal) -> Decimal {
    (amount * rate).round_dp(2)
}

/// Trimmed and lower-cased.
#[node(output = "category_clean")]
pub fn normalise(category: &str) -> String {
    category.trim().to_lowercase()
}

/// The rate W8 binds.
pub fn rate() -> Decimal {
    Decimal::new(10_837, 4)
}

/// W8's pipeline: the three nodes, the rate bound.
pub fn pipeline() -> Pipeline {
    Pipeline::new([hour::node(), convert::node(), normalise::node()])
        .bind(Inputs::new().with("rate", rate()))
        .expect("the rate is an input of `convert`")
}
