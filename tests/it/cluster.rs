//! Runs on a Ballista cluster: inside this process (Ballista's standalone mode) and
//! across processes (a scheduler and two executors started by the test on 127.0.0.1),
//! each compared with the local run of the same pipeline.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use hypernodes::cluster::Cluster;
use hypernodes::io::{EngineChoice, FileRun, RunSummary};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};
use hypernodes::{Cache, Error, Node};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::parquet::{TempDir, read_parquet};
use crate::w8_nodes;

// Runs over an object store: the S3 server of the `s3` tests.
#[cfg(all(feature = "cloud", feature = "cli"))]
mod s3;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

/// `rows` generated docs in row groups of 1,000 rows, so that the cluster splits the
/// file into several partitions.
fn docs(path: &Path, rows: usize) {
    let batch = hypernodes::datagen::docs_block(rows, 7, 0);
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1_000))
        .build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Equal column names and values, row by row (field nullability aside).
fn assert_same_rows(a: &RecordBatch, b: &RecordBatch) {
    let names = |x: &RecordBatch| -> Vec<String> { x.schema().fields().iter().map(|f| f.name().clone()).collect() };
    assert_eq!(names(a), names(b));
    assert_eq!(a.num_rows(), b.num_rows());
    for i in 0..a.num_columns() {
        assert_eq!(a.column(i).as_ref(), b.column(i).as_ref(), "column {}", names(a)[i]);
    }
}

/// The pipeline file `toml`'s run over `input`, locally and on `cluster`: both
/// summaries, after checking that the outputs hold the same rows in the same order.
fn local_and_on(cluster: Cluster, toml: &str, input: &Path, dir: &TempDir) -> (RunSummary, RunSummary) {
    let file = load(&example(toml), &Registry::new(), None).unwrap();
    let run = |out: &Path| FileRun::new(file.pipeline.clone(), input, out).with_select(file.select.clone().unwrap());
    let local = run(&dir.join("local.parquet")).run().unwrap();
    let remote = run(&dir.join("cluster.parquet"))
        .with_remote(cluster)
        .with_partitions(3)
        .run()
        .unwrap();
    assert_same_rows(
        &read_parquet(&dir.join("local.parquet")),
        &read_parquet(&dir.join("cluster.parquet")),
    );
    (local, remote)
}

#[test]
fn standalone_runs_give_the_local_results_for_w3_and_w4() {
    let dir = TempDir::new("cluster-standalone");
    let input = dir.join("docs.parquet");
    docs(&input, 12_000);
    for toml in ["text.toml", "sentences.toml"] {
        let (local, remote) = local_and_on(Cluster::standalone(Registry::new(), 2), toml, &input, &dir);
        assert_eq!((remote.rows_in, remote.rows_out), (12_000, 12_000));
        assert_eq!(
            (remote.int_sum, remote.float_sum),
            (local.int_sum, local.float_sum),
            "{toml}"
        );
    }
}

#[node(output = "shout")]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[node(output = "lengths")]
fn length(words: &str, weight: i64) -> i64 {
    words.len() as i64 * weight
}

/// A registry function renamed twice and uncached, and a nested pipeline mapped over a
/// list column that binds a value: the shapes a description must rebuild.
#[test]
fn renamed_uncached_and_nested_nodes_rebuild_on_the_executors() {
    let dir = TempDir::new("cluster-shapes");
    let input = dir.join("docs.parquet");
    docs(&input, 3_000);
    let mut registry = Registry::new();
    registry.register(length::node());
    let loud = shout::node().renamed("loud", &[("text", "passage")], &[]).unwrap();
    registry.register(loud.clone());
    let louder = loud.renamed("louder", &[], &[("shout", "shouted")]).unwrap().uncached();
    let words = Pipeline::new([length::node()])
        .bind(Inputs::new().with("weight", 3_i64))
        .unwrap()
        .with_name("words")
        .as_node("per_pair")
        .with_input_mapping([("sentences", "words")])
        .with_map_over(["sentences"])
        .build()
        .unwrap();
    let pipeline = Pipeline::new([louder, words]);
    let select = ["id", "shouted", "lengths"];
    let local = FileRun::new(pipeline.clone(), &input, dir.join("local.parquet"))
        .with_select(select)
        .run()
        .unwrap();
    let remote = FileRun::new(pipeline, &input, dir.join("cluster.parquet"))
        .with_select(select)
        .with_remote(Cluster::standalone(registry, 2))
        .run()
        .unwrap();
    assert_same_rows(
        &read_parquet(&dir.join("local.parquet")),
        &read_parquet(&dir.join("cluster.parquet")),
    );
    assert_eq!((remote.int_sum, remote.rows_out), (local.int_sum, 3_000));
}

#[test]
fn an_executor_with_other_code_or_without_the_function_refuses_the_plan() {
    let dir = TempDir::new("cluster-refuse");
    let input = dir.join("docs.parquet");
    docs(&input, 100);
    let pipeline = Pipeline::new([shout::node().renamed("loud", &[("text", "passage")], &[]).unwrap()]);
    let run = |registry: Registry| {
        FileRun::new(pipeline.clone(), &input, dir.join("out.parquet"))
            .with_select(["id", "shout"])
            .with_remote(Cluster::standalone(registry, 1))
            .run()
            .unwrap_err()
            .to_string()
    };
    // Another function under the same name: other code.
    let mut other = Registry::new();
    other.register(
        Node::builder("shout")
            .params(["text"])
            .output("shout")
            .build(|t: String| t.to_lowercase())
            .unwrap(),
    );
    let ours = shout::node().code_hash()[..12].to_string();
    let theirs = other.get("shout").unwrap().code_hash()[..12].to_string();
    let input_name = input.display();
    assert_eq!(
        run(other),
        format!(
            "The cluster job over '{input_name}' failed: node 'loud': function 'shout' has code hash {theirs} here \
             but {ours} where the plan was made; build this process from the same code"
        )
    );
    assert_eq!(
        run(Registry::new()),
        format!(
            "The cluster job over '{input_name}' failed: node 'loud': function 'shout' is not in this process's \
             registry. Functions: char_count, clean_text, count_words, hash_hex, parse_timestamp, round_decimal, sum, \
             truncate_timestamp"
        )
    );
    assert_eq!(dir.files(), ["docs.parquet"]);
}

struct Model;

#[test]
fn what_a_cluster_cannot_run_is_refused_before_anything_runs() {
    let dir = TempDir::new("cluster-unfit");
    let input = dir.join("docs.parquet");
    docs(&input, 100);
    let cluster = || Cluster::standalone(Registry::new(), 1);
    let load_model = Node::builder("load")
        .params(["passage"])
        .output("model")
        .build(|_: String| Arc::new(Model))
        .unwrap();
    let apply = Node::builder("apply")
        .params(["model"])
        .output("scored")
        .build(|_: Arc<Model>| 1_i64)
        .unwrap();
    let err = FileRun::new(Pipeline::new([load_model, apply]), &input, dir.join("out.parquet"))
        .with_select(["id", "scored"])
        .with_remote(cluster())
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Unfit { .. }));
    assert_eq!(
        err.to_string(),
        "The pipeline cannot run on a cluster: node 'load' returns 'model' as Arc<Model>, which is not an Arrow \
         type; node 'apply' reads 'model' as Arc<Model>, which is not an Arrow type"
    );
    let count = Pipeline::new([shout::node().renamed("loud", &[("text", "passage")], &[]).unwrap()]);
    let refused = |run: FileRun| run.with_remote(cluster()).run().unwrap_err().to_string();
    let run = || FileRun::new(count.clone(), &input, dir.join("out.parquet"));
    assert_eq!(
        refused(run().with_engine(EngineChoice::Node)),
        "A cluster runs the columnar engine's plan: the node engine cannot run on a cluster"
    );
    assert_eq!(
        refused(
            run()
                .with_config(RunConfig::new().with_on_error(OnError::Collect))
                .with_failed(dir.join("failed.parquet"))
        ),
        "A cluster run cannot collect failed rows (on_error collect): it fails on the first failure"
    );
    assert_eq!(
        refused(run().with_config(RunConfig::new().with_cache(Cache::memory()))),
        "A cluster run has no cache: the executors do not share one; run without --cache"
    );
    assert_eq!(dir.files(), ["docs.parquet"]);
}

#[node(output = "checked")]
fn fail_on_42(id: i64) -> Result<i64, String> {
    if id == 42 {
        return Err("no answer here".into());
    }
    Ok(id)
}

#[test]
fn a_node_failing_on_an_executor_fails_the_run_and_writes_nothing() {
    let dir = TempDir::new("cluster-fail");
    let input = dir.join("docs.parquet");
    docs(&input, 100);
    std::fs::write(dir.join("out.parquet"), b"before").unwrap();
    let mut registry = Registry::new();
    registry.register(fail_on_42::node());
    let err = FileRun::new(Pipeline::new([fail_on_42::node()]), &input, dir.join("out.parquet"))
        .with_select(["id", "checked"])
        .with_remote(Cluster::standalone(registry, 1))
        .run()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "The cluster job over '{}' failed: Node 'fail_on_42' failed: no answer here",
            input.display()
        )
    );
    assert_eq!(std::fs::read(dir.join("out.parquet")).unwrap(), b"before");
    assert_eq!(dir.files(), ["docs.parquet", "out.parquet"]);
}

/// W8's typed columns (a zoned timestamp, a decimal with a bound decimal rate, a
/// dictionary, binary and an embedding passed through) cross the cluster's plan codec
/// and give the local rows.
#[test]
fn typed_columns_and_a_bound_decimal_give_the_local_rows() {
    let dir = TempDir::new("cluster-typed");
    let input = dir.join("events.parquet");
    hypernodes::datagen::write_data_set(hypernodes::datagen::DataSet::Events, &input, 5_000, 3).unwrap();
    let mut registry = Registry::new();
    registry
        .register(w8_nodes::hour::node())
        .register(w8_nodes::convert::node())
        .register(w8_nodes::normalise::node());
    let pipeline = w8_nodes::pipeline();
    let select = ["id", "hour", "amount_eur", "category_clean", "note", "uid", "embedding"];
    let run = |out: &str| FileRun::new(pipeline.clone(), &input, dir.join(out)).with_select(select);
    run("local.parquet").run().unwrap();
    let remote = run("cluster.parquet")
        .with_remote(Cluster::standalone(registry, 2))
        .with_partitions(3)
        .run()
        .unwrap();
    assert_eq!(remote.rows_out, 5_000);
    let local = read_parquet(&dir.join("local.parquet"));
    assert_same_rows(&local, &read_parquet(&dir.join("cluster.parquet")));
    assert_eq!(
        local.schema().field_with_name("amount_eur").unwrap().data_type(),
        &arrow::datatypes::DataType::Decimal128(38, 18)
    );
}

/// Processes started by a test, killed when it ends however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free port whose next port is free too (an executor takes both).
fn free_ports() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn binary(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hypernodes"));
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A scheduler and `executors` one-core executors with the variables `env` (and no
/// other `AWS_*` variable); the scheduler's URL and the executors' indices in
/// `processes`.
fn start_cluster(
    dir: &TempDir,
    processes: &mut Processes,
    executors: usize,
    env: &[(&str, &str)],
) -> (String, Vec<usize>) {
    let scheduler = free_ports();
    let url = format!("df://127.0.0.1:{scheduler}");
    let bind = format!("127.0.0.1:{scheduler}");
    processes.0.push(
        binary(&["cluster", "scheduler", "--bind", &bind, "--executor-timeout", "6s"])
            .spawn()
            .unwrap(),
    );
    wait_for_port(scheduler, Duration::from_secs(30));
    let mut started = Vec::new();
    for _ in 0..executors {
        let port = free_ports();
        let work = dir.join(&format!("work{port}"));
        std::fs::create_dir_all(&work).unwrap();
        let (p, w) = (port.to_string(), work.display().to_string());
        let mut executor = binary(&[
            "cluster",
            "executor",
            "--scheduler",
            &url,
            "--port",
            &p,
            "--cores",
            "1",
            "--work-dir",
            &w,
        ]);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("AWS_")) {
            executor.env_remove(name);
        }
        processes.0.push(executor.envs(env.iter().copied()).spawn().unwrap());
        started.push(processes.0.len() - 1);
        wait_for_port(port, Duration::from_secs(30));
    }
    (url, started)
}

/// Runs `hypernodes` to its end, at most `within`: (success, stdout, stderr).
fn run_within(args: &[&str], within: Duration) -> (bool, String, String) {
    run_within_env(args, &[], within)
}

/// Runs `hypernodes` with the variables `env` to its end, at most `within`: (success,
/// stdout, stderr).
fn run_within_env(args: &[&str], env: &[(&str, &str)], within: Duration) -> (bool, String, String) {
    let mut child = binary(args).envs(env.iter().copied()).spawn().unwrap();
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (String::new(), String::new());
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.success(), out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hypernodes {args:?} took more than {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The summary line without its timings: rows, files and checksum.
fn summary(stdout: &str) -> String {
    let line = stdout.lines().nth(1).unwrap_or_default();
    let checksum = line.split("checksum: ").nth(1).unwrap_or_default();
    let rows = line.split(" batches").next().unwrap_or_default();
    let rows = rows.rsplit_once(", ").map_or(rows, |(r, _)| r);
    format!("{rows}; checksum: {checksum}")
}

#[test]
fn a_scheduler_and_two_executor_processes_give_the_local_results_and_survive_a_killed_executor() {
    let dir = TempDir::new("cluster-processes");
    let mut processes = Processes(Vec::new());
    let (url, executors) = start_cluster(&dir, &mut processes, 2, &[]);
    let input = dir.join("docs.parquet");
    docs(&input, 20_000);
    let input = input.display().to_string();
    for toml in ["examples/text.toml", "examples/sentences.toml"] {
        let local = dir.join("local.parquet").display().to_string();
        let remote = dir.join("cluster.parquet").display().to_string();
        let (ok, expected, err) = run_within(
            &["run", toml, "-i", &input, "-o", &local, "--no-progress"],
            Duration::from_secs(60),
        );
        assert!(ok, "{err}");
        let args = [
            "run",
            toml,
            "-i",
            &input,
            "-o",
            &remote,
            "--no-progress",
            "--cluster",
            &url,
        ];
        let (ok, out, err) = run_within(&args, Duration::from_secs(120));
        assert!(ok, "{err}");
        assert_eq!(summary(&out), summary(&expected).replace(&local, &remote));
        assert_same_rows(&read_parquet(Path::new(&local)), &read_parquet(Path::new(&remote)));
    }

    // An executor killed mid-run: the job finishes correctly on the other one (Ballista
    // runs the lost tasks again), or fails with one clear line; never a partial output.
    let big = dir.join("big.parquet");
    docs(&big, 120_000);
    let big = big.display().to_string();
    let local = dir.join("big-local.parquet").display().to_string();
    let (ok, expected, err) = run_within(
        &["run", "examples/text.toml", "-i", &big, "-o", &local, "--no-progress"],
        Duration::from_secs(120),
    );
    assert!(ok, "{err}");
    let out_path = dir.join("killed.parquet");
    let out = out_path.display().to_string();
    let mut run = binary(&[
        "run",
        "examples/text.toml",
        "-i",
        &big,
        "-o",
        &out,
        "--no-progress",
        "--cluster",
        &url,
    ])
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    processes.0[executors[0]].kill().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not end after its executor was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    run.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    run.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    if status.success() {
        assert_eq!(summary(&stdout), summary(&expected).replace(&local, &out));
        assert_same_rows(&read_parquet(Path::new(&local)), &read_parquet(&out_path));
    } else {
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("error[HN023]: The cluster job over '{big}' failed: ")),
            "{stderr}"
        );
        assert!(!out_path.exists());
    }
    let leftovers: Vec<String> = dir.files().into_iter().filter(|f| f.ends_with(".tmp")).collect();
    assert_eq!(leftovers, Vec::<String>::new());
    eprintln!(
        "killed executor: the run {}",
        if status.success() { "finished" } else { "failed" }
    );
}
