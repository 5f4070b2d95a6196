//! Shared test nodes and the `engine_test!` macro.

use hypernodes::Engine;
use hypernodes::prelude::*;
use std::sync::Arc;

/// Writes a test once and runs it on each engine: `engine_test!(fn name(engine) { .. })`
/// expands into a module `name` with one `#[test]` per engine, each calling the body
/// with `engine: Arc<dyn Engine>`.
macro_rules! engine_test {
    ($(#[$meta:meta])* fn $name:ident($engine:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn case($engine: std::sync::Arc<dyn hypernodes::Engine>) -> hypernodes::Result<()> {
                $body
                #[allow(unreachable_code)]
                Ok(())
            }

            $(#[$meta])*
            #[test]
            fn node() {
                case(std::sync::Arc::new(hypernodes::NodeEngine::new())).unwrap();
            }

            $(#[$meta])*
            #[test]
            fn columnar() {
                case(std::sync::Arc::new(hypernodes::ColumnarEngine::new())).unwrap();
            }
        }
    };
}

/// A pipeline set to run on `engine`.
pub fn on(engine: &Arc<dyn Engine>, nodes: impl IntoIterator<Item = Node>) -> Pipeline {
    Pipeline::try_new(nodes).unwrap().with_shared_engine(engine.clone())
}

#[node(output = "doubled")]
pub fn double(x: i64) -> i64 {
    2 * x
}

#[node(output = "incremented")]
pub fn add_one(doubled: i64) -> i64 {
    doubled + 1
}

#[node(output = "squared")]
pub fn square(incremented: i64) -> i64 {
    incremented * incremented
}

#[node(output = "cleaned_text")]
pub fn clean_text(passage: &str) -> String {
    passage.trim().to_lowercase()
}

#[node(output = "word_count")]
pub fn count_words(cleaned_text: &str) -> usize {
    cleaned_text.split_whitespace().count()
}

#[node(output = "char_count")]
pub fn char_count(cleaned_text: &str) -> usize {
    cleaned_text.chars().count()
}

/// The W1 chain: x -> doubled -> incremented -> squared.
pub fn w1() -> Vec<Node> {
    vec![double::node(), add_one::node(), square::node()]
}

/// The W2 text nodes.
pub fn w2() -> Vec<Node> {
    vec![clean_text::node(), count_words::node(), char_count::node()]
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[node(output = "tokens")]
pub fn count_tokens(sentence: &str) -> usize {
    sentence.split_whitespace().count()
}

#[node(output = "total")]
pub fn total(token_counts: Vec<usize>) -> usize {
    token_counts.iter().sum()
}

/// `docs`: `per_sentence` (the inner pipeline `sentence`, `count_tokens`, mapped over
/// each doc's sentences) then `total`, on `engine`.
pub fn per_sentence_pipeline(engine: &Arc<dyn Engine>) -> Pipeline {
    let inner = Pipeline::new([count_tokens::node()])
        .with_name("sentence")
        .as_node("per_sentence")
        .with_input_mapping([("sentences", "sentence")])
        .with_output_mapping([("tokens", "token_counts")])
        .with_map_over(["sentences"])
        .build()
        .unwrap();
    on(engine, [inner, total::node()]).with_name("docs")
}
