//! Source loaders against the synthetic truth: every synth profile loads back to its `_truth/`
//! sidecar (scenes, ids, boxes, camera centres), and `inspect` reports it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crossview::schemas::{
    ArrowRecord, Camera, ErrorClass, InputError, RecordReader, Scene, TruthInstance,
    TruthObservation, TruthState,
};
use crossview::stages::sources::{self, SceneData, SourceOptions};
use crossview::stages::synth::{self, Profile, SynthOptions};

fn truth<T: ArrowRecord>(root: &Path, table: &str) -> Vec<T> {
    RecordReader::<T>::read_all(root.join("_truth").join(format!("{table}.parquet")))
        .expect("truth table")
}

fn synth_tree(profile: &dyn Profile, root: &Path, seed: u64, images: bool) {
    let opts = SynthOptions {
        seed,
        scenes: 3,
        images,
        max_side: 320,
        frames: Some(6),
    };
    synth::run(profile, root, &opts).expect("synth");
}

fn load(root: &Path, require_images: bool) -> Vec<SceneData> {
    let opts = SourceOptions {
        require_images,
        ..SourceOptions::default()
    };
    let reader = sources::open(root, None, &opts).expect("detected");
    let (scenes, errors) = sources::read_all(reader.as_ref()).expect("reads");
    assert!(errors.is_empty(), "{errors:#?}");
    for s in &scenes {
        assert!(s.errors.is_empty(), "{:#?}", s.errors);
    }
    scenes
}

type ViewKey = (String, String, u32, String);

/// Loaded observations must be exactly the truth's annotated ones; returns both by key.
fn matched(
    scenes: &[SceneData],
    root: &Path,
) -> (
    BTreeMap<ViewKey, crossview::schemas::Observation>,
    BTreeMap<ViewKey, TruthObservation>,
) {
    let loaded: BTreeMap<ViewKey, _> = scenes
        .iter()
        .flat_map(|s| s.observations.iter())
        .map(|o| {
            (
                (
                    o.scene_id.clone(),
                    o.camera_id.clone(),
                    o.frame_index,
                    o.instance_id.clone(),
                ),
                o.clone(),
            )
        })
        .collect();
    let expected: BTreeMap<ViewKey, TruthObservation> =
        crate::support::truth::observations_by_view(root)
            .into_iter()
            .filter(|(_, o)| o.annotated)
            .collect();
    let a: BTreeSet<&ViewKey> = loaded.keys().collect();
    let b: BTreeSet<&ViewKey> = expected.keys().collect();
    assert_eq!(
        a, b,
        "loaded observations differ from the truth's annotated ones"
    );
    (loaded, expected)
}

/// Scene ids equal and camera centres within 1 mm of the truth.
fn check_scenes_and_cameras(scenes: &[SceneData], root: &Path) {
    let ids: BTreeSet<String> = scenes
        .iter()
        .filter_map(|s| s.scene.as_ref().map(|x| x.scene_id.clone()))
        .collect();
    let truth_ids: BTreeSet<String> = truth::<Scene>(root, "scenes")
        .into_iter()
        .map(|s| s.scene_id)
        .collect();
    assert_eq!(ids, truth_ids);
    let cams: BTreeMap<(String, String), Camera> = truth::<Camera>(root, "cameras")
        .into_iter()
        .map(|c| ((c.scene_id.clone(), c.camera_id.clone()), c))
        .collect();
    let mut n = 0;
    for c in scenes.iter().flat_map(|s| s.cameras.iter()) {
        let t = &cams[&(c.scene_id.clone(), c.camera_id.clone())];
        let (Some(a), Some(b)) = (c.world_to_camera, t.world_to_camera) else {
            continue;
        };
        let d = (a.camera_center() - b.camera_center()).length();
        assert!(
            d < 1e-3,
            "{} {}: centre off by {d} m",
            c.scene_id,
            c.camera_id
        );
        assert_eq!(
            (c.model.width(), c.model.height()),
            (t.model.width(), t.model.height())
        );
        assert!((c.model.focal().0 - t.model.focal().0).abs() < 1e-3);
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn messytable_loads_back_to_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::messytable::MessyTable, dir.path(), 11, true);
    let scenes = load(dir.path(), true);
    check_scenes_and_cameras(&scenes, dir.path());
    let (loaded, expected) = matched(&scenes, dir.path());
    let classes: BTreeMap<(String, String), TruthInstance> =
        truth::<TruthInstance>(dir.path(), "instances")
            .into_iter()
            .map(|i| ((i.scene_id.clone(), i.instance_id.clone()), i))
            .collect();
    for (k, o) in &loaded {
        // Boxes are tight around the visible pixels, exactly (inclusive indices converted).
        let t = expected[k]
            .bbox
            .expect("annotated observations are visible");
        let b = o.bbox.expect("MessyTable boxes");
        let d = b
            .to_array()
            .iter()
            .zip(t.to_array())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d <= 0.5, "{k:?}: {b:?} vs {t:?}");
        let inst = &classes[&(k.0.clone(), k.3.clone())];
        assert_eq!(o.category, format!("cls{}", inst.coarse_class));
        assert_eq!(
            o.subcategory.as_deref(),
            Some(format!("subcls{}", inst.fine_class).as_str())
        );
    }
}

#[test]
fn mmptrack_loads_back_to_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::mmptrack::MmpTrack, dir.path(), 12, true);
    let scenes = load(dir.path(), true);
    check_scenes_and_cameras(&scenes, dir.path());
    let (loaded, expected) = matched(&scenes, dir.path());
    let states: BTreeMap<(String, u32, String), TruthState> =
        truth::<TruthState>(dir.path(), "states")
            .into_iter()
            .map(|s| {
                (
                    (s.scene_id.clone(), s.frame_index, s.instance_id.clone()),
                    s,
                )
            })
            .collect();
    for (k, o) in &loaded {
        // Projected 3D boxes contain the visible pixels.
        if let Some(t) = expected[k].bbox {
            assert!(
                o.bbox.expect("box").contains(&t, 2.0),
                "{k:?}: {:?} misses {t:?}",
                o.bbox
            );
        }
        // The top-down ground point lies under the person's box centre.
        let s = &states[&(k.0.clone(), k.2, k.3.clone())];
        let g = o.world_position.expect("top-down position");
        assert!(g.z.abs() < 1e-9);
        assert!(
            (g.truncate() - s.position.truncate()).length() < 0.01,
            "{k:?}: {g:?} vs {:?}",
            s.position
        );
    }
}

#[test]
fn annotation_only_trees_load_at_native_size() {
    for profile in [
        &synth::messytable::MessyTable as &dyn Profile,
        &synth::mmptrack::MmpTrack,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        synth_tree(profile, dir.path(), 13, false);
        let scenes = load(dir.path(), false);
        check_scenes_and_cameras(&scenes, dir.path());
        matched(&scenes, dir.path());
    }
}

#[test]
fn inspect_reports_counts_as_json_and_writes_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::messytable::MessyTable, dir.path(), 14, true);
    let tables = dir.path().join("tables");
    let out = Command::new(env!("CARGO_BIN_EXE_crossview"))
        .args(["inspect", "--json", "--out"])
        .arg(&tables)
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let annotated = truth::<TruthObservation>(dir.path(), "observations")
        .iter()
        .filter(|o| o.annotated)
        .count();
    assert_eq!(v["source"], "messytable");
    assert_eq!(v["scenes"], 3);
    assert_eq!(v["cameras"], 27);
    assert_eq!(v["frames"], 27);
    assert_eq!(v["observations"].as_u64(), Some(annotated as u64));
    assert!(v["errors"].as_array().expect("errors").is_empty());
    let n =
        RecordReader::<crossview::schemas::Observation>::open(tables.join("observations.parquet"))
            .expect("table")
            .num_rows();
    assert_eq!(n, annotated as u64);
    for t in ["scenes", "cameras", "frames", "absences", "errors"] {
        assert!(tables.join(format!("{t}.parquet")).exists(), "{t}");
    }
}

#[test]
fn self_checks_warn_when_the_other_reading_fits_better() {
    use crossview::schemas::ErrorClass;
    use crossview::stages::sources::MmpExtrinsics;
    // MMPTrack read with the wrong extrinsic direction: ground points miss the boxes' feet.
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::mmptrack::MmpTrack, dir.path(), 15, true);
    let read = |reading| {
        let opts = SourceOptions {
            mmptrack_extrinsics: reading,
            ..SourceOptions::default()
        };
        let reader = sources::open(dir.path(), None, &opts).expect("opens");
        sources::read_all(reader.as_ref()).expect("reads").1
    };
    assert!(read(MmpExtrinsics::CameraToWorld).is_empty());
    let warned = read(MmpExtrinsics::WorldToCamera);
    assert!(warned.iter().any(|e| e.class == ErrorClass::Suspicious && e.reason.contains("fits the data better")), "{warned:#?}");
    assert!(warned.iter().all(|e| !e.class.is_error()));

    // MessyTable translations in millimetres, read as metres: a rig hundreds of metres wide.
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::messytable::MessyTable, dir.path(), 16, false);
    let scale_all = |f: &Path| {
        let text = std::fs::read_to_string(f).expect("labels");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        for s in v["scenes"].as_object_mut().expect("scenes").values_mut() {
            for c in s["cameras"].as_object_mut().expect("cameras").values_mut() {
                for t in 0..3 {
                    let x = c["extrinsics"][t].as_f64().expect("number");
                    c["extrinsics"][t] = serde_json::json!(x * 1000.0);
                }
            }
        }
        std::fs::write(f, serde_json::to_vec(&v).expect("json")).expect("write");
    };
    for e in std::fs::read_dir(dir.path().join("labels")).expect("labels") {
        scale_all(&e.expect("entry").path());
    }
    let (_, tree) = crate::support::load_tree(
        dir.path(),
        &SourceOptions {
            require_images: false,
            ..SourceOptions::default()
        },
    );
    assert!(
        tree.iter().any(|e| e.class == ErrorClass::Suspicious
            && e.reason.contains("millimetres")
            && e.reason.ends_with("translation scale to 0.001)")),
        "{tree:#?}"
    );
    let fixed = SourceOptions {
        require_images: false,
        messytable_translation_scale: 0.001,
        ..SourceOptions::default()
    };
    let reader = sources::open(dir.path(), None, &fixed).expect("opens");
    let (scenes, tree) = sources::read_all(reader.as_ref()).expect("reads");
    assert!(tree.is_empty(), "{tree:#?}");
    check_scenes_and_cameras(&scenes, dir.path());
}

#[test]
fn egoexo4d_loads_back_to_truth() {
    use crossview::schemas::Frame;
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        seed: 17,
        scenes: 3,
        images: true,
        max_side: 200,
        frames: Some(61),
    };
    synth::run(&synth::egoexo4d::EgoExo4d, dir.path(), &opts).expect("synth");
    let scenes = load(dir.path(), true);
    check_scenes_and_cameras(&scenes, dir.path());
    let (loaded, expected) = matched(&scenes, dir.path());
    for (k, o) in &loaded {
        let got = &o.mask.as_ref().expect("mask").rle;
        let want = expected[k].modal.as_ref().expect("truth mask").to_rle();
        assert_eq!(got, &want, "{k:?}: mask differs");
    }
    // Absences: annotated frames where an object shows no pixel in that view.
    let truth_obs = truth::<TruthObservation>(dir.path(), "observations");
    for a in scenes.iter().flat_map(|s| s.absences.iter()) {
        assert_eq!(a.frame_index % 30, 0);
        let seen = truth_obs.iter().any(|o| {
            o.scene_id == a.scene_id
                && o.camera_id == a.camera_id
                && o.frame_index == a.frame_index
                && o.instance_id == a.instance_id
                && o.modal_area > 0
        });
        assert!(!seen, "{a:?} is visible in the truth");
    }
    assert!(scenes.iter().map(|s| s.absences.len()).sum::<usize>() > 0);
    // Ego poses per frame match the truth.
    let frames: BTreeMap<(String, String, u32), Frame> = truth::<Frame>(dir.path(), "frames")
        .into_iter()
        .map(|f| ((f.scene_id.clone(), f.camera_id.clone(), f.frame_index), f))
        .collect();
    let mut posed = 0;
    for f in scenes.iter().flat_map(|s| s.frames.iter()) {
        if let Some(p) = f.world_to_camera {
            let t = frames[&(f.scene_id.clone(), f.camera_id.clone(), f.frame_index)]
                .world_to_camera
                .expect("truth pose");
            assert!((p.camera_center() - t.camera_center()).length() < 1e-3);
            posed += 1;
        }
    }
    assert!(posed > 0);
}

#[test]
fn egohumans_loads_back_to_truth() {
    use crossview::schemas::Frame;
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::egohumans::EgoHumans, dir.path(), 18, true);
    let scenes = load(dir.path(), true);
    check_scenes_and_cameras(&scenes, dir.path());
    let (loaded, _) = matched(&scenes, dir.path());
    // Ego poses per frame match the truth, through each Aria's own world and COLMAP's.
    let frames: BTreeMap<(String, String, u32), Frame> = truth::<Frame>(dir.path(), "frames")
        .into_iter()
        .map(|f| ((f.scene_id.clone(), f.camera_id.clone(), f.frame_index), f))
        .collect();
    let mut posed = 0;
    for f in scenes.iter().flat_map(|s| s.frames.iter()) {
        if let Some(p) = f.world_to_camera {
            let t = frames[&(f.scene_id.clone(), f.camera_id.clone(), f.frame_index)]
                .world_to_camera
                .expect("truth pose");
            assert!(
                (p.camera_center() - t.camera_center()).length() < 1e-3,
                "{} {} {}",
                f.scene_id,
                f.camera_id,
                f.frame_index
            );
            assert!(p.rotation.then_after(&t.rotation.inverse()).angle() < 1e-6);
            posed += 1;
        }
    }
    assert!(posed > 0);
    // Visible keypoints sit where the truth's 3D keypoints project with the loaded cameras.
    let states: BTreeMap<(String, u32, String), TruthState> =
        truth::<TruthState>(dir.path(), "states")
            .into_iter()
            .map(|s| {
                (
                    (s.scene_id.clone(), s.frame_index, s.instance_id.clone()),
                    s,
                )
            })
            .collect();
    let mut checked = 0;
    for s in &scenes {
        for (k, o) in loaded
            .iter()
            .filter(|(k, _)| s.scene.as_ref().is_some_and(|x| x.scene_id == k.0))
        {
            let cam = s
                .cameras
                .iter()
                .find(|c| c.camera_id == k.1)
                .expect("camera");
            let pose = match cam.world_to_camera {
                Some(p) => p,
                None => s
                    .frames
                    .iter()
                    .find(|f| f.camera_id == k.1 && f.frame_index == k.2)
                    .and_then(|f| f.world_to_camera)
                    .expect("pose"),
            };
            let st = &states[&(k.0.clone(), k.2, k.3.clone())];
            for (kp, p3) in o.keypoints.iter().zip(&st.keypoints) {
                if kp.visibility != 2 {
                    continue;
                }
                let (px, _) = cam.model.project_world(&pose, *p3).expect("in front");
                assert!(
                    (px.x - f64::from(kp.x)).abs() <= 1.0 && (px.y - f64::from(kp.y)).abs() <= 1.0,
                    "{k:?}: {kp:?} vs {px:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

/// Replaces every scene folder of an MMPTrack tree (`<split>/{images,labels,topdown_labels}/
/// <session>/<scene>/`) by `<scene>.zip` holding `<scene>/<file>`, as the dataset is
/// distributed.
fn zip_scene_folders(root: &Path) {
    use std::io::Write as _;
    for split in std::fs::read_dir(root).expect("root").flatten() {
        for kind in ["images", "labels", "topdown_labels"] {
            let Ok(sessions) = std::fs::read_dir(split.path().join(kind)) else {
                continue;
            };
            for session in sessions.flatten() {
                for scene in std::fs::read_dir(session.path())
                    .expect("session")
                    .flatten()
                {
                    let dir = scene.path();
                    let name = dir
                        .file_name()
                        .expect("name")
                        .to_string_lossy()
                        .into_owned();
                    let file = std::fs::File::create(dir.with_extension("zip")).expect("zip");
                    let mut w = zip::ZipWriter::new(file);
                    let mut files: Vec<_> = std::fs::read_dir(&dir)
                        .expect("scene")
                        .flatten()
                        .map(|e| e.path())
                        .collect();
                    files.sort();
                    for f in files {
                        let entry =
                            format!("{name}/{}", f.file_name().expect("name").to_string_lossy());
                        w.start_file(entry, zip::write::SimpleFileOptions::default())
                            .expect("entry");
                        w.write_all(&std::fs::read(&f).expect("read"))
                            .expect("write");
                    }
                    w.finish().expect("finish");
                    std::fs::remove_dir_all(&dir).expect("rm");
                }
            }
        }
    }
}

#[test]
fn mmptrack_scene_folders_as_zip_archives_load_like_the_extracted_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plain, zipped) = (dir.path().join("plain"), dir.path().join("zipped"));
    synth_tree(&synth::mmptrack::MmpTrack, &plain, 4, true);
    crate::support::copy_tree(&plain, &zipped);
    zip_scene_folders(&zipped);
    assert!(
        std::fs::read_dir(&zipped)
            .expect("tree")
            .flatten()
            .any(|s| { walk_has_zip(&s.path()) })
    );
    let (a, b) = (load(&plain, true), load(&zipped, true));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.scene, y.scene);
        assert_eq!(x.cameras, y.cameras, "image sizes read inside the archives");
        assert_eq!(x.observations, y.observations);
        assert_eq!(x.frames.len(), y.frames.len());
        let mut frames_a = crossview::stages::frames::FrameReader::new(&plain);
        let mut frames_b = crossview::stages::frames::FrameReader::new(&zipped);
        for (fa, fb) in x.frames.iter().zip(&y.frames) {
            let path = match &fb.image {
                crossview::schemas::ImageRef::File(p) => p.clone(),
                other => panic!("{other:?}"),
            };
            assert!(path.contains(".zip/rgb_"), "{path}");
            let (ba, bb) = (
                frames_a.bytes(&fa.image).expect("plain frame"),
                frames_b.bytes(&fb.image).expect("zipped frame"),
            );
            assert!(ba.is_some() && ba == bb, "{path}");
        }
        assert_ne!(
            x.fingerprint, y.fingerprint,
            "another layout, another input"
        );
    }
    // A damaged archive is an error naming it; the other scenes still load.
    let victim = find_zip(&zipped.join("train").join("labels")).expect("a labels zip");
    std::fs::write(&victim, b"not a zip").expect("damage");
    let reader = sources::open(&zipped, None, &SourceOptions::default()).expect("opens");
    let (scenes, _) = sources::read_all(reader.as_ref()).expect("reads");
    let errors: Vec<_> = scenes.iter().flat_map(|s| &s.errors).collect();
    assert!(
        errors
            .iter()
            .any(|e| victim.ends_with(&e.file) && e.reason.contains("zip")),
        "{errors:#?}"
    );
    assert!(scenes.iter().filter(|s| !s.observations.is_empty()).count() >= a.len() - 1);
}

/// MMPTrack scenes are known by their read stamp (their calibration's and their folders'
/// entries' stamps) before their folders are read: a scene the caller holds with this read's
/// stamp is handed over as its stub (shown by a label file whose bytes were replaced under
/// its old stamp), an unwanted or restamped one is read as a plain read reads it, and the
/// extrinsic self-check counts the scenes handed over as the scenes they were read as.
#[test]
fn mmptrack_hands_over_scenes_with_unchanged_stamps_unread() {
    use crossview::schemas::ErrorClass;
    use crossview::stages::sources::MmpExtrinsics;
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::mmptrack::MmpTrack, dir.path(), 15, true);
    // The wrong extrinsic direction, so that the self-check warns.
    let opts = SourceOptions {
        mmptrack_extrinsics: MmpExtrinsics::WorldToCamera,
        ..SourceOptions::default()
    };
    let reader = sources::open(dir.path(), None, &opts).expect("detected");
    let (plain, warned) = sources::read_all(reader.as_ref()).expect("reads");
    assert!(
        warned
            .iter()
            .any(|e| e.class == ErrorClass::Suspicious && e.reason.contains("fits the data better")),
        "{warned:#?}"
    );
    let (stamped, known) = stamped_read(reader.as_ref(), &plain, &warned);
    let ids: Vec<String> = stamped.iter().map(|s| s.scene_id().to_string()).collect();

    // A label file of scene 0 with other bytes under its old stamp, a label file of scene 1
    // rewritten as it was (a new stamp), scene 2 unwanted.
    let label_of = |s: &SceneData| -> std::path::PathBuf {
        let rel = (s.files.iter())
            .find(|f| {
                f.to_string_lossy().contains("/labels/")
                    && f.extension().is_some_and(|e| e == "json")
            })
            .expect("a label file");
        dir.path().join(rel)
    };
    change_keeping_stamp(&label_of(&stamped[0]));
    restamp(&label_of(&stamped[1]));

    let (got, problems) = read_skipping_all(
        reader.as_ref(),
        &Skip {
            known: &known,
            unwanted: &ids[2],
            held: Some(&known),
        },
    );
    assert_eq!(
        problems, warned,
        "the self-check counts the scenes handed over"
    );
    assert_eq!(got.len(), stamped.len());
    assert!(got[0].unread && got[0] == known[&ids[0]], "scene 0 unread");
    assert!(!got[1].unread, "scene 1 restamped: read");
    assert_ne!(got[1].read_stamp, stamped[1].read_stamp);
    assert_eq!(
        SceneData {
            read_stamp: None,
            ..got[1].clone()
        },
        plain[1]
    );
    assert_eq!(got[2], stamped[2], "scene 2 unwanted: read");
    // The bytes did change: a plain read sees them.
    let (again, _) = sources::read_all(reader.as_ref()).expect("reads");
    assert_ne!(again[0].fingerprint, plain[0].fingerprint);
}

/// EgoHumans sequences are known by their read stamp (their files' stamps and their
/// benchmark annotations) before their files are read: a sequence the caller holds with this
/// read's stamp is handed over as its stub (shown by a calibration file whose bytes were
/// replaced under its old stamp), even when the benchmark file changed elsewhere; a sequence
/// with a restamped file, or an annotation edited, is read as a plain read reads it.
#[test]
fn egohumans_hands_over_sequences_with_unchanged_stamps_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::egohumans::EgoHumans, dir.path(), 21, false);
    let reader = sources::open(dir.path(), None, &SourceOptions::default()).expect("detected");
    let (plain, plain_problems) = sources::read_all(reader.as_ref()).expect("reads");
    let (stamped, known) = stamped_read(reader.as_ref(), &plain, &plain_problems);
    let skip = Skip {
        known: &known,
        unwanted: "",
        held: Some(&known),
    };
    let (got, problems) = read_skipping_all(reader.as_ref(), &skip);
    assert_eq!(problems, plain_problems);
    assert!(
        got.iter()
            .zip(&stamped)
            .all(|(g, s)| g.unread && *g == s.stub())
    );

    // Sequence 0: a calibration file with other bytes under its old stamp. Sequence 1: a
    // calibration file rewritten as it was (a new stamp). Sequence 2: its first annotation's
    // box moved in the benchmark file every sequence shares.
    let calib_of = |s: &SceneData| -> std::path::PathBuf {
        let rel = (s.files.iter())
            .find(|f| f.to_string_lossy().contains("/calib/"))
            .expect("a calibration file");
        dir.path().join(rel)
    };
    change_keeping_stamp(&calib_of(&stamped[0]));
    restamp(&calib_of(&stamped[1]));
    let seq2 = stamped[2]
        .scene_id()
        .trim_start_matches("egohumans/")
        .to_string();
    let coco = walk_files(&dir.path().join("benchmark"))
        .into_iter()
        .find(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(&format!("\"{seq2}/"))))
        .expect("a benchmark file with the sequence's images");
    let text = std::fs::read_to_string(&coco).expect("benchmark");
    let image_id = {
        let at = text
            .find(&format!("\"{seq2}/"))
            .expect("an image of sequence 2");
        let entry_start = text[..at].rfind('{').expect("image entry");
        let entry = &text[entry_start..];
        let id_at = entry.find("\"id\":").expect("image id") + 5;
        let id: String = entry[id_at..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        id
    };
    let ann = text
        .find(&format!("\"image_id\":{image_id},"))
        .expect("an annotation of the image");
    let ann_start = text[..ann].rfind("{\"area\"").expect("annotation start");
    let bbox = ann_start + text[ann_start..].find("\"bbox\":[").expect("bbox") + 8;
    let x: String = text[bbox..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let moved = format!(
        "{}{}{}",
        &text[..bbox],
        x.parse::<u64>().expect("x") + 1,
        &text[bbox + x.len()..]
    );
    std::fs::write(&coco, moved).expect("edit");

    let (got, problems) = read_skipping_all(reader.as_ref(), &skip);
    assert_eq!(problems, plain_problems);
    assert_eq!(got.len(), stamped.len());
    assert!(
        got[0].unread && got[0] == known[stamped[0].scene_id()],
        "sequence 0 unread"
    );
    assert!(!got[1].unread, "sequence 1 restamped: read");
    assert_eq!(
        SceneData {
            read_stamp: None,
            ..got[1].clone()
        },
        plain[1]
    );
    assert!(!got[2].unread, "sequence 2's annotation edited: read");
    assert_ne!(got[2].fingerprint, stamped[2].fingerprint);
    let (again, _) = sources::read_all(reader.as_ref()).expect("reads");
    assert_eq!(
        SceneData {
            read_stamp: None,
            ..got[2].clone()
        },
        again[2]
    );
    // The calibration bytes did change: a plain read sees them.
    assert_ne!(again[0].fingerprint, plain[0].fingerprint);
}

/// An EgoHumans sequence's fingerprint takes its annotations' image sizes (the benchmark's
/// image entries, which the box check reads), not only the annotations' own text: a rebuild
/// would otherwise keep the records read with the old size.
#[test]
fn egohumans_fingerprint_takes_the_annotated_images_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::egohumans::EgoHumans, dir.path(), 22, false);
    let fingerprints = || -> Vec<String> {
        let reader = sources::open(dir.path(), None, &SourceOptions::default()).expect("opens");
        let (scenes, _) = sources::read_all(reader.as_ref()).expect("reads");
        scenes.into_iter().map(|s| s.fingerprint).collect()
    };
    let before = fingerprints();
    let coco = walk_files(&dir.path().join("benchmark"))
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "json"))
        .expect("a benchmark file");
    let text = std::fs::read_to_string(&coco).expect("benchmark");
    let width = text.find("\"width\":").expect("an image width") + 8;
    let edited = format!("{}9{}", &text[..width], &text[width..]);
    std::fs::write(&coco, edited).expect("edit");
    let after = fingerprints();
    assert_eq!(before.len(), after.len());
    let changed = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert_eq!(changed, 1, "the sequence of the resized image, alone");
}

/// A tree read with a skip that holds nothing, against its plain read (`plain`, `problems`):
/// each scene comes with a read stamp, and is otherwise as the plain read gives it (a plain
/// read makes no stamps), with the same problems. Returns the scenes and their stubs by id.
fn stamped_read(
    reader: &dyn sources::SourceReader,
    plain: &[SceneData],
    problems: &[InputError],
) -> (Vec<SceneData>, BTreeMap<String, SceneData>) {
    assert!(plain.len() >= 3 && plain.iter().all(|s| s.read_stamp.is_none()));
    let nothing = BTreeMap::new();
    let none_known = Skip {
        known: &nothing,
        unwanted: "",
        held: Some(&nothing),
    };
    let (stamped, stamped_problems) = read_skipping_all(reader, &none_known);
    assert_eq!(stamped_problems, problems);
    assert_eq!(stamped.len(), plain.len());
    for (s, p) in stamped.iter().zip(plain) {
        assert!(s.read_stamp.is_some());
        assert_eq!(
            SceneData {
                read_stamp: None,
                ..s.clone()
            },
            *p
        );
    }
    let known = (stamped.iter())
        .map(|s| (s.scene_id().to_string(), s.stub()))
        .collect();
    (stamped, known)
}

/// Bumps the first digit (not a 9) of a text file, keeping its size and modification time:
/// a change that only reading the file shows.
fn change_keeping_stamp(path: &Path) {
    let text = std::fs::read_to_string(path).expect("text");
    let digit = text
        .find(|c: char| c.is_ascii_digit() && c != '9')
        .expect("a digit");
    let mut changed = text.clone();
    let bumped = char::from(text.as_bytes()[digit] + 1).to_string();
    changed.replace_range(digit..=digit, &bumped);
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(path, &changed).expect("rewrite");
    set_modified(path, modified, 0);
}

/// Rewrites a file as it was, with a later modification time.
fn restamp(path: &Path) {
    let bytes = std::fs::read(path).expect("bytes");
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(path, &bytes).expect("rewrite");
    set_modified(path, modified, 2);
}

/// Ego-Exo4D takes are known by their read stamp (their relations text, the takes file and
/// their own files' stamps) before their own files are read: a take the caller holds with
/// this read's stamp is handed over as its stub (shown by a calibration file whose bytes were
/// replaced under its old stamp), also when the relations file holding it was rewritten; a
/// take with a restamped file is read as a plain read reads it.
#[test]
fn egoexo4d_hands_over_takes_with_unchanged_stamps_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::egoexo4d::EgoExo4d, dir.path(), 23, false);
    let reader = sources::open(dir.path(), None, &SourceOptions::default()).expect("detected");
    let (plain, plain_problems) = sources::read_all(reader.as_ref()).expect("reads");
    let (stamped, known) = stamped_read(reader.as_ref(), &plain, &plain_problems);
    let skip = Skip {
        known: &known,
        unwanted: "",
        held: Some(&known),
    };
    // Takes sit under `takes/<name>` in the synthetic tree (takes.json's root_dir).
    let calibs_of = |s: &SceneData| -> std::path::PathBuf {
        let take = s.scene_id().trim_start_matches("egoexo4d/");
        let calibs = dir
            .path()
            .join("takes")
            .join(take)
            .join("trajectory/gopro_calibs.csv");
        assert!(calibs.is_file(), "{}", calibs.display());
        calibs
    };
    change_keeping_stamp(&calibs_of(&stamped[0]));
    restamp(&calibs_of(&stamped[1]));
    let relations = walk_files(&dir.path().join("annotations"));
    let relations: Vec<_> = (relations.iter())
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("relations_"))
        })
        .collect();
    assert!(!relations.is_empty());
    for file in relations {
        restamp(file);
    }
    let (got, problems) = read_skipping_all(reader.as_ref(), &skip);
    assert_eq!(problems, plain_problems);
    assert_eq!(got.len(), stamped.len());
    assert!(
        got[0].unread && got[0] == known[stamped[0].scene_id()],
        "take 0 unread"
    );
    assert!(!got[1].unread, "take 1 restamped: read");
    assert_eq!(
        SceneData {
            read_stamp: None,
            ..got[1].clone()
        },
        plain[1]
    );
    assert!(
        got[2].unread && got[2] == known[stamped[2].scene_id()],
        "take 2 unread"
    );
    // The calibration bytes did change: a plain read sees them.
    let (again, _) = sources::read_all(reader.as_ref()).expect("reads");
    assert_ne!(again[0].fingerprint, plain[0].fingerprint);
}

/// Every file below `dir`, sorted.
fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            out.extend(walk_files(&e));
        } else {
            out.push(e);
        }
    }
    out
}

fn walk_has_zip(p: &Path) -> bool {
    find_zip(p).is_some()
}

fn find_zip(p: &Path) -> Option<std::path::PathBuf> {
    if p.extension().is_some_and(|e| e == "zip") {
        return Some(p.to_path_buf());
    }
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        return entries.iter().find_map(|e| find_zip(e));
    }
    None
}

/// A caller's scene stubs: those it knows (by fingerprint), one scene it does not want, and
/// the stubs it offers through `held` (their camera ids spare the parse), if any.
struct Skip<'a> {
    known: &'a BTreeMap<String, SceneData>,
    unwanted: &'a str,
    held: Option<&'a BTreeMap<String, SceneData>>,
}

impl sources::SceneSkip for Skip<'_> {
    fn unwanted(&self, scene_id: &str) -> bool {
        scene_id == self.unwanted
    }
    fn known(&self, scene_id: &str, fingerprint: &str) -> Option<SceneData> {
        self.known
            .get(scene_id)
            .filter(|s| s.fingerprint == fingerprint)
            .cloned()
    }
    fn held(&self, scene_id: &str) -> Option<&SceneData> {
        self.held?.get(scene_id)
    }
}

/// Reads a tree leaving unread what `skip` allows: the scenes handed over, in order, and the
/// tree's problems.
fn read_skipping_all(
    reader: &dyn sources::SourceReader,
    skip: &dyn sources::SceneSkip,
) -> (Vec<SceneData>, Vec<InputError>) {
    let mut got = Vec::new();
    let problems = reader
        .read_skipping(skip, &mut |s| {
            got.push(s);
            Ok(())
        })
        .expect("reads");
    (got, problems)
}

/// MessyTable scenes are known by their fingerprint before they are parsed: a known scene is
/// handed over as the caller's stub, an unwanted one not at all, and the rest are read as a
/// plain read reads them. An image touched since changes the fingerprint.
#[test]
fn messytable_hands_over_known_scenes_unread_and_skips_unwanted_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::messytable::MessyTable, dir.path(), 5, true);
    let plain = load(dir.path(), true);
    assert_eq!(plain.len(), 3);
    let ids: Vec<String> = plain.iter().map(|s| s.scene_id().to_string()).collect();
    // Scene 0 is known, scene 1 unwanted, scene 2 read.
    let known: BTreeMap<String, SceneData> = [(ids[0].clone(), plain[0].stub())].into();
    let reader = sources::open(dir.path(), None, &SourceOptions::default()).expect("detected");
    let read_with = |skip: &dyn sources::SceneSkip| read_skipping_all(reader.as_ref(), skip).0;
    let got = read_with(&Skip {
        known: &known,
        unwanted: &ids[1],
        held: None,
    });
    assert_eq!(got.len(), 2);
    assert!(got[0].unread && got[0].observations.is_empty());
    assert_eq!(got[0], plain[0].stub());
    assert!(!got[1].unread);
    assert_eq!(got[1], plain[2]);
    // The same with the stub's camera ids offered in place of parsing, and with ids that do
    // not match the text (a camera missing): that fingerprint differs, so the scene is
    // parsed and known as before.
    let mut wrong = plain[0].stub();
    wrong.camera_ids.pop();
    for held in [known.clone(), [(ids[0].clone(), wrong)].into()] {
        let got = read_with(&Skip {
            known: &known,
            unwanted: &ids[1],
            held: Some(&held),
        });
        assert_eq!(got, vec![plain[0].stub(), plain[2].clone()]);
    }
    // A stub is the scene less its frames, observations and absences, its cameras by id.
    let stub = plain[0].stub();
    let camera_ids: Vec<&str> = (plain[0].cameras.iter())
        .map(|c| c.camera_id.as_str())
        .collect();
    assert!(camera_ids.len() > 1);
    assert_eq!(stub.camera_ids, camera_ids);
    assert!(stub.cameras.is_empty() && stub.frames.is_empty());
    assert_eq!(stub.stub(), stub);
    assert!(!plain[0].observations.is_empty());

    // A camera's image rewritten (same bytes, new modification time): the scene is read.
    let image = dir.path().join("images").join(format!(
        "{}-01.jpg",
        ids[0].trim_start_matches("messytable/")
    ));
    let bytes = std::fs::read(&image).expect("image");
    let modified = std::fs::metadata(&image)
        .and_then(|m| m.modified())
        .expect("modification time");
    std::fs::write(&image, bytes).expect("rewrite");
    set_modified(&image, modified, 2);
    let got = read_with(&Skip {
        known: &known,
        unwanted: "",
        held: Some(&known),
    });
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|s| !s.unread));
    assert_ne!(got[0].fingerprint, plain[0].fingerprint);
    assert_eq!(got[1], plain[1]);
}

/// The translation-unit self-check counts a known scene (handed over unparsed) as the scene
/// it was read as: a rebuild that parses none of a file's scenes warns as a whole read does.
#[test]
fn messytable_unit_check_sees_known_scenes() {
    let dir = tempfile::tempdir().expect("tempdir");
    synth_tree(&synth::messytable::MessyTable, dir.path(), 16, false);
    // Metres read as kilometres: a rig kilometres wide.
    let opts = SourceOptions {
        messytable_translation_scale: 1000.0,
        ..SourceOptions::default()
    };
    let reader = sources::open(dir.path(), None, &opts).expect("detected");
    let (plain, warned) = sources::read_all(reader.as_ref()).expect("reads");
    // The suggestion is relative to the configured scale: a thousandth of it.
    assert!(
        warned
            .iter()
            .any(|e| e.class == ErrorClass::Suspicious
                && e.reason.ends_with("translation scale to 1)")),
        "{warned:#?}"
    );
    let known: BTreeMap<String, SceneData> = (plain.iter())
        .map(|s| (s.scene_id().to_string(), s.stub()))
        .collect();
    let skip = Skip {
        known: &known,
        unwanted: "",
        held: Some(&known),
    };
    let (got, problems) = read_skipping_all(reader.as_ref(), &skip);
    assert_eq!(got.len(), plain.len());
    assert!(got.iter().all(|s| s.unread));
    assert_eq!(problems, warned);
}

/// A caller holding whole split files, as the build's read cache does: every scene's stub
/// (each known by its fingerprint) and the problems each file gave.
struct HeldFiles {
    stubs: Vec<SceneData>,
    problems: Vec<InputError>,
}

impl sources::SceneSkip for HeldFiles {
    fn known(&self, scene_id: &str, fingerprint: &str) -> Option<SceneData> {
        (self.stubs.iter())
            .find(|s| s.scene_id() == scene_id && s.fingerprint == fingerprint)
            .cloned()
    }
    fn held_file(&self, rel: &Path) -> Option<sources::HeldFile<'_>> {
        let scenes: Vec<&SceneData> = (self.stubs.iter())
            .filter(|s| s.files.first().is_some_and(|f| f == rel))
            .collect();
        let file = rel.to_string_lossy();
        let problems = (self.problems.iter())
            .filter(|p| p.file == file)
            .cloned()
            .collect();
        (!scenes.is_empty()).then_some(sources::HeldFile { scenes, problems })
    }
}

/// Sets a file's modification time `seconds` after `base` (explicitly: a rewrite within the
/// file system's timestamp granularity could keep the old time).
fn set_modified(path: &Path, base: std::time::SystemTime, seconds: u64) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(base + std::time::Duration::from_secs(seconds)))
        .expect("sets the modification time");
}

/// A MessyTable split file whose stamp, and whose scenes' images' stamps, are those of the
/// caller's last read is not read: its stubs and problems are handed over as held (shown by
/// a file whose bytes were replaced under its old stamp). A new stamp on the file, or on one
/// of its scenes' images, has it read again.
#[test]
fn messytable_unchanged_split_files_are_handed_over_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        seed: 11,
        scenes: 10,
        images: true,
        max_side: 160,
        frames: Some(2),
    };
    synth::run(&synth::messytable::MessyTable, dir.path(), &opts).expect("synth");
    let plain = load(dir.path(), true);
    let stubs: Vec<SceneData> = plain.iter().map(SceneData::stub).collect();
    let files: Vec<&Path> = (stubs.iter())
        .filter_map(|s| s.files.first().map(|f| f.as_path()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    assert!(stubs.iter().all(|s| s.read_stamp.is_some()));
    let (first, second) = (files[0].to_path_buf(), files[1].to_path_buf());
    let of_file = |rel: &Path| -> Vec<SceneData> {
        (stubs.iter())
            .filter(|s| s.files.first().is_some_and(|f| f == rel))
            .cloned()
            .collect()
    };
    let held_problem = InputError {
        source: "messytable".into(),
        file: first.to_string_lossy().into_owned(),
        location: String::new(),
        class: ErrorClass::Suspicious,
        reason: "found at the last read".into(),
        scene_id: None,
    };
    let held = HeldFiles {
        stubs: stubs.clone(),
        problems: vec![held_problem.clone()],
    };
    let reader = sources::open(dir.path(), None, &SourceOptions::default()).expect("detected");
    let read_with = |skip: &dyn sources::SceneSkip| read_skipping_all(reader.as_ref(), skip);

    // The first file's bytes replaced by as many that are not JSON, its stamp kept.
    let path = dir.path().join(&first);
    let text = std::fs::read(&path).expect("split file");
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("modification time");
    std::fs::write(&path, vec![b'x'; text.len()]).expect("overwrite");
    set_modified(&path, modified, 0);
    let (got, problems) = read_with(&held);
    assert_eq!(got, stubs, "the held stubs, in reading order");
    assert_eq!(problems, vec![held_problem.clone()]);

    // A new stamp on it: it is read, and found broken; the other files are still held.
    set_modified(&path, modified, 2);
    let (got, problems) = read_with(&held);
    assert!(got.iter().all(|s| s.files[0] != first && s.unread));
    assert_eq!(got.len(), plain.len() - of_file(&first).len());
    assert!(
        problems
            .iter()
            .any(|p| p.file == held_problem.file && p.class == ErrorClass::Malformed),
        "{problems:#?}"
    );
    assert!(!problems.contains(&held_problem));

    // Its text back under the new stamp, and an image of a scene of the second file
    // touched: the first file is read, its scenes known by their fingerprints (with this
    // read's stamp); the second is read too, the touched scene whole.
    std::fs::write(&path, &text).expect("restore");
    set_modified(&path, modified, 2);
    let touched = of_file(&second)[0].clone();
    let name = touched.scene_id().trim_start_matches("messytable/");
    let image = dir
        .path()
        .join("images")
        .join(format!("{name}-0{}.jpg", touched.camera_ids[0]));
    let image_time = std::fs::metadata(&image)
        .and_then(|m| m.modified())
        .expect("modification time");
    set_modified(&image, image_time, 2);
    let (got, problems) = read_with(&held);
    assert!(problems.is_empty(), "{problems:#?}");
    let ids = |v: &[SceneData]| {
        v.iter()
            .map(|s| s.scene_id().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&got), ids(&plain));
    for (g, p) in got.iter().zip(&plain) {
        if g.scene_id() == touched.scene_id() {
            assert!(!g.unread);
            assert_ne!(g.fingerprint, p.fingerprint);
        } else {
            assert!(g.unread);
            assert_eq!(g.fingerprint, p.fingerprint);
            let same_stamp = g.read_stamp == p.read_stamp;
            assert_eq!(same_stamp, g.files[0] != first, "{}", g.scene_id());
        }
    }
}

/// A MessyTable scene that is not JSON, in the middle of a split file of many parse batches,
/// ends the read of that file where it starts: the scenes before it are handed over (known
/// ones as stubs, unparsed), none after it, and the break is placed where serde_json places
/// it in the whole file.
#[test]
fn messytable_scene_that_is_not_json_ends_its_file_where_serde_json_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        seed: 11,
        scenes: 120,
        images: false,
        max_side: 320,
        frames: Some(1),
    };
    synth::run(&synth::messytable::MessyTable, dir.path(), &opts).expect("synth");
    let lenient = SourceOptions::default();
    let reader = sources::open(dir.path(), None, &lenient).expect("detected");
    let (plain, errors) = sources::read_all(reader.as_ref()).expect("reads");
    assert!(errors.is_empty(), "{errors:#?}");
    let stubs: BTreeMap<String, SceneData> = plain
        .iter()
        .map(|s| (s.scene_id().to_string(), s.stub()))
        .collect();
    let file = dir.path().join("labels").join("train.json");
    let text = std::fs::read_to_string(&file).expect("train.json");
    let in_train: Vec<&SceneData> = plain
        .iter()
        .filter(|s| s.scene.as_ref().is_some_and(|s| s.source_split == "train"))
        .collect();
    assert!(
        in_train.len() > 64,
        "several parse batches: {}",
        in_train.len()
    );
    // Damage the 50th scene of the file.
    let victim = 50;
    let scene_starts: Vec<usize> = in_train
        .iter()
        .map(|s| {
            let name = s.scene_id().trim_start_matches("messytable/");
            text.find(&format!("\"{name}\":")).expect("scene key")
        })
        .collect();
    let start = scene_starts[victim];
    let at = start + text[start..].find("\"extrinsics\":[").expect("a camera") + 14;
    let damaged = format!("{}NaN,{}", &text[..at], &text[at..]);
    std::fs::write(&file, &damaged).expect("write");
    let reference = serde_json::from_str::<serde::de::IgnoredAny>(&damaged).expect_err("not JSON");
    let place = format!("line {} column {}", reference.line(), reference.column());
    let reader = sources::open(dir.path(), None, &lenient).expect("detected");
    let before: BTreeSet<&str> = in_train[..victim].iter().map(|s| s.scene_id()).collect();
    for known in [BTreeMap::new(), stubs] {
        let skip = Skip {
            known: &known,
            unwanted: "",
            held: Some(&known),
        };
        let (got, tree) = read_skipping_all(reader.as_ref(), &skip);
        let train: BTreeSet<&str> = got
            .iter()
            .filter(|s| s.scene.as_ref().is_some_and(|s| s.source_split == "train"))
            .map(|s| s.scene_id())
            .collect();
        assert_eq!(train, before, "known: {}", known.len());
        let breaks: Vec<_> = tree
            .iter()
            .filter(|e| e.class == crossview::schemas::ErrorClass::Malformed)
            .collect();
        assert_eq!(breaks.len(), 1, "{tree:#?}");
        assert!(
            breaks[0].file.ends_with("labels/train.json"),
            "{:?}",
            breaks[0]
        );
        assert_eq!(breaks[0].location, place);
        // The other split files are whole.
        assert!(
            got.iter()
                .any(|s| s.scene.as_ref().is_some_and(|s| s.source_split != "train"))
        );
    }
}
