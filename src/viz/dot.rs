//! The picture as a Graphviz DOT digraph.

use std::fmt::Write as _;

use super::graph::{Graph, Node, NodeKind};
use super::svg::xml;

/// `graph` as DOT: nodes and clusters in drawing order, then the edges. With ports
/// (`grouped`), a function node is an HTML-like table, its outputs one row each, and
/// edges leave the row of their value.
pub(super) fn render(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&graph.name));
    out.push_str(
        "  graph [rankdir=TB, compound=true, fontname=\"Helvetica\", fontsize=12, nodesep=0.4, ranksep=0.45];\n",
    );
    out.push_str("  node [fontname=\"Helvetica\", fontsize=12, penwidth=1.2];\n");
    out.push_str("  edge [fontname=\"Courier\", fontsize=10, color=\"#475569\", fontcolor=\"#334155\"];\n");
    block(graph, &mut out, None, 1);
    for e in &graph.edges {
        let _ = write!(out, "  {}", dot_quote(&e.from));
        if let Some(port) = &e.from_port {
            let _ = write!(out, ":{}", dot_quote(&port_id(port)));
        }
        let _ = write!(out, " -> {}", dot_quote(&e.to));
        let label = graph.edge_label(e, false);
        if !label.is_empty() {
            let _ = write!(out, " [label={}]", dot_quote(&label.join("\n")));
        }
        out.push_str(";\n");
    }
    out.push_str("}\n");
    out
}

/// The nodes and clusters inside `cluster` (`None`: at the top).
fn block(graph: &Graph, out: &mut String, cluster: Option<&str>, indent: usize) {
    let pad = "  ".repeat(indent);
    for n in graph.nodes.iter().filter(|n| n.parent.as_deref() == cluster) {
        if n.is_cluster() {
            let _ = writeln!(out, "{pad}subgraph {} {{", dot_quote(&n.id));
            let _ = writeln!(
                out,
                "{pad}  graph [label={}, style=\"rounded,filled\", fillcolor=\"#f5f3ff\", color=\"#7c3aed\", fontcolor=\"#5b21b6\"];",
                dot_quote(&n.lines().join("\n"))
            );
            block(graph, out, Some(&n.id), indent + 1);
            let _ = writeln!(out, "{pad}}}");
        } else if n.outputs.is_empty() {
            let _ = writeln!(
                out,
                "{pad}{} [label={}, {}];",
                dot_quote(&n.id),
                dot_quote(&n.lines().join("\n")),
                dot_style(n.kind)
            );
        } else {
            let _ = writeln!(out, "{pad}{} [shape=plain, label=<{}>];", dot_quote(&n.id), table(n));
        }
    }
}

/// A node with its outputs inside: a table, the name (and notes) on top, a row per output.
fn table(n: &Node) -> String {
    let (fill, stroke, border) = match n.kind {
        NodeKind::DualFunction => ("#ffedd5", "#ea580c", 3),
        NodeKind::NestedPipeline => ("#ede9fe", "#7c3aed", 1),
        _ => ("#fef3c7", "#d97706", 1),
    };
    let mut t = format!(
        "<table border=\"{border}\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"4\" bgcolor=\"{fill}\" color=\"{stroke}\">"
    );
    for (j, line) in n.lines().iter().enumerate() {
        let text = xml(line);
        let text = if j == 0 { format!("<b>{text}</b>") } else { text };
        let _ = write!(t, "<tr><td>{text}</td></tr>");
    }
    for p in &n.outputs {
        let fill = if p.output { "#dcfce7" } else { "#ffffff" };
        let _ = write!(
            t,
            "<tr><td port=\"{}\" bgcolor=\"{fill}\" align=\"left\">{}</td></tr>",
            port_id(&p.name),
            xml(&p.text())
        );
    }
    t.push_str("</table>");
    t
}

/// A port's id: its name with characters other than ASCII letters, digits and `_` as `_<hex>_`.
fn port_id(name: &str) -> String {
    let mut id = String::from("p_");
    super::build::sanitize(&mut id, name);
    id
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

fn dot_style(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Input => "shape=ellipse, style=filled, fillcolor=\"#dbeafe\", color=\"#2563eb\"",
        NodeKind::BoundInput => "shape=ellipse, style=\"filled,dashed\", fillcolor=\"#f1f5f9\", color=\"#64748b\"",
        NodeKind::Value => "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#94a3b8\"",
        NodeKind::Output => "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#dcfce7\", color=\"#16a34a\"",
        NodeKind::Function => "shape=box, style=filled, fillcolor=\"#fef3c7\", color=\"#d97706\"",
        NodeKind::DualFunction => "shape=box, peripheries=2, style=filled, fillcolor=\"#ffedd5\", color=\"#ea580c\"",
        NodeKind::NestedPipeline => "shape=box3d, style=filled, fillcolor=\"#ede9fe\", color=\"#7c3aed\"",
    }
}
