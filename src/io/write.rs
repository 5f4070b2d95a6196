//! Writing a file run's output: each file under a temporary name in its directory,
//! renamed into place only when the whole run succeeded ([`OutputFile`]), and the
//! batches of one input, in order, into its output and the side file of its failed rows
//! ([`Writer`]).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::Location;
use super::sink::Sink;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::format::BatchWriter;
use super::plan::FilePlan;
use crate::error::{Error, Result};

/// The files one input's run writes: its output and, under
/// [`OnError::Collect`](crate::exec::OnError::Collect), the side file of its failed
/// rows, each a temporary file until committed. Dropped unfinished, they are removed.
pub(super) struct Writer<'a> {
    plan: &'a FilePlan,
    /// The output's writer, made with the first batch (of its schema) on `sink`.
    writer: Option<(BatchWriter, SchemaRef)>,
    sink: Option<Sink>,
    /// The failed rows' file and its writer.
    side: Option<(OutputFile, BatchWriter)>,
    out_file: OutputFile,
    /// The output's Parquet properties.
    props: WriterProperties,
    /// The most bytes the output's writer, and the failed rows' writer, buffer.
    budget: u64,
    side_budget: u64,
}

impl<'a> Writer<'a> {
    /// Creates the temporary files of `output` and, when given, of `failed`, for the
    /// batches of `plan`: Parquet compressed with `compression` (snappy by default), and
    /// its writers buffering at most `budgets` bytes (the output's, the failed rows').
    pub(super) fn create(
        output: &Location,
        failed: Option<&Location>,
        plan: &'a FilePlan,
        compression: Option<Compression>,
        (writer_budget, side_budget): (u64, u64),
    ) -> Result<Writer<'a>> {
        let (out_file, sink) = OutputFile::create(output)?;
        // Parquet pages no larger than a share of the writer's budget (1 MiB at most,
        // Parquet's default), so that what the writer buffers stays within it.
        let props_within = |budget: u64| {
            let page = (budget as usize / 8).clamp(4096, 1 << 20);
            WriterProperties::builder()
                .set_compression(compression.unwrap_or(Compression::SNAPPY))
                .set_data_page_size_limit(page)
                .set_dictionary_page_size_limit(page)
                .set_write_batch_size(page.min(1024))
                .build()
        };
        let props = props_within(writer_budget);
        // The failed rows' file, made now: it is written even when no row fails.
        let side = match (failed, &plan.failed) {
            (Some(path), Some(schema)) => {
                let (file, sink) = OutputFile::create(path)?;
                let writer = BatchWriter::new(plan.side_format, sink, schema.clone(), props_within(side_budget))
                    .map_err(|e| file.error(e))?;
                Some((file, writer))
            }
            _ => None,
        };
        Ok(Writer {
            plan,
            writer: None,
            sink: Some(sink),
            side,
            out_file,
            props,
            budget: writer_budget,
            side_budget,
        })
    }

    /// Writes a batch of output rows, and its `failed` rows into the side file; returns
    /// the bytes the writers hold in memory.
    pub(super) fn write(&mut self, batch: &RecordBatch, failed: Option<&RecordBatch>) -> Result<u64> {
        let w = match &mut self.writer {
            Some((w, _)) => w,
            None => {
                let w = BatchWriter::new(
                    self.plan.out_format,
                    self.sink.take().expect("one writer"),
                    batch.schema(),
                    self.props.clone(),
                )
                .map_err(|e| self.out_file.error(e))?;
                &mut self.writer.insert((w, batch.schema())).0
            }
        };
        w.write(batch)
            .and_then(|()| w.flush_over(self.budget))
            .map_err(|e| self.out_file.error(e))?;
        let mut writers_size = w.memory_size() as u64;
        if let (Some(rows), Some((file, w))) = (failed, &mut self.side) {
            w.write(rows)
                .and_then(|()| w.flush_over(self.side_budget))
                .map_err(|e| file.error(e))?;
            writers_size += w.memory_size() as u64;
        }
        Ok(writers_size)
    }

    /// Finishes the files (an output without rows gets the output schema), complete but
    /// not yet in place: the output, and the side file.
    pub(super) fn finish(self) -> Result<(OutputFile, Option<OutputFile>)> {
        let Writer {
            plan,
            writer,
            sink,
            side,
            mut out_file,
            props,
            ..
        } = self;
        let writer = match writer {
            Some((w, _)) => w,
            None => {
                // No rows: an empty file with the output schema, on a second sink (the
                // first, never used, is dropped unwritten).
                drop(sink);
                let schema = plan.empty_output_schema()?;
                BatchWriter::new(plan.out_format, out_file.take_sink()?, schema, props)
                    .map_err(|e| out_file.error(e))?
            }
        };
        let sink = writer.finish().map_err(|e| out_file.error(e))?;
        out_file.finish(sink)?;
        let side = match side {
            Some((mut file, writer)) => {
                let sink = writer.finish().map_err(|e| file.error(e))?;
                file.finish(sink)?;
                Some(file)
            }
            None => None,
        };
        Ok((out_file, side))
    }
}

/// Renames a file run's finished output and side file of failed rows (see
/// [`Writer::finish`]) into place, counting them in `summary`.
pub(super) fn place((file, failed): (OutputFile, Option<OutputFile>), summary: &mut super::RunSummary) -> Result<()> {
    let path = file.path.clone();
    summary.bytes_out += file.commit()?;
    summary.files.push(path);
    if let Some(failed) = failed {
        let path = failed.path.clone();
        failed.commit()?;
        summary.failed_files.push(path);
    }
    Ok(())
}

/// Removes the temporary files (`.NAME.PID.tmp`, see [`OutputFile`]) that runs left in
/// `dir` when they were killed: those whose process is gone. A process is known to be
/// gone when `/proc` lists processes and not it; without `/proc` nothing is removed, and
/// a file that cannot be removed is left.
fn remove_orphans(dir: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_prefix('.')?.strip_suffix(".tmp")) else {
            continue;
        };
        let Some(pid) = stem.rsplit_once('.').and_then(|(_, pid)| pid.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An output file written under a temporary name in the same directory and renamed into
/// place by [`OutputFile::commit`]; dropped before that, the temporary file is removed.
/// A killed process cannot remove it: the next output created in that directory does
/// (see [`remove_orphans`]). An object in a store (feature `cloud`) is written as a
/// multipart upload instead, completed by [`OutputFile::commit`] and aborted when
/// dropped before (a killed process's upload is never completed).
pub(crate) struct OutputFile {
    /// Where it goes.
    pub(super) path: Location,
    target: Target,
    committed: bool,
}

/// Where an output file's bytes are until it is committed.
enum Target {
    /// A temporary file.
    File(PathBuf),
    /// An upload, once finished (written whole, not yet completed).
    #[cfg(feature = "cloud")]
    Object(Box<super::store::Object>, Option<Box<super::store::Upload>>),
}

impl OutputFile {
    /// Creates the temporary file (or starts the upload) for `path`.
    pub(crate) fn create(path: &Location) -> Result<(OutputFile, Sink)> {
        let name = path.file_name();
        if name.is_empty() {
            return Err(Error::Invalid(format!("The output '{path}' is not a file name")));
        }
        let Some(local) = path.as_path() else {
            return create_object(path);
        };
        let dir = local
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        remove_orphans(dir);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(|source| Error::Io {
            action: "create",
            path: path.to_string().into(),
            source,
        })?;
        let out = OutputFile {
            path: path.clone(),
            target: Target::File(tmp),
            committed: false,
        };
        Ok((out, Sink::File(BufWriter::with_capacity(1 << 20, file))))
    }

    /// A second sink, when the first was never used.
    fn take_sink(&self) -> Result<Sink> {
        match &self.target {
            Target::File(tmp) => {
                let file = File::create(tmp).map_err(|source| self.io("create", source))?;
                Ok(Sink::File(BufWriter::new(file)))
            }
            #[cfg(feature = "cloud")]
            Target::Object(object, _) => Ok(upload_sink(super::store::Upload::start(object)?)),
        }
    }

    /// An error writing this file.
    pub(crate) fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Data {
            path: self.path.to_string().into(),
            message: format!("cannot write ({e})").into(),
        }
    }

    fn io(&self, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: self.path.to_string().into(),
            source,
        }
    }

    /// Flushes and syncs the written sink; the file is complete but not yet in place.
    pub(crate) fn finish(&mut self, sink: Sink) -> Result<()> {
        match sink {
            Sink::File(sink) => {
                let file = sink.into_inner().map_err(|e| self.io("write", e.into_error()))?;
                file.sync_all().map_err(|e| self.io("write", e))
            }
            #[cfg(feature = "cloud")]
            Sink::Upload(sink) => {
                let upload = (*sink).into_inner().map_err(|e| self.io("write", e.into_error()))?;
                if let Target::Object(_, finished) = &mut self.target {
                    *finished = Some(Box::new(upload));
                }
                Ok(())
            }
        }
    }

    /// Renames the finished file into place (or completes the upload); returns its size.
    pub(crate) fn commit(mut self) -> Result<u64> {
        let size = match &mut self.target {
            Target::File(tmp) => {
                let local = self.path.as_path().unwrap_or(Path::new(""));
                std::fs::rename(&*tmp, local).map_err(|e| self.io("write", e))?;
                std::fs::metadata(local).map(|m| m.len()).unwrap_or(0)
            }
            #[cfg(feature = "cloud")]
            Target::Object(_, finished) => match finished.take() {
                Some(upload) => upload.complete()?,
                // Unreachable: a file is finished before it is committed.
                None => return Err(Error::Internal(format!("'{}' committed unfinished", self.path))),
            },
        };
        self.committed = true;
        Ok(size)
    }
}

/// The output of an object: its upload, started.
#[cfg(feature = "cloud")]
fn create_object(path: &Location) -> Result<(OutputFile, Sink)> {
    let object = super::store::Object::open(path)?;
    let upload = super::store::Upload::start(&object)?;
    let out = OutputFile {
        path: path.clone(),
        target: Target::Object(Box::new(object), None),
        committed: false,
    };
    Ok((out, upload_sink(upload)))
}

#[cfg(feature = "cloud")]
fn upload_sink(upload: super::store::Upload) -> Sink {
    Sink::Upload(Box::new(BufWriter::with_capacity(1 << 20, upload)))
}

#[cfg(not(feature = "cloud"))]
fn create_object(path: &Location) -> Result<(OutputFile, Sink)> {
    Err(super::location::needs_cloud(path))
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let (false, Target::File(tmp)) = (self.committed, &self.target) {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
