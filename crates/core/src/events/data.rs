//! What node events carry: the values a node read or made ([`NodeData`]), the cache
//! signature a node's results were found under ([`Signature`]), and the run's user data
//! ([`UserData`]).

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::node::Port;
use crate::value::Value;

/// The values a node read (in [`on_node_start`](super::Callback::on_node_start)) or made
/// (in [`on_node_end`](super::Callback::on_node_end)) for the items of the event, by
/// parameter or output name.
///
/// Row `r` is item `items.start + r` of the event. The node engine (and the columnar
/// engine's nodes that run item by item) gives one item's values, borrowed: nothing is
/// copied or converted to make the view. The columnar engine's vectorized nodes give
/// the Arrow arrays of a batch (the `hypernodes::columnar::NodeDataArrow` extension
/// reads them whole); [`get`](NodeData::get) converts one row to the Rust type a node
/// engine callback would read, with the conversions the engine uses, only when asked.
///
/// # Examples
///
/// ```
/// use std::ops::Range;
/// use std::sync::Mutex;
///
/// use hypernodes::events::{Callback, Context, NodeData};
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// #[derive(Default)]
/// struct SeenX(Mutex<Vec<i64>>);
///
/// impl Callback for SeenX {
///     fn on_node_start(&self, _ctx: &Context, _node: &Node, _items: Range<usize>, inputs: &NodeData<'_>) {
///         let mut seen = self.0.lock().unwrap();
///         seen.extend((0..inputs.len()).filter_map(|r| inputs.get::<i64>("x", r)));
///     }
/// }
///
/// let seen = std::sync::Arc::new(SeenX::default());
/// let p = Pipeline::new([double::node()]).with_config(RunConfig::new().with_callback(seen.clone()));
/// p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], "zip")?;
/// assert_eq!(*seen.0.lock().unwrap(), [1, 2, 3]);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct NodeData<'a> {
    ports: &'a [Port],
    repr: Repr<'a>,
}

#[derive(Clone, Copy)]
enum Repr<'a> {
    /// Nothing to show.
    Empty,
    /// One item's values, one per port.
    Refs(&'a [&'a Value]),
    /// One item's values, one per port.
    Values(&'a [Value]),
    /// One item's values, per port when it was computed (a nested pipeline computes only
    /// the outputs its parent reads).
    Some(&'a [Option<Value>]),
    /// The columns of a batch of items.
    Batch(&'a dyn Batch),
}

/// The columns of a batch of items, as an engine holds them (the columnar engine: Arrow
/// arrays). Not a public API: read them through [`NodeData`].
#[doc(hidden)]
pub trait Batch: Sync {
    /// The number of rows.
    fn rows(&self) -> usize;
    /// Whether port `k` (described by `port`) has a column.
    fn holds(&self, k: usize, port: &Port) -> bool;
    /// Row `row` of port `k` as a value, `None` when absent or null.
    fn value(&self, k: usize, port: &Port, row: usize) -> Option<Value>;
    /// Port `k`'s column over the rows, as the engine's array type (boxed).
    fn column(&self, k: usize, port: &Port) -> Option<Box<dyn Any>>;
}

impl<'a> NodeData<'a> {
    /// No data (an event whose engine holds none to show).
    #[doc(hidden)]
    pub fn empty() -> NodeData<'static> {
        NodeData {
            ports: &[],
            repr: Repr::Empty,
        }
    }

    /// One item's values of `ports`, borrowed.
    #[doc(hidden)]
    pub fn refs(ports: &'a [Port], values: &'a [&'a Value]) -> NodeData<'a> {
        NodeData {
            ports,
            repr: Repr::Refs(values),
        }
    }

    /// One item's values of `ports`.
    #[doc(hidden)]
    pub fn values(ports: &'a [Port], values: &'a [Value]) -> NodeData<'a> {
        NodeData {
            ports,
            repr: Repr::Values(values),
        }
    }

    /// One item's values of `ports`, where computed.
    #[doc(hidden)]
    pub fn some(ports: &'a [Port], values: &'a [Option<Value>]) -> NodeData<'a> {
        NodeData {
            ports,
            repr: Repr::Some(values),
        }
    }

    /// The columns of `ports` over a batch.
    #[doc(hidden)]
    pub fn batch(ports: &'a [Port], batch: &'a dyn Batch) -> NodeData<'a> {
        NodeData {
            ports,
            repr: Repr::Batch(batch),
        }
    }

    /// The number of items (rows): 1 for one item's values, the batch's size for a batch,
    /// 0 when the event carries no data.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Empty => 0,
            Repr::Refs(_) | Repr::Values(_) | Repr::Some(_) => 1,
            Repr::Batch(b) => b.rows(),
        }
    }

    /// Whether there is no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the data is a batch of columns (the columnar engine's vectorized nodes)
    /// rather than one item's values.
    pub fn is_batch(&self) -> bool {
        matches!(self.repr, Repr::Batch(_))
    }

    /// The names of the parameters (or outputs) given, in the node's order.
    pub fn names(&self) -> impl Iterator<Item = &'a str> + 'a {
        let this = *self;
        self.ports
            .iter()
            .enumerate()
            .filter(move |&(k, _)| this.has(k))
            .map(|(_, p)| p.name())
    }

    fn has(&self, k: usize) -> bool {
        match self.repr {
            Repr::Empty => false,
            Repr::Refs(v) => k < v.len(),
            Repr::Values(v) => k < v.len(),
            Repr::Some(v) => v.get(k).is_some_and(Option::is_some),
            Repr::Batch(b) => self.ports.get(k).is_some_and(|p| b.holds(k, p)),
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.name() == name)
            .filter(|&k| self.has(k))
    }

    /// The value of `name` at row `row`: borrowed from one item's values, converted from
    /// a batch's column. `None` for a name not given, a row past [`len`](NodeData::len),
    /// or a null row of a type without nulls.
    pub fn value(&self, name: &str, row: usize) -> Option<Cow<'a, Value>> {
        let k = self.index(name)?;
        if row >= self.len() {
            return None;
        }
        match self.repr {
            Repr::Empty => None,
            Repr::Refs(v) => Some(Cow::Borrowed(v[k])),
            Repr::Values(v) => Some(Cow::Borrowed(&v[k])),
            Repr::Some(v) => v[k].as_ref().map(Cow::Borrowed),
            Repr::Batch(b) => b.value(k, &self.ports[k], row).map(Cow::Owned),
        }
    }

    /// The value of `name` at row `row` as a `T` (a clone, or a batch's row converted):
    /// the type a node reading `name` declares. `None` as for [`value`](NodeData::value),
    /// or when the value is not a `T`.
    pub fn get<T: Clone + 'static>(&self, name: &str, row: usize) -> Option<T> {
        match self.value(name, row)? {
            Cow::Borrowed(v) => v.downcast_ref::<T>().cloned(),
            Cow::Owned(v) => v.downcast_ref::<T>().cloned(),
        }
    }

    /// The column of `name` over the batch, boxed as the engine holds it; `None` for one
    /// item's values.
    #[doc(hidden)]
    pub fn column_any(&self, name: &str) -> Option<Box<dyn Any>> {
        match self.repr {
            Repr::Batch(b) => {
                let k = self.index(name)?;
                b.column(k, &self.ports[k])
            }
            _ => None,
        }
    }
}

impl fmt::Debug for NodeData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeData")
            .field("names", &self.names().collect::<Vec<_>>())
            .field("len", &self.len())
            .field("batch", &self.is_batch())
            .finish()
    }
}

/// The cache signature a node's results were found under, for the items of an
/// [`on_node_cached`](super::Callback::on_node_cached) event: the node key and one item
/// key per item (see [`hypernodes::cache`](crate::cache) for what each digests). They
/// are the keys the cache's [`Store`](crate::cache::Store) keeps the results under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature<'a> {
    node: &'a [u8; 32],
    items: &'a [[u8; 32]],
}

impl<'a> Signature<'a> {
    #[doc(hidden)]
    pub fn new(node: &'a [u8; 32], items: &'a [[u8; 32]]) -> Signature<'a> {
        Signature { node, items }
    }

    /// The node key.
    pub fn node_key(&self) -> &'a [u8; 32] {
        self.node
    }

    /// The item keys, one per item of the event, in item order.
    pub fn item_keys(&self) -> &'a [[u8; 32]] {
        self.items
    }
}

/// Values the callbacks of one run share, one per type: what one hook leaves for
/// another (a span opened in `on_node_start` and closed in `on_node_end`). Reached with
/// [`Context::user_data`](super::Context::user_data) from any context of the run (nested
/// ones too); made the first time a hook asks, dropped with the run's context. Another
/// run has its own.
///
/// # Examples
///
/// ```
/// use hypernodes::events::UserData;
///
/// let data = UserData::default();
/// assert_eq!(data.insert(3_u32), None);
/// assert_eq!(data.with(|n: &mut u32| { *n += 1; *n }), 4);
/// assert_eq!(data.get::<u32>(), Some(4));
/// assert_eq!(data.remove::<u32>(), Some(4));
/// assert_eq!(data.get::<u32>(), None);
/// ```
#[derive(Default)]
pub struct UserData {
    map: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl UserData {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TypeId, Box<dyn Any + Send + Sync>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `value`, returning the `T` kept before, if any.
    pub fn insert<T: Send + Sync + 'static>(&self, value: T) -> Option<T> {
        let old = self.lock().insert(TypeId::of::<T>(), Box::new(value));
        old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
    }

    /// A clone of the `T` kept, if any.
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.lock()
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
            .cloned()
    }

    /// Takes the `T` kept out, if any.
    pub fn remove<T: Send + Sync + 'static>(&self) -> Option<T> {
        let old = self.lock().remove(&TypeId::of::<T>());
        old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
    }

    /// Calls `f` on the `T` kept (made with `T::default()` when there is none), under
    /// the lock every hook of the run shares: keep `f` short.
    pub fn with<T: Default + Send + Sync + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut map = self.lock();
        let slot = map.entry(TypeId::of::<T>()).or_insert_with(|| Box::new(T::default()));
        f(slot.downcast_mut::<T>().expect("kept under its own type"))
    }
}

impl fmt::Debug for UserData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserData").field("values", &self.lock().len()).finish()
    }
}
