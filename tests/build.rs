//! `crossview build` end to end on seeded synthetic trees: the dataflow against the plain
//! engine (identical samples), byte-identical shards for any worker count, stale shards
//! removed, `verify` passing and catching tampering, `--strict` and exit codes, and the shared
//! shard-contract check on a build with a frame store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crossview::build::{
    BuildArgs, BuildConfig, LiveBuild, Manifest, OutputConfig, SourceEntry, build,
};
use crossview::qa_cmd::{build_corpus, source_trees};
use crossview::schemas::{QaSample, RecordReader, Split};
use crossview::stages::sources::SourceOptions;
use crossview::verify_cmd::verify;

use crate::support::{copy_tree, world_once, write_world};

/// An annotation-only world of all four sources, written once per test binary run.
fn world() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    world_once(&DIR, 23, [6, 2, 2, 3])
}

fn config(shards: u32) -> BuildConfig {
    let corpus = crate::support::small_world_corpus();
    BuildConfig {
        sources: vec![SourceEntry::Path(world().to_path_buf())],
        require_images: false,
        output: OutputConfig {
            shards_per_split: shards,
            frames: false,
            ..OutputConfig::default()
        },
        split: corpus.split,
        open_ended: corpus.open_ended,
        ..BuildConfig::default()
    }
}

/// A temporary folder holding a fresh world (`seed`, scenes per source) and a config that
/// builds it into `shards` shards per split: (folder, world, config, output folder).
fn temp_world(
    seed: u64,
    scenes: [usize; 4],
    shards: u32,
) -> (tempfile::TempDir, PathBuf, BuildConfig, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world");
    write_world(&world, seed, scenes);
    let mut cfg = config(shards);
    cfg.sources = vec![SourceEntry::Path(world.clone())];
    let out = dir.path().join("out");
    (dir, world, cfg, out)
}

fn run_build(config: BuildConfig, out: &Path, workers: usize) -> Manifest {
    crate::support::build_quietly(config, out, workers).manifest
}

fn shard_samples(out: &Path, manifest: &Manifest) -> Vec<QaSample> {
    let mut all = Vec::new();
    for s in &manifest.shards {
        all.extend(RecordReader::<QaSample>::read_all(out.join(&s.path)).expect("shard reads"));
    }
    all
}

/// Adds every file of `dir/sub` to `m`, named `sub/NAME` (a missing folder adds nothing).
fn add_files(m: &mut BTreeMap<String, Vec<u8>>, dir: &Path, sub: &str) {
    let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
        return;
    };
    for e in rd {
        let p = e.expect("entry").path();
        let name = format!("{sub}/{}", p.file_name().expect("name").to_string_lossy());
        m.insert(name, std::fs::read(&p).expect("reads"));
    }
}

/// Every shard plus the manifest, by path.
fn output_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    add_files(&mut m, dir, "data");
    m.insert(
        "manifest.json".into(),
        std::fs::read(dir.join("manifest.json")).expect("manifest"),
    );
    m
}

#[test]
fn the_graph_gives_the_plain_engines_samples() {
    let out = tempfile::tempdir().expect("tempdir");
    let cfg = config(3);
    let manifest = run_build(cfg.clone(), out.path(), 2);
    let mut graph = shard_samples(out.path(), &manifest);

    // The oracle: the same stage functions run sequentially, no dataflow.
    let trees = source_trees(&[world().to_path_buf()]).expect("trees");
    let options = SourceOptions {
        require_images: false,
        ..SourceOptions::default()
    };
    let mut plain = Vec::new();
    build_corpus(&trees, &cfg.corpus(), &options, None, &mut |q| {
        plain.push(q);
        Ok(())
    })
    .expect("plain corpus");

    assert!(plain.len() > 1000, "{} samples", plain.len());
    let key = |q: &QaSample| (q.scene_id.clone(), q.sample_id.clone());
    graph.sort_by_key(key);
    plain.sort_by_key(key);
    assert_eq!(graph.len(), plain.len());
    assert!(
        graph == plain,
        "the graph's samples differ from the plain engine's"
    );

    // Shards are scene buckets in canonical order; the manifest lists every scene read.
    assert_eq!(manifest.shards.len(), 6);
    assert_eq!(manifest.scenes.len(), 13);
    for s in &manifest.shards {
        let rows = RecordReader::<QaSample>::read_all(out.path().join(&s.path)).expect("reads");
        assert!(
            rows.windows(2).all(|w| key(&w[0]) < key(&w[1])),
            "{}",
            s.path
        );
        assert!(rows.iter().all(|q| q.split == s.split));
    }
    let report = verify(out.path()).expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(report.rows, plain.len() as u64);
}

#[test]
fn shards_are_byte_identical_for_any_worker_count() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let outputs: Vec<BTreeMap<String, Vec<u8>>> = [1, 2, 4]
        .iter()
        .zip(&dirs)
        .map(|(&w, d)| {
            run_build(config(4), d.path(), w);
            output_bytes(d.path())
        })
        .collect();
    assert_eq!(outputs[0].len(), 9, "8 shards and the manifest");
    for (w, o) in [2, 4].iter().zip(&outputs[1..]) {
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            outputs[0].keys().collect::<Vec<_>>()
        );
        for (name, bytes) in o {
            assert!(
                bytes == &outputs[0][name],
                "-w {w}: {name} differs from -w 1"
            );
        }
    }
}

#[test]
fn a_rebuild_with_fewer_shards_leaves_no_stale_ones() {
    let out = tempfile::tempdir().expect("tempdir");
    run_build(config(5), out.path(), 2);
    let manifest = run_build(config(2), out.path(), 2);
    let names: Vec<String> = std::fs::read_dir(out.path().join("data"))
        .expect("data")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with("-of-00002.parquet")),
        "{names:?}"
    );
    assert_eq!(manifest.shards_per_split, 2);
    assert!(verify(out.path()).expect("verify").ok());
}

#[test]
fn verify_catches_tampering() {
    let out = tempfile::tempdir().expect("tempdir");
    let manifest = run_build(config(2), out.path(), 1);
    assert!(verify(out.path()).expect("verify").ok());
    let data = out.path().join("data");
    let first = out.path().join(&manifest.shards[0].path);

    // A changed byte: the hash no longer matches (or the file no longer reads).
    let original = std::fs::read(&first).expect("reads");
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&first, &bytes).expect("writes");
    let r = verify(out.path()).expect("verify");
    assert!(
        r.problems.iter().any(|p| p.contains("SHA-256")),
        "{:#?}",
        r.problems
    );
    std::fs::write(&first, &original).expect("restores");

    // A shard the manifest does not list.
    std::fs::copy(&first, data.join("train-00009-of-00009.parquet")).expect("copy");
    let r = verify(out.path()).expect("verify");
    assert!(
        r.problems.iter().any(|p| p.contains("not listed")),
        "{:#?}",
        r.problems
    );
    std::fs::remove_file(data.join("train-00009-of-00009.parquet")).expect("rm");

    // A manifest that puts a train scene in bench: both splits and the scene's split disagree.
    let text = std::fs::read_to_string(out.path().join("manifest.json")).expect("manifest");
    let mut m: serde_json::Value = serde_json::from_str(&text).expect("json");
    let train_scene = manifest.shards[0].scenes[0].clone();
    for s in m["scenes"].as_array_mut().expect("scenes") {
        if s["scene_id"] == train_scene.as_str() {
            s["split"] = "bench".into();
        }
    }
    std::fs::write(out.path().join("manifest.json"), m.to_string()).expect("writes");
    let r = verify(out.path()).expect("verify");
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains(&train_scene) && p.contains("Bench")),
        "{:#?}",
        r.problems
    );

    // Through the command: exit 1 and the failure named.
    let cmd = Command::new(env!("CARGO_BIN_EXE_crossview"))
        .arg("verify")
        .arg(out.path())
        .output()
        .expect("runs");
    assert_eq!(cmd.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&cmd.stdout).contains("FAIL"));
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    write_config_for(dir, world(), extra)
}

/// `dir/build.toml`: builds `world` into 2 shards per split, without frames, plus `extra`.
fn write_config_for(dir: &Path, world: &Path, extra: &str) -> PathBuf {
    let path = dir.join("build.toml");
    let text = format!(
        "sources = [{:?}]\n{extra}\n[output]\nshards_per_split = 2\nframes = false\n",
        world.display().to_string()
    );
    std::fs::write(&path, text).expect("config");
    path
}

fn crossview(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crossview"))
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn strict_fails_on_input_errors_and_publishes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The world has no images: with images required, every frame is an input error.
    let cfg = write_config(dir.path(), "require_images = true");
    let out = dir.path().join("out");
    let strict = crossview(&[
        "build".as_ref(),
        "--quiet".as_ref(),
        "--strict".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(strict.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.contains("input errors (--strict)"), "{stderr}");
    assert!(!out.join("manifest.json").exists(), "nothing published");

    // Without --strict the build goes on, and the errors are in errors.parquet.
    let lenient = crossview(&[
        "build".as_ref(),
        "--quiet".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        lenient.status.success(),
        "{}",
        String::from_utf8_lossy(&lenient.stderr)
    );
    let errors =
        RecordReader::<crossview::schemas::InputError>::read_all(out.join("errors.parquet"))
            .expect("errors.parquet");
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| !e.file.is_empty() && !e.reason.is_empty())
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(
        report["build"]["input_errors"].as_u64(),
        Some(errors.len() as u64)
    );

    // A config with an unknown key is a usage error: exit 2, naming the file.
    let bad = write_config(dir.path(), "bogus_key = 1");
    let r = crossview(&["build".as_ref(), "--config".as_ref(), bad.as_os_str()]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("build.toml"));
}

/// A small world with images (two MessyTable scenes, one Ego-Exo4D take), written once.
fn images_world() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        for (profile, scenes) in [("messytable", "2"), ("egoexo4d", "1")] {
            let r = crossview(&[
                "synth".as_ref(),
                "--profile".as_ref(),
                profile.as_ref(),
                "--scenes".as_ref(),
                scenes.as_ref(),
                "--seed".as_ref(),
                "5".as_ref(),
                "--out".as_ref(),
                dir.path().join(profile).as_os_str(),
            ]);
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        }
        dir
    })
    .path()
}

/// A config building [`images_world`] with a frame store.
fn images_config(dir: &Path) -> PathBuf {
    let cfg = dir.join("build.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [{:?}]\n[split]\nbench_fraction = 0.5\nbench_per_task = 40\n\
             [filter]\ntrain_per_task = 200\n",
            images_world().display().to_string()
        ),
    )
    .expect("config");
    cfg
}

/// A build with a frame store (a small world with images): every shown frame is stored once,
/// `verify` passes, and the project's shared shard-contract check accepts the output.
#[test]
fn a_build_with_frames_is_portable_and_passes_the_shard_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = images_config(dir.path());

    let out = dir.path().join("out");
    let r = crossview(&[
        "build".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "-w".as_ref(),
        "2".as_ref(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let report = verify(&out).expect("verify");
    assert!(report.ok(), "{:#?}", report.problems);
    assert!(report.frames > 0);
    let stored = std::fs::read_dir(out.join("frames"))
        .expect("frames")
        .count();
    assert_eq!(
        stored, report.frames,
        "each shown frame stored once, nothing else"
    );

    crate::support::shard_contract(&out);
}

/// Every file of a build output that a reader relies on, by relative path.
fn published_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = output_bytes(out);
    add_files(&mut m, out, "frames");
    m.insert(
        "errors.parquet".into(),
        std::fs::read(out.join("errors.parquet")).expect("errors"),
    );
    m
}

/// Killed with SIGKILL at moments spread over a build, then run again: the output is that
/// of an uninterrupted build, and a manifest present after a kill always verifies.
#[test]
fn a_build_killed_at_any_moment_and_rerun_gives_the_same_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = images_config(dir.path());
    let build_to = |out: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_crossview"));
        c.arg("build")
            .arg("--quiet")
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(out)
            .args(["-w", "2"]);
        c
    };
    let reference = dir.path().join("reference");
    let start = std::time::Instant::now();
    let r = build_to(&reference).output().expect("runs");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let full = start.elapsed();
    let expected = published_files(&reference);

    let out = dir.path().join("killed");
    // Kill moments: fixed fractions of an uninterrupted build, from just after the start to
    // just before the end (a seeded spread, the same on every run of the test).
    for (i, fraction) in [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.97]
        .iter()
        .enumerate()
    {
        let mut child = build_to(&out).spawn().expect("spawns");
        std::thread::sleep(full.mul_f64(*fraction));
        let _ = child.kill();
        let _ = child.wait();
        if out.join("manifest.json").exists() {
            let report = verify(&out).expect("verify");
            assert!(
                report.ok(),
                "kill {i}: a manifest that lies: {:#?}",
                report.problems
            );
        }
        let r = build_to(&out).output().expect("runs");
        assert!(
            r.status.success(),
            "rerun {i}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let got = published_files(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "rerun {i}: files differ"
        );
        for (name, bytes) in &got {
            assert!(bytes == &expected[name], "rerun {i}: {name} differs");
        }
        let names: Vec<String> = std::fs::read_dir(out.join("data"))
            .expect("data")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with('.')),
            "leftovers: {names:?}"
        );
        assert!(!out.join(".spill").exists());
        // Start the next round from a half-built state again.
        std::fs::remove_dir_all(&out).expect("rm");
    }
}

/// A rerun over unchanged inputs does no stage work and writes nothing; a touched input or a
/// changed setting makes it build again, to the same bytes when the content is the same.
#[test]
fn a_rerun_over_unchanged_inputs_does_nothing() {
    let (_dir, world, mut cfg, out) = temp_world(4, [2, 1, 1, 1], 2);
    let args = |cfg: &BuildConfig| BuildArgs {
        config: cfg.clone(),
        base: PathBuf::from("."),
        out: out.clone(),
        workers: 2,
        strict: false,
        quiet: true,
        cluster: None,
    };
    let first = build(&args(&cfg)).expect("build");
    assert!(!first.up_to_date);
    let before = output_bytes(&out);
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    let shard = out.join(&first.manifest.shards[0].path);
    let shard_time = stamp(&shard);

    let again = build(&args(&cfg)).expect("rebuild");
    assert!(again.up_to_date, "nothing changed");
    assert_eq!(again.times.candidates_s, 0.0);
    assert_eq!(stamp(&shard), shard_time, "nothing rewritten");
    assert_eq!(output_bytes(&out), before);

    // A touched input file (same content, new modification time): built again, same bytes.
    let labels = std::fs::read_dir(world.join("messytable/labels"))
        .expect("labels")
        .next()
        .expect("a labels file")
        .expect("entry")
        .path();
    let f = std::fs::File::options()
        .append(true)
        .open(&labels)
        .expect("opens");
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .expect("touch");
    drop(f);
    let touched = build(&args(&cfg)).expect("rebuild");
    assert!(!touched.up_to_date);
    assert_eq!(
        stamp(&shard),
        shard_time,
        "a shard with the same bytes keeps its file"
    );
    assert_eq!(output_bytes(&out).len(), before.len());
    for (name, bytes) in output_bytes(&out) {
        if name != "manifest.json" {
            assert!(bytes == before[&name], "{name} changed");
        }
    }

    // A changed setting: built again.
    cfg.qa.seed += 1;
    assert!(!build(&args(&cfg)).expect("rebuild").up_to_date);
    // A deleted shard: built again.
    std::fs::remove_file(&shard).expect("rm");
    let r = build(&args(&cfg)).expect("rebuild");
    assert!(!r.up_to_date && shard.exists());
}

/// Two processes in timely's cluster mode on loopback publish the bytes one process does.
#[test]
fn two_processes_on_loopback_give_the_same_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), "require_images = false");
    let single = dir.path().join("single");
    let r = crossview(&[
        "build".as_ref(),
        "--quiet".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        single.as_os_str(),
        "-w".as_ref(),
        "1".as_ref(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    let hostfile = loopback_hostfile(dir.path());
    let cluster = dir.path().join("cluster");
    let children: Vec<std::process::Child> = (0..2)
        .map(|i| {
            build_command(&cfg, &cluster)
                .args(["-w", "1", "--processes", "2", "--process", &i.to_string()])
                .arg("--hostfile")
                .arg(&hostfile)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawns")
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().expect("waits");
        assert!(
            out.status.success(),
            "process {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (a, b) = (output_bytes(&single), output_bytes(&cluster));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between 1 and 2 processes"
        );
    }
    assert!(verify(&cluster).expect("verify").ok());
}

/// Every build config shipped in configs/build parses (unknown keys are errors) and validates.
#[test]
fn shipped_build_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/build");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("configs/build") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let (cfg, base) =
                BuildConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            assert!(!cfg.sources.is_empty(), "{}", path.display());
            assert_eq!(base, dir);
            // Model files named in a config exist where it says.
            if cfg.masks.segmenter == crossview::stages::masks::SegmenterKind::Onnx {
                assert!(cfg.masks.onnx.encoder.is_file(), "{}", path.display());
                assert!(cfg.masks.onnx.decoder.is_file(), "{}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 3);
}

/// Moves the first box of a MessyTable split file by 3 pixels: a text edit, so only its
/// scene's bytes change.
fn move_first_box(labels: &Path) {
    move_nth_box(labels, 0);
}

/// Moves the `n`-th box of a MessyTable split file (counting from 0, wrapping around) by 3
/// pixels: a text edit, so no other scene's bytes change.
fn move_nth_box(labels: &Path, n: usize) {
    let text = std::fs::read_to_string(labels).expect("labels");
    let boxes: Vec<usize> = text
        .match_indices("\"pos\":[")
        .map(|(i, _)| i + 7)
        .collect();
    let at = boxes[n % boxes.len()];
    let end = at + text[at..].find(',').expect("x1");
    let x1: f64 = text[at..end].trim().parse().expect("number");
    std::fs::write(
        labels,
        format!("{}{:.1}{}", &text[..at], x1 + 3.0, &text[end..]),
    )
    .expect("edit");
}

/// The MMPTrack train split of a world, its first session, and that session's scenes, sorted.
fn mmptrack_scenes(world: &Path) -> (PathBuf, std::ffi::OsString, Vec<String>) {
    let split = world.join("mmptrack/train");
    let session = std::fs::read_dir(split.join("labels"))
        .expect("sessions")
        .next()
        .expect("a session")
        .expect("entry")
        .file_name();
    let mut scenes: Vec<String> = std::fs::read_dir(split.join("labels").join(&session))
        .expect("scenes")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    scenes.sort();
    (split, session, scenes)
}

/// Removes an MMPTrack scene of the first session; with `copy_to`, first copies it under
/// that name instead (a new scene with the same content).
fn mmptrack_scene_edit(world: &Path, scene: &str, copy_to: Option<&str>) {
    let (split, session, _) = mmptrack_scenes(world);
    for kind in ["labels", "topdown_labels", "images"] {
        let d = split.join(kind).join(&session);
        if !d.join(scene).exists() {
            continue;
        }
        match copy_to {
            Some(to) => copy_tree(&d.join(scene), &d.join(to)),
            None => std::fs::remove_dir_all(d.join(scene)).expect("rm"),
        }
    }
}

/// Edits a world as a user might: one MessyTable scene's box moved (a text edit: the other
/// scenes' bytes stay), one MMPTrack scene removed and another added (a copy under a new
/// name). Returns (the added scene's name, the removed one's).
fn edit_world(world: &Path) -> (String, String) {
    move_first_box(&world.join("messytable/labels/train.json"));
    let (_, _, scenes) = mmptrack_scenes(world);
    assert!(scenes.len() >= 2, "{scenes:?}");
    let removed = scenes.last().expect("scene").clone();
    let source = scenes[0].clone();
    let env = &source[..source.rfind('_').expect("env_n")];
    let added = format!("{env}_9");
    mmptrack_scene_edit(world, &removed, None);
    mmptrack_scene_edit(world, &source, Some(&added));
    (added, removed)
}

/// Edits, adds and removes scenes, then rebuilds over the published output: the result is
/// byte-identical to a from-scratch build of the new inputs, and a shard's file is rewritten
/// only when its bytes change.
#[test]
fn an_incremental_rebuild_equals_a_from_scratch_build() {
    let (dir, world, cfg, out) = temp_world(9, [6, 3, 1, 1], 8);
    let first = run_build(cfg.clone(), &out, 2);
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    let before: BTreeMap<String, (std::time::SystemTime, Vec<u8>)> = first
        .shards
        .iter()
        .map(|s| {
            let p = out.join(&s.path);
            (
                s.path.clone(),
                (stamp(&p), std::fs::read(&p).expect("reads")),
            )
        })
        .collect();

    let (added, removed) = edit_world(&world);

    let second_summary = crate::support::build_quietly(cfg.clone(), &out, 2);
    // Only the edited and the added scene are ranked again; the rest come from the cache.
    assert_eq!(second_summary.ranked_scenes, 2);
    // Unread: the five unedited MessyTable scenes (their split file changed, their text did
    // not), the two MMPTrack scenes left as they were (their tree changed, their folders did
    // not) and the untouched EgoHumans and Ego-Exo4D trees; the added scene is read.
    assert_eq!(second_summary.unread_scenes, 5 + 2 + 1 + 1);
    let second = second_summary.manifest;
    let scratch = dir.path().join("scratch");
    run_build(cfg, &scratch, 1);
    let (a, b) = (published_files(&out), published_files(&scratch));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name}: incremental differs from scratch"
        );
    }
    let ids: Vec<&str> = second.scenes.iter().map(|s| s.scene_id.as_str()).collect();
    assert!(ids.iter().any(|s| s.contains(&added)), "{ids:?}");
    assert!(!ids.iter().any(|s| s.ends_with(&removed)), "{ids:?}");

    let mut rewritten = 0;
    for s in &second.shards {
        let p = out.join(&s.path);
        let (time, bytes) = &before[&s.path];
        let same_bytes = std::fs::read(&p).expect("reads") == *bytes;
        assert_eq!(
            stamp(&p) == *time,
            same_bytes,
            "{}: rewritten iff changed",
            s.path
        );
        rewritten += usize::from(!same_bytes);
    }
    assert!(rewritten >= 1, "the edits change some shard");
    assert!(
        rewritten < second.shards.len(),
        "{rewritten} of {} shards rewritten",
        second.shards.len()
    );
    eprintln!("{rewritten} of {} shards rewritten", second.shards.len());
}

/// A shard made again after one of its scenes changed takes its other scenes' rows from its
/// published file (what each scene's rows were made from is recorded beside the output), and
/// its bytes are still those of a from-scratch build; without the records, or with them
/// damaged, every scene is made again, to the same bytes.
#[test]
fn a_remade_shard_takes_its_unchanged_scenes_rows_from_the_published_file() {
    // One shard per split: the edited scene shares its shard with the others; row groups
    // aiming at one writer batch, so the shard has several.
    let (dir, world, mut cfg, out) = temp_world(31, [6, 1, 1, 1], 1);
    cfg.output.row_group_rows = crossview::build::SHARD_BATCH_ROWS;
    run_build(cfg.clone(), &out, 2);
    let labels = world.join("messytable/labels/train.json");
    let original = std::fs::read(&labels).expect("labels");
    let scratch_of = |name: &str| {
        let scratch = dir.path().join(name);
        run_build(cfg.clone(), &scratch, 1);
        published_files(&scratch)
    };

    move_first_box(&labels);
    let summary = crate::support::build_quietly(cfg.clone(), &out, 2);
    let train_scenes = (summary.manifest.shards.iter())
        .find(|s| s.split == Split::Train)
        .expect("a train shard")
        .scenes
        .len() as u64;
    assert!(train_scenes >= 3, "{train_scenes} train scenes");
    assert!(
        summary.published_scenes >= 1 && summary.published_scenes < train_scenes,
        "{} of {train_scenes} scenes' rows from the published shard",
        summary.published_scenes
    );
    // Row groups away from the edited scene's are copied as they are, its own written.
    let groups = (summary.manifest.shards.iter())
        .map(|s| {
            let reader = RecordReader::<QaSample>::open(out.join(&s.path)).expect("shard");
            reader.num_row_groups() as u64
        })
        .sum::<u64>();
    assert!(
        summary.copied_row_groups >= 1 && summary.copied_row_groups < groups,
        "{} of {groups} row groups copied",
        summary.copied_row_groups
    );
    assert_eq!(published_files(&out), scratch_of("scratch-edited"));

    // Without the scene records (or with a damaged one) the shard is made whole.
    std::fs::write(&labels, &original).expect("restore");
    let records = out.join(".cache/shard-scenes");
    for e in std::fs::read_dir(&records).expect("records") {
        let path = e.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("record");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, bytes).expect("damage");
    }
    let summary = crate::support::build_quietly(cfg.clone(), &out, 2);
    assert_eq!(summary.published_scenes, 0);
    assert_eq!(published_files(&out), scratch_of("scratch-restored"));

    // With the records whole but the published file not the one recorded, the scenes the
    // records offer are made too.
    move_first_box(&labels);
    // (The edited scene's shard: a shard whose inputs are unchanged keeps its file unread.)
    for s in (summary.manifest.shards.iter()).filter(|s| s.split == Split::Train) {
        let path = out.join(&s.path);
        let mut bytes = std::fs::read(&path).expect("shard");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&path, bytes).expect("tamper");
    }
    let summary = crate::support::build_quietly(cfg.clone(), &out, 2);
    assert_eq!(summary.published_scenes, 0);
    assert_eq!(summary.copied_row_groups, 0);
    assert_eq!(published_files(&out), scratch_of("scratch-edited-again"));
}

/// A shard made whole needs the records of scenes the rebuild took from the read cache
/// unread: without the scene records cache they are read from their trees again, and the
/// output is still that of a from-scratch build.
#[test]
fn unread_scenes_are_read_from_their_trees_when_their_records_are_gone() {
    let (dir, world, cfg, out) = temp_world(13, [8, 2, 1, 1], 2);
    run_build(cfg.clone(), &out, 2);
    move_first_box(&world.join("messytable/labels/train.json"));
    std::fs::remove_dir_all(out.join(".cache/scenes")).expect("records cache");
    // Without the shards' scene records, the edited scene's shard is made whole.
    std::fs::remove_dir_all(out.join(".cache/shard-scenes")).expect("shard scene records");
    let rebuilt = crate::support::build_quietly(cfg.clone(), &out, 2);
    assert_eq!(rebuilt.ranked_scenes, 1);
    assert!(rebuilt.unread_scenes >= 7, "{}", rebuilt.unread_scenes);
    // With two shards per split, the edited scene's shard holds other scenes.
    assert!(rebuilt.reloaded_scenes >= 1, "{}", rebuilt.reloaded_scenes);
    let scratch = dir.path().join("scratch");
    run_build(cfg, &scratch, 1);
    let (a, b) = (published_files(&out), published_files(&scratch));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(bytes == &b[name], "{name}: rebuild differs from scratch");
    }
}

/// A child process stopped when the test ends, also when it fails: a watcher left running
/// would outlive its temporary tree.
/// `crossview build --quiet --config CFG --out OUT`, to add to and run.
fn build_command(cfg: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crossview"));
    c.arg("build")
        .arg("--quiet")
        .arg("--config")
        .arg(cfg)
        .arg("--out")
        .arg(out);
    c
}

/// A hostfile of two free loopback ports (released just before the processes bind them).
fn loopback_hostfile(dir: &Path) -> PathBuf {
    let ports: Vec<u16> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect();
    let hostfile = dir.join("hosts");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1]),
    )
    .expect("hostfile");
    hostfile
}

/// Waits for watchers (`--watch` processes, stopped when `watchers` drops) to publish `out`,
/// makes `edit`, and waits for them to publish it (the manifest's input signature changes).
fn republished_after<W>(out: &Path, watchers: W, edit: impl FnOnce()) {
    let signature = || {
        settled_manifest(out)
            .map(|m| m.input_signature)
            .filter(|s| !s.is_empty())
    };
    let wait_for = |done: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !done() {
            assert!(
                start.elapsed().as_secs() < 120,
                "the watcher did not publish"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for(&|| signature().is_some());
    let first = signature().expect("published");
    edit();
    wait_for(&|| signature().is_some_and(|s| s != first));
    drop(watchers);
}

/// The published files of a from-scratch `crossview build` with the config file `cfg`, into
/// `dir/scratch`.
fn scratch_build(cfg: &Path, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let scratch = dir.join("scratch");
    let r = crossview(&[
        "build".as_ref(),
        "--quiet".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        scratch.as_os_str(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    published_files(&scratch)
}

/// The manifest of `out` once its publication has settled: the manifest is the commit point
/// and stale shards are removed after it, so a reader that stops a watcher as soon as the
/// manifest appears can still see the previous epoch's shards.
fn settled_manifest(out: &Path) -> Option<Manifest> {
    let manifest = Manifest::read(out).ok()?;
    let on_disk: std::collections::BTreeSet<String> = std::fs::read_dir(out.join("data"))
        .ok()?
        .flatten()
        .map(|e| format!("data/{}", e.file_name().to_string_lossy()))
        .filter(|rel| rel.ends_with(".parquet"))
        .collect();
    let listed: std::collections::BTreeSet<String> =
        manifest.shards.iter().map(|s| s.path.clone()).collect();
    (on_disk == listed).then_some(manifest)
}

struct StopOnDrop(std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small world of seed `seed` (no images), its config and output folder, and a `--watch`
/// process building it.
fn watched_world(seed: u64) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf, StopOnDrop) {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world");
    write_world(&world, seed, [2, 1, 1, 1]);
    let cfg = write_config_for(dir.path(), &world, "require_images = false");
    let out = dir.path().join("out");
    let watcher = StopOnDrop(
        build_command(&cfg, &out)
            .args(["--watch", "--interval-ms", "100"])
            .spawn()
            .expect("spawns"),
    );
    (dir, world, cfg, out, watcher)
}

/// `--watch` rebuilds when an input changes: after an edit the published output is that of
/// a from-scratch build of the edited inputs.
#[test]
fn watch_republishes_after_an_input_changes() {
    let (dir, world, cfg, out, watcher) = watched_world(5);
    republished_after(&out, watcher, || {
        move_first_box(&world.join("messytable/labels/train.json"));
    });
    assert_same_files(&published_files(&out), &scratch_build(&cfg, dir.path()));
}

/// `--watch` publishes the output again when it is removed, though no input changed.
#[test]
fn watch_publishes_a_removed_output_again() {
    let (dir, _, cfg, out, watcher) = watched_world(7);
    let published = || settled_manifest(&out).is_some();
    let wait_for = |what: &str| {
        let start = std::time::Instant::now();
        while !published() {
            assert!(start.elapsed().as_secs() < 120, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for("the watcher did not publish");
    // Tried again while the watcher may still be pruning its caches after publishing.
    let removed = (0..40).any(|_| {
        let done = std::fs::remove_dir_all(&out).is_ok();
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        done
    });
    assert!(removed, "the output could not be removed");
    wait_for("the watcher did not publish the removed output again");
    drop(watcher);
    assert_same_files(&published_files(&out), &scratch_build(&cfg, dir.path()));
}

/// `--watch` takes an edit of its config file: a new graph with the new settings publishes
/// what a from-scratch build with them does (the edit used to be ignored).
#[test]
fn watch_rebuilds_with_an_edited_config() {
    let (dir, _, cfg, out, watcher) = watched_world(8);
    let shards = || settled_manifest(&out).map_or(0, |m| m.shards.len());
    let wait_for_shards = |n: usize| {
        let start = std::time::Instant::now();
        while shards() != n {
            assert!(start.elapsed().as_secs() < 120, "no output of {n} shards");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for_shards(4);
    let edited = std::fs::read_to_string(&cfg)
        .expect("config")
        .replace("shards_per_split = 2", "shards_per_split = 3");
    assert_ne!(edited, std::fs::read_to_string(&cfg).expect("config"));
    std::fs::write(&cfg, edited).expect("edits the config");
    wait_for_shards(6);
    drop(watcher);
    assert_same_files(&published_files(&out), &scratch_build(&cfg, dir.path()));
}

/// `--watch` refuses a config edit it cannot read and runs no epoch for it (nothing else
/// changed); the next valid edit is built.
#[test]
fn watch_runs_no_epoch_for_a_refused_config_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = dir.path().join("world");
    write_world(&world, 10, [2, 1, 1, 1]);
    let cfg = write_config_for(dir.path(), &world, "require_images = false");
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_crossview"))
        .args(["build", "--watch", "--interval-ms", "100", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let gather = |mut from: Box<dyn std::io::Read + Send>| {
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let into = text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                into.lock()
                    .expect("not poisoned")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        text
    };
    let stdout = gather(Box::new(child.stdout.take().expect("stdout")));
    let stderr = gather(Box::new(child.stderr.take().expect("stderr")));
    let watcher = StopOnDrop(child);
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while !done() {
            assert!(start.elapsed().as_secs() < 120, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let shards = || settled_manifest(&out).map_or(0, |m| m.shards.len());
    let epochs = || {
        stdout
            .lock()
            .expect("not poisoned")
            .matches(" rows in ")
            .count()
    };
    wait_until("no first output", &|| shards() == 4 && epochs() == 1);
    let good = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(&cfg, format!("{good}\nno_such_setting = 1\n")).expect("edits");
    wait_until("the edit was not refused", &|| {
        stderr
            .lock()
            .expect("not poisoned")
            .contains("the watch goes on with the settings it has")
    });
    // Several looks at the inputs after the refusal.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(epochs(), 1, "an epoch ran for the refused edit");
    std::fs::write(
        &cfg,
        good.replace("shards_per_split = 2", "shards_per_split = 3"),
    )
    .expect("edits");
    wait_until("the valid edit was not built", &|| shards() == 6);
    wait_until("no summary of the valid edit's epoch", &|| epochs() == 2);
    drop(watcher);
    assert_same_files(&published_files(&out), &scratch_build(&cfg, dir.path()));
}

/// A live build (the graph kept alive between builds, as `--watch` keeps it) fed one change
/// after another: each epoch ranks only the changed scenes and publishes, byte for byte, a
/// from-scratch build of the inputs as they are then; an epoch without change ranks and
/// rewrites nothing; a removed tree's scenes leave the graph while the other trees move to
/// other workers.
#[test]
fn a_live_build_fed_changes_publishes_what_scratch_builds_do() {
    let (dir, world, cfg, out) = temp_world(9, [6, 3, 1, 1], 8);
    let args = crate::support::build_args(cfg.clone(), &out, 2);
    let mut live = LiveBuild::start(&args).expect("starts");
    // A from-scratch build's files, and its corpus counts (the live graph's come from
    // adding and retracting scenes' counts).
    let scratch_of = |name: &str| {
        let scratch = dir.path().join(name);
        let summary = crate::support::build_quietly(cfg.clone(), &scratch, 1);
        (published_files(&scratch), summary.stats)
    };
    let first = live.build().expect("epoch 0");
    assert_eq!(first.epoch, 0);
    assert_eq!(first.ranked_scenes, first.manifest.scenes.len() as u64);
    assert_eq!(
        (published_files(&out), first.stats),
        scratch_of("scratch-0")
    );

    let (added, removed) = edit_world(&world);
    let second = live.build().expect("epoch 1");
    assert_eq!(second.epoch, 1);
    // The edited and the added scene are ranked; the removed scene and the edited one's
    // old version are retracted with their cached ranks.
    assert_eq!(second.ranked_scenes, 2);
    // Not read: the five unedited MessyTable scenes (their split file was read again), the
    // two MMPTrack scenes whose folders were left as they were, and the EgoHumans and
    // Ego-Exo4D trees, which the graph holds.
    assert_eq!(second.unread_scenes, 5 + 2 + 1 + 1);
    let ids: Vec<&str> = (second.manifest.scenes.iter())
        .map(|s| s.scene_id.as_str())
        .collect();
    assert!(ids.iter().any(|s| s.contains(&added)), "{ids:?}");
    assert!(!ids.iter().any(|s| s.ends_with(&removed)), "{ids:?}");
    let (after_edit, edited_stats) = scratch_of("scratch-1");
    assert_same_files(&published_files(&out), &after_edit);
    assert_eq!(second.stats, edited_stats);

    let unchanged = live.build().expect("epoch 2");
    assert_eq!((unchanged.epoch, unchanged.ranked_scenes), (2, 0));
    assert_eq!(
        unchanged.unread_scenes,
        unchanged.manifest.scenes.len() as u64
    );
    assert_eq!(unchanged.published_scenes, 0, "no shard is made again");
    assert_same_files(&published_files(&out), &after_edit);
    assert_eq!(unchanged.stats, edited_stats);

    std::fs::remove_dir_all(world.join("egoexo4d")).expect("rm");
    let fewer = live.build().expect("epoch 3");
    assert_eq!((fewer.epoch, fewer.ranked_scenes), (3, 0));
    assert!(
        (fewer.manifest.scenes.iter())
            .all(|s| s.source != crossview::schemas::SourceKind::EgoExo4d),
        "the removed tree's scenes are gone"
    );
    assert_eq!(
        (published_files(&out), fewer.stats),
        scratch_of("scratch-3")
    );
}

/// A live epoch that fails (`--strict` and a damaged input) publishes nothing and leaves the
/// previous output as it was; the graph holds the damaged inputs all the same, and the epoch
/// after the repair publishes what a from-scratch build of the repaired inputs does.
#[test]
fn a_failed_live_epoch_keeps_the_output_and_the_next_one_recovers() {
    let (dir, world, cfg, out) = temp_world(5, [4, 1, 1, 1], 4);
    let args = BuildArgs {
        strict: true,
        ..crate::support::build_args(cfg.clone(), &out, 2)
    };
    let mut live = LiveBuild::start(&args).expect("starts");
    let first = live.build().expect("epoch 0");
    assert!(
        first.errors.iter().all(|e| !e.class.is_error()),
        "a clean world"
    );
    let published = published_files(&out);

    // Cut the MessyTable split file mid-way: its later scenes are gone, an input error.
    let labels = world.join("messytable/labels/train.json");
    let original = std::fs::read(&labels).expect("labels");
    std::fs::write(&labels, &original[..original.len() * 2 / 3]).expect("cut");
    let failed = live.build().expect_err("strict fails on the cut file");
    assert!(format!("{failed:#}").contains("--strict"), "{failed:#}");
    assert_same_files(&published_files(&out), &published);

    std::fs::write(&labels, &original).expect("repair");
    let repaired = live.build().expect("epoch 2");
    assert_eq!(repaired.epoch, 2);
    let scratch = dir.path().join("scratch");
    run_build(cfg, &scratch, 1);
    assert_same_files(&published_files(&out), &published_files(&scratch));
    // The same shards and errors as before the cut (the manifest differs: it records the
    // inputs' stamps).
    let mut now = published_files(&out);
    let mut before = published;
    now.remove("manifest.json");
    before.remove("manifest.json");
    assert_same_files(&now, &before);
}

/// A live build whose output folder was removed (caches and all) publishes it whole at its
/// next epoch, though no input changed (every epoch after used to fail at publishing).
#[test]
fn a_live_build_whose_output_was_removed_publishes_it_whole_at_the_next_epoch() {
    let (dir, _, cfg, out) = temp_world(6, [3, 2, 1, 1], 2);
    let mut live =
        LiveBuild::start(&crate::support::build_args(cfg.clone(), &out, 2)).expect("starts");
    live.build().expect("epoch 0");
    std::fs::remove_dir_all(&out).expect("removes the output");
    let again = live.build().expect("epoch 1");
    assert_eq!(again.epoch, 1);
    let scratch = dir.path().join("scratch");
    run_build(cfg, &scratch, 1);
    assert_same_files(&published_files(&out), &published_files(&scratch));
}

/// Asserts two outputs (file name -> bytes) are the same, naming the files that differ.
fn assert_same_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let differing: Vec<&String> = a
        .iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|(k, _)| k)
        .collect();
    assert!(differing.is_empty(), "files differ: {differing:?}");
}

/// `--watch` in cluster mode: process 0 starts each epoch and publishes, process 1 takes
/// part in it; after an edit the output is that of a from-scratch build of the edited inputs.
#[test]
fn a_live_build_in_two_processes_republishes_what_scratch_builds_do() {
    let (dir, world, _, out) = temp_world(9, [6, 3, 1, 1], 2);
    let cfg = write_config_for(dir.path(), &world, "require_images = false");
    // Killed at the end, process 1 would report process 0's socket closing: no stderr.
    let processes = cluster_watchers(&cfg, &out, dir.path(), std::process::Stdio::null);
    republished_after(&out, processes, || {
        edit_world(&world);
    });
    assert_same_files(&published_files(&out), &scratch_build(&cfg, dir.path()));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["build"]["processes"], 2);
    assert!(
        report["build"]["epoch"].as_u64() >= Some(1),
        "a later epoch"
    );
}

/// Two `--watch` processes of one cluster on loopback, one worker each, their stderr
/// going to `stderr()`.
fn cluster_watchers(
    cfg: &Path,
    out: &Path,
    dir: &Path,
    stderr: impl Fn() -> std::process::Stdio,
) -> Vec<StopOnDrop> {
    let hostfile = loopback_hostfile(dir);
    (0..2)
        .map(|i| {
            StopOnDrop(
                build_command(cfg, out)
                    .args(["-w", "1", "--processes", "2", "--process", &i.to_string()])
                    .arg("--hostfile")
                    .arg(&hostfile)
                    .args(["--watch", "--interval-ms", "100"])
                    .stdout(std::process::Stdio::null())
                    .stderr(stderr())
                    .spawn()
                    .expect("spawns"),
            )
        })
        .collect()
}

/// When a process of a live cluster dies, the other one stops with an error that says so,
/// whichever died (it used to wait for it for ever), and the published output stays.
#[test]
fn a_live_cluster_stops_with_an_error_when_a_process_dies() {
    let (dir, world, _, _) = temp_world(9, [3, 2, 1, 1], 2);
    let cfg = write_config_for(dir.path(), &world, "require_images = false");
    for dies in [1, 0] {
        let out = dir.path().join(format!("out-{dies}"));
        let mut processes = cluster_watchers(&cfg, &out, dir.path(), std::process::Stdio::piped);
        let start = std::time::Instant::now();
        while settled_manifest(&out).is_none() {
            assert!(
                start.elapsed().as_secs() < 120,
                "the cluster did not publish"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let published = published_files(&out);
        processes[dies].0.kill().expect("kills");
        let survivor = &mut processes[1 - dies].0;
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = survivor.try_wait().expect("waits") {
                break status;
            }
            assert!(
                start.elapsed().as_secs() < 60,
                "process {} went on without process {dies}",
                1 - dies
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut survivor.stderr.take().expect("piped"), &mut stderr)
            .expect("reads");
        assert!(!status.success(), "{stderr}");
        assert!(
            stderr.contains("the connection to another process of the cluster was lost"),
            "{stderr}"
        );
        assert_same_files(&published_files(&out), &published);
    }
}

/// A live build fed random changes, epoch after epoch (boxes moved in MessyTable scenes,
/// MMPTrack scenes removed and added, whole trees removed and put back), publishes after
/// each epoch what a from-scratch build of the inputs as they are then does, files and
/// corpus counts.
#[test]
fn a_live_build_fed_random_changes_publishes_what_scratch_builds_do() {
    use rand::{Rng, SeedableRng};
    let (dir, world, cfg, out) = temp_world(13, [5, 4, 1, 1], 4);
    let pristine = dir.path().join("pristine");
    copy_tree(&world, &pristine);
    let args = crate::support::build_args(cfg.clone(), &out, 2);
    let mut live = LiveBuild::start(&args).expect("starts");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut added = 0;
    for epoch in 0..8u32 {
        let mut done = Vec::new();
        for _ in 0..rng.random_range(1..=2) * u32::from(epoch > 0) {
            let (_, _, scenes) = mmptrack_scenes(&world);
            match rng.random_range(0..4) {
                0 => {
                    let n = rng.random_range(0..1000);
                    move_nth_box(&world.join("messytable/labels/train.json"), n);
                    done.push(format!("moved box {n}"));
                }
                1 if scenes.len() > 1 => {
                    let scene = &scenes[rng.random_range(0..scenes.len())];
                    mmptrack_scene_edit(&world, scene, None);
                    done.push(format!("removed {scene}"));
                }
                2 => {
                    let scene = &scenes[rng.random_range(0..scenes.len())];
                    let env = &scene[..scene.rfind('_').expect("env_n")];
                    added += 1;
                    let new = format!("{env}_{}", 90 + added);
                    mmptrack_scene_edit(&world, scene, Some(&new));
                    done.push(format!("copied {scene} to {new}"));
                }
                _ => {
                    let tree = ["egohumans", "egoexo4d"][rng.random_range(0..2)];
                    if world.join(tree).exists() {
                        std::fs::remove_dir_all(world.join(tree)).expect("rm");
                        done.push(format!("removed {tree}"));
                    } else {
                        copy_tree(&pristine.join(tree), &world.join(tree));
                        done.push(format!("put back {tree}"));
                    }
                }
            }
        }
        let summary = live.build().expect("an epoch");
        assert_eq!(summary.epoch, epoch);
        let scratch = dir.path().join(format!("scratch-{epoch}"));
        let expected = crate::support::build_quietly(cfg.clone(), &scratch, 1);
        eprintln!("epoch {epoch}: {done:?}, {} ranked", summary.ranked_scenes);
        assert_same_files(&published_files(&out), &published_files(&scratch));
        assert_eq!(summary.stats, expected.stats, "epoch {epoch}: {done:?}");
    }
}
