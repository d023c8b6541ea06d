//! The first-pass cache: a scene's ranked candidates, first-pass counts and what its mask
//! completion did, packed under `OUT/.cache/first-pass/` by a key of the scene's input
//! fingerprint, the settings and the program, so a rebuild masks and ranks only the scenes
//! that changed; and the checksummed payload files the other build caches are made of.
//!
//! Entries are a cache, not output: written without fsync, each with a checksum, and an
//! entry that is missing, torn or corrupt is recomputed.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crossview_schemas::{ContentHasher, InputError, Task};
use crossview_stages::corpus::SparseStats;
use crossview_stages::masks::MaskStats;
use serde::{Deserialize, Serialize};

use super::graph::SceneTaskRanks;
use super::pack::PackStore;

/// What mask completion did for one scene, replayed into the report when a rebuild takes
/// the scene from the cache (its masks are then completed again only if a shard that holds
/// it is rewritten).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SceneMasks {
    /// The scene's mask counts.
    pub stats: MaskStats,
    /// Frames that could not be segmented.
    pub errors: Vec<InputError>,
    /// Segmenter cache entries the scene uses (kept by the cache pruning).
    pub cache_keys: Vec<String>,
}

/// What the first pass gives for one scene.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstPass {
    /// Ranked candidates per task.
    pub ranks: BTreeMap<Task, SceneTaskRanks>,
    /// First-pass counts by their non-zero cells: whole, they are kilobytes of mostly empty
    /// grids, and a rebuild holds every cached scene's entry and moves it through the
    /// graph's operators.
    pub stats: SparseStats,
    /// The scene's mask completion.
    pub masks: SceneMasks,
}

/// The cache folder of an output folder.
pub fn cache_dir(out: &Path) -> PathBuf {
    out.join(".cache").join("first-pass")
}

/// The identity of the running program, so entries never outlive the code that made them:
/// its executable's size and modification time, a stamp as images get (hashing the 160 MB
/// executable, line tables and all, cost a fifth of a second on every build). A program whose
/// executable cannot be stamped shares no entries with any other run.
pub fn program_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let stamp = std::env::current_exe()
            .ok()
            .and_then(|p| crossview_stages::sources::file_stamp(&p));
        match stamp {
            Some(s) => format!("{}-{}-{}", env!("CARGO_PKG_VERSION"), s.len, s.modified_ns),
            None => format!(
                "{}-unstamped-{}-{:?}",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                std::time::SystemTime::now()
            ),
        }
    })
    .clone()
}

/// The entry name of a scene: its id, input fingerprint, the settings and the program.
pub fn entry_key(scene_id: &str, fingerprint: &str, settings: &str) -> String {
    ContentHasher::new("crossview.first_pass")
        .str(scene_id)
        .str(fingerprint)
        .str(settings)
        .finish_hex(16)
}

/// Reads an entry; `None` when absent or damaged.
pub fn load(store: &PackStore, key: &str) -> Option<FirstPass> {
    bincode::deserialize(&store.load(key)?).ok()
}

/// Writes an entry.
pub fn store(store: &PackStore, key: &str, entry: &FirstPass) -> std::io::Result<()> {
    let payload = bincode::serialize(entry).map_err(std::io::Error::other)?;
    store.store(key, &payload)
}

/// The payload of a cache file whose checksum holds; `None` when absent or damaged.
pub fn load_payload(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let mut bytes = std::fs::read(dir.join(key)).ok()?;
    let (sum, payload) = bytes.split_at_checked(8)?;
    if u64::from_le_bytes(sum.try_into().ok()?) != xxhash_rust::xxh3::xxh3_64(payload) {
        return None;
    }
    bytes.drain(..8);
    Some(bytes)
}

/// Writes a cache file: checksum and payload under a temporary name, then renamed, so a
/// reader sees a whole file or none.
pub fn store_payload(dir: &Path, key: &str, payload: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{key}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes())?;
    f.write_all(payload)?;
    drop(f);
    std::fs::rename(&tmp, dir.join(key))
}

/// Deletes entries not in `used` (scenes gone or changed, settings changed).
pub fn prune(dir: &Path, used: &std::collections::BTreeSet<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !used.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let mut stats = crossview_stages::corpus::CorpusStats::default();
        stats.scenes[1] = 3;
        let mut ranks = BTreeMap::new();
        ranks.insert(
            Task::Q2,
            SceneTaskRanks {
                scene: 5,
                split: crossview_schemas::Split::Train,
                source: crossview_schemas::SourceKind::MmpTrack,
                options: 2,
                ranks_by_slot: vec![vec![1, 9], vec![4]],
            },
        );
        let entry = FirstPass {
            ranks,
            stats: SparseStats::from(&stats),
            masks: SceneMasks {
                cache_keys: vec!["k".into()],
                ..SceneMasks::default()
            },
        };
        let key = entry_key("s", "f", "x");
        assert_ne!(key, entry_key("s", "g", "x"));
        let packs = PackStore::open(&dir.path().join("first-pass"));
        std::fs::create_dir_all(packs.dir()).unwrap();
        store(&packs, &key, &entry).unwrap();
        assert_eq!(load(&packs, &key), Some(entry.clone()));
        assert_eq!(load(&packs, &entry_key("s", "g", "x")), None);
        // A payload file: a flipped byte or a cut file is a miss, not garbage.
        let payload = bincode::serialize(&entry).unwrap();
        store_payload(dir.path(), &key, &payload).unwrap();
        assert_eq!(load_payload(dir.path(), &key), Some(payload));
        let path = dir.path().join(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(load_payload(dir.path(), &key), None);
        std::fs::write(&path, &bytes[..5]).unwrap();
        assert_eq!(load_payload(dir.path(), &key), None);
        std::fs::remove_dir_all(packs.dir()).unwrap();
        prune(dir.path(), &Default::default());
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
