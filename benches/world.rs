//! The synthetic worlds the end-to-end benchmarks read: the `--no-images` paper-scale world
//! (synthesized on first use) and the `crossview` binary that makes and reads them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `crossview` binary of this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_crossview");

/// Runs `crossview ARGS`, which must succeed.
pub fn crossview(args: &[&str]) {
    let status = Command::new(BIN)
        .args(args)
        .status()
        .expect("crossview runs");
    assert!(status.success(), "crossview {args:?} failed");
}

/// This package's `target` folder, where the worlds are kept between runs.
pub fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// The paper-scale world of all four profiles at `world`, synthesized if absent (about 40 s).
pub fn ensure_paper_world(world: &Path) {
    if world.join("messytable").exists() {
        return;
    }
    eprintln!("synthesizing the paper-scale world at {}", world.display());
    crossview(&[
        "synth",
        "--profile",
        "all",
        "--scale",
        "paper",
        "--no-images",
        "--out",
        &world.display().to_string(),
    ]);
}
