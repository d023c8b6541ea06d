//! [`Candidate`]: one instantiated question in compact form (task, two views, region
//! references, option kind, answer, content keys), before filtering and materialisation.

use crossview_schemas::Task;

use super::index::{SceneIndex, hash_words};

/// The most regions a question refers to (Q4: three in each view).
pub const MAX_REGIONS: usize = 6;

/// A region a question refers to: an instance's observation in one of its two views.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RegionRef {
    /// 0: the first view shown, 1: the second.
    pub view: u8,
    /// Index into [`SceneIndex::instances`].
    pub instance: u32,
    /// Index into the scene's observations.
    pub obs: u32,
}

/// What the options are, which fixes how they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// Option k is the region `first + k` (`count` of them).
    Candidates {
        /// Index of the first candidate region.
        first: u8,
        /// How many.
        count: u8,
    },
    /// Q3: the regions `first..first + count`, then "none of them".
    CandidatesOrNone {
        /// Index of the first candidate region.
        first: u8,
        /// How many regions (the options are one more).
        count: u8,
    },
    /// Q4: option k pairs first-view object i with second-view label `pairings[k][i]`.
    Pairings([[u8; 3]; 4]),
    /// yes / no.
    YesNo,
    /// Option k says "larger" (0), "smaller" (1) or "about the same" (2) as `labels[k]`.
    Scale([u8; 3]),
    /// view 1 / view 2.
    Views,
    /// the first / the second (object of the question).
    FirstSecond,
}

impl OptionKind {
    /// Number of options.
    pub fn len(&self) -> usize {
        match self {
            OptionKind::Candidates { count, .. } => usize::from(*count),
            OptionKind::CandidatesOrNone { count, .. } => usize::from(*count) + 1,
            OptionKind::Pairings(p) => p.len(),
            OptionKind::YesNo | OptionKind::Views | OptionKind::FirstSecond => 2,
            OptionKind::Scale(_) => 3,
        }
    }

    /// Never true: every kind has options.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Why a drawn candidate is not kept as a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    /// The facts are within the task's margin: the answer would be a guess.
    Margin,
    /// A fact the answer needs is unknown (no 3D estimate, no visible fraction).
    MissingGeometry,
    /// The records cannot tell (a box that covers hidden parts too, or a source that may
    /// leave visible objects unannotated).
    NoEvidence,
}

impl Reject {
    /// Stable name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Reject::Margin => "margin",
            Reject::MissingGeometry => "missing_geometry",
            Reject::NoEvidence => "no_evidence",
        }
    }
}

/// A drawn candidate that did not make a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Its task.
    pub task: Task,
    /// Why.
    pub reason: Reject,
}

/// One instantiated question: views, regions in placeholder order, options and answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Q1..Q17.
    pub task: Task,
    /// The two views shown (indices into [`SceneIndex::views`]).
    pub views: [u32; 2],
    regions: [RegionRef; MAX_REGIONS],
    n_regions: u8,
    /// What the options are.
    pub options: OptionKind,
    /// Index of the correct option.
    pub answer: u8,
    /// Stable content hash (seed, scene, task, views, instances): it fixes the answer
    /// position, the paraphrase and the candidate's rank in every selection.
    pub key: u64,
    /// Equal for candidates with the same task, views, regions and answer.
    pub dedupe_key: u64,
}

impl Candidate {
    /// A candidate; `key` is the content hash its generator derived the answer position from.
    /// Returns `None` when there are more than [`MAX_REGIONS`] regions.
    pub fn new(
        ix: &SceneIndex<'_>,
        task: Task,
        views: [u32; 2],
        regions: &[RegionRef],
        options: OptionKind,
        answer: u8,
        key: u64,
    ) -> Option<Self> {
        if regions.len() > MAX_REGIONS || usize::from(answer) >= options.len() {
            return None;
        }
        let mut r = [RegionRef::default(); MAX_REGIONS];
        r[..regions.len()].copy_from_slice(regions);
        let mut c = Candidate {
            task,
            views,
            regions: r,
            n_regions: regions.len() as u8,
            options,
            answer,
            key,
            dedupe_key: 0,
        };
        c.dedupe_key = c.compute_dedupe_key(ix);
        Some(c)
    }

    /// The regions, in placeholder order.
    pub fn regions(&self) -> &[RegionRef] {
        &self.regions[..usize::from(self.n_regions)]
    }

    /// The region an answer option stands for, for region-choice options.
    pub fn option_region(&self, option: u8) -> Option<&RegionRef> {
        match self.options {
            OptionKind::Candidates { first, count }
            | OptionKind::CandidatesOrNone { first, count }
                if option < count =>
            {
                self.regions().get(usize::from(first + option))
            }
            _ => None,
        }
    }

    /// Same task, views, set of regions and answer: the same question for a reader, whatever
    /// the order or wording.
    fn compute_dedupe_key(&self, ix: &SceneIndex<'_>) -> u64 {
        let mut regs = [0u64; MAX_REGIONS];
        for (slot, r) in regs.iter_mut().zip(self.regions()) {
            *slot = hash_words(&[u64::from(r.view), ix.instances[r.instance as usize].hash]);
        }
        let regs = &mut regs[..self.regions().len()];
        regs.sort_unstable();
        let answer = match self.option_region(self.answer) {
            Some(r) => ix.instances[r.instance as usize].hash,
            None => match self.options {
                // The right pairing, as first-view instance -> second-view instance.
                OptionKind::Pairings(p) => {
                    let row = p[usize::from(self.answer)];
                    let mut h = [0u64; 3];
                    for (i, label) in row.iter().enumerate() {
                        let a = self.regions().get(i).map(|r| r.instance);
                        let b = self
                            .regions()
                            .get(3 + usize::from(*label))
                            .map(|r| r.instance);
                        h[i] = hash_words(&[
                            a.map_or(0, |a| ix.instances[a as usize].hash),
                            b.map_or(0, |b| ix.instances[b as usize].hash),
                        ]);
                    }
                    h.sort_unstable();
                    hash_words(&h)
                }
                _ => u64::from(self.answer),
            },
        };
        let mut words = [0u64; 6 + MAX_REGIONS];
        words[..6].copy_from_slice(&[
            u64::from(self.task.number()),
            ix.camera(self.views[0]).hash,
            u64::from(ix.views[self.views[0] as usize].frame),
            ix.camera(self.views[1]).hash,
            u64::from(ix.views[self.views[1] as usize].frame),
            answer,
        ]);
        words[6..6 + regs.len()].copy_from_slice(regs);
        hash_words(&words[..6 + regs.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_counts() {
        assert_eq!(OptionKind::Candidates { first: 1, count: 4 }.len(), 4);
        assert_eq!(OptionKind::CandidatesOrNone { first: 1, count: 3 }.len(), 4);
        assert_eq!(OptionKind::Scale([2, 0, 1]).len(), 3);
        assert_eq!(OptionKind::YesNo.len(), 2);
        assert_eq!(OptionKind::Pairings([[0, 1, 2]; 4]).len(), 4);
    }
}
