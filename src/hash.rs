//! Stable hashing: a canonical, type-tagged blake3 digest of a value that is the same in
//! every process, on every platform and in every run, for code hashes and cache keys.
//!
//! [`StableHash`] is implemented for the primitive types, strings, `Option`, lists,
//! tuples, maps and sets, and references to them. Every value is fed with a tag naming
//! its type, so `1_i64`, `1_u64`, `1.0_f64` and `"1"` all hash differently, and lengths
//! are fed before contents, so `("ab", "c")` and `("a", "bc")` differ too. Nothing
//! depends on addresses, hash seeds or the iteration order of a `HashMap`.
//!
//! Types with no [`StableHash`] impl that implement serde's `Serialize` hash through
//! [`hash_serde`], with the same encoding for the same shapes. [`digest`] and
//! [`digest_as`] give the digest of a type-erased [`Value`] (a node's input) for cache
//! keys: through the hash function attached to its [`TypeInfo`] (the `#[node]` macro
//! finds one with [`HashProbe`]) or a built-in one, or the key declared with
//! [`Value::with_key`]. The columnar engine gives the same digests for Arrow rows
//! (`ColumnType::digest_rows`).

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use crate::value::{TypeInfo, Value};

/// A value that can be hashed the same way in every process.
///
/// # Examples
///
/// ```
/// use hypernodes::hash::{stable_hash, StableHash, StableHasher};
///
/// assert_ne!(stable_hash(&1_i64), stable_hash(&"1"));
/// assert_ne!(stable_hash(&1_i64), stable_hash(&1_u64));
/// assert_eq!(stable_hash(&"abc"), stable_hash(&"abc".to_string()));
///
/// /// A type of your own hashes its fields under a tag of its own.
/// struct Threshold { name: String, value: f64 }
///
/// impl StableHash for Threshold {
///     fn stable_hash(&self, h: &mut StableHasher) {
///         h.tag("Threshold");
///         self.name.stable_hash(h);
///         self.value.stable_hash(h);
///     }
/// }
/// let t = Threshold { name: "high".into(), value: 0.9 };
/// assert_eq!(stable_hash(&t).len(), 64);
/// ```
pub trait StableHash {
    /// Feeds a canonical encoding of `self`, starting with a tag naming its type, to `h`.
    fn stable_hash(&self, h: &mut StableHasher);
}

/// The hasher [`StableHash`] feeds: blake3 over tags, lengths and bytes.
///
/// Short encodings (the common case: a number, a string of a few hundred bytes) are
/// assembled in a buffer on the stack and hashed with one call to `blake3::hash`;
/// longer ones stream through blake3's incremental hasher. The digest is the same
/// either way: it depends only on the bytes fed.
#[derive(Clone)]
pub struct StableHasher {
    /// Bytes fed and not yet handed to `inner`.
    buf: [u8; BUF],
    filled: usize,
    /// The incremental hasher, once more than `BUF` bytes were fed.
    inner: Option<blake3::Hasher>,
}

/// How many bytes [`StableHasher`] buffers before streaming them to blake3.
const BUF: usize = 512;

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher {
            buf: [0; BUF],
            filled: 0,
            inner: None,
        }
    }
}

impl std::fmt::Debug for StableHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StableHasher")
            .field("digest", &self.finish_hex())
            .finish()
    }
}

impl StableHasher {
    /// An empty hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the name of a type (or of any other kind of thing), length-prefixed so that
    /// no tag is a prefix of another's encoding.
    pub fn tag(&mut self, name: &str) -> &mut Self {
        self.len(name.len());
        self.write(name.as_bytes());
        self
    }

    /// Feeds a length or count as 8 little-endian bytes.
    pub fn len(&mut self, n: usize) -> &mut Self {
        self.write(&(n as u64).to_le_bytes());
        self
    }

    /// Feeds raw bytes, length-prefixed.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.len(bytes.len());
        self.write(bytes);
        self
    }

    /// Feeds a value.
    pub fn value<T: StableHash + ?Sized>(&mut self, value: &T) -> &mut Self {
        value.stable_hash(self);
        self
    }

    /// The digest so far, as 64 lowercase hex digits.
    pub fn finish_hex(&self) -> String {
        self.finalize().to_hex().to_string()
    }

    /// The digest so far, as 32 bytes.
    pub fn finish(&self) -> [u8; 32] {
        *self.finalize().as_bytes()
    }

    fn finalize(&self) -> blake3::Hash {
        let rest = &self.buf[..self.filled];
        match &self.inner {
            None => blake3::hash(rest),
            Some(inner) => {
                let mut inner = inner.clone();
                inner.update(rest);
                inner.finalize()
            }
        }
    }

    /// Forgets everything fed: the hasher is as new (reused for each row of a column).
    #[cfg_attr(not(feature = "columnar"), allow(dead_code))]
    pub(crate) fn reset(&mut self) {
        self.filled = 0;
        self.inner = None;
    }

    /// What starts an `Option`'s encoding; a `Some`'s value follows.
    pub(crate) fn option_header(&mut self, is_some: bool) {
        self.tag("Option");
        self.write(&[u8::from(is_some)]);
    }

    /// What starts a list's encoding; its `len` elements follow.
    pub(crate) fn list_header(&mut self, len: usize) {
        self.tag("list").len(len);
    }

    /// Feeds bytes as they are (no length prefix).
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.filled..self.filled + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.filled += bytes.len();
            }
            None => self.spill(bytes),
        }
    }

    /// Hands the buffer, then `bytes`, to the incremental hasher.
    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        let inner = self.inner.get_or_insert_with(blake3::Hasher::new);
        inner.update(&self.buf[..self.filled]);
        self.filled = 0;
        if bytes.len() < BUF {
            self.buf[..bytes.len()].copy_from_slice(bytes);
            self.filled = bytes.len();
        } else {
            inner.update(bytes);
        }
    }
}

/// The stable hash of `value` as 64 lowercase hex digits.
pub fn stable_hash<T: StableHash + ?Sized>(value: &T) -> String {
    StableHasher::new().value(value).finish_hex()
}

macro_rules! int_hash {
    ($($t:ty => $as:ty),* $(,)?) => {$(
        impl StableHash for $t {
            fn stable_hash(&self, h: &mut StableHasher) {
                h.tag(stringify!($t));
                h.write(&(*self as $as).to_le_bytes());
            }
        }
    )*};
}

// `usize` and `isize` are widened to 64 bits so that a value hashes the same on every
// platform; their tags still tell them from `u64` and `i64`.
int_hash!(
    i8 => i8, i16 => i16, i32 => i32, i64 => i64, i128 => i128, isize => i64,
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => u64,
);

macro_rules! float_hash {
    ($($t:ty),*) => {$(
        impl StableHash for $t {
            /// The bits of the value; every NaN hashes as the canonical NaN.
            fn stable_hash(&self, h: &mut StableHasher) {
                h.tag(stringify!($t));
                let v = if self.is_nan() { <$t>::NAN } else { *self };
                h.write(&v.to_bits().to_le_bytes());
            }
        }
    )*};
}

float_hash!(f32, f64);

impl StableHash for bool {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("bool");
        h.write(&[u8::from(*self)]);
    }
}

impl StableHash for char {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("char");
        h.write(&u32::from(*self).to_le_bytes());
    }
}

impl StableHash for () {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("()");
    }
}

/// `str` and `String` are the same value and hash the same.
impl StableHash for str {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("str").bytes(self.as_bytes());
    }
}

impl StableHash for String {
    fn stable_hash(&self, h: &mut StableHasher) {
        self.as_str().stable_hash(h);
    }
}

impl<T: StableHash> StableHash for Option<T> {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.option_header(self.is_some());
        if let Some(v) = self {
            v.stable_hash(h);
        }
    }
}

/// Slices, arrays and `Vec`s of the same elements are the same list and hash the same.
impl<T: StableHash> StableHash for [T] {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.list_header(self.len());
        for v in self {
            v.stable_hash(h);
        }
    }
}

impl<T: StableHash, const N: usize> StableHash for [T; N] {
    fn stable_hash(&self, h: &mut StableHasher) {
        self.as_slice().stable_hash(h);
    }
}

impl<T: StableHash> StableHash for Vec<T> {
    fn stable_hash(&self, h: &mut StableHasher) {
        self.as_slice().stable_hash(h);
    }
}

impl<T: StableHash + ?Sized> StableHash for &T {
    fn stable_hash(&self, h: &mut StableHasher) {
        (**self).stable_hash(h);
    }
}

impl<T: StableHash + ?Sized> StableHash for Box<T> {
    fn stable_hash(&self, h: &mut StableHasher) {
        (**self).stable_hash(h);
    }
}

impl<T: StableHash + ?Sized> StableHash for Arc<T> {
    fn stable_hash(&self, h: &mut StableHasher) {
        (**self).stable_hash(h);
    }
}

macro_rules! tuple_hash {
    ($($n:literal: ($($t:ident . $i:tt),+);)*) => {$(
        impl<$($t: StableHash),+> StableHash for ($($t,)+) {
            fn stable_hash(&self, h: &mut StableHasher) {
                h.tag(concat!("tuple", $n));
                $(self.$i.stable_hash(h);)+
            }
        }
    )*};
}

tuple_hash! {
    1: (A.0);
    2: (A.0, B.1);
    3: (A.0, B.1, C.2);
    4: (A.0, B.1, C.2, D.3);
    5: (A.0, B.1, C.2, D.3, E.4);
    6: (A.0, B.1, C.2, D.3, E.4, F.5);
    7: (A.0, B.1, C.2, D.3, E.4, F.5, G.6);
    8: (A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);
}

/// Maps hash their entries in key order.
impl<K: StableHash, V: StableHash> StableHash for BTreeMap<K, V> {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("map").len(self.len());
        for (k, v) in self {
            k.stable_hash(h);
            v.stable_hash(h);
        }
    }
}

/// A `HashMap` hashes like the `BTreeMap` of the same entries would if its keys' hashes
/// were their order: the entries' digests, sorted, so the iteration order never matters.
impl<K: StableHash, V: StableHash, S> StableHash for HashMap<K, V, S> {
    fn stable_hash(&self, h: &mut StableHasher) {
        let entries = self.iter().map(|(k, v)| StableHasher::new().value(k).value(v).finish());
        unordered(h, "map", entries);
    }
}

impl<T: StableHash> StableHash for BTreeSet<T> {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("set").len(self.len());
        for v in self {
            v.stable_hash(h);
        }
    }
}

impl<T: StableHash, S> StableHash for HashSet<T, S> {
    fn stable_hash(&self, h: &mut StableHasher) {
        unordered(h, "set", self.iter().map(|v| StableHasher::new().value(v).finish()));
    }
}

/// Feeds a collection whose order means nothing: its elements' digests, sorted. The tag
/// differs from the ordered collection's, whose elements are fed directly.
fn unordered(h: &mut impl Sink, tag: &str, digests: impl Iterator<Item = [u8; 32]>) {
    let mut digests: Vec<[u8; 32]> = digests.collect();
    digests.sort_unstable();
    put_tag(h, "unordered");
    put_tag(h, tag);
    put_len(h, digests.len());
    for d in digests {
        h.write(&d);
    }
}

/// Where an encoding goes: a hasher, or a buffer (a sequence whose length serde tells
/// only at its end is recorded, then fed after its length).
trait Sink {
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for StableHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        StableHasher::write(self, bytes)
    }
}

impl Sink for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes)
    }
}

// The encoding of `StableHasher::{tag, len, bytes}` for any sink.
fn put_len(s: &mut impl Sink, n: usize) {
    s.write(&(n as u64).to_le_bytes());
}

fn put_tag(s: &mut impl Sink, name: &str) {
    put_len(s, name.len());
    s.write(name.as_bytes());
}

fn put_bytes(s: &mut impl Sink, bytes: &[u8]) {
    put_len(s, bytes.len());
    s.write(bytes);
}

/// Feeds the encoding of any [`Serialize`] value to `h`: a value of a shape
/// [`StableHash`] knows hashes exactly as it would through [`StableHash`].
///
/// | serde shape | encoding |
/// |---|---|
/// | integers, floats, `bool`, `char`, `str`, `Option`, `()` | as their [`StableHash`] impls |
/// | sequence | as a slice (a `list`) |
/// | tuple (and fixed-size array, which serde serializes as one) | as a tuple |
/// | bytes (`serialize_bytes`) | tag `bytes`, then [`StableHasher::bytes`] |
/// | struct | tag `struct`, its name, its field count, each field's name and value |
/// | unit struct | tag `struct`, its name, count 0 |
/// | tuple struct and newtype struct | tag `tuple_struct`, its name, its field count, the fields |
/// | enum variant | tag `unit_variant`, `newtype_variant`, `tuple_variant` or `struct_variant`, the enum's name, the variant's name, then its content like a tuple struct or struct |
/// | map | unordered, as a `HashMap`: the entries' digests, sorted |
///
/// serde does not tell an ordered map from an unordered one, so every map hashes like a
/// `HashMap` (a `BTreeMap` through [`StableHash`] hashes in key order, differently). A
/// `HashSet` serializes as a sequence in its iteration order, which changes from process
/// to process: its digest is not stable (a cache keyed by it misses, it is never wrong).
///
/// # Errors
///
/// The value's own `Serialize` impl failing (e.g. a `RefCell` already borrowed), or a
/// sequence whose announced length was wrong. `h` then holds part of an encoding: drop it.
///
/// # Examples
///
/// ```
/// use hypernodes::hash::{hash_serde, stable_hash, StableHasher};
/// use serde::{Serialize, Serializer};
///
/// #[derive(serde::Serialize)]
/// struct Params { model: String, threshold: f64, tags: Vec<String> }
///
/// let p = Params { model: "bert".into(), threshold: 0.5, tags: vec!["a".into()] };
/// let mut h = StableHasher::new();
/// hash_serde(&p, &mut h)?;
/// assert_eq!(h.finish_hex().len(), 64);
///
/// // Shapes StableHash knows hash the same both ways.
/// let mut h = StableHasher::new();
/// hash_serde(&(1_i64, Some("x"), vec![1.5_f64]), &mut h)?;
/// assert_eq!(h.finish_hex(), stable_hash(&(1_i64, Some("x"), vec![1.5_f64])));
///
/// // A value whose `Serialize` fails cannot be hashed.
/// struct Broken;
/// impl Serialize for Broken {
///     fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         Err(serde::ser::Error::custom("not today"))
///     }
/// }
/// let err = hash_serde(&Broken, &mut StableHasher::new()).unwrap_err();
/// assert_eq!(err.to_string(), "cannot hash the value: not today");
/// # Ok::<(), hypernodes::hash::HashError>(())
/// ```
pub fn hash_serde<T: Serialize + ?Sized>(value: &T, h: &mut StableHasher) -> Result<(), HashError> {
    value.serialize(HashSerializer { out: h })
}

/// Why [`hash_serde`] could not hash a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash the value: {0}")]
pub struct HashError(String);

impl serde::ser::Error for HashError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        HashError(msg.to_string())
    }
}

/// The `serde::Serializer` of [`hash_serde`], writing to a hasher or a buffer.
struct HashSerializer<'a, S> {
    out: &'a mut S,
}

impl<S: Sink> HashSerializer<'_, S> {
    fn put<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), HashError> {
        value.serialize(HashSerializer { out: &mut *self.out })
    }
}

fn tuple_tag(n: usize) -> std::borrow::Cow<'static, str> {
    const TAGS: [&str; 9] = [
        "tuple0", "tuple1", "tuple2", "tuple3", "tuple4", "tuple5", "tuple6", "tuple7", "tuple8",
    ];
    match TAGS.get(n) {
        Some(t) => (*t).into(),
        None => format!("tuple{n}").into(),
    }
}

macro_rules! ser_int {
    ($($method:ident: $t:ty),* $(,)?) => {$(
        fn $method(self, v: $t) -> Result<(), HashError> {
            put_tag(self.out, stringify!($t));
            self.out.write(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'a, S: Sink> serde::Serializer for HashSerializer<'a, S> {
    type Ok = ();
    type Error = HashError;
    type SerializeSeq = SeqHasher<'a, S>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = MapHasher<'a, S>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    ser_int!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
    );

    fn serialize_f32(self, v: f32) -> Result<(), HashError> {
        put_tag(self.out, "f32");
        let v = if v.is_nan() { f32::NAN } else { v };
        self.out.write(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), HashError> {
        put_tag(self.out, "f64");
        let v = if v.is_nan() { f64::NAN } else { v };
        self.out.write(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_bool(self, v: bool) -> Result<(), HashError> {
        put_tag(self.out, "bool");
        self.out.write(&[u8::from(v)]);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), HashError> {
        put_tag(self.out, "char");
        self.out.write(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), HashError> {
        put_tag(self.out, "str");
        put_bytes(self.out, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), HashError> {
        put_tag(self.out, "bytes");
        put_bytes(self.out, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), HashError> {
        put_tag(self.out, "Option");
        self.out.write(&[0]);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(mut self, value: &T) -> Result<(), HashError> {
        put_tag(self.out, "Option");
        self.out.write(&[1]);
        self.put(value)
    }
    fn serialize_unit(self) -> Result<(), HashError> {
        put_tag(self.out, "()");
        Ok(())
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<(), HashError> {
        put_tag(self.out, "struct");
        put_tag(self.out, name);
        put_len(self.out, 0);
        Ok(())
    }
    fn serialize_unit_variant(self, name: &'static str, _: u32, variant: &'static str) -> Result<(), HashError> {
        put_tag(self.out, "unit_variant");
        put_tag(self.out, name);
        put_tag(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        put_tag(self.out, "tuple_struct");
        put_tag(self.out, name);
        put_len(self.out, 1);
        self.put(value)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), HashError> {
        put_tag(self.out, "newtype_variant");
        put_tag(self.out, name);
        put_tag(self.out, variant);
        self.put(value)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqHasher<'a, S>, HashError> {
        Ok(match len {
            Some(len) => {
                put_tag(self.out, "list");
                put_len(self.out, len);
                SeqHasher::Known {
                    out: self.out,
                    len,
                    count: 0,
                }
            }
            None => SeqHasher::Unknown {
                out: self.out,
                recorded: Vec::new(),
                count: 0,
            },
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, HashError> {
        put_tag(self.out, &tuple_tag(len));
        Ok(self)
    }
    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Self, HashError> {
        put_tag(self.out, "tuple_struct");
        put_tag(self.out, name);
        put_len(self.out, len);
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, HashError> {
        put_tag(self.out, "tuple_variant");
        put_tag(self.out, name);
        put_tag(self.out, variant);
        put_len(self.out, len);
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapHasher<'a, S>, HashError> {
        Ok(MapHasher {
            out: self.out,
            entries: Vec::new(),
            entry: None,
        })
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Self, HashError> {
        put_tag(self.out, "struct");
        put_tag(self.out, name);
        put_len(self.out, len);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, HashError> {
        put_tag(self.out, "struct_variant");
        put_tag(self.out, name);
        put_tag(self.out, variant);
        put_len(self.out, len);
        Ok(self)
    }
}

impl<S: Sink> serde::ser::SerializeTuple for HashSerializer<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.put(value)
    }
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl<S: Sink> serde::ser::SerializeTupleStruct for HashSerializer<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.put(value)
    }
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl<S: Sink> serde::ser::SerializeTupleVariant for HashSerializer<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        self.put(value)
    }
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl<S: Sink> serde::ser::SerializeStruct for HashSerializer<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), HashError> {
        put_tag(self.out, key);
        self.put(value)
    }
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

impl<S: Sink> serde::ser::SerializeStructVariant for HashSerializer<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), HashError> {
        put_tag(self.out, key);
        self.put(value)
    }
    fn end(self) -> Result<(), HashError> {
        Ok(())
    }
}

/// A sequence: elements stream after the announced length, or, when serde announces
/// none, are recorded and fed after the count.
enum SeqHasher<'a, S> {
    Known {
        out: &'a mut S,
        len: usize,
        count: usize,
    },
    Unknown {
        out: &'a mut S,
        recorded: Vec<u8>,
        count: usize,
    },
}

impl<S: Sink> serde::ser::SerializeSeq for SeqHasher<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        match self {
            SeqHasher::Known { out, count, .. } => {
                *count += 1;
                value.serialize(HashSerializer { out: &mut **out })
            }
            SeqHasher::Unknown { recorded, count, .. } => {
                *count += 1;
                value.serialize(HashSerializer { out: recorded })
            }
        }
    }
    fn end(self) -> Result<(), HashError> {
        match self {
            SeqHasher::Known { len, count, .. } if len != count => Err(HashError(format!(
                "a sequence announced {len} elements and had {count}"
            ))),
            SeqHasher::Known { .. } => Ok(()),
            SeqHasher::Unknown { out, recorded, count } => {
                put_tag(out, "list");
                put_len(out, count);
                out.write(&recorded);
                Ok(())
            }
        }
    }
}

/// A map: each entry hashed on its own, like a `HashMap`'s.
struct MapHasher<'a, S> {
    out: &'a mut S,
    entries: Vec<[u8; 32]>,
    /// The entry whose key was fed and whose value is awaited.
    entry: Option<StableHasher>,
}

impl<S: Sink> serde::ser::SerializeMap for MapHasher<'_, S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), HashError> {
        let mut h = StableHasher::new();
        hash_serde(key, &mut h)?;
        self.entry = Some(h);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), HashError> {
        let mut h = self
            .entry
            .take()
            .ok_or_else(|| HashError("a map value came without its key".into()))?;
        hash_serde(value, &mut h)?;
        self.entries.push(h.finish());
        Ok(())
    }
    fn end(self) -> Result<(), HashError> {
        unordered(self.out, "map", self.entries.into_iter());
        Ok(())
    }
}

/// Feeds a type-erased value to a hasher; `false` when this value could not be hashed
/// (it is not of the type the function was made for, or its `Serialize` failed).
/// What [`TypeInfo::with_hasher`] attaches to a type.
pub type HashFn = fn(&(dyn Any + Send + Sync), &mut StableHasher) -> bool;

/// The [`HashFn`] of a [`StableHash`] type.
pub fn hash_fn<T: StableHash + Send + Sync + 'static>() -> HashFn {
    |v, h| match v.downcast_ref::<T>() {
        Some(v) => {
            v.stable_hash(h);
            true
        }
        None => false,
    }
}

/// The [`HashFn`] of a [`Serialize`] type, through [`hash_serde`].
pub fn serde_hash_fn<T: Serialize + Send + Sync + 'static>() -> HashFn {
    |v, h| v.downcast_ref::<T>().is_some_and(|v| hash_serde(v, h).is_ok())
}

/// The hash functions of the built-in types by `TypeId`, for types described without the
/// `#[node]` macro (closure nodes, `Value::new`): each primitive, `bool`, `char` and
/// `String`, as itself, `Option`, `Vec`, `Vec<Option>`, `Option<Vec>` and `Vec<Vec>`, and
/// `()`. The same shapes as the columnar engine's built-in Arrow conversions, and more.
pub(crate) fn builtin_hasher(id: TypeId) -> Option<HashFn> {
    static FNS: OnceLock<HashMap<TypeId, HashFn, BuildTypeIdHasher>> = OnceLock::new();
    fn shapes<T: StableHash + Send + Sync + 'static>(map: &mut HashMap<TypeId, HashFn, BuildTypeIdHasher>) {
        map.insert(TypeId::of::<T>(), hash_fn::<T>());
        map.insert(TypeId::of::<Option<T>>(), hash_fn::<Option<T>>());
        map.insert(TypeId::of::<Vec<T>>(), hash_fn::<Vec<T>>());
        map.insert(TypeId::of::<Vec<Option<T>>>(), hash_fn::<Vec<Option<T>>>());
        map.insert(TypeId::of::<Option<Vec<T>>>(), hash_fn::<Option<Vec<T>>>());
        map.insert(TypeId::of::<Vec<Vec<T>>>(), hash_fn::<Vec<Vec<T>>>());
    }
    FNS.get_or_init(|| {
        let mut map = HashMap::default();
        shapes::<i8>(&mut map);
        shapes::<i16>(&mut map);
        shapes::<i32>(&mut map);
        shapes::<i64>(&mut map);
        shapes::<i128>(&mut map);
        shapes::<isize>(&mut map);
        shapes::<u8>(&mut map);
        shapes::<u16>(&mut map);
        shapes::<u32>(&mut map);
        shapes::<u64>(&mut map);
        shapes::<u128>(&mut map);
        shapes::<usize>(&mut map);
        shapes::<f32>(&mut map);
        shapes::<f64>(&mut map);
        shapes::<bool>(&mut map);
        shapes::<char>(&mut map);
        shapes::<String>(&mut map);
        map.insert(TypeId::of::<()>(), hash_fn::<()>());
        map
    })
    .get(&id)
    .copied()
}

/// `TypeId`s are already hashes: fold what they feed instead of running SipHash.
#[derive(Clone, Copy, Default)]
struct BuildTypeIdHasher;

#[derive(Default)]
struct TypeIdHasher(u64);

impl std::hash::BuildHasher for BuildTypeIdHasher {
    type Hasher = TypeIdHasher;
    fn build_hasher(&self) -> TypeIdHasher {
        TypeIdHasher(0)
    }
}

impl std::hash::Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Picks, at compile time, how a value of `T` is hashed: through [`StableHash`] when `T`
/// implements it, else through [`Serialize`] ([`hash_serde`]), else not at all
/// (autoref specialization: the `#[node]` macro calls
/// `(&&&HashProbe::<T>::new()).hasher()` with concrete types).
///
/// # Examples
///
/// ```
/// use hypernodes::hash::{HashProbe, ViaNoHash, ViaSerialize, ViaStableHash};
///
/// #[derive(serde::Serialize)]
/// struct Params { k: usize }
/// struct Model;
///
/// assert!((&&&HashProbe::<i64>::new()).hasher().is_some());
/// assert!((&&&HashProbe::<Params>::new()).hasher().is_some());
/// assert!((&&&HashProbe::<Model>::new()).hasher().is_none());
/// ```
pub struct HashProbe<T>(PhantomData<fn() -> T>);

impl<T> HashProbe<T> {
    /// A probe for `T`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        HashProbe(PhantomData)
    }
}

/// The [`StableHash`] case of [`HashProbe`], tried first.
pub trait ViaStableHash {
    /// The type's hash function.
    fn hasher(self) -> Option<HashFn>;
}

/// The [`Serialize`] case of [`HashProbe`], tried second.
pub trait ViaSerialize {
    /// The type's hash function.
    fn hasher(self) -> Option<HashFn>;
}

/// The fallback case of [`HashProbe`]: the type cannot be hashed.
pub trait ViaNoHash {
    /// `None`.
    fn hasher(self) -> Option<HashFn>;
}

impl<T: StableHash + Send + Sync + 'static> ViaStableHash for &&&HashProbe<T> {
    fn hasher(self) -> Option<HashFn> {
        Some(hash_fn::<T>())
    }
}

impl<T: Serialize + Send + Sync + 'static> ViaSerialize for &&HashProbe<T> {
    fn hasher(self) -> Option<HashFn> {
        Some(serde_hash_fn::<T>())
    }
}

impl<T> ViaNoHash for &HashProbe<T> {
    fn hasher(self) -> Option<HashFn> {
        None
    }
}

/// The digest of a value, as a cache key part: its declared key's (see
/// [`Value::with_key`]) when it has one, else the [`stable_hash`] of the value through
/// the hash function of its type (see [`digest_as`]). `None` when neither is known: the
/// caller does not cache what depends on the value.
///
/// A [`Value`] knows only the hash functions of the built-in types (primitives,
/// `String`, and `Option`s and `Vec`s of them); [`digest_as`] uses the ones the `#[node]`
/// macro attached to a parameter's type too. A lazy value with no key is built to be
/// hashed. Strings and primitives are hashed without allocating.
///
/// # Examples
///
/// ```
/// use hypernodes::hash::{digest, StableHasher};
/// use hypernodes::Value;
///
/// let d = digest(&Value::new("abc".to_string())).unwrap();
/// assert_eq!(d, StableHasher::new().value("abc").finish());
/// assert_ne!(digest(&Value::new(1_i64)), digest(&Value::new(1.0_f64)));
///
/// struct Model;
/// assert_eq!(digest(&Value::new(Model)), None);
/// ```
pub fn digest(value: &Value) -> Option<[u8; 32]> {
    match value.declared_key() {
        Some(key) => Some(*key),
        None => hash_with(value, value.type_info().hasher()?),
    }
}

/// Like [`digest`], hashing the value as a `ty` (a node's parameter type, which may carry
/// the hash function the `#[node]` macro found). `None` also when the value is not a `ty`.
///
/// # Examples
///
/// ```
/// use hypernodes::hash::{digest_as, stable_hash};
/// use hypernodes::prelude::*;
///
/// #[derive(Clone, serde::Serialize)]
/// struct Params { k: usize }
///
/// #[node(output = "k")]
/// fn top(params: &Params) -> usize { params.k }
///
/// let ty = top::node().params()[0].type_info();
/// assert!(digest_as(&Value::new(Params { k: 3 }), &ty).is_some());
/// assert_eq!(digest_as(&Value::new(3_usize), &ty), None);
/// ```
pub fn digest_as(value: &Value, ty: &TypeInfo) -> Option<[u8; 32]> {
    match value.declared_key() {
        Some(key) => Some(*key),
        None => hash_with(value, ty.hasher()?),
    }
}

fn hash_with(value: &Value, f: HashFn) -> Option<[u8; 32]> {
    let any = value.as_any()?;
    let mut h = StableHasher::new();
    f(any, &mut h).then(|| h.finish())
}

/// The digest a value with key `key` gets ([`Value::with_key`]).
pub(crate) fn declared_digest<K: StableHash + ?Sized>(key: &K) -> [u8; 32] {
    StableHasher::new().tag("declared").value(key).finish()
}

/// The digest of a null row of a non-nullable type (which no node is called on): the
/// digest of the tag `null`.
pub fn null_digest() -> [u8; 32] {
    StableHasher::new().tag("null").finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_pinned() {
        // These digests must never change: caches on disk are keyed by them. Each was
        // computed independently (Python's blake3 over the encoding the docs describe).
        assert_eq!(
            stable_hash(&1_i64),
            "94e54c68a076a0de14b3dcc95dd25d9b96c83d27cb8933f19e0435734bfa871d"
        );
        assert_eq!(
            stable_hash("abc"),
            "4d85fbe150ff26c63c22e5e9cc4e87ef212c40af3d01f317aefec9457d72c797"
        );
        assert_eq!(
            stable_hash(&vec![Some(1.5_f64), None]),
            "e6213ef30af9bca317389df0d5bc77c645f75aada332cf83286773434e97f93e"
        );
    }

    #[test]
    fn equal_values_of_different_types_differ() {
        let hashes = [
            stable_hash(&1_i64),
            stable_hash(&1_u64),
            stable_hash(&1_i32),
            stable_hash(&1_usize),
            stable_hash(&1.0_f64),
            stable_hash(&"1"),
            stable_hash(&true),
            stable_hash(&Some(1_i64)),
            stable_hash(&vec![1_i64]),
            stable_hash(&(1_i64,)),
        ];
        let distinct: HashSet<&String> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len());
        assert_ne!(stable_hash(&None::<i64>), stable_hash(&Some(0_i64)));
    }

    #[test]
    fn boundaries_and_order() {
        assert_ne!(stable_hash(&("ab", "c")), stable_hash(&("a", "bc")));
        assert_ne!(stable_hash(&vec!["ab"]), stable_hash(&vec!["a", "b"]));
        assert_ne!(stable_hash(&vec![1_i64, 2]), stable_hash(&vec![2_i64, 1]));
        assert_eq!(stable_hash(&[1_i64, 2]), stable_hash(&vec![1_i64, 2]));
        assert_eq!(stable_hash(&f64::NAN), stable_hash(&-f64::NAN));
        assert_ne!(stable_hash(&0.0_f64), stable_hash(&-0.0_f64));
    }

    #[test]
    fn unordered_collections_ignore_order() {
        let a: HashMap<String, i64> = (0..100).map(|i| (format!("k{i}"), i)).collect();
        let b: HashMap<String, i64> = (0..100).rev().map(|i| (format!("k{i}"), i)).collect();
        assert_eq!(stable_hash(&a), stable_hash(&b));
        let sa: HashSet<i64> = (0..50).collect();
        let sb: HashSet<i64> = (0..50).rev().collect();
        assert_eq!(stable_hash(&sa), stable_hash(&sb));
        let ordered: BTreeMap<String, i64> = a.clone().into_iter().collect();
        assert_ne!(stable_hash(&a), stable_hash(&ordered));
    }

    fn serde_hex<T: Serialize + ?Sized>(value: &T) -> String {
        let mut h = StableHasher::new();
        hash_serde(value, &mut h).unwrap();
        h.finish_hex()
    }

    #[test]
    fn serde_hashes_known_shapes_as_stable_hash_does() {
        macro_rules! same {
            ($($v:expr),* $(,)?) => {$(
                assert_eq!(serde_hex(&$v), stable_hash(&$v), "{}", stringify!($v));
            )*};
        }
        same!(
            1_i8,
            -2_i16,
            3_i32,
            -4_i64,
            5_i128,
            6_u8,
            7_u16,
            8_u32,
            9_u64,
            10_u128,
            1.5_f32,
            -2.5_f64,
            f64::NAN,
            true,
            'x',
            "abc",
            String::from("é"),
            (),
            Some(1_i64),
            None::<String>,
            vec![1_i64, 2],
            vec!["a".to_string()],
            vec![Some(1.5_f64), None],
            vec![vec![1_u8], vec![]],
            (1_i64, "a", (true,)),
            Some(vec![Some('c')]),
        );
        let m: HashMap<String, i64> = (0..20).map(|i| (format!("k{i}"), i)).collect();
        assert_eq!(serde_hex(&m), stable_hash(&m));
    }

    #[test]
    fn serde_structs_and_enums_are_tagged_by_name() {
        #[derive(serde::Serialize)]
        struct A {
            x: i64,
        }
        #[derive(serde::Serialize)]
        struct B {
            x: i64,
        }
        #[derive(serde::Serialize)]
        struct C {
            y: i64,
        }
        #[derive(serde::Serialize)]
        struct N(i64);
        #[derive(serde::Serialize)]
        enum E {
            U,
            V,
            T(i64),
            S { x: i64 },
        }
        let all = [
            serde_hex(&A { x: 1 }),
            serde_hex(&B { x: 1 }),
            serde_hex(&C { y: 1 }),
            serde_hex(&N(1)),
            serde_hex(&E::U),
            serde_hex(&E::V),
            serde_hex(&E::T(1)),
            serde_hex(&E::S { x: 1 }),
            serde_hex(&1_i64),
        ];
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
        assert_eq!(serde_hex(&A { x: 1 }), serde_hex(&A { x: 1 }));
        assert_ne!(serde_hex(&A { x: 1 }), serde_hex(&A { x: 2 }));
        // Bytes are not a list of `u8`.
        struct Raw<'a>(&'a [u8]);
        impl Serialize for Raw<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        let mut h = StableHasher::new();
        h.tag("bytes").bytes(b"ab");
        assert_eq!(serde_hex(&Raw(b"ab")), h.finish_hex());
        assert_ne!(serde_hex(&Raw(b"ab")), stable_hash(&b"ab"[..]));
    }

    #[test]
    fn serde_sequences_of_unknown_length_hash_as_lists() {
        struct Unsized(Vec<i64>);
        impl Serialize for Unsized {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = s.serialize_seq(None)?;
                for v in &self.0 {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
        }
        let v = vec![1_i64, 2, 3];
        assert_eq!(serde_hex(&Unsized(v.clone())), stable_hash(&v));
        assert_eq!(serde_hex(&vec![Unsized(v.clone())]), stable_hash(&vec![v]));
    }

    #[test]
    fn long_encodings_stream_with_the_same_digest() {
        let long: Vec<String> = (0..500).map(|i| format!("item number {i}")).collect();
        let mut h = StableHasher::new();
        h.tag("list").len(long.len());
        for s in &long {
            h.tag("str").bytes(s.as_bytes());
        }
        let mut reference = blake3::Hasher::new();
        let mut enc = Vec::new();
        put_tag(&mut enc, "list");
        put_len(&mut enc, long.len());
        for s in &long {
            put_tag(&mut enc, "str");
            put_bytes(&mut enc, s.as_bytes());
        }
        reference.update(&enc);
        assert_eq!(h.finish(), *reference.finalize().as_bytes());
        assert_eq!(stable_hash(&long), h.finish_hex());
        let big = "x".repeat(5000);
        assert_eq!(
            StableHasher::new().value(big.as_str()).finish(),
            StableHasher::new().value(&big).finish()
        );
    }

    #[test]
    fn values_of_equal_content_and_different_types_differ() {
        let digests = [
            digest(&Value::new(1_i64)),
            digest(&Value::new(1.0_f64)),
            digest(&Value::new("1".to_string())),
            digest(&Value::new(Some(1_i64))),
        ];
        assert!(digests.iter().all(Option::is_some));
        assert_eq!(digests.iter().collect::<HashSet<_>>().len(), 4);
        assert_eq!(
            digest(&Value::new(1_i64)),
            Some(StableHasher::new().value(&1_i64).finish())
        );
    }

    #[test]
    fn items_of_lists_digest_as_values() {
        use crate::value::TypeInfo;
        let list = Arc::new(Value::new(vec!["a".to_string(), "b".to_string()]));
        let item = Value::item(list, 1, TypeInfo::of::<String>().this_fn());
        assert_eq!(digest(&item), digest(&Value::new("b".to_string())));
    }

    #[test]
    fn the_probe_prefers_stable_hash_over_serialize() {
        #[derive(serde::Serialize)]
        struct Both(i64);
        impl StableHash for Both {
            fn stable_hash(&self, h: &mut StableHasher) {
                h.tag("Both").value(&self.0);
            }
        }
        #[derive(serde::Serialize)]
        struct OnlySerde(i64);
        #[allow(clippy::needless_borrow)]
        let (both, serde_only) = (
            (&&&HashProbe::<Both>::new()).hasher().unwrap(),
            (&&&HashProbe::<OnlySerde>::new()).hasher().unwrap(),
        );
        let mut h = StableHasher::new();
        assert!(both(&Both(3), &mut h));
        assert_eq!(h.finish_hex(), stable_hash(&Both(3)));
        let mut h = StableHasher::new();
        assert!(serde_only(&OnlySerde(3), &mut h));
        assert_eq!(h.finish_hex(), serde_hex(&OnlySerde(3)));
        // A value of another type is refused.
        assert!(!both(&3_i64, &mut StableHasher::new()));
    }

    #[test]
    fn node_types_carry_the_hasher_the_macro_found() {
        use crate::node::Node;
        struct Model;
        #[derive(Clone, serde::Serialize)]
        struct Params {
            k: usize,
        }
        #[derive(Clone)]
        struct Threshold(f64);
        impl StableHash for Threshold {
            fn stable_hash(&self, h: &mut StableHasher) {
                h.tag("Threshold").value(&self.0);
            }
        }
        #[crate::node(output = "y")]
        fn score(model: &Model, params: &Params, t: Threshold, text: &str) -> f64 {
            let _ = (model, params, text);
            t.0
        }
        let node: Node = score::node();
        let types: Vec<_> = node.params().iter().map(|p| p.type_info()).collect();
        assert!(types[0].hasher().is_none());
        assert_eq!(digest_as(&Value::new(Model), &types[0]), None);
        assert_eq!(digest(&Value::new(Model)), None);
        assert_eq!(
            digest_as(&Value::new(Params { k: 2 }), &types[1]).map(hex),
            Some(serde_hex(&Params { k: 2 }))
        );
        assert_eq!(
            digest_as(&Value::new(Threshold(0.5)), &types[2]).map(hex),
            Some(stable_hash(&Threshold(0.5)))
        );
        assert_eq!(
            digest_as(&Value::new("t".to_string()), &types[3]),
            digest(&Value::new("t".to_string()))
        );
        // The wrong type hashes to nothing; equality still compares only types.
        assert_eq!(digest_as(&Value::new(3_usize), &types[1]), None);
        assert_eq!(types[1], crate::value::TypeInfo::of::<Params>());
        assert!(node.outputs()[0].type_info().hasher().is_some());
    }

    fn hex(d: [u8; 32]) -> String {
        blake3::Hash::from(d).to_hex().to_string()
    }

    #[test]
    fn keyed_lazies_are_never_built_to_hash() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let builds = Arc::new(AtomicUsize::new(0));
        let lazy = |key: &str| {
            let builds = builds.clone();
            Value::lazy(move || {
                builds.fetch_add(1, Ordering::SeqCst);
                vec![1_i64, 2]
            })
            .with_key(&("model", key.to_string()))
        };
        let (a, b, c) = (lazy("v3"), lazy("v3"), lazy("v4"));
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
        assert_eq!(digest(&a), Some(declared_digest(&("model", "v3"))));
        assert_ne!(digest(&a), Some(StableHasher::new().value(&("model", "v3")).finish()));
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        // A key replaces the previous one; the value is still there.
        assert_eq!(digest(&a.clone().with_key("other")), Some(declared_digest("other")));
        assert_eq!(a.downcast_ref::<Vec<i64>>(), Some(&vec![1, 2]));
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        // Without a key a hashable lazy value is built and hashed by value.
        let plain = Value::lazy(|| vec![1_i64, 2]);
        assert_eq!(
            digest(&plain),
            Some(StableHasher::new().value(&vec![1_i64, 2]).finish())
        );
        let failing = Value::try_lazy(|| Err::<i64, _>("no"));
        assert_eq!(digest(&failing), None);
    }

    /// `cargo test --release --lib hash::tests::digest_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn digest_speed() {
        let values: Vec<Value> = (0..1_000_000)
            .map(|i| Value::new(format!("{i:>15} the quick brown fox jumps over the lazy dog!")))
            .collect();
        let start = std::time::Instant::now();
        let mut acc = 0_u8;
        for v in &values {
            acc ^= digest(v).unwrap()[0];
        }
        println!("digest of 1M Value<String> (~60 bytes): {:?} ({acc})", start.elapsed());
    }
}
