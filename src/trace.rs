//! Timelines of runs, as callbacks: [`ChromeTrace`] writes a file in the Chrome Trace
//! Event Format that [Perfetto](https://ui.perfetto.dev) and `chrome://tracing` open,
//! one lane per thread; `Tracing` (feature `tracing`) reports runs to the
//! [`tracing`](https://docs.rs/tracing) crate's subscribers.

mod chrome;
mod record;
mod render;
#[cfg(feature = "tracing")]
mod tracing_events;

pub use self::chrome::ChromeTrace;
#[cfg(feature = "tracing")]
pub use self::tracing_events::Tracing;
