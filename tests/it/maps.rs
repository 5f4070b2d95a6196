//! Maps: `BTreeMap<K, V>` as Arrow `Map` columns, through nodes on both engines, read
//! exactly from maps of other key and value layouts, with cache digests equal between
//! Arrow rows and Rust values, and from a Parquet file through a pipeline file.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::builder::{Int32Builder, Int64Builder, MapBuilder, StringBuilder};
use arrow::array::{Array, ArrayRef, AsArray, MapArray, RecordBatch};
use arrow::datatypes::Int64Type;
use hypernodes::ColumnarEngine;
use hypernodes::engine::columnar::types::{ColumnType, type_info_for};
use hypernodes::hash::digest_as;
use hypernodes::prelude::*;

use crate::common::*;

#[node(output = "total")]
fn total(counts: BTreeMap<String, i64>) -> i64 {
    counts.values().sum()
}

#[node(output = "tally")]
fn tally(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for word in text.split_whitespace() {
        *out.entry(word.to_string()).or_default() += 1;
    }
    out
}

#[node(output = "first")]
fn first(counts: Option<BTreeMap<i32, String>>) -> Option<String> {
    counts.and_then(|c| c.into_values().next())
}

fn counts(entries: &[(&str, i64)]) -> BTreeMap<String, i64> {
    entries.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

engine_test!(
    fn maps_flow_through_nodes(engine) {
        let texts = vec!["a b a".to_string(), String::new()];
        let out = on(&engine, [tally::node()]).map(&Inputs::new().with("text", texts), &["text"], MapMode::Zip)?;
        let tallies = out.column::<BTreeMap<String, i64>>("tally")?.to_vec();
        assert_eq!(tallies, [counts(&[("a", 2), ("b", 1)]), BTreeMap::new()]);
        let out = on(&engine, [total::node()]).map(&Inputs::new().with("counts", tallies), &["counts"], MapMode::Zip)?;
        assert_eq!(out.column::<i64>("total")?, &[3, 0]);
        let by_id = vec![Some(BTreeMap::from([(2, "two".to_string()), (1, "one".to_string())])), None];
        let out = on(&engine, [first::node()]).map(&Inputs::new().with("counts", by_id), &["counts"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<String>>("first")?, &[Some("one".to_string()), None]);
    }
);

/// A map column of string keys and `i32` values (another value type than the nodes
/// read), one map per row of `rows`.
fn int32_maps(rows: &[&[(&str, i32)]]) -> MapArray {
    let mut b = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    for row in rows {
        for (k, v) in *row {
            b.keys().append_value(k);
            b.values().append_value(*v);
        }
        b.append(true).unwrap();
    }
    b.finish()
}

#[test]
fn map_columns_are_read_with_their_values_converted_and_later_keys_winning() {
    let maps = int32_maps(&[&[("a", 1), ("b", 2), ("a", 10)], &[]]);
    assert_eq!(type_info_for(maps.data_type()).unwrap().name(), "BTreeMap<String, i32>");
    let p = Pipeline::new([total::node()]);
    let b = RecordBatch::try_from_iter([("counts", Arc::new(maps) as ArrayRef)]).unwrap();
    let out = ColumnarEngine::new().apply_to_batch(&p, &b).unwrap();
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &b).unwrap();
    assert_eq!(out, by_rows);
    let total = out.column_by_name("total").unwrap().as_primitive::<Int64Type>();
    assert_eq!(total.values(), &[12, 0]);
}

#[test]
fn map_rows_digest_as_their_values() {
    let mut b = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    for (k, v) in [("b", 1), ("a", 2)] {
        b.keys().append_value(k);
        b.values().append_value(v);
    }
    b.append(true).unwrap();
    b.append(true).unwrap();
    let maps = b.finish();
    let mut rows = Vec::new();
    assert!((ColumnType::of::<BTreeMap<String, i64>>().digest_rows)(
        &maps, &mut rows
    ));
    let ty = total::node().params()[0].type_info();
    assert_eq!(
        digest_as(&Value::new(counts(&[("a", 2), ("b", 1)])), &ty),
        Some(rows[0])
    );
    assert_eq!(
        digest_as(&Value::new(BTreeMap::<String, i64>::new()), &ty),
        Some(rows[1])
    );
}

mod files {
    use arrow::datatypes::{Field, Schema};
    use hypernodes::spec::Registry;

    use super::*;
    use crate::parquet::run_pipeline_file;

    const PIPELINE: &str = r#"
[inputs]
tags = "map<string, i64>"

[[nodes]]
function = "total"
inputs = { counts = "tags" }
"#;

    engine_test!(
        fn a_parquet_file_of_maps_through_a_pipeline_file(engine) {
            let mut b = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
            for row in [&[("x", 1_i64), ("y", 2)][..], &[("z", 5)]] {
                for (k, v) in row {
                    b.keys().append_value(k);
                    b.values().append_value(*v);
                }
                b.append(true).unwrap();
            }
            let tags = b.finish();
            let schema = Schema::new(vec![Field::new("tags", tags.data_type().clone(), false)]);
            let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(tags)]).unwrap();
            let mut registry = Registry::new();
            registry.register(total::node());
            let (_, out) = run_pipeline_file(&engine, "maps", PIPELINE, &registry, &batch, &["tags", "total"])?;
            assert_eq!(out.column(0).data_type(), schema.field(0).data_type());
            assert_eq!(out.column(1).as_primitive::<Int64Type>().values(), &[3, 5]);
        }
    );
}
