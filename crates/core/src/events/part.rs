//! The callbacks of a run made of smaller runs, as each part sees them ([`Part`]): a
//! file run's batches, a streamed map's pieces.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::{Callback, Context, End, NodeData, Signature};
use crate::error::Error;
use crate::node::Node;

/// The callbacks of a run made of parts that run as runs of their own (a file run's
/// batches, a streamed map's pieces), set on each part's configuration. The whole
/// reports its own pipeline and map events, so each part's top-level ones are left
/// out; its nested and node events go through. At the top level, with `first`
/// (`Some`), a part's items are items `first..` of the whole (the part numbers them
/// from 0) and its item events go through renumbered; without (`None`), the whole
/// reports the items itself and a part's top-level item events are left out, its node
/// events keeping the part's own numbering.
#[doc(hidden)]
pub struct Part {
    pub callbacks: Arc<[Arc<dyn Callback>]>,
    pub first: Option<usize>,
}

impl Part {
    fn each(&self, f: impl Fn(&dyn Callback)) {
        for cb in self.callbacks.iter() {
            f(&**cb);
        }
    }

    /// `items` of the innermost map of `ctx` as the callbacks see them: items of the
    /// whole at the top level, as they are inside nested pipelines.
    fn items(&self, ctx: &Context, items: Range<usize>) -> Range<usize> {
        match (ctx.depth(), self.first) {
            (0, Some(first)) => first + items.start..first + items.end,
            _ => items,
        }
    }

    /// Whether a part's item events at the depth of `ctx` go through.
    fn items_pass(&self, ctx: &Context) -> bool {
        ctx.depth() > 0 || self.first.is_some()
    }
}

impl Callback for Part {
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
        if self.items_pass(ctx) {
            let items = self.items(ctx, items);
            self.each(|cb| cb.on_map_item_start(ctx, items.clone()));
        }
    }
    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, elapsed: Duration) {
        if self.items_pass(ctx) {
            let items = self.items(ctx, items);
            self.each(|cb| cb.on_map_item_end(ctx, items.clone(), elapsed));
        }
    }
    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
        if self.items_pass(ctx) {
            let items = self.items(ctx, items);
            self.each(|cb| cb.on_map_item_cached(ctx, items.clone()));
        }
    }
    fn on_map_item_skipped(&self, ctx: &Context, items: Range<usize>) {
        if self.items_pass(ctx) {
            let items = self.items(ctx, items);
            self.each(|cb| cb.on_map_item_skipped(ctx, items.clone()));
        }
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
        // The item is the whole's; the error's own message names the part's.
        let item = item.map(|i| self.items(ctx, i..i + 1).start);
        self.each(|cb| cb.on_node_error(ctx, node, item, error));
    }
    fn timed(&self) -> bool {
        self.callbacks.iter().any(|cb| cb.timed())
    }
}
