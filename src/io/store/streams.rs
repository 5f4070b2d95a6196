//! The column chunks of a Parquet row group read from a store as streams.
//!
//! Each column chunk the reader needs is one ranged request, all sent at once when the
//! row group is opened; the decoder then takes each response's bytes as it reaches them,
//! one page at a time (its header through a reader, [`ChunkReader::get_read`], then its
//! bytes, [`ChunkReader::get_bytes`]). A response is read from the connection only as the
//! decoder needs it, so fetching overlaps decoding, and a column holds the bytes of the
//! page being decoded and what the connection has buffered, not its whole chunk.

use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use tokio::task::JoinHandle;

use super::{Object, block_on, runtime};
use crate::error::Error;

/// The bytes a response may hold on the client beside the page being decoded, about:
/// the connection's buffers (the rest waits on the server, held back by the connection's
/// flow control).
pub(crate) const BUFFERED: u64 = 1 << 20;

/// What one worker reading row groups of the file of `metadata` holds beside its
/// batches, about: for each column chunk of the columns at `roots` (root indices), a
/// compressed page (a page is decoded whole; taken as 1 MiB, the writers' usual page
/// size, or the largest chunk of the column when smaller, as the footer does not give
/// page sizes) and the response's buffers.
pub(crate) fn held(metadata: &ArrowReaderMetadata, roots: &[usize]) -> u64 {
    let schema = metadata.metadata().file_metadata().schema_descr();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&leaf| roots.contains(&schema.get_column_root_idx(leaf)))
        .collect();
    let groups = metadata.metadata().row_groups();
    leaves
        .iter()
        .map(|&leaf| {
            let chunk = groups
                .iter()
                .map(|g| g.column(leaf).compressed_size().max(0) as u64)
                .max();
            chunk.unwrap_or(0).min(BUFFERED) + BUFFERED
        })
        .sum()
}

/// The column chunks of one row group of an object, each read as a stream.
#[derive(Clone)]
pub(crate) struct Streams {
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

/// A column chunk and its response.
struct Column {
    range: Range<u64>,
    body: Mutex<Body>,
}

/// A response being read: the bytes received and not yet passed, from byte `at` of the
/// file on, and the rest to come.
struct Body {
    at: u64,
    received: VecDeque<Bytes>,
    /// The bytes in `received`.
    buffered: usize,
    rest: Rest,
}

/// The rest of a response: the request on its way, then the body.
enum Rest {
    Sent(JoinHandle<object_store::Result<BoxStream<'static, object_store::Result<Bytes>>>>),
    Body(BoxStream<'static, object_store::Result<Bytes>>),
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Rest::Sent(request) = &self.rest {
            request.abort();
        }
    }
}

impl Streams {
    /// The column chunks at `ranges` of `object` (`size` bytes), one request each, all
    /// sent at once (without waiting for the responses: a failed request is the error of
    /// the first read, naming the object).
    pub(crate) fn open(object: &Object, size: u64, mut ranges: Vec<Range<u64>>) -> Streams {
        ranges.sort_by_key(|r| r.start);
        let columns = ranges
            .into_iter()
            .map(|range| {
                let (store, path) = (object.store.clone(), object.path.clone());
                let options = GetOptions::default().with_range(Some(range.clone()));
                let request =
                    runtime().spawn(async move { store.get_opts(&path, options).await.map(|got| got.into_stream()) });
                Column {
                    body: Mutex::new(Body {
                        at: range.start,
                        received: VecDeque::new(),
                        buffered: 0,
                        rest: Rest::Sent(request),
                    }),
                    range,
                }
            })
            .collect();
        Streams {
            inner: Arc::new(Inner {
                object: object.clone(),
                size,
                columns,
                failure: Mutex::new(None),
            }),
        }
    }

    /// The decoder's error `e` as this crate's error: the failed read behind it (which
    /// names the object), or its words.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> Error {
        let failure = self.inner.failure.lock().expect("streams").take();
        failure.unwrap_or_else(|| Error::Data {
            path: self.inner.object.location.to_string().into(),
            message: format!("cannot read ({e})").into(),
        })
    }
}

impl Body {
    /// Passes the bytes before `start`, then has at least `length` bytes from `start`
    /// received (fewer only where the column chunk ends).
    fn receive(&mut self, object: &Object, start: u64, length: usize) -> parquet::errors::Result<()> {
        let mut skip = start.saturating_sub(self.at);
        while skip > 0 {
            let Some(front) = self.received.front_mut() else {
                self.pull(object)?;
                continue;
            };
            let n = skip.min(front.len() as u64);
            front.advance(n as usize);
            if front.is_empty() {
                self.received.pop_front();
            }
            self.at += n;
            self.buffered -= n as usize;
            skip -= n;
        }
        while self.buffered < length {
            if !self.pull(object)? {
                break;
            }
        }
        Ok(())
    }

    /// Takes the next bytes of the response; false when it is over.
    fn pull(&mut self, object: &Object) -> parquet::errors::Result<bool> {
        if let Rest::Sent(request) = &mut self.rest {
            match block_on(request) {
                Ok(response) => self.rest = Rest::Body(response.map_err(|e| read_failed(object, e))?),
                // Unreachable short of a panic in the store's client.
                Err(e) => return Err(ParquetError::General(format!("a read of the object failed ({e})"))),
            }
        }
        let Rest::Body(body) = &mut self.rest else {
            return Ok(false);
        };
        match block_on(body.next()) {
            Some(Ok(bytes)) => {
                self.buffered += bytes.len();
                self.received.push_back(bytes);
                Ok(true)
            }
            Some(Err(e)) => Err(read_failed(object, e)),
            None => Ok(false),
        }
    }

    /// The `length` bytes from `at` (received): a slice of one piece, or the pieces
    /// copied together.
    fn exactly(&self, length: usize) -> parquet::errors::Result<Bytes> {
        let front = self.received.front().cloned().unwrap_or_default();
        if front.len() >= length {
            return Ok(front.slice(..length));
        }
        let mut joined = BytesMut::with_capacity(length);
        for piece in &self.received {
            let n = piece.len().min(length - joined.len());
            joined.extend_from_slice(&piece[..n]);
            if joined.len() == length {
                return Ok(joined.freeze());
            }
        }
        // Unreachable: the store sends the whole range or fails.
        Err(ParquetError::EOF(format!(
            "the column chunk ended {} bytes early",
            length - joined.len()
        )))
    }
}

/// A failed read of `object` as the decoder's error, carrying this crate's (which names
/// the object; see [`Inner::keep`]).
fn read_failed(object: &Object, e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(object.error("read", e)))
}

/// The bytes at `range` of `object`, passed already: fetched again (not done by the
/// Parquet reader, which reads each column chunk front to back).
fn fetch_again(object: &Object, range: Range<u64>) -> parquet::errors::Result<Bytes> {
    block_on(object.store.get_range(&object.path, range)).map_err(|e| read_failed(object, e))
}

impl Column {
    /// The bytes `start..start + length` of the file, within this column chunk. The
    /// decoder reads a chunk front to back: the bytes before `start` are passed.
    fn bytes(&self, object: &Object, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut body = self.body.lock().expect("streams");
        if start < body.at {
            return fetch_again(object, start..start + length as u64);
        }
        body.receive(object, start, length)?;
        body.exactly(length)
    }

    /// The bytes received from `start` on: at least one unless the chunk ends there.
    fn some(&self, object: &Object, start: u64) -> parquet::errors::Result<Bytes> {
        let mut body = self.body.lock().expect("streams");
        if start < body.at {
            return fetch_again(object, start..self.range.end.min(start + 64 * 1024));
        }
        body.receive(object, start, 1)?;
        Ok(body.received.front().cloned().unwrap_or_default())
    }
}

impl Inner {
    /// The column chunk that holds byte `at`.
    fn column(&self, at: u64) -> parquet::errors::Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.range.contains(&at))
            // Unreachable: the reader reads within the column chunks it was given.
            .ok_or_else(|| ParquetError::General(format!("bytes at {at} are outside the column chunks read")))
    }

    /// `read`, its failure kept as this crate's error for [`Streams::error`].
    fn keep(&self, read: parquet::errors::Result<Bytes>) -> parquet::errors::Result<Bytes> {
        read.map_err(|e| match e {
            ParquetError::External(inner) => match inner.downcast::<Error>() {
                Ok(error) => {
                    let words = error.to_string();
                    self.failure.lock().expect("streams").get_or_insert(*error);
                    ParquetError::General(words)
                }
                Err(other) => ParquetError::External(other),
            },
            other => other,
        })
    }
}

impl Length for Streams {
    fn len(&self) -> u64 {
        self.inner.size
    }
}

impl ChunkReader for Streams {
    type T = PageRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<PageRead> {
        self.inner.column(start)?;
        Ok(PageRead {
            inner: self.inner.clone(),
            at: start,
            buffer: Bytes::new(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let inner = &self.inner;
        inner.keep(inner.column(start)?.bytes(&inner.object, start, length))
    }
}

/// A column chunk read from a place on (a page's header). It passes nothing: the page's
/// bytes, asked for next, are still there.
pub(crate) struct PageRead {
    inner: Arc<Inner>,
    /// The next byte to take from the response.
    at: u64,
    /// The bytes taken and not yet read.
    buffer: Bytes,
}

impl Read for PageRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if !self.buffer.has_remaining() {
            let Ok(column) = self.inner.column(self.at) else {
                return Ok(0);
            };
            let some = column.some(&self.inner.object, self.at);
            self.buffer = self.inner.keep(some).map_err(std::io::Error::other)?;
            self.at += self.buffer.len() as u64;
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
    use object_store::chunked::ChunkedStore;
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::WriterProperties;

    use super::super::parquet::{ParquetObject, row_group_reader};
    use super::super::{Object, block_on};
    use super::BUFFERED;
    use crate::io::Location;

    /// A Parquet file of one row group whose text column chunk is many times what a
    /// response buffers, in pages of 1 MiB (uncompressed).
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
        // Responses come in pieces of 64 KiB, as from a connection: pages span pieces.
        let store: Arc<dyn ObjectStore> = Arc::new(ChunkedStore::new(Arc::new(InMemory::new()), 64 << 10));
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
    fn a_row_group_streamed_is_the_row_group_read_whole() {
        let bytes = file();
        let whole = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
        let text_chunk = whole.metadata().row_group(0).column(1).byte_range().1;
        assert!(text_chunk > 8 * BUFFERED, "{text_chunk}");
        let schema = whole.schema().clone();
        let expected: Vec<RecordBatch> = whole.build().unwrap().map(Result::unwrap).collect();
        let expected = concat_batches(&schema, &expected).unwrap();

        let parquet = object(bytes);
        let metadata = parquet.metadata().unwrap();
        let read: Vec<RecordBatch> = row_group_reader(&parquet, &metadata, 0, ProjectionMask::all(), 7000, false)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(read.len(), 43);
        assert_eq!(concat_batches(&schema, &read).unwrap(), expected);
    }

    #[test]
    fn a_row_group_of_an_object_gone_is_one_error_naming_it() {
        let parquet = object(file());
        let metadata = parquet.metadata().unwrap();
        block_on(parquet.object.store.delete(&parquet.object.path)).unwrap();
        // The requests go out when the reader is made; the first read meets the failure.
        let error = match row_group_reader(&parquet, &metadata, 0, ProjectionMask::all(), 7000, false) {
            Ok(mut batches) => batches.find_map(Result::err).unwrap(),
            Err(e) => e,
        };
        assert_eq!(
            error.to_string(),
            "Cannot read 's3://bucket/data.parquet': no such object"
        );
    }
}
