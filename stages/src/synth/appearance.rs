//! Surface appearance of synthetic parts: a base colour, a procedural pattern and grain, all a
//! function of the local surface point, so identical models look identical from every view.

use glam::DVec3;

/// An RGB colour with channels in `[0, 1]`.
pub type Rgb = [f32; 3];

/// A procedural pattern over the local surface point (metres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pattern {
    /// Plain base colour.
    Solid,
    /// Alternating bands across a local axis.
    Stripes {
        /// 0, 1 or 2 for x, y, z.
        axis: usize,
        /// Band width, metres.
        period: f64,
    },
    /// 3D checkerboard.
    Checker {
        /// Cell size, metres.
        period: f64,
    },
    /// One accent band around the middle of a local axis (a can's or bottle's label).
    Band {
        /// 0, 1 or 2.
        axis: usize,
        /// Half the band's width, metres.
        half_width: f64,
    },
    /// Accent dots on a grid.
    Dots {
        /// Grid spacing, metres.
        period: f64,
    },
}

/// How a part looks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Appearance {
    /// Main colour.
    pub base: Rgb,
    /// Pattern colour.
    pub accent: Rgb,
    /// Pattern.
    pub pattern: Pattern,
    /// Strength of the fine surface grain (0 = none).
    pub grain: f32,
}

impl Appearance {
    /// A plain colour with a little grain.
    pub fn solid(base: Rgb) -> Self {
        Appearance {
            base,
            accent: base,
            pattern: Pattern::Solid,
            grain: 0.04,
        }
    }

    /// The surface colour at a local point.
    pub fn albedo(&self, p: DVec3) -> Rgb {
        let accent = match self.pattern {
            Pattern::Solid => false,
            Pattern::Stripes { axis, period } => (p[axis] / period).floor().rem_euclid(2.0) >= 1.0,
            Pattern::Checker { period } => {
                let s = (p.x / period).floor() + (p.y / period).floor() + (p.z / period).floor();
                s.rem_euclid(2.0) >= 1.0
            }
            Pattern::Band { axis, half_width } => p[axis].abs() <= half_width,
            Pattern::Dots { period } => {
                let q = (p / period).fract() - DVec3::splat(0.5);
                let q = DVec3::new(q.x.abs(), q.y.abs(), q.z.abs());
                // Two of the three coordinates lie on the surface's tangent plane; a dot is
                // where the smallest two are both near a cell centre.
                let mut v = q.to_array();
                v.sort_by(f64::total_cmp);
                v[0] * v[0] + v[1] * v[1] < 0.07
            }
        };
        let c = if accent { self.accent } else { self.base };
        if self.grain <= 0.0 {
            return c;
        }
        // Grain: value noise on a 6 mm lattice of the local surface point.
        let cell = (p / 0.006).floor();
        let n = unit_hash(cell.x as i64, cell.y as i64, cell.z as i64) * 2.0 - 1.0;
        let k = 1.0 + self.grain * n as f32;
        [
            (c[0] * k).clamp(0.0, 1.0),
            (c[1] * k).clamp(0.0, 1.0),
            (c[2] * k).clamp(0.0, 1.0),
        ]
    }
}

/// A deterministic hash of three integers to `[0, 1)` (SplitMix64 finalizer; a few lines of
/// integer mixing, not worth a dependency).
pub fn unit_hash(a: i64, b: i64, c: i64) -> f64 {
    let mut x = (a as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
        .wrapping_add((c as u64).wrapping_mul(0x1656_67B1_9E37_79F9));
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_points_look_identical_and_patterns_vary() {
        let a = Appearance {
            base: [0.8, 0.1, 0.1],
            accent: [0.9, 0.9, 0.9],
            pattern: Pattern::Band {
                axis: 2,
                half_width: 0.02,
            },
            grain: 0.05,
        };
        let p = DVec3::new(0.01, 0.03, 0.0);
        assert_eq!(a.albedo(p), a.albedo(p));
        // In the band vs outside it.
        let inside = a.albedo(DVec3::new(0.03, 0.0, 0.01));
        let outside = a.albedo(DVec3::new(0.03, 0.0, 0.05));
        assert!(inside[1] > 0.5 && outside[1] < 0.5);
        assert_ne!(unit_hash(1, 2, 3), unit_hash(1, 2, 4));
        assert!((0.0..1.0).contains(&unit_hash(-5, 7, 9)));
    }
}
