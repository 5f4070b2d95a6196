//! The shell sessions of the README and the guide (`docs/*.md`), run.
//!
//! Every ` ```console ` block is a session: lines starting with `$ ` are commands, the
//! lines after each are what it printed (standard output, then standard error). Each page's
//! sessions run in order in one fresh directory holding copies of `data/`, `examples/`
//! and `docs/examples/`, and each command's output must equal the block's, except for the
//! figures that measure time (`0.006 s`, `(167903 rows/s)`) and the peak batch memory, which
//! any run changes.
//!
//! The commands a session may use: `hypernodes ARGS` (or `cargo run [--release] -- ARGS`,
//! the same binary), `cat FILE` and `head -N FILE`. A `# comment` after a command is not
//! part of it. To write what the commands print now into the pages:
//!
//! HYPERNODES_BLESS=1 cargo test --test it guide

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::parquet::TempDir;

/// One ` ```console ` block: where it starts, and its commands with what each printed.
struct Session {
    /// The line of the block's opening fence (1-based).
    line: usize,
    steps: Vec<(String, String)>,
}

/// The pages holding sessions: the README and every page of the guide.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.insert(0, root.join("README.md"));
    pages
}

/// The console blocks of a page's text.
fn sessions(text: &str) -> Vec<Session> {
    let mut sessions = Vec::new();
    let mut open: Option<Session> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            None if line.trim_end() == "```console" => {
                open = Some(Session {
                    line: i + 1,
                    steps: Vec::new(),
                })
            }
            None => {}
            Some(_) if line.trim_end() == "```" => sessions.push(open.take().unwrap()),
            Some(s) => match line.strip_prefix("$ ") {
                Some(command) => s.steps.push((command.to_string(), String::new())),
                None => {
                    let (command, output) = s
                        .steps
                        .last_mut()
                        .unwrap_or_else(|| panic!("line {}: output before any `$ ` command", i + 1));
                    assert!(!command.is_empty());
                    output.push_str(line);
                    output.push('\n');
                }
            },
        }
    }
    assert!(open.is_none(), "a console block is not closed");
    sessions
}

/// A command line without its trailing `# comment`, split into words (no quoting: the
/// sessions do not need it).
fn words(command: &str) -> Vec<&str> {
    let command = match command.find(" #") {
        Some(at) => &command[..at],
        None => command,
    };
    command.split_whitespace().collect()
}

/// Runs one session command in `dir` and returns what it printed.
fn run(command: &str, dir: &Path) -> String {
    let words = words(command);
    let args: &[&str] = match words.as_slice() {
        ["hypernodes", args @ ..] => args,
        ["cargo", "run", "--", args @ ..] | ["cargo", "run", "--release", "--", args @ ..] => args,
        ["cat", file] => return std::fs::read_to_string(dir.join(file)).unwrap(),
        ["head", n, file] => {
            let n: usize = n.trim_start_matches('-').parse().unwrap();
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            return text.lines().take(n).map(|l| format!("{l}\n")).collect();
        }
        _ => panic!("a session may run `hypernodes`, `cargo run -- ...`, `cat` and `head -N`: {command}"),
    };
    let o = Command::new(env!("CARGO_BIN_EXE_hypernodes"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `text` with the figures that measure time replaced by `_`: a number of seconds
/// (`0.006 s`) and a rate (`(167903 rows/s)`); and the peak batch memory
/// (`peak batch memory 0.9 MiB`), which depends on how the workers and the writer
/// happened to overlap.
fn mask(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let words: Vec<&str> = text.split(' ').collect();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let seconds = word.contains('.')
            && word.parse::<f64>().is_ok()
            && (next == "s" || next.starts_with("s;") || next.starts_with("s,") || next.starts_with("s\n"));
        let rate = word.starts_with('(') && word[1..].parse::<f64>().is_ok() && next.starts_with("rows/s)");
        let peak = i >= 3 && words[i - 3..i] == ["peak", "batch", "memory"] && word.parse::<f64>().is_ok();
        out.push(match (seconds || peak, rate) {
            (true, _) => "_".to_string(),
            (_, true) => "(_".to_string(),
            _ => word.to_string(),
        });
    }
    out.join(" ")
}

/// Copies what the sessions read into a fresh directory: `data/`, `examples/` and `docs/examples/`
/// (the latter at the top).
fn workspace(name: &str) -> TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TempDir::new(name);
    for (from, to) in [("data", "data"), ("examples", "examples"), ("docs/examples", ".")] {
        let to = dir.0.join(to);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(root.join(from)).unwrap() {
            let path = e.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

#[test]
fn every_console_block_shows_what_its_commands_print() {
    let bless = std::env::var_os("HYPERNODES_BLESS").is_some();
    let mut checked = 0;
    let mut drifted = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let dir = workspace(&format!("guide-{}", name.trim_end_matches(".md")));
        let mut blessed: Vec<String> = text.lines().map(str::to_string).collect();
        // Lines to put in place of each session's, from the last session up.
        let mut replacements = Vec::new();
        for session in sessions(&text) {
            let mut lines = Vec::new();
            for (command, expected) in &session.steps {
                let got = run(command, &dir.0);
                checked += 1;
                if mask(&got) != mask(expected) {
                    drifted.push(format!(
                        "{name}:{}: `{command}`\n--- the page:\n{expected}--- printed:\n{got}",
                        session.line
                    ));
                }
                lines.push(format!("$ {command}"));
                lines.extend(got.lines().map(str::to_string));
            }
            let len = session.steps.len() + session.steps.iter().map(|(_, o)| o.lines().count()).sum::<usize>();
            replacements.push((session.line, len, lines));
        }
        if bless && !replacements.is_empty() {
            for (line, len, lines) in replacements.into_iter().rev() {
                blessed.splice(line..line + len, lines);
            }
            std::fs::write(&page, blessed.join("\n") + "\n").unwrap();
        }
    }
    assert!(checked >= 20, "only {checked} session commands found");
    assert!(
        bless || drifted.is_empty(),
        "{} session command(s) print something else now (HYPERNODES_BLESS=1 rewrites the pages):\n{}",
        drifted.len(),
        drifted.join("\n")
    );
}

#[test]
fn masking_hides_only_the_figures_of_time_and_of_peak_memory() {
    assert_eq!(
        mask("1000 rows in, 1 batches in 0.006 s (167903 rows/s); peak batch memory 0.5 MiB; wrote x (0.0 MiB)"),
        "1000 rows in, 1 batches in _ s (_ rows/s); peak batch memory _ MiB; wrote x (0.0 MiB)"
    );
    assert_eq!(
        mask("wrote 1000 rows (seed 42) to d.csv (0.2 MiB) in 0.00 s\n"),
        "wrote 1000 rows (seed 42) to d.csv (0.2 MiB) in _ s\n"
    );
    assert_eq!(mask("took 2 s and 1.5 ms"), "took 2 s and 1.5 ms");
}

#[test]
fn sessions_are_read_command_by_command() {
    let page = "text\n```console\n$ hypernodes a   # why\nout 1\nout 2\n$ cat f\n```\n```sh\n$ not a session\n```\n";
    let s = sessions(page);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].line, 2);
    assert_eq!(
        s[0].steps,
        [
            ("hypernodes a   # why".to_string(), "out 1\nout 2\n".to_string()),
            ("cat f".to_string(), String::new())
        ]
    );
    assert_eq!(words(&s[0].steps[0].0), ["hypernodes", "a"]);
}

#[test]
fn every_page_of_the_guide_runs_its_examples_as_doctests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let mut pages = 0;
    for page in self::pages().into_iter().skip(1) {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        if name == "README.md" {
            continue;
        }
        pages += 1;
        let include = format!("include_str!(\"../docs/{name}\")");
        assert!(
            lib.contains(&include),
            "docs/{name} is not in src/lib.rs's `guide` module: its examples would not run"
        );
    }
    assert_eq!(pages, 16);
}
