//! Blocks as bytes for the disk store: the item count `n` (`u32`, little-endian), the
//! item keys (32 bytes each), a byte per output saying whether the digests of its
//! values follow, those digests (`n` × 32 bytes per such output), then the output
//! columns as one Arrow IPC stream holding one record batch (columns named by
//! position). Values of columnar types only.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use super::{Block, Column, Digest};
use crate::engine::columnar::ColumnType;
use crate::node::Port;

/// The bytes of `block`; `Err` names an output whose values are not columnar.
pub(super) fn encode(block: &Block) -> Result<Vec<u8>, String> {
    let n = block.items.len();
    let arrays = block
        .columns
        .iter()
        .enumerate()
        .map(|(k, c)| to_array(c).ok_or_else(|| not_columnar(k, c)))
        .collect::<Result<Vec<ArrayRef>, String>>()?;
    let fields: Vec<Field> = arrays
        .iter()
        .enumerate()
        .map(|(k, a)| Field::new(k.to_string(), a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(4 + 32 * n + batch.get_array_memory_size() + 512);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(block.items.as_flattened());
    for k in 0..block.columns.len() {
        let d = block.digests.get(k).and_then(|d| d.as_ref()).filter(|d| d.len() == n);
        out.push(u8::from(d.is_some()));
        if let Some(d) = d {
            out.extend_from_slice(d.as_flattened());
        }
    }
    let mut w = StreamWriter::try_new(&mut out, &batch.schema()).map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    drop(w);
    Ok(out)
}

fn not_columnar(k: usize, c: &Column) -> String {
    let ty = match c {
        Column::Values(v) => v.first().map_or_else(|| "?".to_string(), |v| v.type_name()),
        Column::Arrow(a) => a.data_type().to_string(),
    };
    format!("output {k} has type {ty}, which a disk cache cannot store (only types that map to Arrow)")
}

/// A column as an Arrow array.
pub(crate) fn to_array(c: &Column) -> Option<ArrayRef> {
    match c {
        Column::Arrow(a) => Some(a.clone()),
        Column::Values(values) => {
            let ct = ColumnType::find(&values.first()?.type_info())?;
            (ct.values_to_array)(values)
        }
    }
}

/// The item keys of an encoded block, without decoding its columns.
pub(super) fn item_keys(payload: &[u8]) -> Option<Vec<Digest>> {
    let n = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?) as usize;
    let keys = payload.get(4..4 + 32 * n)?;
    Some(keys.chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect())
}

/// The block encoded in `payload`, its columns checked against the node's `outputs`.
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
    let ipc = &payload[at..];
    let mut reader = StreamReader::try_new(Cursor::new(ipc), None).map_err(|e| e.to_string())?;
    let batch = reader
        .next()
        .ok_or("the entry holds no columns")?
        .map_err(|e| e.to_string())?;
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
        if expected.as_ref() != Some(array.data_type()) {
            return Err(format!(
                "output '{}' is stored as {}, not as {}",
                port.name(),
                array.data_type(),
                port.type_info()
            ));
        }
        columns.push(Column::Arrow(array.clone()));
    }
    Ok(Block {
        items,
        columns,
        digests,
    })
}
