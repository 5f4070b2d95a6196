//! Binary data: `bytes::Bytes` (Arrow `Binary`, read from `LargeBinary`, `BinaryView` and
//! `FixedSizeBinary` too) and `[u8; N]` (`FixedSizeBinary(N)`), through nodes on both
//! engines, with nulls, exact errors for values of another width, cache digests equal
//! between Arrow rows and Rust values, and a Parquet file through a pipeline file.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, FixedSizeBinaryArray, LargeBinaryArray, RecordBatch,
};
use arrow::datatypes::{DataType, Int64Type};
use bytes::Bytes;
use hypernodes::ColumnarEngine;
use hypernodes::TypeInfo;
use hypernodes::engine::columnar::types::{ColumnType, Columnar};
use hypernodes::hash::digest;
use hypernodes::prelude::*;

use crate::common::*;

/// A UUID's 16 bytes.
const ID: [u8; 16] = *b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x23\x45\x67\x89\xab\xcd\xef";

#[node(output = "hex")]
fn hex(id: [u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[node(output = "size")]
fn size(payload: Option<Bytes>) -> Option<i64> {
    payload.map(|p| p.len() as i64)
}

#[node(output = "reversed")]
fn reverse(id: &[u8; 16]) -> [u8; 16] {
    let mut out = *id;
    out.reverse();
    out
}

#[node(output = "chunks")]
fn chunks(payload: &Bytes) -> Vec<Bytes> {
    payload.chunks(2).map(Bytes::copy_from_slice).collect()
}

engine_test!(
    fn bytes_and_fixed_width_arrays_flow_through_nodes(engine) {
        let ids = vec![ID, [0; 16]];
        let out = on(&engine, [reverse::node(), hex::node()]).map(&Inputs::new().with("id", ids), &["id"], MapMode::Zip)?;
        let mut back = ID;
        back.reverse();
        assert_eq!(out.column::<[u8; 16]>("reversed")?, &[back, [0; 16]]);
        assert_eq!(out.column::<String>("hex")?[0], "123456789abcdef00123456789abcdef");

        let payloads = vec![Some(Bytes::from_static(b"\x00\xffab")), None, Some(Bytes::new())];
        let out = on(&engine, [size::node()]).map(&Inputs::new().with("payload", payloads), &["payload"], MapMode::Zip)?;
        assert_eq!(out.column::<Option<i64>>("size")?, &[Some(4), None, Some(0)]);

        let payloads = vec![Bytes::from_static(b"abcde")];
        let out = on(&engine, [chunks::node()]).map(&Inputs::new().with("payload", payloads), &["payload"], MapMode::Zip)?;
        assert_eq!(
            out.column::<Vec<Bytes>>("chunks")?,
            &[vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd"), Bytes::from_static(b"e")]]
        );
    }
);

// ---------------------------------------------------------------------------------------
// Arrow columns of every binary layout.

/// A `FixedSizeBinary(N)` array of `values`.
fn fixed<const N: usize>(values: &[[u8; N]]) -> FixedSizeBinaryArray {
    FixedSizeBinaryArray::try_from_iter(values.iter()).unwrap()
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
    out.column_by_name(output).unwrap().clone()
}

/// The error of `node` over a batch of column `name`, the same on both engines.
fn apply_err(node: Node, name: &str, array: ArrayRef) -> String {
    let p = Pipeline::new([node]);
    let b = batch(name, array);
    let err = ColumnarEngine::new().apply_to_batch(&p, &b).unwrap_err().to_string();
    let by_rows = ColumnarEngine::apply_to_batch_on(Arc::new(NodeEngine::new()), &p, &b).unwrap_err();
    assert_eq!(err, by_rows.to_string());
    err
}

fn sizes(array: ArrayRef) -> Vec<Option<i64>> {
    apply(size::node(), "payload", array, "size")
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

#[test]
fn bytes_read_every_binary_layout() {
    let rows = [Some(&b"abc"[..]), None, Some(b"")];
    assert_eq!(
        sizes(Arc::new(BinaryArray::from(rows.to_vec()))),
        [Some(3), None, Some(0)]
    );
    assert_eq!(
        sizes(Arc::new(LargeBinaryArray::from(rows.to_vec()))),
        [Some(3), None, Some(0)]
    );
    assert_eq!(
        sizes(Arc::new(BinaryViewArray::from(rows.to_vec()))),
        [Some(3), None, Some(0)]
    );
    let fixed = FixedSizeBinaryArray::try_from_sparse_iter_with_size([Some(ID), None].into_iter(), 16).unwrap();
    assert_eq!(sizes(Arc::new(fixed)), [Some(16), None]);
}

#[test]
fn fixed_width_arrays_read_binary_values_of_their_width_only() {
    let out = apply(hex::node(), "id", Arc::new(fixed(&[ID])), "hex");
    assert_eq!(out.as_string::<i32>().value(0), "123456789abcdef00123456789abcdef");
    // Binary values of the width are read.
    let out = apply(hex::node(), "id", Arc::new(BinaryArray::from(vec![&ID[..]])), "hex");
    assert_eq!(out.as_string::<i32>().value(0), "123456789abcdef00123456789abcdef");
    // Another length is an error naming the row, not a null.
    let err = apply_err(hex::node(), "id", Arc::new(BinaryArray::from(vec![&ID[..], b"abc"])));
    assert_eq!(
        err,
        "Node 'hex' failed on item 1: column 'id' holds 3 bytes, which is not the 16 of a FixedSizeBinary(16)"
    );
    // So is another width.
    let narrow = fixed(&[[1_u8; 8]]);
    assert_eq!(
        apply_err(hex::node(), "id", Arc::new(narrow)),
        "Input 'id' has type FixedSizeBinary(8) but node 'hex' expects [u8; 16]"
    );
}

// ---------------------------------------------------------------------------------------
// Cache digests.

/// Each Arrow row's digest equals the digest of its value made in Rust.
fn digests_match<T: Columnar + Clone + std::fmt::Debug>(values: Vec<T>, ty: TypeInfo) -> Vec<[u8; 32]> {
    let ct = ColumnType::of::<T>();
    let array = (ct.list_to_array)(&Value::new(values.clone())).unwrap();
    let mut rows = Vec::new();
    assert!((ct.digest_rows)(array.as_ref(), &mut rows), "{values:?}");
    for (v, d) in values.iter().zip(&rows) {
        assert_eq!(
            hypernodes::hash::digest_as(&Value::new(v.clone()), &ty),
            Some(*d),
            "{v:?}"
        );
    }
    rows
}

#[test]
fn binary_rows_digest_as_their_values_and_apart_from_lists_and_strings() {
    let bytes = digests_match(vec![Bytes::from_static(b"ab"), Bytes::new()], TypeInfo::of::<Bytes>());
    assert_ne!(Some(bytes[0]), digest(&Value::new(vec![97_u8, 98])));
    assert_ne!(Some(bytes[0]), digest(&Value::new("ab".to_string())));
    digests_match(
        vec![Some(Bytes::from_static(b"x")), None],
        TypeInfo::of::<Option<Bytes>>(),
    );
    // A `[u8; N]` hashes as the list of its bytes: as the `Vec<u8>` of them.
    let ty = TypeInfo::of::<[u8; 16]>().with_hasher(hypernodes::hash::hash_fn::<[u8; 16]>());
    let ids = digests_match(vec![ID, [0; 16]], ty);
    assert_eq!(Some(ids[0]), digest(&Value::new(ID.to_vec())));
}

// ---------------------------------------------------------------------------------------
// A Parquet file through a pipeline file.

mod files {
    use arrow::datatypes::{Field, Schema};
    use hypernodes::spec::Registry;

    use super::*;
    use crate::parquet::run_pipeline_file;

    const PIPELINE: &str = r#"
[inputs]
payload = "binary"
id = "fixed_binary[16]"

[[nodes]]
function = "size"

[[nodes]]
function = "hex"

[[nodes]]
name = "short_key"
sql = "key < X'6b32'"
"#;

    /// `payload` (`Binary`, with a null), `id` (`FixedSizeBinary(16)`) and `key` (a
    /// `LargeBinary`).
    fn input() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("payload", DataType::Binary, true),
            Field::new("id", DataType::FixedSizeBinary(16), false),
            Field::new("key", DataType::LargeBinary, false),
        ]);
        let payload = BinaryArray::from(vec![Some(&b"\x00\x01"[..]), None, Some(b"abc")]);
        let id = fixed(&[ID, [0; 16], [255; 16]]);
        let key = LargeBinaryArray::from(vec![&b"k1"[..], b"k2", b"k"]);
        RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(payload), Arc::new(id), Arc::new(key)],
        )
        .unwrap()
    }

    engine_test!(
        fn a_parquet_file_of_binary_columns_through_a_pipeline_file(engine) {
            let mut registry = Registry::new();
            registry.register(size::node()).register(hex::node());
            let select = ["key", "size", "hex", "short_key"];
            let (_, out) = run_pipeline_file(&engine, "binary", PIPELINE, &registry, &input(), &select)?;
            assert_eq!(out.column(0).data_type(), &DataType::LargeBinary);
            let key: Vec<Option<&[u8]>> = out.column(0).as_binary::<i64>().iter().collect();
            assert_eq!(key, [Some(&b"k1"[..]), Some(b"k2"), Some(b"k")]);
            let size: Vec<Option<i64>> = out.column(1).as_primitive::<Int64Type>().iter().collect();
            assert_eq!(size, [Some(2), None, Some(3)]);
            let hex: Vec<&str> = out.column(2).as_string::<i32>().iter().flatten().collect();
            assert_eq!(hex, ["123456789abcdef00123456789abcdef", &"00".repeat(16), &"ff".repeat(16)]);
            let short: Vec<Option<bool>> = out.column(3).as_boolean().iter().collect();
            assert_eq!(short, [Some(true), Some(false), Some(true)]);
        }
    );
}
