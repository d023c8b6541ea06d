//! Hand-built scenes for the template tests: pinhole cameras and axis-aligned cubes, rendered
//! to modal masks with a per-pixel depth test, so occlusion and truncation are real.

use crossview_schemas::glam::{DVec2, DVec3};
use crossview_schemas::{
    Camera, CameraKind, CameraModel, Distortion, Frame, ImageRef, MaskSource, Observation,
    ObservedMask, Rle, Scene, SensorRotation, SourceKind, Task,
};

use crate::geometry::{GeometryConfig, SceneGeometry};
use crate::qa::{Candidate, QaConfig, Rejected, SceneIndex, generate};
use crate::sources::SceneData;
use crate::synth::rig::look_at;

const W: u32 = 320;
const H: u32 = 240;
const FOCAL: f64 = 250.0;

struct Cube {
    id: String,
    category: String,
    frame: u32,
    centre: DVec3,
    size: f64,
}

/// A scene under construction.
pub(crate) struct TestScene {
    cameras: Vec<Camera>,
    cubes: Vec<Cube>,
    frames: u32,
}

impl TestScene {
    pub(crate) fn new() -> Self {
        TestScene {
            cameras: Vec::new(),
            cubes: Vec::new(),
            frames: 1,
        }
    }

    /// A camera at `eye` looking at (0, 0, 1).
    pub(crate) fn camera(&mut self, id: &str, eye: [f64; 3]) {
        self.camera_at(id, eye, [0.0, 0.0, 1.0]);
    }

    /// A camera at `eye` looking at `target`.
    pub(crate) fn camera_at(&mut self, id: &str, eye: [f64; 3], target: [f64; 3]) {
        let model = CameraModel::new(
            W,
            H,
            FOCAL,
            FOCAL,
            f64::from(W) / 2.0,
            f64::from(H) / 2.0,
            Distortion::Pinhole,
            SensorRotation::None,
        )
        .expect("valid intrinsics");
        self.cameras.push(Camera {
            scene_id: "t".into(),
            camera_id: id.into(),
            kind: CameraKind::Exo,
            model,
            world_to_camera: Some(look_at(eye.into(), target.into(), 0.0)),
        });
    }

    /// A cube of side `size` centred at `centre` at a frame.
    pub(crate) fn cube(
        &mut self,
        id: &str,
        category: &str,
        frame: u32,
        centre: [f64; 3],
        size: f64,
    ) {
        self.frames = self.frames.max(frame + 1);
        self.cubes.push(Cube {
            id: id.into(),
            category: category.into(),
            frame,
            centre: centre.into(),
            size,
        });
    }

    /// Two cameras ("a" in front, "b" to the side) and a row of cubes `o0, o1, ...`, one per
    /// category given, at frame 0: the scene most template tests start from.
    pub(crate) fn two_views_and_a_row(categories: &[&str]) -> Self {
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [3.0, 0.0, 1.0]);
        for (k, cat) in categories.iter().enumerate() {
            let at = [-0.6 + 0.3 * k as f64, 0.1 * k as f64, 1.0];
            t.cube(&format!("o{k}"), cat, 0, at, 0.15);
        }
        t
    }

    /// The scene's records, with masks rendered (MessyTable-like: tight boxes, annotated).
    pub(crate) fn data(&self) -> SceneData {
        let mut observations = Vec::new();
        for cam in &self.cameras {
            let pose = cam.world_to_camera.expect("test cameras have poses");
            for frame in 0..self.frames {
                // Screen box and depth of each cube, then a per-pixel depth test.
                let drawn: Vec<(&Cube, [f64; 4], f64)> = self
                    .cubes
                    .iter()
                    .filter(|c| c.frame == frame)
                    .filter_map(|c| {
                        let (mut lo, mut hi) = (DVec2::splat(f64::MAX), DVec2::splat(f64::MIN));
                        for k in 0..8 {
                            let d = DVec3::new(
                                if k & 1 == 0 { -0.5 } else { 0.5 },
                                if k & 2 == 0 { -0.5 } else { 0.5 },
                                if k & 4 == 0 { -0.5 } else { 0.5 },
                            );
                            let (px, _) = cam.model.project_world(&pose, c.centre + d * c.size)?;
                            lo = lo.min(px);
                            hi = hi.max(px);
                        }
                        let depth = pose.apply(c.centre).z;
                        Some((c, [lo.x, lo.y, hi.x, hi.y], depth))
                    })
                    .collect();
                let mut owner = vec![usize::MAX; (W * H) as usize];
                let mut zbuf = vec![f64::INFINITY; (W * H) as usize];
                for (k, (_, b, z)) in drawn.iter().enumerate() {
                    for r in 0..H {
                        for c in 0..W {
                            let (x, y) = (f64::from(c) + 0.5, f64::from(r) + 0.5);
                            let p = (r * W + c) as usize;
                            if x >= b[0] && x < b[2] && y >= b[1] && y < b[3] && *z < zbuf[p] {
                                zbuf[p] = *z;
                                owner[p] = k;
                            }
                        }
                    }
                }
                for (k, (cube, _, _)) in drawn.iter().enumerate() {
                    let bitmap: Vec<u8> = owner.iter().map(|&o| u8::from(o == k)).collect();
                    let rle = Rle::encode_row_major(&bitmap, H, W).expect("sized bitmap");
                    let Some(bbox) = rle.bbox() else {
                        continue;
                    };
                    observations.push(Observation {
                        scene_id: "t".into(),
                        camera_id: cam.camera_id.clone(),
                        frame_index: frame,
                        instance_id: cube.id.clone(),
                        category: cube.category.clone(),
                        subcategory: None,
                        bbox: Some(bbox),
                        mask: Some(ObservedMask {
                            rle,
                            source: MaskSource::annotated(),
                        }),
                        keypoints: Vec::new(),
                        world_position: None,
                        world_extent: None,
                    });
                }
            }
        }
        let frames = self
            .cameras
            .iter()
            .flat_map(|c| {
                (0..self.frames).map(move |f| Frame {
                    scene_id: "t".into(),
                    camera_id: c.camera_id.clone(),
                    frame_index: f,
                    timestamp_s: f64::from(f),
                    image: ImageRef::None,
                    world_to_camera: None,
                })
            })
            .collect();
        SceneData {
            scene: Some(Scene {
                scene_id: "t".into(),
                source: SourceKind::MessyTable,
                source_split: "train".into(),
            }),
            cameras: self.cameras.clone(),
            frames,
            observations,
            ..SceneData::default()
        }
    }
}

/// A rendered scene, its geometry, and what one task drew from it.
pub(crate) struct Drawn {
    pub(crate) data: SceneData,
    pub(crate) geometry: SceneGeometry,
    pub(crate) cfg: QaConfig,
    pub(crate) cands: Vec<Candidate>,
    pub(crate) rejected: Vec<Rejected>,
}

impl Drawn {
    pub(crate) fn index(&self) -> SceneIndex<'_> {
        SceneIndex::new(&self.data, &self.geometry, self.cfg.min_region_area_px)
    }
}

/// Every candidate of one task from every view pair (anchors not limited).
pub(crate) fn draw(t: &TestScene, task: Task) -> Drawn {
    let cfg = QaConfig {
        tasks: vec![task],
        anchors_per_view_pair: 50,
        min_region_area_px: 4.0,
        ..QaConfig::default()
    };
    draw_with(t, cfg)
}

/// As [`draw`], with settings.
pub(crate) fn draw_with(t: &TestScene, cfg: QaConfig) -> Drawn {
    let data = t.data();
    let geometry = SceneGeometry::compute(&data, &GeometryConfig::default());
    let (mut cands, mut rejected) = (Vec::new(), Vec::new());
    {
        let ix = SceneIndex::new(&data, &geometry, cfg.min_region_area_px);
        generate(&ix, &cfg, &mut |r| match r {
            Ok(c) => cands.push(c),
            Err(e) => rejected.push(e),
        });
    }
    Drawn {
        data,
        geometry,
        cfg,
        cands,
        rejected,
    }
}
