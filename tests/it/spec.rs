//! Pipeline files: nodes from SQL, registry functions and nested pipelines, run on both
//! engines; every mistake named with the file, the line and the node.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema};
use hypernodes::Volatility;
use hypernodes::datagen::write_docs;
use hypernodes::io::FileRun;
use hypernodes::prelude::*;
use hypernodes::spec::{Registry, load};

use crate::parquet::{TempDir, choice, read_parquet};

/// Writes `text` as a pipeline file in `dir`.
fn file(dir: &TempDir, text: &str) -> PathBuf {
    let path = dir.join("p.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The schema of the data set.
fn docs() -> Schema {
    hypernodes::datagen::docs_schema().as_ref().clone()
}

/// The error of loading `text` against the data set's columns.
fn error(text: &str) -> String {
    let dir = TempDir::new(&format!("spec-err-{:x}", blake3::hash(text.as_bytes()).as_bytes()[0]));
    let path = file(&dir, text);
    let err = load(&path, &Registry::new(), Some(&docs())).unwrap_err().to_string();
    err.replace(&format!("{}:", path.display()), "p.toml:")
}

#[test]
fn unknown_function() {
    assert_eq!(
        error("[[nodes]]\nfunction = \"count_word\"\ninputs = { text = \"passage\" }\n"),
        "p.toml:1: node 'count_word': unknown function 'count_word'. Functions: char_count, clean_text, \
         count_words, hash_hex, parse_timestamp, round_decimal, sum, truncate_timestamp. Did you mean 'count_words'?"
    );
}

#[test]
fn unknown_column() {
    assert_eq!(
        error(
            "[[nodes]]\nname = \"a\"\nsql = \"lower(passage)\"\n\n[[nodes]]\nname = \"b\"\nsql = \"length(pasage)\"\n"
        ),
        "p.toml:5: node 'b': unknown column 'pasage'. Known: a, id, passage, sentences, value. Did you mean 'passage'?"
    );
}

#[test]
fn type_error_in_an_expression() {
    let message = error("[[nodes]]\nname = \"a\"\nsql = \"passage * 2\"\n");
    assert!(
        message.starts_with(
            "p.toml:1: node 'a': `passage * 2`: Error during planning: Cannot coerce arithmetic expression Utf8 * Int64"
        ),
        "{message}"
    );
}

#[test]
fn a_function_reading_a_column_of_another_type() {
    assert_eq!(
        error("[[nodes]]\nfunction = \"count_words\"\ninputs = { text = \"value\" }\n"),
        "p.toml:1: node 'count_words': function 'count_words' reads 'value' as String, but it is f64"
    );
}

#[test]
fn cycle() {
    assert_eq!(
        error(
            "[[nodes]]\nname = \"a\"\nsql = \"b + 1\"\n\n[[nodes]]\nname = \"b\"\nsql = \"c + 1\"\n\n\
             [[nodes]]\nname = \"c\"\nsql = \"a + id\"\n"
        ),
        "p.toml:1: Cycle detected in pipeline: a -> c -> b -> a"
    );
}

#[test]
fn duplicate_output() {
    assert_eq!(
        error(
            "[[nodes]]\nname = \"a\"\nsql = \"id + 1\"\noutput = \"x\"\n\n[[nodes]]\nname = \"b\"\nsql = \"id + 2\"\noutput = \"x\"\n"
        ),
        "p.toml:6: Multiple nodes produce output 'x': a (line 1) and b"
    );
}

#[test]
fn toml_mistakes() {
    assert_eq!(
        error("[[nodes]]\nname = \"a\"\nsql = \"id + 1\"\ncolour = \"red\"\n"),
        "p.toml:4: unknown field `colour`, expected one of `name`, `sql`, `function`, `pipeline`, `output`, \
         `outputs`, `inputs`, `map_over`, `mode`, `cache`"
    );
    assert_eq!(
        error("[[nodes]\nname = 1\n"),
        "p.toml:1: unclosed array table, expected `]`"
    );
    assert_eq!(
        error("[[nodes]]\nname = \"a\"\n"),
        "p.toml:1: node 'a': give exactly one of `sql`, `function` or `pipeline`"
    );
    assert_eq!(
        error("[inputs]\npassage = \"text\"\nvalue = \"money\"\n"),
        "p.toml:3: input 'value': unknown type 'money'. Types: string, bool, i8, i16, i32, i64, u8, u16, u32, \
         u64, f32, f64, date, time, timestamp, timestamp[s|ms|us|ns], timestamp[UNIT, ZONE], duration[s|ms|us|ns], \
         interval, decimal, decimal(P, S), decimal128(P, S), decimal256(P, S), binary, fixed_binary[N], list<T>, list<T; N>, \
         map<string, T>"
    );
    assert_eq!(
        error("[[nodes]]\nname = \"n\"\npipeline = \"inner\"\n"),
        "p.toml:1: node 'n': unknown pipeline 'inner'. Pipelines of this file: []"
    );
}

/// W4 and a bound weight, as one file.
const NESTED: &str = r#"
[bind]
weight = 0.5

[[nodes]]
name = "per_sentence"
pipeline = "sentence"
map_over = ["sentences"]
inputs = { sentence = "sentences" }

[[nodes]]
function = "sum"
inputs = { values = "tokens" }

[[nodes]]
name = "weighted"
sql = "total * weight + character_length(trim(passage))"

[pipelines.sentence]
nodes = [
    { function = "count_words", inputs = { text = "sentence" }, output = "tokens" },
]
"#;

engine_test!(
    fn nested_pipelines_bind_and_sql_from_a_file(engine) {
        let dir = TempDir::new(&format!("spec-nested-{}", engine.name()));
        write_docs(&dir.join("docs.parquet"), 700, 5)?;
        let p = load(&file(&dir, NESTED), &Registry::new(), Some(&docs()))?;
        assert_eq!(p.pipeline.inputs(), ["passage", "sentences", "weight"]);
        FileRun::new(p.pipeline, dir.join("docs.parquet"), dir.join("out.parquet"))
            .with_engine(choice(&engine))
            .with_select(["id", "tokens", "total", "weighted"])
            .with_batch_rows(256)
            .run()?;
        let inp = read_parquet(&dir.join("docs.parquet"));
        let out = read_parquet(&dir.join("out.parquet"));
        let sentences = inp.column(3).as_list::<i32>();
        let passages = inp.column(1).as_string::<i32>();
        let tokens = out.column(1).as_list::<i32>();
        let totals = out.column(2).as_primitive::<Int64Type>();
        let weighted = out.column(3).as_primitive::<Float64Type>();
        for row in 0..inp.num_rows() {
            let expected: Vec<i64> = sentences
                .value(row)
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().split_whitespace().count() as i64)
                .collect();
            let got: Vec<i64> = tokens.value(row).as_primitive::<Int64Type>().values().to_vec();
            assert_eq!(got, expected, "row {row}");
            let total: i64 = expected.iter().sum();
            assert_eq!(totals.value(row), total);
            let chars = passages.value(row).trim().chars().count() as f64;
            assert_eq!(weighted.value(row), total as f64 * 0.5 + chars);
        }
    }
);

/// A function a Rust user registers.
#[node(output = "initials")]
fn initials(text: &str) -> String {
    text.split_whitespace().filter_map(|w| w.chars().next()).collect()
}

engine_test!(
    fn registered_functions_and_expression_types(engine) {
        let dir = TempDir::new(&format!("spec-reg-{}", engine.name()));
        let mut registry = Registry::new();
        registry.register(initials::node());
        let text = "[[nodes]]\nfunction = \"initials\"\ninputs = { text = \"s\" }\n\n\
                    [[nodes]]\nname = \"n\"\nsql = \"character_length(initials)\"\n";
        let schema = Schema::new(vec![Field::new("s", DataType::Utf8, false)]);
        let p = load(&file(&dir, text), &registry, Some(&schema))?;
        assert_eq!(p.pipeline.output_type("n").unwrap().name(), "i32");
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(arrow::array::StringArray::from(vec!["big red dog", "é"]))],
        )
        .unwrap();
        let out = hypernodes::ColumnarEngine::apply_to_batch_on(engine.clone(), &p.pipeline, &batch)?;
        assert_eq!(out.column_by_name("initials").unwrap().as_string::<i32>().value(0), "brd");
        assert_eq!(out.column_by_name("n").unwrap().as_primitive::<Int32Type>().values(), &[3, 1]);
    }
);

#[test]
fn the_bundled_examples_load() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = load(&root.join("examples/text.toml"), &Registry::new(), None).unwrap();
    assert_eq!(text.input.unwrap(), root.join("data/docs_1000.parquet"));
    assert_eq!(text.output.unwrap(), root.join("examples/text.out.parquet"));
    assert_eq!(text.select.unwrap(), ["id", "word_count", "score"]);
    assert_eq!(
        text.pipeline.outputs(),
        ["char_count", "cleaned_text", "score", "word_count"]
    );
    let nested = load(&root.join("examples/sentences.toml"), &Registry::new(), None).unwrap();
    assert_eq!(nested.pipeline.outputs(), ["tokens", "total"]);
}

#[test]
fn a_volatile_expression_is_never_cached() {
    let dir = TempDir::new("spec-volatile");
    let text = "[inputs]\nvalue = \"f64\"\n\n[[nodes]]\nname = \"noise\"\nsql = \"value + random()\"\n\n\
                [[nodes]]\nname = \"twice\"\nsql = \"value * 2\"\n";
    let loaded = load(&file(&dir, text), &Registry::new(), Some(&docs())).unwrap();
    let volatility: Vec<(&str, Volatility)> = loaded
        .pipeline
        .nodes()
        .iter()
        .map(|n| (n.name(), n.volatility()))
        .collect();
    assert_eq!(
        volatility,
        [("noise", Volatility::Volatile), ("twice", Volatility::Immutable)]
    );
}
