//! The picture of a pipeline, independent of the format: its shapes (values, function
//! and nested nodes), edges and clusters (expanded nested pipelines), with their ids and
//! labels, in drawing order.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use crate::nested::NestedNode;
use crate::pipeline::Pipeline;

use super::VizOptions;

/// What a shape stands for; it decides the shape's outline and colours in every format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A value no node produces, not bound.
    Input,
    /// A bound input.
    Bound,
    /// A value produced and read in the same pipeline.
    Value,
    /// A value produced and not read in its pipeline.
    Output,
    /// A function node.
    Function,
    /// A nested pipeline drawn as one node.
    Nested,
}

impl Kind {
    /// The CSS-like class of the kind (Mermaid's `classDef`, the SVG's `class`).
    pub(super) fn class(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Bound => "bound",
            Kind::Value => "value",
            Kind::Output => "output",
            Kind::Function => "function",
            Kind::Nested => "nested",
        }
    }
}

/// A value or a node, drawn as one box.
pub(super) struct Shape {
    pub(super) id: String,
    pub(super) kind: Kind,
    /// The name first, then notes.
    pub(super) lines: Vec<String>,
    pub(super) cluster: Option<usize>,
}

/// An edge between two shapes (indices in [`Scene::shapes`]).
pub(super) struct Edge {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) label: Vec<String>,
}

/// An expanded nested pipeline, holding its shapes.
pub(super) struct Cluster {
    pub(super) id: String,
    pub(super) lines: Vec<String>,
    pub(super) parent: Option<usize>,
}

/// Shapes and clusters in drawing order.
#[derive(Clone, Copy)]
pub(super) enum Item {
    Shape(usize),
    Cluster(usize),
}

/// The picture of a pipeline, built once and written in any format.
pub(super) struct Scene {
    pub(super) title: String,
    types: bool,
    pub(super) shapes: Vec<Shape>,
    pub(super) edges: Vec<Edge>,
    pub(super) clusters: Vec<Cluster>,
    pub(super) order: Vec<Item>,
    used: HashSet<String>,
}

impl Scene {
    pub(super) fn new(pipeline: &Pipeline, options: &VizOptions) -> Scene {
        let mut scene = Scene {
            title: pipeline.name().unwrap_or("pipeline").to_string(),
            types: options.types,
            shapes: Vec::new(),
            edges: Vec::new(),
            clusters: Vec::new(),
            order: Vec::new(),
            used: HashSet::new(),
        };
        scene.draw(pipeline, &[], None, options.depth, &BTreeMap::new());
        scene
    }

    /// A unique id: `prefix` and the scoped, sanitised name.
    fn id(&mut self, prefix: &str, path: &[&str], name: &str) -> String {
        let mut id = String::from(prefix);
        id.push('_');
        for (k, segment) in path.iter().copied().chain([name]).enumerate() {
            if k > 0 {
                id.push_str("__");
            }
            for c in segment.chars() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    id.push(c);
                } else {
                    let _ = write!(id, "_{:x}_", c as u32);
                }
            }
        }
        let mut unique = id.clone();
        let mut n = 1;
        while !self.used.insert(unique.clone()) {
            n += 1;
            unique = format!("{id}_{n}");
        }
        unique
    }

    fn shape(&mut self, prefix: &str, path: &[&str], kind: Kind, lines: Vec<String>, cluster: Option<usize>) -> usize {
        let id = self.id(prefix, path, &lines[0]);
        self.shapes.push(Shape {
            id,
            kind,
            lines,
            cluster,
        });
        self.order.push(Item::Shape(self.shapes.len() - 1));
        self.shapes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, label: Vec<String>) {
        self.edges.push(Edge { from, to, label });
    }

    /// A type label, when types are shown.
    fn typed(&self, ty: String) -> Vec<String> {
        if self.types { vec![ty] } else { Vec::new() }
    }

    /// Draws `pipeline` (at `path`, inside `cluster`); `feeds` maps inner inputs to the
    /// outer values feeding them and the edge label. Returns the value shape of each name.
    fn draw(
        &mut self,
        pipeline: &Pipeline,
        path: &[&str],
        cluster: Option<usize>,
        depth: usize,
        feeds: &BTreeMap<String, (usize, Vec<String>)>,
    ) -> BTreeMap<String, usize> {
        let mut values: BTreeMap<String, usize> = BTreeMap::new();
        for name in pipeline.inputs() {
            let (kind, lines) = if pipeline.bound_inputs().contains(name) {
                (Kind::Bound, vec![name.to_string(), "(bound)".to_string()])
            } else {
                (Kind::Input, vec![name.to_string()])
            };
            let v = self.shape("v", path, kind, lines, cluster);
            if let Some((outer, label)) = feeds.get(name) {
                self.edge(*outer, v, label.clone());
            }
            values.insert(name.to_string(), v);
        }
        let consumed: HashSet<&str> = pipeline
            .nodes()
            .iter()
            .flat_map(|n| n.params().iter().map(|p| p.name()))
            .collect();
        let value_kind = |name: &str| {
            if consumed.contains(name) {
                Kind::Value
            } else {
                Kind::Output
            }
        };

        for node in pipeline.nodes() {
            let nested: Option<&NestedNode> = NestedNode::of(node);
            // The value read by each parameter; a name nothing produced is an input
            // (every name is: the pipeline validated it), drawn once.
            let mut read = Vec::new();
            for port in node.params() {
                let v = match values.get(port.name()) {
                    Some(&v) => v,
                    None => {
                        let v = self.shape("v", path, Kind::Input, vec![port.name().to_string()], cluster);
                        values.insert(port.name().to_string(), v);
                        v
                    }
                };
                read.push(v);
            }
            let is_input = |name: &str| pipeline.input_type(name).is_some();

            if let Some(nested) = nested.filter(|_| depth > 0) {
                let lines = nested_lines(nested);
                let id = self.id("cluster", path, node.name());
                self.clusters.push(Cluster {
                    id,
                    lines,
                    parent: cluster,
                });
                let c = self.clusters.len() - 1;
                self.order.push(Item::Cluster(c));
                let mut feeds = BTreeMap::new();
                for ((port, inner), &v) in nested.params().iter().zip(nested.inner_params()).zip(&read) {
                    let mut label = if is_input(port.name()) {
                        self.typed(port.type_info().name())
                    } else {
                        Vec::new()
                    };
                    if inner != port.name() {
                        label.push(format!("{inner} ← {}", port.name()));
                    }
                    feeds.insert(inner.clone(), (v, label));
                }
                let mut inner_path = path.to_vec();
                inner_path.push(node.name());
                let inner = self.draw(nested.pipeline(), &inner_path, Some(c), depth - 1, &feeds);
                for (port, inner_name) in nested.outputs().iter().zip(nested.inner_outputs()) {
                    let v = self.shape(
                        "v",
                        path,
                        value_kind(port.name()),
                        vec![port.name().to_string()],
                        cluster,
                    );
                    let mut label = self.typed(port.type_info().name());
                    if inner_name != port.name() {
                        label.push(format!("{} ← {inner_name}", port.name()));
                    }
                    if let Some(&from) = inner.get(inner_name) {
                        self.edge(from, v, label);
                    }
                    values.insert(port.name().to_string(), v);
                }
                continue;
            }

            let (kind, lines) = match nested {
                Some(n) => (Kind::Nested, nested_lines(n)),
                None => (Kind::Function, vec![node.name().to_string()]),
            };
            let n = self.shape("n", path, kind, lines, cluster);
            for (i, (port, &v)) in node.params().iter().zip(&read).enumerate() {
                let mut label = if is_input(port.name()) {
                    self.typed(port.type_info().name())
                } else {
                    Vec::new()
                };
                if let Some(inner) = nested.map(|x| &x.inner_params()[i]).filter(|i| *i != port.name()) {
                    label.push(format!("{inner} ← {}", port.name()));
                }
                self.edge(v, n, label);
            }
            for (i, port) in node.outputs().iter().enumerate() {
                let v = self.shape(
                    "v",
                    path,
                    value_kind(port.name()),
                    vec![port.name().to_string()],
                    cluster,
                );
                let mut label = self.typed(port.type_info().name());
                if let Some(inner) = nested.map(|x| &x.inner_outputs()[i]).filter(|i| *i != port.name()) {
                    label.push(format!("{} ← {inner}", port.name()));
                }
                self.edge(n, v, label);
                values.insert(port.name().to_string(), v);
            }
        }
        values
    }

    /// Whether a shape in `cluster` is inside cluster `c` (in it or in a cluster in it).
    pub(super) fn inside(&self, mut cluster: Option<usize>, c: usize) -> bool {
        while let Some(k) = cluster {
            if k == c {
                return true;
            }
            cluster = self.clusters[k].parent;
        }
        false
    }
}

/// The name of a nested node, its pipeline's name, and what it maps over (outer names).
fn nested_lines(nested: &NestedNode) -> Vec<String> {
    let mut lines = vec![nested.name().to_string()];
    if let Some(name) = nested.pipeline().name() {
        lines.push(format!("pipeline: {name}"));
    }
    if !nested.map_over().is_empty() {
        let outer: Vec<&str> = nested
            .map_over()
            .iter()
            .map(|inner| {
                nested
                    .inner_params()
                    .iter()
                    .position(|i| i == inner)
                    .map_or(inner.as_str(), |k| nested.params()[k].name())
            })
            .collect();
        lines.push(format!("map_over: {} ({})", outer.join(", "), nested.mode()));
    }
    lines
}
