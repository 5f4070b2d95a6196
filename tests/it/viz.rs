//! Pictures of pipelines: DOT and Mermaid text against golden files, ids, SVG, the CLI.
//!
//! The golden files are under `tests/golden/`. After a deliberate change to the
//! pictures, regenerate them and review the diff:
//!
//! ```text
//! HYPERNODES_BLESS=1 cargo test --test it viz
//! git diff tests/golden
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use hypernodes::prelude::*;
use hypernodes::viz::{VizFormat, VizOptions};

/// Compares `actual` with `tests/golden/<name>` exactly, or rewrites the file when
/// `HYPERNODES_BLESS` is set.
pub(crate) fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("HYPERNODES_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (HYPERNODES_BLESS=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the output below (HYPERNODES_BLESS=1 regenerates it):\n{actual}",
        path.display()
    );
}

#[node(output = "stripped")]
fn strip(raw: &str) -> String {
    raw.trim().to_string()
}

#[node(output = "words")]
fn split(stripped: &str, min_len: usize) -> Vec<String> {
    stripped
        .split_whitespace()
        .filter(|w| w.len() >= min_len)
        .map(str::to_string)
        .collect()
}

#[node(output = "n")]
fn count(words: &[String]) -> i64 {
    words.len() as i64
}

#[node(output = "score")]
fn score(word_count: i64, scale: f64) -> f64 {
    word_count as f64 * scale
}

#[node(output = "first")]
fn first(words: &[String]) -> String {
    words.first().cloned().unwrap_or_default()
}

/// A pipeline built with the API: a bound input in each pipeline, a nested node whose
/// input and output mappings rename, and a value (`words`) named the same inside and out.
fn api_pipeline() -> Pipeline {
    let inner = Pipeline::new([strip::node(), split::node(), count::node()])
        .with_name("tokenize")
        .bind(Inputs::new().with("min_len", 2_usize))
        .unwrap();
    let per_doc = inner
        .as_node("per_doc")
        .with_input_mapping([("doc", "raw")])
        .with_output_mapping([("n", "word_count"), ("words", "words")])
        .build()
        .unwrap();
    Pipeline::new([per_doc, score::node(), first::node()])
        .with_name("api")
        .bind(Inputs::new().with("scale", 0.5_f64))
        .unwrap()
}

/// The node ids a DOT text declares, and its edges.
pub(crate) fn dot_graph(dot: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        if let Some((from, rest)) = line.split_once(" -> ") {
            let to = rest.split([' ', ';']).next().unwrap();
            edges.push((from.trim_matches('"').to_string(), to.trim_matches('"').to_string()));
        } else if line.starts_with('"') && line.contains(" [label=") {
            nodes.push(line.split(' ').next().unwrap().trim_matches('"').to_string());
        }
    }
    (nodes, edges)
}

/// The node ids a Mermaid text declares, and its edges.
pub(crate) fn mermaid_graph(mermaid: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in mermaid.lines().map(str::trim) {
        if let Some((from, rest)) = line.split_once(" -->") {
            let to = rest.rsplit(' ').next().unwrap();
            edges.push((from.to_string(), to.to_string()));
        } else if line.contains(":::") {
            let end = line.find(['(', '[', '{']).unwrap();
            nodes.push(line[..end].to_string());
        }
    }
    (nodes, edges)
}

/// No id declared twice, every edge between declared nodes, every declared node on an edge.
pub(crate) fn check_graph(what: &str, (nodes, edges): (Vec<String>, Vec<(String, String)>)) {
    let unique: BTreeSet<&String> = nodes.iter().collect();
    assert_eq!(unique.len(), nodes.len(), "{what}: duplicate node ids in {nodes:?}");
    let mut touched = BTreeSet::new();
    for (from, to) in &edges {
        assert!(unique.contains(from), "{what}: edge from undeclared node '{from}'");
        assert!(unique.contains(to), "{what}: edge to undeclared node '{to}'");
        touched.insert(from);
        touched.insert(to);
    }
    assert_eq!(touched, unique, "{what}: nodes on no edge");
    assert!(!nodes.is_empty());
}

#[test]
fn api_pipeline_goldens() {
    let p = api_pipeline();
    golden("api.dot", &p.to_dot(&VizOptions::new()));
    golden("api.mmd", &p.to_mermaid(&VizOptions::new()));
    golden("api.expanded.dot", &p.to_dot(&VizOptions::new().with_depth(1)));
    golden("api.expanded.mmd", &p.to_mermaid(&VizOptions::new().with_depth(1)));
}

#[test]
fn collapsed_nested_node_shows_its_mappings_and_bound_inputs() {
    let dot = api_pipeline().to_dot(&VizOptions::new());
    assert!(dot.contains("\"v_scale\" [label=\"scale\\n(bound)\", shape=ellipse, style=\"filled,dashed\""));
    assert!(dot.contains("\"v_doc\" -> \"n_per_doc\" [label=\"String\\nraw ← doc\"];"));
    assert!(dot.contains("\"n_per_doc\" -> \"v_word_count\" [label=\"i64\\nword_count ← n\"];"));
    assert!(dot.contains("\"n_per_doc\" -> \"v_words\" [label=\"Vec<String>\"];"));
    // The inner bound input is not an input of the outer pipeline.
    assert!(!dot.contains("min_len"));
}

#[test]
fn expanded_nested_node_is_a_cluster_scoped_by_path() {
    let dot = api_pipeline().to_dot(&VizOptions::new().with_depth(1));
    assert!(dot.contains("subgraph \"cluster_per_doc\" {"));
    // The outer value feeds the inner node straight, and the inner node produces the
    // outer value: no second box for `raw` or `n`.
    assert!(dot.contains("\"v_doc\" -> \"n_per_doc__strip\" [label=\"String\\nraw ← doc\"];"));
    assert!(dot.contains("\"n_per_doc__count\" -> \"v_word_count\" [label=\"i64\\nword_count ← n\"];"));
    assert!(!dot.contains("v_per_doc__raw") && !dot.contains("v_per_doc__n\""));
    // `words`, read inside and outside, is one value, outside the cluster.
    assert!(dot.contains("\"n_per_doc__split\" -> \"v_words\" [label=\"Vec<String>\"];"));
    assert!(dot.contains("\"v_words\" -> \"n_per_doc__count\";"));
    assert!(!dot.contains("v_per_doc__words"));
    assert!(dot.contains("\"v_per_doc__min_len\" [label=\"min_len\\n(bound)\""));
    check_graph("api expanded dot", dot_graph(&dot));
}

#[test]
fn ids_are_stable_across_builds() {
    for depth in [0, 1] {
        let opts = VizOptions::new().with_depth(depth);
        assert_eq!(api_pipeline().to_dot(&opts), api_pipeline().to_dot(&opts));
        assert_eq!(api_pipeline().to_mermaid(&opts), api_pipeline().to_mermaid(&opts));
        assert_eq!(
            api_pipeline().to_svg(&opts).unwrap(),
            api_pipeline().to_svg(&opts).unwrap()
        );
    }
}

#[test]
fn no_duplicate_ids_and_no_dangling_edges() {
    let p = api_pipeline();
    for depth in [0, 1, 2] {
        let opts = VizOptions::new().with_depth(depth);
        check_graph("dot", dot_graph(&p.to_dot(&opts)));
        check_graph("mermaid", mermaid_graph(&p.to_mermaid(&opts)));
    }
}

#[test]
fn odd_names_are_escaped_and_ids_stay_unique() {
    // `a-b` and `a_2d_b` sanitise alike; a node and a value share the name `q"x`.
    let a = Node::builder("a-b")
        .params(["in put"])
        .output("q\"x")
        .build(|x: i64| x)
        .unwrap();
    let b = Node::builder("a_2d_b")
        .params(["q\"x"])
        .output("out<1>")
        .build(|x: i64| x)
        .unwrap();
    let c = Node::builder("q\"x")
        .params(["out<1>"])
        .output("end")
        .build(|x: i64| x)
        .unwrap();
    let p = Pipeline::new([a, b, c]);
    let dot = p.to_dot(&VizOptions::new());
    let mermaid = p.to_mermaid(&VizOptions::new());
    check_graph("dot", dot_graph(&dot));
    check_graph("mermaid", mermaid_graph(&mermaid));
    assert!(dot.contains("\"n_a_2d_b\" [label=\"a-b\""));
    assert!(dot.contains("\"n_a_2d_b_2\" [label=\"a_2d_b\""));
    assert!(dot.contains("\"v_q_22_x\" [label=\"q\\\"x\""));
    assert!(dot.contains("\"n_q_22_x\" [label=\"q\\\"x\""));
    assert!(mermaid.contains("  v_in_20_put([\"in put\"]):::input\n"));
    assert!(mermaid.contains("  v_out_3c_1_3e_(\"out#lt;1#gt;\"):::value\n"));
    assert!(mermaid.contains("  v_q_22_x(\"q#quot;x\"):::value\n"));
    assert!(mermaid.contains("  v_end[/\"end\"/]:::output\n"));
}

#[test]
fn svg_is_well_formed_and_names_every_node() {
    let p = api_pipeline();
    for depth in [0, 1] {
        let svg = p.to_svg(&VizOptions::new().with_depth(depth)).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}:\n{svg}"));
        let texts: BTreeSet<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        let mut names = vec![
            "per_doc",
            "score",
            "first",
            "doc",
            "scale",
            "word_count",
            "words",
            "String",
            "f64",
        ];
        if depth == 1 {
            names.extend([
                "strip",
                "split",
                "count",
                "min_len",
                "stripped",
                "raw ← doc",
                "word_count ← n",
            ]);
        }
        for name in names {
            assert!(texts.contains(name), "depth {depth}: no text '{name}' in\n{svg}");
        }
        let ids: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("id")).collect();
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "duplicate ids");
        // Every edge joins two drawn nodes.
        for e in doc.descendants().filter(|n| n.attribute("class") == Some("edge")) {
            for end in ["data-from", "data-to"] {
                let id = e.attribute(end).unwrap();
                assert!(ids.contains(&id), "edge {end} '{id}' is not drawn");
            }
        }
        assert_eq!(
            depth == 1,
            ids.contains(&"cluster_per_doc"),
            "the cluster is drawn when expanded"
        );
    }
}

#[test]
fn types_can_be_left_off() {
    let opts = VizOptions::new().with_types(false);
    let dot = api_pipeline().to_dot(&opts);
    assert!(dot.contains("\"v_doc\" -> \"n_per_doc\" [label=\"raw ← doc\"];"));
    assert!(dot.contains("\"n_score\" -> \"v_score\";"));
    let mermaid = api_pipeline().to_mermaid(&opts);
    assert!(!mermaid.contains("f64"), "{mermaid}");
}

#[test]
fn format_names_and_extensions() {
    assert_eq!("dot".parse::<VizFormat>().unwrap(), VizFormat::Dot);
    assert_eq!(VizFormat::from_path(Path::new("a/b.MMD")).unwrap(), VizFormat::Mermaid);
    assert_eq!(
        "PNG".parse::<VizFormat>().unwrap_err().to_string(),
        "Unknown picture format 'PNG'. Formats: dot, mermaid, svg, json"
    );
    assert_eq!(
        VizFormat::from_path(Path::new("graph")).unwrap_err().to_string(),
        "Cannot tell the picture format of 'graph' from its extension (.dot, .gv, .mmd, .mermaid, .svg, .json): pass the format"
    );
}

#[cfg(feature = "parquet")]
mod files {
    use super::*;
    use hypernodes::spec::{Registry, load};

    fn example(name: &str) -> Pipeline {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
        load(&path, &Registry::new(), None).unwrap().pipeline
    }

    #[test]
    fn example_goldens() {
        for (file, stem) in [("text.toml", "text"), ("sentences.toml", "sentences")] {
            let p = example(file);
            for (depth, suffix) in [(0, ""), (1, ".expanded")] {
                let opts = VizOptions::new().with_depth(depth);
                let (dot, mermaid) = (p.to_dot(&opts), p.to_mermaid(&opts));
                check_graph(file, dot_graph(&dot));
                check_graph(file, mermaid_graph(&mermaid));
                golden(&format!("{stem}{suffix}.dot"), &dot);
                golden(&format!("{stem}{suffix}.mmd"), &mermaid);
            }
        }
    }

    #[test]
    fn sentences_shows_map_over_and_the_inner_pipeline() {
        let p = example("sentences.toml");
        let collapsed = p.to_mermaid(&VizOptions::new());
        assert!(collapsed.contains(
            "  n_per_sentence[[\"per_sentence<br/>pipeline: sentence<br/>map_over: sentences (zip)\"]]:::nested\n"
        ));
        let expanded = p.to_dot(&VizOptions::new().with_depth(1));
        assert!(expanded.contains("graph [label=\"per_sentence\\npipeline: sentence\\nmap_over: sentences (zip)\""));
        assert!(expanded.contains(
            "\"v_sentences\" -> \"n_per_sentence__count_words\" [label=\"Vec<String>\\nsentence ← sentences\"];"
        ));
        assert!(expanded.contains("\"n_per_sentence__count_words\" -> \"v_tokens\" [label=\"i64\"];"));
    }

    #[test]
    fn example_svgs_name_every_node() {
        for file in ["text.toml", "sentences.toml"] {
            let p = example(file);
            let svg = p.to_svg(&VizOptions::new().with_depth(1)).unwrap();
            let doc = roxmltree::Document::parse(&svg).unwrap();
            let texts: BTreeSet<&str> = doc.descendants().filter_map(|n| n.text()).collect();
            for node in p.nodes() {
                assert!(texts.contains(node.name()), "{file}: no '{}'", node.name());
                for port in node.params().iter().chain(node.outputs()) {
                    assert!(texts.contains(port.name()), "{file}: no '{}'", port.name());
                }
            }
        }
    }
}

#[cfg(feature = "cli")]
mod cli {

    use super::*;
    use crate::parquet::TempDir;

    use crate::cli::{hypernodes, text};

    fn read_golden(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)).unwrap()
    }

    #[test]
    fn viz_prints_dot_or_mermaid() {
        let o = hypernodes(&["viz", "examples/sentences.toml"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), read_golden("sentences.dot"));
        let o = hypernodes(&["viz", "examples/sentences.toml", "--format", "mermaid", "--depth", "1"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout), read_golden("sentences.expanded.mmd"));
    }

    #[test]
    fn viz_writes_the_format_of_the_extension() {
        let dir = TempDir::new("viz");
        let svg = dir.join("graph.svg");
        let o = hypernodes(&["viz", "examples/text.toml", "-o", svg.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let written = std::fs::read_to_string(&svg).unwrap();
        assert!(written.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(
            text(&o.stdout),
            format!(
                "examples/text.toml -> {} (svg, {} bytes)\n",
                svg.display(),
                written.len()
            )
        );
        let mmd = dir.join("graph.mmd");
        let o = hypernodes(&["viz", "examples/text.toml", "--output", mmd.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert_eq!(std::fs::read_to_string(&mmd).unwrap(), read_golden("text.mmd"));
        // Only the two files: no temporary file left behind.
        assert_eq!(dir.files(), ["graph.mmd", "graph.svg"]);
    }

    #[test]
    fn help_describes_viz() {
        let o = hypernodes(&["--help"]);
        assert!(text(&o.stdout).contains("  viz "), "{}", text(&o.stdout));
        let o = hypernodes(&["viz", "--help"]);
        let help = text(&o.stdout);
        for flag in ["--output <OUTPUT>", "--format <FORMAT>", "--depth <DEPTH>"] {
            assert!(help.contains(flag), "{help}");
        }
    }

    #[test]
    fn viz_errors_are_one_line() {
        let dir = TempDir::new("viz-err");
        let o = hypernodes(&["viz", "examples/text.toml", "--format", "png"]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            text(&o.stderr),
            "error[HN024]: Unknown picture format 'png'. Formats: dot, mermaid, svg, json\n"
        );
        assert!(o.stdout.is_empty());

        let png = dir.join("graph.png");
        let o = hypernodes(&["viz", "examples/text.toml", "-o", png.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            text(&o.stderr),
            format!(
                "error[HN024]: Cannot tell the picture format of '{}' from its extension (.dot, .gv, .mmd, .mermaid, .svg, .json): pass the format\n",
                png.display()
            )
        );

        let nowhere = dir.join("missing/graph.svg");
        let o = hypernodes(&["viz", "examples/text.toml", "-o", nowhere.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            text(&o.stderr),
            format!(
                "error[HN020]: Cannot create '{}': No such file or directory (os error 2)\n",
                nowhere.display()
            )
        );
        assert_eq!(dir.files(), Vec::<String>::new());
    }
}
