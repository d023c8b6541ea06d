//! File helpers for loaders: stamps (path, size, modification time) for change detection, one
//! by one, a directory's at once ([`DirStamps`]) or a tree's; image sizes; sorted listings.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{DirEntry, Metadata};
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

impl FileStamp {
    fn of(meta: &Metadata) -> FileStamp {
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        FileStamp {
            len: meta.len(),
            modified_ns,
        }
    }
}

/// The stamp of a file, or `None` if it does not exist.
pub fn file_stamp(path: &Path) -> Option<FileStamp> {
    Some(FileStamp::of(&std::fs::metadata(path).ok()?))
}

/// The stamp of a listed entry, what [`file_stamp`] gives for its path (a link is followed):
/// a stat relative to the open directory, with no walk of the path.
pub fn entry_stamp(entry: &DirEntry) -> Option<FileStamp> {
    let meta = match entry.file_type().ok()?.is_symlink() {
        true => std::fs::metadata(entry.path()).ok()?,
        false => entry.metadata().ok()?,
    };
    Some(FileStamp::of(&meta))
}

/// The stamps of a directory's entries by name, from one listing: for a loader that stamps
/// many files of one folder (a camera's frames). A folder that is not there (a tree without
/// images) costs one failed open, not a failed stat per file.
#[derive(Debug, Default)]
pub struct DirStamps {
    stamps: HashMap<OsString, FileStamp>,
}

impl DirStamps {
    /// Lists `dir` (an unreadable one has no entries).
    pub fn of(dir: &Path) -> Self {
        let stamps = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| Some((e.file_name(), entry_stamp(&e)?)))
                    .collect()
            })
            .unwrap_or_default();
        DirStamps { stamps }
    }

    /// The stamp of the entry `name`, as [`file_stamp`] of its path gives it.
    pub fn get(&self, name: &str) -> Option<&FileStamp> {
        self.stamps.get(std::ffi::OsStr::new(name))
    }
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

/// Adds the stamp of every file below `root/rel` to a fingerprint, by path relative to `root`
/// in name order; hidden entries and `_truth/` sidecars are not inputs and are left out.
pub fn stamp_tree_into(mut h: ContentHasher, root: &Path, rel: &Path) -> ContentHasher {
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
            h = stamp_tree_into(h, root, &rel);
        } else {
            h = stamp_into(h, &rel, entry_stamp(&entry).as_ref());
        }
    }
    h
}

/// Width and height from an image file's header.
pub fn image_size(path: &Path) -> Option<(u32, u32)> {
    let s = imagesize::size(path).ok()?;
    Some((u32::try_from(s.width).ok()?, u32::try_from(s.height).ok()?))
}

/// Sorted entries of a directory (an unreadable directory is empty). Sorted by name: in one
/// folder the order of the paths, without comparing them component by component.
pub fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(std::ffi::OsString, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| (e.file_name(), e.path())).collect())
        .unwrap_or_default();
    // Names in a folder are distinct.
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|(_, path)| path).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sort_as_their_paths_do() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b", "a.txt", "a", "B", "10", "9", "a b", "é", "z.", "_x"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let mut by_path: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        by_path.sort();
        assert_eq!(sorted_entries(dir.path()), by_path);
        assert!(sorted_entries(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn a_listing_stamps_what_a_stat_of_each_path_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"abc").unwrap();
        std::fs::write(dir.path().join("b.jpg"), b"").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("a.jpg"), dir.path().join("link.jpg"))
                .unwrap();
            std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("dangling"))
                .unwrap();
        }
        let listed = DirStamps::of(dir.path());
        for name in ["a.jpg", "b.jpg", "sub", "link.jpg", "dangling", "absent"] {
            assert_eq!(
                listed.get(name),
                file_stamp(&dir.path().join(name)).as_ref(),
                "{name}"
            );
        }
        assert_eq!(listed.get("a.jpg").map(|s| s.len), Some(3));
        let missing = DirStamps::of(&dir.path().join("absent"));
        assert!(missing.get("a.jpg").is_none());
    }
}
