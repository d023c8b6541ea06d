//! Filters between instantiation and the shards: near-duplicate removal within a scene, and
//! answer balance with per-task and per-source quotas as seeded bottom-k selections.
//!
//! Balance works on answer slots: each kept candidate has a slot (its correct option's
//! position). Per group, every slot keeps the same number of candidates, those with the
//! smallest rank (a seeded hash of the candidate's content), so the selection depends on
//! each candidate alone plus one threshold per group: a change in one scene moves few samples.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crossview_schemas::{SourceKind, Split, Task};

use crate::qa::{Candidate, hash_words};

/// Drops candidates of a scene that repeat an earlier one's task, views, regions and answer.
#[derive(Debug, Default)]
pub struct Deduper {
    seen: HashSet<u64>,
}

impl Deduper {
    /// An empty deduper (one per scene: duplicates never cross scenes).
    pub fn new() -> Self {
        Deduper::default()
    }

    /// Whether the candidate is new (and remembers it).
    pub fn admit(&mut self, c: &Candidate) -> bool {
        self.seen.insert(c.dedupe_key)
    }
}

/// The rank a candidate is selected by: a seeded hash of its content key.
pub fn rank(c: &Candidate, seed: u64) -> u64 {
    hash_words(&[seed, c.key, 0x5e1e_c7ed])
}

/// A balance group and answer slot: train groups are per task and source, bench groups per
/// task (the bench is sampled across sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SlotKey {
    /// Split.
    pub split: Split,
    /// Task.
    pub task: Task,
    /// Source (train groups only).
    pub source: Option<SourceKind>,
    /// The correct option's position.
    pub slot: u8,
}

impl SlotKey {
    /// The group and slot of a candidate from a scene of `source` in `split`.
    pub fn of(c: &Candidate, split: Split, source: SourceKind) -> Self {
        SlotKey {
            split,
            task: c.task,
            source: (split == Split::Train).then_some(source),
            slot: c.answer,
        }
    }
}

/// Train quotas and balance (all optional; by default every balanced candidate is kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Most train samples of any one task (all sources together).
    pub train_per_task: Option<u64>,
    /// Per-task overrides of `train_per_task` (e.g. the paper's per-task counts).
    pub train_task_quotas: BTreeMap<Task, u64>,
    /// Within a task's quota, the largest share any one source may take.
    pub max_source_share: f64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            train_per_task: None,
            train_task_quotas: BTreeMap::new(),
            max_source_share: 1.0,
        }
    }
}

impl FilterConfig {
    /// Checks the values.
    pub fn validate(&self) -> crate::Result<()> {
        if !(self.max_source_share > 0.0 && self.max_source_share <= 1.0) {
            return Err(crate::Error::Options(
                "filter: max_source_share must be in (0, 1]".into(),
            ));
        }
        Ok(())
    }

    fn quota(&self, task: Task) -> Option<u64> {
        self.train_task_quotas
            .get(&task)
            .copied()
            .or(self.train_per_task)
    }
}

/// The ranks of the candidates that passed the per-scene filters, by group and slot.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    ranks: BTreeMap<SlotKey, Vec<u64>>,
    options: BTreeMap<Task, u8>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Tally::default()
    }

    /// Counts a candidate: its group and slot, its rank, and its task's number of options.
    pub fn add(&mut self, key: SlotKey, rank: u64, options: u8) {
        self.ranks.entry(key).or_default().push(rank);
        self.options.entry(key.task).or_insert(options);
    }

    /// Adds another tally (from another worker).
    pub fn merge(&mut self, other: Tally) {
        for (k, mut v) in other.ranks {
            self.ranks.entry(k).or_default().append(&mut v);
        }
        for (t, n) in other.options {
            self.options.entry(t).or_insert(n);
        }
    }

    /// Every counted candidate as (group and slot, rank, its task's number of options).
    pub fn entries(&self) -> impl Iterator<Item = (SlotKey, u64, u8)> + '_ {
        self.ranks.iter().flat_map(move |(k, v)| {
            let options = self.slots(k.task);
            v.iter().map(move |&r| (*k, r, options))
        })
    }

    /// Candidates counted per group and slot.
    pub fn counts(&self) -> BTreeMap<SlotKey, u64> {
        self.ranks
            .iter()
            .map(|(k, v)| (*k, v.len() as u64))
            .collect()
    }

    fn slots(&self, task: Task) -> u8 {
        slots_of(&self.options, task)
    }

    /// The selection: train groups balanced and held to the quotas, the bench sampled to
    /// `bench_per_task` per task (balanced; fewer where a slot runs short).
    pub fn select(&self, filter: &FilterConfig, bench_per_task: u64) -> Selection {
        select_in(self, filter, bench_per_task)
    }
}

impl GroupRanks for Tally {
    fn options(&self) -> &BTreeMap<Task, u8> {
        &self.options
    }
    fn count(&self, key: &SlotKey) -> u64 {
        self.ranks.get(key).map_or(0, |v| v.len() as u64)
    }
    fn kth_smallest(&self, key: &SlotKey, n: u64) -> Option<u64> {
        kth_smallest(self.ranks.get(key)?, n)
    }
}

/// The ranks of the candidates that passed the per-scene filters, by group and slot, as
/// borrowed sorted runs (one per scene): a [`Tally`] that copies no rank, for the graph's
/// selection over every scene's ranks.
#[derive(Clone, Debug, Default)]
pub struct RankRuns<'a> {
    runs: BTreeMap<SlotKey, Vec<&'a [u64]>>,
    options: BTreeMap<Task, u8>,
}

impl<'a> RankRuns<'a> {
    /// No runs.
    pub fn new() -> Self {
        RankRuns::default()
    }

    /// Counts one scene's candidates of a group and slot: their ranks, sorted ascending.
    pub fn add_sorted(&mut self, key: SlotKey, ranks: &'a [u64], options: u8) {
        debug_assert!(ranks.is_sorted());
        self.runs.entry(key).or_default().push(ranks);
        self.options.entry(key.task).or_insert(options);
    }

    /// The selection, as [`Tally::select`] makes it from the same ranks.
    pub fn select(&self, filter: &FilterConfig, bench_per_task: u64) -> Selection {
        select_in(self, filter, bench_per_task)
    }
}

impl GroupRanks for RankRuns<'_> {
    fn options(&self) -> &BTreeMap<Task, u8> {
        &self.options
    }
    fn count(&self, key: &SlotKey) -> u64 {
        self.runs
            .get(key)
            .map_or(0, |runs| runs.iter().map(|r| r.len() as u64).sum())
    }
    fn kth_smallest(&self, key: &SlotKey, n: u64) -> Option<u64> {
        kth_smallest_of_runs(self.runs.get(key)?, n)
    }
}

/// Ranks by group and slot, as the selection reads them.
trait GroupRanks {
    /// Each counted task's number of options.
    fn options(&self) -> &BTreeMap<Task, u8>;
    /// Candidates counted in a group and slot.
    fn count(&self, key: &SlotKey) -> u64;
    /// The `n`-th smallest rank (1-based) of a group and slot (see [`kth_smallest`]).
    fn kth_smallest(&self, key: &SlotKey, n: u64) -> Option<u64>;
}

fn slots_of(options: &BTreeMap<Task, u8>, task: Task) -> u8 {
    options.get(&task).copied().unwrap_or(1).max(1)
}

/// The selection over ranks held either way (see [`Tally::select`]).
fn select_in(ranks: &impl GroupRanks, filter: &FilterConfig, bench_per_task: u64) -> Selection {
    let mut keep: BTreeMap<SlotKey, u64> = BTreeMap::new();
    let count = |k: &SlotKey| ranks.count(k);
    let tasks: Vec<Task> = ranks.options().keys().copied().collect();
    for task in tasks {
        let slots = slots_of(ranks.options(), task);
        let key = |split, source, slot| SlotKey {
            split,
            task,
            source,
            slot,
        };
        // Train: per source, the balanced capacity; then the task quota shared out.
        let sources: Vec<SourceKind> = SourceKind::ALL
            .iter()
            .copied()
            .filter(|&s| (0..slots).any(|k| count(&key(Split::Train, Some(s), k)) > 0))
            .collect();
        let per_slot: Vec<u64> = sources
            .iter()
            .map(|&s| {
                (0..slots)
                    .map(|k| count(&key(Split::Train, Some(s), k)))
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        let capacity: Vec<u64> = per_slot.iter().map(|&p| p * u64::from(slots)).collect();
        let alloc = share_out(&capacity, filter.quota(task), filter.max_source_share);
        for (i, &s) in sources.iter().enumerate() {
            let k = alloc[i] / u64::from(slots);
            for slot in 0..slots {
                keep.insert(key(Split::Train, Some(s), slot), k);
            }
        }
        // Bench: N per task, spread over the slots (the first slots take the remainder).
        let bench_min = (0..slots)
            .map(|k| count(&key(Split::Bench, None, k)))
            .min()
            .unwrap_or(0);
        let base = bench_per_task / u64::from(slots);
        let extra = bench_per_task % u64::from(slots);
        let balanced = bench_min >= base + u64::from(extra > 0);
        for slot in 0..slots {
            let want = base + u64::from(u64::from(slot) < extra);
            let k = if balanced { want } else { bench_min.min(want) };
            keep.insert(key(Split::Bench, None, slot), k);
        }
    }
    let thresholds = keep
        .into_iter()
        .filter_map(|(k, n)| Some((k, ranks.kth_smallest(&k, n)?)))
        .collect();
    Selection { thresholds }
}

/// The `n`-th smallest value (1-based) of `v`, or `None` when `n` is 0; all of `v` when it
/// holds fewer.
fn kth_smallest(v: &[u64], n: u64) -> Option<u64> {
    if n == 0 || v.is_empty() {
        return None;
    }
    let n = (n as usize).min(v.len());
    let mut v = v.to_vec();
    let (_, kth, _) = v.select_nth_unstable(n - 1);
    Some(*kth)
}

/// The `n`-th smallest value (1-based) of sorted runs, as [`kth_smallest`] of their
/// concatenation, without copying them: ranks are seeded hashes, spread evenly over `u64`, so
/// a histogram of their top bits finds the bucket that holds the `n`-th, and only that
/// bucket (found in each sorted run by binary search) is gathered and selected in. Values
/// that are not spread evenly only make that bucket larger.
fn kth_smallest_of_runs(runs: &[&[u64]], n: u64) -> Option<u64> {
    let total: usize = runs.iter().map(|r| r.len()).sum();
    if n == 0 || total == 0 {
        return None;
    }
    let n = (n as usize).min(total);
    // About 64 values a bucket, at most 2^16 buckets.
    let bits = (usize::BITS - (total / 64).leading_zeros()).clamp(1, 16);
    let shift = 64 - bits;
    let mut histogram = vec![0usize; 1 << bits];
    for run in runs {
        for &r in *run {
            histogram[(r >> shift) as usize] += 1;
        }
    }
    let mut below = 0;
    let mut bucket = 0u64;
    for (b, &c) in histogram.iter().enumerate() {
        if below + c >= n {
            bucket = b as u64;
            break;
        }
        below += c;
    }
    let mut inside: Vec<u64> = Vec::new();
    for run in runs {
        let from = run.partition_point(|&r| r >> shift < bucket);
        let to = from + run[from..].partition_point(|&r| r >> shift == bucket);
        inside.extend_from_slice(&run[from..to]);
    }
    let (_, kth, _) = inside.select_nth_unstable(n - below - 1);
    Some(*kth)
}

/// Shares a quota out among sources of given capacities by water-filling: each source gets
/// the same amount (the level) unless its capacity or the share cap is lower; with no quota
/// every source keeps its capacity.
fn share_out(capacity: &[u64], quota: Option<u64>, max_share: f64) -> Vec<u64> {
    let Some(quota) = quota else {
        return capacity.to_vec();
    };
    let cap_share = (quota as f64 * max_share).floor() as u64;
    let limit: Vec<u64> = capacity.iter().map(|&c| c.min(cap_share)).collect();
    if limit.iter().sum::<u64>() <= quota {
        return limit;
    }
    // The largest level whose total stays within the quota.
    let total = |level: u64| limit.iter().map(|&l| l.min(level)).sum::<u64>();
    let (mut lo, mut hi) = (0u64, limit.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if total(mid) <= quota {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    limit.iter().map(|&l| l.min(lo)).collect()
}

/// Which candidates survive: per group and slot, those ranked at or below a threshold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    thresholds: BTreeMap<SlotKey, u64>,
}

impl Selection {
    /// The threshold of each group and slot that keeps anything.
    pub fn thresholds(&self) -> &BTreeMap<SlotKey, u64> {
        &self.thresholds
    }

    /// Whether a candidate with this group, slot and rank is kept.
    pub fn keeps(&self, key: &SlotKey, rank: u64) -> bool {
        self.threshold(key).is_some_and(|t| rank <= t)
    }

    /// The largest rank kept in a group and slot (`None`: nothing is kept there).
    pub fn threshold(&self, key: &SlotKey) -> Option<u64> {
        self.thresholds.get(key).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(split: Split, source: Option<SourceKind>, slot: u8) -> SlotKey {
        SlotKey {
            split,
            task: Task::Q1,
            source,
            slot,
        }
    }

    /// Sorted runs of ranks: spread over all of `u64` (as seeded hashes are), or crowded
    /// into a few small values with repeats (the histogram's worst case).
    fn runs_strategy() -> impl proptest::strategy::Strategy<Value = Vec<Vec<u64>>> {
        use proptest::prelude::*;
        let rank = prop_oneof![any::<u64>(), 0u64..8, (0u64..4).prop_map(|x| u64::MAX - x)];
        proptest::collection::vec(proptest::collection::vec(rank, 0..300), 0..12).prop_map(
            |mut runs| {
                for r in &mut runs {
                    r.sort_unstable();
                }
                runs
            },
        )
    }

    proptest::proptest! {
        #[test]
        fn the_kth_smallest_of_runs_is_that_of_their_concatenation(
            runs in runs_strategy(),
            n in 0u64..4000,
        ) {
            let all: Vec<u64> = runs.concat();
            let borrowed: Vec<&[u64]> = runs.iter().map(Vec::as_slice).collect();
            proptest::prop_assert_eq!(kth_smallest_of_runs(&borrowed, n), kth_smallest(&all, n));
        }

        #[test]
        fn rank_runs_select_as_the_tally_does(
            groups in proptest::collection::vec(
                (0u8..2, 0u8..3, 0u8..4, runs_strategy()),
                1..10,
            ),
            quota in proptest::option::of(0u64..600),
            bench_per_task in 0u64..200,
        ) {
            let mut tally = Tally::new();
            let mut runs = RankRuns::new();
            for (split, source, slot, scene_runs) in &groups {
                let split = if *split == 0 { Split::Train } else { Split::Bench };
                let source = (split == Split::Train).then_some(SourceKind::ALL[*source as usize]);
                let k = key(split, source, *slot);
                for ranks in scene_runs {
                    for &r in ranks {
                        tally.add(k, r, 4);
                    }
                    runs.add_sorted(k, ranks, 4);
                }
            }
            let filter = FilterConfig {
                train_per_task: quota,
                ..FilterConfig::default()
            };
            proptest::prop_assert_eq!(
                runs.select(&filter, bench_per_task),
                tally.select(&filter, bench_per_task)
            );
        }
    }

    #[test]
    fn balance_keeps_the_smallest_ranks_equally_per_slot() {
        let mut t = Tally::new();
        let mt = Some(SourceKind::MessyTable);
        // Slot counts 5, 3, 4, 6 -> 3 per slot.
        for (slot, n) in [(0u8, 5u64), (1, 3), (2, 4), (3, 6)] {
            for r in 0..n {
                t.add(key(Split::Train, mt, slot), r * 10 + u64::from(slot), 4);
            }
        }
        let s = t.select(&FilterConfig::default(), 1000);
        for slot in 0..4u8 {
            let kept = (0..10u64)
                .filter(|r| s.keeps(&key(Split::Train, mt, slot), r * 10 + u64::from(slot)))
                .count();
            assert_eq!(kept, 3, "slot {slot}");
            // The smallest ranks are the kept ones.
            assert!(s.keeps(&key(Split::Train, mt, slot), u64::from(slot)));
            assert!(!s.keeps(&key(Split::Train, mt, slot), 30 + u64::from(slot)));
        }
    }

    /// Bench candidates of ranks 0..500 kept over the three slots.
    fn bench_kept(s: &Selection) -> u64 {
        (0..3u8)
            .map(|slot| {
                (0..500u64)
                    .filter(|&r| s.keeps(&key(Split::Bench, None, slot), r))
                    .count() as u64
            })
            .sum()
    }

    #[test]
    fn bench_takes_exactly_n_per_task_when_slots_allow() {
        let mut t = Tally::new();
        for slot in 0..3u8 {
            for r in 0..500u64 {
                t.add(key(Split::Bench, None, slot), r, 3);
            }
        }
        let kept = bench_kept(&t.select(&FilterConfig::default(), 1000));
        assert_eq!(kept, 1000);
        // A short slot limits every slot to its count.
        let mut t = Tally::new();
        for (slot, n) in [(0u8, 500u64), (1, 100), (2, 500)] {
            for r in 0..n {
                t.add(key(Split::Bench, None, slot), r, 3);
            }
        }
        let kept = bench_kept(&t.select(&FilterConfig::default(), 1000));
        assert_eq!(kept, 300);
    }

    #[test]
    fn quotas_are_shared_out_by_water_filling() {
        assert_eq!(share_out(&[100, 10, 50], None, 1.0), vec![100, 10, 50]);
        assert_eq!(share_out(&[100, 10, 50], Some(90), 1.0), vec![40, 10, 40]);
        assert_eq!(
            share_out(&[100, 10, 50], Some(1000), 0.5),
            vec![100, 10, 50]
        );
        assert_eq!(share_out(&[100, 10, 50], Some(100), 0.3), vec![30, 10, 30]);
        assert_eq!(share_out(&[], Some(5), 1.0), Vec::<u64>::new());
    }

    #[test]
    fn dedupe_drops_a_repeat_and_keeps_the_rest() {
        use crate::qa::tasks::test_scene::{TestScene, draw};
        let t = TestScene::two_views_and_a_row(&["box"; 5]);
        let d = draw(&t, Task::Q13);
        assert!(d.cands.len() > 2);
        let mut dd = Deduper::new();
        assert!(
            d.cands.iter().all(|c| dd.admit(c)),
            "distinct candidates pass"
        );
        assert!(d.cands.iter().all(|c| !dd.admit(c)), "repeats do not");
    }
}
