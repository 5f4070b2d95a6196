//! The callbacks of a streamed map as its pieces see them: the map reports its own
//! pipeline and map events once, so each piece's top-level ones are left out, and the
//! items of a piece (which its engine numbers from 0) are renumbered as items of the
//! whole map.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::events::{Callback, Context, End, NodeData, Signature};
use crate::node::Node;

/// The callbacks of a map, for the piece whose first item is item `first` of the map.
pub(super) struct Window {
    pub(super) callbacks: Arc<[Arc<dyn Callback>]>,
    pub(super) first: usize,
}

impl Window {
    fn each(&self, f: impl Fn(&dyn Callback)) {
        for cb in self.callbacks.iter() {
            f(&**cb);
        }
    }

    /// `items` of the innermost map of `ctx` as the callbacks see them: items of the
    /// whole map at the top level, as they are inside nested pipelines.
    fn items(&self, ctx: &Context, items: Range<usize>) -> Range<usize> {
        match ctx.depth() {
            0 => self.first + items.start..self.first + items.end,
            _ => items,
        }
    }
}

impl Callback for Window {
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
    fn on_map_item_start(&self, ctx: &Context, items: Range<usize>) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_map_item_start(ctx, items.clone()));
    }
    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, elapsed: Duration) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_map_item_end(ctx, items.clone(), elapsed));
    }
    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_map_item_cached(ctx, items.clone()));
    }
    fn on_map_item_skipped(&self, ctx: &Context, items: Range<usize>) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_map_item_skipped(ctx, items.clone()));
    }
    fn on_node_start(&self, ctx: &Context, node: &Node, items: Range<usize>, inputs: &NodeData<'_>) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_node_start(ctx, node, items.clone(), inputs));
    }
    fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, elapsed: Duration, outputs: &NodeData<'_>) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_node_end(ctx, node, items.clone(), elapsed, outputs));
    }
    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, signature: &Signature<'_>) {
        let items = self.items(ctx, items);
        self.each(|cb| cb.on_node_cached(ctx, node, items.clone(), signature));
    }
    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
        // The item is the map's; the error's own message names the piece's.
        let item = item.map(|i| self.items(ctx, i..i + 1).start);
        self.each(|cb| cb.on_node_error(ctx, node, item, error));
    }
}
