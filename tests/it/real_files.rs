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

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}

/// The rows of `query` over `file` (registered as `t`), by DataFusion SQL.
fn sql(file: &Path, query: &str) -> RecordBatch {
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

/// `node` reading column `column` into output `output`.
fn on(node: Node, param: &str, column: &str, out: &str, output: &str) -> Node {
    node.renamed(output, &[(param, column)], &[(out, output)]).unwrap()
}

engine_test!(
    fn dates_times_and_timestamps_of_pyarrow_and_duckdb_read_as_datafusion_reads_them(engine) {
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
            let mut select = vec!["id", "utc_us", "local_us", "days", "clock_ns"];
            let unit = if local == "ts_ns" { "/ 1000" } else { "" };
            let mut query = format!(
                "SELECT id, CAST(ts_utc AS BIGINT) AS utc_us, CAST({local} AS BIGINT) {unit} AS local_us, \
                 CAST(CAST(day AS INT) AS BIGINT) AS days, CAST(clock AS BIGINT) * 1000 AS clock_ns"
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
        }
    }
);
