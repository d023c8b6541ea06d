//! [`CorpusStats`]: what each corpus stage saw, per source and task ([`Grid`]): candidates
//! drawn, margin and geometry rejections, duplicates, eligible and kept per split, open-ended.

use serde_json::{Map, Value, json};

use crossview_schemas::{SourceKind, Split, Task};

use crate::qa::{Candidate, Reject, Rejected};

/// A count per source and task. Serialized sparsely, as `[source, task, count]` triples of
/// the non-zero cells (indices into `SourceKind::ALL` and `Task::ALL`): most cells of a
/// shard's or a scene's counts are zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grid([[u64; 17]; 4]);

impl serde::Serialize for Grid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let cells: Vec<(u8, u8, u64)> = self
            .0
            .iter()
            .enumerate()
            .flat_map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, n)| **n != 0)
                    .map(move |(j, n)| (i as u8, j as u8, *n))
            })
            .collect();
        cells.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Grid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let cells = Vec::<(u8, u8, u64)>::deserialize(d)?;
        let mut g = Grid::default();
        for (i, j, n) in cells {
            *g.0.get_mut(usize::from(i))
                .and_then(|row| row.get_mut(usize::from(j)))
                .ok_or_else(|| serde::de::Error::custom(format!("no cell ({i}, {j})")))? = n;
        }
        Ok(g)
    }
}

fn source_index(s: SourceKind) -> usize {
    SourceKind::ALL.iter().position(|&x| x == s).unwrap_or(0)
}

impl Grid {
    /// Adds `n` to a cell.
    pub fn add(&mut self, source: SourceKind, task: Task, n: u64) {
        self.0[source_index(source)][usize::from(task.number() - 1)] += n;
    }

    /// A cell.
    pub fn get(&self, source: SourceKind, task: Task) -> u64 {
        self.0[source_index(source)][usize::from(task.number() - 1)]
    }

    /// A task over all sources.
    pub fn task(&self, task: Task) -> u64 {
        SourceKind::ALL.iter().map(|&s| self.get(s, task)).sum()
    }

    /// A source over all tasks.
    pub fn source(&self, source: SourceKind) -> u64 {
        self.0[source_index(source)].iter().sum()
    }

    /// Everything.
    pub fn total(&self) -> u64 {
        self.0.iter().flatten().sum()
    }

    /// Adds another grid cell by cell.
    pub fn merge(&mut self, other: &Grid) {
        self.merge_scaled(other, 1);
    }

    /// Adds `times` copies of another grid (negative to take a retracted scene's counts
    /// back out; the cells stay exact as long as the true totals are not negative).
    pub fn merge_scaled(&mut self, other: &Grid, times: i64) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.wrapping_add(y.wrapping_mul(times as u64));
            }
        }
    }

    /// `{"source": {"Q1": n, ...}, ...}` with zero cells left out.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for &s in SourceKind::ALL {
            let row: Map<String, Value> = Task::ALL
                .iter()
                .filter(|&&t| self.get(s, t) > 0)
                .map(|&t| (t.name().to_string(), json!(self.get(s, t))))
                .collect();
            if !row.is_empty() {
                out.insert(s.name().to_string(), Value::Object(row));
            }
        }
        Value::Object(out)
    }
}

/// Counts of every corpus stage.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CorpusStats {
    /// Scenes read, per source.
    pub scenes: [u64; 4],
    /// Of those, bench scenes.
    pub bench_scenes: [u64; 4],
    /// Candidates drawn (questions and rejections).
    pub drawn: Grid,
    /// Dropped: within a margin.
    pub margin: Grid,
    /// Dropped: a needed 3D fact is unknown.
    pub missing_geometry: Grid,
    /// Dropped: the records cannot tell (visibility of box-only observations).
    pub no_evidence: Grid,
    /// Dropped: a repeat within the scene.
    pub duplicate: Grid,
    /// Past the per-scene filters, train scenes.
    pub eligible_train: Grid,
    /// Past the per-scene filters, bench scenes.
    pub eligible_bench: Grid,
    /// Kept after balance and quotas (closed form), train.
    pub kept_train: Grid,
    /// Kept after bench sampling (closed form), bench.
    pub kept_bench: Grid,
    /// Kept samples chosen for a short-answer form.
    pub open_chosen: Grid,
    /// Of those, rewritten.
    pub open_kept: Grid,
    /// Of those, dropped because the short answer is not unique.
    pub open_not_unique: Grid,
    /// Kept closed-form answers per task and option position.
    pub positions: [[u64; 4]; 17],
}

impl CorpusStats {
    /// Counts a scene.
    pub fn count_scene(&mut self, source: SourceKind, split: Split) {
        self.scenes[source_index(source)] += 1;
        if split == Split::Bench {
            self.bench_scenes[source_index(source)] += 1;
        }
    }

    /// Counts a drawn candidate.
    pub fn drawn(&mut self, source: SourceKind, drawn: &Result<Candidate, Rejected>) {
        let task = match drawn {
            Ok(c) => c.task,
            Err(r) => r.task,
        };
        self.drawn.add(source, task, 1);
        match drawn {
            Err(Rejected {
                reason: Reject::Margin,
                ..
            }) => self.margin.add(source, task, 1),
            Err(Rejected {
                reason: Reject::MissingGeometry,
                ..
            }) => self.missing_geometry.add(source, task, 1),
            Err(Rejected {
                reason: Reject::NoEvidence,
                ..
            }) => self.no_evidence.add(source, task, 1),
            Ok(_) => {}
        }
    }

    /// Counts a candidate past the per-scene filters.
    pub fn eligible(&mut self, source: SourceKind, task: Task, split: Split) {
        match split {
            Split::Train => self.eligible_train.add(source, task, 1),
            Split::Bench => self.eligible_bench.add(source, task, 1),
        }
    }

    /// Counts a kept closed-form sample and its answer position.
    pub fn kept(&mut self, source: SourceKind, task: Task, split: Split, answer: u8) {
        match split {
            Split::Train => self.kept_train.add(source, task, 1),
            Split::Bench => self.kept_bench.add(source, task, 1),
        }
        if let Some(p) = self.positions[usize::from(task.number() - 1)].get_mut(usize::from(answer))
        {
            *p += 1;
        }
    }

    /// Adds another tally of counts.
    pub fn merge(&mut self, o: &CorpusStats) {
        self.merge_scaled(o, 1);
    }

    /// Adds `times` copies of another tally (negative to take one back out).
    pub fn merge_scaled(&mut self, o: &CorpusStats, times: i64) {
        for (x, y) in self.counts_mut().zip(o.counts()) {
            *x = x.wrapping_add(y.wrapping_mul(times as u64));
        }
    }

    /// Adds `times` copies of a sparse tally.
    pub fn merge_sparse_scaled(&mut self, o: &SparseStats, times: i64) {
        let mut cells = o.0.iter().peekable();
        for (i, x) in self.counts_mut().enumerate() {
            while let Some(&&(at, y)) = cells.peek()
                && usize::from(at) == i
            {
                *x = x.wrapping_add(y.wrapping_mul(times as u64));
                cells.next();
            }
        }
    }

    /// The grids, in the order of [`Self::counts`].
    fn grids(&self) -> [&Grid; 12] {
        [
            &self.drawn,
            &self.margin,
            &self.missing_geometry,
            &self.no_evidence,
            &self.duplicate,
            &self.eligible_train,
            &self.eligible_bench,
            &self.kept_train,
            &self.kept_bench,
            &self.open_chosen,
            &self.open_kept,
            &self.open_not_unique,
        ]
    }

    /// Every count, in one fixed order (the cell numbers of [`SparseStats`]).
    fn counts(&self) -> impl Iterator<Item = u64> + '_ {
        (self.scenes.iter().chain(&self.bench_scenes))
            .chain(self.grids().into_iter().flat_map(|g| g.0.iter().flatten()))
            .chain(self.positions.iter().flatten())
            .copied()
    }

    /// [`Self::counts`], to change.
    fn counts_mut(&mut self) -> impl Iterator<Item = &mut u64> + '_ {
        let grids = [
            &mut self.drawn,
            &mut self.margin,
            &mut self.missing_geometry,
            &mut self.no_evidence,
            &mut self.duplicate,
            &mut self.eligible_train,
            &mut self.eligible_bench,
            &mut self.kept_train,
            &mut self.kept_bench,
            &mut self.open_chosen,
            &mut self.open_kept,
            &mut self.open_not_unique,
        ];
        (self.scenes.iter_mut().chain(&mut self.bench_scenes))
            .chain(grids.into_iter().flat_map(|g| g.0.iter_mut().flatten()))
            .chain(self.positions.iter_mut().flatten())
    }
}

/// How many counts a [`CorpusStats`] has.
const COUNTS: usize = 4 + 4 + 12 * 4 * 17 + 17 * 4;

/// A [`CorpusStats`] by its non-zero counts, `(cell, count)` in cell order: one scene's
/// counts are a few dozen of nearly 900, and a rebuild holds every cached scene's at once
/// (7 KB each whole, 40 MB of fresh memory at paper scale).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<(u16, u64)>")]
pub struct SparseStats(Vec<(u16, u64)>);

impl From<&CorpusStats> for SparseStats {
    fn from(stats: &CorpusStats) -> Self {
        SparseStats(
            (stats.counts().enumerate())
                .filter(|&(_, n)| n != 0)
                .map(|(i, n)| (i as u16, n))
                .collect(),
        )
    }
}

impl TryFrom<Vec<(u16, u64)>> for SparseStats {
    type Error = String;
    fn try_from(cells: Vec<(u16, u64)>) -> Result<Self, String> {
        let ordered = cells.windows(2).all(|w| w[0].0 < w[1].0);
        if !ordered || cells.last().is_some_and(|&(i, _)| usize::from(i) >= COUNTS) {
            return Err("sparse counts out of order or out of range".into());
        }
        Ok(SparseStats(cells))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_sums_by_row_column_and_whole() {
        let mut g = Grid::default();
        g.add(SourceKind::MessyTable, Task::Q1, 3);
        g.add(SourceKind::EgoExo4d, Task::Q1, 2);
        g.add(SourceKind::EgoExo4d, Task::Q17, 5);
        assert_eq!(g.task(Task::Q1), 5);
        assert_eq!(g.source(SourceKind::EgoExo4d), 7);
        assert_eq!(g.total(), 10);
        let mut h = g;
        h.merge(&g);
        assert_eq!(h.total(), 20);
        h.merge_scaled(&g, -1);
        assert_eq!(h, g);
        // Sparse form: the non-zero cells only, and back.
        let text = serde_json::to_string(&g).unwrap();
        assert_eq!(text, "[[0,0,3],[3,0,2],[3,16,5]]");
        assert_eq!(serde_json::from_str::<Grid>(&text).unwrap(), g);
        assert!(serde_json::from_str::<Grid>("[[9,0,1]]").is_err());
        assert_eq!(
            g.to_json(),
            json!({"messytable": {"Q1": 3}, "egoexo4d": {"Q1": 2, "Q17": 5}})
        );
    }

    #[test]
    fn sparse_counts_merge_as_the_whole_tally_does() {
        let mut a = CorpusStats::default();
        a.scenes[2] = 4;
        a.drawn.add(SourceKind::MessyTable, Task::Q3, 11);
        a.open_not_unique.add(SourceKind::EgoExo4d, Task::Q17, 9);
        a.positions[16][3] = 7;
        assert_eq!(a.counts().count(), COUNTS);
        let sparse = SparseStats::from(&a);
        // The first and the very last cell, and two grid cells between.
        let cells: Vec<u16> = sparse.0.iter().map(|&(i, _)| i).collect();
        assert_eq!(cells.len(), 4);
        assert_eq!((cells[0], cells[3]), (2, COUNTS as u16 - 1));
        let mut base = CorpusStats::default();
        base.scenes[0] = 100;
        base.drawn.add(SourceKind::MessyTable, Task::Q3, 50);
        for times in [1, 3, -1] {
            let (mut dense, mut from_sparse) = (base.clone(), base.clone());
            dense.merge_scaled(&a, times);
            from_sparse.merge_sparse_scaled(&sparse, times);
            assert_eq!(from_sparse, dense, "times {times}");
        }
        let back: SparseStats =
            serde_json::from_str(&serde_json::to_string(&sparse).unwrap()).expect("round trip");
        assert_eq!(back, sparse);
        // Cells out of order or past the last count are refused, not misplaced.
        assert!(serde_json::from_str::<SparseStats>("[[5,1],[4,1]]").is_err());
        assert!(serde_json::from_str::<SparseStats>(&format!("[[{COUNTS},1]]")).is_err());
    }
}
