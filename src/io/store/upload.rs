//! Writing an object as a multipart upload: the bytes go up in parts as they are
//! written, and the object appears only when the upload is completed
//! ([`Upload::complete`]); dropped before that, the upload is aborted, so a failed run
//! leaves no object and an existing one as it was (a killed run's upload is never
//! completed either: the store drops its parts).

use object_store::{ObjectStoreExt, WriteMultipart};

use super::{Object, block_on, runtime};
use crate::error::Result;

/// The size of each part (S3's smallest but the last).
const PART: usize = 5 << 20;
/// The most parts uploading at once while more are written.
const IN_FLIGHT: usize = 2;
/// What an upload holds, at most: the parts uploading and the one being written.
pub(crate) const HELD: u64 = ((IN_FLIGHT + 1) * PART) as u64;

/// A multipart upload of an object, written with `std::io::Write`.
pub(crate) struct Upload {
    object: Object,
    writer: Option<WriteMultipart>,
    /// Bytes written.
    pub(crate) written: u64,
}

impl Upload {
    /// Starts the upload of `object`.
    pub(crate) fn start(object: &Object) -> Result<Upload> {
        let upload = block_on(object.store.put_multipart(&object.path)).map_err(|e| object.error("write", e))?;
        Ok(Upload {
            object: object.clone(),
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART)),
            written: 0,
        })
    }

    /// Completes the upload: the object appears, whole.
    pub(crate) fn complete(mut self) -> Result<u64> {
        let Some(writer) = self.writer.take() else {
            return Ok(self.written);
        };
        block_on(writer.finish()).map_err(|e| self.object.error("write", e))?;
        Ok(self.written)
    }

    fn io_error(&self, e: object_store::Error) -> std::io::Error {
        let Error::Io { source, .. } = self.object.error("write", e) else {
            return std::io::Error::other("upload failed");
        };
        source
    }
}

use crate::error::Error;

impl std::io::Write for Upload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(std::io::Error::other("the upload is over"));
        };
        {
            // Full parts start uploading as tasks of the store runtime.
            let _in_runtime = runtime().enter();
            writer.write(buf);
        }
        let waited = block_on(writer.wait_for_capacity(IN_FLIGHT));
        if let Err(e) = waited {
            return Err(self.io_error(e));
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = block_on(writer.abort());
        }
    }
}
