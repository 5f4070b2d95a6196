//! What the cache did in a run, per node: [`CacheReport`].

use std::collections::BTreeMap;
use std::fmt;

/// Hits and misses of one node in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeCounts {
    /// Items whose results came from the cache.
    pub hits: u64,
    /// Items computed (and stored).
    pub misses: u64,
}

/// What the cache did in one run: hits and misses per node, and the warnings (nodes
/// that could not be cached, entries that could not be read).
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "y")]
/// fn inc(x: i64) -> i64 { x + 1 }
///
/// let p = Pipeline::new([inc::node()]).with_config(RunConfig::new().with_cache(Cache::memory()));
/// let inputs = Inputs::new().with("x", vec![1_i64, 2]);
/// p.map(&inputs, &["x"], "zip")?;
/// let report = p.map(&inputs, &["x"], "zip")?.cache_report().unwrap().clone();
/// assert_eq!(report.to_string(), "inc 2 hits 0 misses");
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheReport {
    pub(super) nodes: BTreeMap<String, NodeCounts>,
    pub(super) warnings: Vec<String>,
}

impl CacheReport {
    /// The counts of the node named `name`, if it ran with the cache.
    pub fn node(&self, name: &str) -> Option<NodeCounts> {
        self.nodes.get(name).copied()
    }

    /// Every node's counts, by name.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, NodeCounts)> {
        self.nodes.iter().map(|(n, c)| (n.as_str(), *c))
    }

    /// Hits over all nodes.
    pub fn hits(&self) -> u64 {
        self.nodes.values().map(|c| c.hits).sum()
    }

    /// Misses over all nodes.
    pub fn misses(&self) -> u64 {
        self.nodes.values().map(|c| c.misses).sum()
    }

    /// The warnings, each once, in the order they were first given.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// `name H hits M misses` per node, comma-separated.
impl fmt::Display for CacheReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, c)) in self.nodes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name} {} hits {} misses", c.hits, c.misses)?;
        }
        Ok(())
    }
}
