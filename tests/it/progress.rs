//! Progress bars: the rows drawn for a nested map on both engines (in indicatif's
//! in-memory terminal), and the `hypernodes` binary drawing them in a real terminal
//! (tmux).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hypernodes::prelude::*;
use hypernodes::progress::ProgressBars;
use hypernodes::progress::indicatif::{InMemoryTerm, ProgressDrawTarget};

use crate::common::*;

fn docs() -> Vec<Vec<String>> {
    vec![
        strings(&["a b c", "d e", "f"]),
        strings(&["g h"]),
        vec![],
        strings(&["i", "j k l m", "n o"]),
    ]
}

/// The screen's lines up to the time each finished row took (the rest varies).
fn rows(term: &InMemoryTerm) -> Vec<String> {
    term.contents()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(" in ").next().unwrap().trim_end().to_string())
        .collect()
}

fn row(prefix: &str, done: u64, total: u64, msg: &str) -> String {
    // As indicatif fills a bar of 30: whole cells, then `>` for a partly filled one.
    let filled = (30 * done / total) as usize;
    let head = if done > 0 && filled < 30 { ">" } else { "" };
    let bar = format!("{}{head}", "=".repeat(filled));
    format!("{prefix:<26} [{bar:<30}] {:>9}/{:<9} {msg}", group(done), group(total))
}

/// `20000` as `20,000`, as indicatif's `human_pos` shows it.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

engine_test!(
    fn nested_map_rows_count_items_on_both_engines(engine) {
        let term = InMemoryTerm::new(20, 140);
        let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        assert!(!bars.is_hidden());
        let p = per_sentence_pipeline(&engine).with_config(RunConfig::new().with_callback(bars));
        let out = p.map(&Inputs::new().with("sentences", docs()), &["sentences"], MapMode::Zip)?;
        assert_eq!(out.column::<usize>("total")?, &[6, 2, 0, 7]);
        // The totals are the same on both engines: 4 documents, 7 sentences (the node
        // engine calls the nested map once per document, the columnar engine once).
        assert_eq!(
            rows(&term),
            [
                row("docs", 4, 4, "items"),
                row("  per_sentence", 4, 4, "items"),
                row("    sentence (nested)", 7, 7, "items"),
                row("      count_tokens", 7, 7, "items"),
                row("  total", 4, 4, "items"),
            ]
        );
        // The end of each row: the time and the rate.
        for line in term.contents().lines().filter(|l| !l.trim().is_empty()) {
            let end = line.split(" items in ").nth(1).unwrap_or_else(|| panic!("{line}"));
            assert!(end.contains(" s (") && end.trim_end().ends_with("/s)"), "{line}");
        }
    }
);

engine_test!(
    fn counts_from_many_threads_add_up(engine) {
        // 400 documents on the parallel executor: the node engine calls the nested map
        // 400 times from the pool's threads (a new context each time), the columnar
        // engine once per batch.
        let term = InMemoryTerm::new(20, 140);
        let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let p = per_sentence_pipeline(&engine)
            .with_config(RunConfig::new().with_callback(bars).with_map_executor(Executor::parallel()));
        let docs: Vec<Vec<String>> = (0..400).map(|i| docs()[i % 4].clone()).collect();
        p.map(&Inputs::new().with("sentences", docs), &["sentences"], MapMode::Zip)?;
        assert_eq!(
            rows(&term),
            [
                row("docs", 400, 400, "items"),
                row("  per_sentence", 400, 400, "items"),
                row("    sentence (nested)", 700, 700, "items"),
                row("      count_tokens", 700, 700, "items"),
                row("  total", 400, 400, "items"),
            ]
        );
    }
);

engine_test!(
    fn cache_hits_are_counted_and_a_second_run_draws_new_rows(engine) {
        let term = InMemoryTerm::new(20, 140);
        let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let p = on(&engine, w1())
            .with_name("w1")
            .with_config(RunConfig::new().with_callback(bars).with_cache(Cache::memory()));
        let xs = || Inputs::new().with("x", (0..10_i64).collect::<Vec<_>>());
        p.map(&xs(), &["x"], MapMode::Zip)?;
        p.map(&xs(), &["x"], MapMode::Zip)?;
        let first = [
            row("w1", 10, 10, "items"),
            row("  double", 10, 10, "items"),
            row("  add_one", 10, 10, "items"),
            row("  square", 10, 10, "items"),
        ];
        let second = [
            row("w1", 10, 10, "items, 10 cached (100%)"),
            row("  double", 10, 10, "items, 10 cached (100%)"),
            row("  add_one", 10, 10, "items, 10 cached (100%)"),
            row("  square", 10, 10, "items, 10 cached (100%)"),
        ];
        // Six of ten new: the share served from the cache.
        p.map(&Inputs::new().with("x", (6..16_i64).collect::<Vec<_>>()), &["x"], MapMode::Zip)?;
        let third = [
            row("w1", 10, 10, "items, 4 cached (40%)"),
            row("  double", 10, 10, "items, 4 cached (40%)"),
            row("  add_one", 10, 10, "items, 4 cached (40%)"),
            row("  square", 10, 10, "items, 4 cached (40%)"),
        ];
        assert_eq!(rows(&term), [first, second, third].concat());
    }
);

engine_test!(
    fn a_run_counts_nodes_and_failures_show(engine) {
        let term = InMemoryTerm::new(20, 140);
        let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let fails = Node::builder("check")
            .params(["x"])
            .output("checked")
            .try_build(|x: i64| if x == 3 { Err("three".to_string()) } else { Ok(x) })?;
        let p = on(&engine, [fails])
            .with_name("checks")
            .with_config(RunConfig::new().with_callback(bars));
        p.run(&Inputs::new().with("x", 1_i64))?;
        let err = p
            .map(&Inputs::new().with("x", vec![1_i64, 2, 3, 4]), &["x"], MapMode::Zip)
            .unwrap_err();
        assert!(err.to_string().contains("three"), "{err}");
        let rows = rows(&term);
        assert_eq!(rows[..2], [row("checks", 1, 1, "nodes"), row("  check", 1, 1, "nodes")]);
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert!(rows[2].starts_with("checks ") && rows[2].contains("/4 "), "{rows:?}");
        assert!(rows[2].ends_with("items, 1 failed"), "{rows:?}");
        assert!(rows[3].starts_with("  check ") && rows[3].ends_with("items, 1 failed"), "{rows:?}");
        // A failed row stays where the run stopped: not every item was done.
        assert!(!rows[2].contains("4/4"), "{rows:?}");
    }
);

engine_test!(
    fn an_unmapped_run_counts_nodes(engine) {
        let term = InMemoryTerm::new(30, 140);
        let bars = ProgressBars::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let config = RunConfig::new().with_callback(bars).with_cache(Cache::memory());
        let p = on(&engine, w1()).with_name("w1").with_config(config.clone());
        p.run(&Inputs::new().with("x", 1_i64))?;
        p.run(&Inputs::new().with("x", 1_i64))?;
        // A nested pipeline without map_over inside a map: called once per item by the
        // node engine, once over the three items by the columnar engine; a node over an
        // item counts one either way.
        let inner = Pipeline::new(w1()).with_name("inner").as_node("nest").build()?;
        let outer = on(&engine, [inner]).with_name("outer").with_config(config);
        outer.map(&Inputs::new().with("x", vec![5_i64, 6, 7]), &["x"], MapMode::Zip)?;
        // A failing node: started, not done.
        let fails = Node::builder("check")
            .params(["squared"])
            .output("checked")
            .try_build(|x: i64| if x > 0 { Err("positive".to_string()) } else { Ok(x) })?;
        let failing = on(&engine, [double::node(), add_one::node(), square::node(), fails])
            .with_name("failing")
            .with_config(RunConfig::new().with_callback(ProgressBars::with_draw_target(
                ProgressDrawTarget::term_like(Box::new(term.clone())),
            )));
        failing.run(&Inputs::new().with("x", 1_i64)).unwrap_err();
        assert_eq!(
            rows(&term),
            [
                row("w1", 3, 3, "nodes"),
                row("  double", 1, 1, "nodes"),
                row("  add_one", 1, 1, "nodes"),
                row("  square", 1, 1, "nodes"),
                row("w1", 3, 3, "nodes, 3 cached (100%)"),
                row("  double", 1, 1, "nodes, 1 cached (100%)"),
                row("  add_one", 1, 1, "nodes, 1 cached (100%)"),
                row("  square", 1, 1, "nodes, 1 cached (100%)"),
                row("outer", 3, 3, "items"),
                row("  nest", 3, 3, "items"),
                row("    inner (nested)", 9, 9, "nodes"),
                row("      double", 3, 3, "nodes"),
                row("      add_one", 3, 3, "nodes"),
                row("      square", 3, 3, "nodes"),
                row("failing", 3, 4, "nodes, 1 failed"),
                row("  double", 1, 1, "nodes"),
                row("  add_one", 1, 1, "nodes"),
                row("  square", 1, 1, "nodes"),
                row("  check", 0, 1, "nodes, 1 failed"),
            ]
        );
    }
);

#[test]
fn hidden_bars_draw_nothing() {
    let term = InMemoryTerm::new(10, 100);
    let bars = ProgressBars::hidden();
    assert!(bars.is_hidden());
    let p = Pipeline::new(w1()).with_config(RunConfig::new().with_callback(bars));
    p.map(&Inputs::new().with("x", vec![1_i64, 2]), &["x"], MapMode::Zip)
        .unwrap();
    assert_eq!(term.contents(), "");
    // Standard error is not a terminal under the test harness's capture (or CI).
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        assert!(ProgressBars::new().is_hidden());
    }
}

#[cfg(feature = "cli")]
mod terminal {
    use super::*;
    use crate::cli::hypernodes;
    use crate::parquet::{TempDir, read_parquet};
    use arrow::array::{Array, AsArray};

    /// The sum of the lengths of the `sentences` lists.
    fn sentences_in(path: &Path) -> u64 {
        let batch = read_parquet(path);
        let lists = batch.column_by_name("sentences").unwrap().as_list::<i32>();
        (0..lists.len()).map(|i| lists.value_length(i) as u64).sum()
    }

    #[test]
    fn no_bars_when_standard_error_is_not_a_terminal() {
        let dir = TempDir::new("progress-pipe");
        let out = dir.join("out.parquet");
        let o = hypernodes(&["run", "examples/sentences.toml", "-o", out.to_str().unwrap()]);
        assert!(o.status.success());
        assert_eq!(String::from_utf8_lossy(&o.stderr), "");
        assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    }

    /// Runs `command` in a detached tmux session of 120 × 30 and returns the screen once
    /// `done` shows on it.
    fn screen_of(session: &str, command: &str, done: &str) -> String {
        let _ = Command::new("tmux").args(["kill-session", "-t", session]).output();
        let started = Command::new("tmux")
            .args(["new-session", "-d", "-s", session, "-x", "120", "-y", "30", command])
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(started.success());
        let deadline = Instant::now() + Duration::from_secs(120);
        let screen = loop {
            let o = Command::new("tmux")
                .args(["capture-pane", "-p", "-t", session])
                .output()
                .unwrap();
            let screen = String::from_utf8_lossy(&o.stdout).into_owned();
            if screen.contains(done) || Instant::now() > deadline {
                break screen;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let _ = Command::new("tmux").args(["kill-session", "-t", session]).output();
        screen
    }

    #[test]
    fn the_binary_draws_nested_bars_in_a_terminal() {
        if Command::new("tmux").arg("-V").output().is_err() {
            println!("skipped: tmux is not installed");
            return;
        }
        let dir = TempDir::new("progress-tmux");
        let data = dir.join("docs.parquet");
        let o = hypernodes(&["gen-data", "--rows", "30000", "--out", data.to_str().unwrap()]);
        assert!(o.status.success());
        let sentences = sentences_in(&data);
        for engine in ["columnar", "node"] {
            let out = dir.join(&format!("{engine}.parquet"));
            let command = format!(
                "cd {} && {} run examples/sentences.toml -i {} -o {} --engine {engine} --batch-rows 1000; echo DONE; sleep 60",
                env!("CARGO_MANIFEST_DIR"),
                env!("CARGO_BIN_EXE_hypernodes"),
                data.display(),
                out.display()
            );
            let screen = screen_of(
                &format!("hn-progress-{}-{engine}", std::process::id()),
                &command,
                "DONE",
            );
            println!("{engine} engine:\n{screen}");
            let lines: Vec<&str> = screen.lines().collect();
            let bar = |i: usize| lines[i].split(" in ").next().unwrap().trim_end().to_string();
            assert_eq!(bar(0), row("sentences", 30_000, 30_000, "items"), "{screen}");
            assert_eq!(bar(1), row("  per_sentence", 30_000, 30_000, "items"), "{screen}");
            assert_eq!(
                bar(2),
                row("    sentence (nested)", sentences, sentences, "items"),
                "{screen}"
            );
            assert_eq!(
                bar(3),
                row("      count_words", sentences, sentences, "items"),
                "{screen}"
            );
            assert_eq!(bar(4), row("  sum", 30_000, 30_000, "items"), "{screen}");
            // Then the summary, as without bars.
            assert_eq!(lines[5], format!("{} -> {}", data.display(), out.display()));
            assert!(
                lines[6].starts_with("30000 rows in, 30000 rows out, 30 batches in "),
                "{screen}"
            );
        }
    }
}
