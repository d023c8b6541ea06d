//! Geometry against the synthetic truth: 3D positions, depths, visible fractions, occluders and
//! contact estimated from what the loaders read, scored against the `_truth/` sidecar.

use std::collections::BTreeMap;

use crate::support::truth::{Obb, obb_distance, observations_by_view, truth};
use crate::support::{load_tree, synth_with_images};
use crossview::schemas::{Rle, TruthObservation, TruthState};
use crossview::stages::geometry::{GeometryConfig, SceneGeometry};
use crossview::stages::sources::{SceneData, SourceOptions};
use crossview::stages::synth::{self, Profile};

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

struct Scored {
    position_median_m: f64,
    depth_median_m: f64,
    visible_mae: f64,
    visible_n: usize,
    occluder_accuracy: Option<f64>,
    occluder_cases: usize,
    contact_accuracy: Option<f64>,
    contact_pairs: usize,
}

fn score(profile: &dyn Profile, seed: u64, scenes: usize, frames: usize) -> Scored {
    let dir = synth_with_images(profile, seed, scenes, frames);
    let (loaded, _) = load_tree(dir.path(), &SourceOptions::default());
    let states: BTreeMap<(String, u32, String), TruthState> =
        truth::<TruthState>(dir.path(), "states")
            .into_iter()
            .map(|s| {
                (
                    (s.scene_id.clone(), s.frame_index, s.instance_id.clone()),
                    s,
                )
            })
            .collect();
    let tobs: BTreeMap<(String, String, u32, String), TruthObservation> =
        observations_by_view(dir.path());
    let cfg = GeometryConfig::default();
    let (mut pos, mut depth, mut vis) = (Vec::new(), Vec::new(), Vec::new());
    let (mut occ_ok, mut occ_n, mut con_ok, mut con_n) = (0usize, 0usize, 0usize, 0usize);
    for s in &loaded {
        let sid = s.scene.as_ref().expect("scene").scene_id.clone();
        let g = SceneGeometry::compute(s, &cfg);
        for ((frame, id), e) in &g.instances {
            if let Some(t) = states.get(&(sid.clone(), *frame, id.clone())) {
                pos.push((e.position - t.position).length());
            }
        }
        for (i, o) in s.observations.iter().enumerate() {
            let key = (
                sid.clone(),
                o.camera_id.clone(),
                o.frame_index,
                o.instance_id.clone(),
            );
            let Some(t) = tobs.get(&key) else { continue };
            let f = &g.facts[i];
            if let Some(d) = f.depth {
                depth.push((d - t.depth).abs());
            }
            if let Some(v) = f.visible_fraction {
                vis.push((v - f64::from(t.visible_fraction)).abs());
            }
            if let Some(named) = occluder_case(s, &g, i, t, &tobs, &sid, &cfg) {
                occ_n += 1;
                occ_ok += usize::from(named);
            }
        }
        contact_cases(s, &g, &states, &sid, &mut con_ok, &mut con_n);
    }
    Scored {
        position_median_m: quantile(&mut pos, 0.5),
        depth_median_m: quantile(&mut depth, 0.5),
        visible_mae: vis.iter().sum::<f64>() / vis.len().max(1) as f64,
        visible_n: vis.len(),
        occluder_accuracy: (occ_n > 0).then(|| occ_ok as f64 / occ_n as f64),
        occluder_cases: occ_n,
        contact_accuracy: (con_n > 0).then(|| con_ok as f64 / con_n as f64),
        contact_pairs: con_n,
    }
}

/// For an observation hidden mostly by another instance (not by the frame), the truth occluder
/// is the instance whose visible mask covers most of its whole-object mask; geometry's first
/// occluder must name it. `None` when the observation is no such case, else whether it does.
fn occluder_case(
    s: &SceneData,
    g: &SceneGeometry,
    i: usize,
    t: &TruthObservation,
    tobs: &BTreeMap<(String, String, u32, String), TruthObservation>,
    sid: &str,
    cfg: &GeometryConfig,
) -> Option<bool> {
    let (Some(amodal), Some(modal)) = (&t.amodal, &t.modal) else {
        return None;
    };
    let hidden_by_others = t.amodal_area.saturating_sub(t.modal_area);
    if (hidden_by_others as f64) < 0.2 * t.amodal_area as f64 {
        return None;
    }
    let amodal: Rle = amodal.to_rle();
    let o = &s.observations[i];
    let mut best = (0u64, String::new());
    for ((sc, cam, fr, id), other) in tobs.range(
        (
            sid.to_string(),
            o.camera_id.clone(),
            o.frame_index,
            String::new(),
        )..,
    ) {
        if sc != sid || *cam != o.camera_id || *fr != o.frame_index {
            break;
        }
        if *id == o.instance_id {
            continue;
        }
        if let Some(m) = &other.modal {
            let inter = amodal.intersection_area(&m.to_rle()).unwrap_or(0);
            if inter > best.0 {
                best = (inter, id.clone());
            }
        }
    }
    if best.0 == 0 || modal.to_rle().area() == 0 {
        return None;
    }
    // Only an occluder the source observes in this view can be named (Ego-Exo4D's wearer
    // hides objects but is never annotated).
    let observed = s.observations.iter().any(|b| {
        b.camera_id == o.camera_id && b.frame_index == o.frame_index && b.instance_id == best.1
    });
    if !observed {
        return None;
    }
    let first = g.occluders(s, i, cfg).first().map(|&(j, _)| j);
    Some(first.is_some_and(|j| s.observations[j].instance_id == best.1))
}

/// Pairs whose truth boxes touch (< 2 cm) or stand apart (> 10 cm), where geometry decides the
/// same way or not at all; the score is over the pairs geometry decides.
fn contact_cases(
    s: &SceneData,
    g: &SceneGeometry,
    states: &BTreeMap<(String, u32, String), TruthState>,
    sid: &str,
    ok: &mut usize,
    n: &mut usize,
) {
    let frames: std::collections::BTreeSet<u32> =
        s.observations.iter().map(|o| o.frame_index).collect();
    for f in frames {
        let ids: Vec<&String> = g
            .instances
            .keys()
            .filter(|(fr, _)| *fr == f)
            .map(|(_, id)| id)
            .collect();
        for (k, a) in ids.iter().enumerate() {
            for b in &ids[k + 1..] {
                let (Some(ta), Some(tb)) = (
                    states.get(&(sid.to_string(), f, (*a).clone())),
                    states.get(&(sid.to_string(), f, (*b).clone())),
                ) else {
                    continue;
                };
                let truth = obb_distance(&Obb::of(ta), &Obb::of(tb));
                let truth_contact = match truth {
                    d if d < 0.02 => true,
                    d if d > 0.10 => false,
                    _ => continue,
                };
                let Some(est) = g.surface_distance(f, a, b) else {
                    continue;
                };
                let said = match est {
                    d if d < 0.02 => true,
                    d if d > 0.10 => false,
                    _ => continue,
                };
                *n += 1;
                *ok += usize::from(said == truth_contact);
            }
        }
    }
}

fn report(name: &str, s: &Scored) {
    eprintln!(
        "{name}: position median {:.3} m, depth median {:.3} m, visible MAE {:.3} over {}, occluder {:?} over {}, contact {:?} over {} pairs",
        s.position_median_m,
        s.depth_median_m,
        s.visible_mae,
        s.visible_n,
        s.occluder_accuracy,
        s.occluder_cases,
        s.contact_accuracy,
        s.contact_pairs
    );
}

#[test]
fn messytable_geometry_is_close_to_the_truth() {
    // Box centres triangulated over 9 views; visible fraction from tight boxes only.
    let s = score(&synth::messytable::MessyTable, 31, 6, 1);
    report("messytable", &s);
    assert!(s.position_median_m < 0.01);
    assert!(s.depth_median_m < 0.01);
    assert!(s.visible_n > 500 && s.visible_mae < 0.11);
    assert!(s.occluder_cases > 100 && s.occluder_accuracy.unwrap_or(0.0) >= 0.8);
    assert!(s.contact_pairs > 500 && s.contact_accuracy.unwrap_or(0.0) >= 0.95);
}

#[test]
fn egoexo4d_geometry_is_close_to_the_truth() {
    // Mask centroids triangulated; visible fraction from masks.
    let s = score(&synth::egoexo4d::EgoExo4d, 32, 3, 61);
    report("egoexo4d", &s);
    assert!(s.position_median_m < 0.01);
    assert!(s.depth_median_m < 0.01);
    assert!(s.visible_n > 100 && s.visible_mae < 0.08);
    assert!(s.occluder_cases > 20 && s.occluder_accuracy.unwrap_or(0.0) >= 0.85);
    assert!(s.contact_pairs > 50 && s.contact_accuracy.unwrap_or(0.0) >= 0.95);
}

#[test]
fn people_geometry_is_close_to_the_truth() {
    // MMPTrack: a ground point and a height prior; EgoHumans: keypoints triangulated. Their
    // boxes cover hidden parts, so visible fraction waits for masks.
    let m = score(&synth::mmptrack::MmpTrack, 33, 3, 4);
    report("mmptrack", &m);
    assert!(m.position_median_m < 0.08 && m.depth_median_m < 0.05);
    assert_eq!(m.visible_n, 0);
    assert!(m.occluder_cases > 20 && m.occluder_accuracy.unwrap_or(0.0) >= 0.7);
    assert!(m.contact_pairs > 100 && m.contact_accuracy.unwrap_or(0.0) >= 0.95);
    let e = score(&synth::egohumans::EgoHumans, 33, 3, 4);
    report("egohumans", &e);
    assert!(e.position_median_m < 0.01 && e.depth_median_m < 0.01);
    assert_eq!(e.visible_n, 0);
    assert!(e.occluder_cases > 10 && e.occluder_accuracy.unwrap_or(0.0) >= 0.8);
    assert!(e.contact_pairs > 20 && e.contact_accuracy.unwrap_or(0.0) >= 0.9);
}
