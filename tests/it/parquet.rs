//! Parquet in, Parquet out (`FileRun`): results against an independent computation on
//! both engines, bounded memory, directories, atomic output, and every bad input.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use hypernodes::Engine;
use hypernodes::datagen::{docs_block, write_docs};
use hypernodes::io::{EngineChoice, FileRun, parse_compression};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A fresh directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hypernodes-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// The names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        files_in(&self.0)
    }
}

/// The names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every row of a Parquet file, in one batch.
/// `batch` as the Parquet file `path`.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// The pipeline file `toml`, with the functions of `registry`, run on `engine` over
/// `batch` written to Parquet in a fresh directory `name`: the pipeline loaded (typed by
/// the file's schema) and the output columns `select` read back.
pub fn run_pipeline_file(
    engine: &Arc<dyn Engine>,
    name: &str,
    toml: &str,
    registry: &Registry,
    batch: &RecordBatch,
    select: &[&str],
) -> hypernodes::Result<(Pipeline, RecordBatch)> {
    let dir = TempDir::new(&format!("{name}-{}", engine.name()));
    let input = dir.join("in.parquet");
    write_parquet(&input, batch);
    let path = dir.join("p.toml");
    std::fs::write(&path, toml).unwrap();
    let file = load(&path, registry, Some(&batch.schema()))?;
    FileRun::new(file.pipeline.clone(), input, dir.join("out.parquet"))
        .with_engine(choice(engine))
        .with_select(select.iter().copied())
        .run()?;
    Ok((file.pipeline, read_parquet(&dir.join("out.parquet"))))
}

pub fn read_parquet(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

pub fn choice(engine: &Arc<dyn Engine>) -> EngineChoice {
    engine.name().parse().unwrap()
}

/// The W3 pipeline file of `examples/`.
pub fn text_toml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/text.toml")
}

/// Checks a W3 output against the input, computed here without hypernodes.
fn check_w3(input: &Path, output: &Path) {
    let inp = read_parquet(input);
    let out = read_parquet(output);
    let names: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "word_count", "score"]);
    assert_eq!(out.num_rows(), inp.num_rows());
    assert_eq!(out.column(0).as_ref(), inp.column(0).as_ref());
    let passages = inp.column(1).as_string::<i32>();
    let values = inp.column(2).as_primitive::<Float64Type>();
    let counts = out.column(1).as_primitive::<Int64Type>();
    let scores = out.column(2).as_primitive::<Float64Type>();
    for row in 0..inp.num_rows() {
        let words = passages.value(row).split_whitespace().count() as i64;
        assert_eq!(counts.value(row), words, "row {row}");
        assert_eq!(scores.value(row), values.value(row) * words as f64, "row {row}");
    }
}

engine_test!(
    fn w3_from_the_pipeline_file(engine) {
        let dir = TempDir::new(&format!("w3-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 2_500, 7)?;
        let file = load(&text_toml(), &Registry::new(), None)?;
        let summary = FileRun::new(file.pipeline, dir.join("docs.parquet"), dir.join("out.parquet"))
            .with_engine(choice(&engine))
            .with_select(file.select.unwrap())
            .with_batch_rows(1_000)
            .run()?;
        assert_eq!((summary.rows_in, summary.rows_out, summary.batches), (2_500, 2_500, 3));
        assert_eq!(summary.files, [dir.join("out.parquet")]);
        check_w3(&dir.join("docs.parquet"), &dir.join("out.parquet"));
        // Only the output is left: no temporary file.
        assert_eq!(dir.files(), ["docs.parquet", "out.parquet"]);
    }
);

engine_test!(
    fn memory_stays_under_the_limit_for_a_file_many_times_larger(engine) {
        let dir = TempDir::new(&format!("mem-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 30_000, 3)?;
        let limit = 1 << 20;
        let size = std::fs::metadata(dir.join("docs.parquet")).unwrap().len();
        assert!(size > 6 * limit, "the input ({size} bytes) is more than 6x the limit");
        let file = load(&text_toml(), &Registry::new(), None)?;
        let summary = FileRun::new(file.pipeline, dir.join("docs.parquet"), dir.join("out.parquet"))
            .with_engine(choice(&engine))
            .with_select(file.select.unwrap())
            .with_memory_limit(limit)
            .run()?;
        assert_eq!(summary.rows_out, 30_000);
        assert!(summary.batches >= 10, "{} batches", summary.batches);
        assert!(summary.peak_memory <= limit, "peak {} over the limit {limit}", summary.peak_memory);
        assert!(summary.peak_memory > 0);
        check_w3(&dir.join("docs.parquet"), &dir.join("out.parquet"));
    }
);

engine_test!(
    fn a_directory_in_gives_a_directory_out(engine) {
        let dir = TempDir::new(&format!("dir-{}", engine.name()));
        std::fs::create_dir_all(dir.join("in")).unwrap();
        write_docs(&dir.join("in/a.parquet"), 300, 1)?;
        write_docs(&dir.join("in/b.parquet"), 200, 2)?;
        std::fs::write(dir.join("in/notes.txt"), "not data").unwrap();
        let file = load(&text_toml(), &Registry::new(), None)?;
        let summary = FileRun::new(file.pipeline, dir.join("in"), dir.join("out"))
            .with_engine(choice(&engine))
            .with_select(file.select.unwrap())
            .run()?;
        assert_eq!(summary.rows_out, 500);
        assert_eq!(summary.files, [dir.join("out/a.parquet"), dir.join("out/b.parquet")]);
        check_w3(&dir.join("in/a.parquet"), &dir.join("out/a.parquet"));
        check_w3(&dir.join("in/b.parquet"), &dir.join("out/b.parquet"));
    }
);

engine_test!(
    fn default_columns_are_the_input_columns_then_the_outputs(engine) {
        let dir = TempDir::new(&format!("cols-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 10, 1)?;
        let pipeline = Pipeline::try_new(vec![crate::common::clean_text::node(), crate::common::count_words::node()])?;
        FileRun::new(pipeline, dir.join("docs.parquet"), dir.join("out.parquet"))
            .with_engine(choice(&engine))
            .with_compression(parse_compression("zstd")?)
            .run()?;
        let out = read_parquet(&dir.join("out.parquet"));
        let names: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["id", "passage", "value", "sentences", "cleaned_text", "word_count"]);
        assert_eq!(out.column(5).data_type(), &DataType::UInt64);
        let meta = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(dir.join("out.parquet")).unwrap())
            .unwrap()
            .metadata()
            .clone();
        assert_eq!(meta.row_group(0).column(0).compression().to_string(), "ZSTD(ZstdLevel(1))");
    }
);

/// Fails on the row whose id is 250.
#[node(output = "checked")]
fn fail_at_250(id: i64) -> Result<i64, String> {
    if id == 250 {
        Err(format!("bad row {id}"))
    } else {
        Ok(id)
    }
}

engine_test!(
    fn a_failed_run_keeps_the_old_output_and_leaves_nothing_partial(engine) {
        let dir = TempDir::new(&format!("fail-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 1_000, 1)?;
        std::fs::write(dir.join("out.parquet"), "the previous output").unwrap();
        let err = FileRun::new(Pipeline::new([fail_at_250::node()]), dir.join("docs.parquet"), dir.join("out.parquet"))
            .with_engine(choice(&engine))
            .with_batch_rows(100)
            .run()
            .unwrap_err();
        // The item is the row of the file, not of its batch.
        assert_eq!(err.to_string(), "Node 'fail_at_250' failed on item 250: bad row 250");
        assert_eq!(std::fs::read_to_string(dir.join("out.parquet")).unwrap(), "the previous output");
        assert_eq!(dir.files(), ["docs.parquet", "out.parquet"]);
    }
);

/// Runs the W3 file from `input` into `dir/out.parquet`, expecting an error; checks
/// that no output was written.
fn w3_error(dir: &TempDir, input: &Path) -> String {
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let err = FileRun::new(file.pipeline, input, dir.join("out.parquet"))
        .with_select(file.select.unwrap())
        .run()
        .unwrap_err();
    assert!(!dir.join("out.parquet").exists());
    assert!(dir.files().iter().all(|f| !f.contains("tmp")), "{:?}", dir.files());
    err.to_string()
}

#[test]
fn missing_input() {
    let dir = TempDir::new("missing");
    let input = dir.join("nope.parquet");
    assert_eq!(
        w3_error(&dir, &input),
        format!(
            "Cannot read '{}': No such file or directory (os error 2)",
            input.display()
        )
    );
}

#[test]
fn empty_input() {
    let dir = TempDir::new("empty");
    let input = dir.join("empty.parquet");
    std::fs::write(&input, "").unwrap();
    assert_eq!(
        w3_error(&dir, &input),
        format!("{}: the file is empty (0 bytes), not a Parquet file", input.display())
    );
}

#[test]
fn input_not_parquet_or_without_its_footer() {
    let dir = TempDir::new("notparquet");
    let csv = dir.join("data.parquet");
    std::fs::write(&csv, "id,passage\n1,hello\n").unwrap();
    let truncated = dir.join("docs.parquet");
    write_docs(&truncated, 2_000, 1).unwrap();
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    for input in [csv, truncated] {
        assert_eq!(
            w3_error(&dir, &input),
            format!(
                "{}: not a readable Parquet file (Parquet error: Invalid Parquet file. Corrupt footer)",
                input.display()
            )
        );
    }
}

#[test]
fn truncated_inside_the_data() {
    // The footer is intact but a data page is cut: the error comes mid-stream.
    let dir = TempDir::new("corrupt");
    let input = dir.join("docs.parquet");
    write_docs(&input, 2_000, 1).unwrap();
    let mut bytes = std::fs::read(&input).unwrap();
    for b in &mut bytes[100..20_000] {
        *b = 0xff;
    }
    std::fs::write(&input, &bytes).unwrap();
    let message = w3_error(&dir, &input);
    assert!(
        message.starts_with(&format!("{}: cannot read (", input.display())),
        "{message}"
    );
}

/// A file like the data set's, but with `passage` of another type or missing.
fn odd_file(path: &Path, passage: Option<DataType>) {
    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    let mut columns: Vec<Arc<dyn Array>> = vec![Arc::new(Int64Array::from(vec![1, 2]))];
    match passage {
        Some(DataType::Int64) => {
            fields.push(Field::new("passage", DataType::Int64, false));
            columns.push(Arc::new(Int64Array::from(vec![3, 4])));
        }
        Some(_) => unreachable!(),
        None => {
            fields.push(Field::new("text", DataType::Utf8, false));
            columns.push(Arc::new(StringArray::from(vec!["a", "b"])));
        }
    }
    fields.push(Field::new("value", DataType::Float64, false));
    columns.push(Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.0])));
    write_parquet(
        path,
        &RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap(),
    );
}

/// The error of running `clean_text` from `input` to `output`.
fn clean_text_error(input: &Path, output: &Path) -> String {
    let pipeline = Pipeline::new([crate::common::clean_text::node()]);
    FileRun::new(pipeline, input, output).run().unwrap_err().to_string()
}

#[test]
fn wrong_column_type() {
    let dir = TempDir::new("wrongtype");
    let input = dir.join("odd.parquet");
    odd_file(&input, Some(DataType::Int64));
    // The pipeline file declares passage a string; the file has integers.
    let err = load(
        &text_toml(),
        &Registry::new(),
        Some(&hypernodes::io::read_schema(&input, hypernodes::io::Format::Parquet).unwrap()),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:12: input 'passage' is declared string but the input column has type i64",
            text_toml().display()
        )
    );
    // A Rust pipeline reading it as a string.
    assert_eq!(
        clean_text_error(&input, &dir.join("out.parquet")),
        format!(
            "{}: column 'passage' has type Int64, but node 'clean_text' reads it as String",
            input.display()
        )
    );
    assert!(!dir.join("out.parquet").exists());
}

#[test]
fn missing_column() {
    let dir = TempDir::new("missingcol");
    let input = dir.join("odd.parquet");
    odd_file(&input, None);
    assert_eq!(
        clean_text_error(&input, &dir.join("out.parquet")),
        format!(
            "{}: no column 'passage', which node 'clean_text' reads. Columns: id, text, value",
            input.display()
        )
    );
    assert!(!dir.join("out.parquet").exists());
}

#[test]
fn unwritable_output() {
    let dir = TempDir::new("unwritable");
    let input = dir.join("docs.parquet");
    write_docs(&input, 10, 1).unwrap();
    let output = dir.join("no/such/dir/out.parquet");
    let err = FileRun::new(Pipeline::new([crate::common::clean_text::node()]), &input, &output)
        .run()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Cannot create '{}': No such file or directory (os error 2)",
            output.display()
        )
    );
    let err = FileRun::new(Pipeline::new([crate::common::clean_text::node()]), &input, &input)
        .run()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "The output '{}' is the input file; choose another output",
            input.display()
        )
    );
}

#[test]
fn a_file_without_rows_gives_a_file_without_rows() {
    let dir = TempDir::new("norows");
    let input = dir.join("docs.parquet");
    write_docs(&input, 0, 1).unwrap();
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let summary = FileRun::new(file.pipeline, &input, dir.join("out.parquet"))
        .with_select(file.select.unwrap())
        .run()
        .unwrap();
    assert_eq!(summary.rows_out, 0);
    let meta = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(dir.join("out.parquet")).unwrap()).unwrap();
    let names: Vec<String> = meta.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "word_count", "score"]);
}

#[test]
fn generated_data_is_deterministic_and_follows_the_spec() {
    let a = docs_block(1_000, 42, 0);
    assert_eq!(a, docs_block(1_000, 42, 0));
    assert_ne!(a, docs_block(1_000, 43, 0));
    let passages = a.column(1).as_string::<i32>();
    for p in passages.iter().flatten() {
        let lead = p.len() - p.trim_start().len();
        let trail = p.len() - p.trim_end().len();
        assert!(lead <= 3 && trail <= 3, "{p:?}");
        let words: Vec<&str> = p.split_whitespace().collect();
        assert!((5..=40).contains(&words.len()));
        assert!(
            words
                .iter()
                .all(|w| w.len() == 5 && (w.starts_with('w') || w.starts_with('W')) && w[1..].parse::<u32>().is_ok())
        );
        assert_eq!(p.trim().split(' ').count(), words.len(), "single spaces: {p:?}");
    }
    let values = a.column(2).as_primitive::<Float64Type>();
    assert!(values.values().iter().all(|v| (0.0..100.0).contains(v)));
    let sentences = a.column(3).as_list::<i32>();
    for row in 0..a.num_rows() {
        let s = sentences.value(row);
        assert!((1..=8).contains(&s.len()));
        for sentence in s.as_string::<i32>().iter().flatten() {
            assert!((3..=12).contains(&sentence.split(' ').count()));
            assert_eq!(sentence, sentence.to_lowercase());
        }
    }
    // Blocks continue the ids.
    let b = docs_block(150_000, 42, 1);
    assert_eq!(b.num_rows(), 50_000);
    assert_eq!(b.column(0).as_primitive::<Int64Type>().value(0), 100_000);
}

engine_test!(
    fn nested_outputs_nothing_consumes_are_written_only_when_selected(engine) {
        let dir = TempDir::new(&format!("nested-select-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 50, 11)?;
        // `stats` returns words and chars; only words is read by `twice`.
        let words = Node::builder("words").params(["passage"]).output("words").build(|p: String| p.split_whitespace().count() as i64)?;
        let chars = Node::builder("chars").params(["passage"]).output("chars").build(|p: String| p.chars().count() as i64)?;
        let stats = Pipeline::new([words, chars]).as_node("stats").build()?;
        let twice = Node::builder("twice").params(["words"]).output("twice").build(|w: i64| 2 * w)?;
        let pipeline = Pipeline::new([stats, twice]);
        // By default: the input columns, then what a run returns (not `chars`).
        FileRun::new(pipeline.clone(), dir.join("docs.parquet"), dir.join("all.parquet"))
            .with_engine(choice(&engine))
            .run()?;
        let out = read_parquet(&dir.join("all.parquet"));
        let names: Vec<&str> = out.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "passage", "value", "sentences", "twice", "words"]);
        // Selected, `chars` is computed and written.
        FileRun::new(pipeline, dir.join("docs.parquet"), dir.join("some.parquet"))
            .with_engine(choice(&engine))
            .with_select(["id", "chars", "twice"])
            .run()?;
        let out = read_parquet(&dir.join("some.parquet"));
        let inp = read_parquet(&dir.join("docs.parquet"));
        let passages = inp.column(1).as_string::<i32>();
        let chars = out.column(1).as_primitive::<Int64Type>();
        let twice = out.column(2).as_primitive::<Int64Type>();
        for row in 0..50 {
            assert_eq!(chars.value(row), passages.value(row).chars().count() as i64);
            assert_eq!(twice.value(row), 2 * passages.value(row).split_whitespace().count() as i64);
        }
    }
);

// ---------------------------------------------------------------------------------------
// Executors and failed rows (`with_config`, `with_failed`).

/// A file of `rows` rows, `id` (its row index) and `text` (`"t<id>"`), in row groups of
/// `group_rows` rows.
fn ids_file(path: &Path, rows: i64, group_rows: usize) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("t{i}")))),
        ],
    )
    .unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    let meta = w.close().unwrap();
    assert_eq!(meta.row_groups().len(), (rows as usize).div_ceil(group_rows));
}

/// Fails on the ids `7k + 3`.
#[node(output = "checked")]
fn check(id: i64) -> Result<i64, String> {
    if id % 7 == 3 {
        Err(format!("bad id {id}"))
    } else {
        Ok(10 * id)
    }
}

/// Fails on the ids `11k + 5` (that `check` let through).
#[node(output = "label")]
fn label(text: &str, checked: i64) -> Result<String, String> {
    if (checked / 10) % 11 == 5 {
        Err(format!("no label for {text}"))
    } else {
        Ok(format!("{text}:{checked}"))
    }
}

/// The rows of 0..45 that `check` and `label` fail on, with the failing node.
fn failing() -> Vec<(i64, &'static str)> {
    (0..45)
        .filter_map(|id| match () {
            _ if id % 7 == 3 => Some((id, "check")),
            _ if id % 11 == 5 => Some((id, "label")),
            _ => None,
        })
        .collect()
}

fn ints(batch: &RecordBatch, column: &str) -> Vec<i64> {
    batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

fn texts(batch: &RecordBatch, column: &str) -> Vec<String> {
    let c = batch.column_by_name(column).unwrap();
    c.as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect()
}

fn field_names(batch: &RecordBatch) -> Vec<String> {
    batch.schema().fields().iter().map(|f| f.name().clone()).collect()
}

fn collect() -> RunConfig {
    RunConfig::new().with_on_error(OnError::Collect)
}

engine_test!(
    fn collect_writes_the_good_rows_out_and_the_failed_rows_aside(engine) {
        let dir = TempDir::new(&format!("collect-{}", engine.name()));
        // 45 rows in 5 row groups of 10 (the last of 5), read in batches of 4 (3 a group, 2
        // in the last) by 3 workers.
        ids_file(&dir.join("ids.parquet"), 45, 10);
        let failing = failing();
        assert_eq!(
            failing,
            [(3, "check"), (5, "label"), (10, "check"), (16, "label"), (17, "check"), (24, "check"), (27, "label"), (31, "check"), (38, "check")]
        );
        let good: Vec<i64> = (0..45).filter(|id| failing.iter().all(|(f, _)| f != id)).collect();
        assert_eq!(good.len(), 36);
        let pipeline = Pipeline::new([check::node(), label::node()]);
        let mut files = Vec::new();
        for executor in ["sequential", "threaded:4", "parallel:3", "async:4"] {
            let (out, failed) = (dir.join(&format!("out-{executor}.parquet")), dir.join(&format!("failed-{executor}.parquet")));
            let summary = FileRun::new(pipeline.clone(), dir.join("ids.parquet"), &out)
                .with_engine(choice(&engine))
                .with_select(["id", "checked", "label"])
                .with_config(collect().try_with_map_executor(executor).unwrap())
                .with_failed(&failed)
                .with_batch_rows(4)
                .with_partitions(3)
                .run()?;
            assert_eq!(
                (summary.rows_in, summary.rows_out, summary.failed_rows, summary.batches),
                (45, 36, 9, 14),
                "{executor}"
            );
            assert_eq!(summary.files, std::slice::from_ref(&out));
            assert_eq!(summary.failed_files, std::slice::from_ref(&failed));
            assert!(summary.to_string().contains(&format!("; 9 failed rows -> {}; checksum: ", failed.display())));

            // The good rows, in order, with their outputs.
            let o = read_parquet(&out);
            assert_eq!(field_names(&o), ["id", "checked", "label"]);
            assert_eq!(ints(&o, "id"), good, "{executor}");
            assert_eq!(ints(&o, "checked"), good.iter().map(|id| 10 * id).collect::<Vec<_>>());
            assert_eq!(texts(&o, "label"), good.iter().map(|id| format!("t{id}:{}", 10 * id)).collect::<Vec<_>>());
            assert_eq!(summary.int_sum, good.iter().map(|id| 11 * *id as i128).sum::<i128>());

            // The failed rows: the columns read, then where and why.
            let f = read_parquet(&failed);
            assert_eq!(field_names(&f), ["id", "text", "_row", "_node", "_error"]);
            let types: Vec<&DataType> = f.schema_ref().fields().iter().map(|f| f.data_type()).collect();
            assert_eq!(types, [&DataType::Int64, &DataType::Utf8, &DataType::UInt64, &DataType::Utf8, &DataType::Utf8]);
            let ids: Vec<i64> = failing.iter().map(|(id, _)| *id).collect();
            assert_eq!(ints(&f, "id"), ids, "{executor}");
            assert_eq!(texts(&f, "text"), ids.iter().map(|id| format!("t{id}")).collect::<Vec<_>>());
            let rows: Vec<u64> = f.column_by_name("_row").unwrap().as_primitive::<arrow::datatypes::UInt64Type>().values().to_vec();
            assert_eq!(rows, ids.iter().map(|id| *id as u64).collect::<Vec<_>>());
            assert_eq!(texts(&f, "_node"), failing.iter().map(|(_, n)| n.to_string()).collect::<Vec<_>>());
            let errors: Vec<String> = failing
                .iter()
                .map(|&(id, node)| match node {
                    "check" => format!("Node 'check' failed on item {id}: bad id {id}"),
                    _ => format!("Node 'label' failed on item {id}: no label for t{id}"),
                })
                .collect();
            assert_eq!(texts(&f, "_error"), errors, "{executor}");
            files.push((std::fs::read(&out).unwrap(), std::fs::read(&failed).unwrap()));
        }
        // Every executor writes the same bytes.
        assert!(files.iter().all(|f| *f == files[0]));
        assert!(dir.files().iter().all(|f| !f.contains("tmp")), "{:?}", dir.files());
    }
);

engine_test!(
    fn collect_without_failures_writes_a_side_file_without_rows(engine) {
        let dir = TempDir::new(&format!("collect-none-{}", engine.name()));
        ids_file(&dir.join("ids.parquet"), 3, 10);
        let summary = FileRun::new(Pipeline::new([check::node()]), dir.join("ids.parquet"), dir.join("out.parquet"))
            .with_engine(choice(&engine))
            .with_select(["id", "checked"])
            .with_config(collect())
            .with_failed(dir.join("failed.parquet"))
            .run()?;
        assert_eq!((summary.rows_in, summary.rows_out, summary.failed_rows), (3, 3, 0));
        assert_eq!(summary.failed_files, [dir.join("failed.parquet")]);
        assert!(summary.to_string().contains(&format!(
            "; 0 failed rows -> {}; checksum: integers 33, floats 0.000000",
            dir.join("failed.parquet").display()
        )));
        let meta = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(dir.join("failed.parquet")).unwrap()).unwrap();
        assert_eq!(meta.metadata().file_metadata().num_rows(), 0);
        let fields: Vec<(String, DataType, bool)> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
            .collect();
        // `text` is not read (not selected, read by no node), so it is not there.
        assert_eq!(
            fields,
            [
                ("id".to_string(), DataType::Int64, false),
                ("_row".to_string(), DataType::UInt64, false),
                // Null for a record of a CSV or NDJSON file that did not decode.
                ("_node".to_string(), DataType::Utf8, true),
                ("_error".to_string(), DataType::Utf8, false),
            ]
        );
        assert_eq!(dir.files(), ["failed.parquet", "ids.parquet", "out.parquet"]);
    }
);

/// Fails on rows 22 and 23 (one batch of 4 rows: 20..24), 30 and 41 (later row groups).
#[node(output = "late")]
fn late(id: i64) -> Result<i64, String> {
    if [22, 23, 30, 41].contains(&id) {
        Err(format!("late {id}"))
    } else {
        Ok(id)
    }
}

engine_test!(
    fn fail_names_the_first_failing_row_and_writes_nothing(engine) {
        let dir = TempDir::new(&format!("fail-first-{}", engine.name()));
        ids_file(&dir.join("ids.parquet"), 45, 10);
        for executor in ["sequential", "threaded:4", "parallel:3", "async:4"] {
            let err = FileRun::new(Pipeline::new([late::node()]), dir.join("ids.parquet"), dir.join("out.parquet"))
                .with_engine(choice(&engine))
                .with_config(RunConfig::new().try_with_map_executor(executor).unwrap())
                .with_batch_rows(4)
                .with_partitions(3)
                .run()
                .unwrap_err();
            assert_eq!(err.to_string(), "Node 'late' failed on item 22: late 22", "{executor}");
            assert_eq!(dir.files(), ["ids.parquet"]);
        }
    }
);

engine_test!(
    fn collect_over_a_directory_writes_a_side_file_per_input_file(engine) {
        let dir = TempDir::new(&format!("collect-dir-{}", engine.name()));
        std::fs::create_dir_all(dir.join("in")).unwrap();
        ids_file(&dir.join("in/a.parquet"), 12, 5);
        ids_file(&dir.join("in/b.parquet"), 5, 5);
        let summary = FileRun::new(Pipeline::new([check::node()]), dir.join("in"), dir.join("out"))
            .with_engine(choice(&engine))
            .with_config(collect().with_map_executor(Executor::parallel()))
            .with_failed(dir.join("failed"))
            .with_batch_rows(3)
            .run()?;
        assert_eq!((summary.rows_in, summary.rows_out, summary.failed_rows), (17, 14, 3));
        assert_eq!(summary.failed_files, [dir.join("failed/a.parquet"), dir.join("failed/b.parquet")]);
        assert_eq!(ints(&read_parquet(&dir.join("out/a.parquet")), "id"), [0, 1, 2, 4, 5, 6, 7, 8, 9, 11]);
        assert_eq!(ints(&read_parquet(&dir.join("out/b.parquet")), "id"), [0, 1, 2, 4]);
        // `_row` counts the rows of each file.
        for (file, rows) in [("a", vec![3u64, 10]), ("b", vec![3])] {
            let f = read_parquet(&dir.join(&format!("failed/{file}.parquet")));
            let got: Vec<u64> = f.column_by_name("_row").unwrap().as_primitive::<arrow::datatypes::UInt64Type>().values().to_vec();
            assert_eq!(got, rows);
            let errors: Vec<String> = rows.iter().map(|r| format!("Node 'check' failed on item {r}: bad id {r}")).collect();
            assert_eq!(texts(&f, "_error"), errors);
        }
    }
);

#[test]
fn a_collecting_run_that_fails_leaves_no_side_file() {
    // The input is corrupt mid-stream: the run fails, the old side file stays as it was.
    let dir = TempDir::new("collect-corrupt");
    let input = dir.join("docs.parquet");
    write_docs(&input, 2_000, 1).unwrap();
    let mut bytes = std::fs::read(&input).unwrap();
    for b in &mut bytes[100..20_000] {
        *b = 0xff;
    }
    std::fs::write(&input, &bytes).unwrap();
    std::fs::write(dir.join("failed.parquet"), "the previous failures").unwrap();
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    let err = FileRun::new(file.pipeline, &input, dir.join("out.parquet"))
        .with_select(file.select.unwrap())
        .with_config(collect())
        .with_failed(dir.join("failed.parquet"))
        .run()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read (", input.display())),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("failed.parquet")).unwrap(),
        "the previous failures"
    );
    assert_eq!(dir.files(), ["docs.parquet", "failed.parquet"]);
}

#[test]
fn failure_policy_and_side_file_mistakes() {
    let dir = TempDir::new("collect-errors");
    let input = dir.join("ids.parquet");
    ids_file(&input, 5, 10);
    let run = || FileRun::new(Pipeline::new([check::node()]), &input, dir.join("out.parquet"));
    let error = |run: FileRun| run.run().unwrap_err().to_string();
    assert_eq!(
        error(run().with_config(collect())),
        "on_error collect needs a file for the failed rows: set one with FileRun::with_failed"
    );
    // Collect set on the pipeline counts too.
    let collecting = Pipeline::new([check::node()]).with_config(collect());
    assert_eq!(
        error(FileRun::new(collecting, &input, dir.join("out.parquet"))),
        "on_error collect needs a file for the failed rows: set one with FileRun::with_failed"
    );
    assert_eq!(
        error(run().with_failed(dir.join("failed.parquet"))),
        format!(
            "The failed rows' file '{}' needs on_error collect: a run that fails writes no rows",
            dir.join("failed.parquet").display()
        )
    );
    assert_eq!(
        error(run().with_config(collect()).with_failed(dir.join("out.parquet"))),
        format!(
            "The failed rows' file '{}' is the output; choose another",
            dir.join("out.parquet").display()
        )
    );
    assert_eq!(
        error(run().with_config(collect()).with_failed(&input)),
        format!(
            "The failed rows' file '{}' is the input file; choose another",
            input.display()
        )
    );
    assert_eq!(dir.files(), ["ids.parquet"]);
}

#[test]
fn a_run_removes_the_temporary_files_of_killed_runs_only() {
    let dir = TempDir::new("orphans");
    write_docs(&dir.join("docs.parquet"), 100, 1).unwrap();
    // A process that is gone: a child that has exited.
    let gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    let mut gone = gone;
    gone.wait().unwrap();
    let orphan = format!(".out.parquet.{gone_pid}.tmp");
    std::fs::write(dir.join(&orphan), "partial").unwrap();
    std::fs::write(dir.join(&format!(".other.csv.{gone_pid}.tmp")), "partial").unwrap();
    // Files of live processes (this one, and process 1) and other names stay.
    let mine = format!(".elsewhere.parquet.{}.tmp", std::process::id());
    std::fs::write(dir.join(&mine), "being written").unwrap();
    std::fs::write(dir.join(".out.parquet.1.tmp"), "being written").unwrap();
    std::fs::write(dir.join(".notes.tmp"), "not ours").unwrap();
    let file = load(&text_toml(), &Registry::new(), None).unwrap();
    FileRun::new(file.pipeline, dir.join("docs.parquet"), dir.join("out.parquet"))
        .with_select(file.select.unwrap())
        .run()
        .unwrap();
    let mut expected = vec![
        ".notes.tmp".to_string(),
        ".out.parquet.1.tmp".into(),
        mine,
        "docs.parquet".into(),
        "out.parquet".into(),
    ];
    expected.sort();
    assert_eq!(dir.files(), expected);
}
