//! File helpers for loaders: stamps (path, size, modification time) for change detection, image
//! sizes read from headers, and directory listings in a stable order.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crossview_schemas::ContentHasher;

/// What change detection knows of a file without reading it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileStamp {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: u128,
}

/// The stamp of a file, or `None` if it does not exist.
pub fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Some(FileStamp {
        len: meta.len(),
        modified_ns,
    })
}

/// Adds a file's stamp (or its absence) to a fingerprint. Images are stamped rather than
/// hashed: reading every pixel to see whether anything changed would cost as much as a build.
pub fn stamp_into(h: ContentHasher, rel: &Path, stamp: Option<&FileStamp>) -> ContentHasher {
    let h = h.str(&rel.to_string_lossy());
    match stamp {
        Some(s) => h.u64(s.len).u64(s.modified_ns as u64),
        None => h.str("missing"),
    }
}

/// Width and height from an image file's header.
pub fn image_size(path: &Path) -> Option<(u32, u32)> {
    let s = imagesize::size(path).ok()?;
    Some((u32::try_from(s.width).ok()?, u32::try_from(s.height).ok()?))
}

/// Sorted entries of a directory (an unreadable directory is empty).
pub fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
