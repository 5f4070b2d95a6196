//! Pictures of pipelines: Graphviz DOT, Mermaid and SVG, the SVG laid out in pure Rust.
//!
//! [`Pipeline::to_dot`], [`Pipeline::to_mermaid`] and [`Draw::to_svg`] draw the same
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

mod dot;
mod layout;
mod mermaid;
mod scene;
mod svg;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;

use self::dot::Dot;
use self::mermaid::Mermaid;
use self::scene::Scene;
use self::svg::Svg;

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
    /// SVG ([`Draw::to_svg`]).
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
    /// As [`Draw::to_svg`] for SVG; never for DOT and Mermaid.
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

/// Pictures of a [`Pipeline`]: `to_dot`, `to_mermaid` and `to_svg`. In the prelude.
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
        Dot::new(&Scene::new(self, options)).render()
    }

    fn to_mermaid(&self, options: &VizOptions) -> String {
        Mermaid::new(&Scene::new(self, options)).render()
    }

    fn to_svg(&self, options: &VizOptions) -> Result<String> {
        Svg::new(&Scene::new(self, options)).render(self.name().unwrap_or("pipeline"))
    }
}
