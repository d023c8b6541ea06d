//! EgoHumans loader (formats/egohumans.md): one scene per `<NN_activity>/<NNN_activity>/`
//! sequence; cameras from the raw calibration (Aria `calib/<t>.txt`, COLMAP text model, tied
//! into the anchor Aria's world by `colmap_from_aria_transforms`); one [`Observation`] per
//! annotation of the benchmark COCO keypoint files (`person_keypoints_{exo,ego_rgb}.json`).
//!
//! The benchmark files index images by id across every sequence: they are streamed once,
//! each annotation's JSON set aside in a spill file and indexed by sequence, and a sequence
//! reads back only its own (memory holds the index, not the files).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::{DMat3, DMat4, DVec3};
use crossview_schemas::{
    BoxXyxy, Camera, CameraKind, CameraModel, ContentHasher, Distortion, ErrorClass, Frame,
    ImageRef, InputError, Keypoint, Observation, Rotation, Scene, SensorRotation, SourceKind,
    WorldToCamera,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::files::{DirStamps, image_size, sorted_entries, stamp_into, stamp_tree_into};
use super::json_stream::{Element, Piece, PieceError, StreamEnd, stream_array_elements};
use super::json_subset::{Cursor, parse_f64, read_from_start, read_whole, set_once};
use super::open_dir::OpenDir;
use super::{Problems, SceneData, SceneSkip, SourceOptions, SourceReader, unless_held};
use crate::error::Result;
use crate::spill::Spill;

/// The anchor wearer whose world every pose is expressed in (`CALIBRATION.ANCHOR_EGO_CAMERA`).
pub const ANCHOR: &str = "aria01";
/// Aria RGB image size when no image or benchmark entry tells it.
pub const DEFAULT_ARIA_SIZE: (u32, u32) = (1408, 1408);
/// The sequence frame rate is unconfirmed; timestamps assume this.
pub const ASSUMED_FPS: f64 = 20.0;

/// Reads an EgoHumans tree.
pub struct EgoHumansReader {
    root: PathBuf,
    opts: SourceOptions,
}

/// One benchmark annotation: its fields, parsed once (a bad annotation costs only itself),
/// and what its sequence's fingerprint takes of its JSON text.
#[derive(Debug)]
struct CocoAnn {
    file: std::sync::Arc<PathBuf>,
    index: usize,
    parsed: ParsedAnn,
    image_size: Option<(u32, u32)>,
}

/// A benchmark annotation as parsed while its file streams, set aside in the spill (bincode)
/// until its sequence is read: the JSON is parsed once, not again per sequence.
#[derive(Debug, Serialize, Deserialize)]
struct ParsedAnn {
    /// The JSON text's length and xxh3-128 digest, halves low first (see
    /// `ContentHasher::long_digest`).
    raw_len: u64,
    raw_digest: [u64; 2],
    fields: std::result::Result<AnnFields, String>,
}

/// The fields of an annotation as set aside: its keypoints already in their final form,
/// a third of the 51 numbers' size in the spill.
#[derive(Debug, Serialize, Deserialize)]
struct AnnFields {
    image_id: i64,
    camera_name: String,
    time_stamp: u64,
    human_name: String,
    bbox: [f64; 4],
    /// `None` unless the annotation has 17 x (x, y, v) finite numbers.
    #[serde(with = "keypoint_bytes")]
    keypoints: Option<Vec<Keypoint>>,
}

/// Keypoints in the spill as one run of bytes (x and y as little-endian f32, then v), not a
/// struct per point: bincode's per-field calls were most of an annotation's read-back.
mod keypoint_bytes {
    use crossview_schemas::Keypoint;
    use serde::{Deserializer, Serializer};

    const POINT_BYTES: usize = 9;

    pub(super) fn serialize<S: Serializer>(
        keypoints: &Option<Vec<Keypoint>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let Some(points) = keypoints else {
            return s.serialize_none();
        };
        // COCO's 17 points are written through the stack, not a vector of their own.
        let mut stack = [0u8; 17 * POINT_BYTES];
        let mut heap = Vec::new();
        let b: &mut [u8] = match stack.get_mut(..points.len() * POINT_BYTES) {
            Some(b) => b,
            None => {
                heap.resize(points.len() * POINT_BYTES, 0);
                &mut heap
            }
        };
        for (p, out) in points.iter().zip(b.chunks_exact_mut(POINT_BYTES)) {
            out[..4].copy_from_slice(&p.x.to_le_bytes());
            out[4..8].copy_from_slice(&p.y.to_le_bytes());
            out[8] = p.visibility;
        }
        s.serialize_some(&Bytes(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<Keypoint>>, D::Error> {
        let points: Option<Points> = serde::Deserialize::deserialize(d)?;
        Ok(points.map(|Points(p)| p))
    }

    /// Bytes serialized as bytes (a `Vec<u8>` would be a sequence of numbers).
    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    /// Keypoints read back from their bytes.
    struct Points(Vec<Keypoint>);

    impl<'de> serde::Deserialize<'de> for Points {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = Points;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("keypoints as 9 bytes each")
                }
                fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Points, E> {
                    if !b.len().is_multiple_of(POINT_BYTES) {
                        return Err(E::invalid_length(b.len(), &self));
                    }
                    Ok(Points(
                        b.chunks_exact(POINT_BYTES)
                            .map(|p| Keypoint {
                                x: f32::from_le_bytes([p[0], p[1], p[2], p[3]]),
                                y: f32::from_le_bytes([p[4], p[5], p[6], p[7]]),
                                visibility: p[8],
                            })
                            .collect(),
                    ))
                }
            }
            d.deserialize_bytes(Visitor)
        }
    }
}

impl From<CocoAnnFields> for AnnFields {
    fn from(a: CocoAnnFields) -> Self {
        let complete = a.keypoints.len() == 51 && a.keypoints.iter().all(|k| k.is_finite());
        AnnFields {
            image_id: a.image_id,
            camera_name: a.camera_name,
            time_stamp: a.time_stamp,
            human_name: a.human_name,
            bbox: a.bbox,
            keypoints: complete.then(|| {
                a.keypoints
                    .chunks_exact(3)
                    .map(|k| Keypoint {
                        x: k[0] as f32,
                        y: k[1] as f32,
                        visibility: k[2].clamp(0.0, 2.0) as u8,
                    })
                    .collect()
            }),
        }
    }
}

impl ParsedAnn {
    /// The annotation `piece` and its image id (`None` when it has no integer `image_id`);
    /// `None` when the piece is not JSON (the stream stops there).
    fn of(piece: &Piece<'_>) -> Option<(Self, Option<i64>)> {
        let raw = piece.text();
        let (fields, id) = match piece.parse_with_subset(CocoAnnFields::read_subset) {
            Ok(a) => {
                let id = a.image_id;
                (Ok(AnnFields::from(a)), Some(id))
            }
            Err(PieceError::Broken) => return None,
            Err(PieceError::Data(e)) => (
                Err(e.to_string()),
                serde_json::from_str::<CocoImageId>(raw)
                    .map(|a| a.image_id)
                    .ok(),
            ),
        };
        Some((ParsedAnn::new(raw.as_bytes(), fields), id))
    }

    /// An annotation of JSON text `raw` whose fields were read (or failed to).
    fn new(raw: &[u8], fields: std::result::Result<AnnFields, String>) -> Self {
        let digest = xxhash_rust::xxh3::xxh3_128(raw);
        ParsedAnn {
            raw_len: raw.len() as u64,
            raw_digest: [digest as u64, (digest >> 64) as u64],
            fields,
        }
    }
}

/// Adds what a sequence's records take of its annotations to a fingerprint: each one's JSON
/// digest, its place (its file where that differs from the one before's, and its index) and
/// its image's size, which the box check and the errors' locations use.
fn annotations_into(mut h: ContentHasher, anns: &[CocoAnn]) -> ContentHasher {
    let mut file_before: Option<&PathBuf> = None;
    for a in anns {
        let [lo, hi] = a.parsed.raw_digest;
        h = h.long_digest(a.parsed.raw_len, u128::from(lo) | (u128::from(hi) << 64));
        let new_file = file_before != Some(a.file.as_ref());
        h = h.u64(u64::from(new_file));
        if new_file {
            h = h.str(&a.file.to_string_lossy());
            file_before = Some(a.file.as_ref());
        }
        h = h.u64(a.index as u64);
        h = match a.image_size {
            Some((w, ih)) => h.u64(1).u64(u64::from(w)).u64(u64::from(ih)),
            None => h.u64(0),
        };
    }
    h
}

/// Where a benchmark annotation is: its file and index there, and its JSON in the spill.
#[derive(Debug)]
struct AnnRef {
    file: std::sync::Arc<PathBuf>,
    index: usize,
    at: (u64, u32),
    image_size: Option<(u32, u32)>,
}

/// The most bytes of set-aside annotations read back at once.
const SPILL_RUN: u64 = 8 << 20;

/// The benchmark annotations, set aside and indexed by sequence.
#[derive(Default)]
struct Benchmark {
    spill: Spill,
    by_sequence: BTreeMap<String, Vec<AnnRef>>,
}

impl Benchmark {
    /// A sequence's annotations, read back (see [`spill_failure`]).
    /// Annotations set aside one after another (a sequence's, in a benchmark file that
    /// groups them) are read back in one read of up to [`SPILL_RUN`] bytes.
    fn take(&mut self, native: &str) -> Result<Vec<CocoAnn>> {
        let refs = self.by_sequence.remove(native).unwrap_or_default();
        let mut out = Vec::with_capacity(refs.len());
        let mut i = 0;
        while i < refs.len() {
            let start = refs[i].at.0;
            let mut end = start + u64::from(refs[i].at.1);
            let mut j = i + 1;
            while let Some(next) = refs.get(j)
                && next.at.0 == end
                && end + u64::from(next.at.1) - start <= SPILL_RUN
            {
                end += u64::from(next.at.1);
                j += 1;
            }
            let run_len = u32::try_from(end - start)
                .map_err(|e| spill_failure(&self.spill, std::io::Error::other(e)))?;
            let bytes = self
                .spill
                .read((start, run_len))
                .map_err(|e| spill_failure(&self.spill, e))?;
            for r in &refs[i..j] {
                // Within the run by construction.
                let from = (r.at.0 - start) as usize;
                let parsed =
                    bincode::deserialize::<ParsedAnn>(&bytes[from..from + r.at.1 as usize])
                        .map_err(|e| spill_failure(&self.spill, std::io::Error::other(e)))?;
                out.push(CocoAnn {
                    file: r.file.clone(),
                    index: r.index,
                    parsed,
                    image_size: r.image_size,
                });
            }
            i = j;
        }
        Ok(out)
    }
}

/// A spill that cannot be written or read back is this machine's failure, not the tree's:
/// it stops the read.
fn spill_failure(spill: &Spill, e: std::io::Error) -> crate::Error {
    crate::Error::io(spill.path().unwrap_or(Path::new("<memory>")), e)
}

/// An annotation's image id, for an annotation whose other fields do not parse.
#[derive(Deserialize)]
struct CocoImageId {
    image_id: i64,
}

#[derive(Deserialize)]
struct CocoImage {
    id: i64,
    file_name: String,
    width: Option<u32>,
    height: Option<u32>,
}

impl CocoImage {
    /// An image entry in [`Cursor`]'s subset of JSON, as serde_json would parse it (see
    /// [`CocoAnnFields::read_subset`]).
    fn read_subset(text: &str) -> Option<Self> {
        read_whole(text, Self::read_from)
    }

    /// The image entry at the cursor (the object alone).
    fn read_from(c: &mut Cursor<'_>) -> Option<Self> {
        let (mut id, mut file_name, mut width, mut height) = (None, None, None, None);
        let size = |c: &mut Cursor<'_>| c.nullable(|c| u32::try_from(c.u64()?).ok());
        c.object(|key, c| match key {
            "id" => set_once(&mut id, c.i64()),
            "file_name" => set_once(&mut file_name, c.string()),
            "width" => set_once(&mut width, size(c)),
            "height" => set_once(&mut height, size(c)),
            _ => c.skip(),
        })?;
        Some(CocoImage {
            id: id?,
            file_name: file_name?.to_string(),
            width: width.flatten(),
            height: height.flatten(),
        })
    }
}

/// The fields of an annotation the loader uses, as parsed.
#[derive(Debug, Deserialize)]
struct CocoAnnFields {
    image_id: i64,
    camera_name: String,
    time_stamp: u64,
    human_name: String,
    bbox: [f64; 4],
    #[serde(deserialize_with = "keypoint_numbers")]
    keypoints: Vec<f64>,
}

impl CocoAnnFields {
    /// The fields of an annotation in the subset of JSON [`Cursor`] reads, as serde_json
    /// would parse them; `None` leaves the text to serde_json. Most of this loader's time
    /// went to serde_json's parse of annotations.
    fn read_subset(text: &str) -> Option<Self> {
        read_whole(text, Self::read_from)
    }

    /// The annotation at the cursor (the object alone).
    fn read_from(c: &mut Cursor<'_>) -> Option<Self> {
        let (mut image_id, mut camera_name, mut time_stamp) = (None, None, None);
        let (mut human_name, mut bbox, mut keypoints) = (None, None, None);
        c.object(|key, c| match key {
            "image_id" => set_once(&mut image_id, c.i64()),
            "camera_name" => set_once(&mut camera_name, c.string()),
            "time_stamp" => set_once(&mut time_stamp, c.u64()),
            "human_name" => set_once(&mut human_name, c.string()),
            "bbox" => {
                let (mut b, mut n) = ([0.0; 4], 0);
                c.f64_array(|x| {
                    if let Some(slot) = b.get_mut(n) {
                        *slot = x;
                    }
                    n += 1;
                })?;
                set_once(&mut bbox, (n == 4).then_some(b))
            }
            "keypoints" => {
                let mut k = Vec::with_capacity(51);
                c.f64_array(|x| k.push(x))?;
                set_once(&mut keypoints, Some(k))
            }
            _ => c.skip(),
        })?;
        Some(CocoAnnFields {
            image_id: image_id?,
            camera_name: camera_name?.to_string(),
            time_stamp: time_stamp?,
            human_name: human_name?.to_string(),
            bbox: bbox?,
            keypoints: keypoints?,
        })
    }
}

/// COCO's 17 keypoints as 51 numbers. Read into room for 51 at once: serde_json gives no
/// length up front, and growing the vector was a tenth of an annotation's parse.
fn keypoint_numbers<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<f64>, D::Error> {
    struct Numbers;
    impl<'de> serde::de::Visitor<'de> for Numbers {
        type Value = Vec<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of numbers")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Vec<f64>, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(51).min(4096));
            while let Some(x) = seq.next_element()? {
                v.push(x);
            }
            Ok(v)
        }
    }
    d.deserialize_seq(Numbers)
}

fn rigid_from(m: &DMat4) -> crossview_schemas::Result<WorldToCamera> {
    let a = DMat3::from_cols(
        m.x_axis.truncate(),
        m.y_axis.truncate(),
        m.z_axis.truncate(),
    );
    // A similarity (COLMAP's scale) times a rotation: divide the scale out of both parts.
    let scale = a.determinant().cbrt();
    let r = Rotation::from_col_major((a / scale).to_cols_array())?;
    WorldToCamera::new(r, m.w_axis.truncate() / scale)
}

fn mat4_rows(v: &Value) -> Option<DMat4> {
    let rows = v.as_array().filter(|r| r.len() == 4)?;
    let mut m = [[0.0; 4]; 4];
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_array().filter(|r| r.len() == 4)?;
        for (j, x) in row.iter().enumerate() {
            m[i][j] = x.as_f64().filter(|x| x.is_finite())?;
        }
    }
    Some(DMat4::from_cols_array_2d(&m).transpose())
}

/// The whitespace-separated numbers of a line, all finite, or `None`.
fn floats(line: &str) -> Option<Vec<f64>> {
    let number = |t: &str| parse_f64(t).filter(|x| x.is_finite());
    if !line.is_ascii() {
        return line.split_whitespace().map(number).collect();
    }
    // The same tokens as `split_whitespace` (whose ASCII whitespace includes the vertical
    // tab), found byte by byte: splitting by char was most of a calibration file's parse.
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(16);
    let mut i = 0;
    loop {
        while b.get(i).is_some_and(|&c| space(c)) {
            i += 1;
        }
        if i == b.len() {
            return Some(out);
        }
        let start = i;
        while b.get(i).is_some_and(|&c| !space(c)) {
            i += 1;
        }
        // ASCII: every byte is a character boundary.
        out.push(number(line.get(start..i)?)?);
    }
}

impl EgoHumansReader {
    /// A reader of the tree at `root`.
    pub fn new(root: &Path, opts: SourceOptions) -> Self {
        EgoHumansReader {
            root: root.to_path_buf(),
            opts,
        }
    }

    /// Streams the benchmark files into a [`Benchmark`]: each annotation set aside, indexed
    /// by sequence (`<big>/<seq>`).
    fn benchmark(&self, p: &mut Problems) -> Result<Benchmark> {
        let mut bench = Benchmark::default();
        let mut files = Vec::new();
        for dir in sorted_entries(&self.root.join("benchmark")) {
            for name in ["person_keypoints_exo.json", "person_keypoints_ego_rgb.json"] {
                let f = dir.join("all/coco").join(name);
                if f.is_file() {
                    files.push(f);
                }
            }
        }
        if files.is_empty() {
            p.push(
                &self.root.join("benchmark"),
                "",
                ErrorClass::MissingFile,
                "no benchmark/*/all/coco/person_keypoints_*.json",
            );
        }
        for f in files {
            let file = std::sync::Arc::new(f);
            let mut images: BTreeMap<i64, (String, Option<(u32, u32)>)> = BTreeMap::new();
            // (index, image id, where its JSON was set aside)
            let mut pending: Vec<(usize, Option<i64>, (u64, u32))> = Vec::new();
            let reader = match std::fs::File::open(file.as_ref()) {
                Ok(r) => r,
                Err(e) => {
                    p.push(&file, "", ErrorClass::Malformed, e.to_string());
                    continue;
                }
            };
            // An annotation's spill record, its buffer reused from one to the next.
            let mut record = Vec::new();
            // An error out of the handler is the spill's (this machine's), not the file's.
            // Elements are read from where they start when the subset reader takes them whole
            // (sparing the stream its scan for their end), else as pieces.
            let end = stream_array_elements(
                reader,
                &["images", "annotations"],
                &mut |key, index, element| {
                    let (image, annotation, taken) = match element {
                        // Read whole and UTF-8, or left to the stream to find and report.
                        Element::Start(rest) if key == "images" => {
                            match read_from_start(rest, CocoImage::read_from) {
                                Some((im, raw)) => (Some(im), None, Some(raw.len())),
                                None => return Ok(None),
                            }
                        }
                        Element::Start(rest) => {
                            match read_from_start(rest, CocoAnnFields::read_from) {
                                Some((fields, raw)) => {
                                    let id = fields.image_id;
                                    let parsed = ParsedAnn::new(raw.as_bytes(), Ok(fields.into()));
                                    (None, Some((parsed, Some(id))), Some(raw.len()))
                                }
                                None => return Ok(None),
                            }
                        }
                        Element::Piece(piece) if key == "images" => (
                            piece.parse_with_subset(CocoImage::read_subset).ok(),
                            None,
                            None,
                        ),
                        Element::Piece(piece) => (None, ParsedAnn::of(piece), None),
                    };
                    if let Some(im) = image {
                        images.insert(im.id, (im.file_name, im.width.zip(im.height)));
                    }
                    if let Some((parsed, id)) = annotation {
                        record.clear();
                        bincode::serialize_into(&mut record, &parsed)
                            .map_err(|e| spill_failure(&bench.spill, std::io::Error::other(e)))?;
                        let at = bench
                            .spill
                            .append(&record)
                            .map_err(|e| spill_failure(&bench.spill, e))?;
                        pending.push((index, id, at));
                    }
                    Ok(taken)
                },
            )?;
            match end {
                StreamEnd::Complete => {}
                StreamEnd::Malformed(e) => {
                    // The file is dropped whole, as a file that does not parse.
                    p.json_break(&file, &e);
                    continue;
                }
                StreamEnd::Missing { keys, .. } => {
                    p.push(
                        &file,
                        "",
                        ErrorClass::Malformed,
                        format!("missing keys {keys:?}"),
                    );
                    continue;
                }
            }
            for (index, id, at) in pending {
                let Some((name, size)) = id.and_then(|id| images.get(&id)) else {
                    p.push(
                        &file,
                        format!("annotations[{index}]"),
                        ErrorClass::Inconsistent,
                        "no image_id naming an image of the file",
                    );
                    continue;
                };
                // file_name is relative to data/: <big>/<seq>/{exo,ego}/...; the sequence
                // is what comes before the second slash.
                let sequence = name
                    .match_indices('/')
                    .nth(1)
                    .map(|(second_slash, _)| &name[..second_slash]);
                let Some(sequence) = sequence else {
                    p.push(
                        &file,
                        format!("annotations[{index}]"),
                        ErrorClass::InvalidValue,
                        format!("file_name {name:?} is not <big>/<seq>/..."),
                    );
                    continue;
                };
                let annotation = AnnRef {
                    file: file.clone(),
                    index,
                    at,
                    image_size: *size,
                };
                // A sequence's key is made once, at its first annotation.
                match bench.by_sequence.get_mut(sequence) {
                    Some(refs) => refs.push(annotation),
                    None => {
                        bench
                            .by_sequence
                            .insert(sequence.to_string(), vec![annotation]);
                    }
                }
            }
        }
        Ok(bench)
    }

    /// A sequence's read stamp (see [`SceneData::read_stamp`]): the stamps of every file of
    /// its folder, and where each of its benchmark annotations is, its JSON's digest and its
    /// image's size. Everything [`Self::sequence`] reads is among them.
    fn read_stamp(&self, dir: &Path, anns: &[CocoAnn]) -> String {
        let rel = dir.strip_prefix(&self.root).unwrap_or(dir);
        let files = stamp_tree_into(
            ContentHasher::new("crossview.egohumans.read"),
            &self.root,
            rel,
        );
        annotations_into(files, anns).finish_hex(16)
    }

    #[allow(clippy::too_many_lines)]
    fn sequence(&self, dir: &Path, native: &str, anns: Vec<CocoAnn>) -> SceneData {
        let scene_id = Scene::make_id(SourceKind::EgoHumans, native);
        let mut p = Problems::new(SourceKind::EgoHumans, &self.root, Some(scene_id.clone()));
        let big = native.split('/').next().unwrap_or_default();
        let mut data = SceneData {
            scene: Some(Scene {
                scene_id: scene_id.clone(),
                source: SourceKind::EgoHumans,
                // 03_fencing is the official test set.
                source_split: if big == "03_fencing" {
                    "test".into()
                } else {
                    "train".into()
                },
            }),
            ..SceneData::default()
        };
        let mut fp = ContentHasher::new("crossview.egohumans.sequence").str(native);
        let rel = |p: &Path| p.strip_prefix(&self.root).unwrap_or(p).to_path_buf();
        // A file read: its relative path and text go into the fingerprint and the file list.
        let note = |rel_path: PathBuf, text: &str, fp: &mut ContentHasher, data: &mut SceneData| {
            *fp = fp.clone().str(&rel_path.to_string_lossy()).long_str(text);
            data.files.push(rel_path);
        };
        let read = |path: &Path, fp: &mut ContentHasher, data: &mut SceneData| -> Option<String> {
            let text = std::fs::read_to_string(path).ok()?;
            note(rel(path), &text, fp, data);
            Some(text)
        };
        let ws = dir.join("colmap/workplace");
        // colmap_from_aria: Aria i's world -> COLMAP (the pickle, converted to JSON).
        let transforms_file = ws.join("colmap_from_aria_transforms.json");
        let mut transforms: BTreeMap<String, DMat4> = BTreeMap::new();
        match read(&transforms_file, &mut fp, &mut data).map(|t| serde_json::from_str::<Value>(&t)) {
            Some(Ok(v)) => {
                for (aria, m) in v.as_object().into_iter().flatten() {
                    match mat4_rows(m) {
                        Some(m) if m.determinant().abs() > 1e-12 => {
                            transforms.insert(aria.clone(), m);
                        }
                        _ => p.push(&transforms_file, aria.clone(), ErrorClass::InvalidValue, "not an invertible 4x4 matrix"),
                    }
                }
            }
            Some(Err(e)) => p.json(&transforms_file, &e),
            None if ws.join("colmap_from_aria_transforms.pkl").is_file() => p.push(
                &ws.join("colmap_from_aria_transforms.pkl"),
                "",
                ErrorClass::MissingFile,
                "only the pickled transforms exist; convert them once to colmap_from_aria_transforms.json ({aria: 4x4 rows})",
            ),
            None => p.push(&transforms_file, "", ErrorClass::MissingFile, "no colmap_from_aria transforms; cameras cannot share a world"),
        }
        let anchor = transforms.get(ANCHOR).copied();
        // Exo cameras: COLMAP cameras.txt + images.txt (world-to-camera in COLMAP's frame).
        let mut exo_models: BTreeMap<String, CameraModel> = BTreeMap::new();
        let cams_file = ws.join("cameras.txt");
        let mut intr: BTreeMap<String, (String, u32, u32, Vec<f64>)> = BTreeMap::new();
        match read(&cams_file, &mut fp, &mut data) {
            Some(text) => {
                for (n, line) in text.lines().enumerate() {
                    if line.starts_with('#') || line.trim().is_empty() {
                        continue;
                    }
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let parsed = (f.len() >= 5)
                        .then(|| {
                            Some((
                                f[1].to_string(),
                                f[2].parse::<u32>().ok()?,
                                f[3].parse::<u32>().ok()?,
                                floats(&f[4..].join(" "))?,
                            ))
                        })
                        .flatten();
                    match parsed {
                        Some(c) => {
                            intr.insert(f[0].to_string(), c);
                        }
                        None => p.push(
                            &cams_file,
                            format!("line {}", n + 1),
                            ErrorClass::Malformed,
                            "expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...",
                        ),
                    }
                }
            }
            None => p.push(
                &cams_file,
                "",
                ErrorClass::MissingFile,
                "no COLMAP cameras.txt; exo cameras are uncalibrated",
            ),
        }
        let imgs_file = ws.join("images.txt");
        if let Some(text) = read(&imgs_file, &mut fp, &mut data) {
            let lines: Vec<(usize, &str)> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.starts_with('#'))
                .collect();
            // Two lines per image: the pose line, then the 2D points line (may be empty).
            for &(n, line) in lines.iter().step_by(2) {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.is_empty() {
                    continue;
                }
                let at = format!("line {}", n + 1);
                let nums = (f.len() >= 10)
                    .then(|| floats(&f[1..8].join(" ")))
                    .flatten();
                let Some(q) = nums else {
                    p.push(
                        &imgs_file,
                        at,
                        ErrorClass::Malformed,
                        "expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME",
                    );
                    continue;
                };
                let cam = f[9].split('/').next().unwrap_or_default().to_string();
                if !cam.starts_with("cam") || exo_models.contains_key(&cam) {
                    continue; // Aria entries, or a later image of a static camera.
                }
                let Some((model_name, w, h, params)) = intr.get(f[8]) else {
                    p.push(
                        &imgs_file,
                        at,
                        ErrorClass::Inconsistent,
                        format!("CAMERA_ID {} is not in cameras.txt", f[8]),
                    );
                    continue;
                };
                let distortion = match (model_name.as_str(), params.len()) {
                    ("OPENCV_FISHEYE", 8) => Distortion::from_name("kannala_brandt", &params[4..8]),
                    ("PINHOLE", 4) => Ok(Distortion::Pinhole),
                    ("OPENCV", 8) => Distortion::from_name(
                        "radial_tangential",
                        &[params[4], params[5], params[6], params[7], 0.0],
                    ),
                    _ => {
                        p.push(
                            &cams_file,
                            format!("CAMERA_ID {}", f[8]),
                            ErrorClass::InvalidValue,
                            format!(
                                "unsupported model {model_name} with {} parameters",
                                params.len()
                            ),
                        );
                        continue;
                    }
                };
                let model = distortion.and_then(|d| {
                    CameraModel::new(
                        *w,
                        *h,
                        params[0],
                        params[1],
                        params[2],
                        params[3],
                        d,
                        SensorRotation::None,
                    )
                });
                let pose = Rotation::from_quat_wxyz(q[0], q[1], q[2], q[3]).map(|r| {
                    let m = r.matrix();
                    DMat4::from_cols(
                        m.x_axis.extend(0.0),
                        m.y_axis.extend(0.0),
                        m.z_axis.extend(0.0),
                        DVec3::new(q[4], q[5], q[6]).extend(1.0),
                    )
                });
                match (model, pose) {
                    (Ok(model), Ok(col_to_cam)) => {
                        // Anchor world -> COLMAP -> camera; a similarity, scale divided out.
                        let world_to_camera =
                            anchor.and_then(|a| match rigid_from(&(col_to_cam * a)) {
                                Ok(pose) => Some(pose),
                                Err(e) => {
                                    p.push(
                                        &imgs_file,
                                        at.clone(),
                                        ErrorClass::InvalidValue,
                                        e.to_string(),
                                    );
                                    None
                                }
                            });
                        exo_models.insert(cam.clone(), model.clone());
                        data.cameras.push(Camera {
                            scene_id: scene_id.clone(),
                            camera_id: cam,
                            kind: CameraKind::Exo,
                            model,
                            world_to_camera,
                        });
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        p.push(&imgs_file, at, ErrorClass::InvalidValue, e.to_string())
                    }
                }
            }
        } else {
            p.push(
                &imgs_file,
                "",
                ErrorClass::MissingFile,
                "no COLMAP images.txt; exo cameras have no pose",
            );
        }
        // Aria cameras: one calibration file per 1-based time stamp.
        let coco_size = |cam: &str| -> Option<(u32, u32)> {
            anns.iter()
                .find(|a| a.parsed.fields.as_ref().is_ok_and(|f| f.camera_name == cam))
                .and_then(|a| a.image_size)
        };
        let mut n_frames = 0usize;
        let mut ego_poses: BTreeMap<String, BTreeMap<u32, WorldToCamera>> = BTreeMap::new();
        for aria_dir in sorted_entries(&dir.join("ego"))
            .into_iter()
            .filter(|d| d.is_dir())
        {
            let aria = aria_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let calib_dir = OpenDir::new(&aria_dir.join("calib"));
            let calib_rel = rel(calib_dir.path());
            let calib_names: Vec<OsString> = (calib_dir.sorted_names().into_iter())
                .filter(|n| Path::new(n).extension().is_some_and(|e| e == "txt"))
                .collect();
            n_frames = n_frames.max(calib_names.len());
            let to_anchor = match (transforms.get(&aria), anchor) {
                (Some(c), Some(a)) => Some(c.inverse() * a),
                _ => {
                    p.push(
                        &transforms_file,
                        aria.clone(),
                        ErrorClass::Inconsistent,
                        format!(
                            "no colmap_from_aria transform for {aria}; its frames have no pose"
                        ),
                    );
                    None
                }
            };
            let mut model = None;
            let mut poses = BTreeMap::new();
            for name in &calib_names {
                // The file's path, made only for an error or a name that is not UTF-8.
                let f = || calib_dir.path().join(name);
                let Some(t) = Path::new(name)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse::<u32>().ok())
                    .filter(|t| *t >= 1)
                else {
                    p.push(
                        &f(),
                        "",
                        ErrorClass::Malformed,
                        "not a 1-based time stamp file name",
                    );
                    continue;
                };
                // One file of thousands: read by name in its held folder.
                let text = match name.to_str() {
                    Some(name) => calib_dir.read_to_string(name).ok().inspect(|text| {
                        note(calib_rel.join(name), text, &mut fp, &mut data);
                    }),
                    None => read(&f(), &mut fp, &mut data),
                };
                let Some(text) = text else {
                    p.push(&f(), "", ErrorClass::MissingFile, "unreadable");
                    continue;
                };
                // Lines 2-4 are read; seven must be there.
                let mut rest = text.lines();
                let lines: [&str; 4] = std::array::from_fn(|_| rest.next().unwrap_or_default());
                if rest.nth(2).is_none() || lines[1].trim() != aria {
                    p.push(
                        &f(),
                        "",
                        ErrorClass::Malformed,
                        format!("expected 7 lines for person {aria}"),
                    );
                    continue;
                }
                let (Some(k), Some(e)) = (
                    floats(lines[2]).filter(|v| v.len() == 15),
                    floats(lines[3]).filter(|v| v.len() == 12),
                ) else {
                    p.push(
                        &f(),
                        "lines 3-4",
                        ErrorClass::InvalidValue,
                        "expected 15 intrinsics and 12 extrinsics (finite numbers)",
                    );
                    continue;
                };
                if model.is_none() {
                    let size = image_size(&aria_dir.join("images/rgb").join(format!("{t:05}.jpg")))
                        .or_else(|| coco_size(&aria))
                        .unwrap_or(DEFAULT_ARIA_SIZE);
                    match Distortion::from_name("fisheye_rad_tan_thin_prism", &k[3..15]).and_then(
                        |d| {
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
                        },
                    ) {
                        Ok(m) => model = Some(m),
                        Err(err) => {
                            p.push(&f(), "line 3", ErrorClass::InvalidValue, err.to_string())
                        }
                    }
                }
                // Stored column by column: reshape(4, 3).T.
                let own = DMat4::from_cols(
                    DVec3::new(e[0], e[1], e[2]).extend(0.0),
                    DVec3::new(e[3], e[4], e[5]).extend(0.0),
                    DVec3::new(e[6], e[7], e[8]).extend(0.0),
                    DVec3::new(e[9], e[10], e[11]).extend(1.0),
                );
                if let Some(m) = to_anchor {
                    match rigid_from(&(own * m)) {
                        Ok(pose) => {
                            poses.insert(t - 1, pose);
                        }
                        Err(err) => {
                            p.push(&f(), "line 4", ErrorClass::InvalidValue, err.to_string())
                        }
                    }
                }
            }
            if let Some(model) = model {
                data.cameras.push(Camera {
                    scene_id: scene_id.clone(),
                    camera_id: aria.clone(),
                    kind: CameraKind::Ego,
                    model,
                    world_to_camera: None,
                });
                ego_poses.insert(aria, poses);
            }
        }
        // Frames: every time stamp, for every camera.
        let cameras: Vec<(String, CameraKind, (u32, u32))> = data
            .cameras
            .iter()
            .map(|c| {
                (
                    c.camera_id.clone(),
                    c.kind,
                    (c.model.width(), c.model.height()),
                )
            })
            .collect();
        data.frames.reserve(cameras.len() * n_frames);
        // A frame's image path, made in one buffer: folder, then the frame's file name.
        let mut image_rel = String::new();
        for (cam, kind, _) in &cameras {
            let images_rel = match kind {
                CameraKind::Ego => format!("{native}/ego/{cam}/images/rgb"),
                CameraKind::Exo => format!("{native}/exo/{cam}/images"),
            };
            let images = DirStamps::of(&self.root.join(&images_rel));
            for f in 0..n_frames as u32 {
                image_rel.clear();
                let _ = write!(image_rel, "{images_rel}/{:05}.jpg", f + 1);
                let name = &image_rel[images_rel.len() + 1..];
                let stamp = images.get(name);
                fp = stamp_into(fp, Path::new(&image_rel), stamp);
                if stamp.is_none() && self.opts.require_images {
                    p.push(
                        &self.root.join(&image_rel),
                        "",
                        ErrorClass::MissingFile,
                        "image is missing",
                    );
                }
                let pose = ego_poses.get(cam).and_then(|poses| poses.get(&f).copied());
                data.frames.push(Frame {
                    scene_id: scene_id.clone(),
                    camera_id: cam.clone(),
                    frame_index: f,
                    timestamp_s: f64::from(f) / ASSUMED_FPS,
                    image: if stamp.is_some() {
                        ImageRef::File(image_rel.clone())
                    } else {
                        ImageRef::None
                    },
                    world_to_camera: pose,
                });
            }
        }
        // Observations: the benchmark annotations of this sequence.
        // Taken whole: their names and keypoints move into the observations. Room for
        // all of them first: growing the large records one push at a time copied them over.
        data.observations.reserve(anns.len());
        fp = annotations_into(fp, &anns);
        for a in anns {
            let CocoAnn {
                file,
                index,
                parsed,
                image_size,
            } = a;
            let location = || format!("annotations[{index}]");
            let v = match parsed.fields {
                Ok(v) => v,
                Err(e) => {
                    p.push(
                        &file,
                        location(),
                        ErrorClass::InvalidValue,
                        format!("not a benchmark annotation: {e}"),
                    );
                    continue;
                }
            };
            if v.time_stamp < 1 {
                p.push(
                    &file,
                    location(),
                    ErrorClass::InvalidValue,
                    "time stamps are 1-based",
                );
                continue;
            }
            let Some((_, _, camera_size)) = cameras.iter().find(|(c, ..)| *c == v.camera_name)
            else {
                p.push(
                    &file,
                    location(),
                    ErrorClass::Inconsistent,
                    format!("camera {} is not calibrated in {native}", v.camera_name),
                );
                continue;
            };
            let [x, y, w, h] = v.bbox;
            // Re-projected poses: boxes may exceed the image, but not miss it entirely.
            let size = image_size.unwrap_or(*camera_size);
            let bbox = match BoxXyxy::from_xywh(x, y, w, h) {
                Ok(b) if b.clip(size.0, size.1).is_some() => b,
                Ok(_) => {
                    p.push(
                        &file,
                        format!("{}.bbox", location()),
                        ErrorClass::InvalidValue,
                        format!(
                            "box {:?} lies outside the {}x{} image",
                            v.bbox, size.0, size.1
                        ),
                    );
                    continue;
                }
                Err(e) => {
                    p.push(
                        &file,
                        format!("{}.bbox", location()),
                        ErrorClass::InvalidValue,
                        e.to_string(),
                    );
                    continue;
                }
            };
            let Some(keypoints) = v.keypoints else {
                p.push(
                    &file,
                    format!("{}.keypoints", location()),
                    ErrorClass::InvalidValue,
                    "expected 17 x (x, y, v) finite numbers",
                );
                continue;
            };
            data.observations.push(Observation {
                scene_id: scene_id.clone(),
                camera_id: v.camera_name,
                frame_index: (v.time_stamp - 1) as u32,
                instance_id: v.human_name,
                category: "person".into(),
                subcategory: None,
                bbox: Some(bbox),
                mask: None,
                keypoints,
                world_position: None,
                world_extent: None,
            });
        }
        data.sort_observations();
        data.fingerprint = fp.finish_hex(16);
        data.errors = p.into_vec();
        data
    }
}

impl SourceReader for EgoHumansReader {
    fn kind(&self) -> SourceKind {
        SourceKind::EgoHumans
    }

    fn root(&self) -> &Path {
        &self.root
    }

    /// Sequences are known by their read stamp before their files are read (see
    /// `read_stamp`): the benchmark files are read whole all the same, as every sequence's
    /// annotations are in them.
    fn read_with(
        &self,
        skip: Option<&dyn SceneSkip>,
        visit: &mut dyn FnMut(SceneData) -> Result<()>,
    ) -> Result<Vec<InputError>> {
        let mut tree = Problems::new(SourceKind::EgoHumans, &self.root, None);
        let mut bench = self.benchmark(&mut tree)?;
        let is_seq = |d: &Path, digits: usize| {
            d.is_dir()
                && d.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.len() > digits + 1
                        && n[..digits].bytes().all(|b| b.is_ascii_digit())
                        && n.as_bytes()[digits] == b'_'
                })
        };
        for big in sorted_entries(&self.root)
            .into_iter()
            .filter(|d| is_seq(d, 2))
        {
            for seq in sorted_entries(&big).into_iter().filter(|d| is_seq(d, 3)) {
                let native = format!(
                    "{}/{}",
                    big.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    seq.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                );
                let mine = bench.take(&native)?;
                let scene = unless_held(
                    skip.map(|skip| (skip, self.read_stamp(&seq, &mine))),
                    &Scene::make_id(SourceKind::EgoHumans, &native),
                    || self.sequence(&seq, &native, mine),
                );
                visit(scene)?;
            }
        }
        for (native, list) in bench.by_sequence {
            if let Some(a) = list.first() {
                tree.push(
                    &a.file,
                    format!("annotations[{}]", a.index),
                    ErrorClass::Inconsistent,
                    format!(
                        "{} annotations of sequence {native}, which is not in the tree",
                        list.len()
                    ),
                );
            }
        }
        Ok(tree.into_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id": 3, "image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40],
        "keypoints": [5, 6, 2], "camera_name": "cam01", "human_name": "aria02",
        "camera_mode": "rgb", "time_stamp": 4, "segmentation": null}"#;

    #[test]
    fn an_annotation_is_parsed_once_and_survives_the_spill_whole() {
        let (parsed, id) = ParsedAnn::of(&Piece::new(GOOD)).unwrap();
        assert_eq!(id, Some(7));
        let digest = xxhash_rust::xxh3::xxh3_128(GOOD.as_bytes());
        assert_eq!(parsed.raw_len, GOOD.len() as u64);
        assert_eq!(parsed.raw_digest, [digest as u64, (digest >> 64) as u64]);
        let back: ParsedAnn = bincode::deserialize(&bincode::serialize(&parsed).unwrap()).unwrap();
        let f = back.fields.unwrap();
        assert_eq!(
            (
                f.camera_name.as_str(),
                f.human_name.as_str(),
                f.time_stamp,
                f.bbox,
            ),
            ("cam01", "aria02", 4, [1.0, 2.0, 30.0, 40.0])
        );
        // Three numbers are not COCO's 17 keypoints.
        assert_eq!(f.keypoints, None);
        let seventeen: Vec<String> = (0..17).map(|i| format!("{i}.5, -{i}, {}", i % 4)).collect();
        let full = GOOD.replace("[5, 6, 2]", &format!("[{}]", seventeen.join(", ")));
        let (parsed, _) = ParsedAnn::of(&Piece::new(&full)).unwrap();
        let back: ParsedAnn = bincode::deserialize(&bincode::serialize(&parsed).unwrap()).unwrap();
        let keypoints = back.fields.unwrap().keypoints.unwrap();
        assert_eq!(keypoints.len(), 17);
        // Visibility clamped to COCO's 0..=2; coordinates as f32.
        assert_eq!(
            keypoints[3],
            Keypoint {
                x: 3.5,
                y: -3.0,
                visibility: 2
            }
        );
        assert_eq!(
            keypoints[16],
            Keypoint {
                x: 16.5,
                y: -16.0,
                visibility: 0
            }
        );
    }

    #[test]
    fn annotations_are_indexed_by_the_sequence_their_image_names() {
        let dir = tempfile::tempdir().unwrap();
        let coco = dir.path().join("benchmark/01_a/all/coco");
        std::fs::create_dir_all(&coco).unwrap();
        let ann = |id: u32, image: u32| {
            GOOD.replace("\"image_id\": 7", &format!("\"image_id\": {image}"))
                .replace("\"id\": 3", &format!("\"id\": {id}"))
        };
        let file = format!(
            r#"{{"images": [{{"id": 1, "file_name": "01_a/002_a/exo/cam01/images/00001.jpg"}},
                {{"id": 2, "file_name": "01_a/only_one_slash.jpg"}},
                {{"id": 3, "file_name": "01_a/001_a/exo/cam01/images/00001.jpg"}}],
              "annotations": [{}, {}, {}, {}]}}"#,
            ann(10, 1),
            ann(11, 2),
            ann(12, 3),
            ann(13, 1)
        );
        std::fs::write(coco.join("person_keypoints_exo.json"), file).unwrap();
        let reader = EgoHumansReader::new(dir.path(), SourceOptions::default());
        let mut p = Problems::new(SourceKind::EgoHumans, dir.path(), None);
        let bench = reader.benchmark(&mut p).unwrap();
        let indexed: Vec<(&str, Vec<usize>)> = bench
            .by_sequence
            .iter()
            .map(|(k, refs)| (k.as_str(), refs.iter().map(|r| r.index).collect()))
            .collect();
        assert_eq!(
            indexed,
            [("01_a/001_a", vec![2]), ("01_a/002_a", vec![0, 3])]
        );
        let errors = p.into_vec();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].location, "annotations[1]");
        assert_eq!(errors[0].class, ErrorClass::InvalidValue);
        assert!(
            errors[0].reason.contains("is not <big>/<seq>/..."),
            "{}",
            errors[0].reason
        );
    }

    #[test]
    fn a_bad_annotation_keeps_its_image_id_and_the_parse_error() {
        let bad_box = GOOD.replace("[1, 2, 30, 40]", "[1, 2, 30]");
        let (parsed, id) = ParsedAnn::of(&Piece::new(&bad_box)).unwrap();
        assert_eq!(id, Some(7), "still indexed under its image");
        let e = parsed.fields.unwrap_err();
        assert!(
            e.contains("array of length 4") || e.contains("invalid length"),
            "{e}"
        );
        // No integer image id: not indexed at all.
        let no_id = GOOD.replace("\"image_id\": 7", "\"image_id\": \"7\"");
        let (_, id) = ParsedAnn::of(&Piece::new(&no_id)).unwrap();
        assert_eq!(id, None);
        // Not JSON at all (behind a type error serde_json stops at): left to the stream,
        // which stops at it.
        let broken = no_id.replace("[1, 2, 30, 40]", "[1, 2,, 30, 40]");
        assert!(ParsedAnn::of(&Piece::new(&broken)).is_none());
    }
}

#[cfg(test)]
mod subset_tests {
    use super::*;
    use proptest::prelude::*;

    /// One field of an annotation, as text: the readings the subset reads, and others.
    fn member() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            Just("0".to_string()),
            Just("-0".to_string()),
            Just("1.5".to_string()),
            Just("-2e3".to_string()),
            Just("1e400".to_string()),
            Just("123456789012345678901".to_string()),
            (-100_000i64..100_000).prop_map(|n| n.to_string()),
            (0u64..u64::MAX).prop_map(|n| n.to_string()),
        ];
        let numbers = prop::collection::vec(number.clone(), 0..6).prop_map(|v| v.join(", "));
        let name = prop_oneof![
            Just("\"cam01\"".to_string()),
            Just("\"aria\\u0030\"".to_string()),
            Just("\"naïve\"".to_string()),
            Just("\"\"".to_string()),
            Just("7".to_string()),
            Just("null".to_string()),
        ];
        let any_value = prop_oneof![
            number.clone(),
            name.clone(),
            numbers.clone().prop_map(|n| format!("[{n}]")),
            Just("{\"a\": [true, false, null]}".to_string()),
            Just("[1,]".to_string()),
            Just("tru".to_string()),
        ];
        prop_oneof![
            number.clone().prop_map(|v| format!("\"image_id\": {v}")),
            number.clone().prop_map(|v| format!("\"time_stamp\": {v}")),
            name.clone().prop_map(|v| format!("\"camera_name\": {v}")),
            name.prop_map(|v| format!("\"human_name\": {v}")),
            numbers.clone().prop_map(|v| format!("\"bbox\": [{v}]")),
            numbers.prop_map(|v| format!("\"keypoints\": [{v}]")),
            any_value.prop_map(|v| format!("\"other\": {v}")),
            Just("\"keypoints\": null".to_string()),
            Just("\"image_\\u0069d\": 3".to_string()),
        ]
    }

    /// A whole annotation: the six fields read, in plain form, then members drawn at random
    /// that may repeat, replace or spoil them, in any order, with any JSON whitespace.
    fn annotation() -> impl Strategy<Value = String> {
        let plain = [
            "\"image_id\": 7",
            "\"camera_name\": \"cam01\"",
            "\"time_stamp\": 4",
            "\"human_name\": \"aria02\"",
            "\"bbox\": [1, 2.5, 30, 40]",
            "\"keypoints\": [5, 6, 2]",
        ];
        (
            // Mostly kept, so that many annotations are whole.
            prop::collection::vec(prop::bool::weighted(0.9), 6),
            prop::collection::vec(member(), 0..3),
            prop::collection::vec(
                prop_oneof![Just(""), Just(" "), Just("\n\t"), Just("\r")],
                4,
            ),
            any::<u64>(),
        )
            .prop_map(move |(keep, extra, spaces, order)| {
                let mut members: Vec<String> = plain
                    .iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(m, _)| m.to_string())
                    .chain(extra)
                    .collect();
                // A rotation by a random amount: varied order, reproducible.
                let n = members.len().max(1);
                members.rotate_left((order as usize) % n);
                let sep = format!("{},{}", spaces[0], spaces[1]);
                format!(
                    "{}{{{}{}}}{}",
                    spaces[2],
                    members.join(&sep),
                    spaces[1],
                    spaces[3]
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_subset_reads_an_annotation_as_serde_json_does(text in annotation()) {
            let ours = CocoAnnFields::read_subset(&text);
            let theirs = serde_json::from_str::<CocoAnnFields>(&text);
            if let Some(ours) = ours {
                // Debug shows -0.0 apart from 0.0, which == would not.
                let theirs = theirs.map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
                prop_assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{}", text);
            }
        }
    }

    proptest! {
        /// A line's numbers split by byte are those `split_whitespace` gives.
        #[test]
        fn a_line_splits_as_split_whitespace_splits_it(
            line in "[0-9. \t\n\r\u{b}\u{c}\u{a0}\u{3000}e-]{0,40}"
        ) {
            let by_chars: Option<Vec<f64>> = line
                .split_whitespace()
                .map(|t| t.parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            prop_assert_eq!(
                floats(&line).map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
                by_chars.map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
                "{:?}", line
            );
        }
    }

    #[test]
    fn the_subset_reads_plain_annotations_and_leaves_the_rest() {
        let plain = r#"{"area": 418, "bbox": [119, 68, 11, 38], "camera_mode": "rgb",
            "camera_name": "cam01", "category_id": 1, "height": 180, "human_name": "aria01",
            "id": 0, "image_id": 0, "iscrowd": 0, "keypoints": [125, 74, 2, 126.5, -74, 2],
            "keypoints_3d": [-0.331535, 2.117443, 1.0], "num_keypoints": 17,
            "segmentation": null, "time_stamp": 1, "video_name": "tagging_001", "width": 320}"#;
        let ours = CocoAnnFields::read_subset(plain).expect("in the subset");
        let theirs: CocoAnnFields = serde_json::from_str(plain).unwrap();
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        // Left to serde_json: an escaped name (it reads it), a duplicate field, a missing
        // one, four numbers of a box that are five (it refuses each).
        for text in [
            plain.replace("\"aria01\"", "\"aria\\u0030\""),
            plain.replace("\"area\": 418", "\"time_stamp\": 2"),
            plain.replace("\"time_stamp\": 1,", ""),
            plain.replace("[119, 68, 11, 38]", "[119, 68, 11, 38, 1]"),
        ] {
            assert!(CocoAnnFields::read_subset(&text).is_none(), "{text}");
        }
        let image = r#"{"file_name": "a/b/c.jpg", "height": null, "id": 5, "width": 320}"#;
        let ours = CocoImage::read_subset(image).expect("in the subset");
        let theirs: CocoImage = serde_json::from_str(image).unwrap();
        assert_eq!(
            (ours.id, ours.file_name, ours.width, ours.height),
            (theirs.id, theirs.file_name, theirs.width, theirs.height)
        );
        let missing_size = r#"{"file_name": "x.jpg", "id": -5}"#;
        let ours = CocoImage::read_subset(missing_size).expect("in the subset");
        assert_eq!((ours.id, ours.width, ours.height), (-5, None, None));
        // A width past u32 is serde_json's error to give.
        assert!(
            CocoImage::read_subset(r#"{"file_name": "x", "id": 1, "width": 4294967296}"#).is_none()
        );
    }
}
