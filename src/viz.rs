//! Pictures of pipelines: Graphviz DOT, Mermaid and SVG, the SVG laid out in pure Rust.
//!
//! [`Pipeline::to_dot`], [`Pipeline::to_mermaid`] and [`Pipeline::to_svg`] draw the same
//! picture, built once from the pipeline (the shapes named are the SVG's; DOT and
//! Mermaid use their nearest ones, with the same colours):
//!
//! - every **value** is one node: a pipeline input (a pill), a bound input (a dashed grey
//!   pill marked `(bound)`), a value that a node produces and another reads (a rounded
//!   box) or an output nothing in its pipeline reads (a bold green rounded box);
//! - every **function node** is a box, with edges from the values it reads and to the
//!   values it produces; edges carry the Rust type of the value (where it is produced,
//!   and where an input is read);
//! - a **nested pipeline** ([`Pipeline::as_node`]) is one node (a 3-D box) naming its
//!   `map_over` and mode, or, expanded to [`VizOptions::with_depth`] levels, a cluster
//!   holding the inner pipeline's own picture, with edges from the outer values into the
//!   inner inputs and from the inner outputs to the outer values. Edges where a mapping
//!   renames a value say so as `fed ← from` (`sentence ← sentences`).
//!
//! Ids are derived from names and scoped by the path of nested nodes
//! (`v_per_sentence__tokens` is the value `tokens` inside the node `per_sentence`,
//! `v_tokens` the outer one; `n_` marks function nodes, `cluster_` expanded pipelines).
//! Characters other than ASCII letters, digits and `_` become `_<hex>_`; if two different
//! names still give the same id (names written to collide), the later one in drawing
//! order gets `_2`, `_3`, ... The output depends only on the pipeline: the same
//! pipeline gives the same text, byte for byte, in every run.
//!
//! # Layout engine
//!
//! The SVG is laid out by the [`dagre`](https://docs.rs/dagre) crate, a port of
//! dagre.js (the layered Sugiyama layout behind Mermaid's flowcharts) cross-validated
//! against it, with network-simplex ranking, crossing minimisation and Brandes–Köpf
//! placement. It was chosen over `layout-rs` (which lays out and writes SVG itself)
//! because `layout-rs` has no clusters (its DOT reader flattens subgraphs), and expanded
//! nested pipelines must be drawn as clusters; `dagre` lays out compound graphs and
//! places edge labels, and it is small: `log`, `serde` and `serde_json` (0.1.2 does not
//! build without its default `json` feature), all already in the default build (the
//! core alone gains `serde_json`). Over `dugong` (another dagre port) because that one
//! needs Rust 1.95, newer than this crate's 1.94, and brings `hashbrown` and
//! `rustc-hash`. This module only draws the boxes, texts and edge paths at the
//! coordinates `dagre` computes.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::nested::NestedNode;
use crate::node::NodeKind;
use crate::pipeline::Pipeline;

/// What a picture shows: how deep nested pipelines are expanded, whether edges carry types.
///
/// # Examples
///
/// ```
/// use hypernodes::viz::VizOptions;
///
/// let opts = VizOptions::new().with_depth(1).with_types(false);
/// assert_eq!(opts.depth(), 1);
/// assert!(!opts.types());
/// assert_eq!(VizOptions::new().depth(), 0); // nested pipelines collapsed
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VizOptions {
    depth: usize,
    types: bool,
}

impl Default for VizOptions {
    fn default() -> Self {
        VizOptions { depth: 0, types: true }
    }
}

impl VizOptions {
    /// Nested pipelines collapsed, types on edges.
    pub fn new() -> Self {
        Self::default()
    }

    /// Expands nested pipelines `depth` levels deep (0: each is one node; 1: the
    /// pipelines nested in this one are drawn as clusters, theirs collapsed; and so on).
    /// `usize::MAX` expands everything.
    pub fn with_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Whether edges carry the Rust type of their value (default `true`).
    pub fn with_types(mut self, types: bool) -> Self {
        self.types = types;
        self
    }

    /// How many levels of nested pipelines are expanded.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether edges carry types.
    pub fn types(&self) -> bool {
        self.types
    }
}

/// A picture format: Graphviz DOT, Mermaid flowchart or SVG.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use hypernodes::viz::VizFormat;
///
/// assert_eq!("mermaid".parse::<VizFormat>()?, VizFormat::Mermaid);
/// assert_eq!(VizFormat::from_path(Path::new("graph.svg"))?, VizFormat::Svg);
/// assert_eq!(VizFormat::from_path(Path::new("graph.gv"))?, VizFormat::Dot);
///
/// let err = "png".parse::<VizFormat>().unwrap_err();
/// assert_eq!(err.to_string(), "Unknown picture format 'png'. Formats: dot, mermaid, svg");
/// let err = VizFormat::from_path(Path::new("graph.png")).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Cannot tell the picture format of 'graph.png' from its extension (.dot, .gv, .mmd, .mermaid, .svg): pass the format"
/// );
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VizFormat {
    /// Graphviz DOT ([`Pipeline::to_dot`]).
    Dot,
    /// A Mermaid flowchart ([`Pipeline::to_mermaid`]).
    Mermaid,
    /// SVG ([`Pipeline::to_svg`]).
    Svg,
}

impl VizFormat {
    /// The format a file name's extension names: `.dot` / `.gv`, `.mmd` / `.mermaid`, `.svg`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for any other extension, or none.
    pub fn from_path(path: &Path) -> Result<VizFormat> {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("dot" | "gv") => Ok(VizFormat::Dot),
            Some("mmd" | "mermaid") => Ok(VizFormat::Mermaid),
            Some("svg") => Ok(VizFormat::Svg),
            _ => Err(Error::Invalid(format!(
                "Cannot tell the picture format of '{}' from its extension (.dot, .gv, .mmd, .mermaid, .svg): pass the format",
                path.display()
            ))),
        }
    }

    /// The picture of `pipeline` in this format.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::viz::{VizFormat, VizOptions};
    ///
    /// #[node(output = "y")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let p = Pipeline::new([double::node()]);
    /// let text = VizFormat::Mermaid.render(&p, &VizOptions::new())?;
    /// assert_eq!(text, p.to_mermaid(&VizOptions::new()));
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Pipeline::to_svg`] for SVG; never for DOT and Mermaid.
    pub fn render(self, pipeline: &Pipeline, options: &VizOptions) -> Result<String> {
        match self {
            VizFormat::Dot => Ok(pipeline.to_dot(options)),
            VizFormat::Mermaid => Ok(pipeline.to_mermaid(options)),
            VizFormat::Svg => pipeline.to_svg(options),
        }
    }
}

impl fmt::Display for VizFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VizFormat::Dot => "dot",
            VizFormat::Mermaid => "mermaid",
            VizFormat::Svg => "svg",
        })
    }
}

impl FromStr for VizFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<VizFormat> {
        match s {
            "dot" => Ok(VizFormat::Dot),
            "mermaid" => Ok(VizFormat::Mermaid),
            "svg" => Ok(VizFormat::Svg),
            _ => Err(Error::Invalid(format!(
                "Unknown picture format '{s}'. Formats: dot, mermaid, svg"
            ))),
        }
    }
}

impl Pipeline {
    /// The pipeline as a Graphviz DOT digraph; see [the module docs](crate::viz) for
    /// what is drawn how. Render it with `dot -Tsvg`, or use [`Pipeline::to_svg`].
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::viz::VizOptions;
    ///
    /// #[node(output = "sum")]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// let p = Pipeline::new([add::node()]).bind(Inputs::new().with("b", 1_i64))?;
    /// let dot = p.to_dot(&VizOptions::new());
    /// assert!(dot.starts_with("digraph \"pipeline\" {"));
    /// assert!(dot.contains("\"v_b\" [label=\"b\\n(bound)\""));
    /// assert!(dot.contains("\"n_add\" -> \"v_sum\" [label=\"i64\"];"));
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    pub fn to_dot(&self, options: &VizOptions) -> String {
        Scene::new(self, options).dot()
    }

    /// The pipeline as a Mermaid flowchart (`flowchart TD`), for Markdown that renders
    /// Mermaid; see [the module docs](crate::viz) for what is drawn how.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::viz::VizOptions;
    ///
    /// #[node(output = "sum")]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// let mermaid = Pipeline::new([add::node()]).to_mermaid(&VizOptions::new());
    /// assert!(mermaid.starts_with("flowchart TD\n"));
    /// assert!(mermaid.contains("  v_a([\"a\"]):::input\n"));
    /// assert!(mermaid.contains("  n_add -->|\"i64\"| v_sum\n"));
    /// ```
    pub fn to_mermaid(&self, options: &VizOptions) -> String {
        Scene::new(self, options).mermaid()
    }

    /// The pipeline as a standalone SVG document, laid out in-process (no Graphviz
    /// needed); see [the module docs](crate::viz) for the layout engine.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::viz::VizOptions;
    ///
    /// #[node(output = "sum")]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// let svg = Pipeline::new([add::node()]).to_svg(&VizOptions::new())?;
    /// assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    /// assert!(svg.contains("<g id=\"n_add\" class=\"node function\">"));
    /// assert!(svg.trim_end().ends_with("</svg>"));
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the layout engine fails (a bug in it, reported rather than
    /// panicking).
    pub fn to_svg(&self, options: &VizOptions) -> Result<String> {
        Scene::new(self, options).svg(self.name().unwrap_or("pipeline"))
    }
}

// ---------------------------------------------------------------------------------------
// The picture, independent of the format.

/// A laid-out picture: dagre's graph with coordinates.
type Layout = dagre::graph::Graph<dagre::NodeLabel, dagre::EdgeLabel>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
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
    fn class(self) -> &'static str {
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

struct Shape {
    id: String,
    kind: Kind,
    /// The name first, then notes.
    lines: Vec<String>,
    cluster: Option<usize>,
}

struct Edge {
    from: usize,
    to: usize,
    label: Vec<String>,
}

struct Cluster {
    id: String,
    lines: Vec<String>,
    parent: Option<usize>,
}

/// Shapes and clusters in drawing order.
#[derive(Clone, Copy)]
enum Item {
    Shape(usize),
    Cluster(usize),
}

struct Scene {
    title: String,
    types: bool,
    shapes: Vec<Shape>,
    edges: Vec<Edge>,
    clusters: Vec<Cluster>,
    order: Vec<Item>,
    used: HashSet<String>,
}

impl Scene {
    fn new(pipeline: &Pipeline, options: &VizOptions) -> Scene {
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
        if self.types {
            vec![ty]
        } else {
            Vec::new()
        }
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
            let nested: Option<&NestedNode> = match node.kind() {
                NodeKind::Nested(n) => Some(n),
                NodeKind::Func(_) => None,
            };
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
    fn inside(&self, mut cluster: Option<usize>, c: usize) -> bool {
        while let Some(k) = cluster {
            if k == c {
                return true;
            }
            cluster = self.clusters[k].parent;
        }
        false
    }

    // -- DOT ----------------------------------------------------------------------------

    fn dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", dot_quote(&self.title));
        out.push_str(
            "  graph [rankdir=TB, compound=true, fontname=\"Helvetica\", fontsize=12, nodesep=0.4, ranksep=0.45];\n",
        );
        out.push_str("  node [fontname=\"Helvetica\", fontsize=12, penwidth=1.2];\n");
        out.push_str("  edge [fontname=\"Courier\", fontsize=10, color=\"#475569\", fontcolor=\"#334155\"];\n");
        self.dot_block(&mut out, None, 1);
        for e in &self.edges {
            let _ = write!(
                out,
                "  {} -> {}",
                dot_quote(&self.shapes[e.from].id),
                dot_quote(&self.shapes[e.to].id)
            );
            if !e.label.is_empty() {
                let _ = write!(out, " [label={}]", dot_quote(&e.label.join("\n")));
            }
            out.push_str(";\n");
        }
        out.push_str("}\n");
        out
    }

    fn dot_block(&self, out: &mut String, cluster: Option<usize>, indent: usize) {
        let pad = "  ".repeat(indent);
        for item in &self.order {
            match *item {
                Item::Shape(i) if self.shapes[i].cluster == cluster => {
                    let s = &self.shapes[i];
                    let _ = writeln!(
                        out,
                        "{pad}{} [label={}, {}];",
                        dot_quote(&s.id),
                        dot_quote(&s.lines.join("\n")),
                        dot_style(s.kind)
                    );
                }
                Item::Cluster(c) if self.clusters[c].parent == cluster => {
                    let k = &self.clusters[c];
                    let _ = writeln!(out, "{pad}subgraph {} {{", dot_quote(&k.id));
                    let _ = writeln!(
                        out,
                        "{pad}  graph [label={}, style=\"rounded,filled\", fillcolor=\"#f5f3ff\", color=\"#7c3aed\", fontcolor=\"#5b21b6\"];",
                        dot_quote(&k.lines.join("\n"))
                    );
                    self.dot_block(out, Some(c), indent + 1);
                    let _ = writeln!(out, "{pad}}}");
                }
                _ => {}
            }
        }
    }

    // -- Mermaid ------------------------------------------------------------------------

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        self.mermaid_block(&mut out, None, 1);
        for e in &self.edges {
            let (from, to) = (&self.shapes[e.from].id, &self.shapes[e.to].id);
            if e.label.is_empty() {
                let _ = writeln!(out, "  {from} --> {to}");
            } else {
                let _ = writeln!(out, "  {from} -->|\"{}\"| {to}", mermaid_text(&e.label));
            }
        }
        for (class, style) in [
            ("input", "fill:#dbeafe,stroke:#2563eb,color:#0f172a"),
            (
                "bound",
                "fill:#f1f5f9,stroke:#64748b,stroke-dasharray:4 3,color:#334155",
            ),
            ("value", "fill:#ffffff,stroke:#94a3b8,color:#0f172a"),
            ("output", "fill:#dcfce7,stroke:#16a34a,stroke-width:2px,color:#0f172a"),
            ("function", "fill:#fef3c7,stroke:#d97706,color:#0f172a"),
            ("nested", "fill:#ede9fe,stroke:#7c3aed,color:#0f172a"),
        ] {
            let _ = writeln!(out, "  classDef {class} {style}");
        }
        if !self.clusters.is_empty() {
            let ids: Vec<&str> = self.clusters.iter().map(|c| c.id.as_str()).collect();
            let _ = writeln!(out, "  style {} fill:#f5f3ff,stroke:#7c3aed", ids.join(","));
        }
        out
    }

    fn mermaid_block(&self, out: &mut String, cluster: Option<usize>, indent: usize) {
        let pad = "  ".repeat(indent);
        for item in &self.order {
            match *item {
                Item::Shape(i) if self.shapes[i].cluster == cluster => {
                    let s = &self.shapes[i];
                    let text = mermaid_text(&s.lines);
                    let (open, close) = match s.kind {
                        Kind::Input | Kind::Bound => ("([", "])"),
                        Kind::Value => ("(", ")"),
                        Kind::Output => ("[/", "/]"),
                        Kind::Function => ("[", "]"),
                        Kind::Nested => ("[[", "]]"),
                    };
                    let _ = writeln!(out, "{pad}{}{open}\"{text}\"{close}:::{}", s.id, s.kind.class());
                }
                Item::Cluster(c) if self.clusters[c].parent == cluster => {
                    let k = &self.clusters[c];
                    let _ = writeln!(out, "{pad}subgraph {}[\"{}\"]", k.id, mermaid_text(&k.lines));
                    self.mermaid_block(out, Some(c), indent + 1);
                    let _ = writeln!(out, "{pad}end");
                }
                _ => {}
            }
        }
    }

    // -- SVG ----------------------------------------------------------------------------

    /// Lays the picture out with dagre: shapes, clusters (with a title node each) and
    /// edges with room for their labels.
    fn layout(&self, name: &str) -> Result<Layout> {
        use dagre::graph::{Graph, GraphOptions};
        use dagre::layout::types::LabelPos;
        use dagre::{EdgeLabel, LayoutOptions, NodeLabel};

        let mut g: Graph<NodeLabel, EdgeLabel> = Graph::with_options(GraphOptions {
            directed: true,
            multigraph: true,
            compound: true,
        });
        for item in &self.order {
            match *item {
                Item::Shape(i) => {
                    let s = &self.shapes[i];
                    let (w, h) = shape_size(s);
                    g.set_node(
                        s.id.clone(),
                        Some(NodeLabel {
                            width: w,
                            height: h,
                            ..NodeLabel::default()
                        }),
                    );
                    if let Some(c) = s.cluster {
                        g.set_parent(&s.id, Some(&self.clusters[c].id));
                    }
                }
                Item::Cluster(c) => {
                    let k = &self.clusters[c];
                    g.set_node(k.id.clone(), Some(NodeLabel::default()));
                    if let Some(p) = k.parent {
                        g.set_parent(&k.id, Some(&self.clusters[p].id));
                    }
                }
            }
        }
        // Each cluster's title is a node of the layout too, above everything inside the
        // cluster that is fed from outside it, so that no node or edge covers the title.
        // (`#` is in no shape's or cluster's id.)
        let title_id = |c: usize| format!("{}#title", self.clusters[c].id);
        for (c, k) in self.clusters.iter().enumerate() {
            let (w, h) = title_size(&k.lines);
            g.set_node(
                title_id(c),
                Some(NodeLabel {
                    width: w,
                    height: h,
                    ..NodeLabel::default()
                }),
            );
            g.set_parent(&title_id(c), Some(&k.id));
            if let Some(p) = k.parent {
                g.set_edge(title_id(p), title_id(c), Some(EdgeLabel::default()), Some("title"));
            }
        }
        for (i, shape) in self.shapes.iter().enumerate() {
            let Some(c) = shape.cluster else { continue };
            let fed_inside = self
                .edges
                .iter()
                .any(|e| e.to == i && self.inside(self.shapes[e.from].cluster, c));
            if !fed_inside {
                g.set_edge(title_id(c), shape.id.clone(), Some(EdgeLabel::default()), Some("title"));
            }
        }
        for (i, e) in self.edges.iter().enumerate() {
            let (w, h) = label_size(&e.label);
            g.set_edge(
                self.shapes[e.from].id.clone(),
                self.shapes[e.to].id.clone(),
                Some(EdgeLabel {
                    width: w,
                    height: h,
                    labelpos: LabelPos::Center,
                    ..EdgeLabel::default()
                }),
                Some(&i.to_string()),
            );
        }
        let options = LayoutOptions {
            nodesep: 30.0,
            edgesep: 12.0,
            ranksep: 36.0,
            marginx: MARGIN,
            marginy: MARGIN,
            ..LayoutOptions::default()
        };
        // A bug in the layout engine becomes an error, not a panic in the caller.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dagre::layout(&mut g, Some(options)))).map_err(
            |panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Error::Invalid(format!(
                    "Cannot lay out the picture of pipeline '{name}': the layout engine failed ({message})"
                ))
            },
        )?;
        Ok(g)
    }

    /// The SVG document: a white ground, clusters, edges, shapes.
    fn svg(&self, name: &str) -> Result<String> {
        let g = self.layout(name)?;
        let (width, height) = g
            .graph_label::<dagre::GraphLabel>()
            .map_or((0.0, 0.0), |l| (l.width, l.height));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{SANS}\">",
            w = num(width + MARGIN),
            h = num(height + MARGIN)
        );
        let _ = writeln!(out, "<title>{}</title>", xml(&self.title));
        out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#475569\"/></marker></defs>\n");
        let _ = writeln!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
            num(width + MARGIN),
            num(height + MARGIN)
        );

        // Clusters first (outer before inner: creation order), then edges, then shapes.
        for k in &self.clusters {
            self.svg_cluster(&mut out, &g, k);
        }
        for (i, e) in self.edges.iter().enumerate() {
            self.svg_edge(&mut out, &g, i, e);
        }
        for s in &self.shapes {
            self.svg_shape(&mut out, &g, s);
        }
        out.push_str("</svg>\n");
        Ok(out)
    }

    /// A cluster: its box and its title, centred on the title node of the layout.
    fn svg_cluster(&self, out: &mut String, g: &Layout, k: &Cluster) {
        let Some(n) = g.node(&k.id) else { return };
        let (x, y) = (n.x.unwrap_or(0.0), n.y.unwrap_or(0.0));
        let (left, top) = (x - n.width / 2.0, y - n.height / 2.0);
        let _ = writeln!(out, "<g id=\"{}\" class=\"cluster\">", k.id);
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\" fill=\"#f5f3ff\" stroke=\"#7c3aed\" stroke-width=\"1.2\"/>",
            num(left),
            num(top),
            num(n.width),
            num(n.height)
        );
        let title = g.node(&format!("{}#title", k.id));
        let (tx, ty) = title.map_or((x, top + 12.0), |t| (t.x.unwrap_or(x), t.y.unwrap_or(top + 12.0)));
        let first = ty - (k.lines.len() - 1) as f64 * TITLE_LINE / 2.0;
        for (j, line) in k.lines.iter().enumerate() {
            let weight = if j == 0 { " font-weight=\"bold\"" } else { "" };
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"{NOTE_PX}\" fill=\"#5b21b6\" text-anchor=\"middle\"{weight}>{}</text>",
                num(tx),
                num(first + j as f64 * TITLE_LINE + NOTE_PX * BASELINE),
                xml(line)
            );
        }
        out.push_str("</g>\n");
    }

    /// Edge `i`: its path through dagre's points and its label on a white ground.
    fn svg_edge(&self, out: &mut String, g: &Layout, i: usize, e: &Edge) {
        let (from, to) = (&self.shapes[e.from].id, &self.shapes[e.to].id);
        let Some(label) = g.edge(from, to, Some(&i.to_string())) else {
            return;
        };
        let _ = writeln!(out, "<g class=\"edge\" data-from=\"{from}\" data-to=\"{to}\">");
        let _ = writeln!(
            out,
            "<path d=\"{}\" fill=\"none\" stroke=\"#475569\" stroke-width=\"1.3\" marker-end=\"url(#arrow)\"/>",
            smooth_path(&label.points)
        );
        if !e.label.is_empty() {
            let (w, h) = label_size(&e.label);
            let (x, y) = (label.x.unwrap_or(0.0), label.y.unwrap_or(0.0));
            let _ = writeln!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/>",
                num(x - w / 2.0),
                num(y - h / 2.0),
                num(w),
                num(h)
            );
            for (j, line) in e.label.iter().enumerate() {
                let dy = (j as f64 - (e.label.len() - 1) as f64 / 2.0) * LABEL_LINE;
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" font-family=\"{MONO}\" font-size=\"{LABEL_PX}\" fill=\"#334155\" text-anchor=\"middle\">{}</text>",
                    num(x),
                    num(y + dy + LABEL_PX * BASELINE),
                    xml(line)
                );
            }
        }
        out.push_str("</g>\n");
    }

    /// A shape: its outline by kind and its lines of text, the name first.
    fn svg_shape(&self, out: &mut String, g: &Layout, s: &Shape) {
        let Some(n) = g.node(&s.id) else { return };
        let (x, y) = (n.x.unwrap_or(0.0), n.y.unwrap_or(0.0));
        let (w, h) = (n.width, n.height);
        let (left, top) = (x - w / 2.0, y - h / 2.0);
        let _ = writeln!(out, "<g id=\"{}\" class=\"node {}\">", s.id, s.kind.class());
        let rect = |rx: f64, fill: &str, stroke: &str, extra: &str| {
            format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\"{extra}/>\n",
                num(left),
                num(top),
                num(w),
                num(h),
                num(rx)
            )
        };
        match s.kind {
            Kind::Input => out.push_str(&rect(h / 2.0, "#dbeafe", "#2563eb", " stroke-width=\"1.3\"")),
            Kind::Bound => out.push_str(&rect(
                h / 2.0,
                "#f1f5f9",
                "#64748b",
                " stroke-width=\"1.3\" stroke-dasharray=\"5 3\"",
            )),
            Kind::Value => out.push_str(&rect(6.0, "#ffffff", "#94a3b8", " stroke-width=\"1.3\"")),
            Kind::Output => out.push_str(&rect(6.0, "#dcfce7", "#16a34a", " stroke-width=\"2.4\"")),
            Kind::Function => out.push_str(&rect(2.0, "#fef3c7", "#d97706", " stroke-width=\"1.3\"")),
            Kind::Nested => {
                // A 3-D box: a shadow box behind, offset up and right.
                let _ = writeln!(
                    out,
                    "<path d=\"M{l},{t} l4,-4 h{w} v{h} l-4,4\" fill=\"#ddd6fe\" stroke=\"#7c3aed\" stroke-width=\"1.3\"/>",
                    l = num(left),
                    t = num(top),
                    w = num(w),
                    h = num(h)
                );
                out.push_str(&rect(2.0, "#ede9fe", "#7c3aed", " stroke-width=\"1.3\""));
            }
        }
        let first = y - (s.lines.len() - 1) as f64 * NOTE_LINE / 2.0;
        for (j, line) in s.lines.iter().enumerate() {
            let px = if j == 0 { NAME_PX } else { NOTE_PX };
            let style = if j == 0 {
                let weight = if matches!(s.kind, Kind::Function | Kind::Nested) {
                    " font-weight=\"bold\""
                } else {
                    ""
                };
                format!("font-size=\"{px}\" fill=\"#0f172a\"{weight}")
            } else {
                format!("font-size=\"{px}\" fill=\"#475569\"")
            };
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" {style} text-anchor=\"middle\">{}</text>",
                num(x),
                num(first + j as f64 * NOTE_LINE + px * BASELINE),
                xml(line)
            );
        }
        out.push_str("</g>\n");
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

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot_style(kind: Kind) -> &'static str {
    match kind {
        Kind::Input => "shape=ellipse, style=filled, fillcolor=\"#dbeafe\", color=\"#2563eb\"",
        Kind::Bound => "shape=ellipse, style=\"filled,dashed\", fillcolor=\"#f1f5f9\", color=\"#64748b\"",
        Kind::Value => "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#94a3b8\"",
        Kind::Output => "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#dcfce7\", color=\"#16a34a\"",
        Kind::Function => "shape=box, style=filled, fillcolor=\"#fef3c7\", color=\"#d97706\"",
        Kind::Nested => "shape=box3d, style=filled, fillcolor=\"#ede9fe\", color=\"#7c3aed\"",
    }
}

/// Lines as the text of a Mermaid label inside double quotes: entity codes for the
/// characters Mermaid or its HTML labels would read, `<br/>` between lines.
fn mermaid_text(lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("<br/>");
        }
        for c in line.chars() {
            match c {
                '"' => out.push_str("#quot;"),
                '<' => out.push_str("#lt;"),
                '>' => out.push_str("#gt;"),
                '#' => out.push_str("#35;"),
                '&' => out.push_str("#amp;"),
                '\n' | '\r' => out.push(' '),
                c => out.push(c),
            }
        }
    }
    out
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal, without a trailing `.0`.
fn num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// An edge through dagre's points: straight at the ends, curved through the bends.
fn smooth_path(points: &[dagre::Point]) -> String {
    let mut d = String::new();
    let Some(first) = points.first() else { return d };
    let _ = write!(d, "M{},{}", num(first.x), num(first.y));
    if points.len() <= 2 {
        for p in &points[1..] {
            let _ = write!(d, " L{},{}", num(p.x), num(p.y));
        }
        return d;
    }
    // Quadratic curves with the bends as control points, between the midpoints.
    for pair in points[1..points.len() - 1].windows(2) {
        let (c, next) = (&pair[0], &pair[1]);
        let _ = write!(
            d,
            " Q{},{} {},{}",
            num(c.x),
            num(c.y),
            num((c.x + next.x) / 2.0),
            num((c.y + next.y) / 2.0)
        );
    }
    let (c, last) = (&points[points.len() - 2], &points[points.len() - 1]);
    let _ = write!(d, " Q{},{} {},{}", num(c.x), num(c.y), num(last.x), num(last.y));
    d
}

const SANS: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";
const MONO: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";
const NAME_PX: f64 = 14.0;
const NOTE_PX: f64 = 12.0;
const LABEL_PX: f64 = 11.0;
const NOTE_LINE: f64 = 16.0;
const LABEL_LINE: f64 = 13.0;
const MARGIN: f64 = 12.0;
const TITLE_LINE: f64 = 15.0;
/// From the middle of a line of text to its baseline, in em (explicit, as not every
/// renderer honours `dominant-baseline`).
const BASELINE: f64 = 0.35;

/// Text widths are estimated from character counts (no font is read): generous for a
/// proportional sans font (DejaVu Sans, the widest common one, averages about 0.6 em
/// for the lower-case names pipelines use), exact for a monospaced one (0.6 em).
fn text_width(s: &str, px: f64) -> f64 {
    s.chars().count() as f64 * px * 0.62
}

fn shape_size(s: &Shape) -> (f64, f64) {
    let mut w: f64 = 0.0;
    for (j, line) in s.lines.iter().enumerate() {
        let width = if j > 0 {
            text_width(line, NOTE_PX)
        } else if matches!(s.kind, Kind::Function | Kind::Nested) {
            // Drawn bold: about a tenth wider.
            text_width(line, NAME_PX) * 1.1
        } else {
            text_width(line, NAME_PX)
        };
        w = w.max(width);
    }
    let h = 16.0 + s.lines.len() as f64 * NOTE_LINE;
    let pad = match s.kind {
        // Room for the round ends.
        Kind::Input | Kind::Bound => 20.0 + h / 2.0,
        _ => 24.0,
    };
    ((w + pad).max(60.0).round(), h.round())
}

fn title_size(lines: &[String]) -> (f64, f64) {
    let w = lines.iter().map(|l| text_width(l, NOTE_PX)).fold(0.0, f64::max);
    ((w + 16.0).round(), (lines.len() as f64 * TITLE_LINE).round())
}

fn label_size(lines: &[String]) -> (f64, f64) {
    if lines.is_empty() {
        return (0.0, 0.0);
    }
    let w = lines.iter().map(|l| text_width(l, LABEL_PX)).fold(0.0, f64::max);
    ((w + 8.0).round(), (lines.len() as f64 * LABEL_LINE + 4.0).round())
}
