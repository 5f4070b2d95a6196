//! The in-process store: blocks as the engines made them, by node key and block key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

#[cfg(feature = "columnar")]
use super::block::Column;
use super::block::{Block, StoredBlock};
use super::{disk, Digest};
use crate::error::Result;

#[derive(Default)]
pub(super) struct Memory {
    blocks: Mutex<HashMap<Digest, NodeBlocks>>,
}

#[derive(Default)]
struct NodeBlocks {
    name: String,
    blocks: HashMap<Digest, Arc<Block>>,
}

impl Memory {
    /// The block stored under `node` and `block`.
    pub(super) fn get(&self, node: &Digest, block: &Digest) -> Option<Arc<Block>> {
        self.blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .and_then(|n| n.blocks.get(block).cloned())
    }

    /// Stores a block of the node named `name`.
    pub(super) fn put(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) {
        // Columnar results are kept as Arrow: a hit then gives fresh values that
        // a map can collect, and the other engine reads them without converting.
        #[cfg(feature = "columnar")]
        let value = Arc::new(Block {
            items: value.items.clone(),
            digests: value.digests.clone(),
            columns: value
                .columns
                .iter()
                .map(|c| super::encode::to_array(c).map_or_else(|| c.clone(), Column::Arrow))
                .collect(),
        });
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let entry = blocks.entry(*node).or_default();
        entry.name = name.to_string();
        entry.blocks.insert(*block, value);
    }

    /// The item keys of every block stored under `node`, by block key.
    pub(super) fn item_keys(&self, node: &Digest) -> Vec<StoredBlock> {
        self.blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .map(|n| n.blocks.iter().map(|(k, b)| (*k, b.items.clone())).collect())
            .unwrap_or_default()
    }

    pub(super) fn stats(&self) -> disk::StoreStats {
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

    pub(super) fn clear(&self, node: Option<&str>) -> Result<disk::ClearStats> {
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
