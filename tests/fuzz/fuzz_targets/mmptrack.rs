//! MMPTrack's label JSON, top-down CSV and calibration JSON, and a scene folder as a zip
//! archive (`lobby_1.zip`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    crossview_fuzz::fuzz_source(
        "mmptrack",
        &[
            "train/labels/63am/lobby_0/rgb_00000_1.json",
            "train/topdown_labels/63am/lobby_0/topdown_00000.csv",
            "train/calibrations/lobby/calibrations.json",
            "train/labels/63am/lobby_1.zip",
        ],
        data,
    );
});
