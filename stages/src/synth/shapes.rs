//! The synthetic world's solid primitives (cuboid, cylinder, ellipsoid, capsule), their placement
//! in the world, and exact ray intersection in each primitive's local frame.

use glam::{DMat3, DVec3};

/// A solid centred on its local origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Axis-aligned box with half sizes.
    Cuboid {
        /// Half sizes along x, y, z.
        half: DVec3,
    },
    /// Capped cylinder around the local z axis.
    Cylinder {
        /// Radius.
        radius: f64,
        /// Half the height.
        half_height: f64,
    },
    /// Ellipsoid with semi-axes along x, y, z.
    Ellipsoid {
        /// Semi-axes.
        radii: DVec3,
    },
    /// Segment from `-half_length` to `+half_length` on z, swept by a sphere.
    Capsule {
        /// Half the segment length.
        half_length: f64,
        /// Radius.
        radius: f64,
    },
}

/// Where a ray meets a shape.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    /// Distance along the (unit) ray.
    pub t: f64,
    /// The hit point in the shape's local frame.
    pub local: DVec3,
}

/// Hits closer than this are ignored (the ray starts inside or on the surface).
const NEAR: f64 = 1e-6;

impl Shape {
    /// Full size of the shape's local bounding box.
    pub fn extent(&self) -> DVec3 {
        match *self {
            Shape::Cuboid { half } => half * 2.0,
            Shape::Cylinder {
                radius,
                half_height,
            } => DVec3::new(2.0 * radius, 2.0 * radius, 2.0 * half_height),
            Shape::Ellipsoid { radii } => radii * 2.0,
            Shape::Capsule {
                half_length,
                radius,
            } => DVec3::new(2.0 * radius, 2.0 * radius, 2.0 * (half_length + radius)),
        }
    }

    /// Radius of a sphere around the local origin that contains the shape.
    pub fn bounding_radius(&self) -> f64 {
        match *self {
            Shape::Cuboid { half } => half.length(),
            Shape::Cylinder {
                radius,
                half_height,
            } => (radius * radius + half_height * half_height).sqrt(),
            Shape::Ellipsoid { radii } => radii.max_element(),
            Shape::Capsule {
                half_length,
                radius,
            } => half_length + radius,
        }
    }

    /// First intersection of the ray `o + t d` (local frame, `d` unit) with `t > NEAR`.
    pub fn intersect(&self, o: DVec3, d: DVec3) -> Option<Hit> {
        let t = match *self {
            Shape::Cuboid { half } => cuboid(o, d, half),
            Shape::Cylinder {
                radius,
                half_height,
            } => cylinder(o, d, radius, half_height),
            Shape::Ellipsoid { radii } => ellipsoid(o, d, radii),
            Shape::Capsule {
                half_length,
                radius,
            } => capsule(o, d, half_length, radius),
        }?;
        Some(Hit {
            t,
            local: o + d * t,
        })
    }

    /// Outward unit normal at a local surface point.
    pub fn normal(&self, p: DVec3) -> DVec3 {
        match *self {
            Shape::Cuboid { half } => {
                // The face whose plane the point is closest to.
                let r = p / half;
                let a = r.abs();
                if a.x >= a.y && a.x >= a.z {
                    DVec3::new(r.x.signum(), 0.0, 0.0)
                } else if a.y >= a.z {
                    DVec3::new(0.0, r.y.signum(), 0.0)
                } else {
                    DVec3::new(0.0, 0.0, r.z.signum())
                }
            }
            Shape::Cylinder {
                radius,
                half_height,
            } => {
                let radial = DVec3::new(p.x, p.y, 0.0);
                let side = (radial.length() - radius).abs();
                let cap = (p.z.abs() - half_height).abs();
                if cap < side {
                    DVec3::new(0.0, 0.0, p.z.signum())
                } else {
                    radial.normalize_or_zero()
                }
            }
            Shape::Ellipsoid { radii } => (p / (radii * radii)).normalize_or_zero(),
            Shape::Capsule { half_length, .. } => {
                let axis = DVec3::new(0.0, 0.0, p.z.clamp(-half_length, half_length));
                (p - axis).normalize_or_zero()
            }
        }
    }
}

fn smallest_positive(a: f64, b: f64) -> Option<f64> {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    if lo > NEAR {
        Some(lo)
    } else if hi > NEAR {
        Some(hi)
    } else {
        None
    }
}

fn cuboid(o: DVec3, d: DVec3, half: DVec3) -> Option<f64> {
    let (mut t0, mut t1) = (f64::NEG_INFINITY, f64::INFINITY);
    for i in 0..3 {
        if d[i].abs() < 1e-15 {
            if o[i].abs() > half[i] {
                return None;
            }
            continue;
        }
        let inv = 1.0 / d[i];
        let (a, b) = ((-half[i] - o[i]) * inv, (half[i] - o[i]) * inv);
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        t0 = t0.max(a);
        t1 = t1.min(b);
        if t0 > t1 {
            return None;
        }
    }
    smallest_positive(t0, t1)
}

/// Roots of `a t^2 + 2 b t + c = 0`, smaller first.
fn quadratic(a: f64, b: f64, c: f64) -> Option<(f64, f64)> {
    let disc = b * b - a * c;
    if disc < 0.0 || a.abs() < 1e-18 {
        return None;
    }
    let s = disc.sqrt();
    Some(((-b - s) / a, (-b + s) / a))
}

fn ellipsoid(o: DVec3, d: DVec3, radii: DVec3) -> Option<f64> {
    let (os, ds) = (o / radii, d / radii);
    let (t0, t1) = quadratic(ds.dot(ds), os.dot(ds), os.dot(os) - 1.0)?;
    smallest_positive(t0, t1)
}

fn cylinder(o: DVec3, d: DVec3, r: f64, h: f64) -> Option<f64> {
    let mut best = f64::INFINITY;
    if let Some((t0, t1)) = quadratic(
        d.x * d.x + d.y * d.y,
        o.x * d.x + o.y * d.y,
        o.x * o.x + o.y * o.y - r * r,
    ) {
        for t in [t0, t1] {
            if t > NEAR && (o.z + t * d.z).abs() <= h {
                best = best.min(t);
            }
        }
    }
    if d.z.abs() > 1e-15 {
        for cap in [-h, h] {
            let t = (cap - o.z) / d.z;
            let p = o + d * t;
            if t > NEAR && p.x * p.x + p.y * p.y <= r * r {
                best = best.min(t);
            }
        }
    }
    best.is_finite().then_some(best)
}

fn capsule(o: DVec3, d: DVec3, hl: f64, r: f64) -> Option<f64> {
    // The capsule lies inside the infinite cylinder of its radius: a ray that misses that
    // cylinder (the common case inside a limb's screen bounds) misses the capsule.
    let side = quadratic(
        d.x * d.x + d.y * d.y,
        o.x * d.x + o.y * d.y,
        o.x * o.x + o.y * o.y - r * r,
    );
    let parallel = d.x * d.x + d.y * d.y < 1e-18;
    if side.is_none() && !parallel {
        return None;
    }
    let mut best = f64::INFINITY;
    if let Some((t0, t1)) = side {
        for t in [t0, t1] {
            if t > NEAR && (o.z + t * d.z).abs() <= hl {
                best = best.min(t);
            }
        }
    }
    for end in [-hl, hl] {
        let oc = o - DVec3::new(0.0, 0.0, end);
        if let Some(t) = quadratic(d.dot(d), oc.dot(d), oc.dot(oc) - r * r)
            .and_then(|(t0, t1)| smallest_positive(t0, t1))
        {
            best = best.min(t);
        }
    }
    best.is_finite().then_some(best)
}

/// A rigid placement of a local frame in the world: `p_world = rotation * p_local + translation`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Local-to-world rotation.
    pub rotation: DMat3,
    /// Position of the local origin in the world.
    pub translation: DVec3,
}

impl Placement {
    /// A placement at `translation` turned by `yaw` radians about the world z (up) axis.
    pub fn upright(translation: DVec3, yaw: f64) -> Self {
        Placement {
            rotation: DMat3::from_rotation_z(yaw),
            translation,
        }
    }

    /// The placement of a capsule or cylinder whose local z axis runs from `a` to `b`.
    pub fn along(a: DVec3, b: DVec3) -> Self {
        let axis = (b - a).normalize_or(DVec3::Z);
        let helper = if axis.z.abs() < 0.9 {
            DVec3::Z
        } else {
            DVec3::X
        };
        let x = helper.cross(axis).normalize();
        let y = axis.cross(x);
        Placement {
            rotation: DMat3::from_cols(x, y, axis),
            translation: (a + b) * 0.5,
        }
    }

    /// This placement followed by `outer` (e.g. a part inside an object placed in the world).
    pub fn then(&self, outer: &Placement) -> Placement {
        Placement {
            rotation: outer.rotation * self.rotation,
            translation: outer.rotation * self.translation + outer.translation,
        }
    }

    /// Maps a local point into the outer frame.
    pub fn apply(&self, p: DVec3) -> DVec3 {
        self.rotation * p + self.translation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit_t(s: Shape, o: DVec3, d: DVec3) -> Option<f64> {
        s.intersect(o, d.normalize()).map(|h| h.t)
    }

    #[test]
    fn intersections_by_hand() {
        let from = DVec3::new(0.0, 0.0, -5.0);
        let z = DVec3::Z;
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        assert!(close(
            hit_t(
                Shape::Cuboid {
                    half: DVec3::splat(1.0)
                },
                from,
                z
            ),
            4.0
        ));
        assert!(close(
            hit_t(
                Shape::Ellipsoid {
                    radii: DVec3::new(1.0, 1.0, 2.0)
                },
                from,
                z
            ),
            3.0
        ));
        assert!(close(
            hit_t(
                Shape::Cylinder {
                    radius: 1.0,
                    half_height: 0.5
                },
                from,
                z
            ),
            4.5
        ));
        assert!(close(
            hit_t(
                Shape::Capsule {
                    half_length: 1.0,
                    radius: 0.5
                },
                from,
                z
            ),
            3.5
        ));
        // Side hits.
        let side = DVec3::new(-5.0, 0.0, 0.0);
        assert!(close(
            hit_t(
                Shape::Cylinder {
                    radius: 1.0,
                    half_height: 0.5
                },
                side,
                DVec3::X
            ),
            4.0
        ));
        assert!(close(
            hit_t(
                Shape::Capsule {
                    half_length: 1.0,
                    radius: 0.5
                },
                side,
                DVec3::X
            ),
            4.5
        ));
        // Misses.
        let off = DVec3::new(3.0, 0.0, -5.0);
        assert!(
            hit_t(
                Shape::Cuboid {
                    half: DVec3::splat(1.0)
                },
                off,
                z
            )
            .is_none()
        );
        assert!(
            hit_t(
                Shape::Capsule {
                    half_length: 1.0,
                    radius: 0.5
                },
                off,
                z
            )
            .is_none()
        );
        // Pointing away.
        assert!(hit_t(Shape::Ellipsoid { radii: DVec3::ONE }, from, -z).is_none());
    }

    #[test]
    fn normals_point_outward() {
        let shapes = [
            Shape::Cuboid {
                half: DVec3::new(1.0, 2.0, 0.5),
            },
            Shape::Cylinder {
                radius: 1.0,
                half_height: 0.5,
            },
            Shape::Ellipsoid {
                radii: DVec3::new(1.0, 2.0, 0.5),
            },
            Shape::Capsule {
                half_length: 1.0,
                radius: 0.5,
            },
        ];
        for s in shapes {
            for d in [
                DVec3::X,
                DVec3::Y,
                DVec3::Z,
                DVec3::new(1.0, 1.0, 1.0).normalize(),
            ] {
                let hit = s.intersect(-d * 10.0, d).unwrap();
                assert!(s.normal(hit.local).dot(d) < 0.0, "{s:?} {d:?}");
            }
        }
    }

    #[test]
    fn placement_along_maps_ends() {
        let (a, b) = (DVec3::new(1.0, 2.0, 3.0), DVec3::new(1.5, 2.0, 4.0));
        let p = Placement::along(a, b);
        let hl = (b - a).length() / 2.0;
        assert!((p.apply(DVec3::new(0.0, 0.0, hl)) - b).length() < 1e-12);
        assert!((p.apply(DVec3::new(0.0, 0.0, -hl)) - a).length() < 1e-12);
    }
}
