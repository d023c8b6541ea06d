//! [`OpenDir`]: a directory held open whose files are read by name, for folders of thousands
//! of small files (MMPTrack label files, EgoHumans calibration files).

use std::fs::File;
use std::io::Read;
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

    /// The bytes of the file `name` in the directory; errors are those of opening or reading
    /// `dir/name`.
    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        let handle = self.handle.get_or_init(|| {
            rustix::fs::open(
                &self.dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok()
        });
        let Some(dir) = handle else {
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
        // A directory that is not there: every read fails as reading its path does.
        let gone = OpenDir::new(&dir.path().join("gone"));
        let want = std::fs::read(dir.path().join("gone/x")).unwrap_err();
        assert_eq!(err(gone.read("x").unwrap_err()), err(want));
    }
}
