//! `crossview build`: native trees through the dataflow graph into sharded Parquet, a frame
//! store, `errors.parquet`, `report.json`/`report.png`, and `manifest.json` last.

mod config;
mod frames;
mod graph;
mod manifest;
mod shards;
mod signature;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;

use crossview_schemas::{InputError, RecordWriter, SourceKind, Split, WriteOptions};
use crossview_stages::corpus::{CorpusStats, report_json, report_table};

pub use config::{BuildConfig, DEFAULT_SHARDS_PER_SPLIT, OutputConfig, SourceEntry};
pub use frames::SceneFrames;
pub use graph::{SceneEntry, StageTimes, scene_hash};
pub use manifest::{MANIFEST, Manifest};
pub use shards::{ShardId, ShardInfo};
pub use signature::input_signature;

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
#[derive(Clone, Debug)]
pub struct BuildSummary {
    /// The manifest written.
    pub manifest: Manifest,
    /// Corpus counts.
    pub stats: CorpusStats,
    /// Input errors and warnings.
    pub errors: Vec<InputError>,
    /// Seconds: the graph (reading, both passes, spilling).
    pub graph_s: f64,
    /// Seconds: writing the shards.
    pub shards_s: f64,
    /// Worker seconds per stage.
    pub times: graph::StageTimes,
    /// Nothing changed since the published build: no stage ran, nothing was written.
    pub up_to_date: bool,
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

/// Runs a build and publishes its output.
pub fn build(args: &BuildArgs) -> anyhow::Result<BuildSummary> {
    let cfg = &args.config;
    cfg.validate()?;
    let trees = resolve_trees(args)?;
    let out = &args.out;
    let signature = input_signature(&trees, &cfg.output_hash());
    if let Some(done) = published_up_to_date(out, &signature, args.strict)? {
        return Ok(done);
    }
    std::fs::create_dir_all(out.join("data"))
        .with_context(|| format!("creating {}", out.join("data").display()))?;
    let spill = graph::spill_dir(out);
    if spill.exists() {
        std::fs::remove_dir_all(&spill).with_context(|| format!("clearing {}", spill.display()))?;
    }
    let frames_dir = if cfg.output.frames {
        Some(frames::frames_dir(out)?)
    } else {
        None
    };
    let job = graph::Job {
        trees,
        corpus: cfg.corpus(),
        options: cfg.source_options(),
        spill_dir: spill.clone(),
        frames_dir: frames_dir.clone(),
        shards: cfg.output.shards_per_split,
    };

    let start = Instant::now();
    let workers = args.workers.max(1);
    let timely_config = if workers == 1 {
        timely::Config::thread()
    } else {
        timely::Config::process(workers)
    };
    let guards = timely::execute(timely_config, move |w| graph::run_worker(w, &job))
        .map_err(|e| anyhow::anyhow!("starting the dataflow: {e}"))?;
    let mut stats = CorpusStats::default();
    let mut errors = Vec::new();
    let mut scenes = Vec::new();
    let mut frame_problems = Vec::new();
    let mut times = graph::StageTimes::default();
    for r in guards.join() {
        let r = r.map_err(|e| anyhow::anyhow!("a worker panicked: {e}"))??;
        stats.merge(&r.stats);
        errors.extend(r.errors);
        scenes.extend(r.scenes);
        frame_problems.extend(r.frame_problems);
        times.add(&r.times);
    }
    errors.sort();
    errors.dedup();
    scenes.sort();
    let graph_s = start.elapsed().as_secs_f64();
    if !args.quiet {
        eprintln!(
            "graph: {} scenes, {} candidates, {} samples in {graph_s:.1} s on {workers} workers",
            scenes.len(),
            stats.drawn.total(),
            stats.kept_train.total() + stats.kept_bench.total() + stats.open_kept.total()
        );
        eprintln!(
            "  worker seconds: read {:.1}, candidates {:.1}, select {:.1}, samples {:.1}",
            times.read_s, times.candidates_s, times.select_s, times.emit_s
        );
    }
    let real_errors: Vec<InputError> = errors
        .iter()
        .filter(|e| e.class.is_error())
        .cloned()
        .collect();
    if args.strict && !real_errors.is_empty() {
        let _ = std::fs::remove_dir_all(&spill);
        return Err(StrictInputErrors(real_errors).into());
    }
    for p in frame_problems.iter().take(5) {
        eprintln!("warning: frame not stored: {p}");
    }

    // The published manifest stops describing the folder once a shard is replaced (a failed
    // --strict build above leaves it alone): take it down first, so a manifest always means a complete output.
    match std::fs::remove_file(out.join(MANIFEST)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing {}", out.join(MANIFEST).display()));
        }
        _ => {}
    }

    // Shards: every (split, bucket), written in parallel, each consolidated from the spills.
    let start = Instant::now();
    let opts = WriteOptions {
        row_group_rows: cfg.output.row_group_rows,
        zstd_level: cfg.output.zstd_level,
        config_hash: cfg.output_hash(),
    };
    let shard_count = cfg.output.shards_per_split;
    let ids: Vec<ShardId> = [Split::Train, Split::Bench]
        .iter()
        .flat_map(|&split| (0..shard_count).map(move |bucket| ShardId { split, bucket }))
        .collect();
    // As many writer threads as workers, so `-w` sets the whole build's parallelism.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .context("starting the shard writers")?;
    let written: Vec<(ShardInfo, BTreeSet<String>)> = pool.install(|| {
        ids.par_iter()
            .map(|&id| shards::write_shard(&spill, workers, id, shard_count, out, &opts))
            .collect::<anyhow::Result<_>>()
    })?;
    let mut shown = BTreeSet::new();
    let mut shards = Vec::with_capacity(written.len());
    for (info, frames) in written {
        shards.push(info);
        shown.extend(frames);
    }
    let shards_s = start.elapsed().as_secs_f64();

    let mut w =
        RecordWriter::<InputError>::create(out.join("errors.parquet"), &WriteOptions::default())?;
    w.write(&errors)?;
    w.finish()?;
    let frames = shown.len() as u64;
    let mut report = report_json(&stats);
    report["build"] = serde_json::json!({
        "workers": workers,
        "scenes": scenes.len(),
        "graph_s": graph_s,
        "worker_seconds": times,
        "shards_s": shards_s,
        "rows": shards.iter().map(|s| s.rows).sum::<u64>(),
        "frames": frames,
        "input_errors": real_errors.len(),
        "input_warnings": errors.len() - real_errors.len(),
        "errors_by_class": errors_by_class(&errors),
        "frames_not_stored": frame_problems.len(),
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
        shards_per_split: shard_count,
        shards,
        scenes,
        frames,
    };
    manifest.write(out)?;
    remove_stale_shards(out, &manifest)?;
    remove_unshown_frames(out, &shown)?;
    remove_leftover_temporaries(out)?;
    let _ = std::fs::remove_dir_all(&spill);
    Ok(BuildSummary {
        manifest,
        stats,
        errors,
        graph_s,
        shards_s,
        times,
        up_to_date: false,
    })
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
        shards_s: 0.0,
        times: graph::StageTimes::default(),
        up_to_date: true,
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
    if s.up_to_date {
        if !args.quiet {
            println!(
                "{}: up to date (inputs and config unchanged since the published build)",
                args.out.display()
            );
        }
        return Ok(());
    }
    if !args.quiet {
        print!("{}", report_table(&s.stats));
        let rows: u64 = s.manifest.shards.iter().map(|x| x.rows).sum();
        println!(
            "\n{rows} rows in {} shards, {} frames, {} input errors -> {} (graph {:.1} s, shards {:.1} s)",
            s.manifest.shards.len(),
            s.manifest.frames,
            s.errors.iter().filter(|e| e.class.is_error()).count(),
            args.out.display(),
            s.graph_s,
            s.shards_s
        );
    }
    Ok(())
}
