//! Column-level recompute: when only some nodes changed (their code, their wiring, a
//! value bound they read, a node added, the selection) and a file's input and previous
//! output are as recorded, the run computes only the nodes that changed, those
//! downstream of them and those whose results the previous output does not hold; the
//! other columns are read from the previous output, row for row (see `io::carry`).
//!
//! Only when it is safe: the same input content, engine, formats, compression and
//! failure policy (any other change is a reason of its own to compute the whole file),
//! no side file of failed rows (under `--on-error collect` the rows written may differ
//! from run to run), a previous output that holds a row per input row and reads back
//! with the exact types of the columns carried. Otherwise the whole file is computed,
//! and [`Reason::WholeFile`] says why.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use super::decide::Reason;
use super::record::FileRecord;
use crate::error::Result;
use crate::io::Format;
use crate::io::carry::Carried;
use crate::io::compute::Compute;
use crate::io::format::parquet_metadata;
use crate::io::format::{StreamReader, count_rows, read_schema};
use crate::io::plan::{FilePlan, Source};

/// A file recomputed by column: the nodes computed, the columns they give and the
/// columns carried over from the previous output.
#[derive(Clone, Debug)]
pub(super) struct Recompute {
    /// The nodes computed, by name, in execution order.
    pub(super) nodes: Vec<String>,
    /// The selected columns they compute, in the output's order.
    pub(super) columns: Vec<String>,
    /// The previous output, its format, and the columns read from it (with the types
    /// they are read as), in its order.
    previous: PathBuf,
    format: Format,
    carried: Vec<Field>,
    /// A Parquet previous output's footer.
    metadata: Option<ArrowReaderMetadata>,
}

/// Whether `reason` changes only the nodes computed or the columns selected.
fn by_column(reason: &Reason) -> bool {
    matches!(
        reason,
        Reason::Touched
            | Reason::NodeCodeChanged(_)
            | Reason::NodeWiringChanged(_)
            | Reason::NodeAdded(_)
            | Reason::NodeRemoved(_)
            | Reason::NodeVolatile(_)
            | Reason::NodeUnhashable(_)
            | Reason::BoundValueChanged(_)
            | Reason::BoundValueUnhashable(_)
            | Reason::SelectionChanged
    )
}

/// Whether a column of `data_type` written to a file of `format` reads back as the
/// values it held, of its type (`read`: for a node to read; otherwise only to be
/// written again, where the values that are written alike may read back alike):
/// always from Parquet and Arrow; from CSV and NDJSON, integers and booleans, and
///
/// - from CSV, floats, and strings only to be written again (CSV writes an empty
///   string and a null alike);
/// - from NDJSON, strings, and floats only to be written again (JSON has no NaN or
///   infinity: they are written as null).
fn reads_back(format: Format, data_type: &DataType, read: bool) -> bool {
    let float = matches!(data_type, DataType::Float32 | DataType::Float64);
    let string = *data_type == DataType::Utf8;
    match format {
        Format::Parquet | Format::Arrow => true,
        Format::Csv => data_type.is_integer() || *data_type == DataType::Boolean || float || (string && !read),
        Format::Ndjson => data_type.is_integer() || *data_type == DataType::Boolean || string || (float && !read),
    }
}

/// How a file to be computed for `reasons` is computed, given its `before` record and
/// its `plan`: by column, or whole (`Err`), with the reason why when only nodes or the
/// selection changed.
pub(super) fn consider(
    reasons: &[Reason],
    before: Option<&FileRecord>,
    plan: &FilePlan,
) -> std::result::Result<Recompute, Option<String>> {
    let Some(before) = before.filter(|_| reasons.iter().all(by_column)) else {
        return Err(None);
    };
    if plan.failed.is_some() {
        return Err(Some("failed rows are collected".into()));
    }
    let pipeline = &plan.compute.pipeline;
    let (nodes, graph) = (pipeline.nodes(), pipeline.graph());
    // The nodes that changed, and those that read a bound value that changed.
    let mut changed_values = BTreeSet::new();
    let mut changed_nodes = BTreeSet::new();
    for reason in reasons {
        match reason {
            Reason::NodeCodeChanged(n)
            | Reason::NodeWiringChanged(n)
            | Reason::NodeAdded(n)
            | Reason::NodeVolatile(n)
            | Reason::NodeUnhashable(n) => {
                changed_nodes.insert(n.as_str());
            }
            Reason::BoundValueChanged(v) | Reason::BoundValueUnhashable(v) => {
                changed_values.insert(v.as_str());
            }
            _ => {}
        }
    }
    // Those and every node downstream of them (a node's producers come before it).
    let mut kept: Vec<bool> = nodes
        .iter()
        .map(|n| changed_nodes.contains(n.name()) || n.params().iter().any(|p| changed_values.contains(p.name())))
        .collect();
    for i in 0..nodes.len() {
        kept[i] = kept[i] || graph.deps[i].iter().any(|&d| kept[d]);
    }
    // And upstream, the nodes whose results are needed but not in the previous output.
    let previous_columns = &before.signature.select;
    let held = |name: &str| previous_columns.iter().any(|c| c == name);
    let outputs = pipeline.outputs();
    for name in plan.compute.select.iter().filter(|c| outputs.contains(&c.as_str())) {
        if let Some(&(producer, _)) = graph.producers.get(name.as_str())
            && !held(name)
        {
            kept[producer] = true;
        }
    }
    for i in (0..nodes.len()).rev() {
        if !kept[i] {
            continue;
        }
        for param in nodes[i].params() {
            if let Some(&(producer, _)) = graph.producers.get(param.name())
                && !held(param.name())
            {
                kept[producer] = true;
            }
        }
    }
    // The columns carried: the results of the nodes not computed that are selected or
    // read by a node computed.
    let computed: Vec<&crate::Node> = nodes.iter().zip(&kept).filter(|(_, k)| **k).map(|(n, _)| n).collect();
    // Each with whether a node computed reads it.
    let carried: Vec<(&String, bool)> = previous_columns
        .iter()
        .filter(|c| graph.producers.get(c.as_str()).is_some_and(|&(p, _)| !kept[p]))
        .map(|c| (c, computed.iter().any(|n| n.params().iter().any(|p| p.name() == *c))))
        .filter(|(c, read)| *read || plan.compute.select.contains(c))
        .collect();
    if carried.is_empty() {
        return Err(None);
    }
    let columns: Vec<String> = plan
        .compute
        .select
        .iter()
        .filter(|c| graph.producers.get(c.as_str()).is_some_and(|&(p, _)| kept[p]))
        .cloned()
        .collect();
    // Unreachable otherwise: an output not recorded is a reason of its own.
    let Some(written) = before.written.first() else {
        return Err(None);
    };
    let previous = PathBuf::from(&written.path);
    let format = plan.out_format;
    let metadata = match format {
        Format::Parquet => match parquet_metadata(&previous) {
            Ok(m) => Some(m),
            Err(e) => return Err(Some(format!("the previous output cannot be read ({e})"))),
        },
        _ => None,
    };
    let carried = match carried_fields(plan, &previous, format, metadata.as_ref(), &carried) {
        Ok(fields) => fields?,
        Err(e) => return Err(Some(format!("the previous output cannot be read ({e})"))),
    };
    Ok(Recompute {
        nodes: computed.iter().map(|n| n.name().to_string()).collect(),
        columns,
        previous,
        format,
        carried,
        metadata,
    })
}

/// The fields of the columns `carried` of the previous output at `previous` (written by
/// `plan` as `format`; a Parquet file's footer `metadata`), or why they cannot be read
/// back as they were.
fn carried_fields(
    plan: &FilePlan,
    previous: &std::path::Path,
    format: Format,
    metadata: Option<&ArrowReaderMetadata>,
    carried: &[(&String, bool)],
) -> Result<std::result::Result<Vec<Field>, Option<String>>> {
    let schema = match (format, metadata) {
        (Format::Parquet, Some(m)) => m.schema().as_ref().clone(),
        (Format::Parquet | Format::Arrow, _) => read_schema(previous, format)?,
        // The types the run writes them with.
        (Format::Csv | Format::Ndjson, _) => plan.empty_output_schema()?.as_ref().clone(),
    };
    let mut fields = Vec::new();
    for &(name, read) in carried {
        let Some(field) = schema.fields().iter().find(|f| f.name() == name) else {
            return Ok(Err(Some(format!("the previous output has no column `{name}`"))));
        };
        if !reads_back(format, field.data_type(), read) {
            return Ok(Err(Some(format!(
                "column `{name}` ({}) does not read back exactly from {}",
                field.data_type(),
                format.title()
            ))));
        }
        fields.push(field.as_ref().clone());
    }
    if let (Some(rows), Format::Parquet | Format::Arrow) = (plan.rows, format) {
        let written = match metadata {
            Some(m) => m.metadata().file_metadata().num_rows().max(0) as u64,
            None => count_rows(previous, format)?,
        };
        if written != rows {
            return Ok(Err(Some(format!(
                "the previous output holds {written} rows, the input {rows}"
            ))));
        }
    }
    Ok(Ok(fields))
}

impl Recompute {
    /// `plan` reduced to computing the nodes of this recompute, reading the other
    /// columns from the previous output.
    pub(super) fn reduce(&self, plan: FilePlan) -> Result<FilePlan> {
        let pipeline = plan.compute.pipeline.part(&self.nodes)?;
        let full_outputs = plan.compute.pipeline.outputs();
        let carried = |name: &str| self.carried.iter().any(|f| f.name() == name);
        // The input columns read: those the nodes computed read, and those selected.
        let args = pipeline.unfulfilled_args();
        let input_columns: Vec<usize> = plan
            .schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let n = f.name().as_str();
                (args.contains(&n) && !carried(n))
                    || (plan.compute.select.iter().any(|s| s == n) && !full_outputs.contains(&n))
            })
            .map(|(i, _)| i)
            .collect();
        // The previous output's columns, in its order, and how it is read.
        let (file_schema, parse) = match (self.format, &self.metadata) {
            (Format::Parquet, Some(m)) => (m.schema().clone(), m.schema().clone()),
            (Format::Parquet | Format::Arrow, _) => {
                let s = Arc::new(read_schema(&self.previous, self.format)?);
                (s.clone(), s)
            }
            // Every column of a CSV file is parsed (the header names them): those
            // carried as their types, the others as text.
            (Format::Csv, _) => {
                let header = read_schema(&self.previous, self.format)?;
                let fields: Vec<Field> = header
                    .fields()
                    .iter()
                    .map(|f| match self.carried.iter().find(|c| c.name() == f.name()) {
                        Some(c) => c.clone(),
                        None => Field::new(f.name(), DataType::Utf8, true),
                    })
                    .collect();
                let s = Arc::new(Schema::new(fields));
                (s.clone(), s)
            }
            (Format::Ndjson, _) => {
                let s = Arc::new(Schema::new(self.carried.clone()));
                (s.clone(), s)
            }
        };
        let previous_columns: Vec<usize> = (file_schema.fields().iter().enumerate())
            .filter(|(_, f)| carried(f.name()))
            .map(|(i, _)| i)
            .collect();
        let read = |i: &usize| file_schema.field(*i).clone();
        let mut fields: Vec<Field> = input_columns.iter().map(|&i| plan.schema.field(i).clone()).collect();
        fields.extend(previous_columns.iter().map(read));
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let input = match plan.source {
            Source::Stream { .. } => Source::Stream {
                parse: StreamReader::parse_schema(plan.format, &plan.schema, &input_columns),
                projection: input_columns.clone(),
            },
            other => other,
        };
        let previous_source = match &self.metadata {
            Some(m) => Source::Parquet(m.clone()),
            None => Source::Stream {
                parse,
                projection: previous_columns.clone(),
            },
        };
        let selected_outputs = pipeline.outputs();
        let outputs = (plan.compute.select.iter())
            .filter(|c| selected_outputs.contains(&c.as_str()))
            .cloned()
            .collect();
        let previous_bytes = std::fs::metadata(&self.previous).map_or(0, |m| m.len());
        Ok(FilePlan {
            row_bytes: plan.row_bytes + previous_bytes.div_ceil(plan.rows.unwrap_or(1).max(1)),
            needed: (0..schema.fields().len()).collect(),
            source: Source::Carry(Box::new(Carried {
                input,
                input_columns,
                previous: self.previous.clone(),
                previous_format: self.format,
                previous_source,
                previous_columns,
                schema: schema.clone(),
            })),
            schema,
            compute: Compute {
                pipeline,
                outputs,
                ..plan.compute
            },
            failed: None,
            ..plan
        })
    }
}
