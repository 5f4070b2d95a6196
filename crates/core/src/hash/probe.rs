//! How a type is hashed: the type-erased hash functions ([`HashFn`]) that a type's
//! description carries, the built-in ones by `TypeId`, and [`HashProbe`], which the
//! `#[node]` macro uses to pick one at compile time.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::Serialize;

use super::{StableHash, StableHasher, hash_serde};

/// Feeds a type-erased value to a hasher; `false` when this value could not be hashed
/// (it is not of the type the function was made for, or its `Serialize` failed).
/// What [`TypeInfo::with_hasher`](crate::TypeInfo::with_hasher) attaches to a type.
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
/// `String`, `bytes::Bytes`, chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>` and
/// `TimeDelta`, and `rust_decimal::Decimal`, as itself, `Option`, `Vec`, `Vec<Option>`,
/// `Option<Vec>` and `Vec<Vec>`,
/// and `()`. The same shapes as the columnar engine's built-in Arrow conversions, and more.
#[doc(hidden)]
pub fn builtin_hasher(id: TypeId) -> Option<HashFn> {
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
        shapes::<bytes::Bytes>(&mut map);
        shapes::<chrono::NaiveDate>(&mut map);
        shapes::<chrono::NaiveTime>(&mut map);
        shapes::<chrono::NaiveDateTime>(&mut map);
        shapes::<chrono::DateTime<chrono::Utc>>(&mut map);
        shapes::<chrono::TimeDelta>(&mut map);
        shapes::<rust_decimal::Decimal>(&mut map);
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
