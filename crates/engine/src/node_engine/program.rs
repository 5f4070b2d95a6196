//! A plan compiled to slot numbers ([`Program`]) and its runs: item by item (one after
//! another, wave by wave on the node executor's pool, or as a future), reporting to the
//! run's callbacks, or node by node over all items through the cache.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use smallvec::SmallVec;

use super::cache::{Cells, cached_node};
use super::call::{Produced, call_node, call_node_async, call_plain, invoke_node};
use crate::error::{Error, Result};
use crate::events::{Events, NodeData, Tick, runs};
use crate::exec::ExecutorPool;
use crate::exec::{Executor, ItemFailure, OnError, RunConfig};
use crate::nested::{NodeKind, kind};
use crate::node::{Node, NodeImpl};
use crate::outputs::Outputs;
use crate::plan::MapPlan;
use crate::plan::RunPlan;
use crate::value::{TypeInfo, Value};

/// A plan compiled to slot numbers: each value a run holds has a slot, each node reads
/// and writes slots. Owns what it needs, so the items of an async map can share it.
#[derive(Clone)]
pub(super) struct Program {
    config: Arc<RunConfig>,
    pub(super) node_executor: Executor,
    /// The pool that runs the waves of independent nodes, if any wave has several.
    node_pool: Option<&'static rayon::ThreadPool>,
    /// How many slots an item's run holds.
    n_slots: usize,
    inputs: Vec<(usize, Value)>,
    steps: Vec<Step>,
    /// Groups of steps whose inputs are ready once the groups before have run, in step
    /// order: the nodes the node executor may run at the same time.
    waves: Vec<Vec<usize>>,
    pub(super) outputs: Vec<OutputSlot>,
    /// Slots refilled for every item: node outputs.
    pub(super) per_item: Vec<usize>,
    /// For a map, the slot of each mapped input (`None` when no running node reads it).
    mapped: Vec<Option<usize>>,
}

#[derive(Clone)]
struct Step {
    node: Node,
    /// The function of a node the run calls with neither retries nor a timeout.
    plain: Option<Arc<dyn NodeImpl>>,
    keep: SmallVec<[bool; 4]>,
    args: SmallVec<[usize; 4]>,
    /// The slot of each output, `None` for outputs nobody needs.
    outs: SmallVec<[Option<usize>; 2]>,
}

#[derive(Clone)]
pub(super) struct OutputSlot {
    pub(super) name: Arc<str>,
    pub(super) slot: usize,
    pub(super) ty: TypeInfo,
}

impl Program {
    /// The program of `plan`; `over` names the inputs a map fills per item.
    pub(super) fn new(plan: &RunPlan, over: &[&str]) -> Program {
        let nodes = plan.pipeline().nodes();
        let mut slots: HashMap<&str, usize> = HashMap::new();
        let mut inputs = Vec::new();
        for (name, value) in plan.inputs().iter() {
            let n = slots.len();
            slots.insert(name, n);
            inputs.push((n, value.clone()));
        }
        let mut steps = Vec::with_capacity(plan.nodes().len());
        let mut per_item = Vec::new();
        let mut ports: HashMap<&str, &crate::node::Port> = HashMap::new();
        let node_executor = plan.config().node_executor().unwrap_or_default();
        // Waves only for a node executor that runs nodes at once (a sequential one runs
        // the steps in order, and a nested run per item pays nothing for them). The wave
        // of the step producing each slot (inputs: none).
        let grouped = node_executor != Executor::Sequential;
        let mut wave_of_slot: HashMap<usize, usize> = HashMap::new();
        let mut waves: Vec<Vec<usize>> = Vec::new();
        for &i in plan.nodes() {
            let node = &nodes[i];
            let keep = plan.kept_outputs(i);
            let args: SmallVec<[usize; 4]> = node.params().iter().map(|p| slots[p.name()]).collect();
            let wave = if grouped {
                args.iter()
                    .filter_map(|a| wave_of_slot.get(a))
                    .map(|w| w + 1)
                    .max()
                    .unwrap_or(0)
            } else {
                0
            };
            let mut outs = SmallVec::new();
            for (port, &kept) in node.outputs().iter().zip(keep) {
                outs.push(kept.then(|| {
                    let n = slots.len();
                    slots.insert(port.name(), n);
                    ports.insert(port.name(), port);
                    per_item.push(n);
                    if grouped {
                        wave_of_slot.insert(n, wave);
                    }
                    n
                }));
            }
            if grouped {
                if waves.len() <= wave {
                    waves.resize_with(wave + 1, Vec::new);
                }
                waves[wave].push(steps.len());
            }
            let config = plan.config();
            let plain = match kind(node) {
                NodeKind::Func(f) if config.retry().is_none() && config.timeout().is_none() && f.plain() => {
                    Some(f.clone())
                }
                _ => None,
            };
            steps.push(Step {
                plain,
                node: node.clone(),
                keep: keep.into(),
                args,
                outs,
            });
        }
        let outputs = plan
            .outputs()
            .iter()
            .map(|name| OutputSlot {
                name: ports[name.as_str()].name_arc().clone(),
                slot: slots[name.as_str()],
                ty: ports[name.as_str()].type_info(),
            })
            .collect();
        let node_pool = match node_executor.pool() {
            Some((pool, _)) if waves.iter().any(|w| w.len() > 1) => Some(pool),
            _ => None,
        };
        Program {
            config: plan.config_arc().clone(),
            node_executor,
            node_pool,
            n_slots: slots.len(),
            mapped: over.iter().map(|m| slots.get(m).copied()).collect(),
            inputs,
            steps,
            waves,
            outputs,
            per_item,
        }
    }

    /// Whether a step is an `async fn` node (the async executor awaits those).
    pub(super) fn has_async(&self) -> bool {
        self.steps.iter().any(|s| s.node.is_async())
    }

    /// The node producing output `name`.
    pub(super) fn producer(&self, name: &str) -> &Node {
        let step = self
            .steps
            .iter()
            .find(|s| s.node.outputs().iter().any(|o| o.name() == name));
        &step.expect("a returned output has a producer").node
    }

    pub(super) fn initial_slots(&self) -> Vec<Option<Value>> {
        let mut slots = vec![None; self.n_slots];
        for (slot, value) in &self.inputs {
            slots[*slot] = Some(value.clone());
        }
        slots
    }

    /// Puts item `item`'s elements of the mapped lists in their slots.
    #[inline]
    pub(super) fn fill_item(&self, plan: &MapPlan, item: usize, slots: &mut [Option<Value>]) {
        plan.for_each_element(item, |k, j| {
            if let Some(slot) = self.mapped[k] {
                slots[slot] = Some(plan.over()[k].element(j));
            }
        });
    }

    /// Takes the returned outputs out of the slots, in output order.
    pub(super) fn take_outputs(&self, slots: &mut [Option<Value>]) -> Result<SmallVec<[Value; 2]>> {
        self.outputs.iter().map(|out| take(slots, out.slot)).collect()
    }

    pub(super) fn outputs_of(&self, slots: &mut [Option<Value>]) -> Result<Outputs> {
        let values = self
            .outputs
            .iter()
            .map(|out| take(slots, out.slot).map(|v| (out.name.to_string(), v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Outputs::from_values(values))
    }

    #[inline]
    fn args<'s>(&self, step: &Step, slots: &'s [Option<Value>]) -> SmallVec<[&'s Value; 4]> {
        step.args
            .iter()
            .map(|&s| slots[s].as_ref().expect("inputs and earlier outputs are filled"))
            .collect()
    }

    #[inline]
    fn store(step: &Step, out: Produced, slots: &mut [Option<Value>]) {
        out.for_each(|k, value| {
            if let Some(slot) = step.outs[k] {
                slots[slot] = Some(value);
            }
        });
    }

    /// Runs every step on one item's slots: one after another, or wave by wave on the
    /// node executor's pool.
    pub(super) fn exec(&self, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        if let Some(events) = self.config.events() {
            return self.exec_reporting(events, slots, item);
        }
        let pool = match self.node_pool {
            Some(pool) => pool,
            None => {
                for step in &self.steps {
                    let args = self.args(step, slots);
                    let out = match &step.plain {
                        Some(f) => call_plain(&step.node, &**f, &args, item)?,
                        None => call_node(&self.config, &step.node, &step.keep, &args, item)?,
                    };
                    drop(args);
                    Self::store(step, out, slots);
                }
                return Ok(());
            }
        };
        self.exec_waves(pool, slots, item)
    }

    /// [`Program::exec`] reporting to callbacks: the item's start and end (in a map),
    /// each node's start and end or error. One clock reading per node: a node's time runs
    /// from the end of the one before.
    fn exec_reporting(&self, events: &Events, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        let items = item.map_or(0..1, |i| i..i + 1);
        let started = events.tick();
        if item.is_some() {
            events.item_start(items.clone());
        }
        let done = match self.node_pool {
            Some(pool) => self.exec_waves(pool, slots, item).map(|()| events.tick()),
            None => self.exec_steps_reporting(events, slots, item, started),
        };
        match done {
            Ok(end) => {
                if item.is_some() {
                    events.item_end(items, end.since(started));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The steps one after another, each reported, a node's time running from the end of
    /// the one before (`started` for the first); returns the end of the last.
    fn exec_steps_reporting(
        &self,
        events: &Events,
        slots: &mut [Option<Value>],
        item: Option<usize>,
        started: Tick,
    ) -> Result<Tick> {
        let items = item.map_or(0..1, |i| i..i + 1);
        let mut at = started;
        for step in &self.steps {
            let args = self.args(step, slots);
            events.node_start(&step.node, items.clone(), &NodeData::refs(step.node.params(), &args));
            let out = match &step.plain {
                Some(f) => call_plain(&step.node, &**f, &args, item),
                None => invoke_node(&self.config, &step.node, &step.keep, &args, item),
            };
            drop(args);
            match out {
                Ok(out) => {
                    let now = events.tick();
                    events.node_end(&step.node, items.clone(), now.since(at), &out.data(&step.node));
                    at = now;
                    Self::store(step, out, slots);
                }
                Err(e) => {
                    events.node_error(&step.node, item, &e);
                    return Err(e);
                }
            }
        }
        Ok(at)
    }

    /// Runs the steps wave by wave, the nodes of a wave at once on `pool`.
    fn exec_waves(&self, pool: &rayon::ThreadPool, slots: &mut [Option<Value>], item: Option<usize>) -> Result<()> {
        for wave in &self.waves {
            let produced: Vec<Result<Produced>> = if wave.len() == 1 {
                let step = &self.steps[wave[0]];
                vec![call_node(
                    &self.config,
                    &step.node,
                    &step.keep,
                    &self.args(step, slots),
                    item,
                )]
            } else {
                let shared: &[Option<Value>] = slots;
                pool.install(|| {
                    wave.par_iter()
                        .with_max_len(1)
                        .map(|&s| {
                            let step = &self.steps[s];
                            call_node(&self.config, &step.node, &step.keep, &self.args(step, shared), item)
                        })
                        .collect()
                })
            };
            // The first failing node in step order, whichever finished first.
            for (&s, out) in wave.iter().zip(produced) {
                Self::store(&self.steps[s], out?, slots);
            }
        }
        Ok(())
    }

    /// Runs every step on one item's slots as a future: `async fn` nodes are awaited,
    /// the others run on the runtime's blocking pool; a wave's nodes run at once unless
    /// the node executor is sequential.
    pub(super) async fn exec_async(
        self: Arc<Self>,
        mut slots: Vec<Option<Value>>,
        item: Option<usize>,
    ) -> Result<Vec<Option<Value>>> {
        let events = self.config.events().filter(|_| item.is_some());
        let started = events.map_or_else(Tick::now, Events::tick);
        if let (Some(events), Some(i)) = (events, item) {
            events.item_start(i..i + 1);
        }
        let together = self.node_executor != Executor::Sequential;
        // Without waves (a sequential node executor), each step is a wave of its own.
        let groups = if self.waves.is_empty() {
            self.steps.len()
        } else {
            self.waves.len()
        };
        for g in 0..groups {
            let alone = [g];
            let wave: &[usize] = if self.waves.is_empty() { &alone } else { &self.waves[g] };
            let calls = wave.iter().map(|&s| {
                let step = &self.steps[s];
                let args: Vec<Value> = self.args(step, &slots).into_iter().cloned().collect();
                let keep: Arc<[bool]> = step.keep.as_slice().into();
                call_node_async(self.config.clone(), step.node.clone(), keep, args, item)
            });
            let produced: Vec<Result<Produced>> = if together && wave.len() > 1 {
                futures::future::join_all(calls).await
            } else {
                let mut out = Vec::with_capacity(wave.len());
                for call in calls {
                    out.push(call.await);
                }
                out
            };
            for (&s, out) in wave.iter().zip(produced) {
                Self::store(&self.steps[s], out?, &mut slots);
            }
        }
        if let (Some(events), Some(i)) = (events, item) {
            events.item_end(i..i + 1, started.elapsed());
        }
        Ok(slots)
    }
}

impl Program {
    /// Runs the steps node by node over `n` items (the items of `map`, or the one item of
    /// a run), with the cache: each node computes the digests of its items' arguments,
    /// looks the items up (the whole batch in one call, else item by item), computes the
    /// others on the map executor and stores the batch. Failed items are recorded in
    /// `failures` under [`OnError::Collect`]; otherwise the error of the smallest failing
    /// item is returned, as in the item-by-item run.
    pub(super) fn exec_cached(
        &self,
        n: usize,
        map: Option<&MapPlan>,
        failures: &mut Vec<ItemFailure>,
    ) -> Result<Vec<Cells>> {
        let config = &self.config;
        let on_error = config.on_error().unwrap_or_default();
        let mut cells: Vec<Option<Cells>> = (0..self.n_slots).map(|_| None).collect();
        for (slot, value) in &self.inputs {
            cells[*slot] = Some(Cells::Const(value.clone()));
        }
        if let Some(map) = map {
            let mut columns: Vec<Vec<Option<Value>>> = self.mapped.iter().map(|_| Vec::with_capacity(n)).collect();
            for item in 0..n {
                map.for_each_element(item, |k, j| {
                    if self.mapped[k].is_some() {
                        columns[k].push(Some(map.over()[k].element(j)));
                    }
                });
            }
            for (slot, column) in self.mapped.iter().zip(columns) {
                if let Some(slot) = slot {
                    cells[*slot] = Some(Cells::Items(column, None));
                }
            }
        }
        let mut alive = vec![true; n];
        // With callbacks, in a map: every item starts now, and ends cached when no node
        // computed it.
        let events = config.events().filter(|_| map.is_some());
        let started = events.map_or_else(Tick::now, Events::tick);
        let mut computed = Vec::new();
        if let Some(events) = events {
            events.item_start(0..n);
            computed = vec![false; n];
        }
        // Under `OnError::Fail`: the smallest failing item so far and its error. Later
        // nodes run only on the items before it, to find an earlier failure.
        let mut cut: Option<(usize, Error)> = None;
        for step in &self.steps {
            let limit = cut.as_ref().map_or(n, |c| c.0);
            let rows: Vec<usize> = (0..limit).filter(|&i| alive[i]).collect();
            let args: Vec<&Cells> = step
                .args
                .iter()
                .map(|&s| cells[s].as_ref().expect("inputs and earlier outputs are filled"))
                .collect();
            // The outputs later nodes read (their digests are kept with the results).
            let digest_out: Vec<bool> = step
                .outs
                .iter()
                .map(|slot| slot.is_some_and(|slot| self.steps.iter().any(|t| t.args.contains(&slot))))
                .collect();
            let results = cached_node(
                config,
                &step.node,
                &step.keep,
                &rows,
                n,
                &args,
                &digest_out,
                map.is_some(),
            );
            if events.is_some() {
                for &item in &results.computed {
                    computed[item] = true;
                }
            }
            for (item, e) in results.failed {
                alive[item] = false;
                match e {
                    Some(e) if on_error == OnError::Collect => failures.push(ItemFailure::new(item, e)),
                    Some(e) if cut.as_ref().is_none_or(|c| item < c.0) => cut = Some((item, e)),
                    Some(_) | None => {}
                }
            }
            for (k, out) in results.outs.into_iter().enumerate() {
                if let Some(slot) = step.outs[k] {
                    cells[slot] = Some(out);
                }
            }
        }
        failures.sort_by_key(ItemFailure::item);
        if let Some(events) = events {
            let limit = cut.as_ref().map_or(n, |c| c.0);
            let cached = |i: usize| !computed[i];
            runs((0..limit).filter(|&i| alive[i]), |items| {
                events.items_done(items, Some(&cached), started.elapsed())
            });
        }
        if let Some((_, e)) = cut {
            return Err(e);
        }
        Ok(cells
            .into_iter()
            .map(|c| c.unwrap_or(Cells::Items(Vec::new(), None)))
            .collect())
    }
}

pub(super) fn take(slots: &mut [Option<Value>], slot: usize) -> Result<Value> {
    // Unreachable: every returned output is kept by its node, a function node returns a
    // value per output (checked in `call_node`) and a nested node one per kept output
    // (checked in `NestedNode::call`).
    slots[slot]
        .take()
        .ok_or_else(|| Error::Internal(format!("slot {slot} is empty after the run")))
}
