//! Ego-Exo4D loader (formats/egoexo4d.md): takes from `takes.json`; one [`Observation`] per
//! stored relations mask (LZ-string COCO RLE, annotated provenance), an [`Absence`] per
//! annotated frame without one; exo calibration from `gopro_calibs.csv`, the Aria RGB
//! projection from MPS `online_calibration.jsonl` and per-frame ego poses from EgoPose
//! `camera_pose` JSON (camera-first layout, or the documented frame-first one).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::DVec3;
use crossview_schemas::lzstring::LzDecoder;
use crossview_schemas::{
    Absence, BoxXyxy, Camera, CameraKind, CameraModel, CameraToWorld, ContentHasher, Distortion,
    ErrorClass, Frame, ImageRef, InputError, MaskSource, Observation, ObservedMask, Rle, Rotation,
    Scene, SensorRotation, SourceKind, WorldToCamera,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

use super::csv_text::CsvText;
use super::files::{file_stamp, sorted_entries, stamp_into, stamp_tree_into};
use super::json_stream::{Element, PieceError, StreamEnd, stream_entry_values};
use super::json_subset::{Cursor, read_from_start, read_whole, set_once};
use super::loose_json::{Entries, Loose, LooseStr, Naturals, Unsigned};
use super::{Problems, SceneData, SceneSkip, SourceOptions, SourceReader, unless_held};
use crate::error::Result;

/// Relations masks are at 1 fps of the 30 fps frame-aligned videos.
pub const FPS: f64 = 30.0;
/// The Aria RGB stream's key in relations annotations.
const EGO_STREAM: &str = "214-1";

/// Below this IoU with its mask's box, an ego box is reported as suspicious.
const EGO_BOX_MIN_IOU: f64 = 0.5;

/// One take's relations entry, read into types (the click lists and metadata are skipped).
#[derive(Debug, Deserialize)]
struct TakeJson<'a> {
    #[serde(borrow)]
    object_masks: Option<Loose<Entries<'a, ObjectMasksJson<'a>>>>,
    #[serde(default, deserialize_with = "ego_boxes_from_value")]
    object_names: EgoBoxes,
}

/// The ego boxes of a take's `object_names` (its `annotation`: one xywh box per object track).
#[derive(Debug, Default)]
enum EgoBoxes {
    /// Nothing to check: no `object_names`, or no `annotation` in it (or it is no object).
    #[default]
    Absent,
    /// An `annotation` that is not a list.
    NotAList,
    List(Vec<EgoBoxJson>),
}

/// One entry of `object_names.annotation`, each field as a `Value` lookup gives it: absent,
/// or of another type (any field of an entry that is not an object), is `None`.
#[derive(Debug, Default)]
struct EgoBoxJson {
    track_id: Option<String>,
    x: Option<f64>,
    y: Option<f64>,
    width: Option<f64>,
    height: Option<f64>,
    frame_number: Option<u64>,
    original_width: Option<u64>,
    original_height: Option<u64>,
}

impl EgoBoxes {
    /// The boxes of `object_names` parsed as a `Value` (serde's path).
    fn from_value(names: &Value) -> Self {
        let Some(annotation) = names.get("annotation") else {
            return EgoBoxes::Absent;
        };
        let Value::Array(entries) = annotation else {
            return EgoBoxes::NotAList;
        };
        let entry = |e: &Value| {
            let num = |k: &str| e.get(k).and_then(Value::as_f64);
            let natural = |k: &str| e.get(k).and_then(Value::as_u64);
            EgoBoxJson {
                track_id: e
                    .get("track_id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                x: num("x"),
                y: num("y"),
                width: num("width"),
                height: num("height"),
                frame_number: natural("frameNumber"),
                original_width: natural("original_width"),
                original_height: natural("original_height"),
            }
        };
        EgoBoxes::List(entries.iter().map(entry).collect())
    }

    /// `object_names` in [`Cursor`]'s subset of JSON, as [`EgoBoxes::from_value`] reads it
    /// from serde_json's `Value` (which parses every number in it); `None` leaves it to that
    /// path. Parsing a `Value` per take was a twentieth of reading the takes.
    fn read_from(c: &mut Cursor<'_>) -> Option<Self> {
        in_object(c, |c| {
            let mut boxes = None;
            c.object(|key, c| match key {
                "annotation" => set_once(&mut boxes, Self::list_from(c)),
                _ => c.skip_in_value(),
            })?;
            Some(boxes.unwrap_or_default())
        })
    }

    fn list_from(c: &mut Cursor<'_>) -> Option<Self> {
        if c.peek_value()? != b'[' {
            return c.skip_in_value().map(|()| EgoBoxes::NotAList);
        }
        let mut list = Vec::new();
        c.array(|c| {
            list.push(EgoBoxJson::read_from(c)?);
            Some(())
        })?;
        Some(EgoBoxes::List(list))
    }
}

impl EgoBoxJson {
    /// An entry at the cursor (see [`EgoBoxes::read_from`]).
    fn read_from(c: &mut Cursor<'_>) -> Option<Self> {
        in_object(c, Self::fields_from)
    }

    fn fields_from(c: &mut Cursor<'_>) -> Option<Self> {
        let mut track_id = None;
        let (mut x, mut y, mut width, mut height) = (None, None, None, None);
        let (mut frame_number, mut original_width, mut original_height) = (None, None, None);
        c.object(|key, c| match key {
            "track_id" => set_once(&mut track_id, c.value_str()),
            "x" => set_once(&mut x, c.value_f64()),
            "y" => set_once(&mut y, c.value_f64()),
            "width" => set_once(&mut width, c.value_f64()),
            "height" => set_once(&mut height, c.value_f64()),
            "frameNumber" => set_once(&mut frame_number, c.value_u64()),
            "original_width" => set_once(&mut original_width, c.value_u64()),
            "original_height" => set_once(&mut original_height, c.value_u64()),
            _ => c.skip_in_value(),
        })?;
        Some(EgoBoxJson {
            track_id: track_id.flatten().map(str::to_string),
            x: x.flatten(),
            y: y.flatten(),
            width: width.flatten(),
            height: height.flatten(),
            frame_number: frame_number.flatten(),
            original_width: original_width.flatten(),
            original_height: original_height.flatten(),
        })
    }
}

/// What `takes.json` says of one take, as `Value` lookups give it (absent, or of another
/// type, is `None`).
#[derive(Debug, Default)]
struct TakeFields<'a> {
    uid: Option<&'a str>,
    name: Option<&'a str>,
    root_dir: Option<&'a str>,
    /// `frame_aligned_videos`: each camera's streams as (`relative_path`, `stream_id`), in
    /// the order of their keys (a `Value` object's order).
    streams: Vec<(&'a str, Vec<StreamFields<'a>>)>,
    /// The `cam_id` of each `capture.cameras` entry marked `is_ego`.
    ego_cameras: Vec<&'a str>,
}

/// A stream's `relative_path` and `stream_id`.
type StreamFields<'a> = (Option<&'a str>, Option<&'a str>);

impl<'a> TakeFields<'a> {
    /// One take of `takes.json` parsed as a `Value` (serde's path).
    fn from_value(t: &'a Value) -> Self {
        let text = |v: &'a Value, key: &str| v.get(key).and_then(Value::as_str);
        let streams = t
            .get("frame_aligned_videos")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(cam, streams)| {
                let streams = streams.as_object().into_iter().flatten();
                let fields = streams.map(|(_, s)| (text(s, "relative_path"), text(s, "stream_id")));
                (cam.as_str(), fields.collect())
            })
            .collect();
        let cameras = t.get("capture").and_then(|c| c.get("cameras"));
        let ego_cameras = cameras
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c.get("is_ego").and_then(Value::as_bool) == Some(true))
            .filter_map(|c| text(c, "cam_id"))
            .collect();
        TakeFields {
            uid: text(t, "take_uid"),
            name: text(t, "take_name"),
            root_dir: text(t, "root_dir"),
            streams,
            ego_cameras,
        }
    }

    /// `takes.json` in [`Cursor`]'s subset of JSON, as [`TakeFields::from_value`] reads each
    /// take of it from serde_json's `Value` (a top that is no list has no takes); `None`
    /// leaves it to that path. A key repeated where a `Value` would keep the last leaves the
    /// subset too. Parsing the whole file as a `Value` was a twentieth of reading the tree.
    fn list_from(c: &mut Cursor<'a>) -> Option<Vec<Self>> {
        in_list(c, |c| in_object(c, Self::fields_from))
    }

    fn fields_from(c: &mut Cursor<'a>) -> Option<Self> {
        let (mut uid, mut name, mut root_dir) = (None, None, None);
        let (mut streams, mut ego_cameras) = (None, None);
        c.object(|key, c| match key {
            "take_uid" => set_once(&mut uid, c.value_str()),
            "take_name" => set_once(&mut name, c.value_str()),
            "root_dir" => set_once(&mut root_dir, c.value_str()),
            "frame_aligned_videos" => set_once(&mut streams, in_object(c, Self::streams_from)),
            "capture" => set_once(
                &mut ego_cameras,
                in_object(c, |c| {
                    let mut cameras = None;
                    c.object(|key, c| match key {
                        "cameras" => set_once(&mut cameras, ego_cameras_from(c)),
                        _ => c.skip_in_value(),
                    })?;
                    Some(cameras.unwrap_or_default())
                }),
            ),
            _ => c.skip_in_value(),
        })?;
        Some(TakeFields {
            uid: uid.flatten(),
            name: name.flatten(),
            root_dir: root_dir.flatten(),
            streams: streams.unwrap_or_default(),
            ego_cameras: ego_cameras.unwrap_or_default(),
        })
    }

    /// `frame_aligned_videos` (an object): each camera's streams.
    fn streams_from(c: &mut Cursor<'a>) -> Option<Vec<(&'a str, Vec<StreamFields<'a>>)>> {
        let mut cameras: Vec<(&'a str, Vec<StreamFields<'a>>)> = Vec::new();
        c.object(|cam, c| {
            let streams = in_object(c, |c| {
                let mut streams: Vec<(&'a str, StreamFields<'a>)> = Vec::new();
                c.object(|key, c| {
                    streams.push((key, in_object(c, stream_from)?));
                    Some(())
                })?;
                // In key order, as a `Value` holds them; a repeated key leaves the subset.
                streams.sort_unstable_by_key(|&(key, _)| key);
                if streams.windows(2).any(|w| w[0].0 == w[1].0) {
                    return None;
                }
                Some(streams.into_iter().map(|(_, s)| s).collect())
            })?;
            cameras.push((cam, streams));
            Some(())
        })?;
        cameras.sort_unstable_by_key(|&(cam, _)| cam);
        if cameras.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(cameras)
    }
}

/// What `read` reads of an object, or the default of any other value (as a lookup in a
/// `Value` that is no object finds nothing).
fn in_object<'a, T: Default>(
    c: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<T> {
    if c.peek_value()? == b'{' {
        read(c)
    } else {
        c.skip_in_value().map(|()| T::default())
    }
}

/// One stream of a camera (an object).
fn stream_from<'a>(c: &mut Cursor<'a>) -> Option<StreamFields<'a>> {
    let (mut relative_path, mut stream_id) = (None, None);
    c.object(|key, c| match key {
        "relative_path" => set_once(&mut relative_path, c.value_str()),
        "stream_id" => set_once(&mut stream_id, c.value_str()),
        _ => c.skip_in_value(),
    })?;
    Some((relative_path.flatten(), stream_id.flatten()))
}

/// `capture.cameras`: the `cam_id` of each entry marked `is_ego` (none unless a list).
fn ego_cameras_from<'a>(c: &mut Cursor<'a>) -> Option<Vec<&'a str>> {
    let cameras = in_list(c, |c| {
        in_object(c, |c| {
            let (mut cam_id, mut is_ego) = (None, None);
            c.object(|key, c| match key {
                "cam_id" => set_once(&mut cam_id, c.value_str()),
                "is_ego" => set_once(&mut is_ego, c.value_bool()),
                _ => c.skip_in_value(),
            })?;
            Some((cam_id.flatten(), is_ego.flatten()))
        })
    })?;
    let ego = cameras
        .into_iter()
        .filter(|&(_, is_ego)| is_ego == Some(true));
    Some(ego.filter_map(|(cam_id, _)| cam_id).collect())
}

/// What `read` reads of each element of a list, or no elements for any other value (as a
/// `Value` that is no list has none).
fn in_list<'a, T>(
    c: &mut Cursor<'a>,
    mut read: impl FnMut(&mut Cursor<'a>) -> Option<T>,
) -> Option<Vec<T>> {
    if c.peek_value()? != b'[' {
        return c.skip_in_value().map(|()| Vec::new());
    }
    let mut out = Vec::new();
    c.array(|c| {
        out.push(read(c)?);
        Some(())
    })?;
    Some(out)
}

/// `object_names` as serde reads it: a `Value`, then its boxes (`null` has none).
fn ego_boxes_from_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<EgoBoxes, D::Error> {
    Value::deserialize(d).map(|v| EgoBoxes::from_value(&v))
}

/// One camera's entry of an EgoPose `camera_pose` file (a frame's, in the frame-first layout).
#[derive(Deserialize)]
struct PoseEntryJson<'a> {
    #[serde(borrow)]
    camera_extrinsics: Option<&'a RawValue>,
}

/// A camera's entry of a camera-first `camera_pose` file whose extrinsics are all 3x4
/// matrices of numbers, by frame key.
#[derive(Deserialize)]
struct CameraFirstPosesJson<'a> {
    #[serde(borrow)]
    camera_extrinsics: Entries<'a, [[f64; 4]; 3]>,
}

/// One object's masks, by camera key.
type ObjectMasksJson<'a> = Loose<Entries<'a, Loose<CameraMasksJson<'a>>>>;

/// One object's masks in one camera.
#[derive(Debug, Deserialize)]
struct CameraMasksJson<'a> {
    #[serde(borrow)]
    annotation: Option<Loose<Entries<'a, Loose<MaskJson<'a>>>>>,
    annotated_frames: Option<Naturals>,
}

/// One stored mask; a field of another type is its own record's error.
#[derive(Debug, Default, Deserialize)]
struct MaskJson<'a> {
    width: Option<Unsigned>,
    height: Option<Unsigned>,
    #[serde(rename = "encodedMask", borrow)]
    encoded_mask: Option<LooseStr<'a>>,
}

/// What every take of one relations file shares.
struct RelationsFile {
    split: String,
    path: PathBuf,
    takes_hash: String,
}

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
        let value: Value;
        let fields = match read_whole(&text, TakeFields::list_from) {
            Some(fields) => fields,
            None => {
                value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => {
                        p.json(&file, &e);
                        return (BTreeMap::new(), hash);
                    }
                };
                let takes = value.as_array().into_iter().flatten();
                takes.map(TakeFields::from_value).collect()
            }
        };
        let mut out = BTreeMap::new();
        for (i, t) in fields.into_iter().enumerate() {
            let (Some(uid), Some(name)) = (t.uid, t.name) else {
                p.push(
                    &file,
                    format!("[{i}]"),
                    ErrorClass::InvalidValue,
                    "take without take_uid or take_name",
                );
                continue;
            };
            let root_dir = t
                .root_dir
                .map_or_else(|| format!("takes/{name}"), str::to_string);
            let mut videos = BTreeMap::new();
            let mut ego = BTreeSet::new();
            for (cam, streams) in t.streams {
                for (relative_path, stream_id) in streams {
                    if let Some(rel) = relative_path {
                        let stream = stream_id.unwrap_or("0");
                        if stream == EGO_STREAM || stream == "0" {
                            videos.insert(cam.to_string(), rel.to_string());
                        }
                        if stream == EGO_STREAM {
                            ego.insert(cam.to_string());
                        }
                    }
                }
            }
            ego.extend(t.ego_cameras.into_iter().map(str::to_string));
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
        csv: &mut CsvText,
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
        *fp = fp.clone().long_bytes(&text);
        let mut out = Vec::new();
        let mut records = csv.records(text);
        let headers = match records.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => {
                p.push(&file, "line 1", ErrorClass::Malformed, e.to_string());
                return out;
            }
            None => csv::StringRecord::new(),
        };
        let col = |name: &str| headers.iter().position(|h| h == name);
        for (i, rec) in records.enumerate() {
            let at = format!("line {}", i + 2);
            let rec = match rec {
                Ok(r) if r.len() == headers.len() => r,
                // The parser is shared across files, so it is flexible: field counts are
                // checked here, as a strict reader would.
                Ok(r) => {
                    p.push(
                        &file,
                        at,
                        ErrorClass::Malformed,
                        format!("{} fields where the header has {}", r.len(), headers.len()),
                    );
                    continue;
                }
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
        *fp = fp.clone().long_str(&text);
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

    /// The EgoPose `camera_pose` file of a take of `split`.
    fn camera_poses_file(&self, split: &str, take: &Take) -> PathBuf {
        (self.root.join("annotations/ego_pose").join(split))
            .join("camera_pose")
            .join(format!("{}.json", take.uid))
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
        let file = self.camera_poses_file(split, take);
        let Ok(text) = std::fs::read_to_string(&file) else {
            p.push(
                &file,
                "",
                ErrorClass::MissingFile,
                "no camera poses for this take; ego frames have no pose",
            );
            return out;
        };
        *fp = fp.clone().long_str(&text);
        // The common case, camera-first with every frame a 3x4 matrix, in one pass of the
        // subset cursor; anything else through serde_json below.
        let subset = camera_first_poses_subset(&text, aria);
        let top: Entries<'_, &RawValue> = match subset {
            Some(_) => Entries::default(),
            None => match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    p.json(&file, &e);
                    return out;
                }
            },
        };
        let bad_frame = |p: &mut Problems, f: &str| {
            p.push(
                &file,
                format!("{aria}.camera_extrinsics.{f}"),
                ErrorClass::InvalidValue,
                "not a frame number with a 3x4 rotation|translation",
            );
        };
        fn extrinsics(raw: &RawValue) -> Option<&RawValue> {
            serde_json::from_str::<Loose<PoseEntryJson>>(raw.get())
                .ok()?
                .good()?
                .camera_extrinsics
        }
        let pose_of = |rows: [[f64; 4]; 3]| -> Option<WorldToCamera> {
            if !rows.iter().flatten().all(|x| x.is_finite()) {
                return None;
            }
            let r = rows.map(|row| [row[0], row[1], row[2]]);
            let t = rows.map(|row| row[3]);
            WorldToCamera::new(Rotation::from_rows(r).ok()?, DVec3::from_array(t)).ok()
        };
        let mat34 = |m: &RawValue| pose_of(serde_json::from_str(m.get()).ok()?);
        // Camera-first layout (what the baselines read), else the documented frame-first one.
        // A camera-first entry whose every frame is a 3x4 matrix is read in one typed pass;
        // any other entry takes the raw path, which judges each frame on its own.
        let typed = subset.or_else(|| {
            top.get(aria)
                .and_then(|a| serde_json::from_str::<CameraFirstPosesJson>(a.get()).ok())
                .map(|poses| poses.camera_extrinsics)
        });
        if let Some(per_frame) = typed {
            for (f, rows) in per_frame {
                match (f.parse::<u32>(), pose_of(rows)) {
                    (Ok(frame), Some(pose)) => {
                        out.insert(frame, pose);
                    }
                    _ => bad_frame(p, &f),
                }
            }
            return out;
        }
        let camera_first = top
            .get(aria)
            .and_then(|a| extrinsics(a))
            .and_then(|m| serde_json::from_str::<Entries<'_, &RawValue>>(m.get()).ok());
        let frames: Vec<(Cow<'_, str>, &RawValue)> = match camera_first {
            Some(per_frame) => per_frame.into_iter().collect(),
            None => top
                .iter()
                .filter_map(|(f, entry)| {
                    let cams: Entries<'_, &RawValue> = serde_json::from_str(entry.get()).ok()?;
                    Some((f.clone(), extrinsics(cams.get(aria)?)?))
                })
                .collect(),
        };
        for (f, m) in frames {
            match (f.parse::<u32>(), mat34(m)) {
                (Ok(frame), Some(pose)) => {
                    out.insert(frame, pose);
                }
                _ => bad_frame(p, &f),
            }
        }
        out
    }

    /// A take's read stamp (see [`SceneData::read_stamp`]): its relations file, split and
    /// text, the takes file's digest, and the stamps of every file under the take's folder,
    /// of its camera poses and of its videos. Everything [`Self::take`] reads is among them.
    fn read_stamp(&self, take: &Take, relations_file: &RelationsFile, raw: &str) -> String {
        let rel_file = (relations_file.path)
            .strip_prefix(&self.root)
            .unwrap_or(&relations_file.path);
        let h = ContentHasher::new("crossview.egoexo4d.read")
            .str(&rel_file.to_string_lossy())
            .str(&relations_file.split)
            .long_str(raw)
            .str(&relations_file.takes_hash);
        let mut h = stamp_tree_into(h, &self.root, Path::new(&take.root_dir));
        let poses = self.camera_poses_file(&relations_file.split, take);
        h = stamp_into(h, &poses, file_stamp(&poses).as_ref());
        for rel in take.videos.values() {
            let video = self.root.join(&take.root_dir).join(rel);
            h = stamp_into(h, &video, file_stamp(&video).as_ref());
        }
        h.finish_hex(16)
    }

    /// The take read as [`Self::take`] reads it, unless `skip` holds it with this read's
    /// stamp: then its stub (see [`unless_held`]).
    fn take_unless_held(
        &self,
        skip: Option<&dyn SceneSkip>,
        take: &Take,
        relations_file: &RelationsFile,
        raw: &str,
        relations: std::result::Result<Loose<TakeJson<'_>>, serde_json::Error>,
        csv: &mut CsvText,
    ) -> SceneData {
        unless_held(
            skip.map(|skip| (skip, self.read_stamp(take, relations_file, raw))),
            &Scene::make_id(SourceKind::EgoExo4d, &take.name),
            || self.take(take, relations_file, raw, relations, csv),
        )
    }

    #[allow(clippy::too_many_lines)]
    fn take(
        &self,
        take: &Take,
        relations_file: &RelationsFile,
        raw: &str,
        relations: std::result::Result<Loose<TakeJson<'_>>, serde_json::Error>,
        csv: &mut CsvText,
    ) -> SceneData {
        let RelationsFile {
            split,
            path: rel_file,
            takes_hash,
        } = relations_file;
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
            .long_str(raw)
            .str(takes_hash);
        let file = self.root.join(&rel_file);
        let here = |rest: &str| format!("annotations.{}{rest}", take.uid);
        let relations = match relations {
            Ok(Loose::Good(t)) => Some(t),
            Ok(Loose::Bad) => {
                p.push(&file, here(""), ErrorClass::InvalidValue, "not an object");
                None
            }
            Err(e) => {
                p.push(&file, here(""), ErrorClass::Malformed, e.to_string());
                None
            }
        };
        let (object_masks, object_names) = relations
            .map(|t| (t.object_masks.and_then(Loose::good), t.object_names))
            .unwrap_or_default();
        // Room for every stored mask: growing the records one push at a time copied them
        // over and over.
        let stored_masks: usize = object_masks
            .iter()
            .flatten()
            .filter_map(|(_, per_cam)| per_cam.as_good())
            .flatten()
            .filter_map(|(_, c)| c.as_good()?.annotation.as_ref()?.as_good().map(|a| a.len()))
            .sum();
        data.observations.reserve(stored_masks);
        // Masks first: they tell the ego image size when the calibration does not.
        let mut frames_of: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        let mut lz = LzDecoder::default();
        let mut ego_size = None;
        for (object, per_cam) in object_masks.into_iter().flatten() {
            // Category: the object name without its trailing `_<n>`.
            let category = object
                .rsplit_once('_')
                .filter(|(_, n)| n.parse::<u32>().is_ok())
                .map_or(&*object, |(c, _)| c);
            for (key, c) in per_cam.good().into_iter().flatten() {
                // `aria01_214-1` is aria01's RGB stream; bare keys are exo cameras.
                let cam = key.split_once('_').map_or(&*key, |(c, _)| c).to_string();
                let at = |rest: &str| here(&format!(".object_masks.{object}.{key}{rest}"));
                let Some(c) = c.good() else { continue };
                let mut annotated = c.annotated_frames.map(|n| n.0).unwrap_or_default();
                annotated.sort_unstable();
                annotated.dedup();
                // Frames with a stored entry, valid or not: only the others mean "not visible".
                let mut stored = Vec::new();
                // Frames of this camera seen here (a mask read, or marked not visible), added
                // to `frames_of` once, not per record.
                let mut seen = Vec::new();
                for (fstr, ann) in c.annotation.and_then(Loose::good).into_iter().flatten() {
                    // Places are formatted only for errors: most records have none.
                    let at = || at(&format!(".annotation.{fstr}"));
                    let Ok(frame) = fstr.parse::<u32>() else {
                        p.push(
                            &file,
                            at(),
                            ErrorClass::InvalidValue,
                            "frame key is not a frame number",
                        );
                        continue;
                    };
                    stored.push(frame);
                    let ann = ann.good().unwrap_or_default();
                    let dims = (ann.height.and_then(|n| n.0), ann.width.and_then(|n| n.0));
                    let (Some(h), Some(w)) = dims else {
                        p.push(
                            &file,
                            at(),
                            ErrorClass::InvalidValue,
                            "width and height must be integers",
                        );
                        continue;
                    };
                    let (Ok(h), Ok(w)) = (u32::try_from(h), u32::try_from(w)) else {
                        p.push(
                            &file,
                            at(),
                            ErrorClass::InvalidValue,
                            "mask size out of range",
                        );
                        continue;
                    };
                    let Some(enc) = ann.encoded_mask.and_then(|s| s.0) else {
                        p.push(
                            &file,
                            at(),
                            ErrorClass::InvalidValue,
                            "no encodedMask string",
                        );
                        continue;
                    };
                    let rle = match Rle::from_lz_encoded_with(&mut lz, &enc, h, w) {
                        Ok(r) => r,
                        Err(e) => {
                            p.push(&file, at(), ErrorClass::InvalidValue, e.to_string());
                            continue;
                        }
                    };
                    if take.ego.contains(&cam) {
                        ego_size = Some((w, h));
                    }
                    seen.push(frame);
                    data.observations.push(Observation {
                        scene_id: scene_id.clone(),
                        camera_id: cam.clone(),
                        frame_index: frame,
                        instance_id: object.to_string(),
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
                stored.sort_unstable();
                let not_visible = annotated
                    .iter()
                    .filter(|f| stored.binary_search(f).is_err());
                for &frame in not_visible {
                    seen.push(frame);
                    data.absences.push(Absence {
                        scene_id: scene_id.clone(),
                        camera_id: cam.clone(),
                        frame_index: frame,
                        instance_id: object.to_string(),
                    });
                }
                if !seen.is_empty() {
                    match frames_of.get_mut(cam.as_str()) {
                        Some(frames) => frames.extend(seen),
                        None => {
                            frames_of.insert(cam, seen.into_iter().collect());
                        }
                    }
                }
            }
        }
        data.sort_observations();
        data.absences.sort();
        check_ego_boxes(&object_names, take, &data, &file, &here, &mut p);

        // Cameras; `reported` holds those whose calibration failure is already an error.
        let mut known = BTreeSet::new();
        let mut reported = BTreeSet::new();
        let errors_before = p.len();
        let gopros = self.gopros(take, &mut p, &mut fp, csv);
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

impl<'a> TakeJson<'a> {
    /// A take's relations entry in [`Cursor`]'s subset of JSON, as serde_json reads it into
    /// a `Loose<TakeJson>`; `None` leaves the text to serde_json.
    fn read_subset(text: &'a str) -> Option<Loose<Self>> {
        read_whole(text, Self::read_from)
    }

    /// The take entry at the cursor (the object alone).
    fn read_from(c: &mut Cursor<'a>) -> Option<Loose<Self>> {
        let (mut object_masks, mut object_names) = (None, None);
        c.object(|key, c| match key {
            "object_masks" => set_once(
                &mut object_masks,
                c.nullable(|c| loose(c, |c| entries(c, object_masks_subset))),
            ),
            "object_names" => set_once(&mut object_names, c.nullable(EgoBoxes::read_from)),
            _ => c.skip(),
        })?;
        Some(Loose::Good(TakeJson {
            object_masks: object_masks.flatten(),
            object_names: object_names.flatten().unwrap_or_default(),
        }))
    }
}

/// An object read by `read` as [`Loose`] reads one; any other value is `Loose::Bad`.
fn loose<'a, T>(
    c: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<Loose<T>> {
    if c.peek_value()? == b'{' {
        read(c).map(Loose::Good)
    } else {
        c.skip_any().map(|()| Loose::Bad)
    }
}

/// An object's members as [`Entries`] (a repeated key keeps its last value).
fn entries<'a, T>(
    c: &mut Cursor<'a>,
    mut value: impl FnMut(&mut Cursor<'a>) -> Option<T>,
) -> Option<Entries<'a, T>> {
    let mut members = Vec::new();
    c.object(|key, c| {
        members.push((Cow::Borrowed(key), value(c)?));
        Some(())
    })?;
    Some(Entries::from_members(members))
}

/// One object's masks by camera ([`ObjectMasksJson`]).
fn object_masks_subset<'a>(c: &mut Cursor<'a>) -> Option<ObjectMasksJson<'a>> {
    loose(c, |c| entries(c, |c| loose(c, camera_masks_subset)))
}

/// One object's masks in one camera ([`CameraMasksJson`]).
fn camera_masks_subset<'a>(c: &mut Cursor<'a>) -> Option<CameraMasksJson<'a>> {
    let (mut annotation, mut annotated_frames) = (None, None);
    c.object(|key, c| match key {
        "annotation" => set_once(
            &mut annotation,
            c.nullable(|c| loose(c, |c| entries(c, |c| loose(c, mask_subset)))),
        ),
        "annotated_frames" => set_once(&mut annotated_frames, c.nullable(naturals_subset)),
        _ => c.skip(),
    })?;
    Some(CameraMasksJson {
        annotation: annotation.flatten(),
        annotated_frames: annotated_frames.flatten(),
    })
}

/// One stored mask ([`MaskJson`]).
fn mask_subset<'a>(c: &mut Cursor<'a>) -> Option<MaskJson<'a>> {
    let (mut width, mut height, mut encoded_mask) = (None, None, None);
    c.object(|key, c| match key {
        "width" => set_once(&mut width, c.nullable(|c| c.any_unsigned().map(Unsigned))),
        "height" => set_once(&mut height, c.nullable(|c| c.any_unsigned().map(Unsigned))),
        "encodedMask" => set_once(
            &mut encoded_mask,
            c.nullable(|c| Some(LooseStr(c.any_str()?.map(Cow::Borrowed)))),
        ),
        _ => c.skip(),
    })?;
    Some(MaskJson {
        width: width.flatten(),
        height: height.flatten(),
        encoded_mask: encoded_mask.flatten(),
    })
}

/// A list's members that are integers fitting a `u32` ([`Naturals`]); any other value
/// reads as none.
fn naturals_subset(c: &mut Cursor<'_>) -> Option<Naturals> {
    let mut out = Vec::new();
    if c.peek_value()? == b'[' {
        c.array(|c| {
            out.extend(c.any_unsigned()?.and_then(|n| u32::try_from(n).ok()));
            Some(())
        })?;
    } else {
        c.skip_any()?;
    }
    Some(Naturals(out))
}

/// Any value, as serde_json reads it into a [`Value`] (the cursor only finds its end).
/// The frames of `aria`'s entry in a camera-first pose file whose every frame is a 3x4
/// matrix, read in [`Cursor`]'s subset of JSON as serde_json reads the file whole and the
/// entry as a [`CameraFirstPosesJson`]; `None` leaves the file to that path. A file naming
/// `aria` twice is left to it too (serde_json keeps the last).
fn camera_first_poses_subset<'a>(text: &'a str, aria: &str) -> Option<Entries<'a, [[f64; 4]; 3]>> {
    let mut frames = None;
    read_whole(text, |c| {
        c.object(|camera, c| {
            if camera != aria {
                return c.skip();
            }
            let mut extrinsics = None;
            c.object(|key, c| match key {
                "camera_extrinsics" => {
                    let mut per_frame = Vec::new();
                    c.object(|frame, c| {
                        per_frame.push((Cow::Borrowed(frame), c.f64_rows::<3, 4>()?));
                        Some(())
                    })?;
                    // A repeated frame keeps its last matrix, as serde's entries do.
                    set_once(&mut extrinsics, Some(Entries::from_members(per_frame)))
                }
                _ => c.skip(),
            })?;
            set_once(&mut frames, extrinsics)
        })
    })?;
    frames
}

/// Checks the one ego box per object track (`object_names`: xywh in the ego video's
/// `original_width` x `original_height` pixels at `frameNumber`) against the take's ego masks.
/// The observation keeps its mask's tight box, so ego and exo boxes mean the same thing; the
/// annotated box is a cross-check: a box outside its image or one for an unknown object is an
/// error, one at a frame where the object is marked not visible contradicts the masks, and one
/// that disagrees with the mask at its frame is suspicious (said as such when reading it as xyxy
/// would fit: formats/README.md trap 3).
fn check_ego_boxes(
    names: &EgoBoxes,
    take: &Take,
    data: &SceneData,
    file: &Path,
    here: &dyn Fn(&str) -> String,
    p: &mut Problems,
) {
    let entries = match names {
        EgoBoxes::List(a) => a,
        EgoBoxes::Absent => return,
        EgoBoxes::NotAList => {
            p.push(
                file,
                here(".object_names.annotation"),
                ErrorClass::InvalidValue,
                "not a list of boxes",
            );
            return;
        }
    };
    let objects: std::collections::HashSet<&str> = data
        .observations
        .iter()
        .map(|o| o.instance_id.as_str())
        .chain(data.absences.iter().map(|a| a.instance_id.as_str()))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        let at = here(&format!(".object_names.annotation.{i}"));
        let Some(track) = e.track_id.as_deref() else {
            p.push(file, at, ErrorClass::InvalidValue, "no track_id string");
            continue;
        };
        let num = |v: Option<f64>| v.filter(|v| v.is_finite());
        let (Some(x), Some(y), Some(w), Some(h)) =
            (num(e.x), num(e.y), num(e.width), num(e.height))
        else {
            p.push(
                file,
                at,
                ErrorClass::InvalidValue,
                "x, y, width and height must be finite numbers",
            );
            continue;
        };
        let Some(frame) = e.frame_number.and_then(|f| u32::try_from(f).ok()) else {
            p.push(
                file,
                at,
                ErrorClass::InvalidValue,
                "frameNumber must be a non-negative integer",
            );
            continue;
        };
        let ego_box = match BoxXyxy::from_xywh(x, y, w, h) {
            Ok(b) => b,
            Err(err) => {
                p.push(file, at, ErrorClass::InvalidValue, err.to_string());
                continue;
            }
        };
        let size = |v: Option<u64>| v.filter(|&v| v > 0);
        let original = size(e.original_width).zip(size(e.original_height));
        if let Some((ow, oh)) = original {
            let image = BoxXyxy::try_new(0.0, 0.0, ow as f32, oh as f32);
            if image.is_ok_and(|img| !img.contains(&ego_box, 0.5)) {
                p.push(
                    file,
                    at,
                    ErrorClass::InvalidValue,
                    format!("box [{x}, {y}, {w}, {h}] (xywh) lies outside the {ow}x{oh} image"),
                );
                continue;
            }
        }
        if !objects.contains(track) {
            p.push(
                file,
                at,
                ErrorClass::Inconsistent,
                format!("ego box for {track}, which has no masks"),
            );
            continue;
        }
        for cam in &take.ego {
            let marked_absent = data.absences.iter().any(|a| {
                (&a.camera_id, a.frame_index, a.instance_id.as_str()) == (cam, frame, track)
            });
            if marked_absent {
                p.push(
                    file,
                    at.clone(),
                    ErrorClass::Inconsistent,
                    format!(
                        "ego box at frame {frame}, where {track} is marked not visible in {cam}"
                    ),
                );
                continue;
            }
            let Some(mask) = data
                .observations
                .iter()
                .find(|o| {
                    (&o.camera_id, o.frame_index, o.instance_id.as_str()) == (cam, frame, track)
                })
                .and_then(|o| o.mask.as_ref())
            else {
                continue; // no mask at the box's frame: nothing to compare with
            };
            // The box is in the original video's pixels; the mask may be stored at another size.
            let [mh, mw] = mask.rle.size();
            let (sx, sy) = original.map_or((1.0, 1.0), |(ow, oh)| {
                (f64::from(mw) / ow as f64, f64::from(mh) / oh as f64)
            });
            let scaled = |x1: f64, y1: f64, x2: f64, y2: f64| {
                BoxXyxy::try_new(
                    (x1 * sx) as f32,
                    (y1 * sy) as f32,
                    (x2 * sx) as f32,
                    (y2 * sy) as f32,
                )
            };
            let iou = |b: Option<BoxXyxy>| match (b, mask.rle.bbox()) {
                (Some(b), Some(m)) => b.iou(&m),
                _ => 0.0,
            };
            let as_xywh = iou(scaled(x, y, x + w, y + h).ok());
            if as_xywh >= EGO_BOX_MIN_IOU {
                continue;
            }
            let as_xyxy = iou(scaled(x, y, w, h).ok());
            let reason = if as_xyxy >= EGO_BOX_MIN_IOU {
                format!(
                    "ego box of {track} at frame {frame} fits its mask in {cam} only when read as \
                     xyxy (IoU {as_xyxy:.2}, as the documented xywh {as_xywh:.2})"
                )
            } else {
                format!(
                    "ego box of {track} at frame {frame} disagrees with its mask in {cam} \
                     (IoU {as_xywh:.2})"
                )
            };
            p.push(file, at.clone(), ErrorClass::Suspicious, reason);
        }
    }
}

impl SourceReader for EgoExo4dReader {
    fn kind(&self) -> SourceKind {
        SourceKind::EgoExo4d
    }

    fn root(&self) -> &Path {
        &self.root
    }

    /// Takes are known by their read stamp before their own files are read (see
    /// `read_stamp`): the relations files are streamed whole all the same, as every take's
    /// masks are in them.
    fn read_with(
        &self,
        skip: Option<&dyn SceneSkip>,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
    ) -> Result<Vec<InputError>> {
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
        let mut csv = CsvText::new();
        for file in files {
            let relations_file = RelationsFile {
                split: file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.strip_prefix("relations_"))
                    .unwrap_or_default()
                    .to_string(),
                path: file.clone(),
                takes_hash: takes_hash.clone(),
            };
            let f = match File::open(&file) {
                Ok(f) => f,
                Err(e) => {
                    tree.push(&file, "", ErrorClass::MissingFile, e.to_string());
                    continue;
                }
            };
            let mut unknown = Vec::new();
            // A take is read whole from where it starts when the subset reader can (sparing
            // the stream its scan for the take's end), else as a piece.
            let end = stream_entry_values(f, "annotations", &[], &mut |uid, value, _| {
                let Some(take) = takes.get(uid) else {
                    // Offered as a piece once declined from its start: noted once.
                    if let Element::Piece(_) = value {
                        unknown.push(uid.to_string());
                    }
                    return Ok(None);
                };
                match value {
                    Element::Start(rest) => {
                        // Read whole and UTF-8, or left to the stream to find and report.
                        let Some((parsed, text)) = read_from_start(rest, TakeJson::read_from)
                        else {
                            return Ok(None);
                        };
                        let data = self.take_unless_held(
                            skip,
                            take,
                            &relations_file,
                            text,
                            Ok(parsed),
                            &mut csv,
                        );
                        visit(data)?;
                        Ok(Some(text.len()))
                    }
                    Element::Piece(piece) => {
                        match piece.parse_with_subset(TakeJson::read_subset) {
                            // Not JSON: the stream stops at it and reports where.
                            Err(PieceError::Broken) => {}
                            Ok(parsed) => visit(self.take_unless_held(
                                skip,
                                take,
                                &relations_file,
                                piece.text(),
                                Ok(parsed),
                                &mut csv,
                            ))?,
                            Err(PieceError::Data(e)) => visit(self.take_unless_held(
                                skip,
                                take,
                                &relations_file,
                                piece.text(),
                                Err(e),
                                &mut csv,
                            ))?,
                        }
                        Ok(None)
                    }
                }
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A take named and uid'd `name` under `takes/<name>`, without videos, whose ego camera
    /// is `aria01` when `ego`.
    fn test_take(name: &str, ego: bool) -> Take {
        Take {
            uid: name.into(),
            name: name.into(),
            root_dir: format!("takes/{name}"),
            videos: BTreeMap::new(),
            ego: if ego {
                BTreeSet::from(["aria01".to_string()])
            } else {
                BTreeSet::new()
            },
        }
    }

    /// A take whose ego camera `aria01` sees `cup_0` at frame 0 as the 40x40 square at
    /// (20, 20) of a 100x100 image, and has it marked not visible at frame 30.
    fn take_and_data() -> (Take, SceneData) {
        let take = test_take("t", true);
        let square = BoxXyxy::try_new(20.0, 20.0, 60.0, 60.0).unwrap();
        let rle = Rle::from_box(&square, 100, 100).unwrap();
        let data = SceneData {
            observations: vec![Observation {
                scene_id: "s".into(),
                camera_id: "aria01".into(),
                frame_index: 0,
                instance_id: "cup_0".into(),
                category: "cup".into(),
                subcategory: None,
                bbox: rle.bbox(),
                mask: Some(ObservedMask {
                    rle,
                    source: MaskSource::annotated(),
                }),
                keypoints: Vec::new(),
                world_position: None,
                world_extent: None,
            }],
            absences: vec![Absence {
                scene_id: "s".into(),
                camera_id: "aria01".into(),
                frame_index: 30,
                instance_id: "cup_0".into(),
            }],
            ..SceneData::default()
        };
        (take, data)
    }

    #[test]
    fn poses_read_alike_in_either_layout_and_a_bad_frame_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let take = test_take("u", true);
        let matrix = |x: f64| json!([[1, 0, 0, x], [0, 1, 0, 2.5], [0, 0, 1, -1]]);
        let poses_dir = dir.path().join("annotations/ego_pose/train/camera_pose");
        std::fs::create_dir_all(&poses_dir).unwrap();
        let reader = EgoExo4dReader::new(dir.path(), SourceOptions::default());
        let read = |doc: Value| {
            std::fs::write(poses_dir.join("u.json"), doc.to_string()).unwrap();
            let mut p = Problems::new(SourceKind::EgoExo4d, dir.path(), None);
            let mut fp = ContentHasher::new("test");
            let poses = reader.ego_poses(&take, "train", "aria01", &mut p, &mut fp);
            let errors: Vec<String> = p.into_vec().into_iter().map(|e| e.location).collect();
            (poses, errors)
        };
        // Camera-first (the typed pass), with an exo camera holding one matrix.
        let (typed, errors) = read(json!({
            "aria01": {"camera_extrinsics": {"0": matrix(0.5), "30": matrix(1.5)}},
            "cam01": {"camera_extrinsics": matrix(9.0)},
            "metadata": {"take_uid": "u"},
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(typed.keys().copied().collect::<Vec<_>>(), [0, 30]);
        assert_eq!(typed[&30].translation, DVec3::new(1.5, 2.5, -1.0));
        // The documented frame-first layout gives the same poses.
        let (frame_first, errors) = read(json!({
            "0": {"aria01": {"camera_extrinsics": matrix(0.5)}, "metadata": {}},
            "30": {"aria01": {"camera_extrinsics": matrix(1.5)}},
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(frame_first, typed);
        // A bad frame in camera-first: the others load, the bad one is its own error.
        let (partial, errors) = read(json!({
            "aria01": {"camera_extrinsics": {
                "0": matrix(0.5), "15": [[1, 0, 0]], "30": matrix(1.5), "x": matrix(2.0),
            }},
        }));
        assert_eq!(partial, typed);
        assert_eq!(
            errors,
            ["aria01.camera_extrinsics.15", "aria01.camera_extrinsics.x"]
        );
    }

    #[test]
    fn calibration_rows_are_checked_one_by_one_with_a_parser_shared_across_takes() {
        let dir = tempfile::tempdir().unwrap();
        let header = "cam_uid,tx_world_cam,ty_world_cam,tz_world_cam,qx_world_cam,qy_world_cam,\
                      qz_world_cam,qw_world_cam,image_width,image_height,intrinsics_type,\
                      intrinsics_0,intrinsics_1,intrinsics_2,intrinsics_3,intrinsics_4,\
                      intrinsics_5,intrinsics_6,intrinsics_7";
        let row =
            |id: &str| format!("{id},1,2,3,0,0,0,1,320,180,KANNALABRANDTK3,150,150,160,90,0,0,0,0");
        let takes = [test_take("a", false), test_take("b", false)];
        // Take a: one row short of a field between two good rows; take b: one good row, its
        // header read afresh by the same parser.
        let texts = [
            format!("{header}\n{}\ncam02,1,2\n{}\n", row("cam01"), row("cam03")),
            format!("{header}\n{}\n", row("gp01")),
        ];
        for (take, text) in takes.iter().zip(&texts) {
            let traj = dir.path().join(&take.root_dir).join("trajectory");
            std::fs::create_dir_all(&traj).unwrap();
            std::fs::write(traj.join("gopro_calibs.csv"), text).unwrap();
        }
        let reader = EgoExo4dReader::new(dir.path(), SourceOptions::default());
        let mut csv = CsvText::new();
        let mut got = Vec::new();
        let mut p = Problems::new(SourceKind::EgoExo4d, dir.path(), None);
        for take in &takes {
            let mut fp = ContentHasher::new("test");
            let cams = reader.gopros(take, &mut p, &mut fp, &mut csv);
            got.push(cams.into_iter().map(|(id, _, _)| id).collect::<Vec<_>>());
        }
        assert_eq!(got, [vec!["cam01", "cam03"], vec!["gp01"]]);
        let errors = p.into_vec();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].class, ErrorClass::Malformed);
        assert_eq!(errors[0].location, "line 3");
        assert!(
            errors[0]
                .reason
                .contains("3 fields where the header has 19"),
            "{errors:?}"
        );
    }

    /// The (class, reason) of each problem the ego boxes `annotation` give.
    fn problems(annotation: Value) -> Vec<(ErrorClass, String)> {
        let (take, data) = take_and_data();
        let mut p = Problems::new(SourceKind::EgoExo4d, Path::new("/r"), None);
        let names = json!({ "annotation": annotation });
        let file = Path::new("/r/annotations/relations_train.json");
        check_ego_boxes(
            &EgoBoxes::from_value(&names),
            &take,
            &data,
            file,
            &|r: &str| format!("annotations.t{r}"),
            &mut p,
        );
        p.into_vec()
            .into_iter()
            .map(|e| (e.class, e.reason))
            .collect()
    }

    fn ego_box(track: &str, frame: i64, xywh: [f64; 4], original: u32) -> Value {
        json!({"x": xywh[0], "y": xywh[1], "width": xywh[2], "height": xywh[3], "rotation": 0,
               "original_width": original, "original_height": original, "frameNumber": frame,
               "track_id": track})
    }

    #[test]
    fn a_box_that_matches_its_mask_is_quiet_at_any_original_size() {
        assert!(problems(json!([ego_box("cup_0", 0, [20.0, 20.0, 40.0, 40.0], 100)])).is_empty());
        // Twice the mask's resolution: scaled down before the comparison.
        assert!(problems(json!([ego_box("cup_0", 0, [40.0, 40.0, 80.0, 80.0], 200)])).is_empty());
        // A frame without a mask record has nothing to compare with.
        assert!(problems(json!([ego_box("cup_0", 15, [0.0, 0.0, 5.0, 5.0], 100)])).is_empty());
        // No object_names at all is fine.
        let (take, data) = take_and_data();
        let mut p = Problems::new(SourceKind::EgoExo4d, Path::new("/r"), None);
        check_ego_boxes(
            &EgoBoxes::Absent,
            &take,
            &data,
            Path::new("/r/x.json"),
            &|r: &str| r.to_string(),
            &mut p,
        );
        assert!(p.into_vec().is_empty());
    }

    #[test]
    fn a_box_written_as_xyxy_is_named_as_such() {
        let got = problems(json!([ego_box("cup_0", 0, [20.0, 20.0, 60.0, 60.0], 100)]));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, ErrorClass::Suspicious);
        assert!(got[0].1.contains("only when read as xyxy"), "{}", got[0].1);
    }

    #[test]
    fn a_box_elsewhere_is_suspicious_and_contradictions_are_errors() {
        let got = problems(json!([
            ego_box("cup_0", 0, [70.0, 70.0, 10.0, 10.0], 100),
            ego_box("cup_0", 30, [20.0, 20.0, 40.0, 40.0], 100),
            ego_box("cup_9", 0, [20.0, 20.0, 40.0, 40.0], 100),
        ]));
        let classes: Vec<ErrorClass> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            classes,
            [
                ErrorClass::Suspicious,
                ErrorClass::Inconsistent,
                ErrorClass::Inconsistent
            ],
            "{got:?}"
        );
        assert!(got[0].1.contains("disagrees") && got[0].1.contains("IoU 0.00"));
        assert!(got[1].1.contains("marked not visible"));
        assert!(got[2].1.contains("cup_9, which has no masks"));
    }

    #[test]
    fn malformed_boxes_are_invalid_values_one_by_one() {
        let mut missing_x = ego_box("cup_0", 0, [20.0, 20.0, 40.0, 40.0], 100);
        missing_x.as_object_mut().unwrap().remove("x");
        let mut no_track = ego_box("cup_0", 0, [20.0, 20.0, 40.0, 40.0], 100);
        no_track["track_id"] = json!(3);
        let got = problems(json!([
            missing_x,
            no_track,
            ego_box("cup_0", -1, [20.0, 20.0, 40.0, 40.0], 100),
            ego_box("cup_0", 0, [20.0, 20.0, -4.0, 40.0], 100),
            ego_box("cup_0", 0, [90.0, 90.0, 20.0, 20.0], 100),
            ego_box("cup_0", 0, [20.0, 20.0, 40.0, 40.0], 100),
        ]));
        let reasons: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
        assert!(
            got.iter().all(|g| g.0 == ErrorClass::InvalidValue),
            "{got:?}"
        );
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert!(reasons[0].contains("finite numbers"));
        assert!(reasons[1].contains("track_id"));
        assert!(reasons[2].contains("frameNumber"));
        assert!(reasons[3].contains("negative size"));
        assert!(reasons[4].contains("outside the 100x100 image"));
        assert_eq!(
            problems(json!({"x": 1})),
            [(ErrorClass::InvalidValue, "not a list of boxes".to_string())]
        );
    }
}

#[cfg(test)]
mod subset_tests {
    use super::*;
    use proptest::prelude::*;

    /// What the serde path reads of a camera-first file's `aria01` frames, when they are
    /// all 3x4 matrices.
    fn by_serde(text: &str) -> Option<Entries<'_, [[f64; 4]; 3]>> {
        let top: Entries<'_, &RawValue> = serde_json::from_str(text).ok()?;
        let entry = top.get("aria01")?;
        Some(
            serde_json::from_str::<CameraFirstPosesJson>(entry.get())
                .ok()?
                .camera_extrinsics,
        )
    }

    fn number() -> impl Strategy<Value = String> {
        // Mostly numbers that read, so that many matrices are whole.
        prop_oneof![
            60 => (-1.0f64..1.0).prop_map(|x| format!("{x:.10}")),
            20 => (-5i64..5).prop_map(|n| n.to_string()),
            2 => Just("1e-3".to_string()),
            2 => Just("-0".to_string()),
            1 => Just("1e999".to_string()),
            1 => Just("null".to_string()),
        ]
    }

    /// A frame: mostly a 3x4 matrix, sometimes a 3x3 one or not a matrix.
    fn frame() -> impl Strategy<Value = String> {
        let row = |n: usize| {
            prop::collection::vec(number(), n).prop_map(|r| format!("[{}]", r.join(",")))
        };
        prop_oneof![
            8 => prop::collection::vec(row(4), 3).prop_map(|m| format!("[{}]", m.join(", "))),
            1 => prop::collection::vec(row(3), 3).prop_map(|m| format!("[{}]", m.join(","))),
            1 => Just("{}".to_string()),
        ]
    }

    /// A camera's entry: frames keyed by number (some repeated, one escaped), and another
    /// member.
    fn camera() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            (0u32..4).prop_map(|f| f.to_string()),
            Just("\\u0031".to_string())
        ];
        prop::collection::vec((key, frame()), 0..5).prop_map(|fs| {
            let members: Vec<String> = fs.iter().map(|(k, m)| format!("\"{k}\": {m}")).collect();
            format!(
                "{{\"camera_extrinsics\": {{{}}}, \"other\": [1, \"x\"]}}",
                members.join(", ")
            )
        })
    }

    /// A whole file: `aria01` (maybe twice, maybe not at all) and another camera.
    fn file() -> impl Strategy<Value = String> {
        (camera(), camera(), 0usize..4).prop_map(|(a, b, shape)| match shape {
            0 => format!("{{\"aria01\": {a}, \"cam01\": {b}}}"),
            1 => format!("{{\"cam01\": {b}, \"aria01\": {a}}}"),
            2 => format!("{{\"aria01\": {a}, \"aria01\": {b}}}"),
            _ => format!("{{\"cam01\": {b}}}"),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn the_pose_subset_reads_what_serde_json_reads(text in file()) {
            if let Some(ours) = camera_first_poses_subset(&text, "aria01") {
                let theirs = by_serde(&text);
                prop_assert!(theirs.is_some(), "{}", text);
                // Debug shows every bit that matters (-0.0 apart from 0.0).
                prop_assert_eq!(format!("{ours:?}"), format!("{:?}", theirs.unwrap()), "{}", text);
            }
        }
    }

    /// Any value a lenient field may meet.
    fn odd_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_string()),
            Just("-0".to_string()),
            Just("-3".to_string()),
            Just("2.5".to_string()),
            Just("1e999".to_string()),
            Just("4294967296".to_string()),
            Just("123456789012345678901".to_string()),
            Just("\"s\"".to_string()),
            Just("\"e\\u0041\"".to_string()),
            Just("[1, [2], {\"a\": 3}]".to_string()),
            Just("{\"a\": [1e999]}".to_string()),
            Just("true".to_string()),
        ]
    }

    /// An object's brackets (its parts `"key": value` texts), and a list's.
    const OBJECT: (&str, &str) = ("{", "}");
    const LIST: (&str, &str) = ("[", "]");

    /// `parts` joined by commas between `brackets` `plain` times in `plain + 1`, else an
    /// odd value.
    fn joined_or_odd(
        plain: u32,
        parts: impl Strategy<Value = String> + 'static,
        len: std::ops::Range<usize>,
        (open, close): (&'static str, &'static str),
    ) -> BoxedStrategy<String> {
        prop_oneof![
            plain => prop::collection::vec(parts, len).prop_map(move |p| format!("{open}{}{close}", p.join(", "))),
            1 => odd_value(),
        ]
        .boxed()
    }

    /// A stored mask: mostly plain, each field sometimes odd, repeated or missing.
    fn mask() -> impl Strategy<Value = String> {
        let size = prop_oneof![4 => (0u32..400).prop_map(|n| n.to_string()), 1 => odd_value()];
        let encoded = prop_oneof![4 => "\"[A-Za-z0-9+-]{0,12}\"", 1 => odd_value()];
        let member = prop_oneof![
            size.clone().prop_map(|v| format!("\"width\": {v}")),
            size.prop_map(|v| format!("\"height\": {v}")),
            encoded.prop_map(|v| format!("\"encodedMask\": {v}")),
            odd_value().prop_map(|v| format!(
                "\"intSegClicks\": {{\"positive\": [{{\"x\": 1.5, \"y\": {v}}}]}}"
            )),
        ];
        joined_or_odd(8, member, 0..5, OBJECT)
    }

    /// One object's masks in one camera.
    fn camera_masks() -> impl Strategy<Value = String> {
        let frames = prop_oneof![
            6 => prop::collection::vec(prop_oneof![4 => (0u32..90).prop_map(|n| n.to_string()), 1 => odd_value()], 0..4)
                .prop_map(|f| format!("[{}]", f.join(","))),
            1 => odd_value(),
        ];
        let annotation = prop_oneof![
            6 => prop::collection::vec(((0u32..4), mask()), 0..4).prop_map(|m| {
                let members: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                format!("{{{}}}", members.join(", "))
            }),
            1 => odd_value(),
        ];
        let member = prop_oneof![
            annotation.prop_map(|v| format!("\"annotation\": {v}")),
            frames.prop_map(|v| format!("\"annotated_frames\": {v}")),
            Just("\"annotation_fps\": 1".to_string()),
        ];
        joined_or_odd(8, member, 0..4, OBJECT)
    }

    /// A take's `object_names`: ego boxes, each field sometimes odd, repeated or missing.
    fn ego_names() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            4 => (-50.0f64..500.0).prop_map(|x| format!("{:.1}", x)),
            2 => (0u32..500).prop_map(|n| n.to_string()),
            1 => odd_value(),
        ];
        let natural = prop_oneof![4 => (0u32..500).prop_map(|n| n.to_string()), 1 => odd_value()];
        let member = prop_oneof![
            prop_oneof![4 => "\"[a-z]{1,5}_[0-9]\"".boxed(), 1 => odd_value().boxed()]
                .prop_map(|v| format!("\"track_id\": {v}")),
            (
                prop_oneof![Just("x"), Just("y"), Just("width"), Just("height")],
                number
            )
                .prop_map(|(k, v)| format!("\"{k}\": {v}")),
            (
                prop_oneof![
                    Just("frameNumber"),
                    Just("original_width"),
                    Just("original_height")
                ],
                natural,
            )
                .prop_map(|(k, v)| format!("\"{k}\": {v}")),
            odd_value().prop_map(|v| format!("\"milo_type\": {v}")),
        ];
        let entry = joined_or_odd(8, member, 0..10, OBJECT);
        let annotation = joined_or_odd(6, entry, 0..4, LIST);
        let member = prop_oneof![
            4 => annotation.prop_map(|v| format!("\"annotation\": {v}")),
            1 => odd_value().prop_map(|v| format!("\"other\": {v}")),
        ];
        joined_or_odd(8, member, 0..3, OBJECT)
    }

    /// What the serde path makes of an `object_names` text, where serde_json parses it.
    fn ego_boxes_by_value(text: &str) -> Option<EgoBoxes> {
        let value: Value = serde_json::from_str(text).ok()?;
        Some(EgoBoxes::from_value(&value))
    }

    /// What the subset path makes of an `object_names` text, as a take's reader reads it.
    fn ego_boxes_by_subset(text: &str) -> Option<EgoBoxes> {
        read_whole(text, |c| c.nullable(EgoBoxes::read_from)).map(Option::unwrap_or_default)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn ego_boxes_read_by_the_subset_are_those_of_the_value(text in ego_names()) {
            if let Some(ours) = ego_boxes_by_subset(&text) {
                let theirs = ego_boxes_by_value(&text);
                prop_assert!(theirs.is_some(), "{}", text);
                // Debug shows every bit that matters (-0.0 apart from 0.0).
                prop_assert_eq!(format!("{ours:?}"), format!("{:?}", theirs.unwrap()), "{}", text);
            }
        }
    }

    #[test]
    fn plain_ego_boxes_are_read_by_the_subset() {
        let text = r#"{"annotation": [{"endInterpolation": true, "frameNumber": 0,
            "height": 11.0, "interpolated": false, "milo_type": "NONE", "original_height": 320,
            "original_width": 320, "rotation": 0, "track_id": "candle_0", "width": 9.0,
            "x": 254.5, "y": -0.0}, {"track_id": 7, "x": [1e300]}, 3]}"#;
        let ours = ego_boxes_by_subset(text).expect("in the subset");
        assert_eq!(
            format!("{ours:?}"),
            format!("{:?}", ego_boxes_by_value(text).unwrap())
        );
        let EgoBoxes::List(boxes) = ours else {
            panic!("a list: {ours:?}")
        };
        assert_eq!(boxes[0].track_id.as_deref(), Some("candle_0"));
        assert_eq!((boxes[0].x, boxes[0].frame_number), (Some(254.5), Some(0)));
        assert!(boxes[1].track_id.is_none() && boxes[2].x.is_none());
        // A number past f64's range anywhere fails serde_json's Value: not in the subset.
        assert!(ego_boxes_by_subset(r#"{"annotation": [], "other": [1e999]}"#).is_none());
        assert!(ego_boxes_by_value(r#"{"annotation": [], "other": [1e999]}"#).is_none());
        assert!(matches!(
            ego_boxes_by_subset("null"),
            Some(EgoBoxes::Absent)
        ));
        assert!(matches!(
            ego_boxes_by_subset(r#"{"annotation": {}}"#),
            Some(EgoBoxes::NotAList)
        ));
    }

    /// A `takes.json`: takes with ids, streams and capture cameras, each field sometimes odd,
    /// repeated or missing.
    fn takes_json() -> impl Strategy<Value = String> {
        let text = || prop_oneof![4 => "\"[a-z0-9/_-]{0,6}\"".boxed(), 1 => odd_value().boxed()];
        let stream_member = prop_oneof![
            text().prop_map(|v| format!("\"relative_path\": {v}")),
            prop_oneof![3 => Just("\"214-1\"".to_string()), 2 => Just("\"0\"".to_string()), 1 => odd_value()]
                .prop_map(|v| format!("\"stream_id\": {v}")),
            odd_value().prop_map(|v| format!("\"cam_id\": {v}")),
        ];
        let stream = joined_or_odd(6, stream_member, 0..4, OBJECT);
        let keyed = |keys: &'static [&'static str], value: BoxedStrategy<String>| {
            prop_oneof![
                6 => prop::collection::vec((prop::sample::select(keys), value), 0..3).prop_map(|m| {
                    let members: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                    format!("{{{}}}", members.join(", "))
                }),
                1 => odd_value(),
            ]
            .boxed()
        };
        let streams = keyed(&["0", "1", "aria01_214-1"], stream.boxed());
        let videos = keyed(&["cam01", "aria01", "gp02"], streams);
        let camera_member = prop_oneof![
            text().prop_map(|v| format!("\"cam_id\": {v}")),
            prop_oneof![2 => Just("true".to_string()), 1 => Just("false".to_string()), 1 => odd_value()]
                .prop_map(|v| format!("\"is_ego\": {v}")),
        ];
        let camera = joined_or_odd(6, camera_member, 0..3, OBJECT);
        let cameras = joined_or_odd(6, camera, 0..3, LIST);
        let capture = prop_oneof![
            6 => (cameras, odd_value()).prop_map(|(c, o)| format!("{{\"cameras\": {c}, \"name\": {o}}}")),
            1 => odd_value(),
        ];
        let member = prop_oneof![
            (
                prop::sample::select(&["take_uid", "take_name", "root_dir"][..]),
                text()
            )
                .prop_map(|(k, v)| format!("\"{k}\": {v}")),
            videos.prop_map(|v| format!("\"frame_aligned_videos\": {v}")),
            capture.prop_map(|v| format!("\"capture\": {v}")),
            odd_value().prop_map(|v| format!("\"duration_sec\": {v}")),
        ];
        let take = joined_or_odd(8, member, 0..7, OBJECT);
        joined_or_odd(8, take, 0..4, LIST)
    }

    /// What the serde path makes of a `takes.json` text, where serde_json parses it.
    fn takes_by_value(text: &str) -> Option<String> {
        let value: Value = serde_json::from_str(text).ok()?;
        let takes = value.as_array().into_iter().flatten();
        Some(format!(
            "{:?}",
            takes.map(TakeFields::from_value).collect::<Vec<_>>()
        ))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn takes_read_by_the_subset_are_those_of_the_value(text in takes_json()) {
            if let Some(ours) = read_whole(&text, TakeFields::list_from) {
                let theirs = takes_by_value(&text);
                prop_assert!(theirs.is_some(), "{}", text);
                prop_assert_eq!(format!("{ours:?}"), theirs.unwrap(), "{}", text);
            }
        }
    }

    #[test]
    fn a_plain_takes_file_is_read_by_the_subset() {
        let text = r#"[{"take_uid": "u1", "take_name": "iiith_cooking_01_1", "duration_sec": 1e3,
            "frame_aligned_videos": {"gp01": {"0": {"relative_path": "frame_aligned_videos/gp01.mp4",
            "stream_id": "0"}}, "aria01": {"rgb": {"relative_path": "a.mp4", "stream_id": "214-1"},
            "et": {"relative_path": "e.mp4", "stream_id": "211-1"}}},
            "capture": {"cameras": [{"cam_id": "aria01", "is_ego": true}, {"cam_id": "gp01",
            "is_ego": false}, 4]}}, {"take_name": "no_uid"}, 7]"#;
        let ours = read_whole(text, TakeFields::list_from).expect("in the subset");
        assert_eq!(format!("{ours:?}"), takes_by_value(text).unwrap());
        assert_eq!(ours.len(), 3);
        assert_eq!(ours[0].streams[0].0, "aria01");
        assert_eq!(
            ours[0].streams[0].1,
            [
                (Some("e.mp4"), Some("211-1")),
                (Some("a.mp4"), Some("214-1"))
            ]
        );
        assert_eq!(ours[0].ego_cameras, ["aria01"]);
        // A camera named twice: a `Value` keeps the last, so the serde path reads it.
        let twice = r#"[{"frame_aligned_videos": {"gp01": {}, "gp01": {"0": {}}}}]"#;
        assert!(read_whole(twice, TakeFields::list_from).is_none());
        assert!(takes_by_value(twice).is_some());
    }

    /// A take's relations entry.
    fn take_entry() -> impl Strategy<Value = String> {
        let cameras = prop::collection::vec(
            (
                prop_oneof![Just("cam01"), Just("aria01_214-1")],
                camera_masks(),
            ),
            0..3,
        )
        .prop_map(|c| {
            let members: Vec<String> = c.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{{}}}", members.join(", "))
        });
        let objects = prop::collection::vec(
            (
                prop_oneof![Just("apple_0"), Just("knife_1")],
                prop_oneof![8 => cameras, 1 => odd_value()],
            ),
            0..3,
        )
        .prop_map(|o| {
            let members: Vec<String> = o.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            format!("{{{}}}", members.join(", "))
        });
        let member = prop_oneof![
            4 => prop_oneof![6 => objects, 1 => odd_value()].prop_map(|v| format!("\"object_masks\": {v}")),
            1 => odd_value().prop_map(|v| format!("\"object_names\": {v}")),
            1 => ego_names().prop_map(|v| format!("\"object_names\": {v}")),
            1 => Just("\"object_names\": {\"annotation\": [{\"x\": 1.0, \"track_id\": \"apple_0\"}]}".to_string()),
            1 => Just("\"take_name\": \"iiith_bike_001_2\"".to_string()),
        ];
        prop::collection::vec(member, 0..4).prop_map(|m| format!("{{{}}}", m.join(", ")))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_take_subset_reads_what_serde_json_reads(text in take_entry()) {
            if let Some(ours) = TakeJson::read_subset(&text) {
                let theirs = serde_json::from_str::<Loose<TakeJson>>(&text)
                    .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
                prop_assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{}", text);
            }
        }
    }

    #[test]
    fn a_plain_camera_first_file_is_read_by_the_subset() {
        let text = r#"{"aria01": {"camera_extrinsics": {"1": [[1, 0, 0, 0.5], [0, 1, 0, -2e-1],
            [0, 0, 1, 3]], "0": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
            "1": [[1, 0, 0, 7], [0, 1, 0, 0], [0, 0, 1, 0]]}},
            "cam01": {"camera_extrinsics": {"0": "anything"}}}"#;
        let ours = camera_first_poses_subset(text, "aria01").expect("in the subset");
        assert_eq!(
            format!("{ours:?}"),
            format!("{:?}", by_serde(text).unwrap())
        );
        // Key order, and a repeated frame's last matrix.
        assert_eq!(
            ours.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>(),
            ["0", "1"]
        );
        assert_eq!(ours.get("1").map(|m| m[0][3]), Some(7.0));
        // Frame-first, or a frame that is not a matrix: the serde path's to read.
        assert!(camera_first_poses_subset(r#"{"0": {"aria01": {}}}"#, "aria01").is_none());
        assert!(
            camera_first_poses_subset(
                r#"{"aria01": {"camera_extrinsics": {"0": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}}"#,
                "aria01"
            )
            .is_none()
        );
    }
}
