//! Pictures of pipelines: Graphviz DOT, Mermaid, SVG (laid out in pure Rust) and JSON,
//! all from one public model, [`Graph`].
//!
//! [`Graph::new`] builds the picture of a pipeline once, as data: [`Node`]s of a
//! [`NodeKind`] and [`Edge`]s with types and mappings. [`Graph::to_dot`],
//! [`Graph::to_mermaid`], [`Graph::to_svg`] and [`Graph::to_json`] write it
//! ([`Pipeline::to_dot`] and the other [`Draw`] methods are shorthands); what is drawn
//! how (the shapes named are the SVG's; DOT and Mermaid use their nearest ones, with the
//! same colours):
//!
//! - every **value** is one node: a pipeline input (a pill), a bound input (a dashed grey
//!   pill marked `(bound)`), a value that a node produces and another reads (a rounded
//!   box) or an output nothing reads (a bold green rounded box). With
//!   [`VizOptions::with_grouped`] the values a node produces are drawn inside its box
//!   instead, one row each ([`Node::outputs`]), and edges leave the row of their value;
//! - every **function node** is a box, with edges from the values it reads and to the
//!   values it produces; a **dual node** (a batch implementation besides the per-item
//!   function, `#[node(batch = ...)]`) is an orange box with a double outline (a hexagon
//!   in Mermaid). Edges carry the Rust type of the value where it enters the picture or
//!   leaves its producer;
//! - a **nested pipeline** ([`Pipeline::as_node`]) is one node (a 3-D box) naming its
//!   pipeline, `map_over` and mode, with only the outputs a run computes (those the outer
//!   pipeline reads, or all of them when it reads none); or, expanded to
//!   [`VizOptions::with_depth`] levels, a cluster holding the inner pipeline's own
//!   picture, wired straight to the outside: the outer value (or its producer) feeds the
//!   inner nodes that read it, and an inner node produces the outer value, each drawn
//!   once. Where a mapping renames a value, its edge says so, `fed ← from`
//!   (`sentence ← sentences`).
//!
//! Ids are derived from names and scoped by the path of nested nodes
//! (`v_per_doc__stripped` is the value `stripped` inside the expanded node `per_doc`,
//! `v_stripped` an outer one; `n_` marks function nodes, `cluster_` expanded pipelines;
//! a value an expanded pipeline gives back is the outer one, `v_` and its outer name).
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

mod build;
mod dot;
mod graph;
mod layout;
mod mermaid;
mod svg;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;

pub use self::graph::{Edge, Graph, Nested, Node, NodeKind, Port};

/// What a picture shows: how deep nested pipelines are expanded, whether edges carry
/// types, whether values are drawn inside their producers' boxes.
///
/// # Examples
///
/// ```
/// use hypernodes::viz::VizOptions;
///
/// let opts = VizOptions::new().with_depth(1).with_types(false).with_grouped(true);
/// assert_eq!(opts.depth(), 1);
/// assert!(!opts.types());
/// assert!(opts.grouped());
/// assert_eq!(VizOptions::new().depth(), 0); // nested pipelines collapsed
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VizOptions {
    depth: usize,
    types: bool,
    grouped: bool,
}

impl Default for VizOptions {
    fn default() -> Self {
        VizOptions {
            depth: 0,
            types: true,
            grouped: false,
        }
    }
}

impl VizOptions {
    /// Nested pipelines collapsed, types on edges, a node per value.
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

    /// Whether each function node (and collapsed nested pipeline) is drawn with the values
    /// it produces inside its box, one row each with its type, rather than as separate
    /// value nodes (default `false`). Edges then go from node to node.
    ///
    /// ```
    /// use hypernodes::prelude::*;
    /// use hypernodes::viz::{Graph, VizOptions};
    ///
    /// #[node(output = "y")]
    /// fn double(x: i64) -> i64 { 2 * x }
    /// #[node(output = "z")]
    /// fn inc(y: i64) -> i64 { y + 1 }
    ///
    /// let p = Pipeline::new([double::node(), inc::node()]);
    /// let graph = Graph::new(&p, &VizOptions::new().with_grouped(true));
    /// let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
    /// assert_eq!(ids, ["v_x", "n_double", "n_inc"]);
    /// assert_eq!(graph.nodes[1].outputs[0].text(), "y: i64");
    /// assert!(graph.to_dot().contains("\"n_double\":\"p_y\" -> \"n_inc\";"));
    /// ```
    pub fn with_grouped(mut self, grouped: bool) -> Self {
        self.grouped = grouped;
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

    /// Whether values are drawn inside their producers' boxes.
    pub fn grouped(&self) -> bool {
        self.grouped
    }
}

/// A picture format: Graphviz DOT, Mermaid flowchart, SVG, or the [`Graph`] as JSON.
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
/// assert_eq!(err.to_string(), "Unknown picture format 'png'. Formats: dot, mermaid, svg, json");
/// let err = VizFormat::from_path(Path::new("graph.png")).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Cannot tell the picture format of 'graph.png' from its extension (.dot, .gv, .mmd, .mermaid, .svg, .json): pass the format"
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
    /// SVG ([`Draw::to_svg`]).
    Svg,
    /// The [`Graph`] as JSON ([`Graph::to_json`]).
    Json,
}

impl VizFormat {
    /// The format a file name's extension names: `.dot` / `.gv`, `.mmd` / `.mermaid`,
    /// `.svg`, `.json`.
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
            Some("json") => Ok(VizFormat::Json),
            _ => Err(Error::Invalid(format!(
                "Cannot tell the picture format of '{}' from its extension (.dot, .gv, .mmd, .mermaid, .svg, .json): pass the format",
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
    /// As [`Draw::to_svg`] for SVG; never for the other formats.
    pub fn render(self, pipeline: &Pipeline, options: &VizOptions) -> Result<String> {
        let graph = Graph::new(pipeline, options);
        match self {
            VizFormat::Dot => Ok(graph.to_dot()),
            VizFormat::Mermaid => Ok(graph.to_mermaid()),
            VizFormat::Svg => graph.to_svg(),
            VizFormat::Json => Ok(graph.to_json()),
        }
    }
}

impl fmt::Display for VizFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VizFormat::Dot => "dot",
            VizFormat::Mermaid => "mermaid",
            VizFormat::Svg => "svg",
            VizFormat::Json => "json",
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
            "json" => Ok(VizFormat::Json),
            _ => Err(Error::Invalid(format!(
                "Unknown picture format '{s}'. Formats: dot, mermaid, svg, json"
            ))),
        }
    }
}

/// Pictures of a [`Pipeline`]: `to_dot`, `to_mermaid` and `to_svg`, each the
/// [`Graph`] of the pipeline written in one format. In the prelude.
pub trait Draw {
    /// The pipeline as a Graphviz DOT digraph; see [the module docs](crate::viz) for
    /// what is drawn how. Render it with `dot -Tsvg`, or use [`Draw::to_svg`].
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
    fn to_dot(&self, options: &VizOptions) -> String;

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
    fn to_mermaid(&self, options: &VizOptions) -> String;

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
    fn to_svg(&self, options: &VizOptions) -> Result<String>;
}

impl Draw for Pipeline {
    fn to_dot(&self, options: &VizOptions) -> String {
        Graph::new(self, options).to_dot()
    }

    fn to_mermaid(&self, options: &VizOptions) -> String {
        Graph::new(self, options).to_mermaid()
    }

    fn to_svg(&self, options: &VizOptions) -> Result<String> {
        Graph::new(self, options).to_svg()
    }
}
