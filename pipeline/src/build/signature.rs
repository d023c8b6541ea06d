//! The input signature of a build: every input file's path, size and modification time plus
//! the settings (config hash and program), so a rerun over unchanged inputs can tell without
//! reading a file.

use std::path::{Path, PathBuf};

use crossview_schemas::{ContentHasher, SourceKind};
use crossview_stages::sources::files::{file_stamp, sorted_entries};

/// Hashes the settings and the stamp of every file of every tree, in a fixed order.
/// `_truth/` sidecars and hidden files are not inputs of a build.
pub fn input_signature(trees: &[(PathBuf, SourceKind)], settings: &str) -> String {
    let mut h = ContentHasher::new("crossview.build.inputs").str(settings);
    for (root, kind) in trees {
        h = h.str(kind.name()).str(&root.to_string_lossy());
        h = walk(h, root, Path::new(""));
    }
    h.finish_hex(16)
}

fn walk(mut h: ContentHasher, root: &Path, rel: &Path) -> ContentHasher {
    for path in sorted_entries(&root.join(rel)) {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.starts_with('.') || name == "_truth" {
            continue;
        }
        let rel = rel.join(&name);
        if path.is_dir() {
            h = walk(h, root, &rel);
        } else {
            h = crossview_stages::sources::files::stamp_into(h, &rel, file_stamp(&path).as_ref());
        }
    }
    h
}
