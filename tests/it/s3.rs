//! Runs from and to a real S3 server: moto's standalone server (`pip install
//! 'moto[server]'`, `moto_server`), started once per test binary run on a free port of
//! 127.0.0.1 and stopped when the binary exits. Each test makes its own bucket. The
//! in-process runs pass the endpoint and credentials as options of their locations; the
//! CLI runs, as the standard AWS environment variables. Without `moto_server` the tests
//! print why and pass.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hypernodes::datagen::write_docs;
use hypernodes::io::{EngineChoice, FileRun, Location};
use hypernodes::prelude::*;

use crate::cli::{checksum_of, command, text};
use crate::parquet::TempDir;

/// A running S3 server.
pub struct Server {
    pub endpoint: String,
}

/// Starts `moto_server` on a free port with `env`, watched by a shell that stops it
/// when this process is gone; `None` when it does not answer within 30 s.
fn start(env: &[(&str, &str)]) -> Option<Server> {
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let script = format!(
        "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {pid} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; kill $m 2>/dev/null",
        pid = std::process::id()
    );
    let mut shell = Command::new("sh");
    shell
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        shell.env(k, v);
    }
    let _watcher: Child = shell.spawn().ok()?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Server {
                endpoint: format!("http://127.0.0.1:{port}"),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The shared server; `None` (and a message, once) when it cannot start.
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let server = start(&[]);
            if server.is_none() {
                eprintln!("SKIPPED the S3 tests: moto_server did not start (pip install 'moto[server]')");
            }
            server
        })
        .as_ref()
}

/// A server that checks credentials (moto's IAM auth from the first request): any key
/// is unknown to it, so every request is denied.
pub fn denying_server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]))
        .as_ref()
}

impl Server {
    /// A plain HTTP request with `body` (moto lets buckets and objects be made and
    /// listed without signing): the status and the body.
    fn http(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
        (status, body)
    }

    /// Writes `body` to the object `key` of `bucket`.
    #[cfg(feature = "cluster")]
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let (status, response) = self.http("PUT", &format!("/{bucket}/{key}"), body);
        assert_eq!(status, 200, "{response}");
    }

    /// Makes a bucket.
    pub fn bucket(&self, name: &str) {
        assert_eq!(self.http("PUT", &format!("/{name}"), &[]).0, 200);
    }

    /// The objects of `bucket`: key, size and ETag, in key order.
    pub fn objects(&self, bucket: &str) -> Vec<(String, u64, String)> {
        let (status, body) = self.http("GET", &format!("/{bucket}?list-type=2"), &[]);
        assert_eq!(status, 200, "{body}");
        let tag = |text: &str, name: &str| {
            let open = format!("<{name}>");
            let start = text.find(&open).unwrap() + open.len();
            text[start..start + text[start..].find('<').unwrap()].to_string()
        };
        body.split("<Contents>")
            .skip(1)
            .map(|c| (tag(c, "Key"), tag(c, "Size").parse().unwrap(), tag(c, "ETag")))
            .collect()
    }

    /// The keys of `bucket`.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.objects(bucket).into_iter().map(|(k, _, _)| k).collect()
    }

    /// `url` with this server's endpoint and credentials as options, few retries.
    pub fn at(&self, url: &str) -> Location {
        Location::from(url)
            .with_option("aws_endpoint", &self.endpoint)
            .with_option("aws_access_key_id", "testing")
            .with_option("aws_secret_access_key", "testing-secret")
            .with_option("aws_region", "us-east-1")
            .with_option("aws_allow_http", "true")
            .with_option("max_retries", "1")
            .with_option("retry_timeout", "5")
    }

    /// The standard AWS variables that point at this server, with its credentials.
    pub fn env(&self) -> [(&'static str, &str); 5] {
        [
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
        ]
    }

    /// The `hypernodes` command with this server in the standard AWS variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = command(args);
        c.envs(self.env());
        c
    }

    /// Runs `hypernodes` with `args` against this server; it must succeed.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out
    }
}

/// The server, or return from the test (the skip was said once).
macro_rules! server_or_skip {
    () => {
        match server() {
            Some(s) => s,
            None => return,
        }
    };
}

#[node(output = "word_count")]
fn count_words(passage: &str) -> i64 {
    passage.split_whitespace().count() as i64
}

#[node(output = "checked")]
fn check(id: i64) -> Result<i64, String> {
    if id % 400 == 7 {
        Err(format!("bad id {id}"))
    } else {
        Ok(id)
    }
}

#[node(output = "same")]
fn same(word_count: i64) -> i64 {
    word_count
}

#[test]
fn w3_from_and_to_s3_gives_the_local_checksum_on_both_engines() {
    let s3 = server_or_skip!();
    s3.bucket("w3-run");
    let dir = TempDir::new("s3-w3");
    let docs = dir.join("docs.parquet");
    write_docs(&docs, 20_000, 42).unwrap();
    let docs = docs.to_str().unwrap();
    let out = s3.run(&["gen-data", "--rows", "20000", "--out", "s3://w3-run/in/docs.parquet"]);
    assert!(text(&out.stdout).starts_with("wrote 20000 rows (seed 42) to s3://w3-run/in/docs.parquet ("));
    for engine in ["columnar", "node"] {
        let local_out = dir.join(&format!("{engine}.parquet"));
        let local = s3.run(&[
            "run",
            "examples/text.toml",
            "--input",
            docs,
            "--output",
            local_out.to_str().unwrap(),
            "--engine",
            engine,
        ]);
        let to = format!("s3://w3-run/out/{engine}.parquet");
        let remote = s3.run(&[
            "run",
            "examples/text.toml",
            "--input",
            "s3://w3-run/in/docs.parquet",
            "--output",
            &to,
            "--engine",
            engine,
            "--partitions",
            "3",
            "--batch-rows",
            "1000",
        ]);
        let stdout = text(&remote.stdout);
        assert!(
            stdout.starts_with(&format!("s3://w3-run/in/docs.parquet -> {to}\n")),
            "{stdout}"
        );
        assert_eq!(checksum_of(&stdout), checksum_of(&text(&local.stdout)));
        // Read back from S3: the same rows.
        let back = FileRun::new(
            Pipeline::new([same::node()]),
            s3.at(&to),
            dir.join(&format!("{engine}-back.parquet")),
        )
        .run()
        .unwrap();
        assert_eq!(back.rows_out, 20000);
    }
    // `explain` reads the first rows of an object.
    let explained = s3.run(&[
        "explain",
        "examples/text.toml",
        "--input",
        "s3://w3-run/in/docs.parquet",
    ]);
    assert!(
        text(&explained.stdout).contains("columnar plan (first 100 rows of s3://w3-run/in/docs.parquet):"),
        "{}",
        text(&explained.stdout)
    );
    assert_eq!(
        s3.keys("w3-run"),
        ["in/docs.parquet", "out/columnar.parquet", "out/node.parquet"]
    );
}

#[test]
fn a_prefix_is_a_directory_of_objects_in_key_order() {
    let s3 = server_or_skip!();
    s3.bucket("dir");
    let dir = TempDir::new("s3-dir");
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for (name, seed) in [("a", 1), ("b", 2)] {
        let local = dir.join(&format!("in/{name}.parquet"));
        write_docs(&local, 3000, seed).unwrap();
        FileRun::new(
            Pipeline::new([count_words::node()]),
            &local,
            s3.at(&format!("s3://dir/in/{name}.parquet")),
        )
        .with_select(["id", "passage", "value"])
        .run()
        .unwrap();
    }
    for engine in [EngineChoice::Columnar, EngineChoice::Node] {
        let run = |input: Location, output: Location| {
            FileRun::new(Pipeline::new([count_words::node()]), input, output)
                .with_engine(engine)
                .with_select(["id", "word_count"])
                .with_batch_rows(700)
                .run()
                .unwrap()
        };
        let local = run(Location::local(dir.join("in")), Location::local(dir.join("out")));
        let remote = run(s3.at("s3://dir/in/"), s3.at("s3://dir/out"));
        assert_eq!(
            (remote.rows_in, remote.int_sum, remote.float_sum),
            (local.rows_in, local.int_sum, local.float_sum)
        );
        assert_eq!(remote.files, ["s3://dir/out/a.parquet", "s3://dir/out/b.parquet"]);
    }
    assert_eq!(
        s3.keys("dir"),
        ["in/a.parquet", "in/b.parquet", "out/a.parquet", "out/b.parquet"]
    );
}

#[test]
fn csv_and_ndjson_objects_are_read_and_written() {
    let s3 = server_or_skip!();
    s3.bucket("text");
    let dir = TempDir::new("s3-text");
    let docs = dir.join("docs.parquet");
    write_docs(&docs, 2500, 5).unwrap();
    let pipeline = || Pipeline::new([count_words::node()]);
    let local = FileRun::new(pipeline(), &docs, dir.join("out.parquet"))
        .with_select(["id", "word_count"])
        .run()
        .unwrap();
    FileRun::new(pipeline(), &docs, s3.at("s3://text/docs.csv"))
        .with_select(["id", "passage"])
        .run()
        .unwrap();
    let csv = FileRun::new(pipeline(), s3.at("s3://text/docs.csv"), s3.at("s3://text/out.ndjson"))
        .with_select(["id", "word_count"])
        .run()
        .unwrap();
    assert_eq!((csv.rows_out, csv.int_sum), (local.rows_out, local.int_sum));
    let back = FileRun::new(
        Pipeline::new([same::node()]),
        s3.at("s3://text/out.ndjson"),
        dir.join("back.parquet"),
    )
    .with_select(["id", "word_count"])
    .run()
    .unwrap();
    assert_eq!(back.int_sum, local.int_sum);
    // A bad value names the object, not a local copy.
    std::fs::write(dir.join("bad.csv"), "id,passage\n1,one two\nx,three\n").unwrap();
    #[node(output = "n")]
    fn twice(id: i64) -> i64 {
        id * 2
    }
    FileRun::new(
        Pipeline::new([count_words::node()]),
        dir.join("bad.csv"),
        s3.at("s3://text/bad.csv"),
    )
    .with_select(["id", "passage"])
    .run()
    .unwrap();
    let err = FileRun::new(
        Pipeline::new([twice::node()]),
        s3.at("s3://text/bad.csv"),
        dir.join("x.parquet"),
    )
    .run()
    .unwrap_err();
    assert!(err.to_string().starts_with("s3://text/bad.csv: line 3"), "{err}");
}

#[test]
fn failed_rows_go_to_an_object_too() {
    let s3 = server_or_skip!();
    s3.bucket("failed");
    let dir = TempDir::new("s3-failed");
    let docs = dir.join("docs.parquet");
    write_docs(&docs, 1000, 7).unwrap();
    for engine in [EngineChoice::Columnar, EngineChoice::Node] {
        let name = format!("{engine:?}").to_lowercase();
        let summary = FileRun::new(
            Pipeline::new([check::node()]),
            &docs,
            s3.at(&format!("s3://failed/{name}/out.parquet")),
        )
        .with_engine(engine)
        .with_config(RunConfig::new().with_on_error(OnError::Collect))
        .with_failed(s3.at(&format!("s3://failed/{name}/failed.parquet")))
        .run()
        .unwrap();
        assert_eq!((summary.rows_out, summary.failed_rows), (997, 3));
        let failed = FileRun::new(
            Pipeline::new([count_words::node()]),
            s3.at(&format!("s3://failed/{name}/failed.parquet")),
            dir.join(&format!("{name}-failed.parquet")),
        )
        .with_select(["id", "_row", "_error"])
        .run()
        .unwrap();
        assert_eq!((failed.rows_out, failed.int_sum), (3, (7 + 407 + 807) * 2));
    }
    assert_eq!(
        s3.keys("failed"),
        [
            "columnar/failed.parquet",
            "columnar/out.parquet",
            "node/failed.parquet",
            "node/out.parquet"
        ]
    );
}

/// The error of a run from `input` to `output`, as one line.
fn error_of(input: Location, output: Location) -> String {
    let err = FileRun::new(Pipeline::new([count_words::node()]), input, output)
        .run()
        .unwrap_err();
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(!message.contains("testing-secret"), "{message}");
    message
}

#[test]
fn store_errors_are_one_line_naming_the_url() {
    let s3 = server_or_skip!();
    s3.bucket("errors");
    let dir = TempDir::new("s3-errors");
    let docs = dir.join("docs.parquet");
    write_docs(&docs, 100, 1).unwrap();
    let out = Location::local(dir.join("out.parquet"));
    assert_eq!(
        error_of(s3.at("s3://no-such-bucket/docs.parquet"), out.clone()),
        "Cannot read 's3://no-such-bucket/docs.parquet': no such bucket 'no-such-bucket'"
    );
    assert_eq!(
        error_of(s3.at("s3://errors/missing.parquet"), out.clone()),
        "Cannot read 's3://errors/missing.parquet': no such object"
    );
    assert_eq!(
        error_of(Location::local(&docs), s3.at("s3://no-such-bucket/out.parquet")),
        "Cannot write 's3://no-such-bucket/out.parquet': no such bucket 'no-such-bucket'"
    );
    assert_eq!(
        error_of(s3.at("s3://errors/empty/"), out.clone()),
        "s3://errors/empty/: the directory holds no .parquet, .pq, .csv, .ndjson, .jsonl, .arrow, .ipc, .feather files"
    );
    // Nothing listens on a port just freed: a network error after the retries.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = s3
        .at("s3://errors/docs.parquet")
        .with_option("aws_endpoint", format!("http://127.0.0.1:{port}"));
    let message = error_of(unreachable, out.clone());
    assert!(
        message.starts_with("Cannot read 's3://errors/docs.parquet': network error after retries ("),
        "{message}"
    );
    assert!(out.as_path().is_some_and(|p| !p.exists()));
    if let Some(denying) = denying_server() {
        assert_eq!(
            error_of(denying.at("s3://errors/docs.parquet"), out.clone()),
            "Cannot read 's3://errors/docs.parquet': access denied"
        );
        assert_eq!(
            error_of(Location::local(&docs), denying.at("s3://errors/out.parquet")),
            "Cannot write 's3://errors/out.parquet': access denied"
        );
    }
}

#[test]
fn the_cli_names_the_url_of_a_missing_object() {
    let s3 = server_or_skip!();
    s3.bucket("cli-errors");
    let out = s3
        .command(&[
            "run",
            "examples/text.toml",
            "--input",
            "s3://cli-errors/nothing.parquet",
            "--output",
            "/tmp/x.parquet",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr).trim_end(),
        "error[HN020]: Cannot read 's3://cli-errors/nothing.parquet': no such object"
    );
}

#[test]
fn a_killed_run_leaves_no_object_and_the_previous_output() {
    let s3 = server_or_skip!();
    s3.bucket("kill");
    let dir = TempDir::new("s3-kill");
    let docs = dir.join("docs.parquet");
    write_docs(&docs, 200_000, 3).unwrap();
    let docs = docs.to_str().unwrap();
    let args = [
        "run",
        "examples/text.toml",
        "--input",
        docs,
        "--output",
        "s3://kill/out.parquet",
        "--select",
        "id,word_count,score,passage",
    ];
    let started = Instant::now();
    let first = s3.run(&args);
    let took = started.elapsed();
    let before = s3.objects("kill");
    assert_eq!(before.len(), 1, "{before:?}");
    // Kill runs at a fifth, two fifths, ... of a whole run: none leaves anything.
    for fifth in 1..5 {
        let mut child = s3
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(took.mul_f64(fifth as f64 / 5.0));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(s3.objects("kill"), before, "killed at {fifth}/5 of {took:?}");
    }
    // A whole run after them writes the same rows.
    let again = s3.run(&args);
    assert_eq!(checksum_of(&text(&again.stdout)), checksum_of(&text(&first.stdout)));
}

/// The `hypernodes` command with no AWS variable but `AWS_PROFILE` (when given), and a
/// home of its own whose `.aws` holds `credentials` and `config`.
fn with_profile(home: &TempDir, profile: Option<&str>, credentials: &str, config: &str, args: &[&str]) -> Output {
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws/credentials"), credentials).unwrap();
    std::fs::write(home.join(".aws/config"), config).unwrap();
    let mut c = command(args);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("AWS_")) {
        c.env_remove(name);
    }
    c.env("HOME", home.join(""));
    if let Some(profile) = profile {
        c.env("AWS_PROFILE", profile);
    }
    c.output().unwrap()
}

#[test]
fn the_cli_takes_keys_region_and_endpoint_from_an_aws_profile() {
    let s3 = server_or_skip!();
    s3.bucket("profile-run");
    let home = TempDir::new("s3-profile");
    let credentials = "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[ci]\naws_access_key_id = testing\naws_secret_access_key = testing-secret\n";
    let config = format!("[profile ci]\nregion = us-east-1\nendpoint_url = {}\n", s3.endpoint);
    let args = ["gen-data", "--rows", "100", "--out", "s3://profile-run/docs.parquet"];
    let out = with_profile(&home, Some("ci"), credentials, &config, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("wrote 100 rows (seed 42) to s3://profile-run/docs.parquet ("));
    assert_eq!(s3.keys("profile-run"), ["docs.parquet"]);
    // A profile named but in neither file.
    let out = with_profile(&home, Some("prod"), credentials, &config, &args);
    assert_eq!(
        text(&out.stderr).trim_end().split_once(": ").unwrap().1,
        "Cannot use 's3://profile-run/docs.parquet': AWS_PROFILE is 'prod', a profile in neither the AWS credentials file nor the config file"
    );
}

#[test]
fn access_denied_without_any_key_says_where_keys_are_read() {
    let Some(denying) = denying_server() else { return };
    let home = TempDir::new("s3-no-keys");
    let config = format!("[default]\nregion = us-east-1\nendpoint_url = {}\n", denying.endpoint);
    let args = ["gen-data", "--rows", "10", "--out", "s3://anything/docs.parquet"];
    let out = with_profile(&home, None, "", &config, &args);
    assert_eq!(
        text(&out.stderr).trim_end().split_once(": ").unwrap().1,
        "Cannot write 's3://anything/docs.parquet': access denied (no AWS keys were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and ~/.aws/credentials)"
    );
}
