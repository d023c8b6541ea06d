//! Physical (Q17): two objects whose regions overlap in one view; are they in contact in 3D?
//! Contact below 2 cm, apart above 10 cm (TASKS.md), anything between dropped.

use rand_chacha::ChaCha8Rng;

use crossview_schemas::Task;

use super::{Emit, OptionKind, Pair, Reject, coin, reject, sample};
use crate::geometry::{Decision, surface_gap};

/// Q17: X and Y overlap in A (their visible boxes intersect, or one's visible box covers part
/// of where the other's whole outline projects: one in front of the other); are they in
/// physical contact?
pub(super) fn q17_contact(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let ix = p.ix;
    let both = p.shown_in_both();
    let overlapping: Vec<(u32, u32)> = ix
        .overlapping(p.a)
        .iter()
        .copied()
        .filter(|(x, y)| both.binary_search(x).is_ok() && both.binary_search(y).is_ok())
        .collect();
    for (x, y) in sample(rng, &overlapping, p.anchors()) {
        let key = p.key(Task::Q17, &[(0, x), (0, y)]);
        let (first, second) = if coin(key) { (y, x) } else { (x, y) };
        let (Some(ef), Some(es)) = (ix.estimate(p.a, first), ix.estimate(p.a, second)) else {
            emit(reject(Task::Q17, Reject::MissingGeometry));
            continue;
        };
        let answer = match p.cfg.margins.contact(surface_gap(ef, es)) {
            Decision::Decided(true) => 0,
            Decision::Decided(false) => 1,
            Decision::Undecidable => {
                emit(reject(Task::Q17, Reject::Margin));
                continue;
            }
        };
        let (Some(af), Some(a_s), Some(bf), Some(bs)) = (
            p.region(0, first),
            p.region(0, second),
            p.region(1, first),
            p.region(1, second),
        ) else {
            continue;
        };
        emit(p.finish(
            Task::Q17,
            &[af, a_s, bf, bs],
            OptionKind::YesNo,
            answer,
            key,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_scene::{TestScene, draw};
    use crossview_schemas::Task;

    #[test]
    fn touching_cubes_are_in_contact_and_separated_ones_are_not() {
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 2.0]);
        t.camera("b", [3.0, 0.3, 1.0]);
        // "base" and "top" touch (stacked); "behind" overlaps them in view a but stands 0.6 m back.
        t.cube("base", "box", 0, [0.0, 0.0, 1.0], 0.2);
        t.cube("top", "box", 0, [0.02, 0.0, 1.2], 0.2);
        t.cube("behind", "box", 0, [0.1, 0.6, 1.1], 0.25);
        let d = draw(&t, Task::Q17);
        let ix = d.index();
        let mut answers = std::collections::BTreeMap::new();
        for c in &d.cands {
            let r = c.regions();
            let mut names = [
                ix.instances[r[0].instance as usize].id,
                ix.instances[r[1].instance as usize].id,
            ];
            names.sort();
            answers.insert(names, c.answer);
        }
        assert_eq!(answers.get(&["base", "top"]), Some(&0), "{answers:?}");
        assert_eq!(answers.get(&["base", "behind"]), Some(&1), "{answers:?}");
    }

    /// Surfaces 6 cm apart are neither in contact (< 2 cm) nor apart (> 10 cm).
    #[test]
    fn a_gap_between_the_margins_is_rejected() {
        // One behind the other as "a" sees them (overlapping), 6 cm apart in depth.
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.0]);
        t.camera("b", [3.0, 0.1, 1.0]);
        t.cube("front", "box", 0, [0.0, 0.0, 1.0], 0.2);
        t.cube("behind", "box", 0, [0.08, 0.26, 1.0], 0.2);
        let d = draw(&t, Task::Q17);
        assert!(d.cands.is_empty(), "{:?}", d.cands);
        assert!(!d.rejected.is_empty());
        assert!(
            d.rejected
                .iter()
                .all(|r| r.reason == crate::qa::Reject::Margin)
        );
    }
}
