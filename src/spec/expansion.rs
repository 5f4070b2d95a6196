//! The bound on what a pipeline file may make: nodes in all, each nested pipeline
//! counted once per use, and how deep pipelines nest.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::error::Result;

use super::file::{NodeDecl, Source, SubDecl};

/// The most nodes the pipelines of a file may make, each nested pipeline counted once per
/// use, and the deepest they may nest.
const MAX_NODES: u64 = 10_000;
const MAX_NESTING: usize = 16;

/// Checks a file's pipelines against [`MAX_NODES`] and [`MAX_NESTING`] before any is
/// built.
pub(super) struct Expansion<'a> {
    pub(super) src: &'a Source<'a>,
    pub(super) pipelines: &'a BTreeMap<String, Spanned<SubDecl>>,
}

impl Expansion<'_> {
    /// Checks that the pipelines of the file, each nested pipeline built once per use,
    /// make at most [`MAX_NODES`] nodes in all, nested at most [`MAX_NESTING`] deep: two
    /// uses of a pipeline that uses another twice, and so on, would otherwise make a
    /// small file take exponential time and memory to load, and deep nesting overflow
    /// the stack. Pipelines that are unknown or contain themselves count as empty here
    /// ([`Builder::describe`](super::build::Builder) names them).
    pub(super) fn check(&self, nodes: &[Spanned<NodeDecl>]) -> Result<()> {
        let mut sizes = BTreeMap::new();
        let mut total: u64 = 0;
        for n in nodes {
            let d = n.get_ref();
            let size = match &d.pipeline {
                Some(p) => self.expanded(p, &mut sizes, &mut Vec::new()),
                None => Ok(0),
            };
            let label = d.name.as_ref().or(d.function.as_ref()).or(d.pipeline.as_ref());
            let who = label.map_or_else(|| "node".to_string(), |l| format!("node '{l}'"));
            let line = self.src.line(n.span().start);
            total = total
                .saturating_add(1)
                .saturating_add(size.map_err(|e| self.src.error(line, format!("{who}: {e}")))?);
            if total > MAX_NODES {
                return Err(self.src.error(
                    line,
                    format!(
                        "{who}: the pipelines of this file make more than {MAX_NODES} nodes, each nested pipeline counted once per use"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The nodes pipeline `name` makes, nested ones counted once per use (memoized in
    /// `sizes`); `Err` when its pipelines nest deeper than [`MAX_NESTING`].
    fn expanded(
        &self,
        name: &str,
        sizes: &mut BTreeMap<String, u64>,
        stack: &mut Vec<String>,
    ) -> std::result::Result<u64, String> {
        if let Some(&size) = sizes.get(name) {
            return Ok(size);
        }
        let Some(sub) = self.pipelines.get(name).filter(|_| !stack.iter().any(|s| s == name)) else {
            return Ok(0);
        };
        if stack.len() == MAX_NESTING {
            return Err(format!(
                "pipelines nest more than {MAX_NESTING} deep: {} -> {name}",
                stack.join(" -> ")
            ));
        }
        stack.push(name.to_string());
        let mut size: u64 = 0;
        for n in &sub.get_ref().nodes {
            let nested = match &n.get_ref().pipeline {
                Some(p) => self.expanded(p, sizes, stack)?,
                None => 0,
            };
            size = size.saturating_add(1).saturating_add(nested);
        }
        stack.pop();
        sizes.insert(name.to_string(), size);
        Ok(size)
    }
}
