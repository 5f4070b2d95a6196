//! Pipelines declared in TOML files, without Rust code: each node is a SQL expression
//! over its inputs (compiled to a native DataFusion expression), a named function from a
//! [`Registry`], or a nested pipeline of the same file, optionally mapped over lists.
//!
//! ```toml
//! # Clean, count and score passages.
//! [inputs]                      # optional: the input columns and their types
//! passage = "string"
//! value = "f64"
//!
//! [bind]                        # optional: constant inputs
//! weight = 2.0
//!
//! [run]                         # optional: defaults for `hypernodes run`
//! input = "../data/docs_1000.parquet"   # paths relative to this file
//! output = "text.out.parquet"
//! select = ["id", "word_count", "score"]
//!
//! [[nodes]]
//! name = "clean_text"
//! sql = "lower(trim(passage))"
//! output = "cleaned_text"       # defaults to the node's name
//!
//! [[nodes]]
//! function = "count_words"      # a registry function; `name` defaults to it
//! inputs = { text = "cleaned_text" }    # the function's parameter = the column it reads
//! output = "word_count"         # renames the function's single output
//! cache = false                 # never cache this node (with `run --cache DIR`)
//!
//! [[nodes]]
//! name = "score"
//! sql = "value * word_count * weight"
//!
//! [[nodes]]
//! name = "per_sentence"
//! pipeline = "sentence"         # a pipeline of [pipelines.sentence]
//! map_over = ["sentences"]      # outer columns to map over (mode = "zip" or "product")
//! inputs = { sentence = "sentences" }   # inner name = outer column
//! outputs = { tokens = "sentence_tokens" }  # inner output = outer name (only these)
//!
//! [pipelines.sentence]
//! nodes = [ { name = "tokens", sql = "cardinality(string_to_array(sentence, ' '))" } ]
//! ```
//!
//! Every mistake is an [`Error::Spec`] naming the file, the line and the node, on one
//! line: TOML syntax, an unknown key, function or column, a type error in an expression,
//! a cycle, a duplicate output. So that any file loads in bounded time, memory and stack,
//! a `sql` expression has at most 4,096 tokens and nests at most 64 deep, and the
//! pipelines of a file make at most 10,000 nodes (a nested pipeline counted once per use),
//! nested at most 16 deep.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field, Schema};
use serde::Deserialize;
use toml::Spanned;

use crate::engine::columnar::expr::{self, identifiers};
use crate::engine::columnar::types::{columnar_type_info, type_info_for};
use crate::engine::columnar::{ColumnType, ExprNode};
use crate::error::{closest, Error, Result};
use crate::inputs::Inputs;
use crate::node::Node;
use crate::pipeline::Pipeline;
use crate::value::{TypeInfo, Value};

/// Named functions that pipeline files can call (`function = "count_words"`).
///
/// [`Registry::new`] holds the built-in functions; [`Registry::register`] adds a Rust
/// user's own nodes (`#[node]` functions or any [`Node`]), by the node's name.
///
/// | function | parameters | output |
/// |---|---|---|
/// | `clean_text` | `text: String` | `cleaned_text: String`, trimmed and lower-cased |
/// | `count_words` | `text: String` | `word_count: i64`, whitespace-separated tokens |
/// | `char_count` | `text: String` | `char_count: i64`, Unicode scalar values |
/// | `sum` | `values: Vec<i64>` | `total: i64` |
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
/// use hypernodes::spec::Registry;
///
/// #[node(output = "shout")]
/// fn shout(text: &str) -> String { text.to_uppercase() }
///
/// let mut registry = Registry::new();
/// registry.register(shout::node());
/// assert!(registry.get("shout").is_some());
/// assert_eq!(registry.names(), ["char_count", "clean_text", "count_words", "shout", "sum"]);
/// ```
#[derive(Clone, Debug)]
pub struct Registry {
    functions: BTreeMap<String, Node>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// The built-in functions.
    pub fn new() -> Self {
        let mut r = Registry {
            functions: BTreeMap::new(),
        };
        r.register(builtins::clean_text::node())
            .register(builtins::count_words::node())
            .register(builtins::char_count::node())
            .register(builtins::sum::node());
        r
    }

    /// No functions at all.
    pub fn empty() -> Self {
        Registry {
            functions: BTreeMap::new(),
        }
    }

    /// Adds `node` under its name, replacing a function of the same name.
    pub fn register(&mut self, node: Node) -> &mut Self {
        self.functions.insert(node.name().to_string(), node);
        self
    }

    /// The function named `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.functions.get(name)
    }

    /// The names of the functions, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.functions.keys().map(String::as_str).collect()
    }
}

/// The built-in registry functions.
mod builtins {
    use crate::node;

    /// Trimmed and lower-cased.
    #[node(output = "cleaned_text")]
    pub fn clean_text(text: &str) -> String {
        text.trim().to_lowercase()
    }

    /// The number of whitespace-separated tokens (as `split_whitespace` counts them;
    /// ASCII text is counted a byte at a time, without decoding characters).
    #[node(output = "word_count")]
    pub fn count_words(text: &str) -> i64 {
        if !text.is_ascii() {
            return text.split_whitespace().count() as i64;
        }
        // The ASCII characters `char::is_whitespace` accepts: space, and \t \n \x0B \x0C \r.
        // A word starts at every non-blank byte after a blank one (or first): counted
        // over byte pairs, a loop the compiler vectorizes.
        let blank = |b: u8| (b == b' ') | (b.wrapping_sub(b'\t') < 5);
        let bytes = text.as_bytes();
        let Some(&first) = bytes.first() else {
            return 0;
        };
        // Counted per 255 pairs in a byte, so that the vector lanes stay bytes wide.
        let pairs = bytes.len() - 1;
        let mut starts = usize::from(!blank(first));
        for (a, b) in bytes[..pairs].chunks(255).zip(bytes[1..].chunks(255)) {
            let n = a
                .iter()
                .zip(b)
                .fold(0u8, |n, (&a, &b)| n.wrapping_add(u8::from(blank(a) & !blank(b))));
            starts += usize::from(n);
        }
        starts as i64
    }

    /// The number of Unicode scalar values.
    #[node(output = "char_count")]
    pub fn char_count(text: &str) -> i64 {
        text.chars().count() as i64
    }

    /// The sum of the values.
    #[node(output = "total")]
    pub fn sum(values: Vec<i64>) -> i64 {
        values.iter().sum()
    }
}

/// A pipeline file, loaded: the pipeline and the defaults of its `[run]` section.
#[derive(Clone, Debug)]
pub struct PipelineFile {
    /// The file it came from.
    pub path: PathBuf,
    /// The pipeline, bound values included.
    pub pipeline: Pipeline,
    /// `[run] input`, resolved against the file's directory.
    pub input: Option<PathBuf>,
    /// `[run] output`, resolved against the file's directory.
    pub output: Option<PathBuf>,
    /// `[run] select`: the output columns.
    pub select: Option<Vec<String>>,
}

/// The input columns a pipeline file may read, with their Arrow types; typically the
/// schema of the Parquet input.
pub type Columns = Schema;

/// Reads and builds the pipeline file at `path`. `columns` are the input columns with
/// their types (the input file's schema); when `None`, the `[run] input` file's schema is
/// used if it exists, else only the types declared in `[inputs]`. Declared types must
/// agree with the columns.
///
/// # Examples
///
/// ```
/// use hypernodes::spec::{load, Registry};
///
/// let dir = std::env::temp_dir().join(format!("hn-spec-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("p.toml");
/// std::fs::write(&path, "[inputs]\nx = \"i64\"\n\n[[nodes]]\nname = \"double\"\nsql = \"2 * x\"\n").unwrap();
/// let file = load(&path, &Registry::new(), None)?;
/// assert_eq!(file.pipeline.outputs(), ["double"]);
///
/// std::fs::write(&path, "[inputs]\nx = \"i64\"\n\n[[nodes]]\nname = \"double\"\nsql = \"2 * y\"\n").unwrap();
/// let err = load(&path, &Registry::new(), None).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     format!("{}:4: node 'double': unknown column 'y'. Known: x. Did you mean 'x'?", path.display())
/// );
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), hypernodes::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read; [`Error::Spec`] for any mistake in it.
pub fn load(path: &Path, registry: &Registry, columns: Option<&Columns>) -> Result<PipelineFile> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "read",
        path: path.display().to_string().into(),
        source,
    })?;
    load_str(&text, path, registry, columns)
}

/// Builds the pipeline file whose text is `text` (one embedded in a program with
/// `include_str!`, or made by one), as [`load`] builds the file at `path`. `path` is not
/// read and need not exist: messages name it, and the `[run]` paths are relative to its
/// directory.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use hypernodes::spec::{load_str, Registry};
///
/// let text = "[inputs]\npassage = \"string\"\n\n[[nodes]]\nfunction = \"count_words\"\ninputs = { text = \"passage\" }\n";
/// let file = load_str(text, Path::new("pipelines/words.toml"), &Registry::new(), None)?;
/// assert_eq!(file.pipeline.outputs(), ["word_count"]);
///
/// let err = load_str("[[nodes]]\nfunction = \"count_word\"\n", Path::new("words.toml"), &Registry::new(), None)
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "words.toml:1: node 'count_word': unknown function 'count_word'. Functions: char_count, clean_text, \
///      count_words, sum. Did you mean 'count_words'?"
/// );
/// # Ok::<(), hypernodes::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Spec`] for any mistake in the text; [`Error::Io`] when the `[run] input` file
/// exists (and `columns` is `None`) but its schema cannot be read.
pub fn load_str(text: &str, path: &Path, registry: &Registry, columns: Option<&Columns>) -> Result<PipelineFile> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let src = Source {
        file: path.display().to_string(),
        text,
    };
    let decl: FileDecl = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| src.line(s.start));
        src.error(line, e.message().trim().replace('\n', " "))
    })?;
    let input = decl.run.input.as_ref().map(|p| relative_to(dir, p.get_ref()));
    let output = decl.run.output.as_ref().map(|p| relative_to(dir, p.get_ref()));

    // The columns: given, or the run input's schema, checked against the declared types.
    let from_input;
    let columns = match columns {
        Some(c) => Some(c),
        None => match &input {
            Some(p) if p.is_file() => {
                from_input = crate::io::read_schema(p, crate::io::Format::of(p))?;
                Some(&from_input)
            }
            _ => None,
        },
    };
    let mut env: BTreeMap<String, TypeInfo> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, DataType> = BTreeMap::new();
    if let Some(columns) = columns {
        for f in columns.fields() {
            match type_info_for(f.data_type()) {
                Some(t) => {
                    env.insert(f.name().clone(), t);
                }
                None => {
                    unsupported.insert(f.name().clone(), f.data_type().clone());
                }
            }
        }
    }
    for (name, ty) in &decl.inputs {
        let line = src.line(ty.span().start);
        let declared = parse_type(ty.get_ref()).ok_or_else(|| {
            src.error(
                line,
                format!("input '{name}': unknown type '{}'. Types: {TYPE_NAMES}", ty.get_ref()),
            )
        })?;
        match (columns, env.get(name)) {
            // A CSV or NDJSON column's type is a guess: the declared one wins (the run
            // parses the column as it).
            (Some(c), Some(_)) if c.metadata().contains_key(crate::io::INFERRED) => {
                env.insert(name.clone(), declared);
            }
            (Some(_), Some(found)) if *found != declared => {
                return Err(src.error(
                    line,
                    format!(
                        "input '{name}' is declared {} but the input column has type {found}",
                        ty.get_ref()
                    ),
                ));
            }
            (Some(_), None) if !unsupported.contains_key(name) => {
                let known: Vec<&str> = columns
                    .into_iter()
                    .flat_map(|c| c.fields())
                    .map(|f| f.name().as_str())
                    .collect();
                return Err(src.error(
                    line,
                    format!(
                        "input '{name}' is declared but the input has no such column. Columns: {}",
                        known.join(", ")
                    ),
                ));
            }
            _ => {
                env.insert(name.clone(), declared);
            }
        }
    }
    let mut bound = Vec::new();
    for (name, value) in &decl.bind {
        let line = src.line(value.span().start);
        let (v, t) = bind_value(value.get_ref())
            .ok_or_else(|| src.error(line, format!("bind '{name}': unsupported value (use integers, floats, strings, booleans or arrays of one of them)")))?;
        env.insert(name.clone(), t);
        bound.push((name, line, v));
    }

    if decl.nodes.is_empty() {
        return Err(src.error(1, "the file declares no nodes (no [[nodes]] table)"));
    }
    let builder = Builder {
        src: &src,
        registry,
        pipelines: &decl.pipelines,
        unsupported: &unsupported,
    };
    builder.check_expansion(&decl.nodes)?;
    let mut pipeline = builder.build(&decl.nodes, env, &mut Vec::new())?;
    // One value at a time: a mistake is one error, at its own line.
    for (name, line, v) in bound {
        pipeline = pipeline
            .bind(Inputs::new().with_value(name.as_str(), v))
            .map_err(|e| src.error(line, one_line(&e)))?;
    }
    let pipeline = match &decl.name {
        Some(n) => pipeline.with_name(n),
        None => pipeline,
    };
    Ok(PipelineFile {
        path: path.to_path_buf(),
        pipeline,
        input,
        output,
        select: decl.run.select.clone(),
    })
}

/// `path` relative to `dir`, with `dir/..` pairs removed (`examples/../data/x` is
/// `data/x`).
fn relative_to(dir: &Path, path: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in dir.join(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

const TYPE_NAMES: &str = "string, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, list<T>";

/// A declared type: `string`, `i64`, `list<string>`, ... (Arrow names work too).
fn parse_type(text: &str) -> Option<TypeInfo> {
    fn data_type(t: &str) -> Option<DataType> {
        let t = t.trim().to_ascii_lowercase();
        if let Some(inner) = t.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            return Some(DataType::List(std::sync::Arc::new(Field::new_list_field(
                data_type(inner)?,
                true,
            ))));
        }
        Some(match t.as_str() {
            "string" | "str" | "utf8" | "text" => DataType::Utf8,
            "bool" | "boolean" => DataType::Boolean,
            "i8" | "int8" => DataType::Int8,
            "i16" | "int16" => DataType::Int16,
            "i32" | "int32" => DataType::Int32,
            "i64" | "int64" => DataType::Int64,
            "u8" | "uint8" => DataType::UInt8,
            "u16" | "uint16" => DataType::UInt16,
            "u32" | "uint32" => DataType::UInt32,
            "u64" | "uint64" => DataType::UInt64,
            "f32" | "float32" => DataType::Float32,
            "f64" | "float64" | "double" => DataType::Float64,
            _ => return None,
        })
    }
    type_info_for(&data_type(text)?)
}

/// A TOML value as a bound value and its type.
fn bind_value(v: &toml::Value) -> Option<(Value, TypeInfo)> {
    use toml::Value as T;
    Some(match v {
        T::Integer(i) => (Value::new(*i), columnar_type_info::<i64>()),
        T::Float(f) => (Value::new(*f), columnar_type_info::<f64>()),
        T::String(s) => (Value::new(s.clone()), columnar_type_info::<String>()),
        T::Boolean(b) => (Value::new(*b), columnar_type_info::<bool>()),
        T::Array(items) => {
            if let Some(all) = items.iter().map(T::as_integer).collect::<Option<Vec<i64>>>() {
                (Value::new(all), columnar_type_info::<Vec<i64>>())
            } else if let Some(all) = items.iter().map(T::as_float).collect::<Option<Vec<f64>>>() {
                (Value::new(all), columnar_type_info::<Vec<f64>>())
            } else if let Some(all) = items
                .iter()
                .map(|i| i.as_str().map(String::from))
                .collect::<Option<Vec<String>>>()
            {
                (Value::new(all), columnar_type_info::<Vec<String>>())
            } else if let Some(all) = items.iter().map(T::as_bool).collect::<Option<Vec<bool>>>() {
                (Value::new(all), columnar_type_info::<Vec<bool>>())
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDecl {
    name: Option<String>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    bind: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    run: RunDecl,
    #[serde(default)]
    nodes: Vec<Spanned<NodeDecl>>,
    #[serde(default)]
    pipelines: BTreeMap<String, Spanned<SubDecl>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunDecl {
    input: Option<Spanned<String>>,
    output: Option<Spanned<String>>,
    select: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubDecl {
    nodes: Vec<Spanned<NodeDecl>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeDecl {
    name: Option<String>,
    sql: Option<String>,
    function: Option<String>,
    pipeline: Option<String>,
    output: Option<String>,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    #[serde(default)]
    map_over: Vec<String>,
    mode: Option<String>,
    /// `false`: the node's results are never cached (it runs every time).
    cache: Option<bool>,
}

/// An error of a pipeline built from the file as one line (a message is `FILE:LINE:
/// message`): several problems found at once are joined with "; ".
fn one_line(e: &Error) -> String {
    match e {
        Error::Multiple(errors) => errors.iter().map(one_line).collect::<Vec<_>>().join("; "),
        e => e.to_string(),
    }
}

/// The file's text, to turn byte offsets into lines.
struct Source<'a> {
    file: String,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    /// The error at `line`, its message on one line whatever the file holds: a control
    /// character in a name or a value it shows (a line break, say) is escaped (`\n`).
    fn error(&self, line: usize, message: impl Into<String>) -> Error {
        let mut escaped = String::new();
        for c in message.into().chars() {
            if c.is_control() {
                escaped.extend(c.escape_default());
            } else {
                escaped.push(c);
            }
        }
        Error::Spec {
            file: self.file.as_str().into(),
            line,
            message: escaped.into(),
        }
    }
}

/// The most nodes the pipelines of a file may make, each nested pipeline counted once per
/// use, and the deepest they may nest.
const MAX_NODES: u64 = 10_000;
const MAX_NESTING: usize = 16;

/// A node declaration with what is known before types: its name, line, the names it
/// reads and the names it produces.
struct Decl<'a> {
    decl: &'a NodeDecl,
    name: String,
    line: usize,
    reads: Vec<String>,
    produces: Vec<String>,
}

struct Builder<'a> {
    src: &'a Source<'a>,
    registry: &'a Registry,
    pipelines: &'a BTreeMap<String, Spanned<SubDecl>>,
    unsupported: &'a BTreeMap<String, DataType>,
}

impl Builder<'_> {
    /// The pipeline of `nodes`, whose inputs have the types in `env`. `stack`: the nested
    /// pipelines being built (a pipeline may not contain itself).
    fn build(
        &self,
        nodes: &[Spanned<NodeDecl>],
        mut env: BTreeMap<String, TypeInfo>,
        stack: &mut Vec<String>,
    ) -> Result<Pipeline> {
        let decls = nodes
            .iter()
            .map(|n| self.describe(n, stack))
            .collect::<Result<Vec<_>>>()?;

        // Duplicate names and outputs.
        let mut names: BTreeMap<&str, &Decl> = BTreeMap::new();
        let mut producers: BTreeMap<&str, &Decl> = BTreeMap::new();
        for d in &decls {
            if let Some(first) = names.insert(&d.name, d) {
                return Err(self.src.error(
                    d.line,
                    format!("node '{}': another node has this name (line {})", d.name, first.line),
                ));
            }
            for out in &d.produces {
                if let Some(first) = producers.insert(out, d) {
                    return Err(self.src.error(
                        d.line,
                        format!(
                            "Multiple nodes produce output '{out}': {} (line {}) and {}",
                            first.name, first.line, d.name
                        ),
                    ));
                }
            }
        }

        // Build in dependency order; the types of what a node reads are then known.
        let mut built: Vec<Option<Node>> = decls.iter().map(|_| None).collect();
        loop {
            let mut progress = false;
            for (k, d) in decls.iter().enumerate() {
                if built[k].is_none() && d.reads.iter().all(|r| env.contains_key(r)) {
                    let node = self.node(d, &env, stack)?;
                    for out in node.outputs() {
                        env.insert(out.name().to_string(), out.type_info());
                    }
                    built[k] = Some(node);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        if let Some(k) = built.iter().position(Option::is_none) {
            // Unknown names first, else a cycle.
            for (_, d) in decls.iter().enumerate().filter(|(j, _)| built[*j].is_none()) {
                for r in &d.reads {
                    if !env.contains_key(r) && !producers.contains_key(r.as_str()) {
                        return Err(self.unknown(d, r, &env));
                    }
                }
            }
            let path = cycle(&decls, &producers, &env, k);
            return Err(self.src.error(
                decls[path[0]].line,
                format!(
                    "Cycle detected in pipeline: {}",
                    path.iter()
                        .map(|&i| decls[i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                ),
            ));
        }
        let nodes: Vec<Node> = built.into_iter().map(|n| n.expect("all built")).collect();
        Pipeline::try_new(nodes).map_err(|e| self.src.error(decls.first().map_or(1, |d| d.line), one_line(&e)))
    }

    fn unknown(&self, d: &Decl, name: &str, env: &BTreeMap<String, TypeInfo>) -> Error {
        if let Some(dt) = self.unsupported.get(name) {
            return self.src.error(
                d.line,
                format!(
                    "node '{}': column '{name}' has Arrow type {dt}, which pipeline files cannot read",
                    d.name
                ),
            );
        }
        let hint = match closest(name, env.keys().map(String::as_str)) {
            Some(s) => format!(" Did you mean '{s}'?"),
            None => String::new(),
        };
        let known: Vec<&str> = env.keys().map(String::as_str).collect();
        self.src.error(
            d.line,
            format!(
                "node '{}': unknown column '{name}'. Known: {}.{hint}",
                d.name,
                known.join(", ")
            ),
        )
    }

    /// What a declaration reads and produces, from its text alone.
    fn describe<'d>(&self, n: &'d Spanned<NodeDecl>, stack: &mut Vec<String>) -> Result<Decl<'d>> {
        let line = self.src.line(n.span().start);
        let d = n.get_ref();
        let kinds = [d.sql.is_some(), d.function.is_some(), d.pipeline.is_some()];
        let label = d
            .name
            .clone()
            .or_else(|| d.function.clone())
            .or_else(|| d.pipeline.clone());
        let name = label.unwrap_or_default();
        let err = |message: String| {
            let who = if name.is_empty() {
                "node".to_string()
            } else {
                format!("node '{name}'")
            };
            self.src.error(line, format!("{who}: {message}"))
        };
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(err("give exactly one of `sql`, `function` or `pipeline`".into()));
        }
        if name.is_empty() {
            return Err(err("a `sql` node needs a `name`".into()));
        }
        let (reads, produces) = if let Some(sql) = &d.sql {
            if !d.inputs.is_empty() || !d.outputs.is_empty() || !d.map_over.is_empty() || d.mode.is_some() {
                return Err(err("a `sql` node takes only `name`, `sql`, `output` and `cache`".into()));
            }
            let mut reads = identifiers(sql).map_err(|e| err(format!("`{}`: {e}", expr::one_line(sql))))?;
            reads.dedup();
            (reads, vec![d.output.clone().unwrap_or_else(|| name.clone())])
        } else if let Some(f) = &d.function {
            if !d.map_over.is_empty() || d.mode.is_some() {
                return Err(err("`map_over` and `mode` apply to `pipeline` nodes".into()));
            }
            let node = self.function(f, d, &name).map_err(err)?;
            (
                node.params().iter().map(|p| p.name().to_string()).collect(),
                node.outputs().iter().map(|p| p.name().to_string()).collect(),
            )
        } else {
            let p = d.pipeline.as_ref().expect("one kind");
            if d.output.is_some() {
                return Err(err(
                    "a `pipeline` node renames outputs with `outputs = { inner = \"outer\" }`".into(),
                ));
            }
            let sub = self.sub(p, stack).map_err(err)?;
            if stack.contains(p) {
                return Err(err(format!("pipeline '{p}' contains itself")));
            }
            stack.push(p.clone());
            let inner = sub
                .nodes
                .iter()
                .map(|n| self.describe(n, stack))
                .collect::<Result<Vec<_>>>();
            stack.pop();
            let inner = inner?;
            let produced: BTreeSet<&str> = inner
                .iter()
                .flat_map(|i| i.produces.iter().map(String::as_str))
                .collect();
            let mut reads: Vec<String> = Vec::new();
            for r in inner.iter().flat_map(|i| &i.reads) {
                if !produced.contains(r.as_str()) {
                    let outer = d.inputs.get(r).cloned().unwrap_or_else(|| r.clone());
                    if !reads.contains(&outer) {
                        reads.push(outer);
                    }
                }
            }
            for inner_name in d.inputs.keys() {
                if produced.contains(inner_name.as_str()) || !inner.iter().any(|i| i.reads.contains(inner_name)) {
                    return Err(err(format!("`inputs`: pipeline '{p}' has no input '{inner_name}'")));
                }
            }
            for m in &d.map_over {
                if !reads.contains(m) {
                    return Err(err(format!(
                        "map_over name '{m}' is not an input. Inputs: {}",
                        reads.join(", ")
                    )));
                }
            }
            let produces = if d.outputs.is_empty() {
                produced.iter().map(|s| s.to_string()).collect()
            } else {
                for inner_name in d.outputs.keys() {
                    if !produced.contains(inner_name.as_str()) {
                        return Err(err(format!("`outputs`: pipeline '{p}' has no output '{inner_name}'")));
                    }
                }
                d.outputs.values().cloned().collect()
            };
            (reads, produces)
        };
        Ok(Decl {
            decl: d,
            name,
            line,
            reads,
            produces,
        })
    }

    /// Checks that the pipelines of the file, each nested pipeline built once per use,
    /// make at most [`MAX_NODES`] nodes in all, nested at most [`MAX_NESTING`] deep: two
    /// uses of a pipeline that uses another twice, and so on, would otherwise make a
    /// small file take exponential time and memory to load, and deep nesting overflow
    /// the stack. Pipelines that are unknown or contain themselves count as empty here
    /// ([`Builder::describe`] names them).
    fn check_expansion(&self, nodes: &[Spanned<NodeDecl>]) -> Result<()> {
        let mut sizes = BTreeMap::new();
        let mut total: u64 = 0;
        for n in nodes {
            let d = n.get_ref();
            let size = match &d.pipeline {
                Some(p) => self.expanded(p, &mut sizes, &mut Vec::new()),
                None => Ok(0),
            };
            let label = d.name.as_ref().or(d.function.as_ref()).or(d.pipeline.as_ref());
            let who = label.map_or_else(|| "node".to_string(), |l| format!("node '{l}'"));
            let line = self.src.line(n.span().start);
            total = total
                .saturating_add(1)
                .saturating_add(size.map_err(|e| self.src.error(line, format!("{who}: {e}")))?);
            if total > MAX_NODES {
                return Err(self.src.error(
                    line,
                    format!(
                        "{who}: the pipelines of this file make more than {MAX_NODES} nodes, each nested pipeline counted once per use"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The nodes pipeline `name` makes, nested ones counted once per use (memoized in
    /// `sizes`); `Err` when its pipelines nest deeper than [`MAX_NESTING`].
    fn expanded(
        &self,
        name: &str,
        sizes: &mut BTreeMap<String, u64>,
        stack: &mut Vec<String>,
    ) -> std::result::Result<u64, String> {
        if let Some(&size) = sizes.get(name) {
            return Ok(size);
        }
        let Some(sub) = self.pipelines.get(name).filter(|_| !stack.iter().any(|s| s == name)) else {
            return Ok(0);
        };
        if stack.len() == MAX_NESTING {
            return Err(format!(
                "pipelines nest more than {MAX_NESTING} deep: {} -> {name}",
                stack.join(" -> ")
            ));
        }
        stack.push(name.to_string());
        let mut size: u64 = 0;
        for n in &sub.get_ref().nodes {
            let nested = match &n.get_ref().pipeline {
                Some(p) => self.expanded(p, sizes, stack)?,
                None => 0,
            };
            size = size.saturating_add(1).saturating_add(nested);
        }
        stack.pop();
        sizes.insert(name.to_string(), size);
        Ok(size)
    }

    fn sub(&self, name: &str, _stack: &[String]) -> std::result::Result<&SubDecl, String> {
        self.pipelines.get(name).map(Spanned::get_ref).ok_or_else(|| {
            let known: Vec<&str> = self.pipelines.keys().map(String::as_str).collect();
            format!(
                "unknown pipeline '{name}'. Pipelines of this file: [{}]",
                known.join(", ")
            )
        })
    }

    /// The registry function of a declaration, renamed as it says.
    fn function(&self, f: &str, d: &NodeDecl, name: &str) -> std::result::Result<Node, String> {
        let node = self.registry.get(f).ok_or_else(|| {
            let hint = match closest(f, self.registry.names()) {
                Some(s) => format!(" Did you mean '{s}'?"),
                None => String::new(),
            };
            format!(
                "unknown function '{f}'. Functions: {}.{hint}",
                self.registry.names().join(", ")
            )
        })?;
        let params: Vec<(&str, &str)> = d.inputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut outputs: Vec<(&str, &str)> = d.outputs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if let Some(o) = &d.output {
            if node.outputs().len() != 1 || !d.outputs.is_empty() {
                return Err(format!(
                    "function '{f}' has {} outputs: rename them with `outputs = {{ inner = \"outer\" }}`",
                    node.outputs().len()
                ));
            }
            outputs.push((node.outputs()[0].name(), o.as_str()));
        }
        node.renamed(name, &params, &outputs).map_err(|e| one_line(&e))
    }

    /// The node of a declaration whose reads all have known types, uncached when it
    /// says `cache = false`.
    fn node(&self, d: &Decl, env: &BTreeMap<String, TypeInfo>, stack: &mut Vec<String>) -> Result<Node> {
        let node = self.declared(d, env, stack)?;
        Ok(if d.decl.cache == Some(false) {
            node.uncached()
        } else {
            node
        })
    }

    fn declared(&self, d: &Decl, env: &BTreeMap<String, TypeInfo>, stack: &mut Vec<String>) -> Result<Node> {
        let err = |message: String| self.src.error(d.line, format!("node '{}': {message}", d.name));
        let decl = d.decl;
        if let Some(sql) = &decl.sql {
            let names: BTreeMap<String, TypeInfo> = d.reads.iter().map(|r| (r.clone(), env[r])).collect();
            return ExprNode::node(&d.name, &d.produces[0], sql, &names).map_err(|e| err(one_line(&e)));
        }
        if let Some(f) = &decl.function {
            let node = self.function(f, decl, &d.name).map_err(err)?;
            for p in node.params() {
                let found = env[p.name()];
                if found != p.type_info() {
                    return Err(err(format!(
                        "function '{f}' reads '{}' as {}, but it is {found}",
                        p.name(),
                        p.type_info()
                    )));
                }
            }
            return Ok(node);
        }
        let p = decl.pipeline.as_ref().expect("one kind");
        let sub = self.sub(p, stack).map_err(err)?;
        // The inner inputs' types: the outer columns', element types for mapped ones.
        let mut inner_env = BTreeMap::new();
        let inner_of = |outer: &str| -> String {
            decl.inputs
                .iter()
                .find(|(_, o)| o.as_str() == outer)
                .map_or(outer.to_string(), |(i, _)| i.clone())
        };
        for outer in &d.reads {
            let ty = env[outer];
            let ty = if decl.map_over.contains(outer) {
                let elem = ColumnType::find(&ty).and_then(|ct| match (ct.data_type)() {
                    DataType::List(f) => type_info_for(f.data_type()),
                    _ => None,
                });
                elem.ok_or_else(|| err(format!("map_over '{outer}' is {ty}, not a list")))?
            } else {
                ty
            };
            inner_env.insert(inner_of(outer), ty);
        }
        stack.push(p.clone());
        let inner = self.build(&sub.nodes, inner_env, stack);
        stack.pop();
        // Named after its `[pipelines.NAME]` table (messages and pictures show it).
        let mut node = inner?.with_name(p.as_str()).as_node(&d.name);
        let mapping: Vec<(String, String)> = d.reads.iter().map(|o| (o.clone(), inner_of(o))).collect();
        node = node.with_input_mapping(mapping);
        if !decl.outputs.is_empty() {
            node = node.with_output_mapping(decl.outputs.clone());
        }
        if !decl.map_over.is_empty() {
            node = node.with_map_over(decl.map_over.clone());
        }
        if let Some(mode) = &decl.mode {
            node = node.with_map_mode(mode.as_str());
        }
        node.build().map_err(|e| err(one_line(&e)))
    }
}

/// A cycle through node `start` (or one reachable from it), as indices, closed.
fn cycle(
    decls: &[Decl],
    producers: &BTreeMap<&str, &Decl>,
    env: &BTreeMap<String, TypeInfo>,
    start: usize,
) -> Vec<usize> {
    let index = |d: &Decl| decls.iter().position(|x| std::ptr::eq(x, d)).expect("a declaration");
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = decls[at]
            .reads
            .iter()
            .filter(|r| !env.contains_key(r.as_str()))
            .find_map(|r| producers.get(r.as_str()).map(|d| index(d)))
            .expect("an unresolved node reads another's output");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut c = path[pos..].to_vec();
            c.push(next);
            // Report in the direction of data flow: producer -> consumer.
            c.reverse();
            return c;
        }
        path.push(next);
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::builtins::count_words;

    #[test]
    fn count_words_counts_as_split_whitespace_does() {
        let texts = [
            "",
            " ",
            "one",
            "  two words  ",
            "a\tb\nc\x0Bd\x0Ce\rf",
            "x\x1Fy", // a control character that is not whitespace
            "trailing\n",
            "non\u{00A0}breaking and\u{3000}ideographic spaces",
            "é accents, ünïcödé",
        ];
        for text in texts {
            assert_eq!(count_words(text), text.split_whitespace().count() as i64, "{text:?}");
        }
        // Every ASCII byte, alone and between two letters.
        for b in 0u8..128 {
            let text = format!("a{}b", b as char);
            assert_eq!(count_words(&text), text.split_whitespace().count() as i64, "byte {b}");
        }
    }
}
