//! Pairwise relations across views (Q13-Q16): left-right order, displacement over time, depth
//! order, and relative growth in apparent size; each side decided with its TASKS.md margin.

use std::cmp::Ordering;

use rand_chacha::ChaCha8Rng;

use crossview_schemas::Task;

use super::{Emit, OptionKind, Pair, Reject, coin, reject, sample_pairs};
use crate::geometry::Decision;

/// A relation between two objects' observations in a view: which holds of (first, second),
/// decided with a margin, or why it cannot be.
type Relation<'r> = dyn Fn(u32, u32, u32) -> Result<Decision<bool>, Reject> + 'r;

/// For two objects shown in both views: orders them so that `holds` is true of (first,
/// second) in A, then asks whether it still holds in B. The answer is yes (0) when it still
/// holds and `yes_when_kept`, or when it no longer holds and not.
fn relation_across_views(
    task: Task,
    holds: &Relation<'_>,
    yes_when_kept: bool,
    p: &Pair<'_, '_>,
    rng: &mut ChaCha8Rng,
    emit: &mut Emit<'_>,
) {
    for (x, y) in sample_pairs(rng, p.shown_in_both(), p.anchors()) {
        let (Some(ax), Some(ay), Some(bx), Some(by)) = (
            p.region(0, x),
            p.region(0, y),
            p.region(1, x),
            p.region(1, y),
        ) else {
            continue;
        };
        // A decision, or the rejection to emit.
        let decide = |first: u32, second: u32, view: u32| match holds(first, second, view) {
            Ok(Decision::Decided(h)) => Ok(h),
            Ok(Decision::Undecidable) => Err(Reject::Margin),
            Err(r) => Err(r),
        };
        let in_a = match decide(ax.obs, ay.obs, p.a) {
            Ok(h) => h,
            Err(r) => {
                emit(reject(task, r));
                continue;
            }
        };
        let regions = if in_a {
            [ax, ay, bx, by]
        } else {
            [ay, ax, by, bx]
        };
        let kept = match decide(regions[2].obs, regions[3].obs, p.b) {
            Ok(h) => h,
            Err(r) => {
                emit(reject(task, r));
                continue;
            }
        };
        let key = p.key(task, &[(0, regions[0].instance), (0, regions[1].instance)]);
        let yes = kept == yes_when_kept;
        emit(p.finish(task, &regions, OptionKind::YesNo, usize::from(!yes), key));
    }
}

/// Q13: X is left of Y in A; is their order flipped in B (mask centroids, margin a share of
/// the image width)?
pub(super) fn q13_left_right_flip(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let left_of = |first: u32, second: u32, view: u32| {
        let width = f64::from(p.ix.camera(view).width);
        let cx = |obs: u32| p.ix.facts(obs).centroid.x;
        Ok(p.cfg.margins.left_of(cx(first), cx(second), width))
    };
    relation_across_views(Task::Q13, &left_of, false, p, rng, emit);
}

/// Q14: two objects shown at time t in A and later in B (camera B at the first annotated
/// frame at least the configured interval later); which moved farther in between?
pub(super) fn q14_displacement(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let ix = p.ix;
    let (va, vb) = (&ix.views[p.a as usize], &ix.views[p.b as usize]);
    let t = ix.moments[va.moment as usize].timestamp_s;
    let Some(later) = ix
        .moments
        .iter()
        .find(|m| m.timestamp_s >= t + p.cfg.displacement_interval_s)
        .and_then(|m| {
            m.views
                .iter()
                .copied()
                .find(|&v| ix.views[v as usize].camera == vb.camera)
        })
    else {
        return;
    };
    let q = Pair::new(ix, p.cfg, p.a, later);
    for (x, y) in sample_pairs(rng, q.shown_in_both(), q.anchors()) {
        let key = q.key(Task::Q14, &[(0, x), (0, y)]);
        let (first, second) = if coin(key) { (y, x) } else { (x, y) };
        let moved = |i: u32| Some((ix.estimate(q.b, i)?.0 - ix.estimate(q.a, i)?.0).length());
        let (Some(df), Some(ds)) = (moved(first), moved(second)) else {
            emit(reject(Task::Q14, Reject::MissingGeometry));
            continue;
        };
        let answer = match p.cfg.margins.farther_moved(df, ds) {
            Decision::Decided(Ordering::Greater) => 0,
            Decision::Decided(_) => 1,
            Decision::Undecidable => {
                emit(reject(Task::Q14, Reject::Margin));
                continue;
            }
        };
        let (Some(af), Some(a_s), Some(bf), Some(bs)) = (
            q.region(0, first),
            q.region(0, second),
            q.region(1, first),
            q.region(1, second),
        ) else {
            continue;
        };
        emit(q.finish(
            Task::Q14,
            &[af, a_s, bf, bs],
            OptionKind::FirstSecond,
            answer,
            key,
        ));
    }
}

/// Q15: X is nearer the camera than Y in A; is X also nearer in B (camera-space depth)?
pub(super) fn q15_depth_consistency(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let nearer = |first: u32, second: u32, _view: u32| match (
        p.ix.facts(first).depth,
        p.ix.facts(second).depth,
    ) {
        (Some(a), Some(b)) => Ok(p.cfg.margins.nearer(a, b)),
        _ => Err(Reject::MissingGeometry),
    };
    relation_across_views(Task::Q15, &nearer, true, p, rng, emit);
}

/// Q16: from A to B, which of two objects grows more in apparent size (area ratios)?
pub(super) fn q16_growth(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    for (x, y) in sample_pairs(rng, p.shown_in_both(), p.anchors()) {
        let key = p.key(Task::Q16, &[(0, x), (0, y)]);
        let (first, second) = if coin(key) { (y, x) } else { (x, y) };
        let (Some(af), Some(bf), Some(a_s), Some(bs)) = (
            p.region(0, first),
            p.region(1, first),
            p.region(0, second),
            p.region(1, second),
        ) else {
            continue;
        };
        let area = |obs: u32| p.ix.facts(obs).area;
        let growth = |a: u32, b: u32| area(b) / area(a);
        let answer = match p
            .cfg
            .margins
            .growth(growth(af.obs, bf.obs), growth(a_s.obs, bs.obs))
        {
            Decision::Decided(Ordering::Greater) => 0,
            Decision::Decided(_) => 1,
            Decision::Undecidable => {
                emit(reject(Task::Q16, Reject::Margin));
                continue;
            }
        };
        emit(p.finish(
            Task::Q16,
            &[af, bf, a_s, bs],
            OptionKind::FirstSecond,
            answer,
            key,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_scene::{TestScene, draw};
    use crossview_schemas::Task;

    /// Cameras on opposite sides see left and right swapped; neighbours see the same order.
    fn facing() -> TestScene {
        let mut t = TestScene::new();
        t.camera("south", [0.0, -3.0, 1.0]);
        t.camera("south2", [0.4, -3.0, 1.0]);
        t.camera("north", [0.0, 3.0, 1.0]);
        t.cube("l", "box", 0, [-0.5, 0.0, 1.0], 0.2);
        t.cube("r", "box", 0, [0.5, 0.0, 1.0], 0.2);
        t
    }

    #[test]
    fn q13_flips_only_between_opposite_cameras() {
        let d = draw(&facing(), Task::Q13);
        let ix = d.index();
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            let (a, b) = (ix.camera(c.views[0]).id, ix.camera(c.views[1]).id);
            let flipped = (a == "north") != (b == "north");
            assert_eq!(c.answer == 0, flipped, "{a} -> {b}");
            // The first region is the left one in the first view.
            let r = c.regions();
            assert!(ix.facts(r[0].obs).centroid.x < ix.facts(r[1].obs).centroid.x);
        }
    }

    #[test]
    fn q15_depth_order_holds_for_neighbours_and_flips_for_opposites() {
        let mut t = TestScene::new();
        t.camera("south", [0.0, -3.0, 1.0]);
        t.camera("south2", [0.5, -3.0, 1.0]);
        t.camera("north", [0.0, 3.0, 1.0]);
        t.cube("near_s", "box", 0, [-0.3, -0.8, 1.0], 0.2);
        t.cube("near_n", "box", 0, [0.3, 0.8, 1.0], 0.2);
        let d = draw(&t, Task::Q15);
        let ix = d.index();
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            let (a, b) = (ix.camera(c.views[0]).id, ix.camera(c.views[1]).id);
            let same_side = (a == "north") == (b == "north");
            assert_eq!(c.answer == 0, same_side, "{a} -> {b}");
        }
    }

    #[test]
    fn q14_the_mover_moved_farther() {
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [3.0, 0.0, 1.0]);
        t.cube("mover", "person", 0, [-0.5, 0.0, 1.0], 0.2);
        t.cube("mover", "person", 1, [0.3, 0.4, 1.0], 0.2);
        t.cube("still", "person", 0, [0.5, -0.5, 1.0], 0.2);
        t.cube("still", "person", 1, [0.52, -0.5, 1.0], 0.2);
        let d = draw(&t, Task::Q14);
        let ix = d.index();
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            assert_eq!(ix.views[c.views[0] as usize].frame, 0);
            assert_eq!(ix.views[c.views[1] as usize].frame, 1);
            let r = c.regions();
            assert_eq!(
                ix.instances[r[usize::from(c.answer)].instance as usize].id,
                "mover"
            );
            assert_eq!(r[0].instance, r[2].instance);
        }
    }

    #[test]
    fn q16_the_object_the_camera_approaches_grows_more() {
        // From "wide" to "close" the camera moves towards "target" and away from "other".
        let mut t = TestScene::new();
        t.camera_at("wide", [0.0, -3.0, 1.0], [0.0, 0.0, 1.0]);
        t.camera_at("close", [-0.5, -1.0, 1.0], [0.0, 0.0, 1.0]);
        t.cube("target", "box", 0, [-0.3, 0.0, 1.0], 0.2);
        t.cube("other", "box", 0, [0.3, 0.0, 1.0], 0.2);
        let d = draw(&t, Task::Q16);
        let ix = d.index();
        let mut judged = false;
        for c in &d.cands {
            if ix.camera(c.views[0]).id == "wide" {
                let r = c.regions();
                let winner = ix.instances[r[2 * usize::from(c.answer)].instance as usize].id;
                assert_eq!(winner, "target");
                judged = true;
            }
        }
        assert!(judged);
    }

    /// Inside the margins nothing is asked: one object above the other (same image x), side by
    /// side at one depth, two still objects, and two objects that grow alike.
    #[test]
    fn within_the_margins_the_draw_is_rejected() {
        use crate::qa::Reject;
        let only_margin = |d: &super::super::test_scene::Drawn, what: &str| {
            assert!(d.cands.is_empty(), "{what}: {:?}", d.cands);
            assert!(!d.rejected.is_empty(), "{what}");
            assert!(
                d.rejected.iter().all(|r| r.reason == Reject::Margin),
                "{what}"
            );
        };
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [0.3, -3.0, 1.0]);
        t.cube("low", "box", 0, [0.0, 0.0, 0.8], 0.2);
        t.cube("high", "box", 0, [0.0, 0.0, 1.2], 0.2);
        only_margin(&draw(&t, Task::Q13), "stacked: same x");
        // Side by side at one depth, seen square-on by both cameras.
        let mut t = TestScene::new();
        t.camera_at("a", [0.0, -3.0, 1.0], [0.0, 0.0, 1.0]);
        t.camera_at("b", [0.0, -2.5, 1.0], [0.0, 0.0, 1.0]);
        t.cube("l", "box", 0, [-0.4, 0.0, 1.0], 0.2);
        t.cube("r", "box", 0, [0.4, 0.0, 1.0], 0.2);
        only_margin(&draw(&t, Task::Q15), "same depth");
        // The camera backs away along its axis: both objects shrink alike.
        only_margin(&draw(&t, Task::Q16), "same growth");
        // Nothing moves between the frames.
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [3.0, 0.0, 1.0]);
        for f in 0..2 {
            t.cube("x", "box", f, [-0.4, 0.0, 1.0], 0.2);
            t.cube("y", "box", f, [0.4, 0.3, 1.0], 0.2);
        }
        only_margin(&draw(&t, Task::Q14), "still");
    }
}
