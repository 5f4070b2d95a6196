//! Objects in object stores (S3, Google Cloud Storage, Azure, HTTP) through the
//! `object_store` crate: the store of a URL ([`Object::open`]), made once per bucket and
//! options and shared; listing a prefix; errors on one line naming the URL; Parquet read
//! by ranges (`parquet`); writes as multipart uploads (`upload`); other formats copied
//! to a local file to read (`spool`).
//!
//! The calls are `async`: they run on one small Tokio runtime of this module, blocked on
//! by the caller (the run's worker threads and writer).

mod aws_profile;
mod parquet;
mod spool;
mod streams;
mod upload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig};
use url::Url;

pub(crate) use self::parquet::{ParquetObject, row_group_reader};
pub(crate) use spool::Spooled;
pub(crate) use streams::held as streams_held;
pub(crate) use upload::{HELD as UPLOAD_HELD, Upload};

use super::Location;
use crate::error::{Error, Result};

/// The runtime the store calls run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hypernodes-store")
            .enable_all()
            .build()
            // Unreachable short of the process running out of threads or files.
            .expect("a Tokio runtime for object stores")
    })
}

/// Runs `future` on the store runtime and waits for it: on this thread, or (when this
/// thread is already in a Tokio runtime, which cannot be blocked) on another.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(|| runtime().block_on(future)).join())
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    } else {
        runtime().block_on(future)
    }
}

/// A store as made once: the scheme and bucket (or host) of its URL, and its options.
type StoreKey = (String, Vec<(String, String)>);

/// An object (or a prefix of objects) in a store.
#[derive(Clone)]
pub(crate) struct Object {
    /// Where it is, as given (its URL names it in errors).
    pub(crate) location: Location,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) path: ObjectPath,
}

impl Object {
    /// The object at `location` (a URL) in its store, made from the URL, the
    /// environment and the location's options (once per bucket and options).
    pub(crate) fn open(location: &Location) -> Result<Object> {
        // Unreachable: only URLs are opened as objects.
        let url = location
            .url()
            .ok_or_else(|| Error::Internal(format!("'{location}' opened as an object")))?;
        let invalid = |e: &dyn std::fmt::Display| Error::Invalid(format!("Cannot use '{location}': {e}"));
        let path = ObjectPath::from_url_path(url.path()).map_err(|e| invalid(&e))?;
        let key = format!("{}://{}", url.scheme(), url.authority());
        static STORES: OnceLock<Mutex<HashMap<StoreKey, Arc<dyn ObjectStore>>>> = OnceLock::new();
        let stores = STORES.get_or_init(Default::default);
        let cache_key = (key, location.options().to_vec());
        if let Some(store) = stores.lock().expect("stores").get(&cache_key) {
            return Ok(Object {
                location: location.clone(),
                store: store.clone(),
                path,
            });
        }
        let store = build(url, location.options()).map_err(|e| match e {
            Error::Invalid(m) => invalid(&m),
            e => e,
        })?;
        stores.lock().expect("stores").insert(cache_key, store.clone());
        Ok(Object {
            location: location.clone(),
            store,
            path,
        })
    }

    /// The object's size, which also tells it exists.
    pub(crate) fn size(&self) -> Result<u64> {
        let meta = block_on(self.store.head(&self.path)).map_err(|e| self.error("read", e))?;
        Ok(meta.size)
    }

    /// The objects under this prefix (the whole "directory", nested keys too), in key
    /// order.
    pub(crate) fn list(&self) -> Result<Vec<Location>> {
        let prefix = (!self.path.as_ref().is_empty()).then_some(&self.path);
        let mut found: Vec<ObjectPath> = block_on(async {
            self.store
                .list(prefix)
                .map_ok(|meta| meta.location)
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(|e| self.error("list", e))?;
        found.sort();
        // Unreachable: the location is a URL.
        let url = self.location.url().expect("a URL");
        found
            .into_iter()
            .map(|p| {
                let mut at = url.clone();
                at.set_path(&format!("/{}", encode_path(&p)));
                Ok(self.location.at(at))
            })
            .collect()
    }

    /// `e`, which `action` (`read`, `write`, `list`) met, as one line naming the URL:
    /// no such bucket, no such object, access denied, a network error after retries, or
    /// the store's own words. Never a credential: the location's options are blanked
    /// out of the store's words.
    pub(crate) fn error(&self, action: &'static str, e: object_store::Error) -> Error {
        use std::io::ErrorKind;
        let mut chain = e.to_string();
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            chain.push_str(&format!(": {next}"));
            cause = next;
        }
        let innermost = cause.to_string().lines().next().unwrap_or_default().to_string();
        let bucket = self
            .location
            .url()
            .and_then(Url::host_str)
            .unwrap_or_default()
            .to_string();
        let (kind, what) = if chain.contains("NoSuchBucket") {
            (ErrorKind::NotFound, format!("no such bucket '{bucket}'"))
        } else if matches!(e, object_store::Error::NotFound { .. }) || chain.contains("NoSuchKey") {
            if action != "list" && self.bucket_missing() {
                (ErrorKind::NotFound, format!("no such bucket '{bucket}'"))
            } else {
                (ErrorKind::NotFound, "no such object".to_string())
            }
        } else if matches!(
            e,
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
        ) || [
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "403 Forbidden",
        ]
        .iter()
        .any(|code| chain.contains(code))
        {
            let hint = matches!(self.location.url().map(Url::scheme), Some("s3" | "s3a"))
                && aws_profile::no_keys(self.location.options());
            let what = match hint {
                true => {
                    "access denied (no AWS keys were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE and ~/.aws/credentials)"
                }
                false => "access denied",
            };
            (ErrorKind::PermissionDenied, what.to_string())
        } else if chain.contains("error sending request") || chain.contains("retries") {
            (
                ErrorKind::NotConnected,
                format!("network error after retries ({innermost})"),
            )
        } else {
            let first = chain.lines().next().unwrap_or_default().to_string();
            (ErrorKind::Other, first)
        };
        let mut what = what;
        for (_, value) in self.location.options() {
            if value.len() >= 4 {
                what = what.replace(value.as_str(), "***");
            }
        }
        Error::Io {
            action,
            path: self.location.to_string().into(),
            source: std::io::Error::new(kind, what),
        }
    }

    /// Whether the object's bucket is missing (a missing object's HEAD says only "not
    /// found"; listing the bucket tells).
    fn bucket_missing(&self) -> bool {
        let listed = block_on(async { self.store.list(None).try_next().await });
        matches!(listed, Err(e) if e.to_string().contains("NoSuchBucket"))
    }
}

/// The store of `url` (scheme and bucket or host) made from this process's environment
/// alone: how a cluster's executors read the objects a client names by URL.
#[cfg(feature = "cluster")]
pub(crate) fn from_env(url: &Url) -> Result<Arc<dyn ObjectStore>> {
    build(url, &[]).map_err(|e| match e {
        Error::Invalid(m) => Error::Invalid(format!("Cannot use '{url}': {m}")),
        e => e,
    })
}

/// An object path as the path of a URL: each part percent-encoded as a URL path needs.
pub(crate) fn encode_path(path: &ObjectPath) -> String {
    let parts: Vec<String> = path
        .parts()
        .map(|p| {
            url::form_urlencoded::byte_serialize(p.as_ref().as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect();
    parts.join("/")
}

/// The store of `url` with `options` over the environment's; `max_retries` and
/// `retry_timeout` (seconds) set its retries (by default object_store's: 10, within
/// 3 minutes).
fn build(url: &Url, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    let mut retry = RetryConfig::default();
    let mut rest = Vec::new();
    for (key, value) in options {
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| Error::Invalid(format!("option {key} is not a whole number")))
        };
        match key.as_str() {
            "max_retries" => retry.max_retries = number()? as usize,
            "retry_timeout" => retry.retry_timeout = Duration::from_secs(number()?),
            _ => rest.push((key.as_str(), value.as_str())),
        }
    }
    let unknown = |key: &str| Error::Invalid(format!("unknown option '{key}' for {}:// URLs", url.scheme()));
    let failed = |e: object_store::Error| Error::Invalid(e.to_string().lines().next().unwrap_or_default().to_string());
    Ok(match url.scheme() {
        "s3" | "s3a" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str());
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            for (k, v) in aws_profile::settings(&var)? {
                b = b.with_config(k, v);
            }
            for (k, v) in rest {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
            }
            Arc::new(b.with_retry(retry).build().map_err(failed)?)
        }
        "gs" => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
            for (k, v) in rest {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
            }
            Arc::new(b.with_retry(retry).build().map_err(failed)?)
        }
        "az" | "abfs" | "abfss" | "azure" | "adl" => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (k, v) in rest {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
            }
            Arc::new(b.with_retry(retry).build().map_err(failed)?)
        }
        "http" | "https" => {
            let base = format!("{}://{}", url.scheme(), url.authority());
            let mut b = object_store::http::HttpBuilder::new().with_url(base).with_config(
                object_store::ClientConfigKey::AllowHttp,
                (url.scheme() == "http").to_string(),
            );
            for (k, v) in rest {
                b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
            }
            Arc::new(b.with_retry(retry).build().map_err(failed)?)
        }
        other => {
            return Err(Error::Invalid(format!(
                "unknown URL scheme '{other}': object stores are s3://, gs://, az://, abfs://, http(s):// (and file:// for local paths)"
            )));
        }
    })
}
