//! Stable hashing: a canonical, type-tagged blake3 digest of a value that is the same in
//! every process, on every platform and in every run, for code hashes and cache keys.
//!
//! [`StableHash`] is implemented for the primitive types, strings, `Option`, lists,
//! tuples, maps and sets, chrono's dates, times, timestamps and durations,
//! `rust_decimal::Decimal`, `bytes::Bytes`, and references to them. Every value is fed
//! with a tag naming
//! its type, so `1_i64`, `1_u64`, `1.0_f64` and `"1"` all hash differently, and lengths
//! are fed before contents, so `("ab", "c")` and `("a", "bc")` differ too. Nothing
//! depends on addresses, hash seeds or the iteration order of a `HashMap`.
//!
//! Types with no [`StableHash`] impl that implement serde's `Serialize` hash through
//! [`hash_serde`], with the same encoding for the same shapes. [`digest`] and
//! [`digest_as`] give the digest of a type-erased [`Value`](crate::Value) (a node's input) for cache
//! keys: through the hash function attached to its [`TypeInfo`](crate::TypeInfo) (the `#[node]` macro
//! finds one with [`HashProbe`]) or a built-in one, or the key declared with
//! [`Value::with_key`](crate::Value::with_key). The columnar engine gives the same digests for Arrow rows
//! (`ColumnType::digest_rows`).

mod binary;
mod decimal;
mod digest;
mod probe;
mod serialize;
mod temporal;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

pub use digest::{digest, digest_as};
#[doc(hidden)]
pub use probe::builtin_hasher;
pub use probe::{HashFn, HashProbe, ViaNoHash, ViaSerialize, ViaStableHash, hash_fn, serde_hash_fn};
pub use serialize::{HashError, hash_serde};

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
    #[doc(hidden)]
    pub fn reset(&mut self) {
        self.filled = 0;
        self.inner = None;
    }

    /// What starts an `Option`'s encoding; a `Some`'s value follows.
    #[doc(hidden)]
    pub fn option_header(&mut self, is_some: bool) {
        self.tag("Option");
        self.write(&[u8::from(is_some)]);
    }

    /// What starts a list's encoding; its `len` elements follow.
    #[doc(hidden)]
    pub fn list_header(&mut self, len: usize) {
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

/// The digest a value with key `key` gets ([`Value::with_key`]).
#[doc(hidden)]
pub fn declared_digest<K: StableHash + ?Sized>(key: &K) -> [u8; 32] {
    StableHasher::new().tag("declared").value(key).finish()
}

/// The digest of a null row of a non-nullable type (which no node is called on): the
/// digest of the tag `null`.
pub fn null_digest() -> [u8; 32] {
    StableHasher::new().tag("null").finish()
}

/// The hex digest of `value` through [`hash_serde`].
#[cfg(test)]
fn serde_hex<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut h = StableHasher::new();
    hash_serde(value, &mut h).unwrap();
    h.finish_hex()
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
}
