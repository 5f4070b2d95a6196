//! The type-erased Arrow conversions of a columnar type ([`ColumnType`]), made for each
//! [`Columnar`] type by `Conversions`, and found for a [`TypeInfo`].

use std::marker::PhantomData;
use std::ops::Range;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;

use super::Columnar;
use crate::hash::{StableHasher, null_digest};
use crate::value::{TypeInfo, Value};

/// Which elements of a list [`ColumnType::list_rows_to_array`] takes.
#[derive(Clone, Debug)]
pub enum Elements<'a> {
    /// These, in order.
    Range(Range<usize>),
    /// The element at each index, in index order.
    At(&'a [u32]),
}

/// The type-erased Arrow conversions of one columnar type, attached to its [`TypeInfo`].
pub struct ColumnType {
    /// The Arrow type.
    pub data_type: fn() -> DataType,
    /// Whether nulls are values of the type (`Option`).
    pub nullable: bool,
    /// A `Vec<T>` value as an array (`None` when the value is not a `Vec<T>`).
    pub list_to_array: fn(&Value) -> Option<ArrayRef>,
    /// Some elements of a `Vec<T>` value, in order, as an array.
    pub list_rows_to_array: fn(&Value, Elements<'_>) -> Option<ArrayRef>,
    /// A `T` value as a one-row array.
    pub value_to_array: fn(&Value) -> Option<ArrayRef>,
    /// The rows of consecutive arrays (the chunks of one column) as one `Vec<T>` value;
    /// `Err` names the first row (counted across the chunks) that does not hold a `T`
    /// (see [`Columnar::holds`]: null, or a null inside where `T` has none).
    pub array_to_list: fn(&[&dyn Array]) -> Result<Value, String>,
    /// Row `i` of an array as a `T` value (`None` for a row that does not hold a `T`: see
    /// [`Columnar::holds`]).
    pub array_value: fn(&dyn Array, usize) -> Option<Value>,
    /// A `Vec<Vec<T>>` value as a list array, taking the rows in `index` (or all).
    pub lists_to_array: fn(&Value, Option<&[u32]>) -> Option<ArrayRef>,
    /// Appends one digest per row of an array to `out`: the digest
    /// [`digest`](crate::hash::digest) gives the row's value as a `T`
    /// (`stable_hash(&T::value(array, i))`), computed without building the value. A row
    /// that does not hold a `T` (see [`Columnar::holds`]: a null row of a non-nullable
    /// `T`, which no node is called on) gets [`null_digest`](crate::hash::null_digest),
    /// the digest of the tag `null`. `false` (and nothing appended) when the array is not
    /// of `T`'s Arrow type or a row cannot be hashed (see [`Columnar::digest_row`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use arrow::array::StringArray;
    /// use hypernodes::engine::columnar::types::ColumnType;
    /// use hypernodes::hash::{digest, null_digest};
    /// use hypernodes::Value;
    ///
    /// let array = StringArray::from(vec![Some("a"), None]);
    /// let mut digests = Vec::new();
    /// assert!((ColumnType::of::<String>().digest_rows)(&array, &mut digests));
    /// assert_eq!(digests, [digest(&Value::new("a".to_string())).unwrap(), null_digest()]);
    ///
    /// digests.clear();
    /// assert!((ColumnType::of::<Option<String>>().digest_rows)(&array, &mut digests));
    /// assert_eq!(digests[1], digest(&Value::new(None::<String>)).unwrap());
    /// assert!(!(ColumnType::of::<i64>().digest_rows)(&array, &mut digests));
    /// ```
    pub digest_rows: fn(&dyn Array, &mut Vec<[u8; 32]>) -> bool,
    /// Values that each hold a `T` as an array (`None` when one holds another type).
    pub values_to_array: fn(&[Value]) -> Option<ArrayRef>,
}

impl ColumnType {
    /// The conversions of `T`.
    pub fn of<T: Columnar>() -> &'static ColumnType {
        Conversions::<T>::TYPE
    }

    /// The conversions of `ty`, when its type is columnar: those attached to it (by the
    /// `#[node]` macro), else those of the built-in columnar type it is (for the types of
    /// closure nodes, which are generic and carry none).
    pub fn find(ty: &TypeInfo) -> Option<&'static ColumnType> {
        ty.extension()
            .and_then(|e| e.downcast_ref::<ColumnType>())
            .or_else(|| builtin(ty.type_id()))
    }
}

/// The conversions of the built-in columnar types by `TypeId`: each primitive, `bool`,
/// `String`, `Bytes`, Arrow's `IntervalMonthDayNano`, chrono's dates, times, timestamps
/// and durations and `rust_decimal::Decimal`, as itself, `Option`,
/// `Vec`, `Vec<Option>`, `Option<Vec>` and `Vec<Vec>`.
fn builtin(id: std::any::TypeId) -> Option<&'static ColumnType> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static TYPES: OnceLock<HashMap<TypeId, &'static ColumnType>> = OnceLock::new();
    fn shapes<T: Columnar>(map: &mut HashMap<TypeId, &'static ColumnType>) {
        map.insert(TypeId::of::<T>(), ColumnType::of::<T>());
        map.insert(TypeId::of::<Option<T>>(), ColumnType::of::<Option<T>>());
        map.insert(TypeId::of::<Vec<T>>(), ColumnType::of::<Vec<T>>());
        map.insert(TypeId::of::<Vec<Option<T>>>(), ColumnType::of::<Vec<Option<T>>>());
        map.insert(TypeId::of::<Option<Vec<T>>>(), ColumnType::of::<Option<Vec<T>>>());
        map.insert(TypeId::of::<Vec<Vec<T>>>(), ColumnType::of::<Vec<Vec<T>>>());
    }
    TYPES
        .get_or_init(|| {
            let mut map = HashMap::new();
            shapes::<bool>(&mut map);
            shapes::<i8>(&mut map);
            shapes::<i16>(&mut map);
            shapes::<i32>(&mut map);
            shapes::<i64>(&mut map);
            shapes::<u8>(&mut map);
            shapes::<u16>(&mut map);
            shapes::<u32>(&mut map);
            shapes::<u64>(&mut map);
            shapes::<usize>(&mut map);
            shapes::<f32>(&mut map);
            shapes::<f64>(&mut map);
            shapes::<String>(&mut map);
            shapes::<bytes::Bytes>(&mut map);
            shapes::<chrono::NaiveDate>(&mut map);
            shapes::<chrono::NaiveTime>(&mut map);
            shapes::<chrono::NaiveDateTime>(&mut map);
            shapes::<chrono::DateTime<chrono::Utc>>(&mut map);
            shapes::<chrono::TimeDelta>(&mut map);
            shapes::<rust_decimal::Decimal>(&mut map);
            shapes::<arrow::datatypes::IntervalMonthDayNano>(&mut map);
            map
        })
        .get(&id)
        .copied()
}

impl std::fmt::Debug for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ColumnType({})", (self.data_type)())
    }
}

struct Conversions<T>(PhantomData<T>);

impl<T: Columnar> Conversions<T> {
    const TYPE: &'static ColumnType = &ColumnType {
        data_type: T::data_type,
        nullable: T::NULLABLE,
        list_to_array: Self::list_to_array,
        list_rows_to_array: Self::list_rows_to_array,
        value_to_array: Self::value_to_array,
        array_to_list: Self::array_to_list,
        array_value: Self::array_value,
        lists_to_array: Self::lists_to_array,
        digest_rows: Self::digest_rows,
        values_to_array: Self::values_to_array,
    };

    fn values_to_array(values: &[Value]) -> Option<ArrayRef> {
        let mut b = T::builder(values.len());
        for v in values {
            T::append(&mut b, v.downcast_ref::<T>()?);
        }
        Some(T::finish(b))
    }

    fn digest_rows(array: &dyn Array, out: &mut Vec<[u8; 32]>) -> bool {
        let Some(typed) = T::downcast(array) else {
            return false;
        };
        let start = out.len();
        out.reserve(typed.len());
        let null = null_digest();
        let mut h = StableHasher::new();
        let all_hold = T::all_hold(typed);
        for i in 0..typed.len() {
            if !all_hold && !T::holds(typed, i) {
                out.push(null);
                continue;
            }
            h.reset();
            if !T::digest_row(typed, i, &mut h) {
                out.truncate(start);
                return false;
            }
            out.push(h.finish());
        }
        true
    }

    fn list_to_array(value: &Value) -> Option<ArrayRef> {
        let list = value.downcast_ref::<Vec<T>>()?;
        let mut b = T::builder(list.len());
        T::append_all(&mut b, list);
        Some(T::finish(b))
    }

    fn list_rows_to_array(value: &Value, elements: Elements<'_>) -> Option<ArrayRef> {
        let list = value.downcast_ref::<Vec<T>>()?;
        Some(T::finish(match elements {
            Elements::Range(range) => {
                let mut b = T::builder(range.len());
                T::append_all(&mut b, list.get(range)?);
                b
            }
            Elements::At(index) => {
                let mut b = T::builder(index.len());
                for &i in index {
                    T::append(&mut b, list.get(i as usize)?);
                }
                b
            }
        }))
    }

    fn value_to_array(value: &Value) -> Option<ArrayRef> {
        let v = value.downcast_ref::<T>()?;
        let mut b = T::builder(1);
        T::append(&mut b, v);
        Some(T::finish(b))
    }

    fn array_to_list(chunks: &[&dyn Array]) -> Result<Value, String> {
        let mut values = Vec::with_capacity(chunks.iter().map(|a| a.len()).sum());
        for array in chunks {
            let typed = T::downcast(*array)
                .ok_or_else(|| format!("expected a column of {}, found {}", T::data_type(), array.data_type()))?;
            if !T::all_hold(typed)
                && let Some(row) = (0..typed.len()).find(|&i| !T::holds(typed, i))
            {
                let at = values.len() + row;
                return Err(if typed.is_null(row) {
                    format!("row {at} is null")
                } else {
                    format!("row {at} holds a null, which {} cannot hold", TypeInfo::of::<T>())
                });
            }
            values.extend(T::iter(typed));
        }
        Ok(Value::new(values))
    }

    fn lists_to_array(value: &Value, index: Option<&[u32]>) -> Option<ArrayRef> {
        let rows = value.downcast_ref::<Vec<Vec<T>>>()?;
        let mut b = <Vec<T> as Columnar>::builder(index.map_or(rows.len(), <[u32]>::len));
        match index {
            None => rows.iter().for_each(|r| <Vec<T> as Columnar>::append(&mut b, r)),
            Some(ix) => ix
                .iter()
                .for_each(|&i| <Vec<T> as Columnar>::append(&mut b, &rows[i as usize])),
        }
        Some(<Vec<T> as Columnar>::finish(b))
    }

    fn array_value(array: &dyn Array, i: usize) -> Option<Value> {
        let typed = T::downcast(array)?;
        if !T::holds(typed, i) {
            return None;
        }
        Some(Value::new(T::value(typed, i)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;

    use super::*;

    fn round_trip<T: Columnar + Clone + PartialEq + std::fmt::Debug>(values: Vec<T>) {
        let ct = ColumnType::of::<T>();
        let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
        assert_eq!(array.data_type(), &T::data_type());
        assert_eq!(array.len(), values.len());
        let back = (ct.array_to_list)(&[array.as_ref()]).unwrap();
        assert_eq!(back.downcast_ref::<Vec<T>>(), Some(&values));
        if !values.is_empty() {
            let last = (ct.array_value)(array.as_ref(), values.len() - 1).unwrap();
            assert_eq!(last.downcast_ref::<T>(), values.last());
        }
    }

    #[test]
    fn values_round_trip_through_arrow() {
        round_trip(vec![1_i64, -2, 3]);
        round_trip(vec![1_usize, 2]);
        round_trip(vec![0.5_f64, f64::MAX]);
        round_trip(vec![true, false]);
        round_trip(vec!["a".to_string(), "ünï".to_string(), String::new()]);
        round_trip(vec![Some(1_i32), None, Some(3)]);
        round_trip(vec![Some("x".to_string()), None]);
        round_trip(vec![vec![1_u8, 2], vec![], vec![3]]);
        round_trip(vec![vec![vec!["a".to_string()]], vec![]]);
        round_trip(vec![Some(vec![1_i64]), None, Some(vec![])]);
        round_trip(Vec::<i64>::new());
        let day = chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        round_trip(vec![day, chrono::NaiveDate::MIN]);
        round_trip(vec![Some(day.and_hms_opt(23, 59, 59).unwrap()), None]);
        round_trip(vec![vec![day.and_hms_opt(0, 0, 0).unwrap().and_utc()], vec![]]);
        round_trip(vec![
            chrono::NaiveTime::MIN,
            chrono::NaiveTime::from_hms_nano_opt(1, 2, 3, 4).unwrap(),
        ]);
        round_trip(vec![chrono::TimeDelta::microseconds(-7)]);
        round_trip(vec![bytes::Bytes::from_static(b"\0\xff"), bytes::Bytes::new()]);
        round_trip(vec![Some([1_u8, 2, 3]), None]);
        round_trip(vec![vec![[0_u8; 16]], vec![]]);
    }

    #[test]
    fn nulls_in_a_non_nullable_column_are_named() {
        let array: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![Some(1), None]));
        let err = (ColumnType::of::<i64>().array_to_list)(&[array.as_ref()]).unwrap_err();
        assert_eq!(err, "row 1 is null");
        // Rows are counted across chunks.
        let err = (ColumnType::of::<i64>().array_to_list)(&[array.as_ref(), array.as_ref()]).unwrap_err();
        assert_eq!(err, "row 1 is null");
        let first: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![7, 8, 9]));
        let err = (ColumnType::of::<i64>().array_to_list)(&[first.as_ref(), array.as_ref()]).unwrap_err();
        assert_eq!(err, "row 4 is null");
        assert!((ColumnType::of::<i64>().array_value)(array.as_ref(), 1).is_none());
        let err = (ColumnType::of::<String>().array_to_list)(&[array.as_ref()]).unwrap_err();
        assert_eq!(err, "expected a column of Utf8, found Int64");
    }

    #[test]
    fn built_in_types_are_found_without_the_probe() {
        // Closure nodes describe their types with `TypeInfo::of`, which carries nothing.
        let found = |t: TypeInfo| ColumnType::find(&t).map(|ct| (ct.data_type)());
        assert_eq!(found(TypeInfo::of::<i64>()), Some(DataType::Int64));
        assert_eq!(found(TypeInfo::of::<Option<String>>()), Some(DataType::Utf8));
        assert_eq!(
            ColumnType::find(&TypeInfo::of::<Option<String>>()).map(|ct| ct.nullable),
            Some(true)
        );
        assert_eq!(
            found(TypeInfo::of::<Vec<Vec<f64>>>()),
            Some(<Vec<Vec<f64>> as Columnar>::data_type())
        );
        struct Model;
        assert_eq!(found(TypeInfo::of::<Model>()), None);
        assert_eq!(found(TypeInfo::of::<Vec<Vec<Vec<i64>>>>()), None);
    }

    /// Each row's digest from Arrow equals the digest of the row's value made in Rust.
    fn digests_match<T: Columnar + Clone + std::fmt::Debug>(values: Vec<T>, hash_as: TypeInfo) {
        let ct = ColumnType::of::<T>();
        let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
        let mut digests = vec![[0; 32]];
        assert!((ct.digest_rows)(array.as_ref(), &mut digests), "{values:?}");
        assert_eq!(digests.len(), values.len() + 1);
        for (v, d) in values.iter().zip(&digests[1..]) {
            let rust = crate::hash::digest_as(&Value::new(v.clone()), &hash_as);
            assert_eq!(rust, Some(*d), "{v:?}");
        }
        // Sliced arrays read the same rows.
        if values.len() > 1 {
            let mut sliced = Vec::new();
            assert!((ct.digest_rows)(array.slice(1, values.len() - 1).as_ref(), &mut sliced));
            assert_eq!(sliced, digests[2..]);
        }
    }

    fn digests_match_builtin<T: Columnar + Clone + std::fmt::Debug>(values: Vec<T>) {
        digests_match(values, TypeInfo::of::<T>());
    }

    #[test]
    fn row_digests_equal_the_digests_of_rust_values() {
        digests_match_builtin(vec![1_i8, -2, i8::MAX]);
        digests_match_builtin(vec![1_i16, -2]);
        digests_match_builtin(vec![1_i32, -2]);
        digests_match_builtin(vec![1_i64, -2, i64::MIN]);
        digests_match_builtin(vec![1_u8, 2]);
        digests_match_builtin(vec![1_u16, 2]);
        digests_match_builtin(vec![1_u32, 2]);
        digests_match_builtin(vec![1_u64, u64::MAX]);
        digests_match_builtin(vec![1_usize, 2]);
        digests_match_builtin(vec![1.5_f32, f32::NAN]);
        digests_match_builtin(vec![1.5_f64, -0.0, f64::NAN]);
        digests_match_builtin(vec![true, false]);
        digests_match_builtin(vec!["a".to_string(), String::new(), "ünï".to_string()]);
        digests_match_builtin(vec![Some(1_i64), None, Some(3)]);
        digests_match_builtin(vec![Some("x".to_string()), None]);
        digests_match_builtin(vec![vec![1_i64, 2], vec![], vec![3]]);
        digests_match_builtin(vec![
            vec!["a".to_string()],
            vec![],
            vec!["b".to_string(), "c".to_string()],
        ]);
        digests_match_builtin(vec![vec![Some(1.5_f64), None], vec![None], vec![]]);
        digests_match_builtin(vec![vec![vec![1_i64], vec![]], vec![], vec![vec![2, 3]]]);
        digests_match_builtin(vec![Some(vec![1_i64]), None, Some(vec![])]);
        let day = chrono::NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
        digests_match_builtin(vec![day, chrono::NaiveDate::MAX]);
        digests_match_builtin(vec![
            chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, 1_999_999_999).unwrap(),
        ]);
        digests_match_builtin(vec![Some(day.and_hms_micro_opt(1, 2, 3, 4).unwrap()), None]);
        digests_match_builtin(vec![vec![day.and_hms_opt(0, 0, 0).unwrap().and_utc()], vec![]]);
        digests_match_builtin(vec![
            chrono::TimeDelta::microseconds(i64::MIN),
            chrono::TimeDelta::zero(),
        ]);
        digests_match_builtin(vec![bytes::Bytes::from_static(b"ab"), bytes::Bytes::new()]);
        digests_match_builtin(vec![Some(vec![bytes::Bytes::from_static(b"x")]), None]);
        let hashed = |t: TypeInfo| t.with_hasher(crate::hash::hash_fn::<[u8; 2]>());
        digests_match(vec![[1_u8, 2], [0, 255]], hashed(TypeInfo::of::<[u8; 2]>()));
        let dec = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        digests_match_builtin(vec![
            dec("1.50"),
            dec("-0.000000000000000001"),
            dec("99999999999999999999"),
        ]);
        digests_match_builtin(vec![Some(dec("12.34")), None]);
        digests_match_builtin(vec![vec![dec("0")], vec![]]);
    }

    #[test]
    fn decimal_rows_of_any_scale_digest_as_the_value() {
        use arrow::array::Decimal128Array;
        let dec = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        let array = Decimal128Array::from(vec![150, -5, 0])
            .with_precision_and_scale(12, 2)
            .unwrap();
        let mut digests = Vec::new();
        assert!((ColumnType::of::<rust_decimal::Decimal>().digest_rows)(
            &array,
            &mut digests
        ));
        for (d, v) in digests.iter().zip(["1.5", "-0.050", "-0.0"]) {
            assert_eq!(Some(*d), crate::hash::digest(&Value::new(dec(v))), "{v}");
        }
    }

    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Point {
        x: f64,
        label: String,
    }
    crate::columnar_struct!(Point);

    #[test]
    #[allow(clippy::needless_borrow)]
    fn serde_struct_rows_digest_as_the_macro_hashes_them() {
        use crate::hash::{HashProbe, ViaSerialize as _};
        let hashed = TypeInfo::of::<Point>().with_hasher((&&&HashProbe::<Point>::new()).hasher().unwrap());
        let points = vec![
            Point {
                x: 1.0,
                label: "a".into(),
            },
            Point {
                x: -2.5,
                label: String::new(),
            },
        ];
        digests_match(points.clone(), hashed);
        let some =
            TypeInfo::of::<Option<Point>>().with_hasher((&&&HashProbe::<Option<Point>>::new()).hasher().unwrap());
        digests_match(vec![Some(points[0].clone()), None], some);
    }

    #[test]
    fn null_rows_of_non_nullable_types_get_the_null_digest() {
        let array = arrow::array::Int64Array::from(vec![Some(1), None]);
        let mut digests = Vec::new();
        assert!((ColumnType::of::<i64>().digest_rows)(&array, &mut digests));
        assert_eq!(digests[1], crate::hash::null_digest());
        assert_ne!(digests[0], digests[1]);
        let mut digests = Vec::new();
        assert!((ColumnType::of::<Option<i64>>().digest_rows)(&array, &mut digests));
        assert_eq!(Some(digests[1]), crate::hash::digest(&Value::new(None::<i64>)));
        // The wrong Arrow type appends nothing.
        let mut digests = Vec::new();
        assert!(!(ColumnType::of::<String>().digest_rows)(&array, &mut digests));
        assert!(digests.is_empty());
    }

    /// `cargo test --release --lib digest_rows_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn digest_rows_speed() {
        let strings: Vec<String> = (0..1_000_000)
            .map(|i| format!("{i:>15} the quick brown fox jumps over the lazy dog!"))
            .collect();
        assert_eq!(strings[0].len(), 60);
        let array = StringArray::from(strings);
        let mut digests = Vec::with_capacity(array.len());
        for _ in 0..3 {
            digests.clear();
            let start = std::time::Instant::now();
            assert!((ColumnType::of::<String>().digest_rows)(&array, &mut digests));
            println!("digest_rows over 1M Utf8 rows of 60 bytes: {:?}", start.elapsed());
        }
        // The floor: one blake3 call over a 60-byte string's 79-byte encoding per row.
        let mut bytes = [7_u8; 79];
        let start = std::time::Instant::now();
        let mut acc = 0_u8;
        for i in 0..1_000_000_u32 {
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            acc ^= blake3::hash(&bytes).as_bytes()[0];
        }
        println!("1M blake3::hash of 79 bytes: {:?} ({acc})", start.elapsed());
    }
}
