//! A Parquet object read by ranges: its footer once ([`ParquetObject::metadata`]), then
//! each row group a worker takes as one request for the byte ranges of the column chunks
//! it reads ([`row_group_reader`]), decoded by the same reader as a local file's.

use std::ops::Range;

use arrow::array::RecordBatch;
use bytes::{Buf, Bytes};
use object_store::ObjectStoreExt;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};

use super::streams::Streams;
use super::{Object, block_on};
use crate::error::{Error, Result};

/// A Parquet object and its size.
pub(crate) struct ParquetObject {
    pub(crate) object: Object,
    pub(crate) size: u64,
    /// The row group whose requests were sent ahead, and their responses.
    ahead: std::sync::Mutex<Option<(usize, Streams)>>,
}

impl ParquetObject {
    /// The object at `object`, checked to exist (its size read).
    pub(crate) fn open(object: Object) -> Result<ParquetObject> {
        let size = object.size()?;
        Ok(ParquetObject {
            object,
            size,
            ahead: Default::default(),
        })
    }

    fn data(&self, message: String) -> Error {
        Error::Data {
            path: self.object.location.to_string().into(),
            message: message.into(),
        }
    }

    /// The footer: its last 64 KiB, and once more the rest when it is longer.
    pub(crate) fn metadata(&self) -> Result<ArrowReaderMetadata> {
        if self.size == 0 {
            return Err(self.data("the file is empty (0 bytes), not a Parquet file".into()));
        }
        let object = &self.object;
        let not = |e: ParquetError| self.data(format!("not a readable Parquet file ({e})"));
        let mut suffix = (64u64 << 10).min(self.size);
        loop {
            let start = self.size - suffix;
            let bytes = block_on(object.store.get_range(&object.path, start..self.size))
                .map_err(|e| object.error("read", e))?;
            let tail = Chunks {
                size: self.size,
                parts: vec![(start, bytes)],
            };
            let mut reader = ParquetMetaDataReader::new();
            match reader.try_parse_sized(&tail, self.size) {
                Ok(()) => {
                    let metadata = reader.finish().map_err(not)?;
                    return ArrowReaderMetadata::try_new(std::sync::Arc::new(metadata), ArrowReaderOptions::new())
                        .map_err(not);
                }
                Err(ParquetError::NeedMoreData(needed)) if (needed as u64) > suffix && (needed as u64) <= self.size => {
                    suffix = needed as u64;
                }
                Err(e) => return Err(not(e)),
            }
        }
    }

    /// The first rows (at most `rows`), every column, from the first row group.
    #[cfg(feature = "cli")]
    pub(crate) fn head(&self, rows: usize) -> Result<RecordBatch> {
        let metadata = self.metadata()?;
        let schema = metadata.schema().clone();
        if metadata.metadata().num_row_groups() == 0 {
            return Ok(RecordBatch::new_empty(schema));
        }
        let mask = ProjectionMask::all();
        let mut reader = row_group_reader(self, &metadata, 0, mask, rows.max(1), false)?;
        match reader.next() {
            Some(batch) => batch,
            None => Ok(RecordBatch::new_empty(schema)),
        }
    }
}

/// The reader of row group `index` of `file` (footer `metadata`), the columns of `mask`,
/// in batches of `batch_rows`: each column chunk it reads is one request, all sent at
/// once, whose response is read as the decoder reaches it ([`Streams`]). With `ahead`,
/// the requests of the row group after it are sent too, for whichever worker takes it
/// next (row groups are taken in order).
pub(crate) fn row_group_reader(
    file: &ParquetObject,
    metadata: &ArrowReaderMetadata,
    index: usize,
    mask: ProjectionMask,
    batch_rows: usize,
    ahead: bool,
) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
    let open = |index: usize| {
        let ranges: Vec<Range<u64>> = (metadata.metadata().row_group(index).columns().iter().enumerate())
            .filter(|(i, _)| mask.leaf_included(*i))
            .map(|(_, c)| {
                let (start, length) = c.byte_range();
                start..start + length
            })
            .collect();
        Streams::open(&file.object, file.size, ranges)
    };
    let streams = {
        let mut sent = file.ahead.lock().expect("row group ahead");
        let streams = match sent.take() {
            Some((at, streams)) if at == index => streams,
            _ => open(index),
        };
        if ahead && index + 1 < metadata.metadata().num_row_groups() {
            *sent = Some((index + 1, open(index + 1)));
        }
        streams
    };
    let failures = streams.clone();
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(streams, metadata.clone())
        .with_row_groups(vec![index])
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| failures.error(e))?;
    Ok(reader.map(move |batch| batch.map_err(|e| failures.error(e))))
}

/// Byte ranges of a file fetched into memory, read as the file.
struct Chunks {
    size: u64,
    /// Each range's start and bytes.
    parts: Vec<(u64, Bytes)>,
}

impl Chunks {
    /// The bytes from `start`: `length` of them, or to the end of its range.
    fn slice(&self, start: u64, length: Option<usize>) -> parquet::errors::Result<Bytes> {
        for (at, bytes) in &self.parts {
            if start >= *at && start < at + bytes.len() as u64 {
                let from = (start - at) as usize;
                let to = length.map_or(bytes.len(), |l| from + l);
                if to <= bytes.len() {
                    return Ok(bytes.slice(from..to));
                }
            }
        }
        // Unreachable: a row group's reader reads within its column chunks.
        Err(ParquetError::General(format!("bytes at {start} were not fetched")))
    }
}

impl Length for Chunks {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for Chunks {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}
