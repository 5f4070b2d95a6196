//! Incremental file runs (`FileRun::with_state`, `run --state`): the files a rerun
//! computes, skips and removes the outputs of after each kind of change, on both
//! engines, with the outputs' exact contents; `plan_incremental` predicting exactly what
//! the run then does; outputs not computed left untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hypernodes::io::{Action, EngineChoice, FileDecision, FileRun, Format, Reason, State};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};

use crate::parquet::{TempDir, choice};

/// The pipeline of the matrix: an SQL node, a registry function, and an SQL node
/// reading a bound value.
const PIPELINE: &str = r#"
name = "inc"

[inputs]
id = "i64"
passage = "string"
value = "f64"

[bind]
weight = 2.0

[run]
select = ["id", "shout", "word_count", "score"]

[[nodes]]
name = "shout"
sql = "upper(passage)"

[[nodes]]
function = "count_words"
inputs = { text = "passage" }

[[nodes]]
name = "score"
sql = "value * weight"
"#;

const A: &str = "id,passage,value\n1,hello world,1.5\n2,one two three,2.0\n";
const B: &str = "id,passage,value\n3,big data,0.5\n4,small,4.0\n";
const C: &str = "id,passage,value\n5,x y z w,1.0\n";

/// The outputs of A, B and C with the pipeline as it is.
const OUT_A: &str = "id,shout,word_count,score\n1,HELLO WORLD,2,3.0\n2,ONE TWO THREE,3,4.0\n";
const OUT_B: &str = "id,shout,word_count,score\n3,BIG DATA,2,1.0\n4,SMALL,1,8.0\n";
const OUT_C: &str = "id,shout,word_count,score\n5,X Y Z W,4,2.0\n";

/// The time outputs are set to before a rerun: one the rerun leaves is still at it.
const OLD: Duration = Duration::from_secs(1_000_000);

/// A directory `in/` of CSV files a.csv, b.csv and c.csv run into `out/` with the state in
/// `state/`, on one engine.
struct Case {
    dir: TempDir,
    engine: EngineChoice,
}

/// What a rerun did, by file name.
#[derive(Debug, PartialEq)]
struct Done {
    computed: Vec<String>,
    /// The files recomputed by column, with the columns computed.
    recomputed: Vec<(String, Vec<String>)>,
    skipped: Vec<String>,
    removed: Vec<String>,
    /// The reasons of each input file computed or skipped with a reason.
    reasons: BTreeMap<String, Vec<Reason>>,
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

impl Case {
    /// The files written and run once: every file computed.
    fn new(test: &str, engine: &std::sync::Arc<dyn hypernodes::Engine>) -> Case {
        let case = Case {
            dir: TempDir::new(&format!("inc-{test}-{}", engine.name())),
            engine: choice(engine),
        };
        std::fs::create_dir_all(case.dir.join("in")).unwrap();
        for (file, text) in [("a.csv", A), ("b.csv", B), ("c.csv", C)] {
            case.write(file, text);
        }
        case.pipeline(PIPELINE);
        let first = case.rerun(case.run());
        assert_eq!(first.computed, ["a.csv", "b.csv", "c.csv"]);
        let new = vec![Reason::NewFile];
        assert_eq!(
            first.reasons,
            BTreeMap::from([
                ("a.csv".into(), new.clone()),
                ("b.csv".into(), new.clone()),
                ("c.csv".into(), new)
            ])
        );
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
        case
    }

    fn input(&self, file: &str) -> PathBuf {
        self.dir.join("in").join(file)
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.input(file), text).unwrap();
    }

    fn pipeline(&self, text: &str) {
        std::fs::write(self.dir.join("pipeline.toml"), text).unwrap();
    }

    /// The run of `pipeline.toml` over `in/` into `out/`, with the state in `state/`.
    fn run(&self) -> FileRun {
        let file = load(&self.dir.join("pipeline.toml"), &Registry::new(), None).unwrap();
        FileRun::new(file.pipeline, self.dir.join("in"), self.dir.join("out"))
            .with_engine(self.engine)
            .with_select(file.select.unwrap())
            .with_state(self.dir.join("state"))
    }

    /// Plans `run`, runs it, checks that it did what the plan said, that the outputs
    /// of the files skipped were not touched, that those computed were written and
    /// those removed are gone.
    fn rerun(&self, run: FileRun) -> Done {
        let out = self.dir.join("out");
        if out.is_dir() {
            for file in std::fs::read_dir(&out).unwrap() {
                let f = std::fs::File::options().write(true).open(file.unwrap().path()).unwrap();
                f.set_modified(SystemTime::UNIX_EPOCH + OLD).unwrap();
            }
        }
        let planned = run.plan_incremental().unwrap();
        let summary = run.run().unwrap();
        let files = summary.incremental.unwrap();
        assert_eq!(planned, files.decisions, "the plan is what the run did");
        let modified =
            |o: &hypernodes::io::Location| std::fs::metadata(o.as_path().unwrap()).and_then(|m| m.modified()).ok();
        let mut done = Done {
            computed: Vec::new(),
            recomputed: Vec::new(),
            skipped: Vec::new(),
            removed: Vec::new(),
            reasons: BTreeMap::new(),
        };
        for FileDecision {
            input,
            outputs,
            action,
            columns,
            reasons,
        } in planned
        {
            let input = name(input.as_path().unwrap());
            for o in &outputs {
                match action {
                    Action::Compute | Action::Recompute | Action::Resume => {
                        assert_ne!(modified(o), Some(SystemTime::UNIX_EPOCH + OLD), "{o} written")
                    }
                    Action::Skip => assert_eq!(modified(o), Some(SystemTime::UNIX_EPOCH + OLD), "{o} untouched"),
                    Action::Remove => {
                        assert_eq!(modified(o), None, "{o} removed");
                        done.removed.push(name(o.as_path().unwrap()));
                    }
                }
            }
            match action {
                Action::Compute => done.computed.push(input.clone()),
                Action::Recompute => done.recomputed.push((input.clone(), columns)),
                Action::Resume => panic!("{input} resumed"),
                Action::Skip => done.skipped.push(input.clone()),
                Action::Remove => assert_eq!(reasons, [Reason::InputGone]),
            }
            if action != Action::Remove && !reasons.is_empty() {
                done.reasons.insert(input, reasons);
            }
        }
        let names =
            |l: &[hypernodes::io::Location]| -> Vec<String> { l.iter().map(|l| name(l.as_path().unwrap())).collect() };
        assert_eq!(names(&files.computed), done.computed);
        let recomputed: Vec<String> = done.recomputed.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(names(&files.recomputed), recomputed);
        assert_eq!(names(&files.skipped), done.skipped);
        assert_eq!(names(&files.removed), done.removed);
        assert_eq!(summary.files.len(), done.computed.len() + done.recomputed.len());
        done
    }

    /// The output directory holds exactly these files, with exactly these contents.
    fn outputs_are(&self, files: &[(&str, &str)]) {
        let out = self.dir.join("out");
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| name(&e.unwrap().path()))
            .collect();
        names.sort();
        assert_eq!(names, files.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>());
        for (file, text) in files {
            assert_eq!(std::fs::read_to_string(out.join(file)).unwrap(), *text, "{file}");
        }
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Every file recomputed by column, the `columns`, each for `reasons`.
fn all_by_column(done: &Done, columns: &[&str], reasons: Vec<Reason>) {
    let each = |f: &str| (f.to_string(), strings(columns));
    assert_eq!(done.recomputed, [each("a.csv"), each("b.csv"), each("c.csv")]);
    assert!(done.computed.is_empty() && done.skipped.is_empty() && done.removed.is_empty());
    let each: BTreeMap<String, Vec<Reason>> = ["a.csv", "b.csv", "c.csv"]
        .iter()
        .map(|f| (f.to_string(), reasons.clone()))
        .collect();
    assert_eq!(done.reasons, each);
}

/// Every file computed, each for `reasons`.
fn all_for(done: &Done, reasons: Vec<Reason>) {
    assert_eq!(done.computed, strings(&["a.csv", "b.csv", "c.csv"]));
    assert!(done.skipped.is_empty() && done.removed.is_empty());
    let each: BTreeMap<String, Vec<Reason>> = done.computed.iter().map(|f| (f.clone(), reasons.clone())).collect();
    assert_eq!(done.reasons, each);
}

engine_test! {
    fn nothing_changed_computes_nothing_and_touches_no_output(engine) {
        let case = Case::new("same", &engine);
        let done = case.rerun(case.run());
        assert_eq!(done, Done {
            computed: vec![],
            recomputed: vec![],
            skipped: strings(&["a.csv", "b.csv", "c.csv"]),
            removed: vec![],
            reasons: BTreeMap::new(),
        });
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
    }
}

engine_test! {
    fn a_file_appended_is_the_only_one_computed(engine) {
        let case = Case::new("append", &engine);
        case.write("d.csv", "id,passage,value\n6,new one,10.0\n");
        let done = case.rerun(case.run());
        assert_eq!((done.computed, done.skipped), (strings(&["d.csv"]), strings(&["a.csv", "b.csv", "c.csv"])));
        assert_eq!(done.reasons, BTreeMap::from([("d.csv".into(), vec![Reason::NewFile])]));
        case.outputs_are(&[
            ("a.csv", OUT_A),
            ("b.csv", OUT_B),
            ("c.csv", OUT_C),
            ("d.csv", "id,shout,word_count,score\n6,NEW ONE,2,20.0\n"),
        ]);
    }
}

engine_test! {
    fn one_row_edited_recomputes_its_file_only(engine) {
        let case = Case::new("edit", &engine);
        case.write("b.csv", "id,passage,value\n3,big data,0.5\n4,small change,4.0\n");
        let done = case.rerun(case.run());
        assert_eq!((done.computed, done.skipped), (strings(&["b.csv"]), strings(&["a.csv", "c.csv"])));
        assert_eq!(done.reasons, BTreeMap::from([("b.csv".into(), vec![Reason::ContentChanged])]));
        case.outputs_are(&[
            ("a.csv", OUT_A),
            ("b.csv", "id,shout,word_count,score\n3,BIG DATA,2,1.0\n4,SMALL CHANGE,2,8.0\n"),
            ("c.csv", OUT_C),
        ]);
    }
}

engine_test! {
    fn a_file_deleted_has_its_output_removed(engine) {
        let case = Case::new("delete", &engine);
        std::fs::remove_file(case.input("c.csv")).unwrap();
        let done = case.rerun(case.run());
        assert_eq!(
            (done.computed, done.skipped, done.removed),
            (vec![], strings(&["a.csv", "b.csv"]), strings(&["c.csv"]))
        );
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B)]);
        // Gone from the state too: the next run has nothing to remove.
        let again = case.rerun(case.run());
        assert_eq!((again.skipped.len(), again.removed.len()), (2, 0));
    }
}

engine_test! {
    fn a_file_renamed_is_computed_under_its_new_name_and_the_old_output_removed(engine) {
        let case = Case::new("rename", &engine);
        std::fs::rename(case.input("a.csv"), case.input("z.csv")).unwrap();
        let done = case.rerun(case.run());
        assert_eq!(
            (done.computed, done.skipped, done.removed),
            (strings(&["z.csv"]), strings(&["b.csv", "c.csv"]), strings(&["a.csv"]))
        );
        case.outputs_are(&[("b.csv", OUT_B), ("c.csv", OUT_C), ("z.csv", OUT_A)]);
    }
}

engine_test! {
    fn a_file_touched_without_change_is_skipped_and_its_record_refreshed(engine) {
        let case = Case::new("touch", &engine);
        let f = std::fs::File::options().write(true).open(case.input("b.csv")).unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(60)).unwrap();
        let done = case.rerun(case.run());
        assert_eq!(done.skipped, strings(&["a.csv", "b.csv", "c.csv"]));
        assert_eq!(done.reasons, BTreeMap::from([("b.csv".into(), vec![Reason::Touched])]));
        // Refreshed: the next run sees no change at all.
        let again = case.rerun(case.run());
        assert_eq!((again.skipped.len(), again.reasons.len()), (3, 0));
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
    }
}

/// When the state's record of input `file` says its content was hashed (nanoseconds
/// since the epoch).
fn hashed_at(case: &Case, file: &str) -> u64 {
    let state = std::fs::read_dir(case.dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let key = std::path::absolute(case.input(file)).unwrap().display().to_string();
    state["files"][&key]["fingerprint"]["stat"]["hashed_ns"]
        .as_u64()
        .unwrap()
}

engine_test! {
    fn an_input_is_hashed_again_only_when_its_identity_changed(engine) {
        let case = Case::new("stat", &engine);
        // Hashed right after it was written: within a clock tick of its last change,
        // so hashed again by the next run (and not trusted on its metadata).
        let first = hashed_at(&case, "b.csv");
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(case.rerun(case.run()).skipped.len(), 3);
        let second = hashed_at(&case, "b.csv");
        assert!(second > first + 2_000_000_000, "{first} {second}");
        // Unchanged since: not read again, its hash taken from the record.
        assert_eq!(case.rerun(case.run()).skipped.len(), 3);
        assert_eq!(hashed_at(&case, "b.csv"), second);
        // Other content of the same size, its modification time set back: the change
        // time (set by the system on every write) gives it away.
        let modified = std::fs::metadata(case.input("b.csv")).unwrap().modified().unwrap();
        case.write("b.csv", &B.replace("0.5", "0.6"));
        let f = std::fs::File::options().write(true).open(case.input("b.csv")).unwrap();
        f.set_modified(modified).unwrap();
        let done = case.rerun(case.run());
        assert_eq!(done.computed, strings(&["b.csv"]));
        assert_eq!(done.reasons, BTreeMap::from([("b.csv".into(), vec![Reason::ContentChanged])]));
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", &OUT_B.replace("1.0", "1.2")), ("c.csv", OUT_C)]);
    }
}

/// What the callbacks of an incremental run saw at its top level: the rows announced,
/// the ranges skipped and the ranges written.
#[derive(Default)]
struct Seen {
    total: std::sync::Mutex<usize>,
    skipped: std::sync::Mutex<Vec<std::ops::Range<usize>>>,
    written: std::sync::Mutex<Vec<std::ops::Range<usize>>>,
}

impl hypernodes::events::Callback for Seen {
    fn on_map_start(&self, ctx: &hypernodes::events::Context, items: usize) {
        if ctx.depth() == 0 {
            *self.total.lock().unwrap() += items;
        }
    }
    fn on_map_item_skipped(&self, ctx: &hypernodes::events::Context, items: std::ops::Range<usize>) {
        assert_eq!(ctx.depth(), 0);
        self.skipped.lock().unwrap().push(items);
    }
    fn on_map_item_end(&self, ctx: &hypernodes::events::Context, items: std::ops::Range<usize>, _: Duration) {
        if ctx.depth() == 0 {
            self.written.lock().unwrap().push(items);
        }
    }
}

engine_test! {
    fn callbacks_and_progress_bars_count_the_rows_skipped_as_such(engine) {
        use hypernodes::progress::ProgressBars;
        use hypernodes::progress::indicatif::{InMemoryTerm, ProgressDrawTarget};
        let case = Case::new("seen", &engine);
        case.write("b.csv", &B.replace("0.5", "0.25"));
        let seen = std::sync::Arc::new(Seen::default());
        let term = InMemoryTerm::new(20, 140);
        let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let run = case.run().with_config(RunConfig::new().with_callback(seen.clone()).with_callback(bars));
        let summary = run.run().unwrap();
        // a.csv (2 rows) and c.csv (1 row) skipped, reported first; b.csv's 2 rows after.
        assert_eq!(*seen.total.lock().unwrap(), 5);
        assert_eq!(*seen.skipped.lock().unwrap(), [0..2, 2..3]);
        assert_eq!(*seen.written.lock().unwrap(), vec![std::ops::Range { start: 3, end: 5 }]);
        let files = summary.incremental.as_ref().unwrap();
        assert_eq!((files.computed.len(), files.skipped.len(), files.skipped_rows), (1, 2, 3));
        assert!(summary.to_string().contains("; files: 1 computed, 2 skipped (3 rows), 0 removed; "), "{summary}");
        // Every row counts the 3 rows skipped as done, and says so.
        let rows: Vec<String> = term
            .contents()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let l = l.split(" in ").next().unwrap();
                let (name, counts) = l.split_once('[').unwrap();
                format!("{} {}", name.trim(), counts.split_once(']').unwrap().1.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect();
        assert_eq!(
            rows,
            [
                "inc 5/5 items, 3 skipped",
                "count_words 5/5 items, 3 skipped",
                "score 5/5 items, 3 skipped",
                "shout 5/5 items, 3 skipped",
            ]
        );
    }
}

engine_test! {
    fn an_sql_node_changed_recomputes_its_column_in_every_file(engine) {
        let case = Case::new("sql", &engine);
        case.pipeline(&PIPELINE.replace("value * weight", "value * weight + 1"));
        let done = case.rerun(case.run());
        all_by_column(&done, &["score"], vec![Reason::NodeCodeChanged("score".into())]);
        case.outputs_are(&[
            ("a.csv", "id,shout,word_count,score\n1,HELLO WORLD,2,4.0\n2,ONE TWO THREE,3,5.0\n"),
            ("b.csv", "id,shout,word_count,score\n3,BIG DATA,2,2.0\n4,SMALL,1,9.0\n"),
            ("c.csv", "id,shout,word_count,score\n5,X Y Z W,4,3.0\n"),
        ]);
    }
}

engine_test! {
    fn a_bound_value_changed_recomputes_the_column_reading_it_in_every_file(engine) {
        let case = Case::new("bind", &engine);
        case.pipeline(&PIPELINE.replace("weight = 2.0", "weight = 3.0"));
        let done = case.rerun(case.run());
        all_by_column(&done, &["score"], vec![Reason::BoundValueChanged("weight".into())]);
        case.outputs_are(&[
            ("a.csv", "id,shout,word_count,score\n1,HELLO WORLD,2,4.5\n2,ONE TWO THREE,3,6.0\n"),
            ("b.csv", "id,shout,word_count,score\n3,BIG DATA,2,1.5\n4,SMALL,1,12.0\n"),
            ("c.csv", "id,shout,word_count,score\n5,X Y Z W,4,3.0\n"),
        ]);
    }
}

engine_test! {
    fn the_selection_narrowed_computes_nothing_and_rewrites_every_file(engine) {
        let case = Case::new("select", &engine);
        // `shout` no longer selected: not computed either; `score` read back.
        let done = case.rerun(case.run().with_select(["id", "score"]));
        all_by_column(&done, &[], vec![Reason::NodeRemoved("count_words".into()), Reason::NodeRemoved("shout".into()), Reason::SelectionChanged]);
        case.outputs_are(&[
            ("a.csv", "id,score\n1,3.0\n2,4.0\n"),
            ("b.csv", "id,score\n3,1.0\n4,8.0\n"),
            ("c.csv", "id,score\n5,2.0\n"),
        ]);
    }
}

engine_test! {
    fn the_engine_changed_recomputes_every_file(engine) {
        let case = Case::new("engine", &engine);
        let other = match case.engine {
            EngineChoice::Columnar => EngineChoice::Node,
            _ => EngineChoice::Columnar,
        };
        let done = case.rerun(case.run().with_engine(other));
        all_for(&done, vec![Reason::EngineChanged]);
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
    }
}

engine_test! {
    fn an_output_deleted_or_edited_is_written_again(engine) {
        let case = Case::new("outputs", &engine);
        std::fs::remove_file(case.dir.join("out/a.csv")).unwrap();
        std::fs::write(case.dir.join("out/b.csv"), "edited\n").unwrap();
        let done = case.rerun(case.run());
        assert_eq!((done.computed, done.skipped), (strings(&["a.csv", "b.csv"]), strings(&["c.csv"])));
        let out = |f: &str| hypernodes::io::Location::local(case.dir.join("out").join(f));
        assert_eq!(done.reasons, BTreeMap::from([
            ("a.csv".into(), vec![Reason::OutputMissing(out("a.csv"))]),
            ("b.csv".into(), vec![Reason::OutputChanged(out("b.csv"))]),
        ]));
        case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
    }
}

/// Two versions of one Rust node: same name, same ports, another body.
mod v1 {
    use hypernodes::prelude::*;

    #[node(output = "shout")]
    pub fn shout(passage: &str) -> String {
        passage.to_uppercase()
    }
}

mod v2 {
    use hypernodes::prelude::*;

    #[node(output = "shout")]
    pub fn shout(passage: &str) -> String {
        format!("{}!", passage.to_uppercase())
    }
}

engine_test! {
    fn a_rust_node_whose_code_changed_recomputes_every_file(engine) {
        let dir = TempDir::new(&format!("inc-rust-{}", engine.name()));
        std::fs::create_dir_all(dir.join("in")).unwrap();
        std::fs::write(dir.join("in/a.csv"), A).unwrap();
        std::fs::write(dir.join("in/b.csv"), B).unwrap();
        let run = |node: Node| {
            FileRun::new(Pipeline::new([node]), dir.join("in"), dir.join("out"))
                .with_engine(choice(&engine))
                .with_select(["id", "shout"])
                .with_state(dir.join("state"))
        };
        assert_eq!(run(v1::shout::node()).run()?.incremental.unwrap().computed.len(), 2);
        let unchanged = run(v1::shout::node()).run()?.incremental.unwrap();
        assert_eq!((unchanged.computed.len(), unchanged.skipped.len()), (0, 2));
        let planned = run(v2::shout::node()).plan_incremental()?;
        let reasons: Vec<&[Reason]> = planned.iter().map(|d| d.reasons.as_slice()).collect();
        let code = [Reason::NodeCodeChanged("shout".into())];
        assert_eq!(reasons, [&code[..], &code[..]]);
        let changed = run(v2::shout::node()).run()?.incremental.unwrap();
        assert_eq!((changed.computed.len(), changed.skipped.len()), (2, 0));
        assert_eq!(std::fs::read_to_string(dir.join("out/a.csv")).unwrap(), "id,shout\n1,HELLO WORLD!\n2,ONE TWO THREE!\n");
    }
}

/// The W3 pipeline over one file of `format` into one of `out_format`.
fn w3_single(dir: &TempDir, engine: EngineChoice, input: &Path, output: &Path) -> FileRun {
    let file = load(&crate::parquet::text_toml(), &Registry::new(), None).unwrap();
    FileRun::new(file.pipeline, input, output)
        .with_engine(engine)
        .with_select(file.select.unwrap())
        .with_state(dir.join("state"))
}

#[test]
fn a_single_file_of_every_format_into_every_format_is_skipped_then_recomputed() {
    let dir = TempDir::new("inc-formats");
    for engine in [EngineChoice::Columnar, EngineChoice::Node] {
        for (i, from) in Format::ALL.into_iter().enumerate() {
            let to = Format::ALL[(i + 1) % 4];
            let ext = |f: Format| f.extensions()[0];
            let input = dir.join(&format!("docs-{engine:?}.{}", ext(from)));
            let output = dir.join(&format!("out-{engine:?}-{from}.{}", ext(to)));
            hypernodes::datagen::write_data_set(hypernodes::datagen::DataSet::Docs, &input, 300, 5).unwrap();
            let first = w3_single(&dir, engine, &input, &output).run().unwrap();
            assert_eq!(first.incremental.unwrap().computed.len(), 1, "{from} -> {to}");
            let bytes = std::fs::read(&output).unwrap();
            let written = std::fs::metadata(&output).unwrap().modified().unwrap();
            let again = w3_single(&dir, engine, &input, &output).run().unwrap();
            let files = again.incremental.unwrap();
            assert_eq!(
                (files.computed.len(), files.skipped.len(), again.rows_in),
                (0, 1, 0),
                "{from} -> {to}"
            );
            assert_eq!(
                std::fs::metadata(&output).unwrap().modified().unwrap(),
                written,
                "{from} -> {to}"
            );
            // Another seed: other rows, computed again.
            hypernodes::datagen::write_data_set(hypernodes::datagen::DataSet::Docs, &input, 300, 6).unwrap();
            let changed = w3_single(&dir, engine, &input, &output).run().unwrap();
            assert_eq!(
                changed.incremental.unwrap().decisions[0].reasons,
                [Reason::ContentChanged],
                "{from} -> {to}"
            );
            assert_eq!(changed.rows_out, 300);
            assert_ne!(std::fs::read(&output).unwrap(), bytes, "{from} -> {to}");
        }
    }
}

#[test]
fn a_failed_run_leaves_the_state_and_the_outputs_as_they_were() {
    let engine: std::sync::Arc<dyn hypernodes::Engine> = std::sync::Arc::new(hypernodes::ColumnarEngine::new());
    let case = Case::new("failed", &engine);
    let state_file = |case: &Case| {
        let state = case.dir.join("state");
        let json: Vec<PathBuf> = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(json.len(), 1);
        std::fs::read(&json[0]).unwrap()
    };
    let before = state_file(&case);
    // A value that does not parse as the f64 `value` is read as: the run fails.
    case.write("b.csv", "id,passage,value\n3,big data,0.5\n4,small,four\n");
    case.write("d.csv", "id,passage,value\n6,new one,10.0\n");
    let err = case.run().run().unwrap_err().to_string();
    assert!(err.contains("four"), "{err}");
    assert_eq!(state_file(&case), before);
    case.outputs_are(&[("a.csv", OUT_A), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
    // Fixed: b and d are computed, as a plan made now says.
    case.write("b.csv", B);
    let done = case.rerun(case.run());
    assert_eq!(
        (done.computed, done.skipped),
        (strings(&["d.csv"]), strings(&["a.csv", "b.csv", "c.csv"]))
    );
}

engine_test! {
    fn a_failed_run_keeps_and_records_the_files_it_finished(engine) {
        let case = Case::new("failed-after", &engine);
        case.write("a.csv", "id,passage,value\n1,hello again,1.5\n");
        case.write("c.csv", "id,passage,value\n5,x y z w,one\n");
        let err = case.run().run().unwrap_err().to_string();
        assert!(err.contains("c.csv") && err.contains("one"), "{err}");
        // a was finished first: in place, and recorded; c keeps its old output.
        let out_a = "id,shout,word_count,score\n1,HELLO AGAIN,2,3.0\n";
        case.outputs_are(&[("a.csv", out_a), ("b.csv", OUT_B), ("c.csv", OUT_C)]);
        let planned = case.run().plan_incremental()?;
        let reasons: Vec<&[Reason]> = planned.iter().map(|d| d.reasons.as_slice()).collect();
        assert_eq!(reasons, [&[][..], &[][..], &[Reason::ContentChanged][..]]);
        case.write("c.csv", "id,passage,value\n5,x y z w,1.0\n6,v,2.0\n");
        let done = case.rerun(case.run());
        assert_eq!((done.computed, done.skipped), (strings(&["c.csv"]), strings(&["a.csv", "b.csv"])));
        case.outputs_are(&[("a.csv", out_a), ("b.csv", OUT_B), ("c.csv", "id,shout,word_count,score\n5,X Y Z W,4,2.0\n6,V,1,4.0\n")]);
    }
}

#[node(output = "checked")]
fn check(id: i64) -> Result<i64, String> {
    if id % 2 == 0 {
        Err(format!("even id {id}"))
    } else {
        Ok(id)
    }
}

engine_test! {
    fn the_side_files_of_failed_rows_are_outputs_too(engine) {
        let case = Case::new("side", &engine);
        let run = || {
            FileRun::new(Pipeline::new([check::node()]), case.dir.join("in"), case.dir.join("checked"))
                .with_engine(choice(&engine))
                .with_select(["id", "checked"])
                .with_config(RunConfig::new().with_on_error(OnError::Collect))
                .with_failed(case.dir.join("failed"))
                .with_state(case.dir.join("state"))
        };
        let first = run().run()?;
        assert_eq!((first.rows_out, first.failed_rows, first.incremental.unwrap().computed.len()), (3, 2, 3));
        let side = |f: &str| std::fs::read_to_string(case.dir.join("failed").join(f)).unwrap();
        assert_eq!(side("b.csv"), "id,_row,_node,_error\n4,1,check,Node 'check' failed on item 1: even id 4\n");
        assert_eq!(run().run()?.incremental.unwrap().skipped.len(), 3);
        // A side file deleted: its input computed again, and the side file back.
        std::fs::remove_file(case.dir.join("failed/b.csv")).unwrap();
        let planned = run().plan_incremental()?;
        let missing = hypernodes::io::Location::local(case.dir.join("failed/b.csv"));
        assert_eq!(planned[1].reasons, [Reason::OutputMissing(missing)]);
        let again = run().run()?.incremental.unwrap();
        assert_eq!((again.computed.len(), again.skipped.len()), (1, 2));
        assert_eq!(side("b.csv"), "id,_row,_node,_error\n4,1,check,Node 'check' failed on item 1: even id 4\n");
        // Under the other failure policy, a run of the same outputs computes every file.
        let fail = FileRun::new(Pipeline::new([check::node()]), case.dir.join("in"), case.dir.join("checked"))
            .with_engine(choice(&engine))
            .with_select(["id", "checked"])
            .with_state(case.dir.join("state"));
        let reasons: Vec<Vec<Reason>> = fail.plan_incremental()?.into_iter().map(|d| d.reasons).collect();
        assert_eq!(reasons, vec![vec![Reason::FailurePolicyChanged]; 3]);
    }
}

#[test]
fn state_errors_are_one_line() {
    let dir = TempDir::new("inc-errors");
    hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 10, 1).unwrap();
    let run = w3_single(
        &dir,
        EngineChoice::Columnar,
        &dir.join("docs.parquet"),
        &dir.join("out.parquet"),
    );
    assert_eq!(
        run.clone()
            .with_state(dir.join("state"))
            .run()
            .map(|s| s.incremental.unwrap().computed.len())
            .unwrap(),
        1
    );
    let no_state = FileRun::new(
        Pipeline::new([v1::shout::node()]),
        dir.join("docs.parquet"),
        dir.join("o.parquet"),
    );
    assert_eq!(
        no_state.plan_incremental().unwrap_err().to_string(),
        "plan_incremental needs a state: set one with FileRun::with_state"
    );
    // Another run holds the state.
    let lock: Vec<PathBuf> = std::fs::read_dir(dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lock"))
        .collect();
    let held = std::fs::File::options().write(true).open(&lock[0]).unwrap();
    held.lock().unwrap();
    let json = lock[0].with_extension("json");
    assert_eq!(
        run.run().unwrap_err().to_string(),
        format!(
            "The state '{}' is in use by another run of the same input and output; wait for it to end",
            json.display()
        )
    );
    held.unlock().unwrap();
    // A state file that is not one.
    std::fs::write(&json, "{").unwrap();
    let err = run.run().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: not a readable hypernodes state file (EOF while parsing an object at line 1 column 1); remove it or run `hypernodes state clear`",
            json.display()
        )
    );
    assert_eq!(State::open(dir.join("state")).unwrap().clear().unwrap(), 1);
    assert_eq!(
        run.run().unwrap().incremental.unwrap().decisions[0].reasons,
        [Reason::NewFile]
    );
}

/// `hypernodes ARGS` in this process: what it prints, or its error.
fn cli(args: &[&str]) -> hypernodes::Result<String> {
    let mut out = Vec::new();
    hypernodes::cli::run_args(
        std::iter::once("hypernodes").chain(args.iter().copied()),
        &Registry::new(),
        &mut out,
    )?;
    Ok(String::from_utf8(out).unwrap())
}

#[cfg(feature = "cli")]
#[test]
fn plan_then_run_then_state_on_the_command_line() {
    let engine: std::sync::Arc<dyn hypernodes::Engine> = std::sync::Arc::new(hypernodes::ColumnarEngine::new());
    let case = Case::new("cli", &engine);
    let path = |p: &str| case.dir.join(p).display().to_string();
    let (pipeline, input, output, state) = (path("pipeline.toml"), path("in"), path("out"), path("state"));
    let args = |command: &'static str| -> Vec<String> {
        [
            command,
            &pipeline,
            "-i",
            &input,
            "-o",
            &output,
            "--state",
            &state,
            "--no-progress",
        ]
        .map(String::from)
        .to_vec()
    };
    let call = |args: Vec<String>| cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::remove_file(case.input("c.csv")).unwrap();
    case.write("b.csv", "id,passage,value\n3,big data,0.5\n");
    case.pipeline(&PIPELINE.replace("upper(passage)", "lower(passage)"));
    let abs = |p: &str| case.dir.join(p).display().to_string();
    assert_eq!(
        call(args("plan")).unwrap(),
        format!(
            "{input} -> {output}\n\
             recompute {} -> {}: columns shout (node `shout`'s code changed)\n\
             compute {} -> {} (content changed; node `shout`'s code changed)\n\
             remove {} (input {} gone)\n\
             would compute 1 file, recompute 1 by column, skip 0, remove the outputs of 1 gone\n",
            abs("in/a.csv"),
            abs("out/a.csv"),
            abs("in/b.csv"),
            abs("out/b.csv"),
            abs("out/c.csv"),
            abs("in/c.csv")
        )
    );
    let ran = call(args("run")).unwrap();
    let lines: Vec<&str> = ran.lines().collect();
    assert_eq!(
        lines[..2],
        [
            format!("{input} -> {output}"),
            format!("removed {} (input {} gone)", abs("out/c.csv"), abs("in/c.csv"))
        ]
    );
    assert!(lines[2].starts_with("3 rows in, 3 rows out, 2 batches in "), "{ran}");
    assert!(
        lines[2].contains("; files: 1 computed, 1 recomputed (columns shout), 0 skipped, 1 removed; checksum: integers 13, floats 8.000000"),
        "{ran}"
    );
    let out_a = "id,shout,word_count,score\n1,hello world,2,3.0\n2,one two three,3,4.0\n";
    case.outputs_are(&[
        ("a.csv", out_a),
        ("b.csv", "id,shout,word_count,score\n3,big data,2,1.0\n"),
    ]);
    let nothing = call(args("run")).unwrap();
    assert!(
        nothing.contains(" wrote nothing (0.0 MiB); files: 0 computed, 2 skipped (3 rows), 0 removed; "),
        "{nothing}"
    );

    let shown = cli(&["state", "show", &state]).unwrap();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert_eq!(lines[0], format!("{} -> {} (2 files)", abs("in"), abs("out")));
    let a = std::fs::metadata(case.input("a.csv")).unwrap().len();
    assert!(
        lines[1].starts_with(&format!("  {} ({a} bytes, 2 rows, blake3 ", abs("in/a.csv"))),
        "{shown}"
    );
    assert!(
        lines[1].ends_with(&format!(
            " -> {} ({} bytes); nodes: count_words, score, shout",
            abs("out/a.csv"),
            out_a.len()
        )),
        "{shown}"
    );
    assert_eq!(
        cli(&["state", "clear", &state]).unwrap(),
        format!("{state}: removed 1 state file\n")
    );
    assert_eq!(cli(&["state", "show", &state]).unwrap(), format!("{state}: no runs\n"));
    assert_eq!(
        cli(&["plan", &pipeline, "-i", &input, "-o", &output])
            .unwrap_err()
            .to_string(),
        "plan needs --state DIR, the state directory of the runs it plans"
    );
    assert_eq!(
        cli(&["state", "show", &path("nowhere")]).unwrap_err().to_string(),
        format!("{}: no such state directory", path("nowhere"))
    );
}
