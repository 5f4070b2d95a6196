//! The on-disk store of the result cache: exact contents, two processes on one directory,
//! writers killed mid-write, directories that are not caches.
//!
//! The multi-process tests run this test binary again as the child processes
//! (`--exact <test> --nocapture`, with `HN_STORE_CHILD=<dir>:<role>` set): a test that
//! finds the variable plays the child's role instead of the parent's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hypernodes::cache::disk::{ClearStats, DiskStore, NodeStats};

const CHILD: &str = "HN_STORE_CHILD";

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hn-store-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(text: &str) -> [u8; 32] {
    *blake3::hash(text.as_bytes()).as_bytes()
}

fn block_of(n: u64) -> [u8; 32] {
    *blake3::hash(&n.to_le_bytes()).as_bytes()
}

/// The payload a test stores under `node` and `block`: `len` bytes that only those keys give.
fn payload(node: &[u8; 32], block: &[u8; 32], len: usize) -> Vec<u8> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(node).update(block);
    let mut out = vec![0; len];
    hasher.finalize_xof().fill(&mut out);
    out
}

/// `(dir, role)` when this process is a child of a multi-process test.
fn child_role() -> Option<(PathBuf, String)> {
    let value = std::env::var(CHILD).ok()?;
    let (dir, role) = value.rsplit_once(':')?;
    Some((PathBuf::from(dir), role.to_string()))
}

/// This test binary, run again as a child playing `role` in the test named `test`.
fn child(test: &str, dir: &Path, role: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, format!("{}:{role}", dir.display()));
    command
}

#[test]
fn round_trip_stats_and_clear_by_name() {
    let dir = TempDir::new("round-trip");
    let store = DiskStore::open(&dir.0).unwrap();
    assert_eq!(store.path(), std::fs::canonicalize(&dir.0).unwrap());
    let (clean, clean_v2, count) = (key("clean v1"), key("clean v2"), key("count"));
    store.put(&clean, "clean", &block_of(1), 8192, payload(&clean, &block_of(1), 1000));
    store.put(&clean, "clean", &block_of(2), 100, payload(&clean, &block_of(2), 10));
    store.put(&clean_v2, "clean", &block_of(1), 5, payload(&clean_v2, &block_of(1), 7));
    store.put(&count, "count", &block_of(1), 3, Vec::new());
    assert_eq!(
        store.get(&clean, &block_of(1), <[u8]>::len).unwrap(),
        None,
        "not flushed yet"
    );
    store.flush().unwrap();

    assert_eq!(
        store.get(&clean, &block_of(1), <[u8]>::to_vec).unwrap(),
        Some(payload(&clean, &block_of(1), 1000))
    );
    assert_eq!(store.get(&count, &block_of(1), <[u8]>::len).unwrap(), Some(0));
    assert_eq!(store.get(&count, &block_of(2), <[u8]>::len).unwrap(), None);
    assert_eq!(store.get(&key("unknown"), &block_of(1), <[u8]>::len).unwrap(), None);

    // One node's blocks, and only them, in block-key order.
    let mut seen = Vec::new();
    let skipped = store
        .for_each_block(&clean, |block, bytes| {
            assert_eq!(bytes, payload(&clean, block, bytes.len()));
            seen.push((*block, bytes.len()));
        })
        .unwrap();
    let mut expected = vec![(block_of(1), 1000), (block_of(2), 10)];
    expected.sort();
    assert_eq!((seen, skipped), (expected, 0));

    let stats = store.stats().unwrap();
    let node = |name: &str, keys, blocks, items, bytes| NodeStats {
        name: name.into(),
        keys,
        blocks,
        items,
        bytes,
    };
    assert_eq!(
        stats.nodes,
        [node("clean", 2, 3, 8297, 1017), node("count", 1, 1, 3, 0)]
    );
    assert_eq!(
        (stats.blocks, stats.items, stats.bytes, stats.corrupt),
        (4, 8300, 1017, 0)
    );
    let file_bytes = std::fs::metadata(dir.0.join("data.mdb")).unwrap().len();
    assert_eq!(stats.file_bytes, file_bytes);
    assert_eq!(
        stats.to_string(),
        format!(
            "node   blocks  items  bytes\n\
             clean       3   8297   1017\n\
             count       1      3      0\n\
             total       4   8300   1017\n\
             data.mdb: {file_bytes} bytes\n"
        )
    );

    // An unknown name lists the known ones and suggests the closest.
    let err = store.clear(Some("clen")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Cache directory '{}': no cached node is named 'clen'. Cached nodes: ['clean', 'count']. \
             Did you mean 'clean'?",
            store.path().display()
        )
    );
    let err = store.clear(Some("zzzzzzzz")).unwrap_err();
    assert!(err.to_string().ends_with("Cached nodes: ['clean', 'count']"), "{err}");

    // By name: both keys named `clean`, nothing of `count`.
    assert_eq!(
        store.clear(Some("clean")).unwrap(),
        ClearStats {
            keys: 2,
            blocks: 3,
            items: 8297,
            bytes: 1017
        }
    );
    assert_eq!(store.get(&clean, &block_of(1), <[u8]>::len).unwrap(), None);
    assert_eq!(store.get(&clean_v2, &block_of(1), <[u8]>::len).unwrap(), None);
    assert_eq!(store.get(&count, &block_of(1), <[u8]>::len).unwrap(), Some(0));
    assert_eq!(store.stats().unwrap().nodes, [node("count", 1, 1, 3, 0)]);

    // Buffered puts are flushed, then cleared with the rest.
    store.put(&clean, "clean", &block_of(3), 1, vec![1, 2, 3]);
    assert_eq!(
        store.clear(None).unwrap(),
        ClearStats {
            keys: 2,
            blocks: 2,
            items: 4,
            bytes: 3
        }
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.nodes.len(), stats.blocks, stats.items, stats.bytes),
        (0, 0, 0, 0)
    );
    let err = store.clear(Some("clean")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("no cached node is named 'clean'. Cached nodes: []"),
        "{err}"
    );

    // Still usable after clearing.
    store.put(&count, "count", &block_of(9), 1, vec![7]);
    store.flush().unwrap();
    assert_eq!(store.get(&count, &block_of(9), <[u8]>::to_vec).unwrap(), Some(vec![7]));
}

#[test]
fn puts_and_gets_from_many_threads() {
    let dir = TempDir::new("threads");
    let store = DiskStore::open(&dir.0).unwrap();
    let node = key("threads");
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let store = store.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    let block = block_of(t * 1000 + i);
                    store.put(&node, "threads", &block, 1, payload(&node, &block, 100));
                    if i % 10 == 9 {
                        store.flush().unwrap();
                        // A flush returns after this thread's puts are committed.
                        assert_eq!(store.get(&node, &block, <[u8]>::len).unwrap(), Some(100));
                    }
                }
            });
        }
    });
    let mut n = 0;
    store
        .for_each_block(&node, |block, bytes| {
            assert_eq!(bytes, payload(&node, block, 100));
            n += 1;
        })
        .unwrap();
    assert_eq!(n, 200);
}

/// Blocks each child of [`two_processes_share_a_directory`] writes: rounds × per round.
const ROUNDS: u64 = 5;
const PER_ROUND: u64 = 4;

#[test]
fn two_processes_share_a_directory() {
    if let Some((dir, role)) = child_role() {
        return share_as_child(&dir, &role);
    }
    let dir = TempDir::new("two-processes");
    // The parent has the store open too: three processes on one directory.
    let store = DiskStore::open(&dir.0).unwrap();
    let test = "cache_store::two_processes_share_a_directory";
    let children: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|role| {
            let spawned = child(test, &dir.0, role)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (role, spawned)
        })
        .collect();
    for (role, spawned) in children {
        let out = spawned.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child {role}: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("child {role} saw the other's {} blocks", ROUNDS * PER_ROUND)),
            "{stdout}"
        );
    }
    for role in ["a", "b"] {
        let node = key(role);
        let mut blocks = Vec::new();
        let skipped = store
            .for_each_block(&node, |block, bytes| {
                assert_eq!(bytes, payload(&node, block, bytes.len()));
                blocks.push(*block);
            })
            .unwrap();
        let mut expected: Vec<_> = (0..ROUNDS * PER_ROUND).map(block_of).collect();
        expected.sort();
        assert_eq!((blocks, skipped), (expected, 0), "{role}");
    }
    let stats = store.stats().unwrap();
    let names: Vec<_> = stats
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.blocks, n.items))
        .collect();
    assert_eq!(names, [("child a", 20, 2000), ("child b", 20, 2000)]);
}

/// One child of [`two_processes_share_a_directory`]: waits for the other to be running,
/// writes its blocks in several flushes, then waits to read all of the other's.
fn share_as_child(dir: &Path, role: &str) {
    let other = if role == "a" { "b" } else { "a" };
    let store = DiskStore::open(dir).unwrap();
    std::fs::write(dir.join(format!("ready-{role}")), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join(format!("ready-{other}")).exists() {
        assert!(Instant::now() < deadline, "child {role}: the other child never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mine, theirs) = (key(role), key(other));
    let name = format!("child {role}");
    let count_theirs = || {
        let mut n = 0;
        let skipped = store
            .for_each_block(&theirs, |block, bytes| {
                assert_eq!(
                    bytes,
                    payload(&theirs, block, bytes.len()),
                    "child {role}: a block of {other}"
                );
                n += 1;
            })
            .unwrap();
        assert_eq!(skipped, 0);
        n
    };
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            let block = block_of(round * PER_ROUND + i);
            let len = 10_000 + 1000 * i as usize;
            store.put(&mine, &name, &block, 100, payload(&mine, &block, len));
        }
        store.flush().unwrap();
        println!(
            "child {role} flushed round {round}, sees {} of the other's blocks",
            count_theirs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    loop {
        let n = count_theirs();
        if n == ROUNDS * PER_ROUND {
            println!("child {role} saw the other's {n} blocks");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "child {role}: saw only {n} of the other's blocks"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks every entry of a writer child of [`a_killed_writer_leaves_only_whole_blocks`]:
/// each passes the frame check and holds the payload its key gives. Returns their number.
fn check_writer_blocks(store: &DiskStore) -> usize {
    let node = key("writer");
    let mut n = 0;
    let skipped = store
        .for_each_block(&node, |block, bytes| {
            assert_eq!(bytes.len(), writer_len(block));
            assert!(
                bytes == payload(&node, block, bytes.len()),
                "block {block:?} is not whole"
            );
            n += 1;
        })
        .unwrap();
    assert_eq!(skipped, 0, "entries failing the frame check");
    let stats = store.stats().unwrap();
    assert_eq!(stats.corrupt, 0);
    let writer = stats.nodes.iter().find(|s| s.name == "writer");
    assert_eq!(writer.map_or(0, |w| w.blocks), n as u64);
    assert_eq!(writer.map_or(0, |w| w.items), writer.map_or(0, |w| w.bytes / 64));
    n
}

/// The payload length of a writer's block: 64 KiB to 1 MiB, by the block key.
fn writer_len(block: &[u8; 32]) -> usize {
    (1 + usize::from(block[0] % 16)) * 65536
}

#[test]
fn a_killed_writer_leaves_only_whole_blocks() {
    if let Some((dir, role)) = child_role() {
        // The writer: flushes of 8 blocks of up to 1 MiB, until it is killed.
        let store = DiskStore::open(&dir).unwrap();
        let node = key("writer");
        let start: u64 = role.parse().unwrap();
        for i in (start * 1_000_000).. {
            let block = block_of(i);
            let len = writer_len(&block);
            store.put(&node, "writer", &block, (len / 64) as u32, payload(&node, &block, len));
            if i % 8 == 7 {
                store.flush().unwrap();
            }
        }
        unreachable!();
    }
    let dir = TempDir::new("killed");
    let mut held = Some(DiskStore::open(&dir.0).unwrap());
    let test = "cache_store::a_killed_writer_leaves_only_whole_blocks";
    // Random kill points, printed so that a failure can be replayed.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let delays: Vec<u64> = (0..5u8)
        .map(|i| {
            let h = blake3::hash(&[&seed.to_le_bytes()[..], &[i]].concat());
            20 + u64::from(u16::from_le_bytes([h.as_bytes()[0], h.as_bytes()[1]])) % 181
        })
        .collect();
    println!("kill after {delays:?} ms");
    let mut total = 0;
    for (round, &delay) in delays.iter().enumerate() {
        // Odd rounds: the writer is the only process with the store open when it dies.
        if round % 2 == 1 {
            held = None;
        }
        let mut writer = child(test, &dir.0, &round.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it write for `delay` ms of its own (start-up not counted, roughly), then kill.
        std::thread::sleep(Duration::from_millis(delay));
        writer.kill().unwrap();
        let status = writer.wait().unwrap();
        assert!(!status.success(), "the writer ran to the end: {status}");

        let store = held.take().unwrap_or_else(|| DiskStore::open(&dir.0).unwrap());
        let n = check_writer_blocks(&store);
        assert!(n >= total, "round {round}: {n} blocks, fewer than the {total} before");
        total = n;
        // The store takes new writes (the dead writer may have held LMDB's write lock).
        let (node, block) = (key("parent"), block_of(round as u64));
        store.put(&node, "parent", &block, 1, payload(&node, &block, 4096));
        store.flush().unwrap();
        assert_eq!(
            store.get(&node, &block, <[u8]>::to_vec).unwrap(),
            Some(payload(&node, &block, 4096))
        );
        println!("round {round}: killed after {delay} ms, {n} whole blocks");
        held = Some(store);
    }
}

#[test]
fn a_path_that_is_not_a_cache_directory_is_a_clear_error() {
    let dir = TempDir::new("not-a-cache");
    std::fs::create_dir_all(&dir.0).unwrap();

    let file = dir.0.join("a-file");
    std::fs::write(&file, "hello").unwrap();
    let err = DiskStore::open(&file).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Cache directory '{}': not a directory", file.display())
    );
    assert!(matches!(err, hypernodes::Error::Cache { ref path, .. } if *path == file));

    let garbage = dir.0.join("garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    std::fs::write(garbage.join("data.mdb"), b"garbage!".repeat(4096)).unwrap();
    let err = DiskStore::open(&garbage).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Cache directory '{}': not a hypernodes cache: data.mdb is not an LMDB file",
            std::fs::canonicalize(&garbage).unwrap().display()
        )
    );

    let below_a_file = file.join("cache");
    let err = DiskStore::open(&below_a_file).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "Cache directory '{}': cannot create the directory: ",
            below_a_file.display()
        )),
        "{err}"
    );
}

/// An entry that passes the store's frame check but does not decode (here: written
/// over with other bytes) is a miss with a warning, computed and stored again.
#[test]
fn an_entry_that_does_not_decode_is_a_miss_with_a_warning() {
    use hypernodes::cache::{Digest, block_key, node_key};
    use hypernodes::prelude::*;

    #[node(output = "y")]
    fn plus_one(x: i64) -> i64 {
        x + 1
    }

    let dir = std::env::temp_dir().join(format!("hn-cache-undecodable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pipeline =
        |cache: &Cache| Pipeline::new([plus_one::node()]).with_config(RunConfig::new().with_cache(cache.clone()));
    let inputs = Inputs::new().with("x", vec![1_i64, 2]);
    let cache = Cache::disk(&dir).unwrap();
    pipeline(&cache).map(&inputs, &["x"], "zip").unwrap();
    drop(cache);

    let key = node_key(&plus_one::node(), &[true]).unwrap().unwrap();
    let items: Vec<Digest> = [1_i64, 2]
        .iter()
        .map(|x| hypernodes::hash::digest(&Value::new(*x)).unwrap())
        .collect();
    let store = DiskStore::open(&dir).unwrap();
    let mut garbage = 2_u32.to_le_bytes().to_vec();
    garbage.extend_from_slice(items.as_flattened());
    garbage.extend_from_slice(b"\0not arrow");
    store.put(&key, "plus_one", &block_key(&items), 2, garbage);
    store.flush().unwrap();
    drop(store);

    let cache = Cache::disk(&dir).unwrap();
    let p = pipeline(&cache);
    let out = p.map(&inputs, &["x"], "zip").unwrap();
    assert_eq!(out.column::<i64>("y").unwrap(), [2, 3]);
    let report = out.cache_report().unwrap();
    assert_eq!((report.hits(), report.misses()), (0, 2));
    assert_eq!(report.warnings().len(), 1);
    assert!(
        report.warnings()[0].starts_with("a cache entry of node 'plus_one' cannot be read, computed again: "),
        "{:?}",
        report.warnings()
    );
    // Stored again: found the next time.
    let again = p.map(&inputs, &["x"], "zip").unwrap();
    assert_eq!(again.cache_report().unwrap().hits(), 2);
    drop((p, cache));
    std::fs::remove_dir_all(&dir).unwrap();
}
