//! How work runs, as plain data: the [`Executor`]s, the failure policy of a map
//! ([`OnError`]), retries ([`Retry`]), timeouts, and what a failed item left
//! ([`ItemFailure`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// How independent work runs: the nodes of one run whose inputs are ready (the node
/// executor) or the items of a map (the map executor). See the [module docs](crate::exec).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Executor {
    /// One at a time, on the calling thread.
    Sequential,
    /// Up to `n` at once on a pool of `n` threads kept for blocking work.
    Threaded(usize),
    /// Up to `n` items in flight on tokio: `async fn` nodes are awaited concurrently,
    /// the sync nodes of those items run on tokio's blocking pool; items without an
    /// `async fn` node run on a pool of `n` threads, like [`Executor::Threaded`].
    Async(usize),
    /// CPU-bound work split over a rayon pool of `n` threads.
    Parallel(usize),
}

impl Default for Executor {
    /// [`Executor::Sequential`].
    fn default() -> Self {
        Executor::Sequential
    }
}

impl Executor {
    /// The width of `"threaded"` without a number: threads for blocking calls.
    pub const THREADED_WIDTH: usize = 32;
    /// The width of `"async"` without a number: items in flight.
    pub const ASYNC_WIDTH: usize = 100;

    /// `parallel` with one thread per core.
    pub fn parallel() -> Executor {
        Executor::Parallel(cores())
    }

    /// How many things run at once (1 for [`Executor::Sequential`]).
    pub fn width(&self) -> usize {
        match *self {
            Executor::Sequential => 1,
            Executor::Threaded(n) | Executor::Async(n) | Executor::Parallel(n) => n,
        }
    }
}

/// The number of cores rayon and the `parallel` executor use.
#[doc(hidden)]
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl FromStr for Executor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Executor> {
        let (kind, given) = match s.split_once(':') {
            Some((k, w)) => (k, Some(w)),
            None => (s, None),
        };
        let width = |default: usize| -> Result<usize> {
            match given {
                None => Ok(default),
                Some(w) => match w.parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(Error::Invalid(format!(
                        "Executor '{s}': the width after ':' must be a whole number of at least 1"
                    ))),
                },
            }
        };
        match kind {
            "sequential" if given.is_none() => Ok(Executor::Sequential),
            "threaded" => Ok(Executor::Threaded(width(Executor::THREADED_WIDTH)?)),
            "async" => Ok(Executor::Async(width(Executor::ASYNC_WIDTH)?)),
            "parallel" => Ok(Executor::Parallel(width(cores())?)),
            _ => Err(Error::UnknownExecutor { name: s.into() }),
        }
    }
}

impl fmt::Display for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Executor::Sequential => f.write_str("sequential"),
            Executor::Threaded(n) => write!(f, "threaded:{n}"),
            Executor::Async(n) => write!(f, "async:{n}"),
            Executor::Parallel(n) => write!(f, "parallel:{n}"),
        }
    }
}

/// An executor given as [`Executor`] or by name (`"parallel"`, `"threaded:64"`).
pub trait AsExecutor {
    /// The executor.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownExecutor`] for an unknown name, [`Error::Invalid`] for a bad width.
    fn as_executor(&self) -> Result<Executor>;
}

impl AsExecutor for Executor {
    fn as_executor(&self) -> Result<Executor> {
        Ok(*self)
    }
}

impl AsExecutor for &str {
    fn as_executor(&self) -> Result<Executor> {
        self.parse()
    }
}

impl AsExecutor for String {
    fn as_executor(&self) -> Result<Executor> {
        self.parse()
    }
}

/// What a map does when items fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnError {
    /// The map fails with the error of the failing item of smallest index (default).
    #[default]
    Fail,
    /// The map returns the results of the items that succeeded and, in
    /// [`MapOutputs::failures`](crate::MapOutputs::failures), each failed item's index,
    /// node and error.
    Collect,
}

impl FromStr for OnError {
    type Err = Error;

    fn from_str(s: &str) -> Result<OnError> {
        match s {
            "fail" => Ok(OnError::Fail),
            "collect" => Ok(OnError::Collect),
            _ => Err(Error::Invalid(format!(
                "Unknown on_error policy '{s}'. Valid policies: fail, collect"
            ))),
        }
    }
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnError::Fail => "fail",
            OnError::Collect => "collect",
        })
    }
}

/// Retries of a node that returned an error or timed out: up to `retries` more
/// attempts, waiting `backoff`, then twice that, four times that, and so on between
/// them. A panic is never retried (it is a bug, not a passing failure).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hypernodes::exec::Retry;
///
/// let r = Retry::new(3, Duration::from_millis(100));
/// assert_eq!(r.delay(0), Duration::from_millis(100));
/// assert_eq!(r.delay(2), Duration::from_millis(400));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Retry {
    retries: u32,
    backoff: Duration,
}

impl Retry {
    /// Up to `retries` more attempts after the first, `backoff` before the first retry.
    pub const fn new(retries: u32, backoff: Duration) -> Retry {
        Retry { retries, backoff }
    }

    /// How many more attempts after the first.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The wait before the first retry.
    pub fn backoff(&self) -> Duration {
        self.backoff
    }

    /// The wait before retry `k` (0 for the first): `backoff * 2^k`.
    pub fn delay(&self, k: u32) -> Duration {
        self.backoff.saturating_mul(1 << k.min(20))
    }
}

/// Parses a duration written the way people write them: `"100ms"`, `"1.5s"`, `"2m"`,
/// `"1h 30m"`.
///
/// # Errors
///
/// [`Error::Invalid`] naming the text.
pub fn parse_duration(text: &str) -> Result<Duration> {
    humantime::parse_duration(text).map_err(|e| {
        Error::Invalid(format!(
            "Cannot read '{text}' as a duration ({e}); write it like \"100ms\", \"2s\" or \"1m\""
        ))
    })
}

/// An item of a map that failed, returned under [`OnError::Collect`] by
/// [`MapOutputs::failures`](crate::MapOutputs::failures).
#[derive(Clone, Debug)]
pub struct ItemFailure {
    item: usize,
    node: Box<str>,
    error: Arc<Error>,
}

impl ItemFailure {
    #[doc(hidden)]
    pub fn new(item: usize, error: Error) -> ItemFailure {
        ItemFailure {
            item,
            node: error.node().unwrap_or_default().into(),
            error: Arc::new(error),
        }
    }

    /// The item's index in the map.
    pub fn item(&self) -> usize {
        self.item
    }

    /// The node that failed (the outermost: a nested pipeline's node when the failure was
    /// inside it).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The error, as the map would have failed with it.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error, owned (the same message, and for a node's failure, panic or timeout
    /// the same variant, when the failure was cloned).
    pub fn into_error(self) -> Error {
        Arc::try_unwrap(self.error).unwrap_or_else(|shared| match &*shared {
            Error::NodeFailed { node, item, source } => Error::NodeFailed {
                node: node.clone(),
                item: *item,
                source: source.to_string().into(),
            },
            Error::NodePanicked { node, item, message } => Error::NodePanicked {
                node: node.clone(),
                item: *item,
                message: message.clone(),
            },
            Error::Timeout { node, item, after } => Error::Timeout {
                node: node.clone(),
                item: *item,
                after: *after,
            },
            other => Error::Invalid(other.to_string()),
        })
    }
}

/// The error of a failed item, as the map would have failed with it: what `?` makes of
/// an item of a streamed map that failed.
impl From<ItemFailure> for Error {
    fn from(failure: ItemFailure) -> Error {
        failure.into_error()
    }
}
