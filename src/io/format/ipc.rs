//! Reading an Arrow IPC file by its record batch blocks, each read and decoded by the
//! worker that takes it, as Parquet files are read by row group: the file's footer
//! lists where each block is, and each block's header how many rows it holds.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::buffer::{Buffer, MutableBuffer};
use arrow::ipc::Block;
use arrow::ipc::reader::FileDecoder;

use super::{data, open_nonempty};
use crate::error::{Error, Result};

/// An Arrow IPC file's record batch blocks, any of which can be read on any thread.
pub(crate) struct IpcBlocks {
    path: PathBuf,
    file: File,
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
        let size = file.metadata().map_err(|e| io(path, e))?.len();
        // The end of the file: the footer's length, then the magic bytes.
        let mut end = [0u8; 10];
        if size < 10 {
            return Err(bad(&"too short for an Arrow IPC file"));
        }
        read_at(&file, &mut end, size - 10).map_err(|e| io(path, e))?;
        let footer_len = arrow::ipc::reader::read_footer_length(end).map_err(|e| bad(&e))?;
        let footer_at = (size - 10)
            .checked_sub(footer_len as u64)
            .ok_or_else(|| bad(&"its footer is longer than the file"))?;
        let mut footer = vec![0u8; footer_len];
        read_at(&file, &mut footer, footer_at).map_err(|e| io(path, e))?;
        let footer = arrow::ipc::root_as_footer(&footer).map_err(|e| bad(&e))?;
        let schema = footer.schema().ok_or_else(|| bad(&"its footer has no schema"))?;
        let schema = std::sync::Arc::new(arrow::ipc::convert::fb_to_schema(schema));
        let mut decoder = FileDecoder::new(schema, footer.version()).with_projection(projection.to_vec());
        for block in footer.dictionaries().iter().flatten() {
            let buf = read_block(&file, block, path)?;
            decoder.read_dictionary(block, &buf).map_err(|e| bad(&e))?;
        }
        let mut blocks = Vec::new();
        for block in footer.recordBatches().iter().flatten() {
            let mut header = vec![0u8; block.metaDataLength().max(0) as usize];
            read_at(&file, &mut header, block.offset() as u64).map_err(|e| io(path, e))?;
            blocks.push((*block, block_rows(&header).map_err(|e| bad(&e))?));
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
        let buf = read_block(&self.file, block, &self.path)?;
        match self.decoder.read_record_batch(block, &buf) {
            Ok(Some(batch)) => Ok(batch),
            Ok(None) => Err(data(&self.path, format!("block {index} holds no record batch"))),
            Err(e) => Err(data(&self.path, format!("not a readable Arrow IPC file ({e})"))),
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

/// A block's bytes (header and body), in a buffer aligned as Arrow's arrays are, so
/// that the arrays decoded from it are not copied again.
fn read_block(file: &File, block: &Block, path: &Path) -> Result<Buffer> {
    let len = block.metaDataLength().max(0) as usize + block.bodyLength().max(0) as usize;
    let mut buf = MutableBuffer::from_len_zeroed(len);
    read_at(file, buf.as_slice_mut(), block.offset() as u64).map_err(|e| io(path, e))?;
    Ok(buf.into())
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    }
}

/// Fills `buf` from `file` at `offset`, without moving a shared position: any thread
/// can read any block at once.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
