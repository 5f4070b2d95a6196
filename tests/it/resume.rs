//! Incremental runs killed (SIGKILL) part-way and started again with the same state:
//! the files the killed run finished and recorded are not computed again, the others
//! are, and the outputs end byte for byte those of a run without a state.

use std::path::Path;
use std::time::{Duration, Instant};

use hypernodes::io::State;

use crate::cli::{command, hypernodes, text};
use crate::parquet::{TempDir, files_in};

/// Input files, all a copy of one file of `ROWS` rows.
const FILES: usize = 12;
const ROWS: usize = 20_000;

/// The finished outputs in `dir` (not the temporary files of a run under way).
fn outputs(dir: &Path) -> Vec<String> {
    if !dir.is_dir() {
        return Vec::new();
    }
    files_in(dir).into_iter().filter(|f| !f.starts_with('.')).collect()
}

#[test]
fn a_run_killed_after_some_files_is_resumed_without_them() {
    let dir = TempDir::new("resume");
    let one = dir.join("one.parquet");
    hypernodes::datagen::write_docs(&one, ROWS, 11).unwrap();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for i in 0..FILES {
        std::fs::copy(&one, dir.join(&format!("in/part-{i:02}.parquet"))).unwrap();
    }
    let path = |p: &str| dir.join(p).display().to_string();
    let run = |out: &str, state: Option<&str>| {
        let (input, out) = (path("in"), path(out));
        let mut args = vec![
            "run".to_string(),
            "examples/text.toml".into(),
            "-i".into(),
            input,
            "-o".into(),
            out,
        ];
        if let Some(state) = state {
            args.extend(["--state".to_string(), path(state)]);
        }
        args
    };
    let reference = hypernodes(&run("reference", None).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(reference.status.success(), "{}", text(&reference.stderr));

    let mut resumed_any = false;
    // Kill once this many outputs are in place.
    for (k, after) in [4, 8, 11].into_iter().enumerate() {
        let (out, state) = (format!("out-{k}"), format!("state-{k}"));
        let args = run(&out, Some(&state));
        let mut child = command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while outputs(&dir.join(&out)).len() < after {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before {after} outputs"
            );
            assert!(started.elapsed() < Duration::from_secs(120));
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let left = outputs(&dir.join(&out));
        assert!(left.len() >= after && left.len() < FILES, "{left:?}");
        // What the killed run recorded: finished outputs, each the reference's bytes.
        let recorded: Vec<String> = match State::open(dir.join(&state)).unwrap().runs().unwrap().pop() {
            Some(run) => run
                .files
                .into_iter()
                .map(|f| f.input.rsplit('/').next().unwrap().to_string())
                .collect(),
            None => Vec::new(),
        };
        for f in &recorded {
            assert!(left.contains(f), "{f} recorded but not in place");
            assert_eq!(
                std::fs::read(dir.join(&out).join(f)).unwrap(),
                std::fs::read(dir.join("reference").join(f)).unwrap()
            );
        }
        resumed_any |= !recorded.is_empty();

        let again = hypernodes(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(again.status.success(), "{}", text(&again.stderr));
        let summary = text(&again.stdout);
        let skipped = match recorded.len() {
            0 => "0 skipped".to_string(),
            n => format!("{n} skipped ({} rows)", n * ROWS),
        };
        // The file the kill interrupted may be resumed from its journal (see
        // resume_inside.rs): it then counts as resumed rather than computed.
        let rest = FILES - recorded.len();
        let counts = [
            format!("files: {rest} computed, {skipped}, 0 removed;"),
            format!("files: {} computed, 1 resumed (", rest - 1),
        ];
        assert!(
            summary.contains(&counts[0])
                || (summary.contains(&counts[1]) && summary.contains(&format!(" rows kept), {skipped}, 0 removed;"))),
            "{counts:?} in {summary}"
        );
        assert_eq!(
            outputs(&dir.join(&out)),
            outputs(&dir.join("reference")),
            "no temporary file left"
        );
        for f in outputs(&dir.join("reference")) {
            assert_eq!(
                std::fs::read(dir.join(&out).join(&f)).unwrap(),
                std::fs::read(dir.join("reference").join(&f)).unwrap(),
                "{f}"
            );
        }
        eprintln!(
            "killed after {} outputs ({:.2} s): {} recorded and skipped by the rerun",
            left.len(),
            started.elapsed().as_secs_f64(),
            recorded.len()
        );
    }
    assert!(resumed_any, "no kill point came after the state's first write");
}
