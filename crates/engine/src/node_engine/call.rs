//! Calling one node on one item: a function node (its error or panic named, retried and
//! timed out, its results checked) or a nested pipeline, reported to the run's callbacks,
//! directly or as a future.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::events::{Events, NodeData, Tick};
use crate::exec::{RunConfig, block_on, spawn_blocking};
use crate::nested::{NodeKind, kind};
use crate::node::{InvokeArgs, Node, NodeImpl, NodeOutputs};
use crate::value::Value;

/// What one call of a node produced: every output of a function node, or the kept
/// outputs of a nested pipeline.
#[doc(hidden)]
pub enum Produced {
    Func(NodeOutputs),
    Nested(Vec<Option<Value>>),
}

impl Produced {
    /// The outputs of `node` produced, for the callbacks.
    #[doc(hidden)]
    pub fn data<'a>(&'a self, node: &'a Node) -> NodeData<'a> {
        match self {
            Produced::Func(out) => NodeData::values(node.outputs(), out),
            Produced::Nested(out) => NodeData::some(node.outputs(), out),
        }
    }

    /// Calls `f(k, value)` for each output `k` produced.
    #[inline]
    #[doc(hidden)]
    pub fn for_each(self, mut f: impl FnMut(usize, Value)) {
        match self {
            Produced::Func(out) => out.into_iter().enumerate().for_each(|(k, v)| f(k, v)),
            Produced::Nested(out) => out
                .into_iter()
                .enumerate()
                .for_each(|(k, v)| v.into_iter().for_each(|v| f(k, v))),
        }
    }
}

/// Calls one node on one item, reporting its start and its end or error to the run's
/// callbacks: see [`invoke_node`].
#[doc(hidden)]
pub fn call_node(
    config: &Arc<RunConfig>,
    node: &Node,
    keep: &[bool],
    args: &[&Value],
    item: Option<usize>,
) -> Result<Produced> {
    let Some(events) = config.events() else {
        return invoke_node(config, node, keep, args, item);
    };
    let started = node_started(events, node, item, &NodeData::refs(node.params(), args));
    let out = invoke_node(config, node, keep, args, item);
    node_done(events, node, item, started, &out);
    out
}

/// Reports the start of a call of `node` on `item` (`0..1` outside a map) with
/// `inputs`, and returns when it started.
fn node_started(events: &Events, node: &Node, item: Option<usize>, inputs: &NodeData<'_>) -> Tick {
    events.node_start(node, item.map_or(0..1, |i| i..i + 1), inputs);
    events.tick()
}

/// Reports how a call of `node` on `item` started at `started` ended.
fn node_done(events: &Events, node: &Node, item: Option<usize>, started: Tick, out: &Result<Produced>) {
    match out {
        Ok(out) => events.node_end(
            node,
            item.map_or(0..1, |i| i..i + 1),
            started.elapsed(),
            &out.data(node),
        ),
        Err(e) => events.node_error(node, item, e),
    }
}

/// Calls one node on one item: a function node (its error or panic named with the node
/// and item, retried and timed out as its options or `config` say, its results checked
/// against its declared outputs) or a nested pipeline (run with `config` as its parent's
/// configuration), which produces only the outputs in `keep`. Reports nothing itself (a
/// nested pipeline's inner run reports its own events).
#[doc(hidden)]
pub fn invoke_node(
    config: &Arc<RunConfig>,
    node: &Node,
    keep: &[bool],
    args: &[&Value],
    item: Option<usize>,
) -> Result<Produced> {
    match kind(node) {
        NodeKind::Func(f) if config.retry().is_none() && config.timeout().is_none() && f.plain() => {
            call_plain(node, &**f, args, item)
        }
        NodeKind::Func(f) => {
            let timeout = f.timeout().or(config.timeout());
            let once = || match timeout {
                None if f.is_async() => {
                    let owned: Vec<Value> = args.iter().map(|v| (*v).clone()).collect();
                    catch_unwind(AssertUnwindSafe(|| block_on(f.invoke_async(owned))))
                        .map_err(|panic| panicked(node, item, panic))?
                        .map_err(|e| failed(node, item, e))
                }
                None => catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(args))))
                    .map_err(|panic| panicked(node, item, panic))?
                    .map_err(|e| failed(node, item, e)),
                Some(after) => {
                    let owned: Vec<Value> = args.iter().map(|v| (*v).clone()).collect();
                    block_on(attempt_async(f.clone(), node, owned, item, after))
                }
            };
            let retry = f.retry().or(config.retry());
            let mut attempt = 0;
            let out = loop {
                match once() {
                    Err(e) if retryable(&e) && retry.is_some_and(|r| attempt < r.retries()) => {
                        std::thread::sleep(retry.expect("checked").delay(attempt));
                        attempt += 1;
                    }
                    other => break after_attempts(other, attempt),
                }
            }?;
            checked(node, out, item)
        }
        NodeKind::Nested(nested) => Ok(Produced::Nested(
            nested
                .call(config, args, keep, item)
                .map_err(|e| failed(node, item, Box::new(e)))?,
        )),
    }
}

/// A function node without retries or timeout, called once: the common case, kept short.
#[inline(always)]
pub(super) fn call_plain(node: &Node, f: &dyn NodeImpl, args: &[&Value], item: Option<usize>) -> Result<Produced> {
    let out = catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(args))))
        .map_err(|panic| panicked(node, item, panic))?
        .map_err(|e| failed(node, item, e))?;
    checked(node, out, item)
}

/// [`call_node`] as a future: an `async fn` node is awaited (and cancelled by its
/// timeout); any other node runs on the runtime's blocking pool.
#[doc(hidden)]
pub async fn call_node_async(
    config: Arc<RunConfig>,
    node: Node,
    keep: Arc<[bool]>,
    args: Vec<Value>,
    item: Option<usize>,
) -> Result<Produced> {
    let Some(events) = config.events().cloned() else {
        return invoke_node_async(config, node, keep, args, item).await;
    };
    let started = node_started(&events, &node, item, &NodeData::values(node.params(), &args));
    let out = invoke_node_async(config, node.clone(), keep, args, item).await;
    node_done(&events, &node, item, started, &out);
    out
}

/// [`invoke_node`] as a future.
async fn invoke_node_async(
    config: Arc<RunConfig>,
    node: Node,
    keep: Arc<[bool]>,
    args: Vec<Value>,
    item: Option<usize>,
) -> Result<Produced> {
    let f = match kind(&node) {
        NodeKind::Func(f) if f.is_async() => f.clone(),
        _ => {
            let name = node.name().to_string();
            return spawn_blocking(move || {
                let refs: Vec<&Value> = args.iter().collect();
                invoke_node(&config, &node, &keep, &refs, item)
            })
            .await
            .unwrap_or_else(|e| {
                Err(Error::NodePanicked {
                    node: name.into(),
                    item,
                    message: panic_message(e.into_panic()).into(),
                })
            });
        }
    };
    let timeout = f.timeout().or(config.timeout());
    let retry = f.retry().or(config.retry());
    let mut attempt = 0;
    let out = loop {
        let once = match timeout {
            Some(after) => attempt_async(f.clone(), &node, args.clone(), item, after).await,
            None => {
                use futures::FutureExt;
                AssertUnwindSafe(f.invoke_async(args.clone()))
                    .catch_unwind()
                    .await
                    .map_err(|panic| panicked(&node, item, panic))?
                    .map_err(|e| failed(&node, item, e))
            }
        };
        match once {
            Err(e) if retryable(&e) && retry.is_some_and(|r| attempt < r.retries()) => {
                tokio::time::sleep(retry.expect("checked").delay(attempt)).await;
                attempt += 1;
            }
            other => break after_attempts(other, attempt),
        }
    }?;
    checked(&node, out, item)
}

/// One attempt of a function node with a timeout: an `async fn` node's future is
/// dropped (cancelled) when the time is up; any other node runs on the runtime's
/// blocking pool and, when the time is up, is left to finish there, its result dropped.
async fn attempt_async(
    f: Arc<dyn NodeImpl>,
    node: &Node,
    args: Vec<Value>,
    item: Option<usize>,
    after: Duration,
) -> Result<NodeOutputs> {
    use futures::FutureExt;
    let result = if f.is_async() {
        let fut = AssertUnwindSafe(f.invoke_async(args)).catch_unwind();
        tokio::time::timeout(after, fut)
            .await
            .map(|r| r.map_err(|p| panicked(node, item, p)))
    } else {
        let call = spawn_blocking(move || {
            let refs: Vec<&Value> = args.iter().collect();
            catch_unwind(AssertUnwindSafe(|| f.invoke(InvokeArgs::new(&refs))))
        });
        tokio::time::timeout(after, call).await.map(|joined| match joined {
            Ok(r) => r.map_err(|p| panicked(node, item, p)),
            Err(e) => Err(panicked(node, item, e.into_panic())),
        })
    };
    match result {
        Err(_elapsed) => Err(Error::Timeout {
            node: node.name().into(),
            item,
            after,
        }),
        Ok(r) => r?.map_err(|e| failed(node, item, e)),
    }
}

fn failed(node: &Node, item: Option<usize>, source: crate::error::BoxError) -> Error {
    Error::NodeFailed {
        node: node.name().into(),
        item,
        source,
    }
}

fn panicked(node: &Node, item: Option<usize>, panic: Box<dyn std::any::Any + Send>) -> Error {
    Error::NodePanicked {
        node: node.name().into(),
        item,
        message: panic_message(panic).into(),
    }
}

/// Whether a failed attempt may be retried: an error the node returned or a timeout,
/// never a panic.
fn retryable(e: &Error) -> bool {
    matches!(e, Error::NodeFailed { .. } | Error::Timeout { .. })
}

/// The result of the last attempt, a failure saying how many attempts were made.
fn after_attempts(result: Result<NodeOutputs>, retries: u32) -> Result<NodeOutputs> {
    match result {
        Err(Error::NodeFailed { node, item, source }) if retries > 0 => Err(Error::NodeFailed {
            node,
            item,
            source: format!("{source} (gave up after {} attempts)", retries + 1).into(),
        }),
        other => other,
    }
}

/// A function node's results, checked against its declared outputs.
#[inline(always)]
fn checked(node: &Node, out: NodeOutputs, item: Option<usize>) -> Result<Produced> {
    let ports = node.outputs();
    if out.len() != ports.len() {
        return Err(failed(
            node,
            item,
            format!("returned {} value(s) for {} output(s)", out.len(), ports.len()).into(),
        ));
    }
    for (value, port) in out.iter().zip(ports) {
        if value.type_info() != port.type_info() {
            return Err(failed(
                node,
                item,
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

/// The text of a panic payload.
#[doc(hidden)]
pub fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => s.to_string(),
            Err(_) => "(a panic payload that is not a string)".to_string(),
        },
    }
}
