//! Shared harness of the source fuzz targets: one file of a committed fixture tree
//! (tests/fixtures) is replaced by the fuzz input, and the tree is read.

use std::path::Path;

use crossview_stages::sources::{self, SourceOptions};

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let p = e.path();
        let dst = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &dst);
        } else {
            let _ = std::fs::copy(&p, &dst);
        }
    }
}

/// Replaces the fixture file chosen by the first byte with the rest of `data`, reads the
/// tree, and checks what every reader must guarantee: no panic, and errors that name a file.
pub fn fuzz_source(fixture: &str, files: &[&str], data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(fixture);
    copy_tree(&src, dir.path());
    let target = dir.path().join(files[usize::from(pick) % files.len()]);
    if std::fs::write(&target, body).is_err() {
        return;
    }
    let opts = SourceOptions {
        require_images: false,
        ..SourceOptions::default()
    };
    let Ok(reader) = sources::open(dir.path(), None, &opts) else {
        return;
    };
    if let Ok((scenes, tree)) = sources::read_all(reader.as_ref()) {
        for e in scenes.iter().flat_map(|s| s.errors.iter()).chain(&tree) {
            assert!(!e.file.is_empty() && !e.reason.is_empty(), "{e:?}");
        }
    }
}
