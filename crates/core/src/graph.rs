//! The dependency graph of a pipeline's nodes: duplicate outputs, type checks, cycles and
//! the deterministic execution order, all found when a pipeline is built.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::{Error, Result};
use crate::node::Node;
use crate::value::TypeInfo;

/// Where a pipeline input is read: its type and the first node (in order) reading it.
#[derive(Clone, Debug)]
#[doc(hidden)]
pub struct InputUse {
    pub ty: TypeInfo,
    pub first_reader: usize,
}

/// The wiring of a validated pipeline. Node indices are positions in execution order.
#[derive(Clone, Debug, Default)]
#[doc(hidden)]
pub struct Graph {
    /// The node and output position producing each output name.
    pub producers: HashMap<Arc<str>, (usize, usize)>,
    /// The pipeline's inputs: names no node produces.
    pub inputs: BTreeMap<Arc<str>, InputUse>,
    /// For each node, the nodes producing its parameters.
    pub deps: Vec<Vec<usize>>,
}

/// Validates `nodes` and returns them in execution order with their graph.
///
/// Every problem is reported at once: duplicate outputs, type mismatches between
/// producers and consumers (or between two readers of one input), and a cycle.
#[doc(hidden)]
pub fn analyze(nodes: Vec<Node>) -> Result<(Vec<Node>, Graph)> {
    let mut errors = Vec::new();

    let mut producers: HashMap<Arc<str>, (usize, usize)> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for (k, out) in node.outputs().iter().enumerate() {
            match producers.get(out.name()) {
                Some(&(first, _)) => errors.push(Error::DuplicateOutput {
                    output: out.name().into(),
                    first: nodes[first].name().into(),
                    second: node.name().into(),
                }),
                None => {
                    producers.insert(out.name_arc().clone(), (i, k));
                }
            }
        }
    }

    let mut graph = DiGraph::<usize, ()>::with_capacity(nodes.len(), nodes.len());
    let ids: Vec<NodeIndex> = (0..nodes.len()).map(|i| graph.add_node(i)).collect();
    let mut inputs: BTreeMap<Arc<str>, InputUse> = BTreeMap::new();
    for (j, node) in nodes.iter().enumerate() {
        for param in node.params() {
            if let Some(&(i, k)) = producers.get(param.name()) {
                graph.update_edge(ids[i], ids[j], ());
                let produced = nodes[i].outputs()[k].type_info();
                if produced != param.type_info() {
                    errors.push(Error::TypeMismatch {
                        value: param.name().into(),
                        producer: nodes[i].name().into(),
                        producer_type: produced.name().into(),
                        consumer: node.name().into(),
                        consumer_type: param.type_info().name().into(),
                    });
                }
            } else if let Some(seen) = inputs.get(param.name()) {
                if seen.ty != param.type_info() {
                    errors.push(Error::InputTypeConflict {
                        input: param.name().into(),
                        first: nodes[seen.first_reader].name().into(),
                        first_type: seen.ty.name().into(),
                        second: node.name().into(),
                        second_type: param.type_info().name().into(),
                    });
                }
            } else {
                inputs.insert(
                    param.name_arc().clone(),
                    InputUse {
                        ty: param.type_info(),
                        first_reader: j,
                    },
                );
            }
        }
    }

    let order = match topological_order(&nodes, &graph, &ids) {
        Ok(order) => order,
        Err(cycle) => {
            errors.push(cycle);
            Vec::new()
        }
    };
    Error::combine(errors)?;

    // Renumber everything into execution order.
    let mut position = vec![0; nodes.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let deps = order
        .iter()
        .map(|&i| {
            let mut d: Vec<usize> = graph
                .neighbors_directed(ids[i], petgraph::Direction::Incoming)
                .map(|n| position[graph[n]])
                .collect();
            d.sort_unstable();
            d
        })
        .collect();
    for (node, _) in producers.values_mut() {
        *node = position[*node];
    }
    for used in inputs.values_mut() {
        used.first_reader = position[used.first_reader];
    }
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let ordered = order
        .iter()
        .map(|&i| slots[i].take().expect("each node once"))
        .collect();
    Ok((
        ordered,
        Graph {
            producers,
            inputs,
            deps,
        },
    ))
}

/// Kahn's algorithm, taking ready nodes by name (then by position) so the order does not
/// depend on the order nodes were given in.
fn topological_order(nodes: &[Node], graph: &DiGraph<usize, ()>, ids: &[NodeIndex]) -> Result<Vec<usize>> {
    let mut indegree: Vec<usize> = ids
        .iter()
        .map(|&id| graph.neighbors_directed(id, petgraph::Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<Reverse<(&str, usize)>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| Reverse((nodes[i].name(), i)))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for next in graph.neighbors(ids[i]) {
            let j = graph[next];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse((nodes[j].name(), j)));
            }
        }
    }
    if order.len() == nodes.len() {
        Ok(order)
    } else {
        Err(Error::Cycle {
            path: find_cycle(nodes, graph),
        })
    }
}

/// The shortest cycle through the alphabetically first node that lies on a cycle, as
/// node names with the first repeated at the end (`a -> b -> a`, or `f -> f`).
fn find_cycle(nodes: &[Node], graph: &DiGraph<usize, ()>) -> Vec<String> {
    let on_cycle = |scc: &Vec<NodeIndex>| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
    let sccs: Vec<Vec<NodeIndex>> = tarjan_scc(graph).into_iter().filter(on_cycle).collect();
    let name = |id: NodeIndex| nodes[graph[id]].name();
    let Some(start) = sccs.iter().flatten().copied().min_by_key(|&id| (name(id), graph[id])) else {
        return Vec::new();
    };
    let scc = sccs.iter().find(|s| s.contains(&start)).expect("start is in an scc");
    // Breadth-first search from `start` back to `start`, successors by name.
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(at).filter(|n| scc.contains(n)).collect();
        next.sort_by_key(|&n| (name(n), graph[n]));
        for n in next {
            if n == start {
                let mut path = vec![at];
                while let Some(&p) = parent.get(path.last().expect("non-empty")) {
                    path.push(p);
                }
                path.reverse();
                path.push(start);
                return path.into_iter().map(|id| name(id).to_string()).collect();
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(n) {
                e.insert(at);
                queue.push_back(n);
            }
        }
    }
    Vec::new()
}
