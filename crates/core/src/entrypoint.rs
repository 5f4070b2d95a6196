//! [`Pipeline::with_entrypoint`] and [`Pipeline::part`]: a part of a pipeline, the
//! values it reads from the nodes left out as its inputs.

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
        let entry = self.node_index(node, "start at")?;
        // In execution order a node's producers come before it: one pass finds every
        // node downstream of the entry.
        let deps = &self.graph().deps;
        let mut kept = vec![false; nodes.len()];
        kept[entry] = true;
        for i in entry + 1..nodes.len() {
            kept[i] = deps[i].iter().any(|&d| kept[d]);
        }
        self.part_kept(&kept)
    }

    /// The part of this pipeline made of the nodes named in `nodes` (in any order): the
    /// values they read from the nodes left out become inputs of the pipeline. What
    /// [`Pipeline::with_entrypoint`] keeps is one such part; an incremental file run
    /// keeps the nodes that changed, those downstream of them and those whose results
    /// it cannot read from the previous output.
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
    /// #[node(output = "shout")]
    /// fn shout(cleaned_text: &str) -> String { cleaned_text.to_uppercase() }
    ///
    /// let pipeline = Pipeline::new([clean_text::node(), count_words::node(), shout::node()]);
    /// let part = pipeline.part(["shout"])?;
    /// assert_eq!(part.inputs(), ["cleaned_text"]);
    /// assert_eq!(part.outputs(), ["shout"]);
    ///
    /// let err = pipeline.part(["shoot"]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Cannot keep 'shoot': no node has this name. Nodes: ['clean_text', 'count_words', 'shout']. Did you mean 'shout'?"
    /// );
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when no node has one of the names.
    pub fn part<S: AsRef<str>>(&self, nodes: impl IntoIterator<Item = S>) -> Result<Pipeline> {
        let mut kept = vec![false; self.nodes().len()];
        for name in nodes {
            kept[self.node_index(name.as_ref(), "keep")?] = true;
        }
        self.part_kept(&kept)
    }

    /// The index of the node named `name`, or an error saying what could not be done
    /// (`verb` it), naming the nodes and the closest name.
    fn node_index(&self, name: &str, verb: &str) -> Result<usize> {
        let nodes = self.nodes();
        nodes.iter().position(|n| n.name() == name).ok_or_else(|| {
            let mut names: Vec<&str> = nodes.iter().map(Node::name).collect();
            names.sort_unstable();
            let suggestion = closest(name, names.iter().copied())
                .map(|s| format!(". Did you mean '{s}'?"))
                .unwrap_or_default();
            Error::Invalid(format!(
                "Cannot {verb} '{name}': no node has this name. Nodes: {}{suggestion}",
                quoted(names)
            ))
        })
    }

    /// The part of this pipeline made of the nodes `kept` marks (by index).
    fn part_kept(&self, kept: &[bool]) -> Result<Pipeline> {
        let nodes = self
            .nodes()
            .iter()
            .zip(kept)
            .filter(|(_, k)| **k)
            .map(|(n, _)| n.clone());
        let part = Pipeline::try_new(nodes)?.replacing_config(self.config().clone());
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
