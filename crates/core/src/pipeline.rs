//! [`Pipeline`]: nodes wired by name, validated when built, run by an engine.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::exec::RunConfig;
use crate::graph::{Graph, analyze};
use crate::inputs::Inputs;
use crate::node::Node;
use crate::value::TypeInfo;

/// Nodes wired into a graph by parameter and output names.
///
/// Immutable and cheap to clone. Built with [`Pipeline::try_new`], which checks for
/// duplicate outputs, cycles and type mismatches; nodes run in topological order, ready
/// nodes taken by name, so the order never depends on how the nodes were listed.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "cleaned_text")]
/// fn clean_text(passage: &str) -> String { passage.trim().to_lowercase() }
///
/// #[node(output = "word_count")]
/// fn count_words(cleaned_text: &str) -> usize { cleaned_text.split_whitespace().count() }
///
/// let pipeline = Pipeline::try_new([count_words::node(), clean_text::node()])?;
/// assert_eq!(pipeline.inputs(), ["passage"]);
/// assert_eq!(pipeline.outputs(), ["cleaned_text", "word_count"]);
///
/// let out = pipeline.run(&Inputs::new().with("passage", "  Hello World ".to_string()))?;
/// assert_eq!(out.get::<String>("cleaned_text")?, "hello world");
/// assert_eq!(out.get::<usize>("word_count")?, 2);
///
/// // Only what a selected output needs runs, and only its inputs are required.
/// let err = pipeline.run(&Inputs::new()).unwrap_err();
/// assert_eq!(err.to_string(), "Missing required input(s): ['passage']. Required inputs: ['passage']");
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    name: Option<String>,
    /// In execution order.
    nodes: Vec<Node>,
    graph: Graph,
    outputs: Vec<String>,
    bound: Inputs,
    config: RunConfig,
}

impl Pipeline {
    /// A pipeline of `nodes`, listed in any order.
    ///
    /// # Errors
    ///
    /// Every problem at once ([`Error::Multiple`] when there are several):
    /// [`Error::DuplicateOutput`], [`Error::Cycle`], [`Error::TypeMismatch`],
    /// [`Error::InputTypeConflict`].
    pub fn try_new(nodes: impl IntoIterator<Item = Node>) -> Result<Pipeline> {
        let (nodes, graph) = analyze(nodes.into_iter().collect())?;
        let mut outputs: Vec<String> = graph.producers.keys().map(|k| k.to_string()).collect();
        outputs.sort_unstable();
        Ok(Pipeline {
            inner: Arc::new(Inner {
                name: None,
                nodes,
                graph,
                outputs,
                bound: Inputs::new(),
                config: RunConfig::new(),
            }),
        })
    }

    /// Like [`Pipeline::try_new`], for nodes known to be valid.
    ///
    /// # Panics
    ///
    /// With the error's message when the pipeline is invalid.
    pub fn new(nodes: impl IntoIterator<Item = Node>) -> Pipeline {
        Self::try_new(nodes).unwrap_or_else(|e| panic!("invalid pipeline: {e}"))
    }

    fn modified(&self, f: impl FnOnce(&mut Inner)) -> Pipeline {
        let mut inner = (*self.inner).clone();
        f(&mut inner);
        Pipeline { inner: Arc::new(inner) }
    }

    /// This pipeline with a name (used in messages, traces and pictures).
    pub fn with_name(&self, name: impl Into<String>) -> Pipeline {
        let name = name.into();
        self.modified(|p| p.name = Some(name))
    }

    /// The pipeline's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// This pipeline with `config` over its own configuration (a field set in `config`
    /// wins): what its runs, and the runs of the pipelines it is nested in, use for
    /// what the call does not set. See [`RunConfig`] for the precedence.
    pub fn with_config(&self, config: RunConfig) -> Pipeline {
        self.modified(|p| p.config = config.or(&p.config))
    }

    /// This pipeline with `config` in place of its own configuration.
    #[doc(hidden)]
    pub fn replacing_config(&self, config: RunConfig) -> Pipeline {
        self.modified(|p| p.config = config)
    }

    /// The configuration set on this pipeline.
    pub fn config(&self) -> &RunConfig {
        &self.inner.config
    }

    /// The nodes, in execution order.
    pub fn nodes(&self) -> &[Node] {
        &self.inner.nodes
    }

    /// The graph the nodes form.
    #[doc(hidden)]
    pub fn graph(&self) -> &Graph {
        &self.inner.graph
    }

    /// The names of the outputs, as [`Pipeline::outputs`].
    #[doc(hidden)]
    pub fn output_names(&self) -> &[String] {
        &self.inner.outputs
    }

    /// The input names (values no node produces), sorted; bound ones included.
    pub fn inputs(&self) -> Vec<&str> {
        self.inner.graph.inputs.keys().map(|k| &**k).collect()
    }

    /// The type an input is read as, or `None` when `name` is not an input.
    pub fn input_type(&self, name: &str) -> Option<TypeInfo> {
        self.inner.graph.inputs.get(name).map(|u| u.ty)
    }

    /// Every output name, sorted.
    pub fn outputs(&self) -> Vec<&str> {
        self.inner.outputs.iter().map(String::as_str).collect()
    }

    /// The type of an output, or `None` when no node produces `name`.
    pub fn output_type(&self, name: &str) -> Option<TypeInfo> {
        let &(node, k) = self.inner.graph.producers.get(name)?;
        Some(self.inner.nodes[node].outputs()[k].type_info())
    }

    /// The values bound with [`Pipeline::bind`].
    pub fn bound_inputs(&self) -> &Inputs {
        &self.inner.bound
    }

    /// The inputs that are not bound, sorted: what a run must be given.
    pub fn unfulfilled_args(&self) -> Vec<&str> {
        self.inputs()
            .into_iter()
            .filter(|n| !self.inner.bound.contains(n))
            .collect()
    }

    /// This pipeline with `inputs` bound: they are used when a call does not give them
    /// (call inputs win). Binding again merges, the newer value winning.
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::prelude::*;
    ///
    /// #[node(output = "sum")]
    /// fn add(a: i64, b: i64) -> i64 { a + b }
    ///
    /// let p = Pipeline::new([add::node()]).bind(Inputs::new().with("b", 10_i64))?;
    /// assert_eq!(p.unfulfilled_args(), ["a"]);
    /// assert_eq!(p.run(&Inputs::new().with("a", 1_i64))?.get::<i64>("sum")?, 11);
    /// assert_eq!(p.run(&Inputs::new().with("a", 1_i64).with("b", 2_i64))?.get::<i64>("sum")?, 3);
    ///
    /// let err = p.bind(Inputs::new().with("c", 1_i64)).unwrap_err();
    /// assert_eq!(err.to_string(), "Cannot bind 'c': it is not an input of the pipeline. Inputs: ['a', 'b']");
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a name that is not an input, [`Error::InputType`] for a
    /// value that is neither of the input's type nor a list of it.
    pub fn bind(&self, inputs: Inputs) -> Result<Pipeline> {
        let mut errors = Vec::new();
        for (name, value) in inputs.iter() {
            match self.inner.graph.inputs.get(name) {
                None => errors.push(Error::Invalid(format!(
                    "Cannot bind '{name}': it is not an input of the pipeline. Inputs: {}",
                    quoted(self.inputs())
                ))),
                // A bound list may be mapped over later, so `Vec<T>` is accepted too.
                Some(used) if used.ty.list_of() == Some(value.type_info()) => {}
                Some(_) => errors.extend(self.check_input_type(name, value).err()),
            }
        }
        Error::combine(errors)?;
        let bound = self.inner.bound.merged(&inputs);
        Ok(self.modified(|p| p.bound = bound))
    }

    /// This pipeline with the named bound values removed (all of them when `names` is
    /// empty).
    pub fn unbind(&self, names: &[&str]) -> Pipeline {
        let mut bound = self.inner.bound.clone();
        if names.is_empty() {
            bound = Inputs::new();
        }
        for name in names {
            bound.remove(name);
        }
        self.modified(|p| p.bound = bound)
    }

    #[doc(hidden)]
    pub fn check_input_type(&self, name: &str, value: &crate::Value) -> Result<()> {
        let used = &self.inner.graph.inputs[name];
        if value.type_info() == used.ty {
            Ok(())
        } else {
            Err(Error::InputType {
                input: name.into(),
                node: self.inner.nodes[used.first_reader].name().into(),
                expected: used.ty.name().into(),
                found: value.type_name().into(),
            })
        }
    }
}

/// The name, the nodes in execution order, the inputs a run must still be given
/// (`needs`), the bound ones with their values' types, and the outputs.
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "sum")]
/// fn add(a: i64, b: i64) -> i64 { a + b }
///
/// let p = Pipeline::new([add::node()]).with_name("adding").bind(Inputs::new().with("b", 10_i64))?;
/// assert_eq!(
///     format!("{p:?}"),
///     r#"Pipeline { name: Some("adding"), nodes: ["add"], needs: ["a"], bound: {"b": Value<i64>}, outputs: ["sum"] }"#
/// );
/// # Ok::<(), hypernodes::Error>(())
/// ```
impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Bound<'a>(&'a Inputs);
        impl fmt::Debug for Bound<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.iter()).finish()
            }
        }
        f.debug_struct("Pipeline")
            .field("name", &self.inner.name)
            .field("nodes", &self.inner.nodes.iter().map(Node::name).collect::<Vec<_>>())
            .field("needs", &self.unfulfilled_args())
            .field("bound", &Bound(&self.inner.bound))
            .field("outputs", &self.inner.outputs)
            .finish()
    }
}

#[doc(hidden)]
pub fn quoted<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let q: Vec<String> = names.into_iter().map(|n| format!("'{}'", n.as_ref())).collect();
    format!("[{}]", q.join(", "))
}
