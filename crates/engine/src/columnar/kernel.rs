//! Per-item functions lifted into loops over Arrow arrays.
//!
//! The `#[node]` macro asks, with concrete types, whether every parameter and output of a
//! function is [`Columnar`]; if so it gets a [`Kernel`]: one monomorphized loop per node
//! that reads typed values straight from the input arrays (`&str` borrowed, no copy),
//! calls the function inline, and appends to typed builders. Rows where a non-`Option`
//! parameter is null, or holds a null where its type has none (an element of a
//! `Vec<i64>`), are not passed to the function and yield null.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use arrow::array::{Array, ArrayRef, ListArray};
use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::ColumnarValue;

use super::dictionary;
use super::types::{Columnar, Input, ViewArray};
use crate::error::BoxError;
use crate::node_engine::panic_message;

/// The arguments of one kernel call: one array per parameter, each either `rows` long or
/// one row long (a constant, used for every row).
#[derive(Clone, Copy, Debug)]
pub struct KernelArgs<'a> {
    /// The argument arrays, in parameter order.
    pub args: &'a [ArrayRef],
    /// The number of rows.
    pub rows: usize,
}

/// Why a kernel call failed, and on which row.
#[derive(Debug)]
pub struct RowError {
    /// The row (within the call's arrays) that failed; `None` when the whole call
    /// failed (a batch implementation, or arguments that cannot be read).
    pub row: Option<usize>,
    /// What happened.
    pub kind: RowErrorKind,
}

/// What made a call fail.
#[derive(Debug)]
pub enum RowErrorKind {
    /// The function returned an error.
    Failed(BoxError),
    /// The function panicked, with this message.
    Panicked(String),
    /// An argument array had another Arrow type than the parameter's.
    WrongType {
        /// The parameter position.
        param: usize,
        /// The Arrow type expected.
        expected: DataType,
        /// The Arrow type found.
        found: DataType,
    },
}

impl RowError {
    /// The error of `node`'s failure, naming `item` (the failing row's item in a map).
    #[doc(hidden)]
    pub fn into_error(self, node: &crate::Node, item: Option<usize>) -> crate::Error {
        let name = node.name().into();
        match self.kind {
            RowErrorKind::Failed(source) => crate::Error::NodeFailed {
                node: name,
                item,
                source,
            },
            RowErrorKind::Panicked(message) => crate::Error::NodePanicked {
                node: name,
                item,
                message: message.into(),
            },
            // Unreachable: inside the engine the arguments are columns of the parameters'
            // own Arrow types; registered for users, the UDF's signature makes DataFusion
            // cast to them or refuse the call when planning.
            RowErrorKind::WrongType { param, expected, found } => crate::Error::Internal(format!(
                "node '{}': argument {param} is {found}, expected {expected}",
                node.name()
            )),
        }
    }
}

type KernelFn = dyn Fn(&KernelArgs<'_>) -> Result<Vec<ArrayRef>, RowError> + Send + Sync;
type BatchFn = dyn Fn(BatchArgs<'_>) -> Result<Vec<ArrayRef>, BoxError> + Send + Sync;

/// The arguments of a user-written batch implementation (`#[node(batch = f)]`): mapped
/// arguments as arrays, constants as scalars, in parameter order.
///
/// Every parameter of such a node must be columnar, since each arrives in Arrow; a
/// parameter of another type (a model, a client) is a compile error at that parameter,
/// "`Model` is not a columnar type (one that maps to Arrow)":
///
/// ```compile_fail,E0277
/// use arrow::array::ArrayRef;
/// use hypernodes::engine::columnar::BatchArgs;
/// use hypernodes::prelude::*;
///
/// struct Model { weight: i64 }
///
/// #[node(output = "score", batch = score_batch)]
/// fn score(model: &Model, x: i64) -> i64 { model.weight * x }
///
/// fn score_batch(args: BatchArgs<'_>) -> Result<Vec<ArrayRef>, hypernodes::BoxError> {
///     Err(format!("{} arguments", args.args.len()).into())
/// }
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct BatchArgs<'a> {
    /// The arguments.
    pub args: &'a [ColumnarValue],
    /// The number of rows; every returned array must have this many.
    pub number_rows: usize,
}

/// A node's function over arrays: the per-item function lifted into a loop, or a
/// batch implementation written by the user.
pub struct Kernel {
    outputs: Vec<DataType>,
    imp: Imp,
}

enum Imp {
    Lifted(Box<KernelFn>),
    Batch(Box<BatchFn>),
}

impl Kernel {
    /// The Arrow type of each output.
    pub fn output_types(&self) -> &[DataType] {
        &self.outputs
    }

    /// Runs the function over every row; constants are one-row arrays.
    ///
    /// # Errors
    ///
    /// The first row whose call fails or panics, or an argument of the wrong Arrow type.
    pub fn call(&self, args: &KernelArgs<'_>) -> Result<Vec<ArrayRef>, RowError> {
        let constant: Vec<bool> = args.args.iter().map(|a| a.len() != args.rows).collect();
        self.call_with_constants(args.args, &constant, args.rows)
    }

    /// [`Kernel::call`] where `constant[k]` says whether argument `k` (then a one-row
    /// array) is the same for every row: a batch implementation receives it as a scalar,
    /// even when there is one row. A dictionary-encoded argument is unpacked first, and so
    /// is one in a view layout (`Utf8View`) for a batch implementation (a lifted function
    /// reads it in place).
    pub(super) fn call_with_constants(
        &self,
        args: &[ArrayRef],
        constant: &[bool],
        rows: usize,
    ) -> Result<Vec<ArrayRef>, RowError> {
        let unpacked = |a: &ArrayRef| match (&self.imp, ViewArray::of(a.as_ref())) {
            (Imp::Lifted(_), Some(_)) => false,
            _ => dictionary::is_packed(a.as_ref()),
        };
        if !args.iter().any(unpacked) {
            return self.call_arrays(args, constant, rows);
        }
        let args = args
            .iter()
            .map(|a| match unpacked(a) {
                true => dictionary::unpack(a),
                false => Ok(a.clone()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| batch_error(format!("cannot unpack a dictionary-encoded argument: {e}").into()))?;
        self.call_arrays(&args, constant, rows)
    }

    /// [`Kernel::call_with_constants`] for a function whose equal arguments give equal
    /// results (an [`Immutable`](crate::Volatility::Immutable) node): where the only
    /// argument that is not a constant is dictionary-encoded, the function runs once per
    /// dictionary value and the results are gathered by key (see
    /// [`dictionary::over_values`]); a failure names its row as over the rows.
    pub(super) fn call_by_value(
        &self,
        args: &[ArrayRef],
        constant: &[bool],
        rows: usize,
    ) -> Result<Vec<ArrayRef>, RowError> {
        match dictionary::over_values(args, constant, rows, |a, n| self.call_arrays(a, constant, n)) {
            Some(out) => Ok(out),
            None => self.call_with_constants(args, constant, rows),
        }
    }

    /// [`Kernel::call_with_constants`] over arrays of the parameters' own types.
    fn call_arrays(&self, args: &[ArrayRef], constant: &[bool], rows: usize) -> Result<Vec<ArrayRef>, RowError> {
        match &self.imp {
            Imp::Lifted(f) => f(&KernelArgs { args, rows }),
            Imp::Batch(_) => {
                let values: Vec<ColumnarValue> = args
                    .iter()
                    .zip(constant)
                    .map(|(a, &c)| {
                        if c {
                            ScalarValue::try_from_array(a.as_ref(), 0).map(ColumnarValue::Scalar)
                        } else {
                            Ok(ColumnarValue::Array(a.clone()))
                        }
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| batch_error(e.into()))?;
                self.invoke(&values, rows)
            }
        }
    }

    /// Runs the function over `rows` rows of DataFusion arguments (scalars for constants).
    ///
    /// # Errors
    ///
    /// As [`Kernel::call`]; a batch implementation's error or wrong row count fails the
    /// whole batch.
    pub fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<Vec<ArrayRef>, RowError> {
        match &self.imp {
            Imp::Lifted(_) => {
                let arrays: Vec<ArrayRef> = args
                    .iter()
                    .map(|a| a.clone().into_array(1))
                    .collect::<Result<_, _>>()
                    .map_err(|e| batch_error(e.into()))?;
                self.call(&KernelArgs { args: &arrays, rows })
            }
            Imp::Batch(f) => {
                let run = catch_unwind(AssertUnwindSafe(|| {
                    f(BatchArgs {
                        args,
                        number_rows: rows,
                    })
                }));
                let out = match run {
                    Ok(out) => out.map_err(batch_error)?,
                    Err(panic) => {
                        return Err(RowError {
                            row: None,
                            kind: RowErrorKind::Panicked(panic_message(panic)),
                        });
                    }
                };
                if out.len() != self.outputs.len() {
                    return Err(batch_error(
                        format!(
                            "batch implementation returned {} array(s) for {} output(s)",
                            out.len(),
                            self.outputs.len()
                        )
                        .into(),
                    ));
                }
                for (a, t) in out.iter().zip(&self.outputs) {
                    if a.len() != rows || a.data_type() != t {
                        return Err(batch_error(
                            format!(
                                "batch implementation returned {} rows of {} where {rows} rows of {t} were expected",
                                a.len(),
                                a.data_type()
                            )
                            .into(),
                        ));
                    }
                }
                Ok(out)
            }
        }
    }

    /// Whether the kernel is a batch implementation written by the user (the node is a
    /// "dual node", `#[node(batch = ...)]`) rather than the per-item function lifted
    /// into a loop.
    pub fn is_batch(&self) -> bool {
        matches!(self.imp, Imp::Batch(_))
    }

    /// The kernel of a node, when it has one.
    pub fn find(node: &crate::Node) -> Option<&Kernel> {
        node.extension().and_then(|e| e.downcast_ref::<Kernel>())
    }
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernel(-> {:?})", self.outputs)
    }
}

/// How a parameter is read from its array.
#[doc(hidden)]
pub trait Param: 'static {
    /// The columnar type stored in the array.
    type Stored: Columnar;
    /// What the function receives.
    type Arg<'a>;
    /// The argument at row `i`.
    fn get(array: &<Self::Stored as Columnar>::Array, i: usize) -> Self::Arg<'_>;
    /// Every row's argument, in order.
    fn iter(array: &<Self::Stored as Columnar>::Array) -> impl Iterator<Item = Self::Arg<'_>>;
    /// The argument at row `i` of a column in the stored type's view layout (see
    /// [`Columnar::view_type`]), read in place; `None` where the stored type has none.
    fn get_view(array: ViewArray<'_>, i: usize) -> Option<Self::Arg<'_>>;
}

/// A `&str` parameter, borrowed from a string array.
#[doc(hidden)]
pub struct Str;

impl Param for Str {
    type Stored = String;
    type Arg<'a> = &'a str;

    #[inline]
    fn get(array: &<String as Columnar>::Array, i: usize) -> &str {
        array.value(i)
    }
    #[inline]
    fn iter(array: &<String as Columnar>::Array) -> impl Iterator<Item = &str> {
        (0..array.len()).map(move |i| array.value(i))
    }
    #[inline]
    fn get_view(array: ViewArray<'_>, i: usize) -> Option<&str> {
        match array {
            ViewArray::Utf8(a) => Some(a.value(i)),
            ViewArray::Binary(_) => None,
        }
    }
}

/// A parameter read as an owned value.
#[doc(hidden)]
pub struct Own<T>(PhantomData<fn() -> T>);

impl<T: Columnar> Param for Own<T> {
    type Stored = T;
    type Arg<'a> = T;

    #[inline]
    fn get(array: &T::Array, i: usize) -> T {
        T::value(array, i)
    }
    #[inline]
    fn iter(array: &T::Array) -> impl Iterator<Item = T> {
        T::iter(array)
    }
    #[inline]
    fn get_view(array: ViewArray<'_>, i: usize) -> Option<T> {
        T::view_value(array, i)
    }
}

/// A `&[T]` parameter: the row's list, borrowed from the list array's values where they
/// are stored as they are (primitives), else collected.
#[doc(hidden)]
pub struct Slice<T>(PhantomData<fn() -> T>);

impl<T: Columnar + Clone> Param for Slice<T> {
    type Stored = Vec<T>;
    type Arg<'a> = Cow<'a, [T]>;

    #[inline]
    fn get(array: &ListArray, i: usize) -> Cow<'_, [T]> {
        let offsets = array.value_offsets();
        let rows = offsets[i] as usize..offsets[i + 1] as usize;
        match T::downcast(array.values().as_ref()) {
            Some(child) => T::slice(child, rows),
            None => Cow::Owned(Vec::new()),
        }
    }
    #[inline]
    fn iter(array: &ListArray) -> impl Iterator<Item = Cow<'_, [T]>> {
        // The child is found once, not per row.
        let child = T::downcast(array.values().as_ref());
        array.value_offsets().windows(2).map(move |w| match child {
            Some(child) => T::slice(child, w[0] as usize..w[1] as usize),
            None => Cow::Owned(Vec::new()),
        })
    }
    /// Lists have no view layout read in place.
    fn get_view(_: ViewArray<'_>, _: usize) -> Option<Cow<'_, [T]>> {
        None
    }
}

/// The outputs of a function: one value ([`One`]) or a tuple ([`Many`]).
#[doc(hidden)]
pub trait Outs: 'static {
    /// What the function returns.
    type Value;
    /// The builders.
    type Builders;
    /// Arrow types, in output order.
    fn data_types() -> Vec<DataType>;
    /// Empty builders for `capacity` rows made from arguments of `bytes` bytes of data.
    fn builders(capacity: usize, bytes: usize) -> Self::Builders;
    /// Appends one row.
    fn append(b: &mut Self::Builders, v: &Self::Value);
    /// Appends a null row to every output.
    fn append_null(b: &mut Self::Builders);
    /// The arrays.
    fn finish(b: Self::Builders) -> Vec<ArrayRef>;
    /// The rows appended so far.
    fn len(b: &Self::Builders) -> usize;
    /// Appends the values of `values` up to the first error, returned with its row
    /// (see [`Columnar::fill`]).
    #[inline]
    fn fill(
        b: &mut Self::Builders,
        values: impl Iterator<Item = Result<Self::Value, BoxError>>,
    ) -> Result<(), (usize, BoxError)> {
        for (row, v) in values.enumerate() {
            match v {
                Ok(v) => Self::append(b, &v),
                Err(e) => return Err((row, e)),
            }
        }
        Ok(())
    }
}

/// A single output.
#[doc(hidden)]
pub struct One<R>(PhantomData<fn() -> R>);

impl<R: Columnar> Outs for One<R> {
    type Value = R;
    type Builders = R::Builder;

    fn data_types() -> Vec<DataType> {
        vec![R::data_type()]
    }
    fn builders(capacity: usize, bytes: usize) -> Self::Builders {
        R::builder_for(capacity, bytes)
    }
    #[inline]
    fn append(b: &mut Self::Builders, v: &R) {
        R::append(b, v)
    }
    fn append_null(b: &mut Self::Builders) {
        R::append_null(b)
    }
    fn finish(b: Self::Builders) -> Vec<ArrayRef> {
        vec![R::finish(b)]
    }
    fn len(b: &Self::Builders) -> usize {
        R::builder_len(b)
    }
    #[inline]
    fn fill(
        b: &mut Self::Builders,
        values: impl Iterator<Item = Result<R, BoxError>>,
    ) -> Result<(), (usize, BoxError)> {
        R::fill(b, values)
    }
}

/// Several outputs from a tuple.
#[doc(hidden)]
pub struct Many<T>(PhantomData<fn() -> T>);

macro_rules! many {
    ($($t:ident $i:tt),*) => {
        impl<$($t: Columnar),*> Outs for Many<($($t,)*)> {
            type Value = ($($t,)*);
            type Builders = ($($t::Builder,)*);

            fn data_types() -> Vec<DataType> {
                vec![$($t::data_type()),*]
            }
            fn builders(capacity: usize, bytes: usize) -> Self::Builders {
                ($($t::builder_for(capacity, bytes),)*)
            }
            #[inline]
            fn append(b: &mut Self::Builders, v: &Self::Value) {
                $($t::append(&mut b.$i, &v.$i);)*
            }
            fn append_null(b: &mut Self::Builders) {
                $($t::append_null(&mut b.$i);)*
            }
            fn finish(b: Self::Builders) -> Vec<ArrayRef> {
                vec![$($t::finish(b.$i)),*]
            }
            fn len(b: &Self::Builders) -> usize {
                A::builder_len(&b.0)
            }
        }
    };
}
many!(A 0, B 1);
many!(A 0, B 1, C 2);
many!(A 0, B 1, C 2, D 3);
many!(A 0, B 1, C 2, D 3, E 4);

/// Picks, at compile time, a [`Kernel`] for a function whose parameters (`P`, a tuple of
/// [`Param`]s) and outputs (`O`) are all columnar, and none otherwise (autoref
/// specialization; the `#[node]` macro writes `(&&KernelProbe::<..>::new(f)).kernel()`).
#[doc(hidden)]
pub struct KernelProbe<P, O, F>(F, PhantomData<fn() -> (P, O)>);

impl<P, O, F> KernelProbe<P, O, F> {
    /// A probe for the glue function `f`.
    pub fn new(f: F) -> Self {
        KernelProbe(f, PhantomData)
    }
}

/// The columnar case of [`KernelProbe`].
#[doc(hidden)]
pub trait ViaKernel {
    /// The kernel.
    fn kernel(self) -> Option<Box<dyn Any + Send + Sync>>;
}

/// The fallback case of [`KernelProbe`].
#[doc(hidden)]
pub trait ViaNoKernel {
    /// No kernel.
    fn kernel(self) -> Option<Box<dyn Any + Send + Sync>>;
}

impl<P, O, F> ViaNoKernel for &KernelProbe<P, O, F> {
    fn kernel(self) -> Option<Box<dyn Any + Send + Sync>> {
        None
    }
}

fn batch_error(e: BoxError) -> RowError {
    RowError {
        row: None,
        kind: RowErrorKind::Failed(e),
    }
}

/// Compiles only for a columnar `T`: the `#[node]` macro calls it for each parameter of a
/// node with a batch implementation, spanned at the parameter's type.
#[doc(hidden)]
pub fn batch_param<T: Columnar>() {}

/// The kernel of a node with a batch implementation written by the user.
#[doc(hidden)]
pub fn batch_kernel<F>(outputs: Vec<DataType>, f: F) -> Option<Box<dyn Any + Send + Sync>>
where
    F: Fn(BatchArgs<'_>) -> Result<Vec<ArrayRef>, BoxError> + Send + Sync + 'static,
{
    Some(Box::new(Kernel {
        outputs,
        imp: Imp::Batch(Box::new(f)),
    }))
}

fn wrong_length(param: usize, found: usize, rows: usize) -> RowError {
    batch_error(format!("argument {param} has {found} rows where {rows} (or 1, a constant) were expected").into())
}

fn wrong_type<T: Columnar>(param: usize, array: &ArrayRef) -> RowError {
    RowError {
        row: None,
        kind: RowErrorKind::WrongType {
            param,
            expected: T::data_type(),
            found: array.data_type().clone(),
        },
    }
}

/// The argument iterators zipped into one (rows of nothing without arguments).
macro_rules! zip_args {
    ($rows:expr;) => { (0..$rows).map(|_| ()) };
    ($rows:expr; $a:expr) => { $a };
    ($rows:expr; $a:expr, $($rest:expr),+) => { $a.zip(zip_args!($rows; $($rest),+)) };
}

/// The pattern of one item of [`zip_args`], binding each argument.
macro_rules! zip_pattern {
    () => { () };
    ($a:ident) => { $a };
    ($a:ident, $($rest:ident),+) => { ($a, zip_pattern!($($rest),+)) };
}

/// The outputs of a kernel's loop, or the error of its failing or panicking row.
fn finish<O: Outs>(
    run: std::thread::Result<Result<(), (usize, BoxError)>>,
    out: O::Builders,
) -> Result<Vec<ArrayRef>, RowError> {
    match run {
        Ok(Ok(())) => Ok(O::finish(out)),
        Ok(Err((row, e))) => Err(RowError {
            row: Some(row),
            kind: RowErrorKind::Failed(e),
        }),
        // The rows before the panicking one were appended.
        Err(panic) => Err(RowError {
            row: Some(O::len(&out)),
            kind: RowErrorKind::Panicked(panic_message(panic)),
        }),
    }
}

/// A kernel's loop where an argument is a column in a view layout (`Utf8View`,
/// `BinaryView`): row by row, a parameter whose type reads that layout reading it in place
/// (see [`Input`]), any other argument in a view layout converted first. A loop of its
/// own, so that the loop over plain arrays stays as it is.
macro_rules! over_views {
    ($f:ident, $o:ident, $args:ident, $rows:ident; $($p:ident $a:ident $m:ident $i:tt),*) => {{
        let readable: Vec<ArrayRef> = vec![$(readable(&$args.args[$i], <$p::Stored as Columnar>::view_type())?),*];
        $(
            let $a = Input::of::<$p::Stored>(readable[$i].as_ref())
                .ok_or_else(|| wrong_type::<$p::Stored>($i, &readable[$i]))?;
            let $m = match $a.len() {
                n if n == $rows => usize::MAX,
                1 => 0,
                n => return Err(wrong_length($i, n, $rows)),
            };
        )*
        // String outputs are sized like the largest string argument, as in the plain loop.
        let bytes = 0 $(.max(super::types::data_bytes($args.args[$i].as_ref())))*;
        let mut out = $o::builders($rows, bytes);
        let run = catch_unwind(AssertUnwindSafe(|| {
            for row in 0..$rows {
                if false $(|| !$a.holds::<$p::Stored>(row & $m))* {
                    $o::append_null(&mut out);
                    continue;
                }
                $(
                    let read = match $a {
                        Input::Plain(a) => Some($p::get(a, row & $m)),
                        Input::View(v) => $p::get_view(v, row & $m),
                    };
                    // Unreachable: a view is read only by a type of its layout.
                    let Some($a) = read else {
                        return Err((row, format!("argument {} cannot be read from its view layout", $i).into()));
                    };
                )*
                match $f($($a),*) {
                    Ok(v) => $o::append(&mut out, &v),
                    Err(e) => return Err((row, e)),
                }
            }
            Ok(())
        }));
        finish::<$o>(run, out)
    }};
}

/// `array` as a parameter reads it: as it is, but for a column in a view layout other
/// than `view` (the parameter type's), converted to its plain layout.
fn readable(array: &ArrayRef, view: Option<DataType>) -> Result<ArrayRef, RowError> {
    match super::types::plain_type(array.data_type()) {
        Some(plain) if view.as_ref() != Some(array.data_type()) => arrow::compute::cast(array, &plain)
            .map_err(|e| batch_error(format!("cannot convert a {} argument: {e}", array.data_type()).into())),
        _ => Ok(array.clone()),
    }
}

macro_rules! kernel_arity {
    ($($p:ident $a:ident $m:ident $i:tt),*) => {
        impl<$($p: Param,)* O: Outs, F> ViaKernel for &&KernelProbe<($($p,)*), O, F>
        where
            F: Fn($($p::Arg<'_>),*) -> Result<O::Value, BoxError> + Clone + Send + Sync + 'static,
        {
            #[allow(unused_variables, unused_mut, clippy::unused_unit)]
            fn kernel(self) -> Option<Box<dyn Any + Send + Sync>> {
                let f = self.0.clone();
                let call = move |args: &KernelArgs<'_>| -> Result<Vec<ArrayRef>, RowError> {
                    let rows = args.rows;
                    if args.args.iter().any(|a| ViewArray::of(a.as_ref()).is_some()) {
                        return over_views!(f, O, args, rows; $($p $a $m $i),*);
                    }
                    $(
                        let $a = <$p::Stored as Columnar>::downcast(args.args[$i].as_ref())
                            .ok_or_else(|| wrong_type::<$p::Stored>($i, &args.args[$i]))?;
                        // A one-row argument is a constant: every row reads row 0.
                        let $m = match $a.len() {
                            n if n == rows => usize::MAX,
                            1 => 0,
                            n => return Err(wrong_length($i, n, rows)),
                        };
                    )*
                    // Rows that hold a null where a parameter's type has none are skipped.
                    let any_nulls = false $(|| !<$p::Stored as Columnar>::all_hold($a))*;
                    let all_rows = true $(&& $m == usize::MAX)*;
                    // String outputs are sized like the largest string argument.
                    let bytes = 0 $(.max(super::types::data_bytes(args.args[$i].as_ref())))*;
                    let mut out = O::builders(rows, bytes);
                    let run = catch_unwind(AssertUnwindSafe(|| {
                        if any_nulls {
                            for row in 0..rows {
                                if false $(|| !<$p::Stored as Columnar>::holds($a, row & $m))* {
                                    O::append_null(&mut out);
                                    continue;
                                }
                                match f($($p::get($a, row & $m)),*) {
                                    Ok(v) => O::append(&mut out, &v),
                                    Err(e) => return Err((row, e)),
                                }
                            }
                            Ok(())
                        } else if all_rows {
                            // Every argument has `rows` rows: the arrays' own iterators,
                            // zipped, in a loop the compiler can vectorize.
                            let zipped = zip_args!(rows; $(<$p as Param>::iter($a)),*);
                            O::fill(&mut out, zipped.map(|zip_pattern!($($a),*)| f($($a),*)))
                        } else {
                            O::fill(&mut out, (0..rows).map(|row| f($($p::get($a, row & $m)),*)))
                        }
                    }));
                    finish::<O>(run, out)
                };
                Some(Box::new(Kernel { outputs: O::data_types(), imp: Imp::Lifted(Box::new(call)) }))
            }
        }
    };
}

kernel_arity!();
kernel_arity!(P0 a0 m0 0);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1, P2 a2 m2 2);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1, P2 a2 m2 2, P3 a3 m3 3);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1, P2 a2 m2 2, P3 a3 m3 3, P4 a4 m4 4);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1, P2 a2 m2 2, P3 a3 m3 3, P4 a4 m4 4, P5 a5 m5 5);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1, P2 a2 m2 2, P3 a3 m3 3, P4 a4 m4 4, P5 a5 m5 5, P6 a6 m6 6);
kernel_arity!(P0 a0 m0 0, P1 a1 m1 1, P2 a2 m2 2, P3 a3 m3 3, P4 a4 m4 4, P5 a5 m5 5, P6 a6 m6 6, P7 a7 m7 7);

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;
