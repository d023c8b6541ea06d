//! Source loaders: each native dataset tree (MessyTable, MMPTrack, EgoHumans, Ego-Exo4D) read
//! scene by scene into canonical records, with bad input kept as [`InputError`] records.
//!
//! Start with [`open`] (or [`detect`]) and [`SourceReader::read`], which hands over one
//! [`SceneData`] at a time, so a tree of thousands of scenes is read in bounded memory.

mod csv_text;
pub mod egoexo4d;
pub mod egohumans;
pub mod files;
pub mod folder;
pub mod json_stream;
mod json_subset;
mod loose_json;
pub mod messytable;
pub mod mmptrack;
mod open_dir;
mod problems;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossview_schemas::{Absence, Camera, Frame, InputError, Observation, Scene, SourceKind};

pub use files::{FileStamp, file_stamp};
pub use problems::Problems;

use crate::error::{Error, Result};

/// How MMPTrack's `ExtrinsicParameters` are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MmpExtrinsics {
    /// The documented reading: `Rotation` is camera-to-world, `Translation` the camera centre,
    /// both in millimetres (formats/mmptrack.md 5).
    #[default]
    CameraToWorld,
    /// The alternative one downstream repository assumes: `p_cam = Rotation * X + Translation`.
    WorldToCamera,
}

/// Reading options; every field has a documented default.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceOptions {
    /// A referenced image that is missing is an error (otherwise the frame simply has no
    /// image, for annotation-only trees such as `synth --no-images`).
    pub require_images: bool,
    /// Metres per unit of MessyTable's extrinsic translations (their unit is undocumented;
    /// 1.0 reads them as metres, 0.001 as millimetres).
    pub messytable_translation_scale: f64,
    /// How MMPTrack extrinsics are read.
    pub mmptrack_extrinsics: MmpExtrinsics,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            require_images: true,
            messytable_translation_scale: 1.0,
            mmptrack_extrinsics: MmpExtrinsics::CameraToWorld,
        }
    }
}

/// Everything one scene of a source tree holds, in canonical records.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SceneData {
    /// The scene.
    pub scene: Option<Scene>,
    /// Hash of every input the records come from (annotation content, and each image's
    /// path, size and modification time): equal fingerprints mean nothing changed.
    pub fingerprint: String,
    /// The files the scene was read from, relative to the tree root.
    pub files: Vec<PathBuf>,
    /// Its cameras (none in a stub: see `camera_ids`).
    pub cameras: Vec<Camera>,
    /// A stub's camera ids, in its cameras' order; empty for a scene read whole. A stub keeps
    /// the ids alone (a reader fingerprints by them), not the cameras: the stubs of a large
    /// tree are cached, loaded, cloned and stored on every rebuild that reads it, and the
    /// cameras were nearly all of their bytes.
    #[serde(default)]
    pub camera_ids: Vec<String>,
    /// Its frames.
    pub frames: Vec<Frame>,
    /// Its observations, in the source's unit (see each loader).
    pub observations: Vec<Observation>,
    /// Instances looked for and not seen.
    pub absences: Vec<Absence>,
    /// Problems with this scene's input.
    pub errors: Vec<InputError>,
    /// A stub handed over in place of reading the scene (see [`SceneSkip::known`]): its
    /// scene, fingerprint, files and errors are those of the scene, it has the ids of its
    /// cameras, and it holds no cameras, frames, observations or absences.
    #[serde(default)]
    pub unread: bool,
    /// For a scene read from a file it shares with other scenes (a MessyTable split file): a
    /// hash of that file's stamp and the stamps of the scene's other inputs (its images).
    /// When every scene the caller holds of a file has one equal to a fresh one, nothing they
    /// were read from changed, and the reader hands them over without reading the file (see
    /// [`SceneSkip::held_file`]). For an MMPTrack scene, an EgoHumans sequence or an
    /// Ego-Exo4D take: the stamps of its files (and the digests of its EgoHumans annotations
    /// or Ego-Exo4D relations text); a scene the caller holds with an equal one is handed
    /// over without reading them (see [`unless_held`]).
    #[serde(default)]
    pub read_stamp: Option<String>,
    /// What the reader's units self-check measured of the scene when it was read whole
    /// (MessyTable: the median distance between its cameras as the configured unit reads
    /// them), kept in its stub so that a read that parses few of a file's scenes checks
    /// what a whole read checks.
    #[serde(default)]
    pub unit_check: Option<f64>,
    /// The MMPTrack counterpart of `unit_check`, for the extrinsic-direction self-check: the
    /// scene's first box feet with a top-down ground point, each as the pixel distance to its
    /// projected ground point under the configured reading and under the other one.
    #[serde(default)]
    pub foot_errors: Vec<[f64; 2]>,
}

impl SceneData {
    /// The stub of this scene: what [`SceneSkip::known`] hands back for it on a later read.
    /// A stub's stub is itself.
    pub fn stub(&self) -> SceneData {
        let camera_ids = if self.unread {
            self.camera_ids.clone()
        } else {
            self.cameras.iter().map(|c| c.camera_id.clone()).collect()
        };
        SceneData {
            scene: self.scene.clone(),
            fingerprint: self.fingerprint.clone(),
            files: self.files.clone(),
            camera_ids,
            errors: self.errors.clone(),
            unread: true,
            read_stamp: self.read_stamp.clone(),
            unit_check: self.unit_check,
            foot_errors: self.foot_errors.clone(),
            ..SceneData::default()
        }
    }

    /// Puts the observations in (camera, frame, instance) order, keeping the read order of
    /// equals. Indices are sorted, not the records: moving the large records about was most
    /// of a sort's cost. Each record is keyed once by its camera's and instance's rank among
    /// the scene's (few) distinct ids, so the sort compares integers, not strings.
    pub fn sort_observations(&mut self) {
        let obs = &self.observations;
        let ranks = |id: fn(&Observation) -> &str| -> Vec<u32> {
            // Ids by first sight; a record mostly has its predecessor's id.
            let mut seen: HashMap<&str, u32> = HashMap::new();
            let mut last: Option<(&str, u32)> = None;
            let firsts: Vec<u32> = obs
                .iter()
                .map(|o| {
                    let key = id(o);
                    match last {
                        Some((k, r)) if k == key => r,
                        _ => {
                            let next = seen.len() as u32;
                            let r = *seen.entry(key).or_insert(next);
                            last = Some((key, r));
                            r
                        }
                    }
                })
                .collect();
            let mut by_name: Vec<(&str, u32)> = seen.into_iter().collect();
            by_name.sort_unstable();
            let mut rank = vec![0u32; by_name.len()];
            for (r, &(_, first)) in by_name.iter().enumerate() {
                rank[first as usize] = r as u32;
            }
            firsts.into_iter().map(|f| rank[f as usize]).collect()
        };
        let cameras = ranks(|o| &o.camera_id);
        let instances = ranks(|o| &o.instance_id);
        // The index last makes equal keys keep their read order with an unstable sort.
        let mut order: Vec<(u32, u32, u32, u32)> = (0..obs.len())
            .map(|i| (cameras[i], obs[i].frame_index, instances[i], i as u32))
            .collect();
        if order.is_sorted() {
            return;
        }
        order.sort_unstable();
        // Applied in place by swaps, as `slice::sort_by_cached_key` does: position `i` takes
        // the record sorted there, found by following where earlier swaps moved it (noting
        // where it was found only shortens later searches).
        for i in 0..order.len() {
            let mut from = order[i].3 as usize;
            while from < i {
                from = order[from].3 as usize;
            }
            order[i].3 = from as u32;
            self.observations.swap(i, from);
        }
    }

    /// The scene id ("" for a scene whose id could not be read).
    pub fn scene_id(&self) -> &str {
        self.scene.as_ref().map_or("", |s| s.scene_id.as_str())
    }
}

/// What a reader may leave unread: scenes the caller does not want, and scenes it already
/// holds (known by id and input fingerprint). A reader that cannot tell a scene's
/// fingerprint before parsing it may ignore both; the caller filters what it is handed.
pub trait SceneSkip: Sync {
    /// A scene not to hand over at all.
    fn unwanted(&self, _scene_id: &str) -> bool {
        false
    }
    /// The stub to hand over in place of reading a scene the caller holds with this
    /// fingerprint (see [`SceneData::stub`]).
    fn known(&self, _scene_id: &str, _fingerprint: &str) -> Option<SceneData> {
        None
    }
    /// The stub the caller holds for a scene, if any: a reader may take from it what the
    /// scene's fingerprint needs besides the text (its camera ids), and parse only when the
    /// fingerprint so made differs.
    fn held(&self, _scene_id: &str) -> Option<&SceneData> {
        None
    }
    /// The stubs (in reading order) of every scene the caller holds from the file at `rel`
    /// (relative to the tree root), with the problems of that file that belong to no scene;
    /// `None` unless the caller holds some and each would be [`known`](Self::known) with its
    /// fingerprint. A reader that can tell from their [`SceneData::read_stamp`]s that nothing
    /// they were read from changed hands them over in place of reading the file.
    fn held_file(&self, _rel: &Path) -> Option<HeldFile<'_>> {
        None
    }
}

/// A scene as a reader hands it over. For a plain read (`stamped` is `None`), `read()` as
/// it is. Else `stamped` is the caller's skip and the scene's read stamp (see
/// [`SceneData::read_stamp`]): the caller's stub is handed over in place of reading the scene
/// when the caller holds the scene with that stamp, wants it and knows it by the fingerprint
/// it holds (equal stamps show its inputs unchanged); else `read()` with the stamp.
pub(crate) fn unless_held(
    stamped: Option<(&dyn SceneSkip, String)>,
    scene_id: &str,
    read: impl FnOnce() -> SceneData,
) -> SceneData {
    let Some((skip, stamp)) = stamped else {
        return read();
    };
    let held = skip
        .held(scene_id)
        .filter(|h| h.read_stamp.as_deref() == Some(stamp.as_str()) && !skip.unwanted(scene_id));
    if let Some(stub) = held.and_then(|h| skip.known(scene_id, &h.fingerprint)) {
        return stub;
    }
    let mut scene = read();
    scene.read_stamp = Some(stamp);
    scene
}

/// What a caller holds of one file a reader reads many scenes from (see
/// [`SceneSkip::held_file`]).
pub struct HeldFile<'a> {
    /// The stubs of its scenes, in reading order.
    pub scenes: Vec<&'a SceneData>,
    /// Its problems that belong to no scene, in the order they were found.
    pub problems: Vec<InputError>,
}

/// Reads every scene.
pub struct ReadAll;

impl SceneSkip for ReadAll {}

/// Reads only the scenes of a set of ids.
pub struct OnlyScenes<'a>(pub &'a std::collections::BTreeSet<String>);

impl SceneSkip for OnlyScenes<'_> {
    fn unwanted(&self, scene_id: &str) -> bool {
        !self.0.contains(scene_id)
    }
}

/// A native tree of one source.
pub trait SourceReader: Send + Sync {
    /// Which source.
    fn kind(&self) -> SourceKind;
    /// The tree's root.
    fn root(&self) -> &Path;
    /// Reads every scene in a stable order, handing each to `visit` as soon as it is read;
    /// returns the problems that belong to no single scene (an unreadable split file). With
    /// `skip`, leaves unread what it allows where the reader can tell a scene's fingerprint
    /// without reading the scene (see [`SceneData::read_stamp`]); without, a plain read.
    fn read_with(
        &self,
        skip: Option<&dyn SceneSkip>,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
    ) -> Result<Vec<InputError>>;
    /// A plain read: [`read_with`](Self::read_with) no skip.
    fn read(&self, visit: &mut dyn FnMut(SceneData) -> Result<()>) -> Result<Vec<InputError>> {
        self.read_with(None, visit)
    }
    /// [`read_with`](Self::read_with) a skip.
    fn read_skipping(
        &self,
        skip: &dyn SceneSkip,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
    ) -> Result<Vec<InputError>> {
        self.read_with(Some(skip), visit)
    }
}

/// Whether an instance a source does not annotate in a view is not visible there: true where
/// the format lists every visible object (MessyTable's per-camera instances, formats/
/// messytable.md 4; MMPTrack's per-frame labels, where `{}` means nobody is visible, 6;
/// Ego-Exo4D's per-frame masks with explicit absences, 5); false for EgoHumans, whose boxes
/// are derived from 3D keypoints, so a visible person can go unannotated (formats/egohumans.md 7).
pub fn unannotated_means_unseen(kind: SourceKind) -> bool {
    !matches!(kind, SourceKind::EgoHumans)
}

/// Whether a source's boxes are drawn tight around the visible pixels (MessyTable), so a
/// box's area measures what is visible; MMPTrack's projected and EgoHumans' keypoint boxes
/// cover hidden parts too.
pub fn boxes_are_tight(kind: SourceKind) -> bool {
    matches!(kind, SourceKind::MessyTable)
}

/// Guesses which source a native tree is, from its layout.
pub fn detect(root: &Path) -> Option<SourceKind> {
    if root.join("takes.json").is_file() {
        return Some(SourceKind::EgoExo4d);
    }
    if root.join("benchmark").is_dir() {
        return Some(SourceKind::EgoHumans);
    }
    if ["train", "validation", "test"]
        .iter()
        .any(|s| root.join(s).join("calibrations").is_dir())
    {
        return Some(SourceKind::MmpTrack);
    }
    let labels = root.join("labels");
    if labels.is_dir()
        && std::fs::read_dir(&labels)
            .ok()?
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "json"))
    {
        return Some(SourceKind::MessyTable);
    }
    None
}

/// Opens a tree, detecting its source unless `kind` is given.
pub fn open(
    root: &Path,
    kind: Option<SourceKind>,
    opts: &SourceOptions,
) -> Result<Box<dyn SourceReader>> {
    if !root.is_dir() {
        return Err(Error::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let kind = match kind.or_else(|| detect(root)) {
        Some(k) => k,
        None => {
            return Err(Error::Options(format!(
                "{}: not a MessyTable, MMPTrack, EgoHumans or Ego-Exo4D tree (give the source kind explicitly)",
                root.display()
            )));
        }
    };
    Ok(match kind {
        SourceKind::MessyTable => Box::new(messytable::MessyTableReader::new(root, opts.clone())),
        SourceKind::MmpTrack => Box::new(mmptrack::MmpTrackReader::new(root, opts.clone())),
        SourceKind::EgoExo4d => Box::new(egoexo4d::EgoExo4dReader::new(root, opts.clone())),
        SourceKind::EgoHumans => Box::new(egohumans::EgoHumansReader::new(root, opts.clone())),
    })
}

/// Reads a whole tree into memory (tests and small trees; the graph streams instead).
pub fn read_all(reader: &dyn SourceReader) -> Result<(Vec<SceneData>, Vec<InputError>)> {
    let mut scenes = Vec::new();
    let errors = reader.read(&mut |s| {
        scenes.push(s);
        Ok(())
    })?;
    Ok((scenes, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn observations_sort_as_a_stable_sort_of_the_records_does() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Few distinct keys, so equal keys are common; the category tells equals apart.
        let obs: Vec<Observation> = (0..500)
            .map(|i| Observation {
                scene_id: "s".into(),
                camera_id: ["cam2", "cam10", "aria01", "Cam1"][rng.random_range(0..4)].into(),
                frame_index: rng.random_range(0..4),
                instance_id: ["cup_10", "cup_9", "bowl"][rng.random_range(0..3)].into(),
                category: i.to_string(),
                subcategory: None,
                bbox: None,
                mask: None,
                keypoints: Vec::new(),
                world_position: None,
                world_extent: None,
            })
            .collect();
        let mut want = obs.clone();
        want.sort_by(|a, b| {
            (&a.camera_id, a.frame_index, &a.instance_id).cmp(&(
                &b.camera_id,
                b.frame_index,
                &b.instance_id,
            ))
        });
        let mut data = SceneData {
            observations: obs,
            ..SceneData::default()
        };
        data.sort_observations();
        assert_eq!(data.observations, want);
    }
}
