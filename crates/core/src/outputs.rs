//! Results: [`Outputs`] of a run and the columns of [`MapOutputs`] of a map.

use std::collections::BTreeMap;

use crate::cache::CacheReport;
use crate::error::{Error, Result, closest};
use crate::exec::ItemFailure;
use crate::value::{TypeInfo, Value};

fn unknown(name: &str, available: impl Iterator<Item = String>) -> Error {
    let available: Vec<String> = available.collect();
    Error::UnknownOutputs {
        suggestion: closest(name, available.iter().map(String::as_str)),
        unknown: vec![name.to_string()],
        available,
    }
}

fn wrong_type<T: Send + Sync + 'static>(name: &str, value: &Value) -> Error {
    Error::OutputType {
        output: name.into(),
        expected: TypeInfo::of::<T>().name().into(),
        found: value.type_name().into(),
    }
}

/// The outputs of one run, by name.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "word_count")]
/// fn count_words(text: &str) -> usize { text.split_whitespace().count() }
///
/// let out = Pipeline::new([count_words::node()]).run(&Inputs::new().with("text", "a b c".to_string()))?;
/// assert_eq!(out.get::<usize>("word_count")?, 3);
/// assert_eq!(
///     out.get::<i64>("word_count").unwrap_err().to_string(),
///     "Output 'word_count' has type usize, not the requested i64"
/// );
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    values: BTreeMap<String, Value>,
    cache: Option<CacheReport>,
}

impl Outputs {
    /// Results from name and value pairs.
    pub fn from_values(values: impl IntoIterator<Item = (String, Value)>) -> Self {
        Outputs {
            values: values.into_iter().collect(),
            cache: None,
        }
    }

    /// These results with what the cache did in the run.
    pub fn with_cache_report(mut self, report: Option<CacheReport>) -> Self {
        self.cache = report;
        self
    }

    /// What the cache did in the run (hits and misses per node, warnings), when the run
    /// had a cache.
    pub fn cache_report(&self) -> Option<&CacheReport> {
        self.cache.as_ref()
    }

    /// A copy of the output `name` as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOutputs`] for a name that is not among the results,
    /// [`Error::OutputType`] when the value is not a `T`.
    pub fn get<T: Clone + Send + Sync + 'static>(&self, name: &str) -> Result<T> {
        self.get_ref::<T>(name).cloned()
    }

    /// Borrows the output `name` as `T`.
    ///
    /// # Errors
    ///
    /// As [`Outputs::get`].
    pub fn get_ref<T: Send + Sync + 'static>(&self, name: &str) -> Result<&T> {
        let value = self.value(name)?;
        value.downcast_ref::<T>().ok_or_else(|| wrong_type::<T>(name, value))
    }

    /// The output `name` as a type-erased [`Value`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOutputs`] for a name that is not among the results.
    pub fn value(&self, name: &str) -> Result<&Value> {
        self.values
            .get(name)
            .ok_or_else(|| unknown(name, self.values.keys().cloned()))
    }

    /// The output names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Name and value pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The number of outputs.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Takes the values out.
    pub fn into_values(self) -> BTreeMap<String, Value> {
        self.values
    }
}

/// The outputs of a map: one column (a `Vec<T>`) per output, in item order.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let p = Pipeline::new([double::node()]);
/// let out = p.map(&Inputs::new().with("x", vec![1_i64, 2, 3]), &["x"], MapMode::Zip)?;
/// assert_eq!(out.column::<i64>("doubled")?, &[2, 4, 6]);
/// assert_eq!(out.item(1)?.get::<i64>("doubled")?, 4);
/// assert_eq!(out.len(), 3);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MapOutputs {
    len: usize,
    columns: BTreeMap<String, Value>,
    /// The number of items mapped, failed ones included.
    items: usize,
    #[doc(hidden)]
    pub failures: Vec<ItemFailure>,
    /// The items a stopped map never started, ascending.
    not_started: Vec<usize>,
    cache: Option<CacheReport>,
}

impl MapOutputs {
    /// Results from columns, each a `Vec` of `len` items.
    pub fn from_columns(len: usize, columns: impl IntoIterator<Item = (String, Value)>) -> Self {
        MapOutputs {
            len,
            columns: columns.into_iter().collect(),
            items: len,
            failures: Vec::new(),
            not_started: Vec::new(),
            cache: None,
        }
    }

    /// These results with what the cache did in the map.
    pub fn with_cache_report(mut self, report: Option<CacheReport>) -> Self {
        self.cache = report;
        self
    }

    /// What the cache did in the map (hits and misses per node, warnings), when the
    /// map had a cache.
    pub fn cache_report(&self) -> Option<&CacheReport> {
        self.cache.as_ref()
    }

    /// These results, of the items that succeeded among `items` items, with the
    /// `failures` of the others (in item order).
    pub fn with_failures(mut self, items: usize, failures: Vec<ItemFailure>) -> Self {
        self.items = items;
        self.failures = failures;
        self
    }

    /// The items that failed under [`OnError::Collect`](crate::OnError::Collect), in
    /// item order: each one's index, node and error. Empty otherwise.
    pub fn failures(&self) -> &[ItemFailure] {
        &self.failures
    }

    /// These results of a map that was stopped (see `MapHandle::stop`) with `items`
    /// never started (ascending): neither among the rows nor the failures.
    pub fn with_not_started(mut self, items: Vec<usize>) -> Self {
        self.not_started = items;
        self
    }

    /// The items of a stopped map that never started, ascending (see `MapHandle::stop`):
    /// they have neither results nor failures. Empty for a map that ran to the end.
    pub fn not_started(&self) -> &[usize] {
        &self.not_started
    }

    /// The map index of each row of the columns: `0..len` when every item succeeded,
    /// else the indices of the items that succeeded, ascending (not those that failed
    /// nor those a stopped map never started).
    pub fn item_indices(&self) -> Vec<usize> {
        let mut failed = self.failures.iter().map(ItemFailure::item).peekable();
        let mut skipped = self.not_started.iter().copied().peekable();
        (0..self.items)
            .filter(|i| failed.next_if_eq(i).is_none() && skipped.next_if_eq(i).is_none())
            .collect()
    }

    /// The number of items with results (all items unless some failed under
    /// [`OnError::Collect`](crate::OnError::Collect)).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map had no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The output names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.keys().map(String::as_str)
    }

    /// The column of output `name`, one `T` per item.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOutputs`] for a name that is not among the results,
    /// [`Error::OutputType`] when the items are not `T`s.
    pub fn column<T: Send + Sync + 'static>(&self, name: &str) -> Result<&[T]> {
        let value = self.column_value(name)?;
        value
            .downcast_ref::<Vec<T>>()
            .map(Vec::as_slice)
            .ok_or_else(|| wrong_type::<Vec<T>>(name, value))
    }

    /// The column of output `name` as a type-erased `Vec` value.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOutputs`] for a name that is not among the results.
    pub fn column_value(&self, name: &str) -> Result<&Value> {
        self.columns
            .get(name)
            .ok_or_else(|| unknown(name, self.columns.keys().cloned()))
    }

    /// The outputs of item `index`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `index` is not below [`len`](MapOutputs::len).
    pub fn item(&self, index: usize) -> Result<MapItem<'_>> {
        if index >= self.len {
            return Err(Error::Invalid(format!(
                "Item {index} is out of range: the map has {} item(s)",
                self.len
            )));
        }
        Ok(MapItem { outputs: self, index })
    }

    /// Each column, by name.
    pub fn into_columns(self) -> BTreeMap<String, Value> {
        self.columns
    }
}

/// The outputs of one item of a map; see [`MapOutputs::item`].
#[derive(Clone, Copy, Debug)]
pub struct MapItem<'a> {
    outputs: &'a MapOutputs,
    index: usize,
}

impl<'a> MapItem<'a> {
    /// Borrows this item's output `name` as `T`.
    ///
    /// # Errors
    ///
    /// As [`MapOutputs::column`].
    pub fn get_ref<T: Send + Sync + 'static>(&self, name: &str) -> Result<&'a T> {
        Ok(&self.outputs.column::<T>(name)?[self.index])
    }

    /// A copy of this item's output `name` as `T`.
    ///
    /// # Errors
    ///
    /// As [`MapOutputs::column`].
    pub fn get<T: Clone + Send + Sync + 'static>(&self, name: &str) -> Result<T> {
        self.get_ref::<T>(name).cloned()
    }
}
