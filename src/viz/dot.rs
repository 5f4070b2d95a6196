//! The picture as a Graphviz DOT digraph.

use std::fmt::Write as _;

use super::scene::{Item, Kind, Scene};

/// Writes a [`Scene`] as DOT.
pub(super) struct Dot<'a> {
    scene: &'a Scene,
}

impl<'a> Dot<'a> {
    pub(super) fn new(scene: &'a Scene) -> Self {
        Dot { scene }
    }

    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", dot_quote(&self.scene.title));
        out.push_str(
            "  graph [rankdir=TB, compound=true, fontname=\"Helvetica\", fontsize=12, nodesep=0.4, ranksep=0.45];\n",
        );
        out.push_str("  node [fontname=\"Helvetica\", fontsize=12, penwidth=1.2];\n");
        out.push_str("  edge [fontname=\"Courier\", fontsize=10, color=\"#475569\", fontcolor=\"#334155\"];\n");
        self.block(&mut out, None, 1);
        for e in &self.scene.edges {
            let _ = write!(
                out,
                "  {} -> {}",
                dot_quote(&self.scene.shapes[e.from].id),
                dot_quote(&self.scene.shapes[e.to].id)
            );
            if !e.label.is_empty() {
                let _ = write!(out, " [label={}]", dot_quote(&e.label.join("\n")));
            }
            out.push_str(";\n");
        }
        out.push_str("}\n");
        out
    }

    fn block(&self, out: &mut String, cluster: Option<usize>, indent: usize) {
        let pad = "  ".repeat(indent);
        for item in &self.scene.order {
            match *item {
                Item::Shape(i) if self.scene.shapes[i].cluster == cluster => {
                    let s = &self.scene.shapes[i];
                    let _ = writeln!(
                        out,
                        "{pad}{} [label={}, {}];",
                        dot_quote(&s.id),
                        dot_quote(&s.lines.join("\n")),
                        dot_style(s.kind)
                    );
                }
                Item::Cluster(c) if self.scene.clusters[c].parent == cluster => {
                    let k = &self.scene.clusters[c];
                    let _ = writeln!(out, "{pad}subgraph {} {{", dot_quote(&k.id));
                    let _ = writeln!(
                        out,
                        "{pad}  graph [label={}, style=\"rounded,filled\", fillcolor=\"#f5f3ff\", color=\"#7c3aed\", fontcolor=\"#5b21b6\"];",
                        dot_quote(&k.lines.join("\n"))
                    );
                    self.block(out, Some(c), indent + 1);
                    let _ = writeln!(out, "{pad}}}");
                }
                _ => {}
            }
        }
    }
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
