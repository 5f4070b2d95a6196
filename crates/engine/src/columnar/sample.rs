//! The Arrow field of a serde type whose fields include types serde_arrow cannot trace
//! from the type alone, or traces as another Arrow type than the type alone has: chrono's
//! dates, times and timestamps and `rust_decimal::Decimal` (their `Deserialize` needs a
//! well-formed string, or any value), and the fixed-size arrays `[u8; N]` and `[T; N]`
//! (which serde describes as tuples). Two sample values of the type are made by
//! deserializing it from [`Sampler`] (one with every `Option` set and every list holding
//! one element, one with none), which recognizes those types by what their visitors
//! expect (an array by "an array of length N", its elements by what they deserialize as),
//! hands them a well-formed value and notes their paths; serde_arrow traces the samples,
//! and the noted fields get the Arrow types the standalone types have
//! ([`Columnar`](super::Columnar)).

use arrow::datatypes::FieldRef;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Visitor};
use serde_arrow::schema::{SchemaLike, TracingOptions};
use serde_arrow::utils::Items;

/// A type [`Sampler`] recognizes: what its visitor expects, the value it is handed and
/// its Arrow type (as serde_arrow names it in a schema).
struct Known {
    expecting: &'static str,
    sample: &'static str,
    data_type: &'static str,
}

/// chrono's (with its `serde` feature) and rust_decimal's, by their visitors' messages;
/// the Arrow types of their [`Columnar`](super::Columnar) implementations.
const KNOWN: [Known; 5] = [
    Known {
        expecting: "a formatted date string",
        sample: "1970-01-01",
        data_type: "Date32",
    },
    Known {
        expecting: "a formatted time string",
        sample: "00:00:00",
        data_type: "Time64(Nanosecond)",
    },
    Known {
        expecting: "a formatted date and time string",
        sample: "1970-01-01T00:00:00",
        data_type: "Timestamp(Microsecond, None)",
    },
    Known {
        expecting: "an RFC 3339 formatted date and time string",
        sample: "1970-01-01T00:00:00Z",
        data_type: "Timestamp(Microsecond, Some(\"UTC\"))",
    },
    Known {
        expecting: "a Decimal type representing a fixed-point number",
        sample: "0",
        data_type: "Decimal128(38, 18)",
    },
];

/// What [`Sampler`] noted at a path; Arrow types as serde_arrow names them in a schema.
enum Found {
    /// A type of [`KNOWN`], with its Arrow type.
    Known(&'static str),
    /// A number or `bool` (`deserialize_i8` and so on), with its Arrow type.
    Number(&'static str),
    /// A fixed-size array of this length (its elements are at `.0`, `.1`, ...).
    Array(usize),
}

/// A nullable field of serde_arrow's schema (what `TracingOptions::overwrite` takes),
/// with its children.
struct Overwrite {
    name: String,
    data_type: String,
    children: Vec<Overwrite>,
}

impl serde::Serialize for Overwrite {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Field", 4)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("data_type", &self.data_type)?;
        s.serialize_field("nullable", &true)?;
        if !self.children.is_empty() {
            s.serialize_field("children", &self.children)?;
        }
        s.end()
    }
}

/// The field at `path` for what was noted there, when it is overwritten: the known
/// types, and arrays of numbers as `[u8; N]` and `[T; N]` have them alone
/// (`FixedSizeBinary(N)`, `FixedSizeList(T, N)` of nullable elements named `item`);
/// `None` for the rest (an array of anything else is what serde_arrow makes of a tuple:
/// a struct).
fn overwrite(path: &str, found: &Found, all: &[(String, Found)]) -> Option<Overwrite> {
    let name = path.rsplit('.').next().unwrap_or(path).to_string();
    let leaf = |data_type: &str| Overwrite {
        name: name.clone(),
        data_type: data_type.to_string(),
        children: Vec::new(),
    };
    match found {
        Found::Known(data_type) => Some(leaf(data_type)),
        Found::Number(_) => None,
        Found::Array(n) => {
            let first = format!("{path}.0");
            let element = all.iter().find_map(|(p, f)| match f {
                Found::Number(t) if *p == first => Some(*t),
                _ => None,
            })?;
            Some(match element {
                "U8" => leaf(&format!("FixedSizeBinary({n})")),
                t => Overwrite {
                    name,
                    data_type: format!("FixedSizeList({n})"),
                    children: vec![Overwrite {
                        name: "item".into(),
                        data_type: t.into(),
                        children: Vec::new(),
                    }],
                },
            })
        }
    }
}

/// The field named `item` of a column of `Option<T>`, with the fields of the types
/// [`Sampler`] recognizes at their Arrow types; `None` when `T` holds none of them or
/// cannot be sampled (serde_arrow's own tracing then says why).
pub(super) fn field<T: for<'de> Deserialize<'de> + serde::Serialize>(options: TracingOptions) -> Option<FieldRef> {
    let mut found = Vec::new();
    let full = T::deserialize(Sampler::new(true, &mut found)).ok()?;
    let empty = T::deserialize(Sampler::new(false, &mut Vec::new())).ok()?;
    let overwrites: Vec<(&str, Overwrite)> = found
        .iter()
        .filter_map(|(path, f)| Some((path.as_str(), overwrite(path, f, &found)?)))
        .collect();
    if overwrites.is_empty() {
        return None;
    }
    let mut options = options.allow_null_fields(true);
    for (path, field) in overwrites {
        options = options.overwrite(path, field).ok()?;
    }
    let samples = [Some(full), Some(empty), None];
    Vec::<FieldRef>::from_samples(Items(&samples[..]), options)
        .ok()
        .and_then(|mut f| f.pop())
}

#[derive(Debug)]
struct Unsampled(String);

impl std::fmt::Display for Unsampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsampled {}

impl de::Error for Unsampled {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        Unsampled(msg.to_string())
    }
}

/// Deserializes a sample value of any type: zeros, empty strings, the first variant of
/// an enum, and (when `full`) `Some` options and one-element lists and maps.
struct Sampler<'a> {
    path: String,
    full: bool,
    found: &'a mut Vec<(String, Found)>,
}

impl<'a> Sampler<'a> {
    fn new(full: bool, found: &'a mut Vec<(String, Found)>) -> Self {
        Sampler {
            path: "item".into(),
            full,
            found,
        }
    }

    fn at(&mut self, part: &str) -> Sampler<'_> {
        Sampler {
            path: format!("{}.{part}", self.path),
            full: self.full,
            found: self.found,
        }
    }

    /// The type `visitor` reads, when recognized: noted at this path.
    fn known<'de, V: Visitor<'de>>(&mut self, visitor: &V) -> Option<&'static str> {
        let expecting = expecting(visitor);
        let known = KNOWN.iter().find(|k| k.expecting == expecting)?;
        self.found.push((self.path.clone(), Found::Known(known.data_type)));
        Some(known.sample)
    }
}

/// What `visitor` says it expects.
fn expecting<'de, V: Visitor<'de>>(visitor: &V) -> String {
    struct Expecting<'v, V>(&'v V);
    impl<'de, V: Visitor<'de>> std::fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.expecting(f)
        }
    }
    Expecting(visitor).to_string()
}

macro_rules! zero {
    ($($method:ident => $visit:ident($($value:expr)?)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsampled> {
            visitor.$visit($($value)?)
        }
    )*};
}

/// A zero of a number type (or `false`), noted at its path with its Arrow type.
macro_rules! number {
    ($($method:ident => $visit:ident($value:expr) as $data_type:literal),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsampled> {
            self.found.push((self.path, Found::Number($data_type)));
            visitor.$visit($value)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Sampler<'_> {
    type Error = Unsampled;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Unsampled> {
        match self.known(&visitor) {
            Some(sample) => visitor.visit_str(sample),
            None => Err(Unsampled(format!("{}: a type that is not self-describing", self.path))),
        }
    }

    number!(
        deserialize_bool => visit_bool(false) as "Bool",
        deserialize_i8 => visit_i8(0) as "I8",
        deserialize_i16 => visit_i16(0) as "I16",
        deserialize_i32 => visit_i32(0) as "I32",
        deserialize_i64 => visit_i64(0) as "I64",
        deserialize_u8 => visit_u8(0) as "U8",
        deserialize_u16 => visit_u16(0) as "U16",
        deserialize_u32 => visit_u32(0) as "U32",
        deserialize_u64 => visit_u64(0) as "U64",
        deserialize_f32 => visit_f32(0.0) as "F32",
        deserialize_f64 => visit_f64(0.0) as "F64",
    );

    zero!(
        deserialize_char => visit_char('0'),
        deserialize_bytes => visit_bytes(&[]),
        deserialize_byte_buf => visit_byte_buf(Vec::new()),
        deserialize_unit => visit_unit(),
        deserialize_ignored_any => visit_unit(),
        deserialize_identifier => visit_str(""),
    );

    fn deserialize_str<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Unsampled> {
        let sample = self.known(&visitor).unwrap_or("");
        visitor.visit_str(sample)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsampled> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unsampled> {
        match self.full {
            true => visitor.visit_some(self),
            false => visitor.visit_none(),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Unsampled> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Unsampled> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Unsampled> {
        let parts: Vec<String> = match self.full {
            true => vec!["element".into()],
            false => Vec::new(),
        };
        visitor.visit_seq(Parts {
            sampler: &mut self,
            parts: parts.into_iter(),
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(mut self, len: usize, visitor: V) -> Result<V::Value, Unsampled> {
        // serde's `[T; N]` (a tuple to serde), by its visitor.
        if expecting(&visitor) == format!("an array of length {len}") {
            self.found.push((self.path.clone(), Found::Array(len)));
        }
        let parts: Vec<String> = (0..len).map(|i| i.to_string()).collect();
        visitor.visit_seq(Parts {
            sampler: &mut self,
            parts: parts.into_iter(),
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Unsampled> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, Unsampled> {
        let entries = usize::from(self.full);
        visitor.visit_map(Entries {
            sampler: &mut self,
            fields: None,
            left: entries,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        mut self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unsampled> {
        visitor.visit_map(Entries {
            sampler: &mut self,
            fields: Some(fields),
            left: fields.len(),
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unsampled> {
        let first = variants
            .first()
            .ok_or_else(|| Unsampled("an enum without variants".into()))?;
        visitor.visit_enum(Variant {
            sampler: self,
            name: first,
        })
    }
}

/// The elements of a list or tuple, each sampled at its path.
struct Parts<'s, 'a> {
    sampler: &'s mut Sampler<'a>,
    parts: std::vec::IntoIter<String>,
}

impl<'de> de::SeqAccess<'de> for Parts<'_, '_> {
    type Error = Unsampled;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Unsampled> {
        match self.parts.next() {
            Some(part) => seed.deserialize(self.sampler.at(&part)).map(Some),
            None => Ok(None),
        }
    }
}

/// The fields of a struct (or the one entry of a map), each sampled at its path.
struct Entries<'s, 'a> {
    sampler: &'s mut Sampler<'a>,
    fields: Option<&'static [&'static str]>,
    left: usize,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = Unsampled;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Unsampled> {
        if self.left == 0 {
            return Ok(None);
        }
        match self.fields {
            Some(fields) => {
                let name = fields[fields.len() - self.left];
                seed.deserialize(de::value::StrDeserializer::<Unsampled>::new(name))
                    .map(Some)
            }
            None => seed.deserialize(self.sampler.at("key")).map(Some),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Unsampled> {
        let part = match self.fields {
            Some(fields) => fields[fields.len() - self.left],
            None => "value",
        };
        self.left -= 1;
        seed.deserialize(self.sampler.at(part))
    }
}

/// The first variant of an enum.
struct Variant<'a> {
    sampler: Sampler<'a>,
    name: &'static str,
}

impl<'de, 'a> de::EnumAccess<'de> for Variant<'a> {
    type Error = Unsampled;
    type Variant = Sampler<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(mut self, seed: S) -> Result<(S::Value, Sampler<'a>), Unsampled> {
        let value = seed.deserialize(de::value::StrDeserializer::<Unsampled>::new(self.name))?;
        self.sampler.path = format!("{}.{}", self.sampler.path, self.name);
        Ok((value, self.sampler))
    }
}

impl<'de> de::VariantAccess<'de> for Sampler<'_> {
    type Error = Unsampled;

    fn unit_variant(self) -> Result<(), Unsampled> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Unsampled> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Unsampled> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unsampled> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
    use rust_decimal::Decimal;
    use serde::Serialize;

    use arrow::datatypes::DataType;

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Trade {
        id: i64,
        day: NaiveDate,
        at: Option<NaiveTime>,
        local: NaiveDateTime,
        instants: Vec<DateTime<Utc>>,
        amount: Decimal,
        wait: TimeDelta,
        note: Option<String>,
    }

    #[test]
    fn dates_times_timestamps_and_decimals_get_their_own_arrow_types() {
        let field = field::<Trade>(TracingOptions::default()).unwrap();
        let DataType::Struct(fields) = field.data_type() else {
            panic!("{field:?}");
        };
        let types: Vec<String> = fields
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        assert_eq!(
            types,
            [
                "id: Int64",
                "day: Date32",
                "at: Time64(ns)",
                "local: Timestamp(µs)",
                "instants: LargeList(Timestamp(µs, \"UTC\"), field: 'element')",
                "amount: Decimal128(38, 18)",
                "wait: Struct(\"0\": non-null Int64, \"1\": non-null Int32)",
                "note: LargeUtf8",
            ]
        );
        assert!(fields.iter().find(|f| f.name() == "at").unwrap().is_nullable());
        assert!(field.is_nullable());
        // Types serde_arrow traces alone are left to it.
        #[derive(Serialize, Deserialize)]
        struct Plain {
            x: f64,
        }
        assert!(super::field::<Plain>(TracingOptions::default()).is_none());
    }

    #[test]
    fn arrays_of_numbers_are_fixed_size_and_other_tuples_are_left_to_serde_arrow() {
        #[derive(Serialize, Deserialize)]
        struct Row {
            id: [u8; 4],
            embedding: Option<[f32; 3]>,
            flags: Vec<[bool; 2]>,
            pair: (u8, u8),
            names: [String; 2],
        }
        let field = field::<Row>(TracingOptions::default()).unwrap();
        let DataType::Struct(fields) = field.data_type() else {
            panic!("{field:?}");
        };
        let types: Vec<String> = fields
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        assert_eq!(
            types,
            [
                "id: FixedSizeBinary(4)",
                "embedding: FixedSizeList(3 x Float32)",
                "flags: LargeList(FixedSizeList(2 x Boolean), field: 'element')",
                "pair: Struct(\"0\": non-null UInt8, \"1\": non-null UInt8)",
                "names: Struct(\"0\": non-null LargeUtf8, \"1\": non-null LargeUtf8)",
            ]
        );
    }
}
