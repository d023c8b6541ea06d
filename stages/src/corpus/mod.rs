//! The corpus as plain per-scene functions: [`count_scene`] (geometry, candidates, per-scene
//! filters, ranks tallied), a [`Selection`] from the merged tallies, then [`emit_scene`].
//!
//! By default both passes generate a scene's candidates from its records, so nothing but the
//! compact tally is held between them; a caller that kept the first pass's survivors
//! ([`count_scene_keeping`]) hands them to [`emit_eligible_kept`] instead of regenerating.

mod report;
mod stats;

use serde::{Deserialize, Serialize};

use crossview_schemas::{ContentHasher, QaSample, SampleRef};

use crate::Result;
use crate::filter::{Deduper, FilterConfig, SlotKey, Tally, rank};
use crate::geometry::{GeometryConfig, SceneGeometry};
use crate::masks::MaskConfig;
use crate::qa::{Candidate, FrameImages, GENERATOR, QaConfig, SceneIndex, SceneSamples, generate};
use crate::rewrite::{RewriteConfig, rewrite};
use crate::sources::SceneData;
use crate::split::SplitConfig;

pub use crate::filter::Selection;
pub use report::{
    PAPER_BENCH_PER_TASK, PAPER_CANDIDATES, PAPER_TRAIN_PER_TASK, report_json, report_table,
};
pub use stats::{CorpusStats, Grid, SparseStats};

/// Every setting from mask completion to split (each part documented where it is defined).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorpusConfig {
    /// Mask completion (segmenter, confidence filter, fallbacks).
    pub masks: MaskConfig,
    /// 3D estimates and occlusion.
    pub geometry: GeometryConfig,
    /// Candidate instantiation.
    pub qa: QaConfig,
    /// Balance and quotas.
    pub filter: FilterConfig,
    /// Scene-disjoint split and bench size.
    pub split: SplitConfig,
    /// Open-ended subset.
    pub open_ended: RewriteConfig,
}

impl CorpusConfig {
    /// Checks every part.
    pub fn validate(&self) -> Result<()> {
        self.masks.validate()?;
        self.qa.validate()?;
        self.filter.validate()?;
        self.split.validate()?;
        self.open_ended.validate()
    }

    /// A hash of the settings (what the shards' metadata and the generator name carry); the
    /// model files' places are left out, their content is not the config's.
    pub fn hash(&self) -> String {
        let shaping = CorpusConfig {
            masks: self.masks.without_paths(),
            ..self.clone()
        };
        let json = serde_json::to_string(&shaping).unwrap_or_default();
        ContentHasher::new("crossview.corpus_config")
            .str(&json)
            .finish_hex(8)
    }

    /// The generator name samples carry: code version, seed and settings hash.
    pub fn generator(&self) -> String {
        format!("{GENERATOR} seed={} config={}", self.qa.seed, self.hash())
    }
}

/// First pass over one scene: what survives the per-scene filters (margins, duplicates), as
/// ranks per balance group, and the counts of every stage.
pub fn count_scene(scene: &SceneData, cfg: &CorpusConfig) -> (Tally, CorpusStats) {
    count_scene_keeping(scene, cfg, &mut |_| {})
}

/// [`count_scene`], handing each candidate that survives the per-scene filters to `eligible`
/// in generation order (what [`emit_eligible_kept`] takes back).
pub fn count_scene_keeping(
    scene: &SceneData,
    cfg: &CorpusConfig,
    eligible: &mut dyn FnMut(&Candidate),
) -> (Tally, CorpusStats) {
    let mut tally = Tally::new();
    let mut stats = CorpusStats::default();
    let Some(meta) = &scene.scene else {
        return (tally, stats);
    };
    let geometry = SceneGeometry::compute(scene, &cfg.geometry);
    let ix = SceneIndex::new(scene, &geometry, cfg.qa.min_region_area_px);
    let split = cfg.split.split_of(&meta.scene_id);
    stats.count_scene(meta.source, split);
    let mut dedupe = Deduper::new();
    generate(&ix, &cfg.qa, &mut |drawn| {
        stats.drawn(meta.source, &drawn);
        if let Ok(c) = drawn {
            if dedupe.admit(&c) {
                stats.eligible(meta.source, c.task, split);
                eligible(&c);
                tally.add(
                    SlotKey::of(&c, split, meta.source),
                    rank(&c, cfg.qa.seed),
                    c.options.len() as u8,
                );
            } else {
                stats.duplicate.add(meta.source, c.task, 1);
            }
        }
    });
    (tally, stats)
}

/// Second pass over one scene: its selected candidates as samples (closed form, then the
/// short-answer form of those chosen for it), handed to `out` in generation order.
pub fn emit_scene(
    scene: &SceneData,
    cfg: &CorpusConfig,
    selection: &Selection,
    frames: &dyn FrameImages,
    out: &mut dyn FnMut(QaSample),
) -> Result<CorpusStats> {
    emit(
        scene,
        cfg,
        None,
        &|key, rank| selection.keeps(key, rank),
        frames,
        &mut |samples| samples.iter().for_each(|s| out(s.to_sample())),
    )
}

/// A scene's samples, handed over at once, in generation order: borrowed from the scene, so
/// a caller copies what it keeps (in any order it likes).
pub type SceneSink<'o> = dyn for<'s> FnMut(&[SampleRef<'s>]) + 'o;

/// [`emit_scene`] with the selection given as a predicate on a candidate's group and rank
/// (the dataflow passes the ranks it kept for the scene), the samples handed over borrowed.
pub fn emit_scene_kept(
    scene: &SceneData,
    cfg: &CorpusConfig,
    keeps: &dyn Fn(&SlotKey, u64) -> bool,
    frames: &dyn FrameImages,
    out: &mut SceneSink<'_>,
) -> Result<CorpusStats> {
    emit(scene, cfg, None, keeps, frames, out)
}

/// [`emit_scene_kept`] from the candidates [`count_scene_keeping`] handed over for this scene
/// (same records, same settings), without generating them again.
pub fn emit_eligible_kept(
    scene: &SceneData,
    cfg: &CorpusConfig,
    eligible: &[Candidate],
    keeps: &dyn Fn(&SlotKey, u64) -> bool,
    frames: &dyn FrameImages,
    out: &mut SceneSink<'_>,
) -> Result<CorpusStats> {
    emit(scene, cfg, Some(eligible), keeps, frames, out)
}

/// The second pass: the kept candidates (from `eligible`, or generated and filtered again)
/// materialised as samples.
fn emit(
    scene: &SceneData,
    cfg: &CorpusConfig,
    eligible: Option<&[Candidate]>,
    keeps: &dyn Fn(&SlotKey, u64) -> bool,
    frames: &dyn FrameImages,
    out: &mut SceneSink<'_>,
) -> Result<CorpusStats> {
    let mut stats = CorpusStats::default();
    let Some(meta) = &scene.scene else {
        return Ok(stats);
    };
    // Candidates handed over were drawn with the geometry; materialising them needs only
    // the scene's arrangement, so the costly part is computed only to draw them again.
    let geometry = match eligible {
        Some(_) => SceneGeometry::unmeasured(&cfg.geometry),
        None => SceneGeometry::compute(scene, &cfg.geometry),
    };
    let ix = SceneIndex::new(scene, &geometry, cfg.qa.min_region_area_px);
    let split = cfg.split.split_of(&meta.scene_id);
    let generator = cfg.generator();
    let kept_here =
        |c: &Candidate| keeps(&SlotKey::of(c, split, meta.source), rank(c, cfg.qa.seed));
    let mut kept = Vec::new();
    match eligible {
        Some(eligible) => kept.extend(eligible.iter().filter(|c| kept_here(c)).copied()),
        None => {
            let mut dedupe = Deduper::new();
            generate(&ix, &cfg.qa, &mut |drawn| {
                if let Ok(c) = drawn
                    && dedupe.admit(&c)
                    && kept_here(&c)
                {
                    kept.push(c);
                }
            });
        }
    }
    let parts = SceneSamples::new(&ix, split, &generator, frames);
    let mut samples = Vec::with_capacity(kept.len() + kept.len() / 4);
    for c in &kept {
        let closed = parts.closed(c)?;
        stats.kept(meta.source, c.task, split, c.answer);
        let open = if cfg.open_ended.chosen(c, cfg.qa.seed) {
            stats.open_chosen.add(meta.source, c.task, 1);
            let open = rewrite(&ix, c, &closed);
            match &open {
                Some(_) => stats.open_kept.add(meta.source, c.task, 1),
                None => stats.open_not_unique.add(meta.source, c.task, 1),
            }
            open
        } else {
            None
        };
        samples.push(closed);
        samples.extend(open);
    }
    out(&samples);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qa::NoFrameImages;
    use crate::qa::tasks::test_scene::TestScene;
    use crossview_schemas::{Split, Task};

    fn scene(name: &str) -> SceneData {
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.5]);
        t.camera("b", [3.0, 0.0, 1.5]);
        t.camera("c", [-2.0, 2.0, 2.0]);
        for k in 0..6 {
            let x = -0.6 + 0.25 * k as f64;
            t.cube(
                &format!("o{k}"),
                if k % 2 == 0 { "mug" } else { "box" },
                0,
                [x, 0.15 * k as f64, 1.0],
                0.2,
            );
        }
        let mut d = t.data();
        if let Some(s) = &mut d.scene {
            s.scene_id = name.to_string();
        }
        for o in &mut d.observations {
            o.scene_id = name.to_string();
        }
        d
    }

    #[test]
    fn two_passes_keep_what_the_selection_says_and_balance_answers() {
        let cfg = CorpusConfig {
            qa: QaConfig {
                min_region_area_px: 4.0,
                anchors_per_view_pair: 6,
                ..QaConfig::default()
            },
            split: SplitConfig {
                bench_fraction: 0.0,
                ..SplitConfig::default()
            },
            ..CorpusConfig::default()
        };
        let scenes: Vec<SceneData> = (0..4).map(|i| scene(&format!("s{i}"))).collect();
        let mut tally = Tally::new();
        let mut stats = CorpusStats::default();
        for s in &scenes {
            let (t, st) = count_scene(s, &cfg);
            tally.merge(t);
            stats.merge(&st);
        }
        assert!(stats.drawn.total() > 0);
        let selection = tally.select(&cfg.filter, cfg.split.bench_per_task);
        let mut samples = Vec::new();
        for s in &scenes {
            let st = emit_scene(s, &cfg, &selection, &NoFrameImages, &mut |q| {
                samples.push(q)
            })
            .unwrap();
            stats.merge(&st);
        }
        assert!(!samples.is_empty());
        assert!(samples.iter().all(|q| q.split == Split::Train));
        // Every task's closed answers are balanced over its option positions.
        for &task in Task::ALL {
            let closed: Vec<&QaSample> = samples
                .iter()
                .filter(|q| q.task == task && !q.open_ended)
                .collect();
            if closed.is_empty() {
                continue;
            }
            let n = closed[0].options.len();
            let mut pos = vec![0usize; n];
            for q in &closed {
                pos[q.answer_index as usize] += 1;
            }
            assert!(pos.iter().all(|&p| p == pos[0]), "{task}: {pos:?}");
        }
        // The open-ended rows are rewrites of kept closed rows.
        let open = samples.iter().filter(|q| q.open_ended).count() as u64;
        assert_eq!(open, stats.open_kept.total());
        assert_eq!(
            samples.len() as u64 - open,
            stats.kept_train.total() + stats.kept_bench.total()
        );
        // Same input, same output.
        let mut again = Vec::new();
        for s in &scenes {
            emit_scene(s, &cfg, &selection, &NoFrameImages, &mut |q| again.push(q)).unwrap();
        }
        assert_eq!(samples, again);
        // From the first pass's survivors, through their byte form, without regenerating:
        // the same samples and counts.
        let mut from_eligible = Vec::new();
        for s in &scenes {
            let mut bytes = Vec::new();
            let (t, _) = count_scene_keeping(s, &cfg, &mut |c| c.encode(&mut bytes));
            assert_eq!(bytes.len() % crate::qa::ENCODED_LEN, 0);
            let eligible: Vec<Candidate> = bytes
                .chunks(crate::qa::ENCODED_LEN)
                .map(|b| Candidate::decode(b).unwrap())
                .collect();
            assert_eq!(
                eligible.len(),
                t.entries().count(),
                "one tallied rank per survivor"
            );
            let keeps = |key: &SlotKey, rank: u64| selection.keeps(key, rank);
            let regenerated =
                emit_scene_kept(s, &cfg, &keeps, &NoFrameImages, &mut |_| {}).unwrap();
            let kept = emit_eligible_kept(s, &cfg, &eligible, &keeps, &NoFrameImages, &mut |q| {
                from_eligible.extend(q.iter().map(SampleRef::to_sample))
            })
            .unwrap();
            assert_eq!(kept, regenerated);
        }
        assert_eq!(from_eligible, samples);
    }
}
