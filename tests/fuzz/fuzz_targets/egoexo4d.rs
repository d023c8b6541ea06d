//! Ego-Exo4D's takes.json, relations JSON (streamed, LZ/RLE masks), GoPro CSV and camera poses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    crossview_fuzz::fuzz_source(
        "egoexo4d",
        &[
            "takes.json",
            "annotations/relations_train.json",
            "takes/unit_cooking_001_2/trajectory/gopro_calibs.csv",
            "annotations/ego_pose/train/camera_pose/00000000-0000-0000-0000-000000000001.json",
        ],
        data,
    );
});
