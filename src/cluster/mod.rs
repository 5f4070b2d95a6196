//! Runs on an [Apache Ballista](https://datafusion.apache.org/ballista/) cluster: the
//! same pipeline, as one DataFusion plan, scheduled over executors that find its nodes
//! by name in their [`Registry`].
//!
//! A cluster is a scheduler and any number of executors (`hypernodes cluster scheduler`
//! and `hypernodes cluster executor`, or [`run_scheduler`] and [`run_executor`] in a
//! binary of your own built with your registry). A [`FileRun`](crate::io::FileRun)
//! given a [`Cluster`] ([`FileRun::with_remote`](crate::io::FileRun::with_remote)) compiles the pipeline into one plan
//! ([`ColumnarEngine::apply_to_dataframe`](crate::ColumnarEngine::apply_to_dataframe)),
//! sends it to the scheduler as one job per range of each input file's row groups, and
//! writes the rows the executors return to its output as a local run does: in input
//! order, atomically, with the same summary and checksum. (One job of several partitions
//! would return them in the order they finish.)
//!
//! Node UDFs travel as descriptions: the function's registry name, its code hash and
//! its configuration (see [`NodeCodec`]). A process whose function has another code
//! hash refuses the plan, naming the node; a pipeline with a node whose types are not
//! Arrow types (a model, a client) is refused before anything runs
//! ([`Error::Unfit`]).
//!
//! Input files are read by the client (which checks them) and by every executor: a
//! local file at the same path, or an object in a store (`s3://...`), which each
//! executor opens from its own environment's variables (`AWS_*`, `GOOGLE_*`,
//! `AZURE_*`, with the `cloud` feature): a job names the object by URL, never with a
//! credential, so no shared disk is needed. The client writes the output, to a path or
//! an object.

mod codec;
mod range;
mod remote;
mod stores;

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use codec::NodeCodec;
pub(crate) use range::FileRange;

use crate::error::{Error, Result};
use crate::spec::Registry;

/// How often executors report to the scheduler.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// The scheduler's port when a URL gives none (Ballista's).
pub const DEFAULT_PORT: u16 = 50050;

/// A Ballista cluster to run on: a scheduler's address, or a cluster started inside this
/// process (Ballista's standalone mode: an in-process scheduler and executor).
#[derive(Clone, Debug)]
pub struct Cluster {
    target: Target,
    registry: Arc<Registry>,
}

#[derive(Clone, Debug)]
enum Target {
    Remote { host: String, port: u16 },
    Standalone { cores: usize },
}

impl Cluster {
    /// The cluster whose scheduler listens at `url`: `df://host:port` (the port defaults
    /// to 50050).
    ///
    /// # Examples
    ///
    /// ```
    /// use hypernodes::cluster::Cluster;
    ///
    /// assert_eq!(Cluster::remote("df://10.0.0.7:50050")?.url(), "df://10.0.0.7:50050");
    /// assert_eq!(Cluster::remote("df://scheduler")?.url(), "df://scheduler:50050");
    /// assert_eq!(
    ///     Cluster::remote("http://scheduler:50050").unwrap_err().to_string(),
    ///     "Invalid cluster URL 'http://scheduler:50050': expected df://HOST[:PORT]"
    /// );
    /// # Ok::<(), hypernodes::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a URL that is not `df://HOST[:PORT]`.
    pub fn remote(url: &str) -> Result<Cluster> {
        let bad = || Error::Invalid(format!("Invalid cluster URL '{url}': expected df://HOST[:PORT]"));
        let rest = url.strip_prefix("df://").ok_or_else(bad)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
            None => (rest, DEFAULT_PORT),
        };
        if host.is_empty() || host.contains('/') || port == 0 {
            return Err(bad());
        }
        Ok(Cluster {
            target: Target::Remote {
                host: host.to_string(),
                port,
            },
            registry: Arc::new(Registry::new()),
        })
    }

    /// A cluster inside this process (Ballista's standalone mode) with one executor of
    /// `cores` task slots, finding nodes in `registry`: the cluster path without
    /// processes, for tests and trials.
    pub fn standalone(registry: Registry, cores: usize) -> Cluster {
        Cluster {
            target: Target::Standalone { cores: cores.max(1) },
            registry: Arc::new(registry),
        }
    }

    /// The registry this process decodes plans with (used by a standalone cluster's
    /// executor; a remote cluster's executors use their own). Default: the built-in
    /// functions.
    pub fn with_registry(mut self, registry: Registry) -> Cluster {
        self.registry = Arc::new(registry);
        self
    }

    /// The scheduler's URL (`df://host:port`), or `standalone`.
    pub fn url(&self) -> String {
        match &self.target {
            Target::Remote { host, port } => format!("df://{host}:{port}"),
            Target::Standalone { .. } => "standalone".to_string(),
        }
    }

    /// A DataFusion context whose plans run on this cluster, each in one partition: a run
    /// is split into jobs by [`FileRange`], whose rows then come back in order.
    pub(crate) async fn context(&self) -> Result<SessionContext> {
        let codec = Arc::new(NodeCodec::new(self.registry.as_ref().clone()));
        let mut config = SessionConfig::new_with_ballista()
            .with_target_partitions(1)
            .with_repartition_file_scans(false)
            .with_ballista_logical_extension_codec(codec.clone())
            .with_ballista_physical_extension_codec(codec);
        // Strings read as `Utf8`, as a local run reads them.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        // A standalone cluster's executor reads with this runtime; a remote one's are the
        // executors' own.
        let runtime = stores::runtime_env(None).map_err(|e| Error::Arrow {
            context: "Cannot make the cluster's runtime".into(),
            source: Box::new(e),
        })?;
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .build();
        let url = self.url();
        let connected = match &self.target {
            Target::Remote { .. } => SessionContext::remote_with_state(&url, state).await,
            Target::Standalone { cores } => {
                let config = state.config().clone().with_ballista_standalone_parallelism(*cores);
                let state = SessionStateBuilder::new_from_existing(state)
                    .with_config(config)
                    .build();
                SessionContext::standalone_with_state(state).await
            }
        };
        connected.map_err(|e| Error::Arrow {
            context: format!("Cannot connect to the cluster at {url}").into(),
            source: Box::new(e),
        })
    }
}

/// A tokio runtime for the cluster's network work.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            action: "start a runtime for",
            path: "the cluster".into(),
            source,
        })
}

/// Runs a Ballista scheduler listening at `bind` until the process is stopped (Ctrl-C
/// or SIGTERM), decoding plans with `registry`. An executor not heard from for
/// `executor_timeout` (they report every [`HEARTBEAT`]) is taken as lost: its running
/// tasks go to other executors, and a job with no executor left fails.
///
/// # Errors
///
/// Ballista's errors (the address cannot be bound).
pub fn run_scheduler(bind: SocketAddr, executor_timeout: std::time::Duration, registry: Registry) -> Result<()> {
    let timeout = executor_timeout.as_secs().max(2 * HEARTBEAT.as_secs());
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;

    let codec = Arc::new(NodeCodec::new(registry));
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        executor_timeout_seconds: timeout,
        expire_dead_executor_interval_seconds: (timeout / 3).max(1),
        no_executors_grace_period_seconds: timeout,
        override_logical_codec: Some(codec.clone()),
        override_physical_codec: Some(codec),
        ..SchedulerConfig::default()
    };
    runtime()?.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(ballista("start the scheduler"))?;
        let server = ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config));
        tokio::select! {
            r = server => r.map_err(ballista("run the scheduler")),
            _ = stopped() => Ok(()),
        }
    })
}

/// Runs a Ballista executor with `cores` task slots that registers with the scheduler at
/// `scheduler` (`df://host:port`), listens on `host` (the address other processes reach
/// it at) and `port` for results (and `port + 1` for gRPC), keeps its shuffle files under
/// `work_dir`, and runs nodes from `registry`, until the process is stopped.
///
/// # Errors
///
/// [`Error::Invalid`] for a scheduler URL that is not `df://HOST[:PORT]`; Ballista's
/// errors (a port in use, a scheduler that cannot be reached).
pub fn run_executor(
    scheduler: &str,
    host: &str,
    port: u16,
    cores: usize,
    work_dir: Option<&std::path::Path>,
    registry: Registry,
) -> Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

    let Target::Remote {
        host: scheduler_host,
        port: scheduler_port,
    } = Cluster::remote(scheduler)?.target
    else {
        // Unreachable: `remote` makes a remote cluster.
        return Err(Error::Internal("a remote cluster".into()));
    };
    let codec = Arc::new(NodeCodec::new(registry));
    let temp = work_dir.map(|d| d.display().to_string());
    let config = ExecutorProcessConfig {
        bind_host: host.into(),
        external_host: Some(host.into()),
        port,
        grpc_port: port
            .checked_add(1)
            .ok_or_else(|| Error::Invalid(format!("Executor port {port} is too high")))?,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        vcores: cores.max(1),
        work_dir: work_dir.map(|d| d.display().to_string()),
        executor_heartbeat_interval_seconds: HEARTBEAT.as_secs(),
        print_thread_info: false,
        override_logical_codec: Some(codec.clone()),
        override_physical_codec: Some(codec),
        override_runtime_producer: Some(Arc::new(move |_| stores::runtime_env(temp.as_deref()))),
        ..ExecutorProcessConfig::default()
    };
    runtime()?.block_on(async move {
        tokio::select! {
            r = start_executor_process(Arc::new(config)) => r.map_err(ballista("run the executor")),
            _ = stopped() => Ok(()),
        }
    })
}

/// Resolves when the process is asked to stop (Ctrl-C, SIGTERM).
async fn stopped() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The error of a cluster job: `context`, and the cause as the scheduler or an
/// executor gave it, without the layers of transport around it (a gRPC status, the
/// debug form of the errors it passed through).
pub(crate) fn job_error(context: String, e: datafusion::error::DataFusionError) -> Error {
    let mut text = e.to_string();
    if let Some(start) = text.find("message: \"") {
        let rest = &text[start + "message: \"".len()..];
        text = rest[..rest.find("\", metadata").unwrap_or(rest.len())].to_string();
    }
    while text.contains("\\\"") || text.contains("\\\\") {
        text = text.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    // A hypernodes error inside the debug form of DataFusion's: its own message.
    if let Some(start) = text.rfind(HYPERNODES) {
        let rest = &text[start + HYPERNODES.len()..];
        text = rest[..rest.find("\")").unwrap_or(rest.len())].to_string();
    } else if let Some(failure) = node_failure(&text) {
        text = failure;
    }
    Error::Arrow {
        context: context.into(),
        source: text.trim().to_string().into(),
    }
}

/// A node's failure or panic on an executor, from the debug form in which Ballista
/// reports a task's error (`NodeFailed { node: "x", item: None, source: "why" }`): its
/// message (`Node 'x' failed: why`).
fn node_failure(text: &str) -> Option<String> {
    let field = |from: &str, name: &str| -> Option<String> {
        let start = from.find(&format!("{name}: \""))? + name.len() + 3;
        let rest = &from[start..];
        Some(rest[..rest.find("\", ").or_else(|| rest.find("\" }"))?].to_string())
    };
    for (variant, what, detail) in [
        ("NodeFailed {", "failed", "source"),
        ("NodePanicked {", "panicked", "message"),
    ] {
        if let Some(at) = text.find(variant) {
            let rest = &text[at..];
            return Some(format!(
                "Node '{}' {what}: {}",
                field(rest, "node")?,
                field(rest, detail)?
            ));
        }
    }
    None
}

/// What starts the messages of hypernodes' errors inside DataFusion's on a cluster, so
/// that [`job_error`] finds them.
pub(crate) const HYPERNODES: &str = "hypernodes: ";

/// A Ballista error while doing `what`.
fn ballista<E: std::error::Error + Send + Sync + 'static>(what: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Arrow {
        context: format!("Cannot {what}").into(),
        source: Box::new(e),
    }
}
