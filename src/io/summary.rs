//! What a file run did: its [`RunSummary`], counted batch by batch as they are written,
//! with the checksum of the values written, summed exactly.

use super::Location;
use std::time::Duration;

use arrow::array::RecordBatch;

use crate::cache::CacheReport;

/// What a [`FileRun`](super::FileRun) did. Displayed, the summary line of
/// `hypernodes run`; a run that collected failures says how many rows failed and where
/// they went before the checksum (`...; 3 failed rows -> failed.parquet; checksum: ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Rows read.
    pub rows_in: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Batches processed.
    pub batches: u64,
    /// Output files written.
    pub files: Vec<Location>,
    /// Bytes written, over all output files (not the side files of failed rows).
    pub bytes_out: u64,
    /// Rows that failed, under [`OnError::Collect`](crate::exec::OnError::Collect)
    /// (written to the side files, not to the output; counted in `rows_in`, not in
    /// `rows_out`).
    pub failed_rows: u64,
    /// The side files of failed rows written (see
    /// [`FileRun::with_failed`](super::FileRun::with_failed)); empty unless the run
    /// collected failures.
    pub failed_files: Vec<Location>,
    /// The most memory held at once by batches in flight and the writer's buffer, in
    /// bytes (Arrow buffer sizes; the limit applies to this figure).
    pub peak_memory: u64,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The checksum of `WORKLOADS.md` over the columns written: the sum of every
    /// integer value...
    pub int_sum: i128,
    /// ... and the sum of every float value (print it rounded to 6 decimals), summed
    /// exactly: the same whatever the order of the rows.
    pub float_sum: f64,
    /// The exact sum of the floats so far.
    floats: FloatSum,
    /// What the cache did, per node, when the run had one (see
    /// [`RunConfig::with_cache`](crate::exec::RunConfig::with_cache)); displayed as
    /// `cache: NODE H hits M misses, ...; ` before the checksum.
    pub cache: Option<CacheReport>,
    /// What an incremental run did with its files (see
    /// [`FileRun::with_state`](super::FileRun::with_state)): which it computed, skipped
    /// and removed the outputs of; displayed as `files: C computed, S skipped, R
    /// removed; ` before the cache. The other counts are of the files computed.
    pub incremental: Option<super::Incremental>,
}

impl RunSummary {
    /// Rows read per second of wall time.
    pub fn rows_per_sec(&self) -> f64 {
        self.rows_in as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl RunSummary {
    /// The summary of a run that has done nothing yet.
    pub(super) fn empty() -> RunSummary {
        RunSummary {
            rows_in: 0,
            rows_out: 0,
            batches: 0,
            files: Vec::new(),
            bytes_out: 0,
            failed_rows: 0,
            failed_files: Vec::new(),
            peak_memory: 0,
            elapsed: Duration::ZERO,
            int_sum: 0,
            float_sum: 0.0,
            floats: FloatSum::default(),
            cache: None,
            incremental: None,
        }
    }

    /// Counts a batch written: `batch`, the rows written, and `failed_rows` rows of its
    /// input that failed (written to the side file); adds `batch` to the checksum.
    pub(super) fn add_batch(&mut self, batch: &RecordBatch, failed_rows: u64) {
        self.rows_in += batch.num_rows() as u64 + failed_rows;
        self.rows_out += batch.num_rows() as u64;
        self.failed_rows += failed_rows;
        self.batches += 1;
        checksum(batch, self);
    }

    /// Sets `float_sum` to the exact sum of the floats added, rounded once.
    pub(super) fn total_floats(&mut self) {
        self.float_sum = self.floats.total();
    }
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut files: Vec<String> = self.files.iter().map(|p| p.to_string()).collect();
        // Only an incremental run that computed no file writes none.
        if files.is_empty() {
            files.push("nothing".into());
        }
        write!(
            f,
            "{} rows in, {} rows out, {} batches in {:.3} s ({:.0} rows/s); peak batch memory {:.1} MiB; \
             wrote {} ({:.1} MiB); ",
            self.rows_in,
            self.rows_out,
            self.batches,
            self.elapsed.as_secs_f64(),
            self.rows_per_sec(),
            self.peak_memory as f64 / (1 << 20) as f64,
            files.join(", "),
            self.bytes_out as f64 / (1 << 20) as f64,
        )?;
        if !self.failed_files.is_empty() {
            let failed: Vec<String> = self.failed_files.iter().map(|p| p.to_string()).collect();
            write!(f, "{} failed rows -> {}; ", self.failed_rows, failed.join(", "))?;
        }
        if let Some(files) = &self.incremental {
            write!(f, "{files}; ")?;
        }
        if let Some(cache) = &self.cache {
            write!(f, "cache: {cache}; ")?;
        }
        write!(f, "checksum: integers {}, floats {:.6}", self.int_sum, self.float_sum)
    }
}

/// Adds the integer and float values of `batch` to the checksum.
fn checksum(batch: &RecordBatch, summary: &mut RunSummary) {
    use arrow::array::AsArray;
    use arrow::datatypes::{self as t, DataType};
    macro_rules! sum {
        ($c:expr, $($int:ident => $it:ident),* ; $($float:ident => $ft:ident),*) => {
            match $c.data_type() {
                $(DataType::$int => {
                    summary.int_sum += $c.as_primitive::<t::$it>().iter().flatten().map(i128::from).sum::<i128>()
                })*
                $(DataType::$float => {
                    for v in $c.as_primitive::<t::$ft>().iter().flatten() {
                        summary.floats.add(f64::from(v));
                    }
                })*
                _ => {}
            }
        };
    }
    for c in batch.columns() {
        sum!(c, Int8 => Int8Type, Int16 => Int16Type, Int32 => Int32Type, Int64 => Int64Type,
            UInt8 => UInt8Type, UInt16 => UInt16Type, UInt32 => UInt32Type, UInt64 => UInt64Type;
            Float32 => Float32Type, Float64 => Float64Type);
    }
}

/// An exact sum of floats (Shewchuk's algorithm, as Python's `math.fsum`): the
/// correctly rounded sum of the values added, in any order, so the checksum of the same
/// rows does not depend on how they were batched or ordered.
#[derive(Clone, Debug, Default, PartialEq)]
struct FloatSum {
    /// Non-overlapping partial sums, smallest first; their exact sum is the total.
    partials: Vec<f64>,
    /// The sum of the values that are not finite (infinities, NaN).
    special: f64,
}

impl FloatSum {
    fn add(&mut self, value: f64) {
        if !value.is_finite() {
            self.special += value;
            return;
        }
        let mut x = value;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// The sum, rounded once.
    fn total(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            n -= 1;
            let (x, y) = (hi, p[n]);
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half-way cases the way the exact sum asks.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::FloatSum;

    fn sum(values: &[f64]) -> f64 {
        let mut s = FloatSum::default();
        values.iter().for_each(|&v| s.add(v));
        s.total()
    }

    #[test]
    fn float_sums_are_exact_whatever_the_order() {
        assert_eq!(sum(&[0.1; 10]), 1.0);
        assert_eq!(sum(&[1e16, 1.0, -1e16]), 1.0);
        assert_eq!(sum(&[1.0, 1e16, -1e16]), 1.0);
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum(&[1.0, f64::INFINITY]), f64::INFINITY);
        let values: Vec<f64> = (0..10_000).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
        let mut reversed = values.clone();
        reversed.reverse();
        assert_eq!(sum(&values).to_bits(), sum(&reversed).to_bits());
        let naive: f64 = values.iter().sum();
        assert!((sum(&values) - naive).abs() < 1e-6);
    }
}
