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
