//! The disk store's unit tests: frames, one environment per directory, flushing on
//! drop, corrupt entries, the stats table, errors, and throughput figures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use heed::MdbError;

use super::env::{MAP_SIZE, lmdb_error};
use super::frame::{HEADER, MAGIC, block_key, checksum, unframe};
use super::*;

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hn-disk-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

#[test]
fn frames_round_trip_and_each_check_fails_on_its_own() {
    let payload = b"results".to_vec();
    let mut frame = MAGIC.to_vec();
    frame.extend_from_slice(&7u32.to_le_bytes());
    frame.extend_from_slice(&checksum(&payload));
    frame.extend_from_slice(&payload);
    assert_eq!(unframe(&frame, true), Ok((7, &payload[..])));

    assert_eq!(
        unframe(&frame[..23], true),
        Err("23 bytes, shorter than the 24-byte frame header".to_string())
    );
    let mut bad_magic = frame.clone();
    bad_magic[3] = b'2';
    assert_eq!(
        unframe(&bad_magic, true),
        Err("bad magic \"HNB2\", expected \"HNB1\"".to_string())
    );
    let mut flipped = frame.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(unframe(&flipped, true), Err("payload checksum mismatch".to_string()));
    // Counting reads only the header.
    assert_eq!(unframe(&flipped, false).map(|(items, _)| items), Ok(7));
}

#[test]
fn one_environment_per_directory_in_a_process() {
    let dir = TempDir::new("shared");
    let a = DiskStore::open(&dir.0).unwrap();
    let b = DiskStore::open(dir.0.join(".")).unwrap();
    assert!(Arc::ptr_eq(&a.inner, &b.inner));
    a.put(&key(1), "n", &key(2), 1, vec![1]);
    b.flush().unwrap();
    assert_eq!(a.get(&key(1), &key(2), <[u8]>::to_vec).unwrap(), Some(vec![1]));
    // Dropped, the environment closes and a new open gets a new one.
    drop((a, b));
    let c = DiskStore::open(&dir.0).unwrap();
    assert_eq!(c.get(&key(1), &key(2), <[u8]>::len).unwrap(), Some(1));
    assert_eq!(
        format!("{c:?}"),
        format!("DiskStore {{ path: {:?}, .. }}", std::fs::canonicalize(&dir.0).unwrap())
    );
}

#[test]
fn drop_flushes_buffered_puts() {
    let dir = TempDir::new("drop");
    let store = DiskStore::open(&dir.0).unwrap();
    store.put(&key(1), "n", &key(2), 3, vec![9; 10]);
    drop(store);
    let store = DiskStore::open(&dir.0).unwrap();
    assert_eq!(store.get(&key(1), &key(2), <[u8]>::to_vec).unwrap(), Some(vec![9; 10]));
}

#[test]
fn a_corrupt_entry_is_an_error_for_get_and_skipped_by_for_each_block() {
    let dir = TempDir::new("corrupt");
    let store = DiskStore::open(&dir.0).unwrap();
    for b in 1..=3 {
        store.put(&key(1), "clean", &key(b), 10, vec![b; 100]);
    }
    store.flush().unwrap();

    // Flip one payload byte of block 2 and cut block 3 short, behind the store's back.
    let inner = &store.inner.db;
    let mut wtxn = inner.env.write_txn().unwrap();
    let mut frame = inner
        .blocks
        .get(&wtxn, &block_key(&key(1), &key(2)))
        .unwrap()
        .unwrap()
        .to_vec();
    frame[HEADER + 50] ^= 0xff;
    inner
        .blocks
        .put(&mut wtxn, &block_key(&key(1), &key(2)), &frame)
        .unwrap();
    inner
        .blocks
        .put(&mut wtxn, &block_key(&key(1), &key(3)), b"HNB1")
        .unwrap();
    wtxn.commit().unwrap();

    let err = store
        .get(&key(1), &key(2), |_| panic!("f must not see a corrupt payload"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Cache directory '{}': corrupt entry (node 0101010101010101, block 0202020202020202): \
             payload checksum mismatch",
            store.path().display()
        )
    );
    let err = store.get(&key(1), &key(3), <[u8]>::len).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("4 bytes, shorter than the 24-byte frame header"),
        "{err}"
    );

    let mut seen = Vec::new();
    let skipped = store
        .for_each_block(&key(1), |block, payload| seen.push((block[0], payload.len())))
        .unwrap();
    assert_eq!((seen, skipped), (vec![(1, 100)], 2));
    // Stats read headers only: the flipped payload counts, the short frame does not.
    let stats = store.stats().unwrap();
    assert_eq!((stats.blocks, stats.items, stats.bytes, stats.corrupt), (2, 20, 200, 1));
}

#[test]
fn stats_table_is_aligned_and_lists_corrupt_entries() {
    let stats = StoreStats {
        nodes: vec![
            NodeStats {
                name: "a".into(),
                keys: 1,
                blocks: 1,
                items: 5,
                bytes: 12,
            },
            NodeStats {
                name: "long_name".into(),
                keys: 2,
                blocks: 10,
                items: 81920,
                bytes: 1_000_000,
            },
        ],
        blocks: 11,
        items: 81925,
        bytes: 1_000_012,
        corrupt: 3,
        file_bytes: 1_200_000,
    };
    assert_eq!(
        stats.to_string(),
        "node       blocks  items    bytes\n\
         a               1      5       12\n\
         long_name      10  81920  1000000\n\
         total          11  81925  1000012\n\
         corrupt entries: 3\n\
         data.mdb: 1200000 bytes\n"
    );
}

#[test]
fn map_full_becomes_a_clear_error() {
    let err = lmdb_error(Path::new("/c"), "cannot write", heed::Error::Mdb(MdbError::MapFull));
    assert_eq!(
        err.to_string(),
        format!(
            "Cache directory '/c': the store is full: LMDB's map of {} GiB is used up; clear the cache \
             (`hypernodes cache clear`) or use another directory",
            MAP_SIZE >> 30
        )
    );
}

/// The figures the report quotes: `cargo test --release --no-default-features --lib
/// cache::disk::tests::throughput_figures -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn throughput_figures() {
    const ITEMS: u32 = 1_000_000;
    const PER_BLOCK: u32 = 8192;
    const BYTES_PER_BLOCK: usize = 100_000;
    let node = key(7);
    let blocks: Vec<([u8; 32], u32, Vec<u8>)> = (0..ITEMS.div_ceil(PER_BLOCK))
        .map(|b| {
            let items = PER_BLOCK.min(ITEMS - b * PER_BLOCK);
            let block = *blake3::hash(&b.to_le_bytes()).as_bytes();
            let mut payload = vec![0; BYTES_PER_BLOCK * items as usize / PER_BLOCK as usize];
            blake3::Hasher::new().update(&block).finalize_xof().fill(&mut payload);
            (block, items, payload)
        })
        .collect();
    let payload_bytes: usize = blocks.iter().map(|b| b.2.len()).sum();
    for flush_every in [1, 8, blocks.len()] {
        let dir = TempDir::new(&format!("throughput-{flush_every}"));
        let store = DiskStore::open(&dir.0).unwrap();
        let input = blocks.clone();
        let started = Instant::now();
        for (i, (block, items, payload)) in input.into_iter().enumerate() {
            store.put(&node, "bench", &block, items, payload);
            if (i + 1) % flush_every == 0 {
                store.flush().unwrap();
            }
        }
        store.flush().unwrap();
        let took = started.elapsed().as_secs_f64();
        let file = std::fs::metadata(dir.0.join("data.mdb")).unwrap().len();
        println!(
            "put+flush, a flush every {flush_every} blocks: {} blocks, {ITEMS} items, {payload_bytes} payload bytes \
             in {:.1} ms = {:.0} MB/s, {:.0} blocks/s, {:.1} M items/s; data.mdb {file} bytes = {:.4} x payload",
            blocks.len(),
            took * 1e3,
            payload_bytes as f64 / took / 1e6,
            blocks.len() as f64 / took,
            f64::from(ITEMS) / took / 1e6,
            file as f64 / payload_bytes as f64
        );
        if flush_every == 8 {
            let mut times = Vec::new();
            for _ in 0..20 {
                for (block, _, payload) in &blocks {
                    let started = Instant::now();
                    let len = store.get(&node, block, <[u8]>::len).unwrap();
                    times.push(started.elapsed());
                    assert_eq!(len, Some(payload.len()));
                }
            }
            times.sort();
            let mean = times.iter().sum::<Duration>() / times.len() as u32;
            println!(
                "get of a 100 KB block (checksum checked, zero copy), {} gets: median {:?}, mean {mean:?}, p99 {:?}",
                times.len(),
                times[times.len() / 2],
                times[times.len() * 99 / 100]
            );
            let started = Instant::now();
            let missing = 10_000;
            for i in 0..missing {
                assert!(
                    store
                        .get(&node, &key(i as u8).map(|b| b ^ 0x5a), <[u8]>::len)
                        .unwrap()
                        .is_none()
                );
            }
            println!("get of a missing block: {:?} each", started.elapsed() / missing);
        }
    }
}

#[test]
fn an_encoding_that_fails_is_the_next_flushs_error_naming_the_cache_and_stores_nothing_of_its_block() {
    let dir = TempDir::new("writer-error");
    let store = DiskStore::open(&dir.0).unwrap();
    store.put(&key(1), "clean", &key(2), 1, vec![5; 8]);
    store.put_encoded(
        &key(1),
        "clean",
        &key(3),
        2,
        16,
        Box::new(|out| {
            out.extend_from_slice(b"half");
            Err("no room".into())
        }),
    );
    store.put_encoded(
        &key(1),
        "clean",
        &key(4),
        1,
        4,
        Box::new(|out| {
            out.extend_from_slice(b"good");
            Ok(())
        }),
    );
    let err = store.flush().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Cache directory '{}': cannot encode a block of node 'clean': no room",
            store.path().display()
        )
    );
    // The error is returned once; the other blocks are committed whole, the failed one
    // not at all.
    store.flush().unwrap();
    let get = |b: u8| store.get(&key(1), &key(b), <[u8]>::to_vec).unwrap();
    assert_eq!(
        (get(2), get(3), get(4)),
        (Some(vec![5; 8]), None, Some(b"good".to_vec()))
    );
    assert_eq!((store.stats().unwrap().blocks, store.stats().unwrap().items), (2, 2));
}

#[test]
fn a_flush_waits_for_the_puts_of_every_thread() {
    let dir = TempDir::new("threads");
    let store = DiskStore::open(&dir.0).unwrap();
    std::thread::scope(|s| {
        for t in 0..4_u8 {
            let store = store.clone();
            s.spawn(move || {
                for b in 0..50_u8 {
                    store.put(&key(t), "n", &key(b), 3, vec![t; 1000]);
                }
            });
        }
    });
    store.flush().unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.blocks, stats.items, stats.bytes), (200, 600, 200_000));
}
