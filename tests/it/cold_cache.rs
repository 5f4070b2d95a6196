//! A disk cache written while the run computes (the store's writer thread): a cold run
//! (empty cache), a warm run (every item found) and a run without a cache give the same
//! outputs on both engines, over enough items for many blocks, and the cold run has
//! committed every item when it returns.

use hypernodes::prelude::*;
use hypernodes::{CacheReport, Result};

use crate::commit::Store;

#[node(output = "cleaned")]
fn clean(passage: &str) -> String {
    passage.trim().to_lowercase()
}

#[node(output = "words")]
fn words(cleaned: &str) -> usize {
    cleaned.split_whitespace().count()
}

#[node(output = "chars")]
fn chars(cleaned: &str) -> usize {
    cleaned.chars().count()
}

/// `n` passages of 1 to 7 words, with spaces around and upper-case letters.
fn passages(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let words: Vec<String> = (0..=i % 7).map(|w| format!("Word{}", (i * 7 + w) % 1000)).collect();
            format!("{}{} ", " ".repeat(i % 3), words.join(" "))
        })
        .collect()
}

/// The `cleaned`, `words` and `chars` columns of a run.
type Columns = (Vec<String>, Vec<usize>, Vec<usize>);

/// The three outputs of a `map` over the passages, and the cache's report.
fn outputs(p: &Pipeline, inputs: &Inputs) -> Result<(Columns, Option<CacheReport>)> {
    let out = p.map(inputs, &["passage"], "zip")?;
    let columns = (
        out.column::<String>("cleaned")?.to_vec(),
        out.column::<usize>("words")?.to_vec(),
        out.column::<usize>("chars")?.to_vec(),
    );
    Ok((columns, out.cache_report().cloned()))
}

engine_test!(
    fn cold_warm_and_uncached_runs_give_the_same_outputs(engine) {
        let n = 20_000;
        let store = Store::new(&format!("cold-warm-{}", engine.name()));
        let plain = crate::common::on(&engine, [clean::node(), words::node(), chars::node()]);
        let cached = plain.with_config(RunConfig::new().with_cache(store.cache.clone()));
        let texts = passages(n);
        let inputs = Inputs::new().with("passage", texts.clone());

        let (uncached, _) = outputs(&plain, &inputs)?;
        let (cleaned, word_counts, char_counts) = &uncached;
        assert_eq!(cleaned[..3], ["word0", "word7 word8", "word14 word15 word16"]);
        assert_eq!(word_counts.iter().sum::<usize>(), (0..n).map(|i| i % 7 + 1).sum::<usize>());
        let expected: Vec<usize> = texts.iter().map(|t| t.trim().chars().count()).collect();
        assert_eq!(*char_counts, expected);

        let (cold, report) = outputs(&cached, &inputs)?;
        assert_eq!(cold, uncached);
        let report = report.unwrap();
        assert_eq!((report.hits(), report.misses()), (0, 3 * n as u64));
        // Committed when `map` returns: every item of every node.
        assert_eq!(store.committed(), 3 * n as u64);

        let (warm, report) = outputs(&cached, &inputs)?;
        assert_eq!(warm, uncached);
        let report = report.unwrap();
        assert_eq!((report.hits(), report.misses()), (3 * n as u64, 0));
    }
);
