//! The picture as a Mermaid flowchart.

use std::fmt::Write as _;

use super::scene::{Item, Kind, Scene};

/// Writes a [`Scene`] as a Mermaid flowchart.
pub(super) struct Mermaid<'a> {
    scene: &'a Scene,
}

impl<'a> Mermaid<'a> {
    pub(super) fn new(scene: &'a Scene) -> Self {
        Mermaid { scene }
    }

    pub(super) fn render(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        self.block(&mut out, None, 1);
        for e in &self.scene.edges {
            let (from, to) = (&self.scene.shapes[e.from].id, &self.scene.shapes[e.to].id);
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
        if !self.scene.clusters.is_empty() {
            let ids: Vec<&str> = self.scene.clusters.iter().map(|c| c.id.as_str()).collect();
            let _ = writeln!(out, "  style {} fill:#f5f3ff,stroke:#7c3aed", ids.join(","));
        }
        out
    }

    fn block(&self, out: &mut String, cluster: Option<usize>, indent: usize) {
        let pad = "  ".repeat(indent);
        for item in &self.scene.order {
            match *item {
                Item::Shape(i) if self.scene.shapes[i].cluster == cluster => {
                    let s = &self.scene.shapes[i];
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
                Item::Cluster(c) if self.scene.clusters[c].parent == cluster => {
                    let k = &self.scene.clusters[c];
                    let _ = writeln!(out, "{pad}subgraph {}[\"{}\"]", k.id, mermaid_text(&k.lines));
                    self.block(out, Some(c), indent + 1);
                    let _ = writeln!(out, "{pad}end");
                }
                _ => {}
            }
        }
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
