//! The 17 task templates of TASKS.md, one small function each, grouped by what they read:
//! correspondence (Q1-Q5), visibility (Q6-Q8), metric (Q9-Q12), relations (Q13-Q16), physical (Q17).

mod correspondence;
mod metric;
mod physical;
mod relations;
mod visibility;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crossview_schemas::Task;

use super::candidate::{Candidate, OptionKind, RegionRef, Reject, Rejected};
use super::config::QaConfig;
use super::index::{SceneIndex, hash_words};

/// Where a template hands each drawn candidate: a question, or why it is not one.
pub type Emit<'e> = dyn FnMut(Result<Candidate, Rejected>) + 'e;

/// An ordered pair of views at one frame (or, for Q14, the same cameras at two frames) and
/// everything a template needs to draw candidates from it.
pub struct Pair<'i, 'a> {
    /// The scene.
    pub ix: &'i SceneIndex<'a>,
    /// Settings.
    pub cfg: &'i QaConfig,
    /// The first view shown.
    pub a: u32,
    /// The second view shown.
    pub b: u32,
    both: Vec<u32>,
}

/// Draws up to `cfg.anchors_per_view_pair` candidates of `task` from a view pair.
pub fn instantiate(task: Task, p: &Pair<'_, '_>, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    use Task::*;
    match task {
        Q1 => correspondence::q1_retrieval(p, rng, emit),
        Q2 => correspondence::q2_two_candidates(p, rng, emit),
        Q3 => correspondence::q3_one_of_three(p, rng, emit),
        Q4 => correspondence::q4_group_matching(p, rng, emit),
        Q5 => correspondence::q5_verification(p, rng, emit),
        Q6 => visibility::q6_visible_in_other_view(p, rng, emit),
        Q7 => visibility::q7_exclusive_presence(p, rng, emit),
        Q8 => visibility::q8_occluder(p, rng, emit),
        Q9 => metric::q9_nearest_neighbour(p, rng, emit),
        Q10 => metric::q10_scale_change(p, rng, emit),
        Q11 => metric::q11_single_view_completeness(p, rng, emit),
        Q12 => metric::q12_cross_view_completeness(p, rng, emit),
        Q13 => relations::q13_left_right_flip(p, rng, emit),
        Q14 => relations::q14_displacement(p, rng, emit),
        Q15 => relations::q15_depth_consistency(p, rng, emit),
        Q16 => relations::q16_growth(p, rng, emit),
        Q17 => physical::q17_contact(p, rng, emit),
    }
}

impl<'i, 'a> Pair<'i, 'a> {
    /// The pair of views `a` then `b`.
    pub fn new(ix: &'i SceneIndex<'a>, cfg: &'i QaConfig, a: u32, b: u32) -> Self {
        let both =
            sorted_intersection(&ix.views[a as usize].visible, &ix.views[b as usize].visible);
        Pair {
            ix,
            cfg,
            a,
            b,
            both,
        }
    }

    fn anchors(&self) -> usize {
        self.cfg.anchors_per_view_pair
    }

    /// Instances shown in view `v`.
    fn shown(&self, v: u32) -> &[u32] {
        &self.ix.views[v as usize].visible
    }

    /// Instances shown in both views.
    fn shown_in_both(&self) -> &[u32] {
        &self.both
    }

    /// A region of an instance shown in the first (0) or second (1) view.
    fn region(&self, slot: u8, instance: u32) -> Option<RegionRef> {
        let v = if slot == 0 { self.a } else { self.b };
        Some(RegionRef {
            view: slot,
            instance,
            obs: self.ix.shown(v, instance)?,
        })
    }

    /// Regions of several instances in one view (all must be shown there).
    fn regions(&self, slot: u8, instances: &[u32]) -> Option<Vec<RegionRef>> {
        instances.iter().map(|&i| self.region(slot, i)).collect()
    }

    /// The content key: seed, scene, task, both views and the instances in their roles.
    fn key(&self, task: Task, roles: &[(u8, u32)]) -> u64 {
        const MAX_ROLES: usize = 8;
        let ix = self.ix;
        let mut words = [0u64; 7 + 2 * MAX_ROLES];
        words[..7].copy_from_slice(&[
            self.cfg.seed,
            ix.scene_hash,
            u64::from(task.number()),
            ix.camera(self.a).hash,
            u64::from(ix.views[self.a as usize].frame),
            ix.camera(self.b).hash,
            u64::from(ix.views[self.b as usize].frame),
        ]);
        let n = roles.len().min(MAX_ROLES);
        for (k, &(slot, i)) in roles[..n].iter().enumerate() {
            words[7 + 2 * k] = u64::from(slot);
            words[8 + 2 * k] = ix.instances[i as usize].hash;
        }
        hash_words(&words[..7 + 2 * n])
    }

    /// The `n` instances of `pool` (excluding `target`) hardest to tell from `target` in
    /// view `v`, hardest first; ties go to the smaller instance hash. Every template's pool
    /// is of instances shown in `v` (others are never picked).
    fn hardest(&self, v: u32, target: u32, pool: &[u32], n: usize) -> Vec<u32> {
        self.ix
            .confusable(v, target)
            .iter()
            .copied()
            .filter(|i| pool.contains(i))
            .take(n)
            .collect()
    }

    /// Builds the candidate (the generators only pass consistent parts, so `None` means a
    /// template bug, which is reported as a missing fact rather than a panic).
    fn finish(
        &self,
        task: Task,
        regions: &[RegionRef],
        options: OptionKind,
        answer: usize,
        key: u64,
    ) -> Result<Candidate, Rejected> {
        Candidate::new(
            self.ix,
            task,
            [self.a, self.b],
            regions,
            options,
            answer as u8,
            key,
        )
        .ok_or(Rejected {
            task,
            reason: Reject::MissingGeometry,
        })
    }
}

/// Up to `k` distinct items of `pool`, in a seeded order.
fn sample<T: Copy>(rng: &mut ChaCha8Rng, pool: &[T], k: usize) -> Vec<T> {
    let mut v = pool.to_vec();
    let k = k.min(v.len());
    for i in 0..k {
        let j = rng.random_range(i..v.len());
        v.swap(i, j);
    }
    v.truncate(k);
    v
}

/// Up to `k` distinct unordered pairs of `pool` items, in a seeded order.
fn sample_pairs(rng: &mut ChaCha8Rng, pool: &[u32], k: usize) -> Vec<(u32, u32)> {
    let n = pool.len();
    if n < 2 {
        return Vec::new();
    }
    let k = k.min(n * (n - 1) / 2);
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(k);
    // Rejection is cheap while k is far below the number of pairs; fall back to listing them.
    if 4 * k <= n * (n - 1) / 2 {
        while out.len() < k {
            let i = rng.random_range(0..n);
            let j = rng.random_range(0..n - 1);
            let j = if j >= i { j + 1 } else { j };
            let pair = (pool[i.min(j)], pool[i.max(j)]);
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
        out
    } else {
        let all: Vec<(u32, u32)> = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (pool[i], pool[j])))
            .collect();
        sample(rng, &all, k)
    }
}

/// The sorted intersection of two sorted lists.
fn sorted_intersection(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `correct` at position `pos` among `others` (kept in their order).
fn place(correct: u32, others: &[u32], pos: usize) -> Vec<u32> {
    let mut v = others.to_vec();
    v.insert(pos.min(v.len()), correct);
    v
}

/// A position in `0..n` from a key (the bits the other choices do not use).
fn position(key: u64, n: usize) -> usize {
    ((key >> 17) % n as u64) as usize
}

/// A coin from a key, independent of [`position`].
fn coin(key: u64) -> bool {
    (key >> 5) & 1 == 1
}

fn reject(task: Task, reason: Reject) -> Result<Candidate, Rejected> {
    Err(Rejected { task, reason })
}

#[cfg(test)]
pub(crate) mod test_scene;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sampling_is_distinct_and_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pool: Vec<u32> = (0..10).collect();
        let s = sample(&mut rng, &pool, 4);
        assert_eq!(s.len(), 4);
        let mut d = s.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 4);
        assert_eq!(sample(&mut rng, &pool[..2], 5).len(), 2);
        for n in [2usize, 3, 5, 30] {
            let pool: Vec<u32> = (0..n as u32).collect();
            let pairs = sample_pairs(&mut rng, &pool, 7);
            assert_eq!(pairs.len(), 7.min(n * (n - 1) / 2));
            for (x, y) in &pairs {
                assert!(x < y);
            }
            let mut d = pairs.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), pairs.len());
        }
    }

    #[test]
    fn placing_and_intersecting() {
        assert_eq!(place(9, &[1, 2, 3], 0), vec![9, 1, 2, 3]);
        assert_eq!(place(9, &[1, 2, 3], 3), vec![1, 2, 3, 9]);
        assert_eq!(
            sorted_intersection(&[1, 3, 5, 7], &[2, 3, 7, 9]),
            vec![3, 7]
        );
    }
}
