//! Plans: what one run or one map will do, built and checked from a pipeline, its
//! inputs and its resolved configuration before any engine sees it, so every engine
//! validates the same way.

use std::collections::{BTreeSet, HashSet};
use std::ops::Range;
use std::sync::Arc;

use crate::error::{Error, Result, closest};
use crate::exec::RunConfig;
use crate::inputs::Inputs;
use crate::map::MapMode;
use crate::node::Node;
use crate::pipeline::Pipeline;
use crate::value::{TypeInfo, Value};

/// What one run will do: the nodes to run, the outputs each must keep, the outputs to
/// return and the input values. Built and checked by the pipeline before any engine
/// sees it, so every engine validates the same way.
#[derive(Clone, Debug)]
pub struct RunPlan {
    pipeline: Pipeline,
    nodes: Vec<usize>,
    keep: Vec<Vec<bool>>,
    outputs: Vec<String>,
    inputs: Inputs,
    config: Arc<RunConfig>,
}

/// Which outputs of `node` a run without a selection computes, given the names the
/// pipeline's nodes read: all of a function node's; of a nested pipeline, those read
/// (`consumed`), or all of them when nothing reads any (a terminal nested node). What
/// the pictures (`hypernodes::viz`) show of a collapsed nested node.
#[doc(hidden)]
pub fn computed_outputs(node: &Node, consumed: &HashSet<&str>) -> Vec<bool> {
    let terminal = !node.is_nested() || !node.outputs().iter().any(|o| consumed.contains(o.name()));
    node.outputs()
        .iter()
        .map(|o| terminal || consumed.contains(o.name()))
        .collect()
}

impl RunPlan {
    /// Plans a run of `pipeline` over `inputs`, keeping only `select` when given.
    /// `mapped` names are inputs whose values are lists checked by the map plan.
    #[doc(hidden)]
    pub fn new(
        pipeline: &Pipeline,
        inputs: &Inputs,
        select: Option<&[String]>,
        mapped: &[&str],
        config: Arc<RunConfig>,
    ) -> Result<RunPlan> {
        let n = pipeline.nodes().len();
        let graph = pipeline.graph();
        let selected: Option<BTreeSet<&str>> = match select {
            None => None,
            Some(names) => {
                let unknown: Vec<String> = names
                    .iter()
                    .filter(|s| !graph.producers.contains_key(s.as_str()))
                    .cloned()
                    .collect();
                if let Some(first) = unknown.first() {
                    return Err(Error::UnknownOutputs {
                        suggestion: closest(first, pipeline.output_names().iter().map(String::as_str)),
                        unknown,
                        available: pipeline.output_names().to_vec(),
                    });
                }
                Some(names.iter().map(String::as_str).collect())
            }
        };

        // Which nodes run: everything, or the ancestors of the selected outputs.
        let mut runs = vec![selected.is_none(); n];
        if let Some(sel) = &selected {
            let mut stack: Vec<usize> = sel.iter().map(|s| graph.producers[*s].0).collect();
            while let Some(i) = stack.pop() {
                if !runs[i] {
                    runs[i] = true;
                    stack.extend(&graph.deps[i]);
                }
            }
        }
        let nodes: Vec<usize> = (0..n).filter(|&i| runs[i]).collect();

        // Which outputs of each running node are kept: consumed by a running node, or
        // returned. Without a selection every output is returned, except that a nested
        // pipeline returns only its outputs that other nodes consume, or all of them when
        // nothing consumes any (a terminal nested node).
        let consumed: HashSet<&str> = nodes
            .iter()
            .flat_map(|&i| pipeline.nodes()[i].params().iter().map(|q| q.name()))
            .collect();
        let mut keep = vec![Vec::new(); n];
        let mut outputs = Vec::new();
        for &i in &nodes {
            let node = &pipeline.nodes()[i];
            let computed = computed_outputs(node, &consumed);
            keep[i] = node
                .outputs()
                .iter()
                .zip(computed)
                .map(|(o, computed)| {
                    let returned = match &selected {
                        Some(s) => s.contains(o.name()),
                        None => computed,
                    };
                    if returned {
                        outputs.push(o.name().to_string());
                    }
                    returned || consumed.contains(o.name())
                })
                .collect();
        }
        outputs.sort_unstable();

        // The inputs those nodes read, given or bound.
        let required: BTreeSet<&str> = consumed
            .iter()
            .copied()
            .filter(|name| graph.inputs.contains_key(*name))
            .collect();
        let mut values = Inputs::new();
        let mut missing = Vec::new();
        let mut errors = Vec::new();
        for &name in &required {
            match inputs.get(name).or_else(|| pipeline.bound_inputs().get(name)) {
                None => missing.push(name.to_string()),
                Some(value) => {
                    if !mapped.contains(&name) {
                        let checked = pipeline.check_input_type(name, value).and_then(|()| {
                            value.force().map_err(|e| Error::ResourceFailed {
                                input: name.into(),
                                source: e.into(),
                            })
                        });
                        errors.extend(checked.err());
                    }
                    values.insert_value(name, value.clone());
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::MissingInputs {
                missing,
                required: required
                    .iter()
                    .filter(|r| !pipeline.bound_inputs().contains(r))
                    .map(|r| r.to_string())
                    .collect(),
            });
        }
        Error::combine(errors)?;
        Ok(RunPlan {
            pipeline: pipeline.clone(),
            nodes,
            keep,
            outputs,
            inputs: values,
            config,
        })
    }

    /// A plan of the nodes and outputs only, for an engine that supplies the input
    /// columns itself (a nested pipeline inside the columnar engine): unbound inputs are
    /// neither required nor checked, and [`RunPlan::inputs`] holds the bound ones.
    #[doc(hidden)]
    pub fn for_columns(pipeline: &Pipeline, select: Option<&[String]>, config: Arc<RunConfig>) -> Result<RunPlan> {
        let unbound = pipeline.unfulfilled_args();
        let placeholders: Inputs = unbound.iter().map(|n| (*n, crate::Value::new(()))).collect();
        let mut plan = RunPlan::new(pipeline, &placeholders, select, &unbound, config)?;
        for name in unbound {
            plan.inputs.remove(name);
        }
        Ok(plan)
    }

    /// The pipeline being run.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The indices (into [`Pipeline::nodes`]) of the nodes to run, in execution order.
    pub fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// For node `index`, which of its outputs are needed (consumed or returned).
    pub fn kept_outputs(&self, index: usize) -> &[bool] {
        &self.keep[index]
    }

    /// The output names to return, sorted.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// The input values the nodes read (given or bound), type-checked.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// The configuration the run executes with, resolved: every field set (the engine,
    /// both executors and the failure policy from the built-in defaults when no level
    /// sets them; retries and timeout stay unset when none does).
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    #[doc(hidden)]
    pub fn config_arc(&self) -> &Arc<RunConfig> {
        &self.config
    }
}

/// One mapped input: the list value, its length and its element type.
#[derive(Clone, Debug)]
pub struct MappedInput {
    name: String,
    list: Arc<Value>,
    len: usize,
    elem: fn() -> TypeInfo,
}

impl MappedInput {
    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The list's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole list (a `Vec` of the element type).
    pub fn list(&self) -> &Value {
        &self.list
    }

    /// Element `index` of the list, as a view that copies nothing.
    pub fn element(&self, index: usize) -> Value {
        Value::item(self.list.clone(), index, self.elem)
    }
}

/// What one map will do: a [`RunPlan`] plus the mapped lists and the item count.
#[derive(Clone, Debug)]
pub struct MapPlan {
    run: RunPlan,
    over: Vec<MappedInput>,
    mode: MapMode,
    len: usize,
    /// The item of the whole map that this plan's item 0 is (a window of a streamed
    /// map: see [`MapPlan::window`]).
    first: usize,
}

impl MapPlan {
    #[doc(hidden)]
    pub fn new(
        pipeline: &Pipeline,
        inputs: &Inputs,
        over: &[&str],
        mode: MapMode,
        select: Option<&[String]>,
        config: Arc<RunConfig>,
    ) -> Result<MapPlan> {
        if over.is_empty() {
            return Err(Error::EmptyMapOver);
        }
        for (i, name) in over.iter().enumerate() {
            if over[..i].contains(name) {
                return Err(Error::Invalid(format!("map_over names '{name}' twice")));
            }
            if pipeline.input_type(name).is_none() {
                return Err(Error::MapOverNotInput {
                    name: (*name).into(),
                    inputs: pipeline.inputs().iter().map(|s| s.to_string()).collect(),
                    suggestion: closest(name, pipeline.inputs()),
                });
            }
        }
        let run = RunPlan::new(pipeline, inputs, select, over, config)?;
        let mut mapped = Vec::with_capacity(over.len());
        for name in over {
            let elem = pipeline.input_type(name).expect("checked above");
            let value = match inputs.get(name).or_else(|| pipeline.bound_inputs().get(name)) {
                Some(v) => v,
                None => {
                    return Err(Error::MissingInputs {
                        missing: vec![name.to_string()],
                        required: run.inputs().names().chain([*name]).map(String::from).collect(),
                    });
                }
            };
            let len = elem.list_len(value).ok_or_else(|| Error::NotAList {
                input: (*name).into(),
                expected: elem.name().into(),
                found: value.type_name().into(),
            })?;
            mapped.push(MappedInput {
                name: name.to_string(),
                list: Arc::new(value.clone()),
                len,
                elem: elem.this_fn(),
            });
        }
        let len = match mode {
            MapMode::Zip => {
                let first = mapped[0].len;
                if mapped.iter().any(|m| m.len != first) {
                    return Err(Error::ZipLengthMismatch {
                        lengths: mapped.iter().map(|m| (m.name.clone(), m.len)).collect(),
                    });
                }
                first
            }
            MapMode::Product => mapped.iter().map(|m| m.len).product(),
        };
        Ok(MapPlan {
            run,
            over: mapped,
            mode,
            len,
            first: 0,
        })
    }

    /// The plan of `items` of this map alone, run with `config`: its item `i` is item
    /// `items.start + i` of this plan (what a streamed map hands its engine, a piece at a
    /// time; the engine names the items of the window from 0).
    #[doc(hidden)]
    pub fn window(&self, items: Range<usize>, config: Arc<RunConfig>) -> MapPlan {
        let mut plan = self.clone();
        plan.run.config = config;
        plan.first = self.first + items.start;
        plan.len = items.len();
        plan
    }

    /// The item of the whole map that item 0 of this plan is: 0 unless this plan is a
    /// [`MapPlan::window`].
    #[doc(hidden)]
    pub fn first(&self) -> usize {
        self.first
    }

    /// The plan of each item's run (its inputs hold the whole mapped lists).
    pub fn run_plan(&self) -> &RunPlan {
        &self.run
    }

    /// The mapped inputs, in `map_over` order.
    pub fn over(&self) -> &[MappedInput] {
        &self.over
    }

    /// Zip or product.
    pub fn mode(&self) -> MapMode {
        self.mode
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f(k, j)` for each mapped input `k` with the index `j` of its element that
    /// item `item` reads.
    #[inline]
    pub fn for_each_element(&self, item: usize, f: impl FnMut(usize, usize)) {
        self.mode
            .for_each_element(self.over.len(), |k| self.over[k].len, self.first + item, f)
    }
}
