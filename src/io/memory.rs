//! The memory a file run holds: how many rows a batch gets and how many batches are in
//! flight within the memory limit, what they hold at each moment and the most held at
//! once, and freed memory returned to the system.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// The memory of one input file's run. The workers wait on it for room before they read
/// a batch ([`Memory::admit`]); the writer frees what the batches it wrote held
/// ([`Memory::written`]).
pub(super) struct Memory {
    /// What batches may hold: three quarters of the limit.
    budget: u64,
    /// What a row of a batch being processed holds, about.
    per_row: u64,
    /// The most rows per batch.
    batch_rows: usize,
    /// What a batch of `batch_rows` rows holds, about.
    estimate: u64,
    /// The memory limit, and the bytes of batches freed after which freed memory goes
    /// back to the system if the process holds more than the limit.
    limit: u64,
    trim_every: u64,
    /// The writers' buffers: the output's, and the failed rows'.
    writer_budget: u64,
    side_budget: u64,
    /// Set when the run stops: workers waiting for room give up.
    stop: AtomicBool,
    /// What batches hold, and how many are written; workers wait on the condition for
    /// room (see [`Memory::admit`]).
    accounted: (Mutex<Accounting>, Condvar),
}

impl Memory {
    /// The memory of a run of `workers` batches at once within `limit` bytes, of at most
    /// `batch_rows` rows whose columns read hold `row_bytes` bytes a row; `side` when
    /// the run writes a side file of failed rows.
    pub(super) fn new(limit: u64, workers: usize, batch_rows: usize, row_bytes: u64, side: bool) -> Memory {
        // Memory: a batch being processed holds its input and its output (about three
        // times its input with the intermediate columns); a processed batch holds its
        // output (the selected columns) until it is written. Batches get three quarters
        // of the limit, with room for two per worker, and the writer's buffer the rest.
        let budget = (limit * 3 / 4).max(1);
        let per_row = row_bytes * 3;
        let mut batch_rows = batch_rows;
        while batch_rows > 1 && (2 * workers) as u64 * batch_rows as u64 * per_row > budget {
            batch_rows /= 2;
        }
        let estimate = batch_rows as u64 * per_row;
        // Each time batches of an eighth of the limit were freed, freed memory goes back to
        // the system if the process holds more than the limit.
        let trim_every = (limit / 8).max(1 << 20);
        // The writers' buffers: the output's, and a quarter of it for the failed rows'.
        let mut writer_budget = (limit / 4).max(1);
        let side_budget = writer_budget / 4;
        if side {
            writer_budget -= side_budget;
        }
        Memory {
            budget,
            per_row,
            batch_rows,
            estimate,
            limit,
            trim_every,
            writer_budget,
            side_budget,
            stop: AtomicBool::new(false),
            accounted: (Mutex::new(Accounting::default()), Condvar::new()),
        }
    }

    /// The most rows per batch.
    pub(super) fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// What a batch of `rows` rows is expected to hold.
    pub(super) fn reserve(&self, rows: usize) -> u64 {
        rows as u64 * self.per_row
    }

    /// The most bytes the output's writer, and the failed rows' writer, may buffer.
    pub(super) fn writer_budgets(&self) -> (u64, u64) {
        (self.writer_budget, self.side_budget)
    }

    /// Waits for room to read batch `seq`, expected to hold `reserve` bytes, and holds
    /// them; false when the run stops.
    ///
    /// Batch `seq` is read once its estimate fits in the budget with room to spare for
    /// one more batch, or at once when it is the batch the writer waits for, which is
    /// then never held up behind later ones. Its estimate (`reserve`) is held until it
    /// is read.
    pub(super) fn admit(&self, seq: u64, reserve: u64) -> bool {
        let mut acc = self.accounted.0.lock().expect("accounting");
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            if seq == acc.written || acc.batches + reserve + self.estimate <= self.budget {
                acc.add(reserve);
                return true;
            }
            acc = self.accounted.1.wait(acc).expect("accounting");
        }
    }

    /// A batch read: its estimate (`reserve`) swapped for its size.
    pub(super) fn read(&self, reserve: u64, size: u64) {
        let mut acc = self.accounted.0.lock().expect("accounting");
        acc.sub(reserve);
        acc.add(size);
    }

    /// A batch processed: its input (`input_size` bytes) freed, and its result
    /// (`output` bytes, unless it failed) held until it is written.
    pub(super) fn processed(&self, input_size: u64, output: Option<u64>) {
        let mut acc = self.accounted.0.lock().expect("accounting");
        acc.sub(input_size);
        if let Some(size) = output {
            acc.add(size);
        }
        drop(acc);
        self.accounted.1.notify_all();
    }

    /// Batch `written - 1` written: the `size` bytes it held freed, with `freed` (the
    /// batch itself) dropped; the writers now buffer `writers` bytes. Returns freed
    /// memory to the system when enough was freed since the last time.
    pub(super) fn written<T>(&self, written: u64, size: u64, writers: u64, freed: T) {
        let mut acc = self.accounted.0.lock().expect("accounting");
        acc.writer = writers;
        acc.sub(size);
        acc.written = written;
        let trim = acc.freed >= self.trim_every;
        if trim {
            acc.freed = 0;
        }
        drop(acc);
        drop(freed);
        self.accounted.1.notify_all();
        if trim {
            return_freed_memory(self.limit);
        }
    }

    /// The writer starts at batch `seq`: those before it are written already (a resumed
    /// file's, see `state::Journal`).
    pub(super) fn start_at(&self, seq: u64) {
        self.accounted.0.lock().expect("accounting").written = seq;
    }

    /// Whether the run stopped.
    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Stops the run: the workers waiting for room, and those that ask next, give up.
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.accounted.1.notify_all();
    }

    /// The most memory held at once by batches and the writers.
    pub(super) fn peak(&self) -> u64 {
        self.accounted.0.lock().expect("accounting").peak
    }
}

/// Bytes held by batches in flight and the writer, and the most held at once.
#[derive(Default)]
struct Accounting {
    /// Bytes held by batches being read or processed, or waiting to be written.
    batches: u64,
    /// Bytes the writer buffers.
    writer: u64,
    /// The most `batches + writer` held at once.
    peak: u64,
    /// Batches written.
    written: u64,
    /// Bytes of batches freed since the allocator last returned freed memory.
    freed: u64,
}

impl Accounting {
    fn add(&mut self, bytes: u64) {
        self.batches += bytes;
        self.peak = self.peak.max(self.batches + self.writer);
    }
    fn sub(&mut self, bytes: u64) {
        self.batches = self.batches.saturating_sub(bytes);
        self.freed += bytes;
    }
}

/// Has the allocator return the memory freed to the system (glibc's `malloc_trim`; other
/// allocators return it themselves) when the process's resident memory is over `limit`
/// bytes. glibc keeps freed blocks of up to 32 MiB in its per-thread heaps for reuse, so
/// without it a run's resident memory grows far past its memory limit as batches come and
/// go: measured on 5 GB of Parquet with a limit of 256 MiB, 508 MiB instead of 322. A trim
/// costs the page faults of the memory when it is used again (10% of W3's time on 1M rows
/// when done each time an eighth of the limit was freed), so it is skipped while the
/// process is within its limit.
fn return_freed_memory(limit: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // The kernel's count of the process's resident memory, in kB.
        let resident = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        if resident.is_some_and(|kb| kb * 1024 <= limit) {
            return;
        }
        // SAFETY: `malloc_trim` takes no pointer and only releases free memory; glibc's
        // allocator is thread-safe, so any thread may call it at any time.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = limit;
}
