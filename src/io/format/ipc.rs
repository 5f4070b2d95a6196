//! Reading an Arrow IPC file by its record batch blocks, each decoded by the worker
//! that takes it, as Parquet files are read by row group: the file's footer lists where
//! each block is, and each block's header how many rows it holds.
//!
//! The file is mapped into memory rather than read: the arrays decoded point into its
//! pages (Arrow's layout is the file's), so the columns not read are never touched and
//! nothing is copied. As with any mapped file (and as Polars and DuckDB read Arrow
//! files), the file must not be truncated while a run reads it.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::ipc::Block;
use arrow::ipc::reader::FileDecoder;

use super::{data, open_nonempty};
use crate::error::{Error, Result};

/// An Arrow IPC file's record batch blocks, any of which can be read on any thread.
pub(crate) struct IpcBlocks {
    path: PathBuf,
    /// The whole file, mapped.
    file: Buffer,
    /// Decodes a block's bytes, with the file's dictionaries, keeping the columns read.
    decoder: FileDecoder,
    /// Each block, with its rows.
    blocks: Vec<(Block, usize)>,
}

impl IpcBlocks {
    /// The blocks of the Arrow IPC file at `path`, to be read keeping the columns at
    /// `projection` (indices into the file's schema).
    pub(crate) fn open(path: &Path, projection: &[usize]) -> Result<IpcBlocks> {
        let file = open_nonempty(path, super::Format::Arrow)?;
        let bad = |e: &dyn std::fmt::Display| data(path, format!("not a readable Arrow IPC file ({e})"));
        // SAFETY: the map is read only and lives as long as the arrays that point into
        // it (the buffer owns it). A file truncated while mapped faults on access: the
        // module's documentation says it must not be changed during a run.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io(path, e))?;
        let file = Buffer::from(bytes::Bytes::from_owner(map));
        let size = file.len();
        // The end of the file: the footer's length, then the magic bytes.
        if size < 10 {
            return Err(bad(&"too short for an Arrow IPC file"));
        }
        let end: [u8; 10] = file[size - 10..].try_into().expect("10 bytes");
        let footer_len = arrow::ipc::reader::read_footer_length(end).map_err(|e| bad(&e))?;
        let footer_at = (size - 10)
            .checked_sub(footer_len)
            .ok_or_else(|| bad(&"its footer is longer than the file"))?;
        let footer = arrow::ipc::root_as_footer(&file[footer_at..size - 10]).map_err(|e| bad(&e))?;
        let schema = footer.schema().ok_or_else(|| bad(&"its footer has no schema"))?;
        let schema = std::sync::Arc::new(arrow::ipc::convert::fb_to_schema(schema));
        let mut decoder = FileDecoder::new(schema, footer.version()).with_projection(projection.to_vec());
        for block in footer.dictionaries().iter().flatten() {
            let buf = slice(&file, block).ok_or_else(|| bad(&"a dictionary block lies outside the file"))?;
            decoder.read_dictionary(block, &buf).map_err(|e| bad(&e))?;
        }
        let mut blocks = Vec::new();
        for block in footer.recordBatches().iter().flatten() {
            let header = slice(&file, block).ok_or_else(|| bad(&"a record batch block lies outside the file"))?;
            let header = &header[..block.metaDataLength().max(0) as usize];
            blocks.push((*block, block_rows(header).map_err(|e| bad(&e))?));
        }
        Ok(IpcBlocks {
            path: path.to_path_buf(),
            file,
            decoder,
            blocks,
        })
    }

    /// The rows of each block, in order.
    pub(crate) fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.blocks.iter().map(|(_, rows)| *rows)
    }

    /// Block `index`, read and decoded (the columns of the projection).
    pub(crate) fn read(&self, index: usize) -> Result<RecordBatch> {
        let (block, _) = &self.blocks[index];
        // Checked when the file was opened.
        let buf = slice(&self.file, block).expect("a block within the file");
        match self.decoder.read_record_batch(block, &buf) {
            Ok(Some(batch)) => Ok(batch),
            Ok(None) => Err(data(&self.path, format!("block {index} holds no record batch"))),
            Err(e) => Err(data(&self.path, format!("not a readable Arrow IPC file ({e})"))),
        }
    }
}

impl IpcBlocks {
    /// Every block in order, cut into batches of at most `batch_rows` rows (blocks
    /// without rows give none), on one thread.
    pub(crate) fn batches(self, batch_rows: usize) -> impl Iterator<Item = Result<RecordBatch>> + Send {
        let batch_rows = batch_rows.max(1);
        let (mut block, mut pending) = (0, None::<RecordBatch>);
        std::iter::from_fn(move || {
            loop {
                if let Some(b) = pending.take().filter(|b| b.num_rows() > 0) {
                    let n = b.num_rows().min(batch_rows);
                    if n < b.num_rows() {
                        pending = Some(b.slice(n, b.num_rows() - n));
                    }
                    return Some(Ok(b.slice(0, n)));
                }
                if block == self.blocks.len() {
                    return None;
                }
                block += 1;
                match self.read(block - 1) {
                    Ok(b) => pending = Some(b),
                    Err(e) => {
                        block = self.blocks.len();
                        return Some(Err(e));
                    }
                }
            }
        })
    }

    /// Gives the pages of block `index` back to the system once its batches are run:
    /// the run's memory holds the blocks being read rather than every block read so far.
    /// Its arrays still in use read their pages again from the file when touched.
    pub(crate) fn release(&self, index: usize) {
        #[cfg(unix)]
        self.advise(index, libc::MADV_DONTNEED);
        #[cfg(not(unix))]
        let _ = index;
    }

    /// `madvise(advice)` on the whole pages of block `index`; a system that does not
    /// take the advice changes nothing.
    #[cfg(unix)]
    fn advise(&self, index: usize, advice: libc::c_int) {
        let (block, _) = &self.blocks[index];
        let len = block.metaDataLength().max(0) as usize + block.bodyLength().max(0) as usize;
        let start = self.file.as_ptr() as usize + block.offset().max(0) as usize;
        #[allow(unsafe_code)]
        // SAFETY: `sysconf` reads a constant. The range is whole pages within the
        // block, which lies within the mapping (checked when the file was opened). The
        // mapping is of a file and read only: its pages dropped lose nothing (a later
        // access reads them again from the file).
        unsafe {
            let page = (libc::sysconf(libc::_SC_PAGESIZE).max(1)) as usize;
            let (from, to) = (start.next_multiple_of(page), (start + len) / page * page);
            if to > from {
                libc::madvise(from as *mut libc::c_void, to - from, advice);
            }
        }
    }
}

/// The rows of the record batch whose message header (the block's metadata: an
/// optional continuation marker, the header's length, the header) is `header`.
fn block_rows(header: &[u8]) -> std::result::Result<usize, String> {
    let skip = match header.get(..4) {
        Some([0xff, 0xff, 0xff, 0xff]) => 8,
        Some(_) => 4,
        None => return Err("a block's header is cut short".into()),
    };
    let message = arrow::ipc::root_as_message(header.get(skip..).unwrap_or_default()).map_err(|e| e.to_string())?;
    let batch = message
        .header_as_record_batch()
        .ok_or_else(|| "a block holds no record batch".to_string())?;
    usize::try_from(batch.length()).map_err(|_| format!("a block of {} rows", batch.length()))
}

/// A block's bytes (header and body) in `file`, `None` when they lie outside it.
fn slice(file: &Buffer, block: &Block) -> Option<Buffer> {
    let at = usize::try_from(block.offset()).ok()?;
    let len = usize::try_from(block.metaDataLength()).ok()? + usize::try_from(block.bodyLength()).ok()?;
    (at.checked_add(len)? <= file.len()).then(|| file.slice_with_length(at, len))
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    }
}
