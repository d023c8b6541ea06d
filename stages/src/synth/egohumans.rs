//! The `egohumans` profile: 2-4 people wearing Aria glasses (moving fisheye ego cameras, images
//! stored upright) in an activity, watched by fisheye exo cameras, in EgoHumans' formats
//! (formats/egohumans.md): the raw per-sequence calibration (Aria calib text per time stamp,
//! COLMAP text model) and the benchmark COCO keypoint and tracking JSONs.
//!
//! Frames: the anchor wearer's (aria01) world is the truth world. Every other Aria has its own
//! SLAM world (a random rigid transform of it) and COLMAP its own frame (a random similarity),
//! tied together by `colmap_from_aria_transforms`, which is written in the JSON form the
//! pickled original is converted to (formats/egohumans.md 3.3: Rust cannot read the pickle).

use std::path::{Path, PathBuf};

use crossview_schemas::glam::{DMat3, DMat4, DVec3};
use crossview_schemas::{CameraKind, CameraModel, ImageRef, Rotation, SourceKind, WorldToCamera};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::appearance::{Appearance, Pattern};
use super::body::{self, COCO17_NAMES, Outfit, Pose};
use super::devices;
use super::driver::{
    ImageSink, Profile, SceneRender, StreamFile, SynthOptions, TreeWriter, round, to_json,
    write_file,
};
use super::images::JpegFiles;
use super::render::InstanceRender;
use super::rig::look_at;
use super::shapes::{Placement, Shape};
use super::walk::{Floor, simulate};
use super::world::{BACKGROUND, InstanceSpec, Room, SceneWorld, SynthCamera, WorldPart};
use crate::error::Result;

/// Activities (big sequences), in the repository's numbering.
pub const ACTIVITIES: [&str; 7] = [
    "tagging",
    "legoassemble",
    "fencing",
    "basketball",
    "volleyball",
    "badminton",
    "tennis",
];
/// Frames per second of the synthetic sequences (the dataset's rate is unconfirmed).
pub const FPS: f64 = 20.0;

/// The EgoHumans profile.
pub struct EgoHumans;

/// Frames of one sequence, beyond the world the renderer sees.
struct Frames {
    /// Aria i's world from the anchor world (rigid).
    aria_from_anchor: Vec<DMat4>,
    /// COLMAP frame from the anchor world (similarity).
    colmap_from_anchor: DMat4,
}

fn rigid(rng: &mut ChaCha8Rng, scale: f64) -> DMat4 {
    let r = DMat3::from_rotation_z(rng.random_range(-3.1..3.1))
        * DMat3::from_rotation_x(rng.random_range(-0.3..0.3))
        * DMat3::from_rotation_y(rng.random_range(-0.3..0.3));
    let t = DVec3::new(
        rng.random_range(-5.0..5.0),
        rng.random_range(-5.0..5.0),
        rng.random_range(-2.0..2.0),
    );
    DMat4::from_cols(
        (r.x_axis * scale).extend(0.0),
        (r.y_axis * scale).extend(0.0),
        (r.z_axis * scale).extend(0.0),
        t.extend(1.0),
    )
}

fn frames_of(opts: &SynthOptions, index: usize, wearers: usize) -> Frames {
    let mut rng = opts.rng(SourceKind::EgoHumans, "frames", index as u64);
    let mut aria_from_anchor = vec![DMat4::IDENTITY];
    for _ in 1..wearers {
        aria_from_anchor.push(rigid(&mut rng, 1.0));
    }
    let scale = rng.random_range(0.7..1.4);
    Frames {
        aria_from_anchor,
        colmap_from_anchor: rigid(&mut rng, scale),
    }
}

fn big_sequence(index: usize) -> String {
    let a = index % ACTIVITIES.len();
    format!("{:02}_{}", a + 1, ACTIVITIES[a])
}

fn sequence(index: usize) -> String {
    format!(
        "{:03}_{}",
        index / ACTIVITIES.len() + 1,
        ACTIVITIES[index % ACTIVITIES.len()]
    )
}

impl Profile for EgoHumans {
    fn kind(&self) -> SourceKind {
        SourceKind::EgoHumans
    }

    fn default_frames(&self) -> usize {
        20
    }

    fn generate(&self, index: usize, opts: &SynthOptions) -> SceneWorld {
        let mut rng = opts.rng(SourceKind::EgoHumans, "scene", index as u64);
        let activity = ACTIVITIES[index % ACTIVITIES.len()];
        let n = rng.random_range(2..=4);
        let frames_n = opts.frames.unwrap_or(self.default_frames()).max(1);
        let (hx, hy) = match activity {
            "legoassemble" | "fencing" => (3.0, 2.5),
            "tennis" | "basketball" => (8.0, 5.0),
            _ => (5.5, 4.0),
        };
        let outdoor = matches!(activity, "tennis" | "tagging");
        let court = [[0.7, 0.5, 0.3], [0.3, 0.5, 0.35], [0.45, 0.45, 0.5]][rng.random_range(0..3)];
        let room = Room {
            min: DVec3::new(-hx - 4.0, -hy - 4.0, 0.0),
            max: DVec3::new(hx + 4.0, hy + 4.0, if outdoor { 30.0 } else { 8.0 }),
            floor: Appearance {
                base: court,
                accent: [0.95, 0.95, 0.95],
                pattern: Pattern::Stripes {
                    axis: 0,
                    period: 1.7,
                },
                grain: 0.05,
            },
            walls: Appearance::solid(if outdoor {
                [0.55, 0.65, 0.5]
            } else {
                [0.8, 0.78, 0.72]
            }),
            ceiling: Appearance::solid(if outdoor {
                [0.6, 0.72, 0.9]
            } else {
                [0.9, 0.9, 0.88]
            }),
        };
        let mut background = Vec::new();
        let mut obstacles = Vec::new();
        if activity == "legoassemble" {
            background.push(WorldPart {
                shape: Shape::Cuboid {
                    half: DVec3::new(0.6, 0.4, 0.37),
                },
                placement: Placement::upright(DVec3::new(0.0, 0.0, 0.37), 0.0),
                appearance: Appearance::solid([0.85, 0.85, 0.8]),
                owner: BACKGROUND,
                wearer_hidden: false,
            });
            obstacles.push([-0.95, -0.75, 0.95, 0.75]);
        } else if matches!(activity, "tennis" | "volleyball" | "badminton") {
            background.push(WorldPart {
                shape: Shape::Cuboid {
                    half: DVec3::new(0.02, hy, 0.5),
                },
                placement: Placement::upright(DVec3::new(0.0, 0.0, 0.6), 0.0),
                appearance: Appearance {
                    base: [0.15, 0.15, 0.15],
                    accent: [0.9, 0.9, 0.9],
                    pattern: Pattern::Checker { period: 0.05 },
                    grain: 0.0,
                },
                owner: BACKGROUND,
                wearer_hidden: false,
            });
            obstacles.push([-0.3, -hy - 1.0, 0.3, hy + 1.0]);
        }
        let floor = Floor {
            area: [-hx, -hy, hx, hy],
            obstacles,
        };
        let builds: Vec<body::Build> = (0..n).map(|_| body::random_build(&mut rng)).collect();
        let outfits: Vec<Outfit> = (0..n).map(|_| Outfit::random(&mut rng)).collect();
        let walk = simulate(&floor, n, frames_n, FPS, &mut rng);
        let phases: Vec<(f64, f64)> = (0..n)
            .map(|_| (rng.random_range(0.0..6.3), rng.random_range(0.5..1.5)))
            .collect();
        let pitch0 = if activity == "legoassemble" {
            0.6
        } else {
            0.25
        };
        // Head motion: the wearers look around while they move.
        let poses: Vec<Vec<Pose>> = walk
            .into_iter()
            .enumerate()
            .map(|(f, frame)| {
                frame
                    .into_iter()
                    .enumerate()
                    .map(|(k, mut p)| {
                        let t = f as f64 / FPS;
                        let (ph, w) = phases[k];
                        p.look = (
                            0.5 * (w * t + ph).sin(),
                            pitch0 + 0.12 * (1.7 * w * t + ph).cos(),
                        );
                        if activity == "legoassemble" {
                            let fwd = DVec3::new(p.heading.cos(), p.heading.sin(), 0.0);
                            let left = DVec3::new(-p.heading.sin(), p.heading.cos(), 0.0);
                            let hand = p.ground + fwd * 0.35 + DVec3::Z * 0.85;
                            p.reach = Some((hand + left * 0.12, hand - left * 0.12));
                        }
                        p
                    })
                    .collect()
            })
            .collect();
        let mut cameras = Vec::new();
        for k in 0..n {
            // A few glasses serve every sequence: each wearer slot has its device.
            let model =
                devices::aria_rgb(&mut opts.rng(SourceKind::EgoHumans, "aria-device", k as u64));
            cameras.push(SynthCamera {
                camera_id: format!("aria{:02}", k + 1),
                kind: CameraKind::Ego,
                model,
                poses: poses
                    .iter()
                    .map(|frame| body::worn_camera_pose(&builds[k], &frame[k]))
                    .collect(),
                wearer: Some((k + 1) as u16),
            });
        }
        let n_exo = rng.random_range(4..=8);
        for c in 0..n_exo {
            let angle =
                std::f64::consts::TAU * c as f64 / n_exo as f64 + rng.random_range(-0.2..0.2);
            let eye = DVec3::new(
                (hx + 1.5) * angle.cos(),
                (hy + 1.5) * angle.sin(),
                rng.random_range(1.2..2.6),
            );
            let target = DVec3::new(
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                0.9,
            );
            cameras.push(SynthCamera {
                camera_id: format!("cam{:02}", c + 1),
                kind: CameraKind::Exo,
                // The exo rig of an activity reuses a pool of eight calibrated GoPros.
                model: devices::gopro(&mut opts.rng(
                    SourceKind::EgoHumans,
                    "gopro",
                    ((c + index) % 8) as u64,
                )),
                poses: vec![look_at(eye, target, rng.random_range(-0.03..0.03))],
                wearer: None,
            });
        }
        let instances = (0..n)
            .map(|k| InstanceSpec {
                instance_id: format!("aria{:02}", k + 1),
                category: "person".into(),
                model: format!("person/{k}"),
                coarse_class: 1,
                fine_class: 1,
                is_person: true,
            })
            .collect();
        let frames = poses
            .iter()
            .map(|frame| body::people_frame(&builds, &outfits, frame))
            .collect();
        SceneWorld {
            index,
            native_id: format!("{}/{}", big_sequence(index), sequence(index)),
            source_split: if index % 7 == 2 {
                "test".into()
            } else {
                "train".into()
            },
            group: big_sequence(index),
            instances,
            room: Some(room),
            background,
            frames,
            fps: FPS,
            cameras,
            light: DVec3::new(0.3, -0.2, -1.0).normalize(),
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
        let (native_id, cam) = (scene.native_id.clone(), scene.cameras[camera].clone());
        Ok(Box::new(JpegFiles {
            path_of: move |f| root.join(image_rel(&native_id, &cam.camera_id, cam.kind, f)),
            size,
        }))
    }

    fn frame_image(&self, scene: &SceneWorld, camera: usize, frame: usize) -> ImageRef {
        let cam = &scene.cameras[camera];
        ImageRef::File(
            image_rel(&scene.native_id, &cam.camera_id, cam.kind, frame)
                .to_string_lossy()
                .into_owned(),
        )
    }

    fn annotated(
        &self,
        scene: &SceneWorld,
        camera: usize,
        model: &CameraModel,
        frame: usize,
        r: &InstanceRender,
    ) -> bool {
        coco_person(scene, camera, model, frame, usize::from(r.owner) - 1).is_some()
    }

    fn tree_writer(&self, root: &Path, opts: &SynthOptions) -> Result<Box<dyn TreeWriter>> {
        let seqs: Vec<String> = (0..opts.scenes.min(ACTIVITIES.len()))
            .map(big_sequence)
            .collect();
        let bench = PathBuf::from("benchmark").join(seqs.join(":")).join("all");
        Ok(Box::new(CocoWriter {
            root: root.to_path_buf(),
            opts: opts.clone(),
            bench: bench.clone(),
            files: [
                CocoFile::new(root, &bench, "coco/person_keypoints_exo.json", false)?,
                CocoFile::new(root, &bench, "coco/person_keypoints_ego_rgb.json", false)?,
                CocoFile::new(root, &bench, "coco_track/tracking_exo.json", true)?,
                CocoFile::new(root, &bench, "coco_track/tracking_ego_rgb.json", true)?,
            ],
        }))
    }
}

/// Image path relative to the data root; time stamps are 1-based.
fn image_rel(native_id: &str, camera_id: &str, kind: CameraKind, frame: usize) -> PathBuf {
    let t = format!("{:05}.jpg", frame + 1);
    match kind {
        CameraKind::Ego => PathBuf::from(native_id)
            .join("ego")
            .join(camera_id)
            .join("images")
            .join("rgb")
            .join(t),
        CameraKind::Exo => PathBuf::from(native_id)
            .join("exo")
            .join(camera_id)
            .join("images")
            .join(t),
    }
}

/// One person's annotation in one view of the benchmark COCO files.
pub struct CocoPerson {
    /// 17 x (x, y, v), integers.
    pub keypoints: Vec<i64>,
    /// `[x, y, w, h]`, integers.
    pub bbox: [i64; 4],
    /// Keypoints with v = 2.
    pub num_keypoints: usize,
}

/// A person's COCO annotation in one view, as the benchmark converter makes it: keypoints
/// projected into the stored image (v = 2 when inside it, else 0; no occlusion reasoning),
/// the box their extent scaled 1.4x about its centre, `x, y = max(1, .)`, truncated to
/// integers, not clipped on the right or bottom. At least 5 keypoints must be inside, and a
/// wearer is not annotated in their own glasses.
pub fn coco_person(
    scene: &SceneWorld,
    camera: usize,
    model: &CameraModel,
    frame: usize,
    person: usize,
) -> Option<CocoPerson> {
    let cam = &scene.cameras[camera];
    if cam.wearer == Some((person + 1) as u16) {
        return None;
    }
    let pose = cam.pose(frame);
    let state = &scene.frames[frame].states[person];
    let (w, h) = (f64::from(model.width()), f64::from(model.height()));
    let mut kps = Vec::with_capacity(51);
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    let mut valid = 0;
    for p in &state.keypoints {
        let proj = model.project_world(pose, *p).filter(|(_, z)| *z > 0.05);
        match proj {
            Some((px, _)) if px.x >= 0.0 && px.y >= 0.0 && px.x < w && px.y < h => {
                kps.extend([px.x.round() as i64, px.y.round() as i64, 2]);
                lo = [lo[0].min(px.x), lo[1].min(px.y)];
                hi = [hi[0].max(px.x), hi[1].max(px.y)];
                valid += 1;
            }
            Some((px, _)) if px.is_finite() => {
                kps.extend([px.x.round() as i64, px.y.round() as i64, 0])
            }
            _ => kps.extend([0, 0, 0]),
        }
    }
    if valid < 5 {
        return None;
    }
    let (cx, cy) = ((lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0);
    let (bw, bh) = ((hi[0] - lo[0]) * 1.4, (hi[1] - lo[1]) * 1.4);
    let x = (cx - bw / 2.0).max(1.0);
    let y = (cy - bh / 2.0).max(1.0);
    Some(CocoPerson {
        keypoints: kps,
        bbox: [x as i64, y as i64, bw as i64, bh as i64],
        num_keypoints: valid,
    })
}

/// One of the four benchmark JSONs, streamed (images and annotations go to two temporary
/// buffers, then the file is assembled in [`CocoFile::finish`]).
struct CocoFile {
    path: PathBuf,
    tracking: bool,
    images: Vec<String>,
    annotations: Vec<String>,
    videos: Vec<String>,
    next_image: usize,
    next_annotation: usize,
}

impl CocoFile {
    fn new(root: &Path, bench: &Path, rel: &str, tracking: bool) -> Result<Self> {
        Ok(CocoFile {
            path: root.join(bench).join(rel),
            tracking,
            images: Vec::new(),
            annotations: Vec::new(),
            videos: Vec::new(),
            next_image: 0,
            next_annotation: 0,
        })
    }

    fn finish(self) -> Result<()> {
        let mut f = StreamFile::create(&self.path)?;
        let p = &self.path;
        if self.tracking {
            f.write(&format!(
                "{{\"categories\": [{{\"id\": 0, \"name\": \"pedestrian\"}}], \"videos\": [{}], \"images\": [{}], \"annotations\": [{}], \"video_num\": {}, \"image_num\": {}, \"instance_num\": {}}}\n",
                self.videos.join(", "),
                self.images.join(", "),
                self.annotations.join(", "),
                self.videos.len(),
                self.images.len(),
                self.annotations.len()
            ))?;
        } else {
            let categories = to_json(
                p,
                &json!([{
                    "supercategory": "person", "id": 1, "name": "person", "keypoints": COCO17_NAMES,
                    "skeleton": [[16,14],[14,12],[17,15],[15,13],[12,13],[6,12],[7,13],[6,7],[6,8],[7,9],[8,10],[9,11],[2,3],[1,2],[1,3],[2,4],[3,5],[4,6],[5,7]],
                }]),
            )?;
            f.write(&format!(
                "{{\"info\": {{\"description\": \"EgoHumans (crossview synthetic)\"}}, \"licenses\": [{{\"id\": 1}}], \"categories\": {categories}, \"images\": [{}], \"annotations\": [{}], \"image_num\": {}, \"instance_num\": {}}}\n",
                self.images.join(", "),
                self.annotations.join(", "),
                self.images.len(),
                self.annotations.len()
            ))?;
        }
        f.commit()
    }
}

/// Writes the raw calibration per sequence and accumulates the benchmark JSONs.
struct CocoWriter {
    root: PathBuf,
    opts: SynthOptions,
    bench: PathBuf,
    /// exo keypoints, ego keypoints, exo tracking, ego tracking.
    files: [CocoFile; 4],
}

fn mat4_rows(m: &DMat4) -> Vec<Vec<f64>> {
    let rows = m.transpose().to_cols_array_2d();
    rows.iter()
        .map(|r| r.iter().map(|v| round(*v, 10)).collect())
        .collect()
}

/// A world-to-camera transform as a 4x4 matrix.
fn pose_mat(p: &WorldToCamera) -> DMat4 {
    let r = p.rotation.matrix();
    DMat4::from_cols(
        r.x_axis.extend(0.0),
        r.y_axis.extend(0.0),
        r.z_axis.extend(0.0),
        p.translation.extend(1.0),
    )
}

impl CocoWriter {
    fn write_calibration(
        &self,
        scene: &SceneWorld,
        render: &SceneRender,
        index: usize,
    ) -> Result<()> {
        let wearers = scene
            .cameras
            .iter()
            .filter(|c| c.kind == CameraKind::Ego)
            .count();
        let frames = frames_of(&self.opts, index, wearers);
        let seq = self.root.join(&scene.native_id);
        // colmap_from_aria: maps Aria i's world into COLMAP's frame.
        let mut transforms = serde_json::Map::new();
        for (i, a) in frames.aria_from_anchor.iter().enumerate() {
            let m = frames.colmap_from_anchor * a.inverse();
            transforms.insert(format!("aria{:02}", i + 1), json!(mat4_rows(&m)));
        }
        let path = seq.join("colmap/workplace/colmap_from_aria_transforms.json");
        write_file(
            &path,
            to_json(&path, &Value::Object(transforms))?.as_bytes(),
        )?;
        let (mut cams_txt, mut imgs_txt) = (String::new(), String::new());
        let exo: Vec<usize> = (0..scene.cameras.len())
            .filter(|&c| scene.cameras[c].kind == CameraKind::Exo)
            .collect();
        cams_txt.push_str(&format!(
            "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n# Number of cameras: {}\n",
            exo.len()
        ));
        imgs_txt.push_str(&format!(
            "# Image list with two lines of data per image:\n#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n#   POINTS2D[] as (X, Y, POINT3D_ID)\n# Number of images: {}, mean observations per image: 0\n",
            exo.len()
        ));
        let col_from_anchor_inv = frames.colmap_from_anchor.inverse();
        for (n, &c) in exo.iter().enumerate() {
            let model = &render.cameras[c].model;
            let ((fx, fy), (cx, cy)) = (model.focal(), model.principal_point());
            let k = model.distortion().coefficients();
            cams_txt.push_str(&format!(
                "{} OPENCV_FISHEYE {} {} {} {} {} {} {} {} {} {}\n",
                n + 1,
                model.width(),
                model.height(),
                round(fx, 6),
                round(fy, 6),
                round(cx, 6),
                round(cy, 6),
                round(k[0], 10),
                round(k[1], 10),
                round(k[2], 10),
                round(k[3], 10)
            ));
            // COLMAP world-to-camera, in COLMAP units (camera frame scaled like the world).
            let m = pose_mat(scene.cameras[c].pose(0)) * col_from_anchor_inv;
            let scale = m.x_axis.truncate().length();
            let r = DMat3::from_cols(
                m.x_axis.truncate(),
                m.y_axis.truncate(),
                m.z_axis.truncate(),
            ) / scale;
            let t = m.w_axis.truncate() / scale;
            let q = Rotation::from_col_major(r.to_cols_array())?.to_quat_xyzw();
            imgs_txt.push_str(&format!(
                "{} {} {} {} {} {} {} {} {} {}/{:05}.jpg\n\n",
                n + 1,
                round(q[3], 12),
                round(q[0], 12),
                round(q[1], 12),
                round(q[2], 12),
                round(t.x, 9),
                round(t.y, 9),
                round(t.z, 9),
                n + 1,
                scene.cameras[c].camera_id,
                1
            ));
        }
        write_file(
            &seq.join("colmap/workplace/cameras.txt"),
            cams_txt.as_bytes(),
        )?;
        write_file(
            &seq.join("colmap/workplace/images.txt"),
            imgs_txt.as_bytes(),
        )?;
        // Aria calibration per time stamp: RGB, then left and right SLAM (not rendered).
        for (i, c) in (0..scene.cameras.len())
            .filter(|&c| scene.cameras[c].kind == CameraKind::Ego)
            .enumerate()
        {
            let cam = &scene.cameras[c];
            let model = &render.cameras[c].model;
            let ((f, _), (cu, cv)) = (model.focal(), model.principal_point());
            let intr: Vec<String> = std::iter::once(f)
                .chain([cu, cv])
                .chain(model.distortion().coefficients())
                .map(|v| round(v, 10).to_string())
                .collect();
            let slam = "150.0 320.0 240.0 0.4 -0.4 0.2 0.1 -0.05 0.01 0.0 0.0 0.0 0.0 0.0 0.0";
            let anchor_from_aria = frames.aria_from_anchor[i].inverse();
            for (f_idx, pose) in cam.poses.iter().enumerate() {
                // World (Aria i's own) to camera: [R|t] written column by column.
                let m = pose_mat(pose) * anchor_from_aria;
                let cols: Vec<String> = [m.x_axis, m.y_axis, m.z_axis, m.w_axis]
                    .iter()
                    .flat_map(|col| col.truncate().to_array())
                    .map(|v| round(v, 10).to_string())
                    .collect();
                let side = |dx: f64| {
                    let mut c2 = m;
                    c2.w_axis.x += dx;
                    [c2.x_axis, c2.y_axis, c2.z_axis, c2.w_axis]
                        .iter()
                        .flat_map(|col| col.truncate().to_array())
                        .map(|v| round(v, 10).to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let text = format!(
                    "Serial, intrinsics (radtanthinprsim), extrinsic (3x4)\n{}\n{}\n{}\n{slam}\n{}\n{slam}\n{}\n",
                    cam.camera_id,
                    intr.join(" "),
                    cols.join(" "),
                    side(0.05),
                    side(-0.05)
                );
                write_file(
                    &seq.join("ego")
                        .join(&cam.camera_id)
                        .join("calib")
                        .join(format!("{:05}.txt", f_idx + 1)),
                    text.as_bytes(),
                )?;
            }
        }
        Ok(())
    }
}

impl TreeWriter for CocoWriter {
    fn add_scene(&mut self, scene: &SceneWorld, render: &SceneRender) -> Result<()> {
        let index = scene.index;
        self.write_calibration(scene, render, index)?;
        let wearers = scene
            .cameras
            .iter()
            .filter(|c| c.kind == CameraKind::Ego)
            .count();
        let frames = frames_of(&self.opts, index, wearers);
        let activity = ACTIVITIES[index % ACTIVITIES.len()];
        let seq = sequence(index);
        for (c, cam) in scene.cameras.iter().enumerate() {
            let ego = cam.kind == CameraKind::Ego;
            let (kp_file, tr_file) = if ego { (1, 3) } else { (0, 2) };
            let model = &render.cameras[c].model;
            let video_name = format!("{activity}_{seq}_{}_rgb", cam.camera_id);
            let video_id = self.files[tr_file].videos.len() + 1;
            self.files[tr_file].videos.push(to_json(
                &self.bench,
                &json!({"id": video_id, "name": video_name}),
            )?);
            let mut frame_id = 0;
            for f in 0..scene.frames.len() {
                let file_name = image_rel(&scene.native_id, &cam.camera_id, cam.kind, f)
                    .to_string_lossy()
                    .into_owned();
                let people: Vec<(usize, CocoPerson)> = (0..scene.instances.len())
                    .filter_map(|k| coco_person(scene, c, model, f, k).map(|a| (k, a)))
                    .collect();
                let image_id = self.files[kp_file].next_image;
                self.files[kp_file].next_image += 1;
                self.files[kp_file].images.push(to_json(
                    &self.bench,
                    &json!({"id": image_id, "file_name": file_name, "width": model.width(), "height": model.height(),
                            "date_captured": "2023-01-01 00:00:00", "license": 1, "coco_url": "", "flickr_url": "",
                            "video_name": video_name}),
                )?);
                for (
                    k,
                    CocoPerson {
                        keypoints: kps,
                        bbox,
                        num_keypoints: num,
                    },
                ) in &people
                {
                    let human = &scene.instances[*k].instance_id;
                    let keypoints_3d: Vec<f64> = if ego {
                        // In that Aria RGB camera's frame (native sensor orientation), metres.
                        scene.frames[f].states[*k]
                            .keypoints
                            .iter()
                            .flat_map(|p| {
                                let q = cam.pose(f).apply(*p);
                                [round(q.x, 6), round(q.y, 6), round(q.z, 6), 1.0]
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let id = self.files[kp_file].next_annotation;
                    self.files[kp_file].next_annotation += 1;
                    self.files[kp_file].annotations.push(to_json(
                        &self.bench,
                        &json!({"id": id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                                "area": bbox[2] * bbox[3], "bbox": bbox, "segmentation": null,
                                "width": model.width(), "height": model.height(), "video_name": video_name,
                                "keypoints": kps, "num_keypoints": num, "human_name": human,
                                "camera_name": cam.camera_id, "camera_mode": "rgb", "time_stamp": f + 1,
                                "keypoints_3d": keypoints_3d}),
                    )?);
                }
                if people.is_empty() {
                    continue;
                }
                // Tracking files list only frames with at least one person.
                let tid = self.files[tr_file].next_image;
                self.files[tr_file].next_image += 1;
                let mut image = json!({"file_name": file_name, "height": model.height(), "width": model.width(),
                                       "id": tid, "video_id": video_id, "frame_id": frame_id});
                frame_id += 1;
                if ego {
                    let m = pose_mat(cam.pose(f)) * frames.aria_from_anchor[0].inverse();
                    image["extrinsics"] = json!(mat4_rows(&m).concat());
                }
                self.files[tr_file]
                    .images
                    .push(to_json(&self.bench, &image)?);
                for (k, CocoPerson { bbox, .. }) in &people {
                    let human = &scene.instances[*k].instance_id;
                    let instance: i64 = human[4..].parse().unwrap_or(0);
                    let id = self.files[tr_file].next_annotation;
                    self.files[tr_file].next_annotation += 1;
                    self.files[tr_file].annotations.push(to_json(
                        &self.bench,
                        &json!({"id": id, "image_id": tid, "video_id": video_id, "category_id": 0, "instance_id": instance,
                                "bbox": bbox, "area": bbox[2] * bbox[3], "occluded": false, "truncated": false,
                                "iscrowd": false, "ignore": false, "is_vid_train_frame": true, "visibility": 1.0,
                                "human_name": human, "camera_name": cam.camera_id, "camera_mode": "rgb", "time_stamp": f + 1}),
                    )?);
                }
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        for f in self.files {
            f.finish()?;
        }
        Ok(())
    }
}
