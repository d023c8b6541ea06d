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
            Pattern::Stripes { axis, period } => floor_i64(p[axis] * period.recip()) & 1 == 1,
            Pattern::Checker { period } => {
                let q = p * period.recip();
                (floor_i64(q.x) + floor_i64(q.y) + floor_i64(q.z)) & 1 == 1
            }
            Pattern::Band { axis, half_width } => p[axis].abs() <= half_width,
            Pattern::Dots { period } => {
                let q = p * period.recip();
                let q = DVec3::new(
                    q.x - floor_i64(q.x) as f64,
                    q.y - floor_i64(q.y) as f64,
                    q.z - floor_i64(q.z) as f64,
                ) - DVec3::splat(0.5);
                let sq = q * q;
                // Two of the three coordinates lie on the surface's tangent plane; a dot is
                // where those two (the smallest) are both near a cell centre.
                sq.x + sq.y + sq.z - sq.max_element() < 0.07
            }
        };
        let c = if accent { self.accent } else { self.base };
        if self.grain <= 0.0 {
            return c;
        }
        // Grain: value noise on a 2 cm lattice of the local surface point (finer cells alias
        // into per-pixel noise at typical distances, which no lens would pass).
        let cell = p * (1.0 / 0.02);
        let n = grain_hash(floor_i64(cell.x), floor_i64(cell.y), floor_i64(cell.z)) * 2.0 - 1.0;
        let k = 1.0 + self.grain * n;
        [
            (c[0] * k).clamp(0.0, 1.0),
            (c[1] * k).clamp(0.0, 1.0),
            (c[2] * k).clamp(0.0, 1.0),
        ]
    }
}

/// `floor(v)` as an integer without a libm call (baseline x86-64 has no rounding
/// instruction, and this runs per pixel).
#[inline]
pub fn floor_i64(v: f64) -> i64 {
    let t = v as i64;
    t - i64::from((t as f64) > v)
}

/// A cheap hash of a lattice cell to `[0, 1)` for surface grain (one multiply-xorshift
/// round: plenty for noise, and it runs per pixel).
#[inline]
pub fn grain_hash(a: i64, b: i64, c: i64) -> f32 {
    let x = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (c as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    let x = (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 40) as f32 / (1u64 << 24) as f32
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
