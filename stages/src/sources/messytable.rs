//! MessyTable loader (formats/messytable.md): `labels/<split>.json` streamed scene by scene;
//! one [`Observation`] per instance entry of a camera; intrinsics per camera id; extrinsics
//! `[t, Euler xyz]` camera-to-reference.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crossview_schemas::glam::DVec3;
use crossview_schemas::{
    BoxXyxy, Camera, CameraKind, CameraModel, CameraToWorld, ContentHasher, Distortion, ErrorClass,
    Frame, ImageRef, Observation, Rotation, Scene, SensorRotation, SourceKind,
};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::files::{FileStamp, file_stamp, image_size, sorted_entries, stamp_into};
use super::json_stream::{JsonBreak, Piece, PieceError, StreamEnd, break_at, stream_entries};
use super::loose_json::{Entries, Loose};
use super::{Problems, ReadAll, SceneData, SceneSkip, SourceOptions, SourceReader};
use crate::error::{Error, Result};

/// Image size when the image is absent (`models/*/train.yaml`).
pub const DEFAULT_IMAGE_SIZE: (u32, u32) = (1920, 1080);
/// Median distance between a scene's cameras above which the configured translation unit
/// (metres) looks wrong: a tabletop rig is a few metres across.
const MAX_PLAUSIBLE_RIG_METRES: f64 = 20.0;

/// Reads a MessyTable tree.
pub struct MessyTableReader {
    root: PathBuf,
    opts: SourceOptions,
    /// Whether `images/` was there when the read began: without it no image is stamped one
    /// by one (a tree without images would cost a failed stat per view).
    images_present: std::sync::atomic::AtomicBool,
}

impl MessyTableReader {
    /// A reader of the tree at `root`.
    pub fn new(root: &Path, opts: SourceOptions) -> Self {
        MessyTableReader {
            root: root.to_path_buf(),
            opts,
            images_present: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

/// A JSON array of exactly `N` finite numbers.
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

/// A JSON integer (an integral float counts too).
fn integer(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 1e15)
            .map(|x| x as i64)
    })
}

#[derive(Deserialize)]
struct SceneJson<'a> {
    #[serde(borrow)]
    cameras: Option<Loose<Entries<'a, Loose<CameraJson<'a>>>>>,
}

#[derive(Deserialize)]
struct CameraJson<'a> {
    extrinsics: Option<Value>,
    #[serde(borrow)]
    instances: Option<Loose<Entries<'a, Loose<InstanceJson>>>>,
}

#[derive(Deserialize)]
struct InstanceJson {
    pos: Option<Value>,
    cls: Option<Value>,
    subcls: Option<Value>,
}

/// What the parse of one scene entry gave.
enum Parsed {
    Unwanted,
    /// Not JSON: the file is read up to this entry (its offset in the file).
    Broken(Option<u64>),
    Scene(Box<SceneData>),
}

/// Scenes parsed together (in parallel) while the split file streams.
const PARSE_BATCH: usize = 32;

/// A scene's camera ids, all its fingerprint needs of its JSON besides the text.
#[derive(Deserialize)]
struct SceneCameraIds<'a> {
    #[serde(borrow)]
    cameras: Option<Loose<Entries<'a, serde::de::IgnoredAny>>>,
}

/// A scene's input fingerprint, its read stamp (see [`SceneData::read_stamp`]) and each
/// camera's image stamp, camera ids in numeric order.
struct SceneStamps {
    fingerprint: String,
    read_stamp: String,
    images: Vec<(String, Option<FileStamp>)>,
}

/// The image of a camera of a scene, relative to the tree root.
fn image_rel(name: &str, cam: &str) -> PathBuf {
    PathBuf::from("images").join(format!("{name}-0{cam}.jpg"))
}

/// A scene's read stamp: its split file's stamp and its images' (as [`image_stamps`] gives
/// them). The scene's text is the split file's; its camera ids are in that text.
///
/// [`image_stamps`]: MessyTableReader::image_stamps
fn read_stamp(
    split_stamp: Option<&FileStamp>,
    name: &str,
    images: &[(String, Option<FileStamp>)],
) -> String {
    let mut h = stamp_into(
        ContentHasher::new("crossview.messytable.read"),
        Path::new("labels"),
        split_stamp,
    );
    for (cam, stamp) in images {
        h = stamp_into(h, &image_rel(name, cam), stamp.as_ref());
    }
    h.finish_hex(16)
}

/// A known scene's stub with the read stamp of this read.
fn restamped(mut stub: SceneData, stamps: SceneStamps) -> SceneData {
    stub.read_stamp = Some(stamps.read_stamp);
    stub
}

impl MessyTableReader {
    /// What a scene's fingerprint is made of: its split, JSON text, the intrinsics and its
    /// images' stamps. Reads only the camera ids, so a scene can be known before it is parsed;
    /// `None` when the text is not JSON (reading the ids checks it whole).
    fn stamps(
        &self,
        split: &str,
        split_stamp: Option<&FileStamp>,
        name: &str,
        raw: &str,
        intrinsics: &RawValue,
    ) -> Option<SceneStamps> {
        let cams: Vec<String> = match Piece::new(raw).parse::<SceneCameraIds>() {
            Ok(v) => v
                .cameras
                .and_then(Loose::good)
                .map(|c| c.into_iter().map(|(k, _)| k.into_owned()).collect())
                .unwrap_or_default(),
            Err(PieceError::Data(_)) => Vec::new(),
            Err(PieceError::Broken) => return None,
        };
        Some(self.stamps_of(split, split_stamp, name, raw, intrinsics, cams))
    }

    /// The stamps of a scene whose camera ids are given. With the ids of a stub held for the
    /// scene, a fingerprint equal to the stub's shows the text (and so the ids) unchanged:
    /// the scene is known without parsing its JSON.
    fn stamps_of(
        &self,
        split: &str,
        split_stamp: Option<&FileStamp>,
        name: &str,
        raw: &str,
        intrinsics: &RawValue,
        cams: Vec<String>,
    ) -> SceneStamps {
        let mut fp = ContentHasher::new("crossview.messytable.scene")
            .str(split)
            .long_str(raw)
            .str(intrinsics.get());
        let images = self.image_stamps(name, cams);
        for (cam, stamp) in &images {
            fp = stamp_into(fp, &image_rel(name, cam), stamp.as_ref());
        }
        SceneStamps {
            fingerprint: fp.finish_hex(16),
            read_stamp: read_stamp(split_stamp, name, &images),
            images,
        }
    }

    /// Each camera's image stamp, camera ids in numeric order ("1".."9", not string order).
    fn image_stamps(&self, name: &str, mut cams: Vec<String>) -> Vec<(String, Option<FileStamp>)> {
        cams.sort_by(|a, b| {
            (a.parse::<u64>().unwrap_or(u64::MAX), a)
                .cmp(&(b.parse::<u64>().unwrap_or(u64::MAX), b))
        });
        let images_present = self.images_present.load(Ordering::Relaxed);
        cams.into_iter()
            .map(|cam| {
                let stamp = match images_present {
                    true => file_stamp(&self.root.join(image_rel(name, &cam))),
                    false => None,
                };
                (cam, stamp)
            })
            .collect()
    }

    /// The stubs the caller holds of the split file `file` with the file's problems, when
    /// nothing they were read from changed since (each one's read stamp is as fresh);
    /// `None` when the file must be read.
    fn unchanged_split(
        &self,
        file: &Path,
        split_stamp: Option<&FileStamp>,
        skip: &dyn SceneSkip,
    ) -> Option<(Vec<SceneData>, Vec<crossview_schemas::InputError>)> {
        let rel = file.strip_prefix(&self.root).unwrap_or(file);
        let held = skip.held_file(rel)?;
        let unchanged = held.scenes.par_iter().all(|stub| {
            let Some(name) = Scene::native_id(SourceKind::MessyTable, stub.scene_id()) else {
                return false;
            };
            !skip.unwanted(stub.scene_id())
                && stub.read_stamp.as_deref().is_some_and(|held_stamp| {
                    let images = self.image_stamps(name, stub.camera_ids.clone());
                    held_stamp == read_stamp(split_stamp, name, &images)
                })
        });
        unchanged.then(|| {
            let scenes = held.scenes.into_iter().cloned().collect();
            (scenes, held.problems)
        })
    }

    fn scene(
        &self,
        file: &Path,
        split: &str,
        name: &str,
        raw: &str,
        intrinsics: &RawValue,
        stamps: SceneStamps,
    ) -> SceneData {
        let scene_id = Scene::make_id(SourceKind::MessyTable, name);
        let mut p = Problems::new(SourceKind::MessyTable, &self.root, Some(scene_id.clone()));
        let mut data = SceneData {
            scene: Some(Scene {
                scene_id: scene_id.clone(),
                source: SourceKind::MessyTable,
                source_split: split.to_string(),
            }),
            files: vec![file.strip_prefix(&self.root).unwrap_or(file).to_path_buf()],
            fingerprint: stamps.fingerprint,
            read_stamp: Some(stamps.read_stamp),
            ..SceneData::default()
        };
        let cameras = serde_json::from_str::<SceneJson>(raw)
            .ok()
            .and_then(|v| v.cameras)
            .and_then(Loose::good);
        let mut k: Entries<'_, Value> = serde_json::from_str(intrinsics.get()).unwrap_or_default();
        let here = |rest: &str| format!("scenes.{name}{rest}");
        let Some(cameras) = cameras else {
            p.push(
                file,
                here(".cameras"),
                ErrorClass::Malformed,
                "missing or not an object",
            );
            data.errors = p.into_vec();
            return data;
        };
        let mut cameras = cameras;
        // In the stamps' order (numeric camera ids), which are those of `cameras`.
        for (cam, stamp) in stamps.images {
            let Some(cv) = cameras.remove(cam.as_str()) else {
                continue;
            };
            let at = |rest: &str| here(&format!(".cameras.{cam}{rest}"));
            let image_rel = image_rel(name, &cam);
            let image_path = self.root.join(&image_rel);
            let size = match stamp.as_ref().and_then(|_| image_size(&image_path)) {
                Some(s) => s,
                None => {
                    if stamp.is_some() {
                        p.push(
                            &image_path,
                            "",
                            ErrorClass::Malformed,
                            "not a readable image",
                        );
                    } else if self.opts.require_images {
                        p.push(
                            &image_path,
                            "",
                            ErrorClass::MissingFile,
                            format!("image of camera {cam} is missing"),
                        );
                    }
                    DEFAULT_IMAGE_SIZE
                }
            };
            let Some(kv) = k.remove(cam.as_str()) else {
                p.push(
                    file,
                    format!("intrinsics.{cam}"),
                    ErrorClass::Inconsistent,
                    format!("no intrinsics for camera {cam}; its instances are skipped"),
                );
                continue;
            };
            let Some(km) = numbers::<9>(Some(&kv)) else {
                p.push(
                    file,
                    format!("intrinsics.{cam}"),
                    ErrorClass::InvalidValue,
                    "expected 9 finite numbers (row-major 3x3)",
                );
                continue;
            };
            if km[3] != 0.0 || km[6] != 0.0 || km[7] != 0.0 || km[8] != 1.0 {
                p.push(
                    file,
                    format!("intrinsics.{cam}"),
                    ErrorClass::InvalidValue,
                    format!("not a pinhole matrix: {km:?}"),
                );
                continue;
            }
            let model = match CameraModel::new(
                size.0,
                size.1,
                km[0],
                km[4],
                km[2],
                km[5],
                Distortion::Pinhole,
                SensorRotation::None,
            ) {
                Ok(m) => m,
                Err(e) => {
                    p.push(
                        file,
                        format!("intrinsics.{cam}"),
                        ErrorClass::InvalidValue,
                        e.to_string(),
                    );
                    continue;
                }
            };
            let (extrinsics, instances) = match cv {
                Loose::Good(c) => (c.extrinsics, c.instances),
                Loose::Bad => (None, None),
            };
            let Some(ext) = numbers::<6>(extrinsics.as_ref()) else {
                p.push(
                    file,
                    at(".extrinsics"),
                    ErrorClass::InvalidValue,
                    "expected 6 finite numbers [tx, ty, tz, rx, ry, rz]; camera skipped",
                );
                continue;
            };
            // Camera-to-reference: the camera's pose in the scene's frame.
            let pose = Rotation::from_euler_xyz_extrinsic(ext[3], ext[4], ext[5]).and_then(|r| {
                CameraToWorld::new(
                    r,
                    DVec3::new(ext[0], ext[1], ext[2]) * self.opts.messytable_translation_scale,
                )
            });
            let pose = match pose {
                Ok(p) => p.inverse(),
                Err(e) => {
                    p.push(
                        file,
                        at(".extrinsics"),
                        ErrorClass::InvalidValue,
                        e.to_string(),
                    );
                    continue;
                }
            };
            data.cameras.push(Camera {
                scene_id: scene_id.clone(),
                camera_id: cam.clone(),
                kind: CameraKind::Exo,
                model,
                world_to_camera: Some(pose),
            });
            data.frames.push(Frame {
                scene_id: scene_id.clone(),
                camera_id: cam.clone(),
                frame_index: 0,
                timestamp_s: 0.0,
                image: if stamp.is_some() {
                    ImageRef::File(image_rel.to_string_lossy().into_owned())
                } else {
                    ImageRef::None
                },
                world_to_camera: None,
            });
            let Some(instances) = instances.and_then(Loose::good) else {
                p.push(
                    file,
                    at(".instances"),
                    ErrorClass::Malformed,
                    "missing or not an object",
                );
                continue;
            };
            for (id, iv) in instances {
                let at = |rest: &str| at(&format!(".instances.{id}{rest}"));
                let (pos, cls, subcls) = match iv {
                    Loose::Good(i) => (i.pos, i.cls, i.subcls),
                    Loose::Bad => (None, None, None),
                };
                let Ok(n) = id.trim().parse::<i64>() else {
                    p.push(
                        file,
                        at(""),
                        ErrorClass::InvalidValue,
                        "instance key is not an integer",
                    );
                    continue;
                };
                let Some(pos) = numbers::<4>(pos.as_ref()) else {
                    p.push(
                        file,
                        at(".pos"),
                        ErrorClass::InvalidValue,
                        "expected 4 finite numbers [x1, y1, x2, y2]",
                    );
                    continue;
                };
                if pos[2] < pos[0] || pos[3] < pos[1] {
                    p.push(
                        file,
                        at(".pos"),
                        ErrorClass::InvalidValue,
                        format!("x2 < x1 or y2 < y1: {pos:?}"),
                    );
                    continue;
                }
                let (Some(cls), Some(subcls)) = (integer(cls.as_ref()), integer(subcls.as_ref()))
                else {
                    p.push(
                        file,
                        at(""),
                        ErrorClass::InvalidValue,
                        "cls and subcls must be integers",
                    );
                    continue;
                };
                // Inclusive pixel indices; the official crop code clips to the image.
                let bbox = BoxXyxy::from_inclusive_xyxy(pos[0], pos[1], pos[2], pos[3])
                    .ok()
                    .and_then(|b| b.clip(size.0, size.1));
                let Some(bbox) = bbox else {
                    p.push(
                        file,
                        at(".pos"),
                        ErrorClass::InvalidValue,
                        format!("box {pos:?} lies outside the {}x{} image", size.0, size.1),
                    );
                    continue;
                };
                data.observations.push(Observation {
                    scene_id: scene_id.clone(),
                    camera_id: cam.clone(),
                    frame_index: 0,
                    instance_id: n.to_string(),
                    category: format!("cls{cls}"),
                    subcategory: Some(format!("subcls{subcls}")),
                    bbox: Some(bbox),
                    mask: None,
                    keypoints: Vec::new(),
                    world_position: None,
                    world_extent: None,
                });
            }
        }
        data.errors = p.into_vec();
        data.unit_check = Some(rig_span(&data)).filter(|s| s.is_finite());
        data
    }

    fn read_split(
        &self,
        file: &Path,
        split_stamp: Option<&FileStamp>,
        skip: &dyn SceneSkip,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
        tree: &mut Problems,
    ) -> Result<()> {
        let split = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let f = match File::open(file) {
            Ok(f) => f,
            Err(e) => {
                tree.push(file, "", ErrorClass::MissingFile, e.to_string());
                return Ok(());
            }
        };
        let mut spans: Vec<f64> = Vec::new();
        // The first scene found not JSON (by its offset): the file is read up to it.
        let mut broken_at: Option<Option<u64>> = None;
        let mut hand_over = |scenes: Vec<Parsed>| -> Result<()> {
            for parsed in scenes {
                if broken_at.is_some() {
                    break;
                }
                match parsed {
                    Parsed::Unwanted => {}
                    Parsed::Broken(offset) => broken_at = Some(offset),
                    Parsed::Scene(data) => {
                        if spans.len() < 64 {
                            spans.push(data.unit_check.unwrap_or(f64::NAN));
                        }
                        visit(*data)?;
                    }
                }
            }
            Ok(())
        };
        // Entries are parsed into scenes in parallel batches, handed on in file order: one
        // split file holds every scene, and parsing it is most of reading the tree. A batch
        // is parsed while the next one streams in, so the scan and the parsing overlap. The
        // parse checks each scene's JSON (the stream leaves that to it), except a known
        // scene's: its fingerprint shows its text is one read whole before.
        let parse = |batch: Vec<(String, String, Option<u64>)>, k: &RawValue| -> Vec<Parsed> {
            batch
                .par_iter()
                .map(|(name, raw, offset)| {
                    let id = Scene::make_id(SourceKind::MessyTable, name);
                    if let Some(held) = skip.held(&id) {
                        let cams = held.camera_ids.clone();
                        let stamps = self.stamps_of(&split, split_stamp, name, raw, k, cams);
                        if stamps.fingerprint == held.fingerprint
                            && !skip.unwanted(&id)
                            && let Some(stub) = skip.known(&id, &stamps.fingerprint)
                        {
                            return Parsed::Scene(Box::new(restamped(stub, stamps)));
                        }
                    }
                    if skip.unwanted(&id) {
                        return if Piece::new(raw).is_json() {
                            Parsed::Unwanted
                        } else {
                            Parsed::Broken(*offset)
                        };
                    }
                    let Some(stamps) = self.stamps(&split, split_stamp, name, raw, k) else {
                        return Parsed::Broken(*offset);
                    };
                    if let Some(stub) = skip.known(&id, &stamps.fingerprint) {
                        return Parsed::Scene(Box::new(restamped(stub, stamps)));
                    }
                    Parsed::Scene(Box::new(self.scene(file, &split, name, raw, k, stamps)))
                })
                .collect()
        };
        let mut batch: Vec<(String, String, Option<u64>)> = Vec::with_capacity(PARSE_BATCH);
        let mut intrinsics: Option<Box<RawValue>> = None;
        let end = std::thread::scope(|threads| -> Result<StreamEnd> {
            let mut in_flight: Option<std::thread::ScopedJoinHandle<'_, _>> = None;
            let finish = |h: std::thread::ScopedJoinHandle<'_, Vec<Parsed>>| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            let end = stream_entries(
                f,
                "scenes",
                &["intrinsics"],
                &mut |name, piece, captured| {
                    let k = captured
                        .get("intrinsics")
                        .ok_or_else(|| Error::Options("intrinsics captured".into()))?;
                    let k: &RawValue = intrinsics.get_or_insert_with(|| k.to_owned());
                    piece.checked_later();
                    batch.push((name, piece.text().to_owned(), piece.offset()));
                    if batch.len() == PARSE_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(PARSE_BATCH));
                        if let Some(h) = in_flight.take() {
                            hand_over(finish(h))?;
                        }
                        let k = k.to_owned();
                        in_flight = Some(threads.spawn(move || parse(full, &k)));
                    }
                    Ok(())
                },
            );
            // The batch in flight is handed over when the stream ended (broken or not), and
            // only joined when a handler failed.
            if let Some(h) = in_flight.take() {
                let scenes = finish(h);
                if end.is_ok() {
                    hand_over(scenes)?;
                }
            }
            end
        })?;
        if let Some(k) = &intrinsics {
            hand_over(parse(batch, k))?;
        }
        // A scene that is not JSON breaks the file where it starts (before any break the
        // stream found later on).
        let end = match broken_at {
            Some(offset) => {
                let text = std::fs::read(file).map_err(|e| Error::io(file, e))?;
                StreamEnd::Malformed(offset.map_or(
                    JsonBreak {
                        line: 0,
                        column: 0,
                        reason: "a scene is not JSON".into(),
                    },
                    |at| break_at(&text, at),
                ))
            }
            None => end,
        };
        match end {
            StreamEnd::Complete => {}
            // Scenes before the error were handed over; the rest of the file is lost.
            StreamEnd::Malformed(e) => tree.json_break(file, &e),
            StreamEnd::Missing { entries, .. } => tree.push(
                file,
                "intrinsics",
                ErrorClass::Malformed,
                format!("no intrinsics; {entries} scenes cannot be read"),
            ),
        }
        // Self-check of the undocumented translation unit (formats/messytable.md 4).
        spans.retain(|s| s.is_finite());
        spans.sort_by(f64::total_cmp);
        if let Some(&median) = spans.get(spans.len() / 2)
            && median > MAX_PLAUSIBLE_RIG_METRES
        {
            // A rig a thousand times too wide: the units are a thousandth of what the
            // configured scale takes them for (millimetres read as metres at the default).
            let scale = self.opts.messytable_translation_scale;
            tree.push(
                file,
                "scenes.*.cameras.*.extrinsics",
                ErrorClass::Suspicious,
                format!(
                    "cameras of a scene are a median {median:.1} m apart with translations read as {scale} m per unit; \
                     the unit looks like a thousandth of that, as millimetres are of metres (set the MessyTable translation scale to {})",
                    scale * 1e-3
                ),
            );
        }
        Ok(())
    }
}

/// Median distance between the camera centres of a scene (NaN without two cameras).
fn rig_span(data: &SceneData) -> f64 {
    let centres: Vec<DVec3> = data
        .cameras
        .iter()
        .filter_map(|c| c.world_to_camera.map(|p| p.camera_center()))
        .collect();
    let mut d: Vec<f64> = Vec::new();
    for (i, a) in centres.iter().enumerate() {
        for b in &centres[i + 1..] {
            d.push((*a - *b).length());
        }
    }
    d.sort_by(f64::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(f64::NAN)
}

impl SourceReader for MessyTableReader {
    fn kind(&self) -> SourceKind {
        SourceKind::MessyTable
    }

    fn root(&self) -> &Path {
        &self.root
    }

    /// Scenes are known by their fingerprint before they are parsed (see `stamps`).
    fn read_with(
        &self,
        skip: Option<&dyn SceneSkip>,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
    ) -> Result<Vec<crossview_schemas::InputError>> {
        let skip = skip.unwrap_or(&ReadAll);
        let mut tree = Problems::new(SourceKind::MessyTable, &self.root, None);
        self.images_present
            .store(self.root.join("images").is_dir(), Ordering::Relaxed);
        let labels = self.root.join("labels");
        let files: Vec<PathBuf> = sorted_entries(&labels)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        if files.is_empty() {
            tree.push(
                &labels,
                "",
                ErrorClass::MissingFile,
                "no label files (labels/<split>.json)",
            );
        }
        for file in files {
            // A split file unchanged since the caller's last read of it (and its scenes'
            // images too) is not read: scanning the unchanged splits was most of a rebuild
            // after one scene of another split changed.
            let split_stamp = file_stamp(&file);
            match self.unchanged_split(&file, split_stamp.as_ref(), skip) {
                Some((scenes, problems)) => {
                    for stub in scenes {
                        visit(stub)?;
                    }
                    tree.extend(problems);
                }
                None => self.read_split(&file, split_stamp.as_ref(), skip, visit, &mut tree)?,
            }
        }
        Ok(tree.into_vec())
    }
}
