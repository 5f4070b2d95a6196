//! Builds the pipeline of a file's declarations: what each node reads and produces,
//! then the nodes in dependency order, types known (SQL expressions, registry functions,
//! nested pipelines), with every mistake at its line.

use std::collections::{BTreeMap, BTreeSet};

use arrow::datatypes::DataType;
use toml::Spanned;

use crate::engine::columnar::expr::{self, identifiers};
use crate::engine::columnar::types::{reads_as, type_info_for};
use crate::engine::columnar::{ColumnType, ExprNode};
use crate::error::{Error, Result, closest};
use crate::node::Node;
use crate::pipeline::Pipeline;
use crate::value::TypeInfo;

use super::file::{NodeDecl, Source, SubDecl, one_line};
use super::registry::Registry;

/// A node declaration with what is known before types: its name, line, the names it
/// reads and the names it produces.
struct Decl<'a> {
    decl: &'a NodeDecl,
    name: String,
    line: usize,
    reads: Vec<String>,
    produces: Vec<String>,
}

/// Builds pipelines from the declarations of one file.
pub(super) struct Builder<'a> {
    pub(super) src: &'a Source<'a>,
    pub(super) registry: &'a Registry,
    pub(super) pipelines: &'a BTreeMap<String, Spanned<SubDecl>>,
    pub(super) unsupported: &'a BTreeMap<String, DataType>,
    /// The input columns' Arrow types: a function may read one as a type other than the
    /// one it is known as (a `NaiveDateTime` reading a zoned timestamp column).
    pub(super) columns: &'a BTreeMap<String, DataType>,
}

impl Builder<'_> {
    /// The pipeline of `nodes`, whose inputs have the types in `env`. `stack`: the nested
    /// pipelines being built (a pipeline may not contain itself).
    pub(super) fn build(
        &self,
        nodes: &[Spanned<NodeDecl>],
        mut env: BTreeMap<String, TypeInfo>,
        stack: &mut Vec<String>,
    ) -> Result<Pipeline> {
        let decls = nodes
            .iter()
            .map(|n| self.describe(n, stack))
            .collect::<Result<Vec<_>>>()?;

        // Duplicate names and outputs.
        let mut names: BTreeMap<&str, &Decl> = BTreeMap::new();
        let mut producers: BTreeMap<&str, &Decl> = BTreeMap::new();
        for d in &decls {
            if let Some(first) = names.insert(&d.name, d) {
                return Err(self.src.error(
                    d.line,
                    format!("node '{}': another node has this name (line {})", d.name, first.line),
                ));
            }
            for out in &d.produces {
                if let Some(first) = producers.insert(out, d) {
                    return Err(self.src.error(
                        d.line,
                        format!(
                            "Multiple nodes produce output '{out}': {} (line {}) and {}",
                            first.name, first.line, d.name
                        ),
                    ));
                }
            }
        }

        // Build in dependency order; the types of what a node reads are then known.
        let mut built: Vec<Option<Node>> = decls.iter().map(|_| None).collect();
        loop {
            let mut progress = false;
            for (k, d) in decls.iter().enumerate() {
                if built[k].is_none() && d.reads.iter().all(|r| env.contains_key(r)) {
                    let node = self.node(d, &env, stack)?;
                    for out in node.outputs() {
                        env.insert(out.name().to_string(), out.type_info());
                    }
                    built[k] = Some(node);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        if let Some(k) = built.iter().position(Option::is_none) {
            // Unknown names first, else a cycle.
            for (_, d) in decls.iter().enumerate().filter(|(j, _)| built[*j].is_none()) {
                for r in &d.reads {
                    if !env.contains_key(r) && !producers.contains_key(r.as_str()) {
                        return Err(self.unknown(d, r, &env));
                    }
                }
            }
            let path = cycle(&decls, &producers, &env, k);
            return Err(self.src.error(
                decls[path[0]].line,
                format!(
                    "Cycle detected in pipeline: {}",
                    path.iter()
                        .map(|&i| decls[i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
            ));
        }
        let nodes: Vec<Node> = built.into_iter().map(|n| n.expect("all built")).collect();
        Pipeline::try_new(nodes).map_err(|e| self.src.error(decls.first().map_or(1, |d| d.line), one_line(&e)))
    }

    fn unknown(&self, d: &Decl, name: &str, env: &BTreeMap<String, TypeInfo>) -> Error {
        if let Some(dt) = self.unsupported.get(name) {
            return self.src.error(
                d.line,
                format!(
                    "node '{}': column '{name}' has Arrow type {dt}, which pipeline files cannot read",
                    d.name
                ),
            );
        }
        let hint = match closest(name, env.keys().map(String::as_str)) {
            Some(s) => format!(" Did you mean '{s}'?"),
            None => String::new(),
        };
        let known: Vec<&str> = env.keys().map(String::as_str).collect();
        self.src.error(
            d.line,
            format!(
                "node '{}': unknown column '{name}'. Known: {}.{hint}",
                d.name,
                known.join(", ")
            ),
        )
    }

    /// What a declaration reads and produces, from its text alone.
    fn describe<'d>(&self, n: &'d Spanned<NodeDecl>, stack: &mut Vec<String>) -> Result<Decl<'d>> {
        let line = self.src.line(n.span().start);
        let d = n.get_ref();
        let kinds = [d.sql.is_some(), d.function.is_some(), d.pipeline.is_some()];
        let label = d
            .name
            .clone()
            .or_else(|| d.function.clone())
            .or_else(|| d.pipeline.clone());
        let name = label.unwrap_or_default();
        let err = |message: String| {
            let who = if name.is_empty() {
                "node".to_string()
            } else {
                format!("node '{name}'")
            };
            self.src.error(line, format!("{who}: {message}"))
        };
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(err("give exactly one of `sql`, `function` or `pipeline`".into()));
        }
        if name.is_empty() {
            return Err(err("a `sql` node needs a `name`".into()));
        }
        let (reads, produces) = if let Some(sql) = &d.sql {
            if !d.inputs.is_empty() || !d.outputs.is_empty() || !d.map_over.is_empty() || d.mode.is_some() {
                return Err(err("a `sql` node takes only `name`, `sql`, `output` and `cache`".into()));
            }
            let mut reads = identifiers(sql).map_err(|e| err(format!("`{}`: {e}", expr::one_line(sql))))?;
            reads.dedup();
            (reads, vec![d.output.clone().unwrap_or_else(|| name.clone())])
        } else if let Some(f) = &d.function {
            if !d.map_over.is_empty() || d.mode.is_some() {
                return Err(err("`map_over` and `mode` apply to `pipeline` nodes".into()));
            }
            let node = self.function(f, d, &name).map_err(err)?;
            (
                node.params().iter().map(|p| p.name().to_string()).collect(),
                node.outputs().iter().map(|p| p.name().to_string()).collect(),
            )
        } else {
            let p = d.pipeline.as_ref().expect("one kind");
            if d.output.is_some() {
                return Err(err(
                    "a `pipeline` node renames outputs with `outputs = { inner = \"outer\" }`".into(),
                ));
            }
            let sub = self.sub(p, stack).map_err(err)?;
            if stack.contains(p) {
                return Err(err(format!("pipeline '{p}' contains itself")));
            }
            stack.push(p.clone());
            let inner = sub
                .nodes
                .iter()
                .map(|n| self.describe(n, stack))
                .collect::<Result<Vec<_>>>();
            stack.pop();
            let inner = inner?;
            let produced: BTreeSet<&str> = inner
                .iter()
                .flat_map(|i| i.produces.iter().map(String::as_str))
                .collect();
            let mut reads: Vec<String> = Vec::new();
            for r in inner.iter().flat_map(|i| &i.reads) {
                if !produced.contains(r.as_str()) {
                    let outer = d.inputs.get(r).cloned().unwrap_or_else(|| r.clone());
                    if !reads.contains(&outer) {
                        reads.push(outer);
                    }
                }
            }
            for inner_name in d.inputs.keys() {
                if produced.contains(inner_name.as_str()) || !inner.iter().any(|i| i.reads.contains(inner_name)) {
                    return Err(err(format!("`inputs`: pipeline '{p}' has no input '{inner_name}'")));
                }
            }
            for m in &d.map_over {
                if !reads.contains(m) {
                    return Err(err(format!(
                        "map_over name '{m}' is not an input. Inputs: {}",
                        reads.join(", ")
                    )));
                }
            }
            let produces = if d.outputs.is_empty() {
                produced.iter().map(|s| s.to_string()).collect()
            } else {
                for inner_name in d.outputs.keys() {
                    if !produced.contains(inner_name.as_str()) {
                        return Err(err(format!("`outputs`: pipeline '{p}' has no output '{inner_name}'")));
                    }
                }
                d.outputs.values().cloned().collect()
            };
            (reads, produces)
        };
        Ok(Decl {
            decl: d,
            name,
            line,
            reads,
            produces,
        })
    }

    fn sub(&self, name: &str, _stack: &[String]) -> std::result::Result<&SubDecl, String> {
        self.pipelines.get(name).map(Spanned::get_ref).ok_or_else(|| {
            let known: Vec<&str> = self.pipelines.keys().map(String::as_str).collect();
            format!(
                "unknown pipeline '{name}'. Pipelines of this file: [{}]",
                known.join(", ")
            )
        })
    }

    /// The registry function of a declaration, renamed as it says.
    fn function(&self, f: &str, d: &NodeDecl, name: &str) -> std::result::Result<Node, String> {
        let node = self.registry.get(f).ok_or_else(|| {
            let hint = match closest(f, self.registry.names()) {
                Some(s) => format!(" Did you mean '{s}'?"),
                None => String::new(),
            };
            format!(
                "unknown function '{f}'. Functions: {}.{hint}",
                self.registry.names().join(", ")
            )
        })?;
        let params: Vec<(&str, &str)> = d.inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut outputs: Vec<(&str, &str)> = d.outputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if let Some(o) = &d.output {
            if node.outputs().len() != 1 || !d.outputs.is_empty() {
                return Err(format!(
                    "function '{f}' has {} outputs: rename them with `outputs = {{ inner = \"outer\" }}`",
                    node.outputs().len()
                ));
            }
            outputs.push((node.outputs()[0].name(), o.as_str()));
        }
        node.renamed(name, &params, &outputs).map_err(|e| one_line(&e))
    }

    /// The node of a declaration whose reads all have known types, uncached when it
    /// says `cache = false`.
    fn node(&self, d: &Decl, env: &BTreeMap<String, TypeInfo>, stack: &mut Vec<String>) -> Result<Node> {
        let node = self.declared(d, env, stack)?;
        Ok(if d.decl.cache == Some(false) {
            node.uncached()
        } else {
            node
        })
    }

    fn declared(&self, d: &Decl, env: &BTreeMap<String, TypeInfo>, stack: &mut Vec<String>) -> Result<Node> {
        let err = |message: String| self.src.error(d.line, format!("node '{}': {message}", d.name));
        let decl = d.decl;
        if let Some(sql) = &decl.sql {
            let names: BTreeMap<String, TypeInfo> = d.reads.iter().map(|r| (r.clone(), env[r])).collect();
            return ExprNode::node_over(&d.name, &d.produces[0], sql, &names, self.columns)
                .map_err(|e| err(one_line(&e)));
        }
        if let Some(f) = &decl.function {
            let node = self.function(f, decl, &d.name).map_err(err)?;
            for p in node.params() {
                let found = env[p.name()];
                let column = self.columns.get(p.name()).filter(|dt| type_info_for(dt) == Some(found));
                if found != p.type_info() && !column.is_some_and(|dt| reads_as(dt, &p.type_info())) {
                    return Err(err(format!(
                        "function '{f}' reads '{}' as {}, but it is {found}",
                        p.name(),
                        p.type_info()
                    )));
                }
            }
            return Ok(node);
        }
        let p = decl.pipeline.as_ref().expect("one kind");
        let sub = self.sub(p, stack).map_err(err)?;
        // The inner inputs' types: the outer columns', element types for mapped ones.
        let mut inner_env = BTreeMap::new();
        let inner_of = |outer: &str| -> String {
            decl.inputs
                .iter()
                .find(|(_, o)| o.as_str() == outer)
                .map_or(outer.to_string(), |(i, _)| i.clone())
        };
        for outer in &d.reads {
            let ty = env[outer];
            let ty = if decl.map_over.contains(outer) {
                let elem = ColumnType::find(&ty).and_then(|ct| match (ct.data_type)() {
                    DataType::List(f) => type_info_for(f.data_type()),
                    _ => None,
                });
                elem.ok_or_else(|| err(format!("map_over '{outer}' is {ty}, not a list")))?
            } else {
                ty
            };
            inner_env.insert(inner_of(outer), ty);
        }
        stack.push(p.clone());
        let inner = self.build(&sub.nodes, inner_env, stack);
        stack.pop();
        // Named after its `[pipelines.NAME]` table (messages and pictures show it).
        let mut node = inner?.with_name(p.as_str()).as_node(&d.name);
        let mapping: Vec<(String, String)> = d.reads.iter().map(|o| (o.clone(), inner_of(o))).collect();
        node = node.with_input_mapping(mapping);
        if !decl.outputs.is_empty() {
            node = node.with_output_mapping(decl.outputs.clone());
        }
        if !decl.map_over.is_empty() {
            node = node.with_map_over(decl.map_over.clone());
        }
        if let Some(mode) = &decl.mode {
            node = node.with_map_mode(mode.as_str());
        }
        node.build().map_err(|e| err(one_line(&e)))
    }
}

/// A cycle through node `start` (or one reachable from it), as indices, closed.
fn cycle(
    decls: &[Decl],
    producers: &BTreeMap<&str, &Decl>,
    env: &BTreeMap<String, TypeInfo>,
    start: usize,
) -> Vec<usize> {
    let index = |d: &Decl| decls.iter().position(|x| std::ptr::eq(x, d)).expect("a declaration");
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = decls[at]
            .reads
            .iter()
            .filter(|r| !env.contains_key(r.as_str()))
            .find_map(|r| producers.get(r.as_str()).map(|d| index(d)))
            .expect("an unresolved node reads another's output");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut c = path[pos..].to_vec();
            c.push(next);
            // Report in the direction of data flow: producer -> consumer.
            c.reverse();
            return c;
        }
        path.push(next);
        at = next;
    }
}
