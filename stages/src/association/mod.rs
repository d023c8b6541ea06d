//! Cross-view association: groups of observations that are one physical instance, from the
//! source's ids, or geometrically (multi-view consensus of calibrated rays) where ids are
//! missing or untrusted.

use std::collections::BTreeMap;

use crossview_schemas::glam::{DVec2, DVec3};

use crate::geometry::{Rig, image_point, nearest_point, robust_point};
use crate::sources::SceneData;

/// Observations (indices into the scene's) that are one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceGroup {
    /// The instance id (the source's, or `g<k>` for geometric groups).
    pub instance_id: String,
    /// Member observations, in scene order.
    pub members: Vec<usize>,
}

/// Groups by the source's instance ids (one group per instance, across views and time).
pub fn by_source_ids(scene: &SceneData) -> Vec<InstanceGroup> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in scene.observations.iter().enumerate() {
        groups.entry(o.instance_id.as_str()).or_default().push(i);
    }
    groups
        .into_iter()
        .map(|(id, members)| InstanceGroup {
            instance_id: id.to_string(),
            members,
        })
        .collect()
}

/// Settings of geometric association.
#[derive(Clone, Debug, PartialEq)]
pub struct AssociationConfig {
    /// A centroid within this share of the image diagonal of a hypothesis' projection
    /// supports it.
    pub max_reprojection: f64,
    /// Rays farther than this (metres) from a refined point are dropped from it.
    pub max_ray_miss_m: f64,
}

impl Default for AssociationConfig {
    fn default() -> Self {
        AssociationConfig {
            max_reprojection: 0.02,
            max_ray_miss_m: 0.05,
        }
    }
}

/// A candidate instance: a 3D point and the observations (at most one per view) near it.
struct Hypothesis {
    members: Vec<usize>,
    error: f64,
}

/// Geometric association of one frame's observations, ignoring their ids: per observation,
/// the index of its group (or `None` when it matches nothing in another view).
///
/// Greedy multi-view consensus: every pair of observations from two views proposes the 3D
/// point nearest their rays; its support is, per view, the unassigned observation whose
/// point lies nearest the proposal's projection (within the tolerance). The best-supported
/// proposal (most views, then least error) becomes a group, refined by triangulating all
/// its members, and leaves the pool; repeat while proposals span two views.
pub fn geometric(scene: &SceneData, frame: u32, cfg: &AssociationConfig) -> Vec<Option<usize>> {
    let rig = Rig::new(&scene.cameras, &scene.frames);
    let n = scene.observations.len();
    let mut label = vec![None; n];
    let cams: Vec<&str> = {
        let mut c: Vec<&str> = scene.cameras.iter().map(|c| c.camera_id.as_str()).collect();
        c.sort_unstable();
        c
    };
    // Candidates of this frame with a ray.
    let mut cand: Vec<(usize, usize, DVec2)> = Vec::new(); // (obs, camera index, point)
    for (i, o) in scene.observations.iter().enumerate() {
        if o.frame_index != frame {
            continue;
        }
        let (Some(p), Some(ci)) = (image_point(o), cams.iter().position(|c| *c == o.camera_id))
        else {
            continue;
        };
        if rig.ray(&o.camera_id, frame, p).is_some() {
            cand.push((i, ci, p));
        }
    }
    let tol: Vec<f64> = cams
        .iter()
        .map(|c| {
            rig.model(c).map_or(0.0, |m| {
                cfg.max_reprojection * f64::from(m.width()).hypot(f64::from(m.height()))
            })
        })
        .collect();
    let ray = |k: usize| rig.ray(cams[cand[k].1], frame, cand[k].2);
    let mut free = vec![true; cand.len()];
    let mut groups = 0usize;

    // Support of a 3D point among the free candidates: per view, the nearest within tolerance.
    let support = |x: DVec3, free: &[bool]| -> Hypothesis {
        let mut members = Vec::new();
        let mut error = 0.0;
        for (ci, cam) in cams.iter().enumerate() {
            let Some((px, z)) = rig.project(cam, frame, x) else {
                continue;
            };
            if z <= 0.0 {
                continue;
            }
            let best = cand
                .iter()
                .enumerate()
                .filter(|(k, c)| free[*k] && c.1 == ci)
                .map(|(k, c)| (k, (c.2 - px).length()))
                .filter(|(_, d)| *d <= tol[ci])
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((k, d)) = best {
                members.push(k);
                error += d / tol[ci].max(1e-9);
            }
        }
        Hypothesis { members, error }
    };

    loop {
        let mut best: Option<Hypothesis> = None;
        for a in 0..cand.len() {
            if !free[a] {
                continue;
            }
            for b in a + 1..cand.len() {
                if !free[b] || cand[a].1 == cand[b].1 {
                    continue;
                }
                let (Some(ra), Some(rb)) = (ray(a), ray(b)) else {
                    continue;
                };
                let Some(x) = nearest_point(&[ra, rb]) else {
                    continue;
                };
                let h = support(x, &free);
                if h.members.len() < 2 || !h.members.contains(&a) || !h.members.contains(&b) {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some(cur) => (h.members.len(), -h.error) > (cur.members.len(), -cur.error),
                };
                if better {
                    best = Some(h);
                }
            }
        }
        let Some(h) = best else { break };
        // Refine with every member's ray, and take the refined point's support.
        let rays: Vec<_> = h.members.iter().filter_map(|&k| ray(k)).collect();
        let members = match robust_point(&rays, cfg.max_ray_miss_m).map(|(x, _)| support(x, &free))
        {
            Some(r) if r.members.len() >= h.members.len() => r.members,
            _ => h.members,
        };
        for &k in &members {
            free[k] = false;
            label[cand[k].0] = Some(groups);
        }
        groups += 1;
    }
    label
}

/// Matches between two views of one frame by optimal assignment: the cost of a pair is the
/// worse of its two reprojection errors (after triangulating the pair), in units of the
/// tolerance; pairs costing more than 1 stay unmatched. Returns (observation in `a`,
/// observation in `b`) pairs.
pub fn pairwise_assignment(
    scene: &SceneData,
    frame: u32,
    a: &str,
    b: &str,
    cfg: &AssociationConfig,
) -> Vec<(usize, usize)> {
    let rig = Rig::new(&scene.cameras, &scene.frames);
    let pick = |cam: &str| -> Vec<(usize, DVec2)> {
        scene
            .observations
            .iter()
            .enumerate()
            .filter(|(_, o)| o.frame_index == frame && o.camera_id == cam)
            .filter_map(|(i, o)| Some((i, image_point(o)?)))
            .collect()
    };
    let (left, right) = (pick(a), pick(b));
    let tol = |cam: &str| {
        rig.model(cam).map_or(1.0, |m| {
            cfg.max_reprojection * f64::from(m.width()).hypot(f64::from(m.height()))
        })
    };
    let (ta, tb) = (tol(a), tol(b));
    // Costs past the threshold are capped (the solver needs finite costs) and dropped below.
    const UNMATCHABLE: f64 = 1e6;
    let mut cost = vec![UNMATCHABLE; left.len() * right.len()];
    for (i, &(_, pa)) in left.iter().enumerate() {
        for (j, &(_, pb)) in right.iter().enumerate() {
            let (Some(ra), Some(rb)) = (rig.ray(a, frame, pa), rig.ray(b, frame, pb)) else {
                continue;
            };
            let Some(x) = nearest_point(&[ra, rb]) else {
                continue;
            };
            let (Some((qa, za)), Some((qb, zb))) =
                (rig.project(a, frame, x), rig.project(b, frame, x))
            else {
                continue;
            };
            if za <= 0.0 || zb <= 0.0 {
                continue;
            }
            let c = ((qa - pa).length() / ta).max((qb - pb).length() / tb);
            if c.is_finite() {
                cost[i * right.len() + j] = c.min(UNMATCHABLE);
            }
        }
    }
    let (rows, cols) = hotcoco::primitives::assign::lsap(&cost, left.len(), right.len(), false);
    rows.into_iter()
        .zip(cols)
        .filter(|&(i, j)| cost[i * right.len() + j] <= 1.0)
        .map(|(i, j)| (left[i].0, right[j].0))
        .collect()
}

/// Pairwise precision, recall and F1 of one frame's labelling against true ids: over pairs
/// of that frame's observations from different views, "same group" against "same id".
pub fn pairwise_f1_at(scene: &SceneData, labels: &[Option<usize>], frame: u32) -> (f64, f64, f64) {
    let obs = &scene.observations;
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for i in 0..obs.len() {
        for j in i + 1..obs.len() {
            if obs[i].frame_index != frame
                || obs[j].frame_index != frame
                || obs[i].camera_id == obs[j].camera_id
            {
                continue;
            }
            let same = obs[i].instance_id == obs[j].instance_id;
            let said = matches!((labels[i], labels[j]), (Some(a), Some(b)) if a == b);
            match (same, said) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fneg += 1,
                (false, false) => {}
            }
        }
    }
    let p = tp as f64 / (tp + fp).max(1) as f64;
    let r = tp as f64 / (tp + fneg).max(1) as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f1)
}
