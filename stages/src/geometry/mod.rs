//! Geometry: 3D estimates of each instance per frame (triangulated, from keypoints, or from a
//! ground point) and the per-observation facts questions need (area, centroid, depth, visible
//! fraction, occluders), plus 3D relations (distances, contact, displacement).
//!
//! Start with [`SceneGeometry::compute`].

mod estimate;
mod margins;
mod rig;
mod triangulate;

use std::collections::BTreeMap;

use crossview_schemas::BoxXyxy;
use crossview_schemas::glam::{DVec2, DVec3};

pub use estimate::{
    EstimateMethod, InstanceEstimate, image_point, measures_visibility, visible_box,
};
pub use margins::{Decision, Margins, ScaleChange};
pub use rig::{Ray, Rig};
pub use triangulate::{nearest_point, ray_distance, robust_point};

use crate::sources::SceneData;

/// Geometry settings; the defaults follow TASKS.md where it names a value.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeometryConfig {
    /// Height assumed for a person standing on a known ground point, metres.
    pub person_height_m: f64,
    /// A ray missing the triangulated point by more than this (metres) is dropped.
    pub max_ray_miss_m: f64,
    /// Of two objects in one view, one is in front when nearer by at least this (metres).
    pub occluder_depth_margin_m: f64,
}

impl Default for GeometryConfig {
    fn default() -> Self {
        GeometryConfig {
            person_height_m: 1.7,
            max_ray_miss_m: 0.05,
            occluder_depth_margin_m: 0.03,
        }
    }
}

/// What geometry says of one observation.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationFacts {
    /// Visible pixels (the mask's area, else the box's area inside the image).
    pub area: f64,
    /// Mask centroid (else box centre), pixels.
    pub centroid: DVec2,
    /// Camera-frame depth of the instance's 3D centre, metres.
    pub depth: Option<f64>,
    /// Visible share of the whole object (truncation by the frame and occlusion).
    pub visible_fraction: Option<f64>,
    /// The box the whole object would cover in this view (its 3D estimate projected).
    pub full_box: Option<BoxXyxy>,
    /// The area the whole object would cover, in the unit of `area` (outline area for
    /// masks, outline box area for boxes); 0 when unknown.
    pub full_area: f64,
}

/// The geometry of one scene.
#[derive(Clone, Debug, Default)]
pub struct SceneGeometry {
    /// Facts parallel to the scene's observations.
    pub facts: Vec<ObservationFacts>,
    /// 3D estimates by (frame, instance).
    pub instances: BTreeMap<(u32, String), InstanceEstimate>,
    /// The settings they were computed with.
    pub config: GeometryConfig,
}

impl SceneGeometry {
    /// Computes everything for a scene.
    pub fn compute(scene: &SceneData, cfg: &GeometryConfig) -> SceneGeometry {
        let rig = Rig::new(&scene.cameras, &scene.frames);
        let instances = estimate::estimate_instances(&scene.observations, &rig, cfg);
        let tight_boxes = scene
            .scene
            .as_ref()
            .is_some_and(|s| crate::sources::boxes_are_tight(s.source));
        let facts = estimate::observation_facts(&scene.observations, &rig, &instances, tight_boxes);
        let mut g = SceneGeometry {
            facts,
            instances,
            config: cfg.clone(),
        };
        g.clear_unobstructed(scene);
        g
    }

    /// No facts and no estimates: for arranging a scene whose candidates were drawn already
    /// (view, instance and observation numbering do not depend on geometry; what is shown
    /// and where does, and such an index answers none of it).
    pub fn unmeasured(cfg: &GeometryConfig) -> SceneGeometry {
        SceneGeometry {
            facts: Vec::new(),
            instances: BTreeMap::new(),
            config: cfg.clone(),
        }
    }

    /// An observation whose whole-object box lies inside the image and that no nearer
    /// annotated object overlaps is taken as wholly visible: the area-ratio estimate can only
    /// err there (a flat object seen edge-on fills less of the round outline it is modelled by).
    fn clear_unobstructed(&mut self, scene: &SceneData) {
        let mut by_view: BTreeMap<(&str, u32), Vec<usize>> = BTreeMap::new();
        for (i, o) in scene.observations.iter().enumerate() {
            by_view
                .entry((o.camera_id.as_str(), o.frame_index))
                .or_default()
                .push(i);
        }
        let size: BTreeMap<&str, (u32, u32)> = scene
            .cameras
            .iter()
            .map(|c| (c.camera_id.as_str(), (c.model.width(), c.model.height())))
            .collect();
        let mut clear = Vec::new();
        for ((camera, _), members) in &by_view {
            let Some(&(w, h)) = size.get(camera) else {
                continue;
            };
            for &i in members {
                let f = &self.facts[i];
                let (Some(_), Some(full)) = (f.visible_fraction, f.full_box) else {
                    continue;
                };
                let inside = full.x1() >= 0.0
                    && full.y1() >= 0.0
                    && full.x2() <= w as f32
                    && full.y2() <= h as f32;
                if inside
                    && !self.has_occluder_among(scene, i, members.iter().copied(), &self.config)
                {
                    clear.push(i);
                }
            }
        }
        for i in clear {
            self.facts[i].visible_fraction = Some(1.0);
        }
    }

    /// The 3D estimate of an instance at a frame.
    pub fn instance(&self, frame: u32, id: &str) -> Option<&InstanceEstimate> {
        self.instances.get(&(frame, id.to_string()))
    }

    /// Distance between two instances' centres at a frame, metres.
    pub fn distance(&self, frame: u32, a: &str, b: &str) -> Option<f64> {
        Some((self.instance(frame, a)?.position - self.instance(frame, b)?.position).length())
    }

    /// Gap between two instances' boxes (axis-aligned in the world) at a frame, metres; 0
    /// when they overlap.
    pub fn surface_distance(&self, frame: u32, a: &str, b: &str) -> Option<f64> {
        let (a, b) = (self.instance(frame, a)?, self.instance(frame, b)?);
        Some(surface_gap((a.position, a.extent), (b.position, b.extent)))
    }

    /// How far an instance moved between two frames, metres.
    pub fn displacement(&self, id: &str, from: u32, to: u32) -> Option<f64> {
        Some((self.instance(to, id)?.position - self.instance(from, id)?.position).length())
    }

    /// The observations in front of observation `i` (same camera and frame, nearer by the
    /// configured margin) whose visible boxes cover part of its whole-object box, with the
    /// share of that box each covers, largest first.
    pub fn occluders(
        &self,
        scene: &SceneData,
        i: usize,
        cfg: &GeometryConfig,
    ) -> Vec<(usize, f64)> {
        self.occluders_among(scene, i, 0..scene.observations.len(), cfg)
    }

    /// [`SceneGeometry::occluders`] looked for among some observations only (those of the
    /// same view, when the caller has them at hand).
    pub fn occluders_among(
        &self,
        scene: &SceneData,
        i: usize,
        among: impl IntoIterator<Item = usize>,
        cfg: &GeometryConfig,
    ) -> Vec<(usize, f64)> {
        let mut out: Vec<(usize, f64)> = self.occluder_shares(scene, i, among, cfg).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Whether [`SceneGeometry::occluders_among`] finds any (it stops at the first).
    pub fn has_occluder_among(
        &self,
        scene: &SceneData,
        i: usize,
        among: impl IntoIterator<Item = usize>,
        cfg: &GeometryConfig,
    ) -> bool {
        self.occluder_shares(scene, i, among, cfg).next().is_some()
    }

    /// The occluders of observation `i` among `among` with their shares, in `among`'s order.
    fn occluder_shares<'a>(
        &'a self,
        scene: &'a SceneData,
        i: usize,
        among: impl IntoIterator<Item = usize> + 'a,
        cfg: &'a GeometryConfig,
    ) -> impl Iterator<Item = (usize, f64)> + 'a {
        let o = &scene.observations[i];
        let f = &self.facts[i];
        let whole = match (f.depth, f.full_box) {
            (Some(depth), Some(full)) if full.area() > 0.0 => Some((depth, full, full.area())),
            _ => None,
        };
        // The numeric tests first: most observations fail them, and the id comparisons
        // after them were most of this search.
        whole
            .map(move |(depth, full, full_area)| {
                among.into_iter().filter_map(move |j| {
                    let b = scene.observations.get(j)?;
                    if j == i || b.frame_index != o.frame_index {
                        return None;
                    }
                    let d = self.facts.get(j)?.depth?;
                    if d > depth - cfg.occluder_depth_margin_m {
                        return None;
                    }
                    let bb = b.bbox?;
                    let iw = (full.x2().min(bb.x2()) - full.x1().max(bb.x1())).max(0.0);
                    let ih = (full.y2().min(bb.y2()) - full.y1().max(bb.y1())).max(0.0);
                    let share = f64::from(iw) * f64::from(ih) / full_area;
                    let other = b.camera_id == o.camera_id && b.instance_id != o.instance_id;
                    (share > 0.0 && other).then_some((j, share))
                })
            })
            .into_iter()
            .flatten()
    }
}

/// Gap between two boxes given as (centre, extent) along the world axes, metres; 0 when they
/// overlap.
pub fn surface_gap(a: (DVec3, DVec3), b: (DVec3, DVec3)) -> f64 {
    ((a.0 - b.0).abs() - (a.1 + b.1) * 0.5)
        .max(DVec3::ZERO)
        .length()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rig::look_at;
    use crossview_schemas::{
        Camera, CameraKind, CameraModel, Distortion, Frame, ImageRef, Observation, Scene,
        SensorRotation, SourceKind, WorldToCamera,
    };

    const W: u32 = 640;
    const H: u32 = 480;

    fn camera(id: &str, eye: DVec3) -> Camera {
        Camera {
            scene_id: "s".into(),
            camera_id: id.into(),
            kind: CameraKind::Exo,
            model: CameraModel::new(
                W,
                H,
                500.0,
                500.0,
                320.0,
                240.0,
                Distortion::Pinhole,
                SensorRotation::None,
            )
            .unwrap(),
            world_to_camera: Some(look_at(eye, DVec3::new(0.0, 0.0, 1.0), 0.0)),
        }
    }

    /// The tight box of a cube of side `s` at `c` in a camera (clipped to the image).
    fn cube_box(cam: &Camera, c: DVec3, s: f64) -> Option<BoxXyxy> {
        let pose: WorldToCamera = cam.world_to_camera.unwrap();
        let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
        for dx in [-0.5, 0.5] {
            for dy in [-0.5, 0.5] {
                for dz in [-0.5, 0.5] {
                    let (px, _) = cam
                        .model
                        .project_world(&pose, c + DVec3::new(dx, dy, dz) * s)
                        .unwrap();
                    lo = lo.min(px);
                    hi = hi.max(px);
                }
            }
        }
        BoxXyxy::try_new(lo.x as f32, lo.y as f32, hi.x as f32, hi.y as f32)
            .unwrap()
            .clip(W, H)
    }

    fn scene(objects: &[(&str, u32, DVec3)], cams: &[Camera]) -> SceneData {
        let mut observations = Vec::new();
        for &(id, frame, c) in objects {
            for cam in cams {
                if let Some(b) = cube_box(cam, c, 0.2) {
                    observations.push(Observation {
                        scene_id: "s".into(),
                        camera_id: cam.camera_id.clone(),
                        frame_index: frame,
                        instance_id: id.into(),
                        category: "box".into(),
                        subcategory: None,
                        bbox: Some(b),
                        mask: None,
                        keypoints: Vec::new(),
                        world_position: None,
                        world_extent: None,
                    });
                }
            }
        }
        let frames = cams
            .iter()
            .flat_map(|c| {
                (0..2).map(move |f| Frame {
                    scene_id: "s".into(),
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
                scene_id: "s".into(),
                source: SourceKind::MessyTable,
                source_split: "train".into(),
            }),
            cameras: cams.to_vec(),
            frames,
            observations,
            ..SceneData::default()
        }
    }

    #[test]
    fn two_cameras_give_position_depth_contact_and_displacement() {
        let cams = [
            camera("a", DVec3::new(0.0, -3.0, 1.0)),
            camera("b", DVec3::new(3.0, 0.0, 1.0)),
        ];
        let s = scene(
            &[
                ("x", 0, DVec3::new(0.0, 0.0, 1.0)),
                ("touching", 0, DVec3::new(-0.2, 0.0, 1.0)),
                ("apart", 0, DVec3::new(0.0, 0.6, 1.0)),
                ("x", 1, DVec3::new(0.5, 0.0, 1.0)),
            ],
            &cams,
        );
        let g = SceneGeometry::compute(&s, &GeometryConfig::default());
        let x = g.instance(0, "x").unwrap();
        // Box centres are not quite projected centres under perspective: within a centimetre.
        assert!(
            (x.position - DVec3::new(0.0, 0.0, 1.0)).length() < 0.01,
            "{:?}",
            x.position
        );
        assert!((x.extent.z - 0.2).abs() < 0.05, "{:?}", x.extent);
        let i = s
            .observations
            .iter()
            .position(|o| o.instance_id == "x" && o.camera_id == "a" && o.frame_index == 0)
            .unwrap();
        assert!((g.facts[i].depth.unwrap() - 3.0).abs() < 0.01);
        // Faces 0 cm apart: contact; 40 cm apart: not.
        assert!(g.surface_distance(0, "x", "touching").unwrap() < 0.02);
        let apart = g.surface_distance(0, "x", "apart").unwrap();
        assert!((apart - 0.4).abs() < 0.05, "{apart}");
        assert!((g.distance(0, "x", "apart").unwrap() - 0.6).abs() < 0.01);
        assert!((g.displacement("x", 0, 1).unwrap() - 0.5).abs() < 0.01);
        assert!(g.displacement("x", 0, 5).is_none());
    }

    #[test]
    fn the_nearer_object_is_the_occluder() {
        let cams = [
            camera("a", DVec3::new(0.0, -3.0, 1.0)),
            camera("b", DVec3::new(3.0, 0.0, 1.0)),
        ];
        // "front" sits between camera a and "back", slightly to the side.
        let s = scene(
            &[
                ("back", 0, DVec3::new(0.0, 0.0, 1.0)),
                ("front", 0, DVec3::new(0.08, -1.0, 1.0)),
            ],
            &cams,
        );
        let cfg = GeometryConfig::default();
        let g = SceneGeometry::compute(&s, &cfg);
        let back_a = s
            .observations
            .iter()
            .position(|o| o.instance_id == "back" && o.camera_id == "a")
            .unwrap();
        let front_a = s
            .observations
            .iter()
            .position(|o| o.instance_id == "front" && o.camera_id == "a")
            .unwrap();
        let occ = g.occluders(&s, back_a, &cfg);
        assert_eq!(occ.first().map(|o| o.0), Some(front_a));
        assert!(occ[0].1 > 0.5);
        // Nothing is in front of the front object.
        assert!(g.occluders(&s, front_a, &cfg).is_empty());
    }

    #[test]
    fn truncation_lowers_the_visible_fraction() {
        // Camera c sees the object at its left border: about half of it is outside.
        let mut c = camera("c", DVec3::new(-3.0, 0.0, 1.0));
        let p = c.world_to_camera.unwrap();
        // Turn camera c so that the object's centre projects onto the left image border.
        let theta = (320.0f64 / 500.0).atan();
        let turn = crossview_schemas::Rotation::from_axis_angle(DVec3::Y, -theta).unwrap();
        c.world_to_camera = Some(WorldToCamera {
            rotation: turn.then_after(&p.rotation),
            translation: turn.apply(p.translation),
        });
        let cams = [
            camera("a", DVec3::new(0.0, -3.0, 1.0)),
            camera("b", DVec3::new(3.0, 0.0, 1.0)),
            c,
        ];
        let s = scene(&[("x", 0, DVec3::new(0.0, 0.0, 1.0))], &cams);
        let g = SceneGeometry::compute(&s, &GeometryConfig::default());
        let vf = |cam: &str| {
            let i = s
                .observations
                .iter()
                .position(|o| o.camera_id == cam)
                .unwrap();
            g.facts[i].visible_fraction.unwrap()
        };
        assert!(vf("a") > 0.9 && vf("b") > 0.9, "{} {}", vf("a"), vf("b"));
        assert!((vf("c") - 0.5).abs() < 0.12, "{}", vf("c"));
    }
}
