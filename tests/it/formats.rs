//! CSV, NDJSON and Arrow in and out (`FileRun` with formats): the same rows and
//! checksums as Parquet on both engines, streaming under the memory limit, and every bad
//! input named by file, line and column, with nothing left behind.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use hypernodes::datagen::write_docs;
use hypernodes::events::{Callback, Context};
use hypernodes::io::{FileRun, Format, RunSummary, read_schema};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};

use crate::parquet::{TempDir, choice, read_parquet, text_toml};

/// Every row of a file of any format, in one batch, read with Arrow's own readers (the
/// column types of CSV and NDJSON taken from `like`).
fn read_any(path: &Path, like: &RecordBatch) -> RecordBatch {
    let file = || std::fs::File::open(path).unwrap();
    let batches: Vec<RecordBatch> = match Format::of(path) {
        Format::Parquet => return read_parquet(path),
        Format::Csv => arrow::csv::ReaderBuilder::new(like.schema())
            .with_header(true)
            .build(file())
            .unwrap()
            .map(Result::unwrap)
            .collect(),
        Format::Ndjson => arrow::json::ReaderBuilder::new(like.schema())
            .build(std::io::BufReader::new(file()))
            .unwrap()
            .map(Result::unwrap)
            .collect(),
        Format::Arrow => arrow::ipc::reader::FileReader::try_new(file(), None)
            .unwrap()
            .map(Result::unwrap)
            .collect(),
    };
    concat_batches(&like.schema(), &batches).unwrap()
}

/// The columnar engine, for cases where the reader, not the engine, is tested.
fn columnar() -> Arc<dyn hypernodes::Engine> {
    Arc::new(hypernodes::ColumnarEngine::new())
}

/// W3 (`examples/text.toml`) from `input` into `output`, the file's types read from the
/// input.
fn w3(engine: &Arc<dyn hypernodes::Engine>, input: &Path, output: &Path) -> hypernodes::Result<RunSummary> {
    let columns = read_schema(input, Format::of(input))?;
    let file = load(&text_toml(), &Registry::new(), Some(&columns))?;
    FileRun::new(file.pipeline, input, output)
        .with_engine(choice(engine))
        .with_select(file.select.unwrap())
        .with_batch_rows(1_000)
        .run()
}

engine_test!(
    fn w3_from_every_format_equals_w3_from_parquet(engine) {
        let dir = TempDir::new(&format!("fmt-in-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 2_500, 7)?;
        let expected = w3(&engine, &dir.join("docs.parquet"), &dir.join("out.parquet"))?;
        let rows = read_parquet(&dir.join("out.parquet"));
        for name in ["docs.csv", "docs.ndjson", "docs.arrow"] {
            write_docs(&dir.join(name), 2_500, 7)?;
            let out = dir.join(&format!("out-{name}.parquet"));
            let summary = w3(&engine, &dir.join(name), &out)?;
            assert_eq!(
                (summary.rows_in, summary.rows_out, summary.batches, summary.int_sum, summary.float_sum),
                (2_500, 2_500, 3, expected.int_sum, expected.float_sum),
                "{name}"
            );
            // The same columns and values (CSV and NDJSON columns are all nullable).
            assert_eq!(read_parquet(&out).columns(), rows.columns(), "{name}");
        }
    }
);

engine_test!(
    fn outputs_in_every_format_hold_the_rows_of_the_parquet_output(engine) {
        let dir = TempDir::new(&format!("fmt-out-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 2_500, 7)?;
        let expected = w3(&engine, &dir.join("docs.parquet"), &dir.join("out.parquet"))?;
        let rows = read_parquet(&dir.join("out.parquet"));
        for name in ["out.csv", "out.ndjson", "out.arrow"] {
            let summary = w3(&engine, &dir.join("docs.parquet"), &dir.join(name))?;
            assert_eq!((summary.int_sum, summary.float_sum), (expected.int_sum, expected.float_sum));
            assert_eq!(read_any(&dir.join(name), &rows).columns(), rows.columns(), "{name}");
        }
        assert_eq!(dir.files(), ["docs.parquet", "out.arrow", "out.csv", "out.ndjson", "out.parquet"]);
    }
);

// A small CSV file through W3 into a CSV file: the text in and out, exactly.
engine_test!(
    fn csv_in_csv_out_exactly(engine) {
    let dir = TempDir::new(&format!("fmt-csv-text-{}", engine.name()));
    let input = dir.join("in.csv");
    std::fs::write(
        &input,
        "id,passage,value\n1,\"  Hello, World \",2.5\n2,\"a \"\"quoted\"\"\nword\",1\n3, ,4\n",
    )
    .unwrap();
    let summary = w3(&engine, &input, &dir.join("out.csv"))?;
    assert_eq!((summary.rows_in, summary.rows_out), (3, 3));
    assert_eq!(
        std::fs::read_to_string(dir.join("out.csv")).unwrap(),
        "id,word_count,score\n1,2,5.0\n2,3,3.0\n3,0,0.0\n"
    );
    }
);

fn csv_error(dir: &TempDir, text: &str) -> String {
    let input = dir.join("bad.csv");
    std::fs::write(&input, text).unwrap();
    let output = dir.join("out.parquet");
    std::fs::write(&output, "previous").unwrap();
    let engine = columnar();
    let err = w3(&engine, &input, &output).unwrap_err().to_string();
    // Nothing partial: the previous output as it was, no temporary file.
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "previous");
    assert_eq!(dir.files(), ["bad.csv", "out.parquet"]);
    err
}

#[test]
fn a_malformed_csv_row_names_the_file_line_and_column() {
    let dir = TempDir::new("fmt-csv-bad");
    let path = dir.join("bad.csv").display().to_string();
    // A value that is not a number, after a passage over two lines: line 5.
    assert_eq!(
        csv_error(&dir, "id,passage,value\n1,a b,1.5\n2,\"c\nd\",2\n3,e,abc\n4,f,3\n"),
        format!("{path}: line 5, column 'value': cannot read 'abc' as Float64")
    );
    // Too few fields on line 3.
    assert_eq!(
        csv_error(&dir, "id,passage,value\n1,a b,1.5\n2,c\n3,e,2\n"),
        format!("{path}: line 3: 2 fields, but the header has 3")
    );
    // A bad value far past the rows the types were inferred from, in a later batch.
    let mut text = String::from("id,passage,value\n");
    for i in 0..2_500 {
        text.push_str(&format!("{i},w{i},{}\n", if i == 2_200 { "1.5" } else { "1" }));
    }
    let id_error = {
        let input = dir.join("ids.csv");
        std::fs::write(&input, text.replace("2200,w2200", "2200.5,w2200")).unwrap();
        let engine = columnar();
        w3(&engine, &input, &dir.join("ids.parquet")).unwrap_err().to_string()
    };
    assert_eq!(
        id_error,
        format!(
            "{}: line 2202, column 'id': cannot read '2200.5' as Int64",
            dir.join("ids.csv").display()
        )
    );
    assert!(!dir.join("ids.parquet").exists());
    // Too many fields on a line past the rows the types were inferred from.
    let input = dir.join("wide.csv");
    std::fs::write(&input, text.replace("2300,w2300,1\n", "2300,w2300,1,9\n")).unwrap();
    let engine = columnar();
    assert_eq!(
        w3(&engine, &input, &dir.join("wide.parquet")).unwrap_err().to_string(),
        format!("{}: line 2302: 4 fields, but the header has 3", input.display())
    );
}

#[test]
fn a_malformed_ndjson_line_names_the_file_line_and_column() {
    let dir = TempDir::new("fmt-ndjson-bad");
    let input = dir.join("bad.ndjson");
    std::fs::write(
        &input,
        "{\"id\": 1, \"passage\": \"a b\", \"value\": 1.5}\n\n{\"id\": 2, \"passage\": \"c\", \"value\": 2}\n{\"id\": 3, \"passage\": \"e\", \"value\": \"x\"}\n",
    )
    .unwrap();
    let engine = columnar();
    let err = w3(&engine, &input, &dir.join("out.parquet")).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: line 4, column 'value': cannot read 'x' as Float64",
            input.display()
        )
    );
    assert_eq!(dir.files(), ["bad.ndjson"]);
}

engine_test!(
    fn an_arrow_file_of_many_blocks_with_a_dictionary_reads_as_its_parquet_twin(engine) {
        use arrow::array::{DictionaryArray, Int32Array, StringArray};
        use arrow::datatypes::Int32Type;
        // Blocks of 700, 0, 1,500 and 3 rows (an empty one too), a dictionary column
        // (one dictionary for the file), read in batches of 256: the blocks are read on
        // every worker and cut into batches.
        let dir = TempDir::new(&format!("fmt-blocks-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 2_203, 9)?;
        let docs = read_parquet(&dir.join("docs.parquet"));
        let tags: Arc<dyn arrow::array::Array> = Arc::new(StringArray::from(vec!["red", "green", "blue"]));
        let tag = |n: usize| -> Arc<dyn arrow::array::Array> {
            let keys = Int32Array::from_iter((0..n).map(|i| (i % 4 != 3).then_some((i % 3) as i32)));
            Arc::new(DictionaryArray::<Int32Type>::try_new(keys, tags.clone()).unwrap())
        };
        let with_tags = |b: RecordBatch| {
            let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
            fields.push(Arc::new(arrow::datatypes::Field::new(
                "tag",
                arrow::datatypes::DataType::Dictionary(
                    Box::new(arrow::datatypes::DataType::Int32),
                    Box::new(arrow::datatypes::DataType::Utf8),
                ),
                true,
            )));
            let mut columns = b.columns().to_vec();
            columns.push(tag(b.num_rows()));
            RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap()
        };
        let all = with_tags(docs.clone());
        let mut writer =
            arrow::ipc::writer::FileWriter::try_new(std::fs::File::create(dir.join("docs.arrow")).unwrap(), &all.schema())
                .unwrap();
        let mut at = 0;
        for n in [700, 0, 1_500, 3] {
            writer.write(&all.slice(at, n)).unwrap();
            at += n;
        }
        writer.finish().unwrap();
        let mut parquet =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(dir.join("tagged.parquet")).unwrap(), all.schema(), None)
                .unwrap();
        parquet.write(&all).unwrap();
        parquet.close().unwrap();

        let run = |input: &str, output: &str| {
            let columns = read_schema(&dir.join(input), Format::of(Path::new(input))).unwrap();
            let file = load(&text_toml(), &Registry::new(), Some(&columns)).unwrap();
            let mut select = file.select.unwrap();
            select.push("tag".into());
            FileRun::new(file.pipeline, dir.join(input), dir.join(output))
                .with_engine(choice(&engine))
                .with_select(select)
                .with_batch_rows(256)
                .with_partitions(2)
                .run()
                .unwrap()
        };
        let from_parquet = run("tagged.parquet", "out-parquet.arrow");
        let from_arrow = run("docs.arrow", "out-arrow.arrow");
        assert_eq!(
            (from_arrow.rows_in, from_arrow.batches, from_arrow.int_sum, from_arrow.float_sum),
            (2_203, 3 + 6 + 1, from_parquet.int_sum, from_parquet.float_sum)
        );
        let read = |name: &str| {
            let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(dir.join(name)).unwrap(), None).unwrap();
            let schema = reader.schema();
            concat_batches(&schema, &reader.map(Result::unwrap).collect::<Vec<_>>()).unwrap()
        };
        let (expected, got) = (read("out-parquet.arrow"), read("out-arrow.arrow"));
        // The same values (the dictionaries' keys may be numbered otherwise).
        let plain = |b: &RecordBatch| -> Vec<Arc<dyn arrow::array::Array>> {
            (b.columns().iter())
                .map(|c| match c.data_type() {
                    arrow::datatypes::DataType::Dictionary(..) => {
                        arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).unwrap()
                    }
                    _ => c.clone(),
                })
                .collect()
        };
        assert_eq!(plain(&got), plain(&expected));
        assert_eq!(got.num_rows(), 2_203);
        assert_eq!(got.schema().field_with_name("tag").unwrap(), all.schema().field_with_name("tag").unwrap());
    }
);

#[test]
fn empty_and_unreadable_files_of_each_format() {
    let dir = TempDir::new("fmt-empty");
    let engine = columnar();
    for (name, article) in [
        ("e.csv", "a CSV"),
        ("e.ndjson", "an NDJSON"),
        ("e.arrow", "an Arrow IPC"),
    ] {
        std::fs::write(dir.join(name), "").unwrap();
        assert_eq!(
            w3(&engine, &dir.join(name), &dir.join("out.parquet"))
                .unwrap_err()
                .to_string(),
            format!(
                "{}: the file is empty (0 bytes), not {article} file",
                dir.join(name).display()
            )
        );
    }
    std::fs::write(dir.join("t.arrow"), "id,passage\n").unwrap();
    assert_eq!(
        w3(&engine, &dir.join("t.arrow"), &dir.join("out.parquet"))
            .unwrap_err()
            .to_string(),
        format!(
            "{}: not a readable Arrow IPC file (Parser error: Arrow file does not contain correct footer)",
            dir.join("t.arrow").display()
        )
    );
    assert_eq!(dir.files(), ["e.arrow", "e.csv", "e.ndjson", "t.arrow"]);
}

#[test]
fn a_csv_with_a_header_only_gives_a_csv_with_a_header_only() {
    let dir = TempDir::new("fmt-header");
    std::fs::write(dir.join("in.csv"), "id,passage,value\n").unwrap();
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let summary = FileRun::new(file.pipeline, dir.join("in.csv"), dir.join("out.csv"))
        .with_select(file.select.unwrap())
        .run()
        .unwrap();
    assert_eq!((summary.rows_in, summary.rows_out), (0, 0));
    assert_eq!(
        std::fs::read_to_string(dir.join("out.csv")).unwrap(),
        "id,word_count,score\n"
    );
}

#[test]
fn formats_by_name_and_their_mistakes() {
    let dir = TempDir::new("fmt-choice");
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let run = |input: &str, output: &str| {
        FileRun::new(file.pipeline.clone(), dir.join(input), dir.join(output)).with_select(file.select.clone().unwrap())
    };
    write_docs(&dir.join("docs.csv"), 100, 1).unwrap();
    std::fs::copy(dir.join("docs.csv"), dir.join("docs.txt")).unwrap();
    // A name that says nothing: the format given.
    let summary = run("docs.txt", "out.data")
        .with_format(Format::Csv)
        .with_output_format(Format::Ndjson)
        .run()
        .unwrap();
    assert_eq!(summary.rows_out, 100);
    assert_eq!(
        std::fs::read_to_string(dir.join("out.data"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
        r#"{"id":0,"word_count":19,"score":1882.9318723281547}"#
    );
    // Without it, such a name is Parquet.
    assert_eq!(
        run("docs.txt", "out.parquet").run().unwrap_err().to_string(),
        format!(
            "{}: not a readable Parquet file (Parquet error: Invalid Parquet file. Corrupt footer)",
            dir.join("docs.txt").display()
        )
    );
    assert_eq!(
        "xls".parse::<Format>().unwrap_err().to_string(),
        "Unknown format 'xls'. Formats: parquet, csv, ndjson, arrow"
    );
    assert_eq!("JSONL".parse::<Format>().unwrap(), Format::Ndjson);
    assert_eq!(
        run("docs.csv", "out.csv")
            .with_compression(parquet::basic::Compression::SNAPPY)
            .run()
            .unwrap_err()
            .to_string(),
        format!(
            "Compression is for Parquet output; '{}' is written as csv, uncompressed",
            dir.join("out.csv").display()
        )
    );
    // CSV holds no lists: refused before anything is written.
    write_docs(&dir.join("docs.parquet"), 100, 1).unwrap();
    let err = FileRun::new(file.pipeline.clone(), dir.join("docs.parquet"), dir.join("lists.csv"))
        .run()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The output: CSV cannot hold column 'sentences' of type List(Utf8): select other columns, or write Parquet, NDJSON or Arrow"
    );
    assert!(!dir.join("lists.csv").exists());
    assert_eq!(dir.files(), ["docs.csv", "docs.parquet", "docs.txt", "out.data"]);
}

#[test]
fn directories_of_one_format_and_of_several() {
    let dir = TempDir::new("fmt-dirs");
    std::fs::create_dir_all(dir.join("in")).unwrap();
    write_docs(&dir.join("in/a.csv"), 300, 1).unwrap();
    write_docs(&dir.join("in/b.csv"), 200, 2).unwrap();
    std::fs::write(dir.join("in/notes.txt"), "not data").unwrap();
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let run = || {
        FileRun::new(file.pipeline.clone(), dir.join("in"), dir.join("out")).with_select(file.select.clone().unwrap())
    };
    // CSV in, Parquet out: each output named like its input, with the output's extension.
    let summary = run().with_output_format(Format::Parquet).run().unwrap();
    assert_eq!(summary.files, [dir.join("out/a.parquet"), dir.join("out/b.parquet")]);
    assert_eq!(summary.rows_out, 500);
    // By default the output is of the input's format.
    let summary = run().run().unwrap();
    assert_eq!(summary.files, [dir.join("out/a.csv"), dir.join("out/b.csv")]);
    write_docs(&dir.join("in/c.parquet"), 100, 3).unwrap();
    assert_eq!(
        run().run().unwrap_err().to_string(),
        format!(
            "The directory '{}' holds files of several formats (parquet, csv); choose one with --format",
            dir.join("in").display()
        )
    );
    let summary = run().with_format(Format::Parquet).run().unwrap();
    assert_eq!(summary.files, [dir.join("out/c.parquet")]);
    assert_eq!(
        run().with_format(Format::Ndjson).run().unwrap_err().to_string(),
        format!(
            "{}: the directory holds no .ndjson, .jsonl files",
            dir.join("in").display()
        )
    );
}

engine_test!(
    fn csv_streams_under_the_memory_limit(engine) {
        let dir = TempDir::new(&format!("fmt-mem-{}", engine.name()));
        write_docs(&dir.join("docs.csv"), 45_000, 3)?;
        write_docs(&dir.join("docs.parquet"), 45_000, 3)?;
        let limit = 1 << 20;
        let size = std::fs::metadata(dir.join("docs.csv")).unwrap().len();
        assert!(size > 6 * limit, "the input ({size} bytes) is more than 6x the limit");
        let file = load(&text_toml(), &Registry::new(), None)?;
        let run = |input: &str, output: &str| {
            FileRun::new(file.pipeline.clone(), dir.join(input), dir.join(output))
                .with_engine(choice(&engine))
                .with_select(file.select.clone().unwrap())
                .with_memory_limit(limit)
                .run()
        };
        let summary = run("docs.csv", "out.csv")?;
        assert_eq!(summary.rows_out, 45_000);
        assert!(summary.batches >= 10, "{} batches", summary.batches);
        assert!(summary.peak_memory <= limit, "peak {} over the limit {limit}", summary.peak_memory);
        let parquet = run("docs.parquet", "out.parquet")?;
        assert_eq!((summary.int_sum, summary.float_sum), (parquet.int_sum, parquet.float_sum));
    }
);

#[derive(Default)]
struct Rows {
    total: AtomicUsize,
    written: AtomicUsize,
}

impl Callback for Rows {
    fn on_map_start(&self, ctx: &Context, items: usize) {
        if ctx.depth() == 0 {
            self.total.fetch_add(items, Ordering::Relaxed);
        }
    }
    fn on_map_item_end(&self, ctx: &Context, items: std::ops::Range<usize>, _: std::time::Duration) {
        if ctx.depth() == 0 {
            self.written.fetch_add(items.len(), Ordering::Relaxed);
        }
    }
}

#[test]
fn callbacks_learn_the_rows_of_files_without_a_count() {
    let dir = TempDir::new("fmt-rows");
    // A passage over two lines is one row, a blank line none, and a last line without a
    // line break is a row.
    std::fs::write(dir.join("in.csv"), "id,passage,value\n1,\"a\nb\",1\n\n2,c,2\n3,d,3").unwrap();
    std::fs::write(
        dir.join("in.ndjson"),
        "{\"id\":1,\"passage\":\"a\",\"value\":1}\n\n{\"id\":2,\"passage\":\"b\",\"value\":2}\n",
    )
    .unwrap();
    write_docs(&dir.join("in.arrow"), 1_234, 5).unwrap();
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    for (name, rows) in [("in.csv", 3), ("in.ndjson", 2), ("in.arrow", 1_234)] {
        let counted = Arc::new(Rows::default());
        let summary = FileRun::new(file.pipeline.clone(), dir.join(name), dir.join("out.parquet"))
            .with_select(file.select.clone().unwrap())
            .with_batch_rows(500)
            .with_config(RunConfig::new().with_callback(counted.clone()))
            .run()
            .unwrap();
        assert_eq!(summary.rows_out, rows as u64, "{name}");
        assert_eq!(
            (
                counted.total.load(Ordering::Relaxed),
                counted.written.load(Ordering::Relaxed)
            ),
            (rows, rows),
            "{name}"
        );
    }
}
