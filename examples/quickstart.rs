//! The README's quick start: a text pipeline run once, then mapped over passages.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use hypernodes::prelude::*;

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
    let pipeline = Pipeline::try_new([clean_text::node(), count_words::node()])?;

    let one = pipeline.run(&Inputs::new().with("passage", "  The Quick Brown Fox ".to_string()))?;
    println!(
        "{:?} has {} words",
        one.get::<String>("cleaned_text")?,
        one.get::<usize>("word_count")?
    );

    let passages = vec![
        "Hello World".to_string(),
        "  one two THREE four ".to_string(),
        String::new(),
    ];
    let many = pipeline.map(&Inputs::new().with("passage", passages), &["passage"], MapMode::Zip)?;
    println!("word counts: {:?}", many.column::<usize>("word_count")?);

    let err = pipeline
        .run(&Inputs::new().with("text", "oops".to_string()))
        .unwrap_err();
    println!("error: {err}");
    Ok(())
}
