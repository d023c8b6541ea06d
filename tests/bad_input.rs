//! Bad input is data, not a crash: each class of broken file gives an error record naming the
//! file, the place and the reason, and the rest of the tree still loads.

use std::path::Path;

use crossview::schemas::{ErrorClass, InputError};
use crossview::stages::sources::{self, SceneData, SourceOptions};

use crate::fixtures::{fixture, load_lenient};
use crate::support::copy_tree;

fn all_errors(scenes: &[SceneData], tree: &[InputError]) -> Vec<InputError> {
    scenes
        .iter()
        .flat_map(|s| s.errors.iter().cloned())
        .chain(tree.iter().cloned())
        .collect()
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("readable");
    std::fs::write(path, f(text)).expect("writable");
}

/// The single error of a load, which must match `class`, `file` and a `location` fragment.
fn one_error(errors: &[InputError], class: ErrorClass, file: &str, location: &str) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(e.class, class, "{e:#?}");
    assert!(e.file.ends_with(file), "{e:#?}");
    assert!(e.location.contains(location), "{e:#?}");
    assert!(!e.reason.is_empty());
}

fn messytable_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("messytable"), dir.path());
    dir
}

const MT_LABELS: &str = "labels/test_tiny.json";

#[test]
fn messytable_truncated_file_keeps_the_scenes_before_the_break() {
    let dir = messytable_copy();
    let file = dir.path().join(MT_LABELS);
    // Two scenes, then cut the file inside the second.
    edit(&file, |t| {
        let second = t.replace("20190101-00001-01", "20190101-00001-02");
        let body =
            &second[second.find("\"20190101").expect("scene")..second.rfind('}').expect("end")];
        let doubled = t.replacen(
            "\"20190101-00001-01\"",
            &format!(
                "{}, \"20190101-00001-01\"",
                body.trim_end().trim_end_matches('}')
            ),
            1,
        );
        doubled[..doubled.len() * 3 / 4].to_string()
    });
    let (scenes, tree) = load_lenient(dir.path());
    assert_eq!(scenes.len(), 1, "the scene before the break loads");
    assert_eq!(scenes[0].observations.len(), 4);
    one_error(
        &all_errors(&scenes, &tree),
        ErrorClass::Malformed,
        MT_LABELS,
        "line ",
    );
}

#[test]
fn messytable_bad_calibration_skips_only_that_camera() {
    let dir = messytable_copy();
    edit(&dir.path().join(MT_LABELS), |t| {
        t.replace(
            "[1380.0, 0.0, 955.0, 0.0, 1380.0, 545.0, 0.0, 0.0, 1.0]",
            "[1380.0, 0.0, null, 0.0, 1380.0, 545.0, 0.0, 0.0, 1.0]",
        )
    });
    let (scenes, tree) = load_lenient(dir.path());
    let errors = all_errors(&scenes, &tree);
    one_error(&errors, ErrorClass::InvalidValue, MT_LABELS, "intrinsics.2");
    assert_eq!(scenes[0].cameras.len(), 1);
    assert!(scenes[0].observations.iter().all(|o| o.camera_id == "1"));
    assert_eq!(scenes[0].observations.len(), 2);
}

#[test]
fn messytable_nan_token_is_a_malformed_file() {
    let dir = messytable_copy();
    edit(&dir.path().join(MT_LABELS), |t| {
        t.replacen("0.35, 0.0, 0.05", "NaN, 0.0, 0.05", 1)
    });
    let (scenes, tree) = load_lenient(dir.path());
    assert!(scenes.is_empty());
    one_error(
        &all_errors(&scenes, &tree),
        ErrorClass::Malformed,
        MT_LABELS,
        "line ",
    );
}

#[test]
fn messytable_bad_boxes_are_rejected_one_by_one() {
    let dir = messytable_copy();
    edit(&dir.path().join(MT_LABELS), |t| {
        t.replace(
            "[1010.0, 620.0, 1150.0, 700.0]",
            "[1150.0, 620.0, 1010.0, 700.0]",
        )
        .replace(
            "[300.0, 500.0, 360.0, 590.0]",
            "[3000.0, 500.0, 3060.0, 590.0]",
        )
    });
    let (scenes, tree) = load_lenient(dir.path());
    let errors = all_errors(&scenes, &tree);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().all(|e| e.class == ErrorClass::InvalidValue));
    assert!(
        errors
            .iter()
            .any(|e| e.location.ends_with("cameras.1.instances.5.pos")
                && e.reason.contains("x2 < x1"))
    );
    assert!(
        errors
            .iter()
            .any(|e| e.location.ends_with("cameras.2.instances.7.pos")
                && e.reason.contains("outside"))
    );
    let mut kept: Vec<(&str, &str)> = scenes[0]
        .observations
        .iter()
        .map(|o| (o.camera_id.as_str(), o.instance_id.as_str()))
        .collect();
    kept.sort();
    assert_eq!(kept, vec![("1", "3"), ("2", "3")]);
}

#[test]
fn missing_images_are_errors_when_images_are_required() {
    let reader =
        sources::open(&fixture("messytable"), None, &SourceOptions::default()).expect("opens");
    let (scenes, tree) = sources::read_all(reader.as_ref()).expect("reads");
    let errors = all_errors(&scenes, &tree);
    assert_eq!(errors.len(), 2, "one per camera: {errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.class == ErrorClass::MissingFile && e.file.starts_with("images/"))
    );
    assert_eq!(scenes[0].observations.len(), 4, "annotations still load");
}

fn mmptrack_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("mmptrack"), dir.path());
    dir
}

const MMP_CALIB: &str = "train/calibrations/lobby/calibrations.json";
const MMP_LABEL_2: &str = "train/labels/63am/lobby_0/rgb_00000_2.json";

#[test]
fn mmptrack_bad_camera_calibration_skips_that_camera() {
    let dir = mmptrack_copy();
    edit(&dir.path().join(MMP_CALIB), |t| {
        t.replacen("\"Fx\": 380.0", "\"Fx\": null", 1)
    });
    let (scenes, tree) = load_lenient(dir.path());
    let errors = all_errors(&scenes, &tree);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().any(|e| e.class == ErrorClass::InvalidValue
        && e.file.ends_with(MMP_CALIB)
        && e.location == "Cameras[0]"));
    // Camera 1 is gone, so its label file refers to an unknown camera.
    assert!(
        errors
            .iter()
            .any(|e| e.class == ErrorClass::Inconsistent && e.file.ends_with("rgb_00000_1.json"))
    );
    assert!(scenes[0].observations.iter().all(|o| o.camera_id == "2"));
    assert_eq!(scenes[0].observations.len(), 2);
}

#[test]
fn mmptrack_missing_calibration_skips_only_its_environment() {
    let dir = mmptrack_copy();
    copy_tree(
        &dir.path().join("train/labels/63am/lobby_0"),
        &dir.path().join("train/labels/63am/retail_0"),
    );
    let (scenes, tree) = load_lenient(dir.path());
    let errors = all_errors(&scenes, &tree);
    assert_eq!(scenes.len(), 2);
    let retail = scenes
        .iter()
        .find(|s| {
            s.scene
                .as_ref()
                .is_some_and(|x| x.scene_id.ends_with("retail_0"))
        })
        .expect("scene");
    assert!(retail.observations.is_empty());
    assert!(errors.iter().any(|e| e.class == ErrorClass::MissingFile
        && e.file.ends_with("calibrations/retail/calibrations.json")));
    let lobby = scenes
        .iter()
        .find(|s| {
            s.scene
                .as_ref()
                .is_some_and(|x| x.scene_id.ends_with("lobby_0"))
        })
        .expect("scene");
    assert_eq!(lobby.observations.len(), 4);
}

#[test]
fn mmptrack_broken_label_and_topdown_rows_are_reported_where_they_are() {
    let dir = mmptrack_copy();
    edit(&dir.path().join(MMP_LABEL_2), |t| {
        t[..t.len() / 2].to_string()
    });
    edit(
        &dir.path()
            .join("train/topdown_labels/63am/lobby_0/topdown_00000.csv"),
        |t| t.replacen("3,200.0", "3,abc", 1),
    );
    let (scenes, tree) = load_lenient(dir.path());
    let errors = all_errors(&scenes, &tree);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().any(|e| e.class == ErrorClass::Malformed
        && e.file.ends_with(MMP_LABEL_2)
        && e.location.starts_with("line ")));
    assert!(errors.iter().any(|e| e.class == ErrorClass::InvalidValue
        && e.file.ends_with("topdown_00000.csv")
        && e.location == "line 1"));
    // Camera 1's labels still load; person 3 lost its ground point, person 8 kept it.
    let s = &scenes[0];
    assert_eq!(s.observations.len(), 2);
    let p3 = s
        .observations
        .iter()
        .find(|o| o.instance_id == "3")
        .expect("person 3");
    let p8 = s
        .observations
        .iter()
        .find(|o| o.instance_id == "8")
        .expect("person 8");
    assert!(p3.world_position.is_none() && p8.world_position.is_some());
}

#[test]
fn egoexo4d_bad_masks_are_rejected_one_by_one() {
    use crossview::schemas::lzstring;
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("egoexo4d"), dir.path());
    let relations = dir.path().join("annotations/relations_train.json");
    // RLE counts of 3 + 2 + 3 = 8 pixels for a 3x3 mask; and a stream with a stray character.
    let short = lzstring::compress_to_encoded_uri("323");
    edit(&relations, |t| {
        t.replace("\"MwJgLEA\"", &format!("\"{short}\""))
            .replace("\"AwFiA\"", "\"Aw!iA\"")
    });
    let (scenes, tree) = load_lenient(dir.path());
    let errors: Vec<InputError> = all_errors(&scenes, &tree)
        .into_iter()
        .filter(|e| !e.file.ends_with("online_calibration.jsonl"))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors.iter().all(
            |e| e.class == ErrorClass::InvalidValue && e.file.ends_with("relations_train.json")
        )
    );
    assert!(errors.iter().any(
        |e| e.location.ends_with("aria01_214-1.annotation.0") && e.reason.contains("sum to 8")
    ));
    assert!(
        errors
            .iter()
            .any(|e| e.location.ends_with("cam02.annotation.30")
                && e.reason.contains("URI alphabet"))
    );
    // The annotated frames without a mask are still known absences.
    assert_eq!(scenes[0].absences.len(), 2);
    assert!(scenes[0].observations.is_empty());
}

/// A two-sequence synthetic EgoHumans tree (annotations only).
fn egohumans_tree() -> tempfile::TempDir {
    use crossview::stages::synth::{self, SynthOptions, egohumans::EgoHumans};
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SynthOptions {
        seed: 17,
        scenes: 2,
        images: false,
        ..SynthOptions::default()
    };
    synth::run(&EgoHumans, dir.path(), &opts).expect("synth");
    dir
}

/// The one benchmark file of the tree called `name`.
fn egohumans_benchmark(root: &Path, name: &str) -> std::path::PathBuf {
    let bench = root.join("benchmark");
    let dir = std::fs::read_dir(&bench)
        .expect("benchmark folder")
        .next()
        .expect("one benchmark")
        .expect("entry")
        .path();
    dir.join("all/coco").join(name)
}

#[test]
fn egohumans_bad_annotations_are_rejected_one_by_one() {
    let dir = egohumans_tree();
    let (clean, tree) = load_lenient(dir.path());
    assert!(all_errors(&clean, &tree).is_empty());
    let count = |s: &[SceneData]| s.iter().map(|x| x.observations.len()).sum::<usize>();
    let n = count(&clean);

    let exo = egohumans_benchmark(dir.path(), "person_keypoints_exo.json");
    let mut coco: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exo).expect("readable")).expect("json");
    let anns = coco["annotations"].as_array_mut().expect("annotations");
    assert!(anns.len() > 5);
    anns[1]["bbox"][2] = serde_json::json!(-4.0); // negative width
    anns[2]["bbox"] = serde_json::json!([90000.0, 90000.0, 10.0, 10.0]); // misses the image
    anns[3]["image_id"] = serde_json::json!(987_654_321); // names no image
    anns[4]
        .as_object_mut()
        .expect("object")
        .remove("camera_name");
    anns[5]["time_stamp"] = serde_json::json!(0); // time stamps are 1-based
    std::fs::write(&exo, serde_json::to_vec(&coco).expect("json")).expect("writable");

    let (scenes, tree) = load_lenient(dir.path());
    let mut errors = all_errors(&scenes, &tree);
    errors.sort_by(|a, b| a.location.cmp(&b.location));
    let found: Vec<(ErrorClass, &str)> = errors
        .iter()
        .map(|e| {
            assert!(e.file.ends_with("person_keypoints_exo.json"), "{e:#?}");
            (e.class, e.location.as_str())
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (ErrorClass::InvalidValue, "annotations[1].bbox"),
            (ErrorClass::InvalidValue, "annotations[2].bbox"),
            (ErrorClass::Inconsistent, "annotations[3]"),
            (ErrorClass::InvalidValue, "annotations[4]"),
            (ErrorClass::InvalidValue, "annotations[5]"),
        ],
        "{errors:#?}"
    );
    assert_eq!(count(&scenes), n - 5, "the other annotations still load");
}

#[test]
fn egohumans_truncated_benchmark_file_drops_only_that_file() {
    let dir = egohumans_tree();
    let (clean, _) = load_lenient(dir.path());
    let ego_views = clean
        .iter()
        .flat_map(|s| &s.observations)
        .filter(|o| o.camera_id.starts_with("aria"))
        .count();
    assert!(ego_views > 0);
    let ego = egohumans_benchmark(dir.path(), "person_keypoints_ego_rgb.json");
    edit(&ego, |t| t[..t.len() * 2 / 3].to_string());
    let (scenes, tree) = load_lenient(dir.path());
    let errors = all_errors(&scenes, &tree);
    one_error(
        &errors,
        ErrorClass::Malformed,
        "person_keypoints_ego_rgb.json",
        "line ",
    );
    // The sequences and their exo annotations still load; the ego ones went with the file.
    assert_eq!(scenes.len(), clean.len());
    let left: usize = scenes.iter().map(|s| s.observations.len()).sum();
    let before: usize = clean.iter().map(|s| s.observations.len()).sum();
    assert_eq!(left, before - ego_views);
    assert!(
        scenes
            .iter()
            .flat_map(|s| &s.observations)
            .all(|o| !o.camera_id.starts_with("aria"))
    );
}

#[test]
fn egohumans_bad_calibration_files_cost_only_their_frames() {
    let dir = egohumans_tree();
    let (clean, _) = load_lenient(dir.path());
    let posed = |s: &[SceneData]| -> Vec<(String, u32)> {
        s.iter()
            .flat_map(|x| &x.frames)
            .filter(|f| f.world_to_camera.is_some())
            .map(|f| (f.camera_id.clone(), f.frame_index))
            .collect()
    };
    let before = posed(&clean);
    // One sequence's aria01 calibration folder (files `<t>.txt`, t 1-based).
    let seq = std::fs::read_dir(dir.path())
        .expect("root")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "benchmark") && p.is_dir())
        .flat_map(|big| std::fs::read_dir(big).expect("big sequence").flatten())
        .map(|e| e.path())
        .min()
        .expect("a sequence");
    let calib = seq.join("ego/aria01/calib");
    assert!(calib.join("00003.txt").is_file(), "{}", calib.display());
    // Cut to five lines; a NaN extrinsic; a name that is no time stamp; a folder by a file's name.
    edit(&calib.join("00001.txt"), |t| {
        t.lines().take(5).collect::<Vec<_>>().join("\n")
    });
    edit(&calib.join("00002.txt"), |t| {
        let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
        lines[3] = lines[3].replacen(char::is_numeric, "NaN", 1);
        lines.join("\n")
    });
    std::fs::write(calib.join("notes.txt"), "a note").expect("writable");
    std::fs::remove_file(calib.join("00003.txt")).expect("removable");
    std::fs::create_dir(calib.join("00003.txt")).expect("a folder");

    let (scenes, tree) = load_lenient(dir.path());
    let mut errors = all_errors(&scenes, &tree);
    errors.sort_by(|a, b| a.file.cmp(&b.file));
    let found: Vec<(ErrorClass, String, &str)> = errors
        .iter()
        .map(|e| {
            let name = Path::new(&e.file).file_name().expect("a file name");
            (
                e.class,
                name.to_string_lossy().into_owned(),
                e.location.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (ErrorClass::Malformed, "00001.txt".into(), ""),
            (ErrorClass::InvalidValue, "00002.txt".into(), "lines 3-4"),
            (ErrorClass::MissingFile, "00003.txt".into(), ""),
            (ErrorClass::Malformed, "notes.txt".into(), ""),
        ],
        "{errors:#?}"
    );
    assert!(errors.iter().all(|e| e.file.contains("ego/aria01/calib/")));
    // Those three frames of aria01 lost their pose; every other frame kept its own.
    let after = posed(&scenes);
    assert_eq!(after.len(), before.len() - 3);
    assert!(after.iter().all(|f| before.contains(f)));
    assert_eq!(scenes.len(), clean.len());
}
