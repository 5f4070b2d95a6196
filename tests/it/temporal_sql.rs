//! Dates and times in pipeline files: DataFusion's date/time SQL functions, results in
//! the expression's own Arrow type, CSV and NDJSON columns parsed as the declared type
//! (or an error naming the line and the column), and the registry's `parse_timestamp`,
//! `truncate_timestamp` and `hash_hex`, on both engines.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Int32Type, Time32SecondType, TimeUnit, TimestampMicrosecondType,
    TimestampNanosecondType,
};
use chrono::NaiveDate;
use hypernodes::Engine;
use hypernodes::io::{FileRun, Format, read_schema};
use hypernodes::spec::{Registry, load};

use crate::parquet::{TempDir, choice};

/// The rows of an Arrow IPC file.
fn read_arrow(path: &Path) -> RecordBatch {
    let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// `pipeline` (a pipeline file's text) over the file `input` (named `name`, holding
/// `text`) on `engine`, written as Arrow IPC: the rows written, or the error.
fn run(
    engine: &Arc<dyn Engine>,
    dir: &TempDir,
    pipeline: &str,
    name: &str,
    text: &str,
) -> hypernodes::Result<RecordBatch> {
    let input = dir.join(name);
    std::fs::write(&input, text).unwrap();
    let path = dir.join("p.toml");
    std::fs::write(&path, pipeline).unwrap();
    let schema = read_schema(&input, Format::of(&input))?;
    let file = load(&path, &Registry::new(), Some(&schema))?;
    let output = dir.join("out.arrow");
    let mut run = FileRun::new(file.pipeline, input, &output).with_engine(choice(engine));
    if let Some(select) = file.select {
        run = run.with_select(select);
    }
    run.run()?;
    Ok(read_arrow(&output))
}

fn micros(t: &str) -> i64 {
    t.parse::<chrono::NaiveDateTime>().unwrap().and_utc().timestamp_micros()
}

fn days(d: &str) -> i32 {
    d.parse::<NaiveDate>().unwrap().to_epoch_days()
}

const SQL: &str = r#"
[inputs]
ts = "timestamp"
day = "date"

[run]
select = ["hour", "hour_start", "day_of_month", "quarter_hour", "next_day", "parsed", "as_date", "nanos", "new_york", "date64", "seconds"]

[[nodes]]
name = "hour"
sql = "extract(hour from ts)"

[[nodes]]
name = "hour_start"
sql = "date_trunc('hour', ts)"

[[nodes]]
name = "day_of_month"
sql = "date_part('day', day)"

[[nodes]]
name = "quarter_hour"
sql = "date_bin(INTERVAL '15 minutes', ts)"

[[nodes]]
name = "next_day"
sql = "ts + INTERVAL '1 day'"

[[nodes]]
name = "parsed"
sql = "to_timestamp(text)"

[[nodes]]
name = "as_date"
sql = "CAST(ts AS DATE)"

[[nodes]]
name = "nanos"
sql = "CAST(ts AS TIMESTAMP(9))"

[[nodes]]
name = "new_york"
sql = "arrow_cast(ts, 'Timestamp(Microsecond, Some(\"America/New_York\"))')"

[[nodes]]
name = "date64"
sql = "arrow_cast(day, 'Date64')"

[[nodes]]
name = "seconds"
sql = "arrow_cast(ts, 'Time32(Second)')"
"#;

const CSV: &str = "id,ts,day,text\n\
                   1,2024-03-10T01:37:45.5,2024-02-28,2024-01-01T00:00:00.25\n\
                   2,2024-12-31 23:59:59,2024-02-29,2024-06-30 12:00:00\n";

engine_test!(
    fn sql_date_functions_give_columns_of_their_own_arrow_type(engine) {
        let dir = TempDir::new(&format!("temporal-sql-{}", engine.name()));
        let out = run(&engine, &dir, SQL, "in.csv", CSV)?;
        let column = |name: &str| out.column_by_name(name).unwrap().clone();
        assert_eq!(column("hour").as_primitive::<Int32Type>().values(), &[1, 23]);
        assert_eq!(
            column("hour_start").as_primitive::<TimestampMicrosecondType>().values(),
            &[micros("2024-03-10T01:00:00"), micros("2024-12-31T23:00:00")]
        );
        assert_eq!(column("day_of_month").as_primitive::<Int32Type>().values(), &[28, 29]);
        assert_eq!(
            column("quarter_hour").as_primitive::<TimestampMicrosecondType>().values(),
            &[micros("2024-03-10T01:30:00"), micros("2024-12-31T23:45:00")]
        );
        assert_eq!(
            column("next_day").as_primitive::<TimestampMicrosecondType>().values(),
            &[micros("2024-03-11T01:37:45.5"), micros("2025-01-01T23:59:59")]
        );
        assert_eq!(
            column("as_date").as_primitive::<Date32Type>().values(),
            &[days("2024-03-10"), days("2024-12-31")]
        );
        // Nanoseconds, a zone, a Date64, seconds of the day: the expression's own types
        // (DataFusion takes a timestamp without a zone cast to one as that zone's time).
        let parsed = column("parsed");
        assert_eq!(parsed.data_type(), &DataType::Timestamp(TimeUnit::Nanosecond, None));
        assert_eq!(
            parsed.as_primitive::<TimestampNanosecondType>().values(),
            &[micros("2024-01-01T00:00:00.25") * 1_000, micros("2024-06-30T12:00:00") * 1_000]
        );
        let nanos = column("nanos");
        assert_eq!(
            nanos.as_primitive::<TimestampNanosecondType>().values(),
            &[micros("2024-03-10T01:37:45.5") * 1_000, micros("2024-12-31T23:59:59") * 1_000]
        );
        let new_york = column("new_york");
        assert_eq!(
            new_york.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("America/New_York".into()))
        );
        assert_eq!(
            new_york.as_primitive::<TimestampMicrosecondType>().values(),
            &[micros("2024-03-10T06:37:45.5"), micros("2025-01-01T04:59:59")]
        );
        assert_eq!(
            column("date64").as_primitive::<Date64Type>().values(),
            &[i64::from(days("2024-02-28")) * 86_400_000, i64::from(days("2024-02-29")) * 86_400_000]
        );
        assert_eq!(
            column("seconds").as_primitive::<Time32SecondType>().values(),
            &[3_600 + 37 * 60 + 45, 86_399]
        );
    }
);

engine_test!(
    fn a_result_finer_than_its_rust_type_fails_its_row(engine) {
        let dir = TempDir::new(&format!("temporal-sql-fraction-{}", engine.name()));
        let pipeline = "[inputs]\ntext = \"string\"\n\n[[nodes]]\nname = \"parsed\"\nsql = \"to_timestamp(text)\"\n";
        let csv = "text\n2024-01-01T00:00:00.5\n2024-01-01T00:00:00.123456789\n";
        let err = run(&engine, &dir, pipeline, "in.csv", csv).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'parsed' failed on item 1: `to_timestamp(text)` holds 2024-01-01T00:00:00.123456789, which is \
             not a whole microsecond (timestamps are read in microseconds)"
        );
        assert_eq!(dir.files(), ["in.csv", "p.toml"]);
    }
);

const DECLARED: &str = r#"
[inputs]
day = "date"
ts = "timestamp"
at = "timestamp[us, UTC]"
t = "time"

[[nodes]]
name = "next"
sql = "day + INTERVAL '1 day'"

[[nodes]]
name = "second"
sql = "date_part('second', ts)"

[[nodes]]
name = "utc_hour"
sql = "extract(hour from at)"

[[nodes]]
name = "minute"
sql = "extract(minute from t)"
"#;

engine_test!(
    fn csv_and_ndjson_columns_parse_as_their_declared_types(engine) {
        let dir = TempDir::new(&format!("temporal-csv-{}", engine.name()));
        let mut csv = String::from("id,day,ts,at,t\n");
        // Whole seconds in the records the types are inferred from, then a fraction.
        for i in 0..1_100 {
            let fraction = if i == 1_050 { ".25" } else { "" };
            csv.push_str(&format!(
                "{i},2024-02-29,2024-03-10 01:30:45{fraction},2024-03-10T01:30:45+02:00,12:34:56\n"
            ));
        }
        let out = run(&engine, &dir, DECLARED, "in.csv", &csv)?;
        assert_eq!(out.num_rows(), 1_100);
        assert_eq!(out.column_by_name("day").unwrap().data_type(), &DataType::Date32);
        let ts = out.column_by_name("ts").unwrap();
        assert_eq!(ts.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(
            ts.as_primitive::<TimestampMicrosecondType>().value(1_050),
            micros("2024-03-10T01:30:45.25")
        );
        let next = out.column_by_name("next").unwrap().as_primitive::<Date32Type>();
        assert_eq!(next.value(0), days("2024-03-01"));
        let second = out.column_by_name("second").unwrap().as_primitive::<Int32Type>();
        assert_eq!((second.value(0), second.value(1_050)), (45, 45));
        let hour = out.column_by_name("utc_hour").unwrap().as_primitive::<Int32Type>();
        assert_eq!(hour.value(0), 23);
        let minute = out.column_by_name("minute").unwrap().as_primitive::<Int32Type>();
        assert_eq!(minute.value(0), 34);

        let ndjson = "{\"day\": \"2024-02-29\", \"ts\": \"2024-03-10T01:30:45.25\", \"at\": \
                      \"2024-03-10T01:30:45Z\", \"t\": \"12:34:56\"}\n";
        let out = run(&engine, &dir, DECLARED, "in.ndjson", ndjson)?;
        let next = out.column_by_name("next").unwrap().as_primitive::<Date32Type>();
        assert_eq!(next.value(0), days("2024-03-01"));
        let hour = out.column_by_name("utc_hour").unwrap().as_primitive::<Int32Type>();
        assert_eq!(hour.value(0), 1);
    }
);

#[test]
fn a_value_that_is_not_of_its_declared_type_names_the_file_line_and_column() {
    let dir = TempDir::new("temporal-csv-bad");
    let engine: Arc<dyn Engine> = Arc::new(hypernodes::ColumnarEngine::new());
    let row = "2024-02-29,2024-03-10T01:30:45,2024-03-10T01:30:45Z,12:34:56";
    let cases = [
        (
            "2024-02-30,2024-03-10T01:30:45,2024-03-10T01:30:45Z,12:34:56",
            "line 4, column 'day': cannot read '2024-02-30' as Date32",
        ),
        (
            "2024-02-29,2024-03-10T25:30:45,2024-03-10T01:30:45Z,12:34:56",
            "line 4, column 'ts': cannot read '2024-03-10T25:30:45' as Timestamp(µs)",
        ),
        (
            "2024-02-29,2024-03-10T01:30:45,yesterday,12:34:56",
            "line 4, column 'at': cannot read 'yesterday' as Timestamp(µs, \"UTC\")",
        ),
        (
            "2024-02-29,2024-03-10T01:30:45,2024-03-10T01:30:45Z,24:00:01",
            "line 4, column 't': cannot read '24:00:01' as Time64(ns)",
        ),
    ];
    for (bad, message) in cases {
        let csv = format!("day,ts,at,t\n{row}\n{row}\n{bad}\n{row}\n");
        std::fs::write(dir.join("out.arrow"), "previous").unwrap();
        let err = run(&engine, &dir, DECLARED, "in.csv", &csv).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: {message}", dir.join("in.csv").display()));
        // Nothing half-written: the previous output as it was.
        assert_eq!(std::fs::read_to_string(dir.join("out.arrow")).unwrap(), "previous");
        assert_eq!(dir.files(), ["in.csv", "out.arrow", "p.toml"]);
    }
    let ndjson = "{\"day\": \"2024-02-29\", \"ts\": \"2024-03-10T01:30:45\", \"at\": \"2024-03-10T01:30:45Z\", \"t\": \
                  \"12:34:56\"}\n{\"day\": \"2024-02-30\", \"ts\": \"2024-03-10T01:30:45\", \"at\": \
                  \"2024-03-10T01:30:45Z\", \"t\": \"12:34:56\"}\n";
    let err = run(&engine, &dir, DECLARED, "in.ndjson", ndjson).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 2, column 'day': cannot read '2024-02-30' as Date32",
            dir.join("in.ndjson").display()
        )
    );
    // Arrow's CSV reader parses no durations.
    let pipeline = "[inputs]\nwait = \"duration[s]\"\n\n[[nodes]]\nname = \"w\"\nsql = \"wait\"\n";
    let err = run(&engine, &dir, pipeline, "in.csv", "wait\nPT1S\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: column 'wait' has type Utf8, but node 'w' reads it as TimeDelta",
            dir.join("in.csv").display()
        )
    );
}

const CLEANING: &str = r#"
[inputs]
ts = "timestamp"

[bind]
format = "%d/%m/%Y %H:%M"
unit = "week"

[run]
select = ["parsed", "bucket", "hash"]

[[nodes]]
function = "parse_timestamp"
inputs = { text = "raw" }
output = "parsed"

[[nodes]]
function = "truncate_timestamp"
inputs = { timestamp = "ts" }

[[nodes]]
function = "hash_hex"
inputs = { text = "email" }
"#;

engine_test!(
    fn registry_functions_parse_bucket_and_hash(engine) {
        let dir = TempDir::new(&format!("temporal-registry-{}", engine.name()));
        let csv = "raw,ts,email\n10/03/2024 01:30,2024-03-10T13:47:59.000005,a@x.org\n\
                   01/01/2025 00:00,2024-12-31T23:59:59,b@x.org\n";
        let out = run(&engine, &dir, CLEANING, "in.csv", csv)?;
        assert_eq!(
            out.column(0).as_primitive::<TimestampMicrosecondType>().values(),
            &[micros("2024-03-10T01:30:00"), micros("2025-01-01T00:00:00")]
        );
        // Weeks start on Monday.
        assert_eq!(
            out.column(1).as_primitive::<TimestampMicrosecondType>().values(),
            &[micros("2024-03-04T00:00:00"), micros("2024-12-30T00:00:00")]
        );
        let hashes: Vec<&str> = out.column(2).as_string::<i32>().iter().map(Option::unwrap).collect();
        assert_eq!(
            hashes,
            [blake3::hash(b"a@x.org").to_hex().as_str(), blake3::hash(b"b@x.org").to_hex().as_str()]
        );

        // A text that does not match its format fails its row.
        let csv = "raw,ts,email\n10/03/2024 01:30,2024-03-10T13:47:59,a\n31/02/2024 00:00,2024-03-10T13:47:59,b\n";
        let err = run(&engine, &dir, CLEANING, "in.csv", csv).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'parse_timestamp' failed on item 1: '31/02/2024 00:00' is not a timestamp of the format \
             '%d/%m/%Y %H:%M' (input is out of range)"
        );
        // An unknown unit.
        let csv = "raw,ts,email\n10/03/2024 01:30,2024-03-10T13:47:59,a\n";
        let err = run(&engine, &dir, &CLEANING.replace("\"week\"", "\"weeks\""), "in.csv", csv).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Node 'truncate_timestamp' failed on item 0: unknown unit 'weeks'. Units: minute, hour, day, week, month"
        );
    }
);

#[test]
fn the_clock_is_not_a_per_row_value() {
    let text = "[inputs]\nts = \"timestamp\"\n\n[[nodes]]\nname = \"age\"\nsql = \"now() - ts\"\n";
    let err = hypernodes::spec::load_str(text, Path::new("p.toml"), &Registry::new(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "p.toml:4: node 'age': `now() - ts`: 'now' reads the clock: a node's `sql` computes one value per row, \
         from that row alone; bind the time as a string in [bind] and read it with to_timestamp"
    );
}
