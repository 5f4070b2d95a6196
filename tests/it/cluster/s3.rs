//! Cluster runs without a shared disk: the input in the `s3` tests' S3 server (moto's),
//! read by the executors with their own environment's `AWS_*` variables, the output
//! written there by the client.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hypernodes::cluster::Cluster;
use hypernodes::io::{FileRun, Location};
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};

use super::{Processes, assert_same_rows, docs, example, run_within, run_within_env, start_cluster, summary};
use crate::parquet::{TempDir, read_parquet};
use crate::s3::{Server, denying_server, server};

#[node(output = "unused")]
fn copy(id: i64) -> i64 {
    id
}

/// The columns text.toml writes, read back from `from` into `to`.
fn fetch(from: Location, to: &std::path::Path, select: &[String]) {
    FileRun::new(Pipeline::new([copy::node()]), from, to)
        .with_select(select.to_vec())
        .run()
        .unwrap();
}

/// The server to run against in this process: the one whose address the `AWS_*`
/// variables give (this process runs a test again, see [`again_with_env`]), else none.
fn server_of_env() -> Option<Server> {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .map(|endpoint| Server { endpoint })
}

/// Runs the test `name` again in a process of this binary with `server`'s `AWS_*`
/// variables (a standalone cluster's executor is in its client's process and reads the
/// store with that process's environment, which a test does not change under the
/// others), and checks that it passed.
fn again_with_env(server: &Server, name: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads", "1"])
        .envs(server.env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_standalone_cluster_reads_and_writes_s3_with_the_local_checksum() {
    let Some(s3) = server_of_env() else {
        if let Some(s3) = server() {
            again_with_env(
                s3,
                "cluster::s3::a_standalone_cluster_reads_and_writes_s3_with_the_local_checksum",
            );
        }
        return;
    };
    s3.bucket("cluster-standalone");
    let dir = TempDir::new("cluster-s3-standalone");
    let input = dir.join("docs.parquet");
    docs(&input, 12_000);
    s3.put("cluster-standalone", "in/docs.parquet", &std::fs::read(&input).unwrap());
    let file = load(&example("text.toml"), &Registry::new(), None).unwrap();
    let select = file.select.clone().unwrap();
    let run = |from: Location, to: Location| FileRun::new(file.pipeline.clone(), from, to).with_select(select.clone());
    let local = run(Location::local(&input), Location::local(dir.join("local.parquet")))
        .run()
        .unwrap();
    let cluster = || Cluster::standalone(Registry::new(), 2);
    let (from, to) = (
        "s3://cluster-standalone/in/docs.parquet",
        "s3://cluster-standalone/out/text.parquet",
    );
    let remote = run(Location::from(from), Location::from(to))
        .with_remote(cluster())
        .with_partitions(3)
        .run()
        .unwrap();
    assert_eq!(
        (remote.rows_in, remote.rows_out, remote.int_sum, remote.float_sum),
        (12_000, 12_000, local.int_sum, local.float_sum)
    );
    assert_eq!(remote.files, [to]);
    fetch(Location::from(to), &dir.join("back.parquet"), &select);
    assert_same_rows(
        &read_parquet(&dir.join("local.parquet")),
        &read_parquet(&dir.join("back.parquet")),
    );

    // Options of the input's location stay on the client: refused before any job.
    let err = run(
        Location::from(from).with_option("aws_secret_access_key", "testing-secret"),
        Location::local(dir.join("options.parquet")),
    )
    .with_remote(cluster())
    .run()
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "A cluster run's executors read 's3://cluster-standalone/in/docs.parquet' with the store settings of \
         their own environment: the options of its Location stay on this machine (they may be secrets); set \
         them as AWS_* (GOOGLE_*, AZURE_*) variables of every executor instead"
    );
    assert_eq!(s3.keys("cluster-standalone"), ["in/docs.parquet", "out/text.parquet"]);
}

#[test]
fn executor_processes_read_their_ranges_from_s3_and_the_client_writes_there() {
    let Some(s3) = server() else { return };
    s3.bucket("cluster-processes");
    let dir = TempDir::new("cluster-s3-processes");
    let mut processes = Processes(Vec::new());
    let (url, _) = start_cluster(&dir, &mut processes, 2, &s3.env());
    let input = dir.join("docs.parquet");
    docs(&input, 20_000);
    s3.put("cluster-processes", "in/docs.parquet", &std::fs::read(&input).unwrap());
    let (from, to) = (
        "s3://cluster-processes/in/docs.parquet",
        "s3://cluster-processes/out/text.parquet",
    );
    let local = dir.join("local.parquet").display().to_string();
    let (ok, expected, err) = run_within(
        &[
            "run",
            "examples/text.toml",
            "-i",
            &input.display().to_string(),
            "-o",
            &local,
            "--no-progress",
        ],
        Duration::from_secs(60),
    );
    assert!(ok, "{err}");
    // `examples/text.toml` from `from` to `output` on the cluster at `cluster`, with the server's
    // variables on the client.
    let on_cluster = |output: &str, cluster: &str| {
        let args = [
            "run",
            "examples/text.toml",
            "-i",
            from,
            "-o",
            output,
            "--no-progress",
            "--cluster",
            cluster,
        ];
        run_within_env(&args, &s3.env(), Duration::from_secs(120))
    };
    let (ok, out, err) = on_cluster(to, &url);
    assert!(ok, "{err}");
    assert_eq!(summary(&out), summary(&expected).replace(&local, to));
    let file = load(&example("text.toml"), &Registry::new(), None).unwrap();
    fetch(s3.at(to), &dir.join("back.parquet"), &file.select.unwrap());
    assert_same_rows(
        &read_parquet(Path::new(&local)),
        &read_parquet(&dir.join("back.parquet")),
    );
    drop(processes);

    // Executors without the server's variables, and executors whose credentials the
    // server refuses: one line naming the URL, no secret, no output.
    let refused = |env: &[(&str, &str)]| {
        let mut cluster = Processes(Vec::new());
        let (url, _) = start_cluster(&dir, &mut cluster, 1, env);
        let (ok, _, err) = on_cluster("s3://cluster-processes/out/refused.parquet", &url);
        assert!(!ok);
        err.trim_end().to_string()
    };
    // Without variables, the store is real S3 with the machine's credentials, if any.
    let without = refused(&[]);
    let prefix = format!("error[HN023]: The cluster job over '{from}' failed: Cannot read '{from}': ");
    assert!(without.starts_with(&prefix) && !without.contains('\n'), "{without}");
    if let Some(denying) = denying_server() {
        let denied = refused(&denying.env());
        assert_eq!(denied, format!("{prefix}access denied"));
        assert!(!denied.contains("testing-secret"));
    }
    assert_eq!(s3.keys("cluster-processes"), ["in/docs.parquet", "out/text.parquet"]);
}
