//! Camera placement helpers shared by the profiles: look-at poses with z-up worlds.

use crossview_schemas::glam::DVec3;
use crossview_schemas::{Rotation, WorldToCamera};

/// The world-to-camera pose of a camera at `eye` looking at `target`, world z up, rolled by
/// `roll` radians about its optical axis. Camera axes are OpenCV's (x right, y down).
pub fn look_at(eye: DVec3, target: DVec3, roll: f64) -> WorldToCamera {
    let forward = (target - eye).normalize_or(DVec3::Y);
    let up = if forward.cross(DVec3::Z).length() < 1e-6 {
        DVec3::Y
    } else {
        DVec3::Z
    };
    let right0 = forward.cross(up).normalize();
    let down0 = forward.cross(right0);
    let (s, c) = roll.sin_cos();
    let right = right0 * c + down0 * s;
    let down = down0 * c - right0 * s;
    let rotation = Rotation::from_camera_axes(right, down, forward)
        .unwrap_or_else(|e| unreachable!("orthonormal axes by construction: {e}"));
    WorldToCamera {
        rotation,
        translation: -rotation.apply(eye),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_projects_to_the_optical_axis() {
        let eye = DVec3::new(1.0, -2.0, 1.5);
        let target = DVec3::new(0.2, 0.3, 0.7);
        for roll in [0.0, 0.3] {
            let p = look_at(eye, target, roll);
            let t = p.apply(target);
            assert!(t.x.abs() < 1e-12 && t.y.abs() < 1e-12 && t.z > 0.0);
            assert!((p.camera_center() - eye).length() < 1e-12);
        }
        // Without roll, world up appears as image up (negative camera y).
        let p = look_at(eye, target, 0.0);
        let up = p.rotation.apply(DVec3::Z);
        assert!(up.y < 0.0);
    }
}
