//! A [`Cluster`] as the place a file run computes ([`Remote`]): a job per range of a
//! Parquet file's row groups, all submitted at once, their rows handed back range by
//! range.

use std::sync::Arc;

use futures::StreamExt;

use super::{Cluster, FileRange, codec, job_error, runtime};
use crate::engine::ColumnarEngine;
use crate::error::{Error, Result};
use crate::io::{Remote, RemoteFile, RemoteSink};
use crate::pipeline::Pipeline;

impl Remote for Cluster {
    fn check(&self, pipeline: &Pipeline) -> Result<()> {
        codec::check(pipeline)
    }

    fn run_parquet(&self, file: RemoteFile<'_>, sink: &mut dyn RemoteSink) -> Result<()> {
        let job = |e| job_error(format!("The cluster job over '{}' failed", file.location), e);
        let ranges = FileRange::split(
            file.location,
            file.size,
            file.metadata.metadata(),
            file.metadata.schema().clone(),
            file.partitions,
        )?;
        runtime()?.block_on(async {
            let ctx = self.context().await?;
            // One job per range, all submitted at once; their rows are handed on range by
            // range, each job's stream held back (two batches ahead) until its turn.
            let mut jobs = Vec::new();
            let mut schema = None;
            for (range, rows) in ranges {
                let frame = ctx.read_table(Arc::new(range)).map_err(job)?;
                let frame = ColumnarEngine::apply_to_dataframe(file.pipeline, frame)?;
                let select: Vec<&str> = file.select.iter().map(String::as_str).collect();
                let frame = frame.select_columns(&select).map_err(job)?;
                schema.get_or_insert_with(|| Arc::new(frame.schema().as_arrow().clone()));
                let (tx, rx) = tokio::sync::mpsc::channel(2);
                tokio::spawn(async move {
                    let mut stream = match frame.execute_stream().await {
                        Ok(s) => s,
                        Err(e) => return drop(tx.send(Err(e)).await),
                    };
                    while let Some(batch) = stream.next().await {
                        if tx.send(batch).await.is_err() {
                            return;
                        }
                    }
                });
                jobs.push((rx, rows));
            }
            // Unreachable: a file is at least one range.
            let schema = schema.ok_or_else(|| Error::Internal("a file without ranges".into()))?;
            sink.start(schema)?;
            for (mut rx, rows) in jobs {
                let mut row = rows.start;
                while let Some(batch) = rx.recv().await {
                    let batch = batch.map_err(job)?;
                    let n = batch.num_rows();
                    sink.batch(row..row + n, &batch)?;
                    row += n;
                }
                if row != rows.end {
                    return Err(Error::Data {
                        path: file.location.to_string().into(),
                        message: format!(
                            "the cluster returned {} rows for rows {}..{}, whose row groups hold {}",
                            row - rows.start,
                            rows.start,
                            rows.end,
                            rows.len()
                        )
                        .into(),
                    });
                }
            }
            Ok(())
        })
    }
}
