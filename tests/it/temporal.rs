//! Dates, times, timestamps and durations (chrono's types): through nodes on both
//! engines, from Arrow columns of every unit (exactly, or an error naming the row), with
//! cache digests equal between Arrow rows and Rust values, and from a Parquet file
//! through a pipeline file.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Date32Array, Date64Array, DurationNanosecondArray, DurationSecondArray, RecordBatch,
    Time32MillisecondArray, Time64MicrosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{Int32Type, Int64Type};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::types::{ColumnType, Columnar};
use hypernodes::hash::digest;
use hypernodes::prelude::*;

use crate::common::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, min, s).unwrap()
}

#[node(output = "next")]
fn next_day(d: NaiveDate) -> NaiveDate {
    d.succ_opt().expect("not the last day chrono knows")
}

#[node(output = "hour")]
fn hour(ts: DateTime<Utc>) -> i64 {
    i64::from(ts.hour())
}

#[node(output = "later")]
fn later(at: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    at.map(|t| t + TimeDelta::minutes(90))
}

#[node(output = "span")]
fn span(days: Vec<NaiveDate>) -> TimeDelta {
    match (days.first(), days.last()) {
        (Some(first), Some(last)) => *last - *first,
        _ => TimeDelta::zero(),
    }
}

#[node(output = "week")]
fn week(d: NaiveDate) -> Vec<NaiveDate> {
    d.iter_days().take(3).collect()
}

#[node(output = "shifted")]
fn shift(t: NaiveTime, by: TimeDelta) -> NaiveTime {
    t + by
}

engine_test!(
    fn dates_times_timestamps_and_durations_flow_through_nodes(engine) {
        let days = vec![date(2024, 2, 28), date(2024, 2, 29), date(9999, 12, 30)];
        let out = on(&engine, [next_day::node()]).map(&Inputs::new().with("d", days.clone()), &["d"], MapMode::Zip)?;
        assert_eq!(
            out.column::<NaiveDate>("next")?,
            &[date(2024, 2, 29), date(2024, 3, 1), date(9999, 12, 31)]
        );

        let instants = vec![at(2024, 3, 10, 1, 30, 0).and_utc(), at(9999, 12, 31, 23, 59, 59).and_utc()];
        let out = on(&engine, [hour::node()]).map(&Inputs::new().with("ts", instants), &["ts"], MapMode::Zip)?;
        assert_eq!(out.column::<i64>("hour")?, &[1, 23]);

        let maybe = vec![Some(at(2024, 12, 31, 23, 0, 0)), None, Some(at(1969, 12, 31, 23, 59, 59))];
        let out = on(&engine, [later::node()]).map(&Inputs::new().with("at", maybe), &["at"], MapMode::Zip)?;
        assert_eq!(
            out.column::<Option<NaiveDateTime>>("later")?,
            &[Some(at(2025, 1, 1, 0, 30, 0)), None, Some(at(1970, 1, 1, 1, 29, 59))]
        );

        let lists = vec![vec![date(2024, 1, 1), date(2024, 3, 1)], vec![], vec![date(2000, 1, 1)]];
        let out = on(&engine, [span::node()]).map(&Inputs::new().with("days", lists), &["days"], MapMode::Zip)?;
        assert_eq!(
            out.column::<TimeDelta>("span")?,
            &[TimeDelta::days(60), TimeDelta::zero(), TimeDelta::zero()]
        );

        let out = on(&engine, [week::node()]).map(&Inputs::new().with("d", days), &["d"], MapMode::Zip)?;
        assert_eq!(
            out.column::<Vec<NaiveDate>>("week")?[1],
            [date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 2)]
        );

        let times = vec![NaiveTime::from_hms_opt(23, 0, 0).unwrap(), NaiveTime::from_hms_nano_opt(0, 0, 0, 5).unwrap()];
        let inputs = Inputs::new().with("t", times).with("by", TimeDelta::minutes(90));
        let out = on(&engine, [shift::node()]).map(&inputs, &["t"], MapMode::Zip)?;
        assert_eq!(
            out.column::<NaiveTime>("shifted")?,
            &[
                NaiveTime::from_hms_opt(0, 30, 0).unwrap(),
                NaiveTime::from_hms_nano_opt(1, 30, 0, 5).unwrap()
            ]
        );
    }
);

// ---------------------------------------------------------------------------------------
// Arrow columns of every unit.

#[node(output = "micros")]
fn micros(ts: NaiveDateTime) -> i64 {
    ts.and_utc().timestamp_micros()
}

#[node(output = "utc_micros")]
fn utc_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

#[node(output = "day_number")]
fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

#[node(output = "nanos")]
fn nanos_of_day(t: NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond())
}

#[node(output = "wait_micros")]
fn wait_micros(wait: TimeDelta) -> i64 {
    wait.num_microseconds().expect("in range")
}

fn batch(name: &str, array: ArrayRef) -> RecordBatch {
    RecordBatch::try_from_iter([(name, array)]).unwrap()
}

/// The `Int64` output `output` of `node` over a batch of column `name`, on the columnar
/// engine, checked equal to the node engine's.
fn ints(node: Node, name: &str, array: ArrayRef, output: &str) -> Vec<Option<i64>> {
    let p = Pipeline::new([node]);
    let b = batch(name, array);
    let out = ColumnarEngine::new().apply_to_batch(&p, &b).unwrap();
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &b).unwrap();
    assert_eq!(out, by_rows);
    out.column_by_name(output)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

#[test]
fn timestamp_columns_of_every_unit_and_zone_are_read_exactly() {
    assert_eq!(
        ints(
            micros::node(),
            "ts",
            Arc::new(TimestampSecondArray::from(vec![1, -2])),
            "micros"
        ),
        [Some(1_000_000), Some(-2_000_000)]
    );
    assert_eq!(
        ints(
            micros::node(),
            "ts",
            Arc::new(TimestampMillisecondArray::from(vec![3])),
            "micros"
        ),
        [Some(3_000)]
    );
    assert_eq!(
        ints(
            micros::node(),
            "ts",
            Arc::new(TimestampMicrosecondArray::from(vec![253_402_300_799_000_000])),
            "micros"
        ),
        [Some(253_402_300_799_000_000)]
    );
    assert_eq!(
        ints(
            micros::node(),
            "ts",
            Arc::new(TimestampNanosecondArray::from(vec![5_000, -6_000])),
            "micros"
        ),
        [Some(5), Some(-6)]
    );
    // A zoned column: the same instants, whatever the zone.
    let zoned = TimestampNanosecondArray::from(vec![7_000]).with_timezone("America/New_York");
    assert_eq!(
        ints(utc_micros::node(), "at", Arc::new(zoned.clone()), "utc_micros"),
        [Some(7)]
    );
    assert_eq!(ints(micros::node(), "ts", Arc::new(zoned), "micros"), [Some(7)]);
    let naive_s = TimestampSecondArray::from(vec![8]);
    assert_eq!(
        ints(utc_micros::node(), "at", Arc::new(naive_s), "utc_micros"),
        [Some(8_000_000)]
    );
}

#[test]
fn time_and_duration_columns_of_every_unit() {
    assert_eq!(
        ints(
            nanos_of_day::node(),
            "t",
            Arc::new(Time32MillisecondArray::from(vec![1_500])),
            "nanos"
        ),
        [Some(1_500_000_000)]
    );
    assert_eq!(
        ints(
            nanos_of_day::node(),
            "t",
            Arc::new(Time64MicrosecondArray::from(vec![86_399_999_999])),
            "nanos"
        ),
        [Some(86_399_999_999_000)]
    );
    assert_eq!(
        ints(
            wait_micros::node(),
            "wait",
            Arc::new(DurationSecondArray::from(vec![-3])),
            "wait_micros"
        ),
        [Some(-3_000_000)]
    );
    assert_eq!(
        ints(
            wait_micros::node(),
            "wait",
            Arc::new(DurationNanosecondArray::from(vec![4_000])),
            "wait_micros"
        ),
        [Some(4)]
    );
}

#[test]
fn date_columns_read_date64_in_whole_days() {
    let p = Pipeline::new([day_number::node()]);
    let days: ArrayRef = Arc::new(Date64Array::from(vec![0, 86_400_000 * 365]));
    let out = ColumnarEngine::new().apply_to_batch(&p, &batch("d", days)).unwrap();
    assert_eq!(
        out.column_by_name("day_number")
            .unwrap()
            .as_primitive::<Int32Type>()
            .values(),
        &[719_163, 719_528]
    );
    let days: ArrayRef = Arc::new(Date32Array::from(vec![-719_162]));
    let out = ColumnarEngine::new().apply_to_batch(&p, &batch("d", days)).unwrap();
    assert_eq!(
        out.column_by_name("day_number")
            .unwrap()
            .as_primitive::<Int32Type>()
            .values(),
        &[1]
    );
}

#[test]
fn a_fraction_of_the_unit_read_in_is_an_error_naming_the_column_and_the_row() {
    let p = Pipeline::new([micros::node()]);
    let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_000, 1_001]));
    let message = "Node 'micros' failed on item 1: column 'ts' holds 1970-01-01T00:00:00.000001001, which is not a \
                   whole microsecond (timestamps are read in microseconds)";
    let err = ColumnarEngine::new()
        .apply_to_batch(&p, &batch("ts", ns.clone()))
        .unwrap_err();
    assert_eq!(err.to_string(), message);
    let err = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &batch("ts", ns.clone())).unwrap_err();
    assert_eq!(err.to_string(), message);
    // Rows count across batches.
    let whole: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000]));
    let err = ColumnarEngine::new()
        .apply_to_batches(&p, &[batch("ts", whole), batch("ts", ns)])
        .unwrap_err();
    assert_eq!(err.to_string(), message.replace("item 1", "item 3"));

    let p = Pipeline::new([day_number::node()]);
    let days: ArrayRef = Arc::new(Date64Array::from(vec![0, 86_400_001]));
    let err = ColumnarEngine::new().apply_to_batch(&p, &batch("d", days)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'day_number' failed on item 1: column 'd' holds 1970-01-02T00:00:00.001 (a Date64), which is not a \
         whole day (dates are read in days)"
    );
    assert!(matches!(err, Error::NodeFailed { item: Some(1), .. }));
}

// ---------------------------------------------------------------------------------------
// Cache digests.

/// Each Arrow row's digest equals the digest of its value made in Rust.
fn digests_match<T: Columnar + Clone + std::fmt::Debug>(values: Vec<T>) -> Vec<[u8; 32]> {
    let ct = ColumnType::of::<T>();
    let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
    let mut rows = Vec::new();
    assert!((ct.digest_rows)(array.as_ref(), &mut rows), "{values:?}");
    for (v, d) in values.iter().zip(&rows) {
        assert_eq!(digest(&Value::new(v.clone())), Some(*d), "{v:?}");
    }
    rows
}

#[test]
fn rows_from_arrow_and_rust_values_have_one_digest_apart_from_integers() {
    let rows = digests_match(vec![date(1970, 1, 2), date(9999, 12, 31)]);
    assert_ne!(Some(rows[0]), digest(&Value::new(1_i32)));
    // A column made elsewhere reads the same.
    let mut foreign = Vec::new();
    assert!((ColumnType::of::<NaiveDate>().digest_rows)(
        &Date32Array::from(vec![1]),
        &mut foreign
    ));
    assert_eq!(foreign, rows[..1]);

    let rows = digests_match(vec![NaiveTime::from_hms_nano_opt(0, 0, 0, 1).unwrap()]);
    assert_ne!(Some(rows[0]), digest(&Value::new(1_i64)));
    let rows = digests_match(vec![DateTime::from_timestamp_micros(1).unwrap().naive_utc()]);
    assert_ne!(Some(rows[0]), digest(&Value::new(1_i64)));
    let utc = digests_match(vec![DateTime::from_timestamp_micros(1).unwrap()]);
    assert_ne!(utc, rows);
    let rows = digests_match(vec![TimeDelta::microseconds(1)]);
    assert_ne!(Some(rows[0]), digest(&Value::new(1_i64)));

    digests_match(vec![Some(at(2024, 1, 1, 0, 0, 0)), None]);
    digests_match(vec![
        vec![date(2024, 1, 1)],
        vec![],
        vec![date(1, 1, 1), date(-5, 3, 1)],
    ]);
    digests_match(vec![Some(vec![TimeDelta::seconds(-1)]), None]);
}

// ---------------------------------------------------------------------------------------
// A Parquet file through a pipeline file.

mod files {
    use arrow::datatypes::{DataType, Date32Type, Field, Schema, TimeUnit};
    use hypernodes::spec::{Registry, load};

    use super::*;
    use crate::parquet::{TempDir, run_pipeline_file};

    /// The UTC wall clock of an instant, read as a `NaiveDateTime` from a zoned column.
    #[node(output = "clock")]
    fn wall_clock(at: Option<NaiveDateTime>) -> Option<String> {
        at.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
    }

    #[node(output = "weekday")]
    fn weekday(day: NaiveDate) -> String {
        day.weekday().to_string()
    }

    const PIPELINE: &str = r#"
[inputs]
ts = "timestamp[us, UTC]"
day = "date"

[[nodes]]
function = "wall_clock"
inputs = { at = "ts" }

[[nodes]]
function = "weekday"

[[nodes]]
name = "next_week"
sql = "day + INTERVAL '7 days'"
"#;

    /// `ts` (`Timestamp(µs, "UTC")`, with a null) and `day` (`Date32`).
    fn input() -> RecordBatch {
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let schema = Schema::new(vec![
            Field::new("ts", utc, true),
            Field::new("day", DataType::Date32, false),
        ]);
        let ts = TimestampMicrosecondArray::from(vec![
            Some(at(2024, 3, 10, 1, 30, 0).and_utc().timestamp_micros()),
            None,
            Some(at(9999, 12, 31, 23, 59, 59).and_utc().timestamp_micros()),
        ])
        .with_timezone("UTC");
        let days = Date32Array::from(vec![
            date(2024, 2, 28).to_epoch_days(),
            date(2024, 12, 31).to_epoch_days(),
            date(9999, 12, 24).to_epoch_days(),
        ]);
        RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(ts), Arc::new(days)]).unwrap()
    }

    engine_test!(
        fn a_parquet_file_of_timestamps_and_dates_through_a_pipeline_file(engine) {
            let mut registry = Registry::new();
            registry.register(wall_clock::node()).register(weekday::node());
            let select = ["clock", "weekday", "next_week"];
            let (pipeline, out) = run_pipeline_file(&engine, "temporal", PIPELINE, &registry, &input(), &select)?;
            assert_eq!(pipeline.output_type("next_week").unwrap().name(), "NaiveDate");
            let clock: Vec<Option<&str>> = out.column(0).as_string::<i32>().iter().collect();
            assert_eq!(clock, [Some("2024-03-10 01:30"), None, Some("9999-12-31 23:59")]);
            let weekdays: Vec<Option<&str>> = out.column(1).as_string::<i32>().iter().collect();
            assert_eq!(weekdays, [Some("Wed"), Some("Tue"), Some("Fri")]);
            assert_eq!(out.column(2).data_type(), &DataType::Date32);
            let next: Vec<i32> = out.column(2).as_primitive::<Date32Type>().values().to_vec();
            let expected: Vec<i32> = [date(2024, 3, 6), date(2025, 1, 7), date(9999, 12, 31)]
                .iter()
                .map(|d| d.to_epoch_days())
                .collect();
            assert_eq!(next, expected);
        }
    );

    #[test]
    fn declared_temporal_types_name_the_choices_when_unknown() {
        let dir = TempDir::new("temporal-unknown-type");
        let path = dir.join("p.toml");
        std::fs::write(
            &path,
            "[inputs]\nts = \"timestamp[minutes]\"\n\n[[nodes]]\nname = \"n\"\nsql = \"ts\"\n",
        )
        .unwrap();
        let err = load(&path, &Registry::new(), None).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:2: input 'ts': unknown type 'timestamp[minutes]'. Types: string, bool, i8, i16, i32, i64, u8, \
                 u16, u32, u64, f32, f64, date, time, timestamp, timestamp[s|ms|us|ns], timestamp[UNIT, ZONE], \
                 duration[s|ms|us|ns], interval, decimal, decimal(P, S), decimal128(P, S), decimal256(P, S), binary, fixed_binary[N], list<T>, list<T; N>, map<string, T>",
                path.display()
            )
        );
    }
}
