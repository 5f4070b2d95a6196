//! The object stores of a cluster's executors ([`EnvStores`]): a [`FileRange`] names
//! its object by URL only (scheme, bucket, key: never a credential), and each executor
//! makes the store of that URL from its own environment, as the client does (the
//! `cloud` feature's stores, from the standard `AWS_*`, `GOOGLE_*` and `AZURE_*`
//! variables).
//!
//! [`FileRange`]: super::FileRange

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::object_store::ObjectStore;
use url::Url;

/// The stores a cluster process reads its inputs from: the local file system and the
/// stores registered with DataFusion, and for the URL of any other object store, the
/// store made from this process's environment on first use (then kept).
#[derive(Debug, Default)]
pub(crate) struct EnvStores {
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for EnvStores {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let store = from_env(url)?;
        // Two tasks may both make it: the last one registered is kept.
        self.known.register_store(url, store.clone());
        Ok(store)
    }
}

/// The store of `url` (an object store's scheme and bucket) made from this process's
/// environment, its read errors as a local run words them.
#[cfg(feature = "cloud")]
fn from_env(url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
    crate::io::store::from_env(url)
        .map(|store| {
            Arc::new(named::Named {
                url: url.clone(),
                store,
            }) as Arc<dyn ObjectStore>
        })
        .map_err(plan_error)
}

/// Without the `cloud` feature, no object store.
#[cfg(not(feature = "cloud"))]
fn from_env(url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
    Err(plan_error(crate::error::Error::Invalid(format!(
        "'{url}' is in an object store: this executor reads object stores with hypernodes' `cloud` feature"
    ))))
}

/// `e` as DataFusion carries it to the client, which finds its message (see
/// [`super::job_error`]).
fn plan_error(e: crate::error::Error) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Plan(format!("{}{e}", super::HYPERNODES))
}

/// The runtime of an executor's tasks (and of a standalone cluster): DataFusion's
/// default one, reading object stores through [`EnvStores`], its temporary files under
/// `work_dir` when given.
pub(crate) fn runtime_env(work_dir: Option<&str>) -> DfResult<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(EnvStores::default()));
    if let Some(dir) = work_dir {
        builder = builder.with_temp_file_path(dir);
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(feature = "cloud")]
mod named {
    //! A store whose read errors name the object's URL, as a local run's do.

    use std::fmt;
    use std::ops::Range;

    use async_trait::async_trait;
    use bytes::Bytes;
    use datafusion::object_store::path::Path;
    use datafusion::object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
        PutOptions, PutPayload, PutResult, Result,
    };
    use futures::stream::BoxStream;
    use std::sync::Arc;
    use url::Url;

    use crate::io::Location;
    use crate::io::store::Object;

    /// `store`, the store of `url` (scheme and bucket), whose read errors are hypernodes'
    /// one-line store errors (see `Object::error`).
    #[derive(Debug)]
    pub(super) struct Named {
        pub(super) url: Url,
        pub(super) store: Arc<dyn ObjectStore>,
    }

    impl Named {
        /// `e`, met reading `path`, as one line naming the object's URL.
        fn error(&self, path: &Path, e: datafusion::object_store::Error) -> datafusion::object_store::Error {
            let mut url = self.url.clone();
            url.set_path(&format!("/{}", crate::io::store::encode_path(path)));
            let object = Object {
                location: Location::from(url.as_str()),
                store: self.store.clone(),
                path: path.clone(),
            };
            datafusion::object_store::Error::Generic {
                store: "hypernodes",
                source: format!("{}{}", crate::cluster::HYPERNODES, object.error("read", e)).into(),
            }
        }
    }

    impl fmt::Display for Named {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(&self.store, f)
        }
    }

    #[async_trait]
    impl ObjectStore for Named {
        async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
            self.store.put_opts(location, payload, opts).await
        }

        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.store.put_multipart_opts(location, opts).await
        }

        async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
            self.store
                .get_opts(location, options)
                .await
                .map_err(|e| self.error(location, e))
        }

        async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
            self.store
                .get_ranges(location, ranges)
                .await
                .map_err(|e| self.error(location, e))
        }

        fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
            self.store.delete_stream(locations)
        }

        fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.store.list(prefix)
        }

        async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
            self.store.list_with_delimiter(prefix).await
        }

        async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
            self.store.copy_opts(from, to, options).await
        }
    }
}
