//! Parquet files written by other tools (`data/make_typed.py`: pyarrow, as pandas
//! exports write, and DuckDB), with nulls, dates, timestamps of several units and
//! zones, times, decimals, dictionaries, binary and lists: what nodes read from them on
//! both engines, checked against DataFusion SQL over the same files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use hypernodes::Engine;
use hypernodes::io::FileRun;
use hypernodes::prelude::*;

use crate::parquet::{TempDir, choice, read_parquet};
use crate::w8_nodes;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}

/// The rows of `query` over `file` (registered as `t`), by DataFusion SQL.
pub fn sql(file: &Path, query: &str) -> RecordBatch {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let ctx = SessionContext::new();
        ctx.register_parquet("t", file.to_str().unwrap(), ParquetReadOptions::default())
            .await
            .unwrap();
        let batches = ctx.sql(query).await.unwrap().collect().await.unwrap();
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
    })
}

/// `nodes` run over `file` on `engine`, the columns `select` of the output.
fn run(engine: &Arc<dyn Engine>, file: &Path, nodes: Vec<Node>, select: &[&str]) -> RecordBatch {
    let dir = TempDir::new(&format!("real-files-{}", engine.name()));
    let out = dir.join("out.parquet");
    FileRun::new(Pipeline::new(nodes), file, &out)
        .with_engine(choice(engine))
        .with_select(select.iter().copied())
        .run()
        .unwrap();
    read_parquet(&out)
}

/// Each column of `ours` equals the column of the same name of `theirs`, nulls where
/// theirs are.
fn assert_same_columns(ours: &RecordBatch, theirs: &RecordBatch) {
    assert_eq!(ours.num_rows(), theirs.num_rows());
    for field in theirs.schema().fields() {
        let name = field.name();
        let a = ours.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        let b = arrow::compute::cast(theirs.column_by_name(name).unwrap(), a.data_type()).unwrap();
        assert_eq!(a.as_ref(), b.as_ref(), "column {name}");
    }
}

#[node(output = "micros")]
fn utc_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

#[node(output = "micros")]
fn local_micros(at: Option<NaiveDateTime>) -> Option<i64> {
    at.map(|t| t.and_utc().timestamp_micros())
}

#[node(output = "days")]
fn day_number(day: Option<NaiveDate>) -> Option<i64> {
    day.map(|d| i64::from(d.to_epoch_days()))
}

#[node(output = "nanos")]
fn clock_nanos(clock: Option<NaiveTime>) -> Option<i64> {
    clock.map(|t| i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond()))
}

#[node(output = "cents")]
fn cents(amount: Option<rust_decimal::Decimal>) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    amount.map(|a| (a * rust_decimal::Decimal::ONE_HUNDRED).to_i64().unwrap())
}

#[node(output = "letters")]
fn letters(category: &str) -> i64 {
    category.chars().count() as i64
}

#[node(output = "width")]
fn width(uid: bytes::Bytes) -> i64 {
    uid.len() as i64
}

/// `node` reading column `column` into output `output`.
fn on(node: Node, param: &str, column: &str, out: &str, output: &str) -> Node {
    node.renamed(output, &[(param, column)], &[(out, output)]).unwrap()
}

engine_test!(
    fn dates_timestamps_decimals_dictionaries_and_ids_of_pyarrow_and_duckdb_read_as_datafusion_reads_them(engine) {
        // pyarrow: timestamps in ns (pandas' unit), µs UTC and ms New York; duckdb: µs.
        let cases = [
            ("typed_pyarrow.parquet", "ts_ns", Some("ts_ny")),
            ("typed_duckdb.parquet", "ts", None),
        ];
        for (name, local, zoned) in cases {
            let file = data(name);
            let mut nodes = vec![
                on(utc_micros::node(), "at", "ts_utc", "micros", "utc_us"),
                on(local_micros::node(), "at", local, "micros", "local_us"),
                on(day_number::node(), "day", "day", "days", "days"),
                on(clock_nanos::node(), "clock", "clock", "nanos", "clock_ns"),
            ];
            // A decimal(12, 2) with nulls, a dictionary (pyarrow) or plain strings (DuckDB),
            // and 16-byte ids (pyarrow: fixed_size_binary; DuckDB: its UUID type).
            nodes.push(on(cents::node(), "amount", "amount", "cents", "cents"));
            nodes.push(on(letters::node(), "category", "category", "letters", "letters"));
            nodes.push(on(width::node(), "uid", "uid", "width", "width"));
            let mut select = vec!["id", "utc_us", "local_us", "days", "clock_ns", "cents", "letters", "width"];
            let unit = if local == "ts_ns" { "/ 1000" } else { "" };
            let mut query = format!(
                "SELECT id, CAST(ts_utc AS BIGINT) AS utc_us, CAST({local} AS BIGINT) {unit} AS local_us, \
                 CAST(CAST(day AS INT) AS BIGINT) AS days, CAST(clock AS BIGINT) * 1000 AS clock_ns, \
                 CAST(amount * 100 AS BIGINT) AS cents, CAST(character_length(category) AS BIGINT) AS letters, \
                 CAST(16 AS BIGINT) AS width"
            );
            if let Some(zoned) = zoned {
                nodes.push(on(utc_micros::node(), "at", zoned, "micros", "zoned_us"));
                select.push("zoned_us");
                query += &format!(", CAST({zoned} AS BIGINT) * 1000 AS zoned_us");
            }
            let ours = run(&engine, &file, nodes, &select);
            let theirs = sql(&file, &(query + " FROM t ORDER BY id"));
            assert_eq!(theirs.num_rows(), 12, "{name}");
            assert_same_columns(&ours, &theirs);
            // The nulls the writers were given.
            assert_eq!(ours.column_by_name("days").unwrap().null_count(), 1, "{name}");
            assert_eq!(ours.column_by_name("clock_ns").unwrap().null_count(), 1, "{name}");
            assert_eq!(ours.column_by_name("cents").unwrap().null_count(), 1, "{name}");
        }
    }
);

engine_test!(
    fn the_w8_pipeline_file_gives_what_rust_computes_from_the_same_rows(engine) {
        use arrow::array::AsArray;
        use arrow::datatypes::{Decimal128Type, Int32Type, TimestampMicrosecondType};
        use chrono::{DurationRound, TimeDelta};
        use rust_decimal::{Decimal, RoundingStrategy};

        let dir = TempDir::new(&format!("real-files-w8-{}", engine.name()));
        let toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/events.toml");
        let file = hypernodes::spec::load(&toml, &hypernodes::spec::Registry::new(), None)?;
        let input = data("events_1000.parquet");
        let out = dir.join("out.parquet");
        FileRun::new(file.pipeline, &input, &out)
            .with_engine(choice(&engine))
            .with_select(file.select.unwrap())
            .run()?;
        let ours = read_parquet(&out);
        let rows = read_parquet(&input);
        assert_eq!(ours.num_rows(), 1000);

        let ts = rows.column_by_name("ts").unwrap().as_primitive::<TimestampMicrosecondType>();
        let hour = ours.column_by_name("hour").unwrap().as_primitive::<TimestampMicrosecondType>();
        let amount = rows.column_by_name("amount").unwrap().as_primitive::<Decimal128Type>();
        let eur = ours.column_by_name("amount_eur").unwrap().as_primitive::<Decimal128Type>();
        assert_eq!((eur.precision(), eur.scale()), (38, 18));
        let category = rows.column_by_name("category").unwrap().as_dictionary::<Int32Type>();
        let names = category.values().as_string::<i32>();
        let clean = ours.column_by_name("category_clean").unwrap().as_string::<i32>();
        let rate = Decimal::new(10_837, 4);
        for i in 0..1000 {
            let at = DateTime::from_timestamp_micros(ts.value(i)).unwrap();
            let want = at.duration_trunc(TimeDelta::hours(1)).unwrap().timestamp_micros();
            assert_eq!(hour.value(i), want, "row {i}");
            let want = (Decimal::from_i128_with_scale(amount.value(i), 2) * rate)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            assert_eq!(Decimal::from_i128_with_scale(eur.value(i), 18).normalize(), want.normalize(), "row {i}");
            let key = category.keys().value(i) as usize;
            assert_eq!(clean.value(i), names.value(key).trim().to_lowercase(), "row {i}");
        }
        assert_eq!(ours.column_by_name("note").unwrap().null_count(), rows.column_by_name("note").unwrap().null_count());
    }
);

engine_test!(
    fn the_typed_data_set_gives_one_result_from_parquet_csv_ndjson_and_arrow(engine) {
        use hypernodes::datagen::{DataSet, write_data_set};
        let dir = TempDir::new(&format!("real-files-formats-{}", engine.name()));
        let pipeline = w8_nodes::pipeline();
        let select = ["id", "hour", "amount_eur", "category_clean", "note", "day"];
        let mut results = Vec::new();
        for ext in ["parquet", "csv", "ndjson", "arrow"] {
            let input = dir.join(&format!("events.{ext}"));
            write_data_set(DataSet::Events, &input, 2_000, 11)?;
            let out = dir.join(&format!("out-{ext}.parquet"));
            FileRun::new(pipeline.clone(), &input, &out)
                .with_engine(choice(&engine))
                .with_select(select)
                .run()?;
            results.push((ext, read_parquet(&out)));
        }
        let (_, parquet) = &results[0];
        assert_eq!(parquet.num_rows(), 2_000);
        for (ext, batch) in &results[1..] {
            for name in select {
                let (a, b) = (parquet.column_by_name(name).unwrap(), batch.column_by_name(name).unwrap());
                let b = arrow::compute::cast(b, a.data_type()).unwrap();
                assert_eq!(a.as_ref(), b.as_ref(), "{ext}: column {name}");
            }
        }
    }
);
