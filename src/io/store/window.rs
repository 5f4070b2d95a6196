//! The column chunks of a Parquet row group read from a store window by window.
//!
//! The decoder asks for one page at a time: its header through a reader
//! ([`ChunkReader::get_read`]), then its bytes ([`ChunkReader::get_bytes`]). Each column
//! chunk is fetched in windows of at most [`WINDOW`] bytes: the first window of every
//! chunk at once when the row group is opened, and each next window while the decoder
//! is still in the one before. Fetching overlaps decoding, and a column holds at most two
//! windows (the one the decoder is in and the next), not its whole chunk.

use std::io::Read;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use tokio::task::JoinHandle;

use super::{Object, block_on, runtime};
use crate::error::{Error, Result};

/// The most bytes of a column chunk one request fetches: a column being read holds at
/// most two windows.
pub(crate) const WINDOW: u64 = 2 << 20;

/// What one worker reading row groups of the file of `metadata` holds in windows, at
/// most: two windows of each column chunk of the columns at `roots` (root indices).
pub(crate) fn held(metadata: &ArrowReaderMetadata, roots: &[usize]) -> u64 {
    let schema = metadata.metadata().file_metadata().schema_descr();
    let chunks = (0..schema.num_columns())
        .filter(|&leaf| roots.contains(&schema.get_column_root_idx(leaf)))
        .count();
    chunks as u64 * 2 * WINDOW
}

/// The column chunks of one row group of an object, read window by window.
#[derive(Clone)]
pub(crate) struct Windows {
    inner: Arc<Inner>,
}

struct Inner {
    object: Object,
    /// The object's size.
    size: u64,
    /// The column chunks read, in file order.
    columns: Vec<Column>,
    /// The first failed read, as this crate's error (the decoder's error keeps only its
    /// words).
    failure: Mutex<Option<Error>>,
}

/// A column chunk and its windows in memory.
struct Column {
    range: Range<u64>,
    fetched: Mutex<Fetched>,
}

/// A window being fetched: its range and the request.
type Pending = (Range<u64>, JoinHandle<object_store::Result<Bytes>>);

/// A column's windows in memory: the one the decoder is in, and the next (fetched or on
/// its way).
#[derive(Default)]
struct Fetched {
    current: Option<(Range<u64>, Bytes)>,
    next: Option<Pending>,
}

impl Windows {
    /// The column chunks at `ranges` of `object` (`size` bytes), the first window of each
    /// fetched at once (all requests together); an error names the object.
    pub(crate) fn open(object: &Object, size: u64, ranges: Vec<Range<u64>>) -> Result<Windows> {
        let mut columns: Vec<Column> = ranges
            .into_iter()
            .map(|range| Column {
                range,
                fetched: Mutex::new(Fetched::default()),
            })
            .collect();
        columns.sort_by_key(|c| c.range.start);
        for column in &columns {
            let first = column.window(column.range.start);
            column.fetched.lock().expect("windows").next = Some(fetch(object, first));
        }
        for column in &columns {
            column
                .bytes(object, column.range.start, 0)
                .map_err(|e| as_error(object, e))?;
        }
        Ok(Windows {
            inner: Arc::new(Inner {
                object: object.clone(),
                size,
                columns,
                failure: Mutex::new(None),
            }),
        })
    }
}

impl Windows {
    /// The decoder's error `e` as this crate's error: the failed read behind it (which
    /// names the object), or its words.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> Error {
        let failure = self.inner.failure.lock().expect("windows").take();
        failure.unwrap_or_else(|| data(&self.inner.object, e.to_string()))
    }
}

/// Starts fetching `range` of `object` on the store runtime.
fn fetch(object: &Object, range: Range<u64>) -> Pending {
    let (store, path) = (object.store.clone(), object.path.clone());
    let request = range.clone();
    let task = runtime().spawn(async move { store.get_range(&path, request).await });
    (range, task)
}

/// A failed read as the decoder's error, which carries this crate's error (naming the
/// object) inside.
fn read_error(object: &Object, e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(object.error("read", e)))
}

/// The decoder's error `e` as this crate's error: the one it carries, or its words.
fn as_error(object: &Object, e: ParquetError) -> Error {
    match e {
        ParquetError::External(inner) => match inner.downcast::<Error>() {
            Ok(error) => *error,
            Err(other) => data(object, other.to_string()),
        },
        other => data(object, other.to_string()),
    }
}

fn data(object: &Object, message: String) -> Error {
    Error::Data {
        path: object.location.to_string().into(),
        message: format!("cannot read ({message})").into(),
    }
}

impl Column {
    /// The window that holds byte `at` of the file (within this column chunk).
    fn window(&self, at: u64) -> Range<u64> {
        let start = self.range.start + (at - self.range.start) / WINDOW * WINDOW;
        start..(start + WINDOW).min(self.range.end)
    }

    /// The bytes `start..start + length` of the file, within this column chunk: from the
    /// window that holds them (or the windows, copied together, for a page that crosses
    /// into the next).
    fn bytes(&self, object: &Object, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let end = start + length as u64;
        let mut fetched = self.fetched.lock().expect("windows");
        let mut joined: Option<BytesMut> = None;
        let mut at = start;
        loop {
            let window = self.window(at);
            let bytes = fetched.get(object, &window, self.range.end)?;
            let piece = bytes.slice((at - window.start) as usize..(end.min(window.end) - window.start) as usize);
            if end <= window.end {
                return Ok(match joined {
                    None => piece,
                    Some(mut joined) => {
                        joined.extend_from_slice(&piece);
                        joined.freeze()
                    }
                });
            }
            joined
                .get_or_insert_with(|| BytesMut::with_capacity(length))
                .extend_from_slice(&piece);
            at = window.end;
        }
    }
}

impl Fetched {
    /// The bytes of `window`, which becomes the current one (the one before is dropped),
    /// with the window after it (up to `end`) on its way.
    fn get(&mut self, object: &Object, window: &Range<u64>, end: u64) -> parquet::errors::Result<Bytes> {
        if let Some((range, bytes)) = &self.current
            && range == window
        {
            return Ok(bytes.clone());
        }
        let bytes = match self.next.take() {
            Some((range, task)) if range == *window => match block_on(task) {
                Ok(fetched) => fetched.map_err(|e| read_error(object, e))?,
                // Unreachable short of a panic in the store's client.
                Err(e) => return Err(ParquetError::General(format!("a read of the object failed ({e})"))),
            },
            other => {
                // The decoder went elsewhere than the next window (not done by the
                // Parquet reader, which reads each chunk front to back).
                if let Some((_, task)) = other {
                    task.abort();
                }
                block_on(object.store.get_range(&object.path, window.clone())).map_err(|e| read_error(object, e))?
            }
        };
        self.current = Some((window.clone(), bytes.clone()));
        if window.end < end {
            let after = window.end..(window.end + WINDOW).min(end);
            self.next = Some(fetch(object, after));
        }
        Ok(bytes)
    }
}

impl Drop for Fetched {
    fn drop(&mut self) {
        if let Some((_, task)) = self.next.take() {
            task.abort();
        }
    }
}

impl Inner {
    /// `read`, its failure kept as this crate's error for [`Windows::error`].
    fn keep(&self, read: parquet::errors::Result<Bytes>) -> parquet::errors::Result<Bytes> {
        read.map_err(|e| match e {
            ParquetError::External(inner) => match inner.downcast::<Error>() {
                Ok(error) => {
                    let words = error.to_string();
                    self.failure.lock().expect("windows").get_or_insert(*error);
                    ParquetError::General(words)
                }
                Err(other) => ParquetError::External(other),
            },
            other => other,
        })
    }

    /// The column chunk that holds byte `at`.
    fn column(&self, at: u64) -> parquet::errors::Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.range.contains(&at))
            // Unreachable: the reader reads within the column chunks it was given.
            .ok_or_else(|| ParquetError::General(format!("bytes at {at} are outside the column chunks read")))
    }
}

impl Length for Windows {
    fn len(&self) -> u64 {
        self.inner.size
    }
}

impl ChunkReader for Windows {
    type T = PageRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<PageRead> {
        let end = self.inner.column(start)?.range.end;
        Ok(PageRead {
            inner: self.inner.clone(),
            at: start,
            end,
            buffer: Bytes::new(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let inner = &self.inner;
        inner.keep(inner.column(start)?.bytes(&inner.object, start, length))
    }
}

/// A column chunk read from a place on (a page's header), a window at a time.
pub(crate) struct PageRead {
    inner: Arc<Inner>,
    /// The next byte to take from the windows, and the end of the column chunk.
    at: u64,
    end: u64,
    /// The bytes taken and not yet read.
    buffer: Bytes,
}

impl Read for PageRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if !self.buffer.has_remaining() {
            if self.at >= self.end {
                return Ok(0);
            }
            let column = self.inner.column(self.at).map_err(std::io::Error::other)?;
            let to = column.window(self.at).end;
            let bytes = column.bytes(&self.inner.object, self.at, (to - self.at) as usize);
            self.buffer = self.inner.keep(bytes).map_err(std::io::Error::other)?;
            self.at = to;
        }
        let n = out.len().min(self.buffer.remaining());
        self.buffer.copy_to_slice(&mut out[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::compute::concat_batches;
    use bytes::Bytes;
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;

    use super::super::parquet::{ParquetObject, row_group_reader};
    use super::super::{Object, block_on};
    use super::WINDOW;
    use crate::io::Location;

    /// A Parquet file of one row group whose text column chunk spans five windows, its
    /// pages (uncompressed, 1 MiB) crossing from one window into the next.
    fn file() -> Bytes {
        let rows = 300_000;
        let ids = Int64Array::from_iter_values(0..rows);
        let texts =
            StringArray::from_iter_values((0..rows).map(|i| format!("row {i:>8} of the text column, {}", i * 7)));
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(ids) as arrow::array::ArrayRef),
            ("text", Arc::new(texts) as arrow::array::ArrayRef),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(rows as usize))
            .build();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        Bytes::from(out)
    }

    fn object(bytes: Bytes) -> ParquetObject {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = ObjectPath::from("data.parquet");
        block_on(store.put(&path, bytes.into())).unwrap();
        let object = Object {
            location: Location::parse("s3://bucket/data.parquet"),
            store,
            path,
        };
        ParquetObject::open(object).unwrap()
    }

    #[test]
    fn a_row_group_read_window_by_window_is_the_row_group_read_whole() {
        let bytes = file();
        let whole = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
        let text_chunk = whole.metadata().row_group(0).column(1).byte_range().1;
        assert!(text_chunk > 4 * WINDOW, "{text_chunk}");
        let schema = whole.schema().clone();
        let expected: Vec<RecordBatch> = whole.build().unwrap().map(Result::unwrap).collect();
        let expected = concat_batches(&schema, &expected).unwrap();

        let parquet = object(bytes);
        let metadata = parquet.metadata().unwrap();
        let read: Vec<RecordBatch> = row_group_reader(&parquet, &metadata, 0, ProjectionMask::all(), 7000)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read.len(), 43);
        assert_eq!(concat_batches(&schema, &read).unwrap(), expected);
    }

    #[test]
    fn a_window_that_cannot_be_fetched_fails_the_read_naming_the_object() {
        let parquet = object(file());
        let metadata = parquet.metadata().unwrap();
        let mut batches = row_group_reader(&parquet, &metadata, 0, ProjectionMask::all(), 7000).unwrap();
        // The first window of each column was fetched when the reader was made; the
        // third of the text column is asked for only once the second is read.
        block_on(parquet.object.store.delete(&parquet.object.path)).unwrap();
        let error = batches.find_map(Result::err).unwrap();
        assert_eq!(
            error.to_string(),
            "Cannot read 's3://bucket/data.parquet': no such object"
        );
    }
}
