//! Pipelines over Polars: a [`DataFrame`] in, the same frame with the pipeline's outputs
//! added out ([`PolarsFrames::apply_to_polars`]), and a [`LazyFrame`] mapped batch by
//! batch ([`PolarsFrames::apply_to_lazy`]) (feature `polars`).
//!
//! Columns cross between Polars and arrow-rs through the Arrow C Data Interface, without
//! a copy of their buffers, chunk by chunk: a frame of several chunks becomes one
//! `RecordBatch` per chunk, cut into batches of at least [`FRAME_BATCH_ROWS`] rows, and
//! each output comes back as a Series of the chunks the engine made (4 per output of a
//! 1,000,000-row frame on 2 cores, rather than 123 of 8,192 rows: each chunk crosses on
//! its own). Only the columns the pipeline reads cross; the frame's other columns, and
//! those it reads, are returned as they were. Polars' `String` columns are string views
//! (`Utf8View`), which `&str` and `String` parameters read in place; the columnar engine
//! casts a column a node reads to that node's Arrow type only where Polars stores it in
//! another layout (lists are `LargeList`, read as `List`).
//!
//! A column is read when its Polars type stores the node's type: the same numbers (an
//! `i32` column is not read as `i64`), strings as `String`, lists and structs of such
//! columns as `Vec` and [`columnar_struct!`](crate::columnar_struct) types, dates,
//! times, datetimes (of any unit, with or without a time zone) and durations as chrono's
//! types, decimals (of any precision and scale) as `rust_decimal::Decimal`, binary as
//! `bytes::Bytes` (and as `[u8; N]` when every value is `N` bytes long), arrays
//! (`Array(T, N)`) as `[T; N]`, lists of two-field structs as `BTreeMap`s, and an
//! all-null column as anything. Any other type (a string read as a number) is an
//! [`Error::InputType`] naming the column and both types. Outputs of those types are
//! Polars `Date`, `Time`, `Datetime(µs)` (`Datetime(µs, "UTC")` for `DateTime<Utc>`),
//! `Duration(µs)`, `Decimal(38, 18)`, `Binary` and `Array(T, N)` columns.
//!
//! Polars has no fixed-width binary, no map and no month-day-nanosecond interval:
//! a `[u8; N]` output is a `Binary` column, a `BTreeMap<K, V>` output a
//! `List(Struct{key, value})` of its entries in key order (what Polars makes of an
//! Arrow map read from pyarrow or Parquet), and an `IntervalMonthDayNano` output is an
//! [`Error::Invalid`] naming it, before anything runs.

mod form;

use std::sync::Arc;

use ::polars::prelude::{
    Column, CompatLevel, DataFrame, DataType as PolarsType, IntoColumn, LazyFrame, OptFlags, PlSmallStr, PolarsError,
    PolarsResult, Schema as PolarsSchema, SchemaRef, Series,
};
use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema};
use rayon::prelude::*;

use crate::engine::columnar::{ColumnType, output_fields, reader_of};
use crate::engine::{ColumnarEngine, Engine};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;

/// The fewest rows per batch a Polars frame's chunks are cut into (2^18), unless the
/// engine's batch size is larger. Each batch's outputs cross back to Polars as one chunk
/// each: at the engine's default of 8,192 rows, W1 over 1,000,000 rows crossed 369
/// chunks. `benches/polars.rs` measures it (docs/performance.md, the Polars table): with
/// this size, `apply_to_polars` took W1 in 0.60 to 0.74 ms where `apply_to_batches` took
/// 0.92 ms; batches of 65,536 and 131,072 rows were slower, 500,000 no faster.
pub const FRAME_BATCH_ROWS: usize = 1 << 18;

/// Pipelines applied to Polars frames by the columnar engine. In the prelude (feature
/// `polars`).
pub trait PolarsFrames {
    /// [`ColumnarEngine::apply_to_batches`] over a Polars [`DataFrame`]: `frame` with
    /// the outputs a [`Pipeline::run`](crate::Run::run) returns added, sorted by name. The columns named
    /// like the pipeline's inputs feed the nodes, one `RecordBatch` per chunk of the
    /// frame, crossing to Arrow without a copy, cut into batches of the engine's batch
    /// size or [`FRAME_BATCH_ROWS`], whichever is larger; every column of `frame` is kept
    /// as it is, and each output is a Series of the chunks the engine made.
    ///
    /// # Examples
    ///
    /// ```
    /// use polars::prelude::*;
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let frame = df!("x" => [1_i64, 2, 3], "label" => ["a", "b", "c"]).unwrap();
    /// let p = Pipeline::new([double::node()]);
    /// let out = ColumnarEngine::new().apply_to_polars(&p, &frame)?;
    /// assert_eq!(out.get_column_names(), ["x", "label", "doubled"]);
    /// assert_eq!(out.column("doubled").unwrap().i64().unwrap().to_vec(), [Some(2), Some(4), Some(6)]);
    ///
    /// let text = df!("x" => ["1"]).unwrap();
    /// let err = ColumnarEngine::new().apply_to_polars(&p, &text).unwrap_err();
    /// assert_eq!(err.to_string(), "Input 'x' has type Polars str but node 'double' expects i64");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::MissingInputs`] for input columns the frame lacks, [`Error::InputType`]
    /// for a column whose Polars type does not store its input's type, [`Error::Invalid`]
    /// for an output named like a column of the frame, and node failures (the item is
    /// the row), as [`ColumnarEngine::apply_to_batches`].
    fn apply_to_polars(&self, pipeline: &Pipeline, frame: &DataFrame) -> Result<DataFrame>;

    /// What [`PolarsFrames::apply_to_polars`] does, on another engine, as
    /// [`ColumnarEngine::apply_to_batch_on`] does it: the chunks of the columns the
    /// pipeline reads are joined into one batch (a copy of those columns when the frame
    /// has several chunks), `engine` maps the pipeline over its rows, and each output is
    /// a Series of one chunk. Gives the same frame as `apply_to_polars`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use polars::prelude::*;
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let frame = df!("x" => [1_i64, 2]).unwrap();
    /// let p = Pipeline::new([double::node()]);
    /// let by_rows = ColumnarEngine::apply_to_polars_on(Arc::new(NodeEngine::new()), &p, &frame)?;
    /// assert!(by_rows.equals_missing(&ColumnarEngine::new().apply_to_polars(&p, &frame)?));
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`PolarsFrames::apply_to_polars`]; a null in a column of a type that is not
    /// an `Option` is an [`Error::InputType`] naming the row.
    fn apply_to_polars_on(engine: Arc<dyn Engine>, pipeline: &Pipeline, frame: &DataFrame) -> Result<DataFrame>;

    /// `frame` with the pipeline's outputs added, as a [`LazyFrame`] whose batches are
    /// mapped through the pipeline as Polars executes it: a `LazyFrame::map` step,
    /// marked streamable (the pipeline is row-wise), through which each `DataFrame` the
    /// query hands over goes by [`PolarsFrames::apply_to_polars`]. Polars' in-memory
    /// engine hands over the whole frame once, processed chunk by chunk; its streaming
    /// engine (Polars' `new_streaming` feature) may call the step once per morsel. The
    /// columns and their types are checked now, against the frame's schema, and the
    /// outputs' types are part of the result's schema, so later steps can use them
    /// before anything runs.
    ///
    /// A node's failure while the query runs is a Polars compute error carrying this
    /// crate's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use polars::prelude::*;
    /// use hypernodes::prelude::*;
    /// use hypernodes::ColumnarEngine;
    ///
    /// #[node(output = "doubled")]
    /// fn double(x: i64) -> i64 { 2 * x }
    ///
    /// let frame = df!("x" => [1_i64, 2, 3]).unwrap().lazy();
    /// let mapped = ColumnarEngine::new().apply_to_lazy(&Pipeline::new([double::node()]), frame)?;
    /// let out = mapped.filter(col("doubled").gt(lit(2))).collect().unwrap();
    /// assert_eq!(out.column("x").unwrap().i64().unwrap().to_vec(), [Some(2), Some(3)]);
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Before anything runs: the frame's plan failing to resolve its schema
    /// ([`Error::Arrow`]), and the errors of [`PolarsFrames::apply_to_polars`] about
    /// columns and types.
    fn apply_to_lazy(&self, pipeline: &Pipeline, frame: LazyFrame) -> Result<LazyFrame>;

    /// [`PolarsFrames::apply_to_lazy`] on another engine: each batch goes through
    /// [`PolarsFrames::apply_to_polars_on`].
    ///
    /// # Errors
    ///
    /// As [`PolarsFrames::apply_to_lazy`].
    fn apply_to_lazy_on(engine: Arc<dyn Engine>, pipeline: &Pipeline, frame: LazyFrame) -> Result<LazyFrame>;
}

impl PolarsFrames for ColumnarEngine {
    fn apply_to_polars(&self, pipeline: &Pipeline, frame: &DataFrame) -> Result<DataFrame> {
        Runner::Columnar(self.clone()).apply(pipeline, frame)
    }

    fn apply_to_polars_on(engine: Arc<dyn Engine>, pipeline: &Pipeline, frame: &DataFrame) -> Result<DataFrame> {
        Runner::On(engine).apply(pipeline, frame)
    }

    fn apply_to_lazy(&self, pipeline: &Pipeline, frame: LazyFrame) -> Result<LazyFrame> {
        Runner::Columnar(self.clone()).lazy(pipeline, frame)
    }

    fn apply_to_lazy_on(engine: Arc<dyn Engine>, pipeline: &Pipeline, frame: LazyFrame) -> Result<LazyFrame> {
        Runner::On(engine).lazy(pipeline, frame)
    }
}

/// Which engine runs the batches, and how.
#[derive(Clone)]
enum Runner {
    /// [`ColumnarEngine::apply_to_batches`] over the chunks as they are.
    Columnar(ColumnarEngine),
    /// [`ColumnarEngine::apply_to_batch_on`] over the chunks joined.
    On(Arc<dyn Engine>),
}

impl Runner {
    fn apply(&self, pipeline: &Pipeline, frame: &DataFrame) -> Result<DataFrame> {
        let outputs = checked_outputs(pipeline, frame.schema())?;
        let names: Vec<PlSmallStr> = pipeline
            .unfulfilled_args()
            .into_iter()
            .filter(|n| frame.schema().contains(n))
            .map(PlSmallStr::from)
            .collect();
        // Unreachable: the names are columns of the frame.
        let mut read = frame
            .select(names)
            .map_err(polars("Cannot select the columns to read"))?;
        // A copy only of columns whose chunks do not line up with the others'.
        read.align_chunks_par();
        let batches = read
            .iter_chunks(CompatLevel::newest(), false)
            .map(|chunk| {
                let rows = RecordBatchOptions::new().with_row_count(Some(chunk.height()));
                let (schema, arrays) = chunk.into_schema_and_arrays();
                let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = schema
                    .iter_values()
                    .zip(arrays)
                    .map(|(field, array)| {
                        let array = read_as(pipeline, field.name.as_str(), ffi::to_arrow(array, field)?)?;
                        Ok((arrow_field(field, &array), array))
                    })
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .unzip();
                // Unreachable: each field was made from its array, all of the chunk's rows.
                RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &rows)
                    .map_err(arrow_error("Cannot make a batch of the columns read"))
            })
            .collect::<Result<Vec<_>>>()?;
        let done = match self {
            Runner::Columnar(engine) => {
                let batch_size = engine.batch_size().max(FRAME_BATCH_ROWS);
                engine
                    .clone()
                    .with_batch_size(batch_size)
                    .apply_to_batches(pipeline, &batches)?
            }
            Runner::On(engine) => {
                // Unreachable: the batches are the chunks of one frame, of one schema.
                let one = arrow::compute::concat_batches(&read_schema(&batches), &batches)
                    .map_err(arrow_error("Cannot join the chunks read"))?;
                vec![ColumnarEngine::apply_to_batch_on(engine.clone(), pipeline, &one)?]
            }
        };
        let first = read.width();
        let columns = outputs
            .iter()
            .enumerate()
            .map(|(k, field)| {
                let chunks = match done.is_empty() {
                    // No rows: an empty column of the output's type.
                    true => vec![arrow::array::new_empty_array(field.data_type())],
                    false => done.iter().map(|b| b.column(first + k).clone()).collect(),
                };
                to_column(field, &chunks)
            })
            .collect::<Result<Vec<Column>>>()?;
        // Unreachable: the outputs have the frame's rows and names it lacks (checked above).
        frame
            .hstack(&columns)
            .map_err(polars("Cannot add the outputs to the DataFrame"))
    }

    fn lazy(&self, pipeline: &Pipeline, mut frame: LazyFrame) -> Result<LazyFrame> {
        let schema = frame
            .collect_schema()
            .map_err(polars("Cannot find the LazyFrame's schema"))?;
        let outputs = checked_outputs(pipeline, &schema)?;
        let missing: Vec<String> = pipeline
            .unfulfilled_args()
            .into_iter()
            .filter(|n| !schema.contains(n))
            .map(String::from)
            .collect();
        if !missing.is_empty() {
            return Err(Error::MissingInputs {
                missing,
                required: pipeline.unfulfilled_args().into_iter().map(String::from).collect(),
            });
        }
        let added: Vec<(PlSmallStr, PolarsType)> = outputs
            .iter()
            .map(|f| {
                Ok((
                    PlSmallStr::from(f.name().as_str()),
                    ffi::polars_type(&polars_field(f)?)?,
                ))
            })
            .collect::<Result<_>>()?;
        let runner = self.clone();
        let pipeline = pipeline.clone();
        let step = move |batch: DataFrame| {
            runner
                .apply(&pipeline, &batch)
                .map_err(|e| PolarsError::ComputeError(e.to_string().into()))
        };
        let out_schema = move |input: &PolarsSchema| -> PolarsResult<SchemaRef> {
            let mut schema = input.clone();
            for (name, dtype) in &added {
                schema.with_column(name.clone(), dtype.clone());
            }
            Ok(Arc::new(schema))
        };
        Ok(frame.map(
            step,
            OptFlags::STREAMING,
            Some(Arc::new(out_schema)),
            Some("hypernodes"),
        ))
    }
}

/// The fields of the outputs added to a frame of `schema`, once every column the
/// pipeline reads is found readable as its input's type and no output is named like a
/// column.
fn checked_outputs(pipeline: &Pipeline, schema: &PolarsSchema) -> Result<Vec<Field>> {
    for name in pipeline.unfulfilled_args() {
        let Some(dtype) = schema.get(name) else { continue };
        let ty = pipeline.input_type(name).expect("an input");
        // Inputs of other types (the lists a nested pipeline maps over) the engine checks.
        let Some(ct) = ColumnType::find(&ty) else { continue };
        let found = ffi::arrow_type(name, dtype);
        if !found.is_some_and(|found| stores(&found, &(ct.data_type)())) {
            return Err(Error::InputType {
                input: name.into(),
                node: reader_of(pipeline, name).into(),
                expected: ty.name().into(),
                found: format!("Polars {dtype}").into(),
            });
        }
    }
    let outputs = output_fields(pipeline)?;
    if let Some((name, why)) = outputs
        .iter()
        .find_map(|f| form::polars_form(f.data_type()).err().map(|why| (f.name(), why)))
    {
        return Err(Error::Invalid(format!("Output '{name}' is an Arrow {why}")));
    }
    if let Some(taken) = outputs.iter().find(|f| schema.contains(f.name())) {
        return Err(Error::Invalid(format!(
            "Output '{}' is named like a column of the DataFrame; rename the column or the output",
            taken.name()
        )));
    }
    Ok(outputs)
}

/// Whether a column of Arrow type `found` holds what a column of `wanted` holds, so
/// that casting it is a change of layout only: strings in any layout, lists with any
/// offsets, structs with the same field names field by field, nulls as anything; and
/// dates, times, timestamps, durations and decimals of any unit, zone, precision and
/// scale, which the engine reads exactly or refuses naming the row (see
/// [`cast_exact`](crate::engine::columnar::types::cast_exact)).
fn stores(found: &DataType, wanted: &DataType) -> bool {
    use DataType::*;
    match (found, wanted) {
        (Null, _) => true,
        (Date32 | Date64, Date32)
        | (Time32(_) | Time64(_), Time64(_))
        | (Timestamp(..), Timestamp(..))
        | (Duration(_), Duration(_))
        | (Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..), Decimal128(..)) => true,
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        // Bytes, and `[u8; N]` from values of `N` bytes (Polars has no fixed width).
        (Binary | LargeBinary | BinaryView | FixedSizeBinary(_), Binary) => true,
        (Binary | LargeBinary | BinaryView, FixedSizeBinary(_)) => true,
        (FixedSizeList(f, n), FixedSizeList(w, m)) => n == m && stores(f.data_type(), w.data_type()),
        // A map, or one in Polars' form: the list of its entries; entries of any names.
        (Map(f, _), Map(w, _)) => entries_store(f.data_type(), w.data_type()),
        (List(f) | LargeList(f), Map(w, _)) => entries_store(f.data_type(), w.data_type()),
        (List(f) | LargeList(f) | ListView(f) | LargeListView(f), List(w) | LargeList(w)) => {
            stores(f.data_type(), w.data_type())
        }
        (Struct(f), Struct(w)) => {
            f.len() == w.len()
                && f.iter()
                    .zip(w.iter())
                    .all(|(f, w)| f.name() == w.name() && stores(f.data_type(), w.data_type()))
        }
        _ => found == wanted,
    }
}

/// Whether map entries of type `found` (a struct of a key and a value) hold what
/// entries of `wanted` hold, whatever their fields are named.
fn entries_store(found: &DataType, wanted: &DataType) -> bool {
    match (found, wanted) {
        (DataType::Struct(f), DataType::Struct(w)) => {
            f.len() == 2
                && w.len() == 2
                && f.iter()
                    .zip(w.iter())
                    .all(|(f, w)| stores(f.data_type(), w.data_type()))
        }
        _ => false,
    }
}

/// Column `name` as read by the pipeline: a column in Polars' form of a map (a list of
/// key-value structs) as an Arrow map, when a node reads it as one.
fn read_as(pipeline: &Pipeline, name: &str, array: ArrayRef) -> Result<ArrayRef> {
    let wanted = pipeline
        .input_type(name)
        .and_then(|ty| ColumnType::find(&ty))
        .map(|ct| (ct.data_type)());
    match wanted {
        Some(wanted) if form::is_map_form(array.data_type(), &wanted) => {
            form::from_map_form(&array, &wanted).map_err(|why| Error::Invalid(format!("Input '{name}' {why}")))
        }
        _ => Ok(array),
    }
}

/// The arrow-rs field of a column read, named as in Polars, with the type it arrived as.
fn arrow_field(field: &::polars_arrow::datatypes::Field, array: &ArrayRef) -> Field {
    Field::new(field.name.as_str(), array.data_type().clone(), true)
}

/// The schema of the batches read (one schema: they are the chunks of one frame).
fn read_schema(batches: &[RecordBatch]) -> Arc<Schema> {
    batches
        .first()
        .map_or_else(|| Arc::new(Schema::empty()), RecordBatch::schema)
}

/// `chunks` of an output, all of Arrow type `field`'s, as a Polars column named like it.
fn to_column(field: &Field, chunks: &[ArrayRef]) -> Result<Column> {
    let field = polars_field(field)?;
    // The type crosses once, not with every chunk (the engine cuts 8,192-row batches).
    let dtype = ffi::polars_field(&field)?.dtype;
    // Converted on every core (strings become views, see `form`).
    let chunks = chunks
        .par_iter()
        .map(|c| {
            let c = form::to_polars_form(c)
                .map_err(|why| Error::Invalid(format!("Output '{}' is an Arrow {why}", field.name())))?;
            ffi::to_polars(&c, &dtype)
        })
        .collect::<Result<Vec<_>>>()?;
    // Unreachable: the chunks are arrays of one Arrow type Polars reads.
    let series = Series::from_arrow_chunks(field.name().as_str().into(), chunks)
        .map_err(polars("Cannot make a Polars column of an output"))?;
    Ok(series.into_column())
}

/// An output's field with its type in Polars' form ([`form::polars_form`]).
fn polars_field(field: &Field) -> Result<Field> {
    let data_type = form::polars_form(field.data_type())
        .map_err(|why| Error::Invalid(format!("Output '{}' is an Arrow {why}", field.name())))?;
    Ok(field.clone().with_data_type(data_type))
}

/// A Polars error while doing `context`.
fn polars(context: &'static str) -> impl FnOnce(PolarsError) -> Error {
    move |e| Error::Arrow {
        context: context.into(),
        source: Box::new(e),
    }
}

/// An Arrow error while doing `context`.
fn arrow_error(context: &'static str) -> impl FnOnce(arrow::error::ArrowError) -> Error {
    move |e| Error::Arrow {
        context: context.into(),
        source: Box::new(e),
    }
}

/// The crossings between Polars' arrays and arrow-rs', through the Arrow C Data
/// Interface: the only `unsafe` code of this module.
#[allow(unsafe_code)]
mod ffi {
    use ::polars::prelude::{CompatLevel, DataType as PolarsType};
    use ::polars_arrow::array::Array as PolarsArray;
    use std::sync::Arc;

    use ::polars_arrow::datatypes::{ArrowDataType, Field as PolarsField};
    use ::polars_arrow::ffi::{ArrowArray, ArrowSchema};
    use arrow::array::{ArrayRef, NullArray, make_array};
    use arrow::datatypes::{DataType, Field};
    use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};

    use super::{arrow_error, polars};
    use crate::error::Result;

    // The structs of the C Data Interface, as each crate declares them: `#[repr(C)]`,
    // the same fields in the same order, so one is the other's bytes.
    const _: () = assert!(size_of::<ArrowArray>() == size_of::<FFI_ArrowArray>());
    const _: () = assert!(size_of::<ArrowSchema>() == size_of::<FFI_ArrowSchema>());

    /// Moves a Polars schema struct to arrow-rs.
    fn schema_to_arrow(schema: ArrowSchema) -> FFI_ArrowSchema {
        // SAFETY: both types are `#[repr(C)]` declarations of the C Data Interface's
        // `ArrowSchema` (the same fields, types and order; sizes asserted above). The
        // value moves: its `release` callback is called once, by the new owner's `Drop`.
        unsafe { std::mem::transmute::<ArrowSchema, FFI_ArrowSchema>(schema) }
    }

    /// Moves an arrow-rs schema struct to Polars.
    fn schema_to_polars(schema: FFI_ArrowSchema) -> ArrowSchema {
        // SAFETY: as in `schema_to_arrow`, the other way.
        unsafe { std::mem::transmute::<FFI_ArrowSchema, ArrowSchema>(schema) }
    }

    /// A Polars array as an arrow-rs array sharing its buffers.
    pub(super) fn to_arrow(array: Box<dyn PolarsArray>, field: &PolarsField) -> Result<ArrayRef> {
        // Polars exports a null array with a (null) validity buffer, which arrow-rs
        // refuses: the C Data Interface gives the type no buffers. There is nothing to share.
        if field.dtype == ArrowDataType::Null {
            return Ok(Arc::new(NullArray::new(array.len())));
        }
        let schema = schema_to_arrow(::polars_arrow::ffi::export_field_to_c(field));
        let exported = ::polars_arrow::ffi::export_array_to_c(array);
        // SAFETY: both structs were just made by Polars' exporter from an array and its
        // own field, so they are valid C Data Interface structs describing each other;
        // the array's buffers live until the arrow-rs array's last owner calls the
        // exported `release`. The layouts are equal (see `schema_to_arrow`).
        let data = unsafe {
            let exported = std::mem::transmute::<ArrowArray, FFI_ArrowArray>(exported);
            arrow::ffi::from_ffi(exported, &schema)
        };
        // Unreachable: Polars exports only what the C Data Interface describes.
        Ok(make_array(
            data.map_err(arrow_error("Cannot read a Polars column as Arrow"))?,
        ))
    }

    /// An arrow-rs array as a Polars array of type `dtype` (its type, as Polars names
    /// it) sharing its buffers.
    pub(super) fn to_polars(array: &ArrayRef, dtype: &ArrowDataType) -> Result<Box<dyn PolarsArray>> {
        let exported = FFI_ArrowArray::new(&array.to_data());
        // SAFETY: the struct was just made by arrow-rs' exporter from the array, so it is
        // valid; `dtype` is the array's type (the caller's contract, held by the tests);
        // `import_array_from_c` takes the struct and calls its `release` when Polars drops
        // the last use of the buffers. The layouts are equal (see `schema_to_arrow`).
        let imported = unsafe {
            let exported = std::mem::transmute::<FFI_ArrowArray, ArrowArray>(exported);
            ::polars_arrow::ffi::import_array_from_c(exported, dtype.clone())
        };
        // Unreachable: Polars imports every type the engine's outputs have.
        imported.map_err(polars("Cannot import an output into Polars"))
    }

    /// The arrow-rs type of a Polars column of type `dtype`, when arrow-rs reads it.
    pub(super) fn arrow_type(name: &str, dtype: &PolarsType) -> Option<DataType> {
        let field = dtype.to_arrow_field(name.into(), CompatLevel::newest());
        let schema = schema_to_arrow(::polars_arrow::ffi::export_field_to_c(&field));
        Field::try_from(&schema).ok().map(|f| f.data_type().clone())
    }

    /// An arrow-rs field as Polars' Arrow field.
    pub(super) fn polars_field(field: &Field) -> Result<PolarsField> {
        // Unreachable: the engine's output types are plain Arrow types.
        let schema = FFI_ArrowSchema::try_from(field).map_err(arrow_error("Cannot export an output's type"))?;
        let schema = schema_to_polars(schema);
        // SAFETY: the struct was just made by arrow-rs' exporter, so it is a valid C Data
        // Interface schema; it is read, not consumed, and released when dropped.
        let imported = unsafe { ::polars_arrow::ffi::import_field_from_c(&schema) };
        // Unreachable: Polars imports every type the engine's outputs have.
        imported.map_err(polars("Cannot import an output's type into Polars"))
    }

    /// The Polars type of an arrow-rs field.
    pub(super) fn polars_type(field: &Field) -> Result<PolarsType> {
        Ok(PolarsType::from_arrow_field(&polars_field(field)?))
    }
}

#[cfg(test)]
mod tests {
    use ::polars::prelude::NamedFrom;
    use ::polars_arrow::array::{PrimitiveArray, Utf8ViewArray};
    use arrow::array::{AsArray, Int64Array, StringViewArray};
    use arrow::datatypes::Int64Type;

    use super::*;

    /// Polars' chunk of `series` as arrow-rs, through [`ffi::to_arrow`].
    fn exported(series: &Series) -> ArrayRef {
        let field = series.field().to_arrow(CompatLevel::newest());
        ffi::to_arrow(series.chunks()[0].clone(), &field).unwrap()
    }

    #[test]
    fn numbers_cross_both_ways_without_a_copy() {
        let series = Series::new("x".into(), [1_i64, 2, 3]);
        let polars_values = series.i64().unwrap().downcast_iter().next().unwrap().values().as_ptr();
        let array = exported(&series);
        assert_eq!(array.as_primitive::<Int64Type>().values().as_ptr(), polars_values);

        let array: ArrayRef = Arc::new(Int64Array::from(vec![4, 5]));
        let dtype = ffi::polars_field(&Field::new("x", DataType::Int64, true))
            .unwrap()
            .dtype;
        let imported = ffi::to_polars(&array, &dtype).unwrap();
        let imported = imported.as_any().downcast_ref::<PrimitiveArray<i64>>().unwrap();
        assert_eq!(
            imported.values().as_ptr(),
            array.as_primitive::<Int64Type>().values().as_ptr()
        );
        assert_eq!(imported.values().as_slice(), [4, 5]);
    }

    #[test]
    fn string_views_cross_without_a_copy() {
        let series = Series::new("s".into(), ["short", "a string longer than twelve bytes"]);
        let chunk = series.str().unwrap().downcast_iter().next().unwrap();
        let polars_bytes = chunk.data_buffers()[0].as_ptr();
        let array = exported(&series);
        let views: &StringViewArray = array.as_string_view();
        assert_eq!(views.data_buffers()[0].as_ptr(), polars_bytes);
        assert_eq!(views.value(1), "a string longer than twelve bytes");

        let dtype = ffi::polars_field(&Field::new("s", DataType::Utf8View, true))
            .unwrap()
            .dtype;
        let imported = ffi::to_polars(&array, &dtype).unwrap();
        let imported = imported.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        assert_eq!(imported.data_buffers()[0].as_ptr(), polars_bytes);
        assert_eq!(imported.value(0), "short");
    }

    #[test]
    fn layouts_are_not_types() {
        let list = |dt: DataType| DataType::LargeList(Arc::new(Field::new_list_field(dt, true)));
        assert!(stores(
            &list(DataType::Utf8View),
            &<Vec<String> as crate::engine::columnar::Columnar>::data_type()
        ));
        assert!(stores(&DataType::Null, &DataType::Int64));
        assert!(!stores(&DataType::Int32, &DataType::Int64));
        assert!(!stores(&DataType::Utf8View, &DataType::Int64));
        assert!(!stores(&DataType::BinaryView, &DataType::Utf8));
        // Units, zones, precisions and scales the engine converts exactly.
        assert!(stores(&DataType::Decimal128(12, 2), &DataType::Decimal128(38, 18)));
        assert!(stores(
            &DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, None),
            &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()))
        ));
        assert!(!stores(&DataType::Int64, &DataType::Decimal128(38, 18)));
        // Binary of any layout as `Bytes` and `[u8; N]`, arrays of one width, and maps in
        // Polars' form (lists of key-value structs).
        assert!(stores(&DataType::BinaryView, &DataType::Binary));
        assert!(stores(&DataType::BinaryView, &DataType::FixedSizeBinary(16)));
        assert!(!stores(&DataType::Utf8View, &DataType::Binary));
        let f32s = |n| DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), n);
        assert_eq!(f32s(3), <[f32; 3] as crate::engine::columnar::Columnar>::data_type());
        assert!(stores(&f32s(3), &f32s(3)));
        assert!(!stores(&f32s(3), &f32s(4)));
        let entries = |key: DataType| {
            DataType::Struct(
                vec![
                    Field::new("key", key, false),
                    Field::new("value", DataType::Int64, true),
                ]
                .into(),
            )
        };
        let map = <std::collections::BTreeMap<String, i64> as crate::engine::columnar::Columnar>::data_type();
        assert!(stores(&list(entries(DataType::Utf8View)), &map));
        assert!(!stores(&list(entries(DataType::Int64)), &map));
        assert!(!stores(
            &list(DataType::Int64),
            &<Vec<String> as crate::engine::columnar::Columnar>::data_type()
        ));
    }
}
