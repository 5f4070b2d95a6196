//! `columnar_struct!` fields of binary data (`bytes::Bytes`, `[u8; N]`), fixed-size
//! arrays of numbers (`[T; N]`) and maps (`BTreeMap<K, V>`), plain and `Option`, with
//! nulls: the Arrow types of the types alone, both engines, cache digests equal between
//! Arrow rows and Rust values, and a Parquet file written and read back.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use bytes::Bytes;
use hypernodes::ColumnarEngine;
use hypernodes::TypeInfo;
use hypernodes::engine::columnar::types::ColumnType;
use hypernodes::prelude::*;
use serde::{Deserialize, Serialize};

use crate::common::*;
use crate::parquet::{TempDir, read_parquet, write_parquet};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    payload: Bytes,
    note: Option<Bytes>,
    id: [u8; 16],
    short: Option<[u8; 4]>,
    embedding: [f32; 3],
    counts: Option<[i64; 2]>,
    flags: [bool; 2],
    tags: BTreeMap<String, i64>,
    scores: Option<BTreeMap<String, Option<f64>>>,
    path: Vec<[f32; 2]>,
}
hypernodes::columnar_struct!(Record);

/// Each field's type alone, in the order of `Record`'s fields.
fn alone() -> Vec<DataType> {
    fn of<T: hypernodes::engine::columnar::types::Columnar>() -> DataType {
        (ColumnType::of::<T>().data_type)()
    }
    vec![
        of::<Bytes>(),
        of::<Option<Bytes>>(),
        of::<[u8; 16]>(),
        of::<Option<[u8; 4]>>(),
        of::<[f32; 3]>(),
        of::<Option<[i64; 2]>>(),
        of::<[bool; 2]>(),
        of::<BTreeMap<String, i64>>(),
        of::<Option<BTreeMap<String, Option<f64>>>>(),
        // A `Vec` field is a `LargeList` of `element`s, as serde_arrow traces every list.
        DataType::LargeList(Arc::new(arrow::datatypes::Field::new(
            "element",
            of::<[f32; 2]>(),
            true,
        ))),
    ]
}

fn records() -> Vec<Record> {
    vec![
        Record {
            payload: Bytes::from_static(b"\x00\xffab"),
            note: Some(Bytes::new()),
            id: *b"0123456789abcdef",
            short: Some(*b"\x01\x02\x03\x04"),
            embedding: [1.5, -2.0, f32::MAX],
            counts: Some([i64::MIN, 7]),
            flags: [true, false],
            tags: BTreeMap::from([("a".into(), 1), ("b".into(), -2)]),
            scores: Some(BTreeMap::from([("x".into(), Some(0.5)), ("y".into(), None)])),
            path: vec![[0.0, 1.0], [2.0, 3.0]],
        },
        Record {
            payload: Bytes::new(),
            note: None,
            id: [0; 16],
            short: None,
            embedding: [0.0; 3],
            counts: None,
            flags: [false; 2],
            tags: BTreeMap::new(),
            scores: None,
            path: vec![],
        },
    ]
}

#[node(output = "moved")]
fn shift(record: Record) -> Record {
    let mut tags = record.tags.clone();
    tags.insert("n".into(), record.payload.len() as i64);
    Record {
        id: std::array::from_fn(|i| record.id[15 - i]),
        embedding: record.embedding.map(|x| x * 2.0),
        counts: record.counts.map(|[a, b]| [b, a]),
        tags,
        path: record.path.iter().map(|[x, y]| [*y, *x]).collect(),
        ..record
    }
}

#[node(output = "summary")]
fn summary(record: Option<Record>) -> Option<String> {
    record.map(|r| format!("{} {:?} {}", r.payload.len(), r.short, r.tags.len()))
}

engine_test!(
    fn struct_fields_of_binary_arrays_and_maps_round_trip(engine) {
        let out = on(&engine, [shift::node()]).map(&Inputs::new().with("record", records()), &["record"], MapMode::Zip)?;
        let expected: Vec<Record> = records().into_iter().map(shift).collect();
        assert_eq!(out.column::<Record>("moved")?, expected);

        let rows = vec![Some(records()[0].clone()), None, Some(records()[1].clone())];
        let out = on(&engine, [summary::node()]).map(&Inputs::new().with("record", rows), &["record"], MapMode::Zip)?;
        assert_eq!(
            out.column::<Option<String>>("summary")?,
            &[Some("4 Some([1, 2, 3, 4]) 2".into()), None, Some("0 None 0".into())]
        );
    }
);

fn struct_fields(array: &dyn Array) -> Vec<DataType> {
    let DataType::Struct(fields) = array.data_type() else {
        panic!("not a struct: {}", array.data_type());
    };
    fields.iter().map(|f| f.data_type().clone()).collect()
}

#[test]
fn struct_fields_have_the_arrow_types_of_the_types_alone() {
    let ct = ColumnType::of::<Record>();
    let array = (ct.list_to_array)(&Value::new(records())).unwrap();
    assert_eq!(struct_fields(array.as_ref()), alone());
    // The columnar engine writes them so.
    let batch = RecordBatch::try_from_iter([("record", array)]).unwrap();
    let out = ColumnarEngine::new()
        .apply_to_batch(&Pipeline::new([shift::node()]), &batch)
        .unwrap();
    let moved = out.column_by_name("moved").unwrap();
    assert_eq!(struct_fields(moved.as_ref()), alone());
    let ids = moved.as_struct().column_by_name("id").unwrap().as_fixed_size_binary();
    assert_eq!(ids.value(0), b"fedcba9876543210");
}

#[test]
fn struct_rows_digest_as_their_values() {
    let ct = ColumnType::of::<Option<Record>>();
    let values = vec![Some(records()[0].clone()), None, Some(records()[1].clone())];
    let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
    let mut rows = Vec::new();
    assert!((ct.digest_rows)(array.as_ref(), &mut rows));
    let ty = TypeInfo::of::<Option<Record>>().with_hasher(hypernodes::hash::serde_hash_fn::<Option<Record>>());
    for (v, d) in values.iter().zip(&rows) {
        assert_eq!(
            hypernodes::hash::digest_as(&Value::new(v.clone()), &ty),
            Some(*d),
            "{v:?}"
        );
    }
    assert_ne!(rows[0], rows[2]);
}

engine_test!(
    fn struct_fields_of_binary_arrays_and_maps_through_parquet(engine) {
        let dir = TempDir::new(&format!("struct-fields-{}", engine.name()));
        let ct = ColumnType::of::<Option<Record>>();
        let rows = vec![Some(records()[0].clone()), None, Some(records()[1].clone())];
        let array: ArrayRef = (ct.list_to_array)(&Value::new(rows.clone())).unwrap();
        let path = dir.join("records.parquet");
        write_parquet(&path, &RecordBatch::try_from_iter([("record", array.clone())]).unwrap());
        let back = read_parquet(&path);
        assert_eq!(back.column(0).as_ref(), array.as_ref());
        let read = (ct.array_to_list)(&[back.column(0).as_ref()]).unwrap();
        assert_eq!(read.downcast_ref::<Vec<Option<Record>>>(), Some(&rows));
        let out = on(&engine, [summary::node()]).map(&Inputs::new().with_value("record", read), &["record"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<String>>("summary")?[0], Some("4 Some([1, 2, 3, 4]) 2".into()));
    }
);
