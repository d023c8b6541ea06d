//! Correspondence (Q1-Q5): which region in the other view is the same physical object. Answers
//! come from instance ids; distractors are the hardest others (same look, nearby, similar size).

use rand_chacha::ChaCha8Rng;

use crossview_schemas::Task;

use super::{Emit, OptionKind, Pair, coin, place, position, sample};

/// Q1: an object in view A; which of four regions in view B is the same object?
pub(super) fn q1_retrieval(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    retrieval(Task::Q1, 3, p, rng, emit);
}

/// Q2: as Q1 with two candidate regions.
pub(super) fn q2_two_candidates(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    retrieval(Task::Q2, 1, p, rng, emit);
}

fn retrieval(
    task: Task,
    distractors: usize,
    p: &Pair<'_, '_>,
    rng: &mut ChaCha8Rng,
    emit: &mut Emit<'_>,
) {
    if p.shown(p.b).len() < distractors + 1 {
        return;
    }
    for i in sample(rng, p.shown_in_both(), p.anchors()) {
        let d = p.hardest(p.b, i, p.shown(p.b), distractors);
        let mut roles = vec![(0, i), (1, i)];
        roles.extend(d.iter().map(|&x| (1, x)));
        let key = p.key(task, &roles);
        let pos = position(key, distractors + 1);
        let (Some(target), Some(options)) = (p.region(0, i), p.regions(1, &place(i, &d, pos)))
        else {
            continue;
        };
        let mut regions = vec![target];
        regions.extend(options);
        let kind = OptionKind::Candidates {
            first: 1,
            count: (distractors + 1) as u8,
        };
        emit(p.finish(task, &regions, kind, pos, key));
    }
}

/// Q3: a region in view B; which of three regions in view A is it, or none of them? The
/// "none" form is drawn a quarter of the time (always when the object is not shown in A).
pub(super) fn q3_one_of_three(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let pool_a = p.shown(p.a);
    if pool_a.len() < 3 {
        return;
    }
    for j in sample(rng, p.shown(p.b), p.anchors()) {
        let key = p.key(Task::Q3, &[(1, j)]);
        let in_a = p.ix.shown(p.a, j).is_some();
        let slot = if in_a { position(key, 4) } else { 3 };
        let shown_a = if slot == 3 {
            p.hardest(p.a, j, pool_a, 3)
        } else {
            place(j, &p.hardest(p.a, j, pool_a, 2), slot)
        };
        let (Some(target), Some(options)) = (p.region(1, j), p.regions(0, &shown_a)) else {
            continue;
        };
        if options.len() != 3 {
            continue;
        }
        let mut regions = vec![target];
        regions.extend(options);
        let kind = OptionKind::CandidatesOrNone { first: 1, count: 3 };
        emit(p.finish(Task::Q3, &regions, kind, slot, key));
    }
}

/// The six orders of three labels.
const PERMUTATIONS: [[u8; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// Q4: three objects marked in A and the same three, shuffled, in B; which of four pairings
/// is right? The group is an anchor and the two objects hardest to tell from it.
pub(super) fn q4_group_matching(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let both = p.shown_in_both();
    if both.len() < 3 {
        return;
    }
    for anchor in sample(rng, both, p.anchors()) {
        let others = p.hardest(p.a, anchor, both, 2);
        let group = [anchor, others[0], others[1]];
        let key = p.key(Task::Q4, &[(0, group[0]), (0, group[1]), (0, group[2])]);
        // Object k of view A carries label sigma[k] in view B.
        let sigma = PERMUTATIONS[((key >> 3) % 6) as usize];
        let mut in_b = [0u32; 3];
        for (k, &label) in sigma.iter().enumerate() {
            in_b[usize::from(label)] = group[k];
        }
        let wrong: Vec<[u8; 3]> = PERMUTATIONS
            .iter()
            .copied()
            .filter(|&q| q != sigma)
            .collect();
        let wrong = sample(rng, &wrong, 3);
        let pos = position(key, 4);
        let mut pairings = wrong;
        pairings.insert(pos, sigma);
        let (Some(ra), Some(rb)) = (p.regions(0, &group), p.regions(1, &in_b)) else {
            continue;
        };
        let regions: Vec<_> = ra.into_iter().chain(rb).collect();
        let kind = OptionKind::Pairings([pairings[0], pairings[1], pairings[2], pairings[3]]);
        emit(p.finish(Task::Q4, &regions, kind, pos, key));
    }
}

/// Q5: a region in A and one in B: the same physical object? Half the draws pair the object
/// with itself, half with the other object hardest to tell from it.
pub(super) fn q5_verification(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    for i in sample(rng, p.shown_in_both(), p.anchors()) {
        let same = coin(p.key(Task::Q5, &[(0, i)]));
        let j = if same {
            i
        } else {
            match p.hardest(p.b, i, p.shown(p.b), 1).first() {
                Some(&j) => j,
                None => continue,
            }
        };
        let key = p.key(Task::Q5, &[(0, i), (1, j)]);
        let (Some(x), Some(y)) = (p.region(0, i), p.region(1, j)) else {
            continue;
        };
        emit(p.finish(
            Task::Q5,
            &[x, y],
            OptionKind::YesNo,
            usize::from(!same),
            key,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_scene::{TestScene, draw};
    use crate::qa::OptionKind;
    use crossview_schemas::Task;

    /// Two cameras facing a row of five cubes (two of them mugs, three boxes).
    fn scene() -> TestScene {
        let mut t = TestScene::new();
        t.camera("front", [0.0, -3.0, 1.0]);
        t.camera("side", [3.0, 0.0, 1.0]);
        for (k, x) in [-0.6, -0.3, 0.0, 0.3, 0.6].into_iter().enumerate() {
            let cat = if k < 2 { "mug" } else { "box" };
            t.cube(&format!("o{k}"), cat, 0, [x, 0.2 * k as f64, 1.0], 0.12);
        }
        t
    }

    #[test]
    fn q1_and_q2_pick_the_same_instance_among_hard_distractors() {
        let t = scene();
        for (task, n) in [(Task::Q1, 4u8), (Task::Q2, 2)] {
            let d = draw(&t, task);
            let ix = d.index();
            assert!(!d.cands.is_empty());
            assert!(d.rejected.is_empty());
            for c in &d.cands {
                assert_eq!(c.options, OptionKind::Candidates { first: 1, count: n });
                let target = c.regions()[0];
                assert_eq!(target.view, 0);
                let right = c.option_region(c.answer).unwrap();
                assert_eq!(right.instance, target.instance);
                assert_eq!(right.view, 1);
                for k in 0..n {
                    if k != c.answer {
                        assert_ne!(c.option_region(k).unwrap().instance, target.instance);
                    }
                }
                // A mug's one distractor (Q2) is the other mug: same look beats the rest.
                let cat = |i: u32| ix.instances[i as usize].category;
                if task == Task::Q2 && cat(target.instance) == "mug" {
                    assert_eq!(cat(c.option_region(1 - c.answer).unwrap().instance), "mug");
                }
            }
        }
    }

    #[test]
    fn q3_none_of_them_is_right_when_no_option_is_the_object() {
        let d = draw(&scene(), Task::Q3);
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            let target = c.regions()[0].instance;
            let shown: Vec<u32> = c.regions()[1..].iter().map(|r| r.instance).collect();
            if c.answer == 3 {
                assert!(!shown.contains(&target));
            } else {
                assert_eq!(shown[usize::from(c.answer)], target);
            }
        }
    }

    #[test]
    fn q4_the_right_pairing_maps_each_object_to_itself() {
        let d = draw(&scene(), Task::Q4);
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            let OptionKind::Pairings(p) = c.options else {
                panic!("Q4 options")
            };
            let r = c.regions();
            let right =
                |row: [u8; 3]| (0..3).all(|k| r[k].instance == r[3 + usize::from(row[k])].instance);
            for (k, row) in p.iter().enumerate() {
                assert_eq!(right(*row), k == usize::from(c.answer), "{p:?}");
            }
        }
    }

    #[test]
    fn q5_yes_exactly_when_the_same_instance() {
        let d = draw(&scene(), Task::Q5);
        assert!(d.cands.iter().any(|c| c.answer == 0));
        assert!(d.cands.iter().any(|c| c.answer == 1));
        for c in &d.cands {
            let r = c.regions();
            assert_eq!(c.answer == 0, r[0].instance == r[1].instance);
        }
    }
}
