//! [`Pipeline::with_entrypoint`]: the part of a pipeline that starts at one node.

use crate::error::{Error, Result, closest};
use crate::inputs::Inputs;
use crate::node::Node;
use crate::pipeline::{Pipeline, quoted};

impl Pipeline {
    /// The part of this pipeline that starts at the node named `node`: that node and
    /// every node downstream of it (which reads, directly or through others, what it
    /// produces). Everything else is dropped, so the node's inputs become inputs of the
    /// pipeline, as does any other value a kept node read from a dropped one (a node
    /// downstream that also reads another branch). A partial rerun without a cache: give
    /// the node what it read last time, and only it and what follows run.
    ///
    /// The name, the configuration and the bound values of inputs that remain inputs
    /// are kept.
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
    /// let pipeline = Pipeline::new([clean_text::node(), count_words::node()]);
    /// let rest = pipeline.with_entrypoint("count_words")?;
    /// assert_eq!(rest.inputs(), ["cleaned_text"]);
    /// assert_eq!(rest.outputs(), ["word_count"]);
    /// let out = rest.run(&Inputs::new().with("cleaned_text", "already clean".to_string()))?;
    /// assert_eq!(out.get::<usize>("word_count")?, 2);
    ///
    /// let err = pipeline.with_entrypoint("count_word").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Cannot start at 'count_word': no node has this name. Nodes: ['clean_text', 'count_words']. Did you mean 'count_words'?"
    /// );
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when no node is named `node`.
    pub fn with_entrypoint(&self, node: &str) -> Result<Pipeline> {
        let nodes = self.nodes();
        let Some(entry) = nodes.iter().position(|n| n.name() == node) else {
            let mut names: Vec<&str> = nodes.iter().map(Node::name).collect();
            names.sort_unstable();
            let suggestion = closest(node, names.iter().copied())
                .map(|s| format!(". Did you mean '{s}'?"))
                .unwrap_or_default();
            return Err(Error::Invalid(format!(
                "Cannot start at '{node}': no node has this name. Nodes: {}{suggestion}",
                quoted(names)
            )));
        };
        // In execution order a node's producers come before it: one pass finds every
        // node downstream of the entry.
        let deps = &self.graph().deps;
        let mut kept = vec![false; nodes.len()];
        kept[entry] = true;
        for i in entry + 1..nodes.len() {
            kept[i] = deps[i].iter().any(|&d| kept[d]);
        }
        let part = Pipeline::try_new(nodes.iter().zip(&kept).filter(|(_, k)| **k).map(|(n, _)| n.clone()))?
            .replacing_config(self.config().clone());
        let part = match self.name() {
            Some(name) => part.with_name(name),
            None => part,
        };
        let bound: Inputs = self
            .bound_inputs()
            .iter()
            .filter(|(name, _)| part.input_type(name).is_some())
            .map(|(name, value)| (name, value.clone()))
            .collect();
        part.bind(bound)
    }
}
