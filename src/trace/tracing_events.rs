//! [`Tracing`], the callback that reports runs to the `tracing` crate's subscribers.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use tracing::{Level, Span};

use crate::error::Error;
use crate::events::{Callback, Context, End, NodeData, Signature};
use crate::node::Node;

/// Reports runs to [`tracing`](https://docs.rs/tracing): a span per top-level run
/// (`pipeline`, INFO) and per nested pipeline call (`nested`, a child of its outer
/// run's span), and inside them an event at the end of every map (INFO), node call
/// (`node`, DEBUG) and item (`item`, TRACE), with the fields `path`, `node`,
/// `items` (a range), `count`, `elapsed_us`, `cache` (`hit` or `miss`) and `error`
/// (a failed node: an ERROR event).
///
/// Why events at the end rather than a span per node and item: the start and end of
/// a batch of items can come on different threads (the columnar engine starts every
/// batch on the calling thread and ends it where it ran), and a span per item of a
/// million-item map costs more than the items. One event when the work is done,
/// carrying how long it took, renders as one line in a log and costs nothing when
/// its level is off. The spans are made with explicit parents and never entered on
/// a thread, so what they contain does not depend on which thread reports it.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::trace::Tracing;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// // With a subscriber installed (tracing-subscriber's `fmt()`, for one), the run
/// // logs `pipeline{path=demo}: node node="double" items=0..1 ... cache="miss"`.
/// let p = Pipeline::new([double::node()]).with_name("demo").with_config(RunConfig::new().with_callback(Tracing::new()));
/// p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], "zip")?;
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Default)]
pub struct Tracing {
    /// The span of each top-level run and nested call going on, by context id.
    spans: Mutex<HashMap<u64, Span>>,
}

impl Tracing {
    /// Reports to the current subscriber (of the thread that reports each event).
    pub fn new() -> Tracing {
        Tracing::default()
    }

    fn span_of(&self, ctx: &Context) -> Span {
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ctx.id())
            .cloned()
            .unwrap_or_else(Span::none)
    }

    fn open(&self, ctx: &Context, span: Span) {
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ctx.id(), span);
    }

    fn close(&self, ctx: &Context) -> Span {
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ctx.id())
            .unwrap_or_else(Span::none)
    }
}

/// A context's path, displayed without being joined first.
struct PathOf<'a>(&'a Context);

impl fmt::Display for PathOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.path().iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

impl Callback for Tracing {
    fn on_pipeline_start(&self, ctx: &Context) {
        let span = tracing::info_span!(parent: None, "pipeline", path = %PathOf(ctx));
        self.open(ctx, span);
    }

    fn on_pipeline_end(&self, ctx: &Context, end: &End<'_>) {
        let span = self.close(ctx);
        match end.error() {
            None => {
                tracing::info!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), "pipeline end")
            }
            Some(e) => {
                tracing::error!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), error = %e, "pipeline failed")
            }
        }
    }

    fn on_nested_start(&self, ctx: &Context) {
        let parent = ctx.parent().map(|p| self.span_of(p)).unwrap_or_else(Span::none);
        let items = ctx.items().last().cloned().unwrap_or(0..1);
        let span = tracing::info_span!(parent: &parent, "nested", path = %PathOf(ctx), items = ?items);
        self.open(ctx, span);
    }

    fn on_nested_end(&self, ctx: &Context, end: &End<'_>) {
        let span = self.close(ctx);
        match end.error() {
            None => {
                tracing::debug!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), "nested end")
            }
            Some(e) => {
                tracing::debug!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), error = %e, "nested failed")
            }
        }
    }

    fn on_map_start(&self, ctx: &Context, items: usize) {
        if tracing::enabled!(Level::INFO) {
            tracing::info!(parent: &self.span_of(ctx), path = %PathOf(ctx), count = items, "map start");
        }
    }

    fn on_map_end(&self, ctx: &Context, end: &End<'_>) {
        if tracing::enabled!(Level::INFO) {
            let span = self.span_of(ctx);
            match end.error() {
                None => {
                    tracing::info!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), "map end")
                }
                Some(e) => {
                    tracing::info!(parent: &span, path = %PathOf(ctx), elapsed_us = micros(end.elapsed()), error = %e, "map failed")
                }
            }
        }
    }

    fn on_map_item_end(&self, ctx: &Context, items: Range<usize>, elapsed: Duration) {
        if tracing::enabled!(Level::TRACE) {
            tracing::trace!(parent: &self.span_of(ctx), path = %PathOf(ctx), count = items.len(), items = ?items, elapsed_us = micros(elapsed), cache = "miss", "item");
        }
    }

    fn on_map_item_cached(&self, ctx: &Context, items: Range<usize>) {
        if tracing::enabled!(Level::TRACE) {
            tracing::trace!(parent: &self.span_of(ctx), path = %PathOf(ctx), count = items.len(), items = ?items, cache = "hit", "item");
        }
    }

    fn on_node_end(&self, ctx: &Context, node: &Node, items: Range<usize>, elapsed: Duration, _outputs: &NodeData<'_>) {
        if tracing::enabled!(Level::DEBUG) {
            tracing::debug!(parent: &self.span_of(ctx), path = %PathOf(ctx), node = node.name(), count = items.len(), items = ?items, elapsed_us = micros(elapsed), cache = "miss", "node");
        }
    }

    fn on_node_cached(&self, ctx: &Context, node: &Node, items: Range<usize>, _signature: &Signature<'_>) {
        if tracing::enabled!(Level::DEBUG) {
            tracing::debug!(parent: &self.span_of(ctx), path = %PathOf(ctx), node = node.name(), count = items.len(), items = ?items, cache = "hit", "node");
        }
    }

    fn on_node_error(&self, ctx: &Context, node: &Node, item: Option<usize>, error: &Error) {
        tracing::error!(parent: &self.span_of(ctx), path = %PathOf(ctx), node = node.name(), item = ?item, error = %error, "node failed");
    }
}
