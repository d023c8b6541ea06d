//! [`CameraModel`] (size, focal lengths, principal point, lens, sensor rotation): projection and
//! back-projection between camera-frame rays and stored-image pixels.

use glam::{DVec2, DVec3};
use serde::{Deserialize, Serialize};

use crate::distortion::Distortion;
use crate::error::{Error, Result, finite};
use crate::pose::WorldToCamera;

/// How the stored image is rotated relative to the sensor the calibration describes.
///
/// Aria ego frames are stored upright, while their calibration applies to the sensor
/// (landscape) frame: the stored image is the sensor image rotated 90 degrees clockwise.
/// In continuous pixel coordinates that maps sensor `(x, y)` to stored
/// `(H_sensor - y, x)` (EgoHumans' `get_inverse_rotated_pose2d`, formats/egohumans.md 3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorRotation {
    /// Stored image = sensor image.
    #[default]
    None,
    /// Stored image = sensor image rotated 90 degrees clockwise.
    Cw90,
}

impl SensorRotation {
    /// `none` or `cw90`.
    pub fn name(&self) -> &'static str {
        match self {
            SensorRotation::None => "none",
            SensorRotation::Cw90 => "cw90",
        }
    }
    /// Parses [`SensorRotation::name`].
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(SensorRotation::None),
            "cw90" => Ok(SensorRotation::Cw90),
            other => Err(Error::InvalidValue {
                what: "sensor rotation",
                reason: format!("unknown rotation {other:?}"),
            }),
        }
    }
}

/// Intrinsic calibration of one camera, for the image as stored.
///
/// Pixel coordinates are continuous (see [`crate::BoxXyxy`]): a point projects to
/// `(fx * u + cx, fy * v + cy)` in the *sensor* frame, `(u, v)` being the distorted
/// normalised coordinates, then [`SensorRotation`] maps it to the stored image.
///
/// ```
/// use crossview_schemas::{CameraModel, Distortion, SensorRotation};
/// use glam::DVec3;
/// let cam = CameraModel::new(640, 360, 400.0, 400.0, 320.0, 180.0, Distortion::Pinhole,
///                            SensorRotation::None).unwrap();
/// let px = cam.project(DVec3::new(0.5, -0.25, 2.0)).unwrap();
/// assert_eq!((px.x, px.y), (420.0, 130.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraModel {
    width: u32,
    height: u32,
    fx: f64,
    fy: f64,
    cx: f64,
    cy: f64,
    distortion: Distortion,
    sensor_rotation: SensorRotation,
}

impl CameraModel {
    /// A model for a `width x height` stored image; fails on non-positive sizes or focal
    /// lengths and on non-finite values. With [`SensorRotation::Cw90`], `fx, fy, cx, cy`
    /// and the lens describe the sensor image, which is `height x width`.
    // The calibration's own numbers, in the order every source states them; grouping them
    // into a struct would only rename them at each of the readers.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        width: u32,
        height: u32,
        fx: f64,
        fy: f64,
        cx: f64,
        cy: f64,
        distortion: Distortion,
        sensor_rotation: SensorRotation,
    ) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidValue {
                what: "image size",
                reason: format!("{width}x{height}"),
            });
        }
        for (what, v) in [("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)] {
            finite(what, v)?;
        }
        if fx <= 0.0 || fy <= 0.0 {
            return Err(Error::InvalidValue {
                what: "focal length",
                reason: format!("fx = {fx}, fy = {fy} must be positive"),
            });
        }
        Ok(CameraModel {
            width,
            height,
            fx,
            fy,
            cx,
            cy,
            distortion,
            sensor_rotation,
        })
    }

    /// Stored image width.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Stored image height.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// `(fx, fy)` of the sensor frame.
    pub fn focal(&self) -> (f64, f64) {
        (self.fx, self.fy)
    }
    /// `(cx, cy)` of the sensor frame.
    pub fn principal_point(&self) -> (f64, f64) {
        (self.cx, self.cy)
    }
    /// The lens model.
    pub fn distortion(&self) -> &Distortion {
        &self.distortion
    }
    /// The stored image's rotation relative to the sensor.
    pub fn sensor_rotation(&self) -> SensorRotation {
        self.sensor_rotation
    }

    /// The same camera for an image resized to `width x height` (focal lengths and
    /// principal point scale with the image; the lens is unchanged).
    pub fn resized(&self, width: u32, height: u32) -> Result<Self> {
        let sx = f64::from(width) / f64::from(self.width);
        let sy = f64::from(height) / f64::from(self.height);
        // Scale factors apply to the sensor axes, which are swapped under Cw90.
        let (su, sv) = match self.sensor_rotation {
            SensorRotation::None => (sx, sy),
            SensorRotation::Cw90 => (sy, sx),
        };
        CameraModel::new(
            width,
            height,
            self.fx * su,
            self.fy * sv,
            self.cx * su,
            self.cy * sv,
            self.distortion.clone(),
            self.sensor_rotation,
        )
    }

    /// Stored-image pixel of a camera-frame point, or `None` behind the camera. The pixel
    /// may lie outside the image; see [`CameraModel::contains`].
    pub fn project(&self, p_cam: DVec3) -> Option<DVec2> {
        let d = self.distortion.distort(p_cam)?;
        let sensor = DVec2::new(self.fx * d.x + self.cx, self.fy * d.y + self.cy);
        Some(self.sensor_to_stored(sensor))
    }

    /// Unit ray (camera frame) through a stored-image pixel, or `None` where the lens model
    /// cannot be inverted.
    pub fn unproject(&self, pixel: DVec2) -> Option<DVec3> {
        let s = self.stored_to_sensor(pixel);
        let xd = DVec2::new((s.x - self.cx) / self.fx, (s.y - self.cy) / self.fy);
        self.distortion.undistort(xd)
    }

    /// Whether a stored-image pixel position lies inside the image.
    pub fn contains(&self, pixel: DVec2) -> bool {
        pixel.x >= 0.0
            && pixel.y >= 0.0
            && pixel.x < f64::from(self.width)
            && pixel.y < f64::from(self.height)
    }

    /// Projects a world point through an extrinsic: stored-image pixel and depth (camera z).
    pub fn project_world(&self, extrinsic: &WorldToCamera, p_world: DVec3) -> Option<(DVec2, f64)> {
        let p = extrinsic.apply(p_world);
        self.project(p).map(|px| (px, p.z))
    }

    fn sensor_to_stored(&self, s: DVec2) -> DVec2 {
        match self.sensor_rotation {
            SensorRotation::None => s,
            // The sensor is `width` pixels tall once the stored image is upright.
            SensorRotation::Cw90 => DVec2::new(f64::from(self.width) - s.y, s.x),
        }
    }

    fn stored_to_sensor(&self, p: DVec2) -> DVec2 {
        match self.sensor_rotation {
            SensorRotation::None => p,
            SensorRotation::Cw90 => DVec2::new(p.y, f64::from(self.width) - p.x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::{CameraToWorld, Rotation};

    #[test]
    fn rotation_matches_egohumans_formula() {
        // formats/egohumans.md: VRS (100, 200) with H = 1408 is upright (1208, 100).
        let cam = CameraModel::new(
            1408,
            1408,
            610.0,
            610.0,
            704.0,
            704.0,
            Distortion::Pinhole,
            SensorRotation::Cw90,
        )
        .unwrap();
        let (fx, _) = cam.focal();
        // A ray that lands on sensor pixel (100, 200).
        let ray = DVec3::new((100.0 - 704.0) / fx, (200.0 - 704.0) / fx, 1.0);
        let px = cam.project(ray).unwrap();
        assert!((px - DVec2::new(1208.0, 100.0)).length() < 1e-9);
        let back = cam.unproject(px).unwrap();
        assert!((back - ray.normalize()).length() < 1e-12);
    }

    #[test]
    fn project_unproject_round_trip_with_lens_and_rotation() {
        let lens = Distortion::FisheyeRadTanThinPrism {
            radial: [0.40, -0.50, 0.10, 0.90, -1.20, 0.30],
            tangential: [0.0001, -0.0002],
            thin_prism: [0.0, 0.0, 0.0, 0.0],
        };
        let cam = CameraModel::new(
            480,
            640,
            240.0,
            240.0,
            321.0,
            239.0,
            lens,
            SensorRotation::Cw90,
        )
        .unwrap();
        for &(x, y) in &[(0.0, 0.0), (0.3, -0.2), (-0.7, 0.4)] {
            let ray = DVec3::new(x, y, 1.0).normalize();
            let px = cam.project(ray * 3.0).unwrap();
            assert!((cam.unproject(px).unwrap() - ray).length() < 1e-8);
        }
    }

    #[test]
    fn projects_a_world_point_by_hand() {
        // Camera at (0, 0, -5) looking along +z, f = 100, c = (50, 40).
        let cam = CameraModel::new(
            100,
            80,
            100.0,
            100.0,
            50.0,
            40.0,
            Distortion::Pinhole,
            SensorRotation::None,
        )
        .unwrap();
        let ext = CameraToWorld::new(Rotation::IDENTITY, DVec3::new(0.0, 0.0, -5.0))
            .unwrap()
            .inverse();
        let (px, depth) = cam.project_world(&ext, DVec3::new(1.0, 0.5, 0.0)).unwrap();
        assert_eq!(depth, 5.0);
        assert!((px - DVec2::new(70.0, 50.0)).length() < 1e-12);
        assert!(cam.contains(px));
        assert!(
            cam.project_world(&ext, DVec3::new(0.0, 0.0, -6.0))
                .is_none()
        );
    }

    #[test]
    fn resizing_keeps_rays() {
        let cam = CameraModel::new(
            3840,
            2160,
            1750.0,
            1750.0,
            1920.0,
            1080.0,
            Distortion::KannalaBrandt {
                coeffs: [0.02, -0.01, 0.001, 0.0],
            },
            SensorRotation::None,
        )
        .unwrap();
        let small = cam.resized(960, 540).unwrap();
        let ray = DVec3::new(0.2, 0.1, 1.0);
        let a = cam.project(ray).unwrap();
        let b = small.project(ray).unwrap();
        assert!((a / 4.0 - b).length() < 1e-9);
        assert!(
            CameraModel::new(
                0,
                1,
                1.0,
                1.0,
                0.0,
                0.0,
                Distortion::Pinhole,
                SensorRotation::None
            )
            .is_err()
        );
        assert!(
            CameraModel::new(
                1,
                1,
                f64::NAN,
                1.0,
                0.0,
                0.0,
                Distortion::Pinhole,
                SensorRotation::None
            )
            .is_err()
        );
    }
}
