//! The read cache: per native tree, the stub of every scene it held at the last build (scene,
//! fingerprint, files, camera ids, errors) and its tree-level problems, under `OUT/.cache/trees/`,
//! so a rebuild reads an unchanged tree not at all and a changed one only where it changed;
//! and per scene its records (packed in `OUT/.cache/scenes/`), for when a shard holding a
//! stub is made.
//!
//! A stub stands in for its scene only while the scene's first pass is cached too: the graph
//! then needs its records only when a shard holding it is rewritten, and reads them then.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossview_schemas::{
    Absence, Camera, CameraKind, CameraModel, ContentHasher, Distortion, Frame, InputError,
    Observation, SensorRotation, SourceKind, WorldToCamera,
};
use crossview_stages::sources::{HeldFile, SceneData, SceneSkip};
use serde::{Deserialize, Serialize};

use super::cache;
use super::pack::PackStore;

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

/// A camera as the caches store it: its lens by name and coefficients. A [`Camera`]'s own
/// serde form tags the lens internally, which bincode cannot read back, and CBOR, which can,
/// made most of a rebuild's cache load and store.
#[derive(Serialize, Deserialize)]
struct StoredCamera {
    scene_id: String,
    camera_id: String,
    kind: CameraKind,
    size: (u32, u32),
    focal: (f64, f64),
    principal_point: (f64, f64),
    lens: String,
    coefficients: Vec<f64>,
    sensor_rotation: SensorRotation,
    world_to_camera: Option<WorldToCamera>,
}

impl StoredCamera {
    fn of(c: &Camera) -> StoredCamera {
        let m = &c.model;
        StoredCamera {
            scene_id: c.scene_id.clone(),
            camera_id: c.camera_id.clone(),
            kind: c.kind,
            size: (m.width(), m.height()),
            focal: m.focal(),
            principal_point: m.principal_point(),
            lens: m.distortion().name().to_string(),
            coefficients: m.distortion().coefficients(),
            sensor_rotation: m.sensor_rotation(),
            world_to_camera: c.world_to_camera,
        }
    }

    /// The camera; `None` when the stored values do not make one (a damaged entry).
    fn camera(self) -> Option<Camera> {
        let lens = Distortion::from_name(&self.lens, &self.coefficients).ok()?;
        let model = CameraModel::new(
            self.size.0,
            self.size.1,
            self.focal.0,
            self.focal.1,
            self.principal_point.0,
            self.principal_point.1,
            lens,
            self.sensor_rotation,
        )
        .ok()?;
        Some(Camera {
            scene_id: self.scene_id,
            camera_id: self.camera_id,
            kind: self.kind,
            model,
            world_to_camera: self.world_to_camera,
        })
    }

    fn all(cameras: &[Camera]) -> Vec<StoredCamera> {
        cameras.iter().map(StoredCamera::of).collect()
    }

    fn cameras(stored: Vec<StoredCamera>) -> Option<Vec<Camera>> {
        stored.into_iter().map(StoredCamera::camera).collect()
    }
}

/// Reads an entry (bincode); `None` when absent or damaged.
pub fn load(dir: &Path, key: &str) -> Option<TreeEntry> {
    bincode::deserialize(&cache::load_payload(dir, key)?).ok()
}

/// Writes an entry. One that cannot be written only costs reading the tree next time.
pub fn store(dir: &Path, key: &str, entry: &TreeEntry) -> std::io::Result<()> {
    let payload = bincode::serialize(entry).map_err(std::io::Error::other)?;
    cache::store_payload(dir, key, &payload)
}

/// The scene records cache folder of an output folder; entries are named as the scene's
/// first-pass entry.
pub fn scenes_dir(out: &Path) -> PathBuf {
    out.join(".cache").join("scenes")
}

/// A scene's records as stored: bincode, the cameras as [`StoredCamera`]s.
#[derive(Serialize)]
struct SceneRecordsOut<'a> {
    cameras: Vec<StoredCamera>,
    frames: &'a [Frame],
    observations: &'a [Observation],
    absences: &'a [Absence],
}

#[derive(Deserialize)]
struct SceneRecordsIn {
    cameras: Vec<StoredCamera>,
    frames: Vec<Frame>,
    observations: Vec<Observation>,
    absences: Vec<Absence>,
}

/// Stores a scene's records under its first-pass key. One that cannot be stored only costs
/// reading the scene's tree when a shard holding it is made.
pub fn store_records(store: &PackStore, key: &str, scene: &SceneData) -> std::io::Result<()> {
    let payload = bincode::serialize(&SceneRecordsOut {
        cameras: StoredCamera::all(&scene.cameras),
        frames: &scene.frames,
        observations: &scene.observations,
        absences: &scene.absences,
    })
    .map_err(std::io::Error::other)?;
    store.store(key, &payload)
}

/// The scene of a stub with its stored records; `None` when absent or damaged.
pub fn load_records(store: &PackStore, key: &str, stub: &SceneData) -> Option<SceneData> {
    let stored: SceneRecordsIn = bincode::deserialize(&store.load(key)?).ok()?;
    Some(SceneData {
        scene: stub.scene.clone(),
        fingerprint: stub.fingerprint.clone(),
        files: stub.files.clone(),
        cameras: StoredCamera::cameras(stored.cameras)?,
        camera_ids: Vec::new(),
        frames: stored.frames,
        observations: stored.observations,
        absences: stored.absences,
        errors: stub.errors.clone(),
        unread: false,
        read_stamp: stub.read_stamp.clone(),
        unit_check: stub.unit_check,
        foot_errors: stub.foot_errors.clone(),
    })
}

/// The scenes of a tree's last read whose first pass is cached: a reader hands their stubs
/// over in place of reading them when their fingerprint is unchanged.
pub struct KnownScenes<'a> {
    entry: Option<&'a TreeEntry>,
    stubs: HashMap<&'a str, &'a SceneData>,
    first_pass: &'a PackStore,
    settings: &'a str,
}

impl<'a> KnownScenes<'a> {
    /// The stubs of `entry` (none without one).
    pub fn new(entry: Option<&'a TreeEntry>, first_pass: &'a PackStore, settings: &'a str) -> Self {
        let stubs = entry
            .map(|e| e.scenes.iter().map(|s| (s.scene_id(), s)).collect())
            .unwrap_or_default();
        KnownScenes {
            entry,
            stubs,
            first_pass,
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
        (self.first_pass).contains(&cache::entry_key(scene_id, fingerprint, self.settings))
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

    /// The stubs read from `rel` (their first file) and the tree problems naming it.
    fn held_file(&self, rel: &Path) -> Option<HeldFile<'_>> {
        let entry = self.entry?;
        let scenes: Vec<&SceneData> = (entry.scenes.iter())
            .filter(|s| s.files.first().is_some_and(|f| f == rel))
            .collect();
        let known = |s: &&SceneData| self.first_pass_cached(s.scene_id(), &s.fingerprint);
        if scenes.is_empty() || !scenes.iter().all(known) {
            return None;
        }
        let file = rel.to_string_lossy();
        let problems = (entry.problems.iter())
            .filter(|p| p.file == file)
            .cloned()
            .collect();
        Some(HeldFile { scenes, problems })
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

    /// A camera of each lens, static or moving, sensor rotated or not.
    fn cameras(scene_id: &str) -> Vec<Camera> {
        let lenses = [
            Distortion::Pinhole,
            Distortion::from_name("radial_tangential", &[0.1, -0.2, 0.001, 0.002, 0.05]).unwrap(),
            Distortion::from_name("kannala_brandt", &[0.3, -0.01, 0.002, 1e-4]).unwrap(),
            Distortion::from_name(
                "fisheye_rad_tan_thin_prism",
                &[
                    0.4, -0.5, 0.1, 1.2, -1.7, 0.7, 1e-4, -2e-4, 3e-4, 0.0, -1e-4, 2e-5,
                ],
            )
            .unwrap(),
        ];
        lenses
            .into_iter()
            .enumerate()
            .map(|(i, lens)| {
                let rotation =
                    crossview_schemas::Rotation::from_quat_wxyz(0.9, 0.1, -0.3, 0.2).unwrap();
                Camera {
                    scene_id: scene_id.into(),
                    camera_id: format!("cam{i}"),
                    kind: if i % 2 == 0 {
                        CameraKind::Exo
                    } else {
                        CameraKind::Ego
                    },
                    model: CameraModel::new(
                        640 + i as u32,
                        480,
                        500.5,
                        501.25,
                        319.75,
                        240.125,
                        lens,
                        if i == 3 {
                            SensorRotation::Cw90
                        } else {
                            SensorRotation::None
                        },
                    )
                    .unwrap(),
                    world_to_camera: (i % 2 == 0).then(|| {
                        WorldToCamera::new(
                            rotation,
                            crossview_schemas::glam::DVec3::new(0.1, -2.0, 3.5),
                        )
                        .unwrap()
                    }),
                }
            })
            .collect()
    }

    #[test]
    fn entries_round_trip_and_scenes_are_known_only_with_their_fingerprint_and_first_pass() {
        let dir = tempfile::tempdir().unwrap();
        let full = SceneData {
            cameras: cameras("messytable/a"),
            unread: false,
            ..stub("messytable/a", "f1")
        };
        let entry = TreeEntry {
            signature: "sig".into(),
            scenes: vec![full.stub(), stub("messytable/b", "f2")],
            problems: Vec::new(),
        };
        assert_eq!(entry.scenes[0].camera_ids, ["cam0", "cam1", "cam2", "cam3"]);
        let key = entry_key(Path::new("/t"), SourceKind::MessyTable, "x");
        assert_ne!(key, entry_key(Path::new("/t"), SourceKind::MessyTable, "y"));
        store(dir.path(), &key, &entry).unwrap();
        assert_eq!(load(dir.path(), &key), Some(entry.clone()));
        // A scene's records: its cameras come back whole too.
        let records = PackStore::open(&scenes_dir(dir.path()));
        std::fs::create_dir_all(records.dir()).unwrap();
        store_records(&records, "k", &full).unwrap();
        assert_eq!(
            load_records(&records, "k", &entry.scenes[0]),
            Some(full.clone())
        );

        let first_pass = PackStore::open(&dir.path().join("first-pass"));
        std::fs::create_dir_all(first_pass.dir()).unwrap();
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

    /// A file's stubs are held (in reading order, with the problems naming the file) only
    /// when every one of them has its first pass cached.
    #[test]
    fn a_files_stubs_are_held_only_when_all_are_known() {
        let dir = tempfile::tempdir().unwrap();
        let in_file = |id: &str, file: &str| SceneData {
            files: vec![PathBuf::from(file)],
            ..stub(id, "f")
        };
        let problem = |file: &str| InputError {
            source: "messytable".into(),
            file: file.into(),
            location: String::new(),
            class: crossview_schemas::ErrorClass::Malformed,
            reason: "broken".into(),
            scene_id: None,
        };
        let entry = TreeEntry {
            signature: "sig".into(),
            scenes: vec![
                in_file("messytable/a", "labels/train.json"),
                in_file("messytable/b", "labels/val.json"),
                in_file("messytable/c", "labels/train.json"),
            ],
            problems: vec![problem("labels/val.json"), problem("labels/train.json")],
        };
        let first_pass = PackStore::open(&dir.path().join("first-pass"));
        std::fs::create_dir_all(first_pass.dir()).unwrap();
        for id in ["messytable/a", "messytable/c"] {
            let key = cache::entry_key(id, "f", "x");
            cache::store(&first_pass, &key, &cache::FirstPass::default()).unwrap();
        }
        let known = KnownScenes::new(Some(&entry), &first_pass, "x");
        let train = known.held_file(Path::new("labels/train.json")).unwrap();
        assert_eq!(train.scenes, vec![&entry.scenes[0], &entry.scenes[2]]);
        assert_eq!(train.problems, vec![problem("labels/train.json")]);
        // b's first pass is not cached; no scene was read from test.json.
        assert!(known.held_file(Path::new("labels/val.json")).is_none());
        assert!(known.held_file(Path::new("labels/test.json")).is_none());
        assert!(
            KnownScenes::new(None, &first_pass, "x")
                .held_file(Path::new("labels/train.json"))
                .is_none()
        );
    }
}
