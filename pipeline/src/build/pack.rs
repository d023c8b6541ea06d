//! [`PackStore`]: a cache folder of keyed entries packed into a few append-only files, found
//! through an index rebuilt from the files' record headers when the store is opened.
//!
//! A cold paper build stores some 12 K per-scene entries (first passes, scene records). One
//! file each cost a tenth of the build's CPU in file creation, and far more when the folder's
//! previous files were just deleted (ext4 then skips each recently freed inode on every
//! allocation). Packs make that a few files per build.
//!
//! Entries are a cache, not output: no fsync; a record that is torn (a killed build) or damaged
//! ends or fails its pack's scan or its load, and is computed again. A pack is named by process
//! and time, so the processes of a cluster and successive builds never write the same file.
//! Pruning deletes packs with no entry in use and rewrites those mostly unused or small.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The first bytes of every record.
const MAGIC: [u8; 4] = *b"CVPK";
/// A record's header: magic, key length (u16), payload length (u32), xxh3-64 of key and
/// payload (u64), all little-endian; the key and the payload follow.
const HEADER: usize = 4 + 2 + 4 + 8;
/// A pack takes no more records once it is this long.
const PACK_BYTES: u64 = 64 << 20;
/// Pruning rewrites packs under this size once there are more than [`SMALL_PACKS`] of them
/// (each rebuild after a small change adds one).
const SMALL_PACK_BYTES: u64 = 8 << 20;
const SMALL_PACKS: usize = 8;
/// The file name ending of packs.
const PACK_SUFFIX: &str = ".pack";

/// Where an entry's record is: its pack and the record's offset and length, header included.
#[derive(Clone, Copy, Debug)]
struct Location {
    pack: usize,
    offset: u64,
    len: u64,
}

/// A pack open for appending by one thread at a time.
struct Writer {
    pack: usize,
    file: File,
    end: u64,
}

/// A folder of packs: entries by key.
pub struct PackStore {
    dir: PathBuf,
    /// The packs' paths and open files; a pack's number is its place here.
    packs: RwLock<Vec<(PathBuf, Arc<File>)>>,
    index: RwLock<HashMap<String, Location>>,
    /// Packs open for appending, taken by a storing thread and put back after.
    writers: Mutex<Vec<Writer>>,
    /// What earlier scans found in each pack: packs only grow, so a reindex reads the headers
    /// of the records added since (a rebuild reindexes three times: open, and twice in prune).
    scans: Mutex<HashMap<PathBuf, PackScan>>,
}

/// A pack's records as far as it has been scanned.
struct PackScan {
    file: Arc<File>,
    records: Vec<Scanned>,
    /// Where the scan stopped: the pack's end, or a record not yet whole.
    end: u64,
}

impl std::fmt::Debug for PackStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackStore").field("dir", &self.dir).finish()
    }
}

/// A record read from a pack's scan: its key and location.
struct Scanned {
    key: String,
    offset: u64,
    len: u64,
}

impl PackStore {
    /// The store in `dir` (which need not exist yet), its index read from the packs there.
    pub fn open(dir: &Path) -> PackStore {
        let store = PackStore {
            dir: dir.to_path_buf(),
            packs: RwLock::default(),
            index: RwLock::default(),
            writers: Mutex::default(),
            scans: Mutex::default(),
        };
        store.reindex();
        store
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Forgets the packs open for appending and reads the index again from the packs on
    /// disk (those of other processes included): of a pack scanned before, only the records
    /// added since (one shorter than it was is scanned again whole).
    pub fn reindex(&self) {
        let mut packs = Vec::new();
        let mut index = HashMap::new();
        let Ok(mut scans) = self.scans.lock() else {
            return;
        };
        let paths = pack_paths(&self.dir);
        scans.retain(|path, _| paths.binary_search(path).is_ok());
        for path in paths {
            let known = match scans.entry(path.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let Ok(file) = File::open(&path) else {
                        continue;
                    };
                    e.insert(PackScan {
                        file: Arc::new(file),
                        records: Vec::new(),
                        end: 0,
                    })
                }
            };
            let size = known.file.metadata().map_or(0, |m| m.len());
            if size < known.end {
                // Not the pack scanned before (packs only grow): scanned again whole.
                known.records.clear();
                known.end = 0;
            }
            known.end = scan(&known.file, known.end, size, &mut known.records);
            let number = packs.len();
            for r in &known.records {
                index.entry(r.key.clone()).or_insert(Location {
                    pack: number,
                    offset: r.offset,
                    len: r.len,
                });
            }
            packs.push((path, known.file.clone()));
        }
        drop(scans);
        if let Ok(mut w) = self.writers.lock() {
            w.clear();
        }
        if let (Ok(mut p), Ok(mut i)) = (self.packs.write(), self.index.write()) {
            *p = packs;
            *i = index;
        }
    }

    /// Whether an entry is indexed (damage is found only when it is loaded).
    pub fn contains(&self, key: &str) -> bool {
        self.index.read().is_ok_and(|i| i.contains_key(key))
    }

    /// The payload of an entry whose record holds; `None` when absent or damaged.
    pub fn load(&self, key: &str) -> Option<Vec<u8>> {
        let at = *self.index.read().ok()?.get(key)?;
        let file = self.packs.read().ok()?.get(at.pack)?.1.clone();
        let mut bytes = vec![0u8; usize::try_from(at.len).ok()?];
        file.read_exact_at(&mut bytes, at.offset).ok()?;
        let (found, payload) = parse_record(&bytes)?;
        let whole = found == key.as_bytes() && payload.len() + HEADER + found.len() == bytes.len();
        // The payload is the record's tail: moved to the front in place, not copied out
        // (a rebuild loads every cached scene's entry, tens of MB in all).
        let prefix = HEADER + found.len();
        whole.then(|| {
            bytes.drain(..prefix);
            bytes
        })
    }

    /// Stores an entry in a pack of this process; it is indexed once written whole.
    pub fn store(&self, key: &str, payload: &[u8]) -> std::io::Result<()> {
        let record = record(key, payload)?;
        let taken = self.writers.lock().map_err(poisoned)?.pop();
        let mut writer = match taken.filter(|w| w.end < PACK_BYTES) {
            Some(w) => w,
            None => self.new_writer()?,
        };
        // A failed write may leave part of the record: the writer is dropped, so the pack's
        // scan ends at that part.
        writer.file.write_all_at(&record, writer.end)?;
        let at = Location {
            pack: writer.pack,
            offset: writer.end,
            len: record.len() as u64,
        };
        writer.end += record.len() as u64;
        self.index
            .write()
            .map_err(poisoned)?
            .insert(key.to_string(), at);
        self.writers.lock().map_err(poisoned)?.push(writer);
        Ok(())
    }

    /// A new pack of this process, registered for reading.
    fn new_writer(&self) -> std::io::Result<Writer> {
        static PACKS: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "{nanos:032}-{}-{}{PACK_SUFFIX}",
            std::process::id(),
            PACKS.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join(name);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let reader = Arc::new(file.try_clone()?);
        let mut packs = self.packs.write().map_err(poisoned)?;
        packs.push((path, reader));
        Ok(Writer {
            pack: packs.len() - 1,
            file,
            end: 0,
        })
    }

    /// Keeps the entries in `used`: deletes packs that hold none of them and rewrites those
    /// mostly unused (or small, when there are many small ones) with only their used entries;
    /// then reads the index again. Run when no other thread or process is storing.
    pub fn prune(&self, used: &BTreeSet<String>) {
        // Files that are no pack: entries of the one-file-per-entry layout before packs.
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let path = e.path();
            if !is_pack(&path) && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(path);
            }
        }
        self.reindex();
        let packs: Vec<(PathBuf, Arc<File>)> = match self.packs.read() {
            Ok(p) => p.clone(),
            Err(_) => return,
        };
        let sizes: Vec<u64> = (packs.iter())
            .map(|(_, f)| f.metadata().map_or(0, |m| m.len()))
            .collect();
        let small = sizes.iter().filter(|&&s| s < SMALL_PACK_BYTES).count();
        // Each used entry is kept once: in the pack the index found it in.
        let index = match self.index.read() {
            Ok(i) => i.clone(),
            Err(_) => return,
        };
        for (number, ((path, file), size)) in packs.iter().zip(&sizes).enumerate() {
            let kept: Vec<(&String, Location)> = (index.iter())
                .filter(|(k, at)| at.pack == number && used.contains(*k))
                .map(|(k, at)| (k, *at))
                .collect();
            let live: u64 = kept.iter().map(|(_, at)| at.len).sum();
            let rewrite = live * 2 < *size || (small > SMALL_PACKS && *size < SMALL_PACK_BYTES);
            if !kept.is_empty() && !rewrite {
                continue;
            }
            // Used entries move to a pack of this run before the old one goes; one that
            // cannot be moved keeps its pack.
            let mut moved = true;
            for (key, at) in kept {
                let mut bytes = vec![0u8; at.len as usize];
                let ok = file.read_exact_at(&mut bytes, at.offset).is_ok()
                    && parse_record(&bytes).is_some_and(|(k, payload)| {
                        k == key.as_bytes() && self.store(key, payload).is_ok()
                    });
                moved &= ok;
            }
            if moved {
                let _ = std::fs::remove_file(path);
            }
        }
        self.reindex();
    }
}

fn poisoned<T>(_: std::sync::PoisonError<T>) -> std::io::Error {
    std::io::Error::other("a pack store lock was poisoned")
}

/// The packs in `dir`, oldest first (names start with their creation time).
fn pack_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| is_pack(p))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
}

/// Whether `path` names a pack.
fn is_pack(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.ends_with(PACK_SUFFIX))
}

/// A record's bytes: header, key, payload.
fn record(key: &str, payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let key_len = u16::try_from(key.len()).map_err(std::io::Error::other)?;
    let payload_len = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    let mut r = Vec::with_capacity(HEADER + key.len() + payload.len());
    r.extend_from_slice(&MAGIC);
    r.extend_from_slice(&key_len.to_le_bytes());
    r.extend_from_slice(&payload_len.to_le_bytes());
    r.extend_from_slice(&checksum(key.as_bytes(), payload).to_le_bytes());
    r.extend_from_slice(key.as_bytes());
    r.extend_from_slice(payload);
    Ok(r)
}

/// The checksum of a record's key and payload.
fn checksum(key: &[u8], payload: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(key);
    h.update(payload);
    h.digest()
}

/// The header's key and payload lengths, if it is a record's header.
fn header_lengths(h: &[u8]) -> Option<(usize, usize)> {
    if h.get(..4)? != MAGIC {
        return None;
    }
    let key_len = u16::from_le_bytes(h.get(4..6)?.try_into().ok()?);
    let payload_len = u32::from_le_bytes(h.get(6..10)?.try_into().ok()?);
    Some((usize::from(key_len), payload_len as usize))
}

/// A whole record's key and payload, if its checksum holds.
fn parse_record(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (key_len, payload_len) = header_lengths(bytes)?;
    let sum = u64::from_le_bytes(bytes.get(10..HEADER)?.try_into().ok()?);
    let key = bytes.get(HEADER..HEADER + key_len)?;
    let payload = bytes.get(HEADER + key_len..HEADER + key_len + payload_len)?;
    (checksum(key, payload) == sum).then_some((key, payload))
}

/// The records of a pack (`size` bytes long) from `offset` by their headers, into `out`, up to
/// the first that is not whole (a torn tail, or one still being written); returns where the
/// scan stopped. Each header is one small read: the payloads are not read.
fn scan(file: &File, mut offset: u64, size: u64, out: &mut Vec<Scanned>) -> u64 {
    // Header and key (keys are short hex names; a longer one is read in a second go).
    let mut head = [0u8; HEADER + 64];
    while offset + HEADER as u64 <= size {
        let want = (size - offset).min(head.len() as u64) as usize;
        if file.read_exact_at(&mut head[..want], offset).is_err() {
            break;
        }
        let Some((key_len, payload_len)) = header_lengths(&head[..want]) else {
            break;
        };
        let len = (HEADER + key_len + payload_len) as u64;
        if offset + len > size {
            break;
        }
        let key = if HEADER + key_len <= want {
            head[HEADER..HEADER + key_len].to_vec()
        } else {
            let mut k = vec![0u8; key_len];
            if file.read_exact_at(&mut k, offset + HEADER as u64).is_err() {
                break;
            }
            k
        };
        let Ok(key) = String::from_utf8(key) else {
            break;
        };
        out.push(Scanned { key, offset, len });
        offset += len;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        pack_paths(dir)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn entries_survive_a_reopen_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let store = PackStore::open(dir.path());
        assert!(!store.contains("a"));
        store.store("a", b"first").unwrap();
        store.store("", b"").unwrap();
        store.store("b", &[7u8; 1000]).unwrap();
        assert_eq!(store.load("a").as_deref(), Some(&b"first"[..]));
        assert_eq!(names(dir.path()).len(), 1, "one thread, one pack");

        let again = PackStore::open(dir.path());
        assert!(again.contains("a") && again.contains("b") && again.contains(""));
        assert_eq!(again.load("b"), Some(vec![7u8; 1000]));
        assert_eq!(again.load(""), Some(Vec::new()));
        assert_eq!(again.load("c"), None);

        // A flipped payload byte is a miss; the records around it still load.
        let pack = pack_paths(dir.path()).remove(0);
        let mut bytes = std::fs::read(&pack).unwrap();
        let a_payload = HEADER + 1;
        bytes[a_payload] ^= 1;
        std::fs::write(&pack, &bytes).unwrap();
        let damaged = PackStore::open(dir.path());
        assert_eq!(damaged.load("a"), None);
        assert_eq!(damaged.load("b"), Some(vec![7u8; 1000]));

        // A torn tail (a killed build) ends the scan there: the whole records before stay.
        bytes[a_payload] ^= 1;
        let torn = bytes.len() - 3;
        std::fs::write(&pack, &bytes[..torn]).unwrap();
        let cut = PackStore::open(dir.path());
        assert_eq!(cut.load("a").as_deref(), Some(&b"first"[..]));
        assert_eq!(cut.load(""), Some(Vec::new()));
        assert!(!cut.contains("b"), "the torn record is not indexed");
        // Storing again after the tear: a new pack, and the entry is found.
        cut.store("b", b"again").unwrap();
        assert_eq!(names(dir.path()).len(), 2);
        assert_eq!(
            PackStore::open(dir.path()).load("b").as_deref(),
            Some(&b"again"[..])
        );
    }

    #[test]
    fn a_reindex_sees_packs_grow_appear_shrink_and_go() {
        let dir = tempfile::tempdir().unwrap();
        let mine = PackStore::open(dir.path());
        mine.store("a1", b"mine").unwrap();
        // Another process's store: a pack of its own, found at the next reindex.
        let other = PackStore::open(dir.path());
        other.store("b1", b"other").unwrap();
        assert!(!mine.contains("b1"));
        mine.reindex();
        assert_eq!(mine.load("b1").as_deref(), Some(&b"other"[..]));
        assert_eq!(mine.load("a1").as_deref(), Some(&b"mine"[..]));
        // Its pack grows after it was scanned: the records added since are found.
        other.store("b2", &[5u8; 300]).unwrap();
        mine.reindex();
        assert_eq!(mine.load("b2"), Some(vec![5u8; 300]));
        assert_eq!(mine.load("b1").as_deref(), Some(&b"other"[..]));
        // Its pack (the newer: names start with their creation time) goes: so do its entries.
        let other_pack = pack_paths(dir.path()).pop().unwrap();
        assert_eq!(pack_paths(dir.path()).len(), 2);
        std::fs::remove_file(&other_pack).unwrap();
        mine.reindex();
        assert!(!mine.contains("b1") && !mine.contains("b2"));
        assert_eq!(mine.load("a1").as_deref(), Some(&b"mine"[..]));
        // A pack shorter than when it was scanned is scanned again whole. (After a reindex a
        // store starts a new pack: a2 and a3 share one.)
        mine.store("a2", &[9u8; 100]).unwrap();
        mine.store("a3", &[8u8; 100]).unwrap();
        mine.reindex();
        assert!(mine.contains("a2") && mine.contains("a3"));
        let newest = pack_paths(dir.path()).pop().unwrap();
        let bytes = std::fs::read(&newest).unwrap();
        std::fs::write(&newest, &bytes[..bytes.len() - 3]).unwrap();
        mine.reindex();
        assert!(!mine.contains("a3"), "the torn record is not indexed");
        assert_eq!(mine.load("a2"), Some(vec![9u8; 100]));
        assert_eq!(mine.load("a1").as_deref(), Some(&b"mine"[..]));
    }

    #[test]
    fn threads_store_into_packs_of_their_own_and_every_entry_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = PackStore::open(dir.path());
        std::thread::scope(|s| {
            for t in 0..4 {
                let store = &store;
                s.spawn(move || {
                    for i in 0..200 {
                        store
                            .store(&format!("{t}-{i}"), format!("{t}/{i}").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        let again = PackStore::open(dir.path());
        for t in 0..4 {
            for i in 0..200 {
                let want = format!("{t}/{i}");
                assert_eq!(
                    again.load(&format!("{t}-{i}")).as_deref(),
                    Some(want.as_bytes())
                );
            }
        }
        assert!(names(dir.path()).len() <= 4);
    }

    #[test]
    fn pruning_keeps_the_used_entries_and_drops_unused_packs() {
        let dir = tempfile::tempdir().unwrap();
        let store = PackStore::open(dir.path());
        for i in 0..10 {
            store.store(&format!("k{i}"), &[i as u8; 100]).unwrap();
        }
        let first = names(dir.path());
        // Most of the pack is in use: it stays as it is.
        let used: BTreeSet<String> = (0..8).map(|i| format!("k{i}")).collect();
        store.prune(&used);
        assert_eq!(names(dir.path()), first);
        // A few are: they move to a new pack and the old one goes.
        let used: BTreeSet<String> = ["k1".to_string(), "k9".to_string()].into();
        store.prune(&used);
        let second = names(dir.path());
        assert_eq!(second.len(), 1);
        assert_ne!(second, first);
        let again = PackStore::open(dir.path());
        assert_eq!(again.load("k9"), Some(vec![9u8; 100]));
        assert_eq!(again.load("k1"), Some(vec![1u8; 100]));
        assert!(!again.contains("k2"));
        // None is: no pack is left, nor a file of the layout before packs.
        std::fs::write(dir.path().join("0123abcd"), b"an entry file").unwrap();
        again.prune(&BTreeSet::new());
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        assert!(!again.contains("k9"));
    }

    #[test]
    fn many_small_packs_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(SMALL_PACKS + 2) {
            // A store per build: a pack each.
            PackStore::open(dir.path())
                .store(&format!("k{i}"), b"x")
                .unwrap();
        }
        assert_eq!(names(dir.path()).len(), SMALL_PACKS + 2);
        let used: BTreeSet<String> = (0..(SMALL_PACKS + 2)).map(|i| format!("k{i}")).collect();
        let store = PackStore::open(dir.path());
        store.prune(&used);
        assert_eq!(names(dir.path()).len(), 1);
        for k in &used {
            assert_eq!(store.load(k).as_deref(), Some(&b"x"[..]));
        }
    }
}
