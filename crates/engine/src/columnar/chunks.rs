//! Columns kept in the batches that made them, and the split of a run's rows into
//! partitions and batches.
//!
//! A column computed by a DataFusion plan comes back as one array per batch. Copying
//! those into one array costs a pass over fresh memory per column (on 1,000,000 `i64`
//! rows that copy took longer than the three nodes that made the columns), so the engine
//! keeps them as they are: the next plan over the same rows reads the same batches, and
//! only a consumer that needs one array (a nested map's lists, `apply_to_batch`) joins
//! them.

use arrow::array::{Array, ArrayRef, new_empty_array};
use arrow::compute::concat;
use arrow::datatypes::DataType;

use crate::error::{Error, Result};

/// An Arrow column as consecutive arrays (chunks) holding its rows in order.
#[derive(Clone, Debug)]
pub(super) struct Chunks {
    arrays: Vec<ArrayRef>,
    /// `starts[k]` is the first row of chunk `k`; one more entry holds the row count.
    starts: Vec<usize>,
}

impl Chunks {
    /// A column in one array.
    pub(super) fn one(array: ArrayRef) -> Chunks {
        Chunks::new(vec![array])
    }

    /// A column from its chunks, in row order (none: an empty column of `data_type`).
    pub(super) fn from_arrays(arrays: Vec<ArrayRef>, data_type: &DataType) -> Chunks {
        if arrays.is_empty() {
            return Chunks::one(new_empty_array(data_type));
        }
        Chunks::new(arrays)
    }

    fn new(arrays: Vec<ArrayRef>) -> Chunks {
        let mut starts = Vec::with_capacity(arrays.len() + 1);
        let mut rows = 0;
        for a in &arrays {
            starts.push(rows);
            rows += a.len();
        }
        starts.push(rows);
        Chunks { arrays, starts }
    }

    /// The column with `f` applied to each chunk.
    pub(super) fn try_map(&self, f: impl FnMut(&ArrayRef) -> Result<ArrayRef>) -> Result<Chunks> {
        Ok(Chunks::new(self.arrays.iter().map(f).collect::<Result<_>>()?))
    }

    /// The number of rows.
    pub(super) fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    /// The Arrow type of the rows.
    pub(super) fn data_type(&self) -> &DataType {
        self.arrays[0].data_type()
    }

    /// The chunks, in row order.
    pub(super) fn arrays(&self) -> impl Iterator<Item = &dyn Array> {
        self.arrays.iter().map(|a| a.as_ref())
    }

    /// The chunk holding `row`, and the row's position in it.
    pub(super) fn locate(&self, row: usize) -> (&dyn Array, usize) {
        let k = self.chunk_of(row);
        (self.arrays[k].as_ref(), row - self.starts[k])
    }

    /// The row after the last of the chunk holding `row`.
    pub(super) fn chunk_end(&self, row: usize) -> usize {
        self.starts[self.chunk_of(row) + 1]
    }

    /// The last chunk starting at or before `row` (empty chunks hold no row).
    fn chunk_of(&self, row: usize) -> usize {
        self.starts[..self.arrays.len()].partition_point(|&s| s <= row) - 1
    }

    /// All rows as one array: the chunk itself when there is one, else a copy.
    pub(super) fn concat(&self) -> Result<ArrayRef> {
        match self.arrays.as_slice() {
            [one] => Ok(one.clone()),
            many => {
                let refs: Vec<&dyn Array> = many.iter().map(|a| a.as_ref()).collect();
                concat(&refs).map_err(too_large)
            }
        }
    }

    /// The rows `rows`, in that order, as one array (a copy).
    pub(super) fn take_rows(&self, rows: &[u32]) -> Result<ArrayRef> {
        let index: Vec<(usize, usize)> = rows
            .iter()
            .map(|&r| {
                let k = self.chunk_of(r as usize);
                (k, r as usize - self.starts[k])
            })
            .collect();
        let refs: Vec<&dyn Array> = self.arrays.iter().map(|a| a.as_ref()).collect();
        arrow::compute::interleave(&refs, &index).map_err(too_large)
    }

    /// Rows `start..start + len` as one array: a slice (no copy) when they lie in one
    /// chunk, else the pieces joined.
    pub(super) fn range(&self, start: usize, len: usize) -> Result<ArrayRef> {
        let first = self.chunk_of(start);
        let end = start + len;
        if end <= self.starts[first + 1] {
            return Ok(self.arrays[first].slice(start - self.starts[first], len));
        }
        let mut pieces = Vec::new();
        let mut k = first;
        while k < self.arrays.len() && self.starts[k] < end {
            let from = start.max(self.starts[k]) - self.starts[k];
            let to = end.min(self.starts[k + 1]) - self.starts[k];
            pieces.push(self.arrays[k].slice(from, to - from));
            k += 1;
        }
        let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
        concat(&refs).map_err(too_large)
    }
}

/// The error of joining chunks that outgrow one Arrow array (over 2 GiB of strings).
fn too_large(e: arrow::error::ArrowError) -> Error {
    Error::Arrow {
        context: "Cannot join a column's chunks into one array".into(),
        source: Box::new(e),
    }
}

/// How a run's rows are cut: into at most `partitions` partitions of consecutive rows,
/// each into batches of at most `batch_size` rows. Every plan over the same rows uses the
/// same cut, so the chunks one plan returns (whole batches) hold the batches the next
/// one reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Split {
    /// Per partition, its batches as (first row, rows).
    pub(super) partitions: Vec<Vec<(usize, usize)>>,
}

impl Split {
    /// The cut of `rows` rows: one partition below `min_per_partition` rows per
    /// partition, otherwise as many as fit, up to `partitions`.
    pub(super) fn new(rows: usize, partitions: usize, batch_size: usize, min_per_partition: usize) -> Split {
        let parts = if rows < min_per_partition {
            1
        } else {
            partitions.min(rows.div_ceil(min_per_partition)).max(1)
        };
        let per_part = rows.div_ceil(parts).max(1);
        let partitions = (0..parts)
            .map(|p| {
                let start = (p * per_part).min(rows);
                let end = (start + per_part).min(rows);
                (start..end)
                    .step_by(batch_size.max(1))
                    .map(|s| (s, batch_size.min(end - s)))
                    .collect()
            })
            .collect();
        Split { partitions }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int64Type;

    use super::*;

    fn ints(a: &dyn Array) -> Vec<i64> {
        a.as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn ranges_slice_within_a_chunk_and_join_across_chunks() {
        let chunk = |r: std::ops::Range<i64>| Arc::new(Int64Array::from_iter_values(r)) as ArrayRef;
        let c = Chunks::from_arrays(vec![chunk(0..3), chunk(3..5), chunk(5..9)], &DataType::Int64);
        assert_eq!(c.len(), 9);
        assert_eq!(ints(c.range(3, 2).unwrap().as_ref()), [3, 4]);
        assert_eq!(ints(c.range(1, 6).unwrap().as_ref()), [1, 2, 3, 4, 5, 6]);
        assert_eq!(ints(c.range(9, 0).unwrap().as_ref()), Vec::<i64>::new());
        assert_eq!(ints(c.concat().unwrap().as_ref()), (0..9).collect::<Vec<_>>());
        let (chunk, at) = c.locate(5);
        assert_eq!((ints(chunk), at), (vec![5, 6, 7, 8], 0));
        let empty = Chunks::from_arrays(Vec::new(), &DataType::Int64);
        assert_eq!((empty.len(), empty.data_type()), (0, &DataType::Int64));
    }

    #[test]
    fn splits_into_partitions_of_batches() {
        assert_eq!(
            Split::new(10, 4, 3, 100).partitions,
            [vec![(0, 3), (3, 3), (6, 3), (9, 1)]]
        );
        assert_eq!(
            Split::new(10, 2, 4, 5).partitions,
            [vec![(0, 4), (4, 1)], vec![(5, 4), (9, 1)]]
        );
        assert_eq!(Split::new(0, 2, 4, 5).partitions, [Vec::<(usize, usize)>::new()]);
    }
}
