//! Blocks as bytes for the disk store: the item count `n` (`u32`, little-endian), the
//! item keys (32 bytes each), a byte per output saying whether the digests of its
//! values follow, those digests (`n` × 32 bytes per such output), then the output
//! columns as one Arrow IPC stream holding one record batch (columns named by
//! position). Values of columnar types only.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::BufferSpec;
use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use arrow::ipc::{FieldNode, MetadataVersion};

use crate::cache::{Block, Column, Digest};
use crate::columnar::cached::{arrow_column, as_arrow, to_array};
use crate::columnar::types::ColumnType;
use crate::node::Port;

/// The bytes of `block`; `Err` names an output whose values are not columnar.
#[cfg(test)]
pub(super) fn encode(block: &Block) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    encode_into(block, arrays(block)?, &mut out)?;
    Ok(out)
}

/// The columns of `block` as arrays; `Err` names an output whose values are not columnar.
pub(super) fn arrays(block: &Block) -> Result<Vec<ArrayRef>, String> {
    block
        .columns
        .iter()
        .enumerate()
        .map(|(k, c)| to_array(c).ok_or_else(|| not_columnar(k, c)))
        .collect()
}

/// Whether every column of `block` can be encoded (an Arrow array, or values of a type
/// that maps to Arrow, converted by [`arrays`]); `Err` names the first that cannot.
pub(super) fn check(block: &Block) -> Result<(), String> {
    for (k, c) in block.columns.iter().enumerate() {
        let encodable = match c {
            Column::Values(v) => v.first().is_some_and(|v| ColumnType::find(&v.type_info()).is_some()),
            Column::Native(_) => as_arrow(c).is_some(),
        };
        if !encodable {
            return Err(not_columnar(k, c));
        }
    }
    Ok(())
}

/// About how many bytes [`encode_into`] writes for `block`.
pub(super) fn encoded_size(block: &Block) -> usize {
    let n = block.items.len();
    let digests = block.digests.iter().flatten().count();
    let columns: usize = block
        .columns
        .iter()
        .map(|c| as_arrow(c).map_or(16 * n, |a| a.get_array_memory_size()))
        .sum();
    4 + 32 * n * (1 + digests) + block.columns.len() + columns + 512
}

/// Appends the bytes of `block`, whose columns are `arrays` (from [`arrays`]), to `out`.
pub(super) fn encode_into(block: &Block, arrays: Vec<ArrayRef>, out: &mut Vec<u8>) -> Result<(), String> {
    let n = block.items.len();
    out.reserve(encoded_size(block));
    let fields: Vec<Field> = arrays
        .iter()
        .enumerate()
        .map(|(k, a)| Field::new(k.to_string(), a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())?;
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(block.items.as_flattened());
    for k in 0..block.columns.len() {
        let d = block.digests.get(k).and_then(|d| d.as_ref()).filter(|d| d.len() == n);
        out.push(u8::from(d.is_some()));
        if let Some(d) = d {
            out.extend_from_slice(d.as_flattened());
        }
    }
    let mut w = StreamWriter::try_new(&mut *out, &batch.schema()).map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(())
}

fn not_columnar(k: usize, c: &Column) -> String {
    let ty = match c {
        Column::Values(v) => v.first().map_or_else(|| "?".to_string(), |v| v.type_name()),
        Column::Native(_) => to_array(c).map_or_else(|| "?".to_string(), |a| a.data_type().to_string()),
    };
    format!("output {k} has type {ty}, which a disk cache cannot store (only types that map to Arrow)")
}

/// The item keys of an encoded block, without decoding its columns.
pub(super) fn item_keys(payload: &[u8]) -> Option<Vec<Digest>> {
    let n = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    let keys = payload.get(4..4 + 32 * n)?;
    Some(keys.chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect())
}

/// The block encoded in `payload`, its columns checked against the node's `outputs`.
///
/// Nothing is allocated from a length the entry claims before that many bytes are found
/// in it, and the entry's Arrow schema is compared byte for byte with the one `encode`
/// writes for `outputs`, never parsed (arrow's schema reader panics on malformed ones).
pub(super) fn decode(payload: &[u8], outputs: &[Port]) -> Result<Block, String> {
    let items = item_keys(payload).ok_or("the entry is truncated")?;
    let n = items.len();
    let mut at = 4 + 32 * n;
    let mut digests = Vec::with_capacity(outputs.len());
    for _ in outputs {
        let has = *payload.get(at).ok_or("the entry is truncated")?;
        at += 1;
        digests.push(if has == 1 {
            let bytes = payload.get(at..at + 32 * n).ok_or("the entry is truncated")?;
            at += 32 * n;
            Some(Arc::new(
                bytes
                    .chunks_exact(32)
                    .map(|c| c.try_into().expect("32 bytes"))
                    .collect(),
            ))
        } else {
            None
        });
    }
    let schema = schema(outputs)?;
    let message = schema_message(&schema)?;
    let Some(batch) = payload[at..].strip_prefix(message.as_slice()) else {
        let types: Vec<String> = outputs
            .iter()
            .map(|p| format!("'{}': {}", p.name(), p.type_info()))
            .collect();
        return Err(format!(
            "the entry's columns are not of the outputs' types ({})",
            types.join(", ")
        ));
    };
    let batch = read_batch(batch, schema)?;
    if batch.num_columns() != outputs.len() || batch.num_rows() != items.len() {
        return Err(format!(
            "the entry holds {} column(s) of {} row(s), expected {} of {}",
            batch.num_columns(),
            batch.num_rows(),
            outputs.len(),
            items.len()
        ));
    }
    let mut columns = Vec::with_capacity(outputs.len());
    for (port, array) in outputs.iter().zip(batch.columns()) {
        let expected = ColumnType::find(&port.type_info()).map(|ct| (ct.data_type)());
        // Unreachable: the schema, compared above, gives every column its output's type.
        if expected.as_ref() != Some(array.data_type()) {
            return Err(format!(
                "output '{}' is stored as {}, not as {}",
                port.name(),
                array.data_type(),
                port.type_info()
            ));
        }
        columns.push(arrow_column(array.clone()));
    }
    Ok(Block {
        items,
        columns,
        digests,
    })
}

/// The schema of a block's columns: the outputs' Arrow types, named by position.
fn schema(outputs: &[Port]) -> Result<Arc<Schema>, String> {
    let fields = outputs
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let ct = ColumnType::find(&p.type_info()).ok_or_else(|| {
                format!(
                    "output '{}' has type {}, which a disk cache cannot store (only types that map to Arrow)",
                    p.name(),
                    p.type_info()
                )
            })?;
            Ok(Field::new(k.to_string(), (ct.data_type)(), true))
        })
        .collect::<Result<Vec<Field>, String>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// The first message of the Arrow IPC stream [`encode`] writes for `schema`: the schema.
fn schema_message(schema: &Schema) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    StreamWriter::try_new(&mut out, schema).map_err(|e| one_line(&e))?;
    Ok(out)
}

/// The record batch of `schema` in `bytes` (an Arrow IPC stream's message, then anything).
///
/// arrow's reader takes the lengths and offsets of a message as they are: it allocates
/// what a length claims, and panics on an offset outside the message. So that no entry
/// does either, the message is checked first: its length, every buffer inside its body,
/// no compression (`encode` writes none; a compressed buffer claims its own length), and
/// every column length and null count a count.
fn read_batch(bytes: &[u8], schema: Arc<Schema>) -> Result<RecordBatch, String> {
    let malformed = |what: &str| format!("the entry's Arrow record batch is malformed: {what}");
    let rest = bytes
        .strip_prefix(&[0xff; 4])
        .ok_or_else(|| malformed("no message marker"))?;
    let length = u32::from_le_bytes(
        rest.get(..4)
            .ok_or("the entry is truncated")?
            .try_into()
            .expect("4 bytes"),
    );
    let (meta, rest) = rest[4..]
        .split_at_checked(length as usize)
        .ok_or("the entry is truncated")?;
    let message = arrow::ipc::root_as_message(meta).map_err(|e| malformed(&one_line(&e)))?;
    let batch = message
        .header_as_record_batch()
        .ok_or_else(|| malformed("not a record batch"))?;
    let body_length = usize::try_from(message.bodyLength()).map_err(|_| malformed("a negative body length"))?;
    let body = rest.get(..body_length).ok_or("the entry is truncated")?;
    if batch.compression().is_some() {
        return Err(malformed("compressed"));
    }
    if batch.variadicBufferCounts().is_some_and(|v| !v.is_empty()) {
        return Err(malformed("variadic buffers"));
    }
    for b in batch.buffers().iter().flatten() {
        let end = b.offset().checked_add(b.length());
        if b.offset() < 0 || b.length() < 0 || end.is_none_or(|end| end as u64 > body_length as u64) {
            return Err(malformed(&format!(
                "a buffer of {} bytes at {} in a body of {body_length}",
                b.length(),
                b.offset()
            )));
        }
    }
    for n in batch.nodes().iter().flatten() {
        if !(0..=i64::from(i32::MAX)).contains(&n.length()) || !(0..=n.length()).contains(&n.null_count()) {
            return Err(malformed(&format!(
                "a column of {} rows with {} nulls",
                n.length(),
                n.null_count()
            )));
        }
    }
    if !(0..=i64::from(i32::MAX)).contains(&batch.length()) {
        return Err(malformed(&format!("{} rows", batch.length())));
    }
    if message.version() != MetadataVersion::V5 {
        return Err(malformed(&format!("version {:?}", message.version())));
    }
    let mut nodes = batch.nodes().into_iter().flatten();
    let mut buffers = batch.buffers().into_iter().flatten();
    for field in schema.fields() {
        check_layout(field.data_type(), &mut nodes, &mut buffers).map_err(|what| malformed(&what))?;
    }
    arrow::ipc::reader::read_record_batch(
        &Buffer::from(body),
        batch,
        schema,
        &HashMap::new(),
        None,
        &message.version(),
    )
    .map_err(|e| one_line(&e))
}

/// Checks the buffers of a column of type `data_type` (and its children), taking its
/// nodes and buffers in the order arrow's reader does (a validity buffer, then those of
/// the type's layout), for what that reader or arrow's validation indexes, slices or
/// casts without checking: a validity buffer shorter than its column, a buffer of
/// fixed-width values (offsets, say) that is not a whole number of them, a union's type
/// ids and offsets shorter than the column or not aligned.
fn check_layout<'a>(
    data_type: &DataType,
    nodes: &mut impl Iterator<Item = &'a FieldNode>,
    buffers: &mut impl Iterator<Item = &'a arrow::ipc::Buffer>,
) -> Result<(), String> {
    let node = nodes.next().ok_or("fewer columns than the schema's")?;
    let rows = node.length() as u64;
    let layout = arrow::array::layout(data_type);
    if layout.variadic {
        // Unreachable: the schema is the outputs' (no view types).
        return Err(format!("a column of {data_type}, whose buffers are not checked"));
    }
    let mut next = || buffers.next().ok_or("fewer buffers than the schema's");
    if layout.can_contain_null_mask {
        let validity = next()?;
        if node.null_count() > 0 && (validity.length() as u64) * 8 < rows {
            return Err(format!(
                "a column of {rows} rows whose validity buffer holds {} bytes",
                validity.length()
            ));
        }
    }
    let union = matches!(data_type, DataType::Union(..));
    for spec in &layout.buffers {
        let buffer = next()?;
        let (length, offset) = (buffer.length() as u64, buffer.offset() as u64);
        if let BufferSpec::FixedWidth { byte_width, alignment } = *spec {
            if length % byte_width as u64 != 0 {
                return Err(format!(
                    "a buffer of {length} bytes holding values of {byte_width} bytes"
                ));
            }
            // A union's buffers are read in place, for as many rows as the column has.
            if union && (length < rows * byte_width as u64 || offset % alignment as u64 != 0) {
                return Err(format!(
                    "a union of {rows} rows with a buffer of {length} bytes at {offset}"
                ));
            }
        }
    }
    let children: Vec<&DataType> = match data_type {
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => vec![f.data_type()],
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type()).collect(),
        DataType::Union(fields, _) => fields.iter().map(|(_, f)| f.data_type()).collect(),
        DataType::RunEndEncoded(ends, values) => vec![ends.data_type(), values.data_type()],
        _ => vec![],
    };
    for child in children {
        check_layout(child, nodes, buffers)?;
    }
    Ok(())
}

/// An error's message on one line (flatbuffers' verifier separates its parts with tabs
/// and newlines).
fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The fuzz targets' configuration and allocation watch, shared with the integration
/// tests' (this binary's global allocator).
#[cfg(test)]
#[path = "../../../../tests/it/fuzz/harness.rs"]
mod harness;

#[cfg(test)]
mod fuzz {
    //! Fuzzing of the entry decoder (issue 16): arbitrary bytes, and valid entries cut
    //! short, with bits flipped, counts changed, bytes inserted or removed. Whatever the
    //! bytes, [`decode`] and [`item_keys`] return (no panic), allocate no more than a
    //! bounded multiple of the entry's size, and an `Err` is one line saying what is
    //! wrong; a valid entry decodes to exactly the block encoded.
    //!
    //! `HYPERNODES_FUZZ_CASES` sets the cases per property (default 256: the short
    //! fixed-seed pass of `cargo test`), `HYPERNODES_FUZZ_SEED` the seed (default 16); see
    //! `tests/it/fuzz/harness.rs`. A long run: `HYPERNODES_FUZZ_CASES=1000000
    //! HYPERNODES_FUZZ_SEED=$RANDOM cargo test --release --lib engine::disk::encode::fuzz`.

    use proptest::prelude::*;

    use super::harness::{config, largest_allocation};
    use super::*;
    use crate::columnar::types::Columnar;
    use crate::hash::digest;
    use crate::value::{TypeInfo, Value};

    /// One output's values (as Rust values) and their type.
    #[derive(Clone, Debug)]
    struct Output {
        ty: TypeInfo,
        values: Vec<Value>,
        /// The values as printed (a `Value` prints its type only): what a failure shows.
        #[allow(dead_code)]
        shown: String,
        /// Stored as an Arrow array sliced from a longer one (the columnar engine's way),
        /// not as values.
        sliced: bool,
    }

    fn values<T: Columnar + std::fmt::Debug>(s: impl Strategy<Value = T> + 'static, n: usize) -> BoxedStrategy<Output> {
        (proptest::collection::vec(s, n), any::<bool>())
            .prop_map(|(v, sliced)| Output {
                ty: TypeInfo::of::<T>(),
                shown: format!("{v:?}"),
                values: v.into_iter().map(Value::new).collect(),
                sliced,
            })
            .boxed()
    }

    fn output(n: usize) -> BoxedStrategy<Output> {
        use proptest::collection::vec;
        use proptest::option::of;
        prop_oneof![
            values(any::<i64>(), n),
            values(any::<u8>(), n),
            values(any::<f64>(), n),
            values(any::<bool>(), n),
            values(".{0,12}", n),
            values(of(any::<i32>()), n),
            values(of(".{0,6}"), n),
            values(vec(".{0,6}", 0..4), n),
            values(vec(of(any::<f64>()), 0..4), n),
            values(of(vec(any::<i64>(), 0..4)), n),
            values(vec(vec(any::<i16>(), 0..3), 0..3), n),
        ]
        .boxed()
    }

    /// A block of `n` items with its outputs' ports.
    #[derive(Debug)]
    struct Entry {
        items: Vec<Digest>,
        outputs: Vec<Output>,
        /// Per output, whether the digests of its values are stored.
        digested: Vec<bool>,
    }

    impl Entry {
        fn ports(&self) -> Vec<Port> {
            self.outputs
                .iter()
                .enumerate()
                .map(|(k, o)| Port::new(format!("out{k}"), o.ty))
                .collect()
        }

        fn block(&self) -> Block {
            let n = self.items.len();
            let columns = self
                .outputs
                .iter()
                .map(|o| {
                    if o.sliced {
                        // The same values behind one more row on each side.
                        let mut longer = o.values.clone();
                        longer.insert(0, o.values.first().cloned().unwrap_or_else(|| Value::new(0_i64)));
                        longer.push(longer[0].clone());
                        let ct = ColumnType::find(&o.ty).expect("a columnar type");
                        match (ct.values_to_array)(&longer) {
                            Some(a) => arrow_column(a.slice(1, n)),
                            None => Column::Values(Arc::new(o.values.clone())),
                        }
                    } else {
                        Column::Values(Arc::new(o.values.clone()))
                    }
                })
                .collect();
            let digests = self
                .outputs
                .iter()
                .zip(&self.digested)
                .map(|(o, &d)| d.then(|| Arc::new(o.values.iter().map(|v| digest(v).expect("hashable")).collect())))
                .collect();
            Block {
                items: self.items.clone(),
                columns,
                digests,
            }
        }
    }

    fn entry() -> impl Strategy<Value = Entry> {
        (1..12_usize).prop_flat_map(|n| {
            (
                proptest::collection::vec(any::<[u8; 32]>(), n),
                proptest::collection::vec((output(n), any::<bool>()), 1..4),
            )
                .prop_map(|(items, outputs)| {
                    let (outputs, digested) = outputs.into_iter().unzip();
                    Entry {
                        items,
                        outputs,
                        digested,
                    }
                })
        })
    }

    /// A change to an entry's bytes.
    #[derive(Clone, Debug)]
    enum Mutation {
        /// Cut at this fraction of the length.
        Truncate(f64),
        /// Flip the bits of this mask in the byte at this fraction of the length.
        Flip(f64, u8),
        /// Write this item count.
        Count(u32),
        /// Insert these bytes at this fraction of the length.
        Insert(f64, Vec<u8>),
        /// Remove up to this many bytes at this fraction of the length.
        Remove(f64, usize),
        /// Write this little-endian `u32` at this fraction of the length (a length in the
        /// Arrow IPC stream).
        Word(f64, u32),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let at = 0.0..1.0_f64;
        let count = prop_oneof![any::<u32>(), Just(u32::MAX), Just(u32::MAX / 32), 0..16_u32];
        prop_oneof![
            at.clone().prop_map(Mutation::Truncate),
            (at.clone(), 1..=255_u8).prop_map(|(a, m)| Mutation::Flip(a, m)),
            count.clone().prop_map(Mutation::Count),
            (at.clone(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(a, b)| Mutation::Insert(a, b)),
            (at.clone(), 1..64_usize).prop_map(|(a, n)| Mutation::Remove(a, n)),
            (
                at,
                prop_oneof![count, Just(0xFFFF_FFFF), Just(0x7FFF_FFFF), Just(0x8000_0000)]
            )
                .prop_map(|(a, w)| Mutation::Word(a, w)),
        ]
    }

    fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
        let at = |f: f64| ((bytes.len() as f64 * f) as usize).min(bytes.len());
        match m {
            Mutation::Truncate(f) => bytes.truncate(at(*f)),
            Mutation::Flip(f, mask) => {
                let i = at(*f);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= mask;
                }
            }
            Mutation::Count(c) => {
                if bytes.len() >= 4 {
                    bytes[..4].copy_from_slice(&c.to_le_bytes());
                }
            }
            Mutation::Insert(f, new) => {
                let i = at(*f);
                bytes.splice(i..i, new.iter().copied());
            }
            Mutation::Remove(f, n) => {
                let i = at(*f);
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Word(f, w) => {
                let i = at(*f).min(bytes.len().saturating_sub(4));
                if bytes.len() >= 4 {
                    bytes[i..i + 4].copy_from_slice(&w.to_le_bytes());
                }
            }
        }
    }

    /// Decodes `payload` as an entry of `outputs`, checking what holds for any bytes: no
    /// allocation beyond a bounded multiple of the payload, an error of one line, and a
    /// block that is whole and readable.
    fn check(payload: &[u8], outputs: &[Port]) -> std::result::Result<Option<Block>, TestCaseError> {
        let ((keys, decoded), largest) = largest_allocation(|| (item_keys(payload), decode(payload, outputs)));
        let bound = 4 * payload.len() + (1 << 16);
        prop_assert!(
            largest <= bound,
            "an allocation of {largest} bytes for a {}-byte entry",
            payload.len()
        );
        match decoded {
            Err(e) => {
                prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}");
                Ok(None)
            }
            Ok(block) => {
                let n = block.items.len();
                prop_assert_eq!(keys.as_ref(), Some(&block.items));
                prop_assert_eq!(block.columns.len(), outputs.len());
                prop_assert_eq!(block.digests.len(), outputs.len());
                for ((c, port), d) in block.columns.iter().zip(outputs).zip(&block.digests) {
                    let Some(array) = crate::columnar::cached::as_arrow(c) else {
                        return Err(TestCaseError::fail("a decoded column is not Arrow"));
                    };
                    let ct = ColumnType::find(&port.type_info()).expect("a columnar type");
                    prop_assert_eq!(array.len(), n);
                    prop_assert_eq!(array.data_type(), &(ct.data_type)());
                    prop_assert!(d.as_ref().is_none_or(|d| d.len() == n));
                    // Every row reads (or is a null a non-nullable type refuses), and
                    // hashes.
                    for row in 0..n {
                        let _ = c.value(row, port);
                    }
                    let _ = (ct.digest_rows)(array.as_ref(), &mut Vec::new());
                    let _ = (ct.array_to_list)(&[array.as_ref()]);
                }
                Ok(Some(block))
            }
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// A valid entry decodes to the block encoded: items, digests, and every value.
        #[test]
        fn valid_entries_round_trip(entry in entry()) {
            let block = entry.block();
            let ports = entry.ports();
            let payload = encode(&block).map_err(TestCaseError::fail)?;
            let decoded = check(&payload, &ports)?.expect("a valid entry decodes");
            prop_assert_eq!(&decoded.items, &entry.items);
            for (k, o) in entry.outputs.iter().enumerate() {
                let stored = decoded.digests[k].as_deref();
                let expected: Vec<Digest> = o.values.iter().map(|v| digest(v).expect("hashable")).collect();
                prop_assert_eq!(stored, entry.digested[k].then_some(&expected));
                for (row, v) in o.values.iter().enumerate() {
                    let back = decoded.columns[k].value(row, &ports[k]).expect("a value");
                    prop_assert_eq!(digest(&back), digest(v), "output {} row {}", k, row);
                }
            }
            prop_assert_eq!(encode(&decoded).map_err(TestCaseError::fail)?, payload);
        }

        /// A valid entry changed in any way decodes, or fails with one line.
        #[test]
        fn changed_entries_decode_or_fail_cleanly(
            entry in entry(),
            mutations in proptest::collection::vec(mutation(), 1..4),
            other_outputs in any::<bool>(),
        ) {
            let mut payload = encode(&entry.block()).map_err(TestCaseError::fail)?;
            for m in &mutations {
                mutate(&mut payload, m);
            }
            // Read as this node's outputs, or as those of a node of other types.
            let ports = if other_outputs {
                vec![Port::new("a", TypeInfo::of::<String>()), Port::new("b", TypeInfo::of::<Vec<i64>>())]
            } else {
                entry.ports()
            };
            check(&payload, &ports)?;
        }

        /// Any bytes decode, or fail with one line.
        #[test]
        fn arbitrary_bytes_decode_or_fail_cleanly(
            count in prop_oneof![0..4_u32, any::<u32>()],
            rest in proptest::collection::vec(any::<u8>(), 0..512),
            flags in 0..3_usize,
        ) {
            let mut payload = count.to_le_bytes().to_vec();
            payload.extend_from_slice(&rest);
            let ports: Vec<Port> = [TypeInfo::of::<i64>(), TypeInfo::of::<Option<String>>()]
                .into_iter()
                .cycle()
                .take(flags)
                .enumerate()
                .map(|(k, t)| Port::new(format!("out{k}"), t))
                .collect();
            check(&payload, &ports)?;
            check(&rest, &ports)?;
        }
    }

    // Regressions: inputs the targets found, each with the error it now gives.

    /// Nine items of one `Option<Vec<i64>>` output (three of them null), and its port.
    fn tokens_entry() -> (Vec<u8>, Vec<Port>) {
        let values: Vec<Option<Vec<i64>>> = vec![
            Some(vec![1, 2]),
            None,
            Some(vec![]),
            Some(vec![3]),
            None,
            Some(vec![4, 5, 6]),
            Some(vec![7]),
            None,
            Some(vec![8]),
        ];
        let block = Block {
            items: (0..9_u8).map(|k| [k; 32]).collect(),
            columns: vec![Column::Values(Arc::new(values.into_iter().map(Value::new).collect()))],
            digests: vec![None],
        };
        let payload = encode(&block).expect("columnar outputs");
        (payload, vec![Port::new("tokens", TypeInfo::of::<Option<Vec<i64>>>())])
    }

    /// `payload` with the little-endian `word` written at `at`, decoded.
    fn decode_with(payload: &[u8], at: usize, word: u32, ports: &[Port]) -> (std::result::Result<(), String>, usize) {
        let mut changed = payload.to_vec();
        changed[at..at + 4].copy_from_slice(&word.to_le_bytes());
        largest_allocation(|| decode(&changed, ports).map(|_| ()))
    }

    /// Found by `arbitrary_bytes_decode_or_fail_cleanly`: arrow's `StreamReader` allocated
    /// (and zeroed) the 16 MiB that the last four bytes claim as a message's length.
    #[test]
    fn a_claimed_message_length_is_not_allocated() {
        let payload = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let ports = [
            Port::new("out0", TypeInfo::of::<i64>()),
            Port::new("out1", TypeInfo::of::<Option<String>>()),
        ];
        let (result, largest) = largest_allocation(|| decode(&payload, &ports).map(|_| ()));
        assert_eq!(
            result.unwrap_err(),
            "the entry's columns are not of the outputs' types ('out0': i64, 'out1': Option<String>)"
        );
        assert!(largest < 1 << 16, "{largest}");
        // Behind a good schema, a record batch message that claims 2 GiB is refused before
        // anything is allocated for it.
        let (payload, ports) = tokens_entry();
        let batch = 4 + 32 * 9 + 1 + schema_message(&schema(&ports).unwrap()).unwrap().len();
        assert_eq!(payload[batch..batch + 4], [0xff; 4]);
        let (result, largest) = decode_with(&payload, batch + 4, 0x7fff_ffff, &ports);
        assert_eq!(result.unwrap_err(), "the entry is truncated");
        assert!(largest < 1 << 16, "{largest}");
    }

    /// Found by `changed_entries_decode_or_fail_cleanly` (a buffer's offset changed):
    /// arrow's reader panicked slicing the message's body ("the offset of the new Buffer
    /// cannot exceed the existing length").
    #[test]
    fn a_buffer_outside_the_message_body_is_an_error() {
        let (payload, ports) = tokens_entry();
        let (result, _) = decode_with(&payload, 514, 0x8000_0000, &ports);
        assert_eq!(
            result.unwrap_err(),
            "the entry's Arrow record batch is malformed: a buffer of 64 bytes at 128 in a body of 128"
        );
    }

    /// Found by `changed_entries_decode_or_fail_cleanly` (a column's length changed):
    /// arrow's array builder panicked on a validity buffer too short for the column
    /// ("buffer not large enough").
    #[test]
    fn a_validity_buffer_shorter_than_its_column_is_an_error() {
        let (payload, ports) = tokens_entry();
        let (result, _) = decode_with(&payload, 573, 100, &ports);
        assert_eq!(
            result.unwrap_err(),
            "the entry's Arrow record batch is malformed: a column of 100 rows whose validity buffer holds 2 bytes"
        );
    }

    /// A count of items far beyond the entry's bytes is found out before anything is
    /// allocated for it.
    #[test]
    fn a_huge_item_count_is_found_out_before_allocating() {
        let (mut payload, ports) = tokens_entry();
        payload[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let ((keys, result), largest) =
            largest_allocation(|| (item_keys(&payload), decode(&payload, &ports).map(|_| ())));
        assert_eq!(keys, None);
        assert_eq!(result.unwrap_err(), "the entry is truncated");
        assert!(largest <= 64, "{largest}");
    }

    /// Found by `changed_entries_decode_or_fail_cleanly` in its 1,000,000-case run (one
    /// bit flip): arrow's validation panicked on an offsets buffer whose length is not a
    /// whole number of offsets ("prefix.is_empty() && suffix.is_empty()").
    #[test]
    fn an_offsets_buffer_of_part_of_an_offset_is_an_error() {
        let block = Block {
            items: vec![[0; 32]],
            columns: vec![
                Column::Values(Arc::new(vec![Value::new("a".to_string())])),
                Column::Values(Arc::new(vec![Value::new(vec![Vec::<i16>::new()])])),
                Column::Values(Arc::new(vec![Value::new(vec!["¡".to_string()])])),
            ],
            digests: vec![None, None, None],
        };
        let ports = [
            Port::new("out0", TypeInfo::of::<String>()),
            Port::new("out1", TypeInfo::of::<Vec<Vec<i16>>>()),
            Port::new("out2", TypeInfo::of::<Vec<String>>()),
        ];
        let mut payload = encode(&block).expect("columnar outputs");
        mutate(&mut payload, &Mutation::Flip(0.5183367777267344, 17));
        assert_eq!(
            decode(&payload, &ports).map(|_| ()).unwrap_err(),
            "the entry's Arrow record batch is malformed: a buffer of 25 bytes holding values of 4 bytes"
        );
    }
}
