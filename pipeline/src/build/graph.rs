//! The build's dataflow on timely + differential: scenes keyed by scene hash -> first pass
//! (candidates, per-scene filters, ranks) -> per-task selection -> kept ranks per scene ->
//! second pass (samples) -> spilled per shard. Each stage wraps a plain `stages` function.
//!
//! The selection is a `reduce` per task over every surviving candidate's rank, and a scene's
//! samples depend only on the scene and the ranks kept in it: when one scene changes, only
//! it and the scenes whose kept ranks move are emitted again.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use differential_dataflow::AsCollection;
use differential_dataflow::input::Input;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::core::Exchange as _;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::Map as _;
use timely::worker::Worker;

use anyhow::Context as _;
use crossview_schemas::{InputError, SourceKind, Split, Task, WriteOptions};
use crossview_stages::corpus::{CorpusConfig, CorpusStats, count_scene, emit_scene_kept};
use crossview_stages::filter::{SlotKey, Tally};
use crossview_stages::qa::hash_name;
use crossview_stages::sources::{self, SceneData, SourceOptions};

use super::frames::SceneFrames;
use super::progress::Counters;
use super::shards::{ShardId, ShardInfo, Spill, write_shard};

/// A scene in the graph: its records (shared, never copied) and the tree they came from.
/// Ordered and compared by scene id and fingerprint, which identify its content. Between
/// processes it travels as CBOR (see the Serialize impl).
#[derive(Clone, Debug)]
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

/// A scene on the wire between processes: its records as CBOR bytes, since some records
/// (the camera distortion's internally tagged enum) need a self-describing format.
#[derive(Serialize, Deserialize)]
struct SceneWire {
    cbor: Vec<u8>,
    root: PathBuf,
}

impl Serialize for SceneBlob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut cbor = Vec::new();
        ciborium::into_writer(self.data.as_ref(), &mut cbor).map_err(serde::ser::Error::custom)?;
        SceneWire {
            cbor,
            root: self.root.as_ref().clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SceneBlob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = SceneWire::deserialize(d)?;
        let data: SceneData =
            ciborium::from_reader(wire.cbor.as_slice()).map_err(serde::de::Error::custom)?;
        Ok(SceneBlob {
            data: Arc::new(data),
            root: Arc::new(wire.root),
        })
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

/// One scene's candidates of one task past the per-scene filters: their seeded ranks by answer
/// slot. One record per (task, scene) rather than per candidate keeps the graph's record count
/// near the scene count (about 100K at paper scale instead of 9M).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SceneTaskRanks {
    /// Scene hash.
    pub scene: u64,
    /// The scene's split.
    pub split: Split,
    /// The scene's source.
    pub source: SourceKind,
    /// The task's number of options.
    pub options: u8,
    /// Ranks per answer slot.
    pub ranks_by_slot: Vec<Vec<u64>>,
}

impl SceneTaskRanks {
    /// The balance group and slot of this scene's candidates with answer `slot` in `task`.
    fn key(&self, task: Task, slot: usize) -> SlotKey {
        SlotKey {
            split: self.split,
            task,
            source: (self.split == Split::Train).then_some(self.source),
            slot: slot as u8,
        }
    }

    /// Groups a scene's tally by task.
    fn of_tally(scene: u64, source: SourceKind, tally: &Tally) -> BTreeMap<Task, SceneTaskRanks> {
        let mut out: BTreeMap<Task, SceneTaskRanks> = BTreeMap::new();
        for (key, rank, options) in tally.entries() {
            let r = out.entry(key.task).or_insert_with(|| SceneTaskRanks {
                scene,
                split: key.split,
                source,
                options,
                ranks_by_slot: Vec::new(),
            });
            let slot = usize::from(key.slot);
            if r.ranks_by_slot.len() <= slot {
                r.ranks_by_slot.resize(slot + 1, Vec::new());
            }
            r.ranks_by_slot[slot].push(rank);
        }
        out
    }
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
    /// Where each worker writes the shards it owns (`STAGING/data/...`) before publishing.
    pub staging_dir: PathBuf,
    /// Shard file settings.
    pub write: WriteOptions,
    /// Progress counters of this process.
    pub progress: Arc<Counters>,
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

/// Seconds a worker spent in each stage (summed over workers in the report).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct StageTimes {
    /// Reading and parsing the native trees.
    pub read_s: f64,
    /// First pass: geometry, candidates, per-scene filters, ranks.
    pub candidates_s: f64,
    /// Selection per task (balance, quotas, bench sampling).
    pub select_s: f64,
    /// Second pass: samples materialised and spilled.
    pub emit_s: f64,
    /// The worker's shards consolidated and written.
    pub shards_s: f64,
}

impl StageTimes {
    /// Adds another worker's times.
    pub fn add(&mut self, o: &StageTimes) {
        self.read_s += o.read_s;
        self.candidates_s += o.candidates_s;
        self.select_s += o.select_s;
        self.emit_s += o.emit_s;
        self.shards_s += o.shards_s;
    }
}

/// What a worker saw and wrote; worker 0 also holds every worker's report, gathered.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WorkerReport {
    /// The worker.
    pub worker: usize,
    /// Why the worker could not finish, if it could not.
    pub failure: Option<String>,
    /// The shards this worker owns, staged.
    pub shards: Vec<ShardInfo>,
    /// Frames those shards' samples show.
    pub shown: BTreeSet<String>,
    /// Corpus counts of the scenes this worker processed.
    pub stats: CorpusStats,
    /// Input errors of the trees this worker read.
    pub errors: Vec<InputError>,
    /// The scenes this worker read.
    pub scenes: Vec<SceneEntry>,
    /// Frames that could not be stored.
    pub frame_problems: Vec<String>,
    /// Time per stage.
    pub times: StageTimes,
    /// On worker 0: every worker's report (its own included), in worker order.
    #[serde(skip)]
    pub gathered: Option<Vec<WorkerReport>>,
}

/// Scenes read between steps of the dataflow, so work starts while reading goes on.
const READ_BATCH: usize = 16;

/// Runs one worker of the build: reads its trees into the graph, runs it to completion, and
/// spills the samples of the shards it owns.
pub fn run_worker(worker: &mut Worker, job: &Job) -> anyhow::Result<WorkerReport> {
    let index = worker.index();
    let peers = worker.peers();
    let stats = Rc::new(RefCell::new(CorpusStats::default()));
    let times = Rc::new(RefCell::new(StageTimes::default()));
    let spill = Rc::new(RefCell::new(Some(Spill::new(&job.spill_dir, index)?)));
    let failure: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    let frame_problems: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));

    let mut input = worker.dataflow::<u32, _, _>(|scope| {
        let (input, scenes) = scope.new_collection::<(u64, SceneBlob), isize>();

        // First pass: candidates and their ranks, spread over the workers by scene hash;
        // counts follow the scene's multiplicity.
        let cfg = job.corpus.clone();
        let stats1 = stats.clone();
        let times1 = times.clone();
        let progress1 = job.progress.clone();
        let eligible = scenes
            .clone()
            .inner
            .exchange(|((h, _), _, _): &((u64, SceneBlob), u32, isize)| *h)
            .flat_map(move |((h, blob), t, r)| {
                let start = Instant::now();
                let (tally, st) = count_scene(&blob.data, &cfg);
                times1.borrow_mut().candidates_s += start.elapsed().as_secs_f64();
                Counters::bump(&progress1.scenes_counted, 1);
                stats1.borrow_mut().merge_scaled(&st, r as i64);
                let source = blob
                    .data
                    .scene
                    .as_ref()
                    .map_or(SourceKind::MessyTable, |s| s.source);
                SceneTaskRanks::of_tally(h, source, &tally)
                    .into_iter()
                    .map(|rec| (rec, t, r))
                    .collect::<Vec<_>>()
            })
            .as_collection();

        // Selection per task: balance, quotas, bench sampling; out come each scene's kept
        // ranks of the task.
        let filter = job.corpus.filter.clone();
        let bench_per_task = job.corpus.split.bench_per_task;
        let times_select = times.clone();
        let kept = eligible.reduce(move |task: &Task, input, output| {
            let start = Instant::now();
            let mut tally = Tally::new();
            for (rec, n) in input.iter() {
                for _ in 0..*n {
                    for (slot, ranks) in rec.ranks_by_slot.iter().enumerate() {
                        for &rank in ranks {
                            tally.add(rec.key(*task, slot), rank, rec.options);
                        }
                    }
                }
            }
            let sel = tally.select(&filter, bench_per_task);
            let sel = &sel;
            for (rec, n) in input.iter() {
                let kept: Vec<u64> = rec
                    .ranks_by_slot
                    .iter()
                    .enumerate()
                    .flat_map(|(slot, ranks)| {
                        let key = rec.key(*task, slot);
                        ranks.iter().copied().filter(move |&r| sel.keeps(&key, r))
                    })
                    .collect();
                if !kept.is_empty() {
                    output.push(((rec.scene, kept), *n));
                }
            }
            times_select.borrow_mut().select_s += start.elapsed().as_secs_f64();
        });
        let progress_kept = job.progress.clone();
        let kept_by_scene = kept.map(|(_task, (scene, ranks))| (scene, ranks)).reduce(
            move |_scene: &u64, input, output| {
                Counters::bump(&progress_kept.scenes_kept, 1);
                let mut ranks: Vec<u64> =
                    input.iter().flat_map(|(r, _)| r.iter().copied()).collect();
                ranks.sort_unstable();
                output.push((ranks, 1isize));
            },
        );

        // Second pass, in the sink: a scene (with its kept ranks) goes whole to the worker
        // owning its shard, which materialises its samples and spills them at once, so only
        // one scene's samples are ever in memory.
        let cfg = job.corpus.clone();
        let split_cfg = job.corpus.split.clone();
        let stats2 = stats.clone();
        let times2 = times.clone();
        let progress2 = job.progress.clone();
        let frames_dir = job.frames_dir.clone();
        let shards = job.shards;
        let spill2 = spill.clone();
        let failure2 = failure.clone();
        let problems2 = frame_problems.clone();
        type Emit = ((u64, (SceneBlob, Vec<u64>)), u32, isize);
        scenes
            .join(kept_by_scene)
            .inner
            .exchange(move |((h, (blob, _)), _, _): &Emit| {
                let id = blob.data.scene.as_ref().map_or("", |s| s.scene_id.as_str());
                ShardId::of(split_cfg.split_of(id), *h, shards).route()
            })
            .sink(Pipeline, "EmitAndSpill", move |(input, _frontier)| {
                input.for_each(|_time, data| {
                    let start = Instant::now();
                    for ((h, (blob, ranks)), _t, r) in data.drain(..) {
                        let mut guard = spill2.borrow_mut();
                        let Some(spill) = guard.as_mut() else {
                            return;
                        };
                        let frames = SceneFrames::new(frames_dir.as_deref(), blob.root.as_path());
                        let keeps = |_: &SlotKey, rank: u64| ranks.binary_search(&rank).is_ok();
                        let mut spilled = Ok(());
                        let emitted =
                            emit_scene_kept(&blob.data, &cfg, &keeps, &frames, &mut |q| {
                                Counters::bump(&progress2.samples, 1);
                                if spilled.is_ok() {
                                    spilled =
                                        spill.push(ShardId::of(q.split, h, shards), r as i64, &q);
                                }
                            });
                        match (emitted, spilled) {
                            (Ok(st), Ok(())) => stats2.borrow_mut().merge_scaled(&st, r as i64),
                            (Err(e), _) => {
                                failure2.borrow_mut().get_or_insert_with(|| e.to_string());
                            }
                            (_, Err(e)) => {
                                failure2
                                    .borrow_mut()
                                    .get_or_insert_with(|| format!("{e:#}"));
                            }
                        }
                        problems2.borrow_mut().extend(frames.into_problems());
                        Counters::bump(&progress2.scenes_emitted, 1);
                    }
                    times2.borrow_mut().emit_s += start.elapsed().as_secs_f64();
                });
            });
        input
    });

    let mut report = WorkerReport {
        worker: index,
        ..WorkerReport::default()
    };
    // A failure is recorded, not returned: every worker must go on taking part in the
    // dataflows, or the others would wait for it forever.
    for (i, (root, kind)) in job.trees.iter().enumerate() {
        if i % peers != index || report.failure.is_some() {
            continue;
        }
        let reader = match sources::open(root, Some(*kind), &job.options) {
            Ok(r) => r,
            Err(e) => {
                report.failure = Some(format!("{}: {e}", root.display()));
                continue;
            }
        };
        let root = Arc::new(root.clone());
        let mut batch = 0usize;
        let mut stepping = 0.0;
        let start = Instant::now();
        let (errors, scenes) = (&mut report.errors, &mut report.scenes);
        let read = reader.read(&mut |scene| {
            errors.extend(scene.errors.iter().cloned());
            if let Some(meta) = &scene.scene {
                scenes.push(SceneEntry {
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
                Counters::bump(&job.progress.scenes_read, 1);
                if batch.is_multiple_of(READ_BATCH) {
                    input.flush();
                    let step = Instant::now();
                    worker.step();
                    stepping += step.elapsed().as_secs_f64();
                }
            }
            Ok(())
        });
        match read {
            Ok(tree_errors) => report.errors.extend(tree_errors),
            Err(e) => report.failure = Some(format!("{}: {e}", root.display())),
        }
        report.times.read_s += start.elapsed().as_secs_f64() - stepping;
    }
    // This worker's trees are read (the display knows the total once every worker is).
    job.progress
        .readers_done
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Closing the input completes the dataflow; `step` reports false once every operator
    // (the spilling sink included) is done.
    input.close();
    while worker.step() {}
    if let Some(e) = failure.borrow_mut().take() {
        report.failure.get_or_insert(e);
    }
    if let Some(s) = spill.borrow_mut().take()
        && let Err(e) = s.finish()
    {
        report.failure.get_or_insert(format!("{e:#}"));
    }
    report.stats = std::mem::take(&mut *stats.borrow_mut());
    let read_s = report.times.read_s;
    report.times = *times.borrow();
    report.times.read_s = read_s;
    report.frame_problems = std::mem::take(&mut *frame_problems.borrow_mut());

    // The shards this worker owns (all their samples were routed to it), staged.
    let start = Instant::now();
    if report.failure.is_none() {
        for split in [Split::Train, Split::Bench] {
            for bucket in 0..job.shards {
                let id = ShardId { split, bucket };
                if id.owner(peers) != index {
                    continue;
                }
                match write_shard(
                    &job.spill_dir,
                    peers,
                    id,
                    job.shards,
                    &job.staging_dir,
                    &job.write,
                ) {
                    Ok((info, shown)) => {
                        Counters::bump(&job.progress.shards_written, 1);
                        report.shards.push(info);
                        report.shown.extend(shown);
                    }
                    Err(e) => {
                        report.failure = Some(format!("{e:#}"));
                        break;
                    }
                }
            }
        }
    }
    report.times.shards_s = start.elapsed().as_secs_f64();
    gather(worker, report)
}

/// Sends every worker's report to worker 0 (across processes in cluster mode), which
/// returns them all in `gathered`.
fn gather(worker: &mut Worker, report: WorkerReport) -> anyhow::Result<WorkerReport> {
    let bytes = bincode::serialize(&report).context("encoding a worker report")?;
    let received: Rc<RefCell<Vec<Vec<u8>>>> = Rc::new(RefCell::new(Vec::new()));
    let sink = received.clone();
    let mut input = worker.dataflow::<u32, _, _>(|scope| {
        let (input, reports) = scope.new_collection::<Vec<u8>, isize>();
        reports.inner.exchange(|_: &(Vec<u8>, u32, isize)| 0).sink(
            Pipeline,
            "Gather",
            move |(input, _frontier)| {
                input.for_each(|_time, data| {
                    sink.borrow_mut().extend(data.drain(..).map(|(b, _, _)| b));
                });
            },
        );
        input
    });
    input.insert(bytes);
    input.close();
    while worker.step() {}
    let mut report = report;
    if worker.index() == 0 {
        let mut all = received
            .borrow()
            .iter()
            .map(|b| bincode::deserialize::<WorkerReport>(b))
            .collect::<Result<Vec<_>, _>>()
            .context("decoding a worker report")?;
        all.sort_by_key(|r| r.worker);
        report.gathered = Some(all);
    }
    Ok(report)
}

/// Where a build's spill files go.
pub fn spill_dir(out: &Path) -> PathBuf {
    out.join(".spill")
}
