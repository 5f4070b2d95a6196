//! The typed data set (`events_N`, the data of workload W8): one column of each kind of
//! Arrow type ETL data is made of, with nulls.
//!
//! | column | Arrow type | content |
//! |---|---|---|
//! | `id` | Int64 | `0..N-1`, in order |
//! | `ts` | `Timestamp(µs, "UTC")` | uniform over the 366 days from 2024-01-01T00:00:00Z, whole microseconds |
//! | `day` | Date32, nullable | the UTC date of `ts`; null with probability 0.05 |
//! | `amount` | `Decimal128(12, 2)` | uniform in 0.01 ..= 99,999.99 |
//! | `category` | `Dictionary(Int32, Utf8)` | one of 12 spellings of 4 categories (`"Books"`, `" books"`, `"BOOKS "`, ...), uniform |
//! | `note` | Utf8, nullable | null with probability 0.3, else 1..=6 words from `w0000`..`w0999` |
//! | `uid` | `FixedSizeBinary(16)` | 16 random bytes |
//! | `embedding` | `FixedSizeList(Float32, 8)` | 8 floats uniform in `[-1, 1)` |
//!
//! CSV holds the first six columns (the dictionary as its strings), NDJSON the first
//! six too; Parquet and Arrow hold all eight.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, DictionaryArray, FixedSizeBinaryArray, FixedSizeListArray, Float32Array,
    Int32Array, Int64Array, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::BLOCK_ROWS;

/// The spellings the `category` column's dictionary holds: four categories, each as
/// written by a tidy, a careless and a shouting source.
pub const CATEGORIES: [&str; 12] = [
    "Books",
    " books",
    "BOOKS ",
    "Home & Garden",
    "home & garden ",
    " HOME & GARDEN",
    "Electronics",
    "electronics  ",
    "ELECTRONICS",
    "Toys",
    "  toys",
    "TOYS",
];

/// 2024-01-01T00:00:00Z in microseconds since the epoch.
const START_MICROS: i64 = 1_704_067_200_000_000;
/// The span of `ts`: 366 days (2024 is a leap year).
const SPAN_MICROS: i64 = 366 * 86_400 * 1_000_000;
/// The width of `embedding`.
pub const EMBEDDING_WIDTH: i32 = 8;

/// The schema of the typed data set.
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("day", DataType::Date32, true),
        Field::new("amount", DataType::Decimal128(12, 2), false),
        Field::new(
            "category",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("note", DataType::Utf8, true),
        Field::new("uid", DataType::FixedSizeBinary(16), false),
        Field::new(
            "embedding",
            DataType::FixedSizeList(
                Arc::new(Field::new_list_field(DataType::Float32, false)),
                EMBEDDING_WIDTH,
            ),
            false,
        ),
    ]))
}

/// Rows `block * BLOCK_ROWS ..` of the typed data set, at most `BLOCK_ROWS` of them,
/// stopping at `rows` in all (as [`docs_block`](super::docs_block)).
///
/// # Examples
///
/// ```
/// use arrow::array::{Array, AsArray};
/// use arrow::datatypes::Decimal128Type;
/// use hypernodes::datagen::events_block;
///
/// let batch = events_block(4, 42, 0);
/// assert_eq!(batch.num_rows(), 4);
/// let amount = batch.column_by_name("amount").unwrap().as_primitive::<Decimal128Type>();
/// assert!(amount.values().iter().all(|&cents| (1..=9_999_999).contains(&cents)));
/// assert_eq!(events_block(4, 42, 0), batch); // deterministic
/// ```
pub fn events_block(rows: usize, seed: u64, block: usize) -> RecordBatch {
    let start = block * BLOCK_ROWS;
    let n = rows.saturating_sub(start).min(BLOCK_ROWS);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(block as u64);

    let mut ts = Vec::with_capacity(n);
    let mut days = Vec::with_capacity(n);
    let mut amounts = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut notes = StringBuilder::with_capacity(n, n * 12);
    let mut uids = Vec::with_capacity(n * 16);
    let mut embedding = Vec::with_capacity(n * EMBEDDING_WIDTH as usize);
    let mut text = String::with_capacity(64);
    for _ in 0..n {
        let t = START_MICROS + rng.random_range(0..SPAN_MICROS);
        ts.push(t);
        let day = t.div_euclid(86_400 * 1_000_000) as i32;
        days.push((!rng.random_bool(0.05)).then_some(day));
        amounts.push(rng.random_range(1..=9_999_999_i128));
        keys.push(rng.random_range(0..CATEGORIES.len() as i32));
        if rng.random_bool(0.3) {
            notes.append_null();
        } else {
            text.clear();
            for w in 0..rng.random_range(1..=6) {
                if w > 0 {
                    text.push(' ');
                }
                let _ = write!(text, "w{:04}", rng.random_range(0..1000));
            }
            notes.append_value(&text);
        }
        uids.extend((0..16).map(|_| rng.random::<u8>()));
        embedding.extend((0..EMBEDDING_WIDTH).map(|_| rng.random_range(-1.0_f32..1.0)));
    }
    let category = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from(keys),
        Arc::new(StringArray::from_iter_values(CATEGORIES)),
    )
    .expect("keys index the dictionary");
    let embedding = FixedSizeListArray::new(
        Arc::new(Field::new_list_field(DataType::Float32, false)),
        EMBEDDING_WIDTH,
        Arc::new(Float32Array::from(embedding)),
        None,
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(start as i64..(start + n) as i64)),
        Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
        Arc::new(Date32Array::from(days)),
        Arc::new(
            Decimal128Array::from(amounts)
                .with_precision_and_scale(12, 2)
                .expect("a valid decimal type"),
        ),
        Arc::new(category),
        Arc::new(notes.finish()),
        Arc::new(FixedSizeBinaryArray::try_from_iter(uids.chunks_exact(16)).expect("16 bytes each")),
        Arc::new(embedding),
    ];
    RecordBatch::try_new(events_schema(), columns).expect("columns match the schema")
}
