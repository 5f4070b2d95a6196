//! Pipelines over Polars `DataFrame`s and `LazyFrame`s (feature `polars`): outputs,
//! chunks, every Polars type through and into nodes, nulls, and the errors.

use std::sync::Arc;

use ::polars::prelude::{
    DataFrame, DataType as PolarsType, IntoColumn, IntoLazy, IntoSeries, LazyFrame, NamedFrom, Series, col, lit,
};
use hypernodes::prelude::*;
use hypernodes::{ColumnarEngine, Engine, columnar_struct};
use serde::{Deserialize, Serialize};

use crate::common::*;

/// `frame` through `pipeline` on `engine` (`apply_to_polars_on`); on the columnar
/// engine also through `apply_to_polars`, which must give the same frame or error.
fn apply(engine: &Arc<dyn Engine>, pipeline: &Pipeline, frame: &DataFrame) -> hypernodes::Result<DataFrame> {
    let on = ColumnarEngine::apply_to_polars_on(engine.clone(), pipeline, frame);
    if engine.name() == "columnar" {
        match (&on, ColumnarEngine::new().apply_to_polars(pipeline, frame)) {
            (Ok(on), Ok(direct)) => assert!(on.equals_missing(&direct), "{on}\n{direct}"),
            (Err(on), Err(direct)) => assert_eq!(on.to_string(), direct.to_string()),
            (on, direct) => panic!("apply_to_polars_on: {on:?}, apply_to_polars: {direct:?}"),
        }
    }
    on
}

/// `frame` through `pipeline` on `engine`, lazily (`apply_to_lazy_on`; on the columnar
/// engine, `apply_to_lazy` too, which must plan the same schema).
fn apply_lazy(engine: &Arc<dyn Engine>, pipeline: &Pipeline, frame: LazyFrame) -> hypernodes::Result<LazyFrame> {
    let on = ColumnarEngine::apply_to_lazy_on(engine.clone(), pipeline, frame.clone());
    if engine.name() == "columnar" {
        match (&on, ColumnarEngine::new().apply_to_lazy(pipeline, frame)) {
            (Ok(on), Ok(mut direct)) => {
                assert_eq!(on.clone().collect_schema().unwrap(), direct.collect_schema().unwrap())
            }
            (Err(on), Err(direct)) => assert_eq!(on.to_string(), direct.to_string()),
            (on, direct) => panic!(
                "apply_to_lazy_on: {:?}, apply_to_lazy: {:?}",
                on.is_ok(),
                direct.is_ok()
            ),
        }
    }
    on
}

fn i64s(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
    frame.column(name).unwrap().i64().unwrap().to_vec()
}

fn u64s(frame: &DataFrame, name: &str) -> Vec<Option<u64>> {
    frame.column(name).unwrap().u64().unwrap().to_vec()
}

fn strs(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
    let column = frame.column(name).unwrap().str().unwrap();
    column.iter().map(|s| s.map(String::from)).collect()
}

/// A frame of `parts` stacked: one chunk per part.
fn chunked(parts: &[DataFrame]) -> DataFrame {
    let mut frame = parts[0].clone();
    for part in &parts[1..] {
        frame.vstack_mut(part).unwrap();
    }
    frame
}

fn w1_frame(xs: std::ops::Range<i64>) -> DataFrame {
    let labels: Vec<String> = xs.clone().map(|x| format!("row {x}")).collect();
    ::polars::df!("x" => xs.collect::<Vec<_>>(), "label" => labels).unwrap()
}

engine_test!(
    fn w1_adds_its_outputs_to_a_data_frame(engine) {
        let frame = w1_frame(0..4);
        let out = apply(&engine, &on(&engine, w1()), &frame)?;
        assert_eq!(out.get_column_names(), ["x", "label", "doubled", "incremented", "squared"]);
        assert!(out.select(["x", "label"]).unwrap().equals_missing(&frame));
        assert_eq!(i64s(&out, "doubled"), [Some(0), Some(2), Some(4), Some(6)]);
        assert_eq!(i64s(&out, "incremented"), [Some(1), Some(3), Some(5), Some(7)]);
        assert_eq!(i64s(&out, "squared"), [Some(1), Some(9), Some(25), Some(49)]);
    }
);

engine_test!(
    fn an_empty_frame_gets_empty_outputs_of_their_types(engine) {
        let out = apply(&engine, &on(&engine, w2()), &::polars::df!("passage" => Vec::<String>::new()).unwrap())?;
        assert_eq!(out.height(), 0);
        let types: Vec<(&str, &PolarsType)> = out.columns().iter().map(|c| (c.name().as_str(), c.dtype())).collect();
        assert_eq!(
            types,
            [
                ("passage", &PolarsType::String),
                ("char_count", &PolarsType::UInt64),
                ("cleaned_text", &PolarsType::String),
                ("word_count", &PolarsType::UInt64)
            ]
        );
    }
);

engine_test!(
    fn w2_reads_polars_strings(engine) {
        let frame = ::polars::df!("passage" => ["  Hello World ", "One two THREE", "", "Ünï  Çödé"]).unwrap();
        assert_eq!(frame.column("passage").unwrap().dtype(), &PolarsType::String);
        let out = apply(&engine, &on(&engine, w2()), &frame)?;
        assert_eq!(out.get_column_names(), ["passage", "char_count", "cleaned_text", "word_count"]);
        assert!(out.select(["passage"]).unwrap().equals_missing(&frame));
        let cleaned = ["hello world", "one two three", "", "ünï  çödé"];
        assert_eq!(strs(&out, "cleaned_text"), cleaned.map(|s| Some(s.to_string())));
        assert_eq!(u64s(&out, "word_count"), [Some(2), Some(3), Some(0), Some(2)]);
        assert_eq!(u64s(&out, "char_count"), [Some(11), Some(13), Some(0), Some(9)]);
    }
);

engine_test!(
    fn a_frame_of_several_chunks_gives_the_one_chunk_result_in_order(engine) {
        let p = on(&engine, w1());
        let frame = chunked(&[w1_frame(0..3), w1_frame(3..4), w1_frame(4..9)]);
        assert_eq!(frame.first_col_n_chunks(), 3);
        let out = apply(&engine, &p, &frame)?;
        let one = apply(&engine, &p, &frame.clone().rechunk_mut().clone())?;
        assert!(out.equals_missing(&one));
        assert_eq!(i64s(&out, "squared"), (0..9).map(|x| Some((2 * x + 1) * (2 * x + 1))).collect::<Vec<_>>());
        assert!(out.select(["x", "label"]).unwrap().equals_missing(&frame));

        // Chunks that do not line up across columns: the pipeline reads `x` (3 chunks)
        // and `passage` (1 chunk).
        let passages = Series::new("passage".into(), (0..9).map(|i| format!(" W{i} ")).collect::<Vec<_>>());
        let mixed = frame.hstack(&[passages.into_column()]).unwrap();
        let len = Node::builder("len").params(["x", "passage"]).output("len").build(|x: i64, p: String| x + p.len() as i64)?;
        let out = apply(&engine, &on(&engine, [len]), &mixed)?;
        assert_eq!(i64s(&out, "len"), (0..9).map(|x| Some(x + 4)).collect::<Vec<_>>());
    }
);

/// A column of every Polars type the engine reads, with nulls where it has them.
fn every_type() -> DataFrame {
    let lists = Series::new(
        "list".into(),
        [
            Series::new("".into(), [1_i64, 2]),
            Series::new("".into(), Vec::<i64>::new()),
            Series::new("".into(), [3_i64]),
        ],
    );
    let strings = Series::new(
        "strings".into(),
        [
            Series::new("".into(), ["a", "bc"]),
            Series::new("".into(), ["d"]),
            Series::new("".into(), Vec::<&str>::new()),
        ],
    );
    let point = ::polars::df!("x" => [1.5_f64, -2.0, 0.0], "name" => ["p", "q", "a string longer than twelve bytes"])
        .unwrap()
        .into_struct("point".into())
        .into_series();
    let mut frame = ::polars::df!(
        "bool" => [true, false, true],
        "i8" => [i8::MIN, 0, i8::MAX],
        "i16" => [i16::MIN, 0, i16::MAX],
        "i32" => [i32::MIN, 0, i32::MAX],
        "i64" => [i64::MIN, 0, i64::MAX],
        "u8" => [0_u8, 1, u8::MAX],
        "u16" => [0_u16, 1, u16::MAX],
        "u32" => [0_u32, 1, u32::MAX],
        "u64" => [0_u64, 1, u64::MAX],
        "f32" => [f32::MIN, 0.5, f32::NAN],
        "f64" => [f64::MIN, -0.0, f64::INFINITY],
        "str" => ["", "a string longer than twelve bytes", "ü"],
        "opt_i64" => [Some(1_i64), None, Some(3)],
        "opt_str" => [None, Some("b"), Some("")],
        "bytes" => [b"\x00\xff".as_slice(), b"", b"a byte string longer than twelve"],
    )
    .unwrap();
    let nulls = Series::full_null("nulls".into(), 3, &PolarsType::Null);
    let columns = [lists, strings, point, nulls].map(IntoColumn::into_column);
    frame.hstack_mut(&columns).unwrap();
    frame
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    x: f64,
    name: String,
}
columnar_struct!(Point);

#[node(output = "point_out")]
fn same_point(point: Point) -> Point {
    point
}

/// A node `v -> v` reading column `name` as `T` and writing `{name}_out`.
fn same<T: Clone + Send + Sync + 'static>(name: &str) -> Node {
    Node::builder(format!("same_{name}"))
        .params([name])
        .output(format!("{name}_out"))
        .build(|v: T| v)
        .unwrap()
}

engine_test!(
    fn every_polars_type_passes_through_and_round_trips_through_nodes(engine) {
        let frame = every_type();
        let schema = frame.schema().clone();
        assert_eq!(schema.get("str"), Some(&PolarsType::String));
        assert_eq!(schema.get("bytes"), Some(&PolarsType::Binary));
        assert_eq!(schema.get("list"), Some(&PolarsType::List(Box::new(PolarsType::Int64))));

        // Passing through: a pipeline that reads none of them.
        let out = apply(&engine, &on(&engine, w1()), &frame.hstack(&[Series::new("x".into(), [1_i64, 2, 3]).into_column()]).unwrap())?;
        assert!(out.select(schema.iter_names().cloned()).unwrap().equals_missing(&frame));

        // Read by nodes and written back: every output equals its input column.
        let nodes = vec![
            same::<bool>("bool"),
            same::<i8>("i8"),
            same::<i16>("i16"),
            same::<i32>("i32"),
            same::<i64>("i64"),
            same::<u8>("u8"),
            same::<u16>("u16"),
            same::<u32>("u32"),
            same::<u64>("u64"),
            same::<f32>("f32"),
            same::<f64>("f64"),
            same::<String>("str"),
            same::<Option<i64>>("opt_i64"),
            same::<Option<String>>("opt_str"),
            same::<Vec<i64>>("list"),
            same::<Vec<String>>("strings"),
            same::<Option<i64>>("nulls"),
            same_point::node(),
        ];
        let out = apply(&engine, &on(&engine, nodes), &frame)?;
        for name in ["bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "str", "opt_i64", "opt_str", "list", "strings", "point"] {
            let input = frame.column(name).unwrap();
            let output = out.column(&format!("{name}_out")).unwrap();
            assert_eq!(output.dtype(), input.dtype(), "{name}");
            assert!(output.clone().with_name(name.into()).equals_missing(input), "{name}: {output:?}");
        }
        // The all-null column read as `Option<i64>`: an `i64` column of nulls.
        let nulls = out.column("nulls_out").unwrap();
        assert_eq!((nulls.dtype(), nulls.null_count()), (&PolarsType::Int64, 3));
        assert!(out.select(schema.iter_names().cloned()).unwrap().equals_missing(&frame));
    }
);

#[node(output = "doubled")]
fn double_some(x: Option<i64>) -> Option<i64> {
    x.filter(|x| *x != 3).map(|x| 2 * x)
}

engine_test!(
    fn nulls_cross_as_none_both_ways(engine) {
        let frame = ::polars::df!("x" => [Some(1_i64), None, Some(3), Some(4)]).unwrap();
        let out = apply(&engine, &on(&engine, [double_some::node()]), &frame)?;
        assert_eq!(i64s(&out, "doubled"), [Some(2), None, None, Some(8)]);
        assert_eq!(out.column("doubled").unwrap().null_count(), 2);
    }
);

engine_test!(
    fn a_lazy_frame_is_mapped_batch_by_batch(engine) {
        let p = on(&engine, w1());
        let frame = chunked(&[w1_frame(0..3), w1_frame(3..8)]);
        let mut lazy = apply_lazy(&engine, &p, frame.clone().lazy())?;
        // The outputs' types are known before anything runs.
        let schema = lazy.collect_schema().unwrap();
        let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x", "label", "doubled", "incremented", "squared"]);
        assert_eq!(schema.get("squared"), Some(&PolarsType::Int64));
        let eager = apply(&engine, &p, &frame)?;
        let collected = lazy.clone().collect().unwrap();
        assert!(collected.equals_missing(&eager));
        assert_eq!(collected.schema(), &schema);
        // Later steps use the outputs.
        let big = lazy.filter(col("squared").gt(lit(100))).select([col("x")]).collect().unwrap();
        assert_eq!(i64s(&big, "x"), [Some(5), Some(6), Some(7)]);

        let strings = apply_lazy(&engine, &on(&engine, w2()), ::polars::df!("passage" => [" A b "]).unwrap().lazy())?;
        let out = strings.collect().unwrap();
        assert_eq!(strs(&out, "cleaned_text"), [Some("a b".to_string())]);
        assert_eq!(u64s(&out, "word_count"), [Some(2)]);
    }
);

engine_test!(
    fn a_column_of_a_type_the_node_cannot_read_is_named_with_both_types(engine) {
        let p = on(&engine, w1());
        let bytes = ::polars::df!("x" => [b"\x01".as_slice()]).unwrap();
        let err = apply(&engine, &p, &bytes).unwrap_err();
        assert_eq!(err.to_string(), "Input 'x' has type Polars binary but node 'double' expects i64");
        assert!(matches!(err, hypernodes::Error::InputType { .. }));
        let err = apply_lazy(&engine, &p, bytes.lazy()).map(drop).unwrap_err();
        assert_eq!(err.to_string(), "Input 'x' has type Polars binary but node 'double' expects i64");

        // No parsing of strings, no widening of numbers.
        let err = apply(&engine, &p, &::polars::df!("x" => ["1"]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "Input 'x' has type Polars str but node 'double' expects i64");
        let err = apply(&engine, &p, &::polars::df!("x" => [1_i32]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "Input 'x' has type Polars i32 but node 'double' expects i64");
        let err = apply(&engine, &on(&engine, [same::<Vec<String>>("list")]), &every_type()).unwrap_err();
        assert_eq!(err.to_string(), "Input 'list' has type Polars list[i64] but node 'same_list' expects Vec<String>");
    }
);

engine_test!(
    fn a_missing_column_is_a_missing_input(engine) {
        let p = on(&engine, w1());
        let frame = ::polars::df!("y" => [1_i64]).unwrap();
        let message = "Missing required input(s): ['x']. Required inputs: ['x']";
        assert_eq!(apply(&engine, &p, &frame).unwrap_err().to_string(), message);
        assert_eq!(apply_lazy(&engine, &p, frame.lazy()).map(drop).unwrap_err().to_string(), message);
    }
);

engine_test!(
    fn an_output_named_like_a_column_is_refused(engine) {
        let frame = ::polars::df!("x" => [1_i64], "doubled" => [0_i64]).unwrap();
        let err = apply(&engine, &on(&engine, w1()), &frame).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Output 'doubled' is named like a column of the DataFrame; rename the column or the output"
        );
    }
);

#[node(output = "checked")]
fn fail_at(x: i64) -> Result<i64, String> {
    if x == 4 { Err(format!("bad {x}")) } else { Ok(x) }
}

engine_test!(
    fn a_failing_node_names_its_row_of_the_whole_frame(engine) {
        let p = on(&engine, [fail_at::node()]);
        let frame = chunked(&[w1_frame(0..3), w1_frame(3..6)]);
        let err = apply(&engine, &p, &frame).unwrap_err();
        assert_eq!(err.to_string(), "Node 'fail_at' failed on item 4: bad 4");
        let err = apply_lazy(&engine, &p, frame.lazy())?.collect().unwrap_err();
        assert_eq!(err.to_string(), "Node 'fail_at' failed on item 4: bad 4");
    }
);

#[test]
fn outputs_come_back_as_the_chunks_the_engine_made() {
    // Batches of at least `FRAME_BATCH_ROWS` rows: at most one batch per partition of
    // 300,000 rows (2 rather than 38 of 8,192).
    let engine = ColumnarEngine::new().with_partitions(2);
    let p = Pipeline::new(w1());
    let out = engine.apply_to_polars(&p, &w1_frame(0..300_000)).unwrap();
    let squared = out.column("squared").unwrap().as_materialized_series();
    assert_eq!(squared.chunk_lengths().collect::<Vec<_>>(), [150_000, 150_000]);
    assert_eq!(
        squared.i64().unwrap().get(299_999),
        Some((2 * 299_999 + 1) * (2 * 299_999 + 1))
    );
    assert_eq!(hypernodes::polars::FRAME_BATCH_ROWS, 262_144);

    // A larger batch size than that is the engine's own: 600,000 rows on one partition
    // in batches of 2^19, not 2^18.
    let engine = ColumnarEngine::new()
        .with_partitions(1)
        .with_batch_size(hypernodes::polars::FRAME_BATCH_ROWS * 2);
    let p = Pipeline::new(w1());
    let frame = chunked(&[w1_frame(0..3), w1_frame(3..600_000)]);
    let out = engine.apply_to_polars(&p, &frame).unwrap();
    // The frame's columns are kept as they were, chunks included.
    let x = out.column("x").unwrap().as_materialized_series();
    assert_eq!(x.chunk_lengths().collect::<Vec<_>>(), [3, 599_997]);
    // Each output is a Series of the batches `apply_to_batches` cuts the same rows into.
    let batch = |xs: Vec<i64>| {
        arrow::array::RecordBatch::try_from_iter([("x", Arc::new(arrow::array::Int64Array::from(xs)) as _)]).unwrap()
    };
    let batches = engine
        .apply_to_batches(&p, &[batch((0..3).collect()), batch((3..600_000).collect())])
        .unwrap();
    let rows: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [524_288, 75_712]);
    let squared = out.column("squared").unwrap().as_materialized_series();
    assert_eq!(squared.chunk_lengths().collect::<Vec<_>>(), rows);
}

engine_test!(
    fn apply_to_polars_and_apply_to_lazy_commit_what_they_stored(engine) {
        use crate::commit::{cached, Calls, Store};
        let frame = ::polars::df!("x" => [1_i64, 2, 3]).unwrap();
        let (store, calls) = (Store::new(&format!("polars-{}", engine.name())), Calls::default());
        let p = cached(&engine, "polars", &calls, &store);
        apply(&engine, &p, &frame)?;
        // `double` and `label` computed once per row (the columnar engine's second call,
        // `apply_to_polars`, found them), `triple` stored by the kernel: 9 items.
        assert_eq!((calls.take(), store.committed()), (6, 9));
        let again = apply(&engine, &p, &frame)?;
        assert_eq!(calls.take(), 0);
        assert_eq!(strs(&again, "label"), [Some("#2".into()), Some("#4".into()), Some("#6".into())]);

        let (store, calls) = (Store::new(&format!("lazy-{}", engine.name())), Calls::default());
        let p = cached(&engine, "lazy", &calls, &store);
        let collect = || -> hypernodes::Result<DataFrame> {
            let lazy = ColumnarEngine::apply_to_lazy_on(engine.clone(), &p, frame.clone().lazy())?;
            Ok(lazy.collect().unwrap())
        };
        collect()?;
        assert_eq!((calls.take(), store.committed()), (6, 9));
        let again = collect()?;
        assert_eq!(calls.take(), 0);
        assert_eq!(i64s(&again, "tripled"), [Some(3), Some(6), Some(9)]);
    }
);

/// Dates, times, datetimes (µs without and with a zone, and ns), durations and decimals,
/// with nulls.
fn temporal_and_decimal() -> DataFrame {
    use ::polars::prelude::{TimeUnit, TimeZone};
    use ::polars_arrow::array::PrimitiveArray;
    use ::polars_arrow::datatypes::ArrowDataType;
    let cast = |s: Series, dtype: PolarsType| s.cast(&dtype).unwrap().into_column();
    let micros = [Some(1_709_199_000_123_456_i64), None, Some(-1)];
    let amounts = PrimitiveArray::<i128>::from([Some(1_234_i128), None, Some(-5)]).to(ArrowDataType::Decimal(12, 2));
    let amount = Series::from_arrow("amount".into(), Box::new(amounts)).unwrap();
    // A zoned column through Arrow: Polars' cast drops the zone without its `timezones`.
    let zoned = ArrowDataType::Timestamp(::polars_arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
    let utc = Series::from_arrow("utc".into(), Box::new(PrimitiveArray::<i64>::from(micros).to(zoned))).unwrap();
    assert_eq!(
        utc.dtype(),
        &PolarsType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
    );
    assert_eq!(amount.dtype(), &PolarsType::Decimal(12, 2));
    DataFrame::new(
        3,
        vec![
            cast(
                Series::new("day".into(), [Some(19_782_i32), None, Some(-719_162)]),
                PolarsType::Date,
            ),
            cast(
                Series::new("clock".into(), [Some(86_399_999_999_999_i64), None, Some(0)]),
                PolarsType::Time,
            ),
            cast(
                Series::new("ts".into(), micros),
                PolarsType::Datetime(TimeUnit::Microseconds, None),
            ),
            utc.into_column(),
            cast(
                Series::new("ns".into(), [Some(1_000_i64), None, Some(-3_000)]),
                PolarsType::Datetime(TimeUnit::Nanoseconds, None),
            ),
            cast(
                Series::new("wait".into(), micros),
                PolarsType::Duration(TimeUnit::Microseconds),
            ),
            amount.into_column(),
        ],
    )
    .unwrap()
}

engine_test!(
    fn dates_times_datetimes_durations_and_decimals_round_trip_with_their_types(engine) {
        use ::polars::prelude::{TimeUnit, TimeZone};
        use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
        use rust_decimal::Decimal;

        let frame = temporal_and_decimal();
        let nodes = vec![
            same::<Option<NaiveDate>>("day"),
            same::<Option<NaiveTime>>("clock"),
            same::<Option<NaiveDateTime>>("ts"),
            same::<Option<DateTime<Utc>>>("utc"),
            same::<Option<NaiveDateTime>>("ns"),
            same::<Option<TimeDelta>>("wait"),
            same::<Option<Decimal>>("amount"),
        ];
        let p = on(&engine, nodes);
        let out = apply(&engine, &p, &frame)?;
        // Same types and values, but the decimal's (written at 18 places) and the ns
        // datetime's (written in µs).
        for name in ["day", "clock", "ts", "utc", "wait"] {
            let input = frame.column(name).unwrap();
            let output = out.column(&format!("{name}_out")).unwrap();
            assert_eq!(output.dtype(), input.dtype(), "{name}");
            assert!(output.clone().with_name(name.into()).equals_missing(input), "{name}: {output:?}");
        }
        let utc = PolarsType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
        assert_eq!(out.column("utc_out").unwrap().dtype(), &utc);
        let cast_to = |name: &str, dtype: &PolarsType| frame.column(name).unwrap().cast(dtype).unwrap().with_name(format!("{name}_out").into());
        let ns_out = out.column("ns_out").unwrap();
        assert_eq!(ns_out.dtype(), &PolarsType::Datetime(TimeUnit::Microseconds, None));
        assert!(ns_out.equals_missing(&cast_to("ns", ns_out.dtype())));
        let amount_out = out.column("amount_out").unwrap();
        assert_eq!(amount_out.dtype(), &PolarsType::Decimal(38, 18));
        assert!(amount_out.equals_missing(&cast_to("amount", amount_out.dtype())), "{amount_out:?}");
        // The frame's own columns are returned as they were.
        assert!(out.select(frame.get_column_names_owned()).unwrap().equals_missing(&frame));
        // Lazily, with the same types planned.
        let mut lazy = apply_lazy(&engine, &p, frame.clone().lazy())?;
        let schema = lazy.collect_schema().unwrap();
        assert_eq!(schema.get("utc_out"), Some(&utc));
        assert_eq!(schema.get("amount_out"), Some(&PolarsType::Decimal(38, 18)));
        assert!(lazy.collect().unwrap().equals_missing(&out));
    }
);

// Binary, fixed-width binary, arrays, maps and intervals: the types Polars stores
// otherwise or not at all.

mod binary_arrays_and_maps {
    use std::collections::BTreeMap;

    use ::polars::prelude::{Field as PolarsField, IntoColumn, NamedFrom, Series};
    use arrow::datatypes::IntervalMonthDayNano;
    use bytes::Bytes;

    use super::*;

    #[node(output = "bytes_out")]
    fn same_bytes(bytes: Option<Bytes>) -> Option<Bytes> {
        bytes
    }

    #[node(output = "ids_out")]
    fn same_ids(ids: Option<[u8; 4]>) -> Option<[u8; 4]> {
        ids
    }

    #[node(output = "embedding_out")]
    fn same_embedding(embedding: Option<[f32; 3]>) -> Option<[f32; 3]> {
        embedding
    }

    #[node(output = "tags")]
    fn tags_of(ids: Option<[u8; 4]>) -> Option<BTreeMap<String, i64>> {
        ids.map(|id| BTreeMap::from([("b".to_string(), i64::from(id[1])), ("a".to_string(), i64::from(id[0]))]))
    }

    #[node(output = "total")]
    fn total(tags: Option<BTreeMap<String, i64>>) -> Option<i64> {
        tags.map(|t| t.values().sum())
    }

    #[node(output = "wait")]
    fn wait(x: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(1, 2, x)
    }

    /// Binary values (nulls among them), 4-byte ids and 3-float embeddings.
    fn frame() -> DataFrame {
        let bytes = Series::new(
            "bytes".into(),
            [Some(b"\x00\xff".as_slice()), None, Some(b"".as_slice())],
        );
        let ids = Series::new(
            "ids".into(),
            [Some(b"abcd".as_slice()), None, Some(b"\x00\x01\x02\x03".as_slice())],
        );
        let embedding = Series::new(
            "embedding".into(),
            [
                Some(Series::new("".into(), [1.5_f32, -2.0, f32::MAX])),
                None,
                Some(Series::new("".into(), [0.0_f32, 0.5, 1.0])),
            ],
        )
        .cast(&PolarsType::Array(Box::new(PolarsType::Float32), 3))
        .unwrap();
        DataFrame::new(3, [bytes, ids, embedding].map(IntoColumn::into_column).to_vec()).unwrap()
    }

    engine_test!(
        fn binary_arrays_and_maps_round_trip_in_polars_forms(engine) {
            let frame = frame();
            let p = on(&engine, [same_bytes::node(), same_ids::node(), same_embedding::node(), tags_of::node()]);
            let out = apply(&engine, &p, &frame)?;
            // Binary stays binary; a `[u8; N]` comes back as binary (Polars has no fixed
            // width); an `[f32; 3]` as an `Array(f32, 3)`.
            for name in ["bytes", "ids", "embedding"] {
                let input = frame.column(name).unwrap();
                let output = out.column(&format!("{name}_out")).unwrap();
                assert_eq!(output.dtype(), input.dtype(), "{name}");
                assert!(output.clone().with_name(name.into()).equals_missing(input), "{name}: {output:?}");
            }
            // A map is the list of its entries, in key order.
            let entry = PolarsType::Struct(vec![
                PolarsField::new("key".into(), PolarsType::String),
                PolarsField::new("value".into(), PolarsType::Int64),
            ]);
            let tags = out.column("tags").unwrap();
            assert_eq!(tags.dtype(), &PolarsType::List(Box::new(entry.clone())));
            assert_eq!(tags.null_count(), 1);
            let first = tags.list().unwrap().get_as_series(0).unwrap();
            let keys = first.struct_().unwrap().field_by_name("key").unwrap();
            assert_eq!(keys.str().unwrap().iter().collect::<Vec<_>>(), [Some("a"), Some("b")]);
            // And read back as a map.
            let totals = apply(&engine, &on(&engine, [total::node()]), &out.select(["tags"]).unwrap())?;
            assert_eq!(i64s(&totals, "total"), [Some(97 + 98), None, Some(1)]);
            // Lazily, with the same types planned.
            let mut lazy = apply_lazy(&engine, &p, frame.clone().lazy())?;
            let schema = lazy.collect_schema().unwrap();
            assert_eq!(schema.get("ids_out"), Some(&PolarsType::Binary));
            assert_eq!(schema.get("tags"), Some(&PolarsType::List(Box::new(entry))));
            assert!(lazy.collect().unwrap().equals_missing(&out));
        }
    );

    engine_test!(
        fn binary_of_another_width_an_interval_output_and_a_null_key_are_named(engine) {
            let short = ::polars::df!("ids" => [b"abcd".as_slice(), b"abc"]).unwrap();
            let err = apply(&engine, &on(&engine, [same_ids::node()]), &short).unwrap_err();
            assert_eq!(err.to_string(), "Node 'same_ids' failed on item 1: column 'ids' holds 3 bytes, which is not the 4 of a FixedSizeBinary(4)");

            let p = on(&engine, [wait::node()]);
            let message = "Output 'wait' is an Arrow Interval(MonthDayNano), which Polars has no type for (its Duration holds no months)";
            assert_eq!(apply(&engine, &p, &w1_frame(0..2)).unwrap_err().to_string(), message);
            assert_eq!(apply_lazy(&engine, &p, w1_frame(0..2).lazy()).map(drop).unwrap_err().to_string(), message);

            let entries = ::polars::df!("key" => [Some("a"), None], "value" => [1_i64, 2])
                .unwrap()
                .into_struct("tags".into())
                .into_series()
                .implode()
                .unwrap()
                .into_series();
            let frame = DataFrame::new(1, vec![entries.into_column()]).unwrap();
            let err = apply(&engine, &on(&engine, [total::node()]), &frame).unwrap_err();
            assert_eq!(err.to_string(), "Input 'tags' holds a null key, which a map cannot");
        }
    );
}
