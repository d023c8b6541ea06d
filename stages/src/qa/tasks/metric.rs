//! Metric tasks (Q9-Q12): nearest neighbour in 3D, apparent scale change, and completeness
//! within one view and across views, each decided with its TASKS.md margin.

use std::cmp::Ordering;

use rand_chacha::ChaCha8Rng;

use crossview_schemas::Task;

use super::{Emit, OptionKind, Pair, Reject, coin, place, position, reject, sample, sample_pairs};
use crate::geometry::{Decision, ScaleChange};

/// Q9: an object in A; which of four regions in B is nearest to it in 3D? The nearest object
/// and three others drawn from the rest; the nearest must beat the second by the margin.
pub(super) fn q9_nearest_neighbour(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    if p.shown(p.b).len() < 4 {
        return;
    }
    for i in sample(rng, p.shown(p.a), p.anchors()) {
        let Some((centre, _)) = p.ix.estimate(p.a, i) else {
            emit(reject(Task::Q9, Reject::MissingGeometry));
            continue;
        };
        let mut by_distance: Vec<(f64, u32)> = p
            .shown(p.b)
            .iter()
            .filter(|&&j| j != i)
            .filter_map(|&j| Some(((p.ix.estimate(p.b, j)?.0 - centre).length(), j)))
            .collect();
        if by_distance.len() < 4 {
            emit(reject(Task::Q9, Reject::MissingGeometry));
            continue;
        }
        by_distance.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let (nearest_d, nearest) = by_distance[0];
        let others = sample(rng, &by_distance[1..], 3);
        let mut distances = vec![nearest_d];
        distances.extend(others.iter().map(|o| o.0));
        if p.cfg.margins.nearest(&distances) != Decision::Decided(0) {
            emit(reject(Task::Q9, Reject::Margin));
            continue;
        }
        let d: Vec<u32> = others.iter().map(|o| o.1).collect();
        let key = p.key(
            Task::Q9,
            &[(0, i), (1, nearest), (1, d[0]), (1, d[1]), (1, d[2])],
        );
        let pos = position(key, 4);
        let (Some(target), Some(options)) =
            (p.region(0, i), p.regions(1, &place(nearest, &d, pos)))
        else {
            continue;
        };
        let mut regions = vec![target];
        regions.extend(options);
        let kind = OptionKind::Candidates { first: 1, count: 4 };
        emit(p.finish(Task::Q9, &regions, kind, pos, key));
    }
}

/// Q10: one object in A and in B: larger, smaller or about the same in B (mask areas)?
pub(super) fn q10_scale_change(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    for i in sample(rng, p.shown_in_both(), p.anchors()) {
        let (Some(x), Some(y)) = (p.region(0, i), p.region(1, i)) else {
            continue;
        };
        let (area_a, area_b) = (p.ix.facts(x.obs).area, p.ix.facts(y.obs).area);
        let label = match p.cfg.margins.scale_change(area_a, area_b) {
            Decision::Decided(ScaleChange::Larger) => 0,
            Decision::Decided(ScaleChange::Smaller) => 1,
            Decision::Decided(ScaleChange::Same) => 2,
            Decision::Undecidable => {
                emit(reject(Task::Q10, Reject::Margin));
                continue;
            }
        };
        // The options in a seeded order, so the right one's position is uniform.
        let key = p.key(Task::Q10, &[(0, i), (1, i)]);
        let pos = position(key, 3);
        let others: Vec<u32> = (0..3u32).filter(|&l| l != label).collect();
        let order = place(label, &others, pos);
        let labels = [order[0] as u8, order[1] as u8, order[2] as u8];
        emit(p.finish(Task::Q10, &[x, y], OptionKind::Scale(labels), pos, key));
    }
}

/// Q11: two objects in A: which is more completely visible (truncation and occlusion)?
pub(super) fn q11_single_view_completeness(
    p: &Pair<'_, '_>,
    rng: &mut ChaCha8Rng,
    emit: &mut Emit<'_>,
) {
    for (x, y) in sample_pairs(rng, p.shown(p.a), p.anchors()) {
        let key = p.key(Task::Q11, &[(0, x), (0, y)]);
        let (first, second) = if coin(key) { (y, x) } else { (x, y) };
        let (Some(f), Some(s)) = (p.region(0, first), p.region(0, second)) else {
            continue;
        };
        let (Some(vf), Some(vs)) = (
            p.ix.facts(f.obs).visible_fraction,
            p.ix.facts(s.obs).visible_fraction,
        ) else {
            emit(reject(Task::Q11, Reject::MissingGeometry));
            continue;
        };
        let answer = match p.cfg.completeness_margins().more_complete(vf, vs) {
            Decision::Decided(Ordering::Greater) => 0,
            Decision::Decided(_) => 1,
            Decision::Undecidable => {
                emit(reject(Task::Q11, Reject::Margin));
                continue;
            }
        };
        emit(p.finish(Task::Q11, &[f, s], OptionKind::FirstSecond, answer, key));
    }
}

/// Q12: one object in A and in B: in which view is more of it visible?
pub(super) fn q12_cross_view_completeness(
    p: &Pair<'_, '_>,
    rng: &mut ChaCha8Rng,
    emit: &mut Emit<'_>,
) {
    for i in sample(rng, p.shown_in_both(), p.anchors()) {
        let (Some(x), Some(y)) = (p.region(0, i), p.region(1, i)) else {
            continue;
        };
        let (Some(va), Some(vb)) = (
            p.ix.facts(x.obs).visible_fraction,
            p.ix.facts(y.obs).visible_fraction,
        ) else {
            emit(reject(Task::Q12, Reject::MissingGeometry));
            continue;
        };
        let answer = match p.cfg.completeness_margins().more_complete(va, vb) {
            Decision::Decided(Ordering::Greater) => 0,
            Decision::Decided(_) => 1,
            Decision::Undecidable => {
                emit(reject(Task::Q12, Reject::Margin));
                continue;
            }
        };
        let key = p.key(Task::Q12, &[(0, i), (1, i)]);
        emit(p.finish(Task::Q12, &[x, y], OptionKind::Views, answer, key));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_scene::{TestScene, draw};
    use crate::qa::Reject;
    use crossview_schemas::Task;

    #[test]
    fn q9_nearest_in_3d_with_its_margin() {
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [2.0, -2.5, 1.6]);
        // "x" has a clear nearest neighbour "n"; the rest are far.
        t.cube("x", "box", 0, [-0.5, 0.0, 1.0], 0.15);
        t.cube("n", "box", 0, [-0.2, 0.0, 1.0], 0.15);
        t.cube("f1", "box", 0, [0.5, 0.4, 1.0], 0.15);
        t.cube("f2", "box", 0, [0.6, -0.4, 1.0], 0.15);
        t.cube("f3", "box", 0, [0.1, -0.9, 1.0], 0.15);
        let d = draw(&t, Task::Q9);
        let ix = d.index();
        let mut seen_x = false;
        for c in &d.cands {
            let name = |k: usize| ix.instances[c.regions()[k].instance as usize].id;
            let right = name(1 + usize::from(c.answer));
            let centre = ix.estimate(c.views[0], c.regions()[0].instance).unwrap().0;
            // The answer is the nearest of the four offered.
            let dist = |k: usize| {
                (ix.estimate(c.views[1], c.regions()[1 + k].instance)
                    .unwrap()
                    .0
                    - centre)
                    .length()
            };
            for k in 0..4 {
                if k != usize::from(c.answer) {
                    assert!(dist(usize::from(c.answer)) * 1.15 <= dist(k) + 1e-9);
                }
            }
            if name(0) == "x" {
                seen_x = true;
                assert_eq!(right, "n");
            }
        }
        assert!(seen_x);
        // Equidistant neighbours: no question, only margin rejections.
        let mut t = TestScene::new();
        t.camera("a", [2.0, -2.5, 2.5]);
        t.camera("b", [-2.5, -2.0, 2.5]);
        t.cube("x", "box", 0, [0.0, 0.0, 1.0], 0.15);
        for (k, (dx, dy)) in [(0.5, 0.0), (-0.5, 0.0), (0.0, 0.5), (0.0, -0.5)]
            .iter()
            .enumerate()
        {
            t.cube(&format!("r{k}"), "box", 0, [*dx, *dy, 1.0], 0.15);
        }
        let d = draw(&t, Task::Q9);
        let ix = d.index();
        assert_eq!(d.data.observations.len(), 10, "all five seen in both views");
        assert!(!d.cands.is_empty());
        assert!(
            d.cands
                .iter()
                .all(|c| ix.instances[c.regions()[0].instance as usize].id != "x")
        );
        assert!(d.rejected.iter().any(|r| r.reason == Reject::Margin));
    }

    #[test]
    fn q10_scale_from_area_ratio() {
        // Camera "near" is three times closer to "o" than camera "far".
        let mut t = TestScene::new();
        t.camera("near", [0.0, -1.0, 1.0]);
        t.camera("far", [0.0, -3.0, 1.0]);
        t.camera("twin", [0.05, -3.0, 1.0]);
        t.cube("o", "box", 0, [0.0, 0.0, 1.0], 0.2);
        let d = draw(&t, Task::Q10);
        let ix = d.index();
        let mut answers = std::collections::BTreeMap::new();
        for c in &d.cands {
            let crate::qa::OptionKind::Scale(labels) = c.options else {
                panic!("Q10 options")
            };
            let label = labels[usize::from(c.answer)];
            answers.insert((ix.camera(c.views[0]).id, ix.camera(c.views[1]).id), label);
        }
        assert_eq!(answers.get(&("far", "near")), Some(&0), "larger");
        assert_eq!(answers.get(&("near", "far")), Some(&1), "smaller");
        assert_eq!(answers.get(&("far", "twin")), Some(&2), "about the same");
    }

    #[test]
    fn q11_and_q12_completeness_from_occlusion() {
        // From camera "a", "half" is half behind "screen"; from "b" both are in the clear.
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [3.0, 0.0, 1.0]);
        t.cube("half", "box", 0, [0.0, 0.5, 1.0], 0.3);
        t.cube("screen", "board", 0, [-0.1, -1.0, 1.0], 0.15);
        t.cube("free", "box", 0, [0.9, -0.4, 1.0], 0.3);
        let d = draw(&t, Task::Q11);
        let ix = d.index();
        let name = |i: u32| ix.instances[i as usize].id;
        let mut judged = false;
        for c in &d.cands {
            let r = c.regions();
            if ix.camera(c.views[0]).id == "a"
                && [name(r[0].instance), name(r[1].instance)].contains(&"half")
            {
                let winner = name(r[usize::from(c.answer)].instance);
                assert_ne!(winner, "half");
                judged = true;
            }
        }
        assert!(judged);
        let d = draw(&t, Task::Q12);
        let ix = d.index();
        let mut judged = false;
        for c in &d.cands {
            let r = c.regions();
            if ix.instances[r[0].instance as usize].id == "half" {
                let better = ix.camera(c.views[usize::from(c.answer)]).id;
                assert_eq!(better, "b");
                judged = true;
            }
        }
        assert!(judged);
    }

    /// Inside the margins nothing is asked: a 1.2x area change (between "about the same"
    /// at 1.1x and "larger" at 1.3x), and two wholly visible objects' completeness.
    #[test]
    fn within_the_margins_the_draw_is_rejected() {
        let mut t = TestScene::new();
        // The near face at 2.7 m and 2.45 m: (2.7 / 2.45)^2 = 1.21.
        t.camera("far", [0.0, -3.0, 1.0]);
        t.camera("nearer", [0.0, -2.75, 1.0]);
        t.cube("o", "box", 0, [0.0, 0.0, 1.0], 0.6);
        let d = draw(&t, Task::Q10);
        assert!(d.cands.is_empty(), "{:?}", d.cands);
        assert!(!d.rejected.is_empty());
        assert!(d.rejected.iter().all(|r| r.reason == Reject::Margin));
        // A row seen from the front and from above-front: nothing hides anything.
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [0.5, -3.0, 2.5]);
        for k in 0..5 {
            t.cube(
                &format!("o{k}"),
                "box",
                0,
                [-0.6 + 0.3 * k as f64, 0.0, 1.0],
                0.15,
            );
        }
        for task in [Task::Q11, Task::Q12] {
            let d = draw(&t, task);
            assert!(d.cands.is_empty(), "{task}: {:?}", d.cands);
            assert!(
                d.rejected.iter().any(|r| r.reason == Reject::Margin),
                "{task}"
            );
        }
    }
}
