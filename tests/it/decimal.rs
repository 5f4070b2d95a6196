//! Decimals (`rust_decimal::Decimal`): through nodes on both engines, from `Decimal128`
//! columns of any precision and scale (in place) and `Decimal256` columns, refused
//! exactly when a value does not fit, written as `Decimal128(38, 18)`, with cache digests
//! equal between Arrow rows and Rust values, and from a Parquet file through a pipeline
//! file with `round_decimal`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Decimal256Array, RecordBatch};
use arrow::datatypes::{DataType, Decimal128Type, DecimalType, i256};
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::types::ColumnType;
use hypernodes::hash::digest;
use hypernodes::prelude::*;
use rust_decimal::Decimal;

use crate::common::*;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn decs(values: &[&str]) -> Vec<Decimal> {
    values.iter().map(|s| dec(s)).collect()
}

#[node(output = "gross")]
fn gross(net: Decimal, rate: Decimal) -> Decimal {
    net * (Decimal::ONE + rate)
}

#[node(output = "total")]
fn total(amounts: Vec<Option<Decimal>>) -> Option<Decimal> {
    amounts.iter().flatten().copied().reduce(|a, b| a + b)
}

#[node(output = "halves")]
fn halves(amount: Option<Decimal>) -> Vec<Decimal> {
    amount.map_or_else(Vec::new, |a| vec![a / Decimal::TWO, a / Decimal::TWO])
}

engine_test!(
    fn decimals_flow_through_nodes_with_nulls_and_lists(engine) {
        let inputs = Inputs::new()
            .with("net", decs(&["100.00", "0.01", "-19.99"]))
            .with("rate", dec("0.19"));
        let out = on(&engine, [gross::node()]).map(&inputs, &["net"], MapMode::Zip)?;
        // Equal values; the columnar engine's went through Arrow (at 18 places).
        assert_eq!(out.column::<Decimal>("gross")?, decs(&["119", "0.0119", "-23.7881"]));

        let lists = vec![vec![Some(dec("1.5")), None, Some(dec("2.25"))], vec![], vec![None]];
        let out = on(&engine, [total::node()]).map(&Inputs::new().with("amounts", lists), &["amounts"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<Decimal>>("total")?, [Some(dec("3.75")), None, None]);

        let maybe = vec![Some(dec("3")), None];
        let out = on(&engine, [halves::node()]).map(&Inputs::new().with("amount", maybe), &["amount"], MapMode::Zip)?;
        assert_eq!(out.column::<Vec<Decimal>>("halves")?, [decs(&["1.5", "1.5"]), vec![]]);
    }
);

// ---------------------------------------------------------------------------------------
// Arrow columns.

#[node(output = "shown")]
fn show(amount: Option<Decimal>) -> Option<String> {
    amount.map(|a| a.to_string())
}

#[node(output = "doubled")]
fn double_amount(amount: Option<Decimal>) -> Option<Decimal> {
    amount.map(|a| a * Decimal::TWO)
}

fn batch(name: &str, array: ArrayRef) -> RecordBatch {
    RecordBatch::try_from_iter([(name, array)]).unwrap()
}

fn decimal128(values: Vec<Option<i128>>, precision: u8, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(precision, scale)
            .unwrap(),
    )
}

/// The outputs of `node` over `batch` on the columnar engine, checked equal to the node
/// engine's.
fn apply(node: Node, batch: &RecordBatch) -> hypernodes::Result<RecordBatch> {
    let p = Pipeline::new([node]);
    let out = ColumnarEngine::new().apply_to_batch(&p, batch);
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, batch);
    match (&out, by_rows) {
        (Ok(a), Ok(b)) => assert_eq!(a, &b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("the engines differ: {a:?} and {b:?}"),
    }
    out
}

fn strings(out: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let column = out.column_by_name(name).unwrap();
    column.as_string::<i32>().iter().map(|s| s.map(String::from)).collect()
}

#[test]
fn decimal128_columns_are_read_at_their_own_precision_and_scale() {
    let amounts = decimal128(vec![Some(1_234), None, Some(-5), Some(0)], 12, 2);
    let out = apply(show::node(), &batch("amount", amounts)).unwrap();
    let shown = strings(&out, "shown");
    assert_eq!(
        shown,
        [Some("12.34".into()), None, Some("-0.05".into()), Some("0.00".into())]
    );
    // Negative scales and scales beyond 28 where the digits allow.
    let out = apply(show::node(), &batch("amount", decimal128(vec![Some(7)], 5, -3))).unwrap();
    assert_eq!(strings(&out, "shown"), [Some("7000".into())]);
    let out = apply(
        show::node(),
        &batch("amount", decimal128(vec![Some(15 * 10_i128.pow(29))], 38, 30)),
    )
    .unwrap();
    // Stripped of as many trailing zeros as it takes (to 28 places).
    assert_eq!(strings(&out, "shown"), [Some("1.5000000000000000000000000000".into())]);
}

#[test]
fn decimal256_columns_are_read_where_every_value_fits() {
    let amounts: ArrayRef = Arc::new(
        Decimal256Array::from(vec![Some(i256::from_i128(-123_456)), None])
            .with_precision_and_scale(60, 4)
            .unwrap(),
    );
    let out = apply(show::node(), &batch("amount", amounts)).unwrap();
    assert_eq!(strings(&out, "shown"), [Some("-12.3456".into()), None]);
}

#[test]
fn a_value_rust_decimal_cannot_hold_is_an_error_naming_the_column_and_the_row() {
    let big = 12_345_678_901_234_567_890_123_456_789_012_i128;
    let amounts = decimal128(vec![Some(1), Some(big)], 38, 2);
    let err = apply(show::node(), &batch("amount", amounts)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'show' failed on item 1: column 'amount' holds 123456789012345678901234567890.12, which \
         rust_decimal::Decimal cannot hold (28 significant digits)"
    );
    assert!(matches!(err, Error::NodeFailed { item: Some(1), .. }));

    let amounts = decimal128(vec![None, Some(1), Some(1)], 38, 29);
    let err = apply(show::node(), &batch("amount", amounts)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'show' failed on item 1: column 'amount' holds 0.00000000000000000000000000001, which \
         rust_decimal::Decimal cannot hold (28 significant digits)"
    );

    let wide = i256::from_i128(i128::MAX).wrapping_mul(i256::from_i128(100));
    let amounts: ArrayRef = Arc::new(
        Decimal256Array::from(vec![i256::ZERO, i256::ZERO, wide])
            .with_precision_and_scale(76, 2)
            .unwrap(),
    );
    let err = apply(show::node(), &batch("amount", amounts)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'show' failed on item 2: column 'amount' holds 170141183460469231731687303715884105727.00, which \
         rust_decimal::Decimal cannot hold (28 significant digits)"
    );
}

#[test]
fn decimal_outputs_are_decimal128_38_18() {
    let amounts = decimal128(vec![Some(1_234), None], 12, 2);
    let out = apply(double_amount::node(), &batch("amount", amounts)).unwrap();
    let doubled = out.column_by_name("doubled").unwrap();
    assert_eq!(doubled.data_type(), &DataType::Decimal128(38, 18));
    let doubled = doubled.as_primitive::<Decimal128Type>();
    assert_eq!(doubled.value(0), 2_468 * 10_i128.pow(16));
    assert!(doubled.is_null(1));
}

#[node(output = "huge")]
fn huge(amount: Decimal) -> Decimal {
    amount * dec("1000000000000000000000")
}

#[test]
fn a_decimal_of_more_than_20_integer_digits_fails_the_node_writing_it() {
    let amounts = decimal128(vec![Some(0), Some(100)], 12, 2);
    let err = apply(huge::node(), &batch("amount", amounts)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Node 'huge' panicked on item 1: the decimal 1000000000000000000000.00 has more than 20 digits before the \
         point, more than an Arrow Decimal128(38, 18) holds"
    );
}

#[test]
fn decimal_columns_of_any_scale_run_as_one_datafusion_plan() {
    let ctx = datafusion::prelude::SessionContext::new();
    let amounts = decimal128(vec![Some(1_234), None, Some(-5)], 12, 2);
    let frame = ctx.read_batch(batch("amount", amounts)).unwrap();
    let frame = ColumnarEngine::apply_to_dataframe(&Pipeline::new([double_amount::node()]), frame).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let out = runtime.block_on(frame.collect()).unwrap();
    let doubled = out[0].column_by_name("doubled").unwrap();
    assert_eq!(doubled.data_type(), &DataType::Decimal128(38, 18));
    let doubled: Vec<Option<i128>> = doubled.as_primitive::<Decimal128Type>().iter().collect();
    assert_eq!(
        doubled,
        [Some(2_468 * 10_i128.pow(16)), None, Some(-10 * 10_i128.pow(16))]
    );
}

// ---------------------------------------------------------------------------------------
// Cache digests.

#[test]
fn rows_from_arrow_and_rust_values_have_one_digest() {
    let values = decs(&["12.34", "-0.05", "0", "99999999999999999999.99999999"]);
    let ct = ColumnType::of::<Decimal>();
    let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
    let mut rows = Vec::new();
    assert!((ct.digest_rows)(array.as_ref(), &mut rows));
    for (v, d) in values.iter().zip(&rows) {
        assert_eq!(digest(&Value::new(*v)), Some(*d), "{v}");
    }
    // A column of another scale holding the same values.
    let mut foreign = Vec::new();
    let array = decimal128(vec![Some(12_340), Some(-50), Some(0)], 10, 3);
    assert!((ct.digest_rows)(array.as_ref(), &mut foreign));
    assert_eq!(foreign, rows[..3]);
    assert_ne!(Some(rows[2]), digest(&Value::new(0_i64)));
    assert_ne!(Some(rows[2]), digest(&Value::new(0.0_f64)));
}

// ---------------------------------------------------------------------------------------
// A Parquet file through a pipeline file.

mod files {
    use arrow::datatypes::{Field, Schema};
    use hypernodes::io::FileRun;
    use hypernodes::spec::{Registry, load};

    use super::*;
    use crate::parquet::{TempDir, choice, run_pipeline_file};

    #[node(output = "vat")]
    fn vat(amount: Option<Decimal>) -> Option<Decimal> {
        amount.map(|a| a * dec("0.2"))
    }

    const PIPELINE: &str = r#"
[inputs]
amount = "decimal(12, 2)"
price = "decimal(10, 3)"

[bind]
places = 1

[[nodes]]
function = "round_decimal"
inputs = { amount = "price" }

[[nodes]]
function = "vat"

[[nodes]]
name = "twice"
sql = "price * 2"
"#;

    /// `amount`: a `Decimal128(12, 2)` column with a null; `price`: a `Decimal128(10, 3)`.
    fn input() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("amount", DataType::Decimal128(12, 2), true),
            Field::new("price", DataType::Decimal128(10, 3), false),
        ]);
        let amounts = decimal128(vec![Some(123_456_789_015), None, Some(-25)], 12, 2);
        let prices = decimal128(vec![Some(1_250), Some(-1_250), Some(1_249)], 10, 3);
        RecordBatch::try_new(Arc::new(schema), vec![amounts, prices]).unwrap()
    }

    fn decimals(column: &ArrayRef) -> Vec<Option<String>> {
        let c = column.as_primitive::<Decimal128Type>();
        c.iter()
            .map(|v| v.map(|v| Decimal128Type::format_decimal(v, c.precision(), c.scale())))
            .collect()
    }

    engine_test!(
        fn a_parquet_file_of_decimals_through_a_pipeline_file(engine) {
            let mut registry = Registry::new();
            registry.register(vat::node());
            let select = ["amount", "rounded", "vat", "twice"];
            let (pipeline, out) = run_pipeline_file(&engine, "decimal", PIPELINE, &registry, &input(), &select)?;
            assert_eq!(pipeline.output_type("twice").unwrap().name(), "Decimal");
            // The input column passes through as it was.
            assert_eq!(out.column(0).data_type(), &DataType::Decimal128(12, 2));
            assert_eq!(
                decimals(out.column(0)),
                [Some("1234567890.15".into()), None, Some("-0.25".into())]
            );
            for k in 1..3 {
                assert_eq!(out.column(k).data_type(), &DataType::Decimal128(38, 18));
            }
            // SQL over the `Decimal128(10, 3)` column: DataFusion's type for `price * 2`.
            assert_eq!(out.column(3).data_type(), &DataType::Decimal128(31, 3));
            let at18 = |s: &str| Some(format!("{s}{}", "0".repeat(18 - s.split_once('.').map_or(0, |(_, f)| f.len()))));
            // Half away from zero.
            assert_eq!(decimals(out.column(1)), [at18("1.3"), at18("-1.3"), at18("1.2")]);
            assert_eq!(decimals(out.column(2)), [at18("246913578.030"), None, at18("-0.050")]);
            assert_eq!(decimals(out.column(3)), [Some("2.500".into()), Some("-2.500".into()), Some("2.498".into())]);
        }
    );

    const CSV_PIPELINE: &str = r#"
[inputs]
price = "decimal(12, 2)"

[bind]
places = 0

[[nodes]]
function = "round_decimal"
inputs = { amount = "price" }
"#;

    /// `text` as a CSV file through [`CSV_PIPELINE`], the `rounded` column as text.
    fn csv_run(engine: &Arc<dyn hypernodes::Engine>, dir: &TempDir, text: &str) -> hypernodes::Result<String> {
        let input = dir.join("in.csv");
        std::fs::write(&input, text).unwrap();
        let path = dir.join("p.toml");
        std::fs::write(&path, CSV_PIPELINE).unwrap();
        let schema = hypernodes::io::read_schema(&input, hypernodes::io::Format::Csv)?;
        let file = load(&path, &Registry::new(), Some(&schema))?;
        FileRun::new(file.pipeline, input, dir.join("out.csv"))
            .with_engine(choice(engine))
            .with_select(["rounded"])
            .run()?;
        Ok(std::fs::read_to_string(dir.join("out.csv")).unwrap())
    }

    engine_test!(
        fn a_csv_column_declared_decimal_is_parsed_exactly(engine) {
            let dir = TempDir::new(&format!("decimal-csv-{}", engine.name()));
            let out = csv_run(&engine, &dir, "price\n2.50\n-3.5\n0.1\n")?;
            assert_eq!(
                out,
                "rounded\n3.000000000000000000\n-4.000000000000000000\n0.000000000000000000\n"
            );
        }
    );

    #[test]
    fn a_bad_precision_or_scale_is_named() {
        let dir = TempDir::new("decimal-bad-type");
        let path = dir.join("p.toml");
        for (ty, why) in [
            (
                "decimal(39, 2)",
                "decimal(39, 2) has precision 39: a decimal holds 1 to 38 digits",
            ),
            (
                "decimal256(10, 11)",
                "decimal256(10, 11) has scale 11, more digits after the point than its precision 10",
            ),
        ] {
            std::fs::write(
                &path,
                format!("[inputs]\namount = \"{ty}\"\n\n[[nodes]]\nname = \"n\"\nsql = \"amount\"\n"),
            )
            .unwrap();
            let err = load(&path, &Registry::new(), None).unwrap_err().to_string();
            assert_eq!(err, format!("{}:2: input 'amount': {why}", path.display()));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Struct fields (`columnar_struct!`) of dates, times, timestamps and decimals.

mod structs {
    use arrow::datatypes::Fields;
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Trade {
        day: NaiveDate,
        at: NaiveTime,
        local: NaiveDateTime,
        instant: DateTime<Utc>,
        amount: Decimal,
        fee: Option<Decimal>,
        legs: Vec<Decimal>,
    }
    hypernodes::columnar_struct!(Trade);

    #[node(output = "settled")]
    fn settle(trade: Trade) -> Trade {
        Trade {
            day: trade.day.succ_opt().expect("a next day"),
            instant: trade.instant + TimeDelta::hours(1),
            amount: trade.amount - trade.fee.unwrap_or_default(),
            ..trade
        }
    }

    #[node(output = "net")]
    fn net(settled: Trade) -> Decimal {
        settled.amount
    }

    fn trades() -> Vec<Trade> {
        let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let local = day.and_hms_micro_opt(9, 30, 0, 123_456).unwrap();
        vec![
            Trade {
                day,
                at: NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).unwrap(),
                local,
                instant: local.and_utc(),
                amount: dec("1234.56"),
                fee: Some(dec("0.05")),
                legs: decs(&["1000", "234.56"]),
            },
            Trade {
                day: NaiveDate::from_ymd_opt(9999, 12, 30).unwrap(),
                at: NaiveTime::MIN,
                local: NaiveDate::from_ymd_opt(1900, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
                instant: DateTime::from_timestamp_micros(-1).unwrap(),
                amount: dec("-0.000000000000000001"),
                fee: None,
                legs: vec![],
            },
        ]
    }

    engine_test!(
        fn struct_fields_of_dates_times_timestamps_and_decimals_round_trip(engine) {
            let out = on(&engine, [settle::node(), net::node()]).map(&Inputs::new().with("trade", trades()), &["trade"], MapMode::Zip)?;
            let expected: Vec<Trade> = trades().into_iter().map(settle).collect();
            assert_eq!(out.column::<Trade>("settled")?, expected);
            assert_eq!(out.column::<Decimal>("net")?, decs(&["1234.51", "-0.000000000000000001"]));
        }
    );

    #[test]
    fn struct_fields_have_the_arrow_types_of_the_types_alone() {
        let ct = ColumnType::of::<Trade>();
        let DataType::Struct(fields) = (ct.data_type)() else {
            panic!("not a struct");
        };
        let types = |fields: &Fields| -> Vec<String> { fields.iter().map(|f| f.data_type().to_string()).collect() };
        assert_eq!(
            types(&fields),
            [
                "Date32",
                "Time64(ns)",
                "Timestamp(µs)",
                "Timestamp(µs, \"UTC\")",
                "Decimal128(38, 18)",
                "Decimal128(38, 18)",
                "LargeList(Decimal128(38, 18), field: 'element')",
            ]
        );
        let array = (ct.list_to_array)(&Value::new(trades())).unwrap();
        let out = ColumnarEngine::new()
            .apply_to_batch(&Pipeline::new([settle::node()]), &batch("trade", array))
            .unwrap();
        let settled = out.column_by_name("settled").unwrap().as_struct();
        let days = settled
            .column_by_name("day")
            .unwrap()
            .as_primitive::<arrow::datatypes::Date32Type>();
        assert_eq!(
            days.values(),
            &[
                NaiveDate::from_ymd_opt(2024, 3, 1).unwrap().to_epoch_days(),
                NaiveDate::from_ymd_opt(9999, 12, 31).unwrap().to_epoch_days()
            ]
        );
        let amounts = settled
            .column_by_name("amount")
            .unwrap()
            .as_primitive::<Decimal128Type>();
        assert_eq!(amounts.values(), &[1_234_510_000_000_000_000_000, -1]);
    }
}
