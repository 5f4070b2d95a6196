//! The node engine: runs a plan node by node, item by item, passing values between
//! nodes without converting them, so any Rust type works.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use smallvec::SmallVec;

use super::Engine;
use crate::error::{Error, Result};
use crate::map::MapPlan;
use crate::node::{InvokeArgs, Node, NodeKind, NodeOutputs};
use crate::outputs::{MapOutputs, Outputs};
use crate::pipeline::RunPlan;
use crate::value::{TypeInfo, Value};

/// Runs pipelines node by node (upstream HyperNodes' `SeqEngine`).
///
/// Values pass between nodes behind `Arc`s and are never converted; items of a map are
/// views into the mapped lists; map results are collected into typed `Vec` columns.
///
/// # Examples
///
/// ```
/// use hypernodes::prelude::*;
///
/// #[node(output = "doubled")]
/// fn double(x: i64) -> i64 { 2 * x }
///
/// let p = Pipeline::new([double::node()]).with_engine(NodeEngine::new());
/// assert_eq!(p.run(&Inputs::new().with("x", 21_i64))?.get::<i64>("doubled")?, 42);
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct NodeEngine {
    _private: (),
}

impl NodeEngine {
    /// The engine used when a pipeline sets none.
    pub const DEFAULT: NodeEngine = NodeEngine { _private: () };

    /// A node engine.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Engine for NodeEngine {
    fn name(&self) -> &str {
        "node"
    }

    fn run(&self, plan: &RunPlan) -> Result<Outputs> {
        let program = Program::new(plan);
        let mut slots = program.initial_slots();
        program.exec(self, &mut slots, None)?;
        let values = program
            .outputs
            .iter()
            .map(|out| take(&mut slots, out.slot).map(|v| (out.name.to_string(), v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Outputs::from_values(values))
    }

    fn map(&self, plan: &MapPlan) -> Result<MapOutputs> {
        let program = Program::new(plan.run_plan());
        let mut slots = program.initial_slots();
        let mapped: Vec<Option<usize>> = plan
            .over()
            .iter()
            .map(|m| program.slots.get(m.name()).copied())
            .collect();
        let mut builders = program
            .outputs
            .iter()
            .map(|out| {
                out.ty.column_builder(plan.len()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "Output '{}': lists of {} nest too deep to collect",
                        out.name, out.ty
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for item in 0..plan.len() {
            plan.for_each_element(item, |k, j| {
                if let Some(slot) = mapped[k] {
                    slots[slot] = Some(plan.over()[k].element(j));
                }
            });
            program.exec(self, &mut slots, Some(item))?;
            for (builder, out) in builders.iter_mut().zip(&program.outputs) {
                builder
                    .push(take(&mut slots, out.slot)?)
                    .map_err(|_| not_owned(program.producer(out.name), out.name, Some(item)))?;
            }
            for &slot in &program.per_item {
                slots[slot] = None;
            }
        }
        let columns = program
            .outputs
            .iter()
            .zip(builders)
            .map(|(out, b)| (out.name.to_string(), b.finish()));
        Ok(MapOutputs::from_columns(plan.len(), columns))
    }
}

fn take(slots: &mut [Option<Value>], slot: usize) -> Result<Value> {
    // Unreachable: every returned output is kept by its node, a function node returns a
    // value per output (checked in `call_node`) and a nested node one per kept output
    // (checked in `NestedNode::call`).
    slots[slot]
        .take()
        .ok_or_else(|| Error::Internal(format!("slot {slot} is empty after the run")))
}

/// The failure of a node that returned, for `output`, a value a map cannot collect: one
/// it does not own (a clone of an argument, or an item of a mapped list), which a
/// [`NodeImpl`](crate::node::NodeImpl) written by hand can return.
pub(crate) fn not_owned(node: &Node, output: &str, item: Option<usize>) -> Error {
    Error::NodeFailed {
        node: node.name().into(),
        item,
        source: format!(
            "returned a value for '{output}' that it does not own (a clone of an argument?); a node must return values of its own to be collected by a map"
        )
        .into(),
    }
}

/// A plan compiled to slot numbers: each value a run holds has a slot, each node reads
/// and writes slots.
struct Program<'p> {
    plan: &'p RunPlan,
    slots: HashMap<&'p str, usize>,
    steps: Vec<Step<'p>>,
    outputs: Vec<OutputSlot<'p>>,
    /// Slots refilled for every item: node outputs.
    per_item: Vec<usize>,
}

struct Step<'p> {
    node: &'p Node,
    keep: &'p [bool],
    args: SmallVec<[usize; 4]>,
    /// The slot of each output, `None` for outputs nobody needs.
    outs: SmallVec<[Option<usize>; 2]>,
}

struct OutputSlot<'p> {
    name: &'p str,
    slot: usize,
    ty: TypeInfo,
}

impl<'p> Program<'p> {
    fn new(plan: &'p RunPlan) -> Program<'p> {
        let nodes = plan.pipeline().nodes();
        let mut slots: HashMap<&'p str, usize> = HashMap::new();
        for name in plan.inputs().names() {
            let n = slots.len();
            slots.insert(name, n);
        }
        let mut steps = Vec::with_capacity(plan.nodes().len());
        let mut per_item = Vec::new();
        let mut types: HashMap<&'p str, TypeInfo> = HashMap::new();
        for &i in plan.nodes() {
            let node = &nodes[i];
            let keep = plan.kept_outputs(i);
            let args = node.params().iter().map(|p| slots[p.name()]).collect();
            let mut outs = SmallVec::new();
            for (port, &kept) in node.outputs().iter().zip(keep) {
                outs.push(kept.then(|| {
                    let n = slots.len();
                    slots.insert(port.name(), n);
                    types.insert(port.name(), port.type_info());
                    per_item.push(n);
                    n
                }));
            }
            steps.push(Step { node, keep, args, outs });
        }
        let outputs = plan
            .outputs()
            .iter()
            .map(|name| OutputSlot {
                name,
                slot: slots[name.as_str()],
                ty: types[name.as_str()],
            })
            .collect();
        Program {
            plan,
            slots,
            steps,
            outputs,
            per_item,
        }
    }

    /// The node producing output `name`.
    fn producer(&self, name: &str) -> &'p Node {
        let step = self
            .steps
            .iter()
            .find(|s| s.node.outputs().iter().any(|o| o.name() == name));
        step.expect("a returned output has a producer").node
    }

    fn initial_slots(&self) -> Vec<Option<Value>> {
        let mut slots = vec![None; self.slots.len()];
        for (name, value) in self.plan.inputs().iter() {
            slots[self.slots[name]] = Some(value.clone());
        }
        slots
    }

    fn exec(&self, engine: &dyn Engine, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        for step in &self.steps {
            let mut args: SmallVec<[&Value; 4]> = SmallVec::new();
            for &s in &step.args {
                args.push(slots[s].as_ref().expect("inputs and earlier outputs are filled"));
            }
            let out = call_node(engine, step.node, step.keep, &args, item)?;
            drop(args);
            out.for_each(|k, value| {
                if let Some(slot) = step.outs[k] {
                    slots[slot] = Some(value);
                }
            });
        }
        Ok(())
    }
}

/// What one call of a node produced: every output of a function node, or the kept
/// outputs of a nested pipeline.
pub(crate) enum Produced {
    Func(NodeOutputs),
    Nested(Vec<Option<Value>>),
}

impl Produced {
    /// Calls `f(k, value)` for each output `k` produced.
    pub(crate) fn for_each(self, mut f: impl FnMut(usize, Value)) {
        match self {
            Produced::Func(out) => out.into_iter().enumerate().for_each(|(k, v)| f(k, v)),
            Produced::Nested(out) => out
                .into_iter()
                .enumerate()
                .for_each(|(k, v)| v.into_iter().for_each(|v| f(k, v))),
        }
    }
}

/// Calls one node on one item: a function node (its error or panic named with the node
/// and item, its results checked against its declared outputs) or a nested pipeline
/// (run on `engine` unless it has its own), which produces only the outputs in `keep`.
pub(crate) fn call_node(
    engine: &dyn Engine,
    node: &Node,
    keep: &[bool],
    args: &[&Value],
    item: Option<usize>,
) -> Result<Produced> {
    let failed = |source| Error::NodeFailed {
        node: node.name().into(),
        item,
        source,
    };
    match node.kind() {
        NodeKind::Func(f) => {
            let out = catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(args))))
                .map_err(|panic| Error::NodePanicked {
                    node: node.name().into(),
                    item,
                    message: panic_message(panic).into(),
                })?
                .map_err(failed)?;
            let ports = node.outputs();
            if out.len() != ports.len() {
                return Err(failed(
                    format!("returned {} value(s) for {} output(s)", out.len(), ports.len()).into(),
                ));
            }
            for (value, port) in out.iter().zip(ports) {
                if value.type_info() != port.type_info() {
                    return Err(failed(
                        format!(
                            "returned {} for output '{}' declared as {}",
                            value.type_name(),
                            port.name(),
                            port.type_info()
                        )
                        .into(),
                    ));
                }
            }
            Ok(Produced::Func(out))
        }
        NodeKind::Nested(nested) => Ok(Produced::Nested(
            nested.call(engine, args, keep).map_err(|e| failed(Box::new(e)))?,
        )),
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "(a panic payload that is not a string)".to_string(),
        },
    }
}
