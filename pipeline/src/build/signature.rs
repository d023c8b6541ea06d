//! Input signatures: a tree's is every file's path, size and modification time; a build's is
//! the settings (config hash and program) and its trees', so a rerun over unchanged inputs
//! can tell without reading a file, and an unchanged tree is not read again.

use std::path::{Path, PathBuf};

use crossview_schemas::{ContentHasher, SourceKind};
use crossview_stages::sources::files::{entry_stamp, stamp_into};

/// The signature of one tree: its kind, root and the stamp of every file, in a fixed order.
/// `_truth/` sidecars and hidden files are not inputs of a build.
pub fn tree_signature(root: &Path, kind: SourceKind) -> String {
    let h = ContentHasher::new("crossview.build.tree")
        .str(kind.name())
        .str(&root.to_string_lossy());
    walk(h, root, Path::new("")).finish_hex(16)
}

/// The signature of a build from its settings and its trees' signatures.
pub fn build_signature(tree_signatures: &[String], settings: &str) -> String {
    let mut h = ContentHasher::new("crossview.build.inputs").str(settings);
    for s in tree_signatures {
        h = h.str(s);
    }
    h.finish_hex(16)
}

/// Every tree's signature, one thread per tree: walking a tree is mostly waiting on stat
/// calls. A walk that panicked gives an empty signature, which matches nothing.
pub fn tree_signatures(trees: &[(PathBuf, SourceKind)]) -> Vec<String> {
    std::thread::scope(|scope| {
        let walks: Vec<_> = trees
            .iter()
            .map(|(root, kind)| scope.spawn(move || tree_signature(root, *kind)))
            .collect();
        walks
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// The signature of a build over `trees`.
pub fn input_signature(trees: &[(PathBuf, SourceKind)], settings: &str) -> String {
    build_signature(&tree_signatures(trees), settings)
}

fn walk(mut h: ContentHasher, root: &Path, rel: &Path) -> ContentHasher {
    // The entry's own type, not `Path::is_dir`, and its stamp relative to the listing: trees
    // hold tens of thousands of files, and a path walk per file is most of a rerun.
    let mut entries: Vec<(std::ffi::OsString, bool, std::fs::DirEntry)> =
        std::fs::read_dir(root.join(rel))
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        let dir = e.file_type().is_ok_and(|t| t.is_dir())
                            || (e.file_type().is_ok_and(|t| t.is_symlink()) && e.path().is_dir());
                        (e.file_name(), dir, e)
                    })
                    .collect()
            })
            .unwrap_or_default();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, dir, entry) in entries {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with('.') || name == "_truth" {
            continue;
        }
        let rel = rel.join(&name);
        if dir {
            h = walk(h, root, &rel);
        } else {
            h = stamp_into(h, &rel, entry_stamp(&entry).as_ref());
        }
    }
    h
}
