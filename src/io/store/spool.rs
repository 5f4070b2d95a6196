//! A CSV, NDJSON or Arrow object copied to a local temporary file, streamed (never
//! whole in memory), to be read as a local file is; the file is removed when dropped.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::{Object, block_on};
use crate::error::{Error, Result};

/// A local copy of an object, removed when dropped.
pub(crate) struct Spooled {
    pub(crate) path: PathBuf,
}

impl Spooled {
    /// Copies `object` into a new temporary file (named after it, so that its extension
    /// stays).
    pub(crate) fn fetch(object: &Object) -> Result<Spooled> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            ".hypernodes-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            object.location.file_name()
        );
        let spooled = Spooled {
            path: std::env::temp_dir().join(name),
        };
        let io = |source| Error::Io {
            action: "create",
            path: spooled.path.display().to_string().into(),
            source,
        };
        let mut file = std::io::BufWriter::new(std::fs::File::create(&spooled.path).map_err(io)?);
        let got = block_on(object.store.get(&object.path)).map_err(|e| object.error("read", e))?;
        let mut stream = got.into_stream();
        while let Some(chunk) = block_on(stream.try_next()).map_err(|e| object.error("read", e))? {
            file.write_all(&chunk).map_err(io)?;
        }
        file.flush().map_err(io)?;
        Ok(spooled)
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
