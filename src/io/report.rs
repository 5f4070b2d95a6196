//! How a file run reports to the callbacks of its configuration: the rows of its files
//! as the items of one top-level map (its batches report their node and nested events
//! through [`Part`](crate::events::Part), in that context).

use std::time::Instant;

use arrow::array::{RecordBatch, UInt64Array};

use crate::events::{Events, runs};

/// Where a file's batches report their items: the run's events, and the file's first
/// row among the rows of the run.
#[derive(Clone, Copy)]
pub(super) struct Reporting<'a> {
    pub(super) events: Option<&'a Events>,
    pub(super) offset: usize,
}

impl Reporting<'_> {
    /// The start of the rows of a batch.
    pub(super) fn item_start(&self, rows: std::ops::Range<usize>) {
        if let Some(events) = self.events {
            events.item_start(self.offset + rows.start..self.offset + rows.end);
        }
    }

    /// Rows written without being computed: those a resumed file kept.
    pub(super) fn items_kept(&self, rows: std::ops::Range<usize>) {
        if let (Some(events), false) = (self.events, rows.is_empty()) {
            events.item_cached(self.offset + rows.start..self.offset + rows.end);
        }
    }

    /// The end of the rows of a batch written: those that did not fail (`failed`, the
    /// side file's rows, names them by `_row`).
    pub(super) fn items_written(&self, rows: std::ops::Range<usize>, failed: Option<&RecordBatch>, started: Instant) {
        let Some(events) = self.events else { return };
        let elapsed = started.elapsed();
        let bad: Vec<usize> = failed
            .and_then(|f| f.column_by_name("_row"))
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .map(|rows| rows.values().iter().map(|&r| r as usize).collect())
            .unwrap_or_default();
        let offset = self.offset;
        if bad.is_empty() {
            events.item_end(offset + rows.start..offset + rows.end, elapsed);
            return;
        }
        runs(rows.filter(|r| !bad.contains(r)), |good| {
            events.item_end(offset + good.start..offset + good.end, elapsed)
        });
    }
}
