//! The one error type of the crate, [`Error`], and its [`Result`] alias.

use std::fmt;

mod code;

/// A boxed error from user code (a failing node, a resource that could not be built).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every fallible hypernodes operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when building or running a pipeline.
///
/// Messages name the node, the input or output, the item index where there is one,
/// and what was expected, so that the message alone is enough to find the mistake.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "y")]
/// fn one(x: i64) -> i64 { x }
/// #[node(output = "y")]
/// fn two(x: i64) -> i64 { x + 1 }
///
/// let err = Pipeline::try_new([one::node(), two::node()]).unwrap_err();
/// assert_eq!(err.to_string(), "Multiple nodes produce output 'y': one and two");
/// assert!(matches!(err, hypernodes::Error::DuplicateOutput { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two nodes declare the same output name.
    #[error("Multiple nodes produce output '{output}': {first} and {second}")]
    DuplicateOutput {
        /// The output name.
        output: Box<str>,
        /// The first node producing it.
        first: Box<str>,
        /// The second node producing it.
        second: Box<str>,
    },

    /// The nodes' dependencies form a cycle (a node consuming its own output included).
    #[error("Cycle detected in pipeline: {}", .path.join(" -> "))]
    Cycle {
        /// The node names along the cycle, the first repeated at the end.
        path: Vec<String>,
    },

    /// A producer's output type differs from a consumer's parameter type.
    #[error(
        "Type mismatch for '{value}': node '{producer}' produces {producer_type} \
         but node '{consumer}' expects {consumer_type}"
    )]
    TypeMismatch {
        /// The value name that connects the two nodes.
        value: Box<str>,
        /// The producing node.
        producer: Box<str>,
        /// The type it produces.
        producer_type: Box<str>,
        /// The consuming node.
        consumer: Box<str>,
        /// The type it expects.
        consumer_type: Box<str>,
    },

    /// Two nodes read the same pipeline input as different types.
    #[error(
        "Input '{input}' is read as {first_type} by node '{first}' \
         but as {second_type} by node '{second}'"
    )]
    InputTypeConflict {
        /// The input name.
        input: Box<str>,
        /// The first node reading it.
        first: Box<str>,
        /// The type the first node expects.
        first_type: Box<str>,
        /// The second node reading it.
        second: Box<str>,
        /// The type the second node expects.
        second_type: Box<str>,
    },

    /// A value given for an input has a different type from the one its node expects.
    #[error("Input '{input}' has type {found} but node '{node}' expects {expected}")]
    InputType {
        /// The input name.
        input: Box<str>,
        /// A node reading the input.
        node: Box<str>,
        /// The type the node expects.
        expected: Box<str>,
        /// The type of the value given.
        found: Box<str>,
    },

    /// Inputs needed by the nodes to run were not given (nor bound).
    #[error("Missing required input(s): {}. Required inputs: {}", list(.missing), list(.required))]
    MissingInputs {
        /// The inputs missing, sorted.
        missing: Vec<String>,
        /// All inputs the run requires, sorted.
        required: Vec<String>,
    },

    /// Output names asked for do not exist.
    #[error(
        "Output name(s) {} not found in pipeline. Available outputs: {}{}",
        list(.unknown), list(.available), did_you_mean(.suggestion)
    )]
    UnknownOutputs {
        /// The names asked for that do not exist.
        unknown: Vec<String>,
        /// The outputs that exist, sorted.
        available: Vec<String>,
        /// The closest existing name to the first unknown one, if any is close.
        suggestion: Option<Box<str>>,
    },

    /// A result was read back as a different type from the one produced.
    #[error("Output '{output}' has type {found}, not the requested {expected}")]
    OutputType {
        /// The output name.
        output: Box<str>,
        /// The type asked for.
        expected: Box<str>,
        /// The type the value has.
        found: Box<str>,
    },

    /// A map mode name that is neither `zip` nor `product`.
    #[error("Unknown map mode '{mode}'. Valid modes: zip, product")]
    UnknownMapMode {
        /// The name given.
        mode: Box<str>,
    },

    /// `map` or `map_over` was given no names to map over.
    #[error("map_over is empty: name at least one input to map over")]
    EmptyMapOver,

    /// A `map_over` name is not an input.
    #[error("map_over name '{name}' is not an input. Inputs: {}{}", list(.inputs), did_you_mean(.suggestion))]
    MapOverNotInput {
        /// The name given.
        name: Box<str>,
        /// The valid names, sorted.
        inputs: Vec<String>,
        /// The closest valid name, if any is close.
        suggestion: Option<Box<str>>,
    },

    /// A mapped input's value is not a list of the element type its nodes expect.
    #[error("Mapped input '{input}' must be a list of {expected} (Vec<{expected}>), found {found}")]
    NotAList {
        /// The input name.
        input: Box<str>,
        /// The element type expected.
        expected: Box<str>,
        /// The type of the value given.
        found: Box<str>,
    },

    /// Lists mapped in zip mode have different lengths.
    #[error("map_over lists must have equal lengths in zip mode: {}", zip_lengths(.lengths))]
    ZipLengthMismatch {
        /// Each mapped input with its length, in `map_over` order.
        lengths: Vec<(String, usize)>,
    },

    /// A node (or the nested pipeline behind it) returned an error.
    #[error("Node '{node}' failed{}: {source}", on_item(.item))]
    NodeFailed {
        /// The node name.
        node: Box<str>,
        /// The item index, when the node ran inside a map.
        item: Option<usize>,
        /// The error the node returned.
        #[source]
        source: BoxError,
    },

    /// A node panicked.
    #[error("Node '{node}' panicked{}: {message}", on_item(.item))]
    NodePanicked {
        /// The node name.
        node: Box<str>,
        /// The item index, when the node ran inside a map.
        item: Option<usize>,
        /// The panic message.
        message: Box<str>,
    },

    /// A node did not return within its timeout. An `async fn` node is cancelled; a
    /// sync node's thread cannot be stopped from outside, so it runs on until the function
    /// returns, and its result is dropped.
    #[error("Node '{node}' timed out{} after {}", on_item(.item), humantime::format_duration(*.after))]
    Timeout {
        /// The node name.
        node: Box<str>,
        /// The item index, when the node ran inside a map.
        item: Option<usize>,
        /// The timeout.
        after: std::time::Duration,
    },

    /// An executor name that is not one of the executors.
    #[error("Unknown executor '{name}'. Valid executors: sequential, threaded[:N], async[:N], parallel[:N]")]
    UnknownExecutor {
        /// The name given.
        name: Box<str>,
    },

    /// A lazily built resource failed to build.
    #[error("Resource '{input}' could not be built: {source}")]
    ResourceFailed {
        /// The input name the resource was given as.
        input: Box<str>,
        /// The error its constructor returned.
        #[source]
        source: BoxError,
    },

    /// A pipeline file is malformed; the message names the node and says what is wrong.
    #[error("{file}:{line}: {message}")]
    Spec {
        /// The pipeline file.
        file: Box<str>,
        /// The line (1-based) of the mistake, or of the node it is in.
        line: usize,
        /// What is wrong.
        message: Box<str>,
    },

    /// A file or directory could not be read or written.
    #[error("Cannot {action} '{path}': {source}")]
    Io {
        /// What was being done (`read`, `write`, `create`, ...).
        action: &'static str,
        /// The path.
        path: Box<str>,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A data file cannot be used as it is (not Parquet, truncated, a column missing or
    /// of the wrong type); the message says how.
    #[error("{path}: {message}")]
    Data {
        /// The file.
        path: Box<str>,
        /// What is wrong with it.
        message: Box<str>,
    },

    /// A cache directory cannot be used: it is not a directory, its store is not a
    /// hypernodes cache (or is corrupt), the store is full, or a cache entry fails its
    /// check. The message names the directory and says what is wrong.
    #[error("Cache directory '{}': {message}", .path.display())]
    Cache {
        /// The cache directory.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },

    /// Apache Arrow, DataFusion or Polars could not do what was asked: a column outgrew
    /// what one Arrow array can hold (more than 2 GiB of strings), a `DataFrame` given to
    /// `ColumnarEngine::apply_to_dataframe` lacks a column, a Polars `LazyFrame`'s plan
    /// does not resolve, or a plan failed in a way no single node explains. `context`
    /// says what was being done; the source is the `DataFusionError`, `ArrowError` or
    /// `PolarsError`.
    #[error("{context}: {source}")]
    Arrow {
        /// What was being done.
        context: Box<str>,
        /// The error Arrow or DataFusion returned.
        #[source]
        source: BoxError,
    },

    /// A node, mapping or binding is malformed; the message says how.
    #[error("{0}")]
    Invalid(String),

    /// The pipeline cannot become what was asked of it: one DataFusion plan
    /// (`ColumnarEngine::apply_to_dataframe`) or a job on a cluster. Every node or input
    /// in the way is named, with why; found before anything runs.
    #[error("The pipeline cannot run {target}: {}", .reasons.join("; "))]
    Unfit {
        /// What was asked: `as one DataFusion plan`, `on a cluster`.
        target: Box<str>,
        /// One entry per node or input in the way, naming it and saying why.
        reasons: Vec<String>,
    },

    /// Several problems found at once while validating.
    #[error("{} problems found:{}", .0.len(), bullets(.0))]
    Multiple(Vec<Error>),

    /// A bug in hypernodes: a state its own checks should have prevented. No input, node
    /// or engine of a user's can cause it: every place that makes one says why it cannot
    /// be reached, and a test holds each place to that.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

impl Error {
    /// Combines validation errors: none is `Ok`, one is itself, more become [`Error::Multiple`].
    #[doc(hidden)]
    pub fn combine(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.pop().expect("one error")),
            _ => Err(Error::Multiple(errors)),
        }
    }

    /// The item a node's failure or panic names.
    #[doc(hidden)]
    pub fn item(&self) -> Option<usize> {
        match self {
            Error::NodeFailed { item, .. } | Error::NodePanicked { item, .. } | Error::Timeout { item, .. } => *item,
            _ => None,
        }
    }

    /// The node a node's failure, panic or timeout names.
    #[doc(hidden)]
    pub fn node(&self) -> Option<&str> {
        match self {
            Error::NodeFailed { node, .. } | Error::NodePanicked { node, .. } | Error::Timeout { node, .. } => {
                Some(node)
            }
            _ => None,
        }
    }

    /// A node's failure or panic on an item, naming item `f(item)` instead (an error
    /// naming no item is returned as it is).
    #[doc(hidden)]
    pub fn map_item(self, f: impl FnOnce(usize) -> Option<usize>) -> Error {
        match self {
            Error::NodeFailed {
                node,
                item: Some(i),
                source,
            } => Error::NodeFailed {
                node,
                item: f(i),
                source,
            },
            Error::NodePanicked {
                node,
                item: Some(i),
                message,
            } => Error::NodePanicked {
                node,
                item: f(i),
                message,
            },
            Error::Timeout {
                node,
                item: Some(i),
                after,
            } => Error::Timeout {
                node,
                item: f(i),
                after,
            },
            other => other,
        }
    }
}

/// Formats names as `['a', 'b']`, the way upstream HyperNodes prints them.
fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn did_you_mean(suggestion: &Option<Box<str>>) -> String {
    match suggestion {
        Some(s) => format!(". Did you mean '{s}'?"),
        None => String::new(),
    }
}

fn on_item(item: &Option<usize>) -> String {
    match item {
        Some(i) => format!(" on item {i}"),
        None => String::new(),
    }
}

fn zip_lengths(lengths: &[(String, usize)]) -> String {
    let parts: Vec<String> = lengths.iter().map(|(n, l)| format!("'{n}' has {l}")).collect();
    parts.join(", ")
}

fn bullets(errors: &[Error]) -> String {
    let mut out = String::new();
    for e in errors {
        use fmt::Write;
        let _ = write!(out, "\n  - {e}");
    }
    out
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a typo.
#[doc(hidden)]
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<Box<str>> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c.into())
}
