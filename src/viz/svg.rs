//! The picture as a standalone SVG document, drawn at the coordinates of its
//! [layout](super::layout).

use std::fmt::Write as _;

use crate::error::Result;

use super::graph::{Edge, Graph, Node, NodeKind};
use super::layout::{
    BASELINE, LABEL_LINE, LABEL_PX, Layout, MARGIN, NAME_PX, NOTE_LINE, NOTE_PX, TITLE_LINE, label_size, layout,
    shape_lines,
};

/// `graph` as an SVG document: a white ground, clusters, edges, nodes.
pub(super) fn render(graph: &Graph) -> Result<String> {
    let g = layout(graph)?;
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
    let _ = writeln!(out, "<title>{}</title>", xml(&graph.name));
    out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#475569\"/></marker></defs>\n");
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(width + MARGIN),
        num(height + MARGIN)
    );

    // Clusters first (outer before inner: drawing order), then edges, then nodes.
    let svg = Svg { graph };
    for k in graph.nodes.iter().filter(|n| n.is_cluster()) {
        svg.cluster(&mut out, &g, k);
    }
    for (i, e) in graph.edges.iter().enumerate() {
        svg.edge(&mut out, &g, i, e);
    }
    for n in graph.nodes.iter().filter(|n| !n.is_cluster()) {
        svg.shape(&mut out, &g, n);
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// Draws the parts of a [`Graph`] at the coordinates of its layout.
struct Svg<'a> {
    graph: &'a Graph,
}

impl Svg<'_> {
    /// A cluster: its box and its title, centred on the title node of the layout.
    fn cluster(&self, out: &mut String, g: &Layout, k: &Node) {
        let lines = k.lines();
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
        let first = ty - (lines.len() - 1) as f64 * TITLE_LINE / 2.0;
        for (j, line) in lines.iter().enumerate() {
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
    fn edge(&self, out: &mut String, g: &Layout, i: usize, e: &Edge) {
        let (from, to) = (&e.from, &e.to);
        let Some(label) = g.edge(from, to, Some(&i.to_string())) else {
            return;
        };
        let _ = writeln!(out, "<g class=\"edge\" data-from=\"{from}\" data-to=\"{to}\">");
        let _ = writeln!(
            out,
            "<path d=\"{}\" fill=\"none\" stroke=\"#475569\" stroke-width=\"1.3\" marker-end=\"url(#arrow)\"/>",
            smooth_path(&label.points)
        );
        let text = self.graph.edge_label(e, true);
        if !text.is_empty() {
            let (w, h) = label_size(&text);
            let (x, y) = (label.x.unwrap_or(0.0), label.y.unwrap_or(0.0));
            let _ = writeln!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/>",
                num(x - w / 2.0),
                num(y - h / 2.0),
                num(w),
                num(h)
            );
            for (j, line) in text.iter().enumerate() {
                let dy = (j as f64 - (text.len() - 1) as f64 / 2.0) * LABEL_LINE;
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

    /// A node: its outline by kind, its lines of text (the name first), and with
    /// `grouped` a row per output under a rule (outputs of the pipeline on green).
    fn shape(&self, out: &mut String, g: &Layout, s: &Node) {
        let Some(n) = g.node(&s.id) else { return };
        let (x, y) = (n.x.unwrap_or(0.0), n.y.unwrap_or(0.0));
        let (w, h) = (n.width, n.height);
        let (left, top) = (x - w / 2.0, y - h / 2.0);
        let _ = writeln!(out, "<g id=\"{}\" class=\"node {}\">", s.id, s.class());
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
        let bold = matches!(
            s.kind,
            NodeKind::Function | NodeKind::DualFunction | NodeKind::NestedPipeline
        );
        match s.kind {
            NodeKind::Input => out.push_str(&rect(h / 2.0, "#dbeafe", "#2563eb", " stroke-width=\"1.3\"")),
            NodeKind::BoundInput => out.push_str(&rect(
                h / 2.0,
                "#f1f5f9",
                "#64748b",
                " stroke-width=\"1.3\" stroke-dasharray=\"5 3\"",
            )),
            NodeKind::Value => out.push_str(&rect(6.0, "#ffffff", "#94a3b8", " stroke-width=\"1.3\"")),
            NodeKind::Output => out.push_str(&rect(6.0, "#dcfce7", "#16a34a", " stroke-width=\"2.4\"")),
            NodeKind::Function => out.push_str(&rect(2.0, "#fef3c7", "#d97706", " stroke-width=\"1.3\"")),
            NodeKind::DualFunction => {
                // A double outline: two implementations.
                out.push_str(&rect(2.0, "#ffedd5", "#ea580c", " stroke-width=\"1.3\""));
                let _ = writeln!(
                    out,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"1\" fill=\"none\" stroke=\"#ea580c\" stroke-width=\"1\"/>",
                    num(left + 3.0),
                    num(top + 3.0),
                    num(w - 6.0),
                    num(h - 6.0)
                );
            }
            NodeKind::NestedPipeline => {
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
        let lines = shape_lines(s);
        let first = y - (lines.len() - 1) as f64 * NOTE_LINE / 2.0;
        let notes = lines.len() - s.outputs.len();
        if !s.outputs.is_empty() {
            let rule = first + (notes as f64 - 0.5) * NOTE_LINE;
            let _ = writeln!(
                out,
                "<path d=\"M{},{} h{}\" stroke=\"#94a3b8\" stroke-width=\"1\"/>",
                num(left),
                num(rule),
                num(w)
            );
            for (k, port) in s.outputs.iter().enumerate().filter(|(_, p)| p.output) {
                let _ = writeln!(
                    out,
                    "<rect class=\"output\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{NOTE_LINE}\" fill=\"#dcfce7\"><title>{}</title></rect>",
                    num(left + 2.0),
                    num(rule + k as f64 * NOTE_LINE + 0.5),
                    num(w - 4.0),
                    xml(&port.name)
                );
            }
        }
        for (j, line) in lines.iter().enumerate() {
            let px = if j == 0 { NAME_PX } else { NOTE_PX };
            let style = if j == 0 {
                let weight = if bold { " font-weight=\"bold\"" } else { "" };
                format!("font-size=\"{px}\" fill=\"#0f172a\"{weight}")
            } else if j >= notes {
                format!("font-size=\"{px}\" fill=\"#0f172a\" font-family=\"{MONO}\"")
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

/// Text escaped for XML (the SVG, and DOT's HTML-like labels).
pub(super) fn xml(s: &str) -> String {
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
