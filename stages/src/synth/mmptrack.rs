//! The `mmptrack` profile: people walking in five furnished indoor environments watched by 4-6
//! static cameras, in MMPTrack's native format (formats/mmptrack.md): per-frame per-camera label
//! JSON of projected person boxes, top-down CSVs, and one calibration file per environment (mm).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::DVec3;
use crossview_schemas::{
    CameraKind, CameraModel, Distortion, ImageRef, SensorRotation, SourceKind,
};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use super::appearance::{Appearance, Pattern};
use super::body::{self, Outfit, Pose};
use super::driver::{
    ImageSink, Profile, SceneRender, SynthOptions, TreeWriter, round, to_json, write_file,
};
use super::images::JpegFiles;
use super::render::InstanceRender;
use super::rig::look_at;
use super::shapes::{Placement, Shape};
use super::walk::{Floor, simulate};
use super::world::{BACKGROUND, InstanceSpec, Room, SceneWorld, SynthCamera, WorldPart};
use crate::error::Result;

/// Native image size (as one downstream loader hard-codes it).
pub const NATIVE_SIZE: (u32, u32) = (640, 360);
/// Frame rate of the synthetic videos: the rate the loader assumes.
pub const FPS: f64 = crate::sources::mmptrack::ASSUMED_FPS;
/// Environments and their camera counts (formats/mmptrack.md section 1).
pub const ENVIRONMENTS: [(&str, usize); 5] = [
    ("cafe_shop", 4),
    ("industry_safety", 4),
    ("lobby", 4),
    ("office", 5),
    ("retail", 6),
];
/// Voxel size of the top-down grid, millimetres.
const VOXEL_MM: f64 = 40.0;

/// The MMPTrack profile.
pub struct MmpTrack;

/// The fixed layout of one environment: shared by all its scenes, like its calibration file.
struct Environment {
    room: Room,
    furniture: Vec<WorldPart>,
    floor: Floor,
    cameras: Vec<SynthCamera>,
}

fn environment(opts: &SynthOptions, env: usize) -> Environment {
    let n_cams = ENVIRONMENTS[env].1;
    let mut rng = opts.rng(SourceKind::MmpTrack, "environment", env as u64);
    let (hx, hy) = (rng.random_range(3.5..5.5), rng.random_range(2.5..4.0));
    let floor_look = [[0.55, 0.5, 0.45], [0.35, 0.36, 0.4], [0.7, 0.68, 0.62]][env % 3];
    let room = Room {
        min: DVec3::new(-hx, -hy, 0.0),
        max: DVec3::new(hx, hy, 3.2),
        floor: Appearance {
            base: floor_look,
            accent: [
                floor_look[0] * 0.85,
                floor_look[1] * 0.85,
                floor_look[2] * 0.85,
            ],
            pattern: Pattern::Checker { period: 0.6 },
            grain: 0.05,
        },
        walls: Appearance::solid(
            [[0.85, 0.82, 0.75], [0.75, 0.8, 0.85], [0.9, 0.88, 0.85]][env % 3],
        ),
        ceiling: Appearance::solid([0.92, 0.92, 0.92]),
    };
    let mut furniture = Vec::new();
    let mut obstacles = Vec::new();
    for _ in 0..rng.random_range(3..8) {
        let (sx, sy) = (rng.random_range(0.5..2.0), rng.random_range(0.4..1.0));
        let sz = [0.75, 1.1, 1.8][rng.random_range(0..3)];
        let c = DVec3::new(
            rng.random_range(-hx + 1.0..hx - 1.0),
            rng.random_range(-hy + 1.0..hy - 1.0),
            sz / 2.0,
        );
        let yaw = if rng.random_bool(0.5) {
            0.0
        } else {
            std::f64::consts::FRAC_PI_2
        };
        let (ex, ey) = if yaw == 0.0 { (sx, sy) } else { (sy, sx) };
        let colour = [
            [0.5, 0.35, 0.2],
            [0.6, 0.6, 0.62],
            [0.25, 0.3, 0.45],
            [0.8, 0.78, 0.7],
        ][rng.random_range(0..4)];
        furniture.push(WorldPart {
            shape: Shape::Cuboid {
                half: DVec3::new(sx, sy, sz) / 2.0,
            },
            placement: Placement::upright(c, yaw),
            appearance: Appearance {
                base: colour,
                accent: [colour[0] * 0.8, colour[1] * 0.8, colour[2] * 0.8],
                pattern: Pattern::Stripes {
                    axis: 2,
                    period: 0.15,
                },
                grain: 0.04,
            },
            owner: BACKGROUND,
            wearer_hidden: false,
        });
        let pad = 0.35;
        obstacles.push([
            c.x - ex / 2.0 - pad,
            c.y - ey / 2.0 - pad,
            c.x + ex / 2.0 + pad,
            c.y + ey / 2.0 + pad,
        ]);
    }
    let cameras = (0..n_cams)
        .map(|c| {
            // Around the walls, high up, looking down at the middle of the floor.
            let angle =
                std::f64::consts::TAU * c as f64 / n_cams as f64 + rng.random_range(-0.3..0.3);
            let eye = DVec3::new(
                0.92 * hx * angle.cos(),
                0.92 * hy * angle.sin(),
                rng.random_range(2.5..3.0),
            );
            let target = DVec3::new(
                rng.random_range(-1.0..1.0),
                rng.random_range(-0.8..0.8),
                rng.random_range(0.6..1.0),
            );
            let f = rng.random_range(330.0..430.0);
            SynthCamera {
                camera_id: (c + 1).to_string(),
                kind: CameraKind::Exo,
                model: CameraModel::new(
                    NATIVE_SIZE.0,
                    NATIVE_SIZE.1,
                    f,
                    f,
                    320.0 + rng.random_range(-5.0..5.0),
                    180.0 + rng.random_range(-5.0..5.0),
                    Distortion::Pinhole,
                    SensorRotation::None,
                )
                .unwrap_or_else(|e| unreachable!("valid by construction: {e}")),
                poses: vec![look_at(eye, target, rng.random_range(-0.03..0.03))],
                wearer: None,
            }
        })
        .collect();
    Environment {
        room,
        furniture,
        floor: Floor {
            area: [-hx + 0.4, -hy + 0.4, hx - 0.4, hy - 0.4],
            obstacles,
        },
        cameras,
    }
}

/// Split folder and recording session of a scene: `train` with `63am` / `64am`, or
/// `validation` with `64pm`.
fn session(opts: &SynthOptions, index: usize) -> (&'static str, &'static str) {
    let r: f64 = opts
        .rng(SourceKind::MmpTrack, "session", index as u64)
        .random();
    if r < 0.4 {
        ("train", "63am")
    } else if r < 0.8 {
        ("train", "64am")
    } else {
        ("validation", "64pm")
    }
}

/// Scene `index`: environment `index % 5`, scene number `index / 5`.
fn scene_name(index: usize) -> String {
    format!(
        "{}_{}",
        ENVIRONMENTS[index % ENVIRONMENTS.len()].0,
        index / ENVIRONMENTS.len()
    )
}

/// The projected box of a person: the image extent of a vertical cylinder around the body
/// (from the floor to above the head, wide enough for every limb), unclipped; `None` if the
/// person is behind the camera or the box misses the image. MMPTrack's boxes are projections
/// of 3D tracks, not tight boxes around visible pixels.
pub fn projected_box(
    model: &CameraModel,
    cam: &SynthCamera,
    frame: usize,
    keypoints: &[DVec3],
) -> Option<[f64; 4]> {
    let pose = cam.pose(frame);
    let axis = (keypoints[body::kp::LEFT_HIP] + keypoints[body::kp::RIGHT_HIP]) * 0.5;
    if pose.apply(axis).z < 0.3 {
        return None;
    }
    // Limbs are capsules up to 8 cm thick and shoes reach 18 cm past the ankle.
    let radius = keypoints
        .iter()
        .map(|k| (k.truncate() - axis.truncate()).length())
        .fold(0.0, f64::max)
        + 0.2;
    let top = keypoints.iter().map(|k| k.z).fold(0.0, f64::max) + 0.2;
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for i in 0..16 {
        let a = std::f64::consts::TAU * f64::from(i) / 16.0;
        let rim = DVec3::new(axis.x + radius * a.cos(), axis.y + radius * a.sin(), 0.0);
        for z in [0.0, top] {
            let (px, _) = model.project_world(pose, DVec3::new(rim.x, rim.y, z))?;
            lo = [lo[0].min(px.x), lo[1].min(px.y)];
            hi = [hi[0].max(px.x), hi[1].max(px.y)];
        }
    }
    let b = [lo[0], lo[1], hi[0], hi[1]];
    let (w, h) = (f64::from(model.width()), f64::from(model.height()));
    (b[2] > 0.0 && b[3] > 0.0 && b[0] < w && b[1] < h).then_some(b)
}

impl Profile for MmpTrack {
    fn kind(&self) -> SourceKind {
        SourceKind::MmpTrack
    }

    fn default_frames(&self) -> usize {
        30
    }

    fn generate(&self, index: usize, opts: &SynthOptions) -> SceneWorld {
        let env = environment(opts, index % ENVIRONMENTS.len());
        let mut rng = opts.rng(SourceKind::MmpTrack, "scene", index as u64);
        let frames = opts.frames.unwrap_or(self.default_frames()).max(1);
        let n = rng.random_range(4..=9);
        let mut ids: Vec<u32> = (0..40).collect();
        ids.shuffle(&mut rng);
        // Some people dress alike: hard negatives across views.
        let mut outfits: Vec<Outfit> = (0..n).map(|_| Outfit::random(&mut rng)).collect();
        if n >= 4 && rng.random_bool(0.5) {
            outfits[1] = outfits[0];
        }
        let builds: Vec<body::Build> = (0..n).map(|_| body::random_build(&mut rng)).collect();
        let instances = (0..n)
            .map(|k| InstanceSpec {
                instance_id: ids[k].to_string(),
                category: "person".into(),
                model: format!("person/{k}"),
                coarse_class: 1,
                fine_class: 1,
                is_person: true,
            })
            .collect();
        let poses: Vec<Vec<Pose>> = simulate(&env.floor, n, frames, FPS, &mut rng);
        let frames = poses
            .iter()
            .map(|frame| body::people_frame(&builds, &outfits, frame))
            .collect();
        SceneWorld {
            index,
            native_id: scene_name(index),
            source_split: session(opts, index).0.to_string(),
            group: session(opts, index).1.to_string(),
            instances,
            room: Some(env.room),
            background: env.furniture,
            frames,
            fps: FPS,
            cameras: env.cameras,
            light: DVec3::new(0.2, 0.1, -1.0).normalize(),
        }
    }

    fn image_sink(
        &self,
        root: &Path,
        scene: &SceneWorld,
        camera: usize,
        size: (u32, u32),
    ) -> Result<Box<dyn ImageSink>> {
        let root = root.to_path_buf();
        let dir = scene_dir(scene, "images");
        let cam = scene.cameras[camera].camera_id.clone();
        Ok(Box::new(JpegFiles {
            path_of: move |f| root.join(&dir).join(format!("rgb_{f:05}_{cam}.jpg")),
            size,
        }))
    }

    fn frame_image(&self, scene: &SceneWorld, camera: usize, frame: usize) -> ImageRef {
        let p = scene_dir(scene, "images").join(format!(
            "rgb_{frame:05}_{}.jpg",
            scene.cameras[camera].camera_id
        ));
        ImageRef::File(p.to_string_lossy().into_owned())
    }

    fn annotated(
        &self,
        scene: &SceneWorld,
        camera: usize,
        model: &CameraModel,
        frame: usize,
        r: &InstanceRender,
    ) -> bool {
        let state = &scene.frames[frame].states[usize::from(r.owner) - 1];
        projected_box(model, &scene.cameras[camera], frame, &state.keypoints).is_some()
    }

    fn scene_native_id(&self, world: &SceneWorld) -> String {
        // Scene names repeat across recording sessions (63am/retail_0, 64am/retail_0).
        format!("{}/{}", world.group, world.native_id)
    }

    fn native_size_without_images(&self) -> bool {
        true
    }

    fn tree_writer(&self, root: &Path, _opts: &SynthOptions) -> Result<Box<dyn TreeWriter>> {
        Ok(Box::new(MmpWriter {
            root: root.to_path_buf(),
            calibrated: BTreeSet::new(),
        }))
    }
}

/// `<split>/<kind>/<session>/<scene>` for a scene.
fn scene_dir(scene: &SceneWorld, kind: &str) -> PathBuf {
    PathBuf::from(&scene.source_split)
        .join(kind)
        .join(&scene.group)
        .join(&scene.native_id)
}

/// Writes labels, top-down CSVs and one calibration file per environment and split.
struct MmpWriter {
    root: PathBuf,
    calibrated: BTreeSet<(String, String)>,
}

/// The environment of a scene name (`retail_0` -> `retail`).
fn environment_of(scene: &str) -> &str {
    scene.rsplit_once('_').map_or(scene, |(env, _)| env)
}

/// The top-down grid of a room: `Space` in millimetres and the grid factors of section 5.
struct Space {
    min_u: f64,
    max_u: f64,
    min_v: f64,
    max_v: f64,
    max_w: f64,
}

impl Space {
    fn of(room: &Room) -> Self {
        Space {
            min_u: (room.min.x * 1000.0).round(),
            max_u: (room.max.x * 1000.0).round(),
            min_v: (room.min.y * 1000.0).round(),
            max_v: (room.max.y * 1000.0).round(),
            max_w: (room.max.z * 1000.0).round(),
        }
    }
    fn factors(&self) -> (f64, f64) {
        let f = |lo: f64, hi: f64| (((hi - lo) / VOXEL_MM).floor() - 1.0) / (hi - lo);
        (f(self.min_u, self.max_u), f(self.min_v, self.max_v))
    }
    /// Grid `(X, Y)` of a world point (metres).
    fn grid(&self, p: DVec3) -> (f64, f64) {
        let (fx, fy) = self.factors();
        (
            (p.x * 1000.0 - self.min_u) * fx,
            (p.y * 1000.0 - self.min_v) * fy,
        )
    }
}

impl MmpWriter {
    fn calibration(&self, scene: &SceneWorld, render: &SceneRender) -> Result<Value> {
        let room = scene
            .room
            .as_ref()
            .ok_or_else(|| crate::error::Error::Options("mmptrack scenes have a room".into()))?;
        let cameras: Vec<Value> = scene
            .cameras
            .iter()
            .zip(&render.cameras)
            .map(|(cam, r)| {
                let pose = cam.pose(0).inverse();
                let ((fx, fy), (cx, cy)) = (r.model.focal(), r.model.principal_point());
                let id: u32 = cam.camera_id.parse().unwrap_or(0);
                json!({
                    "CameraId": id,
                    "IntrinsicParameters": {"Fx": round(fx, 4), "Fy": round(fy, 4), "Cx": round(cx, 4), "Cy": round(cy, 4)},
                    "ExtrinsicParameters": {
                        // Camera-to-world rotation, row-major; camera centre in millimetres.
                        "Rotation": pose.rotation.to_row_major().map(|v| round(v, 9)),
                        "Translation": pose.center.to_array().map(|v| round(v * 1000.0, 4)),
                    },
                })
            })
            .collect();
        let space = Space::of(room);
        Ok(json!({
            "Cameras": cameras,
            "Space": {
                "MinU": space.min_u, "MaxU": space.max_u, "MinV": space.min_v, "MaxV": space.max_v,
                "MinW": 0.0, "MaxW": space.max_w, "VoxelSizeInMM": VOXEL_MM,
            },
        }))
    }
}

impl TreeWriter for MmpWriter {
    fn add_scene(&mut self, scene: &SceneWorld, render: &SceneRender) -> Result<()> {
        let env = environment_of(&scene.native_id).to_string();
        if self
            .calibrated
            .insert((scene.source_split.clone(), env.clone()))
        {
            let path = self
                .root
                .join(&scene.source_split)
                .join("calibrations")
                .join(&env)
                .join("calibrations.json");
            let text = to_json(&path, &self.calibration(scene, render)?)?;
            write_file(&path, text.as_bytes())?;
        }
        let labels = self.root.join(scene_dir(scene, "labels"));
        for (c, cam) in scene.cameras.iter().enumerate() {
            let model = &render.cameras[c].model;
            for (f, frame) in scene.frames.iter().enumerate() {
                let mut boxes = serde_json::Map::new();
                for (k, state) in frame.states.iter().enumerate() {
                    if let Some(b) = projected_box(model, cam, f, &state.keypoints) {
                        boxes.insert(
                            scene.instances[k].instance_id.clone(),
                            json!(b.map(|v| round(v, 2))),
                        );
                    }
                }
                let path = labels.join(format!("rgb_{f:05}_{}.json", cam.camera_id));
                write_file(&path, to_json(&path, &Value::Object(boxes))?.as_bytes())?;
            }
        }
        let space =
            Space::of(scene.room.as_ref().ok_or_else(|| {
                crate::error::Error::Options("mmptrack scenes have a room".into())
            })?);
        let topdown = self.root.join(scene_dir(scene, "topdown_labels"));
        for (f, frame) in scene.frames.iter().enumerate() {
            let mut csv = String::new();
            for (k, state) in frame.states.iter().enumerate() {
                // The ground point under the body centre; columns are id, Y, X.
                let (x, y) = space.grid(DVec3::new(state.position.x, state.position.y, 0.0));
                csv.push_str(&format!(
                    "{},{},{}\n",
                    scene.instances[k].instance_id,
                    round(y, 3),
                    round(x, 3)
                ));
            }
            write_file(&topdown.join(format!("topdown_{f:05}.csv")), csv.as_bytes())?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
