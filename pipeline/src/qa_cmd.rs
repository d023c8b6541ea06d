//! `crossview qa`: the QA corpus of native trees built by the plain engine (two passes over
//! the scenes, no incremental graph): quality report, optional samples; the graph's oracle.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;

use std::io::Write as _;

use crossview_schemas::{
    AtomicFile, InputError, QaSample, RecordWriter, SourceKind, Split, WriteOptions,
};
use crossview_stages::corpus::{
    CorpusConfig, CorpusStats, Selection, count_scene, emit_scene, report_json, report_table,
};
use crossview_stages::filter::Tally;
use crossview_stages::masks::MaskStats;
use crossview_stages::qa::{NoFrameImages, to_suite_json};
use crossview_stages::sources::{self, SceneData, SourceOptions};

use crate::mask_workers::ThreadCompleters;

/// Scenes handed to the workers at a time.
const BATCH: usize = 64;

/// The native trees under some paths: each path is a tree, or a folder of trees (such as
/// `synth --profile all` output), each detected.
pub fn source_trees(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, SourceKind)>> {
    let mut out = Vec::new();
    for p in paths {
        if let Some(k) = sources::detect(p) {
            out.push((p.clone(), k));
            continue;
        }
        let mut children: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("{}: cannot list", p.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|c| c.is_dir())
            .collect();
        children.sort();
        let found: Vec<(PathBuf, SourceKind)> = children
            .into_iter()
            .filter_map(|c| sources::detect(&c).map(|k| (c, k)))
            .collect();
        if found.is_empty() {
            anyhow::bail!(
                "{}: neither a MessyTable, MMPTrack, EgoHumans or Ego-Exo4D tree nor a folder of them",
                p.display()
            );
        }
        out.extend(found);
    }
    Ok(out)
}

/// The embedded default world: a synthetic tree of each of the four profiles (default size,
/// with images) under `dir`, written unless all four are already there.
pub fn embedded_world(dir: &Path, threads: Option<usize>) -> anyhow::Result<()> {
    let present = crate::synth_cmd::SynthProfile::ALL.len();
    if source_trees(&[dir.to_path_buf()]).is_ok_and(|t| t.len() == present) {
        return Ok(());
    }
    eprintln!("writing the embedded synthetic world to {}", dir.display());
    crate::synth_cmd::run(&crate::synth_cmd::SynthArgs {
        profiles: crate::synth_cmd::SynthProfile::ALL.to_vec(),
        nested: true,
        scenes: crossview_stages::synth::SynthOptions::default().scenes,
        seed: 0,
        out: dir.to_path_buf(),
        images: true,
        paper: false,
        max_side: crate::DEFAULT_MAX_SIDE,
        frames: None,
        threads,
    })
}

/// What a plain corpus run did.
#[derive(Clone, Debug, Default)]
pub struct CorpusRun {
    /// Counts of every stage (both passes).
    pub stats: CorpusStats,
    /// Input errors met while reading.
    pub errors: Vec<InputError>,
    /// Seconds: first pass (read, geometry, candidates, per-scene filters).
    pub count_s: f64,
    /// Seconds: selection from the tallies.
    pub select_s: f64,
    /// Seconds: second pass (read again, regenerate, select, materialise, write).
    pub emit_s: f64,
    /// Samples handed to the sink.
    pub samples: u64,
    /// What mask completion did (first pass).
    pub masks: MaskStats,
}

/// Reads every scene of the trees in order on a reader thread, handing batches (each of
/// one tree, with its root) to `visit` (which maps them on the worker pool) while the next
/// batch is read.
fn for_each_batch(
    trees: &[(PathBuf, SourceKind)],
    options: &SourceOptions,
    errors: &mut Vec<InputError>,
    visit: &mut dyn FnMut(&Path, Vec<SceneData>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<SceneData>)>(2);
        let reader = scope.spawn(move || -> anyhow::Result<Vec<InputError>> {
            let mut tree_errors = Vec::new();
            for (t, (root, kind)) in trees.iter().enumerate() {
                let reader = sources::open(root, Some(*kind), options)?;
                let mut batch = Vec::with_capacity(BATCH);
                tree_errors.extend(reader.read(&mut |scene| {
                    batch.push(scene);
                    if batch.len() == BATCH {
                        // A closed channel means the consumer stopped on an error it reports.
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send((t, full)).is_err() {
                            return Err(crossview_stages::Error::Options("stopped".into()));
                        }
                    }
                    Ok(())
                })?);
                if !batch.is_empty() && tx.send((t, batch)).is_err() {
                    break;
                }
            }
            Ok(tree_errors)
        });
        let mut failure = None;
        for (t, batch) in rx.iter() {
            for scene in &batch {
                errors.extend(scene.errors.iter().cloned());
            }
            if let Err(e) = visit(&trees[t].0, batch) {
                failure = Some(e);
                break;
            }
        }
        drop(rx);
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
        if let Some(e) = failure {
            return Err(e);
        }
        errors.extend(read?);
        Ok(())
    })
}

/// Builds the corpus of the trees: masks completed, first pass, selection, second pass
/// handing every sample to `sink` in a fixed order (trees, scenes, generation order),
/// whatever the thread count. Segmenter results are cached in `mask_cache` (none: a folder
/// for this run), so the second pass finds the first pass's masks.
pub fn build_corpus(
    trees: &[(PathBuf, SourceKind)],
    cfg: &CorpusConfig,
    options: &SourceOptions,
    mask_cache: Option<&Path>,
    sink: &mut dyn FnMut(QaSample) -> anyhow::Result<()>,
) -> anyhow::Result<CorpusRun> {
    cfg.validate()?;
    let mut run = CorpusRun::default();
    let completers = ThreadCompleters::open(&cfg.masks, mask_cache)?;
    let start = Instant::now();
    let mut tally = Tally::new();
    let mut first_errors = Vec::new();
    for_each_batch(trees, options, &mut first_errors, &mut |root, batch| {
        let parts: Vec<anyhow::Result<(Tally, CorpusStats)>> = batch
            .into_par_iter()
            .map(|s| {
                let s = completers.complete(Arc::new(s), root)?;
                Ok(count_scene(&s, cfg))
            })
            .collect();
        for part in parts {
            let (t, s) = part?;
            tally.merge(t);
            run.stats.merge(&s);
        }
        Ok(())
    })?;
    let (masks, mask_errors) = completers.take();
    run.masks = masks;
    run.errors = first_errors;
    run.errors.extend(mask_errors);
    run.count_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let selection: Selection = tally.select(&cfg.filter, cfg.split.bench_per_task);
    drop(tally);
    run.select_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut ignored = Vec::new();
    for_each_batch(trees, options, &mut ignored, &mut |root, batch| {
        let parts: Vec<anyhow::Result<(Vec<QaSample>, CorpusStats)>> = batch
            .into_par_iter()
            .map(|s| {
                let s = completers.complete(Arc::new(s), root)?;
                let mut out = Vec::new();
                let st = emit_scene(&s, cfg, &selection, &NoFrameImages, &mut |q| out.push(q))?;
                Ok((out, st))
            })
            .collect();
        for part in parts {
            let (samples, st) = part?;
            run.stats.merge(&st);
            for q in samples {
                run.samples += 1;
                sink(q)?;
            }
        }
        Ok(())
    })?;
    run.emit_s = start.elapsed().as_secs_f64();
    Ok(run)
}

/// Parsed `qa` arguments.
#[derive(Clone, Debug)]
pub struct QaArgs {
    /// Native trees, or folders of them.
    pub trees: Vec<PathBuf>,
    /// Settings.
    pub config: CorpusConfig,
    /// Reading options.
    pub options: SourceOptions,
    /// Write `data/{train,bench}-00000-of-00001.parquet`, `report.json` and `report.png` here.
    pub out: Option<PathBuf>,
    /// Also write the samples in the paper's JSONL format (`jsonl/{train,bench}.jsonl`).
    pub jsonl: bool,
    /// Print the report as JSON.
    pub json: bool,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
}

struct Writers {
    train: RecordWriter<QaSample>,
    bench: RecordWriter<QaSample>,
    /// The paper's JSONL, train and bench.
    jsonl: Option<[std::io::BufWriter<AtomicFile>; 2]>,
}

impl Writers {
    fn create(out: &Path, cfg: &CorpusConfig, jsonl: bool) -> anyhow::Result<Self> {
        let data = out.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let o = WriteOptions {
            config_hash: cfg.hash(),
            ..WriteOptions::default()
        };
        let jsonl = if jsonl {
            let dir = out.join("jsonl");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Some([
                std::io::BufWriter::new(AtomicFile::create(dir.join("train.jsonl"))?),
                std::io::BufWriter::new(AtomicFile::create(dir.join("bench.jsonl"))?),
            ])
        } else {
            None
        };
        Ok(Writers {
            train: RecordWriter::create(data.join("train-00000-of-00001.parquet"), &o)?,
            bench: RecordWriter::create(data.join("bench-00000-of-00001.parquet"), &o)?,
            jsonl,
        })
    }

    fn write_jsonl(&mut self, q: &QaSample) -> anyhow::Result<()> {
        if let Some(files) = self.jsonl.as_mut() {
            let f = &mut files[usize::from(q.split == Split::Bench)];
            serde_json::to_writer(&mut *f, &to_suite_json(q))?;
            f.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        self.train.finish()?;
        self.bench.finish()?;
        if let Some(files) = self.jsonl {
            for f in files {
                f.into_inner().map_err(|e| e.into_error())?.commit()?;
            }
        }
        Ok(())
    }
}

/// Runs the command.
pub fn run(args: &QaArgs) -> anyhow::Result<()> {
    let trees = source_trees(&args.trees)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("starting worker threads")?;
    let mut writers = args
        .out
        .as_deref()
        .map(|o| Writers::create(o, &args.config, args.jsonl))
        .transpose()?;
    let mut pending: (Vec<QaSample>, Vec<QaSample>) = (Vec::new(), Vec::new());
    let result = pool.install(|| {
        let cache = args.out.as_ref().map(|o| o.join(".cache").join("masks"));
        build_corpus(
            &trees,
            &args.config,
            &args.options,
            cache.as_deref(),
            &mut |q| {
                if let Some(w) = writers.as_mut() {
                    w.write_jsonl(&q)?;
                    let (buf, writer) = match q.split {
                        Split::Train => (&mut pending.0, &mut w.train),
                        Split::Bench => (&mut pending.1, &mut w.bench),
                    };
                    buf.push(q);
                    if buf.len() >= 4096 {
                        writer.write(buf)?;
                        buf.clear();
                    }
                }
                Ok(())
            },
        )
    })?;
    if let (Some(mut w), Some(out)) = (writers, args.out.as_deref()) {
        w.train.write(&pending.0)?;
        w.bench.write(&pending.1)?;
        w.finish()?;
        let report = report_json(&result.stats);
        crossview_schemas::write_atomic(
            out.join("report.json"),
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        // The chart is a view of report.json; without a font it is left out, not the run.
        if let Err(e) =
            crate::report_chart::write_report_png(&result.stats, &out.join("report.png"))
        {
            eprintln!("warning: report.png not written: {e:#}");
        }
    }
    let drawn = result.stats.drawn.total();
    let threads = pool.current_num_threads();
    if args.json {
        let mut report = report_json(&result.stats);
        report["timing"] = serde_json::json!({
            "count_s": result.count_s, "select_s": result.select_s, "emit_s": result.emit_s,
            "threads": threads,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report_table(&result.stats));
        println!(
            "\n{} candidates drawn in {:.2} s first pass ({:.0}/s, {:.0}/s per thread on {threads}); selection {:.2} s; second pass {:.2} s, {} samples",
            drawn,
            result.count_s,
            drawn as f64 / result.count_s.max(1e-9),
            drawn as f64 / result.count_s.max(1e-9) / threads as f64,
            result.select_s,
            result.emit_s,
            result.samples
        );
        let errors = result.errors.iter().filter(|e| e.class.is_error()).count();
        if errors > 0 {
            println!("{errors} input errors (see `crossview inspect`)");
        }
    }
    Ok(())
}
