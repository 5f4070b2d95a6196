//! What a pipeline file says, as read from its TOML (the declarations, not yet
//! checked), and its text, to name the line of a mistake.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;

/// A whole pipeline file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDecl {
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) inputs: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(super) bind: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) run: RunDecl,
    #[serde(default)]
    pub(super) nodes: Vec<Spanned<NodeDecl>>,
    #[serde(default)]
    pub(super) pipelines: BTreeMap<String, Spanned<SubDecl>>,
}

/// Its `[run]` section.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunDecl {
    pub(super) input: Option<Spanned<String>>,
    pub(super) output: Option<Spanned<String>>,
    pub(super) select: Option<Vec<String>>,
}

/// A `[pipelines.NAME]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubDecl {
    pub(super) nodes: Vec<Spanned<NodeDecl>>,
}

/// A `[[nodes]]` entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NodeDecl {
    pub(super) name: Option<String>,
    pub(super) sql: Option<String>,
    pub(super) function: Option<String>,
    pub(super) pipeline: Option<String>,
    pub(super) output: Option<String>,
    #[serde(default)]
    pub(super) outputs: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) inputs: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) map_over: Vec<String>,
    pub(super) mode: Option<String>,
    /// `false`: the node's results are never cached (it runs every time).
    pub(super) cache: Option<bool>,
}

/// An error of a pipeline built from the file as one line (a message is `FILE:LINE:
/// message`): several problems found at once are joined with "; ".
pub(super) fn one_line(e: &Error) -> String {
    match e {
        Error::Multiple(errors) => errors.iter().map(one_line).collect::<Vec<_>>().join("; "),
        e => e.to_string(),
    }
}

/// The file's text, to turn byte offsets into lines.
pub(super) struct Source<'a> {
    pub(super) file: String,
    pub(super) text: &'a str,
}

impl Source<'_> {
    pub(super) fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    /// The error at `line`, its message on one line whatever the file holds: a control
    /// character in a name or a value it shows (a line break, say) is escaped (`\n`).
    pub(super) fn error(&self, line: usize, message: impl Into<String>) -> Error {
        let mut escaped = String::new();
        for c in message.into().chars() {
            if c.is_control() {
                escaped.extend(c.escape_default());
            } else {
                escaped.push(c);
            }
        }
        Error::Spec {
            file: self.file.as_str().into(),
            line,
            message: escaped.into(),
        }
    }
}
