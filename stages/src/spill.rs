//! [`Spill`]: bytes set aside now and read back by place later (a large file's pieces while
//! it streams by, a build's first-pass candidates): an unlinked temporary file, or memory
//! when no temporary file can be made.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Append-only bytes, read back by `(offset, length)`.
#[derive(Default)]
pub struct Spill {
    /// The temporary file, once something was set aside (`None` before, or when none
    /// could be made: then `memory` holds the bytes). Appends are buffered; a read flushes.
    file: Option<(BufWriter<File>, PathBuf)>,
    memory: Vec<u8>,
    len: u64,
    tried: bool,
    /// Whether the file position was moved by a read (the next append seeks back to the end).
    moved: bool,
}

impl Spill {
    fn open(&mut self) {
        static SPILLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        self.tried = true;
        let n = SPILLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("crossview-spill-{}-{n}", std::process::id()));
        if let Ok(f) = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            // Unlinked at once (the open handle keeps the bytes): a process killed with
            // SIGKILL leaves nothing behind. The path stays, to name the file in errors.
            let _ = std::fs::remove_file(&path);
            self.file = Some((BufWriter::with_capacity(1 << 20, f), path));
        }
    }

    /// How many bytes were set aside.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was set aside.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The temporary file's path, if one was made.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.file.as_ref().map(|(_, p)| p.as_path())
    }

    /// Sets `bytes` aside; returns where they are.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<(u64, u32)> {
        if !self.tried {
            self.open();
        }
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        let at = self.len;
        match &mut self.file {
            Some((f, _)) => {
                if self.moved {
                    f.seek(SeekFrom::Start(at))?;
                    self.moved = false;
                }
                if let Err(e) = f.write_all(bytes) {
                    // Part may have been written: the next append seeks back to the end.
                    self.moved = true;
                    return Err(e);
                }
            }
            None => self.memory.extend_from_slice(bytes),
        }
        self.len += u64::from(len);
        Ok((at, len))
    }

    /// The bytes set aside at `(offset, length)`.
    pub fn read(&mut self, (offset, len): (u64, u32)) -> std::io::Result<Vec<u8>> {
        let mut out = vec![0u8; len as usize];
        if offset + u64::from(len) > self.len {
            return Err(std::io::Error::other("beyond what was set aside"));
        }
        match &mut self.file {
            Some((f, _)) => {
                f.flush()?;
                let file = f.get_mut();
                file.seek(SeekFrom::Start(offset))?;
                file.read_exact(&mut out)?;
                self.moved = true;
            }
            None => {
                let start = usize::try_from(offset).map_err(std::io::Error::other)?;
                out.copy_from_slice(&self.memory[start..start + len as usize]);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_back_from_where_they_were_set_aside() {
        let mut s = Spill::default();
        let a = s.append(b"first").unwrap();
        let b = s.append(b"").unwrap();
        let c = s.append(b"third one").unwrap();
        assert_eq!(s.read(c).unwrap(), b"third one");
        assert_eq!(s.read(a).unwrap(), b"first");
        // Appending after a read lands at the end, not where the read left the file.
        let d = s.append(b"fourth").unwrap();
        assert_eq!(s.read(d).unwrap(), b"fourth");
        assert_eq!(s.read(a).unwrap(), b"first");
        assert_eq!(s.read(b).unwrap(), b"");
        assert!(s.read((18, 5)).is_err());
        // The file has no name left while it is used: nothing stays if the process dies.
        let path = s.path().unwrap().to_path_buf();
        assert!(!path.exists());
        assert_eq!(s.read(c).unwrap(), b"third one");
        // In memory.
        let mut m = Spill {
            tried: true,
            ..Spill::default()
        };
        let x = m.append(b"abc").unwrap();
        assert_eq!(m.read(x).unwrap(), b"abc");
        assert!(m.read((2, 5)).is_err());
    }
}
