//! The build's dataflow on timely + differential: scenes keyed by scene hash -> first pass
//! (candidates, per-scene filters, ranks) -> per-task selection -> kept cutoffs per scene ->
//! shard owners, which make (second pass) and write their shards at each epoch's end. Each
//! stage wraps a plain `stages` function. An epoch feeds the scenes that changed since the
//! last (a one-off build has one; a live build keeps the graph between them).
//!
//! The selection is a `reduce` per task over every surviving candidate's rank, and a shard's
//! rows depend only on its scenes and what they keep: a shard whose scenes and cutoffs
//! are those of the published build keeps its file without being made again.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use differential_dataflow::AsCollection;
use differential_dataflow::input::Input;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::core::Exchange as _;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::probe::{Handle as ProbeHandle, Probe as _};
use timely::dataflow::operators::vec::{Broadcast as _, Map as _};
use timely::worker::Worker;

use anyhow::Context as _;
use crossview_schemas::{
    ContentHasher, InputError, SampleRef, SourceKind, Split, Task, WriteOptions,
};
use crossview_stages::corpus::{
    CorpusConfig, CorpusStats, SparseStats, count_scene_keeping, emit_eligible_kept,
    emit_scene_kept,
};
use crossview_stages::filter::{RankRuns, SlotKey, Tally};
use crossview_stages::masks::{MaskCompleter, MaskStats};
use crossview_stages::qa::hash_name;
use crossview_stages::sources::{self, SceneData, SourceOptions};

use super::cache::{self, FirstPass, SceneMasks};
use super::eligible::EligibleStore;
use super::epoch::{Epoch, EpochFeed};
use super::frames::SceneFrames;
use super::pack::PackStore;
use super::progress::Counters;
use super::shard_board::ShardBoard;
use super::shard_scenes::{self, PlannedScene, PublishedRows, SceneOfShard, copied_groups};
use super::shards::{SceneRows, ShardId, ShardInfo, ShardWriter};
use super::stubs::{StubRecords, read_stubs};
use super::tree_cache::{self, KnownScenes, TreeEntry};

/// A scene in the graph: its records (shared, never copied) and the tree they came from.
/// Ordered and compared by scene id and fingerprint, which identify its content. Between
/// processes it travels as CBOR (see the Serialize impl).
#[derive(Clone, Debug)]
pub struct SceneBlob {
    /// The scene's records.
    pub data: Arc<SceneData>,
    /// The native tree's root (frame paths are relative to it).
    pub root: Arc<PathBuf>,
    /// Whether mask completion ran on `data` (a scene found in the first-pass cache is
    /// completed only when a shard that holds it is made).
    pub masked: bool,
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
    masked: bool,
}

impl Serialize for SceneBlob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut cbor = Vec::new();
        ciborium::into_writer(self.data.as_ref(), &mut cbor).map_err(serde::ser::Error::custom)?;
        SceneWire {
            cbor,
            root: self.root.as_ref().clone(),
            masked: self.masked,
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
            masked: wire.masked,
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
    #[serde(with = "super::rank_bytes")]
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

    /// What the scene keeps of `task` under per-group thresholds (a candidate is kept when
    /// its rank is at or below its group's).
    fn kept(&self, task: Task, threshold: impl Fn(&SlotKey) -> Option<u64>) -> SceneKept {
        // A slot's ranks are sorted: what it keeps is a prefix.
        (self.ranks_by_slot.iter().enumerate())
            .filter_map(|(slot, ranks)| {
                let t = threshold(&self.key(task, slot))?;
                let n = ranks.partition_point(|&r| r <= t);
                Some(KeptCutoff {
                    task,
                    slot: slot as u8,
                    cutoff: *ranks[..n].last()?,
                })
            })
            .collect()
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
        // Sorted, so what a slot keeps is a prefix (see `KeptCutoff`).
        for r in out.values_mut() {
            for ranks in &mut r.ranks_by_slot {
                ranks.sort_unstable();
            }
        }
        out
    }
}

/// What a scene keeps of one task and answer slot: each of its ranks there at or below
/// `cutoff`, the largest it keeps. Given the scene's fingerprint (hence its ranks) the cutoff
/// stands for its kept candidates exactly, so a scene carries a few dozen of these through
/// the graph instead of its thousand kept ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeptCutoff {
    /// Task.
    pub task: Task,
    /// Answer slot.
    pub slot: u8,
    /// The largest kept rank.
    pub cutoff: u64,
}

/// A scene's kept candidates: one cutoff per task and slot it keeps any of, sorted.
pub type SceneKept = Vec<KeptCutoff>;

/// Whether a scene with kept candidates `kept` keeps the candidate of rank `rank` in `key`.
fn kept_in(kept: &[KeptCutoff], key: &SlotKey, rank: u64) -> bool {
    kept.binary_search_by(|k| (k.task, k.slot).cmp(&(key.task, key.slot)))
        .is_ok_and(|i| rank <= kept[i].cutoff)
}

/// The hash a scene is keyed (and sharded) by.
pub fn scene_hash(scene_id: &str) -> u64 {
    hash_name(scene_id)
}

/// What a build worker is given, besides its epochs.
#[derive(Clone, Debug)]
pub struct Job {
    /// Corpus settings.
    pub corpus: CorpusConfig,
    /// Reading options.
    pub options: SourceOptions,
    /// The segmenter cache folder (`OUT/.cache/masks`).
    pub mask_cache_dir: PathBuf,
    /// The output folder.
    pub out_dir: PathBuf,
    /// The first-pass cache (its folder created).
    pub first_pass: Arc<PackStore>,
    /// The read cache folder (created).
    pub trees_dir: PathBuf,
    /// Where scenes' records are stored, and found again for stubs.
    pub stub_records: StubRecords,
    /// What besides a scene keys its cache entry and a shard's inputs: settings and program.
    pub cache_settings: String,
    /// The published build's shards by path (empty without one), kept where unchanged: the
    /// current epoch's.
    pub previous: Arc<BTreeMap<String, ShardInfo>>,
    /// `OUT/frames`, when frames are stored.
    pub frames_dir: Option<PathBuf>,
    /// Shards per split.
    pub shards: u32,
    /// The shards' scene records (`OUT/.cache/shard-scenes`, created).
    pub shard_scenes_dir: PathBuf,
    /// Where each worker writes the shards it owns (`STAGING/data/...`) before publishing.
    pub staging_dir: PathBuf,
    /// Shard file settings.
    pub write: WriteOptions,
    /// Progress counters of this process.
    pub progress: Arc<Counters>,
    /// This process's first-pass survivors, for its second passes.
    pub eligible: Arc<EligibleStore>,
    /// The shards this process's workers make at an epoch, shared between them.
    pub(super) shard_board: Arc<ShardBoard<ShardToMake>>,
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
    /// Mask completion.
    #[serde(default)]
    pub masks_s: f64,
    /// First pass: geometry, candidates, per-scene filters, ranks.
    pub candidates_s: f64,
    /// Selection per task (balance, quotas, bench sampling).
    pub select_s: f64,
    /// Second pass: samples materialised (frames stored).
    pub emit_s: f64,
    /// The worker's shards consolidated and written.
    pub shards_s: f64,
}

impl StageTimes {
    /// Adds another worker's times.
    pub fn add(&mut self, o: &StageTimes) {
        self.read_s += o.read_s;
        self.masks_s += o.masks_s;
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
    /// The shards this worker kept (its own) or staged (its own or others' it took).
    pub shards: Vec<ShardInfo>,
    /// First-pass cache entries this worker used.
    pub cache_keys: Vec<String>,
    /// Read cache entries of the trees this worker read.
    pub tree_keys: Vec<String>,
    /// The epoch this report is of.
    pub epoch: u32,
    /// Scenes taken without reading them: from the read cache, or held by the graph from an
    /// earlier epoch (their tree unchanged).
    pub unread_scenes: u64,
    /// Of those, scenes read after all (a shard holding them was rewritten).
    pub reloaded_scenes: u64,
    /// Scenes of remade shards whose rows were taken from the published file.
    pub published_scenes: u64,
    /// Row groups of remade shards copied from the published file as they are.
    pub copied_row_groups: u64,
    /// Scenes this worker ranked (the others came from the first-pass cache).
    pub ranked_scenes: u64,
    /// Corpus counts of the scenes this worker processed.
    pub stats: CorpusStats,
    /// Input errors of the trees this worker read, and of the frames it segmented.
    pub errors: Vec<InputError>,
    /// What mask completion did on this worker.
    pub masks: MaskStats,
    /// Segmenter cache entries this worker used.
    pub mask_cache_keys: Vec<String>,
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

/// A worker's mask stage: its completer, what completion did for each scene in the graph,
/// what it did this epoch while shards were made, and the epoch's first failure.
#[derive(Default)]
struct Masking {
    completer: Option<MaskCompleter>,
    /// Per first-pass cache key: the scene's multiplicity in the graph and what completion
    /// did for it (a retracted scene leaves, with its errors and segmenter cache entries).
    by_scene: BTreeMap<String, (i64, SceneMasks)>,
    /// Completion done this epoch for shards being made (calls and cache entries).
    stats: MaskStats,
    cache_keys: Vec<String>,
    failure: Option<String>,
}

impl Masking {
    /// The scene with its masks completed, and what completion did for it (the scene as it
    /// came when the stage cannot run; the failure is reported and fails the build).
    fn complete(&mut self, blob: SceneBlob) -> (SceneBlob, SceneMasks) {
        let Some(c) = self.completer.as_mut() else {
            return (blob, SceneMasks::default());
        };
        match c.complete(blob.data.clone(), &blob.root) {
            Ok(done) => {
                let masks = SceneMasks {
                    stats: done.stats,
                    errors: done.errors,
                    cache_keys: c.take_cache_keys(),
                };
                let blob = SceneBlob {
                    data: done.scene,
                    root: blob.root,
                    masked: true,
                };
                (blob, masks)
            }
            Err(e) => {
                let id = blob.key().0.to_string();
                self.failure
                    .get_or_insert_with(|| format!("mask completion of {id}: {e}"));
                (blob, SceneMasks::default())
            }
        }
    }

    /// Counts a scene's mask completion in (`diff` 1) or out (-1) of the graph.
    fn record(&mut self, key: String, masks: SceneMasks, diff: isize) {
        use std::collections::btree_map::Entry;
        match self.by_scene.entry(key) {
            Entry::Occupied(mut held) => {
                held.get_mut().0 += diff as i64;
                if held.get().0 == 0 {
                    held.remove();
                }
            }
            Entry::Vacant(new) => {
                new.insert((diff as i64, masks));
            }
        }
    }

    /// What completion did for the scenes in the graph and for this epoch's shards, into
    /// `report`; the epoch's counts start again.
    fn report_into(&mut self, report: &mut WorkerReport) {
        let mut stats = std::mem::take(&mut self.stats);
        let mut keys = std::mem::take(&mut self.cache_keys);
        for (_, masks) in self.by_scene.values().filter(|(n, _)| *n > 0) {
            stats.merge(&masks.stats);
            report.errors.extend(masks.errors.iter().cloned());
            keys.extend(masks.cache_keys.iter().cloned());
        }
        report.masks = stats;
        report.mask_cache_keys = keys;
        // The epoch's failure goes into its report (the first one, if there are two).
        let failure = self.failure.take();
        if report.failure.is_none() {
            report.failure = failure;
        }
    }
}

/// First-pass entries between the mask stage and the first pass, by cache key: each with
/// whether it came from the cache (else the scene is ranked).
type WaitingEntries = BTreeMap<String, Vec<(FirstPass, bool)>>;

/// Scenes read between steps of the dataflow, so work starts while reading goes on.
const READ_BATCH: usize = 16;

/// A native tree as this worker fed it to the graph.
struct HeldTree {
    /// Its signature when read (empty when its read failed: it is read again).
    signature: String,
    /// Its scenes in the graph, by id and fingerprint (a list, should a tree give the same
    /// scene twice), with their hashes.
    scenes: BTreeMap<(String, String), Vec<(u64, SceneBlob)>>,
    /// Its input errors: its scenes' and the tree's own.
    errors: Vec<InputError>,
}

/// The graph's input: scenes keyed by scene hash.
type SceneInput = differential_dataflow::input::InputSession<u32, (u64, SceneBlob), isize>;

/// Runs one worker of the build graph for each epoch the feed gives: feeds what changed in
/// its trees since the last epoch, runs the graph to the epoch's end, makes and stages the
/// shards it owns whose inputs changed, and gathers the reports on worker 0 (returned after
/// the last epoch; handed to the feed after the others).
pub fn run_worker(
    worker: &mut Worker,
    base: &Job,
    feed: &EpochFeed,
) -> anyhow::Result<WorkerReport> {
    let index = worker.index();
    let job = base;
    let stats = Rc::new(RefCell::new(CorpusStats::default()));
    let times = Rc::new(RefCell::new(StageTimes::default()));
    let pending: Rc<RefCell<PendingShards>> = Rc::new(RefCell::new(BTreeMap::new()));
    let ranked: Rc<RefCell<u64>> = Rc::new(RefCell::new(0));
    // Each worker has its own segmenter (ONNX sessions are not shared between threads).
    let masking = Rc::new(RefCell::new(Masking::default()));
    match MaskCompleter::open(&job.corpus.masks, Some(&job.mask_cache_dir)) {
        Ok(c) => masking.borrow_mut().completer = Some(c),
        Err(e) => masking.borrow_mut().failure = Some(format!("mask completion: {e}")),
    }
    let probe = ProbeHandle::new();

    let input = worker.dataflow::<u32, _, _>(|scope| {
        let (input, scenes) = scope.new_collection::<(u64, SceneBlob), isize>();

        // Mask completion, spread over the workers by scene hash: observations without a
        // mask get the segmenter's, or fall back. A scene whose first pass is cached skips
        // it (its entry says what completion did); the entry waits here for the first pass.
        let masking1 = masking.clone();
        let times_masks = times.clone();
        let progress_masks = job.progress.clone();
        let first_pass = job.first_pass.clone();
        let cache_settings = job.cache_settings.clone();
        let stub_records = job.stub_records.clone();
        // Per key a list: one epoch may move a scene between trees or workers, retracting
        // and inserting the same scene, each with its own entry.
        let found: Rc<RefCell<WaitingEntries>> = Rc::default();
        let found1 = found.clone();
        let scenes = scenes
            .inner
            .exchange(|((h, _), _, _): &((u64, SceneBlob), u32, isize)| *h)
            .unary::<CapacityContainerBuilder<Vec<_>>, _, _, _>(Pipeline, "Masks", |_, _| {
                move |input, output| {
                    input.for_each(|cap, data| {
                        // First-pass entries are loaded on the thread pool: the worker that
                        // also reads a large tree would otherwise load its share alone.
                        let start = Instant::now();
                        let keys: Vec<String> = (data.iter())
                            .map(|((_, blob), _, _)| {
                                let (scene_id, fingerprint) = blob.key();
                                cache::entry_key(scene_id, fingerprint, &cache_settings)
                            })
                            .collect();
                        // Not when none is there (a cold build): the pool may be busy
                        // parsing a large tree, and this worker would wait its turn for nothing.
                        let entries: Vec<Option<FirstPass>> =
                            if keys.iter().any(|k| first_pass.contains(k)) {
                                (keys.par_iter())
                                    .map(|k| cache::load(&first_pass, k))
                                    .collect()
                            } else {
                                keys.iter().map(|_| None).collect()
                            };
                        times_masks.borrow_mut().masks_s += start.elapsed().as_secs_f64();
                        let mut session = output.session(&cap);
                        for ((((h, blob), t, r), key), loaded) in
                            data.drain(..).zip(keys).zip(entries)
                        {
                            let start = Instant::now();
                            let mut masking = masking1.borrow_mut();
                            let blob = match loaded {
                                Some(entry) => {
                                    let masks = SceneMasks {
                                        stats: entry.masks.stats.replayed(),
                                        ..entry.masks.clone()
                                    };
                                    masking.record(key.clone(), masks, r);
                                    found1
                                        .borrow_mut()
                                        .entry(key)
                                        .or_default()
                                        .push((entry, true));
                                    blob
                                }
                                None => {
                                    // A stub whose cached first pass went missing since it was read.
                                    let blob = if blob.data.unread {
                                        match read_stubs(&stub_records, vec![blob.clone()]) {
                                            Ok(mut read) => read.pop().unwrap_or(blob),
                                            Err(e) => {
                                                masking
                                                    .failure
                                                    .get_or_insert_with(|| format!("{e:#}"));
                                                blob
                                            }
                                        }
                                    } else {
                                        blob
                                    };
                                    let (blob, masks) = masking.complete(blob);
                                    masking.record(key.clone(), masks.clone(), r);
                                    let entry = FirstPass {
                                        masks,
                                        ..FirstPass::default()
                                    };
                                    found1
                                        .borrow_mut()
                                        .entry(key)
                                        .or_default()
                                        .push((entry, false));
                                    blob
                                }
                            };
                            times_masks.borrow_mut().masks_s += start.elapsed().as_secs_f64();
                            Counters::bump(&progress_masks.scenes_masked, 1);
                            session.give(((h, blob), t, r));
                        }
                    });
                }
            })
            .as_collection();

        // First pass: candidates and their ranks, spread over the workers by scene hash;
        // counts follow the scene's multiplicity.
        let cfg = job.corpus.clone();
        let stats1 = stats.clone();
        let times1 = times.clone();
        let progress1 = job.progress.clone();
        let ranked1 = ranked.clone();
        let first_pass = job.first_pass.clone();
        let cache_settings = job.cache_settings.clone();
        let eligible_store = job.eligible.clone();
        // Already spread by scene hash, and on the worker that masked the scene.
        let eligible = scenes
            .clone()
            .inner
            .flat_map(move |((h, blob), t, r)| {
                let start = Instant::now();
                let (scene_id, fingerprint) = blob.key();
                let key = cache::entry_key(scene_id, fingerprint, &cache_settings);
                let waiting = {
                    let mut found = found.borrow_mut();
                    let entries = found.get_mut(&key);
                    let entry = entries.and_then(Vec::pop);
                    if found.get(&key).is_some_and(Vec::is_empty) {
                        found.remove(&key);
                    }
                    entry
                };
                let entry = match waiting {
                    Some((entry, true)) => entry,
                    pending => {
                        *ranked1.borrow_mut() += 1;
                        // The survivors are set aside so the second pass need not
                        // generate them again.
                        let mut encoded = Vec::new();
                        let (tally, st) =
                            count_scene_keeping(&blob.data, &cfg, &mut |c| c.encode(&mut encoded));
                        eligible_store.put(index, t, scene_id, fingerprint, &encoded);
                        let source = blob
                            .data
                            .scene
                            .as_ref()
                            .map_or(SourceKind::MessyTable, |s| s.source);
                        let entry = FirstPass {
                            ranks: SceneTaskRanks::of_tally(h, source, &tally),
                            stats: SparseStats::from(&st),
                            masks: pending
                                .as_ref()
                                .map(|(e, _)| e.masks.clone())
                                .unwrap_or_default(),
                        };
                        // Stored only with the scene's mask record (a scene seen twice has
                        // none the second time). A cache that cannot be written only costs
                        // time on the next build.
                        if pending.is_some() {
                            let _ = cache::store(&first_pass, &key, &entry);
                        }
                        entry
                    }
                };
                times1.borrow_mut().candidates_s += start.elapsed().as_secs_f64();
                Counters::bump(&progress1.scenes_counted, 1);
                stats1
                    .borrow_mut()
                    .merge_sparse_scaled(&entry.stats, r as i64);
                entry
                    .ranks
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
            let mut runs = RankRuns::new();
            for (rec, n) in input.iter() {
                for _ in 0..*n {
                    for (slot, ranks) in rec.ranks_by_slot.iter().enumerate() {
                        runs.add_sorted(rec.key(*task, slot), ranks, rec.options);
                    }
                }
            }
            let sel = runs.select(&filter, bench_per_task);
            let sel = &sel;
            for (rec, n) in input.iter() {
                let kept = rec.kept(*task, |key| sel.threshold(key));
                if !kept.is_empty() {
                    output.push(((rec.scene, kept), *n));
                }
            }
            times_select.borrow_mut().select_s += start.elapsed().as_secs_f64();
        });
        let progress_kept = job.progress.clone();
        let kept_by_scene = kept.map(|(_task, (scene, kept))| (scene, kept)).reduce(
            move |_scene: &u64, input, output| {
                Counters::bump(&progress_kept.scenes_kept, 1);
                let mut kept: SceneKept =
                    input.iter().flat_map(|(k, _)| k.iter().copied()).collect();
                kept.sort_unstable();
                output.push((kept, 1isize));
            },
        );

        // The sink: each scene with its kept cutoffs goes to the worker owning its shard, which
        // keeps it (records are shared, not copied) until the graph is done, then makes and
        // writes its shards one at a time (`write_owned_shards`).
        let split_cfg = job.corpus.split.clone();
        let shards = job.shards;
        let pending2 = pending.clone();
        let sink_split = split_cfg.clone();
        type Emit = ((u64, (SceneBlob, SceneKept)), u32, isize);
        scenes
            .join(kept_by_scene)
            .inner
            .exchange(move |((h, (blob, _)), _, _): &Emit| {
                let id = blob.data.scene.as_ref().map_or("", |s| s.scene_id.as_str());
                ShardId::of(split_cfg.split_of(id), *h, shards).route()
            })
            .probe_with(&probe)
            .sink(Pipeline, "Shards", move |(input, _frontier)| {
                input.for_each(|_time, data| {
                    let mut pending = pending2.borrow_mut();
                    for ((h, (blob, kept)), _t, r) in data.drain(..) {
                        let (scene_id, fingerprint) = blob.key();
                        let split = sink_split.split_of(scene_id);
                        let key = (scene_id.to_string(), fingerprint.to_string(), kept);
                        let entry = pending
                            .entry(ShardId::of(split, h, shards))
                            .or_default()
                            .entry(key)
                            .or_insert((blob, 0));
                        entry.1 += r as i64;
                    }
                });
            });
        input
    });

    let mut input = Some(input);
    let mut announcements = Announcements::new(worker);
    let mut held: BTreeMap<PathBuf, HeldTree> = BTreeMap::new();
    let mut done = None;
    loop {
        if index == 0 {
            // Stepping while it waits is how worker 0 learns that a cluster process went
            // away (the others step all along).
            let next = feed.next(done, || {
                worker.step();
            });
            announcements.announce(next.as_deref())?;
        }
        let Some(epoch) = announcements.next(worker)? else {
            break;
        };
        done = Some(epoch.number);
        let job = Job {
            previous: epoch.previous.clone(),
            ..base.clone()
        };
        let mut report = WorkerReport {
            worker: index,
            epoch: epoch.number,
            ..WorkerReport::default()
        };
        let Some(session) = input.as_mut() else {
            anyhow::bail!("worker {index}: an epoch after the last");
        };
        let tree_stores = feed_trees(worker, &job, &epoch, session, &mut held, &mut report);
        // This worker's trees are read (the display knows the total once every worker is).
        job.progress
            .readers_done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let owned = if epoch.last {
            // Closing the input completes the dataflow, which frees its state before the
            // shards are made; `step_or_park` reports false once every operator (the sink
            // included) is done, and parks the thread while others still work (spinning
            // would take a core from them).
            drop(input.take());
            announcements.close();
            while worker.step_or_park(None) {}
            std::mem::take(&mut *pending.borrow_mut())
        } else {
            let end = epoch.number + 1;
            session.advance_to(end);
            session.flush();
            while probe.less_than(&end) {
                worker.step_or_park(None);
            }
            let mut pending = pending.borrow_mut();
            for scenes in pending.values_mut() {
                scenes.retain(|_, (_, n)| *n != 0);
            }
            pending.clone()
        };
        report.stats = stats.borrow().clone();
        report.ranked_scenes = std::mem::take(&mut *ranked.borrow_mut());
        let read_s = report.times.read_s;
        report.times = std::mem::take(&mut *times.borrow_mut());
        report.times.read_s = read_s;
        let mut masking = masking.borrow_mut();
        if report.failure.is_none() {
            report.failure = masking.failure.take();
        }
        if report.failure.is_none()
            && let Err(e) = write_owned_shards(
                &job,
                index,
                worker.peers(),
                owned,
                &mut masking,
                &mut report,
            )
        {
            report.failure = Some(format!("{e:#}"));
        }
        // A worker that failed before putting its shards up says it has none (the others
        // wait for every worker of the process to put its shards up).
        job.shard_board.put_up(index, epoch.number, Vec::new());
        masking.report_into(&mut report);
        drop(masking);
        for store in tree_stores {
            let _ = store.join();
        }
        let mut report = gather(worker, report)?;
        // Gathered: every worker made its shards, and the survivors set aside for them are
        // of no more use.
        job.eligible.finish_epoch(epoch.number);
        if epoch.last {
            return Ok(report);
        }
        if let Some(all) = report.gathered.take() {
            feed.deliver(all);
        }
    }
    // Stopped: the graphs close and complete.
    drop(input);
    drop(announcements);
    while worker.step_or_park(None) {}
    Ok(WorkerReport {
        worker: index,
        ..WorkerReport::default()
    })
}

/// The epochs as every worker, in every process, learns them: worker 0 takes each from its
/// process's feed and broadcasts it (`None`: stop), so all workers run the same epochs on
/// the same inputs, whichever process started them.
struct Announcements {
    /// `None` once closed (after the last epoch).
    input: Option<differential_dataflow::input::InputSession<u32, Vec<u8>, isize>>,
    received: Rc<RefCell<std::collections::VecDeque<Vec<u8>>>>,
}

impl Announcements {
    fn new(worker: &mut Worker) -> Self {
        let received: Rc<RefCell<std::collections::VecDeque<Vec<u8>>>> = Rc::default();
        let sink = received.clone();
        let input = worker.dataflow::<u32, _, _>(|scope| {
            let (input, announced) = scope.new_collection::<Vec<u8>, isize>();
            announced
                .inner
                .broadcast()
                .sink(Pipeline, "Epochs", move |(input, _)| {
                    input.for_each(|_time, data| {
                        sink.borrow_mut()
                            .extend(data.drain(..).map(|(bytes, _, _)| bytes));
                    });
                });
            input
        });
        Announcements {
            input: Some(input),
            received,
        }
    }

    /// Worker 0: broadcasts the next epoch (`None`: stop). Its time stays 0: an announcement
    /// is taken as it arrives, not at a frontier.
    fn announce(&mut self, epoch: Option<&Epoch>) -> anyhow::Result<()> {
        let bytes = bincode::serialize(&epoch).context("encoding an epoch")?;
        let input = (self.input.as_mut()).context("an epoch announced after the last")?;
        input.insert(bytes);
        input.flush();
        Ok(())
    }

    /// Closes this worker's side (after the last epoch), so the dataflow can complete.
    fn close(&mut self) {
        self.input = None;
    }

    /// The next epoch announced (`None`: stop), stepping the worker until it arrives (parked
    /// while nothing comes).
    fn next(&mut self, worker: &mut Worker) -> anyhow::Result<Option<Arc<Epoch>>> {
        loop {
            if let Some(bytes) = self.received.borrow_mut().pop_front() {
                let epoch: Option<Epoch> =
                    bincode::deserialize(&bytes).context("decoding an epoch")?;
                return Ok(epoch.map(Arc::new));
            }
            worker.step_or_park(None);
        }
    }
}

/// Feeds the graph what changed in this worker's trees since the last epoch: a tree whose
/// signature is the one it was read with is not looked at; another is read (scenes the read
/// cache knows come as stubs) and its scenes are compared with those the graph holds, by id
/// and fingerprint: new ones inserted, gone or changed ones retracted. Trees no longer this
/// worker's leave the graph. Returns the read cache stores running on the side.
fn feed_trees(
    worker: &mut Worker,
    job: &Job,
    epoch: &Epoch,
    input: &mut SceneInput,
    held: &mut BTreeMap<PathBuf, HeldTree>,
    report: &mut WorkerReport,
) -> Vec<std::thread::JoinHandle<std::io::Result<()>>> {
    let (index, peers) = (worker.index(), worker.peers());
    let owned: BTreeSet<&PathBuf> = (epoch.trees.iter().enumerate())
        .filter(|(i, _)| i % peers == index)
        .map(|(_, (root, _))| root)
        .collect();
    let gone: Vec<PathBuf> = held
        .keys()
        .filter(|r| !owned.contains(r))
        .cloned()
        .collect();
    for root in gone {
        for (h, blob) in held
            .remove(&root)
            .into_iter()
            .flat_map(|t| t.scenes.into_values().flatten())
        {
            input.remove((h, blob));
        }
    }
    let mut tree_stores = Vec::new();
    for (i, (root, kind)) in epoch.trees.iter().enumerate() {
        if i % peers != index || report.failure.is_some() {
            continue;
        }
        let tree_key = tree_cache::entry_key(root, *kind, &job.cache_settings);
        report.tree_keys.push(tree_key.clone());
        let signature = &epoch.tree_signatures[i];
        if let Some(tree) = held.get(root)
            && &tree.signature == signature
        {
            report.unread_scenes += tree.scenes.values().map(|v| v.len() as u64).sum::<u64>();
            continue;
        }
        let mut old = held.remove(root).map(|t| t.scenes).unwrap_or_default();
        let mut tree = HeldTree {
            signature: signature.clone(),
            scenes: BTreeMap::new(),
            errors: Vec::new(),
        };
        let previous = tree_cache::load(&job.trees_dir, &tree_key);
        let known = KnownScenes::new(previous.as_ref(), &job.first_pass, &job.cache_settings);
        let root_arc = Arc::new(root.clone());
        let mut batch = 0usize;
        let mut stepping = 0.0;
        let start = Instant::now();
        let unread = &mut report.unread_scenes;
        let mut hand_over = |scene: SceneData| {
            tree.errors.extend(scene.errors.iter().cloned());
            let Some(meta) = &scene.scene else {
                return;
            };
            *unread += u64::from(scene.unread);
            if !scene.unread {
                let key = cache::entry_key(&meta.scene_id, &scene.fingerprint, &job.cache_settings);
                // A record that cannot be stored only costs reading its tree again later.
                let _ = tree_cache::store_records(&job.stub_records.scenes, &key, &scene);
            }
            let key = (meta.scene_id.clone(), scene.fingerprint.clone());
            let h = scene_hash(&meta.scene_id);
            // A scene the graph holds with this fingerprint stays as it is.
            let held_blob = old.get_mut(&key).and_then(Vec::pop);
            let blob = match held_blob {
                Some((_, blob)) => blob,
                None => {
                    let blob = SceneBlob {
                        data: Arc::new(scene),
                        root: root_arc.clone(),
                        masked: false,
                    };
                    input.insert((h, blob.clone()));
                    batch += 1;
                    blob
                }
            };
            tree.scenes.entry(key).or_default().push((h, blob));
            Counters::bump(&job.progress.scenes_read, 1);
            if batch >= READ_BATCH {
                batch = 0;
                input.flush();
                let step = Instant::now();
                worker.step();
                stepping += step.elapsed().as_secs_f64();
            }
        };
        let unchanged = previous
            .as_ref()
            .filter(|e| &e.signature == signature && known.all_cached(e));
        let read = if let Some(entry) = unchanged {
            // Nothing in the tree changed since it was read: its scenes are its stubs.
            for stub in &entry.scenes {
                hand_over(stub.clone());
            }
            Ok(entry.problems.clone())
        } else {
            let mut entry = TreeEntry {
                signature: signature.clone(),
                ..TreeEntry::default()
            };
            let read =
                sources::open(root.as_path(), Some(*kind), &job.options).and_then(|reader| {
                    reader.read_skipping(&known, &mut |scene| {
                        entry.scenes.push(scene.stub());
                        hand_over(scene);
                        Ok(())
                    })
                });
            if let Ok(problems) = &read {
                entry.problems = problems.clone();
                if previous.as_ref() != Some(&entry) {
                    // Stored on the side while the graph runs (tens of MB for a large
                    // tree); a cache that cannot be written only costs time next build.
                    let dir = job.trees_dir.clone();
                    let tree_key = tree_key.clone();
                    tree_stores.push(std::thread::spawn(move || {
                        tree_cache::store(&dir, &tree_key, &entry)
                    }));
                }
            }
            read
        };
        match read {
            Ok(problems) => {
                tree.errors.extend(problems);
                // The scenes the tree no longer has, or has changed, leave the graph.
                for (h, blob) in old.into_values().flatten() {
                    input.remove((h, blob));
                }
            }
            Err(e) => {
                report.failure = Some(format!("{}: {e}", root.display()));
                // What was not read again stays in the graph; the tree is read next epoch.
                for (key, blobs) in old {
                    tree.scenes.entry(key).or_default().extend(blobs);
                }
                tree.signature.clear();
            }
        }
        held.insert(root.clone(), tree);
        report.times.read_s += start.elapsed().as_secs_f64() - stepping;
    }
    // What the graph holds of this worker's trees: its scenes, their cache entries, errors.
    for tree in held.values() {
        report.errors.extend(tree.errors.iter().cloned());
        for ((scene_id, fingerprint), blobs) in &tree.scenes {
            for (_, blob) in blobs {
                let source = blob
                    .data
                    .scene
                    .as_ref()
                    .map_or(SourceKind::MessyTable, |s| s.source);
                report.scenes.push(SceneEntry {
                    scene_id: scene_id.clone(),
                    source,
                    split: job.corpus.split.split_of(scene_id),
                    fingerprint: fingerprint.clone(),
                });
                report.cache_keys.push(cache::entry_key(
                    scene_id,
                    fingerprint,
                    &job.cache_settings,
                ));
            }
        }
    }
    tree_stores
}

/// Per shard, the scenes sent to it: (scene id, fingerprint, kept candidates) -> (scene, net
/// multiplicity).
type PendingShards = BTreeMap<ShardId, BTreeMap<(String, String, SceneKept), (SceneBlob, i64)>>;

/// A scene of a shard with its kept candidates.
type ShardScene = (SceneBlob, SceneKept);

/// A scene of a shard being made, with the hash of its inputs: to be made, or (its inputs
/// unchanged) taken from the published file, whose rows are copied or decoded when the
/// shard is made.
enum ShardItem {
    Make(ShardScene, String),
    Published(ShardScene, Box<SceneOfShard>),
}

/// A shard a worker makes at an epoch: its id, the hash of its inputs, its scenes in
/// order, and the published file's record of its scenes (empty when there is none).
pub(super) struct ShardToMake {
    id: ShardId,
    inputs: String,
    items: Vec<ShardItem>,
    records: Vec<SceneOfShard>,
}

/// A scene's kept cutoffs as integers to hash: (task, slot) and cutoff.
fn cutoff_words(kept: &[KeptCutoff]) -> Vec<u64> {
    kept.iter()
        .flat_map(|k| {
            [
                u64::from(k.task.number()) << 8 | u64::from(k.slot),
                k.cutoff,
            ]
        })
        .collect()
}

/// The hash of what a scene's rows are made from.
fn scene_inputs(settings: &str, scene_id: &str, fingerprint: &str, kept: &[KeptCutoff]) -> String {
    ContentHasher::new("crossview.scene_inputs")
        .str(settings)
        .str(scene_id)
        .str(fingerprint)
        .u64s(&cutoff_words(kept))
        .finish_hex(16)
}

/// Scenes of a shard whose rows are made at once, on the thread pool when the maker has it
/// to itself (their rows are held until written: a few thousand).
const PARALLEL_SCENES: usize = 8;

/// A scene's rows, second-pass counts and the frames that could not be stored.
type MadeRows = anyhow::Result<(SceneRows, CorpusStats, Vec<String>)>;

/// The second pass of a few scenes of a shard, on the thread pool: each scene's rows, and
/// the seconds it took.
fn made_rows(job: &Job, items: &[ShardItem]) -> (Vec<MadeRows>, f64) {
    let start = Instant::now();
    let made = (items.par_iter())
        .map(|item| match item {
            ShardItem::Published((blob, kept), _) | ShardItem::Make((blob, kept), _) => {
                scene_rows(job, blob, kept)
            }
        })
        .collect();
    (made, start.elapsed().as_secs_f64())
}

/// The second pass of one scene of a shard: its kept samples (frames stored), in canonical
/// order (sample id) as rows, its counts and the frames that could not be stored.
fn scene_rows(job: &Job, blob: &SceneBlob, kept: &[KeptCutoff]) -> MadeRows {
    let scene_id = blob.key().0;
    let mut rows = None;
    let (st, problems) = second_pass(job, blob, kept, &mut |samples| {
        rows = Some(SceneRows::of(scene_id, samples)?);
        Ok(())
    })?;
    let rows = match rows {
        Some(rows) => rows,
        None => SceneRows::of(scene_id, &[])?,
    };
    Ok((rows, st, problems))
}

/// The second pass of one scene of a shard, its kept samples (frames stored) written in
/// canonical order (sample id) by `writer`: the rows written, the frames they show, the
/// scene's counts and the frames that could not be stored.
fn write_scene(
    job: &Job,
    blob: &SceneBlob,
    kept: &[KeptCutoff],
    writer: &mut ShardWriter,
) -> anyhow::Result<(u64, BTreeSet<String>, CorpusStats, Vec<String>)> {
    let scene_id = blob.key().0;
    let mut written = (0, BTreeSet::new());
    let (st, problems) = second_pass(job, blob, kept, &mut |samples| {
        written = (
            samples.len() as u64,
            writer.push_samples(scene_id, samples)?,
        );
        Ok(())
    })?;
    Ok((written.0, written.1, st, problems))
}

/// The second pass of one scene of a shard: its kept samples (frames stored), handed to
/// `sink` in canonical order (sample id); its counts and the frames that could not be stored.
fn second_pass(
    job: &Job,
    blob: &SceneBlob,
    kept: &[KeptCutoff],
    sink: &mut dyn FnMut(&[&SampleRef<'_>]) -> anyhow::Result<()>,
) -> anyhow::Result<(CorpusStats, Vec<String>)> {
    let frames = SceneFrames::new(job.frames_dir.as_deref(), blob.root.as_path());
    let keeps = |key: &SlotKey, rank: u64| kept_in(kept, key, rank);
    let (scene_id, fingerprint) = blob.key();
    let mut sunk = Ok(());
    let mut write = |samples: &[SampleRef<'_>]| {
        // Sorted by reference: a sample is a few hundred bytes to move.
        let mut order: Vec<&SampleRef<'_>> = samples.iter().collect();
        order.sort_unstable_by(|a, b| a.sample_id.cmp(&b.sample_id));
        if sunk.is_ok() {
            sunk = sink(&order);
        }
    };
    let st = match job.eligible.take(scene_id, fingerprint) {
        Some(eligible) => emit_eligible_kept(
            &blob.data,
            &job.corpus,
            &eligible,
            &keeps,
            &frames,
            &mut write,
        )?,
        None => emit_scene_kept(&blob.data, &job.corpus, &keeps, &frames, &mut write)?,
    };
    sunk?;
    Ok((st, frames.into_problems()))
}

/// The second pass and the sink of the shards this worker owns: a shard made from the same
/// scenes and kept cutoffs as the published one keeps its file; the others are put up on the
/// process's [`ShardBoard`] and made one at a time by whichever worker takes them, each
/// scene's samples materialised (frames stored), put in canonical order (scene, sample id)
/// and written to the staging folder.
fn write_owned_shards(
    job: &Job,
    index: usize,
    peers: usize,
    mut pending: PendingShards,
    masking: &mut Masking,
    report: &mut WorkerReport,
) -> anyhow::Result<()> {
    // Which shards keep their files; the others are made below.
    let mut to_make: Vec<(ShardId, String, Vec<ShardScene>)> = Vec::new();
    for split in [Split::Train, Split::Bench] {
        for bucket in 0..job.shards {
            let id = ShardId { split, bucket };
            if id.owner(peers) != index {
                continue;
            }
            let mut scenes = Vec::new();
            for ((scene_id, _, kept), (blob, n)) in pending.remove(&id).unwrap_or_default() {
                match n {
                    0 => {}
                    1 => scenes.push((blob, kept)),
                    n => anyhow::bail!("scene {scene_id} arrived {n} times in {id:?}"),
                }
            }
            let mut inputs = ContentHasher::new("crossview.shard_inputs").str(&job.cache_settings);
            for (blob, kept) in &scenes {
                let (scene_id, fingerprint) = blob.key();
                inputs = inputs
                    .str(scene_id)
                    .str(fingerprint)
                    .u64s(&cutoff_words(kept));
            }
            let inputs = inputs.finish_hex(16);
            let rel = id.file_name(job.shards);
            if let Some(prev) = job.previous.get(&rel)
                && prev.inputs == inputs
                && std::fs::metadata(job.out_dir.join(&rel)).is_ok_and(|m| m.len() == prev.bytes)
                && job
                    .frames_dir
                    .as_ref()
                    .is_none_or(|dir| prev.frames.iter().all(|f| dir.join(f).is_file()))
            {
                report.stats.merge(&prev.second_pass);
                report.shards.push(prev.clone());
                Counters::bump(&job.progress.scenes_emitted, scenes.len() as u64);
                Counters::bump(&job.progress.shards_written, 1);
                continue;
            }
            to_make.push((id, inputs, scenes));
        }
    }
    // A shard made again takes the rows of its unchanged scenes from its published file
    // (decoded when the shard is made: one shard's rows at a time); the other scenes handed
    // over unread are read now, one pass per tree for all shards.
    let start = Instant::now();
    let mut shard_items: Vec<ShardToMake> = Vec::new();
    for (id, inputs, scenes) in to_make {
        let records = (job.previous.get(&id.file_name(job.shards)))
            .and_then(|prev| shard_scenes::load(&job.shard_scenes_dir, &prev.inputs))
            .unwrap_or_default();
        let mut published: HashMap<(String, String), &SceneOfShard> = (records.iter())
            .filter(|r| {
                (job.frames_dir.as_ref())
                    .is_none_or(|d| r.frames.iter().all(|f| d.join(f).is_file()))
            })
            .map(|r| ((r.scene_id.clone(), r.inputs.clone()), r))
            .collect();
        let items = scenes
            .into_iter()
            .map(|(blob, kept)| {
                let (scene_id, fingerprint) = blob.key();
                let scene = scene_inputs(&job.cache_settings, scene_id, fingerprint, &kept);
                match published.remove(&(scene_id.to_string(), scene.clone())) {
                    Some(record) => ShardItem::Published((blob, kept), Box::new(record.clone())),
                    None => ShardItem::Make((blob, kept), scene),
                }
            })
            .collect();
        drop(published);
        shard_items.push(ShardToMake {
            id,
            inputs,
            items,
            records,
        });
    }
    let unread: Vec<SceneBlob> = (shard_items.iter())
        .flat_map(|shard| &shard.items)
        .filter_map(|item| match item {
            ShardItem::Make((blob, _), _) => Some(blob.clone()),
            ShardItem::Published(..) => None,
        })
        .collect();
    report.reloaded_scenes += unread.iter().filter(|b| b.data.unread).count() as u64;
    let mut read = read_stubs(&job.stub_records, unread)?.into_iter();
    for item in shard_items.iter_mut().flat_map(|shard| &mut shard.items) {
        if let ShardItem::Make((blob, _), _) = item
            && let Some(r) = read.next()
        {
            *blob = r;
        }
    }
    report.times.read_s += start.elapsed().as_secs_f64();
    // The process's workers make its shards together, each its own largest first: by the
    // observations of the scenes to make, which the rows to make grow with.
    shard_items.sort_by_cached_key(|shard| {
        let observations: usize = (shard.items.iter())
            .map(|item| match item {
                ShardItem::Make((blob, _), _) => blob.data.observations.len(),
                ShardItem::Published(..) => 0,
            })
            .sum();
        std::cmp::Reverse(observations)
    });
    let board = &job.shard_board;
    let shards = board.put_up(index, report.epoch, shard_items);
    // With fewer shards to make than workers (a rebuild) a shard's maker has a spare
    // core: it encodes each batch's columns on the pool, and makes a shard's next scenes'
    // rows there while it writes these. With more (a cold build) every worker makes shards
    // to the end, each on its own thread: handing rows to the pool left cores idle while
    // a worker waited for its last scenes, and encoding there cost 3-8% in interleaved runs.
    let pool_to_itself = shards < board.workers();
    let write = WriteOptions {
        parallel_columns: pool_to_itself,
        ..job.write.clone()
    };
    while let Some(shard) = board.take(index, report.epoch) {
        if shard
            .items
            .iter()
            .any(|i| matches!(i, ShardItem::Published(..)))
        {
            remake_shard(job, shard, masking, report, &write)?;
            Counters::bump(&job.progress.shards_written, 1);
            continue;
        }
        let ShardToMake {
            id,
            inputs,
            mut items,
            ..
        } = shard;
        mask_items(masking, &mut items)?;
        let mut writer = ShardWriter::create(id, job.shards, inputs, &job.staging_dir, &write)?;
        let mut scenes = ScenesWritten::with_capacity(items.len());
        if pool_to_itself {
            write_rows_made_ahead(job, &id, &items, &mut writer, &mut scenes, report)?;
        } else {
            // Each scene's samples go straight into the shard's columns.
            for item in &items {
                let ShardItem::Make((blob, kept), scene_inputs) = item else {
                    anyhow::bail!("a published scene of shard {id:?} to make anew");
                };
                let start = Instant::now();
                let encoded = writer.encode_seconds();
                let (rows, frames, st, problems) = write_scene(job, blob, kept, &mut writer)?;
                let encode_s = writer.encode_seconds() - encoded;
                report.times.emit_s += start.elapsed().as_secs_f64() - encode_s;
                report.times.shards_s += encode_s;
                let scene_id = blob.key().0;
                let record =
                    SceneOfShard::written(scene_id, rows, &frames, scene_inputs, &st, &problems);
                scenes.add(job, record);
                report.frame_problems.extend(problems);
            }
        }
        let start = Instant::now();
        publish_shard(job, writer, scenes, report)?;
        report.times.shards_s += start.elapsed().as_secs_f64();
        Counters::bump(&job.progress.shards_written, 1);
    }
    Ok(())
}

/// Writes a shard's scenes (none published) with the pool to itself (few shards to make, a
/// rebuild): their rows are made a few at a time on the pool, the next few while these are
/// written.
fn write_rows_made_ahead(
    job: &Job,
    id: &ShardId,
    items: &[ShardItem],
    writer: &mut ShardWriter,
    scenes: &mut ScenesWritten,
    report: &mut WorkerReport,
) -> anyhow::Result<()> {
    let mut chunks = items.chunks(PARALLEL_SCENES);
    let mut made = chunks.next().map(|chunk| (chunk, made_rows(job, chunk)));
    while let Some((chunk, (rows_of_scenes, made_s))) = made.take() {
        report.times.emit_s += made_s;
        let next = chunks.next();
        let (next_made, written) = std::thread::scope(|scope| {
            let maker = next.map(|chunk| scope.spawn(move || made_rows(job, chunk)));
            let start = Instant::now();
            let write = || -> anyhow::Result<()> {
                for (m, item) in rows_of_scenes.into_iter().zip(chunk) {
                    let (rows, st, problems) = m?;
                    let scene_inputs = match item {
                        ShardItem::Published(_, record) => &record.inputs,
                        ShardItem::Make(_, scene) => scene,
                    };
                    let record = SceneOfShard::of(&rows, scene_inputs, &st, &problems);
                    writer.push_rows(rows)?;
                    scenes.add(job, record);
                    report.frame_problems.extend(problems);
                }
                Ok(())
            };
            let written = write();
            report.times.shards_s += start.elapsed().as_secs_f64();
            (maker.map(|m| m.join()), written)
        });
        written?;
        made = match (next_made, next) {
            (Some(Ok(m)), Some(chunk)) => Some((chunk, m)),
            (Some(_), _) => anyhow::bail!("making the rows of shard {id:?} panicked"),
            (None, _) => None,
        };
    }
    Ok(())
}

/// Masks the scenes of a shard to be made that came from the first-pass cache (their counts
/// and errors were reported from the cache; their segmenter cache entries are used again).
fn mask_items(masking: &mut Masking, items: &mut [ShardItem]) -> anyhow::Result<()> {
    for item in items {
        if let ShardItem::Make((blob, _), _) = item
            && !blob.masked
        {
            let (masked, masks) = masking.complete(blob.clone());
            masking.cache_keys.extend(masks.cache_keys);
            // Calls are work of this build (none while the segmenter cache holds).
            masking.stats.model_calls += masks.stats.model_calls;
            if let Some(f) = masking.failure.take() {
                anyhow::bail!(f);
            }
            *blob = masked;
        }
    }
    Ok(())
}

/// The published scenes of a shard are made instead (its published file is not the one
/// recorded): read again where they were handed over unread.
fn make_published_scenes(
    job: &Job,
    items: &mut [ShardItem],
    report: &mut WorkerReport,
) -> anyhow::Result<()> {
    for item in items {
        if let ShardItem::Published(scene, record) = item {
            let (blob, kept) = scene.clone();
            report.reloaded_scenes += u64::from(blob.data.unread);
            let blob = read_stubs(&job.stub_records, vec![blob.clone()])?
                .pop()
                .unwrap_or(blob);
            *item = ShardItem::Make((blob, kept), record.inputs.clone());
        }
    }
    Ok(())
}

/// Makes again a shard some of whose scenes' rows are those of its published file (a
/// rebuild): the changed scenes' rows are made first, so the shard's row groups are known;
/// a group that was a group of the published file, scene for scene, is copied from it as
/// it is; the published rows of the other groups are decoded from it.
fn remake_shard(
    job: &Job,
    shard: ShardToMake,
    masking: &mut Masking,
    report: &mut WorkerReport,
    write: &WriteOptions,
) -> anyhow::Result<()> {
    let ShardToMake {
        id,
        inputs,
        mut items,
        records,
    } = shard;
    let prev = job.previous.get(&id.file_name(job.shards));
    let group_rows = job.write.row_group_rows.max(1) as u64;
    let mut published = None;
    let mut made: Vec<Option<(SceneRows, CorpusStats, Vec<String>)>> = Vec::new();
    let mut copied = Vec::new();
    // At most twice: a published file that disagrees with its record has its scenes made.
    for attempt in 0..2 {
        mask_items(masking, &mut items)?;
        let start = Instant::now();
        let fresh: Vec<Option<MadeRows>> = items
            .par_iter()
            .enumerate()
            .map(|(i, item)| match item {
                ShardItem::Make(..) if made.get(i).is_some_and(Option::is_some) => None,
                ShardItem::Make((blob, kept), _) => Some(scene_rows(job, blob, kept)),
                ShardItem::Published(..) => None,
            })
            .collect();
        report.times.emit_s += start.elapsed().as_secs_f64();
        made.resize_with(items.len(), || None);
        for (slot, m) in made.iter_mut().zip(fresh) {
            if let Some(m) = m {
                *slot = Some(m?);
            }
        }
        let start = Instant::now();
        let planned: Vec<PlannedScene<'_>> = items
            .iter()
            .zip(&made)
            .map(|(item, m)| match (item, m) {
                (ShardItem::Published(_, record), _) => PlannedScene {
                    scene_id: &record.scene_id,
                    inputs: &record.inputs,
                    rows: record.rows,
                    published: true,
                },
                (ShardItem::Make(_, scene), m) => PlannedScene {
                    scene_id: m.as_ref().map_or("", |(rows, _, _)| rows.scene_id.as_str()),
                    inputs: scene,
                    rows: m
                        .as_ref()
                        .map_or(0, |(rows, _, _)| rows.batch.num_rows() as u64),
                    published: false,
                },
            })
            .collect();
        copied = copied_groups(&records, &planned, group_rows);
        // The published scenes of the groups that are not copied are decoded.
        let mut wanted = std::collections::HashSet::new();
        for (range, _) in copied.iter().filter(|(_, copy)| copy.is_none()) {
            for p in planned[range.clone()].iter().filter(|p| p.published) {
                wanted.insert((p.scene_id, p.inputs));
            }
        }
        published = prev.and_then(|prev| {
            PublishedRows::decode(&job.out_dir, prev, &records, |s| {
                wanted.contains(&(s.scene_id.as_str(), s.inputs.as_str()))
            })
        });
        drop(wanted);
        drop(planned);
        report.times.read_s += start.elapsed().as_secs_f64();
        if published.is_some() || attempt == 1 {
            break;
        }
        make_published_scenes(job, &mut items, report)?;
    }
    // A group is copied only from the published file, where it has the rows it should.
    for (range, copy) in &mut copied {
        let rows: u64 = (items[range.clone()].iter())
            .map(|item| match item {
                ShardItem::Published(_, record) => record.rows,
                ShardItem::Make(..) => 0,
            })
            .sum();
        if copy.is_some_and(|g| {
            published
                .as_ref()
                .is_none_or(|p| p.source().row_group_rows(g) != rows)
        }) {
            *copy = None;
        }
    }
    report.published_scenes += (items.iter())
        .filter(|i| matches!(i, ShardItem::Published(..)))
        .count() as u64;
    let start = Instant::now();
    let mut writer = ShardWriter::create(id, job.shards, inputs, &job.staging_dir, write)?;
    let mut scenes = ScenesWritten::with_capacity(items.len());
    // Each scene's rows to write (none for scenes wholly in copied groups).
    let mut rows_of: Vec<Option<SceneRows>> = Vec::with_capacity(items.len());
    for (item, m) in items.iter().zip(made) {
        let (record, rows) = match (item, m) {
            (ShardItem::Published(_, record), _) => (
                (**record).clone(),
                (published.as_mut()).and_then(|p| p.take(&record.scene_id, &record.inputs)),
            ),
            (ShardItem::Make(_, scene), Some((rows, st, problems))) => {
                let record = SceneOfShard::of(&rows, scene, &st, &problems);
                report.frame_problems.extend(problems);
                (record, Some(rows))
            }
            (ShardItem::Make(..), None) => anyhow::bail!("a scene of shard {id:?} was not made"),
        };
        scenes.add(job, record);
        rows_of.push(rows);
    }
    for (range, copy) in copied {
        if let Some(g) = copy {
            let Some(source) = published.as_ref().map(PublishedRows::source) else {
                anyhow::bail!("row group {g} of shard {id:?} copied without its file");
            };
            let group_scenes: Vec<(&str, &[String])> = (scenes.records[range].iter())
                .filter(|r| r.rows > 0)
                .map(|r| (r.scene_id.as_str(), r.frames.as_slice()))
                .collect();
            writer.copy_group(source, g, &group_scenes)?;
            report.copied_row_groups += 1;
            continue;
        }
        for i in range {
            match rows_of[i].take() {
                Some(rows) => writer.push_rows(rows)?,
                None if scenes.records[i].rows == 0 => {}
                None => anyhow::bail!(
                    "the rows of scene {} of shard {id:?} were not taken",
                    scenes.records[i].scene_id
                ),
            }
        }
    }
    publish_shard(job, writer, scenes, report)?;
    report.times.shards_s += start.elapsed().as_secs_f64();
    Ok(())
}

/// The scenes of a shard being made, in the order written: their records and their
/// second-pass counts summed.
struct ScenesWritten {
    records: Vec<SceneOfShard>,
    second_pass: CorpusStats,
}

impl ScenesWritten {
    fn with_capacity(scenes: usize) -> Self {
        ScenesWritten {
            records: Vec::with_capacity(scenes),
            second_pass: CorpusStats::default(),
        }
    }

    /// The next scene written: its record kept, its counts added, the progress bars moved.
    fn add(&mut self, job: &Job, record: SceneOfShard) {
        self.second_pass.merge(&record.second_pass);
        Counters::bump(&job.progress.scenes_emitted, 1);
        Counters::bump(&job.progress.samples, record.rows);
        self.records.push(record);
    }
}

/// Closes a made shard, records its scenes (a shard whose scenes are not recorded is only
/// made whole next time) and reports it.
fn publish_shard(
    job: &Job,
    writer: ShardWriter,
    scenes: ScenesWritten,
    report: &mut WorkerReport,
) -> anyhow::Result<()> {
    let mut info = writer.finish()?;
    info.second_pass = scenes.second_pass;
    let _ = shard_scenes::store(&job.shard_scenes_dir, &info.inputs, &scenes.records);
    report.stats.merge(&info.second_pass);
    report.shards.push(info);
    Ok(())
}

/// Sends every worker's report to worker 0 (across processes in cluster mode), which
/// returns them all in `gathered`.
fn gather(worker: &mut Worker, report: WorkerReport) -> anyhow::Result<WorkerReport> {
    let bytes = bincode::serialize(&report).context("encoding a worker report")?;
    let received: Rc<RefCell<Vec<Vec<u8>>>> = Rc::new(RefCell::new(Vec::new()));
    let sink = received.clone();
    let probe = ProbeHandle::new();
    let mut input = worker.dataflow::<u32, _, _>(|scope| {
        let (input, reports) = scope.new_collection::<Vec<u8>, isize>();
        let gathered = reports.inner.exchange(|_: &(Vec<u8>, u32, isize)| 0);
        gathered
            .probe_with(&probe)
            .sink(Pipeline, "Gather", move |(input, _frontier)| {
                input.for_each(|_time, data| {
                    sink.borrow_mut().extend(data.drain(..).map(|(b, _, _)| b));
                });
            });
        input
    });
    input.insert(bytes);
    input.close();
    // The build's graph may stay alive (a live build), so wait for this dataflow alone.
    while !probe.done() {
        worker.step_or_park(None);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A scene's cutoffs keep exactly the candidates the thresholds keep.
        #[test]
        fn cutoffs_keep_what_the_thresholds_keep(
            slots in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![any::<u64>(), 0u64..16], 0..40),
                1..5,
            ),
            thresholds in proptest::collection::vec(
                proptest::option::of(prop_oneof![any::<u64>(), 0u64..16]),
                5,
            ),
            bench in any::<bool>(),
        ) {
            let mut rec = SceneTaskRanks {
                scene: 7,
                split: if bench { Split::Bench } else { Split::Train },
                source: SourceKind::MmpTrack,
                options: 4,
                ranks_by_slot: slots,
            };
            for ranks in &mut rec.ranks_by_slot {
                ranks.sort_unstable();
            }
            let task = Task::Q3;
            let threshold = |key: &SlotKey| {
                assert_eq!((key.task, key.split), (task, rec.split));
                thresholds[usize::from(key.slot)]
            };
            let kept = rec.kept(task, threshold);
            prop_assert!(kept.is_sorted());
            for (slot, ranks) in rec.ranks_by_slot.iter().enumerate() {
                let key = rec.key(task, slot);
                for &r in ranks {
                    let by_threshold = threshold(&key).is_some_and(|t| r <= t);
                    prop_assert_eq!(kept_in(&kept, &key, r), by_threshold);
                }
                // Another task's candidates are not kept by this task's cutoffs.
                let other = rec.key(Task::Q4, slot);
                prop_assert!(ranks.iter().all(|&r| !kept_in(&kept, &other, r)));
            }
        }
    }
}
