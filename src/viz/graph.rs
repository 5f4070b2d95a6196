//! The picture's model: the nodes and edges every format draws, public and serializable.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;

use super::VizOptions;

/// The picture of a pipeline as data: what [`Graph::to_dot`], [`Graph::to_mermaid`] and
/// [`Graph::to_svg`] draw, and what `hypernodes viz --format json` writes for other tools.
///
/// Built once from a pipeline with [`Graph::new`]; see [the module docs](crate::viz) for
/// what becomes a node. `nodes` are in drawing order, an expanded nested pipeline before
/// the nodes drawn inside it. The same pipeline and options give the same graph.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::viz::{Graph, NodeKind, VizOptions};
///
/// #[node(output = "sum")]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// let p = Pipeline::new([add::node()]).with_name("adder").bind(Inputs::new().with("b", 1_i64))?;
/// let graph = Graph::new(&p, &VizOptions::new());
/// let kinds: Vec<(&str, NodeKind)> = graph.nodes.iter().map(|n| (n.id.as_str(), n.kind)).collect();
/// assert_eq!(
///     kinds,
///     [
///         ("v_a", NodeKind::Input),
///         ("v_b", NodeKind::BoundInput),
///         ("n_add", NodeKind::Function),
///         ("v_sum", NodeKind::Output),
///     ]
/// );
/// assert_eq!(graph.edges[2].from, "n_add");
/// assert_eq!(graph.edges[2].type_name.as_deref(), Some("i64"));
///
/// let json = graph.to_json();
/// assert!(json.contains(r#""kind": "bound_input""#));
/// assert_eq!(serde_json::from_str::<Graph>(&json).unwrap(), graph);
/// assert_eq!(graph.to_dot(), p.to_dot(&VizOptions::new()));
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    /// The pipeline's name, or `pipeline`.
    pub name: String,
    /// Values, function nodes and nested pipelines, in drawing order.
    pub nodes: Vec<Node>,
    /// Edges between nodes, in drawing order.
    pub edges: Vec<Edge>,
}

/// What a [`Node`] of the picture stands for; it decides its shape and colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeKind {
    /// A pipeline input: a value nothing produces and nothing binds.
    Input,
    /// A bound input (`Pipeline::bind`).
    BoundInput,
    /// A value a node produces and another node reads (not drawn with
    /// [`VizOptions::with_grouped`], where it is a [`Port`] of its producer).
    Value,
    /// A value a node produces and nothing reads: an output (with `with_grouped`, a
    /// [`Port`] with `output` set instead).
    Output,
    /// A function node.
    Function,
    /// A function node with a batch implementation too (`#[node(batch = ...)]`, a "dual
    /// node"): the columnar engine calls that one, the node engine the per-item function.
    DualFunction,
    /// A nested pipeline ([`Pipeline::as_node`]): one node, or, expanded
    /// ([`Nested::expanded`]), a cluster that the nodes of the inner pipeline name as
    /// their [`Node::parent`].
    NestedPipeline,
}

/// A node of the picture: a value, a function node or a nested pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// A unique id, derived from the name and the path of expanded nested pipelines
    /// (`v_` values, `n_` nodes, `cluster_` expanded pipelines).
    pub id: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// The value's or node's name.
    pub label: String,
    /// The id of the expanded nested pipeline it is drawn in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// With [`VizOptions::with_grouped`]: the outputs of a function node or a nested
    /// pipeline, drawn inside its box (the values a run computes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Port>,
    /// For a nested pipeline: what it runs and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested: Option<Nested>,
}

/// An output drawn inside its producer's box ([`VizOptions::with_grouped`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// The output's name.
    pub name: String,
    /// Its Rust type, unless types are left off ([`VizOptions::with_types`]).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Whether nothing in the picture reads it (an output of the pipeline).
    #[serde(default)]
    pub output: bool,
    /// Where a collapsed nested pipeline's output mapping renames it: its names from the
    /// inner pipeline's to `name` (`["n", "counts"]`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<String>,
}

/// What a [`NodeKind::NestedPipeline`] node runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nested {
    /// The inner pipeline's name, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// The (outer) names it maps over; empty for one call per run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_over: Vec<String>,
    /// `zip` or `product`, when it maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Whether it is drawn expanded (a cluster holding the inner pipeline,
    /// [`VizOptions::with_depth`]) rather than as one box.
    pub expanded: bool,
}

/// An edge: a value going from the node that has it to a node that reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// The id of the node it leaves.
    pub from: String,
    /// With [`VizOptions::with_grouped`]: the output of `from` it carries (a [`Port`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<String>,
    /// The id of the node it enters.
    pub to: String,
    /// The Rust type of the value as `from` has it (a `Vec` of the inner type where a
    /// nested pipeline maps), unless types are left off.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Where a nested pipeline's mapping renames the value on the way: its names from
    /// `from`'s side to `to`'s (`["doc", "raw"]`: the outer `doc` read as `raw`); empty
    /// when the name does not change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<String>,
}

impl Graph {
    /// The picture of `pipeline` with these options.
    pub fn new(pipeline: &Pipeline, options: &VizOptions) -> Graph {
        super::build::build(pipeline, options)
    }

    /// The graph as pretty-printed JSON (the fields as documented, `kind` in snake
    /// case, empty fields left out); [`serde_json`] reads it back into a `Graph`.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).expect("a graph is plain data");
        json.push('\n');
        json
    }

    /// The graph as a Graphviz DOT digraph. Render it with `dot -Tsvg`, or use
    /// [`Graph::to_svg`].
    pub fn to_dot(&self) -> String {
        super::dot::render(self)
    }

    /// The graph as a Mermaid flowchart (`flowchart TD`), for Markdown that renders Mermaid.
    pub fn to_mermaid(&self) -> String {
        super::mermaid::render(self)
    }

    /// The graph as a standalone SVG document, laid out in-process (no Graphviz needed).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the layout engine fails (a bug in it, reported rather than
    /// panicking), or if an edge or a parent names no node of the graph.
    pub fn to_svg(&self) -> Result<String> {
        self.check()?;
        super::svg::render(self)
    }

    /// Every edge and parent names a node (a graph built by [`Graph::new`] always does;
    /// one edited or read from JSON may not).
    fn check(&self) -> Result<()> {
        let known = |id: &str| self.nodes.iter().any(|n| n.id == id);
        let bad = self
            .edges
            .iter()
            .flat_map(|e| [&e.from, &e.to])
            .chain(self.nodes.iter().filter_map(|n| n.parent.as_ref()))
            .find(|id| !known(id));
        match bad {
            Some(id) => Err(Error::Invalid(format!(
                "Cannot draw graph '{}': no node has the id '{id}'",
                self.name
            ))),
            None => Ok(()),
        }
    }

    /// The index of the node with this id.
    pub(super) fn index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Whether node `i` is drawn inside the expanded nested pipeline `cluster` (an index),
    /// directly or in a cluster inside it.
    pub(super) fn inside(&self, i: usize, cluster: usize) -> bool {
        let mut parent = self.nodes[i].parent.as_deref();
        while let Some(p) = parent {
            if p == self.nodes[cluster].id {
                return true;
            }
            parent = self.index(p).and_then(|k| self.nodes[k].parent.as_deref());
        }
        false
    }

    /// The label of an edge: the type where the value enters the picture or leaves its
    /// producer (not again where a value box or a port passes it on), then the mapping
    /// (`raw ← doc`); with `port_names`, the port it leaves (for formats that cannot
    /// draw an edge from a port) where no mapping names it already.
    pub(super) fn edge_label(&self, e: &Edge, port_names: bool) -> Vec<String> {
        let mut label = Vec::new();
        if let (true, Some(port), true) = (port_names, &e.from_port, e.mapping.is_empty()) {
            label.push(port.clone());
        }
        let from_box = self
            .index(&e.from)
            .is_some_and(|i| matches!(self.nodes[i].kind, NodeKind::Value | NodeKind::Output));
        if let (false, false, Some(ty)) = (from_box, e.from_port.is_some(), &e.type_name) {
            label.push(ty.clone());
        }
        if !e.mapping.is_empty() {
            let names: Vec<&str> = e.mapping.iter().rev().map(String::as_str).collect();
            label.push(names.join(" ← "));
        }
        label
    }
}

impl Node {
    /// Whether it is an expanded nested pipeline (a cluster).
    pub fn is_cluster(&self) -> bool {
        self.nested.as_ref().is_some_and(|n| n.expanded)
    }

    /// The lines of text drawn for it: the name, then notes (`(bound)`, a nested
    /// pipeline's name and `map_over`).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.label.clone()];
        if self.kind == NodeKind::BoundInput {
            lines.push("(bound)".to_string());
        }
        if let Some(nested) = &self.nested {
            if let Some(name) = &nested.pipeline {
                lines.push(format!("pipeline: {name}"));
            }
            if !nested.map_over.is_empty() {
                let mode = nested.mode.as_deref().unwrap_or("zip");
                lines.push(format!("map_over: {} ({mode})", nested.map_over.join(", ")));
            }
        }
        lines
    }

    /// The CSS-like class of its kind (Mermaid's `classDef`, the SVG's `class`).
    pub(super) fn class(&self) -> &'static str {
        match self.kind {
            NodeKind::Input => "input",
            NodeKind::BoundInput => "bound",
            NodeKind::Value => "value",
            NodeKind::Output => "output",
            NodeKind::Function => "function",
            NodeKind::DualFunction => "dual",
            NodeKind::NestedPipeline => "nested",
        }
    }
}

impl Port {
    /// The port's line of text: `name: type`, or `counts ← n: type` where a mapping
    /// renames it.
    pub fn text(&self) -> String {
        let mut text = self.name.clone();
        for inner in self.mapping.iter().rev().skip(1) {
            text.push_str(" ← ");
            text.push_str(inner);
        }
        if let Some(ty) = &self.type_name {
            text.push_str(": ");
            text.push_str(ty);
        }
        text
    }
}
