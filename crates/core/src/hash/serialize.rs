//! Hashing any `Serialize` value with the encoding of [`StableHash`](super::StableHash): a serde
//! `Serializer` that feeds a [`StableHasher`].

use serde::Serialize;

use super::{Sink, StableHasher, put_bytes, put_len, put_tag, unordered};

/// Feeds the encoding of any [`Serialize`] value to `h`: a value of a shape
/// [`StableHash`](super::StableHash) knows hashes exactly as it would through [`StableHash`](super::StableHash).
///
/// | serde shape | encoding |
/// |---|---|
/// | integers, floats, `bool`, `char`, `str`, `Option`, `()` | as their [`StableHash`](super::StableHash) impls |
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
/// `HashMap` (a `BTreeMap` through [`StableHash`](super::StableHash) hashes in key order, differently). A
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

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::hash::{serde_hex, stable_hash};

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
}
