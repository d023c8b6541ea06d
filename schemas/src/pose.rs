//! Rotations and rigid transforms whose direction is part of the type: [`WorldToCamera`] and
//! [`CameraToWorld`], metres, so no bare matrix of unknown direction crosses a module boundary.

use glam::{DMat3, DQuat, DVec3};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, finite};

/// Tolerance on `R^T R = I` and `det R = 1` for rotations read from files.
pub const ROTATION_TOLERANCE: f64 = 1e-4;

/// A proper rotation matrix (orthonormal, determinant +1).
///
/// ```
/// use crossview_schemas::Rotation;
/// // scipy: Rotation.from_euler('xyz', [0, -0.52, 0]) is -0.52 rad about y.
/// let r = Rotation::from_euler_xyz_extrinsic(0.0, -0.52, 0.0).unwrap();
/// let q = r.to_quat_xyzw();
/// assert!((q[1] - (-0.26f64).sin()).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rotation(DMat3);

impl Rotation {
    /// The identity rotation.
    pub const IDENTITY: Rotation = Rotation(DMat3::IDENTITY);

    /// From nine numbers in row-major order (`r00 r01 r02 r10 ...`).
    pub fn from_row_major(m: [f64; 9]) -> Result<Self> {
        Self::checked(DMat3::from_cols_array(&m).transpose())
    }

    /// From nine numbers in column-major order (`r00 r10 r20 r01 ...`).
    pub fn from_col_major(m: [f64; 9]) -> Result<Self> {
        Self::checked(DMat3::from_cols_array(&m))
    }

    /// From rows `[[r00, r01, r02], [r10, ...], ...]`.
    pub fn from_rows(rows: [[f64; 3]; 3]) -> Result<Self> {
        Self::from_row_major([
            rows[0][0], rows[0][1], rows[0][2], rows[1][0], rows[1][1], rows[1][2], rows[2][0],
            rows[2][1], rows[2][2],
        ])
    }

    /// From a quaternion in `x, y, z, w` order (Ego-Exo4D, scipy); normalised first.
    pub fn from_quat_xyzw(x: f64, y: f64, z: f64, w: f64) -> Result<Self> {
        for v in [x, y, z, w] {
            finite("quaternion component", v)?;
        }
        let q = DQuat::from_xyzw(x, y, z, w);
        let n = q.length();
        if n < 1e-9 {
            return Err(Error::InvalidValue {
                what: "quaternion",
                reason: format!("zero length [{x}, {y}, {z}, {w}]"),
            });
        }
        Ok(Rotation(DMat3::from_quat(q / n)))
    }

    /// From a quaternion in `w, x, y, z` order (COLMAP `images.txt`).
    pub fn from_quat_wxyz(w: f64, x: f64, y: f64, z: f64) -> Result<Self> {
        Self::from_quat_xyzw(x, y, z, w)
    }

    /// scipy's `Rotation.from_euler('xyz', [rx, ry, rz])` in radians: extrinsic rotations
    /// about the fixed x, then y, then z axes, so `R = Rz(rz) Ry(ry) Rx(rx)` (MessyTable).
    pub fn from_euler_xyz_extrinsic(rx: f64, ry: f64, rz: f64) -> Result<Self> {
        for v in [rx, ry, rz] {
            finite("Euler angle", v)?;
        }
        Ok(Rotation(
            DMat3::from_rotation_z(rz) * DMat3::from_rotation_y(ry) * DMat3::from_rotation_x(rx),
        ))
    }

    /// The angles `[rx, ry, rz]` of [`Rotation::from_euler_xyz_extrinsic`] (scipy's
    /// `as_euler('xyz')`), with `ry` in `[-pi/2, pi/2]`.
    pub fn to_euler_xyz_extrinsic(&self) -> [f64; 3] {
        let m = self.to_row_major();
        let ry = (-m[6]).clamp(-1.0, 1.0).asin();
        if m[6].abs() < 1.0 - 1e-12 {
            [m[7].atan2(m[8]), ry, m[3].atan2(m[0])]
        } else {
            // Gimbal lock: rx and rz turn about the same axis; put it all in rx.
            [(-m[5]).atan2(m[4]), ry, 0.0]
        }
    }

    /// Rotation by `angle` radians about a unit `axis`.
    pub fn from_axis_angle(axis: DVec3, angle: f64) -> Result<Self> {
        finite("rotation angle", angle)?;
        let n = axis.length();
        if !n.is_finite() || n < 1e-12 {
            return Err(Error::InvalidValue {
                what: "rotation axis",
                reason: format!("{axis:?} has no direction"),
            });
        }
        Ok(Rotation(DMat3::from_axis_angle(axis / n, angle)))
    }

    /// The rotation whose rows are the camera axes `right`, `down`, `forward` expressed in
    /// world coordinates: the world-to-camera rotation of a camera with those axes.
    pub fn from_camera_axes(right: DVec3, down: DVec3, forward: DVec3) -> Result<Self> {
        Self::checked(DMat3::from_cols(right, down, forward).transpose())
    }

    fn checked(m: DMat3) -> Result<Self> {
        for v in m.to_cols_array() {
            finite("rotation matrix entry", v)?;
        }
        let err = (m.transpose() * m - DMat3::IDENTITY)
            .to_cols_array()
            .iter()
            .fold(0f64, |a, v| a.max(v.abs()));
        let det = m.determinant();
        if err > ROTATION_TOLERANCE || (det - 1.0).abs() > ROTATION_TOLERANCE {
            return Err(Error::InvalidValue {
                what: "rotation matrix",
                reason: format!("not a proper rotation (|R^T R - I| = {err:.2e}, det = {det:.6})"),
            });
        }
        Ok(Rotation(m))
    }

    /// The matrix.
    pub fn matrix(&self) -> DMat3 {
        self.0
    }
    /// Row-major nine numbers.
    pub fn to_row_major(&self) -> [f64; 9] {
        self.0.transpose().to_cols_array()
    }
    /// Unit quaternion `[x, y, z, w]` with `w >= 0`.
    pub fn to_quat_xyzw(&self) -> [f64; 4] {
        let q = DQuat::from_mat3(&self.0).normalize();
        let q = if q.w < 0.0 { -q } else { q };
        [q.x, q.y, q.z, q.w]
    }
    /// The inverse rotation.
    pub fn inverse(&self) -> Rotation {
        Rotation(self.0.transpose())
    }
    /// `self * other`: apply `other` first.
    pub fn then_after(&self, other: &Rotation) -> Rotation {
        Rotation(self.0 * other.0)
    }
    /// Rotates a vector.
    pub fn apply(&self, v: DVec3) -> DVec3 {
        self.0 * v
    }
    /// Angle of the rotation in radians.
    pub fn angle(&self) -> f64 {
        ((self.0.x_axis.x + self.0.y_axis.y + self.0.z_axis.z - 1.0) * 0.5)
            .clamp(-1.0, 1.0)
            .acos()
    }
}

/// World-to-camera rigid transform: `p_cam = R p_world + t`, metres. The camera frame is
/// OpenCV's: x right, y down, z forward.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldToCamera {
    /// `R`.
    pub rotation: Rotation,
    /// `t`, metres.
    pub translation: DVec3,
}

/// Camera-to-world rigid transform (a camera pose): `p_world = R p_cam + c`; `c` is the
/// camera centre in world coordinates, metres.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraToWorld {
    /// Rotation from camera axes to world axes.
    pub rotation: Rotation,
    /// Camera centre in the world, metres.
    pub center: DVec3,
}

impl WorldToCamera {
    /// From `R` and `t`; fails on a non-finite translation.
    pub fn new(rotation: Rotation, translation: DVec3) -> Result<Self> {
        check_vec("translation", translation)?;
        Ok(WorldToCamera {
            rotation,
            translation,
        })
    }
    /// Maps a world point into the camera frame.
    pub fn apply(&self, p_world: DVec3) -> DVec3 {
        self.rotation.apply(p_world) + self.translation
    }
    /// The camera pose (camera-to-world).
    pub fn inverse(&self) -> CameraToWorld {
        let r_inv = self.rotation.inverse();
        CameraToWorld {
            rotation: r_inv,
            center: -r_inv.apply(self.translation),
        }
    }
    /// The camera centre in world coordinates.
    pub fn camera_center(&self) -> DVec3 {
        self.inverse().center
    }
}

impl CameraToWorld {
    /// From the camera-to-world rotation and the camera centre; fails on non-finite values.
    pub fn new(rotation: Rotation, center: DVec3) -> Result<Self> {
        check_vec("camera centre", center)?;
        Ok(CameraToWorld { rotation, center })
    }
    /// Maps a camera-frame point into the world.
    pub fn apply(&self, p_cam: DVec3) -> DVec3 {
        self.rotation.apply(p_cam) + self.center
    }
    /// The extrinsic (world-to-camera).
    pub fn inverse(&self) -> WorldToCamera {
        let r_inv = self.rotation.inverse();
        WorldToCamera {
            rotation: r_inv,
            translation: -r_inv.apply(self.center),
        }
    }
}

pub(crate) fn check_vec(what: &'static str, v: DVec3) -> Result<DVec3> {
    for c in v.to_array() {
        finite(what, c)?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: DVec3, b: DVec3) -> bool {
        (a - b).length() < 1e-9
    }

    #[test]
    fn euler_matches_scipy_by_hand() {
        // scipy: Rotation.from_euler('xyz', [0.3, -0.2, 1.1]).as_matrix()[0] =
        // [cos(ry)cos(rz), sin(rx)sin(ry)cos(rz) - cos(rx)sin(rz), cos(rx)sin(ry)cos(rz) + sin(rx)sin(rz)]
        let (rx, ry, rz) = (0.3f64, -0.2f64, 1.1f64);
        let r = Rotation::from_euler_xyz_extrinsic(rx, ry, rz)
            .unwrap()
            .to_row_major();
        let row0 = [
            ry.cos() * rz.cos(),
            rx.sin() * ry.sin() * rz.cos() - rx.cos() * rz.sin(),
            rx.cos() * ry.sin() * rz.cos() + rx.sin() * rz.sin(),
        ];
        for i in 0..3 {
            assert!((r[i] - row0[i]).abs() < 1e-12);
        }
        // Row 2: [-sin(ry), sin(rx)cos(ry), cos(rx)cos(ry)].
        assert!((r[6] + ry.sin()).abs() < 1e-12);
        assert!((r[7] - rx.sin() * ry.cos()).abs() < 1e-12);
    }

    #[test]
    fn euler_round_trips() {
        for &(a, b, c) in &[
            (0.3, -0.2, 1.1),
            (-2.5, 1.2, 3.0),
            (0.0, 0.0, 0.0),
            (1.0, -1.5, -0.4),
        ] {
            let r = Rotation::from_euler_xyz_extrinsic(a, b, c).unwrap();
            let [x, y, z] = r.to_euler_xyz_extrinsic();
            let back = Rotation::from_euler_xyz_extrinsic(x, y, z).unwrap();
            assert!(r.then_after(&back.inverse()).angle() < 1e-9, "{a} {b} {c}");
        }
        let locked =
            Rotation::from_euler_xyz_extrinsic(0.4, std::f64::consts::FRAC_PI_2, 0.1).unwrap();
        let [x, y, z] = locked.to_euler_xyz_extrinsic();
        let back = Rotation::from_euler_xyz_extrinsic(x, y, z).unwrap();
        assert!(locked.then_after(&back.inverse()).angle() < 1e-6);
    }

    #[test]
    fn quaternion_orders_and_round_trip() {
        // 90 degrees about z: x axis goes to y axis.
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let r = Rotation::from_quat_xyzw(0.0, 0.0, h, h).unwrap();
        assert!(close(r.apply(DVec3::X), DVec3::Y));
        assert_eq!(r, Rotation::from_quat_wxyz(h, 0.0, 0.0, h).unwrap());
        let q = r.to_quat_xyzw();
        assert!((q[2] - h).abs() < 1e-12 && (q[3] - h).abs() < 1e-12);
        assert!(Rotation::from_quat_xyzw(0.0, 0.0, 0.0, 0.0).is_err());
    }

    #[test]
    fn matrix_orders_and_validation() {
        let rm = Rotation::from_euler_xyz_extrinsic(0.1, 0.2, 0.3)
            .unwrap()
            .to_row_major();
        let cm = [
            rm[0], rm[3], rm[6], rm[1], rm[4], rm[7], rm[2], rm[5], rm[8],
        ];
        assert_eq!(
            Rotation::from_row_major(rm).unwrap(),
            Rotation::from_col_major(cm).unwrap()
        );
        assert!(Rotation::from_row_major([2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]).is_err());
        // A reflection is orthonormal but not a rotation.
        assert!(Rotation::from_row_major([-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]).is_err());
        assert!(Rotation::from_row_major([f64::NAN; 9]).is_err());
    }

    #[test]
    fn transforms_invert_each_other() {
        let r = Rotation::from_euler_xyz_extrinsic(0.4, -0.7, 2.0).unwrap();
        let pose = CameraToWorld::new(r, DVec3::new(1.5, -2.0, 1.6)).unwrap();
        let ext = pose.inverse();
        assert!(close(ext.camera_center(), pose.center));
        let p = DVec3::new(0.3, 0.2, -0.9);
        assert!(close(pose.apply(ext.apply(p)), p));
        assert!(close(ext.apply(pose.center), DVec3::ZERO));
        // Hand case: camera at (0,0,-5) looking along +z with identity axes.
        let e = CameraToWorld::new(Rotation::IDENTITY, DVec3::new(0.0, 0.0, -5.0))
            .unwrap()
            .inverse();
        assert!(close(e.apply(DVec3::ZERO), DVec3::new(0.0, 0.0, 5.0)));
    }
}
