//! Shared helpers for the integration tests: running the Python reference checks.

pub mod truth;

use std::path::Path;
use std::process::Command;

use crossview::stages::synth::{self, Profile, SynthOptions};

/// The Python interpreter with the packages of tests/requirements.txt
/// (`CROSSVIEW_PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("CROSSVIEW_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Runs `tests/py/<script>` with `args` and fails the test with its output unless it exits 0.
pub fn run_python_check(script: &str, args: &[&Path]) -> String {
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let out = Command::new(python())
        .arg(&script_path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}); install Python 3", python()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}\n(the Python clients come from \
         `pip install -r tests/requirements.txt`)",
        out.status
    );
    stdout
}

/// Writes an annotation-only world of all four sources: `scenes` per profile (MessyTable,
/// MMPTrack, EgoHumans, Ego-Exo4D) under `dir/<source>`.
pub fn write_world(dir: &Path, seed: u64, scenes: [usize; 4]) {
    let profiles: [(&dyn Profile, &str); 4] = [
        (&synth::messytable::MessyTable, "messytable"),
        (&synth::mmptrack::MmpTrack, "mmptrack"),
        (&synth::egohumans::EgoHumans, "egohumans"),
        (&synth::egoexo4d::EgoExo4d, "egoexo4d"),
    ];
    for ((p, name), n) in profiles.into_iter().zip(scenes) {
        let opts = SynthOptions {
            seed,
            scenes: n,
            images: false,
            ..SynthOptions::default()
        };
        synth::run(p, &dir.join(name), &opts).expect("synth");
    }
}

/// Copies a tree (files and folders).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readable") {
        let p = e.expect("entry").path();
        let dst = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_tree(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).expect("copy");
        }
    }
}

/// A world of all four sources ([`write_world`]) written once into `cell` per test binary.
pub fn world_once(
    cell: &'static std::sync::OnceLock<tempfile::TempDir>,
    seed: u64,
    scenes: [usize; 4],
) -> &'static Path {
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        write_world(dir.path(), seed, scenes);
        dir
    })
    .path()
}

/// Corpus settings for small test worlds: a large bench share (so a few scenes give both
/// splits), a small bench per task, and a fifth of the samples open-ended.
pub fn small_world_corpus() -> crossview::stages::corpus::CorpusConfig {
    crossview::stages::corpus::CorpusConfig {
        split: crossview::stages::split::SplitConfig {
            bench_fraction: 0.3,
            bench_per_task: 40,
            ..Default::default()
        },
        open_ended: crossview::stages::rewrite::RewriteConfig { fraction: 0.2 },
        ..Default::default()
    }
}

/// Runs the project's shared shard-contract check (`../shared/checks/shard_contract.py`) on
/// a build output and fails the test unless it passes; its report, or `None` when the shared
/// checks are not beside the checkout.
pub fn shard_contract(out: &Path) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/checks/shard_contract.py");
    if !script.exists() {
        eprintln!("{} not present; skipped", script.display());
        return None;
    }
    let check = Command::new(python())
        .arg(&script)
        .arg(out)
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    Some(text)
}

/// Every scene and tree error of a native tree (source detected).
pub fn load_tree(
    root: &Path,
    opts: &crossview::stages::sources::SourceOptions,
) -> (
    Vec<crossview::stages::sources::SceneData>,
    Vec<crossview::schemas::InputError>,
) {
    let reader = crossview::stages::sources::open(root, None, opts).expect("opens");
    crossview::stages::sources::read_all(reader.as_ref()).expect("reads")
}

/// A synthetic tree of `profile` with images (640-pixel views, `frames` per scene).
pub fn synth_with_images(
    profile: &dyn Profile,
    seed: u64,
    scenes: usize,
    frames: usize,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        seed,
        scenes,
        images: true,
        max_side: 640,
        frames: Some(frames),
    };
    synth::run(profile, dir.path(), &opts).expect("synth");
    dir
}

/// Runs `crossview build` quietly, in-process, with `workers` threads (no cluster, not strict).
pub fn build_quietly(
    config: crossview::build::BuildConfig,
    out: &Path,
    workers: usize,
) -> crossview::build::BuildSummary {
    crossview::build::build(&build_args(config, out, workers)).expect("build")
}

/// Quiet, lenient, single-process build arguments for `config` into `out` with `workers`.
pub fn build_args(
    config: crossview::build::BuildConfig,
    out: &Path,
    workers: usize,
) -> crossview::build::BuildArgs {
    crossview::build::BuildArgs {
        config,
        base: std::path::PathBuf::from("."),
        out: out.to_path_buf(),
        workers,
        strict: false,
        quiet: true,
        cluster: None,
    }
}
