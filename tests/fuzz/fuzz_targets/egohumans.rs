//! EgoHumans' Aria calib text, COLMAP text model, transforms JSON and benchmark COCO JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    crossview_fuzz::fuzz_source(
        "egohumans",
        &[
            "01_tagging/001_tagging/ego/aria01/calib/00001.txt",
            "01_tagging/001_tagging/colmap/workplace/cameras.txt",
            "01_tagging/001_tagging/colmap/workplace/images.txt",
            "01_tagging/001_tagging/colmap/workplace/colmap_from_aria_transforms.json",
            "benchmark/01_tagging/all/coco/person_keypoints_exo.json",
        ],
        data,
    );
});
