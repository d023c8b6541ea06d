//! Least-squares triangulation: the point nearest to a set of rays, with the worst rays
//! dropped while they disagree with the others.

use crossview_schemas::glam::{DMat3, DVec3};

use super::rig::Ray;

/// The point minimising the sum of squared distances to the rays (at least two, not all
/// parallel), or `None`.
pub fn nearest_point(rays: &[Ray]) -> Option<DVec3> {
    if rays.len() < 2 {
        return None;
    }
    // Sum over rays of (I - d d^T) x = (I - d d^T) o.
    let mut a = DMat3::ZERO;
    let mut b = DVec3::ZERO;
    for r in rays {
        let d = r.dir;
        let m = DMat3::IDENTITY - DMat3::from_cols(d * d.x, d * d.y, d * d.z);
        a += m;
        b += m * r.origin;
    }
    if a.determinant().abs() < 1e-12 {
        return None;
    }
    let x = a.inverse() * b;
    x.is_finite().then_some(x)
}

/// Distance from a point to a ray's line (behind the origin counts as far).
pub fn ray_distance(r: &Ray, p: DVec3) -> f64 {
    let v = p - r.origin;
    let t = v.dot(r.dir);
    if t <= 0.0 {
        return v.length() + 1e3;
    }
    (v - r.dir * t).length()
}

/// Triangulates, then drops the ray farthest from the point while it is farther than
/// `max_miss` metres and more than two rays remain. Returns the point and the rays kept.
pub fn robust_point(rays: &[Ray], max_miss: f64) -> Option<(DVec3, Vec<usize>)> {
    let mut keep: Vec<usize> = (0..rays.len()).collect();
    loop {
        let sub: Vec<Ray> = keep.iter().map(|&i| rays[i]).collect();
        let p = nearest_point(&sub)?;
        let (worst, miss) = keep
            .iter()
            .enumerate()
            .map(|(k, &i)| (k, ray_distance(&rays[i], p)))
            .fold((0, 0.0), |acc, x| if x.1 > acc.1 { x } else { acc });
        if miss <= max_miss || keep.len() <= 2 {
            return Some((p, keep));
        }
        keep.remove(worst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ray(o: DVec3, through: DVec3) -> Ray {
        Ray {
            origin: o,
            dir: (through - o).normalize(),
        }
    }

    #[test]
    fn rays_through_a_point_meet_there() {
        let p = DVec3::new(0.3, -0.2, 0.8);
        let rays = [
            ray(DVec3::new(2.0, 0.0, 1.5), p),
            ray(DVec3::new(-1.0, 2.0, 1.2), p),
            ray(DVec3::new(0.0, -2.5, 2.0), p),
        ];
        assert!((nearest_point(&rays).unwrap() - p).length() < 1e-9);
        // Parallel rays do not determine a point.
        let par = [
            ray(DVec3::ZERO, DVec3::X),
            ray(DVec3::Y, DVec3::new(1.0, 1.0, 0.0)),
        ];
        assert!(nearest_point(&par).is_none());
    }

    #[test]
    fn an_outlier_ray_is_dropped() {
        let p = DVec3::new(0.3, -0.2, 0.8);
        let mut rays = vec![
            ray(DVec3::new(2.0, 0.0, 1.5), p),
            ray(DVec3::new(-1.0, 2.0, 1.2), p),
            ray(DVec3::new(0.0, -2.5, 2.0), p),
            ray(DVec3::new(1.5, 1.5, 1.0), p),
        ];
        rays.push(ray(DVec3::new(-2.0, -2.0, 1.0), DVec3::new(1.0, 1.0, 0.5)));
        let (q, keep) = robust_point(&rays, 0.02).unwrap();
        assert!((q - p).length() < 1e-9);
        assert_eq!(keep, vec![0, 1, 2, 3]);
    }
}
