//! What a store holds, counted per node name ([`Cache::stats`](super::Cache::stats)),
//! and what clearing it removed ([`Cache::clear`](super::Cache::clear)).

use std::fmt;

/// What [`Cache::stats`](super::Cache::stats) counts for one node name (every node key with that name).
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
/// use hypernodes::cache::{NodeStats, StoreStats};
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

/// What [`Cache::clear`](super::Cache::clear) removed.
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
