//! The type names a pipeline file declares its inputs with, and the values it binds.

use arrow::datatypes::{DataType, Field};

use crate::engine::columnar::types::{columnar_type_info, type_info_for};
use crate::value::{TypeInfo, Value};

/// The type names [`parse_type`] knows, for messages.
pub(super) const TYPE_NAMES: &str = "string, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, list<T>";

/// A declared type: `string`, `i64`, `list<string>`, ... (Arrow names work too).
pub(super) fn parse_type(text: &str) -> Option<TypeInfo> {
    fn data_type(t: &str) -> Option<DataType> {
        let t = t.trim().to_ascii_lowercase();
        if let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            return Some(DataType::List(std::sync::Arc::new(Field::new_list_field(
                data_type(inner)?,
                true,
            ))));
        }
        Some(match t.as_str() {
            "string" | "str" | "utf8" | "text" => DataType::Utf8,
            "bool" | "boolean" => DataType::Boolean,
            "i8" | "int8" => DataType::Int8,
            "i16" | "int16" => DataType::Int16,
            "i32" | "int32" => DataType::Int32,
            "i64" | "int64" => DataType::Int64,
            "u8" | "uint8" => DataType::UInt8,
            "u16" | "uint16" => DataType::UInt16,
            "u32" | "uint32" => DataType::UInt32,
            "u64" | "uint64" => DataType::UInt64,
            "f32" | "float32" => DataType::Float32,
            "f64" | "float64" | "double" => DataType::Float64,
            _ => return None,
        })
    }
    type_info_for(&data_type(text)?)
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
