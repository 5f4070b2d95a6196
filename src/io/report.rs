//! How a file run reports to the callbacks of its configuration: the rows of its files
//! as the items of one top-level map, and the events of its batches in that context.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{RecordBatch, UInt64Array};

use crate::error::Error;
use crate::events::{Callback, Context, End, Events, NodeData, Signature, runs};
use crate::node::Node;

/// Where a file's batches report their items: the run's events, and the file's first
/// row among the rows of the run.
#[derive(Clone, Copy)]
pub(super) struct Reporting<'a> {
    pub(super) events: Option<&'a Events>,
    pub(super) offset: usize,
}

impl Reporting<'_> {
    /// The start of the rows of a batch.
    pub(super) fn item_start(&self, rows: std::ops::Range<usize>) {
        if let Some(events) = self.events {
            events.item_start(self.offset + rows.start..self.offset + rows.end);
        }
    }

    /// Rows written without being computed: those a resumed file kept.
    pub(super) fn items_kept(&self, rows: std::ops::Range<usize>) {
        if let (Some(events), false) = (self.events, rows.is_empty()) {
            events.item_cached(self.offset + rows.start..self.offset + rows.end);
        }
    }

    /// The end of the rows of a batch written: those that did not fail (`failed`, the
    /// side file's rows, names them by `_row`).
    pub(super) fn items_written(&self, rows: std::ops::Range<usize>, failed: Option<&RecordBatch>, started: Instant) {
        let Some(events) = self.events else { return };
        let elapsed = started.elapsed();
        let bad: Vec<usize> = failed
            .and_then(|f| f.column_by_name("_row"))
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .map(|rows| rows.values().iter().map(|&r| r as usize).collect())
            .unwrap_or_default();
        let offset = self.offset;
        if bad.is_empty() {
            events.item_end(offset + rows.start..offset + rows.end, elapsed);
            return;
        }
        runs(rows.filter(|r| !bad.contains(r)), |good| {
            events.item_end(offset + good.start..offset + good.end, elapsed)
        });
    }
}

/// The callbacks of a [`FileRun`](super::FileRun) as its batches see them: the run reports its own
/// start, map and items (rows of the files), so the top-level pipeline, map and item
/// events of each batch (a node engine batch is a top-level map) are left out; node and
/// nested events go through.
pub(super) struct BatchEvents(pub(super) Arc<[Arc<dyn Callback>]>);

impl BatchEvents {
    fn each(&self, f: impl Fn(&dyn Callback)) {
        for cb in self.0.iter() {
            f(&**cb);
        }
    }
}

impl Callback for BatchEvents {
    fn on_nested_start(&self, ctx: &Context) {
        self.each(|cb| cb.on_nested_start(ctx));
    }
    fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {
        self.each(|cb| cb.on_nested_end(ctx, end));
    }
    fn on_map_start(&self, ctx: &Context, items: usize) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_start(ctx, items));
        }
    }
    fn on_map_end(&self, ctx: &Context, end: &End<'_>) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_end(ctx, end));
        }
    }
    fn on_map_item_start(&self, ctx: &Context, items: std::ops::Range<usize>) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_item_start(ctx, items.clone()));
        }
    }
    fn on_map_item_end(&self, ctx: &Context, items: std::ops::Range<usize>, elapsed: Duration) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_item_end(ctx, items.clone(), elapsed));
        }
    }
    fn on_map_item_cached(&self, ctx: &Context, items: std::ops::Range<usize>) {
        if ctx.depth() > 0 {
            self.each(|cb| cb.on_map_item_cached(ctx, items.clone()));
        }
    }
    fn on_node_start(&self, ctx: &Context, node: &Node, items: std::ops::Range<usize>, inputs: &NodeData<'_>) {
        self.each(|cb| cb.on_node_start(ctx, node, items.clone(), inputs));
    }
    fn on_node_end(
        &self,
        ctx: &Context,
        node: &Node,
        items: std::ops::Range<usize>,
        elapsed: Duration,
        outputs: &NodeData<'_>,
    ) {
        self.each(|cb| cb.on_node_end(ctx, node, items.clone(), elapsed, outputs));
    }
    fn on_node_cached(&self, ctx: &Context, node: &Node, items: std::ops::Range<usize>, signature: &Signature<'_>) {
        self.each(|cb| cb.on_node_cached(ctx, node, items.clone(), signature));
    }
    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
        self.each(|cb| cb.on_node_error(ctx, node, item, error));
    }
}
