//! The pictures' public model, `viz::Graph`: its nodes, kinds, edges and JSON; dual
//! nodes, nested pipelines wired straight through, collapsed nodes showing what a run
//! computes, and values grouped inside their producers.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array};
use arrow::compute::kernels::arity::unary;
use arrow::datatypes::Int64Type;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::ColumnarValue;
use hypernodes::BoxError;
use hypernodes::engine::columnar::BatchArgs;
use hypernodes::prelude::*;
use hypernodes::viz::{Graph, NodeKind, VizFormat, VizOptions};

use crate::common::*;
use crate::viz::{check_graph, dot_graph, golden, mermaid_graph};

#[node(output = "words")]
fn tokenize(sentence: &str) -> Vec<String> {
    sentence.split_whitespace().map(str::to_string).collect()
}

#[node(output = "n")]
fn count(words: &[String]) -> i64 {
    words.len() as i64
}

#[node(output = "total")]
fn total(counts: Vec<i64>) -> i64 {
    counts.iter().sum()
}

/// A dual node: per item and per batch, `total * factor`.
#[node(output = "scaled", batch = scale_batch)]
fn scale(total: i64, factor: i64) -> i64 {
    total * factor
}

fn scale_batch(args: BatchArgs<'_>) -> Result<Vec<ArrayRef>, BoxError> {
    let ColumnarValue::Scalar(ScalarValue::Int64(Some(factor))) = &args.args[1] else {
        return Err("the factor must be a constant".into());
    };
    let total = args.args[0].clone().into_array(args.number_rows)?;
    let out: Int64Array = unary(total.as_primitive::<Int64Type>(), |v| v * factor);
    Ok(vec![Arc::new(out)])
}

/// The inner pipeline: a sentence's words and their count.
fn sentence() -> Pipeline {
    Pipeline::new([tokenize::node(), count::node()]).with_name("sentence")
}

/// `per_sentence` maps `sentence` over the outer `sentences` and exposes `n` as `counts`
/// and `words` as `words`; the outer pipeline reads only `counts`, then scales the total
/// with a dual node and a bound factor.
fn doc() -> Pipeline {
    let per_sentence = sentence()
        .as_node("per_sentence")
        .with_input_mapping([("sentences", "sentence")])
        .with_output_mapping([("n", "counts"), ("words", "words")])
        .with_map_over(["sentences"])
        .build()
        .unwrap();
    Pipeline::new([per_sentence, total::node(), scale::node()])
        .with_name("doc")
        .bind(Inputs::new().with("factor", 10_i64))
        .unwrap()
}

engine_test!(
    fn the_pictured_pipeline_runs_as_drawn(engine) {
        // What the pictures below show is what a run computes: counts, not words.
        let sentences = vec!["a b c".to_string(), "d e".to_string()];
        let out = on(&engine, doc().nodes().to_vec())
            .bind(Inputs::new().with("factor", 10_i64))?
            .run(&Inputs::new().with("sentences", sentences))?;
        assert_eq!(out.get::<i64>("scaled")?, 50);
        assert_eq!(out.get::<Vec<i64>>("counts")?, [3, 2]);
        assert_eq!(out.names().collect::<Vec<_>>(), ["counts", "scaled", "total"]);
    }
);

#[test]
fn collapsed_graph_as_json() {
    let json = Graph::new(&doc(), &VizOptions::new()).to_json();
    assert_eq!(json, COLLAPSED_JSON, "{json}");
}

/// Only the outputs the run computes: `counts`, not `words`, leaves `per_sentence`.
const COLLAPSED_JSON: &str = r#"{
  "name": "doc",
  "nodes": [
    {
      "id": "v_factor",
      "kind": "bound_input",
      "label": "factor"
    },
    {
      "id": "v_sentences",
      "kind": "input",
      "label": "sentences"
    },
    {
      "id": "n_per_sentence",
      "kind": "nested_pipeline",
      "label": "per_sentence",
      "nested": {
        "pipeline": "sentence",
        "map_over": [
          "sentences"
        ],
        "mode": "zip",
        "expanded": false
      }
    },
    {
      "id": "v_counts",
      "kind": "value",
      "label": "counts"
    },
    {
      "id": "n_total",
      "kind": "function",
      "label": "total"
    },
    {
      "id": "v_total",
      "kind": "value",
      "label": "total"
    },
    {
      "id": "n_scale",
      "kind": "dual_function",
      "label": "scale"
    },
    {
      "id": "v_scaled",
      "kind": "output",
      "label": "scaled"
    }
  ],
  "edges": [
    {
      "from": "v_sentences",
      "to": "n_per_sentence",
      "type": "Vec<String>",
      "mapping": [
        "sentences",
        "sentence"
      ]
    },
    {
      "from": "n_per_sentence",
      "to": "v_counts",
      "type": "Vec<i64>",
      "mapping": [
        "n",
        "counts"
      ]
    },
    {
      "from": "v_counts",
      "to": "n_total",
      "type": "Vec<i64>"
    },
    {
      "from": "n_total",
      "to": "v_total",
      "type": "i64"
    },
    {
      "from": "v_total",
      "to": "n_scale",
      "type": "i64"
    },
    {
      "from": "v_factor",
      "to": "n_scale",
      "type": "i64"
    },
    {
      "from": "n_scale",
      "to": "v_scaled",
      "type": "i64"
    }
  ]
}
"#;

#[test]
fn expanded_grouped_graph_as_json() {
    let json = Graph::new(&doc(), &VizOptions::new().with_depth(1).with_grouped(true)).to_json();
    assert_eq!(json, EXPANDED_GROUPED_JSON, "{json}");
}

/// The outer `sentences` feeds `tokenize` straight; `count`'s port `n` feeds `total` as
/// `counts`; no value nodes.
const EXPANDED_GROUPED_JSON: &str = r#"{
  "name": "doc",
  "nodes": [
    {
      "id": "v_factor",
      "kind": "bound_input",
      "label": "factor"
    },
    {
      "id": "v_sentences",
      "kind": "input",
      "label": "sentences"
    },
    {
      "id": "cluster_per_sentence",
      "kind": "nested_pipeline",
      "label": "per_sentence",
      "nested": {
        "pipeline": "sentence",
        "map_over": [
          "sentences"
        ],
        "mode": "zip",
        "expanded": true
      }
    },
    {
      "id": "n_per_sentence__tokenize",
      "kind": "function",
      "label": "tokenize",
      "parent": "cluster_per_sentence",
      "outputs": [
        {
          "name": "words",
          "type": "Vec<String>",
          "output": false
        }
      ]
    },
    {
      "id": "n_per_sentence__count",
      "kind": "function",
      "label": "count",
      "parent": "cluster_per_sentence",
      "outputs": [
        {
          "name": "n",
          "type": "i64",
          "output": false
        }
      ]
    },
    {
      "id": "n_total",
      "kind": "function",
      "label": "total",
      "outputs": [
        {
          "name": "total",
          "type": "i64",
          "output": false
        }
      ]
    },
    {
      "id": "n_scale",
      "kind": "dual_function",
      "label": "scale",
      "outputs": [
        {
          "name": "scaled",
          "type": "i64",
          "output": true
        }
      ]
    }
  ],
  "edges": [
    {
      "from": "v_sentences",
      "to": "n_per_sentence__tokenize",
      "type": "Vec<String>",
      "mapping": [
        "sentences",
        "sentence"
      ]
    },
    {
      "from": "n_per_sentence__tokenize",
      "from_port": "words",
      "to": "n_per_sentence__count",
      "type": "Vec<String>"
    },
    {
      "from": "n_per_sentence__count",
      "from_port": "n",
      "to": "n_total",
      "type": "i64",
      "mapping": [
        "n",
        "counts"
      ]
    },
    {
      "from": "n_total",
      "from_port": "total",
      "to": "n_scale",
      "type": "i64"
    },
    {
      "from": "v_factor",
      "to": "n_scale",
      "type": "i64"
    }
  ]
}
"#;

#[test]
fn json_reads_back_and_renders_the_same() {
    for options in [
        VizOptions::new(),
        VizOptions::new().with_depth(1),
        VizOptions::new().with_grouped(true),
        VizOptions::new().with_depth(1).with_grouped(true).with_types(false),
    ] {
        let graph = Graph::new(&doc(), &options);
        let back: Graph = serde_json::from_str(&graph.to_json()).unwrap();
        assert_eq!(back, graph);
        assert_eq!(back.to_dot(), doc().to_dot(&options));
        assert_eq!(back.to_mermaid(), doc().to_mermaid(&options));
        assert_eq!(back.to_svg().unwrap(), doc().to_svg(&options).unwrap());
        assert_eq!(VizFormat::Json.render(&doc(), &options).unwrap(), graph.to_json());
    }
}

#[test]
fn an_edited_graph_naming_no_node_is_refused() {
    let mut graph = Graph::new(&doc(), &VizOptions::new());
    graph.edges[0].to = "n_nowhere".to_string();
    assert_eq!(
        graph.to_svg().unwrap_err().to_string(),
        "Cannot draw graph 'doc': no node has the id 'n_nowhere'"
    );
}

#[test]
fn dual_nodes_are_their_own_kind_in_every_format() {
    let graph = Graph::new(&doc(), &VizOptions::new());
    let kinds: Vec<(&str, NodeKind)> = graph.nodes.iter().map(|n| (n.id.as_str(), n.kind)).collect();
    assert!(kinds.contains(&("n_scale", NodeKind::DualFunction)));
    assert!(kinds.contains(&("n_total", NodeKind::Function)));
    assert!(graph.to_dot().contains(
        "\"n_scale\" [label=\"scale\", shape=box, peripheries=2, style=filled, fillcolor=\"#ffedd5\", color=\"#ea580c\"];"
    ));
    assert!(graph.to_mermaid().contains("  n_scale{{\"scale\"}}:::dual\n"));
    assert!(
        graph
            .to_svg()
            .unwrap()
            .contains("<g id=\"n_scale\" class=\"node dual\">")
    );
}

#[test]
fn goldens_of_the_new_cases() {
    let p = doc();
    for (suffix, options) in [
        ("", VizOptions::new()),
        (".expanded", VizOptions::new().with_depth(1)),
        (".grouped", VizOptions::new().with_grouped(true)),
        (".expanded.grouped", VizOptions::new().with_depth(1).with_grouped(true)),
    ] {
        let (dot, mermaid) = (p.to_dot(&options), p.to_mermaid(&options));
        if !options.grouped() {
            check_graph(suffix, dot_graph(&dot));
        }
        check_graph(suffix, mermaid_graph(&mermaid));
        // Every HTML-like label (a node with its outputs) is well-formed.
        for label in dot.split("label=<").skip(1) {
            let table = &label[..label.find(">];").unwrap()];
            roxmltree::Document::parse(table).unwrap_or_else(|e| panic!("{e}: {table}"));
        }
        golden(&format!("doc{suffix}.dot"), &dot);
        golden(&format!("doc{suffix}.mmd"), &mermaid);
    }
}

#[test]
fn a_terminal_nested_node_shows_every_output() {
    // Nothing reads `per_sentence`'s outputs: a run returns both, and both are drawn.
    let per_sentence = sentence()
        .as_node("per_sentence")
        .with_output_mapping([("n", "counts"), ("words", "words")])
        .build()
        .unwrap();
    let p = Pipeline::new([per_sentence]);
    let out = p.run(&Inputs::new().with("sentence", "a b".to_string())).unwrap();
    assert_eq!(out.get::<i64>("counts").unwrap(), 2);
    assert_eq!(out.get::<Vec<String>>("words").unwrap(), ["a", "b"]);
    let graph = Graph::new(&p, &VizOptions::new());
    let outputs: Vec<(&str, NodeKind)> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Output)
        .map(|n| (n.label.as_str(), n.kind))
        .collect();
    assert_eq!(outputs, [("counts", NodeKind::Output), ("words", NodeKind::Output)]);
    let grouped = Graph::new(&p, &VizOptions::new().with_grouped(true));
    let ports: Vec<(String, bool)> = grouped.nodes[1].outputs.iter().map(|p| (p.text(), p.output)).collect();
    assert_eq!(
        ports,
        [
            ("counts ← n: i64".to_string(), true),
            ("words: Vec<String>".to_string(), true)
        ]
    );
}

#[node(output = "m")]
fn halve(k: i64) -> i64 {
    k / 2
}

#[test]
fn renames_through_two_levels_are_one_edge() {
    // outer `x` -> mid `k` -> inner... : `halve` reads `k` inside `inner` inside `mid`;
    // its output `m` leaves as `half` from `inner` and as `result` from `mid`.
    let inner = Pipeline::new([halve::node()]).with_name("inner");
    let inner_node = inner
        .as_node("in")
        .with_output_mapping([("m", "half")])
        .build()
        .unwrap();
    let mid = Pipeline::new([inner_node]).with_name("mid");
    let mid_node = mid
        .as_node("mid")
        .with_input_mapping([("x", "k")])
        .with_output_mapping([("half", "result")])
        .build()
        .unwrap();
    let p = Pipeline::new([mid_node]).with_name("outer");
    assert_eq!(
        p.run(&Inputs::new().with("x", 8_i64))
            .unwrap()
            .get::<i64>("result")
            .unwrap(),
        4
    );
    let dot = p.to_dot(&VizOptions::new().with_depth(2));
    assert!(
        dot.contains("\"v_x\" -> \"n_mid__in__halve\" [label=\"i64\\nk ← x\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"n_mid__in__halve\" -> \"v_result\" [label=\"i64\\nresult ← half ← m\"];"),
        "{dot}"
    );
    check_graph("two levels", dot_graph(&dot));
    let (nodes, _) = dot_graph(&dot);
    assert_eq!(nodes, ["v_x", "n_mid__in__halve", "v_result"]);
    // Collapsed one level down: the inner node is one box in the `mid` cluster.
    let dot = p.to_dot(&VizOptions::new().with_depth(1));
    assert!(
        dot.contains("\"v_x\" -> \"n_mid__in\" [label=\"i64\\nk ← x\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"n_mid__in\" -> \"v_result\" [label=\"i64\\nresult ← half ← m\"];"),
        "{dot}"
    );
    // Grouped: the port is `halve`'s own output, the edge carries the renames.
    let graph = Graph::new(&p, &VizOptions::new().with_depth(2).with_grouped(true));
    assert_eq!(
        graph.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["v_x", "cluster_mid", "cluster_mid__in", "n_mid__in__halve"]
    );
    assert_eq!(graph.nodes[3].outputs[0].text(), "m: i64");
    assert!(graph.nodes[3].outputs[0].output);
}

#[test]
fn grouped_svg_draws_ports_and_dual_nodes() {
    for depth in [0, 1] {
        let svg = doc()
            .to_svg(&VizOptions::new().with_depth(depth).with_grouped(true))
            .unwrap();
        let xml = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}:\n{svg}"));
        let texts: BTreeSet<&str> = xml.descendants().filter_map(|n| n.text()).collect();
        // Collapsed, `counts` is a port; expanded, the edge from `count`'s port `n` says
        // that the value leaves as `counts`.
        let counts = if depth == 0 {
            "counts ← n: Vec<i64>"
        } else {
            "counts ← n"
        };
        for text in ["scale", "scaled: i64", "total: i64", "factor", "sentences", counts] {
            assert!(texts.contains(text), "depth {depth}: no text '{text}' in\n{svg}");
        }
        // The output `scaled` sits on a green row of its producer.
        assert!(svg.contains("<rect class=\"output\""), "{svg}");
        assert!(svg.contains("<g id=\"n_scale\" class=\"node dual\">"));
    }
}

#[cfg(feature = "cli")]
mod cli {
    use std::path::Path;

    use hypernodes::spec::{Registry, load};
    use hypernodes::viz::{Draw, Graph, VizOptions};

    use crate::cli::{hypernodes, text};
    use crate::parquet::TempDir;

    fn sentences() -> hypernodes::Pipeline {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sentences.toml");
        load(&path, &Registry::new(), None).unwrap().pipeline
    }

    #[test]
    fn viz_writes_the_graph_as_json() {
        let o = hypernodes(&["viz", "examples/sentences.toml", "--format", "json", "--depth", "1"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let expected = Graph::new(&sentences(), &VizOptions::new().with_depth(1)).to_json();
        assert_eq!(text(&o.stdout), expected);
        let graph: Graph = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(graph.edges[0].mapping, ["sentences", "sentence"]);

        // The format of a `.json` output.
        let dir = TempDir::new("viz-json");
        let json = dir.join("graph.json");
        let o = hypernodes(&["viz", "examples/sentences.toml", "-o", json.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let written = std::fs::read_to_string(&json).unwrap();
        assert_eq!(written, Graph::new(&sentences(), &VizOptions::new()).to_json());
    }

    #[test]
    fn viz_grouped_draws_outputs_inside_their_nodes() {
        let o = hypernodes(&["viz", "examples/sentences.toml", "--format", "mermaid", "--grouped"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let expected = sentences().to_mermaid(&VizOptions::new().with_grouped(true));
        assert_eq!(text(&o.stdout), expected);
        assert!(
            expected.contains("  n_sum[\"sum<br/>→ total: i64 (output)\"]:::function\n"),
            "{expected}"
        );
        let o = hypernodes(&["viz", "--help"]);
        assert!(text(&o.stdout).contains("--grouped"), "{}", text(&o.stdout));
    }
}
