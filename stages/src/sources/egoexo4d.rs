//! Ego-Exo4D loader (formats/egoexo4d.md): takes from `takes.json`; one [`Observation`] per
//! stored relations mask (LZ-string COCO RLE, annotated provenance), an [`Absence`] per
//! annotated frame without one; exo calibration from `gopro_calibs.csv`, the Aria RGB
//! projection from MPS `online_calibration.jsonl` and per-frame ego poses from EgoPose
//! `camera_pose` JSON (camera-first layout, or the documented frame-first one).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::DVec3;
use crossview_schemas::{
    Absence, Camera, CameraKind, CameraModel, CameraToWorld, ContentHasher, Distortion, ErrorClass,
    Frame, ImageRef, InputError, MaskSource, Observation, ObservedMask, Rle, Rotation, Scene,
    SensorRotation, SourceKind, WorldToCamera,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::files::{file_stamp, sorted_entries, stamp_into};
use super::json_stream::{StreamEnd, stream_entries};
use super::{Problems, SceneData, SourceOptions, SourceReader};
use crate::error::Result;

/// Relations masks are at 1 fps of the 30 fps frame-aligned videos.
pub const FPS: f64 = 30.0;
/// The Aria RGB stream's key in relations annotations.
const EGO_STREAM: &str = "214-1";

/// Reads an Ego-Exo4D tree.
pub struct EgoExo4dReader {
    root: PathBuf,
    opts: SourceOptions,
}

/// What `takes.json` says of one take.
#[derive(Clone, Debug)]
struct Take {
    uid: String,
    name: String,
    root_dir: String,
    /// Camera id -> video path relative to the take's root.
    videos: BTreeMap<String, String>,
    ego: BTreeSet<String>,
}

impl EgoExo4dReader {
    /// A reader of the tree at `root`.
    pub fn new(root: &Path, opts: SourceOptions) -> Self {
        EgoExo4dReader {
            root: root.to_path_buf(),
            opts,
        }
    }

    fn takes(&self, p: &mut Problems) -> (BTreeMap<String, Take>, String) {
        let file = self.root.join("takes.json");
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                p.push(&file, "", ErrorClass::MissingFile, e.to_string());
                return (BTreeMap::new(), String::new());
            }
        };
        let hash = crossview_schemas::sha256_hex(text.as_bytes());
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                p.json(&file, &e);
                return (BTreeMap::new(), hash);
            }
        };
        let mut out = BTreeMap::new();
        for (i, t) in v.as_array().into_iter().flatten().enumerate() {
            let (Some(uid), Some(name)) = (
                t.get("take_uid").and_then(Value::as_str),
                t.get("take_name").and_then(Value::as_str),
            ) else {
                p.push(
                    &file,
                    format!("[{i}]"),
                    ErrorClass::InvalidValue,
                    "take without take_uid or take_name",
                );
                continue;
            };
            let root_dir = t
                .get("root_dir")
                .and_then(Value::as_str)
                .map_or_else(|| format!("takes/{name}"), str::to_string);
            let mut videos = BTreeMap::new();
            let mut ego = BTreeSet::new();
            for (cam, streams) in t
                .get("frame_aligned_videos")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                for s in streams.as_object().into_iter().flatten().map(|(_, s)| s) {
                    if let Some(rel) = s.get("relative_path").and_then(Value::as_str) {
                        let stream = s.get("stream_id").and_then(Value::as_str).unwrap_or("0");
                        if stream == EGO_STREAM || stream == "0" {
                            videos.insert(cam.clone(), rel.to_string());
                        }
                        if stream == EGO_STREAM {
                            ego.insert(cam.clone());
                        }
                    }
                }
            }
            for c in t
                .get("capture")
                .and_then(|c| c.get("cameras"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(id), Some(true)) = (
                    c.get("cam_id").and_then(Value::as_str),
                    c.get("is_ego").and_then(Value::as_bool),
                ) {
                    ego.insert(id.to_string());
                }
            }
            out.insert(
                uid.to_string(),
                Take {
                    uid: uid.to_string(),
                    name: name.to_string(),
                    root_dir,
                    videos,
                    ego,
                },
            );
        }
        (out, hash)
    }

    /// Exo cameras of a take from `gopro_calibs.csv`: (id, model, pose).
    fn gopros(
        &self,
        take: &Take,
        p: &mut Problems,
        fp: &mut ContentHasher,
    ) -> Vec<(String, CameraModel, WorldToCamera)> {
        let file = self
            .root
            .join(&take.root_dir)
            .join("trajectory/gopro_calibs.csv");
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) => {
                p.push(
                    &file,
                    "",
                    ErrorClass::MissingFile,
                    format!("{e}; exo cameras are uncalibrated"),
                );
                return Vec::new();
            }
        };
        *fp = fp.clone().bytes(&text);
        let mut out = Vec::new();
        let mut rdr = csv::Reader::from_reader(text.as_slice());
        let headers = match rdr.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                p.push(&file, "line 1", ErrorClass::Malformed, e.to_string());
                return out;
            }
        };
        let col = |name: &str| headers.iter().position(|h| h == name);
        for (i, rec) in rdr.records().enumerate() {
            let at = format!("line {}", i + 2);
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    p.push(&file, at, ErrorClass::Malformed, e.to_string());
                    continue;
                }
            };
            let field = |name: &str| col(name).and_then(|c| rec.get(c)).map(str::trim);
            let nums = |names: &[&str]| -> Option<Vec<f64>> {
                names
                    .iter()
                    .map(|n| field(n)?.parse::<f64>().ok())
                    .collect()
            };
            let Some(id) = field("cam_uid").filter(|s| !s.is_empty()) else {
                p.push(&file, at, ErrorClass::InvalidValue, "no cam_uid");
                continue;
            };
            let pose = nums(&[
                "tx_world_cam",
                "ty_world_cam",
                "tz_world_cam",
                "qx_world_cam",
                "qy_world_cam",
                "qz_world_cam",
                "qw_world_cam",
            ]);
            let intr = nums(&[
                "intrinsics_0",
                "intrinsics_1",
                "intrinsics_2",
                "intrinsics_3",
                "intrinsics_4",
                "intrinsics_5",
                "intrinsics_6",
                "intrinsics_7",
            ]);
            let size = nums(&["image_width", "image_height"]);
            let (Some(pose), Some(k), Some(size)) = (pose, intr, size) else {
                p.push(
                    &file,
                    at,
                    ErrorClass::InvalidValue,
                    format!("camera {id}: missing or non-numeric calibration fields"),
                );
                continue;
            };
            if let Some(t) = field("intrinsics_type").filter(|t| *t != "KANNALABRANDTK3") {
                p.push(
                    &file,
                    at,
                    ErrorClass::InvalidValue,
                    format!("camera {id}: intrinsics type {t} is not KANNALABRANDTK3"),
                );
                continue;
            }
            // T_world_cam: camera-to-world, metres, quaternion x, y, z, w.
            let built = Rotation::from_quat_xyzw(pose[3], pose[4], pose[5], pose[6])
                .and_then(|r| CameraToWorld::new(r, DVec3::new(pose[0], pose[1], pose[2])))
                .and_then(|c2w| {
                    let model = CameraModel::new(
                        size[0] as u32,
                        size[1] as u32,
                        k[0],
                        k[1],
                        k[2],
                        k[3],
                        Distortion::from_name("kannala_brandt", &k[4..8])?,
                        SensorRotation::None,
                    )?;
                    Ok((model, c2w.inverse()))
                });
            match built {
                Ok((model, pose)) if size[0] >= 1.0 && size[1] >= 1.0 => {
                    out.push((id.to_string(), model, pose))
                }
                Ok(_) => p.push(
                    &file,
                    at,
                    ErrorClass::InvalidValue,
                    format!("camera {id}: image size {size:?}"),
                ),
                Err(e) => p.push(
                    &file,
                    at,
                    ErrorClass::InvalidValue,
                    format!("camera {id}: {e}"),
                ),
            }
        }
        out
    }

    /// The Aria RGB projection from MPS online calibration (sensor orientation, upright images).
    fn aria_model(
        &self,
        take: &Take,
        size: Option<(u32, u32)>,
        p: &mut Problems,
        fp: &mut ContentHasher,
    ) -> Option<CameraModel> {
        let file = self
            .root
            .join(&take.root_dir)
            .join("trajectory/online_calibration.jsonl");
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                p.push(
                    &file,
                    "",
                    ErrorClass::MissingFile,
                    format!("{e}; the ego camera is uncalibrated"),
                );
                return None;
            }
        };
        *fp = fp.clone().str(&text);
        let line = text.lines().next().unwrap_or_default();
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                p.json(&file, &e);
                return None;
            }
        };
        let rgb = v
            .get("CameraCalibrations")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|c| c.get("Label").and_then(Value::as_str) == Some("camera-rgb"))
            });
        let Some(rgb) = rgb else {
            p.push(
                &file,
                "line 1",
                ErrorClass::InvalidValue,
                "no camera-rgb calibration",
            );
            return None;
        };
        let params: Option<Vec<f64>> = rgb
            .pointer("/Projection/Params")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_f64().filter(|v| v.is_finite()))
                    .collect::<Option<Vec<_>>>()
            })
            .filter(|v| v.len() == 15);
        let Some(k) = params else {
            p.push(
                &file,
                "line 1: camera-rgb.Projection.Params",
                ErrorClass::InvalidValue,
                "expected 15 finite numbers (Fisheye624)",
            );
            return None;
        };
        // The stored (upright) size: from the calibration, or else from the masks.
        let size = rgb
            .get("ImageSize")
            .and_then(Value::as_array)
            .and_then(|a| Some((a.get(1)?.as_u64()? as u32, a.first()?.as_u64()? as u32)))
            .or(size)?;
        let built = Distortion::from_name("fisheye_rad_tan_thin_prism", &k[3..15]).and_then(|d| {
            CameraModel::new(
                size.0,
                size.1,
                k[0],
                k[0],
                k[1],
                k[2],
                d,
                SensorRotation::Cw90,
            )
        });
        match built {
            Ok(m) => Some(m),
            Err(e) => {
                p.push(&file, "line 1", ErrorClass::InvalidValue, e.to_string());
                None
            }
        }
    }

    /// Per-frame world-to-camera poses of the Aria camera from EgoPose `camera_pose`.
    fn ego_poses(
        &self,
        take: &Take,
        split: &str,
        aria: &str,
        p: &mut Problems,
        fp: &mut ContentHasher,
    ) -> BTreeMap<u32, WorldToCamera> {
        let mut out = BTreeMap::new();
        let file = self
            .root
            .join("annotations/ego_pose")
            .join(split)
            .join("camera_pose")
            .join(format!("{}.json", take.uid));
        let Ok(text) = std::fs::read_to_string(&file) else {
            p.push(
                &file,
                "",
                ErrorClass::MissingFile,
                "no camera poses for this take; ego frames have no pose",
            );
            return out;
        };
        *fp = fp.clone().str(&text);
        let v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                p.json(&file, &e);
                return out;
            }
        };
        let mat34 = |m: &Value| -> Option<WorldToCamera> {
            let rows = m.as_array()?;
            if rows.len() != 3 {
                return None;
            }
            let mut r = [[0.0; 3]; 3];
            let mut t = [0.0; 3];
            for (i, row) in rows.iter().enumerate() {
                let row = row.as_array().filter(|a| a.len() == 4)?;
                for j in 0..3 {
                    r[i][j] = row[j].as_f64().filter(|x| x.is_finite())?;
                }
                t[i] = row[3].as_f64().filter(|x| x.is_finite())?;
            }
            WorldToCamera::new(Rotation::from_rows(r).ok()?, DVec3::from_array(t)).ok()
        };
        // Camera-first layout (what the baselines read), else the documented frame-first one.
        let frames: Vec<(String, &Value)> = match v
            .get(aria)
            .and_then(|a| a.get("camera_extrinsics"))
            .and_then(Value::as_object)
        {
            Some(per_frame) => per_frame.iter().map(|(f, m)| (f.clone(), m)).collect(),
            None => v
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(f, entry)| {
                    Some((f.clone(), entry.get(aria)?.get("camera_extrinsics")?))
                })
                .collect(),
        };
        for (f, m) in frames {
            match (f.parse::<u32>(), mat34(m)) {
                (Ok(frame), Some(pose)) => {
                    out.insert(frame, pose);
                }
                _ => p.push(
                    &file,
                    format!("{aria}.camera_extrinsics.{f}"),
                    ErrorClass::InvalidValue,
                    "not a frame number with a 3x4 rotation|translation",
                ),
            }
        }
        out
    }

    #[allow(clippy::too_many_lines)]
    fn take(
        &self,
        take: &Take,
        split: &str,
        rel_file: &Path,
        raw: &RawValue,
        takes_hash: &str,
    ) -> SceneData {
        let scene_id = Scene::make_id(SourceKind::EgoExo4d, &take.name);
        let mut p = Problems::new(SourceKind::EgoExo4d, &self.root, Some(scene_id.clone()));
        let rel_file = rel_file
            .strip_prefix(&self.root)
            .unwrap_or(rel_file)
            .to_path_buf();
        let mut data = SceneData {
            scene: Some(Scene {
                scene_id: scene_id.clone(),
                source: SourceKind::EgoExo4d,
                source_split: split.to_string(),
            }),
            files: vec![rel_file.clone(), PathBuf::from("takes.json")],
            ..SceneData::default()
        };
        let mut fp = ContentHasher::new("crossview.egoexo4d.take")
            .str(split)
            .str(raw.get())
            .str(takes_hash);
        let file = self.root.join(&rel_file);
        let v: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        let here = |rest: &str| format!("annotations.{}{rest}", take.uid);
        // Masks first: they tell the ego image size when the calibration does not.
        let mut frames_of: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        let mut ego_size = None;
        for (object, per_cam) in v
            .get("object_masks")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            // Category: the object name without its trailing `_<n>`.
            let category = object
                .rsplit_once('_')
                .filter(|(_, n)| n.parse::<u32>().is_ok())
                .map_or(object.as_str(), |(c, _)| c);
            for (key, c) in per_cam.as_object().into_iter().flatten() {
                // `aria01_214-1` is aria01's RGB stream; bare keys are exo cameras.
                let cam = key
                    .split_once('_')
                    .map_or(key.as_str(), |(c, _)| c)
                    .to_string();
                let at = |rest: &str| here(&format!(".object_masks.{object}.{key}{rest}"));
                let annotated: BTreeSet<u32> = c
                    .get("annotated_frames")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.as_u64().and_then(|f| u32::try_from(f).ok()))
                    .collect();
                // Frames with a stored entry, valid or not: only the others mean "not visible".
                let mut stored = BTreeSet::new();
                for (fstr, ann) in c
                    .get("annotation")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let at = at(&format!(".annotation.{fstr}"));
                    let Ok(frame) = fstr.parse::<u32>() else {
                        p.push(
                            &file,
                            at,
                            ErrorClass::InvalidValue,
                            "frame key is not a frame number",
                        );
                        continue;
                    };
                    stored.insert(frame);
                    let dims = (
                        ann.get("height").and_then(Value::as_u64),
                        ann.get("width").and_then(Value::as_u64),
                    );
                    let (Some(h), Some(w)) = dims else {
                        p.push(
                            &file,
                            at,
                            ErrorClass::InvalidValue,
                            "width and height must be integers",
                        );
                        continue;
                    };
                    let (Ok(h), Ok(w)) = (u32::try_from(h), u32::try_from(w)) else {
                        p.push(
                            &file,
                            at,
                            ErrorClass::InvalidValue,
                            "mask size out of range",
                        );
                        continue;
                    };
                    let Some(enc) = ann.get("encodedMask").and_then(Value::as_str) else {
                        p.push(&file, at, ErrorClass::InvalidValue, "no encodedMask string");
                        continue;
                    };
                    let rle = match Rle::from_lz_encoded(enc, h, w) {
                        Ok(r) => r,
                        Err(e) => {
                            p.push(&file, at, ErrorClass::InvalidValue, e.to_string());
                            continue;
                        }
                    };
                    if take.ego.contains(&cam) {
                        ego_size = Some((w, h));
                    }
                    frames_of.entry(cam.clone()).or_default().insert(frame);
                    data.observations.push(Observation {
                        scene_id: scene_id.clone(),
                        camera_id: cam.clone(),
                        frame_index: frame,
                        instance_id: object.clone(),
                        category: category.to_string(),
                        subcategory: None,
                        // An empty stored mask is an observation of area 0, with no box.
                        bbox: rle.bbox(),
                        mask: Some(ObservedMask {
                            rle,
                            source: MaskSource::annotated(),
                        }),
                        keypoints: Vec::new(),
                        world_position: None,
                        world_extent: None,
                    });
                }
                for &frame in annotated.difference(&stored) {
                    frames_of.entry(cam.clone()).or_default().insert(frame);
                    data.absences.push(Absence {
                        scene_id: scene_id.clone(),
                        camera_id: cam.clone(),
                        frame_index: frame,
                        instance_id: object.clone(),
                    });
                }
            }
        }
        data.observations.sort_by(|a, b| {
            (&a.camera_id, a.frame_index, &a.instance_id).cmp(&(
                &b.camera_id,
                b.frame_index,
                &b.instance_id,
            ))
        });
        data.absences.sort();

        // Cameras; `reported` holds those whose calibration failure is already an error.
        let mut known = BTreeSet::new();
        let mut reported = BTreeSet::new();
        let errors_before = p.len();
        let gopros = self.gopros(take, &mut p, &mut fp);
        if gopros.is_empty() && p.len() > errors_before {
            reported.extend(frames_of.keys().filter(|c| !take.ego.contains(*c)).cloned());
        }
        for (id, model, pose) in gopros {
            known.insert(id.clone());
            data.cameras.push(Camera {
                scene_id: scene_id.clone(),
                camera_id: id,
                kind: CameraKind::Exo,
                model,
                world_to_camera: Some(pose),
            });
        }
        let mut ego_poses = BTreeMap::new();
        for aria in &take.ego {
            let Some(model) = self.aria_model(take, ego_size, &mut p, &mut fp) else {
                reported.insert(aria.clone());
                continue;
            };
            known.insert(aria.clone());
            ego_poses.insert(
                aria.clone(),
                self.ego_poses(take, split, aria, &mut p, &mut fp),
            );
            data.cameras.push(Camera {
                scene_id: scene_id.clone(),
                camera_id: aria.clone(),
                kind: CameraKind::Ego,
                model,
                world_to_camera: None,
            });
        }
        for cam in frames_of
            .keys()
            .filter(|c| !known.contains(*c) && !reported.contains(*c))
        {
            p.push(
                &file,
                here(""),
                ErrorClass::Inconsistent,
                format!("masks for camera {cam}, which has no calibration"),
            );
        }
        // Frames: the annotated frames of each camera's frame-aligned video.
        for (cam, frames) in &frames_of {
            let video = take
                .videos
                .get(cam)
                .map(|rel| PathBuf::from(&take.root_dir).join(rel));
            let stamp = video.as_ref().and_then(|v| file_stamp(&self.root.join(v)));
            if let Some(v) = &video {
                fp = stamp_into(fp, v, stamp.as_ref());
            }
            if stamp.is_none() && self.opts.require_images {
                let missing = video
                    .as_ref()
                    .map_or_else(|| self.root.join(&take.root_dir), |v| self.root.join(v));
                p.push(
                    &missing,
                    "",
                    ErrorClass::MissingFile,
                    format!("video of camera {cam} is missing"),
                );
            }
            for &f in frames {
                let pose = ego_poses.get(cam).and_then(|poses| poses.get(&f).copied());
                if ego_poses.contains_key(cam) && pose.is_none() {
                    p.push(
                        &file,
                        here(""),
                        ErrorClass::Inconsistent,
                        format!("no camera pose for {cam} at frame {f}"),
                    );
                }
                data.frames.push(Frame {
                    scene_id: scene_id.clone(),
                    camera_id: cam.clone(),
                    frame_index: f,
                    timestamp_s: f64::from(f) / FPS,
                    image: match (&video, &stamp) {
                        (Some(v), Some(_)) => ImageRef::VideoFrame {
                            path: v.to_string_lossy().into_owned(),
                            frame: f,
                        },
                        _ => ImageRef::None,
                    },
                    world_to_camera: pose,
                });
            }
        }
        data.fingerprint = fp.finish_hex(16);
        data.errors = p.into_vec();
        data
    }
}

impl SourceReader for EgoExo4dReader {
    fn kind(&self) -> SourceKind {
        SourceKind::EgoExo4d
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, visit: &mut dyn FnMut(SceneData) -> Result<()>) -> Result<Vec<InputError>> {
        let mut tree = Problems::new(SourceKind::EgoExo4d, &self.root, None);
        let (takes, takes_hash) = self.takes(&mut tree);
        let files: Vec<PathBuf> = sorted_entries(&self.root.join("annotations"))
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("relations_") && n.ends_with(".json"))
            })
            .collect();
        if files.is_empty() {
            tree.push(
                &self.root.join("annotations"),
                "",
                ErrorClass::MissingFile,
                "no relations_<split>.json",
            );
        }
        for file in files {
            let split = file
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.strip_prefix("relations_"))
                .unwrap_or_default()
                .to_string();
            let f = match File::open(&file) {
                Ok(f) => f,
                Err(e) => {
                    tree.push(&file, "", ErrorClass::MissingFile, e.to_string());
                    continue;
                }
            };
            let mut unknown = Vec::new();
            let end = stream_entries(
                f,
                "annotations",
                &[],
                &mut |uid, raw, _| match takes.get(&uid) {
                    Some(take) => visit(self.take(take, &split, &file, raw, &takes_hash)),
                    None => {
                        unknown.push(uid);
                        Ok(())
                    }
                },
            )?;
            for uid in unknown {
                tree.push(
                    &file,
                    format!("annotations.{uid}"),
                    ErrorClass::Inconsistent,
                    "take not in takes.json; skipped",
                );
            }
            if let StreamEnd::Malformed(e) = end {
                tree.json_break(&file, &e);
            }
        }
        Ok(tree.into_vec())
    }
}
