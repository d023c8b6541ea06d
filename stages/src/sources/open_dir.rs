//! [`OpenDir`]: a directory held open whose files are read by name, for folders of thousands
//! of small files (MMPTrack label files, EgoHumans calibration files).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

/// A directory whose files are read by name. Each read resolves one name against the
/// directory, not the whole path from the root, and asks nothing of the file but its bytes:
/// path lookups and size queries were a tenth of reading a folder of small files.
#[derive(Debug)]
pub struct OpenDir {
    dir: PathBuf,
    /// The directory, opened on the first read (`None` if it cannot be: reads then go by path,
    /// and fail as reading the path fails).
    handle: OnceLock<Option<OwnedFd>>,
}

impl OpenDir {
    /// The directory `dir`, not yet opened.
    pub fn new(dir: &Path) -> Self {
        OpenDir {
            dir: dir.to_path_buf(),
            handle: OnceLock::new(),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The directory's descriptor, opened on first use.
    fn handle(&self) -> Option<&OwnedFd> {
        self.handle
            .get_or_init(|| {
                rustix::fs::open(
                    &self.dir,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ok()
            })
            .as_ref()
    }

    /// The names of the directory's entries but `.` and `..`, sorted by their bytes (the order
    /// [`super::files::sorted_entries`] gives their paths); none when it cannot be listed.
    /// Listed through the held descriptor: no walk of the path, no path per entry.
    pub fn sorted_names(&self) -> Vec<OsString> {
        let Some(dir) = self.handle() else {
            return Vec::new();
        };
        let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
            return Vec::new();
        };
        let mut names: Vec<OsString> = entries
            .flatten()
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort_unstable();
        names
    }

    /// The bytes of the file `name` in the directory; errors are those of opening or reading
    /// `dir/name`.
    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let Some(dir) = self.handle() else {
            return std::fs::read(self.dir.join(name));
        };
        let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        // Read through `take`: `File`'s own `read_to_end` stats the file for a size first.
        // The first read goes straight into the reserved room (no zeroed buffer).
        let mut bytes = Vec::with_capacity(8 * 1024);
        File::from(fd).take(u64::MAX).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// The text of the file `name`, as [`std::fs::read_to_string`] gives it.
    pub fn read_to_string(&self, name: &str) -> std::io::Result<String> {
        String::from_utf8(self.read(name)?).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("stream did not contain valid UTF-8: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_the_path_reads_and_fails_as_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        std::fs::write(dir.path().join("empty.txt"), "").unwrap();
        std::fs::write(dir.path().join("bad.txt"), [0xff, 0xfe]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "a").unwrap();
        let d = OpenDir::new(dir.path());
        assert_eq!(d.path(), dir.path());
        assert_eq!(d.read("big.bin").unwrap(), big);
        assert_eq!(d.read("empty.txt").unwrap(), b"");
        assert_eq!(d.read_to_string("sub/a.txt").unwrap(), "a");
        let err = |e: std::io::Error| (e.kind(), e.to_string());
        for name in ["missing.txt", "sub"] {
            let want = std::fs::read(dir.path().join(name)).unwrap_err();
            assert_eq!(err(d.read(name).unwrap_err()), err(want), "{name}");
        }
        let want = std::fs::read_to_string(dir.path().join("bad.txt")).unwrap_err();
        assert_eq!(d.read_to_string("bad.txt").unwrap_err().kind(), want.kind());
        // Listed by name, in the order of the sorted listing of paths.
        let names: Vec<OsString> = (super::super::files::sorted_entries(dir.path()).iter())
            .filter_map(|p| p.file_name().map(OsStr::to_os_string))
            .collect();
        assert_eq!(d.sorted_names(), names);
        assert_eq!(names.len(), 4);
        // A directory that is not there: every read fails as reading its path does.
        let gone = OpenDir::new(&dir.path().join("gone"));
        let want = std::fs::read(dir.path().join("gone/x")).unwrap_err();
        assert_eq!(err(gone.read("x").unwrap_err()), err(want));
        assert!(gone.sorted_names().is_empty());
    }
}
