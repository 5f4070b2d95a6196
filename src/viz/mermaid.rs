//! The picture as a Mermaid flowchart.

use std::fmt::Write as _;

use super::graph::{Graph, NodeKind};

/// `graph` as a Mermaid flowchart: nodes and clusters (subgraphs) in drawing order, the
/// edges, then the styles. Mermaid has no ports: with `grouped`, a node lists its
/// outputs under its name and each edge is labelled with the output it carries.
pub(super) fn render(graph: &Graph) -> String {
    let mut out = String::from("flowchart TD\n");
    block(graph, &mut out, None, 1);
    for e in &graph.edges {
        let label = graph.edge_label(e, true);
        if label.is_empty() {
            let _ = writeln!(out, "  {} --> {}", e.from, e.to);
        } else {
            let _ = writeln!(out, "  {} -->|\"{}\"| {}", e.from, mermaid_text(&label), e.to);
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
        ("dual", "fill:#ffedd5,stroke:#ea580c,stroke-width:3px,color:#0f172a"),
        ("nested", "fill:#ede9fe,stroke:#7c3aed,color:#0f172a"),
    ] {
        let _ = writeln!(out, "  classDef {class} {style}");
    }
    let clusters: Vec<&str> = graph
        .nodes
        .iter()
        .filter(|n| n.is_cluster())
        .map(|n| n.id.as_str())
        .collect();
    if !clusters.is_empty() {
        let _ = writeln!(out, "  style {} fill:#f5f3ff,stroke:#7c3aed", clusters.join(","));
    }
    out
}

/// The nodes and subgraphs inside `cluster` (`None`: at the top).
fn block(graph: &Graph, out: &mut String, cluster: Option<&str>, indent: usize) {
    let pad = "  ".repeat(indent);
    for n in graph.nodes.iter().filter(|n| n.parent.as_deref() == cluster) {
        let mut lines = n.lines();
        if n.is_cluster() {
            let _ = writeln!(out, "{pad}subgraph {}[\"{}\"]", n.id, mermaid_text(&lines));
            block(graph, out, Some(&n.id), indent + 1);
            let _ = writeln!(out, "{pad}end");
            continue;
        }
        lines.extend(n.outputs.iter().map(|p| {
            let marker = if p.output { " (output)" } else { "" };
            format!("→ {}{marker}", p.text())
        }));
        let (open, close) = match n.kind {
            NodeKind::Input | NodeKind::BoundInput => ("([", "])"),
            NodeKind::Value => ("(", ")"),
            NodeKind::Output => ("[/", "/]"),
            NodeKind::Function => ("[", "]"),
            NodeKind::DualFunction => ("{{", "}}"),
            NodeKind::NestedPipeline => ("[[", "]]"),
        };
        let _ = writeln!(
            out,
            "{pad}{}{open}\"{}\"{close}:::{}",
            n.id,
            mermaid_text(&lines),
            n.class()
        );
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
