//! Columns in other Arrow layouts than the ones a node's types build: dictionary-encoded
//! columns read as their values, on both engines and from a Parquet file through a
//! pipeline file.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Int8Type, Int32Type, Int64Type};
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::types::type_info_for;
use hypernodes::prelude::*;

#[node(output = "shouted")]
fn shout(category: &str) -> String {
    category.to_uppercase()
}

#[node(output = "label")]
fn label(category: Option<String>) -> String {
    category.unwrap_or_else(|| "none".into())
}

#[node(output = "tripled")]
fn triple(code: i64) -> i64 {
    3 * code
}

fn batch(name: &str, array: ArrayRef) -> RecordBatch {
    RecordBatch::try_from_iter([(name, array)]).unwrap()
}

/// Output `output` of `node` over a batch of column `name` on the columnar engine,
/// checked equal to the node engine's.
fn apply(node: Node, name: &str, array: ArrayRef, output: &str) -> ArrayRef {
    let p = Pipeline::new([node]);
    let b = batch(name, array);
    let out = ColumnarEngine::new().apply_to_batch(&p, &b).unwrap();
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &b).unwrap();
    assert_eq!(out, by_rows);
    // The input column is kept as it came.
    assert_eq!(out.column_by_name(name).unwrap().data_type(), b.column(0).data_type());
    out.column_by_name(output).unwrap().clone()
}

fn strings(array: &ArrayRef) -> Vec<Option<&str>> {
    array.as_string::<i32>().iter().collect()
}

/// `values`, dictionary-encoded with `Int32` keys.
fn dictionary(values: &[Option<&str>]) -> ArrayRef {
    let dict: DictionaryArray<Int32Type> = values.iter().copied().collect();
    Arc::new(dict)
}

/// `["b", "a", "a", "b"]`, dictionary-encoded.
fn categories() -> ArrayRef {
    dictionary(&[Some("b"), Some("a"), Some("a"), Some("b")])
}

#[test]
fn dictionary_columns_are_read_as_their_values() {
    let t = type_info_for(categories().data_type()).unwrap();
    assert_eq!(t.name(), "String");
    let out = apply(shout::node(), "category", categories(), "shouted");
    assert_eq!(strings(&out), [Some("B"), Some("A"), Some("A"), Some("B")]);
    let nulls = dictionary(&[Some("b"), None, Some("a")]);
    let out = apply(label::node(), "category", nulls.clone(), "label");
    assert_eq!(strings(&out), [Some("b"), Some("none"), Some("a")]);
    // A slice reads its own rows.
    let out = apply(label::node(), "category", nulls.slice(1, 2), "label");
    assert_eq!(strings(&out), [Some("none"), Some("a")]);

    // Keys of any width, values of any type.
    let codes = DictionaryArray::<Int8Type>::new(
        arrow::array::Int8Array::from(vec![1, 0, 1]),
        Arc::new(Int64Array::from(vec![10, 20])),
    );
    assert_eq!(type_info_for(codes.data_type()).unwrap().name(), "i64");
    let out = apply(triple::node(), "code", Arc::new(codes), "tripled");
    assert_eq!(out.as_primitive::<Int64Type>().values(), &[60, 30, 60]);
}

/// Calls of [`counted`].
static COUNTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[node(output = "length")]
fn counted(category: &str) -> usize {
    COUNTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    category.len()
}

#[test]
fn dictionary_rows_are_cached_as_their_values() {
    let p = Pipeline::new([counted::node()]).with_config(RunConfig::new().with_cache(Cache::memory()));
    let engine = ColumnarEngine::new();
    engine.apply_to_batch(&p, &batch("category", categories())).unwrap();
    let computed = COUNTED.load(std::sync::atomic::Ordering::SeqCst);
    assert!(computed > 0);
    // The same values made in Rust: every one found in the cache.
    let values = vec!["a".to_string(), "b".to_string()];
    let out = p
        .with_engine(engine)
        .map(&Inputs::new().with("category", values), &["category"], MapMode::Zip)
        .unwrap();
    assert_eq!(out.column::<usize>("length").unwrap(), &[1, 1]);
    assert_eq!(COUNTED.load(std::sync::atomic::Ordering::SeqCst), computed);
}

// ---------------------------------------------------------------------------------------
// A Parquet file through a pipeline file.

mod files {
    use arrow::datatypes::{Field, Schema};
    use hypernodes::io::FileRun;
    use hypernodes::spec::{Registry, load};

    use super::*;
    use crate::parquet::{TempDir, choice, read_parquet};

    const PIPELINE: &str = r#"
[inputs]
category = "string"

[[nodes]]
function = "shout"

[[nodes]]
function = "label"
inputs = { category = "region" }

[[nodes]]
name = "size"
sql = "character_length(category)"
"#;

    /// `category`, `region` and `country`, dictionary-encoded strings as Parquet writers
    /// store low-cardinality strings (`country` read by no node).
    fn write_input(path: &std::path::Path) -> Schema {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Schema::new(vec![
            Field::new("category", dict.clone(), true),
            Field::new("region", dict.clone(), true),
            Field::new("country", dict, true),
        ]);
        let region = dictionary(&[Some("eu"), Some("us"), Some("eu"), None]);
        let country = dictionary(&[Some("fr"), None, Some("de"), Some("fr")]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![categories(), region, country]).unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        schema
    }

    engine_test!(
        fn a_parquet_file_of_dictionary_columns_through_a_pipeline_file(engine) {
            let dir = TempDir::new(&format!("dictionary-{}", engine.name()));
            let input = dir.join("in.parquet");
            let schema = write_input(&input);
            let path = dir.join("p.toml");
            std::fs::write(&path, PIPELINE).unwrap();
            let mut registry = Registry::new();
            registry.register(shout::node()).register(label::node());
            let file = load(&path, &registry, Some(&schema))?;
            FileRun::new(file.pipeline, input, dir.join("out.parquet"))
                .with_engine(choice(&engine))
                .with_select(["country", "shouted", "label", "size"])
                .run()?;
            let out = read_parquet(&dir.join("out.parquet"));
            // The column no node reads passes through as it was.
            assert_eq!(out.column(0).data_type(), schema.field(2).data_type());
            let country = arrow::compute::cast(out.column(0), &DataType::Utf8).unwrap();
            assert_eq!(strings(&country), [Some("fr"), None, Some("de"), Some("fr")]);
            assert_eq!(strings(out.column(1)), [Some("B"), Some("A"), Some("A"), Some("B")]);
            assert_eq!(strings(out.column(2)), [Some("eu"), Some("us"), Some("eu"), Some("none")]);
            let size: Vec<Option<i32>> = out.column(3).as_primitive::<Int32Type>().iter().collect();
            assert_eq!(size, [Some(1); 4]);
        }
    );

    #[test]
    fn a_dictionary_column_is_not_passed_as_strings_to_a_node_reading_integers() {
        let dir = TempDir::new("dictionary-wrong-type");
        let input = dir.join("in.parquet");
        let schema = write_input(&input);
        let path = dir.join("p.toml");
        std::fs::write(
            &path,
            "[[nodes]]\nfunction = \"triple\"\ninputs = { code = \"category\" }\n",
        )
        .unwrap();
        let mut registry = Registry::new();
        registry.register(triple::node());
        let err = load(&path, &registry, Some(&schema)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:1: node 'triple': function 'triple' reads 'category' as i64, but it is String",
                path.display()
            )
        );
    }
}
