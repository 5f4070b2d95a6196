//! A run of a Parquet file's row groups as a table: a cluster run splits each input file
//! into such ranges, one job each, and writes the jobs' rows one after the other, so the
//! output keeps the input's order (a job of several partitions returns them in the order
//! they finish).

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_plan::ExecutionPlan;
use parquet::file::metadata::ParquetMetaData;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::Location;

/// What starts a [`FileRange`]'s encoding in a plan (other tables are Ballista's).
const MAGIC: &[u8] = b"hypernodes-file-range:";

/// The row groups of a Parquet file whose first page starts within `bytes`: a table
/// that scans just them, in one partition.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FileRange {
    /// The file's store: `file://` for a local file, `s3://bucket` (scheme and bucket or
    /// host, never credentials) for an object, whose store each executor makes from its
    /// own environment.
    store: String,
    /// The file's path in its store (its absolute path, or the object's key).
    path: String,
    /// The file's size in bytes.
    size: u64,
    bytes: Range<i64>,
    #[serde(skip, default = "empty_schema")]
    schema: SchemaRef,
}

fn empty_schema() -> SchemaRef {
    Arc::new(arrow::datatypes::Schema::empty())
}

impl FileRange {
    /// `file` (an absolute path or an object's URL, of `size` bytes, with `metadata` and
    /// Arrow `schema`) cut into at most `parts` ranges of about as many rows, each whole
    /// row groups: the ranges, in file order, with the rows each holds. A file without
    /// row groups is one range.
    pub(crate) fn split(
        file: &Location,
        size: u64,
        metadata: &ParquetMetaData,
        schema: SchemaRef,
        parts: usize,
    ) -> Result<Vec<(FileRange, Range<usize>)>> {
        let (store, path) = place(file)?;
        let groups: Vec<(i64, usize)> = metadata
            .row_groups()
            .iter()
            .map(|rg| {
                let col = rg.column(0);
                let start = col.dictionary_page_offset().unwrap_or_else(|| col.data_page_offset());
                (start, rg.num_rows().max(0) as usize)
            })
            .collect();
        let total: usize = groups.iter().map(|(_, rows)| rows).sum();
        let range = |bytes: Range<i64>| FileRange {
            store: store.clone(),
            path: path.clone(),
            size,
            bytes,
            schema: schema.clone(),
        };
        // Cut before the row group at which the rows so far reach the next share.
        let parts = parts.max(1);
        let mut cuts = vec![(0i64, 0usize)];
        let mut rows = 0;
        for (k, &(start, n)) in groups.iter().enumerate() {
            if k > 0 && rows * parts >= total * cuts.len() && cuts.len() < parts {
                cuts.push((start, rows));
            }
            rows += n;
        }
        cuts.push((size as i64, total));
        Ok(cuts
            .windows(2)
            .map(|w| (range(w[0].0..w[1].0), w[0].1..w[1].1))
            .collect())
    }

    /// The encoding of `table` when it is a [`FileRange`] (`None` for any other table).
    pub(crate) fn encode(table: &Arc<dyn TableProvider>) -> Option<DfResult<Vec<u8>>> {
        let any: &dyn Any = table.as_ref();
        let range = any.downcast_ref::<FileRange>()?;
        let mut buf = MAGIC.to_vec();
        // Unreachable: a path, a size and a range serialize.
        Some(
            serde_json::to_writer(&mut buf, range)
                .map(|()| buf)
                .map_err(|e| DataFusionError::Internal(e.to_string())),
        )
    }

    /// The [`FileRange`] encoded in `buf` with `schema` (`None` for any other table).
    pub(crate) fn decode(buf: &[u8], schema: SchemaRef) -> Option<DfResult<Arc<dyn TableProvider>>> {
        let json = buf.strip_prefix(MAGIC)?;
        Some(
            serde_json::from_slice::<FileRange>(json)
                .map(|range| Arc::new(FileRange { schema, ..range }) as Arc<dyn TableProvider>)
                .map_err(|e| DataFusionError::Plan(format!("a file range did not decode: {e}"))),
        )
    }
}

#[async_trait]
impl TableProvider for FileRange {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let source = Arc::new(ParquetSource::new(self.schema.clone()));
        let mut file = PartitionedFile::new_with_range(String::new(), self.size, self.bytes.start, self.bytes.end);
        file.object_meta.location = ObjectPath::parse(&self.path)
            .map_err(|e| DataFusionError::Plan(format!("a file range's path did not decode: {e}")))?;
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(&self.store)?, source)
            .with_file(file)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// The store (`file://`, or a URL's scheme and host) and the path in it of `file`.
fn place(file: &Location) -> Result<(String, String)> {
    let invalid = |e: &dyn std::fmt::Display| Error::Invalid(format!("Cannot use '{file}': {e}"));
    match (file.as_path(), file.url()) {
        (Some(path), _) => Ok((
            ObjectStoreUrl::local_filesystem().as_str().to_string(),
            ObjectPath::from(path.display().to_string()).to_string(),
        )),
        (None, Some(url)) => {
            let store = format!(
                "{}://{}",
                url.scheme(),
                &url[url::Position::BeforeHost..url::Position::AfterPort]
            );
            let path = ObjectPath::from_url_path(url.path()).map_err(|e| invalid(&e))?;
            Ok((store, path.to_string()))
        }
        // Unreachable: a location is a path or a URL.
        (None, None) => Err(Error::Internal(format!("'{file}' is neither a path nor a URL"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of each range `rows` generated rows in row groups of `group` split into
    /// `parts`, after checking that the byte ranges tile the file.
    fn split(rows: usize, group: usize, parts: usize) -> Vec<Range<usize>> {
        let dir = std::env::temp_dir().join(format!("hn-range-{}-{rows}-{group}-{parts}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("docs.parquet");
        let batch = crate::datagen::docs_block(rows, 7, 0);
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), Some(props))
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let reader = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader).clone();
        let ranges = FileRange::split(&Location::local(&path), size, &metadata, batch.schema(), parts).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(ranges.first().unwrap().0.bytes.start, 0);
        assert_eq!(ranges.last().unwrap().0.bytes.end, size as i64);
        for w in ranges.windows(2) {
            assert_eq!(w[0].0.bytes.end, w[1].0.bytes.start);
        }
        ranges.into_iter().map(|(_, rows)| rows).collect()
    }

    #[test]
    fn files_split_into_ranges_of_whole_row_groups_with_about_equal_rows() {
        assert_eq!(split(12_000, 1_000, 3), [0..4_000, 4_000..8_000, 8_000..12_000]);
        assert_eq!(
            split(12_000, 1_000, 5),
            [0..3_000, 3_000..5_000, 5_000..8_000, 8_000..10_000, 10_000..12_000]
        );
        assert_eq!(split(2_500, 1_000, 8), [0..1_000, 1_000..2_000, 2_000..2_500]);
        assert_eq!(split(900, 1_000, 4), vec![Range { start: 0, end: 900 }]);
        assert_eq!(split(0, 1_000, 4), vec![Range { start: 0, end: 0 }]);
    }

    #[test]
    fn an_object_is_named_by_its_store_and_key_without_credentials() {
        let place = |text: &str| place(&Location::from(text).with_option("aws_secret_access_key", "s")).unwrap();
        assert_eq!(
            place("s3://key:secret@bucket/in/a%20b.parquet"),
            ("s3://bucket".to_string(), "in/a b.parquet".to_string())
        );
        assert_eq!(
            place("http://127.0.0.1:9000/docs.parquet"),
            ("http://127.0.0.1:9000".to_string(), "docs.parquet".to_string())
        );
        assert_eq!(
            place("/tmp/docs.parquet"),
            ("file:///".to_string(), "tmp/docs.parquet".to_string())
        );
    }
}
