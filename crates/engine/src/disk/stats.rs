//! What a cache directory holds, counted per node name, and clearing it (all of it, or
//! the blocks of one node name).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::error::{Result, closest};

use super::env::{Environment, cache_error};
use super::frame::{hex8, unframe};
use crate::cache::{ClearStats, NodeStats, StoreStats};

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
