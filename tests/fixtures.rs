//! Loaders on hand-written fixtures in the real formats (tests/fixtures/README.md), against
//! values computed by hand in the format specs.

use std::path::{Path, PathBuf};

use crossview::schemas::glam::DVec3;
use crossview::schemas::{Observation, Rotation};
use crossview::stages::sources::{SceneData, SourceOptions};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn load_lenient(root: &Path) -> (Vec<SceneData>, Vec<crossview::schemas::InputError>) {
    let opts = SourceOptions {
        require_images: false,
        ..SourceOptions::default()
    };
    crate::support::load_tree(root, &opts)
}

fn obs<'a>(scene: &'a SceneData, cam: &str, id: &str) -> &'a Observation {
    scene
        .observations
        .iter()
        .find(|o| o.camera_id == cam && o.instance_id == id)
        .unwrap_or_else(|| panic!("no observation of {id} in camera {cam}"))
}

#[test]
fn messytable_fixture_follows_the_spec() {
    let (scenes, errors) = load_lenient(&fixture("messytable"));
    assert!(errors.is_empty(), "{errors:#?}");
    let [s] = scenes.as_slice() else {
        panic!("one scene, got {}", scenes.len())
    };
    assert!(s.errors.is_empty(), "{:#?}", s.errors);
    assert_eq!(
        s.scene.as_ref().map(|x| x.scene_id.as_str()),
        Some("messytable/20190101-00001-01")
    );
    assert_eq!(
        s.scene.as_ref().map(|x| x.source_split.as_str()),
        Some("test_tiny")
    );
    let mut keys: Vec<(&str, &str)> = s
        .observations
        .iter()
        .map(|o| (o.camera_id.as_str(), o.instance_id.as_str()))
        .collect();
    keys.sort();
    assert_eq!(keys, vec![("1", "3"), ("1", "5"), ("2", "3"), ("2", "7")]);
    // Inclusive pixel indices 812..=901 become [812, 902).
    assert_eq!(
        obs(s, "1", "3").bbox.expect("box").to_array(),
        [812.0, 400.0, 902.0, 513.0]
    );
    // Instance 7 looks exactly like instance 3 (same subcls): the distractor.
    assert_eq!(obs(s, "2", "7").subcategory, obs(s, "2", "3").subcategory);
    assert_eq!(obs(s, "1", "5").category, "cls4");
    // Camera 2: [t, Euler xyz] camera-to-reference, -0.52 rad about y.
    let cam2 = s
        .cameras
        .iter()
        .find(|c| c.camera_id == "2")
        .expect("camera 2");
    let pose = cam2.world_to_camera.expect("pose").inverse();
    assert!((pose.center - DVec3::new(0.35, 0.0, 0.05)).length() < 1e-12);
    let ry = Rotation::from_axis_angle(DVec3::Y, -0.52).expect("rotation");
    assert!(pose.rotation.then_after(&ry.inverse()).angle() < 1e-12);
    // Camera 1 is the reference: T_1to2 = inv(T_2) T_1 maps its points into camera 2.
    let cam1 = s
        .cameras
        .iter()
        .find(|c| c.camera_id == "1")
        .expect("camera 1");
    let x1 = DVec3::new(0.1, -0.2, 1.5);
    let world = cam1.world_to_camera.expect("pose").inverse().apply(x1);
    let x2 = cam2.world_to_camera.expect("pose").apply(world);
    assert!((x2 - ry.inverse().apply(x1 - DVec3::new(0.35, 0.0, 0.05))).length() < 1e-12);
    // No images: the documented 1920x1080.
    assert_eq!((cam1.model.width(), cam1.model.height()), (1920, 1080));
    assert_eq!(cam2.model.principal_point(), (955.0, 545.0));
}

#[test]
fn mmptrack_fixture_reproduces_the_worked_numbers() {
    let (scenes, errors) = load_lenient(&fixture("mmptrack"));
    assert!(errors.is_empty(), "{errors:#?}");
    let [s] = scenes.as_slice() else {
        panic!("one scene, got {}", scenes.len())
    };
    assert!(s.errors.is_empty(), "{:#?}", s.errors);
    assert_eq!(
        s.scene.as_ref().map(|x| x.scene_id.as_str()),
        Some("mmptrack/63am/lobby_0")
    );
    assert_eq!(s.observations.len(), 4);
    // formats/mmptrack.md 7: grid -> world (mm), and the projected foot of each person.
    let table = [
        (
            "3",
            DVec3::new(1024.1, 3032.1, 0.0),
            [("1", 384.5, 337.5, 6032.0), ("2", 254.8, 339.2, 5968.0)],
        ),
        (
            "8",
            DVec3::new(-983.9, 4236.9, 0.0),
            [("1", 268.3, 311.3, 7237.0), ("2", 398.5, 379.5, 4763.0)],
        ),
    ];
    for (pid, world_mm, views) in table {
        for (cam, u, v, depth_mm) in views {
            let o = obs(s, cam, pid);
            let g = o.world_position.expect("top-down position");
            assert!((g * 1000.0 - world_mm).length() < 0.06, "{pid}: {g:?}");
            let c = s
                .cameras
                .iter()
                .find(|c| c.camera_id == cam)
                .expect("camera");
            let (px, z) = c
                .model
                .project_world(&c.world_to_camera.expect("pose"), g)
                .expect("in front");
            assert!(
                (px.x - u).abs() < 0.06 && (px.y - v).abs() < 0.06,
                "{pid} cam {cam}: {px:?}"
            );
            assert!(
                (z * 1000.0 - depth_mm).abs() < 0.6,
                "{pid} cam {cam}: depth {z}"
            );
            // The box's bottom-centre is near the projected foot.
            let b = o.bbox.expect("box");
            assert!(
                (f64::from(b.center().0) - u).abs() < 12.0 && (f64::from(b.y2()) - v).abs() < 12.0
            );
        }
    }
    // Person 8's feet are below camera 2's 360-pixel image: the box leaves it and is kept.
    assert!(obs(s, "2", "8").bbox.expect("box").y2() > 360.0);
}

#[test]
fn egoexo4d_fixture_decodes_the_golden_masks() {
    use crossview::schemas::ErrorClass;
    let (scenes, errors) = load_lenient(&fixture("egoexo4d"));
    assert!(errors.is_empty(), "{errors:#?}");
    let [s] = scenes.as_slice() else {
        panic!("one take, got {}", scenes.len())
    };
    assert_eq!(
        s.scene
            .as_ref()
            .map(|x| (x.scene_id.as_str(), x.source_split.as_str())),
        Some(("egoexo4d/unit_cooking_001_2", "train"))
    );
    // The Aria RGB projection lives in VRS; the fixture (like the spec) has none.
    assert_eq!(s.errors.len(), 1, "{:#?}", s.errors);
    assert_eq!(s.errors[0].class, ErrorClass::MissingFile);
    assert!(s.errors[0].file.ends_with("online_calibration.jsonl"));
    // cup_0 in aria01 at frame 0: ones at (col 1, row 0) and (col 1, row 1).
    let ego = obs(s, "aria01", "cup_0");
    assert_eq!(ego.frame_index, 0);
    let m = &ego.mask.as_ref().expect("mask").rle;
    assert_eq!((m.height(), m.width(), m.area()), (3, 3, 2));
    assert_eq!(m.decode_row_major(), vec![0, 1, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(ego.bbox.expect("box").to_array(), [1.0, 0.0, 2.0, 2.0]);
    assert_eq!(ego.category, "cup");
    // cup_0 in cam02 at frame 30: the whole 2x2 mask.
    let exo = obs(s, "cam02", "cup_0");
    assert_eq!(
        (exo.frame_index, exo.mask.as_ref().expect("mask").rle.area()),
        (30, 4)
    );
    // Listed but without a mask: not visible.
    let mut absent: Vec<(&str, u32)> = s
        .absences
        .iter()
        .map(|a| (a.camera_id.as_str(), a.frame_index))
        .collect();
    absent.sort();
    assert_eq!(absent, vec![("aria01", 30), ("cam02", 0)]);
    // cam02 from gopro_calibs.csv: T_world_cam with identity rotation at (1.5, -2.0, 1.6).
    let cam = s
        .cameras
        .iter()
        .find(|c| c.camera_id == "cam02")
        .expect("cam02");
    let centre = cam.world_to_camera.expect("pose").camera_center();
    assert!((centre - DVec3::new(1.5, -2.0, 1.6)).length() < 1e-12);
    assert_eq!(cam.model.distortion().name(), "kannala_brandt");
}

#[test]
fn egohumans_fixture_follows_the_spec() {
    use crossview::schemas::{CameraKind, SensorRotation};
    let (scenes, errors) = load_lenient(&fixture("egohumans"));
    assert!(errors.is_empty(), "{errors:#?}");
    let [s] = scenes.as_slice() else {
        panic!("one sequence, got {}", scenes.len())
    };
    assert!(s.errors.is_empty(), "{:#?}", s.errors);
    assert_eq!(
        s.scene.as_ref().map(|x| x.scene_id.as_str()),
        Some("egohumans/01_tagging/001_tagging")
    );
    // cam01 from COLMAP: identity rotation, t = (0, -1.5, 6), so the centre is -t.
    let cam01 = s
        .cameras
        .iter()
        .find(|c| c.camera_id == "cam01")
        .expect("cam01");
    assert_eq!(
        (cam01.kind, cam01.model.width(), cam01.model.height()),
        (CameraKind::Exo, 3840, 2160)
    );
    let c = cam01.world_to_camera.expect("pose").camera_center();
    assert!((c - DVec3::new(0.0, 1.5, -6.0)).length() < 1e-12);
    // aria01: f = 610 in the sensor frame, images stored rotated; identity extrinsic.
    let aria = s
        .cameras
        .iter()
        .find(|c| c.camera_id == "aria01")
        .expect("aria01");
    assert_eq!(
        (aria.kind, aria.model.sensor_rotation(), aria.model.focal()),
        (CameraKind::Ego, SensorRotation::Cw90, (610.0, 610.0))
    );
    let f0 = s
        .frames
        .iter()
        .find(|f| f.camera_id == "aria01" && f.frame_index == 0)
        .expect("frame");
    let pose = f0.world_to_camera.expect("per-frame pose");
    assert!(pose.rotation.angle() < 1e-12 && pose.translation.length() < 1e-12);
    // The COCO annotation: time stamp 1 is frame 0; xywh box; keypoint 4 has v = 0.
    let [o] = s.observations.as_slice() else {
        panic!("one annotation")
    };
    assert_eq!(
        (o.camera_id.as_str(), o.frame_index, o.instance_id.as_str()),
        ("cam01", 0, "aria02")
    );
    assert_eq!(
        o.bbox.expect("box").to_array(),
        [1700.0, 900.0, 1900.0, 1290.0]
    );
    assert_eq!(o.keypoints.len(), 17);
    assert_eq!(o.keypoints.iter().filter(|k| k.visibility == 2).count(), 16);
    assert_eq!((o.keypoints[4].x, o.keypoints[4].visibility), (1780.0, 0));
}
