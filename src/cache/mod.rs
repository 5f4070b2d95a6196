//! The result cache: every node's results per item, found again by content.
//!
//! # Signatures
//!
//! An item's signature is two blake3 digests:
//! - the **node key**: the node's name, code hash (its tokens, `version` and options; for
//!   a nested pipeline its structure, mappings, `map_over` and map mode), its ports and
//!   their types, and, for a nested pipeline, the digests of the values bound inside it
//!   (at every depth);
//! - the **item key**: the type-tagged stable digest ([`crate::hash::digest`]) of each
//!   argument the node receives for the item (one argument: its digest itself; several:
//!   blake3 over their digests in parameter order).
//!
//! Nothing in either depends on the process (no addresses, no hash seeds), so a second
//! process, or the other engine, finds what the first stored. `1_i64`, `1.0_f64` and
//! `"1"` have different digests; a `None` result is cached like any other value.
//!
//! # Blocks
//!
//! Results are stored a **block** at a time: the items one node computed in one batch
//! (a map's items in the node engine, an Arrow batch in the columnar engine), under the
//! node key and a block key (blake3 over the block's item keys). A run first looks up
//! the block it is about to compute, in one call: a rerun on the same data finds every
//! result at once, with no per-item lookup. When the block is not there, the node's
//! stored blocks are indexed by item key (once per run and node) and each item is
//! looked up on its own: a map over `[1, 2, 3, 4]` after one over `[1, 2, 3]` computes
//! only item 4. The computed block, hits and new results together, is then stored.
//!
//! # Stores
//!
//! [`Cache::memory`] keeps blocks in the process (any Rust type); [`Cache::disk`] keeps
//! them in a directory, on LMDB (see [`disk`]), as Arrow IPC, for values of columnar
//! types. A node whose arguments cannot be hashed, or whose results the store cannot
//! keep, runs uncached, said once as a warning in the run's [`CacheReport`] (and on
//! standard error); a corrupt entry is a miss with a warning.

pub mod disk;
#[cfg(feature = "columnar")]
mod encode;

#[cfg(feature = "columnar")]
pub(crate) use encode::to_array;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::Result;
use crate::hash::StableHasher;
use crate::node::{Node, NodeKind, Volatility};
use crate::value::Value;

/// A digest: 32 bytes of blake3.
pub(crate) type Digest = [u8; 32];

/// A result cache: where runs configured with it ([`RunConfig::with_cache`](crate::RunConfig::with_cache))
/// keep every node's results per item and find them again.
///
/// Cloning is cheap: clones share the store.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 {
///     CALLS.fetch_add(1, Ordering::SeqCst);
///     2 * x
/// }
///
/// let cache = Cache::memory();
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
/// p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4]), &["x"], "zip")?;
/// assert_eq!(out.column::<i64>("doubled")?, [2, 4, 6, 8]);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 4); // item 4 only, the second time
/// assert_eq!(out.cache_report().unwrap().node("double").unwrap().hits, 3);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct Cache {
    store: Arc<Store>,
}

enum Store {
    Memory(Memory),
    #[cfg(feature = "columnar")]
    Disk(disk::DiskStore),
}

/// The in-process store: blocks as the engines made them, by node key and block key.
#[derive(Default)]
struct Memory {
    blocks: Mutex<HashMap<Digest, NodeBlocks>>,
}

#[derive(Default)]
struct NodeBlocks {
    name: String,
    blocks: HashMap<Digest, Arc<Block>>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.store {
            Store::Memory(_) => f.write_str("Cache::memory()"),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => write!(f, "Cache::disk({:?})", d.path()),
        }
    }
}

impl Cache {
    /// A cache in this process's memory, for values of any type.
    pub fn memory() -> Cache {
        Cache {
            store: Arc::new(Store::Memory(Memory::default())),
        }
    }

    /// A cache in directory `dir` (created if missing), shared with every process that
    /// opens the same directory, for results of columnar types (those that map to Arrow).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "shout")]
    /// fn shout(text: &str) -> String { text.to_uppercase() }
    ///
    /// let dir = std::env::temp_dir().join(format!("hn-doc-cache-{}", std::process::id()));
    /// let cache = Cache::disk(&dir)?;
    /// let p = Pipeline::new([shout::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
    /// let inputs = Inputs::new().with("text", vec!["a".to_string(), "b".to_string()]);
    /// assert_eq!(p.map(&inputs, &["text"], "zip")?.cache_report().unwrap().misses(), 2);
    /// let again = p.map(&inputs, &["text"], "zip")?;
    /// assert_eq!((again.cache_report().unwrap().hits(), again.cache_report().unwrap().misses()), (2, 0));
    /// assert_eq!(again.column::<String>("shout")?, ["A", "B"]);
    /// assert_eq!(cache.stats()?.items, 2);
    /// # drop(cache); std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when the directory cannot be created or
    /// holds something that is not a cache.
    #[cfg(feature = "columnar")]
    pub fn disk(dir: impl AsRef<Path>) -> Result<Cache> {
        Ok(Cache {
            store: Arc::new(Store::Disk(disk::DiskStore::open(dir)?)),
        })
    }

    /// The directory of a disk cache.
    pub fn path(&self) -> Option<&Path> {
        match &*self.store {
            Store::Memory(_) => None,
            #[cfg(feature = "columnar")]
            Store::Disk(d) => Some(d.path()),
        }
    }

    /// What the cache holds, per node.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when a disk cache cannot be read.
    pub fn stats(&self) -> Result<disk::StoreStats> {
        match &*self.store {
            Store::Memory(m) => Ok(m.stats()),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => d.stats(),
        }
    }

    /// Removes every entry, or those of the nodes named `node`.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) for a name no entry has (listing those
    /// that have entries) or a disk cache that cannot be written.
    pub fn clear(&self, node: Option<&str>) -> Result<disk::ClearStats> {
        match &*self.store {
            Store::Memory(m) => m.clear(node),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => d.clear(node),
        }
    }

    /// Makes every result stored so far visible to other processes (a run does this
    /// when it ends).
    ///
    /// # Errors
    ///
    /// [`Error::Cache`](crate::Error::Cache) when a disk cache cannot be written.
    pub fn flush(&self) -> Result<()> {
        match &*self.store {
            Store::Memory(_) => Ok(()),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => d.flush(),
        }
    }

    /// The block stored under `node` and `block`: `Ok(None)` when absent, `Err` (a
    /// warning's text) when it cannot be read.
    #[cfg_attr(not(feature = "columnar"), allow(unused_variables))]
    fn get(
        &self,
        node: &Digest,
        block: &Digest,
        outputs: &[crate::node::Port],
    ) -> std::result::Result<Option<Arc<Block>>, String> {
        match &*self.store {
            Store::Memory(m) => Ok(m
                .blocks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(node)
                .and_then(|n| n.blocks.get(block).cloned())),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => match d.get(node, block, |payload| encode::decode(payload, outputs)) {
                Ok(Some(Ok(b))) => Ok(Some(Arc::new(b))),
                Ok(None) => Ok(None),
                Ok(Some(Err(e))) => Err(e),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// Stores a block; `Err` (a warning's text) when its results cannot be kept here.
    fn put(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) -> std::result::Result<(), String> {
        match &*self.store {
            Store::Memory(m) => {
                // Columnar results are kept as Arrow: a hit then gives fresh values that
                // a map can collect, and the other engine reads them without converting.
                #[cfg(feature = "columnar")]
                let value = Arc::new(Block {
                    items: value.items.clone(),
                    digests: value.digests.clone(),
                    columns: value
                        .columns
                        .iter()
                        .map(|c| encode::to_array(c).map_or_else(|| c.clone(), Column::Arrow))
                        .collect(),
                });
                let mut blocks = m.blocks.lock().unwrap_or_else(|e| e.into_inner());
                let entry = blocks.entry(*node).or_default();
                entry.name = name.to_string();
                entry.blocks.insert(*block, value);
                Ok(())
            }
            #[cfg(feature = "columnar")]
            Store::Disk(d) => {
                let payload = encode::encode(&value)?;
                d.put(node, name, block, value.items.len() as u32, payload);
                Ok(())
            }
        }
    }

    /// The item keys of every block stored under `node`, by block key; unreadable
    /// blocks are skipped (their count is returned).
    fn item_keys(&self, node: &Digest) -> std::result::Result<(Vec<StoredBlock>, usize), String> {
        match &*self.store {
            Store::Memory(m) => Ok((
                m.blocks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(node)
                    .map(|n| n.blocks.iter().map(|(k, b)| (*k, b.items.clone())).collect())
                    .unwrap_or_default(),
                0,
            )),
            #[cfg(feature = "columnar")]
            Store::Disk(d) => {
                let mut out = Vec::new();
                let mut bad = 0;
                let skipped = d
                    .for_each_block(node, |key, payload| match encode::item_keys(payload) {
                        Some(items) => out.push((*key, items)),
                        None => bad += 1,
                    })
                    .map_err(|e| e.to_string())?;
                Ok((out, bad + skipped))
            }
        }
    }
}

impl Memory {
    fn stats(&self) -> disk::StoreStats {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let mut per: BTreeMap<String, disk::NodeStats> = BTreeMap::new();
        for n in blocks.values() {
            let s = per.entry(n.name.clone()).or_insert_with(|| disk::NodeStats {
                name: n.name.clone(),
                ..Default::default()
            });
            s.keys += 1;
            s.blocks += n.blocks.len() as u64;
            s.items += n.blocks.values().map(|b| b.items.len() as u64).sum::<u64>();
        }
        let nodes: Vec<disk::NodeStats> = per.into_values().collect();
        disk::StoreStats {
            blocks: nodes.iter().map(|n| n.blocks).sum(),
            items: nodes.iter().map(|n| n.items).sum(),
            nodes,
            ..Default::default()
        }
    }

    fn clear(&self, node: Option<&str>) -> Result<disk::ClearStats> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = node {
            if !blocks.values().any(|n| n.name == name) {
                let names: BTreeSet<&str> = blocks.values().map(|n| n.name.as_str()).collect();
                let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
                return Err(crate::Error::Invalid(format!(
                    "No cached node is named '{name}'. Cached nodes: [{}]",
                    quoted.join(", ")
                )));
            }
        }
        let mut cleared = disk::ClearStats::default();
        blocks.retain(|_, n| {
            let remove = node.is_none_or(|name| n.name == name);
            if remove {
                cleared.keys += 1;
                cleared.blocks += n.blocks.len() as u64;
                cleared.items += n.blocks.values().map(|b| b.items.len() as u64).sum::<u64>();
            }
            !remove
        });
        Ok(cleared)
    }
}

/// A stored block's key and its item keys.
type StoredBlock = (Digest, Vec<Digest>);

/// The results of one node for a batch of items: the item keys and one column per
/// output, rows in item order.
pub(crate) struct Block {
    pub(crate) items: Vec<Digest>,
    pub(crate) columns: Vec<Column>,
    /// Per output, the digests of its values (when a later node read them): a run that
    /// finds the block hands them to the nodes reading the output, which then hash
    /// nothing.
    pub(crate) digests: Vec<Option<Arc<Vec<Digest>>>>,
}

/// One output's results for the items of a block.
#[derive(Clone)]
pub(crate) enum Column {
    /// As Rust values (the node engine's, in a memory cache).
    Values(Arc<Vec<Value>>),
    /// As an Arrow array (the columnar engine's, or read from disk).
    #[cfg(feature = "columnar")]
    Arrow(arrow::array::ArrayRef),
}

impl Column {
    /// Row `row` as a value of the type of `port`.
    pub(crate) fn value(&self, row: usize, port: &crate::node::Port) -> Result<Value> {
        // Unreachable: a block is stored under a node key that names the output types,
        // and a block read from disk is checked against them (a mismatch is a miss).
        let bad = || {
            crate::Error::Internal(format!(
                "a cached block has no value of type {} at row {row} for '{}'",
                port.type_info(),
                port.name()
            ))
        };
        match self {
            Column::Values(values) => values.get(row).cloned().ok_or_else(bad),
            #[cfg(feature = "columnar")]
            Column::Arrow(array) => crate::engine::columnar::ColumnType::find(&port.type_info())
                .and_then(|ct| (ct.array_value)(array.as_ref(), row))
                .ok_or_else(bad),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Keys.

/// blake3 over item keys: a block's key.
pub(crate) fn block_key(items: &[Digest]) -> Digest {
    *blake3::hash(items.as_flattened()).as_bytes()
}

/// The digests of one argument over the items of a batch.
pub(crate) enum ArgDigests<'a> {
    /// The same value for every item.
    Const(Digest),
    /// One digest per item.
    Rows(&'a [Digest]),
}

/// The item keys of `n` items from the digests of their arguments, in parameter order.
pub(crate) fn item_keys(n: usize, args: &[ArgDigests]) -> Vec<Digest> {
    match args {
        [] => vec![*blake3::hash(b"no arguments").as_bytes(); n],
        [ArgDigests::Const(d)] => vec![*d; n],
        [ArgDigests::Rows(rows)] => rows.to_vec(),
        many => {
            let mut buf = Vec::with_capacity(32 * many.len());
            (0..n)
                .map(|i| {
                    buf.clear();
                    for a in many {
                        buf.extend_from_slice(match a {
                            ArgDigests::Const(d) => d,
                            ArgDigests::Rows(rows) => &rows[i],
                        });
                    }
                    *blake3::hash(&buf).as_bytes()
                })
                .collect()
        }
    }
}

/// The node key of `node` computing the outputs in `keep` (a nested pipeline computes
/// only those; a function node always computes all): `Err` names why it cannot be
/// cached, `Ok(None)` when it must not be (volatile).
pub(crate) fn node_key(node: &Node, keep: &[bool]) -> std::result::Result<Option<Digest>, String> {
    if node.volatility() == Volatility::Volatile {
        return Ok(None);
    }
    let mut h = StableHasher::new();
    h.tag("hypernodes.node.v1").value(node.name()).value(node.code_hash());
    for p in node.params() {
        h.value(p.name()).value(&p.type_info().name());
    }
    for p in node.outputs() {
        h.value(p.name()).value(&p.type_info().name());
    }
    if let NodeKind::Nested(nested) = node.kind() {
        h.value(keep);
        bound_values(nested.pipeline(), node.name(), &mut h)?;
    }
    Ok(Some(h.finish()))
}

/// Feeds the digests of the values bound in `pipeline` and, recursively, in the
/// pipelines nested in it.
fn bound_values(pipeline: &crate::Pipeline, node: &str, h: &mut StableHasher) -> std::result::Result<(), String> {
    for (name, value) in pipeline.bound_inputs().iter() {
        let d = crate::hash::digest(value).ok_or_else(|| {
            format!(
                "node '{node}' is not cached: the value bound to '{name}' inside it has type {}, which cannot be hashed",
                value.type_name()
            )
        })?;
        h.value(name).bytes(&d);
    }
    for inner in pipeline.nodes() {
        if let NodeKind::Nested(nested) = inner.kind() {
            bound_values(nested.pipeline(), node, h)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A run's use of the cache.

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
    nodes: BTreeMap<String, NodeCounts>,
    warnings: Vec<String>,
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

/// One top-level run's (or file run's) use of the cache, shared with its nested runs
/// through the resolved configuration: the counts, the warnings, each node's index of
/// stored items (built at most once per run), and the stores the run wrote to, which
/// [`Session::commit`] commits when the run ends.
#[derive(Default)]
pub(crate) struct Session {
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
    pub(crate) fn warn(&self, message: String) {
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
    pub(crate) fn report(&self) -> CacheReport {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Notes that the run stored results in `cache`.
    fn wrote(&self, cache: &Cache) {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if !written.iter().any(|c| Arc::ptr_eq(&c.store, &cache.store)) {
            written.push(cache.clone());
        }
    }

    /// Commits what the run stored, in every cache it wrote to, so that other processes
    /// and later runs see it; the first error, after trying every cache.
    pub(crate) fn commit(&self) -> Result<()> {
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
pub(crate) struct NodeCache {
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
pub(crate) enum Lookup {
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
    pub(crate) fn new(config: &crate::exec::RunConfig, node: &Node, keep: &[bool]) -> Option<NodeCache> {
        let (cache, session) = config.cache_session()?;
        // A SQL expression costs less than a lookup: never cached, in either engine.
        #[cfg(feature = "columnar")]
        if crate::engine::columnar::ExprNode::find(node).is_some() {
            return None;
        }
        match node_key(node, keep) {
            Ok(Some(key)) => {
                let outputs: Vec<usize> = match node.kind() {
                    NodeKind::Nested(_) => (0..node.outputs().len()).filter(|&k| keep[k]).collect(),
                    NodeKind::Func(_) => (0..node.outputs().len()).collect(),
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

    /// The outputs a block holds, by index among the node's outputs.
    pub(crate) fn outputs(&self) -> &[usize] {
        &self.outputs
    }

    /// Warns that an argument cannot be hashed: the node runs uncached.
    pub(crate) fn unhashable(&self, param: &str, type_name: &str) {
        self.session.warn(format!(
            "node '{}' is not cached: its argument '{param}' has type {type_name}, which cannot be hashed",
            self.node.name()
        ));
    }

    /// Looks up the items with these keys.
    pub(crate) fn lookup(&self, items: &[Digest]) -> Lookup {
        if items.is_empty() {
            return Lookup::None;
        }
        match self.cache.get(&self.key, &block_key(items), &self.ports) {
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
                    .get_or_init(|| match self.cache.get(&self.key, key, &self.ports) {
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
        if any {
            Lookup::Some(found)
        } else {
            Lookup::None
        }
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
            let (blocks, bad) = self.cache.item_keys(&self.key).unwrap_or_else(|e| {
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

    /// Counts a batch's hits and misses.
    pub(crate) fn count(&self, hits: usize, misses: usize) {
        self.session.count(self.node.name(), hits, misses);
    }

    /// Stores the results of the items with keys `items` (every output, rows in item
    /// order, with the digests of its values where known); a store that cannot keep
    /// them says so once.
    pub(crate) fn store(&self, items: Vec<Digest>, columns: Vec<Column>, digests: Vec<Option<Arc<Vec<Digest>>>>) {
        if items.is_empty() {
            return;
        }
        let key = block_key(&items);
        self.session.wrote(&self.cache);
        if let Err(e) = self.cache.put(
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

#[cfg(all(test, feature = "columnar"))]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[node(output = "y")]
    fn plus_one(x: i64) -> i64 {
        x + 1
    }

    /// An entry that passes the store's frame check but does not decode (here: written
    /// over with other bytes) is a miss with a warning, computed and stored again.
    #[test]
    fn an_entry_that_does_not_decode_is_a_miss_with_a_warning() {
        let dir = std::env::temp_dir().join(format!("hn-cache-undecodable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = Cache::disk(&dir).unwrap();
        let p = Pipeline::new([plus_one::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
        let inputs = Inputs::new().with("x", vec![1_i64, 2]);
        p.map(&inputs, &["x"], "zip").unwrap();
        let node = plus_one::node();
        let key = node_key(&node, &[true]).unwrap().unwrap();
        let items: Vec<Digest> = [1_i64, 2]
            .iter()
            .map(|x| crate::hash::digest(&Value::new(*x)).unwrap())
            .collect();
        let Store::Disk(disk) = &*cache.store else {
            unreachable!()
        };
        let mut garbage = 2_u32.to_le_bytes().to_vec();
        garbage.extend_from_slice(items.as_flattened());
        garbage.extend_from_slice(b"\0not arrow");
        disk.put(&key, "plus_one", &block_key(&items), 2, garbage);
        disk.flush().unwrap();
        let out = p.map(&inputs, &["x"], "zip").unwrap();
        assert_eq!(out.column::<i64>("y").unwrap(), [2, 3]);
        let report = out.cache_report().unwrap();
        assert_eq!((report.hits(), report.misses()), (0, 2));
        assert_eq!(report.warnings().len(), 1);
        assert!(
            report.warnings()[0].starts_with("a cache entry of node 'plus_one' cannot be read, computed again: "),
            "{:?}",
            report.warnings()
        );
        // Stored again: found the next time.
        let again = p.map(&inputs, &["x"], "zip").unwrap();
        assert_eq!(again.cache_report().unwrap().hits(), 2);
        drop(cache);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
