//! Mask completion benchmark on the default-size synthetic world of the three sources that
//! need masks (MessyTable, MMPTrack, EgoHumans; 640-pixel frames), one thread:
//! - the graph cut (the embedded default): prompts/s cold, and a cached rerun against it;
//! - the tiny SAM 2 export (tests/models/) through ONNX Runtime: the share of the stage's
//!   time spent outside ONNX Runtime, and a cached rerun against the cold run.
//!
//! `cargo bench --bench masks_e2e [-- [WORLD] [--only cut|tiny]]`: WORLD defaults to
//! `target/bench-world-masks`, synthesized on first use. Needs the `onnxruntime` wheel
//! (`pip install onnxruntime`). Prints one line per figure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossview::stages::masks::{
    MaskCompleter, MaskConfig, MaskStats, OnnxConfig, SamConvention, SegmenterKind,
};
use crossview::stages::sources::{self, SceneData, SourceOptions};

// The allocator the binary uses, so the stage runs here as it runs in a build.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BIN: &str = env!("CARGO_BIN_EXE_crossview");
const PROFILES: [&str; 3] = ["messytable", "mmptrack", "egohumans"];

/// What one pass of the mask stage over every scene took.
struct Pass {
    stage: Duration,
    runtime: Option<Duration>,
    stats: MaskStats,
}

fn pass(cfg: &MaskConfig, cache: &Path, trees: &[(PathBuf, Vec<SceneData>)]) -> Pass {
    let mut c = MaskCompleter::open(cfg, Some(cache)).expect("mask stage opens");
    let mut stats = MaskStats::default();
    // The stage is handed scenes it shares with nobody, as the graph's reader hands them.
    let scenes: Vec<(&PathBuf, Arc<SceneData>)> = trees
        .iter()
        .flat_map(|(root, scenes)| scenes.iter().map(move |s| (root, Arc::new(s.clone()))))
        .collect();
    let start = Instant::now();
    for (root, scene) in scenes {
        let done = c.complete(scene, root).expect("completes");
        stats.merge(&done.stats);
    }
    Pass {
        stage: start.elapsed(),
        runtime: c.segmenter().and_then(|s| s.runtime_time()),
        stats,
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let world = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with('-') && (*i == 0 || args[i - 1] != "--only"))
        .map(|(_, a)| PathBuf::from(a))
        .unwrap_or_else(|| root.join("target/bench-world-masks"));
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    for p in PROFILES {
        if !world.join(p).exists() {
            eprintln!("synthesizing {p} at {}", world.join(p).display());
            let ok = Command::new(BIN)
                .args(["synth", "--profile", p, "--out"])
                .arg(world.join(p))
                .status()
                .expect("crossview runs")
                .success();
            assert!(ok, "synth {p} failed");
        }
    }
    // Scenes are read before timing: the figures are the mask stage's alone.
    let trees: Vec<(PathBuf, Vec<SceneData>)> = PROFILES
        .iter()
        .map(|p| {
            let tree = world.join(p);
            let reader = sources::open(&tree, None, &SourceOptions::default()).expect("opens");
            let (scenes, _) = sources::read_all(reader.as_ref()).expect("reads");
            (tree, scenes)
        })
        .collect();
    let scratch = tempfile::tempdir().expect("tempdir");

    if run("cut") {
        bench_cut(&trees, scratch.path());
    }
    if run("tiny") {
        bench_tiny(&root, &trees, scratch.path());
    }
}

fn bench_cut(trees: &[(PathBuf, Vec<SceneData>)], scratch: &Path) {
    let cut = MaskConfig::default();
    let cold = pass(&cut, &scratch.join("cut"), trees);
    let warm = pass(&cut, &scratch.join("cut"), trees);
    let prompts = cold.stats.total().computed;
    println!(
        "graph cut, cold: {prompts} prompts on {} frames in {:.2} s = {:.0} prompts/s on one core",
        cold.stats.model_calls,
        cold.stage.as_secs_f64(),
        prompts as f64 / cold.stage.as_secs_f64()
    );
    println!(
        "graph cut, cached rerun: {:.3} s ({} prompts from the cache, {} segmenter calls) = {:.0}x faster",
        warm.stage.as_secs_f64(),
        warm.stats.total().cached,
        warm.stats.model_calls,
        cold.stage.as_secs_f64() / warm.stage.as_secs_f64()
    );
}

fn bench_tiny(root: &Path, trees: &[(PathBuf, Vec<SceneData>)], scratch: &Path) {
    let tiny = MaskConfig {
        segmenter: SegmenterKind::Onnx,
        onnx: OnnxConfig {
            encoder: root.join("tests/models/tiny_sam2.encoder.onnx"),
            decoder: root.join("tests/models/tiny_sam2.decoder.onnx"),
            convention: SamConvention::Sam2,
            ..OnnxConfig::default()
        },
        ..MaskConfig::default()
    };
    let cold = pass(&tiny, &scratch.join("tiny"), trees);
    let warm = pass(&tiny, &scratch.join("tiny"), trees);
    let inside = cold.runtime.unwrap_or_default().as_secs_f64();
    let total = cold.stage.as_secs_f64();
    println!(
        "tiny SAM 2, cold: {} prompts on {} frames in {total:.2} s; inside ONNX Runtime {inside:.2} s; outside {:.1}% of the stage",
        cold.stats.total().computed,
        cold.stats.model_calls,
        100.0 * (total - inside) / total
    );
    println!(
        "tiny SAM 2, cached rerun: {:.3} s ({} segmenter calls) = {:.0}x faster",
        warm.stage.as_secs_f64(),
        warm.stats.model_calls,
        total / warm.stage.as_secs_f64()
    );
}
