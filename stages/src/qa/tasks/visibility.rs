//! Visibility and occlusion (Q6-Q8): whether an object shown in one view can be seen in the
//! other (observations: shown = area at least the minimum, hidden = no pixel), and what hides it.

use rand_chacha::ChaCha8Rng;

use crossview_schemas::Task;

use super::{Emit, OptionKind, Pair, Reject, place, position, reject, sample};

/// Q6: an object shown in A; can it be seen in B? Half the draws come from objects hidden
/// in B (when there are any), so both answers are supplied. "Yes" needs an observation in B
/// whose area measures visibility, "no" a record that it has no pixel there; a sliver below
/// the minimum region is dropped at the margin, and anything else for lack of evidence.
pub(super) fn q6_visible_in_other_view(
    p: &Pair<'_, '_>,
    rng: &mut ChaCha8Rng,
    emit: &mut Emit<'_>,
) {
    let (hidden, rest): (Vec<u32>, Vec<u32>) =
        p.shown(p.a).iter().partition(|&&i| p.ix.is_hidden(p.b, i));
    let k = p.anchors();
    let mut anchors = sample(rng, &hidden, k.div_ceil(2));
    anchors.extend(sample(rng, &rest, k - anchors.len()));
    for i in anchors {
        let key = p.key(Task::Q6, &[(0, i)]);
        let answer = if p.ix.visibly_shown(p.b, i).is_some() {
            0
        } else if p.ix.is_hidden(p.b, i) {
            1
        } else {
            let small = p.ix.observation(p.b, i).is_some_and(|k| {
                p.ix.measures_visibility[k as usize] && p.ix.facts(k).area < p.ix.min_area()
            });
            emit(reject(
                Task::Q6,
                if small {
                    Reject::Margin
                } else {
                    Reject::NoEvidence
                },
            ));
            continue;
        };
        let Some(r) = p.region(0, i) else { continue };
        emit(p.finish(Task::Q6, &[r], OptionKind::YesNo, answer, key));
    }
}

/// Q7: four objects shown in A, exactly one of them hidden in B; which one? The other three
/// must be visibly shown in B (an area that measures visibility).
pub(super) fn q7_exclusive_presence(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let hidden: Vec<u32> = p
        .shown(p.a)
        .iter()
        .copied()
        .filter(|&i| p.ix.is_hidden(p.b, i))
        .collect();
    let both: Vec<u32> = p
        .shown_in_both()
        .iter()
        .copied()
        .filter(|&i| p.ix.visibly_shown(p.b, i).is_some())
        .collect();
    if hidden.is_empty() || both.len() < 3 {
        return;
    }
    for h in sample(rng, &hidden, p.anchors()) {
        let d = p.hardest(p.a, h, &both, 3);
        let key = p.key(Task::Q7, &[(0, h), (0, d[0]), (0, d[1]), (0, d[2])]);
        let pos = position(key, 4);
        let Some(regions) = p.regions(0, &place(h, &d, pos)) else {
            continue;
        };
        let kind = OptionKind::Candidates { first: 0, count: 4 };
        emit(p.finish(Task::Q7, &regions, kind, pos, key));
    }
}

/// Q8: an object shown in A is partly hidden in B; which of four objects of B hides it? The
/// occluder is nearer the camera and covers the largest share of the object's whole box,
/// clearly more than any other; the distractors cover none of it.
pub(super) fn q8_occluder(p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let ix = p.ix;
    let view_obs: Vec<usize> = ix.views[p.b as usize]
        .observed
        .iter()
        .map(|&(_, o)| o as usize)
        .collect();
    // Which objects have any occluder decides the draw (known per view); the full, sorted
    // search is made only for those drawn.
    let occluders = |o: u32| -> Vec<(u32, f64)> {
        ix.geometry
            .occluders_among(
                ix.data,
                o as usize,
                view_obs.iter().copied(),
                &ix.geometry.config,
            )
            .into_iter()
            .filter_map(|(j, share)| {
                let inst = ix.views[p.b as usize]
                    .observed
                    .iter()
                    .find(|&&(_, k)| k as usize == j)?
                    .0;
                Some((inst, share))
            })
            .collect()
    };
    let hidden_behind: Vec<(u32, u32)> = p
        .shown_in_both()
        .iter()
        .filter_map(|&i| Some((i, ix.shown(p.b, i)?)))
        .filter(|&(i, _)| ix.is_occluded(p.b, i))
        .collect();
    let picks: Vec<usize> = sample(
        rng,
        &(0..hidden_behind.len()).collect::<Vec<_>>(),
        p.anchors(),
    );
    for k in picks {
        let (i, o) = hidden_behind[k];
        let occ = occluders(o);
        // Never empty: every occluder found is an observation of view B.
        let Some(&(top, share)) = occ.first() else {
            continue;
        };
        let second = occ.get(1).map_or(0.0, |o| o.1);
        if share < p.cfg.occluder_min_share
            || share < p.cfg.occluder_dominance * second
            || ix.shown(p.b, top).is_none()
        {
            emit(reject(Task::Q8, Reject::Margin));
            continue;
        }
        let clear: Vec<u32> = p
            .shown(p.b)
            .iter()
            .copied()
            .filter(|&j| j != i && occ.iter().all(|o| o.0 != j))
            .collect();
        let d = p.hardest(p.b, i, &clear, 3);
        if d.len() < 3 {
            continue;
        }
        let key = p.key(
            Task::Q8,
            &[(0, i), (1, top), (1, d[0]), (1, d[1]), (1, d[2])],
        );
        let pos = position(key, 4);
        let (Some(target), Some(options)) = (p.region(0, i), p.regions(1, &place(top, &d, pos)))
        else {
            continue;
        };
        let mut regions = vec![target];
        regions.extend(options);
        let kind = OptionKind::Candidates { first: 1, count: 4 };
        emit(p.finish(Task::Q8, &regions, kind, pos, key));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_scene::{TestScene, draw};
    use crossview_schemas::Task;

    /// A front camera sees "back" partly behind "front"; a top-down camera sees all five
    /// objects apart; "hid" stands inside "wall" as the front camera sees it (fully hidden).
    fn scene() -> TestScene {
        let mut t = TestScene::new();
        t.camera("front", [0.0, -3.0, 1.0]);
        t.camera_at("top", [0.0, 0.0, 5.0], [0.0, 0.01, 0.0]);
        t.cube("back", "box", 0, [0.0, 0.6, 1.0], 0.3);
        t.cube("front", "box", 0, [0.12, -0.6, 1.0], 0.25);
        t.cube("wall", "board", 0, [-0.9, -1.2, 1.0], 0.5);
        t.cube("hid", "mug", 0, [-1.2, 0.2, 1.0], 0.12);
        t.cube("side", "box", 0, [0.9, 0.6, 1.0], 0.2);
        t.cube("far", "box", 0, [0.9, -0.6, 1.0], 0.2);
        t
    }

    #[test]
    fn q6_answers_from_what_the_other_view_shows() {
        let d = draw(&scene(), Task::Q6);
        let ix = d.index();
        assert!(d.cands.iter().any(|c| c.answer == 0));
        assert!(d.cands.iter().any(|c| c.answer == 1));
        for c in &d.cands {
            let i = c.regions()[0].instance;
            assert_eq!(c.answer == 0, ix.visibly_shown(c.views[1], i).is_some());
            assert_eq!(c.answer == 1, ix.is_hidden(c.views[1], i));
        }
    }

    #[test]
    fn q7_the_one_hidden_object_is_the_answer() {
        let d = draw(&scene(), Task::Q7);
        let ix = d.index();
        assert!(
            !d.cands.is_empty(),
            "the top view shows 'hid', the front does not"
        );
        for c in &d.cands {
            let hidden: Vec<usize> = (0..4)
                .filter(|&k| ix.is_hidden(c.views[1], c.regions()[k].instance))
                .collect();
            assert_eq!(hidden, vec![usize::from(c.answer)]);
            assert_eq!(
                ix.instances[c.regions()[c.answer as usize].instance as usize].id,
                "hid"
            );
        }
    }

    /// The per-view answers the templates share (made once per view) agree with the
    /// searches they stand for, asked directly: occluded means the full occluder search
    /// finds one; the confusable ranking never rises in confusion and holds every other
    /// shown instance; overlapping pairs are in order and shown.
    #[test]
    fn per_view_answers_match_the_direct_searches() {
        let d = draw(&scene(), Task::Q8);
        let ix = d.index();
        let mut occluded = 0;
        for (v, view) in ix.views.iter().enumerate() {
            let v = v as u32;
            let among: Vec<usize> = view.observed.iter().map(|&(_, o)| o as usize).collect();
            for &(i, o) in &view.observed {
                let full = ix.geometry.occluders_among(
                    ix.data,
                    o as usize,
                    among.iter().copied(),
                    &ix.geometry.config,
                );
                assert_eq!(ix.is_occluded(v, i), !full.is_empty());
                occluded += usize::from(!full.is_empty());
            }
            for &target in &view.visible {
                let ranked = ix.confusable(v, target);
                let confusion = ix.confusion(v, target);
                let mut others: Vec<u32> = ranked.to_vec();
                others.sort_unstable();
                let expected: Vec<u32> = view
                    .visible
                    .iter()
                    .copied()
                    .filter(|&i| i != target)
                    .collect();
                assert_eq!(others, expected);
                for w in ranked.windows(2) {
                    assert!(confusion.with(w[0]) >= confusion.with(w[1]));
                }
            }
            for &(x, y) in ix.overlapping(v) {
                assert!(x < y);
                assert!(view.visible.contains(&x) && view.visible.contains(&y));
            }
        }
        assert!(occluded > 0, "the front camera sees 'back' behind 'front'");
        let front = (0..ix.views.len() as u32).find(|&v| ix.camera(v).id == "front");
        assert!(front.is_some_and(|v| !ix.overlapping(v).is_empty()));
    }

    #[test]
    fn q8_finds_the_nearer_object_in_front() {
        let d = draw(&scene(), Task::Q8);
        let ix = d.index();
        assert!(!d.cands.is_empty());
        for c in &d.cands {
            let name = |k: usize| ix.instances[c.regions()[k].instance as usize].id;
            assert_eq!(name(0), "back");
            assert_eq!(name(1 + usize::from(c.answer)), "front");
            assert_eq!(ix.camera(c.views[1]).id, "front");
        }
    }

    /// A sliver below the minimum region is neither seen nor hidden (Q6), and two objects
    /// covering the hidden one about equally leave no clear occluder (Q8).
    #[test]
    fn within_the_margins_the_draw_is_rejected() {
        use super::super::test_scene::draw_with;
        use crate::qa::{QaConfig, Reject};
        let mut t = TestScene::new();
        t.camera("top", [0.0, 0.0, 5.0]);
        t.camera_at("front", [0.0, -3.0, 1.0], [0.0, 0.0, 1.0]);
        // From the front, "peek" shows only a thin strip beside "wall".
        t.cube("wall", "board", 0, [0.0, -1.5, 1.0], 0.4);
        t.cube("peek", "box", 0, [0.32, 0.0, 1.0], 0.3);
        let cfg = QaConfig {
            tasks: vec![Task::Q6],
            anchors_per_view_pair: 50,
            min_region_area_px: 200.0,
            ..QaConfig::default()
        };
        let d = draw_with(&t, cfg);
        let ix = d.index();
        let peek = ix.instances.iter().position(|i| i.id == "peek").unwrap() as u32;
        let front = ix
            .views
            .iter()
            .position(|v| ix.cameras[v.camera as usize].id == "front")
            .unwrap() as u32;
        let area = ix
            .facts(ix.observation(front, peek).expect("a sliver is observed"))
            .area;
        assert!(area > 0.0 && area < 200.0, "sliver of {area} px");
        assert!(d.cands.iter().all(|c| ix.camera(c.views[1]).id != "front"
            || ix.instances[c.regions()[0].instance as usize].id != "peek"));
        assert!(d.rejected.iter().any(|r| r.reason == Reject::Margin));
        // Two equal occluders over the left and right halves of the far object.
        let mut t = TestScene::new();
        t.camera("front", [0.0, -3.0, 1.0]);
        t.camera_at("top", [0.0, 0.0, 5.0], [0.0, 0.01, 0.0]);
        t.cube("back", "box", 0, [0.0, 0.8, 1.0], 0.4);
        t.cube("left", "box", 0, [-0.1, -1.2, 1.0], 0.12);
        t.cube("right", "box", 0, [0.1, -1.2, 1.0], 0.12);
        for (k, x) in [-1.4, -1.0, 1.0, 1.4].iter().enumerate() {
            t.cube(&format!("far{k}"), "box", 0, [*x, 0.0, 1.0], 0.15);
        }
        let d = draw(&t, Task::Q8);
        let ix = d.index();
        assert!(
            d.cands
                .iter()
                .all(|c| ix.instances[c.regions()[0].instance as usize].id != "back"),
            "no clear occluder of 'back'"
        );
        assert!(d.rejected.iter().any(|r| r.reason == Reject::Margin));
    }
}
