//! A file run in the background ([`FileRun::start`]): stopping it keeps the earlier
//! output as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::{FileRun, RunSummary};
use crate::error::Result;

/// A file run going on in the background, from [`FileRun::start`].
#[derive(Debug)]
pub struct FileRunHandle {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Option<RunSummary>>>,
}

impl FileRun {
    /// Starts [`FileRun::run`] on a thread of its own and returns its handle, which can
    /// [`stop`](FileRunHandle::stop) it and [`wait`](FileRunHandle::wait) for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::io::FileRun;
    ///
    /// #[node(output = "word_count")]
    /// fn count_words(passage: &str) -> i64 { passage.split_whitespace().count() as i64 }
    ///
    /// let dir = std::env::temp_dir().join(format!("hn-doc-start-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// hypernodes::datagen::write_docs(&dir.join("docs.parquet"), 1000, 7)?;
    /// let handle = FileRun::new(Pipeline::new([count_words::node()]), dir.join("docs.parquet"), dir.join("out.parquet")).start();
    /// let summary = handle.wait()?.expect("not stopped");
    /// assert_eq!(summary.rows_out, 1000);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn start(&self) -> FileRunHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let mut run = self.clone();
        run.stop = Some(stop.clone());
        let thread = std::thread::Builder::new()
            .name("hypernodes-file-run".into())
            .spawn(move || run.run_until_stopped())
            .expect("starting a thread");
        FileRunHandle { stop, thread }
    }
}

impl FileRunHandle {
    /// Stops the run: no new batch starts, the batches running finish, and nothing is
    /// written: no output (nor side file of failed rows) is put in place, an output that
    /// was there stays as it was, and the temporary files are removed. An incremental
    /// run ([`FileRun::with_state`]) keeps, and records, the input files it finished
    /// before. A run on a remote stops between its input files.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the run ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the run: its summary, or `None` when it was stopped before it put its
    /// outputs in place.
    ///
    /// # Errors
    ///
    /// As [`FileRun::run`].
    pub fn wait(self) -> Result<Option<RunSummary>> {
        self.thread.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}
