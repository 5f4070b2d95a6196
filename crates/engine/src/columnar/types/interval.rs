//! Arrow's own interval type, `IntervalMonthDayNano` (months, days and nanoseconds, kept
//! apart: a month has no fixed length), as a columnar type: `Interval(MonthDayNano)`,
//! read from `Interval(YearMonth)` and `Interval(DayTime)` columns too (exactly: Arrow's
//! cast keeps every part).
//!
//! hypernodes-core cannot name an Arrow type, so the type has no `StableHash`; it says
//! how its values hash through [`Columnar::value_hasher`] instead: the tag
//! `IntervalMonthDayNano`, then the months (`i32`), days (`i32`) and nanoseconds (`i64`),
//! each as its `StableHash` feeds it.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit};

use super::Columnar;
use super::primitive::PrimitiveCollector;
use crate::hash::{HashFn, StableHasher};

/// Feeds an interval as its Arrow row and its Rust value hash.
fn hash_interval(v: &IntervalMonthDayNano, h: &mut StableHasher) {
    h.tag("IntervalMonthDayNano")
        .value(&v.months)
        .value(&v.days)
        .value(&v.nanoseconds);
}

impl Columnar for IntervalMonthDayNano {
    type Array = PrimitiveArray<IntervalMonthDayNanoType>;
    type Builder = PrimitiveCollector<IntervalMonthDayNano>;

    fn data_type() -> DataType {
        DataType::Interval(IntervalUnit::MonthDayNano)
    }
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array.as_primitive_opt::<IntervalMonthDayNanoType>()
    }
    #[inline]
    fn value(array: &Self::Array, i: usize) -> Self {
        array.values()[i]
    }
    #[inline]
    fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
        array.values().iter().copied()
    }
    #[inline]
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        hash_interval(&array.values()[i], h);
        true
    }
    fn value_hasher() -> Option<HashFn> {
        Some(|v, h| v.downcast_ref::<Self>().map(|v| hash_interval(v, h)).is_some())
    }
    #[inline]
    fn slice(array: &Self::Array, rows: Range<usize>) -> Cow<'_, [Self]> {
        Cow::Borrowed(&array.values()[rows])
    }
    fn builder(capacity: usize) -> Self::Builder {
        PrimitiveCollector::with_capacity(capacity)
    }
    #[inline]
    fn append(builder: &mut Self::Builder, value: &Self) {
        builder.push(*value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.push_null()
    }
    #[inline]
    fn append_all(builder: &mut Self::Builder, values: &[Self]) {
        builder.values.extend_from_slice(values);
        builder.nulls.append_n_non_nulls(values.len());
    }
    fn finish(builder: Self::Builder) -> ArrayRef {
        let (values, nulls) = builder.finish_buffers();
        Arc::new(PrimitiveArray::<IntervalMonthDayNanoType>::new(values, nulls))
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.values.len()
    }
    #[inline]
    fn fill<E>(builder: &mut Self::Builder, values: impl Iterator<Item = Result<Self, E>>) -> Result<(), (usize, E)> {
        builder.fill_with(values, |v| v)
    }
}
