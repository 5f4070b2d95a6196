//! The digests of type-erased [`Value`]s, for cache keys.

use super::{HashFn, StableHasher};
use crate::value::{TypeInfo, Value};

/// The digest of a value, as a cache key part: its declared key's (see
/// [`Value::with_key`]) when it has one, else the [`stable_hash`](super::stable_hash) of the value through
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::hash::{HashProbe, StableHash, ViaSerialize, ViaStableHash, declared_digest, serde_hex, stable_hash};

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
