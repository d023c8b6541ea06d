//! End-to-end build benchmark: `crossview build` on a `--no-images --scale paper` world with
//! `-w 2` and `-w 1` (wall time, peak RSS), against writing the same final Parquet rows alone.
//!
//! `cargo bench --bench build_e2e [-- WORLD] [RUNS]`: WORLD defaults to
//! `target/bench-world-paper`, synthesized on first use (about 40 s); the cold `-w 2` build and
//! the write-only baseline run RUNS times each, alternating (default 2; the ratio is of their
//! best times, as a shared machine slows single runs by up to a fifth); the no-change rerun
//! and each one-scene rebuild run [`REBUILD_ROUNDS`] times (the best and every run printed).
//! Prints one line per figure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crossview::build::{BuildArgs, BuildConfig, LiveBuild, Manifest, SHARD_BATCH_ROWS};

// The allocator the binary uses, so the write-only baseline runs under the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crossview::schemas::{QaSample, RecordReader, RecordWriter, WriteOptions};

mod world;
use world::crossview as run;

/// Builds `world` into `out` with `workers`; wall seconds and the report's peak RSS.
fn build(world: &Path, out: &Path, workers: usize) -> (f64, f64, serde_json::Value) {
    let config = out.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "sources = [{:?}]\nrequire_images = false\n[output]\nshards_per_split = 64\nframes = false\n",
            world.display().to_string()
        ),
    )
    .expect("config");
    let _ = std::fs::remove_dir_all(out);
    let w = workers.to_string();
    let start = Instant::now();
    run(&[
        "build",
        "--quiet",
        "--config",
        &config.display().to_string(),
        "--out",
        &out.display().to_string(),
        "-w",
        &w,
    ]);
    let wall = start.elapsed().as_secs_f64();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("report parses");
    let rss = report["build"]["peak_rss_mib"].as_f64().unwrap_or(f64::NAN);
    (wall, rss, report)
}

/// Moves the first box of a MessyTable split file by 3 pixels (a text edit, so no other
/// scene's bytes change); returns the file's text before.
fn move_first_box(labels: &Path) -> String {
    nudge_number_after(labels, &["\"pos\":["], 3.0)
}

/// Adds `delta` to the number that follows the last of `markers` in the text of `path`, each
/// marker found after the one before (a text edit: no other scene's bytes change), keeping
/// the number's decimals; returns the file's text before.
fn nudge_number_after(path: &Path, markers: &[&str], delta: f64) -> String {
    let original = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("a file to edit, {}: {e}", path.display()));
    let at = markers.iter().fold(0, |from, marker| {
        from + original[from..]
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?} in {}", path.display()))
            + marker.len()
    });
    let len = original[at..]
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .expect("a number");
    let text = &original[at..at + len];
    let value: f64 = text.parse().expect("a number");
    let decimals = text.find('.').map_or(0, |dot| len - dot - 1);
    let nudged = format!("{:.decimals$}", value + delta);
    std::fs::write(
        path,
        format!("{}{nudged}{}", &original[..at], &original[at + len..]),
    )
    .expect("edit");
    original
}

/// The first file under `dir` in name order (depth first) whose text holds `marker`.
fn first_file_with(dir: &Path, marker: &str) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = (std::fs::read_dir(dir).ok()?.flatten())
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries.into_iter().find_map(|path| {
        if path.is_dir() {
            first_file_with(&path, marker)
        } else {
            let text = std::fs::read_to_string(&path).ok()?;
            text.contains(marker).then_some(path)
        }
    })
}

/// A text edit that changes one scene: `delta` added to the number after the last of
/// `markers` in `path` (see [`nudge_number_after`]); `name` is the path within the world.
struct OneSceneEdit {
    name: String,
    path: PathBuf,
    markers: Vec<&'static str>,
    delta: f64,
}

/// One changed scene in each native file kind the bench edits: each MessyTable split file
/// (a box of its first scene), an MMPTrack label file (a person's box), the EgoHumans
/// benchmark keypoint file shared by every sequence (a box of its first annotation) and an
/// Ego-Exo4D take's GoPro calibrations (a camera moved by 5 cm).
fn one_scene_edits(world: &Path) -> Vec<OneSceneEdit> {
    let mut labels_files: Vec<PathBuf> = std::fs::read_dir(world.join("messytable/labels"))
        .expect("labels")
        .flatten()
        .map(|e| e.path())
        .collect();
    labels_files.sort();
    let edit = |path: PathBuf, markers: Vec<&'static str>, delta: f64| OneSceneEdit {
        name: path
            .strip_prefix(world)
            .unwrap_or(&path)
            .display()
            .to_string(),
        path,
        markers,
        delta,
    };
    let mut edits: Vec<OneSceneEdit> = (labels_files.into_iter())
        .map(|l| edit(l, vec!["\"pos\":["], 3.0))
        .collect();
    let labelled = first_file_with(&world.join("mmptrack/train/labels"), "[");
    let labelled = labelled.expect("an MMPTrack label file with a box");
    edits.push(edit(labelled, vec!["["], 3.0));
    let coco = first_file_with(&world.join("egohumans/benchmark"), "\"bbox\":[");
    let coco = coco.expect("an EgoHumans benchmark file with an annotation");
    edits.push(edit(coco, vec!["\"annotations\"", "\"bbox\":["], 3.0));
    let calibs = first_file_with(&world.join("egoexo4d/takes"), "tx_world_cam");
    let calibs = calibs.expect("an Ego-Exo4D take with GoPro calibrations");
    edits.push(edit(calibs, vec!["\ncam", ",", ","], 0.05));
    edits
}

/// The one-scene edits fed to a live build over `out` (the graph kept alive, as `--watch`
/// keeps it; in this process, 2 workers): seconds of epoch 0 (a cold build: the caches are
/// keyed by the program, and this is not the binary that published `out`),
/// then of epoch 0 of a live build started again over what that one published (the corpus
/// from the caches); per split file the epoch after its edit and the one after its restore;
/// and this process's peak RSS over the first live build, which is that build's.
fn live_epochs(out: &Path, labels_files: &[PathBuf]) -> (f64, f64, Vec<(String, f64, f64)>, f64) {
    let (config, base) = BuildConfig::load(&out.with_extension("toml")).expect("config");
    let args = BuildArgs {
        config,
        base,
        out: out.to_path_buf(),
        workers: 2,
        strict: false,
        quiet: true,
        cluster: None,
    };
    let start = Instant::now();
    let mut live = LiveBuild::start(&args).expect("a live build starts");
    live.build().expect("epoch 0");
    let first = start.elapsed().as_secs_f64();
    let mut epochs = Vec::new();
    for labels in labels_files {
        let original = move_first_box(labels);
        let start = Instant::now();
        live.build().expect("an epoch");
        let edited = start.elapsed().as_secs_f64();
        std::fs::write(labels, &original).expect("restore");
        let start = Instant::now();
        live.build().expect("an epoch");
        let restored = start.elapsed().as_secs_f64();
        let name = labels.file_name().map(|n| n.to_string_lossy().into_owned());
        epochs.push((name.unwrap_or_default(), edited, restored));
    }
    drop(live);
    let rss = crossview::build::peak_rss_mib().unwrap_or(f64::NAN);
    // A live build started again over the output it published: epoch 0 feeds the whole
    // corpus from the caches.
    let start = Instant::now();
    LiveBuild::start(&args)
        .and_then(|mut live| live.build())
        .expect("a warm epoch 0");
    let warm = start.elapsed().as_secs_f64();
    (first, warm, epochs, rss)
}

/// The baseline: the rows of the build in `out` (its shards read back into memory first,
/// untimed), written to the same shards under `plain` with the same options on 2 threads;
/// seconds of the writing.
fn write_only(out: &Path, plain: &Path) -> f64 {
    let manifest = Manifest::read(out).expect("manifest");
    // Each shard's rows by row group: the build cuts groups at scene boundaries.
    let shards: Vec<(String, Vec<Vec<QaSample>>)> = manifest
        .shards
        .iter()
        .map(|s| {
            let reader = RecordReader::<QaSample>::open(out.join(&s.path)).expect("shard");
            let groups = reader.map(|g| g.expect("row group")).collect();
            (s.path.clone(), groups)
        })
        .collect();
    let reader = RecordReader::<QaSample>::open(out.join(&manifest.shards[0].path)).expect("open");
    let opts = WriteOptions {
        config_hash: reader.config_hash().unwrap_or_default(),
        row_group_rows: usize::MAX,
        ..WriteOptions::default()
    };
    let _ = std::fs::remove_dir_all(plain);
    std::fs::create_dir_all(plain.join("data")).expect("mkdir");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let start = Instant::now();
    pool.install(|| {
        shards.par_iter().for_each(|(path, groups)| {
            let mut w = RecordWriter::<QaSample>::create(plain.join(path), &opts).expect("create");
            for rows in groups {
                for chunk in rows.chunks(SHARD_BATCH_ROWS) {
                    w.write(chunk).expect("write");
                }
                w.end_row_group().expect("row group");
            }
            w.finish().expect("finish");
        })
    });
    start.elapsed().as_secs_f64()
}

/// Seconds as `a / b / c`, with `decimals` digits after the point (two for the short runs).
fn seconds_list(seconds: impl Iterator<Item = f64>, decimals: usize) -> String {
    seconds
        .map(|s| format!("{s:.decimals$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The least of `seconds`.
fn least(seconds: &[f64]) -> f64 {
    seconds.iter().copied().fold(f64::INFINITY, f64::min)
}

/// How many times the no-change rerun and each one-scene rebuild run: single runs of a
/// second or less move by half on this machine.
const REBUILD_ROUNDS: usize = 3;

/// [`write_only`] in a child process (this bench run again with [`WRITE_ONLY`]), so the rows
/// it holds (some 16 GB as records) neither crowd the builds nor count in this process's peak
/// RSS, which is the live build's.
fn write_only_apart(out: &Path, plain: &Path) -> f64 {
    let child = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .arg(WRITE_ONLY)
        .arg(out)
        .arg(plain)
        .output()
        .expect("the write-only run");
    assert!(
        child.status.success(),
        "the write-only run failed: {child:?}"
    );
    let text = String::from_utf8_lossy(&child.stdout);
    (text.trim().parse()).unwrap_or_else(|_| panic!("write-only seconds, not {text:?}"))
}

/// The argument that makes this bench the child of [`write_only_apart`].
const WRITE_ONLY: &str = "--write-only-child";

fn main() {
    // The page policy the binary uses (the live build and the write-only run are in-process).
    crossview::pages::prefer_small_pages();
    let target = world::target_dir();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, out, plain] = args.as_slice()
        && flag == WRITE_ONLY
    {
        println!("{}", write_only(Path::new(out), Path::new(plain)));
        return;
    }
    let runs = (args.iter())
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(2)
        .max(1);
    let world = (args.iter())
        .find(|a| !a.starts_with('-') && a.parse::<usize>().is_err())
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("bench-world-paper"));
    world::ensure_paper_world(&world);
    let out2 = target.join("bench-build-w2");
    let out1 = target.join("bench-build-w1");
    // The cold builds alternate with the baseline's runs (which write the rows the build
    // before them wrote), so both see the machine in the same minutes: its speed drifts by a
    // fifth over a bench run.
    let plain = target.join("bench-write-only");
    let mut cold: Vec<(f64, f64, serde_json::Value)> = Vec::new();
    let mut baseline: Vec<f64> = Vec::new();
    for _ in 0..runs {
        cold.push(build(&world, &out2, 2));
        baseline.push(write_only_apart(&out2, &plain));
    }
    let best = (cold.iter())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least one run");
    let (w2, rss2, report) = (best.0, best.1, best.2.clone());
    // A rerun over the unchanged world: nothing to do.
    let config = out2.with_extension("toml").display().to_string();
    let out = out2.display().to_string();
    let reruns: Vec<f64> = (0..REBUILD_ROUNDS)
        .map(|_| {
            let start = Instant::now();
            run(&[
                "build", "--quiet", "--config", &config, "--out", &out, "-w", "2",
            ]);
            start.elapsed().as_secs_f64()
        })
        .collect();
    // One changed scene per edited file (see `one_scene_edits`), rebuilt over the published
    // output; then put back and rebuilt again.
    let edits = one_scene_edits(&world);
    let labels_files: Vec<PathBuf> = (edits.iter())
        .filter(|e| e.name.starts_with("messytable/"))
        .map(|e| e.path.clone())
        .collect();
    let stamps = || -> Vec<Option<std::time::SystemTime>> {
        Manifest::read(&out2)
            .expect("manifest")
            .shards
            .iter()
            .map(|s| {
                std::fs::metadata(out2.join(&s.path))
                    .and_then(|m| m.modified())
                    .ok()
            })
            .collect()
    };
    let rebuild = || {
        run(&[
            "build", "--quiet", "--config", &config, "--out", &out, "-w", "2",
        ])
    };
    // Rounds over the files in turn, so each file's rebuilds see the machine at several times.
    let mut one_scene: Vec<(String, Vec<f64>, usize)> = (edits.iter())
        .map(|e| (e.name.clone(), Vec::new(), 0))
        .collect();
    for _ in 0..REBUILD_ROUNDS {
        for (edit, (_, seconds, changed)) in edits.iter().zip(&mut one_scene) {
            let original = nudge_number_after(&edit.path, &edit.markers, edit.delta);
            let before = stamps();
            let start = Instant::now();
            rebuild();
            seconds.push(start.elapsed().as_secs_f64());
            *changed = before
                .iter()
                .zip(stamps())
                .filter(|(a, b)| **a != *b)
                .count();
            std::fs::write(&edit.path, &original).expect("restore");
            rebuild();
        }
    }
    let (live_first, live_warm, live_epochs, live_rss) = live_epochs(&out2, &labels_files);
    let (w1, rss1, _) = build(&world, &out1, 1);
    let manifest = Manifest::read(&out2).expect("manifest");
    let rows: u64 = manifest.shards.iter().map(|s| s.rows).sum();
    println!(
        "candidates {} | rows {rows} | shards {}",
        report["funnel"]["drawn"],
        manifest.shards.len()
    );
    println!(
        "build -w 2: {w2:.1} s wall, peak RSS {rss2:.0} MiB, {:.0} rows/s (runs: {})",
        rows as f64 / w2,
        seconds_list(cold.iter().map(|c| c.0), 1)
    );
    println!("build -w 1: {w1:.1} s wall, peak RSS {rss1:.0} MiB");
    println!("speedup -w 2 over -w 1: {:.2}x", w1 / w2);
    println!(
        "rerun with no change (-w 2): {:.2} s (runs: {})",
        least(&reruns),
        seconds_list(reruns.iter().copied(), 2)
    );
    for (file, seconds, changed) in &one_scene {
        println!(
            "rebuild after one changed scene of {file} (-w 2): {:.2} s, {changed} shards rewritten (runs: {})",
            least(seconds),
            seconds_list(seconds.iter().copied(), 2)
        );
    }
    // The bench is another program than the binary, so its caches are keyed anew: epoch 0
    // is a cold build, in this process.
    println!("live build (-w 2), epoch 0 (cold: caches of another program): {live_first:.2} s");
    println!("live build started again over its output, epoch 0: {live_warm:.2} s");
    for (file, edited, restored) in &live_epochs {
        println!(
            "live epoch after one changed scene of messytable/labels/{file}: {edited:.2} s (restored: {restored:.2} s)"
        );
    }
    println!("live build peak RSS: {live_rss:.0} MiB");
    println!(
        "worker seconds (-w 2): {}",
        report["build"]["worker_seconds"]
    );

    let write_only = least(&baseline);
    println!(
        "write the same rows alone (2 threads): {write_only:.1} s (runs: {})",
        seconds_list(baseline.iter().copied(), 1)
    );
    println!(
        "build -w 2 / write-only (best of {runs} each): {:.2}x",
        w2 / write_only
    );
    let same = manifest
        .shards
        .iter()
        .all(|s| std::fs::read(out2.join(&s.path)).ok() == std::fs::read(plain.join(&s.path)).ok());
    println!("write-only shards byte-identical to the build's: {same}");
}
