//! People walking over time: each walker heads for random waypoints on free floor, turns
//! smoothly, pauses, and keeps clear of furniture and of the others; yields a [`Pose`] per frame.

use crossview_schemas::glam::{DVec2, DVec3};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::body::Pose;

/// Where people may walk: a rectangle of floor minus obstacle rectangles.
#[derive(Clone, Debug)]
pub struct Floor {
    /// `[min_x, min_y, max_x, max_y]` of the walkable area.
    pub area: [f64; 4],
    /// Obstacle footprints `[min_x, min_y, max_x, max_y]`, already grown by a body radius.
    pub obstacles: Vec<[f64; 4]>,
}

impl Floor {
    fn free(&self, p: DVec2) -> bool {
        let [x0, y0, x1, y1] = self.area;
        p.x > x0 && p.x < x1 && p.y > y0 && p.y < y1 && !self.obstacles.iter().any(|o| inside(o, p))
    }

    fn clear_path(&self, a: DVec2, b: DVec2) -> bool {
        (0..=20).all(|i| self.free(a.lerp(b, f64::from(i) / 20.0)))
    }

    /// A random free point (falls back to the area centre if the floor is crowded).
    pub fn random_point(&self, rng: &mut ChaCha8Rng) -> DVec2 {
        let [x0, y0, x1, y1] = self.area;
        for _ in 0..100 {
            let p = DVec2::new(rng.random_range(x0..x1), rng.random_range(y0..y1));
            if self.free(p) {
                return p;
            }
        }
        DVec2::new((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    }
}

fn inside(r: &[f64; 4], p: DVec2) -> bool {
    p.x > r[0] && p.x < r[2] && p.y > r[1] && p.y < r[3]
}

/// One walker's state.
#[derive(Clone, Debug)]
struct Walker {
    pos: DVec2,
    heading: f64,
    phase: f64,
    speed: f64,
    target: DVec2,
    pause: usize,
    stride: f64,
}

/// Simulates `n` walkers for `frames` frames at `fps`; returns poses `[frame][walker]`.
pub fn simulate(
    floor: &Floor,
    n: usize,
    frames: usize,
    fps: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<Pose>> {
    let dt = 1.0 / fps.max(1e-3);
    let mut walkers: Vec<Walker> = (0..n)
        .map(|_| {
            let pos = floor.random_point(rng);
            Walker {
                pos,
                heading: rng.random_range(0.0..std::f64::consts::TAU),
                phase: rng.random_range(0.0..std::f64::consts::TAU),
                speed: rng.random_range(0.7..1.5),
                target: floor.random_point(rng),
                pause: if rng.random_bool(0.2) {
                    rng.random_range(0..frames.max(1))
                } else {
                    0
                },
                stride: 0.0,
            }
        })
        .collect();
    let mut out = Vec::with_capacity(frames);
    for _ in 0..frames {
        out.push(
            walkers
                .iter()
                .map(|w| Pose {
                    ground: DVec3::new(w.pos.x, w.pos.y, 0.0),
                    heading: w.heading,
                    phase: w.phase,
                    stride: w.stride,
                    look: (0.0, 0.0),
                    reach: None,
                })
                .collect(),
        );
        let positions: Vec<DVec2> = walkers.iter().map(|w| w.pos).collect();
        for (i, w) in walkers.iter_mut().enumerate() {
            if w.pause > 0 {
                w.pause -= 1;
                w.stride = (w.stride - 0.25).max(0.0);
                continue;
            }
            let to = w.target - w.pos;
            if to.length() < 0.3 || !floor.clear_path(w.pos, w.target) {
                w.target = floor.random_point(rng);
                if rng.random_bool(0.3) {
                    w.pause = rng.random_range(3..20);
                }
                continue;
            }
            // Turn towards the target at most 2 rad/s.
            let want = to.y.atan2(to.x);
            let mut turn = (want - w.heading).rem_euclid(std::f64::consts::TAU);
            if turn > std::f64::consts::PI {
                turn -= std::f64::consts::TAU;
            }
            w.heading += turn.clamp(-2.0 * dt, 2.0 * dt);
            let dir = DVec2::new(w.heading.cos(), w.heading.sin());
            let next = w.pos + dir * w.speed * dt;
            // Wait for anyone within 0.6 m ahead.
            let blocked = positions
                .iter()
                .enumerate()
                .any(|(j, p)| j != i && (*p - next).length() < 0.6 && (*p - w.pos).dot(dir) > 0.0);
            if blocked || !floor.free(next) {
                w.stride = (w.stride - 0.25).max(0.0);
                if !floor.free(next) {
                    w.target = floor.random_point(rng);
                }
                continue;
            }
            w.pos = next;
            w.stride = (w.stride + 0.25).min(w.speed / 1.5);
            // A step is about 0.7 m: half a gait cycle.
            w.phase += std::f64::consts::PI * w.speed * dt / 0.7;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn walkers_stay_on_free_floor_and_move() {
        let floor = Floor {
            area: [-4.0, -3.0, 4.0, 3.0],
            obstacles: vec![[-1.0, -1.0, 1.0, 1.0]],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let poses = simulate(&floor, 6, 60, 15.0, &mut rng);
        assert_eq!(poses.len(), 60);
        let mut moved = 0.0;
        for (f, frame) in poses.iter().enumerate() {
            for (i, p) in frame.iter().enumerate() {
                assert!(
                    floor.free(p.ground.truncate()),
                    "walker {i} off the floor at frame {f}"
                );
                if f > 0 {
                    moved += (p.ground - poses[f - 1][i].ground).length();
                }
            }
        }
        assert!(
            moved > 6.0 * 60.0 / 15.0 * 0.3,
            "walkers barely moved: {moved}"
        );
    }
}
