//! Stable hashing: a canonical, type-tagged blake3 digest of a value that is the same in
//! every process, on every platform and in every run, for code hashes and cache keys.
//!
//! [`StableHash`] is implemented for the primitive types, strings, `Option`, lists,
//! tuples, maps and sets, and references to them. Every value is fed with a tag naming
//! its type, so `1_i64`, `1_u64`, `1.0_f64` and `"1"` all hash differently, and lengths
//! are fed before contents, so `("ab", "c")` and `("a", "bc")` differ too. Nothing
//! depends on addresses, hash seeds or the iteration order of a `HashMap`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

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
#[derive(Clone, Debug, Default)]
pub struct StableHasher {
    inner: blake3::Hasher,
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
        self.inner.update(name.as_bytes());
        self
    }

    /// Feeds a length or count as 8 little-endian bytes.
    pub fn len(&mut self, n: usize) -> &mut Self {
        self.inner.update(&(n as u64).to_le_bytes());
        self
    }

    /// Feeds raw bytes, length-prefixed.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.len(bytes.len());
        self.inner.update(bytes);
        self
    }

    /// Feeds a value.
    pub fn value<T: StableHash + ?Sized>(&mut self, value: &T) -> &mut Self {
        value.stable_hash(self);
        self
    }

    /// The digest so far, as 64 lowercase hex digits.
    pub fn finish_hex(&self) -> String {
        self.inner.finalize().to_hex().to_string()
    }

    /// The digest so far, as 32 bytes.
    pub fn finish(&self) -> [u8; 32] {
        *self.inner.finalize().as_bytes()
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
                h.inner.update(&(*self as $as).to_le_bytes());
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
                h.inner.update(&v.to_bits().to_le_bytes());
            }
        }
    )*};
}

float_hash!(f32, f64);

impl StableHash for bool {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("bool");
        h.inner.update(&[u8::from(*self)]);
    }
}

impl StableHash for char {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("char");
        h.inner.update(&u32::from(*self).to_le_bytes());
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
        h.tag("Option");
        match self {
            None => {
                h.inner.update(&[0]);
            }
            Some(v) => {
                h.inner.update(&[1]);
                v.stable_hash(h);
            }
        }
    }
}

/// Slices, arrays and `Vec`s of the same elements are the same list and hash the same.
impl<T: StableHash> StableHash for [T] {
    fn stable_hash(&self, h: &mut StableHasher) {
        h.tag("list").len(self.len());
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
fn unordered(h: &mut StableHasher, tag: &str, digests: impl Iterator<Item = [u8; 32]>) {
    let mut digests: Vec<[u8; 32]> = digests.collect();
    digests.sort_unstable();
    h.tag("unordered").tag(tag).len(digests.len());
    for d in digests {
        h.inner.update(&d);
    }
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
}
