//! What a [`ChromeTrace`](super::ChromeTrace) buffers: each thread's lane of begin, end
//! and instant records, in the order they happened.

use std::ops::Range;
use std::sync::Arc;

use crate::node::Node;

/// One thread's events.
pub(super) struct Lane {
    pub(super) tid: u32,
    pub(super) name: String,
    pub(super) records: Vec<Record>,
}

/// What a record is about.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Kind {
    Pipeline,
    Nested,
    Map,
    Item,
    Node,
}

impl Kind {
    pub(super) fn category(self) -> &'static str {
        match self {
            Kind::Pipeline => "pipeline",
            Kind::Nested => "nested",
            Kind::Map => "map",
            Kind::Item => "item",
            Kind::Node => "node",
        }
    }
}

/// Whether a record begins a span, ends one or stands alone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Phase {
    Begin,
    End,
    Instant,
}

/// One hook call, as recorded.
pub(super) struct Record {
    pub(super) phase: Phase,
    pub(super) kind: Kind,
    pub(super) ctx: u64,
    /// The node (node records), or the path (the others' begins).
    pub(super) node: Option<Node>,
    pub(super) path: Option<Arc<str>>,
    pub(super) items: Range<usize>,
    pub(super) ts: u64,
    pub(super) cached: bool,
    pub(super) error: Option<Box<str>>,
}

impl Record {
    pub(super) fn name(&self) -> String {
        match self.kind {
            Kind::Node => self.node.as_ref().map_or("node", |n| n.name()).to_string(),
            Kind::Item if self.items.len() == 1 => format!("item {}", self.items.start),
            Kind::Item => format!("items {}..{}", self.items.start, self.items.end),
            Kind::Map => format!("map {}", self.path.as_deref().unwrap_or("")),
            Kind::Pipeline | Kind::Nested => self.path.as_deref().unwrap_or("").to_string(),
        }
    }

    /// Whether end record `end` closes this begin record.
    pub(super) fn closed_by(&self, end: &Record) -> bool {
        if self.kind != end.kind || self.ctx != end.ctx {
            return false;
        }
        match self.kind {
            Kind::Node => {
                self.node.as_ref().map(Node::name) == end.node.as_ref().map(Node::name)
                    && (end.items.start == usize::MAX || self.items.contains(&end.items.start))
            }
            Kind::Item => self.items.contains(&end.items.start),
            _ => true,
        }
    }
}
