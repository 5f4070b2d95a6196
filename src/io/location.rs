//! Where a run reads and writes: a path on this machine, or an object (or a prefix of
//! objects) in an object store, by its URL ([`Location`]).

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use super::Format;
use crate::error::{Error, Result};

/// Where a file run reads or writes: a path on this machine, or an object in an object
/// store by its URL.
///
/// A text with a scheme (`s3://bucket/key`, `gs://`, `az://`, `abfs://`, `http://`,
/// `https://`) is a URL; one ending with `/` names a prefix, the "directory" of every
/// object under it. `file://` URLs and everything else are local paths, read and written
/// as they always are (not through an object store). The store of a URL is made from the
/// URL, the standard environment variables of its cloud (`AWS_*` for S3, `GOOGLE_*` for
/// Google Cloud Storage, `AZURE_*` for Azure) and the options set with
/// [`Location::with_option`], which win over them. Object stores need the `cloud`
/// feature.
///
/// ```
/// use hypernodes::io::Location;
///
/// let local = Location::from("data/docs.parquet");
/// assert_eq!(local.as_path(), Some("data/docs.parquet".as_ref()));
/// let object = Location::from("s3://bucket/docs/2024.parquet");
/// assert_eq!(object.to_string(), "s3://bucket/docs/2024.parquet");
/// assert!(object.as_path().is_none());
/// assert!(Location::from("s3://bucket/docs/").is_prefix());
/// assert_eq!(Location::from("file:///tmp/a.csv").as_path(), Some("/tmp/a.csv".as_ref()));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Location(Inner);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    Local(PathBuf),
    Url { url: Url, options: Vec<(String, String)> },
}

impl Location {
    /// A path on this machine, whatever it looks like.
    pub fn local(path: impl Into<PathBuf>) -> Location {
        Location(Inner::Local(path.into()))
    }

    /// `text` as a location: a URL when it has a scheme other than `file` (see
    /// [`Location`]), else a local path.
    pub fn parse(text: &str) -> Location {
        let scheme = text.split_once("://").map(|(s, _)| s);
        // A one-letter "scheme" is a Windows drive.
        let url_like =
            scheme.is_some_and(|s| s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)));
        match url_like.then(|| Url::parse(text).ok()).flatten() {
            Some(url) if url.scheme() == "file" => match url.to_file_path() {
                Ok(path) => Location::local(path),
                Err(()) => Location::local(text),
            },
            Some(url) => Location(Inner::Url {
                url,
                options: Vec::new(),
            }),
            None => Location::local(text),
        }
    }

    /// This location with an option of its store (for S3, a key of
    /// `object_store::aws::AmazonS3ConfigKey` such as `aws_endpoint` or `aws_region`;
    /// `max_retries` and `retry_timeout` (seconds) for any store), which wins over the
    /// environment. No option is ever shown: not in [`Location`]'s `Display` or `Debug`,
    /// nor in an error. A local path has no options: it is returned as it is.
    pub fn with_option(mut self, key: impl Into<String>, value: impl Into<String>) -> Location {
        if let Inner::Url { options, .. } = &mut self.0 {
            let key = key.into();
            options.retain(|(k, _)| *k != key);
            options.push((key, value.into()));
        }
        self
    }

    /// The local path, when it is one.
    pub fn as_path(&self) -> Option<&Path> {
        match &self.0 {
            Inner::Local(p) => Some(p),
            Inner::Url { .. } => None,
        }
    }

    /// The URL, when it is one.
    pub fn url(&self) -> Option<&Url> {
        match &self.0 {
            Inner::Url { url, .. } => Some(url),
            Inner::Local(_) => None,
        }
    }

    /// The options set with [`Location::with_option`].
    pub(crate) fn options(&self) -> &[(String, String)] {
        match &self.0 {
            Inner::Url { options, .. } => options,
            Inner::Local(_) => &[],
        }
    }

    /// Whether it names a directory: an existing local directory, or a URL ending in `/`.
    pub fn is_prefix(&self) -> bool {
        match &self.0 {
            Inner::Local(p) => p.is_dir(),
            Inner::Url { url, .. } => url.path().ends_with('/'),
        }
    }

    /// Its last part: the file or object name (empty for a prefix).
    pub(crate) fn file_name(&self) -> String {
        match &self.0 {
            Inner::Local(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Inner::Url { url, .. } => url.path().rsplit('/').next().unwrap_or_default().to_string(),
        }
    }

    /// The format of its extension (see [`Format::of`]).
    pub fn format(&self) -> Format {
        match &self.0 {
            Inner::Local(p) => Format::of(p),
            Inner::Url { url, .. } => Format::of(Path::new(url.path())),
        }
    }

    /// The location of `name` in this directory (for a URL, under its prefix, with a `/`
    /// added when it has none), with the same options.
    pub(crate) fn join(&self, name: &str) -> Result<Location> {
        Ok(Location(match &self.0 {
            Inner::Local(p) => Inner::Local(p.join(name)),
            Inner::Url { url, options } => {
                let mut dir = url.clone();
                if !dir.path().ends_with('/') {
                    dir.set_path(&format!("{}/", dir.path()));
                }
                let url = dir
                    .join(name)
                    .map_err(|e| Error::Invalid(format!("Cannot name '{name}' under '{self}': {e}")))?;
                Inner::Url {
                    url,
                    options: options.clone(),
                }
            }
        }))
    }

    /// The same location with its options, at `url` (an object found under its prefix).
    #[cfg(feature = "cloud")]
    pub(crate) fn at(&self, url: Url) -> Location {
        Location(Inner::Url {
            url,
            options: self.options().to_vec(),
        })
    }

    /// Whether both name the same file or object: local paths compared as found on
    /// disk, URLs as written.
    pub(crate) fn same(&self, other: &Location) -> bool {
        match (&self.0, &other.0) {
            (Inner::Local(a), Inner::Local(b)) => super::plan::same_path(a, b),
            (Inner::Url { url: a, .. }, Inner::Url { url: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Location {
    /// The path, or the URL without its password (options are never shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Local(p) => write!(f, "{}", p.display()),
            Inner::Url { url, .. } => {
                let mut shown = url.clone();
                if shown.password().is_some() {
                    let _ = shown.set_password(None);
                }
                f.write_str(shown.as_str())
            }
        }
    }
}

impl fmt::Debug for Location {
    /// As `Display`, quoted (options are never shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl<T: AsRef<OsStr> + ?Sized> From<&T> for Location {
    fn from(text: &T) -> Location {
        match text.as_ref().to_str() {
            Some(s) => Location::parse(s),
            None => Location::local(text.as_ref()),
        }
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::from(path.as_os_str())
    }
}

impl From<String> for Location {
    fn from(text: String) -> Location {
        Location::parse(&text)
    }
}

impl std::str::FromStr for Location {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Location, Self::Err> {
        Ok(Location::parse(s))
    }
}

impl PartialEq<PathBuf> for Location {
    fn eq(&self, other: &PathBuf) -> bool {
        self.as_path() == Some(other.as_path())
    }
}

impl PartialEq<Path> for Location {
    fn eq(&self, other: &Path) -> bool {
        self.as_path() == Some(other)
    }
}

impl PartialEq<&str> for Location {
    /// The same path or URL (whatever the options).
    fn eq(&self, other: &&str) -> bool {
        let other = Location::parse(other);
        self.as_path() == other.as_path() && self.url() == other.url()
    }
}

/// The error of an object-store URL in a build without the `cloud` feature.
#[cfg(not(feature = "cloud"))]
pub(crate) fn needs_cloud(location: &Location) -> Error {
    Error::Invalid(format!(
        "'{location}' is in an object store: hypernodes reads and writes object stores with its `cloud` feature"
    ))
}
