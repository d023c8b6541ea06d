//! Per-instance 3D estimates (per frame) and per-observation facts.

use std::collections::BTreeMap;

use crossview_schemas::glam::{DVec2, DVec3};
use crossview_schemas::{BoxXyxy, MaskSourceKind, Observation};

use super::rig::{Ray, Rig};
use super::triangulate::robust_point;
use super::{GeometryConfig, ObservationFacts};

/// How an instance's 3D position was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EstimateMethod {
    /// The source gives a ground point; the centre is half a person's height above it.
    GroundPoint,
    /// Body keypoints triangulated across views.
    Keypoints,
    /// Mask centroids (or box centres) triangulated across views.
    Centroids,
}

/// Where an instance is at one frame, as estimated from the observations.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceEstimate {
    /// Centre, world metres.
    pub position: DVec3,
    /// Size along the world axes, metres.
    pub extent: DVec3,
    /// How it was obtained.
    pub method: EstimateMethod,
    /// Views that agree with it.
    pub views: usize,
}

/// Keypoints lying this far beyond the body's joints bound the body (as the truth's boxes do).
const BODY_MARGIN_M: f64 = 0.12;

/// Where an observation is in its image: the mask centroid, else the box centre.
pub fn image_point(o: &Observation) -> Option<DVec2> {
    if let Some((x, y)) = o.mask.as_ref().and_then(|m| m.rle.centroid()) {
        return Some(DVec2::new(x, y));
    }
    o.bbox.map(|b| {
        let (x, y) = b.center();
        DVec2::new(f64::from(x), f64::from(y))
    })
}

/// The observation's visible box: the mask's tight box, else the source box.
pub fn visible_box(o: &Observation) -> Option<BoxXyxy> {
    match &o.mask {
        Some(m) => m.rle.bbox(),
        None => o.bbox,
    }
}

fn from_keypoints(
    group: &[&Observation],
    rig: &Rig<'_>,
    cfg: &GeometryConfig,
) -> Option<InstanceEstimate> {
    let mut joints = Vec::new();
    let mut views = 0;
    for j in 0..17 {
        let rays: Vec<Ray> = group
            .iter()
            .filter_map(|o| {
                let k = o.keypoints.get(j).filter(|k| k.visibility == 2)?;
                rig.ray(
                    &o.camera_id,
                    o.frame_index,
                    DVec2::new(f64::from(k.x), f64::from(k.y)),
                )
            })
            .collect();
        if let Some((p, keep)) = robust_point(&rays, cfg.max_ray_miss_m) {
            views = views.max(keep.len());
            joints.push(p);
        }
    }
    if joints.len() < 5 {
        return None;
    }
    let (mut lo, mut hi) = (joints[0], joints[0]);
    for p in &joints {
        lo = lo.min(*p);
        hi = hi.max(*p);
    }
    lo -= DVec3::splat(BODY_MARGIN_M);
    hi += DVec3::splat(BODY_MARGIN_M);
    Some(InstanceEstimate {
        position: (lo + hi) * 0.5,
        extent: hi - lo,
        method: EstimateMethod::Keypoints,
        views,
    })
}

fn from_centroids(
    group: &[&Observation],
    rig: &Rig<'_>,
    cfg: &GeometryConfig,
) -> Option<InstanceEstimate> {
    let usable: Vec<(&Observation, Ray)> = group
        .iter()
        .filter_map(|o| Some((*o, rig.ray(&o.camera_id, o.frame_index, image_point(o)?)?)))
        .collect();
    let rays: Vec<Ray> = usable.iter().map(|(_, r)| *r).collect();
    let (p, keep) = robust_point(&rays, cfg.max_ray_miss_m)?;
    // Size from each kept view's box: pixels times depth over focal length.
    let (mut widths, mut heights) = (Vec::new(), Vec::new());
    for &k in &keep {
        let o = usable[k].0;
        let (Some(b), Some(model), Some(z)) = (
            visible_box(o),
            rig.model(&o.camera_id),
            rig.depth(&o.camera_id, o.frame_index, p),
        ) else {
            continue;
        };
        let (fx, fy) = model.focal();
        widths.push(f64::from(b.width()) * z / fx);
        heights.push(f64::from(b.height()) * z / fy);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let w = median(&mut widths)?;
    let h = median(&mut heights)?;
    Some(InstanceEstimate {
        position: p,
        extent: DVec3::new(w, w, h),
        method: EstimateMethod::Centroids,
        views: keep.len(),
    })
}

/// 3D estimates of every instance at every frame it is seen in at least two views (or has a
/// ground point).
pub fn estimate_instances(
    obs: &[Observation],
    rig: &Rig<'_>,
    cfg: &GeometryConfig,
) -> BTreeMap<(u32, String), InstanceEstimate> {
    let mut groups: BTreeMap<(u32, &str), Vec<&Observation>> = BTreeMap::new();
    for o in obs {
        groups
            .entry((o.frame_index, o.instance_id.as_str()))
            .or_default()
            .push(o);
    }
    let mut out = BTreeMap::new();
    for ((frame, id), group) in groups {
        let ground = group.iter().find_map(|o| o.world_position);
        let est = match ground {
            Some(g) => Some(InstanceEstimate {
                position: g + DVec3::Z * (cfg.person_height_m / 2.0),
                extent: DVec3::new(0.6, 0.6, cfg.person_height_m),
                method: EstimateMethod::GroundPoint,
                views: group.len(),
            }),
            None if group.iter().any(|o| !o.keypoints.is_empty()) => {
                from_keypoints(&group, rig, cfg).or_else(|| from_centroids(&group, rig, cfg))
            }
            None => from_centroids(&group, rig, cfg),
        };
        if let Some(e) = est {
            out.insert((frame, id.to_string()), e);
        }
    }
    out
}

/// The outline a whole instance would cover in a view: its 3D estimate as an upright
/// cylinder (most objects are roughly round in plan; people are too), projected. Returns the
/// outline's box (unclipped) and, when `with_area` (only masks are compared with it), its
/// area; `None` if part of it is behind the camera.
fn projected_outline(
    rig: &Rig<'_>,
    camera: &str,
    frame: u32,
    e: &InstanceEstimate,
    with_area: bool,
) -> Option<(BoxXyxy, f64)> {
    const SIDES: usize = 16;
    // The unit circle's points, computed once.
    static CIRCLE: std::sync::OnceLock<[(f64, f64); SIDES]> = std::sync::OnceLock::new();
    let circle = CIRCLE.get_or_init(|| {
        std::array::from_fn(|k| (std::f64::consts::TAU * k as f64 / SIDES as f64).sin_cos())
    });
    let model = rig.model(camera)?;
    let pose = rig.pose(camera, frame)?;
    let r = 0.5 * e.extent.x.max(e.extent.y);
    let mut pts = Vec::with_capacity(2 * SIDES);
    for &(sin, cos) in circle {
        for dz in [-0.5, 0.5] {
            let p = e.position + DVec3::new(r * cos, r * sin, dz * e.extent.z);
            let (px, z) = model.project_world(&pose, p)?;
            if z <= 0.0 {
                return None;
            }
            pts.push(px);
        }
    }
    let (mut lo, mut hi) = (DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY));
    for p in &pts {
        lo = lo.min(*p);
        hi = hi.max(*p);
    }
    let b = BoxXyxy::try_new(lo.x as f32, lo.y as f32, hi.x as f32, hi.y as f32).ok()?;
    Some((b, if with_area { hull_area(&mut pts) } else { 0.0 }))
}

/// Area of the convex hull of points (monotone chain; a few dozen points per call).
fn hull_area(pts: &mut [DVec2]) -> f64 {
    // Points that compare equal are the same point, so the order among them is moot.
    pts.sort_unstable_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    let cross = |o: DVec2, a: DVec2, b: DVec2| (a - o).perp_dot(b - o);
    let mut hull: Vec<DVec2> = Vec::with_capacity(pts.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &DVec2>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    let n = hull.len();
    (0..n)
        .map(|i| hull[i].perp_dot(hull[(i + 1) % n]))
        .sum::<f64>()
        .abs()
        * 0.5
}

/// Whether an observation's area measures what is visible: a mask of the visible pixels
/// (annotated, or a segmenter's), or a box the source draws tight around the visible part
/// (MessyTable). Projected 3D boxes (MMPTrack), keypoint-extent boxes (EgoHumans) and the
/// fallbacks made from them (a box filled in, a keypoint hull) cover hidden parts too.
pub fn measures_visibility(o: &Observation, tight_boxes: bool) -> bool {
    match &o.mask {
        Some(m) => matches!(
            m.source.kind,
            MaskSourceKind::Annotated | MaskSourceKind::Segmenter
        ),
        None => tight_boxes,
    }
}

/// Facts of every observation, given the 3D estimates. `tight_boxes`: the source's boxes
/// bound the visible pixels.
pub fn observation_facts(
    obs: &[Observation],
    rig: &Rig<'_>,
    est: &BTreeMap<(u32, String), InstanceEstimate>,
    tight_boxes: bool,
) -> Vec<ObservationFacts> {
    let mut facts: Vec<ObservationFacts> = obs
        .iter()
        .map(|o| {
            let e = est.get(&(o.frame_index, o.instance_id.clone()));
            let outline = e.and_then(|e| {
                projected_outline(rig, &o.camera_id, o.frame_index, e, o.mask.is_some())
            });
            let size = rig.model(&o.camera_id).map(|m| (m.width(), m.height()));
            let area = match (&o.mask, o.bbox, size) {
                (Some(m), _, _) => m.rle.area() as f64,
                (None, Some(b), Some((w, h))) => b.clip(w, h).map_or(0.0, |c| c.area()),
                (None, Some(b), None) => b.area(),
                (None, None, _) => 0.0,
            };
            ObservationFacts {
                area,
                centroid: image_point(o).unwrap_or(DVec2::NAN),
                depth: e.and_then(|e| rig.depth(&o.camera_id, o.frame_index, e.position)),
                visible_fraction: None,
                full_box: outline.map(|o| o.0),
                // Masks compare with the outline's area, boxes with its box's.
                full_area: match (&o.mask, outline) {
                    (Some(_), Some((_, hull))) => hull,
                    (None, Some((b, _))) => b.area(),
                    (_, None) => 0.0,
                },
            }
        })
        .collect();
    // Visible fraction: each view's visible area against the area its whole projected box
    // would give, normalised by the best view of the same instance and frame (taken as
    // fully visible), which cancels the box-versus-silhouette fill of the shape.
    let mut best: BTreeMap<(u32, &str), f64> = BTreeMap::new();
    let measured: Vec<bool> = obs
        .iter()
        .map(|o| measures_visibility(o, tight_boxes))
        .collect();
    let ratio = |k: usize, f: &ObservationFacts| -> Option<f64> {
        (measured[k] && f.full_area > 0.0).then(|| f.area / f.full_area)
    };
    for (k, (o, f)) in obs.iter().zip(&facts).enumerate() {
        if let Some(r) = ratio(k, f) {
            let b = best
                .entry((o.frame_index, o.instance_id.as_str()))
                .or_insert(0.0);
            *b = b.max(r);
        }
    }
    let vf: Vec<Option<f64>> = obs
        .iter()
        .zip(&facts)
        .enumerate()
        .map(|(k, (o, f))| {
            let b = best
                .get(&(o.frame_index, o.instance_id.as_str()))
                .copied()?;
            if b > 0.0 {
                Some((ratio(k, f)? / b).clamp(0.0, 1.0))
            } else {
                None
            }
        })
        .collect();
    for (f, v) in facts.iter_mut().zip(vf) {
        f.visible_fraction = v;
    }
    facts
}
