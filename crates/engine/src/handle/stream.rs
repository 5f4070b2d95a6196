//! The results of a streamed map as they come: [`MapStream`] (a `futures` stream) and
//! [`MapIter`] (an iterator over it), each item a [`StreamedItem`] or an
//! [`ItemFailure`].

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::mpsc::UnboundedReceiver;
use futures::{Stream, StreamExt};

use super::Progress;
use super::driver::{Piece, Shared};
use crate::error::Result;
use crate::exec::ItemFailure;
use crate::outputs::Outputs;
use crate::value::{TypeInfo, Value};

/// One item of a streamed map that succeeded: its index in the map and its outputs.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let p = Pipeline::new([double::node()]);
/// let mut items = p.map_iter(&Inputs::new().with("x", vec![5_i64]), &["x"], "zip", &RunOptions::new())?;
/// let item = items.next().unwrap()?;
/// assert_eq!((item.index(), item.get::<i64>("doubled")?), (0, 10));
/// assert!(items.next().is_none());
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct StreamedItem {
    index: usize,
    outputs: Outputs,
}

impl StreamedItem {
    /// The item's index in the map.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The item's outputs.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// A copy of the item's output `name` as `T`.
    ///
    /// # Errors
    ///
    /// As [`Outputs::get`].
    pub fn get<T: Clone + Send + Sync + 'static>(&self, name: &str) -> Result<T> {
        self.outputs.get(name)
    }

    /// The item's outputs, owned.
    pub fn into_outputs(self) -> Outputs {
        self.outputs
    }
}

/// In which order a streamed map hands out its items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// In item order (the default): an item comes out once it and every item before it
    /// are done.
    #[default]
    Items,
    /// As they finish: the items of a piece (one item on the node engine, a batch on
    /// the columnar engine) in item order, the pieces in the order they finished.
    Completed,
}

/// The outputs of a map, each with the type of its items.
pub(super) type OutputTypes = Arc<[(String, ItemType)]>;

/// The type of an output's items, as a value of an item reads it.
type ItemType = fn() -> TypeInfo;

/// What a streamed map yields: an item that succeeded, or one that failed.
pub type Streamed = std::result::Result<StreamedItem, ItemFailure>;

/// The items of a map as they finish, a `futures` [`Stream`]; see `Run::map_iter_async`.
/// Dropping it stops the map: no new item starts, those running finish unseen.
pub struct MapStream {
    rx: UnboundedReceiver<Piece>,
    shared: Arc<Shared>,
    /// The outputs, with the type of their items.
    outputs: OutputTypes,
    order: Order,
    /// Whether the first failure ends the stream (`OnError::Fail`).
    fail_fast: bool,
    /// Pieces that finished ahead of those before them (in item order), by first item.
    waiting: BTreeMap<usize, (usize, VecDeque<Entry>)>,
    /// The first item of the next piece in item order.
    next: usize,
    ready: VecDeque<Entry>,
    ended: bool,
}

/// An item to hand out, and whether it is the last of its piece.
struct Entry {
    item: Streamed,
    last: bool,
}

impl MapStream {
    pub(super) fn new(
        rx: UnboundedReceiver<Piece>,
        shared: Arc<Shared>,
        outputs: OutputTypes,
        fail_fast: bool,
    ) -> MapStream {
        MapStream {
            rx,
            shared,
            outputs,
            order: Order::Items,
            fail_fast,
            waiting: BTreeMap::new(),
            next: 0,
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// This stream handing out items in `order` (call it before taking any).
    pub fn with_order(mut self, order: Order) -> MapStream {
        self.order = order;
        self
    }

    /// The items done and failed so far (computed, whether handed out yet or not).
    pub fn progress(&self) -> Progress {
        self.shared.progress()
    }

    /// The items of `piece`, in item order.
    fn entries(&self, piece: Piece) -> VecDeque<Entry> {
        let first = piece.items.start;
        let mut items: Vec<Streamed> = Vec::new();
        match piece.result {
            Err(failure) => items.push(Err(failure)),
            Ok(mut out) => {
                let rows = out.item_indices();
                let failures = Piece::failures(first, &mut out);
                let columns = out.into_columns();
                let columns: Vec<(&str, Arc<Value>, ItemType)> = self
                    .outputs
                    .iter()
                    .filter_map(|(name, elem)| Some((name.as_str(), Arc::new(columns.get(name)?.clone()), *elem)))
                    .collect();
                let mut failures = failures.into_iter().peekable();
                for (row, local) in rows.into_iter().enumerate() {
                    while let Some(f) = failures.next_if(|f| f.item() < first + local) {
                        items.push(Err(f));
                    }
                    let values = columns
                        .iter()
                        .map(|(name, column, elem)| (name.to_string(), Value::item(column.clone(), row, *elem)));
                    items.push(Ok(StreamedItem {
                        index: first + local,
                        outputs: Outputs::from_values(values),
                    }));
                }
                items.extend(failures.map(Err));
            }
        }
        let n = items.len();
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Entry { item, last: i + 1 == n })
            .collect()
    }

    /// Takes in a finished piece.
    fn arrive(&mut self, piece: Piece) {
        let (start, end) = (piece.items.start, piece.items.end);
        let entries = self.entries(piece);
        match self.order {
            Order::Completed => self.ready.extend(entries),
            Order::Items => {
                self.waiting.insert(start, (end, entries));
                while let Some((end, entries)) = self.waiting.remove(&self.next) {
                    self.next = end;
                    self.ready.extend(entries);
                }
            }
        }
    }

    /// Hands out the next ready item.
    fn hand_out(&mut self) -> Option<Streamed> {
        let Entry { item, last } = self.ready.pop_front()?;
        if last {
            self.shared.consumed();
        }
        if item.is_err() && self.fail_fast {
            self.end();
        }
        Some(item)
    }

    fn end(&mut self) {
        self.ended = true;
        self.shared.stop();
        self.ready.clear();
        self.waiting.clear();
    }
}

impl Stream for MapStream {
    type Item = Streamed;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Streamed>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if let Some(item) = this.hand_out() {
                return Poll::Ready(Some(item));
            }
            match this.rx.poll_next_unpin(cx) {
                Poll::Ready(Some(piece)) => this.arrive(piece),
                // Every piece that started is in: those after a stop never started, so
                // the pieces still waiting go out in item order over the gap.
                Poll::Ready(None) => {
                    // A piece panicked (a callback): the panic goes on here.
                    this.shared.resume_panic();
                    let waiting = std::mem::take(&mut this.waiting);
                    this.ready
                        .extend(waiting.into_values().flat_map(|(_, entries)| entries));
                    if this.ready.is_empty() {
                        this.ended = true;
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl std::fmt::Debug for MapStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapStream")
            .field("order", &self.order)
            .field("progress", &self.progress())
            .finish()
    }
}

impl std::fmt::Debug for MapIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MapIter").field(&self.0).finish()
    }
}

impl Drop for MapStream {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

/// The items of a map as they finish, an [`Iterator`]; see `Run::map_iter`. Dropping it
/// stops the map: no new item starts, those running finish unseen.
pub struct MapIter(MapStream);

impl MapIter {
    pub(crate) fn new(stream: MapStream) -> MapIter {
        MapIter(stream)
    }

    /// This iterator handing out items in `order` (call it before taking any).
    pub fn with_order(self, order: Order) -> MapIter {
        MapIter(self.0.with_order(order))
    }

    /// The items done and failed so far (computed, whether handed out yet or not).
    pub fn progress(&self) -> Progress {
        self.0.progress()
    }

    /// The stream behind this iterator.
    pub fn into_stream(self) -> MapStream {
        self.0
    }
}

impl Iterator for MapIter {
    type Item = Streamed;

    fn next(&mut self) -> Option<Streamed> {
        futures::executor::block_on(self.0.next())
    }
}
