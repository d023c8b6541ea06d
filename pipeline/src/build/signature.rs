//! Input signatures: a tree's is every file's path, size and modification time; a build's is
//! the settings (config hash and program) and its trees', so a rerun over unchanged inputs
//! can tell without reading a file, and an unchanged tree is not read again.

use std::path::{Path, PathBuf};

use crossview_schemas::{ContentHasher, SourceKind};
use crossview_stages::sources::files::stamp_tree_into;

/// The signature of one tree: its kind, root and the stamp of every file, in a fixed order.
/// `_truth/` sidecars and hidden files are not inputs of a build.
pub fn tree_signature(root: &Path, kind: SourceKind) -> String {
    let h = ContentHasher::new("crossview.build.tree")
        .str(kind.name())
        .str(&root.to_string_lossy());
    stamp_tree_into(h, root, Path::new("")).finish_hex(16)
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
