//! What every fuzz target shares: the proptest configuration read from the environment,
//! and an allocator that notes the largest allocation a case makes. Both test binaries
//! include this file (the library's unit tests with `#[path]`), so each has the
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::test_runner::{Config, RngSeed};

/// `HYPERNODES_FUZZ_CASES` cases per target (default 256) from the seed
/// `HYPERNODES_FUZZ_SEED` (default 16, so that `cargo test` runs the same cases every
/// time); no failure files are written (a failure found becomes a named regression test).
/// proptest's own variables still apply, e.g. `PROPTEST_FORK=true PROPTEST_TIMEOUT=5000`
/// to fail a case that runs longer than 5 s.
pub(crate) fn config() -> Config {
    let var = |name: &str, default: u64| match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    };
    let cases = var("HYPERNODES_FUZZ_CASES", 256);
    Config {
        cases: u32::try_from(cases).unwrap_or_else(|_| panic!("HYPERNODES_FUZZ_CASES={cases} is more than a u32")),
        rng_seed: RngSeed::Fixed(var("HYPERNODES_FUZZ_SEED", 16)),
        failure_persistence: None,
        ..Config::default()
    }
}

/// The system allocator, noting the largest allocation a thread asks for while
/// [`largest_allocation`] watches it.
struct Watched;

thread_local! {
    /// The largest allocation so far, `None` when the thread is not watched.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note(size: usize) {
    // `try_with`: allocations while the thread-local is being destroyed are not watched.
    let _ = LARGEST.try_with(|l| {
        if let Some(m) = l.get() {
            l.set(Some(m.max(size)));
        }
    });
}

// SAFETY: every call goes to `System` with the caller's arguments unchanged; `note` only
// reads and writes a `const`-initialized thread-local `Cell` (it neither allocates nor
// unwinds).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Watched {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watched = Watched;

/// What `f` returns, and the size in bytes of the largest allocation it made on this
/// thread (allocations on other threads are not seen).
pub(crate) fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(Some(0)));
    let r = f();
    (r, LARGEST.with(|l| l.replace(None)).unwrap_or(0))
}
