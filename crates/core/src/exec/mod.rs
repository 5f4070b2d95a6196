//! How a run executes: the [`Executor`]s of the independent nodes of a run and of the
//! items of a map, the failure policy of a map ([`OnError`]), retries ([`Retry`]) and
//! timeouts, and the [`RunConfig`] that carries them from the call site, the pipeline,
//! its parents and the process default.
//!
//! # Executors
//!
//! | executor | what runs at once | on what |
//! |---|---|---|
//! | `sequential` | one thing at a time | the calling thread |
//! | `threaded:N` | up to N items (or nodes), each on its own thread | a pool of N threads kept for blocking work (I/O, sleeps, remote calls) |
//! | `async:N` | up to N items in flight; `async fn` nodes awaited concurrently | tokio; the sync nodes of those items go to tokio's blocking pool, items (or rows) without `async fn` nodes to a pool of N threads |
//! | `parallel:N` | CPU-bound items split over N threads by work stealing | a rayon pool of N threads (default: one per core) |
//!
//! One pool exists per kind and width for the whole process, so nested maps that
//! inherit their parent's executor share its threads: a parallel map inside a parallel
//! map inside a parallel map still runs on that one pool's N threads in all, and an inner
//! map waiting for its items lends its thread to them (rayon's work stealing), so it
//! never deadlocks on the pool it runs in.
//!
//! # Examples
//!
//! ```
//! use hypernodes::exec::{Executor, OnError};
//!
//! assert_eq!("threaded:64".parse::<Executor>()?, Executor::Threaded(64));
//! assert_eq!("async".parse::<Executor>()?, Executor::Async(Executor::ASYNC_WIDTH));
//! assert_eq!(Executor::Parallel(4).to_string(), "parallel:4");
//! let err = "threads".parse::<Executor>().unwrap_err();
//! assert_eq!(err.to_string(), "Unknown executor 'threads'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]");
//! assert_eq!("collect".parse::<OnError>()?, OnError::Collect);
//! # Ok::<(), hypernodes::Error>(())
//! ```

mod config;
mod policy;

#[doc(hidden)]
pub use config::EngineSlot;
pub use config::RunConfig;
pub use policy::{AsExecutor, Executor, ItemFailure, OnError, Retry, parse_duration};
