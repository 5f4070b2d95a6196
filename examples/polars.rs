//! The README's Polars example: a text pipeline applied to a Polars `DataFrame`, on both
//! engines, and to a `LazyFrame` with a filter on an output.
//!
//! ```text
//! cargo run --example polars --features polars
//! ```

use std::sync::Arc;

use hypernodes::ColumnarEngine;
use hypernodes::prelude::*;
use polars::prelude::*;

/// Trims and lower-cases a passage.
#[node(output = "cleaned_text")]
fn clean_text(passage: &str) -> String {
    passage.trim().to_lowercase()
}

/// Counts whitespace-separated words.
#[node(output = "word_count")]
fn count_words(cleaned_text: &str) -> usize {
    cleaned_text.split_whitespace().count()
}

fn main() -> hypernodes::Result<()> {
    let pipeline = hypernodes::Pipeline::try_new([clean_text::node(), count_words::node()])?;
    let frame = df!(
        "id" => [1_i64, 2, 3],
        "passage" => ["  Hello World ", "one two THREE four", "Polars"],
    )
    .expect("a frame");

    let out = ColumnarEngine::new().apply_to_polars(&pipeline, &frame)?;
    println!("{out}");

    let by_rows = ColumnarEngine::apply_to_polars_on(Arc::new(NodeEngine::new()), &pipeline, &frame)?;
    println!("node engine gives the same frame: {}", by_rows.equals_missing(&out));

    let long = ColumnarEngine::new()
        .apply_to_lazy(&pipeline, frame.lazy())?
        .filter(col("word_count").gt_eq(lit(2)))
        .select([col("id"), col("word_count")])
        .collect()
        .expect("a query");
    println!("{long}");

    let err = ColumnarEngine::new()
        .apply_to_polars(&pipeline, &df!("passage" => [1_i64]).expect("a frame"))
        .unwrap_err();
    println!("{err}");
    Ok(())
}
