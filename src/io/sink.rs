//! Where a writer's bytes go: a local temporary file, or an object store's multipart
//! upload (feature `cloud`).

use std::fs::File;
use std::io::{BufWriter, Write};

/// The bytes of one output file being written (see `OutputFile`).
pub(crate) enum Sink {
    /// A temporary file next to the output.
    File(BufWriter<File>),
    /// An object's multipart upload, buffered a MiB at a time.
    #[cfg(feature = "cloud")]
    Upload(Box<BufWriter<super::store::Upload>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(w) => w.write(buf),
            #[cfg(feature = "cloud")]
            Sink::Upload(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File(w) => w.write_all(buf),
            #[cfg(feature = "cloud")]
            Sink::Upload(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(w) => w.flush(),
            #[cfg(feature = "cloud")]
            Sink::Upload(w) => w.flush(),
        }
    }
}
