//! Type-erased values passed between nodes, the description of their Rust types, and
//! typed columns of results.
//!
//! The node engine never converts a value: a node's output is stored once behind an
//! `Arc` and every consumer borrows it. Items of a mapped list are views into the list
//! ([`Value`] keeps the list and an index), so mapping over a `Vec<T>` copies nothing.
//! Results of a map are collected into plain `Vec<T>` columns.

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use crate::error::BoxError;
use crate::hash::{HashFn, StableHash};

type AnyRef<'a> = &'a (dyn Any + Send + Sync);
type AnyArc = Arc<dyn Any + Send + Sync>;

/// The description of a Rust type that a node reads or produces.
///
/// Carries the type's identity and name (for build-time type checks and messages) and
/// what is needed to treat values of the type as list items and to collect them into
/// columns, without knowing the type statically.
///
/// # Examples
///
/// ```
/// use hypernodes::TypeInfo;
///
/// let t = TypeInfo::of::<Vec<String>>();
/// assert_eq!(t.name(), "Vec<String>");
/// assert!(t.is::<Vec<String>>());
/// assert_eq!(TypeInfo::of::<String>().list_of().unwrap().name(), "Vec<String>");
/// ```
#[derive(Clone, Copy)]
pub struct TypeInfo {
    /// The function that made this description (to store it in a [`Value`]).
    this: fn() -> TypeInfo,
    id: fn() -> TypeId,
    raw_name: fn() -> &'static str,
    /// The description of `Vec<Self>`; `None` past the supported list depth.
    list: Option<fn() -> TypeInfo>,
    /// A builder collecting values of this type into a `Vec<Self>`.
    builder: Option<fn(usize) -> Box<dyn ColumnBuilder>>,
    /// Item `i` of a `Vec<Self>`.
    index: for<'a> fn(AnyRef<'a>, usize) -> Option<AnyRef<'a>>,
    /// Length of a `Vec<Self>`.
    list_len: fn(AnyRef<'_>) -> Option<usize>,
    /// Engine-specific data about the type (the columnar engine's Arrow conversions).
    extension: Option<&'static (dyn Any + Send + Sync)>,
    /// How values of the type are hashed, when the `#[node]` macro found out.
    hash: Option<HashFn>,
}

impl TypeInfo {
    /// The description of `T`.
    pub fn of<T: Send + Sync + 'static>() -> TypeInfo {
        info::<T, D4>()
    }

    /// The [`TypeId`] of the type.
    pub fn type_id(&self) -> TypeId {
        (self.id)()
    }

    /// The type's name without module paths, e.g. `Vec<String>`.
    pub fn name(&self) -> String {
        short_type_name((self.raw_name)())
    }

    /// Whether this describes `T`.
    pub fn is<T: 'static>(&self) -> bool {
        self.type_id() == TypeId::of::<T>()
    }

    /// The description of `Vec<Self>`, or `None` when lists nest deeper than hypernodes
    /// supports (four levels of `Vec` around the type a node was declared with).
    pub fn list_of(&self) -> Option<TypeInfo> {
        self.list.map(|f| f())
    }

    /// This description with engine-specific data attached (the columnar engine attaches
    /// the type's Arrow conversions). Equality still compares only the types.
    pub fn with_extension(mut self, extension: &'static (dyn Any + Send + Sync)) -> TypeInfo {
        self.extension = Some(extension);
        self
    }

    /// The engine-specific data attached with [`TypeInfo::with_extension`].
    pub fn extension(&self) -> Option<&'static (dyn Any + Send + Sync)> {
        self.extension
    }

    /// This description with the function that hashes values of the type for cache keys
    /// attached (the `#[node]` macro attaches [`StableHash`] or serde hashing where the
    /// type has either). Equality still compares only the types.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::hash::{digest_as, hash_fn};
    /// use hypernodes::{TypeInfo, Value};
    ///
    /// #[derive(Clone, Copy)]
    /// struct Celsius(f64);
    /// impl hypernodes::hash::StableHash for Celsius {
    ///     fn stable_hash(&self, h: &mut hypernodes::hash::StableHasher) {
    ///         h.tag("Celsius").value(&self.0);
    ///     }
    /// }
    ///
    /// let plain = TypeInfo::of::<Celsius>();
    /// let hashed = plain.with_hasher(hash_fn::<Celsius>());
    /// assert_eq!(plain, hashed);
    /// assert!(digest_as(&Value::new(Celsius(21.5)), &plain).is_none());
    /// assert!(digest_as(&Value::new(Celsius(21.5)), &hashed).is_some());
    /// ```
    pub fn with_hasher(mut self, hasher: HashFn) -> TypeInfo {
        self.hash = Some(hasher);
        self
    }

    /// How values of this type are hashed: the function attached with
    /// [`TypeInfo::with_hasher`], else the built-in one of a primitive, `String`, or an
    /// `Option` or `Vec` of them; `None` for any other type.
    #[doc(hidden)]
    pub fn hasher(&self) -> Option<HashFn> {
        self.hash.or_else(|| crate::hash::builtin_hasher(self.type_id()))
    }

    #[doc(hidden)]
    pub fn this_fn(&self) -> fn() -> TypeInfo {
        self.this
    }

    /// Length of `value` read as a `Vec<Self>`, or `None` when it is not one.
    #[doc(hidden)]
    pub fn list_len(&self, value: &Value) -> Option<usize> {
        value.as_any().and_then(self.list_len)
    }

    /// A builder collecting values of this type into a `Vec<Self>` value.
    #[doc(hidden)]
    pub fn column_builder(&self, capacity: usize) -> Option<Box<dyn ColumnBuilder>> {
        self.builder.map(|b| b(capacity))
    }
}

impl PartialEq for TypeInfo {
    fn eq(&self, other: &Self) -> bool {
        self.type_id() == other.type_id()
    }
}

impl Eq for TypeInfo {}

impl fmt::Debug for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Display for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

// List depth bookkeeping. `TypeInfo::of::<T>()` can describe `Vec<T>`, whose info can
// describe `Vec<Vec<T>>`, and so on four times; a fixed depth keeps monomorphization
// finite (each level names the next one only through a trait method of its depth).
trait Depth: 'static {
    fn list_of<T: Send + Sync + 'static>() -> Option<fn() -> TypeInfo>;
    fn vec_info<T: Send + Sync + 'static>() -> fn() -> TypeInfo;
}
struct D0;
struct D1;
struct D2;
struct D3;
struct D4;

impl Depth for D0 {
    fn list_of<T: Send + Sync + 'static>() -> Option<fn() -> TypeInfo> {
        None
    }
    fn vec_info<T: Send + Sync + 'static>() -> fn() -> TypeInfo {
        leaf_info::<Vec<T>>
    }
}

macro_rules! depth {
    ($d:ident => $next:ident) => {
        impl Depth for $d {
            fn list_of<T: Send + Sync + 'static>() -> Option<fn() -> TypeInfo> {
                Some(info::<Vec<T>, $next>)
            }
            fn vec_info<T: Send + Sync + 'static>() -> fn() -> TypeInfo {
                info::<Vec<T>, $next>
            }
        }
    };
}
depth!(D1 => D0);
depth!(D2 => D1);
depth!(D3 => D2);
depth!(D4 => D3);

fn info<T: Send + Sync + 'static, D: Depth>() -> TypeInfo {
    TypeInfo {
        this: info::<T, D>,
        id: TypeId::of::<T>,
        raw_name: std::any::type_name::<T>,
        list: D::list_of::<T>(),
        builder: Some(new_builder::<T, D>),
        index: index_of::<T>,
        list_len: len_of::<T>,
        extension: None,
        hash: None,
    }
}

fn leaf_info<T: Send + Sync + 'static>() -> TypeInfo {
    TypeInfo {
        this: leaf_info::<T>,
        id: TypeId::of::<T>,
        raw_name: std::any::type_name::<T>,
        list: None,
        builder: None,
        index: index_of::<T>,
        list_len: len_of::<T>,
        extension: None,
        hash: None,
    }
}

fn index_of<T: Send + Sync + 'static>(list: AnyRef<'_>, i: usize) -> Option<AnyRef<'_>> {
    list.downcast_ref::<Vec<T>>()?.get(i).map(|v| v as AnyRef<'_>)
}

fn len_of<T: Send + Sync + 'static>(list: AnyRef<'_>) -> Option<usize> {
    list.downcast_ref::<Vec<T>>().map(Vec::len)
}

fn new_builder<T: Send + Sync + 'static, D: Depth>(capacity: usize) -> Box<dyn ColumnBuilder> {
    Box::new(VecBuilder::<T, D> {
        items: Vec::with_capacity(capacity),
        _depth: PhantomData,
    })
}

/// Collects values of one type into a `Vec<T>` value (a column of map results).
#[doc(hidden)]
pub trait ColumnBuilder: Send {
    /// Appends a value; gives it back when it is not an unshared value of the type.
    fn push(&mut self, value: Value) -> std::result::Result<(), Value>;
    /// Appends the items of a list (a `Vec<T>` value, as [`ColumnBuilder::finish`]
    /// makes); gives it back when it is not an unshared list of the type.
    fn extend(&mut self, list: Value) -> std::result::Result<(), Value>;
    /// The collected `Vec<T>` as a value.
    fn finish(self: Box<Self>) -> Value;
}

struct VecBuilder<T, D> {
    items: Vec<T>,
    _depth: PhantomData<fn() -> D>,
}

impl<T: Send + Sync + 'static, D: Depth> ColumnBuilder for VecBuilder<T, D> {
    fn push(&mut self, value: Value) -> std::result::Result<(), Value> {
        self.items.push(take_unique::<T>(value)?);
        Ok(())
    }

    fn extend(&mut self, list: Value) -> std::result::Result<(), Value> {
        self.items.extend(take_unique::<Vec<T>>(list)?);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Value {
        Value {
            repr: Repr::Shared(Arc::new(self.items)),
            info: D::vec_info::<T>(),
        }
    }
}

/// The `U` a value holds when nothing else holds it, else the value back.
fn take_unique<U: Send + Sync + 'static>(value: Value) -> std::result::Result<U, Value> {
    let info = value.info;
    let back = |arc: AnyArc| Value {
        repr: Repr::Shared(arc),
        info,
    };
    match value.repr {
        Repr::Shared(arc) => match arc.downcast::<U>() {
            Ok(arc) => Arc::try_unwrap(arc).map_err(|arc| back(arc)),
            Err(arc) => Err(back(arc)),
        },
        repr => Err(Value { repr, info }),
    }
}

/// A value of any `Send + Sync + 'static` type, as passed between nodes.
///
/// Cloning is cheap (an `Arc` clone). Read it back with [`Value::downcast_ref`].
///
/// # Examples
///
/// ```
/// use hypernodes::Value;
///
/// let v = Value::new(42_i64);
/// assert_eq!(v.downcast_ref::<i64>(), Some(&42));
/// assert_eq!(v.downcast_ref::<i32>(), None);
/// assert_eq!(v.type_name(), "i64");
/// ```
#[derive(Clone)]
pub struct Value {
    repr: Repr,
    info: fn() -> TypeInfo,
}

#[derive(Clone)]
enum Repr {
    /// A value of its own.
    Shared(AnyArc),
    /// Item `index` of the list held by the parent value.
    Item(Arc<Value>, usize),
    /// A resource built on first use.
    Lazy(Arc<Lazy>),
    /// A value with a declared identity (its digest for cache keys).
    Keyed(Arc<Keyed>),
}

struct Keyed {
    value: Value,
    key: [u8; 32],
}

struct Lazy {
    cell: OnceLock<std::result::Result<AnyArc, String>>,
    init: Box<dyn Fn() -> std::result::Result<AnyArc, BoxError> + Send + Sync>,
}

impl Value {
    /// Wraps a value.
    pub fn new<T: Send + Sync + 'static>(value: T) -> Value {
        Value {
            repr: Repr::Shared(Arc::new(value)),
            info: info::<T, D4>,
        }
    }

    /// Wraps a value already behind an `Arc`, without copying it.
    pub fn from_arc<T: Send + Sync + 'static>(value: Arc<T>) -> Value {
        Value {
            repr: Repr::Shared(value),
            info: info::<T, D4>,
        }
    }

    /// A resource (a model, a client): `build` runs once, the first time a run needs the
    /// value, and every node and map item after that shares the one instance.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::Value;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let built = Arc::new(AtomicUsize::new(0));
    /// let counter = built.clone();
    /// let model = Value::lazy(move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     vec![1.5_f64, 2.5]
    /// });
    /// assert_eq!(built.load(Ordering::SeqCst), 0);
    /// assert_eq!(model.downcast_ref::<Vec<f64>>(), Some(&vec![1.5, 2.5]));
    /// assert_eq!(model.clone().downcast_ref::<Vec<f64>>().map(Vec::len), Some(2));
    /// assert_eq!(built.load(Ordering::SeqCst), 1);
    /// ```
    pub fn lazy<T, F>(build: F) -> Value
    where
        T: Send + Sync + 'static,
        F: Fn() -> T + Send + Sync + 'static,
    {
        Value::try_lazy(move || Ok::<T, BoxError>(build()))
    }

    /// Like [`Value::lazy`] with a fallible constructor.
    ///
    /// # Errors
    ///
    /// A run that needs the value fails with [`Error::ResourceFailed`](crate::Error::ResourceFailed)
    /// naming the input when `build` returns an error.
    pub fn try_lazy<T, E, F>(build: F) -> Value
    where
        T: Send + Sync + 'static,
        E: Into<BoxError>,
        F: Fn() -> std::result::Result<T, E> + Send + Sync + 'static,
    {
        let init = move || build().map(|v| Arc::new(v) as AnyArc).map_err(Into::into);
        Value {
            repr: Repr::Lazy(Arc::new(Lazy {
                cell: OnceLock::new(),
                init: Box::new(init),
            })),
            info: info::<T, D4>,
        }
    }

    /// Item `index` of the list `parent` (which holds a `Vec` of `elem`).
    #[doc(hidden)]
    pub fn item(parent: Arc<Value>, index: usize, elem: fn() -> TypeInfo) -> Value {
        Value {
            repr: Repr::Item(parent, index),
            info: elem,
        }
    }

    /// Borrows the value as `T`, or `None` when it has another type.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.as_any()?.downcast_ref::<T>()
    }

    /// The description of the value's type.
    pub fn type_info(&self) -> TypeInfo {
        (self.info)()
    }

    /// The value's type name without module paths.
    pub fn type_name(&self) -> String {
        self.type_info().name()
    }

    /// The value, built first if it is a lazy one; `None` when building it failed.
    #[doc(hidden)]
    pub fn as_any(&self) -> Option<AnyRef<'_>> {
        match &self.repr {
            Repr::Shared(arc) => Some(&**arc),
            Repr::Item(parent, index) => ((self.info)().index)(parent.as_any()?, *index),
            Repr::Lazy(lazy) => match lazy.cell.get_or_init(|| (lazy.init)().map_err(|e| e.to_string())) {
                Ok(arc) => Some(&**arc),
                Err(_) => None,
            },
            Repr::Keyed(keyed) => keyed.value.as_any(),
        }
    }

    /// This value with a declared identity: its digest for cache keys (see
    /// [`digest`](crate::hash::digest)) becomes a digest of `key`, tagged `declared`, and
    /// the value itself is never hashed (a lazy one is not built for it). For values
    /// that cannot or should not be hashed by content: a model, a client, a large table.
    /// Two values with equal keys count as the same input; give a new key when the
    /// value changes (a version).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::hash::digest;
    /// use hypernodes::Value;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// struct Model { weights: Vec<f32> }
    /// let built = Arc::new(AtomicUsize::new(0));
    /// let load = |built: Arc<AtomicUsize>| {
    ///     Value::lazy(move || {
    ///         built.fetch_add(1, Ordering::SeqCst);
    ///         Model { weights: vec![0.5; 4] }
    ///     })
    /// };
    ///
    /// let a = load(built.clone()).with_key(&("model", "v3"));
    /// let b = load(built.clone()).with_key(&("model", "v3"));
    /// let c = load(built.clone()).with_key(&("model", "v4"));
    /// assert_eq!(digest(&a), digest(&b));
    /// assert_ne!(digest(&a), digest(&c));
    /// assert_eq!(built.load(Ordering::SeqCst), 0); // nothing was built to hash it
    ///
    /// // Without a key, a type that cannot be hashed gives no digest.
    /// assert_eq!(digest(&load(built.clone())), None);
    /// assert_eq!(a.downcast_ref::<Model>().map(|m| m.weights.len()), Some(4));
    /// ```
    pub fn with_key<K: StableHash + ?Sized>(self, key: &K) -> Value {
        let info = self.info;
        let value = match self.repr {
            Repr::Keyed(keyed) => keyed.value.clone(),
            repr => Value { repr, info },
        };
        Value {
            repr: Repr::Keyed(Arc::new(Keyed {
                value,
                key: crate::hash::declared_digest(key),
            })),
            info,
        }
    }

    /// The digest declared with [`Value::with_key`].
    #[doc(hidden)]
    pub fn declared_key(&self) -> Option<&[u8; 32]> {
        match &self.repr {
            Repr::Keyed(keyed) => Some(&keyed.key),
            _ => None,
        }
    }

    /// Whether nothing else holds this value (a map collects only such values).
    #[doc(hidden)]
    pub fn is_unique(&self) -> bool {
        match &self.repr {
            Repr::Shared(arc) => Arc::strong_count(arc) == 1 && Arc::weak_count(arc) == 0,
            _ => false,
        }
    }

    /// Builds a lazy resource now if it is not built yet.
    #[doc(hidden)]
    pub fn force(&self) -> std::result::Result<(), String> {
        match &self.repr {
            Repr::Lazy(lazy) => lazy
                .cell
                .get_or_init(|| (lazy.init)().map_err(|e| e.to_string()))
                .as_ref()
                .map(|_| ())
                .map_err(Clone::clone),
            Repr::Keyed(keyed) => keyed.value.force(),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>", self.type_name())
    }
}

/// Removes module paths from a type name: `alloc::vec::Vec<alloc::string::String>`
/// becomes `Vec<String>`.
#[doc(hidden)]
pub fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    // Where the identifier being written started: a `::` after it drops it.
    let mut segment_start = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(segment_start);
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                segment_start = out.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("alloc::vec::Vec<alloc::string::String>"), "Vec<String>");
        assert_eq!(short_type_name("i64"), "i64");
        assert_eq!(
            short_type_name("(core::option::Option<&str>, std::collections::hash::map::HashMap<u8, f64>)"),
            "(Option<&str>, HashMap<u8, f64>)"
        );
    }

    #[test]
    fn items_view_into_lists_at_any_depth() {
        let outer = Arc::new(Value::new(vec![vec![1_i64, 2], vec![3]]));
        let row0 = Arc::new(Value::item(outer, 0, TypeInfo::of::<i64>().list.unwrap()));
        assert_eq!(row0.downcast_ref::<Vec<i64>>(), Some(&vec![1, 2]));
        let x = Value::item(row0, 1, TypeInfo::of::<i64>);
        assert_eq!(x.downcast_ref::<i64>(), Some(&2));
        assert_eq!(x.type_name(), "i64");
    }

    #[test]
    fn builder_collects_unshared_values() {
        let mut b = TypeInfo::of::<String>().column_builder(2).unwrap();
        b.push(Value::new("a".to_string())).unwrap();
        let shared = Value::new("b".to_string());
        let keep = shared.clone();
        assert!(b.push(shared).is_err());
        drop(keep);
        let col = b.finish();
        assert_eq!(col.downcast_ref::<Vec<String>>(), Some(&vec!["a".to_string()]));
        assert_eq!(col.type_name(), "Vec<String>");
    }

    #[test]
    fn list_depth_is_bounded() {
        let l1 = TypeInfo::of::<u8>().list_of().unwrap();
        let l4 = l1.list_of().unwrap().list_of().unwrap().list_of().unwrap();
        assert_eq!(l4.name(), "Vec<Vec<Vec<Vec<u8>>>>");
        assert!(l4.list_of().is_none());
    }
}
