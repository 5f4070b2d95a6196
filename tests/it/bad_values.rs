//! Values of a CSV or NDJSON file that do not parse as their column's declared type: one
//! line naming the file, the line, the column, the value and the type, for every type
//! a column can be declared as; under `--on-error collect` such records are failed rows
//! and the others go through, on both engines.

use std::sync::Arc;

use arrow::array::RecordBatch;
use hypernodes::Engine;
use hypernodes::exec::{OnError, RunConfig};
use hypernodes::io::{FileRun, Format, read_schema};
use hypernodes::spec::{Registry, load};

use crate::parquet::{TempDir, choice, read_parquet};

/// A pipeline file over one input `v` declared `ty`, with one SQL node reading it.
fn declared(ty: &str) -> String {
    format!("[inputs]\nv = \"{ty}\"\n\n[[nodes]]\nname = \"known\"\nsql = \"v IS NOT NULL\"\n")
}

/// `pipeline` over the file `name` holding `text` on `engine`, written as Parquet; with
/// `collect`, the failed rows go to `failed.parquet`: the rows written (and the failed
/// rows), or the error.
fn run(
    engine: &Arc<dyn Engine>,
    dir: &TempDir,
    pipeline: &str,
    name: &str,
    text: &str,
    collect: bool,
) -> hypernodes::Result<(RecordBatch, Option<RecordBatch>)> {
    let input = dir.join(name);
    std::fs::write(&input, text).unwrap();
    let path = dir.join("p.toml");
    std::fs::write(&path, pipeline).unwrap();
    let schema = read_schema(&input, Format::of(&input))?;
    let file = load(&path, &Registry::new(), Some(&schema))?;
    let output = dir.join("out.parquet");
    let mut run = FileRun::new(file.pipeline, input, &output)
        .with_engine(choice(engine))
        .with_batch_rows(3);
    if let Some(select) = file.select {
        run = run.with_select(select);
    }
    if collect {
        run = run
            .with_config(RunConfig::new().with_on_error(OnError::Collect))
            .with_failed(dir.join("failed.parquet"));
    }
    run.run()?;
    let failed = collect.then(|| read_parquet(&dir.join("failed.parquet")));
    Ok((read_parquet(&output), failed))
}

/// Per declared type: a value that parses, one that does not (as CSV text and as an
/// NDJSON value) and the type the message names.
const CASES: [(&str, &str, &str, &str, &str); 12] = [
    ("i32", "1", "3000000000", "3000000000", "Int32"),
    ("i64", "1", "1.5", "\"x\"", "Int64"),
    ("f64", "1.5", "abc", "\"abc\"", "Float64"),
    ("bool", "true", "yes", "\"yes\"", "Boolean"),
    ("decimal(12, 2)", "12.50", "12.5.0", "\"12.5.0\"", "Decimal128(12, 2)"),
    // An overflow: eleven integer digits where the precision allows ten.
    (
        "decimal(12, 2)",
        "12.50",
        "12345678901.5",
        "12345678901.5",
        "Decimal128(12, 2)",
    ),
    ("date", "2024-02-29", "2024-02-30", "\"2024-02-30\"", "Date32"),
    ("time", "12:00:00", "25:00:00", "\"25:00:00\"", "Time64(ns)"),
    (
        "timestamp[us, UTC]",
        "2024-03-10T01:30:45Z",
        "yesterday",
        "\"yesterday\"",
        "Timestamp(µs, \"UTC\")",
    ),
    (
        "timestamp[ms, America/New_York]",
        "2024-03-10T01:30:45",
        "2024-03-10T01:30:45+99:00",
        "\"2024-03-10T01:30:45+99:00\"",
        "Timestamp(ms, \"America/New_York\")",
    ),
    // Out of range: nanoseconds since 1970 overflow 64 bits in 2262.
    (
        "timestamp[ns]",
        "2024-03-10T01:30:45",
        "2300-01-01T00:00:00",
        "\"2300-01-01T00:00:00\"",
        "Timestamp(ns)",
    ),
    (
        "fixed_binary[4]",
        "\"61626364\"",
        "",
        "\"616263\"",
        "FixedSizeBinary(4)",
    ),
];

/// The text of a CASES value as CSV: NDJSON's strings unquoted.
fn csv_text(v: &str) -> &str {
    v.trim_matches('"')
}

#[test]
fn a_value_that_does_not_parse_names_the_file_line_column_value_and_type() {
    let dir = TempDir::new("bad-values");
    let engine: Arc<dyn Engine> = Arc::new(hypernodes::ColumnarEngine::new());
    for (ty, good, bad_csv, bad_json, arrow) in CASES {
        let pipeline = declared(ty);
        let json_good = if good.parse::<f64>().is_ok() || good == "true" || good.starts_with('"') {
            good.to_string()
        } else {
            format!("\"{good}\"")
        };
        let ndjson = format!("{{\"v\": {json_good}}}\n\n{{\"v\": {json_good}}}\n{{\"v\": {bad_json}}}\n");
        let err = run(&engine, &dir, &pipeline, "in.ndjson", &ndjson, false).unwrap_err();
        let value = bad_json.trim_matches('"');
        assert_eq!(
            err.to_string(),
            format!(
                "{}: line 4, column 'v': cannot read '{value}' as {arrow}",
                dir.join("in.ndjson").display()
            ),
            "{ty}"
        );
        // Arrow's CSV reader parses no binary.
        if bad_csv.is_empty() {
            let err = run(&engine, &dir, &pipeline, "in.csv", "v\nabcd\n", false).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: column 'v' has type Utf8, but node 'known' reads it as Bytes",
                    dir.join("in.csv").display()
                )
            );
            continue;
        }
        let good = csv_text(good);
        let csv = format!("v\n{good}\n\"{good}\"\n{bad_csv}\n{good}\n");
        std::fs::write(dir.join("out.parquet"), "previous").unwrap();
        let err = run(&engine, &dir, &pipeline, "in.csv", &csv, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: line 4, column 'v': cannot read '{bad_csv}' as {arrow}",
                dir.join("in.csv").display()
            ),
            "{ty}"
        );
        // Nothing half-written.
        assert_eq!(std::fs::read_to_string(dir.join("out.parquet")).unwrap(), "previous");
    }
}

/// The values of column `name` of `batch`, as text (`null` for a null).
fn texts(batch: &RecordBatch, name: &str) -> Vec<String> {
    let column = batch.column_by_name(name).unwrap();
    let options = arrow::util::display::FormatOptions::default().with_null("null");
    let format = arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &options).unwrap();
    (0..column.len()).map(|i| format.value(i).to_string()).collect()
}

const MONEY: &str = r#"
[run]
select = ["id", "amount", "eur", "year", "rounded", "inverse"]

[inputs]
amount = "decimal(12, 2)"
at = "timestamp[ns]"

[[nodes]]
name = "eur"
sql = "amount * CAST('1.0837' AS DECIMAL(10, 4))"

[[nodes]]
name = "year"
sql = "extract(year from at)"

[[nodes]]
name = "inverse"
sql = "10 / (id - 4)"

[[nodes]]
function = "round_decimal"
inputs = { amount = "eur", places = "two" }

[bind]
two = 2
"#;

engine_test!(
    fn collect_sends_records_that_do_not_parse_to_the_failed_rows(engine) {
        let dir = TempDir::new(&format!("bad-collect-{}", engine.name()));
        // Batches of 3 rows: line 4 (a decimal overflow) and line 8 (an out-of-range
        // timestamp) are in different pieces; the node `inverse` fails on id 4.
        let csv = "id,amount,at\n\
                   1,10.00,2024-01-01T00:00:00\n\
                   2,20.50,2024-01-02T00:00:00\n\
                   3,12345678901.5,2024-01-03T00:00:00\n\
                   4,1.25,2024-01-04T00:00:00\n\
                   \"5\",2.00,2024-01-05T00:00:00\n\
                   6,3.00,2024-01-06T00:00:00\n\
                   7,4.00,2300-01-01T00:00:00\n\
                   8,5.00,2024-01-08T00:00:00\n";
        let (out, failed) = run(&engine, &dir, MONEY, "in.csv", csv, true)?;
        let failed = failed.unwrap();
        assert_eq!(texts(&out, "id"), ["1", "2", "5", "6", "8"]);
        assert_eq!(out.column_by_name("amount").unwrap().data_type(), &arrow::datatypes::DataType::Decimal128(12, 2));
        assert_eq!(texts(&out, "amount"), ["10.00", "20.50", "2.00", "3.00", "5.00"]);
        assert_eq!(texts(&out, "eur"), ["10.837000", "22.215850", "2.167400", "3.251100", "5.418500"]);
        assert_eq!(texts(&out, "year"), ["2024"; 5]);
        // A Rust `Decimal` is written as a `Decimal128(38, 18)`.
        let places = |v: &str| format!("{v}0000000000000000");
        assert_eq!(texts(&out, "rounded"), ["10.84", "22.22", "2.17", "3.25", "5.42"].map(places));
        // The failed rows: the columns read (null where a value did not parse), where and why.
        assert_eq!(texts(&out, "inverse"), ["-3", "-5", "10", "5", "2"]);
        // The failed rows, in the order of the file: the columns read (null where a value
        // did not parse), where and why; no node ran on a record that did not parse.
        assert_eq!(texts(&failed, "id"), ["3", "4", "7"]);
        assert_eq!(texts(&failed, "amount"), ["null", "1.25", "4.00"]);
        assert_eq!(texts(&failed, "at"), ["2024-01-03T00:00:00", "2024-01-04T00:00:00", "null"]);
        assert_eq!(texts(&failed, "_row"), ["2", "3", "6"]);
        assert_eq!(texts(&failed, "_node"), ["null", "inverse", "null"]);
        let path = dir.join("in.csv").display().to_string();
        assert_eq!(
            texts(&failed, "_error"),
            [
                format!("{path}: line 4, column 'amount': cannot read '12345678901.5' as Decimal128(12, 2)"),
                "Node 'inverse' failed on item 3: Arrow error: Divide by zero error".to_string(),
                format!("{path}: line 8, column 'at': cannot read '2300-01-01T00:00:00' as Timestamp(ns)"),
            ]
        );

        // NDJSON, with a node failing a row as well: in the order of the file.
        let ndjson = "{\"id\": 1, \"amount\": 10.00, \"at\": \"2024-01-01T00:00:00\"}\n\
                      {\"id\": 2, \"amount\": 123456789012345678901.5, \"at\": \"2024-01-02T00:00:00\"}\n\
                      {\"id\": 3, \"amount\": \"lots\", \"at\": \"2024-01-03T00:00:00\"}\n\
                      {\"id\": 4, \"amount\": 9999999999.99, \"at\": \"2024-01-04T00:00:00\"}\n\
                      {\"id\": 5, \"amount\": 1.25, \"at\": \"2024-01-05T00:00:00\"}\n";
        let (out, failed) = run(&engine, &dir, MONEY, "in.ndjson", ndjson, true)?;
        let failed = failed.unwrap();
        assert_eq!(texts(&out, "id"), ["1", "5"]);
        assert_eq!(texts(&out, "rounded"), ["10.84", "1.35"].map(places));
        assert_eq!(texts(&failed, "_row"), ["1", "2", "3"]);
        assert_eq!(texts(&failed, "id"), ["2", "3", "4"]);
        assert_eq!(texts(&failed, "_node"), ["null", "null", "inverse"]);
        let path = dir.join("in.ndjson").display().to_string();
        assert_eq!(
            texts(&failed, "_error"),
            [
                format!("{path}: line 2, column 'amount': cannot read '123456789012345678901.5' as Decimal128(12, 2)"),
                format!("{path}: line 3, column 'amount': cannot read 'lots' as Decimal128(12, 2)"),
                "Node 'inverse' failed on item 3: Arrow error: Divide by zero error".to_string(),
            ]
        );
    }
);

engine_test!(
    fn sql_over_a_declared_decimal_is_datafusion_sql_over_the_column(engine) {
        let dir = TempDir::new(&format!("declared-sql-{}", engine.name()));
        let amounts = arrow::array::Decimal128Array::from(vec![1000, 2050, -99_999_999_999])
            .with_precision_and_scale(12, 2)
            .unwrap();
        let batch = RecordBatch::try_from_iter([("amount", Arc::new(amounts) as arrow::array::ArrayRef)]).unwrap();
        let input = dir.join("in.parquet");
        crate::parquet::write_parquet(&input, &batch);
        let pipeline = "[inputs]\namount = \"decimal(12, 2)\"\n\n[[nodes]]\nname = \"eur\"\nsql = \"amount * CAST('1.0837' AS DECIMAL(10, 4))\"\n";
        std::fs::write(dir.join("p.toml"), pipeline).unwrap();
        // (No nulls: the node engine refuses a null for a type without one; issue 29.)
        // Declared only (no file to read the type from) and over the file's schema.
        for columns in [None, Some(batch.schema())] {
            let file = load(&dir.join("p.toml"), &Registry::new(), columns.as_deref())?;
            let node = hypernodes::engine::columnar::ExprNode::find(&file.pipeline.nodes()[0]).unwrap();
            assert_eq!(node.input_type("amount"), Some(&arrow::datatypes::DataType::Decimal128(12, 2)));
            assert_eq!(node.data_type(), &arrow::datatypes::DataType::Decimal128(23, 6));
        }
        let file = load(&dir.join("p.toml"), &Registry::new(), Some(&batch.schema()))?;
        FileRun::new(file.pipeline, &input, dir.join("out.parquet")).with_engine(choice(&engine)).with_select(["eur"]).run()?;
        let ours = read_parquet(&dir.join("out.parquet"));
        let theirs = crate::real_files::sql(&input, "SELECT amount * CAST('1.0837' AS DECIMAL(10, 4)) AS eur FROM t");
        assert_eq!(ours.column(0).data_type(), theirs.column(0).data_type());
        assert_eq!(ours.column(0).as_ref(), theirs.column(0).as_ref());
        assert_eq!(texts(&ours, "eur"), ["10.837000", "22.215850", "-1083699999.989163"]);
    }
);
