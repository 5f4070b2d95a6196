//! [`Inputs`]: the named values a run starts from.

use std::collections::BTreeMap;

use crate::value::Value;

/// Named input values for a run or a map, and the values bound to a pipeline.
///
/// Any `Send + Sync + 'static` type can be given. Integer literals need their type
/// (`5_i64`): a node reading an `i64` rejects an `i32` with an error naming both types.
///
/// # Examples
///
/// ```
/// use hypernodes::{Inputs, Value};
///
/// let inputs = Inputs::new()
///     .with("x", 5_i64)
///     .with("text", "hello".to_string())
///     .with_value("model", Value::lazy(|| vec![0.5_f32; 4]));
/// assert_eq!(inputs.names().collect::<Vec<_>>(), ["model", "text", "x"]);
/// assert_eq!(inputs.get("x").and_then(|v| v.downcast_ref::<i64>()), Some(&5));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    values: BTreeMap<String, Value>,
}

impl Inputs {
    /// No inputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an input.
    pub fn with<T: Send + Sync + 'static>(self, name: impl Into<String>, value: T) -> Self {
        self.with_value(name, Value::new(value))
    }

    /// Adds (or replaces) an input given as a [`Value`] (for example a lazy resource).
    pub fn with_value(mut self, name: impl Into<String>, value: Value) -> Self {
        self.insert_value(name, value);
        self
    }

    /// Inserts (or replaces) an input.
    pub fn insert<T: Send + Sync + 'static>(&mut self, name: impl Into<String>, value: T) {
        self.insert_value(name, Value::new(value));
    }

    /// Inserts (or replaces) an input given as a [`Value`].
    pub fn insert_value(&mut self, name: impl Into<String>, value: Value) {
        self.values.insert(name.into(), value);
    }

    /// Removes an input, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.values.remove(name)
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Whether an input named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Name and value pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of inputs.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// These inputs, overridden by `other` where both have a name.
    pub fn merged(&self, other: &Inputs) -> Inputs {
        let mut values = self.values.clone();
        values.extend(other.values.iter().map(|(k, v)| (k.clone(), v.clone())));
        Inputs { values }
    }
}

impl<S: Into<String>> FromIterator<(S, Value)> for Inputs {
    fn from_iter<I: IntoIterator<Item = (S, Value)>>(iter: I) -> Self {
        Inputs {
            values: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}
