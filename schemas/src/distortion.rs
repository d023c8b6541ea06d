//! [`Distortion`]: the lens models the four sources use (pinhole, OpenCV radial-tangential,
//! Kannala-Brandt / OPENCV_FISHEYE / GoPro KB3, Aria FisheyeRadTanThinPrism) in both directions.

use glam::{DVec2, DVec3};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, finite};

/// A lens model mapping a camera-frame ray to normalised distorted coordinates (before the
/// focal lengths and principal point are applied).
///
/// All models here are defined for rays in front of the camera (`z > 0`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Distortion {
    /// Ideal pinhole: `(x/z, y/z)`.
    Pinhole,
    /// OpenCV radial-tangential (Brown-Conrady) with `k1, k2, p1, p2, k3`.
    RadialTangential {
        /// `[k1, k2, p1, p2, k3]`, OpenCV's order.
        coeffs: [f64; 5],
    },
    /// Kannala-Brandt equidistant fisheye, `theta_d = theta (1 + k1 theta^2 + ... + k4 theta^8)`:
    /// OpenCV `cv2.fisheye`, COLMAP `OPENCV_FISHEYE`, Ego-Exo4D GoPro `KANNALABRANDTK3`.
    KannalaBrandt {
        /// `[k1, k2, k3, k4]`.
        coeffs: [f64; 4],
    },
    /// Project Aria's FisheyeRadTanThinPrism ("Fisheye624"): six radial terms on theta, then
    /// tangential `2 (xr . p) xr + |xr|^2 p`, then thin prism. Aria's reference form (the
    /// EgoHumans code uses an element-wise variant of the tangential term; see formats/).
    FisheyeRadTanThinPrism {
        /// Radial `[k0..k5]`.
        radial: [f64; 6],
        /// Tangential `[p0, p1]`.
        tangential: [f64; 2],
        /// Thin prism `[s0, s1, s2, s3]`.
        thin_prism: [f64; 4],
    },
}

/// Outcome of a closed-form inversion attempt.
enum Inverse {
    /// Pinhole coordinates that reproduce the input.
    Found(DVec2),
    /// No ray in front of the camera maps there.
    OutsideField,
    /// The shortcut did not converge; solve in full.
    Unsure,
}

/// Newton iterations allowed when inverting a model.
const MAX_NEWTON_STEPS: usize = 50;
/// Convergence threshold on the residual, in normalised units (about 1e-9 px at f = 1000).
const NEWTON_TOLERANCE: f64 = 1e-12;

impl Distortion {
    /// The model's name as stored in Parquet tables: `pinhole`, `radial_tangential`,
    /// `kannala_brandt`, `fisheye_rad_tan_thin_prism`.
    pub fn name(&self) -> &'static str {
        match self {
            Distortion::Pinhole => "pinhole",
            Distortion::RadialTangential { .. } => "radial_tangential",
            Distortion::KannalaBrandt { .. } => "kannala_brandt",
            Distortion::FisheyeRadTanThinPrism { .. } => "fisheye_rad_tan_thin_prism",
        }
    }

    /// The coefficients in the order [`Distortion::from_name`] takes them.
    pub fn coefficients(&self) -> Vec<f64> {
        match self {
            Distortion::Pinhole => vec![],
            Distortion::RadialTangential { coeffs } => coeffs.to_vec(),
            Distortion::KannalaBrandt { coeffs } => coeffs.to_vec(),
            Distortion::FisheyeRadTanThinPrism {
                radial,
                tangential,
                thin_prism,
            } => radial
                .iter()
                .chain(tangential)
                .chain(thin_prism)
                .copied()
                .collect(),
        }
    }

    /// Rebuilds a model from [`Distortion::name`] and [`Distortion::coefficients`].
    pub fn from_name(name: &str, c: &[f64]) -> Result<Self> {
        for &v in c {
            finite("distortion coefficient", v)?;
        }
        let want = match name {
            "pinhole" => 0,
            "radial_tangential" => 5,
            "kannala_brandt" => 4,
            "fisheye_rad_tan_thin_prism" => 12,
            other => {
                return Err(Error::InvalidValue {
                    what: "distortion model",
                    reason: format!("unknown model {other:?}"),
                });
            }
        };
        if c.len() != want {
            return Err(Error::InvalidValue {
                what: "distortion coefficients",
                reason: format!("{name} takes {want} coefficients, got {}", c.len()),
            });
        }
        let arr = |r: std::ops::Range<usize>| -> Vec<f64> { c[r].to_vec() };
        Ok(match name {
            "pinhole" => Distortion::Pinhole,
            "radial_tangential" => Distortion::RadialTangential {
                coeffs: [c[0], c[1], c[2], c[3], c[4]],
            },
            "kannala_brandt" => Distortion::KannalaBrandt {
                coeffs: [c[0], c[1], c[2], c[3]],
            },
            _ => {
                let (r, t, s) = (arr(0..6), arr(6..8), arr(8..12));
                Distortion::FisheyeRadTanThinPrism {
                    radial: [r[0], r[1], r[2], r[3], r[4], r[5]],
                    tangential: [t[0], t[1]],
                    thin_prism: [s[0], s[1], s[2], s[3]],
                }
            }
        })
    }

    /// Whether the model is a fisheye (angle-based) one.
    pub fn is_fisheye(&self) -> bool {
        matches!(
            self,
            Distortion::KannalaBrandt { .. } | Distortion::FisheyeRadTanThinPrism { .. }
        )
    }

    /// Normalised distorted coordinates of a camera-frame ray, or `None` behind the camera.
    pub fn distort(&self, ray: DVec3) -> Option<DVec2> {
        if ray.z.is_nan() || ray.z <= 1e-12 {
            return None;
        }
        Some(self.distort_pinhole(DVec2::new(ray.x / ray.z, ray.y / ray.z)))
    }

    /// The model as a map from ideal pinhole coordinates `(x/z, y/z)` to distorted ones.
    pub fn distort_pinhole(&self, ab: DVec2) -> DVec2 {
        match self {
            Distortion::Pinhole => ab,
            Distortion::RadialTangential {
                coeffs: [k1, k2, p1, p2, k3],
            } => {
                let (x, y) = (ab.x, ab.y);
                let r2 = x * x + y * y;
                let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
                DVec2::new(
                    x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
                    y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
                )
            }
            Distortion::KannalaBrandt { coeffs } => ab * theta_scale(ab.length(), coeffs),
            Distortion::FisheyeRadTanThinPrism {
                radial,
                tangential,
                thin_prism,
            } => {
                let xr = ab * theta_scale(ab.length(), radial);
                let p = DVec2::new(tangential[0], tangential[1]);
                let r2 = xr.length_squared();
                let tang = 2.0 * xr.dot(p) * xr + r2 * p;
                let [s0, s1, s2, s3] = *thin_prism;
                let prism = DVec2::new(s0 * r2 + s1 * r2 * r2, s2 * r2 + s3 * r2 * r2);
                xr + tang + prism
            }
        }
    }

    /// The unit ray whose distorted coordinates are `xd`, or `None` if the model cannot be
    /// inverted there (outside its valid field of view).
    pub fn undistort(&self, xd: DVec2) -> Option<DVec3> {
        if !xd.is_finite() {
            return None;
        }
        let ab = match self {
            Distortion::Pinhole => xd,
            Distortion::KannalaBrandt { coeffs } => {
                // 1-D inversion on theta is better conditioned than the 2-D Newton below.
                let theta_d = xd.length();
                if theta_d < 1e-15 {
                    return Some(DVec3::Z);
                }
                let theta = solve_theta(theta_d, coeffs)?;
                if theta >= std::f64::consts::FRAC_PI_2 {
                    return None;
                }
                xd / theta_d * theta.tan()
            }
            Distortion::FisheyeRadTanThinPrism { radial, .. } => {
                match self.invert_fisheye624(xd, radial) {
                    Inverse::Found(ab) => ab,
                    Inverse::OutsideField => return None,
                    Inverse::Unsure => self.invert_newton(xd)?,
                }
            }
            _ => self.invert_newton(xd)?,
        };
        Some(DVec3::new(ab.x, ab.y, 1.0).normalize())
    }

    /// Inverts Fisheye624: the tangential and thin-prism terms are small, so a fixed-point
    /// iteration peels them off, then the radial polynomial is inverted in one dimension.
    fn invert_fisheye624(&self, xd: DVec2, radial: &[f64; 6]) -> Inverse {
        let extra = |xr: DVec2| -> DVec2 {
            let Distortion::FisheyeRadTanThinPrism {
                tangential,
                thin_prism,
                ..
            } = self
            else {
                return DVec2::ZERO;
            };
            let p = DVec2::new(tangential[0], tangential[1]);
            let r2 = xr.length_squared();
            let [s0, s1, s2, s3] = *thin_prism;
            2.0 * xr.dot(p) * xr
                + r2 * p
                + DVec2::new(s0 * r2 + s1 * r2 * r2, s2 * r2 + s3 * r2 * r2)
        };
        let mut xr = xd;
        for _ in 0..30 {
            let next = xd - extra(xr);
            let done = (next - xr).length() < 1e-15;
            xr = next;
            if done {
                break;
            }
        }
        let theta_d = xr.length();
        let ab = if theta_d < 1e-15 {
            xr
        } else {
            // No angle in front of the camera reaches this radius.
            let Some(theta) = solve_theta(theta_d, radial) else {
                return Inverse::OutsideField;
            };
            if theta >= std::f64::consts::FRAC_PI_2 {
                return Inverse::OutsideField;
            }
            xr / theta_d * theta.tan()
        };
        if (self.distort_pinhole(ab) - xd).length() < 1e-10 {
            Inverse::Found(ab)
        } else {
            Inverse::Unsure
        }
    }

    /// Inverts [`Distortion::distort_pinhole`] by Newton's method with a numeric Jacobian.
    fn invert_newton(&self, xd: DVec2) -> Option<DVec2> {
        let mut ab = match self {
            // Fisheye: start from the equidistant guess theta = |xd|.
            Distortion::FisheyeRadTanThinPrism { .. } => {
                let t = xd.length().min(1.5);
                if t < 1e-15 {
                    xd
                } else {
                    xd / xd.length() * t.tan()
                }
            }
            _ => xd,
        };
        for _ in 0..MAX_NEWTON_STEPS {
            let f = self.distort_pinhole(ab) - xd;
            if f.length() < NEWTON_TOLERANCE {
                return Some(ab);
            }
            let h = 1e-7 * (1.0 + ab.length());
            let jx = (self.distort_pinhole(ab + DVec2::new(h, 0.0))
                - self.distort_pinhole(ab - DVec2::new(h, 0.0)))
                / (2.0 * h);
            let jy = (self.distort_pinhole(ab + DVec2::new(0.0, h))
                - self.distort_pinhole(ab - DVec2::new(0.0, h)))
                / (2.0 * h);
            let det = jx.x * jy.y - jy.x * jx.y;
            if det.is_nan() || det.abs() <= 1e-15 {
                return None;
            }
            let step = DVec2::new(
                (jy.y * f.x - jy.x * f.y) / det,
                (-jx.y * f.x + jx.x * f.y) / det,
            );
            ab -= step;
            if !ab.is_finite() {
                return None;
            }
        }
        let f = self.distort_pinhole(ab) - xd;
        (f.length() < 1e-9).then_some(ab)
    }
}

/// `theta_d / r` for a ray at pinhole radius `r`, with `theta = atan(r)` and the odd
/// polynomial `theta_d = theta (1 + c0 theta^2 + c1 theta^4 + ...)`.
fn theta_scale(r: f64, coeffs: &[f64]) -> f64 {
    if r < 1e-15 {
        return 1.0;
    }
    let theta = r.atan();
    theta_poly(theta, coeffs) / r
}

fn theta_poly(theta: f64, coeffs: &[f64]) -> f64 {
    let t2 = theta * theta;
    let mut acc = 0.0;
    for &c in coeffs.iter().rev() {
        acc = (acc + c) * t2;
    }
    theta * (1.0 + acc)
}

/// Solves `theta_poly(theta) = theta_d` for theta by Newton's method.
fn solve_theta(theta_d: f64, coeffs: &[f64]) -> Option<f64> {
    let mut theta = theta_d;
    for _ in 0..MAX_NEWTON_STEPS {
        let f = theta_poly(theta, coeffs) - theta_d;
        if f.abs() < NEWTON_TOLERANCE {
            return Some(theta);
        }
        let h = 1e-8;
        let df = (theta_poly(theta + h, coeffs) - theta_poly(theta - h, coeffs)) / (2.0 * h);
        if df.is_nan() || df.abs() <= 1e-12 {
            return None;
        }
        theta -= f / df;
        if !theta.is_finite() || theta < 0.0 {
            return None;
        }
    }
    (f64::abs(theta_poly(theta, coeffs) - theta_d) < 1e-9).then_some(theta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> Vec<Distortion> {
        vec![
            Distortion::Pinhole,
            Distortion::RadialTangential {
                coeffs: [-0.28, 0.07, 0.0012, -0.0008, -0.01],
            },
            Distortion::KannalaBrandt {
                coeffs: [0.05, -0.01, 0.002, 0.0],
            },
            Distortion::FisheyeRadTanThinPrism {
                radial: [0.40, -0.50, 0.10, 0.90, -1.20, 0.30],
                tangential: [0.0001, -0.0002],
                thin_prism: [0.0003, 0.0, -0.0002, 0.0],
            },
        ]
    }

    #[test]
    fn round_trips_per_model() {
        for m in models() {
            for &(x, y) in &[
                (0.0, 0.0),
                (0.1, -0.05),
                (-0.4, 0.3),
                (0.6, 0.5),
                (-0.8, -0.2),
            ] {
                let ray = DVec3::new(x, y, 1.0).normalize();
                let xd = m.distort(ray).unwrap();
                let back = m.undistort(xd).unwrap();
                assert!(
                    (back - ray).length() < 1e-8,
                    "{} at ({x}, {y}): {back:?}",
                    m.name()
                );
            }
            assert!(m.distort(DVec3::new(0.0, 0.0, -1.0)).is_none());
        }
    }

    #[test]
    fn kannala_brandt_by_hand() {
        // Ray at 45 degrees: theta = pi/4; theta_d = theta (1 + k1 theta^2).
        let m = Distortion::KannalaBrandt {
            coeffs: [0.1, 0.0, 0.0, 0.0],
        };
        let xd = m.distort(DVec3::new(1.0, 0.0, 1.0)).unwrap();
        let t = std::f64::consts::FRAC_PI_4;
        assert!((xd.x - t * (1.0 + 0.1 * t * t)).abs() < 1e-12);
        assert_eq!(xd.y, 0.0);
    }

    #[test]
    fn radial_tangential_by_hand() {
        // OpenCV: x' = x(1 + k1 r^2) + 2 p1 x y + p2 (r^2 + 2 x^2) at (0.2, 0.1).
        let m = Distortion::RadialTangential {
            coeffs: [0.1, 0.0, 0.01, 0.02, 0.0],
        };
        let xd = m.distort_pinhole(DVec2::new(0.2, 0.1));
        let r2 = 0.05;
        assert!(
            (xd.x - (0.2 * (1.0 + 0.1 * r2) + 2.0 * 0.01 * 0.02 + 0.02 * (r2 + 0.08))).abs()
                < 1e-15
        );
        assert!(
            (xd.y - (0.1 * (1.0 + 0.1 * r2) + 0.01 * (r2 + 0.02) + 2.0 * 0.02 * 0.02)).abs()
                < 1e-15
        );
    }

    #[test]
    fn names_round_trip_and_reject_bad_coefficients() {
        for m in models() {
            assert_eq!(
                Distortion::from_name(m.name(), &m.coefficients()).unwrap(),
                m
            );
        }
        assert!(Distortion::from_name("kannala_brandt", &[0.0; 3]).is_err());
        assert!(Distortion::from_name("kannala_brandt", &[0.0, f64::NAN, 0.0, 0.0]).is_err());
        assert!(Distortion::from_name("fov", &[]).is_err());
    }
}
