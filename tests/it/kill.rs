//! Kill tests: a child `hypernodes run` is SIGKILLed at pseudo-random points (a fixed
//! seed: the same points, as fractions of a measured run, every time), then what it left
//! is checked. An output it replaces is byte for byte the previous one or the new one,
//! never partial; its temporary files are removed by the next run into the directory; a
//! cache directory (LMDB, see `hypernodes::cache::disk`) it was writing holds all or none
//! of its entries and serves the next run, which gives the uncached result.
//!
//! The tests run one at a time (they time runs of the program; two at once on a small
//! machine would skew each other's timings), and each prints its figures.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hypernodes::datagen::write_docs;

use crate::cli::{checksum_of, command, hypernodes, text};
use crate::parquet::{TempDir, files_in};

/// Kill runs per test.
const RUNS: usize = 20;

/// The signal `Child::kill` sends on Unix.
const SIGKILL: i32 = 9;

/// Held by each test for its whole run: one kill test at a time.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The pipelines' nodes: two registry functions (cached with `--cache`; `clean_text`'s
/// strings are most of the bytes).
const TEXT_NODES: &str = r#"[[nodes]]
function = "clean_text"
inputs = { text = "passage" }

[[nodes]]
function = "count_words"
inputs = { text = "cleaned_text" }
"#;

/// A pipeline file of [`TEXT_NODES`] over the column `passage`, with `more` (TOML lines)
/// after the line `[inputs]`, then `nodes`.
fn pipeline_file(path: &Path, more: &str, nodes: &str) {
    let toml = format!("[inputs]\n{more}passage = \"string\"\n\n{TEXT_NODES}\n{nodes}");
    std::fs::write(path, toml).unwrap();
}

/// A seeded splitmix64 stream.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// `n` points spread over `span`: one at a random place in each of `n` equal slices, in
/// a random order (so that a drift in the machine's speed does not favour the late ones).
pub fn kill_points(seed: u64, n: usize, span: Duration) -> Vec<Duration> {
    let mut rng = SplitMix(seed);
    let mut points: Vec<Duration> = (0..n)
        .map(|i| span.mul_f64((i as f64 + rng.unit()) / n as f64))
        .collect();
    for i in (1..n).rev() {
        points.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    points
}

/// Runs `hypernodes` with `args`, calls `wait` with the child (it sleeps, or watches the
/// child), kills it, and returns its process id and how it ended.
pub fn kill_run(args: &[&str], wait: impl FnOnce(&mut Child)) -> (u32, Output) {
    let mut child = command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(&mut child);
    // An exited child is a zombie until waited for: the kill then does nothing.
    child.kill().unwrap();
    (child.id(), child.wait_with_output().unwrap())
}

/// Whether the child was killed (else it ran to the end; a failure panics with its error).
pub fn was_killed(out: &Output) -> bool {
    match out.status.signal() {
        Some(SIGKILL) => true,
        _ => {
            assert!(out.status.success(), "{}: {}", out.status, text(&out.stderr));
            false
        }
    }
}

/// `args` as the `&str`s [`hypernodes`] takes.
fn args(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A run that must succeed, and how long it took.
pub fn timed(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = hypernodes(args);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    (out, took)
}

/// A file the kill runs replace: its contents before them, and after a whole run.
struct Replaced {
    path: PathBuf,
    previous: Vec<u8>,
    new: Vec<u8>,
}

impl Replaced {
    /// `path` as it is now (the previous output), with the contents of `new`, the same
    /// output of a whole run.
    fn new(path: PathBuf, new: &Path) -> Replaced {
        let (previous, new) = (std::fs::read(&path).unwrap(), std::fs::read(new).unwrap());
        assert_ne!(previous, new, "{}", path.display());
        Replaced { path, previous, new }
    }
}

/// What the rounds of [`kill_rounds`] saw.
#[derive(Debug, Default)]
struct Tally {
    /// Killed before replacing anything: every file held its previous contents.
    midway: usize,
    /// Killed after replacing every file (while exiting).
    after: usize,
    /// Killed between two renames: some files new, the others previous.
    between: usize,
    /// Ran to the end before the kill came.
    finished: usize,
    /// Killed runs that left temporary files.
    left_tmp: usize,
    /// Runs that removed the temporary files earlier runs left.
    cleaned: usize,
}

/// The process id in a temporary file's name `.NAME.PID.tmp`, where NAME is one of `names`.
fn tmp_pid(file: &str, names: &[String]) -> Option<u32> {
    let stem = file.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (name, pid) = stem.rsplit_once('.')?;
    names.iter().any(|n| n == name).then(|| pid.parse().ok())?
}

/// Runs `args` [`RUNS`] times, killing each run at the points [`kill_points`] spreads
/// over `span`, with every file of `files` holding its previous contents before each
/// run. After each kill every file is whole, previous or new (new only for a run that
/// got to its renames), the files' directories hold only what they held before and the
/// temporary files of killed runs, and a run that created its own temporary files has
/// removed those of the runs before it. A last, whole run leaves the directories as they
/// were before, with the new files.
fn kill_rounds(args: &[&str], files: &[Replaced], seed: u64, span: Duration) -> Tally {
    let mut dirs: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for f in files {
        let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
        dirs.entry(f.path.parent().unwrap().to_path_buf())
            .or_default()
            .push(name);
    }
    let before: BTreeMap<&PathBuf, Vec<String>> = dirs.keys().map(|d| (d, files_in(d))).collect();
    let mut leftovers: BTreeMap<&PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut tally = Tally::default();
    for (round, point) in kill_points(seed, RUNS, span).into_iter().enumerate() {
        let (pid, out) = kill_run(args, |_| std::thread::sleep(point));
        let killed = was_killed(&out);
        let mut new = 0;
        for f in files {
            let bytes = std::fs::read(&f.path).unwrap();
            if bytes == f.new {
                new += 1;
                std::fs::write(&f.path, &f.previous).unwrap();
            } else {
                assert!(
                    bytes == f.previous,
                    "round {round} (killed after {point:?}): '{}' is neither the previous nor the new output ({} bytes)",
                    f.path.display(),
                    bytes.len()
                );
            }
        }
        match (killed, new) {
            (true, 0) => tally.midway += 1,
            (true, n) if n == files.len() => tally.after += 1,
            (true, _) => tally.between += 1,
            (false, n) => {
                assert_eq!(n, files.len(), "round {round}: a whole run left previous files");
                tally.finished += 1;
            }
        }
        let mut left = false;
        for (dir, names) in &dirs {
            let now = files_in(dir);
            let extra: BTreeSet<String> = now.iter().filter(|n| !before[dir].contains(n)).cloned().collect();
            assert!(
                before[dir].iter().all(|n| now.contains(n)),
                "round {round}: {now:?} in {}",
                dir.display()
            );
            let earlier = leftovers.entry(dir).or_default();
            let mine: BTreeSet<String> = extra
                .iter()
                .filter(|n| tmp_pid(n, names) == Some(pid))
                .cloned()
                .collect();
            for name in extra.difference(&mine) {
                assert!(
                    earlier.contains(name),
                    "round {round}: '{name}' in {} is no file a killed run left",
                    dir.display()
                );
            }
            // A run removes the temporary files of dead runs before it creates its own.
            if !mine.is_empty() {
                assert!(killed, "round {round}: a whole run left {mine:?}");
                assert!(
                    extra.is_subset(&mine),
                    "round {round}: the run created {mine:?} but left the earlier {:?} in {}",
                    extra.difference(&mine).collect::<Vec<_>>(),
                    dir.display()
                );
                left = true;
            }
            if !earlier.is_empty() && earlier.is_disjoint(&extra) {
                tally.cleaned += 1;
            }
            *earlier = extra;
        }
        tally.left_tmp += usize::from(left);
    }
    let out = hypernodes(args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for f in files {
        assert!(std::fs::read(&f.path).unwrap() == f.new, "{}", f.path.display());
    }
    for (dir, names) in &before {
        assert_eq!(&files_in(dir), names, "{}", dir.display());
    }
    tally
}

/// Kills runs (with [`kill_rounds`]) of [`TEXT_NODES`] and a SQL expression that fails
/// (division by zero) on the ids 7k + 3, whose rows go to the failed rows' file. The runs
/// read `input` and replace the output of a run over `previous`: the output `out` and
/// the failed rows `failed`, files (`names` empty) or directories holding `names`, `ext`
/// the files' extension. Checks that two whole runs give the same bytes and the
/// summary's `checksum`, and the figures.
fn kill_collect(test: &str, previous: &Path, input: &Path, names: &[&str], ext: &str, checksum: &str) {
    let started = Instant::now();
    let dir = previous.parent().unwrap();
    let toml = dir.join("collect.toml");
    pipeline_file(
        &toml,
        "id = \"i64\"\n",
        "[[nodes]]\nname = \"ratio\"\nsql = \"100 / (id % 7 - 3)\"\n",
    );
    let run = |input: &Path, output: &str| -> Vec<String> {
        let (out, failed) = (
            dir.join(format!("{output}{ext}")),
            dir.join(format!("{output}-failed{ext}")),
        );
        [
            "run",
            toml.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--select",
            "id,word_count,ratio",
            "--on-error",
            "collect",
            "--failed",
            failed.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    // The previous output, of other data; the new one, twice: equal bytes, and the time.
    timed(&args(&run(previous, "out")));
    let (first, took) = timed(&args(&run(input, "new")));
    let (_, again) = timed(&args(&run(input, "again")));
    assert_eq!(checksum_of(&text(&first.stdout)), checksum);
    let mut files = Vec::new();
    for kind in ["", "-failed"] {
        let path = |output: &str, name: &str| match dir.join(format!("{output}{kind}{ext}")) {
            file if name.is_empty() => file,
            directory => directory.join(name),
        };
        for name in if names.is_empty() { &[""] } else { names } {
            assert!(std::fs::read(path("new", name)).unwrap() == std::fs::read(path("again", name)).unwrap());
            files.push(Replaced::new(path("out", name), &path("new", name)));
        }
    }
    let whole = took.min(again);
    let seed = u64::from_le_bytes(*b"killseed") ^ names.len() as u64;
    let tally = kill_rounds(&args(&run(input, "out")), &files, seed, whole.mul_f64(0.95));
    println!(
        "{test}: a whole run {whole:?}; {RUNS} runs: {tally:?}; the test took {:?}",
        started.elapsed()
    );
    assert_eq!(tally.midway + tally.after + tally.between + tally.finished, RUNS);
    assert!(tally.midway >= RUNS * 3 / 4, "{tally:?}");
    assert!(tally.left_tmp >= 1 && tally.cleaned >= 1, "{tally:?}");
}

#[test]
fn a_killed_run_leaves_the_previous_output_and_failed_rows_whole() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("kill-file");
    let (previous, input) = (dir.join("docs_1000.parquet"), dir.join("docs.parquet"));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/docs_1000.parquet"),
        &previous,
    )
    .unwrap();
    write_docs(&input, 12_000, 5).unwrap();
    kill_collect(
        "single file",
        &previous,
        &input,
        &[],
        ".parquet",
        "integers 61943770, floats 0.000000",
    );
}

#[test]
fn a_killed_directory_run_leaves_each_previous_output_whole() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("kill-dir");
    let names = ["a.parquet", "b.parquet", "c.parquet", "d.parquet"];
    for (sub, rows) in [("before", 300), ("in", 3_000)] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for (seed, name) in names.iter().enumerate() {
            write_docs(&dir.join(sub).join(name), rows, seed as u64).unwrap();
        }
    }
    let (previous, input) = (dir.join("before"), dir.join("in"));
    kill_collect(
        "directory",
        &previous,
        &input,
        &names,
        "",
        "integers 15648678, floats 0.000000",
    );
}

/// Waits until `path` exists or `child` has exited; returns whether `path` exists.
fn until_written(path: &Path, child: &mut Child) -> bool {
    loop {
        if path.exists() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// The rows of `hypernodes cache stats DIR` (node, blocks, items, bytes), without the
/// header and the size of `data.mdb`.
fn stats_rows(dir: &Path) -> Vec<Vec<String>> {
    let out = hypernodes(&["cache", "stats", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .skip(1)
        .filter(|line| !line.is_empty() && !line.starts_with("data.mdb: "))
        .map(|line| line.split_whitespace().map(String::from).collect())
        .collect()
}

/// The `cache: ...` part of a `run` summary.
fn cache_report(out: &Output) -> String {
    let stdout = text(&out.stdout);
    let summary = stdout.lines().nth(1).unwrap();
    summary
        .split("; ")
        .find(|p| p.starts_with("cache: "))
        .unwrap()
        .to_string()
}

/// `hypernodes cache clear DIR [--node NODE]`; returns what it prints.
fn clear(dir: &Path, node: Option<&str>) -> String {
    let mut args = vec!["cache", "clear", dir.to_str().unwrap()];
    args.extend(node.map(|n| ["--node", n]).into_iter().flatten());
    let out = hypernodes(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// What [`clear`] prints when it removes what `rows` (of [`stats_rows`]) count.
fn cleared(dir: &Path, rows: &[Vec<String>]) -> String {
    let total = rows.last().unwrap();
    format!(
        "{}: removed {} blocks ({} items, {} bytes) of {} node keys\n",
        dir.display(),
        total[1],
        total[2],
        total[3],
        rows.len() - 1
    )
}

/// What [`a_killed_cache_writer_leaves_a_store_the_next_run_uses`] saw.
#[derive(Debug, Default)]
struct CacheTally {
    /// Killed before its output was in place (before it wrote the cache).
    before_output: usize,
    /// Killed after its output was in place: while committing the cache, or exiting.
    writing_cache: usize,
    /// Ran to the end before the kill came.
    finished: usize,
    /// Killed runs whose cache entries were all kept (the last commit was done).
    kept: usize,
    /// Killed runs whose cache entries were all lost (the store as before the run).
    lost: usize,
    /// Killed runs that kept some of their blocks (those committed before the kill).
    partly: usize,
}

/// The blocks of each node of a full run over the 20,000 rows: the Parquet reader's
/// 8,192-row batches.
const BLOCKS: [u64; 3] = [8192, 8192, 3616];

/// The items per node (`clean_text`, `count_words`) of [`stats_rows`]' rows.
fn node_items(rows: &[Vec<String>]) -> [u64; 2] {
    let of = |node: &str| rows.iter().find(|r| r[0] == node).map_or(0, |r| r[2].parse().unwrap());
    [of("clean_text"), of("count_words")]
}

/// The hits per node (`clean_text`, `count_words`) of a [`cache_report`].
fn report_hits(report: &str) -> [u64; 2] {
    let of = |node: &str| {
        let at = report.find(&format!("{node} ")).unwrap() + node.len() + 1;
        report[at..].split(' ').next().unwrap().parse().unwrap()
    };
    [of("clean_text"), of("count_words")]
}

/// Whether every node's `items` are whole blocks of a full run, and at least `before`.
fn whole_blocks(items: &[u64; 2], before: &[u64; 2]) -> bool {
    let sums: Vec<u64> = (0..8_u32)
        .map(|set| (0..3).filter(|b| set & (1 << b) != 0).map(|b| BLOCKS[b]).sum())
        .collect();
    items.iter().zip(before).all(|(i, b)| sums.contains(i) && i >= b)
}

#[test]
fn a_killed_cache_writer_leaves_a_store_the_next_run_uses() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let dir = TempDir::new("kill-cache");
    let toml = dir.join("cache.toml");
    pipeline_file(&toml, "", "");
    let input = dir.join("docs.parquet");
    write_docs(&input, 20_000, 7).unwrap();
    let run = |output: &Path, cache: Option<&Path>| -> Vec<String> {
        let mut args = vec![
            "run",
            toml.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--select",
            "word_count",
        ];
        args.extend(cache.map(|c| ["--cache", c.to_str().unwrap()]).into_iter().flatten());
        args.into_iter().map(String::from).collect()
    };
    // Without a cache: the result every run must give.
    let plain = dir.join("plain.parquet");
    let (out, _) = timed(&args(&run(&plain, None)));
    let expected = std::fs::read(&plain).unwrap();
    let checksum = checksum_of(&text(&out.stdout));
    assert_eq!(checksum, "integers 450013, floats 0.000000");
    // Two whole runs that store everything, into a new store and into one emptied by
    // `cache clear`, watched: when the output is in place (then a run writes the cache)
    // and when the run ends.
    let (reference, watched) = (dir.join("reference"), dir.join("watched.parquet"));
    let all_misses = "cache: clean_text 0 hits 20000 misses, count_words 0 hits 20000 misses";
    let watch = || {
        let _ = std::fs::remove_file(&watched);
        let (mut written, mut ended) = (Duration::ZERO, Duration::ZERO);
        let (_, out) = kill_run(&args(&run(&watched, Some(&reference))), |child| {
            let spawned = Instant::now();
            assert!(until_written(&watched, child));
            written = spawned.elapsed();
            child.wait().unwrap();
            ended = spawned.elapsed();
        });
        assert!(!was_killed(&out));
        assert_eq!(cache_report(&out), all_misses);
        assert!(std::fs::read(&watched).unwrap() == expected);
        (ended, ended - written)
    };
    let (run1, cache1) = watch();
    let full = stats_rows(&reference);
    assert_eq!(
        full,
        [
            ["clean_text", "3", "20000", "4041319"],
            ["count_words", "3", "20000", "800999"],
            ["total", "6", "40000", "4842318"],
        ]
    );
    assert_eq!(clear(&reference, None), cleared(&reference, &full));
    let (run2, cache2) = watch();
    assert_eq!(stats_rows(&reference), full);
    let (whole, window) = (run1.min(run2), cache1.min(cache2));
    let empty = vec![vec!["total".to_string(), "0".into(), "0".into(), "0".into()]];
    let mut total = full[1].clone();
    total[0] = "total".into();
    let count_words_only = vec![full[1].clone(), total];
    let all_hits = "cache: clean_text 20000 hits 0 misses, count_words 20000 hits 0 misses";

    // Even rounds: killed anywhere in the run; odd rounds: while it writes the cache.
    let anywhere = kill_points(u64::from_le_bytes(*b"anywhere"), RUNS / 2, whole.mul_f64(0.9));
    let writing = kill_points(u64::from_le_bytes(*b"in-flush"), RUNS / 2, window.mul_f64(0.9));
    let (cache, out_path) = (dir.join("cache"), dir.join("out.parquet"));
    let mut tally = CacheTally::default();
    for round in 0..RUNS {
        // A kill aimed at the cache write (a few milliseconds) that came after the run
        // ended, on a loaded machine, is aimed again, up to 4 more times.
        let mut attempts = 0;
        let (before, out) = loop {
            // The store the killed run starts from: none, emptied, or without clean_text's
            // entries (the last run stored everything).
            let before = match round % 3 {
                0 => {
                    let _ = std::fs::remove_dir_all(&cache);
                    &empty
                }
                1 => {
                    assert_eq!(clear(&cache, None), cleared(&cache, &full));
                    &empty
                }
                _ => {
                    let clean_text = [full[0].clone(), full[0].clone()];
                    assert_eq!(clear(&cache, Some("clean_text")), cleared(&cache, &clean_text));
                    &count_words_only
                }
            };
            let _ = std::fs::remove_file(&out_path);
            let (_, out) = kill_run(&args(&run(&out_path, Some(&cache))), |child| {
                if round % 2 == 0 {
                    std::thread::sleep(anywhere[round / 2]);
                } else if until_written(&out_path, child) {
                    std::thread::sleep(writing[round / 2].mul_f64(0.5_f64.powi(attempts)));
                }
            });
            if round % 2 == 1 && !was_killed(&out) && attempts < 4 {
                attempts += 1;
                continue;
            }
            break (before, out);
        };
        let killed = was_killed(&out);
        let output_in_place = out_path.exists();
        if output_in_place {
            assert!(std::fs::read(&out_path).unwrap() == expected, "round {round}");
        }
        match (killed, output_in_place) {
            (true, false) => tally.before_output += 1,
            (true, true) => tally.writing_cache += 1,
            (false, _) => tally.finished += 1,
        }
        // The first process after the kill is `cache stats`, a run or `cache clear`, by
        // turns. The cache is committed while the run computes: the store holds, per
        // node, what it held before and whole blocks of what the killed run wrote.
        let first = round / 2 % 3;
        let mut held = None;
        if first == 0 && cache.exists() {
            let rows = stats_rows(&cache);
            let items = node_items(&rows);
            assert!(
                whole_blocks(&items, &node_items(before)),
                "round {round}: the store after the kill: {rows:?}"
            );
            held = Some(items);
        }
        if first == 2 && cache.exists() {
            let said = clear(&cache, None);
            assert!(
                said.starts_with(&format!("{}: removed ", cache.display())),
                "round {round}: {said}"
            );
        }
        let (out, _) = timed(&args(&run(&out_path, Some(&cache))));
        assert!(std::fs::read(&out_path).unwrap() == expected, "round {round}");
        assert_eq!(checksum_of(&text(&out.stdout)), checksum);
        let report = cache_report(&out);
        let hits = report_hits(&report);
        match (first, held) {
            (2, _) => assert_eq!(report, all_misses, "round {round}"),
            _ if !killed => assert_eq!(report, all_hits, "round {round}: a whole run lost its cache entries"),
            (_, Some(items)) => assert_eq!(hits, items, "round {round}: {report}"),
            (_, None) => assert!(whole_blocks(&hits, &node_items(before)), "round {round}: {report}"),
        }
        if killed && first != 2 {
            let before = node_items(before);
            *(match hits {
                _ if report == all_hits => &mut tally.kept,
                hits if hits == before => &mut tally.lost,
                _ => &mut tally.partly,
            }) += 1;
        }
        assert_eq!(stats_rows(&cache), full, "round {round}");
    }
    // A run that finds everything cached gives the same result.
    let (out, _) = timed(&args(&run(&out_path, Some(&cache))));
    assert_eq!(cache_report(&out), all_hits);
    assert!(std::fs::read(&out_path).unwrap() == expected);
    println!(
        "cache: whole runs {run1:?} and {run2:?}, the cache written in their last {cache1:?} and {cache2:?}; {RUNS} runs: {tally:?}; the test took {:?}",
        started.elapsed()
    );
    assert!(tally.before_output + tally.writing_cache >= RUNS / 2, "{tally:?}");
    assert!(tally.writing_cache >= RUNS / 5, "{tally:?}");
}
