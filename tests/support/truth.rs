//! The synthetic truth in tests: reading `_truth/` tables, and oriented boxes with their
//! distance (for contact), independent of the project's geometry code.

use std::path::Path;

use crossview::schemas::glam::{DMat3, DQuat, DVec3};
use crossview::schemas::{ArrowRecord, RecordReader, TruthState};

/// A `_truth/<table>.parquet` table of a synthetic tree.
pub fn truth<T: ArrowRecord>(root: &Path, table: &str) -> Vec<T> {
    RecordReader::<T>::read_all(root.join("_truth").join(format!("{table}.parquet")))
        .expect("truth table")
}

/// An oriented box of the truth.
#[derive(Clone, Copy)]
pub struct Obb {
    c: DVec3,
    r: DMat3,
    half: DVec3,
}

impl Obb {
    /// The box of a truth state.
    pub fn of(s: &TruthState) -> Obb {
        let q = DQuat::from_xyzw(
            s.rotation_xyzw[0],
            s.rotation_xyzw[1],
            s.rotation_xyzw[2],
            s.rotation_xyzw[3],
        );
        Obb {
            c: s.position,
            r: DMat3::from_quat(q),
            half: s.extent * 0.5,
        }
    }
    /// The point of the box nearest to `p`.
    fn clamp(&self, p: DVec3) -> DVec3 {
        let local = self.r.transpose() * (p - self.c);
        self.c + self.r * local.clamp(-self.half, self.half)
    }
}

/// Distance between two convex boxes by alternating projections (0 when they touch).
pub fn obb_distance(a: &Obb, b: &Obb) -> f64 {
    let mut p = a.c;
    let mut q = b.clamp(p);
    for _ in 0..200 {
        p = a.clamp(q);
        q = b.clamp(p);
    }
    (p - q).length()
}

/// The `_truth/` observations of a tree by (scene, camera, frame, instance).
pub fn observations_by_view(
    root: &Path,
) -> std::collections::BTreeMap<(String, String, u32, String), crossview::schemas::TruthObservation>
{
    truth::<crossview::schemas::TruthObservation>(root, "observations")
        .into_iter()
        .map(|o| {
            let key = (
                o.scene_id.clone(),
                o.camera_id.clone(),
                o.frame_index,
                o.instance_id.clone(),
            );
            (key, o)
        })
        .collect()
}
