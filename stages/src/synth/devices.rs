//! Calibrations of the capture devices the egocentric profiles share: Aria glasses (RGB
//! camera, Fisheye624, stored upright) and GoPros (Kannala-Brandt fisheye), at native size.

use crossview_schemas::{CameraModel, Distortion, SensorRotation};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Native Aria RGB size (square; upright once stored).
pub const ARIA_SIZE: u32 = 1408;
/// Native GoPro size.
pub const GOPRO_SIZE: (u32, u32) = (3840, 2160);

/// One Aria RGB camera: Fisheye624 with a single focal length, in the sensor frame, whose
/// image is stored rotated 90 degrees clockwise.
pub fn aria_rgb(rng: &mut ChaCha8Rng) -> CameraModel {
    let f = rng.random_range(600.0..620.0);
    CameraModel::new(
        ARIA_SIZE,
        ARIA_SIZE,
        f,
        f,
        704.0 + rng.random_range(-4.0..4.0),
        704.0 + rng.random_range(-4.0..4.0),
        Distortion::FisheyeRadTanThinPrism {
            radial: [
                rng.random_range(0.01..0.03),
                rng.random_range(-0.01..0.0),
                0.002,
                0.0,
                0.0,
                0.0,
            ],
            tangential: [rng.random_range(-1e-4..1e-4), rng.random_range(-1e-4..1e-4)],
            thin_prism: [
                rng.random_range(-2e-4..2e-4),
                0.0,
                rng.random_range(-2e-4..2e-4),
                0.0,
            ],
        },
        SensorRotation::Cw90,
    )
    .unwrap_or_else(|e| unreachable!("valid by construction: {e}"))
}

/// One GoPro: Kannala-Brandt (OPENCV_FISHEYE, Ego-Exo4D's KANNALABRANDTK3).
pub fn gopro(rng: &mut ChaCha8Rng) -> CameraModel {
    let f = rng.random_range(1650.0..1900.0);
    CameraModel::new(
        GOPRO_SIZE.0,
        GOPRO_SIZE.1,
        f,
        f * rng.random_range(0.998..1.002),
        1920.0 + rng.random_range(-12.0..12.0),
        1080.0 + rng.random_range(-12.0..12.0),
        Distortion::KannalaBrandt {
            coeffs: [
                rng.random_range(0.01..0.06),
                rng.random_range(-0.02..0.0),
                rng.random_range(0.0..0.002),
                0.0,
            ],
        },
        SensorRotation::None,
    )
    .unwrap_or_else(|e| unreachable!("valid by construction: {e}"))
}
