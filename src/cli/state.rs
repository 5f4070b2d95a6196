//! The commands of incremental runs: `plan` (what `run --state` would do, and why) and
//! `state show|clear`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::{RunArgs, file_run};
use crate::error::{Error, Result};
use crate::io::{Action, Incremental, State};
use crate::spec::Registry;

/// The commands on a state directory.
#[derive(Debug, Subcommand)]
pub(super) enum StateCommand {
    /// Print each run the directory holds the state of, and per input file its size,
    /// content hash, outputs and nodes.
    Show {
        /// The state directory.
        dir: PathBuf,
    },
    /// Remove the state of every run (the outputs stay): the next run computes every
    /// file.
    Clear {
        /// The state directory.
        dir: PathBuf,
    },
}

/// `hypernodes plan`: a line per file saying what `run` would do and why, then the
/// counts.
pub(super) fn plan(args: RunArgs, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    if args.state.is_none() {
        return Err(Error::Invalid(
            "plan needs --state DIR, the state directory of the runs it plans".into(),
        ));
    }
    let (run, input, output, _) = file_run(args, registry, true)?;
    let decisions = run.plan_incremental()?;
    let _ = writeln!(out, "{input} -> {output}");
    for d in &decisions {
        let _ = writeln!(out, "{}", here(&d.to_string()));
    }
    let count = |action| decisions.iter().filter(|d| d.action == action).count();
    let recompute = match count(Action::Recompute) {
        0 => String::new(),
        n => format!("recompute {n} by column, "),
    };
    let resume = match count(Action::Resume) {
        0 => String::new(),
        n => format!("resume {n}, "),
    };
    let computed = match count(Action::Compute) {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    };
    let _ = writeln!(
        out,
        "would compute {computed}, {recompute}{resume}skip {}, remove the outputs of {} gone",
        count(Action::Skip),
        count(Action::Remove)
    );
    Ok(())
}

/// The lines of the outputs an incremental run removed.
pub(super) fn print_removed(files: &Incremental, out: &mut dyn Write) {
    for d in files.decisions.iter().filter(|d| d.action == Action::Remove) {
        for o in d.outputs.iter().filter(|o| files.removed.contains(o)) {
            let _ = writeln!(out, "{}", here(&format!("removed {o} (input {} gone)", d.input)));
        }
    }
}

/// `text` with the paths under the current directory relative to it (the state records
/// absolute paths).
fn here(text: &str) -> String {
    match std::env::current_dir() {
        Ok(dir) => text.replace(&format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR), ""),
        Err(_) => text.to_string(),
    }
}

/// `hypernodes state show|clear`.
pub(super) fn state(command: StateCommand, out: &mut dyn Write) -> Result<()> {
    match command {
        StateCommand::Show { dir } => {
            let runs = State::open(&dir)?.runs()?;
            if runs.is_empty() {
                let _ = writeln!(out, "{}: no runs", dir.display());
            }
            for run in runs {
                let _ = writeln!(out, "{}", here(&run.to_string()));
            }
        }
        StateCommand::Clear { dir } => {
            let cleared = State::open(&dir)?.clear()?;
            let files = if cleared == 1 { "file" } else { "files" };
            let _ = writeln!(out, "{}: removed {cleared} state {files}", dir.display());
        }
    }
    Ok(())
}
