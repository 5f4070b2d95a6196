//! Resuming inside a file: an incremental run interrupted part-way through a file (a
//! node failing on one row, or SIGKILL at seeded points) leaves a journal of the batches
//! it finished; the next run with the same state writes them without computing them,
//! computes the others, and gives the bytes of a run never interrupted. A changed
//! pipeline or input discards the journal; a finished file's journal is removed, and
//! `state clear` removes them all.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use hypernodes::datagen::write_docs;
use hypernodes::io::{Action, FileDecision, FileRun, Location, Reason, State};
use hypernodes::prelude::*;

use crate::cli::{hypernodes, text};
use crate::kill::{ONE_AT_A_TIME, kill_points, kill_run, timed, was_killed};
use crate::parquet::{TempDir, choice, files_in};

/// The id on whose row [`trip`] fails (none when negative): where a test interrupts a run.
static TRIP: AtomicI64 = AtomicI64::new(-1);
/// Held by each test that sets [`TRIP`].
static TRIPS: Mutex<()> = Mutex::new(());

#[node(output = "words")]
fn words(passage: &str) -> i64 {
    passage.split_whitespace().count() as i64
}

/// [`words`] with other code (a new version), under the same name.
#[node(name = "words", output = "words", version = "2")]
fn words_v2(passage: &str) -> i64 {
    passage.split_whitespace().count() as i64 * 10
}

#[node(output = "tripped")]
fn trip(id: i64) -> Result<i64, String> {
    if id == TRIP.load(Ordering::Relaxed) {
        Err(format!("tripped on {id}"))
    } else {
        Ok(id * 3)
    }
}

/// Rows of the input file, and per batch.
const ROWS: usize = 20_000;
const BATCH: usize = 1_000;

/// The run of `input` into `output` on `engine`, in batches of [`BATCH`] rows, with the
/// state `state` if given; `v2` runs [`words_v2`] instead of [`words`].
fn file_run(
    engine: &std::sync::Arc<dyn hypernodes::Engine>,
    input: &Path,
    output: &Path,
    state: Option<&Path>,
    v2: bool,
) -> FileRun {
    let words = if v2 { words_v2::node() } else { words::node() };
    let run = FileRun::new(Pipeline::new([words, trip::node()]), input, output)
        .with_engine(choice(engine))
        .with_select(["id", "words", "tripped"])
        .with_batch_rows(BATCH)
        .with_partitions(2);
    match state {
        Some(state) => run.with_state(state),
        None => run,
    }
}

/// The files in the state directory `dir` (state files, locks, journals).
fn state_files(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .map(|f| f.split_once('.').map_or(f.clone(), |(_, rest)| rest.to_string()))
        .collect()
}

/// Runs `run` with [`trip`] failing on row `id`: the run fails there.
fn tripped(run: &FileRun, id: i64) {
    TRIP.store(id, Ordering::Relaxed);
    let err = run.run().unwrap_err().to_string();
    TRIP.store(-1, Ordering::Relaxed);
    assert!(err.contains(&format!("tripped on {id}")), "{err}");
}

engine_test! {
    fn a_file_interrupted_part_way_is_resumed_from_its_journal(engine) {
        let _one = TRIPS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = TempDir::new(&format!("resume-inside-{}", engine.name()));
        let input = dir.join("in.parquet");
        write_docs(&input, ROWS, 5)?;
        let state = dir.join("state");
        for out in ["out.parquet", "out.csv"] {
            let output = dir.join(out);
            let reference = dir.join(&format!("reference-{out}"));
            file_run(&engine, &input, &reference, None, false).run()?;
            let run = file_run(&engine, &input, &output, Some(&state), false);
            // An earlier output, kept until the new one is complete.
            std::fs::write(&output, "earlier").unwrap();
            tripped(&run, 7_500);
            assert_eq!(std::fs::read(&output).unwrap(), b"earlier");
            assert_eq!(state_files(&state), ["6fe6d0f4d5b2fd02.journal", "6fe6d0f4d5b2fd02.journal.0.out", "lock"].map(|f| f.replace("6fe6d0f4d5b2fd02", &journal_hash(&input))));
            // The batches before row 7,500's are kept.
            let planned = run.plan_incremental()?;
            assert_eq!(
                planned,
                [FileDecision {
                    input: Location::local(&input),
                    outputs: vec![Location::local(&output)],
                    action: Action::Resume,
                    columns: vec![],
                    reasons: vec![
                        Reason::NewFile,
                        Reason::Interrupted { batches: 7, of: Some(20), rows: 7_000 }
                    ],
                }]
            );
            assert_eq!(planned[0].to_string(), format!("resume {} -> {} (new file; interrupted after 7 of 20 batches)", input.display(), output.display()));
            let summary = run.run()?;
            let done = summary.incremental.clone().unwrap();
            assert_eq!(done.decisions, planned, "the plan is what the run did");
            assert_eq!((done.resumed, done.rows_kept, done.computed.len()), (vec![Location::local(&input)], 7_000, 0));
            assert_eq!((summary.rows_in, summary.rows_out, summary.batches), (13_000, 13_000, 13));
            assert!(summary.to_string().contains("; files: 0 computed, 1 resumed (7000 rows kept), 0 skipped, 0 removed; "), "{summary}");
            assert!(std::fs::read(&output).unwrap() == std::fs::read(&reference).unwrap(), "{out}: the bytes of a run never interrupted");
            // The journal is gone with the file done; the next run skips it.
            assert_eq!(state_files(&state), ["json", "lock"]);
            assert_eq!(run.run()?.incremental.unwrap().skipped.len(), 1);
            State::open(&state)?.clear()?;
        }
    }
}

/// The name a journal of `input` has after its run's (16 hex digits of a hash of its path).
fn journal_hash(input: &Path) -> String {
    let absolute = std::path::absolute(input).unwrap();
    blake3::hash(absolute.display().to_string().as_bytes()).to_hex()[..16].to_string()
}

engine_test! {
    fn a_changed_pipeline_or_input_after_an_interruption_computes_the_whole_file(engine) {
        let _one = TRIPS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = TempDir::new(&format!("resume-changed-{}", engine.name()));
        let input = dir.join("in.parquet");
        let (output, state) = (dir.join("out.parquet"), dir.join("state"));
        write_docs(&input, ROWS, 5)?;
        let whole = |run: &FileRun, reference: &Path| -> hypernodes::Result<()> {
            let planned = run.plan_incremental()?;
            assert_eq!((planned[0].action, &planned[0].reasons[..]), (Action::Compute, &[Reason::NewFile][..]));
            let summary = run.run()?;
            assert_eq!(summary.rows_in, ROWS as u64);
            assert_eq!(summary.incremental.unwrap().resumed, Vec::<Location>::new());
            assert!(std::fs::read(&output).unwrap() == std::fs::read(reference).unwrap(), "no batch of the old run");
            assert_eq!(state_files(&state), ["json", "lock"]);
            State::open(&state)?.clear()?;
            Ok(())
        };
        // Another version of `words`: its batches are not the journal's.
        tripped(&file_run(&engine, &input, &output, Some(&state), false), 12_000);
        let reference = dir.join("reference-v2.parquet");
        file_run(&engine, &input, &reference, None, true).run()?;
        whole(&file_run(&engine, &input, &output, Some(&state), true), &reference)?;
        // The input rewritten with other rows.
        tripped(&file_run(&engine, &input, &output, Some(&state), false), 12_000);
        write_docs(&input, ROWS, 6)?;
        let reference = dir.join("reference-6.parquet");
        file_run(&engine, &input, &reference, None, false).run()?;
        whole(&file_run(&engine, &input, &output, Some(&state), false), &reference)?;
        // Another batch size: the batches do not line up.
        tripped(&file_run(&engine, &input, &output, Some(&state), false), 12_000);
        let run = file_run(&engine, &input, &output, Some(&state), false).with_batch_rows(BATCH * 2);
        let reference = dir.join("reference-2000.parquet");
        file_run(&engine, &input, &reference, None, false).with_batch_rows(BATCH * 2).run()?;
        whole(&run, &reference)?;
        // `state clear` removes a journal, also of a run that recorded no file.
        tripped(&file_run(&engine, &input, &output, Some(&state), false), 12_000);
        assert_eq!(state_files(&state).len(), 3);
        assert_eq!(State::open(&state)?.clear()?, 0);
        assert_eq!(state_files(&state), ["lock"]);
    }
}

/// CSV files in `dir/in` of `rows` rows each, from `write_docs`' rows (seeds 1, 2, ...;
/// the ids of each count from 0).
fn csv_inputs(dir: &Path, rows: &[usize]) -> PathBuf {
    let csv = dir.join("in");
    std::fs::create_dir_all(&csv).unwrap();
    for (seed, &rows) in (1..).zip(rows) {
        let parquet = dir.join(format!("docs-{seed}.parquet"));
        write_docs(&parquet, rows, seed).unwrap();
        FileRun::new(
            Pipeline::new([words::node()]),
            &parquet,
            csv.join(format!("part-{seed}.csv")),
        )
        .with_select(["id", "passage", "value"])
        .run()
        .unwrap();
    }
    csv
}

engine_test! {
    fn a_directory_of_csv_files_interrupted_in_its_second_file_resumes_it(engine) {
        let _one = TRIPS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = TempDir::new(&format!("resume-dir-{}", engine.name()));
        let input = csv_inputs(&dir.0, &[4_000, ROWS, ROWS]);
        let (output, state, reference) = (dir.join("out"), dir.join("state"), dir.join("reference"));
        let ndjson = |run: FileRun| run.with_output_format(hypernodes::io::Format::Ndjson);
        ndjson(file_run(&engine, &input, &reference, None, false)).run()?;
        let run = ndjson(file_run(&engine, &input, &output, Some(&state), false));
        // The ids of a file are its rows: row 4,321 of part-2 fails (part-1 has 4,000).
        tripped(&run, 4_321);
        assert_eq!(files_in(&output), ["part-1.ndjson"]);
        let planned = run.plan_incremental()?;
        let what: Vec<(Action, Vec<Reason>)> = planned.iter().map(|d| (d.action, d.reasons.clone())).collect();
        assert_eq!(
            what,
            [
                (Action::Skip, vec![]),
                (Action::Resume, vec![Reason::NewFile, Reason::Interrupted { batches: 4, of: None, rows: 4_000 }]),
                (Action::Compute, vec![Reason::NewFile]),
            ]
        );
        assert!(planned[1].to_string().ends_with("(new file; interrupted after 4 batches)"), "{}", planned[1]);
        let summary = run.run()?;
        assert_eq!(summary.rows_in, 16_000 + 20_000);
        assert_eq!(summary.incremental.as_ref().unwrap().decisions, planned);
        for f in files_in(&reference) {
            assert!(std::fs::read(output.join(&f)).unwrap() == std::fs::read(reference.join(&f)).unwrap(), "{f}");
        }
        assert_eq!(state_files(&state), ["json", "lock"]);
    }
}

/// Kill runs per output format and engine.
const ROUNDS: usize = 4;

#[test]
fn a_file_killed_part_way_is_resumed_to_the_bytes_of_a_whole_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("resume-kill-inside");
    // 20 batches each: 40,000 rows, and 10,000 for the slower runs that collect failures.
    write_docs(&dir.join("big.parquet"), 40_000, 3).unwrap();
    write_docs(&dir.join("small.parquet"), 10_000, 3).unwrap();
    let path = |p: &str| dir.join(p).display().to_string();
    // W3 and a SQL node that fails (division by zero) on the ids 7k + 3: under
    // `--on-error collect`, those rows go to a side file, journaled too.
    let w3 = std::fs::read_to_string(crate::parquet::text_toml()).unwrap();
    let ratio = "\n[[nodes]]\nname = \"ratio\"\nsql = \"100 / (id % 7 - 3)\"\n";
    std::fs::write(dir.join("collect.toml"), format!("{w3}{ratio}")).unwrap();
    let cases = [
        ("columnar", "out.parquet", false),
        ("node", "out.parquet", false),
        ("columnar", "out.csv", false),
        ("node", "out.ndjson", false),
        ("columnar", "out.parquet", true),
    ];
    for (case, (engine, out, collect)) in cases.into_iter().enumerate() {
        let batch: u64 = if collect { 500 } else { 2000 };
        let args = |command: &str, output: &str, state: bool| -> Vec<String> {
            let toml = if collect {
                path("collect.toml")
            } else {
                "examples/text.toml".into()
            };
            let input = path(if collect { "small.parquet" } else { "big.parquet" });
            let mut args: Vec<String> = [command, &toml, "-i", &input, "-o", &path(output)]
                .map(String::from)
                .to_vec();
            args.extend(["--engine", engine, "--batch-rows", &batch.to_string()].map(String::from));
            if collect {
                let failed = path(&format!("failed-{output}"));
                args.extend(
                    [
                        "--select",
                        "id,word_count,ratio",
                        "--on-error",
                        "collect",
                        "--failed",
                        &failed,
                    ]
                    .map(String::from),
                );
            }
            if state {
                args.extend(["--state".to_string(), path("state")]);
            }
            args
        };
        let failed = |output: &str| std::fs::read(dir.join(&format!("failed-{output}"))).ok();
        let reference = format!("reference-{out}");
        let whole = args("run", &reference, false);
        let (_, span) = timed(&whole.iter().map(String::as_str).collect::<Vec<_>>());
        let reference_failed = failed(&reference);
        assert_eq!(reference_failed.is_some(), collect);
        let reference = std::fs::read(dir.join(&reference)).unwrap();
        let run = args("run", out, true);
        let run: Vec<&str> = run.iter().map(String::as_str).collect();
        let plan = args("plan", out, true);
        let plan: Vec<&str> = plan.iter().map(String::as_str).collect();
        let mut resumed = 0;
        for (round, point) in kill_points(31 + case as u64, ROUNDS, span).into_iter().enumerate() {
            let _ = std::fs::remove_dir_all(dir.join("state"));
            std::fs::write(dir.join(out), "earlier").unwrap();
            let (_, killed) = kill_run(&run, |_| std::thread::sleep(point));
            let left = std::fs::read(dir.join(out)).unwrap();
            if was_killed(&killed) {
                assert!(
                    left == b"earlier" || left == reference,
                    "round {round}: the earlier output or the new one"
                );
            }
            let planned = text(&hypernodes(&plan).stdout);
            let again = hypernodes(&run);
            assert!(again.status.success(), "{}", text(&again.stderr));
            let summary = text(&again.stdout);
            // What the plan said, the run did: resumed after k batches, keeping their rows.
            match planned.split("(new file; interrupted after ").nth(1) {
                Some(rest) => {
                    let batches: u64 = rest.split(' ').next().unwrap().parse().unwrap();
                    assert!(rest.starts_with(&format!("{batches} of 20 batches)")), "{planned}");
                    let kept = format!(
                        "files: 0 computed, 1 resumed ({} rows kept), 0 skipped",
                        batches * batch
                    );
                    assert!(summary.contains(&kept), "round {round}: {kept} in {summary}");
                    resumed += 1;
                }
                None => assert!(!summary.contains("resumed"), "round {round}: {planned} then {summary}"),
            }
            assert!(
                failed(out) == reference_failed,
                "round {round}: the failed rows of a whole run"
            );
            assert!(
                std::fs::read(dir.join(out)).unwrap() == reference,
                "round {round} ({engine}, {out}): the bytes of a whole run"
            );
            assert_eq!(state_files(&dir.join("state")), ["json", "lock"], "round {round}");
            eprintln!(
                "{engine} {out} round {round}: killed after {point:?} of {span:?}; {}",
                summary.split("files: ").nth(1).unwrap_or("")
            );
        }
        assert!(resumed > 0, "{engine} {out}: no kill point came inside the file");
    }
}

/// The `hashed_ns` of the input's fingerprint in the JSON file of `dir` whose name ends
/// with `suffix` (the state file, or a journal's description), at `path` in it.
fn hashed_ns(dir: &Path, suffix: &str, path: &[&str]) -> u64 {
    let file = files_in(dir).into_iter().find(|f| f.ends_with(suffix)).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(&file)).unwrap()).unwrap();
    for key in path {
        json = json[*key].take();
    }
    json["fingerprint"]["stat"]["hashed_ns"].as_u64().unwrap()
}

#[test]
fn an_interrupted_file_unchanged_since_is_not_hashed_again() {
    let _one = TRIPS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("resume-inside-stat");
    let input = dir.join("in.parquet");
    write_docs(&input, ROWS, 5).unwrap();
    // Older than any tick of a file system clock when the interrupted run hashes it.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let engine: std::sync::Arc<dyn hypernodes::Engine> = std::sync::Arc::new(hypernodes::ColumnarEngine::new());
    let (output, state) = (dir.join("out.parquet"), dir.join("state"));
    let run = file_run(&engine, &input, &output, Some(&state), false);
    tripped(&run, 7_500);
    let journaled = hashed_ns(&state, ".journal", &[]);
    let done = run.run().unwrap().incremental.unwrap();
    assert_eq!((done.resumed.len(), done.rows_kept), (1, 7_000));
    // The file was not hashed again: its fingerprint is the journal's.
    let key = std::path::absolute(&input).unwrap().display().to_string();
    assert_eq!(hashed_ns(&state, ".json", &["files", &key]), journaled);
}
