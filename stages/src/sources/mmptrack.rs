//! MMPTrack loader (formats/mmptrack.md): one scene per `<split>/labels/<session>/<scene>/`
//! (each scene folder on disk or as `<scene>.zip`, as distributed); one [`Observation`] per
//! person entry of a frame's camera label file, with the top-down ground point as its world
//! position; one calibration per environment (millimetres).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::{DVec2, DVec3};
use crossview_schemas::{
    BoxXyxy, Camera, CameraKind, CameraModel, CameraToWorld, ContentHasher, Distortion, ErrorClass,
    Frame, ImageRef, InputError, Observation, Rotation, Scene, SensorRotation, SourceKind,
    WorldToCamera,
};
use serde_json::Value;

use super::csv_text::CsvText;
use super::files::{FileStamp, entry_stamp, file_stamp, sorted_entries, stamp_into};
use super::folder::{Folder, zip_of};
use super::loose_json::{Entries, FiniteNumbers, Loose};
use super::{
    MmpExtrinsics, Problems, SceneData, SceneSkip, SourceOptions, SourceReader, unless_held,
};
use crate::error::Result;

/// Image size when no image of a camera is present (the one a downstream loader assumes).
pub const DEFAULT_IMAGE_SIZE: (u32, u32) = (640, 360);
/// Frame rate assumed for timestamps: the dataset's is unconfirmed (about 15 fps,
/// formats/mmptrack.md 1).
pub const ASSUMED_FPS: f64 = 15.0;
/// Box feet (the tree's first, in reading order) the extrinsic self-check compares.
const SELF_CHECK_SAMPLES: usize = 200;

/// Reads an MMPTrack tree.
pub struct MmpTrackReader {
    root: PathBuf,
    opts: SourceOptions,
}

/// One camera of an environment's calibration file.
#[derive(Clone, Debug)]
struct CalibCamera {
    id: String,
    intr: [f64; 4],
    rotation: [f64; 9],
    translation: [f64; 3],
}

/// The top-down grid (section 5): grid cells to world millimetres.
#[derive(Clone, Copy, Debug)]
struct Space {
    min_u: f64,
    min_v: f64,
    min_w: f64,
    factor_x: f64,
    factor_y: f64,
}

#[derive(Debug)]
struct Calibration {
    file: PathBuf,
    text_hash: String,
    cameras: Vec<CalibCamera>,
    space: Option<Space>,
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key)?.as_f64().filter(|x| x.is_finite())
}

fn numbers<const N: usize>(v: Option<&Value>) -> Option<[f64; N]> {
    let a = v?.as_array()?;
    if a.len() != N {
        return None;
    }
    let mut out = [0.0; N];
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.as_f64().filter(|x| x.is_finite())?;
    }
    Some(out)
}

impl MmpTrackReader {
    /// A reader of the tree at `root`.
    pub fn new(root: &Path, opts: SourceOptions) -> Self {
        MmpTrackReader {
            root: root.to_path_buf(),
            opts,
        }
    }

    fn calibration(&self, file: &Path, p: &mut Problems) -> Option<Calibration> {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                p.push(file, "", ErrorClass::MissingFile, e.to_string());
                return None;
            }
        };
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                p.json(file, &e);
                return None;
            }
        };
        let mut cameras = Vec::new();
        let Some(list) = v.get("Cameras").and_then(Value::as_array) else {
            p.push(
                file,
                "Cameras",
                ErrorClass::Malformed,
                "missing or not an array",
            );
            return None;
        };
        for (i, c) in list.iter().enumerate() {
            let at = format!("Cameras[{i}]");
            let Some(id) = c.get("CameraId").and_then(Value::as_i64) else {
                p.push(
                    file,
                    at,
                    ErrorClass::InvalidValue,
                    "CameraId is not an integer",
                );
                continue;
            };
            let intr = c.get("IntrinsicParameters");
            let k = intr
                .and_then(|k| Some([num(k, "Fx")?, num(k, "Fy")?, num(k, "Cx")?, num(k, "Cy")?]));
            let ext = c.get("ExtrinsicParameters");
            let rot = numbers::<9>(ext.and_then(|e| e.get("Rotation")));
            let trans = numbers::<3>(ext.and_then(|e| e.get("Translation")));
            match (k, rot, trans) {
                (Some(intr), Some(rotation), Some(translation)) => cameras.push(CalibCamera {
                    id: id.to_string(),
                    intr,
                    rotation,
                    translation,
                }),
                _ => p.push(
                    file,
                    at,
                    ErrorClass::InvalidValue,
                    format!("camera {id}: Fx, Fy, Cx, Cy, Rotation (9) and Translation (3) must be finite numbers; camera skipped"),
                ),
            }
        }
        let space = v.get("Space").and_then(|s| {
            let (min_u, max_u, min_v, max_v) = (
                num(s, "MinU")?,
                num(s, "MaxU")?,
                num(s, "MinV")?,
                num(s, "MaxV")?,
            );
            let voxel = num(s, "VoxelSizeInMM").filter(|v| *v > 0.0)?;
            let f = |lo: f64, hi: f64| (((hi - lo) / voxel).floor() - 1.0) / (hi - lo);
            let (fx, fy) = (f(min_u, max_u), f(min_v, max_v));
            (fx.is_finite() && fy.is_finite() && fx > 0.0 && fy > 0.0).then_some(Space {
                min_u,
                min_v,
                min_w: num(s, "MinW").unwrap_or(0.0),
                factor_x: fx,
                factor_y: fy,
            })
        });
        if space.is_none() {
            p.push(
                file,
                "Space",
                ErrorClass::InvalidValue,
                "missing or invalid grid; top-down positions are skipped",
            );
        }
        Some(Calibration {
            file: file.to_path_buf(),
            text_hash: crossview_schemas::sha256_hex(text.as_bytes()),
            cameras,
            space,
        })
    }

    /// The world-to-camera pose of a calibrated camera in metres, under a reading.
    fn pose(c: &CalibCamera, reading: MmpExtrinsics) -> crossview_schemas::Result<WorldToCamera> {
        let r = Rotation::from_row_major(c.rotation)?;
        let t = DVec3::from_array(c.translation) / 1000.0;
        match reading {
            MmpExtrinsics::CameraToWorld => Ok(CameraToWorld::new(r, t)?.inverse()),
            MmpExtrinsics::WorldToCamera => WorldToCamera::new(r, t),
        }
    }

    fn scene(
        &self,
        split: &str,
        session: &str,
        name: &str,
        calib: Option<&Calibration>,
    ) -> SceneData {
        let name = name.to_string();
        // The scene's label, image and top-down folders, each on disk or zipped.
        let folder = |kind: &str| self.root.join(split).join(kind).join(session).join(&name);
        let dir = folder("labels");
        let scene_id = Scene::make_id(SourceKind::MmpTrack, &format!("{session}/{name}"));
        let mut p = Problems::new(SourceKind::MmpTrack, &self.root, Some(scene_id.clone()));
        let mut data = SceneData {
            scene: Some(Scene {
                scene_id: scene_id.clone(),
                source: SourceKind::MmpTrack,
                source_split: split.to_string(),
            }),
            ..SceneData::default()
        };
        let mut fp = ContentHasher::new("crossview.mmptrack.scene")
            .str(split)
            .str(session)
            .str(&name);
        let rel = |p: &Path| p.strip_prefix(&self.root).unwrap_or(p).to_path_buf();
        let Some(calib) = calib else {
            p.push(
                &dir,
                "",
                ErrorClass::MissingFile,
                format!("no calibrations.json for environment of {name}; scene skipped"),
            );
            data.fingerprint = fp.finish_hex(16);
            data.errors = p.into_vec();
            return data;
        };
        fp = fp.str(&calib.text_hash);
        data.files.push(rel(&calib.file));
        let open = |kind: &str, p: &mut Problems| match Folder::open(&folder(kind)) {
            Ok(f) => f,
            Err(reason) => {
                p.push(&zip_of(&folder(kind)), "", ErrorClass::Malformed, reason);
                None
            }
        };
        let mut label_folder = open("labels", &mut p);
        let mut image_folder = open("images", &mut p);
        let mut topdown_folder = open("topdown_labels", &mut p);
        // Label files: rgb_<frame:05>_<cam>.json.
        let mut labels: BTreeMap<(u32, String), String> = BTreeMap::new();
        for f in label_folder.as_ref().map(Folder::files).unwrap_or_default() {
            let stem = f.strip_suffix(".json");
            let parsed = stem
                .and_then(|s| s.strip_prefix("rgb_"))
                .and_then(|r| r.split_once('_'))
                .and_then(|(fr, cam)| Some((fr.parse::<u32>().ok()?, cam.to_string())));
            match (parsed, &label_folder) {
                (Some(key), _) => {
                    labels.insert(key, f);
                }
                (None, Some(lf)) => p.push(
                    &lf.path_of(&f),
                    "",
                    ErrorClass::Malformed,
                    "not a label file name (rgb_<frame>_<cam>.json)",
                ),
                (None, None) => {}
            }
        }
        let image_name = |frame: u32, cam: &str| format!("rgb_{frame:05}_{cam}.jpg");
        // Cameras, with the size of their first present image.
        let mut sizes: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        let mut cams_by_id: BTreeMap<String, WorldToCamera> = BTreeMap::new();
        for c in &calib.cameras {
            let size = labels
                .keys()
                .filter(|(_, cam)| *cam == c.id)
                .find_map(|(f, cam)| image_folder.as_mut()?.image_size(&image_name(*f, cam)))
                .unwrap_or(DEFAULT_IMAGE_SIZE);
            let model = CameraModel::new(
                size.0,
                size.1,
                c.intr[0],
                c.intr[1],
                c.intr[2],
                c.intr[3],
                Distortion::Pinhole,
                SensorRotation::None,
            );
            let pose = Self::pose(c, self.opts.mmptrack_extrinsics);
            match (model, pose) {
                (Ok(model), Ok(pose)) => {
                    sizes.insert(c.id.clone(), size);
                    cams_by_id.insert(c.id.clone(), pose);
                    data.cameras.push(Camera {
                        scene_id: scene_id.clone(),
                        camera_id: c.id.clone(),
                        kind: CameraKind::Exo,
                        model,
                        world_to_camera: Some(pose),
                    });
                }
                (Err(e), _) | (_, Err(e)) => {
                    p.push(
                        &calib.file,
                        format!("Cameras (CameraId {})", c.id),
                        ErrorClass::InvalidValue,
                        format!("{e}; camera skipped"),
                    );
                }
            }
        }
        // Top-down ground points per frame.
        let mut ground: BTreeMap<(u32, String), DVec3> = BTreeMap::new();
        if let Some(td) = topdown_folder.as_mut() {
            let mut csv = CsvText::new();
            for name in td.files() {
                let Some(frame) = name
                    .strip_prefix("topdown_")
                    .and_then(|r| r.strip_suffix(".csv"))
                    .and_then(|r| r.parse::<u32>().ok())
                else {
                    continue;
                };
                let f = td.path_of(&name);
                let text = match td.read(&name) {
                    Ok(t) => t,
                    Err(e) => {
                        p.push(&f, "", ErrorClass::MissingFile, e.to_string());
                        continue;
                    }
                };
                fp = fp.str(&rel(&f).to_string_lossy()).long_bytes(&text);
                data.files.push(rel(&f));
                read_topdown(&mut csv, text, frame, &f, calib.space, &mut ground, &mut p);
            }
        }
        // Relative paths are made from each folder's, once: taking the root off every file's
        // path was a tenth of a scene's read.
        // (Empty without the folder: the loop then stops before its first file.)
        let label_rel_dir = label_folder
            .as_ref()
            .map(|f| rel(f.base()))
            .unwrap_or_default();
        data.frames.reserve(labels.len());
        data.files.reserve(labels.len());
        let image_rel_dir = image_folder
            .as_ref()
            .map(|f| rel(f.base()))
            .unwrap_or_default();
        // The scene's first feet for the extrinsic self-check (the tree's are the first of
        // its scenes', in reading order).
        let mut checks: Vec<Foot> = Vec::new();
        for ((frame, cam), label_name) in &labels {
            let Some(lf) = label_folder.as_mut() else {
                break;
            };
            let path = &lf.path_of(label_name);
            let image = image_name(*frame, cam);
            let (image_rel, stamp) = match image_folder.as_ref() {
                Some(f) => (image_rel_dir.join(&image), f.stamp(&image)),
                None => (
                    PathBuf::from(split)
                        .join("images")
                        .join(session)
                        .join(&name)
                        .join(&image),
                    None,
                ),
            };
            fp = stamp_into(fp, &image_rel, stamp.as_ref());
            if stamp.is_none() && self.opts.require_images {
                p.push(
                    &self.root.join(&image_rel),
                    "",
                    ErrorClass::MissingFile,
                    "image of a labelled frame is missing",
                );
            }
            let Some(&size) = sizes.get(cam) else {
                p.push(
                    path,
                    "",
                    ErrorClass::Inconsistent,
                    format!("camera {cam} is not in the environment's calibration"),
                );
                continue;
            };
            data.frames.push(Frame {
                scene_id: scene_id.clone(),
                camera_id: cam.clone(),
                frame_index: *frame,
                timestamp_s: f64::from(*frame) / ASSUMED_FPS,
                image: if stamp.is_some() {
                    ImageRef::File(image_rel.to_string_lossy().into_owned())
                } else {
                    ImageRef::None
                },
                world_to_camera: None,
            });
            let text = match lf.read(label_name) {
                Ok(t) => t,
                Err(e) => {
                    p.push(path, "", ErrorClass::MissingFile, e.to_string());
                    continue;
                }
            };
            let label_rel = label_rel_dir.join(label_name);
            fp = fp.str(&label_rel.to_string_lossy()).long_bytes(&text);
            data.files.push(label_rel);
            // Typed in one pass, as leniently as a JSON value would be read.
            let boxes = match serde_json::from_slice::<Loose<Entries<'_, FiniteNumbers<4>>>>(&text)
            {
                Ok(boxes) => boxes,
                Err(e) => {
                    p.json(path, &e);
                    continue;
                }
            };
            let Some(boxes) = boxes.good() else {
                p.push(
                    path,
                    "",
                    ErrorClass::Malformed,
                    "expected an object of person id -> [x1, y1, x2, y2]",
                );
                continue;
            };
            for (pid, bv) in boxes {
                let Ok(pid_n) = pid.trim().parse::<i64>() else {
                    p.push(
                        path,
                        pid.to_string(),
                        ErrorClass::InvalidValue,
                        "person id is not an integer",
                    );
                    continue;
                };
                let Some(b) = bv.0 else {
                    p.push(
                        path,
                        pid.to_string(),
                        ErrorClass::InvalidValue,
                        "expected 4 finite numbers [x1, y1, x2, y2]",
                    );
                    continue;
                };
                // Projected 3D tracks: boxes may exceed the image, but not miss it entirely.
                let bbox =
                    match BoxXyxy::try_new(b[0] as f32, b[1] as f32, b[2] as f32, b[3] as f32) {
                        Ok(bb) if bb.clip(size.0, size.1).is_some() => bb,
                        Ok(_) => {
                            p.push(
                                path,
                                pid.to_string(),
                                ErrorClass::InvalidValue,
                                format!("box {b:?} lies outside the {}x{} image", size.0, size.1),
                            );
                            continue;
                        }
                        Err(e) => {
                            p.push(
                                path,
                                pid.to_string(),
                                ErrorClass::InvalidValue,
                                e.to_string(),
                            );
                            continue;
                        }
                    };
                let world = ground.get(&(*frame, pid_n.to_string())).copied();
                if let (Some(w), Some(cal)) = (world, calib.cameras.iter().find(|c| c.id == *cam))
                    && checks.len() < SELF_CHECK_SAMPLES
                {
                    checks.push(Foot {
                        camera: cal.clone(),
                        size,
                        ground: w,
                        foot: DVec2::new(
                            f64::from(bbox.x1() + bbox.x2()) / 2.0,
                            f64::from(bbox.y2()),
                        ),
                    });
                }
                data.observations.push(Observation {
                    scene_id: scene_id.clone(),
                    camera_id: cam.clone(),
                    frame_index: *frame,
                    instance_id: pid_n.to_string(),
                    category: "person".into(),
                    subcategory: None,
                    bbox: Some(bbox),
                    mask: None,
                    keypoints: Vec::new(),
                    // The ground point under the person (the top-down label), not a centre.
                    world_position: world,
                    world_extent: None,
                });
            }
        }
        let other = other_reading(self.opts.mmptrack_extrinsics);
        data.foot_errors = (checks.iter())
            .map(|f| {
                [
                    f.pixel_error(self.opts.mmptrack_extrinsics),
                    f.pixel_error(other),
                ]
            })
            .collect();
        data.fingerprint = fp.finish_hex(16);
        data.errors = p.into_vec();
        data
    }

    /// A scene's read stamp (see [`SceneData::read_stamp`]): the stamps of its environment's
    /// calibration file and of every entry of its label, image and top-down folders (or of
    /// the archive standing for a folder). Everything [`Self::scene`] reads is among them.
    fn read_stamp(&self, split: &str, session: &str, name: &str, calib_file: &Path) -> String {
        let rel = |p: &Path| p.strip_prefix(&self.root).unwrap_or(p).to_path_buf();
        let mut h = stamp_into(
            ContentHasher::new("crossview.mmptrack.read"),
            &rel(calib_file),
            file_stamp(calib_file).as_ref(),
        );
        for kind in ["labels", "images", "topdown_labels"] {
            let dir = self.root.join(split).join(kind).join(session).join(name);
            // A folder on disk wins over its archive, as `Folder::open` chooses.
            if dir.is_dir() {
                let mut entries: Vec<(OsString, Option<FileStamp>)> = std::fs::read_dir(&dir)
                    .map(|rd| {
                        rd.flatten()
                            .map(|e| (e.file_name(), entry_stamp(&e)))
                            .collect()
                    })
                    .unwrap_or_default();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                h = h
                    .str(&rel(&dir).to_string_lossy())
                    .u64(entries.len() as u64);
                for (entry, stamp) in &entries {
                    h = stamp_into(h, Path::new(entry), stamp.as_ref());
                }
            } else {
                let zip = zip_of(&dir);
                h = stamp_into(h, &rel(&zip), file_stamp(&zip).as_ref());
            }
        }
        h.finish_hex(16)
    }
}

/// The extrinsic reading that is not `reading`.
fn other_reading(reading: MmpExtrinsics) -> MmpExtrinsics {
    match reading {
        MmpExtrinsics::CameraToWorld => MmpExtrinsics::WorldToCamera,
        MmpExtrinsics::WorldToCamera => MmpExtrinsics::CameraToWorld,
    }
}

/// The ground points of one frame's top-down CSV (`id, Y, X` grid cells per line) in world
/// metres, through the environment's grid; bad lines are problems of `file`.
fn read_topdown(
    csv: &mut CsvText,
    text: Vec<u8>,
    frame: u32,
    file: &Path,
    space: Option<Space>,
    ground: &mut BTreeMap<(u32, String), DVec3>,
    p: &mut Problems,
) {
    for (line, rec) in csv.records(text).enumerate() {
        let at = format!("line {}", line + 1);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                p.push(file, at, ErrorClass::Malformed, e.to_string());
                continue;
            }
        };
        let vals: Vec<&str> = rec.iter().map(str::trim).collect();
        let parsed = (vals.len() == 3)
            .then(|| {
                Some((
                    vals[0].parse::<i64>().ok()?,
                    vals[1].parse::<f64>().ok()?,
                    vals[2].parse::<f64>().ok()?,
                ))
            })
            .flatten();
        let Some((id, gy, gx)) = parsed.filter(|(_, y, x)| y.is_finite() && x.is_finite()) else {
            p.push(
                file,
                at,
                ErrorClass::InvalidValue,
                format!("expected `id, Y, X` with finite numbers, got {vals:?}"),
            );
            continue;
        };
        if let Some(s) = space {
            // Column 1 is the V (Y) cell, column 2 the U (X) cell.
            let u = gx / s.factor_x + s.min_u;
            let v = gy / s.factor_y + s.min_v;
            ground.insert((frame, id.to_string()), DVec3::new(u, v, s.min_w) / 1000.0);
        }
    }
}

/// A top-down ground point and the bottom-centre of its box in one view, for the
/// extrinsic-direction self-check.
struct Foot {
    camera: CalibCamera,
    size: (u32, u32),
    ground: DVec3,
    foot: DVec2,
}

impl Foot {
    /// Pixel distance between the projected ground point and the box foot under a reading
    /// (infinite where it does not project).
    fn pixel_error(&self, reading: MmpExtrinsics) -> f64 {
        let model = CameraModel::new(
            self.size.0,
            self.size.1,
            self.camera.intr[0],
            self.camera.intr[1],
            self.camera.intr[2],
            self.camera.intr[3],
            Distortion::Pinhole,
            SensorRotation::None,
        );
        match (model, MmpTrackReader::pose(&self.camera, reading)) {
            (Ok(m), Ok(p)) => m
                .project_world(&p, self.ground)
                .map_or(f64::INFINITY, |(px, _)| (px - self.foot).length()),
            _ => f64::INFINITY,
        }
    }
}

/// The median of `e` (its upper middle for an even count; NaN when empty).
fn median(mut e: Vec<f64>) -> f64 {
    e.sort_by(f64::total_cmp);
    e.get(e.len() / 2).copied().unwrap_or(f64::NAN)
}

impl SourceReader for MmpTrackReader {
    fn kind(&self) -> SourceKind {
        SourceKind::MmpTrack
    }

    fn root(&self) -> &Path {
        &self.root
    }

    /// Scenes are known by their read stamp before their folders are read (see
    /// `read_stamp`): a rebuild after one scene changed used to read every scene of the tree.
    fn read_with(
        &self,
        skip: Option<&dyn SceneSkip>,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
    ) -> Result<Vec<InputError>> {
        let mut tree = Problems::new(SourceKind::MmpTrack, &self.root, None);
        let mut foot_errors: Vec<[f64; 2]> = Vec::new();
        for split_dir in sorted_entries(&self.root)
            .into_iter()
            .filter(|d| d.join("labels").is_dir())
        {
            let split = split_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut calibrations: BTreeMap<String, Option<Calibration>> = BTreeMap::new();
            for session_dir in sorted_entries(&split_dir.join("labels"))
                .into_iter()
                .filter(|d| d.is_dir())
            {
                let session = session_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Scenes: folders, or zip archives standing for them (a folder wins).
                let scenes: std::collections::BTreeSet<String> = sorted_entries(&session_dir)
                    .into_iter()
                    .filter_map(|d| {
                        let name = d.file_name()?.to_string_lossy().into_owned();
                        if d.is_dir() {
                            Some(name)
                        } else {
                            let zip = d.extension().is_some_and(|x| x == "zip");
                            zip.then(|| name[..name.len() - 4].to_string())
                        }
                    })
                    .collect();
                for name in scenes {
                    // The environment is everything before the last `_`.
                    let env = name
                        .rsplit_once('_')
                        .map_or(name.as_str(), |(e, _)| e)
                        .to_string();
                    let calib_file = split_dir
                        .join("calibrations")
                        .join(&env)
                        .join("calibrations.json");
                    let calib = calibrations
                        .entry(env)
                        .or_insert_with(|| self.calibration(&calib_file, &mut tree));
                    let scene = unless_held(
                        skip.map(|skip| {
                            (skip, self.read_stamp(&split, &session, &name, &calib_file))
                        }),
                        &Scene::make_id(SourceKind::MmpTrack, &format!("{session}/{name}")),
                        || self.scene(&split, &session, &name, calib.as_ref()),
                    );
                    let room = SELF_CHECK_SAMPLES.saturating_sub(foot_errors.len());
                    foot_errors.extend(scene.foot_errors.iter().take(room));
                    visit(scene)?;
                }
            }
        }
        // Self-check of the extrinsic direction (formats/mmptrack.md 5): the reading in use
        // should put top-down ground points at the feet of their boxes.
        if foot_errors.len() >= 10 {
            let current = self.opts.mmptrack_extrinsics;
            let other = other_reading(current);
            let median = |i: usize| median(foot_errors.iter().map(|e| e[i]).collect());
            let (e_cur, e_other) = (median(0), median(1));
            if e_other < 0.5 * e_cur {
                tree.push(
                    &self.root,
                    "calibrations/*/calibrations.json",
                    ErrorClass::Suspicious,
                    format!(
                        "ground points land a median {e_cur:.1} px from their boxes' feet reading extrinsics as {current:?}, \
                         but {e_other:.1} px as {other:?}: the other reading fits the data better"
                    ),
                );
            }
        }
        Ok(tree.into_vec())
    }
}
