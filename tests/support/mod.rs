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
