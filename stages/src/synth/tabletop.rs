//! Laying out household objects on a flat surface centred at the origin: which models (with
//! identical duplicates), and where (free spots, touching pairs, stacks).

use crossview_schemas::glam::{DMat3, DVec3};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::ObjectModel;

/// A rectangular surface centred on the world origin's vertical axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Surface {
    /// Size along x, metres.
    pub len: f64,
    /// Size along y, metres.
    pub wid: f64,
    /// Height of the top, metres.
    pub top: f64,
}

/// An object placed on the table.
pub struct Placed {
    /// Index into the catalog.
    pub model: usize,
    /// Centre of the object, world metres.
    pub center: DVec3,
    /// Turn about the vertical axis, radians.
    pub yaw: f64,
}

/// Chooses models for `n` instances: fewer models than instances, so some repeat 2-4 times.
pub fn choose_models(n: usize, catalog: &[ObjectModel], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..catalog.len()).collect();
    pool.shuffle(rng);
    let mut out = Vec::with_capacity(n);
    let mut m = 0;
    while out.len() < n {
        let copies = match rng.random_range(0..10) {
            0..=5 => 1,
            6..=7 => 2,
            8 => 3,
            _ => 4,
        };
        for _ in 0..copies.min(n - out.len()) {
            out.push(pool[m % pool.len()]);
        }
        m += 1;
    }
    out.shuffle(rng);
    out
}

/// Places instances on the surface: free spots, touching pairs and stacks. An instance that
/// finds no room after a few dozen tries is left out (the surface is full).
pub fn place_objects(
    models: &[usize],
    catalog: &[ObjectModel],
    surface: &Surface,
    rng: &mut ChaCha8Rng,
) -> Vec<Placed> {
    let (len, wid, top) = (surface.len, surface.wid, surface.top);
    let mut placed: Vec<Placed> = Vec::new();
    let on_table = |p: &Placed| p.center.z <= top + catalog[p.model].rest_height() + 1e-6;
    // Whether a footprint circle at `c` stays on the table and clear of every object standing
    // on the table except `except` (stacked objects sit above the others).
    let fits = |placed: &[Placed], c: DVec3, r: f64, except: Option<usize>| -> bool {
        c.x.abs() + r <= len / 2.0 - 0.02
            && c.y.abs() + r <= wid / 2.0 - 0.02
            && placed.iter().enumerate().all(|(j, p)| {
                Some(j) == except
                    || !on_table(p)
                    || (p.center.truncate() - c.truncate()).length()
                        > r + catalog[p.model].footprint_radius()
            })
    };
    for &m in models {
        let model = &catalog[m];
        let r = model.footprint_radius();
        for _attempt in 0..60 {
            let yaw = rng.random_range(0.0..std::f64::consts::TAU);
            let mode = rng.random_range(0..100);
            if mode < 15 && r < 0.09 {
                // Stack on a flat support that stands on the table and carries nothing yet.
                let free: Vec<usize> = (0..placed.len())
                    .filter(|&j| catalog[placed[j].model].is_support() && on_table(&placed[j]))
                    .filter(|&j| {
                        !placed.iter().any(|p| {
                            !on_table(p)
                                && (p.center.truncate() - placed[j].center.truncate()).length()
                                    < 0.01
                        })
                    })
                    .collect();
                if !free.is_empty() {
                    let base = &placed[free[rng.random_range(0..free.len())]];
                    let top = base.center.z + catalog[base.model].shape.extent().z / 2.0;
                    let center =
                        DVec3::new(base.center.x, base.center.y, top + model.rest_height());
                    placed.push(Placed {
                        model: m,
                        center,
                        yaw,
                    });
                    break;
                }
            } else if mode < 45 && !placed.is_empty() {
                // Touch an object on the table: the two footprints meet along a direction.
                let j = rng.random_range(0..placed.len());
                let other = &placed[j];
                if on_table(other) {
                    let dir = DVec3::new(yaw.cos(), yaw.sin(), 0.0);
                    let local = |object_yaw: f64, v: DVec3| DMat3::from_rotation_z(-object_yaw) * v;
                    let gap = rng.random_range(0.0..0.008);
                    let dist = catalog[other.model].reach(local(other.yaw, dir))
                        + model.reach(local(yaw, -dir))
                        + gap;
                    let center = other.center.truncate().extend(0.0)
                        + dir * dist
                        + DVec3::Z * (top + model.rest_height());
                    if fits(&placed, center, r, Some(j)) {
                        placed.push(Placed {
                            model: m,
                            center,
                            yaw,
                        });
                        break;
                    }
                    continue;
                }
            }
            let center = DVec3::new(
                rng.random_range(-len / 2.0..len / 2.0),
                rng.random_range(-wid / 2.0..wid / 2.0),
                top + model.rest_height(),
            );
            if fits(&placed, center, r, None) {
                placed.push(Placed {
                    model: m,
                    center,
                    yaw,
                });
                break;
            }
        }
    }
    placed
}
