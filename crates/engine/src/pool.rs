//! The executors' pools and runtimes: rayon pools per kind and width, the tokio runtime
//! for `async` work, and the drivers that run a map's items on them.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use crate::error::Result;
use hypernodes_core::exec::{Executor, OnError};

/// The pools behind the [`Executor`]s, which the model describes as data.
pub trait ExecutorPool {
    /// The pool that runs this executor's synchronous work and whether that work
    /// blocks: `None` for sequential work; `async:N` runs synchronous work (items
    /// without `async fn` nodes, rows of other nodes, the nodes of a run) like
    /// `threaded:N`, on a pool of N threads of its own.
    fn pool(&self) -> Option<(&'static rayon::ThreadPool, bool)>;
}

impl ExecutorPool for Executor {
    fn pool(&self) -> Option<(&'static rayon::ThreadPool, bool)> {
        match *self {
            Executor::Sequential => None,
            Executor::Threaded(n) => Some((pool(Kind::Blocking, n), true)),
            Executor::Async(n) => Some((pool(Kind::Async, n), true)),
            Executor::Parallel(n) => Some((pool(Kind::Cpu, n), false)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Cpu,
    Blocking,
    /// The synchronous work of the `async` executor.
    Async,
}

/// The process's pool of `kind` and `width`, made on first use and kept.
fn pool(kind: Kind, width: usize) -> &'static rayon::ThreadPool {
    static POOLS: Mutex<Vec<((Kind, usize), &'static rayon::ThreadPool)>> = Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == (kind, width)) {
        return p;
    }
    let prefix = match kind {
        Kind::Cpu => "hypernodes-parallel",
        Kind::Blocking => "hypernodes-threaded",
        Kind::Async => "hypernodes-async",
    };
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(width)
        .thread_name(move |i| format!("{prefix}-{i}"))
        .build()
        .expect("starting a thread pool");
    let leaked: &'static rayon::ThreadPool = Box::leak(Box::new(built));
    pools.push(((kind, width), leaked));
    leaked
}

/// The process-wide multi-threaded tokio runtime: async nodes, timeouts of sync nodes,
/// [`Pipeline::run_async`](crate::Run::run_async).
#[doc(hidden)]
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("hypernodes")
            .enable_time()
            .build()
            .expect("building the tokio runtime")
    })
}

thread_local! {
    /// Set on the threads of the runtime's blocking pool that hypernodes started work on.
    static ON_OUR_BLOCKING_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on the runtime's blocking pool.
#[doc(hidden)]
pub fn spawn_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::task::JoinHandle<T> {
    runtime().spawn_blocking(move || {
        ON_OUR_BLOCKING_THREAD.with(|c| c.set(true));
        f()
    })
}

/// Runs a future to completion on the process-wide runtime, from any thread: a plain
/// thread, one of the runtime's blocking threads, or a thread inside another runtime
/// (where it runs on a scoped thread of its own instead of panicking).
#[doc(hidden)]
pub fn block_on<T: Send>(fut: impl Future<Output = T> + Send) -> T {
    let rt = runtime();
    if ON_OUR_BLOCKING_THREAD.with(|c| c.get()) {
        rt.handle().block_on(fut)
    } else if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        rt.block_on(fut)
    }
}

// ---------------------------------------------------------------------------------------
// Items.

/// Runs `f` on items `0..n` with `executor`'s pool (sequentially without one) and
/// returns each item's result in item order. Under [`OnError::Fail`], once an item
/// fails, items after it are skipped (`None`) while items before it still run, so the
/// first error in the result is always that of the smallest failing index, whatever ran
/// first.
#[doc(hidden)]
pub fn for_items<T: Send>(
    executor: Executor,
    n: usize,
    on_error: OnError,
    f: impl Fn(usize) -> Result<T> + Sync + Send,
) -> Vec<Option<Result<T>>> {
    let first_failure = AtomicUsize::new(usize::MAX);
    let one = |i: usize| {
        if on_error == OnError::Fail && i > first_failure.load(Ordering::Relaxed) {
            return None;
        }
        let r = f(i);
        if r.is_err() {
            first_failure.fetch_min(i, Ordering::Relaxed);
        }
        Some(r)
    };
    match executor.pool() {
        None => (0..n).map(one).collect(),
        Some((pool, blocking)) => pool.install(|| {
            let items = (0..n).into_par_iter();
            if blocking {
                // Each item its own task: a blocking item must not hold others back.
                items.with_max_len(1).map(one).collect()
            } else {
                items.map(one).collect()
            }
        }),
    }
}

/// Runs the futures `f(0)`, `f(1)`, … with at most `width` in flight, in item order, and
/// returns their results in item order; under [`OnError::Fail`] it stops at the first
/// failing item (the smallest failing index, as results are taken in order) and cancels
/// the futures still running.
#[doc(hidden)]
pub async fn for_items_async<T, F>(
    width: usize,
    n: usize,
    on_error: OnError,
    f: impl Fn(usize) -> F,
) -> Vec<Option<Result<T>>>
where
    F: Future<Output = Result<T>>,
{
    use futures::StreamExt;
    let mut results = Vec::with_capacity(n);
    let mut stream = futures::stream::iter((0..n).map(f)).buffered(width.max(1));
    while let Some(r) = stream.next().await {
        let failed = r.is_err();
        results.push(Some(r));
        if failed && on_error == OnError::Fail {
            break;
        }
    }
    drop(stream);
    results.resize_with(n, || None);
    results
}
