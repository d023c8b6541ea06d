//! The `egoexo4d` profile: one Aria wearer at a kitchen counter picking up and moving objects,
//! filmed by the worn fisheye camera and 4-5 fisheye GoPros, in Ego-Exo4D's formats
//! (formats/egoexo4d.md): `takes.json`, `captures.json`, frame-aligned MP4s, relations
//! annotations (LZ-string COCO RLE masks on every 30th frame, one ego box per object), GoPro
//! calibration CSVs, EgoPose camera poses and the Aria RGB projection.
//!
//! The Aria RGB fisheye calibration lives in VRS/MPS in the real dataset; synthetic takes carry
//! it as the `camera-rgb` record of MPS `trajectory/online_calibration.jsonl` (its field names
//! follow projectaria_tools as far as this project could tell; not checked against a real
//! file). Per-frame ego poses come from the EgoPose `camera_pose` JSON (camera-first layout,
//! the one the baselines read).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crossview_schemas::glam::DVec3;
use crossview_schemas::{CameraKind, CameraModel, ContentHasher, ImageRef, SourceKind};
use rand::Rng;
use serde_json::{Value, json};

use super::appearance::{Appearance, Pattern};
use super::body::{self, Outfit, Pose};
use super::catalog::{ObjectModel, tabletop_models};
use super::devices;
use super::driver::{
    ImageSink, Profile, SceneRender, StreamFile, SynthOptions, TreeWriter, round, to_json,
    write_file,
};
use super::images::encode_jpeg;
use super::render::InstanceRender;
use super::rig::look_at;
use super::shapes::{Placement, Shape};
use super::tabletop::{Surface, choose_models, place_objects};
use super::world::{
    BACKGROUND, FrameWorld, InstanceSpec, InstanceState, Room, SceneWorld, SynthCamera, WorldPart,
};
use crate::error::Result;
use crate::video::mjpeg_mp4;

/// Frame rate of frame-aligned videos.
pub const FPS: u32 = 30;
/// Relations masks are annotated on every 30th frame (1 fps).
pub const ANNOTATION_STEP: usize = 30;
/// Camera key of the Aria RGB stream in relations annotations.
pub const EGO_KEY: &str = "aria01_214-1";
/// Height of the counter top, metres.
const COUNTER_TOP: f64 = 0.9;

/// The Ego-Exo4D profile.
pub struct EgoExo4d;

const SCENARIOS: [(&str, &str); 4] = [
    ("Cooking", "cooking"),
    ("Making Coffee", "coffee"),
    ("Bike Repair", "bike"),
    ("Health", "covidtest"),
];
const UNIVERSITIES: [&str; 4] = ["sfu", "upenn", "iiith", "unc"];

/// Take names look like `sfu_cooking_008_3` (capture `sfu_cooking_008`, take 3).
fn take_name(index: usize) -> String {
    format!(
        "{}_{}_{:03}_{}",
        UNIVERSITIES[index % 4],
        SCENARIOS[(index / 4) % 4].1,
        index / 16 + 1,
        index % 3 + 1
    )
}

fn capture_name(take: &str) -> &str {
    take.rsplit_once('_').map_or(take, |(c, _)| c)
}

/// A stable UUID-shaped id.
fn uuid(seed: u64, what: &str, index: usize) -> String {
    let h = ContentHasher::new("crossview.synth.egoexo4d.uuid")
        .u64(seed)
        .str(what)
        .u64(index as u64)
        .finish_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Exo camera ids: `camNN` in most takes, `gpNN` in some (formats/egoexo4d.md 2).
fn exo_id(index: usize, c: usize) -> String {
    if index % 5 == 4 {
        format!("gp{:02}", c + 1)
    } else {
        format!("cam{:02}", c + 1)
    }
}

/// One scripted move: the wearer walks over, reaches for an object, carries it to a spot,
/// puts it down and lets go.
struct Move {
    object: usize,
    to: DVec3,
    start: usize,
}

const WALK: usize = 12;
const REACH: usize = 10;
const CARRY: usize = 24;
const RELEASE: usize = 8;
const MOVE_FRAMES: usize = WALK + REACH + CARRY + RELEASE;

/// Object names: the category (with spaces) and a per-category counter, e.g. `mug_1`.
fn object_names(models: &[&ObjectModel]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    models
        .iter()
        .map(|m| {
            let k = counts.entry(m.category).or_default();
            let name = format!("{}_{}", m.category.replace('_', " "), k);
            *k += 1;
            name
        })
        .collect()
}

impl Profile for EgoExo4d {
    fn kind(&self) -> SourceKind {
        SourceKind::EgoExo4d
    }

    fn default_frames(&self) -> usize {
        // Two seconds: masks on frames 0, 30 and 60.
        61
    }

    fn generate(&self, index: usize, opts: &SynthOptions) -> SceneWorld {
        let mut rng = opts.rng(SourceKind::EgoExo4d, "take", index as u64);
        let n_frames = opts.frames.unwrap_or(self.default_frames()).max(1);
        let catalog = tabletop_models();
        let len = rng.random_range(2.0..2.6);
        let surface = Surface {
            len,
            wid: 0.7,
            top: COUNTER_TOP,
        };
        // Kitchenware only: the larger packages and toys do not belong on a counter.
        let kitchen: Vec<ObjectModel> = catalog
            .iter()
            .filter(|m| matches!(m.coarse_class, 1..=4 | 7))
            .cloned()
            .collect();
        let n = rng.random_range(5..=10);
        let chosen = choose_models(n, &kitchen, &mut rng);
        let placed = place_objects(&chosen, &kitchen, &surface, &mut rng);
        let models: Vec<&ObjectModel> = placed.iter().map(|p| &kitchen[p.model]).collect();
        let names = object_names(&models);
        let mut instances: Vec<InstanceSpec> = models
            .iter()
            .zip(&names)
            .map(|(m, name)| InstanceSpec {
                instance_id: name.clone(),
                category: m.category.to_string(),
                model: m.model.clone(),
                coarse_class: m.coarse_class,
                fine_class: m.fine_class,
                is_person: false,
            })
            .collect();
        // The wearer is rendered but never annotated (relations cover objects only).
        let wearer = (instances.len() + 1) as u16;
        instances.push(InstanceSpec {
            instance_id: "wearer".into(),
            category: "person".into(),
            model: "person/0".into(),
            coarse_class: 0,
            fine_class: 0,
            is_person: true,
        });
        let build = body::random_build(&mut rng);
        let outfit = Outfit::random(&mut rng);

        // Script: consecutive moves of objects that stand on the counter.
        let mut moves = Vec::new();
        let mut t = rng.random_range(0..8);
        let movable: Vec<usize> = (0..placed.len())
            .filter(|&i| placed[i].center.z < COUNTER_TOP + 0.2)
            .collect();
        while t + MOVE_FRAMES <= n_frames && !movable.is_empty() {
            let object = movable[rng.random_range(0..movable.len())];
            let to = DVec3::new(
                rng.random_range(-len / 2.0 + 0.2..len / 2.0 - 0.2),
                rng.random_range(-0.25..0.0),
                0.0,
            );
            moves.push(Move {
                object,
                to,
                start: t,
            });
            t += MOVE_FRAMES + rng.random_range(0..10);
        }
        let mut centers: Vec<DVec3> = placed.iter().map(|p| p.center).collect();
        let rest_x = rng.random_range(-0.3..0.3);
        let mut frames = Vec::with_capacity(n_frames);
        let mut ground_x = rest_x;
        let mut look = (0.0f64, 0.6f64);
        for f in 0..n_frames {
            let active = moves
                .iter()
                .find(|m| f >= m.start && f < m.start + MOVE_FRAMES);
            let heading = std::f64::consts::FRAC_PI_2;
            let fwd = DVec3::new(0.0, 1.0, 0.0);
            let left = DVec3::new(-1.0, 0.0, 0.0);
            let mut stride = 0.0;
            let mut right_hand = None;
            let mut carried = None;
            let mut attention = DVec3::new(ground_x, 0.0, COUNTER_TOP);
            if let Some(m) = active {
                let k = f - m.start;
                let obj = centers[m.object];
                let rest = models[m.object].rest_height();
                let target_x = if k < WALK + REACH + CARRY / 2 {
                    obj.x
                } else {
                    m.to.x
                };
                if (target_x - ground_x).abs() > 0.02
                    && (k < WALK || (WALK + REACH..WALK + REACH + CARRY).contains(&k))
                {
                    ground_x += (target_x - ground_x).clamp(-0.04, 0.04);
                    stride = 0.5;
                }
                let grip = |c: DVec3| c + DVec3::Z * 0.02;
                if k < WALK {
                    attention = obj;
                } else if k < WALK + REACH {
                    let a = (k - WALK) as f64 / REACH as f64;
                    let hand_rest = DVec3::new(ground_x, -0.5, COUNTER_TOP - 0.05);
                    right_hand = Some(hand_rest.lerp(grip(obj), a));
                    attention = obj;
                } else if k < WALK + REACH + CARRY {
                    let a = (k - WALK - REACH) as f64 / CARRY as f64;
                    let from = obj;
                    let to = DVec3::new(m.to.x, m.to.y, COUNTER_TOP + rest);
                    // Lift in an arc while carrying.
                    let c = from.lerp(to, a) + DVec3::Z * (0.18 * (a * std::f64::consts::PI).sin());
                    carried = Some((m.object, c));
                    right_hand = Some(grip(c));
                    attention = c;
                } else {
                    let a = (k - WALK - REACH - CARRY) as f64 / RELEASE as f64;
                    let placed_at = DVec3::new(m.to.x, m.to.y, COUNTER_TOP + rest);
                    centers[m.object] = placed_at;
                    let hand_rest = DVec3::new(ground_x, -0.5, COUNTER_TOP - 0.05);
                    right_hand = Some(grip(placed_at).lerp(hand_rest, a));
                    attention = placed_at;
                }
            }
            if let Some((i, c)) = carried {
                centers[i] = c;
            }
            let ground = DVec3::new(ground_x, -0.35 - 0.3, 0.0);
            // The head turns towards what the hands work on, smoothly.
            let head = ground + DVec3::Z * (build.height * 0.94);
            let d = attention - head;
            let want = (
                (d.y.atan2(d.x) - heading),
                (-d.z).atan2(d.truncate().length()),
            );
            look = (
                look.0 + (want.0 - look.0) * 0.3,
                look.1 + (want.1 - look.1) * 0.3,
            );
            let left_hand = ground + fwd * 0.3 + left * 0.22 + DVec3::Z * (COUNTER_TOP - 0.02);
            let pose = Pose {
                ground,
                heading,
                phase: f as f64 * 0.35,
                stride,
                look,
                reach: Some((
                    left_hand,
                    right_hand.unwrap_or(
                        ground + fwd * 0.3 - left * 0.22 + DVec3::Z * (COUNTER_TOP - 0.02),
                    ),
                )),
            };
            let kps = body::keypoints(&build, &pose);
            let mut fw = FrameWorld::default();
            for (i, (m, p)) in models.iter().zip(&placed).enumerate() {
                let placement = Placement::upright(centers[i], p.yaw);
                fw.parts.push(WorldPart {
                    shape: m.shape,
                    placement,
                    appearance: m.appearance,
                    owner: (i + 1) as u16,
                    wearer_hidden: false,
                });
                fw.states.push(InstanceState {
                    position: centers[i],
                    extent: m.shape.extent(),
                    rotation: placement.rotation,
                    keypoints: Vec::new(),
                });
            }
            fw.parts
                .extend(body::body_parts(&build, &outfit, &pose, &kps, wearer));
            fw.states.push(body::person_state(&build, &pose, &kps));
            frames.push((fw, pose));
        }
        let mut cameras = vec![SynthCamera {
            camera_id: "aria01".into(),
            kind: CameraKind::Ego,
            // Universities record with a few Aria devices each.
            model: devices::aria_rgb(&mut opts.rng(
                SourceKind::EgoExo4d,
                "aria-device",
                (index % 4) as u64,
            )),
            poses: frames
                .iter()
                .map(|(_, p)| body::worn_camera_pose(&build, p))
                .collect(),
            wearer: Some(wearer),
        }];
        let n_exo = rng.random_range(4..=5);
        for c in 0..n_exo {
            // Around the counter; some behind the wearer, whose body then hides objects.
            let angle = -std::f64::consts::FRAC_PI_2
                + std::f64::consts::TAU * c as f64 / n_exo as f64
                + rng.random_range(-0.3..0.3);
            let r = rng.random_range(1.8..2.6);
            let eye = DVec3::new(r * angle.cos(), r * angle.sin(), rng.random_range(1.5..2.2));
            let target = DVec3::new(
                rng.random_range(-0.4..0.4),
                rng.random_range(-0.3..0.1),
                COUNTER_TOP - 0.1,
            );
            cameras.push(SynthCamera {
                camera_id: exo_id(index, c),
                kind: CameraKind::Exo,
                model: devices::gopro(&mut opts.rng(
                    SourceKind::EgoExo4d,
                    "gopro",
                    ((c + 5 * (index % 4)) % 10) as u64,
                )),
                poses: vec![look_at(eye, target, rng.random_range(-0.03..0.03))],
                wearer: None,
            });
        }
        let wood = [[0.6, 0.45, 0.3], [0.85, 0.85, 0.82], [0.3, 0.3, 0.32]][rng.random_range(0..3)];
        let background = vec![WorldPart {
            shape: Shape::Cuboid {
                half: DVec3::new(len / 2.0, 0.35, COUNTER_TOP / 2.0),
            },
            placement: Placement::upright(DVec3::new(0.0, 0.0, COUNTER_TOP / 2.0), 0.0),
            appearance: Appearance {
                base: wood,
                accent: [wood[0] * 0.85, wood[1] * 0.85, wood[2] * 0.85],
                pattern: Pattern::Stripes {
                    axis: 0,
                    period: 0.05,
                },
                grain: 0.05,
            },
            owner: BACKGROUND,
            wearer_hidden: false,
        }];
        let split = match rng.random_range(0..10) {
            0..=5 => "train",
            6..=7 => "val",
            _ => "test",
        };
        SceneWorld {
            index,
            native_id: take_name(index),
            source_split: split.into(),
            group: capture_name(&take_name(index)).to_string(),
            instances,
            room: Some(Room {
                min: DVec3::new(-3.2, -3.0, 0.0),
                max: DVec3::new(3.2, 1.2, 2.8),
                floor: Appearance {
                    base: [0.6, 0.58, 0.55],
                    accent: [0.5, 0.48, 0.45],
                    pattern: Pattern::Checker { period: 0.3 },
                    grain: 0.04,
                },
                walls: Appearance {
                    base: [0.9, 0.9, 0.85],
                    accent: [0.75, 0.8, 0.85],
                    pattern: Pattern::Checker { period: 0.15 },
                    grain: 0.02,
                },
                ceiling: Appearance::solid([0.95, 0.95, 0.95]),
            }),
            background,
            frames: frames.into_iter().map(|(fw, _)| fw).collect(),
            fps: f64::from(FPS),
            cameras,
            light: DVec3::new(-0.2, 0.3, -1.0).normalize(),
        }
    }

    fn image_sink(
        &self,
        root: &Path,
        scene: &SceneWorld,
        camera: usize,
        size: (u32, u32),
    ) -> Result<Box<dyn ImageSink>> {
        Ok(Box::new(VideoSink {
            path: root
                .join(take_dir(scene))
                .join(video_rel(&scene.cameras[camera])),
            size,
            frames: Vec::new(),
        }))
    }

    fn frame_image(&self, scene: &SceneWorld, camera: usize, frame: usize) -> ImageRef {
        ImageRef::VideoFrame {
            path: take_dir(scene)
                .join(video_rel(&scene.cameras[camera]))
                .to_string_lossy()
                .into_owned(),
            frame: frame as u32,
        }
    }

    fn annotated(
        &self,
        scene: &SceneWorld,
        _camera: usize,
        _model: &CameraModel,
        frame: usize,
        r: &InstanceRender,
    ) -> bool {
        is_object(scene, r.owner) && frame.is_multiple_of(ANNOTATION_STEP) && r.modal_area > 0
    }

    fn renders_frame(&self, frame: usize, images: bool) -> bool {
        images || frame.is_multiple_of(ANNOTATION_STEP)
    }

    fn needs_masks(&self) -> bool {
        true
    }

    fn tree_writer(&self, root: &Path, opts: &SynthOptions) -> Result<Box<dyn TreeWriter>> {
        Ok(Box::new(TakeWriter {
            root: root.to_path_buf(),
            seed: opts.seed,
            takes: Vec::new(),
            captures: BTreeMap::new(),
            relations: BTreeMap::new(),
        }))
    }
}

fn is_object(scene: &SceneWorld, owner: u16) -> bool {
    !scene.instances[usize::from(owner) - 1].is_person
}

fn take_dir(scene: &SceneWorld) -> PathBuf {
    PathBuf::from("takes").join(&scene.native_id)
}

/// `frame_aligned_videos/aria01_214-1.mp4` for the Aria RGB stream, `.../<cam>.mp4` for exo.
fn video_rel(cam: &SynthCamera) -> PathBuf {
    let name = match cam.kind {
        CameraKind::Ego => format!("{}_214-1.mp4", cam.camera_id),
        CameraKind::Exo => format!("{}.mp4", cam.camera_id),
    };
    PathBuf::from("frame_aligned_videos").join(name)
}

/// Collects a camera's frames as JPEGs and writes its MP4 at the end.
struct VideoSink {
    path: PathBuf,
    size: (u32, u32),
    frames: Vec<Vec<u8>>,
}

impl ImageSink for VideoSink {
    fn put(&mut self, _frame: usize, rgb: &[u8]) -> Result<()> {
        self.frames
            .push(encode_jpeg(&self.path, rgb, self.size.0, self.size.1)?);
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let bytes = mjpeg_mp4(&self.frames, self.size.0, self.size.1, FPS)?;
        write_file(&self.path, &bytes)
    }
}

/// Accumulates takes.json, captures.json and the relations files; writes per-take files as it goes.
struct TakeWriter {
    root: PathBuf,
    seed: u64,
    takes: Vec<Value>,
    captures: BTreeMap<String, Value>,
    /// Per split: (file, whether the next entry is the first).
    relations: BTreeMap<String, (StreamFile, bool)>,
}

impl TakeWriter {
    fn relations_file(&mut self, split: &str) -> Result<&mut (StreamFile, bool)> {
        if !self.relations.contains_key(split) {
            let path = self
                .root
                .join("annotations")
                .join(format!("relations_{split}.json"));
            let mut f = StreamFile::create(&path)?;
            f.write("{\"annotations\": {")?;
            self.relations.insert(split.to_string(), (f, true));
        }
        Ok(self
            .relations
            .get_mut(split)
            .unwrap_or_else(|| unreachable!("inserted above")))
    }
}

/// 3x3 row-major intrinsic matrix.
fn k_matrix(m: &CameraModel) -> Value {
    let ((fx, fy), (cx, cy)) = (m.focal(), m.principal_point());
    json!([
        [round(fx, 6), 0.0, round(cx, 6)],
        [0.0, round(fy, 6), round(cy, 6)],
        [0.0, 0.0, 1.0]
    ])
}

/// 3x4 row-major `[R|t]`.
fn rt_matrix(p: &crossview_schemas::WorldToCamera) -> Value {
    let r = p.rotation.to_row_major();
    let t = p.translation;
    json!([
        [
            round(r[0], 10),
            round(r[1], 10),
            round(r[2], 10),
            round(t.x, 10)
        ],
        [
            round(r[3], 10),
            round(r[4], 10),
            round(r[5], 10),
            round(t.y, 10)
        ],
        [
            round(r[6], 10),
            round(r[7], 10),
            round(r[8], 10),
            round(t.z, 10)
        ],
    ])
}

impl TreeWriter for TakeWriter {
    fn add_scene(&mut self, scene: &SceneWorld, render: &SceneRender) -> Result<()> {
        let take_uid = uuid(self.seed, "take", scene.index);
        let capture_uid = uuid(self.seed, "capture", scene.index);
        let take = &scene.native_id;
        let capture = capture_name(take);
        let dir = self.root.join(take_dir(scene));
        let (scenario, _) = SCENARIOS[(scene.index / 4) % 4];
        let n_frames = scene.frames.len();

        // Cameras of the capture, and the take's frame-aligned videos.
        let mut cams = Vec::new();
        let mut videos = serde_json::Map::new();
        for cam in &scene.cameras {
            let ego = cam.kind == CameraKind::Ego;
            cams.push(json!({"cam_id": cam.camera_id, "is_ego": ego, "device_type": if ego { "aria" } else { "hero10" },
                             "has_walkaround": !ego, "includes_audio": ego, "relative_path": format!("videos/{}", cam.camera_id),
                             "video_artifact_uid": uuid(self.seed, &cam.camera_id, scene.index)}));
            let rel = video_rel(cam).to_string_lossy().into_owned();
            let (key, stream, readable) = if ego {
                ("rgb", "214-1", "rgb")
            } else {
                ("0", "0", "0")
            };
            videos.insert(
                cam.camera_id.clone(),
                json!({key: {"cam_id": cam.camera_id, "stream_id": stream, "readable_stream_id": readable,
                             "clip_uid": uuid(self.seed, &format!("clip-{}", cam.camera_id), scene.index), "relative_path": rel}}),
            );
        }
        let exo: Vec<&SynthCamera> = scene
            .cameras
            .iter()
            .filter(|c| c.kind == CameraKind::Exo)
            .collect();
        let best_exo = exo.first().map(|c| c.camera_id.clone());
        for pseudo in ["collage", "best_exo"] {
            videos.insert(
                pseudo.into(),
                json!({"0": {"cam_id": pseudo, "stream_id": "0", "readable_stream_id": "0", "clip_uid": null, "relative_path": null}}),
            );
        }
        let capture_obj = json!({"capture_name": capture, "root_dir": format!("captures/{capture}"), "university_name": capture.split('_').next(),
                                 "physical_setting_uid": scene.index % 7, "ds_recorded": "2023-01-01", "has_trajectory": true,
                                 "has_gaze": false, "has_postsurvey": false, "timesync_validated": true, "validated": true,
                                 "timesync_uid": uuid(self.seed, "timesync", scene.index), "capture_uid": capture_uid, "cameras": cams});
        self.captures
            .insert(capture.to_string(), capture_obj.clone());
        self.takes.push(json!({
            "take_uid": take_uid, "take_name": take, "root_dir": take_dir(scene).to_string_lossy(),
            "capture_uid": capture_uid, "university_name": capture.split('_').next(), "participant_uid": 100 + scene.index,
            "task_name": scenario, "parent_task_name": scenario, "parent_task_id": (scene.index / 4) % 4,
            "take_idx": scene.index % 3 + 1, "duration_sec": round(n_frames as f64 / f64::from(FPS), 4),
            "best_exo": best_exo, "task_start_sec": 0.0, "task_end_sec": round(n_frames as f64 / f64::from(FPS), 4),
            "is_narrated": false, "is_dropped": false, "validated": true, "physical_setting_uid": scene.index % 7,
            "timesync_start_idx": 10, "timesync_end_idx": 10 + n_frames + 1,
            "capture": capture_obj, "frame_aligned_videos": videos,
        }));

        // GoPro calibration (camera-to-world, metres, KB3), at the written video size.
        let mut csv = String::from(
            "cam_uid,graph_uid,tx_world_cam,ty_world_cam,tz_world_cam,qx_world_cam,qy_world_cam,qz_world_cam,qw_world_cam,image_width,image_height,intrinsics_type,intrinsics_0,intrinsics_1,intrinsics_2,intrinsics_3,intrinsics_4,intrinsics_5,intrinsics_6,intrinsics_7,start_frame_idx,end_frame_idx,source,quality\n",
        );
        let graph = uuid(self.seed, "graph", scene.index);
        for (c, cam) in scene.cameras.iter().enumerate() {
            if cam.kind != CameraKind::Exo {
                continue;
            }
            let m = &render.cameras[c].model;
            let pose = cam.pose(0).inverse();
            let q = pose.rotation.to_quat_xyzw();
            let ((fx, fy), (cx, cy)) = (m.focal(), m.principal_point());
            let k = m.distortion().coefficients();
            csv.push_str(&format!(
                "{},{graph},{},{},{},{},{},{},{},{},{},KANNALABRANDTK3,{},{},{},{},{},{},{},{},-1,-1,manual,1.0\n",
                cam.camera_id,
                round(pose.center.x, 9),
                round(pose.center.y, 9),
                round(pose.center.z, 9),
                round(q[0], 12),
                round(q[1], 12),
                round(q[2], 12),
                round(q[3], 12),
                m.width(),
                m.height(),
                round(fx, 6),
                round(fy, 6),
                round(cx, 6),
                round(cy, 6),
                round(k[0], 10),
                round(k[1], 10),
                round(k[2], 10),
                round(k[3], 10)
            ));
        }
        write_file(&dir.join("trajectory/gopro_calibs.csv"), csv.as_bytes())?;

        // The Aria RGB projection (sensor orientation) as MPS online calibration.
        let ego = scene
            .cameras
            .iter()
            .position(|c| c.kind == CameraKind::Ego)
            .unwrap_or(0);
        let em = &render.cameras[ego].model;
        let ((f, _), (cu, cv)) = (em.focal(), em.principal_point());
        let params: Vec<f64> = [f, cu, cv]
            .into_iter()
            .chain(em.distortion().coefficients())
            .map(|v| round(v, 10))
            .collect();
        let calib = json!({
            "tracking_timestamp_us": 0, "utc_timestamp_ns": 0,
            "CameraCalibrations": [{
                "Label": "camera-rgb",
                "Projection": {"Name": "FisheyeRadTanThinPrism", "Params": params},
                "ImageSize": [em.height(), em.width()],
                "T_Device_Camera": {"Translation": [0.0, 0.0, 0.0], "UnitQuaternion": [1.0, [0.0, 0.0, 0.0]]},
            }],
            "ImuCalibrations": [],
        });
        let path = dir.join("trajectory/online_calibration.jsonl");
        write_file(&path, format!("{}\n", to_json(&path, &calib)?).as_bytes())?;

        // EgoPose camera poses, camera-first layout (world-to-camera 3x4 per frame for Aria).
        let mut cp = serde_json::Map::new();
        cp.insert(
            "metadata".into(),
            json!({"take_uid": take_uid, "take_name": take}),
        );
        for (c, cam) in scene.cameras.iter().enumerate() {
            let entry = match cam.kind {
                CameraKind::Ego => {
                    let per_frame: serde_json::Map<String, Value> = (0..n_frames)
                        .map(|f| (f.to_string(), rt_matrix(cam.pose(f))))
                        .collect();
                    // The undistorted 512x512 linear camera the 2D annotations live in.
                    json!({"camera_intrinsics": [[150.0, 0.0, 255.5], [0.0, 150.0, 255.5], [0.0, 0.0, 1.0]],
                           "camera_extrinsics": per_frame})
                }
                CameraKind::Exo => json!({"camera_intrinsics": k_matrix(&render.cameras[c].model),
                                          "camera_extrinsics": rt_matrix(cam.pose(0))}),
            };
            cp.insert(cam.camera_id.clone(), entry);
        }
        let path = self
            .root
            .join("annotations/ego_pose")
            .join(&scene.source_split)
            .join("camera_pose")
            .join(format!("{take_uid}.json"));
        write_file(&path, to_json(&path, &Value::Object(cp))?.as_bytes())?;

        // Relations: masks on annotated frames; a listed frame without a mask = not visible.
        let annotated_frames: Vec<usize> = (0..n_frames).step_by(ANNOTATION_STEP).collect();
        let mut object_masks = serde_json::Map::new();
        let mut ego_boxes = Vec::new();
        for (k, inst) in scene.instances.iter().enumerate() {
            if inst.is_person {
                continue;
            }
            let owner = (k + 1) as u16;
            let mut per_cam = serde_json::Map::new();
            for (c, cam) in scene.cameras.iter().enumerate() {
                let cr = &render.cameras[c];
                let mut ann = serde_json::Map::new();
                for (&f, view) in cr.frame_indices.iter().zip(&cr.frames) {
                    if !f.is_multiple_of(ANNOTATION_STEP) {
                        continue;
                    }
                    let Some(r) = view
                        .instances
                        .iter()
                        .find(|r| r.owner == owner && r.modal_area > 0)
                    else {
                        continue;
                    };
                    let rle = match &r.modal {
                        Some(m) => m.clone(),
                        None => continue, // masks only exist when rendered at full resolution
                    };
                    let click = r.probe.map(|p| json!({"x": round(f64::from(p.1[0]), 2), "y": round(f64::from(p.1[1]), 2), "timestamp": 0}));
                    ann.insert(
                        f.to_string(),
                        json!({"width": cr.model.width(), "height": cr.model.height(), "encodedMask": rle.to_lz_encoded(),
                               "intSegClicks": {"positive": click.into_iter().collect::<Vec<_>>(), "negative": [],
                                                "upperLeft": [], "bottomRight": [], "unlabeled": []}}),
                    );
                    let boxed = ego_boxes
                        .iter()
                        .any(|b: &Value| b["track_id"] == json!(inst.instance_id));
                    if let (CameraKind::Ego, false, Some(b)) = (cam.kind, boxed, r.bbox) {
                        // One ego box per object track: where it is first seen.
                        ego_boxes.push(json!({"x": b.x1(), "y": b.y1(), "width": b.width(), "height": b.height(), "rotation": 0,
                                              "original_width": cr.model.width(), "original_height": cr.model.height(),
                                              "frameNumber": f, "endInterpolation": true, "interpolated": false,
                                              "track_id": inst.instance_id, "milo_type": "NONE"}));
                    }
                }
                let key = if cam.kind == CameraKind::Ego {
                    EGO_KEY.to_string()
                } else {
                    cam.camera_id.clone()
                };
                per_cam.insert(
                    key,
                    json!({"annotation": ann, "annotation_metadata": {"annotation_uid": uuid(self.seed, &format!("{}-{c}", inst.instance_id), scene.index)},
                           "annotation_fps": 1, "annotated_frames": annotated_frames}),
                );
            }
            object_masks.insert(inst.instance_id.clone(), Value::Object(per_cam));
        }
        let entry = json!({
            "scenario": scenario, "take_name": take,
            "object_names": {"annotation": ego_boxes, "annotation_metadata": {"annotation_uid": uuid(self.seed, "names", scene.index)},
                             "annotation_fps": 30},
            "object_masks": object_masks,
        });
        let path = self
            .root
            .join("annotations")
            .join(format!("relations_{}.json", scene.source_split));
        let text = format!(
            "{}: {}",
            to_json(&path, &json!(take_uid))?,
            to_json(&path, &entry)?
        );
        let (file, first) = self.relations_file(&scene.source_split)?;
        file.write(&format!("{}{text}", if *first { "" } else { ", " }))?;
        *first = false;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        // Only splits that received takes get a relations file (none ships empty).
        for (_, (mut f, _)) in std::mem::take(&mut self.relations) {
            f.write("}}\n")?;
            f.commit()?;
        }
        let path = self.root.join("takes.json");
        write_file(
            &path,
            to_json(&path, &Value::Array(std::mem::take(&mut self.takes)))?.as_bytes(),
        )?;
        let path = self.root.join("captures.json");
        let captures: Vec<Value> = std::mem::take(&mut self.captures).into_values().collect();
        write_file(&path, to_json(&path, &Value::Array(captures))?.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_dataset() {
        assert_eq!(take_name(0), "sfu_cooking_001_1");
        assert_eq!(capture_name("sfu_cooking_008_3"), "sfu_cooking_008");
        let u = uuid(1, "take", 2);
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
        let m = tabletop_models();
        let mugs = [&m[8], &m[8], &m[9]];
        assert_eq!(object_names(&mugs), vec!["mug_0", "mug_1", "mug_2"]);
    }
}
