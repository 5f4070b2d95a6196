//! Columns in other Arrow layouts than the ones a node's types build: dictionary-encoded
//! columns read as their values, and fixed-size lists (embeddings) read as `[T; N]` or
//! as slices of their flat buffer; on both engines and from a Parquet file through a
//! pipeline file.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Int8Type, Int32Type, Int64Type};
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::types::type_info_for;
use hypernodes::prelude::*;

use crate::common::*;

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
// Fixed-size lists.

#[node(output = "norm")]
fn norm(v: [f32; 3]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[node(output = "norm")]
fn maybe_norm(v: Option<[f32; 3]>) -> Option<f32> {
    v.map(norm)
}

#[node(output = "halves")]
fn halve(v: &[f64; 2]) -> Option<[f64; 2]> {
    (v[0] != 0.0).then(|| v.map(|x| x / 2.0))
}

#[node(output = "pairs")]
fn pairs(n: i64) -> Vec<[i64; 2]> {
    (0..n).map(|i| [i, -i]).collect()
}

#[node(output = "score")]
fn score(embedding: &[f32]) -> f32 {
    embedding.iter().zip([1.0, 10.0, 100.0]).map(|(x, w)| x * w).sum()
}

#[node(output = "address")]
fn address(embedding: &[f32]) -> u64 {
    embedding.as_ptr() as u64
}

engine_test!(
    fn fixed_size_arrays_flow_through_nodes(engine) {
        let vs = vec![[3.0_f32, 4.0, 0.0], [0.0, 0.0, 1.0]];
        let out = on(&engine, [norm::node()]).map(&Inputs::new().with("v", vs), &["v"], MapMode::Zip)?;
        assert_eq!(out.column::<f32>("norm")?, &[5.0, 1.0]);
        let vs = vec![[1.0_f64, 3.0], [0.0, 1.0]];
        let out = on(&engine, [halve::node()]).map(&Inputs::new().with("v", vs), &["v"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<[f64; 2]>>("halves")?, &[Some([0.5, 1.5]), None]);
        let out = on(&engine, [pairs::node()]).map(&Inputs::new().with("n", vec![2_i64, 0]), &["n"], MapMode::Zip)?;
        assert_eq!(out.column::<Vec<[i64; 2]>>("pairs")?, &[vec![[0, 0], [1, -1]], vec![]]);
    }
);

/// A `FixedSizeList(Float32, 3)` column of `values` (three per row), its elements not
/// nullable and named `element`, as pyarrow and Parquet name them.
fn embeddings(values: Vec<f32>, nulls: Option<Vec<bool>>) -> arrow::array::FixedSizeListArray {
    let field = Arc::new(arrow::datatypes::Field::new("element", DataType::Float32, false));
    let values = Arc::new(arrow::array::Float32Array::from(values));
    arrow::array::FixedSizeListArray::new(field, 3, values, nulls.map(Into::into))
}

#[test]
fn fixed_size_list_columns_are_read_as_arrays_and_as_slices_of_their_buffer() {
    let column = embeddings(vec![3.0, 4.0, 0.0, 1.0, 2.0, 3.0], None);
    let out = apply(norm::node(), "v", Arc::new(column.clone()), "norm");
    assert_eq!(
        out.as_primitive::<arrow::datatypes::Float32Type>().values(),
        &[5.0, 14.0_f32.sqrt()]
    );
    let out = apply(score::node(), "embedding", Arc::new(column.clone()), "score");
    assert_eq!(
        out.as_primitive::<arrow::datatypes::Float32Type>().values(),
        &[43.0, 321.0]
    );
    // The columnar engine's `&[f32]` is the column's own buffer: nothing is copied.
    let p = Pipeline::new([address::node()]);
    let out = ColumnarEngine::new()
        .apply_to_batch(&p, &batch("embedding", Arc::new(column.clone())))
        .unwrap();
    let start = column
        .values()
        .as_primitive::<arrow::datatypes::Float32Type>()
        .values()
        .as_ptr() as u64;
    assert_eq!(
        out.column_by_name("address")
            .unwrap()
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .values(),
        &[start, start + 12]
    );
    // Null rows are `None`.
    let with_null = embeddings(vec![3.0, 4.0, 0.0, 0.0, 0.0, 0.0], Some(vec![true, false]));
    let out = apply(maybe_norm::node(), "v", Arc::new(with_null), "norm");
    assert_eq!(
        out.as_primitive::<arrow::datatypes::Float32Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(5.0), None]
    );
}

#[test]
fn lists_of_another_length_are_an_error_naming_the_row() {
    use arrow::array::ListArray;
    let lists = ListArray::from_iter_primitive::<arrow::datatypes::Float32Type, _, _>([
        Some(vec![Some(1.0), Some(2.0), Some(2.0)]),
        Some(vec![Some(1.0), Some(2.0)]),
    ]);
    let p = Pipeline::new([norm::node()]);
    let b = batch("v", Arc::new(lists.clone()));
    let message = "Node 'norm' failed on item 1: column 'v' holds a list of 2 elements, which is not the 3 of a \
                   FixedSizeList(3 x Float32)";
    assert_eq!(
        ColumnarEngine::new().apply_to_batch(&p, &b).unwrap_err().to_string(),
        message
    );
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &b).unwrap_err();
    assert_eq!(by_rows.to_string(), message);
    // Lists of the length are read.
    let out = apply(norm::node(), "v", Arc::new(lists.slice(0, 1)), "norm");
    assert_eq!(out.as_primitive::<arrow::datatypes::Float32Type>().values(), &[3.0]);
    // Fixed-size lists of another size are another type.
    let field = Arc::new(arrow::datatypes::Field::new_list_field(DataType::Float32, true));
    let pairs = arrow::array::FixedSizeListArray::new(
        field,
        2,
        Arc::new(arrow::array::Float32Array::from(vec![1.0, 2.0])),
        None,
    );
    let err = ColumnarEngine::new()
        .apply_to_batch(&p, &batch("v", Arc::new(pairs)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Input 'v' has type FixedSizeList(2 x Float32) but node 'norm' expects [f32; 3]"
    );
}

#[test]
fn fixed_size_list_rows_digest_as_the_lists_of_their_elements() {
    let ct = hypernodes::engine::columnar::types::ColumnType::of::<[f32; 3]>();
    let column = embeddings(vec![3.0, 4.0, 0.0, 1.0, 2.0, 3.0], None);
    let mut rows = Vec::new();
    assert!((ct.digest_rows)(&column, &mut rows));
    let ty = hypernodes::TypeInfo::of::<[f32; 3]>().with_hasher(hypernodes::hash::hash_fn::<[f32; 3]>());
    let rust = hypernodes::hash::digest_as(&Value::new([1.0_f32, 2.0, 3.0]), &ty);
    assert_eq!(rust, Some(rows[1]));
    assert_eq!(
        hypernodes::hash::digest(&Value::new(vec![1.0_f32, 2.0, 3.0])),
        Some(rows[1])
    );
}

// ---------------------------------------------------------------------------------------
// A Parquet file through a pipeline file.

mod files {
    use arrow::datatypes::{Field, Schema};
    use hypernodes::io::FileRun;
    use hypernodes::spec::{Registry, load};

    use super::*;
    use crate::parquet::{TempDir, choice, read_parquet, run_pipeline_file, write_parquet};

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
    fn input() -> RecordBatch {
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Schema::new(vec![
            Field::new("category", dict.clone(), true),
            Field::new("region", dict.clone(), true),
            Field::new("country", dict, true),
        ]);
        let region = dictionary(&[Some("eu"), Some("us"), Some("eu"), None]);
        let country = dictionary(&[Some("fr"), None, Some("de"), Some("fr")]);
        RecordBatch::try_new(Arc::new(schema.clone()), vec![categories(), region, country]).unwrap()
    }

    engine_test!(
        fn a_parquet_file_of_dictionary_columns_through_a_pipeline_file(engine) {
            let mut registry = Registry::new();
            registry.register(shout::node()).register(label::node());
            let batch = input();
            let select = ["country", "shouted", "label", "size"];
            let (_, out) = run_pipeline_file(&engine, "dictionary", PIPELINE, &registry, &batch, &select)?;
            // The column no node reads passes through as it was.
            assert_eq!(out.column(0).data_type(), batch.schema().field(2).data_type());
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
        let schema = input().schema();
        let path = dir.join("p.toml");
        std::fs::write(
            &path,
            "[[nodes]]\nfunction = \"triple\"\ninputs = { code = \"category\" }\n",
        )
        .unwrap();
        let mut registry = Registry::new();
        registry.register(triple::node());
        let err = load(&path, &registry, Some(&*schema)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:1: node 'triple': function 'triple' reads 'category' as i64, but it is String",
                path.display()
            )
        );
    }

    const EMBEDDINGS: &str = r#"
[inputs]
embedding = "list<f32; 3>"

[[nodes]]
function = "score"

[[nodes]]
name = "first"
sql = "embedding[1]"
"#;

    const NORMS: &str = r#"
[[nodes]]
function = "norm"
inputs = { v = "embedding" }
"#;

    engine_test!(
        fn a_parquet_file_of_embeddings_through_pipeline_files(engine) {
            let dir = TempDir::new(&format!("embeddings-{}", engine.name()));
            let input = dir.join("in.parquet");
            let column = embeddings(vec![3.0, 4.0, 0.0, 1.0, 2.0, 3.0], None);
            let schema = Schema::new(vec![Field::new("embedding", column.data_type().clone(), false)]);
            let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(column)]).unwrap();
            write_parquet(&input, &batch);
            let mut registry = Registry::new();
            registry.register(score::node()).register(norm::node());

            let path = dir.join("p.toml");
            std::fs::write(&path, EMBEDDINGS).unwrap();
            let file = load(&path, &registry, Some(&schema))?;
            FileRun::new(file.pipeline, &input, dir.join("out.parquet"))
                .with_engine(choice(&engine))
                .with_select(["embedding", "score", "first"])
                .run()?;
            let out = read_parquet(&dir.join("out.parquet"));
            assert_eq!(out.column(0).data_type(), schema.field(0).data_type());
            let f32s = |c: &ArrayRef| c.as_primitive::<arrow::datatypes::Float32Type>().values().to_vec();
            assert_eq!(f32s(out.column(1)), [43.0, 321.0]);
            assert_eq!(f32s(out.column(2)), [3.0, 1.0]);

            // A `[f32; 3]` parameter reads the column too.
            let path = dir.join("norms.toml");
            std::fs::write(&path, NORMS).unwrap();
            let file = load(&path, &registry, Some(&schema))?;
            FileRun::new(file.pipeline, &input, dir.join("norms.parquet"))
                .with_engine(choice(&engine))
                .with_select(["norm"])
                .run()?;
            let out = read_parquet(&dir.join("norms.parquet"));
            assert_eq!(f32s(out.column(0)), [5.0, 14.0_f32.sqrt()]);
        }
    );
}
