//! [`generate`]: draws every task's candidates from one scene: a seeded, evenly spread choice
//! of annotated frames, a seeded choice of ordered view pairs per frame, each task per pair.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::QaConfig;
use super::index::{SceneIndex, hash_words};
use super::tasks::{Emit, Pair, instantiate};

/// Draws the scene's candidates in a fixed order (frames, view pairs, tasks in config order),
/// handing each to `emit` as a question or a rejection; nothing is kept in between.
pub fn generate(ix: &SceneIndex<'_>, cfg: &QaConfig, emit: &mut Emit<'_>) {
    for m in chosen_moments(ix, cfg) {
        for (a, b) in chosen_pairs(ix, cfg, m) {
            let pair = Pair::new(ix, cfg, a, b);
            for &task in &cfg.tasks {
                let mut rng = ChaCha8Rng::seed_from_u64(hash_words(&[
                    cfg.seed,
                    ix.scene_hash,
                    u64::from(ix.views[a as usize].frame),
                    ix.camera(a).hash,
                    ix.camera(b).hash,
                    u64::from(task.number()),
                ]));
                instantiate(task, &pair, &mut rng, emit);
            }
        }
    }
}

/// The annotated frames questions are drawn at: all of them, or `max_frames_per_scene`
/// evenly spread ones with a seeded offset.
fn chosen_moments(ix: &SceneIndex<'_>, cfg: &QaConfig) -> Vec<usize> {
    let n = ix.moments.len();
    let m = cfg.max_frames_per_scene;
    if n <= m {
        return (0..n).collect();
    }
    let offset = (hash_words(&[cfg.seed, ix.scene_hash]) >> 11) as f64 / (1u64 << 53) as f64;
    let stride = n as f64 / m as f64;
    (0..m)
        .map(|k| (((k as f64 + offset) * stride) as usize).min(n - 1))
        .collect()
}

/// The ordered view pairs of a frame: all of them, or the `max_view_pairs_per_frame` with the
/// smallest seeded hash, in view order.
fn chosen_pairs(ix: &SceneIndex<'_>, cfg: &QaConfig, moment: usize) -> Vec<(u32, u32)> {
    let views = &ix.moments[moment].views;
    let mut pairs: Vec<(u64, u32, u32)> = Vec::with_capacity(views.len() * views.len());
    for &a in views {
        for &b in views {
            if a != b {
                let rank = hash_words(&[
                    cfg.seed,
                    ix.scene_hash,
                    u64::from(ix.views[a as usize].frame),
                    ix.camera(a).hash,
                    ix.camera(b).hash,
                ]);
                pairs.push((rank, a, b));
            }
        }
    }
    if pairs.len() > cfg.max_view_pairs_per_frame {
        pairs.select_nth_unstable(cfg.max_view_pairs_per_frame);
        pairs.truncate(cfg.max_view_pairs_per_frame);
    }
    let mut out: Vec<(u32, u32)> = pairs.into_iter().map(|(_, a, b)| (a, b)).collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::super::tasks::test_scene::{TestScene, draw_with};
    use super::*;

    fn scene() -> TestScene {
        let mut t = TestScene::new();
        for (k, eye) in [
            [0.0, -3.0, 1.0],
            [3.0, 0.0, 1.0],
            [0.0, 3.0, 1.0],
            [-3.0, 0.0, 1.0],
        ]
        .into_iter()
        .enumerate()
        {
            t.camera(&format!("c{k}"), eye);
        }
        for f in 0..6 {
            for k in 0..6 {
                let x = -0.6 + 0.25 * k as f64 + 0.05 * f64::from(f) * (k % 2) as f64;
                t.cube(&format!("o{k}"), "box", f, [x, 0.1 * k as f64, 1.0], 0.15);
            }
        }
        t
    }

    #[test]
    fn budgets_bound_frames_pairs_and_anchors() {
        let cfg = QaConfig {
            min_region_area_px: 4.0,
            max_frames_per_scene: 3,
            max_view_pairs_per_frame: 5,
            anchors_per_view_pair: 1,
            ..QaConfig::default()
        };
        let d = draw_with(&scene(), cfg.clone());
        let ix = d.index();
        let frames: std::collections::BTreeSet<u32> = d
            .cands
            .iter()
            .map(|c| ix.views[c.views[0] as usize].frame)
            .collect();
        assert!(frames.len() <= 3 && !frames.is_empty());
        // 3 frames x 5 pairs x 17 tasks x 1 anchor at most.
        assert!(d.cands.len() + d.rejected.len() <= 3 * 5 * 17);
        let pairs = chosen_pairs(&ix, &cfg, 0);
        assert_eq!(pairs.len(), 5);
        assert!(pairs.iter().all(|(a, b)| a != b));
    }

    #[test]
    fn same_seed_same_candidates_other_seed_others() {
        let cfg = QaConfig {
            min_region_area_px: 4.0,
            ..QaConfig::default()
        };
        let a = draw_with(&scene(), cfg.clone());
        let b = draw_with(&scene(), cfg.clone());
        assert!(!a.cands.is_empty());
        assert_eq!(a.cands, b.cands);
        let c = draw_with(&scene(), QaConfig { seed: 99, ..cfg });
        assert_ne!(a.cands, c.cands);
    }
}
