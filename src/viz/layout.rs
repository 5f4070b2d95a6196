//! The SVG's layout: the picture as a compound graph for `dagre` (see [the module
//! docs](super) for why that crate), with every box sized from its text.

use crate::error::{Error, Result};

use super::graph::{Graph, Node, NodeKind};

/// A laid-out picture: dagre's graph with coordinates.
pub(super) type Layout = dagre::graph::Graph<dagre::NodeLabel, dagre::EdgeLabel>;

/// Lays the picture out with dagre: nodes, clusters (with a title node each) and
/// edges with room for their labels.
pub(super) fn layout(graph: &Graph) -> Result<Layout> {
    use dagre::graph::{Graph, GraphOptions};
    use dagre::layout::types::LabelPos;
    use dagre::{EdgeLabel, LayoutOptions, NodeLabel};

    let mut g: Graph<NodeLabel, EdgeLabel> = Graph::with_options(GraphOptions {
        directed: true,
        multigraph: true,
        compound: true,
    });
    for n in &graph.nodes {
        let label = if n.is_cluster() {
            NodeLabel::default()
        } else {
            let (w, h) = shape_size(n);
            NodeLabel {
                width: w,
                height: h,
                ..NodeLabel::default()
            }
        };
        g.set_node(n.id.clone(), Some(label));
        if let Some(p) = &n.parent {
            g.set_parent(&n.id, Some(p));
        }
    }
    // Each cluster's title is a node of the layout too, above everything inside the
    // cluster that is fed from outside it, so that no node or edge covers the title.
    // (`#` is in no node's id.)
    let title_id = |id: &str| format!("{id}#title");
    for k in graph.nodes.iter().filter(|n| n.is_cluster()) {
        let (w, h) = title_size(&k.lines());
        g.set_node(
            title_id(&k.id),
            Some(NodeLabel {
                width: w,
                height: h,
                ..NodeLabel::default()
            }),
        );
        g.set_parent(&title_id(&k.id), Some(&k.id));
        if let Some(p) = &k.parent {
            g.set_edge(title_id(p), title_id(&k.id), Some(EdgeLabel::default()), Some("title"));
        }
    }
    for (i, n) in graph.nodes.iter().enumerate() {
        let Some(c) = n.parent.as_deref().and_then(|p| graph.index(p)) else {
            continue;
        };
        if n.is_cluster() {
            continue;
        }
        let fed_inside = graph
            .edges
            .iter()
            .filter(|e| e.to == n.id)
            .any(|e| graph.index(&e.from).is_some_and(|f| graph.inside(f, c)));
        if !fed_inside {
            g.set_edge(
                title_id(&graph.nodes[c].id),
                graph.nodes[i].id.clone(),
                Some(EdgeLabel::default()),
                Some("title"),
            );
        }
    }
    for (i, e) in graph.edges.iter().enumerate() {
        let (w, h) = label_size(&graph.edge_label(e, true));
        g.set_edge(
            e.from.clone(),
            e.to.clone(),
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
                "Cannot lay out the picture of pipeline '{}': the layout engine failed ({message})",
                graph.name
            ))
        },
    )?;
    Ok(g)
}

pub(super) const NAME_PX: f64 = 14.0;
pub(super) const NOTE_PX: f64 = 12.0;
pub(super) const LABEL_PX: f64 = 11.0;
pub(super) const NOTE_LINE: f64 = 16.0;
pub(super) const LABEL_LINE: f64 = 13.0;
pub(super) const MARGIN: f64 = 12.0;
pub(super) const TITLE_LINE: f64 = 15.0;
/// From the middle of a line of text to its baseline, in em (explicit, as not every
/// renderer honours `dominant-baseline`).
pub(super) const BASELINE: f64 = 0.35;

/// Text widths are estimated from character counts (no font is read): generous for a
/// proportional sans font (DejaVu Sans, the widest common one, averages about 0.6 em
/// for the lower-case names pipelines use), exact for a monospaced one (0.6 em).
fn text_width(s: &str, px: f64) -> f64 {
    s.chars().count() as f64 * px * 0.62
}

/// The lines of text of a node: its name and notes, then its outputs (`grouped`).
pub(super) fn shape_lines(n: &Node) -> Vec<String> {
    let mut lines = n.lines();
    lines.extend(n.outputs.iter().map(|p| p.text()));
    lines
}

fn shape_size(n: &Node) -> (f64, f64) {
    let lines = shape_lines(n);
    let mut w: f64 = 0.0;
    for (j, line) in lines.iter().enumerate() {
        let width = if j > 0 {
            text_width(line, NOTE_PX)
        } else if matches!(
            n.kind,
            NodeKind::Function | NodeKind::DualFunction | NodeKind::NestedPipeline
        ) {
            // Drawn bold: about a tenth wider.
            text_width(line, NAME_PX) * 1.1
        } else {
            text_width(line, NAME_PX)
        };
        w = w.max(width);
    }
    let h = 16.0 + lines.len() as f64 * NOTE_LINE;
    let pad = match n.kind {
        // Room for the round ends.
        NodeKind::Input | NodeKind::BoundInput => 20.0 + h / 2.0,
        _ => 24.0,
    };
    ((w + pad).max(60.0).round(), h.round())
}

fn title_size(lines: &[String]) -> (f64, f64) {
    let w = lines.iter().map(|l| text_width(l, NOTE_PX)).fold(0.0, f64::max);
    ((w + 16.0).round(), (lines.len() as f64 * TITLE_LINE).round())
}

pub(super) fn label_size(lines: &[String]) -> (f64, f64) {
    if lines.is_empty() {
        return (0.0, 0.0);
    }
    let w = lines.iter().map(|l| text_width(l, LABEL_PX)).fold(0.0, f64::max);
    ((w + 8.0).round(), (lines.len() as f64 * LABEL_LINE + 4.0).round())
}
