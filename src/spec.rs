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

mod build;
mod expansion;
mod file;
mod registry;
mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Schema};

use crate::engine::columnar::types::{reads_as, type_info_for};
use crate::error::{Error, Result};
use crate::inputs::Inputs;
use crate::pipeline::Pipeline;
use crate::value::TypeInfo;

use self::build::Builder;
use self::expansion::Expansion;
use self::file::{FileDecl, Source, one_line};
pub use self::registry::Registry;
use self::types::{TYPE_NAMES, bind_value, parse_data_type, parse_type, type_problem};

/// A pipeline file, loaded: the pipeline and the defaults of its `[run]` section.
#[derive(Clone, Debug)]
pub struct PipelineFile {
    /// The file it came from.
    pub path: PathBuf,
    /// The pipeline, bound values included.
    pub pipeline: Pipeline,
    /// `[run] input`: a path resolved against the file's directory, or a URL.
    pub input: Option<crate::io::Location>,
    /// `[run] output`: a path resolved against the file's directory, or a URL.
    pub output: Option<crate::io::Location>,
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
///      count_words, hash_hex, parse_timestamp, round_decimal, sum, truncate_timestamp. Did you mean 'count_words'?"
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
    // A path is relative to the file's directory; a URL is as written.
    let locate = |p: &str| match crate::io::Location::parse(p) {
        url if url.url().is_some() => url,
        _ => crate::io::Location::local(relative_to(dir, p)),
    };
    let input = decl.run.input.as_ref().map(|p| locate(p.get_ref()));
    let output = decl.run.output.as_ref().map(|p| locate(p.get_ref()));

    // The columns: given, or the run input's schema, checked against the declared types.
    let from_input;
    let columns = match columns {
        Some(c) => Some(c),
        None => match (&input, input.as_ref().and_then(crate::io::Location::as_path)) {
            (_, Some(p)) if p.is_file() => {
                from_input = crate::io::format::read_schema(p, crate::io::format::Format::of(p))?;
                Some(&from_input)
            }
            // An object's schema when it can be read: otherwise the run names what is
            // wrong with it.
            (Some(l), None) if !l.is_prefix() => {
                from_input = match crate::io::location_schema(l, l.format()) {
                    Ok(schema) => schema,
                    Err(_) => Schema::empty(),
                };
                (!from_input.fields().is_empty()).then_some(&from_input)
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
            let why = type_problem(ty.get_ref())
                .unwrap_or_else(|| format!("unknown type '{}'. Types: {TYPE_NAMES}", ty.get_ref()));
            src.error(line, format!("input '{name}': {why}"))
        })?;
        match (columns, env.get(name)) {
            // A CSV or NDJSON column's type is a guess: the declared one wins (the run
            // parses the column as it).
            (Some(c), Some(_)) if c.metadata().contains_key(crate::io::format::INFERRED) => {
                env.insert(name.clone(), declared);
            }
            // A declared `timestamp` may read a zoned column (the UTC date and time).
            (Some(c), Some(_))
                if c.field_with_name(name)
                    .is_ok_and(|f| reads_as(f.data_type(), &declared)) =>
            {
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
    // The Arrow type of each input column: the input's, else the declared one; a CSV or
    // NDJSON column's is a guess, and the declared one wins (the run parses it as that).
    let mut column_types: BTreeMap<String, DataType> = columns
        .into_iter()
        .flat_map(|c| c.fields())
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let inferred = columns.is_some_and(|c| c.metadata().contains_key(crate::io::format::INFERRED));
    for (name, ty) in &decl.inputs {
        if let Some(dt) = parse_data_type(ty.get_ref())
            && (inferred || !column_types.contains_key(name))
        {
            column_types.insert(name.clone(), dt);
        }
    }
    let builder = Builder {
        src: &src,
        registry,
        pipelines: &decl.pipelines,
        unsupported: &unsupported,
        columns: &column_types,
    };
    Expansion {
        src: &src,
        pipelines: &decl.pipelines,
    }
    .check(&decl.nodes)?;
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
