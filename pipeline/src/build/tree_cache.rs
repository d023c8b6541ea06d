//! The read cache: per native tree, the stub of every scene it held at the last build (scene,
//! fingerprint, files, cameras, errors) and its tree-level problems, under `OUT/.cache/trees/`,
//! so a rebuild reads an unchanged tree not at all and a changed one only where it changed;
//! and per scene its records (`OUT/.cache/scenes/`), for when a shard holding a stub is made.
//!
//! A stub stands in for its scene only while the scene's first pass is cached too: the graph
//! then needs its records only when a shard holding it is rewritten, and reads them then.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossview_schemas::{Absence, ContentHasher, Frame, InputError, Observation, SourceKind};
use crossview_stages::sources::{SceneData, SceneSkip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cache;

/// What a tree held at the last build that read it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// The tree's signature when it was read (its files' stamps).
    pub signature: String,
    /// Every scene's stub, in reading order.
    pub scenes: Vec<SceneData>,
    /// Problems that belong to no single scene.
    pub problems: Vec<InputError>,
}

/// The read cache folder of an output folder.
pub fn trees_dir(out: &Path) -> PathBuf {
    out.join(".cache").join("trees")
}

/// The entry name of a tree: its root, kind, the settings and the program.
pub fn entry_key(root: &Path, kind: SourceKind, settings: &str) -> String {
    ContentHasher::new("crossview.tree_read")
        .str(&root.to_string_lossy())
        .str(kind.name())
        .str(settings)
        .finish_hex(16)
}

/// A tree entry as stored: bincode, with each stub's cameras as CBOR (a camera's distortion
/// is an internally tagged enum, which bincode cannot read back).
#[derive(Serialize, Deserialize)]
struct StoredTree {
    signature: String,
    scenes: Vec<(SceneData, Vec<u8>)>,
    problems: Vec<InputError>,
}

/// Reads an entry; `None` when absent or damaged.
pub fn load(dir: &Path, key: &str) -> Option<TreeEntry> {
    let stored: StoredTree = bincode::deserialize(&cache::load_payload(dir, key)?).ok()?;
    // The cameras' CBOR is most of the decoding: on the thread pool.
    let scenes = stored
        .scenes
        .into_par_iter()
        .map(|(mut stub, cameras)| {
            stub.cameras = ciborium::from_reader(cameras.as_slice()).ok()?;
            Some(stub)
        })
        .collect::<Option<Vec<SceneData>>>()?;
    Some(TreeEntry {
        signature: stored.signature,
        scenes,
        problems: stored.problems,
    })
}

/// Writes an entry. One that cannot be written only costs reading the tree next time.
pub fn store(dir: &Path, key: &str, entry: &TreeEntry) -> std::io::Result<()> {
    let scenes = entry
        .scenes
        .par_iter()
        .map(|stub| {
            let mut cameras = Vec::new();
            ciborium::into_writer(&stub.cameras, &mut cameras).map_err(std::io::Error::other)?;
            let bare = SceneData {
                cameras: Vec::new(),
                ..stub.clone()
            };
            Ok((bare, cameras))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let payload = bincode::serialize(&StoredTree {
        signature: entry.signature.clone(),
        scenes,
        problems: entry.problems.clone(),
    })
    .map_err(std::io::Error::other)?;
    cache::store_payload(dir, key, &payload)
}

/// The scene records cache folder of an output folder; entries are named as the scene's
/// first-pass entry.
pub fn scenes_dir(out: &Path) -> PathBuf {
    out.join(".cache").join("scenes")
}

/// A scene's records as stored: bincode for the bulk, the cameras as CBOR (a camera's
/// distortion is an internally tagged enum, which bincode cannot read back).
#[derive(Serialize)]
struct SceneRecordsOut<'a> {
    cameras: Vec<u8>,
    frames: &'a [Frame],
    observations: &'a [Observation],
    absences: &'a [Absence],
}

#[derive(Deserialize)]
struct SceneRecordsIn {
    cameras: Vec<u8>,
    frames: Vec<Frame>,
    observations: Vec<Observation>,
    absences: Vec<Absence>,
}

/// Stores a scene's records under its first-pass key. One that cannot be stored only costs
/// reading the scene's tree when a shard holding it is made.
pub fn store_records(dir: &Path, key: &str, scene: &SceneData) -> std::io::Result<()> {
    let mut cameras = Vec::new();
    ciborium::into_writer(&scene.cameras, &mut cameras).map_err(std::io::Error::other)?;
    let payload = bincode::serialize(&SceneRecordsOut {
        cameras,
        frames: &scene.frames,
        observations: &scene.observations,
        absences: &scene.absences,
    })
    .map_err(std::io::Error::other)?;
    cache::store_payload(dir, key, &payload)
}

/// The scene of a stub with its stored records; `None` when absent or damaged.
pub fn load_records(dir: &Path, key: &str, stub: &SceneData) -> Option<SceneData> {
    let stored: SceneRecordsIn = bincode::deserialize(&cache::load_payload(dir, key)?).ok()?;
    Some(SceneData {
        scene: stub.scene.clone(),
        fingerprint: stub.fingerprint.clone(),
        files: stub.files.clone(),
        cameras: ciborium::from_reader(stored.cameras.as_slice()).ok()?,
        frames: stored.frames,
        observations: stored.observations,
        absences: stored.absences,
        errors: stub.errors.clone(),
        unread: false,
    })
}

/// The scenes of a tree's last read whose first pass is cached: a reader hands their stubs
/// over in place of reading them when their fingerprint is unchanged.
pub struct KnownScenes<'a> {
    stubs: HashMap<&'a str, &'a SceneData>,
    first_pass_dir: &'a Path,
    settings: &'a str,
}

impl<'a> KnownScenes<'a> {
    /// The stubs of `entry` (none without one).
    pub fn new(entry: Option<&'a TreeEntry>, first_pass_dir: &'a Path, settings: &'a str) -> Self {
        let stubs = entry
            .map(|e| e.scenes.iter().map(|s| (s.scene_id(), s)).collect())
            .unwrap_or_default();
        KnownScenes {
            stubs,
            first_pass_dir,
            settings,
        }
    }

    /// Whether every scene of `entry` can be taken from the caches as it is.
    pub fn all_cached(&self, entry: &TreeEntry) -> bool {
        entry
            .scenes
            .iter()
            .all(|s| self.first_pass_cached(s.scene_id(), &s.fingerprint))
    }

    fn first_pass_cached(&self, scene_id: &str, fingerprint: &str) -> bool {
        cache::exists(
            self.first_pass_dir,
            &cache::entry_key(scene_id, fingerprint, self.settings),
        )
    }
}

impl SceneSkip for KnownScenes<'_> {
    fn known(&self, scene_id: &str, fingerprint: &str) -> Option<SceneData> {
        let stub = self.stubs.get(scene_id)?;
        (stub.fingerprint == fingerprint && self.first_pass_cached(scene_id, fingerprint))
            .then(|| (*stub).clone())
    }

    fn held(&self, scene_id: &str) -> Option<&SceneData> {
        self.stubs.get(scene_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossview_schemas::Scene;

    fn stub(id: &str, fingerprint: &str) -> SceneData {
        SceneData {
            scene: Some(Scene {
                scene_id: id.into(),
                source: SourceKind::MessyTable,
                source_split: "train".into(),
            }),
            fingerprint: fingerprint.into(),
            unread: true,
            ..SceneData::default()
        }
    }

    #[test]
    fn entries_round_trip_and_scenes_are_known_only_with_their_fingerprint_and_first_pass() {
        let dir = tempfile::tempdir().unwrap();
        let entry = TreeEntry {
            signature: "sig".into(),
            scenes: vec![stub("messytable/a", "f1"), stub("messytable/b", "f2")],
            problems: Vec::new(),
        };
        let key = entry_key(Path::new("/t"), SourceKind::MessyTable, "x");
        assert_ne!(key, entry_key(Path::new("/t"), SourceKind::MessyTable, "y"));
        store(dir.path(), &key, &entry).unwrap();
        assert_eq!(load(dir.path(), &key), Some(entry.clone()));

        let first_pass = dir.path().join("first-pass");
        std::fs::create_dir_all(&first_pass).unwrap();
        cache::store(
            &first_pass,
            &cache::entry_key("messytable/a", "f1", "x"),
            &cache::FirstPass::default(),
        )
        .unwrap();
        let known = KnownScenes::new(Some(&entry), &first_pass, "x");
        assert_eq!(
            known.known("messytable/a", "f1"),
            Some(entry.scenes[0].clone())
        );
        // Changed input, no cached first pass, an unknown scene: read.
        assert_eq!(known.known("messytable/a", "f9"), None);
        assert_eq!(known.known("messytable/b", "f2"), None);
        assert_eq!(known.known("messytable/c", "f1"), None);
        assert!(!known.all_cached(&entry));
        // Other settings know nothing.
        assert_eq!(
            KnownScenes::new(Some(&entry), &first_pass, "y").known("messytable/a", "f1"),
            None
        );
    }
}
