//! The `messytable` profile: tabletop scenes (10-30 objects of 30 categories, identical
//! duplicates, stacked and touching objects, 9 static cameras) in MessyTable's native format
//! (formats/messytable.md): `labels/<split>.json` and `images/<scene>-0<cam>.jpg`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::DVec3;
use crossview_schemas::{
    CameraKind, CameraModel, Distortion, ImageRef, SensorRotation, SourceKind,
};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::appearance::{Appearance, Pattern};
use super::catalog::tabletop_models;
use super::driver::{
    ImageSink, Profile, SceneRender, StreamFile, SynthOptions, TreeWriter, output_size, round,
    to_json,
};
use super::images::JpegFiles;
use super::render::InstanceRender;
use super::rig::look_at;
use super::shapes::{Placement, Shape};
use super::tabletop::{Surface, choose_models, place_objects};
use super::world::{
    BACKGROUND, FrameWorld, InstanceSpec, InstanceState, Room, SceneWorld, SynthCamera, WorldPart,
};
use crate::error::Result;

/// Native image size of MessyTable cameras.
pub const NATIVE_SIZE: (u32, u32) = (1920, 1080);
/// Cameras per scene.
pub const CAMERAS: usize = 9;
/// Height of the table top above the floor, metres.
const TABLE_TOP: f64 = 0.75;
/// Fewest visible pixels (at the written size) for an instance to be labelled in a view.
pub const MIN_LABELLED_PIXELS: u64 = 16;

/// The MessyTable profile.
pub struct MessyTable;

/// Which of the source's split files a scene goes to (by index hash, 70/15/15).
fn split_of(opts: &SynthOptions, index: usize) -> &'static str {
    let r: f64 = opts
        .rng(SourceKind::MessyTable, "split", index as u64)
        .random();
    if r < 0.7 {
        "train"
    } else if r < 0.85 {
        "val"
    } else {
        "test"
    }
}

/// MessyTable scene names look like `20190921-00003-01` (date, setup, scene).
fn scene_name(index: usize) -> String {
    let day = index / 300;
    format!(
        "2019{:02}{:02}-{:05}-{:02}",
        9 + day / 28 % 4,
        1 + day % 28,
        1 + index / 10,
        1 + index % 10
    )
}

/// Intrinsics per camera id at native size, shared by every scene (as in the label files).
fn intrinsics(opts: &SynthOptions) -> Vec<CameraModel> {
    let mut rng = opts.rng(SourceKind::MessyTable, "intrinsics", 0);
    (0..CAMERAS)
        .map(|_| {
            let f = rng.random_range(1250.0..1500.0);
            CameraModel::new(
                NATIVE_SIZE.0,
                NATIVE_SIZE.1,
                f,
                f,
                960.0 + rng.random_range(-12.0..12.0),
                540.0 + rng.random_range(-12.0..12.0),
                Distortion::Pinhole,
                SensorRotation::None,
            )
            .unwrap_or_else(|e| unreachable!("valid by construction: {e}"))
        })
        .collect()
}

fn table_parts(len: f64, wid: f64, rng: &mut ChaCha8Rng) -> (Vec<WorldPart>, Appearance) {
    let wood = [
        [0.55, 0.38, 0.22],
        [0.78, 0.7, 0.58],
        [0.35, 0.25, 0.18],
        [0.9, 0.9, 0.88],
    ][rng.random_range(0..4)];
    let top = Appearance {
        base: wood,
        accent: [wood[0] * 0.85, wood[1] * 0.85, wood[2] * 0.85],
        pattern: Pattern::Stripes {
            axis: 0,
            period: 0.035,
        },
        grain: 0.06,
    };
    let mut parts = vec![WorldPart {
        shape: Shape::Cuboid {
            half: DVec3::new(len / 2.0, wid / 2.0, 0.02),
        },
        placement: Placement::upright(DVec3::new(0.0, 0.0, TABLE_TOP - 0.02), 0.0),
        appearance: top,
        owner: BACKGROUND,
        wearer_hidden: false,
    }];
    for (sx, sy) in [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)] {
        parts.push(WorldPart {
            shape: Shape::Cuboid {
                half: DVec3::new(0.03, 0.03, (TABLE_TOP - 0.04) / 2.0),
            },
            placement: Placement::upright(
                DVec3::new(
                    sx * (len / 2.0 - 0.08),
                    sy * (wid / 2.0 - 0.08),
                    (TABLE_TOP - 0.04) / 2.0,
                ),
                0.0,
            ),
            appearance: Appearance::solid([wood[0] * 0.6, wood[1] * 0.6, wood[2] * 0.6]),
            owner: BACKGROUND,
            wearer_hidden: false,
        });
    }
    (parts, top)
}

impl Profile for MessyTable {
    fn kind(&self) -> SourceKind {
        SourceKind::MessyTable
    }

    fn default_frames(&self) -> usize {
        1
    }

    fn generate(&self, index: usize, opts: &SynthOptions) -> SceneWorld {
        let mut rng = opts.rng(SourceKind::MessyTable, "scene", index as u64);
        let catalog = tabletop_models();
        let len = rng.random_range(1.2..1.8);
        let wid = rng.random_range(0.8..1.2);
        let (background, _) = table_parts(len, wid, &mut rng);
        let n = rng.random_range(10..=30);
        let models = choose_models(n, &catalog, &mut rng);
        let surface = Surface {
            len,
            wid,
            top: TABLE_TOP,
        };
        let placed = place_objects(&models, &catalog, &surface, &mut rng);
        let mut ids: Vec<u32> = (1..100).collect();
        ids.shuffle(&mut rng);
        let mut instances = Vec::new();
        let mut parts = Vec::new();
        let mut states = Vec::new();
        for (k, p) in placed.iter().enumerate() {
            let m = &catalog[p.model];
            instances.push(InstanceSpec {
                instance_id: ids[k].to_string(),
                category: m.category.to_string(),
                model: m.model.clone(),
                coarse_class: m.coarse_class,
                fine_class: m.fine_class,
                is_person: false,
            });
            let placement = Placement::upright(p.center, p.yaw);
            parts.push(WorldPart {
                shape: m.shape,
                placement,
                appearance: m.appearance,
                owner: (k + 1) as u16,
                wearer_hidden: false,
            });
            states.push(InstanceState {
                position: p.center,
                extent: m.shape.extent(),
                rotation: placement.rotation,
                keypoints: Vec::new(),
            });
        }
        let models = intrinsics(opts);
        let cameras = (0..CAMERAS)
            .map(|c| {
                let angle = std::f64::consts::TAU * c as f64 / CAMERAS as f64
                    + rng.random_range(-0.18..0.18);
                let radius = rng.random_range(1.2..2.0);
                let eye = DVec3::new(
                    radius * angle.cos(),
                    radius * angle.sin(),
                    rng.random_range(1.15..1.95),
                );
                let target = DVec3::new(
                    rng.random_range(-0.15..0.15),
                    rng.random_range(-0.12..0.12),
                    TABLE_TOP,
                );
                SynthCamera {
                    camera_id: (c + 1).to_string(),
                    kind: CameraKind::Exo,
                    model: models[c].clone(),
                    poses: vec![look_at(eye, target, rng.random_range(-0.04..0.04))],
                    wearer: None,
                }
            })
            .collect();
        let floor =
            [[0.45, 0.45, 0.47], [0.6, 0.52, 0.42], [0.3, 0.32, 0.35]][rng.random_range(0..3)];
        SceneWorld {
            index,
            native_id: scene_name(index),
            source_split: split_of(opts, index).to_string(),
            group: String::new(),
            instances,
            room: Some(Room {
                min: DVec3::new(-3.5, -3.5, 0.0),
                max: DVec3::new(3.5, 3.5, 3.0),
                floor: Appearance {
                    base: floor,
                    accent: [floor[0] * 0.8, floor[1] * 0.8, floor[2] * 0.8],
                    pattern: Pattern::Checker { period: 0.5 },
                    grain: 0.05,
                },
                walls: Appearance::solid([0.82, 0.8, 0.75]),
                ceiling: Appearance::solid([0.9, 0.9, 0.9]),
            }),
            background,
            frames: vec![FrameWorld { parts, states }],
            fps: 0.0,
            cameras,
            light: DVec3::new(
                rng.random_range(-0.4..0.4),
                rng.random_range(-0.4..0.4),
                -1.0,
            )
            .normalize(),
        }
    }

    fn image_sink(
        &self,
        root: &Path,
        scene: &SceneWorld,
        camera: usize,
        size: (u32, u32),
    ) -> Result<Box<dyn ImageSink>> {
        let path = root.join(image_rel(scene, camera));
        Ok(Box::new(JpegFiles {
            path_of: move |_| path.clone(),
            size,
        }))
    }

    fn frame_image(&self, scene: &SceneWorld, camera: usize, _frame: usize) -> ImageRef {
        ImageRef::File(image_rel(scene, camera).to_string_lossy().into_owned())
    }

    fn annotated(
        &self,
        _scene: &SceneWorld,
        _camera: usize,
        _model: &CameraModel,
        _frame: usize,
        r: &InstanceRender,
    ) -> bool {
        r.modal_area >= MIN_LABELLED_PIXELS
    }

    fn native_size_without_images(&self) -> bool {
        true
    }

    fn tree_writer(&self, root: &Path, opts: &SynthOptions) -> Result<Box<dyn TreeWriter>> {
        // Without images the labels stay at the native size (see `native_size_without_images`).
        let (w, h) = if opts.images {
            output_size(NATIVE_SIZE.0, NATIVE_SIZE.1, opts.max_side)
        } else {
            NATIVE_SIZE
        };
        let mut k = serde_json::Map::new();
        for (c, m) in intrinsics(opts).iter().enumerate() {
            let m = m.resized(w, h)?;
            let ((fx, fy), (cx, cy)) = (m.focal(), m.principal_point());
            k.insert(
                (c + 1).to_string(),
                json!([
                    round(fx, 4),
                    0.0,
                    round(cx, 4),
                    0.0,
                    round(fy, 4),
                    round(cy, 4),
                    0.0,
                    0.0,
                    1.0
                ]),
            );
        }
        Ok(Box::new(LabelWriter {
            root: root.to_path_buf(),
            intrinsics: Value::Object(k),
            splits: BTreeMap::new(),
        }))
    }
}

/// `images/<scene>-0<cam>.jpg` (the official loader builds exactly this).
fn image_rel(scene: &SceneWorld, camera: usize) -> PathBuf {
    PathBuf::from("images").join(format!(
        "{}-0{}.jpg",
        scene.native_id, scene.cameras[camera].camera_id
    ))
}

/// Streams `labels/{train,val,test}.json`.
struct LabelWriter {
    root: PathBuf,
    intrinsics: Value,
    splits: BTreeMap<String, (StreamFile, bool)>,
}

impl LabelWriter {
    fn split(&mut self, name: &str) -> Result<&mut (StreamFile, bool)> {
        if !self.splits.contains_key(name) {
            let path = self.root.join("labels").join(format!("{name}.json"));
            let mut f = StreamFile::create(&path)?;
            f.write(&format!(
                "{{\"intrinsics\": {}, \"scenes\": {{",
                to_json(&path, &self.intrinsics)?
            ))?;
            self.splits.insert(name.to_string(), (f, true));
        }
        Ok(self
            .splits
            .get_mut(name)
            .unwrap_or_else(|| unreachable!("inserted above")))
    }
}

impl TreeWriter for LabelWriter {
    fn add_scene(&mut self, scene: &SceneWorld, render: &SceneRender) -> Result<()> {
        let mut cameras = serde_json::Map::new();
        for (c, cam) in scene.cameras.iter().enumerate() {
            let pose = cam.pose(0).inverse();
            let [rx, ry, rz] = pose.rotation.to_euler_xyz_extrinsic();
            let t = pose.center;
            let mut instances = serde_json::Map::new();
            for r in &render.cameras[c].frames[0].instances {
                let Some(b) = r.bbox.filter(|_| r.modal_area >= MIN_LABELLED_PIXELS) else {
                    continue;
                };
                let inst = &scene.instances[usize::from(r.owner) - 1];
                // Inclusive pixel indices, as MessyTable writes them.
                instances.insert(
                    inst.instance_id.clone(),
                    json!({
                        "pos": [b.x1(), b.y1(), b.x2() - 1.0, b.y2() - 1.0],
                        "cls": inst.coarse_class,
                        "subcls": inst.fine_class,
                    }),
                );
            }
            cameras.insert(
                cam.camera_id.clone(),
                json!({
                    "extrinsics": [round(t.x, 6), round(t.y, 6), round(t.z, 6), round(rx, 8), round(ry, 8), round(rz, 8)],
                    "instances": instances,
                }),
            );
        }
        let entry = json!({ "cameras": cameras });
        let (file, first) = self.split(&scene.source_split)?;
        let path = PathBuf::from(&scene.native_id);
        let text = format!(
            "{}{}: {}",
            if *first { "" } else { ", " },
            to_json(&path, &json!(scene.native_id))?,
            to_json(&path, &entry)?
        );
        *first = false;
        file.write(&text)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        // Only splits that received scenes get a file (the dataset ships no empty split).
        for (_, (mut f, _)) in std::mem::take(&mut self.splits) {
            f.write("}}\n")?;
            f.commit()?;
        }
        Ok(())
    }
}
