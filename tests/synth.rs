//! `crossview synth`: trees pass independent format and geometry checks, and are deterministic
//! (same flags, same bytes, whatever the thread count; another seed, other bytes).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crossview::schemas::sha256_hex;
use crossview::stages::synth::{self, Profile, SynthOptions};

use crate::support::run_python_check;

/// Every file under `root` with its hash, by relative path.
fn tree_hashes(root: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("readable tree") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    rel,
                    sha256_hex(&std::fs::read(&path).expect("readable file")),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn write_tree(profile: &dyn Profile, root: &Path, opts: &SynthOptions, threads: usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| synth::run(profile, root, opts))
        .expect("synth runs");
}

fn small(seed: u64) -> SynthOptions {
    SynthOptions {
        seed,
        scenes: 3,
        images: true,
        max_side: 320,
        frames: Some(4),
    }
}

#[test]
fn messytable_geometry_matches_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(&synth::messytable::MessyTable, dir.path(), &small(5), 2);
    let out = run_python_check("check_synth_geometry.py", &[dir.path()]);
    assert!(out.contains(" 0 problems"), "{out}");
}

#[test]
fn mmptrack_geometry_matches_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(&synth::mmptrack::MmpTrack, dir.path(), &small(6), 2);
    let out = run_python_check("check_synth_geometry.py", &[dir.path()]);
    assert!(out.contains(" 0 problems"), "{out}");
}

#[test]
fn egohumans_geometry_matches_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(&synth::egohumans::EgoHumans, dir.path(), &small(7), 2);
    let out = run_python_check("check_synth_geometry.py", &[dir.path()]);
    assert!(out.contains(" 0 problems"), "{out}");
}

#[test]
fn egoexo4d_geometry_masks_and_videos_match_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        frames: Some(31),
        ..small(8)
    };
    write_tree(&synth::egoexo4d::EgoExo4d, dir.path(), &opts, 2);
    let out = run_python_check("check_synth_geometry.py", &[dir.path()]);
    assert!(out.contains(" 0 problems"), "{out}");
}

/// The project's shared format checks (../shared/checks), when this checkout has them.
#[test]
fn shared_format_checks_pass_on_all_profiles() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/checks/synth_formats.py");
    if !script.exists() {
        eprintln!("{} not present; skipped", script.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_crossview");
    let out = Command::new(bin)
        .args([
            "synth",
            "--profile",
            "all",
            "--scenes",
            "1",
            "--frames",
            "31",
            "--max-side",
            "200",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = Command::new(crate::support::python())
        .arg(&script)
        .arg(dir.path())
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
}

#[test]
fn trees_are_deterministic_across_threads_and_differ_across_seeds() {
    let profiles: [&dyn Profile; 3] = [
        &synth::messytable::MessyTable,
        &synth::mmptrack::MmpTrack,
        &synth::egohumans::EgoHumans,
    ];
    for p in profiles {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        write_tree(p, &a, &small(1), 1);
        write_tree(p, &b, &small(1), 2);
        write_tree(p, &c, &small(2), 2);
        let (ha, hb, hc) = (tree_hashes(&a), tree_hashes(&b), tree_hashes(&c));
        assert!(ha.len() > 5, "{ha:?}");
        assert_eq!(ha, hb, "{}: same seed, different thread count", p.kind());
        let differing = ha.iter().filter(|(k, v)| hc.get(*k) != Some(*v)).count();
        assert!(
            differing * 2 > ha.len(),
            "{}: another seed changed only {differing} files",
            p.kind()
        );
    }
}

#[test]
fn synth_command_writes_nested_trees_and_rejects_bad_scale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_crossview");
    let out = Command::new(bin)
        .args([
            "synth",
            "--profile",
            "all",
            "--scenes",
            "1",
            "--max-side",
            "160",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("messytable/labels/train.json").exists());
    assert!(
        dir.path()
            .join("mmptrack/_truth/observations.parquet")
            .exists()
    );
    let bad = Command::new(bin)
        .args([
            "synth",
            "--profile",
            "messytable",
            "--scale",
            "huge",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}
