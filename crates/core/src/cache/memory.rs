//! The in-process store: blocks as the engines made them, by node key and block key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use std::fmt;
use std::path::Path;

use super::block::{Block, StoredBlock};
use super::{ClearStats, Digest, NodeStats, Store, StoreStats};
use crate::error::Result;
use crate::node::Port;

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
    fn get_block(&self, node: &Digest, block: &Digest) -> Option<Arc<Block>> {
        self.blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .and_then(|n| n.blocks.get(block).cloned())
    }

    /// Stores a block of the node named `name`.
    fn put_block(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let entry = blocks.entry(*node).or_default();
        entry.name = name.to_string();
        entry.blocks.insert(*block, value);
    }

    /// The item keys of every block stored under `node`, by block key.
    fn block_item_keys(&self, node: &Digest) -> Vec<StoredBlock> {
        self.blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .map(|n| n.blocks.iter().map(|(k, b)| (*k, b.items.clone())).collect())
            .unwrap_or_default()
    }

    fn census(&self) -> StoreStats {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let mut per: BTreeMap<String, NodeStats> = BTreeMap::new();
        for n in blocks.values() {
            let s = per.entry(n.name.clone()).or_insert_with(|| NodeStats {
                name: n.name.clone(),
                ..Default::default()
            });
            s.keys += 1;
            s.blocks += n.blocks.len() as u64;
            s.items += n.blocks.values().map(|b| b.items.len() as u64).sum::<u64>();
        }
        let nodes: Vec<NodeStats> = per.into_values().collect();
        StoreStats {
            blocks: nodes.iter().map(|n| n.blocks).sum(),
            items: nodes.iter().map(|n| n.items).sum(),
            nodes,
            ..Default::default()
        }
    }

    fn clear_blocks(&self, node: Option<&str>) -> Result<ClearStats> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = node
            && !blocks.values().any(|n| n.name == name)
        {
            let names: BTreeSet<&str> = blocks.values().map(|n| n.name.as_str()).collect();
            let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            return Err(crate::Error::Invalid(format!(
                "No cached node is named '{name}'. Cached nodes: [{}]",
                quoted.join(", ")
            )));
        }
        let mut cleared = ClearStats::default();
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

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cache::memory()")
    }
}

impl Store for Memory {
    fn path(&self) -> Option<&Path> {
        None
    }

    fn stats(&self) -> Result<StoreStats> {
        Ok(self.census())
    }

    fn clear(&self, node: Option<&str>) -> Result<ClearStats> {
        self.clear_blocks(node)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn get(&self, node: &Digest, block: &Digest, _outputs: &[Port]) -> std::result::Result<Option<Arc<Block>>, String> {
        Ok(self.get_block(node, block))
    }

    fn put(&self, node: &Digest, name: &str, block: &Digest, value: Arc<Block>) -> std::result::Result<(), String> {
        self.put_block(node, name, block, value);
        Ok(())
    }

    fn item_keys(&self, node: &Digest) -> std::result::Result<(Vec<StoredBlock>, usize), String> {
        Ok((self.block_item_keys(node), 0))
    }
}
