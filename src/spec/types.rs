//! The type names a pipeline file declares its inputs with, and the values it binds.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, IntervalUnit, TimeUnit};

use crate::engine::columnar::types::{columnar_type_info, type_info_for};
use crate::value::{TypeInfo, Value};

/// The type names [`parse_type`] knows, for messages.
pub(super) const TYPE_NAMES: &str = "string, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, date, time, \
     timestamp, timestamp[s|ms|us|ns], timestamp[UNIT, ZONE], duration[s|ms|us|ns], interval, decimal, \
     decimal(P, S), decimal128(P, S), decimal256(P, S), binary, fixed_binary[N], list<T>, list<T; N>, \
     map<string, T>";

/// A declared type: `string`, `i64`, `date`, `timestamp[ns, UTC]`, `decimal(12, 2)`,
/// `binary`, `fixed_binary[16]`, `list<string>`, `list<f32; 768>`, `map<string, i64>`, ...
/// (Arrow names work too; case and spaces do not matter).
pub(super) fn parse_type(text: &str) -> Option<TypeInfo> {
    type_info_for(&parse_data_type(text)?)
}

/// The Arrow type of a declared type (see [`parse_type`]).
pub(super) fn parse_data_type(text: &str) -> Option<DataType> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = compact.to_ascii_lowercase();
    Some(zone_case(data_type(&lower)?, &compact, &lower))
}

/// `data_type` (parsed from `lower`, `text` lower-cased) with each time zone spelled as
/// in `text` (`UTC`, `America/New_York`): Arrow reads zone names by their case.
fn zone_case(data_type: DataType, text: &str, lower: &str) -> DataType {
    let field = |f: &Field| Arc::new(f.clone().with_data_type(zone_case(f.data_type().clone(), text, lower)));
    match data_type {
        DataType::Timestamp(unit, Some(zone)) => {
            let spelled = lower.find(zone.as_ref()).map(|at| &text[at..at + zone.len()]);
            DataType::Timestamp(unit, Some(spelled.map_or(zone, Into::into)))
        }
        DataType::List(f) => DataType::List(field(&f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(&f), n),
        DataType::Map(f, sorted) => {
            let entries = match f.data_type() {
                DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| field(f)).collect()),
                other => other.clone(),
            };
            DataType::Map(Arc::new(f.as_ref().clone().with_data_type(entries)), sorted)
        }
        other => other,
    }
}

/// Why a declared type that names a decimal is not one (its precision or scale is out of
/// range), for the message of an unknown type.
pub(super) fn type_problem(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut t = compact.to_ascii_lowercase();
    while let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
        t = inner.to_string();
    }
    decimal(&t)?.err()
}

/// `decimal`, `decimal(P, S)`, `decimal128(P, S)` or `decimal256(P, S)` (square brackets
/// work too), lowercase and without spaces: `None` when `t` is not a decimal's name, the
/// problem when its precision or scale is out of range. `decimal` alone is
/// `Decimal128(38, 18)`, what a `rust_decimal::Decimal` is written as.
fn decimal(t: &str) -> Option<Result<DataType, String>> {
    let split = t.find(['(', '[']).unwrap_or(t.len());
    let (name, rest) = t.split_at(split);
    let max = match name {
        "decimal" | "decimal128" => 38,
        "decimal256" => 76,
        _ => return None,
    };
    if rest.is_empty() {
        return (name == "decimal").then_some(Ok(DataType::Decimal128(38, 18)));
    }
    let args = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?;
    let (p, s) = args.split_once(',')?;
    let (p, s): (u8, u8) = (p.parse().ok()?, s.parse().ok()?);
    let shown = format!("{name}({p}, {s})");
    Some(if !(1..=max).contains(&p) {
        Err(format!("{shown} has precision {p}: a {name} holds 1 to {max} digits"))
    } else if s > p {
        Err(format!(
            "{shown} has scale {s}, more digits after the point than its precision {p}"
        ))
    } else if max == 38 {
        Ok(DataType::Decimal128(p, s as i8))
    } else {
        Ok(DataType::Decimal256(p, s as i8))
    })
}

/// The Arrow type of a declared type name, lowercase and without spaces.
fn data_type(t: &str) -> Option<DataType> {
    if let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
        // `list<T; N>`: lists of `N` elements each (embeddings).
        if let Some((elem, size)) = inner.rsplit_once(';') {
            let size = size.parse().ok().filter(|n| *n > 0)?;
            return Some(DataType::FixedSizeList(
                Arc::new(Field::new_list_field(data_type(elem)?, true)),
                size,
            ));
        }
        return Some(DataType::List(Arc::new(Field::new_list_field(data_type(inner)?, true))));
    }
    if let Some(decimal) = decimal(t) {
        return decimal.ok();
    }
    // `map<K,V>`: maps of string keys.
    if let Some((key, value)) = t
        .strip_prefix("map<")
        .and_then(|r| r.strip_suffix('>'))
        .and_then(|r| r.split_once(','))
    {
        let entries = Fields::from(vec![
            Field::new("keys", data_type(key)?, false),
            Field::new("values", data_type(value)?, true),
        ]);
        return Some(DataType::Map(
            Arc::new(Field::new("entries", DataType::Struct(entries), false)),
            false,
        ));
    }
    // `name[unit]` or `name[unit,zone]`.
    let (name, args) = match t.split_once('[') {
        Some((name, rest)) => (name, Some(rest.strip_suffix(']')?)),
        None => (t, None),
    };
    let unit = |u: &str| {
        Some(match u {
            "s" => TimeUnit::Second,
            "ms" => TimeUnit::Millisecond,
            "us" | "µs" => TimeUnit::Microsecond,
            "ns" => TimeUnit::Nanosecond,
            _ => return None,
        })
    };
    Some(match (name, args) {
        ("date" | "date32", None) => DataType::Date32,
        ("date64", None) => DataType::Date64,
        ("time" | "time64", None) => DataType::Time64(TimeUnit::Nanosecond),
        ("time" | "time64", Some(u)) => match unit(u)? {
            u @ (TimeUnit::Second | TimeUnit::Millisecond) => DataType::Time32(u),
            u => DataType::Time64(u),
        },
        ("timestamp", None) => DataType::Timestamp(TimeUnit::Microsecond, None),
        ("timestamp", Some(args)) => match args.split_once(',') {
            None => DataType::Timestamp(unit(args)?, None),
            Some((u, zone)) if is_zone(zone) => DataType::Timestamp(unit(u)?, Some(zone.into())),
            Some(_) => return None,
        },
        ("duration", None) => DataType::Duration(TimeUnit::Microsecond),
        ("duration", Some(u)) => DataType::Duration(unit(u)?),
        ("fixed_binary", Some(width)) => DataType::FixedSizeBinary(width.parse().ok().filter(|w| *w > 0)?),
        (_, Some(_)) => return None,
        ("string" | "str" | "utf8" | "text", None) => DataType::Utf8,
        ("binary" | "bytes", None) => DataType::Binary,
        ("interval", None) => DataType::Interval(IntervalUnit::MonthDayNano),
        ("bool" | "boolean", None) => DataType::Boolean,
        ("i8" | "int8", None) => DataType::Int8,
        ("i16" | "int16", None) => DataType::Int16,
        ("i32" | "int32", None) => DataType::Int32,
        ("i64" | "int64", None) => DataType::Int64,
        ("u8" | "uint8", None) => DataType::UInt8,
        ("u16" | "uint16", None) => DataType::UInt16,
        ("u32" | "uint32", None) => DataType::UInt32,
        ("u64" | "uint64", None) => DataType::UInt64,
        ("f32" | "float32", None) => DataType::Float32,
        ("f64" | "float64" | "double", None) => DataType::Float64,
        _ => return None,
    })
}

/// Whether `zone` (lowercased) looks like a time zone: `utc`, an offset (`+05:30`) or a
/// name (`america/new_york`). The zone only says the column holds instants: they are
/// read as `DateTime<Utc>` whatever it is.
fn is_zone(zone: &str) -> bool {
    !zone.is_empty()
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-' | ':'))
}

/// A TOML value as a bound value and its type.
pub(super) fn bind_value(v: &toml::Value) -> Option<(Value, TypeInfo)> {
    use toml::Value as T;
    Some(match v {
        T::Integer(i) => (Value::new(*i), columnar_type_info::<i64>()),
        T::Float(f) => (Value::new(*f), columnar_type_info::<f64>()),
        T::String(s) => (Value::new(s.clone()), columnar_type_info::<String>()),
        T::Boolean(b) => (Value::new(*b), columnar_type_info::<bool>()),
        T::Array(items) => {
            if let Some(all) = items.iter().map(T::as_integer).collect::<Option<Vec<i64>>>() {
                (Value::new(all), columnar_type_info::<Vec<i64>>())
            } else if let Some(all) = items.iter().map(T::as_float).collect::<Option<Vec<f64>>>() {
                (Value::new(all), columnar_type_info::<Vec<f64>>())
            } else if let Some(all) = items
                .iter()
                .map(|i| i.as_str().map(String::from))
                .collect::<Option<Vec<String>>>()
            {
                (Value::new(all), columnar_type_info::<Vec<String>>())
            } else if let Some(all) = items.iter().map(T::as_bool).collect::<Option<Vec<bool>>>() {
                (Value::new(all), columnar_type_info::<Vec<bool>>())
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_names_in_any_case_with_spaces() {
        let name = |t: &str| parse_type(t).map(|t| t.name());
        assert_eq!(name("date").as_deref(), Some("NaiveDate"));
        assert_eq!(name("Date64").as_deref(), Some("NaiveDate"));
        assert_eq!(name("time").as_deref(), Some("NaiveTime"));
        assert_eq!(name("time[ms]").as_deref(), Some("NaiveTime"));
        assert_eq!(name("timestamp").as_deref(), Some("NaiveDateTime"));
        assert_eq!(name("TIMESTAMP[ns]").as_deref(), Some("NaiveDateTime"));
        assert_eq!(name("timestamp[us, UTC]").as_deref(), Some("DateTime<Utc>"));
        // Arrow reads zone names by their case.
        assert_eq!(
            parse_data_type("list<Timestamp[ms, America/New_York]>").map(|t| t.to_string()),
            Some("List(Timestamp(ms, \"America/New_York\"))".into())
        );
        assert_eq!(
            parse_data_type("timestamp[us, UTC]"),
            Some(DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))
        );
        assert_eq!(
            name(" timestamp[ ns , America/New_York ] ").as_deref(),
            Some("DateTime<Utc>")
        );
        assert_eq!(name("duration[s]").as_deref(), Some("TimeDelta"));
        assert_eq!(name("list<date>").as_deref(), Some("Vec<NaiveDate>"));
        assert_eq!(name("binary").as_deref(), Some("Bytes"));
        assert_eq!(name("interval").as_deref(), Some("IntervalMonthDayNano"));
        assert_eq!(name("map<string, i64>").as_deref(), Some("BTreeMap<String, i64>"));
        assert_eq!(name("map<string, date>"), None);
        assert_eq!(parse_data_type("fixed_binary[16]"), Some(DataType::FixedSizeBinary(16)));
        assert_eq!(name("list<Fixed_Binary[ 32 ]>").as_deref(), Some("Vec<Bytes>"));
        let f32s = Arc::new(Field::new_list_field(DataType::Float32, true));
        assert_eq!(
            parse_data_type("list<f32; 768>"),
            Some(DataType::FixedSizeList(f32s, 768))
        );
        assert_eq!(name("list<f32; 768>").as_deref(), Some("Vec<f32>"));
        for bad in [
            "timestamp[minutes]",
            "timestamp[us, ]",
            "timestamp[us",
            "i64[s]",
            "date[s]",
            "duration[us, UTC]",
            "fixed_binary",
            "fixed_binary[0]",
            "binary[16]",
            "list<f32; 0>",
            "list<f32; x>",
        ] {
            assert!(parse_type(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn decimal_names_with_precision_and_scale() {
        let dt = |t: &str| parse_data_type(t);
        assert_eq!(dt("decimal(12, 2)"), Some(DataType::Decimal128(12, 2)));
        assert_eq!(dt("Decimal[12,2]"), Some(DataType::Decimal128(12, 2)));
        assert_eq!(dt("decimal128(38, 0)"), Some(DataType::Decimal128(38, 0)));
        assert_eq!(dt("decimal256(76, 10)"), Some(DataType::Decimal256(76, 10)));
        assert_eq!(dt("decimal"), Some(DataType::Decimal128(38, 18)));
        assert_eq!(
            parse_type("decimal(12, 2)").map(|t| t.name()).as_deref(),
            Some("Decimal")
        );
        assert_eq!(
            parse_type("list<decimal256(40, 2)>").map(|t| t.name()).as_deref(),
            Some("Vec<Decimal>")
        );
        for bad in [
            "decimal128",
            "decimal(12)",
            "decimal(12, 2",
            "decimal(a, 2)",
            "decimal(12, -1)",
        ] {
            assert!(parse_type(bad).is_none(), "{bad}");
            assert_eq!(type_problem(bad), None, "{bad}");
        }
        let problem = |t: &str| (parse_type(t).is_none(), type_problem(t));
        assert_eq!(
            problem("decimal(39, 2)"),
            (
                true,
                Some("decimal(39, 2) has precision 39: a decimal holds 1 to 38 digits".into())
            )
        );
        assert_eq!(
            problem("list<decimal256(0, 0)>"),
            (
                true,
                Some("decimal256(0, 0) has precision 0: a decimal256 holds 1 to 76 digits".into())
            )
        );
        assert_eq!(
            problem("decimal128(5, 6)"),
            (
                true,
                Some("decimal128(5, 6) has scale 6, more digits after the point than its precision 5".into())
            )
        );
    }
}
