//! Column-level recompute in incremental runs: when only some nodes changed, a rerun
//! computes those nodes and the ones downstream of them, reads the other columns from
//! the previous output, and writes what a full run of the new pipeline writes; the
//! nodes upstream are not called (counted); the plan says so and is what the run does;
//! the cases where it cannot are computed whole and say why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow::array::RecordBatch;
use hypernodes::io::{Action, EngineChoice, FileDecision, FileRun, Format, Location, Reason};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};

use crate::parquet::{TempDir, choice, read_parquet};

/// The calls of `counted_clean`, by the tag bound in the test's pipeline (tests run at
/// once).
static CALLS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn calls(tag: &str) -> usize {
    CALLS.lock().unwrap().get(tag).copied().unwrap_or(0)
}

#[node(output = "cleaned_text")]
fn counted_clean(passage: &str, tag: &str) -> String {
    *CALLS.lock().unwrap().entry(tag.to_string()).or_default() += 1;
    passage.trim().to_lowercase()
}

/// Two versions of one Rust node: the second with a `version` bump and another body.
mod v1 {
    use hypernodes::prelude::*;

    #[node(output = "word_count")]
    pub fn count(cleaned_text: &str) -> i64 {
        cleaned_text.split_whitespace().count() as i64
    }
}

mod v2 {
    use hypernodes::prelude::*;

    #[node(output = "word_count", version = "2")]
    pub fn count(cleaned_text: &str) -> i64 {
        10 * cleaned_text.split_whitespace().count() as i64
    }
}

/// The pipeline: a counted Rust node, a Rust node reading it, an SQL node reading that,
/// and an SQL node reading a bound value. `TAG` is replaced by the test's tag.
const PIPELINE: &str = r#"
name = "cols"

[inputs]
id = "i64"
passage = "string"
value = "f64"

[bind]
tag = "TAG"
weight = 2.0

[run]
select = ["id", "cleaned_text", "word_count", "score", "weighted"]

[[nodes]]
function = "counted_clean"

[[nodes]]
function = "count"

[[nodes]]
name = "score"
sql = "value * word_count"

[[nodes]]
name = "weighted"
sql = "value * weight"
"#;

/// Two Parquet files of 300 rows run into `out/` (of `format`) with the state in
/// `state/`, in batches of 128 rows.
struct Cols {
    dir: TempDir,
    engine: EngineChoice,
    tag: String,
    format: Format,
}

impl Cols {
    fn new(test: &str, engine: &std::sync::Arc<dyn hypernodes::Engine>, format: Format) -> Cols {
        let tag = format!("{test}-{}-{format}", engine.name());
        let cols = Cols {
            dir: TempDir::new(&format!("cols-{tag}")),
            engine: choice(engine),
            tag,
            format,
        };
        std::fs::create_dir_all(cols.dir.join("in")).unwrap();
        for (file, seed) in [("a.parquet", 1), ("b.parquet", 2)] {
            hypernodes::datagen::write_docs(&cols.dir.join("in").join(file), 300, seed).unwrap();
        }
        cols
    }

    /// The inputs as Arrow IPC files of batches of 70 rows: read in batches that are
    /// not the previous output's.
    fn arrow_inputs(self) -> Cols {
        for file in ["a.parquet", "b.parquet"] {
            let path = self.dir.join("in").join(file);
            let rows = read_parquet(&path);
            let arrow = std::fs::File::create(path.with_extension("arrow")).unwrap();
            let mut writer = arrow::ipc::writer::FileWriter::try_new(arrow, &rows.schema()).unwrap();
            for at in (0..rows.num_rows()).step_by(70) {
                writer.write(&rows.slice(at, 70.min(rows.num_rows() - at))).unwrap();
            }
            writer.finish().unwrap();
            std::fs::remove_file(path).unwrap();
        }
        self
    }

    /// The run of `pipeline` (with `count` as the node `count`) into `out`.
    fn run_into(&self, pipeline: &str, count: Node, out: &str) -> FileRun {
        let path = self.dir.join("pipeline.toml");
        std::fs::write(&path, pipeline.replace("TAG", &self.tag)).unwrap();
        let mut registry = Registry::new();
        registry.register(counted_clean::node()).register(count);
        let file = load(&path, &registry, None).unwrap();
        FileRun::new(file.pipeline, self.dir.join("in"), self.dir.join(out))
            .with_engine(self.engine)
            .with_select(file.select.unwrap())
            .with_output_format(self.format)
            .with_batch_rows(128)
    }

    /// The incremental run of `pipeline` into `out/`.
    fn run(&self, pipeline: &str, count: Node) -> FileRun {
        self.run_into(pipeline, count, "out").with_state(self.dir.join("state"))
    }

    fn output(&self, dir: &str, file: &str) -> PathBuf {
        let name = Path::new(file).with_extension(self.format.extensions()[0]);
        self.dir.join(dir).join(name)
    }

    /// Plans the run, runs it, checks the plan is what it did, and that a run of the
    /// same again skips every file (the state recorded the new outputs); returns the
    /// decisions.
    fn rerun(&self, pipeline: &str, count: fn() -> Node) -> Vec<FileDecision> {
        let run = self.run(pipeline, count());
        let planned = run.plan_incremental().unwrap();
        let done = run.run().unwrap().incremental.unwrap();
        assert_eq!(planned, done.decisions, "the plan is what the run did");
        let again = self.run(pipeline, count()).run().unwrap().incremental.unwrap();
        assert_eq!(again.skipped.len(), 2, "{:?}", again.decisions);
        planned
    }

    /// Each output is what a full run of `pipeline` (without a state) writes: the same
    /// rows, columns and types.
    fn outputs_are_full_runs_of(&self, pipeline: &str, count: Node) {
        self.run_into(pipeline, count, "full").run().unwrap();
        for file in ["a.parquet", "b.parquet"] {
            let (got, want) = (self.output("out", file), self.output("full", file));
            match self.format {
                Format::Parquet => assert_eq!(read_parquet(&got), read_parquet(&want), "{file}"),
                Format::Arrow => assert_eq!(read_arrow(&got), read_arrow(&want), "{file}"),
                _ => assert_eq!(
                    std::fs::read_to_string(&got).unwrap(),
                    std::fs::read_to_string(&want).unwrap(),
                    "{file}"
                ),
            }
        }
    }
}

fn read_arrow(path: &Path) -> RecordBatch {
    let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// What each file's decision was: its action, its columns, its reasons.
fn what(decisions: &[FileDecision]) -> Vec<(Action, Vec<String>, Vec<Reason>)> {
    decisions
        .iter()
        .map(|d| (d.action, d.columns.clone(), d.reasons.clone()))
        .collect()
}

fn each(action: Action, columns: &[&str], reasons: Vec<Reason>) -> Vec<(Action, Vec<String>, Vec<Reason>)> {
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    vec![(action, columns, reasons); 2]
}

fn first_run(cols: &Cols, pipeline: &str) {
    let first = cols.run(pipeline, v1::count::node()).run().unwrap();
    assert_eq!(first.incremental.unwrap().computed.len(), 2);
    assert_eq!(calls(&cols.tag), 600);
}

engine_test! {
    fn an_sql_node_changed_recomputes_only_its_column(engine) {
        let cols = Cols::new("sql", &engine, Format::Parquet);
        first_run(&cols, PIPELINE);
        let changed = PIPELINE.replace("value * word_count", "value * word_count + 1");
        let run = cols.run(&changed, v1::count::node());
        let planned = run.plan_incremental()?;
        assert_eq!(what(&planned), each(Action::Recompute, &["score"], vec![Reason::NodeCodeChanged("score".into())]));
        let out = cols.output("out", "a.parquet");
        assert_eq!(
            planned[0].to_string(),
            format!("recompute {} -> {}: columns score (node `score`'s code changed)", cols.dir.join("in/a.parquet").display(), out.display())
        );
        let summary = run.run()?;
        assert_eq!((summary.rows_in, summary.rows_out), (600, 600));
        let done = summary.incremental.unwrap();
        assert_eq!(done.decisions, planned);
        assert_eq!(done.to_string(), "files: 0 computed, 2 recomputed (columns score), 0 skipped, 0 removed");
        // The upstream Rust node was not called.
        assert_eq!(calls(&cols.tag), 600);
        cols.outputs_are_full_runs_of(&changed, v1::count::node());
        assert_eq!(calls(&cols.tag), 1200);
        // Recorded: nothing to do now.
        let again = cols.run(&changed, v1::count::node()).run()?.incremental.unwrap();
        assert_eq!((again.skipped.len(), again.recomputed.len()), (2, 0));
    }
}

engine_test! {
    fn a_rust_node_version_bump_recomputes_it_and_downstream_not_upstream(engine) {
        let cols = Cols::new("rust", &engine, Format::Parquet);
        first_run(&cols, PIPELINE);
        let planned = cols.rerun(PIPELINE, v2::count::node);
        assert_eq!(what(&planned), each(Action::Recompute, &["word_count", "score"], vec![Reason::NodeCodeChanged("count".into())]));
        assert_eq!(calls(&cols.tag), 600);
        cols.outputs_are_full_runs_of(PIPELINE, v2::count::node());
        // The values: ten times the words, and the score of them.
        let out = read_parquet(&cols.output("out", "a.parquet"));
        let full = read_parquet(&cols.output("full", "a.parquet"));
        assert_eq!(out.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(), ["id", "cleaned_text", "word_count", "score", "weighted"]);
        let words = out.column(2).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
        assert!(words.iter().all(|w| w.unwrap() % 10 == 0));
        assert_eq!(out, full);
    }
}

engine_test! {
    fn a_bound_value_changed_recomputes_the_node_reading_it(engine) {
        let cols = Cols::new("bind", &engine, Format::Parquet);
        first_run(&cols, PIPELINE);
        let changed = PIPELINE.replace("weight = 2.0", "weight = 3.0");
        let planned = cols.rerun(&changed, v1::count::node);
        assert_eq!(what(&planned), each(Action::Recompute, &["weighted"], vec![Reason::BoundValueChanged("weight".into())]));
        assert_eq!(calls(&cols.tag), 600);
        cols.outputs_are_full_runs_of(&changed, v1::count::node());
    }
}

engine_test! {
    fn a_node_added_is_the_only_one_computed(engine) {
        let cols = Cols::new("added", &engine, Format::Parquet);
        first_run(&cols, PIPELINE);
        let changed = PIPELINE.replace(r#""weighted"]"#, r#""weighted", "double_score"]"#)
            + "\n[[nodes]]\nname = \"double_score\"\nsql = \"score * 2\"\n";
        let planned = cols.rerun(&changed, v1::count::node);
        assert_eq!(what(&planned), each(Action::Recompute, &["double_score"], vec![Reason::NodeAdded("double_score".into()), Reason::SelectionChanged]));
        assert_eq!(calls(&cols.tag), 600);
        cols.outputs_are_full_runs_of(&changed, v1::count::node());
    }
}

engine_test! {
    fn a_column_selected_that_was_not_written_is_computed_upstream(engine) {
        let cols = Cols::new("select", &engine, Format::Parquet);
        let narrow = PIPELINE.replace(r#""id", "cleaned_text", "#, r#""id", "#);
        first_run(&cols, &narrow);
        // `cleaned_text` is selected again: its node, unchanged, is computed (it is not
        // in the previous output), and only it.
        let planned = cols.rerun(PIPELINE, v1::count::node);
        assert_eq!(what(&planned), each(Action::Recompute, &["cleaned_text"], vec![Reason::SelectionChanged]));
        assert_eq!(calls(&cols.tag), 1200);
        cols.outputs_are_full_runs_of(PIPELINE, v1::count::node());
        // The other way: narrowed again, nothing is computed, the columns are read back.
        let planned = cols.rerun(&narrow, v1::count::node);
        assert_eq!(what(&planned), each(Action::Recompute, &[], vec![Reason::SelectionChanged]));
        assert_eq!(planned[0].to_string().split(": ").nth(1), Some("no columns (selection changed)"));
        assert_eq!(calls(&cols.tag), 1800);
        cols.outputs_are_full_runs_of(&narrow, v1::count::node());
    }
}

engine_test! {
    fn a_changed_node_reading_an_unwritten_column_computes_the_whole_file(engine) {
        let cols = Cols::new("unwritten", &engine, Format::Parquet);
        // Only `id` and `score` written: a new `count` needs `cleaned_text`, computed
        // again, and nothing is left to read from the previous output.
        let narrow = PIPELINE.replace(r#"["id", "cleaned_text", "word_count", "score", "weighted"]"#, r#"["id", "score"]"#);
        first_run(&cols, &narrow);
        let planned = cols.rerun(&narrow, v2::count::node);
        assert_eq!(what(&planned), each(Action::Compute, &[], vec![Reason::NodeCodeChanged("count".into())]));
        assert_eq!(calls(&cols.tag), 1200);
        cols.outputs_are_full_runs_of(&narrow, v2::count::node());
    }
}

#[test]
fn every_output_format_is_recomputed_by_column_and_equals_a_full_run() {
    for engine in [
        std::sync::Arc::new(hypernodes::NodeEngine::new()) as std::sync::Arc<dyn hypernodes::Engine>,
        std::sync::Arc::new(hypernodes::ColumnarEngine::new()),
    ] {
        for format in Format::ALL {
            let cols = Cols::new("formats", &engine, format).arrow_inputs();
            first_run(&cols, PIPELINE);
            let changed = PIPELINE.replace("value * word_count", "value * word_count + 1");
            let planned = cols.rerun(&changed, v1::count::node);
            assert_eq!(
                what(&planned),
                each(
                    Action::Recompute,
                    &["score"],
                    vec![Reason::NodeCodeChanged("score".into())]
                ),
                "{format}"
            );
            assert_eq!(calls(&cols.tag), 600, "{format}");
            cols.outputs_are_full_runs_of(&changed, v1::count::node());
        }
    }
}

engine_test! {
    fn a_carried_string_a_changed_node_reads_from_csv_computes_the_whole_file(engine) {
        // CSV writes an empty string and a null alike: `cleaned_text`, read by the new
        // `count`, cannot be read back from it; `score` (a float) could.
        let cols = Cols::new("csv-string", &engine, Format::Csv);
        first_run(&cols, PIPELINE);
        let planned = cols.rerun(PIPELINE, v2::count::node);
        let why = Reason::WholeFile("column `cleaned_text` (Utf8) does not read back exactly from CSV".into());
        assert_eq!(what(&planned), each(Action::Compute, &[], vec![Reason::NodeCodeChanged("count".into()), why]));
        assert_eq!(calls(&cols.tag), 1200);
        cols.outputs_are_full_runs_of(PIPELINE, v2::count::node());
    }
}

engine_test! {
    fn an_output_edited_by_hand_is_computed_whole(engine) {
        let cols = Cols::new("edited", &engine, Format::Parquet);
        first_run(&cols, PIPELINE);
        let out = cols.output("out", "b.parquet");
        hypernodes::datagen::write_docs(&out, 10, 9).unwrap();
        let changed = PIPELINE.replace("value * word_count", "value * word_count + 1");
        let planned = cols.rerun(&changed, v1::count::node);
        let code = Reason::NodeCodeChanged("score".into());
        assert_eq!(what(&planned), [
            (Action::Recompute, vec!["score".to_string()], vec![code.clone()]),
            (Action::Compute, vec![], vec![code, Reason::OutputChanged(Location::local(&out))]),
        ]);
        assert_eq!(calls(&cols.tag), 900);
        cols.outputs_are_full_runs_of(&changed, v1::count::node());
    }
}

engine_test! {
    fn failed_rows_collected_compute_the_whole_file(engine) {
        let cols = Cols::new("collect", &engine, Format::Parquet);
        let run = |pipeline: &str| {
            cols.run(pipeline, v1::count::node())
                .with_config(RunConfig::new().with_on_error(OnError::Collect))
                .with_failed(cols.dir.join("failed"))
        };
        assert_eq!(run(PIPELINE).run()?.incremental.unwrap().computed.len(), 2);
        let changed = PIPELINE.replace("value * word_count", "value * word_count + 1");
        let planned = run(&changed).plan_incremental()?;
        let why = Reason::WholeFile("failed rows are collected".into());
        assert_eq!(what(&planned), each(Action::Compute, &[], vec![Reason::NodeCodeChanged("score".into()), why]));
        assert!(planned[0].to_string().ends_with("(node `score`'s code changed; whole file: failed rows are collected)"), "{}", planned[0]);
        assert_eq!(run(&changed).run()?.incremental.unwrap().decisions, planned);
        assert_eq!(calls(&cols.tag), 1200);
    }
}
