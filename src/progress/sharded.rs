//! [`Sharded`], a counter that many threads add to without fighting over one cache line.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter that threads add to, each mostly on a cache line of its own.
pub(super) struct Sharded([Padded; SHARDS]);

pub(super) const SHARDS: usize = 8;

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

impl Sharded {
    pub(super) fn new() -> Sharded {
        Sharded(Default::default())
    }

    /// Adds `n` on shard `shard` (the calling thread's).
    #[inline]
    pub(super) fn add(&self, shard: usize, n: u64) {
        self.0[shard % SHARDS].0.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn sum(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn sharded_counts_every_thread() {
        let c = Arc::new(Sharded::new());
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.add(i, 2)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.sum(), 8000);
    }
}
