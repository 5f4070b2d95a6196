//! The pipeline-file loader on any text: arbitrary strings and bytes, TOML-shaped
//! fragments, and pipeline files built from pieces (inputs and their types, bound values,
//! SQL, function and pipeline nodes, sub-pipelines, mappings, cycles, duplicates).
//! Whatever the text, [`load_str`] (and [`load`] for bytes) returns, with no allocation
//! over a fixed bound, and an error is one line, `FILE:LINE: message`, with a line of the
//! file.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use hypernodes::Error;
use hypernodes::spec::{Columns, PipelineFile, Registry, load, load_str};
use proptest::collection::vec;
use proptest::prelude::*;

use super::harness::{config, largest_allocation};
use crate::parquet::TempDir;

/// The file every text claims to be (it is never read).
const PATH: &str = "fuzz/p.toml";

/// The largest allocation a load may make: the SQL planner's tables and the like, whatever
/// the text says.
const ALLOCATION_BOUND: usize = 64 << 20;

/// Columns of every kind: read by pipeline files, and one they cannot read (a decimal).
fn columns() -> Columns {
    let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
    Schema::new(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("value", DataType::Float64, true),
        Field::new("passage", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new("sentences", list(DataType::Utf8), true),
        Field::new("grid", list(list(DataType::Int32)), true),
        Field::new("day", DataType::Date32, true),
        Field::new("price", DataType::Decimal128(10, 2), true),
    ])
}

/// Loads `text` as `PATH`, checking what holds for any text.
fn check_text(text: &str, columns: Option<&Columns>) -> Result<Option<PipelineFile>, TestCaseError> {
    let (result, largest) = largest_allocation(|| load_str(text, Path::new(PATH), &Registry::new(), columns));
    prop_assert!(largest <= ALLOCATION_BOUND, "an allocation of {largest} bytes");
    match result {
        Ok(file) => Ok(Some(file)),
        Err(e) => {
            let lines = text.split('\n').count();
            match &e {
                Error::Spec { file, line, .. } => {
                    prop_assert_eq!(&**file, PATH);
                    prop_assert!((1..=lines).contains(line), "line {} of {}", line, lines);
                }
                other => prop_assert!(false, "not a pipeline-file error: {other:?}"),
            }
            check_message(&e.to_string())?;
            Ok(None)
        }
    }
}

fn check_message(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.trim().is_empty(), "an empty message");
    prop_assert!(
        !message.contains(['\n', '\r']),
        "a message of several lines: {message:?}"
    );
    Ok(())
}

/// Pieces of pipeline files, a line each.
const FRAGMENTS: &[&str] = &[
    "[inputs]",
    "x = \"i64\"",
    "s = \"string\"",
    "l = \"list<list<f64>>\"",
    "passage = \"i64\"",
    "[bind]",
    "w = 2.0",
    "k = [1, 2]",
    "m = [1, \"a\"]",
    "[run]",
    "input = \"missing.parquet\"",
    "output = \"out.parquet\"",
    "select = [\"a\"]",
    "[[nodes]]",
    "name = \"a\"",
    "name = \"b\"",
    "sql = \"x + 1\"",
    "sql = \"lower(passage)\"",
    "sql = \"a * b\"",
    "sql = \"\"",
    "function = \"count_words\"",
    "function = \"sum\"",
    "inputs = { text = \"passage\" }",
    "inputs = { values = \"grid\" }",
    "output = \"a\"",
    "outputs = { t = \"u\" }",
    "pipeline = \"sub\"",
    "map_over = [\"sentences\"]",
    "mode = \"product\"",
    "cache = false",
    "[pipelines.sub]",
    "nodes = [ { name = \"t\", sql = \"sentence\" } ]",
    "[[pipelines.sub.nodes]]",
    "name = \"p\"",
    "[nodes]",
    "nodes = 1",
    "=",
    "\"",
    "'''",
    "\"\"\"",
    "[",
    "]]",
    "{",
    "}",
    "# a comment",
    "a.b.c = 1",
    "x = 1979-05-27T07:32:00Z",
    "\u{0}",
    "é = \"é\"",
    "\t",
    "",
];

/// A line of a pipeline file's kind, or an arbitrary one.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "[a-z_\\[\\]\"=. ]{0,12}",
        1 => "\\PC{0,8}",
    ]
}

/// Text made of fragments, then changed a character at a time.
fn fragments() -> impl Strategy<Value = String> {
    (
        vec(line(), 0..24),
        vec(
            (
                any::<prop::sample::Index>(),
                prop_oneof![Just(None), any::<char>().prop_map(Some)],
            ),
            0..4,
        ),
    )
        .prop_map(|(lines, edits)| {
            let mut chars: Vec<char> = lines.join("\n").chars().collect();
            for (at, edit) in edits {
                let i = at.index(chars.len() + 1);
                match edit {
                    Some(c) => chars.insert(i, c),
                    None if i < chars.len() => {
                        chars.remove(i);
                    }
                    None => {}
                }
            }
            chars.into_iter().collect()
        })
}

// ---------------------------------------------------------------------------------------
// Pipeline files built from pieces.

/// Names: mostly of the columns, of the registry functions' outputs and of other nodes;
/// sometimes SQL words, quoted, odd or new ones.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => proptest::sample::select(&[
            "x", "value", "passage", "flag", "sentences", "grid", "a", "b", "c", "word_count",
            "cleaned_text", "total", "sentence", "w",
        ][..]).prop_map(str::to_string),
        1 => proptest::sample::select(&[
            "day", "text", "values", "sub", "X", "select", "from", "\"Quoted\"", "a.b", "", " ", "1x", "é",
        ][..]).prop_map(str::to_string),
        1 => "[a-z_][a-z0-9_]{0,5}",
    ]
}

/// An input declaration: a column with its type (or another), or a new name.
fn input() -> impl Strategy<Value = (String, String)> {
    let pair = |(n, t): (&str, &str)| (n.to_string(), t.to_string());
    prop_oneof![
        8 => proptest::sample::select(&[
            ("x", "i64"), ("value", "f64"), ("passage", "string"), ("flag", "bool"),
            ("sentences", "list<string>"), ("grid", "list<list<i32>>"),
        ][..]).prop_map(pair),
        2 => proptest::sample::select(&[
            ("a", "i64"), ("s", "string"), ("l", "list<i64>"), ("sentence", "str"), ("n", "u8"),
            ("big", "u64"), ("f", "float32"), ("value", "i64"),
        ][..]).prop_map(pair),
        1 => (ident(), type_name()),
    ]
}

/// A type name for `[inputs]`.
fn type_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&[
            "i64", "f64", "string", "bool", "i32", "u8", "Int64", "list<string>", "list<i64>",
            "list<list<f64>>", "list<list<list<i64>>>", "LIST< Utf8 >", "list<", "list<>", "date",
            "", "list<list<list<list<list<list<list<list<string>>>>>>>>",
        ][..]).prop_map(str::to_string),
        1 => "\\PC{0,10}",
    ]
}

/// A SQL expression, or something like one.
fn sql() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        6 => ident(),
        3 => proptest::sample::select(&[
            "0", "1", "-1", "2", "1000000000", "9223372036854775807", "99999999999999999999", "0.5",
            "1e308", "'a b'", "''", "'é'", "''''", "NULL", "TRUE",
        ][..]).prop_map(str::to_string),
        1 => proptest::sample::select(&[
            "*", "?", "$1", "x.y.z", "INTERVAL '1 day'", "[1, 2]", "{'a': 1}", "@", "\"\"", "`x`",
        ][..]).prop_map(str::to_string),
    ];
    let sql = leaf.prop_recursive(4, 24, 3, |inner| {
        let function = proptest::sample::select(
            &[
                "lower",
                "upper",
                "trim",
                "btrim",
                "length",
                "character_length",
                "abs",
                "coalesce",
                "nullif",
                "cardinality",
                "string_to_array",
                "array_length",
                "make_array",
                "concat",
                "substr",
                "round",
                "sqrt",
                "power",
                "repeat",
                "lpad",
                "rpad",
                "array_repeat",
                "range",
                "generate_series",
                "random",
                "now",
                "unnest",
                "count",
                "sum",
                "row_number",
                "regexp_like",
                "read_csv",
                "no_such_function",
            ][..],
        );
        prop_oneof![
            4 => (inner.clone(), proptest::sample::select(&[
                "+", "-", "*", "/", "%", "=", "<>", "<", ">=", "AND", "OR", "||", "LIKE", "IS", "",
            ][..]), inner.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            1 => inner.clone().prop_map(|a| format!("({a})")),
            1 => inner.clone().prop_map(|a| format!("-{a}")),
            1 => inner.clone().prop_map(|a| format!("NOT {a}")),
            1 => (inner.clone(), proptest::sample::select(&[
                "INT", "BIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "INT[]", "DATE", "nope",
            ][..])).prop_map(|(a, t)| format!("CAST({a} AS {t})")),
            4 => (function, vec(inner.clone(), 0..4)).prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            1 => (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("CASE WHEN {a} THEN {b} ELSE {c} END")),
            1 => (inner.clone(), inner).prop_map(|(a, b)| format!("{a}[{b}]")),
        ]
    });
    // Long chains (`a + a + ...`), which nest as deep as they are long.
    let chain = (
        ident(),
        proptest::sample::select(&[" + ", " AND ", " || ", "+", " * "][..]),
        prop_oneof![1..70_usize, 60..70_usize, 120..140_usize, 4000..4200_usize],
    )
        .prop_map(|(a, op, n)| vec![a; n].join(op));
    let sql = prop_oneof![40 => sql, 1 => chain];
    // Sometimes with something that is not part of an expression around it.
    let junk = prop_oneof![
        12 => Just(""),
        1 => proptest::sample::select(&["(", ")", ",", ";", "SELECT ", " FROM t", "--", "/*", "'", "\n", " \r\n\t"][..]),
    ];
    (junk.clone(), sql, junk).prop_map(|(a, s, b)| format!("{a}{s}{b}"))
}

/// A node declaration, every key optional.
#[derive(Clone, Debug, Default)]
struct NodeDecl {
    name: Option<String>,
    sql: Option<String>,
    function: Option<String>,
    pipeline: Option<String>,
    output: Option<String>,
    outputs: Vec<(String, String)>,
    inputs: Vec<(String, String)>,
    map_over: Option<Vec<String>>,
    mode: Option<String>,
    cache: Option<bool>,
    /// A key no node has.
    unknown: bool,
}

fn node() -> impl Strategy<Value = NodeDecl> {
    let function = || {
        prop_oneof![
            8 => proptest::sample::select(&["count_words", "clean_text", "char_count", "sum"][..]).prop_map(str::to_string),
            1 => ident(),
        ]
    };
    let pipeline = || {
        prop_oneof![
            8 => Just("sub".to_string()),
            4 => proptest::sample::select(&["inner", "deep"][..]).prop_map(str::to_string),
            1 => ident(),
        ]
    };
    // A parameter or inner name = an outer column (`inputs`), an inner output = an outer
    // name (`outputs`).
    let inner = || {
        prop_oneof![
            4 => proptest::sample::select(&[
                "text", "values", "sentence", "word_count", "cleaned_text", "total", "t", "u",
            ][..]).prop_map(str::to_string),
            1 => ident(),
        ]
    };
    let map = move |most: usize| vec((inner(), ident()), 0..most);
    let name = || proptest::option::weighted(0.95, ident());
    let sql_node = (
        name(),
        sql(),
        proptest::option::weighted(0.2, ident()),
        proptest::option::weighted(0.1, any::<bool>()),
    )
        .prop_map(|(name, sql, output, cache)| NodeDecl {
            name,
            sql: Some(sql),
            output,
            cache,
            ..NodeDecl::default()
        });
    // A function with its parameter read from a column (or anything).
    let call = prop_oneof![
        4 => (
            proptest::sample::select(&[
                ("count_words", "text"), ("clean_text", "text"), ("char_count", "text"), ("sum", "values"),
            ][..]),
            ident(),
        )
            .prop_map(|((f, p), column)| (f.to_string(), vec![(p.to_string(), column)])),
        1 => (function(), map(3)),
    ];
    let function_node = (
        name(),
        call,
        proptest::option::weighted(0.2, ident()),
        proptest::option::weighted(0.1, map(3)),
    )
        .prop_map(|(name, (function, inputs), output, outputs)| NodeDecl {
            name,
            function: Some(function),
            inputs,
            output,
            outputs: outputs.unwrap_or_default(),
            ..NodeDecl::default()
        });
    let pipeline_node = (
        name(),
        pipeline(),
        map(3),
        map(3),
        proptest::option::weighted(
            0.4,
            prop_oneof![
                3 => Just(vec!["sentences".to_string()]),
                1 => vec(ident(), 0..3),
            ],
        ),
        proptest::option::weighted(
            0.2,
            proptest::sample::select(&["zip", "product", "ZIP", "nope", ""][..]).prop_map(str::to_string),
        ),
    )
        .prop_map(|(name, pipeline, inputs, outputs, map_over, mode)| NodeDecl {
            name,
            pipeline: Some(pipeline),
            inputs,
            outputs,
            map_over,
            mode,
            ..NodeDecl::default()
        });
    // Any keys at all.
    let any_node = (
        (
            proptest::option::of(ident()),
            proptest::option::of(sql()),
            proptest::option::of(function()),
            proptest::option::of(pipeline()),
            proptest::option::of(ident()),
        ),
        (
            map(3),
            map(3),
            proptest::option::of(vec(ident(), 0..3)),
            proptest::option::of(proptest::sample::select(&["zip", "product", "nope"][..]).prop_map(str::to_string)),
            proptest::option::of(any::<bool>()),
            proptest::bool::weighted(0.2),
        ),
    )
        .prop_map(
            |((name, sql, function, pipeline, output), (outputs, inputs, map_over, mode, cache, unknown))| NodeDecl {
                name,
                sql,
                function,
                pipeline,
                output,
                outputs,
                inputs,
                map_over,
                mode,
                cache,
                unknown,
            },
        );
    prop_oneof![
        10 => sql_node,
        6 => function_node,
        4 => pipeline_node,
        1 => any_node,
    ]
}

/// A bound value.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        proptest::sample::select(&["2.0", "-0.0", "inf", "nan", "1e300"][..]).prop_map(str::to_string),
        ident().prop_map(|s| quote(&s)),
        any::<bool>().prop_map(|b| b.to_string()),
        proptest::sample::select(
            &[
                "[1, 2]",
                "[1.5]",
                "[\"a\", \"b\"]",
                "[true]",
                "[]",
                "[1, \"a\"]",
                "[[1]]",
                "{ a = 1 }"
            ][..]
        )
        .prop_map(str::to_string),
    ]
}

/// `[run] input`, `output` and `select`.
type Run = (Option<String>, Option<String>, Option<Vec<String>>);

/// A pipeline file.
#[derive(Clone, Debug)]
struct FileDecl {
    name: Option<String>,
    inputs: Vec<(String, String)>,
    bind: Vec<(String, String)>,
    /// `[run]`: the input, the output, the columns selected.
    run: Option<Run>,
    nodes: Vec<NodeDecl>,
    pipelines: Vec<(String, Vec<NodeDecl>)>,
}

fn file() -> impl Strategy<Value = FileDecl> {
    // Sub-pipelines, "sub" first: its nodes read `sentence`, from mapped `sentences`.
    let sub = (
        proptest::sample::select(&["sub", "inner", "deep"][..]).prop_map(str::to_string),
        vec(node(), 0..4),
    );
    let subs = (vec(node(), 1..3), vec(sub, 0..3)).prop_map(|(first, mut more)| {
        more.insert(0, ("sub".to_string(), first));
        more
    });
    (
        proptest::option::weighted(0.2, ident()),
        prop_oneof![vec(input(), 0..1), vec(input(), 1..4)],
        proptest::option::weighted(0.2, vec((ident(), toml_value()), 1..3)).prop_map(Option::unwrap_or_default),
        proptest::option::weighted(
            0.2,
            (
                proptest::option::of(Just("no-such-input.parquet".to_string())),
                proptest::option::of("[a-z./]{0,12}"),
                proptest::option::of(vec(ident(), 0..3)),
            ),
        ),
        vec(node(), 0..6),
        prop_oneof![1 => Just(Vec::new()), 3 => subs],
    )
        .prop_map(|(name, inputs, bind, run, nodes, pipelines)| FileDecl {
            name,
            inputs,
            bind,
            run,
            nodes,
            pipelines,
        })
}

/// `s` as a TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => write!(q, "\\u{:04X}", c as u32).unwrap(),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The pairs, each key once (TOML refuses a key twice; the fragments target tries that).
fn unique(pairs: &[(String, String)]) -> Vec<&(String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    pairs.iter().filter(|(k, _)| seen.insert(k)).collect()
}

fn inline_table(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = unique(pairs)
        .into_iter()
        .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

fn array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(", "))
}

fn render_node(out: &mut String, header: &str, n: &NodeDecl) {
    writeln!(out, "\n{header}").unwrap();
    let mut key = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            writeln!(out, "{k} = {v}").unwrap();
        }
    };
    key("name", n.name.as_deref().map(quote));
    key("sql", n.sql.as_deref().map(quote));
    key("function", n.function.as_deref().map(quote));
    key("pipeline", n.pipeline.as_deref().map(quote));
    key("output", n.output.as_deref().map(quote));
    key("outputs", (!n.outputs.is_empty()).then(|| inline_table(&n.outputs)));
    key("inputs", (!n.inputs.is_empty()).then(|| inline_table(&n.inputs)));
    key("map_over", n.map_over.as_deref().map(array));
    key("mode", n.mode.as_deref().map(quote));
    key("cache", n.cache.map(|c| c.to_string()));
    key("colour", n.unknown.then(|| "\"red\"".to_string()));
}

impl FileDecl {
    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(n) = &self.name {
            writeln!(out, "name = {}", quote(n)).unwrap();
        }
        if !self.inputs.is_empty() {
            out.push_str("[inputs]\n");
            for (k, t) in unique(&self.inputs) {
                writeln!(out, "{} = {}", quote(k), quote(t)).unwrap();
            }
        }
        if !self.bind.is_empty() {
            out.push_str("[bind]\n");
            for (k, v) in unique(&self.bind) {
                writeln!(out, "{} = {v}", quote(k)).unwrap();
            }
        }
        if let Some((input, output, select)) = &self.run {
            out.push_str("[run]\n");
            if let Some(i) = input {
                writeln!(out, "input = {}", quote(i)).unwrap();
            }
            if let Some(o) = output {
                writeln!(out, "output = {}", quote(o)).unwrap();
            }
            if let Some(s) = select {
                writeln!(out, "select = {}", array(s)).unwrap();
            }
        }
        for n in &self.nodes {
            render_node(&mut out, "[[nodes]]", n);
        }
        let mut seen = std::collections::BTreeSet::new();
        for (name, nodes) in self.pipelines.iter().filter(|(name, _)| seen.insert(name)) {
            let header = format!("[[pipelines.{}.nodes]]", quote(name));
            if nodes.is_empty() {
                writeln!(out, "\n[pipelines.{}]\nnodes = []", quote(name)).unwrap();
            }
            for n in nodes {
                render_node(&mut out, &header, n);
            }
        }
        out
    }
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary text.
    #[test]
    fn arbitrary_text(text in "(?s).{0,200}", with_columns in any::<bool>()) {
        check_text(&text, with_columns.then(columns).as_ref())?;
    }

    /// Arbitrary bytes, read from a file (which need not be UTF-8).
    #[test]
    fn arbitrary_bytes(bytes in vec(any::<u8>(), 0..256)) {
        let dir = TempDir::new("fuzz-bytes");
        let path = dir.join("p.toml");
        std::fs::write(&path, &bytes).unwrap();
        let (result, largest) = largest_allocation(|| load(&path, &Registry::new(), Some(&columns())));
        prop_assert!(largest <= ALLOCATION_BOUND, "an allocation of {largest} bytes");
        if let Err(e) = result {
            check_message(&e.to_string())?;
        }
    }

    /// Lines of pipeline files in any order, changed a character at a time.
    #[test]
    fn toml_fragments(text in fragments(), with_columns in any::<bool>()) {
        check_text(&text, with_columns.then(columns).as_ref())?;
    }

    /// Pipeline files built from pieces, most of them nearly right; and sometimes
    /// pipelines that use each other, nested deep or many times.
    #[test]
    fn structured(
        text in prop_oneof![
            60 => file().prop_map(|f| f.render()),
            1 => (1..24_usize, 1..4_usize).prop_map(|(n, fan)| nested(n, fan)),
        ],
        with_columns in any::<bool>(),
    ) {
        check_text(&text, with_columns.then(columns).as_ref())?;
    }
}

// ---------------------------------------------------------------------------------------
// Regressions: inputs the targets found, each with the error it now gives.

/// The error of loading `text` (as `PATH`), with the test data's columns or none.
fn error(text: &str, with_columns: bool) -> String {
    let columns = with_columns.then(columns);
    load_str(text, Path::new(PATH), &Registry::new(), columns.as_ref())
        .unwrap_err()
        .to_string()
}

/// Found by `structured`: several values bound to names no node reads were one error of
/// several lines, at line 1.
#[test]
fn values_bound_to_no_input_are_named_one_at_a_time_at_their_line() {
    assert_eq!(
        error(
            "[bind]\nx = 0\nvalue = 0\n\n[[nodes]]\nname = \"one\"\nsql = \"1\"\n",
            false
        ),
        "fuzz/p.toml:3: Cannot bind 'value': it is not an input of the pipeline. Inputs: []"
    );
}

/// Found by `structured`: a node reading its own output (a column of that name) failed the
/// pipeline's checks twice, in a message of several lines.
#[test]
fn a_node_reading_its_own_output_is_named_on_one_line() {
    assert_eq!(
        error("[[nodes]]\nname = \"grid\"\nsql = \"concat(grid)\"\n", true),
        "fuzz/p.toml:1: Type mismatch for 'grid': node 'grid' produces String but node 'grid' expects \
         Vec<Vec<i32>>; Cycle detected in pipeline: grid -> grid"
    );
}

/// The pipeline file of one SQL node `a`.
fn sql_file(sql: &str) -> String {
    format!("[[nodes]]\nname = \"a\"\nsql = \"{sql}\"\n")
}

/// Found by a probe, then by `structured` (126 list concatenations): SQL expressions that
/// nest deep overflowed the stack while they were parsed or planned, which aborts the
/// process. They are refused before.
#[test]
fn sql_expressions_that_nest_too_deep_are_refused() {
    let chain = |term: &str, n: usize, op: &str| vec![term; n].join(op);
    // 64 levels plan on a test's 2 MiB stack (in a debug build too).
    let ok = chain("sentences", 64, " || ");
    load_str(&sql_file(&ok), Path::new(PATH), &Registry::new(), Some(&columns())).unwrap();
    let deep = chain("grid", 126, " || ");
    assert_eq!(
        error(&sql_file(&deep), true),
        format!(
            "fuzz/p.toml:1: node 'a': `{deep}`: not a SQL expression: nested deeper than the 64 levels an \
             expression may have"
        )
    );
    let long = chain("x", 5000, " + ");
    assert_eq!(
        error(&sql_file(&long), true),
        format!(
            "fuzz/p.toml:1: node 'a': `{long}`: not a SQL expression: 9999 tokens, more than the 4096 an expression may have"
        )
    );
    // 40 prefix operators overflowed the parser's stack in a debug build; past 50 the
    // parser stops nesting (and reads `NOT` as a name, which another `NOT` follows).
    let nots = format!("{}flag", "NOT ".repeat(40));
    load_str(&sql_file(&nots), Path::new(PATH), &Registry::new(), Some(&columns())).unwrap();
    let nots = format!("{}flag", "NOT ".repeat(60));
    assert_eq!(
        error(&sql_file(&nots), true),
        format!(
            "fuzz/p.toml:1: node 'a': `{nots}`: `NOT` at line 1, column 201 follows the expression: a node's \
             `sql` is one expression, not statements"
        )
    );
}

/// Found by `structured` in its 1,000,000-case run: a name holding a line break (here the
/// parser reads `@` and the line break after it as one name) made a message of two lines.
#[test]
fn a_name_holding_a_line_break_is_shown_escaped() {
    assert_eq!(
        error("\n[[nodes]]\nname = \"x\"\nsql = \"0 + NOT @\\u000A\"\n", false),
        "fuzz/p.toml:2: node 'x': unknown column '@\\n'. Known: ."
    );
    assert_eq!(
        error("[[nodes]]\nfunction = \"count\\twords\\n\"\n", false),
        "fuzz/p.toml:1: node 'count\\twords\\n': unknown function 'count\\twords\\n'. Functions: char_count, \
         clean_text, count_words, hash_hex, parse_timestamp, round_decimal, sum, truncate_timestamp. Did you mean 'count_words'?"
    );
}

/// An expression over several lines is shown on one.
#[test]
fn sql_over_several_lines_is_named_on_one_line() {
    assert_eq!(
        error(&sql_file("x +\\n  (value"), true),
        "fuzz/p.toml:1: node 'a': `x + (value`: not a SQL expression: sql parser error: Expected: ), found: EOF"
    );
}

/// A file whose pipelines `p0` .. `p{n-1}` each use the next `fan` times.
fn nested(n: usize, fan: usize) -> String {
    let mut text = String::from("[inputs]\nx = \"i64\"\n\n[[nodes]]\nname = \"top\"\npipeline = \"p0\"\n");
    for i in 0..n {
        if i + 1 == n {
            text += &format!("\n[[pipelines.p{i}.nodes]]\nname = \"leaf\"\nsql = \"x + 1\"\n");
            continue;
        }
        for k in 0..fan {
            text += &format!(
                "\n[[pipelines.p{i}.nodes]]\nname = \"n{k}\"\npipeline = \"p{}\"\noutputs = {{ leaf = \"leaf{k}\" }}\n",
                i + 1
            );
        }
        text += &format!("\n[[pipelines.p{i}.nodes]]\nname = \"leaf\"\nsql = \"leaf0 + 1\"\n");
    }
    text
}

/// Found by a probe: a pipeline using another twice, which uses another twice, and so on,
/// took time and memory exponential in the file's size to load (2.5 KB: 5 s in a debug
/// build; each two more levels, four times that). Deep nesting would overflow the stack.
#[test]
fn pipelines_that_expand_too_much_or_nest_too_deep_are_refused() {
    assert_eq!(
        error(&nested(14, 2), false),
        "fuzz/p.toml:4: node 'top': the pipelines of this file make more than 10000 nodes, each nested \
         pipeline counted once per use"
    );
    assert_eq!(
        error(&nested(17, 1), false),
        "fuzz/p.toml:4: node 'top': pipelines nest more than 16 deep: p0 -> p1 -> p2 -> p3 -> p4 -> p5 -> p6 \
         -> p7 -> p8 -> p9 -> p10 -> p11 -> p12 -> p13 -> p14 -> p15 -> p16"
    );
    let file = load_str(&nested(16, 1), Path::new(PATH), &Registry::new(), None).unwrap();
    assert_eq!(file.pipeline.outputs(), ["leaf", "leaf0"]);
}
