//! The fixed-width columnar types: the integers, `usize` (as `UInt64`), the floats and
//! `bool`.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::builder::{ArrayBuilder, NullBufferBuilder};
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, PrimitiveArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{self as adt, ArrowNativeType, ArrowPrimitiveType, DataType};

use super::Columnar;
use crate::columnar::pool::{self, OutputPool};
use crate::hash::{StableHash, StableHasher};

/// Collects primitive values and their validity (materialized only once a null appears).
pub struct PrimitiveCollector<T> {
    pub(super) values: Vec<T>,
    pub(super) nulls: NullBufferBuilder,
    /// The pool the value buffer came from and goes back to, in a run that keeps them.
    pool: Option<Arc<OutputPool>>,
}

impl<T: ArrowNativeType> PrimitiveCollector<T> {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let (values, pool) = pool::values_with_capacity(capacity);
        PrimitiveCollector {
            values,
            nulls: NullBufferBuilder::new(capacity),
            pool,
        }
    }

    /// The values and their validity, as an array's buffers.
    pub(super) fn finish_buffers(mut self) -> (ScalarBuffer<T>, Option<NullBuffer>)
    where
        T: std::panic::RefUnwindSafe,
    {
        let nulls = self.nulls.finish();
        (pool::into_buffer(self.values, self.pool), nulls)
    }

    #[inline]
    pub(super) fn push(&mut self, v: T) {
        self.values.push(v);
        self.nulls.append_non_null();
    }

    pub(super) fn push_null(&mut self) {
        self.values.push(T::default());
        self.nulls.append_null();
    }

    /// [`Columnar::fill`] of a type stored as `T`: each value converted by `native`,
    /// straight into the value buffer (the primitives' and the temporal types').
    #[inline]
    pub(super) fn fill_with<V, E>(
        &mut self,
        values: impl Iterator<Item = Result<V, E>>,
        native: impl Fn(V) -> T,
    ) -> Result<(), (usize, E)> {
        // `extend` over an iterator of known length writes without capacity checks and
        // keeps the length right if the iterator panics. So it is not cut short, rows
        // after an error are still computed, then dropped.
        let start = self.values.len();
        let mut failed = None;
        self.values.extend(values.enumerate().map(|(row, v)| match v {
            Ok(v) => native(v),
            Err(e) => {
                failed.get_or_insert((row, e));
                T::default()
            }
        }));
        let rows = self.values.len() - start;
        match failed {
            None => {
                self.nulls.append_n_non_nulls(rows);
                Ok(())
            }
            Some((row, e)) => {
                self.values.truncate(start + row);
                self.nulls.append_n_non_nulls(row);
                Err((row, e))
            }
        }
    }
}

macro_rules! primitive {
    ($($rust:ty => $arrow:ty),* $(,)?) => {$(
        impl Columnar for $rust {
            type Array = PrimitiveArray<$arrow>;
            type Builder = PrimitiveCollector<<$arrow as ArrowPrimitiveType>::Native>;

            fn data_type() -> DataType {
                <$arrow as ArrowPrimitiveType>::DATA_TYPE
            }
            fn downcast(array: &dyn Array) -> Option<&Self::Array> {
                array.as_primitive_opt::<$arrow>()
            }
            #[inline]
            fn value(array: &Self::Array, i: usize) -> Self {
                array.values()[i] as $rust
            }
            #[inline]
            fn iter(array: &Self::Array) -> impl Iterator<Item = Self> + '_ {
                array.values().iter().map(|&v| v as $rust)
            }
            #[inline]
            fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
                (array.values()[i] as $rust).stable_hash(h);
                true
            }
            #[inline]
            fn slice(array: &Self::Array, rows: Range<usize>) -> Cow<'_, [Self]> {
                let values = &array.values()[rows];
                // The same bytes (`usize` is `u64` on 64-bit targets): no copy.
                match bytemuck::try_cast_slice(values) {
                    Ok(same) => Cow::Borrowed(same),
                    Err(_) => Cow::Owned(values.iter().map(|&v| v as $rust).collect()),
                }
            }
            fn builder(capacity: usize) -> Self::Builder {
                PrimitiveCollector::with_capacity(capacity)
            }
            #[inline]
            fn append(builder: &mut Self::Builder, value: &Self) {
                builder.push(*value as <$arrow as ArrowPrimitiveType>::Native)
            }
            fn append_null(builder: &mut Self::Builder) {
                builder.push_null()
            }
            #[inline]
            fn append_all(builder: &mut Self::Builder, values: &[Self]) {
                builder.values.extend(values.iter().map(|&v| v as <$arrow as ArrowPrimitiveType>::Native));
                builder.nulls.append_n_non_nulls(values.len());
            }
            fn finish(builder: Self::Builder) -> ArrayRef {
                let (values, nulls) = builder.finish_buffers();
                Arc::new(PrimitiveArray::<$arrow>::new(values, nulls))
            }
            fn builder_len(builder: &Self::Builder) -> usize {
                builder.values.len()
            }
            #[inline]
            fn fill<E>(
                builder: &mut Self::Builder,
                values: impl Iterator<Item = Result<Self, E>>,
            ) -> Result<(), (usize, E)> {
                builder.fill_with(values, |v| v as <$arrow as ArrowPrimitiveType>::Native)
            }
        }
    )*};
}

primitive!(
    i8 => adt::Int8Type, i16 => adt::Int16Type, i32 => adt::Int32Type, i64 => adt::Int64Type,
    u8 => adt::UInt8Type, u16 => adt::UInt16Type, u32 => adt::UInt32Type, u64 => adt::UInt64Type,
    usize => adt::UInt64Type, f32 => adt::Float32Type, f64 => adt::Float64Type,
);

impl Columnar for bool {
    type Array = BooleanArray;
    type Builder = BooleanBuilder;

    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn downcast(array: &dyn Array) -> Option<&Self::Array> {
        array.as_boolean_opt()
    }
    fn value(array: &Self::Array, i: usize) -> Self {
        array.value(i)
    }
    fn digest_row(array: &Self::Array, i: usize, h: &mut StableHasher) -> bool {
        array.value(i).stable_hash(h);
        true
    }
    fn builder(capacity: usize) -> Self::Builder {
        BooleanBuilder::with_capacity(capacity)
    }
    fn append(builder: &mut Self::Builder, value: &Self) {
        builder.append_value(*value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
    fn finish(mut builder: Self::Builder) -> ArrayRef {
        Arc::new(builder.finish())
    }
    fn builder_len(builder: &Self::Builder) -> usize {
        builder.len()
    }
}
