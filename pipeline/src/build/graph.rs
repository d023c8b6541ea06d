//! The build's dataflow on timely + differential: scenes keyed by scene hash -> first pass
//! (candidates, per-scene filters, ranks) -> per-task selection -> kept ranks per scene ->
//! second pass (samples) -> spilled per shard. Each stage wraps a plain `stages` function.
//!
//! The selection is a `reduce` per task over every surviving candidate's rank, and a scene's
//! samples depend only on the scene and the ranks kept in it: when one scene changes, only
//! it and the scenes whose kept ranks move are emitted again.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use differential_dataflow::AsCollection;
use differential_dataflow::input::Input;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::core::Exchange as _;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::Map as _;
use timely::worker::Worker;

use crossview_schemas::{InputError, QaSample, SourceKind, Split, Task};
use crossview_stages::corpus::{CorpusConfig, CorpusStats, count_scene, emit_scene_kept};
use crossview_stages::filter::{SlotKey, Tally};
use crossview_stages::qa::hash_name;
use crossview_stages::sources::{self, SceneData, SourceOptions};

use super::frames::SceneFrames;
use super::shards::{ShardId, Spill};

/// A scene in the graph: its records (shared, never copied) and the tree they came from.
/// Ordered and compared by scene id and fingerprint, which identify its content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SceneBlob {
    /// The scene's records.
    pub data: Arc<SceneData>,
    /// The native tree's root (frame paths are relative to it).
    pub root: Arc<PathBuf>,
}

impl SceneBlob {
    fn key(&self) -> (&str, &str) {
        (
            self.data.scene.as_ref().map_or("", |s| s.scene_id.as_str()),
            self.data.fingerprint.as_str(),
        )
    }
}

impl PartialEq for SceneBlob {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for SceneBlob {}
impl PartialOrd for SceneBlob {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SceneBlob {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A candidate past the per-scene filters: its rank, balance group and slot, scene.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ranked {
    /// Seeded rank.
    pub rank: u64,
    /// Balance group and answer slot.
    pub slot: SlotKey,
    /// Its task's number of options.
    pub options: u8,
    /// Scene hash.
    pub scene: u64,
}

/// The hash a scene is keyed (and sharded) by.
pub fn scene_hash(scene_id: &str) -> u64 {
    hash_name(scene_id)
}

/// What a build worker is given.
#[derive(Clone, Debug)]
pub struct Job {
    /// Native trees and their kinds; tree `i` is read by worker `i % workers`.
    pub trees: Vec<(PathBuf, SourceKind)>,
    /// Corpus settings.
    pub corpus: CorpusConfig,
    /// Reading options.
    pub options: SourceOptions,
    /// Where spill files go.
    pub spill_dir: PathBuf,
    /// `OUT/frames`, when frames are stored.
    pub frames_dir: Option<PathBuf>,
    /// Shards per split.
    pub shards: u32,
}

/// A scene as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SceneEntry {
    /// Scene id.
    pub scene_id: String,
    /// Source.
    pub source: SourceKind,
    /// Split.
    pub split: Split,
    /// Input fingerprint.
    pub fingerprint: String,
}

/// What a worker saw.
#[derive(Debug, Default)]
pub struct WorkerReport {
    /// Corpus counts of the scenes this worker processed.
    pub stats: CorpusStats,
    /// Input errors of the trees this worker read.
    pub errors: Vec<InputError>,
    /// The scenes this worker read.
    pub scenes: Vec<SceneEntry>,
    /// Frames that could not be stored.
    pub frame_problems: Vec<String>,
}

/// Scenes read between steps of the dataflow, so work starts while reading goes on.
const READ_BATCH: usize = 16;

/// Runs one worker of the build: reads its trees into the graph, runs it to completion, and
/// spills the samples of the shards it owns.
pub fn run_worker(worker: &mut Worker, job: &Job) -> anyhow::Result<WorkerReport> {
    let index = worker.index();
    let peers = worker.peers();
    let stats = Rc::new(RefCell::new(CorpusStats::default()));
    let spill = Rc::new(RefCell::new(Some(Spill::new(&job.spill_dir, index)?)));
    let failure: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    let frame_problems: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));

    let mut input = worker.dataflow::<u32, _, _>(|scope| {
        let (input, scenes) = scope.new_collection::<(u64, SceneBlob), isize>();

        // First pass: candidates and their ranks; counts follow the scene's multiplicity.
        let cfg = job.corpus.clone();
        let stats1 = stats.clone();
        let eligible = scenes
            .clone()
            .inner
            .flat_map(move |((h, blob), t, r)| {
                let (tally, st) = count_scene(&blob.data, &cfg);
                stats1.borrow_mut().merge_scaled(&st, r as i64);
                tally
                    .entries()
                    .map(|(slot, rank, options)| {
                        let task = slot.task;
                        (
                            (
                                task,
                                Ranked {
                                    rank,
                                    slot,
                                    options,
                                    scene: h,
                                },
                            ),
                            t,
                            r,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .as_collection();

        // Selection per task: balance, quotas, bench sampling; out come the kept ranks.
        let filter = job.corpus.filter.clone();
        let bench_per_task = job.corpus.split.bench_per_task;
        let kept = eligible.reduce(move |_task: &Task, input, output| {
            let mut tally = Tally::new();
            for (c, n) in input.iter() {
                for _ in 0..*n {
                    tally.add(c.slot, c.rank, c.options);
                }
            }
            let sel = tally.select(&filter, bench_per_task);
            for (c, n) in input.iter() {
                if sel.keeps(&c.slot, c.rank) {
                    output.push(((c.scene, c.rank), *n));
                }
            }
        });
        let kept_by_scene = kept.map(|(_task, (scene, rank))| (scene, rank)).reduce(
            |_scene: &u64, input, output| {
                let ranks: Vec<u64> = input.iter().map(|(r, _)| **r).collect();
                output.push((ranks, 1isize));
            },
        );

        // Second pass: a scene's samples from its records and its kept ranks.
        let cfg = job.corpus.clone();
        let stats2 = stats.clone();
        let frames_dir = job.frames_dir.clone();
        let shards = job.shards;
        let failure2 = failure.clone();
        let problems2 = frame_problems.clone();
        let samples =
            scenes
                .join(kept_by_scene)
                .inner
                .flat_map(move |((h, (blob, ranks)), t, r)| {
                    let mut out = Vec::new();
                    let frames = SceneFrames::new(frames_dir.as_deref(), blob.root.as_path());
                    let keeps = |_: &SlotKey, rank: u64| ranks.binary_search(&rank).is_ok();
                    match emit_scene_kept(&blob.data, &cfg, &keeps, &frames, &mut |q| out.push(q)) {
                        Ok(st) => stats2.borrow_mut().merge_scaled(&st, r as i64),
                        Err(e) => {
                            failure2.borrow_mut().get_or_insert_with(|| e.to_string());
                        }
                    }
                    problems2.borrow_mut().extend(frames.into_problems());
                    out.into_iter()
                        .map(|q| ((ShardId::of(q.split, h, shards), q), t, r))
                        .collect::<Vec<_>>()
                });

        // Sink: each shard's updates go to one worker, which spills them.
        let spill2 = spill.clone();
        let failure3 = failure.clone();
        samples
            .exchange(|((shard, _), _, _): &((ShardId, QaSample), u32, isize)| shard.route())
            .sink(Pipeline, "Spill", move |(input, _frontier)| {
                input.for_each(|_time, data| {
                    let mut guard = spill2.borrow_mut();
                    let Some(s) = guard.as_mut() else {
                        return;
                    };
                    for ((shard, q), _t, r) in data.drain(..) {
                        if let Err(e) = s.push(shard, r as i64, &q) {
                            failure3
                                .borrow_mut()
                                .get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                });
            });
        input
    });

    let mut report = WorkerReport::default();
    for (i, (root, kind)) in job.trees.iter().enumerate() {
        if i % peers != index {
            continue;
        }
        let reader = sources::open(root, Some(*kind), &job.options)?;
        let root = Arc::new(root.clone());
        let mut batch = 0usize;
        let tree_errors = reader.read(&mut |scene| {
            report.errors.extend(scene.errors.iter().cloned());
            if let Some(meta) = &scene.scene {
                report.scenes.push(SceneEntry {
                    scene_id: meta.scene_id.clone(),
                    source: meta.source,
                    split: job.corpus.split.split_of(&meta.scene_id),
                    fingerprint: scene.fingerprint.clone(),
                });
                let h = scene_hash(&meta.scene_id);
                input.insert((
                    h,
                    SceneBlob {
                        data: Arc::new(scene),
                        root: root.clone(),
                    },
                ));
                batch += 1;
                if batch.is_multiple_of(READ_BATCH) {
                    input.flush();
                    worker.step();
                }
            }
            Ok(())
        })?;
        report.errors.extend(tree_errors);
    }
    // Closing the input completes the dataflow; `step` reports false once every operator
    // (the spilling sink included) is done.
    input.close();
    while worker.step() {}
    if let Some(e) = failure.borrow_mut().take() {
        anyhow::bail!("{e}");
    }
    if let Some(s) = spill.borrow_mut().take() {
        s.finish()?;
    }
    report.stats = std::mem::take(&mut *stats.borrow_mut());
    report.frame_problems = std::mem::take(&mut *frame_problems.borrow_mut());
    Ok(report)
}

/// Where a build's spill files go.
pub fn spill_dir(out: &Path) -> PathBuf {
    out.join(".spill")
}
