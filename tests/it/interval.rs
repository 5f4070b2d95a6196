//! Intervals: Arrow's `IntervalMonthDayNano` through nodes on both engines, read from
//! `Interval(YearMonth)` and `Interval(DayTime)` columns, with cache digests equal
//! between Arrow rows and Rust values, and from a Parquet file through a pipeline file.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, IntervalDayTimeArray, IntervalMonthDayNanoArray, IntervalYearMonthArray, RecordBatch,
};
use arrow::datatypes::{Int64Type, IntervalDayTime, IntervalMonthDayNano};
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::types::{ColumnType, columnar_type_info};
use hypernodes::hash::{digest, digest_as};
use hypernodes::prelude::*;

use crate::common::*;

fn interval(months: i32, days: i32, nanoseconds: i64) -> IntervalMonthDayNano {
    IntervalMonthDayNano::new(months, days, nanoseconds)
}

#[node(output = "longer")]
fn add_month(wait: IntervalMonthDayNano) -> IntervalMonthDayNano {
    interval(wait.months + 1, wait.days, wait.nanoseconds)
}

/// The interval's length in hours, taking a month as 30 days.
#[node(output = "hours")]
fn hours(wait: Option<IntervalMonthDayNano>) -> Option<i64> {
    wait.map(|w| i64::from(w.months) * 720 + i64::from(w.days) * 24 + w.nanoseconds / 3_600_000_000_000)
}

engine_test!(
    fn intervals_flow_through_nodes(engine) {
        let waits = vec![interval(0, 1, 2), interval(-1, 0, 0)];
        let out = on(&engine, [add_month::node()]).map(&Inputs::new().with("wait", waits), &["wait"], MapMode::Zip)?;
        assert_eq!(out.column::<IntervalMonthDayNano>("longer")?, &[interval(1, 1, 2), interval(0, 0, 0)]);
        let waits = vec![Some(interval(1, 1, 3_600_000_000_000)), None];
        let out = on(&engine, [hours::node()]).map(&Inputs::new().with("wait", waits), &["wait"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<i64>>("hours")?, &[Some(745), None]);
    }
);

/// The `hours` of a column `wait`, on the columnar engine, checked equal to the node
/// engine's.
fn hours_of(array: ArrayRef) -> Vec<Option<i64>> {
    let p = Pipeline::new([hours::node()]);
    let b = RecordBatch::try_from_iter([("wait", array)]).unwrap();
    let out = ColumnarEngine::new().apply_to_batch(&p, &b).unwrap();
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &b).unwrap();
    assert_eq!(out, by_rows);
    out.column_by_name("hours")
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

#[test]
fn interval_columns_of_every_unit_are_read_exactly() {
    assert_eq!(
        hours_of(Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(interval(0, 2, 0)),
            None
        ]))),
        [Some(48), None]
    );
    assert_eq!(
        hours_of(Arc::new(IntervalYearMonthArray::from(vec![14]))),
        [Some(14 * 720)]
    );
    let day_time = IntervalDayTimeArray::from(vec![IntervalDayTime::new(1, 7_200_000)]);
    assert_eq!(hours_of(Arc::new(day_time)), [Some(26)]);
}

#[test]
fn interval_rows_digest_as_their_values() {
    let values = vec![interval(1, 2, 3), interval(0, 0, -1)];
    let ct = ColumnType::of::<IntervalMonthDayNano>();
    let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
    let mut rows = Vec::new();
    assert!((ct.digest_rows)(array.as_ref(), &mut rows));
    // The type as a node's parameter, or as a pipeline file's input, says how to hash.
    let param = add_month::node().params()[0].type_info();
    for ty in [param, columnar_type_info::<IntervalMonthDayNano>()] {
        assert_eq!(digest_as(&Value::new(values[0]), &ty), Some(rows[0]));
        assert_eq!(digest_as(&Value::new(values[1]), &ty), Some(rows[1]));
    }
    let options = columnar_type_info::<Option<IntervalMonthDayNano>>();
    let mut rows = Vec::new();
    let nullable = IntervalMonthDayNanoArray::from(vec![Some(values[0]), None]);
    assert!((ColumnType::of::<Option<IntervalMonthDayNano>>().digest_rows)(
        &nullable, &mut rows
    ));
    assert_eq!(digest_as(&Value::new(Some(values[0])), &options), Some(rows[0]));
    assert_eq!(
        digest_as(&Value::new(None::<IntervalMonthDayNano>), &options),
        Some(rows[1])
    );
    // Apart from the numbers of its parts.
    let parts = hypernodes::hash::StableHasher::new()
        .value(&(1_i32, 2_i32, 3_i64))
        .finish();
    assert_ne!(parts, rows[0]);
    // A value described without its node (`TypeInfo::of`) has no hash: it is not cached.
    assert_eq!(digest(&Value::new(values[0])), None);
}

mod files {
    use arrow::datatypes::{DataType, Field, IntervalUnit, Schema};
    use hypernodes::spec::Registry;

    use super::*;
    use crate::parquet::run_pipeline_file;

    const PIPELINE: &str = r#"
[inputs]
wait = "interval"

[[nodes]]
function = "hours"
"#;

    engine_test!(
        fn a_parquet_file_of_intervals_through_a_pipeline_file(engine) {
            // Parquet stores days and milliseconds (and months): `Interval(DayTime)`.
            let schema = Schema::new(vec![Field::new("wait", DataType::Interval(IntervalUnit::DayTime), true)]);
            let wait = IntervalDayTimeArray::from(vec![Some(IntervalDayTime::new(2, 3_600_000)), None]);
            let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(wait)]).unwrap();
            let mut registry = Registry::new();
            registry.register(hours::node());
            let (_, out) = run_pipeline_file(&engine, "interval", PIPELINE, &registry, &batch, &["wait", "hours"])?;
            assert_eq!(out.column(0).data_type(), &DataType::Interval(IntervalUnit::DayTime));
            let hours: Vec<Option<i64>> = out.column(1).as_primitive::<Int64Type>().iter().collect();
            assert_eq!(hours, [Some(49), None]);
        }
    );
}
