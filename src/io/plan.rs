//! Planning a file run, before anything is written: the files it reads and writes
//! ([`Files`]), and for each input file the columns to read, what is computed and the
//! schemas written ([`FilePlan`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use super::compute::Compute;
use super::format::{INFERRED, StreamReader, check_csv, count_rows, parses, read_schema, text_row_bytes};
use super::input::Input;
use super::{EngineChoice, FileRun, Format, Location};
use crate::engine::columnar::ExprNode;
use crate::engine::columnar::types::{ColumnType, reads_as, type_info_for};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;

/// The files of a run: the inputs, and for each its output and side file of failed rows,
/// with their formats.
pub(super) struct Files {
    /// The input files, in order, and their format.
    pub(super) inputs: Vec<Input>,
    pub(super) format: Format,
    /// The output of each input file.
    pub(super) outputs: Vec<Location>,
    /// The side file of failed rows of each input file, when the run has them.
    pub(super) failed: Vec<Option<Location>>,
    /// The outputs' format, and the side files'.
    pub(super) out_format: Format,
    pub(super) side_format: Format,
}

impl Files {
    /// The files of `run`, checked before anything is written: a compression only for
    /// Parquet output, a file output for a file input, no output that is its input, no
    /// side file that is an output or an input. The output and side file directories of
    /// a directory input are created with `create` (on this machine; a store has no
    /// directories).
    pub(super) fn new(run: &FileRun, create: bool) -> Result<Files> {
        let (inputs, format) = input_files(&run.input, run.format)?;
        let dir_input = run.input.is_prefix();
        // The output's format: given, else its extension's, else (a directory) the input's.
        let out_format = match run.output_format {
            Some(f) => f,
            None if dir_input => format,
            None => run.output.format(),
        };
        if out_format != Format::Parquet && run.compression.is_some() {
            return Err(Error::Invalid(format!(
                "Compression is for Parquet output; '{}' is written as {out_format}, uncompressed",
                run.output
            )));
        }
        // In an output directory, a file of the input's name with the output's extension.
        let name_in = |dir: &Location, file: &Location, to: Format| {
            let name = file.file_name();
            match Format::of(Path::new(&name)) == to {
                true => dir.join(&name),
                false => dir.join(&Path::new(&name).with_extension(to.extensions()[0]).to_string_lossy()),
            }
        };
        if !dir_input && run.output.is_prefix() {
            return Err(Error::Invalid(format!(
                "The output '{}' is a directory; name a file (a directory is the output of a directory input)",
                run.output
            )));
        }
        let create_dir = |dir: &Location| match dir.as_path().filter(|_| create) {
            Some(path) => std::fs::create_dir_all(path).map_err(|source| Error::Io {
                action: "create directory",
                path: path.display().to_string().into(),
                source,
            }),
            None => Ok(()),
        };
        let outputs: Vec<Location> = if dir_input {
            create_dir(&run.output)?;
            inputs
                .iter()
                .map(|f| name_in(&run.output, f, out_format))
                .collect::<Result<_>>()?
        } else {
            vec![run.output.clone()]
        };
        for (i, o) in inputs.iter().zip(&outputs) {
            if i.same(o) {
                return Err(Error::Invalid(format!(
                    "The output '{o}' is the input file; choose another output"
                )));
            }
        }
        // The side files of failed rows: like the outputs, and none of them.
        let failed: Vec<Option<Location>> = match &run.failed {
            None => vec![None; inputs.len()],
            Some(path) => {
                let files: Vec<Location> = if dir_input {
                    if path.same(&run.output) {
                        return Err(Error::Invalid(format!(
                            "The failed rows' directory '{path}' is the output directory; choose another"
                        )));
                    }
                    create_dir(path)?;
                    inputs
                        .iter()
                        .map(|f| name_in(path, f, out_format))
                        .collect::<Result<_>>()?
                } else {
                    vec![path.clone()]
                };
                for ((i, o), f) in inputs.iter().zip(&outputs).zip(&files) {
                    if f.same(o) {
                        return Err(Error::Invalid(format!(
                            "The failed rows' file '{f}' is the output; choose another"
                        )));
                    }
                    if f.same(i) {
                        return Err(Error::Invalid(format!(
                            "The failed rows' file '{f}' is the input file; choose another"
                        )));
                    }
                }
                files.into_iter().map(Some).collect()
            }
        };
        // The failed rows' files: of the output's format in a directory, else of their
        // own extension's.
        let side_format = match &run.failed {
            Some(path) if !dir_input => path.format(),
            _ => out_format,
        };
        // Every location checked: the inputs are opened (an object's existence checked,
        // or a copy made of one that is not Parquet).
        let inputs = inputs
            .iter()
            .map(|i| Input::open(i, format))
            .collect::<Result<Vec<_>>>()?;
        Ok(Files {
            inputs,
            format,
            outputs,
            failed,
            out_format,
            side_format,
        })
    }
}

/// What one input file needs: the columns to read, the output columns, and the
/// uncompressed bytes per row of the columns read.
pub(super) struct FilePlan {
    /// The input's format.
    pub(super) format: Format,
    /// How the file is read.
    pub(super) source: Source,
    /// The file's columns, with the types they are read as (for CSV and NDJSON, those
    /// of the nodes that read them).
    pub(super) schema: SchemaRef,
    /// The rows of the file, when its metadata tells.
    pub(super) rows: Option<u64>,
    /// The output's format, and the failed rows' file's.
    pub(super) out_format: Format,
    pub(super) side_format: Format,
    /// What is computed of each batch: the pipeline pruned to the nodes the selected
    /// outputs need, and the output columns.
    pub(super) compute: Compute,
    /// The columns read (indices into `schema`).
    pub(super) needed: Vec<usize>,
    pub(super) row_bytes: u64,
    /// The schema of the failed rows' file, when there is one.
    pub(super) failed: Option<SchemaRef>,
}

/// How an input file is read.
pub(super) enum Source {
    /// By row group, from the footer read once.
    Parquet(ArrowReaderMetadata),
    /// Batch by batch with one reader, parsing with `parse`, keeping the columns at
    /// `projection` (see [`StreamReader::open`]).
    Stream { parse: SchemaRef, projection: Vec<usize> },
    /// Some columns from the input, the others carried over from the previous output
    /// of an incremental run, side by side.
    Carry(Box<super::carry::Carried>),
}

impl FilePlan {
    /// The plan of each input file of `files`, for `run` of `pipeline` (configured).
    pub(super) fn all(pipeline: &Pipeline, run: &FileRun, files: &Files) -> Result<Vec<FilePlan>> {
        let (select, side) = (run.select.as_deref(), run.failed.is_some());
        let formats = (files.format, files.out_format, files.side_format);
        files
            .inputs
            .iter()
            .map(|input| FilePlan::new(pipeline, input, select, run.engine, side, formats).map_err(|e| input.rename(e)))
            .collect()
    }

    /// Checks `input` (read as `formats.0`) against `pipeline` (the run's, configured):
    /// the columns to read and the output schema (written as `formats.1`) of the columns
    /// `select` (by default, the input columns and the outputs a run returns), computed
    /// on `engine`, and, with `side` (written as `formats.2`), the schema of the failed
    /// rows.
    pub(super) fn new(
        pipeline: &Pipeline,
        input: &Input,
        select: Option<&[String]>,
        engine: EngineChoice,
        side: bool,
        (format, out_format, side_format): (Format, Format, Format),
    ) -> Result<FilePlan> {
        let data = |message: String| Error::Data {
            path: input.location.to_string().into(),
            message: message.into(),
        };
        let metadata = match (format, &input.source) {
            #[cfg(feature = "cloud")]
            (Format::Parquet, super::input::InputSource::Parquet(object)) => Some(object.metadata()?),
            (Format::Parquet, _) => {
                Some(super::format::parquet_metadata(input.local_file()?).map_err(|e| input.rename(e))?)
            }
            _ => None,
        };
        let mut schema: Schema = match &metadata {
            Some(m) => m.schema().as_ref().clone(),
            None => read_schema(input.local_file()?, format)?,
        };
        schema.metadata.remove(INFERRED);
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();

        // The output columns, and the pipeline pruned to the nodes they need. By default
        // the input columns and the outputs a run returns.
        let outputs = pipeline.outputs();
        let select: Vec<String> = match select {
            Some(s) => s.to_vec(),
            None => {
                let returned = crate::plan::RunPlan::for_columns(pipeline, None, crate::exec::RunConfig::built_in())?;
                columns
                    .iter()
                    .map(|c| c.to_string())
                    .chain(
                        returned
                            .outputs()
                            .iter()
                            .filter(|o| !columns.contains(&o.as_str()))
                            .cloned(),
                    )
                    .collect()
            }
        };
        let unknown: Vec<String> = select
            .iter()
            .filter(|c| !columns.contains(&c.as_str()) && !outputs.contains(&c.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let mut available: Vec<String> = columns.iter().chain(&outputs).map(|c| c.to_string()).collect();
            available.sort();
            available.dedup();
            let suggestion = crate::error::closest(&unknown[0], available.iter().map(String::as_str));
            return Err(Error::UnknownOutputs {
                unknown,
                available,
                suggestion,
            });
        }
        let wanted: Vec<String> = select
            .iter()
            .filter(|c| outputs.contains(&c.as_str()))
            .cloned()
            .collect();
        let pipeline = prune(pipeline, &wanted)?;
        let outputs = pipeline.outputs();

        // The pipeline's inputs: present, and of the type their nodes read.
        let mut retyped: Vec<(String, DataType)> = Vec::new();
        for name in pipeline.unfulfilled_args() {
            let reader = pipeline
                .nodes()
                .iter()
                .find(|n| n.params().iter().any(|p| p.name() == name))
                .map_or("", |n| n.name());
            let Some(field) = schema.fields().iter().find(|f| f.name() == name) else {
                return Err(data(format!(
                    "no column '{name}', which node '{reader}' reads. Columns: {}",
                    columns.join(", ")
                )));
            };
            let ty = pipeline.input_type(name).expect("an input");
            let found = type_info_for(field.data_type());
            let nested_list = found.is_none() && matches!(field.data_type(), arrow::datatypes::DataType::List(_));
            // The Arrow type an SQL expression node reading it declares (a pipeline
            // file's `decimal(12, 2)`), else its Rust type's.
            let declared = pipeline
                .nodes()
                .iter()
                .filter_map(ExprNode::find)
                .find_map(|e| e.input_type(name).filter(|dt| type_info_for(dt) == Some(ty)).cloned());
            let parsed = declared.or_else(|| ColumnType::find(&ty).map(|c| (c.data_type)()));
            // A date or time inferred from an untyped file is parsed as the type its node
            // reads all the same: inferred in seconds from the first records, a later
            // record's fraction of a second would be dropped.
            let temporal = parsed
                .as_ref()
                .is_some_and(|dt| format.inferred() && dt.is_temporal() && dt != field.data_type());
            if (reads_as(field.data_type(), &ty) && !temporal) || nested_list {
                continue;
            }
            // An untyped file's column is parsed as the type its node reads.
            match parsed {
                // Arrow's CSV reader parses no lists, durations, binary or intervals.
                Some(dt) if format.inferred() && parses(format, &dt) => {
                    retyped.push((name.to_string(), dt));
                }
                _ => {
                    return Err(data(format!(
                        "column '{name}' has type {}, but node '{reader}' reads it as {ty}",
                        field.data_type()
                    )));
                }
            }
        }
        if !retyped.is_empty() {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| match retyped.iter().find(|(n, _)| n == f.name()) {
                    Some((_, dt)) => f.as_ref().clone().with_data_type(dt.clone()),
                    None => f.as_ref().clone(),
                })
                .collect();
            schema = Schema::new_with_metadata(fields, schema.metadata().clone());
        }
        // Read what the nodes need and what is selected from the file, nothing else.
        let needed: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let n = f.name().as_str();
                pipeline.unfulfilled_args().contains(&n) || (select.iter().any(|s| s == n) && !outputs.contains(&n))
            })
            .map(|(i, _)| i)
            .collect();
        let (rows, row_bytes) = match &metadata {
            Some(metadata) => {
                let md = metadata.metadata();
                let rows = md.file_metadata().num_rows().max(0) as u64;
                let total: i64 = md
                    .row_groups()
                    .iter()
                    .map(|rg| needed.iter().map(|&c| rg.column(c).uncompressed_size()).sum::<i64>())
                    .sum();
                (Some(rows), (total.max(0) as u64).div_ceil(rows.max(1)).max(8))
            }
            None if format == Format::Arrow => {
                let rows = count_rows(input.local_file()?, format)?;
                let size = std::fs::metadata(input.local_file()?).map_or(0, |m| m.len());
                (Some(rows), size.div_ceil(rows.max(1)).max(8))
            }
            None => (None, text_row_bytes(input.local_file()?, format)?),
        };
        // The failed rows: the columns read, then where and why each failed.
        let failed = if side {
            // Unreachable: `needed` holds indices of this schema's fields.
            let read = schema.project(&needed).map_err(|e| Error::Internal(e.to_string()))?;
            let mut fields: Vec<Field> = read.fields().iter().map(|f| f.as_ref().clone()).collect();
            for (name, ty) in [
                ("_row", DataType::UInt64),
                ("_node", DataType::Utf8),
                ("_error", DataType::Utf8),
            ] {
                if fields.iter().any(|f| f.name() == name) {
                    return Err(data(format!(
                        "the column '{name}' clashes with the column of that name the failed rows' file adds"
                    )));
                }
                // `_node` is null for a record that did not decode: no node ran on it.
                fields.push(Field::new(name, ty, name == "_node"));
            }
            Some(Arc::new(Schema::new(fields)))
        } else {
            None
        };
        let schema = Arc::new(schema);
        let source = match metadata {
            Some(metadata) => Source::Parquet(metadata),
            None => Source::Stream {
                parse: StreamReader::parse_schema(format, &schema, &needed),
                projection: needed.clone(),
            },
        };
        let plan = FilePlan {
            format,
            source,
            schema,
            rows,
            out_format,
            side_format,
            compute: Compute {
                engine,
                pipeline,
                select,
                outputs: wanted,
            },
            needed,
            row_bytes,
            failed,
        };
        // CSV holds no lists or structs: refused before anything is written.
        if out_format == Format::Csv {
            let schema = plan.empty_output_schema()?;
            check_csv(&schema).map_err(|e| Error::Invalid(format!("The output: {e}")))?;
        }
        if let (Format::Csv, Some(schema)) = (side_format, &plan.failed) {
            check_csv(schema).map_err(|e| Error::Invalid(format!("The failed rows' file: {e}")))?;
        }
        Ok(plan)
    }

    /// The output schema for an input without rows: the pipeline run on an empty batch.
    pub(super) fn empty_output_schema(&self) -> Result<SchemaRef> {
        // Unreachable: `needed` holds indices of this schema's fields.
        let schema = Arc::new(
            self.schema
                .project(&self.needed)
                .map_err(|e| Error::Internal(e.to_string()))?,
        );
        let empty = RecordBatch::new_empty(schema);
        Ok(self.compute.apply(&empty)?.0.schema())
    }
}

/// `pipeline` with only the nodes that `outputs` need (and the bound values they read),
/// and its configuration.
fn prune(pipeline: &Pipeline, outputs: &[String]) -> Result<Pipeline> {
    let plan = crate::plan::RunPlan::for_columns(pipeline, Some(outputs), crate::exec::RunConfig::built_in())?;
    let pruned = Pipeline::try_new(plan.nodes().iter().map(|&i| pipeline.nodes()[i].clone()))?;
    let inputs = pruned.inputs();
    let bound: crate::Inputs = pipeline
        .bound_inputs()
        .iter()
        .filter(|(n, _)| inputs.contains(n))
        .map(|(n, v)| (n, v.clone()))
        .collect();
    let pruned = if bound.is_empty() { pruned } else { pruned.bind(bound)? };
    // The name too: a run's events name the pipeline.
    let pruned = match pipeline.name() {
        Some(name) => pruned.with_name(name),
        None => pruned,
    };
    Ok(pruned.with_config(pipeline.config().clone()))
}

/// The files to read and their format: `location` itself (of format `format`, else its
/// extension's), or the files in the directory `location` (for a URL, the objects under
/// the prefix), in name order, of format `format` (by extension), else of the one
/// format whose files it holds.
pub(crate) fn input_files(location: &Location, format: Option<Format>) -> Result<(Vec<Location>, Format)> {
    let all: Vec<Location> = match location.as_path() {
        Some(path) => {
            let io = |source| Error::Io {
                action: "read",
                path: path.display().to_string().into(),
                source,
            };
            let meta = std::fs::metadata(path).map_err(io)?;
            if !meta.is_dir() {
                return Ok((vec![location.clone()], format.unwrap_or_else(|| location.format())));
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            files.into_iter().map(Location::local).collect()
        }
        None if !location.is_prefix() => {
            return Ok((vec![location.clone()], format.unwrap_or_else(|| location.format())));
        }
        None => list_objects(location)?,
    };
    let files: Vec<(Location, Format)> = all
        .into_iter()
        .filter_map(|l| {
            let name = l.file_name();
            let ext = Path::new(&name).extension()?.to_string_lossy().to_ascii_lowercase();
            let found = Format::ALL
                .into_iter()
                .find(|f| f.extensions().contains(&ext.as_str()))?;
            Some((l, found))
        })
        .filter(|(_, f)| format.is_none_or(|wanted| *f == wanted))
        .collect();
    let mut found: Vec<Format> = files.iter().map(|(_, f)| *f).collect();
    found.sort();
    found.dedup();
    match found[..] {
        [] => {
            let wanted: Vec<String> = match format {
                Some(f) => f.extensions().iter().map(|e| format!(".{e}")).collect(),
                None => Format::ALL
                    .iter()
                    .flat_map(|f| f.extensions())
                    .map(|e| format!(".{e}"))
                    .collect(),
            };
            Err(Error::Data {
                path: location.to_string().into(),
                message: format!("the directory holds no {} files", wanted.join(", ")).into(),
            })
        }
        [one] => Ok((files.into_iter().map(|(p, _)| p).collect(), one)),
        _ => {
            let names: Vec<&str> = found.iter().map(|f| f.name()).collect();
            Err(Error::Invalid(format!(
                "The directory '{location}' holds files of several formats ({}); choose one with --format",
                names.join(", ")
            )))
        }
    }
}

/// The objects under the prefix `location`, in key order.
#[cfg(feature = "cloud")]
fn list_objects(location: &Location) -> Result<Vec<Location>> {
    super::store::Object::open(location)?.list()
}

#[cfg(not(feature = "cloud"))]
fn list_objects(location: &Location) -> Result<Vec<Location>> {
    Err(super::location::needs_cloud(location))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether `a` and `b` name the same file, existing or not (their directories compared
/// as found on disk).
pub(super) fn same_path(a: &Path, b: &Path) -> bool {
    if same_file(a, b) {
        return true;
    }
    let resolved = |p: &Path| {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        match (dir.canonicalize(), p.file_name()) {
            (Ok(d), Some(name)) => d.join(name),
            _ => p.to_path_buf(),
        }
    };
    resolved(a) == resolved(b)
}
