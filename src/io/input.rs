//! One input file of a run ([`Input`]): a local file, a Parquet object read by ranges,
//! or another format's object copied to a local temporary file (feature `cloud`).

use std::path::Path;

#[cfg(feature = "cli")]
use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

#[cfg(feature = "cli")]
use super::read_head;
use super::{Format, Location, read_schema};
use crate::error::{Error, Result};

/// An input file, as it is read.
pub(crate) struct Input {
    /// Where it is (which names it in errors).
    pub(crate) location: Location,
    pub(crate) source: InputSource,
}

/// How an input file is read.
pub(crate) enum InputSource {
    /// A local file.
    Local(std::path::PathBuf),
    /// A Parquet object, read by ranges: its footer, then the row groups.
    #[cfg(feature = "cloud")]
    Parquet(super::store::ParquetObject),
    /// Another format's object, copied to a local temporary file.
    #[cfg(feature = "cloud")]
    Spooled(super::store::Spooled),
}

impl Input {
    /// The input at `location`, read as `format`: for an object, checked to exist (and,
    /// for a format other than Parquet, copied).
    pub(crate) fn open(location: &Location, format: Format) -> Result<Input> {
        let source = match location.as_path() {
            Some(path) => InputSource::Local(path.to_path_buf()),
            None => open_object(location, format)?,
        };
        Ok(Input {
            location: location.clone(),
            source,
        })
    }

    /// The local file it is read from: the file itself, or the object's copy.
    pub(crate) fn local(&self) -> Option<&Path> {
        match &self.source {
            InputSource::Local(p) => Some(p),
            #[cfg(feature = "cloud")]
            InputSource::Spooled(s) => Some(&s.path),
            #[cfg(feature = "cloud")]
            InputSource::Parquet(_) => None,
        }
    }

    /// The local file it is read from, which a reader of a format other than Parquet
    /// needs.
    pub(crate) fn local_file(&self) -> Result<&Path> {
        // Unreachable: only Parquet objects are read by ranges.
        self.local()
            .ok_or_else(|| Error::Internal(format!("'{}' read as a local file", self.location)))
    }

    /// `e` naming the object rather than its local copy.
    pub(crate) fn rename(&self, e: Error) -> Error {
        #[cfg(feature = "cloud")]
        if let InputSource::Spooled(s) = &self.source {
            let copy = s.path.display().to_string();
            let url = self.location.to_string();
            return match e {
                Error::Data { path, message } if *path == *copy => Error::Data {
                    path: url.into(),
                    message: message.replace(&copy, &self.location.to_string()).into(),
                },
                Error::Io { action, path, source } if *path == *copy => Error::Io {
                    action,
                    path: url.into(),
                    source,
                },
                e => e,
            };
        }
        e
    }
}

#[cfg(feature = "cloud")]
fn open_object(location: &Location, format: Format) -> Result<InputSource> {
    let object = super::store::Object::open(location)?;
    Ok(match format {
        Format::Parquet => InputSource::Parquet(super::store::ParquetObject::open(object)?),
        _ => InputSource::Spooled(super::store::Spooled::fetch(&object)?),
    })
}

#[cfg(not(feature = "cloud"))]
fn open_object(location: &Location, _: Format) -> Result<InputSource> {
    Err(super::location::needs_cloud(location))
}

/// The column names and types of the file or object at `location`, read as `format`
/// (see [`read_schema`]).
pub(crate) fn location_schema(location: &Location, format: Format) -> Result<Schema> {
    let input = Input::open(location, format)?;
    match (&input.source, input.local()) {
        (_, Some(path)) => read_schema(path, format).map_err(|e| input.rename(e)),
        #[cfg(feature = "cloud")]
        (InputSource::Parquet(p), None) => Ok(p.metadata()?.schema().as_ref().clone()),
        // Unreachable: an input is a local file, a copy, or a Parquet object.
        #[allow(unreachable_patterns)]
        _ => Err(Error::Internal("an input neither local nor an object".into())),
    }
}

/// The first rows (at most `rows`) of the file or object at `location`, every column,
/// as `format` (see [`read_head`]).
#[cfg(feature = "cli")]
pub(crate) fn location_head(location: &Location, format: Format, rows: usize) -> Result<RecordBatch> {
    let input = Input::open(location, format)?;
    match (&input.source, input.local()) {
        (_, Some(path)) => read_head(path, format, rows).map_err(|e| input.rename(e)),
        #[cfg(feature = "cloud")]
        (InputSource::Parquet(p), None) => p.head(rows),
        // Unreachable: an input is a local file, a copy, or a Parquet object.
        #[allow(unreachable_patterns)]
        _ => Err(Error::Internal("an input neither local nor an object".into())),
    }
}
