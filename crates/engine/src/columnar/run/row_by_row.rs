//! The nodes of a run that run row by row ([`RowByRow`]): any node not in a segment (a
//! type that is not columnar, an `async fn`, a closure node, a nested pipeline that
//! cannot run over flattened lists), each over every row with the map executor, as the
//! node engine runs it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rayon::prelude::*;

use super::Run;
use crate::columnar::col::Col;
use crate::columnar::segment;
use crate::error::{Error, Result};
use crate::exec::ExecutorPool;
use crate::exec::{Executor, OnError, block_on, for_items, for_items_async};
use crate::node::Node;
use crate::node_engine::{
    Cells, Produced, cached_node, call_node, call_node_async, collect, collect_shared, not_owned,
};
use crate::value::{ColumnBuilder, Value};

/// Runs nodes of a run row by row, their kept outputs stored into the run as columns.
pub(super) struct RowByRow<'r, 'p> {
    run: &'r mut Run<'p>,
}

impl<'r, 'p> RowByRow<'r, 'p> {
    /// The nodes of `run` that run row by row from here on.
    pub(super) fn new(run: &'r mut Run<'p>) -> RowByRow<'r, 'p> {
        RowByRow { run }
    }

    /// Runs `nodes` (consecutive in the plan, each run row by row) in waves: the nodes
    /// of a wave read nothing the others make, and run at the same time under a node
    /// executor that is not sequential; the first failing node in plan order fails.
    pub(super) fn execute(&mut self, nodes: &[usize]) -> Result<()> {
        let mut waves: Vec<Vec<usize>> = Vec::new();
        let mut wave_of: HashMap<&str, usize> = HashMap::new();
        for &i in nodes {
            let node = self.run.node(i);
            let w = node
                .params()
                .iter()
                .filter_map(|p| wave_of.get(p.name()))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            wave_of.extend(node.outputs().iter().map(|p| (p.name(), w)));
            if waves.len() <= w {
                waves.resize_with(w + 1, Vec::new);
            }
            waves[w].push(i);
        }
        let pool = self.run.config.node_executor().unwrap_or_default().pool();
        for wave in waves {
            let plan = self.run.plan;
            if let Some(text) = &mut self.run.explain {
                for &i in &wave {
                    let node = &plan.pipeline().nodes()[i];
                    let how = if node.is_nested() {
                        "nested pipeline"
                    } else {
                        "node by node"
                    };
                    let _ = writeln!(text, "fallback: {} ({how})", node.name());
                }
            }
            let made: Vec<Result<Vec<(String, Col)>>> = match pool {
                Some((pool, _)) if wave.len() > 1 => {
                    let this = &*self;
                    pool.install(|| wave.par_iter().with_max_len(1).map(|&i| this.node_rows(i)).collect())
                }
                _ => wave.iter().map(|&i| self.node_rows(i)).collect(),
            };
            for cols in made {
                self.run.cols.extend(cols?);
            }
        }
        Ok(())
    }

    /// Runs node `i` on every row (with the map executor) and returns the columns of its
    /// kept outputs.
    fn node_rows(&self, i: usize) -> Result<Vec<(String, Col)>> {
        let node = self.run.node(i);
        let keep = self.run.plan.kept_outputs(i);
        let item = |row: usize| self.run.is_map.then_some(row);
        if self.run.config.cache().is_some() {
            return self.node_rows_cached(node, keep);
        }
        segment::mark(self.run.computed.as_ref(), 0..self.run.rows);
        if !self.run.is_map {
            let args = self.run.args_at(node, 0)?;
            let refs: Vec<&Value> = args.iter().collect();
            let out = call_node(&self.run.config, node, keep, &refs, None)?;
            let ports = node.outputs();
            let mut cols = Vec::new();
            out.for_each(|k, v| cols.push((ports[k].name().to_string(), Col::Const(v))));
            return Ok(cols);
        }
        let mut builders = node
            .outputs()
            .iter()
            .zip(keep)
            .map(|(p, &k)| {
                if k {
                    p.type_info().column_builder(self.run.rows).map(Some).ok_or_else(|| {
                        Error::Invalid(format!(
                            "Output '{}': lists of {} nest too deep to collect",
                            p.name(),
                            p.type_info()
                        ))
                    })
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        // The rows run with the map executor (each row an item), in row order.
        let on_error = OnError::Fail;
        let push = |row: usize, out: Produced, builders: &mut Vec<Option<Box<dyn ColumnBuilder>>>| {
            let mut shared = None;
            out.for_each(|k, v| {
                if let Some(b) = &mut builders[k]
                    && b.push(v).is_err()
                {
                    shared = shared.or(Some(k));
                }
            });
            match shared {
                Some(k) => Err(not_owned(node, node.outputs()[k].name(), item(row))),
                None => Ok(()),
            }
        };
        let config = &self.run.config;
        // Sync work under `async:N` runs on its pool like `threaded:N`, without a hand-off
        // to the runtime per row.
        match config.map_executor().unwrap_or_default() {
            Executor::Sequential => {
                for row in 0..self.run.rows {
                    let args = self.run.args_at(node, row)?;
                    let refs: Vec<&Value> = args.iter().collect();
                    let out = call_node(config, node, keep, &refs, item(row))?;
                    push(row, out, &mut builders)?;
                }
            }
            Executor::Async(width) if node.is_async() => {
                let keep: Arc<[bool]> = keep.into();
                let results = block_on(for_items_async(width, self.run.rows, on_error, |row| {
                    let args = self.run.args_at(node, row);
                    let (config, node, keep) = (config.clone(), node.clone(), keep.clone());
                    async move { call_node_async(config, node, keep, args?, item(row)).await }
                }));
                collect(results, on_error, &mut Vec::new(), |row, out| {
                    push(row, out, &mut builders)
                })?;
            }
            executor => {
                let results = for_items(executor, self.run.rows, on_error, |row| {
                    let args = self.run.args_at(node, row)?;
                    let refs: Vec<&Value> = args.iter().collect();
                    call_node(config, node, keep, &refs, item(row))
                });
                collect(results, on_error, &mut Vec::new(), |row, out| {
                    push(row, out, &mut builders)
                })?;
            }
        }
        let mut cols = Vec::new();
        for ((p, b), &k) in node.outputs().iter().zip(builders).zip(keep) {
            if let (Some(b), true) = (b, k) {
                let list = b.finish();
                cols.push((
                    p.name().to_string(),
                    Col::List {
                        list: Arc::new(list),
                        elem: p.type_info().this_fn(),
                        index: None,
                    },
                ));
            }
        }
        Ok(cols)
    }

    /// [`RowByRow::node_rows`] through the node's cache, as the node engine runs a node over
    /// the items of a map (the node engine's [`cached_node`]).
    fn node_rows_cached(&self, node: &Node, keep: &[bool]) -> Result<Vec<(String, Col)>> {
        let args = node
            .params()
            .iter()
            .map(|p| match &self.run.cols[p.name()] {
                Col::Const(v) => Ok(Cells::Const(v.clone())),
                _ => (0..self.run.rows)
                    .map(|row| {
                        self.run
                            .value_at(p.name(), row)
                            .map(Some)
                            .ok_or_else(|| self.run.args_at(node, row).expect_err("a null argument"))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|values| Cells::Items(values, None)),
            })
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Cells> = args.iter().collect();
        let rows: Vec<usize> = (0..self.run.rows).collect();
        let no_digests = vec![false; node.outputs().len()];
        let results = cached_node(
            &self.run.config,
            node,
            keep,
            &rows,
            self.run.rows,
            &refs,
            &no_digests,
            self.run.is_map,
        );
        segment::mark(self.run.computed.as_ref(), results.computed.iter().copied());
        let (outs, mut failed) = (results.outs, results.failed);
        let outs: Vec<Vec<Option<Value>>> = outs
            .iter()
            .map(|cells| (0..self.run.rows).map(|row| cells.at(row)).collect())
            .collect();
        failed.sort_by_key(|f| f.0);
        if let Some((_, Some(e))) = failed.into_iter().find(|f| f.1.is_some()) {
            return Err(e);
        }
        let mut cols = Vec::new();
        for ((p, out), &k) in node.outputs().iter().zip(outs).zip(keep) {
            if !k {
                continue;
            }
            // Unreachable: every output of every item is computed or found, or the node
            // failed and returned its error above (here and below).
            if !self.run.is_map {
                let value = out.into_iter().next().flatten();
                let value = value.ok_or_else(|| Error::Internal(format!("'{}' was not computed", p.name())))?;
                cols.push((p.name().to_string(), Col::Const(value)));
                continue;
            }
            let ty = p.type_info();
            let builder = ty.column_builder(self.run.rows).ok_or_else(|| {
                Error::Invalid(format!("Output '{}': lists of {ty} nest too deep to collect", p.name()))
            })?;
            // Unreachable: as above.
            let values = out
                .into_iter()
                .map(|v| v.ok_or_else(|| Error::Internal(format!("'{}' was not computed", p.name()))))
                .collect::<Result<Vec<_>>>()?;
            let list = collect_shared(builder, values, p.name(), ty, node)?;
            cols.push((
                p.name().to_string(),
                Col::List {
                    list: Arc::new(list),
                    elem: ty.this_fn(),
                    index: None,
                },
            ));
        }
        Ok(cols)
    }
}
