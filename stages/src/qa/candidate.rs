//! [`Candidate`]: one instantiated question in compact form (task, two views, region
//! references, option kind, answer, content keys), before filtering and materialisation.

use crossview_schemas::Task;

use super::index::{SceneIndex, hash_words};

/// The most regions a question refers to (Q4: three in each view).
pub const MAX_REGIONS: usize = 6;

/// Bytes of a candidate in [`Candidate::encode`]'s fixed layout: task, views, regions (view,
/// instance, observation each), region count, option kind (tag and 12 payload bytes), answer,
/// key and dedupe key.
pub const ENCODED_LEN: usize = 1 + 8 + MAX_REGIONS * 9 + 1 + 13 + 1 + 8 + 8;

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

    /// Appends the candidate's fixed-size byte form ([`ENCODED_LEN`] bytes, little-endian):
    /// how the build sets first-pass candidates aside for its second pass (written by hand:
    /// a flat copy of a `Copy` struct with one small enum needs no format crate).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.task.number());
        for v in self.views {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for r in &self.regions {
            out.push(r.view);
            out.extend_from_slice(&r.instance.to_le_bytes());
            out.extend_from_slice(&r.obs.to_le_bytes());
        }
        out.push(self.n_regions);
        let mut payload = [0u8; 12];
        let tag = match self.options {
            OptionKind::Candidates { first, count } => {
                payload[..2].copy_from_slice(&[first, count]);
                0
            }
            OptionKind::CandidatesOrNone { first, count } => {
                payload[..2].copy_from_slice(&[first, count]);
                1
            }
            OptionKind::Pairings(p) => {
                for (chunk, row) in payload.chunks_mut(3).zip(p) {
                    chunk.copy_from_slice(&row);
                }
                2
            }
            OptionKind::YesNo => 3,
            OptionKind::Scale(labels) => {
                payload[..3].copy_from_slice(&labels);
                4
            }
            OptionKind::Views => 5,
            OptionKind::FirstSecond => 6,
        };
        out.push(tag);
        out.extend_from_slice(&payload);
        out.push(self.answer);
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&self.dedupe_key.to_le_bytes());
    }

    /// A candidate from [`Candidate::encode`]'s bytes; `None` for bytes that are not one.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != ENCODED_LEN {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let task = *Task::ALL.get(usize::from(b[0]).checked_sub(1)?)?;
        let views = [u32_at(1), u32_at(5)];
        let mut regions = [RegionRef::default(); MAX_REGIONS];
        for (k, r) in regions.iter_mut().enumerate() {
            let at = 9 + k * 9;
            *r = RegionRef {
                view: b[at],
                instance: u32_at(at + 1),
                obs: u32_at(at + 5),
            };
        }
        let at = 9 + MAX_REGIONS * 9;
        let n_regions = b[at];
        let payload = &b[at + 2..at + 14];
        let options = match b[at + 1] {
            0 => OptionKind::Candidates {
                first: payload[0],
                count: payload[1],
            },
            1 => OptionKind::CandidatesOrNone {
                first: payload[0],
                count: payload[1],
            },
            2 => {
                let mut p = [[0u8; 3]; 4];
                for (row, chunk) in p.iter_mut().zip(payload.chunks(3)) {
                    row.copy_from_slice(chunk);
                }
                OptionKind::Pairings(p)
            }
            3 => OptionKind::YesNo,
            4 => OptionKind::Scale([payload[0], payload[1], payload[2]]),
            5 => OptionKind::Views,
            6 => OptionKind::FirstSecond,
            _ => return None,
        };
        let answer = b[at + 14];
        if usize::from(n_regions) > MAX_REGIONS || usize::from(answer) >= options.len() {
            return None;
        }
        Some(Candidate {
            task,
            views,
            regions,
            n_regions,
            options,
            answer,
            key: u64_at(at + 15),
            dedupe_key: u64_at(at + 23),
        })
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

    #[test]
    fn encoding_round_trips_every_option_kind_and_rejects_other_bytes() {
        let kinds = [
            OptionKind::Candidates { first: 1, count: 4 },
            OptionKind::CandidatesOrNone { first: 2, count: 3 },
            OptionKind::Pairings([[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]]),
            OptionKind::YesNo,
            OptionKind::Scale([2, 0, 1]),
            OptionKind::Views,
            OptionKind::FirstSecond,
        ];
        for (i, options) in kinds.into_iter().enumerate() {
            let regions: Vec<RegionRef> = (0..=i.min(MAX_REGIONS - 1))
                .map(|k| RegionRef {
                    view: (k % 2) as u8,
                    instance: 70_000 + k as u32,
                    obs: u32::MAX - k as u32,
                })
                .collect();
            let mut r = [RegionRef::default(); MAX_REGIONS];
            r[..regions.len()].copy_from_slice(&regions);
            let c = Candidate {
                task: Task::ALL[(i * 3) % 17],
                views: [i as u32, u32::MAX],
                regions: r,
                n_regions: regions.len() as u8,
                options,
                answer: 1,
                key: 0x0123_4567_89ab_cdef ^ i as u64,
                dedupe_key: u64::MAX - i as u64,
            };
            let mut bytes = Vec::new();
            c.encode(&mut bytes);
            assert_eq!(bytes.len(), ENCODED_LEN);
            assert_eq!(Candidate::decode(&bytes), Some(c));
            assert_eq!(Candidate::decode(&bytes[1..]), None);
            let mut bad_task = bytes.clone();
            bad_task[0] = 18;
            assert_eq!(Candidate::decode(&bad_task), None);
            let mut bad_kind = bytes.clone();
            bad_kind[9 + MAX_REGIONS * 9 + 1] = 7;
            assert_eq!(Candidate::decode(&bad_kind), None);
        }
    }
}
