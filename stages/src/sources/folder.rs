//! [`Folder`]: a folder of a native tree that is on disk or comes as a zip archive instead
//! (`<scene>/` or `<scene>.zip`, as MMPTrack is distributed), listed and read alike; and
//! [`read_tree_file`], which reads a path that may run through such an archive.
//!
//! Inside an archive the files may sit at its top or in one folder (`<scene>/...`); they are
//! named by their file name either way. A file in an archive is addressed as
//! `<folder>.zip/<file name>`, the path frames record as their image.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use zip::ZipArchive;

use super::files::{DirStamps, FileStamp};
use super::open_dir::OpenDir;

/// A folder on disk, or the zip archive that stands for it.
pub enum Folder {
    /// Files in a directory.
    Disk {
        /// The directory, read by name.
        dir: OpenDir,
        /// Its entries' stamps, listed on the first [`Folder::stamp`] (a scene stamps
        /// every frame of a folder).
        stamps: std::sync::OnceLock<DirStamps>,
    },
    /// Files in a zip archive.
    Zip {
        /// The archive.
        path: PathBuf,
        /// Its reader.
        archive: Box<ZipArchive<File>>,
        /// File name -> (entry index, uncompressed size, CRC-32).
        files: BTreeMap<String, (usize, u64, u32)>,
    },
}

impl Folder {
    /// The folder `dir` on disk, else the archive `dir.zip`; `Ok(None)` when neither is
    /// there, `Err` (a reason) for an archive that cannot be read.
    pub fn open(dir: &Path) -> Result<Option<Folder>, String> {
        if dir.is_dir() {
            return Ok(Some(Folder::Disk {
                dir: OpenDir::new(dir),
                stamps: std::sync::OnceLock::new(),
            }));
        }
        let path = zip_of(dir);
        if !path.is_file() {
            return Ok(None);
        }
        Self::open_zip(&path).map(Some)
    }

    fn open_zip(path: &Path) -> Result<Folder, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let archive = ZipArchive::new(file).map_err(|e| format!("not a readable zip: {e}"))?;
        let mut files = BTreeMap::new();
        for i in 0..archive.len() {
            let Ok(entry) = archive.by_index_data(i) else {
                continue;
            };
            if !entry.is_file() {
                continue;
            }
            let Ok(name) = entry.name() else {
                continue;
            };
            // At the top, or in one folder: named by the file name.
            let leaf = name.rsplit('/').next().unwrap_or_default().to_string();
            if !leaf.is_empty() && name.matches('/').count() <= 1 {
                files
                    .entry(leaf)
                    .or_insert((i, entry.size(), entry.crc32()));
            }
        }
        Ok(Folder::Zip {
            path: path.to_path_buf(),
            archive: Box::new(archive),
            files,
        })
    }

    /// Its files' names, sorted (subfolders left out).
    pub fn files(&self) -> Vec<String> {
        match self {
            Folder::Disk { dir, .. } => {
                let mut v: Vec<String> = std::fs::read_dir(dir.path())
                    .map(|rd| {
                        rd.flatten()
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                v.sort();
                v
            }
            Folder::Zip { files, .. } => files.keys().cloned().collect(),
        }
    }

    /// Where a file of the folder is: `dir/name`, or `dir.zip/name` in an archive.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.base().join(name)
    }

    /// What [`Folder::path_of`] names files below: the directory, or the archive.
    pub fn base(&self) -> &Path {
        match self {
            Folder::Disk { dir, .. } => dir.path(),
            Folder::Zip { path, .. } => path,
        }
    }

    /// A file's stamp, `None` when it is not there. In an archive the stamp is the
    /// entry's size and CRC-32, which change with its content.
    pub fn stamp(&self, name: &str) -> Option<FileStamp> {
        match self {
            Folder::Disk { dir, stamps } => stamps
                .get_or_init(|| DirStamps::of(dir.path()))
                .get(name)
                .cloned(),
            Folder::Zip { files, .. } => files.get(name).map(|&(_, len, crc)| FileStamp {
                len,
                modified_ns: u128::from(crc),
            }),
        }
    }

    /// A file's bytes.
    pub fn read(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
        match self {
            Folder::Disk { dir, .. } => dir.read(name),
            Folder::Zip { archive, files, .. } => {
                let &(i, len, _) = files.get(name).ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "not in the archive")
                })?;
                let mut entry = archive.by_index(i).map_err(std::io::Error::other)?;
                let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                entry.read_to_end(&mut bytes)?;
                Ok(bytes)
            }
        }
    }

    /// Width and height from an image file's header.
    pub fn image_size(&mut self, name: &str) -> Option<(u32, u32)> {
        let s = match self {
            Folder::Disk { dir, .. } => imagesize::size(dir.path().join(name)).ok()?,
            Folder::Zip { .. } => imagesize::blob_size(&self.read(name).ok()?).ok()?,
        };
        Some((u32::try_from(s.width).ok()?, u32::try_from(s.height).ok()?))
    }
}

/// `dir.zip` for a folder `dir`.
pub fn zip_of(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".zip");
    dir.with_file_name(name)
}

/// Opened archives, so reading many files of one archive opens it once.
#[derive(Default)]
pub struct Archives {
    open: HashMap<PathBuf, Option<Folder>>,
}

/// Reads `rel` under `root`: a file, or a file inside an archive on its way
/// (`.../<folder>.zip/<file>`, as [`Folder::path_of`] names them).
pub fn read_tree_file(root: &Path, rel: &str, archives: &mut Archives) -> std::io::Result<Vec<u8>> {
    let path = root.join(rel);
    match std::fs::read(&path) {
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::NotADirectory =>
        {
            // Find the archive among the path's folders.
            let mut prefix = PathBuf::new();
            let components: Vec<Component<'_>> = path.components().collect();
            for (i, c) in components.iter().enumerate() {
                prefix.push(c);
                let is_zip = Path::new(c.as_os_str())
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("zip"));
                if is_zip && i + 2 == components.len() && prefix.is_file() {
                    let folder = archives
                        .open
                        .entry(prefix.clone())
                        .or_insert_with(|| Folder::open_zip(&prefix).ok());
                    let name = components[i + 1].as_os_str().to_string_lossy();
                    return match folder {
                        Some(f) => f.read(&name),
                        None => Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{}: not a readable zip", prefix.display()),
                        )),
                    };
                }
            }
            Err(e)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn zip(path: &Path, files: &[(&str, &[u8])]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, bytes) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn a_zip_reads_like_the_folder_it_stands_for() {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = dir.path().join("a");
        std::fs::create_dir(&on_disk).unwrap();
        std::fs::write(on_disk.join("x.json"), b"{}").unwrap();
        std::fs::write(on_disk.join("y.txt"), b"why").unwrap();
        // The archive keeps its files in a folder of its own name; a deeper file is ignored.
        zip(
            &dir.path().join("b.zip"),
            &[
                ("b/y.txt", b"why"),
                ("b/x.json", b"{}"),
                ("b/deep/z.txt", b"no"),
            ],
        );
        let mut a = Folder::open(&on_disk).unwrap().unwrap();
        let mut b = Folder::open(&dir.path().join("b")).unwrap().unwrap();
        assert_eq!(a.files(), vec!["x.json", "y.txt"]);
        assert_eq!(b.files(), a.files());
        assert_eq!(b.read("y.txt").unwrap(), a.read("y.txt").unwrap());
        assert_eq!(b.path_of("y.txt"), dir.path().join("b.zip/y.txt"));
        assert!(b.stamp("x.json").is_some() && b.stamp("nope").is_none());
        assert!(b.read("nope").is_err());
        assert!(Folder::open(&dir.path().join("c")).unwrap().is_none());
        // A file in an archive, by the path frames record.
        let mut archives = Archives::default();
        let got = read_tree_file(dir.path(), "b.zip/x.json", &mut archives).unwrap();
        assert_eq!(got, b"{}");
        assert_eq!(
            read_tree_file(dir.path(), "a/y.txt", &mut archives).unwrap(),
            b"why"
        );
        assert!(read_tree_file(dir.path(), "b.zip/gone.json", &mut archives).is_err());
        // Not a zip.
        std::fs::write(dir.path().join("d.zip"), b"not a zip").unwrap();
        assert!(Folder::open(&dir.path().join("d")).is_err());
        assert!(read_tree_file(dir.path(), "d.zip/x.json", &mut archives).is_err());
    }
}
