//! `crossview build`: native trees through the dataflow graph into sharded Parquet, a frame
//! store, `errors.parquet`, `report.json`/`report.png`, and `manifest.json` last.

mod cache;
mod config;
mod eligible;
mod epoch;
mod frames;
mod graph;
mod manifest;
mod pack;
mod progress;
mod rank_bytes;
mod shard_board;
mod shard_scenes;
mod shards;
mod signature;
mod stubs;
mod tree_cache;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crossview_schemas::{InputError, RecordWriter, SourceKind, Split, WriteOptions};
use crossview_stages::corpus::{CorpusStats, report_json, report_table};
use crossview_stages::masks::{MaskCache, MaskStats};

pub use config::{BuildConfig, DEFAULT_SHARDS_PER_SPLIT, OutputConfig, SourceEntry};
use epoch::{Epoch, EpochFeed};
pub use frames::SceneFrames;
pub use graph::{SceneEntry, StageTimes, scene_hash};
pub use manifest::{MANIFEST, Manifest};
pub use shards::{SHARD_BATCH_ROWS, ShardId, ShardInfo, ShardWriter};
pub use signature::{build_signature, input_signature, tree_signature, tree_signatures};
pub use watch::watch;

/// How a build runs.
#[derive(Clone, Debug)]
pub struct BuildArgs {
    /// Settings (the embedded default when built without a file).
    pub config: BuildConfig,
    /// Folder relative paths of the config are taken from.
    pub base: PathBuf,
    /// Output folder.
    pub out: PathBuf,
    /// Worker threads.
    pub workers: usize,
    /// Fail (exit 1) on any input error, publishing nothing.
    pub strict: bool,
    /// No progress output.
    pub quiet: bool,
    /// Several processes in timely's cluster mode.
    pub cluster: Option<Cluster>,
}

/// This process's place in a cluster of build processes (timely's cluster mode). Every
/// process must see the same inputs and output folder at the same paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// This process, `0..addresses.len()`.
    pub process: usize,
    /// `host:port` of every process.
    pub addresses: Vec<String>,
}

impl Cluster {
    /// The first `processes` lines of a hostfile (`host:port` per line; blank lines and
    /// `#` comments skipped).
    pub fn from_hostfile(path: &Path, processes: usize, process: usize) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let addresses: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .take(processes)
            .map(String::from)
            .collect();
        if addresses.len() < processes {
            anyhow::bail!(
                "{}: {} addresses for {processes} processes",
                path.display(),
                addresses.len()
            );
        }
        if process >= processes {
            anyhow::bail!("--process {process} is not below --processes {processes}");
        }
        Ok(Cluster { process, addresses })
    }
}

/// A failure caused by the input under `--strict` (exit 1, nothing published).
#[derive(Debug)]
pub struct StrictInputErrors(pub Vec<InputError>);

impl std::fmt::Display for StrictInputErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} input errors (--strict):", self.0.len())?;
        for e in self.0.iter().take(10) {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StrictInputErrors {}

/// What a build published.
#[derive(Clone, Debug, Default)]
pub struct BuildSummary {
    /// The manifest written.
    pub manifest: Manifest,
    /// Corpus counts.
    pub stats: CorpusStats,
    /// Input errors and warnings.
    pub errors: Vec<InputError>,
    /// Seconds: the graph (reading, both passes, shards staged).
    pub graph_s: f64,
    /// Seconds: publishing (shards moved into place, report, manifest).
    pub publish_s: f64,
    /// Worker seconds per stage.
    pub times: graph::StageTimes,
    /// Nothing changed since the published build: no stage ran, nothing was written.
    pub up_to_date: bool,
    /// This process published the output (false on the other processes of a cluster).
    pub published: bool,
    /// Scenes ranked by this build (the others' first pass came from the cache).
    pub ranked_scenes: u64,
    /// Scenes taken from the read cache without reading them.
    pub unread_scenes: u64,
    /// Of those, scenes read after all because a shard holding them was rewritten.
    pub reloaded_scenes: u64,
    /// Scenes of rewritten shards whose rows were taken from the published file.
    pub published_scenes: u64,
    /// Row groups of rewritten shards copied from the published file as they are.
    pub copied_row_groups: u64,
    /// What mask completion did.
    pub masks: MaskStats,
    /// The graph's epoch this build was (0 but in a live build's later builds).
    pub epoch: u32,
}

/// The native trees a build reads.
pub fn resolve_trees(args: &BuildArgs) -> anyhow::Result<Vec<(PathBuf, SourceKind)>> {
    let cfg = &args.config;
    if cfg.sources.is_empty() {
        let world = args.base.join(&cfg.world);
        crate::qa_cmd::embedded_world(&world, Some(args.workers))?;
        return crate::qa_cmd::source_trees(&[world]);
    }
    let mut trees = Vec::new();
    for s in &cfg.sources {
        let path = s.path(&args.base);
        match s.kind() {
            Some(k) => trees.push((path, k)),
            None => trees.extend(crate::qa_cmd::source_trees(&[path])?),
        }
    }
    Ok(trees)
}

/// The settings, the segmenter model's content and the program: a rebuild by another
/// crossview or with another model is not "up to date", and keeps neither its cache entries
/// nor its shards.
fn settings(cfg: &BuildConfig) -> anyhow::Result<String> {
    let model = cfg
        .masks
        .model_fingerprint()
        .context("the segmenter model")?;
    Ok(format!(
        "{}/{model}/{}",
        cfg.output_hash(),
        cache::program_id()
    ))
}

/// Runs a build and publishes its output (in cluster mode, the process hosting worker 0
/// publishes; the others return with `published` false once their part is done).
pub fn build(args: &BuildArgs) -> anyhow::Result<BuildSummary> {
    let cfg = &args.config;
    cfg.validate()?;
    let trees = resolve_trees(args)?;
    let settings = settings(cfg)?;
    let tree_signatures = tree_signatures(&trees);
    let signature = build_signature(&tree_signatures, &settings);
    if let Some(done) = published_up_to_date(&args.out, &signature, args.strict)? {
        return Ok(done);
    }
    let prepared = Prepared::new(args, settings)?;
    let cluster = args.cluster.as_ref();
    let display = (!args.quiet).then(|| {
        let owned_shards = 2 * u64::from(cfg.output.shards_per_split)
            / cluster.map_or(1, |c| c.addresses.len() as u64);
        progress::ProgressDisplay::start(prepared.job.progress.clone(), owned_shards)
    });
    let feed = Arc::new(EpochFeed::once(Epoch {
        number: 0,
        trees,
        tree_signatures,
        previous: Arc::new(prepared.published_shards(args)),
        last: true,
    }));
    let start = Instant::now();
    let job = prepared.job.clone();
    let worker_feed = feed.clone();
    let guards = timely::execute(timely_config(args), move |w| {
        run_and_report(w, &job, &worker_feed)
    })
    .map_err(|e| anyhow::anyhow!("starting the dataflow: {e}"))?;
    let mut gathered = None;
    for r in join_workers(guards, &feed, args)? {
        if let Some(all) = r.gathered {
            gathered = Some(all);
        }
    }
    drop(display);
    let Some(reports) = gathered else {
        // Not the publishing process: its workers' shards are staged and reported.
        return Ok(BuildSummary::default());
    };
    prepared.publish(args, reports, start.elapsed().as_secs_f64(), signature)
}

/// Runs a worker's epochs and tells the feed how it ended. A failure (an error, or a panic,
/// which goes on unwinding) stops whoever waits for the workers or for an epoch's reports:
/// the other workers may wait for the failed one for ever. In a cluster, a process that
/// goes away poisons the others' queues, and their next step panics.
fn run_and_report(
    w: &mut timely::worker::Worker,
    job: &graph::Job,
    feed: &EpochFeed,
) -> anyhow::Result<graph::WorkerReport> {
    let index = w.index();
    let run = std::panic::AssertUnwindSafe(|| graph::run_worker(w, job, feed));
    match std::panic::catch_unwind(run) {
        Ok(Ok(report)) => {
            feed.finish();
            Ok(report)
        }
        Ok(Err(e)) => {
            feed.fail(format!("worker {index}: {e:#}"));
            Err(e)
        }
        Err(panic) => {
            feed.fail(format!("worker {index} panicked: {}", panic_text(&*panic)));
            std::panic::resume_unwind(panic)
        }
    }
}

/// A panic's message.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    (panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Waits for this process's workers: their reports once all finished, or the first failure
/// (the others are then left running: they may wait for the failed one for ever).
fn join_workers(
    guards: timely::communication::WorkerGuards<anyhow::Result<graph::WorkerReport>>,
    feed: &EpochFeed,
    args: &BuildArgs,
) -> anyhow::Result<Vec<graph::WorkerReport>> {
    if let Err(why) = feed.wait_workers(args.workers.max(1)) {
        std::mem::forget(guards);
        return Err(worker_failure(why, args));
    }
    // Timely's network threads panic when another process goes away (even after the workers
    // finished), and joining them then panics here.
    let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guards.join()))
        .map_err(|panic| worker_failure(panic_text(&*panic), args))?;
    (joined.into_iter())
        .map(|r| r.map_err(|e| anyhow::anyhow!("a worker panicked: {e}"))?)
        .collect()
}

/// A worker failure as the user reads it: in a cluster, timely's poisoned queues and failed
/// network threads mean that another process went away.
fn worker_failure(why: String, args: &BuildArgs) -> anyhow::Error {
    let lost = [
        "MergeQueue poisoned",
        "Send thread panic",
        "Recv thread panic",
    ];
    if args.cluster.is_some() && lost.iter().any(|l| why.contains(l)) {
        anyhow::anyhow!(lost_connection(&why))
    } else {
        anyhow::anyhow!(why)
    }
}

/// What a cluster process says when it lost another.
fn lost_connection(why: &str) -> String {
    format!(
        "the connection to another process of the cluster was lost ({why}); restart every \
         process: they rebuild from the caches"
    )
}

/// For a cluster process (the CLI's): exits with status 1 and the lost connection's error
/// as soon as timely's network threads find another process gone. Its workers' queues are
/// poisoned then, and unwinding them in the middle of an epoch panics again in their
/// destructors, which aborts the process; a build is crash-safe, so nothing is lost by
/// stopping at once.
pub fn exit_when_a_process_is_lost() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        let why = panic_text(info.payload());
        // Timely words its network threads' panics so that they can be told apart.
        if why.starts_with("timely communication error") {
            eprintln!("error: {}", lost_connection(&why));
            std::process::exit(1);
        }
    }));
}

/// Timely's configuration for `args`: one thread, threads of one process, or cluster mode.
fn timely_config(args: &BuildArgs) -> timely::Config {
    let threads = args.workers.max(1);
    let communication = match args.cluster.as_ref() {
        Some(c) => timely::CommunicationConfig::Cluster {
            threads,
            process: c.process,
            addresses: c.addresses.clone(),
            report: false,
            zerocopy: false,
        },
        None if threads == 1 => timely::CommunicationConfig::Thread,
        None => timely::CommunicationConfig::Process(threads),
    };
    timely::Config {
        communication,
        worker: timely::WorkerConfig::default(),
    }
}

/// A build graph that stays alive between builds (`--watch`): each [`LiveBuild::build`] is
/// an epoch that feeds the graph only what changed in the inputs since the last, as
/// insertions and retractions of scenes, and publishes the output once the epoch is
/// complete. In cluster mode process 0 starts the epochs and publishes; the other processes
/// [`follow`](LiveBuild::follow).
pub struct LiveBuild {
    args: BuildArgs,
    prepared: Prepared,
    feed: Arc<EpochFeed>,
    reports: std::sync::mpsc::Receiver<epoch::EpochReports>,
    guards: Option<timely::communication::WorkerGuards<anyhow::Result<graph::WorkerReport>>>,
    next_epoch: u32,
    /// Why the graph stopped, once a worker failed: the others cannot go on without it.
    broken: Option<String>,
}

impl LiveBuild {
    /// Prepares the output folder and starts the graph's workers, waiting for the first epoch.
    pub fn start(args: &BuildArgs) -> anyhow::Result<Self> {
        args.config.validate()?;
        let prepared = Prepared::new(args, settings(&args.config)?)?;
        let (feed, reports) = EpochFeed::live();
        let feed = Arc::new(feed);
        let job = prepared.job.clone();
        let worker_feed = feed.clone();
        let guards = timely::execute(timely_config(args), move |w| {
            run_and_report(w, &job, &worker_feed)
        })
        .map_err(|e| anyhow::anyhow!("starting the dataflow: {e}"))?;
        Ok(LiveBuild {
            args: args.clone(),
            prepared,
            feed,
            reports,
            guards: Some(guards),
            next_epoch: 0,
            broken: None,
        })
    }

    /// Builds the inputs as they are now: one epoch of the graph, published when complete.
    /// A failed epoch publishes nothing; the graph holds its inputs all the same, so the next
    /// epoch feeds only what changes after it.
    pub fn build(&mut self) -> anyhow::Result<BuildSummary> {
        if self.check_workers() {
            return Err(self.stopped());
        }
        let trees = resolve_trees(&self.args)?;
        let tree_signatures = tree_signatures(&trees);
        let signature = build_signature(&tree_signatures, &self.prepared.settings);
        self.prepared.stage()?;
        // Bars for the first epoch, which feeds the whole corpus (and may take as long as a
        // cold build); a later one feeds only changes, and its summary follows at once.
        let display = (!self.args.quiet && self.next_epoch == 0).then(|| {
            let shards = 2 * u64::from(self.args.config.output.shards_per_split);
            progress::ProgressDisplay::start(self.prepared.job.progress.clone(), shards)
        });
        let start = Instant::now();
        self.feed.start(Epoch {
            number: self.next_epoch,
            trees,
            tree_signatures,
            previous: Arc::new(self.prepared.published_shards(&self.args)),
            last: false,
        });
        self.next_epoch += 1;
        let reports = match self.reports.recv() {
            Ok(Ok(reports)) => reports,
            Ok(Err(failure)) => {
                self.broken = Some(failure);
                return Err(self.stopped());
            }
            Err(_) => {
                self.broken = Some("its workers are gone".into());
                return Err(self.stopped());
            }
        };
        drop(display);
        self.prepared.publish(
            &self.args,
            reports,
            start.elapsed().as_secs_f64(),
            signature,
        )
    }
}

impl LiveBuild {
    /// Whether a worker failed, between epochs too (in a cluster, when another process
    /// goes away): the graph cannot run another epoch (start a new one).
    pub fn check_workers(&mut self) -> bool {
        if self.broken.is_none() {
            self.broken = self.feed.failure();
        }
        self.broken.is_some()
    }

    /// Why the graph stopped, as an error.
    fn stopped(&self) -> anyhow::Error {
        let why = self.broken.clone().unwrap_or_default();
        worker_failure(why, &self.args).context("the live build stopped")
    }

    /// On a cluster process other than 0: takes part in the epochs process 0 starts, until
    /// it stops them, or a worker fails (as when process 0 goes away).
    pub fn follow(mut self) -> anyhow::Result<()> {
        match self.guards.take() {
            Some(guards) => join_workers(guards, &self.feed, &self.args).map(|_| ()),
            None => Ok(()),
        }
    }
}

impl Drop for LiveBuild {
    fn drop(&mut self) {
        self.feed.stop();
        if let Some(guards) = self.guards.take() {
            let _ = join_workers(guards, &self.feed, &self.args);
        }
    }
}

/// A build's output folder made ready, its settings, and the graph's job.
struct Prepared {
    settings: String,
    staging: PathBuf,
    job: graph::Job,
}

impl Prepared {
    /// Creates the output folder's parts and the job; clears what a killed build left.
    fn new(args: &BuildArgs, settings: String) -> anyhow::Result<Self> {
        let cfg = &args.config;
        let out = &args.out;
        let staging = out.join(".staging");
        // One process clears what a killed build left; in cluster mode that is process 0, and
        // the others only add to the folders (their files have their own names).
        if args.cluster.as_ref().is_none_or(|c| c.process == 0) && staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("clearing {}", staging.display()))?;
        }
        let frames_dir = cfg.output.frames.then(|| frames::frames_dir(out));
        let threads = args.workers.max(1);
        let progress = Arc::new(progress::Counters {
            workers: threads as u64,
            ..progress::Counters::default()
        });
        let first_pass = Arc::new(pack::PackStore::open(&cache::cache_dir(out)));
        let trees_dir = tree_cache::trees_dir(out);
        let scenes = Arc::new(pack::PackStore::open(&tree_cache::scenes_dir(out)));
        let shard_scenes_dir = shard_scenes::dir(out);
        let job = graph::Job {
            stub_records: stubs::StubRecords {
                options: cfg.source_options(),
                scenes,
                settings: settings.clone(),
            },
            trees_dir,
            corpus: cfg.corpus(),
            options: cfg.source_options(),
            mask_cache_dir: out.join(".cache").join("masks"),
            out_dir: out.clone(),
            first_pass,
            cache_settings: settings.clone(),
            previous: Arc::default(),
            frames_dir,
            shards: cfg.output.shards_per_split,
            staging_dir: staging.clone(),
            shard_scenes_dir,
            write: WriteOptions {
                row_group_rows: cfg.output.row_group_rows,
                zstd_level: cfg.output.zstd_level,
                config_hash: cfg.output_hash(),
                // Set per worker by how many shards it makes (`write_owned_shards`).
                parallel_columns: false,
            },
            progress,
            eligible: Arc::new(eligible::EligibleStore::new(threads)),
            shard_board: Arc::new(shard_board::ShardBoard::new(threads)),
        };
        let prepared = Prepared {
            settings,
            staging,
            job,
        };
        prepared.stage()?;
        Ok(prepared)
    }

    /// Creates the output folder's parts: the folder the workers stage their shards in
    /// (publishing removes it), the published folders and the caches. Before each epoch: a
    /// live build whose output folder was removed publishes it whole again.
    fn stage(&self) -> anyhow::Result<()> {
        let job = &self.job;
        let (data, staged_data) = (job.out_dir.join("data"), self.staging.join("data"));
        let dirs = [
            Some(data.as_path()),
            Some(staged_data.as_path()),
            job.frames_dir.as_deref(),
            Some(job.first_pass.dir()),
            Some(job.trees_dir.as_path()),
            Some(job.stub_records.scenes.dir()),
            Some(job.shard_scenes_dir.as_path()),
        ];
        for dir in dirs.into_iter().flatten() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }

    /// The published build's shards by path, kept where a shard's scenes and ranks have not
    /// changed (none when its config differs).
    fn published_shards(&self, args: &BuildArgs) -> BTreeMap<String, ShardInfo> {
        Manifest::read(&args.out)
            .ok()
            .filter(|m| m.config_hash == args.config.output_hash())
            .map(|m| m.shards.into_iter().map(|s| (s.path.clone(), s)).collect())
            .unwrap_or_default()
    }

    /// Publishes an epoch from its workers' gathered `reports`: staged shards moved into
    /// place, errors, report and chart, the manifest last; then the caches pruned to what the
    /// output uses.
    #[allow(clippy::too_many_lines)]
    fn publish(
        &self,
        args: &BuildArgs,
        reports: Vec<graph::WorkerReport>,
        graph_s: f64,
        signature: String,
    ) -> anyhow::Result<BuildSummary> {
        let cfg = &args.config;
        let out = &args.out;
        let staging = &self.staging;
        let cluster = args.cluster.as_ref();
        let workers = reports.len();
        let epoch = reports.first().map_or(0, |r| r.epoch);
        let mut stats = CorpusStats::default();
        let mut errors = Vec::new();
        let mut scenes = Vec::new();
        let mut frame_problems = Vec::new();
        let mut times = graph::StageTimes::default();
        let mut shards = Vec::new();
        let mut shown = BTreeSet::new();
        let mut failures = Vec::new();
        let mut cache_used = BTreeSet::new();
        let mut mask_cache_used = BTreeSet::new();
        let mut masks = MaskStats::default();
        let mut ranked_scenes = 0u64;
        let (mut unread_scenes, mut reloaded_scenes, mut published_scenes) = (0u64, 0u64, 0u64);
        let mut copied_row_groups = 0u64;
        let mut tree_keys = BTreeSet::new();
        for r in reports {
            if let Some(f) = r.failure {
                failures.push(format!("worker {}: {f}", r.worker));
            }
            stats.merge(&r.stats);
            errors.extend(r.errors);
            scenes.extend(r.scenes);
            frame_problems.extend(r.frame_problems);
            times.add(&r.times);
            cache_used.extend(r.cache_keys);
            mask_cache_used.extend(r.mask_cache_keys);
            masks.merge(&r.masks);
            ranked_scenes += r.ranked_scenes;
            unread_scenes += r.unread_scenes;
            reloaded_scenes += r.reloaded_scenes;
            published_scenes += r.published_scenes;
            copied_row_groups += r.copied_row_groups;
            tree_keys.extend(r.tree_keys);
            for shard in &r.shards {
                shown.extend(shard.frames.iter().cloned());
            }
            shards.extend(r.shards);
        }
        if !failures.is_empty() {
            let _ = std::fs::remove_dir_all(staging);
            anyhow::bail!("the build failed:\n  {}", failures.join("\n  "));
        }
        errors.sort();
        errors.dedup();
        // Whichever worker made a shard, the examples shown are the same.
        frame_problems.sort();
        scenes.sort();
        // Train then bench, each in bucket order, whichever worker wrote them.
        shards.sort_by(|a, b| {
            (a.split != Split::Train, &a.path).cmp(&(b.split != Split::Train, &b.path))
        });
        let real_errors: Vec<InputError> = errors
            .iter()
            .filter(|e| e.class.is_error())
            .cloned()
            .collect();
        if args.strict && !real_errors.is_empty() {
            let _ = std::fs::remove_dir_all(staging);
            return Err(StrictInputErrors(real_errors).into());
        }
        for p in frame_problems.iter().take(5) {
            eprintln!("warning: frame not stored: {p}");
        }

        // Publish. The manifest stops describing the folder once a shard is replaced: take it
        // down first, so a manifest always means a complete output.
        let start = Instant::now();
        match std::fs::remove_file(out.join(MANIFEST)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e)
                    .with_context(|| format!("removing {}", out.join(MANIFEST).display()));
            }
            _ => {}
        }
        // Shards this build made are staged; the others kept their published files.
        for s in shards.iter().filter(|s| staging.join(&s.path).exists()) {
            publish_shard(out, staging, s)?;
        }
        let mut w = RecordWriter::<InputError>::create(
            out.join("errors.parquet"),
            &WriteOptions::default(),
        )?;
        w.write(&errors)?;
        w.finish()?;
        let frames = shown.len() as u64;
        let mut report = report_json(&stats);
        report["build"] = serde_json::json!({
            "workers": workers,
            "epoch": epoch,
            "processes": cluster.map_or(1, |c| c.addresses.len()),
            "scenes": scenes.len(),
            "graph_s": graph_s,
            "worker_seconds": times,
            "scenes_ranked": ranked_scenes,
            "scenes_from_cache": scenes.len() as u64 - ranked_scenes.min(scenes.len() as u64),
            "scenes_unread": unread_scenes,
            "scenes_read_for_shards": reloaded_scenes,
            "scenes_rows_from_published": published_scenes,
            "row_groups_copied": copied_row_groups,
            "rows": shards.iter().map(|s| s.rows).sum::<u64>(),
            "frames": frames,
            "input_errors": real_errors.len(),
            "input_warnings": errors.len() - real_errors.len(),
            "errors_by_class": errors_by_class(&errors),
            "frames_not_stored": frame_problems.len(),
            "masks": &masks,
            "peak_rss_mib": peak_rss_mib(),
        });
        crossview_schemas::write_atomic(
            out.join("report.json"),
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        if let Err(e) = crate::report_chart::write_report_png(&stats, &out.join("report.png")) {
            eprintln!("warning: report.png not written: {e:#}");
        }
        let manifest = Manifest {
            schema_version: crossview_schemas::SCHEMA_VERSION,
            created_by: concat!("crossview ", env!("CARGO_PKG_VERSION")).to_string(),
            config_hash: cfg.output_hash(),
            input_signature: signature,
            generator: cfg.corpus().generator(),
            shards_per_split: cfg.output.shards_per_split,
            shards,
            scenes,
            frames,
        };
        manifest.write(out)?;
        remove_stale_shards(out, &manifest)?;
        remove_unshown_frames(out, &shown)?;
        remove_leftover_temporaries(out)?;
        self.job.first_pass.prune(&cache_used);
        cache::prune(&self.job.trees_dir, &tree_keys);
        self.job.stub_records.scenes.prune(&cache_used);
        let shard_inputs = manifest.shards.iter().map(|s| s.inputs.clone()).collect();
        cache::prune(&self.job.shard_scenes_dir, &shard_inputs);
        if self.job.mask_cache_dir.is_dir() {
            MaskCache::open(&self.job.mask_cache_dir)?.prune(&mask_cache_used);
        }
        let _ = std::fs::remove_dir_all(staging);
        let publish_s = start.elapsed().as_secs_f64();
        Ok(BuildSummary {
            manifest,
            stats,
            errors,
            graph_s,
            publish_s,
            times,
            up_to_date: false,
            published: true,
            ranked_scenes,
            unread_scenes,
            reloaded_scenes,
            published_scenes,
            copied_row_groups,
            masks,
            epoch,
        })
    }
}

/// Moves a staged shard into `data/`, unless the published file already has its bytes (an
/// unchanged shard keeps its file and modification time).
fn publish_shard(out: &Path, staging: &Path, shard: &ShardInfo) -> anyhow::Result<()> {
    let staged = staging.join(&shard.path);
    let target = out.join(&shard.path);
    let same = std::fs::metadata(&target).is_ok_and(|m| m.len() == shard.bytes)
        && std::fs::read(&target).is_ok_and(|b| crossview_schemas::sha256_hex(&b) == shard.sha256);
    if same {
        std::fs::remove_file(&staged).with_context(|| format!("removing {}", staged.display()))?;
    } else {
        std::fs::rename(&staged, &target)
            .with_context(|| format!("publishing {}", target.display()))?;
    }
    Ok(())
}

/// The published build, when its inputs and config are those of this run and its files are
/// all in place (by size; `verify` checks the bytes): then there is nothing to do.
fn published_up_to_date(
    out: &Path,
    signature: &str,
    strict: bool,
) -> anyhow::Result<Option<BuildSummary>> {
    let Ok(manifest) = Manifest::read(out) else {
        return Ok(None);
    };
    if manifest.input_signature != signature {
        return Ok(None);
    }
    let size = |rel: &str| std::fs::metadata(out.join(rel)).map(|m| m.len()).ok();
    if manifest
        .shards
        .iter()
        .any(|s| size(&s.path) != Some(s.bytes))
    {
        return Ok(None);
    }
    let stored_frames = std::fs::read_dir(out.join("frames"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count() as u64
        })
        .unwrap_or(0);
    if stored_frames != manifest.frames {
        return Ok(None);
    }
    let Ok(errors) =
        crossview_schemas::RecordReader::<InputError>::read_all(out.join("errors.parquet"))
    else {
        return Ok(None);
    };
    let real_errors: Vec<InputError> = errors
        .iter()
        .filter(|e| e.class.is_error())
        .cloned()
        .collect();
    if strict && !real_errors.is_empty() {
        return Err(StrictInputErrors(real_errors).into());
    }
    Ok(Some(BuildSummary {
        manifest,
        stats: CorpusStats::default(),
        errors,
        graph_s: 0.0,
        publish_s: 0.0,
        times: graph::StageTimes::default(),
        up_to_date: true,
        published: true,
        masks: MaskStats::default(),
        ..BuildSummary::default()
    }))
}

/// The process's peak resident set so far in MiB (Linux `VmHWM`; `None` elsewhere).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn errors_by_class(errors: &[InputError]) -> serde_json::Value {
    let mut m = std::collections::BTreeMap::<&str, u64>::new();
    for e in errors {
        *m.entry(e.class.name()).or_default() += 1;
    }
    serde_json::json!(m)
}

/// Deletes the temporaries of atomic writes that a killed build left (`.NAME.tmp-PID`).
fn remove_leftover_temporaries(out: &Path) -> anyhow::Result<()> {
    for dir in [out.to_path_buf(), out.join("data")] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                std::fs::remove_file(e.path())
                    .with_context(|| format!("removing {}", e.path().display()))?;
            }
        }
    }
    Ok(())
}

/// Deletes frames no published sample shows (left by earlier builds of other inputs).
fn remove_unshown_frames(out: &Path, shown: &BTreeSet<String>) -> anyhow::Result<()> {
    let Ok(rd) = std::fs::read_dir(out.join("frames")) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !shown.contains(&name) {
            std::fs::remove_file(e.path()).with_context(|| format!("removing frames/{name}"))?;
        }
    }
    Ok(())
}

/// Deletes shard files a previous build left that this manifest does not list.
fn remove_stale_shards(out: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let listed: std::collections::BTreeSet<&str> =
        manifest.shards.iter().map(|s| s.path.as_str()).collect();
    for e in std::fs::read_dir(out.join("data"))?.flatten() {
        let rel = format!("data/{}", e.file_name().to_string_lossy());
        if rel.ends_with(".parquet") && !listed.contains(rel.as_str()) {
            std::fs::remove_file(e.path()).with_context(|| format!("removing {rel}"))?;
        }
    }
    Ok(())
}

/// Runs the command: builds, then prints the report table and where things are.
pub fn run(args: &BuildArgs) -> anyhow::Result<()> {
    let s = build(args)?;
    print_summary(args, &s);
    Ok(())
}

/// Prints what a build did (nothing with `--quiet`).
fn print_summary(args: &BuildArgs, s: &BuildSummary) {
    if !s.published {
        if !args.quiet {
            println!("process done; the process hosting worker 0 publishes the output");
        }
        return;
    }
    if s.up_to_date {
        if !args.quiet {
            println!(
                "{}: up to date (inputs and config unchanged since the published build)",
                args.out.display()
            );
        }
        return;
    }
    if !args.quiet {
        print!("{}", report_table(&s.stats));
        let rows: u64 = s.manifest.shards.iter().map(|x| x.rows).sum();
        println!(
            "\n{rows} rows in {} shards, {} frames, {} input errors -> {} ({}graph {:.1} s, publish {:.1} s)",
            s.manifest.shards.len(),
            s.manifest.frames,
            s.errors.iter().filter(|e| e.class.is_error()).count(),
            args.out.display(),
            if s.epoch > 0 {
                format!("live epoch {}, ", s.epoch)
            } else {
                String::new()
            },
            s.graph_s,
            s.publish_s
        );
        let t = &s.times;
        println!(
            "worker seconds: read {:.1}, masks {:.1}, candidates {:.1}, select {:.1}, samples {:.1}, shards {:.1}",
            t.read_s, t.masks_s, t.candidates_s, t.select_s, t.emit_s, t.shards_s
        );
        let scenes = s.manifest.scenes.len() as u64;
        println!(
            "scenes: {} read, {} from the caches unread ({} of them read for rewritten shards), {} ranked; {} scenes' rows taken from published shards ({} row groups copied)",
            scenes - s.unread_scenes,
            s.unread_scenes,
            s.reloaded_scenes,
            s.ranked_scenes,
            s.published_scenes,
            s.copied_row_groups
        );
        let m = s.masks.total();
        println!(
            "masks: {} annotated, {} segmented ({} prompts from the cache, {} segmenter calls), {} below min_score, {} dropped, {} keypoint hulls, {} boxes",
            m.annotated,
            m.segmented,
            m.cached,
            s.masks.model_calls,
            m.low_score,
            m.dropped,
            m.keypoint_hull,
            m.boxes
        );
        print!("{}", errors_summary(&s.errors));
    }
}

/// Input errors by class, each with its count and first files (all of them are in
/// `errors.parquet`).
fn errors_summary(errors: &[InputError]) -> String {
    let mut by_class: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for e in errors {
        by_class.entry(e.class.name()).or_default().push(&e.file);
    }
    let mut text = String::new();
    for (class, mut files) in by_class {
        let n = files.len();
        files.dedup();
        let shown: Vec<&str> = files.iter().take(3).copied().collect();
        let more = if files.len() > 3 { ", ..." } else { "" };
        text.push_str(&format!("{class}: {n} ({}{more})\n", shown.join(", ")));
    }
    text
}
