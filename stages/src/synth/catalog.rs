//! The tabletop object catalog: about 30 categories of household items, each with two
//! appearance models; instances of one model are identical (the hard negatives of MessyTable).

use crossview_schemas::glam::DVec3;

use super::appearance::{Appearance, Pattern, Rgb};
use super::shapes::Shape;

/// One appearance model of a category: every instance of it looks exactly alike.
#[derive(Clone, Debug)]
pub struct ObjectModel {
    /// Category name.
    pub category: &'static str,
    /// Coarse class (MessyTable `cls`).
    pub coarse_class: u32,
    /// Fine class (MessyTable `subcls`), unique per model.
    pub fine_class: u32,
    /// Model name, `<category>/<variant>`.
    pub model: String,
    /// Solid, upright (local z up, resting on its lowest point).
    pub shape: Shape,
    /// Look.
    pub appearance: Appearance,
}

impl ObjectModel {
    /// Height of the local origin above the surface the object rests on.
    pub fn rest_height(&self) -> f64 {
        self.shape.extent().z * 0.5
    }

    /// Whether other objects can stand on it (flat, wide top).
    pub fn is_support(&self) -> bool {
        let e = self.shape.extent();
        matches!(self.shape, Shape::Cuboid { .. } | Shape::Cylinder { .. })
            && e.x.min(e.y) >= 0.1
            && e.z <= 0.12
    }

    /// Half the footprint's width along a horizontal unit direction `u` given in the
    /// object's own frame.
    pub fn reach(&self, u: DVec3) -> f64 {
        match self.shape {
            Shape::Cuboid { half } => u.x.abs() * half.x + u.y.abs() * half.y,
            Shape::Cylinder { radius, .. } | Shape::Capsule { radius, .. } => radius,
            Shape::Ellipsoid { radii } => {
                ((u.x * radii.x).powi(2) + (u.y * radii.y).powi(2)).sqrt()
            }
        }
    }

    /// Radius of a circle around the footprint.
    pub fn footprint_radius(&self) -> f64 {
        let e = self.shape.extent() * 0.5;
        match self.shape {
            Shape::Cuboid { .. } => (e.x * e.x + e.y * e.y).sqrt(),
            _ => e.x.max(e.y),
        }
    }
}

/// Coarse classes.
const DRINK: u32 = 1;
const TABLEWARE: u32 = 2;
const FRUIT: u32 = 3;
const PACKAGE: u32 = 4;
const STATIONERY: u32 = 5;
const ELECTRONICS: u32 = 6;
const TOILETRY: u32 = 7;
const TOY: u32 = 8;

fn cyl(r: f64, h: f64) -> Shape {
    Shape::Cylinder {
        radius: r,
        half_height: h / 2.0,
    }
}
fn cuboid(x: f64, y: f64, z: f64) -> Shape {
    Shape::Cuboid {
        half: DVec3::new(x, y, z) / 2.0,
    }
}
fn ell(x: f64, y: f64, z: f64) -> Shape {
    Shape::Ellipsoid {
        radii: DVec3::new(x, y, z) / 2.0,
    }
}

/// A category: name, coarse class, shape, and two (base, accent, pattern) looks.
type CategoryDef = (&'static str, u32, Shape, [(Rgb, Rgb, Pattern); 2]);

fn categories() -> Vec<CategoryDef> {
    use Pattern::*;
    let band = Band {
        axis: 2,
        half_width: 0.025,
    };
    let stripes = Stripes {
        axis: 2,
        period: 0.012,
    };
    vec![
        (
            "cola_can",
            DRINK,
            cyl(0.033, 0.122),
            [
                ([0.75, 0.08, 0.08], [0.9, 0.9, 0.9], band),
                ([0.1, 0.1, 0.12], [0.8, 0.1, 0.1], band),
            ],
        ),
        (
            "soda_can",
            DRINK,
            cyl(0.033, 0.122),
            [
                ([0.1, 0.55, 0.2], [0.95, 0.95, 0.9], band),
                ([0.15, 0.35, 0.75], [0.9, 0.8, 0.2], band),
            ],
        ),
        (
            "water_bottle",
            DRINK,
            cyl(0.034, 0.21),
            [
                (
                    [0.55, 0.75, 0.9],
                    [0.1, 0.3, 0.8],
                    Band {
                        axis: 2,
                        half_width: 0.03,
                    },
                ),
                (
                    [0.7, 0.85, 0.8],
                    [0.2, 0.6, 0.3],
                    Band {
                        axis: 2,
                        half_width: 0.03,
                    },
                ),
            ],
        ),
        (
            "juice_bottle",
            DRINK,
            cyl(0.038, 0.2),
            [
                ([0.95, 0.55, 0.1], [0.95, 0.9, 0.3], band),
                ([0.6, 0.1, 0.35], [0.95, 0.95, 0.95], band),
            ],
        ),
        (
            "mug",
            TABLEWARE,
            cyl(0.041, 0.095),
            [
                ([0.92, 0.92, 0.9], [0.2, 0.3, 0.7], stripes),
                ([0.3, 0.55, 0.7], [0.3, 0.55, 0.7], Solid),
            ],
        ),
        (
            "paper_cup",
            TABLEWARE,
            cyl(0.039, 0.1),
            [
                (
                    [0.95, 0.95, 0.92],
                    [0.55, 0.35, 0.2],
                    Band {
                        axis: 2,
                        half_width: 0.015,
                    },
                ),
                ([0.95, 0.8, 0.3], [0.95, 0.8, 0.3], Solid),
            ],
        ),
        (
            "bowl",
            TABLEWARE,
            ell(0.15, 0.15, 0.06),
            [
                (
                    [0.9, 0.88, 0.8],
                    [0.2, 0.4, 0.6],
                    Stripes {
                        axis: 2,
                        period: 0.02,
                    },
                ),
                ([0.75, 0.3, 0.15], [0.75, 0.3, 0.15], Solid),
            ],
        ),
        (
            "plate",
            TABLEWARE,
            cyl(0.11, 0.018),
            [
                ([0.96, 0.96, 0.96], [0.3, 0.5, 0.8], Dots { period: 0.04 }),
                ([0.85, 0.8, 0.65], [0.85, 0.8, 0.65], Solid),
            ],
        ),
        (
            "apple",
            FRUIT,
            ell(0.078, 0.078, 0.072),
            [
                ([0.78, 0.12, 0.1], [0.9, 0.7, 0.2], Dots { period: 0.02 }),
                ([0.5, 0.75, 0.2], [0.8, 0.8, 0.3], Dots { period: 0.02 }),
            ],
        ),
        (
            "orange",
            FRUIT,
            ell(0.08, 0.08, 0.076),
            [
                ([0.98, 0.55, 0.05], [0.98, 0.55, 0.05], Solid),
                ([0.95, 0.85, 0.2], [0.95, 0.85, 0.2], Solid),
            ],
        ),
        (
            "banana",
            FRUIT,
            ell(0.19, 0.04, 0.035),
            [
                ([0.98, 0.85, 0.2], [0.4, 0.3, 0.1], Dots { period: 0.05 }),
                ([0.7, 0.8, 0.2], [0.7, 0.8, 0.2], Solid),
            ],
        ),
        (
            "lemon",
            FRUIT,
            ell(0.075, 0.055, 0.055),
            [
                ([0.98, 0.92, 0.25], [0.98, 0.92, 0.25], Solid),
                ([0.6, 0.85, 0.25], [0.6, 0.85, 0.25], Solid),
            ],
        ),
        (
            "cereal_box",
            PACKAGE,
            cuboid(0.19, 0.07, 0.28),
            [
                ([0.9, 0.75, 0.1], [0.8, 0.1, 0.1], Checker { period: 0.05 }),
                (
                    [0.2, 0.3, 0.75],
                    [0.95, 0.95, 0.95],
                    Stripes {
                        axis: 2,
                        period: 0.04,
                    },
                ),
            ],
        ),
        (
            "tissue_box",
            PACKAGE,
            cuboid(0.22, 0.115, 0.085),
            [
                ([0.95, 0.95, 0.95], [0.4, 0.7, 0.9], Dots { period: 0.035 }),
                (
                    [0.9, 0.6, 0.7],
                    [0.95, 0.95, 0.95],
                    Stripes {
                        axis: 0,
                        period: 0.03,
                    },
                ),
            ],
        ),
        (
            "milk_carton",
            PACKAGE,
            cuboid(0.07, 0.07, 0.19),
            [
                (
                    [0.95, 0.95, 0.95],
                    [0.2, 0.45, 0.85],
                    Band {
                        axis: 2,
                        half_width: 0.035,
                    },
                ),
                (
                    [0.95, 0.95, 0.95],
                    [0.85, 0.2, 0.3],
                    Band {
                        axis: 2,
                        half_width: 0.035,
                    },
                ),
            ],
        ),
        (
            "chips_tube",
            PACKAGE,
            cyl(0.038, 0.23),
            [
                ([0.85, 0.1, 0.1], [0.95, 0.85, 0.2], band),
                ([0.1, 0.45, 0.2], [0.95, 0.95, 0.9], band),
            ],
        ),
        (
            "snack_bag",
            PACKAGE,
            ell(0.16, 0.05, 0.22),
            [
                (
                    [0.95, 0.65, 0.1],
                    [0.7, 0.1, 0.1],
                    Stripes {
                        axis: 0,
                        period: 0.03,
                    },
                ),
                ([0.3, 0.2, 0.6], [0.9, 0.9, 0.2], Dots { period: 0.05 }),
            ],
        ),
        (
            "book",
            STATIONERY,
            cuboid(0.16, 0.23, 0.03),
            [
                (
                    [0.55, 0.15, 0.15],
                    [0.9, 0.85, 0.6],
                    Band {
                        axis: 1,
                        half_width: 0.02,
                    },
                ),
                (
                    [0.15, 0.3, 0.5],
                    [0.9, 0.9, 0.9],
                    Band {
                        axis: 1,
                        half_width: 0.03,
                    },
                ),
            ],
        ),
        (
            "notebook",
            STATIONERY,
            cuboid(0.15, 0.21, 0.012),
            [
                (
                    [0.3, 0.6, 0.35],
                    [0.95, 0.95, 0.95],
                    Stripes {
                        axis: 1,
                        period: 0.01,
                    },
                ),
                (
                    [0.95, 0.9, 0.4],
                    [0.2, 0.2, 0.2],
                    Stripes {
                        axis: 1,
                        period: 0.01,
                    },
                ),
            ],
        ),
        (
            "stapler",
            STATIONERY,
            cuboid(0.04, 0.15, 0.05),
            [
                (
                    [0.15, 0.15, 0.15],
                    [0.6, 0.6, 0.6],
                    Band {
                        axis: 1,
                        half_width: 0.04,
                    },
                ),
                (
                    [0.7, 0.1, 0.1],
                    [0.2, 0.2, 0.2],
                    Band {
                        axis: 1,
                        half_width: 0.04,
                    },
                ),
            ],
        ),
        (
            "tape_roll",
            STATIONERY,
            cyl(0.045, 0.025),
            [
                ([0.85, 0.8, 0.7], [0.85, 0.8, 0.7], Solid),
                ([0.3, 0.3, 0.3], [0.3, 0.3, 0.3], Solid),
            ],
        ),
        (
            "pen_holder",
            STATIONERY,
            cyl(0.035, 0.1),
            [
                ([0.2, 0.2, 0.25], [0.2, 0.2, 0.25], Checker { period: 0.01 }),
                (
                    [0.85, 0.85, 0.8],
                    [0.3, 0.3, 0.35],
                    Checker { period: 0.01 },
                ),
            ],
        ),
        (
            "phone",
            ELECTRONICS,
            cuboid(0.072, 0.15, 0.009),
            [
                (
                    [0.08, 0.08, 0.1],
                    [0.2, 0.25, 0.35],
                    Band {
                        axis: 1,
                        half_width: 0.06,
                    },
                ),
                (
                    [0.85, 0.85, 0.88],
                    [0.1, 0.1, 0.1],
                    Band {
                        axis: 1,
                        half_width: 0.06,
                    },
                ),
            ],
        ),
        (
            "remote",
            ELECTRONICS,
            cuboid(0.05, 0.19, 0.022),
            [
                ([0.12, 0.12, 0.12], [0.6, 0.6, 0.6], Dots { period: 0.025 }),
                ([0.55, 0.55, 0.6], [0.1, 0.1, 0.1], Dots { period: 0.025 }),
            ],
        ),
        (
            "mouse",
            ELECTRONICS,
            ell(0.065, 0.11, 0.04),
            [
                ([0.15, 0.15, 0.15], [0.15, 0.15, 0.15], Solid),
                ([0.9, 0.9, 0.9], [0.9, 0.9, 0.9], Solid),
            ],
        ),
        (
            "soap_bottle",
            TOILETRY,
            cuboid(0.07, 0.045, 0.17),
            [
                (
                    [0.4, 0.75, 0.85],
                    [0.95, 0.95, 0.95],
                    Band {
                        axis: 2,
                        half_width: 0.03,
                    },
                ),
                (
                    [0.85, 0.6, 0.8],
                    [0.95, 0.95, 0.95],
                    Band {
                        axis: 2,
                        half_width: 0.03,
                    },
                ),
            ],
        ),
        (
            "lotion_tube",
            TOILETRY,
            ell(0.05, 0.035, 0.17),
            [
                (
                    [0.95, 0.95, 0.9],
                    [0.3, 0.6, 0.9],
                    Band {
                        axis: 2,
                        half_width: 0.02,
                    },
                ),
                (
                    [0.95, 0.95, 0.9],
                    [0.9, 0.5, 0.2],
                    Band {
                        axis: 2,
                        half_width: 0.02,
                    },
                ),
            ],
        ),
        (
            "candle",
            TOILETRY,
            cyl(0.04, 0.08),
            [
                ([0.95, 0.92, 0.85], [0.95, 0.92, 0.85], Solid),
                ([0.8, 0.25, 0.3], [0.8, 0.25, 0.3], Solid),
            ],
        ),
        (
            "toy_ball",
            TOY,
            ell(0.1, 0.1, 0.1),
            [
                (
                    [0.95, 0.2, 0.2],
                    [0.95, 0.95, 0.2],
                    Stripes {
                        axis: 0,
                        period: 0.025,
                    },
                ),
                (
                    [0.2, 0.4, 0.95],
                    [0.95, 0.95, 0.95],
                    Stripes {
                        axis: 0,
                        period: 0.025,
                    },
                ),
            ],
        ),
        (
            "rubik_cube",
            TOY,
            cuboid(0.057, 0.057, 0.057),
            [
                (
                    [0.95, 0.95, 0.95],
                    [0.9, 0.2, 0.1],
                    Checker { period: 0.019 },
                ),
                ([0.95, 0.8, 0.1], [0.1, 0.5, 0.9], Checker { period: 0.019 }),
            ],
        ),
    ]
}

/// Every tabletop model (two per category), fine classes numbered from 1.
pub fn tabletop_models() -> Vec<ObjectModel> {
    let mut out = Vec::new();
    for (category, coarse, shape, looks) in categories() {
        for (v, (base, accent, pattern)) in looks.into_iter().enumerate() {
            out.push(ObjectModel {
                category,
                coarse_class: coarse,
                fine_class: out.len() as u32 + 1,
                model: format!("{category}/{v}"),
                shape,
                appearance: Appearance {
                    base,
                    accent,
                    pattern,
                    grain: 0.05,
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_thirty_categories_and_unique_models() {
        let models = tabletop_models();
        let mut cats: Vec<&str> = models.iter().map(|m| m.category).collect();
        cats.dedup();
        assert_eq!(cats.len(), 30);
        let mut fine: Vec<u32> = models.iter().map(|m| m.fine_class).collect();
        fine.dedup();
        assert_eq!(fine.len(), models.len());
        assert!(models.iter().any(ObjectModel::is_support));
    }
}
