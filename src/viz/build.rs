//! Builds the [`Graph`] of a pipeline: values, function nodes, nested pipelines
//! (collapsed, or expanded into clusters wired straight to the outer values), ids.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use crate::nested::NestedNode;
use crate::node::Node as PipelineNode;
use crate::pipeline::Pipeline;
use crate::plan::computed_outputs;

use super::VizOptions;
use super::graph::{Edge, Graph, Nested, Node, NodeKind, Port};

/// The graph of `pipeline`.
pub(super) fn build(pipeline: &Pipeline, options: &VizOptions) -> Graph {
    let mut b = Builder {
        options,
        graph: Graph {
            name: pipeline.name().unwrap_or("pipeline").to_string(),
            nodes: Vec::new(),
            edges: Vec::new(),
        },
        used: HashSet::new(),
    };
    b.draw(
        pipeline,
        &Scope::default(),
        options.depth(),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    let mut graph = b.graph;
    // A value or port nothing reads is an output.
    let read: HashSet<(String, Option<String>)> = graph
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.from_port.clone()))
        .collect();
    for node in &mut graph.nodes {
        if node.kind == NodeKind::Value && !read.contains(&(node.id.clone(), None)) {
            node.kind = NodeKind::Output;
        }
        for port in &mut node.outputs {
            port.output = !read.contains(&(node.id.clone(), Some(port.name.clone())));
        }
    }
    graph
}

/// Where nodes are drawn: the path of expanded nested nodes (scoping ids) and the id
/// of the cluster they are in.
#[derive(Clone, Default)]
struct Scope {
    path: Vec<String>,
    parent: Option<String>,
}

/// Where the value of a name comes from: a node (a value box, or a port of its
/// producer), and the names it had on the way, the name in the current scope last.
#[derive(Clone)]
struct Source {
    node: String,
    port: Option<String>,
    type_name: Option<String>,
    names: Vec<String>,
}

impl Source {
    /// The same value under `name` (one more step of a mapping).
    fn renamed(&self, name: &str) -> Source {
        let mut s = self.clone();
        if s.names.last().map(String::as_str) != Some(name) {
            s.names.push(name.to_string());
        }
        s
    }
}

/// An inner output a nested pipeline exports to the scope around it (without
/// `grouped`, its value box is drawn there, once).
#[derive(Clone)]
struct Export {
    /// Its names from the inner producer to the box.
    names: Vec<String>,
    scope: Scope,
}

struct Builder<'a> {
    options: &'a VizOptions,
    graph: Graph,
    used: HashSet<String>,
}

impl Builder<'_> {
    /// A unique id: `prefix` and the scoped, sanitised name.
    fn id(&mut self, prefix: &str, path: &[String], name: &str) -> String {
        let mut id = String::from(prefix);
        id.push('_');
        for (k, segment) in path.iter().map(String::as_str).chain([name]).enumerate() {
            if k > 0 {
                id.push_str("__");
            }
            sanitize(&mut id, segment);
        }
        let mut unique = id.clone();
        let mut n = 1;
        while !self.used.insert(unique.clone()) {
            n += 1;
            unique = format!("{id}_{n}");
        }
        unique
    }

    fn node(&mut self, prefix: &str, scope: &Scope, kind: NodeKind, label: &str) -> String {
        let id = self.id(prefix, &scope.path, label);
        self.graph.nodes.push(Node {
            id: id.clone(),
            kind,
            label: label.to_string(),
            parent: scope.parent.clone(),
            outputs: Vec::new(),
            nested: None,
        });
        id
    }

    fn typed(&self, ty: String) -> Option<String> {
        self.options.types().then_some(ty)
    }

    /// An edge from `source` to node `to`.
    fn read(&mut self, source: &Source, to: &str) {
        let mapping = if source.names.len() > 1 {
            source.names.clone()
        } else {
            Vec::new()
        };
        self.graph.edges.push(Edge {
            from: source.node.clone(),
            from_port: source.port.clone(),
            to: to.to_string(),
            type_name: source.type_name.clone(),
            mapping,
        });
    }

    /// The value that node `from` produces as `port`: a port of `from` (`grouped`), or a
    /// value box with an edge to it. `names` are the value's names from `from` to this
    /// scope (the last is its name here); if `exports` gives it to an outer scope, its
    /// box is drawn there, under its outer name.
    fn produce(
        &mut self,
        from: &str,
        port: &str,
        mut names: Vec<String>,
        ty: Option<String>,
        scope: &Scope,
        exports: &BTreeMap<String, Export>,
    ) -> Source {
        if self.options.grouped() {
            let producer = self.graph.nodes.iter_mut().rev().find(|n| n.id == from);
            producer.expect("drawn").outputs.push(Port {
                name: port.to_string(),
                type_name: ty.clone(),
                output: false,
                mapping: if names.len() > 1 { names } else { Vec::new() },
            });
            return Source {
                node: from.to_string(),
                port: Some(port.to_string()),
                type_name: ty,
                names: vec![port.to_string()],
            };
        }
        let here = names.last().expect("a name").clone();
        let scope = match exports.get(&here) {
            Some(export) => {
                names.extend(export.names.iter().skip(1).cloned());
                &export.scope
            }
            None => scope,
        };
        let names = dedup(names);
        let label = names.last().expect("a name").clone();
        let v = self.node("v", scope, NodeKind::Value, &label);
        let produced = Source {
            node: from.to_string(),
            port: None,
            type_name: ty.clone(),
            names,
        };
        self.read(&produced, &v);
        Source {
            node: v,
            port: None,
            type_name: ty,
            names: dedup(vec![label, here]),
        }
    }

    /// Draws `pipeline` in `scope`; `feeds` are the outer values feeding its inputs,
    /// `exports` the outputs it gives to the scope around it. Returns where each name
    /// comes from.
    fn draw(
        &mut self,
        pipeline: &Pipeline,
        scope: &Scope,
        depth: usize,
        feeds: &BTreeMap<String, Source>,
        exports: &BTreeMap<String, Export>,
    ) -> BTreeMap<String, Source> {
        let mut values: BTreeMap<String, Source> = BTreeMap::new();
        for name in pipeline.inputs() {
            let source = match feeds.get(name) {
                Some(outer) => outer.clone(),
                None => self.input(pipeline, name, scope),
            };
            values.insert(name.to_string(), source);
        }
        let consumed: HashSet<&str> = pipeline
            .nodes()
            .iter()
            .flat_map(|n| n.params().iter().map(|p| p.name()))
            .collect();

        for node in pipeline.nodes() {
            // Every name a node reads is produced or an input (the pipeline validated it).
            let mut read = Vec::new();
            for port in node.params() {
                let source = match values.get(port.name()) {
                    Some(s) => s.clone(),
                    None => {
                        let s = self.input(pipeline, port.name(), scope);
                        values.insert(port.name().to_string(), s.clone());
                        s
                    }
                };
                read.push(source);
            }
            let computed = computed_outputs(node, &consumed);
            match NestedNode::of(node) {
                Some(nested) if depth > 0 => {
                    let produced = self.expanded(nested, &computed, &read, scope, depth, exports);
                    values.extend(produced);
                }
                nested => {
                    let id = self.box_node(node, nested, scope);
                    for (i, source) in read.iter().enumerate() {
                        let inner = nested.map(|n| n.inner_params()[i].as_str());
                        let source = inner.map_or_else(|| source.clone(), |inner| source.renamed(inner));
                        self.read(&source, &id);
                    }
                    for (i, port) in node.outputs().iter().enumerate() {
                        if !computed[i] {
                            continue;
                        }
                        let ty = self.typed(port.type_info().name());
                        let names = match nested {
                            Some(n) => dedup(vec![n.inner_outputs()[i].clone(), port.name().to_string()]),
                            None => vec![port.name().to_string()],
                        };
                        let source = self.produce(&id, port.name(), names, ty, scope, exports);
                        values.insert(port.name().to_string(), source);
                    }
                }
            }
        }
        values
    }

    /// An input box.
    fn input(&mut self, pipeline: &Pipeline, name: &str, scope: &Scope) -> Source {
        let kind = if pipeline.bound_inputs().contains(name) {
            NodeKind::BoundInput
        } else {
            NodeKind::Input
        };
        let node = self.node("v", scope, kind, name);
        Source {
            node,
            port: None,
            type_name: pipeline.input_type(name).and_then(|t| self.typed(t.name())),
            names: vec![name.to_string()],
        }
    }

    /// A function node or a collapsed nested pipeline, as one box.
    fn box_node(&mut self, node: &PipelineNode, nested: Option<&NestedNode>, scope: &Scope) -> String {
        let kind = match nested {
            Some(_) => NodeKind::NestedPipeline,
            None if is_dual(node) => NodeKind::DualFunction,
            None => NodeKind::Function,
        };
        let id = self.node("n", scope, kind, node.name());
        self.graph.nodes.last_mut().expect("drawn").nested = nested.map(|n| nested_info(n, false));
        id
    }

    /// A nested pipeline expanded into a cluster: the outer values feed its inner
    /// readers straight, and the outputs the run computes leave it to the outer scope.
    fn expanded(
        &mut self,
        nested: &NestedNode,
        computed: &[bool],
        read: &[Source],
        scope: &Scope,
        depth: usize,
        exports: &BTreeMap<String, Export>,
    ) -> BTreeMap<String, Source> {
        let id = self.id("cluster", &scope.path, nested.name());
        self.graph.nodes.push(Node {
            id: id.clone(),
            kind: NodeKind::NestedPipeline,
            label: nested.name().to_string(),
            parent: scope.parent.clone(),
            outputs: Vec::new(),
            nested: Some(nested_info(nested, true)),
        });
        let feeds: BTreeMap<String, Source> = nested
            .inner_params()
            .iter()
            .zip(read)
            .map(|(inner, source)| (inner.clone(), source.renamed(inner)))
            .collect();
        let mut inner_exports = BTreeMap::new();
        for (i, (port, inner)) in nested.outputs().iter().zip(nested.inner_outputs()).enumerate() {
            if !computed[i] {
                continue;
            }
            let mut names = vec![inner.clone(), port.name().to_string()];
            let export = match exports.get(port.name()) {
                Some(outer) => {
                    names.extend(outer.names.iter().skip(1).cloned());
                    Export {
                        names: dedup(names),
                        scope: outer.scope.clone(),
                    }
                }
                None => Export {
                    names: dedup(names),
                    scope: scope.clone(),
                },
            };
            inner_exports.insert(inner.clone(), export);
        }
        let mut path = scope.path.clone();
        path.push(nested.name().to_string());
        let inner_scope = Scope { path, parent: Some(id) };
        let inner = self.draw(nested.pipeline(), &inner_scope, depth - 1, &feeds, &inner_exports);
        let mut produced = BTreeMap::new();
        for (i, (port, inner_name)) in nested.outputs().iter().zip(nested.inner_outputs()).enumerate() {
            if let (true, Some(source)) = (computed[i], inner.get(inner_name)) {
                let source = if self.options.grouped() {
                    source.renamed(port.name())
                } else {
                    // The box is drawn outside, under its outer name (its first name).
                    let mut s = source.clone();
                    s.names = dedup(vec![s.names[0].clone(), port.name().to_string()]);
                    s
                };
                produced.insert(port.name().to_string(), source);
            }
        }
        produced
    }
}

/// Appends `name` to an id: characters other than ASCII letters, digits and `_` as
/// `_<hex>_`.
pub(super) fn sanitize(id: &mut String, name: &str) {
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            id.push(c);
        } else {
            let _ = write!(id, "_{:x}_", c as u32);
        }
    }
}

/// Names without consecutive repeats.
fn dedup(mut names: Vec<String>) -> Vec<String> {
    names.dedup();
    names
}

/// What a nested node runs: its pipeline's name and what it maps over (outer names).
fn nested_info(nested: &NestedNode, expanded: bool) -> Nested {
    let map_over: Vec<String> = nested
        .map_over()
        .iter()
        .map(|inner| {
            let k = nested.inner_params().iter().position(|i| i == inner);
            k.map_or(inner.clone(), |k| nested.params()[k].name().to_string())
        })
        .collect();
    Nested {
        pipeline: nested.pipeline().name().map(str::to_string),
        mode: (!map_over.is_empty()).then(|| nested.mode().to_string()),
        map_over,
        expanded,
    }
}

/// Whether `node` has a batch implementation written by the user (a dual node).
fn is_dual(node: &PipelineNode) -> bool {
    #[cfg(feature = "columnar")]
    {
        crate::engine::columnar::kernel::Kernel::find(node).is_some_and(|k| k.is_batch())
    }
    #[cfg(not(feature = "columnar"))]
    {
        let _ = node;
        false
    }
}
