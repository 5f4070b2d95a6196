//! What a cache directory holds, counted per node name, and clearing it (all of it, or
//! the blocks of one node name).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Bound;

use crate::error::{closest, Result};

use super::env::{cache_error, Environment};
use super::frame::{hex8, unframe};

/// What [`DiskStore::stats`](super::DiskStore::stats) counts for one node name (every node key with that name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// The node's name.
    pub name: String,
    /// The node keys (code and configuration versions) with this name.
    pub keys: u64,
    /// Blocks stored.
    pub blocks: u64,
    /// Items in those blocks (the sum of their item counts).
    pub items: u64,
    /// Payload bytes of those blocks (without the 24-byte frame headers).
    pub bytes: u64,
}

/// What a cache directory holds; [`Display`](fmt::Display) prints it as a table.
///
/// # Examples
///
/// ```
/// use hypernodes::cache::disk::{NodeStats, StoreStats};
///
/// let stats = StoreStats {
///     nodes: vec![NodeStats { name: "clean_text".into(), keys: 1, blocks: 2, items: 16384, bytes: 200000 }],
///     blocks: 2,
///     items: 16384,
///     bytes: 200000,
///     corrupt: 0,
///     file_bytes: 233472,
/// };
/// assert_eq!(
///     stats.to_string(),
///     "node        blocks  items   bytes\n\
///      clean_text       2  16384  200000\n\
///      total            2  16384  200000\n\
///      data.mdb: 233472 bytes\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Per node name, sorted by name.
    pub nodes: Vec<NodeStats>,
    /// Blocks stored in all.
    pub blocks: u64,
    /// Items in all blocks.
    pub items: u64,
    /// Payload bytes of all blocks.
    pub bytes: u64,
    /// Entries whose frame header is malformed (not counted above). Payload checksums are
    /// not checked here, only on reading a block.
    pub corrupt: u64,
    /// The size of `data.mdb`. LMDB reuses freed pages but never shrinks the file.
    pub file_bytes: u64,
}

/// What [`DiskStore::clear`](super::DiskStore::clear) removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClearStats {
    /// Node keys removed.
    pub keys: u64,
    /// Blocks removed (malformed entries included).
    pub blocks: u64,
    /// Items in the well-formed blocks removed.
    pub items: u64,
    /// Payload bytes of the well-formed blocks removed.
    pub bytes: u64,
}

/// What the store of `inner` holds: [`DiskStore::stats`](super::DiskStore::stats).
pub(super) fn census(inner: &Environment) -> Result<StoreStats> {
    let read = |e| inner.lmdb("cannot read", e);
    let rtxn = inner.env.read_txn().map_err(read)?;
    let mut names: HashMap<[u8; 32], String> = HashMap::new();
    for entry in inner.nodes.iter(&rtxn).map_err(read)? {
        let (key, name) = entry.map_err(read)?;
        if let Ok(key) = <[u8; 32]>::try_from(key) {
            names.insert(key, String::from_utf8_lossy(name).into_owned());
        }
    }
    let mut by_name: BTreeMap<String, NodeStats> = BTreeMap::new();
    for name in names.values() {
        let node = by_name.entry(name.clone()).or_insert_with(|| NodeStats {
            name: name.clone(),
            ..NodeStats::default()
        });
        node.keys += 1;
    }
    let mut stats = StoreStats::default();
    for entry in inner.blocks.iter(&rtxn).map_err(read)? {
        let (key, frame) = entry.map_err(read)?;
        let (Some(node), Ok((items, payload))) = (key.get(..32), unframe(frame, false)) else {
            stats.corrupt += 1;
            continue;
        };
        let name = match <[u8; 32]>::try_from(node).ok().and_then(|n| names.get(&n)) {
            Some(name) => name.clone(),
            None => format!("<unnamed {}>", hex8(node)),
        };
        let node = by_name.entry(name.clone()).or_insert_with(|| NodeStats {
            name,
            ..NodeStats::default()
        });
        node.blocks += 1;
        node.items += u64::from(items);
        node.bytes += payload.len() as u64;
    }
    drop(rtxn);
    stats.nodes = by_name.into_values().collect();
    stats.blocks = stats.nodes.iter().map(|n| n.blocks).sum();
    stats.items = stats.nodes.iter().map(|n| n.items).sum();
    stats.bytes = stats.nodes.iter().map(|n| n.bytes).sum();
    let data = inner.path.join("data.mdb");
    stats.file_bytes = std::fs::metadata(&data)
        .map_err(|e| cache_error(&inner.path, format!("cannot inspect data.mdb: {e}")))?
        .len();
    Ok(stats)
}

/// Removes blocks from the store of `inner`, its puts already flushed:
/// [`DiskStore::clear`](super::DiskStore::clear).
pub(super) fn clear(inner: &Environment, node_name: Option<&str>) -> Result<ClearStats> {
    let write = |e| inner.lmdb("cannot clear", e);
    let mut wtxn = inner.env.write_txn().map_err(write)?;
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut known: Vec<String> = Vec::new();
    for entry in inner.nodes.iter(&wtxn).map_err(write)? {
        let (key, name) = entry.map_err(write)?;
        let name = String::from_utf8_lossy(name);
        if node_name.is_none_or(|wanted| wanted == name) {
            keys.push(key.to_vec());
        }
        known.push(name.into_owned());
    }
    let mut cleared = ClearStats::default();
    match node_name {
        None => {
            let blocks_only = inner.blocks.iter(&wtxn).and_then(count).map_err(write)?;
            cleared = ClearStats {
                keys: keys.len() as u64,
                ..blocks_only
            };
            inner.blocks.clear(&mut wtxn).map_err(write)?;
            inner.nodes.clear(&mut wtxn).map_err(write)?;
        }
        Some(name) if keys.is_empty() => {
            known.sort();
            known.dedup();
            let quoted: Vec<String> = known.iter().map(|n| format!("'{n}'")).collect();
            let suggestion = match closest(name, known.iter().map(String::as_str)) {
                Some(s) => format!(". Did you mean '{s}'?"),
                None => String::new(),
            };
            return Err(cache_error(
                &inner.path,
                format!(
                    "no cached node is named '{name}'. Cached nodes: [{}]{suggestion}",
                    quoted.join(", ")
                ),
            ));
        }
        Some(_) => {
            for key in &keys {
                let found = inner.blocks.prefix_iter(&wtxn, key).and_then(count).map_err(write)?;
                let (mut low, mut high) = (key.clone(), key.clone());
                low.extend_from_slice(&[0; 32]);
                high.extend_from_slice(&[0xff; 32]);
                let range = (Bound::Included(low.as_slice()), Bound::Included(high.as_slice()));
                inner.blocks.delete_range(&mut wtxn, &range).map_err(write)?;
                inner.nodes.delete(&mut wtxn, key).map_err(write)?;
                cleared.keys += 1;
                cleared.blocks += found.blocks;
                cleared.items += found.items;
                cleared.bytes += found.bytes;
            }
        }
    }
    wtxn.commit().map_err(write)?;
    Ok(cleared)
}

/// `removed B blocks (I items, N bytes) of K node keys`.
impl fmt::Display for ClearStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed {} blocks ({} items, {} bytes) of {} node keys",
            self.blocks, self.items, self.bytes, self.keys
        )
    }
}

impl fmt::Display for StoreStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |n: &NodeStats| {
            [
                n.name.clone(),
                n.blocks.to_string(),
                n.items.to_string(),
                n.bytes.to_string(),
            ]
        };
        let total = NodeStats {
            name: "total".into(),
            keys: 0,
            blocks: self.blocks,
            items: self.items,
            bytes: self.bytes,
        };
        let mut rows = vec![["node", "blocks", "items", "bytes"].map(String::from)];
        rows.extend(self.nodes.iter().map(row));
        rows.push(row(&total));
        let mut widths = [0; 4];
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for r in &rows {
            writeln!(
                f,
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )?;
        }
        if self.corrupt > 0 {
            writeln!(f, "corrupt entries: {}", self.corrupt)?;
        }
        writeln!(f, "data.mdb: {} bytes", self.file_bytes)
    }
}

/// Counts the well-formed blocks among `entries` (a scan of the `blocks` table).
fn count<'t>(entries: impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>) -> heed::Result<ClearStats> {
    let mut found = ClearStats::default();
    for entry in entries {
        let (_, frame) = entry?;
        found.blocks += 1;
        if let Ok((items, payload)) = unframe(frame, false) {
            found.items += u64::from(items);
            found.bytes += payload.len() as u64;
        }
    }
    Ok(found)
}
