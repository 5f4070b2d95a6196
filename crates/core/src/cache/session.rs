//! A run's use of its caches: the counts, the warnings, the indexes of stored items,
//! the stores written to ([`Session`]); and one node's cache in a run ([`NodeCache`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use super::block::{Block, Column};
use super::keys::{block_key, node_key};
use super::report::CacheReport;
use super::{Cache, Digest};
use crate::error::Result;
use crate::node::Node;

/// One top-level run's (or file run's) use of the cache, shared with its nested runs
/// through the resolved configuration: the counts, the warnings, each node's index of
/// stored items (built at most once per run), and the stores the run wrote to, which
/// [`Session::commit`] commits when the run ends.
#[derive(Default)]
#[doc(hidden)]
pub struct Session {
    report: Mutex<CacheReport>,
    indexes: Mutex<HashMap<Digest, Arc<OnceLock<Arc<Index>>>>>,
    /// Every cache the run stored results in (the run's own, and those nested
    /// pipelines set for themselves), each once.
    written: Mutex<Vec<Cache>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session")
    }
}

impl Session {
    /// Records a warning once, and writes it to standard error the first time this
    /// process sees it.
    #[doc(hidden)]
    pub fn warn(&self, message: String) {
        static SAID: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
        if SAID.lock().unwrap_or_else(|e| e.into_inner()).insert(message.clone()) {
            eprintln!("hypernodes: warning: {message}");
        }
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        if !report.warnings.contains(&message) {
            report.warnings.push(message);
        }
    }

    fn count(&self, node: &str, hits: usize, misses: usize) {
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        let c = report.nodes.entry(node.to_string()).or_default();
        c.hits += hits as u64;
        c.misses += misses as u64;
    }

    /// The report so far.
    #[doc(hidden)]
    pub fn report(&self) -> CacheReport {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Notes that the run stored results in `cache`.
    fn wrote(&self, cache: &Cache) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if !written.iter().any(|c| Arc::ptr_eq(c.store(), cache.store())) {
            written.push(cache.clone());
        }
    }

    /// Commits what the run stored, in every cache it wrote to, so that other processes
    /// and later runs see it; the first error, after trying every cache.
    #[doc(hidden)]
    pub fn commit(&self) -> Result<()> {
        let written = std::mem::take(&mut *self.written.lock().unwrap_or_else(|e| e.into_inner()));
        let mut first = Ok(());
        for cache in &written {
            if let (Err(e), Ok(())) = (cache.flush(), &first) {
                first = Err(e);
            }
        }
        first
    }
}

/// The stored items of one node: item key to block and row.
struct Index {
    rows: HashMap<Digest, (u32, u32)>,
    blocks: Vec<(Digest, OnceLock<Option<Arc<Block>>>)>,
}

/// One node's cache in a run: what the engines call.
#[doc(hidden)]
pub struct NodeCache {
    cache: Cache,
    session: Arc<Session>,
    key: Digest,
    node: Node,
    /// The outputs a block holds: every output of a function node, the computed ones
    /// of a nested pipeline.
    outputs: Vec<usize>,
    ports: Vec<crate::node::Port>,
}

/// What a lookup found for the items of a batch.
#[doc(hidden)]
pub enum Lookup {
    /// Every item, in one stored block.
    All(Arc<Block>),
    /// Some items: for each, its block and row, or `None` to compute.
    Some(Vec<Option<(Arc<Block>, usize)>>),
    /// No item.
    None,
}

impl NodeCache {
    /// The cache of `node` computing the outputs in `keep` in a run configured with
    /// `config`: `None` without a cache, for a volatile node or a SQL expression node,
    /// or (with a warning) for a node that cannot be cached.
    #[doc(hidden)]
    pub fn new(config: &crate::exec::RunConfig, node: &Node, keep: &[bool]) -> Option<NodeCache> {
        let (cache, session) = config.cache_session()?;
        // A node that costs less than a lookup (a SQL expression) is never cached, in
        // either engine.
        if !node.worth_caching() {
            return None;
        }
        match node_key(node, keep) {
            Ok(Some(key)) => {
                let outputs: Vec<usize> = if node.is_nested() {
                    (0..node.outputs().len()).filter(|&k| keep[k]).collect()
                } else {
                    (0..node.outputs().len()).collect()
                };
                Some(NodeCache {
                    cache: cache.clone(),
                    session: session.clone(),
                    key,
                    ports: outputs.iter().map(|&k| node.outputs()[k].clone()).collect(),
                    outputs,
                    node: node.clone(),
                })
            }
            Ok(None) => None,
            Err(warning) => {
                session.warn(warning);
                None
            }
        }
    }

    /// The node key the node's blocks are stored under.
    #[doc(hidden)]
    pub fn key(&self) -> &Digest {
        &self.key
    }

    /// The outputs a block holds, by index among the node's outputs.
    #[doc(hidden)]
    pub fn outputs(&self) -> &[usize] {
        &self.outputs
    }

    /// Warns that an argument cannot be hashed: the node runs uncached.
    #[doc(hidden)]
    pub fn unhashable(&self, param: &str, type_name: &str) {
        self.session.warn(format!(
            "node '{}' is not cached: its argument '{param}' has type {type_name}, which cannot be hashed",
            self.node.name()
        ));
    }

    /// Looks up the items with these keys.
    #[doc(hidden)]
    pub fn lookup(&self, items: &[Digest]) -> Lookup {
        if items.is_empty() {
            return Lookup::None;
        }
        match self.cache.store().get(&self.key, &block_key(items), &self.ports) {
            Ok(Some(block)) if block.items.len() == items.len() => return Lookup::All(block),
            Ok(_) => {}
            Err(e) => self.corrupt(e),
        }
        let index = self.index();
        if index.rows.is_empty() {
            return Lookup::None;
        }
        let mut any = false;
        let found = items
            .iter()
            .map(|k| {
                let &(b, row) = index.rows.get(k)?;
                let (key, cell) = &index.blocks[b as usize];
                let block = cell
                    .get_or_init(|| match self.cache.store().get(&self.key, key, &self.ports) {
                        Ok(block) => block,
                        Err(e) => {
                            self.corrupt(e);
                            None
                        }
                    })
                    .clone()?;
                any = true;
                Some((block, row as usize))
            })
            .collect();
        if any { Lookup::Some(found) } else { Lookup::None }
    }

    fn corrupt(&self, e: String) {
        self.session.warn(format!(
            "a cache entry of node '{}' cannot be read, computed again: {e}",
            self.node.name()
        ));
    }

    /// The node's index of stored items, built once per run.
    fn index(&self) -> Arc<Index> {
        let cell = self
            .session
            .indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(self.key)
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let (blocks, bad) = self.cache.store().item_keys(&self.key).unwrap_or_else(|e| {
                self.corrupt(e);
                (Vec::new(), 0)
            });
            if bad > 0 {
                self.corrupt(format!("{bad} unreadable block(s) skipped"));
            }
            let mut rows = HashMap::new();
            let mut keys = Vec::with_capacity(blocks.len());
            for (b, (key, items)) in blocks.into_iter().enumerate() {
                for (row, item) in items.into_iter().enumerate() {
                    rows.entry(item).or_insert((b as u32, row as u32));
                }
                keys.push((key, OnceLock::new()));
            }
            Arc::new(Index { rows, blocks: keys })
        })
        .clone()
    }

    /// Whether the node's cache keeps its blocks on disk, encoded by the store (which
    /// converts values to its own form there), rather than as they are given.
    #[doc(hidden)]
    pub fn on_disk(&self) -> bool {
        self.cache.store().path().is_some()
    }

    /// Counts a batch's hits and misses.
    #[doc(hidden)]
    pub fn count(&self, hits: usize, misses: usize) {
        self.session.count(self.node.name(), hits, misses);
    }

    /// Stores the results of the items with keys `items` (every output, rows in item
    /// order, with the digests of its values where known); a store that cannot keep
    /// them says so once.
    #[doc(hidden)]
    pub fn store(&self, items: Vec<Digest>, columns: Vec<Column>, digests: Vec<Option<Arc<Vec<Digest>>>>) {
        if items.is_empty() {
            return;
        }
        let key = block_key(&items);
        self.session.wrote(&self.cache);
        if let Err(e) = self.cache.store().put(
            &self.key,
            self.node.name(),
            &key,
            Arc::new(Block {
                items,
                columns,
                digests,
            }),
        ) {
            self.session
                .warn(format!("results of node '{}' are not cached: {e}", self.node.name()));
        }
    }
}
