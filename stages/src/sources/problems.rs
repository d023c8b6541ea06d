//! [`Problems`]: collects the input errors of one read, each naming the source, the file
//! (relative to the tree root), the place in the file and the reason.

use std::path::Path;

use crossview_schemas::{ErrorClass, InputError, SourceKind};

/// Input errors found while reading a tree.
#[derive(Debug)]
pub struct Problems {
    source: SourceKind,
    root: std::path::PathBuf,
    scene: Option<String>,
    errors: Vec<InputError>,
}

impl Problems {
    /// Problems of a tree at `root`, optionally for one scene.
    pub fn new(source: SourceKind, root: &Path, scene: Option<String>) -> Self {
        Problems {
            source,
            root: root.to_path_buf(),
            scene,
            errors: Vec::new(),
        }
    }

    /// Records one problem.
    pub fn push(
        &mut self,
        file: &Path,
        location: impl Into<String>,
        class: ErrorClass,
        reason: impl Into<String>,
    ) {
        let file = file.strip_prefix(&self.root).unwrap_or(file);
        self.errors.push(InputError {
            source: self.source.name().to_string(),
            file: file.to_string_lossy().into_owned(),
            location: location.into(),
            class,
            reason: reason.into(),
            scene_id: self.scene.clone(),
        });
    }

    /// Records a malformed file from a JSON parse error (with its line and column).
    pub fn json(&mut self, file: &Path, e: &serde_json::Error) {
        self.json_at(file, e.line(), e.column(), e.to_string());
    }

    /// Records a streamed JSON file that broke off or is not JSON.
    pub fn json_break(&mut self, file: &Path, b: &super::json_stream::JsonBreak) {
        self.json_at(file, b.line, b.column, b.reason.clone());
    }

    /// Records a malformed JSON file broken at `line` and `column` (1-based; line 0 when
    /// the place is not known).
    pub fn json_at(&mut self, file: &Path, line: usize, column: usize, reason: impl Into<String>) {
        let location = if line > 0 {
            format!("line {line} column {column}")
        } else {
            String::new()
        };
        self.push(file, location, ErrorClass::Malformed, reason);
    }

    /// Records problems found before (a file's, from an earlier read of it).
    pub fn extend(&mut self, found: impl IntoIterator<Item = InputError>) {
        self.errors.extend(found);
    }

    /// Number of problems so far.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems.
    pub fn into_vec(self) -> Vec<InputError> {
        self.errors
    }
}
