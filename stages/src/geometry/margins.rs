//! Decisions on geometric facts with TASKS.md's margins: each comparison answers only when the
//! facts differ by more than its margin, and is [`Decision::Undecidable`] otherwise.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// The margins every geometric decision uses (TASKS.md defaults; all configurable).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Margins {
    /// Q9: the nearest candidate must be this much (relatively) nearer than the second.
    pub nearest_neighbour: f64,
    /// Q10/Q16: apparent sizes differ when their ratio reaches this.
    pub area_ratio: f64,
    /// Q10: apparent sizes are "about the same" when their ratio stays within this.
    pub same_area_ratio: f64,
    /// Q11/Q12: visible fractions differ when they differ by this.
    pub visible_fraction: f64,
    /// Q13: left-right order holds when image x differs by this share of the width.
    pub left_right_share_of_width: f64,
    /// Q14: one displacement is larger when it exceeds the other by this share ...
    pub displacement: f64,
    /// ... and is at least this long (metres): below it, estimated positions (errors of
    /// millimetres to centimetres) cannot order two movements.
    pub displacement_floor_m: f64,
    /// Q15: depths differ by at least this many metres ...
    pub depth_m: f64,
    /// ... and by this share of the nearer depth.
    pub depth_share: f64,
    /// Q17: surfaces this close (metres) touch ...
    pub contact_m: f64,
    /// ... and this far apart do not.
    pub apart_m: f64,
}

impl Default for Margins {
    fn default() -> Self {
        Margins {
            nearest_neighbour: 0.15,
            area_ratio: 1.3,
            same_area_ratio: 1.1,
            visible_fraction: 0.2,
            left_right_share_of_width: 0.05,
            displacement: 0.25,
            displacement_floor_m: 0.05,
            depth_m: 0.1,
            depth_share: 0.1,
            contact_m: 0.02,
            apart_m: 0.10,
        }
    }
}

/// A decided answer, or none because the facts are too close to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<T> {
    /// The facts are clear.
    Decided(T),
    /// Within the margin: not to be guessed.
    Undecidable,
}

impl<T> Decision<T> {
    /// The answer, if decided.
    pub fn decided(self) -> Option<T> {
        match self {
            Decision::Decided(t) => Some(t),
            Decision::Undecidable => None,
        }
    }
}

/// How an apparent size changed from one view to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleChange {
    /// Larger in the second view.
    Larger,
    /// Smaller in the second view.
    Smaller,
    /// About the same.
    Same,
}

impl Margins {
    /// Q10: the apparent size in B against A (areas in pixels).
    pub fn scale_change(&self, area_a: f64, area_b: f64) -> Decision<ScaleChange> {
        if !(area_a > 0.0 && area_b > 0.0) {
            return Decision::Undecidable;
        }
        let r = area_b / area_a;
        if r >= self.area_ratio {
            Decision::Decided(ScaleChange::Larger)
        } else if r <= 1.0 / self.area_ratio {
            Decision::Decided(ScaleChange::Smaller)
        } else if r <= self.same_area_ratio && r >= 1.0 / self.same_area_ratio {
            Decision::Decided(ScaleChange::Same)
        } else {
            Decision::Undecidable
        }
    }

    /// Q16: which of two objects grows more from A to B, given each one's B/A area ratio
    /// (`Greater`: the first).
    pub fn growth(&self, ratio_x: f64, ratio_y: f64) -> Decision<Ordering> {
        if !(ratio_x > 0.0 && ratio_y > 0.0) {
            return Decision::Undecidable;
        }
        let r = ratio_x / ratio_y;
        if r >= self.area_ratio {
            Decision::Decided(Ordering::Greater)
        } else if r <= 1.0 / self.area_ratio {
            Decision::Decided(Ordering::Less)
        } else {
            Decision::Undecidable
        }
    }

    /// Q11/Q12: which visible fraction is larger (`Greater`: the first).
    pub fn more_complete(&self, a: f64, b: f64) -> Decision<Ordering> {
        if (a - b).abs() >= self.visible_fraction {
            Decision::Decided(if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            })
        } else {
            Decision::Undecidable
        }
    }

    /// Q13: whether x_a is left of x_b in an image `width` pixels wide.
    pub fn left_of(&self, x_a: f64, x_b: f64, width: f64) -> Decision<bool> {
        if (x_a - x_b).abs() >= self.left_right_share_of_width * width {
            Decision::Decided(x_a < x_b)
        } else {
            Decision::Undecidable
        }
    }

    /// Q14: which of two displacements is larger (`Greater`: the first).
    pub fn farther_moved(&self, a: f64, b: f64) -> Decision<Ordering> {
        let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
        if hi >= self.displacement_floor_m && hi > 0.0 && hi >= lo * (1.0 + self.displacement) {
            Decision::Decided(a.total_cmp(&b))
        } else {
            Decision::Undecidable
        }
    }

    /// Q15: whether depth a is nearer than depth b (camera z, metres).
    pub fn nearer(&self, a: f64, b: f64) -> Decision<bool> {
        let need = self.depth_m.max(self.depth_share * a.min(b));
        if (a - b).abs() >= need {
            Decision::Decided(a < b)
        } else {
            Decision::Undecidable
        }
    }

    /// Q17: whether two surfaces `d` metres apart touch.
    pub fn contact(&self, d: f64) -> Decision<bool> {
        if d < self.contact_m {
            Decision::Decided(true)
        } else if d > self.apart_m {
            Decision::Decided(false)
        } else {
            Decision::Undecidable
        }
    }

    /// Q9: the index of the nearest of several distances, if it is clearly nearest.
    pub fn nearest(&self, distances: &[f64]) -> Decision<usize> {
        let mut order: Vec<usize> = (0..distances.len())
            .filter(|&i| distances[i].is_finite())
            .collect();
        order.sort_by(|&a, &b| distances[a].total_cmp(&distances[b]));
        match order.as_slice() {
            [] => Decision::Undecidable,
            [only] => Decision::Decided(*only),
            [first, second, ..] => {
                if distances[*second] * (1.0 - self.nearest_neighbour) >= distances[*first] {
                    Decision::Decided(*first)
                } else {
                    Decision::Undecidable
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    #[test]
    fn decisions_by_hand_including_the_margins() {
        let m = Margins::default();
        assert_eq!(m.scale_change(100.0, 140.0), Decided(ScaleChange::Larger));
        assert_eq!(m.scale_change(140.0, 100.0), Decided(ScaleChange::Smaller));
        assert_eq!(m.scale_change(100.0, 105.0), Decided(ScaleChange::Same));
        assert_eq!(m.scale_change(100.0, 120.0), Undecidable);
        assert_eq!(m.scale_change(0.0, 120.0), Undecidable);
        assert_eq!(m.growth(2.0, 1.0), Decided(Ordering::Greater));
        assert_eq!(m.growth(1.2, 1.0), Undecidable);
        assert_eq!(m.more_complete(0.9, 0.6), Decided(Ordering::Greater));
        assert_eq!(m.more_complete(0.7, 0.6), Undecidable);
        assert_eq!(m.left_of(100.0, 200.0, 640.0), Decided(true));
        assert_eq!(m.left_of(100.0, 120.0, 640.0), Undecidable);
        assert_eq!(m.farther_moved(1.0, 0.5), Decided(Ordering::Greater));
        assert_eq!(m.farther_moved(1.0, 0.9), Undecidable);
        assert_eq!(m.farther_moved(0.0, 0.0), Undecidable);
        // Both below the noise floor: millimetre jitter is not movement.
        assert_eq!(m.farther_moved(0.004, 0.001), Undecidable);
        assert_eq!(m.farther_moved(0.06, 0.001), Decided(Ordering::Greater));
        // 0.1 m, or 10% of the nearer depth when that is larger.
        assert_eq!(m.nearer(1.0, 1.2), Decided(true));
        assert_eq!(m.nearer(1.0, 1.05), Undecidable);
        assert_eq!(m.nearer(5.0, 5.3), Undecidable);
        assert_eq!(m.nearer(5.0, 5.6), Decided(true));
        assert_eq!(m.contact(0.01), Decided(true));
        assert_eq!(m.contact(0.2), Decided(false));
        assert_eq!(m.contact(0.05), Undecidable);
        assert_eq!(m.nearest(&[2.0, 1.0, 3.0]), Decided(1));
        assert_eq!(m.nearest(&[1.0, 1.1, 3.0]), Undecidable);
        assert_eq!(m.nearest(&[]), Undecidable);
    }

    #[test]
    fn margins_parse_from_toml_like_json_with_defaults() {
        let m: Margins = serde_json::from_str(r#"{"area_ratio": 1.5}"#).unwrap();
        assert_eq!(m.area_ratio, 1.5);
        assert_eq!(m.contact_m, 0.02);
        assert!(serde_json::from_str::<Margins>(r#"{"bogus": 1}"#).is_err());
    }
}
